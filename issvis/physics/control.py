"""Attitude control: the US segment's control moment gyroscopes and the Russian segment's jets.

numpy only (the physics layer; ``simulation.py`` wires these into the pybullet loop as force
providers). Frames: *inertial* is the simulation's local inertial frame (= LVLH at t = 0);
*body* is a rigid body's principal frame; rotations ``R`` map body to inertial. See
``docs/control.md`` for the laws, the figures and their sources.

The hardware (the CMGs' capacity and torque limit, the jets' places, thrust and Isp, with their
sources) is the station's: ``issvis/station/actuators.py``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..core.frames import rotation_from_rotvec, rotvec
from ..station.actuators import CMG_CAPACITY_NMS, CMG_TORQUE_LIMIT_NM


# --- the torque-equilibrium attitude ---------------------------------------------------------
def lvlh_hold_torque_nm(inertia_lvlh: np.ndarray, n: float, extra_torque_lvlh_nm: np.ndarray | None = None) -> np.ndarray:
    """Torque (3,) LVLH axes, N m, that actuators must give a rigid body to keep it fixed in LVLH.

    Fixed in LVLH, the body turns at n about the orbit normal z, so its angular momentum I n z
    turns too: d/dt = n z x (I n z). Gravity gradient gives 3 n^2 x x (I x) (x: radial), plus any
    other external torque; the actuators supply the difference. Constant in LVLH: its orbit-normal
    component piles up in a momentum store, the in-plane components cycle once per orbit.
    """
    z = np.array([0.0, 0.0, 1.0])
    x = np.array([1.0, 0.0, 0.0])
    needed = n * n * np.cross(z, inertia_lvlh @ z) - 3.0 * n * n * np.cross(x, inertia_lvlh @ x)
    if extra_torque_lvlh_nm is not None:
        needed = needed - extra_torque_lvlh_nm
    return needed


def torque_equilibrium_attitude(inertia_body: np.ndarray, n: float, rot0: np.ndarray,
                                extra_torque_lvlh_nm: np.ndarray | None = None, iterations: int = 30) -> np.ndarray:
    """The attitude (body -> LVLH rotation) near ``rot0`` where the hold torque is zero.

    Newton's method on the three components of :func:`lvlh_hold_torque_nm` over a small rotation
    of the body, with a finite-difference Jacobian. With gravity gradient alone the answer is the
    attitude whose principal axes lie on the LVLH axes nearest ``rot0`` (every such attitude is a
    relative equilibrium; the unstable ones need the controller to stay there, at no momentum).
    """
    rot = np.asarray(rot0, float).copy()

    def residual(r: np.ndarray) -> np.ndarray:
        return lvlh_hold_torque_nm(r @ inertia_body @ r.T, n, extra_torque_lvlh_nm)

    scale = max(1.0, float(np.abs(inertia_body).max()) * n * n)
    for _ in range(iterations):
        f = residual(rot)
        if np.linalg.norm(f) < 1e-9 * scale:
            break
        jac = np.empty((3, 3))
        h = 1e-6
        for k in range(3):
            e = np.zeros(3)
            e[k] = h
            jac[:, k] = (residual(rotation_from_rotvec(e) @ rot) - f) / h
        step = np.linalg.lstsq(jac, -f, rcond=None)[0]
        if np.linalg.norm(step) > 0.1:  # at most ~6 deg per iteration
            step *= 0.1 / np.linalg.norm(step)
        rot = rotation_from_rotvec(step) @ rot
    return rot


# --- CMGs ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class CmgLaw:
    """The CMG hold law: PD on the attitude error from a reference (TEA or fixed).

    u = -I (w_c^2 e + 2 zeta w_c de/dt), limited to ``torque_limit_nm``; e is the rotation vector
    from the reference to the body, de/dt the angular velocity relative to the reference (which
    turns with LVLH). The CMGs' stored momentum h changes by -u dt (internal torque).
    """

    bandwidth_rad_s: float = 0.005
    damping_ratio: float = 0.9
    torque_limit_nm: float = CMG_TORQUE_LIMIT_NM
    capacity_nms: float = CMG_CAPACITY_NMS

    def torque(self, inertia_world: np.ndarray, error_rad: np.ndarray, rate_error_rad_s: np.ndarray) -> np.ndarray:
        wc = self.bandwidth_rad_s
        u = -inertia_world @ (wc * wc * error_rad + 2.0 * self.damping_ratio * wc * rate_error_rad_s)
        size = float(np.linalg.norm(u))
        if size > self.torque_limit_nm:
            u *= self.torque_limit_nm / size
        return u


def reference_toward(current: np.ndarray, goal: np.ndarray, max_angle_rad: float) -> np.ndarray:
    """A rotation from ``current`` toward ``goal`` (both body -> LVLH), turned at most max_angle_rad."""
    delta = rotvec(goal @ current.T)
    angle = float(np.linalg.norm(delta))
    if angle <= max_angle_rad:
        return goal.copy()
    return rotation_from_rotvec(delta * (max_angle_rad / angle)) @ current


# --- jets --------------------------------------------------------------------------------------
@dataclass
class PhasePlane:
    """Per-axis on/off jet logic with a deadband (the classic phase-plane switching law).

    Switching value s = e + tau * de/dt per body axis (rad). Fire to push s back when |s| exceeds
    the deadband; keep firing until |s| is below ``release`` of the deadband (hysteresis, so the
    jets pulse rather than chatter). A rate above ``max_rate_rad_s`` is always damped.
    """

    deadband_rad: float
    rate_gain_s: float
    max_rate_rad_s: float
    release: float = 0.3
    firing: np.ndarray | None = None  # (3,) -1, 0, +1: the torque sign each axis asks for

    def command(self, error_rad: np.ndarray, rate_rad_s: np.ndarray) -> np.ndarray:
        if self.firing is None:
            self.firing = np.zeros(3)
        s = error_rad + self.rate_gain_s * rate_rad_s
        out = np.zeros(3)
        for k in range(3):
            if abs(s[k]) > self.deadband_rad or abs(rate_rad_s[k]) > self.max_rate_rad_s:
                out[k] = -math.copysign(1.0, s[k] if abs(s[k]) > self.deadband_rad else rate_rad_s[k])
            elif self.firing[k] != 0 and -self.firing[k] * s[k] > self.release * self.deadband_rad:
                out[k] = self.firing[k]  # keep going until s is well inside the band
        self.firing = out
        return out


JET_TIE_REL = 1e-9  # torques this close (relative) are a tie between jet sets


def attitude_jet_table(torques_body: np.ndarray, purity: float = 0.9) -> dict[tuple[int, int], list[int]]:
    """For each body axis and sign, the jets to fire: the single jet or pair of jets whose summed
    torque (from (J, 3), N m, body frame) lies along that axis within ``purity`` and is largest.

    Pairs matter: a roll jet alone on a long vehicle mostly pitches it; two on opposite sides
    make a pure roll couple.
    """
    n_jets = len(torques_body)
    i, j = np.triu_indices(n_jets, 1)
    sets = [(int(a),) for a in range(n_jets)] + [(int(a), int(b)) for a, b in zip(i, j)]
    total = np.concatenate([torques_body, torques_body[i] + torques_body[j]]) if n_jets else np.zeros((0, 3))
    size = np.linalg.norm(total, axis=1)
    table: dict[tuple[int, int], list[int]] = {}
    for axis in range(3):
        for sign in (-1, 1):
            along = sign * total[:, axis]
            ok = np.flatnonzero((along > 1e-9) & (along >= purity * size))
            if not len(ok):
                table[(axis, sign)] = []
                continue
            # symmetric jets tie: the first of the sets within JET_TIE_REL of the largest, so that which one
            # is chosen does not hang on the last bits of the torques (on the default scene's Russian segment
            # two pairs tie, and the machine's BLAS kernel picked one or the other)
            best = float(along[ok].max())
            table[(axis, sign)] = list(sets[int(ok[np.flatnonzero(along[ok] >= best * (1.0 - JET_TIE_REL))[0]])])
    return table


def select_burn_jets(dirs_body: np.ndarray, direction_body: np.ndarray, groups: list[str],
                     cone_deg: float = 15.0) -> list[int]:
    """Jets whose thrust lies within ``cone_deg`` of the wanted direction (main engines if any)."""
    d = np.asarray(direction_body, float) / np.linalg.norm(direction_body)
    ok = [j for j in range(len(dirs_body)) if float(dirs_body[j] @ d) >= math.cos(math.radians(cone_deg))]
    mains = [j for j in ok if groups[j] == "main"]
    return mains or ok
