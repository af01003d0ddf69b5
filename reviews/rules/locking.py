"""Locking, rewrites and validation scans (catalogue §1.3): what blocks traffic on an existing table.

Most of these statements reach the rules as sqlglot `Command`s (VALIDATE CONSTRAINT, ADD CHECK,
USING INDEX, DETACH PARTITION, REINDEX, VACUUM, ALTER TYPE/DOMAIN), or as trees that lose the
detail that matters (`now()` becomes CURRENT_TIMESTAMP, `serial` becomes identity, PostgreSQL's
STORED is dropped). So the rules read the statement's text, with comments and strings removed
(`flat`), and split an `ALTER TABLE` into its actions themselves. Tables created earlier in the
file are new (§0): nothing here fires on them.

The small readers at the top (`flat`, `alter_table`, `added_columns`, `create_index`) are also used
by reviews/rules/transactions.py.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Iterator
from typing import Any

from sqlglot import exp

# The engine's own flattening, so that `flat` and `st.norm` remove the same things.
from reviews.engine.model import (
    BOUNDED_STATEMENTS,
    CONCURRENTLY,
    FileContext,
    Stmt,
    flatten,
    name_of,
    per_statement,
    starts_with_words,
    table_key,
)
from reviews.engine.registry import Hit, rule, tracker
from reviews.rules.common import TRANSACTION_CONTROL, leading_words_at, paren_group, split_top
from reviews.rules.design import index_defs

# -- reading statements ---------------------------------------------------------------------------

_PART = r'(?:"[^"]*"|`[^`]*`|[^\s"`(),;.:]+)'
NAME = rf"{_PART}(?:\.{_PART})*"  # a possibly qualified, possibly quoted name


def flat(st: Stmt, ctx: FileContext) -> str:
    """`st.norm` without the upper-casing: comments removed, string literals blanked to `''`,
    whitespace folded, names in their own case (for messages). Match it with re.IGNORECASE. The
    engine gives it with the statement (it is what st.norm is made from)."""
    return st.flat or flatten(st.text, ctx.dialect)


def key(name: str) -> str:
    """A name as ctx.is_new and the memo sets compare it: quotes removed, lower-cased."""
    if '"' in name or "`" in name:
        name = name.replace('"', "").replace("`", "")
    return name.lower()


# PostgreSQL's system catalogs (the tables of pg_catalog, version 15), which an unqualified name finds first.
_CATALOGS = frozenset("""
    aggregate am amop amproc attrdef attribute auth_members authid cast class collation constraint conversion
    database db_role_setting default_acl depend description enum event_trigger extension foreign_data_wrapper
    foreign_server foreign_table index inherits init_privs language largeobject largeobject_metadata namespace
    opclass operator opfamily parameter_acl partitioned_table policy proc publication publication_namespace
    publication_rel range replication_origin rewrite seclabel sequence shdepend shdescription shseclabel
    statistic statistic_ext statistic_ext_data subscription subscription_rel tablespace transform trigger
    ts_config ts_config_map ts_dict ts_parser ts_template type user_mapping""".split())
_CATALOG_WORDS = frozenset(c.split("_", 1)[0] for c in _CATALOGS)  # the first word of their indexes' names


def system_catalog(name: str) -> bool:
    """Whether a table or index name is a PostgreSQL system catalog's (or its TOAST table's, or one of
    their indexes): which no CONCURRENTLY rebuild and no pg_repack can take."""
    schema, _, bare_name = key(name).rpartition(".")
    if schema.rsplit(".", 1)[-1] in ("pg_catalog", "pg_toast"):
        return True
    if schema or not bare_name.startswith("pg_"):
        return False
    return bare_name[3:] in _CATALOGS or bare_name.startswith("pg_toast_") or (
        bare_name.endswith("_index") and bare_name[3:].split("_", 1)[0] in _CATALOG_WORDS)




@dataclasses.dataclass(slots=True)
class AlterTable:
    table: str  # as written
    key: str  # for ctx.is_new
    rest: str  # flat text of the actions, as one string
    _actions: list[str] | None = None

    @property
    def actions(self) -> list[str]:
        """Flat text of each action, e.g. "ADD CONSTRAINT fk FOREIGN KEY (a) REFERENCES b (id)". Cut on
        first use: most readers of an ALTER TABLE want only its table (statement.merge-alter-table).
        (Not functools.cached_property: it takes a lock on every first read.)"""
        if self._actions is None:
            self._actions = split_top(self.rest)
        return self._actions


_ALTER_TABLE = re.compile(rf"^ALTER (?:ONLINE |IGNORE )*TABLE (?:IF EXISTS )?(?:ONLY )?({NAME})(?: ?\*)?(?: (.*))?$",
                          re.I | re.S)


_ALTER_TABLE_STARTS = ("ALTER TABLE", "ALTER ONLINE TABLE", "ALTER IGNORE TABLE")


def alter_table(st: Stmt, ctx: FileContext) -> AlterTable | None:
    """The statement's ALTER TABLE (read once per statement: several rules ask). Read-only."""
    # (A prefix test first: ALTER SEQUENCE, INDEX, TYPE … are answered without the statement's memo.)
    if not st.norm.startswith(_ALTER_TABLE_STARTS) or st.syntax_error:
        return None
    return _alter_table(st, ctx)


@per_statement
def _alter_table(st: Stmt, ctx: FileContext) -> AlterTable | None:
    if st.starts(*_ALTER_TABLE_STARTS):
        match = _ALTER_TABLE.match(flat(st, ctx))
        if match is not None:
            return AlterTable(match.group(1), key(match.group(1)), match.group(2) or "")
    return None


def located(st: Stmt, action: str, message: str) -> Hit:
    """A finding about one action of the statement's ALTER TABLE (as `AlterTable.actions` has it), at
    that action: its leading six words found in the text (common.leading_words_at)."""
    return Hit(message, **leading_words_at(st, action, 6))


def existing_alter(st: Stmt, ctx: FileContext) -> AlterTable | None:
    """The ALTER TABLE of a table not created earlier in the file (§0: only those are locked)."""
    alter = alter_table(st, ctx)
    return alter if alter is not None and not ctx.is_new(alter.key) else None


# The gate of the rules that read nothing but `alter_table`/`existing_alter`: both need st.norm to
# start with "ALTER " (so the first word is ALTER). Such a rule's `contains` words are those the
# action it reports (or learns from) must hold: its regexes match `flat`, which holds the same
# words as st.norm outside comments and strings. (One gap, on purpose: a regex with re.I also
# takes the look-alikes U+0130 "İ" for I and U+212A "K" for K, which upper() keeps; no engine
# reads such a word as the keyword.)
_ALTER = ("ALTER",)


_CONSTRAINT_WORDS = r"(?:FOREIGN|CHECK|UNIQUE|PRIMARY|EXCLUDE)\b"
_ADD_CONSTRAINT = re.compile(
    rf"^ADD (?:CONSTRAINT (?!{_CONSTRAINT_WORDS})({NAME}) |CONSTRAINT )?(FOREIGN KEY|CHECK|UNIQUE|PRIMARY KEY|EXCLUDE)\b"
    r" ?(.*)$", re.I | re.S)
_ADD_COLUMN = re.compile(
    rf"^ADD (?:COLUMN (?:IF NOT EXISTS )?({NAME})|(?:IF NOT EXISTS )?(?!(?:CONSTRAINT|INDEX|KEY|FULLTEXT|SPATIAL|"
    r"PARTITION|PERIOD|SYSTEM|FOREIGN|CHECK|UNIQUE|PRIMARY|EXCLUDE)\b)"
    rf"({NAME})) (.+)$", re.I | re.S)
_ADD_COLUMNS_LIST = re.compile(r"^ADD (?:COLUMN )?\((.*)\)$", re.I | re.S)


@dataclasses.dataclass
class AddedConstraint:
    name: str | None  # as written
    kind: str  # FOREIGN KEY, CHECK, UNIQUE, PRIMARY KEY, EXCLUDE (upper-case)
    rest: str  # what follows the kind
    not_valid: bool

    @property
    def label(self) -> str:
        return f"{self.kind} constraint {self.name}" if self.name else f"{self.kind} constraint"


_LEADING_INDEX_NAME = re.compile(rf"^(?:(?:INDEX|KEY) )?(?!(?:USING|INDEX|KEY)\b)({NAME}) ?\(", re.I)
_NOT_VALID = re.compile(r"\bNOT VALID\b", re.I)


@functools.lru_cache(maxsize=1024)
def added_constraint(action: str) -> AddedConstraint | None:
    """Cached: several rules read each action (the result is shared: do not change it)."""
    match = _ADD_CONSTRAINT.match(action)
    if match is None:
        return None
    kind, name = " ".join(match.group(2).upper().split()), match.group(1)
    if name is None and (named := _LEADING_INDEX_NAME.match(match.group(3))):
        name = named.group(1)  # MySQL: ADD UNIQUE [INDEX|KEY] name (…)
    return AddedConstraint(name, kind, match.group(3), bool(_NOT_VALID.search(action)))


@functools.lru_cache(maxsize=1024)
def added_columns(action: str) -> list[tuple[str, str]]:
    """(column name as written, its definition after the name) of an ADD [COLUMN] action; MySQL's
    `ADD (a int, b int)` gives several. Cached: the list is shared, do not change it."""
    if (listed := _ADD_COLUMNS_LIST.match(action)) is not None:
        found = []
        for part in split_top(listed.group(1)):
            name, _, definition = part.partition(" ")
            found.append((name, definition))
        return found
    match = _ADD_COLUMN.match(action)
    if match is None:
        return []
    return [(match.group(1) or match.group(2), match.group(3))]


@dataclasses.dataclass
class CreateIndex:
    name: str | None
    table: str
    key: str
    unique: bool
    concurrently: bool
    only: bool


_CREATE_INDEX = re.compile(
    rf"^CREATE (UNIQUE )?INDEX (CONCURRENTLY )?(?:IF NOT EXISTS )?(?:({NAME}) )?ON (ONLY )?({NAME})", re.I)


_CREATE_INDEX_STARTS = ("CREATE INDEX", "CREATE UNIQUE INDEX")


def create_index(st: Stmt, ctx: FileContext) -> CreateIndex | None:
    # (One prefix test first: most statements, CREATE TABLE among them, fail it.)
    if not st.norm.startswith(_CREATE_INDEX_STARTS) or st.syntax_error or not st.starts(*_CREATE_INDEX_STARTS):
        return None
    return _create_index(st, ctx)


@per_statement
def _create_index(st: Stmt, ctx: FileContext) -> CreateIndex | None:
    match = _CREATE_INDEX.match(flat(st, ctx))
    if match is None:
        return None
    unique, concurrently, name, only, table = match.groups()
    return CreateIndex(name, table, key(table), bool(unique), bool(concurrently), bool(only))


@dataclasses.dataclass
class _Facts:
    """What earlier statements of the file created, beyond ctx.created_tables: index and type names."""

    indexes: set[str] = dataclasses.field(default_factory=set)
    types: set[str] = dataclasses.field(default_factory=set)


_CREATE_TYPE = re.compile(rf"^CREATE (?:TYPE|DOMAIN) ({NAME})", re.I)


def facts(st: Stmt, ctx: FileContext) -> _Facts:
    """The index and type names the statements before `st` created (recorded by _record_created)."""
    known = ctx.memo.get("locking.facts")
    if known is None:  # (not setdefault: that would build a _Facts on every call)
        known = ctx.memo["locking.facts"] = _Facts()
    return known


@tracker(engines="P", keywords=("CREATE",))
def _record_created(st: Stmt, ctx: FileContext) -> None:
    if st.syntax_error:
        return
    if (index := create_index(st, ctx)) is not None and index.name:
        facts(st, ctx).indexes.add(key(index.name))
    elif st.starts("CREATE TYPE", "CREATE DOMAIN") and (match := _CREATE_TYPE.match(flat(st, ctx))):
        facts(st, ctx).types.add(key(match.group(1)))


_DETACH_CONCURRENTLY = re.compile(r"DETACH PARTITION\b.*\bCONCURRENTLY\b", re.I)
_VALIDATE_CONSTRAINT = re.compile(r"VALIDATE CONSTRAINT\b", re.I)


# The first words of the statements existing_target can answer for (ALTER TABLE, CREATE INDEX and
# TRIGGER, DROP INDEX and TRIGGER, REINDEX, LOCK, VACUUM, CLUSTER: each found by a prefix ending in a
# space or "(").
TARGET_WORDS = ("ALTER", "CREATE", "DROP", "REINDEX", "LOCK", "VACUUM", "CLUSTER")


def existing_target(st: Stmt, ctx: FileContext) -> str | None:
    """What the statement is and touches ("ALTER TABLE on existing table t") when it takes a lock
    that blocks reads or writes of an existing table (for DROP/REINDEX INDEX: of an index not
    created in this file; for a new table's foreign key: of the table it references; for DROP VIEW:
    of the view): the DDL that
    should run under a lock_timeout. CONCURRENTLY forms and VALIDATE CONSTRAINT take locks that do
    not block ordinary traffic, and are left out."""
    if st.syntax_error or not st.norm.startswith(TARGET_WORDS):
        return None
    return _existing_target(st, ctx)


_CREATE_TABLE_STARTS = ("CREATE TABLE", "CREATE UNLOGGED TABLE")
_REFERENCING_STARTS = (*_CREATE_TABLE_STARTS, "ALTER TABLE")
# The other statements _existing_target reads (a loose prefix test: the branches use st.starts).
_OTHER_TARGETS = ("DROP INDEX", "REINDEX", "LOCK", "VACUUM", "CLUSTER", "CREATE TRIGGER", "CREATE OR REPLACE TRIGGER",
                  "CREATE CONSTRAINT TRIGGER", "DROP TRIGGER", "DROP TABLE", "DROP VIEW", "DROP MATERIALIZED VIEW")


@per_statement
def _existing_target(st: Stmt, ctx: FileContext) -> str | None:
    if (alter := existing_alter(st, ctx)) is not None:
        # (The actions are cut only when one may be VALIDATE … or DETACH …: flat's words are st.norm's;
        # "VAL", not "VALIDATE": re.I also reads the look-alike İ, which upper() keeps, as an I.)
        norm = st.norm
        if "VAL" in norm and alter.actions and all(_VALIDATE_CONSTRAINT.match(a) for a in alter.actions):
            return None
        if "DETACH" in norm and any(_DETACH_CONCURRENTLY.match(a) for a in alter.actions):
            return None
        return f"ALTER TABLE on existing table {alter.table}"
    if (index := create_index(st, ctx)) is not None:
        if index.concurrently or ctx.is_new(index.key):
            return None
        return f"CREATE INDEX on existing table {index.table}"
    norm = st.norm  # (the prefix tests before the searches of a text that may be long: a routine's body)
    if norm.startswith(_CREATE_TABLE_STARTS) and "PARTITION OF" in norm and st.starts(*_CREATE_TABLE_STARTS):
        # A new partition locks its parent ACCESS EXCLUSIVE (PostgreSQL 15: reads and writes wait).
        parent = _PARTITION_OF.search(flat(st, ctx))
        if parent is not None and not ctx.is_new(key(parent.group(1))):
            return f"CREATE TABLE … PARTITION OF existing table {parent.group(1)}"
    if norm.startswith(_REFERENCING_STARTS) and "REFERENCES" in norm and st.starts(*_REFERENCING_STARTS):
        # A new table's foreign key locks the existing table it references too (SHARE ROW EXCLUSIVE:
        # its writes wait). (An existing table's ALTER was answered above.)
        text = flat(st, ctx)
        own = _OWN_TABLE.match(text)
        own_key = table_key(own.group(1)) if own else None
        names: list[str] | None = [n for n in dict.fromkeys(_REFERENCED.findall(text))
                                   if table_key(n) != own_key and not ctx.is_new(key(n))]
        if names:
            return (f"{'CREATE' if st.starts('CREATE') else 'ALTER'} TABLE with a FOREIGN KEY to existing table "
                    f"{', '.join(names)}")
        return None
    if not st.norm.startswith(_OTHER_TARGETS):
        return None  # before `flat`: most statements are none of these, and some are long
    text = flat(st, ctx)
    if st.starts("DROP INDEX", "REINDEX"):
        if CONCURRENTLY.search(st.norm):
            return None
        names = targets(text, r"^(?:DROP INDEX (?:IF EXISTS )?|REINDEX (?:\([^)]*\) ?)?(?:INDEX|TABLE) )")
        known = facts(st, ctx).indexes
        if not names or all(ctx.is_new(key(n)) or key(n).rsplit(".", 1)[-1] in known for n in names):
            return None
        return f"{'DROP INDEX' if st.starts('DROP') else 'REINDEX'} {', '.join(names)}"
    # (TRUNCATE is left to the destructive rules: it must not run on a table in use at all.) A DROP TABLE
    # also locks ACCESS EXCLUSIVE the tables its foreign keys reference (PostgreSQL 15: a SELECT on the
    # parent waits), which are still in use.
    if st.starts("DROP TABLE"):
        verb, names = "DROP TABLE", targets(text, r"^DROP TABLE (?:IF EXISTS )?")
        if not names:
            return None
    elif st.starts("DROP VIEW", "DROP MATERIALIZED VIEW"):
        # ACCESS EXCLUSIVE on the view: queued behind one long reader, it stops every later query of the
        # view (PostgreSQL 15) as a table's would.
        verb = "DROP MATERIALIZED VIEW" if st.starts("DROP MATERIALIZED") else "DROP VIEW"
        names = [n for n in targets(text, r"^DROP (?:MATERIALIZED )?VIEW (?:IF EXISTS )?")
                 if not ctx.is_new(key(n)) and not _view_created(ctx, st.index, n)]
        return f"{verb} on existing view {', '.join(names)}" if names else None
    elif st.starts("LOCK"):
        verb, names = "LOCK TABLE", targets(text, r"^LOCK (?:TABLE )?(?:ONLY )?")
    elif st.starts("VACUUM"):
        verb, names = "VACUUM FULL", vacuum_full_targets(text)
        if names is None:
            return None
    elif st.starts("CLUSTER"):
        verb, names = "CLUSTER", cluster_targets(text)
    elif st.starts("CREATE TRIGGER", "CREATE OR REPLACE TRIGGER", "CREATE CONSTRAINT TRIGGER"):
        verb, names = "CREATE TRIGGER", targets(text, r"^.*? ON ")
    elif st.starts("DROP TRIGGER"):
        # PostgreSQL's DROP TRIGGER … ON t takes an ACCESS EXCLUSIVE lock on t (stronger than CREATE
        # TRIGGER's); MySQL's names no table.
        verb, names = "DROP TRIGGER", targets(text, r"^DROP TRIGGER .*? ON ")
        if not names:
            return None
    else:
        return None
    if names and all(ctx.is_new(key(n)) for n in names):
        return None
    return f"{verb} on existing table {', '.join(names)}" if names else f"{verb} of every table"


_CREATE_VIEW = re.compile(rf"^CREATE (?:OR REPLACE )?(?:(?:TEMP|TEMPORARY) )?(?:RECURSIVE )?VIEW ({NAME})", re.I)


_VIEWS_CREATED = "locking.views-created"


def _view_created(ctx: FileContext, index: int, name: str) -> bool:
    """Whether a statement of the file before `index` created the view (the file model knows tables and
    materialized views). The file's CREATE VIEWs are read once, at its first DROP VIEW: view (as is_new
    compares: `public.v` is `v`) → the first statement that creates it."""
    created = ctx.memo.get(_VIEWS_CREATED)
    if created is None:
        created = ctx.memo[_VIEWS_CREATED] = {}
        for earlier in range(len(ctx.statements)):
            if match := _CREATE_VIEW.match(ctx.flat_of(earlier)):
                created.setdefault(table_key(match.group(1)), earlier)
    return created.get(table_key(name), index) < index


_OWN_TABLE = re.compile(rf"^(?:CREATE (?:UNLOGGED )?TABLE (?:IF NOT EXISTS )?|ALTER TABLE (?:IF EXISTS )?(?:ONLY )?)"
                        rf"({NAME})", re.I)
_REFERENCED = re.compile(rf"\bREFERENCES ({NAME})", re.I)
_PARTITION_OF = re.compile(rf"\bPARTITION OF ({NAME})", re.I)
_TARGETS: dict[str, re.Pattern] = {}


def targets(text: str, prefix: str) -> list[str]:
    """The comma-separated names (as written) right after a prefix."""
    pattern = _TARGETS.get(prefix)
    if pattern is None:
        pattern = _TARGETS[prefix] = re.compile(prefix + rf"({NAME}(?: ?, ?{NAME})*)", re.I)
    match = pattern.match(text)
    return [n.strip() for n in match.group(1).split(",")] if match else []


@dataclasses.dataclass
class Write:
    verb: str  # UPDATE, DELETE, INSERT, REPLACE, MERGE, COPY
    written: Any  # the table as written, or (behind a WITH) its tree node, rendered on first read
    key: str
    from_query: bool  # INSERT … SELECT / COPY, not literal VALUES rows

    @property
    def table(self) -> str:
        """The table as written (for messages: most writes are never reported, and rendering one
        costs a generator and a copy of the node)."""
        if not isinstance(self.written, str):
            self.written = self.written.sql()
        return self.written


_WRITE = re.compile(
    rf"^(?:(UPDATE) (?:LOW_PRIORITY |IGNORE |ONLY |OR (?:ROLLBACK|ABORT|REPLACE|FAIL|IGNORE) )*({NAME})|(DELETE) (?:LOW_PRIORITY |QUICK |IGNORE )*FROM (?:ONLY )?"
    rf"({NAME})|(INSERT|REPLACE) (?:LOW_PRIORITY |DELAYED |HIGH_PRIORITY |IGNORE )*INTO ({NAME})|(MERGE) INTO "
    rf"(?:ONLY )?({NAME})|(COPY) ({NAME})(?: ?\([^)]*\))? FROM\b)", re.I | re.S)


# (Both matched where the INSERT's table ends, in place: no copy of the rows that follow, which can be long.)
_INSERT_VALUES = re.compile(r"\s*(?:VALUES|VALUE|DEFAULT VALUES|SET)\b", re.I)
# What may stand between INSERT INTO t and its VALUES: an alias, the column list, OVERRIDING … VALUE.
_BEFORE_SOURCE = re.compile(rf"(?: ?AS {NAME}| ?\([^)]*\)| ?OVERRIDING (?:SYSTEM|USER) VALUE\b)*", re.I)


# dml_write's first words: each verb of _WRITE is followed by a space, and WITH is checked by st.starts.
WRITE_WORDS = ("WITH", "UPDATE", "DELETE", "INSERT", "REPLACE", "MERGE", "COPY")


def dml_write(st: Stmt, ctx: FileContext) -> Write | None:
    """The table an UPDATE/DELETE/INSERT/MERGE/COPY FROM writes to (also behind a WITH)."""
    if st.syntax_error or not st.norm.startswith(WRITE_WORDS):
        return None
    if st.parsed and st.starts("WITH"):
        from sqlglot import exp

        node = st.ast
        if isinstance(node, (exp.Insert, exp.Update, exp.Delete, exp.Merge)):
            table = node.this.this if isinstance(node.this, exp.Schema) else node.this
            if isinstance(table, exp.Table):
                from_query = isinstance(node, exp.Insert) and not isinstance(node.expression, exp.Values)
                return Write(type(node).__name__.upper(), table, name_of(table), from_query)
        return None
    text = flat(st, ctx)
    match = _WRITE.match(text)
    if match is None:
        return None
    groups = [g for g in match.groups() if g is not None]
    verb, table = groups[0].upper(), groups[1]
    if verb in ("INSERT", "REPLACE"):
        source = _BEFORE_SOURCE.match(text, match.end()).end()
        from_query = not _INSERT_VALUES.match(text, source)
    else:
        from_query = verb in ("COPY", "MERGE")
    return Write(verb, table, key(table), from_query)


_VACUUM = re.compile(r"^VACUUM (?:\(([^)]*)\) ?|((?:(?:FULL|FREEZE|VERBOSE|ANALYZE|ANALYSE) )*))(.*)$", re.I | re.S)


_FULL_OPTION = re.compile(r"\bFULL\b(?! (?:FALSE|OFF|0)\b)", re.I)
_FULL_WORD = re.compile(r"\bFULL\b", re.I)


def vacuum_full_targets(text: str) -> list[str] | None:
    """The tables of a VACUUM FULL (empty: the whole database); None when it is not FULL."""
    match = _VACUUM.match(text + " ")
    if match is None:
        return None
    options, words, rest = match.group(1) or "", match.group(2) or "", match.group(3)
    full = _FULL_OPTION.search(options) or _FULL_WORD.search(words)
    if not full:
        return None
    return [part.split(" ")[0] for part in split_top(rest.strip()) if part]


_CLUSTER_TABLE = re.compile(rf"^CLUSTER (?:VERBOSE )?(?:\([^)]*\) )?({NAME})", re.I)


def cluster_targets(text: str) -> list[str]:
    match = _CLUSTER_TABLE.match(text + " ")
    if match is None or match.group(1).upper() in ("USING", "ON"):
        return []
    return [match.group(1)]


# -- indexes --------------------------------------------------------------------------------------


@rule("index.create-concurrently", keywords=('CREATE',), contains=("INDEX",),
      engines="P", category="LOCK", severity="E", nodes=("*",),
      summary="`CREATE [UNIQUE] INDEX` without `CONCURRENTLY` on an existing table. `CREATE INDEX … ON ONLY` "
              "(pg_dump's form for a partitioned parent) is not reported: on a plain table ONLY still builds the "
              "whole index, but the rule cannot tell the two apart from the file.",
      why="A plain CREATE INDEX holds a SHARE lock for the whole build: every INSERT, UPDATE and DELETE on "
          "the table waits until the index is built, minutes to hours on a large table.",
      instead="`CREATE INDEX CONCURRENTLY` in a file of its own, outside a transaction; if the build fails, "
              "drop the INVALID index it leaves and retry.",
      example="CREATE INDEX orders_customer_idx ON orders (customer_id);")
def index_create_concurrently(st: Stmt, ctx: FileContext, payload: dict) -> list[str] | None:
    index = create_index(st, ctx)
    if index is None or index.concurrently or index.only or ctx.is_new(index.key):
        return None
    what = "CREATE UNIQUE INDEX" if index.unique else "CREATE INDEX"
    named = f" {index.name}" if index.name else ""
    return [(f"{what}{named} on existing table {index.table} blocks writes to it for the whole build: use "
             f"{what} CONCURRENTLY outside a transaction (and drop and retry the index if the build leaves it "
             "INVALID)")]


@rule("index.drop-concurrently", prefixes=("DROP INDEX",), engines="P", category="LOCK", severity="W", strict="E", nodes=("*",),
      summary="`DROP INDEX` without `CONCURRENTLY`.",
      why="DROP INDEX takes an ACCESS EXCLUSIVE lock on the index's table: queued behind one long query, it "
          "stops every read and write of the table.",
      instead="`DROP INDEX CONCURRENTLY` (one index per statement, outside a transaction; it does not take "
              "CASCADE: drop the dependent objects first).",
      example="DROP INDEX orders_customer_idx;")
def index_drop_concurrently(st: Stmt, ctx: FileContext, payload: dict) -> list[str] | None:
    if st.syntax_error or not st.starts("DROP INDEX") or st.starts("DROP INDEX CONCURRENTLY"):
        return None
    known = facts(st, ctx).indexes
    names = targets(flat(st, ctx), r"^DROP INDEX (?:IF EXISTS )?")
    if names and all(key(n) in known or key(n).rsplit(".", 1)[-1] in known for n in names):
        return None  # created earlier in this file
    if st.norm.endswith(" CASCADE"):  # which DROP INDEX CONCURRENTLY refuses
        return [(f"DROP INDEX {', '.join(names)} takes an ACCESS EXCLUSIVE lock on its table, and DROP INDEX "
                 "CONCURRENTLY does not support CASCADE: drop the dependent objects first, then DROP INDEX "
                 "CONCURRENTLY without CASCADE (one index per statement, outside a transaction)")]
    return [(f"DROP INDEX {', '.join(names)} takes an ACCESS EXCLUSIVE lock on its table: use "
             "DROP INDEX CONCURRENTLY (one index per statement, outside a transaction)")]


_REINDEX_TARGET = re.compile(rf"^REINDEX (?:\([^)]*\) ?)?(INDEX|TABLE|SCHEMA|DATABASE|SYSTEM)(?: ({NAME}))?", re.I)


@rule("index.reindex-concurrently", keywords=('REINDEX',), engines="P", category="LOCK", severity="W", strict="E", nodes=("*",),
      summary="`REINDEX` without `CONCURRENTLY`.",
      why="A plain REINDEX blocks writes to the table (and reads that would use the index) while it rebuilds.",
      instead="`REINDEX … CONCURRENTLY` (PostgreSQL 12+), outside a transaction.",
      example="REINDEX INDEX orders_customer_idx;")
def index_reindex_concurrently(st: Stmt, ctx: FileContext, payload: dict) -> Iterator[str]:
    known = facts(st, ctx).indexes
    if st.syntax_error or not st.starts("REINDEX"):
        return
    text = flat(st, ctx)
    if CONCURRENTLY.search(st.norm):
        return
    match = _REINDEX_TARGET.match(text)
    if match is None:
        return
    kind, name = match.group(1).upper(), match.group(2) or ""
    if kind == "SYSTEM":
        return  # system catalogs cannot be reindexed concurrently
    if (kind == "TABLE" and ctx.is_new(key(name))) or (kind == "INDEX" and key(name) in known):
        return
    if name and system_catalog(name):
        yield (f"REINDEX {kind} {name} blocks writes to a system catalog while it rebuilds, and PostgreSQL cannot "
               "reindex system catalogs concurrently: run it in a maintenance window")
        return
    yield (f"REINDEX {kind} {name} blocks writes while it rebuilds: use REINDEX {kind} CONCURRENTLY "
           "(PostgreSQL 12+, outside a transaction)").replace("  ", " ")


_UNIQUE = re.compile(r"\bUNIQUE\b", re.I)
_USING_INDEX = re.compile(r"USING INDEX\b", re.I)


# Only UNIQUE and PRIMARY KEY (index, constraint or column) fail on duplicates.
@rule("index.unique-data-dependent", keywords=('CREATE', 'ALTER'), contains=("UNIQUE", "PRIMARY"),
      engines="PMS", category="LOCK", severity="I", nodes=("*",),
      summary="A new unique index or constraint on an existing table (fails if the table holds duplicates).",
      why="Whether the migration succeeds depends on the data: one duplicate value in production (or NULLs "
          "for a primary key) and it fails there, although it passed on every test database.",
      instead="Check for duplicates before the migration (`SELECT cols, count(*) … GROUP BY cols HAVING "
              "count(*) > 1`) and clean them up first.",
      example="CREATE UNIQUE INDEX CONCURRENTLY users_email_key ON users (email);")
def index_unique_data_dependent(st: Stmt, ctx: FileContext, payload: dict) -> Iterator[str | Hit] | None:
    if create_index(st, ctx) is None and existing_alter(st, ctx) is None:
        return None  # (most statements: returned at once, without a generator)
    return _unique_data_dependent(st, ctx)


def _unique_data_dependent(st: Stmt, ctx: FileContext) -> Iterator[str | Hit]:
    advice = ("check for duplicates first (SELECT … GROUP BY … HAVING count(*) > 1) and clean them up before "
              "the migration runs")
    index = create_index(st, ctx)
    if index is not None:
        if index.unique and not ctx.is_new(index.key) and not _on_distinct_column(st, ctx, index.key):
            named = f" {index.name}" if index.name else ""
            yield f"unique index{named} on existing table {index.table} fails if it holds duplicate values: {advice}"
        return
    alter = existing_alter(st, ctx)
    for action in alter.actions if alter else ():
        added = added_constraint(action)
        if added is not None:
            if added.kind in ("UNIQUE", "PRIMARY KEY") and not _USING_INDEX.match(added.rest) \
                    and not _on_distinct_column(st, ctx, alter.key, added.kind, _key_columns(added.rest)):
                yield located(st, action, (
                    f"{added.label} on existing table {alter.table} fails if it holds duplicate values: {advice}"))
            continue
        for column, definition in added_columns(action):
            expression = default_of(definition)
            if not (_UNIQUE.search(definition) and expression and expression.upper() != "NULL"):
                continue
            if ctx.dialect == "postgres" and _DISTINCT_DEFAULT.match(expression):
                continue
            calls = volatile_calls(expression) if ctx.dialect == "postgres" else []
            if calls:  # (called once per existing row: the values may or may not differ)
                yield located(st, action, (
                    f"column {column} added UNIQUE with DEFAULT {calls[0]}() to existing table {alter.table}: "
                    "PostgreSQL calls it once per existing row, and unless it returns a different value each "
                    "time the column fails as soon as the table has two rows. Make sure it does, or add the "
                    "column without the default, backfill distinct values, then add the unique index"))
                continue
            yield located(st, action, (
                f"column {column} added UNIQUE with a DEFAULT to existing table {alter.table} gives every "
                "existing row the same value: it fails as soon as the table has two rows. Add it without the "
                "default, backfill distinct values, then add the unique index"))


def _key_columns(rest: str) -> list[str]:
    """The columns (as `key` spells them) of an added key, from what follows UNIQUE / PRIMARY KEY:
    `(a, b DESC)`, MySQL's `KEY name (a(10))`."""
    start = rest.find("(")
    if start < 0:
        return []
    return [key(part.split()[0].split("(")[0]) for part in split_top(paren_group(rest[start:])[0]) if part.strip()]


# PostgreSQL fills a column added with a volatile DEFAULT by calling it for each existing row: these
# give each row its own value (a sequence's next value too).
# (Read in the flat text: strings are '' there, and a blank may stand before a parenthesis.)
_DISTINCT_DEFAULT = re.compile(r"^(?:PUBLIC\.)?(?:(?:GEN_RANDOM_UUID|UUID_GENERATE_V1|UUID_GENERATE_V1MC|UUID_GENERATE_V4"
                               r"|UUIDV4|UUIDV7|UUID_GENERATE_V7) ?\( ?\)|NEXTVAL ?\( ?'[^']*'(?: ?:: ?REGCLASS)? ?\))"
                               r"(?: ?:: ?\w+)?$", re.I)
# What cannot change the values of an existing table's column (an ALTER TABLE is read action by action).
_KEEPS_VALUES = ("CREATE", "DROP", "COMMENT", "GRANT", "REVOKE", "SET", "RESET", "BEGIN", "START", "COMMIT", "END",
                 "SAVEPOINT", "RELEASE", "ANALYZE", "DELETE", "LOCK", "REINDEX", "VACUUM")
_ALTER_COLUMN_NAME = re.compile(rf"^(?:ALTER|RENAME) (?:COLUMN )?({NAME})", re.I)
_DISTINCT = "index.unique-data-dependent.distinct"


def _may_number(norm: str) -> bool:
    """Whether st.norm holds a word _distinct_added can find. (Substring tests: a regex alternation of the
    words tries each position of a long ALTER.)"""
    return "DEFAULT" in norm or "AUTO_INCREMENT" in norm or "IDENTITY" in norm or "SERIAL" in norm


_DISTINCT_SEEN = "index.unique-data-dependent.seen"  # the last statement _DISTINCT accounts for


@tracker(engines="P", keywords=("ALTER",), serves=("index.unique-data-dependent",))
def _track_distinct_columns(st: Stmt, ctx: FileContext) -> None:
    """The columns the file added to existing tables with a DEFAULT that gives every row its own value
    (`DEFAULT gen_random_uuid()`), until a statement that may change their values: a unique index on
    one of them cannot meet duplicates. (Table → column names, as `key` spells them.) It runs on the
    ALTERs; the statements between them are read by `_distinct_columns`."""
    fresh = _distinct_columns(ctx, st.index)
    ctx.memo[_DISTINCT_SEEN] = st.index
    if st.norm.startswith("ALTER "):
        if not fresh and not _may_number(st.norm):
            return  # (most ALTERs: nothing known to forget, no numbered column to learn)
        alter = existing_alter(st, ctx)
        if alter is None:
            return
        if fresh:
            for action in alter.actions:
                upper = action.upper()
                if upper.startswith("RENAME TO "):  # another table now
                    fresh.pop(table_key(alter.key), None)
                elif upper.startswith(("ALTER ", "RENAME ")) and (column := _ALTER_COLUMN_NAME.match(action)):
                    # a new type (USING …), a new name
                    fresh.get(table_key(alter.key), set()).discard(key(column.group(1)))
        if added := _distinct_added(alter):
            if fresh is None:
                fresh = ctx.memo[_DISTINCT] = {}
            fresh.setdefault(table_key(alter.key), set()).update(added)
        return
    if fresh:
        fresh.clear()  # a bare ALTER (not one of _KEEPS_VALUES): as below


def _distinct_columns(ctx: FileContext, index: int) -> dict[str, set[str]] | None:
    """What _track_distinct_columns knows before statement `index`. The tracker runs on ALTERs only: the
    other statements can only make it forget, and only while it knows a column (most files: never), so
    those since the last one it accounted for are read here then, from the file's flat texts (st.norm is
    their upper case), as a tracker would have met them (not psql's meta-commands)."""
    fresh: dict[str, set[str]] | None = ctx.memo.get(_DISTINCT)
    if fresh:
        statements = ctx.statements
        for between in range(ctx.memo.get(_DISTINCT_SEEN, -1) + 1, min(index, len(statements))):
            if not statements[between].text.startswith("\\") \
                    and not starts_with_words(ctx.flat_of(between).upper(), _KEEPS_VALUES):
                # an UPDATE, INSERT, COPY, DO block, function call …: any table's values may have changed
                fresh.clear()
                break
    ctx.memo[_DISTINCT_SEEN] = index - 1
    return fresh


def _distinct_added(alter: AlterTable, dialect: str = "postgres") -> set[str]:
    """The columns an ALTER TABLE adds that give every existing row its own value: numbered by the
    database (AUTO_INCREMENT, an identity, a serial), or, on PostgreSQL, with such a DEFAULT."""
    return {key(column) for action in alter.actions if action[:3].upper() == "ADD"
            for column, definition in added_columns(action)
            if _NUMBERED.search(definition) or (
                dialect == "postgres" and (default := default_of(definition)) and _DISTINCT_DEFAULT.match(default))}


# A column definition (after its name) whose values the database numbers, row by row.
_NUMBERED = re.compile(r"\bAUTO_INCREMENT\b|\bGENERATED\s+(?:ALWAYS|BY\s+DEFAULT)\s+AS\s+IDENTITY\b"
                       r"|^(?:BIG|SMALL)?SERIAL[248]?\b", re.I)


def _on_distinct_column(st: Stmt, ctx: FileContext, table: str, kind: str = "UNIQUE",
                        columns: list[str] | None = None) -> bool:
    """Whether the unique key the statement adds to `table` (an ALTER's: on `columns`) holds a column that
    every row has its own value of: added earlier in the file (`_track_distinct_columns`) or by the same
    ALTER TABLE."""
    fresh = (_distinct_columns(ctx, st.index) or {}).get(table_key(table), set())
    if _may_number(st.norm) and (alter := existing_alter(st, ctx)) is not None:
        fresh = fresh | _distinct_added(alter, ctx.dialect)
    if not fresh:
        return False
    if columns is not None:  # (the key of one ALTER action: not any other key the statement adds)
        return not fresh.isdisjoint(columns)
    wanted = ("primary",) if kind == "PRIMARY KEY" else ("unique", "primary")
    return any(index.kind in wanted and any(c is not None and key(c) in fresh for c in index.columns)
               for index in index_defs(st, ctx.dialect))


# -- constraints ----------------------------------------------------------------------------------


_REFERENCES = re.compile(r"\bREFERENCES\b", re.I)


@rule("statement.add-foreign-key-not-valid", engines="P", category="LOCK", severity="E", nodes=(exp.Alter, "command"),
      keywords=_ALTER, contains=("FOREIGN", "REFERENCES"),
      summary="`ADD FOREIGN KEY` / `ADD COLUMN … REFERENCES` on an existing table without `NOT VALID`.",
      why="Adding a validated foreign key scans the whole table while holding SHARE ROW EXCLUSIVE locks on both "
          "tables: writes to both stop for the duration of the scan.",
      instead="`ADD CONSTRAINT … FOREIGN KEY … NOT VALID`, then `VALIDATE CONSTRAINT` in a separate transaction "
              "(it only takes SHARE UPDATE EXCLUSIVE).",
      example="ALTER TABLE orders ADD CONSTRAINT orders_customer_fk FOREIGN KEY (customer_id) REFERENCES customers (id);")
def statement_add_foreign_key_not_valid(st: Stmt, ctx: FileContext, payload: dict) -> Iterator[str | Hit]:
    alter = existing_alter(st, ctx)
    for action in alter.actions if alter else ():
        added = added_constraint(action)
        if added is not None:
            if added.kind == "FOREIGN KEY" and not added.not_valid:
                yield located(st, action, (
                    f"{added.label} on existing table {alter.table} scans it while blocking writes to both "
                    "tables: add it with NOT VALID, then VALIDATE CONSTRAINT in a separate transaction"))
            continue
        for column, definition in added_columns(action):
            if _REFERENCES.search(definition):
                yield located(st, action, (
                    f"column {column} added with REFERENCES to existing table {alter.table} locks both tables "
                    "for the check: add the column without it, then ADD CONSTRAINT … FOREIGN KEY … NOT VALID "
                    "and VALIDATE CONSTRAINT in a separate transaction"))


_CHECK = re.compile(r"\bCHECK\b", re.I)


@rule("statement.add-check-not-valid", engines="P", category="LOCK", severity="E", nodes=(exp.Alter, "command"),
      keywords=_ALTER, contains=("CHECK",),
      summary="`ADD CHECK` without `NOT VALID`, or `ADD COLUMN … CHECK (…)`, on an existing table.",
      why="A validated CHECK scans every row under an ACCESS EXCLUSIVE lock: no reads or writes of the table "
          "until the scan ends. A CHECK in an added column's definition is checked the same way (and cannot "
          "be NOT VALID).",
      instead="`ADD CONSTRAINT … CHECK (…) NOT VALID`, then `VALIDATE CONSTRAINT` in a separate transaction "
              "(for a new column: add the column first, without the CHECK).",
      example="ALTER TABLE orders ADD CONSTRAINT orders_total_positive CHECK (total >= 0);")
def statement_add_check_not_valid(st: Stmt, ctx: FileContext, payload: dict) -> Iterator[str | Hit]:
    alter = existing_alter(st, ctx)
    for action in alter.actions if alter else ():
        added = added_constraint(action)
        if added is not None:
            if added.kind == "CHECK" and not added.not_valid:
                yield located(st, action, (
                    f"{added.label} on existing table {alter.table} scans every row under an ACCESS EXCLUSIVE "
                    "lock: add it with NOT VALID, then VALIDATE CONSTRAINT in a separate transaction"))
            continue
        for column, definition in added_columns(action):
            # (Django's PositiveIntegerField: the scan runs even for a new column, default or not.)
            if check := _CHECK.search(definition):
                clause = definition[check.start():]
                yield Hit(f"column {column} added with a CHECK to existing table {alter.table} is checked against "
                          "every row under an ACCESS EXCLUSIVE lock: add the column without it, then ADD "
                          "CONSTRAINT … CHECK (…) NOT VALID and VALIDATE CONSTRAINT in a separate transaction",
                          **(leading_words_at(st, clause, 6) or leading_words_at(st, action, 6)))


_VALIDATE_CONSTRAINT_NAME = re.compile(rf"^VALIDATE CONSTRAINT ({NAME})", re.I)


@rule("statement.validate-constraint-separate-transaction", engines="P", category="LOCK", severity="W", strict="E",
      nodes=(exp.Alter, "command"), keywords=_ALTER, contains=("VALIDATE",),
      summary="`NOT VALID` and `VALIDATE CONSTRAINT` of the same constraint inside one transaction: the file's "
              "own `BEGIN … COMMIT`, or the one Sluice's runner applies the file in (unless `-- sluice:transaction "
              "off`, its own BEGIN/COMMIT or a statement that needs autocommit).",
      why="The point of NOT VALID is to take the strong lock only briefly; validating in the same transaction "
          "keeps that ACCESS EXCLUSIVE lock for the whole validation scan.",
      instead="Commit after adding the constraint NOT VALID and validate it in a later transaction: under Sluice's "
              "runner, in a later file (or mark the file `-- sluice:transaction off`).",
      example="BEGIN; ALTER TABLE orders ADD CONSTRAINT c CHECK (total >= 0) NOT VALID; "
              "ALTER TABLE orders VALIDATE CONSTRAINT c; COMMIT;")
def statement_validate_constraint_separate_transaction(st: Stmt, ctx: FileContext, payload: dict) -> Iterator[str | Hit]:
    if not ctx.not_valid_in_transaction:
        return
    alter = existing_alter(st, ctx)
    for action in alter.actions if alter else ():
        match = _VALIDATE_CONSTRAINT_NAME.match(action)
        # The engine remembers the constraints added NOT VALID since the file's last BEGIN or COMMIT (or
        # its start), by their name in st.norm.
        if not match or match.group(1).upper().strip('"`').lower() not in ctx.not_valid_in_transaction:
            continue
        if ctx.in_transaction:
            where = f"BEGIN at line {ctx.transaction_began_line}"
            fix = "COMMIT first and validate it in a later transaction"
        elif ctx.runner_transaction:  # (asked last: it reads the whole file once)
            where = "Sluice's runner applies this file as one transaction"
            fix = "validate it in a later file, or mark this file -- sluice:transaction off"
        else:
            continue
        yield located(st, action, (
            f"constraint {match.group(1)} is validated in the transaction that added it NOT VALID ({where}), so "
            f"the lock taken when adding it is held for the whole scan: {fix}"))


_AND_OR_PAREN = re.compile(r"[()]|\b(?:AND|OR)\b", re.I)
_IS_NOT_NULL = re.compile(rf"^({NAME}) IS NOT NULL$", re.I)


def _unwrapped(text: str) -> str:
    """The text without the parentheses around all of it: `((a IS NOT NULL))` is `a IS NOT NULL`."""
    text = text.strip()
    while text.startswith("(") and not (inner := paren_group(text))[1]:
        text = inner[0].strip()
    return text


def _not_null_columns(check: str) -> list[str]:
    """The columns (keys) a CHECK proves NOT NULL, from what follows its word CHECK: the `col IS NOT
    NULL` terms AND-ed at the top of its expression, as PostgreSQL 12+ needs them to skip SET NOT
    NULL's scan (an OR there proves nothing: `x IS NOT NULL OR y IS NOT NULL` allows a NULL x)."""
    if not check.startswith("("):
        return []
    expression = _unwrapped(paren_group(check)[0])
    terms, depth, start = [], 0, 0
    for match in _AND_OR_PAREN.finditer(expression):
        token = match.group()
        if token == "(":
            depth += 1
        elif token == ")":
            depth -= 1
        elif depth == 0:
            if token.upper() == "OR":
                return []
            terms.append(expression[start:match.start()])
            start = match.end()
    terms.append(expression[start:])
    return [key(proof.group(1)) for term in terms if (proof := _IS_NOT_NULL.match(_unwrapped(term)))]


_SET_NOT_NULL = re.compile(rf"^ALTER (?:COLUMN )?({NAME}) SET NOT NULL\b", re.I)
# PostgreSQL 18's table constraint form, which pglast's grammar (PostgreSQL 18) accepts: the same scan
# as SET NOT NULL, unless it is added NOT VALID (then VALIDATE CONSTRAINT scans without blocking).
_ADD_NOT_NULL = re.compile(rf"^ADD (?:CONSTRAINT ({NAME}) )?NOT NULL ({NAME})", re.I)


@rule("statement.disallow-add-not-null", engines="P", category="LOCK", severity="E", nodes=(exp.Alter, "command"),
      keywords=_ALTER, contains=("SET NOT NULL", "CHECK", "VALIDATE", "ADD NOT NULL", "CONSTRAINT"),
      summary="`ALTER COLUMN … SET NOT NULL` on an existing table, unless a validated "
              "`CHECK (col IS NOT NULL)` precedes it (also PostgreSQL 18's `ADD [CONSTRAINT c] NOT NULL col` "
              "without NOT VALID).",
      why="SET NOT NULL scans the whole table under an ACCESS EXCLUSIVE lock to prove there is no NULL, unless "
          "a validated CHECK (col IS NOT NULL) already proves it (PostgreSQL 12+).",
      instead="`ADD CONSTRAINT … CHECK (col IS NOT NULL) NOT VALID` → backfill → `VALIDATE CONSTRAINT` → "
              "`SET NOT NULL` → drop the check.",
      example="ALTER TABLE orders ALTER COLUMN customer_id SET NOT NULL;")
def statement_disallow_add_not_null(st: Stmt, ctx: FileContext, payload: dict) -> Iterator[str | Hit]:
    alter = alter_table(st, ctx)
    if alter is None:
        return
    memo = ctx.memo.setdefault("statement.disallow-add-not-null", {"checks": {}, "proven": set()})
    table = alter.key.rsplit(".", 1)[-1]  # by bare name, as ctx.is_new compares tables: public.t is t
    if not ctx.is_new(alter.key):
        for action in alter.actions:
            match = _SET_NOT_NULL.match(action)
            if match and (table, key(match.group(1))) not in memo["proven"]:
                yield located(st, action, (
                    f"SET NOT NULL on column {match.group(1)} of existing table {alter.table} scans the table "
                    "under an ACCESS EXCLUSIVE lock: first ADD CONSTRAINT … CHECK ("
                    f"{match.group(1)} IS NOT NULL) NOT VALID, backfill, VALIDATE CONSTRAINT, then SET NOT NULL "
                    "and drop the check"))
            elif (match := _ADD_NOT_NULL.match(action)) and (table, key(match.group(2))) not in memo["proven"] \
                    and not _NOT_VALID.search(action):
                what = f"NOT NULL constraint {match.group(1)}" if match.group(1) else "a NOT NULL constraint"
                yield located(st, action, (
                    f"adding {what} on column {match.group(2)} of existing table {alter.table} scans the table under "
                    "an ACCESS EXCLUSIVE lock (PostgreSQL 18; earlier versions reject the syntax): add it NOT VALID, "
                    "backfill, then VALIDATE CONSTRAINT in a later transaction"))
    for action in alter.actions:  # learn, for the statements after this one
        added = added_constraint(action)
        if added is not None and added.kind == "CHECK" and (columns := _not_null_columns(added.rest)):
            if added.not_valid:
                memo["checks"][(table, key(added.name or ""))] = columns
            else:
                memo["proven"].update((table, column) for column in columns)
        elif match := _VALIDATE_CONSTRAINT_NAME.match(action):
            checked = memo["checks"].get((table, key(match.group(1))), ())
            memo["proven"].update((table, column) for column in checked)


@rule("constraint.disallow-add-unique", engines="P", category="LOCK", severity="E", nodes=(exp.Alter, "command"),
      keywords=_ALTER, contains=("UNIQUE",),
      summary="`ADD [CONSTRAINT] UNIQUE (…)` or `ADD COLUMN … UNIQUE` on an existing table.",
      why="Adding a UNIQUE constraint builds its index under an ACCESS EXCLUSIVE lock: no reads or writes of "
          "the table for the whole build.",
      instead="`CREATE UNIQUE INDEX CONCURRENTLY`, then `ADD CONSTRAINT … UNIQUE USING INDEX`.",
      example="ALTER TABLE users ADD CONSTRAINT users_email_key UNIQUE (email);")
def constraint_disallow_add_unique(st: Stmt, ctx: FileContext, payload: dict) -> Iterator[str | Hit]:
    alter = existing_alter(st, ctx)
    for action in alter.actions if alter else ():
        added = added_constraint(action)
        if added is not None:
            if added.kind == "UNIQUE" and not _USING_INDEX.match(added.rest):
                yield located(st, action, (
                    f"{added.label} on existing table {alter.table} builds its index under an ACCESS EXCLUSIVE "
                    "lock: CREATE UNIQUE INDEX CONCURRENTLY first, then ADD CONSTRAINT … UNIQUE USING INDEX"))
            continue
        for column, definition in added_columns(action):
            if _UNIQUE.search(definition):
                yield located(st, action, (
                    f"column {column} added UNIQUE to existing table {alter.table} builds the index under an "
                    "ACCESS EXCLUSIVE lock: add the column, CREATE UNIQUE INDEX CONCURRENTLY, then "
                    "ADD CONSTRAINT … UNIQUE USING INDEX"))


_PRIMARY_KEY = re.compile(r"\bPRIMARY KEY\b", re.I)


@rule("constraint.add-primary-key-using-index", engines="P", category="LOCK", severity="E", nodes=(exp.Alter, "command"),
      keywords=_ALTER, contains=("PRIMARY",),
      summary="`ADD PRIMARY KEY (…)` on an existing table (not `USING INDEX`).",
      why="The primary key's index is built under an ACCESS EXCLUSIVE lock, and its implicit SET NOT NULL scans "
          "the table too: the table is unavailable for the whole build.",
      instead="`CREATE UNIQUE INDEX CONCURRENTLY`, then `ADD CONSTRAINT … PRIMARY KEY USING INDEX`.",
      example="ALTER TABLE events ADD PRIMARY KEY (id);")
def constraint_add_primary_key_using_index(st: Stmt, ctx: FileContext, payload: dict) -> Iterator[str | Hit]:
    alter = existing_alter(st, ctx)
    for action in alter.actions if alter else ():
        added = added_constraint(action)
        if added is not None:
            if added.kind == "PRIMARY KEY" and not _USING_INDEX.match(added.rest):
                yield located(st, action, (
                    f"PRIMARY KEY on existing table {alter.table} builds its index (and checks NOT NULL) under an "
                    "ACCESS EXCLUSIVE lock: CREATE UNIQUE INDEX CONCURRENTLY first, then ADD CONSTRAINT … "
                    "PRIMARY KEY USING INDEX"))
            continue
        for column, definition in added_columns(action):
            if _PRIMARY_KEY.search(definition):
                yield located(st, action, (
                    f"column {column} added as PRIMARY KEY to existing table {alter.table} builds the index under "
                    "an ACCESS EXCLUSIVE lock: add the column, fill it, CREATE UNIQUE INDEX CONCURRENTLY, then "
                    "ADD CONSTRAINT … PRIMARY KEY USING INDEX"))


@rule("constraint.disallow-add-exclusion", engines="P", category="LOCK", severity="W", strict="E", nodes=(exp.Alter, "command"),
      keywords=_ALTER, contains=("EXCLUDE",),
      summary="`ADD EXCLUDE …` on an existing table (an exclusion constraint cannot be added NOT VALID).",
      why="The exclusion constraint's index is built and checked under an ACCESS EXCLUSIVE lock, and there is "
          "no NOT VALID or USING INDEX way around it.",
      instead="Schedule a maintenance window for it (or enforce the rule in the application).",
      example="ALTER TABLE bookings ADD CONSTRAINT no_overlap EXCLUDE USING gist (room WITH =, during WITH &&);")
def constraint_disallow_add_exclusion(st: Stmt, ctx: FileContext, payload: dict) -> Iterator[str | Hit]:
    alter = existing_alter(st, ctx)
    for action in alter.actions if alter else ():
        added = added_constraint(action)
        if added is not None and added.kind == "EXCLUDE":
            yield located(st, action, (
                f"{added.label} on existing table {alter.table} is built under an ACCESS EXCLUSIVE lock and "
                "cannot be added NOT VALID: schedule a maintenance window for it"))


# -- new columns: defaults, generated and identity columns ----------------------------------------

_DEFAULT_END = re.compile(r"\b(?:NOT NULL|NULL|CONSTRAINT|CHECK|REFERENCES|UNIQUE|PRIMARY KEY|GENERATED|COLLATE)\b",
                          re.I)
# Functions PostgreSQL declares STABLE or IMMUTABLE (evaluated once for ADD COLUMN … DEFAULT: no rewrite),
# and the syntax that reads like a call (cast, coalesce, row …). (Checked against pg_proc.provolatile.)
_NOT_VOLATILE = frozenset("""
    now current_timestamp current_date current_time localtime localtimestamp transaction_timestamp
    statement_timestamp cast coalesce nullif greatest least lower upper trim btrim ltrim rtrim length substring
    substr replace concat concat_ws left right lpad rpad md5 to_char to_date to_timestamp to_number date_trunc
    date_part extract make_date make_time make_timestamp make_timestamptz make_interval timezone abs round
    ceil floor trunc row array jsonb_build_object json_build_object jsonb_build_array json_build_array to_jsonb
    to_json array_to_json row_to_json current_setting current_schema current_user session_user current_database
    inet cidr point interval int4range int8range numrange tsrange tstzrange daterange
    date age format initcap repeat split_part regexp_replace translate char_length encode decode sha256 mod power
    to_tsvector to_tsquery plainto_tsquery setweight array_fill array_append array_prepend array_cat
    array_to_string string_to_array jsonb_set
""".split())
_KNOWN_VOLATILE = frozenset("""
    random random_normal gen_random_uuid uuid_generate_v1 uuid_generate_v1mc uuid_generate_v4 uuidv4 uuidv7
    clock_timestamp timeofday nextval setval txid_current pg_current_xact_id
""".split())


_PAREN_OR_DEFAULT = re.compile(r"[()]|\bDEFAULT\b", re.I)


@functools.lru_cache(maxsize=1024)
def default_of(definition: str) -> str | None:
    """The DEFAULT expression of a column definition (flat text), or None."""
    depth = 0
    for match in _PAREN_OR_DEFAULT.finditer(definition):
        token = match.group(0)
        if token == "(":
            depth += 1
        elif token == ")":
            depth -= 1
        elif depth == 0:
            rest = definition[match.end():].strip()
            end = _depth0_search(_DEFAULT_END, rest)
            return rest[:end].strip() if end is not None else rest
    return None


def _depth0_search(pattern: re.Pattern, text: str) -> int | None:
    for match in pattern.finditer(text):
        before = text[: match.start()]
        if before.count("(") == before.count(")"):
            return match.start()
    return None


_FUNCTION_CALL = re.compile(r'((?:[A-Za-z_][\w$]*|"[^"]+")(?:\.(?:[A-Za-z_][\w$]*|"[^"]+"))*)\s*\(')
_TRAILING_AS = re.compile(r"\bAS$", re.I)
# The last word of a type (or of AT TIME ZONE) that takes "(": `character varying(20)` is no call of varying().
_TYPE_LAST_WORDS = {"varying": ("character", "char", "bit"), "zone": ("time",), "second": ("to", "interval")}
_LAST_WORD = re.compile(r"(\w+)$")


def volatile_calls(expression: str) -> list[str]:
    """The functions in a default expression that PostgreSQL may evaluate per row (volatile or
    unknown), in order. Casts (`::type(n)`, `CAST(x AS type(n))`) are not calls."""
    found = []
    for match in _FUNCTION_CALL.finditer(expression):
        before = expression[: match.start()].rstrip()
        if before.endswith("::") or _TRAILING_AS.search(before):
            continue  # a type with a modifier, e.g. varchar(20)
        name = match.group(1).lower()
        if (first := _TYPE_LAST_WORDS.get(name)) and (word := _LAST_WORD.search(before)) \
                and word.group(1).lower() in first:
            continue  # the second word of a type with a modifier, e.g. bit varying(8)
        name = key(name).rsplit(".", 1)[-1]
        if name not in _NOT_VOLATILE:
            found.append(match.group(1))
    return found


_NOT_NULL_OR_KEY = re.compile(r"\bNOT\s+NULL\b|\bPRIMARY\s+KEY\b", re.IGNORECASE)


@rule("column.default-disallow-volatile", engines="P", category="LOCK", severity="E", nodes=(exp.Alter, "command"),
      keywords=_ALTER, contains=("DEFAULT",),
      summary="`ADD COLUMN … DEFAULT <volatile>` on an existing table (`random()`, `gen_random_uuid()`, "
              "`clock_timestamp()`, `nextval()`, unknown functions). `now()`, `CURRENT_TIMESTAMP`, constants, casts "
              "and `ARRAY[]` are fine.",
      why="Since PostgreSQL 11 a constant or stable default is stored once in the catalog; a volatile default "
          "must be computed for every row, so the whole table is rewritten under an ACCESS EXCLUSIVE lock.",
      instead="Add the column nullable and without a default (or with a constant one), `ALTER COLUMN … SET "
              "DEFAULT` for new rows, then backfill existing rows in batches (and, for NOT NULL, add a CHECK … NOT "
              "VALID, VALIDATE it, then SET NOT NULL).",
      example="ALTER TABLE users ADD COLUMN token uuid DEFAULT gen_random_uuid();")
def column_default_disallow_volatile(st: Stmt, ctx: FileContext, payload: dict) -> Iterator[str | Hit]:
    alter = existing_alter(st, ctx)
    for action in alter.actions if alter else ():
        for column, definition in added_columns(action):
            expression = default_of(definition)
            calls = volatile_calls(expression) if expression else []
            if not calls:
                continue
            call = calls[0]
            kind = "volatile" if key(call).rsplit(".", 1)[-1] in _KNOWN_VOLATILE else "possibly volatile (unknown)"
            # (A NOT NULL column added without a default fails on a table with rows: it goes in nullable.)
            required = _NOT_NULL_OR_KEY.search(definition) is not None
            yield located(st, action, (
                f"column {column} added to existing table {alter.table} with DEFAULT {call}(), a {kind} "
                "function: the table is rewritten under an ACCESS EXCLUSIVE lock. Add the column "
                f"{'nullable and ' if required else ''}without that default, SET DEFAULT for new rows, and "
                "backfill existing rows in batches" + (", then make it NOT NULL (a CHECK (… IS NOT NULL) NOT VALID, "
                                                       "VALIDATE it, then SET NOT NULL)" if required else "")))


@rule("statement.disallow-add-column-with-default", engines="P", category="LOCK", severity="off", nodes=(exp.Alter, "command"),
      keywords=_ALTER, contains=("DEFAULT",),
      summary="Any `ADD COLUMN … DEFAULT` on an existing table when the server is older than PostgreSQL 11 "
              "(payload `pg_version`; opting in means an old server, so the default payload is 10).",
      why="Before PostgreSQL 11 every ADD COLUMN with a non-NULL default rewrites the table under an ACCESS "
          "EXCLUSIVE lock.",
      instead="Add the column without a default, `SET DEFAULT` for new rows, backfill in batches.",
      example="ALTER TABLE users ADD COLUMN active boolean DEFAULT true;",
      payload={"pg_version": 10},
      schema={"properties": {"pg_version": {"type": "integer", "minimum": 9}}})
def statement_disallow_add_column_with_default(st: Stmt, ctx: FileContext, payload: dict) -> Iterator[str | Hit]:
    if int(payload.get("pg_version", 10)) >= 11:
        return
    alter = existing_alter(st, ctx)
    for action in alter.actions if alter else ():
        for column, definition in added_columns(action):
            expression = default_of(definition)
            if expression and expression.upper() != "NULL":
                yield located(st, action, (
                    f"column {column} added to existing table {alter.table} with a DEFAULT rewrites the table "
                    f"before PostgreSQL 11 (pg_version {payload.get('pg_version')}): add it without a default, "
                    "SET DEFAULT for new rows, and backfill in batches"))


_GENERATED_AS = re.compile(r"\bAS\s*\(", re.I)
_STORED = re.compile(r"\b(?:STORED|PERSISTENT)\b", re.I)


@rule("column.disallow-add-stored-generated", engines="PM", category="LOCK", severity="E", nodes=(exp.Alter, "command"),
      keywords=_ALTER, contains=("STORED", "PERSISTENT"),
      summary="`ADD COLUMN … GENERATED ALWAYS AS (…) STORED` on an existing table.",
      why="A stored generated column is computed for every existing row when it is added: PostgreSQL rewrites "
          "the table under an ACCESS EXCLUSIVE lock, MySQL copies it.",
      instead="PostgreSQL: a nullable column filled by a trigger and a batched backfill. MySQL: a `VIRTUAL` "
              "generated column (added instantly).",
      example="ALTER TABLE orders ADD COLUMN total_cents bigint GENERATED ALWAYS AS (total * 100) STORED;")
def column_disallow_add_stored_generated(st: Stmt, ctx: FileContext, payload: dict) -> Iterator[str | Hit]:
    alter = existing_alter(st, ctx)
    for action in alter.actions if alter else ():
        for column, definition in added_columns(action):
            if _GENERATED_AS.search(definition) and _STORED.search(definition):
                instead = ("add it as VIRTUAL (instant) instead" if ctx.dialect == "mysql" else
                           "add a nullable column filled by a trigger and backfill it in batches instead")
                what = "copies" if ctx.dialect == "mysql" else "rewrites"
                yield located(st, action, (
                    f"stored generated column {column} added to existing table {alter.table} {what} the whole "
                    f"table: {instead}"))


_SERIAL = re.compile(r"^(?:SMALL|BIG)?SERIAL[248]?\b", re.I)


_AUTO_INCREMENT = re.compile(r"\bAUTO_INCREMENT\b", re.I)
_AS_IDENTITY = re.compile(r"\bAS IDENTITY\b", re.I)


@rule("column.disallow-add-auto-increment", engines="PM", category="LOCK", severity="E", nodes=(exp.Alter, "command"),
      keywords=_ALTER, contains=("AUTO_INCREMENT", "SERIAL", "IDENTITY"),
      summary="`ADD COLUMN` of a `serial`/`bigserial`/identity/`AUTO_INCREMENT` column to an existing table.",
      why="Numbering the existing rows rewrites (PostgreSQL) or copies (MySQL) the whole table under a lock; on "
          "MySQL replicas may number the rows differently.",
      instead="Create a new table with the column and copy the rows over (then swap), or add a nullable column "
              "and fill it from a sequence in batches.",
      example="ALTER TABLE events ADD COLUMN id bigserial;")
def column_disallow_add_auto_increment(st: Stmt, ctx: FileContext, payload: dict) -> Iterator[str | Hit]:
    alter = existing_alter(st, ctx)
    for action in alter.actions if alter else ():
        for column, definition in added_columns(action):
            if ctx.dialect == "mysql":
                found = "AUTO_INCREMENT" if _AUTO_INCREMENT.search(definition) else None
            elif match := _SERIAL.match(definition):
                found = match.group(0).lower()
            else:
                found = "an identity" if _AS_IDENTITY.search(definition) else None
            if found:
                what = "copies" if ctx.dialect == "mysql" else "rewrites"
                yield located(st, action, (
                    f"column {column} ({found}) added to existing table {alter.table} numbers every row and "
                    f"{what} the whole table: create a new table with the column and copy the rows instead"))


# -- partitions, maintenance, types ---------------------------------------------------------------


_DETACH_PARTITION = re.compile(rf"^DETACH PARTITION ({NAME})(?: (CONCURRENTLY|FINALIZE)\b)?", re.I)


@rule("table.detach-partition-concurrently", engines="P", category="LOCK", severity="W", strict="E", nodes=(exp.Alter, "command"),
      keywords=_ALTER, contains=("DETACH",),
      summary="`DETACH PARTITION` without `CONCURRENTLY`.",
      why="A plain DETACH PARTITION takes an ACCESS EXCLUSIVE lock on the partitioned table: every query on "
          "any partition waits.",
      instead="`ALTER TABLE … DETACH PARTITION … CONCURRENTLY` (PostgreSQL 14+, outside a transaction).",
      example="ALTER TABLE measurements DETACH PARTITION measurements_2019;")
def table_detach_partition_concurrently(st: Stmt, ctx: FileContext, payload: dict) -> Iterator[str | Hit]:
    alter = existing_alter(st, ctx)
    for action in alter.actions if alter else ():
        match = _DETACH_PARTITION.match(action)
        if match and not match.group(2):
            yield located(st, action, (
                f"DETACH PARTITION {match.group(1)} locks all of {alter.table} (ACCESS EXCLUSIVE): use DETACH "
                "PARTITION … CONCURRENTLY (PostgreSQL 14+, outside a transaction)"))


@rule("statement.disallow-vacuum-full", keywords=('VACUUM', 'CLUSTER'), engines="P", category="LOCK", severity="W", strict="E", nodes=("*",),
      summary="`VACUUM FULL` and `CLUSTER` (they rewrite the table under an ACCESS EXCLUSIVE lock).",
      why="Both rewrite the whole table while holding an ACCESS EXCLUSIVE lock: no reads or writes until done.",
      instead="pg_repack (or `REPACK (CONCURRENTLY)` on PostgreSQL 19); plain `VACUUM` for routine upkeep.",
      example="VACUUM FULL orders;")
def statement_disallow_vacuum_full(st: Stmt, ctx: FileContext, payload: dict) -> Iterator[str]:
    if st.syntax_error or not st.starts("VACUUM", "CLUSTER"):
        return
    text = flat(st, ctx)
    if st.starts("VACUUM"):
        names, what = vacuum_full_targets(text), "VACUUM FULL"
        if names is None:
            return
    else:
        names, what = cluster_targets(text), "CLUSTER"
    if names and all(ctx.is_new(key(n)) for n in names):
        return
    on = ", ".join(names) if names else "every table it covers"
    if names and all(system_catalog(n) for n in names):  # (pg_repack puts a trigger on the table: not on a catalog)
        yield (f"{what} rewrites {on} under an ACCESS EXCLUSIVE lock (no reads or writes until it ends), and no "
               "online tool can rewrite a system catalog: run it in a maintenance window")
        return
    yield (f"{what} rewrites {on} under an ACCESS EXCLUSIVE lock (no reads or writes until it ends): use "
           "pg_repack (or REPACK (CONCURRENTLY) on PostgreSQL 19) instead")


_CREATE_DOMAIN = re.compile(rf"^CREATE DOMAIN ({NAME})", re.I)
_ALTER_DOMAIN_ADD = re.compile(rf"^ALTER DOMAIN ({NAME}) ADD\b", re.I)


@rule("type.disallow-domain-check", contains=("DOMAIN",), prefixes=("CREATE DOMAIN", "ALTER DOMAIN"),
      engines="P", category="LOCK", severity="W", strict="E", nodes=("*",),
      summary="`CREATE DOMAIN … CHECK` and `ALTER DOMAIN … ADD CONSTRAINT`.",
      why="A domain constraint is checked against every column of every table that uses the domain: adding "
          "one scans them all, and changing it later means rewrites you cannot do online.",
      instead="A plain type with a column-level `CHECK` (which can be added NOT VALID and validated later).",
      example="CREATE DOMAIN positive_int AS integer CHECK (VALUE > 0);")
def type_disallow_domain_check(st: Stmt, ctx: FileContext, payload: dict) -> Iterator[str]:
    if st.syntax_error:
        return
    if st.starts("CREATE DOMAIN"):
        text = flat(st, ctx)
        match = _CREATE_DOMAIN.match(text)
        if match and _CHECK.search(text):
            yield (f"domain {match.group(1)} has a CHECK constraint: every later change of it revalidates every "
                   "column using the domain. Use a plain type with a column-level CHECK instead")
    elif st.starts("ALTER DOMAIN"):
        text = flat(st, ctx)
        match = _ALTER_DOMAIN_ADD.match(text)
        if match and key(match.group(1)) not in facts(st, ctx).types and not _NOT_VALID.search(text):
            yield (f"ALTER DOMAIN {match.group(1)} ADD CONSTRAINT checks every column of every table using the "
                   "domain: use a column-level CHECK … NOT VALID and VALIDATE it separately instead")


_ALTER_TYPE_ADD_VALUE = re.compile(rf"^ALTER TYPE ({NAME}) ADD VALUE\b", re.I)
_BEFORE_OR_AFTER = re.compile(r"\b(?:BEFORE|AFTER)\b", re.I)


@rule("type.enum-add-value-ordering", contains=("ADD VALUE",), prefixes=("ALTER TYPE",),
      engines="P", category="LOCK", severity="I", nodes=("*",),
      summary="`ALTER TYPE … ADD VALUE` without `BEFORE`/`AFTER`.",
      why="Enum values sort in declaration order; where the new value lands changes `ORDER BY` and comparisons "
          "on that column, and appending silently may not be what the author meant.",
      instead="State the position: `ADD VALUE 'x' BEFORE 'y'` / `AFTER 'z'`.",
      example="ALTER TYPE order_status ADD VALUE 'refunded';")
def type_enum_add_value_ordering(st: Stmt, ctx: FileContext, payload: dict) -> Iterator[str]:
    if st.syntax_error or not st.starts("ALTER TYPE"):
        return
    text = flat(st, ctx)
    match = _ALTER_TYPE_ADD_VALUE.match(text)
    if match and key(match.group(1)) not in facts(st, ctx).types and not _BEFORE_OR_AFTER.search(text):
        yield (f"ALTER TYPE {match.group(1)} ADD VALUE appends the value at the end of the enum's sort order: "
               "state its position with BEFORE or AFTER")


# -- per file: timeouts and repeated ALTERs -----------------------------------------------------------


@rule("statement.require-lock-timeout", engines="P", category="LOCK", severity="W", strict="E", nodes=("*",),
      keywords=TARGET_WORDS,
      summary="DDL on an existing table (or a DROP of an existing view) with no earlier `SET [LOCAL] lock_timeout` "
              "in the file, nor a "
              "`-- sluice:lock-timeout` directive (reported once, at the first such statement). A value of 0 or "
              "DEFAULT disables it, and RESET, or the end of a SET LOCAL's transaction, undoes it.",
      why="A DDL statement waiting for its lock (behind one long query) queues every later query on the table "
          "behind it: a few seconds of waiting become an outage.",
      instead="`SET lock_timeout = '2s';` or `-- sluice:lock-timeout 2s` at the top of the file (and retry on "
              "timeout), or a role-level setting for the migration user.",
      example="ALTER TABLE orders ADD COLUMN note text;")
def statement_require_lock_timeout(st: Stmt, ctx: FileContext, payload: dict) -> list[str] | None:
    # A list or None, not a generator: it is called on most DDL and almost always finds nothing.
    if ctx.lock_timeout_set or ctx.memo.get("statement.require-lock-timeout") or st.syntax_error:
        return None
    target = existing_target(st, ctx)
    if target is None:
        return None
    ctx.memo["statement.require-lock-timeout"] = True
    return [(f"{target} runs with no lock_timeout: while it waits for its lock, the queries that its lock blocks "
             "(writes, or also reads) queue behind it. Put SET lock_timeout = '2s' (or the directive -- sluice:lock-timeout 2s) at the top of the "
             "file (and retry on timeout)")]


# Statements it can concern: existing_target's and dml_write's. (The engine reads the SETs of the
# timeout, as ctx.statement_timeout_set.)
@rule("statement.max-execution-time", engines="PM", category="LOCK", severity="W", nodes=("*",),
      keywords=(*TARGET_WORDS, *WRITE_WORDS),
      severity_by_engine={"mysql": "disabled"},
      summary="No `SET statement_timeout` (PostgreSQL) / `max_statement_time` (MariaDB) / `max_execution_time` "
              "(MySQL), nor a `-- sluice:statement-timeout` directive, before DDL or DML touching an existing "
              "table (reported once per file). A value of 0 or DEFAULT disables it, and RESET, or the end of a "
              "SET LOCAL's transaction, undoes it.",
      why="Without a statement timeout a migration that turns out slow keeps its locks for as long as it runs.",
      instead="PostgreSQL: `SET statement_timeout = '…'` or `-- sluice:statement-timeout 5min` per file (or a "
              "role-level setting); MariaDB: `max_statement_time` (which the directive sets). MySQL has no "
              "server-side timeout for DDL or DML (`max_execution_time` limits only read-only SELECTs): bound the "
              "metadata-lock wait with `lock_wait_timeout` (`-- sluice:lock-timeout`). Run long backfills "
              "separately.",
      example="UPDATE orders SET status = 'new' WHERE status IS NULL;")
def statement_max_execution_time(st: Stmt, ctx: FileContext, payload: dict) -> list[str] | None:
    # A list or None, not a generator: it is called on most statements and almost always finds nothing.
    if ctx.statement_timeout_set or ctx.memo.get("statement.max-execution-time") or st.syntax_error:
        return None
    if st.index in ctx.memo.get(BOUNDED_STATEMENTS, ()):
        return None  # MariaDB's SET STATEMENT max_statement_time=… FOR <it>
    target = existing_target(st, ctx)
    write = dml_write(st, ctx) if target is None else None
    # DML whose run time grows with the table (not COPY or literal VALUES: bounded by the file itself)
    if write is not None and write.verb != "COPY" and (write.from_query or write.verb not in ("INSERT", "REPLACE")):
        target = None if ctx.is_new(write.key) else f"{write.verb} on existing table {write.table}"
    if target is None:
        return None
    ctx.memo["statement.max-execution-time"] = True
    if ctx.dialect == "mysql":
        return [(f"{target} runs with no statement timeout: if it turns out slow it holds its locks for as long as "
                 "it runs. On MariaDB, set max_statement_time (or the directive -- sluice:statement-timeout 5min) "
                 "at the top of the file. MySQL has no server-side timeout for DDL or DML (max_execution_time "
                 "limits only read-only SELECTs): bound its wait for the metadata lock with lock_wait_timeout (or "
                 "-- sluice:lock-timeout 5s)")]
    return [(f"{target} runs with no statement_timeout: if it turns out slow it holds its locks for as long as it "
             "runs. Set statement_timeout (or the directive -- sluice:statement-timeout 5min) at the top of the "
             "file (or for the migration role)")]


_WORD = re.compile(r"[\w$]+")


_ALONE = re.compile(r"^(?:VALIDATE CONSTRAINT|RENAME|SET SCHEMA|ATTACH PARTITION|DETACH PARTITION)\b", re.I)


def _may_stand_alone(norm: str) -> bool:
    """Whether an action may match _ALONE: it needs one of these words, which flat's words (those of
    st.norm) then hold. ("VAL", not "VALIDATE": re.I also reads the look-alike İ, kept by upper(), as I.)"""
    return "RENAME" in norm or "SCHEMA" in norm or "TACH" in norm or "VAL" in norm


class _Pending:
    """The existing tables ALTERed so far that a later ALTER could be merged with (key → those
    ALTERs), also by bare name: a --clean dump ALTERs hundreds of tables before the statements that
    name them, and each of those statements is matched on its words, not on every pending table."""

    def __init__(self) -> None:
        self.alters: dict[str, list[AlterTable]] = {}
        self.by_name: dict[str, set[str]] = {}
        self.algorithms: dict[str, str] = {}  # MySQL: the ALGORITHM= the table's pending ALTERs state

    def add(self, alter: AlterTable, algorithm: str = "", apart: bool = False) -> int:
        """Count an ALTER of its table (the count is returned); one that must stay apart from the
        pending ones (`_apart`), or that states another ALGORITHM than they do, starts a new count
        (merged, an INSTANT change would be rebuilt with the others)."""
        table = alter.key
        if table not in self.alters:  # (a pending table is in by_name already)
            self.by_name.setdefault(table.rsplit(".", 1)[-1], set()).add(table)
            self.alters[table] = [alter]
        elif apart or self.algorithms.get(table, algorithm) != algorithm:
            self.alters[table] = [alter]
        else:
            self.alters[table].append(alter)
        self.algorithms[table] = algorithm
        return len(self.alters[table])

    def reset(self, table: str) -> None:
        self.algorithms.pop(table, None)
        if self.alters.pop(table, None) is not None:
            name = table.rsplit(".", 1)[-1]
            self.by_name[name].discard(table)
            if not self.by_name[name]:
                del self.by_name[name]

    def clear(self) -> None:
        self.alters.clear()
        self.by_name.clear()
        self.algorithms.clear()

    def forget_named(self, lowered: str) -> None:
        """Reset the tables whose bare name is a word of the (lower-cased) statement."""
        if len(self.by_name) <= 8:
            # A substring test first: splitting a long statement (an INSERT of many rows) into its
            # words costs far more than a few `in`, and is rarely needed.
            names = [n for n in self.by_name if n in lowered]
            if not names:
                return
            words = set(_WORD.findall(lowered))
            names = [n for n in names if n in words]
        else:
            names = list(self.by_name.keys() & set(_WORD.findall(lowered)))
        for name in names:
            for table in self.by_name.pop(name):
                del self.alters[table]
                self.algorithms.pop(table, None)


_ALGORITHM_CLAUSE = re.compile(r"\bALGORITHM\s*=?\s*(DEFAULT|INSTANT|INPLACE|NOCOPY|COPY)\b", re.I)
# An action that changes a column (its default, type, nullability …): ALTER [COLUMN] x …. (MySQL's
# MODIFY / CHANGE of a column added in the same statement do what they say: merged, they are fine.)
_CHANGE_COLUMN = re.compile(rf"^ALTER (?:COLUMN )?({NAME})", re.I)
_DROP_CONSTRAINT = re.compile(r"^DROP CONSTRAINT\b", re.I)
_DROP_FOREIGN_KEY = re.compile(rf"^DROP FOREIGN KEY ({NAME})", re.I)
_ADD_FOREIGN_KEY = re.compile(rf"^ADD (?:CONSTRAINT ({NAME}) )?FOREIGN KEY ?(?!\()({NAME})?", re.I)


def _apart(st: Stmt, alter: AlterTable, pending: list[AlterTable] | None) -> bool:
    """Whether the ALTER must stay apart from the table's pending ALTERs, as merged with them it would
    fail or do something else: it changes a column they add (Django's ADD COLUMN … DEFAULT then DROP
    DEFAULT: merged, PostgreSQL fails, the column does not exist yet when its default, type or NOT
    NULL changes, and MariaDB gives the existing rows the new default or none), or it drops a
    constraint after they SET NOT NULL (the end of the NOT NULL recipe: merged, the drop comes first,
    and SET NOT NULL scans the table the check was there to spare)."""
    if not pending:
        return False
    norm = st.norm
    # (The columns the ALTER changes first: most change none, and then what the pending ones add is not read.
    # An action _CHANGE_COLUMN matches puts a second ALTER in st.norm: re.I reads no other letter as A, L, T, E or R.)
    changed = [key(match.group(1)) for action in alter.actions
               if (match := _CHANGE_COLUMN.match(action))] if norm.find("ALTER", 1) >= 0 else []
    if changed:
        added = {key(column) for earlier in pending for action in earlier.actions
                 for column, _ in added_columns(action)}
        if any(column in added for column in changed):
            return True
    if st.dialect == "mysql" and "FOREIGN" in norm and _readds_foreign_key(alter, pending):
        return True
    return ("DROP" in norm and any(_DROP_CONSTRAINT.match(action) for action in alter.actions)
            and any(_SET_NOT_NULL.match(action) for earlier in pending for action in earlier.actions))


def _readds_foreign_key(alter: AlterTable, pending: list[AlterTable]) -> bool:
    """Whether the ALTER adds a foreign key of the name of one the pending ALTERs drop: MySQL and MariaDB
    refuse both in one statement (errno 121, duplicate key on write)."""
    dropped = {key(match.group(1)) for earlier in pending for action in earlier.actions
               if (match := _DROP_FOREIGN_KEY.match(action))}
    return bool(dropped) and any((match := _ADD_FOREIGN_KEY.match(action)) and key(match.group(1) or match.group(2)
                                                                                    or "") in dropped
                                 for action in alter.actions)


# The first words TRANSACTION_CONTROL can match: a prefix test before the regex.
_TRANSACTION_WORDS = ("BEGIN", "START", "COMMIT", "END", "ROLLBACK", "ABORT")


@rule("statement.merge-alter-table", engines="PM", category="LOCK", severity="I", nodes=("*",),
      severity_by_engine={"mysql": "warning"},
      summary="Several `ALTER TABLE` of the same existing table in one file (reported on the 2nd and later; on "
              "MySQL, ALTERs that state different `ALGORITHM=` are not counted together, and nowhere is an ALTER "
              "that changes a column an earlier one added (its default, type, NOT NULL), drops a constraint "
              "after an earlier SET NOT NULL, or, on MySQL, adds a foreign key under the name an earlier one "
              "dropped: merged, those fail or do something else).",
      why="Each ALTER TABLE takes its own lock (and on MySQL may copy the whole table again); one multi-action "
          "ALTER does the work once.",
      instead="One `ALTER TABLE t action1, action2, …`.",
      example="ALTER TABLE orders ADD COLUMN a int; ALTER TABLE orders ADD COLUMN b int;")
def statement_merge_alter_table(st: Stmt, ctx: FileContext, payload: dict) -> list[str] | None:
    # Counts only the ALTERs that could have been merged: a transaction boundary, another statement
    # naming the table (it may have to come in between: a backfill, an index build, as in the
    # NOT VALID → backfill → VALIDATE → SET NOT NULL recipe) or an ALTER action that cannot share a
    # statement (VALIDATE, RENAME, partitions) resets the table's count; an ALTER that must stay apart
    # from the pending ones (`_apart`, another ALGORITHM) starts a new one. Called on every statement
    # (a list or None, not a generator: most statements return at once).
    pending = ctx.memo.get("statement.merge-alter-table")
    if pending is None:
        pending = ctx.memo["statement.merge-alter-table"] = _Pending()
    if st.syntax_error:
        return None
    norm = st.norm
    if not norm.startswith("ALTER "):  # (then no transaction control, and alter_table is None)
        if not pending.alters:
            return None  # nothing to reset, and only an ALTER TABLE counts
        if norm.startswith(_TRANSACTION_WORDS) and TRANSACTION_CONTROL.match(norm):
            pending.clear()
        elif not st.starts("SET", "RESET", "COMMENT"):
            pending.forget_named(norm.lower())  # it may be what the later ALTER depends on
        return None
    alter = alter_table(st, ctx)
    if alter is None:
        if pending.alters:  # (an ALTER of something else: it may name the table)
            pending.forget_named(norm.lower())
        return None
    if ctx.is_new(alter.key):
        return None
    if ctx.dialect == "postgres" and _may_stand_alone(st.norm) and any(_ALONE.match(a) for a in alter.actions):
        pending.reset(alter.key)  # these cannot share an ALTER with other actions
        return None
    algorithm = ""
    if ctx.dialect == "mysql" and "ALGORITHM" in st.norm and (match := _ALGORITHM_CLAUSE.search(alter.rest)):
        algorithm = match.group(1).upper()
    if pending.add(alter, algorithm, _apart(st, alter, pending.alters.get(alter.key))) == 1:
        return None
    copy = " and may copy the table again" if ctx.dialect == "mysql" else ""
    return [(f"ALTER TABLE {alter.table} follows another ALTER of the same table that it could be merged with: "
             f"each takes its own lock{copy}. Merge the actions into one ALTER TABLE {alter.table} …, …")]
