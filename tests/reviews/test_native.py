"""The compiled review engine (reviews.native, built by `python -m reviews.build`) is what the tests and
a deployment run; it must find exactly what the Python sources find.

Compiled code checks the declared types of what it is handed (a tuple where a list was declared is
a TypeError, which the engine logs as a failed rule), so the two are compared on real files, every
rule on, in the three dialects, finding by finding.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from reviews import native, training
from tests.helpers import missing

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT.parent / "shared" / "corpus"
STEP = 7  # every 7th corpus file (about 680), in each dialect

# Reviews the files named on stdin in the three dialects, every rule on; prints the findings (and the
# rules that failed) as JSON, and whether the compiled build ran.
_REVIEW = """
import json, logging, sys
from reviews import native
from reviews.engine import Policy, review_file

failed = []
class Failures(logging.Handler):
    def emit(self, record):
        failed.append(record.getMessage())
logging.getLogger("reviews").addHandler(Failures())
logging.getLogger("reviews").propagate = False
policy = Policy.everything()
found = []
for path in sys.stdin.read().split("\\n"):
    if path:
        data = open(path, "rb").read()
        for dialect in ("postgres", "mysql", "sqlite"):
            review = review_file(path, data, dialect, policy)
            found.append([dialect, review.risk, review.statements,
                          [[f.rule, f.severity, f.message, f.line, f.column, f.end_line, f.fingerprint,
                            f.suppressed] for f in review.findings]])
json.dump({"compiled": native.COMPILED, "failed": failed, "found": found}, sys.stdout)
"""


def _review(paths: list[Path], pure: bool) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "SLUICE_PURE_PYTHON"}
    if pure:
        env["SLUICE_PURE_PYTHON"] = "1"
    run = subprocess.run([sys.executable, "-c", _REVIEW], input="\n".join(map(str, paths)), cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    return json.loads(run.stdout)


def _compiled_or_skip() -> None:
    if not native.COMPILED:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must test the compiled review engine: {native.WHY_NOT}")
        pytest.skip(f"the compiled review engine is not used here: {native.WHY_NOT}")


def test_ci_tests_the_compiled_engine():
    _compiled_or_skip()
    import reviews.engine.core
    import reviews.rules.design

    for module in (reviews.engine.core, reviews.rules.design):
        assert Path(module.__file__).is_relative_to(native.BUILD), module.__file__


def test_the_compiled_engine_finds_what_the_python_sources_find():
    _compiled_or_skip()
    if not CORPUS.is_dir():
        missing(f"the SQL corpus is missing: {CORPUS} (see ../shared/corpus/README.md)")
    corpus = sorted(p for p in CORPUS.rglob("*") if p.is_file() and p.suffix in (".sql", ".postgres"))
    fixtures = sorted((ROOT / "tests").rglob("*.sql"))
    paths = corpus[::STEP] + fixtures
    compiled, pure = _review(paths, pure=False), _review(paths, pure=True)
    assert compiled["compiled"] and not pure["compiled"]
    assert compiled["failed"] == [] and pure["failed"] == []
    assert len(compiled["found"]) == 3 * len(paths)
    differ = [(str(path), a[0]) for path, a, b in zip((p for p in paths for _ in range(3)), compiled["found"],
                                                      pure["found"], strict=True) if a != b]
    assert differ == []
    assert sum(len(f[3]) for f in compiled["found"]) > 10_000  # (real files: many findings compared)


def test_only_a_build_of_these_sources_is_used(tmp_path, monkeypatch):
    """The manifest names the sources a build was made from: after an edit of a rule (or with another
    Python) the review runs on the sources until the next build."""
    monkeypatch.delenv("SLUICE_PURE_PYTHON", raising=False)
    manifest = tmp_path / "manifest.json"
    monkeypatch.setattr(native, "MANIFEST", manifest)
    assert native._state() == (False, "not built (python -m reviews.build)")
    current = native.fingerprint()
    assert set(current) >= {"reviews/engine/core.py", "reviews/rules/design.py", "python", "parsers"}
    manifest.write_text(json.dumps(current))
    assert native._state() == (True, "")
    for edited in ({**current, "reviews/rules/design.py": "0" * 64}, {**current, "python": "3.12"},
                   {**current, "parsers": "sqlglot 31.0.0, pglast 8.8"},
                   {k: v for k, v in current.items() if k != "reviews/rules/naming.py"}):
        manifest.write_text(json.dumps(edited))
        assert native._state()[0] is False
    manifest.write_text("{")
    assert native._state()[1].startswith("unreadable manifest")
    manifest.write_text(json.dumps(current))
    monkeypatch.setenv("SLUICE_PURE_PYTHON", "1")
    assert native._state() == (False, "SLUICE_PURE_PYTHON is set")


def test_ci_builds_the_engine_profile_guided():
    """With GCC, `reviews.build` compiles twice, the second time with the counts of its training run;
    a failed instrumented compile or training run only costs that (the build says why). CI must not
    lose it unnoticed."""
    _compiled_or_skip()
    profile = native.build_info().get("profile", "")
    if os.environ.get("CI") != "true" and not profile.startswith("trained"):
        pytest.skip(f"this build was not profile-guided (outside CI, a plain build is allowed): {profile or 'not said'}")
    assert profile.startswith("trained on "), profile


@pytest.mark.parametrize("dialect", training.DIALECTS)
def test_the_training_workload_is_what_real_migrations_look_like(dialect, caplog):
    """The build is tuned for the paths the workload takes: its migrations and dumps must be valid SQL
    of the dialect (no syntax errors, nothing the parser gives up on, no engine failure), varied, and
    flagged by many rules; the catalogue examples (some written for another engine) come on top."""
    from reviews.engine import Policy, review_file

    workload = training.files(dialect)
    assert training.files(dialect) == workload  # (seeded: two builds are trained alike)
    findings = [f for path, text in workload if not path.startswith("examples/")
                for f in review_file(path, text, dialect, Policy.everything()).findings]
    rules = {f.rule for f in findings}
    assert not rules & {"system.syntax-error", "system.parse-unsupported"}, \
        [(f.rule, f.message[:80], f.statement[:80]) for f in findings if f.rule.startswith("system.")]
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []  # (no rule failed)
    assert len(rules) >= {"postgres": 40, "mysql": 35, "sqlite": 20}[dialect]
    examples = [path for path, _ in workload if path.startswith("examples/")]
    assert len(examples) >= 30


def test_the_training_run_uses_the_build_it_is_given(tmp_path):
    """`reviews.build --train DIR` reviews the workload with the build in DIR (the instrumented one,
    which has no manifest yet), and refuses when that build is not what got loaded."""
    _compiled_or_skip()
    build = tmp_path / "native"
    shutil.copytree(native.BUILD, build)
    (build / "manifest.json").unlink()
    run = subprocess.run([sys.executable, "-m", "reviews.build", "--train", str(build)], cwd=ROOT,
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.strip().endswith("reviews of reviews/training.py's workload")
    empty = tmp_path / "empty"
    empty.mkdir()
    run = subprocess.run([sys.executable, "-m", "reviews.build", "--train", str(empty)], cwd=ROOT,
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 1 and "was not loaded" in run.stderr


def test_only_gcc_gets_the_profile_guided_compile(tmp_path, monkeypatch):
    """The profile options are GCC's: another compiler (clang, or one that cannot even say what it is)
    gets one plain compile, without them."""
    from reviews import build

    clang = tmp_path / "clang"
    clang.write_text("#!/bin/sh\necho 'Debian clang version 16.0.6'\n")
    clang.chmod(0o755)
    for compiler, expected in ((str(clang), False), ("/bin/false", False), (str(tmp_path / "missing-cc"), False)):
        monkeypatch.setenv("CC", compiler)
        assert build._gcc() is expected, compiler
    if shutil.which("gcc"):
        monkeypatch.setenv("CC", "gcc -pthread")
        assert build._gcc() is True
