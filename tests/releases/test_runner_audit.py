"""Ways the history could lie, found by auditing the runner on the real servers."""

from __future__ import annotations

import pytest

from releases.loader import load_dir
from releases.runner import ApplyError, ApplyOptions, PlanError, apply, history
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


@pytest.mark.parametrize("setup, statement, gone", [
    ("CREATE TABLE a (id int)", "DROP TABLE a, nope", "a"),
    ("CREATE VIEW v AS SELECT 1 AS one", "DROP VIEW v, nope", "v"),
])
def test_a_mysql_drop_of_several_objects_that_fails_keeps_a_partial_record(mysql_url, migrations, setup, statement,
                                                                            gone):
    query(mysql_url, setup)
    migrations.write("0001_drop.sql", f"{statement};\nCREATE TABLE b (id int);\n")
    with pytest.raises(ApplyError) as info:
        run(mysql_url, migrations)
    assert not table_exists(mysql_url, gone)  # MariaDB dropped it before failing on `nope`
    assert "History: partial, 0 of 2 statements done; statement 1 may have taken effect in part" in str(info.value)
    assert history_rows(mysql_url) == {"0001": ("partial", 0, 2)}
    with pytest.raises(PlanError, match="may have taken effect in part"):
        run(mysql_url, migrations)


@pytest.mark.parametrize("lock", ["LOCK TABLES t WRITE", "FLUSH TABLES WITH READ LOCK"])
def test_a_mysql_file_that_locks_tables_is_refused_before_it_runs(mysql_url, migrations, lock):
    migrations.write("0001_init.sql", "CREATE TABLE t (id int);\n")
    migrations.write("0002_seed_dml.sql", f"-- keep writers out\n{lock};\nINSERT INTO t VALUES (1);\nUNLOCK TABLES;\n")
    with pytest.raises(PlanError) as info:
        run(mysql_url, migrations)
    assert "0002_seed_dml.sql:2: the file locks tables" in str(info.value)
    assert "cannot record the file's progress" in str(info.value)
    assert history_rows(mysql_url) == {"0001": ("applied", 1, 1)}
    assert query(mysql_url, "SELECT id FROM t") == []


def test_a_dry_run_or_history_on_a_missing_sqlite_file_creates_no_file(tmp_path, migrations):
    from releases.runner.cli import EXIT_SERVER, execute

    path = tmp_path / "new.sqlite3"
    url = f"sqlite:///{path}"
    migrations.write("0001_init.sql", "CREATE TABLE t (id int);\n")
    report = run(url, migrations, dry_run=True)
    assert not path.exists()
    assert [o.action for o in report.outcomes] == ["would-apply"]
    assert report.warnings == [f"{path} does not exist yet: the run would create it"]
    lines: list[str] = []
    assert execute("history", {"target": url}, lines.append, lines.append) == EXIT_SERVER
    assert lines == [f"error: cannot open {url}: the database file does not exist"]
    assert not path.exists()
    assert [o.action for o in run(url, migrations).outcomes] == ["applied"]  # the real run creates it


def test_a_dry_run_with_a_baseline_says_what_the_run_would_do(sqlite_url, migrations):
    migrations.write("0001_init.sql", "CREATE TABLE t (id int);\n")
    migrations.write("0002_more.sql", "CREATE TABLE u (id int);\n")
    migrations.write("0003_last.sql", "CREATE TABLE v (id int);\n")
    apply(sqlite_url, [])  # an empty history table
    dry = run(sqlite_url, migrations, dry_run=True, baseline="0002")
    assert [(o.action, o.reason) for o in dry.outcomes] == [
        ("skipped", "covered by the baseline"), ("skipped", "baseline"), ("would-apply", ""),
    ]
    assert history_rows(sqlite_url) == {}
    real = run(sqlite_url, migrations, baseline="0002")
    assert [(o.action, o.reason) for o in real.outcomes] == [
        ("skipped", "covered by the baseline"), ("skipped", "baseline"), ("applied", ""),
    ]
    with pytest.raises(PlanError, match="cannot baseline at 0003: the database already has a migration history"):
        run(sqlite_url, migrations, dry_run=True, baseline="0003")


def test_a_mysql_url_that_asks_for_tls_gets_it_or_fails(mysql_url, migrations):
    from releases.runner.core import ConnectError

    migrations.write("0001_init.sql", "CREATE TABLE t (id int);\n")
    # This server has TLS off: a connection that honours ssl_ca must refuse to go on without it.
    with pytest.raises(ConnectError, match="SSL is required but the server doesn't support it"):
        run(f"{mysql_url}?ssl_ca=/etc/ssl/certs/ca-certificates.crt&ssl_verify_identity=true", migrations)
    with pytest.raises(ConnectError, match="TLS set-up failed with ssl_ca=/nope.pem"):
        run(f"{mysql_url}?ssl_ca=/nope.pem", migrations)
    assert not table_exists(mysql_url, "t")


@pytest.mark.parametrize("url, message", [
    ("mysql://root@127.0.0.1/db?ssl=true", "unsupported parameter 'ssl' in the mysql URL: it accepts ssl_ca, "),
    ("mysql://root@127.0.0.1/db?charset=latin1", "unsupported parameter 'charset' in the mysql URL"),
    ("mysql://root@127.0.0.1/db?ssl_verify_cert=maybe", "ssl_verify_cert in the mysql URL takes true or false"),
    ("sqlite:///x.sqlite3?mode=ro", "a SQLite URL takes no parameters (?mode=ro)"),
])
def test_a_url_parameter_the_runner_would_not_use_is_refused(url, message):
    from releases.runner import TargetError, parse_target

    with pytest.raises(TargetError) as info:
        parse_target(url)
    assert message in str(info.value)


def test_a_postgres_history_schema_with_a_double_quote_in_its_name(pg_url, migrations):
    query(pg_url, 'CREATE SCHEMA "we""ird"')
    migrations.write("0001_init.sql", "CREATE TABLE t (id int);\n")
    url = f"{pg_url}?options=-csearch_path%3D%22we%22%22ird%22"  # search_path="we""ird"
    assert [o.action for o in run(url, migrations).outcomes] == ["applied"]
    assert query(pg_url, 'SELECT version, status FROM "we""ird".sluice_schema_history') == [("0001", "applied")]
    assert [o.action for o in run(url, migrations).outcomes] == ["skipped"]


def test_a_file_refused_mid_run_does_not_say_nothing_was_applied(sqlite_url, migrations):
    from releases.runner.cli import EXIT_FAILED, execute

    migrations.write("0001_init.sql", "CREATE TABLE t (id int);\n")
    migrations.write("0002_seed_dml.sql", "INSERT INTO t VALUES (1);\n")
    migrations.write("0003_more_dml.sql", "BEGIN;\nINSERT INTO t VALUES (2);\n")
    lines: list[str] = []
    assert execute("apply", {"target": sqlite_url, "dir": str(migrations)}, lines.append, lines.append) == EXIT_FAILED
    error = lines[-1]
    assert "nothing applied" not in error
    assert ("stopped after applying 2 file(s), which the history records: 0001_init.sql, 0002_seed_dml.sql; then\n"
            "  - 0003_more_dml.sql:1: this transaction is never committed") in error
    assert history_rows(sqlite_url) == {"0001": ("applied", 1, 1), "0002": ("applied", 1, 1)}
    assert query(sqlite_url, "SELECT id FROM t") == [(1,)]


def test_a_partial_record_with_every_statement_done_says_so(mysql_url, migrations):
    migrations.write("0001_init.sql", "CREATE TABLE t (id int);\nCREATE TABLE u (id int);\n")
    run(mysql_url, migrations)
    # As a run leaves it when it dies between the last statement's progress and the status update.
    query(mysql_url, "UPDATE sluice_schema_history SET status = 'partial'")
    with pytest.raises(PlanError) as info:
        run(mysql_url, migrations)
    message = str(info.value)
    assert "statement 3" not in message
    assert ("0001_init.sql: partial: all 2 statements done, but the run ended before it recorded the file as "
            "applied. Check it, then repair --version 0001 mark-applied") in message


@pytest.mark.parametrize("engine", ["pg_url", "mysql_url"])
@pytest.mark.parametrize("end", ["COMMIT AND CHAIN", "ROLLBACK WORK AND CHAIN"])
def test_a_commit_and_chain_does_not_end_the_files_transaction(engine, end, request, migrations):
    url = request.getfixturevalue(engine)
    migrations.write("0001_init.sql", "CREATE TABLE t (id int);\n")
    migrations.write("0002_seed_dml.sql", f"BEGIN;\nINSERT INTO t VALUES (1);\n{end};\n")
    with pytest.raises(PlanError) as info:  # the chained transaction is never committed
        run(url, migrations)
    assert "0002_seed_dml.sql:1: this transaction is never committed" in str(info.value)
    assert history_rows(url) == {"0001": ("applied", 1, 1)}
    migrations.write("0002_seed_dml.sql", f"BEGIN;\nINSERT INTO t VALUES (1);\n{end};\nINSERT INTO t VALUES (2);\nCOMMIT;\n")
    assert [o.action for o in run(url, migrations).outcomes] == ["skipped", "applied"]
    assert history_rows(url) == {"0001": ("applied", 1, 1), "0002": ("applied", 5, 5)}
    assert query(url, "SELECT id FROM t ORDER BY id") == ([(1,), (2,)] if end.startswith("COMMIT") else [(2,)])


def test_a_sqlite_files_pragma_does_not_reach_the_next_file(sqlite_url, migrations):
    """PRAGMA foreign_keys lasts as long as the connection: the next file runs as it would alone."""
    migrations.write("0001_init.sql", "PRAGMA foreign_keys = ON;\nCREATE TABLE p (id integer PRIMARY KEY);\n"
                                      "CREATE TABLE c (p integer REFERENCES p (id));\n")
    migrations.write("0002_seed_dml.sql", "INSERT INTO c VALUES (42);\n")
    assert [o.action for o in run(sqlite_url, migrations).outcomes] == ["applied", "applied"]
    assert query(sqlite_url, "SELECT p FROM c") == [(42,)]
