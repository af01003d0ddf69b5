"""MySQL and MariaDB through PyMySQL.

DDL commits implicitly here, so the runner never wraps a file in one transaction: it records
progress after every statement (see core._apply_stepwise).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pymysql

from releases.runner.adapters.base import (
    Adapter,
    ConnectError,
    DatabaseError,
    LockBusy,
    client_label,
    head,
)
from releases.runner.target import BOOLEANS, MYSQL_FLAGS, Target

RETRYABLE = {1205, 1213}  # lock wait timeout, deadlock

# Statements that act on a list of objects one at a time, keeping what they did when a later
# object fails (checked on MariaDB 10.11: DROP TABLE a, nope drops a; the same for DROP VIEW and
# DROP SEQUENCE, CREATE/ALTER/DROP/RENAME USER, DROP ROLE, and GRANT/REVOKE to several users;
# RENAME TABLE of several is atomic). GRANT and REVOKE have commas in their privilege list too:
# only the grantees count.
_OBJECT_LIST_RE = re.compile(
    r"^(?:DROP\s+(?:TEMPORARY\s+)?(?:TABLES?|VIEW|SEQUENCE)|(?:CREATE|ALTER|DROP|RENAME)\s+USER|DROP\s+ROLE)\b"
    r"|^GRANT\b.*?\bTO\b|^REVOKE\b.*?\bFROM\b",
    re.I | re.S,
)
# Table locks of the session: while they are held, the runner's own history writes fail
# ("Table 'sluice_schema_history' was not locked with LOCK TABLES", "conflicting read lock").
_TABLE_LOCK_RE = re.compile(r"^(?:LOCK\s+TABLES?\b|FLUSH\s+TABLES?\b.*\b(?:WITH\s+READ\s+LOCK|FOR\s+EXPORT)\b)",
                            re.I | re.S)
# Comments and quoted text, whose commas separate nothing.
_NOT_CODE_RE = re.compile(r"--[^\n]*|#[^\n]*|/\*.*?\*/|'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"|`[^`]*`", re.S)


class MySQLAdapter(Adapter):
    engine = "mysql"

    def __init__(self, target: Target):
        super().__init__(target)
        self.conn = self._connect()
        self.lock_conn: pymysql.connections.Connection | None = None
        self.mariadb = "mariadb" in self.conn.get_server_info().lower()
        # Qualified, so that a migration's `USE other_db` cannot redirect the history writes.
        self.table = f"`{target.database.replace('`', '``')}`.sluice_schema_history"
        name = f"sluice:{target.database}"
        # GET_LOCK names are server-wide and at most 64 characters.
        self.lock_name = name if len(name) <= 64 else "sluice:" + hashlib.sha256(name.encode()).hexdigest()[:56]
        self._defaults: tuple | None = None  # the session's timeouts, read when a file first sets its own

    def _connect(self) -> pymysql.connections.Connection:
        t = self.target
        # The URL's TLS parameters (target.MYSQL_PARAMETERS): a CA, a client certificate, checks.
        tls = {name: BOOLEANS[value.lower()] if name in MYSQL_FLAGS else value for name, value in t.options}
        try:
            return pymysql.connect(
                host=t.host,
                port=t.port,
                user=t.user or "root",
                password=t.password or "",
                database=t.database,
                autocommit=True,
                charset="utf8mb4",
                connect_timeout=10,
                program_name=client_label(),
                **tls,
            )
        except pymysql.Error as exc:
            raise ConnectError(f"cannot connect to {t.redacted}: {exc.args[-1] if exc.args else exc}") from None
        except OSError as exc:  # a TLS file that cannot be read (ssl.SSLError is an OSError too)
            files = ", ".join(f"{name}={value}" for name, value in t.options if name not in MYSQL_FLAGS)
            raise ConnectError(f"cannot connect to {t.redacted}: TLS set-up failed with {files}: {exc}") from None

    @property
    def driver_errors(self) -> tuple[type[Exception], ...]:
        return (pymysql.Error,)

    @contextmanager
    def locked(self, wait_seconds: float) -> Iterator[None]:
        self.lock_conn = self._connect()
        deadline = time.monotonic() + wait_seconds
        with self.lock_conn.cursor() as cur:
            while True:
                remaining = max(0.0, deadline - time.monotonic())
                cur.execute("SELECT GET_LOCK(%s, %s)", (self.lock_name, min(1, math.ceil(remaining))))
                if cur.fetchone()[0] == 1:
                    break
                if time.monotonic() >= deadline:
                    raise LockBusy(f"{self.target.label}: gave up after {wait_seconds:g}s waiting for the "
                                   f"migration lock {self.lock_name!r}, held by {self._lock_holder(cur)}")
        try:
            yield
        finally:
            try:
                with self.lock_conn.cursor() as cur:
                    cur.execute("SELECT RELEASE_LOCK(%s)", (self.lock_name,))
                self.lock_conn.close()
            except Exception:
                pass
            self.lock_conn = None

    def _lock_holder(self, cur) -> str:
        cur.execute("SELECT IS_USED_LOCK(%s)", (self.lock_name,))
        holder = cur.fetchone()[0]
        if holder is None:
            return "another session (it has just released it)"
        cur.execute(
            "SELECT USER, HOST, TIME, INFO FROM information_schema.PROCESSLIST WHERE ID = %s", (holder,)
        )
        row = cur.fetchone()
        if not row:
            return f"connection {holder}"
        user, host, seconds, _info = row
        program = ""
        try:
            cur.execute(
                "SELECT ATTR_VALUE FROM performance_schema.session_connect_attrs "
                "WHERE PROCESSLIST_ID = %s AND ATTR_NAME = 'program_name'",
                (holder,),
            )
            found = cur.fetchone()
            program = f", {found[0]}" if found else ""
        except pymysql.Error:
            pass
        return f"connection {holder} ({user}@{host}{program}, connected {seconds}s)"

    def execute(self, sql: str) -> int:
        with self.conn.cursor() as cur:
            # args=None: PyMySQL does no %-interpolation, the text reaches the server as written.
            cur.execute(sql, None)
            return cur.rowcount

    def query(self, sql: str, params: tuple = ()) -> list[tuple]:
        with self.conn.cursor() as cur:
            cur.execute(sql, params or None)
            return list(cur.fetchall())

    def run(self, sql: str, params: tuple = ()) -> None:
        with self.conn.cursor() as cur:
            cur.execute(sql, params or None)

    def begin(self) -> None:
        self.run("START TRANSACTION")

    def set_timeouts(self, lock_ms: int | None, statement_ms: int | None) -> None:
        if self._defaults is None:
            self._defaults = self.query(
                "SELECT @@SESSION.lock_wait_timeout, @@SESSION.innodb_lock_wait_timeout, "
                + ("@@SESSION.max_statement_time" if self.mariadb else "@@SESSION.max_execution_time")
            )[0]
        if lock_ms is not None:
            seconds = max(1, math.ceil(lock_ms / 1000))
            self.run(f"SET SESSION lock_wait_timeout = {seconds}")
            self.run(f"SET SESSION innodb_lock_wait_timeout = {seconds}")
        if statement_ms is not None:
            if self.mariadb:
                self.run(f"SET SESSION max_statement_time = {statement_ms / 1000:.3f}")
            else:  # MySQL: applies to SELECT only
                self.run(f"SET SESSION max_execution_time = {int(statement_ms)}")

    def reset_timeouts(self) -> None:
        lock, innodb, stmt = self._defaults
        self.run(f"SET SESSION lock_wait_timeout = {int(lock)}")
        self.run(f"SET SESSION innodb_lock_wait_timeout = {int(innodb)}")
        if self.mariadb:
            self.run(f"SET SESSION max_statement_time = {float(stmt)}")
        else:
            self.run(f"SET SESSION max_execution_time = {int(stmt)}")

    def adapt(self, value):
        # DATETIME has no time zone: store UTC without an offset.
        if isinstance(value, dt.datetime) and value.tzinfo is not None:
            return value.astimezone(dt.UTC).replace(tzinfo=None)
        return value

    def reset_session(self) -> None:
        # A fresh session: MySQL has no RESET ALL, and what a file set (sql_mode, NAMES,
        # time_zone, USE …) would otherwise reach the next file and the history writes. COMMIT
        # first: after a file's `SET autocommit = 0` the runner's last history update is still open.
        self.run("COMMIT")
        self.conn.close()
        self.conn = self._connect()

    def is_missing_table(self, exc: Exception) -> bool:
        return isinstance(exc, pymysql.Error) and bool(exc.args) and exc.args[0] == 1146

    @staticmethod
    def cannot_run(text: str) -> str | None:
        if _TABLE_LOCK_RE.match(head(text, 400)):
            return ("the file locks tables (LOCK TABLES / FLUSH TABLES … WITH READ LOCK): while they are "
                    "locked, the runner cannot record the file's progress in its history table. Remove the "
                    "table locks (to change data consistently, use BEGIN … COMMIT with SELECT … FOR UPDATE)")
        return None

    @staticmethod
    def may_take_effect_in_part(text: str) -> bool:
        code = " ".join(_NOT_CODE_RE.sub(lambda m: " " if m.group(0)[0] in "-#/" else "x", text).split())
        match = _OBJECT_LIST_RE.match(code)
        return match is not None and "," in code[match.end():]

    def create_history_table(self) -> None:
        self.run(
            f"CREATE TABLE IF NOT EXISTS {self.table} ("
            "version varchar(100) NOT NULL PRIMARY KEY, description varchar(500) NOT NULL, "
            "kind varchar(3) NOT NULL, checksum varchar(80) NOT NULL, status varchar(10) NOT NULL, "
            "statements_done int NOT NULL, statements_total int NOT NULL, "
            "release_id varchar(40) NULL, applied_by varchar(200) NOT NULL, "
            "applied_at datetime(6) NOT NULL, duration_ms int NOT NULL DEFAULT 0, error text NULL"
            ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4"
        )

    def describe_error(self, exc: Exception) -> DatabaseError:
        if isinstance(exc, pymysql.Error) and len(exc.args) >= 2 and isinstance(exc.args[0], int):
            code, message = exc.args[0], exc.args[1]
            return DatabaseError(f"{message} (error {code})", retryable=code in RETRYABLE)
        return DatabaseError(str(exc))
