"""Golden tests for reviews.splitter: exact text, line, column and end line of every statement."""

from __future__ import annotations

import dataclasses

import pglast
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reviews.splitter import DIALECTS, Statement, split, split_for_review, split_judged

Row = tuple[str, int, int, int]  # (text, line, column, end_line)


def rows(sql: str, dialect: str) -> list[Row]:
    statements = split(sql, dialect)
    check_invariants(sql, statements)
    return [(s.text, s.line, s.column, s.end_line) for s in statements]


def check_invariants(sql: str, statements: list[Statement]) -> None:
    previous_end = 0
    for s in statements:
        assert sql[s.start : s.end] == s.text
        assert s.text and s.text == s.text.strip(" \t\n\r\f\v")
        assert previous_end <= s.start < s.end <= len(sql)
        assert 1 <= s.line <= s.end_line
        assert s.column >= 1
        # line and end_line agree with the offsets
        assert s.line == sql.count("\n", 0, s.start) + 1
        assert s.end_line == sql.count("\n", 0, s.end - 1) + 1
        previous_end = s.end


# ---------------------------------------------------------------------------------------------
# Interface
# ---------------------------------------------------------------------------------------------


def test_interface() -> None:
    assert DIALECTS == ("postgres", "mysql", "sqlite")
    [s] = split("SELECT 1;", "postgres")
    assert s == Statement(text="SELECT 1", start=0, end=8, line=1, column=1, end_line=1)
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.text = "x"  # type: ignore[misc]


def test_verdicts_say_what_postgresql_accepted_while_splitting() -> None:
    # The whole file parses: every statement was accepted.
    statements, accepted = split_judged("CREATE TABLE t (id int);\nSELECT 'é' AS café;", "postgres")
    assert [s.text for s in statements] == ["CREATE TABLE t (id int)", "SELECT 'é' AS café"]
    assert accepted == [True, True]
    # One broken statement: those around it were parsed in windows and accepted, the broken one
    # (and a psql meta-command, which no parser read) not.
    sql = "SELECT 1;\nSELEC 2;\n\\set x 1\nSELECT 3;"
    statements, accepted = split_judged(sql, "postgres")
    assert [s.text for s in statements] == ["SELECT 1", "SELEC 2", "\\set x 1", "SELECT 3"]
    assert accepted == [True, False, False, True]
    assert statements == split(sql, "postgres")
    # No parser judges while splitting MySQL or SQLite.
    for dialect in ("mysql", "sqlite"):
        assert split_judged("SELECT 1; SELECT 2", dialect)[1] == [False, False]


def test_unknown_dialect() -> None:
    with pytest.raises(ValueError):
        split("SELECT 1", "oracle")


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize(
    "sql", ["", "   \n\t", ";;", " ; ;\n;", "-- only a comment", "/* a */\n-- b\n", "\ufeff"]
)
def test_nothing_to_run(sql: str, dialect: str) -> None:
    assert split(sql, dialect) == []


@pytest.mark.parametrize("dialect", DIALECTS)
def test_empty_statements_and_no_final_semicolon(dialect: str) -> None:
    sql = ";;SELECT 1;;;\n  SELECT 2"
    assert rows(sql, dialect) == [("SELECT 1", 1, 3, 1), ("SELECT 2", 2, 3, 2)]


@pytest.mark.parametrize("dialect", DIALECTS)
def test_leading_comments_excluded_line_is_first_token(dialect: str) -> None:
    sql = "-- header\n-- more\n\n/* block\n   comment */\n  SELECT a,\n         b\n  FROM t; -- after\n/* x */ SELECT 2"
    assert rows(sql, dialect) == [
        ("SELECT a,\n         b\n  FROM t", 6, 3, 8),
        ("SELECT 2", 9, 9, 9),
    ]


@pytest.mark.parametrize("dialect", DIALECTS)
def test_crlf(dialect: str) -> None:
    sql = "SELECT 1;\r\n\r\nSELECT\r\n  2\r\n;\r\n  SELECT 3\r\n"
    assert rows(sql, dialect) == [
        ("SELECT 1", 1, 1, 1),
        ("SELECT\r\n  2", 3, 1, 4),
        ("SELECT 3", 6, 3, 6),
    ]


@pytest.mark.parametrize("dialect", DIALECTS)
def test_bom(dialect: str) -> None:
    sql = "\ufeffCREATE TABLE t (a int);\nSELECT 1;"
    statements = split(sql, dialect)
    check_invariants(sql, statements)
    assert [(s.text, s.start, s.line, s.column) for s in statements] == [
        ("CREATE TABLE t (a int)", 1, 1, 1),  # the BOM is skipped, but offsets index the given string
        ("SELECT 1", 25, 2, 1),
    ]


@pytest.mark.parametrize("dialect", DIALECTS)
def test_non_ascii_before_statements(dialect: str) -> None:
    # é is 2 bytes in UTF-8, 😀 4 bytes (and 1 character, as in Python): offsets are characters.
    sql = "-- é😀 ü\n/* ü */ SELECT 'é😀;' AS x;\nSELECT 2"
    statements = split(sql, dialect)
    check_invariants(sql, statements)
    assert [(s.text, s.start, s.end, s.line, s.column) for s in statements] == [
        ("SELECT 'é😀;' AS x", 16, 33, 2, 9),
        ("SELECT 2", 35, 43, 3, 1),
    ]


# ---------------------------------------------------------------------------------------------
# PostgreSQL
# ---------------------------------------------------------------------------------------------


def test_pg_dollar_quoted_bodies() -> None:
    sql = (
        "CREATE FUNCTION f() RETURNS int AS $$\n"
        "BEGIN\n"
        "  RAISE NOTICE 'a;b';\n"
        "  RETURN 1;\n"
        "END;\n"
        "$$ LANGUAGE plpgsql;\n"
        "CREATE FUNCTION g() RETURNS text LANGUAGE sql AS $body$ SELECT '$$;' || $x$;$x$; $body$;\n"
        "SELECT 3;"
    )
    assert rows(sql, "postgres") == [
        (
            "CREATE FUNCTION f() RETURNS int AS $$\nBEGIN\n  RAISE NOTICE 'a;b';\n  RETURN 1;\nEND;\n"
            "$$ LANGUAGE plpgsql",
            1,
            1,
            6,
        ),
        ("CREATE FUNCTION g() RETURNS text LANGUAGE sql AS $body$ SELECT '$$;' || $x$;$x$; $body$", 7, 1, 7),
        ("SELECT 3", 8, 1, 8),
    ]


def test_pg_do_block() -> None:
    sql = "DO $$\nDECLARE n int;\nBEGIN\n  n := 1;\nEND\n$$;\nDO LANGUAGE plpgsql $do$ BEGIN NULL; END $do$;"
    assert rows(sql, "postgres") == [
        ("DO $$\nDECLARE n int;\nBEGIN\n  n := 1;\nEND\n$$", 1, 1, 6),
        ("DO LANGUAGE plpgsql $do$ BEGIN NULL; END $do$", 7, 1, 7),
    ]


def test_pg_begin_atomic() -> None:
    sql = (
        "CREATE FUNCTION add(a int, b int) RETURNS int\n"
        "    LANGUAGE sql\n"
        "BEGIN ATOMIC\n"
        "    SELECT a + b;\n"
        "    SELECT 2;\n"
        "END;\n"
        "CREATE PROCEDURE p() LANGUAGE sql BEGIN ATOMIC INSERT INTO t VALUES (1); END;\n"
        "SELECT 1;"
    )
    assert rows(sql, "postgres") == [
        (
            "CREATE FUNCTION add(a int, b int) RETURNS int\n    LANGUAGE sql\nBEGIN ATOMIC\n"
            "    SELECT a + b;\n    SELECT 2;\nEND",
            1,
            1,
            6,
        ),
        ("CREATE PROCEDURE p() LANGUAGE sql BEGIN ATOMIC INSERT INTO t VALUES (1); END", 7, 1, 7),
        ("SELECT 1", 8, 1, 8),
    ]


def test_pg_semicolons_in_strings_comments_identifiers() -> None:
    sql = (
        "SELECT 'a;b', E'\\';', 'it''s;' AS \"a;b\"; -- c;d\n"
        "SELECT 1 /* x; /* nested; */ still; */ + 2;\n"
        "SELECT U&'d\\0061t;a', $$;$$;"
    )
    assert rows(sql, "postgres") == [
        ("SELECT 'a;b', E'\\';', 'it''s;' AS \"a;b\"", 1, 1, 1),
        ("SELECT 1 /* x; /* nested; */ still; */ + 2", 2, 1, 2),
        ("SELECT U&'d\\0061t;a', $$;$$", 3, 1, 3),
    ]


def test_pg_trailing_comments_before_semicolon_are_not_text() -> None:
    sql = "SELECT 1 /* trailing */ ;\nSELECT '--' -- trailing\n;\nSELECT 3 -- last"
    assert rows(sql, "postgres") == [("SELECT 1", 1, 1, 1), ("SELECT '--'", 2, 1, 2), ("SELECT 3", 4, 1, 4)]


def test_pg_syntax_error_in_the_middle() -> None:
    sql = (
        "CREATE TABLE a (id int);\n"
        "-- the broken one\n"
        "CREATE TABLE b (id int,, name text);\n"
        "CREATE FUNCTION f() RETURNS int LANGUAGE sql\n"
        "BEGIN ATOMIC\n"
        "  SELECT 1;\n"
        "END;\n"
        "INSERT INTO a VALUES (1), ('x;y');"
    )
    assert rows(sql, "postgres") == [
        ("CREATE TABLE a (id int)", 1, 1, 1),
        ("CREATE TABLE b (id int,, name text)", 3, 1, 3),
        ("CREATE FUNCTION f() RETURNS int LANGUAGE sql\nBEGIN ATOMIC\n  SELECT 1;\nEND", 4, 1, 7),
        ("INSERT INTO a VALUES (1), ('x;y')", 8, 1, 8),
    ]


def test_pg_broken_statements_stay_in_their_own_pieces() -> None:
    sql = (
        "SELECT 'é';\n"
        "SELEC 2;\n"  # error at the start
        "SELECT (3;\n"  # error at the ";"
        "CREATE TABLE t (a int\n;\n"  # incomplete CREATE: not joined with what follows
        "SELECT 4;\n"
        "SELECT 5 +"  # incomplete at the end of the file
    )
    assert rows(sql, "postgres") == [
        ("SELECT 'é'", 1, 1, 1),
        ("SELEC 2", 2, 1, 2),
        ("SELECT (3", 3, 1, 3),
        ("CREATE TABLE t (a int", 4, 1, 4),
        ("SELECT 4", 6, 1, 6),
        ("SELECT 5 +", 7, 1, 7),
    ]


def test_pg_broken_begin_atomic_stays_whole() -> None:
    sql = (
        "SELECT 1;\n"
        "CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC\n"
        "  SELECT 1;\n"
        "  SELEC 2;\n"
        "  SELECT 3;\n"
        "END;\n"
        "SELECT 4;"
    )
    assert rows(sql, "postgres") == [
        ("SELECT 1", 1, 1, 1),
        (
            "CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC\n  SELECT 1;\n  SELEC 2;\n"
            "  SELECT 3;\nEND",
            2,
            1,
            6,
        ),
        ("SELECT 4", 7, 1, 7),
    ]


def test_pg_rule_with_several_actions_in_a_file_with_an_error() -> None:
    sql = (
        "CREATE RULE r AS ON INSERT TO t DO INSTEAD (INSERT INTO a VALUES (1); UPDATE b SET x = 1);\n"
        "SELEC 1;\n"
        "CREATE RULE s AS ON DELETE TO t DO ALSO (DELETE FROM a; UPDAT b SET x = 1);\n"
        "SELECT 2;"
    )
    assert rows(sql, "postgres") == [
        (
            "CREATE RULE r AS ON INSERT TO t DO INSTEAD (INSERT INTO a VALUES (1); UPDATE b SET x = 1)",
            1,
            1,
            1,
        ),
        ("SELEC 1", 2, 1, 2),
        ("CREATE RULE s AS ON DELETE TO t DO ALSO (DELETE FROM a; UPDAT b SET x = 1)", 3, 1, 3),
        ("SELECT 2", 4, 1, 4),
    ]


def test_pg_non_ascii_offsets_in_the_fallback_path() -> None:
    sql = "-- 😀😀\nSELECT 'é';\nSELEC 'ü😀';\n/* ü */ SELECT 3;"
    statements = split(sql, "postgres")
    check_invariants(sql, statements)
    assert [(s.text, s.start, s.line, s.column) for s in statements] == [
        ("SELECT 'é'", 6, 2, 1),
        ("SELEC 'ü😀'", 18, 3, 1),
        ("SELECT 3", 38, 4, 9),
    ]


def test_pg_unterminated_quote_runs_to_the_end() -> None:
    # As in PostgreSQL: an unterminated literal swallows the rest of the input.
    sql = "SELECT 1;\nSELECT 'oops;\nSELECT 2;\n"
    assert rows(sql, "postgres") == [("SELECT 1", 1, 1, 1), ("SELECT 'oops;\nSELECT 2;", 2, 1, 3)]


def test_pg_psql_meta_commands() -> None:
    sql = "\\set ON_ERROR_STOP on\nSELECT 1;\n\\connect other\nSELECT 2\n\\gset\nSELECT 3;"
    assert rows(sql, "postgres") == [
        ("\\set ON_ERROR_STOP on", 1, 1, 1),
        ("SELECT 1", 2, 1, 2),
        ("\\connect other", 3, 1, 3),
        ("SELECT 2", 4, 1, 4),
        ("\\gset", 5, 1, 5),
        ("SELECT 3", 6, 1, 6),
    ]


def test_pg_copy_from_stdin_data() -> None:
    sql = "COPY t (a, b) FROM stdin;\n1\tit's; fine\n2\t\\N\n\\.\nSELECT 1;"
    assert rows(sql, "postgres") == [
        ("COPY t (a, b) FROM stdin", 1, 1, 1),
        ("1\tit's; fine\n2\t\\N\n\\.", 2, 1, 4),
        ("SELECT 1", 5, 1, 5),
    ]


# ---------------------------------------------------------------------------------------------
# MySQL
# ---------------------------------------------------------------------------------------------


def test_mysql_delimiter_procedure() -> None:
    sql = (
        "DROP PROCEDURE IF EXISTS p;\n"
        "DELIMITER $$\n"
        "CREATE PROCEDURE p(IN n INT)\n"
        "BEGIN\n"
        "  DECLARE i INT DEFAULT 0;\n"
        "  SELECT 'a;b';\n"
        "END$$\n"
        "DELIMITER ;\n"
        "CALL p(1);\n"
    )
    assert rows(sql, "mysql") == [
        ("DROP PROCEDURE IF EXISTS p", 1, 1, 1),
        ("CREATE PROCEDURE p(IN n INT)\nBEGIN\n  DECLARE i INT DEFAULT 0;\n  SELECT 'a;b';\nEND", 3, 1, 7),
        ("CALL p(1)", 9, 1, 9),
    ]


def test_mysql_delimiter_trigger_and_function() -> None:
    sql = (
        "delimiter //\n"
        "CREATE TRIGGER trg BEFORE INSERT ON t FOR EACH ROW\n"
        "BEGIN\n"
        "  SET NEW.a = 1;\n"
        "END //\n"
        "CREATE FUNCTION f() RETURNS INT DETERMINISTIC BEGIN RETURN 1; END;\n"
        "//\n"
        "SELECT 1 // SELECT 2//\n"
        "DELIMITER ;\n"
        "SELECT 3;"
    )
    assert rows(sql, "mysql") == [
        ("CREATE TRIGGER trg BEFORE INSERT ON t FOR EACH ROW\nBEGIN\n  SET NEW.a = 1;\nEND", 2, 1, 5),
        ("CREATE FUNCTION f() RETURNS INT DETERMINISTIC BEGIN RETURN 1; END", 6, 1, 6),
        ("SELECT 1", 8, 1, 8),
        ("SELECT 2", 8, 13, 8),
        ("SELECT 3", 10, 1, 10),
    ]


def test_mysql_compound_body_without_delimiter() -> None:
    sql = (
        "CREATE DEFINER=`root`@`%` PROCEDURE p(IN a INT)\n"
        "lbl: BEGIN\n"
        "  IF a > 1 THEN SELECT IF(a, 1, 2); ELSE SET a = 0; END IF;\n"
        "  CASE a WHEN 1 THEN SELECT 1; ELSE BEGIN END; END CASE;\n"
        "  SET a = CASE WHEN a THEN IF(a, 1, 2) ELSE REPEAT('x', 2) END;\n"
        "  WHILE a > 0 DO SET a = a - 1; END WHILE;\n"
        "  REPEAT SET a = a + 1; UNTIL a > 3 END REPEAT;\n"
        "  l2: LOOP LEAVE l2; END LOOP l2;\n"
        "END lbl;\n"
        "BEGIN;\n"
        "CREATE TABLE t (a INT);\n"
        "COMMIT;"
    )
    assert rows(sql, "mysql") == [
        (sql[: sql.index(" lbl;") + 4], 1, 1, 9),
        ("BEGIN", 10, 1, 10),
        ("CREATE TABLE t (a INT)", 11, 1, 11),
        ("COMMIT", 12, 1, 12),
    ]


def test_mysql_trigger_and_event_without_delimiter() -> None:
    sql = (
        "CREATE TRIGGER t1 AFTER INSERT ON a FOR EACH ROW IF NEW.x THEN INSERT INTO b VALUES (1); END IF;\n"
        "CREATE EVENT e ON SCHEDULE EVERY 1 DAY DO BEGIN DELETE FROM a; DELETE FROM b; END;\n"
        "SELECT 1;"
    )
    assert rows(sql, "mysql") == [
        (
            "CREATE TRIGGER t1 AFTER INSERT ON a FOR EACH ROW IF NEW.x THEN INSERT INTO b VALUES (1); END IF",
            1,
            1,
            1,
        ),
        ("CREATE EVENT e ON SCHEDULE EVERY 1 DAY DO BEGIN DELETE FROM a; DELETE FROM b; END", 2, 1, 2),
        ("SELECT 1", 3, 1, 3),
    ]


def test_mysql_unclosed_body_does_not_swallow_the_file() -> None:
    sql = "CREATE PROCEDURE p() BEGIN SELECT 1;\nSELECT 2;\nSELECT 3;"
    assert rows(sql, "mysql") == [
        ("CREATE PROCEDURE p() BEGIN SELECT 1", 1, 1, 1),
        ("SELECT 2", 2, 1, 2),
        ("SELECT 3", 3, 1, 3),
    ]


def test_mysql_quotes_and_comments() -> None:
    sql = (
        "SELECT `a;b`, 'it\\'s;', 'x'';y', \"q;\\\"\" FROM t # c;d\n"
        ";\n"
        "SELECT 1 -- c;d\n"
        "+ 1 /* e;f */;\n"
        "SELECT 2--1;\n"  # "--" without a blank is not a comment in MySQL
        "/*!40101 SET NAMES utf8mb4 */;\n"
        "/*!50003 CREATE*/ /*!50003 TRIGGER x BEFORE INSERT ON t FOR EACH ROW BEGIN SET @a = 1; END */;\n"
    )
    assert rows(sql, "mysql") == [
        ("SELECT `a;b`, 'it\\'s;', 'x'';y', \"q;\\\"\" FROM t", 1, 1, 1),
        ("SELECT 1 -- c;d\n+ 1", 3, 1, 4),
        ("SELECT 2--1", 5, 1, 5),
        ("/*!40101 SET NAMES utf8mb4 */", 6, 1, 6),
        (
            "/*!50003 CREATE*/ /*!50003 TRIGGER x BEFORE INSERT ON t FOR EACH ROW BEGIN SET @a = 1; END */",
            7,
            1,
            7,
        ),
    ]


@pytest.mark.parametrize("dialect", ["mysql", "sqlite"])
def test_tokenizer_error_does_not_raise(dialect: str) -> None:
    sql = "SELECT 1;\nSELECT 'unterminated;\nSELECT 3;\n"
    assert rows(sql, dialect) == [("SELECT 1", 1, 1, 1), ("SELECT 'unterminated;\nSELECT 3;", 2, 1, 3)]
    # SQLite reads an unclosed comment to the end of the input; MySQL's server refuses it (the
    # statement the review reports, and on which the runner stops, not skipped in silence).
    assert rows("SELECT 1; /* unterminated comment", dialect) == [("SELECT 1", 1, 1, 1)] + (
        [("/* unterminated comment", 1, 11, 1)] if dialect == "mysql" else [])
    assert rows("SELECT `a", "mysql") == [("SELECT `a", 1, 1, 1)]


def test_mysql_invalid_hex_literal_does_not_raise() -> None:
    assert rows("SELECT 1;\nSELECT x'zz';", "mysql") == [("SELECT 1", 1, 1, 1), ("SELECT x'zz';", 2, 1, 2)]


# ---------------------------------------------------------------------------------------------
# SQLite
# ---------------------------------------------------------------------------------------------


def test_sqlite_trigger() -> None:
    sql = (
        "CREATE TABLE t (a, b);\n"
        "CREATE TRIGGER tr AFTER INSERT ON t\n"
        "BEGIN\n"
        "  UPDATE t SET b = CASE WHEN new.a THEN 1 END WHERE rowid = new.rowid;\n"
        "  SELECT 'x;y', [c;d], \"e;f\";\n"
        "END;\n"
        "INSERT INTO t VALUES (1, 2);"
    )
    assert rows(sql, "sqlite") == [
        ("CREATE TABLE t (a, b)", 1, 1, 1),
        (
            "CREATE TRIGGER tr AFTER INSERT ON t\nBEGIN\n"
            "  UPDATE t SET b = CASE WHEN new.a THEN 1 END WHERE rowid = new.rowid;\n"
            "  SELECT 'x;y', [c;d], \"e;f\";\nEND",
            2,
            1,
            6,
        ),
        ("INSERT INTO t VALUES (1, 2)", 7, 1, 7),
    ]


def test_sqlite_trigger_without_final_semicolon_and_unfinished_trigger() -> None:
    assert rows("CREATE TEMP TRIGGER tr AFTER DELETE ON t BEGIN DELETE FROM u; END", "sqlite") == [
        ("CREATE TEMP TRIGGER tr AFTER DELETE ON t BEGIN DELETE FROM u; END", 1, 1, 1)
    ]
    # Never completes: cut at its first ";" rather than swallowing the rest of the file.
    sql = "CREATE TRIGGER tr AFTER DELETE ON t BEGIN DELETE FROM u;\nSELECT 1;\nSELECT 2;"
    assert rows(sql, "sqlite") == [
        ("CREATE TRIGGER tr AFTER DELETE ON t BEGIN DELETE FROM u", 1, 1, 1),
        ("SELECT 1", 2, 1, 2),
        ("SELECT 2", 3, 1, 3),
    ]


# ---------------------------------------------------------------------------------------------
# Large inputs
# ---------------------------------------------------------------------------------------------


def big_insert(rows_count: int) -> str:
    values = ",\n".join(f"({i}, 'name {i}; é', NULL)" for i in range(rows_count))
    return f"-- data\nINSERT INTO t (a, b, c) VALUES\n{values};\n"


@pytest.mark.slow
@pytest.mark.parametrize("dialect", DIALECTS)
def test_one_megabyte_statement(dialect: str) -> None:
    sql = big_insert(50_000 if dialect == "postgres" else 20_000)  # sqlglot's tokenizer is slower
    assert len(sql) > (1_000_000 if dialect == "postgres" else 400_000)
    [s] = split(sql, dialect)
    assert s.text == sql[8:-2] and (s.start, s.line, s.column) == (8, 2, 1)
    assert s.end_line == sql.count("\n")  # the last row's line: the final "\n" ends it


@pytest.mark.slow
def test_pg_large_files_with_errors_split_exactly() -> None:
    # Speed belongs to the benchmarks, not here; a quadratic fallback would still show as a
    # suite that takes minutes.
    lines = [f"CREATE TABLE t{i} (id int PRIMARY KEY, name text DEFAULT 'x;y');\n" for i in range(20_000)]
    statements = "".join(lines)
    broken = "".join(lines[:10_000]) + "CREATE TABLE oops (id int,, x);\n" + "".join(lines[10_000:])
    many_errors = "".join(f"CREATE TABLE t{i} (id int);\nSELEC {i};\n" for i in range(5_000))
    for sql, count in ((statements, 20_000), (broken, 20_001), (many_errors, 10_000)):
        assert len(split(sql, "postgres")) == count
    result = split(broken, "postgres")
    assert result[10_000].text == "CREATE TABLE oops (id int,, x)" and result[10_000].line == 10_001
    assert result[-1].text == "CREATE TABLE t19999 (id int PRIMARY KEY, name text DEFAULT 'x;y')"
    assert result[-1].line == 20_001


# ---------------------------------------------------------------------------------------------
# Properties
# ---------------------------------------------------------------------------------------------

SQL_ALPHABET = st.sampled_from(
    list("abcEeBGINTAOMDLRUX ;;;'\"`$$/*--#\\\n\r\t()[]{}:=,.0123456789@!&")
    + ["é", "😀", "\ufeff", "\x00", "\ud800"]
)
GARBAGE = st.one_of(st.text(SQL_ALPHABET, max_size=120), st.text(max_size=80))


@pytest.mark.parametrize("dialect", DIALECTS)
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sql=GARBAGE)
def test_never_raises_and_statements_are_consistent(dialect: str, sql: str) -> None:
    check_invariants(sql, split(sql, dialect))


PG_VALID = [
    "SELECT 1",
    "SELECT 'a;b', E'\\';' AS \"c;d\"",
    "CREATE FUNCTION f() RETURNS int AS $$ SELECT 1; $$ LANGUAGE sql",
    "CREATE FUNCTION g() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; SELECT 2; END",
    "CREATE RULE r AS ON INSERT TO t DO INSTEAD (INSERT INTO a VALUES (1); DELETE FROM b)",
    "DO $x$ BEGIN PERFORM 1; END $x$",
    "INSERT INTO t VALUES (1, 'é😀')",
    "CREATE TABLE t (a int /* ; */)",
]
PG_BROKEN = [
    "SELEC 1",
    "SELECT (1",
    "CREATE TABLE t (a int",
    "SELECT 1 +",
    "CREATE TABL x",
    "ALTER TABLE",
    "@x@ y",
]
SEPARATORS = [";\n", "; ", ";\n-- c;\n", ";\n/* c; */\n", ";;\n"]


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(PG_VALID + PG_BROKEN), st.sampled_from(SEPARATORS)), min_size=1, max_size=12
    )
)
def test_pg_valid_statements_stay_exact_around_broken_ones(pieces: list[tuple[str, str]]) -> None:
    sql = "".join(text + separator for text, separator in pieces)
    assert [s.text for s in split(sql, "postgres")] == [text for text, _ in pieces]
    # What the splitter says PostgreSQL accepted, PostgreSQL accepts on its own (the review engine
    # does not parse it again); a broken statement is never marked.
    statements, accepted = split_judged(sql, "postgres")
    for statement, ok in zip(statements, accepted, strict=True):
        if ok:
            pglast.parser.split(statement.text)
        assert not (ok and statement.text in PG_BROKEN)


MYSQL_STATEMENTS = [
    "SELECT 1",
    "SELECT 'a;b', `c;d`",
    "CREATE PROCEDURE p() BEGIN IF 1 THEN SELECT 1; END IF; END",
    "CREATE TRIGGER t BEFORE INSERT ON x FOR EACH ROW BEGIN SET NEW.a = 1; END",
    "BEGIN",
    "/*!40101 SET NAMES utf8 */",
    "SELEC 1",
]


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(MYSQL_STATEMENTS), st.sampled_from(SEPARATORS)), min_size=1, max_size=12
    ),
    st.booleans(),
)
def test_mysql_statements_with_and_without_delimiter(pieces: list[tuple[str, str]], custom: bool) -> None:
    if custom:
        sql = "DELIMITER $$\n" + "".join(f"{text}$$\n" for text, _ in pieces) + "DELIMITER ;\n"
    else:
        sql = "".join(text + separator for text, separator in pieces)
    assert [s.text for s in split(sql, "mysql")] == [text for text, _ in pieces]


# ---------------------------------------------------------------------------------------------
# MySQL: the splitter's tokens stand for each statement's own (split_for_review)
# ---------------------------------------------------------------------------------------------


def _own_tokens(text: str) -> list[tuple]:
    from sqlglot.dialects.dialect import Dialect

    return [(t.token_type, t.text, t.comments, t.start, t.end) for t in Dialect.get_or_raise("mysql").tokenize(text)]


def assert_tokens_stand_for_statements(sql: str) -> int:
    """Every statement given tokens gets what sqlglot's MySQL tokenizer gives for its text alone:
    types, texts, comments; offsets shifted by the statement's start. Returns how many were given."""
    statements, _, tokens = split_for_review(sql, "mysql")
    assert len(tokens) == len(statements)
    given_tokens = 0
    for statement, read in zip(statements, tokens, strict=True):
        if read is None:
            continue
        given_tokens += 1
        shifted = [(t.token_type, t.text, t.comments, t.start - statement.start, t.end - statement.start) for t in read]
        assert shifted == _own_tokens(statement.text), statement.text
    return given_tokens


def test_mysql_tokens_of_the_split_are_the_statements_own() -> None:
    sql = (
        "-- leading comment\n/* and another */ CREATE TABLE `t` (id int /* inside */, b varchar(3)) -- trailing\n"
        "  /* before the semicolon */ ;\n"
        "ALTER TABLE t ADD c int; -- same line as the previous ';'\n"
        "# hash comment\nDROP TABLE x /* one */ /* two */\n;\n"
        "CREATE TABLE n (1st int);\n"
        "SELECT 1 -- at the end, no semicolon"
    )
    assert assert_tokens_stand_for_statements(sql) == 5
    # The comments that belong to a statement stay with it; the ones around it do not.
    statements, _, tokens = split_for_review(sql, "mysql")
    assert tokens[0][0].comments == []
    assert any(t.comments == [" inside "] for t in tokens[0])
    assert tokens[0][-1].comments == []
    assert statements[2].text == "DROP TABLE x" and tokens[2][-1].comments == []  # (read with the file: both)


def test_mysql_conditional_comments_are_comments_in_the_tokens() -> None:
    # The splitter reads /*! … */ as a statement's content (the server runs it); sqlglot, as a comment.
    sql = ("/*!40101 SET NAMES utf8 */;\n/*!50503 SET character_set_client = utf8mb4 */;\n"
           "CREATE TABLE t (a int) /*!50100 PARTITION BY HASH (a) */;\n"
           "/*!40101 SET x = 1 */ ; CREATE /*!32312 IF NOT EXISTS*/ TABLE u (b int);\n")
    statements, _, tokens = split_for_review(sql, "mysql")
    assert [s.text for s in statements] == [
        "/*!40101 SET NAMES utf8 */", "/*!50503 SET character_set_client = utf8mb4 */",
        "CREATE TABLE t (a int) /*!50100 PARTITION BY HASH (a) */", "/*!40101 SET x = 1 */",
        "CREATE /*!32312 IF NOT EXISTS*/ TABLE u (b int)",
    ]
    assert tokens[0] == [] and tokens[1] == [] and tokens[3] == []
    assert tokens[2] is not None and tokens[4] is not None
    assert assert_tokens_stand_for_statements(sql) == 5


def test_mysql_statements_whose_tokens_could_differ_get_none() -> None:
    sql = (
        "EXECUTE stmt USING @a;\n"  # sqlglot reads what follows a command word as one string
        "RENAME TABLE a TO b;\n"
        "CREATE TABLE begin (rename int);\n"  # BEGIN then a command word: a string after it
        "DELIMITER $$\nCREATE PROCEDURE p() BEGIN SELECT 1; END$$\nDELIMITER ;\n"
        "SELECT 2;\n"
    )
    statements, _, tokens = split_for_review(sql, "mysql")
    assert [s.text for s in statements][:3] == [
        "EXECUTE stmt USING @a", "RENAME TABLE a TO b", "CREATE TABLE begin (rename int)",
    ]
    assert tokens[:-1] == [None] * (len(statements) - 1)
    assert tokens[-1] is not None  # back on ";" (the whole input's tokens still hold after DELIMITER ;)
    assert_tokens_stand_for_statements(sql)
    for dialect in ("postgres", "sqlite"):
        assert split_for_review("SELECT 1; SELECT 2", dialect)[2] == [None, None]


MYSQL_TOKEN_PIECES = [
    "SELECT 1",
    "CREATE TABLE t (a int, b text)",
    "ALTER TABLE t ADD c int /* c */",
    "-- comment\nINSERT INTO t VALUES ('a;b', \"c\\\"\")",
    "/* block\ncomment */ UPDATE t SET a = 1",
    "SELECT /*+ BKA(t) */ a FROM t",
    "REPLACE INTO t VALUES (1)",
    "EXECUTE s",
    "BEGIN",
    "/*!40101 SET NAMES utf8 */",
    "SELECT 1 # hash",
    "CREATE TABLE u (2nd int)",
    "SELEC 1",
]
MYSQL_TOKEN_SEPARATORS = [";\n", "; ", " -- c\n;\n", ";\n/* c; */\n", ";;\n", "\n/* x */ ;", "; # y\n", ";\r\n"]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(MYSQL_TOKEN_PIECES), st.sampled_from(MYSQL_TOKEN_SEPARATORS)),
                min_size=1, max_size=10), st.booleans())
def test_mysql_split_tokens_property(pieces: list[tuple[str, str]], cut_last: bool) -> None:
    sql = "".join(text + separator for text, separator in pieces)
    if cut_last:
        sql = sql.rstrip().rstrip(";")
    assert_tokens_stand_for_statements(sql)


@settings(max_examples=300, deadline=None)
@given(sql=GARBAGE)
def test_mysql_split_tokens_on_garbage(sql: str) -> None:
    assert_tokens_stand_for_statements(sql)


# ---------------------------------------------------------------------------------------------
# Unclosed comments (PostgreSQL) and mysql client commands
# ---------------------------------------------------------------------------------------------


def test_pg_unclosed_comment_is_a_piece_not_the_end_of_the_file() -> None:
    # PostgreSQL rejects it ("unterminated /* comment"): what follows must not vanish from the file.
    sql = "CREATE TABLE a (id int);\n/* TODO: never closed\nDROP TABLE b;\nCREATE TABLE c (id int);\n"
    assert rows(sql, "postgres") == [
        ("CREATE TABLE a (id int)", 1, 1, 1),
        ("/* TODO: never closed\nDROP TABLE b;\nCREATE TABLE c (id int);", 2, 1, 4),
    ]
    statements, accepted = split_judged(sql, "postgres")
    assert accepted == [True, False]
    # Nested, and after a statement's text: the statement runs to the end.
    assert rows("SELECT 1; /* a /* b */ still open\n", "postgres") == [("SELECT 1", 1, 1, 1), ("/* a /* b */ still open", 1, 11, 1)]
    assert rows("SELECT 1 /* open\n;SELECT 2;", "postgres") == [("SELECT 1 /* open\n;SELECT 2;", 1, 1, 2)]
    assert rows("/* only a comment", "postgres") == [("/* only a comment", 1, 1, 1)]


def test_mysql_client_commands_are_pieces_of_their_own() -> None:
    sql = ("connect mydb;\nSOURCE other.sql\n\\. other.sql\nCREATE TABLE t (id int primary key);\n"
           "\\! echo \"x\nsystem ls -l;\nSELECT 1\\G\nSELECT 2\\g SELECT 3;\nSELECT \\N;\n")
    assert rows(sql, "mysql") == [
        ("connect mydb", 1, 1, 1),
        ("SOURCE other.sql", 2, 1, 2),
        ("\\. other.sql", 3, 1, 3),
        ("CREATE TABLE t (id int primary key)", 4, 1, 4),
        ("\\! echo \"x", 5, 1, 5),
        ("system ls -l", 6, 1, 6),
        ("SELECT 1", 7, 1, 7),  # \G sends the statement
        ("SELECT 2", 8, 1, 8),
        ("SELECT 3", 8, 12, 8),
        ("SELECT \\N", 9, 1, 9),  # \N is NULL, no command
    ]


def test_mysql_named_client_commands_only_first_on_a_line_between_statements() -> None:
    sql = "UPDATE t SET\nstatus = 1;\nSELECT 1; status x;\nDELIMITER //\nsource a.sql //\nCREATE PROCEDURE p() BEGIN SELECT 1; END //\n"
    assert rows(sql, "mysql") == [
        ("UPDATE t SET\nstatus = 1", 1, 1, 2),
        ("SELECT 1", 3, 1, 3),
        ("status x", 3, 11, 3),  # (a statement as any other: the client would send it too)
        ("source a.sql", 5, 1, 5),
        ("CREATE PROCEDURE p() BEGIN SELECT 1; END", 6, 1, 6),
    ]
