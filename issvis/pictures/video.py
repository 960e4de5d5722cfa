"""Records -> MP4 (H.264, yuv420p, +faststart) and still frames, headless.

Frames stream straight from the render window to ffmpeg (imageio-ffmpeg's binary) so memory
stays flat; segments go to a work folder in the system's temporary directory, the video and its
poster to temporary names renamed together when both are complete (``issvis.core.files``).
Offscreen rendering goes through Mesa's EGL when there is no display (no X server needed).

Per frame the work is: the time map, the record's interpolated poses, one ``user_matrix`` per
actor, the overlay strings that changed, one render, one pixel read. Meshes, textures and text
actors are built once.
"""

from __future__ import annotations

import contextlib
import ctypes.util
import math
import os
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

from ..core.errors import InputError
from ..core.frames import quat_to_matrix
from ..record.scene_of import title_of
from ..scene.render_settings import RenderSettings, RenderSettingsError, preview_settings
from .camera import Clip
from .grade import MOTION_BLUR_FACTOR, blur_filter, exposure_lut, grade_image
from .shots import check_camera_path

if TYPE_CHECKING:
    from .shots import StationBoxes


class RenderError(InputError, RuntimeError):
    """The renderer cannot run here (no OpenGL context, no encoder); the message names the fix."""


NO_GL_FIX = (
    "no OpenGL context could be created for offscreen rendering. Fix: install Mesa's EGL and "
    "software rasteriser (Debian/Ubuntu: apt-get install libegl1 libgl1-mesa-dri), or run with a display "
    "(DISPLAY=...), or use an OSMesa build (apt-get install libosmesa6 and set "
    "VTK_DEFAULT_OPENGL_WINDOW=vtkOSOpenGLRenderWindow)"
)


@contextlib.contextmanager
def _prefer_egl():
    """Without a display, ask VTK for its EGL window (no 'bad X server connection' noise).

    Scoped to the creation of one render window: the viewer, in the same process, may open a
    real X window afterwards.
    """
    if os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY") or os.environ.get("VTK_DEFAULT_OPENGL_WINDOW"):
        yield
        return
    if ctypes.util.find_library("EGL") is None:
        raise RenderError(NO_GL_FIX)
    os.environ["VTK_DEFAULT_OPENGL_WINDOW"] = "vtkEGLRenderWindow"
    try:
        yield
    finally:
        os.environ.pop("VTK_DEFAULT_OPENGL_WINDOW", None)


def make_plotter(width_px: int, height_px: int) -> Any:
    """An offscreen pyvista Plotter with a working OpenGL context, or RenderError naming the fix."""
    import pyvista as pv
    import vtk

    vtk.vtkObject.GlobalWarningDisplayOff()  # VTK's chatter would break the progress bar; errors still raise below
    with _prefer_egl():
        plotter = pv.Plotter(off_screen=True, window_size=[width_px, height_px], lighting="none")
        rw = plotter.render_window
    assert rw is not None  # None only once the plotter is closed
    # No MSAA: it costs 3-5x on llvmpipe, and with it the renderer's FXAA pass reads back black.
    rw.SetMultiSamples(0)
    if not rw.SupportsOpenGL():
        plotter.close()
        raise RenderError(NO_GL_FIX)
    return plotter


def _anti_alias(plotter: Any, mode: str) -> None:
    if mode == "fxaa":
        # The renderer's own FXAA pass; pyvista's enable_anti_aliasing('fxaa') turns into SSAA
        # (3x slower) on Mesa's EGL, measured in issue 3.
        plotter.renderer.UseFXAAOn()
    elif mode == "ssaa":
        plotter.enable_anti_aliasing("ssaa")


# --- overlays ------------------------------------------------------------------------------
TITLE_SAFE = 0.05  # text stays this far (fraction of the frame) inside every edge: the title-safe area
BACKING_OPACITY = 0.55  # the dark panel behind every text: legible over cloud and over black
FADE_S = 0.35  # text fades in and out over this long, video s
READOUT_HOLD_S = 0.5  # in blurred time-lapse shots the read-out's numbers change this often, video s
CAPTION_MIN_S = 1.5  # a caption ("10 minutes later") shows at least this long, video s, or not at all
CUE_RGB = (1.0, 0.82, 0.30)
LEADER_RGB = (0.96, 0.96, 0.96)  # the names' leader lines: the text's colour
LEADER_GAP = 0.012  # a leader stops this far (fraction of the frame's height) short of its name and its side
LEADER_MIN = 0.03  # no leader where its name stands closer than this to the side's centre


def time_factor_words(factor: float) -> str:
    """'real time', '10x faster', '2x slower': how fast the clip runs, in steps a viewer reads at once."""
    if 0.9 <= factor <= 1.1:
        return "Real time"
    if factor < 1:
        return f"{1 / factor:.0f}x slower than real time"
    return f"{factor:,.0f}x faster than real time" if factor < 1000 else f"{factor:,.0f}x faster"


def distance_words(m: float) -> str:
    """'4 cm', '0.45 m', '12.4 m', '283 m'."""
    if m < 0.1:
        return f"{max(m * 100, 0):.0f} cm"
    if m < 100:
        return f"{m:.2f} m" if m < 1 else f"{m:.1f} m"
    return f"{m:,.0f} m"


READOUT_NUMBER_WIDTH = 7  # the read-out's distance fills the width of '99.9' (3 digits and a point), in points


def readout_distance_words(m: float) -> str:
    """``distance_words`` right-aligned in the width of '99.9', with spaces before it: in the read-out's
    font (VTK's Arial) every digit is as wide as two spaces, and a space as wide as a point or a comma. So
    the words after the number stay where they are as it grows from '9.9 m' to '10.0 m' or from '99.9 m'
    to '101 m'. Where the shutter blend lays the old read-out under the new for a frame, a shifted line
    showed twice; now only the digits that change do."""
    words = distance_words(m)
    number = words.split(" ")[0]
    width = sum(2 if c.isdigit() else 1 for c in number)
    return " " * max(READOUT_NUMBER_WIDTH - width, 0) + words


def speed_words(mps: float) -> str:
    """'11 cm/s', '1.2 m/s'."""
    v = abs(mps)
    return f"{v * 100:.0f} cm/s" if v < 1 else f"{v:.1f} m/s"


def duration_words(s: float) -> str:
    """'45 seconds', '1 minute', '14 minutes'."""
    if s < 59.5:
        return f"{s:.0f} seconds"
    m = int(round(s / 60))
    return "1 minute" if m == 1 else f"{m} minutes"


def side_names(record: Any, cfg: Any) -> tuple[str, str] | None:
    """What to call the departing and the remaining side, from their parts' segments: 'Russian
    segment' / 'US segment' in the default scene, 'Soyuz MS-19' / 'the station' for a Soyuz leaving."""
    sides = record.separation_sides() if hasattr(record, "separation_sides") else None
    if sides is None:
        return None
    segments = np.asarray(record.segment).astype(str)
    mass = np.asarray(record.mass, float)
    named = set(cfg.segment_names)
    out = []
    for mask in sides:
        mine = segments[mask]
        station = sorted(set(mine) & named)
        if len(station) == 1:
            out.append(cfg.segment_names[station[0]])
        elif station:
            out.append(cfg.station_name)
        else:  # vehicles only: the heaviest one's own segment name
            heaviest = mine[int(np.argmax(mass[mask]))] if len(mine) else ""
            out.append(str(heaviest))
    return out[0], out[1]


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


class Overlays:
    """Text a viewer follows, as VTK 2D actors: a lower-third title, the two sides named as they
    part, a gap cue across the opening interface, a read-out in plain words (how far apart, how fast,
    how fast time runs), a line at a cut that skips time, and an end card over the last shot.

    Every text sits on a translucent dark backing inside the title-safe area. No card covers the
    picture and nothing fades to black: the picture goes on under every word.
    """

    def __init__(self, plotter: Any, clip: Clip, settings: RenderSettings, title: str):
        import vtk

        self.clip = clip
        self.cfg = cfg = settings.overlays
        self.motion_blur = settings.quality.motion_blur
        self.renderer = plotter.renderer
        self.aspect = settings.width_px / settings.height_px
        h = settings.height_px
        fs = cfg.font_scale
        # 3 % of the height, never under 12 px where the frame has room (at 640x360 smaller could not be
        # read); thumbnails keep the proportions
        def size(fraction: float) -> int:
            return max(min(12, int(0.05 * h)), int(round(fraction * h * fs)))

        body_px = size(0.030)
        self._body_px = body_px
        self.actors: list[Any] = []
        record = clip.record

        def text(size: int, justify: str = "left", valign: str = "bottom", bold: bool = False) -> Any:
            actor = vtk.vtkTextActor()
            actor.SetTextScaleModeToNone()
            actor.GetPositionCoordinate().SetCoordinateSystemToNormalizedViewport()
            prop = actor.GetTextProperty()
            prop.SetFontSize(size)
            prop.SetFontFamilyToArial()
            prop.SetColor(0.96, 0.96, 0.96)
            prop.SetBold(bold)
            prop.SetShadow(False)
            prop.SetBackgroundColor(0.0, 0.0, 0.0)
            prop.SetBackgroundOpacity(BACKING_OPACITY)
            prop.SetLineSpacing(1.15)
            getattr(prop, f"SetJustificationTo{justify.capitalize()}")()
            getattr(prop, f"SetVerticalJustificationTo{valign.capitalize()}")()
            actor.SetVisibility(False)
            self.renderer.AddViewProp(actor)
            self.actors.append(actor)
            return actor

        m = TITLE_SAFE
        self.title = self.subtitle = None
        if cfg.title_card and cfg.title_s > 0:
            self.title = text(size(0.050), bold=True)
            self.title.GetPositionCoordinate().SetValue(m, m + 0.075 * fs)
            self.title.SetInput(f" {cfg.title or title} ")
            self.subtitle = text(body_px)
            self.subtitle.GetPositionCoordinate().SetValue(m, m)
            sub = cfg.subtitle if cfg.subtitle is not None else default_subtitle(record)
            self.subtitle.SetInput(f" {_capital(sub)} ")
        self.readout = text(body_px) if (cfg.clock or cfg.separation) else None
        if self.readout is not None:
            self.readout.GetPositionCoordinate().SetValue(m, m)
        self.caption = text(body_px, justify="centered", valign="top") if cfg.captions else None
        if self.caption is not None:
            self.caption.GetPositionCoordinate().SetValue(0.5, 1 - m)
        # the end card at the top left: the last close keeps its subject low in the frame
        self.end = text(size(0.036), valign="top") if cfg.end_card and cfg.end_s > 0 else None
        if self.end is not None:
            self.end.GetPositionCoordinate().SetValue(m, 1 - m)
        self.names = side_names(record, cfg)
        self.labels = [text(body_px, justify="centered"), text(body_px, justify="centered")] \
            if (cfg.labels and self.names is not None) else []
        for actor, name in zip(self.labels, self.names or ()):
            actor.SetInput(f" {_capital(name)} ")
        # a thin line from each name to its side's centre: which piece is which, even where a name stands
        # over the other side's array
        self.leaders = [self._polyline(vtk, 2, LEADER_RGB, max(1.5, body_px / 18)) for _ in self.labels]
        self.cue_label = text(max(int(round(0.8 * body_px)), 4), justify="centered") if cfg.gap_cue else None
        self.cue = self._cue_actor(vtk) if cfg.gap_cue else None
        self._gap = _gap_series(record, clip.points)
        self._sides = record.separation_sides() if hasattr(record, "separation_sides") else None
        self._boxes: StationBoxes | None = None  # the parts' visual boxes, built at the first use
        self._last: dict[int, str] = {}

    # -- pieces ---------------------------------------------------------------------------
    def station_boxes(self) -> StationBoxes:
        """The parts' visual boxes (the names and the gap cue stand beside them), built at the first use."""
        if self._boxes is None:
            from .shots import station_boxes

            self._boxes = station_boxes(self.clip.record)
        return self._boxes

    def _polyline(self, vtk: Any, n: int, rgb: tuple[float, float, float], width_px: float) -> tuple[Any, Any, Any]:
        """A 2D line through n points in normalized viewport coordinates, moved every frame: (actor, points,
        polydata)."""
        pts = vtk.vtkPoints()
        for _ in range(n):
            pts.InsertNextPoint(0, 0, 0)
        lines = vtk.vtkCellArray()
        lines.InsertNextCell(n, list(range(n)))
        poly = vtk.vtkPolyData()
        poly.SetPoints(pts)
        poly.SetLines(lines)
        coord = vtk.vtkCoordinate()
        coord.SetCoordinateSystemToNormalizedViewport()
        mapper = vtk.vtkPolyDataMapper2D()
        mapper.SetInputData(poly)
        mapper.SetTransformCoordinate(coord)
        actor = vtk.vtkActor2D()
        actor.SetMapper(mapper)
        actor.GetProperty().SetColor(*rgb)
        actor.GetProperty().SetLineWidth(width_px)
        actor.SetVisibility(False)
        self.renderer.AddViewProp(actor)
        self.actors.append(actor)
        return actor, pts, poly

    def _cue_actor(self, vtk: Any) -> Any:
        """A bracket (two ticks joined at the top), moved every frame."""
        actor, self._cue_points, self._cue_poly = self._polyline(vtk, 4, CUE_RGB, max(2.0, self._body_px / 12))
        return actor

    def _set(self, actor: Any, value: str) -> None:
        if actor is not None and self._last.get(id(actor)) != value:
            actor.SetInput(value)
            self._last[id(actor)] = value

    @staticmethod
    def _show(actor: Any, opacity: float) -> None:
        if actor is None:
            return
        actor.SetVisibility(opacity > 0.002)
        if hasattr(actor, "GetTextProperty"):
            actor.GetTextProperty().SetOpacity(opacity)
            actor.GetTextProperty().SetBackgroundOpacity(BACKING_OPACITY * opacity)
        else:
            actor.GetProperty().SetOpacity(opacity)

    @staticmethod
    def _window(v: float, start: float, end: float) -> float:
        """Opacity of a text shown from start to end (video s), faded in and out."""
        if end <= start:
            return 0.0
        fade = min(FADE_S, 0.25 * (end - start))
        return float(np.clip(min(v - start, end - v) / fade, 0.0, 1.0))

    # -- per frame ------------------------------------------------------------------------
    def update(self, video_s: float, t_s: float) -> None:
        clip, cfg = self.clip, self.cfg
        length = clip.length_s
        video_s = min(max(video_s, 0.0), length)  # a still asked past the end shows the last frame
        title_end = min(cfg.title_s * clip.scale, 0.3 * length) if self.title else 0.0
        title_a = self._window(video_s, -1.0, title_end) if self.title else 0.0
        end_s = length - self._end_card_start()
        end_a = self._window(video_s, length - end_s, length + 1.0) if self.end is not None else 0.0
        # the read-out shares the lower third with the cards: it comes in after the title has gone
        # and goes before the end card comes, never over either
        readout_a = self._window(video_s, title_end - 1e-3 if title_end else -1.0,
                                 length - end_s + 1e-3 if end_s else length + 1.0)
        self._show(self.title, title_a)
        self._show(self.subtitle, title_a)
        gap = self._gap_at(t_s)
        if self.end is not None:
            self._show(self.end, end_a)
            self._set(self.end, self._end_words())
        if self.readout is not None:
            self._show(self.readout, readout_a)
            held = self._held_readout_s(video_s)
            words_gap = gap if held is None else self._gap_at(self.clip.sim(held))
            self._set(self.readout, self._readout_words(video_s, t_s, words_gap))
        shot = clip.shot_at(video_s)
        pose = clip.camera(video_s) if shot is not None and (self.labels or self.cue is not None) else None
        self._update_caption(video_s, shot)
        self._update_labels(video_s, t_s, shot, pose)
        self._update_cue(video_s, t_s, shot, pose, gap)

    def _end_card_start(self) -> float:
        """Video time at which the end card starts to fade in (the clip's end when there is none)."""
        length = self.clip.length_s
        if self.end is None:
            return length
        return length - min(self.cfg.end_s * self.clip.scale, 0.3 * length)

    def _held_readout_s(self, video_s: float) -> float | None:
        """In a shot the shutter blend blurs (``grade.MOTION_BLUR_FACTOR`` and faster), the video time whose
        numbers the read-out shows: they change every READOUT_HOLD_S, not every frame (at 30x a number that
        changes every frame cannot be read, and the blend would lay two over each other on every frame:
        now only the digits that change, on the one frame they change, show the old at a third under the
        new); None elsewhere."""
        hold = readout_hold(self.clip, video_s) if self.motion_blur > 0 else None
        return None if hold is None else hold[0] + hold[1] * READOUT_HOLD_S

    def _readout_words(self, video_s: float, t_s: float, gap: tuple[float, float, float, str] | None) -> str:
        lines = []
        if self.cfg.separation and gap is not None:
            if t_s < gap[2] or gap[0] < 0.005:
                lines.append("Docked" if t_s < gap[2] else "Opening")
            else:
                moving = "moving apart" if gap[1] >= 0 else "closing"
                lines.append(f"{readout_distance_words(gap[0])} apart, {moving} at {speed_words(gap[1])}")
        if self.cfg.clock:
            lines.append(time_factor_words(self.clip.time.rate(video_s)))
        return " " + " \n ".join(lines) + " " if lines else ""

    def _end_words(self) -> str:
        cfg, clip = self.cfg, self.clip
        if cfg.end_text is not None:
            return f" {cfg.end_text} "
        t_end = clip.sim(clip.length_s)
        gap = self._gap_at(t_end)
        if gap is None or self.names is None:
            return " A physics simulation, not footage "
        after = duration_words(t_end - gap[2])
        return (f" {after} after undocking, the {self.names[0]} is {distance_words(gap[0])} \n"
                f" from the {self.names[1]}. A physics simulation, not footage. ")

    def _update_caption(self, video_s: float, shot: tuple[int, Any] | None) -> None:
        if self.caption is None:
            return
        words, alpha = "", 0.0
        if shot is not None and shot[0] > 0:
            k, sh = shot
            first, end = self.clip.shot_span(k)
            prev_end = self.clip.sim(first - 1e-6)
            skipped = self.clip.sim(first) - prev_end
            words = sh.caption if sh.caption is not None else (
                f"{_capital(duration_words(skipped))} later" if skipped > 30.0 else "")
            # never under the end card (which names the time itself): it goes before the card comes, and a
            # caption that would show for under CAPTION_MIN_S is left out
            stop = min(first + 2.5, end, self._end_card_start())
            if words and stop - first >= CAPTION_MIN_S:
                alpha = self._window(video_s, first, stop)
        self._show(self.caption, alpha)
        self._set(self.caption, f" {words} ")

    def _side_screen(self, t_s: float, pose: Any) -> list[tuple[float, float, float, float] | None]:
        """Where each side stands on screen: (centre x, top y, bottom y) of all its boxes (arrays included, so
        that a name beside it covers none of it), to put its name by, and the y of its centre of mass."""
        from .camera import project

        boxes = self.station_boxes()
        pos, quat = self.clip.poses(t_s)
        rot = quat_to_matrix(quat)
        out: list[tuple[float, float, float, float] | None] = []
        for mask in self._sides or ():
            xy, depth = project(pose, boxes.corners(mask, pos, rot), self.aspect)
            if (depth <= 0).any():
                out.append(None)
                continue
            centre, _ = project(pose, self.clip.points.com(mask, pos)[None], self.aspect)
            out.append((float(centre[0, 0]), float(xy[:, 1].max()), float(xy[:, 1].min()), float(centre[0, 1])))
        return out

    def _update_labels(self, video_s: float, t_s: float, shot: tuple[int, Any] | None, pose: Any) -> None:
        if not self.labels:
            return
        alpha = 0.0
        if shot is not None and shot[1].labels and pose is not None:
            first, end = self.clip.shot_span(shot[0])
            last = shot[0] == len(self.clip.shots or ()) - 1
            alpha = self._window(video_s, first + 0.3, self.clip.length_s + 1.0 if last else end)  # held to the end
        if alpha <= 0:
            for actor, leader in zip(self.labels, self.leaders):
                self._show(actor, 0.0)
                self._show(leader[0], 0.0)
            return
        m = TITLE_SAFE
        gap_y = 0.012 + 0.5 * self._body_px / max(self.renderer.GetSize()[1], 1)
        spots = self._side_screen(t_s, pose)
        for actor, leader, spot in zip(self.labels, self.leaders, spots):
            if spot is None:
                self._show(actor, 0.0)
                self._show(leader[0], 0.0)
                continue
            x = float(np.clip(spot[0], m + 0.08, 1 - m - 0.08))
            text_h = 2 * gap_y
            if spot[1] + gap_y + text_h <= 1 - m:  # over the side, where there is room
                actor.GetTextProperty().SetVerticalJustificationToBottom()
                y = spot[1] + gap_y
                foot = y - LEADER_GAP
            else:  # no room above: under it, never over it
                actor.GetTextProperty().SetVerticalJustificationToTop()
                y = float(np.clip(spot[2] - gap_y, m + text_h, 1 - m))
                foot = y + LEADER_GAP
            actor.GetPositionCoordinate().SetValue(x, y)
            self._show(actor, alpha)
            self._update_leader(leader, (x, foot), (spot[0], spot[3]), alpha)

    def _update_leader(self, leader: tuple[Any, Any, Any], start: tuple[float, float], centre: tuple[float, float],
                       alpha: float) -> None:
        """The line from a name (``start``, just off its panel) to its side's centre, stopped short of it."""
        actor, pts, poly = leader
        square = np.array([self.aspect, 1.0])  # lengths in frame heights both ways
        a, b = np.array(start) * square, np.array(centre) * square
        span = float(np.linalg.norm(b - a))
        if span < LEADER_MIN + LEADER_GAP:
            self._show(actor, 0.0)
            return
        b = (a + (b - a) * (span - LEADER_GAP) / span) / square
        a = a / square
        pts.SetPoint(0, float(a[0]), float(a[1]), 0.0)
        pts.SetPoint(1, float(b[0]), float(b[1]), 0.0)
        pts.Modified()
        poly.Modified()
        self._show(actor, alpha)

    def _update_cue(self, video_s: float, t_s: float, shot: tuple[int, Any] | None, pose: Any,
                    gap: tuple[float, float, float, str] | None) -> None:
        if self.cue is None:
            return
        faces = self._faces(t_s)
        alpha = 0.0
        if shot is not None and shot[1].gap_cue and pose is not None and faces is not None and gap is not None:
            first, end = self.clip.shot_span(shot[0])
            alpha = self._window(video_s, first + 0.3, end)
            alpha *= float(np.clip((1.5 - gap[0]) / 0.5, 0.0, 1.0))  # gone once the gap is plain to see
        if alpha <= 0 or pose is None or faces is None or gap is None:
            self._show(self.cue, 0.0)
            self._show(self.cue_label, 0.0)
            return
        from .camera import project

        a, b, normal, reach = faces
        # which side of the hull faces screen-up: the ticks stand there, clear of the gap itself
        up_screen = pose.view_up - normal * float(pose.view_up @ normal)
        side = up_screen / max(np.linalg.norm(up_screen), 1e-9)
        base, tip = reach, reach + 1.2
        pts = np.array([a + side * base, a + side * tip, b + side * tip, b + side * base])
        xy, depth = project(pose, pts, self.aspect)
        if (depth <= 0).any():
            self._show(self.cue, 0.0)
            self._show(self.cue_label, 0.0)
            return
        # at least a few pixels apart, so that a closed gap still reads as two marks
        min_dx = 4.0 / max(self.renderer.GetSize()[0], 1)
        along = xy[3] - xy[0]
        span = float(np.linalg.norm(along))
        if span < min_dx:
            unit = along / span if span > 1e-12 else np.array([1.0, 0.0])
            spread = unit * 0.5 * (min_dx - span)
            xy[:2] -= spread
            xy[2:] += spread
        for i in range(4):
            self._cue_points.SetPoint(i, float(xy[i, 0]), float(xy[i, 1]), 0.0)
        self._cue_points.Modified()
        self._cue_poly.Modified()
        self._show(self.cue, alpha)
        top = 0.5 * (xy[1] + xy[2])
        assert self.cue_label is not None  # the cue is drawn only when [render.overlays] gap_cue is on
        self.cue_label.GetPositionCoordinate().SetValue(float(top[0]), float(top[1]) + 0.012)
        # the gap itself from the moment the hooks open (the read-out below says "Opening" in words)
        self._set(self.cue_label, " Closed " if t_s < gap[2] else f" Gap {distance_words(gap[0])} ")
        self._show(self.cue_label, alpha)

    def _faces(self, t_s: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, float] | None:
        """The two faces of the opened interface at t (LVLH), the axis between them, and the radius
        (m) where the cue's ticks start: just outside the narrower of the two parts."""
        iface = self.clip.points.interface
        if iface is None:
            return None
        ci, pc, pi, pp = iface
        pos, quat = self.clip.poses(t_s)
        rot = quat_to_matrix(quat[[ci, pi]])
        a, b = pos[ci] + rot[0] @ pc, pos[pi] + rot[1] @ pp
        axis = pos[ci] - pos[pi]
        axis = axis / max(np.linalg.norm(axis), 1e-9)
        boxes = self.station_boxes()
        half = [float((boxes.hi[boxes.part == i] - boxes.lo[boxes.part == i]).max(axis=1).min())
                / 2 for i in (ci, pi) if (boxes.part == i).any()]
        reach = (min(half) if half else 1.0) + 0.4
        return b, a, axis, reach

    def _gap_at(self, t_s: float) -> tuple[float, float, float, str] | None:
        if self._gap is None:
            return None
        times, gap, rate, t_open, label = self._gap
        return float(np.interp(t_s, times, gap)), float(np.interp(t_s, times, rate)), t_open, label


def default_subtitle(record: Any) -> str:
    """The title card's second line when the scene gives none: what this record shows happening."""
    from ..station.assets import interface_label, short_label

    seps = [e for e in record.events if e.get("kind") == "separation" and e.get("interface")]
    burns = [e for e in record.events if e.get("kind") in ("burn_start", "jet_burn_start") and e.get("part")]
    labels = record.meta.get("part_labels")  # the record's own; today's station for older records
    if seps:
        what = f"{interface_label(str(seps[0]['interface']), labels)} opens"
    elif burns:
        what = f"{short_label(str(burns[0]['part']), labels)} burns"
    else:
        return "a physics simulation of the March 2022 station"
    return f"{what}: a physics simulation of the March 2022 station"


def _gap_series(record: Any, points: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, float, str] | None:
    """Distance (T,) between the two faces of the opened interface, m, its rate, m/s, the opening time."""
    from ..core.frames import quat_to_matrix

    seps = [e for e in record.events if e.get("kind") == "separation"]
    if not seps or points.interface is None:
        return None
    ci, pc, pi, pp = points.interface
    a = record.pos[:, ci] + np.einsum("tij,j->ti", quat_to_matrix(record.quat[:, ci]), pc)
    b = record.pos[:, pi] + np.einsum("tij,j->ti", quat_to_matrix(record.quat[:, pi]), pp)
    gap = np.linalg.norm(a - b, axis=1)
    rate = np.gradient(gap, record.t)
    from ..station.assets import interface_label

    label = interface_label(str(seps[0].get("interface", "interface")), record.meta.get("part_labels"))  # e.g. Zarya/PMA-1, Soyuz MS-19/Rassvet
    return record.t, gap, rate, float(seps[0]["t"]), label


# --- the frame loop ------------------------------------------------------------------------
def render_size(settings: RenderSettings) -> tuple[int, int]:
    """(width, height) actually rendered: the video size times ``quality.supersample``, even."""
    ss = settings.quality.supersample
    return 2 * int(round(settings.width_px * ss / 2)), 2 * int(round(settings.height_px * ss / 2))


def expose(img: np.ndarray, lut: np.ndarray | None) -> np.ndarray:
    """``img`` through a shot's exposure table (``grade.exposure_lut``), in place; as it is for None."""
    if lut is not None:
        np.take(lut, img, out=img, mode="clip")  # (clip: unbuffered, and every index is in range)
    return img


def read_window(rw: Any, w: int, h: int, buffer: Any, flipped: bool = False,
                into: np.ndarray | None = None) -> np.ndarray:
    """The rendered window's (H, W, 3) uint8 pixels, bottom row first when ``flipped``; into ``into``
    (bottom row first, no copy) when given, else through the reusable vtkUnsignedCharArray ``buffer``."""
    from vtkmodules.util.numpy_support import numpy_to_vtk, vtk_to_numpy

    if into is not None:
        target = numpy_to_vtk(into.reshape(-1, 3), deep=False)  # VTK writes straight into ``into``
        rw.GetPixelData(0, 0, w - 1, h - 1, 0, target, 0)
        return into
    rw.GetPixelData(0, 0, w - 1, h - 1, 0, buffer, 0)
    img = vtk_to_numpy(buffer).reshape(h, w, 3)
    return img if flipped else img[::-1]


@dataclass
class FrameSource:
    """A Stage with its Clip, overlays and camera in one offscreen plotter.

    ``width_px``/``height_px`` is the rendered (supersampled) size; ``out_size`` the video's.
    ``grab()`` gives the rendered pixels, ``picture()`` the frame at the video's size.
    """

    plotter: Any
    stage: Any
    clip: Clip
    overlays: Overlays | None
    width_px: int
    height_px: int
    out_size: tuple[int, int] | None = None

    def pose(self, video_s: float) -> None:
        t_s = self.clip.sim(video_s)
        self._exposure: np.ndarray | None = exposure_lut(self.clip.exposure_ev(video_s))
        self.stage.set_time(t_s, self.clip.poses(t_s))
        pos, foc, up, angle = self.clip.camera(video_s).as_tuple()
        cam = self.plotter.renderer.GetActiveCamera()
        cam.SetPosition(*pos)
        cam.SetFocalPoint(*foc)
        cam.SetViewUp(*up)
        cam.SetViewAngle(angle)
        if self.overlays is not None:
            self.overlays.update(video_s, t_s)

    def grab(self, flipped: bool = False, into: np.ndarray | None = None) -> np.ndarray:
        """Render and read the pixels; bottom row first when ``flipped`` (ffmpeg flips for free).
        ``into``: an (H, W, 3) uint8 array that receives the pixels (bottom row first) without a copy."""
        rw = self.plotter.render_window
        rw.Render()
        return expose(read_window(rw, self.width_px, self.height_px, self._buffer, flipped, into), self._exposure)

    def picture(self) -> np.ndarray:
        """Render and return the frame at the video's size (area-averaged down from the render)."""
        img = self.grab()
        size = self.out_size or (self.width_px, self.height_px)
        if size == (self.width_px, self.height_px):
            return img.copy()
        from PIL import Image

        return np.asarray(Image.fromarray(img).resize(size, Image.Resampling.BOX))

    def __post_init__(self) -> None:
        import vtk

        self._buffer = vtk.vtkUnsignedCharArray()
        self._exposure = None

    def close(self) -> None:
        self.stage.close()
        self.plotter.close()


def release_build_caches() -> None:
    """Forget the images and meshes the station's and Earth's loaders keep for the next builder (the Earth
    texture, the asset textures and meshes): a render builds its world once and VTK holds its own copy of
    each, so keeping them costs a render about 43 MiB (1080p) to 58 MB (540p) of its peak memory for nothing."""
    from ..station.assets import release_caches
    from .earth import earth_image, earth_texture_image

    release_caches()
    earth_image.cache_clear()
    earth_texture_image.cache_clear()


def return_freed_memory() -> None:
    """Hand the heap's freed pages back to the system (glibc's ``malloc_trim``; nothing elsewhere): building a
    world leaves its temporaries' pages resident, 17 MiB of a 1080p render's peak (measured); Dask's workers
    do the same."""
    import gc

    gc.collect()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None).malloc_trim(0)  # the process's own symbols, libc's among them (as _worker_init's prctl)


def open_source(record: Any, settings: RenderSettings, preview: bool = False, title: str | None = None,
                keep_caches: bool = True) -> FrameSource:
    """Build the world for a record (meshes, Earth, overlays) in an offscreen window. ``keep_caches``
    False: a render that builds one world lets the loaders forget what it was built from
    (``release_build_caches``); a caller that builds many (tests, the viewer) keeps them."""
    if settings.cycles is not None:  # the cinematic engine supplies the frames (issvis.pictures.cycles)
        from .cycles import open_cycles_source

        return open_cycles_source(record, settings, preview=preview, title=title)  # type: ignore[return-value]
    from .stage import Stage

    clip = Clip(settings, record)
    w, h = render_size(settings)
    plotter = make_plotter(w, h)
    # frames are read from the buffer VTK renders into: without the swap VTK would first copy it to a
    # display buffer nobody shows (5 ms a frame at 2400x1350, the same pixels)
    plotter.render_window.SwapBuffersOff()
    try:
        stage = Stage(plotter, record, settings, preview=preview)
        _anti_alias(plotter, settings.quality.anti_aliasing)
        scene_title = title or title_of(record)
        # text sized for the rendered frame, so it reads the same after the downscale
        overlays = Overlays(plotter, clip, settings.model_copy(update={"width_px": w, "height_px": h}), scene_title)
        if not keep_caches and (overlays.labels or overlays.cue is not None):
            overlays.station_boxes()  # built now, from the caches, before they go
    except Exception:
        plotter.close()
        raise
    if not keep_caches:
        release_build_caches()
        return_freed_memory()
    return FrameSource(plotter, stage, clip, overlays, w, h, (settings.width_px, settings.height_px))


def effective_settings(settings: RenderSettings, *, size: tuple[int, int] | None = None, fps: int | None = None,
                       seconds: float | None = None, preview: bool = False) -> RenderSettings:
    """Scene settings with the command line's flags applied (preview first, explicit flags win)."""
    if preview:
        settings = preview_settings(settings)
    update: dict[str, Any] = {}
    if size is not None:
        update["width_px"], update["height_px"] = size
    if fps is not None:
        update["fps"] = fps
    if seconds is not None:
        update["seconds"] = seconds
    # re-validate: flags obey the same ranges as the scene file
    return RenderSettings.model_validate({**settings.model_dump(), **update})


class _Encoder:
    """One ffmpeg (libx264) fed raw frames from a thread, so the next frame renders while this one
    is piped.

    ``send`` copies the frame into one of a few rotating buffers (the render window reuses its own)
    and returns that copy; at most ``depth`` frames wait, so memory stays flat. ffmpeg's messages
    are kept, not printed: ``close`` checks its exit status and turns a full or read-only disk into
    the OSError it reports (one line at the command line), anything else into RenderError.
    """

    def __init__(self, path: Path, size: tuple[int, int], fps: int, output_params: list[str],
                 shape: tuple[int, int, int], depth: int = 2):
        import queue
        import subprocess
        import threading
        from fractions import Fraction

        from .segments import ffmpeg_exe, ffmpeg_path

        self.path = Path(path)
        # the command imageio-ffmpeg's write_frames builds for these settings (same bytes out)
        cmd = [ffmpeg_exe(), "-y", "-f", "rawvideo", "-vcodec", "rawvideo", "-s", f"{size[0]}x{size[1]}",
               "-pix_fmt", "rgb24", "-r", str(Fraction(fps).limit_denominator()), "-i", "-", "-an",
               "-vcodec", "libx264", "-pix_fmt", "yuv420p", "-v", "error", *output_params, ffmpeg_path(path)]
        # its own process group: Ctrl-C at the terminal reaches issvis, which stops ffmpeg itself
        self._proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                      stderr=subprocess.PIPE, process_group=0)
        self._stderr: list[bytes] = []
        self._err_thread = threading.Thread(target=self._drain, name="issvis-ffmpeg-stderr", daemon=True)
        self._err_thread.start()
        self._buffers = [np.empty(shape, np.uint8) for _ in range(depth + 2)]
        self._k = 0
        self._queue: Any = queue.Queue(maxsize=depth)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="issvis-encoder", daemon=True)
        self._thread.start()

    def _drain(self) -> None:
        assert self._proc.stderr is not None
        with self._proc.stderr:
            for line in self._proc.stderr:
                self._stderr.append(line)
                del self._stderr[:-40]  # the last words are the ones that matter

    def _run(self) -> None:
        assert self._proc.stdin is not None
        while True:
            frame = self._queue.get()
            if frame is None:
                return
            if self._error is None:
                try:
                    self._proc.stdin.write(frame)
                except BaseException as exc:  # ffmpeg ended: reported to the render loop on its next send
                    self._error = exc

    def _failure(self) -> Exception:
        """What went wrong in ffmpeg, once it has ended."""
        from ..core.files import os_error_in_text

        with contextlib.suppress(Exception):
            self._proc.wait(timeout=30)
        self._err_thread.join(timeout=5)
        text = b"".join(self._stderr).decode("utf-8", "replace")
        found = os_error_in_text(text, self.path)
        if found is not None:
            return found
        last = (text.strip().splitlines() or [str(self._error or f"exit status {self._proc.returncode}")])[-1]
        return RenderError(f"the video encoder failed: {last}")

    def next_buffer(self) -> np.ndarray:
        """The buffer the next frame may be read into: no frame waiting in the queue or being piped uses it."""
        return self._buffers[self._k]

    def send(self, frame: np.ndarray) -> np.ndarray:
        if self._error is not None:
            raise self._failure()
        buf = self._buffers[self._k]
        self._k = (self._k + 1) % len(self._buffers)
        if frame is not buf:
            np.copyto(buf, frame)
        self._queue.put(buf)
        return buf

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join()
        if self._error is None:
            try:
                assert self._proc.stdin is not None
                self._proc.stdin.close()
            except OSError as exc:
                self._error = exc
        if self._error is not None or self._proc.wait() != 0:
            raise self._failure()
        self._err_thread.join(timeout=5)

    def abort(self) -> None:
        self._error = self._error or RuntimeError("aborted")
        self._queue.put(None)
        self._thread.join(timeout=30)
        with contextlib.suppress(Exception):
            self._proc.kill()
        with contextlib.suppress(Exception):
            self._proc.wait(timeout=30)
        with contextlib.suppress(Exception):
            assert self._proc.stdin is not None
            self._proc.stdin.close()


def poster_path_for(video: Path) -> Path:
    """The poster PNG beside a video: renders/undock.mp4 -> renders/undock.poster.png."""
    return Path(video).with_suffix(".poster.png")


def blurred(shot: Any) -> bool:
    """Whether the shutter blend blurs this shot: time runs ``grade.MOTION_BLUR_FACTOR`` or faster (as on screen)."""
    return bool(shot.time_factor >= MOTION_BLUR_FACTOR)


def readout_hold(clip: Clip, video_s: float) -> tuple[float, int] | None:
    """In a shot the shutter blend blurs, (the shot's first video s, which READOUT_HOLD_S of it this is): the
    read-out's numbers hold for each; None in other shots."""
    hit = clip.shot_at(video_s)
    if hit is None or not blurred(hit[1]):
        return None
    first, _ = clip.shot_span(hit[0])
    return first, math.floor((video_s - first) / READOUT_HOLD_S + 1e-9)


def _blur_stretches(clip: Clip, first: int, end: int, weight: float) -> tuple[list[tuple[int, bool]], bool]:
    """Frames first..end-1 as (count, blurred) runs between cuts, and whether the frame before ``first``
    leads them (it is in the same run): what ``grade.blur_filter`` needs for one segment. A blurred shot is
    one run, also where the held read-out changes: there the digits that change show the old at a third
    under the new for that one frame. (Runs that ended there left the frame unblended, one sharp frame
    every READOUT_HOLD_S, which pulsed over a textured cloud deck moving 10-20 px a frame.)"""
    if weight <= 0 or clip.shots is None:
        return [(end - first, False)], False

    def shot(i: int) -> int:
        hit = clip.shot_at(i / clip.fps)
        return -1 if hit is None else hit[0]

    def fast(key: int) -> bool:
        return clip.shots is not None and key >= 0 and blurred(clip.shots[key])

    lead = first > 0 and shot(first - 1) == shot(first) and fast(shot(first))
    runs: list[list[Any]] = []
    for i in range(first - 1 if lead else first, end):
        k = shot(i)
        if runs and runs[-1][0] == k:
            runs[-1][1] += 1
        else:
            runs.append([k, 1])
    return [(count, fast(k)) for k, count in runs], lead


def _segment_writer(clip: Clip, settings: RenderSettings, size: tuple[int, int], first: int, end: int,
                    path: Path) -> tuple[_Encoder, str | None]:
    """The encoder of segment first..end-1 (frames rendered at ``size``), and the extra frame it is sent
    first when it blends (``grade.blur_filter``): "before", the frame before ``first`` (a blurred shot
    runs into the segment), "repeat", the frame ``first`` twice, or None (no blend, no extra frame)."""
    from .grade import with_grade
    from .segments import encoder_params

    q = settings.quality
    out = (settings.width_px, settings.height_px)
    scale_to = None if out == size else out
    stretches, lead = _blur_stretches(clip, first, end, q.motion_blur)
    blur = blur_filter(stretches, q.motion_blur, lead)
    writer = _Encoder(path, size, settings.fps,
                      with_grade(encoder_params(q.preset, q.crf, scale_to), q, settings.height_px, blur),
                      (size[1], size[0], 3))
    return writer, None if not blur else "before" if lead else "repeat"


def _encode_segment_from(frame: Callable[[int], np.ndarray], clip: Clip, settings: RenderSettings,
                         size: tuple[int, int], first: int, end: int, path: Path,
                         poster_i: int | None) -> np.ndarray | None:
    """Encode segment first..end-1 from frames already rendered (``frame(i)``: frame i as ``grab``
    gives it, bottom row first): the encoder inputs ``_encode_segment`` sends, so the same bytes."""
    writer, lead = _segment_writer(clip, settings, size, first, end, path)
    poster = None
    try:
        if lead is not None:
            writer.send(frame(first - 1 if lead == "before" else first))
        for i in range(first, end):
            sent = writer.send(frame(i))
            if i == poster_i:
                poster = sent[::-1].copy()
        writer.close()
    except BaseException:
        writer.abort()
        raise
    return poster


def _encode_segment(source: FrameSource, settings: RenderSettings, first: int, end: int, path: Path,
                    poster_i: int | None, on_frame: Callable[[int, np.ndarray], None] | None,
                    step: Callable[[], None] | None) -> np.ndarray | None:
    """Render frames first..end-1 into one self-contained H.264 file; returns the poster frame if in it."""
    writer, lead = _segment_writer(source.clip, settings, (source.width_px, source.height_px), first, end, path)
    poster = None
    try:
        # every segment bakes its first shadow map afresh: a clip split over processes (--workers) then
        # bakes at exactly the frames one process does, and writes the same pixels
        source.stage.invalidate_shadows()
        if lead == "before":  # the frame before the segment, for the shutter blend of its first frame
            source.pose((first - 1) / source.clip.fps)
            writer.send(source.grab(flipped=True, into=writer.next_buffer()))
        for i in range(first, end):
            source.pose(i / source.clip.fps)
            frame = writer.send(source.grab(flipped=True, into=writer.next_buffer()))
            if lead == "repeat" and i == first:  # the blend's extra first frame: this one, blended with nothing
                frame = writer.send(frame)
            if i == poster_i:
                poster = frame[::-1].copy()
            if on_frame is not None:
                on_frame(i, frame[::-1])
            if step is not None:
                step()
        writer.close()
    except BaseException:
        writer.abort()
        raise
    return poster


# --- worker processes ------------------------------------------------------------------------
#: How long a worker whose parent died may take to remove its work folder before it exits, s.
WORKER_ORPHAN_GRACE_S = 10.0
#: How long a stopped render waits for its workers to end before killing them, s.
WORKER_STOP_WAIT_S = 10.0


def _worker_sigterm(signum: int, frame: Any) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # once: a second one must not cut the cleanup short
    raise SystemExit(128 + signum)


def _watch_parent(parent_pid: int) -> None:
    """A worker's watchdog: once the parent is gone, unwind (SIGTERM to itself), then exit for sure."""
    while os.getppid() == parent_pid:
        time.sleep(0.5)
    with contextlib.suppress(OSError):
        os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(WORKER_ORPHAN_GRACE_S)
    os._exit(1)


def _worker_init(parent_pid: int) -> None:
    """Initializer of a render worker: it dies with the render that started it.

    On Linux the kernel sends SIGTERM when the parent dies (``prctl(PR_SET_PDEATHSIG)``); everywhere
    a watchdog thread sees the parent gone within half a second. SIGTERM unwinds the job (the
    encoder stopped, the work folder removed); the watchdog ends the process after
    ``WORKER_ORPHAN_GRACE_S`` whatever it was doing (a pool worker would otherwise wait forever
    for its next job, holding the station's meshes).
    """
    import threading

    signal.signal(signal.SIGTERM, _worker_sigterm)
    if sys.platform.startswith("linux"):
        with contextlib.suppress(Exception):
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(1, int(signal.SIGTERM), 0, 0, 0)  # 1 = PR_SET_PDEATHSIG
    if os.getppid() != parent_pid:  # the parent died before prctl took effect
        os._exit(1)
    threading.Thread(target=_watch_parent, args=(parent_pid,), name="issvis-parent-watch", daemon=True).start()


def _worker_job(*args: Any, job_fn: Callable[..., Any] | None = None, **kwargs: Any) -> Any:
    """``job_fn`` (``render_block`` unless named) in a pool worker: once SIGTERM has unwound the job
    (encoder stopped, work folder removed), the worker ends instead of waiting for a next job that will not come."""
    try:
        return (job_fn or render_block)(*args, **kwargs)
    except SystemExit as exc:
        os._exit(exc.code if isinstance(exc.code, int) else 1)


def _stop_workers(pool: Any) -> None:
    """Stop a process pool now: queued jobs cancelled, running ones told to unwind (SIGTERM), every
    worker waited for (``WORKER_STOP_WAIT_S``) and killed if it has not ended."""
    processes = getattr(pool, "_processes", None)  # private, but the only handle on the workers
    procs = list(processes.values()) if isinstance(processes, dict) else []
    pool.shutdown(wait=False, cancel_futures=True)
    for p in procs:
        with contextlib.suppress(Exception):
            p.terminate()
    deadline = time.monotonic() + WORKER_STOP_WAIT_S
    for p in procs:
        with contextlib.suppress(Exception):
            p.join(timeout=max(0.0, deadline - time.monotonic()))
            if p.is_alive():
                p.kill()
                p.join(timeout=5)


def render_block(record: Any, settings: RenderSettings, segments: list[tuple[int, int]], *, preview: bool = False,
                 title: str | None = None, poster_i: int | None = None) -> tuple[list[bytes], np.ndarray | None]:
    """Render some segments of a clip in this process (a worker's job): their MP4 bytes, and the poster
    frame when it falls in them. Picklable arguments only, so it runs in a process pool or on Dask."""
    from ..core.files import work_folder

    poster = None
    data = []
    source = open_source(record, settings, preview=preview, title=title, keep_caches=False)
    try:
        with work_folder("seg") as tmp:
            for k, (a, b) in enumerate(segments):
                path = Path(tmp) / f"seg{k}.mp4"
                got = _encode_segment(source, settings, a, b, path, poster_i if a <= (poster_i or -1) < b else None,
                                      None, None)
                poster = got if got is not None else poster
                data.append(path.read_bytes())
    finally:
        source.close()
    return data, poster


def render_frames(record: Any, settings: RenderSettings, runs: list[tuple[int, int]], *, preview: bool = False,
                  title: str | None = None, poster_i: int | None = None) -> tuple[list[np.ndarray], None]:
    """Render runs of frames in this process (a worker's finer task, ``plan_tasks``): each run as one
    (frames, H, W, 3) uint8 array, bottom row first, exactly what ``_encode_segment`` sends its
    encoder. Picklable arguments only, so it runs in a process pool or on Dask."""
    out = []
    source = open_source(record, settings, preview=preview, title=title, keep_caches=False)
    try:
        for a, b in runs:
            frames = np.empty((b - a, source.height_px, source.width_px, 3), np.uint8)
            source.stage.invalidate_shadows()
            for k, i in enumerate(range(a, b)):
                source.pose(i / source.clip.fps)
                source.grab(flipped=True, into=frames[k])
            out.append(frames)
    finally:
        source.close()
    return out, None


def _spread(job_fn: Callable[..., Any], record: Any, settings: RenderSettings, jobs: list[list[tuple[int, int]]],
            scheduler: str | None, preview: bool, title: str | None, poster_i: int,
            on_done: Callable[[int, Any], None]) -> None:
    """Run ``job_fn(record, settings, job, ...)`` for every job in local processes (one each) or on a
    Dask cluster; ``on_done(j, result)`` in this process as each ends."""
    if scheduler is not None:
        try:
            from dask.distributed import Client, as_completed
        except ImportError:
            raise RenderError("--scheduler needs dask.distributed (pip install 'dask[distributed]')") from None
        from ..core.cluster import dask_connect_timeout_s

        timeout_s = dask_connect_timeout_s()  # $ISSVIS_DASK_CONNECT_TIMEOUT_S, else 20 s
        try:
            client = Client(scheduler, timeout=f"{timeout_s}s")
        except Exception as exc:
            raise RenderError(f"--scheduler {scheduler}: cannot connect to a Dask scheduler ({exc})") from None
        try:
            rec = client.scatter(record, broadcast=True)
            futures = {client.submit(job_fn, rec, settings, job, preview=preview, title=title, poster_i=poster_i,
                                     pure=False): j for j, job in enumerate(jobs)}
            for fut in as_completed(futures):
                on_done(futures[fut], fut.result())
        finally:
            client.close()
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures import as_completed as done

    pool = ProcessPoolExecutor(max_workers=len(jobs), mp_context=multiprocessing.get_context("spawn"),
                               initializer=_worker_init, initargs=(os.getpid(),))
    try:
        futs = {pool.submit(_worker_job, record, settings, job, preview=preview, title=title, poster_i=poster_i,
                            job_fn=job_fn): j for j, job in enumerate(jobs)}
        for fut in done(futs):
            on_done(futs[fut], fut.result())
    except BaseException:
        _stop_workers(pool)
        raise
    pool.shutdown(wait=True)


def _run_frames(record: Any, settings: RenderSettings, segments: list[tuple[int, int]],
                jobs: list[list[tuple[int, int]]], scheduler: str | None, preview: bool, title: str | None,
                poster_i: int, progress_bar: Any, work: Path) -> tuple[list[bytes], np.ndarray | None]:
    """Finer tasks: runs of frames rendered in parallel and kept on disk in ``work`` as they come;
    each segment is encoded here, in order, as soon as all its frames (and the frame before it, for
    a shutter blend) are in, and runs no later segment needs are then deleted, so the disk holds
    the frames still waiting, not the clip. Returns the segment bytes in order and the poster frame."""
    runs = [job[0] for job in jobs]
    clip = Clip(settings, record)
    have: set[int] = set()
    gone: set[int] = set()
    loaded: dict[int, np.ndarray] = {}
    data: list[bytes] = []
    poster: list[np.ndarray] = []

    def stored(j: int) -> Path:
        return work / f"run{j:05d}.npy"

    def frame(i: int) -> np.ndarray:
        j = next(k for k, (a, b) in enumerate(runs) if a <= i < b)
        if j not in loaded:
            loaded.clear()  # frames are read in order: one run mapped at a time
            loaded[j] = np.load(stored(j), mmap_mode="r")
        return np.asarray(loaded[j][i - runs[j][0]])

    def ready(k: int) -> bool:
        first = max(segments[k][0] - 1, 0)  # the frame before, in case the segment starts blurred
        return all(j in have for j, (a, b) in enumerate(runs) if a < segments[k][1] and b > first)

    def keep(j: int, result: Any) -> None:
        frames = result[0][0]
        np.save(stored(j), frames)
        have.add(j)
        if progress_bar is not None:
            progress_bar.update(runs[j][1] - runs[j][0])
        while len(data) < len(segments) and ready(len(data)):
            k = len(data)
            a, b = segments[k]
            path = work / f"fine{k:05d}.mp4"
            got = _encode_segment_from(frame, clip, settings, (frames.shape[2], frames.shape[1]), a, b, path,
                                       poster_i if a <= poster_i < b else None)
            poster.extend([got] if got is not None else [])
            data.append(path.read_bytes())
            path.unlink()
            keep_from = segments[k + 1][0] - 1 if k + 1 < len(segments) else runs[-1][1]
            for r in sorted(have - gone):
                if runs[r][1] <= keep_from:
                    loaded.pop(r, None)
                    stored(r).unlink(missing_ok=True)
                    gone.add(r)
        if progress_bar is not None:  # after the segments this run completed were encoded
            progress_bar.set_postfix_str(segments_words(len(data), len(segments)), refresh=False)

    try:
        _spread(render_frames, record, settings, jobs, scheduler, preview, title, poster_i, keep)
    finally:
        loaded.clear()
        for j in range(len(runs)):
            stored(j).unlink(missing_ok=True)
    if len(data) != len(segments):
        raise RuntimeError(f"finer tasks: {len(segments) - len(data)} segments were left without frames")  # a bug
    return data, (poster[0] if poster else None)


def _run_blocks(record: Any, settings: RenderSettings, segments: list[tuple[int, int]], workers: int,
                scheduler: str | None, preview: bool, title: str | None, poster_i: int,
                progress_bar: Any, work: Path) -> tuple[list[bytes], np.ndarray | None]:
    """Spread contiguous blocks of segments over local processes or a Dask cluster; segment bytes in order.
    With the Cycles engine and more tasks than segments, finer tasks (``plan_tasks``): runs of frames."""
    from .segments import plan_tasks

    n_tasks = workers if scheduler is None else max(workers, 1) * 2
    kind, jobs = plan_tasks(segments, n_tasks, finer=settings.cycles is not None)
    if kind == "frames":
        return _run_frames(record, settings, segments, jobs, scheduler, preview, title, poster_i, progress_bar, work)
    results: dict[int, tuple[list[bytes], np.ndarray | None]] = {}

    def keep(j: int, result: Any) -> None:
        results[j] = result
        if progress_bar is not None:
            progress_bar.update(sum(b - a for a, b in jobs[j]))
            done = sum(len(jobs[i]) for i in results)
            progress_bar.set_postfix_str(segments_words(done, len(segments)), refresh=False)

    _spread(render_block, record, settings, jobs, scheduler, preview, title, poster_i, keep)
    data: list[bytes] = []
    poster = None
    for j in range(len(jobs)):
        data += results[j][0]
        poster = results[j][1] if results[j][1] is not None else poster
    return data, poster


def render_video(record: Any, settings: RenderSettings, output: Path, *, preview: bool = False,
                 title: str | None = None, progress: bool = True, poster: bool = True,
                 on_frame: Callable[[int, np.ndarray], None] | None = None, workers: int = 1,
                 scheduler: str | None = None, audio: Path | None = None, audio_fade_s: float = 2.0) -> dict[str, Any]:
    """Render the whole clip to ``output`` (.mp4) and a poster PNG beside it; returns timings.

    The clip is encoded as independent segments (``issvis.chunks``) joined without re-encoding, so
    ``workers`` > 1 (local processes) or ``scheduler`` (a Dask address) give the same file as one
    process. ``audio``: a soundtrack muxed as AAC, trimmed and faded to the clip.
    The video and its poster appear together when both are complete (``issvis.core.files``):
    segments go to a work folder in the system's temporary directory, the joined file to a
    temporary name; any error, Ctrl-C or SIGTERM removes them and leaves neither output.
    """
    from ..core.files import all_or_none, atomic_path, terminate_unwinds, work_folder
    from .segments import check_audio, join_segments, segment_bounds

    output = Path(output)
    if audio is not None:
        check_audio(audio, audio_fade_s)
    t_start = time.perf_counter()
    c_start = time.process_time()
    clip = Clip(settings, record)
    check_camera_path(clip)  # before anything is rendered: a camera through the station stops here (exit 2)
    n = clip.n_frames
    segments = segment_bounds(n, settings.fps)
    poster_i = min(n - 1, int(0.62 * n))
    poster_img: np.ndarray | None = None
    poster_path = None
    bar = None
    local = workers <= 1 and scheduler is None
    with terminate_unwinds():
        source = open_source(record, settings, preview=preview, title=title, keep_caches=False) if local else None
        t_setup = time.perf_counter() - t_start
        c_setup = time.process_time() - c_start
        try:
            if progress:
                from tqdm import tqdm

                # disable=None: shown on a terminal, hidden in logs and pipes
                bar = tqdm(total=n, unit="frame", desc=f"render {output.name}", dynamic_ncols=True, file=sys.stderr,
                           disable=None, mininterval=0.5)
            with work_folder("render") as work, all_or_none():
                paths = [work / f"seg{k:05d}.mp4" for k in range(len(segments))]
                if source is not None:
                    step = (lambda: bar.update(1)) if bar is not None else None
                    for k, (path, (a, b)) in enumerate(zip(paths, segments)):
                        if bar is not None:
                            bar.set_postfix_str(f"segment {k + 1} of {len(segments)}", refresh=False)
                        got = _encode_segment(source, settings, a, b, path, poster_i if poster else None, on_frame,
                                              step)
                        poster_img = got if got is not None else poster_img
                else:
                    data, poster_img = _run_blocks(record, settings, segments, workers, scheduler, preview, title,
                                                   poster_i, bar, work)
                    for path, blob in zip(paths, data):
                        path.write_bytes(blob)
                with atomic_path(output) as tmp:
                    join_segments(paths, tmp, n / settings.fps, audio=audio, fade_s=audio_fade_s)
                if poster and poster_img is not None:
                    poster_path = poster_path_for(output)
                    out = (settings.width_px, settings.height_px)
                    if poster_img.shape[1::-1] != out:
                        from PIL import Image

                        poster_img = np.asarray(Image.fromarray(poster_img).resize(out, Image.Resampling.BOX))
                    write_png(grade_image(poster_img, settings.quality), poster_path)
        finally:
            if bar is not None:
                bar.close()
            if source is not None:
                source.close()
    wall = time.perf_counter() - t_start
    return {"frames": n, "seconds": clip.length_s, "fps": settings.fps, "wall_s": wall, "setup_s": t_setup,
            "setup_cpu_s": c_setup, "frames_per_s": n / max(wall - t_setup, 1e-9), "poster": poster_path,
            "output": output, "segments": len(segments)}


def segments_words(done: int, total: int) -> str:
    """The progress bar's note on the 5 s segments: how many of them are encoded."""
    return f"{done} of {total} segments done"


def render_still(record: Any, settings: RenderSettings, video_s: float, output: Path, *, preview: bool = False,
                 title: str | None = None) -> Path:
    """One frame at video time ``video_s`` as a PNG (at the video's size)."""
    source = open_source(record, settings, preview=preview, title=title, keep_caches=False)
    try:
        if not 0 <= video_s <= source.clip.length_s:
            raise RenderSettingsError(f"--still-video-s {video_s:g}: the clip runs 0..{source.clip.length_s:g} s of video")
        check_camera_path(source.clip, np.array([video_s]))
        source.pose(video_s)
        img = grade_image(source.picture(), settings.quality)
    finally:
        source.close()
    write_png(img, output)
    return Path(output)


def write_png(img: np.ndarray, path: Path) -> None:
    """Atomic PNG write (``issvis.core.files.atomic_path``)."""
    from PIL import Image

    from ..core.files import atomic_path

    with atomic_path(path) as tmp:
        Image.fromarray(np.ascontiguousarray(img)).save(tmp, format="PNG")
