"""Shared fixtures: the station's generated assets and records of the shipped scenes, each made
once per test session (the asset generator takes seconds; so does a full-length scene)."""

from __future__ import annotations

from pathlib import Path
from types import MappingProxyType

import pytest

from issvis.physics.simulation import simulate
from issvis.scene.schema import load_scene

ROOT = Path(__file__).resolve().parent.parent
SCENES = ROOT / "scenes"

#: Printed in the pytest header, so that a failure report says what it ran against.
REPORTED_PACKAGES = ("numpy", "pybullet", "trimesh", "pydantic", "click", "pyvista", "vtk", "imageio",
                     "imageio-ffmpeg", "pillow", "matplotlib", "dask", "distributed", "pymsis", "pyarrow")

#: The default scene as free bodies (no CMGs, no thrusters, no burn): the pure orbital mechanics.
FREE = ("control.cmg.mode=off", "control.jets.mode=off", "jet_burn=[]")


def pytest_report_header(config):
    from importlib import metadata

    def version(name: str) -> str:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return "not installed"

    return "issvis dependencies: " + ", ".join(f"{name} {version(name)}" for name in REPORTED_PACKAGES)


@pytest.fixture(scope="session")
def generated_assets():
    """Every file of assets/ as the generator makes it now ({relative path: bytes}, read-only):
    what the committed assets/ must equal. Generated once (about 4 s) for every test that needs it."""
    from issvis.build.writer import asset_files

    return MappingProxyType(asset_files())


@pytest.fixture()
def generator_with_session_assets(monkeypatch, generated_assets):
    """Make ``write_assets`` (and so ``issvis assets``) write the session's generated files instead of
    running the generator again: the tests that use it check the writing, the generator's output
    is checked against the committed files by test_assets."""
    from issvis.build import writer

    def session_files(station=None):
        assert station is None, "the session's files are those of the catalogue's own station"
        return dict(generated_assets)

    monkeypatch.setattr(writer, "asset_files", session_files)
    return generated_assets


@pytest.fixture(scope="session")
def undock_record():
    """The default scene in full (1800 s; about a second of physics)."""
    return simulate(load_scene(SCENES / "undock.toml"), progress=False)


@pytest.fixture(scope="session")
def free_undock_record():
    """The default scene in full without its attitude control (springs and gravity only), 1800 s."""
    return simulate(load_scene(SCENES / "undock.toml", list(FREE)), progress=False)


@pytest.fixture(scope="session")
def undock_300_record():
    """The default scene shortened to 300 s: the separation at 20 s and its aftermath."""
    return simulate(load_scene(SCENES / "undock.toml", ["scene.duration_s=300"]), progress=False)


@pytest.fixture(scope="session")
def undock_300_path(undock_300_record, tmp_path_factory):
    """``undock_300_record`` as a record file (read-only by convention: tests copy it to change it)."""
    path = tmp_path_factory.mktemp("rec") / "undock300.npz"
    undock_300_record.save(path)
    return path


@pytest.fixture(scope="session")
def contact_record():
    """The misaligned push that ends in contact."""
    return simulate(load_scene(SCENES / "misaligned_contact.toml"), progress=False)


@pytest.fixture()
def in_repo(monkeypatch):
    """Run a test from the repository root (the CLI's defaults are relative paths)."""
    monkeypatch.chdir(ROOT)
    return ROOT
