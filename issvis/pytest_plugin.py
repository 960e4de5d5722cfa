"""pytest plugin: trajectory regression tests against golden records (docs/regression.md).

Installed with issvis (entry point ``pytest11``), so any project's tests get the fixture
``trajectory_regression``::

    def test_my_undock(trajectory_regression):
        trajectory_regression.check("scenes/my_undock.toml", overrides=["scene.duration_s=300"])

The first run simulates the scene, writes the golden record (``golden/<name>.npz`` beside the test
file, or the ini option ``issvis_golden_dir``) and fails with "golden record written: re-run", the
way pytest-regressions does; later runs compare against it with ``issvis.record.compare`` and fail
with its report (when and where the runs first diverge). ``--issvis-regen`` rewrites every golden
a test checks, ``--issvis-regen-failed`` only those that differ or are missing; both then pass.

pytest loads this module in every run of every project where issvis is installed, so it imports
nothing heavy: numpy, pydantic and pybullet load only when a test calls ``check``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from .record.compare import Comparison, ComparisonTolerances
    from .record.record import Record
    from .scene.schema import Scene

GOLDEN_DIR_INI = "issvis_golden_dir"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("issvis", "issvis trajectory regression (fixture trajectory_regression)")
    group.addoption("--issvis-regen", action="store_true", default=False,
                    help="Rewrite every golden record a test checks (and pass); for an intended change.")
    group.addoption("--issvis-regen-failed", action="store_true", default=False,
                    help="Rewrite only the golden records that differ or are missing (and pass).")
    parser.addini(GOLDEN_DIR_INI, default="",
                  help="Folder of the golden records, relative to the rootdir (default: golden/ beside each test file).")


@dataclass
class _Written:
    """The goldens this session wrote, for the terminal summary."""

    lines: list[str] = field(default_factory=list)


_WRITTEN = pytest.StashKey[_Written]()


def pytest_configure(config: pytest.Config) -> None:
    config.stash[_WRITTEN] = _Written()


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    written = config.stash.get(_WRITTEN, None)
    if written and written.lines:
        terminalreporter.write_sep("-", "issvis golden records")
        for line in written.lines:
            terminalreporter.write_line(line)


def golden_name(node_name: str) -> str:
    """A file name from a test's name: 'test_scene[undock]' -> 'test_scene-undock'."""
    return re.sub(r"[^\w.-]+", "-", node_name).strip("-.") or "golden"


#: Meta keys that say where a run was made, not what it did: a golden regenerated in another
#: checkout is the same golden.
_WHERE_KEYS = ("scene_source",)


def _same_content(a: Record, b: Record) -> bool:
    """Whether two records hold the same run, bit for bit (a rewrite would change only the zip's
    dates), wherever each was made."""
    import numpy as np

    def what(meta: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in meta.items() if k not in _WHERE_KEYS}

    arrays = ("t", "names", "segment", "mass", "pos", "quat", "vel")
    return (all(np.array_equal(getattr(a, k), getattr(b, k), equal_nan=k not in ("names", "segment")) for k in arrays)
            and a.events == b.events and what(a.meta) == what(b.meta) and a.extra.keys() == b.extra.keys()
            and all(np.array_equal(a.extra[k], b.extra[k], equal_nan=a.extra[k].dtype.kind == "f") for k in a.extra))


class TrajectoryRegression:
    """The fixture: ``check`` a scene or a record against its golden record."""

    def __init__(self, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> None:
        self._request = request
        self._tmp = tmp_path_factory
        self._names: set[str] = set()
        config = request.config
        self.regen_all = bool(config.getoption("issvis_regen"))
        self.regen_failed = bool(config.getoption("issvis_regen_failed"))
        ini = str(config.getini(GOLDEN_DIR_INI) or "")
        test_dir = Path(str(request.node.path)).parent
        self.golden_dir = (config.rootpath / ini) if ini else test_dir / "golden"
        """Where this test's golden records are (assign another folder to change it for one test)."""
        self.last_comparison: Comparison | None = None
        """The comparison of the last ``check`` (None when it wrote the golden without one)."""

    def golden_path(self, name: str) -> Path:
        return self.golden_dir / f"{name}.npz"

    def _scene_path(self, text: str | Path) -> Path:
        """A scene named by a path (from the current folder, the rootdir or the test's folder) or a
        shipped scene's name; the path itself when none exists (the loader then says so)."""
        from .core.errors import InputError
        from .core.shipped import resolve_scene, shipped_scenes

        path = Path(text)
        folders = list(dict.fromkeys((Path.cwd(), self._request.config.rootpath,
                                      Path(str(self._request.node.path)).parent)))
        for folder in folders:
            if (folder / path).is_file():
                return folder / path
        found = resolve_scene(path)
        if not found.exists():
            where = str(path) if path.is_absolute() else f"{path} in {', '.join(str(f) for f in folders)}"
            hint = "" if path.suffix.lower() == ".npz" else f"; nor a shipped scene ({', '.join(shipped_scenes())})"
            raise InputError(f"no such file: {where}{hint}")
        return found

    def _record_of(self, source: Scene | Record | str | Path, overrides: tuple[str, ...]) -> Record:
        from .physics.simulation import simulate
        from .record.record import Record
        from .scene.schema import Scene, load_scene, parse_scene, scene_from_text

        if isinstance(source, Record):
            if overrides:
                raise TypeError("overrides change a scene before it runs; check() got a Record")
            return source
        if isinstance(source, Scene):
            scene = source
            if overrides:
                if scene.toml_text:
                    scene = scene_from_text(scene.toml_text, scene.source, overrides)
                else:  # a scene built in code: its fields, overridden, validated like a file's
                    from .scene.schema import apply_override

                    data = scene.model_dump(mode="json", exclude_none=True)
                    for assignment in overrides:
                        apply_override(data, assignment, scene.source)
                    scene = parse_scene(data, scene.source)
            return simulate(scene, progress=False)
        if not isinstance(source, str | Path):
            raise TypeError(f"check() takes a scene (path, shipped name or Scene) or a Record, not {type(source).__name__}")
        path = self._scene_path(source)
        if path.suffix.lower() == ".npz":
            if overrides:
                raise TypeError("overrides change a scene before it runs; check() got a record file")
            return Record.load(path)
        return simulate(load_scene(path, overrides), progress=False)

    def check(self, source: Scene | Record | str | Path, name: str | None = None, *,
              overrides: tuple[str, ...] | list[str] = (), tolerances: ComparisonTolerances | None = None,
              until_s: float | None = None, overlap: bool = False, **tolerance_overrides: float) -> Record:
        """Simulate source (a scene file, a shipped scene's name, a Scene; with ``--set``-style
        overrides) or take it (a Record, an .npz path), and compare it with the golden record
        ``name`` (default: the test's name). Returns the record checked.

        tolerances: ``issvis.record.compare.ComparisonTolerances`` (default: its defaults); single
        ones by name (``pos_tol_m=1e-3``). until_s / overlap: as ``compare_records``. Fails the
        test with the comparison's report when they differ, and when the golden did not exist
        (written, re-run); with --issvis-regen(-failed) writes the golden and passes.
        """
        from .record.compare import ComparisonTolerances, compare_records
        from .record.record import Record, RecordError

        name = golden_name(name if name is not None else self._request.node.name)
        if name in self._names:
            raise ValueError(f"check() named {name!r} twice in one test: give each check its own name=")
        self._names.add(name)
        from .core.errors import InputError

        tol = (tolerances or ComparisonTolerances()).with_overrides(**tolerance_overrides)
        try:
            record = self._record_of(source, tuple(overrides))
        except InputError as exc:  # bad input in the test (a typo'd override, a missing scene): one line
            pytest.fail(f"trajectory_regression.check: {exc}", pytrace=False)
        path = self.golden_path(name)
        written = self._request.config.stash.setdefault(_WRITTEN, _Written())
        self.last_comparison = None

        if not path.exists():
            record.save(path)
            written.lines.append(f"written {path} (it did not exist)")
            if self.regen_all or self.regen_failed:
                return record
            pytest.fail(f"golden record written: {path} (there was none); re-run to compare against it, "
                        "and commit it", pytrace=False)
        try:
            golden: Record | None = Record.load(path)
        except RecordError as exc:
            golden, unreadable = None, str(exc)
        if golden is None:
            if not (self.regen_all or self.regen_failed):
                pytest.fail(f"{unreadable}; rewrite it with --issvis-regen-failed", pytrace=False)
            record.save(path)
            written.lines.append(f"rewritten {path} (it was not readable)")
            return record
        if self.regen_all:
            if _same_content(golden, record):
                written.lines.append(f"unchanged {path}")
            else:
                record.save(path)
                written.lines.append(f"rewritten {path}")
            return record
        result = compare_records(golden, record, tol, until_s=until_s, overlap=overlap)
        self.last_comparison = result
        if result.agree:
            return record
        if self.regen_failed:
            record.save(path)
            first = result.first_divergence
            why = f"first diverged at t = {first.t_s:.3f} s in {first.group}: {first.words}" if first else result.report
            written.lines.append(f"rewritten {path} ({why.splitlines()[0]})")
            return record
        obtained = self._tmp.mktemp("issvis-obtained") / f"{name}.npz"
        record.save(obtained)
        pytest.fail(f"trajectory differs from the golden record {path}\n{result.report}\n"
                    f"this run's record: {obtained} ({compare_command(path, obtained, tol, until_s, overlap)}); "
                    "if the change is intended: pytest --issvis-regen-failed", pytrace=False)


def compare_command(golden: Path, obtained: Path, tol: ComparisonTolerances, until_s: float | None,
                    overlap: bool) -> str:
    """The ``issvis compare`` line that reproduces a check's verdict: its span and every tolerance
    that is not the command's default."""
    import shlex
    from dataclasses import fields

    from .record.compare import ComparisonTolerances

    default = ComparisonTolerances()
    words = ["issvis", "compare", str(golden), str(obtained)]
    if overlap:
        words.append("--overlap")
    if until_s is not None:
        words += ["--until", f"{float(until_s)!r}"]
    for f in fields(tol):
        value = getattr(tol, f.name)
        if value != getattr(default, f.name):
            words += [f"--{f.name.replace('_', '-')}", f"{float(value)!r}"]
    return shlex.join(words)


@pytest.fixture
def trajectory_regression(request: pytest.FixtureRequest,
                          tmp_path_factory: pytest.TempPathFactory) -> TrajectoryRegression:
    """Compare a scene's trajectory (or a record) with its golden record; see TrajectoryRegression.check."""
    return TrajectoryRegression(request, tmp_path_factory)
