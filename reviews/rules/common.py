"""Small text and location helpers the rule families share."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from typing import Any, NamedTuple

from sqlglot import exp

from reviews.engine.model import (
    MYSQL_LEXEME,
    FileContext,
    Stmt,
    blank_comments_and_strings,
    name_of,
    per_statement,
    renamed_tables,
)

_PARENS_AND_COMMAS = re.compile(r"[(),]")
_PARENS = re.compile(r"[()]")
# A parenthesized group nested at most three deep (possessive: no backtracking): the matching
# parenthesis in one C-level match for what CREATE TABLE bodies hold, `(a int(11), KEY (b(10)))`.
_SHALLOW_GROUP = re.compile(r"\((?:[^()]++|\((?:[^()]++|\([^()]*+\))*+\))*+\)")


# An item of a comma-separated list: anything but commas and parentheses, and groups nested at
# most three deep (possessive: no backtracking). A text that is a list of such items splits with
# one C-level scan; any other (deeper, unbalanced) is walked parenthesis by parenthesis.
_ITEM = r"(?:[^(),]++|\((?:[^()]++|\((?:[^()]++|\([^()]*+\))*+\))*+\))*+"
_ITEMS = re.compile(_ITEM)
_LIST_OF_ITEMS = re.compile(rf"{_ITEM}(?:,{_ITEM})*+")


def split_top(text: str) -> list[str]:
    """Split at the commas outside parentheses (on text whose strings are already blanked)."""
    if "(" not in text and ")" not in text:  # the common case: no depth to track
        return [p for p in (part.strip() for part in text.split(",")) if p]
    if _LIST_OF_ITEMS.fullmatch(text):
        return [p for p in (part.strip() for part in _ITEMS.findall(text)) if p]
    # Only the parentheses and commas matter: visit those, not every character.
    parts, depth, start = [], 0, 0
    for match in _PARENS_AND_COMMAS.finditer(text):
        char = match.group()
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif depth == 0:
            index = match.start()
            parts.append(text[start:index].strip())
            start = index + 1
    parts.append(text[start:].strip())
    return [p for p in parts if p]


def paren_group(text: str) -> tuple[str, str]:
    """For text starting with '(': (inside the matching parentheses, what follows)."""
    close = text.find(")")
    if close > 0 and text[0] == "(" and text.find("(", 1, close) < 0:  # no nesting: `(11) NOT NULL …`
        return text[1:close], text[close + 1:].strip()
    if group := _SHALLOW_GROUP.match(text):
        end = group.end()
        return text[1:end - 1], text[end:].strip()
    depth = 0
    for match in _PARENS.finditer(text):
        if match.group() == "(":
            depth += 1
        else:
            depth -= 1
            if depth == 0:
                index = match.start()
                return text[1:index], text[index + 1:].strip()
    return text[1:], ""


# A name as a statement's flat text writes it: quoted ("a""b", `a``b`, SQLite's [a]) or bare, and
# qualified (`schema . table`: flat text may keep blanks around the dot).
NAME_PART = r'(?:"(?:[^"]|"")+"|`(?:[^`]|``)+`|\[[^\]]+\]|[^\s,;().\[\]"`]+)'
QUALIFIED_NAME = rf"{NAME_PART}(?: ?\. ?{NAME_PART})*"
_DROP_TABLES = re.compile(rf"^DROP (?:TEMPORARY )?TABLE (?:IF EXISTS )?({QUALIFIED_NAME}(?: ?, ?{QUALIFIED_NAME})*)",
                          re.I)


def dropped_tables(flat: str) -> list[str]:
    """The tables (as written) that a DROP TABLE statement's flat text names; [] for any other."""
    match = _DROP_TABLES.match(flat)
    return re.findall(QUALIFIED_NAME, match.group(1)) if match else []


# A statement (st.norm) that begins or ends a transaction.
TRANSACTION_CONTROL = re.compile(r"^(?:BEGIN|START TRANSACTION|COMMIT|END|ROLLBACK|ABORT)\b")


_DASHES_NOT_A_COMMENT = re.compile(r"--\S")


@per_statement
def norm_may_hide(st: Stmt) -> bool:
    """Whether st.norm may have lost text that sqlglot reads: a string or comment that st.norm's
    pattern reads where sqlglot does not, or the other way round. A backslash escape (outside
    MySQL), a `$` (a dollar quote, or a `$` in a name), a quote or comment opener inside a quoted
    name, `--x` or a nested comment can do it, and none of them without a quote, `$` or comment
    opener in the text. Without any of those, a word missing from st.norm is missing from the tree too.

    MySQL is read as sqlglot's MySQL tokenizer reads it (the same quotes, escapes, `#` and `-- `
    comments, no nesting, `…` names): there only an optimizer hint `/*+ … */`, which sqlglot
    reads and st.norm drops as a comment, can hide a word."""
    if st.dialect == "mysql":
        return "/*+" in st.text
    return _may_hide(st.text)


def _may_hide(text: str) -> bool:
    if "'" not in text and "$" not in text and "--" not in text and "/*" not in text:
        return False  # st.norm's pattern had nothing to remove: every word of the text is in it
    if "\\" in text or "$" in text or "#" in text or '"' in text or "`" in text or "[" in text:
        return True
    if "--" in text and _DASHES_NOT_A_COMMENT.search(text):
        return True
    first = text.find("/*")
    return first >= 0 and text.find("/*", first + 2) >= 0


@per_statement
def _upper_text(st: Stmt) -> str:
    """The statement's text upper-cased (once per statement), for word tests that cannot trust st.norm."""
    return st.text.upper()


def mentions(st: Stmt, *words: str) -> bool:
    """Whether one of the (upper-case, single) words may be in the statement as sqlglot reads it:
    in st.norm, or anywhere in the text when st.norm may have lost some. Never a false no: a rule
    that reads the tree for what only those words can write may return early on a no."""
    norm = st.norm
    for word in words:
        if word in norm:
            return True
    if not norm_may_hide(st):
        return False
    text = _upper_text(st)
    for word in words:
        if word in text:
            return True
    return False


@per_statement
def may_change_columns(st: Stmt) -> bool:
    """Whether an ALTER statement may hold ALTER [COLUMN] … or MODIFY/CHANGE actions (sqlglot's
    AlterColumn and ModifyColumn): a second ALTER, or MODIFY or CHANGE. Never a false no."""
    if st.norm.find("ALTER", 1) >= 0 or mentions(st, "MODIFY", "CHANGE"):
        return True
    return norm_may_hide(st) and _upper_text(st).find("ALTER", 1) >= 0


def only_if(test: Callable[[Stmt], bool]) -> Callable:
    """Decorate a check (under @rule) to run only on the statements that pass `test`, a cheap text
    test that is never a false no; on the others it returns None at once, without building the
    check's generator (most ALTER statements meet a dozen checks that find nothing)."""

    def decorate(check: Callable) -> Callable:
        @functools.wraps(check)
        def gated(st: Stmt, ctx: Any, payload: dict) -> Any:
            return check(st, ctx, payload) if test(st) else None

        return gated

    return decorate


def position(st: Stmt, offset: int) -> dict:
    """line/column (keyword arguments of Hit) of a character offset into the statement's text."""
    before = st.text[:offset]
    if "\n" in before:
        return {"line": st.line + before.count("\n"), "column": offset - before.rfind("\n")}
    return {"line": st.line, "column": st.statement.column + offset}


@per_statement
def blanked(st: Stmt) -> str:
    """The statement's text with comments and strings blanked (same offsets), upper-cased when it is
    ASCII (outside ASCII, upper() can change lengths, and with them offsets). Lexed as the file's
    dialect writes them: in MySQL, `#` comments and backslash escapes in strings."""
    text = _blank_mysql(st.text) if st.dialect == "mysql" else blank_comments_and_strings(st.text)
    return text.upper() if text.isascii() else text


_NOT_NEWLINE = re.compile(r"[^\n]")


def _blank_mysql(text: str) -> str:
    # Every comment or string holds one of these: without them, no regex pass.
    if "'" not in text and '"' not in text and "#" not in text and "--" not in text and "/*" not in text:
        return text
    return MYSQL_LEXEME.sub(_blank_mysql_lexeme, text)


def _blank_mysql_lexeme(match: re.Match) -> str:
    # What comes before the comment or string stays as it is (`names` included); it turns to blanks.
    last: Any = match.lastgroup  # comment, string, or keep (at the end of the text)
    if last == "keep":
        return match.group("keep")
    return match.group("keep") + _NOT_NEWLINE.sub(" ", match.group(last))


_BLANKS = re.compile(r"\s+")
_IN_A_WORD = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_$`\"")


def words_at(st: Stmt, *sequences: list[str]) -> dict:
    """Hit location of the one place in the statement's text where one of the word sequences stands
    (its words separated by blanks, not part of a longer word, any letter case; comments and strings
    blanked): {} (the statement) when there is none or more than one. For rules that read a flat
    text without offsets; only for findings (it searches the text)."""
    text = blanked(st)
    if not text.isascii():
        return _words_at_by_pattern(st, text, sequences)
    found: list[int] = []
    for words in sequences:
        words = [w.upper() for w in words]
        first = words[0]
        pos = text.find(first)
        while pos >= 0:
            end = pos + len(first)
            if pos == 0 or text[pos - 1] not in _IN_A_WORD:
                for word in words[1:]:
                    blanks = _BLANKS.match(text, end)
                    if blanks is None or not text.startswith(word, blanks.end()):
                        end = -1
                        break
                    end = blanks.end() + len(word)
                if end >= 0 and (end == len(text) or text[end] not in _IN_A_WORD):
                    found.append(pos)
                    if len(found) > 1:
                        return {}
            pos = text.find(first, pos + 1)
    return position(st, found[0]) if found else {}


_PLAIN_WORD = re.compile(r'[\w$"`.]+')  # a keyword or a (quoted, qualified) name


def leading_words_at(st: Stmt, clause: str, limit: int) -> dict:
    """Hit location of a clause of a flat text (blanks folded, as `flat` or read_ddl give it) in the
    statement's text: its leading words, up to `limit` and up to the first that is not a plain word or
    name, when they are there exactly once (`words_at`); else {} (the statement)."""
    words: list[str] = []
    for word in clause.split(" "):
        if len(words) == limit or not _PLAIN_WORD.fullmatch(word):
            break
        words.append(word)
    return words_at(st, words) if words else {}


def _words_at_by_pattern(st: Stmt, text: str, sequences: tuple[list[str], ...]) -> dict:
    boundary = r"[\w$`\"]"
    pattern = re.compile("|".join(rf"(?<!{boundary})" + r"\s+".join(map(re.escape, words)) + rf"(?!{boundary})"
                                  for words in sequences), re.I)
    found = pattern.finditer(text)
    first = next(found, None)
    if first is None or next(found, None) is not None:
        return {}
    return position(st, first.start())


def at(st: Stmt, node: exp.Expression | None) -> dict:
    """line/column of a node: its earliest identifier (sqlglot keeps token offsets on identifiers);
    {} (the statement's start) when it has none."""
    # A column definition starts with its name (or an identifier is the whole node): no walk.
    first = node.this if isinstance(node, exp.ColumnDef) else node if isinstance(node, exp.Identifier) else None
    if isinstance(first, exp.Identifier) and first.meta and first.meta.get("start") is not None:
        return position(st, first.meta["start"] - st.base)
    starts = [i.meta["start"] for i in (node.find_all(exp.Identifier) if node is not None else ())
              if i.meta and i.meta.get("start") is not None]
    return position(st, min(starts) - st.base) if starts else {}


def bare(name: str) -> str:
    """A possibly qualified, quoted name as the bare lower-case table name."""
    return name.strip().strip('"`[]').rsplit(".", 1)[-1].strip('"`[]').lower()


@per_statement
def alter_table(st: Stmt) -> str | None:
    """The table of an `ALTER TABLE` with a tree, else None (a dozen rules ask)."""
    if isinstance(st.ast, exp.Alter) and str(st.ast.args.get("kind") or "").upper() == "TABLE":
        return name_of(st.ast.this)
    return None


def actions(st: Stmt, kind: type | tuple[type, ...]) -> list:
    """The actions of the statement's ALTER of one kind (exp.ColumnDef, exp.AlterColumn, …)."""
    return [a for a in st.ast.args.get("actions") or () if isinstance(a, kind)]


# -- table rebuilds -------------------------------------------------------------------------------------

INSERTED_INTO = re.compile(r"^INSERT INTO ([^\s(]+)", re.I)
REBUILD_REACH = 8  # statements before and after a rebuild's copy where its rename is looked for


def folded_column(name: str, dialect: str) -> str:
    """A column name (as `name_of` gives it) as the database compares it with another: PostgreSQL as
    given, MySQL and SQLite without regard to case."""
    return name if dialect == "postgres" else name.lower()


class RebuildCopy(NamedTuple):
    rebuilt: exp.Table  # the table the rebuild leaves, under its name for good
    pairs: list[tuple[exp.Expression, exp.Column | None]]  # (a column of the new table, the column it is filled from)


def _read_column(node: exp.Expression) -> exp.Column | None:
    """The one column a copied value reads: a column itself, or an expression of one column and constants
    (`coalesce(a, 0)`, `CAST(a AS …)`, `IFNULL(a, '')`: the same values, made to fit); None for a constant,
    a star, or two columns."""
    if isinstance(node, exp.Alias):
        node = node.this
    if isinstance(node, exp.Column):
        return None if isinstance(node.this, exp.Star) else node
    found = None
    for column in node.find_all(exp.Column):
        if found is not None or isinstance(column.this, exp.Star):
            return None
        found = column
    return found


def rebuild_copy(tree: Any, index: int, ctx: FileContext) -> RebuildCopy | None:
    """The INSERT at `index` of the file (its tree) as a table rebuild's copy, each new column with the
    column it is filled from (`_read_column`), or None. A rebuild's copy: `INSERT INTO t (…) SELECT … FROM
    s`, a plain copy of one existing table (not created in the file), with a rename of t to s next to it:
    after it (create new_x, copy from x, drop x, rename new_x to x: Django, Alembic's batch mode, TypeORM,
    Prisma, Drizzle, EF Core) or before it (rename x to x_old, create x, copy from x_old). Not when another
    INSERT next to it fills the same table (the rows reshaped, not copied)."""
    if not isinstance(tree, exp.Insert):
        return None
    schema, query = tree.this, tree.expression
    if not isinstance(schema, exp.Schema) or not isinstance(schema.this, exp.Table) or type(query) is not exp.Select:
        return None
    source = query.args.get("from_")
    if source is None or not isinstance(source.this, exp.Table) or any(
            query.args.get(part) for part in ("joins", "where", "group", "having", "distinct", "with")):
        return None
    targets, copied = schema.expressions, query.expressions
    if not targets or len(targets) != len(copied):
        return None
    target, copied_from = bare(name_of(schema.this)), bare(name_of(source.this))
    if target == copied_from or ctx.is_new(copied_from):
        return None
    rebuilt = None
    for other in range(max(0, index - REBUILD_REACH), min(index + 1 + REBUILD_REACH, ctx.statement_count)):
        if other == index:
            continue
        flat = ctx.flat_of(other)
        if flat[:7].upper() in ("ALTER T", "RENAME "):  # (upper-cased, as st.norm: only a short DDL statement)
            if any(bare(old) == target and bare(new) == copied_from
                   for old, new in renamed_tables(flat.upper(), ctx.dialect)):
                rebuilt = source.this if other > index else schema.this
        elif (match := INSERTED_INTO.match(flat)) and bare(match.group(1)) == target:
            return None  # more than one copy into it: the rows are reshaped (a pivot), not the table rebuilt
    if rebuilt is None:
        return None
    return RebuildCopy(rebuilt, [(column, _read_column(value)) for column, value in zip(targets, copied, strict=True)])
