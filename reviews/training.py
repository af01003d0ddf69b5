"""The workload the compiled review engine is trained on (`python -m reviews.build`).

The build compiles the engine twice: first instrumented, then, after this workload has been reviewed
with that first build, with the counts it recorded (GCC's profile-guided optimization: the code the
review runs is laid out together and tuned for the branches it takes; measured on the corpus
benchmark, an eighth off what the review costs on top of parsing). The workload is generated here,
not read from anywhere: migrations in the shapes real projects write (new tables with keys and
indexes, added columns, backfills, constraints added and validated, functions, renames, drops) and
the dumps that pg_dump, mysqldump and SQLite's `.dump` write, in each dialect, plus every rule's
catalogue example, so that the rarer paths are counted too. Deterministic (seeded): two builds of
the same sources are trained alike.
"""

from __future__ import annotations

import random
from collections.abc import Callable

DIALECTS = ("postgres", "mysql", "sqlite")
_TYPES = {
    "postgres": ["bigint", "integer", "text", "varchar(255)", "boolean", "timestamptz", "timestamp", "numeric(12, 2)",
                 "jsonb", "uuid", "date", "smallint", "double precision", "char(2)", "bytea", "serial", "text[]"],
    "mysql": ["bigint", "int(11)", "varchar(255)", "text", "tinyint(1)", "datetime", "timestamp", "decimal(12,2)",
              "json", "char(36)", "date", "smallint", "double", "enum('a','b')", "longtext", "int unsigned", "blob"],
    "sqlite": ["INTEGER", "TEXT", "REAL", "BLOB", "NUMERIC", "VARCHAR(255)", "BOOLEAN", "DATETIME", "BIGINT"],
}


def files(dialect: str) -> list[tuple[str, str]]:
    """(path, text) of the workload's files for one dialect."""
    rng = random.Random(f"sluice-{dialect}")
    found = []
    for i in range(120):
        found.append((f"migrations/{1000 + i}_change.sql", _migration(rng, dialect, i)))
    for i in range(3):
        found.append((f"dumps/schema_{i}.sql", _dump(rng, dialect, i)))
    found.extend(_examples(dialect))
    return found


def _column(rng: random.Random, dialect: str, n: int) -> str:
    kind = rng.choice(_TYPES[dialect])
    extra = rng.choice(["", "", " NOT NULL", " NULL", " DEFAULT 0" if "int" in kind.lower() else " DEFAULT NULL",
                        " NOT NULL DEFAULT ''" if "char" in kind.lower() or "text" in kind.lower() else " UNIQUE"])
    return f"col_{n} {kind}{extra}"


def _create_table(rng: random.Random, dialect: str, name: str, table: str = "") -> str:
    """CREATE TABLE of `table` (by default `name`), its constraints and keys named after `name`."""
    table = table or name
    key = {"postgres": rng.choice(["id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY", "id bigserial PRIMARY KEY",
                                   "id uuid PRIMARY KEY DEFAULT gen_random_uuid()", "id serial PRIMARY KEY"]),
           "mysql": rng.choice(["id bigint unsigned NOT NULL AUTO_INCREMENT", "`id` int(11) NOT NULL AUTO_INCREMENT"]),
           "sqlite": rng.choice(["id INTEGER PRIMARY KEY AUTOINCREMENT", "id INTEGER PRIMARY KEY"])}[dialect]
    parts = [key] + [_column(rng, dialect, n) for n in range(rng.randint(1, 8))]
    if rng.random() < 0.5:
        parts.append(f"owner_id bigint{' unsigned' if dialect == 'mysql' else ''} REFERENCES app_user (id)"
                     if dialect != "mysql" else "owner_id bigint unsigned")
    parts.append(rng.choice(["created_at timestamptz NOT NULL DEFAULT now()" if dialect == "postgres"
                             else "created_at datetime NOT NULL DEFAULT CURRENT_TIMESTAMP", "updated_at date"]))
    if dialect == "mysql":
        parts.append("PRIMARY KEY (`id`)")
        if rng.random() < 0.5:
            parts.append(f"KEY `{name}_owner_id` (`owner_id`)")
            parts.append(f"CONSTRAINT `{name}_owner_fk` FOREIGN KEY (`owner_id`) REFERENCES `app_user` (`id`)")
    elif rng.random() < 0.3:
        parts.append(f"CONSTRAINT {name}_col_check CHECK (col_0 IS NOT NULL)")
    body = ",\n    ".join(parts)
    tail = " ENGINE=InnoDB DEFAULT CHARSET=utf8mb4" if dialect == "mysql" and rng.random() < 0.8 else ""
    exists = "IF NOT EXISTS " if rng.random() < 0.3 else ""
    return f"CREATE TABLE {exists}{table} (\n    {body}\n){tail};"


def _statement(rng: random.Random, dialect: str, i: int, new: str) -> str:
    old = f"app_order_{rng.randint(0, 30)}"
    column = f"note_{i}_{rng.randint(0, 9)}"
    kind = rng.choice(_TYPES[dialect])
    pg, my = dialect == "postgres", dialect == "mysql"
    choices: list[Callable[[], str]] = [
        lambda: _create_table(rng, dialect, new),
        lambda: f"ALTER TABLE {old} ADD COLUMN {column} {kind};",
        lambda: f"ALTER TABLE {old} ADD COLUMN {column} {kind} NOT NULL DEFAULT {'0' if 'int' in kind.lower() else repr('x')};",
        lambda: f"CREATE INDEX {new}_{column}_idx ON {new} (col_0);",
        lambda: f"CREATE {'UNIQUE ' if rng.random() < 0.3 else ''}INDEX {old}_{column}_idx ON {old} (created_at);",
        lambda: f"INSERT INTO {new} (col_0, col_1) VALUES ({i}, 'item {i}'), ({i + 1}, 'other');",
        lambda: f"UPDATE {old} SET status = 'done' WHERE id < {i * 100};",
        lambda: f"UPDATE {old} SET status = 'done';",
        lambda: f"DELETE FROM {old} WHERE created_at < '2020-01-01';",
        lambda: f"DROP TABLE IF EXISTS legacy_{i};",
        lambda: f"ALTER TABLE {old} DROP COLUMN legacy_{i};",
        lambda: f"ALTER TABLE {old} RENAME COLUMN a_{i} TO b_{i};",
        lambda: f"ALTER TABLE {old} RENAME TO {old}_v{i};",
        lambda: f"SELECT count(*) FROM {old} WHERE name LIKE '%x';",
    ]
    if pg:
        choices += [
            lambda: f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {old}_{column}_idx ON {old} (lower(name));",
            lambda: f"ALTER TABLE {old} ALTER COLUMN {column} SET NOT NULL;",
            lambda: f"ALTER TABLE {old} ALTER COLUMN {column} TYPE {kind} USING {column}::{kind};",
            lambda: f"ALTER TABLE {old} ADD CONSTRAINT {old}_fk_{i} FOREIGN KEY (owner_id) REFERENCES app_user (id) NOT VALID;",
            lambda: f"ALTER TABLE {old} VALIDATE CONSTRAINT {old}_fk_{i};",
            lambda: f"ALTER TABLE ONLY {old} ADD CONSTRAINT {old}_pkey PRIMARY KEY (id);",
            lambda: f"COMMENT ON COLUMN {old}.{column} IS 'note {i}';",
            lambda: f"GRANT SELECT ON {old} TO reporting;",
            lambda: "SET lock_timeout = '5s';",
            lambda: "SET statement_timeout = 0;",
            lambda: f"CREATE OR REPLACE FUNCTION touch_{i}() RETURNS trigger LANGUAGE plpgsql AS $$\nBEGIN\n"
                    f"    NEW.updated_at := now();\n    RETURN NEW;\nEND;\n$$;",
            lambda: f"CREATE TRIGGER touch_{i} BEFORE UPDATE ON {old} FOR EACH ROW EXECUTE FUNCTION touch_{i}();",
            lambda: "CREATE EXTENSION IF NOT EXISTS pg_trgm;",
            lambda: f"DROP INDEX CONCURRENTLY IF EXISTS {old}_old_idx;",
            lambda: f"CREATE TYPE mood_{i} AS ENUM ('sad', 'ok', 'happy');",
            lambda: f"ALTER TYPE mood_{i} ADD VALUE 'great';",
            lambda: f"CREATE SEQUENCE seq_{i} START 1;",
            lambda: f"CREATE VIEW v_{i} AS SELECT id, name FROM {old} WHERE deleted_at IS NULL;",
            lambda: f"REINDEX INDEX {old}_idx;",
            lambda: f"VACUUM ANALYZE {old};",
        ]
    elif my:
        choices += [
            lambda: f"ALTER TABLE `{old}` ADD INDEX `idx_{column}` (`{column}`), ALGORITHM=INPLACE, LOCK=NONE;",
            lambda: f"ALTER TABLE {old} MODIFY COLUMN {column} {kind} NOT NULL;",
            lambda: f"ALTER TABLE {old} CHANGE COLUMN a_{i} b_{i} varchar(64) DEFAULT NULL;",
            lambda: f"ALTER TABLE {old} ADD CONSTRAINT fk_{i} FOREIGN KEY (owner_id) REFERENCES app_user (id);",
            lambda: f"ALTER TABLE {old} ENGINE=InnoDB;",
            lambda: f"ALTER TABLE {old} CONVERT TO CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;",
            lambda: "SET FOREIGN_KEY_CHECKS = 0;",
            lambda: f"RENAME TABLE {old} TO {old}_old, {new} TO {old};",
            lambda: f"REPLACE INTO settings (name, value) VALUES ('k{i}', 'v');",
            lambda: f"CREATE TRIGGER trg_{i} BEFORE INSERT ON {old} FOR EACH ROW SET NEW.created_at = NOW();",
            lambda: f"OPTIMIZE TABLE {old};",
        ]
    else:
        choices += [
            lambda: f"CREATE TABLE {new}_new (id INTEGER PRIMARY KEY, name TEXT NOT NULL);",
            lambda: f"INSERT INTO {new}_new (id, name) SELECT id, name FROM {old};",
            lambda: "PRAGMA foreign_keys = OFF;",
            lambda: "PRAGMA foreign_keys = ON;",
            lambda: f"CREATE TRIGGER trg_{i} AFTER INSERT ON {old} BEGIN UPDATE {old} SET n = n + 1; END;",
            lambda: "VACUUM;",
        ]
    return rng.choice(choices)()


def _migration(rng: random.Random, dialect: str, i: int) -> str:
    out = [f"-- migration {i}\n"]
    transaction = dialect != "mysql" and rng.random() < 0.3
    if transaction:
        out.append("BEGIN;\n")
    for n in range(rng.choice([1, 1, 2, 3, 4, 6, 9])):
        out.append(_statement(rng, dialect, i, f"app_item_{i}_{n}") + "\n")
    if transaction:
        out.append("COMMIT;\n")
    if i % 17 == 5:
        out.insert(1, "-- sluice:ignore table.require-pk\n")
    return "".join(out)


def _dump(rng: random.Random, dialect: str, i: int) -> str:
    out = []
    if dialect == "postgres":
        out += ["SET statement_timeout = 0;\n", "SET client_encoding = 'UTF8';\n",
                "SELECT pg_catalog.set_config('search_path', '', false);\n"]
        for t in range(25):
            table = f"public.dump_{i}_{t}"
            out.append(_create_table(rng, dialect, f"dump_{i}_{t}", table) + "\n")
            out.append(f"ALTER TABLE {table} OWNER TO app;\n")
            out.append(f"CREATE SEQUENCE {table}_id_seq START WITH 1 INCREMENT BY 1 NO MINVALUE NO MAXVALUE CACHE 1;\n")
            out.append(f"ALTER SEQUENCE {table}_id_seq OWNED BY {table}.id;\n")
            out.append(f"COPY {table} (id, col_0) FROM stdin;\n1\tone\n2\ttwo\n\\.\n")
            out.append(f"SELECT pg_catalog.setval('{table}_id_seq', 2, true);\n")
            out.append(f"ALTER TABLE ONLY {table} ADD CONSTRAINT dump_{i}_{t}_pkey PRIMARY KEY (id);\n")
            out.append(f"CREATE INDEX dump_{i}_{t}_idx ON {table} USING btree (created_at);\n")
    elif dialect == "mysql":
        out += ["/*!40101 SET @OLD_CHARACTER_SET_CLIENT=@@CHARACTER_SET_CLIENT */;\n", "/*!40101 SET NAMES utf8mb4 */;\n"]
        for t in range(25):
            table = f"`dump_{i}_{t}`"
            out.append(f"DROP TABLE IF EXISTS {table};\n")
            out.append("/*!40101 SET @saved_cs_client     = @@character_set_client */;\n")
            out.append(_create_table(rng, dialect, f"dump_{i}_{t}", table) + "\n")
            out.append(f"LOCK TABLES {table} WRITE;\n/*!40000 ALTER TABLE {table} DISABLE KEYS */;\n")
            rows = ",".join(f"({n},'row {n}',NULL,'2020-01-01 00:00:00')" for n in range(rng.randint(1, 40)))
            out.append(f"INSERT INTO {table} VALUES {rows};\n")
            out.append(f"/*!40000 ALTER TABLE {table} ENABLE KEYS */;\nUNLOCK TABLES;\n")
    else:
        out.append("PRAGMA foreign_keys=OFF;\nBEGIN TRANSACTION;\n")
        for t in range(25):
            table = f"dump_{i}_{t}"
            out.append(_create_table(rng, dialect, table) + "\n")
            out.append(f"INSERT INTO {table} VALUES(1,'one');\nINSERT INTO {table} VALUES(2,'two');\n")
            out.append(f"CREATE INDEX {table}_idx ON {table} (col_0);\n")
        out.append("COMMIT;\n")
    return "".join(out)


def _examples(dialect: str) -> list[tuple[str, str]]:
    """Every rule's catalogue example for this dialect, each in a file of its own."""
    from reviews.engine import RULES

    return [(f"examples/{rule.id}.sql", rule.example if rule.example.rstrip().endswith(";") else rule.example + ";\n")
            for rule in RULES.values() if rule.example and dialect in rule.engines]


def run() -> int:
    """Review the workload with every rule and with `recommended`, in each dialect: the files reviewed."""
    from reviews.engine import Policy, review_file

    reviewed = 0
    for dialect in DIALECTS:
        workload = files(dialect)
        for policy in (Policy.everything(), Policy.recommended()):
            for path, text in workload:
                review_file(path, text, dialect, policy)
                reviewed += 1
    return reviewed
