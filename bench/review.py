#!/usr/bin/env python
"""Benchmark: how fast, and in how much memory, does Sluice review real migration files?

On the real-world corpus (../shared/corpus, see its README): PostgreSQL = every *.sql file of
postgres/migrations + postgres/dumps, MySQL = every *.sql file of mysql/ (regular files only:
a few directories are named *.sql). Sections (--only):

  parse     (a) sqlglot parsing alone: reviews.splitter, then sqlglot.parse of each statement,
            trees dropped at once; also the splitter alone and pglast's per-statement parse
            (the engine's PostgreSQL syntax judge)
  review    (b) Sluice's full review in-process, `recommended` policy, review_file per file
            (only counts kept), and (b0) the same with every rule off (the engine alone: what
            (b) adds to it is the rules'); also counts files that made the engine fail and
            statements that pglast accepts but Sluice reports as system.syntax-error. With
            `parse`, (a) and (b) are measured in turns on each of 20 slices of the corpus (a, b,
            b0, a', split per dialect, the order rotated from slice to slice), `--repeat` times
  memory    peak memory (tracemalloc, untimed passes) of (a) and (b), and of (b) on half the
            corpus vs all of it (memory must not grow with the corpus)
  process   (c) `manage.py review <pg folders> --dialect postgres --format json --output
            /dev/null --fail-on never` as one whole process (wall, max RSS)
  squawk    (d) squawk (squawk-cli) on the same PostgreSQL files, whole process
  sqlfluff  (e) `sqlfluff lint` on a sample of about 100 statements' worth of PostgreSQL
            migration files, scaled to the corpus size
  growth    generated files of 1,000 and 8,000 statements, reviewed in-process (in turns) and by
            squawk: the 8k/1k time ratio (linear = 8)

Plain stdlib plus the project's packages; run it with the project's interpreter:
    .venv/bin/python bench/review.py [--only parse,review] [--repeat 3] [--corpus DIR]
"""

from __future__ import annotations

import argparse
import gc
import importlib.metadata
import json
import logging
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent  # the project root (where manage.py is)
sys.path.insert(0, str(ROOT))

MANAGE = ROOT / "manage.py"
SECTIONS = ("parse", "review", "memory", "process", "squawk", "sqlfluff", "growth")
PG_PARTS = ("postgres/migrations", "postgres/dumps")
MY_PARTS = ("mysql",)
INTERNAL = "internal error while reviewing"
SQLFLUFF_SAMPLE = 100  # statements
GROWTH_SIZES = (1_000, 8_000)
MB = 1024 * 1024

Files = list[tuple[str, bytes]]  # (path, content)


class Results:
    def __init__(self) -> None:
        self.rows: list[dict] = []
        self.values: dict[str, float | list[float]] = {}  # (a list: each round's own overhead ratio)
        self.notes: list[str] = []

    def row(self, key: str, label: str, *, files: int | None = None, statements: int | None = None,
            wall: float | None = None, samples: Sequence[float] = (), peak_mb: float | None = None,
            note: str = "") -> None:
        self.rows.append(dict(key=key, label=label, files=files, statements=statements, wall=wall,
                              samples=list(samples), peak_mb=peak_mb, note=note))
        if wall is not None:
            self.values[key] = wall
            if wall in CPU:
                self.values[key + ".cpu"] = CPU[wall]
        if peak_mb is not None:
            self.values[key + ".peak"] = peak_mb


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# -- the corpus -------------------------------------------------------------------------------


def sql_files(corpus: Path, parts: Sequence[str]) -> list[Path]:
    found: list[Path] = []
    for part in parts:
        folder = corpus / part
        if not folder.is_dir():
            raise SystemExit(f"corpus folder missing: {folder} (use --corpus DIR)")
        found += sorted(p for p in folder.rglob("*.sql") if p.is_file())
    return found


def load(paths: Sequence[Path]) -> Files:
    return [(str(p), p.read_bytes()) for p in paths]


def decode(data: bytes) -> str:
    text = data.decode("utf-8", errors="replace")
    return text[1:] if text.startswith("\ufeff") else text


def half_of(files: Files) -> Files:
    """Half the files, keeping the largest one (peak memory is set by the largest file: without
    it the half would look 'flatter' for the wrong reason)."""
    if not files:
        return []
    largest = max(range(len(files)), key=lambda i: len(files[i][1]))
    rest = [f for i, f in enumerate(files) if i != largest]
    return [files[largest]] + rest[::2]


# -- timing -----------------------------------------------------------------------------------


CPU: dict[float, float] = {}  # wall sample -> CPU seconds of that sample (shown next to wall)


def best_of(repeat: int, fn: Callable[[], object]) -> tuple[float, list[float], object]:
    return interleaved(repeat, [("only", fn)])["only"]


def interleaved(repeat: int, measures: Sequence[tuple[str, Callable[[], object]]]) -> dict[str, tuple[float, list[float], object]]:
    """Each measurement `repeat` times, in turns (m1, m2, …, m1, m2, …): measurements compared in a
    ratio then see the same machine, where this machine's speed drifts by up to 2× between minutes.
    Per key: the best wall time, every sample, the last result."""
    samples: dict[str, list[float]] = {key: [] for key, _ in measures}
    results: dict[str, object] = {}
    for _ in range(repeat):
        for key, fn in measures:
            gc.collect()
            t0, c0 = time.perf_counter(), time.process_time()
            results[key] = fn()
            wall = time.perf_counter() - t0
            CPU[wall] = time.process_time() - c0
            samples[key].append(wall)
    return {key: (min(found), found, results[key]) for key, found in samples.items()}


def traced_peak(fn: Callable[[], object]) -> float:
    """Peak Python memory (MB) allocated while fn runs (tracemalloc; slows fn, so never timed)."""
    gc.collect()
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        fn()
        return (tracemalloc.get_traced_memory()[1] - base) / MB
    finally:
        tracemalloc.stop()


def run_process(cmd: Sequence[str], cwd: Path, stdout: Path | None = None,
                env: dict | None = None) -> tuple[float, int, float, str]:
    """(wall s, exit code, max RSS MB of this child, stderr tail) of one whole process."""
    with tempfile.TemporaryFile() as err, open(stdout or os.devnull, "wb") as out:
        t0 = time.perf_counter()
        proc = subprocess.Popen(list(cmd), cwd=cwd, stdout=out, stderr=err, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        CPU[wall] = usage.ru_utime + usage.ru_stime
        proc.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        tail = err.read()[-2000:].decode("utf-8", errors="replace")
    return wall, proc.returncode, usage.ru_maxrss / 1024, tail


def best_process(repeat: int, cmd: Sequence[str], cwd: Path, **kwargs) -> tuple[float, list[float], int, float, str]:
    samples, rss, code, tail = [], 0.0, 0, ""
    for _ in range(repeat):
        wall, code, peak, tail = run_process(cmd, cwd, **kwargs)
        samples.append(wall)
        rss = max(rss, peak)
    return min(samples), samples, code, rss, tail


def batches(args: Sequence[str], budget: int) -> list[list[str]]:
    """Split a long argument list like xargs does."""
    out: list[list[str]] = [[]]
    size = 0
    for arg in args:
        if out[-1] and size + len(arg) + 1 > budget:
            out.append([])
            size = 0
        out[-1].append(arg)
        size += len(arg) + 1
    return out


SLICES = 20  # the corpus is measured in this many slices, each measurement in turns on each


def in_slices(repeat: int, measures: Sequence[tuple[str, Files, Callable[[Files], object]]]
              ) -> dict[str, tuple[float, list[float], object]]:
    """Each measurement over its whole file list, `repeat` times, as the sum of SLICES parts: the
    files dealt into slices (every SLICES-th file), and every measurement run on slice 1, then every
    one on slice 2, …, the order rotated from slice to slice (none always first, or always after the
    same one). A pass of one measurement over a whole dialect takes seconds, and this machine's speed
    moves by a third within seconds: taken whole and in turns, the (a) and (b) of one round still saw
    different speeds (rounds of one run read 26% to 86%), while a slice takes a fraction of a second,
    and each measurement gets its share of the fast and the slow moments. Per key: the best of the
    `repeat` totals, every total, the results merged (counts added, lists joined)."""
    samples: dict[str, list[float]] = {key: [] for key, _, _ in measures}
    results: dict[str, object] = {}
    for round_ in range(repeat):
        wall = dict.fromkeys(samples, 0.0)
        cpu = dict.fromkeys(samples, 0.0)
        merged: dict[str, object] = {}
        for part in range(SLICES):
            turn = (part + round_) % len(measures)
            for key, files, fn in [*measures[turn:], *measures[:turn]]:
                gc.collect()
                t0, c0 = time.perf_counter(), time.process_time()
                result = fn(files[part::SLICES])
                wall[key] += time.perf_counter() - t0
                cpu[key] += time.process_time() - c0
                merged[key] = merge(merged.get(key), result)
        for key in samples:
            CPU[wall[key]] = cpu[key]
            samples[key].append(wall[key])
        results = merged
    return {key: (min(found), found, results[key]) for key, found in samples.items()}


def merge(total: object, part: object) -> object:
    """A measurement's results over the slices: counts added, lists joined (dicts key by key)."""
    if total is None:
        return part
    if isinstance(part, dict):
        return {key: merge(total[key], value) for key, value in part.items()}  # type: ignore[index]
    return total + part  # type: ignore[operator]


# -- (a) parsing alone --------------------------------------------------------------------------


def split_all(files: Files, dialect: str) -> int:
    from reviews.splitter import split

    return sum(len(split(decode(data), dialect)) for _, data in files)


def parse_all(files: Files, dialect: str, as_engine: bool = False) -> int:
    """(a): every statement split and parsed (`sqlglot.parse`), each tree dropped at once. With
    `as_engine`, parsed as the engine parses (parse_as_engine): (a'), for reference."""
    if as_engine:
        return parse_as_engine(files, dialect)
    import sqlglot

    from reviews.splitter import split

    count = 0
    for _, data in files:
        for statement in split(decode(data), dialect):
            count += 1
            try:
                trees = sqlglot.parse(statement.text, read=dialect)
            except Exception:  # ParseError, TokenError, TypeError (compiled build)
                trees = None
            del trees
    return count


def parse_as_engine(files: Files, dialect: str) -> int:
    """(a'): split and parse as the engine does, nothing else: one sqlglot tokenizer and parser per
    dialect (reviews.engine.model.sqlglot_parse); MySQL statements parsed from the tokens the
    splitter read (reviews.splitter.split_for_review); and the cyclic garbage collector paused
    during each file, as review_file pauses it, the young objects collected by hand as it does
    (the trees dropped: reviews.engine.core._YOUNG_LIMIT)."""
    from reviews.engine.core import _YOUNG_LIMIT, _collector_paused
    from reviews.engine.model import sqlglot_parse, sqlglot_parse_tokens
    from reviews.splitter import split_for_review

    count = 0
    for _, data in files:
        text = decode(data)
        with _collector_paused():
            statements, _, read = split_for_review(text, dialect)
            for statement, tokens in zip(statements, read, strict=True):
                count += 1
                try:
                    if tokens is not None:
                        trees = sqlglot_parse_tokens(tokens, text, dialect)
                    else:
                        trees = sqlglot_parse(statement.text, dialect)
                except Exception:  # ParseError, TokenError, TypeError (compiled build)
                    trees = None
                del trees
                if gc.get_count()[0] > _YOUNG_LIMIT:
                    gc.collect(0)
    return count


def pglast_judge(texts: Sequence[str]) -> int:
    import pglast

    for text in texts:
        try:
            pglast.parser.split(text)  # what the engine calls first (no tree; parse_sql_json on an error)
        except Exception:
            pass
    return len(texts)


# -- (b) the full review -----------------------------------------------------------------------


class RuleFailures(logging.Handler):
    """The engine logs and swallows a rule's exception: count them (and keep them off stderr)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        exc = record.exc_info[1] if record.exc_info else None
        self.messages.append(f"{record.getMessage()}: {type(exc).__name__}: {exc}" if exc else record.getMessage())


def rules_off():
    """A policy with every rule off that a policy can turn off (the syntax, encoding and empty-file
    findings stay: design §7)."""
    from reviews.engine import Policy
    from reviews.engine.policy import ALWAYS_ERRORS, Setting
    from reviews.engine.registry import RULES

    Policy.recommended()  # (registers the rules)
    return Policy("rules-off", {rule_id: Setting("disabled") for rule_id in RULES if rule_id not in ALWAYS_ERRORS})


def review_all(files: Files, dialect: str, policy) -> dict:
    from reviews.engine import review_file

    statements = findings = 0
    internal: list[str] = []
    syntax: list[str] = []  # files with a system.syntax-error finding (checked later, untimed)
    for path, data in files:
        review = review_file(path, data, dialect, policy)
        statements += review.statements
        findings += len(review.findings)
        for f in review.findings:
            if f.rule == "system.syntax-error":
                if INTERNAL in f.message:
                    internal.append(f"{path}: {f.message}")
                elif not syntax or syntax[-1] != path:
                    syntax.append(path)
        del review
    return {"statements": statements, "findings": findings, "internal": internal, "syntax": syntax}


def false_syntax_errors(paths: Sequence[str], policy) -> list[str]:
    """Statements pglast accepts (SQL grammar, and PL/pgSQL for a routine's body) that Sluice reports
    as system.syntax-error."""
    import pglast

    from reviews.engine import review_file
    from reviews.splitter import split

    found: list[str] = []
    for path in paths:
        data = Path(path).read_bytes()
        review = review_file(path, data, "postgres", policy)
        reported = {f.statement for f in review.findings if f.rule == "system.syntax-error"}
        for statement in split(decode(data), "postgres"):
            text = statement.text
            excerpt = text if len(text) <= 2000 else text[:2000] + " …"
            if excerpt not in reported:
                continue
            try:
                pglast.parser.parse_sql(text)
                # (A PL/pgSQL body is PostgreSQL's own grammar too: a body it rejects is an error.)
                pglast.parser.parse_plpgsql_json(text)
            except Exception:
                continue
            found.append(f"{path}:{statement.line}: {text[:160]!r}")
    return found


# -- the growth files ---------------------------------------------------------------------------


def growth_sql(n: int) -> str:
    """n realistic migration statements: new tables with their seed rows and indexes, columns
    added to (and rows updated in) existing tables, an index on an existing table now and then."""
    out = ["-- generated by bench/review.py\nSET lock_timeout = '2s';\n"]
    i = 0
    count = 1
    while count < n:
        group = [
            f"CREATE TABLE app_item_{i} (\n    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,\n"
            f"    name text NOT NULL,\n    owner_id bigint REFERENCES app_user (id),\n"
            f"    created_at timestamptz NOT NULL DEFAULT now()\n);",
            f"ALTER TABLE app_order_{i % 50} ADD COLUMN note_{i} text;",
            f"CREATE INDEX app_item_{i}_name_idx ON app_item_{i} (name);",
            f"INSERT INTO app_item_{i} (name, owner_id) VALUES ('item {i}', 1), ('other {i}', 2);",
            f"UPDATE app_order_{i % 50} SET note_{i} = 'migrated' WHERE id < {i * 100};",
        ]
        if i % 10 == 9:
            group[2] = f"CREATE INDEX CONCURRENTLY IF NOT EXISTS app_order_{i % 50}_note_{i}_idx ON app_order_{i % 50} (note_{i});"
        for statement in group[: n - count]:
            out.append(statement + "\n")
            count += 1
        i += 1
    return "".join(out)


# -- the sections ---------------------------------------------------------------------------------


def section_parse_review(pg: Files, my: Files, repeat: int, res: Results, texts: list[str],
                         parse: bool, review: bool) -> None:
    """(a), (a'), the splitter alone and (b), per dialect, measured in turns over small slices of the
    corpus (`in_slices`): the overhead ratio compares (a) and (b) taken seconds apart."""
    from reviews.engine import Policy

    policy = Policy.recommended()
    no_rules = rules_off()
    dialects = (("PG", pg, "postgres"), ("MySQL", my, "mysql"))
    measures: list[tuple[str, Files, Callable[[Files], object]]] = []
    for _, files, dialect in dialects:
        if parse:
            measures.append((f"a.{dialect}", files, lambda f, d=dialect: parse_all(f, d)))
        if review:
            measures.append((f"b.{dialect}", files, lambda f, d=dialect: review_all(f, d, policy)))
            measures.append((f"b0.{dialect}", files, lambda f, d=dialect: review_all(f, d, no_rules)))
        if parse:
            measures.append((f"a2.{dialect}", files, lambda f, d=dialect: parse_all(f, d, as_engine=True)))
            measures.append((f"split.{dialect}", files, lambda f, d=dialect: split_all(f, d)))
    log(f"{' and '.join(w for w, on in (('(a) parsing', parse), ('(b) review', review)) if on)}, "
        f"PG and MySQL, in turns over {SLICES} slices, {repeat}×…")
    found = in_slices(repeat, measures)
    if parse:
        for name, files, dialect in dialects:
            wall, samples, count = found[f"a.{dialect}"]
            res.row(f"a.{dialect}", f"(a) split + sqlglot.parse, {name}", files=len(files), statements=count,
                    wall=wall, samples=samples)
            wall, samples, count = found[f"a2.{dialect}"]
            res.row(f"a2.{dialect}", f"    (a') parsed as the engine parses, {name}", files=len(files),
                    statements=count, wall=wall, samples=samples,
                    note="as the engine: reused parser, MySQL tokens from the split, collector paused")
            wall, samples, count = found[f"split.{dialect}"]
            res.row(f"split.{dialect}", f"    of which: reviews.splitter alone, {name}", files=len(files),
                    statements=count, wall=wall, samples=samples)
        log("pglast judge…")
        from reviews.splitter import split

        if not texts:
            texts += [s.text for _, data in pg for s in split(decode(data), "postgres")]
        wall, samples, count = best_of(repeat, lambda: pglast_judge(texts))
        res.row("pglast", "    pglast.parser.split per statement, PG", files=len(pg), statements=count,
                wall=wall, samples=samples, note="the engine's syntax judge (part of (b), not of (a))")
    if not review:
        return
    if parse:  # each round's own ratio: its (a) and (b) were taken slice by slice, in turns
        rounds = zip(*(found[f"{m}.{d}"][1] for m in ("a", "b") for _, _, d in dialects), strict=True)
        res.values["overhead.rounds"] = [(b1 + b2 - a1 - a2) / (a1 + a2) for a1, a2, b1, b2 in rounds]
    for name, files, dialect in dialects:
        wall, samples, out = found[f"b.{dialect}"]
        res.row(f"b.{dialect}", f"(b) Sluice review in-process, {name}", files=len(files),
                statements=out["statements"], wall=wall, samples=samples,
                note=f"recommended; {out['findings']} findings")
        wall, samples, _ = found[f"b0.{dialect}"]
        res.row(f"b0.{dialect}", f"    (b0) the same with every rule off, {name}", files=len(files),
                statements=out["statements"], wall=wall, samples=samples,
                note="the engine alone: split, judges, parse, file model (what (b) adds to it is the rules')")
        res.values[f"internal.{dialect}"] = len(out["internal"])
        for line in out["internal"][:10]:
            res.notes.append(f"engine failed ({dialect}): {line}")
        if dialect == "postgres":
            log("checking syntax errors against pglast (untimed)…")
            false = false_syntax_errors(out["syntax"], policy)
            res.values["false_syntax"] = len(false)
            res.notes.append(f"{len(out['syntax'])} PostgreSQL file(s) have system.syntax-error findings; "
                             f"{len(false)} reported statement(s) are accepted by pglast")
            for line in false[:10]:
                res.notes.append(f"false syntax error: {line}")


def section_memory(pg: Files, my: Files, res: Results) -> None:
    from reviews.engine import Policy

    policy = Policy.recommended()
    log("memory: (a) parse, traced…")
    peak = max(traced_peak(lambda: parse_all(pg, "postgres")), traced_peak(lambda: parse_all(my, "mysql")))
    res.row("mem.a", "(a) split + sqlglot.parse, PG + MySQL", files=len(pg) + len(my), peak_mb=peak,
            note="tracemalloc peak, untimed pass")
    for label, part_pg, part_my in (("half the corpus", half_of(pg), half_of(my)), ("all the corpus", pg, my)):
        log(f"memory: (b) review, {label}, traced…")
        peak = max(traced_peak(lambda p=part_pg: review_all(p, "postgres", policy)),
                   traced_peak(lambda m=part_my: review_all(m, "mysql", policy)))
        key = "mem.b.half" if label.startswith("half") else "mem.b.all"
        res.row(key, f"(b) Sluice review in-process, {label}", files=len(part_pg) + len(part_my),
                peak_mb=peak, note="tracemalloc peak" + (" (largest file + every other file)"
                                                       if key == "mem.b.half" else ""))


def section_process(pg_statements: int, corpus: Path, repeat: int, res: Results, work: Path) -> None:
    folders = [str(corpus / part) for part in PG_PARTS]
    probe = subprocess.run([sys.executable, str(MANAGE), "help", "review"], cwd=ROOT, capture_output=True,
                           text=True)
    if probe.returncode != 0 or "--dialect" not in probe.stdout:
        res.notes.append("(c) skipped: `manage.py review` does not exist yet "
                         f"({(probe.stderr or probe.stdout).strip()[-200:]})")
        return
    log("(c) manage.py review, checking run (untimed)…")
    report = work / "review.json"
    base = [sys.executable, str(MANAGE), "review", *folders, "--dialect", "postgres", "--format", "json",
            "--fail-on", "never"]
    _, code, _, tail = run_process([*base, "--output", str(report)], ROOT)
    files_seen = None
    try:
        document = json.loads(report.read_text())
        files_seen = document["summary"]["files"]
        # (The corpus is not named as one project's migrations: its names and versions are refused.)
        other = [e for e in document.get("errors") or ()
                 if not e["message"].startswith(("bad migration file name", "duplicate version"))]
        if other:
            res.notes.append(f"(c) the report lists {len(other)} file error(s) other than names: {other[:3]}")
    except Exception as exc:
        res.notes.append(f"(c) could not read the JSON report ({type(exc).__name__}: {exc}); exit {code}: "
                         f"{tail.strip()[-300:]}")
    if code != 0:
        res.notes.append(f"(c) `manage.py review` exited {code} with --fail-on never: {tail.strip()[-300:]}")
    log("(c) manage.py review, timed…")
    wall, samples, code, rss, _ = best_process(repeat, [*base, "--output", os.devnull], ROOT)
    res.row("c", "(c) Sluice `manage.py review`, whole process, PG", files=files_seen, statements=pg_statements,
            wall=wall, samples=samples, peak_mb=rss, note=f"max RSS; exit {code}")


def squawk_binary() -> str | None:
    here = Path(sys.executable).parent / "squawk"
    return str(here) if here.exists() else shutil.which("squawk")


def run_squawk(squawk: str, paths: Sequence[str], cwd: Path, repeat: int,
               out: Path | None = None) -> tuple[float, list[float], float, list[int], int]:
    budget = min(os.sysconf("SC_ARG_MAX") // 2, 1_000_000) if hasattr(os, "sysconf") else 100_000
    groups = batches(paths, budget)
    samples, rss, codes = [], 0.0, []
    for _ in range(repeat):
        total = 0.0
        codes = []
        cpu = 0.0
        for group in groups:
            wall, code, peak, _ = run_process([squawk, *group], cwd, stdout=out)
            total += wall
            cpu += CPU.get(wall, 0.0)
            rss = max(rss, peak)
            codes.append(code)
        CPU[total] = cpu
        samples.append(total)
    return min(samples), samples, rss, sorted(set(codes)), len(groups)


def section_squawk(pg_paths: Sequence[Path], pg_statements: int, corpus: Path, repeat: int, res: Results,
                   work: Path) -> None:
    squawk = squawk_binary()
    if squawk is None:
        res.notes.append("(d) skipped: squawk is not installed (pip install -r bench/requirements.txt)")
        return
    log("(d) squawk…")
    relative = [str(p.relative_to(corpus)) for p in pg_paths]
    wall, samples, rss, codes, groups = run_squawk(squawk, relative, corpus, repeat, out=work / "squawk.out")
    if any(c < 0 or c > 1 for c in codes):
        res.notes.append(f"(d) squawk exit codes {codes} (1 = issues found; anything else is suspect)")
    checked = ""
    text = (work / "squawk.out").read_text(errors="replace")
    if "checked" in text:
        checked = "; " + text[text.rfind("Found"):].strip().splitlines()[0][:90]
    res.row("d", f"(d) squawk {tool_version('squawk-cli')}, whole process, PG", files=len(pg_paths),
            statements=pg_statements, wall=wall, samples=samples, peak_mb=rss,
            note=f"max RSS; {groups} process(es); exit {codes}{checked}")


def section_sqlfluff(pg_paths: Sequence[Path], pg_statements: int, repeat: int, res: Results, work: Path) -> None:
    sqlfluff = Path(sys.executable).parent / "sqlfluff"
    if not sqlfluff.exists():
        found = shutil.which("sqlfluff")
        if not found:
            res.notes.append("(e) skipped: sqlfluff is not installed (pip install -r bench/requirements.txt)")
            return
        sqlfluff = Path(found)
    from reviews.splitter import split

    candidates = [p for p in pg_paths if "/postgres/migrations/" in str(p)]
    random.Random(20240601).shuffle(candidates)
    sample: list[Path] = []
    statements = 0
    for path in candidates:
        n = len(split(decode(path.read_bytes()), "postgres"))
        if n == 0 or n > 40:
            continue  # no single file dominates the sample
        sample.append(path)
        statements += n
        if statements >= SQLFLUFF_SAMPLE:
            break
    cmd = [str(sqlfluff), "lint", "--dialect", "postgres", "--templater", "raw", "--processes", "1",
           "--nofail", "--format", "json", "--disable-progress-bar"]
    trivial = work / "trivial.sql"
    trivial.write_text("SELECT 1;\n")
    log(f"(e) sqlfluff on {len(sample)} files ({statements} statements)…")
    startup, _, _, _, _ = best_process(repeat, [*cmd, str(trivial)], work)
    wall, samples, code, rss, tail = best_process(repeat, [*cmd, *map(str, sample)], work)
    if code != 0:
        res.notes.append(f"(e) sqlfluff exited {code}: {tail.strip()[-300:]}")
    per_statement = max(wall - startup, 1e-9) / statements
    estimate = startup + per_statement * pg_statements
    res.row("e.sample", f"(e) sqlfluff {tool_version('sqlfluff')} lint, sample of PG migrations", files=len(sample),
            statements=statements, wall=wall, samples=samples, peak_mb=rss,
            note=f"max RSS; incl. {startup:.2f} s start-up (1-statement file); raw templater")
    res.row("e", "(e) sqlfluff, scaled to the PG corpus (estimate)", files=len(pg_paths), statements=pg_statements,
            wall=estimate, note=f"start-up + {per_statement * 1000:.1f} ms/statement × {pg_statements}")


def section_growth(repeat: int, res: Results, work: Path) -> None:
    from reviews.engine import Policy, review_file

    policy = Policy.recommended()
    squawk = squawk_binary()
    files: dict[int, tuple[Path, bytes]] = {}
    for n in GROWTH_SIZES:
        path = work / f"growth_{n}.sql"
        path.write_text(growth_sql(n))
        files[n] = (path, path.read_bytes())
    # In turns (1k, 8k, 1k, 8k …), like (a) and (b): the ratio then compares the same minutes.
    log(f"growth: {' and '.join(map(str, GROWTH_SIZES))} statements in-process, in turns…")
    found = interleaved(repeat, [(str(n), lambda f=files[n]: review_file(str(f[0]), f[1], "postgres", policy))
                                 for n in GROWTH_SIZES])
    for n in GROWTH_SIZES:
        path, data = files[n]
        wall, samples, review = found[str(n)]
        syntax = sum(1 for f in review.findings if f.rule == "system.syntax-error")
        if syntax:
            res.notes.append(f"growth file of {n}: {syntax} system.syntax-error finding(s) (should be valid SQL)")
        peak = traced_peak(lambda d=data, p=path: review_file(str(p), d, "postgres", policy))
        res.row(f"g.{n}", f"growth: {n:,}-statement file, Sluice in-process", files=1, statements=review.statements,
                wall=wall, samples=samples, peak_mb=peak, note=f"tracemalloc peak; {len(review.findings)} findings")
        if squawk:
            log(f"growth: {n} statements, squawk…")
            wall, samples, rss, codes, _ = run_squawk(squawk, [path.name], work, repeat)
            res.row(f"gs.{n}", f"growth: {n:,}-statement file, squawk", files=1, statements=review.statements,
                    wall=wall, samples=samples, peak_mb=rss, note=f"max RSS; exit {codes}")


# -- output -------------------------------------------------------------------------------------


def tool_version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "n/a"


def fmt(value: float | None, spec: str) -> str:
    return "" if value is None else format(value, spec)


def print_table(res: Results, header: list[str], repeat: int) -> None:
    print()
    for line in header:
        print(line)
    print()
    cols = (f"{'measurement':<58} {'files':>6} {'stmts':>7} {'wall s':>8} {'cpu s':>8} {'stmts/s':>9} "
            f"{'peak MB':>8}  note")
    print(cols)
    print("-" * len(cols))
    for row in res.rows:
        rate = row["statements"] / row["wall"] if row["statements"] and row["wall"] else None
        print(f"{row['label']:<58} {fmt(row['files'], ','):>6} {fmt(row['statements'], ','):>7} "
              f"{fmt(row['wall'], '.3f'):>8} {fmt(CPU.get(row['wall']), '.3f'):>8} {fmt(rate, ',.0f'):>9} {fmt(row['peak_mb'], '.1f'):>8}  {row['note']}")
        if repeat > 1 and len(row["samples"]) > 1:
            print(f"{'':<58} samples: {', '.join(f'{s:.3f}' for s in row['samples'])}")
    v = res.values
    verdicts: list[tuple[str, str, str, bool | None]] = []

    def add(label: str, value: str, target: str, ok: bool | None) -> None:
        verdicts.append((label, value, target, ok))

    if "c" in v and "d" in v:
        r = v["c"] / v["d"]
        add("Sluice whole process / squawk (PG corpus, wall)", f"{r:.2f}", "< 1.0 (aim 0.5)", r < 1.0)
        if "c.cpu" in v and v.get("d.cpu"):
            add("    same, CPU time (less sensitive to a busy machine)", f"{v['c.cpu'] / v['d.cpu']:.2f}", "", None)
    elif "b.postgres" in v and "d" in v:
        r = v["b.postgres"] / v["d"]
        add("Sluice IN-PROCESS / squawk (no (c): provisional)", f"{r:.2f}", "< 1.0 (aim 0.5)", None)
    sluice_time = v.get("c", v.get("b.postgres"))
    if sluice_time and "e" in v:
        r = v["e"] / sluice_time
        which = "whole process" if "c" in v else "in-process"
        add(f"Sluice ({which}) vs sqlfluff (scaled), × faster", f"{r:,.0f}×", ">= 100×", r >= 100)
    if "g.1000" in v and "g.8000" in v:
        r = v["g.8000"] / v["g.1000"]
        add("growth 8k / 1k statements, Sluice in-process", f"{r:.2f}", "<= 10 (linear 8)", r <= 10)
        if v.get("g.1000.cpu"):
            add("    same, CPU time", f"{v['g.8000.cpu'] / v['g.1000.cpu']:.2f}", "", None)
    if "gs.1000" in v and "gs.8000" in v:
        r = v["gs.8000"] / v["gs.1000"]
        add("growth 8k / 1k statements, squawk (for reference)", f"{r:.2f}", "", None)
    if "a.postgres" in v and "b.postgres" in v:
        a = v["a.postgres"] + v.get("a.mysql", 0)
        b = v["b.postgres"] + v.get("b.mysql", 0)
        r = (b - a) / a
        add("in-process overhead on top of parsing ((b)-(a))/(a)", f"{r:.0%}", "<= 40%", r <= 0.40)
        keys = ("a.postgres", "a.mysql", "b.postgres", "b.mysql")
        if all(k + ".cpu" in v for k in keys):
            a_cpu = v["a.postgres.cpu"] + v["a.mysql.cpu"]
            b_cpu = v["b.postgres.cpu"] + v["b.mysql.cpu"]
            add("    same, CPU time", f"{(b_cpu - a_cpu) / a_cpu:.0%}", "", None)
        if v.get("overhead.rounds"):
            rounds = sorted(v["overhead.rounds"])
            add("    same, median of the rounds' own ratios", f"{rounds[len(rounds) // 2]:.0%}",
                " ".join(f"{x:.0%}" for x in v["overhead.rounds"]), None)
        if "a2.postgres" in v and "a2.mysql" in v:
            a2 = v["a2.postgres"] + v["a2.mysql"]
            add("    same, on top of (a') (parsed as the engine parses)", f"{(b - a2) / a2:.0%}", "", None)
        if "b0.postgres" in v and "b0.mysql" in v:
            b0 = v["b0.postgres"] + v["b0.mysql"]
            add("    of which engine alone (b0)-(a) / rules (b)-(b0), of (a)", f"{(b0 - a) / a:.0%}",
                f"{(b - b0) / a:.0%}", None)
        ap, bp = v["a.postgres"], v["b.postgres"]
        add("    PostgreSQL only / MySQL only", f"{(bp - ap) / ap:.0%}",
            f"{(v['b.mysql'] - v['a.mysql']) / v['a.mysql']:.0%}" if "b.mysql" in v and "a.mysql" in v else "", None)
        if "pglast" in v:
            add("    of which pglast syntax judge, share of (b)", f"{v['pglast'] / b:.1%}",
                f"{v['pglast'] / a:.0%} of (a)", None)
    if "mem.b.half.peak" in v and "mem.b.all.peak" in v:
        r = v["mem.b.all.peak"] / max(v["mem.b.half.peak"], 1e-9)
        add("memory: review peak, all / half the corpus", f"{r:.2f}", "<= 1.2 (flat)", r <= 1.2)
    if "internal.postgres" in v or "internal.mysql" in v:
        n = int(v.get("internal.postgres", 0) + v.get("internal.mysql", 0))
        add("files that made the engine fail (internal error)", str(n), "= 0", n == 0)
    if "rule_failures" in v:
        n = int(v["rule_failures"])
        add("distinct rule exceptions swallowed by the engine", str(n), "= 0", n == 0)
    if "false_syntax" in v:
        n = int(v["false_syntax"])
        add("statements pglast accepts reported as syntax errors", str(n), "= 0", n == 0)
    print()
    print(f"{'ratio / check':<58} {'value':>8}  {'target':<20} result")
    print("-" * 96)
    for label, value, target, ok in verdicts:
        result = "" if ok is None else ("PASS" if ok else "FAIL")
        print(f"{label:<58} {value:>8}  {target:<20} {result}")
    for note in res.notes:
        print(f"note: {note}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", default=",".join(SECTIONS),
                        help=f"comma-separated sections (default: all): {', '.join(SECTIONS)}")
    parser.add_argument("--repeat", type=int, default=1, help="run each measurement R times, report the best")
    parser.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "corpus",
                        help="the corpus folder (default: <project>/../shared/corpus)")
    args = parser.parse_args(argv)
    only = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = set(only) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown section(s) {', '.join(sorted(unknown))}: expected {', '.join(SECTIONS)}")
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    corpus = args.corpus.resolve()

    import pglast
    import sqlglot

    from reviews import native
    from reviews.engine import Policy, review_file
    from reviews.splitter import split

    handler = RuleFailures()
    engine_log = logging.getLogger("reviews.engine.core")
    engine_log.addHandler(handler)
    engine_log.propagate = False

    pg_paths = sql_files(corpus, PG_PARTS)
    my_paths = sql_files(corpus, MY_PARTS)
    pg, my = load(pg_paths), load(my_paths)
    log(f"loaded {len(pg)} PostgreSQL and {len(my)} MySQL files from {corpus}")
    # Warm up (untimed): imports, rule registration, sqlglot dialects, and the caches a long-running
    # review fills (rule dispatch, compiled patterns): every 10th file reviewed and parsed once, so
    # that a single run (--repeat 1) measures the steady state too. (c) measures a cold process.
    policy = Policy.recommended()
    for dialect, files in (("postgres", pg), ("mysql", my)):
        review_file("warm.sql", b"CREATE TABLE t (id int);\nALTER TABLE u ADD COLUMN c int;\n", dialect, policy)
        sqlglot.parse("SELECT 1", read=dialect)
        review_all(files[::10], dialect, policy)
        parse_all(files[::10], dialect)
    pg_statements = sum(len(split(decode(data), "postgres")) for _, data in pg)
    my_statements = sum(len(split(decode(data), "mysql")) for _, data in my)

    res = Results()
    texts: list[str] = []
    work = Path(tempfile.mkdtemp(prefix="sluice_bench_review_"))
    try:
        if "parse" in only or "review" in only:
            section_parse_review(pg, my, args.repeat, res, texts, "parse" in only, "review" in only)
        if "memory" in only:
            section_memory(pg, my, res)
        if "process" in only:
            section_process(pg_statements, corpus, args.repeat, res, work)
        if "squawk" in only:
            section_squawk(pg_paths, pg_statements, corpus, args.repeat, res, work)
        if "sqlfluff" in only:
            section_sqlfluff(pg_paths, pg_statements, args.repeat, res, work)
        if "growth" in only:
            section_growth(args.repeat, res, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
        engine_log.removeHandler(handler)
    if "review" in only:
        res.values["rule_failures"] = len(set(handler.messages))
        for message in sorted(set(handler.messages))[:10]:
            res.notes.append(f"rule failure: {message}")

    header = [
        f"Sluice review bench — corpus {corpus}",
        f"PostgreSQL: {len(pg):,} files, {pg_statements:,} statements ({' + '.join(PG_PARTS)}); "
        f"MySQL: {len(my):,} files, {my_statements:,} statements (mysql/)",
        f"Python {sys.version.split()[0]}, sqlglot {tool_version('sqlglot')}"
        f"{' (compiled sqlglotc)' if tool_version('sqlglotc') != 'n/a' else ''}, pglast {pglast.__version__}, "
        f"squawk-cli {tool_version('squawk-cli')}, sqlfluff {tool_version('sqlfluff')}; "
        f"{os.cpu_count()} CPUs; best of {args.repeat}",
        "review engine: " + (f"compiled (mypyc: python -m reviews.build; profile-guided: "
                             f"{native.build_info().get('profile', 'not said')})" if native.COMPILED
                             else f"the Python sources, not the compiled build ({native.WHY_NOT})"),
    ]
    print_table(res, header, args.repeat)
    return 0


if __name__ == "__main__":
    sys.exit(main())
