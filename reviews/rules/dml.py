"""DML hygiene (catalogue §1.5): data statements in migrations that do more, or less, than they say."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from sqlglot import exp

from reviews.engine.model import FileContext, Stmt, name_of, per_statement
from reviews.engine.registry import Hit, declare, rule
from reviews.rules.common import at, blanked, mentions, norm_may_hide, only_if, position
from reviews.rules.locking import NAME, flat, key


def _target(node: exp.Expression, dialect: str) -> str:
    """The table an UPDATE/DELETE writes to. (sqlglot reads MySQL's `UPDATE LOW_PRIORITY t` as table
    low_priority with alias t: in MySQL the reserved word cannot be a table's unquoted name.)"""
    table = node.this
    if not isinstance(table, exp.Table):
        return ""
    if dialect == "mysql" and table.alias and table.name.upper() == "LOW_PRIORITY" \
            and not table.this.args.get("quoted"):
        return name_of(table.args["alias"])
    return name_of(table)


def _in_routine(st: Stmt) -> bool:
    """A routine or trigger definition: its body does not run at migration time (catalogue §0)."""
    return isinstance(st.ast, exp.Create) and str(st.ast.args.get("kind") or "").upper() in (
        "FUNCTION", "PROCEDURE", "TRIGGER")


def _verb(node: exp.Expression) -> str:
    return "UPDATE" if isinstance(node, exp.Update) else "DELETE"


def _writes(ast: exp.Expression) -> list:
    """The UPDATE/DELETE trees of a statement: itself, and the data-modifying CTEs of its WITH
    (PostgreSQL runs those in full, whatever the main statement does with their rows)."""
    found = [ast] if isinstance(ast, (exp.Update, exp.Delete)) else []
    with_ = ast.args.get("with_")
    if with_ is not None:
        found += [cte.this for cte in with_.expressions if isinstance(cte.this, (exp.Update, exp.Delete))]
    return found


def _joined_on(write: exp.Expression) -> bool:
    """Whether a MySQL multi-table UPDATE/DELETE keeps only the rows that match an inner join: a
    JOIN (INNER, CROSS: the same in MySQL) with an ON or USING condition. Not a LEFT/RIGHT join, which
    keeps every row of its left side, nor a comma join or a JOIN without a condition (a cross product)."""
    for table in (write.this, *(write.args.get("using") or ())):  # DELETE FROM t USING t JOIN u ON …
        joins = table.args.get("joins") if isinstance(table, exp.Table) else None
        for join in joins or ():
            if not join.side and not join.method and join.kind in ("", "INNER", "CROSS") \
                    and (join.args.get("on") is not None or join.args.get("using")):
                return True
    return False


def _at_keyword(st: Stmt, write: exp.Expression) -> dict:
    """Where an UPDATE/DELETE inside a WITH starts: its keyword, the last one before its table's name."""
    name = write.this.find(exp.Identifier) if write.this is not None else None
    start = name.meta.get("start") if name is not None else None
    offset = blanked(st).rfind(_verb(write), 0, start - st.base) if start is not None else -1
    return position(st, offset) if offset >= 0 else at(st, write)


_INNERMOST_GROUP = re.compile(r"\([^()]*\)")


@per_statement
def _unparsed_write(st: Stmt) -> str | None:
    """An UPDATE/DELETE sqlglot could not read (MySQL's `UPDATE IGNORE t`, `DELETE IGNORE FROM t`):
    its normalized text with every parenthesized group (subqueries) cut out, so that the WHERE,
    ORDER BY, LIMIT and joins left are the statement's own. None for any other statement."""
    if st.parsed or st.syntax_error or not st.norm.startswith(("UPDATE ", "DELETE ")):
        return None
    text = st.norm
    while "(" in text:
        inner = _INNERMOST_GROUP.sub(" ", text)
        if inner == text:
            break  # an unbalanced parenthesis: leave the rest as it is
        text = inner
    return text


# In the text of such a statement: its WHERE; an inner join with a condition (what _joined_on reads
# in a tree); its table, after MySQL's modifiers and SQLite's `OR IGNORE|REPLACE|…` (on the flat text).
_WHERE = re.compile(r"\bWHERE\b")
_INNER_JOIN_ON = re.compile(r"(?<!LEFT )(?<!RIGHT )(?<!OUTER )(?<!NATURAL )\b(?:JOIN|STRAIGHT_JOIN)\b.*\b(?:ON|USING)\b")
_UNPARSED_TARGET = re.compile(r"^(?:UPDATE (?:(?:LOW_PRIORITY|IGNORE|ONLY|OR \w+) )*|DELETE (?:(?:LOW_PRIORITY|QUICK|"
                              rf"IGNORE) )*FROM (?:ONLY )?)({NAME})", re.I)


@rule("statement.where.require.update-delete", engines="PMS", category="DML", severity="E",
      nodes=(exp.Update, exp.Delete, exp.Insert, exp.Query, "command"), contains=("UPDATE", "DELETE"),
      summary="`UPDATE` or `DELETE` without `WHERE` on an existing table.",
      why="It changes or deletes every row of the table, usually by mistake, in one long transaction that locks "
          "them all.",
      instead="Add the predicate that selects the rows meant; for large changes, batch by key range.",
      example="DELETE FROM sessions;")
def where_require_update_delete(st: Stmt, ctx: FileContext, payload: dict) -> Iterable[str | Hit] | None:
    if not st.parsed:
        return _unparsed_without_where(st, ctx)
    if not isinstance(st.ast, (exp.Update, exp.Delete)) and st.ast.args.get("with_") is None:
        return None  # an INSERT or SELECT with no WITH: no UPDATE/DELETE in it
    return _without_where(st, ctx)


def _without_where(st: Stmt, ctx: FileContext) -> Iterator[str | Hit]:
    for write in _writes(st.ast):
        if write.args.get("where") is not None or (ctx.dialect == "mysql" and _joined_on(write)):
            continue
        table = _target(write, ctx.dialect)
        if table and ctx.is_new(table):
            continue
        message = _every_row(_verb(write), table)
        # (the statement itself at its start; one inside a WITH at its own keyword)
        yield message if write is st.ast else Hit(message, **_at_keyword(st, write))


def _unparsed_without_where(st: Stmt, ctx: FileContext) -> list[str] | None:
    text = _unparsed_write(st)
    if text is None or _WHERE.search(text) or (ctx.dialect == "mysql" and _INNER_JOIN_ON.search(text)):
        return None
    target = _UNPARSED_TARGET.match(flat(st, ctx))  # (none for MySQL's `DELETE t FROM t, u …`)
    table = target.group(1) if target else ""
    if table and ctx.is_new(key(table)):
        return None
    return [_every_row(text[:6], table)]  # (text[:6]: its first word)


def _every_row(verb: str, table: str) -> str:
    return (f"{verb} without WHERE {'changes' if verb == 'UPDATE' else 'deletes'} every row of "
            f"{table or 'the table'}: add the predicate that selects the rows meant, and batch large changes by "
            "key range")


@rule("statement.where.require.select", engines="PMS", category="DML", severity="off",
      nodes=(exp.Select, exp.SetOperation),
      summary="A top-level `SELECT … FROM` without `WHERE`, also one of a `UNION` / `INTERSECT` / `EXCEPT` (a SELECT "
              "without FROM, such as `SELECT setval(…)`, is not flagged).",
      why="A migration that reads a whole table may scan a large table for nothing.",
      instead="Add a `WHERE` (or drop the query from the migration).",
      example="SELECT * FROM orders;")
def where_require_select(st: Stmt, ctx: FileContext, payload: dict) -> Iterator[str]:
    # A UNION's (INTERSECT's, EXCEPT's) SELECTs each read their table; its LIMIT is the whole query's.
    selects = _set_operands(st.ast) if isinstance(st.ast, exp.SetOperation) else (st.ast,)
    if any(s.args.get("from_") is not None and s.args.get("where") is None for s in selects):
        if st.ast.args.get("limit") is not None:  # (LIMIT 1 reads a row, but still any row)
            yield "SELECT without WHERE takes whichever rows come first: add a WHERE, or remove the query"
        else:
            yield "SELECT without WHERE reads the whole table: add a WHERE, or remove the query from the migration"


def _set_operands(node: exp.Expression) -> list[exp.Select]:
    """The SELECTs a set operation combines, at any depth (parenthesized ones included)."""
    found: list[exp.Select] = []
    stack: list[Any] = [node]
    while stack:
        node = stack.pop()
        while isinstance(node, exp.Subquery):
            node = node.this
        if isinstance(node, exp.SetOperation):
            # (The args, not .left/.right: those insist on a Query, and sqlglot reads a broken UNION's
            # operand as an expression such as `a = b`, which is then no SELECT to judge.)
            stack += (node.args.get("this"), node.args.get("expression"))
        elif isinstance(node, exp.Select):
            found.append(node)
    return found


@rule("statement.select.no-select-all", engines="PMS", category="DML", severity="W", nodes=("*",), contains=("*",),
      summary="`SELECT *` (also in `CREATE VIEW … AS SELECT *` and `INSERT … SELECT *`; not inside `EXISTS`, nor "
              "over derived tables and CTEs that list their columns).",
      why="The result follows the table's current columns: a view freezes them, an INSERT … SELECT depends on "
          "their order, and an added column silently changes what the statement does.",
      instead="List the columns.",
      example="CREATE VIEW active_users AS SELECT * FROM users WHERE active;")
def select_no_select_all(st: Stmt, ctx: FileContext, payload: dict) -> list[Hit] | None:
    if not st.parsed or "*" not in st.norm or _in_routine(st):
        return None
    # One walk of the tree (a view's is large) for both the SELECTs and the CTEs; a star inside
    # EXISTS is left out by an ancestor search, made only from a SELECT that has a star.
    stars: list[exp.Expression] = []
    ctes: dict[str, exp.Expression] = {}
    for node in st.ast.find_all(exp.Select, exp.CTE):
        if isinstance(node, exp.CTE):
            ctes[node.alias_or_name.lower()] = node.this
        else:
            found = [item for item in node.expressions if _is_star(item)]
            if found and node.find_ancestor(exp.Exists) is None:
                stars += found
    if stars:  # (not a star over derived tables and CTEs that list their columns: those cannot change)
        stars = [star for star in stars if not _fixed_columns(star.parent, ctes)]
    # One finding per statement, at the first `*` / `t.*` of a select list it flags; a star that is
    # not in the text is sqlglot's own (the `SELECT *` it writes for a `VALUES` list in a WITH).
    offsets = [offset for offset in (_star_offset(st, star) for star in stars) if offset is not None]
    if not offsets:
        return None
    return [Hit("SELECT * depends on the table's current columns and their order: list the columns",
                **position(st, min(offsets)))]


def _is_star(item: exp.Expression) -> bool:
    return isinstance(item, exp.Star) or (isinstance(item, exp.Column) and isinstance(item.this, exp.Star))


def _fixed_columns(query: Any, ctes: dict, depth: int = 0) -> bool:
    """Whether what a star of this query stands for is fixed by the statement itself: each table it
    reads is a derived table, or a CTE of the statement, that lists its columns (or is VALUES), so
    that no table's columns can change it."""
    if depth > 16:  # (a CTE named after a table it reads: no endless lookup)
        return False
    if isinstance(query, exp.Subquery):
        query = query.this
    if isinstance(query, exp.SetOperation):
        return _fixed_columns(query.this, ctes, depth + 1) and _fixed_columns(query.expression, ctes, depth + 1)
    if isinstance(query, exp.Values):
        return True
    if not isinstance(query, exp.Select):
        return False
    if not any(_is_star(item) for item in query.expressions):
        return True
    sources = [query.args["from_"].this] if query.args.get("from_") is not None else []
    sources += [join.this for join in query.args.get("joins") or ()]
    return bool(sources) and all(
        _fixed_columns(source, ctes, depth + 1) if isinstance(source, (exp.Subquery, exp.Values))
        else isinstance(source, exp.Table) and not source.db and source.name.lower() in ctes
        and _fixed_columns(ctes[source.name.lower()], ctes, depth + 1)
        for source in sources)


def _star_offset(st: Stmt, item: exp.Expression) -> int | None:
    """Where a select list's star stands in the statement's text: `t.*` at its table's name, `*` at
    the star (sqlglot keeps the offset of a star's token; not of the `SELECT *` it writes for a
    `VALUES` list in a WITH, which has none in the text)."""
    if isinstance(item, exp.Star):
        start = item.meta.get("start")
        offset = start - st.base if start is not None else -1
        return offset if st.text[offset:offset + 1] == "*" else None
    starts = [name.meta["start"] for name in item.find_all(exp.Identifier) if name.meta.get("start") is not None]
    return min(starts) - st.base if starts else None


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


@rule("statement.disallow-limit", engines="M", category="DML", severity="W", nodes=(exp.Update, exp.Delete, "command"),
      contains=("LIMIT",),
      summary="`UPDATE`/`DELETE … LIMIT`.",
      why="Which rows a LIMIT picks is not defined, so replicas using statement-based replication may change other "
          "rows than the source.",
      instead="Batch by key range: `WHERE id BETWEEN … AND …`.",
      example="DELETE FROM sessions WHERE expired LIMIT 1000;")
def disallow_limit(st: Stmt, ctx: FileContext, payload: dict) -> Iterator[str]:
    if verb := _verb_with(st, "limit", _LIMIT):
        yield (f"{verb} … LIMIT touches rows in no defined order (unsafe for statement-based replication): "
               "batch by key range instead (WHERE id BETWEEN … AND …)")


@rule("statement.disallow-order-by", engines="M", category="DML", severity="W",
      nodes=(exp.Update, exp.Delete, "command"), contains=("ORDER",),
      summary="`UPDATE`/`DELETE … ORDER BY`.",
      why="An ORDER BY in a write only matters together with LIMIT, whose row choice is nondeterministic; it also "
          "sorts the rows for nothing.",
      instead="Select the rows with a deterministic predicate (a key range) instead.",
      example="UPDATE jobs SET state = 'queued' ORDER BY created_at LIMIT 10;")
def disallow_order_by(st: Stmt, ctx: FileContext, payload: dict) -> Iterator[str]:
    if verb := _verb_with(st, "order", _ORDER_BY):
        yield f"{verb} … ORDER BY: select the rows with a deterministic predicate (a key range) instead"


_LIMIT = re.compile(r"\bLIMIT\b")
_ORDER_BY = re.compile(r"\bORDER BY\b")


def _verb_with(st: Stmt, arg: str, clause: re.Pattern) -> str | None:
    """UPDATE or DELETE when the statement is one with the clause (its tree's `arg`; in one sqlglot
    could not read, the clause's words outside its subqueries), else None."""
    if st.parsed:
        return _verb(st.ast) if st.ast.args.get(arg) is not None else None
    text = _unparsed_write(st)
    return text[:6] if text is not None and clause.search(text) else None  # (its first word)


_CONDITION = (exp.Where, exp.Having, exp.Join, exp.If, exp.CheckColumnConstraint, exp.Filter, exp.Qualify)
# `= NULL`, `<> NULL`, `!= NULL` or `NULL =` … as st.norm has them (blanks folded, comments out);
# and the same with the NULL in parentheses or cast: `(NULL) =`, `NULL::int =`, `CAST(NULL AS int) =`
# (possessive: no backtracking over DEFAULT NULL::character varying). One scan, anchored on the
# literal NULL, which the regex engine finds fast. (`= (NULL`, `= CAST(NULL`: searched in the
# reversed text for LLUN, below.)
_COMPARED_WITH_NULL_NORM = re.compile(r"NULL(?:(?<=[=>]NULL)|(?<=[=>] NULL)|(?= ?[=<!])"
                                      r"|(?: ?\)|::[\w \[\]]++| AS [\w ]++)++ ?[=<!])")
_LLUN_WRAPPED_AFTER_COMPARISON = re.compile(r"LLUN(?: ?\(| ?TSAC(?:_YRT)?)++ ?[=>]")
# The same on the raw text, for when st.norm may have lost some (norm_may_hide): what may stand
# between a comparison and its NULL there is blanks, comments (also `#`, and the ends of nested
# ones), parentheses and a cast.
_GAP = r"(?:\s|--[^\n]*|#[^\n]*|/\*.*?\*/|\*/|[()])*"
_NULL = "[Nn][Uu][Ll][Ll]"
_COMPARED_WITH_NULL = re.compile(
    rf"[=>]{_GAP}(?:(?:[Tt][Rr][Yy]_)?[Cc][Aa][Ss][Tt]{_GAP})?{_NULL}"
    rf"|{_NULL}{_GAP}(?:(?:::|\s[Aa][Ss]\s)[\w\s\[\]]++{_GAP})?[=<!]", re.DOTALL)
# Without comments the gap is blanks, parentheses and a cast: then search the upper-cased text for
# NULL and the reversed text for LLUN, both literals the regex engine finds fast.
_NULL_THEN_COMPARISON = re.compile(r"NULL[\s()]*(?:(?:::|\sAS\s)[\w\s\[\]]++[\s()]*)?[=<!]")
_LLUN_THEN_COMPARISON = re.compile(r"LLUN[\s()]*(?:TSAC(?:_YRT)?[\s()]*)?[=>]")
# What must stand before `(NULL` / `CAST(NULL` for it to be compared: most statements (INSERT … VALUES
# (NULL, …)) have none, and skip the reversed search.
_OPENED_AFTER_COMPARISON = ("=(", "= (", ">(", "> (", "CAST")


def _compares_with_null(st: Stmt) -> bool:
    """Whether the text may hold a comparison with NULL (never a false no)."""
    norm = st.norm
    if _COMPARED_WITH_NULL_NORM.search(norm):
        return True
    if ("(NULL" in norm or "( NULL" in norm) and any(opened in norm for opened in _OPENED_AFTER_COMPARISON) \
            and _LLUN_WRAPPED_AFTER_COMPARISON.search(norm[::-1]):
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
    if not st.parsed or "NULL" not in st.norm:
        return None
    if not _compares_with_null(st) or _in_routine(st):
        return None  # most NULLs are NOT NULL / DEFAULT NULL: no tree walk (nor generator) for them
    return _null_comparisons(st)


def _null_comparisons(st: Stmt) -> Iterator[Hit]:
    for comparison in st.ast.find_all(exp.EQ, exp.NEQ):
        left = isinstance(_unwrapped(comparison.this), exp.Null)
        if not (left or isinstance(_unwrapped(comparison.expression), exp.Null)):
            continue
        if comparison.find_ancestor(*_CONDITION) is None:
            continue  # an assignment (UPDATE … SET a = NULL, ON CONFLICT … SET), not a condition
        operator = "=" if isinstance(comparison, exp.EQ) else _not_equal(st, comparison, left)
        fix = "IS NULL" if operator == "=" else "IS NOT NULL"
        yield Hit(f"`{operator} NULL` is never true (comparisons with NULL are unknown): write {fix}",
                  **at(st, comparison))


def _unwrapped(node: exp.Expression) -> exp.Expression:
    """An operand without its parentheses and casts: `(NULL)`, `NULL::int`, `CAST(NULL AS int)` are NULL."""
    while isinstance(node, (exp.Paren, exp.Cast)):  # (TryCast is a Cast)
        node = node.this
    return node


def _not_equal(st: Stmt, comparison: exp.Expression, null_first: bool) -> str:
    """How the statement writes the NEQ comparison, `<>` or `!=` (sqlglot reads both alike): the one
    spelling it uses; with both, the operator next to the comparison's other operand."""
    text = blanked(st)
    if "!=" not in text or "<>" not in text:
        return "!=" if "!=" in text else "<>"
    other = comparison.expression if null_first else comparison.this
    offsets = [i.meta[key] - st.base for i in other.find_all(exp.Identifier)
               for key in ("start", "end") if i.meta.get(key) is not None]
    if not offsets:
        return "<>"
    if null_first:  # `NULL <> a`: the last operator before the operand
        found = max(text.rfind("!=", 0, min(offsets)), text.rfind("<>", 0, min(offsets)))
    else:  # `a <> NULL`: the first one after it
        found = min((i for i in (text.find("!=", max(offsets)), text.find("<>", max(offsets))) if i >= 0),
                    default=-1)
    return text[found:found + 2] if found >= 0 else "<>"


@rule("statement.where.no-leading-wildcard-like", engines="PMS", category="DML", severity="I", nodes=("*",),
      contains=("LIKE",),
      summary="`LIKE '%…'` (a leading wildcard) in a WHERE clause (not the predicate of a partial index or of "
              "`ON CONFLICT`, which scan nothing).",
      why="A pattern that starts with a wildcard cannot use a B-tree index: the query scans the whole table.",
      instead="A pattern anchored at the start; or an index made for it: a trigram (`pg_trgm`) or full-text index "
              "(PostgreSQL), a FULLTEXT index (MySQL), an FTS5 table with the trigram tokenizer (SQLite).",
      example="UPDATE users SET flagged = true WHERE email LIKE '%@example.com';")
def where_no_leading_wildcard_like(st: Stmt, ctx: FileContext, payload: dict) -> Iterator[Hit]:
    if not st.parsed or "LIKE" not in st.norm or _in_routine(st):
        return
    if "'%" not in st.text and '"%' not in st.text and "$%" not in st.text:
        return  # no string literal starts with % ('…', "…" in MySQL, $$…$$ in PostgreSQL)
    for like in st.ast.find_all(exp.Like, exp.ILike):
        pattern = like.expression
        if (isinstance(pattern, exp.Literal) and pattern.is_string and pattern.this.startswith("%")
                and _filters_rows(like.find_ancestor(exp.Where))):
            yield Hit(f"LIKE '{pattern.this}' starts with a wildcard, so no index can serve it and the table is "
                      f"scanned: anchor the pattern at the start, or use {_SUBSTRING_INDEX[ctx.dialect]}", **at(st, like))


def _filters_rows(where: exp.Where | None) -> bool:
    """Whether a WHERE clause filters the rows a query reads: not the predicate of a partial index or
    an exclusion constraint, nor ON CONFLICT's (which picks the arbiter index, or tests the one row in
    conflict before DO UPDATE): nothing is scanned for those."""
    return where is not None and not isinstance(where.parent, (exp.OnConflict, exp.IndexParameters))


# What serves a search for a substring, per engine.
_SUBSTRING_INDEX = {"postgres": "a trigram (pg_trgm) or full-text index", "mysql": "a FULLTEXT index",
                    "sqlite": "an FTS5 table (trigram tokenizer)"}


def _duplicates(nodes: list, fold: bool = False, qualified: bool = False) -> list:
    """The second naming of each name named more than once: names compared case-insensitively when
    `fold` (MySQL: `a` and `A` are one column, quoted or not), and with their table qualifier when
    `qualified` (a multi-table UPDATE's `o.region` and `c.region` are two columns)."""
    if len(nodes) < 2 or len({(node.name or "").lower() for node in nodes}) == len(nodes):
        return []  # (names equal by name_of are equal lower-cased: all distinct, no duplicate)
    seen: set[tuple[str, str]] = set()
    twice: dict[tuple[str, str], exp.Expression] = {}
    for node in nodes:
        name = (name_of(node.args.get("table")) if qualified else "", name_of(node).lower() if fold else name_of(node))
        if name in seen and name not in twice:
            twice[name] = node
        seen.add(name)
    return list(twice.values())


def _set_targets(assignments: Sequence[Any]) -> list:
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
    lists: list[tuple[str, list[Any]]]
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
    # A MySQL multi-table UPDATE (`UPDATE o JOIN c ON … SET o.region = …, c.region = …`) sets
    # columns of several tables: there a column is its qualifier and its name.
    multi_table = isinstance(ast, exp.Update) and isinstance(ast.this, exp.Table) and bool(ast.this.args.get("joins"))
    return [Hit(f"column {name_of(node)} is named twice in {where}: name each column once", **at(st, node))
            for where, nodes in lists for node in _duplicates(nodes, ctx.dialect == "mysql", multi_table)] or None


declare("statement.affected-row-limit", engines="PM", category="DML", needs_database=True,
        summary="An UPDATE/DELETE/INSERT whose estimated affected rows exceed the payload's limit; needs a live "
                "database for the estimate, so it finds nothing without one.",
        why="A statement that touches millions of rows holds locks and bloats the log for its whole run.",
        instead="Batch the change in a separate data migration.",
        payload={"max_rows": 1000}, schema={"properties": {"max_rows": {"type": "integer", "minimum": 1}}})
