"""``make bench``: run every benchmark and write their figures to bench/results.md.

Each benchmark is a script that prints its own figures and the command reproducing them;
this runner only collects their output. Sizes are the ones the README quotes.
"""

from __future__ import annotations

import platform
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

BENCHES: list[tuple[str, list[str]]] = [
    ("Extraction vs jieba.lcut", ["extract.py"]),
    ("Review: per-grade time vs the anki package", ["review.py"]),
    ("Anki export", ["export.py", "--runs", "3"]),
    ("Dashboard", ["dashboard.py"]),
    ("Growth: cost per grade and Today page as cards and staff grow", ["growth.py"]),
    ("Growth on PostgreSQL", ["growth.py", "--postgres"]),
    ("Load test over loopback", ["load.py", "--stack", "both", "--users", "40", "--seconds", "30"]),
]


def main() -> int:
    only = set(sys.argv[1:])
    sections = [
        "# Benchmark results",
        "",
        f"Written by `make bench` on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, "
        f"{platform.machine()}, Python {platform.python_version()}.",
        "",
    ]
    failed = 0
    for title, args in BENCHES:
        script = HERE / args[0]
        if only and args[0].removesuffix(".py") not in only:
            continue
        if not script.exists():
            continue
        print(f"== {title}: {' '.join(args)}", flush=True)
        started = time.monotonic()
        proc = subprocess.run([sys.executable, str(script), *args[1:]], cwd=ROOT, capture_output=True, text=True)
        print(proc.stdout, end="", flush=True)
        if proc.returncode != 0:
            failed += 1
            print(proc.stderr[-3000:], file=sys.stderr)
        sections += [f"## {title}", "", f"`.venv/bin/python bench/{' '.join(args)}` "
                     f"({time.monotonic() - started:.0f} s, exit {proc.returncode})", "", "```",
                     proc.stdout.strip(), "```", ""]
    (HERE / "results.md").write_text("\n".join(sections), encoding="utf-8")
    print(f"wrote {HERE / 'results.md'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
