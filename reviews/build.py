"""Build the review engine's compiled modules (reviews.native): `python -m reviews.build [--force]`.

mypyc (mypy's compiler, pinned in requirements.txt) turns the engine and the rules into one C
extension, in `.build/native/`; it needs a C compiler and the Python headers, and takes a few
minutes. With GCC the extension is compiled twice (profile-guided optimization): instrumented, then,
after that build has reviewed a generated workload (reviews.training), again with the counts the
workload left, so that the code a review runs is laid out together and tuned for the branches it
takes (`--no-profile`: once, quicker to build, slower to review). Nothing is done when the build
there is of the current sources. A failed build changes nothing (a build of other sources is not
used: the review runs on the Python sources) and says why; the command exits 0 all the same (nothing
is lost but speed) unless `--strict` (CI: the tests must run on what ships). A failed instrumented
compile or training run only costs the optimization: the extension is then compiled without it.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import sysconfig
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

setup(name="sluice-review-native",
      script_args=["build_ext", "--force", "--build-lib", sys.argv[1], "--build-temp", sys.argv[2]],
      ext_modules=mypycify(["--config-file", sys.argv[3], *sys.argv[5:]], opt_level="3", group_name=sys.argv[4],
                                 target_dir=sys.argv[2] + "/c"))
"""
# With GCC, every compile: calls between the extension's own functions go straight to them, and may be
# inlined (a shared library's functions may otherwise be replaced by another library's of the same
# name, so each call goes through the PLT; CPython builds itself so too).
_GCC = ["-fno-semantic-interposition"]
# GCC's profile-guided optimization: compiled once instrumented, trained, compiled again with the counts.
_INSTRUMENT = ["-fprofile-generate", "-fprofile-update=single"]
# (Code the training did not run is optimized as usual, not for size; a module it never ran is no warning.)
_USE_PROFILE = ["-fprofile-use", "-fprofile-partial-training", "-Wno-missing-profile"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m reviews.build", description=__doc__.split("\n\n")[0])
    parser.add_argument("--force", action="store_true", help="build even if the build is current")
    parser.add_argument("--strict", action="store_true", help="exit 1 when the build fails")
    parser.add_argument("--no-profile", action="store_true",
                        help="compile once, without the training run (about 40%% quicker; the review runs slower)")
    parser.add_argument("--train", metavar="DIR", help=argparse.SUPPRESS)  # (the training run's own process)
    args = parser.parse_args(argv)
    if args.train:
        return _train(args.train)
    if native.current()[0] and not args.force:  # (whatever SLUICE_PURE_PYTHON says)
        print("reviews.build: the compiled review engine is up to date")
        return 0
    started = time.monotonic()
    print("reviews.build: compiling the review engine with mypyc (a few minutes)…", flush=True)
    with tempfile.TemporaryDirectory(prefix="sluice-build-") as work:
        out = os.path.join(work, "native")
        with open(os.path.join(work, "mypy.ini"), "w", encoding="utf-8") as f:
            f.write(_MYPY_CONFIG)
        with open(os.path.join(work, "setup.py"), "w", encoding="utf-8") as f:
            f.write(_SETUP)
        fingerprint = native.fingerprint()  # (of the sources as they were when the build began)
        gcc = _gcc()
        base = _GCC if gcc else []
        profile = "none (--no-profile)" if args.no_profile else _profile(work, base) if gcc \
            else "none (the C compiler is not GCC)"
        done = None
        if profile.startswith("trained"):
            done = _compile(work, out, base + _USE_PROFILE)
            if done.returncode != 0:
                profile = f"none (the compile with the profile failed: {_last_line(done)})"
        if done is None or done.returncode != 0:
            if not args.no_profile:
                print(f"reviews.build: profile-guided optimization: {profile}; compiling without it", flush=True)
            done = _compile(work, out, base)
        if done.returncode != 0:
            print(f"reviews.build: the build failed (the review runs on the Python sources, slower):\n"
                  f"{textwrap.indent((done.stdout + done.stderr)[-4000:], '  ')}", file=sys.stderr)
            return 1 if args.strict else 0
        with open(os.path.join(out, "manifest.json"), "w", encoding="utf-8") as f:
            json.dump(fingerprint, f, indent=1)
        with open(os.path.join(out, native.BUILD_INFO), "w", encoding="utf-8") as f:
            json.dump({"profile": profile, "flags": base, "seconds": round(time.monotonic() - started)}, f, indent=1)
        # Replaced whole: a reader sees the old build or the new one.
        native.BUILD.parent.mkdir(parents=True, exist_ok=True)
        old = native.BUILD.with_name(native.BUILD.name + ".old")
        shutil.rmtree(old, ignore_errors=True)
        if native.BUILD.exists():
            native.BUILD.rename(old)
        shutil.move(out, native.BUILD)
        shutil.rmtree(old, ignore_errors=True)
    print(f"reviews.build: built in {time.monotonic() - started:.0f} s (profile-guided: {profile}): "
          f"{native.BUILD.relative_to(native.ROOT)}")
    return 0


def _compile(work: str, out: str, flags: list[str]) -> subprocess.CompletedProcess:
    """mypyc and the C compiler, the extension into `out`; the objects, and the profile counts beside
    them, in `work/temp` (the same paths for the instrumented compile and the one that reads its counts)."""
    env = dict(os.environ)
    for name in ("CFLAGS", "LDFLAGS"):  # (added to the interpreter's own flags, and the user's)
        env[name] = " ".join([env.get(name, ""), *flags]).strip()
    paths = [p.relative_to(native.ROOT).as_posix() for p in native.sources()]
    return subprocess.run([sys.executable, os.path.join(work, "setup.py"), out, os.path.join(work, "temp"),
                           os.path.join(work, "mypy.ini"), native.GROUP, *paths],
                          cwd=native.ROOT, capture_output=True, text=True, env=env)


def _profile(work: str, base: list[str]) -> str:
    """Compile the instrumented build and review the training workload with it (reviews.training),
    which leaves the counts beside the objects: "trained …", or "none (why)"."""
    print("reviews.build: instrumented compile, then its training run (profile-guided optimization)…", flush=True)
    instrumented = os.path.join(work, "instrumented")
    done = _compile(work, instrumented, base + _INSTRUMENT)
    if done.returncode != 0:
        return f"none (the instrumented compile failed: {_last_line(done)})"
    trained = subprocess.run([sys.executable, "-m", "reviews.build", "--train", instrumented],
                             cwd=native.ROOT, capture_output=True, text=True)
    if trained.returncode != 0:
        return f"none (the training run failed: {_last_line(trained)})"
    shutil.rmtree(instrumented, ignore_errors=True)
    return f"trained on {trained.stdout.strip()}"


def _train(build: str) -> int:
    """The training run: the instrumented build in `build` reviews reviews.training's workload (its
    counts are written as the process exits)."""
    from pathlib import Path

    native.use(Path(build))
    import reviews.engine.core
    from reviews import training

    if not reviews.engine.core.__file__.startswith(build):
        print(f"the instrumented build was not loaded: {reviews.engine.core.__file__}", file=sys.stderr)
        return 1
    print(f"{training.run()} reviews of reviews/training.py's workload")
    return 0


def _gcc() -> bool:
    """Whether the compiler the extension is built with is GCC (its profile options are what this uses)."""
    compiler = (os.environ.get("CC") or sysconfig.get_config_var("CC") or "cc").split()
    try:
        done = subprocess.run([*compiler, "--version"], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.SubprocessError):
        return False
    return done.returncode == 0 and ("gcc" in done.stdout.lower() or "Free Software Foundation" in done.stdout)


def _last_line(done: subprocess.CompletedProcess) -> str:
    lines = [line for line in (done.stdout + done.stderr).splitlines() if line.strip()]
    return lines[-1].strip()[:300] if lines else f"exit {done.returncode}"


if __name__ == "__main__":
    sys.exit(main())
