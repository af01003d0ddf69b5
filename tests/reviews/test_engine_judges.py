"""The engine's syntax judges: PostgreSQL's grammar, SQLite's scratch database, MySQL's certain errors,
and client commands."""

from __future__ import annotations

import pytest

from reviews.engine import Policy, review_file


def review(sql: str, dialect: str = "postgres"):
    return review_file("0001_x.sql", sql, dialect, Policy.recommended())


def system(sql: str, dialect: str = "postgres") -> list[tuple[str, int, int, str]]:
    return [(f.rule, f.line, f.column, f.message) for f in review(sql, dialect).findings if f.rule.startswith("system.")]


def test_pg_unclosed_comment_is_a_located_syntax_error() -> None:
    found = system("CREATE TABLE a (id int PRIMARY KEY);\n/* TODO: never closed\nDROP TABLE b;\n")
    assert [(rule, line, column) for rule, line, column, _ in found] == [("system.syntax-error", 2, 1)]
    assert found[0][3].startswith("unterminated /* comment")


def test_pg_file_of_only_an_unclosed_comment_is_not_empty() -> None:
    found = system("/* never closed\nCREATE TABLE c (id int PRIMARY KEY);\n")
    assert [rule for rule, *_ in found] == ["system.syntax-error"]


@pytest.mark.parametrize(
    "sql",
    [
        "ALTER TABLE k ADD COLUMN",
        "ALTER TABLE k ADD COLUMN x int DEFAULT (1",
        "ALTER TABLE k ADD x int CHECK (x >)",
        'ALTER TABLE main."my k" ADD COLUMN x int CHECK (',
        "CREATE TRIGGER tr AFTER INSERT ON k BEGIN UPDATE k SET v = WHERE id = 1; END",
        "CREATE TRIGGER tr AFTER INSERT ON main.k BEGIN UPDATE k SET v = 1 END",
    ],
)
def test_sqlite_judges_statements_on_tables_it_has_not_seen(sql: str) -> None:
    # SQLite looks the table up before it reads the rest: the judge gives it a stub table.
    assert [(rule, line) for rule, line, _, _ in system(f"SELECT 1;\n{sql};\n", "sqlite")] == [("system.syntax-error", 2)]


def test_sqlite_stub_tables_do_not_outlive_their_statement() -> None:
    # A stub `k` left behind would make the CREATE TABLE fail as "already exists", before its syntax is read.
    sql = "ALTER TABLE k ADD COLUMN x int;\nCREATE TRIGGER tr AFTER INSERT ON k BEGIN SELECT 1; END;\nCREATE TABLE k (a int, b int, );\n"
    assert [(rule, line) for rule, line, _, _ in system(sql, "sqlite")] == [("system.syntax-error", 3)]


@pytest.mark.parametrize(
    ("sql", "line", "column", "near"),
    [
        # The token SQLite names, where it stands (not the statement's start): the second comma.
        ("CREATE TABLE a (\n  id int,\n  x int,,\n  y int\n)", 4, 9, 'near ","'),
        # The same token earlier, where it is fine: the place whose prefix fails as the whole does.
        ("CREATE TABLE t (a int, b int CHECK (b > 0), c int,)", 2, 51, 'near ")"'),
        # A keyword inside a longer name is not that keyword.
        ("CREATE TABLE t (from_x int,\n  x int FROM)", 3, 9, 'near "FROM"'),
        ('SELECT "a" "b"\n  "c" FROM t', 3, 3, 'near ""c""'),
        ("SELECT 1 #", 2, 10, 'unrecognized token: "#"'),
        ("SELECT 'never closed", 2, 8, "unrecognized token"),
        ("CREATE TABLE a (id int", 2, 23, "incomplete input"),  # at its end
        # With a stub table for the one it has not seen, and a statement that is an EXPLAIN already.
        ("ALTER TABLE k ADD x int CHECK (x >)", 2, 35, 'near ")"'),
        ("EXPLAIN SELECT 1 FROM WHERE", 2, 23, 'near "WHERE"'),
    ],
)
def test_sqlite_syntax_errors_are_located_at_the_token_sqlite_names(sql: str, line: int, column: int,
                                                                      near: str) -> None:
    [(rule, at_line, at_column, message)] = system(f"SELECT 1;\n{sql};\n", "sqlite")
    assert (rule, at_line, at_column) == ("system.syntax-error", line, column) and near in message


def test_sqlite_syntax_error_in_a_long_statement_is_found_among_many_places_of_its_token() -> None:
    # 1,500 columns (SQLite allows 2,000) and a trailing comma: SQLite stops at the last of 1,501 `)`.
    columns = ",\n".join(f"  c{i} varchar(10)" for i in range(1_500))
    [(rule, line, column, message)] = system(f"CREATE TABLE wide (\n{columns},\n);\n", "sqlite")
    assert (rule, line, column) == ("system.syntax-error", 1_502, 1) and 'near ")"' in message


def test_sqlite_explain_is_not_explained_twice() -> None:
    assert system("EXPLAIN QUERY PLAN SELECT 1;\nEXPLAIN SELECT 1;\n", "sqlite") == []


@pytest.mark.parametrize(
    ("sql", "column", "message"),
    [
        ("INSERT INTO t2 VALUES (1,,2)", 26, "two commas in a row"),
        ("CREATE TABLE t9 (id int primary key,, x int)", 37, "two commas in a row"),
        ("INSERT INTO t2 VALUES (,1,2)", 24, "a comma right after '('"),
        ("CREATE TABLE t8 (id int, , x int)", 26, "two commas in a row"),
        # sqlglot reads this one as a Command: the token checks run all the same.
        ("ALTER TABLE t ADD COLUMN a int, ADD COLUMN b int)", 49, "unbalanced parentheses"),
    ],
)
def test_mysql_certain_errors(sql: str, column: int, message: str) -> None:
    # Each is ERROR 1064 on MariaDB 10.11.
    [(rule, line, col, text)] = system(f"SELECT 1;\n{sql};\n", "mysql")
    assert (rule, line, col) == ("system.syntax-error", 2, column) and message in text


def test_mysql_double_dash_without_a_blank_is_no_comment_but_a_certain_error() -> None:
    # ory/hydra's `--DROP INDEX …;`: MariaDB 10.11 answers ERROR 1064 (a comment needs `-- `).
    [(rule, line, column, message)] = system("SELECT 1;\n--DROP INDEX t_idx ON t;\n", "mysql")
    assert (rule, line, column) == ("system.syntax-error", 2, 1) and "write `-- …`" in message
    assert system("SELECT 1;\n-- DROP INDEX t_idx ON t;\nSELECT 5--2;\n", "mysql") == []  # (5 - -2)


@pytest.mark.parametrize("sql", ["None", "foo bar", "NULL", "1", "a = 1", "@a := 1", "foo()", "(1)"])
def test_mysql_bare_expression_is_no_statement(sql: str) -> None:
    # Django 5.2 writes `None;` into MariaDB SQL (a deferred constraint MariaDB cannot have): ERROR 1064.
    [(rule, line, column, message)] = system(f"CREATE TABLE t (id bigint PRIMARY KEY);\n{sql};\n", "mysql")
    assert (rule, line, column) == ("system.syntax-error", 2, 1) and "not a statement" in message


def test_mysql_union_of_an_expression_is_no_statement(caplog) -> None:
    # (A mutation of Lemmy's view: sqlglot reads `ALL (SELECT …)` as an operand; a rule that read the
    # operands as queries raised on it.)
    sql = "SELECT 1;\nALL (SELECT id FROM comment WHERE local) UNION ALL (SELECT id FROM post WHERE b);\n"
    [(rule, line, _, message)] = system(sql, "mysql")
    assert (rule, line) == ("system.syntax-error", 2) and "not a statement" in message
    review_file("0001_x.sql", sql, "mysql", Policy.everything())
    assert "failed on" not in caplog.text


@pytest.mark.parametrize("sql", ["(SELECT 1)", "TABLE t", "VALUES ROW(1)", "SELECT 1 UNION SELECT 2", "CALL p()",
                                 "SET @a := 1", "(SELECT 1) UNION (SELECT 2 UNION SELECT 3)"])
def test_mysql_statements_that_read_like_expressions_are_fine(sql: str) -> None:
    assert system(f"{sql};\n", "mysql") == []


def test_mysql_show_character_set_is_no_clause_cut_short() -> None:
    assert system("SHOW CHARACTER SET;\n", "mysql") == []


def test_mysql_client_commands() -> None:
    sql = ("connect mydb;\nSOURCE other.sql;\n\\. other.sql\nCREATE TABLE t (id int primary key);\n"
           "SELECT 1\\G\nCREATE TABLE u (id int primary key);\n")
    found = system(sql, "mysql")
    assert [(rule, line) for rule, line, _, _ in found] == [("system.client-command", n) for n in (1, 2, 3)]
    assert all(message.startswith("mysql client command `") for *_, message in found)
    assert "`\\.`" in found[2][3]
    assert review(sql, "mysql").statements == 6


def test_psql_meta_command_message_is_kept() -> None:
    [(rule, _, _, message)] = system("\\set x 1\nCREATE TABLE t (id int PRIMARY KEY);\n")
    assert rule == "system.client-command" and message.startswith("psql meta-command `\\set`")


def _plpgsql_errors(sql: str) -> list[tuple[int, str]]:
    review = review_file("0001_x.sql", sql.encode(), "postgres", Policy.recommended())
    return [(f.line, f.message) for f in review.findings if f.rule == "system.syntax-error"]


def test_a_plpgsql_body_postgresql_rejects_is_a_syntax_error():
    # check_function_bodies is on by default: CREATE FUNCTION fails (checked with psql); a DO block
    # fails when it runs. PostgreSQL's own PL/pgSQL parser (pglast) judges the body.
    sql = ("CREATE FUNCTION f() RETURNS int LANGUAGE plpgsql AS $$\nBEGIN\n  RETURN 1\nEND;\n$$;\n"
           "DO $$ BEGIN PERFORM 1; IF x THEN y; END; END $$;\n"
           "CREATE FUNCTION k() RETURNS int AS 'BEGIN RETURN 1 END;' LANGUAGE 'plpgsql';\n")
    found = _plpgsql_errors(sql)
    assert [line for line, _ in found] == [1, 6, 7]
    assert found[1][1].startswith('PL/pgSQL: syntax error at or near "y"')


def test_valid_plpgsql_and_other_languages_are_not_judged_as_plpgsql():
    sql = ("CREATE FUNCTION g() RETURNS int LANGUAGE plpgsql AS $$ BEGIN RETURN 1; END; $$;\n"
           "DO $$ BEGIN PERFORM 1; END $$;\n"
           "CREATE FUNCTION h() RETURNS int LANGUAGE sql AS $$ select 1 $$;\n"
           "DO LANGUAGE plpython3u $$ print(1) $$;\n")
    assert _plpgsql_errors(sql) == []


def test_pg_dump_index_on_only_a_partitioned_parent_gets_a_tree() -> None:
    # pg_dump writes `CREATE INDEX … ON ONLY parent` for each index of a partitioned table, which sqlglot
    # cannot read: the tree rules saw nothing of it (33 in the corpus's dumps). ONLY is blanked for the
    # parse (same offsets); the lock rules read ONLY from the text as before.
    sql = ("CREATE INDEX i ON ONLY public.t USING btree (a, a);\n"
           "CREATE INDEX j ON /* the parent */ ONLY public.t USING btree (a, a);\n")
    review = review_file("0001_x.sql", sql, "postgres", Policy.everything())
    found = {(f.rule, f.line) for f in review.findings}
    assert {("index.no-duplicate-column", 1), ("index.no-duplicate-column", 2),
            ("table.no-duplicate-index", 2)} <= found
    assert not any(rule == "system.syntax-error" or rule == "index.create-concurrently" for rule, _ in found)
    [duplicate] = [f for f in review.findings if f.rule == "table.no-duplicate-index"]
    assert (duplicate.line, duplicate.column) == (2, 1)


def test_postgres_18_not_null_table_constraints_leave_the_columns_to_the_tree_rules() -> None:
    # pglast (PostgreSQL 18's grammar) accepts `[CONSTRAINT c] NOT NULL col` as a table element, sqlglot
    # 30.30 does not: the columns' rules said nothing (34 Lemmy CREATE TABLEs). The elements are blanked
    # for the parse, with a comma each (same offsets).
    sql = ('CREATE TABLE t (id serial, a timestamp, /* x, y */ b json, "Bad" int,\n'
           "  CONSTRAINT t_a_nn NOT NULL a, PRIMARY KEY (id));\n"
           "CREATE TABLE u (NOT NULL a NO INHERIT, a timestamp);\n")
    found = {(f.rule, f.line, f.column) for f in review_file("0001_x.sql", sql, "postgres", Policy.recommended()).findings}
    assert {("column.prefer-bigint-over-int", 1, 17), ("column.prefer-identity", 1, 17),
            ("column.prefer-timestamptz", 1, 28), ("column.prefer-jsonb", 1, 52), ("naming.column", 1, 60),
            ("column.prefer-timestamptz", 3, 40)} <= found, found
    assert not any(rule.startswith("system.") or rule == "table.require-pk" and line == 1 for rule, line, _ in found)
    # the column the constraint names is NOT NULL (the opt-in column.no-null says so of the others only)
    nullable = [f.message for f in review_file("0001_x.sql", sql, "postgres", Policy.everything()).findings
                if f.rule == "column.no-null"]
    assert any("t.b is nullable" in m for m in nullable) and not any("t.a is" in m or "u.a is" in m for m in nullable)
