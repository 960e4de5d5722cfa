"""The trajectory record (``.npz``), its interpolation and CSV export (comparison: ``compare.py``).

numpy only. Key meanings are fixed by ``docs/conventions.md``; extra keys written here:

- ``body_index`` (T, B) int16: which rigid body each part belongs to at each sample;
- ``clearance_m`` (T,) float64: smallest distance between two separate rigid bodies (NaN while
  the station is one body);
- ``angular_momentum_nms`` (T, 3) float64: the system's angular momentum about the LVLH origin,
  CMG rotors included, local inertial frame (= LVLH axes at t = 0), N m s;
- with attitude control (docs/control.md): ``control_names``, ``attitude_error_deg`` (T, 2),
  ``cmg_momentum_nms`` (T, 3, LVLH), ``propellant_parts`` (P,), ``propellant_kg`` (T, P),
  ``jet_names``, ``jet_part`` (J,), ``jet_pos_local_m``, ``jet_dir_local`` (J, 3; exhaust
  direction), ``jet_thrust_n`` (J,) and ``jet_pulses`` (K, 3): [jet, t_on, t_off) of each firing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import numpy as np

from ..core.errors import InputError
from ..core.files import atomic_open
from ..core.frames import centre_of_mass, slerp

REQUIRED_KEYS = ("t", "names", "segment", "mass", "pos", "quat", "vel", "events", "meta")

#: The kinds of event a record holds, each with what it means in plain words (the viewer's corner
#: box shows these). A record with another kind is refused on construction.
EVENT_KINDS: dict[str, str] = {
    "separation": "interface opened",
    "pusher_start": "pushers start",
    "pusher_end": "pushers done",
    "collisions_enabled": "collisions on between the two sides",
    "contact_start": "contact",
    "contact_end": "contact over",
    "burn_start": "burn starts",
    "burn_end": "burn ends",
    "jet_burn_start": "separation burn starts",
    "jet_burn_end": "separation burn ends",
    "jet_hold_start": "thrusters hold attitude",
    "cmg_control": "CMGs take a new attitude",
    "cmg_saturated": "CMGs saturated: attitude control lost",
}


class RecordError(InputError, ValueError):
    """A record file is missing, unreadable or not an issvis trajectory record."""


def check_event_kind(kind: str) -> str:
    """kind, when it is one of EVENT_KINDS; else ValueError naming the valid kinds."""
    if kind not in EVENT_KINDS:
        raise ValueError(f"unknown event kind {kind!r}; valid kinds: {', '.join(EVENT_KINDS)}")
    return kind


def interface_faces(record: Record) -> tuple[int, np.ndarray, int, np.ndarray] | None:
    """(child index, interface point (3,) m in the child's frame, parent index, the point in the
    parent's frame) of the record's first separation, from the record's own ``meta["interfaces"]``;
    None without a separation or for a record written before records carried them."""
    seps = [e for e in record.events if e.get("kind") == "separation" and "interface" in e]
    faces = record.meta.get("interfaces", {}).get(seps[0]["interface"]) if seps else None
    if not faces:
        return None
    names = [str(n) for n in record.names]
    try:
        ci, pi = names.index(faces["child"]), names.index(faces["parent"])
    except ValueError:
        return None
    return ci, np.asarray(faces["child_offset_m"], float), pi, np.asarray(faces["parent_offset_m"], float)


@dataclass(frozen=True)
class Record:
    """A trajectory record.

    t : (T,) float64, s.  names, segment : (B,) str.  mass : (B,) float64, kg.
    pos : (T, B, 3) float64, m, LVLH.  quat : (T, B, 4) float64, xyzw, part frame -> LVLH.
    vel : (T, B, 3) float64, m/s, LVLH.  events : list of dicts.  meta : dict.
    """

    t: np.ndarray
    names: np.ndarray
    segment: np.ndarray
    mass: np.ndarray
    pos: np.ndarray
    quat: np.ndarray
    vel: np.ndarray
    events: list[dict[str, Any]]
    meta: dict[str, Any]
    extra: dict[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for e in self.events:
            check_event_kind(e.get("kind", "<none>"))

    # -- queries ----------------------------------------------------------------------------
    @property
    def duration_s(self) -> float:
        return float(self.t[-1] - self.t[0])

    def part_index(self, name: str) -> int:
        hits = np.flatnonzero(self.names == name)
        if not len(hits):
            raise KeyError(f"no part {name!r}; parts are: {', '.join(self.names)}")
        return int(hits[0])

    def _bracket(self, t: float) -> tuple[int, float]:
        t = float(np.clip(t, self.t[0], self.t[-1]))
        k = int(np.clip(np.searchsorted(self.t, t, side="right") - 1, 0, len(self.t) - 2)) if len(self.t) > 1 else 0
        if len(self.t) == 1:
            return 0, 0.0
        h = self.t[k + 1] - self.t[k]
        return k, float((t - self.t[k]) / h) if h > 0 else 0.0

    def pose_at(self, t: float) -> tuple[np.ndarray, np.ndarray]:
        """Poses of every part at time t: positions (B, 3) by cubic Hermite, quats (B, 4) by slerp."""
        k, f = self._bracket(t)
        if len(self.t) == 1:
            return self.pos[0].copy(), self.quat[0].copy()
        h = float(self.t[k + 1] - self.t[k])
        p0, p1, v0, v1 = self.pos[k], self.pos[k + 1], self.vel[k], self.vel[k + 1]
        h00, h10 = 2 * f**3 - 3 * f**2 + 1, f**3 - 2 * f**2 + f
        h01, h11 = -2 * f**3 + 3 * f**2, f**3 - f**2
        # Hermite with the recorded velocities is exact to ~1e-9 m for CW motion between
        # samples; the record samples densely around pushes and contacts, where velocity jumps.
        pos = h00 * p0 + h10 * h * v0 + h01 * p1 + h11 * h * v1
        quat = slerp(self.quat[k], self.quat[k + 1], np.full(len(self.names), f))
        return pos, quat

    def system_com(self) -> np.ndarray:
        """(T, 3) centre of mass of all parts, m, LVLH."""
        return centre_of_mass(self.pos, self.mass)

    def group_com(self, members: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Centre of mass position and velocity (T, 3) of the parts selected by a (B,) mask."""
        return centre_of_mass(self.pos, self.mass, members), centre_of_mass(self.vel, self.mass, members)

    def events_of(self, kind: str) -> list[dict[str, Any]]:
        check_event_kind(kind)  # a misspelt kind would otherwise find nothing, silently
        return [e for e in self.events if e.get("kind") == kind]

    def separation_sides(self) -> tuple[np.ndarray, np.ndarray] | None:
        """(B,) masks of the two sides of the first separation, or None without one."""
        seps = self.events_of("separation")
        if not seps:
            return None
        child = np.isin(self.names, seps[0]["child_side"])
        parent = np.isin(self.names, seps[0]["parent_side"])
        return child, parent

    def separation_distance(self) -> tuple[np.ndarray, np.ndarray] | None:
        """Distance (T,) between the two sides' centres of mass, m, and its rate, m/s."""
        sides = self.separation_sides()
        if sides is None:
            return None
        pa, va = self.group_com(sides[0])
        pb, vb = self.group_com(sides[1])
        d = pa - pb
        dist = np.linalg.norm(d, axis=1)
        rate = np.einsum("ti,ti->t", d, va - vb) / np.maximum(dist, 1e-12)
        return dist, rate

    # -- I/O ----------------------------------------------------------------------------------
    def save(self, path: str | Path) -> None:
        """Write atomically (``issvis.core.files``: a temporary file, then rename), compressed, no pickles."""
        path = Path(path)
        arrays = {
            "t": np.asarray(self.t, np.float64),
            "names": np.asarray(self.names, dtype=str),
            "segment": np.asarray(self.segment, dtype=str),
            "mass": np.asarray(self.mass, np.float64),
            "pos": np.asarray(self.pos, np.float64),
            "quat": np.asarray(self.quat, np.float64),
            "vel": np.asarray(self.vel, np.float64),
            "events": np.array(json.dumps(self.events)),
            "meta": np.array(json.dumps(self.meta)),
        }
        arrays.update(self.extra)
        with atomic_open(path, "wb") as fh:
            np.savez_compressed(fh, **cast("dict[str, Any]", arrays))  # numpy's stub mixes in allow_pickle

    @classmethod
    def load(cls, path: str | Path) -> Record:
        path = Path(path)
        if not path.is_file():
            raise RecordError(f"{path}: no such record file")
        with open(path, "rb") as fh:
            if fh.read(4) != b"PK\x03\x04":
                raise RecordError(f"{path}: not a trajectory record (expected an .npz file written by 'issvis simulate')")
        try:
            with np.load(path, allow_pickle=False) as data:
                arrays = {k: data[k] for k in data.files}
        except Exception as exc:  # zipfile/format errors of all kinds
            raise RecordError(f"{path}: not a readable .npz record ({exc})") from None
        missing = [k for k in REQUIRED_KEYS if k not in arrays]
        if missing:
            raise RecordError(f"{path}: missing key(s) {', '.join(missing)}; a record needs {', '.join(REQUIRED_KEYS)}")
        t, pos = arrays["t"], arrays["pos"]
        n_t, n_b = len(t), len(arrays["names"])
        shapes = {"pos": (n_t, n_b, 3), "quat": (n_t, n_b, 4), "vel": (n_t, n_b, 3), "mass": (n_b,), "segment": (n_b,)}
        for key, shape in shapes.items():
            if arrays[key].shape != shape:
                raise RecordError(f"{path}: key '{key}' has shape {arrays[key].shape}, expected {shape}")
        if n_t == 0 or np.any(np.diff(t) <= 0):
            raise RecordError(f"{path}: key 't' must be non-empty and strictly increasing")
        try:
            events = json.loads(str(arrays["events"]))
            meta = json.loads(str(arrays["meta"]))
        except json.JSONDecodeError as exc:
            raise RecordError(f"{path}: key 'events' or 'meta' is not JSON ({exc})") from None
        extra = {k: v for k, v in arrays.items() if k not in REQUIRED_KEYS}
        try:
            return cls(t, arrays["names"].astype(str), arrays["segment"].astype(str), arrays["mass"], pos,
                       arrays["quat"], arrays["vel"], events, meta, extra)
        except ValueError as exc:  # an event of a kind this issvis does not know
            raise RecordError(f"{path}: key 'events': {exc}") from None

    def to_csv(self, path: str | Path) -> None:
        """Long-format CSV for spreadsheets: one row per sample and part, written atomically."""
        n_t, n_b = self.pos.shape[:2]
        cols = [np.repeat(self.t, n_b)[:, None], self.pos.reshape(-1, 3), self.quat.reshape(-1, 4), self.vel.reshape(-1, 3)]
        numbers = np.hstack(cols)
        names = np.tile(self.names, n_t)
        segments = np.tile(self.segment, n_t)
        with atomic_open(path, "w") as fh:
            fh.write("t_s,part,segment,x_m,y_m,z_m,qx,qy,qz,qw,vx_mps,vy_mps,vz_mps\n")
            for name, seg, row in zip(names, segments, numbers):
                fh.write(f"{row[0]:.6f},{name},{seg}," + ",".join(f"{v:.9g}" for v in row[1:]) + "\n")
