"""Policies: which rules run, at which severity, with which payload.

A policy overrides the catalogue defaults rule by rule; a rule it does not mention keeps its
default (`recommended` is the empty override). The shipped templates are `recommended` and
`strict`; `--all-rules` also turns on the opt-in rules with their default payloads.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any

from sqlglot import exp

from reviews.engine.registry import RULES, SEVERITIES, TRACKERS, Rule, validate_payload

TEMPLATES = ("recommended", "strict")
# A file that cannot be read or parsed, or holds nothing, is an error whatever the policy (design §7):
# no policy turns these rules down (check_setting refuses it; `severity` holds to it for a Policy made
# by hand or a row stored before).
ALWAYS_ERRORS = frozenset({"system.syntax-error", "system.encoding-error", "system.empty-file"})


@dataclasses.dataclass(frozen=True)
class Setting:
    severity: str | None = None  # None: the rule's default (per engine)
    payload: dict[str, Any] = dataclasses.field(default_factory=dict)


_NONE: frozenset = frozenset()
# Cached rule lists per (kind, first word, gate words present) of a RuleSet: bounded. (A module
# constant: a class attribute of a compiled class is an instance attribute's default.)
MAX_GATED = 4096
_LONGEST_KEYWORD = 32  # characters: no rule or tracker names a longer first word (such a word is answered, not kept)


class RuleSet:
    """The enabled, implemented rules of one dialect, indexed by what they concern: sqlglot node
    types, first words (`keywords`) and words the statement holds (`contains`)."""

    def __init__(self, rules: list[Rule], payload: Any = None, dialect: str | None = None):
        # Each rule travels with its effective payload: the engine's inner loop does no lookups.
        self.payloads = {r.id: (payload(r.id) if payload else dict(r.payload)) for r in rules}
        # The trackers of the dialect that an enabled rule reads: (first words or None, fn).
        self.trackers = [(keywords, fn) for engines, keywords, serves, fn in TRACKERS
                         if (dialect is None or dialect in engines)
                         and (serves is None or not serves.isdisjoint(self.payloads))]
        self._trackers_of: dict[str, list] = {}  # first word → its trackers (bounded as _gated)
        self.at_end = [r for r in rules if r.at_end]
        per_statement = [r for r in rules if not r.at_end]
        self.every = [r for r in per_statement if "*" in r.nodes]
        self.on_command = [r for r in per_statement if "command" in r.nodes]
        self.by_class = [(r, tuple(n for n in r.nodes if isinstance(n, type))) for r in per_statement]
        # (kind, first word) → (its rules, their gate words, its rules with `prefixes` and all their prefixes)
        self._candidates: dict[tuple, tuple[list[Rule], tuple[str, ...], list[Rule], tuple[str, ...]]] = {}
        self._words: dict[tuple, tuple[str, ...]] = {}  # (kind, first word, opened) → the gate words
        self._gated: dict[tuple, list[tuple[Rule, Any, dict]]] = {}

    def for_statement(self, ast: Any, norm: str) -> list[tuple[Rule, Any, dict]]:
        """(rule, its check function, its payload) for each rule concerned by this statement. The
        words of the rules' `contains` gates are looked for once per statement, not once per rule (and
        those of a rule with `prefixes` only when the statement starts with one), an ALTER's action
        types are read once, and the list is cached by what decides it."""
        kind = None if ast is None or isinstance(ast, exp.Command) else type(ast)
        # The first word, up to a blank or "(" (not norm.split(" ", 1): that copies the rest of a long INSERT).
        space = norm.find(" ")
        word = norm if space < 0 else norm[:space]
        if "(" in word:
            word = word[:word.index("(")]
        candidates = self._candidates.get((kind, word))
        if candidates is None:
            candidates = self._remember(self._candidates, (kind, word), word, self._candidates_for(kind, word))
        rules, words, prefixed, prefixes = candidates
        opened = _NONE  # the rules with `prefixes` that the statement starts with (most often none)
        if prefixed and norm.startswith(prefixes):  # (one test of every prefix first: most often false)
            opened = frozenset([r.id for r in prefixed if norm.startswith(r.prefixes or ())])
            if opened:
                words = self._words.get((kind, word, opened))
                if words is None:
                    words = self._remember(self._words, (kind, word, opened), word, _words_of(rules, opened))
        # Which gate words the statement holds, as bits in the order of `words` (which the key's kind,
        # word and opened decide): no set built and hashed for each statement, only for a new answer.
        present_bits = 0
        bit = 1
        for gate in words:
            if gate in norm:
                present_bits |= bit
            bit <<= 1
        acting = frozenset([type(a) for a in ast.args.get("actions") or ()]) if isinstance(ast, exp.Alter) else None
        key = (kind, word, present_bits, acting, opened)
        found = self._gated.get(key)
        if found is None:
            present = frozenset([gate for i, gate in enumerate(words) if present_bits >> i & 1])
            found = self._remember(self._gated, key, word, [
                (r, r.check, self.payloads[r.id]) for r in rules
                if (r.prefixes is None or r.id in opened)
                and (r.contains is None or not present.isdisjoint(r.contains))
                and (r.actions is None or acting is None or any(issubclass(t, r.actions) for t in acting))
            ])
        return found

    def trackers_for(self, word: str) -> list:
        """The trackers of a statement with this first word (up to a blank), in their order."""
        found = self._trackers_of.get(word)
        if found is None:
            found = self._remember(self._trackers_of, word, word,
                                   [fn for keywords, fn in self.trackers if keywords is None or word in keywords])
        return found

    def _remember(self, cache: dict, key: Any, word: str, value: Any) -> Any:
        """Keep an answer decided by the statement's first word, in a bounded cache; not for a word
        longer than any keyword (a statement without blanks, random text): a long-lived worker must not
        keep every odd word, or a 5 MB one, that a file ever started a statement with."""
        if len(word) <= _LONGEST_KEYWORD:
            if len(cache) >= MAX_GATED:
                cache.clear()
            cache[key] = value
        return value

    def _candidates_for(self, kind: type | None, word: str) -> tuple[list[Rule], tuple[str, ...], list[Rule], tuple[str, ...]]:
        if kind is None:
            found = self.every + self.on_command
        else:
            found = self.every + [r for r, classes in self.by_class if classes and issubclass(kind, classes)]
        found = [r for r in found if r.keywords is None or word in r.keywords]
        prefixed = [r for r in found if r.prefixes is not None]
        return found, _words_of(found, _NONE), prefixed, tuple(sorted({p for r in prefixed for p in r.prefixes or ()}))


def _words_of(rules: list[Rule], opened: frozenset) -> tuple[str, ...]:
    """The words of the `contains` gates of the rules without prefixes and of those `opened`."""
    return tuple(sorted({w for r in rules if r.contains and (r.prefixes is None or r.id in opened) for w in r.contains}))


class Policy:
    def __init__(self, name: str, settings: dict[str, Setting] | None = None, *, all_rules: bool = False):
        self.name = name
        self.settings = settings or {}
        self.all_rules = all_rules
        self._payloads: dict[str, dict] = {}
        self._rulesets: dict[str, RuleSet] = {}
        self._severities: dict[str | None, dict[str, str]] = {}  # dialect → rule id → severity, as asked

    # -- construction ------------------------------------------------------------------------
    @classmethod
    def recommended(cls) -> Policy:
        _load_rules()
        return cls("recommended")

    @classmethod
    def strict(cls) -> Policy:
        _load_rules()
        return cls("strict", {r.id: Setting(r.strict_severity) for r in RULES.values() if r.strict_severity})

    @classmethod
    def everything(cls) -> Policy:
        _load_rules()
        return cls("all-rules", all_rules=True)

    @classmethod
    def template(cls, name: str) -> Policy:
        if name == "recommended":
            return cls.recommended()
        if name == "strict":
            return cls.strict()
        raise ValueError(f"unknown policy template {name!r}: expected one of {', '.join(TEMPLATES)}")

    @classmethod
    def from_rows(cls, name: str, rows: Iterable[tuple[str, str, dict]]) -> Policy:
        """(rule id, severity, payload) rows, validated: ValueError names the bad row."""
        _load_rules()
        settings = {}
        for rule_id, severity, payload in rows:
            settings[rule_id] = check_setting(rule_id, severity, payload)
        return cls(name, settings)

    # -- lookups --------------------------------------------------------------------------------
    def severity(self, rule_id: str, dialect: str | None = None) -> str:
        if rule_id in ALWAYS_ERRORS:
            return "error"
        setting = self.settings.get(rule_id)
        if setting is not None and setting.severity is not None:
            return setting.severity
        rule_obj = RULES.get(rule_id)
        if rule_obj is None:
            return "disabled"
        default = rule_obj.default_severity(dialect)
        if default == "disabled" and self.all_rules:
            return "warning"
        return default

    def severities(self, dialect: str | None) -> dict[str, str]:
        """rule id → `severity(rule_id, dialect)` for the ids asked so far: a cache the caller fills
        (a review asks it of each finding; a policy is not changed once reviews use it, as `rules_for`)."""
        found = self._severities.get(dialect)
        if found is None:
            found = self._severities[dialect] = {}
        return found

    def payload(self, rule_id: str) -> dict:
        cached = self._payloads.get(rule_id)
        if cached is None:
            setting = self.settings.get(rule_id)
            cached = {**RULES[rule_id].payload, **(setting.payload if setting else {})}
            self._payloads[rule_id] = cached
        return cached

    def rules_for(self, dialect: str) -> RuleSet:
        ruleset = self._rulesets.get(dialect)
        if ruleset is None:
            _load_rules()
            ruleset = RuleSet([
                r for r in RULES.values()
                if r.implemented and dialect in r.engines and self.severity(r.id, dialect) != "disabled"
            ], self.payload, dialect)
            self._rulesets[dialect] = ruleset
        return ruleset

    def as_rows(self) -> list[tuple[str, str, dict]]:
        """Every rule with its effective severity (engine-independent default) and payload."""
        _load_rules()
        return [(r.id, self.severity(r.id), self.payload(r.id)) for r in sorted(RULES.values(), key=lambda r: r.id)]


def check_setting(rule_id: str, severity: str, payload: dict | None) -> Setting:
    _load_rules()
    rule_obj = RULES.get(rule_id)
    if rule_obj is None:
        raise ValueError(f"unknown rule id {rule_id!r}")
    if severity not in SEVERITIES:
        raise ValueError(f"{rule_id}: severity must be one of {', '.join(SEVERITIES)}, not {severity!r}")
    if rule_id in ALWAYS_ERRORS and severity != "error":
        raise ValueError(f"{rule_id}: always an error (a file that cannot be read or parsed, or is empty, must not "
                         f"pass review), not {severity!r}")
    validate_payload(rule_obj, payload or {})
    return Setting(severity, dict(payload or {}))


def _load_rules() -> None:
    import reviews.rules  # noqa: F401  (registers every family)
