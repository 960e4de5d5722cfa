"""The video render: the file as a player sees it, the picture, the time map, the camera, errors.

Small sizes throughout (CPU-only Mesa): the whole module runs in well under two minutes.
Key frames are compared with cached PNGs in ``tests/render_cache/``; regenerate them on purpose
with ``ISSVIS_RESET_IMAGE_CACHE=1 pytest tests/test_render.py`` and look at them before committing.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("pyvista")

from issvis.cli import main  # noqa: E402
from issvis.pictures.camera import Clip, RenderSettingsError, auto_knots  # noqa: E402
from issvis.scene.render_settings import (  # noqa: E402
    CameraKey,
    CameraSettings,
    EarthSettings,
    Lighting,
    Overlays,
    Quality,
    RenderSettings,
)

ROOT = Path(__file__).resolve().parents[1]
CACHE = Path(__file__).with_name("render_cache")
RESET = os.environ.get("ISSVIS_RESET_IMAGE_CACHE") == "1"
# Mean absolute difference, 0-255 scale, above which a key frame counts as changed. Re-renders on
# one machine are identical (0.0); Mesa/VTK versions move edges by a pixel (~1-2). Tinting the two
# segments -- the smallest deliberate change tested below -- scores well above it.
KEYFRAME_TOLERANCE = 4.0
SMALL = ["--size", "192x108"]


@pytest.fixture(scope="module")
def record_path(undock_300_path) -> Path:
    """The default scene shortened to 300 s, as a record file (conftest's session fixture)."""
    return undock_300_path

@pytest.fixture(scope="module")
def long_record(tmp_path_factory):
    """The default scene for 900 s: the segments ~100 m apart at the end."""
    from issvis.physics.simulation import simulate
    from issvis.scene.schema import load_scene

    return simulate(load_scene(ROOT / "scenes/undock.toml", ["scene.duration_s=900"]), progress=False)


@pytest.fixture(scope="module")
def record(record_path):
    from issvis.record.record import Record

    return Record.load(record_path)


def _ffmpeg() -> str:
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def _probe(path: Path) -> dict:
    """What a player sees: codec, pixel format, size, duration and the decoded frame count."""
    info = subprocess.run([_ffmpeg(), "-hide_banner", "-i", str(path)], capture_output=True, text=True).stderr
    video = re.search(r"Video: (\w+).*?, (\w+)(?:\(.*?\))?, (\d+)x(\d+)", info)
    duration = re.search(r"Duration: (\d+):(\d+):([\d.]+)", info)
    count = subprocess.run([_ffmpeg(), "-hide_banner", "-i", str(path), "-map", "0:v", "-f", "null", "-"],
                           capture_output=True, text=True).stderr
    frames = int(re.findall(r"frame=\s*(\d+)", count)[-1])
    h, m, s = duration.groups()
    return {"codec": video.group(1), "pix_fmt": video.group(2), "size": (int(video.group(3)), int(video.group(4))),
            "duration_s": int(h) * 3600 + int(m) * 60 + float(s), "frames": frames}


def _top_level_boxes(path: Path) -> list[str]:
    """MP4 top-level box names in file order (faststart: moov before mdat)."""
    names = []
    with open(path, "rb") as fh:
        while header := fh.read(8):
            size, name = int.from_bytes(header[:4], "big"), header[4:8].decode("latin-1")
            names.append(name)
            if size == 1:
                size = int.from_bytes(fh.read(8), "big")
                fh.seek(size - 16, 1)
            else:
                fh.seek(size - 8, 1)
    return names


def _frames(path: Path, size: tuple[int, int] = (192, 108)) -> list[np.ndarray]:
    """Every frame decoded by ffmpeg, (H, W, 3) uint8."""
    raw = subprocess.run([_ffmpeg(), "-v", "error", "-i", str(path), "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
                         capture_output=True, check=True).stdout
    w, h = size
    return list(np.frombuffer(raw, np.uint8).reshape(-1, h, w, 3))


# --- the file --------------------------------------------------------------------------------
@pytest.mark.slow
def test_short_render_plays_like_a_real_video(record_path, tmp_path, capsys):
    out = tmp_path / "clip.mp4"
    assert main(["render", str(record_path), "-o", str(out), *SMALL, "--fps", "12", "--seconds", "4",
                 "--no-progress"]) == 0
    probe = _probe(out)
    assert probe["codec"] == "h264"
    assert probe["pix_fmt"] == "yuv420p"
    assert probe["size"] == (192, 108)  # not padded to a macro-block multiple
    assert probe["frames"] == 48
    assert probe["duration_s"] == pytest.approx(4.0, abs=0.1)
    boxes = _top_level_boxes(out)
    assert boxes.index("moov") < boxes.index("mdat"), boxes  # +faststart
    assert (tmp_path / "clip.poster.png").is_file()
    assert not [p for p in tmp_path.iterdir() if "partial" in p.name]

    frames = _frames(out)
    assert len(frames) == 48
    middle = frames[24].astype(float)
    assert middle.mean() > 8 and middle.std() > 15, "a middle frame is (nearly) blank"
    # the picture changes along the clip, also between neighbours once the title has gone
    diffs = [np.abs(frames[i + 1].astype(float) - frames[i]).mean() for i in range(12, 47)]
    assert min(diffs) > 0.05, f"frames stand still: {min(diffs):.3f}"
    assert np.abs(frames[-10].astype(float) - frames[14]).mean() > 5


@pytest.mark.slow
def test_error_midway_leaves_no_file(record, tmp_path):
    from issvis.pictures.video import render_video

    out = tmp_path / "broken.mp4"

    def stop(i, frame):
        if i == 3:
            raise KeyboardInterrupt

    settings = RenderSettings(width_px=96, height_px=54, fps=5, seconds=2)
    with pytest.raises(KeyboardInterrupt):
        render_video(record, settings, out, progress=False, on_frame=stop)
    assert list(tmp_path.iterdir()) == []


# --- the picture -----------------------------------------------------------------------------
# one frame in each shot of the default edit of the 300 s record (the sunset lies past its end)
KEY_FRAMES = {"establishing": 2.5, "opening": 8.0, "parting": 15.0, "leaving": 22.0}


def _still(record, video_s: float, settings: RenderSettings | None = None, tint: bool = False) -> np.ndarray:
    from issvis.pictures.video import open_source

    settings = settings or RenderSettings(width_px=192, height_px=108)
    src = open_source(record, settings)
    try:
        src.stage.tint_segments(tint)
        src.pose(video_s)
        return src.picture()
    finally:
        src.close()


@pytest.mark.parametrize("name", sorted(KEY_FRAMES))
@pytest.mark.slow
def test_key_frames_match_cache(record, name):
    from PIL import Image

    img = _still(record, KEY_FRAMES[name])
    cached = CACHE / f"{name}.png"
    if RESET:  # asked for: write the new picture, compare nothing
        CACHE.mkdir(exist_ok=True)
        Image.fromarray(img).save(cached)
        pytest.skip(f"wrote {cached}: look at it before committing")
    # a missing picture fails, and stays failing: the test never writes the tree it checks
    assert cached.exists(), f"no cached image {cached}: make it with ISSVIS_RESET_IMAGE_CACHE=1 and look at it"
    with Image.open(cached) as im:
        ref = np.asarray(im.convert("RGB"))
    err = np.abs(img.astype(float) - ref).mean()
    assert err <= KEYFRAME_TOLERANCE, f"{name}: mean difference {err:.2f} > {KEYFRAME_TOLERANCE} (0-255)"
    assert img.std() > 10, f"{name} is nearly uniform"


@pytest.mark.slow
def test_key_frame_tolerance_sees_a_real_change(record):
    """The threshold is not so loose that a visible change passes: tinting the segments fails it."""
    plain = _still(record, KEY_FRAMES["opening"])
    tinted = _still(record, KEY_FRAMES["opening"], tint=True)
    assert np.abs(plain.astype(float) - tinted).mean() > KEYFRAME_TOLERANCE


@pytest.mark.parametrize("overlay, region", [  # both lines of the read-out sit bottom left
    ("clock", (slice(70, 108), slice(0, 120))),
    ("separation", (slice(70, 108), slice(0, 120))),
])
@pytest.mark.slow
def test_hud_overlays_draw_and_switch_off(record, overlay, region):
    on = _still(record, 13.0)
    off = _still(record, 13.0, RenderSettings(width_px=192, height_px=108,
                                              overlays=Overlays(**{overlay: False})))
    assert np.abs(on[region].astype(float) - off[region]).max() > 60


@pytest.mark.parametrize("card, at_s", [("title_card", 0.5), ("end_card", 45.5)])
@pytest.mark.slow
def test_cards_draw_and_switch_off(record, card, at_s):
    """The title is a lower third, the end card a top third (the last wide keeps its subjects low and to the
    right); each stays in its own third (the read-out takes the lower third when they are off)."""
    on = _still(record, at_s)
    off = _still(record, at_s, RenderSettings(width_px=192, height_px=108, overlays=Overlays(**{card: False})))
    own, clear = (slice(72, 108), slice(0, 40)) if card == "title_card" else (slice(0, 36), slice(40, 68))
    assert np.abs(on[own].astype(float) - off[own]).mean() > 3
    assert np.array_equal(on[clear], off[clear]), "a card reached past its third of the picture"


@pytest.mark.slow
def test_every_camera_mode_and_point_runs(record):
    """One choreography visiting every mode, ease and kind of point; each frame sees something."""
    points = ["lvlh", "station", "departing", "remaining", "between", "interface", "segment:ROS", "part:zarya"]
    keys = []
    for k, point in enumerate(points):
        mode = ("fixed", "follow", "orbit")[k % 3]
        ease = ("smooth", "linear", "hold")[k % 3]
        keys.append(CameraKey(at_s=2.0 * k, mode=mode, anchor=point, target=point, position_m=(30.0, -60.0, 90.0),
                              orbit_deg_per_s=10.0, ease=ease, fov_deg=50.0))
    settings = RenderSettings(width_px=96, height_px=54, camera=CameraSettings(keys=tuple(keys)),
                              overlays=Overlays(title_card=False, end_card=False))
    from issvis.pictures.video import open_source

    src = open_source(record, settings)
    try:
        for k in range(len(points)):
            src.pose(2.0 * k + 0.7)
            img = src.grab()
            assert img.std() > 5, f"key {k} ({points[k]}) shows nothing"
    finally:
        src.close()


#: Mean absolute difference (0-255 scale) above which an option counts as drawn. Re-renders of one
#: picture on one machine are identical (0.0); the smallest effect below, earthshine off, is 0.10.
OPTION_EFFECT_MIN = 0.05

SCENE_OPTIONS = [  # (table, key, value): each, alone, changes the default picture
    ("lighting", "mode", "night"),
    ("lighting", "sun_moves", False),
    ("lighting", "ambient", 0.2),
    ("lighting", "earthshine", 0.0),
    ("lighting", "star_gain", 1.0),
    ("earth", "texture", "generated"),
    ("earth", "turns", False),
    ("earth", "show", False),
    ("quality", "anti_aliasing", "ssaa"),
    ("quality", "anti_aliasing", "fxaa"),  # with shadows on too: the shadow passes end in an FXAA pass
    ("quality", "stars", 0),
    ("quality", "supersample", 2.0),
    ("quality", "shadow_map_px", 512),
]
# Checked elsewhere, where they show: Earth's clouds, glint, detail, brightness and atmosphere
# (EARTH_OPTIONS; the glint is not in this view), lighting.shadows and sun_intensity (the shadow tests).


OPTIONS_AT_S = KEY_FRAMES["parting"]  # both sides, Earth and the sky with its stars in view


@pytest.fixture(scope="module")
def default_still(record):
    return _still(record, OPTIONS_AT_S, RenderSettings(width_px=96, height_px=54))


@pytest.mark.parametrize("table, key, value", SCENE_OPTIONS)
@pytest.mark.slow
def test_each_scene_option_changes_the_picture(record, default_still, table, key, value):
    """A [render] option the renderer silently ignored would draw the default picture exactly."""
    settings = RenderSettings.model_validate({"width_px": 96, "height_px": 54, table: {key: value}})
    assert getattr(getattr(settings, table), key) == value
    img = _still(record, OPTIONS_AT_S, settings)
    assert img.shape == (54, 96, 3)
    assert img.max() > 100
    change = np.abs(img.astype(float) - default_still).mean()
    assert change > OPTION_EFFECT_MIN, f"render.{table}.{key} = {value!r} changed nothing ({change:.3f})"


EARTH_OPTIONS = [  # (setting, value): each must change the picture of Earth
    ("clouds", 0.0), ("glint", 0.0), ("detail", 0.0), ("brightness", 0.5), ("atmosphere", False),
]


@pytest.mark.parametrize("key, value", EARTH_OPTIONS)
@pytest.mark.slow
def test_each_earth_option_changes_earth(record, key, value):
    """Looking down at the day side with the Sun low ahead (glint, haze and limb in view)."""
    key_ = CameraKey(at_s=0.0, mode="follow", anchor="station", target="station", target_offset_m=(-250.0, 60.0, 0.0),
                     position_m=(-150.0, 0.0, 0.0), fov_deg=70.0, up=(0.0, 1.0, 0.0))
    base = dict(width_px=160, height_px=90, camera=CameraSettings(keys=(key_,)),
                overlays=Overlays(title_card=False, end_card=False, clock=False, separation=False),
                lighting=Lighting(sun_direction_lvlh=(0.25, 1.0, 0.1), sun_moves=False))
    # clear skies (except when clouds are what is tested): cloud hides the glint and the ground detail;
    # the glint is looked for over the Pacific, clouds in the North Atlantic's storm track, the rest
    # over the Sahara (detail shows on bright land)
    place = {"glint": (0.0, -150.0), "clouds": (50.0, -25.0)}.get(key, (24.0, 12.0))
    pacific = dict(subpoint_lat_deg=place[0], subpoint_lon_deg=place[1], clouds=0.75 if key == "clouds" else 0.0)
    plain = _still(record, 20.0, RenderSettings(**base, earth=EarthSettings(**pacific)))
    changed = _still(record, 20.0, RenderSettings(**base, earth=EarthSettings(**{**pacific, key: value})))
    assert np.abs(plain.astype(float) - changed).mean() > 0.3, key


@pytest.mark.slow
def test_night_side_is_dark_and_day_side_lit(record):
    """Sun straight ahead along the orbit: Earth below the station sits on the terminator; the half of the
    picture towards the Sun is lit and the half away from it is dark (only twilight, a few degrees
    past the terminator, lights it faintly)."""
    key_ = CameraKey(at_s=0.0, mode="follow", anchor="station", target="station", target_offset_m=(-300.0, 0.0, 0.0),
                     position_m=(-200.0, 0.0, 0.0), fov_deg=100.0, up=(0.0, 1.0, 0.0))
    settings = RenderSettings(width_px=160, height_px=90, camera=CameraSettings(keys=(key_,)),
                              overlays=Overlays(title_card=False, end_card=False, clock=False, separation=False),
                              lighting=Lighting(sun_direction_lvlh=(0.0, 1.0, 0.0), sun_moves=False),
                              earth=EarthSettings(clouds=0.0))
    img = _still(record, 20.0, settings).astype(float).mean(axis=2)
    # screen up is +y (towards the Sun): the top rows see ground where the Sun is up, the bottom rows night
    top, bottom = img[5:25].mean(), img[65:85].mean()
    assert top > 25 and bottom < 0.4 * top, (top, bottom)


# --- shadows against a ray cast --------------------------------------------------------------
# Suns from high (the truss and its boxes shadow the modules and radiators) to low, 53 deg from the
# zenith, where shadows are long and cross the station: the case VTK's own set-up got wrong (the map
# baked with the window's 16:9 aspect and read as square, and an exp(11) test that leaked).
SHADOW_SUNS = {"high": (1.0, 0.02, 0.05), "mid": (0.8, 0.45, 0.3), "low": (0.6, 0.0, -0.8)}


def _shadow_view(record, sun=SHADOW_SUNS["high"], **lighting):
    key_ = CameraKey(at_s=0.0, mode="fixed", anchor="station", target="station", position_m=(32.0, 12.0, 22.0),
                     fov_deg=50.0)
    return RenderSettings(width_px=320, height_px=180, camera=CameraSettings(keys=(key_,)),
                          overlays=Overlays(title_card=False, end_card=False, clock=False, separation=False),
                          earth=EarthSettings(show=False), quality=Quality(supersample=1.0, stars=0),
                          lighting=Lighting(sun_direction_lvlh=sun, sun_moves=False, earthshine=0.0,
                                            ambient=0.03, **lighting))


def _render_with_depth(record, settings, video_s: float = 1.0, warm_up_video_s: float | None = None):
    """(image (H, W, 3) float, linear light on a 0-255 scale, world points (H, W, 3) m or nan, triangles
    (T, 3, 3) m) of the frame at ``video_s``; ``warm_up_video_s``: render the frame at that time first
    (its shadow map bakes first)."""
    import vtk
    from vtkmodules.util.numpy_support import vtk_to_numpy

    from issvis.pictures.video import open_source

    src = open_source(record, settings)
    try:
        if warm_up_video_s is not None:
            src.pose(warm_up_video_s)
            src.grab()
        src.pose(min(video_s, src.clip.length_s))
        img = src.grab(flipped=True).astype(float)  # row 0 = bottom, like the depth buffer
        img = img * img / 255.0  # the frame is linear light written as sqrt: back to linear (0-255 scale)
        w, h = src.width_px, src.height_px
        rw = src.plotter.render_window
        zbuf = vtk.vtkFloatArray()
        rw.GetZbufferData(0, 0, w - 1, h - 1, zbuf)
        z = vtk_to_numpy(zbuf).reshape(h, w)
        cam = src.plotter.renderer.GetActiveCamera()
        m = np.array([[cam.GetCompositeProjectionTransformMatrix(w / h, -1, 1).GetElement(i, j) for j in range(4)]
                      for i in range(4)])
        ys, xs = np.mgrid[0:h, 0:w]
        ndc = np.stack([2 * (xs + 0.5) / w - 1, 2 * (ys + 0.5) / h - 1, 2 * z - 1, np.ones_like(z)], -1)
        world = ndc @ np.linalg.inv(m).T
        world = world[..., :3] / world[..., 3:]
        world[z >= 1.0] = np.nan
        tris = []
        import pyvista as pv

        for actor in src.stage.station_actors:  # each with its rigid group's matrix
            um = actor.GetUserMatrix()
            mat = np.array([[um.GetElement(i, j) for j in range(4)] for i in range(4)])
            mesh = pv.wrap(actor.GetMapper().GetInput())
            pts = mesh.points @ mat[:3, :3].T + mat[:3, 3]
            faces = mesh.faces.reshape(-1, 4)[:, 1:]
            tris.append(pts[faces])
        return img, world, np.concatenate(tris)
    finally:
        src.close()


def _occluded(points: np.ndarray, sun: np.ndarray, tris: np.ndarray, min_t_m: float = 0.08) -> np.ndarray:
    """(P,) bool: does a ray from each point towards the Sun enter any mesh (Moller-Trumbore, numpy)?

    Only faces whose outward side looks back along the ray count (the meshes are closed and wound
    outwards, tested in test_assets): a point read back from the depth buffer can sit a hair inside its
    own surface, and a grazing ray would then "hit" that surface from inside on its way out."""
    normals = np.cross(tris[:, 1] - tris[:, 0], tris[:, 2] - tris[:, 0])
    tris = tris[normals @ sun < 0]
    v0, e1, e2 = tris[:, 0], tris[:, 1] - tris[:, 0], tris[:, 2] - tris[:, 0]
    p = np.cross(sun, e2)
    det = np.einsum("ij,ij->i", e1, p)
    ok = np.abs(det) > 1e-12
    v0, e1, e2, p, det = v0[ok], e1[ok], e2[ok], p[ok], det[ok]
    inv = 1.0 / det
    out = np.zeros(len(points), bool)
    for k, origin in enumerate(points):
        s = origin - v0
        u = np.einsum("ij,ij->i", s, p) * inv
        q = np.cross(s, e1)
        v = (q @ sun) * inv
        t = np.einsum("ij,ij->i", e2, q) * inv
        out[k] = bool(np.any((u >= 0) & (v >= 0) & (u + v <= 1) & (t > min_t_m)))
    return out


def _occlusion_robust(points: np.ndarray, sun: np.ndarray, tris: np.ndarray, spread_m: float = 0.12):
    """(always occluded, never occluded), each (P,) bool, over rays from each point and from four points
    ``spread_m`` to the sides (across the Sun's direction): features finer than that (single truss
    struts, handrails) are below what a shadow map of ~5 cm texels with a depth bias can resolve."""
    helper = np.array([0.0, 0.0, 1.0]) if abs(sun[2]) < 0.9 else np.array([1.0, 0.0, 0.0])
    a = np.cross(sun, helper)
    a /= np.linalg.norm(a)
    b = np.cross(sun, a)
    hits = np.stack([_occluded(points + d, sun, tris) for d in (0 * a, spread_m * a, -spread_m * a,
                                                                 spread_m * b, -spread_m * b)])
    return hits.all(axis=0), ~hits.any(axis=0)


@pytest.mark.parametrize("height", list(SHADOW_SUNS))
@pytest.mark.slow
def test_shadows_match_a_ray_cast(record, height):
    """Pixels the shadow map darkens are those an independent ray cast (numpy, every triangle of the
    station) finds occluded from the Sun, and pixels it leaves lit are not occluded, with the Sun
    high or low."""
    sun_lvlh = SHADOW_SUNS[height]
    shadowed_img, _, _ = _render_with_depth(record, _shadow_view(record, sun_lvlh))
    # points and triangles from the render without shadows (same camera, same geometry)
    plain_img, world, tris = _render_with_depth(record, _shadow_view(record, sun_lvlh, shadows=False))
    dark_img, _, _ = _render_with_depth(record, _shadow_view(record, sun_lvlh, shadows=False, sun_intensity=0.0))
    sun_part = (plain_img - dark_img).mean(axis=2)  # what the Sun adds without shadows
    kept = (sun_part - (shadowed_img - dark_img).mean(axis=2))  # what the shadow took away
    candidates = np.argwhere(np.isfinite(world[..., 0]) & (sun_part > 40))
    ratio = 1.0 - kept[candidates[:, 0], candidates[:, 1]] / sun_part[candidates[:, 0], candidates[:, 1]]
    assert ((ratio < 0.3) | (ratio > 0.7)).mean() > 0.85, "too many sunlit pixels half-shadowed"
    rng = np.random.default_rng(3)
    # up to 300 pixels the map shadows and 700 it leaves lit (1 lit, 0 shadowed)
    shadow_px = candidates[ratio < 0.3]
    lit_px = candidates[ratio > 0.7]
    assert len(shadow_px) >= 300, f"only {len(shadow_px)} shadowed pixels: the view tests nothing"
    shadow_px = shadow_px[rng.choice(len(shadow_px), size=300, replace=False)]
    lit_px = lit_px[rng.choice(len(lit_px), size=min(700, len(lit_px)), replace=False)]
    sun = np.asarray(sun_lvlh) / np.linalg.norm(sun_lvlh)
    occ_s, open_s = _occlusion_robust(world[shadow_px[:, 0], shadow_px[:, 1]], sun, tris)
    occ_l, open_l = _occlusion_robust(world[lit_px[:, 0], lit_px[:, 1]], sun, tris)
    # lit pixels: the ray cast finds no occluder
    lit_ok = open_l[occ_l | open_l].mean()
    assert lit_ok >= SHADOW_AGREEMENT, f"{1 - lit_ok:.1%} of lit pixels have an occluder"
    # shadowed pixels: the ray cast finds an occluder for nearly all
    precision = occ_s[occ_s | open_s].mean()
    assert precision >= SHADOW_PRECISION, f"{1 - precision:.1%} of shadowed pixels have no occluder"


# Lit pixels without an occluder in the ray cast (fraction). Measured 0.976 (high Sun), 0.973 (mid),
# 0.939 (low) with the 1536 px map; the disagreements are shadow edges (~7 cm texels, 4 cm bias) and
# struts under the 12 cm the robust cast resolves. VTK's own set-up scored 0.75 with the low Sun.
SHADOW_AGREEMENT = 0.92
# Shadowed pixels with an occluder in the ray cast (fraction); measured 0.960 / 0.981 / 0.995 (VTK's own
# set-up: 0.78 with the high Sun, 0.28 with a low one).
SHADOW_PRECISION = 0.93


@pytest.mark.slow
def test_shadows_stay_right_after_the_segments_part(long_record):
    """A time-lapse render bakes the shadow map at the docked station first and later far apart:
    the departing segment's shadows still match the ray cast (VTK's own set-up kept the baker
    camera of the first bake and left the segment shadowed all over: 0.32 agreement)."""
    key_ = CameraKey(at_s=0.0, mode="follow", anchor="departing", target="departing", position_m=(30.0, 25.0, 20.0),
                     fov_deg=50.0)
    # the last frame: shadowed (after a first bake of the docked station), unshadowed, without the Sun
    end_s = 1e9  # clamped to the clip's end
    frames = []
    for lighting in ({}, {"shadows": False}, {"shadows": False, "sun_intensity": 0.0}):
        view = _shadow_view(long_record, SHADOW_SUNS["high"], **lighting).model_copy(
            update={"camera": CameraSettings(keys=(key_,))})
        frames.append(_render_with_depth(long_record, view, end_s, warm_up_video_s=0.0 if not lighting else None))
    (shadowed, _, _), (plain, world, tris), (dark, _, _) = frames
    sun_part = (plain - dark).mean(axis=2)
    candidates = np.argwhere(np.isfinite(world[..., 0]) & (sun_part > 40))
    assert len(candidates) > 2000, "the departing segment is not in view"
    kept = (shadowed - dark).mean(axis=2)[candidates[:, 0], candidates[:, 1]] / sun_part[candidates[:, 0], candidates[:, 1]]
    rng = np.random.default_rng(5)
    pick = rng.choice(len(candidates), size=400, replace=False)
    sun = np.asarray(SHADOW_SUNS["high"]) / np.linalg.norm(SHADOW_SUNS["high"])
    occ, open_ = _occlusion_robust(world[candidates[pick, 0], candidates[pick, 1]], sun, tris)
    decided = occ | open_
    agree = ((kept[pick] < 0.5) == occ)[decided].mean()
    assert agree >= SHADOW_AGREEMENT, f"shadows agree with the ray cast on {agree:.1%} of the segment"


def _shadow_factor(record, video_s: float, map_px: int, base: RenderSettings) -> np.ndarray:
    """(H, W) the frame at ``video_s`` drawn with a ``map_px`` shadow map over the same frame without shadows
    (nan where the unshadowed frame is dark: no shadow to measure there)."""
    quality = base.quality.model_copy(update={"shadow_map_px": map_px})
    shadowed = _still(record, video_s, base.model_copy(update={"quality": quality})).astype(float).mean(axis=2)
    plain = _still(record, video_s, base.model_copy(update={
        "lighting": base.lighting.model_copy(update={"shadows": False})})).astype(float).mean(axis=2)
    return np.where(plain > 60, shadowed / np.maximum(plain, 1.0), np.nan)


@pytest.mark.slow
def test_shadow_edges_from_a_coarse_map_stay_close_to_the_true_ones(record):
    """The opening close-up drawn with a coarse map (384 px: 6.4 cm texels, ~10 px each here) against the
    same frame with a fine one (6144 px, under a pixel a texel), as the share of sunlight the shadows leave,
    over the pixels within 3 px of a shadow edge: the cubic B-spline look-up, its edges following smooth
    curves, differs from the fine map's by 0.033 on average and 0.086 at the 90th percentile; the bilinear
    2 x 2 look-up it replaced, whose edges followed the texels' staircase, by 0.041 and 0.142."""
    from issvis.record.scene_of import settings_of

    scene, _ = settings_of(record)
    base = scene.model_copy(update={"width_px": 960, "height_px": 540, "overlays": Overlays(
        title_card=False, end_card=False, clock=False, separation=False)})
    coarse, fine = (_shadow_factor(record, 9.5, px, base) for px in (384, 6144))
    truth = np.nan_to_num(fine, nan=1.0)
    gy, gx = np.gradient(truth)
    steep = (np.abs(gx) + np.abs(gy)) > 0.03
    near_edge = np.zeros_like(steep)
    for dy in range(-3, 4):
        for dx in range(-3, 4):
            near_edge |= np.roll(np.roll(steep, dy, axis=0), dx, axis=1)
    diff = np.abs(coarse - fine)[near_edge & np.isfinite(coarse) & np.isfinite(fine)]
    assert diff.size > 10000, f"only {diff.size} pixels near shadow edges: the view tests nothing"
    assert np.percentile(diff, 90) < 0.12, f"coarse-map shadows differ from the fine map's by {np.percentile(diff, 90):.3f} at the 90th percentile"
    assert diff.mean() < 0.038, f"coarse-map shadows differ from the fine map's by {diff.mean():.3f} on average"


@pytest.mark.slow
def test_shadow_map_is_rebaked_only_when_its_fit_or_something_moves(record):
    """The map is fitted to the view and baked again when that fit changes or the parts or the Sun move
    by a fraction of a texel, not when the camera moves by less than a texel; a frame drawn with the kept
    map matches one drawn with a fresh bake."""
    from issvis.pictures.video import open_source

    src = open_source(record, _shadow_view(record, SHADOW_SUNS["mid"]))
    try:
        stage, cam = src.stage, src.plotter.renderer.GetActiveCamera()
        src.pose(1.0)
        src.grab()
        baked, fit = stage.bakes, stage.shadow_fit
        kept = src.grab().astype(int)
        assert stage.bakes == baked
        stage.invalidate_shadows()  # fitted and baked afresh (as at a segment's first frame)
        fresh = src.grab().astype(int)
        assert stage.bakes == baked + 1 and stage.shadow_fit.key == fit.key
        assert np.array_equal(kept, fresh), "the kept map draws other shadows than a fresh one"
        texel = fit.side_m / stage.settings.quality.shadow_map_px
        nudge = 0.3 * texel * (fit.frame[1] + fit.frame[2]) / np.sqrt(2)  # along the map's axes
        cam.SetPosition(*(np.array(cam.GetPosition()) + nudge))
        cam.SetFocalPoint(*(np.array(cam.GetFocalPoint()) + nudge))
        src.grab()
        assert stage.bakes == baked + 1 and stage.shadow_fit.key == fit.key, "a sub-texel camera move re-baked"
        # a close-up: a finer map (at 180 px a 3x zoom still sees the whole depth in texels under 1.5 pixels,
        # so it keeps the far-reaching map, see shadow_fit_far_m; 10x does not)
        cam.Zoom(10.0)
        src.grab()
        assert stage.bakes == baked + 2 and stage.shadow_fit.side_m < fit.side_m
        after = record.t[np.searchsorted(record.t, 60.0)]  # the Russian segment has moved metres
        stage.set_time(float(after))
        src.grab()
        assert stage.bakes == baked + 3, "parts moved but the map was not re-baked"
    finally:
        src.close()


# --- segments, workers, audio ----------------------------------------------------------------
def test_segments_cover_the_clip_in_order():
    from issvis.pictures.segments import segment_bounds, split_blocks

    segs = segment_bounds(157, 10)
    assert segs[0] == (0, 50) and segs[-1] == (150, 157)
    assert [a for a, _ in segs[1:]] == [b for _, b in segs[:-1]]
    for n in (1, 2, 3, 7):
        blocks = split_blocks(segs, n)
        assert [k for b in blocks for k in b] == list(range(len(segs)))
        assert len(blocks) == min(n, len(segs)) and all(blocks)


@pytest.mark.slow
def test_workers_write_exactly_the_frames_of_one_process(record_path, tmp_path):
    """Two processes and one write the same frames (decoded), the same count and a playable file."""
    args = ["render", str(record_path), *SMALL, "--fps", "10", "--seconds", "12", "--no-progress"]
    one, two = tmp_path / "one.mp4", tmp_path / "two.mp4"
    assert main([*args, "-o", str(one)]) == 0
    assert main([*args, "-o", str(two), "--workers", "2"]) == 0
    a, b = _frames(one), _frames(two)
    assert len(a) == len(b) == 120
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    probe = _probe(two)
    assert (probe["codec"], probe["pix_fmt"], probe["frames"]) == ("h264", "yuv420p", 120)
    boxes = _top_level_boxes(two)
    assert boxes.index("moov") < boxes.index("mdat")
    # no seam: neighbouring frames across each segment join (frames 49|50 and 99|100, the second
    # also the join of the two processes) differ no more than neighbours inside a segment
    from issvis.pictures.segments import segment_bounds

    joins = [first for first, _ in segment_bounds(120, 10)[1:]]
    assert joins == [50, 100]
    steps = {i: np.abs(b[i].astype(float) - b[i - 1]).mean() for i in range(50, 120)}  # after the title card
    inside = np.median([d for i, d in steps.items() if i not in joins])
    for first in joins:
        assert steps[first] <= 3 * inside + 1.0, (first, steps[first], inside)


def _wav(path: Path, seconds: float, rate: int = 22050) -> Path:
    import wave

    t = np.arange(int(seconds * rate)) / rate
    tone = (0.3 * np.sin(2 * np.pi * 440 * t) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(tone.tobytes())
    return path


@pytest.mark.parametrize("audio_s", [2.0, 9.0])
@pytest.mark.slow
def test_audio_is_muxed_as_aac_trimmed_and_faded(record_path, tmp_path, audio_s):
    out = tmp_path / "a.mp4"
    wav = _wav(tmp_path / "tone.wav", audio_s)
    assert main(["render", str(record_path), "-o", str(out), *SMALL, "--fps", "10", "--seconds", "4",
                 "--no-progress", "--audio", str(wav), "--audio-fade", "1.0"]) == 0
    info = subprocess.run([_ffmpeg(), "-hide_banner", "-i", str(out)], capture_output=True, text=True).stderr
    assert re.search(r"Audio: aac", info), info
    raw = subprocess.run([_ffmpeg(), "-v", "error", "-i", str(out), "-map", "0:a", "-f", "s16le", "-ac", "1",
                          "-ar", "8000", "-"], capture_output=True, check=True).stdout
    pcm = np.frombuffer(raw, "<i2").astype(float)
    assert len(pcm) / 8000 == pytest.approx(4.0, abs=0.15)  # trimmed (or padded) to the clip
    loud = np.abs(pcm[int(0.5 * 8000):int(1.5 * 8000)]).mean()
    end = np.abs(pcm[-int(0.15 * 8000):]).mean()
    assert loud > 2000 and end < 0.25 * loud  # faded out at the end
    assert _probe(out)["frames"] == 40


@pytest.mark.parametrize("make, args, message", [
    (lambda d: d / "missing.wav", [], "no such file"),
    (lambda d: (d / "notes.txt").write_text("not audio") and d / "notes.txt", [], "cannot read audio"),
    (lambda d: _wav(d / "ok.wav", 1.0), ["--audio-fade", "-1"], "--audio-fade"),
    (lambda d: _wav(d / "ok.wav", 1.0), ["--still", "1"], "--still"),
])
def test_bad_audio_exit_2(record_path, tmp_path, capsys, make, args, message):
    audio = make(tmp_path)
    out = tmp_path / ("x.png" if "--still" in args else "x.mp4")
    assert main(["render", str(record_path), "-o", str(out), *SMALL, "--audio", str(audio), *args]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not out.exists()


def test_unreachable_scheduler_exit_2(record_path, tmp_path, capsys, monkeypatch):
    """Within the connect timeout the environment sets (0.5 s here; 20 s by default)."""
    import time

    from issvis.core.cluster import DASK_CONNECT_TIMEOUT_ENV

    pytest.importorskip("dask.distributed")
    monkeypatch.setenv(DASK_CONNECT_TIMEOUT_ENV, "0.5")
    out = tmp_path / "x.mp4"
    start = time.perf_counter()
    assert main(["render", str(record_path), "-o", str(out), *SMALL, "--seconds", "1", "--no-progress",
                 "--scheduler", "tcp://127.0.0.1:9"]) == 2
    assert "--scheduler tcp://127.0.0.1:9: cannot connect to a Dask scheduler" in capsys.readouterr().err
    assert time.perf_counter() - start < 10.0, "waited longer than the 0.5 s asked for"
    assert not out.exists()


# --- time map and camera (no pixels) ---------------------------------------------------------
def test_time_map_real_time_at_separation_and_covers_the_record(record):
    """The automatic time map of a scene that gives camera keys (the shot list times itself: test_edit)."""
    key = CameraKey(at_s=0.0, position_m=(40.0, 60.0, 120.0))
    clip = Clip(RenderSettings(camera=CameraSettings(keys=(key,))), record)
    t_sep = record.events_of("separation")[0]["t"]
    v_sep = clip.time.video(t_sep)
    assert clip.time.rate(v_sep) == pytest.approx(1.0, abs=0.35)  # real time as the hooks open
    assert clip.time.rate(clip.length_s - 1) > 5  # faster later
    assert clip.sim(0) == pytest.approx(record.t[0])
    assert clip.sim(clip.length_s) == pytest.approx(record.t[-1])
    v = np.linspace(0, clip.length_s, 2000)
    assert np.all(np.diff([clip.sim(x) for x in v]) > 0)  # every frame a new moment, none repeated


def test_seconds_stretches_map_and_camera(record):
    a = Clip(RenderSettings(fps=30), record)
    b = Clip(RenderSettings(fps=30, seconds=a.length_s / 2), record)
    assert b.n_frames == round(a.length_s / 2 * 30)
    assert b.sim(b.length_s * 0.3) == pytest.approx(a.sim(a.length_s * 0.3))
    pa, pb = a.camera(a.length_s * 0.4), b.camera(b.length_s * 0.4)
    assert np.allclose(pa.position, pb.position, atol=1e-6)


def test_auto_map_without_separation_is_linear():
    class R:
        t = np.array([0.0, 100.0])
        events: list = []

    knots = auto_knots(R(), 10.0, 3.0)
    assert knots.tolist() == [[0.0, 0.0], [10.0, 100.0]]


def test_camera_at_is_the_documented_tuple(record):
    from issvis.pictures.camera import camera_at

    pos, focal, up, angle = camera_at(10.0, RenderSettings(), record)
    assert pos.shape == focal.shape == up.shape == (3,)
    assert abs(np.dot(up, focal - pos)) < 1e-9 and np.linalg.norm(up) == pytest.approx(1.0)
    assert 2 <= angle <= 120


def test_fixed_camera_stays_put_while_follow_moves(record):
    fixed = CameraKey(at_s=0.0, mode="fixed", anchor="departing", target="departing", position_m=(0, 0, 50))
    follow = fixed.model_copy(update={"mode": "follow"})
    for key, moves in ((fixed, False), (follow, True)):
        clip = Clip(RenderSettings(camera=CameraSettings(keys=(key,))), record)
        d = np.linalg.norm(clip.camera(clip.length_s).position - clip.camera(0.0).position)
        assert (d > 1.0) == moves, (key.mode, d)


# --- bad input -------------------------------------------------------------------------------
BAD_SCENE = """
[scene]
duration_s = 60.0
[[separation]]
interface = "zarya/pma1"
t_s = 20.0
[[render.camera.keys]]
at_s = 0.0
position_m = [10.0, 0.0, 50.0]
target = "part:zaryaa"
"""


@pytest.mark.parametrize("args, message", [
    (["--size", "191x108"], "--size"),
    (["--size", "wide"], "WIDTHxHEIGHT"),
    (["--fps", "0"], "--fps"),
    (["--seconds", "-1"], "--seconds"),
    (["--set", "render.quality.crf=99"], "crf"),
    (["--set", "render.camera.fov=40"], "unknown key"),
])
def test_bad_render_settings_exit_2(tmp_path, capsys, args, message):
    out = tmp_path / "x.mp4"
    assert main(["render", str(ROOT / "scenes/undock.toml"), "-o", str(out), *args]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not out.exists()


def test_unknown_camera_target_exit_2_before_simulating(tmp_path, capsys):
    scene = tmp_path / "bad.toml"
    scene.write_text(BAD_SCENE)
    assert main(["render", str(scene), "-o", str(tmp_path / "x.mp4")]) == 2
    err = capsys.readouterr().err
    assert "part:zaryaa" in err and "'zarya'" in err
    assert list(tmp_path.iterdir()) == [scene]


def test_unknown_camera_point_kind_is_a_scene_error(tmp_path, capsys):
    scene = tmp_path / "bad.toml"
    scene.write_text(BAD_SCENE.replace("part:zaryaa", "module:zarya"))
    assert main(["render", str(scene), "-o", str(tmp_path / "x.mp4")]) == 2
    assert "unknown camera point" in capsys.readouterr().err


def test_still_outside_the_clip_exit_2(record_path, tmp_path, capsys):
    assert main(["render", str(record_path), "--still", "500", "-o", str(tmp_path / "f.png"), *SMALL]) == 2
    assert "--still" in capsys.readouterr().err


def test_no_opengl_names_the_fix(monkeypatch):
    import ctypes.util

    from issvis.pictures import video as render

    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.delenv("VTK_DEFAULT_OPENGL_WINDOW", raising=False)
    monkeypatch.setattr(ctypes.util, "find_library", lambda name: None)
    with pytest.raises(render.RenderError, match="apt-get install libegl1"):
        render.make_plotter(64, 64)


@pytest.mark.slow
def test_still_writes_png(record_path, tmp_path):
    out = tmp_path / "f.png"
    assert main(["render", str(record_path), "--still", "12.5", "-o", str(out), *SMALL]) == 0
    from PIL import Image

    with Image.open(out) as im:
        assert im.size == (192, 108)
        img = np.asarray(im.convert("RGB"), float)
    assert img.mean() > 8 and img.std() > 15, "the still is (nearly) blank"


def test_title_card_and_hud_name_each_scene_s_own_interface_by_its_parts_labels():
    """Scene-specific words come from the record, not from the default scene: the Soyuz departure's
    card and HUD say 'Soyuz MS-19/Rassvet' (not 'Zarya/PMA-1', not 'Soyuz_Ms19/Rassvet')."""
    from issvis.pictures.video import default_subtitle
    from issvis.record.record import Record
    from issvis.station.assets import interface_label

    assert interface_label("zarya/pma1") == "Zarya/PMA-1"
    assert interface_label("soyuz_ms19/rassvet") == "Soyuz MS-19/Rassvet"
    golden = ROOT / "tests" / "golden"
    assert default_subtitle(Record.load(golden / "undock.npz")).startswith("Zarya/PMA-1 opens")
    soyuz = default_subtitle(Record.load(golden / "soyuz_departure.npz"))
    assert soyuz.startswith("Soyuz MS-19/Rassvet opens") and "Zarya" not in soyuz


def test_the_progress_bar_names_the_segment_it_is_on(record, tmp_path, monkeypatch):
    """One bar for the clip, its note the 5 s segment being rendered: 'segment k of N', k rising to N."""
    import tqdm

    notes: list[str] = []

    class Spy(tqdm.tqdm):
        def __init__(self, *a, **kw):
            super().__init__(*a, **{**kw, "disable": True})

        def set_postfix_str(self, s="", refresh=True):
            notes.append(s)

    monkeypatch.setattr(tqdm, "tqdm", Spy)
    from issvis.pictures.video import render_video

    render_video(record, RenderSettings(width_px=64, height_px=36, fps=5, seconds=12), tmp_path / "p.mp4",
                 progress=True, poster=False)
    assert notes == [f"segment {k} of 3" for k in (1, 2, 3)], notes
