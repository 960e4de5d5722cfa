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


# --- validation on load: a record edited by hand is refused naming the file and the key --------
#: Shapes of the keys a record holds, by name: 'T' samples, 'B' parts, 'J' jets (len of jet_names),
#: 'P' propellant parts, None any length; kind 'f' real floats, 'i' integers, 'U' text.
_SHAPES: dict[str, tuple[tuple[str | int | None, ...], str]] = {
    "t": (("T",), "f"), "names": (("B",), "U"), "segment": (("B",), "U"), "mass": (("B",), "f"),
    "pos": (("T", "B", 3), "f"), "quat": (("T", "B", 4), "f"), "vel": (("T", "B", 3), "f"),
    "body_index": (("T", "B"), "i"), "clearance_m": (("T",), "f"), "angular_momentum_nms": (("T", 3), "f"),
    "external_angular_impulse_nms": (("T", 3), "f"), "cmg_momentum_nms": (("T", 3), "f"),
    "attitude_error_deg": (("T", None), "f"), "control_names": ((None,), "U"),
    "propellant_parts": (("P",), "U"), "propellant_kg": (("T", "P"), "f"),
    "jet_names": (("J",), "U"), "jet_part": (("J",), "U"), "jet_pos_local_m": (("J", 3), "f"),
    "jet_dir_local": (("J", 3), "f"), "jet_thrust_n": (("J",), "f"), "jet_pulses": ((None, 3), "f"),
}
#: Keys that must be finite (NaN positions draw black frames and write NaN into a glTF).
_FINITE = ("t", "mass", "pos", "quat", "vel")
_KIND_WORDS = {"f": "real floating-point numbers", "i": "integers", "U": "text"}


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:76] + " ..."


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and np.isfinite(value)


def _check_inflated_size(path: Path) -> None:
    """RecordError when the .npz would inflate beyond the budget, read from the zip headers
    before anything is inflated (a 1 MB file of zeros can inflate to gigabytes)."""
    import zipfile

    from ..core.budget import BUDGET, human_bytes

    try:
        with zipfile.ZipFile(path) as zf:
            members = zf.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise RecordError(f"{path}: not a readable .npz record ({exc})") from None
    total = sum(m.file_size for m in members)
    if total > BUDGET.max_record_bytes:
        biggest = max(members, key=lambda m: m.file_size)
        raise RecordError(f"{path}: key '{biggest.filename.removesuffix('.npy')}' would inflate to "
                          f"{human_bytes(biggest.file_size)} (the record to {human_bytes(total)}); the limit is "
                          f"{human_bytes(BUDGET.max_record_bytes)} (issvis.core.budget.max_record_bytes)")


def _check_arrays(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """dtypes, shapes and finiteness of the keys a record holds (_SHAPES, _FINITE)."""
    t = arrays["t"]
    if t.ndim != 1:
        raise RecordError(f"{path}: key 't' has shape {t.shape}, expected (T,): one time per sample")
    sizes: dict[str, int] = {"T": len(t), "B": len(arrays["names"]) if arrays["names"].ndim == 1 else -1}
    for key, sized in (("J", "jet_names"), ("P", "propellant_parts")):
        if sized in arrays and arrays[sized].ndim == 1:
            sizes[key] = len(arrays[sized])
    if sizes["B"] == 0:
        raise RecordError(f"{path}: key 'names' is empty: a record needs at least one part")
    for key, value in arrays.items():
        if key in ("events", "meta"):
            continue
        if value.dtype.kind not in "biufU":  # complex, objects, bytes, dates: not a record's
            raise RecordError(f"{path}: key '{key}' has dtype {value.dtype}, expected real numbers or text")
        if key not in _SHAPES:
            continue
        dims, kind = _SHAPES[key]
        expected = tuple(sizes.get(d, -1) if isinstance(d, str) else d for d in dims)
        if value.ndim != len(dims) or any(e is not None and e != n for e, n in zip(expected, value.shape)):
            shown = tuple("any" if e is None else e for e in expected)
            raise RecordError(f"{path}: key '{key}' has shape {value.shape}, expected {shown}")
        ok = value.dtype.kind == kind or (kind == "f" and value.dtype.kind in "iu")
        if not ok:
            raise RecordError(f"{path}: key '{key}' has dtype {value.dtype}, expected {_KIND_WORDS[kind]}")
        if key in _FINITE and not np.all(np.isfinite(value)):
            bad = np.argwhere(~np.isfinite(value))[0]
            raise RecordError(f"{path}: key '{key}' has {value[tuple(bad)]} at index {tuple(int(i) for i in bad)}: "
                              "every value must be finite")
    if len(t) == 0 or np.any(np.diff(t) <= 0):
        raise RecordError(f"{path}: key 't' must be non-empty and strictly increasing")
    if np.any(arrays["mass"] <= 0):
        raise RecordError(f"{path}: key 'mass' must be positive, kg")


def _json_of(path: Path, arrays: dict[str, np.ndarray], key: str, kind: type) -> Any:
    """arrays[key] (a 0-d text array holding JSON) parsed, of the JSON type kind (list or dict)."""
    value = arrays[key]
    if value.ndim != 0 or value.dtype.kind != "U":
        raise RecordError(f"{path}: key '{key}' has dtype {value.dtype} and shape {value.shape}, expected "
                          "one JSON text")
    try:
        parsed = json.loads(str(value))
    except (json.JSONDecodeError, RecursionError) as exc:
        raise RecordError(f"{path}: key '{key}' is not JSON ({_short(str(exc))})") from None
    if not isinstance(parsed, kind):
        word = "a list of events" if kind is list else "an object"
        raise RecordError(f"{path}: key '{key}' is {type(parsed).__name__} {_short(parsed)}, expected {word}")
    return parsed


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
        _check_inflated_size(path)
        try:
            with np.load(path, allow_pickle=False) as data:
                arrays = {k: data[k] for k in data.files}
        except Exception as exc:  # zipfile/format errors of all kinds
            raise RecordError(f"{path}: not a readable .npz record ({exc})") from None
        missing = [k for k in REQUIRED_KEYS if k not in arrays]
        if missing:
            raise RecordError(f"{path}: missing key(s) {', '.join(missing)}; a record needs {', '.join(REQUIRED_KEYS)}")
        _check_arrays(path, arrays)
        t, pos = arrays["t"], arrays["pos"]
        events, meta = _json_of(path, arrays, "events", list), _json_of(path, arrays, "meta", dict)
        for k, e in enumerate(events):
            if not isinstance(e, dict) or not isinstance(e.get("kind"), str) or not _is_number(e.get("t")):
                raise RecordError(f"{path}: key 'events': item {k} = {_short(e)}: expected an object with a "
                                  "'kind' (text) and a finite 't' (s)")
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
