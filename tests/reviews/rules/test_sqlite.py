from __future__ import annotations

import pytest

from reviews.engine.core import _learn, _parse
from reviews.engine.model import FileContext, Stmt, normalize
from reviews.rules.sqlite import REBUILD_SOURCES, REBUILD_TARGETS, unsupported_alter
from reviews.splitter import split
from tests.reviews.rules.helpers import findings, flags

UNSUPPORTED = "statement.sqlite.unsupported-alter"
ADD_COLUMN = "column.sqlite.add-column-restrictions"
PRAGMA = "statement.sqlite.pragma-in-transaction"


def one(sql: str, rule: str):
    found = findings(sql, "sqlite", rule)
    assert len(found) == 1, [f.message for f in found]
    return found[0]


# -- statement.sqlite.unsupported-alter -----------------------------------------------------------


@pytest.mark.parametrize(("sql", "form"), [
    ("ALTER TABLE orders ALTER COLUMN note TYPE text;", "ALTER COLUMN"),
    ("ALTER TABLE orders ADD CONSTRAINT uk UNIQUE (note);", "ADD CONSTRAINT"),
    ("ALTER TABLE orders DROP CONSTRAINT uk;", "DROP CONSTRAINT"),
    ("ALTER TABLE orders MODIFY note text;", "MODIFY"),
])
def test_alter_forms_sqlite_lacks(sql, form):
    found = one(sql, UNSUPPORTED)
    assert found.severity == "error"
    assert f"SQLite has no ALTER TABLE … {form} (table orders)" in found.message
    assert "INSERT INTO new_orders SELECT … FROM orders" in found.message


def test_several_actions_in_one_alter():
    found = one("ALTER TABLE orders ADD COLUMN a int, ADD COLUMN b int;", UNSUPPORTED)
    assert "has 2 actions" in found.message and "one statement per action" in found.message


@pytest.mark.parametrize("sql", [
    "ALTER TABLE orders ADD COLUMN note text;",
    "ALTER TABLE orders RENAME TO purchases;",
    "ALTER TABLE orders RENAME COLUMN note TO remark;",
    "ALTER TABLE orders RENAME note TO remark;",
    "ALTER TABLE orders DROP COLUMN note;",
    "ALTER TABLE orders ADD COLUMN note decimal(10, 2) CHECK (note IN (1, 2));",
])
def test_supported_alter_forms(sql):
    assert not flags(sql, "sqlite", UNSUPPORTED)


@pytest.mark.parametrize(("definition", "why"), [
    ("code text UNIQUE", "it is UNIQUE"),
    ("code text PRIMARY KEY", "it is the primary key"),
    ("code int, FOREIGN KEY (code) REFERENCES customers (id)", "a foreign key column"),
    ("code text, UNIQUE (id, code)", "it is UNIQUE"),
])
def test_drop_column_that_sqlite_cannot_drop(definition, why):
    sql = f"CREATE TABLE orders (id integer, {definition});\nALTER TABLE orders DROP COLUMN code;"
    found = one(sql, UNSUPPORTED)
    assert found.line == 2 and "cannot DROP COLUMN code of table orders" in found.message and why in found.message


def test_drop_of_an_indexed_column():
    sql = "CREATE INDEX idx_orders_code ON orders (code);\nALTER TABLE orders DROP COLUMN code;"
    assert "indexed" in one(sql, UNSUPPORTED).message
    assert not flags("CREATE INDEX idx_orders_code ON orders (code);\nALTER TABLE orders DROP COLUMN note;", "sqlite",
                     UNSUPPORTED)


def test_not_sqlite():
    assert not flags("ALTER TABLE orders ALTER COLUMN note TYPE text;", "postgres", UNSUPPORTED)


# -- the rebuild memo ------------------------------------------------------------------------------

REBUILD = """PRAGMA foreign_keys=OFF;
BEGIN;
CREATE TABLE "new__app_order" ("id" integer NOT NULL PRIMARY KEY, "note" text NULL);
INSERT INTO "new__app_order" ("id", "note") SELECT "id", "note" FROM "app_order";
DROP TABLE "app_order";
ALTER TABLE "new__app_order" RENAME TO "app_order";
COMMIT;
PRAGMA foreign_keys=ON;
"""


def _memo_after(sql: str) -> dict:
    ctx = FileContext(path="0001.sql", dialect="sqlite")
    for index, statement in enumerate(split(sql, "sqlite")):
        st = Stmt(index=index, statement=statement, ast=_parse(statement.text, "sqlite"), norm=normalize(statement.text))
        list(unsupported_alter(st, ctx, {}))
        _learn(ctx, st)
    return ctx.memo


def test_rebuild_copy_is_recorded():
    memo = _memo_after(REBUILD)
    assert "app_order" in memo[REBUILD_SOURCES]
    assert "new__app_order" in memo[REBUILD_TARGETS]


def test_rebuild_with_old_table_renamed_first():
    memo = _memo_after("ALTER TABLE orders RENAME TO _orders_old;\nCREATE TABLE orders (id integer PRIMARY KEY);\n"
                       "INSERT INTO orders (id) SELECT id FROM _orders_old;\nDROP TABLE _orders_old;")
    assert memo[REBUILD_SOURCES] >= {"_orders_old"} and "orders" in memo[REBUILD_TARGETS]


def test_copy_into_an_existing_table_is_no_rebuild():
    memo = _memo_after("INSERT INTO orders_new (id) SELECT id FROM orders;")
    assert not memo.get(REBUILD_SOURCES)


def test_copy_into_an_unrelated_new_table_is_no_rebuild():
    memo = _memo_after("CREATE TABLE archive_orders (id integer);\n"
                       "INSERT INTO archive_orders (id) SELECT id FROM orders;\nDROP TABLE orders;")
    assert not memo.get(REBUILD_SOURCES)
    assert flags("CREATE TABLE archive_orders (id integer);\nINSERT INTO archive_orders (id) SELECT id FROM orders;\n"
                 "DROP TABLE orders;", "sqlite", "table.disallow-drop")


@pytest.mark.parametrize(("new", "old"), [("orders_new", "orders"), ("_new_orders", "orders"), ("tmp_orders", "orders")])
def test_rebuild_names(new, old):
    memo = _memo_after(f"CREATE TABLE {new} (id integer);\nINSERT INTO {new} (id) SELECT id FROM {old};")
    assert memo[REBUILD_SOURCES] == {old} and memo[REBUILD_TARGETS] == {new}


def test_a_whole_rebuild_is_clean_for_these_rules():
    for rule_id in (UNSUPPORTED, ADD_COLUMN, PRAGMA, "table.disallow-drop"):
        assert not flags(REBUILD, "sqlite", rule_id), rule_id


# -- column.sqlite.add-column-restrictions -----------------------------------------------------------


@pytest.mark.parametrize(("clause", "phrase"), [
    ("code text PRIMARY KEY", "as a PRIMARY KEY column"),
    ("code text UNIQUE", "as a UNIQUE column"),
    ("code text CONSTRAINT uk UNIQUE", "as a UNIQUE column"),
    ("created_at text DEFAULT CURRENT_TIMESTAMP", "non-constant default"),
    ("n int DEFAULT (1 + 1)", "non-constant default"),
    ("total int AS (price * qty) STORED", "a STORED generated column"),
    ("customer_id int REFERENCES customers (id) DEFAULT 1", "REFERENCES column with a non-NULL default"),
    ("customer_id int DEFAULT 1 REFERENCES customers (id) ON DELETE SET DEFAULT",
     "REFERENCES column with a non-NULL default"),
])
def test_add_column_restrictions_on_existing_table(clause, phrase):
    found = one(f"ALTER TABLE orders ADD COLUMN {clause};", ADD_COLUMN)
    assert found.severity == "error" and phrase in found.message and "CREATE TABLE new_orders" in found.message


@pytest.mark.parametrize("clause", [
    "note text",
    "n int DEFAULT 0",
    "n int DEFAULT (-1)",
    "note text DEFAULT 'CURRENT_TIMESTAMP'",
    "total int AS (price * qty)",
    "total int AS (price * qty) VIRTUAL",
    "customer_id int REFERENCES customers (id)",
    "customer_id int REFERENCES customers (id) DEFAULT NULL",
    "customer_id int REFERENCES customers (id) ON DELETE SET DEFAULT",  # an action, not a default
    "customer_id int REFERENCES customers (id) ON UPDATE SET DEFAULT ON DELETE CASCADE",
])
def test_add_column_sqlite_accepts(clause):
    assert not flags(f"ALTER TABLE orders ADD COLUMN {clause};", "sqlite", ADD_COLUMN)


def test_new_table_only_primary_key_and_unique_fail():
    create = "CREATE TABLE orders (id integer PRIMARY KEY);\n"
    assert not flags(create + "ALTER TABLE orders ADD COLUMN created_at text DEFAULT CURRENT_TIMESTAMP;", "sqlite",
                     ADD_COLUMN)
    assert flags(create + "ALTER TABLE orders ADD COLUMN code text UNIQUE;", "sqlite", ADD_COLUMN)


# -- statement.sqlite.pragma-in-transaction ---------------------------------------------------------


def test_pragma_foreign_keys_inside_a_transaction():
    found = one("BEGIN;\nPRAGMA foreign_keys = OFF;\nCOMMIT;", PRAGMA)
    assert found.severity == "error" and found.line == 2
    assert "silently ignored" in found.message and "move it before BEGIN" in found.message
    assert flags("BEGIN TRANSACTION;\nPRAGMA main.foreign_keys(0);\nCOMMIT;", "sqlite", PRAGMA)


def test_pragma_outside_a_transaction_or_another_pragma():
    assert not flags("PRAGMA foreign_keys=OFF;\nBEGIN;\nCOMMIT;\nPRAGMA foreign_keys=ON;", "sqlite", PRAGMA)
    assert not flags("BEGIN;\nPRAGMA foreign_key_check;\nPRAGMA defer_foreign_keys = ON;\nCOMMIT;", "sqlite", PRAGMA)


# -- DROP COLUMN: the facts the file gives, as SQLite 3.40 checks them ------------------------------------

BOOKS = ("CREATE TABLE books (id integer PRIMARY KEY, author_id integer REFERENCES authors (id) ON DELETE CASCADE, "
         "editor_id integer, title text, own int CHECK (own > 0), lo int, hi int CHECK (hi >= lo), "
         "CHECK (title <> ''), FOREIGN KEY (editor_id) REFERENCES authors (id));\n")


@pytest.mark.parametrize(("column", "why"), [
    ("author_id", None),  # its own REFERENCES goes with it
    ("editor_id", "it is a foreign key column"),  # unknown column "editor_id" in foreign key definition
    ("title", "it is named in a CHECK constraint"),  # the table's CHECK: no such column: title
    ("own", None),  # its own CHECK goes with it
    ("lo", "it is named in a CHECK constraint"),  # another column's CHECK: no such column: lo
    ("hi", None),
])
def test_drop_column_with_references_and_checks(column, why):
    found = findings(f"{BOOKS}ALTER TABLE books DROP COLUMN {column};", "sqlite", UNSUPPORTED)
    assert [f.message.split(": ")[1].split(";")[0] for f in found] == ([why] if why else [])


def test_drop_index_and_renames_move_the_facts():
    sql = ("CREATE TABLE users (id integer PRIMARY KEY, legacy text, nick text UNIQUE, a text, b text);\n"
           "CREATE INDEX idx_users_legacy ON users (legacy);\nCREATE INDEX i1 ON users (a);\n"
           "CREATE INDEX i2 ON users (a, b);\n"
           "DROP INDEX IF EXISTS main.idx_users_legacy;\nALTER TABLE users DROP COLUMN legacy;\n"  # 6: works
           "DROP INDEX i1;\nALTER TABLE users DROP COLUMN a;\n"  # 8: still in i2
           "ALTER TABLE users RENAME COLUMN nick TO handle;\nALTER TABLE users DROP COLUMN handle;\n"  # 10: UNIQUE
           "ALTER TABLE users DROP COLUMN nick;\n"  # 11: no such column (not UNIQUE)
           "ALTER TABLE users RENAME b TO c;\nALTER TABLE users RENAME TO people;\n"
           "ALTER TABLE people DROP COLUMN c;\n")  # 14: in i2
    found = [(f.line, f.message.split(": ")[1].split(";")[0]) for f in findings(sql, "sqlite", UNSUPPORTED)]
    assert found == [(8, "it is indexed"), (10, "it is UNIQUE"), (14, "it is indexed")]


def test_a_column_named_key():
    for sql in ("ALTER TABLE kv ADD key text;", "ALTER TABLE kv DROP key;", "ALTER TABLE kv ADD key varchar(32);"):
        assert not flags(sql, "sqlite", UNSUPPORTED), sql
    for sql, form in (("ALTER TABLE kv ADD KEY idx (v);", "ADD KEY"), ("ALTER TABLE kv ADD KEY (v);", "ADD KEY"),
                      ("ALTER TABLE kv DROP KEY idx;", "DROP KEY")):
        assert f"SQLite has no ALTER TABLE … {form} (table kv)" in one(sql, UNSUPPORTED).message


@pytest.mark.parametrize(("default", "constant"), [
    ("((1))", True),
    ("(CAST(1 AS int))", True),
    ("((CAST((-1) AS varchar(10))))", True),
    ("(CAST(CAST('a' AS text) AS int))", True),
    ("(CAST(1 + 1 AS int))", False),
    ("((1) + 1)", False),
])
def test_defaults_that_sqlite_folds_to_a_constant(default, constant):
    # on a table with rows, SQLite 3.40: "Cannot add a column with non-constant default" for the others
    sql = f"ALTER TABLE orders ADD COLUMN n int DEFAULT {default};"
    assert flags(sql, "sqlite", ADD_COLUMN) is not constant


# -- rebuilds by other tools' names ------------------------------------------------------------------


@pytest.mark.parametrize(("new", "old"), [('"ef_temp_Posts"', '"Posts"'),  # EF Core's migration scripts
                                          ('"temporary_contact"', '"contact"')])  # TypeORM
def test_rebuild_copy_by_ef_core_and_typeorm_is_no_drop(new, old):
    sql = (f'CREATE TABLE {new} ("id" integer NOT NULL PRIMARY KEY);\n'
           f'INSERT INTO {new} ("id") SELECT "id" FROM {old};\nDROP TABLE {old};\nALTER TABLE {new} RENAME TO {old};')
    assert not flags(sql, "sqlite", "table.disallow-drop")
    assert flags(sql.replace(f"FROM {old}", 'FROM "other"'), "sqlite", "table.disallow-drop")


def test_typeorm_down_rebuild_drops_the_renamed_away_table():
    sql = ('ALTER TABLE "contact" RENAME TO "temporary_contact";\nCREATE TABLE "contact" ("id" varchar PRIMARY KEY);\n'
           'INSERT INTO "contact"("id") SELECT "id" FROM "temporary_contact";\nDROP TABLE "temporary_contact";')
    assert not flags(sql, "sqlite", "table.disallow-drop")
    assert flags(sql.replace('"contact"("id")', '"contacts"("id")').replace('TABLE "contact"', 'TABLE "contacts"'),
                 "sqlite", "table.disallow-drop")


@pytest.mark.parametrize("index", [
    "CREATE INDEX i ON events (json_extract(payload, '$.tenant'));",  # error in index i after drop column
    "CREATE INDEX i ON events (lower(payload) COLLATE nocase);",
    "CREATE INDEX i ON events (kind) WHERE payload IS NOT NULL;",
])
def test_drop_of_a_column_in_an_index_expression_or_where(index):
    sql = f"{index}\nALTER TABLE events DROP COLUMN payload;"
    assert "it is indexed" in one(sql, UNSUPPORTED).message
    assert not flags(sql.replace("DROP COLUMN payload", "DROP COLUMN note"), "sqlite", UNSUPPORTED)
