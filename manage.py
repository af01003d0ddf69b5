#!/usr/bin/env python
"""Django's command-line utility for administrative tasks."""

from __future__ import annotations

import os
import sys

# The migration runner needs no Django: these commands skip Django's start-up (about 0.4 s),
# so that a re-run with nothing to apply costs one history query and little else.
RUNNER_COMMANDS = {"apply", "history", "repair", "baseline"}


def _follow_parent() -> None:
    """A child of `manage.py up` (which names itself in SLUICE_UP_PARENT) gets a SIGTERM when `up`
    dies, even of a SIGKILL that lets it stop nothing: no web server or worker outlives it (Linux)."""
    parent = os.environ.pop("SLUICE_UP_PARENT", None)
    if parent is None or not sys.platform.startswith("linux"):
        return
    import ctypes
    import signal

    pr_set_pdeathsig = 1
    try:
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)
    except (OSError, AttributeError):
        return
    if str(os.getppid()) != parent:  # `up` died before the line above: nobody left to stop us
        sys.exit(0)


def main() -> None:
    _follow_parent()
    if len(sys.argv) > 1 and sys.argv[1] in RUNNER_COMMANDS:
        from releases.runner.cli import main as runner_main

        sys.exit(runner_main(sys.argv[1:]))
    if len(sys.argv) > 1 and sys.argv[1] == "review":
        # The offline review needs no Django either (a pre-commit hook should not pay for it);
        # reviews.cli starts Django itself only for a policy stored in the control database.
        from reviews.cli import main as review_main

        sys.exit(review_main(sys.argv[1:]))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gitops.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
