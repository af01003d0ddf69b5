"""The review engine's compiled build: its modules (the engine and the rules) compiled to C with mypyc
by `python -m reviews.build`, which takes about a third off what the review costs on top of parsing
(bench/review.py, bench/review_ir.py). It lives in `.build/native/` at the project root, out of the
source tree, and is used only when it was built from exactly the sources beside it, by this Python,
against these parsers: an edited rule, a checkout of another commit, a new interpreter or an upgraded
sqlglot fall back to the Python sources (the same behaviour, slower) until it is built again.
`SLUICE_PURE_PYTHON=1` uses the sources regardless.

Pure Python itself (never compiled): `reviews.engine` and `reviews.rules` ask it, before any of their
modules is imported, where those modules are to be found (`extend`).
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent  # the project root
BUILD = ROOT / ".build" / "native"
MANIFEST = BUILD / "manifest.json"
BUILD_INFO = "build.json"  # beside the manifest: how it was compiled (profile-guided or not), for the benchmarks
GROUP = "sluice_review"  # the name of the shared library that holds the compiled modules
# The compiled modules, by path from the project root: every module of the two packages but their
# __init__ (which decide where the rest comes from).
PACKAGES = ("reviews/engine", "reviews/rules")


def sources() -> list[Path]:
    return sorted(p for package in PACKAGES for p in (ROOT / package).glob("*.py") if p.name != "__init__.py")


def fingerprint() -> dict[str, str]:
    """What a build must have been made from: each compiled module's source, the interpreter, and the
    parsers whose types the compiled code was checked against (it checks them when it runs)."""
    import pglast
    import sqlglot

    found = {p.relative_to(ROOT).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest() for p in sources()}
    found["python"] = f"{sys.implementation.cache_tag} {sys.platform} {sys.version}"
    found["parsers"] = f"sqlglot {sqlglot.__version__}, pglast {pglast.__version__}"
    return found


def _state() -> tuple[bool, str]:
    """(whether the build is used, why not)."""
    if os.environ.get("SLUICE_PURE_PYTHON", "").strip() not in ("", "0"):
        return False, "SLUICE_PURE_PYTHON is set"
    return current()


def current() -> tuple[bool, str]:
    """(whether the build in BUILD is of the sources beside it, why not)."""
    try:
        built = json.loads(MANIFEST.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return False, "not built (python -m reviews.build)"
    except (OSError, ValueError) as exc:
        return False, f"unreadable manifest ({exc})"
    if built != fingerprint():
        return False, "built from other sources, for another Python or other parser versions: python -m reviews.build"
    return True, ""


COMPILED, WHY_NOT = _state()  # (decided once: the two packages' compiled modules go together)


def use(build: Path) -> None:
    """Use the build in `build`, whatever its manifest says: `python -m reviews.build`'s training run of
    its instrumented build (which has none). Before reviews.engine or reviews.rules is imported."""
    global BUILD, COMPILED, WHY_NOT
    BUILD, COMPILED, WHY_NOT = build, True, ""


def build_info() -> dict:
    """How the build in use was compiled (reviews.build writes it), or {} (none in use, or none said)."""
    try:
        return json.loads((BUILD / BUILD_INFO).read_text(encoding="utf-8")) if COMPILED else {}
    except (OSError, ValueError):
        return {}


def extend(package_path: list[str], name: str) -> None:
    """Put the compiled build of package `name` (reviews.engine, reviews.rules) first on its
    `__path__`, when it is used. (Silent when it is not: the sources behave the same; `python -m
    reviews.build` and bench/review.py say which one runs.)"""
    if COMPILED:
        if str(BUILD) not in sys.path:
            sys.path.append(str(BUILD))  # (the shared library, a top-level module named after GROUP)
        package_path.insert(0, str(BUILD.joinpath(*name.split("."))))
