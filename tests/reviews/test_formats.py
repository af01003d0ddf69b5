"""Every output format of design.md §6 on a small real review result.

The findings come from the engine itself (syntax, encoding, empty file, ignore directives, psql
client commands), with every other rule turned off, so that these tests do not move as rule
families are added.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from urllib.parse import urlsplit

import jsonschema
import pytest

from reviews.engine import RULES, FileReview, Finding, Policy, ReviewResult, review_files
from reviews.engine.policy import Setting
from reviews.formats import FORMATS, MARKER, render

SARIF_SCHEMA = json.loads((Path(__file__).parent / "sarif-schema-2.1.0.json").read_text(encoding="utf-8"))

FILES = [
    ("migrations/0001_bad.sql", "SELECT 1;\nSELEC 1;\n-- sluice:ignore system.client-command\n\\connect other\n"),
    ("migrations/0002_empty.sql", b""),
    ("migrations/0003_bytes.sql", b"SELECT 1;\nSELECT '\xff';\n"),
    ("migrations/0004_client.sql", "-- sluice:ignore no.such-rule\n\\connect other\nSELECT 1;\n"),
    ("migrations/0005_fine.sql", "SELECT 1;\n"),
]


def system_only() -> Policy:
    Policy.recommended()  # loads the rule families
    return Policy("system-only", {rule_id: Setting("disabled") for rule_id in RULES if not rule_id.startswith("system.")})


@pytest.fixture(scope="module")
def result() -> ReviewResult:
    return review_files(FILES, "postgres", system_only())


@pytest.fixture(scope="module")
def sources() -> dict[str, str]:
    return {path: data.decode("utf-8", "replace") if isinstance(data, bytes) else data for path, data in FILES}


def find(result: ReviewResult, rule: str, suppressed: bool = False) -> Finding:
    return next(f for f in result.findings if f.rule == rule and f.suppressed == suppressed)


def tricky() -> ReviewResult:
    """A finding whose path and message hold every character the CI formats must escape."""
    finding = Finding("system.syntax-error", "error", "100% wrong;\r\nsee [docs]: a, b", "db/0001_a,b:c;d].sql",
                      3, 7, 4, "SELEC 1", "f" * 32)
    return ReviewResult([FileReview("db/0001_a,b:c;d].sql", "postgres", [finding], "low", 1)])


def test_the_fixture_has_every_severity_and_a_suppressed_finding(result):
    severities = {f.severity for f in result.active}
    assert severities == {"error", "warning", "info"}
    assert find(result, "system.client-command", suppressed=True).line == 4


def test_it_refuses_an_unknown_format(result):
    with pytest.raises(ValueError, match="unknown format 'xml'"):
        render(result, "xml")


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_renders_an_empty_result(fmt):
    output = render(review_files([("migrations/0001_ok.sql", "SELECT 1;\n")], "postgres", system_only()), fmt)
    assert output.endswith("\n")


# -- text --------------------------------------------------------------------------------------------


def test_text_shows_location_source_caret_advice_and_docs(result, sources):
    output = render(result, "text", sources=sources)
    lines = output.splitlines()
    start = lines.index('migrations/0001_bad.sql:2:1: error system.syntax-error: syntax error at or near "SELEC"')
    assert lines[start + 1] == "    2 | SELEC 1;"
    assert lines[start + 2] == "      | ^"
    assert lines[start + 3] == "  = instead: Fix the SQL."
    assert lines[start + 4] == "  = see: /rules/system.syntax-error/"


def test_text_puts_the_caret_under_the_column(result, sources):
    lines = render(result, "text", sources=sources).splitlines()
    start = lines.index("migrations/0003_bytes.sql:2:9: error system.encoding-error: byte 0xff at offset 18 is "
                        "not valid UTF-8: re-save the file as UTF-8")
    source, caret = lines[start + 1], lines[start + 2]
    assert source == "    2 | SELECT '\ufffd';"
    assert caret.index("^") == source.index("\ufffd")


def test_text_leaves_out_suppressed_findings_and_ends_with_a_summary(result, sources):
    output = render(result, "text", sources=sources)
    assert "0001_bad.sql:4:" not in output
    assert output.splitlines()[-1] == (
        "5 files reviewed: 3 errors, 1 warning, 1 info (1 suppressed); risk low; blocking (--fail-on error)")


def test_text_summary_says_passed_when_nothing_blocks(result):
    assert render(result, "text", fail_on="never").splitlines()[-1].endswith("; passed")


def test_text_without_sources_still_locates(result):
    output = render(result, "text")
    assert "migrations/0002_empty.sql:1:1: error system.empty-file:" in output
    assert " | " not in output


def test_text_cuts_a_long_line_around_the_column():
    sql = "SELECT " + ", ".join(f"c{i}" for i in range(200)) + " FROM t WHERE x = = 1;\n"
    result = review_files([("m/0001_long.sql", sql)], "postgres", system_only())
    column = find(result, "system.syntax-error").column
    assert column > 1000
    lines = render(result, "text", sources={"m/0001_long.sql": sql}).splitlines()
    source, caret = lines[1], lines[2]
    assert len(source) < 200
    assert source[caret.index("^"):] == sql.rstrip("\n")[column - 1:][:len(source) - caret.index("^")]


# -- json --------------------------------------------------------------------------------------------


def test_json_is_the_check_document_with_suppressed_findings(result):
    document = json.loads(render(result, "json"))
    assert document == result.as_json()
    assert document["schema"] == "sluice.check/v1"
    assert set(document["summary"]) == {"errors", "warnings", "infos", "files", "blocking", "risk"}
    assert [f["line"] for f in document["findings"] if f["suppressed"]] == [4]


def test_json_summary_follows_fail_on(result):
    assert json.loads(render(result, "json", fail_on="never"))["summary"]["blocking"] is False


# -- GitHub ------------------------------------------------------------------------------------------


def test_github_writes_one_workflow_command_per_active_finding(result):
    lines = render(result, "github").splitlines()
    commands = [line for line in lines if line.startswith("::")]
    assert len(commands) == len(result.active)
    assert ("::error file=migrations/0001_bad.sql,line=2,col=1,endLine=2,title=system.syntax-error (error)::"
            'syntax error at or near "SELEC"') in commands
    assert any(c.startswith("::warning file=migrations/0004_client.sql,line=1,") for c in commands)
    assert any(c.startswith("::notice file=migrations/0004_client.sql,line=2,") for c in commands)


def test_github_escapes_properties_and_message():
    line = render(tricky(), "github").splitlines()[0]
    assert line == ("::error file=db/0001_a%2Cb%3Ac;d].sql,line=3,col=7,endLine=4,title=system.syntax-error (error)"
                    "::100%25 wrong;%0D%0Asee [docs]: a, b")


# -- GitLab ------------------------------------------------------------------------------------------


def test_gitlab_is_a_code_quality_report(result):
    issues = json.loads(render(result, "gitlab"))
    assert len(issues) == len(result.active)
    for issue in issues:
        assert set(issue) == {"description", "check_name", "fingerprint", "severity", "location"}
        assert issue["severity"] in {"info", "minor", "major", "critical", "blocker"}
        assert set(issue["location"]) == {"path", "lines"} and issue["location"]["lines"]["begin"] >= 1
    by_rule = {issue["check_name"]: issue for issue in issues}
    assert by_rule["system.empty-file"]["severity"] == "blocker"
    assert by_rule["system.invalid-ignore-directive"]["severity"] == "major"
    assert by_rule["system.client-command"]["severity"] == "info"
    assert len({issue["fingerprint"] for issue in issues}) == len(issues)


def test_gitlab_errors_that_do_not_block_are_critical(result):
    issues = json.loads(render(result, "gitlab", fail_on="never"))
    assert {i["severity"] for i in issues if i["check_name"] == "system.empty-file"} == {"critical"}


# -- SARIF -------------------------------------------------------------------------------------------


def test_sarif_validates_against_the_official_schema(result):
    document = json.loads(render(result, "sarif"))
    jsonschema.Draft4Validator(SARIF_SCHEMA).validate(document)
    jsonschema.Draft4Validator(SARIF_SCHEMA).validate(json.loads(render(tricky(), "sarif")))


def test_sarif_run_has_rules_results_fingerprints_and_suppressions(result):
    run = json.loads(render(result, "sarif"))["runs"][0]
    driver = run["tool"]["driver"]
    assert driver["name"] == "Sluice"
    rules = {r["id"]: r for r in driver["rules"]}
    assert set(rules) == {f.rule for f in result.findings}
    syntax = rules["system.syntax-error"]
    assert "helpUri" not in syntax  # an absolute URI or none: without the server's address, none
    assert syntax["defaultConfiguration"] == {"level": "error"}
    assert syntax["shortDescription"]["text"] and syntax["fullDescription"]["text"]
    assert "Fix the SQL." in syntax["help"]["text"] and "Fix the SQL." in syntax["help"]["markdown"]

    assert len(run["results"]) == len(result.findings)  # suppressed ones too
    suppressed = [r for r in run["results"] if "suppressions" in r]
    assert len(suppressed) == 1 and suppressed[0]["suppressions"][0]["kind"] == "inSource"
    encoding = next(r for r in run["results"] if r["ruleId"] == "system.encoding-error")
    assert encoding["level"] == "error"
    assert encoding["locations"][0]["physicalLocation"] == {
        "artifactLocation": {"uri": "migrations/0003_bytes.sql"},
        "region": {"startLine": 2, "startColumn": 9, "endLine": 2},
    }
    assert encoding["partialFingerprints"] == {"sluice/v1": find(result, "system.encoding-error").fingerprint}
    levels = {r["ruleId"]: r["level"] for r in run["results"]}
    assert levels["system.invalid-ignore-directive"] == "warning"
    assert levels["system.client-command"] == "note"
    assert driver["rules"][encoding["ruleIndex"]]["id"] == "system.encoding-error"


def test_sarif_uri_is_percent_encoded_and_docs_url_is_absolute_when_given():
    run = json.loads(render(tricky(), "sarif", docs_url="https://sluice.example.com/"))["runs"][0]
    assert run["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == \
        "db/0001_a,b%3Ac;d%5D.sql"
    assert run["tool"]["driver"]["rules"][0]["helpUri"] == "https://sluice.example.com/rules/system.syntax-error/"


# -- Azure Pipelines ---------------------------------------------------------------------------------


def test_azure_writes_logissue_commands(result):
    lines = render(result, "azure").splitlines()
    assert ("##vso[task.logissue type=error;sourcepath=migrations/0001_bad.sql;linenumber=2;columnnumber=1;"
            'code=system.syntax-error]syntax error at or near "SELEC"') in lines
    assert any(line.startswith("##vso[task.logissue type=warning;sourcepath=migrations/0004_client.sql;")
               for line in lines)
    # logissue has no info type: infos are plain log lines
    assert any(line.startswith("migrations/0004_client.sql:2:1: info system.client-command:") for line in lines)
    assert len([line for line in lines if line.startswith("##vso[")]) == len(
        [f for f in result.active if f.severity != "info"])


def test_azure_escapes_properties_and_message():
    line = render(tricky(), "azure").splitlines()[0]
    assert line == ("##vso[task.logissue type=error;sourcepath=db/0001_a,b:c%3Bd%5D.sql;linenumber=3;columnnumber=7;"
                    "code=system.syntax-error]100%AZP25 wrong;%0D%0Asee [docs]: a, b")


# -- Markdown ----------------------------------------------------------------------------------------


def test_markdown_is_a_pull_request_comment(result):
    output = render(result, "markdown")
    assert output.startswith(MARKER + "\n")
    assert "### Sluice review: ❌ blocking" in output
    assert "| 3 | 1 | 1 | 1 | 5 | low |" in output
    assert "#### `migrations/0001_bad.sql` (risk: low)" in output
    assert ('- **error** [`system.syntax-error`](/rules/system.syntax-error/) line 2: '
            'syntax error at or near "SELEC"') in output
    assert "line 4" not in output  # the suppressed finding
    assert "0005_fine.sql" not in output  # files without findings are not listed


def test_markdown_collapses_infos(result):
    output = render(result, "markdown")
    section = output[output.index("#### `migrations/0004_client.sql`"):]
    details = section[section.index("<details>"):section.index("</details>")]
    assert "<summary>1 info</summary>" in details
    assert "system.client-command" in details
    assert "system.invalid-ignore-directive" not in details


def test_markdown_escapes_html_and_says_passed():
    finding = Finding("system.syntax-error", "warning", "a <b>|c</b>", "m/1.sql", 1, 1, 1, "", "0" * 32)
    output = render(ReviewResult([FileReview("m/1.sql", "postgres", [finding], "low", 1)]), "markdown")
    assert "a &lt;b&gt;\\|c&lt;/b&gt;" in output
    assert "### Sluice review: ✅ passed" in output


def test_sarif_uri_of_a_path_with_a_colon_in_its_first_segment_has_no_scheme():
    finding = Finding("system.syntax-error", "error", "x", "V1-a:b.sql", 1, 1, 1, "", "0" * 32)
    run = json.loads(render(ReviewResult([FileReview("V1-a:b.sql", "postgres", [finding], "low", 1)]), "sarif"))
    uri = run["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
    assert uri == "V1-a%3Ab.sql" and urlsplit(uri).scheme == ""


# -- text from the SQL is shown, never obeyed ---------------------------------------------------------

# What a migration's author controls: a quoted identifier (in the message), the file's name, its lines.
HOSTILE = ('table "##vso[task.setvariable variable=SLUICE_TOKEN]stolen ##[section]x '
           '##VSO[task.prependpath]/tmp\n::error file=README.md,line=1::fake\x1b[8m\r::warning::cr\u2028::notice::ls"')


def hostile(severity: str = "info", path: str = "m/1_##vso[task.complete result=Failed]\n::error::x.sql") -> ReviewResult:
    finding = Finding("system.syntax-error", severity, HOSTILE, path, 1, 1, 1, "", "0" * 32)
    return ReviewResult([FileReview(path, "postgres", [finding], "low", 1)])


@pytest.mark.parametrize("severity", ["info", "warning", "error"])
def test_azure_lines_never_hold_a_command_from_the_sql(severity):
    lines = render(hostile(severity), "azure").splitlines()
    assert len(lines) == 2  # the finding and the summary
    for line in lines:
        # The agent runs `##vso[` and formats `##[` wherever they stand in a line, in any case.
        rest = line.lower().removeprefix("##vso[task.logissue ")
        assert "##vso[" not in rest and "##[" not in rest and "\x1b" not in line
    assert "#\u200b#vso[task.setvariable" in lines[0]


def test_github_and_text_lines_never_start_a_command_from_the_sql():
    result = hostile("error")
    github = render(result, "github").splitlines()
    assert len(github) == 2 and github[0].startswith("::error file=m/1_##vso[task.complete result=Failed]%0A")
    text = render(result, "text", sources={result.files[0].path: "SELECT 1;\x1b[8m\rhidden\u2028::error::x;\n"})
    assert not any(line.startswith("::") for line in text.splitlines())
    for output in (github, text.splitlines()):
        assert not any(ch in line for line in output for ch in "\x1b\r\u2028")
    assert "fake\\x1b[8m\\r::warning::cr\\u2028::notice::ls" in text
    assert "    1 | SELECT 1;\\x1b[8m\\rhidden\\u2028::error::x;" in text


def test_text_caret_counts_an_escaped_control_character_at_its_width():
    finding = Finding("system.syntax-error", "error", "m", "m/1.sql", 1, 4, 1, "", "0" * 32)
    lines = render(ReviewResult([FileReview("m/1.sql", "postgres", [finding], "low", 1)]), "text",
                   sources={"m/1.sql": "a\x1bbX;\n"}).splitlines()
    assert lines[1] == "    1 | a\\x1bbX;"
    assert lines[2].index("^") == lines[1].index("X")


def test_text_excerpt_splits_lines_as_the_engine_counts_them():
    # U+2028, a form feed and a lone CR end no line for the engine; CRLF does (its CR not shown).
    sql = "-- note\u2028continued\r\nSELECT 1;\x0c\rSELECT 2;\nDROP TABLE x;\n"
    result = review_files([("m/0001_ls.sql", sql)], "postgres", Policy.recommended())
    drop = find(result, "table.disallow-drop")
    assert drop.line == 3
    lines = render(result, "text", sources={"m/0001_ls.sql": sql}).splitlines()
    assert lines[lines.index(next(line for line in lines if ":3:1: error table.disallow-drop" in line)) + 1] == \
        "    3 | DROP TABLE x;"


def test_every_format_shows_a_file_name_that_is_not_utf8_with_escapes():
    path = os.fsdecode(b"m/1_\xffbad.sql")
    finding = Finding("system.syntax-error", "error", "x", path, 1, 1, 1, "", "0" * 32)
    result = ReviewResult([FileReview(path, "postgres", [finding], "low", 1)])
    for fmt in FORMATS:
        output = render(result, fmt)
        output.encode("utf-8")  # (a lone surrogate would raise here)
        assert ("m/1_%FFbad.sql" if fmt == "sarif" else "1_\\xffbad.sql") in (
            output if fmt not in ("json", "gitlab") else json.loads(output).__repr__().replace("\\\\", "\\"))


def test_markdown_shows_text_from_the_sql_as_written():
    message = ('unique index u on existing table "@octo-org/admins ![pixel](https://evil.example/p.png) '
               '[click](https://evil.example) www.evil.example *bold* _it_ <img src=x> `x\x1b" fails')
    finding = Finding("system.syntax-error", "warning", message, "m/11_``.sql", 1, 1, 1, "", "0" * 32)
    output = render(ReviewResult([FileReview("m/11_``.sql", "postgres", [finding], "low", 1)]), "markdown")
    item = next(line for line in output.splitlines() if line.startswith("- **warning**"))
    shown = item[item.index("line 1: ") + len("line 1: "):]
    assert "@\u200bocto-org" in shown  # no mention
    assert "\\!\\[pixel\\]\\(https:\u200b//evil.example/p.png\\)" in shown  # no image, no link, no autolink
    assert "\\[click\\]" in shown and "www\u200b.evil" in shown
    assert "\\*bold\\* \\_it\\_ &lt;img src=x&gt; \\`x\\\\x1b" in shown
    assert "\x1b" not in output
    assert "#### ``` m/11_``.sql ``` (risk: low)" in output  # the fence outlasts the name's own backticks


# -- what a release would refuse of a file ---------------------------------------------------------


def refused() -> ReviewResult:
    """A file a release refuses twice: a run directive (at its line) and its name (no line)."""
    review = FileReview("m/seed.sql", "postgres", [], "low", 1)
    review.refuse("this reads as the directive `sluice:transaction` but lacks its colon", 3)
    review.refuse("bad migration file name: expected <version>_<description>.sql")
    return ReviewResult([review])


def test_each_refusal_is_an_error_of_the_file_at_its_line_in_every_format():
    result = refused()
    document = json.loads(render(result, "json"))
    assert document["errors"] == [
        {"file": "m/seed.sql", "message": "this reads as the directive `sluice:transaction` but lacks its colon",
         "line": 3},
        {"file": "m/seed.sql", "message": "bad migration file name: expected <version>_<description>.sql"},
    ]
    assert (document["summary"]["errors"], document["summary"]["blocking"]) == (2, True)
    text = render(result, "text")
    assert "m/seed.sql:3: error: this reads as the directive" in text
    assert "m/seed.sql: error: bad migration file name" in text
    assert "0 errors, 0 warnings, 0 infos, 2 file errors" in text
    github = render(result, "github").splitlines()
    assert github[0].startswith("::error file=m/seed.sql,line=3,title=a release would refuse this file::")
    assert github[1].startswith("::error file=m/seed.sql,title=a release would refuse this file::bad migration")
    gitlab = json.loads(render(result, "gitlab"))
    assert [(i["location"]["lines"]["begin"], i["severity"]) for i in gitlab] == [(3, "blocker"), (1, "blocker")]
    assert len({i["fingerprint"] for i in gitlab}) == 2
    sarif = json.loads(render(result, "sarif"))
    jsonschema.validate(sarif, SARIF_SCHEMA)
    [notes] = [run["invocations"][0]["toolExecutionNotifications"] for run in sarif["runs"]]
    assert [n["locations"][0]["physicalLocation"].get("region") for n in notes] == [{"startLine": 3}, None]
    azure = render(result, "azure").splitlines()
    assert azure[0].startswith("##vso[task.logissue type=error;sourcepath=m/seed.sql;linenumber=3]")
    assert azure[1].startswith("##vso[task.logissue type=error;sourcepath=m/seed.sql]bad migration")
    markdown = render(result, "markdown")
    assert "- `m/seed.sql` line 3: this reads as the directive" in markdown
    assert "- `m/seed.sql`: bad migration file name" in markdown
