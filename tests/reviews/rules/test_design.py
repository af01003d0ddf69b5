from __future__ import annotations

import pytest

from tests.reviews.rules.helpers import findings, flags

# (rule, dialect, flagged statement, near miss, severity under --all-rules, key phrase of the message).
# `off` rules report as "warning" when --all-rules turns them on.
CASES = [
    *[("table.require-pk", d, "CREATE TABLE events (payload text);",
       "CREATE TABLE events (id bigint PRIMARY KEY, payload text);", "warning", "has no primary key")
      for d in ("postgres", "mysql", "sqlite")],
    *[("table.no-foreign-key", d, "CREATE TABLE orders (id int PRIMARY KEY, customer_id int REFERENCES customers (id));",
       "CREATE TABLE orders (id int PRIMARY KEY, customer_id int);", "warning", "forbids foreign keys")
      for d in ("postgres", "mysql", "sqlite")],
    ("table.comment", "mysql", "CREATE TABLE t (id int PRIMARY KEY);",
     "CREATE TABLE t (id int PRIMARY KEY) COMMENT='orders';", "warning", "has no comment"),
    ("table.comment", "postgres", "CREATE TABLE t (id int PRIMARY KEY);",
     "CREATE TABLE t (id int PRIMARY KEY);\nCOMMENT ON TABLE t IS 'orders';", "warning", "COMMENT ON TABLE t"),
    ("column.comment", "mysql", "CREATE TABLE t (id int PRIMARY KEY COMMENT 'key', note text);",
     "CREATE TABLE t (id int PRIMARY KEY COMMENT 'key', note text COMMENT 'free text');", "warning",
     "column t.note has no comment"),
    ("column.comment", "postgres", "CREATE TABLE t (id int PRIMARY KEY);",
     "CREATE TABLE t (id int PRIMARY KEY);\nCOMMENT ON COLUMN t.id IS 'key';", "warning", "COMMENT ON COLUMN t.id"),
    ("table.disallow-partition", "postgres", "CREATE TABLE m (at date) PARTITION BY RANGE (at);",
     "CREATE TABLE m (at date);", "warning", "partitioned tables"),
    ("table.disallow-partition", "mysql", "CREATE TABLE m (id int) PARTITION BY HASH(id) PARTITIONS 4;",
     "CREATE TABLE m (id int);", "warning", "partitioned tables"),
    ("table.disallow-trigger", "postgres",
     "CREATE TRIGGER audit AFTER UPDATE ON orders FOR EACH ROW EXECUTE FUNCTION audit();",
     "CREATE TABLE trigger_log (id int PRIMARY KEY);", "warning", "forbids triggers"),
    ("table.disallow-trigger", "mysql", "CREATE TRIGGER audit BEFORE INSERT ON orders FOR EACH ROW SET NEW.x = 1;",
     "CREATE TABLE trigger_log (id int PRIMARY KEY);", "warning", "forbids triggers"),
    *[("column.no-null", d, "CREATE TABLE t (id int PRIMARY KEY, note text);",
       "CREATE TABLE t (id int PRIMARY KEY, note text NOT NULL);", "warning", "t.note is nullable")
      for d in ("postgres", "mysql", "sqlite")],
    *[("column.required", d, "CREATE TABLE t (id int PRIMARY KEY);",
       "CREATE TABLE t (id int PRIMARY KEY, created_at int, updated_at int);", "warning",
       "created_at, updated_at") for d in ("postgres", "mysql", "sqlite")],
    *[("column.require-default", d, "ALTER TABLE t ADD COLUMN status int NOT NULL;",
       "ALTER TABLE t ADD COLUMN status int NOT NULL DEFAULT 0;", "warning", "t.status has no DEFAULT")
      for d in ("postgres", "mysql", "sqlite")],
    ("column.type-disallow-list", "postgres", "ALTER TABLE t ADD COLUMN price money;",
     "ALTER TABLE t ADD COLUMN price numeric(12, 2);", "warning", "which this policy disallows"),
    ("column.type-disallow-list", "mysql", "ALTER TABLE t ADD COLUMN state enum('a', 'b');",
     "ALTER TABLE t ADD COLUMN state varchar(10);", "warning", "which this policy disallows"),
    ("column.type-disallow-list", "sqlite", "ALTER TABLE t ADD COLUMN price money;",
     "ALTER TABLE t ADD COLUMN price numeric;", "warning", "which this policy disallows"),
    ("column.prefer-bigint-over-int", "postgres", "CREATE TABLE t (id serial PRIMARY KEY);",
     "CREATE TABLE t (id bigserial PRIMARY KEY, n int);", "warning", "use bigint GENERATED ALWAYS AS IDENTITY"),
    ("column.prefer-bigint-over-int", "mysql", "CREATE TABLE t (id int AUTO_INCREMENT PRIMARY KEY);",
     "CREATE TABLE t (id bigint unsigned AUTO_INCREMENT PRIMARY KEY, n int);", "warning", "use BIGINT UNSIGNED"),
    ("column.prefer-identity", "postgres", "CREATE TABLE t (id bigserial PRIMARY KEY);",
     "CREATE TABLE t (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY);", "info",
     "GENERATED ALWAYS AS IDENTITY"),
    ("column.prefer-timestamptz", "postgres", "ALTER TABLE t ADD COLUMN created_at timestamp;",
     "ALTER TABLE t ADD COLUMN created_at timestamptz;", "warning", "use timestamptz"),
    ("column.prefer-text-over-varchar", "postgres", "ALTER TABLE t ADD COLUMN name varchar(100);",
     "ALTER TABLE t ADD COLUMN name text;", "warning", "use text with a CHECK"),
    ("column.disallow-char", "postgres", "ALTER TABLE t ADD COLUMN code char(3);",
     "ALTER TABLE t ADD COLUMN code varchar(3);", "warning", "use text or varchar"),
    ("column.maximum-varchar-length", "mysql", "ALTER TABLE t ADD COLUMN body varchar(10000);",
     "ALTER TABLE t ADD COLUMN body varchar(255);", "info", "use TEXT instead"),
    ("column.prefer-jsonb", "postgres", "ALTER TABLE t ADD COLUMN data json;",
     "ALTER TABLE t ADD COLUMN data jsonb;", "warning", "use jsonb"),
    ("column.auto-increment-must-integer", "mysql", "CREATE TABLE t (id double AUTO_INCREMENT PRIMARY KEY);",
     "CREATE TABLE t (id bigint unsigned AUTO_INCREMENT PRIMARY KEY);", "warning", "use an integer type"),
    ("column.auto-increment-must-unsigned", "mysql", "CREATE TABLE t (id bigint AUTO_INCREMENT PRIMARY KEY);",
     "CREATE TABLE t (id bigint unsigned AUTO_INCREMENT PRIMARY KEY);", "warning", "declare it UNSIGNED"),
    ("index.no-duplicate-column", "postgres", "CREATE INDEX idx_t_a ON t (a, a);",
     "CREATE INDEX idx_t_a_b ON t (a, b);", "warning", "lists a more than once"),
    ("index.no-duplicate-column", "mysql", "CREATE INDEX idx_t_a ON t (a, a);",
     "CREATE INDEX idx_t_a_b ON t (a, b);", "error", "lists a more than once"),
    *[("index.key-number-limit", d, "CREATE INDEX idx_wide ON t (a, b, c, d, e, f);",
       "CREATE INDEX idx_five ON t (a, b, c, d, e);", "info", "has 6 columns, more than 5")
      for d in ("postgres", "mysql", "sqlite")],
    ("index.type-no-blob", "mysql", "CREATE TABLE t (id bigint PRIMARY KEY, body text, KEY idx_t_body (body));",
     "CREATE TABLE t (id bigint PRIMARY KEY, body text, KEY idx_t_body (body(100)));", "error",
     "without a prefix length"),
    *[("table.no-duplicate-index", d, "CREATE INDEX idx_a ON t (a);\nCREATE INDEX idx_a2 ON t (a);",
       "CREATE INDEX idx_a ON t (a);\nCREATE INDEX idx_a_b ON t (a, b);", "info", "duplicates the index idx_a")
      for d in ("postgres", "mysql", "sqlite")],
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


def test_design_rules_stay_on_their_engines():
    assert not flags("ALTER TABLE t ADD COLUMN data json;", "mysql", "column.prefer-jsonb")
    assert not flags("CREATE TABLE t (id double AUTO_INCREMENT PRIMARY KEY);", "postgres",
                     "column.auto-increment-must-integer")
    assert not flags("CREATE INDEX idx_t_a ON t (a, a);", "sqlite", "index.no-duplicate-column")


@pytest.mark.parametrize("dialect", ["postgres", "mysql"])
def test_column_findings_point_at_their_column(dialect):
    # In a CREATE TABLE of many lines, a finding about one column is on that column's line (where a
    # pull-request annotation shows it), not at the statement's first line (a quoted name: at its quote).
    sql = ("CREATE TABLE events (\n  id int AUTO_INCREMENT PRIMARY KEY,\n  payload json,\n"
           "  happened_at timestamp NOT NULL,\n  code varchar(3000)\n);\n"
           "ALTER TABLE orders ADD COLUMN note json, ADD COLUMN \"createdAt\" timestamp;\n")
    if dialect == "postgres":
        sql = sql.replace(" AUTO_INCREMENT", "").replace("int PRIMARY", "serial PRIMARY")
    else:
        sql = sql.replace('"createdAt"', "`createdAt`")
    where = {(f.rule, f.line, f.column) for f in findings(sql, dialect)}
    expected = {("column.prefer-bigint-over-int", 2, 3), ("column.no-null", 3, 3), ("column.require-default", 5, 3)}
    if dialect == "postgres":
        expected |= {("column.prefer-jsonb", 3, 3), ("column.prefer-timestamptz", 4, 3), ("column.comment", 3, 3),
                     ("column.prefer-jsonb", 7, 31), ("column.prefer-timestamptz", 7, 53), ("naming.column", 7, 53)}
    else:
        expected |= {("column.maximum-varchar-length", 5, 3), ("column.comment", 5, 3), ("naming.column", 7, 53)}
    assert expected <= where


@pytest.mark.parametrize("dialect", ["postgres", "mysql", "sqlite"])
def test_require_pk_accepts_table_level_keys_and_skips_temporary_tables(dialect):
    assert not flags("CREATE TABLE t (a int, b int, PRIMARY KEY (a, b));", dialect, "table.require-pk")
    assert not flags("CREATE TEMPORARY TABLE t (a int);", dialect, "table.require-pk")


@pytest.mark.parametrize(("sql", "advice"), [
    # PostgreSQL refuses a partitioned table's key without its partition key's columns (lago's enriched_events).
    ("CREATE TABLE events (id uuid NOT NULL, ts timestamptz NOT NULL) PARTITION BY RANGE (ts);",
     "add one that includes its partition key (ts), e.g. `PRIMARY KEY (id, ts)`"),
    ("CREATE TABLE events (kind text, ts timestamptz) PARTITION BY LIST (kind);",
     "e.g. `id bigint GENERATED ALWAYS AS IDENTITY` and `PRIMARY KEY (id, kind)`"),
    ("CREATE TABLE events (id bigint, ts timestamptz) PARTITION BY HASH (id);", "e.g. `PRIMARY KEY (id)`"),
    # and any primary key when the partition key is an expression.
    ("CREATE TABLE ev (a int, b int) PARTITION BY RANGE (((a + b) / 2));",
     "cannot have one: it is partitioned by an expression. Give each partition a primary key"),
])
def test_require_pk_on_a_partitioned_postgres_table_gives_a_key_it_can_have(sql, advice):
    [found] = findings(sql, "postgres", "table.require-pk")
    assert advice in found.message and "GENERATED ALWAYS AS IDENTITY PRIMARY KEY" not in found.message


def test_index_columns_with_an_operator_class_are_shown_as_columns():
    sql = "CREATE INDEX CONCURRENTLY t_idx ON t USING brin (a int8_minmax_multi_ops, b, c, d, e, (f + 1));"
    [found] = findings(sql, "postgres", "index.key-number-limit")
    assert "on t(a int8_minmax_multi_ops, b, c, d, e, <expression>) has 6 columns" in found.message


def test_require_pk_reads_a_create_table_the_parser_cannot():
    sql = "CREATE TABLE m (id int) PARTITION BY HASH(id) PARTITIONS 4;"
    [found] = findings(sql, "mysql", "table.require-pk")
    assert "table m has no primary key" in found.message and "AUTO_INCREMENT" in found.message
    assert not flags(sql.replace("id int", "id int PRIMARY KEY"), "mysql", "table.require-pk")


def test_require_pk_counts_a_primary_key_added_later_in_the_file():
    dump = ("CREATE TABLE public.users (id integer NOT NULL, email text);\n"
            "CREATE TABLE public.events (payload jsonb);\n"
            "ALTER TABLE ONLY public.users ADD CONSTRAINT users_pkey PRIMARY KEY (id);\n")
    [found] = findings(dump, "postgres", "table.require-pk")  # pg_dump: keys come after the tables
    assert "table events has no primary key" in found.message and found.line == 2
    assert not flags("CREATE TABLE t (id int NOT NULL);\nALTER TABLE t ADD PRIMARY KEY (id);", "mysql",
                     "table.require-pk")
    # A key added to an earlier table of the same name does not cover the table created again after it.
    again = ("CREATE TABLE t (id int);\nALTER TABLE t ADD PRIMARY KEY (id);\nDROP TABLE t;\n"
             "CREATE TABLE t (id int);\n")
    [found] = findings(again, "postgres", "table.require-pk")
    assert found.line == 4


def test_postgres_comment_findings_point_at_the_create_table():
    sql = "SELECT 1;\nCREATE TABLE t (id int PRIMARY KEY);\nCOMMENT ON COLUMN t.id IS 'key';"
    [table] = findings(sql, "postgres", "table.comment")
    assert table.line == 2
    assert not flags(sql, "postgres", "column.comment")


def test_comment_longer_than_the_limit():
    sql = f"CREATE TABLE t (id int PRIMARY KEY COMMENT 'key') COMMENT='{'x' * 70}';"
    [found] = findings(sql, "mysql", "table.comment")
    assert "longer than 64 characters" in found.message


def test_required_column_cannot_be_dropped():
    [found] = findings("ALTER TABLE t DROP COLUMN created_at;", "postgres", "column.required")
    assert "t.created_at is a required column" in found.message


@pytest.mark.parametrize("dialect", ["postgres", "mysql"])
def test_prefer_bigint_only_for_key_columns(dialect):
    assert flags("CREATE TABLE t (id int, PRIMARY KEY (id));", dialect, "column.prefer-bigint-over-int")
    assert not flags("CREATE TABLE t (a int, b int, PRIMARY KEY (a, b));", dialect, "column.prefer-bigint-over-int")


def test_prefer_identity_sees_serial_spelled_serial4():
    assert flags("ALTER TABLE t ADD COLUMN n serial4;", "postgres", "column.prefer-identity")


def test_prefer_timestamptz_on_a_type_change():
    sql = "ALTER TABLE t ALTER COLUMN at TYPE timestamp without time zone;"
    [found] = findings(sql, "postgres", "column.prefer-timestamptz")
    assert "column t.at" in found.message


def test_blob_index_uses_column_types_known_from_the_file():
    sql = "CREATE TABLE t (id bigint PRIMARY KEY, body mediumtext);\nCREATE INDEX idx_t_body ON t (body);"
    [found] = findings(sql, "mysql", "index.type-no-blob")
    assert found.line == 2
    assert not flags("CREATE INDEX idx_t_body ON t (body);", "mysql", "index.type-no-blob")  # type unknown
    assert not flags(sql.replace("(body);", "(body(20));"), "mysql", "index.type-no-blob")


@pytest.mark.parametrize(("dialect", "drop"), [("postgres", "DROP INDEX idx_a;"), ("mysql", "DROP INDEX idx_a ON t;"),
                                               ("sqlite", "DROP INDEX idx_a;")])
def test_duplicate_index_forgets_a_dropped_index(dialect, drop):
    sql = f"CREATE INDEX idx_a ON t (a);\n{drop}\nCREATE INDEX idx_a2 ON t (a);"
    assert not flags(sql, dialect, "table.no-duplicate-index")


def test_duplicate_index_of_a_primary_key():
    sql = "CREATE TABLE t (id int PRIMARY KEY, KEY idx_id (id));"
    [found] = findings(sql, "mysql", "table.no-duplicate-index")
    assert "duplicates the primary key on t(id)" in found.message


@pytest.mark.parametrize(("sql", "advice"), [
    # Prisma's `@id @unique` (umami, langfuse): dropping the primary key instead loses the key.
    ('CREATE TABLE "user" ("user_id" UUID NOT NULL, CONSTRAINT "user_pkey" PRIMARY KEY ("user_id"));\n'
     'CREATE UNIQUE INDEX "user_user_id_key" ON "user"("user_id");',
     "drop the unique index user_user_id_key, not the primary key"),
    # A plain index on a unique column (umami's link_slug_idx): dropping the unique one loses the uniqueness.
    ("CREATE UNIQUE INDEX link_slug_key ON link (slug);\nCREATE INDEX link_slug_idx ON link (slug);",
     "drop the index link_slug_idx, not the unique index"),
    ("CREATE INDEX p_idx ON p (a, b);\nCREATE UNIQUE INDEX p_key ON p (a, b);",
     "drop the index p_idx, not the unique index"),
])
def test_duplicate_index_advice_keeps_the_key_or_the_uniqueness(sql, advice):
    [found] = findings(sql, "postgres", "table.no-duplicate-index")
    assert found.message.endswith(f"{advice} (which serves the same lookups)"), found.message
    assert "drop one of them" not in found.message
    [near] = findings("CREATE INDEX a1 ON t (a);\nCREATE INDEX a2 ON t (a);", "postgres", "table.no-duplicate-index")
    assert near.message.endswith("drop one of them")


def test_duplicate_index_knows_the_names_postgres_gives_unnamed_constraints():
    sql = ("ALTER TABLE t ADD UNIQUE (a);\nALTER TABLE t DROP CONSTRAINT t_a_key;\n"
           "CREATE INDEX CONCURRENTLY idx_t_a ON t (a);")
    assert not flags(sql, "postgres", "table.no-duplicate-index")
    assert flags(sql.replace("t_a_key", "other_name"), "postgres", "table.no-duplicate-index")


# -- near misses of the cheap paths (gates, pre-checks) -----------------------------------------------


@pytest.mark.parametrize(("sql", "count"), [
    ("CREATE TABLE t (Code int, CODE serial);", 2),  # the text says `code serial`, in any case
    ("CREATE TABLE t (seq int, \u017feq serial);", 2),  # long s: a case-insensitive match of `seq`
    ("CREATE TABLE t (\u017feq int, seq serial);", 2),
    ('CREATE TABLE t (seq int, "seq" serial);', 2),
    ("CREATE TABLE t (seq int, xseq serial);", 1),
    ("CREATE TABLE t (seq int, note text DEFAULT 'seq serial');", 0),  # in a string: not the text
    # Each column's pattern is searched around the text's `serial` words only: near misses of that.
    ("CREATE TABLE t (a int, b text, c text, seq int,\n  seq_b   \n\t  serial, x serial4x);", 1),
    ("CREATE TABLE t (seq int, y serial4x, \"SEQ\" \n serial8, z bigserial);", 3),
    ("CREATE TABLE t (a_seq int, seq int, b_seq serial);", 1),
])
def test_prefer_identity_reads_serial_from_the_text_as_before(sql, count):
    assert len(findings(sql, "postgres", "column.prefer-identity")) == count


def test_column_rules_run_when_the_normalized_text_lost_the_table_keyword():
    # A backslash-escaped quote before TABLE (st.norm once read a string up to the next quote and
    # lost TABLE, where sqlglot reads a CREATE TABLE): the column rules still run.
    sql = "CREATE DEFINER='a\\'b'@'%' TABLE t (id bigint PRIMARY KEY, d varchar(3000) DEFAULT 'c');"
    assert flags(sql, "mysql", "column.maximum-varchar-length")


def test_blob_index_prints_only_types_that_can_be_blob_or_text():
    from sqlglot import exp

    from reviews.engine.model import sqlglot_dialect
    from reviews.rules.design import _NEVER_BLOB_OR_TEXT, BLOB_TEXT_NAMES

    mysql = sqlglot_dialect("mysql")
    for kind in _NEVER_BLOB_OR_TEXT:
        for params in ([], [exp.DataTypeParam(this=exp.Literal.number(10))]):
            written = exp.DataType(this=kind, expressions=params).sql(dialect=mysql)
            assert written.split("(")[0].strip().upper() not in BLOB_TEXT_NAMES, written
    # A VARCHAR without a length prints as TEXT in MySQL: it is printed, and flagged.
    assert flags("CREATE TABLE t (id int PRIMARY KEY, v varchar, KEY k (v));", "mysql", "index.type-no-blob")
    assert not flags("CREATE TABLE t (id int PRIMARY KEY, v varchar(10), KEY k (v));", "mysql", "index.type-no-blob")


def test_type_labels_printed_once_per_spelling_match_sql():
    # type_sql remembers a print per (dialect, type, flags, literal parameters, user-defined name):
    # the same answer as printing each node, for spellings that differ only in what the key holds.
    from reviews.engine.model import sqlglot_dialect, type_sql

    types = ["int", "int(11)", "int(11) unsigned", "int unsigned", "integer", "varchar(20)", "varchar(21)", "varchar",
             "char(3)", "numeric(10, 2)", "numeric(10, 3)", "decimal(10)", "serial4", "serial", "bigserial", "citext",
             '"Serial4"', "public.citext", "text[]", "timestamp(3)", "timestamp with time zone", "double precision",
             "bit varying(5)"]
    for dialect in ("postgres", "mysql", "sqlite"):
        for _ in range(2):  # the second time from the cache
            for spelled in types:
                try:
                    tree = sqlglot_dialect(dialect).parse(f"CREATE TABLE t (c {spelled})")[0]
                except Exception:
                    continue
                kind = tree.this.expressions[0].args["kind"]
                assert type_sql(kind, dialect) == kind.sql(dialect=sqlglot_dialect(dialect)), (dialect, spelled)


@pytest.mark.parametrize(("second", "count"), [
    ("CREATE INDEX b ON t (x) WHERE deleted_at IS NULL;", 1),  # the same predicate: a duplicate
    ("CREATE INDEX b ON t (x) WHERE deleted_at IS NOT NULL;", 0),
    ("CREATE INDEX b ON t (x);", 0),  # no predicate is not the same as one
    ("CREATE INDEX b ON t (y) WHERE deleted_at IS NULL;", 0),
])
def test_duplicate_partial_indexes_are_compared_on_their_predicate(second, count):
    # Predicates are printed only when an index otherwise duplicates another: the findings are those
    # of comparing the printed SQL.
    sql = f"CREATE INDEX a ON t (x) WHERE deleted_at IS NULL;\n{second}"
    assert len(findings(sql, "postgres", "table.no-duplicate-index")) == count


# -- fixes after the audit of the design rules ------------------------------------------------------


def test_prefer_bigint_reads_mysql_serial_and_int8_as_bigint():
    # MySQL: SERIAL is BIGINT UNSIGNED NOT NULL AUTO_INCREMENT UNIQUE, and INT8 is BIGINT (sqlglot reads
    # it as TINYINT).
    assert not flags("CREATE TABLE icd (dx_id SERIAL, code varchar(7));", "mysql", "column.prefer-bigint-over-int")
    assert not flags("CREATE TABLE j (id int8 AUTO_INCREMENT PRIMARY KEY);", "mysql", "column.prefer-bigint-over-int")
    assert not flags("CREATE TABLE j (`id` INT8 NOT NULL, PRIMARY KEY (`id`));", "mysql",
                     "column.prefer-bigint-over-int")
    [found] = findings("CREATE TABLE j (x int8, id tinyint AUTO_INCREMENT PRIMARY KEY);", "mysql",
                       "column.prefer-bigint-over-int")
    assert "j.id is tinyint" in found.message
    assert flags("CREATE TABLE t (id serial PRIMARY KEY);", "postgres", "column.prefer-bigint-over-int")


def test_mysql_column_names_compare_in_any_case():
    [found] = findings("CREATE TABLE t1 (`Name` varchar(10), KEY k (`Name`, `name`));", "mysql",
                       "index.no-duplicate-column")
    assert found.severity == "error" and "lists name more than once" in found.message
    sql = "CREATE TABLE t2 (id bigint PRIMARY KEY, `Body` text);\nCREATE INDEX k2 ON t2 (body);"
    [found] = findings(sql, "mysql", "index.type-no-blob")
    assert found.line == 2
    assert flags("CREATE TABLE t (id bigint PRIMARY KEY, body text, KEY k (`BODY`));", "mysql", "index.type-no-blob")
    assert flags("CREATE INDEX a ON t (`Email`);\nCREATE INDEX b ON t (email);", "mysql", "table.no-duplicate-index")
    assert not flags("CREATE TABLE p (`ID` int, note text NOT NULL, PRIMARY KEY (id));", "mysql", "column.no-null")
    assert flags("CREATE TABLE p (`ID` int, PRIMARY KEY (id));", "mysql", "column.prefer-bigint-over-int")
    # PostgreSQL keeps a quoted name's case.
    assert not flags('CREATE INDEX i ON t ("a", "A");', "postgres", "index.no-duplicate-column")
    assert not flags('CREATE INDEX a ON t ("Email");\nCREATE INDEX b ON t (email);', "postgres",
                     "table.no-duplicate-index")


@pytest.mark.parametrize("sql", [
    "ALTER TABLE t ADD CONSTRAINT u UNIQUE (a, a);", "ALTER TABLE t ADD PRIMARY KEY (b, b);",
    "CREATE TABLE t2 (a int, PRIMARY KEY (a, a));", "CREATE TABLE t3 (a int, CONSTRAINT u3 UNIQUE (a, a));",
])
def test_duplicate_column_in_a_postgres_constraint_is_rejected(sql):
    # PostgreSQL: ERROR: column "a" appears twice in unique (primary key) constraint.
    [found] = findings(sql, "postgres", "index.no-duplicate-column")
    assert found.severity == "warning"  # the catalogue's severity; the message says what happens
    assert "PostgreSQL rejects the statement" in found.message


def test_duplicate_column_in_a_postgres_create_index_is_accepted():
    for sql in ("CREATE INDEX i ON t (a, a);", "CREATE UNIQUE INDEX u ON t (a, a);"):
        [found] = findings(sql, "postgres", "index.no-duplicate-column")
        assert "rejects" not in found.message


@pytest.mark.parametrize(("second", "dialect", "count"), [
    ("CREATE INDEX b ON t (x DESC NULLS LAST, y);", "postgres", 0),  # serves ORDER BY x DESC NULLS LAST, y
    ("CREATE INDEX b ON t (x NULLS FIRST, y);", "postgres", 0),
    ("CREATE INDEX b ON t (x, y DESC);", "postgres", 0),
    ("CREATE INDEX b ON t (x ASC NULLS LAST, y);", "postgres", 1),  # the default, written out
    ("CREATE INDEX b ON t (x DESC, y);", "mysql", 0),
    ("CREATE INDEX b ON t (x ASC, y);", "mysql", 1),
    ("CREATE INDEX b ON t (x DESC, y);", "sqlite", 0),
])
def test_duplicate_index_compares_sort_orders(second, dialect, count):
    sql = f"CREATE INDEX a ON t (x, y);\n{second}"
    assert len(findings(sql, dialect, "table.no-duplicate-index")) == count


def test_duplicate_index_compares_written_schemas():
    assert not flags("CREATE INDEX e1 ON auth.users (email);\nCREATE INDEX e2 ON public.users (email);", "postgres",
                     "table.no-duplicate-index")
    assert not flags("CREATE INDEX e1 ON db1.users (email);\nCREATE INDEX e2 ON users (email);", "mysql",
                     "table.no-duplicate-index")
    # An unqualified name is PostgreSQL's public table (the usual search_path).
    assert flags("CREATE INDEX e1 ON users (email);\nCREATE INDEX e2 ON public.users (email);", "postgres",
                 "table.no-duplicate-index")
    sql = ("CREATE INDEX e1 ON auth.users (email);\nDROP TABLE public.users;\n"
           "CREATE INDEX e2 ON auth.users (email);")
    assert flags(sql, "postgres", "table.no-duplicate-index")  # dropping public.users keeps auth.users'
    assert not flags(sql.replace("public.", "auth."), "postgres", "table.no-duplicate-index")


def test_duplicate_index_takes_no_method_for_the_default():
    # pg_dump writes USING btree on every index: the duplicate of a key.
    sql = "CREATE TABLE t (z bigint PRIMARY KEY);\nCREATE UNIQUE INDEX t_z ON t USING btree (z);"
    [found] = findings(sql, "postgres", "table.no-duplicate-index")
    assert "duplicates the primary key t_pkey on t(z)" in found.message
    assert not flags(sql.replace("btree", "hash"), "postgres", "table.no-duplicate-index")
    # A covering index is no duplicate of the key (index-only scans); with the same INCLUDE columns, it is.
    covering = "CREATE TABLE t (z bigint PRIMARY KEY);\nCREATE INDEX t_z ON t USING btree (z) INCLUDE (y);"
    assert not flags(covering, "postgres", "table.no-duplicate-index")
    assert flags(covering.replace("z bigint PRIMARY KEY", "z bigint, y int, PRIMARY KEY (z) INCLUDE (y)"), "postgres",
                 "table.no-duplicate-index")


@pytest.mark.parametrize(("sql", "dialect"), [
    ("CREATE INDEX ix1 ON t (q);\nALTER INDEX ix1 RENAME TO ix1_old;\nDROP INDEX ix1_old;\nCREATE INDEX ix1 ON t (q);",
     "postgres"),
    ("CREATE TABLE t (a int, KEY ix (a));\nALTER TABLE t RENAME INDEX ix TO ix_old;\nALTER TABLE t DROP INDEX ix_old;\n"
     "CREATE INDEX ix ON t (a);", "mysql"),
    ("CREATE TABLE t (a int, KEY ix (a));\nALTER TABLE t RENAME KEY ix TO ix_old;\nDROP INDEX ix_old ON t;\n"
     "CREATE INDEX ix ON t (a);", "mysql"),
    ("CREATE INDEX IF NOT EXISTS h1 ON t (w);\nCREATE INDEX IF NOT EXISTS h1 ON t (w);", "postgres"),
    # A rename this rule does not read: the index of the same name is still not its own duplicate.
    ("CREATE INDEX ix1 ON t (q);\nALTER INDEX ix1 SET TABLESPACE fast;\nCREATE INDEX IF NOT EXISTS ix1 ON t (q);",
     "postgres"),
])
def test_duplicate_index_follows_renames_and_never_reports_an_index_as_its_own_duplicate(sql, dialect):
    assert not flags(sql, dialect, "table.no-duplicate-index"), findings(sql, dialect, "table.no-duplicate-index")


def test_duplicate_index_numbers_the_names_postgres_gives_like_postgres():
    sql = "ALTER TABLE t ADD UNIQUE (c);\nALTER TABLE t ADD UNIQUE (c);\nALTER TABLE t ADD UNIQUE (c);"
    messages = [f.message for f in findings(sql, "postgres", "table.no-duplicate-index")]
    assert [m.split(" duplicates")[0] for m in messages] == ["unique index t_c_key1 on t(c)",
                                                              "unique index t_c_key2 on t(c)"]
    dropped = ("ALTER TABLE t ADD UNIQUE (c);\nALTER TABLE t ADD UNIQUE (c);\nALTER TABLE t DROP CONSTRAINT t_c_key1;\n"
               "ALTER TABLE t DROP CONSTRAINT t_c_key;\nALTER TABLE t ADD UNIQUE (c);")
    assert [f.line for f in findings(dropped, "postgres", "table.no-duplicate-index")] == [2]


def test_duplicate_index_names_the_renamed_index():
    sql = "CREATE INDEX ix1 ON t (q);\nALTER INDEX ix1 RENAME TO ix1_old;\nCREATE INDEX ix1 ON t (q);"
    [found] = findings(sql, "postgres", "table.no-duplicate-index")
    assert "index ix1 on t(q) duplicates the index ix1_old on t(q) from line 1" in found.message


@pytest.mark.parametrize(("dialect", "sql", "said", "not_said"), [
    ("mysql", "CREATE TABLE icd (dx_id SERIAL, code varchar(7));",
     "InnoDB uses its NOT NULL unique key (dx_id) as the clustered index instead: declare that key as the PRIMARY KEY",
     "replication"),
    ("mysql", "CREATE TABLE h (id int NOT NULL, x int, UNIQUE KEY uk (id)) ENGINE=InnoDB;",
     "InnoDB uses its NOT NULL unique key uk (id)", "replication"),
    ("mysql", "CREATE TABLE h (`Id` int NOT NULL UNIQUE, x int);", "InnoDB uses its NOT NULL unique key (Id)",
     "replication"),
    # No such key: a nullable one, a prefix one (InnoDB clusters on GEN_CLUST_INDEX), another engine.
    ("mysql", "CREATE TABLE n (id int, UNIQUE KEY uk (id));", "replication and online schema tools need it", "InnoDB"),
    ("mysql", "CREATE TABLE p (c varchar(50) NOT NULL, UNIQUE KEY uk (c(10)));", "replication", "InnoDB"),
    ("mysql", "CREATE TABLE m (id int NOT NULL UNIQUE) ENGINE=MyISAM;", "replication", "InnoDB"),
    ("sqlite", "CREATE TABLE u (a, b);",
     "rows are then identified only by the implicit rowid, which VACUUM may renumber", "replication"),
    ("postgres", "CREATE UNLOGGED TABLE cache (k text, v text);", "duplicate rows cannot be told apart", "replication"),
    ("postgres", "CREATE TABLE events (payload jsonb);", "replication and online schema tools need it", "InnoDB"),
])
def test_require_pk_gives_the_reason_that_holds(dialect, sql, said, not_said):
    [found] = findings(sql, dialect, "table.require-pk")
    assert "has no primary key" in found.message
    assert said in found.message and not_said not in found.message


@pytest.mark.parametrize(("dialect", "sql"), [
    ("postgres", "CREATE TABLE a (x int);\nALTER TABLE a ADD COLUMN id bigserial PRIMARY KEY;"),
    ("mysql", "CREATE TABLE a (x int);\nALTER TABLE a ADD pk int AUTO_INCREMENT PRIMARY KEY FIRST;"),
    ("mysql", "CREATE TABLE c (id int NOT NULL);\nALTER TABLE c ADD CONSTRAINT PRIMARY KEY (id);"),
    ("postgres", 'CREATE TABLE i (id int NOT NULL);\nALTER TABLE i ADD CONSTRAINT "i pk" PRIMARY KEY (id);'),
    ("mysql", "CREATE TABLE d (id int NOT NULL);\nALTER TABLE d MODIFY id int NOT NULL PRIMARY KEY;"),
    ("mysql", "CREATE TABLE d (id int NOT NULL);\nALTER TABLE d CHANGE id d_id int NOT NULL PRIMARY KEY;"),
    ("postgres", "CREATE TABLE k (id int NOT NULL);\nALTER TABLE k ADD PRIMARY KEY USING INDEX k_id;"),  # no tree
    *[(d, "CREATE TABLE tmp_d (x int);\nDROP TABLE tmp_d;") for d in ("postgres", "mysql", "sqlite")],
    ("postgres", "CREATE TABLE public.tmp_d (x int);\nDROP TABLE IF EXISTS other, public.tmp_d CASCADE;"),
    # (osTicket's install script: neither statement has a tree)
    ("mysql", "CREATE TABLE %TABLE_PREFIX%_timezones (x int);\nDROP TABLE IF EXISTS %TABLE_PREFIX%_timezones;"),
])
def test_require_pk_counts_any_later_primary_key_and_drops(dialect, sql):
    assert not flags(sql, dialect, "table.require-pk"), findings(sql, dialect, "table.require-pk")


def test_require_pk_still_reports_what_a_later_statement_does_not_fix():
    # Only a temporary table of that name is dropped; a primary key dropped is not one added.
    assert flags("CREATE TABLE t (x int);\nDROP TEMPORARY TABLE t;", "mysql", "table.require-pk")
    assert flags("CREATE TABLE t (x int);\nALTER TABLE t DROP PRIMARY KEY;", "mysql", "table.require-pk")
    [found] = findings("CREATE TABLE t (x int);\nDROP TABLE t;\nCREATE TABLE t (y int);", "postgres",
                       "table.require-pk")
    assert found.line == 3


def test_require_pk_reviews_a_table_that_inherits():
    # PostgreSQL copies no primary key to a child table (only a partition gets its parent's).
    sql = "CREATE TABLE parent (id bigint PRIMARY KEY, x text);\nCREATE TABLE child (y text) INHERITS (parent);"
    [found] = findings(sql, "postgres", "table.require-pk")
    assert found.line == 2 and "table child has no primary key" in found.message
    assert not flags("CREATE TABLE parent (id bigint PRIMARY KEY, at date) PARTITION BY RANGE (at);\n"
                     "CREATE TABLE part PARTITION OF parent FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');",
                     "postgres", "table.require-pk")


@pytest.mark.parametrize("tail", ["\\unrestrict abc\n", "COPY public.t (id) FROM stdin;\n1\n\\.\n"])
def test_postgres_comment_rules_report_when_the_file_ends_with_psql_lines(tail):
    # pg_dump ends with `\unrestrict …`; a dump with data, with COPY rows: no rule sees them.
    sql = f"SELECT 1;\nCREATE TABLE t (id int PRIMARY KEY);\n{tail}"
    [table] = findings(sql, "postgres", "table.comment")
    [column] = findings(sql, "postgres", "column.comment")
    assert (table.line, table.column, column.line, column.column) == (2, 1, 2, 17)
    assert not flags(f"CREATE TABLE t (id int PRIMARY KEY);\nCOMMENT ON TABLE t IS 'x';\n{tail}", "postgres",
                     "table.comment")


def test_comment_rules_keep_their_findings_on_mysql():
    sql = (f"CREATE TABLE t (\n  id int PRIMARY KEY COMMENT '{'k' * 70}',\n  note text\n) COMMENT='{'x' * 70}';\n"
           "ALTER TABLE t ADD COLUMN n int;")
    where = {(f.rule, f.line, f.column, f.message.split(":")[0]) for f in findings(sql, "mysql")
             if f.rule in ("table.comment", "column.comment")}
    assert where == {("table.comment", 1, 1, "the comment of table t is longer than 64 characters"),
                     ("column.comment", 2, 3, "the comment of column t.id is longer than 64 characters"),
                     ("column.comment", 3, 3, "column t.note has no comment"),
                     ("column.comment", 5, 26, "column t.n has no comment")}


def test_prefer_bigint_flags_an_int_key_added_later_in_postgres():
    dump = ("CREATE TABLE public.l (\n    id integer NOT NULL,\n    name text\n);\n"
            "ALTER TABLE ONLY public.l\n    ADD CONSTRAINT l_pkey PRIMARY KEY (id);\n")
    [found] = findings(dump, "postgres", "column.prefer-bigint-over-int")
    assert (found.line, found.column) == (6, 40)  # the key's column in the ALTER
    assert "key column l.id is int" in found.message
    assert not flags(dump.replace("integer", "bigint"), "postgres", "column.prefer-bigint-over-int")
    assert not flags(dump.replace("(id)", "(id, name)"), "postgres", "column.prefer-bigint-over-int")
    assert not flags("ALTER TABLE l ADD PRIMARY KEY (id);", "postgres", "column.prefer-bigint-over-int")  # type unknown
    # pg_dump's identity column, then its key: one finding, at the identity.
    identity = ('CREATE TABLE "Q" (\n    "Id" smallint NOT NULL\n);\n'
                'ALTER TABLE "Q" ALTER COLUMN "Id" ADD GENERATED BY DEFAULT AS IDENTITY (\n'
                '    SEQUENCE NAME "Q_Id_seq"\n);\nALTER TABLE ONLY "Q" ADD CONSTRAINT "Q_pkey" PRIMARY KEY ("Id");\n')
    [found] = findings(identity, "postgres", "column.prefer-bigint-over-int")
    assert (found.line, found.column) == (4, 30) and "key column Q.Id is smallint" in found.message
    # Flagged where it is defined already: not again.
    assert len(findings("CREATE TABLE n (id serial NOT NULL);\nALTER TABLE n ADD PRIMARY KEY (id);", "postgres",
                        "column.prefer-bigint-over-int")) == 1
    # Defined again, as no key: the later key is flagged.
    again = ("CREATE TABLE n (id serial PRIMARY KEY);\nDROP TABLE n;\nCREATE TABLE n (id int NOT NULL);\n"
             "ALTER TABLE n ADD PRIMARY KEY (id);")
    assert [f.line for f in findings(again, "postgres", "column.prefer-bigint-over-int")] == [1, 4]


def test_prefer_bigint_advises_the_identity_column_in_postgres():
    # Not bigserial: column.prefer-identity would then ask for the identity column.
    [found] = findings("CREATE TABLE t (id serial PRIMARY KEY);", "postgres", "column.prefer-bigint-over-int")
    assert found.message.endswith("use bigint GENERATED ALWAYS AS IDENTITY") and "bigserial" not in found.message
    assert not flags("CREATE TABLE t (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY);", "postgres",
                     "column.prefer-identity")


@pytest.mark.parametrize(("rule", "dialect", "key", "where"), [
    ("index.type-no-blob", "mysql", "KEY k (body)", (4, 7)),
    ("index.no-duplicate-column", "mysql", "KEY k (a, a)", (4, 7)),
    ("index.no-duplicate-column", "postgres", "CONSTRAINT u UNIQUE (a, a)", (4, 14)),
    ("index.key-number-limit", "mysql", "KEY k (a, b, c, d, e, f)", (4, 7)),
    ("index.key-number-limit", "postgres", "UNIQUE (a, b, c, d, e, f)", (4, 11)),
    ("table.no-duplicate-index", "mysql", "UNIQUE KEY k (id)", (4, 14)),
    ("table.no-duplicate-index", "postgres", "UNIQUE (id)", (4, 11)),
])
def test_index_findings_point_at_their_key(rule, dialect, key, where):
    # In a CREATE TABLE of many lines, a finding about one key is on that key's line (at its name, or
    # else its first column), not at the statement's first line.
    sql = f"CREATE TABLE t (\n  id bigint PRIMARY KEY,\n  body text,\n  {key}\n);"
    [found] = findings(sql, dialect, rule)
    assert (found.line, found.column) == where


def test_a_message_quotes_enum_values_as_written():
    [found] = findings("CREATE TABLE t (id bigint PRIMARY KEY, m ENUM('NONE', 'AUTO', 'SSL'));", "mysql",
                       "column.type-disallow-list")
    assert "enum('NONE', 'AUTO', 'SSL')" in found.message


def test_a_backquoted_prefix_index_column_is_its_name():
    sql = "CREATE TABLE items (id bigint PRIMARY KEY, b text);\nCREATE INDEX a ON items (b(10));\n" \
          "CREATE INDEX c ON items (`b`(10));\n"
    [found] = findings(sql, "mysql", "table.no-duplicate-index")
    assert "duplicates the index a on items(b)" in found.message


@pytest.mark.parametrize("dialect", ["postgres", "mysql", "sqlite"])
def test_duplicate_index_follows_a_table_renamed_to_another_name(dialect):
    # Django's SQLite rebuilds, one after another: new__t is renamed to t, then a new new__t is created.
    rebuild = ('CREATE TABLE new__t (id integer NOT NULL PRIMARY KEY, a integer NULL);\n'
               'INSERT INTO new__t (id) SELECT id FROM t;\nDROP TABLE t;\nALTER TABLE new__t RENAME TO t;\n')
    assert not flags(rebuild + rebuild, dialect, "table.no-duplicate-index")
    # The keys and indexes went with the table: a duplicate of them under the new name is still one.
    sql = rebuild.replace("a integer NULL)", "a integer NULL, UNIQUE (a))") + "CREATE UNIQUE INDEX t_a ON t (a);"
    [found] = findings(sql, dialect, "table.no-duplicate-index")
    assert found.line == 5 and "on t(a) duplicates the unique" in found.message
