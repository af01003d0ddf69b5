"""Discover and validate migration files (design.md §2). No Django, no database.

Every bad input is reported with the file it is in (and the line, or byte offset for bad bytes),
all problems of a folder at once, before anything connects to a database.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from collections.abc import Iterable
from pathlib import Path

NAME_RE = re.compile(r"^[vV]?(\d+(?:\.\d+)*)[_-]+(.+?)\.sql$")
DIRECTIVE_RE = re.compile(r"^\s*--\s*sluice:\s*([\w-]*)\s*(.*?)\s*$")
ANY_DIRECTIVE_RE = re.compile(r"^[ \t]*--[ \t]*sluice:[ \t]*([\w-]*)", re.MULTILINE)
# A directive written without its colon (`-- sluice transaction off`, `-- sluice-lock-timeout 5s`):
# only when the rest reads exactly as a directive's arguments, so that an ordinary comment that
# mentions Sluice is left alone.
COLONLESS_RE = re.compile(
    r"^[ \t]*--[ \t]*sluice(?:[ \t]+|[ \t]*[-_.=][ \t]*)"
    r"(?:(transaction)[ \t]+(?:on|off)|(lock-timeout|statement-timeout)[ \t]+\d+(?:\.\d+)?[ \t]*(?:ms|s|min|h)"
    r"|(ignore)[ \t]+[\w-]+\.[\w.-]+(?:[ \t]*,[ \t]*[\w-]+\.[\w.-]+)*)[ \t]*$",
    re.MULTILINE | re.IGNORECASE,
)
DURATION_RE = re.compile(r"^(\d+(?:\.\d+)?)\s*(ms|s|min|h)$")
DURATION_UNITS_MS = {"ms": 1, "s": 1000, "min": 60_000, "h": 3_600_000}
FILE_DIRECTIVES = {"transaction", "lock-timeout", "statement-timeout"}
BOM = "\ufeff"


class FileProblem(Exception):
    def __init__(self, file: str, message: str, line: int | None = None, offset: int | None = None):
        super().__init__(message)
        self.file = file
        self.message = message
        self.line = line
        self.offset = offset

    def __str__(self) -> str:
        where = self.file
        if self.line is not None:
            where += f":{self.line}"
        if self.offset is not None:
            where += f" (byte offset {self.offset})"
        return f"{where}: {self.message}"

    def as_dict(self) -> dict:
        return {"file": self.file, "line": self.line, "offset": self.offset, "message": self.message}


class LoadError(Exception):
    """One or more migration files are invalid; nothing was applied."""

    def __init__(self, problems: list[FileProblem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


@dataclasses.dataclass(frozen=True)
class Directives:
    transaction: bool = True
    lock_timeout_ms: int | None = None
    statement_timeout_ms: int | None = None
    ignore: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True)
class MigrationFile:
    path: str  # relative to the migrations folder, with forward slashes
    version: str  # as written, without a leading v
    key: tuple[int, ...]  # numeric parts, compared one by one
    description: str
    kind: str  # "ddl" | "dml"
    checksum: str  # "v1:<sha256 hex>"
    sql: str  # decoded text, BOM removed, line endings as in the file (executed as is)
    directives: Directives = Directives()

    @property
    def name(self) -> str:
        return self.path.rsplit("/", 1)[-1]


def version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


def checksum(text: str) -> str:
    """v1: SHA-256 of the text with BOM removed and CRLF/CR turned into LF."""
    if text.startswith(BOM):
        text = text[1:]
    normalized = text.replace("\r\n", "\n").replace("\r", "\n")
    return "v1:" + hashlib.sha256(normalized.encode("utf-8")).hexdigest()


def parse_duration(value: str) -> int:
    """'5s' → 5000 (milliseconds)."""
    match = DURATION_RE.match(value.strip())
    if not match:
        raise ValueError(f"expected a duration such as 500ms, 5s, 30min or 1h, not {value!r}")
    return round(float(match.group(1)) * DURATION_UNITS_MS[match.group(2)])


def _line_of(data: bytes | str, offset: int) -> int:
    newline = b"\n" if isinstance(data, bytes) else "\n"
    return data.count(newline, 0, offset) + 1


def decode(path: str, data: bytes) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise FileProblem(path, "is UTF-16 encoded; re-save it as UTF-8", offset=0)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise FileProblem(
            path,
            f"is not valid UTF-8: byte 0x{data[exc.start]:02x} cannot be decoded; re-save it as UTF-8",
            line=_line_of(data, exc.start),
            offset=exc.start,
        ) from None
    nul = data.find(b"\x00")
    if nul >= 0:
        raise FileProblem(path, "contains a NUL byte; re-save it as UTF-8 text", line=_line_of(data, nul), offset=nul)
    return text[1:] if text.startswith(BOM) else text


def parse_directives(path: str, text: str) -> Directives:
    values: dict = {}
    seen: dict[str, int] = {}  # file directive → its line
    ignore: list[str] = []
    block_end = 0  # number of lines in the leading comment block
    for lineno, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if stripped and not stripped.startswith("--"):
            break
        block_end = lineno
        match = DIRECTIVE_RE.match(line)
        if not match:
            continue
        name, arg = match.group(1).lower(), match.group(2)
        if name in FILE_DIRECTIVES:
            if name in seen:
                raise FileProblem(path, f"sluice:{name} is given twice (also on line {seen[name]}): keep one",
                                  line=lineno)
            seen[name] = lineno
        if name == "transaction":
            if arg.lower() not in ("on", "off"):
                raise FileProblem(path, f"sluice:transaction takes 'on' or 'off', not {arg!r}", line=lineno)
            values["transaction"] = arg.lower() == "on"
        elif name in ("lock-timeout", "statement-timeout"):
            try:
                values[name.replace("-", "_") + "_ms"] = parse_duration(arg)
            except ValueError as exc:
                raise FileProblem(path, f"sluice:{name}: {exc}", line=lineno) from None
        elif name == "ignore":
            ids = [item.strip() for item in arg.split(",") if item.strip()]
            if not ids:
                raise FileProblem(path, "sluice:ignore needs one or more rule ids", line=lineno)
            ignore.extend(ids)
        else:
            raise FileProblem(
                path,
                f"unknown directive sluice:{name}; expected transaction, lock-timeout, "
                "statement-timeout or ignore",
                line=lineno,
            )
    # A file-level directive below the leading comment block would silently do nothing; so would
    # a misspelt one there (only sluice:ignore belongs above a statement).
    for match in ANY_DIRECTIVE_RE.finditer(text):
        lineno = _line_of(text, match.start())
        name = match.group(1).lower()
        if lineno > block_end and name in FILE_DIRECTIVES:
            raise FileProblem(
                path,
                f"sluice:{name} must be in the leading comment block, "
                "before the first statement",
                line=lineno,
            )
        if lineno > block_end and name != "ignore":
            raise FileProblem(path, f"unknown directive sluice:{name}; only sluice:ignore may stand above a statement",
                              line=lineno)
    for match in COLONLESS_RE.finditer(text):
        name = next(group for group in match.groups() if group).lower()
        raise FileProblem(path, f"this reads as the directive sluice:{name} without its colon, which would be "
                          f"ignored: write `-- sluice:{name} …`", line=_line_of(text, match.start()))
    return Directives(ignore=tuple(ignore), **values)


def parse_name(path: str) -> tuple[str, str, str]:
    """(version, description, kind) from a file name, or FileProblem."""
    name = path.rsplit("/", 1)[-1]
    match = NAME_RE.match(name)
    if not match:
        raise FileProblem(
            path,
            "bad migration file name: expected <version>_<description>.sql, "
            "e.g. 202501150900_add_user_table.sql or V1.2__seed_dml.sql",
        )
    version, description = match.group(1), match.group(2)
    kind = "dml" if description.lower().endswith("_dml") else "ddl"
    return version, description, kind


def parse_file(path: str, data: bytes) -> MigrationFile:
    version, description, kind = parse_name(path)
    text = decode(path, data)
    if not text.strip():
        raise FileProblem(path, "is empty: a migration needs at least one statement")
    return MigrationFile(
        path=path,
        version=version,
        key=version_key(version),
        description=description,
        kind=kind,
        checksum=checksum(text),
        sql=text,
        directives=parse_directives(path, text),
    )


def duplicate_version(path: str, version: str, first: str) -> FileProblem:
    """The file at `path` has the version that `first` already has."""
    return FileProblem(path, f"duplicate version {version}: {first} has the same version")


def load_files(items: Iterable[tuple[str, bytes]]) -> list[MigrationFile]:
    """Validate (path, bytes) pairs; every problem at once, or the files sorted by version."""
    problems: list[FileProblem] = []
    files: list[MigrationFile] = []
    for path, data in items:
        try:
            files.append(parse_file(path, data))
        except FileProblem as problem:
            problems.append(problem)
    by_key: dict[tuple[int, ...], MigrationFile] = {}
    for mf in files:
        other = by_key.get(mf.key)
        if other is not None:
            problems.append(duplicate_version(mf.path, mf.version, other.path))
        else:
            by_key[mf.key] = mf
    if problems:
        raise LoadError(sorted(problems, key=lambda p: (p.file, p.line or 0)))
    return sorted(files, key=lambda mf: mf.key)


def load_dir(root: str | Path) -> list[MigrationFile]:
    root = Path(root)
    if not root.is_dir():
        raise LoadError([FileProblem(str(root), "is not a folder")])
    paths = sorted(p for p in root.rglob("*.sql") if p.is_file())
    return load_files((p.relative_to(root).as_posix(), p.read_bytes()) for p in paths)
