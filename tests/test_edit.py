"""The edit: the default shot list, the camera check every render runs, the words on screen, the
dead-time measure. Most tests need no pixels; the few that render use small frames."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from issvis.core.tolerances import TOLERANCES
from issvis.pictures.camera import Clip
from issvis.pictures.shots import (
    CameraPathError,
    check_camera_path,
    station_boxes,
    sun_direction,
    sun_height_rad,
)
from issvis.scene.render_settings import CameraKey, CameraSettings, Overlays, RenderSettings, Shot

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SHOTS = ["establishing", "opening", "parting", "leaving", "apart", "sunset"]


@pytest.fixture(scope="module")
def clip(undock_record) -> Clip:
    return Clip(RenderSettings(), undock_record)


def _gap_m(record, t_s: float) -> float:
    from issvis.pictures.video import _gap_series

    times, gap, _, _, _ = _gap_series(record, Clip(RenderSettings(), record).points)
    return float(np.interp(t_s, times, gap))


def _box(record, words: str):
    """(part index, centre (3,) in the part's frame, normal (3,) of the box's thinnest side) of the
    first visual box whose description contains ``words``."""
    boxes = station_boxes(record)
    k = next(i for i, w in enumerate(boxes.what) if words in w)
    lo, hi = boxes.lo[k], boxes.hi[k]
    normal = np.zeros(3)
    normal[int(np.argmin(hi - lo))] = 1.0
    return int(boxes.part[k]), 0.5 * (lo + hi), normal


def _lvlh(record, part: int, local: np.ndarray, t_s: float) -> np.ndarray:
    from issvis.core.frames import quat_to_matrix

    pos, quat = record.pose_at(t_s)
    return pos[part] + quat_to_matrix(quat[part]) @ local


# --- the camera check ------------------------------------------------------------------------
def test_default_edit_keeps_the_camera_clear_and_its_subject_in_view(clip):
    report = check_camera_path(clip)  # raises on a breach; the margins below say by how much it passes
    assert report.closest_m >= TOLERANCES.camera_clearance_m + 2.0, report
    assert report.longest_hidden_s <= TOLERANCES.subject_hidden_s, report
    assert report.fastest_turn_deg_per_s <= TOLERANCES.camera_turn_deg_per_s, report


def _through_the_wing(record, name: str = "through a wing") -> RenderSettings:
    """A shot riding with P3/P4 whose camera passes through the middle of array wing 2A."""
    part, centre, normal = _box(record, "wing 2A")
    names = [str(n) for n in record.names]
    wing = _lvlh(record, part, centre, 0.0)
    offset = wing - record.pose_at(0.0)[0][part]
    from issvis.core.frames import quat_to_matrix

    n_lvlh = quat_to_matrix(record.pose_at(0.0)[1][part]) @ normal
    shot = Shot(name=name, video_s=8.0, start_sim_s=0.0, subject="station", anchor=f"part:{names[part]}",
                from_m=tuple(offset + 8.0 * n_lvlh), to_m=tuple(offset - 8.0 * n_lvlh))
    return RenderSettings(width_px=96, height_px=54, fps=10, shot=(shot,))


def test_a_camera_through_an_array_wing_stops_the_render_before_any_frame(undock_record, tmp_path):
    from issvis.pictures.video import render_video

    frames = []
    out = tmp_path / "x.mp4"
    with pytest.raises(CameraPathError) as err:
        render_video(undock_record, _through_the_wing(undock_record), out, progress=False,
                     on_frame=lambda i, f: frames.append(i))
    message = str(err.value)
    # the camera enters the wing's bounds (3 m off it) a little before the middle of the shot
    import re

    at = float(re.search(r"video ([\d.]+) s", message).group(1))
    assert 2.0 < at < 4.0 and "'through a wing'" in message and "wing 2A" in message, message
    assert f"{TOLERANCES.camera_clearance_m:g} m clear" in message
    assert frames == [] and list(tmp_path.iterdir()) == []


def _beside(record, part_name: str, gap_m: float) -> np.ndarray:
    """An LVLH point ``gap_m`` off one face of the part's first visual box, nearer that part than any other."""
    from issvis.core.frames import quat_to_matrix

    boxes = station_boxes(record)
    pos, quat = record.pose_at(0.0)
    rot = quat_to_matrix(quat)
    names = [str(n) for n in record.names]
    part = names.index(part_name)
    k = int(np.flatnonzero(boxes.part == part)[0])
    centre, half = 0.5 * (boxes.lo[k] + boxes.hi[k]), 0.5 * (boxes.hi[k] - boxes.lo[k])
    for axis in range(3):
        for sign in (1.0, -1.0):
            local = centre.copy()
            local[axis] += sign * (half[axis] + gap_m)
            point = pos[part] + rot[part] @ local
            d = boxes.distances(point, pos, rot)
            if int(boxes.part[int(np.argmin(d))]) == part and abs(d.min() - gap_m) < 1e-6:
                return point
    raise AssertionError(f"no free side of {part_name}")


def test_the_check_runs_on_a_scene_s_own_camera_keys(undock_record):
    """Not only the shot list: camera keys (the older way to describe a choreography) that park the
    camera 1 m off Zvezda's hull fail too, and the message names the keys and the part."""
    eye = _beside(undock_record, "zvezda", 1.0)
    keys = (CameraKey(at_s=0.0, anchor="lvlh", target="part:zvezda", position_m=tuple(eye), mode="fixed"),
            CameraKey(at_s=3.0, anchor="lvlh", target="part:zvezda", position_m=tuple(eye), mode="fixed"))
    settings = RenderSettings(width_px=96, height_px=54, fps=10, camera=CameraSettings(keys=keys))
    with pytest.raises(CameraPathError, match=r"camera keys 0-1\): the camera is 1\.0 m from the visual bounds of zvezda"):
        check_camera_path(Clip(settings, undock_record))


def test_a_subject_hidden_behind_an_array_fails(undock_record):
    """The camera behind array wing 2A, looking through it at the Russian segment."""
    from issvis.core.frames import quat_to_matrix
    from issvis.pictures.camera import PointResolver

    part, centre, _ = _box(undock_record, "wing 2A")
    wing = _lvlh(undock_record, part, centre, 0.0)
    pos, quat = undock_record.pose_at(0.0)
    ros = PointResolver(undock_record).point("departing", pos, quat)
    away = (wing - ros) / np.linalg.norm(wing - ros)
    boxes, rot = station_boxes(undock_record), quat_to_matrix(quat)
    eye = next(wing + d * away for d in np.arange(4.0, 40.0, 0.5)
               if boxes.distances(wing + d * away, pos, rot).min() > TOLERANCES.camera_clearance_m + 0.5)
    shot = Shot(name="behind the wing", video_s=3.0, start_sim_s=0.0, subject="departing", anchor="lvlh",
                mode="fixed", from_m=tuple(eye))
    settings = RenderSettings(width_px=96, height_px=54, fps=10, shot=(shot,))
    with pytest.raises(CameraPathError, match=r"subject \(departing\) is hidden behind P3/P4.*wing"):
        check_camera_path(Clip(settings, undock_record))
    # seen from the other side of the Russian segment it is in plain view
    clear = Shot(name="in view", video_s=3.0, start_sim_s=0.0, subject="departing", anchor="departing",
                 from_m=tuple(-60.0 * away))
    report = check_camera_path(Clip(settings.model_copy(update={"shot": (clear,)}), undock_record))
    assert report.longest_hidden_s == 0.0


def test_a_whip_inside_a_shot_fails(undock_record):
    """Half a turn round the station in one second is a whip; the same over 30 s is a slow orbit."""
    def half_turn(video_s: float) -> RenderSettings:
        shot = Shot(name="whip", video_s=video_s, start_sim_s=0.0, time_factor=0.5 / video_s, subject="station",
                    from_m=(40.0, 150.0, 20.0), to_m=(40.0, -150.0, 20.0))
        return RenderSettings(width_px=96, height_px=54, fps=30, shot=(shot,))

    with pytest.raises(CameraPathError, match="deg/s"):
        check_camera_path(Clip(half_turn(1.0), undock_record))
    check_camera_path(Clip(half_turn(30.0), undock_record))


def test_a_camera_path_into_the_station_is_exit_2_at_the_command_line(tmp_path, capsys):
    """From a scene file: exit 2, one line naming the time, the shot and the part; no file left."""
    scene = tmp_path / "wing.toml"
    scene.write_text("""
[scene]
title = "Into the wing"
duration_s = 30.0
[[separation]]
interface = "zarya/pma1"
t_s = 20.0
[render]
width_px = 96
height_px = 54
fps = 10
[[render.shot]]
name = "into the truss"
video_s = 2.0
start_sim_s = 0.0
subject = "part:s0"
from_m = [0.5, 0.0, 0.0]
""")
    from issvis.cli import main

    out = tmp_path / "x.mp4"
    assert main(["render", str(scene), "-o", str(out), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "video 0.00 s (shot 1 'into the truss')" in err and "s0" in err and "Traceback" not in err
    assert not out.exists()


# --- the shot list ---------------------------------------------------------------------------
def test_default_edit_is_a_list_of_named_shots(clip):
    assert [s.name for s in clip.shots] == DEFAULT_SHOTS
    # the strongest compositions (the opening, the parting, the leaving) are held several seconds; no shot is a
    # flash (the wide over the sunset limb holds 3.5 s)
    held = {s.name: s.video_s for s in clip.shots}
    assert min(held["opening"], held["parting"], held["leaving"]) >= 6.5, held
    assert min(held.values()) >= 3.5, held
    assert 30.0 <= clip.length_s <= 40.0


def test_time_runs_at_one_rate_per_shot_and_steps_at_the_cuts(clip, undock_record):
    v = clip.frame_times()
    rates = np.array([clip.time.rate(x) for x in v])
    shot_of = np.array([clip.shot_at(x)[0] for x in v])
    changes = np.flatnonzero(np.diff(rates) != 0) + 1
    assert set(shot_of[changes - 1]) != set() and np.all(shot_of[changes] != shot_of[changes - 1]), \
        "the time factor changed inside a shot"
    assert sorted(set(np.round(rates, 6))) == [1.0, 5.0, 10.0, 30.0]
    t = np.array([clip.sim(x) for x in v])
    assert np.all(np.diff(t) > 0), "every frame a later moment"
    # real time while the gap is centimetres: the hooks open in a real-time shot, and time goes no
    # faster than real time until the gap passes 30 cm
    t_sep = undock_record.events_of("separation")[0]["t"]
    assert clip.time.rate(clip.time.video(t_sep)) == 1.0
    first_fast = v[np.argmax(rates > 1.0)]
    assert _gap_m(undock_record, clip.sim(first_fast)) > 0.3
    assert _gap_m(undock_record, clip.sim(first_fast - 2.0)) < 1.0


def test_each_shot_is_lit_from_the_side_or_three_quarters(clip, undock_record):
    """Angle at the subject between the camera and the Sun: 35-110 deg at the middle of every shot
    (under ~30 the light is flat, past ~140 the subject is a silhouette); the sunset close 115-140."""
    n = undock_record.meta["orbit"]["mean_motion_rad_s"]
    for k, shot in enumerate(clip.shots):
        first, end = clip.shot_span(k)
        mid = 0.5 * (first + end)
        pose = clip.camera(mid)
        to_camera = pose.position - pose.focal_point
        sun = sun_direction(clip.settings.lighting, n, clip.sim(mid))
        angle = math.degrees(math.acos(float(to_camera @ sun / np.linalg.norm(to_camera))))
        if shot.name == "sunset":
            # the last close looks across the limb towards where the Sun sets, for its glowing layers (the
            # night side shows none of them elsewhere): the subject lit from three-quarters behind, not against the Sun
            assert 115.0 <= angle <= 140.0, (shot.name, angle)
            continue
        assert 35.0 <= angle <= 110.0, (shot.name, angle)


def test_the_clip_ends_warm_lit_before_sunset(clip, undock_record):
    """The last frame has the Sun's whole disc (0.0093 rad across) still above the limb, its light orange
    through the air its ray grazes; the last close starts in daylight and runs into that orange."""
    from issvis.pictures.shots import sun_colour_rgb

    lighting = clip.settings.lighting
    end = clip.sim(clip.length_s)
    height = sun_height_rad(undock_record, lighting, end)
    assert 0.0047 <= height <= 0.02, f"the Sun {height:.4f} rad above the limb at the last frame"
    assert clip.shots[-1].name == "sunset" and clip.shots[-1].subject == "departing"
    first = sun_colour_rgb(height_at_close_start(clip, undock_record))
    last = sun_colour_rgb(height)
    assert first[1] / first[0] > 0.93 and first[2] / first[0] > 0.85, ("the close starts in daylight", first)
    assert last[1] / last[0] < 0.8 and last[2] / last[0] < 0.5, ("the last light is not orange", last)
    assert last[0] > 0.6, ("the last light is too dim to see the hull by", last)
    assert clip.shots[-2].name == "apart" and clip.shots[-2].labels


def test_sunlight_reddens_only_where_its_ray_grazes_the_air():
    """The Sun's colour from the station: daylight while its ray passes over ~60 km (the Sun over 0.025 rad
    above the limb); then red survives, green less, blue least; 0.0047 rad above the limb (its disc just
    clear) the ray passes ~11 km up and most of the light is gone."""
    from issvis.pictures.shots import DAYLIGHT_RGB, sun_colour_rgb, sun_tangent_height_m
    from issvis.record.scene_of import DEFAULT_ALTITUDE_M

    assert sun_tangent_height_m(0.0) == 0.0
    assert sun_tangent_height_m(0.4) == sun_tangent_height_m(1.5) == DEFAULT_ALTITUDE_M  # over the horizontal
    assert np.allclose(sun_colour_rgb(1.5), DAYLIGHT_RGB)
    assert 2.2e6 < sun_tangent_height_m(0.01) / 0.01 < 2.45e6  # ~ the distance to the horizon x the height
    assert np.allclose(sun_colour_rgb(0.5), DAYLIGHT_RGB) and np.allclose(sun_colour_rgb(0.03), DAYLIGHT_RGB, atol=0.01)
    for h in (0.015, 0.010, 0.007):
        r, g, b = sun_colour_rgb(h) / DAYLIGHT_RGB
        assert 1.0 > r > g > b > 0.0, h
    heights = np.linspace(0.0047, 0.03, 30)
    luma = [float(sun_colour_rgb(h) @ [0.2126, 0.7152, 0.0722]) for h in heights]
    assert np.all(np.diff(luma) > 0), "lower is dimmer"
    assert luma[0] < 0.35


def height_at_close_start(clip, record) -> float:
    return sun_height_rad(record, clip.settings.lighting, clip.sim(clip.shot_span(len(clip.shots) - 1)[0]))


def test_the_ending_looks_down_its_wide_over_the_day_side_its_close_across_the_limb(clip, undock_record):
    """Neither shot of the ending looks up into black. The wide ('apart') ends with the ground below still in
    daylight, its middle ray on Earth and both sides inside its last frame; in the close ('sunset') the
    limb's line (which dips ``dip`` below the horizontal) runs across the frame behind the subject."""
    from issvis.pictures.camera import project
    from issvis.pictures.shots import APART_SUN_RAD, _orbit

    _, dip = _orbit(undock_record)
    lighting = clip.settings.lighting
    wide, close = len(clip.shots) - 2, len(clip.shots) - 1
    assert clip.shots[wide].name == "apart" and clip.shots[close].name == "sunset"
    for k in (wide, close):
        first, end = clip.shot_span(k)
        for v in np.linspace(first, end - 1e-3, 5):
            pose = clip.camera(v)
            look = pose.focal_point - pose.position
            depression = math.asin(-look[0] / np.linalg.norm(look))
            assert depression >= -0.02, (clip.shots[k].name, v, "looks up")
            if k == wide:
                assert depression > dip, (v, "the middle of the wide is sky, not the day side")
            else:
                half = math.radians(clip.shots[k].fov_deg) / 2
                assert abs(depression - dip) < 0.8 * half, (v, "the limb is not across the close")
    first, end = clip.shot_span(wide)
    assert sun_height_rad(undock_record, lighting, clip.sim(end - 1e-3)) >= APART_SUN_RAD - 0.01
    v = end - 1e-3
    pose = clip.camera(v)
    pos, quat = undock_record.pose_at(clip.sim(v))
    dep, rem = clip.points.point("departing", pos, quat), clip.points.point("remaining", pos, quat)
    xy, depth = project(pose, np.array([dep, rem]), 16 / 9)
    assert (depth > 0).all() and ((xy > 0.05) & (xy < 0.95)).all(), xy


def test_a_wing_glints_for_an_eye_at_the_sun_s_mirror_image_in_it():
    """One wing facing zenith (its thin axis up), the Sun 40 deg up: an eye along the Sun's reflection
    sees 0 deg; one turned 20 deg round the zenith from there sees 20 deg * cos(40 deg)-ish, never 0;
    a wing out of the eye's view does not count."""
    from issvis.pictures.shots import StationBoxes, wing_glint_deg

    boxes = StationBoxes(part=np.array([0]), lo=np.array([[-0.1, -6.0, -16.0]]), hi=np.array([[0.1, 6.0, 16.0]]),
                         what=("P6 truss, wing 2B",), names=("p6",))
    mask, pos, rot = np.array([True]), np.zeros((1, 3)), np.eye(3)[None]
    e = math.radians(40.0)
    sun = np.array([math.sin(e), -math.cos(e), 0.0])
    mirror = np.array([math.sin(e), math.cos(e), 0.0])
    turned = np.array([math.sin(e), math.cos(e) * math.cos(math.radians(20)), math.cos(e) * math.sin(math.radians(20))])
    eyes = np.array([60 * mirror, 60 * turned])
    angles = wing_glint_deg(boxes, mask, pos, rot, eyes, sun, np.zeros(3))
    assert angles[0] == pytest.approx(0.0, abs=1e-6)
    assert 10.0 < angles[1] < 20.0
    away = wing_glint_deg(boxes, mask, pos, rot, eyes[:1], sun, 60 * mirror + np.array([0.0, 0.0, 100.0]))
    assert away[0] == 180.0  # looking elsewhere: the wing is out of frame


def test_the_leaving_shot_turns_through_a_glint_off_a_us_wing_in_frame(clip, undock_record):
    """Half way through its turn the leaving shot's camera passes within a few degrees of where a US wing
    in frame mirrors the Sun (the sheen, which spreads about 5 deg, lights the wing; its panels glint)."""
    from issvis.core.frames import quat_to_matrix
    from issvis.pictures.shots import sun_direction, wing_glint_deg

    k = [s.name for s in clip.shots].index("leaving")
    first, end = clip.shot_span(k)
    boxes = station_boxes(undock_record)
    rem = undock_record.separation_sides()[1]
    from issvis.record.scene_of import orbit_of

    _, n = orbit_of(undock_record)
    best = []
    for v in np.linspace(first + 0.1, end - 0.1, 12):
        t = clip.sim(v)
        pos, quat = undock_record.pose_at(t)
        pose = clip.camera(v)
        sun = sun_direction(clip.settings.lighting, n, t)
        best.append(float(wing_glint_deg(boxes, rem, pos, quat_to_matrix(quat), pose.position[None], sun,
                                         pose.focal_point)[0]))
    assert min(best) < 6.0, best
    assert int(np.argmin(best)) not in (0, len(best) - 1), "the glint should come mid-shot, not at a cut"


def test_the_sun_the_shots_are_framed_for_is_the_one_the_stage_draws(undock_record):
    from issvis.pictures.stage import Stage

    settings = RenderSettings()
    n = undock_record.meta["orbit"]["mean_motion_rad_s"]
    fake = SimpleNamespace(settings=settings, mean_motion=n, t_s=0.0)
    for t in (0.0, 640.0, 1290.0):
        assert np.allclose(Stage.sun_direction(fake, t), sun_direction(settings.lighting, n, t))


def test_seconds_stretches_each_shot_and_keeps_what_it_shows(undock_record, clip):
    half = Clip(RenderSettings(seconds=clip.length_s / 2), undock_record)
    for a, b in zip(clip.shots, half.shots):
        assert b.video_s == pytest.approx(a.video_s / 2)
        assert b.time_factor * b.video_s == pytest.approx(a.time_factor * a.video_s)


def test_a_record_without_a_separation_gets_one_steady_shot(undock_record):
    import dataclasses

    plain = dataclasses.replace(undock_record, events=[e for e in undock_record.events if e["kind"] != "separation"])
    c = Clip(RenderSettings(), plain)
    assert [s.name for s in c.shots] == ["station"]
    assert c.sim(c.length_s) == pytest.approx(float(plain.t[-1]))
    check_camera_path(c)


@pytest.mark.parametrize("render, message", [
    ({"shot": [{"name": "a", "video_s": 0, "from_m": [0, 0, 100]}]}, "video_s"),
    ({"shot": [{"name": "a", "video_s": 3, "from_m": [0, 0, 100], "zoom": 2}]}, "zoom"),
    ({"shot": [{"name": "a", "video_s": 3, "from_m": [0, 0, 100], "subject": "module:zarya"}]}, "unknown camera point"),
    ({"shot": [{"name": "a", "video_s": 3, "from_m": [0, 0, 100]}] * 2}, "appears twice"),
    ({"shot": [{"name": "a", "video_s": 3, "from_m": [0, 0, 100]}],
      "camera": {"keys": [{"at_s": 0, "position_m": [0, 0, 100]}]}}, "not both"),
    ({"shot": []}, "empty"),
])
def test_bad_shot_lists_are_refused_with_the_key(render, message):
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match=message):
        RenderSettings.model_validate(render)


@pytest.mark.parametrize("where, value", [
    ("seconds", "nan"), ("lighting.sun_direction_lvlh", "[inf, 0.0, 0.0]"), ("quality.bloom", "nan"),
    ("camera.near_m", "inf"), ("lighting.sun_intensity", "-inf"),
])
def test_a_render_float_that_is_not_finite_is_one_line_naming_file_and_field_exit_2(tmp_path, capsys, where, value):
    from issvis.cli import main

    scene = tmp_path / "odd.toml"
    section, _, key = where.rpartition(".")
    text = (ROOT / "scenes" / "undock.toml").read_text()
    table = f"[render.{section}]" if section else "[render]"
    extra = f"\n{table}\n{key} = {value}\n" if section else ""
    if not section:
        text = text.replace("[render]\n", f"[render]\n{key} = {value}\n", 1)
    scene.write_text(text + extra)
    assert main(["render", str(scene), "--still-video-s", "1", "-o", str(tmp_path / "x.png")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and str(scene) in err and f"render.{where}" in err and "finite" in err, err
    assert not (tmp_path / "x.png").exists()


@pytest.mark.parametrize("flag", ["--still-video-s", "--still"])
def test_the_still_takes_video_seconds_under_its_named_flag_and_its_old_name(undock_300_path, tmp_path, capsys, flag):
    from issvis.cli import main

    assert main(["render", str(undock_300_path), flag, "9999", "-o", str(tmp_path / "f.png"), "--size", "64x36"]) == 2
    err = capsys.readouterr().err
    assert "--still-video-s 9999: the clip runs 0.." in err and "s of video" in err, err


def test_render_help_names_the_unit_of_every_time_it_takes():
    from click.testing import CliRunner

    from issvis.cli import cli

    out = CliRunner().invoke(cli, ["render", "--help"]).output
    assert "--still-video-s VIDEO_S" in out and "--seconds VIDEO_S" in out and "not simulated time" in out
    assert "--still " not in out.replace("--still-video-s", ""), "the old name stays hidden"


def test_a_shot_past_the_record_or_back_in_time_is_refused(undock_record):
    from issvis.pictures.camera import RenderSettingsError

    late = Shot(name="late", video_s=10, start_sim_s=1795.0, from_m=(0, 0, 150))
    with pytest.raises(RenderSettingsError, match=r"render.shot.0 \('late'\) shows simulated time 1795..1805 s"):
        Clip(RenderSettings(shot=(late,)), undock_record)
    a = Shot(name="a", video_s=5, start_sim_s=100.0, from_m=(0, 0, 150))
    b = Shot(name="b", video_s=5, start_sim_s=50.0, from_m=(0, 0, 150))
    with pytest.raises(RenderSettingsError, match="must not go back in time"):
        Clip(RenderSettings(shot=(a, b)), undock_record)


def test_a_cut_that_skips_time_maps_back_to_the_next_shot(undock_record):
    a = Shot(name="a", video_s=5, start_sim_s=0.0, from_m=(0, 0, 150))
    b = Shot(name="b", video_s=5, start_sim_s=600.0, time_factor=10.0, from_m=(0, 0, 150))
    c = Clip(RenderSettings(shot=(a, b)), undock_record)
    assert c.sim(4.9) == pytest.approx(4.9) and c.sim(5.0) == pytest.approx(600.0)
    assert c.time.video(300.0) == pytest.approx(5.0)  # skipped: the first frame after the cut
    assert c.time.video(650.0) == pytest.approx(10.0)


# --- words -----------------------------------------------------------------------------------
def test_read_out_words_are_plain():
    from issvis.pictures.video import distance_words, duration_words, speed_words, time_factor_words

    assert time_factor_words(1.0) == "Real time"
    assert time_factor_words(10.0) == "10x faster than real time"
    assert [distance_words(x) for x in (0.04, 0.45, 12.44, 283.2)] == ["4 cm", "0.45 m", "12.4 m", "283 m"]
    assert [speed_words(x) for x in (0.112, -0.36, 1.24)] == ["11 cm/s", "36 cm/s", "1.2 m/s"]
    assert [duration_words(x) for x in (45, 60, 840)] == ["45 seconds", "1 minute", "14 minutes"]


def test_the_read_out_s_words_stay_put_as_the_distance_grows_a_digit():
    """Where the shutter blend lays a frame's old read-out under the new one, a line that shifted showed
    twice (at 99.9 -> 101 m every glyph after the number); measured in the read-out's own font, the words
    after the number now start within a pixel of one place, where plain distance words move 10-21 px."""
    import vtk

    from issvis.pictures.video import distance_words, readout_distance_words

    prop = vtk.vtkTextProperty()
    prop.SetFontFamilyToArial()
    prop.SetFontSize(32)  # the read-out's size at 1080p (0.030 of the frame's height)
    measure = vtk.vtkTextRenderer()

    def width_px(text: str) -> int:
        box = [0, 0, 0, 0]
        assert measure.GetBoundingBox(prop, f"|{text} apart", box, 72)  # '|': leading spaces count
        return box[1] - box[0]

    distances_m = (0.45, 1.0, 3.24, 9.96, 12.4, 99.9, 101.0, 283.2, 999.0)
    padded = [width_px(readout_distance_words(m)) for m in distances_m]
    plain = [width_px(distance_words(m)) for m in distances_m]
    assert max(padded) - min(padded) <= 1, padded
    assert max(plain) - min(plain) >= 10, plain  # what the padding is for: the check fails without it
    assert [readout_distance_words(m).strip() for m in distances_m] == [distance_words(m) for m in distances_m]


def test_the_sides_are_named_from_the_record():
    from issvis.pictures.video import side_names
    from issvis.record.record import Record

    golden = ROOT / "tests" / "golden"
    cfg = Overlays()
    assert side_names(Record.load(golden / "undock.npz"), cfg) == ("Russian segment", "US segment")
    assert side_names(Record.load(golden / "soyuz_departure.npz"), cfg) == ("Soyuz MS-19", "the station")
    renamed = Overlays(segment_names={"ROS": "ROS", "USOS": "USOS"})
    assert side_names(Record.load(golden / "undock.npz"), renamed) == ("ROS", "USOS")


# --- pixels ----------------------------------------------------------------------------------
def _source(record, settings):
    pytest.importorskip("pyvista")
    from issvis.pictures.video import open_source

    return open_source(record, settings)


def _display_box(actor, renderer) -> list[float]:
    """(x0, x1, y0, y1) pixels of a text actor on screen (VTK gives it relative to the anchor)."""
    bbox = [0.0] * 4
    actor.GetBoundingBox(renderer, bbox)
    x, y = actor.GetPositionCoordinate().GetComputedDisplayValue(renderer)
    return [bbox[0] + x, bbox[1] + x, bbox[2] + y, bbox[3] + y]


@pytest.mark.slow
def test_words_on_screen_sit_in_the_title_safe_area_on_a_backing(undock_record, clip):
    """In the parting shot (both sides named, the read-out under them) every visible text lies
    inside the title-safe area, and the read-out's panel darkens the bright Earth behind it."""
    import vtk

    settings = RenderSettings(width_px=480, height_px=270)
    bare = settings.model_copy(update={"overlays": Overlays(title_card=False, labels=False, gap_cue=False,
                                                            captions=False, end_card=False, clock=False,
                                                            separation=False)})
    k = [s.name for s in clip.shots].index("parting")
    first, end = clip.shot_span(k)
    v = 0.5 * (first + end)
    src = _source(undock_record, settings)
    try:
        src.pose(v)
        with_text = src.picture().astype(float)
        shown = []
        for actor in src.overlays.actors:
            if not actor.GetVisibility() or not isinstance(actor, vtk.vtkTextActor) or not actor.GetInput().strip():
                continue
            bbox = _display_box(actor, src.plotter.renderer)
            w, h = src.width_px, src.height_px
            shown.append(actor.GetInput().strip())
            # (the backing reaches 2 px past the text's anchor)
            assert bbox[0] >= 0.05 * w - 3 and bbox[1] <= 0.95 * w + 3, (actor.GetInput(), bbox)
            assert bbox[2] >= 0.05 * h - 3 and bbox[3] <= 0.95 * h + 3, (actor.GetInput(), bbox)
        bbox = _display_box(src.overlays.readout, src.plotter.renderer)
    finally:
        src.close()
    assert "Russian segment" in shown and "US segment" in shown
    assert any("apart, moving apart at" in s for s in shown) and any("10x faster" in s for s in shown)
    src = _source(undock_record, bare)
    try:
        src.pose(v)
        without = src.picture().astype(float)
    finally:
        src.close()
    # the read-out's box, in the picture's rows (top first) at the video's size
    sx, sy = settings.width_px / src.width_px, settings.height_px / src.height_px
    x0, x1 = int(bbox[0] * sx) + 2, int(bbox[1] * sx) - 2
    y0, y1 = settings.height_px - int(bbox[3] * sy) + 2, settings.height_px - int(bbox[2] * sy) - 2
    panel, behind = with_text[y0:y1, x0:x1].mean(axis=2), without[y0:y1, x0:x1].mean(axis=2)
    assert behind.mean() > 60, "the test needs a bright background behind the read-out"
    assert np.median(panel) < 0.7 * np.median(behind), "no dark backing behind the text"
    assert panel.max() > 200, "no bright text on the backing"


@pytest.mark.slow
def test_the_end_card_lies_over_a_lit_picture_not_black(undock_record, clip):
    settings = RenderSettings(width_px=320, height_px=180)
    src = _source(undock_record, settings)
    try:
        src.pose(clip.length_s - 0.5)
        assert src.overlays.end.GetVisibility()
        words = src.overlays.end.GetInput()
        img = src.picture().astype(float).mean(axis=2)
    finally:
        src.close()
    assert "minutes after undocking, the Russian segment is" in words and "from the US segment" in words
    # lit, not black: the departing side, warm in the last sunlight (a sunset over the night side is mostly dark sky)
    assert (img > 0.2 * 255).mean() > 0.005, "nothing lit behind the end card"
    assert img.max() > 150


def test_the_read_out_holds_its_numbers_in_blurred_shots_so_the_blend_never_doubles_a_digit(undock_record, clip):
    """At 30x the distance changes every frame; the shutter blend would lay two numbers over each other on
    every frame. In the leaving shot the read-out changes at most once every READOUT_HOLD_S (15 frames at 30
    fps), and each value is the true one at the start of its hold; in the real-time opening it follows
    every frame."""
    from issvis.pictures.video import READOUT_HOLD_S

    src = _source(undock_record, RenderSettings(width_px=320, height_px=180))
    try:
        k = [s.name for s in clip.shots].index("leaving")
        first, end = clip.shot_span(k)
        words, values = [], []
        for i in range(int(first * 30) + 1, int(first * 30) + 91):
            src.pose(i / 30)
            words.append(src.overlays.readout.GetInput())
        changes = [i for i in range(1, len(words)) if words[i] != words[i - 1]]
        assert len(changes) >= 4, "the read-out does not move at all"
        assert np.all(np.diff(changes) >= round(READOUT_HOLD_S * 30) - 1), changes
        v = first + 2 * READOUT_HOLD_S + 0.1
        src.pose(v)
        held = src.overlays.readout.GetInput()
        values = src.overlays._readout_words(v, clip.sim(first + 2 * READOUT_HOLD_S),
                                              src.overlays._gap_at(clip.sim(first + 2 * READOUT_HOLD_S)))
        assert held == values
        k = [s.name for s in clip.shots].index("opening")
        a, _ = clip.shot_span(k)
        seen = set()
        for i in range(int((a + 4.0) * 30), int((a + 4.0) * 30) + 8):
            src.pose(i / 30)
            seen.add(src.overlays.readout.GetInput())
        assert len(seen) >= 3, "the real-time read-out should follow the gap"
    finally:
        src.close()


def test_the_blend_runs_on_through_the_held_read_out_s_changes(undock_record, clip):
    """The shutter blend mixes a frame with the one before it. A blurred shot is one run of the blend, also
    across the frames where the held read-out's numbers change: there the digits that change show the old
    at a third under the new, for that one frame (the words that stay the same are the same in both frames,
    so the blend leaves them whole). Where the blend broke at each change, that frame came out unblended:
    one sharp frame every READOUT_HOLD_S, a pulse over the moving cloud deck of the 30x shot."""
    from issvis.pictures.video import _blur_stretches

    src = _source(undock_record, RenderSettings(width_px=320, height_px=180))
    try:
        k = [s.name for s in clip.shots].index("leaving")
        a = int(clip.shot_span(k)[0] * clip.fps) + 10
        b = a + 90
        words = {}
        for i in range(a - 1, b):
            src.pose(i / clip.fps)
            words[i] = src.overlays.readout.GetInput()
    finally:
        src.close()
    changes = [i for i in range(a, b) if words[i] != words[i - 1]]
    assert len(changes) >= 4, "the read-out does not move at all"
    assert _blur_stretches(clip, a, b, 0.5) == ([(91, True)], True)


def _linear(v):
    v = np.asarray(v, float) / 255.0
    return np.where(v <= 0.04045, v / 12.92, ((v + 0.055) / 1.055) ** 2.4)


def test_a_stop_of_exposure_doubles_the_light_and_keeps_black_black():
    from issvis.pictures.grade import exposure_lut

    assert exposure_lut(0.0) is None
    up, down = exposure_lut(1.0), exposure_lut(-1.0)
    assert up[0] == 0 and down[0] == 0 and up[255] == 255
    assert (np.diff(up.astype(int)) >= 0).all()
    mid = np.arange(40, 180)  # clear of 8-bit rounding at the bottom and of the clip at the top
    assert _linear(up[mid]) / _linear(mid) == pytest.approx(2.0, rel=0.03)
    assert _linear(down[mid]) / _linear(mid) == pytest.approx(0.5, rel=0.03)


def test_the_sunset_close_opens_up_a_stop_over_the_same_picture(undock_record, clip):
    """The default edit opens its last close up (SUNSET_EXPOSURE_EV stops); the same shot at 0 EV gives
    2**-ev of the light in every lit pixel that is not clipped, and the same black sky."""
    from issvis.pictures.shots import SUNSET_EXPOSURE_EV

    assert clip.shots[-1].exposure_ev == SUNSET_EXPOSURE_EV and 1.0 <= SUNSET_EXPOSURE_EV <= 2.0
    flat = tuple(clip.shots[:-1]) + (clip.shots[-1].model_copy(update={"exposure_ev": 0.0}),)
    pictures = []
    for shots in (tuple(clip.shots), flat):
        src = _source(undock_record, RenderSettings(width_px=320, height_px=180, shot=shots))
        try:
            src.pose(clip.length_s - 0.5)
            pictures.append(src.picture().astype(int))
        finally:
            src.close()
    opened, plain = pictures
    lit = (plain > 30) & (_linear(plain) * 2**SUNSET_EXPOSURE_EV < 0.95)  # (not clipped once opened up)
    assert lit.sum() > 200, "nothing lit in the close"
    ratio = _linear(opened[lit]).sum() / _linear(plain[lit]).sum()
    assert ratio == pytest.approx(2**SUNSET_EXPOSURE_EV, rel=0.05)
    assert (opened[plain == 0] == 0).all()


@pytest.mark.slow
@pytest.mark.parametrize("where", ["last frame", "last frame of the wide"])
def test_the_end_card_and_the_labels_cover_neither_side(undock_record, clip, where):
    """In the last frame the end card's panel, and in the wide's last frame each side's name, lie clear of
    the boxes on screen of every side in view."""
    from issvis.core.frames import quat_to_matrix
    from issvis.pictures.camera import project
    from issvis.pictures.shots import station_boxes

    settings = RenderSettings(width_px=960, height_px=540)  # (smaller, the 12 px floor on text widens the card)
    v = clip.length_s - 0.3 if where == "last frame" else clip.shot_span(len(clip.shots) - 2)[1] - 0.3
    src = _source(undock_record, settings)
    try:
        src.pose(v)
        src.picture()
        r = src.plotter.renderer
        w, h = src.width_px, src.height_px
        texts = [(a.GetInput().strip(), _display_box(a, r)) for a in [src.overlays.end, *src.overlays.labels]
                 if a.GetVisibility()]
        pose = src.clip.camera(v)
        pos, quat = undock_record.pose_at(src.clip.sim(v))
    finally:
        src.close()
    assert len(texts) == (1 if where == "last frame" else 2), [t for t, _ in texts]
    boxes = station_boxes(undock_record)
    rot = quat_to_matrix(quat)
    in_view = 0
    for mask in undock_record.separation_sides():
        xy, depth = project(pose, boxes.corners(mask, pos, rot), w / h)
        if (depth <= 0).any() or (xy < 0).all(axis=0).any() or (xy > 1).all(axis=0).any():
            continue  # behind the camera or wholly out of the frame: nothing on screen to cover
        in_view += 1
        xy = np.clip(xy, 0.0, 1.0)
        side = (xy[:, 0].min() * w, xy[:, 0].max() * w, xy[:, 1].min() * h, xy[:, 1].max() * h)
        for words, (x0, x1, y0, y1) in texts:
            apart = x1 < side[0] or x0 > side[1] or y1 < side[2] or y0 > side[3]
            assert apart, (words, (x0, x1, y0, y1), side)
    assert in_view == (1 if where == "last frame" else 2), "the sides the shot is meant to show are not in view"


@pytest.mark.slow
def test_each_name_has_a_leader_line_to_its_side_s_centre(undock_record, clip):
    """In the wide, where both sides are named, a line runs from just off each name's panel to the centre
    of mass of the side it names, stopped ``LEADER_GAP`` short of it: which piece is which even where a
    name stands over the other side's array."""
    from issvis.pictures.camera import project
    from issvis.pictures.video import LEADER_GAP

    settings = RenderSettings(width_px=640, height_px=360)
    v = clip.shot_span(len(clip.shots) - 2)[1] - 0.5  # the wide, near its end
    src = _source(undock_record, settings)
    try:
        src.pose(v)
        overlays = src.overlays
        pose = src.clip.camera(v)
        pos, _ = src.clip.poses(src.clip.sim(v))
        aspect = overlays.aspect  # the rendered frame's (supersampled, rounded to even pixels)
        ends = []
        for label, (line, pts, _), mask in zip(overlays.labels, overlays.leaders, undock_record.separation_sides()):
            assert label.GetVisibility() and line.GetVisibility(), label.GetInput()
            start, end = np.array(pts.GetPoint(0)[:2]), np.array(pts.GetPoint(1)[:2])
            name_x, name_y = label.GetPositionCoordinate().GetValue()[:2]
            assert start[0] == pytest.approx(name_x) and abs(start[1] - name_y) == pytest.approx(LEADER_GAP)
            centre = project(pose, src.clip.points.com(mask, pos)[None], aspect)[0][0]
            short = np.linalg.norm((centre - end) * [aspect, 1.0])
            assert short == pytest.approx(LEADER_GAP, abs=1e-6), (label.GetInput(), centre, end)
            ends.append(end)
    finally:
        src.close()
    assert np.linalg.norm(ends[0] - ends[1]) > 0.1  # two sides, two places


# --- dead time -------------------------------------------------------------------------------
def _write_clip(path: Path, frames: list[np.ndarray], fps: int = 10) -> None:
    import imageio_ffmpeg

    h, w = frames[0].shape[:2]
    gen = imageio_ffmpeg.write_frames(str(path), (w, h), fps=fps, macro_block_size=2, ffmpeg_log_level="error")
    gen.send(None)
    for f in frames:
        gen.send(np.ascontiguousarray(f))
    gen.close()


def test_dead_time_counts_black_and_static_seconds(tmp_path):
    """3 s of black, 3 s of a held picture, 3 s of a picture that moves: the black seconds and the held
    ones are dead, except the last held second, whose next frame is the cut to the moving picture."""
    dead_time = _dead_time_module()
    rng = np.random.default_rng(1)
    held = (rng.random((90, 160, 1)) * 255).repeat(3, axis=2).astype(np.uint8)
    ys, xs = np.mgrid[0:90, 0:160]
    moving = [np.dstack([(127 + 120 * np.sin((xs + 4 * i) / 5.0))] * 3).astype(np.uint8) for i in range(30)]
    frames = [np.zeros((90, 160, 3), np.uint8)] * 30 + [held] * 30 + moving + [moving[-1]]
    path = tmp_path / "c.mp4"
    _write_clip(path, frames)
    done = subprocess.run([sys.executable, str(ROOT / "tools" / "dead_time.py"), str(path), "--json"],
                          capture_output=True, text=True, check=True)
    import json

    result = json.loads(done.stdout)
    assert result["dead"] == [0, 1, 2, 3, 4], result
    assert result["longest_black_s"] == pytest.approx(3.0, abs=0.15)
    rows = dead_time.judge(*dead_time.decode(str(path)))
    assert [r["black"] for r in rows[:4]] == [True, True, True, False]


def _dead_time_module():
    sys.path.insert(0, str(ROOT / "tools"))
    try:
        import dead_time
    finally:
        sys.path.pop(0)
    return dead_time


def test_dead_time_judges_a_subject_on_black_by_itself_and_a_mostly_full_frame_as_a_whole(tmp_path):
    """The picture rule: a small lit square crossing black sky is alive (the whole-frame rule calls it
    static and black: the sky cannot change); a frame half sky, half ground that brightens by 0.08 over
    a second is static (under 5 % of the frame's light changed; the where-lit rule calls it alive)."""
    dead_time = _dead_time_module()
    square = []
    for i in range(31):
        f = np.zeros((90, 160, 3), np.uint8)
        f[40:56, 4 + 4 * i:20 + 4 * i] = 255
        square.append(f)
    ground = []
    for i in range(31):
        f = np.zeros((90, 160, 3), np.uint8)
        f[45:] = round(255 * (0.5 + 0.08 * i / 30))
        ground.append(f)
    verdicts = {}
    for name, frames in (("square", square), ("ground", ground)):
        path = tmp_path / f"{name}.mp4"
        _write_clip(path, frames, fps=30)
        decoded = dead_time.decode(str(path))
        verdicts[name] = {rule: dead_time.judge(*decoded, rule)[0] for rule in dead_time.RULES}
    assert not verdicts["square"]["picture"]["dead"], verdicts["square"]
    assert not verdicts["square"]["where-lit"]["dead"]
    assert verdicts["square"]["whole-frame"]["static"] and verdicts["square"]["whole-frame"]["black"]
    assert verdicts["ground"]["picture"]["static"], verdicts["ground"]
    assert verdicts["ground"]["whole-frame"]["static"]
    assert not verdicts["ground"]["where-lit"]["dead"]


# --- the camera response ---------------------------------------------------------------------
@pytest.mark.parametrize("key, value", [("tone", "filmic"), ("bloom", 0.3), ("vignette", 0.35), ("grain", 0.025)])
def test_each_camera_response_setting_changes_the_frame_and_keeps_black_black(key, value):
    from issvis.pictures.grade import grade_image
    from issvis.scene.render_settings import Quality

    off = Quality(tone="none", bloom=0.0, vignette=0.0, grain=0.0)
    ramp = np.tile(np.linspace(0, 255, 192)[None, :, None], (108, 1, 3)).astype(np.uint8)
    ramp[40:60, 80:110] = 255  # a sunlit white patch on the ramp
    assert np.array_equal(grade_image(ramp, off), ramp), "all off must leave the frame alone"
    graded = grade_image(ramp, off.model_copy(update={key: value})).astype(float)
    assert np.abs(graded - ramp).mean() > 0.3, f"{key} changed nothing"
    assert graded[:, :4].mean() < 6, f"{key} lifted black"


def test_the_filmic_curve_rolls_white_off_and_keeps_mid_grey():
    from issvis.pictures.grade import grade_image
    from issvis.scene.render_settings import Quality

    tone = Quality(tone="filmic", bloom=0.0, vignette=0.0, grain=0.0)
    levels = np.array([0, 16, 128, 235, 255], np.uint8)
    img = np.tile(levels[None, :, None], (8, 1, 3)).repeat(8, axis=1)
    out = grade_image(img, tone)[4, 4::8, 0].astype(int)
    assert out[0] <= 2 and out[1] < 16  # black stays black; the toe darkens the shadows a little
    assert abs(out[2] - 128) <= 8  # mid-grey about where it was
    assert 235 <= out[4] <= 250  # a shoulder below clipping


def _through_ffmpeg(values: list[int], chain: str) -> list[int]:
    """Flat grey frames of these levels through a filter chain; the level of each frame out."""
    import subprocess

    from issvis.pictures.segments import ffmpeg_exe

    frames = np.stack([np.full((16, 16, 3), v, np.uint8) for v in values])
    done = subprocess.run([ffmpeg_exe(), "-v", "error", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", "16x16", "-r", "10",
                           "-i", "-", "-vf", f"format=yuv444p,{chain},format=rgb24", "-f", "rawvideo", "-pix_fmt",
                           "rgb24", "-"], input=frames.tobytes(), capture_output=True, check=True)
    return [int(v) for v in np.frombuffer(done.stdout, np.uint8).reshape(-1, 16, 16, 3)[:, 0, 0, 0]]


def test_the_shutter_blend_mixes_a_frame_with_the_one_before_but_never_across_a_cut():
    from issvis.pictures.grade import blur_filter

    levels = [0, 200, 100, 50, 250, 0, 80, 160]
    # three blurred frames, a cut, three sharp ones, a cut, two blurred; the encoder is fed the first frame
    # twice (the blend's extra frame), and the repeat is blended with nothing
    out = _through_ffmpeg(levels[:1] + levels, blur_filter([(3, True), (3, False), (2, True)], 1.0, False))
    expected = [0, 100, 150, 50, 250, 0, 80, 120]
    assert np.allclose(out, expected, atol=2), out
    # with a leading frame (the one before the segment): it feeds the first blend and is dropped
    out = _through_ffmpeg(levels, blur_filter([(4, True), (4, True)], 1.0, True))
    assert np.allclose(out, [100, 150, 75, 250, 125, 40, 120], atol=2), out
    # a weight of 0.5 on the frame before: a third of it
    out = _through_ffmpeg([0, 0, 150], blur_filter([(2, True)], 0.5, False))
    assert np.allclose(out, [0, 100], atol=2), out
    assert blur_filter([(8, False)], 1.0, False) == "" and blur_filter([(8, True)], 0.0, False) == ""


def test_only_time_lapse_shots_are_blurred_and_a_segment_mid_shot_leads_with_the_frame_before(clip):
    from issvis.pictures.grade import MOTION_BLUR_FACTOR
    from issvis.pictures.video import _blur_stretches

    fps = clip.fps
    names = [s.name for s in clip.shots]
    spans = {name: clip.shot_span(k) for k, name in enumerate(names)}
    # a stretch inside the opening (real time): nothing blurred, no lead
    a = int(spans["opening"][0] * fps) + 5
    assert _blur_stretches(clip, a, a + 30, 0.5) == ([(30, False)], False)
    # across the cut from the leaving shot (30x) to the wide over the day side (30x): two blurred runs, split at the cut
    cut = int(round(spans["apart"][0] * fps))
    runs, lead = _blur_stretches(clip, cut - 20, cut + 20, 0.5)
    assert lead and runs == [(21, True), (20, True)], (runs, lead)
    assert all(clip.shots[names.index(n)].time_factor >= MOTION_BLUR_FACTOR for n in ("leaving", "apart"))
    # the sunset close, slowed to 5x, is sharp: nothing in it sweeps across the frame
    last = int(spans["sunset"][0] * fps) + 5
    assert clip.shots[-1].time_factor < MOTION_BLUR_FACTOR
    assert _blur_stretches(clip, last, last + 20, 0.5) == ([(20, False)], False)
    assert _blur_stretches(clip, cut - 20, cut + 20, 0.0) == ([(40, False)], False)
