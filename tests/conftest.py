"""Shared fixtures: records of the shipped scenes, simulated once per test session."""

from __future__ import annotations

from pathlib import Path

import pytest

from issvis.scene import load_scene
from issvis.simulation import simulate

ROOT = Path(__file__).resolve().parent.parent
SCENES = ROOT / "scenes"


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
