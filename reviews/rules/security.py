"""Security (catalogue §1.9b): secrets and privileges a migration should not carry.

sqlglot reads few of these statements (CREATE ROLE, most GRANTs and ALTER TABLE … ROW LEVEL
SECURITY come back as Commands), so every rule here reads the statement's tokens: `st.norm`, or
the text itself where a string literal matters. A finding never repeats a password.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from reviews.engine.model import FileContext, Stmt
from reviews.engine.registry import rule

# Comments out, string literals kept (the password rules look at the literals).
_COMMENT_OR_STRING = re.compile(r"'(?:[^'\\]|''|\\.)*'|\"(?:[^\"\\]|\"\"|\\.)*\"|--[^\n]*|/\*.*?\*/|#[^\n]*",
                                re.DOTALL)
_ROLE_STATEMENT = re.compile(r"^(CREATE|ALTER) (ROLE|USER|GROUP)\b")
_PG_PASSWORD = re.compile(r"(?i)\bPASSWORD\s+[eE]?'((?:[^'\\]|''|\\.)*)'")
_PG_HASH = re.compile(r"^(SCRAM-SHA-256\$\S+|md5[0-9a-f]{32})$")
_MYSQL_BY_LITERAL = re.compile(r"(?i)\bIDENTIFIED\s+(?:WITH\s+\S+\s+)?BY\s+['\"]")
_MYSQL_SET_PASSWORD = re.compile(r"(?i)^\s*SET\s+PASSWORD\b.*=\s*(?:PASSWORD\s*\(\s*)?['\"]", re.DOTALL)
# What _MYSQL_SET_PASSWORD needs at the start of the raw text: blanks and comments, then SET.
_SET_HEAD = re.compile(r"(?:\s|--[^\n]*|/\*.*?\*/|#[^\n]*)*SET\b", re.IGNORECASE | re.DOTALL)


def _without_comments(text: str) -> str:
    return _COMMENT_OR_STRING.sub(lambda m: m.group(0) if m.group(0)[0] in "'\"" else " ", text)


# The forms below, as st.norm has them: a role statement, GRANT, or SET … PASSWORD (with only blanks and
# comments between).
@rule("security.disallow-plaintext-password", engines="PM", category="SEC", severity="E", nodes=("*",),
      keywords=('CREATE', 'ALTER', 'GRANT', 'SET'), contains=("ROLE", "USER", "GROUP", "GRANT", "PASSWORD"),
      summary="`CREATE/ALTER ROLE/USER … PASSWORD '…'` / `IDENTIFIED BY '…'` with a literal password.",
      why="A password written in a migration lands in version control, in CI logs and in the server's "
          "statement log; everyone who can read the repository can log in as that role.",
      instead="Create roles and set passwords out of band (a secrets manager, an ops runbook), or give a "
              "pre-hashed verifier: PostgreSQL `PASSWORD 'SCRAM-SHA-256$…'`, MySQL `IDENTIFIED WITH "
              "caching_sha2_password AS '<hash>'`.",
      example="CREATE ROLE app LOGIN PASSWORD 'hunter2';")
def security_disallow_plaintext_password(st: Stmt, ctx: FileContext, payload: dict) -> list[str] | None:
    # A list or None, not a generator: it almost always finds nothing.
    if ctx.dialect == "postgres":
        if not _ROLE_STATEMENT.match(st.norm):
            return None
        for match in _PG_PASSWORD.finditer(_without_comments(st.text)):
            if not _PG_HASH.match(match.group(1)):
                return ["this statement puts a role's password in plain text into the migration (it ends up in git "
                        "and in server logs): set passwords out of band, or give a pre-hashed 'SCRAM-SHA-256$…' "
                        "verifier"]
        return None
    role_or_grant = _ROLE_STATEMENT.match(st.norm) or st.starts("GRANT")
    if not role_or_grant and not _SET_HEAD.match(st.text):
        return None  # neither form can match: no need to strip the comments of a long CREATE TABLE
    text = _without_comments(st.text)
    plain = role_or_grant and _MYSQL_BY_LITERAL.search(text)
    if plain or _MYSQL_SET_PASSWORD.match(text):
        return ["this statement puts a user's password in plain text into the migration (it ends up in git and "
                "in server logs): set passwords out of band, or use IDENTIFIED WITH <plugin> AS '<hash>'"]
    return None


_FUNCTION = re.compile(r"^CREATE (OR REPLACE )?(FUNCTION|PROCEDURE) ([^\s(]+)")
_SQL_BODY = re.compile(r" BEGIN ATOMIC\b| RETURN\b")


_SECURITY_DEFINER = re.compile(r"\bSECURITY DEFINER\b")
_SET_SEARCH_PATH = re.compile(r"\bSET SEARCH_PATH\b")


@rule("security.definer-requires-search-path", engines="P", category="SEC", severity="E", nodes=("*",),
      keywords=('CREATE',), contains=("SECURITY DEFINER",),
      summary="`CREATE FUNCTION … SECURITY DEFINER` without `SET search_path` among its options.",
      why="A SECURITY DEFINER function runs with its owner's privileges but resolves unqualified names "
          "through the caller's search_path: a caller who can create objects in any schema on that path "
          "(or in pg_temp) can plant a function or operator the definer then runs as its owner.",
      instead="Add `SET search_path = pg_catalog, pg_temp` (then schema-qualify names in the body), as "
              "the PostgreSQL manual's \"Writing SECURITY DEFINER Functions Safely\" shows.",
      example="CREATE FUNCTION f() RETURNS void LANGUAGE sql SECURITY DEFINER AS $$ DELETE FROM t $$;")
def security_definer_requires_search_path(st: Stmt, ctx: FileContext, payload: dict) -> Iterator[str]:
    match = _FUNCTION.match(st.norm)
    if not match:
        return
    # The options only: st.norm has already lost quoted bodies ($$…$$, '…'); an SQL-standard body
    # (BEGIN ATOMIC … END, RETURN …) always comes last.
    options = _SQL_BODY.split(st.norm, maxsplit=1)[0]
    if _SECURITY_DEFINER.search(options) and not _SET_SEARCH_PATH.search(options):
        kind, name = match.group(2).lower(), match.group(3).lower()
        yield (f"SECURITY DEFINER {kind} {name} has no SET search_path: a caller can plant objects it then runs "
               "with its owner's rights: add `SET search_path = pg_catalog, pg_temp` to the definition")


_GRANT = re.compile(r"^(?:ALTER DEFAULT PRIVILEGES\b.*? )?GRANT (.*?) TO (.*)$")


_GRANTEE_LIST_END = re.compile(r" WITH (?:GRANT|ADMIN|INHERIT|SET)\b| GRANTED BY\b|;")


def _grantees(norm: str) -> list[str]:
    match = _GRANT.match(norm)
    if not match:
        return []
    grantees = _GRANTEE_LIST_END.split(match.group(2))[0]
    return [g.strip() for g in grantees.split(",")]


# It reads st.norm only, where _GRANT needs "GRANT" and the grantee "PUBLIC": the gate asks for the
# rarer word (pg_dump names every table `public.…`), the check for the other.
@rule("security.disallow-grant-to-public", engines="PM", category="SEC", severity="W", nodes=("*",),
      keywords=('GRANT', 'ALTER'), contains=("GRANT",),
      summary="`GRANT … TO PUBLIC`.",
      why="PUBLIC is every role, including roles created later for other applications and people: the "
          "privilege reaches far beyond the application it was meant for.",
      instead="Grant to a named role (and grant that role to the users who need it).",
      example="GRANT SELECT ON orders TO PUBLIC;")
def security_disallow_grant_to_public(st: Stmt, ctx: FileContext, payload: dict) -> Iterator[str]:
    if "PUBLIC" in st.norm and "PUBLIC" in _grantees(st.norm):
        yield "GRANT … TO PUBLIC gives the privilege to every role, present and future: grant it to a named role"


_ALL_PRIVILEGES = re.compile(r"ALL\b")
_ON_TARGET = re.compile(r"\bON (.*)$")


# (It reads st.norm only, where _GRANT needs "GRANT": a rarer word than "ALL", which SMALLINT holds.)
@rule("security.disallow-grant-all", engines="PM", category="SEC", severity="W", nodes=("*",),
      keywords=('GRANT', 'ALTER'), contains=("GRANT",),
      summary="`GRANT ALL [PRIVILEGES]`.",
      why="ALL includes privileges the application never needs (TRUNCATE, REFERENCES, TRIGGER; on MySQL "
          "DROP, ALTER, GRANT-adjacent ones): a compromised or buggy client can do far more damage.",
      instead="Grant only the privileges needed, e.g. `GRANT SELECT, INSERT, UPDATE, DELETE ON …`.",
      example="GRANT ALL PRIVILEGES ON orders TO app;")
def security_disallow_grant_all(st: Stmt, ctx: FileContext, payload: dict) -> Iterator[str]:
    match = _GRANT.match(st.norm) if "ALL" in st.norm else None
    if match and _ALL_PRIVILEGES.match(match.group(1)):
        target = _ON_TARGET.search(match.group(1))
        on = f" on {target.group(1).lower()}" if target else ""
        yield (f"GRANT ALL{on} gives every privilege, including ones the application never needs: grant only "
               "the privileges needed (e.g. SELECT, INSERT, UPDATE, DELETE)")


_CREATE_OR_ALTER_ROLE = re.compile(r"^(?:CREATE|ALTER) (?:ROLE|USER|GROUP) (\S+)(.*)$")
_ROLE_SETTING_CLAUSE = re.compile(r" (RENAME|SET|RESET|IN DATABASE)\b")


_ROLE_ATTRIBUTE = {word: re.compile(rf"\b{word}\b") for word in ("SUPERUSER", "BYPASSRLS")}


@rule("security.disallow-superuser-role", engines="P", category="SEC", severity="W", nodes=("*",),
      keywords=('CREATE', 'ALTER'), contains=("SUPERUSER", "BYPASSRLS"),
      summary="`CREATE/ALTER ROLE … SUPERUSER` (or `BYPASSRLS`).",
      why="A superuser bypasses every permission check and can run code on the server; BYPASSRLS "
          "ignores every row-level security policy. Applications should never hold either.",
      instead="A role with exactly the privileges needed (and NOSUPERUSER, NOBYPASSRLS).",
      example="ALTER ROLE app SUPERUSER;")
def security_disallow_superuser_role(st: Stmt, ctx: FileContext, payload: dict) -> Iterator[str]:
    match = _CREATE_OR_ALTER_ROLE.match(st.norm)
    if not match or _ROLE_SETTING_CLAUSE.match(match.group(2)):
        return
    for attribute in ("SUPERUSER", "BYPASSRLS"):
        if _ROLE_ATTRIBUTE[attribute].search(match.group(2)):
            yield (f"role {match.group(1).strip(chr(34)).lower()} gets {attribute}, which bypasses "
                   f"{'every permission check' if attribute == 'SUPERUSER' else 'row-level security'}: give it "
                   "only the privileges it needs")


_DISABLE_RLS = re.compile(r"^ALTER TABLE (?:IF EXISTS )?(?:ONLY )?(\S+) .*?\b(DISABLE|NO FORCE) ROW LEVEL SECURITY\b")


@rule("security.disallow-disable-rls", engines="P", category="SEC", severity="W", nodes=("*",),
      keywords=('ALTER',), contains=("ROW LEVEL SECURITY",),
      summary="`ALTER TABLE … DISABLE ROW LEVEL SECURITY` / `NO FORCE ROW LEVEL SECURITY`.",
      why="Turning row-level security off makes every row visible to every role with table privileges; "
          "NO FORCE exempts the table owner again.",
      instead="Keep RLS on and change the policies (`CREATE/ALTER POLICY`).",
      example="ALTER TABLE invoices DISABLE ROW LEVEL SECURITY;")
def security_disallow_disable_rls(st: Stmt, ctx: FileContext, payload: dict) -> Iterator[str]:
    match = _DISABLE_RLS.match(st.norm)
    if match:
        table = match.group(1).strip('"').lower()
        yield (f"{match.group(2)} ROW LEVEL SECURITY on {table} lifts its row-level protection: keep RLS on and "
               "change the policies instead")
