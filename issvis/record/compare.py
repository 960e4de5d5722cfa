"""Regression comparison of two trajectory records, for ``issvis compare``, the pytest plugin and
tests. numpy only.

What is compared (each quantity that both records have, each against its own tolerance):
positions, orientations and velocities of every part; the events (kind and time, matched in
order); ``clearance_m``; ``cmg_momentum_nms``; ``propellant_kg`` (by part). At the instants both
records sampled (or, when they sample differently, at every sample of either, the other
interpolated), optionally over a common span only (``until_s``, ``overlap``). The outcome says whether they
agree, **when** they first diverge and by how much, for each part group (a ``segment`` of the
record: ``ROS``, ``USOS``, each visiting vehicle; plus ``events`` and ``system`` for what belongs to
no part), in words (``Comparison.report``) and as plain data (``Comparison.to_dict``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import numpy as np

from ..core.errors import InputError
from ..core.frames import quat_angle_rad
from ..core.tolerances import TOLERANCES as TOL
from .record import Record


class ComparisonError(InputError, ValueError):
    """A comparison that cannot be made as asked (a span past a record's end, a bad tolerance)."""


#: The name of the until argument in messages (``issvis compare`` says ``--until`` instead).
UNTIL_NAME = "until_s"


class UntilError(ComparisonError):
    """An end time the records cannot be compared up to; says ``until_s = ...`` (the Python argument),
    ``named("--until")`` the same for the command line's option."""

    def __init__(self, value_words: str, detail: str):
        self.value_words, self.detail = value_words, detail
        super().__init__(self.named(f"{UNTIL_NAME} ="))

    def named(self, option: str) -> str:
        return f"{option} {self.value_words}: {self.detail}"


@dataclass(frozen=True)
class ComparisonTolerances:
    """The largest difference of each quantity at which two records still agree.

    The defaults are for two runs of one scene that may differ in platform or issvis version and
    should still tell the same story; a golden test on one platform uses the much tighter
    ``GOLDEN_TOLERANCES`` (bounds and reasons in ``issvis/core/tolerances.py``).
    """

    pos_tol_m: float = 0.01
    """A part's centre of mass: 1 cm, a thousandth of a module's diameter, far below what a
    picture shows and far above the integrator's error (0.06 mm after 1200 s)."""

    ang_tol_deg: float = 0.1
    """A part's orientation: 0.1 degree moves the far end of a 100 m truss by 17 cm."""

    vel_tol_mps: float = 1e-4
    """A part's velocity: 0.1 mm/s, a thousandth of the default push's 0.1 m/s; kept for 100 s it
    moves a part by the position tolerance."""

    event_time_tol_s: float = 0.1
    """An event's time: events happen on physics steps, so one step of the default dt (0.1 s) is
    the smallest shift there is; a contact one step earlier is still the same contact."""

    clearance_tol_m: float = 0.01
    """The smallest gap between separate bodies: the position tolerance (the gap follows from
    the parts' poses)."""

    cmg_momentum_tol_nms: float = 10.0
    """The momentum stored in the CMGs: 10 N m s is 0.05 % of their 19,520 N m s capacity, well
    below what one second of their 1,032 N m torque limit changes."""

    propellant_tol_kg: float = 0.01
    """Propellant a part's thrusters have used: 10 g is about two physics steps of one 130 N
    attitude jet (Isp 280 s: 47 g/s)."""

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
                raise ComparisonError(f"tolerance {f.name} = {value!r}: must be a finite number >= 0")

    def with_overrides(self, **overrides: float) -> ComparisonTolerances:
        """A copy with some tolerances changed, by field name (``pos_tol_m=1e-3``)."""
        valid = [f.name for f in fields(self)]
        unknown = [k for k in overrides if k not in valid]
        if unknown:
            raise TypeError(f"unknown tolerance(s) {', '.join(unknown)}; valid: {', '.join(valid)}")
        return replace(self, **overrides) if overrides else self


#: Golden records re-run on the same platform: bit-identical; these bounds leave room for another
#: libm while catching any change of physics or scene (reasons in issvis/core/tolerances.py).
GOLDEN_TOLERANCES = ComparisonTolerances(
    pos_tol_m=TOL.golden_pos_m, ang_tol_deg=TOL.golden_ang_deg, vel_tol_mps=TOL.golden_vel_mps,
    event_time_tol_s=TOL.golden_event_time_s, clearance_tol_m=TOL.golden_clearance_m,
    cmg_momentum_tol_nms=TOL.golden_cmg_momentum_nms, propellant_tol_kg=TOL.golden_propellant_kg)

#: Each compared quantity: its tolerance field, its words, its unit.
QUANTITIES: dict[str, tuple[str, str]] = {
    "pos_tol_m": ("position", "m"),
    "ang_tol_deg": ("angle", "deg"),
    "vel_tol_mps": ("velocity", "m/s"),
    "event_time_tol_s": ("event time", "s"),
    "clearance_tol_m": ("clearance", "m"),
    "cmg_momentum_tol_nms": ("CMG momentum", "N m s"),
    "propellant_tol_kg": ("propellant", "kg"),
}



def quantity_key(tolerance_name: str) -> str:
    """The key of a quantity's differences in ``to_dict``: its tolerance's name less ``tol``
    (``pos_tol_m`` -> ``pos_m``)."""
    return tolerance_name.replace("_tol_", "_")


#: Group names of what belongs to no part.
EVENTS_GROUP, SYSTEM_GROUP = "events", "system"
_T_SAME_S = 1e-6  # two sample times closer than this are the same time (records store float64 seconds)


@dataclass(frozen=True)
class Divergence:
    """One quantity out of tolerance at one time: what, where, by how much."""

    t_s: float
    group: str
    quantity: str  # a field of ComparisonTolerances, e.g. "pos_tol_m"
    part: str | None  # the part, or None for events and the clearance
    difference: float  # in the tolerance's unit; inf for an event that one record lacks
    tolerance: float
    detail: str = ""  # words for what a number cannot say (an event's kinds, a body that differs)

    @property
    def ratio(self) -> float:
        """How many tolerances the difference is (inf for an event one record lacks)."""
        return self.difference / self.tolerance if self.tolerance > 0 else math.inf

    @property
    def words(self) -> str:
        label, unit = QUANTITIES[self.quantity]
        what = f"{label} of {self.part}" if self.part else label
        amount = "" if math.isinf(self.difference) else f" off by {self.difference:.6g} {unit} (tolerance {self.tolerance:g} {unit})"
        return f"{what}{amount}" + (f": {self.detail}" if self.detail else "")

    def to_dict(self) -> dict[str, Any]:
        label, unit = QUANTITIES[self.quantity]
        return {"t_s": self.t_s, "group": self.group, "quantity": label, "tolerance_name": self.quantity,
                "unit": unit, "part": self.part, "difference": None if math.isinf(self.difference) else self.difference,
                "tolerance": self.tolerance, "detail": self.detail}


@dataclass(frozen=True)
class GroupResult:
    """The comparison of one part group: its first divergence and its worst against tolerance."""

    name: str
    parts: tuple[str, ...]
    first: Divergence | None  # None: the group agrees
    worst: Divergence | None  # the largest difference against its tolerance (None when agreeing)
    largest: dict[str, float]  # quantity field -> largest difference over the group's parts and times

    @property
    def agree(self) -> bool:
        return self.first is None

    def to_dict(self) -> dict[str, Any]:
        return {"group": self.name, "parts": list(self.parts), "agree": self.agree,
                "first_divergence": self.first.to_dict() if self.first else None,
                "worst": self.worst.to_dict() if self.worst else None,
                "largest": {quantity_key(q): v for q, v in self.largest.items()}}


@dataclass(frozen=True)
class Comparison:
    """Outcome of comparing two records; ``report`` is for people, ``to_dict``/``to_json`` for machines.

    ``max_pos_error_m``, ``max_angle_error_deg``, ``worst_part`` and ``worst_t_s`` summarise the
    parts' poses (as before); ``first_divergence`` is the earliest time any compared quantity
    left its tolerance; ``groups`` has the same per part group.
    """

    agree: bool
    max_pos_error_m: float
    max_angle_error_deg: float
    worst_part: str
    worst_t_s: float
    report: str
    first_divergence: Divergence | None = None
    groups: tuple[GroupResult, ...] = ()
    largest: dict[str, float] = field(default_factory=dict)
    span_s: tuple[float, float] | None = None  # the span compared; None when it could not be compared
    problem: str | None = None  # why the records could not be compared sample by sample
    notes: tuple[str, ...] = ()  # what was not compared and why; never a difference by itself
    tolerances: ComparisonTolerances = field(default_factory=ComparisonTolerances)

    def group(self, name: str) -> GroupResult:
        for g in self.groups:
            if g.name == name:
                return g
        raise KeyError(f"no group {name!r}; groups: {', '.join(g.name for g in self.groups)}")

    def to_dict(self) -> dict[str, Any]:
        return {
            "agree": self.agree,
            "span_s": list(self.span_s) if self.span_s else None,
            "problem": self.problem,
            "first_divergence": self.first_divergence.to_dict() if self.first_divergence else None,
            "groups": [g.to_dict() for g in self.groups],
            "largest": {quantity_key(q): v for q, v in self.largest.items()},
            "worst_pose": {"part": self.worst_part, "t_s": self.worst_t_s, "pos_m": self.max_pos_error_m,
                           "ang_deg": self.max_angle_error_deg},
            "tolerances": asdict(self.tolerances),
            "notes": list(self.notes),
            "report": self.report,
        }

    def to_json(self) -> str:
        """``to_dict`` as JSON (infinities as null: strict JSON has none)."""
        return json.dumps(_finite(self.to_dict()), indent=2)


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


# --- sampling both records on one grid ----------------------------------------------------------
def _bracket(t: np.ndarray, grid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(k, f): grid[i] lies at fraction f[i] between samples k[i] and k[i] + 1 of t."""
    if len(t) == 1:
        return np.zeros(len(grid), int), np.zeros(len(grid))
    k = np.clip(np.searchsorted(t, grid, side="right") - 1, 0, len(t) - 2)
    h = t[k + 1] - t[k]
    return k, np.clip((grid - t[k]) / np.where(h > 0, h, 1.0), 0.0, 1.0)


def _interp(t: np.ndarray, values: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """values (T, ...) linearly on grid; where a neighbour is NaN, the nearest sample's value."""
    k, f = _bracket(t, grid)
    if len(t) == 1:
        return np.repeat(values[:1], len(grid), axis=0).astype(float)
    shape = (-1,) + (1,) * (values.ndim - 1)
    v0, v1 = values[k].astype(float), values[k + 1].astype(float)
    out = v0 * (1 - f).reshape(shape) + v1 * f.reshape(shape)
    nearest = np.where((f < 0.5).reshape(shape), v0, v1)
    return np.where(np.isnan(out), nearest, out)


def _hermite_velocity(record: Record, grid: np.ndarray) -> np.ndarray:
    """(len(grid), B, 3) velocities: the derivative of the cubic Hermite that Record.pose_at draws
    through the samples (positions and velocities), so that poses and velocities agree."""
    if len(record.t) == 1:
        return np.repeat(record.vel[:1], len(grid), axis=0)
    k, f = _bracket(record.t, grid)
    h = (record.t[k + 1] - record.t[k])[:, None, None]
    f = f[:, None, None]
    p0, p1, v0, v1 = record.pos[k], record.pos[k + 1], record.vel[k], record.vel[k + 1]
    return ((6 * f**2 - 6 * f) * (p0 - p1) / np.where(h > 0, h, 1.0)
            + (3 * f**2 - 4 * f + 1) * v0 + (3 * f**2 - 2 * f) * v1)


@dataclass
class _Sampled:
    pos: np.ndarray
    quat: np.ndarray
    vel: np.ndarray
    body: np.ndarray | None
    extra: dict[str, np.ndarray]


def _sample(record: Record, order: np.ndarray, grid: np.ndarray, extra_keys: list[str]) -> _Sampled:
    """The record's parts (in ``order``) on grid: its own samples where it has them; between them
    poses as Record.pose_at draws them (cubic Hermite, slerp), velocities from that Hermite's
    derivative, the rigid bodies of the sample before, other quantities linearly."""
    idx = np.clip(np.searchsorted(record.t, grid), 0, len(record.t) - 1)
    exact = np.abs(record.t[idx] - grid) < _T_SAME_S
    pos = np.empty((len(grid), len(order), 3))
    quat = np.empty((len(grid), len(order), 4))
    pos[exact], quat[exact] = record.pos[idx[exact]][:, order], record.quat[idx[exact]][:, order]
    for i in np.flatnonzero(~exact):
        p, q = record.pose_at(float(grid[i]))
        pos[i], quat[i] = p[order], q[order]
    vel = _hermite_velocity(record, grid)[:, order]
    vel[exact] = record.vel[idx[exact]][:, order]
    body = None
    if "body_index" in record.extra:
        k = np.clip(np.searchsorted(record.t, grid + _T_SAME_S, side="right") - 1, 0, len(record.t) - 1)
        body = record.extra["body_index"][k][:, order]
    extra = {key: _interp(record.t, np.asarray(record.extra[key], float), grid) for key in extra_keys}
    for key in extra_keys:
        extra[key][exact] = record.extra[key][idx[exact]]
    return _Sampled(pos, quat, vel, body, extra)


# --- the comparison ------------------------------------------------------------------------------
def _span(a: Record, b: Record, until_s: float | None, overlap: bool) -> tuple[float, float] | str:
    """The span to compare, or the words for why the records' spans cannot be compared as asked."""
    spans = f"A {a.t[0]:g}..{a.t[-1]:g} s, B {b.t[0]:g}..{b.t[-1]:g} s"
    if overlap:
        start, end = max(a.t[0], b.t[0]), min(a.t[-1], b.t[-1])
        if start > end:
            raise ComparisonError(f"the records' time spans do not overlap ({spans})")
    else:
        start = a.t[0]
        end = a.t[-1]
        if abs(a.t[0] - b.t[0]) > 1e-9 or (until_s is None and abs(a.t[-1] - b.t[-1]) > _T_SAME_S):
            return (f"time spans differ: {spans}; compare over their common span with --overlap "
                    f"(Python: overlap=True), or up to a time with --until S (until_s=S)")
    if until_s is not None:
        if not math.isfinite(until_s):
            raise UntilError(f"{until_s}", "must be a finite time, s")
        outside = [label for label, r in (("A", a), ("B", b))
                   if until_s > r.t[-1] + _T_SAME_S or until_s < max(r.t[0], start) - _T_SAME_S]
        if outside:
            whose = "record A's span" if outside == ["A"] else "record B's span" if outside == ["B"] else "both spans"
            raise UntilError(f"{until_s:g} s", f"outside {whose} ({spans})")
        end = until_s
    return float(start), float(end)


def _events_in(record: Record, start: float, end: float) -> list[dict[str, Any]]:
    return [e for e in record.events if start - _T_SAME_S <= float(e.get("t", 0.0)) <= end + _T_SAME_S]


def _event_differences(a: Record, b: Record, start: float, end: float, tol_s: float) -> list[Divergence]:
    """Events matched in order: a different kind, a time off by more than tol_s, or one that only
    one record has, each a difference at the earlier of the two times."""
    ea, eb = _events_in(a, start, end), _events_in(b, start, end)
    out = []
    for i in range(max(len(ea), len(eb))):
        x, y = (ea[i] if i < len(ea) else None), (eb[i] if i < len(eb) else None)
        if x is None or y is None:
            only, label, other = (x, "A", "B") if y is None else (y, "B", "A")
            assert only is not None
            out.append(Divergence(float(only["t"]), EVENTS_GROUP, "event_time_tol_s", None, math.inf, tol_s,
                                  f"event {i + 1}, {only['kind']} at t = {only['t']:g} s, only in {label} "
                                  f"({other} has {len(eb if y is None else ea)} events in the span)"))
        elif x["kind"] != y["kind"]:
            out.append(Divergence(min(float(x["t"]), float(y["t"])), EVENTS_GROUP, "event_time_tol_s", None, math.inf,
                                  tol_s, f"event {i + 1} is {x['kind']} at t = {x['t']:g} s in A, "
                                         f"{y['kind']} at t = {y['t']:g} s in B"))
        elif abs(float(x["t"]) - float(y["t"])) > tol_s:
            out.append(Divergence(min(float(x["t"]), float(y["t"])), EVENTS_GROUP, "event_time_tol_s", None,
                                  abs(float(x["t"]) - float(y["t"])), tol_s,
                                  f"event {i + 1}, {x['kind']}, at t = {x['t']:g} s in A, {y['t']:g} s in B"))
    return out


def _exceeding(diff: np.ndarray, tol: float) -> np.ndarray:
    """diff / tol, with 0/0 = 0 and x/0 = inf: how many tolerances a difference is."""
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(diff > 0, diff / tol if tol > 0 else np.inf, 0.0)
    return np.where(np.isnan(diff), np.inf, ratio)


@dataclass
class _Series:
    """One quantity's differences (T, columns) with the column's part (or None) and group."""

    quantity: str
    diff: np.ndarray
    parts: list[str | None]
    groups: list[str]
    details: list[str] = field(default_factory=list)


def _body_detail(sa: _Sampled, sb: _Sampled, segments: list[str], ti: int, col: int) -> str:
    """Words for a part that rides on differently made-up bodies in A and B at sample ti ('' if same)."""
    if sa.body is None or sb.body is None:
        return ""
    with_a = sa.body[ti] == sa.body[ti, col]
    with_b = sb.body[ti] == sb.body[ti, col]
    if np.array_equal(with_a, with_b):
        return ""

    def seg(mask: np.ndarray) -> str:
        return ", ".join(dict.fromkeys(segments[j] for j in np.flatnonzero(mask)))
    return f"its rigid body differs: in A with {seg(with_a)}; in B with {seg(with_b)}"


def _grid(a: Record, b: Record, start: float, end: float) -> tuple[np.ndarray, int, int, int]:
    """(the instants to compare at, how many are A's samples, B's samples, both's).

    Every sample of either record in the span (and the span's ends), one instant each: where both
    sampled, samples are compared with samples; where only one did, the other is interpolated.
    Runs of one scene sample the same instants, so nothing is interpolated; keeping only the
    shared instants instead would leave out, unsaid, the samples where the runs differ most.
    """
    ta, tb = (r.t[(r.t >= start - _T_SAME_S) & (r.t <= end + _T_SAME_S)] for r in (a, b))
    union = np.unique(np.concatenate([ta, tb, [start, end]]))
    grid = union[np.concatenate([[True], np.diff(union) > _T_SAME_S])]  # one instant each

    def sampled(t: np.ndarray) -> np.ndarray:
        if not len(t):
            return np.zeros(len(grid), bool)
        j = np.searchsorted(t, grid)
        lo, hi = np.clip(j - 1, 0, len(t) - 1), np.clip(j, 0, len(t) - 1)
        return np.minimum(np.abs(t[lo] - grid), np.abs(t[hi] - grid)) < _T_SAME_S

    in_a, in_b = sampled(ta), sampled(tb)
    return grid, int(in_a.sum()), int(in_b.sum()), int((in_a & in_b).sum())


def _common_quantities(a: Record, b: Record, notes: list[str]) -> tuple[list[str], list[tuple[int, int, str]]]:
    """The record-wide quantities both records carry, and the propellant columns (index in a, in b,
    part) both have; what only one has goes into notes."""
    keys = []
    for key in ("clearance_m", "cmg_momentum_nms", "propellant_kg"):
        has_a, has_b = key in a.extra, key in b.extra
        if has_a and has_b:
            keys.append(key)
        elif has_a or has_b:
            notes.append(f"{key} not compared: only record {'A' if has_a else 'B'} has it")
    prop_cols: list[tuple[int, int, str]] = []
    if "propellant_kg" in keys:
        pa = [str(p) for p in a.extra.get("propellant_parts", [])]
        pb = [str(p) for p in b.extra.get("propellant_parts", [])]
        prop_cols = [(i, pb.index(p), p) for i, p in enumerate(pa) if p in pb]
        lone = sorted(set(pa) ^ set(pb))
        if lone:
            notes.append(f"propellant_kg not compared for {', '.join(lone)}: only one record has it")
    return keys, prop_cols


def _differences(sa: _Sampled, sb: _Sampled, keys: list[str], prop_cols: list[tuple[int, int, str]],
                 names: list[str], segments: list[str]) -> list[_Series]:
    """Every compared quantity's differences on the grid, by column (part) and group."""
    parts: list[str | None] = list(names)
    series = [
        _Series("pos_tol_m", np.linalg.norm(sa.pos - sb.pos, axis=2), parts, segments),
        _Series("ang_tol_deg", np.degrees(quat_angle_rad(sa.quat, sb.quat)), parts, segments),
        _Series("vel_tol_mps", np.linalg.norm(sa.vel - sb.vel, axis=2), parts, segments),
    ]
    if "clearance_m" in keys:
        ca, cb = sa.extra["clearance_m"], sb.extra["clearance_m"]
        whole_a, whole_b = np.isnan(ca), np.isnan(cb)  # NaN: the station is one body
        diff = np.where(whole_a & whole_b, 0.0, np.where(whole_a | whole_b, np.inf, np.abs(ca - cb)))
        series.append(_Series("clearance_tol_m", diff[:, None], [None], [SYSTEM_GROUP]))
    if "cmg_momentum_nms" in keys:
        diff = np.linalg.norm(sa.extra["cmg_momentum_nms"] - sb.extra["cmg_momentum_nms"], axis=1)
        series.append(_Series("cmg_momentum_tol_nms", diff[:, None], ["CMGs"], [SYSTEM_GROUP]))
    if prop_cols:
        diff = np.abs(sa.extra["propellant_kg"][:, [i for i, _, _ in prop_cols]]
                      - sb.extra["propellant_kg"][:, [j for _, j, _ in prop_cols]])
        seg_of = dict(zip(names, segments))
        series.append(_Series("propellant_tol_kg", diff, [p for _, _, p in prop_cols],
                              [seg_of.get(p, SYSTEM_GROUP) for _, _, p in prop_cols]))
    return series


def _order(d: Divergence) -> tuple[int, float]:
    """Sort key of divergences: the earliest first; at one instant, the furthest out of tolerance."""
    return round(d.t_s / _T_SAME_S), -d.ratio


def _grouped(series: list[_Series], events: list[Divergence], tol: ComparisonTolerances, grid: np.ndarray,
             sa: _Sampled, sb: _Sampled, names: list[str], segments: list[str]) -> tuple[GroupResult, ...]:
    """Each group's first divergence, its worst against tolerance and its largest differences."""
    group_names = list(dict.fromkeys(segments)) + [EVENTS_GROUP, SYSTEM_GROUP]
    firsts: dict[str, Divergence] = {}
    worsts: dict[str, tuple[float, Divergence]] = {}
    largest: dict[str, dict[str, float]] = {g: {} for g in group_names}

    def divergence(s: _Series, g: str, col: int, ti: int) -> Divergence:
        diff = float(s.diff[ti, col])
        detail = ""
        if s.quantity in ("pos_tol_m", "ang_tol_deg", "vel_tol_mps"):
            detail = _body_detail(sa, sb, segments, ti, col)
        elif s.quantity == "clearance_tol_m" and math.isinf(diff):
            whole, apart = ("A", "B") if np.isnan(sa.extra["clearance_m"][ti]) else ("B", "A")
            detail = f"the station is whole in {whole} and apart in {apart}"
        return Divergence(float(grid[ti]), g, s.quantity, s.parts[col], diff, getattr(tol, s.quantity), detail)

    for s in series:
        ratio = _exceeding(s.diff, getattr(tol, s.quantity))
        for g in dict.fromkeys(s.groups):
            cols = np.array([c for c, gc in enumerate(s.groups) if gc == g])
            r = ratio[:, cols]
            largest[g][s.quantity] = float(np.where(np.isnan(s.diff[:, cols]), np.inf, s.diff[:, cols]).max())
            out = np.flatnonzero((r > 1.0).any(axis=1))
            if not len(out):
                continue
            first = divergence(s, g, int(cols[np.argmax(r[out[0]])]), int(out[0]))
            if g not in firsts or _order(first) < _order(firsts[g]):
                firsts[g] = first
            wt, wc = (int(i) for i in np.unravel_index(int(np.argmax(r)), r.shape))
            if g not in worsts or r[wt, wc] > worsts[g][0]:
                worsts[g] = (float(r[wt, wc]), divergence(s, g, int(cols[wc]), wt))
    largest[EVENTS_GROUP]["event_time_tol_s"] = max((e.difference for e in events), default=0.0)
    if events:
        firsts[EVENTS_GROUP] = min(events, key=_order)
        worsts[EVENTS_GROUP] = (math.inf, max(events, key=lambda e: e.difference))
    return tuple(GroupResult(g, tuple(n for n, s in zip(names, segments) if s == g), firsts.get(g),
                             worsts[g][1] if g in worsts else None, largest[g])
                 for g in group_names if largest[g] or g in firsts)


def compare_records(a: Record, b: Record, tolerances: ComparisonTolerances | None = None, *,
                    until_s: float | None = None, overlap: bool = False, **tolerance_overrides: float) -> Comparison:
    """Compare record b against record a within tolerances.

    tolerances: the bounds (default ``ComparisonTolerances()``); single ones may be given by name,
    ``pos_tol_m=1e-3``. until_s: compare only up to this time (both records must reach it).
    overlap: compare over the span both records cover (a 300 s golden against a longer run).
    Positions differ by the Euclidean distance of each part's centre of mass, orientations by the
    angle of the rotation between them, velocities by the norm of their difference. Different
    part lists, or different spans without until_s/overlap, never agree. ComparisonError when
    until_s lies outside a record.
    """
    tol = (tolerances or ComparisonTolerances()).with_overrides(**tolerance_overrides)
    names_a, names_b = [str(n) for n in a.names], [str(n) for n in b.names]
    notes = []

    def failed(problem: str) -> Comparison:
        return Comparison(False, math.inf, math.inf, "-", 0.0, f"records DIFFER: {problem}", problem=problem,
                          tolerances=tol)

    if sorted(names_a) != sorted(names_b):
        only_a = sorted(set(names_a) - set(names_b))
        only_b = sorted(set(names_b) - set(names_a))
        return failed(f"part lists differ: only in A {', '.join(only_a) or '-'}; only in B {', '.join(only_b) or '-'}")
    if names_a != names_b:
        notes.append("the records list their parts in different orders: matched by name")
    order_b = np.array([names_b.index(n) for n in names_a], int)
    order_a = np.arange(len(names_a))
    span = _span(a, b, until_s, overlap)
    if isinstance(span, str):
        return failed(span)
    start, end = span
    hash_a, hash_b = a.meta.get("station_hash"), b.meta.get("station_hash")
    if hash_a and hash_b and hash_a != hash_b:
        notes.append(f"the records were simulated with different stations (A {str(hash_a)[:8]}, B {str(hash_b)[:8]})")

    keys, prop_cols = _common_quantities(a, b, notes)
    grid, n_a, n_b, n_both = _grid(a, b, start, end)
    if n_both < len(grid):
        notes.append(f"the records sample different instants (A {n_a}, B {n_b}, {n_both} of them shared): "
                     f"compared at all {len(grid)}, A interpolated at {len(grid) - n_a} and B at {len(grid) - n_b}, "
                     "which adds an error where the motion changes between samples (pushes, contacts, burns)")
    sa, sb = _sample(a, order_a, grid, keys), _sample(b, order_b, grid, keys)
    segments = [str(s) for s in a.segment]
    series = _differences(sa, sb, keys, prop_cols, names_a, segments)
    events = _event_differences(a, b, start, end, tol.event_time_tol_s)
    groups = _grouped(series, events, tol, grid, sa, sb, names_a, segments)
    firsts = [g.first for g in groups if g.first is not None]
    # the earliest; of groups diverging at one instant, the one furthest out of its tolerance
    first_all = min(firsts, key=_order) if firsts else None
    agree = first_all is None
    all_largest = {q: max((g.largest.get(q, 0.0) for g in groups), default=0.0)
                   for q in QUANTITIES if any(q in g.largest for g in groups)}

    # the parts' poses as before: the worst against its tolerance points the user somewhere
    pos_err, ang_err = series[0].diff, series[1].diff
    score = np.maximum(_exceeding(pos_err, tol.pos_tol_m), _exceeding(ang_err, tol.ang_tol_deg))
    wt, wb = (int(i) for i in np.unravel_index(int(np.argmax(score)), score.shape))
    comparison = Comparison(agree, float(pos_err.max()), float(ang_err.max()), names_a[wb], float(grid[wt]), "",
                            first_all, groups, all_largest, (start, end), None, tuple(notes), tol)
    n_events = (len(_events_in(a, start, end)), len(_events_in(b, start, end)))
    return replace(comparison, report=_words(comparison, a, b, len(grid), n_events,
                                             float(pos_err[wt, wb]), float(ang_err[wt, wb])))


def _words(c: Comparison, a: Record, b: Record, n_samples: int, n_events: tuple[int, int], worst_pos: float,
           worst_ang: float) -> str:
    """The report for people: verdict, first divergence, each group, the largest differences."""
    assert c.span_s is not None
    tol = c.tolerances
    start, end = c.span_s
    whole = abs(a.t[0] - start) < _T_SAME_S and abs(a.t[-1] - end) < _T_SAME_S and abs(b.t[-1] - end) < _T_SAME_S
    span = f"over {start:g}..{end:g} s" + ("" if whole else f" (A {a.t[0]:g}..{a.t[-1]:g} s, B {b.t[0]:g}..{b.t[-1]:g} s)")
    events = f"{n_events[0]} events" if n_events[0] == n_events[1] else f"{n_events[0]} events in A, {n_events[1]} in B"
    lines = [f"records {'agree' if c.agree else 'DIFFER'} {span}, at {n_samples} instants, {events}"]
    if c.first_divergence is not None:
        d = c.first_divergence
        lines.append(f"first divergence at t = {d.t_s:.3f} s in {d.group}: {d.words}")
    width = max(len(g.name) for g in c.groups)
    for g in c.groups:
        if g.first is None:
            said = ", ".join(f"{QUANTITIES[q][0]} {v:.3g} {QUANTITIES[q][1]}" for q, v in g.largest.items())  # finite: agreeing
            lines.append(f"  {g.name:<{width}}  agrees (largest {said})" if g.name != EVENTS_GROUP
                         else f"  {g.name:<{width}}  agree ({n_events[0]} matched in kind and time)")
            continue
        line = f"  {g.name:<{width}}  from t = {g.first.t_s:.3f} s: {g.first.words}"
        if g.worst is not None and g.worst != g.first:
            line += f"; worst at t = {g.worst.t_s:.3f} s: {g.worst.words}"
        lines.append(line)
    def amount(q: str, v: float) -> str:
        label, unit = QUANTITIES[q]
        return f"{label} {v:.6g} {unit}" if math.isfinite(v) else f"{label}: a mismatch without a size (above)"

    worst = ""  # the pose furthest out of (or, agreeing, closest to) its tolerance; none when all equal
    if worst_pos > 0 or worst_ang > 0:
        worst = (f"; {'closest to' if c.agree else 'worst against'} its tolerance: part '{c.worst_part}' at "
                 f"t = {c.worst_t_s:.3f} s, position off by {worst_pos:.6g} m, angle by {worst_ang:.6g} deg")
    elif c.agree:
        worst = "; every part's pose is the same at every instant"
    lines.append("largest differences: " + ", ".join(amount(q, v) for q, v in c.largest.items()) + worst)
    lines.append("tolerances: " + ", ".join(f"{QUANTITIES[f.name][0]} {getattr(tol, f.name):g} {QUANTITIES[f.name][1]}"
                                            for f in fields(tol)))
    lines += [f"note: {n}" for n in c.notes]
    return "\n".join(lines)


def _as_record(value: Record | str | Path) -> Record:
    return value if isinstance(value, Record) else Record.load(value)


def assert_trajectories_match(golden: Record | str | Path, new: Record | str | Path,
                              tolerances: ComparisonTolerances | None = None, *, until_s: float | None = None,
                              overlap: bool = False, **tolerance_overrides: float) -> Comparison:
    """pytest helper: raise AssertionError with the comparison's report when the records differ.

    Takes records or paths, and the arguments of ``compare_records`` (``pos_tol_m=...`` etc.).
    """
    result = compare_records(_as_record(golden), _as_record(new), tolerances, until_s=until_s, overlap=overlap,
                             **tolerance_overrides)
    if not result.agree:
        raise AssertionError(result.report)
    return result


def tolerance_names() -> list[str]:
    """The names of the tolerances (``ComparisonTolerances``' fields), for options and messages."""
    return [f.name for f in fields(ComparisonTolerances)]


def tolerances_from(values: Mapping[str, float | None], base: ComparisonTolerances | None = None) -> ComparisonTolerances:
    """base (default ``ComparisonTolerances()``) with the values that are not None."""
    return (base or ComparisonTolerances()).with_overrides(**{k: v for k, v in values.items() if v is not None})
