"""Frames, rotations and the orbit: the one place for quaternion order and the LVLH convention.

Quaternions are ``(x, y, z, w)`` everywhere in issvis (pybullet's order). LVLH (Hill) axes:
x radial out (zenith), y along-track, z orbit normal. The simulation integrates in the *local
inertial* frame: non-rotating, falling freely with the reference point, equal to LVLH at t = 0.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from . import vec3

MU_EARTH_M3_S2 = 3.986004418e14
EARTH_RADIUS_M = 6_378_137.0


def mean_motion_rad_s(altitude_m: float) -> float:
    """n = sqrt(mu / r^3) of the circular reference orbit."""
    r = EARTH_RADIUS_M + altitude_m
    return math.sqrt(MU_EARTH_M3_S2 / r**3)


def limb_dip_rad(altitude_m: float) -> float:
    """How far Earth's limb lies below the horizontal seen from this height, rad (~20.5 deg at 420 km)."""
    return math.acos(EARTH_RADIUS_M / (EARTH_RADIUS_M + altitude_m))


# --- quaternions (x, y, z, w) --------------------------------------------------------------
def quat_to_matrix(q: np.ndarray) -> np.ndarray:
    """(..., 4) xyzw -> (..., 3, 3) rotation matrices (normalises first)."""
    q = np.asarray(q, float)
    q = q / np.linalg.norm(q, axis=-1, keepdims=True)
    x, y, z, w = np.moveaxis(q, -1, 0)
    m = np.empty(q.shape[:-1] + (3, 3))
    m[..., 0, 0] = 1 - 2 * (y * y + z * z)
    m[..., 0, 1] = 2 * (x * y - z * w)
    m[..., 0, 2] = 2 * (x * z + y * w)
    m[..., 1, 0] = 2 * (x * y + z * w)
    m[..., 1, 1] = 1 - 2 * (x * x + z * z)
    m[..., 1, 2] = 2 * (y * z - x * w)
    m[..., 2, 0] = 2 * (x * z - y * w)
    m[..., 2, 1] = 2 * (y * z + x * w)
    m[..., 2, 2] = 1 - 2 * (x * x + y * y)
    return m


def matrix_to_quat(m: np.ndarray) -> np.ndarray:
    """(3, 3) rotation matrix -> (4,) xyzw with w >= 0."""
    m = np.asarray(m, float)
    tr = m[0, 0] + m[1, 1] + m[2, 2]
    if tr > 0:
        s = math.sqrt(tr + 1.0) * 2
        xyzw = [(m[2, 1] - m[1, 2]) / s, (m[0, 2] - m[2, 0]) / s, (m[1, 0] - m[0, 1]) / s, 0.25 * s]
    elif m[0, 0] > m[1, 1] and m[0, 0] > m[2, 2]:
        s = math.sqrt(1.0 + m[0, 0] - m[1, 1] - m[2, 2]) * 2
        xyzw = [0.25 * s, (m[0, 1] + m[1, 0]) / s, (m[0, 2] + m[2, 0]) / s, (m[2, 1] - m[1, 2]) / s]
    elif m[1, 1] > m[2, 2]:
        s = math.sqrt(1.0 + m[1, 1] - m[0, 0] - m[2, 2]) * 2
        xyzw = [(m[0, 1] + m[1, 0]) / s, 0.25 * s, (m[1, 2] + m[2, 1]) / s, (m[0, 2] - m[2, 0]) / s]
    else:
        s = math.sqrt(1.0 + m[2, 2] - m[0, 0] - m[1, 1]) * 2
        xyzw = [(m[0, 2] + m[2, 0]) / s, (m[1, 2] + m[2, 1]) / s, 0.25 * s, (m[1, 0] - m[0, 1]) / s]
    q = np.array(xyzw)
    q /= np.linalg.norm(q)
    return -q if q[3] < 0 else q


def quat_multiply(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Hamilton product a * b of xyzw quaternions (broadcasts over leading axes)."""
    ax, ay, az, aw = np.moveaxis(np.asarray(a, float), -1, 0)
    bx, by, bz, bw = np.moveaxis(np.asarray(b, float), -1, 0)
    return np.stack([
        aw * bx + ax * bw + ay * bz - az * by,
        aw * by - ax * bz + ay * bw + az * bx,
        aw * bz + ax * by - ay * bx + az * bw,
        aw * bw - ax * bx - ay * by - az * bz,
    ], axis=-1)


def quat_angle_rad(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Angle of the rotation taking orientation a to orientation b, (...,) radians in [0, pi]."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    sign = np.where(np.sum(a * b, axis=-1, keepdims=True) < 0, -1.0, 1.0)
    # atan2 of chord lengths stays accurate for tiny angles, where arccos(dot) loses half the digits
    return 4.0 * np.arctan2(np.linalg.norm(a - sign * b, axis=-1), np.linalg.norm(a + sign * b, axis=-1))


def slerp(q0: np.ndarray, q1: np.ndarray, f: np.ndarray) -> np.ndarray:
    """Spherical interpolation between (..., 4) quaternions at fractions f (...,) in [0, 1]."""
    q0 = np.asarray(q0, float)
    q1 = np.asarray(q1, float).copy()
    f = np.asarray(f, float)[..., None]
    dot = np.sum(q0 * q1, axis=-1, keepdims=True)
    q1 = np.where(dot < 0, -q1, q1)
    dot = np.abs(dot)
    theta = np.arccos(np.clip(dot, -1.0, 1.0))
    small = theta < 1e-9
    sin_theta = np.where(small, 1.0, np.sin(theta))
    w0 = np.where(small, 1.0 - f, np.sin((1.0 - f) * theta) / sin_theta)
    w1 = np.where(small, f, np.sin(f * theta) / sin_theta)
    q = w0 * q0 + w1 * q1
    return q / np.linalg.norm(q, axis=-1, keepdims=True)


def axis_angle_quat(axis: np.ndarray, angle_rad: float) -> np.ndarray:
    axis = np.asarray(axis, float)
    axis = axis / np.linalg.norm(axis)
    s = math.sin(angle_rad / 2)
    return np.array([axis[0] * s, axis[1] * s, axis[2] * s, math.cos(angle_rad / 2)])


# --- rotations and transforms (the one home for these; simulation, stage, camera use them) ----
def rotate_about(v: np.ndarray, axis: np.ndarray, angle_rad: float) -> np.ndarray:
    """v (3,) turned by angle_rad about axis (3,), right-handed (Rodrigues)."""
    v = np.asarray(v, float)
    axis = np.asarray(axis, float) / np.linalg.norm(axis)
    c, s = math.cos(angle_rad), math.sin(angle_rad)
    return v * c + np.cross(axis, v) * s + axis * np.dot(axis, v) * (1 - c)


def rotation_from_z(direction: np.ndarray) -> np.ndarray:
    """(3, 3) the smallest rotation taking +z to the unit vector along direction (3,); for -z, the
    half turn about x."""
    d = np.asarray(direction, float)
    d = d / np.linalg.norm(d)
    z = np.array([0.0, 0.0, 1.0])
    v = np.cross(z, d)
    c = float(z @ d)
    if np.linalg.norm(v) < 1e-12:
        return np.eye(3) if c > 0 else np.diag([1.0, -1.0, -1.0])
    vx = np.array([[0, -v[2], v[1]], [v[2], 0, -v[0]], [-v[1], v[0], 0]])
    return np.eye(3) + vx + vx @ vx * (1.0 / (1.0 + c))


def rotation_about(axis: np.ndarray, angle_rad: float) -> np.ndarray:
    """(3, 3) rotation by angle_rad about axis (3,), right-handed (Rodrigues, as a matrix)."""
    axis = np.asarray(axis, float) / np.linalg.norm(axis)
    k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    return np.eye(3) + math.sin(angle_rad) * k + (1 - math.cos(angle_rad)) * k @ k


def rotation_from_rotvec(v: np.ndarray) -> np.ndarray:
    """(3, 3) rotation by the rotation vector v (3,) (axis times angle, radians); the inverse of
    :func:`rotvec`."""
    angle = float(np.linalg.norm(v))
    return np.eye(3) if angle == 0.0 else rotation_about(v, angle)


def rotvec(rot: np.ndarray) -> np.ndarray:
    """Rotation vector (3,) of a rotation matrix (3, 3), radians (axis times angle)."""
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


def unit_quat_to_matrix(q: tuple[float, float, float, float]) -> np.ndarray:
    """(3, 3) rotation matrix of one unit xyzw quaternion given as plain floats, not normalised: the
    fast form for a hot loop (pybullet's orientations); :func:`quat_to_matrix` is the vectorised
    reference (equal to 1e-16)."""
    qx, qy, qz, qw = q
    return np.array([[1 - 2 * (qy * qy + qz * qz), 2 * (qx * qy - qz * qw), 2 * (qx * qz + qy * qw)],
                     [2 * (qx * qy + qz * qw), 1 - 2 * (qx * qx + qz * qz), 2 * (qy * qz - qx * qw)],
                     [2 * (qx * qz - qy * qw), 2 * (qy * qz + qx * qw), 1 - 2 * (qx * qx + qy * qy)]])


def rotation_xyz_deg(angles_deg: npt.ArrayLike) -> np.ndarray:
    """(3, 3) rotation about x, then y, then z (fixed axes) by three angles in degrees."""
    rot = np.eye(3)
    for axis, angle in zip(np.eye(3), np.radians(np.asarray(angles_deg, float))):
        rot = quat_to_matrix(axis_angle_quat(axis, float(angle))) @ rot
    return rot


def perpendicular_basis(axis: np.ndarray, helper_axis: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """Two unit vectors (e1, e2) completing the unit ``axis`` to a right-handed frame (e1, e2, axis):
    e1 = axis x h normalised, e2 = axis x e1, where h is the unit vector along ``helper_axis`` (0, 1
    or 2) unless the axis lies within 26 deg of it, then +x. A fixed rule, so azimuths measured in
    this basis (a push's tilt, a jet cluster's place on a rim) are reproducible."""
    return vec3.basis(axis, helper_axis)


def tilted(axis: np.ndarray, tilt_rad: float, azimuth_rad: float) -> np.ndarray:
    """The unit ``axis`` tilted by tilt_rad towards the azimuth, measured in
    :func:`perpendicular_basis` (from e1 towards e2)."""
    u, w = perpendicular_basis(axis)
    side = math.cos(azimuth_rad) * u + math.sin(azimuth_rad) * w
    return math.cos(tilt_rad) * axis + math.sin(tilt_rad) * side


def basis_with_z(direction: np.ndarray) -> np.ndarray:
    """(3, 3) a rotation whose third column is the unit vector along ``direction`` (its first column
    is +x x direction, or +y x direction when direction is near x): places a mesh modelled along +z."""
    z = np.asarray(direction, float) / np.linalg.norm(direction)
    helper = np.array([1.0, 0.0, 0.0]) if abs(z[0]) < 0.9 else np.array([0.0, 1.0, 0.0])
    x = np.cross(helper, z)
    x /= np.linalg.norm(x)
    return np.column_stack([x, np.cross(z, x), z])


def transform_matrix(rotation: np.ndarray, translation: np.ndarray, scale: float = 1.0) -> np.ndarray:
    """(4, 4) homogeneous transform: scale, then rotate (3, 3), then translate (3,)."""
    m = np.eye(4)
    m[:3, :3] = np.asarray(rotation, float) * scale
    m[:3, 3] = translation
    return m


def centre_of_mass(pos_m: np.ndarray, mass_kg: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """Mass-weighted mean of positions (..., B, 3) m with masses (B,) kg, over the parts a (B,)
    boolean mask selects (all by default): (..., 3) m."""
    m = np.asarray(mass_kg, float) if mask is None else np.asarray(mass_kg, float) * np.asarray(mask, bool)
    return np.einsum("...bi,b->...i", np.asarray(pos_m, float), m) / m.sum()


# --- the station's attitude in LVLH --------------------------------------------------------
# Columns: where the station body axes (+X fwd, +Y stbd, +Z nadir) point in LVLH.
ATTITUDES: dict[str, np.ndarray] = {
    # +XVV: X along velocity (+y), Z to Earth (-x), Y = Z x X -> -z (negative orbit normal)
    "+XVV": np.array([[0.0, 0.0, -1.0], [1.0, 0.0, 0.0], [0.0, -1.0, 0.0]]),
    # -XVV: yawed 180 deg about nadir, X against velocity
    "-XVV": np.array([[0.0, 0.0, -1.0], [-1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]),
}


def body_to_lvlh(attitude: str, yaw_pitch_roll_deg: tuple[float, float, float] = (0.0, 0.0, 0.0)) -> np.ndarray:
    """Rotation matrix from station body axes to LVLH for a named attitude and a YPR offset.

    The offset is a body-fixed 3-2-1 (yaw about +Z nadir, pitch about +Y, roll about +X)
    rotation from the named attitude, as the ISS quotes its torque-equilibrium attitude.
    """
    yaw, pitch, roll = (math.radians(a) for a in yaw_pitch_roll_deg)

    def rot(axis: int, a: float) -> np.ndarray:
        c, s = math.cos(a), math.sin(a)
        m = np.eye(3)
        i, j = ((1, 2), (2, 0), (0, 1))[axis]  # cyclic, so every rotation is right-handed
        m[i, i], m[i, j], m[j, i], m[j, j] = c, -s, s, c
        return m

    return ATTITUDES[attitude] @ rot(2, yaw) @ rot(1, pitch) @ rot(0, roll)


# --- LVLH <-> local inertial ---------------------------------------------------------------
def lvlh_axes_in_inertial(n: float, t: float) -> np.ndarray:
    """(3, 3) matrix whose columns are the LVLH axes at time t in the local inertial frame."""
    c, s = math.cos(n * t), math.sin(n * t)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def inertial_to_lvlh(n: float, t: float, r_in: np.ndarray, v_in: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Positions (..., 3) and velocities from the local inertial frame to LVLH at time t."""
    rot = lvlh_axes_in_inertial(n, t)
    omega = np.array([0.0, 0.0, n])
    r_l = np.asarray(r_in) @ rot
    v_l = (np.asarray(v_in) - np.cross(omega, r_in)) @ rot
    return r_l, v_l


def lvlh_to_inertial(n: float, t: float, r_l: np.ndarray, v_l: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    rot = lvlh_axes_in_inertial(n, t)
    r_in = np.asarray(r_l) @ rot.T
    v_in = np.asarray(v_l) @ rot.T + np.cross(np.array([0.0, 0.0, n]), r_in)
    return r_in, v_in


def tidal_acceleration(n: float, t: float, r_in: np.ndarray) -> np.ndarray:
    """Gravity-gradient acceleration n^2 (3 (r.e_r) e_r - r) in the local inertial frame, (..., 3)."""
    e_r = np.array([math.cos(n * t), math.sin(n * t), 0.0])
    r_in = np.asarray(r_in, float)
    return n * n * (3.0 * (r_in @ e_r)[..., None] * e_r - r_in)


def gravity_gradient_torque(n: float, t: float, inertia_world: np.ndarray) -> np.ndarray:
    """3 n^2 e_r x (I e_r) for a body whose inertia (3, 3) is given in the inertial frame."""
    e_r = np.array([math.cos(n * t), math.sin(n * t), 0.0])
    return 3.0 * n * n * np.cross(e_r, inertia_world @ e_r)


def cw_state(n: float, t: np.ndarray | float, r0: np.ndarray, v0: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Clohessy-Wiltshire closed form (Vallado Alg. 47) in LVLH: position and velocity at t."""
    t = np.asarray(t, float)[..., None] if np.ndim(t) else float(t)
    x0, y0, z0 = r0
    vx, vy, vz = v0
    s, c = np.sin(n * t), np.cos(n * t)
    x = vx / n * s - (2 * vy / n + 3 * x0) * c + (2 * vy / n + 4 * x0)
    y = 2 * vx / n * c + (4 * vy / n + 6 * x0) * s + (y0 - 2 * vx / n) - (3 * vy + 6 * n * x0) * t
    z = z0 * c + vz / n * s
    dx = vx * c + (2 * vy + 3 * n * x0) * s
    dy = -2 * vx * s + (4 * vy + 6 * n * x0) * c - (3 * vy + 6 * n * x0)
    dz = -z0 * n * s + vz * c
    pos = np.stack(np.broadcast_arrays(x, y, z), axis=-1)
    vel = np.stack(np.broadcast_arrays(dx, dy, dz), axis=-1)
    if np.ndim(t):
        pos, vel = pos[..., 0, :], vel[..., 0, :]
    return pos, vel
