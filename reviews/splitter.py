"""Split a SQL file into statements, keeping each statement's original text and location.

Shared by the migration runner (which executes ``Statement.text`` verbatim) and the review engine
(which reports ``line``/``column``).  Pure Python on purpose: no Django, nothing from the project,
so the runner can split files without starting Django.

Dialects:

- ``postgres``: PostgreSQL's own grammar through pglast (libpg_query).  When the whole file parses,
  the parser's statement boundaries are used as they are.  Otherwise the file is cut at every
  top-level ``;`` by a small lexer and the pieces are re-checked with the parser in windows, so each
  statement that parses keeps its exact extent and a broken one stays a piece of its own.
- ``mysql``: sqlglot's MySQL tokenizer plus the mysql client's rules: ``DELIMITER`` lines, and
  ``BEGIN ... END`` bodies of routines, triggers and events sent without a DELIMITER change.
- ``sqlite``: sqlglot's SQLite tokenizer, with SQLite's own ``sqlite3_complete()`` (through
  ``sqlite3.complete_statement``) deciding whether a ``;`` ends the statement (``CREATE TRIGGER``).

Every offset is a character offset into the string given to ``split``.
"""

from __future__ import annotations

import bisect
import dataclasses
import re
import sqlite3
from collections.abc import Callable, Iterator
from typing import Any

__all__ = ["DIALECTS", "MYSQL_CLIENT_COMMANDS", "Statement", "split", "split_judged", "split_for_review"]


@dataclasses.dataclass(frozen=True, slots=True)
class Statement:
    text: str  # original text, first token to end of last token, without the terminator
    start: int  # sql[start:end] == text
    end: int
    line: int  # 1-based line of the first token
    column: int  # 1-based column (characters) of the first token
    end_line: int  # 1-based line of the last character of text


DIALECTS = ("postgres", "mysql", "sqlite")

Span = tuple[int, int]


def split(sql: str, dialect: str) -> list[Statement]:
    """Split ``sql`` into statements.

    Never raises on any input string (raise ValueError only for an unknown dialect).
    """
    return split_judged(sql, dialect)[0]


def split_judged(sql: str, dialect: str) -> tuple[list[Statement], list[bool]]:
    """``split``, and for each statement whether the dialect's own grammar accepted it on the way
    (PostgreSQL: pglast parsed the whole file, or the window the statement was in). False means
    "not known": the statement may be valid, but nobody parsed it alone. MySQL and SQLite: all False."""
    statements, accepted, _ = _split(sql, dialect, False)
    return statements, accepted


def split_for_review(sql: str, dialect: str) -> tuple[list[Statement], list[bool], list[list[Any] | None]]:
    """``split_judged``, and for MySQL each statement's sqlglot tokens where the splitter's reading
    of the file can stand for the statement's own (None elsewhere, and for every statement of the
    other dialects): the same tokens, texts and comments as the MySQL dialect's tokenizer gives for
    ``statement.text`` alone, but with offsets, lines and columns in ``sql`` (parse them with ``sql``
    as the parser's text). The review would otherwise tokenize every statement a second time."""
    return _split(sql, dialect, True)


def _split(sql: str, dialect: str, want_tokens: bool) -> tuple[list[Statement], list[bool], list[list[Any] | None]]:
    if dialect not in DIALECTS:
        raise ValueError(f"unknown SQL dialect {dialect!r}; expected one of {', '.join(DIALECTS)}")
    if not isinstance(sql, str):
        raise TypeError(f"split() needs a str, not {type(sql).__name__}")
    accepted: Callable[[Span], bool] = _nothing_accepted
    mysql: _MySQLSplitter | None = None
    try:
        if dialect == "postgres":
            spans, accepted = _split_postgres(sql)
        elif dialect == "mysql":
            mysql = _MySQLSplitter(sql)
            spans = mysql.run()
        else:
            spans = _split_sqlite(sql)
    except Exception:
        # Last resort: a bug or an unexpected library error must not stop a migration run or a
        # review; the whole input as one statement is what a plain client would send.
        spans = _whole_input(sql)
        accepted = _nothing_accepted
        mysql = None
    statements = _statements(sql, spans)
    tokens: list[list[Any] | None] = [None] * len(statements)
    if want_tokens and mysql is not None and mysql.work is sql:
        try:
            tokens = [mysql.statement_tokens(s.start) for s in statements]
        except Exception:  # (a bug here must not cost the review: it tokenizes each statement itself)
            tokens = [None] * len(statements)
    return statements, [accepted((s.start, s.end)) for s in statements], tokens


def _nothing_accepted(span: Span) -> bool:
    return False


def _everything_accepted(span: Span) -> bool:
    return True


# ---------------------------------------------------------------------------------------------
# Shared helpers
# ---------------------------------------------------------------------------------------------

_BOM = "\ufeff"


def _whole_input(sql: str) -> list[Span]:
    start = 1 if sql.startswith(_BOM) else 0
    end = len(sql)
    while start < end and sql[start].isspace():
        start += 1
    while end > start and sql[end - 1].isspace():
        end -= 1
    return [(start, end)] if end > start else []


def _statements(sql: str, spans: list[Span]) -> list[Statement]:
    """Build the statements, counting lines incrementally (O(n) overall, whatever the line lengths)."""
    result: list[Statement] = []
    n = len(sql)
    line = 1
    # The BOM is not a column: a statement at the very start of a file with a BOM is at column 1.
    line_start = 1 if sql.startswith(_BOM) else 0
    pos = 0  # line/line_start describe this position
    for start, end in spans:
        # Defensive: the splitters produce ordered, non-overlapping, non-empty spans; never let a
        # bug turn into an exception or an inconsistent Statement.
        if start < pos or end <= start or end > n:
            continue
        newlines = sql.count("\n", pos, start)
        if newlines:
            line += newlines
            line_start = sql.rfind("\n", pos, start) + 1
        first_line, column = line, start - line_start + 1
        newlines = sql.count("\n", start, end)
        if newlines:
            line += newlines
            line_start = sql.rfind("\n", start, end) + 1
        pos = end
        result.append(Statement(sql[start:end], start, end, first_line, column, line))
    return result


def _trim_end(text: str, start: int, end: int) -> int:
    while end > start and text[end - 1].isspace():
        end -= 1
    return end


# ---------------------------------------------------------------------------------------------
# PostgreSQL
# ---------------------------------------------------------------------------------------------

# pglast converts libpg_query's UTF-8 byte offsets to character offsets with a helper that is
# O(number of multi-byte characters) per offset, i.e. quadratic on a file with much non-ASCII text
# (measured: 26 s for 20,000 statements with accented comments).  We therefore hand pglast an
# ASCII copy of the same length: every non-ASCII character becomes "x", which PostgreSQL's lexer
# treats the same way (bytes >= 0x80 are identifier characters, and inside strings, comments and
# quoted identifiers any character will do).  Byte offsets then equal character offsets, and the
# text of each statement is still taken from the original string.
_NON_ASCII_RUN = re.compile(r"[^\x00-\x7f]+")
# NUL would end libpg_query's C string; \x1c-\x1f are whitespace to Python's str.strip() (which
# pglast applies to each statement) but not to PostgreSQL.  Both get a same-length stand-in.
_PG_ODD_CONTROL = ("\x00", "\x1c", "\x1d", "\x1e", "\x1f")
_PG_CONTROL_MAP = str.maketrans({"\x00": " ", "\x1c": "\x01", "\x1d": "\x01", "\x1e": "\x01", "\x1f": "\x01"})


def _x_run(match: re.Match[str]) -> str:
    return "x" * (match.end() - match.start())


def _pg_work_text(sql: str) -> str:
    work = sql
    if work.startswith(_BOM):
        work = " " + work[1:]
    if not work.isascii():
        work = _NON_ASCII_RUN.sub(_x_run, work)
    if any(c in work for c in _PG_ODD_CONTROL):  # each test is a memchr, cheaper than a regex
        work = work.translate(_PG_CONTROL_MAP)
    return work


# A lexer for the ASCII working copy, following PostgreSQL's scan.l for everything that decides
# where a statement can end: comments (nested /* */), strings ('' doubling; E'' with backslash
# escapes; standard_conforming_strings on), quoted identifiers, dollar quotes, and identifiers
# (which may contain "$", so "a$$b" is not a dollar quote).  Unterminated quotes and comments run
# to the end of the input, as in PostgreSQL.  It is only used to find cut points and comment
# boundaries: whether a piece is a valid statement is always decided by PostgreSQL's parser.
_PG_TOKEN = re.compile(
    r"""
    (?P<ws>[ \t\n\r\f\v]+)
    |(?P<cmt>--[^\n\r]*)
    |(?P<bc>/\*)
    |(?P<semi>;)
    |(?P<es>[eE]'[^'\\]*(?:(?:\\[\s\S]|'')[^'\\]*)*'?)
    |(?P<word>[A-Za-z_][A-Za-z_0-9$]*)
    |(?P<sq>'[^']*(?:''[^']*)*'?)
    |(?P<dq>"[^"]*(?:""[^"]*)*"?)
    |(?P<dollar>\$(?P<tag>(?:[A-Za-z_][A-Za-z_0-9]*)?)\$[\s\S]*?(?:\$(?P=tag)\$|\Z))
    |(?P<bs>\\)
    |(?P<num>[0-9][0-9A-Za-z_.]*)
    |(?P<op>[^ \t\n\r\f\v;'"$\\A-Za-z_0-9/\-]+|[\s\S])
    """,
    re.VERBOSE,
)
_PG_COMMENT_EDGE = re.compile(r"/\*|\*/")
_PG_COPY_FROM_STDIN = re.compile(r"\bfrom\s+stdin\b", re.IGNORECASE)
_PG_COPY_END = re.compile(r"^\\\.[ \t\r]*$", re.MULTILINE)
_PG_BEGIN_ATOMIC = re.compile(r"\bbegin\s+atomic\b", re.IGNORECASE)

_SQL, _META, _DATA = 0, 1, 2


def _pg_block_comment_end(work: str, pos: int, endpos: int) -> int:
    """End of the (nested) block comment whose opening "/*" ends at pos."""
    close = _pg_block_comment_close(work, pos, endpos)
    return endpos if close is None else close


def _pg_block_comment_close(work: str, pos: int, endpos: int) -> int | None:
    """End of the (nested) block comment whose opening "/*" ends at pos; None if it never closes."""
    depth = 1
    search = _PG_COMMENT_EDGE.search
    while depth:
        m = search(work, pos, endpos)
        if m is None:
            return None
        depth += 1 if m.group() == "/*" else -1
        pos = m.end()
    return pos


def _pg_tokens(work: str, pos: int, endpos: int) -> Iterator[tuple[str, int, int]]:
    """(kind, start, end) of every token in work[pos:endpos], comments included."""
    match = _PG_TOKEN.match
    while pos < endpos:
        m = match(work, pos, endpos)
        if m is None:  # cannot happen (the last alternative takes any character); be safe
            return
        kind = m.lastgroup or "op"
        end = m.end()
        if kind == "bc":
            end = _pg_block_comment_end(work, end, endpos)
        yield kind, pos, end
        pos = end


def _pg_content_end(work: str, start: int, end: int) -> int:
    """End of the last token that is not a comment in work[start:end]."""
    last = start
    for kind, _, tok_end in _pg_tokens(work, start, end):
        if kind not in ("ws", "cmt", "bc"):
            last = tok_end
    return last if last > start else end


def _pg_trim(work: str, start: int, end: int) -> Span:
    # libpg_query's statement length runs to the ";", so a comment between the last token and the
    # ";" would be included.  Only lex the statement when its end can be a comment.
    last_line = work.rfind("\n", start, end) + 1 or start
    if work.endswith("*/", start, end) or work.find("--", last_line, end) >= 0:
        end = _pg_content_end(work, start, end)
    return start, end


def _split_postgres(sql: str) -> tuple[list[Span], Callable[[Span], bool]]:
    """The spans, and which of them PostgreSQL's parser accepted (the working copy differs from
    `sql` only where the parser reads alike: non-ASCII letters as `x`, odd control characters)."""
    from pglast.parser import split as pg_split

    work = _pg_work_text(sql)
    try:
        slices = pg_split(work, with_parser=True, only_slices=True)
    except Exception:
        fallback = _PgFallback(work, pg_split)
        spans = fallback.run()
        return spans, fallback.parsed.__contains__
    return [_pg_trim(work, s.start, s.stop) for s in slices], _everything_accepted


# A piece is the text between two top-level ";" (or psql meta-command lines):
# (raw_start, raw_end, content_start, content_end, kind).  raw_end is the ";" position.
Piece = tuple[int, int, int, int, int]


class _PgFallback:
    """Split a file that does not parse as a whole.

    The lexer cuts at every top-level ";".  Consecutive pieces are then parsed in windows of up to
    ``WINDOW_MAX`` characters starting at a known statement boundary: a window that parses gives exact
    statements; on an error, the pieces before the error are parsed on their own, and the piece with
    the error is resolved alone.  Pieces are re-joined only for the two constructs whose statements
    contain ";" (``CREATE FUNCTION/PROCEDURE ... BEGIN ATOMIC ... END`` and ``CREATE RULE ... DO
    (a; b)``): a piece starting with CREATE that ends "at end of input" is extended piece by piece
    until the join parses.  Every parse covers a bounded window, never the whole prefix, so one
    error in a large file costs about one extra parse of the file.
    """

    WINDOW_MIN = 4096
    WINDOW_MAX = 65536
    MAX_JOIN = 256  # pieces a multi-piece CREATE may span (a BEGIN ATOMIC body's statements)

    _OK, _EOF, _ERR, _UNKNOWN = range(4)

    def __init__(self, work: str, pg_split: Callable[..., Any]) -> None:
        self.work = work
        self.pg_split = pg_split
        self.out: list[Span] = []
        self.parsed: set[Span] = set()  # the spans of `out` that the parser accepted

    def run(self) -> list[Span]:
        run: list[Piece] = []
        for piece in self._pieces():
            if piece[4] == _SQL:
                run.append(piece)
                continue
            if run:
                self._split_run(run)
                run = []
            self.out.append((piece[2], piece[3]))
        if run:
            self._split_run(run)
        return self.out

    # -- lexing --------------------------------------------------------------------------------

    def _pieces(self) -> Iterator[Piece]:
        work = self.work
        n = len(work)
        match = _PG_TOKEN.match
        raw_start, first, last = 0, -1, -1
        pos = 0
        while pos < n:
            m = match(work, pos)
            if m is None:  # unreachable, see _pg_tokens
                break
            kind = m.lastgroup
            end = m.end()
            if kind == "ws":
                pos = end
                continue
            if kind == "bs":
                # A psql meta-command (\connect, \set, \copy ...; outside quotes a backslash is
                # nothing else): it ends the pending statement and runs to the end of the line.
                eol = work.find("\n", pos)
                if eol < 0:
                    eol = n
                if first >= 0:
                    yield raw_start, pos, first, last, _SQL
                yield pos, eol, pos, _trim_end(work, pos, eol), _META
                raw_start, first, last, pos = eol, -1, -1, eol
                continue
            if kind == "cmt":
                pos = end
                continue
            if kind == "bc":
                close = _pg_block_comment_close(work, end, n)
                if close is None:
                    # PostgreSQL rejects a comment that never closes ("unterminated /* comment"):
                    # it belongs to a statement piece, never skipped, so that the parser says so
                    # and the runner does not apply the file without the rest of it.
                    if first < 0:
                        first = pos
                    last = _trim_end(work, pos, n)
                    break
                pos = close
                continue
            if kind == "semi":
                if first >= 0:
                    yield raw_start, pos, first, last, _SQL
                    data = self._copy_data(first, last, end)
                    if data is not None:
                        yield data
                        raw_start, first, last, pos = data[1], -1, -1, data[1]
                        continue
                raw_start, first, last, pos = end, -1, -1, end
                continue
            if first < 0:
                first = pos
            last = pos = end
        if first >= 0:
            yield raw_start, n, first, last, _SQL

    def _copy_data(self, first: int, last: int, semi_end: int) -> Piece | None:
        """The data block after ``COPY ... FROM STDIN;`` up to its "\\." line, as psql reads it."""
        work = self.work
        if work[first : first + 4].lower() != "copy" or not _PG_COPY_FROM_STDIN.search(work, first, last):
            return None
        nl = work.find("\n", semi_end)
        if nl < 0:
            return None
        start = nl + 1
        m = _PG_COPY_END.search(work, start)
        if m is None:
            # psql would read the rest of the file as data; without the terminator this is more
            # likely a COPY meant for a client-supplied stream, so do not swallow what follows.
            return None
        return start, m.end(), start, _trim_end(work, start, m.end()), _DATA

    # -- parse checks ----------------------------------------------------------------------------

    def _parse(self, run: list[Piece], i: int, j: int) -> tuple[int, Any]:
        start, end = run[i][0], run[j][1]
        try:
            slices = self.pg_split(self.work[start:end], with_parser=True, only_slices=True)
        except Exception as exc:
            args = getattr(exc, "args", ())
            message = args[0] if args and isinstance(args[0], str) else ""
            location = args[1] if len(args) > 1 else None
            if "at end of input" in message:
                return self._EOF, None
            if not isinstance(location, int):
                return self._UNKNOWN, None
            return self._ERR, start + location
        return self._OK, [(start + s.start, start + s.stop) for s in slices]

    def _emit_parsed(self, spans: list[Span]) -> None:
        for start, end in spans:
            span = _pg_trim(self.work, start, end)
            self.out.append(span)
            self.parsed.add(span)

    def _emit_broken(self, run: list[Piece], i: int, j: int) -> None:
        # _trim_end: an unterminated literal or comment runs to the end of the input, blanks included.
        self.out.append((run[i][2], _trim_end(self.work, run[i][2], run[j][3])))

    # -- resolution ------------------------------------------------------------------------------

    def _split_run(self, run: list[Piece]) -> None:
        starts = [p[0] for p in run]
        ends = [p[1] for p in run]
        count = len(run)
        i = 0
        # Window size adapts: small after an error (files with many errors), doubling while windows
        # parse; when a window ends inside a statement it grows without limit.
        window = self.WINDOW_MIN
        while i < count:
            j = min(bisect.bisect_left(ends, run[i][0] + window, i), count - 1)
            status, value = self._parse(run, i, j)
            if status == self._OK:
                self._emit_parsed(value)
                i = j + 1
                window = min(window * 2, max(window, self.WINDOW_MAX))
                continue
            if status == self._EOF and j + 1 < count:
                window *= 2  # the window cut a statement (or a broken one runs on): widen it
                continue
            window = self.WINDOW_MIN
            if status == self._ERR:
                k = min(max(bisect.bisect_right(starts, value) - 1, i), j)
                if k > i:
                    status, value = self._parse(run, i, k - 1)
                    if status != self._OK:
                        # A statement that spans pieces runs from somewhere before k into k:
                        # resolve piece by piece up to k.
                        while i <= k:
                            i = self._resolve(run, i, starts)
                        continue
                    self._emit_parsed(value)
                    i = k
                # The statement starting at piece i has an error in piece i.
                i = self._resolve(run, i, starts)
                continue
            # Incomplete at the end of the run, or an error without a position: piece by piece over
            # the window (going back to whole windows after each piece would be quadratic).
            while i <= j:
                i = self._resolve(run, i, starts)

    def _is_create(self, piece: Piece) -> bool:
        work, first = self.work, piece[2]
        return work[first : first + 6].lower() == "create" and not work[first + 6 : first + 7].isalnum()

    def _resolve(self, run: list[Piece], i: int, starts: list[int]) -> int:
        """Emit the statement starting at piece i (a known boundary); return the next piece."""
        status, value = self._parse(run, i, i)
        if status == self._OK:
            self._emit_parsed(value)
            return i + 1
        last = min(len(run) - 1, i + self.MAX_JOIN)
        if status != self._EOF or not self._is_create(run[i]):
            # A CREATE ... BEGIN ATOMIC broken in its first piece still runs up to its END (as psql
            # sends it), not cut at each ";" of its body.
            end = self._atomic_end(run, i, i, last) if self._is_create(run[i]) else i
            self._emit_broken(run, i, end)
            return end + 1
        for q in range(i + 1, last + 1):
            status, value = self._parse(run, i, q)
            if status == self._OK:
                self._emit_parsed(value)
                return q + 1
            if status == self._EOF:
                continue
            if status == self._ERR:
                g = min(max(bisect.bisect_right(starts, value) - 1, i), q)
                if g > i:
                    # The parser read pieces i..g as one statement before failing: a broken
                    # multi-piece CREATE.  Keep it in one piece; for BEGIN ATOMIC, up to its END.
                    end = self._atomic_end(run, i, g, last)
                    self._emit_broken(run, i, end)
                    return end + 1
            break
        # Incomplete up to the last piece it may span, or broken in its first piece.
        end = self._atomic_end(run, i, i, last)
        self._emit_broken(run, i, end)
        return end + 1

    def _atomic_end(self, run: list[Piece], i: int, g: int, last: int) -> int:
        """The last piece of the broken statement that starts at piece i and runs to piece g at
        least: for a CREATE ... BEGIN ATOMIC, the piece whose ";" psql would send it at (BEGIN and
        CASE ... END counted outside parentheses, as psql does); else g."""
        if not _PG_BEGIN_ATOMIC.search(self.work, run[i][2], run[i][3]):
            return g
        depth = parens = 0
        for r in range(i, last + 1):
            for kind, start, end in _pg_tokens(self.work, run[r][2], run[r][3]):
                if kind == "op":
                    parens += self.work.count("(", start, end) - self.work.count(")", start, end)
                elif kind == "word" and parens <= 0:
                    word = self.work[start:end].lower()
                    if word == "begin" or (word == "case" and depth):
                        depth += 1
                    elif word == "end" and depth:
                        depth -= 1
            if depth == 0 and r >= g:
                return r
        return g


# ---------------------------------------------------------------------------------------------
# MySQL and SQLite (sqlglot's tokenizers)
# ---------------------------------------------------------------------------------------------

# NUL and lone surrogates cannot go through sqlite3 (C strings, UTF-8); same-length stand-ins.
_C_UNSAFE = re.compile(r"[\x00\ud800-\udfff]")


def _c_safe(match: re.Match[str]) -> str:
    return " " if match.group() == "\x00" else "x"


def _sqlglot_work_text(sql: str) -> str:
    work = sql
    if work.startswith(_BOM):
        work = " " + work[1:]  # else "\ufeffCREATE" would be one word
    if _C_UNSAFE.search(work):
        work = _C_UNSAFE.sub(_c_safe, work)
    return work


class _Sqlglot:
    """sqlglot, imported on first use (about 0.2 s, which PostgreSQL-only callers never pay)."""

    semicolon: Any = None
    backslash: Any = None
    quoted: frozenset[Any] = frozenset()
    classes: dict[str, Any] = {}
    commands: dict[str, frozenset[Any]] = {}  # the token types sqlglot's own tokenizer reads as commands
    dialects: dict[str, Any] = {}  # sqlglot's Dialect objects (get_or_raise builds a new one per call)

    @classmethod
    def tokenizer(cls, dialect: str) -> Any:
        tokenizer_class = cls.classes.get(dialect)
        if tokenizer_class is None:
            from sqlglot.dialects.dialect import Dialect
            from sqlglot.tokens import TokenType

            cls.semicolon = TokenType.SEMICOLON
            cls.backslash = TokenType.BACKSLASH
            names = [name for name in dir(TokenType) if name.endswith("_STRING") or name == "STRING"]
            cls.quoted = frozenset(getattr(TokenType, name) for name in [*names, "IDENTIFIER"])
            base = Dialect.get_or_raise(dialect).tokenizer_class
            # sqlglot turns everything after a "command" keyword (REPLACE, EXECUTE, PREPARE ...) into
            # one STRING token with a wrong start; a splitter needs the real tokens.
            tokenizer_class = type(f"_Split{base.__name__}", (base,), {"COMMANDS": set()})
            cls.classes[dialect] = tokenizer_class
            cls.commands[dialect] = frozenset(base.COMMANDS)
            cls.dialects[dialect] = Dialect.get_or_raise(dialect)
        # MySQL: the dialect's own settings (identifiers may start with a digit: `1st`), so that the
        # review can parse these tokens (split_for_review).
        return tokenizer_class(dialect=cls.dialects[dialect]) if dialect == "mysql" else tokenizer_class()


_CONDITIONAL = "conditional comment"  # token_type of _Cond


class _Cond:
    """A MySQL ``/*! ... */`` comment as a token, with the attributes of sqlglot's tokens."""

    __slots__ = ("start", "end", "text", "token_type")

    def __init__(self, start: int, end: int) -> None:
        self.start = start
        self.end = end  # inclusive, as sqlglot's
        self.text = ""
        self.token_type = _CONDITIONAL


# MySQL comments, for the gaps between tokens (which only hold blanks and comments).
_MY_GAP = re.compile(r"\s+|#[^\n]*|--[^\n]*|/\*[\s\S]*?(?:\*/|\Z)")
# Blanks and complete comments, to skip what precedes an unreadable rest.  MySQL's "-- " needs a
# blank or control character after the dashes.
_MY_COMMENTS = re.compile(r"(?:\s+|#[^\n]*|--[\s\x00-\x1f\x7f][^\n]*|--\Z|/\*(?!M?!)[\s\S]*?\*/)*")
_SQLITE_COMMENTS = re.compile(r"(?:\s+|--[^\n]*|/\*[\s\S]*?\*/)*")
_SQLITE_TRIGGER_HEAD = re.compile(r"(?:EXPLAIN (?:QUERY PLAN )?)?CREATE (?:TEMP |TEMPORARY )*")


# MySQL runs what these comments hold (MariaDB also `/*M!`).
_EXECUTABLE_OPENERS = ("/*!", "/*M!")


def _executable_comment_in(work: str, start: int, end: int) -> bool:
    return work.find("/*!", start, end) >= 0 or work.find("/*M!", start, end) >= 0


class _TokenStream:
    """sqlglot's tokens of work[base:]; their offsets are relative to base, ends inclusive."""

    def __init__(self, work: str, base: int, dialect: str) -> None:
        self.work = work
        self.base = base
        tokenizer = _Sqlglot.tokenizer(dialect)
        self.failed = False
        try:
            tokens = tokenizer.tokenize(work[base:] if base else work)
        except Exception:
            # Unterminated string, quoted identifier or comment, invalid hex literal... (the
            # compiled build may also raise TypeError).  Keep the tokens read before the error;
            # the caller treats the rest as one statement.
            self.failed = True
            try:
                tokens = list(tokenizer.tokens)
            except Exception:
                tokens = []
        if dialect == "mysql" and _executable_comment_in(work, base, len(work)):
            tokens = self._with_conditional_comments(tokens)
        self.tokens: list[Any] = tokens
        # Tokens are reliable up to here; after a failure, the rest is unreadable.
        self.readable_end = base + tokens[-1].end + 1 if tokens else base

    def code(self, tok: Any) -> str:
        """The token's code: ";" for a semicolon, "'" for a quoted token or a conditional comment,
        else its upper-cased text (a quoted identifier must not pass for a keyword: `BEGIN`)."""
        kind = tok.token_type
        if kind is _Sqlglot.semicolon:
            return ";"
        if kind is _CONDITIONAL:
            return "'"
        if kind in _Sqlglot.quoted and self.work[self.base + tok.end] in "'\"`]":
            return "'"
        return tok.text.upper()

    def _with_conditional_comments(self, tokens: list[Any]) -> list[Any]:
        """Insert MySQL /*! ... */ comments as tokens.  The server executes their content
        (mysqldump's ``/*!40101 SET NAMES utf8 */;`` is a statement), so they belong to statements,
        as one opaque token: a ";" inside one does not cut (the server runs it as one unit)."""
        work, base = self.work, self.base
        result: list[Any] = []
        prev_end = base
        gaps: list[tuple[int, Any]] = [(base + tok.start, tok) for tok in tokens]
        if not self.failed:
            gaps.append((len(work), None))
        for gap_end, tok in gaps:
            if gap_end > prev_end and _executable_comment_in(work, prev_end, gap_end):
                p = prev_end
                while p < gap_end:
                    m = _MY_GAP.match(work, p, gap_end)
                    if m is None or m.end() == p:
                        break  # not a comment (cannot happen): leave the rest of the gap alone
                    if work.startswith(_EXECUTABLE_OPENERS, p):
                        result.append(_Cond(p - base, m.end() - 1 - base))
                    p = m.end()
            if tok is not None:
                result.append(tok)
                prev_end = base + tok.end + 1
        return result


def _rest_statement(work: str, pos: int, first: int, comments: re.Pattern[str]) -> Span | None:
    """The statement made of everything from the last good boundary, when tokenizing failed.
    An unterminated comment is one for SQLite, which reads it to the end of the input; MySQL's
    server refuses it (only the mysql client drops it): kept, so that the review reports it and
    the runner does not skip the statements it hides in silence."""
    n = len(work)
    if first < 0:
        m = comments.match(work, pos)
        first = m.end() if m else pos
        if first >= n or (comments is _SQLITE_COMMENTS and work.startswith("/*", first)):
            return None  # blanks, comments, or an unterminated comment (SQLite)
    end = _trim_end(work, first, n)
    return (first, end) if end > first else None


_MY_ROUTINES = frozenset({"PROCEDURE", "FUNCTION", "TRIGGER", "EVENT"})
_MY_NOT_ROUTINES = frozenset(
    {
        "TABLE",
        "VIEW",
        "INDEX",
        "DATABASE",
        "SCHEMA",
        "USER",
        "ROLE",
        "SERVER",
        "TABLESPACE",
        "UNIQUE",
        "FULLTEXT",
        "SPATIAL",
        "TEMPORARY",
        "SEQUENCE",
        "LOGFILE",
        "RESOURCE",
    }
)
# Words after which IF/LOOP/REPEAT/WHILE start a block (a statement inside a body).
_MY_STATEMENT_START = frozenset({";", "BEGIN", "THEN", "ELSE", "DO", ":", "REPEAT", "LOOP", "ROW"})
_MY_END_SUFFIX = frozenset({"IF", "CASE", "LOOP", "REPEAT", "WHILE"})
_MY_EXPRESSION_FOLLOW = frozenset({"END", "ELSE", "WHEN", ",", ")", ";"})
_PLAIN, _CHECKING, _COMPOUND = 0, 1, 2
# The mysql client's own commands (`help` in the client), which a server rejects: the backslash
# forms anywhere outside quotes (not \N, which is NULL), the named forms first on a line between
# statements. Not `use` and `help`, which are statements too; DELIMITER is the splitter's own.
_MY_CLIENT_LETTERS = frozenset("?CcdeGghnPpqRrsTtuWwx#-.!")
MYSQL_CLIENT_COMMANDS = frozenset(
    {
        "CHARSET", "CLEAR", "CONNECT", "EDIT", "EGO", "EXIT", "GO", "NOPAGER", "NOTEE", "NOWARNING",
        "PAGER", "PRINT", "PROMPT", "QUIT", "REHASH", "RESETCONNECTION", "SANDBOX", "SOURCE", "STATUS",
        "SYSTEM", "TEE", "WARNINGS",
    }
)


def _my_opens_block(stream: _TokenStream, k: int, code: str, prev: str) -> bool:
    """Whether IF/LOOP/REPEAT/WHILE at token k opens a block (vs. the IF()/REPEAT() functions)."""
    tokens = stream.tokens
    if prev not in _MY_STATEMENT_START:
        return False
    if code not in ("IF", "REPEAT") or k + 1 >= len(tokens) or stream.code(tokens[k + 1]) != "(":
        return True
    if code == "REPEAT":
        return False  # REPEAT(str, n): a REPEAT block starts with a statement, not "("
    if prev not in ("THEN", "ELSE"):
        return True  # an IF at the start of a statement is the IF statement
    # After THEN/ELSE it may be a CASE expression's branch: IF(a, b, c) is followed by END/ELSE/...
    depth = 0
    for q in range(k + 1, len(tokens)):
        c = stream.code(tokens[q])
        if c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
            if depth == 0:
                return q + 1 < len(tokens) and stream.code(tokens[q + 1]) not in _MY_EXPRESSION_FOLLOW
        elif c == ";":
            return True
    return True


# What may stand between two tokens (blanks and comments), as sqlglot's MySQL tokenizer reads it.
_MY_BETWEEN = re.compile(r"\s+|(#[^\n]*|--[^\n]*|/\*[\s\S]*?(?:\*/|\Z))")
_MY_BEGIN = re.compile(r"\bBEGIN\b", re.IGNORECASE)


class _MySQLSplitter:
    """The mysql client's splitting, on sqlglot's tokens."""

    def __init__(self, sql: str) -> None:
        self.work = _sqlglot_work_text(sql)
        self.stream = _TokenStream(self.work, 0, "mysql")
        self.first_stream = self.stream
        self.k = 0
        # Statement start → its tokens [i, j) in first_stream: a plain statement ended by ";" (or by
        # the end of the input) in the stream that read the whole input (see statement_tokens).
        self.ranges: dict[int, tuple[int, int]] = {}
        self._lower: str | None = None

    def statement_tokens(self, start: int) -> list[Any] | None:
        """The tokens sqlglot's MySQL tokenizer gives for the statement at `start` read alone, taken
        from the whole input's (offsets, lines and columns stay the input's), or None where they
        could differ: sqlglot reads what follows a command word (EXECUTE, RENAME, REPLACE …) at the
        start of a statement or after BEGIN as one string. `/*! … */` comments, tokens here, are
        left out. Comments are tokens' attributes: the input's reading gives the first token the
        comments that precede the statement and the last one those between it and its ";"; they
        are cut off."""
        found = self.ranges.get(start)
        if found is None:
            return None
        i, j = found
        stream = self.first_stream
        tokens, work = stream.tokens, self.work
        text_start, text_end = tokens[i].start, tokens[j - 1].end + 1  # the statement's text
        p = i - 1  # the token before the statement, not a /*! … */ (a comment to the tokenizer)
        while p >= 0 and tokens[p].token_type is _CONDITIONAL:
            p -= 1
        before = tokens[p].end + 1 if p >= 0 else 0
        after = tokens[j].start if j < len(tokens) else len(work)
        result = tokens[i:j]
        if _executable_comment_in(work, before, after):
            # The statement's own /*! … */ are comments to sqlglot (on the tokens around them, as
            # in the statement read alone): not tokens. One before the statement or after it (the
            # gaps are read below) is one more comment there.
            result = [t for t in result if t.token_type is not _CONDITIONAL]
            if not result:
                return result  # only /*! … */: sqlglot reads no token in it
        first, last = result[0], result[-1]
        if first.token_type in _Sqlglot.commands["mysql"] or self._says_begin(text_start, text_end):
            return None
        if first.comments or last.comments:
            lead = self._comments_in(before, text_start, p < 0, leading=True)
            trail = self._comments_in(text_end, after, True, leading=False)
            if lead is None or trail is None:
                return None
            if first is last:
                result[0] = _retold(first, first.comments[lead : len(first.comments) - trail])
            else:
                if lead:
                    result[0] = _retold(first, first.comments[lead:])
                if trail:
                    result[-1] = _retold(last, last.comments[: len(last.comments) - trail])
        return result

    def _says_begin(self, start: int, end: int) -> bool:
        """Whether work[start:end] holds the word BEGIN in any letter case (or, for ASCII text, a
        word that contains it: the caller only loses a shortcut)."""
        if self._lower is None:
            # One lower-cased copy per input and a plain substring search per statement: the
            # case-insensitive pattern reads about 90 MB/s. (Outside ASCII, lower() may change lengths.)
            self._lower = self.work.lower() if self.work.isascii() else ""
        if self._lower:
            return self._lower.find("begin", start, end) >= 0
        return _MY_BEGIN.search(self.work, start, end) is not None

    def _comments_in(self, start: int, end: int, pending: bool, *, leading: bool) -> int | None:
        """How many comments of the gap work[start:end] (between two tokens) the tokenizer gave the
        token after it (`leading`: those not on the line of the token before it, which take that
        one's; every one if `pending`, at the start of the input), or else the token before it
        (all of them: the ";" after them hands them back to it). None: a lone CR (read as a line
        break by the tokenizer, not here)."""
        work = self.work
        if work.find("\r", start, end) >= 0:
            return None
        count = 0
        pos = start
        while pos < end:
            match = _MY_BETWEEN.match(work, pos, end)
            if match is None or match.end() == pos:
                return None  # not blanks and comments (cannot happen between two tokens)
            if match.group(1) is None:
                pending = pending or "\n" in match.group()
            elif pending or not leading:
                count += 1
            pos = match.end()
        return count

    def _skip_to(self, at: int) -> None:
        """Continue with the first token at or after ``at`` (re-tokenizing if one straddles it)."""
        stream = self.stream
        tokens, base = stream.tokens, stream.base
        k = self.k
        while k < len(tokens) and base + tokens[k].start < at:
            k += 1
        if (k and base + tokens[k - 1].end + 1 > at) or (k == len(tokens) and stream.failed):
            self.stream = _TokenStream(self.work, at, "mysql")
            k = 0
        self.k = k

    def _delimiter_command(self, start: int, end: int) -> str | None:
        """The new delimiter if the DELIMITER word at start is the client's command (first on its line)."""
        work = self.work
        if work[work.rfind("\n", 0, start) + 1 : start].strip():
            return None
        eol = work.find("\n", end)
        args = work[end : eol if eol >= 0 else len(work)].split()
        if not args:
            return None  # the client refuses a DELIMITER without argument
        arg = args[0]
        if len(arg) > 1 and arg[0] in "'\"`" and arg[-1] == arg[0]:
            arg = arg[1:-1]
        return arg or None

    def _named_client_command(self, start: int, end: int) -> bool:
        """Whether the word at start is the client's command: first on its line, a word of its own."""
        work = self.work
        after = work[end : end + 1]
        line_start = work.rfind("\n", 0, start) + 1
        return (after in ("", ";") or after.isspace()) and not work[line_start:start].strip()

    def _client_command_end(self, start: int, delimiter: str) -> int:
        """The end of a client command's text: its line, without a trailing delimiter."""
        work = self.work
        eol = work.find("\n", start)
        end = _trim_end(work, start, eol if eol >= 0 else len(work))
        if work.endswith(delimiter, start + 2, end):
            end = _trim_end(work, start, end - len(delimiter))
        return end

    def run(self) -> list[Span]:
        work = self.work
        n = len(work)
        spans: list[Span] = []
        semicolon = _Sqlglot.semicolon
        backslash = _Sqlglot.backslash
        delimiter = ";"
        first = -1  # start of the current statement, -1 between statements
        first_k = -1
        last_end = -1
        mode = _PLAIN
        budget = depth = 0
        prev = ""
        after_end = False
        # Start offset of a statement whose BEGIN ... END never closed (an offset, not a token
        # index: the token list is replaced when re-tokenizing).
        force_plain_at = -1
        while True:
            stream = self.stream
            tokens, base = stream.tokens, stream.base
            while self.k < len(tokens):
                k = self.k
                tok = tokens[k]
                if delimiter == ";":
                    if tok.token_type is semicolon:
                        self.k += 1
                        if first < 0:
                            continue
                        if mode != _COMPOUND or depth == 0:
                            spans.append((first, last_end))
                            if mode != _COMPOUND and stream is self.first_stream:
                                self.ranges[first] = (first_k, k)
                            first = -1
                        else:
                            prev, after_end = ";", False
                        continue
                    if first >= 0 and mode == _PLAIN and tok.token_type is not backslash:
                        # The common case (inside an ordinary statement): nothing to look at.
                        last_end = base + tok.end + 1
                        self.k += 1
                        continue
                start, end = base + tok.start, base + tok.end + 1
                code = stream.code(tok)
                if delimiter != ";" and code != "'":
                    # A custom delimiter is found character by character, as the mysql client does:
                    # it may be glued to a word ("END$$") or made of several tokens ("//", ";;").
                    found = work.find(delimiter, start, min(end + len(delimiter) - 1, n))
                    if found >= 0:
                        if found > start:
                            if first < 0:
                                first = start
                            last_end = found
                        if first >= 0:
                            spans.append((first, last_end))
                            first = -1
                        self._skip_to(found + len(delimiter))
                        stream = self.stream
                        tokens, base = stream.tokens, stream.base
                        continue
                    if code == ";":
                        # Not the delimiter: part of the statement, but a trailing ";" before the
                        # delimiter ("END;$$") is not sent: the server would reject it.
                        self.k += 1
                        continue
                lettered = tok.token_type is backslash and work[end : end + 1] in _MY_CLIENT_LETTERS
                if lettered and first >= 0:
                    # A mysql client command sends the pending statement; \g and \G do only that.
                    spans.append((first, last_end))
                    first = -1
                    if work[end] in "gG":
                        self._skip_to(end + 1)
                        stream = self.stream
                        tokens, base = stream.tokens, stream.base
                        continue
                if lettered or (first < 0 and code in MYSQL_CLIENT_COMMANDS and self._named_client_command(start, end)):
                    # The command itself: a piece of its own, to the end of the line.
                    eol = self._client_command_end(start, delimiter)
                    spans.append((start, eol))
                    self._skip_to(eol)
                    stream = self.stream
                    tokens, base = stream.tokens, stream.base
                    continue
                if code == "DELIMITER" and (first < 0 or delimiter != ";"):
                    new = self._delimiter_command(start, end)
                    if new is not None:
                        # The client's command, not a statement; it also sends what was pending.
                        if first >= 0:
                            spans.append((first, last_end))
                            first = -1
                        delimiter = new
                        eol = work.find("\n", end)
                        self._skip_to(eol if eol >= 0 else n)
                        stream = self.stream
                        tokens, base = stream.tokens, stream.base
                        continue
                if first < 0:
                    first, first_k, prev, after_end, depth = start, k, "", False, 0
                    if code == "CREATE" and delimiter == ";" and start != force_plain_at:
                        mode, budget = _CHECKING, 16
                    else:
                        mode = _PLAIN
                elif mode == _CHECKING:
                    if code in _MY_ROUTINES:
                        mode = _COMPOUND
                    elif code in _MY_NOT_ROUTINES or budget <= 0:
                        mode = _PLAIN
                    budget -= 1
                elif mode == _COMPOUND:
                    if prev == ".":
                        code = "'"  # NEW.end, t.begin: a column (BEGIN and END are not reserved)
                    elif after_end and code in _MY_END_SUFFIX:
                        pass  # END IF / END CASE / END LOOP ...: closed by the END already
                    elif code == "END":
                        depth = max(depth - 1, 0)
                    elif code in ("BEGIN", "CASE") or (
                        code in _MY_END_SUFFIX and _my_opens_block(stream, k, code, prev)
                    ):
                        depth += 1
                    after_end = code == "END"
                prev = code
                last_end = end
                self.k += 1
            if (
                first >= 0
                and not stream.failed
                and mode == _COMPOUND
                and depth > 0
                and first != force_plain_at
            ):
                # BEGIN ... END never closed: rather than swallowing the rest of the file, split
                # this statement at its first ";" like any other.
                force_plain_at, self.k = first, first_k
                first = -1
                continue
            break
        if self.stream.failed:
            rest = _rest_statement(work, self.stream.readable_end, first, _MY_COMMENTS)
            if rest is not None:
                spans.append(rest)
        elif first >= 0:
            spans.append((first, last_end))
            if delimiter == ";" and mode != _COMPOUND and self.stream is self.first_stream:
                self.ranges[first] = (first_k, len(self.stream.tokens))
        return spans


def _retold(token: Any, comments: list[str]) -> Any:
    """A copy of a sqlglot token with other comments."""
    return type(token)(token.token_type, token.text, token.line, token.col, token.start, token.end, comments)


def _split_sqlite(sql: str) -> list[Span]:
    work = _sqlglot_work_text(sql)
    spans: list[Span] = []
    stream = _TokenStream(work, 0, "sqlite")
    tokens = stream.tokens  # base is 0: SQLite input is tokenized once
    semicolon = _Sqlglot.semicolon
    code = stream.code
    complete = sqlite3.complete_statement
    k = 0
    first = -1
    first_k = -1
    head = ""  # the statement's first words, up to 5
    last_end = -1
    count = 0  # tokens in the current statement, up to 5
    trigger = False
    skipped = False  # the current statement contains a ";" that did not end it
    prev = ""
    force_cut_at = -1  # token index of a statement that never completes: cut it at its first ";"
    while True:
        while k < len(tokens):
            tok = tokens[k]
            k += 1
            if tok.token_type is semicolon:
                if first < 0:
                    continue
                end = tok.end + 1
                # sqlite3_complete() is the judge.  Inside CREATE TRIGGER it can only say yes after
                # END, so skip the call elsewhere (each call is O(statement)).
                if first_k == force_cut_at or ((not trigger or prev == "END") and complete(work[first:end])):
                    spans.append((first, last_end))
                    first = -1
                else:
                    skipped = True
                    prev = ";"
                continue
            if first < 0:
                first, first_k, count, trigger, skipped = tok.start, k - 1, 0, False, False
                head = ""
            if count < 5:
                count += 1
                # As sqlite3_complete(): [EXPLAIN] CREATE [TEMP] TRIGGER, not any word TRIGGER (a
                # valid name: "CREATE TABLE trigger (a)").
                word = code(tok)
                if word == "TRIGGER" and _SQLITE_TRIGGER_HEAD.fullmatch(head):
                    trigger = True
                head += word + " "
            if trigger:
                prev = code(tok)
            last_end = tok.end + 1
        if (
            first >= 0
            and skipped
            and not stream.failed
            and first_k != force_cut_at
            and not complete(work[first:last_end] + ";")
        ):
            # Never completes (a trigger without END...): rather than swallowing the rest of the
            # file, cut this statement at its first ";".
            force_cut_at = k = first_k
            first = -1
            continue
        break
    if stream.failed:
        rest = _rest_statement(work, stream.readable_end, first, _SQLITE_COMMENTS)
        if rest is not None:
            spans.append(rest)
    elif first >= 0:
        spans.append((first, last_end))
    return spans
