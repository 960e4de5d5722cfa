"""The interactive viewer: a pure state machine (``ViewerState``) and a thin pyvista window.

The state machine holds everything the window shows that is not pixels: the record time, play and
pause, the playback speed, the camera preset, the picked part, and which overlays are on. Keys, the
slider and the timer all call its methods, so tests drive it off-screen exactly as a user does.
numpy only at import; pyvista is imported by ``ViewerWindow`` when a window is made.

The scene itself (station, Earth, stars, Sun) comes from ``issvis.pictures.stage.Stage``, the same code
that renders the video, so the viewer shows what the video shows.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ..core.errors import InputError
from ..core.frames import centre_of_mass, quat_to_matrix
from ..record.record import EVENT_KINDS, Record

if TYPE_CHECKING:
    from pyvista.plotting.render_window_interactor import RenderWindowInteractor

    from ..scene.render_settings import RenderSettings

#: Playback speeds, record seconds per wall-clock second; '+' and '-' walk this ladder.
SPEEDS = (0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0)
DEFAULT_SPEED = 10.0
#: Longest wall-clock step the timer may advance in one tick, s. Playback follows the wall clock,
#: so a slow frame is a dropped frame, not slower playback; a window that stalls for longer
#: (dragged, covered, suspended) resumes where it was instead of leaping ahead.
MAX_TICK_S = 1.0
#: Two record times closer than this are the same instant, s (records sample at <= 100 Hz).
SAME_TIME_S = 1e-6

PRESETS = {
    1: "scene keyframes",
    2: "whole station",
    3: "the interface",
    4: "follow the departing side",
}
FREE = 0  # the camera is the user's (mouse); nothing moves it

HELP_TEXT = """\
keys
  space        play / pause
  + / -        faster / slower
  Left/Right   step one record sample
  n or e / N   next / previous event
  1            camera: scene keyframes
  2            camera: whole station
  3            camera: the interface
  4            camera: follow the departing side
  t            tint the separating sides
  r            trails of each side's centre of mass
  a            LVLH axes
  h            this help
  q or Esc     quit
mouse
  left drag rotate, right drag / wheel zoom,
  middle or shift+left drag pan,
  click a part: name, segment, mass, velocity"""


@dataclass(frozen=True)
class CameraPose:
    """position_m, focal_point_m, view_up (3,) float in LVLH; view_angle_deg vertical field of view."""

    position_m: np.ndarray
    focal_point_m: np.ndarray
    view_up: np.ndarray
    view_angle_deg: float

    def translated(self, delta_m: np.ndarray) -> CameraPose:
        return CameraPose(self.position_m + delta_m, self.focal_point_m + delta_m, self.view_up, self.view_angle_deg)


KeyframeCamera = Callable[[float], tuple[Any, Any, Any, float]]


def _unit(v: Any) -> np.ndarray:
    v = np.asarray(v, float)
    return v / np.linalg.norm(v)


# Directions the camera looks from (LVLH, from the target towards the camera) and the field of view
# of the built-in presets: above the orbit plane on the orbit-normal side, a little ahead, zenith up.
WHOLE_STATION_FROM = _unit([0.45, -0.55, 0.70])
#: Preset 3 looks from this direction, made square to the line between the two parts of the
#: interface (so the gap is seen side-on, whatever the scene's interface and attitude).
INTERFACE_FROM = _unit([9.0, -3.0, 22.0])
#: Preset 3 frames the two faces plus this margin around each, m.
INTERFACE_MARGIN_M = 8.0
FOLLOW_FROM = _unit([0.40, -0.75, 0.55])
PRESET_VIEW_ANGLE_DEG = 30.0
ZENITH_UP = np.array([1.0, 0.0, 0.0])


class ViewerState:
    """What the viewer shows, as a function of what the user did. No pyvista, no rendering.

    record : the trajectory record.  keyframe_camera : t_s -> (position, focal_point, view_up,
    view_angle_deg) of the scene's camera (``issvis.camera.camera_at`` bound to the scene), or None.
    interface_anchor : ((part index, offset (3,) m in that part's frame) of the interface point,
    for each of the two parts it joins) of the first opened interface, for preset 3; the camera
    looks at the midpoint of the two faces, so the gap opens in the middle of the picture.
    part_radius_m : (B,) bounding radius of each part about its centre of mass, m, for framing.
    part_labels : part name -> the label people know it by ('Zarya (FGB)'); default the names.

    Preset 4 follows the departing side of the first separation (in the default scene, the
    Russian segment with its Soyuz and Progress); in a record without one, the part of the first
    burn and what moves with it, or else the whole station.
    """

    def __init__(self, record: Record, keyframe_camera: KeyframeCamera | None = None,
                 interface_anchor: tuple[tuple[int, np.ndarray], ...] | None = None,
                 part_radius_m: np.ndarray | None = None, part_labels: Mapping[str, str] | None = None) -> None:
        self.record = record
        self.part_labels = {str(n): str(n) for n in record.names}
        self.part_labels.update(part_labels or {})
        self.keyframe_camera = keyframe_camera
        self.interface_anchor = interface_anchor
        n_parts = len(record.names)
        self.part_radius_m = np.full(n_parts, 15.0) if part_radius_m is None else np.asarray(part_radius_m, float)
        self.t_start_s = float(record.t[0])
        self.t_end_s = float(record.t[-1])
        # (t, text) of every event, in time order; event_times_s: the distinct times
        words = sorted(((float(e["t"]), *_event_words(e, self.part_labels)) for e in record.events),
                       key=lambda x: x[0])
        self._event_words = words  # (t, what happened, to what)
        self.events = [(t, f"{what}: {detail}" if detail else what) for t, what, detail in words]
        self.event_times_s = np.unique(np.array([t for t, _ in self.events], float))
        sides = record.separation_sides()
        self.groups = _trail_groups(record, sides)
        self._group_paths = {label: record.group_com(mask)[0] for label, mask in self.groups.items()}
        self.follow_mask = sides[0] if sides is not None else _first_burn_group(record)
        self.follow_label = _dominant_segment(record, self.follow_mask)
        sep = record.separation_distance()
        self._separation = sep
        self.first_separation_s = float(record.events_of("separation")[0]["t"]) if sides is not None else None
        self.clearance_m = record.extra.get("clearance_m")

        self.time_s = self.t_start_s
        self.playing = False
        self.speed = DEFAULT_SPEED
        self.preset = 1 if keyframe_camera is not None else 2
        self.tint = False
        self.trails = False
        self.axes = False
        self.help = False
        self.picked: str | None = None
        self.quit_requested = False
        #: frames per second the window draws (it sets this; None off-screen), shown in the corner box
        self.frame_rate_hz: float | None = None
        #: the dynamic resolution's scale of the frames drawn now (1: full), shown with the frame rate
        self.resolution_scale = 1.0
        #: a one-off remark in the corner box ('no more events'); cleared by the next action
        self.notice = ""
        self._framed_m: float | None = None  # preset 3: the framing distance the camera was last set to
        self._camera_reset = True  # the next camera() frames the preset afresh
        self._anchor_m: np.ndarray | None = None
        self._poses: tuple[float, np.ndarray, np.ndarray] | None = None

    # -- time ---------------------------------------------------------------------------------
    def poses(self) -> tuple[np.ndarray, np.ndarray]:
        """Part positions (B, 3) m and quaternions (B, 4) xyzw, LVLH, at the current time (cached)."""
        if self._poses is None or self._poses[0] != self.time_s:
            self._poses = (self.time_s, *self.record.pose_at(self.time_s))
        return self._poses[1], self._poses[2]

    def set_time(self, t_s: float) -> None:
        """Go to record time t_s (clamped to the record); the slider calls this."""
        self.time_s = float(np.clip(t_s, self.t_start_s, self.t_end_s))
        self.notice = ""

    def scrub(self, t_s: float) -> None:
        """The slider was dragged: pause and go there."""
        self.playing = False
        self.set_time(t_s)

    def toggle_play(self) -> None:
        if not self.playing and self.time_s >= self.t_end_s - SAME_TIME_S:
            self.time_s = self.t_start_s  # play again from the start
        self.playing = not self.playing

    def advance(self, wall_dt_s: float) -> bool:
        """The timer ticked after wall_dt_s of real time; returns whether the time moved."""
        if not self.playing:
            return False
        before = self.time_s
        self.set_time(self.time_s + self.speed * min(max(wall_dt_s, 0.0), MAX_TICK_S))
        if self.time_s >= self.t_end_s:
            self.playing = False
        return self.time_s != before

    def faster(self) -> None:
        self.speed = next((s for s in SPEEDS if s > self.speed * (1 + 1e-9)), SPEEDS[-1])

    def slower(self) -> None:
        self.speed = next((s for s in reversed(SPEEDS) if s < self.speed * (1 - 1e-9)), SPEEDS[0])

    def step(self, direction: int) -> None:
        """Pause and go to the next (direction > 0) or previous record sample."""
        self.playing = False
        t = self.record.t
        if direction > 0:
            k = int(np.searchsorted(t, self.time_s + SAME_TIME_S, side="right"))
            self.set_time(t[min(k, len(t) - 1)])
        else:
            k = int(np.searchsorted(t, self.time_s - SAME_TIME_S, side="left")) - 1
            self.set_time(t[max(k, 0)])

    def next_event(self, direction: int = 1) -> bool:
        """Go to the next (or previous) event time; returns False when there is none that way
        (and the corner box says so)."""
        times = self.event_times_s
        if direction > 0:
            later = times[times > self.time_s + SAME_TIME_S]
            if not len(later):
                self.notice = "no more events" if len(times) else "no events in this record"
                return False
            self.set_time(later[0])
        else:
            earlier = times[times < self.time_s - SAME_TIME_S]
            if not len(earlier):
                self.notice = "no earlier events" if len(times) else "no events in this record"
                return False
            self.set_time(earlier[-1])
        self.playing = False
        return True

    # -- toggles ------------------------------------------------------------------------------
    def toggle(self, what: str) -> None:
        """Flip one of the overlays: 'tint', 'trails', 'axes' or 'help'."""
        if what not in ("tint", "trails", "axes", "help"):
            raise ValueError(f"no overlay {what!r}")
        setattr(self, what, not getattr(self, what))

    # -- camera -------------------------------------------------------------------------------
    def select_preset(self, number: int) -> None:
        """Number keys: 1 scene keyframes, 2 whole station, 3 the interface, 4 follow the ROS."""
        if number not in PRESETS:
            return
        if number == 1 and self.keyframe_camera is None:
            number = 2
        if number == 3 and self.interface_anchor is None:
            number = 2
        self.preset = number
        self._camera_reset = True

    def camera_moved_by_user(self) -> None:
        """The mouse moved the camera. Keyframes give way to it (free camera); the other presets
        keep following their target with the user's view."""
        if self.preset == 1:
            self.preset = FREE

    def camera(self, current: CameraPose | None) -> CameraPose | None:
        """The camera for the current time, given the window's camera now; None leaves it alone.

        Preset 1 is the scene's keyframe camera. Presets 2-4 frame their target when selected and
        afterwards move the camera with the target (keeping whatever view the mouse made).
        """
        if self.preset == FREE:
            return None
        if self.preset == 1:
            assert self.keyframe_camera is not None
            pos, focal, up, angle = self.keyframe_camera(self.time_s)
            return CameraPose(np.asarray(pos, float), np.asarray(focal, float), np.asarray(up, float), float(angle))
        anchor, radius = self._target()
        # the bounding sphere fits the view's height; 0.85 because the station is flat (its
        # truss and arrays lie across the wide side of a 16:9 window), not a ball
        # (the two faces of preset 3 may lie along the view's height: they get the whole sphere
        # and a margin)
        distance = radius / math.sin(math.radians(PRESET_VIEW_ANGLE_DEG) / 2) * (1.15 if self.preset == 3 else 0.85)
        if self._camera_reset or current is None or self._anchor_m is None:
            self._camera_reset = False
            self._anchor_m = anchor
            self._framed_m = distance
            view_from = {2: WHOLE_STATION_FROM, 3: self._interface_view_from(), 4: FOLLOW_FROM}[self.preset]
            return CameraPose(anchor + distance * view_from, anchor, ZENITH_UP.copy(), PRESET_VIEW_ANGLE_DEG)
        delta = anchor - self._anchor_m
        self._anchor_m = anchor
        moved = current.translated(delta)
        if self.preset != 3:
            return moved
        # the interface: keep the user's direction and zoom, and back off as the gap grows so that
        # both faces stay in the picture
        offset = moved.position_m - moved.focal_point_m
        now_m = float(np.linalg.norm(offset))
        if now_m <= 0 or not self._framed_m:
            return moved
        zoom = now_m / self._framed_m  # the user's wheel: kept as a factor on the framing distance
        self._framed_m = distance
        return CameraPose(moved.focal_point_m + offset / now_m * distance * zoom, moved.focal_point_m, moved.view_up,
                          moved.view_angle_deg)

    def _interface_view_from(self) -> np.ndarray:
        """INTERFACE_FROM made square to the line between the interface's two parts (unit (3,))."""
        assert self.interface_anchor is not None
        pos, _ = self.poses()
        (kc, _), (kp, _) = self.interface_anchor
        line = pos[kc] - pos[kp]
        if np.linalg.norm(line) < 1e-6:
            return INTERFACE_FROM.copy()
        line = line / np.linalg.norm(line)
        square = INTERFACE_FROM - np.dot(INTERFACE_FROM, line) * line
        return _unit(square) if np.linalg.norm(square) > 0.1 else INTERFACE_FROM.copy()

    def _target(self) -> tuple[np.ndarray, float]:
        """(anchor point (3,) m LVLH, radius m to frame) of the current preset."""
        pos, quat = self.poses()
        if self.preset == 3:
            assert self.interface_anchor is not None
            faces = [pos[k] + quat_to_matrix(quat[k]) @ offset for k, offset in self.interface_anchor]
            gap_m = float(np.linalg.norm(faces[0] - faces[1]))
            return np.mean(faces, axis=0), 0.5 * gap_m + INTERFACE_MARGIN_M
        mask = self.follow_mask if self.preset == 4 else np.ones(len(pos), bool)
        com = centre_of_mass(pos, self.record.mass, mask)
        reach = np.linalg.norm(pos[mask] - com, axis=1) + self.part_radius_m[mask]
        return com, float(reach.max())

    # -- picking and text ---------------------------------------------------------------------
    def pick(self, part_name: str | None) -> None:
        """A click hit part_name (None: it hit nothing, which clears the info box)."""
        if part_name is not None and part_name not in set(self.record.names):
            raise KeyError(f"no part {part_name!r}")
        self.picked = part_name

    def velocity_at(self, t_s: float) -> np.ndarray:
        """(B, 3) velocities at t_s, m/s LVLH, linear between samples (exact at samples)."""
        t = self.record.t
        k = int(np.clip(np.searchsorted(t, t_s, side="right") - 1, 0, max(len(t) - 2, 0)))
        if len(t) == 1:
            return self.record.vel[0].copy()
        f = float(np.clip((t_s - t[k]) / (t[k + 1] - t[k]), 0.0, 1.0))
        return (1 - f) * self.record.vel[k] + f * self.record.vel[k + 1]

    def info_text(self) -> str:
        """What the info box says about the picked part at the current time ('' with none)."""
        if self.picked is None:
            return ""
        k = self.record.part_index(self.picked)
        v = self.velocity_at(self.time_s)[k]
        lines = (f"{self.part_labels[self.picked]}\n"
                f"part     {self.picked}\n"
                f"segment  {self.record.segment[k]}\n"
                f"mass     {self.record.mass[k]:,.0f} kg\n"
                f"velocity {np.linalg.norm(v):.4f} m/s LVLH\n"
                f"  ({v[0]:+.4f}, {v[1]:+.4f}, {v[2]:+.4f}) m/s x,y,z").split("\n")
        width = max(map(len, lines))
        return "\n".join(line.ljust(width) for line in lines)  # a block in a monospace font

    def separation_at(self) -> tuple[float, float] | None:
        """(distance m, rate m/s) between the sides' centres of mass now, or None."""
        if self._separation is None:
            return None
        dist, rate = self._separation
        return float(np.interp(self.time_s, self.record.t, dist)), float(np.interp(self.time_s, self.record.t, rate))

    def status_text(self) -> str:
        """The corner text: clock, separation, playback."""
        m, s = divmod(self.time_s, 60.0)
        lines = [f"t = {self.time_s:8.2f} s  ({int(m):02d}:{s:05.2f})  of {self.t_end_s:g} s"]
        sep = self.separation_at()
        if sep is not None:
            assert self.first_separation_s is not None
            if self.time_s < self.first_separation_s:
                lines.append(f"docked; undocking at t = {self.first_separation_s:g} s")
            else:
                lines.append(f"separation {sep[0]:8.2f} m (CoM to CoM), rate {sep[1]:+.3f} m/s")
                if self.clearance_m is not None:
                    gap = float(np.interp(self.time_s, self.record.t, self.clearance_m))
                    if math.isfinite(gap):
                        lines.append(f"clearance  {gap:8.2f} m")
        past = [t for t, _ in self.events if t <= self.time_s + SAME_TIME_S]
        if past:
            grouped: dict[str, list[str]] = {}  # to what -> what happened, in order
            for t, what, detail in self._event_words:
                if t == past[-1] and what not in grouped.setdefault(detail, []):
                    grouped[detail].append(what)
            said = "; ".join(f"{detail}: {', '.join(whats)}" if detail else ", ".join(whats)
                             for detail, whats in grouped.items())
            lines.append(f"t = {past[-1]:g} s: {said}")
        if self.notice:
            lines.append(self.notice)
        state = "playing" if self.playing else "paused"
        camera = f"follow {self.follow_label}" if self.preset == 4 else PRESETS.get(self.preset, "free")
        scale = f" at {self.resolution_scale:.2f} scale" if self.resolution_scale < 1.0 else ""
        rate = f"   {self.frame_rate_hz:4.1f} frames/s{scale}" if self.frame_rate_hz is not None else ""
        lines.append(f"{state} x{self.speed:g}   camera: {camera}{rate}   h: help")
        return "\n".join(lines)

    def trail_points(self) -> dict[str, np.ndarray]:
        """Each trail group's centre-of-mass path (N, 3) m LVLH from the start to now."""
        t = self.record.t
        k = int(np.searchsorted(t, self.time_s - SAME_TIME_S, side="left"))
        pos_now, _ = self.poses()
        out = {}
        for label, mask in self.groups.items():
            now = centre_of_mass(pos_now, self.record.mass, mask)
            out[label] = np.vstack([self._group_paths[label][:k], now[None]])
        return out


def _event_words(e: dict[str, Any], labels: Mapping[str, str]) -> tuple[str, str]:
    """An event in plain words: (what happened, to what): ('interface opened', 'Zarya (FGB) / PMA-1')."""
    def named(names: list[str]) -> str:
        return " / ".join(labels.get(str(n), str(n)) for n in names)

    what = EVENT_KINDS.get(e["kind"], str(e["kind"]).replace("_", " "))
    if "interface" in e:
        detail = named(str(e["interface"]).split("/"))
    elif "part" in e:
        detail = named([e["part"]])
    elif "parts" in e:
        detail = named(list(e["parts"]))
    else:
        detail = ""
    return what, detail


def _first_burn_group(record: Record) -> np.ndarray:
    """(B,) mask of the first burn's part and the parts of its rigid body at the burn (the whole
    station when the record has no burn or no body indices)."""
    burns = record.events_of("burn_start")
    if not burns or burns[0].get("part") not in set(record.names):
        return np.ones(len(record.names), bool)
    k = record.part_index(burns[0]["part"])
    body = record.extra.get("body_index")
    if body is None:
        return np.ones(len(record.names), bool)
    i = int(np.clip(np.searchsorted(record.t, burns[0]["t"]), 0, len(record.t) - 1))
    return np.asarray(body[i] == body[i, k])


def _trail_groups(record: Record, sides: tuple[np.ndarray, np.ndarray] | None) -> dict[str, np.ndarray]:
    """Parts whose common centre of mass gets a trail: the two sides of the first separation,
    named after the segment that has most of their mass, or else one group per segment."""
    if sides is None:
        return {str(s): record.segment == s for s in dict.fromkeys(record.segment)}
    out: dict[str, np.ndarray] = {}
    for mask in sides:
        label = _dominant_segment(record, mask)
        out[label if label not in out else f"{label} (2)"] = mask
    return out


def _dominant_segment(record: Record, mask: np.ndarray) -> str:
    """The segment holding most of the mass of the parts selected by mask (B,)."""
    segs = record.segment[mask]
    masses = {str(s): float(record.mass[mask][segs == s].sum()) for s in set(segs)}
    return max(masses, key=lambda s: masses[s])


# --- the window ------------------------------------------------------------------------------
class NoDisplayError(InputError, RuntimeError):
    """No X display to open a window on; the message says what to do instead."""


NO_DISPLAY_HINT = ("to view it in a browser use 'issvis view SCENE_OR_RECORD --web'; for a video use "
                   "'issvis render SCENE_OR_RECORD -o OUT.mp4'; for a window without a screen, 'xvfb-run -a issvis view ...'")


def check_display() -> None:
    """Raise NoDisplayError unless an X display can be opened (asked of Xlib, as VTK will)."""
    import ctypes
    import ctypes.util
    import os

    name = os.environ.get("DISPLAY", "")
    if not name:
        raise NoDisplayError(f"no display (DISPLAY is not set); {NO_DISPLAY_HINT}")
    lib = ctypes.util.find_library("X11")
    if lib is None:
        raise NoDisplayError(f"cannot open display {name!r}: libX11 is not installed; {NO_DISPLAY_HINT}")
    x11 = ctypes.CDLL(lib)
    x11.XOpenDisplay.restype = ctypes.c_void_p
    x11.XOpenDisplay.argtypes = [ctypes.c_char_p]
    x11.XCloseDisplay.argtypes = [ctypes.c_void_p]
    handle = x11.XOpenDisplay(name.encode())
    if not handle:
        raise NoDisplayError(f"cannot open display {name!r}; {NO_DISPLAY_HINT}")
    x11.XCloseDisplay(handle)


def render_settings_of(record: Record) -> RenderSettings:
    """The scene's ``[render]`` settings (a ``RenderSettings``) stored in the record; the defaults
    when it has none, or when this version of issvis no longer accepts them (a record stays
    viewable; only the keyframe camera and look fall back to the defaults). The video reads them
    the same way (``record.scene_of.settings_of``), but refuses invalid ones."""
    from ..record.scene_of import settings_of
    from ..scene.render_settings import RenderSettings, RenderSettingsError

    try:
        return settings_of(record)[0]
    except RenderSettingsError:
        return RenderSettings()


def interface_anchor_of(record: Record) -> tuple[tuple[int, np.ndarray], ...] | None:
    """((part index, offset (3,) m of the interface point in that part's frame) for the child and
    the parent part of the record's first separation), or None without one."""
    from ..record.scene_of import interface_faces_of

    faces = interface_faces_of(record)
    if faces is None:
        return None
    ci, pc, pi, pp = faces
    return ((ci, pc), (pi, pp))


#: While nothing is due (paused, nothing changed), the timer looks again after this long, ms. While
#: playing it is armed for the moment the next frame may be drawn (the end of the last render plus
#: its share of idle time, below), so the frame period follows the render time instead of waiting
#: for the next turn of a fixed tick (a 15 ms repeating tick made it d + 15 ms for a d s frame).
IDLE_TICK_MS = 15
#: Share of wall time the window may spend rendering: after a frame that took d seconds, the next
#: waits at least d * (1 - RENDER_DUTY) / RENDER_DUTY, so the event loop always gets time to
#: answer keys and the mouse. Besides, no frame is drawn while X input waits in the queue: inputs
#: come first, and any number of them make one frame (VTK's loop reads all waiting X events before
#: it fires a timer, so a key waits for at most the frame being drawn). Under load frames are
#: dropped (playback follows the wall clock); renders are never queued. 0.9 rather than 0.8: 4 ms
#: of idle after a 40 ms frame instead of 10, 1.1-1.6 times the frame rate in the same run, with
#: keys on screen as soon or sooner (docs/viewer.md).
RENDER_DUTY = 0.9
#: Longest a frame waits for queued input to be read, s: a pointer moving over the window sends
#: motion events all the time, and playback must not stop for them.
INPUT_FIRST_MAX_S = 0.2
HIGHLIGHT_COLOUR = "#ffe14a"
#: Edges between faces bent more than this are outlined with the silhouette, deg (a module's ends,
#: a radiator's rim; not the facets of a cylinder, which bend by 360/16 = 22.5 deg or less).
OUTLINE_FEATURE_ANGLE_DEG = 60.0
#: How far the outline is pulled towards the eye, in VTK's coincident-topology units (depth steps).
OUTLINE_DEPTH_OFFSET = 4.0
KEYS: dict[str, tuple[str, ...]] = {
    "play": ("space",),
    "faster": ("plus", "equal", "KP_Add"),
    "slower": ("minus", "underscore", "KP_Subtract"),
    "step_next": ("Right",),
    "step_prev": ("Left",),
    "event_next": ("n", "e"),
    "event_prev": ("N", "E"),
    "preset1": ("1", "KP_1", "KP_End"),
    "preset2": ("2", "KP_2", "KP_Down"),
    "preset3": ("3", "KP_3", "KP_Next"),
    "preset4": ("4", "KP_4", "KP_Left"),
    "tint": ("t",),
    "trails": ("r",),
    "axes": ("a",),
    "help": ("h", "question"),
}
#: Dynamic resolution (as games do): while the picture moves (playing, rotating with the mouse,
#: dragging the slider) the 3D scene is drawn at one of these fractions of the window's width and
#: height and stretched over it (the text and the slider stay sharp); at rest one frame at full
#: resolution. A frame's cost on a software renderer is mostly per pixel (the stage's shaders).
SCALE_STEPS = (1.0, 0.85, 0.7, 0.6, 0.5, 0.42, 0.35)
#: The frame rate the scale is chosen to hold while the picture moves, frames/s.
TARGET_MOVING_FPS = 20.0
#: Scale of the first moving frames, before any was measured (it settles within a second or two:
#: llvmpipe at 1280x720 on 2 loaded cores went to the smallest step; quick frames step up to 1).
START_SCALE = 0.7
# OpenGL's numbers for the scaled copy (vtkOpenGLState takes them as integers)
GL_READ_FRAMEBUFFER, GL_DRAW_FRAMEBUFFER = 0x8CA8, 0x8CA9
GL_COLOR_BUFFER_BIT, GL_LINEAR, GL_NEAREST, GL_SCISSOR_TEST = 0x4000, 0x2601, 0x2600, 0x0C11
VTK_UNSIGNED_CHAR = 3
VTKIS_ROTATE = 1  # vtkInteractorStyle's state while the left button rotates
#: After a move of the slider, frames are moving frames for this long, s; then one at full resolution.
SCRUB_MOVING_S = 0.3
#: A step is judged on the median of this many frames drawn at it.
SCALE_SAMPLES = 6
#: A step found too slow is not tried again for this long, s (no see-saw between two steps).
SLOW_MEMORY_S = 5.0


class MovingScale:
    """The dynamic resolution's scale for moving frames, from their measured work times.

    ``frame(work_s, now_s)`` takes one moving frame's work (the state's update and the render; the
    render alone for the mouse's frames); after SCALE_SAMPLES of them at a step their median moves
    the scale one step down when frames cannot keep TARGET_MOVING_FPS (work over its share
    RENDER_DUTY of the frame interval: each render is followed by its share of idle time, so that
    work makes a frame every 1 / TARGET_MOVING_FPS) and one step up when they are well under it
    (0.6 x), unless that larger step was found slow in the last SLOW_MEMORY_S.
    No VTK here: tests feed it times.
    """

    def __init__(self, start: float = START_SCALE, target_fps: float = TARGET_MOVING_FPS) -> None:
        self._samples: list[float] = []
        self.reset(start)
        self.budget_s = RENDER_DUTY / target_fps
        self._slow_at = [-math.inf] * len(SCALE_STEPS)

    @property
    def scale(self) -> float:
        return SCALE_STEPS[self.step]

    def reset(self, scale: float) -> None:
        """Start again at ``scale`` (one of SCALE_STEPS), with no frames measured."""
        if scale not in SCALE_STEPS:
            raise ValueError(f"scale {scale} is not one of {SCALE_STEPS}")
        self.step = SCALE_STEPS.index(scale)
        self._samples.clear()

    def frame(self, render_s: float, now_s: float) -> float:
        """One moving frame's render time, s (perf_counter ``now_s``); the scale for the next ones."""
        if not 0.0 < render_s < 1.0:  # a stall (the window dragged, covered), not the frame's cost
            return self.scale
        self._samples.append(render_s)
        if len(self._samples) < SCALE_SAMPLES:
            return self.scale
        median = sorted(self._samples)[len(self._samples) // 2]
        self._samples.clear()
        if median > self.budget_s and self.step < len(SCALE_STEPS) - 1:
            self._slow_at[self.step] = now_s
            self.step += 1
        elif median < 0.6 * self.budget_s and self.step > 0 and now_s - self._slow_at[self.step - 1] > SLOW_MEMORY_S:
            self.step -= 1
        return self.scale


#: pyvista's own bindings that would fight ours (point size on +/-, zoom on Up/Down, ...); 'q' stays.
PYVISTA_KEYS_DROPPED = ("plus", "minus", "Up", "Down", "v", "b", "C")
TRAIL_COLOURS = ("#ff5a36", "#3aa0ff", "#ffd23a", "#7cff6b", "#d77cff", "#3affe0", "#ffffff")
AXIS_LENGTH_M = 40.0


class ViewerWindow:
    """A pyvista window around a ViewerState: stage, slider, keys, mouse picking, timer, text.

    Every input goes through ``handle_key``, ``on_slider``, ``pick_at`` or ``tick``, then
    ``refresh`` makes the picture agree with the state.
    """

    def __init__(self, record: Record, settings: RenderSettings | None = None, *, window_size: tuple[int, int] = (1280, 720),
                 off_screen: bool = False, preview: bool = True, merge: bool = True,
                 dynamic_resolution: bool = True) -> None:
        import pyvista as pv

        from ..record.scene_of import part_labels_of
        from ..station.assets import part_visuals_for_record
        from . import stage as stage_module
        from .camera import camera_at, clip_for
        from .video import _prefer_egl

        self.record = record
        self.settings = settings if settings is not None else render_settings_of(record)
        title = record.meta.get("title") or "issvis"
        # an off-screen window asks for EGL without a display: VTK's failed X attempt would leave
        # every later window of the process on EGL too (no real window under Xvfb afterwards)
        with _prefer_egl() if off_screen else contextlib.nullcontext():
            self.plotter = pv.Plotter(window_size=list(window_size), off_screen=off_screen,
                                      title=f"issvis view - {title}")
        # Mesa's llvmpipe (software GL) pays for every sample: pyvista's default 8x MSAA costs
        # several times the frame time of the whole scene, so the viewer draws one sample per pixel.
        render_window = self.plotter.render_window
        assert render_window is not None  # None only once the plotter is closed
        render_window.SetMultiSamples(0)
        # VTK's default blit to the hardware buffer copies colour and depth to the window each frame;
        # blitting the colour to the current (the window's) buffer shows the same picture for about
        # 10 ms less a frame on llvmpipe at 1280x720 (a bare window: 16 -> 8 ms)
        render_window.SetFrameBlitModeToBlitToCurrent()
        if not off_screen and "EGL" in render_window.GetClassName():
            # VTK falls back to an invisible EGL window when it cannot reach the X server
            self.plotter.close()
            raise NoDisplayError(f"VTK could not open a window on the X display; {NO_DISPLAY_HINT}")
        # merge: the parts of each rigid group drawn as one actor per material (about 40 draw calls
        # instead of 430: on llvmpipe the per-actor cost was most of a frame); picking names the
        # part from the picked triangle (Stage.part_at)
        # no shadows, even at full quality (preview=False): VTK's shadow pass cannot draw the window's
        # unlit lines (trails, outline, labels), and printed GLSL errors for each of them
        self.stage = stage_module.Stage(self.plotter, record, self.settings, preview=preview, shadows=False,
                                        merge=merge)
        self._build_scaling(dynamic_resolution)
        # the trails of the two sides in the stage's tint colours (departing, remaining)
        self._side_colours = [tuple(c) for c in getattr(stage_module, "TINTS", {}).values()]
        #: name -> the coarse meshes of each part in its own frame: the picked part's outline, framing
        self._part_meshes = part_visuals_for_record(record, coarse=True)
        radii = np.full(len(record.names), 15.0)
        for name, meshes in self._part_meshes.items():
            if meshes:
                points = np.vstack([vm.vertices_m for vm in meshes])
                radii[record.part_index(name)] = 0.5 * float(np.linalg.norm(points.max(axis=0) - points.min(axis=0)))
        settings_, clip = self.settings, clip_for(self.settings, record)

        def keyframe_camera(t_s: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:  # camera_at takes video time; the viewer knows record time
            return camera_at(clip.time.video(t_s), settings_, record)

        self.state = ViewerState(record, keyframe_camera=keyframe_camera,
                                 interface_anchor=interface_anchor_of(record), part_radius_m=radii,
                                 part_labels=part_labels_of(record))
        self._build_overlays(pv)
        self._bind_inputs()
        self._shown: dict[str, Any] = {}
        self._open = False
        self._interacting = False
        self._rotating = False
        self._exit_at: float | None = None
        self._last_camera: CameraPose | None = None
        self.frame_times_s: list[float] = []  # perf_counter at the end of each render
        self.render_durations_s: list[float] = []
        self.inputs_answered: list[tuple[float, float]] = []  # (perf_counter of the input, of its frame)
        self._pending_inputs: list[float] = []
        self._dirty = False  # the state changed since the picture was last drawn
        self._dirty_since = 0.0  # perf_counter when it did
        self._next_frame_at = 0.0  # perf_counter before which the timer draws no frame
        self._input_waiting: Callable[[], bool] | None = None  # set once the window is mapped
        self._timer_id: int | None = None  # VTK's id of the one armed one-shot timer (None: none armed)
        self._last_tick = time.perf_counter()
        self._playing_since = 0.0  # perf_counter when playback last started
        self.refresh(force=True)

    # -- building -----------------------------------------------------------------------------
    def _text(self, x: float, y: float, size: int, justify: str, background: bool = False) -> Any:
        from vtkmodules.vtkRenderingCore import vtkTextActor

        actor = vtkTextActor()
        actor.GetPositionCoordinate().SetCoordinateSystemToNormalizedViewport()
        actor.GetPositionCoordinate().SetValue(x, y)
        prop = actor.GetTextProperty()
        prop.SetFontFamilyToCourier()
        prop.SetFontSize(size)
        prop.SetColor(1.0, 1.0, 1.0)
        prop.SetShadow(True)
        prop.SetVerticalJustificationToTop()
        {"left": prop.SetJustificationToLeft, "right": prop.SetJustificationToRight,
         "centre": prop.SetJustificationToCentered}[justify]()
        if background:
            prop.SetBackgroundColor(0.05, 0.05, 0.1)
            prop.SetBackgroundOpacity(0.75)
            prop.SetFrame(True)
        actor.SetPickable(False)
        self.overlay.AddActor(actor)  # drawn at full resolution over the (maybe scaled) scene
        return actor

    def _build_scaling(self, dynamic: bool) -> None:
        """The dynamic resolution: a top layer for the text and the slider (always at full
        resolution), and the copy that scales the scene's smaller picture up to the window.

        While the picture moves, the stage's two renderers (far field, station) draw into the
        lower-left ``scale`` x ``scale`` of the window's render framebuffer (their viewports); when the
        station's renderer ends, that corner is copied into a second framebuffer and stretched
        (bilinear) back over the whole render framebuffer, then the top layer draws.
        ``dynamic=False``: every frame at full resolution."""
        from vtkmodules.vtkRenderingCore import vtkRenderer
        from vtkmodules.vtkRenderingOpenGL2 import vtkOpenGLFramebufferObject

        rw = self.plotter.render_window
        assert rw is not None
        self.overlay = vtkRenderer()
        self.overlay.SetLayer(rw.GetNumberOfLayers())
        rw.SetNumberOfLayers(rw.GetNumberOfLayers() + 1)
        self.overlay.SetInteractive(False)  # the mouse turns the station's camera, not this one's
        rw.AddRenderer(self.overlay)
        self.moving_scale: MovingScale | None = MovingScale() if dynamic else None
        self.scale_now = 1.0
        self._stretch = vtkOpenGLFramebufferObject()
        self._stretch_size = (0, 0)
        self.plotter.renderer.AddObserver("EndEvent", self._scale_up)
        self._moving = False  # the frames drawn now are moving frames (they measure the scale)
        self._scrubbing_until = 0.0  # perf_counter until which slider moves draw moving frames
        self._render_started = 0.0
        self._frame_started: float | None = None  # perf_counter when refresh() began the frame now drawn
        rw.AddObserver("StartEvent", self._on_render_start)
        rw.AddObserver("EndEvent", self._on_render_end)

    def _on_render_start(self, *_: Any) -> None:
        self._render_started = time.perf_counter()

    def _on_render_end(self, *_: Any) -> None:
        """A moving frame's work time sets the scale of the next (the mouse's renders too)."""
        if self._moving and self.moving_scale is not None:
            now = time.perf_counter()
            # the frame's work: from refresh's start when it drew it (the state's update is part
            # of what a frame costs), else the render alone (the mouse's renders, screenshots)
            start = self._render_started if self._frame_started is None else self._frame_started
            self.set_scale(self.moving_scale.frame(now - start, now))
        self._frame_started = None

    def _apply_scale(self) -> None:
        """Moving frames (playing, rotating) at the dynamic resolution's scale; a still one at full."""
        self._moving = self._moving_now()
        scale = self.moving_scale.scale if self._moving and self.moving_scale is not None else 1.0
        self.set_scale(scale)

    def _moving_now(self) -> bool:
        """Whether the picture moves: playing, rotated by the mouse, or the slider dragged just now."""
        return (self.state.playing or (self._interacting and self._rotating)
                or time.perf_counter() < self._scrubbing_until)

    def _scaled_renderers(self) -> tuple[Any, ...]:
        return (self.stage.far, self.plotter.renderer)

    def set_scale(self, scale: float) -> None:
        """Draw the 3D scene at ``scale`` of the window's width and height from the next frame on."""
        if scale == self.scale_now:
            return
        self.scale_now = scale
        for renderer in self._scaled_renderers():
            renderer.SetViewport(0.0, 0.0, scale, scale)
        self.state.resolution_scale = scale

    def _scale_up(self, *_: Any) -> None:
        """After the station's renderer: stretch the scaled corner over the whole render framebuffer."""
        if self.scale_now >= 1.0:
            return
        rw = self.plotter.render_window
        assert rw is not None
        w, h = rw.GetSize()
        sw, sh = self.plotter.renderer.GetSize()
        state = rw.GetState()
        target = rw.GetRenderFramebuffer()
        if self._stretch.GetContext() is None:
            self._stretch.SetContext(rw)
        if self._stretch_size != (w, h):
            if self._stretch_size == (0, 0):
                self._stretch.PopulateFramebuffer(w, h, True, 1, VTK_UNSIGNED_CHAR, False, 0, 0, False)
            else:
                self._stretch.Resize(w, h)
            self._stretch_size = (w, h)
        state.PushFramebufferBindings()
        state.vtkglDisable(GL_SCISSOR_TEST)  # a blit is clipped by the scissor (the renderer's viewport)
        # the corner out as it is (small), then stretched back over the whole framebuffer: one
        # full-size copy a frame (a blit within one framebuffer may not overlap itself)
        target.Bind(GL_READ_FRAMEBUFFER)
        target.ActivateReadBuffer(0)
        self._stretch.Bind(GL_DRAW_FRAMEBUFFER)
        self._stretch.ActivateDrawBuffer(0)
        state.vtkglBlitFramebuffer(0, 0, sw, sh, 0, 0, sw, sh, GL_COLOR_BUFFER_BIT, GL_NEAREST)
        self._stretch.Bind(GL_READ_FRAMEBUFFER)
        self._stretch.ActivateReadBuffer(0)
        target.Bind(GL_DRAW_FRAMEBUFFER)
        target.ActivateDrawBuffer(0)
        state.vtkglBlitFramebuffer(0, 0, sw, sh, 0, 0, w, h, GL_COLOR_BUFFER_BIT, GL_LINEAR)
        state.PopFramebufferBindings()
        state.vtkglEnable(GL_SCISSOR_TEST)

    def _build_overlays(self, pv: Any) -> None:
        size = max(9, round(15 * self.plotter.window_size[1] / 720))  # 15 pt at 720 rows
        self.status_actor = self._text(0.01, 0.98, size, "left", background=True)
        self.info_actor = self._text(0.99, 0.98, size, "right", background=True)
        self.help_actor = self._text(0.33, 0.8, size, "left", background=True)
        self.help_actor.GetTextProperty().SetBackgroundOpacity(1.0)  # opaque: the scene must not show through
        self.help_actor.GetTextProperty().SetShadow(False)
        self.help_actor.SetInput(HELP_TEXT)
        self._build_highlight(pv)
        self.trail_meshes: dict[str, Any] = {}
        self.trail_actors: list[Any] = []
        colours = self._side_colours if self.record.separation_sides() is not None else []
        for colour, label in zip([*colours, *TRAIL_COLOURS], self.state.groups):
            mesh = pv.PolyData(np.zeros((2, 3)), lines=[2, 0, 1])
            actor = self.plotter.add_mesh(mesh, color=colour, line_width=3, lighting=False, pickable=False,
                                          reset_camera=False, name=f"trail {label}")
            self.trail_meshes[label] = mesh
            self.trail_actors.append(actor)
        self.axes_actors = []
        for axis, colour in zip(np.eye(3), ("#ff4040", "#40ff40", "#4080ff")):
            arrow = pv.Arrow(start=(0.0, 0.0, 0.0), direction=axis, scale=AXIS_LENGTH_M, tip_length=0.12,
                             tip_radius=0.03, shaft_radius=0.008)
            self.axes_actors.append(self.plotter.add_mesh(arrow, color=colour, pickable=False, reset_camera=False))
        self.axes_actors.append(self.plotter.add_point_labels(
            np.eye(3) * AXIS_LENGTH_M * 1.08, ["x zenith", "y along-track", "z orbit normal"], font_size=14,
            text_color="white", shape=None, show_points=False, always_visible=True, reset_camera=False))
        t0, t1 = self.state.t_start_s, self.state.t_end_s
        self.slider = self.plotter.add_slider_widget(
            self.on_slider, [t0, t1], value=t0, title="record time, s", pointa=(0.25, 0.06),  # type: ignore[arg-type]
            pointb=(0.95, 0.06), style="modern", interaction_event="always", fmt="%.1f")  # pyvista's wraps(), as add_actor
        # on the top layer, at full resolution whatever the scene's scale (its points are in the window's
        # normalized coordinates)
        self.slider.Off()
        self.slider.SetDefaultRenderer(self.overlay)
        self.slider.SetCurrentRenderer(self.overlay)
        self.slider.On()
        rep = self.slider.GetRepresentation()
        rep.SetTubeWidth(0.004)
        rep.SetSliderLength(0.012)
        rep.SetSliderWidth(0.025)
        rep.SetEndCapWidth(0.02)
        # legible on any background: white bold text with a shadow, as tall as the corner box's
        rep.SetTitleHeight(0.03)
        rep.SetLabelHeight(0.028)
        for prop in (rep.GetTitleProperty(), rep.GetLabelProperty()):
            prop.SetColor(1.0, 1.0, 1.0)
            prop.SetBold(True)
            prop.SetShadow(True)

    def _build_highlight(self, pv: Any) -> None:
        """The picked part's outline: the silhouette and sharp edges of its coarse mesh as seen from
        the camera (``vtkPolyDataSilhouette``, recomputed when the camera or the part moves), drawn
        in front of the surface it lies on. Built for one part at a time, when it is picked."""
        from vtkmodules.vtkFiltersHybrid import vtkPolyDataSilhouette
        from vtkmodules.vtkRenderingCore import vtkActor, vtkPolyDataMapper

        self._outline_filter = vtkPolyDataSilhouette()
        self._outline_filter.SetCamera(self.plotter.renderer.GetActiveCamera())
        self._outline_filter.SetDirectionToCameraOrigin()
        self._outline_filter.BorderEdgesOn()
        self._outline_filter.SetEnableFeatureAngle(True)
        self._outline_filter.SetFeatureAngle(OUTLINE_FEATURE_ANGLE_DEG)
        mapper = vtkPolyDataMapper()
        mapper.SetInputConnection(self._outline_filter.GetOutputPort())
        # lines on the part's own edges: pulled towards the eye so the surface does not hide them
        mapper.SetResolveCoincidentTopologyToPolygonOffset()
        mapper.SetRelativeCoincidentTopologyLineOffsetParameters(0.0, -OUTLINE_DEPTH_OFFSET)
        self.highlight_actor = vtkActor()
        self.highlight_actor.SetMapper(mapper)
        prop = self.highlight_actor.GetProperty()
        prop.SetColor(*pv.Color(HIGHLIGHT_COLOUR).float_rgb)
        prop.SetLineWidth(3.0)
        prop.LightingOff()
        self.highlight_actor.SetPickable(False)
        self.highlight_actor.SetVisibility(False)
        self._outline_filter.SetProp3D(self.highlight_actor)  # the silhouette seen through its matrix
        self._outline_matrix = _vtk_matrix4(np.eye(4))
        self.highlight_actor.SetUserMatrix(self._outline_matrix)
        self._outline_of: str | None = None
        self.plotter.add_actor(self.highlight_actor, reset_camera=False, pickable=False, render=False)  # type: ignore[arg-type]

    def _outline_part(self, name: str | None) -> None:
        """Outline part ``name`` (None: no outline) at its pose now."""
        self.highlight_actor.SetVisibility(name is not None)
        if name is None:
            return
        if name != self._outline_of:
            self._outline_filter.SetInputData(_part_polydata(self._part_meshes[name]))
            self._outline_of = name
        pos, quat = self.state.poses()
        k = self.record.part_index(name)
        m = np.eye(4)
        m[:3, :3], m[:3, 3] = quat_to_matrix(quat[k]), pos[k]
        self._outline_matrix.DeepCopy([float(v) for v in m.ravel()])
        self.highlight_actor.Modified()
        self._outline_filter.Modified()

    def _bind_inputs(self) -> None:
        plotter = self.plotter
        for key in PYVISTA_KEYS_DROPPED:
            plotter.clear_events_for_key(key)  # type: ignore[arg-type]  # pyvista's wraps(), as add_actor
        for key in ("q", "Escape"):  # VTK's own 'q' is switched off with the rest, below
            plotter.add_key_event(key, self.quit)  # type: ignore[arg-type]  # pyvista's wraps(), as add_actor
        for action, keys in KEYS.items():
            for key in keys:
                plotter.add_key_event(key, lambda action=action: self.handle_key(action))  # type: ignore[arg-type]
        iren = self._iren().interactor
        # VTK's interactor style acts on characters of its own ('e' exits, 'r' resets the camera,
        # '3' turns on stereo, 'w' wireframe ...). An observer on the style's CharEvent replaces
        # that default handling; our keys come through KeyPressEvent.
        style = iren.GetInteractorStyle()
        style.AddObserver("CharEvent", lambda *_: None)
        style.AddObserver("StartInteractionEvent", self._on_start_interaction)
        style.AddObserver("EndInteractionEvent", self._on_end_interaction)
        # While a button is down the style holds the interactor's focus and sees the mouse events
        # alone, so a click (press and release in place) is watched on the style.
        style.AddObserver("LeftButtonPressEvent", self._on_left_press)
        style.AddObserver("LeftButtonReleaseEvent", self._on_left_release)
        iren.AddObserver("TimerEvent", self._on_timer)
        self._press_xy = (0, 0)
        from vtkmodules.vtkRenderingCore import vtkCellPicker

        # a cell picker: the station's actors are merged per rigid group and material, so the
        # triangle names the part
        self.picker = vtkCellPicker()
        self.picker.SetTolerance(0.0005)
        self.picker.PickFromListOn()

    # -- inputs -------------------------------------------------------------------------------
    def handle_key(self, action: str) -> None:
        """One key's action on the state, then the picture (keys and tests call this)."""
        st = self.state
        if action == "play":
            st.toggle_play()
            self._last_tick = self._playing_since = time.perf_counter()
        elif action == "faster":
            st.faster()
        elif action == "slower":
            st.slower()
        elif action in ("step_next", "step_prev"):
            st.step(1 if action == "step_next" else -1)
        elif action in ("event_next", "event_prev"):
            st.next_event(1 if action == "event_next" else -1)
        elif action.startswith("preset"):
            st.select_preset(int(action[-1]))
        elif action in ("tint", "trails", "axes", "help"):
            st.toggle(action)
        else:
            raise ValueError(f"no action {action!r}")
        self.changed()

    def on_slider(self, value: float) -> None:
        if abs(value - self.state.time_s) > SAME_TIME_S:
            self.state.scrub(value)
            self._scrubbing_until = time.perf_counter() + SCRUB_MOVING_S  # dragging: moving frames
            self.changed()

    def changed(self) -> None:
        """The state changed: draw now if the frame budget allows, else when the timer next fires,
        armed for the moment it does (inputs between two frames make one frame; none waits in a
        queue of renders)."""
        self._mark_dirty()
        self._pending_inputs.append(time.perf_counter())
        if self._frame_due():
            self.refresh()
        self._arm_timer()

    def _mark_dirty(self) -> None:
        if not self._dirty:
            self._dirty, self._dirty_since = True, time.perf_counter()

    def _frame_due(self) -> bool:
        """Whether a frame may be drawn now: the budget allows it and no input waits (for at most
        INPUT_FIRST_MAX_S)."""
        if not self._open:
            return True
        now = time.perf_counter()
        if now < self._next_frame_at:
            return False
        if now - self._dirty_since > INPUT_FIRST_MAX_S:
            return True
        return not (self._input_waiting is not None and self._input_waiting())

    def tick(self, wall_dt_s: float) -> None:
        """Advance playback by wall_dt_s of real time (the timer calls this); draw when due."""
        moved = self.state.advance(wall_dt_s)  # the clock keeps to the wall, up to the loop's end
        if self.state.quit_requested:  # the loop ends at its next turn: no frame for nobody
            return
        if moved:
            self._mark_dirty()
        elif self._shown.get("status") != self.state.status_text():
            self._mark_dirty()  # playback just stopped at the end
        elif self.scale_now < 1.0 and not self._moving_now():
            self._mark_dirty()  # the slider came to rest: one frame at full resolution
        if self._dirty and self._frame_due():
            self.refresh()

    def _on_timer(self, *_: Any) -> None:
        if self._timer_id is not None:  # it fired: VTK forgets its platform timer, we its id
            self._iren().interactor.DestroyTimer(self._timer_id)
            self._timer_id = None
        try:
            now = time.perf_counter()
            dt, self._last_tick = now - self._last_tick, now
            self.tick(dt)
            if self._exit_at is not None and now >= self._exit_at:
                self._exit_at, self._timed_out = None, True
                self._iren().interactor.TerminateApp()
        finally:
            self._arm_timer()  # whatever happened above, the window keeps its clock

    def next_tick_s(self, now_s: float) -> float:
        """How long the timer waits before its next turn, s (perf_counter ``now_s``): until the next
        frame may be drawn while one is wanted (playing, or a change not drawn yet), at most until
        the slider's moving frames end and ``run``'s exit time, else IDLE_TICK_MS."""
        wait = IDLE_TICK_MS / 1000
        if self.state.playing or self._dirty:
            wait = self._next_frame_at - now_s
        if self.scale_now < 1.0 and self._scrubbing_until > now_s:
            wait = min(wait, self._scrubbing_until - now_s)
        if self._exit_at is not None:
            wait = min(wait, self._exit_at - now_s)
        return max(wait, 0.001)

    def _arm_timer(self) -> None:
        """Arm one one-shot timer for the next turn (``next_tick_s``), replacing any armed one."""
        if not self._open:
            return
        interactor = self._iren().interactor
        if self._timer_id is not None:
            interactor.DestroyTimer(self._timer_id)
        # whole milliseconds, rounded up: a turn that comes early would find nothing due
        self._timer_id = interactor.CreateOneShotTimer(max(1, math.ceil(1000 * self.next_tick_s(time.perf_counter()))))

    def pick_at(self, x: int, y: int) -> str | None:
        """Pick the part under display pixel (x, y) (origin lower left); it goes to the info box."""
        self.picker.InitializePickList()  # the actors that draw the station now (they change at a split)
        for actor in self.stage.station_actors:
            self.picker.AddPickList(actor)
        # the renderer's pixels are the window's times the scale while the scene is drawn smaller
        x_r, y_r = (x * self.scale_now, y * self.scale_now) if self.scale_now < 1.0 else (x, y)
        hit = self.picker.Pick(x_r, y_r, 0.0, self.plotter.renderer)
        name = self.stage.part_at(self.picker.GetActor(), self.picker.GetCellId()) if hit else None
        self.state.pick(name)
        self.changed()
        return name

    def _on_left_press(self, *_: Any) -> None:
        self._press_xy = self._iren().interactor.GetEventPosition()

    def _on_left_release(self, *_: Any) -> None:
        x, y = self._iren().interactor.GetEventPosition()
        if abs(x - self._press_xy[0]) + abs(y - self._press_xy[1]) <= 3:  # a click, not a drag
            self.pick_at(x, y)

    def _on_start_interaction(self, *_: Any) -> None:
        self._interacting = True  # the mouse has the camera; playback must not fight it
        # rotating draws moving frames (at the dynamic resolution); panning and zooming keep the full
        # one: VTK's pan and dolly move by the renderer's pixels, which a smaller picture would change
        self._rotating = self._iren().interactor.GetInteractorStyle().GetState() == VTKIS_ROTATE
        self._apply_scale()

    def _on_end_interaction(self, *_: Any) -> None:
        self._interacting = self._rotating = False
        if self._last_camera is not None and not _same_camera(self._camera_now(), self._last_camera):
            self.state.camera_moved_by_user()
            self.changed()
        elif self.scale_now < 1.0:
            self.changed()  # at rest again: one frame at full resolution

    def _iren(self) -> RenderWindowInteractor:
        """pyvista's interactor of the window (the plotter drops it once closed)."""
        iren = self.plotter.iren
        assert iren is not None, "the viewer window is closed"
        return iren

    # -- output -------------------------------------------------------------------------------
    def _camera_now(self) -> CameraPose:
        cam = self.plotter.camera
        return CameraPose(np.array(cam.position), np.array(cam.focal_point), np.array(cam.up), float(cam.view_angle))

    def refresh(self, force: bool = False) -> None:
        """Make the picture agree with the state, then render once."""
        self._frame_started = time.perf_counter()
        st, shown = self.state, self._shown
        if force or shown.get("t") != st.time_s:
            self.stage.set_time(st.time_s, poses=st.poses())
            self.slider.GetRepresentation().SetValue(st.time_s)
            shown["t"] = st.time_s
        if force or shown.get("tint") != st.tint:
            self.stage.tint_segments(st.tint)
            shown["tint"] = st.tint
        pose = None if self._interacting else st.camera(self._camera_now())
        if pose is not None:
            # through VTK's setters: pyvista's would reset the clipping range over Earth's bounds
            # each time (2 ms); the stage sets the clipping range before every render anyway
            cam = self.plotter.renderer.GetActiveCamera()
            cam.SetPosition(*pose.position_m)
            cam.SetFocalPoint(*pose.focal_point_m)
            cam.SetViewUp(*pose.view_up)
            cam.SetViewAngle(pose.view_angle_deg)
            self.plotter.renderer.camera_set = True  # pyvista must not reset it on the first show
        self._last_camera = self._camera_now()
        if st.trails:
            import pyvista as pv

            for label, points in st.trail_points().items():
                if len(points) < 2:
                    points = np.vstack([points, points])
                self.trail_meshes[label].copy_from(pv.lines_from_points(points))
        for actor in self.trail_actors:
            actor.SetVisibility(st.trails)
        self._outline_part(st.picked)
        self._apply_scale()
        for actor in self.axes_actors:
            actor.SetVisibility(st.axes)
        self.axes_actors[-1].SetVisibility(st.axes and not st.help)  # labels would draw over the help
        self.help_actor.SetVisibility(st.help)
        # the rate of the frames playback draws; paused, no frames are drawn and no rate is shown
        st.frame_rate_hz = (self.frame_rate(since=self._playing_since) or None) if self._open and st.playing else None
        status, info = st.status_text(), st.info_text()
        self.status_actor.SetInput(status)
        self.info_actor.SetInput(info)
        self.info_actor.SetVisibility(bool(info))
        shown["status"] = status
        self._dirty = False
        self.render()

    def render(self) -> None:
        start = time.perf_counter()
        self.plotter.render()
        end = time.perf_counter()
        self.frame_times_s.append(end)
        self.render_durations_s.append(end - start)
        self.inputs_answered.extend((t, end) for t in self._pending_inputs)
        self._pending_inputs.clear()
        self._next_frame_at = end + (end - start) * (1 - RENDER_DUTY) / RENDER_DUTY

    def screenshot(self) -> np.ndarray:
        """(H, W, 3) uint8 picture of the window as it is now (rendered afresh)."""
        self.plotter.render()
        image = self.plotter.screenshot(return_img=True)
        assert image is not None  # return_img=True: the picture, not None
        return image

    def frame_rate(self, window_s: float = 5.0, since: float = 0.0) -> float:
        """Frames per second over the last window_s seconds of rendering (and after perf_counter
        ``since``: a pause is not counted as slow frames); 0 before three frames."""
        times = [t for t in self.frame_times_s if t >= max(self.frame_times_s[-1] - window_s, since)] \
            if self.frame_times_s else []
        return (len(times) - 1) / (times[-1] - times[0]) if len(times) > 2 and times[-1] > times[0] else 0.0

    def open(self) -> None:
        """Map the window and draw it, without entering the event loop (tests use this)."""
        if self._open:
            return
        self.plotter.show(interactive_update=True, auto_close=False)
        self._input_waiting = _x_queue_probe(self.plotter.render_window)
        self._open = True
        self.refresh(force=True)
        self._arm_timer()

    def run(self, exit_after_s: float | None = None) -> None:
        """Run the event loop until 'q' or the window is closed (or for exit_after_s seconds)."""
        self.open()
        self._exit_at = None if exit_after_s is None else time.perf_counter() + exit_after_s
        self._last_tick = time.perf_counter()
        self._timed_out = False
        self._arm_timer()  # the exit time may come before the armed turn
        interactor = self._iren().interactor
        interactor.Start()
        # the timer turns only when a frame is due, so playback time last moved at the last frame:
        # bring it to the wall clock now (the frame that shows it is drawn below, or by the next run)
        now = time.perf_counter()
        dt, self._last_tick = now - self._last_tick, now
        if self.state.advance(dt):
            self._mark_dirty()
        if self._timed_out:  # the window stays usable (ProcessEvents, run again)
            interactor.SetDone(False)
            if self._dirty:  # a frame the budget dropped: the picture agrees with the state again
                self.refresh()

    def quit(self) -> None:
        self.state.quit_requested = True
        self._iren().interactor.TerminateApp()

    def close(self) -> None:
        self.plotter.close()


def _vtk_matrix4(m: np.ndarray) -> Any:
    from vtkmodules.vtkCommonMath import vtkMatrix4x4

    out = vtkMatrix4x4()
    out.DeepCopy([float(v) for v in np.asarray(m, float).ravel()])
    return out


def _part_polydata(meshes: tuple[Any, ...]) -> Any:
    """One PolyData of a part's meshes (VisualMesh, in its own frame), coincident points merged so
    that the silhouette does not trace the seams between materials and texture islands."""
    import pyvista as pv

    points, faces, base = [], [], 0
    for vm in meshes:
        points.append(np.asarray(vm.vertices_m, float))
        faces.append(np.asarray(vm.faces, np.int64) + base)
        base += len(vm.vertices_m)
    tri = np.concatenate(faces) if faces else np.zeros((0, 3), np.int64)
    mesh = pv.PolyData(np.vstack(points) if points else np.zeros((0, 3)),
                       np.hstack([np.full((len(tri), 1), 3), tri]).ravel())
    return mesh.clean(tolerance=1e-6, absolute=False)


def _x_queue_probe(render_window: Any) -> Callable[[], bool] | None:
    """A function saying whether X events wait in the window's queue (Xlib's XPending on VTK's own
    display connection), or None when the window is not an X window."""
    import ctypes
    import ctypes.util

    if "XOpenGL" not in render_window.GetClassName():
        return None
    ident = str(render_window.GetGenericDisplayId() or "")  # '_55d0c8a8e2a0_p_void'
    try:
        display = int(ident.strip("_").split("_")[0], 16)
    except ValueError:
        return None
    lib = ctypes.util.find_library("X11")
    if not display or lib is None:
        return None
    xpending = ctypes.CDLL(lib).XPending
    xpending.argtypes, xpending.restype = [ctypes.c_void_p], ctypes.c_int
    return lambda: xpending(display) > 0


def _same_camera(a: CameraPose, b: CameraPose) -> bool:
    return bool(np.allclose(a.position_m, b.position_m, atol=1e-6) and np.allclose(a.focal_point_m, b.focal_point_m,
                atol=1e-6) and np.allclose(a.view_up, b.view_up, atol=1e-9) and abs(a.view_angle_deg - b.view_angle_deg) < 1e-9)


def view(record: Record, settings: RenderSettings | None = None, window_size: tuple[int, int] = (1280, 720),
         exit_after_s: float | None = None, play: bool = False) -> ViewerWindow:
    """Open the viewer on a record and run it until the window is closed."""
    check_display()
    window = ViewerWindow(record, settings, window_size=window_size)
    try:
        if play:
            window.handle_key("play")
        window.run(exit_after_s=exit_after_s)
    finally:
        window.close()
    return window
