"""Destructive statements (catalogue §1.1): what loses data or cannot be undone."""

from __future__ import annotations

from collections.abc import Iterator

from sqlglot import exp

from reviews.engine.model import FileContext, Stmt, name_of
from reviews.engine.registry import rule


@rule("database.disallow-drop", engines="PM", category="DES", severity="E", nodes=(exp.Drop, "command"),
      summary="`DROP DATABASE` (and MySQL `DROP SCHEMA`, which is the same).",
      why="A migration that drops a database destroys every table in it, with no way back from the "
          "migration tool.",
      instead="Decommission databases out of band, after a backup, not in a migration.",
      example="DROP DATABASE shop;")
def database_disallow_drop(st: Stmt, ctx: FileContext, payload: dict) -> Iterator[str]:
    kinds = ("DROP DATABASE", "DROP SCHEMA") if ctx.dialect == "mysql" else ("DROP DATABASE",)
    if st.starts(*kinds):
        yield "DROP DATABASE destroys every table in it: decommission databases out of band, not in a migration"


@rule("table.disallow-drop", engines="PMS", category="DES", severity="E", nodes=(exp.Drop,),
      summary="`DROP TABLE` of an existing table (not the drop step of a SQLite copy-and-rename rebuild).",
      why="Dropping a table loses its data; code that still reads or writes it breaks at once.",
      instead="Stop reads and writes in code first, back up or check it is empty, then drop it in a later "
              "release.",
      example="DROP TABLE customers;")
def table_disallow_drop(st: Stmt, ctx: FileContext, payload: dict) -> Iterator[str]:
    if st.ast.args.get("kind") != "TABLE":
        return
    rebuild = ctx.memo.get("sqlite.rebuild_sources", set())
    for table in st.ast.args.get("tables") or [st.ast.this]:
        name = name_of(table)
        if ctx.is_new(name) or (ctx.dialect == "sqlite" and name in rebuild):
            continue
        yield (f"DROP TABLE {name} loses its data: stop using it in code, back it up or check it is empty, "
               "and drop it in a later release")
