"""The physics against analytic results and invariants (conventions.md, "Physics model")."""

from __future__ import annotations

import math

import numpy as np
import pytest

from issvis.core.frames import (
    cw_state,
    gravity_gradient_torque,
    inertial_to_lvlh,
    lvlh_to_inertial,
    mean_motion_rad_s,
    quat_to_matrix,
    tidal_acceleration,
)
from issvis.scene.schema import load_scene
from issvis.physics.simulation import _gravity, simulate
from issvis.core.tolerances import TOLERANCES as TOL

from .conftest import FREE, SCENES

# Vallado, Fundamentals of Astrodynamics, Example 6-14 (iss-facts.md section 7): target circular
# at 590 km, chaser at the origin with v0 = (-0.1, -0.04, -0.02) m/s.
VALLADO_V0 = (-0.1, -0.04, -0.02)
VALLADO = {
    300.0: (-33.3457, -1.4736, -5.8945),
    1200.0: (-143.0007, 137.2792, -17.7670),
}


@pytest.fixture(scope="module")
def vallado_record():
    """The whole station as one free body, started with Vallado's velocities."""
    scene = load_scene(SCENES / "undock.toml", [*FREE,
        "separation=[]", "orbit.altitude_m=590000", "scene.duration_s=1200",
        f"station.velocity_lvlh_mps=[{VALLADO_V0[0]}, {VALLADO_V0[1]}, {VALLADO_V0[2]}]"])
    return simulate(scene, progress=False)


@pytest.mark.parametrize("t_s", sorted(VALLADO))
def test_free_body_ends_where_vallado_example_6_14_says(vallado_record, t_s):
    k = int(np.flatnonzero(np.isclose(vallado_record.t, t_s))[0])
    com = vallado_record.system_com()[k]
    assert np.linalg.norm(com - np.array(VALLADO[t_s])) < TOL.cw_reference_m


def test_cw_closed_form_matches_the_reference_table():
    n = mean_motion_rad_s(590_000.0)
    for t_s, expected in VALLADO.items():
        pos, _ = cw_state(n, t_s, np.zeros(3), np.array(VALLADO_V0))
        assert np.linalg.norm(pos - expected) < 1e-3


def test_cw_closed_form_matches_the_iss_scale_illustration():
    """iss-facts.md: pushed off with ydot0 = -0.1 m/s at 418.31 km -> (0, +1672.8) m after one orbit."""
    n = mean_motion_rad_s(418_310.0)
    period = 2 * math.pi / n
    pos, _ = cw_state(n, period, np.zeros(3), np.array([0.0, -0.1, 0.0]))
    assert abs(pos[0]) < 0.05 and abs(pos[1] - 1672.8) < 0.1
    pos, _ = cw_state(n, 600.0, np.zeros(3), np.array([0.0, -0.1, 0.0]))
    assert np.allclose(pos[:2], (-39.0, -42.1), atol=0.05)


def test_system_centre_of_mass_stays_on_its_cw_path_through_the_separation(free_undock_record):
    # The station starts at rest at the LVLH origin, which is its CW path: it must stay there.
    drift = np.linalg.norm(free_undock_record.system_com(), axis=1)
    assert drift.max() < TOL.system_com_m


def test_system_centre_of_mass_stays_put_through_contacts(contact_record):
    assert contact_record.events_of("contact_start"), "the scene is meant to end in contact"
    drift = np.linalg.norm(contact_record.system_com(), axis=1)
    assert drift.max() < TOL.system_com_m


def test_each_side_follows_the_cw_closed_form_after_the_push(free_undock_record):
    rec = free_undock_record
    n = rec.meta["orbit"]["mean_motion_rad_s"]
    push_end = rec.events_of("pusher_end")[0]["t"]
    start = int(np.searchsorted(rec.t, push_end + 1.0))
    for mask in rec.separation_sides():
        pos, vel = rec.group_com(mask)
        predicted, _ = cw_state(n, rec.t[start:] - rec.t[start], pos[start], vel[start])
        travelled = np.linalg.norm(pos[-1] - pos[start])
        error = np.linalg.norm(predicted - pos[start:], axis=1).max()
        assert travelled > 10.0
        assert error < TOL.segment_cw_fraction * travelled, (error, travelled)


def test_separation_speed_is_impulse_over_reduced_mass(free_undock_record):
    rec = free_undock_record
    end = rec.events_of("pusher_end")[0]
    k = int(np.searchsorted(rec.t, end["t"] + 0.5))
    child, parent = rec.separation_sides()
    _, v_child = rec.group_com(child)
    _, v_parent = rec.group_com(parent)
    measured = np.linalg.norm(v_child[k] - v_parent[k])
    expected = end["impulse_ns"] / end["reduced_mass_kg"]
    assert expected == pytest.approx(0.1, rel=1e-9)  # the scene asks for 0.1 m/s
    assert measured == pytest.approx(expected, rel=TOL.separation_speed_fraction)


def test_reduced_mass_is_that_of_the_two_sides(free_undock_record):
    sep = free_undock_record.events_of("separation")[0]
    m1, m2 = sep["child_mass_kg"], sep["parent_mass_kg"]
    assert m1 == pytest.approx(93_111.0) and m1 + m2 == pytest.approx(419_725.0)
    assert sep["reduced_mass_kg"] == pytest.approx(m1 * m2 / (m1 + m2))


def _max_internal_drift(rec) -> float:
    """Largest change of any distance between two parts of the same rigid body."""
    body = rec.extra["body_index"]
    worst = 0.0
    for k in range(len(rec.t)):
        for label in np.unique(body[k]):
            members = np.flatnonzero(body[k] == label)
            if len(members) < 2:
                continue
            d_now = np.linalg.norm(rec.pos[k, members, None] - rec.pos[k, None, members], axis=2)
            d_start = np.linalg.norm(rec.pos[0, members, None] - rec.pos[0, None, members], axis=2)
            worst = max(worst, float(np.abs(d_now - d_start).max()))
    return worst


def test_docked_parts_do_not_drift(free_undock_record, contact_record):
    assert _max_internal_drift(free_undock_record) < TOL.docked_drift_m
    assert _max_internal_drift(contact_record) < TOL.docked_drift_m


def test_opening_an_interface_creates_no_momentum(free_undock_record):
    rec = free_undock_record
    sep_t = rec.events_of("separation")[0]["t"]
    k_before = int(np.flatnonzero(rec.t < sep_t)[-1])
    k_at = int(np.flatnonzero(np.isclose(rec.t, sep_t))[0])
    momentum = np.einsum("tbi,b->ti", rec.vel, rec.mass)
    # in LVLH the station at rest holds zero momentum; the push is internal
    assert np.abs(momentum[[k_before, k_at, -1]]).max() < 1e-6 * rec.mass.sum() * 0.1


def test_the_record_is_deterministic():
    scene = load_scene(SCENES / "misaligned_contact.toml", ["scene.duration_s=300"])
    a, b = simulate(scene, progress=False), simulate(scene, progress=False)
    for key in ("t", "pos", "quat", "vel"):
        assert np.array_equal(getattr(a, key), getattr(b, key)), key
    assert np.array_equal(a.extra["clearance_m"], b.extra["clearance_m"], equal_nan=True)
    assert a.events == b.events


def test_states_are_finite(free_undock_record, contact_record):
    for rec in (free_undock_record, contact_record):
        for array in (rec.pos, rec.quat, rec.vel):
            assert np.all(np.isfinite(array))
        assert np.allclose(np.linalg.norm(rec.quat, axis=2), 1.0, atol=1e-9)


def test_station_holds_its_lvlh_attitude_before_separation(free_undock_record):
    rec = free_undock_record
    k = int(np.flatnonzero(rec.t < 20.0)[-1])
    rotation = quat_to_matrix(rec.quat[k, 0])
    # +XVV: station +X (column 0) along the velocity (+y LVLH)
    assert np.dot(rotation[:, 0], [0, 1, 0]) > math.cos(math.radians(0.05))


def test_contact_is_recorded_with_parts_and_clearance_zero(contact_record):
    rec = contact_record
    first = rec.events_of("contact_start")[0]
    assert {"nauka", "p3_p4"} == set(first["parts"])
    assert "wing 4A" in first["elements"]
    k = int(np.argmin(np.abs(rec.t - first["t"])))
    assert rec.extra["clearance_m"][k] < 0.05


def test_the_fast_gravity_path_equals_the_reference_formulas():
    rng = np.random.default_rng(7)
    n = mean_motion_rad_s(418_310.0)
    for _ in range(20):
        pos = rng.normal(scale=100.0, size=3)
        q = rng.normal(size=4)
        q /= np.linalg.norm(q)
        inertia = rng.uniform(1e6, 1e8, size=3)
        t = rng.uniform(0, 6000)
        force, torque = _gravity(1000.0, tuple(inertia), tuple(pos), tuple(q), math.cos(n * t), math.sin(n * t), n * n)
        rot = quat_to_matrix(q)
        assert np.allclose(force, 1000.0 * tidal_acceleration(n, t, pos), rtol=1e-12, atol=1e-15)
        assert np.allclose(torque, gravity_gradient_torque(n, t, rot @ np.diag(inertia) @ rot.T), rtol=1e-9, atol=1e-12)


def test_lvlh_and_inertial_conversions_are_inverse():
    n = mean_motion_rad_s(418_310.0)
    r, v = np.array([10.0, -20.0, 3.0]), np.array([0.1, 0.2, -0.3])
    r_in, v_in = lvlh_to_inertial(n, 1234.5, r, v)
    r_back, v_back = inertial_to_lvlh(n, 1234.5, r_in, v_in)
    assert np.allclose(r_back, r) and np.allclose(v_back, v)


def test_quaternion_angle_is_the_rotation_angle_even_for_tiny_angles():
    from issvis.core.frames import axis_angle_quat, quat_angle_rad

    identity = np.array([0.0, 0.0, 0.0, 1.0])
    for angle in (1e-9, 1e-4, 0.7, 3.0):
        q = axis_angle_quat(np.array([1.0, 2.0, 3.0]), angle)
        assert quat_angle_rad(identity, q) == pytest.approx(angle, rel=1e-9)
        assert quat_angle_rad(identity, -q) == pytest.approx(angle, rel=1e-9)  # q and -q are one rotation


def _rate_deg_s(rec, part: str, t0: float, t1: float) -> np.ndarray:
    """Mean angular velocity (3,) of a part between two times, deg/s, LVLH axes."""
    from issvis.core.frames import quat_multiply

    i = int(np.flatnonzero(rec.names == part)[0])
    q0, q1 = rec.pose_at(t0)[1][i], rec.pose_at(t1)[1][i]
    turn = quat_multiply(q1, q0 * np.array([-1.0, -1.0, -1.0, 1.0]))  # q1 * q0^-1, xyzw
    turn = turn if turn[3] >= 0 else -turn
    vector = turn[:3]
    angle = 2.0 * math.atan2(np.linalg.norm(vector), turn[3])
    return np.degrees(vector / np.linalg.norm(vector) * angle / (t1 - t0))


def test_tip_off_adds_the_asked_rate_and_no_linear_momentum():
    plain = simulate(load_scene(SCENES / "undock.toml", [*FREE, "scene.duration_s=40"]), progress=False)
    tipped = simulate(load_scene(SCENES / "undock.toml", [*FREE, "scene.duration_s=40", "separation.0.tip_off_deg_s=0.5",
                                                          "separation.0.tip_off_azimuth_deg=90"]), progress=False)
    added = _rate_deg_s(tipped, "zarya", 30.0, 40.0) - _rate_deg_s(plain, "zarya", 30.0, 40.0)
    assert np.linalg.norm(added) == pytest.approx(0.5, rel=0.02)
    # the push axis is station -X (LVLH -y): the tip-off turns about an axis across it
    assert abs(added[1]) < 0.01
    assert np.linalg.norm(tipped.system_com(), axis=1).max() < TOL.system_com_m


def test_a_push_given_as_force_gives_the_speed_that_force_and_stroke_imply():
    record = simulate(load_scene(SCENES / "undock.toml", [*FREE,
        "scene.duration_s=30", "separation.0={interface='zarya/pma1', t_s=20.0, force_n=500.0, stroke_m=0.1}"]),
        progress=False)
    end = record.events_of("pusher_end")[0]
    mu = end["reduced_mass_kg"]
    assert end["delta_v_mps"] == pytest.approx(math.sqrt(2 * 500.0 * 0.1 / mu), rel=1e-12)
    start = record.events_of("pusher_start")[0]
    assert start["force_n"] == pytest.approx(500.0, rel=1e-12)


def test_attitude_offsets_are_right_handed_rotations():
    from issvis.core.frames import body_to_lvlh

    base = body_to_lvlh("+XVV")
    for k, axis in enumerate(np.eye(3)):  # yaw about body Z, pitch about body Y, roll about body X
        ypr = [0.0, 0.0, 0.0]
        ypr[2 - k] = 10.0
        turned = base.T @ body_to_lvlh("+XVV", tuple(ypr))  # the offset in body axes
        c, s = math.cos(math.radians(10.0)), math.sin(math.radians(10.0))
        other = (k + 1) % 3
        expected = np.zeros(3)
        expected[other], expected[(k + 2) % 3] = c, s  # axis x other-axis rotates towards the third
        assert np.allclose(turned[:, other], expected), (k, turned)
        assert np.allclose(turned @ axis, axis)


def test_a_burn_gives_the_system_its_impulse_and_nothing_else_does():
    rec = simulate(load_scene(SCENES / "soyuz_departure.toml", ["scene.duration_s=260"]), progress=False)
    start, end = rec.events_of("burn_start")[0], rec.events_of("burn_end")[0]
    momentum = np.einsum("tbi,b->ti", rec.vel, rec.mass)  # LVLH, kg m/s
    k0 = int(np.flatnonzero(rec.t <= start["t"])[-1])
    k1 = int(np.flatnonzero(rec.t >= end["t"])[0])
    impulse = end["impulse_ns"]
    assert impulse == pytest.approx(300.0 * 12.0)
    gained = np.linalg.norm(momentum[k1] - momentum[k0])
    assert gained == pytest.approx(impulse, rel=0.01)
    # before the burn, springs only: the system's centre of mass has not moved
    assert np.linalg.norm(rec.system_com()[k0]) < TOL.system_com_m


def _momentum_residual_nms(record) -> np.ndarray:
    """(T,) |L(t) - L(0) - external angular impulse|, N m s, about the LVLH origin (inertial axes)."""
    momentum = record.extra["angular_momentum_nms"]
    external = record.extra["external_angular_impulse_nms"]
    return np.linalg.norm(momentum - momentum[0] - external, axis=1)


def test_the_spring_push_makes_no_angular_momentum():
    """Issue 10: the pusher pair acted at two material points up to 0.12 m apart and made 80 N m s."""
    from issvis.physics.simulation import Simulator

    record = Simulator(load_scene(SCENES / "undock.toml", [*FREE, "scene.duration_s=30"]), progress=False,
                       track_momentum=True).run()
    residual = _momentum_residual_nms(record)
    assert record.events_of("pusher_end"), "the push must be over"
    assert residual.max() < TOL.internal_pair_angular_momentum_nms, residual.max()


@pytest.mark.slow
def test_collisions_wait_until_the_sides_are_clear_without_a_push():
    """Issue 10: with delta_v 0 the collar sat 5 cm inside PMA-1 when collisions switched on
    (184 s) and the contact changed the angular momentum by 35 N m s. Now collisions wait until
    the sides are clear (411 s); the sides then swing into a real contact (from 411.5 s)."""
    from issvis.physics.simulation import Simulator

    record = Simulator(load_scene(SCENES / "undock.toml", [*FREE, "scene.duration_s=430", "separation.0.delta_v_mps=0"]),
                       progress=False, track_momentum=True).run()
    assert record.events_of("collisions_enabled") and record.events_of("contact_start")
    for event in record.events_of("contact_start"):
        assert event["depth_m"] > -0.01, event  # no contact starts deep inside
    assert _momentum_residual_nms(record).max() < TOL.contact_angular_momentum_nms


def test_the_record_names_the_station_it_was_simulated_with(free_undock_record):
    from issvis.station.assets import load_station_assets

    assert free_undock_record.meta["station_hash"] == load_station_assets(visuals=False).station_hash
