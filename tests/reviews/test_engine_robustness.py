"""Robustness of the review engine: no input makes `review_file` fail, and every finding it
returns is well formed (a location inside the file, a known rule, a severity, a fingerprint).

Hypothesis feeds it random bytes and random SQL-ish fragment soups (keywords, identifiers,
strings, comments, dollar quotes, `;`, parentheses, `-- sluice:ignore` directives) for every
dialect, with every rule enabled (`Policy.everything()`).
"""

from __future__ import annotations

import logging
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reviews.engine import RULES, Policy, review_file
from reviews.splitter import DIALECTS

INTERNAL = "internal error while reviewing"
FINGERPRINT = re.compile(r"^[0-9a-f]{32}$")
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

POLICY = Policy.everything()


class _RuleFailures(logging.Handler):
    """The engine logs (and swallows) an exception raised by a rule: collect them."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def _lines(data: bytes | str) -> int:
    """Lines of the input however the engine decodes it (UTF-8, or UTF-16 after a BOM)."""
    if isinstance(data, str):
        return max(data.count("\n"), data.count("\r")) + 1  # (lone CRs too, as below)
    texts = [data.decode("utf-8", errors="replace")]
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        texts.append(data.decode("utf-16", errors="replace"))
    # (A text whose only line breaks are lone CRs is read with CR as the line break.)
    return max(max(t.count("\n"), t.count("\r")) for t in texts) + 1


def check(data: bytes | str, dialect: str) -> None:
    handler = _RuleFailures()
    logger = logging.getLogger("reviews.engine.core")
    logger.addHandler(handler)
    try:
        review = review_file("migrations/0001_fuzz.sql", data, dialect, POLICY)  # must not raise
    finally:
        logger.removeHandler(handler)
    lines = _lines(data)
    for f in review.findings:
        where = f"{f.rule} at {f.line}:{f.column}-{f.end_line} ({f.message!r}) in {data!r}"
        assert INTERNAL not in f.message, where
        assert 1 <= f.line <= f.end_line <= lines + 1, where
        assert f.column >= 1, where
        assert f.severity in ("error", "warning", "info"), where
        assert FINGERPRINT.match(f.fingerprint), where
        assert f.rule in RULES, where
        assert f.file == "migrations/0001_fuzz.sql", where
    failures = [
        f"{r.getMessage()}: {r.exc_info[0].__name__}: {r.exc_info[1]}" if r.exc_info else r.getMessage()
        for r in handler.records
    ]
    assert not failures, f"a rule raised (the engine swallowed it) on {data!r}: {failures}"


# -- random bytes ------------------------------------------------------------------------------


@pytest.mark.parametrize("dialect", DIALECTS)
@SETTINGS
@given(data=st.binary(max_size=400))
def test_random_bytes(dialect: str, data: bytes) -> None:
    check(data, dialect)


@pytest.mark.parametrize("dialect", DIALECTS)
@SETTINGS
@given(data=st.one_of(st.text(max_size=200), st.binary(max_size=20).map(lambda b: b"\xef\xbb\xbf" + b)))
def test_random_text(dialect: str, data: str | bytes) -> None:
    check(data, dialect)


# -- random SQL fragments ---------------------------------------------------------------------

KEYWORDS = (
    "CREATE", "TABLE", "ALTER", "ADD", "COLUMN", "DROP", "INDEX", "UNIQUE", "CONCURRENTLY", "ON",
    "INSERT", "INTO", "VALUES", "UPDATE", "SET", "DELETE", "FROM", "WHERE", "SELECT", "*", "TRUNCATE",
    "CASCADE", "NOT", "NULL", "DEFAULT", "PRIMARY", "KEY", "FOREIGN", "REFERENCES", "CONSTRAINT",
    "CHECK", "VALID", "VALIDATE", "RENAME", "TO", "TYPE", "USING", "BEGIN", "COMMIT", "ROLLBACK",
    "END", "IF", "EXISTS", "FUNCTION", "PROCEDURE", "TRIGGER", "RETURNS", "LANGUAGE", "AS", "DO",
    "GRANT", "ALL", "PUBLIC", "ROLE", "USER", "PASSWORD", "IDENTIFIED", "BY", "ENGINE", "=", "MyISAM",
    "CHARSET", "latin1", "ALGORITHM", "COPY", "LOCK", "SHARED", "MODIFY", "CHANGE", "AFTER", "FIRST",
    "int", "bigint", "serial", "varchar(10)", "char(3)", "json", "timestamp", "text", "AUTO_INCREMENT",
    "GENERATED", "ALWAYS", "STORED", "PRAGMA", "foreign_keys", "VACUUM", "FULL", "REINDEX", "DELIMITER",
    "SECURITY", "DEFINER", "lock_timeout", "statement_timeout", "LIKE", "=", ",", ".", "::", "random()",
    "now()", "nextval('s')", "1", "0", "-1", "3.14", "LIMIT", "ORDER", "rand()", "ATOMIC", "VIEW",
    "SCHEMA", "DATABASE", "DOMAIN", "ENUM", "VALUE", "BEFORE", "PARTITION", "DETACH", "ROW", "LEVEL",
    "SECURITY", "DISABLE", "SUPERUSER", "BINARY", "COLLATE", "$1", "?", "%s", "\\connect db", "\\set x 1",
    "\\.",
)
IDENTIFIERS = (
    "t", "users", "accounts", "\"UserAccount\"", "`order`", "\"select\"", "public.t", "a", "b", "id",
    "x" * 70, "[t]", "\"we\"\"ird\"", "`a``b`", "schema1.\"T\"", "é", "new_t", "t_del", "_tmp",
)
STRINGS = ("'s'", "''", "'it''s'", "E'a\\'b'", "'unterminated", "\"unterminated", "`unterminated",
           "N'x'", "X'0F'", "B'01'", "'multi\nline'", "U&'\\0041'", "'$$'")
COMMENTS = ("-- c", "/* c */", "/* nested /* c */ */", "/* unterminated", "# hash", "/*!40101 SET NAMES utf8 */",
            "--", "-- ; in comment", "/* ; */")
DOLLARS = ("$$", "$$ body; $$", "$f$ BEGIN RETURN 1; END; $f$", "$f$", "$a$ $$ $a$", "$x")
PUNCT = (";", ";", ";", "(", ")", "(", ")", ",", "\n", "\n\n", "\t", "\r\n", "//", "$$", "END;")
RULE_IDS = tuple(sorted(RULES)) or ("table.disallow-drop",)
DIRECTIVES = st.builds(
    lambda ids: "\n-- sluice:ignore " + ", ".join(ids) + "\n",
    st.lists(st.sampled_from((*RULE_IDS, "no.such-rule", "")), max_size=3),
)
STATEMENTS = (
    "CREATE TABLE t (id int PRIMARY KEY, name varchar(10) NOT NULL)",
    "CREATE TABLE IF NOT EXISTS t2 (id serial, at timestamp, j json, c char(2))",
    "ALTER TABLE users ADD COLUMN age int NOT NULL",
    "ALTER TABLE users ADD COLUMN token uuid DEFAULT gen_random_uuid()",
    "ALTER TABLE users ADD CONSTRAINT fk FOREIGN KEY (a) REFERENCES t (id)",
    "ALTER TABLE users ALTER COLUMN name TYPE text",
    "ALTER TABLE users ALTER COLUMN name SET NOT NULL",
    "ALTER TABLE users RENAME COLUMN a TO b",
    "ALTER TABLE users RENAME TO people",
    "ALTER TABLE users DROP COLUMN a",
    "ALTER TABLE users MODIFY a bigint AFTER b",
    "ALTER TABLE users MODIFY COLUMN code VARCHAR(255) BINARY NOT NULL",  # BinaryColumnConstraint
    "CREATE INDEX i ON users (a, a)",
    "CREATE UNIQUE INDEX CONCURRENTLY i ON users (a)",
    "DROP INDEX i",
    "DROP TABLE users CASCADE",
    "TRUNCATE users CASCADE",
    "UPDATE users SET a = 1, a = 2",
    "UPDATE users SET a = 1 WHERE b = NULL",
    "DELETE FROM users",
    "INSERT INTO users VALUES (1, 'x')",
    "INSERT INTO users SELECT * FROM t ORDER BY random()",
    "SELECT * FROM users WHERE name LIKE '%x'",
    "BEGIN",
    "COMMIT",
    "SET lock_timeout = '2s'",
    "CREATE FUNCTION f() RETURNS int LANGUAGE sql SECURITY DEFINER AS $$ SELECT 1; DROP TABLE x; $$",
    "DO $$ BEGIN DROP TABLE y; END $$",
    "CREATE ROLE r SUPERUSER PASSWORD 'secret'",
    "GRANT ALL ON users TO PUBLIC",
    "CREATE TABLE m (id int AUTO_INCREMENT PRIMARY KEY) ENGINE=MyISAM DEFAULT CHARSET=latin1",
    "ALTER TABLE m ADD COLUMN c int, ALGORITHM=COPY, LOCK=SHARED",
    "PRAGMA foreign_keys = OFF",
    "DELIMITER $$\nCREATE PROCEDURE p() BEGIN SELECT 1; END$$\nDELIMITER ;",
    "COPY t FROM stdin;\n1\t2\n\\.\n",
)
TOKEN = st.one_of(
    st.sampled_from(KEYWORDS),
    st.sampled_from(IDENTIFIERS),
    st.sampled_from(STRINGS),
    st.sampled_from(COMMENTS),
    st.sampled_from(DOLLARS),
    st.sampled_from(PUNCT),
    st.sampled_from(STATEMENTS),
    DIRECTIVES,
)
SOUP = st.builds(
    lambda parts: "".join(p + s for p, s in parts),
    st.lists(st.tuples(TOKEN, st.sampled_from((" ", " ", " ", "\n", "", ";\n"))), max_size=40),
)


@pytest.mark.parametrize("dialect", DIALECTS)
@SETTINGS
@given(sql=SOUP)
def test_random_fragments(dialect: str, sql: str) -> None:
    check(sql, dialect)


@pytest.mark.parametrize("dialect", DIALECTS)
@SETTINGS
@given(statements=st.lists(st.sampled_from(STATEMENTS), min_size=1, max_size=12),
       directives=st.lists(DIRECTIVES, max_size=3), cut=st.integers(min_value=0, max_value=2000))
def test_statement_sequences(dialect: str, statements: list[str], directives: list[str], cut: int) -> None:
    """Whole statements (so rules see real trees) with directives, and the same file cut short."""
    sql = ";\n".join(statements + directives) + ";\n"
    check(sql, dialect)
    check(sql[:cut], dialect)


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize("sql", [
    "DROP TABLE;",  # pglast: "syntax error at end of input" with no location
    "select (",
    "CREATE TABLE",
    "\\connect db\nDROP TABLE t;",
    "-- sluice:ignore\n",
    "\ufeff-- sluice:ignore table.disallow-drop\nDROP TABLE t;",
])
def test_known_edges(dialect: str, sql: str) -> None:
    check(sql, dialect)
    check(sql.encode(), dialect)
