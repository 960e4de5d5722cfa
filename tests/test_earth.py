"""Earth from 420 km: the cloud field's layout, the shader's encoding, the colour of land and haze.

The cloud field and the shader's hash are checked in numpy (fast); land and haze colours on rendered
stills (slow).
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pytest

from issvis.pictures import earth

from .picture_measures import local_contrast

ROOT = Path(__file__).resolve().parents[1]
EARTH_CIRCUMFERENCE_KM = 40075.0


def _overcast(width: int = 1024) -> np.ndarray:
    """(H, W) bool: where the shader draws overcast (the field past 0.5 after its contrast of 1.7)."""
    field = earth.cloud_image(width)[..., 0].astype(float) / 255.0
    return 0.5 + 1.7 * (field - 0.5) > 0.5


def _components(mask: np.ndarray) -> list[np.ndarray]:
    """The 4-connected components of ``mask`` (H, W), wrapping round in longitude: each an (N, 2) array of
    (row, column) indices."""
    h, w = mask.shape
    seen = np.zeros_like(mask)
    out = []
    for r0, c0 in zip(*np.nonzero(mask)):
        if seen[r0, c0]:
            continue
        stack, cells = [(r0, c0)], []
        seen[r0, c0] = True
        while stack:
            r, c = stack.pop()
            cells.append((r, c))
            for rr, cc in ((r + 1, c), (r - 1, c), (r, (c + 1) % w), (r, (c - 1) % w)):
                if 0 <= rr < h and mask[rr, cc] and not seen[rr, cc]:
                    seen[rr, cc] = True
                    stack.append((rr, cc))
        out.append(np.array(cells))
    return out


def test_the_cloud_field_has_long_frontal_bands_in_the_storm_tracks():
    """Photographs from orbit show fronts: bands of overcast hundreds of km wide and well over a thousand
    long. Between 30 and 65 deg of latitude the overcast must hold at least three pieces over 1,500 km long
    and at least 2.5 times longer than wide (principal axes of the piece on the ground); the field of
    fractal blobs before had one (and a 14,000 km blob as wide as long)."""
    mask = _overcast(512)
    h, w = mask.shape
    km_per_px = EARTH_CIRCUMFERENCE_KM / w
    bands = 0
    for cells in _components(mask):
        if len(cells) < 20:
            continue
        lat = 90.0 - (cells[:, 0] + 0.5) * 180.0 / h
        if not (30.0 <= np.median(np.abs(lat)) <= 65.0):
            continue
        # on the ground: x east (shrunk by cos latitude, unwrapped about the piece's mean), y north
        col = cells[:, 1].astype(float)
        ang = 2 * np.pi * col / w
        mean_ang = math.atan2(np.sin(ang).mean(), np.cos(ang).mean())
        dx = ((ang - mean_ang + np.pi) % (2 * np.pi) - np.pi) * w / (2 * np.pi)
        xy = np.stack([dx * np.cos(np.radians(lat)), -cells[:, 0].astype(float)], -1) * km_per_px
        ev = np.linalg.eigvalsh(np.cov(xy.T))
        length_km = 4.0 * math.sqrt(max(ev[1], 0.0))  # a uniform bar's length is sqrt(12) sigma
        if length_km > 1500.0 and ev[1] > 2.5**2 * max(ev[0], 1e-9):
            bands += 1
    assert bands >= 3, bands


def test_the_cloud_field_leaves_the_subtropics_clearer_than_the_storm_tracks():
    """Clear stretches of ocean under the subtropical highs: overcast covers under half as much of the
    ground at 18-30 deg as at 40-60 deg."""
    mask = _overcast(512)
    lat = np.abs(np.linspace(90, -90, mask.shape[0]))
    subtropics = mask[(lat > 18) & (lat < 30)].mean()
    storms = mask[(lat > 40) & (lat < 60)].mean()
    assert subtropics < 0.5 * storms, (subtropics, storms)


def test_the_cloud_field_does_not_repeat_along_a_parallel():
    """No pattern of the generated field comes back further along the parallels: the detail of the field
    (wavelengths under 1,000 km at the equator: the patches a 30x shot sweeps past), averaged over every
    parallel within 60 deg of the equator, correlates with itself shifted by 52 texels (2,000 km at the
    equator, 1,000 at 60 deg) up to half way round by under 0.12. The field before, a sum of seven plane
    waves an octave, reached 0.15 (its patterns come back); a field tiled every 3,000 km gives 1."""
    field = earth.cloud_image(1024)[..., 0].astype(float)
    h, w = field.shape
    curves = []
    for row in range(h // 6, h - h // 6):
        spectrum = np.fft.rfft(field[row] - field[row].mean())
        spectrum[: w // 25 + 1] = 0.0  # the detail alone
        ac = np.fft.irfft(spectrum * np.conj(spectrum), n=w)
        if ac[0] > 1e-9:
            curves.append(ac / ac[0])
    mean = np.mean(curves, axis=0)
    assert float(mean[52: w // 2 + 1].max()) < 0.12, float(mean[52: w // 2 + 1].max())


def _shader_hash(px: np.ndarray, py: np.ndarray) -> np.ndarray:
    """``issvisHash`` of Earth's fragment shader, in numpy float32 as the GPU computes it, with the
    shader's own constants (read from its source)."""
    decl = earth.EARTH_FRAGMENT_DECL
    scale = re.search(r"vec3 q = fract\(vec3\(p\.xyx\) \* ([0-9.]+)\);", decl)
    shift = re.search(r"q \+= dot\(q, q\.yzx \+ ([0-9.]+)\);", decl)
    assert scale and shift and "return fract((q.x + q.y) * q.z);" in decl, "the shader's hash is not the one ported"
    px, py = px.astype(np.float32), py.astype(np.float32)
    k = np.float32(float(scale.group(1)))
    q = np.stack([px * k, py * k, px * k], -1)
    q = q - np.floor(q)
    q = q + (q * (q[..., [1, 2, 0]] + np.float32(float(shift.group(1))))).sum(-1, keepdims=True)
    v = (q[..., 0] + q[..., 1]) * q[..., 2]
    return v - np.floor(v)


@pytest.mark.parametrize("origin", [0.0, 3000.0, 24000.0])
def test_the_shader_noise_lattice_does_not_repeat(origin):
    """The value noise's lattice (cells of 13 km down to 1.7 km; coordinates up to ~24,000 cells in the
    finest octave) gets values uncorrelated with themselves at any shift of 1 to 1,500 cells either way:
    no patch of generated cloud recurs 13 km to 20,000 km further on."""
    y, x = np.mgrid[0:200, 0:3200].astype(np.float32)
    v = _shader_hash(x + origin, y + origin)
    v = v - v.mean()
    var = float((v * v).mean())
    worst = max(abs(float((v[:, :-s] * v[:, s:]).mean())) / var for s in range(1, 1501))
    worst_y = max(abs(float((v[:-s] * v[s:]).mean())) / var for s in range(1, 150))
    assert worst < 0.05 and worst_y < 0.05, (worst, worst_y)


def test_earth_encodes_for_the_display_as_the_station_does():
    """Earth and the station are drawn into one frame: both decode their colours and encode their light
    with the display's gamma (``stage.DISPLAY_GAMMA``, 2.2), so the same linear light gives the same pixel."""
    from issvis.pictures import stage

    assert earth.EARTH_GAMMA == stage.DISPLAY_GAMMA
    impl = earth.EARTH_FRAGMENT_IMPL
    assert f"pow(col, vec3({1 / stage.DISPLAY_GAMMA:.5f}))" in impl
    assert f"pow(srgb, vec3({stage.DISPLAY_GAMMA:.3f}))" in impl
    assert not re.search(r"sqrt\(col\)|srgb \* srgb", impl)


def test_the_fill_light_reads_the_ground_in_the_same_encoding():
    """The station's Earth fill takes the ground's albedo as Earth's shader does (the image decoded with
    the display's gamma): a mid-grey texel of 0.5 is 0.5**2.2 of white, not 0.5**2."""
    albedo = earth.ground_albedo("generated", preview=True, cloud_amount=0.0)
    image = earth.earth_image("generated", True).astype(np.float64) / 255.0
    k = image.shape[1] // albedo.shape[1]
    expect = (image[:k, :k] ** earth.EARTH_GAMMA).reshape(-1, 3).mean(axis=0)
    assert np.allclose(albedo[0, 0], expect, rtol=1e-3), (albedo[0, 0], expect)


# --- rendered -------------------------------------------------------------------------------------
pytest.importorskip("pyvista")


@pytest.fixture(scope="module")
def wide_27s(undock_record, tmp_path_factory):
    """(H, W, 3) float: the default clip's wide over the day side (video 27 s) at 480 x 270."""
    from PIL import Image

    from issvis import api

    path = api.render_still(undock_record, 27.0, tmp_path_factory.mktemp("earth") / "27.png", size=(480, 270))
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB")).astype(float)


@pytest.mark.slow
def test_land_in_the_wide_over_the_day_side_is_not_purple(wide_27s):
    """The ground below the horizon in the wide (left of the Russian segment, above the caption) reads as
    tan land under blue haze, never mauve: its median green is not below both red and blue by more than 2
    levels, and its blue not above green by more than 5 (before: green 6 below both, blue 11 above it)."""
    h, w = wide_27s.shape[:2]
    ground = wide_27s[int(0.5 * h):int(0.85 * h), int(0.05 * w):int(0.6 * w)].reshape(-1, 3)
    r, g, b = ground.T
    mauve = float(np.median(np.minimum(r, b) - g))
    assert mauve <= 2.0, (mauve, np.median(ground, axis=0))
    assert float(np.median(b - g)) <= 5.0, np.median(ground, axis=0)


@pytest.mark.slow
def test_the_haze_towards_the_horizon_is_blue_not_grey_nor_violet(wide_27s):
    """The band of air just below the limb is blue (blue over red by 12 levels or more) and sky blue, not
    violet: green over red by 3 levels or more (before: blue 33 over red, green level with red; after:
    about 21 and 5)."""
    h, w = wide_27s.shape[:2]
    col = wide_27s[int(0.30 * h):int(0.33 * h), int(0.62 * w):int(0.8 * w)].reshape(-1, 3)
    r, g, b = np.median(col, axis=0)
    assert b - r >= 12.0 and g - r >= 3.0, (r, g, b)


GROUND_VIEW_FOV_DEG = 9.8  # ``_ground_view``'s field of view (vertical)


def _ground_view(record, record_s: float, off_nadir_deg: float, size: tuple[int, int], clouds: float = 1.0,
                 sun_overhead: bool = True) -> np.ndarray:
    """(H, W, 3) uint8: a 9.8 deg view of the ground from just below the station, ``off_nadir_deg`` from
    straight down towards the orbit's normal (+z), at record time ``record_s``, the Sun overhead (or where the
    default scene has it): no glint, no air (what the clouds add, and nothing else)."""
    from issvis.pictures.video import open_source
    from issvis.scene.render_settings import (
        CameraKey,
        CameraSettings,
        EarthSettings,
        Lighting,
        Overlays,
        Quality,
        RenderSettings,
        TimeMap,
    )

    a = math.radians(off_nadir_deg)
    key = CameraKey(at_s=0.0, mode="fixed", anchor="station", target="station", position_m=(-150.0, 0.0, 0.0),
                    target_offset_m=(-150.0 - 1000.0 * math.cos(a), 0.0, 1000.0 * math.sin(a)),
                    fov_deg=GROUND_VIEW_FOV_DEG,
                    up=(0.0, 0.0, 1.0) if off_nadir_deg else (0.0, 1.0, 0.0))
    settings = RenderSettings(width_px=size[0], height_px=size[1], camera=CameraSettings(keys=(key,)),
                              overlays=Overlays(title_card=False, end_card=False, clock=False, separation=False),
                              time=TimeMap(knots=((0.0, record_s), (1.0, record_s + 1.0))),
                              quality=Quality(supersample=1.0, stars=0),
                              lighting=Lighting(sun_direction_lvlh=(1.0, 0.0, 0.0), sun_moves=False)
                              if sun_overhead else Lighting(),
                              earth=EarthSettings(clouds=clouds, glint=0.0, atmosphere=False))
    src = open_source(record, settings)
    try:
        src.pose(0.0)
        return src.grab()
    finally:
        src.close()


def _ground_light(record, record_s: float, off_nadir_deg: float, size: tuple[int, int], clouds: float = 1.0) -> float:
    """Mean light (linear, before the shader's soft shoulder) of ``_ground_view`` with the Sun overhead."""
    shown = np.clip((_ground_view(record, record_s, off_nadir_deg, size, clouds).astype(float) / 255.0)
                    ** earth.EARTH_GAMMA, 0.0, 0.995)
    return float((-np.log(1.0 - shown) / 1.6).mean())  # the shoulder 1 - exp(-1.6 x) undone


@pytest.mark.slow
@pytest.mark.parametrize("record_s, off_nadir_deg", [(540.0, 35.0), (630.0, 35.0), (720.0, 35.0), (810.0, 35.0),
                                                     (810.0, 0.0)])
def test_broken_cloud_adds_the_same_light_seen_from_afar_as_up_close(undock_record, record_s, off_nadir_deg):
    """Where the scattered cumulus and open cells are too small to draw (a 64 px view of a patch of broken
    cloud), the veil drawn in their place adds within a quarter of the light that the drawn cells add (the
    same view at 1024 px, its pixels averaged): no edge where the cells fade in as the ground recedes, and no
    dimmer or brighter far field. Before, the veil added a half to a quarter of it (0.70-0.79 short in four
    of these views); now within 0.1."""
    near = _ground_light(undock_record, record_s, off_nadir_deg, (1024, 576))
    far = _ground_light(undock_record, record_s, off_nadir_deg, (64, 36))
    clear = _ground_light(undock_record, record_s, off_nadir_deg, (64, 36), clouds=0.0)
    assert near - clear > 0.05, "hardly any cloud in this view: it checks nothing"
    assert abs((far - clear) / (near - clear) - 1.0) <= 0.25, (near, far, clear)


def _linear_grey(img: np.ndarray) -> np.ndarray:
    """(H, W) linear light of an (H, W, 3) uint8 view: its grey decoded with the display's gamma."""
    return (img.astype(float).mean(axis=2) / 255.0) ** earth.EARTH_GAMMA


def _fine_contrast(img: np.ndarray) -> float:
    """Pattern of a few to a dozen pixels (a deck's cells) in linear light against the view's own level:
    ``local_contrast`` over a 15 px box."""
    return local_contrast(_linear_grey(img), k=7)


@pytest.mark.slow
@pytest.mark.parametrize("record_s, off_nadir_deg", [(100.0, 0.0), (100.0, 35.0), (150.0, 0.0), (150.0, 35.0)])
def test_a_cloud_deck_shows_its_cells_in_the_sun(undock_record, monkeypatch, record_s, off_nadir_deg):
    """The overcast under the leaving shot (record 100-150 s), 72 km across, in the scene's sunlight: its
    stratocumulus heaps and the thinner, greyer gaps between them show (fine contrast 0.011-0.132 of the
    level: the lowest straight down under the highest Sun, the highest where a pocket of open cells lies in
    the view; the first deck, its walls a fifth darker under the soft shoulder: 0.003-0.006, a white floor).
    Drawn flat (no gap, billow, Sun-facing flank, cell tone or pocket) the same view shows nothing of that
    size (at most 0.0007): what shows is the relief."""
    from issvis.pictures import stage

    shown = _ground_view(undock_record, record_s, off_nadir_deg, (384, 216), sun_overhead=False)
    clear = _ground_view(undock_record, record_s, off_nadir_deg, (384, 216), clouds=0.0, sun_overhead=False)
    assert (np.abs(shown.astype(float) - clear).mean(axis=2) > 40).mean() > 0.8, "not a deck: it checks nothing"
    assert _fine_contrast(shown) >= 0.008, _fine_contrast(shown)
    monkeypatch.setattr(stage, "EARTH_FRAGMENT_IMPL", earth.earth_fragment_impl(deck_relief=(0.0, 0.0, 0.0, 0.0), pockets=False))
    flat = _ground_view(undock_record, record_s, off_nadir_deg, (384, 216), sun_overhead=False)
    assert _fine_contrast(flat) < 0.004, _fine_contrast(flat)


def _gaps_seen_share(altitude_m: float, off_nadir_deg: float, rows: int) -> float:
    """The mean over a ``_ground_view``'s rows of the share of a deck's gaps that shows past their walls,
    1 - GAP_WALL_RATIO cot(elevation), from the geometry of the view alone (a sphere of EARTH_RADIUS_M)."""
    from issvis.core.frames import EARTH_RADIUS_M

    y = (np.arange(rows) + 0.5) / rows * 2.0 - 1.0
    off_nadir = math.radians(off_nadir_deg) + np.arctan(y * math.tan(math.radians(GROUND_VIEW_FOV_DEG) / 2))
    elevation = np.arccos(np.clip((EARTH_RADIUS_M + altitude_m) / EARTH_RADIUS_M * np.sin(off_nadir), 0.0, 1.0))
    return float(np.clip(1.0 - earth.GAP_WALL_RATIO / np.tan(elevation), 0.0, 1.0).mean())


@pytest.mark.slow
@pytest.mark.parametrize("record_s", [100.0, 150.0])
def test_a_deck_s_gaps_hide_behind_its_walls_towards_the_horizon(undock_record, monkeypatch, record_s):
    """The deck under the leaving shot, seen straight down and 64 deg off nadir (its ground at elevations of
    24 to 6 deg). Of the light its gaps and pockets of open cells take away (the deck drawn with every gap
    hidden, against every gap shown), the share that goes is the share of a gap a wall of GAP_WALL_RATIO
    its width leaves in sight: all of it looking down (measured 0.99), about half of it towards the horizon
    (0.51-0.56 against 0.53 from the geometry). Before, every gap showed at any angle (a share of 1), and
    the far pockets lay near the limb as flat grey smudges."""
    from issvis.pictures import stage

    altitude_m = float(undock_record.meta["orbit"]["altitude_m"])
    for off_nadir_deg in (0.0, 64.0):
        light = {}
        for name, ratio in (("walls", earth.GAP_WALL_RATIO), ("all shown", 0.0), ("all hidden", 1e4)):
            monkeypatch.setattr(stage, "EARTH_FRAGMENT_IMPL", earth.earth_fragment_impl(gap_wall_ratio=ratio))
            light[name] = _ground_light(undock_record, record_s, off_nadir_deg, (384, 216))
        taken = light["all hidden"] - light["all shown"]
        assert taken > 0.02, ("the view shows hardly any gap: it checks nothing", light)
        share = (light["all hidden"] - light["walls"]) / taken
        assert abs(share - _gaps_seen_share(altitude_m, off_nadir_deg, 216)) <= 0.1, (off_nadir_deg, share, light)


def _darkest_within(lin: np.ndarray, reach_px: int) -> np.ndarray:
    """The minimum of ``lin`` over a square of 2 ``reach_px`` + 1 pixels round each pixel."""
    darkest = lin
    for axis in (0, 1):  # one axis at a time
        padded = np.pad(darkest, [(reach_px, reach_px) if a == axis else (0, 0) for a in (0, 1)], mode="edge")
        n = lin.shape[axis]
        darkest = np.min([np.take(padded, range(k, k + n), axis=axis) for k in range(2 * reach_px + 1)], axis=0)
    return darkest


@pytest.mark.slow
def test_a_pocket_s_open_cells_are_not_all_equally_clear(undock_record, monkeypatch):
    """The pocket of open cells straight under the leaving shot (record 150 s). Drawn with every cell
    alike, as before, the middles of the cells in its core (the darkest pixels within 7 px, under a
    quarter of the view's median light) all lay at one depth, the sea's: the pocket read as rows of fish
    scales. Each cell now opens its own amount (POCKET_CELL_OPEN), the clearer ones wider: at those same
    middles the light spreads from dark sea to thin cloud, the 10th to the 90th percentile 0.79 of the
    median apart (measured on 610 middles; with every cell alike 0.06)."""
    from issvis.pictures import stage

    def view(impl: str) -> np.ndarray:
        monkeypatch.setattr(stage, "EARTH_FRAGMENT_IMPL", impl)
        return _linear_grey(_ground_view(undock_record, 150.0, 0.0, (768, 432)))

    alike = view(earth.earth_fragment_impl(pocket_cells=(1.0, 1.0, 0.0)))
    own = view(earth.EARTH_FRAGMENT_IMPL)
    level = float(np.median(alike))
    middles = (alike <= _darkest_within(alike, 7)) & (alike < 0.25 * level)
    middles[:8], middles[-8:], middles[:, :8], middles[:, -8:] = False, False, False, False
    assert middles.sum() > 200, "hardly any open cell in the view: it checks nothing"
    low, high = np.quantile(own[middles] / level, [0.1, 0.9])
    assert high - low >= 0.35, (low, high)


@pytest.mark.slow
def test_cirrus_in_the_wide_is_a_veil_not_ripples(undock_record, tmp_path):
    """The ground of the wide over the day side (video 27 s, 960 x 540, below the Russian segment's level and
    left of it) lies under cirrus. Drawn as thresholded streaks it read as rippled water: the picture
    changed about twice as fast down the frame as across it (mean step between rows over the mean step
    between columns: 1.91). As translucent veils in patches, their fibres only shading them, it is 1.20;
    anything over 1.45 is streaks again."""
    from PIL import Image

    from issvis import api

    path = api.render_still(undock_record, 27.0, tmp_path / "27.png", size=(960, 540))
    with Image.open(path) as im:
        grey = np.asarray(im.convert("L")).astype(float)
    h, w = grey.shape
    ground = grey[int(0.6 * h):int(0.88 * h), int(0.08 * w):int(0.6 * w)]
    down = np.abs(np.diff(ground, axis=0)).mean()
    across = np.abs(np.diff(ground, axis=1)).mean()
    assert down / across <= 1.45, (down, across)


@pytest.mark.slow
@pytest.mark.parametrize("record_s, off_nadir_deg", [(100.0, 0.0), (100.0, 35.0), (120.0, 35.0), (150.0, 0.0),
                                                     (150.0, 35.0), (180.0, 35.0)])
def test_a_cloud_deck_adds_the_same_light_seen_from_afar_as_up_close(undock_record, record_s, off_nadir_deg):
    """The deck under the leaving shot, its cells and pockets of open cells drawn (1024 px) and too small to
    draw (64 px, where the mean of what they do stands in): the cloud adds within 15 % the same light. With
    the relief's mean left out of the far deck it came out 6-24 % brighter (1.06-1.24); now 0.95-1.03."""
    near = _ground_light(undock_record, record_s, off_nadir_deg, (1024, 576))
    far = _ground_light(undock_record, record_s, off_nadir_deg, (64, 36))
    clear = _ground_light(undock_record, record_s, off_nadir_deg, (64, 36), clouds=0.0)
    assert near - clear > 0.3, "hardly any deck in this view: it checks nothing"
    assert abs((far - clear) / (near - clear) - 1.0) <= 0.15, (near, far, clear)
