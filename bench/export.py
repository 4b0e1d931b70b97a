"""Benchmark: export N notes in D decks to one .apkg (issue target: 10,000 notes / 40 decks < 3 s).

    .venv/bin/python bench/export.py                  # 10,000 notes in 40 decks, 5 runs
    .venv/bin/python bench/export.py --notes 20000 --decks 80 --runs 3 --verify

Notes are drawn from the sentences of the shipped seed material (real genre text, 1-3 cloze
numbers each, a few retired). ``--verify`` also imports the file with the official anki package
(a test dependency) and checks the note and card counts.
"""

from __future__ import annotations

import argparse
import platform
import random
import re
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cards.anki import ExportDeck, ExportNote, build_package, write_apkg  # noqa: E402

SEED = ROOT / "seeds" / "2023-2024-1-week11.txt"
KINDS = ("cloze", "list", "number", "term")


def sentences() -> list[str]:
    text = SEED.read_text(encoding="utf-8")
    text = re.sub(r"\s+", "", text)
    found = [s for s in re.split(r"(?<=[。！？；])", text) if len(s) >= 12]
    return found or ["坚持共抓大保护、不搞大开发，坚持生态优先、绿色发展。"]


def clozed(sentence: str, rng: random.Random) -> str:
    """Hide 1-3 non-overlapping spans of the sentence as c1..cN."""
    spans: list[tuple[int, int]] = []
    for _ in range(rng.randint(1, 3)):
        length = rng.randint(2, 6)
        if len(sentence) <= length:
            break
        start = rng.randrange(0, len(sentence) - length)
        if all(start >= e or start + length <= s for s, e in spans):
            spans.append((start, start + length))
    spans.sort()
    out, pos = [], 0
    for i, (s, e) in enumerate(spans, 1):
        out.append(f"{sentence[pos:s]}{{{{c{i}::{sentence[s:e]}}}}}")
        pos = e
    return "".join(out) + sentence[pos:]


def make_decks(n_notes: int, n_decks: int, seed: int = 11) -> list[ExportDeck]:
    rng = random.Random(seed)
    pool = sentences()
    base = datetime(2026, 9, 1, tzinfo=UTC)
    decks = []
    for d in range(n_decks):
        week = d % 20 + 1
        term = f"{2023 + d // 20}-{2024 + d // 20}学年第一学期"
        notes = []
        for i in range(n_notes * (d + 1) // n_decks - n_notes * d // n_decks):
            sentence = rng.choice(pool)
            notes.append(ExportNote(
                key=f"deck{d}-note{i}",
                kind=rng.choice(KINDS),
                text=clozed(sentence, rng),
                extra=sentence,
                source=f"第{week}周学习材料 第{rng.randint(1, 30)}段",
                modified=base + timedelta(seconds=rng.randrange(10_000_000)),
                retired=rng.random() < 0.02,
            ))
        decks.append(ExportDeck(key=f"bench-{d}", title=f"学习材料{d + 1}", term=term, week=week, notes=notes))
    return decks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notes", type=int, default=10_000)
    parser.add_argument("--decks", type=int, default=40)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--verify", action="store_true", help="import the result with the anki package")
    args = parser.parse_args()

    decks = make_decks(args.notes, args.decks)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.apkg"
        build_times, write_times = [], []
        summary = None
        for _ in range(args.runs):
            t = time.perf_counter()
            build_package(decks)
            build_times.append(time.perf_counter() - t)
            t = time.perf_counter()
            summary = write_apkg(decks, path)  # builds again: this is the whole export
            write_times.append(time.perf_counter() - t)
        assert summary is not None

        print(f"python {platform.python_version()} on {platform.machine()}, {args.runs} runs")
        print(f"exported: {summary.decks} decks, {summary.notes} notes ({summary.retired} retired), "
              f"{summary.cards} cards, {summary.size / 1e6:.2f} MB")
        print(f"build_package only : median {statistics.median(build_times):.3f} s, min {min(build_times):.3f} s")
        print(f"write_apkg (total) : median {statistics.median(write_times):.3f} s, min {min(write_times):.3f} s "
              f"(target < 3 s)")

        if args.verify:
            from anki.collection import Collection, ImportAnkiPackageOptions, ImportAnkiPackageRequest

            col = Collection(str(Path(tmp) / "verify.anki2"))
            try:
                t = time.perf_counter()
                col.import_anki_package(ImportAnkiPackageRequest(
                    package_path=str(path), options=ImportAnkiPackageOptions()))
                took = time.perf_counter() - t
                assert col.note_count() == summary.notes, (col.note_count(), summary.notes)
                assert col.card_count() == summary.cards, (col.card_count(), summary.cards)
                print(f"anki import        : {took:.3f} s, {col.note_count()} notes / {col.card_count()} cards match")
            finally:
                col.close()

    cmd = f".venv/bin/python bench/export.py --notes {args.notes} --decks {args.decks} --runs {args.runs}"
    print(f"reproduce: {cmd}{' --verify' if args.verify else ''}")


if __name__ == "__main__":
    main()
