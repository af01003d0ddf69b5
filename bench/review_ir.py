#!/usr/bin/env python
"""Benchmark: the in-process review overhead counted in CPU instructions, not seconds.

review.py's ((b) - (a)) / (a) is a ratio of times, and this machine's speed drifts by up to 2x
between minutes: the same code measured 47% to 112% there. Instructions do not drift. This script
runs three child processes under valgrind's cachegrind (`--cache-sim=no`: it only counts), each
loading the same corpus sample and warming up the same way, then doing one of: nothing, (a) split
+ sqlglot.parse of every statement (review.parse_all), or (b) the full review with `recommended`
(review.review_all). (a) = parse - nothing, (b) = review - nothing; it prints both and the
overhead ((b) - (a)) / (a), the figure review.py calls in-process overhead (target <= 40%).

An instruction is not a second (cache misses, the collector's passes over a big heap), so the
ratio differs from the timed one; it is for comparing two versions of the code, to the instruction.
Needs valgrind (Debian: `apt-get install valgrind`); under it a child runs about 50x slower, so it
reviews every --step'th file of the corpus (default 10: about 3 minutes in all; --step 1 for all of it,
about 25 minutes).

    .venv/bin/python bench/review_ir.py [--step 10] [--offset 0] [--corpus DIR]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import review as bench  # noqa: E402  (the sibling benchmark: corpus, parse_all, review_all)

MODES = ("nothing", "parse", "review")
WARM_UP_FILES = 40  # per dialect, before the measured work, in every mode: imports and caches


def child(mode: str, corpus: Path, step: int, offset: int) -> None:
    from reviews.engine import Policy

    policy = Policy.recommended()
    for parts, dialect in ((bench.PG_PARTS, "postgres"), (bench.MY_PARTS, "mysql")):
        paths = bench.sql_files(corpus, parts)
        warm = bench.load(paths[offset + 1::max(len(paths) // WARM_UP_FILES, 1)][:WARM_UP_FILES])
        bench.review_all(warm, dialect, policy)
        bench.parse_all(warm, dialect)
    for parts, dialect in ((bench.PG_PARTS, "postgres"), (bench.MY_PARTS, "mysql")):
        files = bench.load(bench.sql_files(corpus, parts)[offset::step])
        if mode == "parse":
            bench.parse_all(files, dialect)
        elif mode == "review":
            bench.review_all(files, dialect, policy)


def count(mode: str, corpus: Path, step: int, offset: int) -> int:
    command = ["valgrind", "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null",
               sys.executable, __file__, "--child", mode, "--corpus", str(corpus), "--step", str(step),
               "--offset", str(offset)]
    done = subprocess.run(command, capture_output=True, text=True)
    found = re.search(r"I\s+refs:\s+([\d,]+)", done.stderr)
    if done.returncode != 0 or found is None:
        raise SystemExit(f"{mode}: valgrind failed (exit {done.returncode}):\n{done.stderr[-2000:]}")
    return int(found.group(1).replace(",", ""))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--step", type=int, default=10, help="review every STEP'th file (default 10)")
    parser.add_argument("--offset", type=int, default=0, help="starting with this one (default 0)")
    parser.add_argument("--corpus", type=Path, default=bench.ROOT.parent / "shared" / "corpus",
                        help="the corpus folder (default: <project>/../shared/corpus)")
    parser.add_argument("--child", choices=MODES, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.step < 1 or args.offset < 0:
        parser.error("--step must be at least 1 and --offset at least 0")
    corpus = args.corpus.resolve()
    if args.child:
        child(args.child, corpus, args.step, args.offset)
        return 0
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind is not installed (Debian: apt-get install valgrind)")
    pg = len(bench.sql_files(corpus, bench.PG_PARTS)[args.offset::args.step])
    my = len(bench.sql_files(corpus, bench.MY_PARTS)[args.offset::args.step])
    counts = {}
    for mode in MODES:
        bench.log(f"{mode}: counting instructions under valgrind…")
        counts[mode] = count(mode, corpus, args.step, args.offset)
    parse = counts["parse"] - counts["nothing"]
    review = counts["review"] - counts["nothing"]
    overhead = (review - parse) / parse
    print()
    print(f"Sluice review, instructions — corpus {corpus}, every {args.step}th file from {args.offset}: "
          f"{pg:,} PostgreSQL + {my:,} MySQL files; Python {sys.version.split()[0]}, {os.cpu_count()} CPUs")
    print()
    print(f"{'measurement':<52} {'instructions':>16}")
    print("-" * 69)
    print(f"{'start-up, corpus loaded, warm-up (subtracted)':<52} {counts['nothing']:>16,}")
    print(f"{'(a) split + sqlglot.parse':<52} {parse:>16,}")
    print(f"{'(b) Sluice review in-process, recommended':<52} {review:>16,}")
    print()
    print(f"{'in-process overhead ((b)-(a))/(a), instructions':<52} {overhead:>15.1%}  target <= 40%  "
          f"{'PASS' if overhead <= 0.40 else 'FAIL'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
