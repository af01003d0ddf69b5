"""Security (catalogue §1.9b): secrets and privileges a migration should not carry.

sqlglot reads few of these statements (CREATE ROLE, most GRANTs and ALTER TABLE … ROW LEVEL
SECURITY come back as Commands), so every rule here reads the statement's tokens: `st.norm`, or
the text itself where a string literal matters. A finding never repeats a password.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from reviews.engine.model import DOLLAR_TAG, FileContext, Stmt, flatten
from reviews.engine.registry import rule

# Comments out, string literals kept (the password rules look at the literals). PostgreSQL has no `#`
# comments but has dollar quotes, which may hold a `#` or `--` of a password.
_COMMENT_OR_STRING = re.compile(r"'(?:[^'\\]|''|\\.)*'|\"(?:[^\"\\]|\"\"|\\.)*\"|--[^\n]*|/\*.*?\*/|#[^\n]*",
                                re.DOTALL)
_PG_COMMENT_OR_STRING = re.compile(rf"\$(?P<tag>{DOLLAR_TAG})\$.*?\$(?P=tag)\$|'(?:[^'\\]|''|\\.)*'|"
                                   r"\"(?:[^\"]|\"\")*\"|--[^\n]*|/\*.*?\*/", re.DOTALL)
_ROLE_PREFIXES = ("CREATE ROLE", "CREATE USER", "CREATE GROUP", "ALTER ROLE", "ALTER USER", "ALTER GROUP")
_ROLE_STATEMENT = re.compile(rf"^(?:{'|'.join(_ROLE_PREFIXES)})\b")
# PASSWORD '…', E'…', $$…$$ or $tag$…$tag$: the password is group 1 or group 3.
_PG_PASSWORD = re.compile(rf"(?i)\bPASSWORD\s+(?:[eE]?'((?:[^'\\]|''|\\.)*)'|\$({DOLLAR_TAG})\$(.*?)\$\2\$)",
                          re.DOTALL)
_PG_HASH = re.compile(r"^(SCRAM-SHA-256\$\S+|md5[0-9a-f]{32})$")
_MYSQL_LITERAL = r"""('(?:[^'\\]|''|\\.)*'|"(?:[^"\\]|""|\\.)*")"""
# IDENTIFIED [WITH plugin] BY '…', and MariaDB's IDENTIFIED VIA|WITH plugin USING PASSWORD('…') (also
# after OR, for a second plugin): the literal is group 1.
_MYSQL_BY_LITERAL = re.compile(rf"(?i)(?:\bIDENTIFIED\s+(?:WITH\s+\S+\s+)?BY|\bUSING\s+PASSWORD\s*\()\s*"
                               rf"{_MYSQL_LITERAL}")
_MYSQL_SET_PASSWORD = re.compile(rf"(?i)^\s*SET\s+PASSWORD\b.*=\s*(?:PASSWORD\s*\(\s*)?{_MYSQL_LITERAL}", re.DOTALL)
# What _MYSQL_SET_PASSWORD needs at the start of the raw text: blanks and comments, then SET.
_SET_HEAD = re.compile(r"(?:\s|--[^\n]*|/\*.*?\*/|#[^\n]*)*SET\b", re.IGNORECASE | re.DOTALL)
# A literal that is only a deployment tool's placeholder (Flyway/Liquibase `${name}`, Jinja/Helm
# `{{ name }}`, `%NAME%`): the tool puts the secret in before the SQL runs; git holds no password.
_PLACEHOLDER = re.compile(r"\s*(?:\$\{[^{}]+\}|\{\{[^{}]*\}\}|%\w+%)\s*")


_USER_MAPPING = ("CREATE USER MAPPING", "ALTER USER MAPPING")


def _without_comments(text: str, dialect: str) -> str:
    lexemes = _PG_COMMENT_OR_STRING if dialect == "postgres" else _COMMENT_OR_STRING
    return lexemes.sub(lambda m: m.group(0) if m.group(0)[0] in "'\"$" else " ", text)


def _plaintext(password: str) -> bool:
    """Whether a password literal's text is a password as written (not a placeholder or, on
    PostgreSQL, a verifier: the callers ask _PG_HASH)."""
    return not _PLACEHOLDER.fullmatch(password)


def _flat(st: Stmt, ctx: FileContext) -> str:
    """st.norm before upper-casing: where a message takes the names it shows, as written."""
    return st.flat or flatten(st.text, ctx.dialect)


# The forms below, as st.norm has them: a role statement, GRANT, or SET … PASSWORD (with only blanks and
# comments between).
@rule("security.disallow-plaintext-password", engines="PM", category="SEC", severity="E", nodes=("*",),
      contains=("ROLE", "USER", "GROUP", "GRANT", "PASSWORD"),
      prefixes=(*_ROLE_PREFIXES, "GRANT", "SET"),  # (PostgreSQL: CREATE/ALTER ROLE … only)
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
        for match in _PG_PASSWORD.finditer(_without_comments(st.text, ctx.dialect)):
            password = match.group(1) if match.group(1) is not None else match.group(3)
            if st.norm.startswith(_USER_MAPPING) and _plaintext(password):
                # (The password postgres_fdw & co. send to the remote server: no verifier can stand for it.)
                return ["this user mapping puts the remote server's password in plain text into the migration (it "
                        "ends up in git and in server logs): create the user mapping out of band, or have the remote "
                        "server authenticate the connection otherwise (certificates, a password file)"]
            if not _PG_HASH.match(password) and _plaintext(password):
                return ["this statement puts a role's password in plain text into the migration (it ends up in git "
                        "and in server logs): set passwords out of band, or give a pre-hashed 'SCRAM-SHA-256$…' "
                        "verifier"]
        return None
    role_or_grant = _ROLE_STATEMENT.match(st.norm) or st.starts("GRANT")
    if not role_or_grant and not _SET_HEAD.match(st.text):
        return None  # neither form can match: no need to strip the comments of a long CREATE TABLE
    text = _without_comments(st.text, ctx.dialect)
    plain = role_or_grant and any(_plaintext(m.group(1)[1:-1]) for m in _MYSQL_BY_LITERAL.finditer(text))
    if plain or ((set_password := _MYSQL_SET_PASSWORD.match(text)) and _plaintext(set_password.group(1)[1:-1])):
        return ["this statement puts a user's password in plain text into the migration (it ends up in git and "
                "in server logs): set passwords out of band, or use IDENTIFIED WITH <plugin> AS '<hash>'"]
    return None


# A (qualified, quoted) name as st.norm and the flat text have it: `"my table"`, `"Billing"."Invoices"`.
_NAME = r'(?:"(?:[^"]|"")*"|[^\s."(]+)(?:\.(?:"(?:[^"]|"")*"|[^\s."(]+))*'
# The patterns below that capture a name match st.norm (for the decision) and, case-insensitive, the
# flat text (for the name a message shows, as written: quotes, case and blanks).
_FUNCTION = re.compile(rf"^CREATE (OR REPLACE )?(FUNCTION|PROCEDURE) ({_NAME})", re.IGNORECASE)
_SQL_BODY = re.compile(r" BEGIN ATOMIC\b| RETURN\b")


def _as_written(found: re.Match, st: Stmt, ctx: FileContext, group: int) -> str:
    """A group of a match of st.norm, as the flat text has it (case kept); as st.norm has it when the
    flat text does not match alike (upper-casing changed a length)."""
    written = found.re.match(_flat(st, ctx))
    return (written or found).group(group)


_SECURITY_DEFINER = re.compile(r"\bSECURITY DEFINER\b")
# The GUC's name may be quoted (`SET "search_path" = …`), in any case: PostgreSQL compares GUC names
# without regard to case.
_SET_SEARCH_PATH = re.compile(r'\bSET (?:SEARCH_PATH\b|"SEARCH_PATH")')


@rule("security.definer-requires-search-path", engines="P", category="SEC", severity="E", nodes=("*",),
      contains=("SECURITY DEFINER",),
      prefixes=("CREATE FUNCTION", "CREATE PROCEDURE", "CREATE OR REPLACE FUNCTION", "CREATE OR REPLACE PROCEDURE"),
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
        kind, name = match.group(2).lower(), _as_written(match, st, ctx, 3)
        yield (f"SECURITY DEFINER {kind} {name} has no SET search_path: a caller can plant objects it then runs "
               "with its owner's rights: add `SET search_path = pg_catalog, pg_temp` to the definition")


# Case-insensitive: the grant rules match the flat text, whose names keep their case.
_GRANT = re.compile(r"^(?:ALTER DEFAULT PRIVILEGES\b.*? )?GRANT (.*?) TO (.*)$", re.IGNORECASE)
_GRANT_PREFIXES = ("GRANT", "ALTER DEFAULT PRIVILEGES")  # the statements _GRANT can match


_GRANTEE_LIST_END = re.compile(r" WITH (?:GRANT|ADMIN|INHERIT|SET)\b| GRANTED BY\b|;", re.IGNORECASE)


def _grantees(text: str) -> list[str]:
    match = _GRANT.match(text)
    if not match:
        return []
    grantees = _GRANTEE_LIST_END.split(match.group(2))[0]
    return [g.strip() for g in grantees.split(",")]


def _is_public(grantee: str, dialect: str) -> bool:
    # PostgreSQL reads the role name `public` as PUBLIC, quoted too; `"PUBLIC"` is a role of that name.
    return grantee.upper() == "PUBLIC" or (dialect == "postgres" and grantee == '"public"')


# The gate asks for "GRANT", the check first for "PUBLIC" in st.norm (pg_dump names every table
# `public.…`, so that word is the commoner one), then reads the grantees as written.
@rule("security.disallow-grant-to-public", engines="PM", category="SEC", severity="W", nodes=("*",),
      contains=("GRANT",), prefixes=_GRANT_PREFIXES,
      summary="`GRANT … TO PUBLIC`.",
      why="PUBLIC is every role (on MariaDB 10.11+ every account), including roles created later for other "
          "applications and people: the privilege reaches far beyond the application it was meant for. "
          "MySQL 8.0 has no PUBLIC role: there the name is an account called PUBLIC.",
      instead="Grant to a named role (and grant that role to the users who need it).",
      example="GRANT SELECT ON orders TO PUBLIC;")
def security_disallow_grant_to_public(st: Stmt, ctx: FileContext, payload: dict) -> Iterator[str]:
    if "PUBLIC" not in st.norm or not any(_is_public(g, ctx.dialect) for g in _grantees(_flat(st, ctx))):
        return
    if ctx.dialect == "postgres":
        yield "GRANT … TO PUBLIC gives the privilege to every role, present and future: grant it to a named role"
    else:
        yield ("GRANT … TO PUBLIC: on MariaDB 10.11+ PUBLIC is every account, present and future; on MySQL it is "
               "an account named PUBLIC (the GRANT fails if there is none): grant it to a named role")


_ALL_PRIVILEGES = re.compile(r"ALL\b", re.IGNORECASE)
_ALL_ON_COLUMNS = re.compile(r"ALL (?:PRIVILEGES ?)?\(", re.IGNORECASE)
_ON_TARGET = re.compile(r"\bON (.*)$", re.IGNORECASE)
# The kind of object after ON (upper case): a keyword followed by the object's name, or ALL … IN SCHEMA.
_OBJECT_KIND = re.compile(r"(?:ALL (\w+) IN SCHEMA|(FOREIGN DATA WRAPPER|FOREIGN SERVER|LARGE OBJECT|\w+)) (?=\S)")
_TABLE_PRIVILEGES = "e.g. SELECT, INSERT, UPDATE, DELETE"
# PostgreSQL: what to grant instead of ALL, by the object kind after ON (plural: ALL … IN SCHEMA and
# ALTER DEFAULT PRIVILEGES); None where ALL is the object's one privilege (EXECUTE, USAGE, CREATE), so
# that GRANT ALL grants nothing more than that.
_PG_GRANT_INSTEAD: dict[str, str | None] = {
    "TABLE": _TABLE_PRIVILEGES, "TABLES": _TABLE_PRIVILEGES,
    **dict.fromkeys(("SEQUENCE", "SEQUENCES"), "for a sequence: USAGE, SELECT; UPDATE only if it calls setval"),
    **dict.fromkeys(("SCHEMA", "SCHEMAS"), "for a schema: USAGE; CREATE only if it creates objects there"),
    "DATABASE": "for a database: CONNECT; TEMPORARY only if it creates temporary tables",
    **dict.fromkeys(("LARGE OBJECT", "LARGE OBJECTS"), "for a large object: SELECT; UPDATE only if it writes it"),
    "PARAMETER": "for a parameter: SET or ALTER SYSTEM, whichever it needs",
    **dict.fromkeys(("FUNCTION", "FUNCTIONS", "PROCEDURE", "PROCEDURES", "ROUTINE", "ROUTINES", "TYPE", "TYPES",
                     "DOMAIN", "LANGUAGE", "FOREIGN DATA WRAPPER", "FOREIGN SERVER", "TABLESPACE")),
}


def _pg_grant_instead(privileges: str, target: str, default_privileges: bool) -> str | None:
    """What to grant instead of ALL on a PostgreSQL object (`privileges`: the text between GRANT and
    TO), None when ALL is its one privilege."""
    if _ALL_ON_COLUMNS.match(privileges):
        return "e.g. SELECT, INSERT, UPDATE"  # the column privileges (no DELETE)
    target = target.upper()
    if default_privileges:
        kind = target  # ON TABLES, ON FUNCTIONS …: the kind and nothing else
    elif match := _OBJECT_KIND.match(target):
        kind = match.group(1) or match.group(2)
    else:
        kind = "TABLE"  # ON name: a table
    return _PG_GRANT_INSTEAD.get(kind, _TABLE_PRIVILEGES)


# (The gate asks for "GRANT": a rarer word than "ALL", which SMALLINT holds; the check asks st.norm for
# "ALL" before it reads the flat text.)
@rule("security.disallow-grant-all", engines="PM", category="SEC", severity="W", nodes=("*",),
      contains=("GRANT",), prefixes=_GRANT_PREFIXES,
      summary="`GRANT ALL [PRIVILEGES]` (PostgreSQL: on objects with more than one privilege).",
      why="ALL includes privileges the application never needs (TRUNCATE, REFERENCES, TRIGGER; on MySQL "
          "DROP, ALTER, GRANT-adjacent ones): a compromised or buggy client can do far more damage.",
      instead="Grant only the privileges needed, e.g. on a table `GRANT SELECT, INSERT, UPDATE, DELETE ON …`, "
              "on a PostgreSQL schema `GRANT USAGE ON SCHEMA …`.",
      example="GRANT ALL PRIVILEGES ON orders TO app;")
def security_disallow_grant_all(st: Stmt, ctx: FileContext, payload: dict) -> Iterator[str]:
    match = _GRANT.match(_flat(st, ctx)) if "ALL" in st.norm else None
    if not match or not _ALL_PRIVILEGES.match(match.group(1)):
        return
    target = _ON_TARGET.search(match.group(1))
    instead: str | None = _TABLE_PRIVILEGES
    if ctx.dialect == "postgres":
        instead = _pg_grant_instead(match.group(1), target.group(1) if target else "", st.starts("ALTER"))
        if instead is None:
            return
    on = f" on {target.group(1)}" if target else ""
    yield (f"GRANT ALL{on} gives every privilege, including ones the application never needs: grant only "
           f"the privileges needed ({instead})")


_CREATE_OR_ALTER_ROLE = re.compile(r'^(?:CREATE|ALTER) (?:ROLE|USER|GROUP) ("(?:[^"]|"")*"|\S+)(.*)$', re.IGNORECASE)
_ROLE_SETTING_CLAUSE = re.compile(r" (RENAME|SET|RESET|IN DATABASE)\b")


_ROLE_ATTRIBUTE = {word: re.compile(rf"\b{word}\b") for word in ("SUPERUSER", "BYPASSRLS")}


@rule("security.disallow-superuser-role", engines="P", category="SEC", severity="W", nodes=("*",),
      contains=("SUPERUSER", "BYPASSRLS"), prefixes=_ROLE_PREFIXES,
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
            yield (f"role {_as_written(match, st, ctx, 1)} gets {attribute}, which bypasses "
                   f"{'every permission check' if attribute == 'SUPERUSER' else 'row-level security'}: give it "
                   "only the privileges it needs")


_DISABLE_RLS = re.compile(rf"^ALTER TABLE (?:IF EXISTS )?(?:ONLY )?({_NAME}) .*?\b(DISABLE|NO FORCE) "
                          r"ROW LEVEL SECURITY\b", re.IGNORECASE)


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
        yield (f"{match.group(2)} ROW LEVEL SECURITY on {_as_written(match, st, ctx, 1)} lifts its row-level "
               "protection: keep RLS on and change the policies instead")
