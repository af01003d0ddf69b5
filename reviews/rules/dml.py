"""DML hygiene (catalogue §1.5): data statements in migrations that do more, or less, than they say."""

from __future__ import annotations

import re
from collections.abc import Iterator

from sqlglot import exp

from reviews.engine.model import FileContext, Stmt, blank_comments_and_strings, name_of
from reviews.engine.registry import Hit, declare, rule
from reviews.rules.common import at, mentions, norm_may_hide, only_if, position

_SELECT_STAR = re.compile(r"(?:\bSELECT(?:\s+(?:DISTINCT|ALL))?|,)\s*((?:(?:\w+|\"[^\"]*\"|`[^`]*`)\.)*\*)",
                          re.IGNORECASE)






def _target(st: Stmt) -> str:
    """The table an UPDATE/DELETE/INSERT writes to."""
    node = st.ast.this
    if isinstance(node, exp.Schema):
        node = node.this
    return name_of(node) if isinstance(node, exp.Table) else ""


def _in_routine(st: Stmt) -> bool:
    """A routine or trigger definition: its body does not run at migration time (catalogue §0)."""
    return isinstance(st.ast, exp.Create) and str(st.ast.args.get("kind") or "").upper() in (
        "FUNCTION", "PROCEDURE", "TRIGGER")


def _verb(st: Stmt) -> str:
    return "UPDATE" if isinstance(st.ast, exp.Update) else "DELETE"


@rule("statement.where.require.update-delete", engines="PMS", category="DML", severity="E",
      nodes=(exp.Update, exp.Delete),
      summary="`UPDATE` or `DELETE` without `WHERE` on an existing table.",
      why="It changes or deletes every row of the table, usually by mistake, in one long transaction that locks "
          "them all.",
      instead="Add the predicate that selects the rows meant; for large changes, batch by key range.",
      example="DELETE FROM sessions;")
def where_require_update_delete(st: Stmt, ctx: FileContext, payload: dict) -> Iterator[str]:
    if st.ast.args.get("where") is not None:
        return
    table = _target(st)
    if table and ctx.is_new(table):
        return
    verb = _verb(st)
    yield (f"{verb} without WHERE {'changes' if verb == 'UPDATE' else 'deletes'} every row of {table or 'the table'}: "
           "add the predicate that selects the rows meant, and batch large changes by key range")


@rule("statement.where.require.select", engines="PMS", category="DML", severity="off", nodes=(exp.Select,),
      summary="A top-level `SELECT … FROM` without `WHERE` (a SELECT without FROM, such as `SELECT setval(…)`, is "
              "not flagged).",
      why="A migration that reads a whole table may scan a large table for nothing.",
      instead="Add a `WHERE` (or drop the query from the migration).",
      example="SELECT * FROM orders;")
def where_require_select(st: Stmt, ctx: FileContext, payload: dict) -> Iterator[str]:
    if st.ast.args.get("from_") is not None and st.ast.args.get("where") is None:
        yield "SELECT without WHERE reads the whole table: add a WHERE, or remove the query from the migration"


@rule("statement.select.no-select-all", engines="PMS", category="DML", severity="W", nodes=("*",), contains=("*",),
      summary="`SELECT *` (also in `CREATE VIEW … AS SELECT *` and `INSERT … SELECT *`; not inside `EXISTS`).",
      why="The result follows the table's current columns: a view freezes them, an INSERT … SELECT depends on "
          "their order, and an added column silently changes what the statement does.",
      instead="List the columns.",
      example="CREATE VIEW active_users AS SELECT * FROM users WHERE active;")
def select_no_select_all(st: Stmt, ctx: FileContext, payload: dict) -> Iterator[Hit]:
    if not st.parsed or "*" not in st.norm or _in_routine(st):
        return
    for select in st.ast.find_all(exp.Select):
        if select.find_ancestor(exp.Exists) is not None:
            continue
        if any(isinstance(p, exp.Star) or (isinstance(p, exp.Column) and isinstance(p.this, exp.Star))
               for p in select.expressions):
            # One finding per statement, at the first `*` / `t.*` in a select list (trees keep no
            # offset for a star).
            star = _SELECT_STAR.search(blank_comments_and_strings(st.text))
            yield Hit("SELECT * depends on the table's current columns and their order: list the columns",
                      **(position(st, star.start(1)) if star else {}))
            return


@rule("statement.insert.must-specify-column", engines="PMS", category="DML", severity="W", nodes=(exp.Insert,),
      summary="`INSERT INTO t VALUES …` / `INSERT INTO t SELECT …` without a column list.",
      why="The values are matched to the columns by position: adding, dropping or reordering a column makes the "
          "INSERT fail or, worse, put values in the wrong columns.",
      instead="List the columns: `INSERT INTO t (a, b) VALUES …`.",
      example="INSERT INTO countries VALUES ('fr', 'France');")
def insert_must_specify_column(st: Stmt, ctx: FileContext, payload: dict) -> Iterator[str]:
    if isinstance(st.ast.this, exp.Table) and not st.ast.args.get("default") and st.ast.expression is not None:
        yield (f"INSERT INTO {name_of(st.ast.this)} without a column list matches values to columns by position: "
               "list the columns")


@rule("statement.insert.disallow-order-by-rand", engines="PMS", category="DML", severity="W", nodes=(exp.Insert,),
      summary="`INSERT … SELECT … ORDER BY rand()/random()`.",
      why="Sorting by a random value sorts the whole source for nothing (row order in a table means nothing), and "
          "makes the statement nondeterministic, which breaks statement-based replication.",
      instead="Remove the `ORDER BY`; to sample, pick rows by key range.",
      example="INSERT INTO sample (id) SELECT id FROM users ORDER BY random() LIMIT 100;")
# Both words or nothing to find: sqlglot reads an Order from ORDER BY (or its subclasses from Hive's
# SORT BY / DISTRIBUTE BY, which it parses in every dialect), Rand from RAND/RANDOM. No walk over
# the rows of a long INSERT … VALUES.
@only_if(lambda st: mentions(st, "ORDER", "SORT", "DISTRIBUTE") and mentions(st, "RAND"))
def insert_disallow_order_by_rand(st: Stmt, ctx: FileContext, payload: dict) -> Iterator[Hit]:
    select = st.ast.expression
    if select is None:
        return
    for order in select.find_all(exp.Order):
        for item in order.expressions:
            random = item.find(exp.Rand)
            if random is None:
                anonymous = item.find(exp.Anonymous)
                random = anonymous if anonymous is not None and anonymous.name.upper() in ("RAND", "RANDOM") else None
            if random is not None:
                yield Hit("INSERT … SELECT … ORDER BY a random value sorts for nothing and is nondeterministic: "
                          "remove the ORDER BY (pick rows by key range to sample)")
                return


@rule("statement.disallow-limit", engines="M", category="DML", severity="W", nodes=(exp.Update, exp.Delete),
      summary="`UPDATE`/`DELETE … LIMIT`.",
      why="Which rows a LIMIT picks is not defined, so replicas using statement-based replication may change other "
          "rows than the source.",
      instead="Batch by key range: `WHERE id BETWEEN … AND …`.",
      example="DELETE FROM sessions WHERE expired LIMIT 1000;")
def disallow_limit(st: Stmt, ctx: FileContext, payload: dict) -> Iterator[str]:
    if st.ast.args.get("limit") is not None:
        yield (f"{_verb(st)} … LIMIT touches rows in no defined order (unsafe for statement-based replication): "
               "batch by key range instead (WHERE id BETWEEN … AND …)")


@rule("statement.disallow-order-by", engines="M", category="DML", severity="W", nodes=(exp.Update, exp.Delete),
      summary="`UPDATE`/`DELETE … ORDER BY`.",
      why="An ORDER BY in a write only matters together with LIMIT, whose row choice is nondeterministic; it also "
          "sorts the rows for nothing.",
      instead="Select the rows with a deterministic predicate (a key range) instead.",
      example="UPDATE jobs SET state = 'queued' ORDER BY created_at LIMIT 10;")
def disallow_order_by(st: Stmt, ctx: FileContext, payload: dict) -> Iterator[str]:
    if st.ast.args.get("order") is not None:
        yield f"{_verb(st)} … ORDER BY: select the rows with a deterministic predicate (a key range) instead"


_CONDITION = (exp.Where, exp.Having, exp.Join, exp.If, exp.CheckColumnConstraint, exp.Filter, exp.Qualify)
# `= NULL`, `<> NULL`, `!= NULL` or `NULL =` … as st.norm has them (blanks folded, comments out).
# Anchored on the literal NULL, which the regex engine finds fast.
_COMPARED_WITH_NULL_NORM = re.compile(r"NULL(?:(?<=[=>]NULL)|(?<=[=>] NULL)|(?= ?[=<!]))")
# The same on the raw text, for when st.norm may have lost some (norm_may_hide): what may stand
# between a comparison and its NULL there is blanks, comments (also `#`, and the ends of nested
# ones) and parentheses.
_GAP = r"(?:\s|--[^\n]*|#[^\n]*|/\*.*?\*/|\*/|[()])*"
_COMPARED_WITH_NULL = re.compile(rf"[=>]{_GAP}[Nn][Uu][Ll][Ll]|[Nn][Uu][Ll][Ll]{_GAP}[=<!]", re.DOTALL)
# Without comments the gap is blanks and parentheses: then search the upper-cased text for NULL and
# the reversed text for LLUN, both literals the regex engine finds fast.
_NULL_THEN_COMPARISON = re.compile(r"NULL[\s()]*[=<!]")
_LLUN_THEN_COMPARISON = re.compile(r"LLUN[\s()]*[=>]")


def _compares_with_null(st: Stmt) -> bool:
    """Whether the text may hold a comparison with NULL (never a false no)."""
    if _COMPARED_WITH_NULL_NORM.search(st.norm):
        return True
    if not norm_may_hide(st):
        return False
    text = st.text.upper()
    if "--" in text or "#" in text or "/*" in text or "*/" in text:
        return bool(_COMPARED_WITH_NULL.search(st.text))
    return bool(_NULL_THEN_COMPARISON.search(text) or _LLUN_THEN_COMPARISON.search(text[::-1]))


@rule("statement.where.no-equal-null", engines="PMS", category="DML", severity="W", nodes=("*",), contains=("NULL",),
      summary="`= NULL`, `<> NULL` or `!= NULL` in a condition.",
      why="A comparison with NULL is never true (it is unknown), so the condition matches no row, silently.",
      instead="`IS NULL` / `IS NOT NULL`.",
      example="DELETE FROM users WHERE deleted_at = NULL;")
def where_no_equal_null(st: Stmt, ctx: FileContext, payload: dict) -> Iterator[Hit] | None:
    if not st.parsed or "NULL" not in st.norm or _in_routine(st):
        return None
    if not _compares_with_null(st):
        return None  # most NULLs are NOT NULL / DEFAULT NULL: no tree walk (nor generator) for them
    return _null_comparisons(st)


def _null_comparisons(st: Stmt) -> Iterator[Hit]:
    for comparison in st.ast.find_all(exp.EQ, exp.NEQ):
        if not (isinstance(comparison.this, exp.Null) or isinstance(comparison.expression, exp.Null)):
            continue
        if comparison.find_ancestor(*_CONDITION) is None:
            continue  # an assignment (UPDATE … SET a = NULL, ON CONFLICT … SET), not a condition
        operator = "=" if isinstance(comparison, exp.EQ) else "<>"
        fix = "IS NULL" if operator == "=" else "IS NOT NULL"
        yield Hit(f"`{operator} NULL` is never true (comparisons with NULL are unknown): write {fix}",
                  **at(st, comparison))


@rule("statement.where.no-leading-wildcard-like", engines="PMS", category="DML", severity="I", nodes=("*",),
      contains=("LIKE",),
      summary="`LIKE '%…'` (a leading wildcard) in a WHERE clause.",
      why="A pattern that starts with a wildcard cannot use a B-tree index: the query scans the whole table.",
      instead="A trigram (`pg_trgm`) or full-text index, or a pattern anchored at the start.",
      example="UPDATE users SET flagged = true WHERE email LIKE '%@example.com';")
def where_no_leading_wildcard_like(st: Stmt, ctx: FileContext, payload: dict) -> Iterator[Hit]:
    if not st.parsed or "LIKE" not in st.norm or _in_routine(st):
        return
    if "'%" not in st.text and '"%' not in st.text and "$%" not in st.text:
        return  # no string literal starts with % ('…', "…" in MySQL, $$…$$ in PostgreSQL)
    for like in st.ast.find_all(exp.Like, exp.ILike):
        pattern = like.expression
        if (isinstance(pattern, exp.Literal) and pattern.is_string and pattern.this.startswith("%")
                and like.find_ancestor(exp.Where) is not None):
            yield Hit(f"LIKE '{pattern.this}' starts with a wildcard, so no index can serve it and the table is "
                      "scanned: use a trigram or full-text index, or anchor the pattern at the start", **at(st, like))


def _duplicates(nodes: list) -> list:
    """The second naming of each name named more than once."""
    if len(nodes) < 2 or len({(node.name or "").lower() for node in nodes}) == len(nodes):
        return []  # (names equal by name_of are equal lower-cased: all distinct, no duplicate)
    seen: set[str] = set()
    twice: dict[str, exp.Expression] = {}
    for node in nodes:
        name = name_of(node)
        if name in seen and name not in twice:
            twice[name] = node
        seen.add(name)
    return list(twice.values())


def _set_targets(assignments: list) -> list:
    """The columns a SET list assigns: each column of a `(a, b) = …` row assignment; not an array
    element or slice (`a[1] = …, a[2] = …` assigns two parts of one column, as PostgreSQL allows)."""
    found = []
    for assignment in assignments:
        if not isinstance(assignment, exp.EQ):
            continue
        target = assignment.this
        if isinstance(target, exp.Tuple):
            found += [e for e in target.expressions if not isinstance(e, exp.Bracket)]
        elif not isinstance(target, exp.Bracket):
            found.append(target)
    return found


@rule("statement.duplicate-column-assignment", engines="PMS", category="DML", severity="E",
      nodes=(exp.Update, exp.Insert, exp.Create, exp.Alter),
      actions=(exp.ColumnDef,),
      summary="A column named twice: `UPDATE … SET a = 1, a = 2`, an INSERT column list, `CREATE TABLE` columns, a "
              "view's column list, or `ADD COLUMN` twice in one `ALTER`.",
      why="PostgreSQL rejects the statement at runtime; in MySQL and SQLite the assignments silently overwrite each "
          "other; duplicate column definitions are always an error.",
      instead="Name each column once.",
      example="UPDATE accounts SET balance = 0, balance = balance + 1 WHERE id = 1;")
def duplicate_column_assignment(st: Stmt, ctx: FileContext, payload: dict) -> list[Hit] | None:
    # A list, not a generator: on most statements (an ALTER with one action) it returns at once.
    # (The four node types are unrelated classes: tested in the order of their frequency.)
    ast = st.ast
    if isinstance(ast, exp.Alter):
        found = ast.args.get("actions") or ()
        if len(found) < 2:
            return None  # one action adds one column at most
        lists = [("ADD COLUMN", [a for a in found if isinstance(a, exp.ColumnDef)])]
    elif isinstance(ast, exp.Create):
        if not isinstance(ast.this, exp.Schema):
            return None
        lists = [("the column list", [e for e in ast.this.expressions if isinstance(e, (exp.ColumnDef,
                                                                                       exp.Identifier))])]
    elif isinstance(ast, exp.Update):
        lists = [("SET", _set_targets(ast.expressions))]
    elif isinstance(ast, exp.Insert):
        conflict = ast.args.get("conflict")
        lists = [("the column list", list(ast.this.expressions) if isinstance(ast.this, exp.Schema) else [])]
        if conflict is not None:
            lists.append(("the conflict's SET", _set_targets(conflict.expressions or ())))
    else:
        return None
    return [Hit(f"column {name_of(node)} is named twice in {where}: name each column once", **at(st, node))
            for where, nodes in lists for node in _duplicates(nodes)] or None


declare("statement.affected-row-limit", engines="PM", category="DML", needs_database=True,
        summary="An UPDATE/DELETE/INSERT whose estimated affected rows exceed the payload's limit; needs a live "
                "database for the estimate, so it finds nothing without one.",
        why="A statement that touches millions of rows holds locks and bloats the log for its whole run.",
        instead="Batch the change in a separate data migration.",
        payload={"max_rows": 1000}, schema={"properties": {"max_rows": {"type": "integer", "minimum": 1}}})
