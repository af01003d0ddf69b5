"""Migration directory and system rules (catalogue §1.10). The system.* findings are emitted by
the engine itself (encoding, syntax, empty files, directives); they are declared here so that
policies, ignore directives and the rule pages know them."""

from __future__ import annotations

from reviews.engine.registry import declare

declare("system.syntax-error", engines="PMS", category="SYS", severity="E",
        summary="A statement the database's grammar rejects (with its 1-based line and column).",
        why="The migration would fail when it runs; the rest of the file is still reviewed.",
        instead="Fix the SQL.")
declare("system.encoding-error", engines="PMS", category="SYS", severity="E",
        summary="Bytes that are not valid UTF-8 (after an optional UTF-8 BOM), NUL bytes, or UTF-16.",
        why="Databases and tools read such files differently; what runs may not be what was reviewed.",
        instead="Re-save the file as UTF-8.")
declare("system.empty-file", engines="PMS", category="SYS", severity="E",
        summary="A file with zero bytes or no statements.",
        why="An empty migration is almost always a mistake (a lost edit, a wrong file).",
        instead="Delete the file or write the migration.")
declare("system.parse-unsupported", engines="MS", category="SYS", severity="I",
        summary="A statement the SQL parser cannot read but that may well be valid; only the token-level rules "
                "checked it.",
        why="MySQL has no exact grammar here to judge it; it is reported so that nothing passes unseen.",
        instead="Nothing to do; report the construct so that the parser can learn it.")
declare("system.invalid-ignore-directive", engines="PMS", category="SYS", severity="W",
        summary="A `-- sluice:ignore` directive naming an unknown rule, or suppressing nothing (which includes one "
                "naming system.syntax-error or system.encoding-error: a file that cannot be applied is never let "
                "through).",
        why="A typo in an ignore directive silently does nothing; a stale one hides the next real finding.",
        instead="Fix or remove the directive.")
declare("system.client-command", engines="PM", category="SYS", severity="I",
        summary="A psql meta-command (`\\connect`, `\\set`, `\\i`) or mysql client command (`source`, `\\.`, "
                "`connect`) that server-side runners reject.",
        why="Sluice sends statements to the server; a client command fails there.",
        instead="Remove it, or use the runner's own features (directives, separate files).")
declare("system.maximum-sql-size", engines="PMS", category="SYS",
        summary="A file larger than the payload's byte limit.", payload={"max_bytes": 5_000_000},
        schema={"properties": {"max_bytes": {"type": "integer", "minimum": 1}}})
declare("migration.non-linear", engines="PMS", category="DIR", severity="W",
        summary="A new migration whose version sorts before the newest one on the base branch (checked by the "
                "check API against the project's releases).")
declare("migration.modified-history", engines="PMS", category="DIR", severity="E",
        summary="An already-merged migration edited or deleted (checked by the check API against the project's "
                "releases).")
declare("migration.missing-down", engines="PMS", category="DIR",
        summary="No down/rollback counterpart (Sluice migrations are forward-only).")
