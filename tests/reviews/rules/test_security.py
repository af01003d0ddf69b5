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
