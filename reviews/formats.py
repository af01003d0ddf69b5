"""A review result in every output format of design.md §6: `text`, `json`, `github`, `gitlab`,
`sarif`, `azure`, `markdown`.

Pure Python, no Django: `manage.py review` renders offline, and the check API can render the
same way. Suppressed findings (`-- sluice:ignore`) appear only where the format has a place for
them (`json` with `"suppressed": true`, SARIF `suppressions`); the others leave them out.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from urllib.parse import quote

from reviews.engine import RULES, Finding, ReviewResult
from reviews.engine.core import SEVERITY_RANK, redact

FORMATS = ("text", "json", "github", "gitlab", "sarif", "azure", "markdown")
MARKER = "<!-- sluice-check -->"  # finds the sticky pull-request comment (design.md §6)
SARIF_SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"


def render(result: ReviewResult, fmt: str, *, fail_on: str = "error", sources: dict[str, str] | None = None,
           docs_url: str = "") -> str:
    """`sources` (path → text) lets `text` show the offending line; `docs_url` prefixes the rule
    pages' path `/rules/<id>/` (relative when empty)."""
    renderer = _RENDERERS.get(fmt)
    if renderer is None:
        raise ValueError(f"unknown format {fmt!r}: expected one of {', '.join(FORMATS)}")
    output = renderer(result, fail_on, sources or {}, docs_url.rstrip("/"))
    if output.isascii():
        return output
    # A file name that is not UTF-8 arrives with its bytes as lone surrogates (os.fsdecode), which
    # no stream can encode: each is shown as `\xNN` (inside a JSON string, as an escaped backslash).
    return _UNDECODED.sub(_json_byte if fmt in _JSON_FORMATS else _byte, output)


_UNDECODED = re.compile("[\ud800-\udfff]")
_JSON_FORMATS = frozenset({"json", "gitlab", "sarif"})


def _byte(match: re.Match) -> str:
    code = ord(match.group())
    return f"\\x{code - 0xdc00:02x}" if code >= 0xdc80 else f"\\u{code:04x}"


def _json_byte(match: re.Match) -> str:
    return "\\" + _byte(match)


# Characters that move the cursor, end a line (for a terminal, a CI log or an editor) or drive the
# terminal: SQL-derived text shows them escaped, so that it cannot start a line of its own (a
# GitHub `::error`) or hide what follows (ESC). A tab stays: it is harmless, and keeps a caret aligned.
_CONTROL = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029]")


def _printable(text: str) -> str:
    return _CONTROL.sub(_escape, text) if not text.isprintable() else text  # (most text: one cheap test)


def _escape(match: re.Match) -> str:
    char = match.group()
    if char in "\n\r":
        return "\\n" if char == "\n" else "\\r"
    return f"\\x{ord(char):02x}" if ord(char) < 0x100 else f"\\u{ord(char):04x}"


def rule_url(rule_id: str, docs_url: str = "") -> str:
    return f"{docs_url}/rules/{rule_id}/"


def summary_line(result: ReviewResult, fail_on: str = "error") -> str:
    s = result.summary(fail_on)
    suppressed = len(result.findings) - len(result.active)
    unread = sum(len(r.refusals) for r in result.files)  # (counted among the errors of the summary too)
    counts = (f"{_plural(s['errors'] - unread, 'error')}, {_plural(s['warnings'], 'warning')}, "
              f"{_plural(s['infos'], 'info')}")
    if suppressed:
        counts += f" ({suppressed} suppressed)"
    if unread:
        counts += f", {_plural(unread, 'file error')}"
    verdict = f"blocking (--fail-on {fail_on})" if s["blocking"] else "passed"
    return f"{_plural(s['files'], 'file')} reviewed: {counts}; risk {s['risk']}; {verdict}"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _ordered(findings: list[Finding]) -> list[Finding]:
    return sorted(findings, key=lambda f: (f.file, f.line, f.column, f.rule))


def _blocks(finding: Finding, fail_on: str) -> bool:
    return fail_on != "never" and SEVERITY_RANK.get(finding.severity, 0) >= SEVERITY_RANK[fail_on]


# -- text --------------------------------------------------------------------------------------

_SHOWN_WIDTH = 160  # a longer source line is cut to a window around the column


def _text(result: ReviewResult, fail_on: str, sources: dict[str, str], docs_url: str) -> str:
    lines: list[str] = []
    split_sources: dict[str, list[str]] = {}
    for review in result.files:
        for message, line in review.refusals:
            lines += [_printable(f"{review.path}:{line}: error: {message}" if line else f"{review.path}: error: {message}"), ""]
    for f in _ordered(result.active):
        lines.append(_printable(f"{f.file}:{f.line}:{f.column}: {f.severity} {f.rule}: {f.message}"))
        if f.file in sources:
            if f.file not in split_sources:
                split_sources[f.file] = _source_lines(sources[f.file])
            source_lines = split_sources[f.file]
            if 0 < f.line <= len(source_lines):
                lines += _excerpt(f.line, f.column, redact(source_lines[f.line - 1]))
        rule = RULES.get(f.rule)
        if rule is not None and rule.instead:
            lines.append(f"  = instead: {rule.instead}")
        lines.append(f"  = see: {rule_url(f.rule, docs_url)}")
        lines.append("")
    lines.append(summary_line(result, fail_on))
    return "\n".join(lines) + "\n"


def _source_lines(text: str) -> list[str]:
    # The engine's lines: only LF ends one (str.splitlines() also splits at a form feed, U+2028, a
    # lone CR…, and would show another line than the finding's); a CRLF's CR is not shown.
    return [line[:-1] if line.endswith("\r") else line for line in text.split("\n")]


def _excerpt(number: int, column: int, source: str) -> list[str]:
    column = max(1, column)
    prefix = ""
    if len(source) > _SHOWN_WIDTH:
        start = max(0, min(column - 1 - _SHOWN_WIDTH // 2, len(source) - _SHOWN_WIDTH))
        source = source[start:start + _SHOWN_WIDTH]
        column -= start
        prefix = "…" if start else ""
    gutter = f"{number:>5} | "
    # Keep the tabs before the column, so that the caret lands under the same character (and
    # count an escaped control character at its shown width).
    pad = "".join("\t" if ch == "\t" else " " for ch in _printable(source[: column - 1]))
    return [f"{gutter}{prefix}{_printable(source)}", f"{' ' * (len(gutter) - 2)}| {' ' * len(prefix)}{pad}^"]


# -- json --------------------------------------------------------------------------------------


def _json(result: ReviewResult, fail_on: str, sources: dict[str, str], docs_url: str) -> str:
    return json.dumps(result.as_json(fail_on), indent=2, ensure_ascii=False) + "\n"


# -- GitHub Actions workflow commands --------------------------------------------------------------

_GITHUB_LEVEL = {"error": "error", "warning": "warning", "info": "notice"}


def _github_data(text: str) -> str:
    return _printable(text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A"))


def _github_property(text: str) -> str:
    return _github_data(text).replace(":", "%3A").replace(",", "%2C")


def _github(result: ReviewResult, fail_on: str, sources: dict[str, str], docs_url: str) -> str:
    lines = []
    for review in result.files:
        for message, line in review.refusals:
            at = f",line={line}" if line else ""
            lines.append(f"::error file={_github_property(review.path)}{at},title=a release would refuse this file::"
                         f"{_github_data(message)}")
    for f in _ordered(result.active):
        props = {"file": f.file, "line": f.line, "col": f.column, "endLine": max(f.end_line, f.line),
                 "title": f"{f.rule} ({f.severity})"}
        encoded = ",".join(f"{key}={_github_property(str(value))}" for key, value in props.items())
        lines.append(f"::{_GITHUB_LEVEL.get(f.severity, 'warning')} {encoded}::{_github_data(f.message)}")
    lines.append(summary_line(result, fail_on))
    return "\n".join(lines) + "\n"


# -- GitLab Code Quality -----------------------------------------------------------------------

# GitLab knows info, minor, major, critical and blocker: a finding that fails the job is a blocker.
_GITLAB_SEVERITY = {"error": "critical", "warning": "major", "info": "info"}


def _gitlab(result: ReviewResult, fail_on: str, sources: dict[str, str], docs_url: str) -> str:
    issues = [
        {
            "description": f.message,
            "check_name": f.rule,
            "fingerprint": f.fingerprint,
            "severity": "blocker" if _blocks(f, fail_on) else _GITLAB_SEVERITY.get(f.severity, "minor"),
            "location": {"path": f.file, "lines": {"begin": f.line}},
        }
        for f in _ordered(result.active)
    ]
    # What a release would refuse of a file (its name, version, a run directive): an issue of the file.
    issues += [
        {
            "description": message,
            "check_name": "sluice.file-error",
            "fingerprint": hashlib.sha256(f"sluice.file-error\0{review.path}\0{message}".encode(
                "utf-8", "surrogatepass")).hexdigest()[:32],
            "severity": "blocker" if fail_on != "never" else "critical",
            "location": {"path": review.path, "lines": {"begin": line or 1}},
        }
        for review in result.files for message, line in review.refusals
    ]
    return json.dumps(issues, indent=2, ensure_ascii=False) + "\n"


# -- SARIF 2.1.0 ----------------------------------------------------------------------------------

_SARIF_LEVEL = {"error": "error", "warning": "warning", "info": "note", "disabled": "none"}


def _sarif(result: ReviewResult, fail_on: str, sources: dict[str, str], docs_url: str) -> str:
    findings = _ordered(result.findings)
    rule_ids = sorted({f.rule for f in findings})
    index = {rule_id: i for i, rule_id in enumerate(rule_ids)}
    results = []
    for f in findings:
        item = {
            "ruleId": f.rule,
            "ruleIndex": index[f.rule],
            "level": _SARIF_LEVEL.get(f.severity, "warning"),
            "message": {"text": f.message},
            "locations": [{"physicalLocation": {
                "artifactLocation": {"uri": _uri(f.file)},
                "region": {"startLine": max(1, f.line), "startColumn": max(1, f.column),
                           "endLine": max(1, f.line, f.end_line)},
            }}],
            "partialFingerprints": {"sluice/v1": f.fingerprint},
        }
        if f.suppressed:
            item["suppressions"] = [{"kind": "inSource", "justification": "-- sluice:ignore"}]
        results.append(item)
    notifications = [
        {"level": "error", "message": {"text": message},
         "locations": [{"physicalLocation": {"artifactLocation": {"uri": _uri(review.path)}}
                        | ({"region": {"startLine": line}} if line else {})}]}
        for review in result.files for message, line in review.refusals
    ]
    driver: dict = {"name": "Sluice", "rules": [_sarif_rule(rule_id, docs_url) for rule_id in rule_ids]}
    if docs_url:
        driver["informationUri"] = f"{docs_url}/"
    run = {
        "tool": {"driver": driver},
        # Our columns count characters, not UTF-16 code units (SARIF's default).
        "columnKind": "unicodeCodePoints",
        "invocations": [{"executionSuccessful": not notifications, "toolExecutionNotifications": notifications}],
        "results": results,
        "properties": {"summary": result.summary(fail_on)},
    }
    return json.dumps({"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [run]}, indent=2,
                      ensure_ascii=False) + "\n"


def _sarif_rule(rule_id: str, docs_url: str) -> dict:
    rule = RULES.get(rule_id)
    summary = rule.summary if rule else rule_id
    why = (rule.why if rule else "") or summary
    instead = rule.instead if rule else ""
    text = f"{summary}\n\n{why}" + (f"\n\nInstead: {instead}" if instead else "")
    markdown = f"**{rule_id}**: {summary}\n\n{why}" + (f"\n\n**Instead:** {instead}" if instead else "")
    if rule and rule.example:
        markdown += f"\n\nFlagged:\n\n```sql\n{rule.example}\n```"
    described = {
        "id": rule_id,
        "name": rule_id,
        "shortDescription": {"text": summary},
        "fullDescription": {"text": why},
        "help": {"text": text, "markdown": markdown},
        "defaultConfiguration": {"level": _SARIF_LEVEL.get(rule.severity if rule else "warning", "warning")},
        "properties": {"category": rule.category if rule else "", "tags": ["sql", "migration"]},
    }
    if docs_url:  # helpUri is an absolute URI: without the server's address, the help text stands alone
        described["helpUri"] = rule_url(rule_id, docs_url)
    return described


def _uri(path: str) -> str:
    # `:` is encoded too: `V1-a:b.sql` would otherwise read as a URI of scheme `V1-a`. A name that
    # is not UTF-8 keeps its own bytes (%FF).
    return quote(path.replace("\\", "/"), safe="/@-._~!$&'()*+,;=", errors="surrogateescape")


# -- Azure Pipelines logging commands ---------------------------------------------------------------


# The agent runs a `##vso[…]` (and formats a `##[…]`) wherever it appears in a line, whatever the case.
_AZURE_COMMAND = re.compile("#(?=#)")


def _azure_data(text: str) -> str:
    # As the agent's task library escapes: a `%` of its own must not read as an escape. Then `##`
    # is broken up by a zero-width space, so that text from the SQL never holds a command.
    text = text.replace("%", "%AZP25").replace("\r", "%0D").replace("\n", "%0A")
    return _printable(_AZURE_COMMAND.sub("#\u200b", text) if "##" in text else text)


def _azure_property(text: str) -> str:
    return _azure_data(text).replace("]", "%5D").replace(";", "%3B")


def _azure(result: ReviewResult, fail_on: str, sources: dict[str, str], docs_url: str) -> str:
    lines = []
    for review in result.files:
        for message, line in review.refusals:
            at = f";linenumber={line}" if line else ""
            lines.append(f"##vso[task.logissue type=error;sourcepath={_azure_property(review.path)}{at}]"
                         f"{_azure_data(message)}")
    for f in _ordered(result.active):
        if f.severity == "info":  # logissue knows only error and warning: infos stay plain log lines
            lines.append(_azure_data(f"{f.file}:{f.line}:{f.column}: info {f.rule}: {f.message}"))
            continue
        props = {"type": f.severity, "sourcepath": f.file, "linenumber": f.line, "columnnumber": f.column,
                 "code": f.rule}
        encoded = ";".join(f"{key}={_azure_property(str(value))}" for key, value in props.items())
        lines.append(f"##vso[task.logissue {encoded}]{_azure_data(f.message)}")
    lines.append(summary_line(result, fail_on))
    return "\n".join(lines) + "\n"


# -- Markdown (the pull-request comment) -------------------------------------------------------------


# Markdown punctuation (CommonMark escapes any of it with a backslash): emphasis, code spans,
# links and images, table cells. `<`, `>` and `&` become entities (no HTML), an `@` is followed by a
# zero-width space (no mention of a user or team) and so are the `:` of a URL scheme and `www`
# (no autolink: GitHub and GitLab link a bare `https://…` too).
_MD_PUNCTUATION = re.compile(r"[\\`*_\[\]()!#|~]")
_MD_AUTOLINK = re.compile(r"(?i)(?<=:)(?=//)|(?<=www)(?=\.)|(?<=@)")
_MD_ENTITIES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})


def _md(text: str) -> str:
    """Text safe inside a Markdown list item or table cell: shown as written (no HTML, link, image,
    mention or emphasis), no table breaks, one line."""
    text = _MD_PUNCTUATION.sub(r"\\\g<0>", _printable(" ".join(text.split())).translate(_MD_ENTITIES))
    return _MD_AUTOLINK.sub("\u200b", text)


def _md_code(text: str) -> str:
    """A code span: its fence is longer than any run of backticks inside."""
    text = _printable(" ".join(text.split()))
    if "`" not in text:
        return f"`{text}`"
    fence = "`" * (max(len(run) for run in re.findall("`+", text)) + 1)
    return f"{fence} {text} {fence}"


def _markdown(result: ReviewResult, fail_on: str, sources: dict[str, str], docs_url: str) -> str:
    s = result.summary(fail_on)
    suppressed = len(result.findings) - len(result.active)
    verdict = "❌ blocking" if s["blocking"] else "✅ passed"
    out = [
        MARKER,
        f"### Sluice review: {verdict}",
        "",
        "| Errors | Warnings | Infos | Suppressed | Files | Risk |",
        "|---:|---:|---:|---:|---:|---|",
        f"| {s['errors']} | {s['warnings']} | {s['infos']} | {suppressed} | {s['files']} | {s['risk']} |",
        "",
    ]
    unread = [review for review in result.files if review.refusals]
    if unread:
        out.append("**Files a release would refuse:**")
        out += [f"- {_md_code(review.path)}{f' line {line}' if line else ''}: {_md(message)}"
                for review in unread for message, line in review.refusals]
        out.append("")
    by_file: dict[str, list[Finding]] = {}
    for f in _ordered(result.active):
        by_file.setdefault(f.file, []).append(f)
    risk = {review.path: review.risk for review in result.files}

    def item(f: Finding) -> str:
        link = f"[`{f.rule}`]({rule_url(f.rule, docs_url)})"
        return f"- **{f.severity}** {link} line {f.line}: {_md(f.message)}"

    for path, findings in by_file.items():
        out.append(f"#### {_md_code(path)} (risk: {risk.get(path, 'low')})")
        out.append("")
        main = [f for f in findings if f.severity != "info"]
        infos = [f for f in findings if f.severity == "info"]
        out += [item(f) for f in main]
        if infos:
            if main:
                out.append("")
            out += ["<details>", f"<summary>{_plural(len(infos), 'info')}</summary>", ""]
            out += [item(f) for f in infos]
            out += ["", "</details>"]
        out.append("")
    if not by_file and not unread:
        out += ["No findings.", ""]
    out.append(f"<sub>{_md(summary_line(result, fail_on))}</sub>")
    return "\n".join(out) + "\n"


_RENDERERS: dict[str, Callable[[ReviewResult, str, dict[str, str], str], str]] = {
    "text": _text,
    "json": _json,
    "github": _github,
    "gitlab": _gitlab,
    "sarif": _sarif,
    "azure": _azure,
    "markdown": _markdown,
}
