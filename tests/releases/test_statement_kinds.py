"""How the runner tells statements apart: the ones that cannot run in a transaction, and a
file's own transaction control."""

from __future__ import annotations

import pytest

from releases.runner.adapters.base import changes_session, closes_transaction, is_dml, opens_transaction
from releases.runner.adapters.postgres import PostgresAdapter
from releases.runner.adapters.sqlite import SQLiteAdapter

needs_autocommit_pg = PostgresAdapter.needs_autocommit


@pytest.mark.parametrize("text", [
    "CREATE INDEX CONCURRENTLY i ON t (a)",
    "create unique index concurrently if not exists i on t (a)",
    "-- why\nCREATE /* note */ INDEX\n  CONCURRENTLY i ON t (a)",
    "DROP INDEX CONCURRENTLY IF EXISTS i",
    "REINDEX INDEX CONCURRENTLY i",
    "REINDEX (VERBOSE) TABLE CONCURRENTLY t",
    "VACUUM (ANALYZE) t",
    "ALTER SYSTEM SET work_mem = '64MB'",
    "CREATE DATABASE other",
    "ALTER TABLE p DETACH PARTITION p1 CONCURRENTLY",
])
def test_postgres_statements_that_need_autocommit(text):
    assert needs_autocommit_pg(text)


@pytest.mark.parametrize("text", [
    "CREATE INDEX i ON t (a)",
    "REINDEX INDEX i",
    "ALTER TABLE p DETACH PARTITION p1",
    "SELECT 'CREATE INDEX CONCURRENTLY'",
    "CREATE TABLE concurrently (a int)",
])
def test_postgres_statements_that_run_in_a_transaction(text):
    assert not needs_autocommit_pg(text)


def test_sqlite_statements_that_need_autocommit():
    adapter = object.__new__(SQLiteAdapter)
    assert adapter.needs_autocommit("VACUUM")
    assert adapter.needs_autocommit("PRAGMA foreign_keys = ON")
    assert adapter.needs_autocommit("-- cascades\npragma main.foreign_keys=off")
    assert adapter.needs_autocommit("PRAGMA journal_mode = WAL")
    assert not adapter.needs_autocommit("CREATE TABLE vacuum_log (a)")
    assert not adapter.needs_autocommit("PRAGMA defer_foreign_keys = ON")  # meant for inside a transaction
    assert not adapter.needs_autocommit("PRAGMA foreign_keys_log")


@pytest.mark.parametrize("text, opens, closes", [
    ("BEGIN", True, False),
    ("begin transaction", True, False),
    ("BEGIN IMMEDIATE", True, False),
    ("START TRANSACTION", True, False),
    ("COMMIT", False, True),
    ("END", False, True),
    ("ROLLBACK", False, True),
    ("ROLLBACK TO SAVEPOINT a", False, False),
    ("SAVEPOINT a", False, False),
    ("BEGIN ATOMIC", True, False),  # only ever inside a function body, which is one statement
])
def test_transaction_control(text, opens, closes):
    assert (opens_transaction(text), closes_transaction(text)) == (opens, closes)


@pytest.mark.parametrize("text, dml", [
    ("INSERT INTO t VALUES (1)", True),
    ("-- c\nupdate t set a = 1", True),
    ("WITH x AS (SELECT 1) DELETE FROM t", True),
    ("CREATE TABLE t (a int)", False),
    ("SELECT 1", False),
])
def test_dml(text, dml):
    assert is_dml(text) is dml


@pytest.mark.parametrize("text, changes", [
    ("SET search_path TO other", True),
    ("set role app", True),
    ("SELECT pg_catalog.set_config('search_path', '', false)", True),
    ("RESET ALL", True),
    ("USE other_db", True),
    ("/*!40101 SET NAMES utf8 */", True),  # MySQL runs an executable comment's text (mysqldump)
    ("/*!50100 TABLESPACE ts */ CREATE TABLE t (a int)", False),
    ("SET LOCAL lock_timeout = '1s'", False),  # ends with the transaction
    ("SET TRANSACTION ISOLATION LEVEL SERIALIZABLE", False),
    ("UPDATE t SET a = 1", False),
    ("CREATE TABLE settings (a int)", False),
])
def test_statements_after_which_the_session_is_reset(text, changes):
    assert changes_session(text) is changes
