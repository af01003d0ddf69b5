from __future__ import annotations

import pytest

from tests.reviews.rules.helpers import findings, flags

# (rule, dialect, flagged statement, near miss, severity, key phrase of the message).
CASES = [
    ("security.disallow-plaintext-password", "postgres", "CREATE ROLE app LOGIN PASSWORD 'hunter2';",
     "CREATE ROLE app LOGIN PASSWORD 'SCRAM-SHA-256$4096:c2FsdA==$c3RvcmVk:c2VydmVy';", "error",
     "password in plain text"),
    ("security.disallow-plaintext-password", "mysql", "CREATE USER 'app'@'%' IDENTIFIED BY 'hunter2';",
     "CREATE USER 'app'@'%' IDENTIFIED WITH caching_sha2_password AS '$A$005$hash';", "error",
     "password in plain text"),
    ("security.definer-requires-search-path", "postgres",
     "CREATE FUNCTION purge() RETURNS void LANGUAGE sql SECURITY DEFINER AS $$ DELETE FROM t $$;",
     "CREATE FUNCTION purge() RETURNS void LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp "
     "AS $$ DELETE FROM public.t $$;", "error", "SET search_path = pg_catalog, pg_temp"),
    *[("security.disallow-grant-to-public", d, "GRANT SELECT ON orders TO PUBLIC;",
       "GRANT SELECT ON orders TO reporting;", "warning", "to a named role") for d in ("postgres", "mysql")],
    *[("security.disallow-grant-all", d, "GRANT ALL PRIVILEGES ON orders TO app;",
       "GRANT SELECT, INSERT, UPDATE, DELETE ON orders TO app;", "warning", "grant only the privileges needed")
      for d in ("postgres", "mysql")],
    ("security.disallow-superuser-role", "postgres", "ALTER ROLE app SUPERUSER;", "ALTER ROLE app NOSUPERUSER;",
     "warning", "role app gets SUPERUSER"),
    ("security.disallow-disable-rls", "postgres", "ALTER TABLE invoices DISABLE ROW LEVEL SECURITY;",
     "ALTER TABLE invoices ENABLE ROW LEVEL SECURITY;", "warning", "keep RLS on"),
]


@pytest.mark.parametrize(("rule", "dialect", "bad", "good", "severity", "phrase"), CASES,
                         ids=[f"{c[0]}-{c[1]}" for c in CASES])
def test_rule_flags_the_statement_and_not_its_near_miss(rule, dialect, bad, good, severity, phrase):
    found = findings(bad, dialect, rule)
    assert found, f"{rule} should flag {bad!r} on {dialect}"
    assert {f.rule for f in found} == {rule}
    assert found[0].severity == severity
    assert any(phrase in f.message for f in found), [f.message for f in found]
    assert not flags(good, dialect, rule), [f.message for f in findings(good, dialect, rule)]


@pytest.mark.parametrize("sql", [
    "CREATE USER MAPPING FOR app_user SERVER remote_pg OPTIONS (user 'app', password 'secret');",
    "ALTER USER MAPPING FOR current_user SERVER s8 OPTIONS (DROP user, SET password 'public');",
    # A verifier is no use to a remote server: postgres_fdw sends the option as the password itself.
    "CREATE USER MAPPING FOR app SERVER s OPTIONS (password 'SCRAM-SHA-256$4096:c2FsdA==$c3RvcmVk:c2VydmVy');",
])
def test_a_user_mappings_password_is_the_remote_servers_in_plain_text(sql):
    [found] = findings(sql, "postgres", "security.disallow-plaintext-password")
    assert "the remote server's password in plain text" in found.message and "SCRAM" not in found.message
    assert not flags("CREATE USER MAPPING FOR app SERVER s OPTIONS (user 'app', password '${PG_PASSWORD}');",
                     "postgres", "security.disallow-plaintext-password")


def test_a_password_finding_never_repeats_the_password():
    [found] = findings("ALTER USER app WITH ENCRYPTED PASSWORD 'hunter2';", "postgres",
                       "security.disallow-plaintext-password")
    assert "hunter2" not in found.message


@pytest.mark.parametrize("sql", [
    "CREATE ROLE app LOGIN PASSWORD NULL;",
    "CREATE ROLE app LOGIN PASSWORD 'md5" + "0" * 32 + "';",
    "-- PASSWORD 'old'\nCREATE ROLE app LOGIN;",
    "COMMENT ON ROLE app IS 'PASSWORD ''x''';",
])
def test_postgres_passwords_that_are_not_plaintext(sql):
    assert not flags(sql, "postgres", "security.disallow-plaintext-password")


@pytest.mark.parametrize(("sql", "flagged"), [
    ("ALTER USER 'app'@'%' IDENTIFIED BY RANDOM PASSWORD;", False),
    ("ALTER USER 'app'@'%' IDENTIFIED WITH mysql_native_password BY 'hunter2';", True),
    ("SET PASSWORD FOR 'app'@'%' = 'hunter2';", True),
])
def test_mysql_password_forms(sql, flagged):
    assert flags(sql, "mysql", "security.disallow-plaintext-password") is flagged


def test_definer_search_path_inside_the_body_does_not_count():
    sql = ("CREATE OR REPLACE FUNCTION f() RETURNS int LANGUAGE plpgsql SECURITY DEFINER AS $$ BEGIN "
           "SET search_path = public; RETURN 1; END $$;")
    [found] = findings(sql, "postgres", "security.definer-requires-search-path")
    assert "function f" in found.message
    assert not flags(sql.replace("SECURITY DEFINER", "SECURITY INVOKER"), "postgres",
                     "security.definer-requires-search-path")


def test_definer_option_after_the_body():
    sql = "CREATE FUNCTION f() RETURNS int AS $$ SELECT 1 $$ LANGUAGE sql SECURITY DEFINER SET search_path TO pg_catalog;"
    assert not flags(sql, "postgres", "security.definer-requires-search-path")


def test_public_schema_is_not_the_public_role():
    assert not flags("GRANT USAGE ON SCHEMA public TO app;", "postgres", "security.disallow-grant-to-public")
    assert flags("ALTER DEFAULT PRIVILEGES IN SCHEMA s GRANT SELECT ON TABLES TO app, PUBLIC;", "postgres",
                 "security.disallow-grant-to-public")


def test_bypassrls_and_role_renames():
    [found] = findings("CREATE ROLE auditor WITH LOGIN BYPASSRLS;", "postgres", "security.disallow-superuser-role")
    assert "BYPASSRLS" in found.message
    assert not flags("ALTER ROLE superuser RENAME TO admin;", "postgres", "security.disallow-superuser-role")


def test_no_force_row_level_security():
    [found] = findings("ALTER TABLE ONLY invoices NO FORCE ROW LEVEL SECURITY;", "postgres",
                       "security.disallow-disable-rls")
    assert "NO FORCE ROW LEVEL SECURITY on invoices" in found.message


@pytest.mark.parametrize("sql", [
    "SET /* why */ PASSWORD = 'hunter2';",
    "SET # it's\nPASSWORD = 'hunter2';",  # a MySQL comment with a quote in it
])
def test_set_password_after_a_comment(sql):
    assert flags(sql, "mysql", "security.disallow-plaintext-password")


@pytest.mark.parametrize("dialect", ["postgres", "mysql"])
def test_grant_gates_read_the_grant_word_however_it_is_written(dialect):
    # The two GRANT rules are gated on "GRANT" in the normalized text: lower case, line breaks and
    # comments between the words must not hide it.
    sql = "grant /* all of it */ all\n  privileges on orders to -- everyone\n public;"
    assert flags(sql, dialect, "security.disallow-grant-to-public")
    assert flags(sql, dialect, "security.disallow-grant-all")
    # SMALLINT holds "ALL" and public.t holds "PUBLIC": no GRANT, nothing to find.
    assert not flags("ALTER TABLE public.t ADD COLUMN n smallint;", dialect, "security.disallow-grant-all")
    assert not flags("ALTER TABLE public.t ADD COLUMN n smallint;", dialect, "security.disallow-grant-to-public")


# GRANT ALL on PostgreSQL, by the object after ON (measured on PostgreSQL 15: ALL stored `X` on a function,
# `U` on a type, `C` on a tablespace, `UC` on a schema, `rwU` on a sequence, `CTc` on a database).
@pytest.mark.parametrize("sql", [
    "GRANT ALL ON FUNCTION f(int) TO app;",
    "GRANT ALL PRIVILEGES ON PROCEDURE p() TO app;",
    "GRANT ALL ON ROUTINE r() TO app;",
    "GRANT ALL ON ALL FUNCTIONS IN SCHEMA s TO app;",
    "GRANT ALL ON ALL PROCEDURES IN SCHEMA s TO app;",
    "GRANT ALL ON ALL ROUTINES IN SCHEMA s TO app;",
    "GRANT ALL ON TYPE mood TO app;",
    "GRANT ALL ON DOMAIN posint TO app;",
    "GRANT ALL ON LANGUAGE plpgsql TO app;",
    "GRANT ALL ON FOREIGN DATA WRAPPER fdw TO app;",
    "GRANT ALL ON FOREIGN SERVER srv TO app;",
    "GRANT ALL ON TABLESPACE fast TO app;",
    "ALTER DEFAULT PRIVILEGES IN SCHEMA s GRANT ALL ON FUNCTIONS TO app;",
    "ALTER DEFAULT PRIVILEGES IN SCHEMA s GRANT ALL ON ROUTINES TO app;",
    "ALTER DEFAULT PRIVILEGES IN SCHEMA s GRANT ALL ON TYPES TO app;",
])
def test_grant_all_on_an_object_with_one_privilege_grants_only_that(sql):
    assert not flags(sql, "postgres", "security.disallow-grant-all")


@pytest.mark.parametrize(("sql", "advice"), [
    ("GRANT ALL ON SCHEMA auth TO auth_admin;", "(for a schema: USAGE; CREATE only if it creates objects there)"),
    ("GRANT ALL PRIVILEGES ON DATABASE mydb TO app;",
     "(for a database: CONNECT; TEMPORARY only if it creates temporary tables)"),
    ("GRANT ALL ON ALL SEQUENCES IN SCHEMA s TO app;", "(for a sequence: USAGE, SELECT; UPDATE only if it calls setval)"),
    ("GRANT ALL ON SEQUENCE s.q TO app;", "(for a sequence: USAGE, SELECT; UPDATE only if it calls setval)"),
    ("ALTER DEFAULT PRIVILEGES GRANT ALL ON SCHEMAS TO app;",
     "(for a schema: USAGE; CREATE only if it creates objects there)"),
    ("ALTER DEFAULT PRIVILEGES IN SCHEMA s GRANT ALL ON SEQUENCES TO app;",
     "(for a sequence: USAGE, SELECT; UPDATE only if it calls setval)"),
    ("GRANT ALL ON LARGE OBJECT 4242 TO app;", "(for a large object: SELECT; UPDATE only if it writes it)"),
    ("GRANT ALL ON PARAMETER work_mem TO app;", "(for a parameter: SET or ALTER SYSTEM, whichever it needs)"),
    ("GRANT ALL ON ALL TABLES IN SCHEMA s TO app;", "(e.g. SELECT, INSERT, UPDATE, DELETE)"),
    ("GRANT ALL ON TABLE orders TO app;", "(e.g. SELECT, INSERT, UPDATE, DELETE)"),
    ("GRANT ALL ON types TO app;", "(e.g. SELECT, INSERT, UPDATE, DELETE)"),  # a table named types
    ("ALTER DEFAULT PRIVILEGES GRANT ALL ON TABLES TO app;", "(e.g. SELECT, INSERT, UPDATE, DELETE)"),
    ("GRANT ALL (amount, note) ON orders TO app;", "(e.g. SELECT, INSERT, UPDATE)"),  # no DELETE on columns
])
def test_grant_all_advice_names_the_privileges_of_the_object(sql, advice):
    [found] = findings(sql, "postgres", "security.disallow-grant-all")
    assert found.message.endswith(advice), found.message


def test_grant_all_on_mysql_keeps_its_advice():
    [found] = findings("GRANT ALL PRIVILEGES ON shop.* TO 'app'@'%';", "mysql", "security.disallow-grant-all")
    assert found.message == ("GRANT ALL on shop.* gives every privilege, including ones the application never needs: "
                             "grant only the privileges needed (e.g. SELECT, INSERT, UPDATE, DELETE)")


@pytest.mark.parametrize("sql", [
    "CREATE USER ${appUser} WITH PASSWORD '${appPassword}';",
    "ALTER ROLE app PASSWORD '{{ app_password }}';",
    "ALTER ROLE app PASSWORD '%APP_PASSWORD%';",
    "ALTER ROLE app PASSWORD $$${app_password}$$;",
    "ALTER ROLE app3 WITH LOGIN PASSWORD :'pw';",
])
def test_a_placeholder_is_no_plaintext_password_on_postgres(sql):
    # Flyway, Liquibase, Jinja … put the secret in before the SQL runs: git holds no password.
    assert not flags(sql, "postgres", "security.disallow-plaintext-password")


@pytest.mark.parametrize("password", ["'hunter2-${suffix}'", "'{{ a }}{{ b }}'", "'100%sure%'", "$$${a}x$$"])
def test_a_password_that_is_more_than_a_placeholder_is_plaintext(password):
    assert flags(f"ALTER ROLE app PASSWORD {password};", "postgres", "security.disallow-plaintext-password")


@pytest.mark.parametrize("sql", [
    "CREATE USER 'app'@'%' IDENTIFIED BY '${app_password}';",
    "ALTER USER 'app'@'%' IDENTIFIED WITH caching_sha2_password BY '{{ app_password }}';",
    "SET PASSWORD FOR 'app'@'%' = '%APP_PASSWORD%';",
    "CREATE USER 'app'@'%' IDENTIFIED VIA ed25519 USING PASSWORD('${app_password}');",
])
def test_a_placeholder_is_no_plaintext_password_on_mysql(sql):
    assert not flags(sql, "mysql", "security.disallow-plaintext-password")
    assert flags(sql.replace("${app_password}", "hunter2").replace("{{ app_password }}", "hunter2")
                 .replace("%APP_PASSWORD%", "hunter2"), "mysql", "security.disallow-plaintext-password")


@pytest.mark.parametrize("sql", [
    "CREATE ROLE app2 LOGIN PASSWORD $$hunter2$$;",
    "CREATE ROLE app3 LOGIN PASSWORD $pw$hunter2$pw$;",
    "CREATE ROLE app4 LOGIN PASSWORD $pw$hunter#2 -- x$pw$;",  # no comment inside a dollar quote
    # A tag may start with (and hold) any letter beyond ASCII, as PostgreSQL's lexer reads it.
    "CREATE ROLE app5 LOGIN PASSWORD $é$hunter2$é$;",
    "CREATE ROLE app6 LOGIN PASSWORD $pw_é1$hunter#2 -- x$pw_é1$;",
])
def test_dollar_quoted_passwords_on_postgres(sql):
    # PostgreSQL 15 stores a SCRAM verifier of the dollar-quoted text: it is the password.
    assert flags(sql, "postgres", "security.disallow-plaintext-password")
    assert not flags("CREATE ROLE app LOGIN PASSWORD $$SCRAM-SHA-256$4096:c2FsdA==$c3RvcmVk:c2VydmVy$$;", "postgres",
                     "security.disallow-plaintext-password")


@pytest.mark.parametrize("sql", [
    "CREATE USER 'app'@'%' IDENTIFIED VIA mysql_native_password USING PASSWORD('hunter2');",
    "ALTER USER 'app'@'%' IDENTIFIED WITH ed25519 USING PASSWORD('hunter2');",
    "CREATE USER 'app'@'%' IDENTIFIED VIA unix_socket OR mysql_native_password USING PASSWORD('hunter2');",
])
def test_mariadb_using_password_is_a_plaintext_password(sql):
    # MariaDB 10.11 stores PASSWORD('hunter2')'s hash for these: the literal is the password.
    assert flags(sql, "mysql", "security.disallow-plaintext-password")
    assert not flags("CREATE USER 'app'@'%' IDENTIFIED VIA mysql_native_password USING "
                     "'*58815970BE77B3720276F63DB198B1FA42E5CC02';", "mysql", "security.disallow-plaintext-password")


def test_quoted_public_is_public_on_postgres():
    # PostgreSQL 15: TO "public" stored `=r` (PUBLIC); TO "PUBLIC" names a role "PUBLIC" (an error if none).
    assert flags('GRANT SELECT ON t TO "public";', "postgres", "security.disallow-grant-to-public")
    assert flags("GRANT SELECT ON t TO app, Public;", "postgres", "security.disallow-grant-to-public")
    assert not flags('GRANT SELECT ON t TO "PUBLIC";', "postgres", "security.disallow-grant-to-public")
    assert not flags('GRANT SELECT ON t TO "Public";', "postgres", "security.disallow-grant-to-public")


def test_grant_to_public_on_mysql_says_what_public_is_there():
    [found] = findings("GRANT SELECT ON shop.orders TO PUBLIC;", "mysql", "security.disallow-grant-to-public")
    assert "on MariaDB 10.11+ PUBLIC is every account" in found.message
    assert "on MySQL it is an account named PUBLIC" in found.message
    assert "every role" not in found.message


@pytest.mark.parametrize(("sql", "rule", "phrase"), [
    ('ALTER TABLE IF EXISTS ONLY "Billing"."Invoices" DISABLE ROW LEVEL SECURITY;', "security.disallow-disable-rls",
     'DISABLE ROW LEVEL SECURITY on "Billing"."Invoices" lifts'),
    ('ALTER TABLE "my table" DISABLE ROW LEVEL SECURITY;', "security.disallow-disable-rls",
     'DISABLE ROW LEVEL SECURITY on "my table" lifts'),
    ("alter table Billing.Invoices no force row level security;", "security.disallow-disable-rls",
     "NO FORCE ROW LEVEL SECURITY on Billing.Invoices lifts"),
    ('ALTER ROLE "AppAdmin" SUPERUSER;', "security.disallow-superuser-role", 'role "AppAdmin" gets SUPERUSER'),
    ('CREATE ROLE "App Admin" BYPASSRLS;', "security.disallow-superuser-role", 'role "App Admin" gets BYPASSRLS'),
    ("CREATE FUNCTION \"MyFunc\"() RETURNS void LANGUAGE sql SECURITY DEFINER AS 'select 1';",
     "security.definer-requires-search-path", 'SECURITY DEFINER function "MyFunc" has no'),
    ("CREATE PROCEDURE \"My Schema\".\"Do It\"() LANGUAGE sql SECURITY DEFINER AS 'select 1';",
     "security.definer-requires-search-path", 'SECURITY DEFINER procedure "My Schema"."Do It" has no'),
    ('GRANT ALL ON TABLE "Orders" TO app;', "security.disallow-grant-all", 'GRANT ALL on TABLE "Orders" gives'),
])
def test_messages_show_names_as_written(sql, rule, phrase):
    [found] = findings(sql, "postgres", rule)
    assert phrase in found.message, found.message


@pytest.mark.parametrize("option", ['SET "search_path" = pg_catalog', 'SET "Search_Path" TO pg_catalog'])
def test_definer_with_a_quoted_search_path_name(option):
    # PostgreSQL 15 stored search_path=pg_catalog for both (GUC names compare without regard to case).
    sql = f"CREATE FUNCTION f() RETURNS int SECURITY DEFINER {option} LANGUAGE sql AS $$select 1$$;"
    assert not flags(sql, "postgres", "security.definer-requires-search-path")
