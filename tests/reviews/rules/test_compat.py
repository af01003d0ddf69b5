from __future__ import annotations

import pytest

from reviews.engine import Policy, review_file
from tests.reviews.rules.helpers import findings, flags

ALL = ["postgres", "mysql", "sqlite"]


# -- table.disallow-rename -----------------------------------------------------------------------------
REBUILD = ("ALTER TABLE local_image RENAME TO local_image_old;\nDROP INDEX local_image_alias_idx;\n"
           "CREATE TABLE local_image (id bigint, alias text);\n"
           "INSERT INTO local_image SELECT id, alias FROM local_image_old;\nDROP TABLE local_image_old;\n")


@pytest.mark.parametrize("dialect", ["postgres", "sqlite"])
def test_renamed_away_and_created_again_in_one_transaction_keeps_the_name(dialect):
    # The runner applies the file as one transaction: no other session ever misses local_image.
    assert not flags(REBUILD, dialect, "table.disallow-rename")
    assert not flags(f"BEGIN;\n{REBUILD}COMMIT;\n", dialect, "table.disallow-rename")
    assert not flags(REBUILD.replace("CREATE TABLE local_image (id bigint, alias text)",
                                     "CREATE VIEW local_image AS SELECT * FROM local_image_old"),
                     dialect, "table.disallow-rename")
    quoted = REBUILD.replace("local_image_old", '"Local_Image_Old"')
    assert not flags(quoted, dialect, "table.disallow-rename")


@pytest.mark.parametrize(("dialect", "sql", "line"), [
    # Outside one transaction the name is missing for a while: in autocommit, across a COMMIT, on MySQL
    # (whose DDL commits at once), or when another name is created.
    ("postgres", "-- sluice:transaction off\n" + REBUILD, 2),
    ("postgres", REBUILD.replace("DROP INDEX local_image_alias_idx;", "COMMIT;\nBEGIN;"), 1),
    ("mysql", REBUILD.replace("ALTER TABLE local_image RENAME TO local_image_old",
                              "RENAME TABLE local_image TO local_image_old"), 1),
    ("postgres", REBUILD.replace("CREATE TABLE local_image ", "CREATE TABLE local_images "), 1),
    ("postgres", REBUILD.replace("CREATE TABLE local_image ", "CREATE TEMP TABLE local_image "), 1),
    # Created again but never filled from the renamed table: code now reads an empty table.
    ("postgres", REBUILD.replace("FROM local_image_old", "FROM elsewhere"), 1),
    ("sqlite", REBUILD.replace("INSERT INTO local_image", "INSERT INTO other"), 1),
])
def test_renamed_away_and_created_again_outside_one_transaction_is_a_rename(dialect, sql, line):
    [found] = findings(sql, dialect, "table.disallow-rename")
    assert found.line == line




@pytest.mark.parametrize("dialect", ALL)
def test_rename_table(dialect):
    [found] = findings("SELECT 1;\nALTER TABLE customers RENAME TO clients;", dialect, "table.disallow-rename")
    assert found.severity == "warning" and (found.line, found.column) == (2, 1)
    assert "renaming table customers to clients" in found.message and "view customers" in found.message


@pytest.mark.parametrize("dialect", ALL)
def test_rename_table_followed_by_other_statements_is_located_at_the_rename(dialect):
    sql = "ALTER TABLE customers RENAME TO clients;\nCREATE INDEX i ON clients (id);"
    [found] = findings(sql, dialect, "table.disallow-rename")
    assert (found.line, found.column) == (1, 1)


@pytest.mark.parametrize("dialect", ALL)
def test_rename_followed_by_a_compatibility_view_is_fine(dialect):
    sql = "ALTER TABLE customers RENAME TO clients;\nCREATE VIEW customers AS SELECT id, name FROM clients;"
    assert not flags(sql, dialect, "table.disallow-rename")


@pytest.mark.parametrize("dialect", ALL)
def test_rename_of_a_table_created_in_the_file_is_fine(dialect):
    assert not flags("CREATE TABLE t (id int);\nALTER TABLE t RENAME TO u;", dialect, "table.disallow-rename")


def test_the_last_step_of_a_sqlite_rebuild_is_fine():
    sql = ("CREATE TABLE new__users (id integer PRIMARY KEY);\n"
           "INSERT INTO new__users (id) SELECT id FROM users;\n"
           "DROP TABLE users;\n"
           "ALTER TABLE new__users RENAME TO users;")
    assert not flags(sql, "sqlite", "table.disallow-rename")


def test_mysql_rename_table_statement():
    found = findings("RENAME TABLE a TO b, c TO d;", "mysql", "table.disallow-rename")
    assert [f.message.split(" breaks")[0] for f in found] == ["renaming table a to b", "renaming table c to d"]


@pytest.mark.parametrize("sql", [
    "RENAME TABLE `UserAccount` TO `UserAccountOld`;",
    "RENAME TABLE UserAccount TO UserAccountOld;",
    "ALTER TABLE `UserAccount` RENAME TO `UserAccountOld`;",
    "ALTER TABLE UserAccount RENAME TO UserAccountOld;",
    "ALTER TABLE app.UserAccount ADD COLUMN x int, RENAME AS app.UserAccountOld;",
])
def test_mysql_table_names_are_shown_as_written(sql):
    # lower_case_table_names=0 (Linux): MariaDB 10.11 after RENAME TABLE … TO _bkp_UP_V0003_webauthn_devices,
    # SELECT … FROM _bkp_up_v0003_webauthn_devices fails (ERROR 1146 Table … doesn't exist).
    [found] = findings(sql, "mysql", "table.disallow-rename")
    assert found.message.startswith("renaming table UserAccount to UserAccountOld breaks the code still using "
                                    "UserAccount:")
    assert found.message.endswith("create a view UserAccount over UserAccountOld")


def test_mysql_table_names_are_still_compared_without_case():
    assert not flags("RENAME TABLE `Orders` TO orders_old, orders_new TO orders;", "mysql", "table.disallow-rename")
    assert not flags("RENAME TABLE UserAccount TO UserAccountOld;\nCREATE VIEW useraccount AS SELECT * FROM "
                     "UserAccountOld;", "mysql", "table.disallow-rename")


@pytest.mark.parametrize("dialect", ["postgres", "sqlite"])
def test_postgres_and_sqlite_show_unquoted_names_folded_and_quoted_ones_as_written(dialect):
    [found] = findings("ALTER TABLE UserAccount RENAME TO UserAccountOld;", dialect, "table.disallow-rename")
    assert "renaming table useraccount to useraccountold" in found.message
    [found] = findings('ALTER TABLE "UserAccount" RENAME TO "UserAccountOld";', dialect, "table.disallow-rename")
    assert "renaming table UserAccount to UserAccountOld" in found.message


def test_names_read_from_the_tokens_keep_their_case_in_other_messages():
    # column.disallow-rename of an ALTER that sqlglot reads as a Command (its table is case-sensitive on MySQL)
    [found] = findings("ALTER TABLE `Orders` RENAME COLUMN OldName TO NewName, ADD (note text);", "mysql",
                       "column.disallow-rename")
    assert "renaming column Orders.OldName to NewName" in found.message
    # PostgreSQL keeps a quoted name's case
    [found] = findings('ALTER SCHEMA "Billing" RENAME TO "Invoicing";', "postgres", "schema.disallow-rename")
    assert "renaming schema Billing to Invoicing" in found.message
    [found] = findings("ALTER SCHEMA Billing RENAME TO Invoicing;", "postgres", "schema.disallow-rename")
    assert "renaming schema billing to invoicing" in found.message


def test_mysql_rename_inside_a_multi_action_alter():
    assert flags("ALTER TABLE a ADD COLUMN x int, RENAME AS b;", "mysql", "table.disallow-rename")
    assert not flags("ALTER TABLE a RENAME INDEX i TO j;", "mysql", "table.disallow-rename")


@pytest.mark.parametrize("dialect", ["postgres", "sqlite"])
def test_a_column_rename_without_the_column_word_is_no_table_rename(dialect):
    sql = "ALTER TABLE users RENAME email TO email_address;"
    assert not flags(sql, dialect, "table.disallow-rename")
    assert flags(sql, dialect, "column.disallow-rename")


@pytest.mark.parametrize("sql", [
    # MySQL's atomic swap (gh-ost, pt-online-schema-change)
    "RENAME TABLE `orders` TO `orders_old`, `orders_new` TO `orders`;",
    "RENAME TABLE orders TO orders_old, orders_new TO orders;\nSELECT 1;",
    # the same in two statements in a row
    "ALTER TABLE orders RENAME TO orders_old;\nALTER TABLE orders_new RENAME TO orders;",
])
def test_mysql_table_swap_is_fine(sql):
    assert not flags(sql, "mysql", "table.disallow-rename")


def test_postgres_table_swap_in_a_transaction_is_fine():
    sql = ("BEGIN;\nALTER TABLE orders RENAME TO orders_old;\nALTER TABLE orders_new RENAME TO orders;\nCOMMIT;\n"
           "SELECT 1;")
    assert not flags(sql, "postgres", "table.disallow-rename")


def test_renames_that_are_no_swap_are_reported():
    # not in a row: code used orders in between
    sql = "ALTER TABLE orders RENAME TO orders_old;\nSELECT 1;\nALTER TABLE orders_new RENAME TO orders;"
    assert len(findings(sql, "postgres", "table.disallow-rename")) == 2
    assert len(findings("RENAME TABLE a TO b, b TO c;", "mysql", "table.disallow-rename")) == 2


def test_each_rename_of_a_multi_table_rename_points_at_its_pair():
    found = findings("RENAME TABLE a TO b,\n  `c` TO d;", "mysql", "table.disallow-rename")
    assert [(f.line, f.column) for f in found] == [(1, 14), (2, 3)]
    assert [f.message.split(" breaks")[0] for f in found] == ["renaming table a to b", "renaming table c to d"]


def test_a_rename_before_what_no_rule_sees_is_still_reported():
    # A psql meta-command ends the file: no rule sees it.
    [found] = findings("ALTER TABLE a RENAME TO b;\n\\echo done\n", "postgres", "table.disallow-rename")
    assert (found.line, found.column) == (1, 1) and "renaming table a to b" in found.message


def test_a_suppressed_rename_stays_suppressed():
    sql = "-- sluice:ignore table.disallow-rename\nALTER TABLE a RENAME TO b;\nSELECT 1;"
    review = review_file("0001.sql", sql, "postgres", Policy.recommended())
    [found] = [f for f in review.findings if f.rule == "table.disallow-rename"]
    assert found.suppressed


# -- column.disallow-rename ----------------------------------------------------------------------------


@pytest.mark.parametrize("dialect", ALL)
def test_rename_column(dialect):
    [found] = findings("ALTER TABLE users RENAME COLUMN email TO email_address;", dialect, "column.disallow-rename")
    assert found.severity == "warning" and (found.line, found.column) == (1, 33)
    assert "renaming column users.email to email_address" in found.message and "dual-write" in found.message


@pytest.mark.parametrize("dialect", ALL)
def test_rename_column_of_a_new_table_is_fine(dialect):
    sql = "CREATE TABLE t (a int);\nALTER TABLE t RENAME COLUMN a TO b;"
    assert not flags(sql, dialect, "column.disallow-rename")
    assert not flags("ALTER TABLE users RENAME TO people;", dialect, "column.disallow-rename")


def test_mysql_change_with_a_new_name():
    [found] = findings("ALTER TABLE users CHANGE email email_address varchar(320);", "mysql", "column.disallow-rename")
    assert (found.line, found.column) == (1, 26) and "users.email to email_address" in found.message
    assert not flags("ALTER TABLE users CHANGE email email varchar(320);", "mysql", "column.disallow-rename")


# A table rebuild that renames a column: how SQLite's migration tools rename one (Django's remake,
# Alembic's batch mode, TypeORM), and the same copy-and-swap on the other engines.
DJANGO_REMAKE_RENAME = (
    'CREATE TABLE "new__app_item" ("id" integer NOT NULL PRIMARY KEY AUTOINCREMENT, "title" varchar(100) NOT NULL);\n'
    'INSERT INTO "new__app_item" ("id", "title") SELECT "id", "name" FROM "app_item";\n'
    'DROP TABLE "app_item";\n'
    'ALTER TABLE "new__app_item" RENAME TO "app_item";\n')
ALEMBIC_BATCH_RENAME = (
    "CREATE TABLE _alembic_tmp_account (id INTEGER NOT NULL, email_address VARCHAR(255), PRIMARY KEY (id));\n\n"
    "INSERT INTO _alembic_tmp_account (id, email_address) SELECT account.id, account.email FROM account;\n\n"
    "DROP TABLE account;\n\nALTER TABLE _alembic_tmp_account RENAME TO account;\n")
TYPEORM_RENAMED_AWAY_FIRST = (
    'ALTER TABLE "contact" RENAME TO "temporary_contact";\n'
    'CREATE TABLE "contact" ("id" varchar PRIMARY KEY NOT NULL, "name" varchar(100) NOT NULL);\n'
    'INSERT INTO "contact"("id", "name") SELECT "id", "fullName" FROM "temporary_contact";\n'
    'DROP TABLE "temporary_contact";\n')


@pytest.mark.parametrize("sql, dialect, where, says", [
    (DJANGO_REMAKE_RENAME, "sqlite", (2, 58), "app_item.name to title"),
    (DJANGO_REMAKE_RENAME, "postgres", (2, 58), "app_item.name to title"),
    (ALEMBIC_BATCH_RENAME, "sqlite", (3, 73), "account.email to email_address"),
    (TYPEORM_RENAMED_AWAY_FIRST, "sqlite", (3, 50), "contact.fullName to name"),
    ("CREATE TABLE new_items (id bigint PRIMARY KEY, title text);\nINSERT INTO new_items (id, title) SELECT id, "
     "name AS title FROM items;\nDROP TABLE items;\nRENAME TABLE new_items TO items;", "mysql", (2, 46),
     "items.name to title"),
    # filled from it, made to fit (Django's coalesce for a new NOT NULL, a cast): still the old column's values
    (DJANGO_REMAKE_RENAME.replace('SELECT "id", "name"', "SELECT \"id\", coalesce(\"name\", '')"), "sqlite", (2, 67),
     "app_item.name to title"),
])
def test_a_rebuild_that_copies_a_column_under_another_name_renames_it(sql, dialect, where, says):
    [found] = findings(sql, dialect, "column.disallow-rename")
    assert (found.line, found.column) == where and f"renaming column {says} (the table's rebuild fills" in found.message
    if dialect == "sqlite":  # (the rebuild's own steps are no table drop or rename there)
        assert not flags(sql, dialect, "table.disallow-drop") and not flags(sql, dialect, "table.disallow-rename")


@pytest.mark.parametrize("sql", [
    # a copy into another table that stays another table
    "CREATE TABLE archive (id integer PRIMARY KEY, title text);\nINSERT INTO archive (id, title) SELECT id, name FROM items;",
    # the rebuilt table was created in the file
    "CREATE TABLE app_item (id integer PRIMARY KEY, name text);\n" + DJANGO_REMAKE_RENAME,
    # the same names, a cast, a constant: no column changes its name
    'CREATE TABLE "new__app_item" ("id" integer, "name" integer, "flag" integer NOT NULL);\n'
    'INSERT INTO "new__app_item" ("id", "name", "flag") SELECT "id", CAST("name" AS integer), 0 FROM "app_item";\n'
    'DROP TABLE "app_item";\nALTER TABLE "new__app_item" RENAME TO "app_item";',
    # the old column is copied under its own name too
    DJANGO_REMAKE_RENAME.replace('("id", "title") SELECT "id", "name"', '("id", "name", "title") SELECT "id", "name", "name"'),
    # SQLite compares column names without regard to case
    DJANGO_REMAKE_RENAME.replace('SELECT "id", "name"', 'SELECT "id", "TITLE"'),
    # filled from two columns: no one column's new name
    DJANGO_REMAKE_RENAME.replace('SELECT "id", "name"', 'SELECT "id", "first" || "last"'),
    # more than one INSERT fills the new table: its rows are reshaped (a pivot), not copied
    "CREATE TABLE _t (id int, code text, subject text);\n"
    "INSERT INTO _t (id, code, subject) SELECT id, 'reply', reply_subj FROM t;\n"
    "INSERT INTO _t (id, code, subject) SELECT id, 'alert', alert_subj FROM t;\n"
    "DROP TABLE t;\nALTER TABLE _t RENAME TO t;",
    # no column list, or SELECT *
    "CREATE TABLE new_t (id int);\nINSERT INTO new_t SELECT id FROM t;\nDROP TABLE t;\nALTER TABLE new_t RENAME TO t;",
    "CREATE TABLE new_t (id int);\nINSERT INTO new_t (id) SELECT * FROM t;\nDROP TABLE t;\nALTER TABLE new_t RENAME TO t;",
])
def test_copies_that_rename_no_column(sql):
    assert not flags(sql, "sqlite", "column.disallow-rename")


# -- schema.disallow-rename / type.disallow-rename-enum-value ------------------------------------------


def test_rename_schema():
    [found] = findings("ALTER SCHEMA billing RENAME TO invoicing;", "postgres", "schema.disallow-rename")
    assert found.severity == "warning" and "schema billing to invoicing" in found.message
    assert not flags("ALTER SCHEMA billing OWNER TO admin;", "postgres", "schema.disallow-rename")
    assert not flags("CREATE SCHEMA tmp;\nALTER SCHEMA tmp RENAME TO scratch;", "postgres", "schema.disallow-rename")


def test_rename_enum_value():
    [found] = findings("ALTER TYPE status RENAME VALUE 'shipped' TO 'sent';", "postgres",
                       "type.disallow-rename-enum-value")
    assert found.severity == "warning" and "enum status 'shipped' to 'sent'" in found.message
    assert "add the new value" in found.message


def test_rename_enum_value_near_misses():
    assert not flags("ALTER TYPE status ADD VALUE 'sent';", "postgres", "type.disallow-rename-enum-value")
    sql = "CREATE TYPE mood AS ENUM ('ok');\nALTER TYPE mood RENAME VALUE 'ok' TO 'fine';"
    assert not flags(sql, "postgres", "type.disallow-rename-enum-value")


# -- column.disallow-change-type -----------------------------------------------------------------------


def test_alter_column_type():
    [found] = findings("ALTER TABLE orders ALTER COLUMN amount TYPE numeric(12, 2);", "postgres",
                       "column.disallow-change-type")
    assert found.severity == "error" and (found.line, found.column) == (1, 33)
    assert "type of orders.amount rewrites the table" in found.message and "dual-write" in found.message
    # pg_locks in the ALTER's transaction: AccessExclusiveLock, which also blocks SELECT
    assert "under an ACCESS EXCLUSIVE lock that blocks reads and writes" in found.message


def test_alter_column_type_says_reads_are_blocked_too():
    from reviews.engine.registry import RULES

    why = RULES["column.disallow-change-type"].why
    assert "ACCESS EXCLUSIVE lock that blocks reads and writes" in why and "write-blocking" not in why


def test_alter_column_type_in_an_alter_that_sqlglot_reads_as_a_command():
    sql = "ALTER TABLE users ALTER COLUMN id TYPE bigint, ALTER COLUMN id SET STATISTICS 100;"
    [found] = findings(sql, "postgres", "column.disallow-change-type")
    assert (found.line, found.column) == (1, 19) and "type of users.id rewrites the table" in found.message
    sql = "ALTER TABLE users ADD COLUMN nick varchar(20);\n" + sql.replace("id", "nick").replace("bigint", "text")
    assert not flags(sql, "postgres", "column.disallow-change-type")  # varchar → text: no rewrite
    sql = "ALTER TABLE users MODIFY amount decimal(12, 2), ADD (note text);"
    [found] = findings(sql, "mysql", "column.disallow-change-type")
    assert (found.line, found.column) == (1, 19) and "MODIFY users.amount restates its type" in found.message


def test_alter_column_type_to_varchar_or_text_says_what_it_cannot_know():
    # Without the old type in the file, a varchar/text target may be a widening (no rewrite): the
    # finding stays (catalogue) and says so.
    for target in ("varchar(500)", "text"):
        [found] = findings(f"ALTER TABLE orders ALTER COLUMN note TYPE {target};", "postgres",
                           "column.disallow-change-type")
        assert "unless it only widens a varchar or makes one text" in found.message
    [found] = findings("ALTER TABLE orders ALTER COLUMN amount TYPE bigint;", "postgres", "column.disallow-change-type")
    assert "unless" not in found.message


@pytest.mark.parametrize(("new", "flagged"), [("numeric(10, 2)", False), ("numeric", False), ("decimal(12,2)", False),
                                            ("numeric(10, 3)", True), ("numeric(7, 2)", True)])
def test_a_numeric_whose_precision_only_grows_is_not_rewritten_on_postgres(new, flagged):
    # PostgreSQL 15: numeric(8,2) → numeric(10,2) or → numeric keeps the relfilenode; a new scale or a lower
    # precision rewrites (Django's AlterField of max_digits).
    sql = f"ALTER TABLE book ADD COLUMN cost numeric(8, 2) NULL;\nALTER TABLE book ALTER COLUMN cost TYPE {new};"
    assert flags(sql, "postgres", "column.disallow-change-type") is flagged
    [found] = findings("ALTER TABLE book ALTER COLUMN price TYPE numeric(10, 2);", "postgres", "column.disallow-change-type")
    assert "(unless it only raises a numeric's precision, keeping its scale: this file does not show" in found.message


@pytest.mark.parametrize(("old", "new", "flagged"), [
    ("varchar(13)", "varchar(20)", False), ("varchar(300)", "varchar(1000)", False), ("varchar(100)", "varchar(255)", False),
    # across 255 bytes (utf8mb4: 64 characters and more) the length takes 2 bytes: MySQL 8.0 copies
    ("varchar(13)", "varchar(100)", True), ("varchar(30)", "varchar(20)", True), ("varchar(20)", "text", True),
])
def test_a_mysql_varchar_extended_in_place_is_not_a_copy(old, new, flagged):
    # MySQL 8.0 extends a VARCHAR in place while its length bytes stay the same (MariaDB 10.11: INSTANT).
    sql = f"ALTER TABLE book ADD COLUMN code {old} NULL;\nALTER TABLE book MODIFY code {new} NULL;"
    assert flags(sql, "mysql", "column.disallow-change-type") is flagged
    [found] = findings("ALTER TABLE book MODIFY isbn varchar(20) NOT NULL;", "mysql", "column.disallow-change-type")
    assert "(unless it widens a varchar whose byte length stays on one side of 255: that is done in place)" in found.message


@pytest.mark.parametrize(("old", "new", "flagged"), [
    ("ENUM('active','disabled')", "ENUM('active','disabled','suspended')", False),
    ("SET('a','b')", "SET('a','b','c')", False),
    ("ENUM('active','disabled')", "ENUM('active','suspended','disabled')", True),  # in the middle: copied
    ("ENUM('active','disabled')", "ENUM('active')", True),
])
def test_a_mysql_enum_or_set_that_only_gains_members_at_the_end_is_no_copy(old, new, flagged):
    # MariaDB 10.11 (as MySQL 8.0's manual): appended members ALGORITHM=INSTANT; one in the middle fails (1846).
    sql = f"ALTER TABLE users ADD COLUMN status {old} NOT NULL;\nALTER TABLE users MODIFY status {new} NOT NULL;"
    assert flags(sql, "mysql", "column.disallow-change-type") is flagged
    [found] = findings("ALTER TABLE users MODIFY status ENUM('active','disabled','suspended') NOT NULL DEFAULT 'active';",
                       "mysql", "column.disallow-change-type")
    assert "(unless it only appends members at the end of the list: that is instant)" in found.message


def test_timestamp_to_timestamptz_says_when_postgres_skips_the_rewrite():
    # PostgreSQL 15: under TimeZone UTC the table keeps its relfilenode; under Europe/Paris it is rewritten.
    [found] = findings("ALTER TABLE post ALTER COLUMN published TYPE timestamptz;", "postgres",
                       "column.disallow-change-type")
    assert "(unless it is a timestamp column and the session's TimeZone is UTC: PostgreSQL 12+ then changes only " \
           "the catalog)" in found.message
    [found] = findings("ALTER TABLE post ADD COLUMN at timestamp;\nALTER TABLE post ALTER COLUMN at TYPE timestamptz;",
                       "postgres", "column.disallow-change-type")
    assert "(unless the session's TimeZone is UTC" in found.message
    # A USING expression is computed for every row: rewritten whatever the zone.
    [found] = findings("ALTER TABLE post ALTER COLUMN published TYPE timestamptz USING published AT TIME ZONE 'UTC';",
                       "postgres", "column.disallow-change-type")
    assert "unless" not in found.message


@pytest.mark.parametrize("old, new, flagged", [
    ("varchar(20)", "varchar(40)", False),
    ("varchar(20)", "text", False),
    ("varchar(20)", "varchar(10)", True),
    ("int", "bigint", True),
])
def test_alter_column_type_with_the_old_type_known(old, new, flagged):
    sql = f"ALTER TABLE users ADD COLUMN nick {old};\nALTER TABLE users ALTER COLUMN nick TYPE {new};"
    assert flags(sql, "postgres", "column.disallow-change-type") == flagged


def test_alter_column_type_near_misses():
    assert not flags("CREATE TABLE t (a int);\nALTER TABLE t ALTER COLUMN a TYPE bigint;", "postgres",
                     "column.disallow-change-type")
    assert not flags("ALTER TABLE t ALTER COLUMN a SET DEFAULT 0;", "postgres", "column.disallow-change-type")


@pytest.mark.parametrize("sql", ["ALTER TABLE orders MODIFY amount decimal(12, 2);",
                                 "ALTER TABLE orders CHANGE amount total decimal(12, 2);"])
def test_mysql_modify_or_change_with_a_type(sql):
    [found] = findings(sql, "mysql", "column.disallow-change-type")
    assert found.severity == "error" and "orders.amount" in found.message and "copies the whole table" in found.message


def test_mysql_modify_keeping_a_known_type_is_fine():
    sql = "ALTER TABLE orders ADD note varchar(10) NULL;\nALTER TABLE orders MODIFY note varchar(10) NOT NULL;"
    assert not flags(sql, "mysql", "column.disallow-change-type")
    assert not flags("ALTER TABLE orders ALTER COLUMN note SET DEFAULT 'x';", "mysql", "column.disallow-change-type")


# -- column.disallow-change / column.disallow-changing-order -------------------------------------------


def test_mysql_change_column():
    [found] = findings("ALTER TABLE users CHANGE COLUMN email email varchar(320) NOT NULL;", "mysql",
                       "column.disallow-change")
    assert found.severity == "warning" and "CHANGE COLUMN users.email" in found.message and "MODIFY" in found.message
    assert not flags("ALTER TABLE users MODIFY email varchar(320) NOT NULL;", "mysql", "column.disallow-change")


def test_mysql_change_column_says_whether_it_renames():
    [same] = findings("ALTER TABLE users CHANGE email EMAIL varchar(320) NOT NULL;", "mysql", "column.disallow-change")
    assert "keeps its name" in same.message and "renames" not in same.message
    [renamed] = findings("ALTER TABLE users CHANGE email mail varchar(320) NOT NULL;", "mysql", "column.disallow-change")
    assert "renames and redefines" in renamed.message and "RENAME COLUMN" in renamed.message


@pytest.mark.parametrize("position", ["FIRST", "AFTER id"])
def test_mysql_changing_column_order(position):
    [found] = findings(f"ALTER TABLE users MODIFY email varchar(320) {position};", "mysql",
                       "column.disallow-changing-order")
    assert found.severity == "warning" and (found.line, found.column) == (1, 26)
    assert f"users.email ({position.split()[0]})" in found.message and "leave the column" in found.message


def test_mysql_changing_order_near_misses():
    assert not flags("ALTER TABLE users MODIFY email varchar(320);", "mysql", "column.disallow-changing-order")
    sql = "CREATE TABLE t (a int, b int);\nALTER TABLE t MODIFY b int FIRST;"
    assert not flags(sql, "mysql", "column.disallow-changing-order")


# -- column.add-not-null-require-default ---------------------------------------------------------------


@pytest.mark.parametrize("dialect, phrase", [
    ("postgres", "PostgreSQL refuses it as soon as the table has rows"),
    ("mysql", "strict mode"),
    ("sqlite", "SQLite refuses it as soon as the table has rows"),
])
def test_add_not_null_column_without_default(dialect, phrase):
    [found] = findings("ALTER TABLE users ADD COLUMN tenant_id bigint NOT NULL;", dialect,
                       "column.add-not-null-require-default")
    assert found.severity == "error" and (found.line, found.column) == (1, 30)
    assert "users.tenant_id" in found.message and phrase in found.message and "constant DEFAULT" in found.message


def test_add_not_null_on_sqlite_advises_what_sqlite_can_do():
    # SQLite 3.40 has no ALTER COLUMN … SET NOT NULL ("near "alter": syntax error"): a DEFAULT, or a rebuild.
    [found] = findings("ALTER TABLE users ADD COLUMN tenant_id bigint NOT NULL;", "sqlite",
                       "column.add-not-null-require-default")
    assert "give it a constant DEFAULT, or rebuild the table" in found.message and "set NOT NULL" not in found.message
    from reviews.engine.registry import RULES

    assert "on any table" not in RULES["column.add-not-null-require-default"].summary


@pytest.mark.parametrize("kind, default", [
    ("text", "an expression DEFAULT such as DEFAULT ('') (MySQL then rebuilds the table: no INSTANT add)"),
    ("json", "an expression DEFAULT such as DEFAULT ('') (MySQL then rebuilds the table: no INSTANT add)"),
    ("longblob", "an expression DEFAULT such as DEFAULT ('') (MySQL then rebuilds the table: no INSTANT add)"),
    ("int", "a constant DEFAULT"),
])
def test_mysql_blob_and_text_columns_take_only_an_expression_default(kind, default):
    # MySQL 8.0: "The BLOB, TEXT, GEOMETRY, and JSON data types can be assigned a default value only if the
    # value is written as an expression" (DEFAULT '' is ER_BLOB_CANT_HAVE_DEFAULT).
    [found] = findings(f"ALTER TABLE posts ADD COLUMN body {kind} NOT NULL;", "mysql",
                       "column.add-not-null-require-default")
    assert found.message.endswith(f"or give it {default}")


@pytest.mark.parametrize("kind", ["datetime", "datetime(6)", "date", "timestamp"])
def test_mysql_date_columns_make_the_alter_fail_rather_than_fill_zero_dates(kind):
    # MariaDB 10.11 with MySQL 8.0's default sql_mode, on a table with rows: ERROR 1292 (22007): Incorrect
    # datetime value: '0000-00-00 00:00:00' (osTicket's ADD `created` datetime NOT NULL).
    [found] = findings(f"ALTER TABLE ticket_collaborator ADD created {kind} NOT NULL;", "mysql",
                       "column.add-not-null-require-default")
    assert "the ALTER fails on a table with rows (error 1292" in found.message
    assert "fills existing rows" not in found.message
    assert found.message.endswith("add it nullable, backfill, then set NOT NULL, or give it a constant DEFAULT")


@pytest.mark.parametrize("kind", ["int", "varchar(20)", "enum('a','b')", "time", "year"])
def test_mysql_columns_with_a_valid_implicit_default_are_filled_with_it(kind):
    [found] = findings(f"ALTER TABLE t ADD c {kind} NOT NULL;", "mysql", "column.add-not-null-require-default")
    assert "MySQL fills existing rows with the type's implicit default" in found.message
    assert "error 1292" not in found.message


@pytest.mark.parametrize("sql, dialect, at", [
    ("ALTER TABLE users ADD COLUMN tenant_id bigint NOT NULL, REPLICA IDENTITY FULL;", "postgres", (1, 19)),
    ("ALTER TABLE users ADD (note text NOT NULL, b int NOT NULL DEFAULT 0);", "mysql", (1, 24)),
    ("ALTER TABLE users DROP COLUMN legacy, ADD (note text NOT NULL);", "mysql", (1, 44)),
])
def test_add_not_null_in_an_alter_that_sqlglot_reads_as_a_command(sql, dialect, at):
    [found] = findings(sql, dialect, "column.add-not-null-require-default")
    assert (found.line, found.column) == at and "NOT NULL without a DEFAULT" in found.message


def test_add_primary_key_column_without_default():
    # PostgreSQL 15, on a table with a row: column "id" of relation "t" contains null values.
    [found] = findings("ALTER TABLE t ADD COLUMN id uuid PRIMARY KEY;", "postgres",
                       "column.add-not-null-require-default")
    assert (found.line, found.column) == (1, 26)
    assert "ADD COLUMN t.id PRIMARY KEY (so NOT NULL) without a DEFAULT: PostgreSQL refuses it" in found.message


@pytest.mark.parametrize("column", ["id serial PRIMARY KEY", "id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY",
                                    "id uuid DEFAULT gen_random_uuid() PRIMARY KEY"])
def test_primary_key_columns_the_database_fills_are_fine(column):
    assert not flags(f"ALTER TABLE t ADD COLUMN {column};", "postgres", "column.add-not-null-require-default")


def test_a_primary_key_column_is_left_to_the_sqlite_rule():
    # SQLite refuses any PRIMARY KEY column, rows or not: column.sqlite.add-column-restrictions reports it.
    assert not flags("ALTER TABLE t ADD COLUMN id text PRIMARY KEY;", "sqlite", "column.add-not-null-require-default")


@pytest.mark.parametrize("dialect", ALL)
@pytest.mark.parametrize("column", ["tenant_id bigint NOT NULL DEFAULT 0", "tenant_id bigint",
                                    "tenant_id bigint NULL"])
def test_add_column_with_default_or_nullable_is_fine(dialect, column):
    assert not flags(f"ALTER TABLE users ADD COLUMN {column};", dialect, "column.add-not-null-require-default")


@pytest.mark.parametrize("dialect", ALL)
def test_a_null_default_is_no_default(dialect):
    sql = "ALTER TABLE users ADD COLUMN tenant_id bigint NOT NULL DEFAULT NULL;"
    assert flags(sql, dialect, "column.add-not-null-require-default")


@pytest.mark.parametrize("column", ["n serial NOT NULL", "n bigint GENERATED ALWAYS AS IDENTITY NOT NULL",
                                    "n int NOT NULL GENERATED ALWAYS AS (a + 1) STORED"])
def test_columns_the_database_fills_are_fine(column):
    assert not flags(f"ALTER TABLE t ADD COLUMN {column};", "postgres", "column.add-not-null-require-default")


@pytest.mark.parametrize("dialect", ALL)
def test_new_tables_are_fine(dialect):
    # SQLite 3.40 too: it refuses the column only once the table has rows.
    sql = "CREATE TABLE t (id int);\nALTER TABLE t ADD COLUMN n int NOT NULL;"
    assert not flags(sql, dialect, "column.add-not-null-require-default")


# -- column.set-default-for-not-null -------------------------------------------------------------------


def test_not_null_column_without_default_in_create_table():
    sql = ("CREATE TABLE users (\n  id bigint AUTO_INCREMENT PRIMARY KEY,\n  email varchar(320) NOT NULL,\n"
           "  bio text NOT NULL\n);")
    [found] = findings(sql, "mysql", "column.set-default-for-not-null")
    assert (found.line, found.column) == (3, 3) and "email has no DEFAULT" in found.message


def test_set_default_for_not_null_near_misses():
    assert not flags("CREATE TABLE t (a int NOT NULL DEFAULT 0, b int, c int NOT NULL, PRIMARY KEY (c));", "mysql",
                     "column.set-default-for-not-null")
    assert flags("ALTER TABLE t MODIFY a int NOT NULL;", "mysql", "column.set-default-for-not-null")


def test_set_default_for_not_null_is_opt_in():
    sql = "CREATE TABLE t (a int NOT NULL);"
    assert not findings(sql, "mysql", "column.set-default-for-not-null", Policy.recommended())


# -- column.drop-default-on-not-null -------------------------------------------------------------------

DJANGO_ADD_FIELD = """ALTER TABLE users ADD COLUMN active boolean DEFAULT true NOT NULL;
ALTER TABLE users ALTER COLUMN active DROP DEFAULT;"""


@pytest.mark.parametrize("dialect", ["postgres", "mysql"])
def test_drop_default_on_a_not_null_column(dialect):
    [found] = findings(DJANGO_ADD_FIELD, dialect, "column.drop-default-on-not-null")
    assert found.severity == "warning" and (found.line, found.column) == (2, 32)
    assert "users.active" in found.message and "keep the default" in found.message


@pytest.mark.parametrize("dialect", ["postgres", "mysql"])
def test_drop_default_near_misses(dialect):
    nullable = DJANGO_ADD_FIELD.replace(" NOT NULL", "")
    assert not flags(nullable, dialect, "column.drop-default-on-not-null")
    assert not flags("ALTER TABLE users ALTER COLUMN active DROP DEFAULT;", dialect, "column.drop-default-on-not-null")
    new_table = "CREATE TABLE users (active boolean NOT NULL DEFAULT true);\n" + DJANGO_ADD_FIELD.splitlines()[1]
    assert not flags(new_table, dialect, "column.drop-default-on-not-null")


def test_drop_default_after_set_not_null_and_drop_not_null():
    set_not_null = ("ALTER TABLE users ALTER COLUMN active SET NOT NULL;\n"
                    "ALTER TABLE users ALTER COLUMN active DROP DEFAULT;")
    assert flags(set_not_null, "postgres", "column.drop-default-on-not-null")
    relaxed = DJANGO_ADD_FIELD.replace(";\n", ";\nALTER TABLE users ALTER COLUMN active DROP NOT NULL;\n")
    assert not flags(relaxed, "postgres", "column.drop-default-on-not-null")


def test_renaming_away_for_a_sqlite_rebuild_is_fine():
    sql = "ALTER TABLE users RENAME TO _users_old;\nCREATE TABLE users (id int);"
    assert not flags(sql, "sqlite", "table.disallow-rename")
    assert flags(sql, "postgres", "table.disallow-rename")  # a swap elsewhere: the old name now holds an empty table


@pytest.mark.parametrize("sql, dialect", [
    # A backslash-escaped quote before the action (st.norm once lost what followed it): the rename is seen.
    ("ALTER TABLE t COMMENT 'a\\'b', CHANGE c d int COMMENT 'x';", "mysql"),
    ('ALTER TABLE "t" RENAME COLUMN "c" TO "d";', "postgres"),
])
def test_column_rename_gate_near_misses(sql, dialect):
    [found] = findings(sql, dialect, "column.disallow-rename")
    assert "renaming column t.c to d" in found.message


def test_type_change_after_a_backslash_escape():
    sql = "ALTER TABLE t COMMENT 'a\\'b', MODIFY note text COMMENT 'x';"
    assert flags(sql, "mysql", "column.disallow-change-type")
