"""Transactions and file structure (catalogue §1.4): what a file's BEGIN/COMMIT do, and what
cannot run inside them.

The engine tracks the file's own transaction (`ctx.in_transaction`, `ctx.transaction_began_line`)
from explicit BEGIN/START TRANSACTION … COMMIT/END/ROLLBACK; §0's profile does not assume the
migration tool wraps the file in a transaction (statement.concurrently-in-transaction has an
`assume_in_transaction` payload for tools that do).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from reviews.engine.model import CONCURRENTLY, TX_BEGIN, FileContext, Stmt, per_statement
from reviews.engine.registry import Hit, rule
from reviews.rules.common import NAME_PART, bare
from reviews.rules.locking import (
    NAME,
    WRITE_WORDS,
    CreateIndex,
    added_columns,
    alter_table,
    create_index,
    dml_write,
    flat,
    located,
    targets,
)

_END = re.compile(r"^(COMMIT|END|ROLLBACK|ABORT)\b")
_TX_WORDS = ("BEGIN", "START", "COMMIT", "END", "ROLLBACK", "ABORT")  # what `begins` and `ends` can match


def begins(st: Stmt) -> bool:
    return bool(TX_BEGIN.match(st.norm))


_TO_OR_PREPARED = re.compile(r"\b(?:TO|PREPARED)\b")


def ends(st: Stmt) -> str | None:
    """COMMIT, END, ROLLBACK or ABORT when the statement ends the open transaction (not ROLLBACK TO a
    savepoint, not COMMIT/ROLLBACK PREPARED of a two-phase transaction)."""
    match = _END.match(st.norm)
    if match is None or _TO_OR_PREPARED.search(st.norm):
        return None
    return match.group(1)


_DETACH_CONCURRENTLY = re.compile(r"\bDETACH PARTITION\b.*\bCONCURRENTLY\b")
_SET_TABLESPACE = re.compile(r"\bSET TABLESPACE\b")
_REINDEX_DATABASE_OR_SYSTEM = re.compile(r"^REINDEX (?:\([^)]*\) ?)?(DATABASE|SYSTEM)\b")


def non_transactional(st: Stmt, ctx: FileContext) -> str | None:
    """What a statement is, when PostgreSQL refuses to run it inside a transaction block."""
    norm = st.norm
    if st.syntax_error or not norm.startswith(_NON_TRANSACTIONAL_WORDS):
        return None
    if "CONCURRENTLY" not in norm and not norm.startswith(_NON_TRANSACTIONAL_STARTS):
        return None  # most DDL: no regex for it
    return _non_transactional(st, ctx)


# Each answer of _non_transactional but the CONCURRENTLY forms starts with one of these.
_NON_TRANSACTIONAL_STARTS = ("REINDEX", "VACUUM", "CREATE DATABASE", "DROP DATABASE", "CREATE TABLESPACE",
                             "DROP TABLESPACE", "ALTER SYSTEM", "ALTER DATABASE")


@per_statement
def _non_transactional(st: Stmt, ctx: FileContext) -> str | None:
    norm = st.norm
    if (index := create_index(st, ctx)) is not None:
        return "CREATE INDEX CONCURRENTLY" if index.concurrently else None
    concurrently = CONCURRENTLY.search(norm) is not None
    if st.starts("DROP INDEX") and concurrently:
        return "DROP INDEX CONCURRENTLY"
    if st.starts("REINDEX"):
        if concurrently:
            return "REINDEX CONCURRENTLY"
        if match := _REINDEX_DATABASE_OR_SYSTEM.match(norm):
            return f"REINDEX {match.group(1)}"
        return None
    if st.starts("ALTER TABLE") and _DETACH_CONCURRENTLY.search(norm):
        return "DETACH PARTITION … CONCURRENTLY"
    if st.starts("VACUUM"):
        return "VACUUM"
    for what in ("CREATE DATABASE", "DROP DATABASE", "CREATE TABLESPACE", "DROP TABLESPACE", "ALTER SYSTEM"):
        if st.starts(what):
            return what
    if st.starts("ALTER DATABASE") and _SET_TABLESPACE.search(norm):
        return "ALTER DATABASE … SET TABLESPACE"
    return None


# The first words of what `non_transactional` can answer for, and of what `ends` can match.
_NON_TRANSACTIONAL_WORDS = ("CREATE", "DROP", "REINDEX", "ALTER", "VACUUM")
_END_WORDS = ("COMMIT", "END", "ROLLBACK", "ABORT")
# A word one of which st.norm holds when `non_transactional` answers: CONCURRENTLY, or the start of
# one of _NON_TRANSACTIONAL_STARTS (the gate of the rules that read nothing else: most DDL has none).
_NON_TRANSACTIONAL_GATE = ("CONCURRENTLY", "REINDEX", "VACUUM", "DATABASE", "TABLESPACE", "SYSTEM")


@rule("statement.concurrently-in-transaction", engines="P", category="TX", severity="E", nodes=("*",),
      keywords=(*_NON_TRANSACTIONAL_WORDS, *_END_WORDS), contains=(*_NON_TRANSACTIONAL_GATE, *_END_WORDS),
      summary="`CREATE/DROP INDEX CONCURRENTLY`, `REINDEX CONCURRENTLY`, `DETACH … CONCURRENTLY`, `VACUUM`, "
              "`CREATE DATABASE` inside an explicit `BEGIN … COMMIT` (or, with `assume_in_transaction`, in a "
              "multi-statement file not marked `-- sluice:transaction off`).",
      why="PostgreSQL refuses to run these in a transaction block (error 25001): the migration fails, and with a "
          "tool that wraps files in a transaction it fails on every attempt.",
      instead="Put the statement in a file of its own and tell the tool not to wrap it in a transaction "
              "(`disable_ddl_transaction!`, `-- atlas:txmode none`, alembic `autocommit_block`).",
      example="BEGIN; CREATE INDEX CONCURRENTLY orders_customer_idx ON orders (customer_id); COMMIT;",
      payload={"assume_in_transaction": False},
      schema={"properties": {"assume_in_transaction": {"type": "boolean"}}})
def statement_concurrently_in_transaction(st: Stmt, ctx: FileContext, payload: dict) -> Iterator[str] | None:
    if not ctx.in_transaction and (not payload.get("assume_in_transaction") or ctx.transaction_off):
        return None  # it can only fire in a transaction (the "ended" mark counts only with the payload)
    return _concurrently_in_transaction(st, ctx, payload)


def _concurrently_in_transaction(st: Stmt, ctx: FileContext, payload: dict) -> Iterator[str]:
    memo = ctx.memo.setdefault("statement.concurrently-in-transaction", {"ended": False})
    if ends(st):
        memo["ended"] = True  # with assume_in_transaction: the tool's transaction is over
        return
    what = non_transactional(st, ctx)
    if what is None:
        return
    if ctx.in_transaction:
        where = f"inside the transaction opened at line {ctx.transaction_began_line}"
    elif payload.get("assume_in_transaction") and ctx.statement_count > 1 and not memo["ended"] \
            and not ctx.transaction_off:
        where = "in a multi-statement file that the migration tool runs in one transaction (assume_in_transaction)"
    else:
        return
    yield (f"{what} cannot run {where}: PostgreSQL fails with error 25001. Move it to a file of its own and run "
           "that file outside a transaction (disable_ddl_transaction!, -- atlas:txmode none, alembic "
           "autocommit_block)")


def _alone(st: Stmt, ctx: FileContext) -> bool:
    """The file's only statement besides SET/RESET settings (before or after it)."""
    return st.index == ctx.settings_before and ctx.settings_after == st.index + 1


@rule("statement.non-transactional", engines="P", category="TX", severity="I", nodes=("*",),
      keywords=_NON_TRANSACTIONAL_WORDS, contains=_NON_TRANSACTIONAL_GATE,
      summary="A statement that cannot run in a transaction block (the list of "
              "statement.concurrently-in-transaction) in a file with other statements (not in a file marked "
              "`-- sluice:transaction off`).",
      why="Most migration tools run a file in one transaction; a statement that cannot run in one needs the file "
          "to be run differently, which is easiest to see and to get right when it stands alone.",
      instead="Isolate it in a file of its own (SET/RESET statements around it are fine) and mark that file "
              "non-transactional in the migration tool (Sluice: `-- sluice:transaction off`).",
      example="CREATE TABLE a (id bigint); CREATE INDEX CONCURRENTLY orders_customer_idx ON orders (customer_id);")
def statement_non_transactional(st: Stmt, ctx: FileContext, payload: dict) -> list[str | Hit] | None:
    if ctx.statement_count == 1 or ctx.transaction_off:
        # alone in its file, or the file is marked to run in autocommit (`-- sluice:transaction off`):
        # what the rule asks for
        return None
    if ctx.in_transaction or _alone(st, ctx):
        return None  # (inside BEGIN … COMMIT it is statement.concurrently-in-transaction)
    what = non_transactional(st, ctx)
    if what is None:
        return None
    return [f"{what} cannot run in a transaction block, and this file has other statements: isolate it in a file "
            "of its own and mark that file non-transactional in the migration tool"]


@rule("statement.transaction-nesting", engines="PMS", category="TX", severity="W", nodes=("*",),
      keywords=_TX_WORDS,
      summary="`BEGIN` inside an open transaction; `COMMIT`/`END`/`ROLLBACK` with none open.",
      why="PostgreSQL ignores a nested BEGIN with a warning, MySQL silently commits the open transaction first, "
          "SQLite fails; a COMMIT without a transaction commits nothing (and fails on SQLite). Either way the "
          "file does not do what its structure says.",
      instead="Remove the extra BEGIN/COMMIT, or split the file.",
      example="BEGIN; ALTER TABLE orders ADD COLUMN note text; BEGIN; COMMIT;")
def statement_transaction_nesting(st: Stmt, ctx: FileContext, payload: dict) -> Iterator[str] | None:
    if st.syntax_error or not st.norm.startswith(_TX_WORDS):
        return None  # neither begins nor ends a transaction
    return _transaction_nesting(st, ctx)


def _transaction_nesting(st: Stmt, ctx: FileContext) -> Iterator[str]:
    if begins(st) and ctx.in_transaction:
        effect = {"postgres": "PostgreSQL ignores it with a warning",
                  "mysql": "MySQL silently commits the open transaction first",
                  "sqlite": "SQLite fails (cannot start a transaction within a transaction)"}[ctx.dialect]
        yield (f"{st.norm.split()[0]} inside the transaction opened at line {ctx.transaction_began_line}: {effect}. "
               "Remove the inner BEGIN or split the file")
    elif (word := ends(st)) and not ctx.in_transaction and not ctx.implicit_commit_line:
        # (MySQL: a COMMIT after DDL committed the BEGIN is the usual shape of a file, and harmless)
        effect = "fails on SQLite" if ctx.dialect == "sqlite" else "does nothing"
        yield f"{word} with no open transaction {effect}: remove it (or add the BEGIN it belongs to)"


@rule("statement.uncommitted-transaction", engines="PMS", category="TX", severity="E", at_end=True,
      summary="`BEGIN`/`START TRANSACTION` with no `COMMIT`/`ROLLBACK` before the end of the file.",
      why="The session ends with the transaction open: everything after BEGIN is rolled back while the tool "
          "reports success.",
      instead="Add the `COMMIT`.",
      example="BEGIN; ALTER TABLE orders ADD COLUMN note text;")
def statement_uncommitted_transaction(st: None, ctx: FileContext, payload: dict) -> Iterator[Hit]:
    if ctx.in_transaction:
        # no line number in the message: it is part of the fingerprint of a finding without a statement
        yield Hit("this BEGIN opens a transaction that the file never commits: everything after it is rolled "
                  "back when the session ends, although the tool reports success. Add COMMIT at the end",
                  line=ctx.transaction_began_line)


@rule("statement.disallow-commit", keywords=('COMMIT', 'END'), engines="PMS", category="TX", severity="off", nodes=("*",),
      summary="Any explicit `COMMIT` (the migration tool should own the transaction).",
      why="A COMMIT in a file the tool runs in a transaction ends the tool's transaction early: what follows runs "
          "outside it and a failure leaves the file half-applied.",
      instead="Remove the COMMIT; split the file if parts must run in separate transactions.",
      example="ALTER TABLE orders ADD COLUMN note text; COMMIT;")
def statement_disallow_commit(st: Stmt, ctx: FileContext, payload: dict) -> Iterator[str]:
    if not st.syntax_error and ends(st) in ("COMMIT", "END"):
        yield (f"explicit {ends(st)}: let the migration tool own the transaction; remove it, and split the file if "
               "parts must run in separate transactions")


_GUARDED_CREATE = re.compile(
    r"^CREATE (?:(?:GLOBAL |LOCAL )?(?:TEMPORARY |TEMP )|UNLOGGED )?(TABLE|SEQUENCE|SCHEMA|EXTENSION|MATERIALIZED VIEW|"
    r"FOREIGN TABLE)\b( IF NOT EXISTS\b)?")
_GUARDED_DROP = re.compile(
    r"^DROP (TABLE|INDEX|VIEW|MATERIALIZED VIEW|SEQUENCE|SCHEMA|TYPE|DOMAIN|EXTENSION|FUNCTION|PROCEDURE|TRIGGER|"
    r"FOREIGN TABLE)\b(?: CONCURRENTLY)?( IF EXISTS\b)?")


_CREATE_INDEX_IF_NOT_EXISTS = re.compile(r"^CREATE (?:UNIQUE )?INDEX (?:CONCURRENTLY )?IF NOT EXISTS\b")
_ADD_COLUMN_IF_NOT_EXISTS = re.compile(r"^ADD (?:COLUMN )?IF NOT EXISTS\b")
_DROP_OTHER = re.compile(r"^DROP (?!COLUMN\b|CONSTRAINT\b|IF EXISTS\b|DEFAULT\b|NOT NULL\b|EXPRESSION\b|IDENTITY\b)")


_DROP_UNGUARDED = re.compile(rf"^DROP (COLUMN|CONSTRAINT) (?!IF EXISTS\b)({NAME})", re.I)
_GUARDED_NAME: dict[str, re.Pattern] = {}


def _guarded_name(kind: str) -> re.Pattern:
    pattern = _GUARDED_NAME.get(kind)
    if pattern is None:
        pattern = _GUARDED_NAME[kind] = re.compile(rf"^\S+(?: \S+)*? {kind} ({NAME})", re.I)
    return pattern


_ADD_THE_GUARD = "Add the IF [NOT] EXISTS guard"


def _missing_guards(st: Stmt, ctx: FileContext) -> Iterator[tuple[str, str, str | None]]:
    """(what has no guard, the fix, the ALTER TABLE action it is, if one) of each CREATE, DROP or ADD
    COLUMN of the statement that a retry would stop at."""
    norm = st.norm
    if (index := create_index(st, ctx)) is not None:
        if _CREATE_INDEX_IF_NOT_EXISTS.match(norm):
            return
        if index.concurrently:
            yield from _missing_drop_before(ctx, index)
        elif index.name is None:
            yield "CREATE INDEX without a name (a retry adds a second index): name it and add IF NOT EXISTS", \
                _ADD_THE_GUARD, None
        else:
            yield f"CREATE INDEX {index.name} has no IF NOT EXISTS", _ADD_THE_GUARD, None
        return
    if match := _GUARDED_CREATE.match(norm):
        kind = match.group(1)  # (views, functions, types: no IF NOT EXISTS to advise)
        if not match.group(2):
            name = _guarded_name(kind).match(flat(st, ctx))
            yield (f"CREATE {kind} {name.group(1) if name else ''} has no IF NOT EXISTS".replace("  ", " "),
                   _ADD_THE_GUARD, None)
        return
    if match := _GUARDED_DROP.match(norm):
        if not match.group(2):
            names = targets(flat(st, ctx), rf"^DROP {match.group(1)} (?:CONCURRENTLY )?")
            yield f"DROP {match.group(1)} {', '.join(names)} has no IF EXISTS".replace("  ", " "), _ADD_THE_GUARD, None
        return
    alter = alter_table(st, ctx)
    for action in alter.actions if alter else ():
        upper = action.upper()
        if upper.startswith("ADD") and added_columns(action) and not _ADD_COLUMN_IF_NOT_EXISTS.match(upper):
            yield f"ADD COLUMN {added_columns(action)[0][0]} on {alter.table} has no IF NOT EXISTS", \
                _ADD_THE_GUARD, action
        elif match := _DROP_UNGUARDED.match(action):
            yield f"DROP {match.group(1).upper()} {match.group(2)} on {alter.table} has no IF EXISTS", \
                _ADD_THE_GUARD, action
        elif _DROP_OTHER.match(upper):
            yield f"{action.split(' (')[0]} on {alter.table} has no IF EXISTS", _ADD_THE_GUARD, action


# ctx.memo: the (bare) names of the indexes a DROP INDEX … IF EXISTS of the file named so far.
_DROPPED_INDEXES = "statement.prefer-robust-stmts:dropped"
_DROP_INDEX_IF_EXISTS = r"^DROP INDEX (?:CONCURRENTLY )?IF EXISTS "


def _missing_drop_before(ctx: FileContext, index: CreateIndex) -> Iterator[tuple[str, str, None]]:
    """A CREATE INDEX CONCURRENTLY's guard is a DROP INDEX … IF EXISTS of it earlier in the file, not IF NOT
    EXISTS: a failed build leaves an INVALID index behind, which IF NOT EXISTS would keep (and the
    migration would pass without the index working)."""
    if index.name is not None and bare(index.name) in ctx.memo.get(_DROPPED_INDEXES, ()):
        return
    schema = ".".join(re.findall(NAME_PART, index.table)[:-1])  # (the index is in its table's schema)
    name = f"{schema}.{index.name}" if schema and index.name else index.name or "<name>"
    fix = (f"{'Put' if index.name else 'Name it and put'} `DROP INDEX CONCURRENTLY IF EXISTS {name};` before it, "
           "not IF NOT EXISTS: a failed build leaves an invalid index behind, which IF NOT EXISTS would keep")
    if index.name is None:
        yield "CREATE INDEX CONCURRENTLY without a name (a retry adds a second index)", fix, None
    else:
        yield f"CREATE INDEX CONCURRENTLY {index.name} has no DROP INDEX … IF EXISTS before it", fix, None


@rule("statement.prefer-robust-stmts", keywords=("CREATE", "DROP", "ALTER"), engines="P", category="TX",
      severity="W", nodes=("*",),
      summary="In a file that cannot run in one transaction (it uses CONCURRENTLY or commits mid-file): "
              "`CREATE`/`DROP`/`ADD COLUMN` without `IF [NOT] EXISTS` (a `CREATE INDEX CONCURRENTLY` without "
              "either, nor a `DROP INDEX … IF EXISTS` of it before it). Not the file's only statement besides "
              "settings (but a `CREATE INDEX CONCURRENTLY` even then: its failed build leaves an invalid index "
              "behind), nor one in the file's last `BEGIN … COMMIT` (which rolls back whole; an earlier block "
              "stays committed when what follows it fails).",
      why="Such a file can fail half-way with part of it applied; the retry then stops at the first statement "
          "that already ran (relation already exists / does not exist).",
      instead="Add `IF NOT EXISTS` / `IF EXISTS` so that the file can be re-run after a partial failure; before a "
              "`CREATE INDEX CONCURRENTLY`, `DROP INDEX CONCURRENTLY IF EXISTS` (IF NOT EXISTS would keep the "
              "invalid index a failed build leaves).",
      example="CREATE TABLE notes (id bigint);\nCREATE INDEX CONCURRENTLY orders_customer_idx ON orders (customer_id);")
def statement_prefer_robust_stmts(st: Stmt, ctx: FileContext, payload: dict) -> list[str | Hit] | None:
    if not (ctx.has_concurrently or ctx.has_mid_file_commit):
        return None  # the file runs in one transaction (nothing can wait to be reported either)
    if st.syntax_error:
        return None
    if st.starts("DROP INDEX"):
        names = targets(flat(st, ctx), _DROP_INDEX_IF_EXISTS)
        if names:
            ctx.memo.setdefault(_DROPPED_INDEXES, set()).update(bare(name) for name in names)
    alone = _alone(st, ctx)
    if (alone and not _builds_concurrently(st, ctx)) or (ctx.in_transaction and _last_block(st, ctx)):
        return None  # inside the file's last BEGIN … COMMIT a failure rolls it all back: the retry starts clean
    # (An earlier block commits before the rest of the file runs: a failure after it leaves it applied,
    # and the retry meets what it created, as Alembic's autocommit_block around a CONCURRENTLY shows.)
    return list(_prefer_robust_stmts(st, ctx, alone))


def _builds_concurrently(st: Stmt, ctx: FileContext) -> bool:
    """A CREATE INDEX CONCURRENTLY: alone in its file (as statement.non-transactional asks) it still leaves
    an INVALID index behind when its build fails, and the file's retry stops at it (relation already exists)."""
    index = create_index(st, ctx)
    return index is not None and index.concurrently


def _last_block(st: Stmt, ctx: FileContext) -> bool:
    """Whether the open transaction is the file's last: nothing but settings after its COMMIT (or none)."""
    end = next((index for index in ctx.commits if index > st.index), None)
    return end is None or end >= ctx.settings_after - 1


def _prefer_robust_stmts(st: Stmt, ctx: FileContext, alone: bool) -> Iterator[str | Hit]:
    """`alone`: the file's only statement besides settings (a CREATE INDEX CONCURRENTLY: _builds_concurrently)."""
    why = ("uses CONCURRENTLY" if ctx.has_concurrently else "commits mid-file")
    for problem, fix, action in _missing_guards(st, ctx):
        if alone:
            message = f"{problem}: if its build fails, a retry of this file stops here (relation already exists). {fix}"
        else:
            message = (f"{problem}: this file {why}, so it cannot run in one transaction and a retry after a partial "
                       f"failure stops here. {fix}")
        yield located(st, action, message) if action else message


@rule("statement.maximum-statements-in-transaction", engines="PMS", category="TX", severity="off", nodes=("*",),
      summary="More than `max_statements` statements in one explicit transaction (payload, default 50).",
      why="A long transaction holds every lock it took until the end, and a failure near the end throws all of "
          "it away.",
      instead="Split the work into several transactions or files.",
      example="BEGIN;\n" + "".join(f"UPDATE accounts SET tier = {i} WHERE id = {i};\n" for i in range(1, 52)) + "COMMIT;",
      payload={"max_statements": 50},
      schema={"properties": {"max_statements": {"type": "integer", "minimum": 1}}})
def statement_maximum_statements_in_transaction(st: Stmt, ctx: FileContext, payload: dict) -> Iterator[str]:
    memo = ctx.memo.get("statement.maximum-statements-in-transaction")
    if memo is None:
        memo = ctx.memo["statement.maximum-statements-in-transaction"] = {"count": 0}
    if not ctx.in_transaction or begins(st) or ends(st):
        memo["count"] = 0
        return
    memo["count"] += 1
    limit = int(payload.get("max_statements", 50))
    if memo["count"] == limit + 1:
        yield (f"the transaction opened at line {ctx.transaction_began_line} has more than {limit} statements "
               "(this is the first one over): split it into several transactions or files")


# The tables migration tools keep their own state in (lower case): a write to one is the tool stamping
# the version it applied, in the same transaction as the DDL on purpose, no backfill.
_MIGRATION_TOOL_TABLES = frozenset({
    "alembic_version", "schema_migrations", "ar_internal_metadata", "flyway_schema_history", "schema_version",
    "django_migrations", "knex_migrations", "knex_migrations_lock", "goose_db_version", "__efmigrationshistory",
    "_prisma_migrations", "doctrine_migration_versions", "migration_versions", "databasechangelog",
    "databasechangeloglock", "__diesel_schema_migrations", "_sqlx_migrations", "seaql_migrations",
    "schema_version_history", "gorp_migrations",
})


@rule("statement.disallow-mix-in-ddl", keywords=WRITE_WORDS, engines="PMS", category="TX", severity="W", strict="E", nodes=("*",),
      summary="`UPDATE`/`DELETE`/`INSERT … SELECT`/`COPY` into an existing table in a file that also alters "
              "existing tables (not: seeding a table created in the file, literal `INSERT … VALUES`, SQLite "
              "rebuild copies, a migration tool's version stamp such as `UPDATE alembic_version …`).",
      why="A backfill in the DDL file runs in the same transaction as the ALTERs, so it holds their locks for as "
          "long as it runs, and it cannot be batched, throttled or resumed. (MySQL commits each DDL statement at "
          "once: there the backfill holds no DDL lock, but it still runs unbatched, and a failure in it leaves "
          "the file half applied.)",
      instead="A separate data migration that updates in batches, outside the DDL transaction.",
      example="ALTER TABLE orders ADD COLUMN status text; UPDATE orders SET status = 'new';")
def statement_disallow_mix_in_ddl(st: Stmt, ctx: FileContext, payload: dict) -> list[str] | None:
    # A list or None, not a generator: most files alter no existing table, and most writes are seeds.
    if not ctx.alters_existing_tables:
        return None
    write = dml_write(st, ctx)
    if write is None or (not write.from_query and write.verb in ("INSERT", "REPLACE")) or ctx.is_new(write.key):
        return None
    if write.key.rsplit(".", 1)[-1].strip('"`').lower() in _MIGRATION_TOOL_TABLES:
        return None  # the migration tool's own bookkeeping (Alembic's version stamp): one row, in the DDL's transaction
    what = f"{write.verb} … SELECT" if write.verb in ("INSERT", "REPLACE") else write.verb
    if ctx.dialect == "mysql":  # (its DDL commits at once: no lock is held for the backfill)
        return [(f"{what} writes to existing table {write.table} in a file that also alters existing tables: the "
                 "backfill runs as one statement that cannot be batched or throttled, and a failure in it leaves the "
                 "file's DDL applied without it. Move it to a separate data migration that works in batches")]
    return [(f"{what} writes to existing table {write.table} in a file that also alters existing tables: the backfill "
             "holds the DDL locks and cannot be batched. Move it to a separate data migration that works in batches "
             "outside the DDL transaction")]
