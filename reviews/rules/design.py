"""Schema design and types (catalogue §1.6): what a table, column or index should look like.

Unlike the locking rules these apply to new tables as much as to existing ones: a table created
without a primary key is as much a problem in the file that creates it as later.

The tree readers at the top (`column_defs`, `typed_columns`, `index_defs`, `foreign_keys`) are
also what the naming rules read.
"""

from __future__ import annotations

import functools
import itertools
import re
from collections.abc import Iterable, Iterator
from typing import Any

from sqlglot import exp

from reviews.engine.model import (
    FileContext,
    Stmt,
    name_of,
    per_statement,
    plain_name,
    sqlglot_dialect,
    type_sql,
)
from reviews.engine.registry import Hit, rule, tracker
from reviews.rules.common import at, bare, blanked, mentions, only_if, position
from reviews.splitter import Statement

# Collections of types (DataType.Type members) are tuples, not sets: a member hashes in interpreted
# Python (Enum.__hash__, a call of its own from compiled code), while `in` a tuple compares it by
# identity, in C.
T = exp.DataType.Type
INTEGER_TYPES = (T.TINYINT, T.SMALLINT, T.MEDIUMINT, T.INT, T.BIGINT, T.UTINYINT, T.USMALLINT, T.UMEDIUMINT,
                 T.UINT, T.UBIGINT, T.SERIAL, T.SMALLSERIAL, T.BIGSERIAL)
SIGNED_INTEGER_TYPES = (T.TINYINT, T.SMALLINT, T.MEDIUMINT, T.INT, T.BIGINT)
NARROW_INTEGER_TYPES = (T.TINYINT, T.SMALLINT, T.MEDIUMINT, T.INT, T.UTINYINT, T.USMALLINT, T.UMEDIUMINT, T.UINT,
                        T.SERIAL, T.SMALLSERIAL)
BLOB_TEXT_NAMES = {"TINYBLOB", "BLOB", "MEDIUMBLOB", "LONGBLOB", "TINYTEXT", "TEXT", "MEDIUMTEXT", "LONGTEXT"}
_SERIAL_NAMES = {"serial", "serial2", "serial4", "serial8", "smallserial", "bigserial"}
_NO_COMMENTS_OR_STRINGS = re.compile(r"--[^\n]*|/\*.*?\*/|'(?:[^']|'')*'|\$(?P<tag>[A-Za-z_]*)\$.*?\$(?P=tag)\$",
                                     re.DOTALL)


# -- reading the tree ---------------------------------------------------------------------------


def type_label(kind: exp.DataType, dialect: str) -> str:
    """The type as the dialect writes it, lower-cased: `varchar(20)`, `bigint unsigned`; but not what
    it quotes (ENUM('NONE', 'SSL') values, a "MyType" name): a message quotes them as written."""
    written = type_sql(kind, dialect)
    if "'" not in written and '"' not in written and "`" not in written:
        return written.lower()
    return "".join(part if quoted else part.lower()
                   for part, quoted in zip(_QUOTED_IN_TYPE.split(written), itertools.cycle((False, True))))


_QUOTED_IN_TYPE = re.compile(r"""('(?:[^'\\]|''|\\.)*'|"(?:[^"]|"")*"|`(?:[^`]|``)*`)""")


def table_of(ast: exp.Expression) -> str:
    """The table a CREATE TABLE / ALTER TABLE / CREATE INDEX statement is about."""
    target = _table_node(ast)
    return plain_name(target) if target is not None else ""


def _table_node(ast: exp.Expression) -> exp.Table | None:
    target = ast.this
    if isinstance(target, exp.Schema):
        target = target.this
    if isinstance(target, exp.Index):
        target = target.args.get("table")
    return target if isinstance(target, exp.Table) else None


@per_statement
def statement_table(st: Stmt) -> str:
    """`table_of` the statement's tree, which each reader below asks: worked out once per statement."""
    return table_of(st.ast)


def column_key(name: str, dialect: str) -> str:
    """A column's name as the database compares it with another: MySQL compares column names
    without regard to case, quoted or not (`name_of` keeps a quoted name's case)."""
    return name.lower() if dialect == "mysql" else name


def is_create_table(ast: exp.Expression | None) -> bool:
    return isinstance(ast, exp.Create) and ast.args.get("kind") == "TABLE"


def is_alter_table(ast: exp.Expression | None) -> bool:
    return isinstance(ast, exp.Alter) and ast.args.get("kind") == "TABLE"


class _Columns:
    """What one pass over a statement's column definitions finds (see `_columns`). This and the other
    records built per key or column (IndexDef, ForeignKeyDef, naming's Name) are plain classes, which
    the compiled build makes native ones: a NamedTuple's constructor is interpreted Python (its
    `__new__`), some 2,600 instructions a record, against a few hundred for a native class."""

    __slots__ = ("defs", "added", "typed", "types")

    def __init__(self, defs: tuple[tuple[str, exp.ColumnDef, str], ...], added: tuple[tuple[str, exp.ColumnDef, str], ...],
                 typed: tuple[tuple[str, exp.Expression, exp.DataType], ...], types: tuple) -> None:
        self.defs = defs  # column_defs(st)
        self.added = added  # column_defs(st, modify=False)
        self.typed = typed  # typed_columns(st)
        self.types = types  # the DataType.Types of the typed columns, each once: most type rules stop at them


_NO_COLUMNS = _Columns((), (), (), ())


@per_statement
def _columns(st: Stmt) -> _Columns:
    """The statement's columns, read once (a dozen rules ask): shared, read-only."""
    ast = st.ast
    columns: list[tuple[exp.ColumnDef, str]] = []
    altered: list[tuple[exp.Expression, exp.DataType]] = []  # ALTER COLUMN … TYPE
    modified = False
    if is_create_table(ast):
        if not isinstance(ast.this, exp.Schema):
            return _NO_COLUMNS
        columns = [(e, "create") for e in ast.this.expressions if isinstance(e, exp.ColumnDef)]
    elif is_alter_table(ast):
        for action in ast.args.get("actions") or ():
            if isinstance(action, exp.ColumnDef):
                columns.append((action, "add"))
            elif isinstance(action, exp.ModifyColumn):
                if isinstance(action.this, exp.ColumnDef):
                    columns.append((action.this, "modify"))
                    modified = True
            elif isinstance(action, exp.AlterColumn):
                dtype = action.args.get("dtype")
                if isinstance(dtype, exp.DataType):
                    altered.append((action.this, dtype))
    else:
        return _NO_COLUMNS
    if not columns and not altered:  # most ALTER TABLEs (ADD CONSTRAINT, OWNER TO …), and tables without columns
        return _NO_COLUMNS
    table = statement_table(st)  # (only now: most ALTER TABLEs have no columns)
    defs = tuple([(table, column, how) for column, how in columns])
    typed: list[tuple[str, Any, exp.DataType]] = []
    for column, _ in columns:
        kind = column.args.get("kind")
        if isinstance(kind, exp.DataType):
            typed.append((table, column, kind))
    typed += [(table, column, kind) for column, kind in altered]
    added = tuple([d for d in defs if d[2] != "modify"]) if modified else defs
    types: list = []
    for _, _, kind in typed:
        if kind.this not in types:
            types.append(kind.this)
    return _Columns(defs, added, tuple(typed), tuple(types))


def _none_of(types: tuple, wanted: tuple) -> bool:
    """Whether none of the types (_Columns.types) is among those wanted (a tuple of types)."""
    for kind in types:
        if kind in wanted:
            return False
    return True


def column_defs(st: Stmt, *, modify: bool = True) -> tuple[tuple[str, exp.ColumnDef, str], ...]:
    """(table, column definition, how) for CREATE TABLE columns ("create"), ADD COLUMN ("add") and
    MySQL MODIFY/CHANGE ("modify"). A shared tuple: read-only."""
    found = _columns(st)
    return found.defs if modify else found.added


def typed_columns(st: Stmt) -> tuple[tuple[str, exp.Expression, exp.DataType], ...]:
    """(table, column, type) for every column a statement defines or retypes (ALTER COLUMN … TYPE). The
    column is its node: `name_of` it when a finding names it (most columns are never named)."""
    return _columns(st).typed


def constraint_kinds(column: exp.ColumnDef) -> list[exp.Expression]:
    return [c.args.get("kind") for c in column.args.get("constraints") or () if c.args.get("kind") is not None]


def has_constraint(column: exp.ColumnDef, *classes: type) -> bool:
    # As `constraint_kinds` would say, without building the list or a generator (asked of most columns).
    for constraint in column.args.get("constraints") or ():
        if isinstance(constraint.args.get("kind"), classes):
            return True
    return False


def is_not_null(column: exp.ColumnDef) -> bool:
    return any(isinstance(k, exp.NotNullColumnConstraint) and not k.args.get("allow_null")
               for k in constraint_kinds(column))


_SERIAL_TYPES = (T.SERIAL, T.SMALLSERIAL, T.BIGSERIAL)


def is_serial(column: exp.ColumnDef, st: Stmt) -> bool:
    """`serial` and friends, also when the parser turned them into an identity column."""
    kind = column.args.get("kind")
    if isinstance(kind, exp.DataType) and kind.this in _SERIAL_TYPES:
        return True
    # Both other ways need the word in the statement's raw text (a user-defined type prints as its
    # name there): asked once per statement, not once per column.
    if not _says_serial(st):
        return False
    # Only a user-defined type can print as serial2/4/8 (a built-in type prints its own name): no SQL
    # generation for the others.
    if isinstance(kind, exp.DataType) and kind.this == T.USERDEFINED \
            and kind.sql().lower().strip('"') in _SERIAL_NAMES:
        return True
    spans = _serial_words(st)
    if not spans:
        return False
    # A match ends with one of the statement's `serial` words and starts at most a quote, the name and
    # a quote before the blanks ahead of it: the column's pattern is searched there only, not over
    # the whole of a long CREATE TABLE once per column (the lookbehind still sees the text before).
    name, text = column.name, clean_text(st.text)
    reach = len(name) + 2
    lowered = name.lower() if name.isascii() and text.isascii() else None
    pattern = None
    for start, end in spans:
        window = max(0, start - reach)
        # The pattern needs the name in the window: in ASCII, a plain search says no first, before
        # a pattern is compiled for the name (outside ASCII, re.I also takes look-alike letters).
        if lowered is not None and lowered not in text[window:end].lower():
            continue
        pattern = pattern or _serial_after(name)
        if pattern.search(text, window, end) is not None:
            return True
    return False


@per_statement
def _says_serial(st: Stmt) -> bool:
    """`serial` in any case anywhere in the raw text (comments and strings included): what the
    cleaned text or a type name says, the raw text says too."""
    return "SERIAL" in st.text.upper()


_BLANKS_THEN_SERIAL = re.compile(r"(?i)\s+(?:small|big)?serial[248]?")


@per_statement
def _serial_words(st: Stmt) -> tuple[tuple[int, int], ...]:
    """Each `serial` word after blanks in the statement's text without comments and strings: where
    its blanks start, and one character past the word (so that `\\b` after it reads the next one)."""
    text = clean_text(st.text)
    if "serial" not in text.lower():
        return ()
    return tuple((m.start(), min(len(text), m.end() + 1)) for m in _BLANKS_THEN_SERIAL.finditer(text))


@functools.lru_cache(maxsize=2048)
def _serial_after(name: str) -> re.Pattern:
    """`<name> serial` (or small/big, 2/4/8) in the text: compiled once per column name."""
    return re.compile(rf'(?i)(?<![\w$])"?{re.escape(name)}"?\s+(small|big)?serial[248]?\b')


def is_auto_increment(column: exp.ColumnDef, st: Stmt) -> bool:
    return has_constraint(column, exp.AutoIncrementColumnConstraint, exp.GeneratedAsIdentityColumnConstraint) or \
        is_serial(column, st)


_CLEAN_TEXT: list[str] = ["", ""]  # the last (text, cleaned): several rules and columns ask about one statement


def clean_text(text: str) -> str:
    """The original text without comments and string literals (case kept, unlike `st.norm`)."""
    if _CLEAN_TEXT[0] is text:
        return _CLEAN_TEXT[1]
    cleaned = _NO_COMMENTS_OR_STRINGS.sub(" ", text)
    _CLEAN_TEXT[0], _CLEAN_TEXT[1] = text, cleaned
    return cleaned


class IndexDef:  # a native class when compiled: built for every key of every CREATE TABLE (see _Columns)
    __slots__ = ("table", "name", "kind", "columns", "prefixed", "method", "where", "order", "include", "node", "shown")

    def __init__(self, table: str, name: str | None, kind: str, columns: tuple[str | None, ...], prefixed: frozenset[str],
                 method: str = "", where: str | Predicate = "", order: tuple[str, ...] = (), include: tuple[str, ...] = (),
                 node: exp.Expression | None = None, shown: tuple[str, ...] = ()) -> None:
        self.table = table
        self.name = name  # None: the database names it
        self.kind = kind  # primary | unique | index | fulltext | spatial
        self.columns = columns  # None for an expression
        self.prefixed = prefixed  # columns indexed by a prefix length (MySQL `b(10)`)
        self.method = method  # USING …
        self.where = where  # partial index predicate (compare it as a string: `str(where)`)
        self.order = order  # each column's sort order when one is not the default (`desc nulls last`); else ()
        self.include = include  # PostgreSQL INCLUDE (…) columns
        self.node = node  # the key in a CREATE/ALTER TABLE (findings point at it); None: CREATE INDEX
        self.shown = shown  # how messages show the columns, when one is not a plain column; else ()

    def renamed(self, table: str | None = None, name: str | None = None) -> IndexDef:
        """The same index on another table's name, or (when `name` is given) under another name."""
        return IndexDef(self.table if table is None else table, self.name if name is None else name, self.kind,
                        self.columns, self.prefixed, self.method, self.where, self.order, self.include, self.node,
                        self.shown)


class Predicate:
    """A partial index's WHERE as SQL, printed when first compared: only an index that otherwise
    duplicates one of the file's is (printing one costs ~40 µs, a partial CREATE INDEX ten times
    what reading it does). Equal to another predicate, or to a string, with the same SQL."""

    __slots__ = ("_node", "_dialect", "_text")

    def __init__(self, node: exp.Expression, dialect: str):
        self._node: exp.Expression | None = node
        self._dialect = dialect
        self._text: str | None = None

    def __str__(self) -> str:
        if self._text is None:
            assert self._node is not None
            self._text = self._node.sql(dialect=sqlglot_dialect(self._dialect))
            self._node = None  # printed: the subtree can go
        return self._text

    def keep_in(self, ctx: FileContext) -> None:
        """Kept past its statement: the subtree is cut from the statement's tree after it (`ctx.keep`)."""
        if self._node is not None:
            ctx.keep(self._node)

    def __eq__(self, other: object) -> bool:
        return str(self) == str(other) if isinstance(other, (str, Predicate)) else NotImplemented

    def __hash__(self) -> int:
        return hash(str(self))

    def __repr__(self) -> str:
        return repr(str(self))


def _index_column(node: exp.Expression, dialect: str) -> tuple[str | None, bool]:
    if isinstance(node, exp.Ordered):
        node = node.this
    if isinstance(node, exp.ColumnPrefix):
        return name_of(node.this), True
    if type(node) is exp.Column:
        return plain_name(node), False
    if isinstance(node, (exp.Identifier, exp.Column)):
        return name_of(node), False
    if (dialect == "mysql" and isinstance(node, exp.Anonymous) and len(node.expressions) == 1
            and isinstance(node.expressions[0], exp.Literal)):  # CREATE INDEX … (b(10)) reads as a call
        # (`key_`(764): its name is a quoted Identifier, not a string to print)
        return (name_of(node.this) if isinstance(node.this, exp.Identifier) else str(node.this)).lower(), True
    return None, False


def _sort_order(node: exp.Expression, nulls_are_large: bool) -> str:
    """An index column's sort order, "" for the default: `desc`, and the NULLS order when it is not
    the direction's default in the dialect (sqlglot spells that default out on every Ordered)."""
    if not isinstance(node, exp.Ordered):
        return ""
    desc = bool(node.args.get("desc"))
    nulls_first = node.args.get("nulls_first")
    # NULLs sort as the largest values in PostgreSQL (ASC: last), as the smallest in MySQL and SQLite.
    default_first = desc if nulls_are_large else not desc
    if nulls_first is None or nulls_first == default_first:  # (every column of most indexes: no join)
        return "desc" if desc else ""
    nulls = "nulls first" if nulls_first else "nulls last"
    return f"desc {nulls}" if desc else nulls


def _make_index(table: str, name: str | None, kind: str, nodes: list, dialect: str, method: str = "",
                where: str | Predicate = "", node: exp.Expression | None = None,
                parameters: exp.Expression | None = None) -> IndexDef:
    columns, prefixed, orders = [], [], []
    nulls_are_large = sqlglot_dialect(dialect).NULL_ORDERING == "nulls_are_large"
    for column_node in nodes:
        column, prefix = _index_column(column_node, dialect)
        columns.append(column)
        orders.append(_sort_order(column_node, nulls_are_large))
        if prefix and column:
            prefixed.append(column)
    shown = tuple(c or _shown_expression(n) for c, n in zip(columns, nodes, strict=True)) if None in columns else ()
    return IndexDef(table, name, kind, tuple(columns), frozenset(prefixed) if prefixed else _NONE_PREFIXED, method,
                    where, tuple(orders) if any(orders) else (), _included(parameters), node, shown)


def _shown_expression(node: exp.Expression) -> str:
    """An index key that is no plain column, for a message: a column with an operator class as written
    (`a int8_minmax_multi_ops`: it is no expression), anything else `<expression>`."""
    if isinstance(node, exp.Ordered):
        node = node.this
    if isinstance(node, exp.Opclass) and type(node.this) is exp.Column:
        return f"{plain_name(node.this)} {name_of(node.expression)}"
    return "<expression>"


def _included(parameters: exp.Expression | None) -> tuple[str, ...]:
    """The INCLUDE columns of an index's or key's parameters (IndexParameters): a covering index is
    no duplicate of one without them."""
    included = parameters.args.get("include") if parameters is not None else None
    return tuple(name_of(c) for c in included) if isinstance(included, list) else ()


_NONE_PREFIXED: frozenset[str] = frozenset()


def _constraint_name(node: exp.Expression | None) -> str | None:
    if isinstance(node, exp.Schema):
        node = node.this
    return name_of(node) or None if node is not None else None


def _table_level(table: str, node: exp.Expression, name: str | None, dialect: str,
                 written: exp.Expression | None = None) -> list[IndexDef]:
    """The keys of a table-level element; `written`: the element as written (a CONSTRAINT name …)."""
    written = written or node
    if isinstance(node, exp.Constraint):
        inner_name = name_of(node.this) or None
        return [i for inner in node.expressions for i in _table_level(table, inner, inner_name, dialect, node)]
    if isinstance(node, exp.PrimaryKey):
        return [_make_index(table, name, "primary", node.expressions, dialect, node=written,
                            parameters=node.args.get("include"))]
    if isinstance(node, exp.UniqueColumnConstraint) and isinstance(node.this, exp.Schema):
        return [_make_index(table, name or _constraint_name(node.this), "unique", node.this.expressions, dialect,
                            node=written, parameters=node.args.get("include"))]
    if isinstance(node, exp.IndexColumnConstraint):
        kind = str(node.args.get("kind") or "index").lower()
        kind = kind if kind in ("fulltext", "spatial", "unique") else "index"
        return [_make_index(table, name or _constraint_name(node.this), kind, node.expressions, dialect, node=written)]
    return []


def _inline(found: list[IndexDef], table: str, column: exp.ColumnDef) -> None:
    """The primary key or unique constraint written on the column itself, added to `found`."""
    for constraint in column.args.get("constraints") or ():
        kind = constraint.args.get("kind")
        if not isinstance(kind, _INLINE_KEYS):  # most are NOT NULL, DEFAULT …: one test for them
            continue
        if isinstance(kind, exp.PrimaryKeyColumnConstraint):
            found.append(IndexDef(table, _inline_name(constraint), "primary", (name_of(column),), _NONE_PREFIXED,
                                  include=_included(kind.args.get("include")), node=column))
        elif kind.this is None:
            found.append(IndexDef(table, _inline_name(constraint), "unique", (name_of(column),), _NONE_PREFIXED,
                                  include=_included(kind.args.get("include")), node=column))


_INLINE_KEYS = (exp.PrimaryKeyColumnConstraint, exp.UniqueColumnConstraint)


def _inline_name(constraint: exp.ColumnConstraint) -> str | None:
    return name_of(constraint.this) or None if constraint.this is not None else None


def index_defs(st: Stmt, dialect: str) -> tuple[IndexDef, ...]:
    """Every index a statement creates: CREATE INDEX, and the primary keys, unique constraints and
    (MySQL) KEY/INDEX clauses of CREATE TABLE and ALTER TABLE … ADD. Read by half a dozen rules per
    statement: remembered with the statement (a tuple, shared). The dialect is the statement's own
    file's (as for `per_statement`, it is not part of the key)."""
    found = st.memo.get(_index_defs)
    if found is None:
        found = st.memo[_index_defs] = tuple(_index_defs(st, dialect))
    return found


def _method(using: exp.Expression | None) -> str:
    """`USING …` of CREATE INDEX, lower-cased, as `str(using)` prints it: a plain Var prints as its
    text, so no SQL generation for it (a Var with a comment prints the comment too)."""
    if isinstance(using, exp.Var) and isinstance(using.this, str) and not using.comments:
        return using.this.lower()
    return str(using or "").lower()


def _index_defs(st: Stmt, dialect: str) -> list[IndexDef]:
    ast = st.ast
    if isinstance(ast, exp.Create) and ast.args.get("kind") == "INDEX" and isinstance(ast.this, exp.Index):
        index = ast.this
        params = index.args.get("params")
        columns = list(params.args.get("columns") or []) if params is not None else []
        method = _method(params.args.get("using")) if params is not None else ""
        where = Predicate(params.args["where"], dialect) if params is not None and params.args.get("where") else ""
        name = name_of(index.this) or None if index.this is not None else None
        kind = "unique" if ast.args.get("unique") else "index"
        return [_make_index(statement_table(st), name, kind, columns, dialect, method, where, parameters=params)]
    found: list[IndexDef] = []
    if is_create_table(ast) and isinstance(ast.this, exp.Schema):
        table = statement_table(st)
        for element in ast.this.expressions:
            if isinstance(element, exp.ColumnDef):
                _inline(found, table, element)
            else:
                found.extend(_table_level(table, element, None, dialect))
    elif is_alter_table(ast):
        table = None  # (asked only of an ALTER that adds a column or a constraint)
        for action in ast.args.get("actions") or ():
            if isinstance(action, exp.ColumnDef):
                table = table if table is not None else statement_table(st)
                _inline(found, table, action)
            elif isinstance(action, exp.AddConstraint):
                table = table if table is not None else statement_table(st)
                for element in action.expressions:
                    found.extend(_table_level(table, element, None, dialect))
    return found


class ForeignKeyDef:  # a native class when compiled, as IndexDef
    __slots__ = ("table", "name", "columns", "ref_table", "ref_columns")

    def __init__(self, table: str, name: str | None, columns: tuple[str, ...], ref_table: str,
                 ref_columns: tuple[str, ...]) -> None:
        self.table = table
        self.name = name
        self.columns = columns
        self.ref_table = ref_table
        self.ref_columns = ref_columns


def _reference(table: str, name: str | None, columns: tuple[str, ...], ref: exp.Reference) -> ForeignKeyDef:
    target = ref.this
    ref_table = ""
    ref_columns: tuple[str, ...] = ()
    if isinstance(target, exp.Schema):
        ref_table = name_of(target.this)
        ref_columns = tuple(name_of(c) for c in target.expressions)
    elif isinstance(target, exp.Table):
        ref_table = name_of(target)
    return ForeignKeyDef(table, name, columns, ref_table, ref_columns)


def _fk_elements(table: str, node: exp.Expression, name: str | None) -> list[ForeignKeyDef]:
    if isinstance(node, exp.Constraint):
        return [fk for inner in node.expressions for fk in _fk_elements(table, inner, name_of(node.this) or None)]
    if isinstance(node, exp.ForeignKey) and isinstance(node.args.get("reference"), exp.Reference):
        return [_reference(table, name, tuple(name_of(c) for c in node.expressions), node.args["reference"])]
    return []


def _fk_inline(table: str, column: exp.ColumnDef) -> list[ForeignKeyDef]:
    return [_reference(table, name_of(c.this) or None if c.this is not None else None, (name_of(column),), c.args["kind"])
            for c in column.args.get("constraints") or () if isinstance(c.args.get("kind"), exp.Reference)]


def foreign_keys(st: Stmt) -> list[ForeignKeyDef]:
    """Every foreign key a CREATE TABLE or ALTER TABLE statement declares (inline or table-level)."""
    ast = st.ast
    found: list[ForeignKeyDef] = []
    if is_create_table(ast) and isinstance(ast.this, exp.Schema):
        table = statement_table(st)
        for element in ast.this.expressions:
            found.extend(_fk_inline(table, element) if isinstance(element, exp.ColumnDef)
                         else _fk_elements(table, element, None))
    elif is_alter_table(ast):
        table = statement_table(st)
        for action in ast.args.get("actions") or ():
            if isinstance(action, exp.ColumnDef):
                found.extend(_fk_inline(table, action))
            elif isinstance(action, exp.AddConstraint):
                for element in action.expressions:
                    found.extend(_fk_elements(table, element, None))
    return found


def _columns_text(index: IndexDef) -> str:
    return ", ".join(index.shown or index.columns)


def _is_temporary(ast: exp.Create) -> bool:
    props = ast.args.get("properties")
    return props is not None and any(isinstance(p, exp.TemporaryProperty) for p in props.expressions)


def _properties(ast: exp.Expression) -> list[exp.Expression]:
    props = ast.args.get("properties")
    return list(props.expressions) if props is not None else []


_PK_SUGGESTION = {
    "postgres": "`id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY`",
    "mysql": "`id BIGINT UNSIGNED AUTO_INCREMENT PRIMARY KEY`",
    "sqlite": "`id INTEGER PRIMARY KEY`",
}


# Gates (`contains`): column definitions, foreign keys and inline keys come only from a CREATE TABLE or
# ALTER TABLE tree, indexes also from CREATE INDEX (and DROP INDEX forgets them). sqlglot takes the
# `kind` of a CREATE, ALTER or DROP from its keyword, so st.norm has the word, unless normalizing took
# it for part of a string or comment where sqlglot did not (`/*` inside a quoted PostgreSQL name):
# then st.norm keeps a quote, either the '' of a string or the quote or $ that opened what sqlglot
# read as a string or name. Such statements pass the gate too.
_QUOTES = ("'", '"', "`", "$")
TABLE_WORDS = ("TABLE", *_QUOTES)
INDEX_WORDS = ("TABLE", "INDEX", *_QUOTES)
# Gates (`actions`): the ALTER TABLE actions each reader above reads; an ALTER without any of them
# gives it nothing (most ALTERs add a constraint, drop something or set a default).
COLUMN_ACTIONS = (exp.ColumnDef, exp.ModifyColumn)  # column_defs
TYPED_ACTIONS = (*COLUMN_ACTIONS, exp.AlterColumn)  # typed_columns (… TYPE)
INDEX_ACTIONS = (exp.ColumnDef, exp.AddConstraint)  # index_defs (inline and table-level keys)


# -- tables -------------------------------------------------------------------------------------


_CREATE_TABLE = re.compile(r"^CREATE TABLE (?:IF NOT EXISTS )?([^\s(]+) ?\(")
_DERIVED_TABLE = re.compile(r"\)\s*AS\b|\bLIKE\b|\bPARTITION OF\b")


# An ALTER TABLE sqlglot could not read adds a primary key where it names one but to drop it.
_ALTER_TABLE = re.compile(r"^ALTER TABLE (?:IF EXISTS )?(?:ONLY )?([^\s(]+) ")
_ADDS_PRIMARY_KEY = re.compile(r"(?<!\bDROP )\bPRIMARY KEY\b")
_DROP_TABLE = re.compile(r"^DROP TABLE (?:IF EXISTS )?(.+?)(?: CASCADE| RESTRICT)?$")


@rule("table.require-pk", engines="PMS", category="DESIGN", severity="W", at_end=True,
      summary="`CREATE TABLE` without a primary key (one added later in the same file counts, as in pg_dump "
              "output, and a table the file drops again is not reported).",
      why="Without a primary key, PostgreSQL logical replication cannot replicate UPDATEs and DELETEs (it "
          "refuses them on a published table); MySQL group replication and online schema tools (gh-ost, "
          "pt-online-schema-change) need a primary key or a NOT NULL unique key, on which InnoDB then "
          "clusters the table instead; SQLite identifies the rows only by their implicit rowid, which "
          "VACUUM may renumber. Rows that no key tells apart cannot be updated or deleted one by one.",
      instead="Declare a primary key in the CREATE TABLE, e.g. `id bigint GENERATED ALWAYS AS IDENTITY "
              "PRIMARY KEY` (PostgreSQL; a partitioned table's must include its partition key's columns), `id BIGINT "
              "UNSIGNED AUTO_INCREMENT PRIMARY KEY` (MySQL), `id INTEGER PRIMARY KEY` (SQLite).",
      example="CREATE TABLE events (payload jsonb);")
def table_require_pk(st: None, ctx: FileContext, payload: dict) -> Iterator[Hit]:
    # Known only at the end of the file: reported there, located at each CREATE TABLE.
    found = [entry for entries in ctx.memo.get("table.require-pk", {}).values() for entry in entries]
    for _, message, statement in sorted(found, key=lambda entry: entry[0]):
        yield Hit(message, statement=statement)


@tracker(keywords=("CREATE", "ALTER", "DROP"), serves=("table.require-pk",))
def _track_primary_keys(st: Stmt, ctx: FileContext) -> None:
    """CREATE TABLEs without a primary key, until an ALTER TABLE of the file adds one or a DROP TABLE
    drops the table."""
    pending: dict | None = ctx.memo.get("table.require-pk")  # (made for the first table without a key)
    if st.norm.startswith("ALTER "):
        if pending and "PRIMARY KEY" in st.norm and (table := _given_a_primary_key(st, ctx)) and pending.get(table):
            pending[table].pop()  # the table as it is now: the latest CREATE of that name
        return
    if st.norm.startswith("DROP "):
        if pending and "TABLE" in st.norm:
            for table in _dropped_tables(st):
                pending.pop(table, None)  # every CREATE of that name: an earlier one is gone too
        return
    ast = st.ast
    if st.parsed:
        if not is_create_table(ast) or not isinstance(ast.this, exp.Schema) or _is_temporary(ast):
            return  # CREATE TABLE … AS SELECT / PARTITION OF: no column list to judge
        if any(i.kind == "primary" for i in index_defs(st, ctx.dialect)):
            return  # the usual case, and the cheapest test (the rules have read the indexes already)
        if any(isinstance(e, exp.LikeProperty) for e in ast.this.expressions):
            return
        if any(isinstance(p, exp.PartitionedOfProperty) for p in _properties(ast)):
            return  # a partition has its parent's key (a table that INHERITS one has none: reviewed)
        table = table_of(ast)
    else:  # a CREATE TABLE sqlglot could not read: judge its tokens
        match = _CREATE_TABLE.match(st.norm)
        if not match or "PRIMARY KEY" in st.norm or _DERIVED_TABLE.search(st.norm):
            return
        table = match.group(1).strip('"`').rsplit(".", 1)[-1].lower()
    if pending is None:
        pending = ctx.memo["table.require-pk"] = {}
    pending.setdefault(bare(table), []).append((st.index, _no_primary_key(st, ctx.dialect, table), st.statement))


def _given_a_primary_key(st: Stmt, ctx: FileContext) -> str | None:
    """The table (`bare`) an ALTER TABLE gives a primary key: ADD [CONSTRAINT …] PRIMARY KEY, ADD COLUMN
    … PRIMARY KEY, MySQL MODIFY/CHANGE … PRIMARY KEY."""
    if not st.parsed:
        match = _ALTER_TABLE.match(st.norm)
        return bare(match.group(1)) if match and _ADDS_PRIMARY_KEY.search(st.norm) else None
    if not is_alter_table(st.ast):
        return None
    if any(i.kind == "primary" for i in index_defs(st, ctx.dialect)) or any(
            isinstance(a, exp.ModifyColumn) and isinstance(a.this, exp.ColumnDef)
            and has_constraint(a.this, exp.PrimaryKeyColumnConstraint) for a in st.ast.args.get("actions") or ()):
        return bare(statement_table(st))
    return None


def _dropped_tables(st: Stmt) -> list[str]:
    """The tables (`bare`) a DROP TABLE drops (not MySQL's DROP TEMPORARY TABLE: only a temporary one)."""
    ast = st.ast
    if st.parsed:
        if not isinstance(ast, exp.Drop) or ast.args.get("kind") != "TABLE" or ast.args.get("temporary"):
            return []
        return [bare(name_of(target)) for target in ast.args.get("tables") or ()]
    match = _DROP_TABLE.match(st.norm)
    return [bare(name) for name in match.group(1).split(",")] if match else []


def _no_primary_key(st: Stmt, dialect: str, table: str) -> str:
    """The finding for a table created without a primary key, with the reason that holds for it."""
    missing = f"table {table} has no primary key"
    advice = f"add one, e.g. {_PK_SUGGESTION[dialect]}"
    if dialect == "sqlite":
        return f"{missing}: {advice} (rows are then identified only by the implicit rowid, which VACUUM may renumber)"
    if st.parsed and dialect == "mysql" and (key := _clustering_key(st)):
        return (f"{missing}: InnoDB uses its NOT NULL unique key {key} as the clustered index instead: declare that "
                "key as the PRIMARY KEY")
    if st.parsed and dialect == "postgres" and (keys := _partition_keys(st)) is not None:
        # PostgreSQL: a partitioned table's primary key must hold its partition key's columns, and it
        # can have none when that key is an expression.
        if not all(isinstance(k, exp.Column) for k in keys):
            return (f"{missing}, and cannot have one: it is partitioned by an expression. Give each partition a "
                    "primary key, or partition by columns that a primary key can include (replication and online "
                    "schema tools need one)")
        names = list(dict.fromkeys(plain_name(k) for k in keys))
        columns = ", ".join(names)
        has_id = "id" in {plain_name(c).lower() for _, c, _ in column_defs(st)}
        example = (f"`PRIMARY KEY ({columns})`" if "id" in (n.lower() for n in names)
                   else f"`PRIMARY KEY (id, {columns})`" if has_id
                   else f"`id bigint GENERATED ALWAYS AS IDENTITY` and `PRIMARY KEY (id, {columns})`")
        return (f"{missing}: add one that includes its partition key ({columns}), e.g. {example} (replication and "
                "online schema tools need it)")
    if st.parsed and any(isinstance(p, exp.UnloggedProperty) for p in _properties(st.ast)):
        # An unlogged table is never replicated (no publication takes it).
        return (f"{missing}: {advice} (without one, duplicate rows cannot be told apart, nor updated or deleted one "
                "by one)")
    return f"{missing}: {advice} (replication and online schema tools need it)"


def _partition_keys(st: Stmt) -> list | None:
    """The expressions of a PostgreSQL CREATE TABLE's PARTITION BY (its columns are exp.Column), or
    None when it is not partitioned."""
    for prop in _properties(st.ast):
        if isinstance(prop, exp.PartitionedByProperty):
            keys = prop.this.expressions if isinstance(prop.this, (exp.Anonymous, exp.List, exp.Tuple)) else [prop.this]
            return [k.unnest() if isinstance(k, exp.Paren) and isinstance(k.unnest(), exp.Column) else k for k in keys]
    return None


def _clustering_key(st: Stmt) -> str | None:
    """The key InnoDB clusters a MySQL table without a primary key on, as `name (columns)`: the first
    unique key written whose columns are all NOT NULL, and none indexed by a prefix (a SERIAL column's
    is one); None when there is none, or the table's engine is not InnoDB (the default)."""
    ast = st.ast
    if any(isinstance(p, exp.EngineProperty) and p.name.lower() != "innodb" for p in _properties(ast)):
        return None
    not_null = {plain_name(c).lower() for _, c, _ in column_defs(st) if is_not_null(c) or _mysql_serial(c)}
    if not not_null:
        return None
    table = statement_table(st)
    for element in ast.this.expressions:
        if isinstance(element, exp.ColumnDef):
            if _mysql_serial(element) or (plain_name(element).lower() in not_null
                                          and _has_inline_unique(element)):
                return f"({plain_name(element)})"
            continue
        for index in _table_level(table, element, None, "mysql"):
            if index.kind == "unique" and not index.prefixed \
                    and all(c and c.lower() in not_null for c in index.columns):
                return f"{index.name} ({_columns_text(index)})" if index.name else \
                    f"({_columns_text(index)})"
    return None


def _mysql_serial(column: exp.ColumnDef) -> bool:
    """MySQL `SERIAL`: BIGINT UNSIGNED NOT NULL AUTO_INCREMENT UNIQUE."""
    kind = column.args.get("kind")
    return isinstance(kind, exp.DataType) and kind.this == T.SERIAL


def _has_inline_unique(column: exp.ColumnDef) -> bool:
    return any(isinstance(k, exp.UniqueColumnConstraint) and k.this is None for k in constraint_kinds(column))


@rule("table.no-foreign-key", engines="PMS", category="DESIGN", severity="off",
      nodes=(exp.Create, exp.Alter), contains=TABLE_WORDS,
      summary="Any foreign key (for teams that keep relations in the application).",
      why="Some teams shard or run online schema tools that cannot cope with foreign keys, and keep "
          "referential integrity in the application.",
      instead="Leave the relation out of the schema and enforce it in the application.",
      example="ALTER TABLE orders ADD FOREIGN KEY (customer_id) REFERENCES customers (id);")
def table_no_foreign_key(st: Stmt, ctx: FileContext, payload: dict) -> Iterator[str]:
    for fk in foreign_keys(st):
        yield (f"foreign key on {fk.table}({', '.join(fk.columns)}) referencing {fk.ref_table}: this policy "
               "forbids foreign keys: enforce the relation in the application instead")


@rule("table.comment", engines="PM", category="DESIGN", severity="off", at_end=True,
      payload={"required": True, "max_length": 64},
      schema={"properties": {"required": {"type": "boolean"}, "max_length": {"type": "integer", "minimum": 1}}},
      summary="A new table without a comment, or with a comment longer than `max_length`.",
      why="A comment is the cheapest documentation a table can have, and it travels with the schema.",
      instead="MySQL: `CREATE TABLE … COMMENT='…'`; PostgreSQL: `COMMENT ON TABLE t IS '…'` in the same file.",
      example="CREATE TABLE t (id bigint PRIMARY KEY);")
def table_comment(st: None, ctx: FileContext, payload: dict) -> Iterator[Hit]:
    yield from _comment_findings(ctx, "table.comment", "table", "COMMENT='…'", payload)


@rule("column.comment", engines="PM", category="DESIGN", severity="off", at_end=True,
      payload={"required": True, "max_length": 64},
      schema={"properties": {"required": {"type": "boolean"}, "max_length": {"type": "integer", "minimum": 1}}},
      summary="A new column without a comment, or with a comment longer than `max_length`.",
      why="Column comments document units, meanings and allowed values where every tool can see them.",
      instead="MySQL: `… COMMENT '…'` on the column; PostgreSQL: `COMMENT ON COLUMN t.c IS '…'` in the same file.",
      example="ALTER TABLE t ADD COLUMN amount numeric;")
def column_comment(st: None, ctx: FileContext, payload: dict) -> Iterator[Hit]:
    yield from _comment_findings(ctx, "column.comment", "column", "COMMENT '…'", payload)


# Both comment rules report at the end of the file, from what `_track_comments` saw: a PostgreSQL
# table's COMMENT ON comes after its CREATE, so a missing one is known only there (and the engine
# shows the rules no statement after the last SQL one: a closing psql meta-command or COPY data).
# Per rule: "written", (statement, offset, name, comment lengths) of each table or column created,
# added (or MySQL-modified), altered or commented on, in the file's order, with None for lengths when
# a MySQL one is created without a comment; "pending", the PostgreSQL tables or columns created (name
# → statement, offset), and "done", those a COMMENT ON described. The offset is a column's name in
# its statement's text (None: the statement), made a line and column only for a finding: the tracker
# runs on every file, whatever the policy, and most columns are never reported.


def _comment_findings(ctx: FileContext, rule_id: str, what: str, mysql_clause: str, payload: dict) -> Iterator[Hit]:
    state = ctx.memo.get(rule_id)
    if state is None:
        return
    required, limit = payload["required"], payload["max_length"]
    for statement, offset, name, lengths in state["written"]:
        if lengths is None:
            if required:
                yield Hit(f"{what} {name} has no comment: add {mysql_clause} saying what it holds", statement=statement,
                          **_located(statement, offset))
            continue
        for length in lengths:
            if length > limit:
                yield Hit(f"the comment of {what} {name} is longer than {limit} characters: shorten it",
                          statement=statement, **_located(statement, offset))
    if not required:
        return
    for key, (statement, offset) in state["pending"].items():
        if key not in state["done"]:
            name = ".".join(key) if isinstance(key, tuple) else key
            yield Hit(f"{what} {name} has no comment: add `COMMENT ON {what.upper()} {name} IS '…'` in this file",
                      statement=statement, **_located(statement, offset))


def _located(statement: Statement, offset: int | None) -> dict:
    """`position` of an offset in the text of a statement seen earlier ({}: the statement)."""
    return position(Stmt(0, statement, None, ""), offset) if offset is not None else {}


def _comment_state(ctx: FileContext, rule_id: str) -> dict:
    state = ctx.memo.get(rule_id)
    if state is None:
        state = ctx.memo[rule_id] = {"written": [], "pending": {}, "done": set()}
    return state


@tracker(engines="PM", keywords=("CREATE", "ALTER", "COMMENT"), serves=("table.comment", "column.comment"))
def _track_comments(st: Stmt, ctx: FileContext) -> None:
    """The comments of tables and columns, and the tables and columns without one (see above)."""
    ast = st.ast
    if not st.parsed:
        return
    if is_create_table(ast) or is_alter_table(ast):
        _track_table_comment(st, ctx)
        if column_defs(st):
            _track_column_comments(st, ctx)
    elif isinstance(ast, exp.Comment):
        key: Any
        kind = ast.args.get("kind")
        if kind == "TABLE":
            rule_id, key = "table.comment", name_of(ast.this)
            name = key
        elif kind == "COLUMN" and isinstance(ast.this, exp.Column):
            rule_id, key = "column.comment", (name_of(ast.this.args.get("table")), name_of(ast.this))
            name = ".".join(key)
        else:
            return
        state = _comment_state(ctx, rule_id)
        state["done"].add(key)
        state["written"].append((st.statement, None, name, (len(ast.expression.name),)))


def _track_table_comment(st: Stmt, ctx: FileContext) -> None:
    ast = st.ast
    if is_create_table(ast):
        if _is_temporary(ast):
            return
        state, table = _comment_state(ctx, "table.comment"), statement_table(st)
        lengths = tuple(len(p.this.name) for p in _properties(ast) if isinstance(p, exp.SchemaCommentProperty))
        if ctx.dialect == "mysql":
            state["written"].append((st.statement, None, table, lengths or None))
            return
        state["pending"][table] = (st.statement, None)
    elif mentions(st, "COMMENT"):  # MySQL's ALTER TABLE … COMMENT='…' (most ALTERs have none)
        state, table = _comment_state(ctx, "table.comment"), statement_table(st)
        lengths = tuple(len(p.this.name) for p in _properties(ast) + list(ast.args.get("options") or ())
                        if isinstance(p, exp.SchemaCommentProperty))
    else:
        return
    if lengths:
        state["written"].append((st.statement, None, table, lengths))


def _track_column_comments(st: Stmt, ctx: FileContext) -> None:
    state = _comment_state(ctx, "column.comment")
    mysql = ctx.dialect == "mysql"
    commented = mentions(st, "COMMENT")  # (most statements have no comment: no column's constraints read)
    for table, column, _ in column_defs(st, modify=mysql):
        lengths: tuple[int, ...] = ()
        if commented and has_constraint(column, exp.CommentColumnConstraint):
            lengths = tuple(len(k.this.name) for k in constraint_kinds(column)
                            if isinstance(k, exp.CommentColumnConstraint))
        column_name = plain_name(column)
        name = f"{table}.{column_name}"
        ident = column.this  # where `at` locates a column: its name
        start = ident.meta.get("start") if isinstance(ident, exp.Identifier) else None
        offset = start - st.base if start is not None else None
        if mysql:
            state["written"].append((st.statement, offset, name, lengths or None))
            continue
        state["pending"][(table, column_name)] = (st.statement, offset)
        if lengths:
            state["written"].append((st.statement, offset, name, lengths))


_PARTITION_RE = re.compile(r"^(CREATE (?:UNLOGGED )?TABLE|ALTER TABLE)\b.*\bPARTITION (BY|OF)\b")


@rule("table.disallow-partition", keywords=('CREATE', 'ALTER'), engines="PM", category="DESIGN", severity="off", nodes=("*",),
      summary="Partitioned tables (`PARTITION BY`, `PARTITION OF`).",
      why="Partitioning changes how keys, unique constraints and foreign keys work and complicates every "
          "later migration; some teams want it reviewed by a DBA.",
      instead="An ordinary table with the right indexes, or archive old rows.",
      example="CREATE TABLE events (id bigint, at timestamptz) PARTITION BY RANGE (at);")
def table_disallow_partition(st: Stmt, ctx: FileContext, payload: dict) -> Iterator[str]:
    if st.parsed:
        if not (is_create_table(st.ast) or is_alter_table(st.ast)):
            return
        if not any(isinstance(p, (exp.PartitionedByProperty, exp.PartitionedOfProperty))
                   for p in _properties(st.ast)):
            return
    elif not _PARTITION_RE.match(st.norm) or " OVER (" in st.norm:
        return
    yield "this statement partitions a table: this policy forbids partitioned tables: use an ordinary table"


_CREATE_TRIGGER = re.compile(r"^CREATE (OR REPLACE )?(CONSTRAINT )?(DEFINER ?= ?\S+ )?TRIGGER\b")


@rule("table.disallow-trigger", keywords=('CREATE',), engines="PM", category="DESIGN", severity="off", nodes=("*",),
      summary="`CREATE TRIGGER`.",
      why="Triggers hide writes from whoever reads the application code, slow every row change, and "
          "complicate online schema tools (gh-ost refuses tables with triggers).",
      instead="Do the work in the application or in a scheduled job.",
      example="CREATE TRIGGER audit AFTER UPDATE ON orders FOR EACH ROW EXECUTE FUNCTION audit();")
def table_disallow_trigger(st: Stmt, ctx: FileContext, payload: dict) -> Iterator[str]:
    if _CREATE_TRIGGER.match(st.norm):
        yield "CREATE TRIGGER: this policy forbids triggers: do the work in the application instead"


# -- columns ------------------------------------------------------------------------------------


def _primary_columns(st: Stmt, dialect: str) -> set[tuple[str, str]]:
    """(table, `column_key`) of the statement's primary key columns."""
    return {(i.table, column_key(c, dialect)) for i in index_defs(st, dialect) if i.kind == "primary"
            for c in i.columns if c}


@rule("column.no-null", engines="PMS", category="DESIGN", severity="off",
      nodes=(exp.Create, exp.Alter), contains=TABLE_WORDS,
      summary="Nullable columns in `CREATE TABLE` / `ADD COLUMN`.",
      why="NULL is a third truth value: comparisons, NOT IN and aggregates behave unexpectedly with it.",
      instead="Declare the column NOT NULL, with a default where old rows need one.",
      example="CREATE TABLE t (id bigint PRIMARY KEY, note text);")
def column_no_null(st: Stmt, ctx: FileContext, payload: dict) -> Iterator[Hit]:
    primary = _primary_columns(st, ctx.dialect)
    for table, column, _ in column_defs(st):
        name = name_of(column)
        if is_not_null(column) or (table, column_key(name, ctx.dialect)) in primary or is_auto_increment(column, st):
            continue
        yield Hit(f"column {table}.{name} is nullable: declare it NOT NULL (with a DEFAULT if old rows need one)",
                  **at(st, column))


@rule("column.required", engines="PMS", category="DESIGN", severity="off",
      nodes=(exp.Create, exp.Alter), contains=TABLE_WORDS,
      payload={"columns": ["id", "created_at", "updated_at"]},
      schema={"properties": {"columns": {"type": "array", "items": {"type": "string", "minLength": 1}}}},
      summary="A new table lacking one of the required columns (`columns`), or dropping/renaming one.",
      why="Conventional columns (a key, creation and update times) let tooling, audits and data fixes "
          "rely on every table having them.",
      instead="Add the missing columns to the CREATE TABLE; keep them when altering.",
      example="CREATE TABLE t (id bigint PRIMARY KEY);")
def column_required(st: Stmt, ctx: FileContext, payload: dict) -> Iterator[str | Hit]:
    required = [c.lower() for c in payload["columns"]]
    ast = st.ast
    if is_create_table(ast) and isinstance(ast.this, exp.Schema):
        if any(isinstance(e, exp.LikeProperty) for e in ast.this.expressions) or _is_temporary(ast):
            return
        present = {column_key(name_of(col), ctx.dialect) for _, col, _ in column_defs(st)}
        missing = [c for c in required if c not in present]
        if missing:
            yield f"table {table_of(ast)} lacks the required column(s) {', '.join(missing)}: add them"
    elif is_alter_table(ast):
        for action in ast.args.get("actions") or ():
            gone = None
            if isinstance(action, exp.Drop) and action.args.get("kind") == "COLUMN":
                gone = [name_of(t) for t in action.args.get("tables") or ()]
            elif isinstance(action, exp.RenameColumn):
                gone = [name_of(action.this)]
            elif isinstance(action, exp.ModifyColumn) and action.args.get("rename_from") is not None:
                gone = [name_of(action.args["rename_from"])]
            for name in gone or ():
                if column_key(name, ctx.dialect) in required and name:
                    yield Hit(f"column {table_of(ast)}.{name} is a required column: keep it (do not drop or rename "
                              "it)", **at(st, action))


_NO_LITERAL_DEFAULT = (T.TINYBLOB, T.BLOB, T.MEDIUMBLOB, T.LONGBLOB, T.TINYTEXT, T.TEXT, T.MEDIUMTEXT, T.LONGTEXT,
                       T.JSON, T.GEOMETRY)


@rule("column.require-default", engines="PMS", category="DESIGN", severity="off",
      nodes=(exp.Create, exp.Alter), contains=TABLE_WORDS,
      actions=(exp.ColumnDef,),
      summary="A column without `DEFAULT` in `CREATE TABLE` / `ADD COLUMN` (keys, identity and generated "
              "columns excepted).",
      why="A default lets old code keep inserting rows that do not name the column.",
      instead="Give the column a DEFAULT.",
      example="ALTER TABLE t ADD COLUMN status text NOT NULL;")
def column_require_default(st: Stmt, ctx: FileContext, payload: dict) -> Iterator[Hit]:
    primary = _primary_columns(st, ctx.dialect)
    for table, column, _ in column_defs(st, modify=False):
        name = name_of(column)
        if (table, column_key(name, ctx.dialect)) in primary or is_auto_increment(column, st):
            continue
        if has_constraint(column, exp.DefaultColumnConstraint, exp.ComputedColumnConstraint,
                          exp.GeneratedAsRowColumnConstraint, exp.PrimaryKeyColumnConstraint):
            continue
        kind = column.args.get("kind")
        if ctx.dialect == "mysql" and isinstance(kind, exp.DataType) and kind.this in _NO_LITERAL_DEFAULT:
            continue
        yield Hit(f"column {table}.{name} has no DEFAULT: add one so inserts that do not name it keep working",
                  **at(st, column))


def _type_names(kind: exp.DataType, dialect: str) -> set[str]:
    written = type_label(kind, dialect).lower()  # (compared with the payload's names, lower-cased)
    return {written, written.split("(")[0].strip(), str(getattr(kind.this, "name", kind.this)).lower()}


@rule("column.type-disallow-list", engines="PMS", category="DESIGN", severity="off",
      nodes=(exp.Create, exp.Alter), contains=TABLE_WORDS, payload={"types": ["money", "enum", "set"]},
      schema={"properties": {"types": {"type": "array", "items": {"type": "string", "minLength": 1}}}},
      actions=TYPED_ACTIONS,
      summary="Columns of a type in the configured deny list (`types`; by default money, enum, set).",
      why="Some types are known trouble for a team: `money` depends on lc_monetary, ENUM/SET need a "
          "table change for every new value.",
      instead="Use the team's preferred type (numeric, a lookup table or a CHECK constraint).",
      example="CREATE TABLE t (id bigint PRIMARY KEY, price money);")
def column_type_disallow_list(st: Stmt, ctx: FileContext, payload: dict) -> Iterator[Hit]:
    banned = {t.lower().strip() for t in payload["types"]}
    for table, column, kind in typed_columns(st):
        if _type_names(kind, ctx.dialect) & banned:
            yield Hit(f"column {table}.{name_of(column)} is of type {type_label(kind, ctx.dialect)}, which this "
                      "policy disallows: use another type", **at(st, column))


_SERIAL_LIKE = (T.SERIAL, T.SMALLSERIAL, T.USERDEFINED)
_NARROW_OR_SERIAL_LIKE = NARROW_INTEGER_TYPES + (T.USERDEFINED,)


@rule("column.prefer-bigint-over-int", engines="PM", category="DESIGN", severity="W",
      nodes=(exp.Create, exp.Alter, "command"), contains=TABLE_WORDS,
      actions=(*COLUMN_ACTIONS, exp.AddConstraint),
      summary="`int`/`smallint`/`serial`/`smallserial` as primary-key, identity or auto-increment column.",
      why="A 32-bit key runs out at about 2.1 billion (4.3 with unsigned); widening a key column later "
          "rewrites the table and every table referencing it, under lock.",
      instead="`bigint` (PostgreSQL `bigint GENERATED … AS IDENTITY`, MySQL `BIGINT UNSIGNED`).",
      example="CREATE TABLE t (id serial PRIMARY KEY);")
def column_prefer_bigint_over_int(st: Stmt, ctx: FileContext, payload: dict) -> list[Hit]:
    # (A list, not a generator: most statements it sees find nothing, and a generator costs one each.)
    if not st.parsed:  # PostgreSQL's ALTER COLUMN … ADD GENERATED … AS IDENTITY reads as no tree
        if ctx.dialect == "postgres" and st.norm.startswith("ALTER TABLE") and "AS IDENTITY" in st.norm:
            return list(_identity_added(st, ctx))
        return []
    found: list[Hit] = []
    columns = _columns(st)
    if not _none_of(columns.types, _NARROW_OR_SERIAL_LIKE):  # the types of its defs are among them
        found.extend(_narrow_key_columns(st, ctx, columns.defs))
    if ctx.dialect == "postgres" and is_alter_table(st.ast) and mentions(st, "PRIMARY"):
        found.extend(_narrow_keys_added(st, ctx))
    return found


def _narrow_key_columns(st: Stmt, ctx: FileContext, defs: tuple) -> Iterator[Hit]:
    """The narrow key columns the statement defines (`defs`: its column_defs)."""
    flagged = _flagged_keys(ctx)
    single_key = None
    for table, column, _ in defs:
        kind = column.args.get("kind")
        if not isinstance(kind, exp.DataType):
            continue
        # A narrow integer type is narrow whatever it prints as; only a user-defined type must be
        # printed (as serial/serial2/serial4?). No SQL for the rest until a finding names the type.
        if kind.this in NARROW_INTEGER_TYPES:
            written = None
            if ctx.dialect == "mysql" and _wider_in_mysql(kind, column, st):
                continue
        elif kind.this in _SERIAL_LIKE:
            # A user-defined type prints as written: serial2/serial4 only with the word in the text,
            # which is asked once per statement (printing each type is not free).
            if not _says_serial(st):
                continue
            written = type_label(kind, ctx.dialect)
            if written.strip('"').lower() not in ("serial", "serial2", "serial4"):
                continue
        else:
            continue
        if single_key is None:
            single_key = {(i.table, column_key(i.columns[0], ctx.dialect)) for i in index_defs(st, ctx.dialect)
                          if i.kind == "primary" and len(i.columns) == 1 and i.columns[0]}
        name = plain_name(column)
        key = (table, column_key(name, ctx.dialect))
        # is_auto_increment, cheapest test first (is_serial may search the text).
        if key in single_key or has_constraint(column, exp.AutoIncrementColumnConstraint,
                                               exp.GeneratedAsIdentityColumnConstraint) \
                or is_serial(column, st):
            flagged.add(key)
            yield Hit(_narrow_key_message(table, name, written or type_label(kind, ctx.dialect), ctx.dialect),
                      **at(st, column))
        elif flagged:
            flagged.discard(key)  # defined again, as no key: a key added later is news again


def _narrow_keys_added(st: Stmt, ctx: FileContext) -> Iterator[Hit]:
    """A single-column primary key that an ALTER TABLE adds (pg_dump and Rails' structure.sql add the
    keys after the tables) to an int column of an earlier statement."""
    for index in index_defs(st, ctx.dialect):
        if index.kind == "primary" and len(index.columns) == 1 and index.columns[0] \
                and not isinstance(index.node, exp.ColumnDef):  # (ADD COLUMN … PRIMARY KEY: defined here)
            key = index.node.find(exp.PrimaryKey) if index.node is not None else None
            where = at(st, key.expressions[0]) if key is not None and key.expressions else {}
            yield from _narrow_known(ctx, index.table, index.columns[0], where)


_PG_NAME = r'(?:"(?:[^"]|"")+"|[^\s".,;()]+)'
_ALTER_TABLE_HEAD = re.compile(rf"\s*ALTER\s+TABLE\s+(?:IF\s+EXISTS\s+)?(?:ONLY\s+)?(?:{_PG_NAME}\s*\.\s*)*"
                               rf"({_PG_NAME})", re.I)
_ADD_IDENTITY = re.compile(rf"\bALTER\s+(?:COLUMN\s+)?({_PG_NAME})\s+ADD\s+GENERATED\s+(?:ALWAYS|BY\s+DEFAULT)\s+AS\s+"
                           r"IDENTITY\b", re.I)


def _identity_added(st: Stmt, ctx: FileContext) -> Iterator[Hit]:
    """`ALTER TABLE t ALTER [COLUMN] c ADD GENERATED … AS IDENTITY` (as pg_dump writes identity
    columns) on an int column of an earlier statement: read from the text (comments and strings
    blanked), the names from the statement's own text at the same offsets."""
    text, blank = st.text, blanked(st)
    head = _ALTER_TABLE_HEAD.match(blank)
    if head is None:
        return
    table = _pg_unquoted(text[head.start(1):head.end(1)])
    for match in _ADD_IDENTITY.finditer(blank, head.end()):
        yield from _narrow_known(ctx, table, _pg_unquoted(text[match.start(1):match.end(1)]),
                                 position(st, match.start(1)))


def _pg_unquoted(name: str) -> str:
    return name[1:-1].replace('""', '"') if name.startswith('"') else name.lower()


# The narrow integer types as the file's column model prints them in PostgreSQL (serial2 and
# serial4 are user-defined types to the parser).
_NARROW_PRINTED = frozenset({"int", "smallint", "serial", "smallserial", "serial2", "serial4"})


def _narrow_known(ctx: FileContext, table: str, column: str, where: dict) -> Iterator[Hit]:
    """A column made a key or an identity after its definition: flagged when the file defined it
    with a narrow type, and not flagged there already."""
    flagged = _flagged_keys(ctx)
    if (table, column) in flagged:
        return
    written = ctx.column_types.get((table, column), "").lower()
    if written.strip('"') in _NARROW_PRINTED:
        flagged.add((table, column))
        yield Hit(_narrow_key_message(table, column, written, ctx.dialect), **where)


def _flagged_keys(ctx: FileContext) -> set[tuple[str, str]]:
    """The (table, column) keys column.prefer-bigint-over-int reported: not again when the file later
    makes the same column a key or an identity (pg_dump does both)."""
    flagged = ctx.memo.get("column.prefer-bigint-over-int")
    if flagged is None:
        flagged = ctx.memo["column.prefer-bigint-over-int"] = set()
    return flagged


def _narrow_key_message(table: str, column: str, written: str, dialect: str) -> str:
    # (Not bigserial: column.prefer-identity would then ask for the identity column instead.)
    better = "bigint GENERATED ALWAYS AS IDENTITY" if dialect == "postgres" else "BIGINT UNSIGNED"
    return (f"key column {table}.{column} is {written}: a 32-bit (or smaller) key runs out, and widening it later "
            f"rewrites the table: use {better}")


_INT8 = re.compile(r"\s*INT8\b", re.I)


def _wider_in_mysql(kind: exp.DataType, column: exp.ColumnDef, st: Stmt) -> bool:
    """A MySQL type wider than sqlglot reads it: SERIAL (BIGINT UNSIGNED NOT NULL AUTO_INCREMENT
    UNIQUE), and INT8, BIGINT to MySQL and TINYINT to sqlglot (read from the text after the name)."""
    if kind.this == T.SERIAL:
        return True
    if kind.this != T.TINYINT or "INT8" not in st.norm:
        return False
    end = column.this.meta.get("end") if isinstance(column.this, exp.Identifier) else None
    return end is not None and _INT8.match(blanked(st), end + 1 - st.base) is not None


@rule("column.prefer-identity", engines="P", category="DESIGN", severity="I",
      nodes=(exp.Create, exp.Alter), contains=TABLE_WORDS,
      actions=COLUMN_ACTIONS,
      summary="`serial` / `bigserial` / `smallserial` columns.",
      why="A serial column's sequence is a separate object with its own ownership and grants; identity "
          "columns are the SQL-standard form, are copied by `CREATE TABLE … LIKE`, and reject stray "
          "explicit values with `GENERATED ALWAYS`.",
      instead="`bigint GENERATED ALWAYS AS IDENTITY` (or `BY DEFAULT`).",
      example="CREATE TABLE t (id bigserial PRIMARY KEY);")
def column_prefer_identity(st: Stmt, ctx: FileContext, payload: dict) -> Iterator[Hit]:
    # is_serial: a serial type, or else the word in the text.
    columns = _columns(st)
    if _none_of(columns.types, _SERIAL_TYPES) and not _says_serial(st):
        return
    for table, column, _ in columns.defs:
        if is_serial(column, st):
            yield Hit(f"column {table}.{name_of(column)} is a serial: use `bigint GENERATED ALWAYS AS IDENTITY` "
                      "(or BY DEFAULT) instead", **at(st, column))


@rule("column.prefer-timestamptz", engines="P", category="DESIGN", severity="W",
      nodes=(exp.Create, exp.Alter), contains=TABLE_WORDS,
      actions=TYPED_ACTIONS,
      summary="`timestamp` (without time zone) columns.",
      why="`timestamp` stores wall-clock time with no zone: values written from sessions in different "
          "time zones cannot be compared, and daylight-saving shifts corrupt ordering.",
      instead="`timestamptz` (timestamp with time zone).",
      example="ALTER TABLE t ADD COLUMN created_at timestamp;")
def column_prefer_timestamptz(st: Stmt, ctx: FileContext, payload: dict) -> list[Hit]:
    columns = _columns(st)  # (once: its types, then its typed columns)
    if T.TIMESTAMP not in columns.types:
        return []
    return [Hit(f"column {table}.{name_of(column)} is a timestamp without time zone: use timestamptz, which "
                "stores an absolute instant", **at(st, column))
            for table, column, kind in columns.typed if kind.this == T.TIMESTAMP]


@rule("column.prefer-text-over-varchar", engines="P", category="DESIGN", severity="off",
      nodes=(exp.Create, exp.Alter), contains=TABLE_WORDS,
      actions=TYPED_ACTIONS,
      summary="`varchar(n)` columns.",
      why="In PostgreSQL varchar(n) is text with a length check; changing n later can rewrite the table, "
          "while a CHECK constraint can be replaced without a rewrite.",
      instead="`text` with `CHECK (char_length(col) <= n)`.",
      example="CREATE TABLE t (id bigint PRIMARY KEY, name varchar(100));")
def column_prefer_text_over_varchar(st: Stmt, ctx: FileContext, payload: dict) -> Iterator[Hit]:
    columns = _columns(st)
    if T.VARCHAR not in columns.types:
        return
    for table, column, kind in columns.typed:
        if kind.this == T.VARCHAR and kind.expressions:
            yield Hit(f"column {table}.{name_of(column)} is {type_label(kind, ctx.dialect)}: use text with a CHECK "
                      "on its length (changing a CHECK needs no rewrite)", **at(st, column))


_CHAR_TYPES = (T.CHAR, T.NCHAR, T.BPCHAR)


@rule("column.disallow-char", engines="P", category="DESIGN", severity="W",
      nodes=(exp.Create, exp.Alter), contains=TABLE_WORDS,
      actions=TYPED_ACTIONS,
      summary="`char(n)` / `character` columns.",
      why="char(n) pads values with spaces, which are then ignored or not depending on the operator; it "
          "is no faster than text in PostgreSQL, and a bare `character` holds one character.",
      instead="`text` or `varchar(n)`.",
      example="CREATE TABLE t (id bigint PRIMARY KEY, code char(3));")
def column_disallow_char(st: Stmt, ctx: FileContext, payload: dict) -> list[Hit]:
    columns = _columns(st)
    if _none_of(columns.types, _CHAR_TYPES):
        return []
    return [Hit(f"column {table}.{name_of(column)} is {type_label(kind, ctx.dialect)} (blank-padded): use text "
                "or varchar instead", **at(st, column))
            for table, column, kind in columns.typed if kind.this in _CHAR_TYPES]


_VARCHAR_TYPES = (T.VARCHAR, T.NVARCHAR)


@rule("column.maximum-varchar-length", engines="M", category="DESIGN", severity="I",
      nodes=(exp.Create, exp.Alter), contains=TABLE_WORDS, payload={"max_length": 2560},
      schema={"properties": {"max_length": {"type": "integer", "minimum": 1}}},
      actions=TYPED_ACTIONS,
      summary="`varchar(n)` with n above `max_length` (default 2560).",
      why="Long VARCHARs count against MySQL's 65,535-byte row limit, force on-disk temporary tables "
          "and cannot be indexed whole.",
      instead="`TEXT` (or a shorter VARCHAR).",
      example="CREATE TABLE t (id bigint PRIMARY KEY, body varchar(10000));")
def column_maximum_varchar_length(st: Stmt, ctx: FileContext, payload: dict) -> Iterator[Hit]:
    columns = _columns(st)
    if _none_of(columns.types, _VARCHAR_TYPES):
        return
    limit = payload["max_length"]
    for table, column, kind in columns.typed:
        if kind.this in _VARCHAR_TYPES and kind.expressions:
            try:
                length = int(kind.expressions[0].name)
            except ValueError:
                continue
            if length > limit:
                yield Hit(f"column {table}.{name_of(column)} is varchar({length}), longer than {limit}: use TEXT "
                          "instead", **at(st, column))


@rule("column.prefer-jsonb", engines="P", category="DESIGN", severity="W",
      nodes=(exp.Create, exp.Alter), contains=TABLE_WORDS,
      actions=TYPED_ACTIONS,
      summary="`json` columns.",
      why="`json` keeps the text as written and has no equality operator, so DISTINCT, UNION and GROUP "
          "BY on it fail; it cannot be indexed with GIN and is reparsed on every access.",
      instead="`jsonb`.",
      example="ALTER TABLE t ADD COLUMN data json;")
def column_prefer_jsonb(st: Stmt, ctx: FileContext, payload: dict) -> list[Hit]:
    columns = _columns(st)
    if T.JSON not in columns.types:
        return []
    return [Hit(f"column {table}.{name_of(column)} is json: use jsonb (it has equality, GIN indexes and no "
                "reparsing)", **at(st, column)) for table, column, kind in columns.typed if kind.this == T.JSON]


@rule("column.auto-increment-must-integer", engines="M", category="DESIGN", severity="W",
      nodes=(exp.Create, exp.Alter), contains=TABLE_WORDS,
      actions=COLUMN_ACTIONS,
      summary="`AUTO_INCREMENT` on a column that is not an integer.",
      why="AUTO_INCREMENT on FLOAT/DOUBLE is deprecated in MySQL 8.0 and loses precision; on DECIMAL it "
          "is an error.",
      instead="`BIGINT UNSIGNED AUTO_INCREMENT`.",
      example="CREATE TABLE t (id double AUTO_INCREMENT PRIMARY KEY);")
@only_if(lambda st: mentions(st, "INCREMENT", "IDENTITY"))  # the words sqlglot reads AUTO_INCREMENT from
def column_auto_increment_must_integer(st: Stmt, ctx: FileContext, payload: dict) -> Iterator[Hit]:
    for table, column, _ in column_defs(st):
        kind = column.args.get("kind")
        if has_constraint(column, exp.AutoIncrementColumnConstraint) and isinstance(kind, exp.DataType) \
                and kind.this not in INTEGER_TYPES:
            yield Hit(f"AUTO_INCREMENT column {table}.{name_of(column)} is {type_label(kind, ctx.dialect)}: use "
                      "an integer type (BIGINT UNSIGNED)", **at(st, column))


@rule("column.auto-increment-must-unsigned", engines="M", category="DESIGN", severity="off",
      nodes=(exp.Create, exp.Alter), contains=TABLE_WORDS,
      actions=COLUMN_ACTIONS,
      summary="`AUTO_INCREMENT` on a signed integer column.",
      why="Auto-increment values are never negative: a signed column wastes half its range.",
      instead="`… UNSIGNED AUTO_INCREMENT` (e.g. `BIGINT UNSIGNED`).",
      example="CREATE TABLE t (id bigint AUTO_INCREMENT PRIMARY KEY);")
@only_if(lambda st: mentions(st, "INCREMENT", "IDENTITY"))  # (as above)
def column_auto_increment_must_unsigned(st: Stmt, ctx: FileContext, payload: dict) -> Iterator[Hit]:
    for table, column, _ in column_defs(st):
        kind = column.args.get("kind")
        if has_constraint(column, exp.AutoIncrementColumnConstraint) and isinstance(kind, exp.DataType) \
                and kind.this in SIGNED_INTEGER_TYPES:
            yield Hit(f"AUTO_INCREMENT column {table}.{name_of(column)} is signed {type_label(kind, ctx.dialect)}: "
                      "declare it UNSIGNED (it never holds negative values)", **at(st, column))


# -- indexes ------------------------------------------------------------------------------------


def _index_label(index: IndexDef) -> str:
    what = {"primary": "primary key", "unique": "unique index"}.get(index.kind, "index")
    named = f" {index.name}" if index.name else ""
    return f"{what}{named} on {index.table}({_columns_text(index)})"


@rule("index.no-duplicate-column", engines="PM", category="DESIGN", severity="W",
      severity_by_engine={"mysql": "error"}, nodes=(exp.Create, exp.Alter), contains=INDEX_WORDS,
      actions=INDEX_ACTIONS,
      summary="The same column twice in one index or key.",
      why="MySQL rejects the statement (duplicate column name), and so does PostgreSQL for a primary key "
          "or unique constraint (column appears twice); a PostgreSQL CREATE INDEX builds a bigger index "
          "that is no more useful.",
      instead="List each column once.",
      example="CREATE INDEX idx_t_a ON t (a, a);")
def index_no_duplicate_column(st: Stmt, ctx: FileContext, payload: dict) -> list[Hit]:
    found = []
    for index in index_defs(st, ctx.dialect):
        if len(index.columns) < 2:  # (most indexes: one column cannot be listed twice)
            continue
        named = [column_key(c, ctx.dialect) for c in index.columns if c]
        if len(set(named)) == len(named):  # the usual case: no column twice
            continue
        duplicates = sorted({c for c in named if named.count(c) > 1})
        listed = f"{_index_label(index)} lists {', '.join(duplicates)} more than once"
        if ctx.dialect == "postgres" and index.kind in ("primary", "unique") and index.node is not None:
            # A constraint of a CREATE/ALTER TABLE, not a CREATE [UNIQUE] INDEX: "column … appears twice".
            listed += ": PostgreSQL rejects the statement"
        found.append(Hit(f"{listed}: list each column once", **at(st, index.node)))
    return found


@rule("index.key-number-limit", engines="PMS", category="DESIGN", severity="I",
      nodes=(exp.Create, exp.Alter), contains=INDEX_WORDS,
      payload={"max_columns": 5},
      schema={"properties": {"max_columns": {"type": "integer", "minimum": 1}}},
      actions=INDEX_ACTIONS,
      summary="An index with more than `max_columns` (default 5) columns.",
      why="Wide indexes are large, slow every write, and are rarely used beyond their first columns.",
      instead="A narrower index on the columns the queries filter on.",
      example="CREATE INDEX idx_t_wide ON t (a, b, c, d, e, f);")
def index_key_number_limit(st: Stmt, ctx: FileContext, payload: dict) -> list[Hit]:
    limit = payload["max_columns"]
    return [Hit(f"{_index_label(index)} has {len(index.columns)} columns, more than {limit}: use a narrower "
                "index on the columns queries filter on", **at(st, index.node))
            for index in index_defs(st, ctx.dialect) if len(index.columns) > limit]


@rule("index.type-no-blob", engines="M", category="DESIGN", severity="E",
      nodes=(exp.Create, exp.Alter), contains=INDEX_WORDS,
      actions=INDEX_ACTIONS,
      summary="An index on a `BLOB`/`TEXT` column without a prefix length (type known from the same file).",
      why="MySQL refuses to index a BLOB or TEXT column without a prefix length (error 1170).",
      instead="Index a prefix (`col(191)`) or a generated column holding a hash of the value.",
      example="CREATE TABLE t (id bigint PRIMARY KEY, body text, KEY idx_t_body (body));")
def index_type_no_blob(st: Stmt, ctx: FileContext, payload: dict) -> Iterator[Hit]:
    if not index_defs(st, ctx.dialect):
        return
    # (table, column) → its type node in this statement (the last definition wins); MySQL column
    # names in any case.
    here = None
    for index in index_defs(st, ctx.dialect):
        if index.kind in ("fulltext", "spatial"):
            continue
        for column in index.columns:
            if not column or column in index.prefixed:
                continue
            if here is None:
                here = {(table, plain_name(col).lower()): col.args["kind"]
                        for table, col, _ in column_defs(st) if isinstance(col.args.get("kind"), exp.DataType)}
            kind = here.get((index.table, column.lower()))
            if kind is not None and _never_blob_or_text(kind):
                continue
            written = type_sql(kind, "mysql") if kind is not None else ""
            if not written:
                known = _known_type(ctx, index.table, column)
                if isinstance(known, exp.DataType):
                    if _never_blob_or_text(known):
                        continue
                    known = type_sql(known, "mysql")
                written = known
            if written.split("(")[0].strip().upper() in BLOB_TEXT_NAMES:
                yield Hit(f"{_index_label(index)} indexes {written} column {column} without a prefix length: "
                          f"index a prefix ({column}(191)) or a generated hash column", **at(st, index.node))


def _known_type(ctx: FileContext, table: str, column: str) -> exp.DataType | str:
    """The type of a MySQL column an earlier statement of the file defined, "" if none did: its
    name in any case (the file's column model keeps a quoted name as written). Its type node while
    no one has read it (`ColumnTypes.unprinted`), else its SQL."""
    types = ctx.column_types
    for key in ((table, column), (table, column.lower())):  # as written; unquoted (the usual)
        if key in types:
            return types.unprinted(key)
    # A name quoted in another case: a walk over the file's columns, only for a column the file
    # may not know (an index on a column of an earlier migration, most often).
    folded = column.lower()
    for key in types:
        if key[0] == table and key[1].lower() == folded:
            return types.unprinted(key)
    return ""


@rule("table.no-duplicate-index", engines="PMS", category="DESIGN", severity="I",
      nodes=(exp.Create, exp.Alter, exp.Drop), contains=INDEX_WORDS,
      actions=(*INDEX_ACTIONS, exp.Drop, exp.DropPrimaryKey, exp.RenameIndex, exp.AlterRename),
      summary="An index duplicating one created earlier in the same file (same table, columns, sort order, "
              "INCLUDE columns, method and predicate). Indexes that already exist in the database are not known here.",
      why="A duplicate index costs disk and slows every write without speeding up any read.",
      instead="Drop one of the two.",
      example="CREATE INDEX idx_a ON t (a);\nCREATE INDEX idx_a2 ON t (a);")
def table_no_duplicate_index(st: Stmt, ctx: FileContext, payload: dict) -> list[Hit]:
    known: dict[str, list[tuple[IndexDef, int]]] | None = ctx.memo.get("table.no-duplicate-index")
    if known is None:
        known = ctx.memo["table.no-duplicate-index"] = {}
        ctx.memo["table.no-duplicate-index.lookup"] = {}
    # Per table (`_table_key`), `_duplicate_key` → the indexes still known, in order:
    # one lookup per new index instead of a scan of the table's earlier ones; the first of the same
    # predicate is the duplicate (predicates printed only then). A table's is dropped when one of its
    # indexes is forgotten or renamed, and rebuilt when the table next gets an index.
    lookups: dict[str, dict] = ctx.memo["table.no-duplicate-index.lookup"]
    ast = st.ast
    if isinstance(ast, exp.Drop):
        if not known:  # nothing to forget (a table is in `lookups` only while it is in `known`)
            return []
        kind = ast.args.get("kind")
        for target in ast.args.get("tables") or ():
            if kind == "TABLE":
                known.pop(_table_key(target, ctx.dialect), None)
                lookups.pop(_table_key(target, ctx.dialect), None)
            elif kind == "INDEX":
                _forget(known, lookups, name_of(target))
        return []
    if isinstance(ast, exp.Alter) and ast.args.get("kind") == "INDEX":  # ALTER INDEX … RENAME TO …
        for action in ast.args.get("actions") or ():
            if isinstance(action, exp.AlterRename):
                _rename(known, lookups, name_of(ast.this), name_of(action.this))
        return []
    indexes = index_defs(st, ctx.dialect)
    if not is_alter_table(ast):
        if not indexes:  # (a CREATE TABLE without keys, a CREATE of anything else)
            return []
        table = _table_key(_table_node(ast), ctx.dialect)
    else:
        if not known and not indexes:  # nothing to forget or rename, nothing to add (most ALTERs)
            return []
        table = _table_key(_table_node(ast), ctx.dialect)
        for action in ast.args.get("actions") or ():
            if isinstance(action, exp.Drop) and action.args.get("kind") in ("INDEX", "CONSTRAINT", "KEY"):
                for target in action.args.get("tables") or ():
                    _forget(known, lookups, name_of(target))
            elif isinstance(action, exp.DropPrimaryKey):
                known[table] = [k for k in known.get(table, []) if k[0].kind != "primary"]
                lookups.pop(table, None)
            elif isinstance(action, exp.RenameIndex):  # MySQL RENAME INDEX/KEY … TO …
                _rename(known, lookups, name_of(action.this), name_of(action.args.get("to")), table)
            elif isinstance(action, exp.AlterRename) and isinstance(action.this, exp.Table) and known:
                # RENAME TO: its keys and indexes go with the table (a rebuild's new__t becomes t), and
                # the old name is free for a new table.
                new = _table_key(action.this, ctx.dialect)
                moved = known.pop(table, None)
                lookups.pop(table, None)
                lookups.pop(new, None)
                if moved:
                    shown = plain_name(action.this)
                    known[new] = [(index.renamed(table=shown), line) for index, line in moved]
                else:
                    known.pop(new, None)
                table = new
        if not indexes:
            return []
    found = []
    line = st.line
    for index in indexes:
        if not index.columns or None in index.columns:
            continue
        name = index.name
        if not name and ctx.dialect == "postgres":  # the name PostgreSQL gives it, for a later DROP
            name = _postgres_default_name(index, known.get(table, ()))
        lookup = lookups.get(table)
        if lookup is None:
            lookup = lookups[table] = _duplicate_lookup(known.get(table, ()), ctx.dialect)
        key = _duplicate_key(index, ctx.dialect)
        same = _duplicate_of(lookup.get(key, ()), index)
        # Kept without its node, and a predicate not printed yet cut from the tree after the statement:
        # the statement's tree goes when the review moves on.
        entry = (_kept(index, name), line)
        if isinstance(index.where, Predicate):
            index.where.keep_in(ctx)
        if same is not None:
            earlier, earlier_line = same
            found.append(Hit(f"{_index_label(entry[0])} duplicates the {_index_label(earlier)} from line "
                             f"{earlier_line}: {_which_to_drop(entry[0], earlier)}", **at(st, index.node)))
        known.setdefault(table, []).append(entry)
        lookup.setdefault(key, []).append(entry)
    return found


def _kept(index: IndexDef, name: str | None) -> IndexDef:
    """The index as the rule keeps it past its statement: named, without its node."""
    return IndexDef(index.table, name, index.kind, index.columns, index.prefixed, index.method, index.where,
                    index.order, index.include, None, index.shown)


# A primary key is also a unique index, and a unique index also an index: of two on the same columns,
# the weaker is the one to drop (dropping the other loses the key or the uniqueness).
_INDEX_STRENGTH = {"primary": 2, "unique": 1}


def _which_to_drop(index: IndexDef, earlier: IndexDef) -> str:
    weaker, stronger = sorted((index, earlier), key=lambda i: _INDEX_STRENGTH.get(i.kind, 0))
    if _INDEX_STRENGTH.get(weaker.kind, 0) == _INDEX_STRENGTH.get(stronger.kind, 0):
        return "drop one of them"
    weaker_what = "unique index" if weaker.kind == "unique" else "index"
    stronger_what = "primary key" if stronger.kind == "primary" else "unique index"
    named = f" {weaker.name}" if weaker.name else ""
    return f"drop the {weaker_what}{named}, not the {stronger_what} (which serves the same lookups)"


def _table_key(table: exp.Table | None, dialect: str) -> str:
    """A table as table.no-duplicate-index tells tables apart: its name, and its schema when one is
    written (PostgreSQL's `public` counts as none: the usual search_path)."""
    if table is None:
        return ""
    name = plain_name(table)
    schema = table.args.get("db")
    if schema is None:
        return name
    schema_name = name_of(schema)
    return name if dialect == "postgres" and schema_name == "public" else f"{schema_name}.{name}"


def _duplicate_lookup(entries: Iterable[tuple[IndexDef, int]], dialect: str) -> dict:
    """A table's known indexes per duplicate key, in order."""
    lookup: dict = {}
    for entry in entries:
        lookup.setdefault(_duplicate_key(entry[0], dialect), []).append(entry)
    return lookup


def _duplicate_of(entries: Iterable[tuple[IndexDef, int]], index: IndexDef) -> tuple[IndexDef, int] | None:
    """The first entry whose index has the index's predicate (most have none: no printing then),
    and another name: an index of the same name is the same index (CREATE INDEX IF NOT EXISTS, or a
    rename this rule did not follow)."""
    for entry in entries:
        earlier = entry[0]
        if index.name is not None and earlier.name == index.name:
            continue
        where = earlier.where
        if where is index.where or where == index.where:
            return entry
    return None


# Types MySQL prints under their own name (TYPE_MAPPING has no BLOB/TEXT for them): no need to print
# them to know they are no BLOB/TEXT. A VARCHAR only with a length: without one MySQL prints TEXT.
_NEVER_BLOB_OR_TEXT = INTEGER_TYPES + (T.CHAR, T.BINARY, T.VARBINARY, T.DATE, T.DATETIME, T.TIMESTAMP, T.TIMESTAMPTZ,
                                        T.DECIMAL, T.ENUM)


def _never_blob_or_text(kind: exp.DataType) -> bool:
    return kind.this in _NEVER_BLOB_OR_TEXT or (kind.this == T.VARCHAR and bool(kind.expressions))


def _duplicate_key(index: IndexDef, dialect: str) -> tuple:
    """What a duplicate on the same table has in common with the index, but for its predicate and name
    (see `_duplicate_of`): its columns (MySQL's in any case) and their sort orders, its INCLUDE
    columns, its method (none written: the default, a B-tree) and family."""
    family = index.kind if index.kind in ("fulltext", "spatial") else "btree"
    columns = tuple(c.lower() for c in index.columns if c) if dialect == "mysql" else index.columns
    return (columns, index.order, index.include, index.method or "btree", family)


def _postgres_default_name(index: IndexDef, known: Iterable[tuple[IndexDef, int]]) -> str:
    columns = "_".join(c for c in index.columns if c)
    suffix = {"primary": "pkey", "unique": "key"}.get(index.kind, "idx")
    name = f"{index.table}_pkey" if index.kind == "primary" else f"{index.table}_{columns}_{suffix}"
    taken = {entry[0].name for entry in known}
    if name not in taken:
        return name
    number = 1  # PostgreSQL numbers a name its table's index has already: t_c_key1, t_c_key2 …
    while f"{name}{number}" in taken:
        number += 1
    return f"{name}{number}"


def _forget(known: dict[str, list[tuple[IndexDef, int]]], lookups: dict[str, dict], name: str) -> None:
    for table, entries in known.items():
        kept = [e for e in entries if e[0].name != name]
        if len(kept) != len(entries):
            known[table] = kept
            lookups.pop(table, None)


def _rename(known: dict[str, list[tuple[IndexDef, int]]], lookups: dict[str, dict], old: str, new: str,
            table: str | None = None) -> None:
    """An index renamed (of one table, or of any: PostgreSQL's ALTER INDEX) is known by its new name."""
    for key, entries in known.items():
        if (table is None or key == table) and any(e[0].name == old for e in entries):
            known[key] = [(e[0].renamed(name=new), e[1]) if e[0].name == old else e for e in entries]
            lookups.pop(key, None)
