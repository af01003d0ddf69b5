from __future__ import annotations

import pytest

from reviews.engine import Policy
from reviews.engine.registry import RULES
from tests.reviews.rules.helpers import findings, flags

ALL = ["postgres", "mysql", "sqlite"]


# -- statement.where.require.update-delete -------------------------------------------------------------


@pytest.mark.parametrize("dialect", ALL)
@pytest.mark.parametrize("sql, phrase", [
    ("DELETE FROM sessions;", "DELETE without WHERE deletes every row of sessions"),
    ("UPDATE users SET active = true;", "UPDATE without WHERE changes every row"),
])
def test_update_or_delete_without_where(dialect, sql, phrase):
    [found] = findings("SELECT 1;\n" + sql, dialect, "statement.where.require.update-delete")
    assert found.severity == "error" and (found.line, found.column) == (2, 1)
    assert phrase in found.message and "add the predicate" in found.message


@pytest.mark.parametrize("dialect", ALL)
def test_update_or_delete_with_where_or_on_a_new_table_is_fine(dialect):
    assert not flags("DELETE FROM sessions WHERE expires_at < '2020-01-01';", dialect,
                     "statement.where.require.update-delete")
    assert not flags("UPDATE users SET active = true WHERE id = 1;", dialect, "statement.where.require.update-delete")
    assert not flags("CREATE TABLE t (a int);\nUPDATE t SET a = 1;", dialect, "statement.where.require.update-delete")


@pytest.mark.parametrize("sql", [
    "UPDATE orders o JOIN customers c ON c.id = o.customer_id SET o.region = c.region;",
    "DELETE s FROM sessions s INNER JOIN users u ON u.id = s.user_id AND u.deleted = 1;",
    "DELETE FROM s USING sessions s INNER JOIN users u ON u.id = s.user_id;",
    "UPDATE t1 JOIN t2 USING (id) SET t1.a = 7;",
    "UPDATE t1 STRAIGHT_JOIN t2 ON t1.id = t2.id SET t1.a = 6;",  # (sqlglot cannot read STRAIGHT_JOIN)
])
def test_mysql_multi_table_write_restricted_by_an_inner_join(sql):
    # MariaDB: with t1 = {1, 2, 3} and t2 = {1}, each changed or deleted row 1 only
    assert not flags(sql, "mysql", "statement.where.require.update-delete")


@pytest.mark.parametrize("sql, table", [
    ("UPDATE t1 LEFT JOIN t2 ON t1.id = t2.id SET t1.a = 8;", "t1"),  # (MariaDB: all three rows)
    ("UPDATE a, b SET a.x = b.x;", "a"),
    ("UPDATE a JOIN b SET a.x = 1;", "a"),
])
def test_mysql_multi_table_write_that_keeps_every_row(sql, table):
    [found] = findings(sql, "mysql", "statement.where.require.update-delete")
    assert f"every row of {table}" in found.message


@pytest.mark.parametrize("sql, phrase", [
    ("UPDATE IGNORE t SET a = 1;", "UPDATE without WHERE changes every row of t:"),
    ("UPDATE LOW_PRIORITY t SET a = 1;", "UPDATE without WHERE changes every row of t:"),
    ("UPDATE LOW_PRIORITY IGNORE t SET a = (SELECT b FROM u WHERE u.id = 1);", "every row of t:"),
    ("DELETE IGNORE FROM t LIMIT 10;", "DELETE without WHERE deletes every row of t:"),
    ("DELETE LOW_PRIORITY QUICK IGNORE FROM t ORDER BY id LIMIT 1;", "DELETE without WHERE deletes every row of t:"),
])
def test_mysql_update_delete_modifiers(sql, phrase):
    # sqlglot cannot read IGNORE there (and reads LOW_PRIORITY as the table): MariaDB changes every row
    [found] = findings("SELECT 1;\n" + sql, "mysql", "statement.where.require.update-delete")
    assert (found.line, found.column) == (2, 1) and phrase in found.message


def test_sqlite_update_or_ignore_without_where():
    # (sqlglot cannot read SQLite's `UPDATE OR …` either)
    [found] = findings("UPDATE OR IGNORE t SET a = 1;", "sqlite", "statement.where.require.update-delete")
    assert "UPDATE without WHERE changes every row of t:" in found.message
    assert not flags("UPDATE OR REPLACE t SET a = 1 WHERE id = 2;", "sqlite", "statement.where.require.update-delete")


def test_mysql_update_delete_modifiers_with_where():
    for sql in ("UPDATE IGNORE t SET a = 1 WHERE id IN (1, 2);", "DELETE IGNORE FROM t WHERE a = 'x' LIMIT 10;",
                "UPDATE IGNORE t1 JOIN t2 ON t1.id = t2.id SET t1.a = 1;", "CREATE TABLE t (a int);\nUPDATE IGNORE t SET a = 1;"):
        assert not flags(sql, "mysql", "statement.where.require.update-delete"), sql


def test_data_modifying_cte_without_where():
    # PostgreSQL 15: the statement empties sessions
    sql = ("WITH moved AS (DELETE FROM sessions RETURNING *)\n"
           "INSERT INTO sessions_archive (id, user_id) SELECT id, user_id FROM moved;\n"
           "WITH u AS (\n  UPDATE users SET active = false RETURNING id)\nSELECT count(*) FROM u;")
    found = findings(sql, "postgres", "statement.where.require.update-delete")
    assert [(f.line, f.column) for f in found] == [(1, 16), (4, 3)]
    assert "DELETE without WHERE deletes every row of sessions" in found[0].message
    assert "UPDATE without WHERE changes every row of users" in found[1].message
    assert not flags("WITH d AS (DELETE FROM a WHERE x = 1 RETURNING *) INSERT INTO b (x) SELECT x FROM d;", "postgres",
                     "statement.where.require.update-delete")


# -- statement.where.require.select (opt-in) -----------------------------------------------------------


@pytest.mark.parametrize("dialect", ALL)
def test_select_without_where(dialect):
    [found] = findings("SELECT id FROM orders;", dialect, "statement.where.require.select")
    assert "SELECT without WHERE" in found.message
    assert not flags("SELECT id FROM orders WHERE id = 1;", dialect, "statement.where.require.select")
    assert not flags("SELECT 1;", dialect, "statement.where.require.select")
    assert not findings("SELECT id FROM orders;", dialect, "statement.where.require.select", Policy.recommended())
    [limited] = findings("SELECT id FROM orders LIMIT 1;", dialect, "statement.where.require.select")
    assert "whichever rows come first" in limited.message and "whole table" not in limited.message


@pytest.mark.parametrize("dialect", ALL)
def test_select_without_where_in_a_union(dialect):
    # (danbooru db/views/post_events_v01.sql: SELECT … FROM posts UNION ALL SELECT … FROM post_appeals …)
    rule = "statement.where.require.select"
    [found] = findings("SELECT id FROM posts UNION ALL SELECT post_id FROM post_appeals WHERE id > 0;", dialect, rule)
    assert "reads the whole table" in found.message
    assert "whichever rows" in findings("SELECT id FROM a WHERE x UNION SELECT id FROM b LIMIT 1;", dialect,
                                        rule)[0].message
    assert not flags("SELECT id FROM posts WHERE id > 0 UNION ALL SELECT post_id FROM post_appeals WHERE id > 0;",
                     dialect, rule)
    assert not flags("SELECT 1 UNION SELECT 2;", dialect, rule)


def test_select_setval_is_not_flagged():
    assert not flags("SELECT setval('orders_id_seq', 100);", "postgres", "statement.where.require.select")


# -- statement.select.no-select-all --------------------------------------------------------------------


@pytest.mark.parametrize("dialect", ALL)
@pytest.mark.parametrize("sql, column", [("CREATE VIEW active_users AS SELECT * FROM users WHERE active = 1;", 36),
                                         ("INSERT INTO archive (id) SELECT * FROM users WHERE id < 10;", 33),
                                         ("SELECT count(*), u.* FROM users u WHERE u.id = 1;", 18)])
def test_select_star(dialect, sql, column):
    [found] = findings(sql, dialect, "statement.select.no-select-all")
    assert found.severity == "warning" and (found.line, found.column) == (1, column)
    assert "list the columns" in found.message


@pytest.mark.parametrize("dialect", ALL)
def test_select_star_at_the_star_it_flags(dialect):
    sql = ("CREATE VIEW v1 AS\nSELECT DISTINCT ON (a) t.*\nFROM t ORDER BY a, b;\n"
           "INSERT INTO a (x)\nSELECT x FROM b WHERE EXISTS (SELECT * FROM c WHERE c.id = b.id)\nUNION SELECT * FROM d;\n"
           "CREATE VIEW v2 AS SELECT count(*), * FROM t;")
    if dialect != "postgres":
        sql = sql.replace("DISTINCT ON (a) ", "DISTINCT ")
    found = findings(sql, dialect, "statement.select.no-select-all")
    column = 24 if dialect == "postgres" else 17
    assert [(f.line, f.column) for f in found] == [(2, column), (6, 14), (7, 36)]


def test_select_star_not_in_a_mysql_comment():
    [found] = findings("CREATE VIEW v AS\n  # SELECT * is bad\n  SELECT t.* FROM t;", "mysql",
                       "statement.select.no-select-all")
    assert (found.line, found.column) == (3, 10)


@pytest.mark.parametrize("dialect", ALL)
@pytest.mark.parametrize("sql", ["SELECT count(*) FROM users WHERE active = 1;",
                                 "DELETE FROM users WHERE EXISTS (SELECT * FROM bans WHERE bans.user_id = users.id);",
                                 "SELECT 2 * 3;"])
def test_no_select_star(dialect, sql):
    assert not flags(sql, dialect, "statement.select.no-select-all")


@pytest.mark.parametrize("dialect", ALL)
@pytest.mark.parametrize("sql", [
    # ory/kratos: the star stands for the one column the derived table lists, whatever the tables become.
    "UPDATE requests SET form = (SELECT * FROM (SELECT m.config FROM methods AS m WHERE m.request_id = 1) AS t) WHERE id = 1;",
    "CREATE VIEW v AS WITH c AS (SELECT a, b FROM t) SELECT * FROM c;",
    "CREATE VIEW v AS SELECT s.* FROM (SELECT a FROM t UNION SELECT b FROM u) AS s;",
])
def test_select_star_over_derived_tables_that_list_their_columns_is_fine(dialect, sql):
    assert not flags(sql, dialect, "statement.select.no-select-all")


@pytest.mark.parametrize("dialect", ALL)
@pytest.mark.parametrize("sql", [
    "CREATE VIEW v AS SELECT * FROM (SELECT * FROM t) AS s;",  # the inner star reads t's columns
    "CREATE VIEW v AS WITH c AS (SELECT a FROM t) SELECT * FROM c JOIN u ON true;",  # and u's
    "CREATE VIEW v AS WITH t AS (SELECT * FROM t) SELECT * FROM t;",  # the CTE reads the table t
])
def test_select_star_over_a_table_through_derived_tables_is_still_flagged(dialect, sql):
    assert len(findings(sql, dialect, "statement.select.no-select-all")) == 1


# -- statement.insert.must-specify-column --------------------------------------------------------------


@pytest.mark.parametrize("dialect", ALL)
@pytest.mark.parametrize("sql", ["INSERT INTO countries VALUES ('fr', 'France');",
                                 "INSERT INTO countries SELECT code, name FROM staging;"])
def test_insert_without_columns(dialect, sql):
    [found] = findings(sql, dialect, "statement.insert.must-specify-column")
    assert found.severity == "warning" and (found.line, found.column) == (1, 1)
    assert "INSERT INTO countries without a column list" in found.message


@pytest.mark.parametrize("dialect", ALL)
def test_insert_with_columns_is_fine(dialect):
    assert not flags("INSERT INTO countries (code, name) VALUES ('fr', 'France');", dialect,
                     "statement.insert.must-specify-column")


@pytest.mark.parametrize("dialect", ["postgres", "sqlite"])
def test_insert_default_values_is_fine(dialect):
    assert not flags("INSERT INTO counters DEFAULT VALUES;", dialect, "statement.insert.must-specify-column")


def test_mysql_insert_set_is_fine():
    assert not flags("INSERT INTO countries SET code = 'fr';", "mysql", "statement.insert.must-specify-column")


# -- statement.insert.disallow-order-by-rand -----------------------------------------------------------


@pytest.mark.parametrize("dialect, function", [("postgres", "random()"), ("mysql", "RAND()"), ("sqlite", "random()")])
def test_insert_select_order_by_random(dialect, function):
    sql = f"INSERT INTO sample (id) SELECT id FROM users ORDER BY {function} LIMIT 100;"
    [found] = findings(sql, dialect, "statement.insert.disallow-order-by-rand")
    assert found.severity == "warning" and "remove the ORDER BY" in found.message


@pytest.mark.parametrize("dialect", ALL)
def test_insert_select_ordered_by_a_column_is_fine(dialect):
    sql = "INSERT INTO sample (id) SELECT id FROM users ORDER BY id LIMIT 100;"
    assert not flags(sql, dialect, "statement.insert.disallow-order-by-rand")
    assert not flags("SELECT id FROM users ORDER BY random();", dialect, "statement.insert.disallow-order-by-rand")


# -- statement.disallow-limit / statement.disallow-order-by (MySQL) ------------------------------------


def test_mysql_update_delete_limit_and_order_by():
    sql = "DELETE FROM sessions WHERE expired = 1 ORDER BY id LIMIT 1000;"
    [limit] = findings(sql, "mysql", "statement.disallow-limit")
    [order] = findings(sql, "mysql", "statement.disallow-order-by")
    assert limit.severity == order.severity == "warning"
    assert "DELETE … LIMIT" in limit.message and "key range" in limit.message
    assert "DELETE … ORDER BY" in order.message and "deterministic predicate" in order.message


def test_mysql_update_delete_limit_and_order_by_with_modifiers():
    # sqlglot cannot read these (IGNORE): the clauses of the statement itself count, not a subquery's
    sql = "DELETE LOW_PRIORITY QUICK IGNORE FROM sessions WHERE expired = 1 ORDER BY id LIMIT 1000;"
    [limit] = findings(sql, "mysql", "statement.disallow-limit")
    [order] = findings(sql, "mysql", "statement.disallow-order-by")
    assert "DELETE … LIMIT" in limit.message and "DELETE … ORDER BY" in order.message
    assert flags("UPDATE IGNORE jobs SET state = 'x' WHERE id > 1 LIMIT 10;", "mysql", "statement.disallow-limit")
    sql = "UPDATE IGNORE t SET a = (SELECT b FROM u ORDER BY id LIMIT 1) WHERE id = 1;"
    assert not flags(sql, "mysql", "statement.disallow-limit")
    assert not flags(sql, "mysql", "statement.disallow-order-by")


def test_mysql_update_without_limit_or_order_by_is_fine():
    sql = "UPDATE jobs SET state = 'queued' WHERE id BETWEEN 1 AND 1000;"
    assert not flags(sql, "mysql", "statement.disallow-limit")
    assert not flags(sql, "mysql", "statement.disallow-order-by")
    assert not flags("SELECT id FROM jobs ORDER BY id LIMIT 1;", "mysql", "statement.disallow-limit")


def test_limit_and_order_by_rules_are_mysql_only():
    assert RULES["statement.disallow-limit"].engines == {"mysql"}
    assert RULES["statement.disallow-order-by"].engines == {"mysql"}


# -- statement.where.no-equal-null ---------------------------------------------------------------------


@pytest.mark.parametrize("dialect", ALL)
@pytest.mark.parametrize("operator, fix", [("=", "IS NULL"), ("<>", "IS NOT NULL"), ("!=", "IS NOT NULL")])
def test_comparison_with_null(dialect, operator, fix):
    sql = f"DELETE FROM users\nWHERE deleted_at {operator} NULL;"
    [found] = findings(sql, dialect, "statement.where.no-equal-null")
    assert found.severity == "warning" and (found.line, found.column) == (2, 7)
    assert found.message.startswith(f"`{operator} NULL`") and f"write {fix}" in found.message


@pytest.mark.parametrize("comparison, operator", [("a = NULL::int", "="), ("a = (NULL)", "="),
                                                   ("a = CAST(NULL AS int)", "="), ("NULL::uuid <> a", "<>"),
                                                   ("a != ((NULL))", "!="), ("(NULL) != a", "!=")])
def test_comparison_with_a_cast_or_parenthesized_null(comparison, operator):
    # PostgreSQL 15: `a = NULL::int`, `a = (NULL)`, `a = CAST(NULL AS int)` each match no row of {1, NULL}
    [found] = findings(f"DELETE FROM t\nWHERE {comparison};", "postgres", "statement.where.no-equal-null")
    assert found.line == 2 and found.message.startswith(f"`{operator} NULL` is never true")


def test_comparison_with_null_quotes_the_operator_written():
    sql = "DELETE FROM t WHERE a <> 1 AND b != NULL AND NULL <> c AND d <> 2 AND e != 3;"
    found = findings(sql, "postgres", "statement.where.no-equal-null")
    assert [f.message[:9] for f in found] == ["`!= NULL`", "`<> NULL`"]


@pytest.mark.parametrize("dialect", ALL)
@pytest.mark.parametrize("sql", ["UPDATE users SET deleted_at = NULL WHERE id = 1;",
                                 "DELETE FROM users WHERE deleted_at IS NULL;",
                                 "SELECT id FROM users WHERE note = 'NULL';"])
def test_null_assignments_and_is_null_are_fine(dialect, sql):
    assert not flags(sql, dialect, "statement.where.no-equal-null")


# -- statement.where.no-leading-wildcard-like ----------------------------------------------------------


@pytest.mark.parametrize("dialect", ALL)
def test_leading_wildcard_like(dialect):
    sql = "UPDATE users SET flagged = 1 WHERE email LIKE '%@example.com';"
    [found] = findings(sql, dialect, "statement.where.no-leading-wildcard-like")
    assert found.severity == "info" and (found.line, found.column) == (1, 36)
    assert "'%@example.com' starts with a wildcard" in found.message
    # What serves a substring search on that engine (MySQL has no trigram index, SQLite has FTS5).
    assert {"postgres": "pg_trgm", "mysql": "a FULLTEXT index", "sqlite": "FTS5"}[dialect] in found.message


@pytest.mark.parametrize("dialect", ALL)
def test_anchored_like_is_fine(dialect):
    assert not flags("UPDATE users SET flagged = 1 WHERE email LIKE 'admin%';", dialect,
                     "statement.where.no-leading-wildcard-like")
    assert not flags("SELECT email LIKE '%x' FROM users WHERE id = 1;", dialect,
                     "statement.where.no-leading-wildcard-like")


@pytest.mark.parametrize("sql", [
    # ON CONFLICT's predicate picks the arbiter (a partial unique index); DO UPDATE's tests the one row.
    "INSERT INTO fruit (id, name) VALUES (1, 'Blackberry') ON CONFLICT (name) WHERE name LIKE '%berry' DO NOTHING;",
    "INSERT INTO fruit (id, name) VALUES (1, 'x') ON CONFLICT (id) DO UPDATE SET name = 'y' WHERE fruit.name LIKE '%x';",
    # A partial index's predicate, an exclusion constraint's: what the index covers, nothing is scanned.
    "CREATE UNIQUE INDEX CONCURRENTLY berry_name_key ON fruit (name) WHERE name LIKE '%berry';",
    "CREATE TABLE booking (room text, EXCLUDE USING gist (room WITH =) WHERE (room LIKE '%suite'));",
])
def test_leading_wildcard_in_a_predicate_that_filters_no_rows_is_fine(sql):
    assert not flags(sql, "postgres", "statement.where.no-leading-wildcard-like")
    # Near miss: the SELECT that feeds the INSERT does scan.
    [found] = findings("INSERT INTO f (id) SELECT id FROM g WHERE n LIKE '%x' ON CONFLICT (id) WHERE n LIKE '%y' DO NOTHING;",
                       "postgres", "statement.where.no-leading-wildcard-like")
    assert "'%x'" in found.message


# -- statement.duplicate-column-assignment -------------------------------------------------------------


@pytest.mark.parametrize("dialect", ALL)
@pytest.mark.parametrize("sql, where, position", [
    ("UPDATE accounts SET balance = 0,\n  balance = 1 WHERE id = 1;", "SET", (2, 3)),
    ("INSERT INTO accounts (id, balance, balance) VALUES (1, 2, 3);", "the column list", (1, 36)),
    ("CREATE TABLE accounts (id int, balance int, balance int);", "the column list", (1, 45)),
    ("CREATE VIEW v (a, a) AS SELECT id, balance FROM accounts;", "the column list", (1, 19)),
])
def test_duplicate_column(dialect, sql, where, position):
    [found] = findings(sql, dialect, "statement.duplicate-column-assignment")
    assert found.severity == "error" and (found.line, found.column) == position
    assert f"is named twice in {where}" in found.message


@pytest.mark.parametrize("dialect", ALL)
def test_distinct_columns_are_fine(dialect):
    assert not flags("UPDATE accounts SET balance = 0, owner = 1 WHERE id = 1;", dialect,
                     "statement.duplicate-column-assignment")
    assert not flags("INSERT INTO accounts (id, balance) VALUES (1, 2);", dialect,
                     "statement.duplicate-column-assignment")


def test_mysql_multi_table_update_sets_columns_of_two_tables():
    # MariaDB updates both tables (ROW_COUNT 2): no error, nothing overwritten
    sql = "UPDATE orders o JOIN customers c ON c.id = o.customer_id SET o.region = c.region, c.region = NULL;"
    assert not flags(sql, "mysql", "statement.duplicate-column-assignment")
    [found] = findings("UPDATE orders o JOIN customers c ON c.id = o.customer_id SET o.region = 1, o.region = 2;",
                       "mysql", "statement.duplicate-column-assignment")
    assert found.message.startswith("column region is named twice in SET")
    # one table: a qualified and an unqualified name are one column
    assert flags("UPDATE t SET t.a = 1, a = 2 WHERE id = 1;", "mysql", "statement.duplicate-column-assignment")


def test_mysql_column_names_compare_without_case():
    # MariaDB: ERROR 1060 (42S21) Duplicate column name 'A'
    [found] = findings("CREATE TABLE t (a int, `A` text);", "mysql", "statement.duplicate-column-assignment")
    assert found.message.startswith("column A is named twice in the column list") and found.column == 24
    assert not flags('CREATE TABLE t (a int, "A" text);', "postgres", "statement.duplicate-column-assignment")


def test_duplicate_assignment_in_on_conflict():
    sql = "INSERT INTO t (id, a) VALUES (1, 2) ON CONFLICT (id) DO UPDATE SET a = 1, a = 2;"
    [found] = findings(sql, "postgres", "statement.duplicate-column-assignment")
    assert "the conflict's SET" in found.message


def test_array_elements_and_row_assignments_are_columns_as_postgres_reads_them():
    # Parts of one array column (and of two) are assigned separately: PostgreSQL allows it. They
    # were reported as "column  is named twice" (no name) on the regression suite's arrays.sql.
    for sql in ("UPDATE t SET a[1] = 1, a[2] = 2 WHERE id = 1;", "UPDATE t SET a[1:2] = '{1,2}', b[1] = 3 WHERE id = 1;",
                "UPDATE t SET (a, b) = (1, 2), (c, d) = (3, 4) WHERE id = 1;",
                "INSERT INTO t (id) VALUES (1) ON CONFLICT (id) DO UPDATE SET x[1] = 1, x[2] = 2;"):
        assert not flags(sql, "postgres", "statement.duplicate-column-assignment"), sql
    # A column of a row assignment named again is a duplicate.
    [found] = findings("UPDATE t SET (a, b) = (1, 2), b = 3 WHERE id = 1;", "postgres",
                       "statement.duplicate-column-assignment")
    assert found.message.startswith("column b is named twice in SET") and found.column == 31


# -- statement.affected-row-limit ----------------------------------------------------------------------


def test_affected_row_limit_needs_a_database():
    found = RULES["statement.affected-row-limit"]
    assert found.needs_database and not found.implemented and found.payload == {"max_rows": 1000}
    Policy.from_rows("p", [("statement.affected-row-limit", "warning", {"max_rows": 10})])
    with pytest.raises(ValueError):
        Policy.from_rows("p", [("statement.affected-row-limit", "warning", {"max_rows": 0})])


# -- the cheap text gates in front of the tree walks (their near misses) --------------------------------


@pytest.mark.parametrize("sql, dialect", [
    ("DELETE FROM t WHERE a = /* why */ NULL;", "postgres"),  # a comment between = and NULL
    ("DELETE FROM t WHERE a =\n  -- why\n  NULL;", "postgres"),
    ("DELETE FROM t WHERE NULL <> a;", "sqlite"),  # NULL first
    ("DELETE FROM `t` WHERE NULL\n!= `a`;", "mysql"),  # backticks and a line break
    ("DELETE FROM `t` WHERE `a` = # why\n NULL;", "mysql"),  # a MySQL `#` comment
    ("DELETE FROM t WHERE a = /* why */ CAST(NULL AS int);", "postgres"),  # a cast NULL
    ('DELETE FROM t WHERE "it\'s" = (NULL) AND b = $$x$$;', "postgres"),  # in parentheses (st.norm may hide)
    ("DELETE FROM t WHERE NULL::int -- why\n = a;", "postgres"),
])
def test_equal_null_gate_near_misses(sql, dialect):
    assert flags(sql, dialect, "statement.where.no-equal-null")


def test_leading_wildcard_in_a_double_quoted_mysql_string():
    assert flags('UPDATE t SET a = 1 WHERE b LIKE "%x";', "mysql", "statement.where.no-leading-wildcard-like")
    assert not flags("UPDATE t SET a = 1 WHERE b LIKE 'x%';", "postgres", "statement.where.no-leading-wildcard-like")


@pytest.mark.parametrize("sql", [
    "INSERT INTO s (id) SELECT id FROM u ORDER BY\n  -- sample\n  RAND() LIMIT 1;",
    "INSERT INTO s (id) SELECT id FROM u SORT BY rand();",  # sqlglot reads Hive's SORT BY as an ORDER BY
])
def test_order_by_rand_gate_near_misses(sql):
    assert flags(sql, "mysql", "statement.insert.disallow-order-by-rand")


@pytest.mark.parametrize("dialect", ["postgres", "mysql", "sqlite"])
def test_the_star_sqlglot_writes_for_a_values_list_is_not_the_users(dialect):
    # sqlglot reads `WITH t(n) AS (VALUES (1))` as a SELECT * FROM (VALUES …): no star in the text.
    assert not flags("WITH t(n) AS (VALUES (1)) SELECT n * 2 FROM t;", dialect, "statement.select.no-select-all")
    # The user's own star is still reported (here over a table too: over the VALUES alone it is fixed).
    [found] = findings("WITH t(n) AS (VALUES (1)) SELECT * FROM t JOIN u ON true;", dialect,
                       "statement.select.no-select-all")
    assert found.column == 34
    if dialect != "mysql":  # (sqlglot reads MySQL's VALUES there as a function call: not known to be fixed)
        assert not flags("WITH t(n) AS (VALUES (1)) SELECT * FROM t;", dialect, "statement.select.no-select-all")
