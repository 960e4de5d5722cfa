"""Camera choreography and the time map: where the camera is at each moment of the video.

numpy only (no pyvista): the video renderer and the interactive viewer both call ``camera_at``.

Two clocks: *video time* ``v`` (seconds into the clip) and *simulated time* ``t`` (the record's).
``Clip`` holds the time map ``t(v)`` and the camera, both already stretched to the clip's length;
``camera_at(v, settings, record)`` is the one-call form. The camera is a shot list (``Shot``: one
time factor and one camera move per shot, cuts between them; ``issvis.pictures.shots`` makes the
default one from the record and checks any camera path against the station) or, the older way,
camera keys blended into one path over a monotone-cubic time map.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..core.errors import did_you_mean
from ..core.frames import quat_to_matrix, rotate_about
from ..record.scene_of import interface_faces_of
from ..scene.render_settings import NAMED_POINTS, CameraKey, RenderSettings, RenderSettingsError, Shot


# --- the time map --------------------------------------------------------------------------
def _pchip_slopes(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Fritsch-Carlson slopes: the cubic through the knots stays monotone (no backwards time)."""
    h = np.diff(x)
    delta = np.diff(y) / h
    m = np.zeros_like(y)
    if len(x) == 2:
        return np.full_like(y, delta[0])
    for k in range(1, len(x) - 1):
        if delta[k - 1] * delta[k] <= 0:
            m[k] = 0.0
        else:
            w1, w2 = 2 * h[k] + h[k - 1], h[k] + 2 * h[k - 1]
            m[k] = (w1 + w2) / (w1 / delta[k - 1] + w2 / delta[k])
    # one-sided ends, kept monotone
    for end, (d0, d1, h0, h1) in ((0, (delta[0], delta[1], h[0], h[1])), (-1, (delta[-1], delta[-2], h[-1], h[-2]))):
        s = ((2 * h0 + h1) * d0 - h0 * d1) / (h0 + h1)
        if s * d0 <= 0:
            s = 0.0
        elif d0 * d1 <= 0 and abs(s) > abs(3 * d0):
            s = 3 * d0
        m[end] = s
    return m


@dataclass(frozen=True)
class TimeMapping:
    """Monotone cubic through (video_s, simulated_s) knots. ``video_s`` (K,), ``sim_s`` (K,)."""

    video_s: np.ndarray
    sim_s: np.ndarray
    slopes: np.ndarray

    @classmethod
    def from_knots(cls, knots: np.ndarray) -> TimeMapping:
        knots = np.asarray(knots, float)
        return cls(knots[:, 0].copy(), knots[:, 1].copy(), _pchip_slopes(knots[:, 0], knots[:, 1]))

    @property
    def length_s(self) -> float:
        return float(self.video_s[-1])

    def _segment(self, v: float) -> tuple[int, float, float]:
        x = self.video_s
        v = float(np.clip(v, x[0], x[-1]))
        k = int(np.clip(np.searchsorted(x, v, side="right") - 1, 0, len(x) - 2))
        h = float(x[k + 1] - x[k])
        return k, (v - x[k]) / h, h

    def sim(self, v: float) -> float:
        """Simulated time, s, at video time v, s (held at the ends)."""
        k, f, h = self._segment(v)
        y0, y1, m0, m1 = self.sim_s[k], self.sim_s[k + 1], self.slopes[k], self.slopes[k + 1]
        return float((2 * f**3 - 3 * f**2 + 1) * y0 + (f**3 - 2 * f**2 + f) * h * m0
                     + (-2 * f**3 + 3 * f**2) * y1 + (f**3 - f**2) * h * m1)

    def rate(self, v: float) -> float:
        """Simulated seconds per video second at video time v (the time-lapse factor)."""
        k, f, h = self._segment(v)
        y0, y1, m0, m1 = self.sim_s[k], self.sim_s[k + 1], self.slopes[k], self.slopes[k + 1]
        return float(((6 * f**2 - 6 * f) * y0 + (3 * f**2 - 4 * f + 1) * h * m0
                      + (-6 * f**2 + 6 * f) * y1 + (3 * f**2 - 2 * f) * h * m1) / h)

    def video(self, t: float) -> float:
        """Inverse: video time at simulated time t (bisection; the map is monotone)."""
        lo, hi = float(self.video_s[0]), float(self.video_s[-1])
        for _ in range(60):
            mid = 0.5 * (lo + hi)
            if self.sim(mid) < t:
                lo = mid
            else:
                hi = mid
        return 0.5 * (lo + hi)


def auto_knots(record: Any, video_s: float, realtime_s: float) -> np.ndarray:
    """A map for this record: brisk start, real time around the first separation, then faster.

    Returns (K, 2) [video_s, simulated_s], strictly increasing in both.
    """
    t0, t1 = float(record.t[0]), float(record.t[-1])
    seps = [e["t"] for e in record.events if e.get("kind") == "separation"]
    if not seps or not (t0 <= seps[0] < t1):
        return np.array([[0.0, t0], [video_s, t1]])
    ts = float(seps[0])
    pre = min(7.0, 0.15 * video_s)
    real = min(realtime_s, 0.25 * video_s)
    after = pre + real
    rest_v = video_s - after
    knots = [(0.0, t0), (pre, ts - 0.2 * real), (after, ts + 0.8 * real),
             (after + 0.38 * rest_v, ts + 0.8 * real + 0.15 * (t1 - ts - 0.8 * real)), (video_s, t1)]
    out: list[tuple[float, float]] = []
    for v, s in knots:
        s = min(max(s, t0), t1)
        if not out or (v > out[-1][0] + 1e-9 and s > out[-1][1] + 1e-9):
            out.append((v, s))
        elif v >= video_s - 1e-9:  # the end always maps to the end of the record
            out[-1] = (video_s, t1)
    if len(out) < 2:
        out = [(0.0, t0), (video_s, t1)]
    return np.array(out)


class ShotTime:
    """The time map of a shot list: in shot k, ``t = start_sim_s[k] + factor[k] * (v - start_video_s[k])``.

    The rate is constant within a shot and steps at the cuts; a shot may also start later than the
    previous one ended (a cut that skips time). Same interface as ``TimeMapping``.
    """

    def __init__(self, start_video_s: Any, length_video_s: Any, start_sim_s: Any, factor: Any):
        """Per shot (K,): first video time, length in video s, first simulated time, time factor."""
        self.start_video_s = np.asarray(start_video_s, float)
        self.length_video_s = np.asarray(length_video_s, float)
        self.start_sim_s = np.asarray(start_sim_s, float)
        self.factor = np.asarray(factor, float)

    @property
    def length_s(self) -> float:
        return float(self.start_video_s[-1] + self.length_video_s[-1])

    def index(self, v: float) -> int:
        """The shot showing at video time v (the last one at and after the end)."""
        return int(np.clip(np.searchsorted(self.start_video_s, v, side="right") - 1, 0, len(self.factor) - 1))

    def sim(self, v: float) -> float:
        """Simulated time, s, at video time v, s (held at the ends)."""
        v = float(np.clip(v, 0.0, self.length_s))
        k = self.index(v)
        return float(self.start_sim_s[k] + self.factor[k] * (v - self.start_video_s[k]))

    def rate(self, v: float) -> float:
        """Simulated seconds per video second at video time v."""
        return float(self.factor[self.index(v)])

    def video(self, t: float) -> float:
        """Video time at simulated time t; a time a cut skips maps to the start of the next shot."""
        end_sim = self.start_sim_s + self.factor * self.length_video_s
        for k in range(len(self.factor)):
            if t < end_sim[k] or k == len(self.factor) - 1:
                local = float(np.clip((t - self.start_sim_s[k]) / self.factor[k], 0.0, self.length_video_s[k]))
                return float(self.start_video_s[k] + local)
        return self.length_s


# --- points that move with the record ------------------------------------------------------
class PointResolver:
    """Turns anchor/target names into LVLH positions at one set of poses. Built once per record."""

    def __init__(self, record: Any):
        self.record = record
        names = [str(n) for n in record.names]
        self.mass = np.asarray(record.mass, float)
        sides = record.separation_sides() if hasattr(record, "separation_sides") else None
        everything = np.ones(len(names), bool)
        self.masks: dict[str, np.ndarray] = {"station": everything}
        if sides is not None and sides[0].any() and sides[1].any():
            self.masks["departing"], self.masks["remaining"] = sides
        else:
            self.masks["departing"] = self.masks["remaining"] = everything
        self.segments = sorted(set(str(s) for s in record.segment))
        for seg in self.segments:
            self.masks[f"segment:{seg}"] = np.asarray(record.segment) == seg
        self.part_index = {n: i for i, n in enumerate(names)}
        self.interface = interface_faces_of(record)  # (child, offset, parent, offset) or None

    def check(self, name: str) -> None:
        """Raise RenderSettingsError for a name this record does not have, listing the valid ones."""
        if name in NAMED_POINTS or name in self.masks:
            return
        if name.startswith("part:") and name[5:] in self.part_index:
            return
        kind = "segment" if name.startswith("segment:") else "part"
        valid = self.segments if kind == "segment" else list(self.part_index)
        hint = did_you_mean(name.split(":", 1)[-1], valid)
        raise RenderSettingsError(f"camera point {name!r}: the record has no such {kind}.{hint} "
                                  f"Valid {kind}s: {', '.join(valid)}")

    def com(self, mask: np.ndarray, pos: np.ndarray) -> np.ndarray:
        m = self.mass * mask
        return (pos * m[:, None]).sum(axis=0) / m.sum()

    def point(self, name: str, pos: np.ndarray, quat: np.ndarray) -> np.ndarray:
        """LVLH position (3,), m, of a named point given part poses pos (B, 3), quat (B, 4)."""
        if name == "lvlh":
            return np.zeros(3)
        if name == "between":
            return 0.5 * (self.point("departing", pos, quat) + self.point("remaining", pos, quat))
        if name == "interface":
            if self.interface is None:
                return self.point("between", pos, quat)
            ci, pc, pi, pp = self.interface
            rot = quat_to_matrix(quat[[ci, pi]])
            return 0.5 * (pos[ci] + rot[0] @ pc + pos[pi] + rot[1] @ pp)
        if name.startswith("part:"):
            return pos[self.part_index[name[5:]]].copy()
        return self.com(self.masks[name], pos)


# --- the clip: time map + camera keys at the clip's length ---------------------------------
@dataclass(frozen=True)
class CameraPose:
    """position, focal_point (3,) LVLH m; view_up (3,) unit; view_angle_deg (vertical)."""

    position: np.ndarray
    focal_point: np.ndarray
    view_up: np.ndarray
    view_angle_deg: float

    def as_tuple(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
        return self.position, self.focal_point, self.view_up, self.view_angle_deg


def _smooth(f: float) -> float:
    f = min(max(f, 0.0), 1.0)
    return f * f * f * (f * (6 * f - 15) + 10)  # smootherstep: zero velocity and acceleration at keys


def arc_offset(da: np.ndarray, db: np.ndarray, f: float) -> np.ndarray:
    """The eye's offset from its focal point a fraction ``f`` of the way from offset ``da`` to ``db`` (m):
    an arc about the focal point, the look turning (slerp) and the distance scaling (log), so that a move
    keeps its subject in frame rather than cutting a straight line past it."""
    na, nb = max(float(np.linalg.norm(da)), 1e-6), max(float(np.linalg.norm(db)), 1e-6)
    return _slerp_vec(da, db, f) * math.exp((1 - f) * math.log(na) + f * math.log(nb))


def _slerp_vec(a: np.ndarray, b: np.ndarray, f: float) -> np.ndarray:
    a = a / np.linalg.norm(a)
    b = b / np.linalg.norm(b)
    dot = float(np.clip(np.dot(a, b), -1.0, 1.0))
    omega = math.acos(dot)
    if omega < 1e-6:
        out = a + f * (b - a)
    elif omega > math.pi - 1e-3:  # opposite: go round through any perpendicular
        perp = np.cross(a, [1.0, 0.0, 0.0] if abs(a[0]) < 0.9 else [0.0, 1.0, 0.0])
        out = rotate_about(a, perp, f * omega)
    else:
        out = (math.sin((1 - f) * omega) * a + math.sin(f * omega) * b) / math.sin(omega)
    return out / np.linalg.norm(out)


class Clip:
    """Everything time-dependent about a video of one record: length, frames, time map, camera.

    ``length_s`` video seconds; frame i shows video time i / fps and simulated time ``sim(i / fps)``.
    ``shots`` is the shot list (``None`` when the scene gives camera keys instead), already stretched
    to the clip: shot lengths, camera keys and card lengths are authored against the clip's own length
    and stretched with it when ``settings.seconds`` asks for another (simulated spans stay).
    """

    def __init__(self, settings: RenderSettings, record: Any):
        self.settings = settings
        self.record = record
        self.fps = settings.fps
        self.points = PointResolver(record)
        self._fixed: dict[int, np.ndarray] = {}
        self._pose_cache: tuple[float, np.ndarray, np.ndarray] | None = None
        t0, t1 = float(record.t[0]), float(record.t[-1])
        self.shots: list[Shot] | None = None
        self.keys: list[CameraKey] = []
        self.time: TimeMapping | ShotTime
        if settings.camera.keys:
            tm = settings.time
            knots = np.asarray(tm.knots, float) if tm.knots is not None else auto_knots(record, tm.auto_video_s, tm.realtime_s)
            if knots[0, 0] > 0:  # hold the first simulated time until the first knot
                knots = np.vstack([[0.0, knots[0, 1] - 1e-9], knots])
            natural = float(knots[-1, 0])
            self.length_s = float(settings.seconds) if settings.seconds else natural
            self.scale = self.length_s / natural
            knots = knots * [self.scale, 1.0]
            if knots[-1, 1] > t1 + 1e-6 or knots[0, 1] < t0 - 1e-6:
                raise RenderSettingsError(
                    f"render.time.knots reach simulated time {knots[0, 1]:g}..{knots[-1, 1]:g} s but the record covers "
                    f"{t0:g}..{t1:g} s; shorten the knots or lengthen scene.duration_s")
            self.time = TimeMapping.from_knots(knots)
            for key in settings.camera.keys:
                self.points.check(key.anchor)
                self.points.check(key.target)
            self.keys = [key.model_copy(update={"at_s": key.at_s * self.scale}) for key in settings.camera.keys]
        else:
            if settings.shot is not None:
                shots = list(settings.shot)
            else:
                from .shots import auto_shots

                shots = auto_shots(record, settings, self.points)
            for k, shot in enumerate(shots):
                for name in (shot.subject, shot.anchor or shot.subject):
                    try:
                        self.points.check(name)
                    except RenderSettingsError as exc:
                        raise RenderSettingsError(f"render.shot.{k} ({shot.name!r}): {exc}") from None
            natural = float(sum(shot.video_s for shot in shots))
            self.length_s = float(settings.seconds) if settings.seconds else natural
            self.scale = self.length_s / natural
            # stretched: each shot keeps its simulated span, so its time factor scales the other way
            self.shots = [shot.model_copy(update={"video_s": shot.video_s * self.scale,
                                                  "time_factor": shot.time_factor / self.scale}) for shot in shots]
            starts_v = np.concatenate([[0.0], np.cumsum([sh.video_s for sh in self.shots])[:-1]])
            starts_t: list[float] = []
            t = t0
            for k, shot in enumerate(self.shots):
                t = float(shot.start_sim_s) if shot.start_sim_s is not None else t
                end = t + shot.time_factor * shot.video_s
                if t < t0 - 1e-6 or end > t1 + 1e-6:
                    raise RenderSettingsError(
                        f"render.shot.{k} ({shot.name!r}) shows simulated time {t:g}..{end:g} s but the record covers "
                        f"{t0:g}..{t1:g} s; change start_sim_s, time_factor or video_s, or lengthen scene.duration_s")
                if starts_t and t < starts_t[-1] - 1e-9:
                    raise RenderSettingsError(f"render.shot.{k} ({shot.name!r}) starts at simulated {t:g} s, before the "
                                              f"shot ahead of it (start_sim_s must not go back in time)")
                starts_t.append(t)
                t = end
            self.time = ShotTime(starts_v, [sh.video_s for sh in self.shots], starts_t,
                                 [sh.time_factor for sh in self.shots])
        self.n_frames = max(1, int(round(self.length_s * self.fps)))

    def shot_at(self, video_s: float) -> tuple[int, Shot] | None:
        """(index, shot) showing at video time v; None for a clip made of camera keys."""
        if self.shots is None:
            return None
        assert isinstance(self.time, ShotTime)
        k = self.time.index(video_s)
        return k, self.shots[k]

    def exposure_ev(self, video_s: float) -> float:
        """The exposure compensation at video time v, stops (0 for a clip made of camera keys)."""
        shot = self.shot_at(video_s)
        return 0.0 if shot is None else float(shot[1].exposure_ev)

    def shot_span(self, k: int) -> tuple[float, float]:
        """(first, end) video time of shot k, s."""
        assert isinstance(self.time, ShotTime)
        start = float(self.time.start_video_s[k])
        return start, start + float(self.time.length_video_s[k])

    def where(self, video_s: float) -> str:
        """Which part of the choreography shows at video time v, in words for messages."""
        hit = self.shot_at(video_s)
        if hit is not None:
            return f"shot {hit[0] + 1} {hit[1].name!r}"
        times = [k.at_s for k in self.keys]
        i = int(np.searchsorted(times, video_s, side="right")) - 1
        if i < 0 or i >= len(self.keys) - 1:
            return f"camera key {max(i, 0)}"
        return f"camera keys {i}-{i + 1}"

    def sim(self, video_s: float) -> float:
        return self.time.sim(video_s)

    def frame_times(self) -> np.ndarray:
        """(N,) video time of every frame, s (what the camera check walks)."""
        return np.arange(self.n_frames) / self.fps

    def poses(self, t_s: float) -> tuple[np.ndarray, np.ndarray]:
        """Record poses at simulated time t (cached for the last t: Stage and camera share them)."""
        if self._pose_cache is None or self._pose_cache[0] != t_s:
            pos, quat = self.record.pose_at(t_s)
            self._pose_cache = (t_s, pos, quat)
        return self._pose_cache[1], self._pose_cache[2]

    def _key_pose(self, i: int, video_s: float, pos: np.ndarray, quat: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
        key: CameraKey = self.keys[i]
        target = self.points.point(key.target, pos, quat) + np.asarray(key.target_offset_m)
        offset = np.asarray(key.position_m, float)
        if key.mode == "fixed":
            if i not in self._fixed:
                p_k, q_k = self.record.pose_at(self.sim(key.at_s))
                self._fixed[i] = self.points.point(key.anchor, p_k, q_k) + offset
            position = self._fixed[i]
        else:
            position = self.points.point(key.anchor, pos, quat) + offset
            if key.mode == "orbit" and key.orbit_deg_per_s:
                angle = math.radians(key.orbit_deg_per_s * (video_s - key.at_s) / self.scale)
                position = target + rotate_about(position - target, np.asarray(key.up, float), angle)
        up = np.asarray(key.up, float)
        return position, target, up / np.linalg.norm(up), key.fov_deg

    def camera(self, video_s: float) -> CameraPose:
        """The camera at video time v: the shot's move, or keys blended by their ease, around the focal point."""
        pos, quat = self.poses(self.sim(video_s))
        if self.shots is not None:
            return self._shot_camera(video_s, pos, quat)
        times = [k.at_s for k in self.keys]
        i = int(np.searchsorted(times, video_s, side="right")) - 1
        if i < 0:
            return self._finish(*self._key_pose(0, video_s, pos, quat))
        if i >= len(self.keys) - 1 or self.keys[i].ease == "hold":
            return self._finish(*self._key_pose(i, video_s, pos, quat))
        a, b = self.keys[i], self.keys[i + 1]
        f = (video_s - a.at_s) / max(b.at_s - a.at_s, 1e-9)
        f = _smooth(f) if a.ease == "smooth" else min(max(f, 0.0), 1.0)
        pa, ta, ua, fa = self._key_pose(i, video_s, pos, quat)
        pb, tb, ub, fb = self._key_pose(i + 1, video_s, pos, quat)
        # blend around the focal point: a pull-back is an arc that keeps the subject in frame
        target = (1 - f) * ta + f * tb
        up = _slerp_vec(ua, ub, f)
        return self._finish(target + arc_offset(pa - ta, pb - tb, f), target, up, (1 - f) * fa + f * fb)

    def subject_point(self, video_s: float) -> np.ndarray:
        """LVLH position, m, of what the camera looks at (the shot's subject, or the keys' target)."""
        return self.camera(video_s).focal_point

    def _shot_camera(self, video_s: float, pos: np.ndarray, quat: np.ndarray) -> CameraPose:
        k, shot = self.shot_at(video_s)  # type: ignore[misc]
        first, end = self.shot_span(k)
        f = min(max((video_s - first) / max(end - first, 1e-9), 0.0), 1.0)
        if shot.ease == "smooth":
            f = _smooth(f)
        target = self.points.point(shot.subject, pos, quat) + np.asarray(shot.target_offset_m, float)
        anchor = shot.anchor or shot.subject
        if shot.mode == "fixed":
            key = -1 - k  # keys use indices >= 0
            if key not in self._fixed:
                p_k, q_k = self.record.pose_at(self.sim(first))
                self._fixed[key] = self.points.point(anchor, p_k, q_k)
            origin = self._fixed[key]
        else:
            origin = self.points.point(anchor, pos, quat)
        pa = origin + np.asarray(shot.from_m, float)
        pb = origin + np.asarray(shot.to_m if shot.to_m is not None else shot.from_m, float)
        fov_b = shot.to_fov_deg if shot.to_fov_deg is not None else shot.fov_deg
        up = np.asarray(shot.up, float)
        return self._finish(target + arc_offset(pa - target, pb - target, f), target, up / np.linalg.norm(up),
                            (1 - f) * shot.fov_deg + f * fov_b)

    @staticmethod
    def _finish(position: np.ndarray, target: np.ndarray, up: np.ndarray, fov: float) -> CameraPose:
        look = target - position
        if np.linalg.norm(look) < 1e-6:
            look = np.array([0.0, 1.0, 0.0])
            target = position + look
        look = look / np.linalg.norm(look)
        up = up - np.dot(up, look) * look  # orthogonal to the view direction
        if np.linalg.norm(up) < 1e-6:
            up = np.cross(look, [0.0, 0.0, 1.0] if abs(look[2]) < 0.9 else [0.0, 1.0, 0.0])
        return CameraPose(np.asarray(position, float), np.asarray(target, float), up / np.linalg.norm(up), float(fov))


def check_point_names(settings: RenderSettings, part_names: Any, segments: Any) -> None:
    """Before any simulation: every camera anchor/target names a part or segment that exists."""
    parts, segs = [str(p) for p in part_names], sorted(set(str(s) for s in segments))
    named: list[tuple[str, str]] = [(f"render.camera.keys.{k}.{field}", getattr(key, field))
                                    for k, key in enumerate(settings.camera.keys) for field in ("anchor", "target")]
    named += [(f"render.shot.{k}.{field}", getattr(shot, field)) for k, shot in enumerate(settings.shot or ())
              for field in ("subject", "anchor") if getattr(shot, field) is not None]
    for where, name in named:
        kind, _, value = name.partition(":")
        valid = parts if kind == "part" else segs if kind == "segment" else None
        if valid is None or value in valid:
            continue
        hint = did_you_mean(value, valid)
        raise RenderSettingsError(f"{where} = {name!r}: no such {kind}.{hint} Valid {kind}s: {', '.join(valid)}")


_CLIPS: dict[tuple[int, int], tuple[Any, Any, Clip]] = {}


def clip_for(settings: RenderSettings, record: Any) -> Clip:
    """The Clip of (settings, record), cached by identity (both are immutable)."""
    key = (id(settings), id(record))
    hit = _CLIPS.get(key)
    if hit is None or hit[0] is not settings or hit[1] is not record:
        if len(_CLIPS) > 8:
            _CLIPS.clear()
        hit = (settings, record, Clip(settings, record))
        _CLIPS[key] = hit
    return hit[2]


def camera_at(t_s: float, settings: RenderSettings, record: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """The choreographed camera at *video* time t_s (seconds into the clip).

    Returns (position (3,), focal_point (3,), view_up (3,), view_angle_deg): LVLH metres, a unit
    vector and the vertical field of view in degrees, ready for a VTK/pyvista camera. A viewer
    that knows a simulated time uses ``clip_for(settings, record).time.video(t_sim)`` first.
    """
    return clip_for(settings, record).camera(t_s).as_tuple()


def project(pose: CameraPose, points_m: np.ndarray, aspect: float) -> tuple[np.ndarray, np.ndarray]:
    """Where LVLH points (N, 3) fall on screen: (N, 2) normalized viewport x, y (0..1, y up) and (N,)
    depth along the view, m (negative: behind the camera). ``aspect``: width / height."""
    points_m = np.atleast_2d(np.asarray(points_m, float))
    forward = pose.focal_point - pose.position
    forward = forward / np.linalg.norm(forward)
    right = np.cross(forward, pose.view_up)
    right = right / np.linalg.norm(right)
    up = np.cross(right, forward)
    rel = points_m - pose.position
    depth = rel @ forward
    tan_half = math.tan(math.radians(pose.view_angle_deg) / 2)
    safe = np.where(np.abs(depth) < 1e-9, 1e-9, depth)
    x = 0.5 + 0.5 * (rel @ right) / (safe * tan_half * aspect)
    y = 0.5 + 0.5 * (rel @ up) / (safe * tan_half)
    return np.stack([x, y], axis=-1), depth
