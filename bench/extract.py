"""Extraction speed as a ratio to plain ``jieba.lcut`` over the same text (a goal, not a CI gate).

    .venv/bin/python bench/extract.py

Times the week-11 seed, the 20th Party Congress report from ../shared/corpus (skipped with a
message when absent) and that report repeated to 100,000 characters. Cold start (imports and
dictionary loading) is reported separately. Target: extraction <= 5x jieba's own cut.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
SEED = SHARED / "seeds" / "2023-2024-1-week11.txt"
REPORT = SHARED / "corpus" / "20th-congress-report-2022.txt"
sys.path.insert(0, str(REPO))


def best_of(fn, repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    start = time.perf_counter()
    import cards
    from cards import segment

    segment.warm_up()
    cards.extract("预热。要坚持创新引领发展。", "warm")  # loads jieba.analyse's IDF table too
    cold = time.perf_counter() - start
    import jieba

    jieba.setLogLevel(60)
    jieba.lcut("预热")  # jieba's global dictionary, loaded outside the timings
    print(f"cold start (import cards + jieba dictionaries + IDF): {cold:.2f} s")

    texts: list[tuple[str, str]] = []
    if SEED.exists():
        texts.append(("seed week 11", SEED.read_text(encoding="utf-8")))
    else:
        print(f"skip seed: {SEED} not found")
    if REPORT.exists():
        report = REPORT.read_text(encoding="utf-8")
        texts.append(("20th congress report", report))
        texts.append(("report x to 100,000 chars", (report * (100_000 // len(report) + 1))[:100_000]))
    else:
        print(f"skip corpus: {REPORT} not found")

    print(f"{'material':28} {'chars':>8} {'notes':>6} {'jieba.lcut':>11} {'extract':>9} {'ratio':>6}")
    for name, text in texts:
        cut = best_of(lambda t=text: jieba.lcut(t))
        run = best_of(lambda t=text: cards.extract(t, "bench"))
        count = len(cards.extract(text, "bench"))
        print(f"{name:28} {len(text):8} {count:6} {cut:10.3f}s {run:8.3f}s {run / cut:5.1f}x")


if __name__ == "__main__":
    main()
