"""The engine's findings pipeline: what a message may carry, where a finding is placed, which
directive suppresses it, and what may never be suppressed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from reviews.engine import Policy, review_file

ROOT = Path(__file__).resolve().parents[2]


def review(sql: str | bytes, dialect: str = "postgres", path: str = "0001_x.sql"):
    return review_file(path, sql, dialect, Policy.recommended())


def only(review_, rule: str) -> list:
    return [f for f in review_.findings if f.rule == rule]


# -- messages: bounded, passwords masked --------------------------------------------------------


def test_a_parser_message_is_bounded_to_its_first_line_and_a_short_quote():
    # PostgreSQL quotes the rest of the file after an unterminated dollar quote.
    sql = "SELECT 1;\nCREATE FUNCTION f() RETURNS int LANGUAGE sql AS $$ SELECT 1;\n" + "SELECT 2;\n" * 20_000
    [syntax] = only(review(sql), "system.syntax-error")
    assert syntax.line == 2
    assert "\n" not in syntax.message and len(syntax.message) < 150, syntax.message
    assert syntax.message.startswith('unterminated dollar-quoted string at or near "$$ SELECT 1;')
    assert syntax.message.endswith(' …"')


@pytest.mark.parametrize(("dialect", "sql", "leak"), [
    ("postgres", "CREATE USER app WITH PASSWORD 'hunter2;\n", "hunter2"),
    ("postgres", "ALTER ROLE app PASSWORD 'hun'ter2';\n", "ter2"),
    ("postgres", "CREATE USER app WITH PASSWORD hunter2;\n", "hunter2"),
    ("mysql", "CREATE USER 'app'@'%' IDENTIFIED BY 'hunter2;\n", "hunter2"),
    ("mysql", "ALTER USER 'app'@'%' IDENTIFIED BY 'hun'ter2';\n", "ter2"),
])
def test_a_syntax_error_never_shows_the_password(dialect, sql, leak):
    [syntax] = only(review(sql, dialect), "system.syntax-error")
    assert leak not in syntax.message, syntax.message
    if "PASSWORD hunter2" not in sql:  # (a bare word is no literal: the excerpt keeps it)
        assert leak not in syntax.statement, syntax.statement


def test_a_syntax_error_shows_what_is_no_password():
    # (A column named like the keyword holds no password: the parser's quote stays.)
    sql = "CREATE TABLE u (name text, password_hash text, password text, at bigint UNSIGNED);\n"
    [syntax] = only(review(sql), "system.syntax-error")
    assert syntax.message == 'syntax error at or near "UNSIGNED"'


def test_every_message_passes_through_redact():
    from reviews.engine.core import _Collector

    out = _Collector("x.sql", Policy.recommended(), "mysql")
    out.add("table.disallow-drop", "see ALTER USER u IDENTIFIED BY 'hunter2'", None)
    assert out.findings[0].message == "see ALTER USER u IDENTIFIED BY '***'"


# -- locations -----------------------------------------------------------------------------------


def test_encoding_error_columns_count_characters():
    [bad] = only(review(b"SELECT 1;\nSELECT 'caf\xc3\xa9 \xff';\n"), "system.encoding-error")  # é: 2 bytes
    assert (bad.line, bad.column) == (2, 14)
    [nul] = only(review(b"SELECT 1;\nSELECT 'a\x00b';\n"), "system.encoding-error")
    assert (nul.line, nul.column) == (2, 10)
    # With a BOM, the first line's columns start after it, as the statements' do.
    [first] = only(review(b"\xef\xbb\xbfSELECT '\xff';\n"), "system.encoding-error")
    assert (first.line, first.column) == (1, 9)


def test_syntax_error_at_end_of_input_is_at_the_end_of_the_statement():
    [syntax] = only(review("SELECT 1;\nCREATE TABLE b (\n  id int"), "system.syntax-error")
    assert syntax.message == "syntax error at end of input"
    assert (syntax.line, syntax.column) == (3, 9)


def test_a_file_with_lone_cr_line_breaks_gets_its_lines():
    found = review("SELECT 1;\rSELECT 2 3;\r")
    [syntax] = only(found, "system.syntax-error")
    assert (syntax.line, syntax.column) == (2, 10)
    drops = only(review(b"SELECT 1;\r\rDROP TABLE a;\r"), "table.disallow-drop")
    assert [(f.line, f.column) for f in drops] == [(3, 1)]


def test_a_file_name_that_is_not_utf8_is_reviewed():
    path = "db/1_\udcffbad.sql"  # what os.fsdecode makes of the byte 0xff
    found = review(b"-- sluice:lock-timeout 2s\n-- sluice:statement-timeout 1min\nDROP TABLE x;\n", path=path)
    assert [(f.rule, f.file) for f in found.findings] == [("table.disallow-drop", path)]
    assert found.findings[0].fingerprint


# A bug in the engine, put in its place. (On the Python sources, in a child process: the compiled
# review_file calls the compiled _review directly, past any attribute set on the module.)
_BROKEN_ENGINE = """
import json
from reviews.engine import Policy, core, review_file

def broken(*args, **kwargs):
    raise RuntimeError("bug\\nsecond line PASSWORD 'hunter2'")

core._review = broken
[finding] = review_file("db/1_\\udcffbad.sql", b"SELECT 1;\\n", "postgres", Policy.recommended()).findings
print(json.dumps([finding.file, finding.rule, finding.message, bool(finding.fingerprint)]))
"""


def test_the_fallback_for_an_internal_error_does_not_raise():
    env = {**os.environ, "SLUICE_PURE_PYTHON": "1"}
    run = subprocess.run([sys.executable, "-c", _BROKEN_ENGINE], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout) == ["db/1_\udcffbad.sql", "system.syntax-error",
                                      "internal error while reviewing this file: RuntimeError: bug", True]


# -- directives ----------------------------------------------------------------------------------


def test_a_directive_in_the_leading_block_covers_the_file_without_a_blank_line():
    sql = ("-- Add the audit table (legacy, no PK by design)\n-- sluice:ignore table.require-pk\n"
           "SET lock_timeout = '5s';\nCREATE TABLE audit_log (at timestamptz, msg text);\n")
    found = review(sql)
    assert [(f.rule, f.line, f.suppressed) for f in found.findings
            if f.rule.startswith(("table.require-pk", "system."))] == [("table.require-pk", 4, True)]


def test_a_directive_above_two_statements_on_a_line_covers_the_first():
    sql = "SELECT 1;\n-- sluice:ignore table.require-pk\nCREATE TABLE a (id int); CREATE TABLE b (id int);\n"
    found = review(sql)
    assert [(f.rule, f.line, f.column, f.suppressed) for f in found.findings
            if f.rule.startswith(("table.require-pk", "system."))] == [
        ("table.require-pk", 3, 1, True), ("table.require-pk", 3, 26, False)]


def test_syntax_and_encoding_errors_cannot_be_suppressed():
    data = b"-- sluice:ignore system.encoding-error, system.syntax-error\nSELECT '\xe9';\nCREATE TABLE (;\n"
    found = review(data)
    assert {(f.rule, f.suppressed) for f in found.findings if f.rule in (
        "system.encoding-error", "system.syntax-error")} == {("system.encoding-error", False),
                                                            ("system.syntax-error", False)}
    invalid = only(found, "system.invalid-ignore-directive")
    assert [(f.line, f.severity) for f in invalid] == [(1, "warning"), (1, "warning")]
    assert all("cannot be suppressed" in f.message for f in invalid)
    # Above a statement too.
    found = review("SELECT 1;\n-- sluice:ignore system.syntax-error\nSELEC 2;\n")
    assert [f.suppressed for f in only(found, "system.syntax-error")] == [False]


def test_mysql_reviews_what_an_executable_comment_holds():
    """MySQL runs the content of `/*! … */` (mysqldump writes statements and clauses so): a DROP
    DATABASE or a MyISAM table there is no comment to the review."""
    sql = ("/*!40000 DROP DATABASE prod */;\n"
           "CREATE TABLE t (id bigint PRIMARY KEY) /*!50100 ENGINE=MyISAM */;\n"
           "/*!50003 DROP TABLE users */;\n"
           "/*!40101 SET NAMES utf8mb4 */;\n"
           "/*M!100100 DROP TABLE orders */;\n")
    found = review_file("0001_x.sql", sql, "mysql", Policy.recommended()).findings
    assert {(f.rule, f.line) for f in found if f.severity == "error"} == {
        ("database.disallow-drop", 1), ("engine.mysql.use-innodb", 2), ("table.disallow-drop", 3),
        ("table.disallow-drop", 5)}
    assert not [f for f in found if f.rule == "system.parse-unsupported"]
    # Shown as written.
    assert [f.statement for f in found if f.rule == "database.disallow-drop"] == ["/*!40000 DROP DATABASE prod */"]


def test_mysql_executable_comments_in_strings_or_unterminated_stay_as_written():
    found = review_file("0001_x.sql", "SELECT '/*!40000 DROP DATABASE prod */';\n", "mysql",
                        Policy.everything()).findings
    assert not [f for f in found if f.rule == "database.disallow-drop"]
    found = review_file("0001_x.sql", "/*!40000 DROP DATABASE prod;\n", "mysql", Policy.recommended()).findings
    assert [f.rule for f in found if f.rule.startswith("system.")] == ["system.syntax-error"]
