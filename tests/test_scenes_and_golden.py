"""Every scene is a test: each shipped scene runs, and matches its golden record."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from issvis.core.tolerances import TOLERANCES as TOL
from issvis.physics.simulation import simulate
from issvis.record.compare import assert_trajectories_match
from issvis.record.record import Record

from .conftest import ROOT, SCENES

_spec = importlib.util.spec_from_file_location("make_golden", ROOT / "tests" / "golden" / "make_golden.py")
make_golden = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(make_golden)


def test_every_scene_has_a_golden_record():
    assert sorted(p.stem for p in SCENES.glob("*.toml")) == sorted(make_golden.GOLDEN_DURATION_S)


@pytest.mark.parametrize("name", sorted(make_golden.GOLDEN_DURATION_S))
def test_scene_runs_and_matches_its_golden_record(name):
    record = simulate(make_golden.golden_scene(name), progress=False)
    golden = Record.load(ROOT / "tests" / "golden" / f"{name}.npz")
    assert_trajectories_match(golden, record, pos_tol_m=TOL.golden_pos_m, ang_tol_deg=TOL.golden_ang_deg)
    assert [e["kind"] for e in record.events] == [e["kind"] for e in golden.events]
    # every scene opens something, and the two sides end up apart
    dist, _ = record.separation_distance()
    assert dist[-1] > dist[0] + 1.0


def test_a_changed_scene_is_caught_by_the_golden_comparison():
    record = simulate(make_golden.golden_scene("undock").model_copy(update={}), progress=False)
    shifted = Record(record.t, record.names, record.segment, record.mass, record.pos + np.array([0.0, 0.0, 2e-6]),
                     record.quat, record.vel, record.events, record.meta)
    golden = Record.load(ROOT / "tests" / "golden" / "undock.npz")
    with pytest.raises(AssertionError, match="DIFFER"):
        assert_trajectories_match(golden, shifted, pos_tol_m=TOL.golden_pos_m, ang_tol_deg=TOL.golden_ang_deg)
