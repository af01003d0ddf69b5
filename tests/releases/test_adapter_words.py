"""The runner's statement tests (a transaction's start or end, autocommit) look for their words
before they clean a statement's head for their patterns: the look must never say no where the
pattern says yes. The review asks these tests of every statement of a file."""

from __future__ import annotations

import re
import sys

import pytest

from releases.runner.adapters import base
from releases.runner.adapters.autocommit import _POSTGRES_RE as PG_AUTOCOMMIT
from releases.runner.adapters.autocommit import _SQLITE_RE as SQLITE_AUTOCOMMIT
from releases.runner.adapters.mysql import MySQLAdapter
from releases.runner.adapters.postgres import PostgresAdapter
from releases.runner.adapters.sqlite import SQLiteAdapter

TEXTS = [
    "BEGIN", "  begin work;", "\tStart Transaction", "COMMIT", "end;", "Rollback", "abort", "rollback to x",
    "COMMIT AND CHAIN", "/* x */ BEGIN", "-- c\nCOMMIT", "# c\nBEGIN", "BEG\u0130N", "\u017ftart transaction",
    "ROLLBAC\u212a", "c\u0131mmit".upper(), "vacuum", "VACUUM ANALYZE t", "PRAGMA foreign_keys = OFF",
    "pragma main.journal_mode=wal", "CREATE INDEX CONCURRENTLY i ON t (a)", "drop index concurrently i",
    "REINDEX TABLE CONCURRENTLY t", "REINDEX (VERBOSE) INDEX CONCURRENTLY i", "ALTER SYSTEM SET x = 1",
    "create database d", "CREATE /* a comment */ DATABA\u017fE d", "drop\n  tablespace s",
    "ALTER TABLE p DETACH PARTITION c CONCURRENTLY", "CREATE TABLESPACE s LOCATION '/x'",
    "INSERT INTO t VALUES (1)", "  update t set a = 1", "SELECT 1", "CREATE TABLE t (id int)", "DROP TABLE t",
    "ALTER TABLE t ADD c int", "CREATE FUNCTION f() RETURNS int AS $$ BEGIN RETURN 1; END $$ LANGUAGE plpgsql",
    "/* " + "x" * 70 + " */ BEGIN", "-- " + "x" * 500 + "\nVACUUM",
]


def test_the_upper_case_the_tests_read_keeps_every_letter_a_pattern_folds_onto_ascii():
    everything = "".join(chr(c) for c in range(128, sys.maxunicode + 1) if not 0xD800 <= c <= 0xDFFF)
    for letter in "ABCDEFGHIJKLMNOPQRSTUVWXYZ":
        folded = re.findall(letter, everything, re.IGNORECASE)
        assert all(letter in base.folded_upper(char) for char in folded), (letter, folded)
    assert base.folded_upper("be\u0131\u0130n \u212a") == "BEIIN K"


@pytest.mark.parametrize("text", TEXTS)
def test_each_test_says_what_its_pattern_says(text):
    assert base.opens_transaction(text) is bool(base._TX_OPEN_RE.match(base.head(text, 60)))
    assert base.closes_transaction(text) is bool(base._TX_CLOSE_RE.match(base.head(text, 60)))
    assert PostgresAdapter.needs_autocommit(text) is bool(PG_AUTOCOMMIT.match(base.head(text, 400)))
    assert SQLiteAdapter.needs_autocommit(text) is bool(SQLITE_AUTOCOMMIT.match(base.head(text, 40)))
    assert MySQLAdapter.needs_autocommit(text) is False


def test_the_battery_holds_statements_each_test_matches():
    assert sum(map(base.opens_transaction, TEXTS)) >= 5 and sum(map(base.closes_transaction, TEXTS)) >= 6
    assert sum(map(PostgresAdapter.needs_autocommit, TEXTS)) >= 12
    assert sum(map(SQLiteAdapter.needs_autocommit, TEXTS)) >= 4
