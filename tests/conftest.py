"""Shared fixtures: records of the shipped scenes, simulated once per test session."""

from __future__ import annotations

from pathlib import Path

import pytest

from issvis.physics.simulation import simulate
from issvis.scene.schema import load_scene

ROOT = Path(__file__).resolve().parent.parent
SCENES = ROOT / "scenes"

#: Printed in the pytest header, so that a failure report says what it ran against.
REPORTED_PACKAGES = ("numpy", "pybullet", "trimesh", "pydantic", "click", "pyvista", "vtk", "imageio",
                     "imageio-ffmpeg", "pillow", "matplotlib", "dask", "distributed", "pymsis", "pyarrow")


def pytest_report_header(config):
    from importlib import metadata

    def version(name: str) -> str:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return "not installed"

    return "issvis dependencies: " + ", ".join(f"{name} {version(name)}" for name in REPORTED_PACKAGES)


@pytest.fixture(scope="session")
def undock_record():
    """The default scene in full (1800 s; about a second of physics)."""
    return simulate(load_scene(SCENES / "undock.toml"), progress=False)


@pytest.fixture(scope="session")
def contact_record():
    """The misaligned push that ends in contact."""
    return simulate(load_scene(SCENES / "misaligned_contact.toml"), progress=False)


@pytest.fixture()
def in_repo(monkeypatch):
    """Run a test from the repository root (the CLI's defaults are relative paths)."""
    monkeypatch.chdir(ROOT)
    return ROOT
