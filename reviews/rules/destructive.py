"""Destructive statements (catalogue §1.1): what loses data or cannot be undone."""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable, Iterator
from typing import Any

from sqlglot import exp

from reviews.engine.model import (
    FileContext,
    Stmt,
    blank_comments_and_strings,
    name_of,
    qualified_name,
    shown_name,
    table_key,
)
from reviews.engine.registry import Hit, declare, rule, tracker
from reviews.rules.common import (
    QUALIFIED_NAME,
    TRANSACTION_CONTROL,
    actions,
    alter_table,
    at,
    bare,
    dropped_tables,
    may_change_columns,
    mentions,
    only_if,
    position,
)
from reviews.rules.compat import action_at, altered, cased, shown
from reviews.rules.design import foreign_keys, is_alter_table, is_create_table, statement_table


def _tables(node: exp.Expression) -> list:
    return list(node.args.get("tables") or ([node.this] if node.this is not None else []))


def _object_name(table: exp.Expression) -> str:
    """A dropped object's name; schemas come back from sqlglot as a Table with only `db`."""
    if table.this is None and table.args.get("db") is not None:
        return name_of(exp.Table(this=table.args["db"]))
    return name_of(table)


@rule("database.disallow-drop", engines="PM", category="DES", severity="E", nodes=(exp.Drop, exp.Create, "command"),
      contains=("DATABASE", "SCHEMA"),
      prefixes=("DROP DATABASE", "DROP SCHEMA", "CREATE OR REPLACE DATABASE", "CREATE OR REPLACE SCHEMA"),
      summary="`DROP DATABASE` (and MySQL `DROP SCHEMA`, which is the same; MariaDB's `CREATE OR REPLACE "
              "DATABASE`, which drops it first).",
      why="A migration that drops a database destroys every table in it, with no way back from the "
          "migration tool.",
      instead="Decommission databases out of band, after a backup, not in a migration.",
      example="DROP DATABASE shop;")
def database_disallow_drop(st: Stmt, ctx: FileContext, payload: dict) -> Iterator[str]:
    kinds = ("DROP DATABASE", "DROP SCHEMA") if ctx.dialect == "mysql" else ("DROP DATABASE",)
    if st.starts(*kinds):
        yield "DROP DATABASE destroys every table in it: decommission databases out of band, not in a migration"
    elif ctx.dialect == "mysql" and st.starts("CREATE OR REPLACE DATABASE", "CREATE OR REPLACE SCHEMA"):
        yield ("CREATE OR REPLACE DATABASE drops the existing database, and every table in it, first: create it "
               "only if it does not exist (CREATE DATABASE IF NOT EXISTS)")


_CREATE_SCHEMA = re.compile(r"^CREATE SCHEMA (?:IF NOT EXISTS )?([^\s;]+)")
_DROP_SCHEMA = re.compile(r"^DROP SCHEMA (?:IF EXISTS )?(.+?)(?: CASCADE| RESTRICT)?$")


@rule("schema.disallow-drop", engines="P", category="DES", severity="E", nodes=(exp.Drop, exp.Create, "command"),
      contains=("SCHEMA",), prefixes=("CREATE SCHEMA", "DROP SCHEMA"),  # the statements it reads
      summary="`DROP SCHEMA` of a schema not created earlier in the file.",
      why="Dropping a schema drops (or, without CASCADE, fails on) every table, view and function in it; the "
          "data is gone and code that uses it breaks at once.",
      instead="Stop every use of the schema in code, back it up, and drop it in a later release.",
      example="DROP SCHEMA billing CASCADE;")
def schema_disallow_drop(st: Stmt, ctx: FileContext, payload: dict) -> Iterator[Hit]:
    created = ctx.memo.setdefault("schema.disallow-drop", set())
    if match := _CREATE_SCHEMA.match(st.norm):
        if match.group(1) != "AUTHORIZATION":
            created.add(bare(match.group(1)))
        return
    if not st.starts("DROP SCHEMA"):
        return
    if isinstance(st.ast, exp.Drop):
        tables = _tables(st.ast)
        found = [(_object_name(t), at(st, t) if len(tables) > 1 else {}) for t in tables]
    else:  # sqlglot reads no multi-schema DROP: the tokens
        match = _DROP_SCHEMA.match(st.norm)
        names = cased(st, ctx.dialect)[match.start(1):match.end(1)] if match else ""  # (as written)
        found = [(shown(n, ctx.dialect), {}) for n in names.split(",")] if match else []
    # Without CASCADE, PostgreSQL refuses to drop a schema that still holds objects.
    what = "destroys every object in it" if st.norm.endswith(" CASCADE") else \
        "fails if the schema is not empty, and drops it for good if it is"
    for name, where in found:
        if name and name.lower() not in created:
            yield Hit(f"DROP SCHEMA {name} {what}: stop using it in code, back it up, and drop it in a later release",
                      **where)


def _rebuild_copy(target: str, source: str) -> bool:
    """Whether copying `source` into `target` is a step of a SQLite rebuild, by the names: into new_x,
    new__x (Django), x_new or _alembic_tmp_x, or back from a renamed-away _x_old / x__old."""
    s, t = re.escape(source), re.escape(target)
    return bool(re.fullmatch(rf"_*(?:new|tmp|alembic_tmp)_+{s}|_*{s}_+(?:new|tmp)", target)
                or re.fullmatch(rf"_*{t}_+old|_*old_+{t}", source))


@rule("table.disallow-drop", engines="PMS", category="DES", severity="E", nodes=(exp.Drop, exp.Insert, exp.Create),
      summary="`DROP TABLE` of an existing table (not the drop step of a SQLite copy-and-rename rebuild, nor of a "
              "rebuild that copies every row out to a table of the file and back into the table created again); "
              "MariaDB's `CREATE OR REPLACE TABLE` of one, which drops it first.",
      why="Dropping a table loses its data; code that still reads or writes it breaks at once.",
      instead="Stop reads and writes in code first, back up or check it is empty, then drop it in a later "
              "release.",
      example="DROP TABLE customers;")
def table_disallow_drop(st: Stmt, ctx: FileContext, payload: dict) -> Iterable[str | Hit] | None:
    # A SQLite rebuild: CREATE TABLE new_x …; INSERT INTO new_x … SELECT … FROM x; DROP TABLE x;
    # ALTER TABLE new_x RENAME TO x. The drop of x keeps the data (in new_x, renamed back). The older
    # order (ALTER TABLE x RENAME TO _x_old; CREATE TABLE x; INSERT INTO x SELECT … FROM _x_old;
    # DROP TABLE _x_old) likewise.
    ast = st.ast
    if isinstance(ast, exp.Create):  # (the most frequent: most CREATEs are neither a copy nor a replace)
        if " AS " in st.norm:
            _record_full_copy(st, ctx)
        return _replaced_table(st, ctx) if ast.args.get("replace") else None
    if isinstance(ast, exp.Insert):
        if ctx.dialect == "sqlite":  # only a SQLite rebuild's copy is recorded
            _record_rebuild_copy(st, ctx, _rebuilt(ctx))
        _record_full_copy(st, ctx)
        return None  # (an INSERT finds nothing: no generator for it)
    if str(ast.args.get("kind") or "").upper() != "TABLE":
        return None
    return _dropped_tables(st, ctx, _rebuilt(ctx))


def _rebuilt(ctx: FileContext) -> set[str]:
    """The tables a SQLite rebuild copied out (the drop of which keeps the data)."""
    rebuilt = ctx.memo.get("table.disallow-drop")
    if rebuilt is None:  # (not setdefault: that would build a set on every call)
        rebuilt = ctx.memo["table.disallow-drop"] = set()
    return rebuilt


def _replaced_table(st: Stmt, ctx: FileContext) -> list[str] | None:
    """MariaDB's CREATE OR REPLACE TABLE of an existing (not temporary) table: a DROP TABLE first."""
    if ctx.dialect != "mysql" or not _CREATE_OR_REPLACE_TABLE.match(st.norm):
        return None
    target = st.ast.this.this if isinstance(st.ast.this, exp.Schema) else st.ast.this
    if not isinstance(target, exp.Table) or ctx.is_new(qualified_name(target)):
        return None
    return [f"CREATE OR REPLACE TABLE {name_of(target)} drops the existing table, and its data, first: create the "
            "new table under another name, or drop the old one in a later release"]


_CREATE_OR_REPLACE_TABLE = re.compile(r"^CREATE OR REPLACE TABLE ")


def _record_rebuild_copy(st: Stmt, ctx: FileContext, rebuilt: set[str]) -> None:
    target = st.ast.this.this if isinstance(st.ast.this, exp.Schema) else st.ast.this
    select = st.ast.args.get("expression")
    source = select.args.get("from_") if isinstance(select, exp.Select) else None
    if (source is not None and isinstance(source.this, exp.Table)
            and ctx.is_new(name_of(target)) and _rebuild_copy(name_of(target), name_of(source.this))):
        rebuilt.add(name_of(source.this))


# A copy of every row of one table into another (no WHERE, join, LIMIT, grouping …): INSERT INTO b [(cols)]
# SELECT … FROM a [ORDER BY …], INSERT INTO b TABLE a, CREATE [TEMP] TABLE b AS SELECT … FROM a / AS TABLE a.
# Read from st.norm (upper case, strings blanked): the names as written, quotes and all.
def _copy_source(suffix: str) -> str:
    """The SELECT … FROM a (or TABLE a) of a full copy, its groups named with `suffix` (used twice)."""
    return (rf"\(? ?(?:SELECT (?:ALL )?.+? FROM (?P<source{suffix}>{QUALIFIED_NAME})(?: (?:AS )?(?!ORDER\b)[\w$]+)?"
            rf"|TABLE (?P<table{suffix}>{QUALIFIED_NAME}))(?: ?\))?(?: ORDER BY [^;]*)?")


_FULL_COPY = re.compile(
    rf"^(?:INSERT INTO (?P<into>{QUALIFIED_NAME})(?: ?\([^()]*\))? {_copy_source('1')}"
    rf"|CREATE (?P<temp>(?:(?:GLOBAL|LOCAL|TEMP|TEMPORARY|UNLOGGED) )*)TABLE (?:IF NOT EXISTS )?(?P<created>{QUALIFIED_NAME})"
    rf"(?: ?\([^()]*\))? AS {_copy_source('2')}(?: WITH DATA)?) ?;?$", re.S)
_PARTIAL_WORDS = ("WHERE", "JOIN", "LIMIT", "OFFSET", "FETCH", "GROUP BY", "HAVING", "UNION", "EXCEPT", "INTERSECT",
                  "DISTINCT", "ON CONFLICT", "RETURNING")
# (Searched only when one of the words is there: a pattern that starts with \b is tried at every
# position of the text, twenty times slower than a substring test per word.)
_PARTIAL = re.compile(rf"\b(?:{'|'.join(_PARTIAL_WORDS)})\b")
_COPIES = "table.disallow-drop.copies"
# How each branch of _FULL_COPY starts: an INSERT … VALUES, a CREATE VIEW … AS fail it at once, and their long
# text is not searched for the words of a partial copy.
_COPY_HEAD = re.compile(rf"^(?:INSERT INTO {QUALIFIED_NAME}(?: ?\([^()]*\))? \(? ?(?:SELECT|TABLE) "
                        r"|CREATE (?:(?:GLOBAL|LOCAL|TEMP|TEMPORARY|UNLOGGED) )*TABLE )", re.S)
_RECREATE = re.compile(rf"^CREATE (?:UNLOGGED )?TABLE (?:IF NOT EXISTS )?({QUALIFIED_NAME})")


def _full_copy(norm: str) -> tuple[str, str, bool] | None:
    """(target, source, whether the target is temporary), as table_key spells them, of a statement that
    copies every row of one table into another."""
    if not _COPY_HEAD.match(norm) or (any(word in norm for word in _PARTIAL_WORDS) and _PARTIAL.search(norm)):
        return None
    match = _FULL_COPY.match(norm)
    if match is None:
        return None
    source = match.group("source1") or match.group("table1") or match.group("source2") or match.group("table2")
    target = match.group("into") or match.group("created")
    if not source or not target:
        return None
    return table_key(target), table_key(source), "TEMP" in (match.group("temp") or "")


def _record_full_copy(st: Stmt, ctx: FileContext) -> None:
    """A full copy of an existing table into a table the file created: the first half of a rebuild that
    drops the table, creates it again and copies the rows back (see _copied_back)."""
    copy = _full_copy(st.norm)
    if copy is None:
        return
    target, source, temporary = copy
    if not st.norm.startswith("CREATE ") and not ctx.is_new(target):
        return
    ctx.memo.setdefault(_COPIES, {}).setdefault(source, []).append((target, temporary))


class _Rebuilds:
    """Where the file's statements create tables, copy one table in full into another, drop tables and
    end transactions (statement indexes, ascending): read once per file, when a drop of a table whose
    rows were copied out is first judged."""

    def __init__(self, ctx: FileContext):
        self.created: dict[str, list[int]] = {}
        self.copied: dict[tuple[str, str], list[int]] = {}  # (target, source) → indexes
        self.dropped: dict[str, list[int]] = {}
        self.ends: list[int] = []
        for index in range(len(ctx.statements)):
            norm = ctx.flat_of(index).upper()
            if TRANSACTION_CONTROL.match(norm):
                self.ends.append(index)
            elif (match := _RECREATE.match(norm)) is not None:
                self.created.setdefault(table_key(match.group(1)), []).append(index)
            else:
                for name in dropped_tables(norm):
                    self.dropped.setdefault(table_key(name), []).append(index)
            if norm.startswith(("INSERT ", "CREATE ")) and (copy := _full_copy(norm)) is not None:
                self.copied.setdefault(copy[:2], []).append(index)

    @staticmethod
    def first_after(indexes: list[int], after: int) -> int | None:
        position = bisect.bisect_right(indexes, after)
        return indexes[position] if position < len(indexes) else None


def _rebuilds(ctx: FileContext) -> _Rebuilds:
    found = ctx.memo.get("destructive.rebuilds")
    if found is None:
        found = ctx.memo["destructive.rebuilds"] = _Rebuilds(ctx)
    return found


def _copied_back(st: Stmt, ctx: FileContext, table: str) -> bool:
    """Whether the rows of `table`, which the statement drops, were copied in full into a table the file
    created (_record_full_copy), and a later statement copies them back in full into `table` created
    again: timescaledb's upgrade scripts, Rails' SQLite table rebuild. A temporary copy must stay within
    one transaction on PostgreSQL or SQLite (a failure then restores the table); a permanent one keeps the
    rows even if the migration stops half-way. Read only for a drop that would be reported."""
    copies = (ctx.memo.get(_COPIES) or {}).get(table)
    if not copies:
        return False
    facts = _rebuilds(ctx)
    created = facts.first_after(facts.created.get(table, []), st.index)
    if created is None:
        return False
    for copy, temporary in copies:
        # (runner_transaction reads the whole file: asked only of a temporary copy)
        if temporary and not (ctx.dialect != "mysql" and (ctx.in_transaction or ctx.runner_transaction)):
            continue
        back = facts.first_after(facts.copied.get((table, copy), []), created)
        if back is None:
            continue
        gone = facts.first_after(facts.dropped.get(copy, []), st.index)
        if gone is not None and gone < back:
            continue  # the copy is dropped before the rows come back
        end = facts.first_after(facts.ends, st.index)
        if temporary and ctx.in_transaction and not ctx.runner_transaction and end is not None and end < back:
            continue  # the file's own transaction ends before the rows are back
        return True
    return False


def _dropped_tables(st: Stmt, ctx: FileContext, rebuilt: set[str]) -> Iterator[Hit]:
    rebuild = rebuilt | set(ctx.memo.get("sqlite.rebuild_sources") or ())
    tables = _tables(st.ast)
    for table in tables:
        name = name_of(table)
        if ctx.is_new(qualified_name(table)) or (ctx.dialect == "sqlite" and name in rebuild):
            continue
        if _copied_back(st, ctx, table_key(qualified_name(table))):
            continue
        yield Hit(f"DROP TABLE {shown_name(table, ctx.dialect)} loses its data: stop using it in code, back it up or "
                  "check it is empty, and drop it in a later release", **(at(st, table) if len(tables) > 1 else {}))


@rule("table.drop-naming-convention", engines="PM", category="DES", severity="off", nodes=(exp.Drop,),
      summary="`DROP TABLE` of a table whose name lacks the \"retired\" pattern (default `_del$`).",
      why="Renaming a table to a retired name first makes any forgotten reader fail loudly while the data is "
          "still there; dropping it later is then safe.",
      instead="Rename the table to `<name>_del` in one release and drop it in a later one.",
      example="DROP TABLE customers;",
      payload={"format": "_del$"},
      schema={"properties": {"format": {"type": "string", "minLength": 1, "format": "regex"}}})
def table_drop_naming_convention(st: Stmt, ctx: FileContext, payload: dict) -> Iterator[Hit]:
    if str(st.ast.args.get("kind") or "").upper() != "TABLE":
        return
    try:
        pattern = re.compile(payload.get("format") or "_del$")
    except re.error:
        return
    tables = _tables(st.ast)
    for table in tables:
        name = name_of(table)
        if not ctx.is_new(name) and not pattern.search(name):
            yield Hit(f"DROP TABLE {name}: the name does not match the retired-table pattern `{pattern.pattern}`: "
                      f"rename it first (e.g. to {name}_del) and drop it in a later release",
                      **(at(st, table) if len(tables) > 1 else {}))


@rule("column.disallow-drop", engines="PMS", category="DES", severity="E", nodes=(exp.Alter, "command"),
      keywords=("ALTER",), actions=(exp.Drop,),
      summary="`ALTER TABLE … DROP COLUMN` on an existing table.",
      why="The column's data is lost, and every running instance of the old code that selects or inserts it "
          "fails until the new code is deployed everywhere.",
      instead="Stop using the column in the ORM first (Rails `ignored_columns`, remove the Django field), deploy, "
              "then drop it in a later release.",
      example="ALTER TABLE users DROP COLUMN middle_name;")
@only_if(lambda st: mentions(st, "DROP"))  # DROP [COLUMN] …
def column_disallow_drop(st: Stmt, ctx: FileContext, payload: dict) -> Iterator[Hit]:
    table, found = altered(st, ctx, exp.Drop, "DROP")
    if table is None or ctx.is_new(qualified_name(st.ast.this) if isinstance(st.ast, exp.Alter) else table):
        return
    for action, where in found:
        if str(action.args.get("kind") or "").upper() != "COLUMN":
            continue
        for column in _tables(action):
            yield Hit(f"DROP COLUMN {table}.{name_of(column)} loses its data and breaks old code that still reads "
                      "it: stop using the column in the ORM, deploy, then drop it in a later release",
                      **action_at(st, where, column))


declare("column.disallow-drop-in-index", engines="M", category="DES", needs_database=True,
        summary="Dropping a column that belongs to an index (MySQL silently shrinks or drops the index); needs "
                "the existing indexes, so it finds nothing without a database.",
        why="A multi-column index that loses a column no longer serves the queries it was built for.",
        instead="Drop or redefine the index explicitly before dropping the column.")


def _truncated(st: Stmt) -> list:
    return list(st.ast.expressions or ())


@rule("statement.disallow-truncate", engines="PM", category="DES", severity="E", nodes=(exp.TruncateTable,),
      summary="`TRUNCATE` of an existing table.",
      why="TRUNCATE empties the table at once: it bypasses row-level triggers and leaves no row-by-row undo "
          "(on MySQL it cannot be rolled back at all).",
      instead="Delete in batches with `DELETE … WHERE`, or archive the rows first.",
      example="TRUNCATE audit_log;")
def statement_disallow_truncate(st: Stmt, ctx: FileContext, payload: dict) -> Iterator[Hit]:
    # PostgreSQL fires ON TRUNCATE triggers and can roll a TRUNCATE back; MySQL commits it at once.
    what = ("skips its ON DELETE triggers and takes an ACCESS EXCLUSIVE lock, and once committed the rows are gone"
            if ctx.dialect == "postgres" else "empties it without triggers or row-level undo")
    tables = _truncated(st)
    for table in tables:
        name = name_of(table)
        if not ctx.is_new(qualified_name(table)):
            yield Hit(f"TRUNCATE {name} {what}: delete in batches with DELETE … WHERE, or archive the rows first",
                      **(at(st, table) if len(tables) > 1 else {}))


@rule("statement.disallow-truncate-cascade", engines="P", category="DES", severity="E", nodes=(exp.TruncateTable,),
      summary="`TRUNCATE … CASCADE`.",
      why="CASCADE also empties every table that references the named ones through a foreign key, and their "
          "descendants: tables nobody named in the migration.",
      instead="Name each table to empty explicitly (and think twice about emptying them).",
      example="TRUNCATE customers CASCADE;")
def statement_disallow_truncate_cascade(st: Stmt, ctx: FileContext, payload: dict) -> Iterator[str]:
    if str(st.ast.args.get("option") or "").upper() != "CASCADE" and not st.norm.endswith(" CASCADE"):
        return
    names = [name_of(t) for t in _truncated(st)]
    if names and all(ctx.is_new(n) for n in names):
        return
    yield (f"TRUNCATE {', '.join(names)} CASCADE also empties every table that references them by foreign key: "
           "name each table to empty explicitly")


_CASCADE = re.compile(r"\bCASCADE\b")


@rule("statement.disallow-rm-tbl-cascade", engines="P", category="DES", severity="W", strict="E",
      nodes=(exp.Drop, exp.Alter, "command"), contains=("CASCADE",),
      summary="`DROP … CASCADE` (also `ALTER TABLE … DROP COLUMN/CONSTRAINT … CASCADE`).",
      why="CASCADE silently drops every dependent object too: views, foreign keys, and with `DROP SCHEMA` whole "
          "tables, none of them named in the migration.",
      instead="Drop the dependent objects explicitly, by name, before the object itself.",
      example="DROP TABLE customers CASCADE;")
def statement_disallow_rm_tbl_cascade(st: Stmt, ctx: FileContext, payload: dict) -> Iterator[str]:
    # (From the word's first place on: a pattern that starts with \b is tried at every position before it.)
    if not _CASCADE.search(st.norm, st.norm.find("CASCADE")):
        return
    if isinstance(st.ast, exp.Alter):
        table = alter_table(st)
        if table is not None and not ctx.is_new(table) and any(a.args.get("cascade") for a in actions(st, exp.Drop)):
            yield (f"ALTER TABLE {table} DROP … CASCADE also drops every dependent object (views, foreign keys): "
                   "drop the dependents explicitly first")
        return
    if not st.starts("DROP"):
        return
    if isinstance(st.ast, exp.Drop):
        if not st.ast.args.get("cascade"):
            return
        kind = str(st.ast.args.get("kind") or "").upper()
        names = [_object_name(t) for t in _tables(st.ast)]
        if kind == "TABLE" and names and all(ctx.is_new(n) for n in names):
            return
        what = f"DROP {kind} {', '.join(n for n in names if n) or ''}".rstrip()
    else:
        what = " ".join(st.norm.split()[:2])
    yield f"{what} … CASCADE also drops every object that depends on it: drop the dependents explicitly, by name, first"


_FK_NAME = re.compile(r"(^fk_|^fk[A-Z]|_fk_|_fk$|_fkey$|^fk$|_ibfk_\d+$)", re.IGNORECASE)
_DROP_FK_TOKENS = re.compile(r"^ALTER TABLE (?:IF EXISTS )?(?:ONLY )?(\S+) .*\bDROP (FOREIGN KEY|CONSTRAINT) "
                             r"(?:IF EXISTS )?([^\s,]+)")
# What follows `<table>_<columns>_` in the name PostgreSQL (and Prisma), Django, or a hand-written
# `<table>_<columns>_fk` (ory's projects) gives a foreign key.
_FK_NAME_SUFFIX = re.compile(r"fkey\d*|fk\d*|fk_idx|[0-9a-f]{8}_fk_.*")
# The words around the columns in a foreign key's name: fk_…, …_fkey, …_fk, …_fk_idx, …_ibfk_N, …_foreign
# (Laravel).
_FK_AFFIXES = re.compile(r"^fk_|_(?:fkey\d*|fk\d*|fk_idx|ibfk_\d+|foreign)$")


@rule("constraint.disallow-drop-fk", engines="PMS", category="DES", severity="W", at_end=True,
      summary="`DROP FOREIGN KEY`, or `DROP CONSTRAINT` of a constraint named like a foreign key (`fk_…`, `…_fkey`, "
              "`…_fk`, Django's `…_fk_…`, InnoDB's `…_ibfk_N`); not when the file adds to the table a foreign key of "
              "that name, or on the columns its name shows (`<table>_<columns>_fkey`, `…_fk`) or more columns "
              "starting with them, before the drop or after it, nor when the file drops the column its name shows; "
              "nor when the same ALTER TABLE adds a foreign key on columns its name shows, whatever the new key's "
              "name (a rename, a new ON DELETE), or drops a column its name shows (`…_flow_id_fk` with "
              "`origin_flow_id`); nor when the file drops the table afterwards (table.disallow-drop's).",
      why="Without the foreign key, cascades silently stop and orphan rows can appear; nothing fails, so nobody "
          "notices until the data is wrong.",
      instead="Keep the foreign key; to change it, add the replacement first (on PostgreSQL `NOT VALID`, then "
              "`VALIDATE`) and drop the old one afterwards.",
      example="ALTER TABLE orders DROP CONSTRAINT orders_customer_id_fkey;")
def constraint_disallow_drop_fk(st: None, ctx: FileContext, payload: dict) -> Iterator[Hit]:
    # A drop may be made good later in the file (Prisma and pg_dump --clean drop a foreign key, then add it
    # again; the scan of the re-add is statement.add-foreign-key-not-valid's): the drops and the foreign keys
    # added are recorded as the file goes (_track_foreign_keys) and judged at its end, each at its statement.
    # Also made good: a key added on more columns that start with its columns (Prisma widening a key to
    # (x_id, project_id)); and a drop of its column in the file (which drops the key anyway; the lost data
    # is column.disallow-drop's).
    memo = ctx.memo.get("constraint.disallow-drop-fk")
    for table, name, (message, statement, where), index in memo["dropped"] if memo else ():
        if memo["gone"].get(table, -1) > index:
            continue  # the file drops the table afterwards
        added = memo["added"].get(table, ())
        if any(name == other or any(_names_its_columns(name, table, columns[:count]) for count in range(1, len(columns) + 1))
               for other, columns in added):
            continue
        if not any(_names_its_columns(name, table, (column,)) for column in memo["columns"].get(table, ())):
            yield Hit(message, statement=statement, **where)


def _names_its_columns(name: str, table: str, columns: tuple[str, ...]) -> bool:
    """Whether `name` is the name PostgreSQL (and Prisma) or Django gives a foreign key on these columns of the
    table: `<table>_<columns>_fkey`, `<table>_<columns>_<hash>_fk_<target>`."""
    prefix = f"{table}_{'_'.join(columns)}_"
    return name.startswith(prefix) and _FK_NAME_SUFFIX.fullmatch(name, len(prefix)) is not None


@tracker(keywords=("ALTER", "CREATE", "DROP"), serves=("constraint.disallow-drop-fk",))
def _track_foreign_keys(st: Stmt, ctx: FileContext) -> None:
    """The foreign keys each table gains in the file (lower-case name, or "", and columns), and the drops of
    foreign keys of existing tables, until the file drops the table itself (no rows left to orphan; the
    loss is table.disallow-drop's)."""
    ast = st.ast
    if st.norm.startswith("DROP "):
        memo = ctx.memo.get("constraint.disallow-drop-fk")
        if memo and memo["dropped"] and isinstance(ast, exp.Drop) and str(ast.args.get("kind") or "").upper() == "TABLE":
            # (The drops recorded before it are left out at the end: a --clean dump drops every key, then
            # every table, and filtering the list at each DROP TABLE costs their product.)
            for table in _tables(ast):
                memo["gone"][bare(name_of(table))] = st.index
        return
    # (The keywords themselves: st.norm blanks only comments and strings, where no key is added or dropped.)
    adds = "REFERENCES" in st.norm and (is_create_table(ast) or is_alter_table(ast))
    drops = st.norm.startswith("ALTER ") and "DROP" in st.norm
    if not adds and not drops:
        if ctx.memo.get("constraint.disallow-drop-fk") and " RENAME " in st.norm and is_alter_table(ast):
            _track_column_renames(st, ctx.memo["constraint.disallow-drop-fk"])
        return
    if not drops and not _may_drop_foreign_keys(ctx):
        return  # (most files: a key they add is never compared with a drop)
    memo = ctx.memo.get("constraint.disallow-drop-fk")
    if memo is None:
        memo = ctx.memo["constraint.disallow-drop-fk"] = {"added": {}, "dropped": [], "columns": {}, "renamed": {},
                                                          "gone": {}}  # (table → where the file last drops it)
    keys = []  # the columns of each foreign key the statement adds
    for fk in foreign_keys(st) if adds else ():
        columns = tuple(c.lower() for c in fk.columns if c)
        added = memo["added"].setdefault(bare(fk.table), [])
        added.append(((fk.name or "").lower(), columns))
        # A column renamed since a drop: the key added on it makes good the dropped one, which its old
        # name shows (Django renames a foreign key's column so: drop the key, rename, add it again).
        renamed = memo["renamed"].get(bare(fk.table))
        if renamed and (before := tuple(renamed.get(c, c) for c in columns)) != columns:
            added.append(("", before))
        keys.append(columns)
    if drops:
        table, found = altered(st, ctx, exp.Drop, "DROP")
        gone = {name_of(c).lower() for action, _ in found if str(action.args.get("kind") or "").upper() == "COLUMN"
                for c in _tables(action)}
        if gone:
            memo["columns"].setdefault(bare(table), set()).update(gone)
        # One ALTER TABLE is atomic: a key added again by it (renamed, or with a new ON DELETE) never leaves the
        # table without one, and a key whose column it drops has no values left to orphan (MySQL refuses to drop
        # a key's column before the key: error 1553). The name shows the key's columns, whatever the new key's.
        memo["dropped"].extend(
            (*dropped, st.index) for dropped in _dropped_foreign_keys(st, ctx)
            if not any(_shows_columns(dropped[1], columns[:count]) for columns in keys if columns
                       for count in range(1, len(columns) + 1))
            and not any(_on_column(dropped[1], dropped[0], column) for column in gone))


_MAY_DROP = "constraint.disallow-drop-fk:may-drop"


def _may_drop_foreign_keys(ctx: FileContext) -> bool:
    """Whether a statement of the file may drop a foreign key: an ALTER whose st.norm holds DROP, the only
    statements _track_foreign_keys records a drop of. Read once per file, from the engine's flat texts
    (st.norm is flat.upper()); true when the context does not list the file's statements."""
    found = ctx.memo.get(_MAY_DROP)
    if found is None:
        found = ctx.memo[_MAY_DROP] = not ctx.statements or _alter_drops(
            map(ctx.flat_of, range(len(ctx.statements))))
    return found


def _alter_drops(flats: Iterable[str]) -> bool:
    # (A loop, not any() over a generator: it runs over every statement of every file.)
    for flat in flats:
        if flat[:6].upper() == "ALTER " and "DROP" in flat.upper():
            return True
    return False


def _track_column_renames(st: Stmt, memo: dict) -> None:
    """The columns an ALTER TABLE renames (table → new name → the name it had when the file began)."""
    for action in st.ast.args.get("actions") or ():
        if isinstance(action, exp.RenameColumn) and action.args.get("to") is not None:
            renamed = memo["renamed"].setdefault(bare(statement_table(st)), {})
            old, new = name_of(action.this).lower(), name_of(action.args["to"]).lower()
            renamed[new] = renamed.pop(old, old)


def _shows_columns(name: str, columns: tuple[str, ...]) -> bool:
    """Whether a foreign key's (lower-case) name spells these columns, joined by `_`, as whole words of it
    (a word's plural s aside): `oauth2_consent_subject_fkey` shows (subject)."""
    return re.search(rf"(?:^|_){re.escape(_singular('_'.join(columns)))}(?:_|$)", _singular(name)) is not None


def _on_column(name: str, table: str, column: str) -> bool:
    """Whether a foreign key's name shows it is on `column`: it spells the column, or what is left of it once
    the table and the foreign-key words are taken off ends the column's name (kratos's
    `identity_pending_traits_changes_settings_flow_id_fk` on `origin_settings_flow_id`)."""
    if _shows_columns(name, (column,)):
        return True
    rest = _FK_AFFIXES.sub("", name.removeprefix(f"{table}_"))
    return rest != name and _singular(column).endswith(f"_{_singular(rest)}")


_PLURAL_S = re.compile(r"s(?=_|$)")


def _singular(words: str) -> str:
    """`_`-separated words without a final s each, so that a name that says `sessions_id` shows the column
    `session_id` (kratos's `identity_pending_traits_changes_sessions_id_fk`)."""
    return _PLURAL_S.sub("", words)


def _dropped_foreign_keys(st: Stmt, ctx: FileContext) -> Iterator[tuple[str, str, tuple[str, Any, dict]]]:
    """(table, foreign key, the finding: its message, statement and location) of each foreign key of an
    existing table that the statement drops. (The Hit is made at the end, for the drops not made good.)"""
    # (NOT VALID exists on PostgreSQL only.)
    first = "add the replacement constraint first" + (" (NOT VALID, then VALIDATE)" if ctx.dialect == "postgres" else "")

    def dropped(table: str, name: str, where: dict) -> tuple[str, str, tuple[str, Any, dict]]:
        return bare(table), bare(name), (
            f"dropping foreign key {name} on {table} silently stops its cascades and lets orphan rows in: keep it, or "
            + first, st.statement, where)

    table = alter_table(st) if st.parsed else None
    if table is not None:
        if ctx.is_new(table):
            return
        if ctx.dialect == "mysql":  # (name_of lower-cases unquoted names; MySQL's table names keep their case)
            table = st.ast.this.name or table
        for action in actions(st, exp.Drop):
            kind = str(action.args.get("kind") or "").upper()
            for node in _tables(action):
                name = node.name if ctx.dialect == "mysql" else name_of(node)
                if kind == "FOREIGN KEY" or (kind == "CONSTRAINT" and _FK_NAME.search(name)):
                    yield dropped(table, name, at(st, node))
        return
    # No tree (e.g. SQLite, which has no DROP CONSTRAINT): the tokens.
    match = _DROP_FK_TOKENS.match(st.norm)
    if match and not ctx.is_new(bare(match.group(1))):
        name = bare(match.group(3))
        if match.group(2) == "FOREIGN KEY" or _FK_NAME.search(name):
            flat = cased(st, ctx.dialect)  # (the names as written, for the message)
            yield dropped(shown(flat[match.start(1):match.end(1)], ctx.dialect),
                          shown(flat[match.start(3):match.end(3)], ctx.dialect), {})


@rule("column.disallow-drop-not-null", engines="PM", category="DES", severity="W", nodes=(exp.Alter, "command"),
      keywords=("ALTER",), actions=(exp.AlterColumn, exp.ModifyColumn),
      summary="`ALTER COLUMN … DROP NOT NULL`; MySQL `MODIFY/CHANGE … NULL` (or without `NOT NULL`) on a NOT NULL "
              "column.",
      why="Code, reports and constraints rely on the column never being NULL; once NULLs are written, putting the "
          "constraint back needs a cleanup and a full-table scan.",
      instead="Keep NOT NULL: write a sentinel value, or add a new nullable column and move to it.",
      example="ALTER TABLE orders ALTER COLUMN shipped_at DROP NOT NULL;")
@only_if(may_change_columns)  # ALTER [COLUMN] … DROP NOT NULL, MODIFY/CHANGE
def column_disallow_drop_not_null(st: Stmt, ctx: FileContext, payload: dict) -> Iterator[Hit]:
    table, found = altered(st, ctx, (exp.AlterColumn, exp.ModifyColumn), "DROP NOT NULL", "MODIFY", "CHANGE")
    if table is None or ctx.is_new(table):
        return
    for action, where in found:
        if isinstance(action, exp.AlterColumn) and action.args.get("drop") and action.args.get("allow_null"):
            column = name_of(action.this)
            yield Hit(f"DROP NOT NULL on {table}.{column} lets NULLs in that code and reports do not expect: keep "
                      "the constraint and write a sentinel value, or add a new nullable column",
                      **action_at(st, where, action))
    for action, where in found:
        if not isinstance(action, exp.ModifyColumn):
            continue
        definition = action.this
        old = name_of(action.args.get("rename_from")) if action.args.get("rename_from") else name_of(definition)
        nullability = [c.args.get("kind") for c in definition.args.get("constraints") or ()
                       if isinstance(c.args.get("kind"), exp.NotNullColumnConstraint)]
        if any(c.args.get("allow_null") for c in nullability):
            if (table, old) in ctx.column_types and (table, old) not in ctx.not_null_columns:
                continue  # known to be nullable already
            # A MODIFY restates the whole column: without its earlier definition in the file, it may have been
            # nullable already (a type change that repeats NULL).
            unsure = "" if (table, old) in ctx.not_null_columns else \
                " if it was NOT NULL (this file does not show its earlier definition)"
            yield Hit(f"{'CHANGE' if action.args.get('rename_from') else 'MODIFY'} … NULL makes {table}.{old} "
                      f"nullable{unsure}: keep NOT NULL and write a sentinel value, or add a new nullable column",
                      **action_at(st, where, definition))
        elif (not nullability and not definition.find(exp.PrimaryKeyColumnConstraint)  # a key column stays NOT NULL
              and not ((table, old) in ctx.column_types and (table, old) not in ctx.not_null_columns)):
            # Without NULL or NOT NULL the column comes out nullable (MariaDB 10.11: is_nullable NO → YES):
            # the accident this rule is for, as likely where the file does not show the column as where it does.
            unsure = "" if (table, old) in ctx.not_null_columns else \
                " if it was NOT NULL (this file does not show its earlier definition)"
            yield Hit(f"{'CHANGE' if action.args.get('rename_from') else 'MODIFY'} without NOT NULL silently makes "
                      f"{table}.{old} nullable{unsure}: repeat NOT NULL in the new definition if it should stay",
                      **action_at(st, where, definition))


@rule("statement.disallow-on-del-cascade", engines="PM", category="DES", severity="off",
      nodes=(exp.Create, exp.Alter, "command"), keywords=("CREATE", "ALTER"), contains=("ON DELETE CASCADE",),
      summary="`ON DELETE CASCADE` in a foreign key definition.",
      why="One DELETE on a parent silently deletes rows in every child table, recursively, under locks on all of "
          "them; a mistaken delete takes far more data with it.",
      instead="Delete child rows explicitly in the application (or use `ON DELETE RESTRICT`).",
      example="ALTER TABLE orders ADD FOREIGN KEY (customer_id) REFERENCES customers (id) ON DELETE CASCADE;")
def statement_disallow_on_del_cascade(st: Stmt, ctx: FileContext, payload: dict) -> Iterator[Hit]:
    if not st.starts("CREATE TABLE", "ALTER TABLE", "CREATE TEMPORARY TABLE", "CREATE UNLOGGED TABLE"):
        return
    if "ON DELETE CASCADE" not in st.norm:
        return
    text = blank_comments_and_strings(st.text)  # same offsets
    for match in re.finditer(r"\bON\s+DELETE\s+CASCADE\b", text, re.IGNORECASE):
        yield Hit("ON DELETE CASCADE deletes child rows silently and recursively: delete them explicitly in the "
                  "application, or use ON DELETE RESTRICT", **position(st, match.start()))
