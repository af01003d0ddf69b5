"""The migration runner: a library with no Django in it.

    from releases.loader import load_dir
    from releases.runner import apply
    report = apply("postgresql://app@db/app", load_dir("migrations"))

The management commands and the worker are thin wrappers around `apply`, `history` and `repair`.
"""

from releases.runner.core import (  # noqa: F401
    ApplyError,
    ApplyOptions,
    ApplyReport,
    FileOutcome,
    HistoryError,
    LockTimeout,
    PlanError,
    apply,
    baseline,
    history,
    plan_for,
    repair,
)
from releases.runner.target import Target, TargetError, parse_target  # noqa: F401
