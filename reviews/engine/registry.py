"""The rule registry: every catalogue id (../shared/review-rules.md) with its metadata, and the
check function of each implemented rule.

A rule is registered once, in the module of its family (reviews/rules/<family>.py):

    @rule("table.disallow-drop", engines="PMS", category="DES", severity="E",
          nodes=(exp.Drop,), summary=…, why=…, instead=…, example=…)
    def _(st: Stmt, ctx: FileContext, payload: dict) -> Iterator[str | Hit]:
        ...

`nodes` says which statements the engine hands the rule (by sqlglot node type), so that a
statement meets only the rules that can concern it: "command" for statements sqlglot returns
as a Command or cannot parse, "*" for every statement. `keywords` narrows that further to the
statements whose first word is one of them, and `contains` to the statements whose normalized
text (`st.norm`: upper case, no comments or strings) holds one of the given words: a rule that
could find nothing elsewhere says so, and the engine does not call it there (most statements meet
a handful of rules, not a hundred). `actions` does the same for an ALTER statement's tree
(exp.Alter): the rule meets only those with an action of one of the given node types (exp.ColumnDef
for ADD COLUMN, exp.Drop, exp.AlterColumn …); it says nothing about any other statement. `prefixes`
narrows it to the statements whose st.norm starts with one of them ("CREATE ROLE", "ALTER DOMAIN"):
for a rule that reads only such statements, so that the words of its `contains` are not looked for
in every CREATE TABLE. Their first words are the rule's `keywords` (it takes one or the other). (As
for `contains`, a keyword spelled with a look-alike that upper() keeps, U+0130 "İ" for I or U+212A
"K" for K, is no keyword: no engine reads it as one.) A rule with
`at_end=True` runs once after the last statement, with `st=None`.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Iterable
from typing import Any

ENGINE_LETTERS = {"P": "postgres", "M": "mysql", "S": "sqlite"}
SEVERITIES = ("error", "warning", "info", "disabled")
SEVERITY_OF_LETTER = {"E": "error", "W": "warning", "I": "info", "off": "disabled"}


@dataclasses.dataclass(frozen=True)
class Hit:
    """One violation; line/column default to the statement's first token. `statement` (a
    splitter Statement seen earlier) attributes it to another statement than the current one:
    for a rule that can only decide once it has seen what follows."""

    message: str
    line: int | None = None
    column: int | None = None
    statement: Any = None


Check = Callable[..., "Iterable[str | Hit] | None"]


@dataclasses.dataclass
class Rule:
    id: str
    engines: frozenset[str]  # dialect names
    category: str  # DES, BC, LOCK, TX, DML, DESIGN, NAME, MYSQL, SQLITE, SEC, SYS, DIR
    severity: str  # default: error | warning | info | disabled
    summary: str  # what it flags, one line
    why: str = ""  # one paragraph
    instead: str = ""  # the safe alternative
    example: str = ""  # a statement it flags
    payload: dict[str, Any] = dataclasses.field(default_factory=dict)  # defaults
    schema: dict[str, Any] = dataclasses.field(default_factory=dict)  # JSON schema of payload
    severity_by_engine: dict[str, str] = dataclasses.field(default_factory=dict)  # e.g. {"mysql": "warning"}
    strict_severity: str | None = None  # `strict` raises W to E for data loss and locking
    needs_database: bool = False  # cannot be decided from the file alone
    nodes: tuple = ("*",)
    keywords: frozenset[str] | None = None  # first words of the statements it can concern (None: any)
    contains: tuple[str, ...] | None = None  # words one of which st.norm must hold (None: any statement)
    actions: tuple[type, ...] | None = None  # an exp.Alter tree must have an action of one of these types
    prefixes: tuple[str, ...] | None = None  # st.norm must start with one of these (None: any statement)
    at_end: bool = False
    check: Check | None = None

    @property
    def implemented(self) -> bool:
        return self.check is not None

    def default_severity(self, dialect: str | None = None) -> str:
        if dialect and dialect in self.severity_by_engine:
            return self.severity_by_engine[dialect]
        return self.severity


RULES: dict[str, Rule] = {}
# File facts that rule families keep for themselves (in ctx.memo), recorded on every statement
# after its rules ran, whatever the policy enables: (dialects, first words or None, function).
# (engines, first words or None, the rule ids it records for or None (any policy), fn)
TRACKERS: list[tuple[frozenset[str], frozenset[str] | None, frozenset[str] | None, Callable[..., None]]] = []


def tracker(*, engines: str = "PMS", keywords: tuple[str, ...] | None = None,
            serves: tuple[str, ...] | None = None) -> Callable:
    """Register `fn(st, ctx)` to record what a statement did, for rules that read it later. It
    runs after the statement's rules, so a rule never sees the statement it is checking; with
    `serves` (the ids of the rules that read what it records), only when one of them is enabled."""

    def register(fn: Callable[..., None]) -> Callable[..., None]:
        TRACKERS.append((_engines(engines), frozenset(keywords) if keywords else None,
                         frozenset(serves) if serves else None, fn))
        return fn

    return register


def _engines(letters: str) -> frozenset[str]:
    return frozenset(ENGINE_LETTERS[c] for c in letters if c in ENGINE_LETTERS)


def rule(
    rule_id: str,
    *,
    engines: str,
    category: str,
    severity: str,
    summary: str,
    why: str = "",
    instead: str = "",
    example: str = "",
    payload: dict | None = None,
    schema: dict | None = None,
    severity_by_engine: dict[str, str] | None = None,
    strict: str | None = None,
    nodes: tuple = ("*",),
    keywords: tuple[str, ...] | None = None,
    contains: tuple[str, ...] | None = None,
    actions: tuple[type, ...] | None = None,
    prefixes: tuple[str, ...] | None = None,
    at_end: bool = False,
) -> Callable[[Check], Check]:
    """Register an implemented rule (a decorator)."""

    def register(check: Check) -> Check:
        words, starts = keywords, _upper_words(rule_id, prefixes, "prefixes")
        if starts is not None:
            if keywords is not None:
                raise ValueError(f"rule {rule_id}: keywords= or prefixes=, not both (the prefixes' first words are its keywords)")
            words = tuple(p.split(" ", 1)[0] for p in starts)
        _add(Rule(
            id=rule_id, engines=_engines(engines), category=category, severity=SEVERITY_OF_LETTER.get(severity, severity),
            summary=summary, why=why, instead=instead, example=example, payload=dict(payload or {}),
            schema=dict(schema or {}), severity_by_engine=dict(severity_by_engine or {}),
            strict_severity=SEVERITY_OF_LETTER.get(strict, strict) if strict else None,
            nodes=nodes, keywords=frozenset(words) if words else None,
            contains=_upper_words(rule_id, contains), actions=_node_types(rule_id, actions),
            prefixes=starts, at_end=at_end,
            check=check,
        ))
        return check

    return register


def _upper_words(rule_id: str, words: tuple[str, ...] | None, option: str = "contains") -> tuple[str, ...] | None:
    if words is None:
        return None
    if isinstance(words, str) or not words or any(w != w.upper() or not w.strip() for w in words):
        raise ValueError(f"rule {rule_id}: {option}= takes a tuple of upper-case words, as st.norm has them")
    return tuple(words)


def _node_types(rule_id: str, types: tuple[type, ...] | None) -> tuple[type, ...] | None:
    if types is None:
        return None
    if not isinstance(types, tuple) or not types or not all(isinstance(t, type) for t in types):
        raise ValueError(f"rule {rule_id}: actions= takes a tuple of sqlglot node types")
    return types


def declare(rule_id: str, *, engines: str, category: str, summary: str, severity: str = "off",
            needs_database: bool = False, why: str = "", instead: str = "", payload: dict | None = None,
            schema: dict | None = None) -> None:
    """Register a catalogue id that has no check (yet): opt-in rules that need a live database.
    Such a rule is listed, documented and accepted in policies, and finds nothing."""
    _add(Rule(
        id=rule_id, engines=_engines(engines), category=category, severity=SEVERITY_OF_LETTER.get(severity, severity),
        summary=summary, why=why, instead=instead, payload=dict(payload or {}), schema=dict(schema or {}),
        needs_database=needs_database,
    ))


def _add(new: Rule) -> None:
    if new.id in RULES:
        raise ValueError(f"rule {new.id} registered twice")
    RULES[new.id] = new


def validate_payload(rule_obj: Rule, payload: dict) -> dict:
    """The payload merged over the rule's defaults; ValueError naming the bad key."""
    if not isinstance(payload, dict):
        raise ValueError(f"{rule_obj.id}: the payload must be an object")
    unknown = set(payload) - set(rule_obj.payload)
    if unknown:
        known = ", ".join(sorted(rule_obj.payload)) or "none"
        raise ValueError(f"{rule_obj.id}: unknown payload key(s) {', '.join(sorted(unknown))} (known: {known})")
    merged = {**rule_obj.payload, **payload}
    if rule_obj.schema:
        import jsonschema

        try:
            # ("format": "regex" is checked: a pattern that does not compile would make the rule find nothing)
            jsonschema.validate(merged, {"type": "object", **rule_obj.schema},
                                format_checker=jsonschema.FormatChecker(formats=("regex",)))
        except jsonschema.ValidationError as exc:
            message = exc.message
            if exc.validator == "format" and isinstance(exc.instance, str):
                try:
                    re.compile(exc.instance)
                except re.error as bad:
                    where = ".".join(map(str, exc.absolute_path))
                    message = f"{where}: {exc.instance!r} is not a valid regular expression ({bad})"
            raise ValueError(f"{rule_obj.id}: bad payload: {message}") from None
    return merged
