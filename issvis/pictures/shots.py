"""The edit: the default shot list made from a record, and the check every camera path must pass.

numpy only (no pyvista). ``auto_shots`` builds the default choreography from what the record holds
(the first separation, the two sides, where the Sun is and when it sets): an establishing shot, the
opening seen side-on in real time, the two sides parting with both in frame, the departing side
leaving with Earth behind it, and a lit ending before sunset. Each camera direction is chosen for
side or three-quarter light on its subject, and only where the path passes ``check_camera_path``.

``check_camera_path`` runs on any scene's camera before a frame is encoded: the eye stays
``TOLERANCES.camera_clearance_m`` clear of every part's visual bounds, the subject is not hidden
behind other parts for longer than ``TOLERANCES.subject_hidden_s``, and within a shot the camera
never whips round (``TOLERANCES.camera_turn_deg_per_s``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..core.frames import EARTH_RADIUS_M, limb_dip_rad, quat_to_matrix
from ..core.tolerances import TOLERANCES
from ..record.scene_of import DEFAULT_ALTITUDE_M
from ..scene.render_settings import Lighting, RenderSettings, Shot
from .camera import CameraPose, PointResolver, RenderSettingsError, arc_offset, project


class CameraPathError(RenderSettingsError):
    """A camera path that enters or grazes the station, loses its subject, or whips round."""


# --- the Sun, as the stage turns it --------------------------------------------------------
def sun_direction(lighting: Lighting, mean_motion_rad_s: float, t_s: float) -> np.ndarray:
    """Unit vector towards the Sun, LVLH, at simulated time t (the rule ``Stage.sun_direction`` draws)."""
    d = np.asarray(lighting.sun_direction_lvlh, float)
    d = d / np.linalg.norm(d)
    if lighting.mode == "night" and d[0] > -0.5:
        d = np.array([-0.8, d[1], d[2]])
        d /= np.linalg.norm(d)
    if lighting.sun_moves:
        a = -mean_motion_rad_s * t_s
        c, s = math.cos(a), math.sin(a)
        d = np.array([c * d[0] - s * d[1], s * d[0] + c * d[1], d[2]])
    return d


DAYLIGHT_RGB = np.array([1.0, 0.97, 0.92])  # the Sun's light high above the limb (a touch warm of white)
RAYLEIGH_ZENITH_TAU_RGB = np.array([0.05, 0.11, 0.24])  # optical depth of the air straight up from sea level,
# red / green / blue (Rayleigh scattering at ~650 / 550 / 450 nm, a little aerosol)
AIR_SCALE_HEIGHT_M = 8_000.0


def sun_tangent_height_m(above_limb_rad: float, altitude_m: float = DEFAULT_ALTITUDE_M) -> float:
    """How close to the ground the Sun's ray passes on its way to the station, m, with the Sun this high
    above the limb: 0 at the limb, about 2,300 km x the height (rad) just above it, the station's own
    altitude once the Sun is above the horizontal."""
    dip = limb_dip_rad(altitude_m)
    if above_limb_rad >= dip:  # the Sun above the horizontal: the ray climbs away, nearest the ground at the station
        return altitude_m
    return max((EARTH_RADIUS_M + altitude_m) * math.cos(dip - above_limb_rad) - EARTH_RADIUS_M, 0.0)


def sun_colour_rgb(above_limb_rad: float, altitude_m: float = DEFAULT_ALTITUDE_M) -> np.ndarray:
    """The sunlight reaching the station with the Sun this high above Earth's limb (the stage's light and
    the Cycles engine's): daylight, times what the air the ray grazes lets through. A grazing ray crosses
    sqrt(2 pi R / H) ~ 70 times the air straight up, thinned by exp(-z/H) at its tangent height z; so the
    light is white until the ray dips under ~50 km (the Sun ~0.02 rad above the limb), then reddens and
    dims fast: at 0.010 rad (z ~ 24 km) it is about (0.83, 0.62, 0.37) of daylight."""
    z = sun_tangent_height_m(above_limb_rad, altitude_m)
    column = math.sqrt(2 * math.pi * EARTH_RADIUS_M / AIR_SCALE_HEIGHT_M) * math.exp(-z / AIR_SCALE_HEIGHT_M)
    return DAYLIGHT_RGB * np.exp(-RAYLEIGH_ZENITH_TAU_RGB * column)


def _orbit(record: Any) -> tuple[float, float]:
    """(mean motion rad/s, limb dip rad) of the record's orbit."""
    from ..record.scene_of import orbit_of

    altitude_m, n = orbit_of(record)
    return n, limb_dip_rad(altitude_m)


def sun_height_rad(record: Any, lighting: Lighting, t_s: float) -> float:
    """The Sun's height above Earth's limb as the station sees it, rad (below zero: set)."""
    n, dip = _orbit(record)
    return math.asin(float(np.clip(sun_direction(lighting, n, t_s)[0], -1, 1))) + dip


# --- what the camera must keep clear of ----------------------------------------------------
@dataclass(frozen=True)
class StationBoxes:
    """Each part's visual bounds as boxes in its own frame: one per element of the part (the
    catalogue's primitives) grown to hold every vertex of the part's fine visual model nearest to it.

    ``part`` (K,) index into the record's parts; ``lo``, ``hi`` (K, 3) m; ``what`` (K,) words for
    messages ('P3/P4 truss, wing 2A')."""

    part: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    what: tuple[str, ...]
    names: tuple[str, ...]

    def local(self, points: np.ndarray, pos: np.ndarray, rot: np.ndarray) -> np.ndarray:
        """Points (N, 3) LVLH seen in each box's part frame: (K, N, 3)."""
        rel = np.asarray(points, float)[None, :, :] - pos[self.part][:, None, :]
        return np.einsum("kji,knj->kni", rot[self.part], rel)

    def distances(self, eye: np.ndarray, pos: np.ndarray, rot: np.ndarray) -> np.ndarray:
        """(K,) distance, m, from the eye (LVLH) to each box (0 inside)."""
        e = self.local(eye[None], pos, rot)[:, 0]
        gap = np.maximum(np.maximum(self.lo - e, e - self.hi), 0.0)
        return np.sqrt((gap * gap).sum(axis=1))

    def blocking(self, eye: np.ndarray, ends: np.ndarray, pos: np.ndarray, rot: np.ndarray) -> np.ndarray:
        """(K, N) bool: does the segment from the eye to each end (N, 3) pass through box k?"""
        e = self.local(eye[None], pos, rot)  # (K, 1, 3)
        c = self.local(ends, pos, rot)  # (K, N, 3)
        d = c - e
        tiny = np.abs(d) < 1e-12
        safe = np.where(tiny, 1e-12, d)
        t1 = (self.lo[:, None, :] - e) / safe
        t2 = (self.hi[:, None, :] - e) / safe
        lo_t = np.where(tiny, -np.inf, np.minimum(t1, t2))
        hi_t = np.where(tiny, np.inf, np.maximum(t1, t2))
        inside_slab = ~tiny | ((e >= self.lo[:, None, :]) & (e <= self.hi[:, None, :]))
        enter = lo_t.max(axis=2)
        leave = hi_t.min(axis=2)
        # the end itself may sit on a box (the subject's own hull): only boxes crossed before it count
        return inside_slab.all(axis=2) & (leave >= np.maximum(enter, 0.0)) & (enter <= 0.98)

    def corners(self, mask: np.ndarray, pos: np.ndarray, rot: np.ndarray) -> np.ndarray:
        """(8M, 3) LVLH corners of the boxes of the parts in a (B,) mask."""
        keep = mask[self.part]
        lo, hi, part = self.lo[keep], self.hi[keep], self.part[keep]
        sel = np.array([[i & 1, (i >> 1) & 1, (i >> 2) & 1] for i in range(8)], bool)
        local = np.where(sel[None], hi[:, None, :], lo[:, None, :])  # (M, 8, 3)
        world = np.einsum("mij,mkj->mki", rot[part], local) + pos[part][:, None, :]
        return world.reshape(-1, 3)


_BOXES: dict[int, tuple[Any, StationBoxes]] = {}


def station_boxes(record: Any) -> StationBoxes:
    """The visual bounds of every part of ``record`` (cached per record)."""
    hit = _BOXES.get(id(record))
    if hit is not None and hit[0] is record:
        return hit[1]
    from ..station.assets import element_bounds, load_station_assets, part_visuals_for_record

    assets = load_station_assets()
    visuals = part_visuals_for_record(record, assets)
    parts, lo, hi, what = [], [], [], []
    names = tuple(str(n) for n in record.names)
    for i, name in enumerate(names):
        meshes = visuals.get(name, ())
        vertices = np.concatenate([m.vertices_m for m in meshes]) if meshes else np.zeros((0, 3))
        asset = assets.parts.get(name)
        label = asset.label if asset is not None else name
        own = asset is not None and meshes is asset.visual
        elements = [e for p in assets.station.parts if p.name == name for e in p.elements] if own else []
        if not len(vertices):
            continue
        if elements and asset is not None:
            seeds = np.array([element_bounds(e) - asset.com_m for e in elements])  # (E, 2, 3) local
            gap = np.maximum(np.maximum(seeds[None, :, 0] - vertices[:, None], vertices[:, None] - seeds[None, :, 1]), 0)
            nearest = np.argmin((gap * gap).sum(axis=2), axis=1)
            for k, e in enumerate(elements):
                mine = vertices[nearest == k]
                if not len(mine):
                    continue
                parts.append(i)
                lo.append(mine.min(axis=0))
                hi.append(mine.max(axis=0))
                what.append(label if e.label == "hull" else f"{label}, {e.label}")
        else:
            for m in meshes:
                parts.append(i)
                lo.append(m.vertices_m.min(axis=0))
                hi.append(m.vertices_m.max(axis=0))
                what.append(label)
    boxes = StationBoxes(np.array(parts, int), np.array(lo), np.array(hi), tuple(what), names)
    if len(_BOXES) > 8:
        _BOXES.clear()
    _BOXES[id(record)] = (record, boxes)
    return boxes


# --- the check -----------------------------------------------------------------------------
def subject_mask(points: PointResolver, name: str) -> np.ndarray | None:
    """(B,) parts that make up a camera subject, or None when the subject is the whole station."""
    if name in ("station", "between", "lvlh"):
        return None
    if name == "interface":
        if points.interface is None:
            return None
        mask = np.zeros(len(points.mass), bool)
        mask[[points.interface[0], points.interface[2]]] = True
        return mask
    if name.startswith("part:"):
        mask = np.zeros(len(points.mass), bool)
        mask[points.part_index[name[5:]]] = True
        return mask
    found = points.masks.get(name)
    return None if found is None or found.all() else found


@dataclass
class PathReport:
    """What the check measured over a camera path (for tests and the notes)."""

    closest_m: float
    closest_what: str
    closest_video_s: float
    longest_hidden_s: float
    fastest_turn_deg_per_s: float


def _subject_of(clip: Any, video_s: float) -> str:
    hit = clip.shot_at(video_s)
    if hit is not None:
        return hit[1].subject
    times = [k.at_s for k in clip.keys]
    i = max(int(np.searchsorted(times, video_s, side="right")) - 1, 0)
    return clip.keys[min(i, len(clip.keys) - 1)].target


def check_camera_path(clip: Any, times: np.ndarray | None = None, boxes: StationBoxes | None = None,
                      raise_error: bool = True) -> PathReport:
    """Walk the camera over every frame (or ``times``, video s) and raise ``CameraPathError`` naming
    the video time, the shot and the part when the eye comes closer than the clearance to a part's
    visual bounds, when the subject hides behind other parts for longer than a moment, or when a
    shot's camera turns faster than the bound. Returns what it measured."""
    tol = TOLERANCES
    boxes = boxes or station_boxes(clip.record)
    times = clip.frame_times() if times is None else np.asarray(times, float)
    masks: dict[str, np.ndarray | None] = {}
    closest = (math.inf, "", 0.0)
    hidden_since: float | None = None
    hidden_by: dict[str, int] = {}
    longest_hidden = 0.0
    fastest = 0.0
    last: tuple[int, np.ndarray, float] | None = None
    where_hidden = ""
    for v in times:
        v = float(v)
        t = clip.sim(v)
        pos, quat = clip.poses(t)
        rot = quat_to_matrix(quat)
        pose: CameraPose = clip.camera(v)
        d = boxes.distances(pose.position, pos, rot)
        k = int(np.argmin(d))
        if d[k] < closest[0]:
            closest = (float(d[k]), boxes.what[k], v)
        if d[k] < tol.camera_clearance_m and raise_error:
            inside = "inside" if d[k] <= 0 else f"{d[k]:.1f} m from"
            raise CameraPathError(
                f"video {v:.2f} s ({clip.where(v)}): the camera is {inside} the visual bounds of "
                f"{boxes.names[boxes.part[k]]} ({boxes.what[k]}); it must stay {tol.camera_clearance_m:g} m clear "
                "of every part: move the camera out or pick another angle")
        # the subject: hidden when over half its mass lies behind other parts' boxes
        name = _subject_of(clip, v)
        if name not in masks:
            masks[name] = subject_mask(clip.points, name)
        mask = masks[name]
        hidden = False
        if mask is not None:
            others = ~mask[boxes.part]
            if name == "interface":
                ends, weight = pose.focal_point[None], np.ones(1)
            else:
                idx = np.flatnonzero(mask)
                ends, weight = pos[idx], clip.points.mass[idx]
            block = boxes.blocking(pose.position, ends, pos, rot) & others[:, None]  # (K, N)
            covered = block.any(axis=0)
            hidden = float(weight[covered].sum()) > 0.5 * float(weight.sum())
            if hidden:  # the nearest of the boxes in the way is what the viewer sees the subject behind
                ahead = np.flatnonzero(block.any(axis=1))
                kk = int(ahead[np.argmin(d[ahead])])
                hidden_by[boxes.what[kk]] = hidden_by.get(boxes.what[kk], 0) + 1
        shot = clip.shot_at(v)
        shot_k = shot[0] if shot is not None else -1
        if hidden:
            if hidden_since is None:
                hidden_since, where_hidden = v, clip.where(v)
            span = v - hidden_since
            longest_hidden = max(longest_hidden, span)
            if span > tol.subject_hidden_s and raise_error:
                by = max(hidden_by, key=lambda w: hidden_by[w])
                raise CameraPathError(
                    f"video {hidden_since:.2f}-{v:.2f} s ({where_hidden}): the subject ({name}) is hidden behind "
                    f"{by} for more than {tol.subject_hidden_s:g} s; move the camera so that it sees past it")
        else:
            hidden_since, hidden_by = None, {}
        # no whip inside a shot: how fast the line of sight turns
        look = pose.focal_point - pose.position
        look = look / np.linalg.norm(look)
        if last is not None and last[0] == shot_k and shot_k >= 0 and v > last[2]:
            # per second of the shot as written: --seconds may squeeze a clip, and its moves with it
            turn = math.degrees(math.acos(float(np.clip(look @ last[1], -1, 1)))) / (v - last[2]) * clip.scale
            fastest = max(fastest, turn)
            if turn > tol.camera_turn_deg_per_s and raise_error:
                raise CameraPathError(
                    f"video {v:.2f} s ({clip.where(v)}): the camera turns {turn:.0f} deg/s, faster than "
                    f"{tol.camera_turn_deg_per_s:g} deg/s (a whip); make the shot longer or the move smaller")
        last = (shot_k, look, v)
    return PathReport(closest[0], closest[1], closest[2], longest_hidden, fastest)


# --- the default shot list -----------------------------------------------------------------
SHOT_TIMES = {  # video seconds of each shot of the default edit (scaled by --seconds)
    "establishing": 4.5, "opening": 7.0, "parting": 6.5, "leaving": 7.0, "apart": 4.0, "sunset": 4.5}
PARTING_FACTOR = 10.0  # the two sides parting, 10x faster than real time
LEAVING_FACTOR = 30.0
LEAVING_TURN_DEG = 28.0  # the leaving shot turns this much about the zenith round the remaining side
SUNSET_FACTOR = 5.0  # the close that ends the clip, slowed for the last sunlight: white, then orange as it sets
APART_FACTOR = 30.0  # the wide after it: both sides, far apart, over the day side
LIGHT_ANGLE_DEG = 55.0  # between the Sun and the camera, seen from the subject: side to three-quarter light
GLINT_SPREAD_DEG = 8.0  # the leaving shot asks its camera to pass this close to where a US wing mirrors the Sun
GLINT_MISS_DEG = 30.0  # ...and past this, every miss (or no wing in view) costs the same: the light decides
LEAVING_LIGHT_DEG = 75.0  # the leaving shot's light: a glint off a wing facing zenith comes with side light
SUNSET_LIGHT_DEG = 126.0  # the close: light from behind one side, the limb glowing towards the Sun across the frame
APART_SUN_RAD = 0.75  # the wide ends with the Sun this high above the limb: about 24 deg up on the ground below
APART_ELEVATION_DEG = 30.0  # the wide looks down this much: the day side behind both sides
APART_FILL = 0.7  # both sides' hulls fill this much of the wide: the US arrays inside the frame too
APART_ORBIT_DEG = 30.0  # the wide turns this much about the zenith: the day side sweeps past
SUNSET_EXPOSURE_EV = 1.7  # the close opens up 1.7 stops: exposed for the hulls in the reddened last light, as a
# photographer would (sky and night side stay black)
SUNSET_FOV_DEG = 34.0  # the close's vertical field of view, deg
SUNSET_ORBIT_DEG = 24.0  # the close turns this much about the zenith, towards the Sun (more ends against the Sun)
SUNSET_ELEVATION_DEG = 8.0  # the close looks down this much: the layered limb behind the subject, dark Earth under it
LIT_SUN_RAD = 0.007  # the edit ends with the Sun this high: its disc (0.0093 rad) wholly above the limb, at 0.92 of its
# strength (the stage fades the disc out over 0.012 rad), its ray grazing the air at ~16 km: orange (sun_colour_rgb)
CLOSE_FILL = (0.85, 0.95)  # the last close fills this much of the frame at its first and last frame...
CLOSE_DROP = 0.2  # ...its subject this share of the half-height below centre: the end card reads above it


def _posers(record: Any, points: PointResolver, boxes: StationBoxes) -> tuple[Any, Any]:
    """(at, corners): a named point's LVLH position at record time t, and a mask's visual-box corners."""
    def at(name: str, t: float) -> np.ndarray:
        pos, quat = record.pose_at(t)
        return points.point(name, pos, quat)

    def corners(mask: np.ndarray, t: float) -> np.ndarray:
        pos, quat = record.pose_at(t)
        return boxes.corners(mask, pos, quat_to_matrix(quat))

    return at, corners


def _fibonacci(n: int) -> np.ndarray:
    i = np.arange(n) + 0.5
    z = 1 - 2 * i / n
    r = np.sqrt(1 - z * z)
    phi = math.pi * (3 - math.sqrt(5)) * i
    return np.stack([z, r * np.cos(phi), r * np.sin(phi)], axis=1)  # x first: zenith


_DIRECTIONS = _fibonacci(900)


def _fit_distance(corners: np.ndarray, target: np.ndarray, direction: np.ndarray, fov_deg: float, aspect: float,
                  fill: float) -> float:
    """Distance along ``direction`` from ``target`` at which the points fill ``fill`` of the frame."""
    up = np.array([1.0, 0.0, 0.0])
    right = np.cross(-direction, up)
    if np.linalg.norm(right) < 1e-6:
        right = np.cross(-direction, [0.0, 1.0, 0.0])
    right /= np.linalg.norm(right)
    screen_up = np.cross(right, -direction)
    rel = corners - target
    half_w = float(np.abs(rel @ right).max())
    half_h = float(np.abs(rel @ screen_up).max())
    depth = float((rel @ direction).max())  # the nearest corner stands this far towards the camera
    tan_v = math.tan(math.radians(fov_deg) / 2)
    need = max(half_h / (fill * tan_v), half_w / (fill * tan_v * aspect))
    return need + max(depth, 0.0)


def _rotate_about_zenith(v: np.ndarray, deg: float) -> np.ndarray:
    a = math.radians(deg)
    c, s = math.cos(a), math.sin(a)
    return np.array([v[0], c * v[1] - s * v[2], s * v[1] + c * v[2]])


@dataclass
class _Want:
    """What a shot asks of its camera direction (from the subject towards the camera)."""

    elevation_deg: float | None
    sun: np.ndarray
    axis: np.ndarray | None = None  # keep the camera square to this axis (side-on)
    light_deg: float = LIGHT_ANGLE_DEG
    behind: np.ndarray | None = None  # a direction to see beyond the subject (the other side, far off)
    glint: Any = None  # (N, 3) directions -> (N,) deg off the mirror angle at which a wing glints

    def cost(self, c: np.ndarray) -> np.ndarray:
        light = np.degrees(np.arccos(np.clip(c @ self.sun, -1, 1)))
        out = ((light - self.light_deg) / 15.0) ** 2
        if self.elevation_deg is not None:
            elev = np.degrees(np.arcsin(np.clip(c[:, 0], -1, 1)))
            out = out + ((elev - self.elevation_deg) / 10.0) ** 2
        if self.axis is not None:
            out = out + ((c @ self.axis) / 0.12) ** 2
        if self.behind is not None:
            # the far side ~24 deg off the line of sight: in frame beside the subject, not hidden behind it
            off = np.degrees(np.arccos(np.clip(-(c @ self.behind), -1, 1)))
            out = out + ((off - 24.0) / 8.0) ** 2
        if self.glint is not None:
            out = out + (np.minimum(self.glint(c), GLINT_MISS_DEG) / GLINT_SPREAD_DEG) ** 2
        return out


GLINT_VIEW_DEG = 28.0  # a wing counts for a glint when it lies this close to the line of sight (in frame)


def wing_glint_deg(boxes: StationBoxes, mask: np.ndarray, pos: np.ndarray, rot: np.ndarray, eyes: np.ndarray,
                   sun: np.ndarray, look_at: np.ndarray) -> np.ndarray:
    """(N,) deg: for each eye (N, 3), LVLH m, looking at ``look_at``, the smallest angle over the solar
    wings of the parts in ``mask`` within GLINT_VIEW_DEG of its line of sight between the direction from
    a wing to the eye and the Sun's mirror image in that wing (its thinnest axis, turned to the Sun: the
    cells): 0 where the eye sees the Sun glint off its cells. 180 where no wing is in view."""
    wings = [k for k, w in enumerate(boxes.what) if mask[boxes.part[k]] and ("wing" in w or "iROSA" in w)]
    if not wings:
        return np.full(len(eyes), 180.0)
    best = np.full(len(eyes), 180.0)
    for k in wings:
        i = boxes.part[k]
        size = boxes.hi[k] - boxes.lo[k]
        normal = rot[i][:, int(np.argmin(size))]
        normal = normal if float(normal @ sun) >= 0 else -normal  # the face the Sun lights (the cells)
        centre = pos[i] + rot[i] @ (0.5 * (boxes.lo[k] + boxes.hi[k]))
        mirror = 2 * float(normal @ sun) * normal - sun  # the Sun reflected in the wing's plane
        to_eye = eyes - centre
        to_eye /= np.linalg.norm(to_eye, axis=1, keepdims=True)
        sight = look_at - eyes
        sight /= np.linalg.norm(sight, axis=1, keepdims=True)
        seen = -(to_eye * sight).sum(axis=1) > math.cos(math.radians(GLINT_VIEW_DEG))
        angle = np.degrees(np.arccos(np.clip(to_eye @ mirror, -1, 1)))
        best = np.where(seen, np.minimum(best, angle), best)
    return best


DISTANCE_STEPS = (1.0, 1.5, 2.25, 3.4, 5.0)  # farther out, a camera clears more, turns slower, sees past more


def _pick(clip_probe: Any, make: Any, want: _Want, tries: int = 300) -> Shot:
    """The best-lit direction whose shot passes the camera check; farther out when none near does.

    ``make(direction, distance_scale)`` builds the candidate shot."""
    order = np.argsort(want.cost(_DIRECTIONS))
    last_error: Exception | None = None
    for scale in DISTANCE_STEPS:
        for k in order[:tries]:
            shot = make(_DIRECTIONS[k], scale)
            try:
                clip_probe(shot, quick=True)  # three frames first: most candidates that fail, fail there
                clip_probe(shot)
                return shot
            except CameraPathError as exc:
                last_error = exc
    raise RenderSettingsError(f"the default edit found no camera for its shot ({last_error}); give the scene its own "
                              "[[render.shot]] list")


class _Probe:
    """A one-shot clip for trying a candidate shot against the camera check at a few times."""

    def __init__(self, record: Any, settings: RenderSettings, boxes: StationBoxes):
        self.record, self.settings, self.boxes = record, settings, boxes

    def __call__(self, shot: Shot, quick: bool = False) -> None:
        from .camera import Clip

        probe = Clip(self.settings.model_copy(update={"shot": (shot,), "seconds": None}), self.record)
        # dense enough that a turn between samples is the turn between frames (to a few per cent)
        rate = min(float(self.settings.fps), 15.0)
        count = 3 if quick else max(9, int(probe.length_s * rate) + 1)
        times = np.linspace(0.0, probe.length_s, count)
        check_camera_path(probe, times, self.boxes)


def _side_label_masks(points: PointResolver) -> tuple[np.ndarray, np.ndarray] | None:
    dep, rem = points.masks.get("departing"), points.masks.get("remaining")
    if dep is None or rem is None or dep.all():
        return None
    return dep, rem


def auto_shots(record: Any, settings: RenderSettings, points: PointResolver | None = None) -> list[Shot]:
    """The default edit for this record: named shots with cuts, each lit from the side.

    With a separation: establishing (the docked station, real time), opening (the interface side-on
    in real time while the gap is centimetres, with the gap cue), parting (both sides in frame, named,
    10x), leaving (from the remaining side, the departing one sinking away with Earth behind, 30x),
    and, when the record reaches the sunset, a lit ending in the last minutes of sunlight (20x,
    'N minutes later'). Without one: the whole station at one steady pace.
    """
    key = (id(record), settings.model_dump_json(include={"width_px", "height_px", "lighting", "overlays"}))
    hit = _AUTO.get(key)
    if hit is not None and hit[0] is record:
        return list(hit[1])
    shots = _auto_shots(record, settings, points or PointResolver(record))
    if len(_AUTO) > 8:
        _AUTO.clear()
    _AUTO[key] = (record, tuple(shots))
    return shots


_AUTO: dict[tuple[int, str], tuple[Any, tuple[Shot, ...]]] = {}


def _auto_shots(record: Any, settings: RenderSettings, points: PointResolver) -> list[Shot]:
    boxes = station_boxes(record)
    probe = _Probe(record, settings, boxes)
    aspect = settings.width_px / settings.height_px
    n, _ = _orbit(record)
    lighting = settings.lighting
    t0, t1 = float(record.t[0]), float(record.t[-1])
    everything = np.ones(len(points.mass), bool)
    seps = [e for e in record.events if e.get("kind") == "separation"]
    sides = _side_label_masks(points)

    def sun(t: float) -> np.ndarray:
        return sun_direction(lighting, n, t)

    at, corners = _posers(record, points, boxes)

    def framed(name: str, subject: str, mask: np.ndarray, start: float, factor: float, length: float, fov: float,
               want: _Want, fill: float, orbit_deg: float, push: float, **extra: Any) -> Shot:
        end = start + factor * length

        def make(c: np.ndarray, scale: float) -> Shot:
            d0 = scale * _fit_distance(corners(mask, start), at(subject, start), c, fov, aspect, fill)
            d1 = scale * _fit_distance(corners(mask, end), at(subject, end), c, fov, aspect, fill)
            c1 = _rotate_about_zenith(c, orbit_deg)
            return Shot(name=name, video_s=length, start_sim_s=start, time_factor=factor, subject=subject,
                        from_m=tuple(c * d0), to_m=tuple(c1 * d1 * push), fov_deg=fov, **extra)

        return _pick(probe, make, want)

    if not seps or sides is None or not (t0 <= float(seps[0]["t"]) < t1):
        # no separation: the whole station, one steady pace over the record
        length = settings.time.auto_video_s
        want = _Want(20.0, sun(0.5 * (t0 + t1)))
        return [framed("station", "station", everything, t0, (t1 - t0) / length, length, 40.0, want, 0.8, 30.0, 1.0)]

    dep, rem = sides
    ts = float(seps[0]["t"])
    axis = at("departing", t0) - at("remaining", t0)
    axis = axis / np.linalg.norm(axis)
    times = SHOT_TIMES
    shots: list[Shot] = []
    # 1. establishing: the docked station, real time, a slow turn about the zenith
    open_start = max(t0, ts - 2.5)
    est_start = max(t0, open_start - times["establishing"])
    est_factor = max((open_start - est_start) / times["establishing"], 1e-3)
    shots.append(framed("establishing", "station", everything, est_start, est_factor, times["establishing"], 40.0,
                        _Want(20.0, sun(est_start)), 1.05, 30.0, 0.85))
    # 2. the opening, side-on, real time: the faces of the interface fill the middle of the frame
    iface = points.interface
    close = np.zeros(len(points.mass), bool)
    if iface is not None:
        close[[iface[0], iface[2]]] = True
    else:
        close = everything
    open_len = min(times["opening"], max((t1 - open_start), 1.0))
    shots.append(framed("opening", "interface" if iface is not None else "between", close, open_start, 1.0, open_len,
                        30.0, _Want(18.0, sun(open_start), axis=axis, light_deg=60.0), 1.5, 12.0, 0.7, gap_cue=True))
    t = open_start + open_len
    # 3. parting: both sides in frame, named, 10x
    if t < t1:
        length = min(times["parting"], (t1 - t) / PARTING_FACTOR)
        # framed on the hulls (both sides' modules and vehicles; the arrays may reach past the edges)
        hulls = dep | (rem & not_truss(record))
        shots.append(framed("parting", "between", hulls, t, PARTING_FACTOR, length, 38.0,
                            _Want(28.0, sun(t), axis=axis, light_deg=60.0), 0.8, -32.0, 0.8, labels=True))
        t += PARTING_FACTOR * length
    # 4. leaving: from beside the remaining side, the departing side sinking away, Earth behind it, 30x
    if t < t1 - 1.0:
        length = min(times["leaving"], (t1 - t) / LEAVING_FACTOR)
        end = t + LEAVING_FACTOR * length
        start = t

        def make_leaving(c: np.ndarray, scale: float) -> Shot:
            d0 = scale * _fit_distance(corners(dep, start), at("departing", start), c, 40.0, aspect, 0.55)
            eye0 = at("departing", start) + c * d0
            offset = eye0 - at("remaining", start)
            return Shot(name="leaving", video_s=length, start_sim_s=start, time_factor=LEAVING_FACTOR,
                        subject="departing", anchor="remaining", from_m=tuple(offset),
                        to_m=tuple(_rotate_about_zenith(offset, LEAVING_TURN_DEG)), fov_deg=40.0, to_fov_deg=36.0)

        # the camera passes, half way through its turn, where a US wing mirrors the Sun: the wings flash
        mid = 0.5 * (start + end)
        pos_mid, quat_mid = record.pose_at(mid)
        rot_mid = quat_to_matrix(quat_mid)

        origin, target = at("remaining", mid), at("departing", mid)

        def glint(cs: np.ndarray) -> np.ndarray:
            # each candidate's eye half way through the shot, as the clip moves it (an arc about the subject)
            eyes = []
            for c in cs:
                shot = make_leaving(c, 1.0)
                eyes.append(target + arc_offset(origin + np.asarray(shot.from_m) - target,
                                                origin + np.asarray(shot.to_m) - target, 0.5))
            return wing_glint_deg(boxes, rem, pos_mid, rot_mid, np.array(eyes), sun(mid), target)

        shots.append(_pick(probe, make_leaving, _Want(42.0, sun(mid), light_deg=LEAVING_LIGHT_DEG, glint=glint)))
        t = end
    # 5. the ending: a wide of both sides, named, over the day side, then a close on the departing side across
    # the layered limb in the last sunlight, the end card over it (never looking up into black)
    shots += _ending(record, settings, points, probe, t, t1, aspect, framed)
    return shots


def _ending(record: Any, settings: RenderSettings, points: PointResolver, probe: _Probe, t_from: float,
            t1: float, aspect: float, framed: Any) -> list[Shot]:
    """The wide ('apart': 'N minutes later', both sides named over the day side) and the close ('sunset',
    the end card over it) that end the default edit: the wide while the ground below is still in daylight
    (the Sun ``APART_SUN_RAD`` above the limb), the close through the last sunlight, when the light
    through the limb warms the hulls, its last frame with the Sun ``LIT_SUN_RAD`` above the limb."""
    lighting = settings.lighting
    n, _ = _orbit(record)
    lit = _sun_crossing(record, lighting, t_from, t1, LIT_SUN_RAD)
    if lit is None:
        return []
    close_len, wide_len = SHOT_TIMES["sunset"], SHOT_TIMES["apart"]
    close_start = lit - SUNSET_FACTOR * close_len
    if close_start < t_from:
        return []
    dep, rem = points.masks["departing"], points.masks["remaining"]
    at, corners = _posers(record, points, station_boxes(record))
    shots: list[Shot] = []
    # the wide: both sides, far apart, square to the line between them, over the ground in daylight
    day = _sun_crossing(record, lighting, t_from, close_start, APART_SUN_RAD)
    wide_end = close_start if day is None else day
    wide_start = max(t_from, wide_end - APART_FACTOR * wide_len)
    if wide_start + APART_FACTOR * wide_len <= close_start:
        mid = wide_start + 0.5 * APART_FACTOR * wide_len
        line = at("departing", mid) - at("remaining", mid)
        line = line / max(float(np.linalg.norm(line)), 1e-9)
        hulls = dep | (rem & not_truss(record))
        shots.append(framed("apart", "between", hulls, wide_start, APART_FACTOR, wide_len, 40.0,
                            _Want(APART_ELEVATION_DEG, sun_direction(lighting, n, mid), axis=line),
                            APART_FILL, APART_ORBIT_DEG, 1.0, labels=True))

    # the close: light from three-quarters behind, looking down a little across the layered limb towards the
    # Sun; a slow push in and round, its subject low in the frame so that the end card reads above it
    sun_close = sun_direction(lighting, n, close_start + 0.5 * SUNSET_FACTOR * close_len)
    fov_close = SUNSET_FOV_DEG

    def make_close(c: np.ndarray, scale: float) -> Shot:
        end = close_start + SUNSET_FACTOR * close_len
        # round towards the Sun's side: the limb's glow grows into the frame as the end card comes
        c1 = min((_rotate_about_zenith(c, deg) for deg in (SUNSET_ORBIT_DEG, -SUNSET_ORBIT_DEG)), key=lambda v: float(v @ sun_close))
        d0 = scale * _fit_distance(corners(dep, close_start), at("departing", close_start), c, fov_close, aspect,
                                   CLOSE_FILL[0])
        d1 = scale * _fit_distance(corners(dep, end), at("departing", end), c1, fov_close, aspect, CLOSE_FILL[1])
        right = np.cross(-c1, [1.0, 0.0, 0.0])
        right /= max(float(np.linalg.norm(right)), 1e-9)
        screen_up = np.cross(right, -c1)
        lift = screen_up * (CLOSE_DROP * d1 * math.tan(math.radians(fov_close) / 2))
        return Shot(name="sunset", video_s=close_len, start_sim_s=close_start, time_factor=SUNSET_FACTOR,
                    subject="departing", from_m=tuple(c * d0 + lift), to_m=tuple(c1 * d1 + lift),
                    target_offset_m=tuple(lift), fov_deg=fov_close, exposure_ev=SUNSET_EXPOSURE_EV)

    shots.append(_pick(probe, make_close, _Want(SUNSET_ELEVATION_DEG, sun_close, light_deg=SUNSET_LIGHT_DEG)))
    return shots


def not_truss(record: Any) -> np.ndarray:
    """(B,) parts that are not truss segments (which carry the arrays and radiators)."""
    from ..station.assets import load_station_assets

    kinds = {name: p.kind for name, p in load_station_assets(visuals=False).parts.items()}
    return np.array([kinds.get(str(n), "") != "truss" for n in record.names])


def _sun_crossing(record: Any, lighting: Lighting, t_from: float, t_to: float, height_rad: float) -> float | None:
    """The first simulated time in [t_from, t_to] at which the Sun sinks to ``height_rad`` above the limb."""
    if t_to <= t_from or sun_height_rad(record, lighting, t_from) <= height_rad:
        return None
    grid = np.linspace(t_from, t_to, 400)
    h = np.array([sun_height_rad(record, lighting, float(x)) for x in grid])
    below = np.flatnonzero(h <= height_rad)
    if not len(below):
        return None
    lo, hi = float(grid[below[0] - 1]), float(grid[below[0]])
    for _ in range(40):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if sun_height_rad(record, lighting, mid) > height_rad else (lo, mid)
    return hi


def frame_fits(pose: CameraPose, points_m: np.ndarray, aspect: float, margin: float = 0.05) -> bool:
    """Whether every point projects inside the frame less ``margin`` on each side (title safe: 0.05)."""
    xy, depth = project(pose, points_m, aspect)
    return bool((depth > 0).all() and (xy >= margin).all() and (xy <= 1 - margin).all())
