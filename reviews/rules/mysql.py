"""MySQL-specific rules (catalogue §1.8): storage engine, character sets, online-DDL options and
the column/constraint forms that MySQL silently ignores or can only apply by copying the table.

sqlglot reads many MySQL DDL statements as a bare `Command` (`CONVERT TO CHARACTER SET`,
`ADD CONSTRAINT … FOREIGN KEY` next to another action, `DROP INDEX … ALGORITHM=`, options on
`CREATE INDEX`), so these rules read the statement's own tokens instead of the tree: `_ddl()`
cuts a `CREATE TABLE` / `ALTER TABLE` / `CREATE|DROP INDEX` into its column definitions,
constraints and options once per statement, with comments removed and string literals replaced
by placeholders (so no keyword inside a string or comment can fool a rule, and ENUM values are
still at hand).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator

from sqlglot import exp

from reviews.engine.model import MYSQL_LEXEME, FileContext, Stmt
from reviews.engine.registry import Hit, declare, rule, tracker
from reviews.rules.common import (
    blanked,
    leading_words_at,
    mentions,
    paren_group,
    position,
    split_top,
    words_at,
)

DDL_NODES = (exp.Alter, exp.Create, exp.Drop, "command")
# The rules read what `_ddl` reads (ALTER …, CREATE …, DROP INDEX statements) and, for the
# session's defaults, SET statements: their `keywords` name those first words. A rule whose finding
# needs a word of `_ddl`'s text also names it in `contains`: that text is the statement's flat text
# (`ctx.flat_of`), of which st.norm is the upper-cased copy, so the word is in st.norm too. Spelled
# so that the look-alikes re.IGNORECASE takes and upper() keeps (U+0130 "İ" for I, U+212A "K" for
# K) cannot hide it: "ENG" for ENGINE, "EXCLUS" for EXCLUSIVE, "MOD" for MODIFY; no LOCK.

# -- reading a MySQL DDL statement -------------------------------------------------------------

_NAME = r"(?:`(?:[^`]|``)*`|[\w$]+)(?:\s*\.\s*(?:`(?:[^`]|``)*`|[\w$]+))?"
# (MariaDB also writes `ALTER TABLE IF EXISTS t WAIT n|NOWAIT …`, `CREATE OR REPLACE TABLE|INDEX|DATABASE`,
# `CREATE INDEX IF NOT EXISTS`.)
_ALTER_TABLE = re.compile(rf"^ALTER\s+(?:ONLINE\s+|OFFLINE\s+)?(?:IGNORE\s+)?TABLE\s+(?:IF\s+EXISTS\s+)?(?P<name>{_NAME})"
                          r"\s*(?:(?:WAIT\s+[\d.]+|NOWAIT)\b\s*)?(?P<rest>.*)$", re.IGNORECASE | re.DOTALL)
_CREATE_TABLE = re.compile(rf"^CREATE\s+(?:OR\s+REPLACE\s+)?(?P<temp>TEMPORARY\s+)?TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?"
                           rf"(?P<name>{_NAME})\s*(?P<rest>.*)$", re.IGNORECASE | re.DOTALL)
_CREATE_INDEX = re.compile(rf"^CREATE\s+(?:OR\s+REPLACE\s+)?(?:UNIQUE\s+|FULLTEXT\s+|SPATIAL\s+)?INDEX\s+"
                           rf"(?:IF\s+NOT\s+EXISTS\s+)?{_NAME}\s+(?:USING\s+\w+\s+)?ON\s+(?P<name>{_NAME})\s*(?P<rest>.*)$",
                           re.IGNORECASE | re.DOTALL)
_DROP_INDEX = re.compile(rf"^DROP\s+INDEX\s+{_NAME}\s+ON\s+(?P<name>{_NAME})\s*(?P<rest>.*)$", re.IGNORECASE | re.DOTALL)
_DATABASE = re.compile(r"^(?:CREATE\s+(?:OR\s+REPLACE\s+)?|ALTER\s+)(?:DATABASE|SCHEMA)\b", re.IGNORECASE)

_ALGORITHM = re.compile(r"\bALGORITHM\s*=?\s*(DEFAULT|INSTANT|INPLACE|COPY|NOCOPY)\b", re.IGNORECASE)
_LOCK = re.compile(r"\bLOCK\s*=?\s*(DEFAULT|NONE|SHARED|EXCLUSIVE)\b", re.IGNORECASE)
# (`\b` after ENGINE: not ENGINE_ATTRIBUTE = '…'.)
_ENGINE = re.compile(r"\bENGINE\b\s*=?\s*(`[^`]+`|[\w$]+)", re.IGNORECASE)
# (Not a name `charset` in backticks, whose closing backtick would open the value.)
# (The name may also be a string, `CHARACTER SET 'ascii'`: in read_ddl's text, a `'<n>'` placeholder.)
_CHARSET = re.compile(r"(?<!`)\b(?:CHARACTER\s+SET|CHARSET)\b(?!`)\s*=?\s*(`[^`]+`|'\d+'|[\w$]+)", re.IGNORECASE)
_COLLATE = re.compile(r"\bCOLLATE\s*=?\s*(`[^`]+`|'\d+'|[\w$]+)", re.IGNORECASE)
_OPTION_START = re.compile(
    r"^(?:ENGINE|DEFAULT|CHARACTER|CHARSET|COLLATE|ALGORITHM|LOCK|COMMENT|AUTO_INCREMENT|ROW_FORMAT|KEY_BLOCK_SIZE|"
    r"AVG_ROW_LENGTH|CHECKSUM|COMPRESSION|CONNECTION|DATA|DELAY_KEY_WRITE|ENCRYPTION|INDEX|INSERT_METHOD|MAX_ROWS|"
    r"MIN_ROWS|PACK_KEYS|PASSWORD|STATS_\w+|TABLESPACE|UNION|FORCE)\b", re.IGNORECASE)
_NOT_A_COLUMN = re.compile(r"^(?:PRIMARY|KEY|INDEX|UNIQUE|FULLTEXT|SPATIAL|CONSTRAINT|FOREIGN|CHECK|PARTITION)\b",
                           re.IGNORECASE)
_CONSTRAINT = re.compile(rf"^(?:CONSTRAINT(?:\s+IF\s+NOT\s+EXISTS)?(?:\s+(?!FOREIGN\b|CHECK\b|PRIMARY\b|UNIQUE\b){_NAME})?\s+)?"
                         r"(?P<kind>FOREIGN\s+KEY|CHECK)\b", re.IGNORECASE)
_CHARACTER_TYPES = {"CHAR", "VARCHAR", "TINYTEXT", "TEXT", "MEDIUMTEXT", "LONGTEXT", "ENUM", "SET"}
_PLACEHOLDER = re.compile(r"'(\d+)'")


@dataclasses.dataclass
class Column:
    name: str  # as written, without backticks
    type: str  # upper-case base type: VARCHAR, ENUM, …
    params: str  # what is between the type's parentheses ("" if none)
    attrs: str  # everything after the type: NOT NULL, DEFAULT …, CHARACTER SET …, REFERENCES …
    action: str  # CREATE | ADD | MODIFY | CHANGE
    old_name: str = ""  # CHANGE old new …


@dataclasses.dataclass
class Ddl:
    kind: str  # CREATE TABLE | ALTER TABLE | CREATE INDEX | DROP INDEX | DATABASE
    table: str  # as written (backticks removed); "" for DATABASE
    temporary: bool = False
    options: str = ""  # table options / ALTER option clauses / index options, space-joined
    convert: str = ""  # ALTER … CONVERT TO CHARACTER SET clause
    text: str = ""  # the cleaned statement
    source: str = ""  # the statement as written: its literals are read from it when a rule asks
    _literals: list[str] | None = dataclasses.field(default=None, repr=False)
    body: str = ""  # CREATE TABLE: what is between its parentheses (its columns and constraints)
    # (columns, constraints), read from `body` on first use: most rules never look at a CREATE
    # TABLE's columns, and cutting a dump's tables into them was most of read_ddl's time.
    items: tuple[list[Column], list[tuple[str, str]]] | None = dataclasses.field(default=None, repr=False)

    @property
    def literals(self) -> list[str]:
        """The values of the string literals, in order: `'<n>'` in `text` is literals[n]."""
        if self._literals is None:
            self._literals = clean(self.source)[1]
        return self._literals

    @property
    def columns(self) -> list[Column]:
        return self._items()[0]

    @property
    def constraints(self) -> list[tuple[str, str]]:
        """(FOREIGN KEY | CHECK, clause)."""
        return self._items()[1]

    def _items(self) -> tuple[list[Column], list[tuple[str, str]]]:
        if self.items is None:
            self.items = ([], [])
            _body_items(self.body, self, "CREATE")
        return self.items

    @property
    def key(self) -> str:
        """The bare lower-case table name, as FileContext.is_new compares it."""
        return self.table.rsplit(".", 1)[-1].lower()

    def algorithm(self) -> str:
        match = _ALGORITHM.search(self.options)
        return match.group(1).upper() if match else ""

    def lock(self) -> str:
        match = _LOCK.search(self.options)
        return match.group(1).upper() if match else ""


def clean(text: str) -> tuple[str, list[str]]:
    """The statement with comments removed, string literals replaced by `'<n>'` (their values in
    the list) and whitespace folded; case and backtick names are kept."""
    literals: list[str] = []
    if "'" not in text and '"' not in text and "#" not in text and "--" not in text and "/*" not in text:
        return " ".join(text.split()), literals  # nothing to remove (most index and ALTER statements)

    def replace(match: re.Match) -> str:
        last = match.lastgroup  # comment, string, or keep (at the end of the text)
        if last == "comment":
            return match.group("keep") + " "
        if last == "string":
            literals.append(_unquote_string(match.group("string")))
            return f"{match.group('keep')} '{len(literals) - 1}' "
        return match.group("keep")

    return " ".join(MYSQL_LEXEME.sub(replace, text).split()), literals


_ESCAPED_CHAR = re.compile(r"\\(.)")


def _unquote_string(raw: str) -> str:
    quote = raw[0]
    body = raw[1:-1]
    if quote in body:
        body = body.replace(quote * 2, quote)
    return _ESCAPED_CHAR.sub(r"\1", body) if "\\" in body else body


def unquote(name: str) -> str:
    if "." not in name:  # the usual name, without a schema: no list of parts
        return name.strip().strip("`")
    return ".".join(part.strip().strip("`") for part in name.split("."))






_COLUMN_HEAD = re.compile(r"^(?P<name>`(?:[^`]|``)*`|[\w$]+)\s+(?P<type>[A-Za-z_]\w*)\s*", re.DOTALL)


def parse_column(text: str, action: str, old_name: str = "") -> Column | None:
    match = _COLUMN_HEAD.match(text)
    if match is None:
        return None
    rest = text[match.end():]
    params = ""
    if rest.startswith("("):
        params, rest = paren_group(rest)
    return Column(name=unquote(match.group("name")), type=match.group("type").upper(), params=params,
                  attrs=rest, action=action, old_name=old_name)



def column_at(st: Stmt, column: Column) -> dict:
    """Where a column read by read_ddl is defined in the statement's text, as Hit keywords: its
    name (with or without backticks) followed by its type, when found exactly once (`words_at`);
    else {} (the statement)."""
    name = column.name.rsplit(".", 1)[-1]
    return words_at(st, [name, column.type], ["`" + name.replace("`", "``") + "`", column.type])


def located(st: Stmt, column: Column, message: str) -> Hit:
    """A finding about one column of the statement, at the column (see column_at)."""
    return Hit(message, **column_at(st, column))


def _body_items(body: str, ddl: Ddl, action: str) -> None:
    for item in split_top(body):
        if item[0] == "`":  # a column named in backticks (mysqldump's): no keyword starts it
            if column := parse_column(item, action):
                ddl.columns.append(column)
        elif constraint := _CONSTRAINT.match(item):
            ddl.constraints.append((" ".join(constraint.group("kind").upper().split()), item))
        elif not _NOT_A_COLUMN.match(item) and (column := parse_column(item, action)):
            ddl.columns.append(column)


_ADD = re.compile(r"^ADD\s+(?:COLUMN\s+)?(?:IF\s+NOT\s+EXISTS\s+)?", re.IGNORECASE)
_MODIFY = re.compile(r"^MODIFY\s+(?:COLUMN\s+)?(?:IF\s+EXISTS\s+)?", re.IGNORECASE)
_CHANGE = re.compile(rf"^CHANGE\s+(?:COLUMN\s+)?(?:IF\s+EXISTS\s+)?(?P<old>{_NAME})\s+", re.IGNORECASE)
_CONVERT = re.compile(r"^CONVERT\s+TO\s+(?:CHARACTER\s+SET|CHARSET)\b", re.IGNORECASE)


def _alter_clauses(rest: str, ddl: Ddl) -> None:
    options = []
    for clause in split_top(rest):
        if add := _ADD.match(clause):
            body = clause[add.end():]
            if constraint := _CONSTRAINT.match(body):
                ddl.constraints.append((" ".join(constraint.group("kind").upper().split()), body))
            elif body.startswith("("):
                _body_items(paren_group(body)[0], ddl, "ADD")
            elif not _NOT_A_COLUMN.match(body) and (column := parse_column(body, "ADD")):
                ddl.columns.append(column)
        elif modify := _MODIFY.match(clause):
            if column := parse_column(clause[modify.end():], "MODIFY"):
                ddl.columns.append(column)
        elif change := _CHANGE.match(clause):
            if column := parse_column(clause[change.end():], "CHANGE", unquote(change.group("old"))):
                ddl.columns.append(column)
        elif _CONVERT.match(clause):
            ddl.convert = clause
        elif _OPTION_START.match(clause):
            options.append(clause)
    ddl.options = " ".join(options)


_OPTIONS_END = re.compile(r"\b(?:PARTITION\s+BY|AS|SELECT|IGNORE|REPLACE)\b", re.IGNORECASE)
_LIKE_CLAUSE = re.compile(r"^(?:LIKE\b|\(\s*LIKE\b)", re.IGNORECASE)
_AS_OR_SELECT = re.compile(r"\b(?:AS|SELECT)\b", re.IGNORECASE)


def _numbered(flat: str) -> str | None:
    """`clean`'s text made from the statement's flat text (model.flatten, which the engine made
    already): the same text with each string literal's `''` numbered in order, or None when a
    backtick name holds a quote (its `''` would be taken for a literal)."""
    if "''" not in flat:
        return flat
    if "`" in flat and any("'" in name for name in flat.split("`")[1::2]):
        return None
    parts = flat.split("''")
    return "".join(f"{part}'{number}'" for number, part in enumerate(parts[:-1])) + parts[-1]


def read_ddl(text: str, flat: str | None = None) -> Ddl | None:
    """The statement's DDL; `flat`: its flattened text, if at hand (no second pass over the text)."""
    cleaned = _numbered(flat) if flat is not None else None
    literals = None
    if cleaned is None:
        cleaned, literals = clean(text)
    cleaned = cleaned.rstrip(";").strip()
    ddl: Ddl | None = None
    if match := _ALTER_TABLE.match(cleaned):
        ddl = Ddl("ALTER TABLE", unquote(match.group("name")), items=([], []))
        _alter_clauses(match.group("rest"), ddl)
    elif match := _CREATE_TABLE.match(cleaned):
        ddl = Ddl("CREATE TABLE", unquote(match.group("name")), temporary=bool(match.group("temp")))
        rest = match.group("rest")
        if rest.startswith("("):
            ddl.body, after = paren_group(rest)
            # Table options come before any PARTITION BY / AS SELECT / SELECT.
            ddl.options = _OPTIONS_END.split(after, maxsplit=1)[0]
        elif not _LIKE_CLAUSE.match(rest):
            ddl.options = _AS_OR_SELECT.split(rest, maxsplit=1)[0]
    elif match := _CREATE_INDEX.match(cleaned):
        ddl = Ddl("CREATE INDEX", unquote(match.group("name")))
        rest = match.group("rest")
        ddl.options = paren_group(rest)[1] if rest.startswith("(") else rest
    elif match := _DROP_INDEX.match(cleaned):
        ddl = Ddl("DROP INDEX", unquote(match.group("name")), options=match.group("rest"))
    elif _DATABASE.match(cleaned):
        ddl = Ddl("DATABASE", "", options=cleaned)
    if ddl is not None:
        ddl.text, ddl.source, ddl._literals = cleaned, text, literals
    return ddl


# The statement heads read_ddl knows, as st.norm spells them (st.norm drops comments as read_ddl does).
_DDL_HEAD = re.compile(r"^(?:ALTER (?:ONLINE |OFFLINE )?(?:IGNORE )?TABLE|CREATE (?:OR REPLACE )?(?:TEMPORARY )?TABLE"
                       r"|CREATE (?:OR REPLACE )?(?:UNIQUE |FULLTEXT |SPATIAL )?INDEX|DROP INDEX"
                       r"|(?:CREATE (?:OR REPLACE )?|ALTER )(?:DATABASE|SCHEMA))\b")


_ALGORITHM_OR_LOCK = re.compile(r"ALGORITHM|LOCK", re.IGNORECASE)


def _worth_reading(st: Stmt) -> bool:
    """Whether read_ddl can return what a rule uses: not for a statement it does not read (a view,
    a trigger, a procedure …), nor for CREATE/DROP INDEX without ALGORITHM= or LOCK= (the only
    things the rules read of an index statement)."""
    if not st.starts("ALTER", "CREATE", "DROP INDEX"):
        return False
    head = _DDL_HEAD.match(st.norm)
    if head is None:
        return False
    return not head.group().endswith("INDEX") or _ALGORITHM_OR_LOCK.search(st.text) is not None


def _ddl(st: Stmt, ctx: FileContext) -> Ddl | None:
    """read_ddl(st), once per statement (several rules ask)."""
    cached = ctx.memo.get("mysql.ddl")
    if cached is None or cached[0] != st.index:
        ddl = read_ddl(st.text, ctx.flat_of(st.index)) if _worth_reading(st) else None
        cached = (st.index, ddl)
        ctx.memo["mysql.ddl"] = cached
    return cached[1]


def _existing(st: Stmt, ctx: FileContext, kinds: tuple[str, ...] = ("ALTER TABLE",)) -> Ddl | None:
    """The statement's DDL when it is one of `kinds` on a table not created earlier in the file."""
    ddl = _ddl(st, ctx)
    if ddl is None or ddl.kind not in kinds or ctx.is_new(ddl.key):
        return None
    return ddl


def _literal_values(params: str, literals: list[str]) -> list[str]:
    return [literals[int(n)] for n in _PLACEHOLDER.findall(params) if int(n) < len(literals)]


def _option_name(value: str, ddl: Ddl) -> str:
    """A CHARACTER SET or COLLATE value as MySQL reads it: a name (backticks removed) or a string."""
    if value.startswith("'"):
        number = int(value.strip("'"))
        return ddl.literals[number] if number < len(ddl.literals) else ""
    return value.strip("`")


# -- storage engine ----------------------------------------------------------------------------

_SET_ENGINE = re.compile(r"^SET\s+(?:(?:GLOBAL|SESSION|PERSIST|LOCAL)\s+|@@(?:\w+\.)?)?"
                         r"DEFAULT_STORAGE_ENGINE\s*(?:=|:=|TO)\s*(\w+)", re.IGNORECASE)


@rule("engine.mysql.use-innodb", engines="M", category="MYSQL", severity="E",
      keywords=("ALTER", "CREATE", "SET"), nodes=(*DDL_NODES, exp.Set), contains=("ENG",),
      summary="`ENGINE=` other than InnoDB in `CREATE TABLE` / `ALTER TABLE`, or `SET default_storage_engine`.",
      why="MyISAM and the other non-InnoDB engines have no transactions, no foreign keys and no crash "
          "recovery: a failed migration or a crash leaves the table half-written, and replication and "
          "online schema tools assume InnoDB. Temporary tables are not checked.",
      instead="Use `ENGINE=InnoDB` (or leave the engine out: InnoDB is MySQL 8's default).",
      example="CREATE TABLE audit_log (id bigint PRIMARY KEY) ENGINE=MyISAM;")
def engine_use_innodb(st: Stmt, ctx: FileContext, payload: dict) -> list[str] | None:
    # A list or None, not a generator: it almost always finds nothing.
    # (A text that starts with SET gives a st.norm that does: no copy of a long CREATE TABLE's text.)
    if st.norm.startswith("SET") and (match := _SET_ENGINE.match(st.text.strip())):
        if match.group(1).lower() != "innodb":
            return [(f"SET default_storage_engine = {match.group(1)} makes later tables non-InnoDB (no transactions, "
                     "foreign keys or crash recovery): remove it and keep InnoDB")]
        return None
    ddl = _ddl(st, ctx)
    if ddl is None or ddl.kind not in ("CREATE TABLE", "ALTER TABLE") or ddl.temporary:
        return None
    found = []
    for engine in _ENGINE.findall(ddl.options):
        engine = engine.strip("`")
        if engine.lower() != "innodb":
            found.append(f"table {ddl.table} uses ENGINE={engine}, which has no transactions, foreign keys or crash "
                         "recovery: use ENGINE=InnoDB")
    return found or None


# -- character sets and collations ---------------------------------------------------------------

_PG_ENCODING = re.compile(r"\bENCODING\s*=?\s*(?:'([^']*)'|([A-Za-z_][\w-]*))", re.IGNORECASE)
_PG_COLLATIONS = re.compile(
    r"\b(?:LC_COLLATE|LOCALE|ICU_LOCALE)\s*=?\s*(?:'([^']*)'|([A-Za-z_][\w.-]*))"
    r"|\bCOLLATE\s+(?:\"([^\"]+)\"|([A-Za-z_][\w.]*))", re.IGNORECASE)


_NON_ALNUM = re.compile(r"[^a-z0-9]")


def _pg_encoding_key(name: str) -> str:
    # PostgreSQL compares encoding names ignoring case and non-alphanumerics ("UTF-8" = "utf8").
    return _NON_ALNUM.sub("", name.lower())


def _mysql_names(st: Stmt, ctx: FileContext, pattern: re.Pattern) -> list[str]:
    """The names that `pattern` (a CHARACTER SET or COLLATE clause) gives, read where such a clause
    can stand: in a column's definition after its type, in the table's (database's) options or a
    CONVERT TO; never from a column's name (a column may be named `charset`)."""
    ddl = _ddl(st, ctx)
    if ddl is None or ddl.kind in ("CREATE INDEX", "DROP INDEX"):
        return []
    clauses: list[str] = []
    # A CREATE TABLE is cut into columns only when its body holds the word (most bodies do not).
    if ddl.kind == "ALTER TABLE" or pattern.search(ddl.body):
        clauses = [column.attrs for column in ddl.columns]
    clauses += (ddl.options, ddl.convert)
    seen: list[str] = []
    for name in (name for clause in clauses for name in pattern.findall(clause)):
        name = _option_name(name, ddl)
        if name.upper() != "DEFAULT" and not name.isdigit() and name.lower() not in (s.lower() for s in seen):
            seen.append(name)
    return seen


@rule("system.charset.allowlist", engines="MP", category="MYSQL", severity="W",
      keywords=("ALTER", "CREATE"), nodes=(exp.Create, exp.Alter, "command"),
      contains=("CHARSET", "CHARACTER SET", "ENCOD"),  # (PostgreSQL: ENCODING, read where st.norm has its words)
      summary="`CHARSET` / `CHARACTER SET` (PostgreSQL: `CREATE DATABASE … ENCODING`) outside the allowlist "
              "(default `utf8mb4`; flags `utf8`, `utf8mb3`, `latin1`).",
      why="MySQL's `utf8` is the 3-byte `utf8mb3`: emoji and other 4-byte characters fail to insert or are "
          "silently cut. `latin1` and other legacy sets lose data, and joins between columns of different "
          "character sets cannot use indexes. (`binary` is not checked: it holds bytes, as VARBINARY/BLOB do.)",
      instead="Use `utf8mb4` (PostgreSQL: `ENCODING 'UTF8'`), or add the character set to the rule's allowlist.",
      example="CREATE TABLE notes (body text) DEFAULT CHARSET=utf8;",
      payload={"allowlist": ["utf8mb4"], "postgres_allowlist": ["UTF8"]},
      schema={"properties": {
          "allowlist": {"type": "array", "items": {"type": "string"},
                        "description": "MySQL character sets allowed (case-insensitive)"},
          "postgres_allowlist": {"type": "array", "items": {"type": "string"},
                                 "description": "PostgreSQL database encodings allowed; empty = not checked"}}})
def charset_allowlist(st: Stmt, ctx: FileContext, payload: dict) -> Iterator[str | Hit] | None:
    if ctx.dialect == "postgres":
        # (most PostgreSQL statements: returned at once, without a generator)
        return _pg_encodings(st, payload) if st.starts("CREATE DATABASE") else None
    # _CHARSET needs one of these words (neither has an I or a K, whose look-alikes re.IGNORECASE
    # also takes): a word test that is never a false no, as read_ddl reads the text, comes first.
    return _mysql_charsets(st, ctx, payload) if mentions(st, "CHARSET", "CHARACTER") else None


def _pg_encodings(st: Stmt, payload: dict) -> Iterator[str]:
    allowed = {_pg_encoding_key(n) for n in payload.get("postgres_allowlist") or ()}
    if not allowed:
        return
    code = blanked(st)  # (the value is a string: matched in the text, kept where the keyword is no comment)
    for match in _PG_ENCODING.finditer(st.text):
        name = match.group(1) or match.group(2)
        if code[match.start()] != " " and name.upper() != "DEFAULT" and _pg_encoding_key(name) not in allowed:
            yield (f"database encoding {name} is not in the allowlist "
                   f"({', '.join(payload['postgres_allowlist'])}): use ENCODING 'UTF8'")


def _named_at(st: Stmt, pattern: re.Pattern, name: str) -> dict:
    """Where a `pattern` clause (CHARACTER SET x, COLLATE x) first names `name` in the statement's
    text (comments and strings blanked), as Hit keywords; {} (the statement) if nowhere."""
    for match in pattern.finditer(blanked(st)):
        if match.group(1).strip("`").lower() == name.lower():
            return position(st, match.start())
    return {}


def _mysql_charsets(st: Stmt, ctx: FileContext, payload: dict) -> Iterator[Hit]:
    # `binary` is no text character set: its columns hold bytes (as VARBINARY/BLOB do), nothing to lose.
    allowed = {n.lower() for n in payload.get("allowlist") or ()} | {"binary"}
    listed = ", ".join(payload.get("allowlist") or ())
    for name in _mysql_names(st, ctx, _CHARSET):
        if name.lower() in allowed:
            continue
        if name.lower() == "ascii":  # the usual choice for hashes and UUIDs: a quarter of utf8mb4's index key size
            advice = f": if it is deliberate (hashes, UUIDs), add {name} to the rule's allowlist; else use utf8mb4"
        elif name.lower() in ("utf8", "utf8mb3"):
            advice = " (MySQL's utf8 is the 3-byte utf8mb3: 4-byte characters such as emoji fail): use utf8mb4"
        else:
            advice = ": use utf8mb4"
        yield Hit(f"character set {name} is not in the allowlist ({listed}){advice}", **_named_at(st, _CHARSET, name))


# (MariaDB has no utf8mb4_0900_*: its UCA 14.0 collations, 10.10+, take their place.)
_MYSQL_COLLATIONS = ["utf8mb4_0900_ai_ci", "utf8mb4_0900_as_cs", "utf8mb4_0900_bin", "utf8mb4_bin",
                     "utf8mb4_general_ci", "utf8mb4_unicode_ci", "utf8mb4_unicode_520_ci",
                     "utf8mb4_uca1400_ai_ci", "utf8mb4_uca1400_as_cs"]


@rule("system.collation.allowlist", engines="MP", category="MYSQL", severity="off",
      keywords=("ALTER", "CREATE"), nodes=(exp.Create, exp.Alter, "command"),
      summary="`COLLATE` (PostgreSQL: column `COLLATE`, `CREATE DATABASE … LC_COLLATE/LOCALE`) outside the "
              "allowlist.",
      why="Mixed collations make comparisons and joins between columns fail ('Illegal mix of collations') or "
          "stop using indexes, and a collation decides uniqueness and sort order.",
      instead="Use one of the allowed collations (by default the utf8mb4 ones), or extend the allowlist.",
      example="CREATE TABLE notes (body text COLLATE latin1_swedish_ci);",
      payload={"allowlist": _MYSQL_COLLATIONS, "postgres_allowlist": []},
      schema={"properties": {
          "allowlist": {"type": "array", "items": {"type": "string"},
                        "description": "MySQL collations allowed (case-insensitive); empty = not checked"},
          "postgres_allowlist": {"type": "array", "items": {"type": "string"},
                                 "description": "PostgreSQL collations/locales allowed; empty = not checked"}}})
def collation_allowlist(st: Stmt, ctx: FileContext, payload: dict) -> Iterator[str | Hit] | None:
    if ctx.dialect == "postgres":
        # (not checked with the default, empty allowlist: returned at once, without a generator)
        return _pg_collations(st, payload) if payload.get("postgres_allowlist") else None
    return _mysql_collations(st, ctx, payload)


def _pg_collations(st: Stmt, payload: dict) -> Iterator[str]:
    allowed = {n.lower() for n in payload.get("postgres_allowlist") or ()}
    if not allowed or not st.starts("CREATE", "ALTER"):
        return
    for groups in _PG_COLLATIONS.findall(st.text):
        name = next((g for g in groups if g), "")
        if name and name.upper() != "DEFAULT" and name.lower() not in allowed:
            yield f"collation {name} is not in the allowlist: use one of {', '.join(payload['postgres_allowlist'])}"


def _mysql_collations(st: Stmt, ctx: FileContext, payload: dict) -> Iterator[Hit]:
    allowed = {n.lower() for n in payload.get("allowlist") or ()}
    if not allowed:
        return
    for name in _mysql_names(st, ctx, _COLLATE):
        if name.lower() not in allowed:
            yield Hit(f"collation {name} is not in the allowlist: use one of {', '.join(payload['allowlist'])}",
                      **_named_at(st, _COLLATE, name))


def _table_charset(ddl: Ddl) -> str:
    match = _CHARSET.search(ddl.options) or _CHARSET.search(ddl.convert)
    return _option_name(match.group(1), ddl) if match else ""


@rule("table.require-charset", engines="M", category="MYSQL", severity="off",
      keywords=("CREATE",), nodes=(exp.Create, "command"),
      summary="`CREATE TABLE` without a table-level `DEFAULT CHARSET=`.",
      why="Without it the table takes the database default, which differs between servers and environments.",
      instead="State `DEFAULT CHARSET=utf8mb4` on every table.",
      example="CREATE TABLE notes (id bigint PRIMARY KEY);")
def table_require_charset(st: Stmt, ctx: FileContext, payload: dict) -> Iterator[str]:
    ddl = _ddl(st, ctx)
    if ddl is not None and ddl.kind == "CREATE TABLE" and (ddl.columns or ddl.options) and not _table_charset(ddl):
        yield f"table {ddl.table} does not state its character set: add DEFAULT CHARSET=utf8mb4"


@rule("table.require-collation", engines="M", category="MYSQL", severity="off",
      keywords=("CREATE",), nodes=(exp.Create, "command"),
      summary="`CREATE TABLE` without a table-level `COLLATE=`.",
      why="Without it the table takes the server's default collation, which changed between MySQL 5.7 and 8.0.",
      instead="State `COLLATE=utf8mb4_0900_ai_ci` (MariaDB, which lacks it: `utf8mb4_uca1400_ai_ci`), or your "
              "standard collation, on every table.",
      example="CREATE TABLE notes (id bigint PRIMARY KEY) DEFAULT CHARSET=utf8mb4;")
def table_require_collation(st: Stmt, ctx: FileContext, payload: dict) -> Iterator[str]:
    ddl = _ddl(st, ctx)
    if ddl is not None and ddl.kind == "CREATE TABLE" and (ddl.columns or ddl.options) \
            and not _COLLATE.search(ddl.options):
        yield (f"table {ddl.table} does not state its collation: add COLLATE=utf8mb4_0900_ai_ci (MariaDB, which lacks "
               "it: utf8mb4_uca1400_ai_ci), or your standard")


_BINARY = re.compile(r"\bBINARY\b", re.IGNORECASE)


@rule("column.require-charset", engines="M", category="MYSQL", severity="off",
      keywords=("ALTER", "CREATE"), nodes=(exp.Create, exp.Alter, "command"),
      summary="A character column (`CHAR`, `VARCHAR`, `TEXT`, `ENUM`, `SET`) without `CHARACTER SET` (a `COLLATE` "
              "names its character set too).",
      why="The column silently takes the table's character set, which may not be the one intended.",
      instead="State `CHARACTER SET utf8mb4` on each character column.",
      example="CREATE TABLE notes (body text);")
def column_require_charset(st: Stmt, ctx: FileContext, payload: dict) -> Iterator[Hit]:
    ddl = _ddl(st, ctx)
    if ddl is None:
        return
    for column in ddl.columns:
        # (`COLLATE ascii_bin` makes the column ascii: MySQL rejects another CHARACTER SET beside it.)
        if column.type in _CHARACTER_TYPES and not _CHARSET.search(column.attrs) \
                and not _COLLATE.search(column.attrs) and not _BINARY.search(column.attrs):
            yield Hit(f"column {column.name} ({column.type}) does not state its character set: add CHARACTER SET "
                      "utf8mb4", **column_at(st, column))


@rule("table.disallow-set-charset", engines="M", category="MYSQL", severity="off",
      keywords=("ALTER", "CREATE"), nodes=(exp.Create, exp.Alter, "command"),
      summary="A table-level character set: `CREATE TABLE … CHARSET=`, `ALTER TABLE … CHARACTER SET`, "
              "`CONVERT TO CHARACTER SET`.",
      why="Teams that manage character sets at the database level want no table to deviate from it; "
          "`CONVERT TO` also rewrites the whole table.",
      instead="Leave the character set to the database default.",
      example="CREATE TABLE notes (id bigint PRIMARY KEY) DEFAULT CHARSET=latin1;")
def table_disallow_set_charset(st: Stmt, ctx: FileContext, payload: dict) -> Iterator[str]:
    ddl = _ddl(st, ctx)
    if ddl is not None and ddl.kind in ("CREATE TABLE", "ALTER TABLE") and (charset := _table_charset(ddl)):
        yield f"table {ddl.table} sets its character set ({charset}): remove it and use the database default"


@rule("column.disallow-set-charset", engines="M", category="MYSQL", severity="off",
      keywords=("ALTER", "CREATE"), nodes=(exp.Create, exp.Alter, "command"),
      summary="A column-level `CHARACTER SET`.",
      why="A column whose character set differs from its table's cannot be joined or compared with the "
          "others without conversion (and without indexes).",
      instead="Leave the character set to the table.",
      example="CREATE TABLE notes (body text CHARACTER SET latin1);")
def column_disallow_set_charset(st: Stmt, ctx: FileContext, payload: dict) -> Iterator[Hit]:
    ddl = _ddl(st, ctx)
    if ddl is None:
        return
    for column in ddl.columns:
        if match := _CHARSET.search(column.attrs):
            yield located(st, column, (
                f"column {column.name} sets its character set ({_option_name(match.group(1), ddl)}): remove it and "
                "use the table's"))


# -- online DDL options ----------------------------------------------------------------------------------


@rule("statement.require-algorithm-option", engines="M", category="MYSQL", severity="W", strict="E",
      keywords=("ALTER",), nodes=(exp.Alter, "command"),
      summary="`ALTER TABLE` on an existing table without `ALGORITHM=` (not one that only sets or drops column "
              "defaults or visibility: metadata only).",
      why="Without `ALGORITHM=`, MySQL silently takes the cheapest algorithm the change allows, which may be a "
          "full table copy that blocks writes. With `ALGORITHM=INSTANT` or `INPLACE` it fails at once instead, "
          "before doing anything. (`ALGORITHM=DEFAULT` is the same as leaving it out.)",
      instead="Add `ALGORITHM=INSTANT` (without `LOCK=`: MySQL 8.0 rejects INSTANT with any other than "
              "`LOCK=DEFAULT`) or `ALGORITHM=INPLACE, LOCK=NONE`, so an unexpectedly expensive change fails fast. "
              "(Adding a foreign key while `foreign_key_checks` is on, or a CHECK constraint, can only be done with "
              "`ALGORITHM=COPY`.)",
      example="ALTER TABLE orders ADD COLUMN note varchar(200);")
def require_algorithm(st: Stmt, ctx: FileContext, payload: dict) -> list[str] | None:
    ddl = _existing(st, ctx)
    if ddl is None or ddl.algorithm() not in ("", "DEFAULT") or _metadata_only(ddl):
        return None
    if copy_only := _copy_only(ddl, ctx):
        # INSTANT and INPLACE would not fail fast here: they always fail (add-validated-constraint).
        reason, ways = copy_only
        return [(f"ALTER TABLE {ddl.table} does not state ALGORITHM=: {reason}, which only ALGORITHM=COPY can do "
                 f"(writes blocked; INSTANT and INPLACE fail): {ways}; or, to copy off-peak, state ALGORITHM=COPY "
                 "and suppress statement.disallow-offline-ddl for it")]
    return [(f"ALTER TABLE {ddl.table} does not state ALGORITHM=: add ALGORITHM=INSTANT (without LOCK=) or "
             "ALGORITHM=INPLACE, LOCK=NONE so the change fails fast instead of silently copying the table")]


@rule("statement.require-lock-option", engines="M", category="MYSQL", severity="W", strict="E",
      keywords=("ALTER",), nodes=(exp.Alter, "command"),
      summary="`ALTER TABLE` on an existing table without `LOCK=` (not required with `ALGORITHM=INSTANT`, nor for "
              "an ALTER that only sets or drops column defaults or visibility).",
      why="Without `LOCK=`, MySQL takes whatever lock the change needs, up to blocking all writes; "
          "`LOCK=NONE` makes it fail at once if concurrent writes cannot be allowed. "
          "(`LOCK=DEFAULT` is the same as leaving it out.)",
      instead="Add `LOCK=NONE`, or use `ALGORITHM=INSTANT` (which takes no table lock) without `LOCK=`: MySQL 8.0 "
              "rejects INSTANT with `LOCK=NONE`, `SHARED` or `EXCLUSIVE`.",
      example="ALTER TABLE orders ADD INDEX idx_orders_created (created_at), ALGORITHM=INPLACE;")
def require_lock(st: Stmt, ctx: FileContext, payload: dict) -> list[str] | None:
    ddl = _existing(st, ctx)
    if ddl is not None and ddl.algorithm() != "INSTANT" and ddl.lock() in ("", "DEFAULT") and not _metadata_only(ddl):
        # A table copy blocks writes whatever LOCK= says: LOCK=NONE would not fail fast, it always fails (1846).
        if copy_only := _copy_only(ddl, ctx):
            reason, ways = copy_only
            return [(f"ALTER TABLE {ddl.table} does not state LOCK=: {reason}, which copies the table and blocks "
                     f"writes whatever LOCK= says (LOCK=NONE fails): {ways}; or, to copy off-peak, state LOCK=SHARED "
                     "and suppress statement.disallow-blocking-lock-option for it")]
        if ddl.algorithm() == "COPY":
            return [(f"ALTER TABLE {ddl.table} does not state LOCK=: ALGORITHM=COPY blocks writes whatever LOCK= says "
                     "(LOCK=NONE fails): use ALGORITHM=INPLACE, LOCK=NONE if the change allows it, else state "
                     "LOCK=SHARED")]
        return [(f"ALTER TABLE {ddl.table} does not state LOCK=: add LOCK=NONE so the change fails fast instead of "
                 "blocking writes (or use ALGORITHM=INSTANT, without LOCK=)")]
    return None


@rule("statement.disallow-offline-ddl", engines="M", category="MYSQL", severity="E",
      keywords=("ALTER", "CREATE", "DROP"), nodes=DDL_NODES, contains=("COPY",),
      summary="`ALGORITHM=COPY` on an existing table.",
      why="`ALGORITHM=COPY` rebuilds the table row by row into a copy while writes are blocked, for as long as "
          "the copy takes.",
      instead="Use `ALGORITHM=INPLACE` or `INSTANT`; for a change that needs a copy, use gh-ost or pt-online-schema-"
              "change.",
      example="ALTER TABLE orders MODIFY note text, ALGORITHM=COPY;")
def disallow_offline_ddl(st: Stmt, ctx: FileContext, payload: dict) -> list[str] | None:
    ddl = _existing(st, ctx, ("ALTER TABLE", "CREATE INDEX", "DROP INDEX"))
    if ddl is not None and ddl.algorithm() == "COPY":
        if ddl.kind == "ALTER TABLE" and (copy_only := _copy_only(ddl, ctx)):
            reason, ways = copy_only  # (INPLACE/INSTANT would fail: no advice to use them)
            return [(f"ALGORITHM=COPY copies table {ddl.table} while blocking writes, and {reason}, which needs the "
                     f"copy (INPLACE and INSTANT fail): {ways}; or keep it for an off-peak run and suppress this "
                     "finding (-- sluice:ignore statement.disallow-offline-ddl)")]
        return [(f"ALGORITHM=COPY copies table {ddl.table} while blocking writes: use ALGORITHM=INPLACE/INSTANT, or "
                 "gh-ost / pt-online-schema-change for a change that needs a copy")]
    return None


@rule("statement.disallow-blocking-lock-option", engines="M", category="MYSQL", severity="E",
      keywords=("ALTER", "CREATE", "DROP"), nodes=DDL_NODES, contains=("SHARED", "EXCLUS"),
      summary="`LOCK=SHARED` (blocks writes) or `LOCK=EXCLUSIVE` (blocks reads and writes) on an existing table.",
      why="The lock is held for the whole operation: on a large table, minutes of failed writes (or reads).",
      instead="Leave `LOCK=` out or use `LOCK=NONE`.",
      example="ALTER TABLE orders ADD INDEX idx_orders_created (created_at), LOCK=EXCLUSIVE;")
def disallow_blocking_lock(st: Stmt, ctx: FileContext, payload: dict) -> list[str] | None:
    ddl = _existing(st, ctx, ("ALTER TABLE", "CREATE INDEX", "DROP INDEX"))
    if ddl is None:
        return None
    lock = ddl.lock()
    if lock in ("SHARED", "EXCLUSIVE"):
        blocked = "writes" if lock == "SHARED" else "reads and writes"
        if ddl.kind == "ALTER TABLE" and (copy_only := _copy_only(ddl, ctx)):
            reason, ways = copy_only  # (LOCK=NONE would fail: no advice to use it)
            if lock == "EXCLUSIVE":
                return [f"LOCK=EXCLUSIVE blocks reads and writes on table {ddl.table} for the whole operation: {reason}, "
                        "which blocks writes whatever LOCK= says, but reads need not wait: use LOCK=SHARED at most, "
                        f"or {ways}"]
            return [f"LOCK=SHARED blocks writes on table {ddl.table} for the whole operation; {reason}, which blocks "
                    f"writes whatever LOCK= says (LOCK=NONE fails): {ways}; or keep it for an off-peak run and suppress "
                    "this finding (-- sluice:ignore statement.disallow-blocking-lock-option)"]
        if ddl.algorithm() == "COPY":  # (a copy takes a lock: LOCK=NONE with it fails, error 1846)
            return [f"LOCK={lock} blocks {blocked} on table {ddl.table} for the whole operation, and ALGORITHM=COPY "
                    "needs at least LOCK=SHARED: use ALGORITHM=INPLACE, LOCK=NONE if the change allows it, else "
                    "gh-ost / pt-online-schema-change"]
        return [f"LOCK={lock} blocks {blocked} on table {ddl.table} for the whole operation: use LOCK=NONE or leave it out"]
    return None


# -- columns and constraints -------------------------------------------------------------------------

_POSITION = re.compile(rf"\b(FIRST|AFTER\s+{_NAME})\s*$", re.IGNORECASE)


@rule("statement.add-column-without-position", engines="M", category="MYSQL", severity="I",
      keywords=("ALTER",), nodes=(exp.Alter, "command"),
      summary="`ADD COLUMN … FIRST/AFTER` on an existing table.",
      why="Before MySQL 8.0.29 only a column appended at the end can be added with `ALGORITHM=INSTANT`; a "
          "positioned column rebuilds the table. Column order is cosmetic.",
      instead="Append the column (drop `FIRST`/`AFTER …`).",
      example="ALTER TABLE orders ADD COLUMN note varchar(200) AFTER id;")
def add_column_position(st: Stmt, ctx: FileContext, payload: dict) -> Iterator[Hit]:
    ddl = _existing(st, ctx)
    if ddl is None:
        return
    for column in ddl.columns:
        if column.action == "ADD" and (match := _POSITION.search(column.attrs)):
            position = " ".join(match.group(1).replace("`", "").split())
            yield located(st, column, (
                f"ADD COLUMN {column.name} … {position} on table {ddl.table} cannot be INSTANT before MySQL 8.0.29 "
                "(the table is rebuilt): append the column at the end instead"))


_DEFAULT_EXPRESSION = re.compile(r"\bDEFAULT\s*\(", re.IGNORECASE)
_NOT_NULL = re.compile(r"\bNOT\s+NULL\b", re.IGNORECASE)


@rule("column.mysql.default-disallow-expression", engines="M", category="MYSQL", severity="W",
      keywords=("ALTER",), nodes=(exp.Alter, "command"),
      summary="`ADD COLUMN … DEFAULT (expr)` on an existing table.",
      why="An expression default (MySQL 8.0.13+) cannot be added instantly: the table is rebuilt to store the "
          "value for every row.",
      instead="Add the column without the default (or with a constant), then `ALTER COLUMN … SET DEFAULT (expr)`, "
              "and backfill in batches.",
      example="ALTER TABLE orders ADD COLUMN token char(36) DEFAULT (uuid());")
def default_expression(st: Stmt, ctx: FileContext, payload: dict) -> Iterator[Hit]:
    ddl = _existing(st, ctx)
    if ddl is None:
        return
    for column in ddl.columns:
        if column.action == "ADD" and _DEFAULT_EXPRESSION.search(column.attrs):
            # (Without any default, a NOT NULL column fails or gets the type's zero value:
            # column.add-not-null-require-default. A constant default keeps the add instant.)
            first = ("with a constant DEFAULT instead (a valid value: for a date, not the zero date)"
                     if _NOT_NULL.search(column.attrs) else "without it (or with a constant DEFAULT)")
            yield located(st, column, (
                f"ADD COLUMN {column.name} with an expression DEFAULT (…) rebuilds table {ddl.table}: add the "
                f"column {first}, then ALTER COLUMN … SET DEFAULT (…) and backfill in batches"))


_REFERENCES_TABLE = re.compile(rf"\bREFERENCES\s+({_NAME})", re.IGNORECASE)
_REFERENCES_WORD = re.compile("REFERENCES", re.IGNORECASE)


@rule("column.mysql.inline-references-ignored", engines="M", category="MYSQL", severity="E",
      keywords=("ALTER", "CREATE"), nodes=(exp.Create, exp.Alter, "command"), contains=("REFERENCES",),
      summary="A column-level `REFERENCES` in `CREATE TABLE` / `ADD COLUMN`: MySQL ≤ 8.4 parses it and "
              "creates no foreign key.",
      why="MySQL up to 8.4 accepts `col int REFERENCES other(id)` and silently ignores it (MySQL 9 and MariaDB "
          "honour it): the schema looks protected but nothing is enforced.",
      instead="Declare the key at table level: `FOREIGN KEY (col) REFERENCES other (id)`.",
      example="CREATE TABLE orders (id bigint PRIMARY KEY, customer_id bigint REFERENCES customers (id));")
def inline_references(st: Stmt, ctx: FileContext, payload: dict) -> Iterator[Hit] | None:
    ddl = _ddl(st, ctx)
    if ddl is None or not _REFERENCES_WORD.search(ddl.text):  # (a column's text is part of ddl.text)
        return None  # (most statements: returned at once, without a generator)
    return _inline_references(st, ddl)


_FOREIGN_KEY_COLUMNS = re.compile(rf"\bFOREIGN\s+KEY\s*(?:IF\s+NOT\s+EXISTS\s+)?(?:{_NAME}\s*)?\(([^)]*)\)", re.IGNORECASE)
_REFERENTIAL_ACTION = re.compile(r"\bON\s+(?:DELETE|UPDATE)\s+(?:SET\s+NULL|SET\s+DEFAULT|NO\s+ACTION|CASCADE|"
                                 r"RESTRICT)\b", re.IGNORECASE)


def _inline_references(st: Stmt, ddl: Ddl) -> Iterator[Hit]:
    keyed = {unquote(name).lower() for kind, clause in ddl.constraints if kind == "FOREIGN KEY"
             for names in _FOREIGN_KEY_COLUMNS.findall(clause) for name in names.split(",")}
    for column in ddl.columns:
        if match := _REFERENCES_TABLE.search(column.attrs):
            target = unquote(match.group(1))
            if column.name.lower() not in keyed:
                yield located(st, column, (
                    f"column {column.name} REFERENCES {target} creates no foreign key on MySQL ≤ 8.4 (it is silently "
                    f"ignored): declare it at table level, FOREIGN KEY ({column.name}) REFERENCES …"))
                continue
            # A table-level key of the statement protects the column: only the inline clause (its actions
            # included) is dead text.
            actions = ", ".join(" ".join(action.upper().split())
                                for action in _REFERENTIAL_ACTION.findall(column.attrs, match.end()))
            inline, advice = f"its inline REFERENCES {target}", "remove the inline clause"
            if actions:
                inline += f" ({actions})"
                advice += " (and state the actions on the table-level key if they are meant)"
            yield located(st, column, (
                f"column {column.name}: {inline} is silently ignored on MySQL ≤ 8.4, while the table-level FOREIGN KEY "
                f"on {column.name} stands: {advice}"))


_CHECKS_OFF = "mysql.foreign_key_checks_off"
# Each assignment of a SET list, from its start (SET, or a comma): its scope keyword (which MySQL
# also applies to the assignments after it that name none), its variable and its value. A user
# variable (`@OLD_FOREIGN_KEY_CHECKS=@@FOREIGN_KEY_CHECKS`, mysqldump's) is no match.
_SET_ASSIGNMENT = re.compile(r"(?:^\s*SET\s+|,\s*)(?:(?P<scope>GLOBAL|SESSION|LOCAL|PERSIST|PERSIST_ONLY)\s+)?"
                             r"(?:@@(?:(?P<prefix>\w+)\.)?)?(?P<name>\w+)\s*:?=\s*'?(?P<value>[\w@$]*)", re.IGNORECASE)
@tracker(engines="M", keywords=("SET",),
         serves=("constraint.mysql.add-validated-constraint", "statement.require-algorithm-option"))
def _track_foreign_key_checks(st: Stmt, ctx: FileContext) -> None:
    """Record whether the session's foreign_key_checks is off after a SET statement that sets it
    (also mysqldump's `/*!40014 SET … */`: the engine reads what MySQL runs)."""
    text = st.text
    scope = "SESSION"
    for assignment in _SET_ASSIGNMENT.finditer(text):
        scope = (assignment.group("scope") or scope).upper()
        if assignment.group("name").upper() == "FOREIGN_KEY_CHECKS" \
                and (assignment.group("prefix") or scope).upper() in ("SESSION", "LOCAL"):
            ctx.memo[_CHECKS_OFF] = assignment.group("value").upper() in ("0", "OFF", "FALSE")


def _foreign_key_checks_off(ctx: FileContext) -> bool:
    """Whether a SET earlier in the file left foreign_key_checks off."""
    return bool(ctx.memo.get(_CHECKS_OFF))


def _adds_foreign_key(ddl: Ddl) -> bool:
    return any(kind == "FOREIGN KEY" for kind, _ in ddl.constraints)


_NOT_ENFORCED = re.compile(r"\bNOT\s+ENFORCED\b", re.IGNORECASE)


# An ALTER action that only changes the table's metadata, whatever the table holds: a column's default
# or visibility (MySQL 8.0: INSTANT; MariaDB too). Nothing to fail fast on, nothing to lock.
_METADATA_ACTION = re.compile(r"^ALTER\s+(?:COLUMN\s+)?\S+\s+(?:SET\s+DEFAULT\b|DROP\s+DEFAULT\b|SET\s+(?:IN)?VISIBLE\b)",
                              re.IGNORECASE)


def _metadata_only(ddl: Ddl) -> bool:
    """Whether every action of the ALTER TABLE is a metadata-only change (_METADATA_ACTION)."""
    upper = ddl.text.upper()
    if "DEFAULT" not in upper and "VISIBLE" not in upper:
        return False
    match = _ALTER_TABLE.match(ddl.text)
    clauses = split_top(match.group("rest")) if match else []
    actions = [c for c in clauses if not _OPTION_START.match(c)]
    return bool(actions) and all(_METADATA_ACTION.match(c) for c in actions)


def _copy_only(ddl: Ddl, ctx: FileContext) -> tuple[str, str] | None:
    """(what makes it so, the ways around the copy) when the ALTER can only be done by copying the table:
    it adds a CHECK constraint, or a foreign key while foreign_key_checks is on."""
    if _adds_check(ddl):
        return "it adds a CHECK constraint", "add the constraint with pt-online-schema-change or gh-ost"
    if _adds_foreign_key(ddl) and not _foreign_key_checks_off(ctx):
        # (gh-ost does not support foreign keys.)
        return ("it adds a foreign key while foreign_key_checks is on",
                "SET foreign_key_checks = 0 before it and use ALGORITHM=INPLACE, LOCK=NONE (only if the data is proven "
                "valid)")
    return None


def _adds_check(ddl: Ddl) -> bool:
    """Whether the ALTER adds an enforced CHECK constraint: only ALGORITHM=COPY can (MariaDB 10.11, checked,
    also with check_constraint_checks=0: ERROR 1845 "ALGORITHM=INPLACE|INSTANT is not supported for this
    operation. Try ALGORITHM=COPY", and "LOCK=NONE is not supported … Try LOCK=SHARED"; MySQL 8.0 validates the
    rows by copying them too, not checked on a MySQL server). (A MySQL NOT ENFORCED one validates nothing.)"""
    return any(kind == "CHECK" and not _NOT_ENFORCED.search(clause) for kind, clause in ddl.constraints)


@rule("constraint.mysql.add-validated-constraint", engines="M", category="MYSQL", severity="W", strict="E",
      keywords=("ALTER",), nodes=DDL_NODES,
      summary="`ADD FOREIGN KEY` / `ADD CHECK` on an existing table (a table copy or a full validation scan "
              "that blocks writes).",
      why="With `foreign_key_checks` on, adding a foreign key needs `ALGORITHM=COPY`; adding an enforced CHECK "
          "validates every row. Either way writes wait for the whole table.",
      instead="Run it off-peak or through an online schema tool (gh-ost, pt-online-schema-change); "
              "`SET foreign_key_checks = 0` first (INPLACE, no validation) only if the data is proven valid.",
      example="ALTER TABLE orders ADD CONSTRAINT fk_orders_customer FOREIGN KEY (customer_id) REFERENCES customers (id);")
def add_validated_constraint(st: Stmt, ctx: FileContext, payload: dict) -> Iterator[Hit] | None:
    ddl = _existing(st, ctx)
    if ddl is None or not ddl.constraints:
        return None  # (most statements: returned at once, without a generator)
    return _validated_constraints(st, ddl, _foreign_key_checks_off(ctx))


def _validated_constraints(st: Stmt, ddl: Ddl, checks_off: bool) -> Iterator[Hit]:
    for kind, clause in ddl.constraints:
        if kind == "FOREIGN KEY" and not checks_off:
            # Only ALGORITHM=COPY can add it while the checks are on: any other algorithm stated fails.
            algorithm = ddl.algorithm()
            if algorithm in ("", "DEFAULT", "COPY"):
                message = (f"ADD FOREIGN KEY on table {ddl.table} copies the table (writes blocked) while "
                           "foreign_key_checks is on: run it off-peak or with an online schema tool; SET "
                           "foreign_key_checks = 0 only if the data is proven valid")
            else:
                message = (f"ADD FOREIGN KEY on table {ddl.table} with ALGORITHM={algorithm} fails while "
                           "foreign_key_checks is on (error 1846: only ALGORITHM=COPY can add it then, blocking "
                           "writes): use ALGORITHM=COPY off-peak or an online schema tool; SET foreign_key_checks "
                           "= 0 first (then INPLACE works) only if the data is proven valid")
            yield Hit(message, **leading_words_at(st, clause, 5))
        elif kind == "CHECK" and not _NOT_ENFORCED.search(clause):
            # Only ALGORITHM=COPY can add it (_adds_check): an online algorithm or LOCK=NONE stated fails.
            algorithm = ddl.algorithm()
            stated = f"ALGORITHM={algorithm}" if algorithm in ("INSTANT", "INPLACE", "NOCOPY") else \
                "LOCK=NONE" if ddl.lock() == "NONE" else ""
            if stated:
                message = (f"ADD CHECK on table {ddl.table} with {stated} fails: only ALGORITHM=COPY can add it, "
                           "blocking writes while every row is checked; use ALGORITHM=COPY off-peak or an online "
                           "schema tool")
            else:
                message = (f"ADD CHECK on table {ddl.table} validates every row while writes wait: run it off-peak "
                           "or with an online schema tool")
            yield Hit(message, **leading_words_at(st, clause, 5))



# -- ENUM / SET changes ---------------------------------------------------------------------------------


# A column definition of type ENUM or SET, as parse_column reads one (name, blanks, type) at the
# start of an item of the CREATE TABLE's body (after its `(` or a comma).
_ENUM_OR_SET_COLUMN = re.compile(r"[(,]\s*(?:`(?:[^`]|``)*`|[\w$]+)\s+(?:ENUM|SET)\b", re.IGNORECASE)


def _set_bytes(count: int) -> int:
    return (count + 7) // 8 if count <= 32 else 8


def _enum_change(kind: str, old: list[str], new: list[str]) -> str:
    """What makes changing the member list from old to new copy the table ("" if nothing)."""
    removed = [v for v in old if v not in new]
    if removed:
        return "removes " + ", ".join(repr(v) for v in removed)
    if new[:len(old)] != old:
        kept = [v for v in new if v in old]
        return "reorders the values" if kept != old else "inserts values before the end of the list"
    if kind == "ENUM" and len(old) <= 255 < len(new):
        return "grows past 255 values (2 bytes per row instead of 1)"
    if kind == "SET" and _set_bytes(len(old)) != _set_bytes(len(new)):
        return f"grows from {len(old)} to {len(new)} members (storage {_set_bytes(len(old))} → {_set_bytes(len(new))} bytes)"
    return ""


# Gate (`contains`): the rule records an ENUM or SET column (its type follows its name and a blank)
# or forgets or compares one that MODIFY or CHANGE redefines; a statement without those words in its
# flat text (see DDL_NODES) does neither.
@rule("column.mysql.enum-set-change-copy", engines="M", category="MYSQL", severity="I",
      keywords=("ALTER", "CREATE"), nodes=(exp.Create, exp.Alter, "command"), contains=(" ENUM", " SET", "MOD", "CHANGE"),
      summary="`MODIFY`/`CHANGE` of an ENUM/SET column on an existing table that removes, reorders or inserts "
              "values mid-list, or crosses 255 (ENUM) / 8·k (SET) members. Decided only when the column's previous "
              "definition is in the same file (the database's current definition is not known).",
      why="Only appending values at the end of the list, without changing the storage size, is an instant "
          "metadata change; anything else copies the table and can change stored values.",
      instead="Append new values at the end of the list; never remove or reorder values on a large table.",
      example="ALTER TABLE orders ADD COLUMN state ENUM('new','paid');\nALTER TABLE orders MODIFY state "
              "ENUM('new','pending','paid');")
def enum_set_change(st: Stmt, ctx: FileContext, payload: dict) -> Iterator[Hit] | None:
    ddl = _ddl(st, ctx)
    if ddl is None or ddl.kind not in ("CREATE TABLE", "ALTER TABLE"):
        return None
    if ddl.kind == "CREATE TABLE" and not _ENUM_OR_SET_COLUMN.search(ddl.text):
        return None  # a CREATE TABLE only records its ENUM/SET columns: it has none
    if not ddl.columns:
        return None  # (an ALTER TABLE without column definitions: nothing to record or compare)
    return _enum_set_changes(st, ddl, ctx)


def _enum_set_changes(st: Stmt, ddl: Ddl, ctx: FileContext) -> Iterator[Hit]:
    known: dict[tuple[str, str], tuple[str, list[str]]] = ctx.memo.setdefault("column.mysql.enum-set-change-copy", {})
    for column in ddl.columns:
        key = (ddl.key, column.name.lower())
        if column.action in ("MODIFY", "CHANGE"):
            old_key = (ddl.key, (column.old_name or column.name).lower())
            old = known.pop(old_key, None)
            if old and old[0] == column.type and not ctx.is_new(ddl.key):
                new = _literal_values(column.params, ddl.literals)
                if change := _enum_change(column.type, old[1], new):
                    yield located(st, column, (
                        f"{column.type} column {ddl.table}.{column.name}: the new value list {change}, so MySQL "
                        "copies the table: only append values at the end of the list"))
        if column.type in ("ENUM", "SET"):
            known[key] = (column.type, _literal_values(column.params, ddl.literals))


declare("advice.online-migration", engines="M", category="MYSQL", needs_database=True,
        summary="Advise gh-ost (`-- migration-type: ghost`) for an `ALTER TABLE` on a big table: needs the "
                "table's row count from a live database, so it finds nothing in an offline review.",
        why="A blocking ALTER on a table with hundreds of millions of rows runs for hours; gh-ost copies it "
            "online.",
        instead="Run large-table changes through gh-ost or pt-online-schema-change.")
