"""Review one migration file: split, judge syntax, parse, run the rules, apply suppressions.

Statement by statement: each sqlglot tree is dropped before the next statement is parsed, so
memory stays flat however large the file (retained trees made the garbage collector cut
throughput 3× in measurements). No input may make `review_file` raise.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import hashlib
import logging
import re
import sqlite3
import threading
from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple

from sqlglot import exp
from sqlglot.tokens import TokenType

from reviews.engine.model import (
    BOUNDED_STATEMENTS,
    CONCURRENTLY,
    DOLLAR_TAG,
    MYSQL_NAME,
    MYSQL_STRING,
    TX_BEGIN,
    FileContext,
    Stmt,
    blank_comments_and_strings,
    blank_out,
    flatten,
    mysql_executable,
    name_of,
    plain_name,
    renamed_tables,
    sqlglot_parse,
    sqlglot_parse_tokens,
    sqlglot_tokenize,
    starts_with_words,
    table_key,
)
from reviews.engine.policy import Policy
from reviews.engine.registry import RULES, Hit, Rule
from reviews.splitter import DIALECTS, MYSQL_CLIENT_COMMANDS, Statement, split_for_review

logging.getLogger("sqlglot").setLevel(logging.ERROR)  # "falling back to parsing as a Command"

SEVERITY_RANK = {"error": 3, "warning": 2, "info": 1}
RISK_RANK = {"low": 0, "moderate": 1, "high": 2}
FAIL_ON = ("error", "warning", "never")  # the lowest severity that blocks, or never
IGNORE_RE = re.compile(r"^[ \t]*--[ \t]*sluice:[ \t]*ignore\b[ \t]*(.*?)[ \t]*$", re.MULTILINE | re.IGNORECASE)
_COPY_FROM_STDIN = re.compile(r"^COPY .* FROM STDIN\b")
HIGH_RISK = re.compile(r"^(DROP (DATABASE|SCHEMA|TABLE)|TRUNCATE)\b")
MODERATE_RISK = re.compile(r"^(DELETE|UPDATE|ALTER (?:ONLINE |IGNORE )*TABLE|DROP INDEX)\b")  # (MariaDB's ONLINE, IGNORE)
# A statement that starts with WITH and deletes or updates rows (its main statement, or a CTE's: both
# change data); not a locking clause (FOR [NO KEY] UPDATE).
_WITH_MODIFYING = re.compile(r"\bDELETE\b|(?<!FOR )(?<!NO KEY )\bUPDATE\b")


@dataclasses.dataclass(slots=True)
class Finding:
    rule: str
    severity: str
    message: str
    file: str
    line: int
    column: int
    end_line: int
    statement: str
    fingerprint: str = ""
    suppressed: bool = False

    def as_dict(self) -> dict:
        # By hand, in field order: dataclasses.asdict deep-copies every value (a quarter of a
        # second for the 20,000 findings of the corpus, in the process that writes the report).
        return {
            "rule": self.rule, "severity": self.severity, "message": self.message, "file": self.file,
            "line": self.line, "column": self.column, "end_line": self.end_line, "statement": self.statement,
            "fingerprint": self.fingerprint, "suppressed": self.suppressed,
        }


@dataclasses.dataclass
class FileReview:
    path: str
    dialect: str
    findings: list[Finding]
    risk: str  # low | moderate | high
    statements: int
    # What a release would refuse of the file (its name, its version, a run directive): (message, line or None).
    refusals: list[tuple[str, int | None]] = dataclasses.field(default_factory=list)

    def refuse(self, message: str, line: int | None = None) -> None:
        """Add what a release would refuse of the file."""
        self.refusals.append((message, line))


@dataclasses.dataclass
class ReviewResult:
    files: list[FileReview]

    @property
    def findings(self) -> list[Finding]:
        return [f for review in self.files for f in review.findings]

    @property
    def active(self) -> list[Finding]:
        return [f for f in self.findings if not f.suppressed]

    @property
    def risk(self) -> str:
        return max((r.risk for r in self.files), key=RISK_RANK.__getitem__, default="low")

    def count(self, severity: str) -> int:
        return sum(1 for f in self.active if f.severity == severity)

    def blocking(self, fail_on: str = "error") -> bool:
        if fail_on == "never":
            return False
        if any(r.refusals for r in self.files):
            return True  # a file that cannot be read, or that a release would refuse
        threshold = SEVERITY_RANK[fail_on]
        return any(SEVERITY_RANK.get(f.severity, 0) >= threshold for f in self.active)

    def summary(self, fail_on: str = "error") -> dict:
        return {
            # What a release would refuse of a file is an error too (as a check counts it): it blocks like one.
            "errors": self.count("error") + sum(len(r.refusals) for r in self.files),
            "warnings": self.count("warning"),
            "infos": self.count("info"),
            "files": len(self.files),
            "blocking": self.blocking(fail_on),
            "risk": self.risk,
        }

    def as_json(self, fail_on: str = "error") -> dict:
        """The `sluice.check/v1` document of design.md §6."""
        return {
            "schema": "sluice.check/v1",
            "summary": self.summary(fail_on),
            "findings": [f.as_dict() for f in self.findings],
            # (As a check lists them: one entry per refusal, its line when it has one.)
            "errors": [{"file": r.path, "message": message} | ({"line": line} if line else {})
                       for r in self.files for message, line in r.refusals],
            # Each file's own risk level (design §7: each file and the whole check get one).
            "files": [{"file": r.path, "risk": r.risk, "statements": r.statements} for r in self.files],
        }


# -- public ----------------------------------------------------------------------------------


def review_files(files: Iterable[tuple[str, bytes | str]], dialect: str, policy: Policy | None = None) -> ReviewResult:
    policy = policy or Policy.recommended()
    return ReviewResult([review_file(path, data, dialect, policy) for path, data in files])


def review_file(path: str, data: bytes | str, dialect: str, policy: Policy | None = None) -> FileReview:
    policy = policy or Policy.recommended()
    try:
        with _collector_paused():
            return _review(path, data, dialect, policy)
    except Exception as exc:  # a bug must not stop a check: say so, located at the file
        # (Nothing here may raise again: the message as _Collector.add makes it, the path as given,
        # a file name that is not UTF-8 too: _fingerprint.)
        message = redact(_bounded(f"internal error while reviewing this file: {type(exc).__name__}: {exc}", ""))
        finding = Finding("system.syntax-error", "error", message, path, 1, 1, 1, "")
        finding.fingerprint = _fingerprint(finding, 0)
        return FileReview(path, dialect, [finding], "low", 0)


# While paused, the young objects are collected by hand past this many: every tree is a cycle (each
# node points to its parent, each parent to its children), so only the collector frees a dropped
# one. CPython's own threshold: the trees are freed a statement or so after they are dropped, and
# their memory is reused while the processor's caches still hold it. At 50,000 the trees of dozens of
# statements piled up first: the same instructions, but many more misses of the last-level cache
# (bench/review_ir.py --cache, every 10th file: PostgreSQL 1.03 million against 0.71 million, MySQL
# 4.26 against 2.96; parsing alone, 0.30 and 3.3). Cutting each tree's parent links in Python
# instead, so that reference counting frees it, took the collector down but cost as much itself
# (4.3% more instructions).
_YOUNG_LIMIT = 700
_PAUSE_LOCK = threading.Lock()
_pauses = 0  # reviews running with the collector paused (threads)
_resume = False  # whether the collector was on when the first of them began


@contextlib.contextmanager
def _collector_paused():
    """The cyclic garbage collector off while a file is reviewed, back on (if it was) when the last
    review running in the process ends. A review allocates millions of objects that live a while (the
    tokens of a whole MySQL file, the statements), and the collector's full passes, triggered by
    those allocations, scan every one of them: measured over the corpus, 5 full passes cost 0.12 s
    of MySQL's 1.1 s and 3 cost 0.07 s of PostgreSQL's 2.0 s. The trees a review drops (cycles) are
    collected meanwhile by passes over the young objects alone (`_YOUNG_LIMIT`)."""
    global _pauses, _resume
    with _PAUSE_LOCK:
        if _pauses == 0:
            _resume = gc.isenabled()
            gc.disable()
        _pauses += 1
    try:
        yield
    finally:
        with _PAUSE_LOCK:
            _pauses -= 1
            if _pauses == 0 and _resume:
                gc.enable()


# -- the pipeline ----------------------------------------------------------------------------


class _Collector:
    def __init__(self, path: str, policy: Policy, dialect: str):
        self.path = path
        self.policy = policy
        self.dialect = dialect
        self.findings: list[Finding] = []
        self.statements: list[Statement | None] = []  # each finding's statement, for the directives (_finish)
        self._severities = policy.severities(dialect)  # (shared by the policy's reviews: filled as asked)
        self._excerpts: dict[int, str] = {}  # id(statement) → its excerpt (the statements outlive the review)

    def show_as(self, stmt: Statement, written: Statement) -> None:
        """Show `stmt`'s findings with the excerpt of the statement as the file writes it (`written`
        may itself stand for another: its excerpt then)."""
        self._excerpts[id(stmt)] = self._excerpts.get(id(written)) or _excerpt(written.text)

    def add(self, rule_id: str, message: str, stmt: Statement | None, line: int | None = None,
            column: int | None = None, end_line: int | None = None) -> None:
        severity = self._severities.get(rule_id)
        if severity is None:
            severity = self._severities[rule_id] = self.policy.severity(rule_id, self.dialect)
        if severity == "disabled":
            return
        if rule_id.startswith("system."):  # (the messages that quote a parser, or the file)
            message = _bounded(message, stmt.text if stmt is not None else "")
        message = redact(message)
        column = column or (stmt.column if stmt and not line else 1)
        line = line or (stmt.line if stmt else 1)
        if stmt is not None:
            # A position from another lexer (sqlglot counts a lone CR as a line break) stays
            # within the statement it belongs to.
            line = min(max(line, stmt.line), stmt.end_line)
        end_line = max(end_line or (stmt.end_line if stmt else line), line)
        excerpt = ""
        if stmt is not None:
            known = self._excerpts.get(id(stmt))
            if known is None:
                known = self._excerpts[id(stmt)] = _excerpt(stmt.text)
            excerpt = known
        self.findings.append(Finding(rule_id, severity, message, self.path, line, column, end_line, excerpt))
        self.statements.append(stmt)


_NEAR = 'at or near "'
_NEAR_LIMIT = 60  # characters of the text quoted after "at or near"
_MESSAGE_LIMIT = 500
_QUOTED = re.compile(r'"([^"]+)"')
# A password given as a bare word (a syntax error, which the parser then quotes).
_SECRET_WORD = re.compile(r"\b(?:PASSWORD|IDENTIFIED(?:\s+WITH\s+\S+)?\s+BY)\s+([^\s;,)]+)", re.IGNORECASE)


def _bounded(message: str, text: str) -> str:
    """A parser's message as a finding shows it: what it quotes of a password in the statement
    masked (`at or near "'hunter2;"` names no keyword for `redact` to find), the text quoted after
    "at or near" cut short (after an unterminated string, PostgreSQL quotes the rest of the file:
    877 KB once), and its first line only."""
    if '"' in message and ("PASSWORD" in (upper := text.upper()) or "IDENTIFIED" in upper):
        literals = [m.group(2) for m in _SECRET.finditer(text)]  # (a part of one: 'hun'ter2' → "ter2")
        words = _SECRET_WORD.findall(text)
        message = _QUOTED.sub(lambda m: '"***"' if m.group(1) in words or any(m.group(1) in s for s in literals)
                              else m.group(0), message)
    near = message.find(_NEAR)
    if near >= 0:
        start = near + len(_NEAR)
        quoted = message[start:-1] if message.endswith('"') else message[start:]
        cut = quoted.splitlines()[0][:_NEAR_LIMIT] if quoted else quoted
        if cut != quoted:
            message = f'{message[:start]}{cut} …"'
    message = message.splitlines()[0] if message else message
    return message if len(message) <= _MESSAGE_LIMIT else message[:_MESSAGE_LIMIT] + " …"


# Every password form security.disallow-plaintext-password flags: PASSWORD '…' (also $$…$$ and
# $tag$…$tag$), IDENTIFIED [WITH plugin] BY '…', PASSWORD('…') (also in MariaDB's IDENTIFIED VIA|WITH
# plugin USING PASSWORD('…')), the statement SET PASSWORD [FOR user] = '…' (comments may follow SET),
# and MySQL's REPLACE '<current password>'. A literal is read with backslash escapes (MySQL, E'…')
# where that closes it, else as PostgreSQL reads '…': masking too much is harmless, too little leaks
# the rest of the password. A literal that never closes is masked to the end of the text (a syntax
# error, but the review still shows it), and so is what is glued to a literal's closing quote (a
# quote meant inside the password: 'hun'ter2').
_SECRET_LITERAL = (r"E?'(?:[^'\\]|''|\\.)*'|'(?:[^']|'')*'"
                   r'|"(?:[^"\\]|""|\\.)*"|"(?:[^"]|"")*"'
                   rf"|\$({DOLLAR_TAG})\$.*?\$\3\$"
                   rf"|E?'.*|\".*|\$(?:{DOLLAR_TAG})\$.*")
_SECRET = re.compile(
    r"(\b(?:PASSWORD|IDENTIFIED(?:\s+WITH\s+\S+)?\s+BY|REPLACE)\s+|\bPASSWORD\s*\(\s*"
    r"|\A\s*SET(?:\s|--[^\n]*|/\*.*?\*/|#[^\n]*)+PASSWORD\b[^=;]*=\s*)"
    rf"((?:{_SECRET_LITERAL})[^\s;,)]*)",
    re.IGNORECASE | re.DOTALL)


def redact(text: str) -> str:
    """Password literals masked: findings travel to logs, pull-request comments and the database."""
    # The case-insensitive pattern scans ~30x slower than upper() and two substring tests. Every text
    # it masks holds PASSWORD or IDENTIFIED as its case folding reads them: upper() makes `ſ` and `ı`
    # the S and I that the folding matches them with, and of the other letters outside ASCII that it
    # matches with one of those words' letters, only `İ` stays as it is (a test tries them all).
    upper = text.upper()
    if not text.isascii() and "İ" in upper:
        upper = upper.replace("İ", "I")
    if "PASSWORD" not in upper and "IDENTIFIED" not in upper:
        return text
    return _SECRET.sub(r"\1'***'", text)


def _excerpt(text: str, limit: int = 2000) -> str:
    text = redact(text)
    return text if len(text) <= limit else text[:limit] + " …"


def _review(path: str, data: bytes | str, dialect: str, policy: Policy) -> FileReview:
    if dialect not in DIALECTS:
        raise ValueError(f"unknown dialect {dialect!r}")
    out = _Collector(path, policy, dialect)
    text = _decode(data, out)
    # (MySQL: with each statement's tokens, read while splitting, where they stand for its own.)
    statements, accepted, read = split_for_review(text, dialect) if text.strip() else ([], [], [])
    if not statements:
        # (A file of comments alone is a release's no-op migration, which some tools write on purpose: it
        # can be kept so. A blank one a release refuses.)
        kept = " (or, to keep it as a placeholder on purpose, `-- sluice:ignore system.empty-file` in it)" \
            if text.strip() else ""
        out.add("system.empty-file", f"the file has no statements: delete it or add the migration{kept}",
                None, 1, 1, 1)
        return _finish(out, text, [], [], dialect, policy)

    bounded: frozenset[int] = frozenset()
    if dialect == "mysql":
        if "/*" in text:
            _executable_comments(statements, read, out)
        # (First in the upper-cased text, case-sensitively and without the leading \b, which keeps
        # the regex engine from skipping to its literal: whatever the pattern matches holds that once
        # upper-cased, and a search of a large file is 25 times faster so.)
        upper = text.upper()
        if "STATEMENT" in upper and _SET_STATEMENT_UPPER.search(upper) and _SET_STATEMENT_WORDS.search(text):
            bounded = _set_statement_for(statements, read, out)
    ctx = FileContext(path=path, dialect=dialect, statement_count=len(statements), statements=statements)
    if bounded:
        ctx.memo[BOUNDED_STATEMENTS] = bounded
    _run_directives(ctx, text)
    flats = ctx.flats = [flatten(s.text, dialect) for s in statements]
    norms = [f.upper() for f in flats]  # normalize(), from the flat text the rules read too
    _first_pass(ctx, norms, statements)
    rules = policy.rules_for(dialect)
    judge = _SyntaxJudge(dialect)
    for index, (statement, norm) in enumerate(zip(statements, norms, strict=True)):
        if _copy_data(statements, norms, index):
            continue  # the data rows of a psql `COPY … FROM stdin`, not a statement
        if statement.text.startswith("\\") or (
                dialect == "mysql" and norm.partition(" ")[0] in MYSQL_CLIENT_COMMANDS):
            kind = "mysql client command" if dialect == "mysql" else "psql meta-command"
            out.add("system.client-command", f"{kind} `{statement.text.split()[0]}` is a client "
                    "command: a server-side runner rejects it. Remove it (use the runner's own features)",
                    statement)
            continue
        # What PostgreSQL's parser accepted while splitting needs no second opinion.
        error = None if accepted[index] else judge.error(statement, norm)
        if error is None and dialect == "postgres" and norm.startswith(_ROUTINE_WORDS):
            error = judge.plpgsql_error(statement, norm)
        ast = None
        base = 0  # where the tree's token offsets count from, in the file
        if error is None and dialect == "mysql":
            tokens = read[index]
            in_file = tokens is not None
            if in_file:
                read[index] = None  # (the file's tokens go as the review moves on)
                base = statement.start
                ast = _parse(text, dialect, tokens)  # offsets in the file's text
            else:
                tokens = _tokenize(statement.text, dialect)
                ast = _parse(statement.text, dialect, tokens) if tokens is not None else None
            if (ast is None or type(ast) is exp.Command) and norm.startswith("ALTER ") and " EXISTS" in norm:
                retried = _without_action_if_exists(statement.text, dialect)
                if retried is not None:  # (its offsets are the statement's)
                    ast, base, tokens, in_file = retried, 0, None, False
            if isinstance(ast, _BARE_EXPRESSIONS) or _bare_operand(ast):  # (`None;`, `foo;`, `1;`: an expression)
                error = ("syntax error: this is an expression, not a statement, and MySQL refuses it: add the "
                         "SELECT, SET, DO or CALL it needs, or delete it", statement.line, statement.column)
            elif ast is None or type(ast) is exp.Command or _suspect(norm):
                # sqlglot is MySQL's only judge: what it cannot parse (or reads as an opaque
                # Command) may be valid, and what it parses may still have lost something on the
                # way (a trailing comma, an empty list item).
                error = _mysql_malformed(statement, norm, tokens, in_file=in_file)
                if error is None and ast is None:
                    out.add("system.parse-unsupported", "the SQL parser cannot read this statement (it may well be "
                            "valid): only the token-level rules checked it", statement)
        elif error is None:
            ast = _parse(statement.text, dialect)
            if ast is None and dialect == "postgres" and norm.startswith("CREATE"):
                if " ON ONLY " in norm:
                    ast = _without_on_only(statement.text, dialect)
                elif norm.startswith("CREATE TABLE") and "NOT NULL" in norm:
                    ast = _without_not_null_elements(statement.text, dialect)
        if error is not None:
            message, line, column = error
            out.add("system.syntax-error", message, statement, line, column)
        st = Stmt(index, statement, ast, norm, error is not None, {}, flats[index], dialect, base)
        for rule_obj, check, payload in rules.for_statement(ast, norm):  # _run, inlined
            try:
                hits = check(st, ctx, payload)
                if not hits:  # None, or an empty list (a generator is always true)
                    continue
                hits = list(hits)
            except Exception:
                logging.getLogger(__name__).exception("rule %s failed on %s", rule_obj.id, path)
                continue
            for hit in hits:
                if isinstance(hit, str):  # (no Hit built for it: a frozen dataclass is slow to make)
                    out.add(rule_obj.id, hit, statement)
                else:
                    out.add(rule_obj.id, hit.message, hit.statement or statement, hit.line, hit.column)
        space = norm.find(" ")
        for track in rules.trackers_for(norm if space < 0 else norm[:space]):
            try:
                track(st, ctx)
            except Exception:  # like a rule: a tracker's bug must not stop the review
                logging.getLogger(__name__).exception("tracker %s failed on %s", track.__name__, path)
        _learn(ctx, st)
        if ctx.kept_nodes:
            for node in ctx.kept_nodes:
                node.parent = None
            ctx.kept_nodes.clear()
        st.ast = None  # let the tree go now (memory flat with file size), and what was read from it
        st.memo.clear()
        if gc.get_count()[0] > _YOUNG_LIMIT:
            gc.collect(0)  # the collector is paused (_collector_paused): the trees dropped, in cycles
    for rule_obj in rules.at_end:
        _run(rule_obj, None, ctx, rules.payloads[rule_obj.id], out)
    return _finish(out, text, statements, norms, dialect, policy)


def _executable_comments(statements: list[Statement], read: list, out: _Collector) -> None:
    """MySQL runs what a `/*! … */` comment holds: the statements that have one are reviewed as the
    server runs them (model.mysql_executable), parsed from that text; findings still show them as
    written."""
    for index, statement in enumerate(statements):
        code = mysql_executable(statement.text)
        if code is not None:
            _review_as(code, index, statements, read, out)


def _review_as(code: str, index: int, statements: list[Statement], read: list, out: _Collector) -> None:
    """Review statement `index` as `code` (the same length and lines: positions hold), parsed from that
    text, its findings shown with the statement as the file writes it."""
    statement = statements[index]
    statements[index] = dataclasses.replace(statement, text=code)
    read[index] = None
    out.show_as(statements[index], statement)


_SET_STATEMENT_WORDS = re.compile(r"\bSET\s+STATEMENT\b", re.IGNORECASE)
_SET_STATEMENT_UPPER = re.compile(r"SET\s+STATEMENT\b")
# MariaDB's `SET STATEMENT var = value[, …] FOR <statement>`: the settings last for that statement only.
_SET_STATEMENT_FOR = re.compile(r"^\s*SET\s+STATEMENT\s+(?P<settings>.*?)\s+FOR\s+(?=\S)", re.IGNORECASE | re.DOTALL)
# A setting that bounds the statement's run time (not to 0, which is none). (lock_wait_timeout bounds only
# its wait for a lock: the statement timeout rule asks for more, as for a SET of it at the top.)
_BOUNDING_SETTING = re.compile(r"\bmax_statement_time\s*=\s*(?!0+(?:\.0*)?\b)", re.IGNORECASE)


def _set_statement_for(statements: list[Statement], read: list, out: _Collector) -> frozenset[int]:
    """MariaDB's `SET STATEMENT … FOR <statement>` is reviewed as the statement it runs (the prefix
    blanked: same positions), shown as written; returns the indexes of those whose settings bound
    their run time, which the statement timeout rule counts for them alone."""
    bounded = set()
    for index, statement in enumerate(statements):
        match = _SET_STATEMENT_FOR.match(statement.text)
        if match is None:
            continue
        end = match.end()
        _review_as(blank_out(statement.text[:end]) + statement.text[end:], index, statements, read, out)
        if _BOUNDING_SETTING.search(match.group("settings")):
            bounded.add(index)
    return frozenset(bounded)


# What sqlglot returns for a MySQL "statement" that is only an expression (a column name, a literal, a
# comparison, a function call …), which MySQL refuses (ERROR 1064); a query in parentheses is a Subquery.
_BARE_EXPRESSIONS = (exp.Condition, exp.Alias, exp.Tuple)


def _bare_operand(ast: Any) -> bool:
    """A UNION (INTERSECT, EXCEPT) one of whose operands sqlglot read as such an expression (`ALL (SELECT …)
    UNION …`), at any depth."""
    if not isinstance(ast, exp.SetOperation):
        return False
    stack: list[Any] = [ast]
    while stack:
        node = stack.pop()
        while isinstance(node, exp.Subquery) or (isinstance(node, exp.Paren) and isinstance(node.this, exp.Query)):
            node = node.this
        if isinstance(node, exp.SetOperation):
            stack.append(node.args.get("this"))
            stack.append(node.args.get("expression"))
        elif node is None or isinstance(node, _BARE_EXPRESSIONS):
            return True
    return False


# MariaDB's `MODIFY [COLUMN] IF EXISTS c`, `ADD INDEX IF NOT EXISTS i …` and the like, which sqlglot
# cannot read: the guard, blanked, leaves the statement the rules know (same positions).
_ACTION_IF_EXISTS = re.compile(r"\b(COLUMN|INDEX|KEY|CONSTRAINT|PARTITION|MODIFY|CHANGE|DROP|ADD)(\s+)"
                               r"(IF\s+(?:NOT\s+)?EXISTS)\b", re.IGNORECASE)


_ON_ONLY = re.compile(r"\bON\s+(ONLY)\b", re.I)
_PARENS_AND_COMMAS = re.compile(r"[(),]")


def _without_on_only(text: str, dialect: str) -> Any:
    """The tree of a PostgreSQL `CREATE INDEX … ON ONLY parent …` (pg_dump writes one for each index of a
    partitioned table), which sqlglot cannot read: parsed with ONLY blanked out, so that the tree rules
    see the index (what ONLY means is read from the text, by the lock rules). The same length: the
    tree's offsets are the statement's. None if that does not parse either."""
    match = _ON_ONLY.search(blank_comments_and_strings(text))
    if match is None:
        return None
    tree = _parse(text[:match.start(1)] + "    " + text[match.end(1):], dialect)
    return tree if isinstance(tree, exp.Create) else None


# PostgreSQL 18's table constraint `[CONSTRAINT c] NOT NULL col [NO INHERIT]`, a whole element of a CREATE
# TABLE's list (comments and strings blanked).
_NOT_NULL_ELEMENT = re.compile(r'\s*(?:CONSTRAINT\s+(?:"[^"]*"|[^\s",()]+)\s+)?NOT\s+NULL\s+("[^"]*"|[^\s",()]+)'
                               r"(?:\s+NO\s+INHERIT)?\s*", re.I)


def _without_not_null_elements(text: str, dialect: str) -> Any:
    """The tree of a CREATE TABLE that lists PostgreSQL 18's NOT NULL table constraints, which sqlglot
    30.30 cannot read (pglast, PostgreSQL 18's grammar, accepts them): parsed with those elements (and a
    comma each) blanked out, so that the tree rules see its columns. The same length: the tree's offsets
    are the statement's, and each such column is given the NOT NULL it names. None if that does not parse
    either."""
    code = blank_comments_and_strings(text)
    start = code.find("(")
    if start < 0:
        return None
    items: list[tuple[int, int]] = []  # the top-level elements: (start, end) in the text
    depth, begin = 0, start + 1
    for found in _PARENS_AND_COMMAS.finditer(code, start):  # (not every character: a body may be long)
        index, char = found.start(), found.group()
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth == 0:
                items.append((begin, index))
                break
        elif char == "," and depth == 1:
            items.append((begin, index))
            begin = index + 1
    cut = {k: match for k, (a, b) in enumerate(items) if (match := _NOT_NULL_ELEMENT.fullmatch(code, a, b))}
    if not cut or len(cut) == len(items):
        return None
    chars = list(text)
    for k in cut:
        a, b = items[k]
        # with the comma before it (or, for the first element, the one after it)
        a, b = (a - 1, b) if k > 0 else (a, b + 1)
        chars[a:b] = blank_out(text[a:b])
    tree = _parse("".join(chars), dialect)
    if not isinstance(tree, exp.Create) or not isinstance(tree.this, exp.Schema):
        return None
    # As PostgreSQL folds them: a quoted name as written, another in lower case.
    named = {name[1:-1].replace('""', '"') if name.startswith('"') else name.lower()
             for name in (match.group(1) for match in cut.values())}
    for column in tree.this.expressions:
        if isinstance(column, exp.ColumnDef) and plain_name(column) in named:
            column.append("constraints", exp.ColumnConstraint(kind=exp.NotNullColumnConstraint()))
    return tree


def _without_action_if_exists(text: str, dialect: str) -> Any:
    """The tree of a MariaDB ALTER TABLE read without its actions' IF [NOT] EXISTS, or None."""
    code, found = _ACTION_IF_EXISTS.subn(lambda m: m.group(1) + m.group(2) + blank_out(m.group(3)), text)
    if not found:
        return None
    tree = _parse(code, dialect)
    return tree if tree is not None and type(tree) is not exp.Command else None


def _run(rule_obj: Rule, st: Stmt | None, ctx: FileContext, payload: dict, out: _Collector) -> None:
    try:
        hits = rule_obj.check(st, ctx, payload)  # type: ignore[misc]
        hits = list(hits) if hits else ()
    except Exception:  # a rule's bug must not stop the review; the statement is still checked by the others
        logging.getLogger(__name__).exception("rule %s failed on %s", rule_obj.id, ctx.path)
        return
    for hit in hits:
        if isinstance(hit, str):
            hit = Hit(hit)
        stmt = hit.statement or (st.statement if st else None)
        out.add(rule_obj.id, hit.message, stmt, hit.line, hit.column)


def _decode(data: bytes | str, out: _Collector) -> str:
    text, problem = decode(data)
    if problem:
        message, line, column = problem
        out.add("system.encoding-error", message, None, line, column, line)
    return text


def decode(data: bytes | str) -> tuple[str, tuple[str, int, int] | None]:
    """The file's text as the review reads it, and what is wrong with its encoding (message, line,
    column) if anything. A file whose only line breaks are lone CRs (old Mac) gets LFs: the splitter
    and the positions count lines by LF. The review does not run the text, and an LF for a CR changes
    no statement (PostgreSQL ends a `--` comment at either; MySQL and SQLite at LF only, so there the
    review may read a little more code, never less)."""
    problem = None  # the message, and the index of the bad character in the text
    if isinstance(data, str):
        text = data
    elif data.startswith((b"\xff\xfe", b"\xfe\xff")):
        problem = ("the file is UTF-16 encoded: re-save it as UTF-8", 0)
        text = data.decode("utf-16", errors="replace")
    else:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            problem = (f"byte 0x{data[exc.start]:02x} at offset {exc.start} is not valid UTF-8: re-save the file "
                       "as UTF-8", len(data[:exc.start].decode("utf-8")))  # (valid up to the bad byte)
            text = data.decode("utf-8", errors="replace")
        else:
            nul = data.find(b"\x00")
            if nul >= 0:
                problem = (f"NUL byte at offset {nul}: re-save the file as UTF-8 text", text.index("\x00"))
        text = text.replace("\x00", " ")
    if "\r" in text and "\n" not in text:
        text = text.replace("\r", "\n")
    bom = text.startswith("\ufeff")
    if bom:
        text = text[1:]
    if problem is None:
        return text, None
    message, index = problem  # located in the text as the review counts it: characters, no BOM
    index = max(0, index - bom)
    return text, (message, text.count("\n", 0, index) + 1, index - text.rfind("\n", 0, index))


def _parse(text: str, dialect: str, tokens: list | None = None) -> Any:
    try:
        trees = sqlglot_parse(text, dialect) if tokens is None else sqlglot_parse_tokens(tokens, text, dialect)
    except Exception:  # ParseError, TokenError, and TypeError from the compiled build
        return None
    trees = [t for t in trees if t is not None]
    return trees[0] if len(trees) == 1 else None


class _SyntaxJudge:
    """The engine's own grammar decides where it can: PostgreSQL (libpg_query through pglast)
    and SQLite (preparing the statement on an empty in-memory database). MySQL has none: sqlglot
    decides there, leniently (see _mysql_malformed)."""

    def __init__(self, dialect: str):
        self.dialect = dialect
        self._sqlite: sqlite3.Connection | None = None

    def plpgsql_error(self, statement: Statement, norm: str) -> tuple[str, int, int] | None:
        """A PL/pgSQL body that PostgreSQL's own PL/pgSQL parser rejects: CREATE FUNCTION checks it
        (check_function_bodies is on by default) and fails, and a DO block fails when it runs. Its
        statements are not linted (§0 of the catalogue): only whether it can be created at all."""
        if not _is_plpgsql(statement.text, norm):
            return None
        import pglast

        try:
            pglast.parser.parse_plpgsql_json(statement.text)
            return None
        except pglast.parser.ParseError as exc:  # (no position: the statement's start)
            message = exc.args[0] if exc.args else "syntax error"
            if not message.startswith(_PLPGSQL_CERTAIN):
                return None  # (an answer that needs the catalog, which libpg_query only stubs)
            return (f"PL/pgSQL: {message} (PostgreSQL rejects the body when the statement runs)",
                    statement.line, statement.column)
        except Exception:
            return None

    def error(self, statement: Statement, norm: str) -> tuple[str, int, int] | None:
        if self.dialect == "postgres":
            import pglast

            try:
                # Statement boundaries by the real parser, no tree built: half the time of the
                # JSON form (same verdicts on the corpus's 75,000 statements), and about 40x
                # faster than pglast's Python tree. On an error, the JSON form gives the message
                # and position.
                pglast.parser.split(statement.text)
                return None
            except pglast.parser.ParseError:
                pass
            except Exception:
                return None
            try:
                pglast.parser.parse_sql_json(statement.text)
                return None
            except pglast.parser.ParseError as exc:
                message = exc.args[0] if exc.args else "syntax error"
                # (No position: "syntax error at end of input", which is where it is.)
                index = exc.args[1] if len(exc.args) > 1 and isinstance(exc.args[1], int) else len(statement.text)
                return (message,) + _position(statement, index)
            except Exception:
                return None
        if self.dialect == "sqlite":
            if self._sqlite is None:
                self._sqlite = sqlite3.connect(":memory:")
            connection = self._sqlite
            # EXPLAIN prepares without running (an EXPLAIN [QUERY PLAN] statement is one already).
            explained = norm == "EXPLAIN" or norm.startswith("EXPLAIN ")
            sql = statement.text if explained else "EXPLAIN " + statement.text
            stubs: list[str] = []
            try:
                return _sqlite_error(connection, statement, sql, stubs)
            finally:
                # The stubs go with the statement: a table left behind would make a later CREATE TABLE
                # of that name fail before its syntax is read ("already exists").
                for stub in stubs:
                    with contextlib.suppress(sqlite3.Error):
                        connection.execute(f"DROP TABLE IF EXISTS {stub}")
        return None


def _sqlite_error(connection: sqlite3.Connection, statement: Statement, sql: str,
                  stubs: list[str]) -> tuple[str, int, int] | None:
    """SQLite looks up the table of ALTER TABLE, CREATE TRIGGER … before it reads the rest: on
    "no such table", a stub table of that name (added to `stubs`) lets it read on, a few times."""
    for _ in range(_SQLITE_STUB_ROUNDS + 1):
        try:
            connection.execute(sql)
        except sqlite3.Warning:
            return None  # more than one statement: the splitter's business, not a syntax error
        except sqlite3.Error as exc:
            message = str(exc)
            if "syntax error" in message or "incomplete input" in message or "unrecognized token" in message:
                index = _sqlite_error_index(connection, statement.text, sql, message)
                return (f"syntax error: {message}",) + _position(statement, index)
            if not message.startswith(_NO_SUCH_TABLE) or len(stubs) >= _SQLITE_STUB_ROUNDS:
                return None
            stub = _sqlite_stub_name(message[len(_NO_SUCH_TABLE):])
            try:
                connection.execute(f"CREATE TABLE {stub} (_stub)")
            except sqlite3.Error:
                return None
            stubs.append(stub)
            continue
        except Exception:
            return None
        return None
    return None


_NO_SUCH_TABLE = "no such table: "
_SQLITE_STUB_ROUNDS = 4  # stub tables per statement (a trigger's body may name a few)
# SQLite's messages name the token it stopped at, not its offset (Python's sqlite3 does not give it).
_SQLITE_NEAR = re.compile(r'(?:near|unrecognized token:) "(.*)"(?:: syntax error)?', re.DOTALL)


def _sqlite_error_index(connection: sqlite3.Connection, text: str, sql: str, message: str) -> int:
    """Where in the statement's `text` SQLite stopped (`sql` is the text it prepared: `text`, or
    EXPLAIN before it). At the end for "incomplete input"; else at the token the message names: of
    its places in the text, the first whose prefix, prepared alone, fails with the same message (a
    prefix that stops before the error is only incomplete; one that holds it fails as the whole
    statement does, so a binary search over those places finds it). The statement's start when
    none does."""
    if message == "incomplete input":
        return len(text.rstrip())
    match = _SQLITE_NEAR.fullmatch(message)
    if match is None or not match.group(1):
        return 0
    token, shift = match.group(1), len(sql) - len(text)
    places: list[int] = []  # where the token stands in the text as a whole token (not inside a longer word)
    start = text.find(token)
    while start >= 0 and len(places) < _SQLITE_PLACES:
        end = start + len(token)
        if not (_sqlite_word(token[0]) and start and _sqlite_word(text[start - 1])) and \
                not (_sqlite_word(token[-1]) and end < len(text) and _sqlite_word(text[end])):
            places.append(start)
        start = text.find(token, start + 1)

    def fails_so(place: int) -> bool:
        try:
            connection.execute(sql[: shift + place + len(token)])
        except sqlite3.Error as exc:
            return str(exc) == message
        except Exception:  # (more than one statement: not this error)
            return False
        return False

    low, high = 0, len(places)  # the first place whose prefix fails so is in [low, high)
    while low < high:
        middle = (low + high) // 2
        if fails_so(places[middle]):
            high = middle
        else:
            low = middle + 1
    return places[low] if low < len(places) else 0


_SQLITE_PLACES = 10_000  # places of the named token tried at most (a binary search: a dozen prepares)


def _sqlite_word(char: str) -> bool:
    """A character SQLite's tokenizer reads as part of a word (an identifier or keyword)."""
    return char.isalnum() or char in "_$" or ord(char) > 0x7F


def _sqlite_stub_name(name: str) -> str:
    """The quoted name of a stub for the table SQLite's message names (`main.k`, `temp.k` or `k`)."""
    schema, dot, table = name.partition(".")
    if dot and table and schema.lower() in ("main", "temp"):
        return f"{schema}.{_sqlite_quoted(table)}"
    return _sqlite_quoted(name)


def _sqlite_quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


# What may hold a PL/pgSQL body (a prefix test first: st.norm of every other statement starts otherwise).
_ROUTINE_WORDS = ("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", "CREATE PROCEDURE", "CREATE OR REPLACE PROCEDURE",
                  "DO ")
_QUOTED_PLPGSQL = re.compile(r"\bLANGUAGE\s+'plpgsql'", re.IGNORECASE)
# The PL/pgSQL parser's verdicts that need nothing from the catalog (libpg_query stubs the catalog:
# a type in another schema is "Not implemented", an unknown composite a "pseudo-type"): grammar and
# block structure only. Each was checked against PostgreSQL 15, which rejects the CREATE FUNCTION.
_PLPGSQL_CERTAIN = ("syntax error", "missing expression", "unterminated", "RETURN cannot have a parameter",
                    "CONTINUE cannot be used outside a loop", "EXIT cannot be used outside a loop",
                    "end label", "there is no label", "block label", "too many parameters specified for RAISE",
                    "too few parameters specified for RAISE")


def _is_plpgsql(text: str, norm: str) -> bool:
    """Whether the routine or DO block is in PL/pgSQL (a DO block's default language)."""
    if "LANGUAGE PLPGSQL" in norm or "LANGUAGE \"PLPGSQL\"" in norm:
        return True
    if "LANGUAGE" not in norm:
        return norm.startswith("DO ")
    return "LANGUAGE ''" in norm and _QUOTED_PLPGSQL.search(text) is not None


def _position(statement: Statement, index: int) -> tuple[int, int]:
    text = statement.text[: max(0, index)]
    line = statement.line + text.count("\n")
    column = (len(text) - text.rfind("\n")) if "\n" in text else statement.column + len(text)
    return line, column


_SUSPECT_END = re.compile(r"\b(ADD( COLUMN)?|DROP( COLUMN)?|MODIFY( COLUMN)?|SET|VALUES|WHERE)$")
_CUT_SHORT = re.compile(r"\b(ADD( COLUMN)?|DROP( COLUMN)?|MODIFY( COLUMN)?|ALTER( COLUMN)?|SET|VALUES|WHERE|FROM|BY|ON)$")
# A trailing comma, and an empty list item (`(1,,2)`, `(,1)`): sqlglot drops both.
_SUSPECT_PAIRS = (",)", ", )", ",,", ", ,", "(,", "( ,")
_L_PAREN, _R_PAREN, _COMMA = TokenType.L_PAREN, TokenType.R_PAREN, TokenType.COMMA
_TAIL = 16  # longer than the longest word group of the two patterns above ("MODIFY COLUMN")


def _suspect(norm: str) -> bool:
    """A trailing comma before ')', an empty list item or a clause cut short: what sqlglot may parse
    by dropping it. (The end-anchored pattern is searched from near the end only: `pos` keeps `\\b` exact.)"""
    return (any(pair in norm for pair in _SUSPECT_PAIRS)
            or _SUSPECT_END.search(norm, max(0, len(norm) - _TAIL)) is not None)


def _tokenize(text: str, dialect: str) -> list | None:
    """sqlglot's tokens of the statement (None when it cannot be read): kept for the MySQL checks
    below, which would otherwise tokenize it again."""
    try:
        return sqlglot_tokenize(text, dialect)
    except Exception:  # TokenError, and TypeError from the compiled build
        return None


def _mysql_malformed(statement: Statement, norm: str, tokens: list | None = None, *,
                     in_file: bool = False) -> tuple[str, int, int] | None:
    """For MySQL, where sqlglot is the only parser: errors that are certain, not mere gaps in
    sqlglot's grammar. None means 'may well be valid'. `tokens`: the statement's, when already read
    (`in_file`: read with the file, their lines and columns are the file's)."""
    found = _mysql_malformed_at(statement.text, norm, tokens)
    if found is None:
        return None
    message, token = found
    if token is None:  # the statement as a whole
        return message, statement.line, statement.column
    if in_file:
        return message, token.line, token.col
    if token.line == 1:
        return message, statement.line, statement.column + token.col - 1
    return message, statement.line + token.line - 1, token.col


# What MySQL's lexer reads whole (strings, `names`, comments), or where one opens and never closes.
_MYSQL_OPENED = re.compile(rf"{MYSQL_STRING}|{MYSQL_NAME}|--(?=\s|$)[^\n]*|#[^\n]*|/\*.*?\*/|(?P<open>/\*|['\"`])",
                           re.DOTALL)
_OPENED_WHAT = {"/*": "a comment", "'": "a string", '"': "a string", "`": "a quoted name"}


class _At(NamedTuple):
    line: int  # in the statement's text, 1-based
    col: int


def _mysql_unterminated(text: str) -> tuple[str, _At] | None:
    """The comment, string or quoted name that never closes, if that is what stops MySQL's lexer:
    the server refuses the statement (only the mysql client drops an unclosed comment, and with it
    every statement after it)."""
    for match in _MYSQL_OPENED.finditer(text):
        opener = match.group("open")
        if opener is not None:
            start = match.start()
            line = text.count("\n", 0, start) + 1
            where = _At(line, start - text.rfind("\n", 0, start))
            closer = "*/" if opener == "/*" else opener
            why = ("the mysql client silently skips the rest of the file, the server refuses it" if opener == "/*"
                   else "everything after it is read as part of it, and the server refuses the statement")
            return f"syntax error: {_OPENED_WHAT[opener]} opened here ({opener}) is never closed with {closer}: {why}", where
    return None


def _mysql_malformed_at(text: str, norm: str, tokens: list | None = None) -> tuple[str, Any] | None:
    """The error and the token it is at (None: the statement as a whole)."""
    from sqlglot.errors import TokenError

    if norm.startswith("--"):  # (sqlglot reads any `--` as a comment: MySQL only `-- ` with a blank after it)
        return ("syntax error: `--` starts a comment in MySQL only when a blank follows it, so the server reads "
                "this as a statement and refuses it: write `-- …` if it is meant as a comment"), None

    try:
        tokens = tokens if tokens is not None else sqlglot_tokenize(text, "mysql")
    except TokenError as exc:
        return _mysql_unterminated(text) or (f"syntax error: {exc}", None)
    except Exception:
        return "syntax error: the statement cannot be read (unterminated string, comment or bad bytes)", None
    # By token type, not text: a string token's text is its content, and `','` or `')'` is no comma
    # or parenthesis (MySQL's sys schema has both).
    depth = 0
    for token in tokens:
        kind = token.token_type
        if kind is _L_PAREN:
            depth += 1
        elif kind is _R_PAREN:
            depth -= 1
            if depth < 0:
                return "syntax error: unbalanced parentheses (a ')' without its '(')", token
    if depth > 0:
        return "syntax error: unbalanced parentheses (a '(' is never closed)", None
    # (SHOW CHARACTER SET is a whole statement: its SET is no clause cut short.)
    if _CUT_SHORT.search(norm, max(0, len(norm) - _TAIL)) and norm != "SHOW CHARACTER SET":
        return (f"syntax error: the statement ends right after `{norm.rsplit(' ', 1)[-1]}`: something is "
                "missing"), None
    for previous, token in zip(tokens, tokens[1:], strict=False):
        if token.token_type is _COMMA:
            if previous.token_type is _COMMA:
                return "syntax error: two commas in a row (an empty list item)", token
            if previous.token_type is _L_PAREN:
                return "syntax error: a comma right after '(' (an empty list item)", token
        elif previous.token_type is _COMMA and token.token_type is _R_PAREN:
            return "syntax error: a trailing comma before ')'", token
    return None


# -- the file model ----------------------------------------------------------------------------

# A table, or a materialized view (new too: nothing reads it yet), and the name it creates (also
# MariaDB's CREATE OR REPLACE TABLE: a new, empty table).
_CREATE_TABLE = re.compile(r"^CREATE (?:OR REPLACE )?(?:(?:GLOBAL |LOCAL )?(?:TEMPORARY |TEMP )|UNLOGGED |FOREIGN )?"
                           r"(TABLE|MATERIALIZED VIEW) (?:IF NOT EXISTS )?([^\s(]+)")
# PostgreSQL's `CREATE SCHEMA s [AUTHORIZATION r] CREATE TABLE t … CREATE TABLE u …` (or `CREATE SCHEMA
# AUTHORIZATION r …`, whose schema is named after the role): its elements' tables are created in it.
_CREATE_SCHEMA = re.compile(r"^CREATE SCHEMA (?:AUTHORIZATION (\S+)|(\S+)(?: AUTHORIZATION \S+)?) CREATE ")
_SCHEMA_ELEMENT_TABLE = re.compile(r"\bCREATE (?:UNLOGGED )?TABLE ([^\s(]+)")


def _created_tables(norm: str, dialect: str) -> list[tuple[str, str]]:
    """(TABLE or MATERIALIZED VIEW, name) of what the statement creates that the file model keeps."""
    if match := _CREATE_TABLE.match(norm):
        return [(match.group(1), match.group(2))]
    if dialect == "postgres" and norm.startswith("CREATE SCHEMA ") and (match := _CREATE_SCHEMA.match(norm)):
        schema = match.group(1) or match.group(2)
        return [("TABLE", name if "." in name else f"{schema}.{name}")
                for name in _SCHEMA_ELEMENT_TABLE.findall(norm, match.end() - len("CREATE "))]
    return []


# `COMMIT AND CHAIN` (PostgreSQL 12+, MySQL) begins the next transaction at once.
_AND_CHAIN = re.compile(r"\bAND CHAIN\b")
# MySQL commits the open transaction before (and after) each of these: the file's own BEGIN ends there.
# (The first words of the statements after which the runner's commits_implicitly may say yes: a prefix
# test before the runner's own reading.)
_MYSQL_DDL_WORDS = ("CREATE", "ALTER", "DROP", "RENAME", "TRUNCATE", "LOCK", "GRANT", "REVOKE")


def _commits_implicitly(text: str) -> bool:
    """MySQL commits the open transaction before this statement: the runner's reading, so that the
    review and the runner agree on where a file's BEGIN ends."""
    from releases.runner.adapters.base import commits_implicitly

    return commits_implicitly(text)


_TX_END = re.compile(r"^(COMMIT|END|ROLLBACK|ABORT)\b(?!( TRANSACTION| WORK)? TO\b)")
_PREPARE_TRANSACTION = re.compile(r"^PREPARE TRANSACTION\b")
_SAVEPOINT = re.compile(r"^SAVEPOINT (\S+)$")
_RELEASE = re.compile(r"^RELEASE (?:SAVEPOINT )?(\S+)$")
_LOCK_WAIT_TIMEOUT = re.compile(r"\bLOCK_WAIT_TIMEOUT\b")
# A timeout assigned by SET (PostgreSQL's one, or each of MySQL's list): scope, name, value as
# st.norm has it ('' for any string literal).
_TIMEOUT_ASSIGNMENT = re.compile(
    r"(?:^SET |, ?)(LOCAL |SESSION |GLOBAL |PERSIST |@@(?:SESSION\.|LOCAL\.|GLOBAL\.)?)?"
    r"(LOCK_TIMEOUT|STATEMENT_TIMEOUT|MAX_EXECUTION_TIME|MAX_STATEMENT_TIME) ?(?:=|:=|TO\b) ?([^ ,]*)")
_RESET_TIMEOUT = {"RESET ALL": ("LOCK", "STATEMENT"), "RESET LOCK_TIMEOUT": ("LOCK",),
                  "RESET STATEMENT_TIMEOUT": ("STATEMENT",)}
_FIRST_LITERAL = re.compile(r"--[^\n]*|/\*.*?\*/|[Ee]?'((?:[^']|'')*)'", re.DOTALL)
_ZERO = re.compile(r"\s*0+(?:\.0*)?\s*[A-Za-z]*\s*")  # 0, 0.0, '0ms', '0 s': a timeout of zero disables it
_ADD_CONSTRAINT = re.compile(r"ADD CONSTRAINT (\S+)")
_DROP_NOT_NULL = re.compile(r"ALTER (?:COLUMN )?(\S+) DROP NOT NULL")
_ALTER_TABLE = re.compile(r"^ALTER TABLE (?:IF EXISTS )?(?:ONLY )?([^\s(]+)")


def _follow_renames(model: FileContext, norm: str, dialect: str, dropped: set[str]) -> None:
    """A table created in the file stays new under the name it is renamed to (an empty table is no busier
    for its new name); not when it takes the name of an existing table the file dropped: a rebuild's copy
    (CREATE new_t, INSERT … SELECT FROM t, DROP TABLE t, RENAME new_t TO t) holds t's rows."""
    for old, new in renamed_tables(norm, dialect):
        if model.is_new(old) and table_key(new) not in dropped:
            model.created(new)


_DROP_TABLES = re.compile(r"^DROP TABLE (?:IF EXISTS )?([^;]+?)(?: CASCADE| RESTRICT)?$")


def _dropped_tables(norm: str) -> list[str]:
    """The tables (table_key) a DROP TABLE names."""
    match = _DROP_TABLES.match(norm)
    return [table_key(name.strip()) for name in match.group(1).split(",")] if match else []


def _copy_data(statements: Sequence[Statement], norms: Sequence[str], index: int) -> bool:
    """Whether the statement is the data of the psql `COPY … FROM stdin` before it."""
    return index > 0 and statements[index].text.endswith("\\.") and _COPY_FROM_STDIN.match(norms[index - 1]) is not None


_SETTINGS = ("SET", "RESET")


_FIRST_CODE_LINE = re.compile(r"^[ \t\f\v]*+(?!--)\S", re.MULTILINE)  # the end of the leading comment block


def _run_directives(ctx: FileContext, text: str) -> None:
    """What the runner will set for the whole file from its leading comment block, read by the
    loader itself (releases/loader.py): `-- sluice:lock-timeout 5s` and `statement-timeout` are
    timeouts set before its first statement, `-- sluice:transaction off` runs it in autocommit. A file
    whose directives the loader refuses counts as having none: the check lists the problem."""
    code = _FIRST_CODE_LINE.search(text)
    if "sluice" not in (text[: code.start()] if code else text).lower():
        return  # (the usual file: no directive in its leading block, and no need to read it whole)
    from releases.loader import FileProblem, parse_directives

    try:
        directives = parse_directives(ctx.path, text)
    except FileProblem:
        return
    ctx.transaction_off = not directives.transaction
    if directives.lock_timeout_ms is not None:
        ctx.directive_timeouts.add("LOCK")
    if directives.statement_timeout_ms is not None:
        ctx.directive_timeouts.add("STATEMENT")
    _timeout_flags(ctx)


def _first_pass(ctx: FileContext, norms: Sequence[str], statements: Sequence[Statement]) -> None:
    def setting(index: int) -> bool:  # a SET/RESET, or what no rule sees (psql commands, COPY data)
        return (starts_with_words(norms[index], _SETTINGS) or statements[index].text.startswith("\\")
                or _copy_data(statements, norms, index))

    settings = 0  # the leading settings
    while settings < len(norms) and setting(settings):
        settings += 1
    ctx.settings_before = settings
    after = len(norms)  # and the trailing ones
    while after > settings and setting(after - 1):
        after -= 1
    ctx.settings_after = after
    created = FileContext(path=ctx.path, dialect=ctx.dialect)  # (its is_new: as the file model compares)
    dropped: set[str] = set()  # the tables dropped so far (table_key)
    commit_seen_at = -1
    for index, norm in enumerate(norms):
        # (The keyword, not a name that holds it: `merge_chunks_concurrently(…)`; REFRESH … CONCURRENTLY
        # runs in a transaction.)
        if "CONCURRENTLY" in norm and not norm.startswith("REFRESH") and CONCURRENTLY.search(norm):
            ctx.has_concurrently = True
        if norm.startswith(("COMMIT", "END")) or (norm.startswith("PREPARE TRANSACTION") and ctx.dialect == "postgres"):
            ctx.commits.append(index)  # (PREPARE TRANSACTION ends the transaction too)
            if index < len(norms) - 1:
                commit_seen_at = index
        # (A prefix test before each pattern: most statements are neither.)
        if norm.startswith("CREATE ") and (made := _created_tables(norm, ctx.dialect)):
            for _, name in made:
                created.created(name)
        elif norm.startswith("ALTER ") and (match := _ALTER_TABLE.match(norm)):
            if not created.is_new(match.group(1)):
                ctx.alters_existing_tables = True
            elif " RENAME " in norm:
                _follow_renames(created, norm, ctx.dialect, dropped)
        elif norm.startswith("RENAME ") and ctx.dialect == "mysql":
            _follow_renames(created, norm, ctx.dialect, dropped)
        elif norm.startswith("DROP TABLE "):
            dropped.update(_dropped_tables(norm))
    ctx.has_mid_file_commit = commit_seen_at >= 0


def _learn(ctx: FileContext, st: Stmt) -> None:
    """Update the file model with what the statement did (after the rules saw it)."""
    norm = st.norm
    # Each pattern is anchored at the first word: a prefix test picks the few that can match.
    if norm.startswith("CREATE "):
        if match := _CREATE_TABLE.match(norm):
            ctx.created(match.group(2))
            if match.group(1) == "TABLE":
                _learn_columns(ctx, st)
        elif norm.startswith("CREATE SCHEMA ") and ctx.dialect == "postgres":
            for _, name in _created_tables(norm, ctx.dialect):
                ctx.created(name)
    elif norm.startswith("ALTER "):
        if _ALTER_TABLE.match(norm):
            _learn_columns(ctx, st)
            if " RENAME " in norm:
                _follow_renames(ctx, norm, ctx.dialect, ctx.dropped_tables)
    elif norm.startswith("RENAME ") and ctx.dialect == "mysql":
        _follow_renames(ctx, norm, ctx.dialect, ctx.dropped_tables)
    elif norm.startswith("DROP TABLE "):
        ctx.dropped_tables.update(_dropped_tables(norm))
    elif norm.startswith(("BEGIN", "START")):
        if TX_BEGIN.match(norm):
            ctx.in_transaction = True
            ctx.implicit_commit_line = 0
            ctx.transaction_began_line = st.line
            ctx.not_valid_in_transaction.clear()
    elif norm.startswith(("COMMIT", "END", "ROLLBACK", "ABORT", "PREPARE")):
        # (PostgreSQL's PREPARE TRANSACTION ends the session's transaction as a COMMIT does: what follows
        # runs in a new one, while the prepared one waits for COMMIT/ROLLBACK PREPARED.)
        if _TX_END.match(norm) or (ctx.dialect == "postgres" and _PREPARE_TRANSACTION.match(norm)):
            ctx.in_transaction = bool(_AND_CHAIN.search(norm)) and "NO CHAIN" not in norm
            ctx.transaction_began_line = st.line
            ctx.implicit_commit_line = 0
            ctx.not_valid_in_transaction.clear()
            ctx.savepoints.clear()
            if ctx.local_timeouts:  # a SET LOCAL ends with its transaction
                ctx.local_timeouts.clear()
                _timeout_flags(ctx)
    elif norm.startswith(("SET", "RESET")):
        _learn_timeouts(ctx, st)
    elif norm.startswith(("SAVEPOINT", "RELEASE")) and ctx.dialect == "sqlite":
        _learn_savepoint(ctx, st)
    if ctx.in_transaction and ctx.dialect == "mysql" and norm.startswith(_MYSQL_DDL_WORDS) \
            and _commits_implicitly(st.text):
        ctx.in_transaction = False  # committed implicitly: what follows autocommits
        ctx.implicit_commit_line = st.line
        ctx.not_valid_in_transaction.clear()
    if "LOCK_WAIT_TIMEOUT" in norm and _LOCK_WAIT_TIMEOUT.search(norm):
        ctx.session_timeouts.add("LOCK")
        _timeout_flags(ctx)
    if " NOT VALID" in norm:
        for name in _ADD_CONSTRAINT.findall(norm):
            ctx.not_valid_in_transaction.add(name.strip('"`').lower())


def _learn_timeouts(ctx: FileContext, st: Stmt) -> None:
    """A SET or RESET of lock_timeout / statement_timeout (MySQL: max_execution_time, MariaDB:
    max_statement_time). Zero and DEFAULT disable a timeout; PostgreSQL's SET LOCAL in the file's
    own transaction lasts until it ends (MySQL's LOCAL is SESSION)."""
    norm = st.norm
    if norm.startswith("RESET"):
        for name in _RESET_TIMEOUT.get(norm, ()):
            ctx.session_timeouts.discard(name)
            ctx.local_timeouts.pop(name, None)
    elif "_TIME" in norm and not norm.startswith("SET STATEMENT "):  # (MariaDB's SET STATEMENT … FOR x: x alone)
        for scope, setting, value in _TIMEOUT_ASSIGNMENT.findall(norm):
            name = "LOCK" if setting == "LOCK_TIMEOUT" else "STATEMENT"
            on = _timeout_on(value, st.text)
            if scope == "LOCAL " and ctx.in_transaction and ctx.dialect == "postgres":
                ctx.local_timeouts[name] = on
                continue
            if on:
                ctx.session_timeouts.add(name)
            else:
                ctx.session_timeouts.discard(name)
            ctx.local_timeouts.pop(name, None)  # (a session-wide SET replaces a SET LOCAL's value too)
    else:
        return  # (most SETs: search_path, client_encoding …)
    _timeout_flags(ctx)


def _timeout_on(value: str, text: str) -> bool:
    """Whether assigning the value (as st.norm has it) sets a timeout."""
    if value == "''":  # a string literal: read it in the statement's text (a timeout's SET holds one)
        value = next((m.group(1) for m in _FIRST_LITERAL.finditer(text) if m.group(1) is not None), "")
    return value != "DEFAULT" and not _ZERO.fullmatch(value)


def _timeout_flags(ctx: FileContext) -> None:
    ctx.lock_timeout_set = _timeout_set(ctx, "LOCK")
    ctx.statement_timeout_set = _timeout_set(ctx, "STATEMENT")


def _timeout_set(ctx: FileContext, name: str) -> bool:
    return name in ctx.directive_timeouts or ctx.local_timeouts.get(name, name in ctx.session_timeouts)


def _learn_savepoint(ctx: FileContext, st: Stmt) -> None:
    """SQLite: a SAVEPOINT outside a transaction begins one, which releasing it ends."""
    if ctx.in_transaction:
        return
    if match := _SAVEPOINT.match(st.norm):
        ctx.savepoints.append((match.group(1).strip('"`[]'), st.line))
    elif (match := _RELEASE.match(st.norm)) and ctx.savepoints:
        name = match.group(1).strip('"`[]')
        names = [n for n, _ in ctx.savepoints]
        if name in names:  # released with every savepoint opened after it
            del ctx.savepoints[names.index(name):]


def _learn_columns(ctx: FileContext, st: Stmt) -> None:
    if st.ast is None:
        return
    columns = _column_defs(st.ast)
    retyped = " TYPE " in st.norm and isinstance(st.ast, exp.Alter)  # ALTER COLUMN x [SET DATA] TYPE t
    if not columns and not retyped and " DROP NOT NULL" not in st.norm:
        return  # (most ALTERs: ADD CONSTRAINT, RENAME …; no table name to read)
    table_node = _first_table(st.ast)
    table = plain_name(table_node) if table_node is not None else ""
    dialect = ctx.dialect
    for column in columns:
        key = (table, plain_name(column))
        args = column.args
        kind = args.get("kind")
        if kind is not None:
            # Cut from its parent: the column model must not keep the statement's tree alive (the
            # rules are done with it). Cheaper than kind.pop().
            kind.parent = None
            ctx.column_types[key] = (kind, dialect)
        if _not_null(args.get("constraints")):
            ctx.not_null_columns.add(key)
        else:  # (re)defined without NOT NULL, e.g. MySQL MODIFY
            ctx.not_null_columns.discard(key)
    if retyped:
        for action in st.ast.args.get("actions") or ():
            if isinstance(action, exp.AlterColumn) and isinstance(dtype := action.args.get("dtype"), exp.DataType):
                dtype.parent = None  # (as above)
                ctx.column_types[(table, name_of(action))] = (dtype, dialect)
    if " DROP NOT NULL" in st.norm:
        for column in _DROP_NOT_NULL.findall(st.norm):
            ctx.not_null_columns.discard((table, column.strip('"`').lower()))


def _first_table(ast: Any) -> Any:
    """`ast.find(exp.Table)` (breadth first), without a walk for the usual trees: the table of an
    ALTER TABLE or CREATE TABLE is its `this`, or the `this` of its column list (a Schema) when no
    other child of the root is a table."""
    target = ast.this
    if isinstance(target, exp.Table):
        return target  # the root's first child
    if isinstance(target, exp.Schema) and isinstance(target.this, exp.Table) and not any(
            isinstance(v, exp.Table) or (type(v) is list and any(isinstance(x, exp.Table) for x in v))
            for v in ast.args.values()):
        return target.this  # the first child of the first child, and no table before it
    return ast.find(exp.Table)


def _not_null(constraints: list | None) -> bool:
    for constraint in constraints or ():
        kind = constraint.args.get("kind")
        if isinstance(kind, exp.NotNullColumnConstraint) and not kind.args.get("allow_null"):
            return True
    return False


def _column_defs(ast: Any) -> list:
    """The column definitions of a CREATE TABLE or ALTER TABLE tree, in the order a breadth-first
    walk finds them, without walking the whole tree: the table's own columns, then the columns of
    MODIFY/CHANGE actions. Anything else (PARTITION OF …) is walked. A list: the caller detaches nodes."""
    if isinstance(ast, exp.Create) and isinstance(ast.this, exp.Schema):
        return [e for e in ast.this.expressions if isinstance(e, exp.ColumnDef)]
    if isinstance(ast, exp.Alter):
        actions = ast.args.get("actions") or ()
        direct = [a for a in actions if isinstance(a, exp.ColumnDef)]
        nested = [a.this for a in actions if not isinstance(a, exp.ColumnDef) and isinstance(a.args.get("this"), exp.ColumnDef)]
        return direct + nested
    return list(ast.find_all(exp.ColumnDef))


# -- suppression, fingerprints, risk ---------------------------------------------------------------


@dataclasses.dataclass
class _Directive:
    line: int
    ids: list[str]
    scope: tuple[int, int] | None  # statement index range it covers; None for the whole file
    used: set[str] = dataclasses.field(default_factory=set)


def _directives(text: str, statements: Sequence[Statement]) -> list[_Directive]:
    found: list[_Directive] = []
    if text.isascii() and "sluice" not in text.lower():
        # (the pattern tries every line of the file; outside ASCII its case-insensitive match also
        # takes look-alike letters, so it decides there)
        return found
    first_start = statements[0].start if statements else len(text)
    starts = [s.start for s in statements]
    for match in IGNORE_RE.finditer(text):
        line = text.count("\n", 0, match.start()) + 1
        ids = [part.strip() for part in match.group(1).split(",") if part.strip()]
        if match.start() < first_start and _only_comments_before(text, match.start()):
            # In the leading comment block: the whole file, blank line or not (the loader reads the
            # run directives there the same way, design.md §2).
            found.append(_Directive(line, ids, None))
            continue
        # The statement that starts first after the directive, if nothing but comments lie between.
        following = next((i for i, start in enumerate(starts) if start > match.start()), None)
        if following is None:
            # In the body of the last statement: covers it; after it: covers nothing.
            last = len(statements) - 1
            inside = bool(statements) and match.start() < statements[last].end
            found.append(_Directive(line, ids, (last, last) if inside else (-1, -1)))
            continue
        previous_end = statements[following - 1].end if following > 0 else 0
        if match.start() >= previous_end:
            found.append(_Directive(line, ids, (following, following)))
        else:  # inside a statement (a comment in its body): covers that statement
            found.append(_Directive(line, ids, (following - 1, following - 1)))
    return found


def _only_comments_before(text: str, offset: int) -> bool:
    return all(not line.strip() or line.strip().startswith("--") for line in text[:offset].splitlines())


# What no directive suppresses: the runner refuses such a file whatever the review says.
_UNSUPPRESSIBLE = ("system.syntax-error", "system.encoding-error")


def _finish(out: _Collector, text: str, statements: Sequence[Statement], norms: Sequence[str], dialect: str,
            policy: Policy) -> FileReview:
    directives = _directives(text, statements)
    index_of = {id(s): i for i, s in enumerate(statements)} if directives else {}
    line_to_index: dict[int, int] | None = None  # for the findings of no statement
    for finding, stmt in zip(out.findings, out.statements, strict=True) if directives else ():
        if finding.rule in _UNSUPPRESSIBLE or finding.rule == "system.invalid-ignore-directive":
            continue
        # By the statement the finding was made on: two statements may start on its line.
        index = index_of.get(id(stmt)) if stmt is not None else None
        if index is None:
            if line_to_index is None:
                line_to_index = {s.line: i for i, s in enumerate(statements)}
            index = line_to_index.get(finding.line)
        if index is None:
            index = next((i for i, s in enumerate(statements) if s.line <= finding.line <= s.end_line), None)
        for directive in directives:
            if finding.rule not in directive.ids:
                continue
            if directive.scope is None or (index is not None and directive.scope[0] <= index <= directive.scope[1]):
                finding.suppressed = True
                directive.used.add(finding.rule)
    for directive in directives:
        for rule_id in directive.ids:
            if rule_id not in RULES:
                out.add("system.invalid-ignore-directive", f"sluice:ignore names an unknown rule `{rule_id}`: "
                        "check the id on the rules page", None, directive.line, 1, directive.line)
            elif rule_id in _UNSUPPRESSIBLE:
                out.add("system.invalid-ignore-directive", f"sluice:ignore {rule_id}: this rule cannot be suppressed "
                        "(a file that will not apply must not pass review): fix the file, remove the directive",
                        None, directive.line, 1, directive.line)
            elif rule_id not in directive.used:
                where = ("in this file" if directive.scope is None else "after the last statement"
                         if directive.scope == (-1, -1) else "on the statement it belongs to")
                out.add("system.invalid-ignore-directive", f"sluice:ignore {rule_id} suppresses nothing {where}: "
                        "remove it", None, directive.line, 1, directive.line)
        if not directive.ids:
            out.add("system.invalid-ignore-directive", "sluice:ignore names no rule", None,
                    directive.line, 1, directive.line)
    seen: dict[tuple[str, str], int] = {}
    folded: dict[str, str] = {}  # excerpt → its whitespace folded (findings share their statement's excerpt)
    for finding in out.findings:
        statement = folded.get(finding.statement)
        if statement is None:
            statement = folded[finding.statement] = " ".join(finding.statement.split())
        key = (finding.rule, statement)
        seen[key] = seen.get(key, 0) + 1
        finding.fingerprint = _fingerprint(finding, seen[key], statement)
    out.findings.sort(key=lambda f: (f.line, f.column, f.rule))
    return FileReview(out.path, dialect, out.findings, _risk(norms), len(statements))


_NUMBER = re.compile(r"\d+")


def _fingerprint(finding: Finding, occurrence: int, statement: str | None = None) -> str:
    # Not the line: a finding keeps its identity when lines above it move. A finding of no statement
    # (the file's) is told by its message, its numbers left out: the encoding error's byte offset moves
    # with the lines above too.
    if statement is None:
        statement = " ".join(finding.statement.split())
    message = _NUMBER.sub("#", finding.message) if not statement else ""
    raw = f"{finding.rule}\0{finding.file}\0{statement}\0{message}\0{occurrence}"
    # (surrogatepass: a file name that is not UTF-8 comes with the surrogates os.fsdecode made)
    return hashlib.sha256(raw.encode("utf-8", "surrogatepass")).hexdigest()[:32]


_RISKY_WORDS = ("DROP", "TRUNCATE", "DELETE", "UPDATE", "ALTER", "WITH")  # the first words of what is risky


def _risk(norms: Sequence[str]) -> str:
    risk = "low"
    for norm in norms:
        if not norm.startswith(_RISKY_WORDS):
            continue
        if norm.startswith("WITH"):
            if norm[4:5] in (" ", "(") and _WITH_MODIFYING.search(norm):
                risk = "moderate"
            continue
        if HIGH_RISK.match(norm):
            return "high"
        if MODERATE_RISK.match(norm):
            risk = "moderate"
    return risk
