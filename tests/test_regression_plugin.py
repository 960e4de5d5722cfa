"""The pytest plugin (issvis/pytest_plugin.py): a user's test suite with golden trajectory records.

Each test runs a small pytest session of its own (pytester) in a temporary project, the way a
user's repository would use the fixture.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import textwrap
import tomllib

import numpy as np
import pytest

from issvis.record.record import Record

from .conftest import ROOT

pytest_plugins = ["pytester"]

PLUGIN = ("-p", "issvis.pytest_plugin")


@pytest.fixture(scope="module")
def records(tmp_path_factory):
    """Two records of the default scene (300 s): the golden one, and a copy with the Russian
    segment's parts 5 cm off from t = 120 s on."""
    folder = tmp_path_factory.mktemp("records")
    golden = Record.load(ROOT / "tests" / "golden" / "undock.npz")
    pos = golden.pos.copy()
    pos[np.ix_(golden.t >= 120.0, golden.segment == "ROS")] += np.array([0.0, 0.05, 0.0])
    golden.save(folder / "a.npz")
    dataclasses.replace(golden, pos=pos).save(folder / "b.npz")
    return folder


def project(pytester, records, body: str, which: str = "a") -> None:
    """A user's test file that checks the record named in which.txt ('a' or 'b')."""
    (pytester.path / "which.txt").write_text(which)
    pytester.makepyfile(test_user=textwrap.dedent(f"""
        from pathlib import Path
        from issvis.record.record import Record

        def record():
            return Record.load(Path({str(records)!r}) / (Path(__file__).with_name("which.txt").read_text() + ".npz"))
    """) + textwrap.dedent(body))


def run(pytester, *args):
    return pytester.runpytest_inprocess(*PLUGIN, "-p", "no:cacheprovider", *args)


def test_the_first_run_writes_the_golden_and_fails_then_the_next_passes(pytester, records):
    project(pytester, records, """
        def test_it(trajectory_regression):
            trajectory_regression.check(record())
    """)
    golden = pytester.path / "golden" / "test_it.npz"
    first = run(pytester)
    first.assert_outcomes(failed=1)
    first.stdout.fnmatch_lines([f"*golden record written: {golden} (there was none); re-run*"])
    assert golden.is_file()
    run(pytester).assert_outcomes(passed=1)


def test_a_divergence_fails_with_when_and_where_then_regen_failed_accepts_it(pytester, records):
    project(pytester, records, """
        def test_it(trajectory_regression):
            trajectory_regression.check(record(), "undock")
    """)
    run(pytester, "--issvis-regen").assert_outcomes(passed=1)
    (pytester.path / "which.txt").write_text("b")
    failed = run(pytester)
    failed.assert_outcomes(failed=1)
    failed.stdout.fnmatch_lines([
        "*trajectory differs from the golden record*undock.npz",
        "records DIFFER over 0..300 s*",
        "first divergence at t = 120.000 s in ROS: position of * off by 0.05 m (tolerance 0.01 m)",
        "*USOS*agrees*",
        "this run's record: *undock.npz (issvis compare *); if the change is intended: pytest --issvis-regen-failed",
    ])
    accepted = run(pytester, "--issvis-regen-failed")
    accepted.assert_outcomes(passed=1)
    accepted.stdout.fnmatch_lines(["*issvis golden records*",
                                   "rewritten *undock.npz (first diverged at t = 120.000 s in ROS: position of *"])
    run(pytester).assert_outcomes(passed=1)  # the golden is now the new run


def test_regen_rewrites_what_changed_and_leaves_the_same_run_alone(pytester, records):
    project(pytester, records, """
        def test_one(trajectory_regression):
            trajectory_regression.check(record(), "one")

        def test_two(trajectory_regression):
            trajectory_regression.check(Record.load(Path({a!r})), "two")
    """.format(a=str(records / "a.npz")))
    run(pytester, "--issvis-regen").assert_outcomes(passed=2)
    two = pytester.path / "golden" / "two.npz"
    before = two.read_bytes()
    (pytester.path / "which.txt").write_text("b")
    result = run(pytester, "--issvis-regen")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["rewritten *one.npz", "unchanged *two.npz"])
    assert two.read_bytes() == before  # no churn in git for a golden that did not change
    assert np.array_equal(Record.load(pytester.path / "golden" / "one.npz").pos, Record.load(records / "b.npz").pos)


def test_tolerances_are_per_test(pytester, records):
    project(pytester, records, """
        from issvis.record.compare import ComparisonTolerances

        def test_loose(trajectory_regression):
            trajectory_regression.check(record(), "undock", pos_tol_m=0.06)
            assert trajectory_regression.last_comparison.agree

        def test_loose_by_object(trajectory_regression):
            trajectory_regression.check(record(), "undock", tolerances=ComparisonTolerances(pos_tol_m=0.06))

        def test_default(trajectory_regression):
            trajectory_regression.check(record(), "undock")
    """)
    run(pytester, "--issvis-regen", "-k", "default").assert_outcomes(passed=1, deselected=2)
    (pytester.path / "which.txt").write_text("b")
    result = run(pytester)
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(["FAILED test_user.py::test_default*"])


def test_the_golden_folder_is_an_ini_option(pytester, records):
    pytester.makeini("[pytest]\nissvis_golden_dir = data/goldens\n")
    project(pytester, records, """
        def test_it(trajectory_regression):
            trajectory_regression.check(record(), "x")
    """)
    run(pytester).assert_outcomes(failed=1)
    assert (pytester.path / "data" / "goldens" / "x.npz").is_file() and not (pytester.path / "golden").exists()


def test_scenes_by_name_file_or_object_with_overrides_are_simulated(pytester, records):
    (pytester.path / "scenes").mkdir()
    (pytester.path / "scenes" / "mine.toml").write_text((ROOT / "scenes" / "russian_only.toml").read_text())
    project(pytester, records, """
        from issvis.scene.schema import Scene, load_scene

        SHORT = ["scene.duration_s=25"]

        def test_by_name(trajectory_regression):
            rec = trajectory_regression.check("russian_only", "by_name", overrides=SHORT)
            assert rec.duration_s == 25.0 and rec.events_of("separation")

        def test_by_file(trajectory_regression):
            trajectory_regression.check("scenes/mine.toml", "by_file", overrides=SHORT)

        def test_by_object(trajectory_regression):
            scene = load_scene(Path(__file__).parent / "scenes" / "mine.toml")
            trajectory_regression.check(scene, "by_object", overrides=SHORT)

        def test_built_in_code(trajectory_regression):
            rec = trajectory_regression.check(Scene(), "built", overrides=["scene.duration_s=5"])
            assert rec.duration_s == 5.0
    """)
    run(pytester, "--issvis-regen").assert_outcomes(passed=4)
    run(pytester).assert_outcomes(passed=4)
    golden = pytester.path / "golden"
    by_name, by_file = Record.load(golden / "by_name.npz"), Record.load(golden / "by_file.npz")
    assert np.array_equal(by_name.pos, by_file.pos)  # the same scene, by its shipped name and as a file


def test_checks_without_names_or_with_a_bad_golden_say_what_to_do(pytester, records):
    project(pytester, records, """
        def test_twice(trajectory_regression):
            trajectory_regression.check(record())
            trajectory_regression.check(record())

        def test_bad(trajectory_regression):
            trajectory_regression.check(record(), "bad")
    """)
    (pytester.path / "golden").mkdir()
    (pytester.path / "golden" / "bad.npz").write_text("not a record")
    twice = run(pytester, "-k", "twice", "--issvis-regen")
    twice.assert_outcomes(failed=1, deselected=1)
    twice.stdout.fnmatch_lines(["*check() named 'test_twice' twice in one test: give each check its own name=*"])
    bad = run(pytester, "-k", "bad")
    bad.assert_outcomes(failed=1, deselected=1)
    bad.stdout.fnmatch_lines(["*bad.npz: not a trajectory record*; rewrite it with --issvis-regen-failed"])
    assert "During handling" not in bad.stdout.str()
    run(pytester, "--issvis-regen-failed", "-k", "bad").assert_outcomes(passed=1, deselected=1)
    assert Record.load(pytester.path / "golden" / "bad.npz").duration_s == 300.0


def test_bad_input_in_a_check_is_one_line_naming_it(pytester, records):
    project(pytester, records, """
        def test_typo(trajectory_regression):
            trajectory_regression.check("undock", "typo", overrides=["separation.0.delta_vv=1"])

        def test_missing(trajectory_regression):
            trajectory_regression.check("scenes/nosuch.toml", "missing")
    """)
    result = run(pytester)
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines([
        "*trajectory_regression.check: *undock.toml: unknown key 'separation.0.delta_vv'*",
        f"*trajectory_regression.check: no such file: scenes/nosuch.toml in {pytester.path}*; nor a shipped scene (*undock*)",
    ])
    out = result.stdout.str()
    assert "schema.py" not in out and "Traceback" not in out and "raise " not in out


def test_the_suggested_compare_command_reproduces_the_verdict_with_the_tests_tolerances(pytester, records, capsys):
    import shlex

    from issvis.cli import main

    project(pytester, records, """
        def test_it(trajectory_regression):
            trajectory_regression.check(record(), "undock", pos_tol_m=0.04, ang_tol_deg=0.5, until_s=250.0)
    """)
    run(pytester, "--issvis-regen").assert_outcomes(passed=1)
    (pytester.path / "which.txt").write_text("b")
    failed = run(pytester)
    failed.assert_outcomes(failed=1)
    out = failed.stdout.str()
    command = out[out.index("(issvis compare ") + 1:out.index("); if the change is intended")]
    words = shlex.split(command)
    assert words[words.index("--pos-tol-m") + 1] == "0.04" and words[words.index("--ang-tol-deg") + 1] == "0.5"
    assert words[words.index("--until") + 1] == "250.0" and "--vel-tol-mps" not in words  # defaults left out
    capsys.readouterr()
    assert main(words[1:]) == 1
    first = next(line for line in out.splitlines() if line.startswith("first divergence"))
    assert first in capsys.readouterr().out  # the same verdict, word for word


def test_the_plugin_imports_nothing_heavy():
    """pytest imports the plugin in every run of every project where issvis is installed."""
    code = ("import sys, pytest, issvis; before = set(sys.modules); import issvis.pytest_plugin; "
            "new = set(sys.modules) - before; heavy = {'numpy', 'pybullet', 'pydantic', 'trimesh', 'pyvista'}; "
            "print(sorted(new), sorted(heavy & set(sys.modules) - before))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert out.stdout.strip() == "['issvis.pytest_plugin'] []"


def test_the_entry_point_loads_the_plugin_once_with_or_without_p(tmp_path):
    """pyproject's pytest11 entry point, as an install writes it (a dist-info folder on the path):
    pytest finds the fixture and the flags, and '-p issvis.pytest_plugin' (this repository's
    addopts) on top of it does not register the plugin twice."""
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["entry-points"]["pytest11"]
    assert declared == {"issvis.pytest_plugin": "issvis.pytest_plugin"}
    site = tmp_path / "site" / "issvis_probe-0.dist-info"
    site.mkdir(parents=True)
    (site / "METADATA").write_text("Metadata-Version: 2.1\nName: issvis-probe\nVersion: 0\n")
    (site / "entry_points.txt").write_text("[pytest11]\n" + "".join(f"{k} = {v}\n" for k, v in declared.items()))
    user = tmp_path / "user"
    user.mkdir()
    (user / "test_x.py").write_text("def test_x(trajectory_regression):\n    assert trajectory_regression.regen_all\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path / "site"), str(ROOT)])}
    env.pop("PYTEST_DISABLE_PLUGIN_AUTOLOAD", None)
    def pytest(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args],
                              capture_output=True, text=True, cwd=user, env=env, timeout=120)

    for extra in ((), PLUGIN):
        done = pytest(*extra, "--issvis-regen")
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    off = pytest("-p", "no:issvis.pytest_plugin")  # what docs/regression.md says turns it off
    assert off.returncode == 1 and "fixture 'trajectory_regression' not found" in off.stdout
