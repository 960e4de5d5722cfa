"""Plots of a record: valid README-sized images with the content they promise."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image

from issvis.analysis import plots
from issvis.cli import main
from issvis.core.frames import matrix_to_quat

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# contact shading: the contact colour at alpha 0.35 over the white axes background
CONTACT_RGB = np.array([255, 127, 14]) * 0.35 + 255 * 0.65


@pytest.fixture(scope="module")
def records(undock_record, contact_record, tmp_path_factory):
    """The default separation (no contact) and the misaligned push that strikes (shared fixtures)."""
    d = tmp_path_factory.mktemp("records")
    undock_record.save(d / "clean.npz")
    return SimpleNamespace(clean=undock_record, strike=contact_record, clean_path=d / "clean.npz")


def _contact_pixels(path) -> int:
    rgb = np.asarray(Image.open(path).convert("RGB"), float)
    return int(np.sum(np.all(np.abs(rgb - CONTACT_RGB) < 8, axis=-1)))


def test_png_is_readme_sized_with_real_content(records, tmp_path):
    out = tmp_path / "clean.png"
    assert main(["plot", str(records.clean_path), "-o", str(out)]) == 0
    assert out.read_bytes()[:8] == PNG_SIGNATURE
    img = Image.open(out)
    assert img.size == (1000, 1050)  # the default scene has attitude control: a third row of panels
    rgb = np.asarray(img.convert("RGB"))
    assert len(np.unique(rgb.reshape(-1, 3), axis=0)) > 200  # text, four panels, antialiased lines
    # the ROS path (red) and the USOS marker/attitude lines (blue) are drawn
    red = np.all(np.abs(rgb.astype(int) - [214, 39, 40]) < 20, axis=-1).sum()
    blue = np.all(np.abs(rgb.astype(int) - [31, 119, 180]) < 20, axis=-1).sum()
    assert red > 500 and blue > 300
    assert _contact_pixels(out) < 50  # nothing struck: no contact shading
    assert not list(tmp_path.glob(".*tmp*"))  # atomic write leaves no temporary behind


def test_a_record_without_control_keeps_four_panels(records, tmp_path):
    assert not plots.has_control(records.strike)
    out = tmp_path / "strike.png"
    plots.plot_record(records.strike, out)
    with Image.open(out) as img:
        assert img.size == (1000, 700)


def test_control_panels_show_cmg_momentum_and_propellant_per_side(records):
    rec = records.clean
    assert plots.has_control(rec)
    (ros, ros_kg), (usos, usos_kg) = plots.propellant_by_side_kg(rec, rec.separation_sides())
    assert (ros, usos) == ("ROS", "USOS")
    assert ros_kg[-1] == pytest.approx(rec.extra["propellant_kg"][-1].sum()) and ros_kg[-1] > 1.0
    assert usos_kg[-1] == 0.0  # the US segment has no thrusters
    assert np.all(np.diff(ros_kg) >= 0)


def test_contacts_are_marked(records, tmp_path):
    assert records.strike.events_of("contact_start"), "the 45-degree misaligned push should strike"
    intervals = plots.contact_intervals(records.strike)
    assert intervals and intervals[0][0] == records.strike.events_of("contact_start")[0]["t"]
    assert all(t1 >= t0 for t0, t1, _ in intervals)
    out = tmp_path / "strike.png"
    plots.plot_record(records.strike, out)
    assert _contact_pixels(out) > 200


def test_svg_by_suffix(records, tmp_path):
    out = tmp_path / "clean.svg"
    assert main(["plot", str(records.clean_path), "-o", str(out)]) == 0
    text = out.read_text()
    assert text.lstrip().startswith("<?xml") and "<svg" in text and "</svg>" in text


def test_relative_path_follows_the_cw_loop(records):
    """Pushed aft, the ROS first falls behind, drops below, and (a lower orbit being faster) ends
    ahead after 30 minutes. This checks the plotted quantity, not the physics engine."""
    rel = plots.relative_path_m(records.clean)
    t = records.clean.t
    k0 = int(np.searchsorted(t, records.clean.events_of("separation")[0]["t"]))
    after = rel[k0:]
    assert after[:, 1].min() < rel[k0, 1] - 10  # aft first
    assert rel[-1, 0] < rel[k0, 0] - 100  # below
    assert rel[-1, 1] > rel[k0, 1]  # then ahead


def _rot(axis: int, a: float) -> np.ndarray:
    """Right-handed rotation by a about body axis 0, 1 or 2."""
    c, s = math.cos(a), math.sin(a)
    m = np.eye(3)
    i, j = ((1, 2), (2, 0), (0, 1))[axis]
    m[i, i], m[i, j], m[j, i], m[j, j] = c, -s, s, c
    return m


def test_attitude_angles_recover_a_known_rotation():
    """pitch, roll, yaw are body-fixed 2-1-3 angles relative to t = 0, from any start attitude."""
    r0 = _rot(2, 0.7) @ _rot(0, -0.3)
    pitch, roll, yaw = 0.4, -0.2, 0.9
    rel = _rot(1, pitch) @ _rot(0, roll) @ _rot(2, yaw)
    quat = np.stack([matrix_to_quat(r0), matrix_to_quat(r0 @ rel)])[:, None, :]
    fake = SimpleNamespace(quat=quat, mass=np.array([1.0]))
    angles = plots.attitude_angles_deg(fake, np.array([True]))
    np.testing.assert_allclose(angles[0], 0.0, atol=1e-9)
    np.testing.assert_allclose(angles[1], np.degrees([pitch, roll, yaw]), atol=1e-9)


def test_bad_input_exits_2_and_writes_nothing(records, tmp_path, capsys):
    assert main(["plot", str(records.clean_path), "-o", str(tmp_path / "x.jpg")]) == 2
    assert main(["plot", str(tmp_path / "missing.npz"), "-o", str(tmp_path / "x.png")]) == 2
    err = capsys.readouterr().err
    assert "expected a file ending in .png or .svg" in err and "no such record file" in err
    assert not list(tmp_path.iterdir())


def test_record_without_separation_is_a_clear_error(tmp_path, capsys):
    scene = tmp_path / "still.toml"
    scene.write_text('[scene]\ntitle = "nothing happens"\nduration_s = 10.0\n')
    assert main(["plot", str(scene), "-o", str(tmp_path / "still.png")]) == 2
    assert "no separation" in capsys.readouterr().err
    assert not (tmp_path / "still.png").exists()
