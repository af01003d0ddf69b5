"""A property test of the runner's promises (design.md §3), on real PostgreSQL, MariaDB and SQLite.

Hypothesis draws a few migration files whose every statement leaves an observable effect
(a `log` row named after the file and statement, a table, an index, a row in a table that
exists only once its cause is fixed, a row that a unique "blocker" keeps out until removed),
then a sequence of what a user does: apply, fix a failing statement's cause, rewrite a failing
file that has no history row, and the repair actions on a `partial` row. After every step the
database must match its history:

- nothing is applied twice (every effect at most once);
- `applied` → every statement's effect; no row → none; `partial k/n` → exactly the first k;
- `history()` says what the table says;
- once every cause is fixed and every partial row resumed, `apply` applies everything, and
  the next `apply` applies nothing.
"""

from __future__ import annotations

import dataclasses
import re
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from releases.loader import checksum, load_dir
from releases.runner import ApplyError, ApplyOptions, PlanError, apply, history, repair
from releases.runner.adapters.base import connect
from releases.runner.target import parse_target

pytestmark = pytest.mark.slow

EXAMPLES = {"sqlite": 100, "postgresql": 80, "mysql": 25}
# Statements that fail until their cause is fixed: a table that does not exist yet, a blocking row.
FAILING = ("missing", "unique", "uindex", "mindex")


@dataclasses.dataclass
class Stmt:
    kind: str  # logtable | log | table | index | missing | unique | uindex | mindex
    file: int
    k: int
    engine: str
    cause_fixed: bool = False  # missing: the table exists now; unique: the blocker is gone

    @property
    def tag(self) -> str:
        return f"f{self.file}:{self.k}"

    @property
    def name(self) -> str:
        return f"{self.file}_{self.k}"

    @property
    def uniq_id(self) -> int:
        return self.file * 100 + self.k

    @property
    def fails(self) -> bool:
        return self.kind in FAILING and not self.cause_fixed

    def sql(self) -> str:
        return {
            "logtable": "CREATE TABLE log (entry varchar(50) NOT NULL)",
            "log": f"INSERT INTO log (entry) VALUES ('{self.tag}')",
            "table": f"CREATE TABLE t_{self.name} (id integer)",
            "index": f"CREATE INDEX CONCURRENTLY idx_{self.name} ON log (entry)",
            "missing": f"INSERT INTO missing_{self.name} (id) VALUES (1)",
            "unique": f"INSERT INTO uniq (id, src) VALUES ({self.uniq_id}, '{self.tag}')",
            # PostgreSQL: fails while dup_<name> holds duplicates, and leaves an INVALID index behind.
            "uindex": f"CREATE UNIQUE INDEX CONCURRENTLY uidx_{self.name} ON dup_{self.name} (v)",
            # DDL that fails (on every engine) until its table exists.
            "mindex": f"CREATE INDEX ix_{self.name} ON mix_{self.name} (id)",
        }[self.kind]

    def undo_sql(self) -> str:
        return {
            "logtable": "DROP TABLE log",
            "log": f"DELETE FROM log WHERE entry = '{self.tag}'",
            "table": f"DROP TABLE t_{self.name}",
            "index": f"DROP INDEX idx_{self.name}",
            "missing": f"DELETE FROM missing_{self.name}",
            "unique": f"DELETE FROM uniq WHERE src = '{self.tag}'",
            "uindex": f"DROP INDEX uidx_{self.name}",
            "mindex": f"DROP INDEX ix_{self.name}" + (f" ON mix_{self.name}" if self.engine == "mysql" else ""),
        }[self.kind]

    def fix_sql(self) -> tuple[str, ...]:
        if self.kind == "missing":
            return (f"CREATE TABLE missing_{self.name} (id integer)",)
        if self.kind == "mindex":
            return (f"CREATE TABLE mix_{self.name} (id integer)",)
        if self.kind == "uindex":
            # The duplicates go, and so does the INVALID index a failed build left behind.
            return (f"DELETE FROM dup_{self.name} WHERE v = 2", f"DROP INDEX IF EXISTS uidx_{self.name}")
        return (f"DELETE FROM uniq WHERE id = {self.uniq_id} AND src = 'blocker'",)

    def setup_sql(self) -> tuple[str, ...]:
        if self.kind == "unique":
            return (f"INSERT INTO uniq (id, src) VALUES ({self.uniq_id}, 'blocker')",)
        if self.kind == "uindex":
            return (f"CREATE TABLE dup_{self.name} (v integer)", f"INSERT INTO dup_{self.name} VALUES (1), (2), (2)")
        return ()


@dataclasses.dataclass
class File:
    number: int
    stmts: list[Stmt]
    transaction_off: bool

    @property
    def version(self) -> str:
        return f"{self.number:04d}"

    @property
    def path(self) -> str:
        return f"{self.version}_step{self.number}.sql"

    def text(self) -> str:
        head = "-- sluice:transaction off\n" if self.transaction_off else ""
        return head + "".join(f"{s.sql()};\n" for s in self.stmts)


# -- what Hypothesis draws --------------------------------------------------------------------

def kinds(engine: str):
    pool = ["log", "log", "log", "table", "missing", "unique", "mindex"]
    pool += ["index", "uindex"] if engine == "postgresql" else []
    return st.sampled_from(pool)


@st.composite
def scenarios(draw, engine: str):
    count = draw(st.integers(2, 6))
    files = []
    for number in range(1, count + 1):
        drawn = draw(st.lists(kinds(engine), min_size=1 if number > 1 else 0, max_size=4 if number > 1 else 3))
        drawn = (["logtable"] if number == 1 else []) + drawn
        off = draw(st.booleans())
        files.append(File(number, [Stmt(kind, number, k, engine) for k, kind in enumerate(drawn, start=1)], off))
    verbs = ["apply", "apply", "fix", "fix", "rewrite", "resume", "resume", "mark-applied", "mark-pending"]
    steps = draw(st.lists(st.tuples(st.sampled_from(verbs), st.integers(0, 7)), max_size=12))
    return files, steps


# -- the database as it is ----------------------------------------------------------------------

def engine_of(url: str) -> str:
    return parse_target(url).engine


def reset(url: str) -> None:
    """An empty database for the next example (the fixture's database, emptied)."""
    engine = engine_of(url)
    if engine == "sqlite":
        path = Path(parse_target(url).database)
        for suffix in ("", "-journal", "-wal", "-shm"):
            Path(str(path) + suffix).unlink(missing_ok=True)
    elif engine == "postgresql":
        run_sql(url, "DROP SCHEMA public CASCADE", "CREATE SCHEMA public")
    else:
        name = parse_target(url).database
        import pymysql

        conn = pymysql.connect(host="127.0.0.1", port=3306, user="root", password="", autocommit=True)
        try:
            with conn.cursor() as cur:
                cur.execute(f"DROP DATABASE `{name}`")
                cur.execute(f"CREATE DATABASE `{name}`")
        finally:
            conn.close()


def run_sql(url: str, *statements: str) -> None:
    """The operator's own statements, outside Sluice, each committed on its own."""
    adapter = connect(parse_target(url))
    try:
        for statement in statements:
            adapter.execute(statement)
    finally:
        adapter.close()


@dataclasses.dataclass
class Snapshot:
    tables: set[str]
    log: list[str]
    uniq: list[str]  # src of the rows that are not blockers
    missing_rows: dict[str, int]  # missing_<name> → rows
    indexes: set[str]
    rows: dict[str, tuple]  # version → (status, done, total, checksum)

    def count(self, stmt: Stmt) -> int:
        """How many times the statement's effect is present (0, 1, or more: applied twice)."""
        if stmt.kind == "logtable":
            return int("log" in self.tables)
        if stmt.kind == "log":
            return self.log.count(stmt.tag)
        if stmt.kind == "table":
            return int(f"t_{stmt.name}" in self.tables)
        if stmt.kind == "index":
            return int(f"idx_{stmt.name}" in self.indexes)
        if stmt.kind == "uindex":
            return int(f"uidx_{stmt.name}" in self.indexes)
        if stmt.kind == "mindex":
            return int(f"ix_{stmt.name}" in self.indexes)
        if stmt.kind == "missing":
            return self.missing_rows.get(f"missing_{stmt.name}", 0)
        return self.uniq.count(stmt.tag)


def snapshot(url: str) -> Snapshot:
    engine = engine_of(url)
    adapter = connect(parse_target(url))
    try:
        if engine == "sqlite":
            tables = {r[0] for r in adapter.query("SELECT name FROM sqlite_master WHERE type = 'table'")}
            indexes = {r[0] for r in adapter.query("SELECT name FROM sqlite_master WHERE type = 'index'")}
        elif engine == "postgresql":
            tables = {r[0] for r in adapter.query("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}
            indexes = {r[0] for r in adapter.query(
                "SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
                "WHERE i.indisvalid")}
        else:
            tables = {r[0] for r in adapter.query(
                "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE()")}
            indexes = {r[0] for r in adapter.query(
                "SELECT INDEX_NAME FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE()")}
        log = [r[0] for r in adapter.query("SELECT entry FROM log")] if "log" in tables else []
        uniq = [r[0] for r in adapter.query("SELECT src FROM uniq WHERE src <> 'blocker'")]
        missing_rows = {t: adapter.query(f"SELECT count(*) FROM {t}")[0][0]
                        for t in tables if t.startswith("missing_")}
        rows = {}
        if "sluice_schema_history" in tables:
            rows = {r[0]: tuple(r[1:]) for r in adapter.query(
                "SELECT version, status, statements_done, statements_total, checksum FROM sluice_schema_history")}
    finally:
        adapter.close()
    return Snapshot(tables, log, uniq, missing_rows, indexes, rows)


# -- the promises ---------------------------------------------------------------------------------

def check(url: str, files: list[File], trace: list[str]) -> Snapshot:
    snap = snapshot(url)
    where = "\n  after: " + " → ".join(trace) + "\n  files:\n" + "\n".join(
        f"    {f.path}:\n" + "".join(f"      {line}\n" for line in f.text().splitlines()) for f in files)
    where += f"  history: {snap.rows}\n  log: {sorted(snap.log)}\n  uniq: {snap.uniq}\n"
    where += f"  tables: {sorted(snap.tables)}\n  indexes: {sorted(snap.indexes)}\n"

    # history() and the table agree.
    listed = {r.version: (r.status, r.statements_done, r.statements_total, r.checksum) for r in history(url)} \
        if snap.rows or "sluice_schema_history" in snap.tables else {}
    assert listed == snap.rows, f"history() says {listed}, the table {snap.rows}" + where

    # Nothing applied twice, and no effect from nowhere.
    tags = {s.tag for f in files for s in f.stmts}
    for entry in snap.log + snap.uniq:
        assert entry in tags, f"a row {entry!r} that no statement writes" + where
    for f in files:
        for s in f.stmts:
            assert snap.count(s) <= 1, f"{f.path} statement {s.k} ({s.sql()}) took effect {snap.count(s)} times" + where

    for f in files:
        row = snap.rows.get(f.version)
        present = [snap.count(s) for s in f.stmts]
        if row is None:
            assert present == [0] * len(f.stmts), f"{f.path} has no history row but effects {present}" + where
            continue
        status, done, total, chk = row
        assert total == len(f.stmts), f"{f.path}: history says {total} statements, the file has {len(f.stmts)}" + where
        if status == "applied":
            assert done == total, f"{f.path}: applied with {done} of {total} done" + where
            assert chk == checksum(f.text()), f"{f.path}: applied under another checksum" + where
            assert present == [1] * total, f"{f.path} is applied but its effects are {present}" + where
        else:
            assert status == "partial", f"{f.path}: unexpected status {status!r}" + where
            expected = [1] * done + [0] * (total - done)
            assert present == expected, f"{f.path} is partial {done}/{total} but its effects are {present}" + where
    return snap


# -- what the user does ---------------------------------------------------------------------------

def check_error_state(url: str, f: File, exc: ApplyError) -> None:
    """What the error says the history holds is what it holds."""
    row = snapshot(url).rows.get(f.version)
    said = re.search(r"History: partial, (\d+) of (\d+) statements done", exc.state)
    if said:
        assert row is not None and row[:3] == ("partial", int(said[1]), int(said[2])), (
            f"the error says {said[0]!r}, the history holds {row}: {exc}")
    else:
        assert "no history row" in exc.state and row is None, f"the error says {exc.state!r}, the history {row}"


def write(folder: Path, f: File) -> None:
    (folder / f.path).write_text(f.text(), encoding="utf-8")


def do_apply(url: str, folder: Path, files: list[File], before: Snapshot, trace: list[str]) -> None:
    try:
        report = apply(url, load_dir(folder), ApplyOptions(applied_by="property test", lock_wait_seconds=30))
    except PlanError as exc:
        trace.append("apply: PlanError")
        partial = [v for v, row in before.rows.items() if row[0] == "partial"]
        assert partial, f"PlanError without a partial row: {exc}\n  history: {before.rows}"
        after = snapshot(url).rows
        assert after == before.rows, f"a refused plan changed the history from {before.rows} to {after}"
        return
    except ApplyError as exc:
        trace.append(f"apply: ApplyError {exc.file} statement {exc.index}")
        failed = next(f for f in files if f.path == exc.file)
        stmt = failed.stmts[exc.index - 1]
        assert stmt.fails, f"{exc.file} statement {exc.index} ({stmt.sql()}) failed but should not: {exc}"
        check_error_state(url, failed, exc)
        # In order: the files before it are applied, the ones after it untouched.
        rows = snapshot(url).rows
        for f in files:
            if f.number < failed.number:
                assert rows.get(f.version, ("",))[0] == "applied", f"{f.path} before the failure: {rows}"
            elif f.number > failed.number:
                assert f.version not in rows, f"{f.path} after the failure has a row: {rows}"
        return
    trace.append("apply: ok " + ",".join(o.version for o in report.applied))
    applied = {r.version for r in report.history or [] if r.status == "applied"}
    assert applied == {f.version for f in files}, f"apply returned without an error, but the history is {report.history}"
    pending = {f.version for f in files if f.version not in before.rows}
    assert {o.version for o in report.applied} == pending, f"pending {pending}, the run applied {report.applied}"


def partial_files(files: list[File], snap: Snapshot) -> list[File]:
    return [f for f in files if snap.rows.get(f.version, ("",))[0] == "partial"]


def step(url: str, folder: Path, files: list[File], verb: str, pick: int, snap: Snapshot, trace: list[str]) -> None:
    if verb == "fix":
        broken = [s for f in files for s in f.stmts if s.fails]
        if broken:
            stmt = broken[pick % len(broken)]
            run_sql(url, *stmt.fix_sql())
            stmt.cause_fixed = True
            trace.append(f"fix cause of f{stmt.file} statement {stmt.k}")
            return
    if verb == "rewrite":
        # Only a file that has no history row may be edited (an applied or partial one may not).
        broken = [f for f in files if f.version not in snap.rows and any(s.fails for s in f.stmts)]
        if broken:
            f = broken[pick % len(broken)]
            for s in f.stmts:
                if s.fails:
                    s.kind = "log"
            write(folder, f)
            trace.append(f"rewrite {f.path}")
            return
    if verb in ("resume", "mark-applied", "mark-pending"):
        partial = partial_files(files, snap)
        if partial:
            f = partial[pick % len(partial)]
            done = snap.rows[f.version][1]
            if verb == "mark-applied":
                # The operator finishes the file by hand, then records it.
                for s in f.stmts[done:]:
                    if s.fails:
                        run_sql(url, *s.fix_sql())
                        s.cause_fixed = True
                    run_sql(url, s.sql())
            elif verb == "mark-pending":
                # The operator undoes what the file did, then forgets the row.
                run_sql(url, *(s.undo_sql() for s in reversed(f.stmts[:done])))
            try:
                message = repair(url, f.version, verb, load_dir(folder), applied_by="property test",
                                 lock_wait_seconds=30)
            except PlanError as exc:
                # Resume refuses to build over the INVALID index a failed build left (fix drops it).
                nxt = f.stmts[done]
                assert verb == "resume" and nxt.kind == "uindex" and nxt.fails and "is INVALID" in str(exc), exc
                trace.append(f"{verb} {f.version}: PlanError (invalid index)")
                return
            except ApplyError as exc:
                assert verb == "resume", exc
                stmt = f.stmts[exc.index - 1]
                assert stmt.fails, f"{exc.file} statement {exc.index} ({stmt.sql()}) failed but should not: {exc}"
                check_error_state(url, f, exc)
                trace.append(f"{verb} {f.version}: ApplyError statement {exc.index}")
                return
            trace.append(f"{verb} {f.version} (was partial {done})")
            assert f.version in message
            return
    do_apply(url, folder, files, snap, trace)


def label(entry: str) -> str:
    """A step's kind and outcome, counted by --hypothesis-show-statistics."""
    outcome = next((e for e in ("ApplyError", "PlanError") if e in entry), "ok")
    return f"{entry.split(' ')[0].rstrip(':')} {outcome}"


def run_scenario(url: str, files: list[File], steps: list[tuple[str, int]]) -> None:
    reset(url)
    run_sql(url, "CREATE TABLE uniq (id integer PRIMARY KEY, src varchar(50) NOT NULL)",
            *(sql for f in files for s in f.stmts for sql in s.setup_sql()))
    with tempfile.TemporaryDirectory(prefix="sluice-prop-") as tmp:
        folder = Path(tmp)
        for f in files:
            write(folder, f)
        trace: list[str] = []
        snap = check(url, files, trace)
        for verb, pick in steps:
            step(url, folder, files, verb, pick, snap, trace)
            event(label(trace[-1]))
            snap = check(url, files, trace)

        # The end: every cause fixed, every partial row resumed; then everything is applied, once.
        for f in files:
            for s in f.stmts:
                if s.fails:
                    run_sql(url, *s.fix_sql())
                    s.cause_fixed = True
        trace.append("fix every cause")
        for f in partial_files(files, snap):
            repair(url, f.version, "resume", load_dir(folder), applied_by="property test")
            trace.append(f"resume {f.version}")
            event("final resume")
            snap = check(url, files, trace)
        do_apply(url, folder, files, snap, trace)
        snap = check(url, files, trace)
        assert {v: row[0] for v, row in snap.rows.items()} == {f.version: "applied" for f in files}, trace
        again = apply(url, load_dir(folder), ApplyOptions(applied_by="property test"))
        assert again.applied == [] and [o.action for o in again.outcomes] == ["skipped"] * len(files), again
        check(url, files, trace + ["apply again"])


def make_test(engine: str):
    @settings(max_examples=EXAMPLES[engine], derandomize=True, deadline=None, database=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
    @given(scenario=scenarios(engine))
    def test(scenario, request):
        url = request.getfixturevalue({"postgresql": "pg_url", "mysql": "mysql_url", "sqlite": "sqlite_url"}[engine])
        files, steps = scenario
        run_scenario(url, files, steps)

    return test


test_runner_promises_hold_on_sqlite = make_test("sqlite")
test_runner_promises_hold_on_postgresql = make_test("postgresql")
test_runner_promises_hold_on_mysql = make_test("mysql")
