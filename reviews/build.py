"""Build the review engine's compiled modules (reviews.native): `python -m reviews.build [--force]`.

mypyc (mypy's compiler, pinned in requirements.txt) turns the engine and the rules into one C
extension, in `.build/native/`; it needs a C compiler and the Python headers, and takes a few
minutes. Nothing is done when the build there is of the current sources. A failed build changes
nothing (a build of other sources is not used: the review runs on the Python sources) and says why;
the command exits 0 all the same (nothing is lost but speed) unless `--strict` (CI: the tests must
run on what ships).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time

from reviews import native

# mypy's checks are not the build's business (the tests are); what it needs of them is the types.
_MYPY_CONFIG = """\
[mypy]
ignore_errors = True
ignore_missing_imports = True
follow_imports = silent
"""

_SETUP = """\
import sys
from setuptools import setup
from mypyc.build import mypycify

setup(name="sluice-review-native", script_args=["build_ext", "--build-lib", sys.argv[1], "--build-temp", sys.argv[2]],
      ext_modules=mypycify(["--config-file", sys.argv[3], *sys.argv[5:]], opt_level="3", group_name=sys.argv[4],
                                 target_dir=sys.argv[2] + "/c"))
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m reviews.build", description=__doc__.split("\n\n")[0])
    parser.add_argument("--force", action="store_true", help="build even if the build is current")
    parser.add_argument("--strict", action="store_true", help="exit 1 when the build fails")
    args = parser.parse_args(argv)
    if native.current()[0] and not args.force:  # (whatever SLUICE_PURE_PYTHON says)
        print("reviews.build: the compiled review engine is up to date")
        return 0
    started = time.monotonic()
    print("reviews.build: compiling the review engine with mypyc (a few minutes)…", flush=True)
    with tempfile.TemporaryDirectory(prefix="sluice-build-") as work:
        out = os.path.join(work, "native")
        config = os.path.join(work, "mypy.ini")
        setup = os.path.join(work, "setup.py")
        with open(config, "w", encoding="utf-8") as f:
            f.write(_MYPY_CONFIG)
        with open(setup, "w", encoding="utf-8") as f:
            f.write(_SETUP)
        paths = [p.relative_to(native.ROOT).as_posix() for p in native.sources()]
        fingerprint = native.fingerprint()  # (of the sources as they were when the build began)
        done = subprocess.run([sys.executable, setup, out, os.path.join(work, "temp"), config, native.GROUP, *paths],
                              cwd=native.ROOT, capture_output=True, text=True)
        if done.returncode != 0:
            print(f"reviews.build: the build failed (the review runs on the Python sources, slower):\n"
                  f"{textwrap.indent((done.stdout + done.stderr)[-4000:], '  ')}", file=sys.stderr)
            return 1 if args.strict else 0
        with open(os.path.join(out, "manifest.json"), "w", encoding="utf-8") as f:
            json.dump(fingerprint, f, indent=1)
        # Replaced whole: a reader sees the old build or the new one.
        native.BUILD.parent.mkdir(parents=True, exist_ok=True)
        old = native.BUILD.with_name(native.BUILD.name + ".old")
        shutil.rmtree(old, ignore_errors=True)
        if native.BUILD.exists():
            native.BUILD.rename(old)
        shutil.move(out, native.BUILD)
        shutil.rmtree(old, ignore_errors=True)
    print(f"reviews.build: built in {time.monotonic() - started:.0f} s: {native.BUILD.relative_to(native.ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
