"""`manage.py apply | history | repair | baseline` as a user runs them: output and exit codes."""

from __future__ import annotations

import json

import pytest

from tests.helpers import history_rows, manage, table_exists

pytestmark = pytest.mark.slow

INIT = "CREATE TABLE customers (id integer PRIMARY KEY, name varchar(100));\n"
SEED = "INSERT INTO customers (id, name) VALUES (1, 'a'), (2, 'b');\n"


def with_password(url: str, password: str = "hunter2") -> str:
    scheme, rest = url.split("://", 1)
    user, host = rest.split("@", 1)
    return f"{scheme}://{user}:{password}@{host}"


def test_apply_prints_each_file_and_a_summary_then_skips_on_rerun(pg_url, migrations):
    migrations.write("0001_init.sql", INIT)
    migrations.write("0002_seed_dml.sql", SEED)
    first = manage("apply", "--target", pg_url, "--dir", str(migrations))
    assert first.returncode == 0, first.stderr
    lines = first.stdout.splitlines()
    assert lines[0].startswith("Applying to postgresql://postgres@127.0.0.1:5432/sluice_t_")
    assert lines[0].endswith(": 2 migration file(s)")
    assert "  → 0001_init.sql: applying 1 statement(s)…" in lines
    assert any(line.startswith("  ✓ 0002_seed_dml.sql: applied 1 statement(s) in ") and line.endswith(", 2 row(s)")
               for line in lines)
    assert lines[-1].startswith("Done: 2 applied in ")

    again = manage("apply", "--target", pg_url, "--dir", str(migrations))
    assert again.returncode == 0
    assert "  · 0001_init.sql: skipped (already applied)" in again.stdout.splitlines()
    assert again.stdout.splitlines()[-1].startswith("Done: 2 skipped in ")


def test_dry_run_prints_the_plan_and_statements_and_changes_nothing(sqlite_url, migrations):
    migrations.write("0001_init.sql", "-- first\n" + INIT)
    result = manage("apply", "--target", sqlite_url, "--dir", str(migrations), "--dry-run")
    assert result.returncode == 0, result.stderr
    assert "  0001_init.sql: would apply 1 statement(s)" in result.stdout
    assert "    -- line 2\n    CREATE TABLE customers (id integer PRIMARY KEY, name varchar(100));" in result.stdout
    assert result.stdout.splitlines()[-1].startswith("Dry run: 1 would-apply in ")
    assert not table_exists(sqlite_url, "sluice_schema_history")


def test_bad_files_exit_2_before_connecting(migrations):
    migrations.write("0001_init.sql", INIT)
    migrations.write("0001_again.sql", INIT)
    migrations.write("notes.sql", "SELECT 1;")
    migrations.write("0002_latin1.sql", b"SELECT '\xe9';")
    migrations.write("0003_empty.sql", "")
    # Port 1: if it tried to connect it would fail with exit 3, not 2.
    result = manage("apply", "--target", "postgresql://postgres:hunter2@127.0.0.1:1/nodb", "--dir", str(migrations))
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "error: invalid migration files, nothing applied:",
        "0001_init.sql: duplicate version 0001: 0001_again.sql has the same version",
        "0002_latin1.sql:1 (byte offset 8): is not valid UTF-8: byte 0xe9 cannot be decoded; re-save it as UTF-8",
        "0003_empty.sql: is empty: a migration needs at least one statement",
        "notes.sql: bad migration file name: expected <version>_<description>.sql, "
        "e.g. 202501150900_add_user_table.sql or V1.2__seed_dml.sql",
    ]
    assert "hunter2" not in result.stdout + result.stderr


def test_an_unreachable_database_exits_3_without_showing_the_password(migrations):
    migrations.write("0001_init.sql", INIT)
    result = manage("apply", "--target", "postgresql://postgres:hunter2@127.0.0.1:1/nodb", "--dir", str(migrations))
    assert result.returncode == 3
    assert "error: cannot connect to postgresql://postgres:***@127.0.0.1:1/nodb" in result.stderr
    assert "hunter2" not in result.stdout + result.stderr


@pytest.mark.parametrize("url, message", [
    ("ftp://host/db", "unsupported scheme 'ftp'"),
    ("postgresql://host", "the URL names no database"),
    ("nonsense", "expected a URL such as"),
])
def test_a_bad_target_url_exits_2(url, message, migrations):
    migrations.write("0001_init.sql", INIT)
    result = manage("apply", "--target", url, "--dir", str(migrations))
    assert result.returncode == 2
    assert message in result.stderr


def test_the_password_in_a_url_is_never_printed(pg_url, migrations):
    migrations.write("0001_init.sql", INIT)
    migrations.write("0002_broken.sql", "INSERT INTO nowhere VALUES (1);")
    result = manage("apply", "--target", with_password(pg_url), "--dir", str(migrations))
    assert result.returncode == 1
    assert "postgres:***@127.0.0.1" in result.stdout
    assert "hunter2" not in result.stdout + result.stderr


def test_a_failed_statement_exits_1_naming_database_file_line_and_statement(mysql_url, migrations):
    migrations.write("0001_init.sql", INIT + "\nINSERT INTO nowhere (id) VALUES (1);\n")
    result = manage("apply", "--target", mysql_url, "--dir", str(migrations))
    assert result.returncode == 1
    database = mysql_url.rsplit("/", 1)[1]
    assert f"error: {database}@127.0.0.1: 0001_init.sql:3: statement 2 of 2 failed: " in result.stderr
    assert "  statement: INSERT INTO nowhere (id) VALUES (1)" in result.stderr
    assert "(error 1146)" in result.stderr  # the server's own message and code
    assert history_rows(mysql_url) == {"0001": ("partial", 1, 2)}


def test_history_in_text_and_json(sqlite_url, migrations):
    migrations.write("0001_init.sql", INIT)
    migrations.write("0002_seed_dml.sql", SEED)
    assert manage("apply", "--target", sqlite_url, "--dir", str(migrations)).returncode == 0
    text = manage("history", "--target", sqlite_url)
    assert text.returncode == 0
    assert text.stdout.splitlines()[1].startswith("0001             applied         1/1  ")
    data = json.loads(manage("history", "--target", sqlite_url, "--format", "json").stdout)
    assert [(r["version"], r["kind"], r["status"]) for r in data] == [("0001", "ddl", "applied"), ("0002", "dml", "applied")]


def test_repair_and_baseline_commands(mysql_url, migrations):
    migrations.write("0001_init.sql", INIT + "INSERT INTO nope VALUES (1);\n")
    assert manage("apply", "--target", mysql_url, "--dir", str(migrations)).returncode == 1
    refused = manage("apply", "--target", mysql_url, "--dir", str(migrations))
    assert refused.returncode == 1
    assert "0001_init.sql: partial: 1 of 2 statements done; statement 2 at line 2 failed" in refused.stderr

    no_dir = manage("repair", "--target", mysql_url, "--version", "0001", "resume")
    assert no_dir.returncode == 2 and "resume needs --dir" in no_dir.stderr
    bad = manage("repair", "--target", mysql_url, "--version", "0001", "explode")
    assert bad.returncode == 2

    done = manage("repair", "--target", mysql_url, "--version", "0001", "mark-applied", "--dir", str(migrations))
    assert done.returncode == 0, done.stderr
    assert history_rows(mysql_url) == {"0001": ("applied", 2, 2)}


def test_baseline_command(sqlite_url, migrations):
    migrations.write("0001_init.sql", INIT)
    migrations.write("0002_more.sql", "CREATE TABLE more (id integer);")
    result = manage("baseline", "--target", sqlite_url, "--version", "0001", "--dir", str(migrations))
    assert result.returncode == 0, result.stderr
    applied = manage("apply", "--target", sqlite_url, "--dir", str(migrations))
    assert "  · 0001_init.sql: skipped (baseline)" in applied.stdout
    assert table_exists(sqlite_url, "more") and not table_exists(sqlite_url, "customers")
