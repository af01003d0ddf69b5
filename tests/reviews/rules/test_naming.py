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
     f"CREATE TABLE {'t' * 63} (id int PRIMARY KEY);", "warning", "silently truncates it to 63 bytes"),
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
