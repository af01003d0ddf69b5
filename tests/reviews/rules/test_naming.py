from __future__ import annotations

import pytest

from reviews.engine import Policy
from tests.reviews.rules.helpers import findings, flags

ALL = ("postgres", "mysql", "sqlite")
Q = {"postgres": '"', "mysql": "`", "sqlite": '"'}


def quoted(name: str, dialect: str) -> str:
    return f"{Q[dialect]}{name}{Q[dialect]}"


# (rule, dialect, flagged statement, near miss, severity under --all-rules, key phrase of the message).
CASES = [
    *[("naming.table", d, f"CREATE TABLE {quoted('UserAccount', d)} (id int PRIMARY KEY);",
       "CREATE TABLE user_account (id int PRIMARY KEY);", "warning", "name it user_account") for d in ALL],
    *[("naming.column", d, f"ALTER TABLE t ADD COLUMN {quoted('createdAt', d)} int;",
       "ALTER TABLE t ADD COLUMN created_at int;", "warning", "name it created_at") for d in ALL],
    *[("naming.index.idx", d, "CREATE INDEX by_email ON users (email);",
       "CREATE INDEX idx_users_email ON users (email);", "warning", "name it idx_users_email") for d in ALL],
    *[("naming.index.uk", d, "CREATE UNIQUE INDEX email_unique ON users (email);",
       "CREATE UNIQUE INDEX uk_users_email ON users (email);", "warning", "name it uk_users_email") for d in ALL],
    *[("naming.index.pk", d, "CREATE TABLE users (id int, CONSTRAINT users_key PRIMARY KEY (id));",
       "CREATE TABLE users (id int, CONSTRAINT pk_users_id PRIMARY KEY (id));", "warning", "name it pk_users_id")
      for d in ALL],
    *[("naming.index.fk", d, "CREATE TABLE orders (id int PRIMARY KEY, customer_id int, "
       "CONSTRAINT orders_customer FOREIGN KEY (customer_id) REFERENCES customers (id));",
       "CREATE TABLE orders (id int PRIMARY KEY, customer_id int, "
       "CONSTRAINT fk_orders_customer_id_customers_id FOREIGN KEY (customer_id) REFERENCES customers (id));",
       "warning", "name it fk_orders_customer_id_customers_id") for d in ALL],
    *[("naming.check", d, "CREATE TABLE t (amount int, CONSTRAINT positive CHECK (amount > 0));",
       "CREATE TABLE t (amount int, CONSTRAINT ck_t_positive CHECK (amount > 0));", "warning",
       "check constraint name positive") for d in ALL],
    ("naming.schema", "postgres", 'CREATE SCHEMA "Billing";', "CREATE SCHEMA billing;", "warning", "name it billing"),
    ("naming.schema", "mysql", "CREATE DATABASE `Billing`;", "CREATE DATABASE billing;", "warning", "name it billing"),
    ("naming.schema", "sqlite", "ATTACH DATABASE 'b.db' AS \"Billing\";", "ATTACH DATABASE 'b.db' AS billing;",
     "warning", "name it billing"),
    ("naming.column.auto-increment", "mysql", "CREATE TABLE t (t_id bigint unsigned AUTO_INCREMENT PRIMARY KEY);",
     "CREATE TABLE t (id bigint unsigned AUTO_INCREMENT PRIMARY KEY);", "warning", "auto-increment column t.t_id"),
    ("naming.identifier.no-keyword", "postgres", 'CREATE TABLE "user" (id int PRIMARY KEY);',
     "CREATE TABLE users (id int PRIMARY KEY);", "warning", "table name user is a reserved word in postgres"),
    ("naming.identifier.no-keyword", "mysql", "CREATE TABLE `order` (id int PRIMARY KEY);",
     "CREATE TABLE orders (id int PRIMARY KEY);", "warning", "table name order is a reserved word in mysql"),
    ("naming.identifier.no-keyword", "sqlite", 'CREATE TABLE t (id int PRIMARY KEY, "group" int);',
     "CREATE TABLE t (id int PRIMARY KEY, team int);", "warning", "column name group is a reserved word in sqlite"),
    ("naming.identifier.case", "postgres", 'CREATE TABLE "Orders" (id int PRIMARY KEY);',
     "CREATE TABLE Orders (id int PRIMARY KEY);", "warning", "name it orders"),
    ("naming.identifier.case", "mysql", "CREATE TABLE Orders (id int PRIMARY KEY);",
     "CREATE TABLE orders (id int PRIMARY KEY);", "warning", "name it orders"),
    ("naming.identifier.max-length", "postgres", f"CREATE TABLE {'t' * 64} (id int PRIMARY KEY);",
     f"CREATE TABLE {'t' * 63} (id int PRIMARY KEY);", "warning",
     "truncates it without an error (only a NOTICE) to 63 bytes"),
    ("naming.identifier.max-length", "mysql", f"CREATE TABLE {'t' * 65} (id int PRIMARY KEY);",
     f"CREATE TABLE {'t' * 64} (id int PRIMARY KEY);", "error", "MySQL rejects names over 64"),
    ("naming.fully-qualified", "postgres", "ALTER TABLE orders ADD COLUMN note text;",
     "ALTER TABLE public.orders ADD COLUMN note text;", "warning", "orders is not schema-qualified"),
    ("statement.create-specify-schema", "postgres", "CREATE TABLE orders (id int PRIMARY KEY);",
     "CREATE TABLE public.orders (id int PRIMARY KEY);", "warning", "write schema.orders"),
]


@pytest.mark.parametrize(("rule", "dialect", "bad", "good", "severity", "phrase"), CASES,
                         ids=[f"{c[0]}-{c[1]}" for c in CASES])
def test_rule_flags_the_statement_and_not_its_near_miss(rule, dialect, bad, good, severity, phrase):
    found = findings(bad, dialect, rule)
    assert found, f"{rule} should flag {bad!r} on {dialect}"
    assert {f.rule for f in found} == {rule}
    assert found[0].severity == severity
    assert any(phrase in f.message for f in found), [f.message for f in found]
    assert not flags(good, dialect, rule), [f.message for f in findings(good, dialect, rule)]


def test_table_names_are_judged_as_the_database_stores_them():
    # PostgreSQL folds an unquoted name to lower case; MySQL and SQLite keep it as written.
    assert not flags("CREATE TABLE UserAccount (id int PRIMARY KEY);", "postgres", "naming.table")
    assert flags("CREATE TABLE UserAccount (id int PRIMARY KEY);", "mysql", "naming.table")


@pytest.mark.parametrize("dialect", ALL)
def test_renames_introduce_names(dialect):
    assert flags("ALTER TABLE a RENAME TO BadName;", dialect, "naming.table") == (dialect != "postgres")
    assert flags(f"ALTER TABLE a RENAME COLUMN b TO {quoted('BadName', dialect)};", dialect, "naming.column")


def test_mysql_rename_table_command():
    [found] = findings("RENAME TABLE a TO BadName, c TO good_name;", "mysql", "naming.table")
    assert "BadName" in found.message


def test_postgres_rename_without_column_keyword_is_a_column_rename():
    # sqlglot reads `RENAME a TO b` as a table rename (catalogue §3)
    assert flags('ALTER TABLE t RENAME a TO "BadCol";', "postgres", "naming.column")
    assert not flags('ALTER TABLE t RENAME a TO "BadCol";', "postgres", "naming.table")


def test_a_quoted_name_is_shown_as_the_dialect_quotes_it():
    [pg] = findings('CREATE TABLE t (id int, "col with "" quote" int);', "postgres", "naming.column")
    assert 'column name t."col with "" quote" does not match' in pg.message and "unquoted" in pg.message
    [my] = findings("CREATE TABLE t (id int, `OrderTotal` int);", "mysql", "naming.column")
    assert "column name t.`OrderTotal` does not match" in my.message
    assert my.message.endswith("name it order_total (lower-case snake_case)")


def test_create_schema_authorization_names_the_schema_after_the_role():
    # `AUTHORIZATION` is syntax there, not the schema's name (it was reported as a reserved word).
    for sql in ("CREATE SCHEMA AUTHORIZATION CURRENT_ROLE;", "CREATE SCHEMA AUTHORIZATION app_owner;",
                "CREATE SCHEMA IF NOT EXISTS billing AUTHORIZATION app_owner;"):
        assert not [f for f in findings(sql, "postgres") if f.rule.startswith("naming.")], sql
    [found] = findings('CREATE SCHEMA AUTHORIZATION "AppOwner";', "postgres", "naming.schema")
    assert 'schema name "AppOwner"' in found.message


@pytest.mark.parametrize("dialect", ALL)
def test_unnamed_indexes_and_constraints_are_allowed(dialect):
    assert not flags("CREATE TABLE t (id int PRIMARY KEY, email text UNIQUE);", dialect, "naming.index.uk")
    assert not flags("CREATE TABLE t (id int PRIMARY KEY);", dialect, "naming.index.pk")


def test_index_template_payload():
    policy = Policy.from_rows("custom", [("naming.index.idx", "warning", {"format": "^ix_{{table}}_{{column_list}}$"})])
    assert findings("CREATE INDEX idx_users_email ON users (email);", "postgres", "naming.index.idx", policy)
    assert not findings("CREATE INDEX ix_users_email ON users (email);", "postgres", "naming.index.idx", policy)


def test_user_is_reserved_in_postgres_only():
    assert flags("CREATE TABLE t (id int PRIMARY KEY, user int);", "mysql", "naming.identifier.no-keyword") is False
    assert flags('CREATE TABLE t (id int PRIMARY KEY, "user" int);', "postgres", "naming.identifier.no-keyword")


def test_max_length_counts_bytes_on_postgres_and_characters_on_mysql():
    name = "é" * 32  # 64 bytes, 32 characters
    assert flags(f"CREATE TABLE {name} (id int PRIMARY KEY);", "postgres", "naming.identifier.max-length")
    assert not flags(f"CREATE TABLE {name} (id int PRIMARY KEY);", "mysql", "naming.identifier.max-length")


def test_fully_qualified_ignores_cte_names():
    sql = "WITH recent AS (SELECT id FROM public.orders) DELETE FROM public.archive WHERE id IN (SELECT id FROM recent);"
    assert not flags(sql, "postgres", "naming.fully-qualified")


def test_fully_qualified_ignores_the_files_temporary_tables():
    # (bytebase 3.15/0011: a CREATE TEMP cannot name a schema, and pg_temp is searched first)
    sql = ("CREATE TEMP TABLE affected_plan_id (plan_id bigint PRIMARY KEY);\n"
           "INSERT INTO affected_plan_id (plan_id) SELECT id FROM public.plan;\n"
           "DROP TABLE affected_plan_id;\n")
    assert not flags(sql, "postgres", "naming.fully-qualified")
    [found] = findings("CREATE TEMPORARY TABLE scratch AS SELECT id FROM comment;", "postgres", "naming.fully-qualified")
    assert found.message.startswith("comment is not schema-qualified")
    # A table of the same name that is not temporary is still judged.
    [found] = findings("CREATE TABLE scratch (id int);\nDROP TABLE scratch;", "postgres", "naming.fully-qualified")[1:]
    assert found.message.startswith("scratch is not")


@pytest.mark.parametrize(("table", "action"), [
    ("post_saved", "RENAME CONSTRAINT a_key TO b_key"),
    ("comment", "DISABLE TRIGGER USER"),
    ("IF EXISTS ONLY flags", "ADD CHECK (state = 1)"),
    ('"Person"', "ALTER CONSTRAINT person_fkey NOT DEFERRABLE"),
])
def test_fully_qualified_reads_the_table_of_an_alter_that_sqlglot_reads_as_a_command(table, action):
    # (an audit against squawk's require-table-schema: 186 such ALTERs of the corpus went unflagged)
    [found] = findings(f"ALTER TABLE {table} {action};", "postgres", "naming.fully-qualified")
    assert found.message.startswith(f"{table.split()[-1].strip(chr(34))} is not schema-qualified")
    *words, name = table.split()
    for schema in ("app.", '"app".'):
        qualified = f"ALTER TABLE {' '.join([*words, schema + name])} {action};"
        assert not flags(qualified, "postgres", "naming.fully-qualified"), qualified
        assert not findings(qualified, "postgres", "system.syntax-error"), qualified
    assert not flags("CREATE TEMP TABLE flags (state int);\nALTER TABLE flags ADD CHECK (state = 1);", "postgres",
                     "naming.fully-qualified")


def test_create_specify_schema_skips_temporary_tables():
    assert not flags("CREATE TEMP TABLE scratch (id int);", "postgres", "statement.create-specify-schema")


def test_quoted_mixed_case_is_not_the_postgres_keyword():
    assert not flags('CREATE TABLE "User" (id int PRIMARY KEY);', "postgres", "naming.identifier.no-keyword")
    assert flags("CREATE TABLE `Order` (id int PRIMARY KEY);", "mysql", "naming.identifier.no-keyword")


def test_mysql_change_to_the_same_name_introduces_nothing():
    assert not flags("ALTER TABLE t CHANGE `key` `key` varchar(10);", "mysql", "naming.identifier.no-keyword")
    assert flags("ALTER TABLE t CHANGE `hash` `key` varchar(10);", "mysql", "naming.identifier.no-keyword")


def test_rename_table_the_parser_cannot_read_after_a_comment():
    [found] = findings("/* x */ RENAME TABLE a TO BadName;", "mysql", "naming.table")
    assert "BadName" in found.message


@pytest.mark.parametrize(("dialect", "sql", "advice"), [
    # Prisma's `model User` on PostgreSQL: `user` itself would be a syntax error unquoted.
    ("postgres", 'CREATE TABLE "User" ("id" TEXT NOT NULL, CONSTRAINT "User_pkey" PRIMARY KEY ("id"));',
     "name it users or app_user (lower-case snake_case, unquoted; user is a reserved word)"),
    ("postgres", 'CREATE TABLE "Order" (id int);', "name it orders or app_order"),
    ("mysql", "CREATE TABLE `Order` (id int);", "name it orders or app_order (lower-case snake_case; order is a"),
    # GROUPS and KEYS are reserved in MySQL 8.0 too: only the app_ name is left.
    ("mysql", "CREATE TABLE t (id int, `Group` int);", "name it app_group (lower-case snake_case; group is a"),
    ("mysql", "CREATE TABLE t (id int, `Key` int);", "name it app_key (lower-case snake_case; key is a"),
    ("sqlite", 'CREATE TABLE t (id int, "Index" int);', "name it indexes or app_index"),
    ("sqlite", 'CREATE TABLE "Primary" (id int);', "name it primaries or app_primary"),
])
def test_the_suggested_name_is_never_a_reserved_word(dialect, sql, advice):
    [found] = [f for f in findings(sql, dialect) if f.rule in ("naming.table", "naming.column")]
    assert advice in found.message, found.message


@pytest.mark.parametrize("dialect", ALL)
def test_a_name_that_is_not_reserved_keeps_its_snake_case_suggestion(dialect):
    [found] = findings(f"CREATE TABLE {quoted('UserAccount', dialect)} (id int);", dialect, "naming.table")
    assert "name it user_account (lower-case snake_case" in found.message
    assert "reserved" not in found.message


@pytest.mark.parametrize(("rule", "fmt", "sql", "end"), [
    ("naming.table", "^tbl_[a-z0-9_]+$", "CREATE TABLE orders (id int);", "rename it to match that format"),
    ("naming.table", "^[A-Z][A-Za-z0-9]*$", 'CREATE TABLE "order_items" (id int);', "rename it to match that format"),
    ("naming.column", "^[a-z]+$", 'CREATE TABLE t ("createdAt" int);', "rename it to match that format"),
    ("naming.schema", "^s_[a-z]+$", 'CREATE SCHEMA "Billing";', "rename it to match that format"),
    # The snake_case spelling matches this format: it is still the suggestion.
    ("naming.table", "^[a-z_]+$", 'CREATE TABLE "OrderItems" (id int);',
     "name it order_items (lower-case snake_case, unquoted)"),
    ("naming.table", "^[a-z_]+$", 'CREATE TABLE "User" (id int);',
     "name it users or app_user (lower-case snake_case, unquoted; user is a reserved word)"),
])
def test_a_suggestion_must_match_the_configured_format(rule, fmt, sql, end):
    policy = Policy.from_rows("custom", [(rule, "warning", {"format": fmt})])
    [found] = findings(sql, "postgres", rule, policy)
    assert found.message.endswith(end), found.message


@pytest.mark.parametrize(("dialect", "sql", "rule"), [
    ("mysql", "CREATE TABLE `%TABLE_PREFIX%thread_event` (id int);", "naming.table"),  # osTicket
    ("mysql", "CREATE TABLE `%TABLE_PREFIX%ThreadEvent` (id int);", "naming.table"),
    ("mysql", "CREATE TABLE t (`%X%Name` int);", "naming.column"),
    ("postgres", 'CREATE TABLE "${prefix}Users" (id int);', "naming.table"),  # Flyway
    ("postgres", 'ALTER TABLE t ADD COLUMN "{{ prefix }}Name" int;', "naming.column"),
    ("mysql", "CREATE TABLE `%TABLE_PREFIX%thread_event` (id int);", "naming.identifier.case"),
])
def test_names_holding_a_placeholder_are_not_judged_by_the_format_rules(dialect, sql, rule):
    # The tool writes the real name: a suggestion such as table_prefix_thread_event would break it.
    assert not flags(sql, dialect, rule)


def test_a_name_without_a_placeholder_is_still_judged():
    assert flags("CREATE TABLE `TABLE_PREFIX_ThreadEvent` (id int);", "mysql", "naming.table")
    assert flags("CREATE TABLE `TABLE_PREFIX_thread_event` (id int);", "mysql", "naming.identifier.case")
    assert flags('CREATE TABLE "prefix_Users" (id int);', "postgres", "naming.table")


LONG = "x" * 70 + "_i"  # 72 characters


@pytest.mark.parametrize(("sql", "kind", "line", "column"), [
    (f"ALTER TABLE t RENAME INDEX a TO {LONG};", "index", 1, 33),
    (f"ALTER TABLE t\n  RENAME KEY a TO `{LONG}`;", "index", 2, 19),
    (f"CREATE TRIGGER {LONG} BEFORE INSERT ON t FOR EACH ROW SET NEW.a = 1;", "trigger", 1, 1),
    (f"CREATE DEFINER = 'root'@'%' TRIGGER shop.{LONG} BEFORE INSERT ON t FOR EACH ROW SET NEW.a = 1;",
     "trigger", 1, 1),
])
def test_mysql_max_length_reads_index_renames_and_triggers(sql, kind, line, column):
    # MariaDB 10.11 rejects each with ERROR 1059 (Identifier name … is too long).
    [found] = findings(sql, "mysql", "naming.identifier.max-length")
    assert found.message.startswith(f"{kind} name {LONG} is 72 characters: MySQL rejects names over 64")
    assert (found.severity, found.line, found.column) == ("error", line, column)


@pytest.mark.parametrize(("sql", "kind", "column"), [
    (f"ALTER INDEX a RENAME TO {LONG};", "index", 25),
    (f"ALTER INDEX IF EXISTS s.a RENAME TO {LONG};", "index", 37),
    (f"ALTER TABLE t RENAME CONSTRAINT a TO {LONG};", "constraint", 1),
    (f'ALTER TABLE IF EXISTS ONLY "T" RENAME CONSTRAINT "a b" TO "{LONG}";', "constraint", 1),
])
def test_postgres_max_length_reads_index_and_constraint_renames(sql, kind, column):
    # PostgreSQL 15: NOTICE: identifier "…" will be truncated to "…", and the statement succeeds.
    [found] = findings(sql, "postgres", "naming.identifier.max-length")
    assert found.message.startswith(f"{kind} name {LONG} is 72 bytes: PostgreSQL truncates it without an error "
                                    "(only a NOTICE) to 63 bytes")
    assert (found.line, found.column) == (1, column)


@pytest.mark.parametrize(("dialect", "sql", "phrase"), [
    ("mysql", "ALTER TABLE t RENAME INDEX a TO `order`;", "index name order is a reserved word in mysql"),
    ("mysql", "ALTER TABLE t RENAME KEY a TO `key`, ADD COLUMN c int;", "index name key is a reserved word"),
    ("mysql", "CREATE TRIGGER `select` BEFORE INSERT ON t FOR EACH ROW SET NEW.a = 1;",
     "trigger name select is a reserved word"),
    ("postgres", 'ALTER INDEX a RENAME TO "order";', "index name order is a reserved word in postgres"),
    ("postgres", 'ALTER TABLE t RENAME CONSTRAINT a TO "check";', "constraint name check is a reserved word"),
])
def test_no_keyword_reads_the_same_renames(dialect, sql, phrase):
    [found] = findings(sql, dialect, "naming.identifier.no-keyword")
    assert phrase in found.message
    plain = (sql.replace("`order`", "by_order").replace('"order"', "by_order").replace("`key`", "by_key")
             .replace('"check"', "positive").replace("`select`", "t_bi"))
    assert not flags(plain, dialect, "naming.identifier.no-keyword")


def test_create_specify_schema_advises_the_name_as_written():
    [found] = findings('CREATE TABLE "JobQueue" (id bigint PRIMARY KEY);', "postgres", "statement.create-specify-schema")
    assert 'write schema."JobQueue"' in found.message


@pytest.mark.parametrize(("dialect", "sql", "flagged"), [
    # A backfill's scratch table, dropped by the same file: its name is kept by no schema.
    ("postgres", "CREATE TABLE _tmp_ids (id bigint);\nINSERT INTO _tmp_ids SELECT id FROM t;\nDROP TABLE _tmp_ids;\n", []),
    ("postgres", "CREATE TABLE _tmp_ids (id bigint);\nDROP TABLE IF EXISTS a, public._tmp_ids CASCADE;\n", []),
    # A rebuild's renamed-away original, dropped at the end; a new table renamed into place.
    ("postgres", "ALTER TABLE users RENAME TO _users_old;\nCREATE TABLE users (id bigint);\nDROP TABLE _users_old;\n", []),
    ("mysql", "CREATE TABLE `_new_users` (id bigint);\nRENAME TABLE users TO old_users, `_new_users` TO users;\n", []),
    ("sqlite", 'CREATE TABLE "_x_new" (id INTEGER);\nDROP TABLE x;\nALTER TABLE "_x_new" RENAME TO x;\n', []),
    # Its columns go with it, when it is dropped; renamed into place, they stay.
    ("postgres", 'CREATE TABLE _bkp (id bigint, "Value" text);\nDROP TABLE _bkp;\n', []),
    ("postgres", 'CREATE TABLE _x_new (id bigint, "Value" text);\nALTER TABLE _x_new RENAME TO x;\n',
     [("naming.column", 1)]),
    # Near misses: another table dropped, the drop only in a comment or a string, another PostgreSQL
    # name (quoted "Tmp" is not tmp), a table that stays.
    ("postgres", "CREATE TABLE _tmp_ids (id bigint);\nDROP TABLE tmp_ids;\n", [("naming.table", 1)]),
    ("sqlite", "CREATE TABLE _x (id INTEGER);\n-- DROP TABLE _x;\nSELECT 'DROP TABLE _x';\n", [("naming.table", 1)]),
    ("postgres", 'CREATE TABLE "Tmp" (id bigint);\nDROP TABLE tmp;\n', [("naming.table", 1)]),
    ("mysql", "CREATE TABLE `_new_users` (id bigint);\nRENAME TABLE users TO old_users;\n", [("naming.table", 1)]),
])
def test_a_table_the_file_drops_or_renames_away_is_transient_and_its_name_no_matter(dialect, sql, flagged):
    found = [(f.rule, f.line) for f in findings(sql, dialect) if f.rule in ("naming.table", "naming.column")]
    assert found == flagged


PRISMA_SQLITE_REDEFINE = '''PRAGMA foreign_keys=OFF;
CREATE TABLE "new_Post" (
    "id" INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    "authorId" INTEGER NOT NULL,
    "publishedAt" DATETIME
);
INSERT INTO "new_Post" ("authorId", "id") SELECT "authorId", "id" FROM "Post";
DROP TABLE "Post";
ALTER TABLE "new_Post" RENAME TO "Post";
PRAGMA foreign_keys=ON;
'''


@pytest.mark.parametrize(("dialect", "sql", "flagged"), [
    # Prisma's table redefinition (SQLite): the table takes its old name back, and of the columns it
    # declares again only the one its copy does not fill from a column of that name is new.
    ("sqlite", PRISMA_SQLITE_REDEFINE, [("naming.column", 5)]),
    ("postgres", PRISMA_SQLITE_REDEFINE.replace("INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT", "bigint PRIMARY KEY"),
     [("naming.column", 5)]),
    # The other way round (TypeORM): the table renamed away first, created again, filled back.
    ("sqlite", 'ALTER TABLE "Contact" RENAME TO "temporary_contact";\n'
               'CREATE TABLE "Contact" ("id" varchar PRIMARY KEY, "fullName" varchar, "nickName" varchar);\n'
               'INSERT INTO "Contact" ("id", "fullName") SELECT "id", "fullName" FROM "temporary_contact";\n'
               'DROP TABLE "temporary_contact";\n', [("naming.column", 2)]),
    # A swap's other half: the new table takes the name the old one gives up.
    ("postgres", 'ALTER TABLE "Orders" RENAME TO orders_old;\nALTER TABLE orders_new RENAME TO "Orders";\n', []),
    # Near misses: the name was dropped only IF EXISTS (it may be new), or never; a copy that fills the
    # columns of a table that stays another; a column filled under another name.
    ("postgres", 'DROP TABLE IF EXISTS "Post";\nCREATE TABLE "Post" (id bigint PRIMARY KEY);\n', [("naming.table", 2)]),
    ("postgres", 'CREATE TABLE "Post" (id bigint PRIMARY KEY);\n', [("naming.table", 1)]),
    ("sqlite", 'CREATE TABLE archive ("authorId" INTEGER);\nINSERT INTO archive ("authorId") SELECT "authorId" FROM posts;\n',
     [("naming.column", 1)]),
    ("sqlite", PRISMA_SQLITE_REDEFINE.replace('SELECT "authorId"', 'SELECT "author"'), [("naming.column", 4),
                                                                                      ("naming.column", 5)]),
])
def test_names_a_rebuild_or_swap_gives_back_are_not_new(dialect, sql, flagged):
    found = [(f.rule, f.line) for f in findings(sql, dialect) if f.rule in ("naming.table", "naming.column")]
    assert sorted(found) == sorted(flagged)


def test_the_transient_table_check_reads_each_statement_once_per_file(monkeypatch):
    # One pass over the file for the tables it drops or renames away, not one per failing name (it was
    # one per name: quadratic in a dump full of mixed-case names).
    from reviews.engine.model import FileContext

    calls = []
    real = FileContext.flat_of
    monkeypatch.setattr(FileContext, "flat_of", lambda self, index: calls.append(index) or real(self, index))
    sql = "".join(f'CREATE TABLE "Bad{i}" (id int);\n' for i in range(200)) + 'DROP TABLE "Bad0";\n'
    assert len([f for f in findings(sql, "postgres") if f.rule == "naming.table"]) == 199
    assert len(calls) <= 201  # each statement once


@pytest.mark.parametrize(("dialect", "sql", "where"), [
    # openemr: KEY `table` (`table`). No query names an index: only DDL and index hints do.
    ("mysql", "CREATE TABLE audit_log (\n  id bigint PRIMARY KEY,\n  tbl varchar(64) NOT NULL,\n  KEY `table` (tbl)\n);",
     "index name table is a reserved word in mysql: DDL statements and index hints (FORCE INDEX …) that name it"),
    ("mysql", "ALTER TABLE t ADD CONSTRAINT `check` CHECK (a > 0);",
     "constraint name check is a reserved word in mysql: DDL statements (and index hints, for a key) that name it"),
    ("postgres", 'CREATE INDEX "order" ON t (a);', "index name order is a reserved word in postgres: DDL statements "
     "that name it"),
    ("sqlite", 'CREATE INDEX "order" ON t (a);', "index name order is a reserved word in sqlite: DDL statements and "
     "INDEXED BY clauses that name it"),
])
def test_a_keyword_index_or_constraint_name_is_quoted_in_ddl_and_hints_not_in_every_query(dialect, sql, where):
    [found] = findings(sql, dialect, "naming.identifier.no-keyword")
    assert found.message.startswith(where)
    assert "must quote it: rename it to a name that is not a keyword (e.g. one built from its table and columns)" \
        in found.message
    assert "every query" not in found.message


def test_a_keyword_table_or_column_name_is_quoted_in_every_query():
    [found] = findings("CREATE TABLE `order` (id bigint PRIMARY KEY);", "mysql", "naming.identifier.no-keyword")
    assert "every query would have to quote it" in found.message and "a plural" in found.message
