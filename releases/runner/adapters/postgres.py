"""PostgreSQL through psycopg 3."""

from __future__ import annotations

import dataclasses
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from psycopg import errors as pg_errors
from psycopg import sql

from releases.runner.adapters import autocommit
from releases.runner.adapters.base import (
    COLUMNS,
    Adapter,
    ConnectError,
    DatabaseError,
    HistoryRow,
    LockBusy,
    client_label,
    head,
)
from releases.runner.target import Target

# pg_try_advisory_lock(int4, int4): ('SLCI', 1). Advisory locks are per database already.
LOCK_KEY = (0x534C4349, 1)
RETRYABLE = {"55P03", "40001", "40P01"}  # lock_not_available, serialization, deadlock

_CREATE_INDEX_RE = re.compile(
    r"^CREATE\s+(UNIQUE\s+)?INDEX\s+CONCURRENTLY\s+(IF\s+NOT\s+EXISTS\s+)?(?P<name>(\"[^\"]+\"|[\w$]+)(\.(\"[^\"]+\"|[\w$]+))?)",
    re.I,
)


class PostgresAdapter(Adapter):
    engine = "postgresql"

    def __init__(self, target: Target):
        super().__init__(target)
        self.conn = self._connect()
        self.lock_conn: psycopg.Connection | None = None
        # Qualify the history table with the schema it lives in, so that a migration's own
        # `SET search_path` cannot make the runner write its history somewhere else. An existing
        # history wins over current_schema(): a migration that creates a schema earlier in the
        # search path (`CREATE SCHEMA app` for user app) must not hide it from the next run.
        schema = self.query(
            "SELECT coalesce((SELECT n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE c.oid = to_regclass('sluice_schema_history')), current_schema())"
        )[0][0] or "public"
        self.schema = schema
        self.table = sql.SQL("{}.sluice_schema_history").format(sql.Identifier(schema)).as_string(self.conn)

    def _connect(self) -> psycopg.Connection:
        t = self.target
        # The URL's own parameters (?connect_timeout=…, ?options=-csearch_path%3D…) win over our
        # defaults, as in a libpq URI; autocommit is the runner's.
        params = dict(
            host=t.host, port=t.port, user=t.user or None, password=t.password, dbname=t.database,
            application_name=client_label(), connect_timeout=10,
        )
        params.update(t.options)
        params["autocommit"] = True
        options = params.pop("options", "")
        try:
            try:
                # If this process dies, the server cancels its running statement within a second
                # instead of finishing it as an orphan whose outcome nobody records (PostgreSQL 14+).
                # As a connection option it survives RESET ALL.
                return psycopg.connect(**params, options=f"-c client_connection_check_interval=1000 {options}".strip())
            except psycopg.OperationalError as exc:
                if "client_connection_check_interval" not in str(exc):
                    raise
                return psycopg.connect(**params, **({"options": options} if options else {}))  # an older server
        except psycopg.Error as exc:
            raise ConnectError(f"cannot connect to {t.redacted}: {str(exc).strip()}") from None

    @property
    def driver_errors(self) -> tuple[type[Exception], ...]:
        return (psycopg.Error,)

    @contextmanager
    def locked(self, wait_seconds: float) -> Iterator[None]:
        # A session lock on its own connection, polled: never held inside an open transaction,
        # released by the server if this process dies.
        self.lock_conn = self._connect()
        deadline = time.monotonic() + wait_seconds
        delay = 0.05
        while True:
            got = self.lock_conn.execute("SELECT pg_try_advisory_lock(%s, %s)", LOCK_KEY).fetchone()[0]
            if got:
                break
            if time.monotonic() >= deadline:
                raise LockBusy(f"{self.target.label}: gave up after {wait_seconds:g}s waiting for the "
                               f"migration lock, held by {self._lock_holder()}")
            time.sleep(delay)
            delay = min(delay * 2, 0.5)
        try:
            yield
        finally:
            try:
                self.lock_conn.execute("SELECT pg_advisory_unlock(%s, %s)", LOCK_KEY)
                self.lock_conn.close()
            except Exception:
                pass
            self.lock_conn = None

    def _lock_holder(self) -> str:
        rows = self.lock_conn.execute(
            "SELECT a.pid, a.application_name, a.usename, a.client_addr, a.backend_start "
            "FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
            "WHERE l.locktype = 'advisory' AND l.classid = %s AND l.objid = %s AND l.granted",
            LOCK_KEY,
        ).fetchall()
        if not rows:
            return "another session (it has just released it)"
        pid, app, user, addr, since = rows[0]
        return f"pid {pid} ({app or 'unknown client'}, user {user}, from {addr or 'local socket'}, since {since:%Y-%m-%d %H:%M:%S %Z})"

    def execute(self, sql: str) -> int:
        with self.conn.cursor() as cur:
            cur.execute(sql)
            return cur.rowcount

    def query(self, sql: str, params: tuple = ()) -> list[tuple]:
        with self.conn.cursor() as cur:
            cur.execute(sql, params)
            return cur.fetchall()

    def run(self, sql: str, params: tuple = ()) -> None:
        self.conn.execute(sql, params or None)

    def insert_row_and_commit(self, row: HistoryRow) -> None:
        # One round trip: without parameters psycopg uses the simple query protocol, which takes
        # both statements; if the INSERT fails, the COMMIT is never run. Values quoted by psycopg.
        values = sql.SQL(", ").join(sql.Literal(getattr(row, f.name)) for f in dataclasses.fields(row))
        self.conn.execute(
            sql.SQL("INSERT INTO {table} ({columns}) VALUES ({values}); COMMIT").format(
                table=sql.SQL(self.table), columns=sql.SQL(COLUMNS), values=values
            )
        )

    needs_autocommit = staticmethod(autocommit.postgres)

    def set_timeouts(self, lock_ms: int | None, statement_ms: int | None) -> None:
        if lock_ms is not None:
            self.run(f"SET lock_timeout = {int(lock_ms)}")
        if statement_ms is not None:
            self.run(f"SET statement_timeout = {int(statement_ms)}")

    def reset_session(self) -> None:
        self.run("RESET ALL")

    def is_missing_table(self, exc: Exception) -> bool:
        return isinstance(exc, pg_errors.UndefinedTable)

    def reset_timeouts(self) -> None:
        self.run("RESET lock_timeout")
        self.run("RESET statement_timeout")

    def warnings_for_resume(self, text: str) -> str | None:
        match = _CREATE_INDEX_RE.match(head(text, 400))
        if not match:
            return None
        name = match.group("name")
        schema, _, index = name.rpartition(".")
        index = index.strip('"') if index.startswith('"') else index.lower()
        rows = self.query(
            "SELECT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE c.relname = %s AND (%s = '' AND n.nspname = ANY(current_schemas(false)) OR n.nspname = %s)",
            (index, schema.strip('"'), schema.strip('"')),
        )
        if rows and not rows[0][0]:
            return (
                f"index {name} exists but is INVALID: the interrupted CREATE INDEX CONCURRENTLY left it "
                f"behind. Drop it first (DROP INDEX CONCURRENTLY {name};), then resume"
            )
        if rows:
            return (
                f"index {name} already exists and is valid: the interrupted statement may have finished. "
                "Check it, then use mark-applied, or drop the index and resume"
            )
        return None

    def create_history_table(self) -> None:
        # Under the migration lock, so concurrent first runs create it once.
        self.run(
            f"CREATE TABLE IF NOT EXISTS {self.table} ("
            "version varchar(100) PRIMARY KEY, description varchar(500) NOT NULL, "
            "kind varchar(3) NOT NULL, checksum varchar(80) NOT NULL, status varchar(10) NOT NULL, "
            "statements_done integer NOT NULL, statements_total integer NOT NULL, "
            "release_id varchar(40), applied_by varchar(200) NOT NULL, "
            "applied_at timestamptz NOT NULL, duration_ms integer NOT NULL DEFAULT 0, error text)"
        )

    def describe_error(self, exc: Exception) -> DatabaseError:
        if isinstance(exc, psycopg.Error):
            diag = exc.diag
            message = diag.message_primary or str(exc).strip()
            if diag.sqlstate:
                message = f"{message} (SQLSTATE {diag.sqlstate})"
            if diag.message_detail:
                message += f"\nDETAIL: {diag.message_detail}"
            if diag.message_hint:
                message += f"\nHINT: {diag.message_hint}"
            position = int(diag.statement_position) if diag.statement_position else None
            retryable = diag.sqlstate in RETRYABLE or isinstance(exc, pg_errors.LockNotAvailable)
            return DatabaseError(message, retryable=retryable, position=position)
        return DatabaseError(str(exc))
