"""Ways the history could lie, found by auditing the runner on the real servers."""

from __future__ import annotations

import pytest

from releases.loader import load_dir
from releases.runner import ApplyOptions, PlanError, apply, history
from tests.helpers import history_rows, query, table_exists


def run(url, migrations, **options):
    return apply(url, load_dir(migrations.path), ApplyOptions(**options))


def test_a_schema_named_after_the_user_does_not_hide_the_history_from_the_next_run(pg_url, migrations):
    # The default search_path is "$user", public: once the schema `postgres` exists, it comes first.
    migrations.write("0001_init.sql", "CREATE SCHEMA IF NOT EXISTS postgres;\n")
    migrations.write("0002_seed_dml.sql", "CREATE TABLE IF NOT EXISTS public.t (id int);\nINSERT INTO public.t VALUES (1);\n")
    run(pg_url, migrations)
    migrations.write("0003_more.sql", "CREATE TABLE public.u (id int);\n")
    report = run(pg_url, migrations)
    assert [o.action for o in report.outcomes] == ["skipped", "skipped", "applied"]
    assert query(pg_url, "SELECT id FROM public.t") == [(1,)]  # the data file ran once
    assert [r.version for r in history(pg_url)] == ["0001", "0002", "0003"]


def test_a_mysql_file_that_turns_autocommit_off_is_still_recorded_as_applied(mysql_url, migrations):
    migrations.write("0001_init.sql", "SET autocommit = 0;\nCREATE TABLE t (id int);\nINSERT INTO t VALUES (1);\n")
    assert [o.action for o in run(mysql_url, migrations).outcomes] == ["applied"]
    assert history_rows(mysql_url) == {"0001": ("applied", 3, 3)}
    assert [o.action for o in run(mysql_url, migrations).outcomes] == ["skipped"]


def test_a_mysql_files_sql_mode_does_not_reach_the_next_file(mysql_url, migrations):
    migrations.write("0001_init.sql", "SET SESSION sql_mode = '';\nCREATE TABLE t (v tinyint);\n")
    migrations.write("0002_seed_dml.sql", "INSERT INTO t (v) VALUES (1000);\n")
    with pytest.raises(Exception, match="Out of range value"):  # strict, as if it ran on its own
        run(mysql_url, migrations)
    assert query(mysql_url, "SELECT v FROM t") == []


def test_a_mysqldump_set_names_does_not_garble_the_next_file_or_its_record(mysql_url, migrations):
    migrations.write("0001_init.sql", "/*!40101 SET NAMES latin1 */;\n"
                                      "CREATE TABLE t (s varchar(20)) DEFAULT CHARSET=utf8mb4;\n")
    migrations.write("0002_café_dml.sql", "INSERT INTO t (s) VALUES ('café');\n")
    run(mysql_url, migrations)
    assert query(mysql_url, "SELECT s FROM t") == [("café",)]
    assert [r.description for r in history(mysql_url)] == ["init", "café_dml"]


@pytest.mark.parametrize("engine", ["pg_url", "mysql_url", "sqlite_url"])
def test_a_file_that_never_commits_its_own_transaction_is_refused_not_reported_applied(engine, request, migrations):
    url = request.getfixturevalue(engine)
    migrations.write("0001_init.sql", "CREATE TABLE t (id int);\n")
    migrations.write("0002_seed_dml.sql", "INSERT INTO t VALUES (1);\nBEGIN;\nINSERT INTO t VALUES (2);\n")
    with pytest.raises(PlanError) as info:
        run(url, migrations)
    assert "0002_seed_dml.sql:2: this transaction is never committed" in str(info.value)
    assert history_rows(url) == {"0001": ("applied", 1, 1)}
    assert table_exists(url, "t") and query(url, "SELECT id FROM t") == []


def test_a_mysql_transaction_that_ddl_commits_is_no_unclosed_transaction(mysql_url, migrations):
    """MySQL commits the file's BEGIN before a DDL statement: the file is complete, and applied."""
    migrations.write("0001_init.sql", "CREATE TABLE t (id int);\n")
    migrations.write("0002_more.sql", "BEGIN;\nINSERT INTO t VALUES (1);\nCREATE TABLE u (id int);\n"
                                      "INSERT INTO u VALUES (2);\n")
    report = run(mysql_url, migrations)
    assert [o.action for o in report.outcomes] == ["applied", "applied"]
    assert history_rows(mysql_url) == {"0001": ("applied", 1, 1), "0002": ("applied", 4, 4)}
    assert query(mysql_url, "SELECT id FROM t") == [(1,)] and query(mysql_url, "SELECT id FROM u") == [(2,)]


def test_a_password_with_an_unescaped_slash_is_not_echoed_in_the_url_error(migrations):
    from releases.runner.cli import execute

    lines: list[str] = []
    code = execute("history", {"target": "postgresql://app:hunter2/x@127.0.0.1/db"}, lines.append, lines.append)
    assert code == 2
    assert "bad port" in lines[0] and "percent-encoded" in lines[0]
    assert "hunter2" not in "\n".join(lines)


@pytest.mark.parametrize("query_string", ["connect_timeout=5", "application_name=ci", "options=-csearch_path%3Dtenant"])
def test_a_postgres_url_may_carry_libpq_parameters(pg_url, migrations, query_string):
    query(pg_url, "CREATE SCHEMA tenant")
    migrations.write("0001_init.sql", "CREATE TABLE t (id int);\n")
    report = run(f"{pg_url}?{query_string}", migrations)
    assert [o.action for o in report.outcomes] == ["applied"]
    where = "tenant" if query_string.startswith("options") else "public"
    assert table_exists(pg_url, f"{where}.t") and table_exists(pg_url, f"{where}.sluice_schema_history")


def test_a_version_typed_as_in_file_names_is_accepted_and_a_bad_one_is_a_usage_error(sqlite_url, migrations):
    from releases.runner.cli import EXIT_INPUT, EXIT_OK, execute

    migrations.write("V1__init.sql", "CREATE TABLE t (id int);\n")
    migrations.write("V2__more.sql", "CREATE TABLE u (id int);\n")
    lines: list[str] = []
    opts = {"target": sqlite_url, "dir": str(migrations)}
    assert execute("baseline", {**opts, "migration_version": "abc"}, lines.append, lines.append) == EXIT_INPUT
    assert "bad version 'abc'" in lines[-1]
    assert execute("baseline", {**opts, "migration_version": "V1"}, lines.append, lines.append) == EXIT_OK
    assert [(o.version, o.action) for o in run(sqlite_url, migrations).outcomes] == [("1", "skipped"), ("2", "applied")]
    assert history_rows(sqlite_url) == {"1": ("baseline", 0, 0), "2": ("applied", 1, 1)}
