from __future__ import annotations

import pytest

from reviews.engine import Policy, review_file
from tests.reviews.rules.helpers import findings, flags


@pytest.mark.parametrize("dialect", ["postgres", "mysql", "sqlite"])
def test_drop_table_of_an_existing_table(dialect):
    [found] = findings("DROP TABLE customers;", dialect, "table.disallow-drop")
    assert found.severity == "error" and (found.line, found.column) == (1, 1)
    assert "drop it in a later release" in found.message


@pytest.mark.parametrize("dialect", ["postgres", "mysql", "sqlite"])
def test_drop_of_a_table_created_in_the_same_file_is_fine(dialect):
    assert not flags("CREATE TABLE tmp (id int);\nDROP TABLE tmp;", dialect, "table.disallow-drop")


@pytest.mark.parametrize("dialect", ["postgres", "mysql"])
def test_drop_database(dialect):
    assert flags("DROP DATABASE shop;", dialect, "database.disallow-drop")
    assert not flags("DROP TABLE database_logs;", dialect, "database.disallow-drop")


def test_mysql_drop_schema_is_drop_database():
    assert flags("DROP SCHEMA shop;", "mysql", "database.disallow-drop")
    assert not flags("DROP SCHEMA shop;", "postgres", "database.disallow-drop")


# -- table.disallow-drop: more cases ----------------------------------------------------------------


@pytest.mark.parametrize("dialect", ["postgres", "mysql"])  # SQLite drops one table per statement
def test_drop_of_several_tables_points_at_each_existing_one(dialect):
    found = findings("CREATE TABLE tmp (id int);\nDROP TABLE tmp, orders;", dialect, "table.disallow-drop")
    assert [(f.line, f.column) for f in found] == [(2, 17)]
    assert "DROP TABLE orders" in found[0].message


REBUILD = """CREATE TABLE {new} (id integer PRIMARY KEY, name text NOT NULL);
INSERT INTO {new} (id, name) SELECT id, name FROM users;
DROP TABLE users;
ALTER TABLE {new} RENAME TO users;
"""


@pytest.mark.parametrize("new", ["new_users", "new__users", "users_new", '"new__users"'])
def test_the_drop_step_of_a_sqlite_rebuild_is_fine(new):
    assert not flags(REBUILD.format(new=new), "sqlite", "table.disallow-drop")


def test_a_copy_into_a_differently_named_table_is_no_rebuild():
    sql = REBUILD.format(new="users_archive").replace("RENAME TO users", "RENAME TO users_old")
    [found] = findings(sql, "sqlite", "table.disallow-drop")
    assert found.line == 3 and "DROP TABLE users" in found.message


@pytest.mark.parametrize("dialect", ["postgres", "mysql"])
def test_the_rebuild_exception_is_sqlite_only(dialect):
    assert flags(REBUILD.format(new="new_users"), dialect, "table.disallow-drop")


def test_a_drop_before_the_copy_is_no_rebuild():
    sql = "CREATE TABLE new_users (id int);\nDROP TABLE users;\nINSERT INTO new_users (id) SELECT id FROM users;"
    assert flags(sql, "sqlite", "table.disallow-drop")


COPY_BACK = """CREATE TABLE cat._tmp_f AS SELECT a, b FROM cat.f ORDER BY a;
DROP TABLE cat.f;
CREATE TABLE cat.f (a int PRIMARY KEY, b text);
INSERT INTO cat.f SELECT * FROM cat._tmp_f;
DROP TABLE cat._tmp_f;
"""
TEMP_COPY_BACK = COPY_BACK.replace("CREATE TABLE cat._tmp_f", "CREATE TEMPORARY TABLE _tmp_f").replace("cat._tmp_f", "_tmp_f")


@pytest.mark.parametrize("dialect", ["postgres", "mysql", "sqlite"])
def test_a_table_copied_out_dropped_created_again_and_copied_back_loses_nothing(dialect):
    # timescaledb's upgrade scripts: every row kept in a permanent copy, then copied back.
    sql = COPY_BACK if dialect == "postgres" else COPY_BACK.replace("cat.", "")
    assert not flags(sql, dialect, "table.disallow-drop")


@pytest.mark.parametrize(("dialect", "sql"), [
    ("postgres", TEMP_COPY_BACK),  # the runner's one transaction: a failure restores the table
    ("postgres", "BEGIN;\n" + TEMP_COPY_BACK + "COMMIT;\n"),
    ("sqlite", TEMP_COPY_BACK.replace("cat.", "")),
])
def test_a_temporary_copy_is_enough_within_one_transaction(dialect, sql):
    assert not flags(sql, dialect, "table.disallow-drop")


@pytest.mark.parametrize(("dialect", "sql", "line"), [
    ("postgres", COPY_BACK.replace("INSERT INTO cat.f SELECT * FROM cat._tmp_f;\n", ""), 2),  # never copied back
    ("postgres", COPY_BACK.replace("ORDER BY a", "WHERE a > 0"), 2),  # only some rows kept
    ("postgres", COPY_BACK.replace("FROM cat._tmp_f;", "FROM cat._tmp_f WHERE a > 0;"), 2),  # only some come back
    ("postgres", COPY_BACK.replace("AS SELECT a, b FROM cat.f", "AS SELECT a, b FROM cat.f WITH NO DATA"), 2),
    ("postgres", COPY_BACK.replace("CREATE TABLE cat.f (", "DROP TABLE cat._tmp_f;\nCREATE TABLE cat.f ("), 2),
    # A temporary copy outside one transaction is lost with the session if the migration stops half-way.
    ("postgres", "-- sluice:transaction off\n" + TEMP_COPY_BACK, 3),
    ("postgres", "BEGIN;\n" + TEMP_COPY_BACK.replace("DROP TABLE cat.f;", "DROP TABLE cat.f;\nCOMMIT;\nBEGIN;") + "COMMIT;\n",
     3),
    ("mysql", TEMP_COPY_BACK.replace("cat.", ""), 2),
])
def test_a_copy_back_that_may_lose_rows_is_still_a_drop(dialect, sql, line):
    [found] = findings(sql, dialect, "table.disallow-drop")
    assert found.line == line


# -- schema.disallow-drop ------------------------------------------------------------------------------


def test_drop_schema():
    [found] = findings("DROP SCHEMA billing CASCADE;", "postgres", "schema.disallow-drop")
    assert found.severity == "error" and (found.line, found.column) == (1, 1)
    assert "DROP SCHEMA billing" in found.message and "drop it in a later release" in found.message


def test_drop_of_several_schemas_names_each():
    found = findings("DROP SCHEMA IF EXISTS a, b;", "postgres", "schema.disallow-drop")
    assert [f.message.split(" fails")[0] for f in found] == ["DROP SCHEMA a", "DROP SCHEMA b"]


def test_drop_schema_without_cascade_fails_on_a_schema_that_is_not_empty():
    # PostgreSQL 15: "cannot drop schema s1 because other objects depend on it" (HINT: use CASCADE).
    [found] = findings("DROP SCHEMA IF EXISTS reporting;", "postgres", "schema.disallow-drop")
    assert "DROP SCHEMA reporting fails if the schema is not empty, and drops it for good if it is" in found.message
    assert "destroys" not in found.message
    [found] = findings("DROP SCHEMA reporting CASCADE;", "postgres", "schema.disallow-drop")
    assert "DROP SCHEMA reporting destroys every object in it" in found.message


def test_drop_of_a_schema_created_in_the_file_is_fine():
    assert not flags("CREATE SCHEMA scratch;\nDROP SCHEMA scratch;", "postgres", "schema.disallow-drop")
    assert not flags("DROP TABLE schema_versions;", "postgres", "schema.disallow-drop")


# -- table.drop-naming-convention ----------------------------------------------------------------------


@pytest.mark.parametrize("dialect", ["postgres", "mysql"])
def test_drop_of_a_table_without_the_retired_suffix(dialect):
    [found] = findings("DROP TABLE customers;", dialect, "table.drop-naming-convention")
    assert "rename it first" in found.message and "customers_del" in found.message
    assert not flags("DROP TABLE customers_del;", dialect, "table.drop-naming-convention")


def test_drop_naming_convention_is_opt_in_and_takes_a_pattern():
    from reviews.engine import Policy
    from reviews.engine.registry import RULES

    assert RULES["table.drop-naming-convention"].severity == "disabled"
    assert not findings("DROP TABLE customers;", "postgres", "table.drop-naming-convention", Policy.recommended())
    policy = Policy.from_rows("p", [("table.drop-naming-convention", "warning", {"format": "^old_"})])
    assert not findings("DROP TABLE old_customers;", "postgres", "table.drop-naming-convention", policy)
    assert findings("DROP TABLE customers_del;", "postgres", "table.drop-naming-convention", policy)
    with pytest.raises(ValueError):
        Policy.from_rows("p", [("table.drop-naming-convention", "warning", {"format": 3})])


# -- column.disallow-drop ------------------------------------------------------------------------------


@pytest.mark.parametrize("dialect", ["postgres", "mysql", "sqlite"])
def test_drop_column(dialect):
    [found] = findings("ALTER TABLE users\n  DROP COLUMN middle_name;", dialect, "column.disallow-drop")
    assert found.severity == "error" and (found.line, found.column) == (2, 15)
    assert "users.middle_name" in found.message and "stop using the column in the ORM" in found.message


@pytest.mark.parametrize("dialect", ["postgres", "mysql", "sqlite"])
def test_drop_column_of_a_new_table_or_other_drops_are_fine(dialect):
    assert not flags("CREATE TABLE t (a int, b int);\nALTER TABLE t DROP COLUMN b;", dialect, "column.disallow-drop")
    assert not flags("ALTER TABLE users DROP CONSTRAINT users_email_key;", dialect, "column.disallow-drop")


def test_mysql_drop_without_the_column_word():
    found = findings("ALTER TABLE users DROP middle_name, DROP INDEX idx_x;", "mysql", "column.disallow-drop")
    assert len(found) == 1 and "users.middle_name" in found[0].message


def test_drop_column_in_index_needs_a_database():
    from reviews.engine.registry import RULES

    found = RULES["column.disallow-drop-in-index"]
    assert found.needs_database and not found.implemented and found.severity == "disabled"


# -- statement.disallow-truncate / -cascade ------------------------------------------------------------


@pytest.mark.parametrize("dialect", ["postgres", "mysql"])
def test_truncate(dialect):
    [found] = findings("TRUNCATE TABLE audit_log;", dialect, "statement.disallow-truncate")
    assert found.severity == "error" and (found.line, found.column) == (1, 1)
    assert "TRUNCATE audit_log" in found.message and "DELETE … WHERE" in found.message


@pytest.mark.parametrize("dialect", ["postgres", "mysql"])
def test_truncate_of_a_new_table_is_fine(dialect):
    assert not flags("CREATE TABLE staging (id int);\nTRUNCATE staging;", dialect, "statement.disallow-truncate")


def test_truncate_on_postgres_says_what_it_skips_and_locks():
    # PostgreSQL 15: ON TRUNCATE triggers fire and a TRUNCATE rolls back; row-level ON DELETE triggers do not
    # fire, and pg_locks shows AccessExclusiveLock.
    [found] = findings("TRUNCATE audit_log;", "postgres", "statement.disallow-truncate")
    assert found.message.startswith("TRUNCATE audit_log skips its ON DELETE triggers and takes an ACCESS EXCLUSIVE "
                                    "lock, and once committed the rows are gone")
    assert "without triggers" not in found.message and "undo" not in found.message
    [found] = findings("TRUNCATE audit_log;", "mysql", "statement.disallow-truncate")
    assert "empties it without triggers or row-level undo" in found.message


def test_truncate_cascade():
    [found] = findings("TRUNCATE customers, orders CASCADE;", "postgres", "statement.disallow-truncate-cascade")
    assert found.severity == "error" and "customers, orders CASCADE" in found.message
    assert "name each table" in found.message
    assert not flags("TRUNCATE customers RESTRICT;", "postgres", "statement.disallow-truncate-cascade")
    assert not flags("TRUNCATE customers;", "postgres", "statement.disallow-truncate-cascade")


# -- statement.disallow-rm-tbl-cascade -----------------------------------------------------------------


@pytest.mark.parametrize("sql, what", [
    ("DROP TABLE customers CASCADE;", "DROP TABLE customers"),
    ("DROP VIEW active_users CASCADE;", "DROP VIEW active_users"),
    ("DROP EXTENSION hstore CASCADE;", "DROP EXTENSION"),
    ("ALTER TABLE orders DROP COLUMN note CASCADE;", "ALTER TABLE orders DROP"),
])
def test_drop_cascade(sql, what):
    [found] = findings(sql, "postgres", "statement.disallow-rm-tbl-cascade")
    assert found.severity == "warning" and found.message.startswith(what)
    assert "drop the dependents explicitly" in found.message


def test_drop_cascade_is_an_error_in_strict():
    from reviews.engine import Policy

    [found] = findings("DROP VIEW v CASCADE;", "postgres", "statement.disallow-rm-tbl-cascade", Policy.strict())
    assert found.severity == "error"


@pytest.mark.parametrize("sql", [
    "DROP TABLE customers;",
    "DROP TABLE customers RESTRICT;",
    "CREATE TABLE tmp (id int);\nDROP TABLE tmp CASCADE;",
    "COMMENT ON TABLE t IS 'DROP x CASCADE';",
])
def test_drop_without_cascade_is_fine(sql):
    assert not flags(sql, "postgres", "statement.disallow-rm-tbl-cascade")


# -- constraint.disallow-drop-fk -----------------------------------------------------------------------


@pytest.mark.parametrize("dialect", ["postgres", "mysql", "sqlite"])
@pytest.mark.parametrize("name", ["orders_customer_id_fkey", "fk_orders_customer",
                                  "orders_cust_id_1a2b_fk_customers_id"])
def test_drop_constraint_named_like_a_foreign_key(dialect, name):
    [found] = findings(f"ALTER TABLE orders DROP CONSTRAINT {name};", dialect, "constraint.disallow-drop-fk")
    assert found.severity == "warning" and f"foreign key {name} on orders" in found.message
    assert "add the replacement constraint first" in found.message
    assert ("NOT VALID" in found.message) == (dialect == "postgres")  # (PostgreSQL's alone)


@pytest.mark.parametrize("dialect", ["postgres", "mysql"])  # (SQLite has neither ADD nor DROP CONSTRAINT)
def test_drop_of_a_foreign_key_added_in_the_file_is_fine(dialect):
    sql = ("ALTER TABLE orders ADD CONSTRAINT owner_fk FOREIGN KEY (user_id) REFERENCES users (id);\n"
           "ALTER TABLE orders DROP CONSTRAINT owner_fk;")
    assert not flags(sql, dialect, "constraint.disallow-drop-fk")


def test_the_replacement_added_first_as_recommended_is_fine():
    sql = ("ALTER TABLE orders ADD CONSTRAINT orders_customer_id_fkey2 FOREIGN KEY (customer_id) REFERENCES customers "
           "(id) ON DELETE CASCADE NOT VALID;\n"
           "ALTER TABLE orders VALIDATE CONSTRAINT orders_customer_id_fkey2;\n"
           "ALTER TABLE orders DROP CONSTRAINT orders_customer_id_fkey;")
    assert not flags(sql, "postgres", "constraint.disallow-drop-fk")


@pytest.mark.parametrize("dialect", ["postgres", "mysql"])
@pytest.mark.parametrize("sql", [
    # Prisma changing ON DELETE: drop, then add again under the same name
    'ALTER TABLE "Post" DROP CONSTRAINT "Post_authorId_fkey";\nSELECT 1;\n'
    'ALTER TABLE "Post" ADD CONSTRAINT "Post_authorId_fkey" FOREIGN KEY ("authorId") REFERENCES "User"("id") '
    "ON DELETE CASCADE;",
    # both in one statement
    "ALTER TABLE orders DROP CONSTRAINT orders_customer_id_fkey, ADD CONSTRAINT orders_customer_id_fkey FOREIGN KEY "
    "(customer_id) REFERENCES customers (id);",
    # the same columns under another name
    "ALTER TABLE orders DROP CONSTRAINT orders_customer_id_fkey;\n"
    "ALTER TABLE orders ADD CONSTRAINT fk_orders_customer FOREIGN KEY (customer_id) REFERENCES customers (id);",
    # a hand-written <table>_<columns>_fk (ory's projects)
    "ALTER TABLE orders DROP CONSTRAINT orders_customer_id_fk;\n"
    "ALTER TABLE orders ADD CONSTRAINT fk_orders_customer FOREIGN KEY (customer_id) REFERENCES customers (id);",
    # Django's name for a foreign key on orders.customer_id
    "ALTER TABLE orders DROP CONSTRAINT orders_customer_id_1a2b3c4d_fk_customers_id;\n"
    "ALTER TABLE orders ADD CONSTRAINT orders_customer_id_5e6f7a8b_fk_customers_id FOREIGN KEY (customer_id) "
    "REFERENCES customers (id);",
])
def test_a_foreign_key_added_again_later_in_the_file_is_fine(dialect, sql):
    if dialect == "mysql":
        sql = sql.replace('"', "`")
    assert not flags(sql, dialect, "constraint.disallow-drop-fk")


def test_pg_dump_clean_drops_and_adds_again():
    sql = ("ALTER TABLE IF EXISTS ONLY public.orders DROP CONSTRAINT IF EXISTS orders_customer_fk;\n"
           "DROP TABLE IF EXISTS public.orders;\n"
           "CREATE TABLE public.orders (id integer, customer_id integer);\n"
           "ALTER TABLE ONLY public.orders\n    ADD CONSTRAINT orders_customer_fk FOREIGN KEY (customer_id) "
           "REFERENCES public.customers(id);")
    assert not flags(sql, "postgres", "constraint.disallow-drop-fk")


@pytest.mark.parametrize("added", [
    "ALTER TABLE invoices ADD CONSTRAINT orders_customer_id_fkey FOREIGN KEY (customer_id) REFERENCES customers (id);",
    "ALTER TABLE orders ADD CONSTRAINT orders_shop_id_fkey FOREIGN KEY (shop_id) REFERENCES shops (id);",
])
def test_a_foreign_key_on_another_table_or_other_columns_is_no_replacement(added):
    sql = f"SELECT 1;\nALTER TABLE orders DROP CONSTRAINT orders_customer_id_fkey;\n{added}\nSELECT 2;"
    [found] = findings(sql, "postgres", "constraint.disallow-drop-fk")
    assert (found.line, found.column) == (2, 36)
    assert found.message == ("dropping foreign key orders_customer_id_fkey on orders silently stops its cascades and "
                             "lets orphan rows in: keep it, or add the replacement constraint first (NOT VALID, then "
                             "VALIDATE)")


@pytest.mark.parametrize("dialect", ["postgres", "mysql"])
@pytest.mark.parametrize(("columns", "replaced"), [
    # Prisma (langfuse): the key on (dataset_id) becomes one on (dataset_id, project_id)
    ('"dataset_id", "project_id"', True),
    # a key on columns that do not start with its column is none
    ('"project_id", "dataset_id"', False),
])
def test_a_foreign_key_widened_to_more_columns_is_a_replacement(dialect, columns, replaced):
    sql = ('ALTER TABLE "dataset_items" DROP CONSTRAINT "dataset_items_dataset_id_fkey";\n'
           f'ALTER TABLE "dataset_items" ADD CONSTRAINT "dataset_items_fkey2" FOREIGN KEY ({columns}) '
           'REFERENCES "datasets"("id", "project_id") ON DELETE CASCADE;')
    if dialect == "mysql":
        sql = sql.replace('"', "`")
    assert flags(sql, dialect, "constraint.disallow-drop-fk") != replaced


@pytest.mark.parametrize("dialect", ["postgres", "mysql"])
def test_a_foreign_key_dropped_with_its_column_is_left_to_column_disallow_drop(dialect):
    # Prisma (trigger.dev): the key goes first, then its column (which would drop the key anyway)
    sql = ('ALTER TABLE "TaskRun" DROP CONSTRAINT "TaskRun_queueId_fkey";\n'
           'ALTER TABLE "TaskRun" DROP COLUMN "queueId", ADD COLUMN "queue" TEXT;')
    if dialect == "mysql":
        sql = sql.replace('"', "`")
    assert not flags(sql, dialect, "constraint.disallow-drop-fk")
    assert flags(sql, dialect, "column.disallow-drop")
    # another column dropped: the key's rows stay, unchecked
    assert flags(sql.replace('COLUMN "queueId"', 'COLUMN "queueName"').replace("`queueId`,", "`queueName`,"), dialect,
                 "constraint.disallow-drop-fk")


@pytest.mark.parametrize("dialect", ["postgres", "mysql"])
@pytest.mark.parametrize("sql", [
    # authelia V0005: the key renamed; its old name is not <table>_… (MariaDB 10.11: the key is in place after)
    "ALTER TABLE oauth2_consent_session\n    DROP FOREIGN KEY oauth2_consent_subject_fkey,\n"
    "    ADD CONSTRAINT oauth2_consent_session_subject_fkey FOREIGN KEY (subject) REFERENCES user_opaque_identifier "
    "(identifier);",
    # kratos: a misnamed `…_fk` renamed
    "ALTER TABLE identity_recovery_codes\n    DROP FOREIGN KEY identity_recovery_codes_identity_id_fk,\n"
    "    ADD CONSTRAINT identity_recovery_tokens_identity_id_fk FOREIGN KEY (identity_id) REFERENCES identities (id);",
    # a new ON DELETE, the new key named anyhow
    "ALTER TABLE orders DROP CONSTRAINT fk_orders_customer_id, ADD CONSTRAINT orders_owner FOREIGN KEY (customer_id) "
    "REFERENCES customers (id) ON DELETE CASCADE;",
])
def test_a_foreign_key_added_again_by_the_same_alter_is_fine(dialect, sql):
    if dialect == "postgres":
        sql = sql.replace("DROP FOREIGN KEY", "DROP CONSTRAINT")
    assert not flags(sql, dialect, "constraint.disallow-drop-fk")


@pytest.mark.parametrize("dialect", ["postgres", "mysql"])
@pytest.mark.parametrize("sql", [
    # kratos's down migration: the name shows settings_flow_id, the column is origin_settings_flow_id
    "ALTER TABLE identity_pending_traits_changes\n"
    "    DROP CONSTRAINT identity_pending_traits_changes_settings_flow_id_fk,\n"
    "    DROP COLUMN origin_settings_flow_id;",
    "ALTER TABLE t DROP CONSTRAINT t_origin_flow_id_fk, DROP COLUMN origin_flow_id;",
    "ALTER TABLE t DROP CONSTRAINT fk_t_parent_id_parents_id, DROP COLUMN parent_id;",
    # the same migration's other key: its name says sessions_id, the column is session_id
    "ALTER TABLE t DROP CONSTRAINT t_sessions_id_fk, DROP COLUMN session_id;",
])
def test_a_foreign_key_dropped_with_its_column_by_the_same_alter_is_fine(dialect, sql):
    # MariaDB 10.11 refuses the column alone: ERROR 1553 Cannot drop index …: needed in a foreign key constraint.
    if dialect == "mysql":
        sql = sql.replace("DROP CONSTRAINT", "DROP FOREIGN KEY")
    assert not flags(sql, dialect, "constraint.disallow-drop-fk")
    assert flags(sql, dialect, "column.disallow-drop")


@pytest.mark.parametrize("dialect", ["postgres", "mysql"])
@pytest.mark.parametrize("sql", [
    "ALTER TABLE t DROP CONSTRAINT t_flow_id_fk;",
    # the same ALTER adds a key on other columns, or drops another column
    "ALTER TABLE t DROP CONSTRAINT t_flow_id_fk,\n"
    "    ADD CONSTRAINT t_owner_id_fk FOREIGN KEY (owner_id) REFERENCES o (id);",
    "ALTER TABLE t DROP CONSTRAINT t_flow_id_fk, DROP COLUMN note;",
    # a name that shows no columns
    "ALTER TABLE t DROP CONSTRAINT t_ibfk_1, ADD CONSTRAINT t_fk2 FOREIGN KEY (flow_id) REFERENCES f (id);",
])
def test_a_foreign_key_drop_nothing_in_the_alter_makes_good_is_reported(dialect, sql):
    if dialect == "mysql":
        sql = sql.replace("DROP CONSTRAINT", "DROP FOREIGN KEY")
    [found] = findings(sql, dialect, "constraint.disallow-drop-fk")
    assert "silently stops its cascades and lets orphan rows in" in found.message


@pytest.mark.parametrize("sql", [
    "ALTER TABLE Orders DROP FOREIGN KEY FK_Orders_Customer;",
    "ALTER TABLE `Orders` DROP FOREIGN KEY `FK_Orders_Customer`;",
    "ALTER TABLE Orders DROP FOREIGN KEY FK_Orders_Customer, ADD (note text);",  # read from the tokens
])
def test_mysql_foreign_key_drop_names_the_table_as_written(sql):
    # MySQL's table names are case-sensitive on Linux (lower_case_table_names=0): no lower-cased names.
    [found] = findings(sql, "mysql", "constraint.disallow-drop-fk")
    assert "dropping foreign key FK_Orders_Customer on Orders silently" in found.message


def test_a_suppressed_foreign_key_drop_stays_suppressed():
    sql = "-- sluice:ignore constraint.disallow-drop-fk\nALTER TABLE orders DROP CONSTRAINT orders_customer_id_fkey;"
    review = review_file("0001.sql", sql, "postgres", Policy.recommended())
    [found] = [f for f in review.findings if f.rule == "constraint.disallow-drop-fk"]
    assert found.suppressed and found.line == 2


def test_mysql_drop_constraint_of_an_innodb_foreign_key_name():
    # InnoDB names an unnamed foreign key <table>_ibfk_N; DROP CONSTRAINT drops it (MySQL 8.0.19+, MariaDB).
    [found] = findings("ALTER TABLE c DROP CONSTRAINT c_ibfk_1;", "mysql", "constraint.disallow-drop-fk")
    assert (found.line, found.column) == (1, 31) and "foreign key c_ibfk_1 on c" in found.message


@pytest.mark.parametrize("dialect", ["postgres", "mysql", "sqlite"])
def test_drop_of_other_constraints_is_fine(dialect):
    assert not flags("ALTER TABLE orders DROP CONSTRAINT orders_total_check;", dialect, "constraint.disallow-drop-fk")
    assert not flags("CREATE TABLE t (a int);\nALTER TABLE t DROP CONSTRAINT t_a_fkey;", dialect,
                     "constraint.disallow-drop-fk")


def test_mysql_drop_foreign_key():
    [found] = findings("ALTER TABLE orders DROP FOREIGN KEY owner, DROP INDEX owner;", "mysql",
                       "constraint.disallow-drop-fk")
    assert (found.line, found.column) == (1, 37) and "foreign key owner" in found.message


# -- ALTER TABLE statements sqlglot reads only as a Command --------------------------------------------


def test_drop_column_in_an_alter_that_sqlglot_reads_as_a_command():
    sql = "ALTER TABLE users DROP COLUMN legacy, ALTER COLUMN bio SET STATISTICS 100;"
    [found] = findings(sql, "postgres", "column.disallow-drop")
    assert (found.line, found.column) == (1, 19) and "DROP COLUMN users.legacy loses its data" in found.message


def test_mysql_drop_column_next_to_an_add_list():
    [found] = findings("ALTER TABLE users DROP COLUMN legacy, ADD (note text);", "mysql", "column.disallow-drop")
    assert (found.line, found.column) == (1, 19) and "users.legacy" in found.message


def test_drop_not_null_in_an_alter_that_sqlglot_reads_as_a_command():
    sql = "ALTER TABLE users\n  ALTER COLUMN email DROP NOT NULL, ALTER COLUMN email SET STORAGE EXTERNAL;"
    [found] = findings(sql, "postgres", "column.disallow-drop-not-null")
    assert (found.line, found.column) == (2, 3) and "DROP NOT NULL on users.email" in found.message
    [found] = findings("ALTER TABLE users MODIFY a int NULL, ADD (b int);", "mysql", "column.disallow-drop-not-null")
    assert (found.line, found.column) == (1, 19) and "MODIFY … NULL makes users.a nullable" in found.message


@pytest.mark.parametrize("sql", [
    "CREATE TABLE users (legacy int, email text NOT NULL);\n"
    "ALTER TABLE users DROP COLUMN legacy, ALTER COLUMN email DROP NOT NULL, REPLICA IDENTITY FULL;",
    "ALTER TABLE users ALTER COLUMN bio SET STATISTICS 100, OWNER TO admin;",
    "ALTER TABLE users DROP CONSTRAINT users_email_key, ALTER COLUMN email SET NOT NULL, REPLICA IDENTITY FULL;",
])
def test_commands_without_those_actions_or_on_new_tables_are_fine(sql):
    assert not flags(sql, "postgres", "column.disallow-drop")
    assert not flags(sql, "postgres", "column.disallow-drop-not-null")


# -- column.disallow-drop-not-null ---------------------------------------------------------------------


def test_drop_not_null():
    [found] = findings("ALTER TABLE orders ALTER COLUMN shipped_at DROP NOT NULL;", "postgres",
                       "column.disallow-drop-not-null")
    assert found.severity == "warning" and (found.line, found.column) == (1, 33)
    assert "orders.shipped_at" in found.message and "sentinel value" in found.message


def test_drop_not_null_near_misses():
    assert not flags("ALTER TABLE orders ALTER COLUMN shipped_at SET NOT NULL;", "postgres",
                     "column.disallow-drop-not-null")
    assert not flags("ALTER TABLE orders ALTER COLUMN shipped_at DROP DEFAULT;", "postgres",
                     "column.disallow-drop-not-null")
    assert not flags("CREATE TABLE t (a int NOT NULL);\nALTER TABLE t ALTER COLUMN a DROP NOT NULL;", "postgres",
                     "column.disallow-drop-not-null")


def test_mysql_modify_null():
    [found] = findings("ALTER TABLE orders MODIFY shipped_at datetime NULL;", "mysql", "column.disallow-drop-not-null")
    assert "MODIFY … NULL makes orders.shipped_at nullable" in found.message


@pytest.mark.parametrize("sql", [
    "ALTER TABLE sessions MODIFY COLUMN token varchar(39) NULL;",
    "ALTER TABLE sessions CHANGE token token varchar(39) NULL;",
])
def test_mysql_modify_null_of_a_column_the_file_does_not_show_is_hedged(sql):
    # kratos: sessions.token was added nullable by an earlier migration; the statement only widens it.
    [found] = findings(sql, "mysql", "column.disallow-drop-not-null")
    assert "… NULL makes sessions.token nullable if it was NOT NULL (this file does not show its earlier " \
           "definition): keep NOT NULL" in found.message


def test_mysql_modify_null_of_a_known_not_null_column_says_so_plainly():
    sql = "ALTER TABLE sessions ADD token varchar(32) NOT NULL DEFAULT '';\n" \
          "ALTER TABLE sessions MODIFY token varchar(39) NULL;"
    [found] = findings(sql, "mysql", "column.disallow-drop-not-null")
    assert found.line == 2
    assert found.message.startswith("MODIFY … NULL makes sessions.token nullable: keep NOT NULL")


def test_mysql_modify_without_not_null_on_a_known_not_null_column():
    sql = "ALTER TABLE orders ADD total int NOT NULL DEFAULT 0;\nALTER TABLE orders MODIFY total bigint;"
    [found] = findings(sql, "mysql", "column.disallow-drop-not-null")
    assert found.line == 2 and "repeat NOT NULL" in found.message


def test_mysql_modify_without_not_null_of_a_column_the_file_does_not_show_is_hedged():
    # MariaDB 10.11: MODIFY name VARCHAR(100) on a NOT NULL column turns is_nullable NO → YES: the accident
    # the rule is for, warned as the explicit MODIFY … NULL is.
    [found] = findings("ALTER TABLE orders MODIFY total bigint;", "mysql", "column.disallow-drop-not-null")
    assert "silently makes orders.total nullable if it was NOT NULL (this file does not show its earlier " \
           "definition): repeat NOT NULL" in found.message


def test_mysql_modify_near_misses():
    assert not flags("ALTER TABLE orders MODIFY total bigint NOT NULL;", "mysql", "column.disallow-drop-not-null")
    assert not flags("ALTER TABLE orders MODIFY id bigint AUTO_INCREMENT PRIMARY KEY;", "mysql",
                     "column.disallow-drop-not-null")
    for sql in ("ALTER TABLE orders ADD note text NULL;\nALTER TABLE orders MODIFY note mediumtext NULL;",
                "ALTER TABLE orders ADD note text NULL;\nALTER TABLE orders MODIFY note mediumtext;"):
        assert not flags(sql, "mysql", "column.disallow-drop-not-null")  # known to be nullable already


# -- statement.disallow-on-del-cascade -----------------------------------------------------------------


@pytest.mark.parametrize("dialect", ["postgres", "mysql"])
def test_on_delete_cascade(dialect):
    sql = ("CREATE TABLE orders (\n  id bigint PRIMARY KEY,\n"
           "  customer_id bigint REFERENCES customers (id) ON DELETE CASCADE\n);")
    [found] = findings(sql, dialect, "statement.disallow-on-del-cascade")
    assert (found.line, found.column) == (3, 48) and "delete them explicitly" in found.message


@pytest.mark.parametrize("dialect", ["postgres", "mysql"])
def test_on_delete_restrict_is_fine(dialect):
    sql = "ALTER TABLE orders ADD FOREIGN KEY (customer_id) REFERENCES customers (id) ON DELETE RESTRICT;"
    assert not flags(sql, dialect, "statement.disallow-on-del-cascade")
    assert not flags("COMMENT ON TABLE orders IS 'ON DELETE CASCADE';", dialect, "statement.disallow-on-del-cascade")


@pytest.mark.parametrize("sql", [
    # Alembic batch mode
    "CREATE TABLE _alembic_tmp_users (id int);\nINSERT INTO _alembic_tmp_users (id) SELECT id FROM users;\n"
    "DROP TABLE users;\nALTER TABLE _alembic_tmp_users RENAME TO users;",
    # the older order: rename away, recreate, copy back
    "ALTER TABLE users RENAME TO _users_old;\nCREATE TABLE users (id int);\n"
    "INSERT INTO users (id) SELECT id FROM _users_old;\nDROP TABLE _users_old;",
])
def test_other_sqlite_rebuild_shapes_are_fine(sql):
    assert not flags(sql, "sqlite", "table.disallow-drop")


def test_drop_column_after_a_backslash_escape():
    # A backslash-escaped quote before the action (st.norm once lost what followed it).
    [found] = findings("ALTER TABLE `t` COMMENT 'a\\'b', DROP COLUMN c;", "mysql", "column.disallow-drop")
    assert "DROP COLUMN t.c" in found.message


def test_mariadb_create_or_replace_of_an_existing_table_or_database_is_a_drop():
    """MariaDB's CREATE OR REPLACE drops the existing table (database) first, with its data."""
    [table] = findings("CREATE OR REPLACE TABLE orders (id bigint PRIMARY KEY);", "mysql", "table.disallow-drop")
    assert "drops the existing table" in table.message
    [database] = findings("CREATE OR REPLACE DATABASE shop;", "mysql", "database.disallow-drop")
    assert "drops the existing database" in database.message
    assert not flags("CREATE TABLE orders (id int);\nCREATE OR REPLACE TABLE orders (id bigint PRIMARY KEY);",
                     "mysql", "table.disallow-drop")  # created in the file: nothing to lose
    assert not flags("CREATE OR REPLACE TEMPORARY TABLE tmp (id bigint);", "mysql", "table.disallow-drop")
    assert not flags("CREATE DATABASE IF NOT EXISTS shop;", "mysql", "database.disallow-drop")


def test_the_copy_back_check_reads_each_statement_once_per_file(monkeypatch):
    # Drops of copied tables that never come back: one pass over the file for all of them, not a scan of
    # the rest of the file per drop (quadratic in a long file).
    from reviews.rules import destructive

    class Counted:
        def __init__(self, pattern):
            self.pattern, self.calls = pattern, 0

        def match(self, text):
            self.calls += 1
            return self.pattern.match(text)

    counted = Counted(destructive._RECREATE)
    monkeypatch.setattr(destructive, "_RECREATE", counted)
    sql = "".join(f"CREATE TABLE t{i}_copy AS SELECT * FROM t{i};\nDROP TABLE t{i};\n" for i in range(100))
    assert len(findings(sql, "postgres", "table.disallow-drop")) == 100
    assert counted.calls <= 200  # each statement at most once


def test_mysql_drop_table_names_the_table_as_written():
    # MySQL table names are case-sensitive on Linux: authelia's `_bkp_DOWN_V0002_…` backup tables.
    found = findings("DROP TABLE _bkp_DOWN_V0002_totp, `Orders`;", "mysql", "table.disallow-drop")
    assert [f.message.split(" loses")[0] for f in found] == ["DROP TABLE _bkp_DOWN_V0002_totp", "DROP TABLE Orders"]
    [found] = findings("DROP TABLE Orders;", "postgres", "table.disallow-drop")  # (PostgreSQL folds it)
    assert found.message.startswith("DROP TABLE orders loses")


@pytest.mark.parametrize("dialect", ["postgres", "mysql"])
def test_a_foreign_key_of_a_table_the_file_then_drops_is_left_to_table_disallow_drop(dialect):
    # trigger.dev's schema redesign: the keys go first, the table later in the file: no rows are left to orphan.
    drop_fk = "DROP FOREIGN KEY" if dialect == "mysql" else "DROP CONSTRAINT"
    sql = f"ALTER TABLE job_rule {drop_fk} job_rule_job_id_fkey;\nDROP TABLE job_rule;"
    assert not flags(sql, dialect, "constraint.disallow-drop-fk")
    assert flags(sql, dialect, "table.disallow-drop")
    # Another table dropped: the key's drop still stands.
    assert flags(sql.replace("DROP TABLE job_rule", "DROP TABLE other"), dialect, "constraint.disallow-drop-fk")


@pytest.mark.parametrize("dialect", ["postgres", "mysql"])
def test_a_foreign_key_added_again_on_its_renamed_column_is_fine(dialect):
    # Django's RenameField of a ForeignKey: drop the key, rename its column, add the key on the new name.
    drop = "DROP FOREIGN KEY" if dialect == "mysql" else "DROP CONSTRAINT"
    sql = (f"ALTER TABLE shop_book {drop} shop_book_editor_id_71eff3c6_fk_shop_author_id;\n"
           "ALTER TABLE shop_book RENAME COLUMN editor_id TO reviewer_id;\n"
           "ALTER TABLE shop_book ADD CONSTRAINT shop_book_reviewer_id_a71de264_fk_shop_author_id "
           "FOREIGN KEY (reviewer_id) REFERENCES shop_author (id);")
    assert not flags(sql, dialect, "constraint.disallow-drop-fk")
    # Another column renamed: the key on it is no replacement for the dropped one.
    other = sql.replace("RENAME COLUMN editor_id TO reviewer_id", "RENAME COLUMN owner_id TO reviewer_id")
    assert flags(other, dialect, "constraint.disallow-drop-fk")
