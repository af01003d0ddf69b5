"""Plan and apply migration files on one database (design.md §3).

The guarantees, in order of importance:
- a file is applied at most once: the target's `sluice_schema_history` is the source of truth,
  one run per database holds the lock, and on transactional engines a file and its history row
  commit together;
- a file that cannot run in one transaction records its progress after every statement, so an
  interrupted file is never silently re-run from the top (`partial` k/n, then an explicit repair);
- nothing runs before the whole plan is known to be sound (no edited applied file, no partial
  file, no out-of-order version unless allowed).
"""

from __future__ import annotations

import contextlib
import dataclasses
import getpass
import socket
import time
from collections.abc import Callable, Iterator, Sequence

from releases.loader import MigrationFile, version_key
from releases.runner.adapters.base import (
    Adapter,
    ConnectError,
    HistoryRow,
    LockBusy,
    changes_session,
    closes_transaction,
    commits_implicitly,
    connect,
    is_dml,
    now_utc,
    opens_transaction,
    savepoint,
)
from releases.runner.target import Target, parse_target

__all__ = [
    "ApplyError",
    "ApplyOptions",
    "ApplyReport",
    "ConnectError",
    "FileOutcome",
    "HistoryError",
    "LockTimeout",
    "PlanError",
    "apply",
    "baseline",
    "history",
    "plan_for",
    "repair",
]

LockTimeout = LockBusy


class PlanError(Exception):
    """The plan is unsound; nothing of the file(s) it names was run. One line per problem.
    `applied`: the files this run applied and recorded before it found the problem."""

    def __init__(self, database: str, problems: list[str], *, applied: Sequence[str] = ()):
        self.database = database
        self.problems = problems
        self.applied = list(applied)
        if applied:
            state = (f"stopped after applying {len(applied)} file(s), which the history records: "
                     f"{', '.join(applied)}; then")
        else:
            state = "nothing applied:"
        super().__init__(f"{database}: {state}\n" + "\n".join(f"  - {p}" for p in problems))


class HistoryError(Exception):
    """The database failed outside a migration's statements (reading or writing the history,
    taking the lock, a lost connection); the history says what is true."""


def _history_error(adapter: Adapter, exc: Exception) -> HistoryError:
    return HistoryError(f"{adapter.target.label}: {adapter.describe_error(exc).message}")


class ApplyError(Exception):
    """A statement failed. Names the database, file, line, statement and the server's message."""

    def __init__(
        self,
        *,
        database: str,
        file: str,
        line: int,
        statement: str,
        index: int,
        total: int,
        message: str,
        retryable: bool,
        state: str,
    ):
        self.database = database
        self.file = file
        self.line = line
        self.statement = statement
        self.index = index
        self.total = total
        self.message = message
        self.retryable = retryable
        self.state = state  # what the history says now, in words
        excerpt = statement if len(statement) <= 300 else statement[:300] + " …"
        text = (
            f"{database}: {file}:{line}: statement {index} of {total} failed: {message}\n"
            f"  statement: {excerpt}\n  {state}"
        )
        if retryable:
            text += "\n  This failure is retryable (it lost a race for a lock): run again."
        super().__init__(text)


@dataclasses.dataclass
class FileOutcome:
    version: str
    path: str
    action: str  # applied | skipped | would-apply | failed
    reason: str = ""
    duration_ms: int = 0
    rows: int | None = None  # rows affected by DML statements
    statements: int = 0

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclasses.dataclass
class ApplyReport:
    database: str
    outcomes: list[FileOutcome] = dataclasses.field(default_factory=list)
    warnings: list[str] = dataclasses.field(default_factory=list)
    duration_ms: int = 0
    history: list[HistoryRow] | None = None  # the target's history as the run left it (None: unknown)
    stopped: bool = False  # should_stop said so: the files after the last outcome were not started

    @property
    def applied(self) -> list[FileOutcome]:
        return [o for o in self.outcomes if o.action == "applied"]

    @property
    def skipped(self) -> list[FileOutcome]:
        return [o for o in self.outcomes if o.action == "skipped"]


Event = Callable[[str, object], None]


@dataclasses.dataclass
class ApplyOptions:
    dry_run: bool = False
    allow_out_of_order: bool = False
    baseline: str | None = None
    release_id: str | None = None
    applied_by: str = ""
    lock_wait_seconds: float = 300.0
    on_event: Event | None = None  # ("start", (file, total)), ("statement", ...), ("file", FileOutcome)
    should_stop: Callable[[], bool] | None = None  # asked before each file: True ends the run there


@dataclasses.dataclass
class PlanItem:
    file: MigrationFile
    action: str  # apply | skip
    reason: str = ""


def default_actor() -> str:
    try:
        user = getpass.getuser()
    except Exception:
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


def _split(mf: MigrationFile, dialect: str):
    from reviews.splitter import split  # imported here: a re-run with nothing to do never parses

    return split(mf.sql, dialect)


def plan_for(
    files: Sequence[MigrationFile],
    rows: Sequence[HistoryRow],
    *,
    allow_out_of_order: bool = False,
    database: str = "",
    dialect: str = "postgres",
) -> tuple[list[PlanItem], list[str]]:
    """What to do with each file, and the warnings; PlanError when something must stop the run."""
    by_key = {version_key(row.version): row for row in rows}
    floor = max((k for k, r in by_key.items() if r.status in ("applied", "baseline")), default=None)
    baseline_key = max((k for k, r in by_key.items() if r.status == "baseline"), default=None)
    file_keys = {mf.key for mf in files}
    problems: list[str] = []
    out_of_order: list[str] = []
    items: list[PlanItem] = []
    for mf in files:
        row = by_key.get(mf.key)
        if row is None:
            if baseline_key is not None and mf.key <= baseline_key:
                items.append(PlanItem(mf, "skip", "covered by the baseline"))
            elif floor is not None and mf.key < floor:
                if allow_out_of_order:
                    items.append(PlanItem(mf, "apply", "out of order (allowed)"))
                else:
                    out_of_order.append(mf.path)
            else:
                items.append(PlanItem(mf, "apply"))
        elif row.status == "baseline":
            items.append(PlanItem(mf, "skip", "baseline"))
        elif row.status == "partial":
            problems.append(_describe_partial(mf, row, dialect))
        elif row.checksum != mf.checksum:
            problems.append(
                f"{mf.path}: modified after apply: version {row.version} was applied on {row.applied_at} "
                f"with checksum {row.checksum}, the file now has {mf.checksum}. Revert the edit and put "
                f"the change in a new migration (or, after review, repair --version {row.version} mark-applied)"
            )
        else:
            items.append(PlanItem(mf, "skip", "already applied"))
    if out_of_order:
        newest = ".".join(str(p) for p in floor)
        problems.append(
            f"out-of-order: {len(out_of_order)} pending file(s) older than the newest applied version "
            f"{newest}: {', '.join(out_of_order)}. Rename them to a newer version, or allow out-of-order "
            "for this project (--allow-out-of-order)"
        )
    if problems:
        raise PlanError(database, problems)
    warnings = [
        f"version {row.version} ({row.description}) is in the history but has no file"
        for key, row in sorted(by_key.items())
        if key not in file_keys and row.status != "baseline"
    ]
    return items, warnings


def _describe_partial(mf: MigrationFile, row: HistoryRow, dialect: str) -> str:
    done, total = row.statements_done, row.statements_total
    if done >= total:
        # The last progress update committed, the run ended before the status update.
        return (
            f"{mf.path}: partial: all {total} statements done, but the run ended before it recorded the "
            f"file as applied.{'' if row.checksum == mf.checksum else ' The file has changed since.'} "
            f"Check it, then repair --version {row.version} mark-applied (or resume, which only records it)"
        )
    statements = _split(mf, dialect)
    where = ""
    if done < len(statements):
        where = f" at line {statements[done].line}"
    cause = f"failed: {row.error}" if row.error else "was interrupted; its outcome is unknown"
    changed = "" if row.checksum == mf.checksum else " The file has changed since."
    return (
        f"{mf.path}: partial: {done} of {total} statements done; statement {done + 1}{where} {cause}."
        f"{changed} Fix the cause, then repair --version {row.version} resume | mark-applied | mark-pending"
    )


def _open(target: str | Target, *, create: bool = True) -> Adapter:
    if isinstance(target, str):
        target = parse_target(target)
    return connect(target, create=create)


def history(target: str | Target) -> list[HistoryRow]:
    adapter = _open(target, create=False)
    if adapter.missing:
        adapter.close()
        raise ConnectError(f"cannot open {adapter.target.redacted}: the database file does not exist")
    try:
        rows = adapter.read_history() or []
    except adapter.driver_errors as exc:
        raise _history_error(adapter, exc) from None
    finally:
        adapter.close()
    return sorted(rows, key=lambda r: version_key(r.version))


def apply(target: str | Target, files: Sequence[MigrationFile], options: ApplyOptions | None = None) -> ApplyReport:
    options = options or ApplyOptions()
    actor = options.applied_by or default_actor()
    started = time.monotonic()
    adapter = _open(target, create=not options.dry_run)  # a dry run creates no SQLite file
    report = ApplyReport(database=adapter.target.label)
    emit = options.on_event or (lambda kind, data: None)
    dialect = adapter.target.dialect
    try:
        # Fast path: one history read without the lock. If nothing is pending, nothing can
        # change that, and a re-run costs this query (and the connection's own set-up).
        rows = adapter.read_history()
        if options.dry_run:
            planned = list(rows or [])
            if options.baseline:
                # What the run would write first: the same baseline row, or the same refusal.
                new = _baseline_row(report.database, planned, files, options.baseline, actor, options.release_id)
                planned += [new] if new is not None else []
            items, report.warnings = plan_for(
                files, planned, allow_out_of_order=options.allow_out_of_order,
                database=report.database, dialect=dialect,
            )
            if adapter.missing:
                report.warnings.append(f"{adapter.target.database} does not exist yet: the run would create it")
            report.history = rows
            for item in items:
                _report_item(report, item, emit, dialect)
            return report
        if options.baseline:
            rows = None  # baselining writes: always under the lock
        if rows is not None:
            try:
                items, warnings = plan_for(
                    files, rows, allow_out_of_order=options.allow_out_of_order,
                    database=report.database, dialect=dialect,
                )
            except PlanError:
                # Without the lock, a `partial` row may be another run's file in progress:
                # judge the plan again under the lock, where the history cannot be moving.
                items, warnings = [], []
            if items and all(item.action == "skip" for item in items):
                report.warnings = warnings
                report.history = rows
                for item in items:
                    _report_item(report, item, emit, None)
                return report

        with adapter.locked(options.lock_wait_seconds):
            adapter.create_history_table()
            if options.baseline:
                _baseline(adapter, files, options.baseline, actor, options.release_id)
            rows = adapter.read_history() or []
            items, report.warnings = plan_for(
                files, rows, allow_out_of_order=options.allow_out_of_order,
                database=report.database, dialect=dialect,
            )
            try:
                for item in items:
                    if item.action == "skip":
                        _report_item(report, item, emit, None)
                        continue
                    if options.should_stop is not None and options.should_stop():
                        report.stopped = True
                        break
                    try:
                        outcome = _apply_file(adapter, item.file, dialect, actor, options.release_id, emit)
                    except PlanError as exc:  # found when its file came up: the files before it stay applied
                        applied = [o.path for o in report.outcomes if o.action == "applied"]
                        if not applied:
                            raise
                        raise PlanError(exc.database, exc.problems, applied=applied) from None
                    if item.reason and outcome.action == "applied":
                        outcome.reason = item.reason
                    report.outcomes.append(outcome)
                    emit("file", outcome)
            finally:
                with contextlib.suppress(Exception):  # the history as the run leaves it, for mirrors
                    report.history = adapter.read_history() or []
        return report
    except adapter.driver_errors as exc:
        raise _history_error(adapter, exc) from None
    finally:
        adapter.close()
        report.duration_ms = round((time.monotonic() - started) * 1000)


def _report_item(report: ApplyReport, item: PlanItem, emit: Event, dry_run_dialect: str | None) -> None:
    mf = item.file
    if item.action == "skip":
        outcome = FileOutcome(mf.version, mf.path, "skipped", item.reason)
    else:
        statements = _split(mf, dry_run_dialect) if dry_run_dialect else []
        outcome = FileOutcome(mf.version, mf.path, "would-apply", item.reason, statements=len(statements))
        emit("plan", (mf, statements))
    report.outcomes.append(outcome)
    emit("file", outcome)


def _baseline(adapter: Adapter, files: Sequence[MigrationFile], version: str, actor: str, release: str | None) -> None:
    row = _baseline_row(adapter.target.label, adapter.read_history() or [], files, version, actor, release)
    if row is not None:
        adapter.insert_row(row)


def _baseline_row(database: str, rows: Sequence[HistoryRow], files: Sequence[MigrationFile], version: str,
                  actor: str, release: str | None) -> HistoryRow | None:
    """The row a baseline at `version` adds to this history: None when it is there already,
    PlanError when the history has other rows."""
    key = version_key(version)
    if any(row.status == "baseline" and version_key(row.version) == key for row in rows):
        return None  # the same baseline again: nothing to do
    if rows:
        raise PlanError(
            database,
            [f"cannot baseline at {version}: the database already has a migration history ({len(rows)} rows)"],
        )
    match = next((mf for mf in files if mf.key == key), None)
    return HistoryRow(
        version=version, description=match.description if match else "baseline", kind="ddl",
        checksum=match.checksum if match else "", status="baseline", statements_done=0,
        statements_total=0, release_id=release, applied_by=actor, applied_at=now_utc(),
        duration_ms=0, error=None,
    )


def _new_row(mf: MigrationFile, status: str, done: int, total: int, actor: str, release: str | None) -> HistoryRow:
    return HistoryRow(
        version=mf.version, description=mf.description, kind=mf.kind, checksum=mf.checksum,
        status=status, statements_done=done, statements_total=total, release_id=release,
        applied_by=actor, applied_at=now_utc(), duration_ms=0, error=None,
    )


def _apply_file(
    adapter: Adapter, mf: MigrationFile, dialect: str, actor: str, release: str | None, emit: Event,
) -> FileOutcome:
    statements = _split(mf, dialect)
    if not statements:
        raise PlanError(adapter.target.label, [f"{mf.path}: contains no statement (only comments)"])
    unclosed = _unclosed_transaction(adapter, statements)
    if unclosed is not None:
        # The server would roll it back when the session ends, after the run said "applied".
        raise PlanError(adapter.target.label, [
            f"{mf.path}:{unclosed.line}: this transaction is never committed: no COMMIT or ROLLBACK "
            "follows it before the end of the file. Nothing of the file was run; add the COMMIT"])
    for stmt in statements:
        problem = adapter.cannot_run(stmt.text)
        if problem is not None:
            raise PlanError(adapter.target.label, [f"{mf.path}:{stmt.line}: {problem}. Nothing of the file was run"])
    emit("start", (mf, len(statements)))
    transactional = (
        adapter.engine != "mysql"
        and mf.directives.transaction
        and not any(adapter.needs_autocommit(s.text) or opens_transaction(s.text)
                    or closes_transaction(s.text) for s in statements)
    )
    try:
        with _file_timeouts(adapter, mf):
            if transactional:
                return _apply_in_transaction(adapter, mf, statements, actor, release, emit)
            return _apply_stepwise(adapter, mf, statements, 0, actor, release, emit)
    finally:
        if any(changes_session(s.text) for s in statements):
            try:
                adapter.reset_session()
            except adapter.driver_errors:
                pass  # the connection is gone; the error that matters is already raised


@contextlib.contextmanager
def _file_timeouts(adapter: Adapter, mf: MigrationFile) -> Iterator[None]:
    """The file's lock/statement timeouts for its session, set before its BEGIN (on SQLite the
    lock wait is BEGIN IMMEDIATE itself) and reset after it."""
    lock_ms, statement_ms = mf.directives.lock_timeout_ms, mf.directives.statement_timeout_ms
    if lock_ms is None and statement_ms is None:
        yield
        return
    adapter.set_timeouts(lock_ms, statement_ms)
    try:
        yield
    finally:
        try:
            adapter.reset_timeouts()
        except adapter.driver_errors:
            pass  # the connection is gone: so is its session


def _fail(adapter: Adapter, mf: MigrationFile, statements, index: int, exc: Exception, state: str) -> ApplyError:
    error = adapter.describe_error(exc)
    stmt = statements[index]
    line = stmt.line
    if error.position:  # the server's position inside the statement → a line in the file
        line += stmt.text.count("\n", 0, error.position - 1)
    return ApplyError(
        database=adapter.target.label, file=mf.path, line=line, statement=stmt.text, index=index + 1,
        total=len(statements), message=error.message, retryable=error.retryable, state=state,
    )


def _apply_in_transaction(adapter, mf, statements, actor, release, emit) -> FileOutcome:
    started = time.monotonic()
    rows_affected = 0
    try:
        adapter.begin()
    except adapter.driver_errors as exc:
        raise LockBusy(f"{adapter.target.label}: {mf.path}: could not start the file's transaction: "
                       f"{adapter.describe_error(exc).message}. Nothing of it ran; this is retryable: "
                       "run again") from None
    try:
        if adapter.recheck_each_file:
            row = adapter.get_row(mf.version)
            if row is not None:
                adapter.rollback()
                if row.status == "applied" and row.checksum == mf.checksum:
                    return FileOutcome(mf.version, mf.path, "skipped", "applied meanwhile by another run")
                raise PlanError(adapter.target.label, [f"{mf.path}: another run recorded it as {row.status} meanwhile"])
        for index, stmt in enumerate(statements):
            try:
                count = adapter.execute(stmt.text)
            except adapter.driver_errors as exc:
                adapter.rollback()
                raise _fail(adapter, mf, statements, index, exc,
                            "The file was rolled back: nothing of it is applied and no history row was written.") from None
            if count is not None and count >= 0 and is_dml(stmt.text):
                rows_affected += count
            emit("statement", (mf, index + 1, len(statements)))
        row = _new_row(mf, "applied", len(statements), len(statements), actor, release)
        row.duration_ms = round((time.monotonic() - started) * 1000)
        adapter.insert_row_and_commit(row)
    except BaseException:
        adapter.rollback()
        raise
    return FileOutcome(mf.version, mf.path, "applied", "", row.duration_ms,
                       rows_affected if mf.kind == "dml" or rows_affected else None, len(statements))


def _transaction_marks(adapter: Adapter, text: str, user_tx: bool,
                       outer_savepoint: str | None) -> tuple[bool, bool, str | None]:
    """(opens, closes, outer savepoint): whether a statement begins or ends the file's own transaction."""
    opens, closes = opens_transaction(text), closes_transaction(text)
    if adapter.engine == "mysql" and user_tx and commits_implicitly(text):
        closes = True  # MySQL commits the file's transaction before the DDL: what follows autocommits
    if adapter.engine == "sqlite" and (marker := savepoint(text)) is not None:
        # Outside a transaction, SQLite's SAVEPOINT begins one, and RELEASE of it commits it.
        verb, name = marker
        if verb == "SAVEPOINT" and not user_tx:
            opens, outer_savepoint = True, name
        elif verb == "RELEASE" and name == outer_savepoint:
            closes = True
    return opens, closes, outer_savepoint


def _unclosed_transaction(adapter: Adapter, statements):
    """The statement that begins a transaction the file never commits or rolls back, or None."""
    user_tx, outer_savepoint, opened = False, None, None
    for stmt in statements:
        opens, closes, outer_savepoint = _transaction_marks(adapter, stmt.text, user_tx, outer_savepoint)
        if opens and not user_tx:
            opened = stmt
        user_tx = (user_tx or opens) and not closes
        if closes:
            outer_savepoint = None
    return opened if user_tx else None


def _apply_stepwise(adapter, mf, statements, start_at, actor, release, emit, *, resume: bool = False) -> FileOutcome:
    """Statement by statement, recording progress after each: for files that cannot run in one
    transaction (autocommit statements, their own BEGIN/COMMIT, `transaction off`) and for MySQL.

    A statement that can run in a transaction commits together with its progress update, so
    the history is exact for it; only a statement that cannot (CREATE INDEX CONCURRENTLY, MySQL
    DDL) leaves a window in which an interruption makes its outcome unknown — the history then
    says `partial` with the statements before it done, and the rerun refuses until a repair.
    """
    started = time.monotonic()
    total = len(statements)
    rows_affected = 0
    if not resume:
        claim = _new_row(mf, "partial", 0, total, actor, release)
        if adapter.recheck_each_file:
            adapter.begin()
            try:
                if adapter.get_row(mf.version) is not None:
                    adapter.rollback()
                    return FileOutcome(mf.version, mf.path, "skipped", "claimed meanwhile by another run")
                adapter.insert_row(claim)
                adapter.commit()
            except BaseException:
                adapter.rollback()
                raise
        else:
            adapter.insert_row(claim)
    user_tx = False  # inside the file's own BEGIN … COMMIT
    outer_savepoint = None  # SQLite: the SAVEPOINT that began the file's own transaction
    for index in range(start_at, total):
        stmt = statements[index]
        opens, closes, outer_savepoint = _transaction_marks(adapter, stmt.text, user_tx, outer_savepoint)
        own_tx = not user_tx and not opens and not closes and not adapter.needs_autocommit(stmt.text)
        try:
            if own_tx:
                adapter.begin()
            count = adapter.execute(stmt.text)
            if count is not None and count >= 0 and is_dml(stmt.text):
                rows_affected += count
            # Inside the file's own transaction this update is part of it: if that
            # transaction rolls back, so does the progress, and the history stays true.
            adapter.update_row(mf.version, statements_done=index + 1, error=None)
            if own_tx:
                adapter.commit()
        except adapter.driver_errors as exc:
            adapter.rollback()  # ends our transaction or the file's own failed one
            error = adapter.describe_error(exc)
            in_part = adapter.may_take_effect_in_part(stmt.text)
            rolled_back = (own_tx or user_tx or error.retryable) and not in_part
            message = error.message
            if in_part:
                message += (f"; statement {index + 1} acts on several objects and may have taken effect "
                            "in part: check which of them it changed before the repair")
            try:
                done = adapter.get_row(mf.version).statements_done
                if done == 0 and rolled_back:
                    # Nothing of the file took effect: no record is the true record.
                    adapter.delete_row(mf.version)
                    state = "Nothing of the file was applied and no history row was kept: run again."
                else:
                    adapter.update_row(mf.version, error=message)
                    state = (f"History: partial, {done} of {total} statements done"
                             + (f"; statement {index + 1} may have taken effect in part: check it" if in_part
                                else "")
                             + f". Fix the cause, then repair --version {mf.version} resume | mark-applied "
                             "| mark-pending.")
            except adapter.driver_errors:
                state = "The history could not be updated (connection lost?): check it with `history`."
            raise _fail(adapter, mf, statements, index, exc, state) from None
        user_tx = (user_tx or opens) and not closes
        if closes:
            outer_savepoint = None
        emit("statement", (mf, index + 1, total))
    duration = round((time.monotonic() - started) * 1000)
    adapter.update_row(mf.version, status="applied", statements_done=total, duration_ms=duration,
                       applied_at=now_utc(), error=None)
    return FileOutcome(mf.version, mf.path, "applied", "resumed" if resume else "", duration,
                       rows_affected if mf.kind == "dml" or rows_affected else None, total - start_at)


REPAIR_ACTIONS = ("resume", "mark-applied", "mark-pending")


def repair(
    target: str | Target,
    version: str,
    action: str,
    files: Sequence[MigrationFile] = (),
    *,
    applied_by: str = "",
    lock_wait_seconds: float = 300.0,
    on_event: Event | None = None,
) -> str:
    """An explicit repair of one history row; returns what was done, in words."""
    if action not in REPAIR_ACTIONS:
        raise ValueError(f"unknown repair action {action!r}: expected one of {', '.join(REPAIR_ACTIONS)}")
    actor = applied_by or default_actor()
    adapter = _open(target)
    emit = on_event or (lambda kind, data: None)
    key = version_key(version)
    mf = next((f for f in files if f.key == key), None)
    try:
        with adapter.locked(lock_wait_seconds):
            rows = adapter.read_history() or []
            row = next((r for r in rows if version_key(r.version) == key), None)
            label = adapter.target.label
            if action == "mark-pending":
                if row is None:
                    raise PlanError(label, [f"version {version} has no history row: it is already pending"])
                adapter.delete_row(row.version)
                return f"{label}: version {row.version} marked pending (its {row.status} history row was removed)"
            if action == "mark-applied":
                if row is None:
                    if mf is None:
                        raise PlanError(label, [f"version {version}: no history row and no file with that version"])
                    new = _new_row(mf, "applied", 0, 0, f"{actor} (repair mark-applied)", None)
                    adapter.insert_row(new)
                    return f"{label}: version {mf.version} marked applied without running it"
                fields = {"status": "applied", "statements_done": row.statements_total, "error": None,
                          "applied_by": f"{actor} (repair mark-applied)"}
                if mf is not None:
                    fields["checksum"] = mf.checksum
                adapter.update_row(row.version, **fields)
                return (f"{label}: version {row.version} marked applied "
                        f"(was {row.status}, {row.statements_done} of {row.statements_total} statements done)")
            # resume
            if row is None or row.status != "partial":
                state = "no history row" if row is None else f"status {row.status}"
                raise PlanError(label, [f"version {version} cannot be resumed: {state} (only a partial file can)"])
            if mf is None:
                raise PlanError(label, [f"version {version}: its file is needed to resume (pass --dir)"])
            if mf.checksum != row.checksum:
                raise PlanError(label, [f"{mf.path}: changed since the partial run (checksum {row.checksum} "
                                        f"then, {mf.checksum} now): resume would run other statements. "
                                        "Restore the file, or mark-pending / mark-applied"])
            statements = _split(mf, adapter.target.dialect)
            if row.statements_done < len(statements):
                problem = adapter.warnings_for_resume(statements[row.statements_done].text)
                if problem:
                    raise PlanError(label, [f"{mf.path}:{statements[row.statements_done].line}: {problem}"])
            emit("start", (mf, len(statements)))
            with _file_timeouts(adapter, mf):
                outcome = _apply_stepwise(adapter, mf, statements, row.statements_done, actor, row.release_id,
                                          emit, resume=True)
            emit("file", outcome)
            return (f"{label}: version {mf.version} resumed at statement {row.statements_done + 1} "
                    f"and finished ({outcome.statements} statements run)")
    except adapter.driver_errors as exc:
        raise _history_error(adapter, exc) from None
    finally:
        adapter.close()


def baseline(target: str | Target, version: str, files: Sequence[MigrationFile] = (), *, applied_by: str = "",
             lock_wait_seconds: float = 300.0) -> str:
    adapter = _open(target)
    try:
        with adapter.locked(lock_wait_seconds):
            adapter.create_history_table()
            _baseline(adapter, files, version, applied_by or default_actor(), None)
    except adapter.driver_errors as exc:
        raise _history_error(adapter, exc) from None
    finally:
        adapter.close()
    return f"{adapter.target.label}: baselined at version {version}"
