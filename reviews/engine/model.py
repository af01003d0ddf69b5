"""What a rule sees: one statement (`Stmt`) and what the file has done before it (`FileContext`)."""

from __future__ import annotations

import dataclasses
import functools
import inspect
import re
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

from sqlglot import exp

from reviews.splitter import Statement

# PostgreSQL's CONCURRENTLY keyword in st.norm (not a name that holds it, nor `(CONCURRENTLY false)`).
CONCURRENTLY = re.compile(r"\bCONCURRENTLY\b(?! (?:FALSE|OFF|0)\b)")
# A statement (st.norm) that opens a transaction: not PostgreSQL's `BEGIN ATOMIC` routine body, nor
# MariaDB's `BEGIN NOT ATOMIC … END` block (compound statements, which open none).
TX_BEGIN = re.compile(r"^(?:BEGIN|START TRANSACTION)\b(?! (?:NOT )?ATOMIC\b)")
# A dollar quote's tag, as PostgreSQL (scan.l) and the splitter read it: a letter, "_" or non-ASCII
# character first, then digits too. Written as what it excludes: the class [A-Za-z_\u0080-\U0010ffff]
# takes Python's regex compiler 4 ms per use (25 ms in the case-insensitive password pattern), its
# complement 0.2 ms (the same characters: a test compares both over every code point).
DOLLAR_TAG = r"(?:[^\x00-\x40\x5b-\x5e\x60\x7b-\x7f][^\x00-\x2f\x3a-\x40\x5b-\x5e\x60\x7b-\x7f]*)?"
_COMMENTS_AND_STRINGS = re.compile(
    rf"--[^\n]*|/\*.*?\*/|'[^']*(?:''[^']*)*'|\$(?P<tag>{DOLLAR_TAG})\$.*?\$(?P=tag)\$|E'[^'\\]*(?:(?:\\.|'')[^'\\]*)*'",
    re.DOTALL,
)
# The same, and "quoted names" first, kept as they are (the callers' replacements return them
# unchanged): a quote, `--` or `/*` inside a name such as "it's" starts nothing. Used only when the
# text holds a double quote (a name costs a call of the replacement).
_NAMES_COMMENTS_AND_STRINGS = re.compile(r'"[^"]*(?:""[^"]*)*"|' + _COMMENTS_AND_STRINGS.pattern, re.DOTALL)


def _pg_lexemes(text: str) -> re.Pattern:
    return _NAMES_COMMENTS_AND_STRINGS if '"' in text else _COMMENTS_AND_STRINGS


_NOT_NEWLINE = re.compile(r"[^\n]")


def blank_out(text: str) -> str:
    """The text as blanks, its line breaks kept: what replaces it keeps every later position."""
    return _NOT_NEWLINE.sub(" ", text)


def blank_comments_and_strings(text: str) -> str:
    """The text with every comment and string literal (read as `normalize` reads PostgreSQL) turned
    into blanks, line breaks kept: the same length and lines, so that an offset found in it is an
    offset in the text."""
    # Every match of the pattern holds one of these (E'…' holds a quote): without them, no regex pass.
    if "'" in text or "--" in text or "/*" in text or "$" in text:
        text = _pg_lexemes(text).sub(_blank_same_length, text)
    return text


# MySQL's lexer (as sqlglot's MySQL tokenizer and the splitter read it): backslash escapes in
# '…' and "…" strings (both are strings), `#` comments, `-- ` only with a blank after the dashes,
# and `…` names, kept as they are so that a quote inside one starts nothing.
MYSQL_COMMENT = r"--(?=\s|$)[^\n]*|#[^\n]*|/\*.*?\*/"
MYSQL_STRING = r"'[^'\\]*(?:(?:\\.|'')[^'\\]*)*'|\"[^\"\\]*(?:(?:\\.|\"\")[^\"\\]*)*\""
MYSQL_NAME = r"`[^`]*(?:``[^`]*)*`"
# One match per comment or string literal, with everything before it that stays as it is (`keep`:
# plain text, `names`, and lone characters that start neither): the same scan as trying
# comment | string | name at each position, with a Python call per literal rather than per name.
MYSQL_LEXEME = re.compile(
    rf"(?P<keep>(?:[^'\"`#/\-]+|{MYSQL_NAME}|(?!{MYSQL_COMMENT}|{MYSQL_STRING}).)*)"
    rf"(?:(?P<comment>{MYSQL_COMMENT})|(?P<string>{MYSQL_STRING})|\Z)",
    re.DOTALL,
)


# What MySQL's lexer meets in a statement, in order: strings, names, comments, and the opening
# (`/*!`, `/*!50100`, MariaDB's `/*M!100100`) and closing `*/` of a comment that the server runs.
_MYSQL_EXECUTABLE_SCAN = re.compile(
    rf"{MYSQL_STRING}|{MYSQL_NAME}|--(?=\s|$)[^\n]*|#[^\n]*|(?P<open>/\*M?!\d{{0,6}})|(?P<close>\*/)|/\*.*?(?:\*/|\Z)",
    re.DOTALL,
)


def mysql_executable(text: str) -> str | None:
    """The statement as MySQL runs it, or None when it holds no `/*! … */` comment: MySQL (and
    MariaDB, also `/*M! … */`) executes what such a comment holds, and mysqldump writes whole
    statements and clauses so (`/*!40000 DROP DATABASE x */`, `) /*!50100 ENGINE=MyISAM */`). The
    comment's opening (with its version) and its `*/` become blanks: same length, same lines, so a
    position in it is a position in the text. The version is not compared: the review reads what
    some server would run."""
    if "/*" not in text:
        return None
    chars: list[str] | None = None
    inside = False
    for match in _MYSQL_EXECUTABLE_SCAN.finditer(text):
        if match.group("open") is not None and not inside:
            inside = True
        elif match.group("close") is not None and inside:
            inside = False
        else:
            continue
        if chars is None:
            chars = list(text)
        chars[match.start():match.end()] = " " * (match.end() - match.start())
    if chars is None or inside:  # (an unterminated one: a syntax error, judged as written)
        return None
    return "".join(chars)


# ctx.memo: the indexes of the statements that bound their own run time (MariaDB's
# `SET STATEMENT max_statement_time=… FOR <statement>`).
BOUNDED_STATEMENTS = "mysql.bounded_statements"


def normalize(text: str, dialect: str = "postgres") -> str:
    """Upper-cased text with comments and string literals removed and whitespace folded: what
    token-level rules match on (no keyword inside a string or comment can fool them). Strings and
    comments are read as the dialect writes them (MySQL: backslash escapes, `#` comments)."""
    return flatten(text, dialect).upper()


def flatten(text: str, dialect: str = "postgres") -> str:
    """`normalize` without the upper-casing: names keep their case (for messages)."""
    if dialect == "mysql":
        # Every comment or string holds one of these: without them, no regex pass (names stay as they are).
        if "'" in text or '"' in text or "#" in text or "--" in text or "/*" in text:
            text = MYSQL_LEXEME.sub(_blank_mysql, text)
        return " ".join(text.split())
    # Every match of the pattern holds one of these (E'…' holds a quote): without them, no regex pass.
    if "'" in text or "--" in text or "/*" in text or "$" in text:
        text = _pg_lexemes(text).sub(_blank, text)
    return " ".join(text.split())


def _blank(match: re.Match) -> str:
    # A comment is white space; a string stays a (content-free) token; a quoted name stays.
    found = match.group()
    if found[0] == '"':
        return found
    return " " if found.startswith(("--", "/*")) else " '' "


def _blank_same_length(match: re.Match) -> str:
    found = match.group()
    return found if found[0] == '"' else _NOT_NEWLINE.sub(" ", found)


def _blank_mysql(match: re.Match) -> str:
    # What comes before stays as it is (names included); then a comment is white space, a string a
    # (content-free) token.
    last = match.lastgroup  # comment, string, or keep (at the end of the text)
    if last == "comment":
        return match.group("keep") + " "
    if last == "string":
        return match.group("keep") + " '' "
    return match.group("keep")


_SQLGLOT_DIALECTS: dict[str, Any] = {}


def sqlglot_dialect(dialect: str) -> Any:
    """One sqlglot Dialect object per dialect (Sluice's names are sqlglot's): not a registry lookup
    per parse or per `sql()` call."""
    found = _SQLGLOT_DIALECTS.get(dialect)
    if found is None:
        from sqlglot.dialects.dialect import Dialect

        found = _SQLGLOT_DIALECTS[dialect] = Dialect.get_or_raise(dialect)
    return found


_PARSERS = threading.local()  # dialect → (tokenizer, parser): an instance holds one parse's state


def sqlglot_parse(text: str, dialect: str) -> list:
    """`sqlglot_dialect(dialect).parse(text)` without building a new tokenizer and parser for every
    statement (`Dialect.parse` does: a sixth of the time of parsing a migration's short statements).
    The parser resets itself at each parse; one pair per thread. Raises what sqlglot raises."""
    return sqlglot_parse_tokens(sqlglot_tokenize(text, dialect), text, dialect)


def sqlglot_parse_tokens(tokens: list, text: str, dialect: str) -> list:
    """`sqlglot_parse` of a statement already tokenized by `sqlglot_tokenize`."""
    return _pair(dialect)[1].parse(tokens, text)


def sqlglot_tokenize(text: str, dialect: str) -> list:
    """`sqlglot_dialect(dialect).tokenize(text)` with the thread's tokenizer. Raises TokenError."""
    return _pair(dialect)[0].tokenize(text)


def _pair(dialect: str) -> tuple[Any, Any]:
    pairs = getattr(_PARSERS, "pairs", None)
    if pairs is None:
        pairs = _PARSERS.pairs = {}
    pair = pairs.get(dialect)
    if pair is None:
        found = sqlglot_dialect(dialect)
        pair = pairs[dialect] = (found.tokenizer(), found.parser())
    return pair


def name_of(node: Any) -> str:
    """A table/column/index name as PostgreSQL and MySQL compare it: unquoted names lower-cased."""
    if node is None:
        return ""
    ident = getattr(node, "this", None)
    if ident is not None and hasattr(ident, "args") and ident.args.get("quoted"):
        return str(ident.this)
    name = getattr(node, "name", None) or ""
    return name if getattr(node, "args", {}).get("quoted") else name.lower()


def shown_name(node: Any, dialect: str) -> str:
    """A name as a message shows it: as `name_of` gives it, but as written on MySQL, whose table names
    are case-sensitive (on Linux, its default `lower_case_table_names=0`): `Orders` is not `orders` there."""
    if dialect != "mysql" or node is None:
        return name_of(node)
    return getattr(node, "name", None) or name_of(node)


def plain_name(node: Any) -> str:
    """`name_of` a Table, Column or ColumnDef: for the usual one, named by a plain identifier, without
    name_of's generic lookups (tens of thousands of calls); name_of for any other."""
    ident = node.this
    if type(ident) is exp.Identifier and type(node) in _PLAINLY_NAMED:
        text = ident.this
        if type(text) is str:
            return text if ident.args.get("quoted") else text.lower()
    return name_of(node)


_PLAINLY_NAMED = frozenset({exp.Table, exp.Column, exp.ColumnDef})


@dataclasses.dataclass(slots=True)
class Stmt:
    index: int  # 0-based position in the file
    statement: Statement  # text, line, column, end_line (from the splitter)
    ast: Any  # sqlglot expression: a full tree, a Command, or None when it could not be parsed
    norm: str  # normalize(text)
    syntax_error: bool = False
    memo: dict = dataclasses.field(default_factory=dict, repr=False)  # per_statement answers
    flat: str = ""  # flatten(text): norm before upper-casing ("" when not given: rules make it)
    dialect: str = ""  # the file's ("" when not given: rules assume nothing of it)
    base: int = 0  # where the tree's token offsets (identifiers' meta) count from: 0, or the statement's start in the file

    @property
    def text(self) -> str:
        return self.statement.text

    @property
    def line(self) -> int:
        return self.statement.line

    @property
    def parsed(self) -> bool:
        """sqlglot gave a real tree (not a Command, not nothing)."""
        return self.ast is not None and not isinstance(self.ast, exp.Command)

    def starts(self, *prefixes: str) -> bool:
        """Whether the normalized text starts with one of the (upper-case) word prefixes."""
        return starts_with_words(self.norm, prefixes)


def starts_with_words(norm: str, prefixes: tuple[str, ...]) -> bool:
    """Whether a normalized text starts with one of the word prefixes: each followed by the end, a
    blank or "(" (`SET` is not the start of `SETTINGS`)."""
    if not norm.startswith(prefixes):
        return False  # the usual answer, in one call
    for prefix in prefixes:
        if norm.startswith(prefix) and (len(norm) == len(prefix) or norm[len(prefix)] in " ("):
            return True
    return False


def type_sql(kind: exp.DataType, dialect: str) -> str:
    """`kind.sql(dialect=…)`, printed once per dialect and spelling of the type (`.sql()` copies the
    node and builds a generator: ~10 µs a call, for the same few types over and over)."""
    key = _type_key(kind)
    if key is None:
        return kind.sql(dialect=sqlglot_dialect(dialect))
    key = (dialect, key)
    found = _TYPE_SQL.get(key)
    if found is None:
        if len(_TYPE_SQL) >= 4096:
            _TYPE_SQL.clear()
        found = _TYPE_SQL[key] = kind.sql(dialect=sqlglot_dialect(dialect))
    return found


_TYPE_SQL: dict[tuple, str] = {}


def _type_key(kind: exp.DataType) -> tuple | None:
    """Everything a plain type prints from: its Type, its flags, its literal parameters (`int(11)`,
    `varchar(20)`) and a user-defined type's name. None for any other type (nested, with comments …):
    those are printed each time. (A printed node is a detached copy: its parents do not matter.)"""
    if kind.comments:
        return None
    key: list = [kind.this]
    for arg, value in kind.args.items():
        if arg == "this":
            continue
        if value is None or isinstance(value, (bool, str)):
            key.append((arg, value))
        elif arg == "expressions" and isinstance(value, list):
            params: list = [arg]
            for param in value:
                literal = param.this if type(param) is exp.DataTypeParam and param.args.get("expression") is None \
                    and param.args.keys() <= {"this", "expression"} else None
                if param.comments or type(literal) is not exp.Literal or literal.comments \
                        or literal.args.keys() != {"this", "is_string"}:
                    return None
                params.append((literal.this, literal.args["is_string"]))
            key.append(tuple(params))
        elif arg == "kind" and type(value) is exp.Identifier and not value.comments \
                and value.args.keys() <= {"this", "quoted"}:
            key.append((arg, value.this, value.args.get("quoted")))
        else:
            return None
    return tuple(key)


class ColumnTypes:
    """(table, column) → the column's type as SQL. Stored as the detached type node (with the dialect's
    name) and printed on first read, by `type_sql`: most are never read, and printing each one cost a
    sixth of the engine's time. (A mapping of its own, not a dict subclass: compiled code calls a
    dict's own methods, not a subclass's overrides.)"""

    __slots__ = ("_types",)

    def __init__(self) -> None:
        self._types: dict[tuple[str, str], Any] = {}  # → its SQL, or (its type node, the dialect)

    def __getitem__(self, key: tuple[str, str]) -> str:
        value = self._types[key]
        if not isinstance(value, str):
            node, dialect = value
            value = self._types[key] = type_sql(node, dialect)
        return value

    def __setitem__(self, key: tuple[str, str], value: Any) -> None:
        self._types[key] = value

    def __contains__(self, key: object) -> bool:
        return key in self._types

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(self._types)

    def get(self, key: tuple[str, str], default: Any = None) -> Any:
        return self[key] if key in self._types else default

    def unprinted(self, key: tuple[str, str]) -> exp.DataType | str:
        """The type of a column the model has: its node while no one has read it (a rule that can
        answer from the node need not print it), else its SQL."""
        value = self._types[key]
        return value if isinstance(value, str) else value[0]


@dataclasses.dataclass
class FileContext:
    """The file so far. The engine updates it after each statement (rules only read it)."""

    path: str
    dialect: str
    created_tables: set[str] = dataclasses.field(default_factory=set)  # "new" tables (table_key): no lock rules
    created_names: set[str] = dataclasses.field(default_factory=set)  # the same without their schemas
    in_transaction: bool = False  # inside the file's own BEGIN … COMMIT
    transaction_began_line: int = 0
    implicit_commit_line: int = 0  # MySQL: the DDL that committed the file's BEGIN (its COMMIT is then a no-op)
    # SQLite: the SAVEPOINTs open outside BEGIN (name, line); the first began a transaction.
    savepoints: list[tuple[str, int]] = dataclasses.field(default_factory=list)
    lock_timeout_set: bool = False
    statement_timeout_set: bool = False
    # Behind the two flags (the engine keeps them in step), the timeouts ("LOCK", "STATEMENT") set by
    # the run directives (for the whole file), by the session's SETs, and by a SET LOCAL in the
    # file's own BEGIN … COMMIT (until it ends; False: set to 0 or DEFAULT, which disables it).
    directive_timeouts: set[str] = dataclasses.field(default_factory=set)
    session_timeouts: set[str] = dataclasses.field(default_factory=set)
    local_timeouts: dict[str, bool] = dataclasses.field(default_factory=dict)
    not_valid_in_transaction: set[str] = dataclasses.field(default_factory=set)  # constraint names
    column_types: ColumnTypes = dataclasses.field(default_factory=lambda: ColumnTypes())  # (table, col) → type SQL
    not_null_columns: set[tuple[str, str]] = dataclasses.field(default_factory=set)
    dropped_tables: set[str] = dataclasses.field(default_factory=set)  # (table_key) dropped so far in the file
    # File-level facts from a cheap first pass over the normalized text of every statement:
    has_concurrently: bool = False
    has_mid_file_commit: bool = False
    # The statements that end the file's own transactions (COMMIT, END; PostgreSQL's PREPARE TRANSACTION),
    # in order: whether a block of the file commits before more of the file runs.
    commits: list[int] = dataclasses.field(default_factory=list)
    alters_existing_tables: bool = False
    statement_count: int = 0
    # The file's own run directives (design §2, in its leading comment block), as the runner applies
    # them: `-- sluice:transaction off` runs it statement by statement in autocommit. (Its
    # `sluice:lock-timeout` / `statement-timeout` set lock_timeout_set / statement_timeout_set.)
    transaction_off: bool = False
    # Statements 0 … settings_before-1 are SET/RESET (psql meta-commands and COPY data, which no rule
    # sees, left out): statement settings_before, and every one before it, follow only settings.
    settings_before: int = 0
    # Likewise statements settings_after … the last are SET/RESET (or what no rule sees): a statement
    # at settings_before with settings_after == settings_before + 1 is the file's only other statement.
    settings_after: int = 0
    # Anything a rule family wants to remember between statements, under its rule id.
    memo: dict[str, Any] = dataclasses.field(default_factory=dict)
    # Nodes of the statement's tree that a rule keeps past it (in memo: `keep`), cut from their parents
    # once the statement's rules and trackers are done, so that they do not keep the whole tree alive.
    kept_nodes: list[Any] = dataclasses.field(default_factory=list)
    # The file's statements, for runner_transaction (worked out only when a rule asks).
    statements: Sequence[Statement] = dataclasses.field(default=(), repr=False)
    # Their flattened text (`flatten`), as the engine made it once for the file: for a rule that must
    # read a statement other than the one it is checking (`flat_of`).
    flats: Sequence[str] = dataclasses.field(default=(), repr=False)

    def flat_of(self, index: int) -> str:
        """`flatten` of statement `index` of the file (the engine's, when it gave them)."""
        return self.flats[index] if index < len(self.flats) else flatten(self.statements[index].text, self.dialect)

    def keep(self, node: Any) -> None:
        """Keep a node of the statement's tree past the statement (a rule's memo holds it): its parent
        link is cut after the statement (`kept_nodes`), not now (other rules may still walk up)."""
        self.kept_nodes.append(node)

    def is_new(self, table: str) -> bool:
        """Created earlier in this file: lock, rewrite and data rules do not apply to it. Names are
        compared as `table_key` spells them, and what the search_path may have made of a name is
        given the benefit of the doubt: `backup.users` is new after CREATE TABLE backup.users or
        CREATE TABLE users, `users` after either, but `public.users` not after CREATE TABLE
        backup.users (the backup a drop rule advises, taken in the same file)."""
        key = table_key(table)
        if key in self.created_tables:
            return True
        if "." in key:  # another schema than public: or the one an unqualified CREATE went to
            return key.rsplit(".", 1)[-1] in self.created_tables
        return "." not in table and key in self.created_names  # (`public.x` says which x it means)

    def created(self, table: str) -> None:
        key = table_key(table)
        self.created_tables.add(key)
        self.created_names.add(key.rsplit(".", 1)[-1])

    @functools.cached_property
    def runner_transaction(self) -> bool:
        """Whether Sluice's runner applies the whole file in one transaction (releases/runner/core.py,
        `_apply_file`): on PostgreSQL and SQLite, unless the file says `-- sluice:transaction off`, has
        its own BEGIN or COMMIT, or holds a statement that must run in autocommit. Asked of the
        runner's own predicates, once, when a rule first needs it: asking them of every statement of
        every file cost 0.46 s over the PostgreSQL corpus."""
        if self.dialect == "mysql" or self.transaction_off:
            return False
        from releases.runner.adapters.base import closes_transaction, opens_transaction

        autocommit = _runner_autocommit(self.dialect)
        return not any(autocommit(s.text) or opens_transaction(s.text) or closes_transaction(s.text)
                       for s in self.statements)

    def runner_autocommit(self, text: str) -> bool:
        """Whether Sluice's runner runs the statement in autocommit: its adapter says it cannot run in
        a transaction. Any other statement outside the file's own BEGIN … COMMIT runs in a transaction
        the runner opens: the whole file's (runner_transaction), or else one for the statement alone."""
        return _runner_autocommit(self.dialect)(text)


def _runner_autocommit(dialect: str) -> Callable[[str], bool]:
    """The runner's adapter's `needs_autocommit` for the dialect, from the module that holds it
    without the database drivers (the adapters' own modules import psycopg or PyMySQL)."""
    from releases.runner.adapters.autocommit import BY_ENGINE

    return BY_ENGINE[dialect]


def qualified_name(table: Any) -> str:
    """A table node's name with its schema when one is written (`name_of` drops it), for is_new."""
    db = table.args.get("db") if hasattr(table, "args") else None
    return f"{name_of(db)}.{name_of(table)}" if db is not None and name_of(db) else name_of(table)


_RENAME_TABLE_TO = re.compile(r"^ALTER TABLE (?:IF EXISTS )?(?:ONLY )?([^\s(]+) RENAME (?:TO |AS )?([^\s,;]+)$")
_MYSQL_RENAME_TABLES = re.compile(r"^RENAME TABLES? (.+)$")


def renamed_tables(norm: str, dialect: str) -> list[tuple[str, str]]:
    """(old, new) of each table the statement (its normalized, upper-case text) renames: `ALTER TABLE x
    RENAME TO y` (PostgreSQL and SQLite: y in x's schema), MySQL's `RENAME TABLE a TO b, c TO d`."""
    if match := _RENAME_TABLE_TO.match(norm):
        old, new = match.groups()
        if dialect != "mysql" and "." in old and "." not in new:
            new = f"{old.rsplit('.', 1)[0]}.{new}"
        return [(old, new)]
    if dialect == "mysql" and (match := _MYSQL_RENAME_TABLES.match(norm)):
        return [(pair[0].strip(), pair[1].strip()) for part in match.group(1).split(",")
                if len(pair := part.split(" TO ")) == 2]
    return []


@functools.lru_cache(maxsize=8192)  # (is_new asks of the same few names again and again)
def table_key(name: str) -> str:
    """A table's name as the file model compares it: lower case, without quotes, and without its
    schema when that is none or `public` (PostgreSQL's default; an unqualified name is taken to be
    there): `"Public"."Users"` and `users` are one table, `backup.users` another."""
    name = name.lower()
    if "." not in name:
        return name.strip('"`')
    schema, _, table = name.rpartition(".")
    schema = schema.rsplit(".", 1)[-1].strip('"` ')
    table = table.strip('"` ')
    return table if schema in ("", "public") else f"{schema}.{table}"


F = TypeVar("F", bound=Callable[..., Any])
_MISSING = object()


def per_statement(fn: F) -> F:
    """Remember a helper's answer about one statement: several rules ask the same question of
    it (its ALTER TABLE, its column definitions …), and the answer goes with the statement.

    The helper takes the statement, or the statement and its file (`ctx`, the statement's own: not
    part of the key). A list answer is copied for each caller; anything else is shared and must be
    treated as read-only."""

    parameters = list(inspect.signature(fn).parameters.values())
    if not (len(parameters) == 1 or (len(parameters) == 2 and parameters[1].name == "ctx")) \
            or any(p.kind is not p.POSITIONAL_OR_KEYWORD or p.default is not p.empty for p in parameters):
        raise TypeError(f"per_statement: {fn.__name__} must take (st) or (st, ctx)")

    # (Two shapes, not one taking `*ctx`: the shared helpers are asked ~170,000 times over the corpus.)
    if len(parameters) == 1:
        def cached(st: Stmt) -> Any:
            memo = st.memo
            found = memo.get(fn, _MISSING)
            if found is _MISSING:
                found = memo[fn] = fn(st)
            return list(found) if type(found) is list else found
    else:
        def cached(st: Stmt, ctx: Any) -> Any:  # type: ignore[misc]
            memo = st.memo
            found = memo.get(fn, _MISSING)
            if found is _MISSING:
                found = memo[fn] = fn(st, ctx)
            return list(found) if type(found) is list else found

    return functools.wraps(fn)(cached)  # type: ignore[return-value]
