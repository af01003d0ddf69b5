#!/usr/bin/env python
"""Benchmark: the in-process review overhead counted in CPU instructions, not seconds.

review.py's ((b) - (a)) / (a) is a ratio of times, and this machine's speed drifts by up to 2x
between minutes: the same code measured 47% to 112% there. Instructions do not drift. This script
runs child processes under valgrind's cachegrind (it only counts, unless --cache), per dialect
three, each loading the same corpus sample and warming up the same way (both dialects), then doing
one of: nothing, (a) split + sqlglot.parse of every statement of its dialect (review.parse_all), or
(b) the full review with `recommended` (review.review_all). (a) = parse - nothing, (b) = review -
nothing; it prints both per dialect and together, and the overhead ((b) - (a)) / (a), the figure
review.py calls in-process overhead (target <= 40%, in time).

An instruction is not a second, so the ratio differs from the timed one; it is for comparing two
versions of the code, to the instruction, not for the target. It runs low for PostgreSQL: the
rules' interpreted Python runs fewer instructions per second than the compiled parser (cache
misses, branches), so there the timed overhead is larger than the counted one. And it counts what
the hardware does in one instruction as many: under valgrind, OpenSSL's SHA-256 runs without the
CPU's SHA instructions (about 20,000 instructions per finding's fingerprint; natively a few
hundred nanoseconds). Needs valgrind (Debian: `apt-get install valgrind`); under it a child runs
about 50x slower, so it reviews every --step'th file of the corpus (default 10: about 4 minutes on
two CPUs; --step 1 for all of it, about 30 minutes).

With --cache it also simulates the caches (a fixed hierarchy: 32 KB L1i, 48 KB L1d, 2 MB last level)
and prints the last-level misses of (a) and (b): the misses, not the instructions, are where the
timed ratio parts from the counted one (a miss costs a hundred instructions' time or more), and they
are as repeatable as the count.

    .venv/bin/python bench/review_ir.py [--step 10] [--offset 0] [--corpus DIR] [--cache]
"""

from __future__ import annotations

import argparse
import concurrent.futures
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


DIALECTS = (("postgres", bench.PG_PARTS), ("mysql", bench.MY_PARTS))


def child(mode: str, dialect: str, corpus: Path, step: int, offset: int) -> None:
    from reviews.engine import Policy

    policy = Policy.recommended()
    for name, parts in DIALECTS:  # (both dialects warmed up in every child: the same imports and caches)
        paths = bench.sql_files(corpus, parts)
        warm = bench.load(paths[offset + 1::max(len(paths) // WARM_UP_FILES, 1)][:WARM_UP_FILES])
        bench.review_all(warm, name, policy)
        bench.parse_all(warm, name)
    files = bench.load(bench.sql_files(corpus, dict(DIALECTS)[dialect])[offset::step])
    if mode == "parse":
        bench.parse_all(files, dialect)
    elif mode == "review":
        bench.review_all(files, dialect, policy)


# --cache: a fixed hierarchy, not the host's (valgrind would take this VM's 300 MB "L3" as the last
# level, which nothing misses): per core 32 KB L1i, 48 KB L1d and a 2 MB L2, as here.
CACHES = ["--I1=32768,8,64", "--D1=49152,12,64", "--LL=2097152,16,64"]


def count(mode: str, dialect: str, corpus: Path, step: int, offset: int, cache: bool = False) -> tuple[int, int]:
    """(instructions, last-level cache misses: instruction and data, 0 without `cache`) of one child."""
    command = ["valgrind", "--tool=cachegrind", f"--cache-sim={'yes' if cache else 'no'}", *(CACHES if cache else []),
               "--cachegrind-out-file=/dev/null",
               sys.executable, __file__, "--child", mode, "--dialect", dialect, "--corpus", str(corpus),
               "--step", str(step), "--offset", str(offset)]
    done = subprocess.run(command, capture_output=True, text=True)
    found = re.search(r"I\s+refs:\s+([\d,]+)", done.stderr)
    if done.returncode != 0 or found is None:
        raise SystemExit(f"{mode} {dialect}: valgrind failed (exit {done.returncode}):\n{done.stderr[-2000:]}")
    misses = sum(int(m.replace(",", "")) for m in re.findall(r"LL[id]\s+misses:\s+([\d,]+)", done.stderr))
    return int(found.group(1).replace(",", "")), misses


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--step", type=int, default=10, help="review every STEP'th file (default 10)")
    parser.add_argument("--offset", type=int, default=0, help="starting with this one (default 0)")
    parser.add_argument("--corpus", type=Path, default=bench.ROOT.parent / "shared" / "corpus",
                        help="the corpus folder (default: <project>/../shared/corpus)")
    parser.add_argument("--cache", action="store_true",
                        help="also simulate the caches and count last-level misses (about twice as slow)")
    parser.add_argument("--child", choices=MODES, help=argparse.SUPPRESS)
    parser.add_argument("--dialect", choices=[d for d, _ in DIALECTS], help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.step < 1 or args.offset < 0:
        parser.error("--step must be at least 1 and --offset at least 0")
    corpus = args.corpus.resolve()
    if args.child:
        child(args.child, args.dialect, corpus, args.step, args.offset)
        return 0
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind is not installed (Debian: apt-get install valgrind)")
    sizes = {d: len(bench.sql_files(corpus, parts)[args.offset::args.step]) for d, parts in DIALECTS}
    jobs = [(mode, dialect) for dialect, _ in DIALECTS for mode in MODES]
    bench.log(f"counting instructions under valgrind{' (and cache misses)' if args.cache else ''}: {len(jobs)} "
              f"children, {os.cpu_count()} at a time…")
    with concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        counted = dict(zip(jobs, pool.map(lambda job: count(*job, corpus, args.step, args.offset, args.cache), jobs),
                           strict=True))

    def measured(dialect: str, what: int) -> tuple[int, int]:
        """(a) and (b) of a dialect, start-up and warm-up subtracted: instructions (0) or misses (1)."""
        nothing = counted[("nothing", dialect)][what]
        return counted[("parse", dialect)][what] - nothing, counted[("review", dialect)][what] - nothing

    print()
    print(f"Sluice review, instructions — corpus {corpus}, every {args.step}th file from {args.offset}: "
          f"{sizes['postgres']:,} PostgreSQL + {sizes['mysql']:,} MySQL files; Python {sys.version.split()[0]}, "
          f"{os.cpu_count()} CPUs")
    print()
    print(f"{'measurement':<44} {'(a) split + parse':>18} {'(b) review':>16} {'((b)-(a))/(a)':>14}")
    print("-" * 95)
    totals = [0, 0]
    for dialect, _ in DIALECTS:
        parse, review = measured(dialect, 0)
        totals[0] += parse
        totals[1] += review
        print(f"{dialect + ' (start-up and warm-up subtracted)':<44} {parse:>18,} {review:>16,} "
              f"{(review - parse) / parse:>14.1%}")
    overhead = (totals[1] - totals[0]) / totals[0]
    print(f"{'both':<44} {totals[0]:>18,} {totals[1]:>16,} {overhead:>14.1%}")
    print()
    print(f"{'in-process overhead ((b)-(a))/(a), instructions':<52} {overhead:>15.1%}  target <= 40%  "
          f"{'PASS' if overhead <= 0.40 else 'FAIL'}  (the target is review.py's timed ratio: see bench/README.md)")
    if args.cache:
        print()
        print(f"{'last-level cache misses (2 MB, simulated)':<44} {'(a) split + parse':>18} {'(b) review':>16} "
              f"{'(b)/(a)':>14}")
        print("-" * 95)
        for dialect, _ in DIALECTS:
            parse, review = measured(dialect, 1)
            print(f"{dialect + ' (start-up and warm-up subtracted)':<44} {parse:>18,} {review:>16,} "
                  f"{review / parse if parse else float('nan'):>14.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
