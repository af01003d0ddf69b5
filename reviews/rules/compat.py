"""Backward compatibility (catalogue §1.2): changes that break the code still running against the
database while a migration rolls out (renames, type changes, new required columns)."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from typing import Any

from sqlglot import exp

from reviews.engine.model import (
    FileContext,
    Stmt,
    flatten,
    name_of,
    per_statement,
    shown_name,
    sqlglot_dialect,
    sqlglot_parse,
    type_sql,
)
from reviews.engine.registry import Hit, rule, tracker
from reviews.rules import locking
from reviews.rules.common import (
    actions,
    alter_table,
    at,
    bare,
    folded_column,
    leading_words_at,
    may_change_columns,
    mentions,
    only_if,
    rebuild_copy,
)
from reviews.splitter import Statement

_SQLGLOT = {"postgres": "postgres", "mysql": "mysql", "sqlite": "sqlite"}
_ALTER_TABLE = r"^ALTER TABLE (?:IF EXISTS )?(?:ONLY )?([^\s(]+)"
_ALTER_TABLE_REST = re.compile(_ALTER_TABLE + r" (.*)$")
_RENAME_TABLE = re.compile(r"^RENAME TABLES? ")
_MYSQL_RENAME_CLAUSE = re.compile(r"(?:^|,\s*)RENAME (?:TO |AS )?(?!(?:COLUMN|INDEX|KEY) )([^\s,]+)")
_RENAME_TO = re.compile(r"RENAME TO (\S+)")
_CREATE_VIEW = re.compile(r"^CREATE (?:OR REPLACE )?(?:ALGORITHM ?= ?\S+ )?(?:DEFINER ?= ?\S+ )?(?:SQL SECURITY \S+ )?"
                          r"(?:TEMP |TEMPORARY )?VIEW (?:IF NOT EXISTS )?([^\s(]+)")
_CREATE_TABLE = re.compile(r"^CREATE TABLE (?:IF NOT EXISTS )?([^\s(]+)")
# A table or view created again under a renamed-away name (a rebuild: x → x_old, CREATE TABLE x, copy).
_RECREATED = re.compile(r"^CREATE (?:OR REPLACE )?(?:TABLE|VIEW) (?:IF NOT EXISTS )?([^\s(]+)")
_INSERT_INTO = re.compile(r"^INSERT INTO ([^\s(]+)")


# -- ALTER TABLE statements sqlglot reads only as a Command -------------------------------------------

# The actions the column rules read from a tree (sqlglot's Drop, AlterColumn, ModifyColumn, ColumnDef);
# the others (SET STATISTICS, REPLICA IDENTITY, OWNER TO …) are what made the statement a Command.
_TREE_ACTION = re.compile(r"^(?:ADD|DROP|ALTER|MODIFY|CHANGE)\b", re.I)
_ADD_LIST = re.compile(r"^ADD (?:COLUMN )?\(", re.I)  # MySQL ADD (a int, b int)


@dataclasses.dataclass(slots=True)
class _CommandAlter:
    table: str  # as name_of gives it for a parsed ALTER TABLE
    actions: list[tuple[exp.Expression, dict]]  # each action's tree, with the location of its text


@per_statement
def _command_alter(st: Stmt, ctx: FileContext) -> _CommandAlter | None:
    """An ALTER TABLE that sqlglot reads only as a Command (or not at all), because one of its actions is
    one it does not know (PostgreSQL SET STATISTICS, SET STORAGE, REPLICA IDENTITY, OWNER TO …; MySQL
    `ADD (…)`): its other actions, each parsed alone as a one-action ALTER TABLE of the same table, so that
    the rules find in them what they find in a parsed ALTER. Each is located at its text."""
    alter = locking.alter_table(st, ctx)
    if alter is None:
        return None
    table: str | None = None
    found: list[tuple[Any, Any]] = []
    for action in alter.actions:
        if not _TREE_ACTION.match(action):
            continue
        if _ADD_LIST.match(action):
            items = [(f"ADD COLUMN {name} {definition}", f"{name} {definition}")
                     for name, definition in locking.added_columns(action)]
        else:
            items = [(action, action)]
        for text, clause in items:
            try:
                trees = sqlglot_parse(f"ALTER TABLE {alter.table} {text}", ctx.dialect)
            except Exception:  # ParseError, TokenError, and TypeError from the compiled build
                continue
            tree = trees[0] if len(trees) == 1 else None
            if isinstance(tree, exp.Alter):
                table = name_of(tree.this)
                where = leading_words_at(st, clause, 6)
                found.extend((node, where) for node in tree.args.get("actions") or ())
    return _CommandAlter(table, found) if table is not None else None


def altered(st: Stmt, ctx: FileContext, kind: type | tuple,
            *words: str) -> tuple[str | None, list[tuple[Any, dict | None]]]:
    """The table of the statement's ALTER TABLE and its actions of one kind, each with None (the tree
    locates it: `at`) or, for an ALTER TABLE that sqlglot reads only as a Command and whose text holds one
    of `words`, the location of the action's text (`_command_alter`). (None, []) for any other statement."""
    table = alter_table(st)
    if table is not None:
        return table, [(action, None) for action in actions(st, kind)]
    if st.parsed or not any(word in st.norm for word in words):
        return None, []
    read = _command_alter(st, ctx)
    if read is None:
        return None, []
    return read.table, [(action, where) for action, where in read.actions if isinstance(action, kind)]


def action_at(st: Stmt, where: dict | None, node: exp.Expression) -> dict:
    """Where to report on an action that `altered` gave: at its text (a Command's), else at the tree's node."""
    return where if where is not None else at(st, node)


# -- renames ------------------------------------------------------------------------------------------


def _table_renames(st: Stmt, dialect: str) -> list[tuple[str, str, str]]:
    """(old, new, the `old TO new` text of a multi-table RENAME TABLE or "") of each table the statement
    renames, the names as a message shows them (`shown`: as written on MySQL, whose table names are
    case-sensitive on Linux). Read from the tokens: sqlglot misreads PostgreSQL/SQLite `RENAME col TO x` as a
    table rename and keeps MySQL `RENAME TABLE` a Command."""
    norm = st.norm
    if "RENAME" not in norm:
        return []  # (every form below is read from st.norm and has the word)
    if dialect == "mysql" and _RENAME_TABLE.match(norm):
        pairs = [p.strip() for p in cased(st, dialect).split(" ", 2)[2].split(",") if _TO.search(p)]
        return [(shown(old, dialect), shown(new, dialect), p if len(pairs) > 1 else "")
                for p in pairs for old, new in [_TO.split(p, 1)]]
    match = _ALTER_TABLE_REST.match(norm)
    if not match:
        return []
    table, rest = _written(st, dialect, match, 1), match.group(2)
    if isinstance(st.ast, exp.Alter) and isinstance(st.ast.this, exp.Table):
        # (name_of lower-cases an unquoted name, as PostgreSQL folds it; MySQL keeps its case)
        table = st.ast.this.name if dialect == "mysql" else name_of(st.ast.this)
    if dialect == "mysql":
        found = _MYSQL_RENAME_CLAUSE.search(rest)
    else:
        found = _RENAME_TO.fullmatch(rest)
    if not found:
        return []
    return [(table, _written(st, dialect, found, 1, match.start(2)), "")]


_TO = re.compile(" TO ", re.IGNORECASE)


def cased(st: Stmt, dialect: str) -> str:
    """st.norm in the case the statement is written in: its flat text, whose offsets are st.norm's (st.norm
    upper-cases it). The rules that read names from st.norm's tokens take them for messages from here (MySQL's
    table names are case-sensitive on Linux). st.norm lower-cased if upper-casing changed the length (a few
    non-ASCII letters do)."""
    flat = st.flat or flatten(st.text, dialect)
    return flat if len(flat) == len(st.norm) else st.norm.lower()


def shown(name: str, dialect: str) -> str:
    """A possibly qualified, quoted name as a message shows it: its last part without quotes, as written on
    MySQL (whose table names are case-sensitive on Linux); on PostgreSQL and SQLite an unquoted name
    lower-cased (as name_of gives it: PostgreSQL folds it), a quoted one as written."""
    last = name.strip().rsplit(".", 1)[-1].strip()
    bare_name = last.strip('"`[]')
    return bare_name if dialect == "mysql" or last[:1] in '"`[' else bare_name.lower()


def _written(st: Stmt, dialect: str, match: re.Match, group: int, offset: int = 0) -> str:
    """A group of a match in st.norm (or in its text from `offset` on), as a message shows it (`shown`)."""
    return shown(cased(st, dialect)[offset + match.start(group):offset + match.end(group)], dialect)


# The first words of the statements _table_renames reads (MySQL RENAME TABLE, ALTER TABLE): a prefix
# test first, not a scan of every statement (a long INSERT) for RENAME.
_RENAMING_WORDS = ("ALTER TABLE ", "RENAME TABLE")


def _created(st: Stmt, dialect: str) -> str | None:
    """The name of the view the statement creates, or on SQLite of the table (the x → _x_old step of a
    rebuild is followed by CREATE TABLE x)."""
    match = _CREATE_VIEW.match(st.norm) or (dialect == "sqlite" and _CREATE_TABLE.match(st.norm))
    return bare(match.group(1)) if match else None


@dataclasses.dataclass(slots=True)
class _Rename:
    old: str  # lower-case, to compare
    index: int  # of its statement
    message: str
    statement: Statement  # reported at it
    where: dict
    kept: bool = False  # the old name still works: a compatibility view, or the other half of a swap
    new: str = ""  # lower-case
    recreated: bool = False  # a table created again under the old name, in the same transaction (not yet filled)


@rule("table.disallow-rename", engines="PMS", category="BC", severity="W", at_end=True,
      summary="`ALTER TABLE … RENAME TO`, MySQL `RENAME TABLE` (not when the next statement is `CREATE VIEW "
              "<old name>`, not either half of a swap (`a` → `a_old` and `a_new` → `a` in the same or the next "
              "statement), not the renames of a SQLite rebuild (the final one, or x → _x_old followed by "
              "`CREATE TABLE x`), not a table created in the file; on PostgreSQL and SQLite, not when a later "
              "statement of the same transaction creates a view under the old name, or a table it fills from the "
              "renamed one).",
      why="Code still running during the rollout queries the old name and fails until every instance runs the "
          "new code.",
      instead="Map the new ORM model to the old table name; or copy to the new table (expand/contract); or leave "
              "a compatibility view under the old name (`CREATE VIEW <old> AS SELECT * FROM <new>`).",
      example="ALTER TABLE customers RENAME TO clients;")
def table_disallow_rename(st: None, ctx: FileContext, payload: dict) -> Iterator[Hit]:
    # What follows a rename (a compatibility view, the other half of a swap) decides it: the renames are
    # recorded as the file goes (_track_table_renames) and reported at its end, each at its statement.
    # (At the end: the statements the rules never see, psql meta-commands and COPY data, may close the file.)
    memo = ctx.memo.get("table.disallow-rename")
    for rename in memo["renames"] if memo else ():
        if not rename.kept:
            yield Hit(rename.message, statement=rename.statement, **rename.where)


@tracker(keywords=("ALTER", "RENAME", "CREATE", "INSERT"), serves=("table.disallow-rename",))
def _track_table_renames(st: Stmt, ctx: FileContext) -> None:
    memo = ctx.memo.get("table.disallow-rename")
    norm = st.norm
    if memo is None and not norm.startswith(_RENAMING_WORDS):
        return  # no rename yet, and none here: nothing to record or keep (the usual case)
    if norm.startswith("CREATE "):
        if memo and memo["last"][0] == st.index - 1 and (name := _created(st, ctx.dialect)):
            for rename in _renamed_at(memo, st.index - 1):
                if rename.old == name:
                    rename.kept = True  # a compatibility view under the old name (or a SQLite rebuild)
        if memo and ctx.dialect != "mysql" and (match := _RECREATED.match(norm)):
            # Later in the same transaction: a view over the renamed table, or a table filled from it (see
            # INSERT below), keeps the name working for every other session.
            name = bare(match.group(1))
            for rename in _in_one_transaction(memo, ctx, name):
                if norm.startswith(("CREATE VIEW", "CREATE OR REPLACE VIEW")):
                    rename.kept = True
                else:
                    rename.recreated = True  # an empty table until the rows come back
        return
    if norm.startswith("INSERT "):
        # The rebuild's copy back: INSERT INTO x … SELECT … FROM x_old, into the table created again.
        if memo and ctx.dialect != "mysql" and (match := _INSERT_INTO.match(norm)):
            for rename in _in_one_transaction(memo, ctx, bare(match.group(1))):
                source = rf"\bFROM (?:\S+\.)?[\"`]?{re.escape(rename.new.upper())}(?![\w$])"
                if rename.recreated and re.search(source, norm):
                    rename.kept = True
        return
    if not norm.startswith(_RENAMING_WORDS) or "RENAME" not in norm:
        return
    renames = _table_renames(st, ctx.dialect)
    if not renames:
        return
    if memo is None:
        memo = ctx.memo["table.disallow-rename"] = {"renames": [], "last": (-1, []), "by_old": {}}
    # A swap: a → a_old and a_new → a in one statement (MySQL's atomic RENAME TABLE) or in two in a row
    # (PostgreSQL, in one transaction). The name a keeps working, and a_new is a staging table.
    olds = [old.lower() for old, _, _ in renames]
    news = [new.lower() for _, new, _ in renames]
    before = memo["last"][1] if memo["last"][0] == st.index - 1 else []
    for rename in _renamed_at(memo, st.index - 1):
        if rename.old in news:
            rename.kept = True
    for position, (old, new, pair) in enumerate(renames):
        if ctx.is_new(old):  # created in this file (includes the last step of a SQLite rebuild)
            continue
        kept = olds[position] in news[position + 1:] or news[position] in olds[:position] or news[position] in before
        rename = _Rename(
            olds[position], st.index, f"renaming table {old} to {new} breaks the code still using {old}: map the "
            f"new model to the old table name, copy to the new table (expand/contract), or create a view {old} "
            f"over {new}", st.statement, leading_words_at(st, pair, 3) if pair else {}, kept, news[position])
        memo["renames"].append(rename)
        memo["by_old"].setdefault(rename.old, []).append(rename)
    memo["last"] = (st.index, olds)


def _in_one_transaction(memo: dict, ctx: FileContext, old: str) -> Iterator[_Rename]:
    """The renames away of `old`, not yet known to keep it, made in the transaction still open: the
    file's own BEGIN, or the one the runner applies it in. PostgreSQL's and SQLite's DDL is transactional,
    so no other session sees the name missing in between (MySQL's commits at once: not asked there)."""
    for rename in memo["by_old"].get(old, ()):
        if not rename.kept and (
                (ctx.in_transaction and rename.statement.line >= ctx.transaction_began_line)
                or ctx.runner_transaction):
            yield rename


def _renamed_at(memo: dict, index: int) -> Iterator[_Rename]:
    """The recorded renames of the statement at `index` (the latest ones)."""
    for rename in reversed(memo["renames"]):
        if rename.index != index:
            return
        yield rename


_RENAME_COLUMN_TOKENS = re.compile(r"RENAME (?!TO |CONSTRAINT )(?:COLUMN )?(\S+) TO (\S+)")
_RENAME_COLUMNS = re.compile(r"\bRENAME COLUMN (\S+) TO ([^\s,]+)")


def _may_rename_columns(st: Stmt) -> bool:
    """RENAME [COLUMN] …, MySQL CHANGE old new; or an INSERT … SELECT (a rebuild's copy). Never a false no."""
    if st.norm.startswith("INSERT"):
        return mentions(st, "SELECT")
    return mentions(st, "RENAME", "CHANGE")


@rule("column.disallow-rename", engines="PMS", category="BC", severity="W",
      nodes=(exp.Alter, exp.Insert, "command"), keywords=("ALTER", "INSERT"),
      summary="`RENAME COLUMN` (also PostgreSQL/SQLite `RENAME col TO x`), MySQL `CHANGE old new`; and a table "
              "rebuild's copy that moves a column's values into a column of another name (`INSERT INTO new_x (…, b) "
              "SELECT …, a FROM x` with a rename of new_x to x, or of x to the copied table, next to it: how "
              "SQLite's migration tools rename a column).",
      why="Code still running during the rollout reads and writes the old column name and fails until every "
          "instance runs the new code.",
      instead="Map the new ORM field to the old column name (`db_column`); or add the new column, dual-write, "
              "backfill, and drop the old one later.",
      example="ALTER TABLE users RENAME COLUMN email TO email_address;")
@only_if(_may_rename_columns)
def column_disallow_rename(st: Stmt, ctx: FileContext, payload: dict) -> Iterator[Hit]:
    def message(table: str, old: str, new: str, how: str = "") -> str:
        return (f"renaming column {table}.{old} to {new}{how} breaks the code still using {old}: map the new field "
                "to the old column name, or add the new column, dual-write, backfill, and drop the old one later")

    table: str | None
    if isinstance(st.ast, exp.Insert):
        for table, old, new, node in _rebuild_renames(st, ctx):
            yield Hit(message(table, old, new, " (the table's rebuild fills the new column from it)"), **at(st, node))
        return
    table = alter_table(st)
    if table is not None:
        if ctx.is_new(table):
            return
        for action in actions(st, exp.RenameColumn):
            yield Hit(message(table, name_of(action.this), name_of(action.args.get("to"))), **at(st, action))
        for action in actions(st, exp.ModifyColumn):
            source = action.args.get("rename_from")
            if source is not None and name_of(source) != name_of(action.this):
                yield Hit(message(table, name_of(source), name_of(action.this)), **at(st, source))
        if ctx.dialect == "mysql" or not actions(st, exp.AlterRename):
            return
    # The tokens: PostgreSQL/SQLite `RENAME col TO x` (misread as a table rename), and Commands.
    match = _ALTER_TABLE_REST.match(st.norm)
    if not match or ctx.is_new(bare(match.group(1))):
        return
    table, rest = _written(st, ctx.dialect, match, 1), match.group(2)

    def written(found: re.Match, group: int) -> str:  # a name of `rest`, as written
        return _written(st, ctx.dialect, found, group, match.start(2))

    found = _RENAME_COLUMN_TOKENS.fullmatch(rest)
    if ctx.dialect != "mysql" and found:
        yield Hit(message(table, written(found, 1), written(found, 2)))
    elif st.ast is None or isinstance(st.ast, exp.Command):
        for pair in _RENAME_COLUMNS.finditer(rest):
            yield Hit(message(table, written(pair, 1), written(pair, 2)))


def _rebuild_renames(st: Stmt, ctx: FileContext) -> Iterator[tuple[str, str, str, exp.Expression]]:
    """(the rebuilt table, old column, new column, the old column's node in the copy) of each column a table
    rebuild's copy (`rebuild_copy`) fills from a column of another name (as is, or cast, coalesced …): not
    when the old column is copied under its own name too."""
    copy = rebuild_copy(st.ast, st.index, ctx)
    if copy is None:
        return
    kept = {folded_column(name_of(column), ctx.dialect) for column, _ in copy.pairs}
    for column, source in copy.pairs:
        if source is None:
            continue
        old, new = name_of(source), name_of(column)
        if folded_column(old, ctx.dialect) != folded_column(new, ctx.dialect) \
                and folded_column(old, ctx.dialect) not in kept:
            yield shown_name(copy.rebuilt, ctx.dialect), old, new, source


_CREATE_SCHEMA = re.compile(r"^CREATE SCHEMA (?:IF NOT EXISTS )?([^\s;]+)")
_RENAME_SCHEMA = re.compile(r"^ALTER SCHEMA (\S+) RENAME TO (\S+)")


@rule("schema.disallow-rename", engines="P", category="BC", severity="W", nodes=("command", exp.Create),
      contains=("SCHEMA",), prefixes=("CREATE SCHEMA", "ALTER SCHEMA"),  # the statements it reads
      summary="`ALTER SCHEMA … RENAME TO`.",
      why="Every query that names the schema, and every search_path that lists it, stops finding its objects.",
      instead="Create the new schema and move objects over while both names work (dual write), then retire the "
              "old one.",
      example="ALTER SCHEMA billing RENAME TO invoicing;")
def schema_disallow_rename(st: Stmt, ctx: FileContext, payload: dict) -> Iterator[str]:
    created = ctx.memo.setdefault("schema.disallow-rename", set())
    if match := _CREATE_SCHEMA.match(st.norm):
        created.add(bare(match.group(1)))
    elif (match := _RENAME_SCHEMA.match(st.norm)) and bare(match.group(1)) not in created:
        old, new = _written(st, ctx.dialect, match, 1), _written(st, ctx.dialect, match, 2)
        yield (f"renaming schema {old} to {new} breaks every query and search_path naming {old}: create the new "
               "schema and move objects over while both work, then retire the old one")


_CREATE_ENUM = re.compile(r"^CREATE TYPE (\S+) AS ENUM\b")
_RENAME_ENUM_VALUE = re.compile(r"^ALTER TYPE (\S+) RENAME VALUE\b")


@rule("type.disallow-rename-enum-value", engines="P", category="BC", severity="W", nodes=("command", exp.Create),
      # it reads CREATE TYPE … AS ENUM and ALTER TYPE … RENAME VALUE only
      contains=("ENUM", "RENAME VALUE"), prefixes=("CREATE TYPE", "ALTER TYPE"),
      summary="`ALTER TYPE … RENAME VALUE`.",
      why="Code still running writes and compares the old label; its INSERTs fail and its filters silently "
          "match nothing.",
      instead="Add the new value (`ADD VALUE`), backfill rows to it, stop writing the old one, and leave it unused.",
      example="ALTER TYPE order_status RENAME VALUE 'shipped' TO 'sent';")
def type_disallow_rename_enum_value(st: Stmt, ctx: FileContext, payload: dict) -> Iterator[str]:
    created = ctx.memo.setdefault("type.disallow-rename-enum-value", set())
    if match := _CREATE_ENUM.match(st.norm):
        created.add(bare(match.group(1)))
    elif (match := _RENAME_ENUM_VALUE.match(st.norm)) and bare(match.group(1)) not in created:
        values = re.findall(r"'((?:[^']|'')*)'", st.text)
        what = f" {values[0]!r} to {values[1]!r}" if len(values) >= 2 else ""
        yield (f"renaming a value of enum {_written(st, ctx.dialect, match, 1)}{what} breaks the code still writing "
               "the old label: add the new value, backfill, and stop writing the old one")


# -- type changes -----------------------------------------------------------------------------------


def _type_sql(kind: exp.Expression, dialect: str) -> str:
    if isinstance(kind, exp.DataType):  # (printed once per spelling of a plain type: `type_sql`)
        return type_sql(kind, _SQLGLOT[dialect]).upper()
    # The Dialect object, not its name: a name costs a registry lookup and settings per call.
    return kind.sql(dialect=sqlglot_dialect(_SQLGLOT[dialect])).upper()


class _LazyTypeSql:
    """A column's new type, rendered (`_type_sql`) on first read: most are never compared with a later
    change, and rendering one costs a generator and a copy of the node. (The rendering works on a
    copy of the node without its parent, so it does not matter that the statement's tree is gone.)"""

    __slots__ = ("node", "dialect", "text")

    def __init__(self, node: exp.Expression, dialect: str):
        self.node: exp.Expression | None = node
        self.dialect = dialect
        self.text: str | None = None

    def get(self) -> str:
        if self.text is None:
            self.text = _type_sql(self.node, self.dialect)
            self.node = None
        return self.text


_VARCHAR_OR_TEXT = re.compile(r"TEXT|(?:VARCHAR|CHARACTER VARYING)(?:\(\d+\))?")


_VARCHAR_LENGTH = re.compile(r"VARCHAR\((\d+)\)")


def _varchar_extended_in_place(old: str, new: str) -> bool:
    """MySQL 8.0 (and MariaDB) extend a VARCHAR in place while its length bytes stay one (up to 255
    bytes) or two (256 and more): checked for the usual charsets (latin1, utf8mb3, utf8mb4: 1, 3 and 4
    bytes a character), since the file may not say which (MariaDB 10.11: varchar(13) → (20) INSTANT)."""
    old_length, new_length = _VARCHAR_LENGTH.fullmatch(old), _VARCHAR_LENGTH.fullmatch(new)
    if old_length is None or new_length is None:
        return False
    before, after = int(old_length.group(1)), int(new_length.group(1))
    return before <= after and all((before * width <= 255) == (after * width <= 255) for width in (1, 3, 4))


_MEMBERS = re.compile(r"^(ENUM|SET)\((.*)\)$", re.DOTALL)
_MEMBER = re.compile(r"'((?:[^']|'')*)'")


def _members_appended(old: str, new: str) -> bool:
    """An ENUM or SET whose members are the old ones with more at the end, stored in as many bytes (an ENUM
    of up to 255 members takes 1, else 2; a SET of up to 8, 16, 24, 32 or 64 members 1, 2, 3, 4 or 8): MySQL
    8.0 changes only the metadata (INSTANT; MariaDB 10.11 too, where a member put in the middle fails with
    ALGORITHM=INSTANT)."""
    old_list, new_list = _MEMBERS.match(old), _MEMBERS.match(new)
    if old_list is None or new_list is None or old_list.group(1) != new_list.group(1):
        return False
    before, after = _MEMBER.findall(old_list.group(2)), _MEMBER.findall(new_list.group(2))
    if len(after) < len(before) or after[:len(before)] != before:
        return False
    if old_list.group(1) == "ENUM":
        return (len(before) > 255) == (len(after) > 255)
    def set_bytes(members: int) -> int:
        return (members + 7) // 8 if members <= 32 else 8

    return set_bytes(len(before)) == set_bytes(len(after))


_NUMERIC = re.compile(r"(?:NUMERIC|DECIMAL)(?:\((\d+)(?:, ?(\d+))?\))?")


def _harmless_pg_change(old: str | None, new: str) -> bool:
    """PostgreSQL changes that need no rewrite, given the old type: widening a varchar, varchar → text,
    a numeric's precision raised with its scale kept, or its bounds lifted (checked on 15: same relfilenode;
    a new scale or a lower precision rewrites)."""
    if old is None:
        return False
    if old == new:
        return True
    if (old_numeric := _NUMERIC.fullmatch(old)) and (new_numeric := _NUMERIC.fullmatch(new)):
        if new_numeric.group(1) is None:
            return True  # unconstrained numeric holds any value the old one did
        return bool(old_numeric.group(1) and int(new_numeric.group(1)) >= int(old_numeric.group(1))
                    and (old_numeric.group(2) or "0") == (new_numeric.group(2) or "0"))
    old_varchar = re.fullmatch(r"(?:VARCHAR|CHARACTER VARYING)(?:\((\d+)\))?", old)
    if old_varchar is None:
        return False
    if new in ("TEXT", "VARCHAR", "CHARACTER VARYING"):
        return True
    new_varchar = re.fullmatch(r"(?:VARCHAR|CHARACTER VARYING)\((\d+)\)", new)
    return bool(new_varchar and old_varchar.group(1) and int(new_varchar.group(1)) >= int(old_varchar.group(1)))


@rule("column.disallow-change-type", engines="PM", category="BC", severity="E", nodes=(exp.Alter, "command"),
      keywords=("ALTER",), actions=(exp.AlterColumn, exp.ModifyColumn),
      summary="`ALTER COLUMN … TYPE`, MySQL `MODIFY`/`CHANGE` with a type, on an existing table (PostgreSQL: not "
              "widening a varchar, varchar → text, or raising a numeric's precision with its scale kept, when the "
              "old type is known from the same file; MySQL: not when the type is known to stay the same, a VARCHAR "
              "to be extended in place, or an ENUM/SET to only gain members at the end).",
      why="Changing a column's type rewrites the whole table under an ACCESS EXCLUSIVE lock that blocks reads and "
          "writes (PostgreSQL) or copies it while blocking writes (MySQL), and clients that read the old type "
          "(drivers, caches, other services) can break.",
      instead="Add a new column of the new type, dual-write, backfill in batches, switch reads, then drop the old "
              "column.",
      example="ALTER TABLE orders ALTER COLUMN amount TYPE numeric(12, 2);")
@only_if(may_change_columns)  # ALTER [COLUMN] … TYPE, MODIFY, CHANGE
def column_disallow_change_type(st: Stmt, ctx: FileContext, payload: dict) -> Iterator[Hit]:
    table, found = altered(st, ctx, (exp.AlterColumn, exp.ModifyColumn), " TYPE ", "MODIFY", "CHANGE")
    if table is None:
        return
    changed = ctx.memo.get("column.disallow-change-type")  # (table, column) → type after the change
    if changed is None:
        changed = ctx.memo["column.disallow-change-type"] = {}
    for action, where in found:
        if not isinstance(action, exp.AlterColumn):
            continue
        kind = action.args.get("dtype")
        if kind is None:
            continue
        column = name_of(action.this)
        before = changed.get((table, column))
        known = (before.get() if before is not None else "") or (ctx.column_types.get((table, column)) or "").upper() \
            or None
        new = changed[(table, column)] = _LazyTypeSql(kind, ctx.dialect)
        # (no old type known: not harmless, whatever the new one; it is rendered only to compare)
        if ctx.is_new(table) or (known is not None and _harmless_pg_change(known, new.get())):
            continue
        # A varchar or text target may only widen a varchar (no rewrite): say so when the old type is unknown.
        unsure = ""
        if known is None and _VARCHAR_OR_TEXT.fullmatch(new.get()):
            unsure = " (unless it only widens a varchar or makes one text: this file does not show the old type)"
        elif known is None and _NUMERIC.fullmatch(new.get()):
            unsure = (" (unless it only raises a numeric's precision, keeping its scale: this file does not show the "
                      "old type)")
        # PostgreSQL 12+ turns a timestamp into a timestamptz without a rewrite when the session's TimeZone
        # is UTC (checked on 15: same relfilenode; another zone rewrites), unless a USING expression is given.
        if ctx.dialect == "postgres" and kind.this == exp.DataType.Type.TIMESTAMPTZ and not action.args.get("using") \
                and (known is None or (known.startswith("TIMESTAMP") and not known.startswith("TIMESTAMPTZ"))):
            unsure = (" (unless it is a timestamp column and" if known is None else " (unless") + \
                " the session's TimeZone is UTC: PostgreSQL 12+ then changes only the catalog)"
        yield Hit(f"changing the type of {table}.{column} rewrites the table{unsure} under an ACCESS EXCLUSIVE "
                  "lock that blocks reads and writes, and can break clients: add a new column, dual-write, backfill, "
                  "then swap", **action_at(st, where, action))
    for action, where in found:
        if not isinstance(action, exp.ModifyColumn):
            continue
        kind = action.this.args.get("kind")
        if kind is None or ctx.is_new(table):
            continue
        old = name_of(action.args.get("rename_from") or action.this)
        known = (ctx.column_types.get((table, old)) or "").upper() or None
        if known is not None:  # (rendered only to compare)
            new_type = _type_sql(kind, ctx.dialect)
            if known == new_type or _varchar_extended_in_place(known, new_type) or _members_appended(known, new_type):
                continue
        verb = "CHANGE" if action.args.get("rename_from") else "MODIFY"
        unsure = ""
        if known is None and kind.this == exp.DataType.Type.VARCHAR:
            unsure = (" (unless it widens a varchar whose byte length stays on one side of 255: that is done in "
                      "place)")
        elif known is None and kind.this in (exp.DataType.Type.ENUM, exp.DataType.Type.SET):
            unsure = " (unless it only appends members at the end of the list: that is instant)"
        yield Hit(f"{verb} {table}.{old} restates its type, so MySQL copies the whole table (blocking writes) "
                  f"if it differs{unsure} and clients can break: add a new column, dual-write, backfill, then swap; to "
                  "change only the default use ALTER COLUMN … SET DEFAULT", **action_at(st, where, action.this))


@rule("column.disallow-change", engines="M", category="BC", severity="W", nodes=(exp.Alter,),
      actions=(exp.ModifyColumn,),
      summary="`CHANGE COLUMN` (renames and redefines a column at once).",
      why="CHANGE restates the whole column definition; anything left out (NOT NULL, DEFAULT, COMMENT, charset) is "
          "silently dropped, and a rename hides among the other changes.",
      instead="Use `MODIFY` to redefine a column and `RENAME COLUMN` to rename it.",
      example="ALTER TABLE users CHANGE email email varchar(320) NOT NULL;")
@only_if(lambda st: mentions(st, "CHANGE"))  # sqlglot reads `rename_from` from CHANGE only
def column_disallow_change(st: Stmt, ctx: FileContext, payload: dict) -> Iterator[Hit]:
    table = alter_table(st)
    if table is None or ctx.is_new(table):
        return
    for action in actions(st, exp.ModifyColumn):
        if action.args.get("rename_from") is not None:
            old, new = name_of(action.args["rename_from"]), name_of(action.this)
            if old.lower() == new.lower():  # (MySQL column names ignore case)
                message = (f"CHANGE COLUMN {table}.{old} keeps its name and redefines it (dropping whatever the new "
                           "definition leaves out): use MODIFY")
            else:
                message = (f"CHANGE COLUMN {table}.{old} renames and redefines at once (and drops whatever the new "
                           "definition leaves out): use MODIFY to redefine, RENAME COLUMN to rename")
            yield Hit(message, **at(st, action.args["rename_from"]))


@rule("column.disallow-changing-order", engines="M", category="BC", severity="W", nodes=(exp.Alter,),
      actions=(exp.ModifyColumn,),
      summary="`MODIFY`/`CHANGE … FIRST` or `AFTER` on an existing table.",
      why="Moving a column rebuilds the table, and code that relies on column order (`SELECT *`, `INSERT` without a "
          "column list) changes behaviour.",
      instead="Leave the column where it is; list columns explicitly in queries.",
      example="ALTER TABLE users MODIFY email varchar(320) AFTER id;")
@only_if(lambda st: mentions(st, "MODIFY", "CHANGE"))  # (sqlglot's ModifyColumn)
def column_disallow_changing_order(st: Stmt, ctx: FileContext, payload: dict) -> Iterator[Hit]:
    table = alter_table(st)
    if table is None or ctx.is_new(table):
        return
    for action in actions(st, exp.ModifyColumn):
        placement = action.this.args.get("position")
        if placement is not None:
            where = str(placement.args.get("position") or "").upper()
            yield Hit(f"moving {table}.{name_of(action.this)} ({where}) rebuilds the table and changes column order "
                      "for SELECT * and INSERT without columns: leave the column where it is", **at(st, action.this))


# -- NOT NULL and defaults -----------------------------------------------------------------------------

_SERIAL = (exp.DataType.Type.SERIAL, exp.DataType.Type.BIGSERIAL, exp.DataType.Type.SMALLSERIAL)  # (see design.T)
_FILLED = (exp.GeneratedAsIdentityColumnConstraint, exp.ComputedColumnConstraint, exp.AutoIncrementColumnConstraint)


def _constraints(definition: exp.ColumnDef) -> list:
    # args, not `.kind`: the compiled sqlglot type-checks that property and raises on some kinds.
    return [c.args.get("kind") for c in definition.args.get("constraints") or () if isinstance(c, exp.ColumnConstraint)]


def _not_null(definition: exp.ColumnDef) -> bool:
    return any(isinstance(c, exp.NotNullColumnConstraint) and not c.args.get("allow_null")
               for c in _constraints(definition))


def _has_default(definition: exp.ColumnDef) -> bool:
    return any(isinstance(c, exp.DefaultColumnConstraint) and not isinstance(c.this, exp.Null)
               for c in _constraints(definition))


def _filled_by_database(definition: exp.ColumnDef) -> bool:
    """serial, identity, generated and AUTO_INCREMENT columns get values without a DEFAULT."""
    kind = definition.args.get("kind")
    if isinstance(kind, exp.DataType) and kind.this in _SERIAL:
        return True
    return any(isinstance(c, _FILLED) for c in _constraints(definition))


def _primary_key(definition: exp.ColumnDef) -> bool:
    return any(isinstance(c, exp.PrimaryKeyColumnConstraint) for c in _constraints(definition))


_NO_LITERAL_DEFAULT = {"BLOB", "TINYBLOB", "MEDIUMBLOB", "LONGBLOB", "TEXT", "TINYTEXT", "MEDIUMTEXT", "LONGTEXT",
                       "JSON", "GEOMETRY", "POINT", "LINESTRING", "POLYGON"}
# The types whose zero value is a zero date (sqlglot reads MySQL's TIMESTAMP as TIMESTAMPTZ).
_ZERO_DATE_TYPES = {"DATE", "DATETIME", "TIMESTAMP", "TIMESTAMPTZ", "TIMESTAMPLTZ"}


@rule("column.add-not-null-require-default", engines="PMS", category="BC", severity="E", nodes=(exp.Alter, "command"),
      keywords=("ALTER",), actions=(exp.ColumnDef,),
      summary="`ADD COLUMN … NOT NULL` (PostgreSQL: or `PRIMARY KEY`) without a `DEFAULT` on an existing table.",
      why="PostgreSQL and SQLite reject it as soon as the table has rows; MySQL silently fills existing rows with "
          "the type's implicit default (a DATE, DATETIME or TIMESTAMP column's zero date makes the ALTER fail under "
          "MySQL 8's default sql_mode) and INSERTs from old code that do not name the column fail in strict mode.",
      instead="Add the column nullable, backfill it, then add NOT NULL (SQLite: rebuild the table); or give it a "
              "constant DEFAULT (MySQL BLOB, TEXT, JSON, GEOMETRY: an expression DEFAULT such as `DEFAULT ('')`).",
      example="ALTER TABLE users ADD COLUMN tenant_id bigint NOT NULL;")
@only_if(lambda st: mentions(st, "NULL", "PRIMARY"))  # no NOT NULL (or PRIMARY KEY), nothing to find
def column_add_not_null_require_default(st: Stmt, ctx: FileContext, payload: dict) -> Iterator[Hit]:
    table, found = altered(st, ctx, exp.ColumnDef, "NULL", "PRIMARY")
    if table is None or ctx.is_new(table):
        return
    for definition, where in found:
        if _has_default(definition) or _filled_by_database(definition):
            continue
        column = f"{table}.{name_of(definition)}"
        if _not_null(definition):
            yield Hit(f"ADD COLUMN {column} NOT NULL without a DEFAULT: {_not_null_advice(definition, ctx.dialect)}",
                      **action_at(st, where, definition))
        elif ctx.dialect == "postgres" and _primary_key(definition):
            # (SQLite refuses any PRIMARY KEY column, rows or not: column.sqlite.add-column-restrictions says so.)
            yield Hit(f"ADD COLUMN {column} PRIMARY KEY (so NOT NULL) without a DEFAULT: PostgreSQL refuses it as "
                      "soon as the table has rows; add it nullable, backfill unique values, then add the primary key",
                      **action_at(st, where, definition))


def _not_null_advice(definition: exp.ColumnDef, dialect: str) -> str:
    if dialect == "sqlite":  # (which has no ALTER COLUMN … SET NOT NULL)
        return ("SQLite refuses it as soon as the table has rows; give it a constant DEFAULT, or rebuild the table "
                "(CREATE TABLE new_t …, INSERT INTO new_t SELECT …, DROP TABLE t, ALTER TABLE new_t RENAME TO t)")
    if dialect == "postgres":
        return ("PostgreSQL refuses it as soon as the table has rows; add it nullable, backfill, then set NOT NULL, "
                "or give it a constant DEFAULT")
    base = kind.this.name if isinstance(kind := definition.args.get("kind"), exp.DataType) else ""
    if base in _ZERO_DATE_TYPES:
        # The rows would get the zero date, which MySQL 8's default sql_mode refuses (ERROR 1292, also on
        # MariaDB in that mode); MariaDB's own default mode lacks NO_ZERO_DATE and fills 0000-00-00.
        return ("MySQL 8's default sql_mode (strict, NO_ZERO_DATE) refuses the zero date it would give existing "
                "rows, so the ALTER fails on a table with rows (error 1292; where it succeeds, they hold 0000-00-00); "
                "add it nullable, backfill, then set NOT NULL, or give it a constant DEFAULT")
    # MySQL 8.0 takes no literal DEFAULT for these types, only an expression (8.0.13+).
    default = ("an expression DEFAULT such as DEFAULT ('') (MySQL then rebuilds the table: no INSTANT add)"
               if base in _NO_LITERAL_DEFAULT else "a constant DEFAULT")
    return ("MySQL fills existing rows with the type's implicit default (0, '', an ENUM's first value), and INSERTs "
            f"from old code that do not name it fail in strict mode; add it nullable, backfill, then set NOT NULL, or "
            f"give it {default}")


@rule("column.set-default-for-not-null", engines="M", category="BC", severity="off", nodes=(exp.Create, exp.Alter),
      summary="A NOT NULL column (in `CREATE TABLE`, `ADD`, `MODIFY` or `CHANGE`) without a DEFAULT (key, "
              "AUTO_INCREMENT, generated and BLOB/TEXT/JSON columns excepted).",
      why="Every INSERT must then name the column; code written before the column existed fails in strict mode.",
      instead="Give every NOT NULL column a DEFAULT.",
      example="CREATE TABLE users (id bigint PRIMARY KEY, email varchar(320) NOT NULL);")
@only_if(lambda st: mentions(st, "NULL"))  # no NOT NULL, nothing to find
def column_set_default_for_not_null(st: Stmt, ctx: FileContext, payload: dict) -> Iterator[Hit]:
    schema = None
    if isinstance(st.ast, exp.Create):
        if str(st.ast.args.get("kind") or "").upper() != "TABLE" or not isinstance(st.ast.this, exp.Schema):
            return
        schema = st.ast.this
        definitions = [e for e in schema.expressions if isinstance(e, exp.ColumnDef)]
    elif alter_table(st) is not None:
        definitions = actions(st, exp.ColumnDef) + [m.this for m in actions(st, exp.ModifyColumn)]
    else:
        return
    keys: set[str] | None = None
    for definition in definitions:
        kind = definition.args.get("kind")
        base = kind.this.name if isinstance(kind, exp.DataType) else ""
        if (not _not_null(definition) or _has_default(definition) or _filled_by_database(definition)
                or base in _NO_LITERAL_DEFAULT
                or any(isinstance(c, exp.PrimaryKeyColumnConstraint) for c in _constraints(definition))):
            continue
        if keys is None:  # the PRIMARY KEY columns: a walk over the table, only for a column that may be flagged
            keys = ({name_of(c) for pk in schema.find_all(exp.PrimaryKey) for c in pk.find_all(exp.Identifier)}
                    if schema is not None else set())
        if name_of(definition) in keys:
            continue
        yield Hit(f"NOT NULL column {name_of(definition)} has no DEFAULT: every INSERT must name it; give it a DEFAULT",
                  **at(st, definition))


@rule("column.drop-default-on-not-null", engines="PM", category="BC", severity="W", nodes=(exp.Alter,),
      actions=(exp.AlterColumn, exp.ModifyColumn),
      summary="`ALTER COLUMN … DROP DEFAULT` on a column known (from this file) to be NOT NULL, on an existing table.",
      why="INSERTs from the code still running do not name the column; with the default gone they fail. Django "
          "emits exactly this right after adding a NOT NULL field with a default.",
      instead="Keep the default until no running code inserts without the column; drop it in a later release.",
      example="ALTER TABLE users ADD COLUMN active boolean DEFAULT true NOT NULL;\n"
              "ALTER TABLE users ALTER COLUMN active DROP DEFAULT;")
@only_if(may_change_columns)  # ALTER [COLUMN] … DROP DEFAULT / SET|DROP NOT NULL, MODIFY
def column_drop_default_on_not_null(st: Stmt, ctx: FileContext, payload: dict) -> Iterator[Hit]:
    table = alter_table(st)
    if table is None:
        return
    # The engine learns NOT NULL from column definitions; SET/DROP NOT NULL are remembered here.
    changed = ctx.memo.get("column.drop-default-on-not-null")  # (table, column) → NOT NULL?
    if changed is None:
        changed = ctx.memo["column.drop-default-on-not-null"] = {}
    for action in actions(st, exp.AlterColumn):
        key = (table, name_of(action.this))
        if action.args.get("allow_null") is not None:
            changed[key] = not action.args["allow_null"]
            continue
        if not action.args.get("drop") or ctx.is_new(table):
            continue
        if changed.get(key, key in ctx.not_null_columns):
            yield Hit(f"DROP DEFAULT on NOT NULL column {key[0]}.{key[1]}: INSERTs from the code still running do not "
                      "name it and start failing; keep the default until that code is gone", **at(st, action))
    for action in actions(st, exp.ModifyColumn):
        changed[(table, name_of(action.this))] = _not_null(action.this)

