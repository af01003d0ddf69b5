"""SQLite-specific rules (catalogue §1.9): the `ALTER TABLE` forms SQLite lacks, the restrictions on
`ADD COLUMN`, and `PRAGMA foreign_keys` inside a transaction.

SQLite changes a table's definition by rebuilding it (the "12-step" procedure of the SQLite docs,
which Django's schema editor also follows): create `new_x`, copy `INSERT INTO new_x SELECT … FROM
x`, `DROP TABLE x`, `ALTER TABLE new_x RENAME TO x`. `statement.sqlite.unsupported-alter` records
such rebuilds in the file's memo, for the destructive and compatibility rules:

- `ctx.memo["sqlite.rebuild_sources"]`: the tables whose rows were copied into a table created in
  this file and named as its rebuild pair (`x` for `new_x`, `new__x`, `x_new`, `temporary_x`,
  `ef_temp_x`; `_x_old`, `x__old`, `old_x`, `temporary_x` for `x`): their `DROP TABLE` is a
  rebuild step, not data loss;
- `ctx.memo["sqlite.rebuild_targets"]`: the tables created in this file that received the copy
  (`new_x`): their `RENAME TO x` is the last rebuild step, not a rename of a live table.

Names are recorded lower-case and, when the tree has them, also as `name_of()` spells them.
The memo is written only while `statement.sqlite.unsupported-alter` is enabled (the engine has
no hook that runs whatever the policy).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from sqlglot import exp

from reviews.engine.model import FileContext, Stmt, name_of
from reviews.engine.registry import rule
from reviews.rules.common import paren_group, split_top

REBUILD_SOURCES = "sqlite.rebuild_sources"
REBUILD_TARGETS = "sqlite.rebuild_targets"
_FACTS = "statement.sqlite.unsupported-alter"  # memo: {table: {column: why it cannot be dropped}}
_INDEXES = "sqlite.indexes"  # memo: {index: (table, its columns)}, for DROP COLUMN of an indexed column

_LEXEME = re.compile(r"(?P<comment>--[^\n]*|/\*.*?(?:\*/|$))|(?P<string>'(?:[^']|'')*')", re.DOTALL)
_NAME = r'(?:"(?:[^"]|"")*"|`(?:[^`]|``)*`|\[[^\]]*\]|[\w$]+)'
_NAME_RE = re.compile(_NAME)
_QNAME = rf"{_NAME}(?:\s*\.\s*{_NAME})?"
_ALTER = re.compile(rf"^ALTER TABLE (?P<name>{_QNAME})\s*(?P<rest>.*)$", re.DOTALL)
_CREATE_TABLE = re.compile(rf"^CREATE (?:TEMP |TEMPORARY )?TABLE (?:IF NOT EXISTS )?(?P<name>{_QNAME})\s*(?P<rest>.*)$",
                           re.DOTALL)
_CREATE_INDEX = re.compile(rf"^CREATE (?:UNIQUE )?INDEX (?:IF NOT EXISTS )?(?P<index>{_QNAME}) "
                           rf"ON (?P<name>{_QNAME})\s*(?P<rest>\(.*)$", re.DOTALL)
_DROP_TABLE = re.compile(rf"^DROP TABLE (?:IF EXISTS )?(?P<name>{_QNAME})")
_DROP_INDEX = re.compile(rf"^DROP INDEX (?:IF EXISTS )?(?P<index>{_QNAME})")
_INSERT_SELECT = re.compile(rf"^(?:REPLACE|INSERT(?: OR \w+)?) INTO (?P<target>{_QNAME})\s*(?:\([^)]*\)\s*)?"
                            rf"SELECT\b.*?\bFROM (?P<source>{_QNAME})", re.DOTALL)
_PRAGMA_FK = re.compile(r"^PRAGMA (?:\w+\s*\.\s*)?FOREIGN_KEYS\s*(?:=|\()\s*(?P<value>\w*)")
_NON_CONSTANT = re.compile(r"^(?:CURRENT_TIME|CURRENT_DATE|CURRENT_TIMESTAMP)\b")
_LITERAL = re.compile(r"^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:E[+-]?\d+)?$|^0X[0-9A-F]+$|^''$|^X''$|^NULL$|^TRUE$|^FALSE$")


def clean(text: str) -> str:
    """Upper-cased text without comments, string literals as `''`, whitespace folded (like the
    engine's `st.norm`, but a comment leaves nothing behind)."""
    return " ".join(_LEXEME.sub(lambda m: " " if m.group("comment") is not None else " '' ", text).upper().split())


def bare(name: str) -> str:
    """A table/column name as SQLite compares it: unquoted, without schema, lower-case."""
    last = found[-1] if (found := _NAME_RE.findall(name)) else name
    if last[:1] in '"`[':
        last = last[1:-1]
    return last.lower()






def _cleaned(st: Stmt, ctx: FileContext) -> str:
    cached = ctx.memo.get("sqlite.clean")
    if cached is None or cached[0] != st.index:
        cached = (st.index, clean(st.text).rstrip(";").strip())
        ctx.memo["sqlite.clean"] = cached
    return cached[1]


def _rebuild_hint(table: str) -> str:
    return (f"rebuild the table instead: CREATE TABLE new_{table} with the new definition, INSERT INTO new_{table} "
            f"SELECT … FROM {table}, DROP TABLE {table}, ALTER TABLE new_{table} RENAME TO {table} "
            "(PRAGMA foreign_keys=OFF before BEGIN)")


# -- what the file tells about columns (for DROP COLUMN) -----------------------------------------

_TABLE_CONSTRAINT = re.compile(rf"^(?:CONSTRAINT {_NAME} )?(?P<kind>PRIMARY KEY|UNIQUE|FOREIGN KEY|CHECK)\b")


def _names_in(group: str) -> list[str]:
    """The leading column name of each item of `(a, b COLLATE nocase DESC, …)`."""
    names = []
    for item in split_top(group):
        match = _NAME_RE.match(item)
        if match:
            names.append(bare(match.group(0)))
    return names


_PRIMARY_KEY = re.compile(r"\bPRIMARY KEY\b")
_UNIQUE = re.compile(r"\bUNIQUE\b")
_REFERENCES = re.compile(r"\bREFERENCES\b")


_CHECK = re.compile(r"\bCHECK ?\(")


def _learn_create(norm: str, facts: dict[str, dict[str, str]], indexes: dict[str, tuple[str, list[str]]]) -> None:
    if match := _CREATE_TABLE.match(norm):
        rest = match.group("rest")
        table = facts.setdefault(bare(match.group("name")), {})
        table.clear()  # a fresh definition
        if not rest.startswith("("):
            return
        columns: set[str] = set()
        checks: list[tuple[str, str]] = []  # (the column a CHECK belongs to, "" for the table's; its expression)
        for item in split_top(paren_group(rest)[0]):
            if constraint := _TABLE_CONSTRAINT.match(item):
                kind = constraint.group("kind")
                group = item[constraint.end():].strip()
                if group.startswith("(") and kind == "CHECK":
                    checks.append(("", paren_group(group)[0]))
                elif group.startswith("("):
                    for column in _names_in(paren_group(group)[0]):
                        table.setdefault(column, {"PRIMARY KEY": "part of the primary key", "UNIQUE": "UNIQUE",
                                                  "FOREIGN KEY": "a foreign key column"}[kind])
                continue
            head = _NAME_RE.match(item)
            if head is None:
                continue
            column = bare(head.group(0))
            columns.add(column)
            if _PRIMARY_KEY.search(item):
                table[column] = "the primary key"
            elif _UNIQUE.search(item):
                table[column] = "UNIQUE"
            # (A column's own REFERENCES goes with it: SQLite drops such a column.)
            checks += ((column, paren_group(item[check.end() - 1:])[0]) for check in _CHECK.finditer(item))
        # SQLite cannot drop a column that a CHECK names, unless the CHECK is that column's own.
        for owner, expression in checks:
            for name in map(bare, _NAME_RE.findall(expression)):
                if name != owner and name in columns:
                    table.setdefault(name, "named in a CHECK constraint")
    elif match := _CREATE_INDEX.match(norm):
        # Every name in it, expressions and a partial index's WHERE included: SQLite cannot drop any of them.
        indexes[bare(match.group("index"))] = (bare(match.group("name")),
                                               [bare(name) for name in _NAME_RE.findall(match.group("rest"))])


def _indexed(indexes: dict[str, tuple[str, list[str]]], table: str, column: str) -> bool:
    return any(on == table and column in columns for on, columns in indexes.values())


def _rename_column(facts: dict[str, dict[str, str]], indexes: dict[str, tuple[str, list[str]]], table: str,
                   old: str, new: str) -> None:
    """`ALTER TABLE table RENAME [COLUMN] old TO new`: the column's facts and indexes go with it."""
    columns = facts.get(table)
    if columns is not None and old in columns:
        columns[new] = columns.pop(old)
    for index, (on, names) in indexes.items():
        if on == table and old in names:
            indexes[index] = (on, [new if name == old else name for name in names])


# -- the rules -------------------------------------------------------------------------------------

_SUPPORTED = re.compile(rf"^(?:RENAME TO |RENAME (?:COLUMN )?{_NAME} TO |ADD (?:COLUMN )?|DROP (?:COLUMN )?)")
# KEY is no reserved word in SQLite: `ADD key text` and `DROP key` add and drop a column named key.
# MySQL's `ADD KEY [name] (a)` has a column list (a type's parameters are numbers), `DROP KEY name` a name.
_ADD_CONSTRAINT = re.compile(rf"^ADD (?:(?:CONSTRAINT|PRIMARY KEY|UNIQUE|FOREIGN KEY|CHECK|INDEX)\b"
                             rf"|KEY(?: {_NAME})? ?\((?! ?[+-]?\d))")
_DROP_OTHER = re.compile(r"^DROP (?:(?:CONSTRAINT|PRIMARY KEY|FOREIGN KEY|INDEX|DEFAULT|CHECK)\b|KEY \S)")
_DROP_COLUMN = re.compile(rf"^DROP (?:COLUMN )?(?P<column>{_NAME})\s*$")


def _unsupported_clause(clause: str) -> str:
    """The name of the ALTER TABLE form SQLite lacks ("" if SQLite has it)."""
    if _ADD_CONSTRAINT.match(clause) or _DROP_OTHER.match(clause):
        return " ".join(clause.split()[:2])
    if not _SUPPORTED.match(clause):
        first = clause.split()[0]
        return "ALTER COLUMN" if first == "ALTER" else first
    return ""


# (temporary_x: TypeORM's; ef_temp_x: EF Core's migration scripts.)
_REBUILD_AFFIX = re.compile(r"^(?:(?:new|old|tmp|temp|temporary|ef_temp)_+)|_+(?:new|old|tmp|temp)$")


def _same_table(target: str, source: str) -> bool:
    """Whether two names are one table's rebuild pair: `new_x`/`new__x`/`x_new` and `x`, or `x` and
    `_x_old`/`x__old`/`old_x` (so `INSERT INTO archive_x SELECT … FROM x` is no rebuild)."""
    def core(name: str) -> str:
        return _REBUILD_AFFIX.sub("", name.lower().strip("_"))

    return target.lower() != source.lower() and core(target) == core(source)


def _record_rebuild(st: Stmt, ctx: FileContext) -> None:
    """`INSERT INTO <table created in this file> SELECT … FROM x`, the two named as a rebuild pair:
    x is being rebuilt."""
    target = source = None
    if isinstance(st.ast, exp.Insert) and isinstance(st.ast.expression, exp.Select):
        into = st.ast.this.this if isinstance(st.ast.this, exp.Schema) else st.ast.this
        select = st.ast.expression
        origin = select.args.get("from_") or select.args.get("from")
        if isinstance(into, exp.Table) and origin is not None and isinstance(origin.this, exp.Table):
            target, source = into, origin.this
    names: tuple[set[str], set[str]] = (set(), set())
    if target is not None and source is not None:
        names[0].update({name_of(target), name_of(target).lower()})
        names[1].update({name_of(source), name_of(source).lower()})
    elif match := _INSERT_SELECT.match(_cleaned(st, ctx)):  # (cleaned only when the tree has no answer)
        names[0].add(bare(match.group("target")))
        names[1].add(bare(match.group("source")))
    if names[0] and any(ctx.is_new(n) for n in names[0]) and _same_table(min(names[0]), min(names[1])):
        ctx.memo.setdefault(REBUILD_TARGETS, set()).update(names[0])
        ctx.memo.setdefault(REBUILD_SOURCES, set()).update(names[1])


_RENAME_TO = re.compile(rf"^RENAME TO (?P<new>{_QNAME})")
_RENAME_COLUMN = re.compile(rf"^RENAME (?:COLUMN )?(?P<old>{_NAME}) TO (?P<new>{_NAME})")


# What _learn_create reads, as st.norm has it (the words are the same once comments are out).
_TABLE_OR_INDEX = re.compile(r"^CREATE (?:(?:TEMP |TEMPORARY )?TABLE|(?:UNIQUE )?INDEX)\b")


def _inserts(st: Stmt, ctx: FileContext) -> bool:
    """Whether the cleaned statement starts with INSERT or REPLACE. From the text's first letters
    when it starts with a letter (no comment or string can start before them): a dump's long
    INSERT is not cleaned for that."""
    text = st.text
    if text[:1].isalpha():
        return text[:8].upper().startswith(("INSERT", "REPLACE"))
    return _cleaned(st, ctx).startswith(("INSERT", "REPLACE"))


@rule("statement.sqlite.unsupported-alter", engines="S", category="SQLITE", severity="E",
      nodes=(exp.Alter, exp.Create, exp.Drop, exp.Insert, "command"),
      # it reads INSERT/REPLACE … SELECT, CREATE, DROP TABLE and ALTER TABLE (by their first word)
      keywords=("INSERT", "REPLACE", "CREATE", "DROP", "ALTER"),
      summary="`ALTER TABLE` forms SQLite lacks (`ALTER COLUMN`, `ADD/DROP CONSTRAINT`, `MODIFY`, several actions "
              "in one statement); `DROP COLUMN` of a primary-key, UNIQUE, indexed or (table-level) foreign-key "
              "column, or of one that another column's or the table's CHECK names (known from earlier statements of "
              "the file).",
      why="SQLite's ALTER TABLE can only rename a table, rename a column, add a column and drop a plain "
          "column. Anything else is a syntax error or fails at run time, and the migration stops half-way.",
      instead="Rebuild the table (SQLite's 12-step procedure): `CREATE TABLE new_x` with the new definition, "
              "`INSERT INTO new_x SELECT … FROM x`, `DROP TABLE x`, `ALTER TABLE new_x RENAME TO x`, with "
              "`PRAGMA foreign_keys=OFF` before `BEGIN`.",
      example="ALTER TABLE orders ALTER COLUMN note TYPE text;")
def unsupported_alter(st: Stmt, ctx: FileContext, payload: dict) -> Iterator[str]:
    facts: dict[str, dict[str, str]] = ctx.memo.setdefault(_FACTS, {})
    indexes: dict[str, tuple[str, list[str]]] = ctx.memo.setdefault(_INDEXES, {})
    if _inserts(st, ctx):
        _record_rebuild(st, ctx)
        return
    if st.text[:1].isalpha() and st.norm.startswith("CREATE") and not _TABLE_OR_INDEX.match(st.norm):
        return  # a view, trigger, function …: nothing to learn (and no long body to clean)
    norm = _cleaned(st, ctx)
    if norm.startswith("CREATE"):
        _learn_create(norm, facts, indexes)
        return
    if match := _DROP_TABLE.match(norm):
        table = bare(match.group("name"))
        facts.pop(table, None)
        for index in [index for index, (on, _) in indexes.items() if on == table]:
            del indexes[index]  # (its indexes go with it)
        return
    if match := _DROP_INDEX.match(norm):
        indexes.pop(bare(match.group("index")), None)
        return
    match = _ALTER.match(norm)
    if match is None:
        return
    table = bare(match.group("name"))
    clauses = split_top(match.group("rest"))
    if len(clauses) > 1:
        yield (f"ALTER TABLE {table} has {len(clauses)} actions: SQLite takes one action per ALTER TABLE; write one "
               f"statement per action, or {_rebuild_hint(table)}")
    for clause in clauses:
        if form := _unsupported_clause(clause):
            yield f"SQLite has no ALTER TABLE … {form} (table {table}): {_rebuild_hint(table)}"
        elif drop := _DROP_COLUMN.match(clause):
            column = bare(drop.group("column"))
            if why := facts.get(table, {}).get(column) or ("indexed" if _indexed(indexes, table, column) else ""):
                yield (f"SQLite cannot DROP COLUMN {column} of table {table}: it is {why}; drop the index or "
                       f"constraint first if it has one, or {_rebuild_hint(table)}")
        elif rename := _RENAME_TO.match(clause):
            new = bare(rename.group("new"))
            facts[new] = facts.pop(table, {})
            for index, (on, columns) in indexes.items():
                if on == table:
                    indexes[index] = (new, columns)
        elif rename := _RENAME_COLUMN.match(clause):
            _rename_column(facts, indexes, table, bare(rename.group("old")), bare(rename.group("new")))


# (Not a foreign key's `ON DELETE SET DEFAULT` action.)
_DEFAULT_VALUE = re.compile(r"(?<!SET )\bDEFAULT\s*(?P<value>\(|[^\s(]+)")


def _default_is_constant(attrs: str) -> bool:
    match = _DEFAULT_VALUE.search(attrs)
    if match is None:
        return True
    if match.group("value") == "(":
        return _constant(paren_group(attrs[match.start("value"):])[0])
    return not _NON_CONSTANT.match(match.group("value"))


_CAST = re.compile(r"^CAST ?\((?P<value>.*) AS [^()]*(?:\([^()]*\))? ?\)$", re.DOTALL)


def _constant(expression: str) -> bool:
    """Whether SQLite takes a DEFAULT (expression) for a constant: a literal, in any parentheses
    and CAST(… AS type)s (it folds those; anything else, `1 + 1` included, it refuses)."""
    expression = expression.strip()
    if expression.startswith("(") and not (group := paren_group(expression))[1]:
        return _constant(group[0])
    if cast := _CAST.match(expression):
        return _constant(cast.group("value"))
    return bool(_LITERAL.match("".join(expression.split())))


_DEFAULT_NULL = re.compile(r"(?<!SET )\bDEFAULT\s*(\(\s*NULL\s*\)|NULL\b)?")


def _has_non_null_default(attrs: str) -> bool:
    match = _DEFAULT_NULL.search(attrs)
    return match is not None and match.group(1) is None


_ADD_COLUMN = re.compile(rf"^ADD (?:COLUMN )?(?P<column>{_NAME})\s*(?P<attrs>.*)$", re.DOTALL)
_GENERATED_AS = re.compile(r"\bAS\s*\(")
_STORED = re.compile(r"\bSTORED\b")


@rule("column.sqlite.add-column-restrictions", engines="S", category="SQLITE", severity="E",
      nodes=(exp.Alter, "command"), keywords=("ALTER",),
      summary="`ADD COLUMN` with `PRIMARY KEY`/`UNIQUE` (always fails), or, on an existing table, a non-constant "
              "default (`CURRENT_TIMESTAMP`, `(expr)`), a `STORED` generated column, or `REFERENCES` with a "
              "non-NULL default.",
      why="SQLite's ADD COLUMN cannot add a PRIMARY KEY or UNIQUE column at all, and refuses a non-constant "
          "default, a STORED generated column or (with foreign keys on) a REFERENCES column with a non-NULL "
          "default as soon as the table has rows. (NOT NULL without a default is "
          "column.add-not-null-require-default.)",
      instead="Rebuild the table with the new column (create new_x, copy, drop, rename), or add the column "
              "without the restricted clause (a VIRTUAL generated column, a unique index afterwards, a constant "
              "default and a backfill).",
      example="ALTER TABLE orders ADD COLUMN created_at text DEFAULT CURRENT_TIMESTAMP;")
def add_column_restrictions(st: Stmt, ctx: FileContext, payload: dict) -> Iterator[str]:
    match = _ALTER.match(_cleaned(st, ctx))
    if match is None:
        return
    table = bare(match.group("name"))
    existing = not ctx.is_new(table)
    for clause in split_top(match.group("rest")):
        add = _ADD_COLUMN.match(clause)
        if add is None or _ADD_CONSTRAINT.match(clause):
            continue
        column, attrs = bare(add.group("column")), add.group("attrs")
        problems = []
        if _PRIMARY_KEY.search(attrs):
            problems.append("a PRIMARY KEY column")
        if _UNIQUE.search(attrs):
            problems.append("a UNIQUE column")
        if existing:
            if not _default_is_constant(attrs):
                problems.append("a column with a non-constant default")
            if _GENERATED_AS.search(attrs) and _STORED.search(attrs):
                problems.append("a STORED generated column")
            if _REFERENCES.search(attrs) and _has_non_null_default(attrs):
                problems.append("a REFERENCES column with a non-NULL default (with foreign keys on)")
        if problems:
            yield (f"SQLite cannot ADD COLUMN {column} to table {table} as {' and '.join(problems)}: "
                   f"{_rebuild_hint(table)}")


@rule("statement.sqlite.pragma-in-transaction", engines="S", category="SQLITE", severity="E",
      nodes=(exp.Pragma, "command"), keywords=("PRAGMA",),
      summary="`PRAGMA foreign_keys = …` inside a transaction: `BEGIN … COMMIT`, a `SAVEPOINT`, or one that "
              "Sluice's runner opens around it (SQLite silently ignores it there).",
      why="`PRAGMA foreign_keys` is a no-op inside a transaction: a table rebuild meant to run with foreign keys "
          "off runs with them on, and `DROP TABLE` of the old table cascades deletes or fails on references.",
      instead="Put `PRAGMA foreign_keys=OFF` before `BEGIN` (Sluice's runner runs it there in autocommit), run "
              "`PRAGMA foreign_key_check` before `COMMIT`, and `PRAGMA foreign_keys=ON` after it.",
      example="BEGIN;\nPRAGMA foreign_keys=OFF;\nCOMMIT;")
def pragma_in_transaction(st: Stmt, ctx: FileContext, payload: dict) -> Iterator[str]:
    match = _PRAGMA_FK.match(_cleaned(st, ctx))
    if match is None:
        return
    # Outside the file's own transaction, Sluice's runner runs the pragma in autocommit if its SQLite
    # adapter says so, and otherwise in a transaction of its own (or the whole file's).
    autocommit = ctx.runner_autocommit(st.text)
    if ctx.in_transaction:
        where, opened, closed = f"begun on line {ctx.transaction_began_line}", "BEGIN", "COMMIT"
    elif ctx.savepoints:  # (a SAVEPOINT outside BEGIN begins a transaction)
        where, opened, closed = f"the SAVEPOINT on line {ctx.savepoints[0][1]} began", "SAVEPOINT", "RELEASE"
    elif not autocommit:
        where, opened, closed = "Sluice's runner opens around it", "", ""
    else:
        return
    value = match.group("value") or "…"
    if autocommit:
        advice = (f"move it before {opened} (Sluice's runner runs it there outside any transaction) and run PRAGMA "
                  f"foreign_key_check before {closed}")
    else:
        advice = ("Sluice's runner runs it in a transaction wherever it stands in the file: leave foreign keys to "
                  "the connection's settings")
    yield f"PRAGMA foreign_keys={value} inside the transaction {where} is silently ignored by SQLite: {advice}"
