from __future__ import annotations

import pytest

from reviews.engine import Policy
from tests.reviews.rules.helpers import findings, flags

ALL = ["postgres", "mysql", "sqlite"]


@pytest.mark.parametrize("statement", ["CREATE INDEX CONCURRENTLY t_a_idx ON t (a)", "DROP INDEX CONCURRENTLY t_a_idx",
                                       "REINDEX INDEX CONCURRENTLY t_a_idx", "VACUUM t", "CREATE DATABASE shop",
                                       "ALTER TABLE t DETACH PARTITION t_2019 CONCURRENTLY"])
def test_concurrently_in_a_transaction(statement):
    sql = f"BEGIN;\n  {statement};\nCOMMIT;"
    [found] = findings(sql, "postgres", "statement.concurrently-in-transaction")
    assert (found.severity, found.line, found.column) == ("error", 2, 3)
    assert "opened at line 1" in found.message and "file of its own" in found.message


def test_concurrently_outside_a_transaction_is_fine():
    sql = "CREATE INDEX CONCURRENTLY t_a_idx ON t (a);\nBEGIN;\nCREATE INDEX t_b_idx ON t (b);\nCOMMIT;"
    assert not flags(sql, "postgres", "statement.concurrently-in-transaction")


def test_assume_in_transaction_payload():
    sql = "SET lock_timeout = '2s';\nCREATE INDEX CONCURRENTLY t_a_idx ON t (a);"
    policy = Policy.from_rows("tool-wraps", [("statement.concurrently-in-transaction", "error",
                                              {"assume_in_transaction": True})])
    [found] = findings(sql, "postgres", "statement.concurrently-in-transaction", policy)
    assert found.line == 2 and "assume_in_transaction" in found.message
    assert not findings("CREATE INDEX CONCURRENTLY t_a_idx ON t (a);", "postgres",
                        "statement.concurrently-in-transaction", policy)
    assert not flags(sql, "postgres", "statement.concurrently-in-transaction")  # the default: false


def test_non_transactional_statement_among_others():
    sql = "ALTER TABLE t ADD COLUMN b int;\nCREATE INDEX CONCURRENTLY t_b_idx ON t (b);"
    [found] = findings(sql, "postgres", "statement.non-transactional")
    assert (found.severity, found.line) == ("info", 2)
    assert "isolate it" in found.message


def test_a_file_marked_transaction_off_needs_no_isolation():
    sql = "ALTER TABLE t ADD COLUMN b int;\nCREATE INDEX CONCURRENTLY t_b_idx ON t (b);"
    policy = Policy.from_rows("p", [("statement.concurrently-in-transaction", "error", {"assume_in_transaction": True})])
    for rule in ("statement.non-transactional", "statement.concurrently-in-transaction"):
        assert flags(sql, "postgres", rule) or findings(sql, "postgres", rule, policy)
        assert not findings("-- sluice:transaction off\n" + sql, "postgres", rule, policy)
    # an explicit BEGIN … COMMIT is still one transaction
    assert findings("-- sluice:transaction off\nBEGIN;\n" + sql + "\nCOMMIT;", "postgres",
                    "statement.concurrently-in-transaction")


def test_non_transactional_statement_alone_is_fine():
    assert not flags("CREATE INDEX CONCURRENTLY t_b_idx ON t (b);", "postgres", "statement.non-transactional")
    assert not flags("SET lock_timeout = '2s';\nCREATE INDEX CONCURRENTLY t_b_idx ON t (b);", "postgres",
                     "statement.non-transactional")
    # psql meta-commands are the client's, not statements: they do not count as "other statements"
    assert not flags("\\set ON_ERROR_STOP on\nSET lock_timeout = '2s';\nCREATE INDEX CONCURRENTLY t_b_idx ON t (b);",
                     "postgres", "statement.non-transactional")
    # a statement that is not a setting, even before the settings, does
    assert flags("SELECT 1;\nSET lock_timeout = '2s';\nCREATE INDEX CONCURRENTLY t_b_idx ON t (b);", "postgres",
                 "statement.non-transactional")


@pytest.mark.parametrize("statement", ["CREATE DATABASE shop", "DROP DATABASE shop", "CREATE TABLESPACE fast LOCATION '/x'",
                                       "drop tablespace fast", "ALTER SYSTEM SET work_mem = '64MB'",
                                       "ALTER DATABASE shop SET TABLESPACE fast", "REINDEX DATABASE shop",
                                       "REINDEX (VERBOSE) SYSTEM shop", "vacuum", "VACUUM (ANALYZE) t",
                                       "DROP INDEX CONCURRENTLY t_a_idx",
                                       "alter table t\n  detach partition t_2019 concurrently"])
def test_each_non_transactional_statement_among_others(statement):
    # after settings, but not the last statement: not alone in its file
    sql = f"SET lock_timeout = '2s';\n{statement};\nSELECT 1;"
    [found] = findings(sql, "postgres", "statement.non-transactional")
    assert found.line == 2
    assert not flags(f"SET lock_timeout = '2s';\nRESET work_mem;\n{statement};", "postgres",
                     "statement.non-transactional")


def test_settings_after_a_non_transactional_statement_are_not_other_statements():
    sql = "SET lock_timeout = 1000;\nCREATE INDEX CONCURRENTLY IF NOT EXISTS i ON t (a);\nRESET lock_timeout;"
    assert not flags(sql, "postgres", "statement.non-transactional")
    assert not flags("CREATE INDEX CONCURRENTLY IF NOT EXISTS i ON t (a);\nRESET ALL;\n\\unset x", "postgres",
                     "statement.non-transactional")
    # a statement after the settings is one: reported at the non-transactional statement
    [found] = findings(sql + "\nANALYZE t;", "postgres", "statement.non-transactional")
    assert (found.line, found.column) == (2, 1) and "isolate it" in found.message


@pytest.mark.parametrize("dialect", ALL)
def test_begin_inside_an_open_transaction(dialect):
    [found] = findings("BEGIN;\nINSERT INTO a VALUES (1);\nBEGIN;\nCOMMIT;", dialect, "statement.transaction-nesting")
    assert (found.severity, found.line, found.column) == ("warning", 3, 1)
    assert "opened at line 1" in found.message


@pytest.mark.parametrize("dialect", ALL)
def test_commit_without_a_transaction(dialect):
    [found] = findings("CREATE TABLE a (id int);\nCOMMIT;", dialect, "statement.transaction-nesting")
    assert found.line == 2 and "no open transaction" in found.message


@pytest.mark.parametrize("dialect", ALL)
def test_balanced_transactions_and_savepoints_are_fine(dialect):
    sql = "BEGIN;\nCREATE TABLE a (id int);\nSAVEPOINT s;\nROLLBACK TO SAVEPOINT s;\nCOMMIT;\nBEGIN;\nROLLBACK;"
    assert not flags(sql, dialect, "statement.transaction-nesting")
    assert not flags(sql, dialect, "statement.uncommitted-transaction")


def test_postgres_prepare_transaction_ends_the_open_transaction():
    # As a COMMIT does for the session: the BEGIN after it opens a new one (PostgreSQL 15 warns of no
    # transaction in progress), and the prepared one is not "rolled back when the session ends".
    sql = "BEGIN;\nUPDATE a SET b = 0 WHERE id = 1;\nPREPARE TRANSACTION 'tx1';\nBEGIN;\nUPDATE a SET b = 1 WHERE id = 2;\nCOMMIT;"
    assert not flags(sql, "postgres", "statement.transaction-nesting")
    assert not flags("BEGIN;\nUPDATE a SET b = 1 WHERE id = 1;\nPREPARE TRANSACTION 'tx1';", "postgres",
                     "statement.uncommitted-transaction")
    # A file that prepares mid-file cannot run as one transaction: the robust-statement rule applies.
    [found] = findings("BEGIN;\nUPDATE a SET b = 0 WHERE id = 1;\nPREPARE TRANSACTION 'tx1';\nCREATE TABLE c (id int);",
                       "postgres", "statement.prefer-robust-stmts")
    assert found.line == 4 and "commits mid-file" in found.message


def test_mysql_ddl_ends_the_open_transaction():
    # MySQL commits the open transaction before DDL: no nested BEGIN after it, and its COMMIT is a no-op.
    sql = "BEGIN;\nCREATE TABLE a (id int);\nBEGIN;\nINSERT INTO a VALUES (1);\nCOMMIT;\nCOMMIT;"
    assert [f.line for f in findings(sql, "mysql", "statement.transaction-nesting")] == [6]
    assert [f.line for f in findings(sql, "postgres", "statement.transaction-nesting")] == [3, 6]


def test_mariadb_begin_not_atomic_is_a_compound_statement_not_a_transaction():
    # MariaDB runs the block inside the open transaction (a ROLLBACK after it undoes its UPDATE)
    sql = ("START TRANSACTION;\nDELIMITER //\nBEGIN NOT ATOMIC\n  UPDATE t SET a = 1 WHERE id = 1;\nEND //\n"
           "DELIMITER ;\nCOMMIT;")
    assert not flags(sql, "mysql", "statement.transaction-nesting")


@pytest.mark.parametrize("dialect", ALL)
def test_uncommitted_transaction(dialect):
    begin = "START TRANSACTION" if dialect == "mysql" else "BEGIN"
    [found] = findings(f"CREATE TABLE a (id int);\n{begin};\nINSERT INTO a (id) VALUES (1);", dialect,
                       "statement.uncommitted-transaction")
    assert (found.severity, found.line) == ("error", 2)
    assert "Add COMMIT" in found.message


@pytest.mark.parametrize("dialect", ALL)
def test_disallow_commit_is_opt_in(dialect):
    sql = "BEGIN;\nCREATE TABLE a (id int);\nCOMMIT;"
    [found] = findings(sql, dialect, "statement.disallow-commit")
    assert found.line == 3 and "own the transaction" in found.message
    assert not findings(sql, dialect, "statement.disallow-commit", Policy.recommended())
    assert not flags("BEGIN;\nCREATE TABLE a (id int);\nROLLBACK;", dialect, "statement.disallow-commit")


def test_prefer_robust_statements_in_a_file_that_cannot_be_one_transaction():
    sql = ("CREATE TABLE IF NOT EXISTS a (id int);\nCREATE TABLE b (id int);\n"
           "CREATE INDEX CONCURRENTLY t_a_idx ON t (a);\nALTER TABLE t ADD COLUMN c int, DROP COLUMN IF EXISTS d;\n"
           "DROP INDEX CONCURRENTLY IF EXISTS t_old_idx;")
    found = findings(sql, "postgres", "statement.prefer-robust-stmts")
    assert [(f.line, f.severity) for f in found] == [(2, "warning"), (3, "warning"), (4, "warning")]
    assert "CREATE TABLE b has no IF NOT EXISTS" in found[0].message
    assert "ADD COLUMN c on t" in found[2].message


def test_prefer_robust_statements_reads_the_keyword_concurrently_not_a_name_that_holds_it():
    # timescaledb's `merge_chunks_concurrently` procedure: the file runs in one transaction.
    sql = "DROP FUNCTION f(int);\nDROP PROCEDURE IF EXISTS merge_chunks_concurrently(regclass[]);"
    assert not flags(sql, "postgres", "statement.prefer-robust-stmts")
    assert not flags("DROP FUNCTION f(int);\nREINDEX (CONCURRENTLY false) TABLE t;", "postgres",
                     "statement.prefer-robust-stmts")
    [found] = findings("DROP FUNCTION f(int);\nREINDEX TABLE CONCURRENTLY t;", "postgres", "statement.prefer-robust-stmts")
    assert found.line == 1 and "uses CONCURRENTLY" in found.message


def test_prefer_robust_statements_advises_a_drop_before_create_index_concurrently():
    # A failed CREATE INDEX CONCURRENTLY leaves an INVALID index: IF NOT EXISTS would keep it on the
    # retry (PostgreSQL 15: "relation already exists, skipping", indisvalid false). Dropping it first works.
    sql = "CREATE TABLE b (id int);\nCREATE UNIQUE INDEX CONCURRENTLY users_email_key ON app.users (email);"
    [found] = [f for f in findings(sql, "postgres", "statement.prefer-robust-stmts") if f.line == 2]
    assert "CREATE INDEX CONCURRENTLY users_email_key has no DROP INDEX … IF EXISTS before it" in found.message
    assert "Put `DROP INDEX CONCURRENTLY IF EXISTS app.users_email_key;` before it, not IF NOT EXISTS" in found.message
    assert "Add the IF [NOT] EXISTS guard" not in found.message
    # the schema as the name parts give it (a quoted name may hold a dot)
    for table, guard in (('"My.Schema".users', '"My.Schema".users_email_key'), ('"my.users"', "users_email_key")):
        [found] = findings(f"CREATE UNIQUE INDEX CONCURRENTLY users_email_key ON {table} (email);", "postgres",
                           "statement.prefer-robust-stmts")
        assert f"Put `DROP INDEX CONCURRENTLY IF EXISTS {guard};`" in found.message
    # the DROP it advises, earlier in the file, is the guard
    for drop in ("DROP INDEX CONCURRENTLY IF EXISTS app.users_email_key", "DROP INDEX IF EXISTS users_email_key"):
        assert not flags(f"{drop};\nCREATE UNIQUE INDEX CONCURRENTLY users_email_key ON app.users (email);",
                         "postgres", "statement.prefer-robust-stmts")
    assert flags("DROP INDEX CONCURRENTLY IF EXISTS other_idx;\n"
                 "CREATE UNIQUE INDEX CONCURRENTLY users_email_key ON app.users (email);",
                 "postgres", "statement.prefer-robust-stmts")


@pytest.mark.parametrize("sql", [
    "DROP INDEX CONCURRENTLY users_email_key;",
    "SET lock_timeout = '2s';\nREINDEX INDEX CONCURRENTLY t_a_idx;\nRESET lock_timeout;",
])
def test_prefer_robust_statements_not_for_the_only_statement_of_a_file(sql):
    # alone in its file but for settings: a failure leaves nothing that stops the retry
    assert not flags(sql, "postgres", "statement.prefer-robust-stmts")


@pytest.mark.parametrize("sql", [
    "CREATE UNIQUE INDEX CONCURRENTLY users_email_key ON users (email);",
    "SET lock_timeout = '2s';\nCREATE INDEX CONCURRENTLY users_email_key ON users (email);\nRESET lock_timeout;",
])
def test_prefer_robust_statements_for_a_create_index_concurrently_even_alone(sql):
    # Alone in its file (as statement.non-transactional asks), a build that fails still leaves an INVALID
    # index behind: PostgreSQL 15, duplicates under a unique build, then the file again: "relation
    # "users_email_key" already exists".
    [found] = findings(sql, "postgres", "statement.prefer-robust-stmts")
    assert "if its build fails, a retry of this file stops here" in found.message
    assert "Put `DROP INDEX CONCURRENTLY IF EXISTS users_email_key;` before it" in found.message
    guarded = "DROP INDEX CONCURRENTLY IF EXISTS users_email_key;\n" + sql
    assert not flags(guarded, "postgres", "statement.prefer-robust-stmts")


def test_prefer_robust_statements_on_the_first_statement_once_another_follows():
    sql = "SET lock_timeout = '2s';\nCREATE INDEX CONCURRENTLY t_a_idx ON t (a);\nRESET lock_timeout;\nSELECT 1;"
    [found] = findings(sql, "postgres", "statement.prefer-robust-stmts")
    assert (found.line, found.column) == (2, 1) and "CREATE INDEX CONCURRENTLY t_a_idx" in found.message


def test_prefer_robust_statements_at_each_action_of_an_alter():
    sql = ("ALTER TABLE t ADD COLUMN a int,\n  ADD COLUMN b int,\n  DROP COLUMN c;\n"
           "CREATE INDEX CONCURRENTLY IF NOT EXISTS t_a_idx ON t (a);")
    found = findings(sql, "postgres", "statement.prefer-robust-stmts")
    assert [(f.line, f.column) for f in found] == [(1, 15), (2, 3), (3, 3)]
    assert [f.message.split(" on ")[0] for f in found] == ["ADD COLUMN a", "ADD COLUMN b", "DROP COLUMN c"]


def test_prefer_robust_statements_not_when_the_file_is_one_transaction():
    assert not flags("CREATE TABLE b (id int);\nCREATE INDEX t_a_idx ON t (a);", "postgres",
                     "statement.prefer-robust-stmts")
    # The file's last block: a failure in it rolls it back whole.
    sql = "CREATE INDEX CONCURRENTLY IF NOT EXISTS t_a_idx ON t (a);\nBEGIN;\nCREATE TABLE b (id int);\nCOMMIT;"
    assert not flags(sql, "postgres", "statement.prefer-robust-stmts")


@pytest.mark.parametrize("dialect", ALL)
def test_maximum_statements_in_transaction(dialect):
    policy = Policy.from_rows("short", [("statement.maximum-statements-in-transaction", "warning",
                                         {"max_statements": 2})])
    sql = "BEGIN;\n" + "".join(f"INSERT INTO a VALUES ({i});\n" for i in range(4)) + "COMMIT;"
    [found] = findings(sql, dialect, "statement.maximum-statements-in-transaction", policy)
    assert found.line == 4 and "more than 2 statements" in found.message
    two = "BEGIN;\nCREATE TABLE a (id int);\nCREATE TABLE b (id int);\nCOMMIT;"
    assert not findings(two, dialect, "statement.maximum-statements-in-transaction", policy)


@pytest.mark.parametrize("dialect", ALL)
@pytest.mark.parametrize("dml", ["UPDATE orders SET status = 'new' WHERE status IS NULL",
                                 "DELETE FROM orders WHERE status = 'gone'",
                                 "INSERT INTO orders (id) SELECT id FROM old_orders"])
def test_backfill_in_a_ddl_file(dialect, dml):
    sql = f"ALTER TABLE orders ADD COLUMN status text;\n{dml};"
    [found] = findings(sql, dialect, "statement.disallow-mix-in-ddl")
    assert (found.severity, found.line) == ("warning", 2)
    assert "existing table orders" in found.message and "separate data migration" in found.message


@pytest.mark.parametrize("dialect", ALL)
def test_data_statements_that_are_fine_in_a_ddl_file(dialect):
    rule = "statement.disallow-mix-in-ddl"
    assert not flags("ALTER TABLE orders ADD COLUMN status text;\nINSERT INTO orders (id) VALUES (1);", dialect, rule)
    assert not flags("ALTER TABLE orders ADD COLUMN status text;\nCREATE TABLE kinds (id int);\n"
                     "INSERT INTO kinds (id) SELECT id FROM orders;", dialect, rule)
    assert not flags("UPDATE orders SET status = 'new' WHERE status IS NULL;", dialect, rule)  # no DDL


def test_sqlite_rebuild_copy_is_fine():
    sql = ('ALTER TABLE other ADD COLUMN x int;\nCREATE TABLE "new__app_m" (id integer PRIMARY KEY);\n'
           'INSERT INTO "new__app_m" (id) SELECT id FROM "app_m";\nDROP TABLE "app_m";\n'
           'ALTER TABLE "new__app_m" RENAME TO "app_m";')
    assert not flags(sql, "sqlite", "statement.disallow-mix-in-ddl")


def test_postgres_copy_and_cte_backfills():
    sql = ("ALTER TABLE orders ADD COLUMN status text;\nCOPY orders (id) FROM STDIN;\n"
           "WITH s AS (SELECT id FROM old) INSERT INTO orders (id) SELECT id FROM s;")
    assert [f.line for f in findings(sql, "postgres", "statement.disallow-mix-in-ddl")] == [2, 3]


def test_strict_raises_the_backfill_rule():
    assert Policy.strict().severity("statement.disallow-mix-in-ddl", "mysql") == "error"


def test_literal_rows_behind_an_alias_or_overriding_are_no_backfill():
    ddl = "ALTER TABLE roles ADD COLUMN note text;\n"
    rule = "statement.disallow-mix-in-ddl"
    assert not flags(ddl + "INSERT INTO roles (id, name) OVERRIDING SYSTEM VALUE VALUES (1, 'admin');", "postgres", rule)
    assert not flags(ddl + "INSERT INTO roles AS r (id, name) VALUES (2, 'dev') ON CONFLICT (id) DO UPDATE "
                     "SET name = EXCLUDED.name;", "postgres", rule)
    assert flags(ddl + "INSERT INTO roles AS r (id, name) OVERRIDING USER VALUE SELECT id, name FROM old_roles;",
                 "postgres", rule)


def test_prefer_robust_statements_in_a_block_that_commits_before_the_rest_of_the_file():
    # Alembic's autocommit_block: the block commits, then CREATE INDEX CONCURRENTLY may fail; the retry stops
    # at `relation "projects" already exists` (PostgreSQL 15).
    sql = ("SET lock_timeout = '2s';\nBEGIN;\nCREATE TABLE projects (id bigint PRIMARY KEY, slug text NOT NULL);\n"
           "COMMIT;\nCREATE INDEX CONCURRENTLY IF NOT EXISTS ix_users_created_at ON users (created_at);\n")
    [found] = findings(sql, "postgres", "statement.prefer-robust-stmts")
    assert found.line == 3 and "CREATE TABLE projects has no IF NOT EXISTS" in found.message
    # The file's last block (settings after it at most) rolls back as a whole: nothing to guard in it.
    last = ("CREATE INDEX CONCURRENTLY IF NOT EXISTS ix_users_created_at ON users (created_at);\nBEGIN;\n"
            "CREATE TABLE projects (id bigint PRIMARY KEY);\nCOMMIT;\nRESET lock_timeout;\n")
    assert not flags(last, "postgres", "statement.prefer-robust-stmts")


@pytest.mark.parametrize("dialect", ALL)
@pytest.mark.parametrize("stamp", [
    "UPDATE alembic_version SET version_num='2b0002' WHERE alembic_version.version_num = '1a0001';",
    "DELETE FROM schema_migrations WHERE version = '20240101';",
])
def test_a_migration_tools_version_stamp_is_no_backfill(dialect, stamp):
    # Alembic stamps each revision in the DDL's transaction, on purpose.
    sql = f"ALTER TABLE users ADD COLUMN phone varchar(32);\n{stamp}"
    assert not flags(sql, dialect, "statement.disallow-mix-in-ddl")
    assert flags(sql.replace(stamp, "UPDATE users SET phone = '';"), dialect, "statement.disallow-mix-in-ddl")
