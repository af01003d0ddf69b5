"""Naming (catalogue §1.7): the names a migration introduces — tables, columns, indexes,
constraints, views, schemas — as the database will store them.

Only names a statement *introduces* are judged (CREATE, ADD, RENAME … TO): a migration that merely
uses a badly named existing table is not told to rename it.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from typing import Any

from sqlglot import exp

from reviews.engine.model import FileContext, Stmt, name_of, per_statement, sqlglot_parse
from reviews.engine.registry import Hit, rule
from reviews.rules import locking
from reviews.rules.common import (
    INSERTED_INTO,
    NAME_PART,
    QUALIFIED_NAME,
    REBUILD_REACH,
    at,
    bare,
    dropped_tables,
    folded_column,
    mentions,
    rebuild_copy,
)
from reviews.rules.design import (
    TABLE_WORDS,
    clean_text,
    column_defs,
    foreign_keys,
    has_constraint,
    index_defs,
    is_alter_table,
    is_create_table,
    statement_table,
    table_of,
)

SNAKE_CASE = "^[a-z][a-z0-9_]*$"
_FORMAT_SCHEMA = {"properties": {"format": {"type": "string", "minLength": 1, "format": "regex"}}}

# -- reserved words -----------------------------------------------------------------------------


def _postgres_reserved() -> frozenset[str]:
    try:
        from pglast import keywords
    except ImportError:  # pglast is the engine's PostgreSQL judge; a compact list if it is missing
        return frozenset({"all", "analyse", "analyze", "and", "any", "array", "as", "asc", "check", "column",
                          "constraint", "create", "default", "desc", "distinct", "do", "end", "false", "for",
                          "foreign", "from", "grant", "group", "having", "in", "limit", "not", "null", "offset",
                          "on", "only", "or", "order", "primary", "references", "select", "table", "to", "true",
                          "union", "unique", "user", "using", "when", "where", "window", "with"})
    # Reserved, plus the words that may only name a type or function (`left`, `join`, `like`):
    # as table or column names both need quoting.
    return frozenset(keywords.RESERVED_KEYWORDS) | frozenset(keywords.TYPE_FUNC_NAME_KEYWORDS)


def _mysql_reserved() -> frozenset[str]:
    from sqlglot.dialects.mysql import MySQL

    # MySQL 8.0's reserved words (the `(R)` entries of the manual's keyword list).
    return frozenset(getattr(MySQL.Generator, "RESERVED_KEYWORDS", ())) or frozenset({
        "add", "all", "alter", "and", "as", "asc", "by", "check", "column", "constraint", "create", "database",
        "default", "delete", "desc", "distinct", "drop", "from", "group", "having", "in", "index", "insert",
        "into", "key", "keys", "like", "limit", "not", "null", "on", "or", "order", "primary", "range", "rank",
        "references", "rows", "select", "set", "table", "to", "union", "unique", "update", "where", "window",
    })


# Measured on SQLite 3.40: the keywords that fail as an unquoted table, column or index name.
SQLITE_RESERVED = frozenset({
    "add", "all", "alter", "and", "as", "autoincrement", "between", "case", "check", "collate", "commit",
    "constraint", "create", "default", "deferrable", "delete", "distinct", "drop", "else", "escape", "except",
    "exists", "foreign", "from", "group", "having", "if", "in", "index", "insert", "intersect", "into", "is",
    "isnull", "join", "limit", "not", "nothing", "notnull", "null", "on", "or", "order", "primary", "references",
    "returning", "select", "set", "table", "then", "to", "transaction", "union", "unique", "update", "using",
    "values", "when", "where",
})

_RESERVED: dict[str, frozenset[str]] = {}


def reserved_words(dialect: str) -> frozenset[str]:
    if dialect not in _RESERVED:
        _RESERVED[dialect] = {"postgres": _postgres_reserved, "mysql": _mysql_reserved,
                              "sqlite": lambda: SQLITE_RESERVED}[dialect]()
    return _RESERVED[dialect]


# -- the names a statement introduces -----------------------------------------------------------


class Name:
    """A name a statement introduces. A plain class, which the compiled build makes a native one: one is
    built for every column of every CREATE TABLE, and a NamedTuple's constructor is interpreted Python
    (its `__new__`), some 2,600 instructions a name, against a few hundred here."""

    __slots__ = ("kind", "raw", "quoted", "table", "node")

    def __init__(self, kind: str, raw: str, quoted: bool, table: str = "", node: Any = None) -> None:
        self.kind = kind  # table | column | view | index | constraint | schema | sequence | trigger
        self.raw = raw  # as written, without quotes
        self.quoted = quoted
        self.table = table  # a column's or constraint's table (only a column's is read); "" for the other kinds
        self.node = node  # its identifier in the tree (where a finding about it points), None when read from text

    def where(self, st: Stmt) -> dict:
        """The Hit location of the name: its identifier, or the statement."""
        return at(st, self.node) if self.node is not None else {}

    def stored(self, dialect: str) -> str:
        """As the database keeps it: PostgreSQL folds unquoted names to lower case."""
        return self.raw.lower() if dialect == "postgres" and not self.quoted else self.raw


def _name(kind: str, node: exp.Expression | None, table: str = "") -> list[Name]:
    if isinstance(node, exp.Schema):
        node = node.this
    if isinstance(node, (exp.Table, exp.Column)):
        node = node.this
    if isinstance(node, exp.Identifier) and node.this:
        return [Name(kind, str(node.this), bool(node.args.get("quoted")), table, node)]
    return []


def _constraint_names(table: str, node: exp.Expression) -> list[Name]:
    if isinstance(node, exp.Constraint):
        return _name("constraint", node.this, table)
    if isinstance(node, exp.UniqueColumnConstraint):
        return _name("constraint", node.this, table)
    if isinstance(node, exp.IndexColumnConstraint):
        return _name("index", node.this, table)
    return []


def _add_column_names(found: list[Name], table: str, column: exp.ColumnDef, named: bool) -> None:
    """The column's name and, when the statement may name constraints (`named`: it says CONSTRAINT,
    the only way to name one of a column's), its constraints' names, added to `found` (no list per
    column)."""
    ident = column.this
    if isinstance(ident, exp.Identifier) and ident.this:  # as `_name` reads it, inline: the usual case
        found.append(Name("column", str(ident.this), bool(ident.args.get("quoted")), table, ident))
    else:
        found += _name("column", ident, table)
    if not named:
        return
    for constraint in column.args.get("constraints") or ():
        if constraint.this is not None:  # most constraints are unnamed
            found += _name("constraint", constraint.this, table)


_RENAME_TABLE = re.compile(r"(?is)^\s*RENAME\s+TABLES?\s+(.*)$")
# PostgreSQL's `CREATE SCHEMA AUTHORIZATION role` names the schema after the role (the keyword is no
# name): the role is the name, unless it is CURRENT_ROLE / CURRENT_USER / SESSION_USER (no name here).
_CREATE_SCHEMA = re.compile(r'(?is)^\s*CREATE\s+(?:SCHEMA|DATABASE)\s+(?:IF\s+NOT\s+EXISTS\s+)?'
                            r'(?:AUTHORIZATION\s+(?=["`\w$]))?("[^"]+"|`[^`]+`|[\w$]+)')
_ROLE_KEYWORDS = frozenset({"current_role", "current_user", "session_user"})
# PostgreSQL's ALTER TABLE … RENAME CONSTRAINT a TO b, which sqlglot leaves a Command.
_RENAME_CONSTRAINT = re.compile(r'(?is)^\s*ALTER\s+TABLE\s.*?\sRENAME\s+CONSTRAINT\s+(?:"(?:[^"]|"")*"|[\w$]+)\s+TO\s+'
                                r'("(?:[^"]|"")*"|[\w$]+)')
# MySQL's CREATE [DEFINER = …] TRIGGER [IF NOT EXISTS] name, which sqlglot leaves a Command.
_CREATE_TRIGGER = re.compile(r"(?is)^\s*CREATE\s+(?:OR\s+REPLACE\s+)?(?:DEFINER\s*=.*?\s)?TRIGGER\s+"
                             r"(?:IF\s+NOT\s+EXISTS\s+)?((?:`[^`]+`|[\w$]+)(?:\s*\.\s*(?:`[^`]+`|[\w$]+))?)")


def _raw(token: str, kind: str = "table") -> Name | None:
    token = token.strip().rsplit(".", 1)[-1].strip()
    if not token:
        return None
    quoted = token[0] in "\"`" and token[-1] == token[0] and len(token) > 1
    return Name(kind, token[1:-1] if quoted else token, quoted)


_TO_SEPARATOR = re.compile(r"(?i)\s+TO\s+")


# Gate (`actions`) of the rules that read nothing but `introduced`: the ALTER actions it reads; those
# that name a column (ALTER TABLE t RENAME a TO b is an AlterRename), and those that name a table.
NAME_ACTIONS = (exp.ColumnDef, exp.AlterRename, exp.RenameColumn, exp.ModifyColumn, exp.AddConstraint, exp.RenameIndex)
COLUMN_NAME_ACTIONS = (exp.ColumnDef, exp.AlterRename, exp.RenameColumn, exp.ModifyColumn)
TABLE_NAME_ACTIONS = (exp.AlterRename,)


@per_statement
def introduced(st: Stmt) -> tuple[Name, ...]:
    """The names a statement introduces (CREATE …, ADD …, RENAME … TO). Read by half a dozen rules:
    a shared tuple."""
    return tuple(_introduced(st))


def _introduced(st: Stmt) -> list[Name]:
    ast = st.ast
    found: list[Name] = []
    if isinstance(ast, exp.Create):
        kind = ast.args.get("kind")
        if kind == "TABLE":
            table = statement_table(st)
            found += _name("table", ast.this)
            if isinstance(ast.this, exp.Schema):
                named = mentions(st, "CONSTRAINT")
                for element in ast.this.expressions:
                    if isinstance(element, exp.ColumnDef):
                        _add_column_names(found, table, element, named)
                    else:
                        found += _constraint_names(table, element)
        elif kind == "INDEX" and isinstance(ast.this, exp.Index):
            found += _name("index", ast.this.this)
        elif kind == "VIEW":
            found += _name("view", ast.this)
        elif kind == "SEQUENCE":
            found += _name("sequence", ast.this)
        elif kind in ("SCHEMA", "DATABASE") and isinstance(ast.this, exp.Table):
            found += _name("schema", ast.this.args.get("db") or ast.this.this)
    elif is_alter_table(ast):
        table = statement_table(st)
        for action in ast.args.get("actions") or ():
            if isinstance(action, exp.ColumnDef):
                _add_column_names(found, table, action, mentions(st, "CONSTRAINT"))
            elif isinstance(action, exp.AlterRename):
                # `ALTER TABLE t RENAME a TO b` (no COLUMN) reads as a rename whose target sits in options.
                to_column = [o for o in ast.args.get("options") or () if isinstance(o, exp.ToTableProperty)]
                found += _name("column", to_column[0].this, table) if to_column else _name("table", action.this)
            elif isinstance(action, exp.RenameColumn):
                found += _name("column", action.args.get("to"), table)
            elif isinstance(action, exp.ModifyColumn) and action.args.get("rename_from") is not None:
                new = action.this.this if isinstance(action.this, exp.ColumnDef) else None
                if name_of(new) != name_of(action.args["rename_from"]):  # CHANGE a a …: no new name
                    found += _name("column", new, table)
            elif isinstance(action, exp.AddConstraint):
                for element in action.expressions:
                    found += _constraint_names(table, element)
            elif isinstance(action, exp.RenameIndex):  # MySQL's RENAME INDEX|KEY a TO b
                found += _name("index", action.args.get("to"), table)
    elif isinstance(ast, exp.Alter) and ast.args.get("kind") == "INDEX":  # ALTER INDEX a RENAME TO b
        for action in ast.args.get("actions") or ():
            if isinstance(action, exp.AlterRename):
                found += _name("index", action.this)
    elif isinstance(ast, exp.Attach) and isinstance(ast.this, exp.Alias):  # SQLite's schemas
        found += _name("schema", ast.this.args.get("alias"))
    elif not st.parsed and ("RENAME" in st.norm or "CREATE" in st.norm):
        # Both patterns start the cleaned text with their keyword; only comments, strings and blanks
        # precede it there, so st.norm has it too: no cleaning of the other unparsed statements.
        text = clean_text(st.text)
        if match := _RENAME_TABLE.match(text):
            for pair in match.group(1).split(","):
                parts = _TO_SEPARATOR.split(pair)
                if len(parts) == 2 and (name := _raw(parts[1])):
                    found.append(name)
        elif (match := _CREATE_SCHEMA.match(text)) and match.group(1).lower() not in _ROLE_KEYWORDS \
                and (name := _raw(match.group(1), "schema")):
            found.append(name)
        elif "RENAME CONSTRAINT" in st.norm and (match := _RENAME_CONSTRAINT.match(text)) \
                and (name := _raw(match.group(1), "constraint")):
            found.append(name)
        elif st.dialect == "mysql" and "TRIGGER" in st.norm and (match := _CREATE_TRIGGER.match(text)) \
                and (name := _raw(match.group(1), "trigger")):
            found.append(name)
    return found


_CAMEL_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_NON_IDENTIFIER_CHARS = re.compile(r"[^a-z0-9_]+")


def snake_case(name: str) -> str:
    name = _CAMEL_BOUNDARY.sub("_", name)
    name = _NON_IDENTIFIER_CHARS.sub("_", name.lower()).strip("_")
    return name if name and name[0].isalpha() else f"x_{name}"


_PAYLOAD_PATTERNS: dict[tuple[str, int], re.Pattern | None] = {}


def _fails(pattern: str, name: str, flags: int = 0) -> bool:
    compiled = _compiled(pattern, flags)
    if compiled is None:
        return False  # a bad pattern is the policy's problem (validated on save), not every file's
    return compiled.search(name) is None


def _compiled(pattern: str, flags: int = 0) -> re.Pattern | None:
    """A payload's pattern compiled (remembered), None when it is not a valid regex."""
    compiled = _PAYLOAD_PATTERNS.get((pattern, flags), False)
    if compiled is False:
        try:
            compiled = re.compile(pattern, flags)
        except re.error:
            compiled = None
        if len(_PAYLOAD_PATTERNS) < 256:
            _PAYLOAD_PATTERNS[(pattern, flags)] = compiled
    return compiled


# -- tables and columns -------------------------------------------------------------------------


# A deployment tool's placeholder in a name (osTicket's `%TABLE_PREFIX%`, Flyway's `${prefix}`, Jinja's
# `{{ prefix }}`): the tool writes the real name, so the format rules leave such a name alone.
_PLACEHOLDER = re.compile(r"\$\{[^{}]*\}|\{\{.*?\}\}|%\w+%")


def _plural(word: str) -> str:
    if word.endswith(("s", "x", "z", "ch", "sh")):
        return f"{word}es"
    if word.endswith("y") and word[-2:-1] not in ("", "a", "e", "i", "o", "u"):
        return f"{word[:-1]}ies"
    return f"{word}s"


@functools.lru_cache(maxsize=1024)  # (the same camelCase column names recur from table to table)
def _suggestion(stored: str, compiled: re.Pattern, dialect: str) -> tuple[str, str]:
    """What to rename a name that fails the format to, and why not simply its snake_case spelling:
    that spelling, or (when it is a reserved word, which would need quoting forever) its plural or an
    app_ name; "" when none of them matches the format."""
    name = snake_case(stored)
    words = reserved_words(dialect)
    if name not in words:
        return (name if compiled.search(name) else ""), ""
    others = [n for n in (_plural(name), f"app_{name}") if n not in words and compiled.search(n)]
    return " or ".join(others), f"; {name} is a reserved word"


_DROP_IF_EXISTS = re.compile(r"^DROP (?:TEMPORARY )?TABLE IF EXISTS ", re.I)
_RENAMED_AWAY = re.compile(rf"^ALTER TABLE (?:IF EXISTS )?(?:ONLY )?({QUALIFIED_NAME}) RENAME TO ", re.I)
_RENAME_TABLES = re.compile(
    rf"^RENAME TABLES? ((?:{QUALIFIED_NAME}) TO (?:{QUALIFIED_NAME})(?: ?, ?{QUALIFIED_NAME} TO {QUALIFIED_NAME})*)", re.I)


def _stored_name(token: str, dialect: str) -> str:
    """A (possibly qualified, possibly quoted) table name as written, as the database keeps it."""
    last = re.findall(NAME_PART, token)[-1]
    if last[0] in "\"`[":
        return last[1:-1].replace(last[0] * 2, last[0]) if last[0] != "[" else last[1:-1]
    return last.lower() if dialect == "postgres" else last


def _gone_later(st: Stmt, ctx: FileContext, table: str, *, renamed: bool) -> bool:
    """Whether a later statement of the file drops the table (or, with `renamed`, renames it away): a
    transient table (a rebuild's `_x_old`, a backfill's `_tmp_x`) whose name no schema keeps. (The
    columns of a table renamed away are kept: a rebuild's `new_x` becomes x.)"""
    if not table:
        return False
    gone = _tables_gone(ctx)
    key = table if ctx.dialect == "postgres" else table.lower()
    return any(index > st.index and (renamed or not by_rename) for index, by_rename, _ in gone.get(key, ()))


def _restored(st: Stmt, ctx: FileContext, table: str) -> bool:
    """Whether an earlier statement of the file drops the table (not IF EXISTS) or renames it away: the
    name was the schema's already (a rebuild's table that takes its old name back, the other half of a
    swap), not one this statement introduces."""
    gone = _tables_gone(ctx)
    key = table if ctx.dialect == "postgres" else table.lower()
    return any(index < st.index and surely for index, _, surely in gone.get(key, ()))


@per_statement
def _copied_by_name(st: Stmt, ctx: FileContext) -> frozenset[str]:
    """The columns (`folded_column`) of the table a CREATE TABLE makes that a table rebuild's copy
    (`rebuild_copy`) next to it fills from the column of the same name: the rebuilt table had them."""
    table = bare(statement_table(st)) if is_create_table(st.ast) else ""
    for other in range(st.index + 1, min(st.index + 1 + REBUILD_REACH, ctx.statement_count)) if table else ():
        if (match := INSERTED_INTO.match(ctx.flat_of(other))) and bare(match.group(1)) == table:
            try:
                trees = sqlglot_parse(ctx.statements[other].text, ctx.dialect)
            except Exception:  # ParseError, TokenError, and TypeError from the compiled build
                return frozenset()
            copy = rebuild_copy(trees[0] if len(trees) == 1 else None, other, ctx)
            new = [(folded_column(name_of(column), ctx.dialect), source) for column, source in copy.pairs] if copy else []
            return frozenset(name for name, source in new
                             if source is not None and folded_column(name_of(source), ctx.dialect) == name)
    return frozenset()


def _tables_gone(ctx: FileContext) -> dict[str, list[tuple[int, bool, bool]]]:
    """Every table name the file drops or renames away: name (as the database keeps it; other dialects
    than PostgreSQL lower-cased) → (statement index, whether by a rename, whether the table surely
    existed: not a DROP … IF EXISTS). Read once per file, when the first name fails the format."""
    gone = ctx.memo.get("naming.tables_gone")
    if gone is not None:
        return gone
    gone = ctx.memo["naming.tables_gone"] = {}
    for index in range(len(ctx.statements)):
        text = ctx.flat_of(index)
        if text[:6].upper() not in ("DROP T", "ALTER ", "RENAME"):
            continue
        by_rename, surely = True, True
        if names := dropped_tables(text):
            by_rename, surely = False, _DROP_IF_EXISTS.match(text) is None
        elif match := _RENAMED_AWAY.match(text):
            names = [match.group(1)]
        elif match := _RENAME_TABLES.match(text):
            names = re.findall(QUALIFIED_NAME, match.group(1))[::3]  # a TO b, c TO d: a and c
        else:
            continue
        for name in names:
            stored = _stored_name(name, ctx.dialect)
            gone.setdefault(stored if ctx.dialect == "postgres" else stored.lower(), []).append(
                (index, by_rename, surely))
    return gone


def _format_rule(st: Stmt, ctx: FileContext, payload: dict, kind: str) -> list[Hit]:
    found: list[Hit] = []
    names = introduced(st)
    if not names:
        return found
    compiled = _compiled(payload["format"])  # once per statement, not once per name
    if compiled is None:
        return found  # as _fails says: a bad pattern fails no name
    for name in names:
        if name.kind != kind:
            continue
        stored = name.stored(ctx.dialect)
        if compiled.search(stored) is None and not _PLACEHOLDER.search(stored) \
                and not _gone_later(st, ctx, stored if kind == "table" else name.table, renamed=kind == "table") \
                and not (kind == "table" and _restored(st, ctx, stored)) \
                and not (kind == "column" and folded_column(stored, ctx.dialect) in _copied_by_name(st, ctx)):
            found.append(_format_hit(st, ctx, payload, name, stored, compiled))
    return found


def _format_hit(st: Stmt, ctx: FileContext, payload: dict, name: Name, stored: str, compiled: re.Pattern) -> Hit:
    """The finding of a name (`stored`: as the database keeps it) that does not match the format."""
    # As the dialect quotes a name (MySQL: backticks, a habit there: case does not stick to them).
    quote, advice = ("`", "lower-case snake_case") if ctx.dialect == "mysql" else ('"', "lower-case snake_case, unquoted")
    where = f"{name.table}." if name.table and name.kind == "column" else ""
    shown = f"{quote}{stored.replace(quote, quote * 2)}{quote}" if name.quoted else stored
    suggestion, reserved = _suggestion(stored, compiled, ctx.dialect)
    rename = f"name it {suggestion} ({advice}{reserved})" if suggestion else "rename it to match that format"
    return Hit(f"{name.kind} name {where}{shown} does not match {payload['format']}: {rename}", **name.where(st))


# Gate (`contains`): a table or column name is introduced only by CREATE TABLE, ALTER TABLE or (unparsed)
# RENAME TABLE: design's gate (see there why a quote lets a statement through too).
@rule("naming.table", engines="PMS", category="NAME", severity="W", nodes=(exp.Create, exp.Alter, "command"),
      contains=TABLE_WORDS,
      payload={"format": SNAKE_CASE}, schema=_FORMAT_SCHEMA,
      actions=TABLE_NAME_ACTIONS,
      summary="A new or renamed table whose name does not match `format` (default lower-case snake_case), "
              'quoted names such as `"UserAccount"` included; not a transient table that the same file drops or '
              "renames away (a rebuild's `_x_old`, a backfill's `_tmp_x`), nor a name the file gave up earlier (a "
              "DROP TABLE without IF EXISTS, a rename away): a rebuild's or a swap's table taking the old name back.",
      why="Mixed-case or quoted names must be quoted in every query forever; one naming style keeps "
          "ORM mappings and hand-written SQL predictable.",
      instead="A lower-case snake_case name such as `user_account`.",
      example='CREATE TABLE "UserAccount" (id bigint PRIMARY KEY);')
def naming_table(st: Stmt, ctx: FileContext, payload: dict) -> list[Hit]:
    return _format_rule(st, ctx, payload, "table")


@rule("naming.column", engines="PMS", category="NAME", severity="W", nodes=(exp.Create, exp.Alter),
      contains=TABLE_WORDS,
      payload={"format": SNAKE_CASE}, schema=_FORMAT_SCHEMA,
      actions=COLUMN_NAME_ACTIONS,
      summary="A new or renamed column whose name does not match `format` (default lower-case snake_case); not "
              "a column that a table rebuild's copy fills from a column of the same name (the rebuilt table had it).",
      why="Mixed-case or quoted column names must be quoted in every query forever.",
      instead="A lower-case snake_case name such as `created_at`.",
      example='ALTER TABLE t ADD COLUMN "createdAt" timestamptz;')
def naming_column(st: Stmt, ctx: FileContext, payload: dict) -> list[Hit]:
    return _format_rule(st, ctx, payload, "column")


# -- index and constraint names -----------------------------------------------------------------


_REGEX_METACHAR = re.compile(r"[\\\[\](){}|*+?^$]")


def _expected(template: str, values: dict[str, str]) -> tuple[str, str]:
    """The regex a template becomes, and the name it asks for (when the template is a plain name)."""
    pattern, wanted = template, template
    for key, value in values.items():
        pattern = pattern.replace("{{" + key + "}}", re.escape(value))
        wanted = wanted.replace("{{" + key + "}}", value)
    wanted = wanted.removeprefix("^").removesuffix("$")
    if _REGEX_METACHAR.search(wanted):
        wanted = ""
    return pattern, wanted


def _template_message(what: str, name: str, template: str, values: dict[str, str]) -> str | None:
    pattern, wanted = _expected(template, values)
    if not _fails(pattern, name, re.IGNORECASE):  # the table's spelling may differ in case from the index's
        return None
    suggestion = f"name it {wanted}" if wanted else f"follow the template {template}"
    return f"{what} name {name} does not follow {template}: {suggestion}"


_INDEX_TEMPLATE = {"type": "string", "minLength": 1, "format": "regex"}


def _index_rule(st: Stmt, ctx: FileContext, payload: dict, kinds: tuple[str, ...], what: str) -> Iterator[str]:
    for index in index_defs(st, ctx.dialect):
        if index.kind not in kinds or not index.name or None in index.columns:
            continue
        values = {"table": index.table, "column_list": "_".join(c for c in index.columns if c)}
        if message := _template_message(what, index.name, payload["format"], values):
            yield message


@rule("naming.index.idx", engines="PMS", category="NAME", severity="off", nodes=(exp.Create, exp.Alter),
      payload={"format": "^idx_{{table}}_{{column_list}}$"}, schema={"properties": {"format": _INDEX_TEMPLATE}},
      summary="Explicitly named (non-unique) indexes not matching `format` (`{{table}}`, `{{column_list}}` "
              "placeholders; unnamed indexes are allowed).",
      why="Predictable index names make plans, errors and later DROP INDEX statements easy to read.",
      instead="Name indexes `idx_<table>_<columns>`.",
      example="CREATE INDEX by_email ON users (email);")
def naming_index_idx(st: Stmt, ctx: FileContext, payload: dict) -> Iterator[str]:
    yield from _index_rule(st, ctx, payload, ("index", "fulltext", "spatial"), "index")


@rule("naming.index.uk", engines="PMS", category="NAME", severity="off", nodes=(exp.Create, exp.Alter),
      payload={"format": "^uk_{{table}}_{{column_list}}$"}, schema={"properties": {"format": _INDEX_TEMPLATE}},
      summary="Explicitly named unique indexes/constraints not matching `format` (unnamed ones are allowed).",
      why="Predictable names make unique-violation errors say at once which columns clashed.",
      instead="Name unique keys `uk_<table>_<columns>`.",
      example="CREATE UNIQUE INDEX email_unique ON users (email);")
def naming_index_uk(st: Stmt, ctx: FileContext, payload: dict) -> Iterator[str]:
    yield from _index_rule(st, ctx, payload, ("unique",), "unique key")


@rule("naming.index.pk", engines="PMS", category="NAME", severity="off", nodes=(exp.Create, exp.Alter),
      payload={"format": "^pk_{{table}}_{{column_list}}$"}, schema={"properties": {"format": _INDEX_TEMPLATE}},
      summary="Explicitly named primary keys not matching `format` (unnamed ones are allowed; MySQL "
              "ignores the name).",
      why="Predictable constraint names make errors and later ALTER statements easy to write.",
      instead="Name primary keys `pk_<table>_<columns>`.",
      example="ALTER TABLE users ADD CONSTRAINT users_key PRIMARY KEY (id);")
def naming_index_pk(st: Stmt, ctx: FileContext, payload: dict) -> Iterator[str]:
    yield from _index_rule(st, ctx, payload, ("primary",), "primary key")


@rule("naming.index.fk", engines="PMS", category="NAME", severity="off", nodes=(exp.Create, exp.Alter),
      payload={"format": "^fk_{{referencing_table}}_{{referencing_column}}_{{referenced_table}}_"
                         "{{referenced_column}}$"},
      schema={"properties": {"format": _INDEX_TEMPLATE}},
      summary="Explicitly named foreign keys not matching `format` (unnamed ones are allowed).",
      why="Predictable names make FK violations say at once which relation failed.",
      instead="Name foreign keys `fk_<table>_<column>_<referenced table>_<referenced column>`.",
      example="ALTER TABLE orders ADD CONSTRAINT orders_customer FOREIGN KEY (customer_id) REFERENCES customers (id);")
def naming_index_fk(st: Stmt, ctx: FileContext, payload: dict) -> Iterator[str]:
    for fk in foreign_keys(st):
        if not fk.name or not fk.ref_columns:
            continue
        values = {"referencing_table": fk.table, "referencing_column": "_".join(fk.columns),
                  "referenced_table": fk.ref_table, "referenced_column": "_".join(fk.ref_columns)}
        if message := _template_message("foreign key", fk.name, payload["format"], values):
            yield message


def _check_names(st: Stmt) -> list[tuple[str, str]]:
    """(table, name) of the named CHECK constraints a statement adds."""
    found: list[tuple[str, str]] = []
    ast = st.ast
    elements: list[exp.Expression] = []
    columns: list[exp.ColumnDef] = [c for _, c, _ in column_defs(st)]
    if is_create_table(ast) and isinstance(ast.this, exp.Schema):
        elements = [e for e in ast.this.expressions if not isinstance(e, exp.ColumnDef)]
    elif is_alter_table(ast):
        elements = [e for a in ast.args.get("actions") or () if isinstance(a, exp.AddConstraint) for e in a.expressions]
    table = table_of(ast) if elements or columns else ""
    for element in elements:
        if isinstance(element, exp.Constraint) and any(isinstance(e, exp.CheckColumnConstraint)
                                                       for e in element.expressions):
            found.append((table, name_of(element.this)))
    for column in columns:
        for constraint in column.args.get("constraints") or ():
            if isinstance(constraint.args.get("kind"), exp.CheckColumnConstraint) and constraint.this is not None:
                found.append((table, name_of(constraint.this)))
    return found


@rule("naming.check", engines="PMS", category="NAME", severity="off", nodes=(exp.Create, exp.Alter),
      payload={"format": "^ck_{{table}}_[a-z0-9_]+$"}, schema={"properties": {"format": _INDEX_TEMPLATE}},
      summary="Explicitly named CHECK constraints not matching `format` (a regex; `{{table}}` is the table).",
      why="Predictable names make check-violation errors easy to trace.",
      instead="Name checks `ck_<table>_<what>`.",
      example="ALTER TABLE t ADD CONSTRAINT positive CHECK (amount > 0);")
def naming_check(st: Stmt, ctx: FileContext, payload: dict) -> Iterator[str]:
    for table, name in _check_names(st):
        pattern, _ = _expected(payload["format"], {"table": table})
        if name and _fails(pattern, name, re.IGNORECASE):
            yield f"check constraint name {name} does not match {payload['format']}: rename it (e.g. ck_{table}_…)"


@rule("naming.schema", engines="PMS", category="NAME", severity="off", nodes=(exp.Create, exp.Attach, "command"),
      payload={"format": SNAKE_CASE}, schema=_FORMAT_SCHEMA,
      summary="New schemas (MySQL: databases; SQLite: `ATTACH … AS name`) whose name does not match `format`.",
      why="One naming style for schemas keeps qualified names predictable.",
      instead="A lower-case snake_case name.",
      example='CREATE SCHEMA "Billing";')
def naming_schema(st: Stmt, ctx: FileContext, payload: dict) -> list[Hit]:
    return _format_rule(st, ctx, payload, "schema")


@rule("naming.column.auto-increment", engines="M", category="NAME", severity="off", nodes=(exp.Create, exp.Alter),
      payload={"format": "^id$"}, schema=_FORMAT_SCHEMA,
      summary="An AUTO_INCREMENT column whose name does not match `format` (default `id`).",
      why="A conventional name for the surrogate key lets tools and people find it without looking.",
      instead="Name the auto-increment column `id`.",
      example="CREATE TABLE t (t_id bigint unsigned AUTO_INCREMENT PRIMARY KEY);")
def naming_column_auto_increment(st: Stmt, ctx: FileContext, payload: dict) -> Iterator[Hit]:
    for table, column, _ in column_defs(st):
        if has_constraint(column, exp.AutoIncrementColumnConstraint) and _fails(payload["format"], column.name):
            yield Hit(f"auto-increment column {table}.{column.name} does not match {payload['format']}: "
                      "rename it (e.g. id)", **at(st, column))


# -- identifiers of every kind ------------------------------------------------------------------

_ANY_NAME = (exp.Create, exp.Alter, exp.Attach, "command")


@rule("naming.identifier.no-keyword", engines="PMS", category="NAME", severity="W", nodes=_ANY_NAME,
      actions=NAME_ACTIONS,
      summary="A new identifier (table, column, index, constraint, view, schema) that is a reserved word "
              "of the dialect (`order`, `group`, `select`; PostgreSQL also `user`), even when quoted.",
      why="A reserved word must be quoted in every statement that names it (for a table or column, every query; "
          "for an index or constraint, the DDL and index hints); one that forgets fails with a syntax error, and "
          "ORMs and hand-written SQL forget.",
      instead="A name that is not a keyword (`orders`, `app_user`, `sort_order`).",
      example='CREATE TABLE "user" (id bigint PRIMARY KEY);')
def naming_identifier_no_keyword(st: Stmt, ctx: FileContext, payload: dict) -> list[Hit]:
    found: list[Hit] = []
    names = introduced(st)
    if not names:
        return found
    words = reserved_words(ctx.dialect)
    postgres = ctx.dialect == "postgres"
    for name in names:
        # PostgreSQL: `"User"` is not the keyword `user` (quoted names keep their case: Name.stored,
        # inline); MySQL and SQLite compare keywords without regard to case.
        if (name.raw if postgres and name.quoted else name.raw.lower()) in words:
            found.append(Hit(f"{name.kind} name {name.raw} is a reserved word in {ctx.dialect}: "
                             f"{_keyword_cost(name.kind, ctx.dialect)}", **name.where(st)))
    return found


# Where a statement names an index, constraint or trigger, which no query that reads or writes rows does: its
# DDL, and MySQL's index hints (a unique or foreign key is an index of that name there), SQLite's INDEXED BY,
# PostgreSQL's ON CONFLICT ON CONSTRAINT.
_NAMED_IN = {
    ("index", "mysql"): "DDL statements and index hints (FORCE INDEX …)",
    ("constraint", "mysql"): "DDL statements (and index hints, for a key)",
    ("index", "sqlite"): "DDL statements and INDEXED BY clauses",
    ("constraint", "postgres"): "DDL statements and ON CONFLICT ON CONSTRAINT clauses",
}


def _keyword_cost(kind: str, dialect: str) -> str:
    """What a reserved word as a name of this kind costs, and what to do instead."""
    if kind in ("index", "constraint", "trigger"):
        example = "its table and event" if kind == "trigger" else "its table and columns"
        return (f"{_NAMED_IN.get((kind, dialect), 'DDL statements')} that name it must quote it: rename it to a name "
                f"that is not a keyword (e.g. one built from {example})")
    return ("every query would have to quote it: rename it to a name that is not a keyword (e.g. a plural or a "
            "more specific name)")


@rule("naming.identifier.case", engines="PM", category="NAME", severity="off", nodes=_ANY_NAME,
      payload={"case": "lower"},
      schema={"properties": {"case": {"enum": ["lower", "upper"]}}},
      actions=NAME_ACTIONS,
      summary="A new identifier not entirely in the configured case (`case`: lower or upper), as the "
              "database stores it.",
      why="Mixed case makes names depend on quoting (PostgreSQL) or on the file system (MySQL table "
          "names with lower_case_table_names=0).",
      instead="Write names in the configured case.",
      example='CREATE TABLE "Orders" (id bigint PRIMARY KEY);')
def naming_identifier_case(st: Stmt, ctx: FileContext, payload: dict) -> Iterator[Hit]:
    upper = payload["case"] == "upper"
    for name in introduced(st):
        stored = name.stored(ctx.dialect)
        wanted = stored.upper() if upper else stored.lower()
        if stored != wanted and not _PLACEHOLDER.search(stored):  # (the deployment tool writes that part)
            yield Hit(f"{name.kind} name {stored} is not {payload['case']}-case: name it {wanted}", **name.where(st))


@rule("naming.identifier.max-length", engines="PM", category="NAME", severity="W",
      severity_by_engine={"mysql": "error"}, nodes=_ANY_NAME,
      actions=NAME_ACTIONS,
      summary="A new identifier longer than PostgreSQL's 63 bytes (truncated, with only a NOTICE) or MySQL's 64 "
              "characters (an error).",
      why="PostgreSQL truncates longer names to 63 bytes without an error, so two long names can collide "
          "and later statements that spell the full name miss the object; MySQL rejects the statement.",
      instead="A shorter name.",
      example="CREATE INDEX idx_customer_invoices_by_billing_period_and_status_and_currency_code ON t (a);")
def naming_identifier_max_length(st: Stmt, ctx: FileContext, payload: dict) -> list[Hit]:
    found: list[Hit] = []
    for name in introduced(st):
        if len(name.raw) <= 63 and name.raw.isascii():
            continue  # the usual name: stored in as many bytes as it has characters, 63 at most
        stored = name.stored(ctx.dialect)
        if ctx.dialect == "postgres" and len(stored.encode()) > 63:
            truncated = stored.encode()[:63].decode(errors="ignore")
            found.append(Hit(f"{name.kind} name {stored} is {len(stored.encode())} bytes: PostgreSQL truncates it "
                             f"without an error (only a NOTICE) to 63 bytes ({truncated}): choose a shorter name",
                             **name.where(st)))
        elif ctx.dialect == "mysql" and len(stored) > 64:
            found.append(Hit(f"{name.kind} name {stored} is {len(stored)} characters: MySQL rejects names over 64: "
                             "choose a shorter name", **name.where(st)))
    return found


# -- schema qualification -----------------------------------------------------------------------


def _unqualified(tables: list[exp.Table], cte_names: set[str], temporary: set[str]) -> list[str]:
    seen: list[str] = []
    for table in tables:
        name = name_of(table)
        if name and not table.args.get("db") and name not in cte_names and name not in temporary and name not in seen:
            seen.append(name)
    return seen


@rule("naming.fully-qualified", engines="P", category="NAME", severity="off",
      nodes=(exp.Create, exp.Alter, exp.Drop, exp.Insert, exp.Update, exp.Delete, exp.Select, exp.Comment, "command"),
      summary="Object names without a schema (`orders` instead of `public.orders`) in DDL and DML.",
      why="An unqualified name is resolved through search_path, which differs between roles, sessions "
          "and tools: the same file can touch different objects.",
      instead="Qualify every name: `schema.table`.",
      example="ALTER TABLE orders ADD COLUMN note text;")
def naming_fully_qualified(st: Stmt, ctx: FileContext, payload: dict) -> Iterator[str]:
    ast = st.ast
    if isinstance(ast, exp.Create) and ast.args.get("kind") in ("SCHEMA", "DATABASE", "FUNCTION", "PROCEDURE"):
        return
    # The file's temporary tables and views: they live in pg_temp, which PostgreSQL searches before
    # any schema of search_path, and a CREATE TEMP cannot name another schema (an error).
    temporary = ctx.memo.get("naming.fully-qualified")
    if temporary is None:
        temporary = ctx.memo["naming.fully-qualified"] = set()
    if not st.parsed:
        # An ALTER TABLE sqlglot reads as a bare Command (RENAME CONSTRAINT, ENABLE TRIGGER, an unnamed ADD
        # CHECK …): its table, from the text.
        alter = locking.alter_table(st, ctx)
        name = alter.table.strip('"') if alter is not None else ""  # (as name_of gives a tree's name)
        if name and len(re.findall(NAME_PART, alter.table)) == 1 and name not in temporary:
            yield (f"{name} is not schema-qualified: write schema.name so search_path cannot change what the "
                   "statement touches")
        return
    ctes = {name_of(cte.args.get("alias")) for cte in ast.find_all(exp.CTE)}
    if isinstance(ast, exp.Create) and _CREATE_TEMPORARY.match(st.norm):
        target = ast.this.this if isinstance(ast.this, exp.Schema) else ast.this
        if isinstance(target, exp.Table) and not target.args.get("db"):
            temporary.add(name_of(target))
    # Not names that cannot take a schema: a rename target, a dropped constraint or index of an ALTER.
    tables = [t for t in ast.find_all(exp.Table)
              if not t.find_ancestor(exp.AlterRename, exp.ToTableProperty) and
              not (isinstance(ast, exp.Alter) and t.find_ancestor(exp.Drop))]
    names = _unqualified(tables, ctes, temporary)
    if names:
        yield (f"{', '.join(names)} {'is' if len(names) == 1 else 'are'} not schema-qualified: write schema.name "
               "so search_path cannot change what the statement touches")


_CREATE_TEMPORARY = re.compile(r"^CREATE (?:OR REPLACE )?(?:(?:GLOBAL |LOCAL )?(?:TEMPORARY|TEMP)) ")
_CREATE_OBJECT = re.compile(r"^CREATE (?:OR REPLACE )?(?:(?:GLOBAL |LOCAL )?(?:TEMPORARY |TEMP )|UNLOGGED )?"
                            r"(TABLE|VIEW|SEQUENCE) (?:IF NOT EXISTS )?([^\s(]+)")


@rule("statement.create-specify-schema", engines="P", category="NAME", severity="off",
      nodes=(exp.Create, "command"),
      summary="`CREATE TABLE` / `VIEW` / `SEQUENCE` without a schema-qualified name.",
      why="The object lands in the first schema of search_path, which depends on the role and session "
          "that runs the migration.",
      instead="`CREATE TABLE schema.table …`.",
      example="CREATE TABLE orders (id bigint PRIMARY KEY);")
def statement_create_specify_schema(st: Stmt, ctx: FileContext, payload: dict) -> Iterator[str]:
    ast = st.ast
    if st.parsed:
        if ast.args.get("kind") not in ("TABLE", "VIEW", "SEQUENCE"):
            return
        target = ast.this.this if isinstance(ast.this, exp.Schema) else ast.this
        if not isinstance(target, exp.Table) or target.args.get("db"):
            return
        # As written: a quoted "JobQueue" must stay quoted in the advice (unquoted, it folds to jobqueue).
        name = name_of(target)
        if isinstance(target.this, exp.Identifier) and target.this.args.get("quoted"):
            name = '"' + name.replace('"', '""') + '"'
        kind = ast.args["kind"].lower()
    else:
        match = _CREATE_OBJECT.match(st.norm)
        if not match or "." in match.group(2):
            return
        kind, name = match.group(1).lower(), match.group(2).strip('"').lower()
        if match.group(2).startswith('"') and len(st.flat) == len(st.norm):
            name = st.flat[match.start(2):match.end(2)]  # (norm is upper-cased: the flat text has its case)
    if _CREATE_TEMPORARY.match(st.norm):
        return  # temporary objects live in pg_temp whatever the name says
    yield f"CREATE {kind.upper()} {name} names no schema: write schema.{name} so search_path cannot decide"

