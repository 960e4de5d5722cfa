"""Attitude control: the US segment's control moment gyroscopes and the Russian segment's jets.

numpy only (the physics layer; ``simulation.py`` wires these into the pybullet loop as force
providers). Frames: *inertial* is the simulation's local inertial frame (= LVLH at t = 0);
*body* is a rigid body's principal frame; rotations ``R`` map body to inertial. See
``docs/control.md`` for the laws, the figures and their sources.

Figures and sources (every estimate says so):

- CMGs: four double-gimbal CMGs on Z1, each 4,880 N m s (3,600 ft lbf s) at 6,600 rpm; at least
  two hold attitude [Boeing, "Space Exploration: Motion Control Subsystem"; iss-facts.md 5b].
  Capacity of the store: 4 x 4,880 = 19,520 N m s, taken as a sphere (the real array's envelope
  is not spherical and singular directions make it smaller: an upper bound).
- CMG torque limit: ESTIMATE 4 x 258 N m = 1,032 N m in any direction, from memory of the CMG's
  quoted output torque (about 190 ft lbf per unit); not confirmed by a public source here. The hold
  laws below ask for tens of N m, so the limit rarely binds.
- Zvezda: two main engines of about 3.07 kN (312 kgf) and 32 attitude thrusters of about 130 N
  (13.3 kgf) [iss-facts.md 5b, M1 M3; Zvezda propulsion: Smolentsev et al., "Propulsion units on
  the ISS", Kosmicheskaya tekhnika i tekhnologii 1(44), 2024 (sciup.org/143182940), abstract only].
- Progress MS and Soyuz MS: 28 attitude thrusters 11D428A-16 of about 130 N (13 kgf) each
  [NIIMash via Roscosmos, kosmosnews.fr 2022-06-20: "each ... comprises 28 engines 11D428A-16";
  russianspaceweb.com/soyuz-ms-kdu.html: 28 DPO in 14 pairs, only high-thrust engines kept on
  Soyuz MS]; main engine (SKD) about 2.95 kN [iss-facts.md 5b].
- Specific impulse: ESTIMATES, NTO/UDMH pressure-fed: main engines 302 s, 130 N attitude
  thrusters 280 s (steady state; pulses do worse, not modelled).
- Jet positions and directions: ESTIMATES. Each vehicle's attitude thrusters sit in four clusters
  on the rim of its aft end (Zvezda: the aft end of the large working compartment), each cluster
  with jets firing both ways around the rim (roll), one inward-thrusting pair (pitch/yaw) and one
  jet each way along the axis (translation); the main engines at the aft end thrust along the
  vehicle axis. The real layouts differ in detail; the lever arms are right to about a metre.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

G0_MPS2 = 9.80665

CMG_UNIT_MOMENTUM_NMS = 4_880.0
"""One ISS CMG's rotor momentum, N m s (3,600 ft lbf s)."""

CMG_COUNT = 4
CMG_CAPACITY_NMS = CMG_COUNT * CMG_UNIT_MOMENTUM_NMS
CMG_TORQUE_LIMIT_NM = CMG_COUNT * 258.0
"""Estimate (see the module docstring)."""

ZVEZDA_MAIN_N = 3_070.0
PROGRESS_MAIN_N = 2_950.0
ATTITUDE_JET_N = 130.0
MAIN_ISP_S = 302.0
ATTITUDE_ISP_S = 280.0


# --- rotations -------------------------------------------------------------------------------
def rotvec(rot: np.ndarray) -> np.ndarray:
    """Rotation vector (3,) of a rotation matrix, radians (axis times angle)."""
    r = rot.tolist()
    c = (r[0][0] + r[1][1] + r[2][2] - 1.0) / 2.0
    vx, vy, vz = (r[2][1] - r[1][2]) / 2.0, (r[0][2] - r[2][0]) / 2.0, (r[1][0] - r[0][1]) / 2.0
    s = math.sqrt(vx * vx + vy * vy + vz * vz)
    angle = math.atan2(s, c)
    if s < 1e-12:
        return np.array([vx, vy, vz])  # tiny angle: v ~ axis * angle
    if angle > math.pi - 1e-6:  # near pi: axis from the symmetric part
        w, vecs = np.linalg.eigh((rot + rot.T) / 2.0)
        return vecs[:, -1] * angle
    k = angle / s
    return np.array([vx * k, vy * k, vz * k])


def rotation_about(axis: np.ndarray, angle: float) -> np.ndarray:
    axis = np.asarray(axis, float) / np.linalg.norm(axis)
    k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    return np.eye(3) + math.sin(angle) * k + (1 - math.cos(angle)) * k @ k


def composite_inertia(parts, names) -> tuple[float, np.ndarray, np.ndarray]:
    """Mass (kg), centre of mass (3,) and inertia (3, 3) about it, station axes, of named parts
    (``parts``: name -> object with mass_kg, com_m, inertia_kg_m2, as the station assets give)."""
    masses = np.array([parts[n].mass_kg for n in names], float)
    coms = np.array([parts[n].com_m for n in names], float)
    mass = float(masses.sum())
    com = masses @ coms / mass
    inertia = np.zeros((3, 3))
    for n, m, c in zip(names, masses, coms):
        d = c - com
        inertia += np.asarray(parts[n].inertia_kg_m2, float) + m * (d @ d * np.eye(3) - np.outer(d, d))
    return mass, com, inertia


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
            jac[:, k] = (residual(_turn(e) @ rot) - f) / h
        step = np.linalg.lstsq(jac, -f, rcond=None)[0]
        if np.linalg.norm(step) > 0.1:  # at most ~6 deg per iteration
            step *= 0.1 / np.linalg.norm(step)
        rot = _turn(step) @ rot
    return rot


def _turn(v: np.ndarray) -> np.ndarray:
    """Rotation by the rotation vector v (LVLH axes)."""
    angle = float(np.linalg.norm(v))
    return np.eye(3) if angle == 0.0 else rotation_about(v, angle)


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
    return _turn(delta * (max_angle_rad / angle)) @ current


# --- jets --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Jet:
    """One thruster: where it sits and which way it pushes, in the station frame (m, unit)."""

    name: str
    part: str
    pos_station_m: tuple[float, float, float]
    thrust_dir_station: tuple[float, float, float]  # the force on the vehicle; the plume goes the other way
    thrust_n: float
    isp_s: float
    group: str  # "main" or "attitude"

    @property
    def mass_flow_kg_s(self) -> float:
        return self.thrust_n / (self.isp_s * G0_MPS2)


def _ring(part: str, prefix: str, aft_centre: tuple[float, float, float], axis_out: tuple[float, float, float],
          radius_m: float, thrust_n: float = ATTITUDE_JET_N, isp_s: float = ATTITUDE_ISP_S) -> list[Jet]:
    """Four clusters of eight attitude jets on the rim of a vehicle's aft end (an estimate).

    ``axis_out`` points from the vehicle out through its aft end. Per cluster: two jets pushing
    each way around the rim (roll), two pushing inward (pitch/yaw, with some translation) and one
    each way along the axis (translation). 32 jets.
    """
    c = np.asarray(aft_centre, float)
    a = np.asarray(axis_out, float)
    helper = np.array([0.0, 1.0, 0.0]) if abs(a[1]) < 0.9 else np.array([1.0, 0.0, 0.0])
    u = np.cross(a, helper)
    u /= np.linalg.norm(u)
    w = np.cross(a, u)
    jets = []
    for k in range(4):
        phi = k * math.pi / 2
        radial = math.cos(phi) * u + math.sin(phi) * w
        tangent = np.cross(a, radial)
        pos = c + radius_m * radial
        dirs = [("roll+", tangent), ("roll+b", tangent), ("roll-", -tangent), ("roll-b", -tangent),
                ("in", -radial), ("in-b", -radial), ("fwd", -a), ("aft", a)]
        for label, d in dirs:
            jets.append(Jet(f"{prefix}.c{k + 1}.{label}", part, tuple(float(v) for v in pos),
                            tuple(float(v) for v in d), thrust_n, isp_s, "attitude"))
    return jets


def _vehicle_jets(part: str, prefix: str, port: tuple[float, float, float], axis: tuple[float, float, float],
                  length_m: float, radius_m: float, main_n: float) -> list[Jet]:
    """A Soyuz or Progress docked at ``port`` with ``axis`` pointing from the port into the vehicle."""
    a = np.asarray(axis, float)
    aft = np.asarray(port, float) + a * (length_m - 0.3)
    jets = _ring(part, prefix, tuple(aft), tuple(a), radius_m)
    jets = [j for j in jets if not j.name.endswith("-b")]  # 24 here; Soyuz/Progress MS have 28 (estimate)
    jets.append(Jet(f"{prefix}.main", part, tuple(float(v) for v in np.asarray(port) + a * length_m),
                    tuple(float(v) for v in -a), main_n, MAIN_ISP_S, "main"))
    return jets


def station_jets() -> list[Jet]:
    """The thrusters of the ROS of 5 March 2022 (positions in the station frame; estimates)."""
    jets = _ring("zvezda", "zvezda", (-29.2, 0.0, 0.0), (-1.0, 0.0, 0.0), 2.1)
    for side, y in (("port", -0.9), ("stbd", 0.9)):  # the two main engines at the aft end
        jets.append(Jet(f"zvezda.main.{side}", "zvezda", (-29.4, y, 1.5), (1.0, 0.0, 0.0), ZVEZDA_MAIN_N,
                        MAIN_ISP_S, "main"))
    jets += _vehicle_jets("progress_ms18", "progress_ms18", (-30.255, 0.0, 0.0), (-1.0, 0.0, 0.0), 7.2, 1.36,
                          PROGRESS_MAIN_N)
    jets += _vehicle_jets("progress_ms19", "progress_ms19", (-18.45, 0.0, -5.349), (0.0, 0.0, -1.0), 7.2, 1.36,
                          PROGRESS_MAIN_N)
    jets += _vehicle_jets("soyuz_ms19", "soyuz_ms19", (-6.3, 0.0, 7.35), (0.0, 0.0, 1.0), 6.98, 1.36,
                          PROGRESS_MAIN_N)
    return jets


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
    table = {}
    for axis in range(3):
        for sign in (-1, 1):
            along = sign * total[:, axis]
            ok = np.flatnonzero((along > 1e-9) & (along >= purity * size))
            table[(axis, sign)] = list(sets[int(ok[np.argmax(along[ok])])]) if len(ok) else []
    return table


def select_burn_jets(dirs_body: np.ndarray, direction_body: np.ndarray, groups: list[str],
                     cone_deg: float = 15.0) -> list[int]:
    """Jets whose thrust lies within ``cone_deg`` of the wanted direction (main engines if any)."""
    d = np.asarray(direction_body, float) / np.linalg.norm(direction_body)
    ok = [j for j in range(len(dirs_body)) if float(dirs_body[j] @ d) >= math.cos(math.radians(cone_deg))]
    mains = [j for j in ok if groups[j] == "main"]
    return mains or ok
