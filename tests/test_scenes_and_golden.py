"""Every scene is a test: each shipped scene runs, and matches its golden record.

The golden records (tests/golden/*.npz) are checked, and rewritten, by issvis's own pytest plugin:
after an intended change of the physics, a scene or the station,

    pytest tests/test_scenes_and_golden.py --issvis-regen

and say so in the commit.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from issvis.physics.simulation import simulate
from issvis.record.compare import GOLDEN_TOLERANCES, compare_records
from issvis.record.record import Record
from issvis.scene.schema import load_scene

from .conftest import ROOT, SCENES

GOLDEN = ROOT / "tests" / "golden"

#: Long enough to include every event of each scene (the contact starts at ~265 s).
GOLDEN_DURATION_S = {
    "undock": 300.0,
    "russian_only": 300.0,
    "soyuz_departure": 300.0,
    "misaligned_contact": 400.0,
    "cmg_saturation": 300.0,  # the CMGs saturate at ~240 s
}


def golden_overrides(name: str) -> list[str]:
    return [f"scene.duration_s={GOLDEN_DURATION_S[name]}"]


def test_every_shipped_scene_has_a_golden_record():
    assert sorted(p.stem for p in SCENES.glob("*.toml")) == sorted(GOLDEN_DURATION_S)
    assert sorted(p.stem for p in GOLDEN.glob("*.npz")) == sorted(GOLDEN_DURATION_S)


@pytest.mark.parametrize("name", sorted(GOLDEN_DURATION_S))
def test_scene_runs_and_matches_its_golden_record(name, trajectory_regression):
    record = trajectory_regression.check(SCENES / f"{name}.toml", name, overrides=golden_overrides(name),
                                         tolerances=GOLDEN_TOLERANCES)
    assert trajectory_regression.golden_dir == GOLDEN
    # every scene opens something, and the two sides end up apart
    dist, _ = record.separation_distance()
    assert dist[-1] > dist[0] + 1.0


def test_a_changed_scene_is_caught_by_the_golden_comparison_when_it_starts_to_matter():
    """The push 0.001 % stronger (0.100001 m/s instead of 0.1): the run is the golden's until the
    springs push at t = 20 s, and must differ from then on."""
    scene = load_scene(SCENES / "undock.toml", [*golden_overrides("undock"), "separation.0.delta_v_mps=0.100001"])
    record = simulate(scene, progress=False)
    assert "delta_v_mps = 0.100001" in record.meta["scene"]  # the scene did change
    golden = Record.load(GOLDEN / "undock.npz")
    result = compare_records(golden, record, GOLDEN_TOLERANCES)
    assert not result.agree
    push = golden.events_of("pusher_start")[0]["t"]
    pushed = golden.events_of("pusher_end")[0]["t"]
    assert push <= result.first_divergence.t_s <= pushed
    assert result.group("ROS").first.t_s >= push and result.group("USOS").first.t_s >= push
    # before the push both runs are the same to rounding (measured: 8e-14 m)
    before = golden.t < push
    assert np.abs(golden.pos[before] - record.pos[before]).max() < 1e-3 * GOLDEN_TOLERANCES.pos_tol_m


def test_a_planted_divergence_is_found_at_the_right_time_in_the_right_group():
    """A copy of the golden record with the Russian segment's parts 5 cm off from t = 120 s on:
    reported as first diverging at 120 s (within one sample), in ROS, by 5 cm, and nowhere else."""
    golden = Record.load(GOLDEN / "undock.npz")
    ros = golden.segment == "ROS"
    pos = golden.pos.copy()
    pos[np.ix_(golden.t >= 120.0, ros)] += np.array([0.0, 0.03, 0.04])  # 5 cm
    planted = dataclasses.replace(golden, pos=pos)
    result = compare_records(golden, planted)
    first_sample_from_120 = golden.t[golden.t >= 120.0][0]
    assert not result.agree
    assert result.first_divergence.t_s == first_sample_from_120
    assert first_sample_from_120 - 120.0 <= np.diff(golden.t).max()
    assert result.first_divergence.group == "ROS" and result.first_divergence.quantity == "pos_tol_m"
    assert result.first_divergence.difference == pytest.approx(0.05)
    assert not result.group("ROS").agree and result.group("USOS").agree
    assert [g.name for g in result.groups if not g.agree] == ["ROS"]
    assert "first divergence at t = 120.000 s in ROS: position of" in result.report
