"""SQLite through the standard library.

SQLite has one writer at a time and no session locks: each file runs in its own
`BEGIN IMMEDIATE` transaction (which waits for the write lock up to the busy timeout) and re-reads
its history row inside it, so two runs that planned the same file apply it once.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from releases.runner.adapters import autocommit
from releases.runner.adapters.base import Adapter, ConnectError, DatabaseError
from releases.runner.target import Target


class SQLiteAdapter(Adapter):
    engine = "sqlite"
    placeholder = "?"
    recheck_each_file = True

    def __init__(self, target: Target, busy_timeout_s: float = 60.0, *, create: bool = True):
        super().__init__(target)
        path = Path(target.database)
        if not path.parent.exists():
            raise ConnectError(f"cannot open {target.redacted}: folder {path.parent} does not exist")
        # Connecting creates the file: without `create`, a missing file stays missing and an empty
        # in-memory database stands in for it.
        self.missing = not create and not path.exists()
        try:
            # isolation_level=None: the driver never opens transactions behind our back.
            self.conn = sqlite3.connect(":memory:" if self.missing else str(path), timeout=busy_timeout_s,
                                        isolation_level=None)
        except sqlite3.Error as exc:
            raise ConnectError(f"cannot open {target.redacted}: {exc}") from None
        self.busy_timeout_s = busy_timeout_s
        self._deadline: float | None = None
        self._lock_wait_ms: int | None = None

    @property
    def driver_errors(self) -> tuple[type[Exception], ...]:
        return (sqlite3.Error,)

    @contextmanager
    def locked(self, wait_seconds: float) -> Iterator[None]:
        # The write lock is taken per file by BEGIN IMMEDIATE; this bounds how long it waits.
        self._lock_wait_ms = int(wait_seconds * 1000)
        self.conn.execute(f"PRAGMA busy_timeout = {self._lock_wait_ms}")
        yield

    def reset_session(self) -> None:
        # A fresh connection: what a file's PRAGMA (foreign_keys, recursive_triggers …) or ATTACH
        # set lasts as long as the connection, and must not reach the next file.
        if self.missing:
            return
        self.conn.close()
        self.conn = sqlite3.connect(self.target.database, timeout=self.busy_timeout_s, isolation_level=None)
        if self._lock_wait_ms is not None:
            self.conn.execute(f"PRAGMA busy_timeout = {self._lock_wait_ms}")

    def begin(self) -> None:
        self.conn.execute("BEGIN IMMEDIATE")

    def execute(self, sql: str) -> int:
        cur = self.conn.execute(sql)
        try:
            return cur.rowcount
        finally:
            cur.close()

    def query(self, sql: str, params: tuple = ()) -> list[tuple]:
        return self.conn.execute(sql, params).fetchall()

    def run(self, sql: str, params: tuple = ()) -> None:
        self.conn.execute(sql, params)

    needs_autocommit = staticmethod(autocommit.sqlite)  # (VACUUM, PRAGMA foreign_keys, journal_mode)

    def set_timeouts(self, lock_ms: int | None, statement_ms: int | None) -> None:
        if lock_ms is not None:
            self.conn.execute(f"PRAGMA busy_timeout = {int(lock_ms)}")
        if statement_ms is not None:
            # SQLite has no statement timeout: interrupt from the progress handler instead.
            deadline = time.monotonic() + statement_ms / 1000

            def check() -> int:
                return 1 if time.monotonic() > deadline else 0

            self.conn.set_progress_handler(check, 10_000)

    def reset_timeouts(self) -> None:
        self.conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout_s * 1000)}")
        self.conn.set_progress_handler(None, 0)

    def is_missing_table(self, exc: Exception) -> bool:
        return isinstance(exc, sqlite3.OperationalError) and "no such table" in str(exc)

    def create_history_table(self) -> None:
        self.run(
            f"CREATE TABLE IF NOT EXISTS {self.table} ("
            "version TEXT PRIMARY KEY, description TEXT NOT NULL, kind TEXT NOT NULL, "
            "checksum TEXT NOT NULL, status TEXT NOT NULL, statements_done INTEGER NOT NULL, "
            "statements_total INTEGER NOT NULL, release_id TEXT, applied_by TEXT NOT NULL, "
            "applied_at TEXT NOT NULL, duration_ms INTEGER NOT NULL DEFAULT 0, error TEXT)"
        )

    def adapt(self, value):
        return value.isoformat() if isinstance(value, dt.datetime) else value

    def describe_error(self, exc: Exception) -> DatabaseError:
        message = str(exc)
        if isinstance(exc, sqlite3.OperationalError) and message == "interrupted":
            message = "interrupted: the statement ran longer than the file's statement-timeout"
        retryable = isinstance(exc, sqlite3.OperationalError) and "locked" in message
        return DatabaseError(message, retryable=retryable)
