"""The small interface every engine adapter implements, and what they share.

An adapter owns two connections: one for migrations (autocommit on the driver, so the runner
issues BEGIN/COMMIT itself and knows exactly what is committed) and, where the engine has
session locks, a dedicated one for the per-database lock, so that the lock is never held
inside an open transaction.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import re
import socket
from collections.abc import Iterator
from contextlib import contextmanager

from releases.runner.target import Target

HISTORY_TABLE = "sluice_schema_history"
COLUMNS = (
    "version, description, kind, checksum, status, statements_done, statements_total, "
    "release_id, applied_by, applied_at, duration_ms, error"
)

_COMMENT_RE = re.compile(r"--[^\n]*|/\*.*?\*/|#[^\n]*", re.DOTALL)
_TX_OPEN_RE = re.compile(r"^(BEGIN(\s+(WORK|TRANSACTION|IMMEDIATE|DEFERRED|EXCLUSIVE))?|START\s+TRANSACTION)\b", re.I)
# Not ROLLBACK TO (a savepoint), nor … AND CHAIN, which begins the next transaction at once.
_TX_CLOSE_RE = re.compile(
    r"^(COMMIT|END|ROLLBACK|ABORT)\b(?!\s+TO\b)(?!(\s+(WORK|TRANSACTION))?\s+AND\s+CHAIN\b)", re.I)
# Statements after which the session is reset: SET (not SET LOCAL/TRANSACTION/CONSTRAINTS, which
# end with the transaction), RESET, USE, DISCARD, and set_config() calls (as pg_dump writes them).
# (SQLite: PRAGMA foreign_keys and the like, and ATTACH, last as long as the connection.)
_SESSION_RE = re.compile(r"^(SET(?!\s+(LOCAL|TRANSACTION|CONSTRAINTS)\b)|RESET|USE|DISCARD|PRAGMA|ATTACH|DETACH)\b",
                         re.I)
# MySQL runs the text of a `/*!NNNNN … */` comment (mysqldump writes its SET statements so; MariaDB also `/*M! … */`).
_EXECUTABLE_COMMENT_SESSION_RE = re.compile(r"^\s*/\*M?!\d*\s*(SET|USE)\b", re.I)
_DML_RE = re.compile(r"^(INSERT|UPDATE|DELETE|MERGE|REPLACE|WITH|COPY)\b", re.I)


def head(text: str, length: int = 200) -> str:
    """The start of a statement with comments removed and whitespace folded, for classifying."""
    return " ".join(_COMMENT_RE.sub(" ", text[:length]).split())


def folded_upper(text: str) -> str:
    """The text upper-cased as a case-insensitive pattern (re.IGNORECASE) reads ASCII letters: upper()
    makes `ſ` and `ı` the S and I that the folding matches them with, and the two letters it leaves
    that the folding matches with an ASCII one, `İ` and the Kelvin sign, become I and K."""
    upper = text.upper()
    if not text.isascii():
        upper = upper.replace("\u0130", "I").replace("\u212a", "K")
    return upper


def may_hold(text: str, length: int, words: tuple[str, ...]) -> bool:
    """False when `head(text, length)` certainly holds none of the (upper-case) words, in any case: a
    word in the head stands in the first `length` characters as it is (removing comments and folding
    blanks joins no two letters). A test before a pattern that needs one: the review asks the runner's
    tests of every statement of a file, which are mostly none of those they look for."""
    start = folded_upper(text[:length])
    return any(word in start for word in words)


_TX_OPEN_WORDS = ("BEGIN", "START")
_TX_CLOSE_WORDS = ("COMMIT", "END", "ROLLBACK", "ABORT")


def opens_transaction(text: str) -> bool:
    return may_hold(text, 60, _TX_OPEN_WORDS) and bool(_TX_OPEN_RE.match(head(text, 60)))


def closes_transaction(text: str) -> bool:
    return may_hold(text, 60, _TX_CLOSE_WORDS) and bool(_TX_CLOSE_RE.match(head(text, 60)))


# MySQL commits the open transaction before these statements (not for a TEMPORARY table).
_MYSQL_IMPLICIT_COMMIT_RE = re.compile(
    r"^(CREATE|ALTER|DROP|RENAME|TRUNCATE|LOCK\s+TABLES|GRANT|REVOKE)\b(?!\s+TEMPORARY\b)", re.I)


def commits_implicitly(text: str) -> bool:
    """MySQL: the statement commits the transaction a file's BEGIN opened (its COMMIT is then a no-op)."""
    return bool(_MYSQL_IMPLICIT_COMMIT_RE.match(head(text, 60)))


_SAVEPOINT_RE = re.compile(r"^(?:(RELEASE)(?:\s+SAVEPOINT)?|SAVEPOINT)\s+(\"(?:[^\"]|\"\")*\"|`[^`]*`|\[[^\]]*\]|\w+)",
                           re.I)


def savepoint(text: str) -> tuple[str, str] | None:
    """("SAVEPOINT" | "RELEASE", the savepoint's name as SQLite compares it), or None."""
    match = _SAVEPOINT_RE.match(head(text, 200))
    if match is None:
        return None
    name = match.group(2)
    name = name[1:-1] if name[0] in "\"`[" else name
    return ("RELEASE" if match.group(1) else "SAVEPOINT", name.lower())


def is_dml(text: str) -> bool:
    return bool(_DML_RE.match(head(text, 60)))


def changes_session(text: str) -> bool:
    return (bool(_SESSION_RE.match(head(text, 60))) or "set_config" in text.lower()
            or bool(_EXECUTABLE_COMMENT_SESSION_RE.match(text)))


def now_utc() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def client_label() -> str:
    return f"sluice {socket.gethostname()}:{os.getpid()}"


@dataclasses.dataclass
class HistoryRow:
    version: str
    description: str
    kind: str
    checksum: str
    status: str  # applied | partial | baseline
    statements_done: int
    statements_total: int
    release_id: str | None
    applied_by: str
    applied_at: dt.datetime | str | None
    duration_ms: int
    error: str | None

    def __post_init__(self) -> None:
        # Each engine hands back its own form (aware, naive UTC, ISO text): one form out.
        value = self.applied_at
        if isinstance(value, str) and value:
            value = dt.datetime.fromisoformat(value)
        if isinstance(value, dt.datetime) and value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        self.applied_at = value

    def as_dict(self) -> dict:
        data = dataclasses.asdict(self)
        if isinstance(self.applied_at, dt.datetime):
            data["applied_at"] = self.applied_at.isoformat()
        return data


class ConnectError(Exception):
    """The database could not be reached or refused the login (exit code 3)."""


class LockBusy(Exception):
    """A lock could not be had in time (another run's migration lock, or SQLite's write lock);
    the message says who holds it where the engine can tell. Running again may succeed."""

    retryable = True


class DatabaseError(Exception):
    """A statement failed; `retryable` when it lost a race for a lock (timeout, deadlock)."""

    def __init__(self, message: str, *, retryable: bool = False, position: int | None = None):
        super().__init__(message)
        self.message = message
        self.retryable = retryable
        self.position = position  # 1-based character position in the statement, when known


class Adapter:
    engine = ""
    placeholder = "%s"
    # Re-read a file's history row inside its own transaction before applying it: needed where
    # there is no run-wide lock (SQLite), harmless elsewhere.
    recheck_each_file = False

    def __init__(self, target: Target):
        self.target = target
        self.table = HISTORY_TABLE

    conn = None  # the migration connection
    # The database does not exist, and was opened without creating it (a SQLite file, for a dry
    # run or `history`): it reads as an empty database.
    missing = False
    lock_conn = None  # the lock's own connection, where the engine has session locks

    # -- connections -----------------------------------------------------------------------
    def close(self) -> None:
        for conn in (self.conn, self.lock_conn):
            if conn is not None:
                try:
                    conn.close()
                except Exception:
                    pass  # already broken: nothing left to release

    @contextmanager
    def locked(self, wait_seconds: float) -> Iterator[None]:
        raise NotImplementedError
        yield

    # -- statements --------------------------------------------------------------------------
    def execute(self, sql: str) -> int:
        """Run one statement as its original text (no parameter interpolation); rows affected."""
        raise NotImplementedError

    def query(self, sql: str, params: tuple = ()) -> list[tuple]:
        raise NotImplementedError

    def run(self, sql: str, params: tuple = ()) -> None:
        raise NotImplementedError

    def begin(self) -> None:
        self.run("BEGIN")

    def commit(self) -> None:
        self.run("COMMIT")

    def rollback(self) -> None:
        """Roll back whatever is open; never raises (the connection may be gone)."""
        try:
            self.run("ROLLBACK")
        except Exception:
            pass

    @staticmethod
    def needs_autocommit(text: str) -> bool:
        """A statement that cannot run inside a transaction block (asked of the class too: the
        review asks it without a connection)."""
        return False

    def set_timeouts(self, lock_ms: int | None, statement_ms: int | None) -> None:
        raise NotImplementedError

    def reset_timeouts(self) -> None:
        raise NotImplementedError

    def reset_session(self) -> None:
        """Undo session state a file set (search_path, USE …), so that files stay independent;
        called after a file that may have changed it (see changes_session)."""

    def warnings_for_resume(self, text: str) -> str | None:
        """Why resuming at this statement would be wrong (e.g. an INVALID index is left)."""
        return None

    @staticmethod
    def cannot_run(text: str) -> str | None:
        """Why the runner must not run this statement at all (it would keep the runner from
        recording its progress), or None."""
        return None

    @staticmethod
    def may_take_effect_in_part(text: str) -> bool:
        """A statement that, when it fails, may have done part of its work all the same (MariaDB
        drops the tables of a list one by one): its failure is no proof that nothing happened."""
        return False

    # -- history table ------------------------------------------------------------------------
    def is_missing_table(self, exc: Exception) -> bool:
        raise NotImplementedError

    def create_history_table(self) -> None:
        raise NotImplementedError

    def _sql(self, sql: str) -> str:
        return sql.replace("{table}", self.table).replace("%s", self.placeholder)

    def read_history(self) -> list[HistoryRow] | None:
        """Every row, or None when the table does not exist yet. One query (outside transactions)."""
        try:
            rows = self.query(self._sql(f"SELECT {COLUMNS} FROM {{table}}"))
        except self.driver_errors as exc:
            if self.is_missing_table(exc):
                return None
            raise
        return [HistoryRow(*row) for row in rows]

    def get_row(self, version: str) -> HistoryRow | None:
        rows = self.query(self._sql(f"SELECT {COLUMNS} FROM {{table}} WHERE version = %s"), (version,))
        return HistoryRow(*rows[0]) if rows else None

    def adapt(self, value):
        """A Python value as the driver should bind it (timestamps are UTC)."""
        return value

    def insert_row(self, row: HistoryRow) -> None:
        values = tuple(self.adapt(getattr(row, f.name)) for f in dataclasses.fields(row))
        marks = ", ".join([self.placeholder] * len(values))
        self.run(f"INSERT INTO {self.table} ({COLUMNS}) VALUES ({marks})", values)

    def insert_row_and_commit(self, row: HistoryRow) -> None:
        """Record a file as applied and commit its transaction: both or neither."""
        self.insert_row(row)
        self.commit()

    def update_row(self, version: str, **fields) -> None:
        assignments = ", ".join(f"{name} = {self.placeholder}" for name in fields)
        self.run(
            f"UPDATE {self.table} SET {assignments} WHERE version = {self.placeholder}",
            (*(self.adapt(v) for v in fields.values()), version),
        )

    def delete_row(self, version: str) -> None:
        self.run(self._sql("DELETE FROM {table} WHERE version = %s"), (version,))

    def describe_error(self, exc: Exception) -> DatabaseError:
        return DatabaseError(str(exc))

    @property
    def driver_errors(self) -> tuple[type[Exception], ...]:
        raise NotImplementedError


def connect(target: Target, *, create: bool = True) -> Adapter:
    """The target's adapter; `create=False` leaves a database that does not exist uncreated
    (SQLite: the file), for commands that must change nothing."""
    if target.engine == "postgresql":
        from releases.runner.adapters.postgres import PostgresAdapter

        return PostgresAdapter(target)
    if target.engine == "mysql":
        from releases.runner.adapters.mysql import MySQLAdapter

        return MySQLAdapter(target)
    from releases.runner.adapters.sqlite import SQLiteAdapter

    return SQLiteAdapter(target, create=create)
