"""Jet plumes in the pictures: shown exactly while the record says their jets fire."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("pyvista")

from issvis.physics.simulation import simulate
from issvis.pictures import plumes
from issvis.scene.schema import load_scene

from .conftest import SCENES


@pytest.fixture(scope="module")
def record():
    """The default scene's first 150 s: the ROS attitude hold and the separation burn."""
    return simulate(load_scene(SCENES / "undock.toml", ["scene.duration_s=150"]), progress=False)


@pytest.fixture()
def plotter():
    """The renderer's own offscreen plotter (EGL asked for only while it is made: a bare
    ``pv.Plotter(off_screen=True)`` would keep later X windows in this process from opening)."""
    from issvis.pictures.video import make_plotter

    p = make_plotter(64, 48)
    yield p
    p.close()


def test_plume_actors_are_visible_exactly_while_their_jets_fire(record, plotter):
    pulses = record.extra["jet_pulses"]
    assert len(pulses) > 3, "the scene's jets must fire for this test to mean anything"
    jets = plumes.JetPlumes(plotter, record)
    assert len(jets.actors) == len(record.extra["jet_names"])
    # probe every pulse's inside, its edges, and times between pulses
    times = sorted({*pulses[:, 1], *(pulses[:, 1] + pulses[:, 2]) / 2, *pulses[:, 2], 0.0, 10.0, 59.9, 149.9})
    for t in times:
        jets.update(t)
        expected = np.zeros(len(jets.actors), bool)
        for j, t_on, t_off in pulses:
            if t_on <= t < t_off:
                expected[int(j)] = True
        assert np.array_equal(jets.visible(), expected), t
    # the separation burn: Zvezda's four aft-thrusting jets, plumes pointing forward (+X, at the US segment)
    jets.update(65.0)
    shown = np.flatnonzero(jets.visible())
    names = [str(record.extra["jet_names"][k]) for k in shown]
    assert sum(n.endswith(".aft") for n in names) == 4


def test_a_plume_sits_on_its_jet_and_points_along_the_exhaust(record, plotter):
    jets = plumes.JetPlumes(plotter, record)
    jets.update(65.0)
    k = int(np.flatnonzero(jets.visible())[0])
    i = jets.part_index[k]
    pos, quat = record.pose_at(65.0)
    from issvis.core.frames import quat_to_matrix

    rot = quat_to_matrix(quat[i])
    m = np.asarray(jets.actors[k].user_matrix)
    nozzle = pos[i] + rot @ record.extra["jet_pos_local_m"][k]
    assert np.allclose(m[:3, 3], nozzle, atol=1e-9)
    assert np.allclose(m[:3, 2], rot @ record.extra["jet_dir_local"][k], atol=1e-9)


def test_a_record_without_jets_draws_nothing(plotter):
    record = simulate(load_scene(SCENES / "russian_only.toml", ["scene.duration_s=25"]), progress=False)
    jets = plumes.JetPlumes(plotter, record)
    jets.update(5.0)
    assert jets.actors == []


def test_short_pulses_can_be_held_on_screen_longer():
    class Fake:
        extra = {"jet_pos_local_m": np.zeros((2, 3)), "jet_pulses": np.array([[1.0, 10.0, 10.5]])}

    assert plumes.firing_at(Fake, 10.2).tolist() == [False, True]
    assert plumes.firing_at(Fake, 10.7).tolist() == [False, False]
    assert plumes.firing_at(Fake, 10.7, min_visible_s=2.0).tolist() == [False, True]
