"""Audit of reviews.splitter against what the servers and their own clients run."""

from __future__ import annotations

import sqlite3

import pytest

from reviews.splitter import split


def run_sqlite(sql: str) -> sqlite3.Connection:
    """Run each statement the way the migration runner does: one `execute` per statement."""
    conn = sqlite3.connect(":memory:", isolation_level=None)
    for statement in split(sql, "sqlite"):
        conn.execute(statement.text)
    return conn


def test_sqlite_trigger_word_that_is_not_create_trigger_does_not_merge_statements() -> None:
    # "trigger" is a valid name in SQLite; only [EXPLAIN] CREATE [TEMP] TRIGGER starts a trigger
    # (as for sqlite3_complete). Before: the rest of the file was one statement, which SQLite
    # refuses ("You can only execute one statement at a time").
    sql = (
        "CREATE TABLE trigger (a INTEGER);\n"
        "CREATE INDEX i ON trigger (a);\n"
        "INSERT INTO trigger VALUES (1);\n"
    )
    assert [s.text for s in split(sql, "sqlite")] == [
        "CREATE TABLE trigger (a INTEGER)",
        "CREATE INDEX i ON trigger (a)",
        "INSERT INTO trigger VALUES (1)",
    ]
    sql = (
        "CREATE TABLE hooks (trigger TEXT, id INTEGER PRIMARY KEY);\n"
        "INSERT INTO hooks (trigger) VALUES ('push');\n"
        "CREATE TEMP TRIGGER tr AFTER INSERT ON hooks BEGIN UPDATE hooks SET trigger = 'x;'; END;\n"
        "INSERT INTO hooks (trigger) VALUES ('tag');\n"
    )
    conn = run_sqlite(sql)
    assert conn.execute("SELECT trigger FROM hooks ORDER BY id").fetchall() == [("x;",), ("x;",)]


def test_pg_broken_begin_atomic_stays_whole_when_its_first_piece_is_broken() -> None:
    # psql sends each of these CREATE statements whole (it counts BEGIN ... END); the server rejects
    # it. Before: cut at every ";", so the review judged "SELECT 2" and a lone "END" (= COMMIT).
    sql = (
        "CREATE FUNCTION f() RETURNS int LANGUAG sql BEGIN ATOMIC\n  SELECT 1;\n  SELECT 2;\nEND;\n"
        "SELECT 3;\n"
        "CREATE PROCEDURE p() LANGUAGE sql BEGIN ATOMIC SELEC 1; SELECT CASE WHEN true THEN 1 END; END;\n"
        "SELECT 4;\n"
        "CREATE FUNCTION g() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; SELECT 2 END;\n"
        "SELECT 5;\n"
    )
    assert [(s.text, s.line, s.end_line) for s in split(sql, "postgres")] == [
        ("CREATE FUNCTION f() RETURNS int LANGUAG sql BEGIN ATOMIC\n  SELECT 1;\n  SELECT 2;\nEND", 1, 4),
        ("SELECT 3", 5, 5),
        ("CREATE PROCEDURE p() LANGUAGE sql BEGIN ATOMIC SELEC 1; SELECT CASE WHEN true THEN 1 END; END", 6, 6),
        ("SELECT 4", 7, 7),
        ("CREATE FUNCTION g() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; SELECT 2 END", 8, 8),
        ("SELECT 5", 9, 9),
    ]


def test_mysql_body_naming_columns_end_and_begin_runs_on_the_server(mysql_url: str) -> None:
    # BEGIN and END are not reserved in MySQL: NEW.end, t.begin are column names, not the body's
    # END. Before: the trigger was cut after "SET NEW.end = NOW()", which the server rejects.
    import pymysql

    sql = (
        "CREATE TABLE periods (id INT, begin DATETIME, end DATETIME);\n"
        "CREATE TRIGGER periods_bi BEFORE INSERT ON periods FOR EACH ROW\n"
        "BEGIN\n  SET NEW.end = '2030-01-01';\n  SET NEW.begin = '2020-01-01';\nEND;\n"
        "INSERT INTO periods (id) VALUES (1);\n"
    )
    statements = split(sql, "mysql")
    assert [s.line for s in statements] == [1, 2, 7]
    conn = pymysql.connect(host="127.0.0.1", port=3306, user="root", password="",
                           database=mysql_url.rsplit("/", 1)[1], autocommit=True)
    with conn, conn.cursor() as cur:
        for statement in statements:
            cur.execute(statement.text)
        cur.execute("SELECT CAST(begin AS CHAR), CAST(end AS CHAR) FROM periods")
        assert cur.fetchall() == (("2020-01-01 00:00:00", "2030-01-01 00:00:00"),)


def test_mariadb_executable_comments_are_statements_and_stay_in_theirs(mysql_url):
    """MariaDB runs what `/*M! … */` holds, as MySQL runs `/*! … */`: the `mariadb` client sends both."""
    import pymysql

    from releases.runner.target import parse_target

    sql = "CREATE TABLE t (a int);\n/*M!100100 INSERT INTO t VALUES (1) */;\nSELECT 1 /*M!100100 , 2 */;\n"
    assert [s.text for s in split(sql, "mysql")] == [
        "CREATE TABLE t (a int)", "/*M!100100 INSERT INTO t VALUES (1) */", "SELECT 1 /*M!100100 , 2 */"]
    target = parse_target(mysql_url)
    with pymysql.connect(host=target.host, port=target.port, user=target.user, password="",
                         database=target.database, autocommit=True) as conn, conn.cursor() as cur:
        for statement in split(sql, "mysql"):
            cur.execute(statement.text)
        assert cur.fetchall() == ((1, 2),)
        cur.execute("SELECT a FROM t")
        assert cur.fetchall() == ((1,),)


def test_a_mysql_comment_never_closed_stops_the_file_instead_of_hiding_its_end(mysql_url, tmp_path):
    """The mysql client drops an unclosed /* and everything after it: the runner must not record
    the file applied with its last statements skipped, and the review says where it opens."""
    from releases.loader import load_dir
    from releases.runner import ApplyError, apply
    from reviews.engine import Policy, review_file
    from tests.helpers import history_rows, table_exists

    sql = "CREATE TABLE a (id int);\n/* moved below\nCREATE TABLE b (id int);\n"
    (tmp_path / "0001_init.sql").write_text(sql)
    with pytest.raises(ApplyError):
        apply(mysql_url, load_dir(tmp_path))
    assert history_rows(mysql_url) == {"0001": ("partial", 1, 2)} and not table_exists(mysql_url, "b")
    [error] = [f for f in review_file("0001_init.sql", sql, "mysql", Policy.recommended()).findings
               if f.rule == "system.syntax-error"]
    assert (error.line, error.column) == (2, 1) and "comment opened here (/*) is never closed" in error.message
