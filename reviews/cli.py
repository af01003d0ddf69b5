"""`manage.py review FILE… --dialect …`: the offline review (design.md §6, §7).

No Django here unless the command names a policy and a control database exists: `manage.py`
hands `review` straight to `main()`, so that a pre-commit hook pays Python's start-up and the
review, not Django's start-up too. Without `--policy` (the built-in `recommended`, review-rules.md
§0) and with `--all-rules`, nothing else is needed. `--policy recommended|strict` reads the stored
policy of that name, as the checks API does, when there is a control database (so that a hook and
CI agree), else uses the built-in template. The management command of the same name wraps
`execute()` (for `call_command` and `manage.py help review`).
"""

from __future__ import annotations

import argparse
import gc
import os
import re
import sys
from collections.abc import Callable
from pathlib import Path

from reviews.engine import TEMPLATES, Policy, ReviewResult, review_file
from reviews.engine.core import FAIL_ON, decode
from reviews.formats import FORMATS, render, summary_line
from reviews.splitter import DIALECTS

EXIT_OK, EXIT_BLOCKING, EXIT_INPUT, EXIT_SERVER = 0, 1, 2, 3
HELP = "Review migration files offline against a policy; exit 1 when a finding blocks."

Write = Callable[[str], None]


class InputError(Exception):
    """A file or option the review cannot use: exit 2 with this message."""


class ServerError(Exception):
    """The control database could not be read: exit 3."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("files", nargs="+", metavar="FILE",
                        help="a migration file, or a migrations folder (every *.sql under it, recursively)")
    parser.add_argument("--dialect", required=True, choices=DIALECTS, help="the target database's SQL dialect")
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--policy", default=None, metavar="NAME", type=_policy_name,
                       help="a policy composed in the admin, read from the control database; recommended or "
                            "strict: the stored one when there is a control database (as the checks API "
                            "applies it), else the built-in template. Without --policy: the built-in "
                            "recommended, no database read")
    which.add_argument("--all-rules", action="store_true", help="also enable the opt-in rules")
    parser.add_argument("--format", choices=FORMATS, default="text",
                        help="output format (default: text)")
    parser.add_argument("--fail-on", choices=FAIL_ON, default="error",
                        help="the lowest severity that blocks, or never (default: error)")
    parser.add_argument("--output", metavar="FILE", help="write the report to FILE instead of standard output")
    parser.add_argument("--jobs", type=_positive, default=0, metavar="N",
                        help="review with N processes (default: one per CPU when there are many files)")


def _policy_name(value: str) -> str:
    if not value.strip():
        raise argparse.ArgumentTypeError("a policy name cannot be empty")
    return value


def _positive(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid int value: {value!r}") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"{value} processes: expected 1 or more")
    return number


# -- inputs ------------------------------------------------------------------------------------


def collect(paths: list[str]) -> dict[Path, Path]:
    """The files to review, in the order given, each with the migrations folder it belongs to: a
    folder contributes its *.sql, recursively, sorted (they are that folder's migrations, as a release
    loads them); a file named on its own belongs to its own folder. InputError names the path that
    cannot be used."""
    found: dict[Path, Path] = {}
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            files = sorted(_sql_under(path))
            if not files:
                raise InputError(f"{raw}: no .sql files under this folder")
            folder = path
        elif path.exists():
            files = [_regular(path)]
            folder = path.parent
        else:
            raise InputError(f"{raw}: no such file or folder")
        for file in files:
            found.setdefault(file, folder)
    return found


def _sql_under(folder: Path) -> list[Path]:
    """Every *.sql under `folder` (symlinked folders are not followed). A subfolder that cannot be
    listed, or an entry that is no file, is an InputError: never a silent skip of what it holds."""

    def refuse(exc: OSError) -> None:
        raise InputError(f"{Path(exc.filename).as_posix()}: cannot list the folder: {exc.strerror or exc}")

    found = []
    for top, _, names in os.walk(folder, onerror=refuse):
        found += [_regular(Path(top, name)) for name in names if name.endswith(".sql")]
    return found


def _regular(path: Path) -> Path:
    # Reading a FIFO or a device would block or never end; a dangling link has nothing to review.
    if path.is_file():
        return path
    if path.is_symlink() and not path.exists():
        raise InputError(f"{path.as_posix()}: broken symbolic link")
    raise InputError(f"{path.as_posix()}: not a regular file")


def read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise InputError(f"{path.as_posix()}: cannot read the file: {exc.strerror or exc}") from None


def load_policy(opts: dict, note: Write | None = None) -> Policy:
    if opts.get("all_rules"):
        return Policy.everything()
    name = opts.get("policy")
    if not name:
        return Policy.recommended()
    if name in TEMPLATES:
        return _stored_template(name, note)
    return _stored_policy(name)


def _stored_template(name: str, note: Write | None) -> Policy:
    """`recommended` or `strict` as stored (maybe tuned in the admin) when there is a control database
    that holds it; else the built-in template, with a note when the database could not be read."""
    if not _control_database_exists():
        return Policy.template(name)
    try:
        return _stored_policy(name, template=True)
    except ServerError as exc:
        if note is not None:
            note(f"note: {exc}; using the built-in {name} template")
        return Policy.template(name)


def _control_database_exists() -> bool:
    """False when the settings name an SQLite control database file that does not exist (no
    `manage.py up` or `migrate` here): decided from the settings module alone, without Django."""
    conf = sys.modules.get("django.conf")
    if conf is not None and conf.settings.configured:
        return True  # Django runs already (call_command, tests): its connection tells
    import importlib

    module = os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gitops.settings")
    database = importlib.import_module(module).DATABASES["default"]
    if database.get("ENGINE") != "django.db.backends.sqlite3":
        return True  # a database server: try it
    location = str(database.get("NAME") or "")
    return location == ":memory:" or "mode=memory" in location or Path(location).exists()


def _stored_policy(name: str, *, template: bool = False) -> Policy:
    """A policy composed in the admin: only now does Django start (and read the control database).
    With `template`, a name the database does not hold is the built-in template of that name."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gitops.settings")
    import django

    django.setup()
    from django.db import DatabaseError, connection

    # SQLite would create an empty control database on connecting: a review only reads.
    if connection.vendor == "sqlite" and not connection.is_in_memory_db():
        database = Path(connection.settings_dict["NAME"])
        if not database.exists():
            raise ServerError(f"cannot read policy {name!r} from the control database: {database.as_posix()} does "
                              "not exist (run manage.py migrate)")

    from reviews.models import ReviewPolicy
    from reviews.policy_io import policy_from_model

    try:
        stored = ReviewPolicy.objects.filter(name=name).first()
        if stored is None and template:
            return Policy.template(name)
        if stored is None:
            known = sorted({*TEMPLATES, *ReviewPolicy.objects.values_list("name", flat=True)})
            raise InputError(f"unknown policy {name!r}: expected one of {', '.join(known)}")
        try:
            return policy_from_model(stored)
        except ValueError as exc:
            raise InputError(f"policy {name!r} is invalid: {exc}") from None
    except DatabaseError as exc:
        raise ServerError(f"cannot read policy {name!r} from the control database: {exc}") from None


# -- the command ---------------------------------------------------------------------------------


# Many files are spread over processes; below this, starting them costs more than it saves.
PARALLEL_FROM_FILES = 64
_worker_state: dict = {}


def run(opts: dict, note: Write | None = None) -> tuple[ReviewResult, dict[str, str]]:
    """Review the files of `opts`; returns the result and the decoded sources (for `text`)."""
    policy = load_policy(opts, note)
    folders = collect(opts["files"])
    files = list(folders)
    if opts.get("output"):
        _refuse_to_overwrite(Path(opts["output"]), files)
    for path in files:  # unreadable input is an input error before any work
        if not os.access(path, os.R_OK):
            read(path)
    # What is loaded now (modules, rules, the policy) lives as long as the process: frozen, the
    # collector stops walking it at every collection of the review's short-lived trees, and the
    # forked workers stop touching (and so copying) its pages.
    gc.freeze()
    jobs = opts.get("jobs") or (os.cpu_count() or 1 if len(files) >= PARALLEL_FROM_FILES else 1)
    if jobs > 1 and len(files) > 1:
        reviews = _review_in_processes(files, opts["dialect"], policy, jobs)
    else:
        # One file at a time: only its findings are kept (a 5 MB file's bytes go after its review).
        reviews = [_review_path(path, opts["dialect"], policy) for path in files]
    _release_refusals(reviews, [folders[path] for path in files])
    sources: dict[str, str] = {}
    if (opts.get("format") or "text") == "text":
        for path, review in zip(files, reviews, strict=True):
            if review.findings:
                sources[review.path] = decode(read(path))[0]  # (as the engine read it: lines and columns agree)
    return ReviewResult(reviews), sources


def _refuse_to_overwrite(output: Path, files: list[Path]) -> None:
    try:
        target = output.stat()
    except OSError:
        return  # a new file (or one that cannot be written: execute says so)
    for file in files:
        try:
            same = os.path.samestat(target, file.stat())
        except OSError:
            continue  # unreadable: reported as such
        if same:
            raise InputError(f"{output.as_posix()}: --output names a file under review: the report would replace it")


def _review_in_processes(files: list[Path], dialect: str, policy: Policy, jobs: int) -> list:
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    # fork: the workers inherit the loaded rules and the policy instead of rebuilding them.
    _worker_state.update(dialect=dialect, policy=policy)
    context = multiprocessing.get_context("fork")
    # Largest files first, in small chunks: the workers then finish together instead of one
    # waiting for another's last big chunk (the report keeps the files' own order).
    order = sorted(range(len(files)), key=lambda i: -_size(files[i]))
    with ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
        done = pool.map(_review_one, [files[i] for i in order], chunksize=max(1, len(files) // (jobs * 32)))
        reviews: list = [None] * len(files)
        for i, review in zip(order, done, strict=True):
            reviews[i] = review
        return reviews


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0  # unreadable: the worker reports it


def _review_one(path: Path):
    return _review_path(path, _worker_state["dialect"], _worker_state["policy"])


_SLUICE = re.compile(rb"sluice", re.IGNORECASE)


def _review_path(path: Path, dialect: str, policy: Policy):
    """The file's review, and what the runner would refuse in its run directives (a misspelt or
    repeated `sluice:` directive): a release refuses the file, so the review reports it too, as the
    checks API does (an error of the file: it blocks unless --fail-on never)."""
    data = read(path)
    review = review_file(path.as_posix(), data, dialect, policy)
    if _SLUICE.search(data):  # (no directive without the word; no lower-cased copy of every file)
        from releases.loader import FileProblem, parse_directives

        try:
            parse_directives(review.path, decode(data)[0])
        except FileProblem as problem:
            review.refuse(problem.message, problem.line)
    return review


def _release_refusals(reviews: list, folders: list[Path]) -> None:
    """What a release would refuse of the files besides their content (releases.loader, in its
    words): a name that is not `<version>_<description>.sql`, and a version that another file of the
    same migrations folder already has. Errors of the files, as the checks API lists them: a
    pre-commit hook must not pass what CI, and then the release, refuse."""
    from releases.loader import FileProblem, duplicate_version, parse_name, version_key

    first: dict[tuple[Path, tuple[int, ...]], str] = {}  # (folder, version) → the file that has it
    for review, folder in zip(reviews, folders, strict=True):
        try:
            version, _, _ = parse_name(review.path)
        except FileProblem as problem:
            review.refuse(problem.message)
            continue
        other = first.setdefault((folder, version_key(version)), review.path)
        if other != review.path:
            review.refuse(duplicate_version(review.path, version, other).message)


def execute(opts: dict, out: Write, err: Write) -> int:
    fmt = opts.get("format") or "text"
    fail_on = opts.get("fail_on") or "error"
    try:
        result, sources = run(opts, err)
        report = render(result, fmt, fail_on=fail_on, sources=sources)
        if opts.get("output"):
            try:
                Path(opts["output"]).write_text(report, encoding="utf-8")
            except OSError as exc:
                raise InputError(f"{opts['output']}: cannot write the report: {exc.strerror or exc}") from None
            err(f"{fmt} report written to {opts['output']}: {summary_line(result, fail_on)}")
        else:
            out(report.rstrip("\n"))
    except InputError as exc:
        err(f"error: {exc}")
        return EXIT_INPUT
    except ServerError as exc:
        err(f"error: {exc}")
        return EXIT_SERVER
    return EXIT_BLOCKING if result.blocking(fail_on) else EXIT_OK


def _writer(stream) -> Write:
    def write(text: str) -> None:
        stream.write(text + "\n")
        stream.flush()

    return write


def main(argv: list[str], prog: str = "manage.py") -> int:
    """`main(["review", "migrations/", "--dialect", "postgres"])`; argparse exits 2 on bad usage."""
    if argv and argv[0] == "review":
        argv = argv[1:]
    parser = argparse.ArgumentParser(prog=f"{prog} review", description=HELP)
    add_arguments(parser)
    opts = vars(parser.parse_args(argv))
    # A console or pipe in another encoding (Windows' ANSI code page) gets escapes, not a traceback.
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")
    return execute(opts, _writer(sys.stdout), _writer(sys.stderr))
