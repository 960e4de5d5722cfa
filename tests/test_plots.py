"""Plots of a record: valid README-sized images with the content they promise."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest
from matplotlib.text import Text
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


@pytest.mark.slow
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


@pytest.mark.slow
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


@pytest.mark.slow
def test_contacts_are_marked(records, tmp_path):
    assert records.strike.events_of("contact_start"), "the 45-degree misaligned push should strike"
    intervals = plots.contact_intervals(records.strike)
    assert intervals and intervals[0][0] == records.strike.events_of("contact_start")[0]["t"]
    assert all(t1 >= t0 for t0, t1, _ in intervals)
    out = tmp_path / "strike.png"
    plots.plot_record(records.strike, out)
    assert _contact_pixels(out) > 200


@pytest.mark.slow
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


# --- layout: labels beside their lines, never crossed, nothing cut off -----------------------------
def _drawn(fig):
    fig.draw_without_rendering()
    return fig


def _data_lines(fig):
    """Every data and reference line of every panel (twin axes included), not the grid."""
    return [line for ax in fig.axes for line in ax.get_lines() if line.get_visible()]


def _labels(fig):
    """(artist, its box in pixels) of every text drawn inside a panel, and of each legend."""
    out = []
    for ax in fig.axes:
        for text in ax.texts:
            if text.get_visible() and text.get_text().strip():
                out.append((text, Text.get_window_extent(text)))  # the text alone, not an annotation's leader
        legend = ax.get_legend()
        if legend is not None:
            out.append((legend, legend.get_window_extent()))
    return out


def _crossings(fig) -> list[str]:
    """Each label a line runs through (or a marker sits in), and each pair of labels that overlap."""
    bad = []
    labels = _labels(fig)
    for artist, box in labels:
        name = artist.get_text() if hasattr(artist, "get_text") else "legend"
        for line in _data_lines(fig):
            if line.get_linestyle() in ("None", "", " ", "none"):
                pts = line.get_transform().transform(np.column_stack(line.get_data()).astype(float))
                if any(box.contains(x, y) for x, y in pts):
                    bad.append(f"marker in {name!r}")
            else:
                path = line.get_transform().transform_path(line.get_path())
                if path.intersects_bbox(box, filled=False):
                    bad.append(f"line {line.get_color()} through {name!r}")
    for i, (a, box_a) in enumerate(labels):
        for b, box_b in labels[i + 1:]:
            if box_a.overlaps(box_b):
                bad.append(f"{getattr(a, 'get_text', lambda: 'legend')()!r} overlaps {getattr(b, 'get_text', lambda: 'legend')()!r}")
    return bad


def _outside_figure(fig) -> list[str]:
    """Every text (suptitle, titles, axis labels, panel texts) whose box leaves the figure."""
    page = fig.bbox
    texts = [fig._suptitle] if fig._suptitle is not None else []
    for ax in fig.axes:
        texts += [ax.title, ax._left_title, ax._right_title, ax.xaxis.label, ax.yaxis.label, *ax.texts]
    texts = [t for t in texts if t.get_visible() and t.get_text().strip()]
    return [t.get_text() for t in texts
            if not (page.x0 - 0.5 <= t.get_window_extent().x0 and t.get_window_extent().x1 <= page.x1 + 0.5
                    and page.y0 - 0.5 <= t.get_window_extent().y0 and t.get_window_extent().y1 <= page.y1 + 0.5)]


@pytest.mark.slow
@pytest.mark.parametrize("which", ["clean", "strike"])
def test_no_line_runs_through_a_label_and_no_labels_overlap(records, which):
    fig = _drawn(plots.record_figure(getattr(records, which)))
    assert _labels(fig), "the figure should carry its labels"
    assert _crossings(fig) == []
    assert _outside_figure(fig) == []


@pytest.mark.slow
def test_each_attitude_label_sits_at_its_own_line_end(records):
    """Attitude labels in the right margin, joined to the end of a line of their own colour, in the
    order of those ends; none further from its end's height than the crowding forces."""
    fig = _drawn(plots.record_figure(records.clean))
    ax = next(a for a in fig.axes if a.get_title().startswith("Attitude of each side"))
    labels = [t for t in ax.texts if hasattr(t, "xy")]
    assert len(labels) == 6
    t_end = records.clean.t[-1]
    ends = {(round(line.get_xdata()[-1], 6), round(float(line.get_ydata()[-1]), 9), line.get_color())
            for line in ax.get_lines()}
    for label in labels:
        assert label.xy[0] == pytest.approx(t_end)
        assert (round(label.xy[0], 6), round(label.xy[1], 9), label.get_color()) in ends
        assert Text.get_window_extent(label).x0 > ax.transData.transform((t_end, 0))[0]  # beside, not on, the lines
    end_px = np.array([ax.transData.transform(label.xy)[1] for label in labels])
    text_px = np.array([0.5 * (Text.get_window_extent(label).y0 + Text.get_window_extent(label).y1) for label in labels])
    assert list(np.argsort(end_px, kind="stable")) == list(np.argsort(text_px, kind="stable"))
    height = max(Text.get_window_extent(label).height for label in labels)
    assert np.max(np.abs(text_px - end_px)) < 6 * height  # six labels: at most the whole stack away


def test_spread_moves_only_crowded_labels():
    """An isolated label stays at its line's end; a crowded pair moves apart about its own middle."""
    out = plots._spread(np.array([0.0, 10.0, 10.2]), 1.0)
    np.testing.assert_allclose(out, [0.0, 9.6, 10.6])
    out = plots._spread(np.array([5.0, 0.0, 0.1, 0.2]), 0.5, lo=0.0)  # order kept, within bounds
    assert out[0] == 5.0 and np.all(np.diff(out[1:]) >= 0.5 - 1e-12) and out[1] >= 0.0
