"""The photograph: the light of the Earth below, glass arrays, merged draw calls, a shadow map fitted to
the view and texel-snapped.

The fill's numbers are checked against an independent integration over the visible ground; the
pictures at small sizes (CPU-only Mesa).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from issvis.pictures import earth

from .picture_measures import local_contrast

ROOT = Path(__file__).resolve().parents[1]
ALTITUDE_M = 418_310.0


def _brute_force_irradiance(albedo: float, sun: np.ndarray, normal: np.ndarray, n: int = 600) -> float:
    """Irradiance / pi (units of the Sun's) on a face with ``normal`` from a Lambertian ground of uniform
    ``albedo``, integrated over a fine grid of directions on the whole sphere around the station."""
    r = earth_radius = 6_378_137.0
    d = earth_radius + ALTITUDE_M
    theta = (np.arange(n) + 0.5) / n * np.pi  # from nadir
    phi = (np.arange(2 * n) + 0.5) / (2 * n) * 2 * np.pi
    th, ph = np.meshgrid(theta, phi, indexing="ij")
    dirs = np.stack([-np.cos(th), np.sin(th) * np.cos(ph), np.sin(th) * np.sin(ph)], -1).reshape(-1, 3)
    dw = (np.sin(th) * (np.pi / n) * (np.pi / n)).ravel()
    b = d * dirs[:, 0]
    disc = b * b - (d * d - r * r)
    hit = (disc > 0) & (b < 0)
    t = -b - np.sqrt(np.maximum(disc, 0.0))
    ground_normal = (np.array([d, 0.0, 0.0]) + t[:, None] * dirs) / r
    mu = ground_normal @ sun
    glow = np.clip((mu + 0.10) / 0.12, 0.0, 1.0)  # Earth's shader: a faint floor on the day side
    radiance = albedo * (np.maximum(mu, 0.0) + earth.TWILIGHT_GLOW * glow * glow * (3 - 2 * glow)) * hit
    return float((radiance * np.maximum(dirs @ normal, 0.0) * dw).sum() / math.pi)


def test_earth_fill_is_a_quarter_of_sunlight_below_and_a_tenth_on_the_side():
    """With an albedo of 0.3 and the Sun overhead, a face looking at nadir gets about a quarter of the
    sunlight back and a face looking sideways about a tenth; a face looking at zenith none. The
    spherical-harmonic fill the shader evaluates agrees with a brute-force integral within 4 %."""
    dirs, sr = earth.cap_samples(ALTITUDE_M)
    albedo = np.full((64, 128, 3), 0.3)
    sun = np.array([1.0, 0.0, 0.0])
    rad = earth.ground_light(albedo, np.eye(3), sun, ALTITUDE_M, 1.0, dirs, sr)
    coeffs = earth.sh_irradiance(dirs, rad, sr)
    for normal, low, high in (((-1, 0, 0), 0.22, 0.30), ((0, 1, 0), 0.07, 0.11), ((0, 0, -1), 0.07, 0.11),
                              ((-0.6, 0.8, 0), 0.13, 0.25)):
        n = np.array(normal, float)
        fill = float(earth.sh_evaluate(coeffs, n)[0])
        exact = _brute_force_irradiance(0.3, sun, n)
        assert low <= exact <= high, (normal, exact)
        assert abs(fill - exact) <= 0.04 * exact + 1e-4, (normal, fill, exact)
    assert float(earth.sh_evaluate(coeffs, np.array([1.0, 0.0, 0.0]))[0]) < 0.005  # zenith: nothing


def test_earth_fill_follows_the_ground_and_the_sun_and_is_gone_at_night():
    """The fill is the ground's: brighter over cloud than over the sea, warmer over desert, weaker with the
    Sun low over the ground, nothing with the ground below in night."""
    dirs, sr = earth.cap_samples(ALTITUDE_M)

    def nadir(albedo_rgb, sun):
        img = np.broadcast_to(np.asarray(albedo_rgb, float), (32, 64, 3))
        rad = earth.ground_light(img, np.eye(3), np.asarray(sun, float) / np.linalg.norm(sun), ALTITUDE_M, 1.0, dirs, sr)
        return earth.sh_evaluate(earth.sh_irradiance(dirs, rad, sr), np.array([-1.0, 0.0, 0.0]))

    sea, cloud, desert = (0.02, 0.04, 0.08), (0.75, 0.75, 0.75), (0.45, 0.33, 0.2)
    high, low, night = (1.0, 0.0, 0.0), (0.3, 0.95, 0.0), (-0.6, 0.8, 0.0)
    assert nadir(cloud, high).mean() > 10 * nadir(sea, high).mean()
    d = nadir(desert, high)
    assert d[0] > 1.5 * d[2]  # tan
    s = nadir(sea, high)
    assert s[2] > 2 * s[0]  # blue
    assert nadir(cloud, low).mean() < 0.5 * nadir(cloud, high).mean()
    assert nadir(cloud, night).max() < 0.01 * nadir(cloud, high).mean()


def test_ground_albedo_is_that_of_what_earth_draws():
    """The light source is the picture's ground: ocean dark, cloud bright, a mean between the two."""
    albedo = earth.ground_albedo("generated", preview=True, cloud_amount=0.75)
    assert albedo.shape[1] == min(earth.FILL_IMAGE_WIDTH_PX, 512)
    assert 0.0 <= float(albedo.min()) and float(albedo.max()) <= 1.0
    assert 0.02 < float(albedo.mean()) < 0.6
    clear = earth.ground_albedo("generated", preview=True, cloud_amount=0.0)
    assert float(albedo.mean()) > float(clear.mean())  # cloud adds light


def test_sunset_limb_is_red_at_the_ground_then_pale_then_blue():
    """Where the Sun grazes the limb the ring is layered as in photographs: orange-red at the horizon, a
    pale band above it, blue higher up (then black: the ring fades out); by day it is pale blue at the
    ground and deepens upwards, with no red at all."""
    sun = np.array([0.0, 1.0, 0.0])
    at_terminator = np.tile([[math.sqrt(1 - 0.02**2), 0.02, 0.0]], (4, 1))  # the Sun on the limb point's horizon
    heights = np.array([0.0, 0.13, 0.40, 1.0])
    ones = np.ones(4)
    rgb = earth.limb_colours(at_terminator, sun, ones * 0.0, ones, heights).astype(float)
    ground, pale, high, top = rgb
    assert ground[0] > 2.5 * ground[2] and ground[0] > 1.5 * ground[1], ground  # orange-red
    assert pale.min() > 0.5 * pale.max() and pale[0] >= pale[2], pale  # pale, warm
    assert high[2] > 1.5 * high[0], high  # blue
    day = earth.limb_colours(np.tile([[1.0, 0.0, 0.0]], (4, 1)), np.array([1.0, 0.0, 0.0]), ones * 0.0, ones,
                             heights).astype(float)
    assert (day[:3, 2] >= day[:3, 0]).all() and day[0, 0] > day[2, 0], day  # blue throughout, palest low down


# --- rendered -------------------------------------------------------------------------------------
pytest.importorskip("pyvista")

from issvis.scene.render_settings import (  # noqa: E402
    CameraKey,
    CameraSettings,
    EarthSettings,
    Lighting,
    Overlays,
    Quality,
    RenderSettings,
)

NO_TEXT = Overlays(title_card=False, end_card=False, clock=False, separation=False)


@pytest.fixture(scope="module")
def record(tmp_path_factory):
    """The default scene shortened to 300 s (the separation at 20 s and its aftermath)."""
    from issvis.physics.simulation import simulate
    from issvis.scene.schema import load_scene

    return simulate(load_scene(ROOT / "scenes/undock.toml", ["scene.duration_s=300"]), progress=False)


def _source(record, settings, merge: bool | None = None, monkeypatch=None):
    """``video.open_source`` with the Stage's ``merge`` forced when given (through ``monkeypatch``)."""
    from issvis.pictures import stage, video

    if merge is not None:
        class Forced(stage.Stage):
            def __init__(self, *a, **kw):
                super().__init__(*a, **{**kw, "merge": merge})

        monkeypatch.setattr(stage, "Stage", Forced)
    try:
        return video.open_source(record, settings)
    finally:
        if merge is not None:
            monkeypatch.undo()


def _still(record, settings, video_s=0.0):
    src = _source(record, settings)
    try:
        src.pose(video_s)
        return src.grab().astype(float)
    finally:
        src.close()


def _from_below(sun, **lighting):
    """The docked station seen from 70 m below, looking up at zenith (space behind it, no Earth in view)."""
    key = CameraKey(at_s=0.0, mode="fixed", anchor="station", target="station", position_m=(-70.0, 8.0, 5.0),
                    fov_deg=70.0, up=(0.0, 1.0, 0.0))
    return RenderSettings(width_px=240, height_px=136, camera=CameraSettings(keys=(key,)), overlays=NO_TEXT,
                          quality=Quality(supersample=1.0, stars=0),
                          lighting=Lighting(sun_direction_lvlh=sun, sun_moves=False, **lighting))


@pytest.fixture()
def grey_ground(monkeypatch):
    """The ground below as a uniform albedo of 0.3 (the expected fill is then known: a quarter of the
    sunlight on a face looking at nadir)."""
    from issvis.pictures import stage

    monkeypatch.setattr(stage, "ground_albedo", lambda *a, **k: np.full((32, 64, 3), 0.3, np.float32))


@pytest.mark.slow
def test_shadowed_faces_facing_earth_are_lit_by_the_fill(record, grey_ground):
    """Seen from below with the Sun overhead, every visible face is turned away from the Sun: only the
    light of the ground lights it. White faces looking at the ground read about 110/255 (a quarter of
    sunlight: the earlier fill, a 90 deg spot of 0.22, gave them ~40), and the same view with the ground
    in night is dark."""
    day = _still(record, _from_below((1.0, 0.02, 0.03))).mean(axis=2)
    station = day > 3
    assert station.mean() > 0.15, "the station is not in view"
    lit = np.percentile(day[station], 95)
    assert 90 <= lit <= 170, f"white faces looking at the ground read {lit:.0f}/255"
    assert np.percentile(day[station], 50) > 30
    night = _still(record, _from_below((-0.8, 0.5, 0.3))).mean(axis=2)
    assert np.percentile(night[station], 99) < 15, "the night side still lights the station"


def _white_side_in_sun_and_shade(record) -> tuple[float, float]:
    """(sunlit, shadowed) 0-255 of the same white hull pixels: the docked station seen from the side, the
    Sun beside the camera (the brightest 3 % of the pixels: white faces looking at it), then the Sun
    straight overhead (those side faces lit by the ground below only)."""
    key = CameraKey(at_s=0.0, mode="fixed", anchor="station", target="station", position_m=(2.0, 0.0, -60.0),
                    fov_deg=50.0)
    base = dict(width_px=240, height_px=136, camera=CameraSettings(keys=(key,)), overlays=NO_TEXT,
                earth=EarthSettings(show=False), quality=Quality(supersample=1.0, stars=0))
    side = _still(record, RenderSettings(**base, lighting=Lighting(sun_direction_lvlh=(1.0, 0.0, 0.0), sun_moves=False)))
    front = _still(record, RenderSettings(**base, lighting=Lighting(sun_direction_lvlh=(0.05, 0.0, -1.0), sun_moves=False)))
    white = front.mean(axis=2) > np.percentile(front.mean(axis=2), 97)
    return float(np.percentile(front.mean(axis=2)[white], 50)), float(np.median(side.mean(axis=2)[white]))


@pytest.mark.slow
def test_fill_lights_a_shadowed_side_at_a_tenth_of_sunlight(record, grey_ground):
    """A white side face in shadow reads 60-100/255 beside ~200 in sunlight."""
    sunlit, shade = _white_side_in_sun_and_shade(record)
    assert sunlit > 190
    assert 55 <= shade <= 110, f"a shadowed white side reads {shade:.0f}/255"


@pytest.mark.slow
def test_a_shadowed_white_side_shows_a_tenth_of_the_sunlit_light_on_the_screen(record, grey_ground):
    """Over a ground of albedo 0.3 a side face gets about a tenth of sunlight back (0.09 from the ground,
    0.03 from the sunlit station): decoded as a display decodes video (power 2.2) the shadowed white shows
    0.095-0.14 of the sunlit white's light and reads 70-90/255. Written as sqrt (gamma 2) it read 68/255,
    0.088 of the light."""
    sunlit, shade = _white_side_in_sun_and_shade(record)
    shown = (shade / sunlit) ** 2.2
    assert 0.095 <= shown <= 0.14, f"a shadowed white side shows {shown:.3f} of the sunlit light"
    assert 70 <= shade <= 90, f"a shadowed white side reads {shade:.0f}/255 beside {sunlit:.0f}"


def _wing_centre_lvlh(record, part: str) -> np.ndarray:
    """Centre of one of a part's wings of solar cells, m, LVLH, from the part's origin at t = 0."""
    from issvis.core.frames import quat_to_matrix
    from issvis.station.assets import load_station_assets

    cells = [vm for vm in load_station_assets().parts[part].visual if vm.material.name == "array"]
    points = np.concatenate([vm.vertices_m for vm in cells])
    along = int(np.argmax(points.max(axis=0) - points.min(axis=0)))  # the wings reach out both ways
    centre = points[points[:, along] > points[:, along].mean()].mean(axis=0)  # the middle of one wing
    return quat_to_matrix(record.quat[0, record.part_index(part)]) @ centre


@pytest.mark.slow
def test_arrays_catch_a_glint_where_they_mirror_the_sun(record):
    """Looking at a truss wing's cells along the Sun's mirror direction the glass glints (near white); with
    the Sun ten degrees from there, the same pixels are dark cells again."""
    wing = _wing_centre_lvlh(record, "p6")
    # the cells face zenith (+x): with the Sun at (0.8, 0, 0.6) the mirror direction is (0.8, 0, -0.6)
    key = CameraKey(at_s=0.0, mode="fixed", anchor="part:p6", target="part:p6", target_offset_m=tuple(wing),
                    position_m=tuple(wing + 40.0 * np.array([0.8, 0.0, -0.6])), fov_deg=30.0)

    def view(sun):
        s = RenderSettings(width_px=200, height_px=112, camera=CameraSettings(keys=(key,)), overlays=NO_TEXT,
                           earth=EarthSettings(show=False), quality=Quality(supersample=1.0, stars=0),
                           lighting=Lighting(sun_direction_lvlh=sun, sun_moves=False))
        return _still(record, s).max(axis=2)

    glint = view((0.8, 0.0, 0.6))
    aside = view((0.8, 0.17, 0.57))
    glinting = (glint > 240) & (aside < 120)
    assert glinting.sum() >= 20, f"{glinting.sum()} pixels glint where the arrays mirror the Sun"


@pytest.mark.slow
def test_merged_actors_draw_the_same_station_with_a_seventh_of_the_draw_calls(record, monkeypatch):
    """One actor per rigid group and material draws what one actor per part and material draws (the same
    pixels but for rounding), with at most a seventh of the actors (and one or two shadow casters instead
    of one per part); after the split each side has its own."""
    from issvis.pictures.camera import Clip

    key = CameraKey(at_s=0.0, mode="fixed", anchor="station", target="station", position_m=(60.0, 40.0, -90.0))
    s = RenderSettings(width_px=200, height_px=112, camera=CameraSettings(keys=(key,)), overlays=NO_TEXT,
                       quality=Quality(supersample=1.0, stars=0))
    split_s = Clip(s, record).time.video(200.0)
    images, counts = [], []
    for merge in (True, False):
        src = _source(record, s, merge, monkeypatch)
        try:
            src.pose(0.5)
            images.append(src.grab().astype(float))
            counts.append(len(src.stage.station_actors))
            casters = src.stage._epoch_actors[src.stage._epoch][1]
            assert len(casters) <= 2 if merge else len(casters) >= len(record.names)
            src.pose(split_s)
            images.append(src.grab().astype(float))
            if merge:
                zvezda, unity = (set(map(id, src.stage.part_actors[n])) for n in ("zvezda", "unity"))
                assert zvezda and unity and not zvezda & unity, "after the split the two sides share actors"
        finally:
            src.close()
    assert counts[0] * 7 <= counts[1], counts
    for merged, single in ((images[0], images[2]), (images[1], images[3])):
        assert np.abs(merged - single).mean() < 0.5


@pytest.mark.slow
def test_picking_a_merged_actor_names_the_part(record):
    """A cell picked on a merged actor names the part that triangle belongs to."""
    import vtk

    key = CameraKey(at_s=0.0, mode="fixed", anchor="part:zvezda", target="part:zvezda", position_m=(10.0, 0.0, -30.0),
                    fov_deg=20.0)
    s = RenderSettings(width_px=200, height_px=112, camera=CameraSettings(keys=(key,)), overlays=NO_TEXT,
                       quality=Quality(supersample=1.0, stars=0))
    src = _source(record, s)
    try:
        src.pose(0.0)
        src.grab()
        picker = vtk.vtkCellPicker()
        picker.PickFromListOn()
        for actor in src.stage.station_actors:
            picker.AddPickList(actor)
        assert picker.Pick(100, 56, 0.0, src.plotter.renderer)
        assert src.stage.part_at(picker.GetActor(), picker.GetCellId()) == "zvezda"
    finally:
        src.close()


def _close_view():
    """Casters and mesh boxes of a made-up station (64 boxes over 80 x 110 x 30 m, a 40 m module at the
    middle), a Sun, and a camera 12 m from the module, looking at it with a 30 deg field."""
    rng = np.random.default_rng(1)
    centres = rng.uniform(-40, 40, (64, 3)) * np.array([1.0, 1.4, 0.4])
    half = rng.uniform(0.5, 3.0, (64, 3))
    centres[0], half[0] = 0.0, (2.0, 20.0, 2.0)
    signs = np.array([[1 if k >> i & 1 else -1 for i in range(3)] for k in range(8)])
    boxes = centres[:, None] + half[:, None] * signs[None]  # (64, 8, 3)
    sun = np.array([0.8, 0.45, 0.3]) / np.linalg.norm([0.8, 0.45, 0.3])
    focal = centres[0]
    eye = focal + np.array([4.0, -3.0, 10.8])
    return boxes, sun, eye, focal


def _fit(boxes, sun, eye, focal, previous=None):
    """The map fitted to the view, its grid fixed to the box nearest the focal point (as the Stage does
    with the part nearest it)."""
    from issvis.pictures.stage import fit_shadow_map, light_frame, view_footprint

    foot = view_footprint(boxes, light_frame(sun), eye, focal - eye, np.array([1.0, 0.0, 0.0]), 30.0, 16 / 9,
                          float(np.linalg.norm(focal - eye)))
    centres = boxes.mean(axis=1)
    anchor = centres[np.argmin(np.linalg.norm(centres - focal, axis=1))]
    return fit_shadow_map(sun, boxes.reshape(-1, 3), foot, anchor, 1536, previous)


def test_fitted_shadow_map_is_the_light_s_own_box_round_what_the_camera_sees():
    """The map fitted to a close view: in the light's frame (the Sun along +x of the baker's world, the
    map's axes those VTK gives it), square, every caster inside its depth, and its texel several times
    finer than that of a map over the whole station."""
    import vtk

    from issvis.pictures.stage import fit_shadow_map, light_frame

    boxes, sun, eye, focal = _close_view()
    frame = light_frame(sun)
    assert np.allclose(frame @ frame.T, np.eye(3)) and np.linalg.det(frame) == pytest.approx(1.0)
    assert np.allclose(frame @ sun, [-1.0, 0.0, 0.0])  # the light travels along +x there
    vx, vup = [0.0] * 3, [0.0] * 3
    vtk.vtkMath.Perpendiculars([1.0, 0.0, 0.0], vx, vup, 0.0)
    assert np.allclose(np.abs(vx), [0, 0, 1]) and np.allclose(np.abs(vup), [0, 1, 0])  # VTK's map axes: y, z
    fit = _fit(boxes, sun, eye, focal)
    whole = fit_shadow_map(sun, boxes.reshape(-1, 3), None, focal, 1536)  # footprint None: every caster
    assert fit.hi[1] - fit.lo[1] == pytest.approx(fit.side_m) and fit.hi[2] - fit.lo[2] == pytest.approx(fit.side_m)
    depth = boxes.reshape(-1, 3) @ frame[0]
    assert fit.lo[0] < depth.min() and fit.hi[0] > depth.max()
    assert fit.side_m < 0.3 * whole.side_m, (fit.side_m, whole.side_m)
    # the whole-station map holds every caster across
    across = boxes.reshape(-1, 3) @ frame[1:].T
    assert np.all(across >= whole.lo[1:]) and np.all(across <= whole.hi[1:])


def test_a_wide_view_s_map_holds_what_lies_behind_the_subject_and_a_close_up_s_does_not():
    """Past the focal point the station keeps its shadows where a map round all of it stays fine enough
    (a wide from 130 m: every box in view lies inside the map, whose texel is within SHADOW_TEXEL_PIXELS of
    a pixel at the subject); a close-up keeps its finer map round the subject (the fit reaches only to the
    focal distance, as before)."""
    from issvis.pictures.stage import (
        SHADOW_FIT_FAR,
        SHADOW_FIT_FAR_MAX,
        SHADOW_TEXEL_PIXELS,
        fit_shadow_map,
        light_frame,
        shadow_fit_far_m,
        view_footprint,
    )

    boxes, sun, eye, focal = _close_view()
    frame, up = light_frame(sun), np.array([1.0, 0.0, 0.0])
    close = shadow_fit_far_m(boxes, frame, eye, focal - eye, up, 30.0, 16 / 9, 1080, 1536)
    assert close == pytest.approx(SHADOW_FIT_FAR * float(np.linalg.norm(focal - eye)))
    wide_eye = focal + np.array([0.0, -60.0, 115.0])
    reach = float(np.linalg.norm(focal - wide_eye))
    far = shadow_fit_far_m(boxes, frame, wide_eye, focal - wide_eye, up, 40.0, 16 / 9, 1080, 1536)
    assert far == pytest.approx(SHADOW_FIT_FAR_MAX * reach)
    foot = view_footprint(boxes, frame, wide_eye, focal - wide_eye, up, 40.0, 16 / 9, far)
    fit = fit_shadow_map(sun, boxes.reshape(-1, 3), foot, focal, 1536)
    # every box whose centre the camera sees, behind the subject too, is inside the map across the light
    f = (focal - wide_eye) / reach
    centres = boxes.mean(axis=1)
    d = centres - wide_eye
    seen = np.degrees(np.arccos((d @ f) / np.linalg.norm(d, axis=1))) < 20.0
    behind = seen & (d @ f > reach)
    assert behind.sum() >= 5, int(behind.sum())
    across = centres[seen] @ frame[1:].T
    assert np.all(across >= fit.lo[1:]) and np.all(across <= fit.hi[1:])
    pixel_m = 2 * reach * np.tan(np.radians(20.0)) / 1080
    assert fit.side_m / 1536 <= SHADOW_TEXEL_PIXELS * pixel_m * 1.2 * 1.2  # (the ladder's step, both ways)
    # with the fit to the focal distance alone, a box behind the subject fell outside the map
    near = fit_shadow_map(sun, boxes.reshape(-1, 3),
                          view_footprint(boxes, frame, wide_eye, focal - wide_eye, up, 40.0, 16 / 9, reach), focal, 1536)
    across = centres[behind] @ frame[1:].T
    assert not np.all((across >= near.lo[1:]) & (across <= near.hi[1:]))


def test_a_camera_move_of_a_fraction_of_a_texel_keeps_the_light_frustum():
    """The map's box moves in whole texels of the grid fixed to the subject: a camera move of a third of a
    texel leaves it exactly as it was (no re-bake, no crawl), a move of metres shifts it by a whole number
    of texels, and the side keeps its size until the view's footprint outgrows it."""
    boxes, sun, eye, focal = _close_view()
    fit = _fit(boxes, sun, eye, focal)
    texel = fit.side_m / 1536
    frame = fit.frame
    for step in (frame[1], frame[2], frame[1] + frame[2]):
        small = _fit(boxes, sun, eye + 0.33 * texel * step, focal + 0.33 * texel * step, fit)
        assert small.key == fit.key
        assert np.array_equal(small.lo, fit.lo) and np.array_equal(small.hi, fit.hi)
    along = np.array([0.0, 1.5, 0.0])  # along the module: the view sees another stretch of it
    moved = _fit(boxes, sun, eye + along, focal + along, fit)
    assert moved.side_m == fit.side_m and moved.key != fit.key
    shift = (moved.lo - fit.lo)[1:] / texel
    assert np.allclose(shift, np.round(shift), atol=1e-6) and abs(shift[0]) > 10
    far = _fit(boxes, sun, focal + 6 * (eye - focal), focal, fit)
    assert far.side_m > fit.side_m


def test_rigid_groups_follow_the_separations_and_the_poses(record):
    """One group of every part until the separation, its two sides after it; a part that drifts inside a
    group (a record where it is moved) is drawn on its own."""
    from dataclasses import replace

    from issvis.pictures.stage import rigid_groups

    epochs = rigid_groups(record)
    assert len(epochs) == 2 and len(epochs[0][1]) == 1 and len(epochs[0][1][0]) == len(record.names)
    sides = record.separation_sides()
    got = sorted(sorted(record.names[g].tolist()) for g in epochs[1][1])
    assert got == sorted([sorted(record.names[sides[0]].tolist()), sorted(record.names[sides[1]].tolist())])
    pos = record.pos.copy()
    k = record.part_index("cupola")
    pos[record.t >= 10.0, k] += 0.05  # 5 cm of drift before the separation
    drifting = rigid_groups(replace(record, pos=pos))
    singles = [g for g in drifting[0][1] if len(g) == 1]
    assert len(singles) == len(record.names)


def _earth_view(record, off_nadir_deg: float, atmosphere: bool) -> np.ndarray:
    """Mean RGB of the middle of a narrow view of the ground from just below the station, ``off_nadir_deg``
    from straight down, the Sun overhead; no cloud, glint or generated detail."""
    a = math.radians(off_nadir_deg)
    key = CameraKey(at_s=0.0, mode="fixed", anchor="station", target="station", position_m=(-150.0, 0.0, 0.0),
                    target_offset_m=(-150.0 - 1000.0 * math.cos(a), 1000.0 * math.sin(a), 0.0), fov_deg=8.0,
                    up=(0.0, 0.0, 1.0))
    settings = RenderSettings(width_px=64, height_px=36, camera=CameraSettings(keys=(key,)), overlays=NO_TEXT,
                              quality=Quality(supersample=1.0, stars=0),
                              lighting=Lighting(sun_direction_lvlh=(1.0, 0.0, 0.0), sun_moves=False),
                              earth=EarthSettings(clouds=0.0, glint=0.0, detail=0.0, atmosphere=atmosphere,
                                                  turns=False))
    img = _still(record, settings)
    return img[12:24, 24:40].reshape(-1, 3).mean(axis=0)


@pytest.mark.slow
def test_haze_over_the_ground_grows_with_the_path_through_the_air(record):
    """The air between the station and the ground adds blue light, more the longer the path: seen 60 deg
    from nadir (about twice the air of straight down) the haze adds over 1.5x what it adds at nadir, and
    it is there at nadir too (it was only near the rim before); without the atmosphere there is none."""
    added = {}
    for deg in (0.0, 60.0):
        clear, hazy = _earth_view(record, deg, False), _earth_view(record, deg, True)
        added[deg] = hazy - clear
    assert added[0.0][2] > 3.0, added  # blue added straight down (0-255 levels)
    assert added[60.0][2] > 1.5 * added[0.0][2], added
    assert added[60.0][2] > added[60.0][0], added  # blue more than red


def test_the_far_field_mask_hides_earth_under_the_station_and_changes_no_pixel(record):
    """Looking down across the station at Earth: with the station hidden, the mask leaves black exactly
    where the station was drawn over Earth (so Earth's shader skipped those pixels), and the frame with the
    mask is the frame without it (but for a pixel of a crack between two meshes)."""
    key = CameraKey(at_s=0.0, mode="fixed", anchor="station", target="station", position_m=(40.0, -30.0, 60.0),
                    fov_deg=50.0)
    s = RenderSettings(width_px=200, height_px=112, camera=CameraSettings(keys=(key,)), overlays=NO_TEXT,
                       quality=Quality(supersample=1.0, stars=0))
    src = _source(record, s)
    try:
        st = src.stage
        assert st.mask_renderer is not None
        src.pose(0.5)
        with_mask = src.grab().astype(int)
        masks = st._epoch_masks[st._epoch]
        for m in masks:
            m.SetVisibility(False)
        without = src.grab().astype(int)
        for a in st.station_actors:
            a.SetVisibility(False)
        earth_only = src.grab().astype(int)
        for m in masks:
            m.SetVisibility(True)
        masked = src.grab().astype(int)
    finally:
        src.close()
    station = np.abs(without - earth_only).max(axis=2) > 0  # where the station is drawn over the far field
    assert station.mean() > 0.1 and (earth_only.max(axis=2)[station] > 20).mean() > 0.5, "no station over Earth"
    assert (masked.max(axis=2)[station] == 0).mean() > 0.98, "the mask does not cover the station"
    assert (np.abs(with_mask - without).max(axis=2) > 0).sum() <= 3, "the mask shows in the frame"


def _opening_still(record, aperture_m: float):
    """(picture (H, W, 3) uint8, station mask (H, W) bool, the far field's blur px) of the opening close-up
    (video 8 s of the 300 s record's default edit) at 320 x 180 with a lens of ``aperture_m``."""
    import vtk
    from vtkmodules.util.numpy_support import vtk_to_numpy

    from issvis.pictures.video import open_source
    from issvis.record.scene_of import settings_of

    settings, _ = settings_of(record)
    settings = settings.model_copy(update={
        "width_px": 320, "height_px": 180,
        "quality": settings.quality.model_copy(update={"supersample": 1.0, "depth_of_field_m": aperture_m}),
        "overlays": settings.overlays.model_copy(update={"title_card": False, "labels": False, "gap_cue": False,
                                                         "clock": False, "separation": False})})
    src = open_source(record, settings)
    try:
        src.pose(8.0)
        img = src.grab()
        zbuf = vtk.vtkFloatArray()
        src.plotter.render_window.GetZbufferData(0, 0, 319, 179, zbuf)
        station = vtk_to_numpy(zbuf).reshape(180, 320)[::-1] < 1.0  # the station's depth (top row first)
        return img, station, src.stage.dof_blur_px
    finally:
        src.close()


def _grown(mask: np.ndarray, steps: int) -> np.ndarray:
    """``mask`` grown by ``steps`` pixels along rows and columns (a copy)."""
    grow = mask.copy()
    for _ in range(steps):
        grow[1:] |= grow[:-1]
        grow[:-1] |= grow[1:]
        grow[:, 1:] |= grow[:, :-1]
        grow[:, :-1] |= grow[:, 1:]
    return grow


@pytest.mark.slow
def test_depth_of_field_blurs_the_far_earth_behind_a_close_subject_without_a_halo(record):
    """With a lens of 0.5 m (a blur of ~9 px at this size) the Earth behind the opening close-up is
    defocused (its fine detail, pixel-to-pixel differences, at most half of the sharp picture's), the
    station is as sharp as without, and the ground right round the station's silhouette is not darkened
    (no halo: the far field is blurred without the station in it)."""
    sharp, station, blur0 = _opening_still(record, 0.0)
    soft, station2, blur = _opening_still(record, 0.5)
    assert blur0 == 0.0 and blur > 5.0, blur
    assert np.array_equal(station, station2)
    grow = _grown(station, 2)
    ring = _grown(grow, 3) & ~grow
    lum_sharp, lum_soft = sharp.astype(float).mean(axis=2), soft.astype(float).mean(axis=2)
    earth = ~grow & (lum_sharp > 20)  # lit ground and limb, away from the station
    assert earth.sum() > 2000, "the close-up shows too little of Earth to test"

    def detail(lum: np.ndarray) -> float:
        dx = np.abs(np.diff(lum, axis=1))[earth[:, 1:] & earth[:, :-1]]
        return float(dx.mean())

    assert detail(lum_soft) < 0.5 * detail(lum_sharp), (detail(lum_soft), detail(lum_sharp))
    inside = station & ~np.roll(~station, 1, axis=0)  # the station itself, not its edge
    assert np.abs(lum_soft[inside] - lum_sharp[inside]).mean() < 2.0
    around = ring & (lum_sharp > 20)
    assert lum_soft[around].mean() > 0.85 * lum_sharp[around].mean(), "a dark halo round the station"


@pytest.mark.slow
def test_the_limb_has_no_black_gap_at_earth_s_polygonal_edge(record):
    """With the viewer's coarse Earth (4 deg grid) the last facets facing the eye end inside the true
    silhouette; the limb's ring must reach under them. In every column left and right of the station the
    brightest haze pixel is followed, within 8 px down to the ground, by nothing darker than half of
    either (the ring starting 0.2 % inside left a black dash in 87 of those 140 columns)."""
    settings = RenderSettings(width_px=640, height_px=360, overlays=NO_TEXT,
                              quality=Quality(supersample=1.0, stars=0, earth_grid_deg=4.0, anti_aliasing="none"))
    grey = _still(record, settings, video_s=15.0).mean(axis=2)
    gaps = 0
    for columns in (slice(0, 60), slice(560, 640)):  # the limb beside the station, rows 110-210
        band = grey[110:210, columns]
        for col in band.T:
            k = int(np.argmax(col))
            assert col[k] > 100, "no sunlit limb in this column"
            below = col[min(k + 8, len(col) - 1)]
            gaps += int(col[k:k + 8].min() < 0.5 * min(col[k], below))
    assert gaps == 0, f"{gaps} columns show black between the limb and Earth's edge"


def _hull_patch(record, part: str, x_body_m: float, toward_body, sun_of, shadows: bool = False) -> np.ndarray:
    """(136, 240) grey levels of a part's hull seen square-on from 5 m: the point at ``x_body_m`` along the
    hull's axis (station body axes) on the side ``toward_body``; ``sun_of(normal, along)`` gives the Sun's
    direction (LVLH) from the face's normal and the hull's axis there."""
    from issvis.core.frames import quat_to_matrix
    from issvis.station.assets import load_station_assets

    com = load_station_assets(visuals=False).parts[part].com_m
    rot = quat_to_matrix(record.quat[0, record.part_index(part)])
    hull = max((e for e in load_station_assets(visuals=False).station.part(part).elements if e.shape == "cylinder"),
               key=lambda e: e.radius_m)
    n_body = np.asarray(toward_body, float) / np.linalg.norm(toward_body)
    point = rot @ (np.array([x_body_m, 0.0, 0.0]) + hull.radius_m * n_body - com)
    normal, along = rot @ n_body, rot @ np.array([1.0, 0.0, 0.0])
    key = CameraKey(at_s=0.0, mode="fixed", anchor=f"part:{part}", target=f"part:{part}", target_offset_m=tuple(point),
                    position_m=tuple(point + 5.0 * normal + 0.5 * along), fov_deg=30.0)
    sun = np.asarray(sun_of(normal, along), float)
    s = RenderSettings(width_px=240, height_px=136, camera=CameraSettings(keys=(key,)), overlays=NO_TEXT,
                       earth=EarthSettings(show=False), quality=Quality(supersample=1.0, stars=0),
                       lighting=Lighting(sun_direction_lvlh=tuple(sun / np.linalg.norm(sun)), sun_moves=False,
                                         shadows=shadows))
    return _still(record, s).mean(axis=2)


def _local_contrast(grey: np.ndarray) -> float:
    """Fine pattern (quilting, stitches) against the patch's own level: ``local_contrast`` over a 9 px box."""
    return local_contrast(grey, k=4)


@pytest.mark.slow
def test_russian_quilting_shows_in_grazing_light_not_in_flat_light(record, monkeypatch):
    """Zarya's blankets from 5 m: under a Sun near their normal the quilting is all but invisible (fine
    local contrast under 2 % of the level: no drawn fishnet); with the Sun grazing them at 12 deg its puffs
    and stitches show, over 2.5x as strongly. Without the relief (RELIEF_GAIN 0) grazing light shows no
    more of it than flat light."""
    from issvis.pictures import stage

    def patch(sun_of):
        return _hull_patch(record, "zarya", -12.5, (0.0, -0.7071, -0.7071), sun_of)[35:90, 10:180]

    def flat(n, a):
        return n + 0.3 * np.cross(n, a)

    def grazing(n, a):
        return 0.2 * n + a

    c_flat, c_grazing = _local_contrast(patch(flat)), _local_contrast(patch(grazing))
    assert c_flat < 0.02, f"the quilting shows at {c_flat:.3f} of the level in flat light"
    assert c_grazing > 2.5 * c_flat, f"grazing {c_grazing:.3f} against flat {c_flat:.3f}"
    monkeypatch.setattr(stage, "RELIEF_GAIN", 0.0)
    c_none = _local_contrast(patch(grazing))
    assert c_none < 1.5 * c_flat, f"without the relief grazing light still shows {c_none:.3f} (flat {c_flat:.3f})"


def _ragged(bright: np.ndarray) -> float:
    """Share of a mask's pixels on its edge (a 4-neighbour outside it): low for one smooth blob, high for
    a patchwork."""
    inner = bright & np.roll(bright, 1, 0) & np.roll(bright, -1, 0) & np.roll(bright, 1, 1) & np.roll(bright, -1, 1)
    return float((bright & ~inner).sum() / max(int(bright.sum()), 1))


def _wing_in_the_mirror(record, size: tuple[int, int]) -> RenderSettings:
    """The P6 wing from 40 m, 20 deg across, the camera along the Sun's mirror direction off it (no Earth,
    no shadows): a view in which the whole wing glints."""
    wing = _wing_centre_lvlh(record, "p6")
    key = CameraKey(at_s=0.0, mode="fixed", anchor="part:p6", target="part:p6", target_offset_m=tuple(wing),
                    position_m=tuple(wing + 40.0 * np.array([0.8, 0.0, -0.6])), fov_deg=20.0)
    return RenderSettings(width_px=size[0], height_px=size[1], camera=CameraSettings(keys=(key,)), overlays=NO_TEXT,
                          earth=EarthSettings(show=False), quality=Quality(supersample=1.0, stars=0),
                          lighting=Lighting(sun_direction_lvlh=(0.8, 0.0, 0.6), sun_moves=False, shadows=False))


@pytest.mark.slow
def test_a_wing_s_glint_breaks_up_panel_by_panel(record, monkeypatch):
    """A truss wing seen along the Sun's mirror direction glints over hundreds of pixels, and the glint breaks
    up panel by panel (each 0.4 m strip folded a little off the blanket's plane about its hinge: bands across
    the wing, over 55 % of the glinting pixels on an edge), not one smooth hot spot (with PANEL_TILT_RAD 0:
    under half)."""
    from issvis.pictures import stage

    s = _wing_in_the_mirror(record, (200, 112))
    glint = _still(record, s).mean(axis=2) > 200
    assert glint.sum() >= 200, f"{glint.sum()} pixels glint"
    assert _ragged(glint) > 0.55, f"the glint is one smooth patch ({_ragged(glint):.2f} of it on an edge)"
    monkeypatch.setattr(stage, "PANEL_TILT_RAD", 0.0)
    smooth = _still(record, s).mean(axis=2) > 200
    assert _ragged(smooth) < 0.5, f"flat panels: {_ragged(smooth):.2f}"


def _grain(img: np.ndarray) -> float:
    """Median over the glinting pixels (over 150/255) of the luminance's step from its four neighbours'
    mean, in levels: the grain a pixel-sized pattern draws (a band's edge touches few of them)."""
    grey = img.mean(axis=2)
    step = np.abs(4 * grey[1:-1, 1:-1] - grey[:-2, 1:-1] - grey[2:, 1:-1] - grey[1:-1, :-2] - grey[1:-1, 2:]) / 4
    return float(np.median(step[grey[1:-1, 1:-1] > 150]))


@pytest.mark.slow
def test_a_wing_s_glint_has_no_grain_where_its_cells_are_too_small_to_draw(record, monkeypatch):
    """The same wing from 40 m at 640 x 360 (its 10 cm cells about 2.5 px): each cell's glass tilts a little
    on its own, but where a cell is under CELL_SPARKLE_PX pixels that sparkle is left out, as it aliased into
    a grain over the glint that crawled from frame to frame (the leaving shot's near wing). The glint's
    pixels step 0.4 levels from their neighbours (median); with the sparkle drawn at any size, 9.8."""
    from issvis.pictures import stage

    s = _wing_in_the_mirror(record, (640, 360))
    shown = _still(record, s)
    assert (shown.mean(axis=2) > 150).sum() >= 2000, "hardly any glint in view: it checks nothing"
    assert _grain(shown) <= 3.0, _grain(shown)
    monkeypatch.setattr(stage, "CELL_SPARKLE_PX", (0.0, 0.001))
    assert _grain(_still(record, s)) >= 6.0, "the sparkle drawn at every size shows as grain"
