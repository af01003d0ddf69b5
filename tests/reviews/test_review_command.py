"""`manage.py review FILE… --dialect …` (design.md §6): run as a user would, on real files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from reviews import cli
from reviews.engine import RULES, Policy
from reviews.formats import FORMATS
from reviews.models import ReviewPolicy, RuleSetting
from tests.helpers import ROOT, manage


def write(folder: Path, name: str, content: str | bytes) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def implemented(rule_id: str) -> bool:
    Policy.recommended()  # loads the rule families
    return rule_id in RULES and RULES[rule_id].implemented


@pytest.fixture
def blocking(tmp_path) -> Path:
    return write(tmp_path, "migrations/0001_bad.sql", "SELECT 1;\nSELEC 1;\n")


@pytest.fixture
def clean(tmp_path) -> Path:
    return write(tmp_path, "migrations/0002_fine.sql", "SELECT 1;\n")


def test_it_prints_located_findings_and_exits_1(blocking):
    run = manage("review", str(blocking), "--dialect", "postgres")
    assert run.returncode == 1, run.stderr
    assert f'{blocking.as_posix()}:2:1: error system.syntax-error: syntax error at or near "SELEC"' in run.stdout
    assert "    2 | SELEC 1;\n      | ^" in run.stdout
    assert run.stdout.rstrip().splitlines()[-1].startswith("1 file reviewed: 1 error,")
    assert run.stderr == ""


def test_it_exits_0_when_nothing_blocks(clean):
    run = manage("review", str(clean), "--dialect", "sqlite")
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "1 file reviewed: 0 errors, 0 warnings, 0 infos; risk low; passed"


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_exits_1_on_blocking_findings(tmp_path, blocking, fmt):
    run = manage("review", str(blocking), "--dialect", "postgres", "--format", fmt)
    assert run.returncode == 1, run.stderr
    if fmt in ("json", "gitlab", "sarif"):
        json.loads(run.stdout)
    assert "system.syntax-error" in run.stdout


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_exits_0_on_a_clean_file(clean, fmt):
    # In process: the exit code comes from the same function that main() returns.
    out: list[str] = []
    assert cli.execute({"files": [str(clean)], "dialect": "mysql", "format": fmt}, out.append, out.append) == 0
    assert len(out) == 1


def test_a_folder_means_every_sql_file_under_it_sorted(tmp_path):
    folder = tmp_path / "migrations"
    write(folder, "b/0003_c.sql", "")
    write(folder, "0002_b.sql", "")
    write(folder, "0001_a.sql", "")
    write(folder, "README.md", "not a migration")
    run = manage("review", str(folder), "--dialect", "sqlite", "--format", "json")
    assert run.returncode == 1, run.stderr
    document = json.loads(run.stdout)
    assert document["summary"]["files"] == 3
    assert [f["file"] for f in document["findings"]] == [
        (folder / "0001_a.sql").as_posix(), (folder / "0002_b.sql").as_posix(), (folder / "b/0003_c.sql").as_posix()]
    assert {f["rule"] for f in document["findings"]} == {"system.empty-file"}


def test_several_files_and_folders_each_reviewed_once(tmp_path, blocking, clean):
    run = manage("review", str(blocking), str(blocking.parent), "--dialect", "postgres", "--format", "json")
    assert json.loads(run.stdout)["summary"]["files"] == 2


def test_a_missing_file_exits_2_naming_it(tmp_path, clean):
    missing = tmp_path / "migrations" / "0009_gone.sql"
    run = manage("review", str(clean), str(missing), "--dialect", "postgres")
    assert run.returncode == 2
    assert run.stderr.strip() == f"error: {missing}: no such file or folder"
    assert run.stdout == ""


def test_a_folder_without_sql_files_exits_2(tmp_path):
    write(tmp_path, "docs/README.md", "hello")
    run = manage("review", str(tmp_path / "docs"), "--dialect", "postgres")
    assert run.returncode == 2
    assert "docs: no .sql files under this folder" in run.stderr


def test_an_unreadable_file_exits_2_naming_it(tmp_path, monkeypatch, blocking):
    def refuse(self):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(Path, "read_bytes", refuse)
    lines: list[str] = []
    code = cli.execute({"files": [str(blocking)], "dialect": "postgres"}, lines.append, lines.append)
    assert code == 2
    assert lines == [f"error: {blocking.as_posix()}: cannot read the file: Permission denied"]


def test_bad_bytes_are_reviewed_not_refused(tmp_path):
    path = write(tmp_path, "0001_latin1.sql", "SELECT 'café';\n".encode("latin-1"))
    run = manage("review", str(path), "--dialect", "postgres", "--format", "json")
    assert run.returncode == 1, run.stderr
    finding = next(f for f in json.loads(run.stdout)["findings"] if f["rule"] == "system.encoding-error")
    assert (finding["line"], finding["column"]) == (1, 12)


@pytest.mark.parametrize("args", [
    ["--dialect", "postgres", "--format", "xml"],
    ["--dialect", "oracle"],
    ["--dialect", "postgres", "--fail-on", "sometimes"],
    ["--dialect", "postgres", "--policy", "strict", "--all-rules"],
    [],  # no --dialect
])
def test_usage_errors_exit_2(blocking, args):
    run = manage("review", str(blocking), *args)
    assert run.returncode == 2
    assert "usage: manage.py review" in run.stderr


def test_fail_on_never_exits_0(blocking):
    run = manage("review", str(blocking), "--dialect", "postgres", "--fail-on", "never")
    assert run.returncode == 0
    assert run.stdout.rstrip().endswith("; passed")
    assert "system.syntax-error" in run.stdout


def test_fail_on_warning_blocks_on_warnings(tmp_path):
    path = write(tmp_path, "0001_directive.sql", "-- sluice:ignore no.such-rule\nSELECT 1;\n")
    assert manage("review", str(path), "--dialect", "postgres").returncode == 0
    run = manage("review", str(path), "--dialect", "postgres", "--fail-on", "warning")
    assert run.returncode == 1
    assert "warning system.invalid-ignore-directive" in run.stdout


def test_output_writes_the_report_to_a_file(tmp_path, blocking):
    target = tmp_path / "report.sarif"
    run = manage("review", str(blocking), "--dialect", "postgres", "--format", "sarif", "--output", str(target))
    assert run.returncode == 1
    assert run.stdout == ""
    assert json.loads(target.read_text(encoding="utf-8"))["version"] == "2.1.0"
    assert run.stderr.startswith(f"sarif report written to {target}: 1 file reviewed: 1 error")


def test_policy_strict_raises_warnings_to_errors(tmp_path):
    if not implemented("index.drop-concurrently"):
        pytest.fail("index.drop-concurrently is not implemented")
    path = write(tmp_path, "0001_drop_index.sql", "DROP INDEX idx_users_email;\n")
    recommended = manage("review", str(path), "--dialect", "postgres", "--format", "json")
    strict = manage("review", str(path), "--dialect", "postgres", "--format", "json", "--policy", "strict")
    found = {name: {f["rule"]: f["severity"] for f in json.loads(run.stdout)["findings"]}
             for name, run in (("recommended", recommended), ("strict", strict))}
    assert found["recommended"]["index.drop-concurrently"] == "warning"
    assert found["strict"]["index.drop-concurrently"] == "error"
    assert strict.returncode == 1


def test_all_rules_turns_on_opt_in_rules(tmp_path):
    if not implemented("statement.where.require.select"):
        pytest.fail("statement.where.require.select is not implemented")
    path = write(tmp_path, "0001_select.sql", "SELECT a FROM t;\n")
    default = manage("review", str(path), "--dialect", "sqlite", "--format", "json")
    everything = manage("review", str(path), "--dialect", "sqlite", "--format", "json", "--all-rules")
    assert "statement.where.require.select" not in {f["rule"] for f in json.loads(default.stdout)["findings"]}
    assert "statement.where.require.select" in {f["rule"] for f in json.loads(everything.stdout)["findings"]}
    assert everything.returncode in (0, 1), everything.stderr


@pytest.mark.slow
def test_a_5_mb_file_is_reviewed_without_error(tmp_path):
    # ~25,000 statements of 200 bytes: the engine's cost is per statement (the rules), so
    # shorter ones would only make the suite slower, not the test stronger.
    line = "INSERT INTO t (a, b) VALUES (1, '" + "x" * 160 + "');\n"
    path = write(tmp_path, "0001_big_dml.sql", line * (5_000_000 // len(line) + 1))
    assert path.stat().st_size >= 5_000_000
    report = tmp_path / "report.json"
    run = manage("review", str(path), "--dialect", "sqlite", "--format", "json", "--output", str(report), timeout=600)
    assert run.returncode in (0, 1), run.stderr
    document = json.loads(report.read_text(encoding="utf-8"))
    assert document["summary"]["files"] == 1 and document["errors"] == []
    assert not [f for f in document["findings"] if f["rule"].startswith("system.")]


def without_django(args: list[str], var_dir: Path) -> subprocess.CompletedProcess:
    """reviews.cli.main(args) in its own process, the control database under `var_dir`; fails if Django starts."""
    code = ("import sys; from reviews.cli import main; "
            f"code = main({args!r}); "
            "assert not any(m == 'django' or m.startswith('django.') for m in sys.modules), 'django imported'; "
            "sys.exit(code)")
    env = {key: value for key, value in os.environ.items() if key != "DATABASE_URL"}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120,
                          env={**env, "SLUICE_VAR_DIR": str(var_dir)})


def test_a_template_policy_does_not_start_django(tmp_path, blocking):
    # (without a control database: with one, the stored policy of that name is read)
    run = without_django(["review", str(blocking), "--dialect", "postgres", "--policy", "strict"], tmp_path / "var")
    assert run.returncode == 1, run.stderr
    assert not (tmp_path / "var" / "sluice.sqlite3").exists()


def test_no_policy_named_does_not_start_django_even_with_a_control_database(tmp_path, blocking):
    write(tmp_path, "var/sluice.sqlite3", b"")
    run = without_django(["review", str(blocking), "--dialect", "postgres"], tmp_path / "var")
    assert run.returncode == 1, run.stderr


# -- a policy stored in the control database (in process, on the test database) ----------------------


@pytest.mark.django_db
def test_a_stored_policy_is_loaded_from_the_database(tmp_path):
    path = write(tmp_path, "0001_drop.sql", "DROP TABLE users;\n")
    policy = ReviewPolicy.objects.create(name="lenient")
    RuleSetting.objects.create(policy=policy, rule_id="table.disallow-drop", severity="warning")
    out: list[str] = []
    code = cli.execute({"files": [str(path)], "dialect": "postgres", "policy": "lenient", "format": "json"},
                       out.append, out.append)
    assert code == 0
    assert [f["severity"] for f in json.loads(out[0])["findings"] if f["rule"] == "table.disallow-drop"] == ["warning"]


@pytest.mark.django_db
def test_a_named_template_is_the_stored_one_as_in_ci(tmp_path):
    path = write(tmp_path, "0001_drop.sql", "DROP TABLE users;\n")
    for name in ("recommended", "strict"):  # tuned in the admin: the checks API applies these rows
        policy = ReviewPolicy.objects.get(name=name)
        RuleSetting.objects.create(policy=policy, rule_id="table.disallow-drop", severity="warning")

    def severity(**opts) -> str:
        out: list[str] = []
        cli.execute({"files": [str(path)], "dialect": "postgres", "format": "json", **opts}, out.append, out.append)
        [found] = [f["severity"] for f in json.loads(out[0])["findings"] if f["rule"] == "table.disallow-drop"]
        return found

    assert severity(policy="recommended") == "warning"
    assert severity(policy="strict") == "warning"
    assert severity() == "error"  # no policy named: the built-in recommended (review-rules.md §0)


def test_a_named_template_is_the_built_in_one_when_the_control_database_cannot_be_read(tmp_path, blocking):
    write(tmp_path, "var/sluice.sqlite3", b"")  # a file, but no tables
    run = manage("review", str(blocking), "--dialect", "postgres", "--policy", "strict",
                 env={"SLUICE_VAR_DIR": str(tmp_path / "var"), "DATABASE_URL": ""})
    assert run.returncode == 1, run.stderr
    assert run.stderr.startswith("note: cannot read policy 'strict' from the control database: ")
    assert run.stderr.rstrip().endswith("using the built-in strict template")


@pytest.mark.django_db
def test_an_unknown_stored_policy_exits_2(blocking):
    ReviewPolicy.objects.create(name="team")
    err: list[str] = []
    code = cli.execute({"files": [str(blocking)], "dialect": "postgres", "policy": "nope"}, err.append, err.append)
    assert code == 2
    assert err == ["error: unknown policy 'nope': expected one of recommended, strict, team"]


@pytest.mark.django_db
def test_the_management_command_wraps_the_same_function(blocking, clean):
    with pytest.raises(CommandError) as raised:
        call_command("review", str(blocking), "--dialect", "postgres")
    assert raised.value.returncode == 1
    stdout = StringIO()
    call_command("review", str(clean), "--dialect", "postgres", "--format", "json", stdout=stdout)
    assert json.loads(stdout.getvalue())["summary"]["blocking"] is False


def test_many_files_reviewed_in_processes_give_the_same_report(tmp_path):
    for n in range(80):
        write(tmp_path, f"m/{n:04d}_x.sql", f"CREATE TABLE t{n} (id int);\nDROP TABLE old{n};\nSELEC {n};\n")
    reports = []
    for jobs in ("1", "2"):
        out = tmp_path / f"report{jobs}.json"
        result = manage("review", str(tmp_path / "m"), "--dialect", "postgres", "--format", "json",
                        "--output", str(out), "--jobs", jobs)
        assert result.returncode == 1, result.stderr
        reports.append(json.loads(out.read_text()))
    assert reports[0] == reports[1]
    assert reports[0]["summary"]["files"] == 80
    assert [f["file"] for f in reports[0]["findings"]][:1] == [f"{tmp_path}/m/0000_x.sql"]


# -- input that must be refused, never skipped or hung on ------------------------------------------------


def test_a_subfolder_that_cannot_be_listed_exits_2_naming_it(tmp_path, monkeypatch):
    write(tmp_path, "m/0001_a.sql", "SELECT 1;\n")
    write(tmp_path, "m/sub/0002_b.sql", "DROP TABLE x;\n")
    scandir = os.scandir

    def refuse(path="."):
        if os.fspath(path).endswith("sub"):
            raise PermissionError(13, "Permission denied", os.fspath(path))
        return scandir(path)

    monkeypatch.setattr(os, "scandir", refuse)
    err: list[str] = []
    code = cli.execute({"files": [str(tmp_path / "m")], "dialect": "postgres"}, err.append, err.append)
    assert code == 2
    assert err == [f"error: {(tmp_path / 'm/sub').as_posix()}: cannot list the folder: Permission denied"]


def test_a_broken_symlink_in_a_folder_exits_2_naming_it(tmp_path):
    write(tmp_path, "m/0001_a.sql", "SELECT 1;\n")
    (tmp_path / "m/0002_gone.sql").symlink_to(tmp_path / "nowhere.sql")
    run = manage("review", str(tmp_path / "m"), "--dialect", "postgres")
    assert run.returncode == 2
    assert run.stderr.strip() == f"error: {(tmp_path / 'm/0002_gone.sql').as_posix()}: broken symbolic link"


@pytest.mark.parametrize("given", ["fifo", "folder"])
def test_a_fifo_is_refused_not_read(tmp_path, given):
    folder = tmp_path / "m"
    folder.mkdir()
    os.mkfifo(folder / "0001_pipe.sql")
    run = manage("review", str(folder / "0001_pipe.sql" if given == "fifo" else folder), "--dialect", "postgres",
                 timeout=30)  # (reading it would wait for a writer for ever)
    assert run.returncode == 2
    assert run.stderr.strip() == f"error: {(folder / '0001_pipe.sql').as_posix()}: not a regular file"


def test_output_refuses_to_overwrite_a_file_under_review(tmp_path):
    migration = write(tmp_path, "m/0001_a.sql", "DROP TABLE legacy;\n")
    write(tmp_path, "m/0002_b.sql", "SELECT 1;\n")
    run = manage("review", str(tmp_path / "m"), "--dialect", "postgres", "--output", str(migration))
    assert run.returncode == 2
    assert run.stderr.strip() == (f"error: {migration.as_posix()}: --output names a file under review: "
                                  "the report would replace it")
    assert migration.read_text(encoding="utf-8") == "DROP TABLE legacy;\n"


@pytest.mark.parametrize("args", [["--jobs", "0"], ["--jobs", "-3"], ["--policy", ""]])
def test_bad_jobs_and_empty_policy_are_usage_errors(blocking, args):
    run = manage("review", str(blocking), "--dialect", "postgres", *args)
    assert run.returncode == 2
    assert "usage: manage.py review" in run.stderr


def test_a_stored_policy_without_a_control_database_exits_3_and_creates_none(tmp_path, blocking):
    database = tmp_path / "control.sqlite3"
    run = manage("review", str(blocking), "--dialect", "postgres", "--policy", "team",
                 env={"DATABASE_URL": f"sqlite:///{database}", "SLUICE_VAR_DIR": str(tmp_path / "var")})
    assert run.returncode == 3
    assert run.stderr.startswith("error: cannot read policy 'team' from the control database: ")
    assert not database.exists()


# -- what the report shows ------------------------------------------------------------------------------


def test_azure_never_prints_a_command_from_the_sql(tmp_path):
    # The auditor's input: an info finding on a quoted table name.
    path = write(tmp_path, "0002_info.sql", "-- sluice:lock-timeout 2s\n-- sluice:statement-timeout 1min\n"
                 "DROP INDEX CONCURRENTLY IF EXISTS u;\n"
                 'CREATE UNIQUE INDEX CONCURRENTLY u ON "##vso[task.setvariable variable=SLUICE_TOKEN]stolen" '
                 "(email);\n")
    run = manage("review", str(path), "--dialect", "postgres", "--format", "azure")
    assert run.returncode == 0, run.stderr
    assert "info index.unique-data-dependent" in run.stdout
    assert "##vso[" not in run.stdout.lower() and "##[" not in run.stdout
    # A warning is the formatter's own command; the name in its message still cannot start one.
    path.write_text(path.read_text().replace("DROP INDEX CONCURRENTLY IF EXISTS u;\n", ""))
    run = manage("review", str(path), "--dialect", "postgres", "--format", "azure")
    commands = [line for line in run.stdout.splitlines() if "##" in line]
    assert [line.split("]")[0] for line in commands] == [
        f"##vso[task.logissue type=warning;sourcepath={path};linenumber=3;columnnumber=1;"
        "code=statement.prefer-robust-stmts"]
    assert all(line.count("##") == 1 for line in commands)


def test_text_never_lets_the_sql_start_a_line(tmp_path):
    path = write(tmp_path, "nl.sql", 'DROP TABLE "legacy\n::error file=README.md,line=1::fake\x1b[8m";\n')
    run = manage("review", str(path), "--dialect", "postgres")
    assert run.returncode == 1, run.stderr
    assert not [line for line in run.stdout.split("\n") if line.startswith("::")]
    assert "\x1b" not in run.stdout
    assert 'DROP TABLE legacy\\n::error file=README.md,line=1::fake\\x1b[8m loses its data' in run.stdout


def test_text_excerpt_of_a_utf16_file_is_its_decoded_text(tmp_path):
    path = write(tmp_path, "0001_utf16.sql", "SELECT 1;\nDROP TABLE x;\n".encode("utf-16"))
    run = manage("review", str(path), "--dialect", "postgres")
    assert "    1 | SELECT 1;\n      | ^" in run.stdout  # the encoding error
    assert "    2 | DROP TABLE x;\n      | ^" in run.stdout


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_file_name_that_is_not_utf8_is_shown_with_escapes(tmp_path, fmt):
    folder = tmp_path / "m"
    folder.mkdir()
    Path(os.fsdecode(os.fsencode(folder) + b"/0001_\xffbad.sql")).write_text("DROP TABLE x;\n")
    run = manage("review", str(folder), "--dialect", "postgres", "--format", fmt)
    assert run.returncode == 1, run.stderr
    assert ("0001_%FFbad.sql" if fmt == "sarif" else "0001_\\\\xffbad.sql" if fmt in ("json", "gitlab")
            else "0001_\\xffbad.sql") in run.stdout


@pytest.mark.parametrize("fmt", ["text", "markdown"])
def test_a_stream_that_is_not_utf8_gets_escapes_not_a_crash(tmp_path, fmt):
    # (The timeouts set: the findings' messages hold "…", which cp1252 has and this test reads as UTF-8.)
    path = write(tmp_path, "0001_cjk.sql", "SET lock_timeout = '2s';\nSET statement_timeout = '1min';\n"
                                           "DROP TABLE legacy; -- 删除旧表\n")
    run = manage("review", str(path), "--dialect", "postgres", "--format", fmt, env={"PYTHONIOENCODING": "cp1252"})
    assert run.returncode == 1, run.stderr
    assert "Traceback" not in run.stderr
    assert ("\\u5220\\u9664" if fmt == "text" else "\\u274c blocking") in run.stdout


def test_text_excerpt_of_a_file_of_lone_crs_is_the_findings_line(tmp_path):
    # The engine reads a file whose only line breaks are CRs (old Mac) line by line.
    path = write(tmp_path, "0001_cr.sql", b"SELECT 1;\rDROP TABLE x;\r")
    run = manage("review", str(path), "--dialect", "postgres", "--format", "text")
    assert ":2:1: error table.disallow-drop:" in run.stdout, run.stderr
    assert "    2 | DROP TABLE x;\n      | ^" in run.stdout


def test_a_run_directive_the_release_would_refuse_is_an_error_of_the_file(tmp_path):
    """A pre-commit hook must not pass what the release refuses: `-- sluice transaction off` (no
    colon) would be ignored, so the loader refuses it; the offline review says so, as checks do."""
    bad = write(tmp_path, "migrations/0001_bad.sql", "-- sluice transaction off\nSELECT 1;\n")
    fine = write(tmp_path, "migrations/0002_fine.sql", "-- sluice:transaction off\nSELECT 1;\n")
    run = manage("review", str(bad), str(fine), "--dialect", "postgres", "--format", "json")
    assert run.returncode == 1, run.stderr
    document = json.loads(run.stdout)
    assert document["summary"]["blocking"] is True
    [error] = document["errors"]
    assert (error["file"], error["line"]) == (bad.as_posix(), 1)
    assert error["message"].startswith("this reads as the directive")
    assert manage("review", str(bad), "--dialect", "postgres", "--fail-on", "never").returncode == 0
    text = manage("review", str(bad), "--dialect", "postgres")
    assert f"{bad.as_posix()}:1: error: this reads as" in text.stdout and "1 file error" in text.stdout


def test_a_name_or_version_the_release_would_refuse_is_an_error_of_the_file(tmp_path):
    """design.md §2: every .sql of the migrations folder must be `<version>_<description>.sql`, one
    version per file. The checks API lists what breaks that; a pre-commit hook must agree."""
    first = write(tmp_path, "m/0001_users.sql", "SELECT 1;\n")
    unnamed = write(tmp_path, "m/add_orders.sql", "SELECT 1;\n")
    again = write(tmp_path, "m/2024/1_orders.sql", "SELECT 1;\n")  # version 1 = 0001, in a subfolder
    elsewhere = write(tmp_path, "other/0001_users.sql", "SELECT 1;\n")  # another migrations folder
    run = manage("review", str(tmp_path / "m"), str(tmp_path / "other"), "--dialect", "postgres", "--format", "json")
    assert run.returncode == 1, run.stderr
    document = json.loads(run.stdout)
    assert document["summary"]["blocking"] is True and document["summary"]["files"] == 4
    assert document["summary"]["errors"] == 2  # each file a release refuses, as a check counts it
    assert {e["file"]: e["message"] for e in document["errors"]} == {
        unnamed.as_posix(): "bad migration file name: expected <version>_<description>.sql, "
                            "e.g. 202501150900_add_user_table.sql or V1.2__seed_dml.sql",
        again.as_posix(): f"duplicate version 1: {first.as_posix()} has the same version",
    }
    # Files named one by one: each in its own folder (the two 0001 are apart), the names still checked.
    run = manage("review", str(first), str(elsewhere), str(unnamed), "--dialect", "postgres", "--format", "json")
    assert [e["file"] for e in json.loads(run.stdout)["errors"]] == [unnamed.as_posix()]
    # Not blocking with --fail-on never, but still said; with a bad directive too, both are said.
    write(tmp_path, "m/add_orders.sql", "-- sluice transaction off\nSELECT 1;\n")
    text = manage("review", str(unnamed), "--dialect", "postgres", "--fail-on", "never")
    assert text.returncode == 0, text.stderr
    assert f"{unnamed.as_posix()}:1: error: this reads as the directive" in text.stdout
    assert f"{unnamed.as_posix()}: error: bad migration file name: expected <version>_<description>.sql" in text.stdout
    assert "0 errors, 0 warnings, 0 infos, 2 file errors" in text.stdout
    for fmt in ("github", "gitlab", "sarif", "azure", "markdown"):
        out = manage("review", str(unnamed), "--dialect", "postgres", "--format", fmt, "--fail-on", "never")
        assert "bad migration file name" in out.stdout, fmt
    github = manage("review", str(unnamed), "--dialect", "postgres", "--format", "github").stdout
    assert f"::error file={unnamed.as_posix()},line=1,title=a release would refuse this file::this reads" in github
