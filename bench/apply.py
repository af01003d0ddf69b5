#!/usr/bin/env python
"""Benchmark: how fast does Sluice apply (and re-apply) N small migration files?

Compares, each on a fresh throwaway PostgreSQL database (sluice_bench_<random>, always dropped
unless --keep):

  floor      one psql process running all files, each in its own BEGIN/COMMIT (and, for
             reference, the whole lot in one transaction)
  psql-each  one `psql -1 -f` process per file (first --sample files, scaled ×N/sample, or all
             with --full)
  yoyo       yoyo-migrations applying the folder, then re-running with nothing to do (whole
             processes; skipped with a message when yoyo is not installed)
  sluice     `manage.py apply` (whole process) and `releases.runner.apply` (in-process), apply
             and re-run; the queries of a re-run are counted
  sqlite     Sluice apply and re-run on a temporary SQLite file, process and in-process

Plain stdlib; run it with the project's interpreter:  .venv/bin/python bench/apply.py [--n 1000]
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent  # the project root (where manage.py is)
MANAGE = ROOT / "manage.py"
SECTIONS = ("floor", "psql-each", "yoyo", "sluice", "sqlite")
COUNT_MARK = "SLUICE_BENCH_COUNTS "

# Run manage.py with psycopg / sqlite3 instrumented: counts every statement and connection the
# whole process sends, printed on stderr at exit. Used for untimed counting runs only.
COUNTING_BOOT = r"""
import atexit, json, runpy, sys
counts = {"pg_queries": 0, "pg_connects": 0, "sqlite_statements": 0, "sqlite_connects": 0}
try:
    import psycopg
    _execute = psycopg.Cursor.execute
    def _counted_execute(self, *a, **k):
        counts["pg_queries"] += 1
        return _execute(self, *a, **k)
    psycopg.Cursor.execute = _counted_execute
    _connect = psycopg.connect
    def _counted_connect(*a, **k):
        counts["pg_connects"] += 1
        return _connect(*a, **k)
    psycopg.connect = _counted_connect
except ImportError:
    pass
import sqlite3, sqlite3.dbapi2
_sq_connect = sqlite3.connect
def _sq_counted_connect(*a, **k):
    counts["sqlite_connects"] += 1
    conn = _sq_connect(*a, **k)
    def trace(_stmt):
        counts["sqlite_statements"] += 1
    conn.set_trace_callback(trace)
    return conn
sqlite3.connect = sqlite3.dbapi2.connect = _sq_counted_connect
atexit.register(lambda: sys.stderr.write("COUNT_MARK" + json.dumps(counts) + "\n"))
root = sys.argv[1]
sys.path.insert(0, root)
sys.argv = ["manage.py", *sys.argv[2:]]
runpy.run_path(root + "/manage.py", run_name="__main__")
""".replace("COUNT_MARK", COUNT_MARK)


class BenchError(Exception):
    pass


# ---------------------------------------------------------------------------------------------
# migration files


def migration_sql(i: int, width: int) -> str:
    t = f"t{i:0{width}d}"
    lines = [
        f"-- bench migration {i}: table {t}",
        f"CREATE TABLE {t} (id bigint PRIMARY KEY, name text NOT NULL);",
        f"ALTER TABLE {t} ADD COLUMN created_at timestamptz;",
        f"INSERT INTO {t} (id, name) VALUES (1, 'a'), (2, 'b'), (3, 'c');",
    ]
    if i % 3 == 0:  # every third file has a fourth statement
        lines.append(f"UPDATE {t} SET created_at = '2025-01-01 00:00:00+00' WHERE id = 1;")
    return "\n".join(lines) + "\n"


def generate(folder: Path, n: int) -> list[Path]:
    """N files named <version>_create_t<version>.sql; zero-padded so that name order is version
    order (yoyo orders by file name, Sluice numerically): the same folder serves both."""
    width = max(4, len(str(n)))
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(1, n + 1):
        path = folder / f"{i:0{width}d}_create_t{i:0{width}d}.sql"
        path.write_text(migration_sql(i, width), encoding="utf-8")
        paths.append(path)
    return paths


# ---------------------------------------------------------------------------------------------
# PostgreSQL helpers (psql only: the bench itself needs no driver)


class Postgres:
    def __init__(self, base_url: str, keep: bool):
        self.base_url = base_url.rstrip("/")  # postgresql://user@host:port (no database)
        self.keep = keep
        self.created: list[str] = []

    def url(self, db: str) -> str:
        return f"{self.base_url}/{db}"

    def psql(self, db: str, *args: str, check: bool = True, capture: bool = True) -> str:
        cmd = ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", self.url(db), *args]
        proc = subprocess.run(cmd, capture_output=capture, text=True)
        if check and proc.returncode != 0:
            raise BenchError(f"psql failed ({' '.join(cmd)}):\n{proc.stderr}")
        return proc.stdout if capture else ""

    def scalar(self, db: str, sql: str) -> str:
        return self.psql(db, "-At", "-c", sql).strip()

    def create(self, label: str) -> str:
        name = f"sluice_bench_{secrets.token_hex(4)}_{label.replace('-', '_')}"
        self.created.append(name)
        self.psql("postgres", "-c", f'CREATE DATABASE "{name}"')
        return name

    def drop(self, name: str) -> None:
        if self.keep:
            return
        self.psql("postgres", "-c", f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', check=False)
        if name in self.created:
            self.created.remove(name)

    def drop_all(self) -> None:
        for name in list(self.created):
            self.drop(name)

    def stats(self, db: str) -> dict[str, int]:
        """Server-side counters of one database, read from the maintenance database (so the
        reading session does not count), after the database's backends have exited."""
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            busy = self.scalar("postgres", f"SELECT numbackends FROM pg_stat_database WHERE datname = '{db}'")
            if busy in ("0", ""):
                break
            time.sleep(0.05)
        time.sleep(0.3)  # a backend flushes its statistics as it exits
        row = self.scalar(
            "postgres",
            f"SELECT xact_commit, xact_rollback, sessions FROM pg_stat_database WHERE datname = '{db}'",
        )
        commit, rollback, sessions = (int(x) for x in row.split("|"))
        return {"xact_commit": commit, "xact_rollback": rollback, "sessions": sessions}


def delta(after: dict[str, int], before: dict[str, int]) -> dict[str, int]:
    return {k: after[k] - before[k] for k in after}


# ---------------------------------------------------------------------------------------------
# timing


def run_timed(cmd: list[str], *, cwd: Path, log: Path, env: dict | None = None) -> float:
    with open(log, "w") as out:
        start = time.perf_counter()
        proc = subprocess.run(cmd, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, env=env)
        elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        tail = log.read_text(errors="replace")[-3000:]
        raise BenchError(f"exit {proc.returncode}: {' '.join(map(str, cmd))}\n{tail}")
    return elapsed


class Results:
    """Rows in first-seen order; with --repeat, a key measured several times keeps every sample
    and shows the best (minimum), with the spread in its note."""

    def __init__(self) -> None:
        self.rows: dict[str, list] = {}  # key -> [what, [samples], note]
        self.extra: dict[str, float] = {}
        self.notes: list[str] = []

    def add(self, key: str, what: str, seconds: float | None, note: str = "") -> None:
        row = self.rows.setdefault(key, [what, [], note])
        if seconds is not None:
            row[1].append(seconds)
        print(f"  {what}: {'-' if seconds is None else f'{seconds:.2f}s'} {note}", flush=True)

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)

    @property
    def values(self) -> dict[str, float]:
        return {key: min(samples) for key, (_, samples, _) in self.rows.items() if samples}

    def table_rows(self) -> list[tuple[str, float | None, str]]:
        out = []
        for what, samples, note in self.rows.values():
            if len(samples) > 1:
                spread = f"[best of {len(samples)}: " + ", ".join(f"{x:.2f}" for x in samples) + "]"
                note = f"{spread} {note}".strip()
            out.append((what, min(samples) if samples else None, note))
        return out


# ---------------------------------------------------------------------------------------------
# the measurements


def bench_floor(pg: Postgres, files: list[Path], work: Path, res: Results) -> None:
    per_file = work / "floor_per_file.sql"
    one_tx = work / "floor_one_tx.sql"
    bodies = [p.read_text(encoding="utf-8") for p in files]
    per_file.write_text("".join(f"BEGIN;\n{b}COMMIT;\n" for b in bodies), encoding="utf-8")
    one_tx.write_text("BEGIN;\n" + "".join(bodies) + "COMMIT;\n", encoding="utf-8")
    for key, path, what in (
        ("floor", per_file, f"floor: 1 psql process, {len(files)} x BEGIN/COMMIT"),
        ("floor_1tx", one_tx, "floor (ref): 1 psql process, 1 transaction"),
    ):
        db = pg.create(key)
        try:
            cmd = ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", pg.url(db), "-f", str(path)]
            seconds = run_timed(cmd, cwd=work, log=work / f"{key}.log")
            check_tables(pg, db, len(files))
            res.add(key, what, seconds)
        finally:
            pg.drop(db)


def bench_psql_each(pg: Postgres, files: list[Path], work: Path, res: Results, sample: int, full: bool) -> None:
    run = files if full or sample >= len(files) else files[:sample]
    db = pg.create("psql_each")
    try:
        start = time.perf_counter()
        for path in run:
            cmd = ["psql", "-X", "-q", "-1", "-v", "ON_ERROR_STOP=1", "-d", pg.url(db), "-f", str(path)]
            proc = subprocess.run(cmd, capture_output=True, text=True)
            if proc.returncode != 0:
                raise BenchError(f"psql -f {path.name} failed:\n{proc.stderr}")
        elapsed = time.perf_counter() - start
        check_tables(pg, db, len(run))
        if len(run) == len(files):
            res.add("psql_each", f"psql -1 -f, 1 process per file ({len(files)} processes)", elapsed)
        else:
            scaled = elapsed * len(files) / len(run)
            res.add("psql_each", "psql -1 -f, 1 process per file (scaled)", scaled,
                    f"[ran first {len(run)} files in {elapsed:.2f}s, x{len(files)}/{len(run)}]")
    finally:
        pg.drop(db)


def yoyo_available() -> str | None:
    """yoyo's version, or None when it is not installed in this environment."""
    if importlib.util.find_spec("yoyo") is None:
        return None
    try:
        from importlib.metadata import version

        return version("yoyo-migrations")
    except Exception:
        return "unknown"


def yoyo_url(pg: Postgres, db: str) -> str:
    # yoyo's postgresql:// backend needs psycopg2; postgresql+psycopg:// uses psycopg 3.
    scheme = "postgresql" if importlib.util.find_spec("psycopg2") else "postgresql+psycopg"
    return pg.url(db).replace("postgresql://", f"{scheme}://", 1)


def bench_yoyo(pg: Postgres, folder: Path, n: int, work: Path, res: Results) -> None:
    version = yoyo_available()
    if version is None:
        msg = (f"yoyo-migrations is NOT installed in {sys.executable}'s environment: yoyo rows skipped "
               f"(install it with `{sys.executable} -m pip install yoyo-migrations`)")
        print("  " + msg)
        res.note(msg)
        res.add("yoyo_apply", "yoyo apply (process)", None, "[skipped: not installed]")
        res.add("yoyo_rerun", "yoyo re-run, nothing to do (process)", None, "[skipped: not installed]")
        return
    if not importlib.util.find_spec("psycopg2") and not importlib.util.find_spec("psycopg"):
        raise BenchError("yoyo needs psycopg2 or psycopg (3) for PostgreSQL; neither is installed")
    db = pg.create("yoyo")
    try:
        cmd = [sys.executable, "-m", "yoyo", "apply", "--batch", "--no-config-file",
               "--database", yoyo_url(pg, db), str(folder)]
        before = pg.stats(db)
        seconds = run_timed(cmd, cwd=work, log=work / "yoyo_apply.log")
        d1 = delta(pg.stats(db), before)
        applied = int(pg.scalar(db, "SELECT count(*) FROM _yoyo_migration"))
        if applied != n:
            raise BenchError(f"yoyo recorded {applied} migrations, expected {n}")
        check_tables(pg, db, n)
        res.add("yoyo_apply", f"yoyo {version} apply (process)", seconds,
                f"[server: {d1['xact_commit']} commits, {d1['sessions']} sessions]")
        before = pg.stats(db)
        seconds = run_timed(cmd, cwd=work, log=work / "yoyo_rerun.log")
        d2 = delta(pg.stats(db), before)
        res.add("yoyo_rerun", f"yoyo {version} re-run, nothing to do (process)", seconds,
                f"[server: {d2['xact_commit']} commits, {d2['sessions']} sessions]")
    finally:
        pg.drop(db)


def check_tables(pg: Postgres, db: str, expected: int) -> None:
    got = int(pg.scalar(db, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tablename ~ '^t[0-9]+$'"))
    if got != expected:
        raise BenchError(f"{db}: {got} bench tables, expected {expected}")


def manage_apply(url: str, folder: Path) -> list[str]:
    return [sys.executable, str(MANAGE), "apply", "--target", url, "--dir", str(folder)]


def counted_process(url: str, folder: Path, work: Path, log_name: str) -> dict[str, int]:
    """An untimed instrumented `manage.py apply`: the statements and connections it sends."""
    cmd = [sys.executable, "-c", COUNTING_BOOT, str(ROOT), "apply", "--target", url, "--dir", str(folder)]
    log = work / log_name
    run_timed(cmd, cwd=ROOT, log=log)
    for line in log.read_text(errors="replace").splitlines():
        if line.startswith(COUNT_MARK):
            return json.loads(line[len(COUNT_MARK):])
    raise BenchError(f"no counts in {log}")


class InProcessCounter:
    """Counts psycopg statements and connections, and sqlite3 statements, in this process."""

    def __init__(self) -> None:
        self.counts = {"pg_queries": 0, "pg_connects": 0, "sqlite_statements": 0}

    def __enter__(self):
        import sqlite3

        import psycopg

        counts = self.counts
        self._saved = (psycopg.Cursor.execute, psycopg.connect, sqlite3.connect)
        execute, connect, sq_connect = self._saved

        def counted_execute(cur, *a, **k):
            counts["pg_queries"] += 1
            return execute(cur, *a, **k)

        def counted_connect(*a, **k):
            counts["pg_connects"] += 1
            return connect(*a, **k)

        def counted_sq_connect(*a, **k):
            conn = sq_connect(*a, **k)
            conn.set_trace_callback(lambda _s: counts.__setitem__("sqlite_statements", counts["sqlite_statements"] + 1))
            return conn

        psycopg.Cursor.execute = counted_execute
        psycopg.connect = counted_connect
        sqlite3.connect = counted_sq_connect
        return self

    def __exit__(self, *exc):
        import sqlite3

        import psycopg

        psycopg.Cursor.execute, psycopg.connect, sqlite3.connect = self._saved
        return False


def import_sluice():
    """Import the runner in this process (outside any timing); the splitter too, which the
    runner otherwise imports on its first file."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from releases.loader import load_dir
    from releases.runner import ApplyOptions, apply

    start = time.perf_counter()
    try:
        import reviews.splitter  # noqa: F401
    except ImportError as exc:
        raise BenchError(f"cannot import reviews.splitter (the runner's statement splitter): {exc}") from None
    return load_dir, apply, ApplyOptions, time.perf_counter() - start


def inprocess_apply(url: str, folder: Path, n: int, expect: str) -> tuple[float, dict[str, int]]:
    load_dir, apply, ApplyOptions, _ = import_sluice()
    with InProcessCounter() as counter:
        start = time.perf_counter()
        report = apply(url, load_dir(folder), ApplyOptions())
        elapsed = time.perf_counter() - start
    got = sum(1 for o in report.outcomes if o.action == expect)
    if got != n:
        actions = {}
        for o in report.outcomes:
            actions[o.action] = actions.get(o.action, 0) + 1
        raise BenchError(f"in-process apply: expected {n} {expect}, got {actions}")
    return elapsed, counter.counts


def check_history(pg: Postgres, db: str, n: int) -> None:
    got = int(pg.scalar(db, "SELECT count(*) FROM sluice_schema_history WHERE status = 'applied'"))
    if got != n:
        raise BenchError(f"{db}: {got} applied history rows, expected {n}")


def bench_sluice(pg: Postgres, folder: Path, n: int, work: Path, res: Results) -> None:
    # whole process: manage.py apply, then the re-run
    db = pg.create("sluice_proc")
    try:
        url = pg.url(db)
        before = pg.stats(db)
        seconds = run_timed(manage_apply(url, folder), cwd=ROOT, log=work / "sluice_apply.log")
        d1 = delta(pg.stats(db), before)
        check_history(pg, db, n)
        check_tables(pg, db, n)
        res.add("sluice_apply_proc", "Sluice apply (process: manage.py apply)", seconds,
                f"[server: {d1['xact_commit']} commits, {d1['sessions']} sessions]")
        before = pg.stats(db)
        seconds = run_timed(manage_apply(url, folder), cwd=ROOT, log=work / "sluice_rerun.log")
        d2 = delta(pg.stats(db), before)
        res.add("sluice_rerun_proc", "Sluice re-run, nothing to do (process)", seconds,
                f"[server: {d2['xact_commit']} commits, {d2['sessions']} sessions]")
        counts = counted_process(url, folder, work, "sluice_rerun_counted.log")
        res.note(
            f"Sluice PostgreSQL re-run, whole process (instrumented, untimed run): "
            f"{counts['pg_queries']} PostgreSQL statements over {counts['pg_connects']} connection(s), "
            f"{counts['sqlite_statements']} SQLite statements over {counts['sqlite_connects']} connection(s) "
            f"(control database)"
        )
    finally:
        pg.drop(db)
    # in-process: releases.runner.apply(url, load_dir(folder))
    db = pg.create("sluice_lib")
    try:
        url = pg.url(db)
        seconds, counts = inprocess_apply(url, folder, n, "applied")
        check_history(pg, db, n)
        res.add("sluice_apply_lib", "Sluice apply (in-process: load_dir + apply)", seconds,
                f"[{counts['pg_queries']} statements = {counts['pg_queries'] / n:.2f}/file, "
                f"{counts['pg_connects']} connections]")
        seconds, counts = inprocess_apply(url, folder, n, "skipped")
        res.add("sluice_rerun_lib", "Sluice re-run, nothing to do (in-process)", seconds,
                f"[{counts['pg_queries']} statements, {counts['pg_connects']} connection(s)]")
    finally:
        pg.drop(db)


def bench_sqlite(folder: Path, files: list[Path], n: int, work: Path, res: Results) -> None:
    import sqlite3

    # reference: the same files through Python's sqlite3, one BEGIN/COMMIT each
    path = work / "floor.sqlite3"
    conn = sqlite3.connect(path, isolation_level=None)
    bodies = [p.read_text(encoding="utf-8") for p in files]
    start = time.perf_counter()
    for body in bodies:
        conn.executescript(f"BEGIN;\n{body}COMMIT;\n")
    elapsed = time.perf_counter() - start
    conn.close()
    res.add("sqlite_floor", f"SQLite floor (ref): python sqlite3, {n} x BEGIN/COMMIT", elapsed)

    db_file = work / "sluice_proc.sqlite3"
    url = f"sqlite:///{db_file}"  # sqlite:////abs/path: work is absolute
    seconds = run_timed(manage_apply(url, folder), cwd=ROOT, log=work / "sqlite_apply.log")
    res.add("sqlite_apply_proc", "Sluice SQLite apply (process)", seconds)
    seconds = run_timed(manage_apply(url, folder), cwd=ROOT, log=work / "sqlite_rerun.log")
    res.add("sqlite_rerun_proc", "Sluice SQLite re-run, nothing to do (process)", seconds)

    url = f"sqlite:///{work / 'sluice_lib.sqlite3'}"
    seconds, counts = inprocess_apply(url, folder, n, "applied")
    res.add("sqlite_apply_lib", "Sluice SQLite apply (in-process)", seconds,
            f"[{counts['sqlite_statements']} statements = {counts['sqlite_statements'] / n:.2f}/file]")
    seconds, counts = inprocess_apply(url, folder, n, "skipped")
    res.add("sqlite_rerun_lib", "Sluice SQLite re-run, nothing to do (in-process)", seconds,
            f"[{counts['sqlite_statements']} statements]")


# ---------------------------------------------------------------------------------------------
# report


def ratio_lines(res: Results) -> list[str]:
    v = res.values
    lines = []

    def line(label: str, num: str, den: str, target: float | None) -> None:
        if num not in v or den not in v or not v[den]:
            verdict = "" if target is None else f"target <= {target:g}  "
            lines.append(f"  {label:<58} {'n/a':>7}   {verdict}(not measured)")
            return
        r = v[num] / v[den]
        verdict = "" if target is None else (f"target <= {target:g}  " + ("PASS" if r <= target else "FAIL"))
        lines.append(f"  {label:<58} {r:>7.2f}   {verdict}")

    line("Sluice apply (process) / floor", "sluice_apply_proc", "floor", 1.5)
    line("Sluice apply (in-process) / floor", "sluice_apply_lib", "floor", None)
    line("Sluice apply (process) / yoyo apply", "sluice_apply_proc", "yoyo_apply", None)
    line("Sluice re-run (process) / yoyo re-run", "sluice_rerun_proc", "yoyo_rerun", 3.0)
    line("Sluice apply (process) / psql per file", "sluice_apply_proc", "psql_each", None)
    line("Sluice SQLite apply (process) / SQLite floor", "sqlite_apply_proc", "sqlite_floor", None)
    return lines


def print_table(res: Results, header: list[str]) -> None:
    rows = res.table_rows()
    width = max([len(w) for w, _, _ in rows] + [40])
    print()
    for h in header:
        print(h)
    print(f"  {'what':<{width}} {'wall s':>8}  notes")
    print(f"  {'-' * width} {'-' * 8}  -----")
    for what, seconds, note in rows:
        shown = "skipped" if seconds is None else f"{seconds:.3f}"
        print(f"  {what:<{width}} {shown:>8}  {note}")
    print()
    print("  ratios")
    for line in ratio_lines(res):
        print(line)
    if res.notes:
        print()
        for note in res.notes:
            print(f"  note: {note}")


# ---------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=1000, help="number of migration files (default 1000)")
    parser.add_argument("--only", default=",".join(SECTIONS),
                        help=f"comma-separated sections to run (default all: {','.join(SECTIONS)})")
    parser.add_argument("--keep", action="store_true", help="keep the databases and the temp folder")
    parser.add_argument("--full", action="store_true", help="psql-each: run all files instead of a sample")
    parser.add_argument("--sample", type=int, default=200, help="psql-each: files to run when not --full")
    parser.add_argument("--repeat", type=int, default=1,
                        help="run every measurement R times (interleaved) and report the best (default 1)")
    parser.add_argument("--pg", default=os.environ.get("SLUICE_BENCH_PG", "postgresql://postgres@127.0.0.1:5432"),
                        help="PostgreSQL server URL without a database (default postgresql://postgres@127.0.0.1:5432)")
    args = parser.parse_args(argv)
    only = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = set(only) - set(SECTIONS)
    if unknown:
        parser.error(f"--only: unknown section(s) {', '.join(sorted(unknown))}; choose from {', '.join(SECTIONS)}")
    if args.n < 1:
        parser.error("--n must be at least 1")
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    if not MANAGE.exists():
        parser.error(f"no manage.py at {MANAGE}: bench/apply.py must stay in the project's bench/ folder")
    if any(s != "sqlite" for s in only) and shutil.which("psql") is None:
        parser.error("psql is not on PATH")

    # SIGTERM/SIGHUP: unwind through the finally below so the databases are dropped.
    def stop(signum, _frame):
        raise SystemExit(128 + signum)

    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, stop)

    pg = Postgres(args.pg, keep=args.keep)
    work = Path(tempfile.mkdtemp(prefix="sluice_bench_")).resolve()
    res = Results()
    try:
        folder = work / "migrations"
        files = generate(folder, args.n)
        print(f"Generated {args.n} migration files in {folder} "
              f"(3 statements each, a 4th in every third file)", flush=True)
        if "sluice" in only or "sqlite" in only:
            _, _, _, splitter_import = import_sluice()
            res.note(f"in-process rows: the runner and reviews.splitter are imported beforehand "
                             f"(reviews.splitter import took {splitter_import * 1000:.0f} ms)")
        pg_version = ""
        if any(s != "sqlite" for s in only):
            pg_version = pg.scalar("postgres", "SHOW server_version")
        for round_ in range(1, args.repeat + 1):
            if args.repeat > 1:
                print(f"round {round_} of {args.repeat}", flush=True)
            if "floor" in only:
                bench_floor(pg, files, work, res)
            if "psql-each" in only:
                bench_psql_each(pg, files, work, res, args.sample, args.full)
            if "yoyo" in only:
                bench_yoyo(pg, folder, args.n, work, res)
            if "sluice" in only:
                bench_sluice(pg, folder, args.n, work, res)
            if "sqlite" in only:
                for leftover in work.glob("*.sqlite3"):
                    leftover.unlink()
                bench_sqlite(folder, files, args.n, work, res)
        yoyo = yoyo_available()
        header = [
            f"Sluice apply bench: N={args.n} files, PostgreSQL {pg_version or 'n/a'} at {args.pg}, "
            f"Python {sys.version.split()[0]} ({sys.executable}), "
            f"yoyo-migrations {yoyo or 'not installed'}",
        ]
        print_table(res, header)
        return 0
    except BenchError as exc:
        print(f"\nbench failed: {exc}", file=sys.stderr)
        if res.rows:
            print_table(res, ["(partial results)"])
        return 1
    finally:
        if args.keep:
            print(f"\n--keep: databases kept: {', '.join(pg.created) or 'none'}; files kept in {work}")
        else:
            with contextlib.suppress(Exception):
                pg.drop_all()
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
