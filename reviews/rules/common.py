"""Small text and location helpers the rule families share."""

from __future__ import annotations

from sqlglot import exp

from reviews.engine.model import Stmt, name_of


def split_top(text: str) -> list[str]:
    """Split at the commas outside parentheses (on text whose strings are already blanked)."""
    parts, depth, start = [], 0, 0
    for index, char in enumerate(text):
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == "," and depth == 0:
            parts.append(text[start:index].strip())
            start = index + 1
    parts.append(text[start:].strip())
    return [p for p in parts if p]


def paren_group(text: str) -> tuple[str, str]:
    """For text starting with '(': (inside the matching parentheses, what follows)."""
    depth = 0
    for index, char in enumerate(text):
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth == 0:
                return text[1:index], text[index + 1:].strip()
    return text[1:], ""


def position(st: Stmt, offset: int) -> dict:
    """line/column (keyword arguments of Hit) of a character offset into the statement's text."""
    before = st.text[:offset]
    if "\n" in before:
        return {"line": st.line + before.count("\n"), "column": offset - before.rfind("\n")}
    return {"line": st.line, "column": st.statement.column + offset}


def at(st: Stmt, node: exp.Expression | None) -> dict:
    """line/column of a node: its earliest identifier (sqlglot keeps token offsets on identifiers);
    {} (the statement's start) when it has none."""
    starts = [i.meta["start"] for i in (node.find_all(exp.Identifier) if node is not None else ())
              if i.meta and i.meta.get("start") is not None]
    return position(st, min(starts)) if starts else {}


def bare(name: str) -> str:
    """A possibly qualified, quoted name as the bare lower-case table name."""
    return name.strip().strip('"`[]').rsplit(".", 1)[-1].strip('"`[]').lower()


def alter_table(st: Stmt) -> str | None:
    """The table of an `ALTER TABLE` with a tree, else None."""
    if isinstance(st.ast, exp.Alter) and str(st.ast.args.get("kind") or "").upper() == "TABLE":
        return name_of(st.ast.this)
    return None


def actions(st: Stmt, kind: type) -> list:
    """The actions of the statement's ALTER of one kind (exp.ColumnDef, exp.AlterColumn, …)."""
    return [a for a in st.ast.args.get("actions") or () if isinstance(a, kind)]
