"""The record: format of conventions.md, atomic writes, interpolation, CSV, comparison."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from issvis.core.errors import InputError
from issvis.core.frames import quat_angle_rad
from issvis.core.tolerances import TOLERANCES as TOL
from issvis.record.compare import (
    GOLDEN_TOLERANCES,
    QUANTITIES,
    ComparisonError,
    ComparisonTolerances,
    assert_trajectories_match,
    compare_records,
    tolerance_names,
)
from issvis.record.record import Record, RecordError

from .conftest import ROOT


def test_record_has_the_keys_and_shapes_of_the_conventions(undock_record, tmp_path):
    path = tmp_path / "r.npz"
    undock_record.save(path)
    with np.load(path, allow_pickle=False) as data:
        n_t, n_b = len(data["t"]), len(data["names"])
        assert data["t"].dtype == np.float64 and data["mass"].dtype == np.float64
        assert data["pos"].shape == (n_t, n_b, 3) and data["pos"].dtype == np.float64
        assert data["quat"].shape == (n_t, n_b, 4) and data["vel"].shape == (n_t, n_b, 3)
        assert data["segment"].shape == (n_b,)
        meta = json.loads(str(data["meta"]))
        events = json.loads(str(data["events"]))
    assert {"scene", "dt_s", "orbit", "versions"} <= set(meta)
    assert {"altitude_m", "mean_motion_rad_s"} <= set(meta["orbit"])
    assert {"issvis", "pybullet", "numpy"} <= set(meta["versions"])
    assert "[[separation]]" in meta["scene"]
    assert all("t" in e and "kind" in e for e in events)
    assert {"ROS", "USOS"} <= set(undock_record.segment)


def test_save_and_load_round_trip_exactly(undock_record, tmp_path):
    path = tmp_path / "r.npz"
    undock_record.save(path)
    back = Record.load(path)
    for key in ("t", "pos", "quat", "vel", "mass"):
        assert np.array_equal(getattr(back, key), getattr(undock_record, key))
    assert list(back.names) == list(undock_record.names)
    assert back.events == undock_record.events
    assert np.array_equal(back.extra["clearance_m"], undock_record.extra["clearance_m"], equal_nan=True)
    assert [p.name for p in tmp_path.iterdir()] == ["r.npz"]  # no temporary file left


def test_a_one_orbit_record_stays_a_few_megabytes(undock_record, tmp_path):
    # the default scene is 1800 s; one orbit is 5577 s; coarse samples dominate
    path = tmp_path / "r.npz"
    undock_record.save(path)
    per_second = path.stat().st_size / undock_record.duration_s
    assert per_second * 5577 < 5e6


@pytest.fixture(scope="module")
def free_record(free_undock_record):
    """The default scene as free bodies (conftest's session fixture): the Russian segment's jet pulses
    kick its velocity between coarse samples (~1.4 mm/s each), which cubic Hermite over 20 s cannot
    follow to 1 mm."""
    return free_undock_record

def test_pose_at_returns_the_samples_and_interpolates_smoothly(free_record):
    rec = free_record
    k = len(rec.t) // 2
    pos, quat = rec.pose_at(rec.t[k])
    assert np.allclose(pos, rec.pos[k]) and np.allclose(quat, rec.quat[k])
    # midway through a doubled coarse interval (20 s), Hermite agrees with the truth to under a mm;
    # slerp to 0.01 deg (the body's own spin and the LVLH turn have different axes, so the
    # rotation between samples is not about one fixed axis): 9 mm at the tip of a 50 m array
    thinned = Record(rec.t[::2], rec.names, rec.segment, rec.mass, rec.pos[::2], rec.quat[::2], rec.vel[::2],
                     rec.events, rec.meta)
    late = np.flatnonzero(rec.t > 600)[0]
    late -= late % 2
    pos_mid, quat_mid = thinned.pose_at(rec.t[late + 1])
    assert np.abs(pos_mid - rec.pos[late + 1]).max() < 1e-3
    assert np.degrees(quat_angle_rad(quat_mid, rec.quat[late + 1])).max() < 1e-2


def test_csv_export_has_one_row_per_sample_and_part(undock_record, tmp_path):
    path = tmp_path / "r.csv"
    short = Record(undock_record.t[:3], undock_record.names, undock_record.segment, undock_record.mass,
                   undock_record.pos[:3], undock_record.quat[:3], undock_record.vel[:3], [], {})
    short.to_csv(path)
    lines = path.read_text().splitlines()
    assert lines[0].startswith("t_s,part,segment,x_m,y_m,z_m,qx,qy,qz,qw")
    assert len(lines) == 1 + 3 * len(undock_record.names)
    first = lines[1].split(",")
    assert first[1] == undock_record.names[0] and float(first[3]) == pytest.approx(undock_record.pos[0, 0, 0])


# --- comparison (issvis.record.compare, issvis compare) ----------------------------------------------
#: The record keys that hold one row per sample (a record cut short cuts these too).
TIME_SERIES = ("body_index", "clearance_m", "angular_momentum_nms", "attitude_error_deg", "cmg_momentum_nms",
               "propellant_kg")


@pytest.fixture(scope="module")
def golden_undock():
    """The default scene's golden record (300 s, with CMGs and jets): every quantity a comparison reads."""
    return Record.load(ROOT / "tests" / "golden" / "undock.npz")


def cut(record: Record, t_end: float) -> Record:
    """record up to t_end, as a shorter run would have written it."""
    keep = record.t <= t_end
    extra = {k: (v[keep] if k in TIME_SERIES else v) for k, v in record.extra.items()}
    return dataclasses.replace(record, t=record.t[keep], pos=record.pos[keep], quat=record.quat[keep],
                               vel=record.vel[keep], events=[e for e in record.events if e["t"] <= t_end], extra=extra)


def with_extra(record: Record, **arrays) -> Record:
    return dataclasses.replace(record, extra={**record.extra, **arrays})


def test_comparison_names_the_worst_part_and_time(undock_record):
    other = Record(undock_record.t, undock_record.names, undock_record.segment, undock_record.mass,
                   undock_record.pos.copy(), undock_record.quat, undock_record.vel, [], {})
    k, b = len(undock_record.t) - 5, int(np.flatnonzero(undock_record.names == "zvezda")[0])
    other.pos[k, b, 1] += 0.5
    result = compare_records(undock_record, other, pos_tol_m=0.01)
    assert not result.agree
    assert result.worst_part == "zvezda" and result.worst_t_s == undock_record.t[k]
    assert result.max_pos_error_m == pytest.approx(0.5)
    assert "zvezda" in result.report and "DIFFER" in result.report
    assert compare_records(undock_record, undock_record).agree


def test_comparison_of_different_part_lists_or_spans_never_agrees_and_hints_at_a_common_span(golden_undock):
    short = cut(golden_undock, 200.0)
    result = compare_records(golden_undock, short)
    assert not result.agree and result.span_s is None
    assert f"time spans differ: A 0..300 s, B 0..{short.t[-1]:g} s" in result.report
    assert "--overlap" in result.report and "--until" in result.report
    renamed = golden_undock.names.copy()
    renamed[renamed == "pma1"] = "pma9"
    other = compare_records(golden_undock, dataclasses.replace(golden_undock, names=renamed))
    assert not other.agree and "only in A pma1; only in B pma9" in other.report


def test_a_golden_agrees_with_a_longer_run_over_their_common_span(golden_undock, undock_record):
    """The 300 s golden against the default scene's full 1800 s run: the same physics."""
    assert not compare_records(golden_undock, undock_record).agree
    over = compare_records(golden_undock, undock_record, overlap=True)
    assert over.agree, over.report
    assert over.span_s == (0.0, 300.0) and "over 0..300 s (A 0..300 s, B 0..1800 s)" in over.report
    until = compare_records(golden_undock, undock_record, until_s=150.0)
    assert until.agree and until.span_s == (0.0, 150.0)


LOOSE = ComparisonTolerances(pos_tol_m=0.5, ang_tol_deg=5.0, vel_tol_mps=0.1, event_time_tol_s=1.0, clearance_tol_m=0.5,
                             cmg_momentum_tol_nms=1e4, propellant_tol_kg=5.0)  # room for interpolating between samples


def every_other_sample(record: Record) -> Record:
    """record with every other sample (and its last), as a run sampling half as often would have written it."""
    keep = np.zeros(len(record.t), bool)
    keep[::2] = keep[-1] = True
    extra = {k: (v[keep] if k in TIME_SERIES else v) for k, v in record.extra.items()}
    return dataclasses.replace(record, t=record.t[keep], pos=record.pos[keep], quat=record.quat[keep],
                               vel=record.vel[keep], extra=extra)


def test_records_sampled_differently_are_compared_at_every_sample_of_either_and_a_note_says_so(golden_undock):
    # without the clearance: interpolated across the instant of parting, it is whole on one side and apart on the other
    golden_undock = dataclasses.replace(golden_undock, extra={k: v for k, v in golden_undock.extra.items()
                                                              if k != "clearance_m"})
    sparse = every_other_sample(golden_undock)
    result = compare_records(golden_undock, sparse, LOOSE)
    assert result.agree, result.report
    n = len(golden_undock.t)
    assert f"at {n} instants" in result.report.splitlines()[0]
    assert any(f"(A {n}, B {len(sparse.t)}, {len(sparse.t)} of them shared)" in note
               and f"B at {n - len(sparse.t)}" in note for note in result.notes), result.notes
    # a difference at a sample only A has is found, not left out with that sample
    k = 2 * (n // 4) + 1
    pos = golden_undock.pos.copy()
    pos[k, golden_undock.names == "zvezda"] += np.array([0.0, 2.0, 0.0])
    planted = compare_records(dataclasses.replace(golden_undock, pos=pos), sparse, LOOSE)
    assert not planted.agree and planted.first_divergence is not None
    assert planted.first_divergence.t_s == golden_undock.t[k] and planted.first_divergence.part == "zvezda"
    assert not compare_records(golden_undock, golden_undock).notes  # one sampling: nothing interpolated, no note


def test_the_header_gives_both_event_counts_when_they_differ(golden_undock):
    n = len(golden_undock.events)
    fewer = compare_records(golden_undock, dataclasses.replace(golden_undock, events=golden_undock.events[:-1]))
    assert f"{n} events in A, {n - 1} in B" in fewer.report.splitlines()[0]
    assert compare_records(golden_undock, golden_undock).report.splitlines()[0].endswith(f", {n} events")


def test_an_agreeing_report_points_at_a_pose_only_when_one_differs(golden_undock):
    same = compare_records(golden_undock, golden_undock).report
    assert "worst against" not in same and "closest to" not in same and "the same at every instant" in same
    pos = golden_undock.pos.copy()
    pos[-1, golden_undock.names == "zvezda"] += np.array([0.0, 0.004, 0.0])
    near = compare_records(golden_undock, dataclasses.replace(golden_undock, pos=pos)).report
    assert "closest to its tolerance: part 'zvezda' at t = 300.000 s, position off by 0.004 m" in near


def test_a_span_outside_a_record_is_bad_input(golden_undock):
    with pytest.raises(ComparisonError, match=r"^until_s = 400 s: outside both spans \(A 0\.\.300 s, B 0\.\.300 s\)$"):
        compare_records(golden_undock, golden_undock, until_s=400.0)
    assert issubclass(ComparisonError, InputError)  # the command line: one line, exit 2


def test_a_planted_offset_is_found_when_it_starts_in_its_group_and_by_how_much(golden_undock):
    pos = golden_undock.pos.copy()
    soyuz = golden_undock.names == "soyuz_ms19"
    late = golden_undock.t >= 200.0
    pos[np.ix_(late, soyuz)] += np.array([0.02, 0.0, 0.0])
    result = compare_records(golden_undock, dataclasses.replace(golden_undock, pos=pos))
    first = result.first_divergence
    assert (first.t_s, first.group, first.part, first.quantity) == (golden_undock.t[late][0], "Soyuz MS-19",
                                                                     "soyuz_ms19", "pos_tol_m")
    assert first.difference == pytest.approx(0.02) and first.tolerance == 0.01
    assert [g.name for g in result.groups if not g.agree] == ["Soyuz MS-19"]
    # within a larger tolerance, by name, the same records agree
    assert compare_records(golden_undock, dataclasses.replace(golden_undock, pos=pos), pos_tol_m=0.03).agree


def test_velocities_are_compared(golden_undock):
    vel = golden_undock.vel.copy()
    vel[-1, golden_undock.names == "zvezda"] += np.array([0.0, 2e-4, 0.0])
    result = compare_records(golden_undock, dataclasses.replace(golden_undock, vel=vel))
    assert not result.agree and result.max_pos_error_m == 0.0
    assert (result.first_divergence.quantity, result.first_divergence.part) == ("vel_tol_mps", "zvezda")
    assert result.first_divergence.difference == pytest.approx(2e-4)


def test_events_are_matched_in_order_by_kind_and_time(golden_undock):
    events = golden_undock.events
    burn = next(i for i, e in enumerate(events) if e["kind"] == "jet_burn_start")
    late = [dict(e, t=e["t"] + 0.5) if i == burn else e for i, e in enumerate(events)]
    result = compare_records(golden_undock, dataclasses.replace(golden_undock, events=late))
    assert not result.agree and result.max_pos_error_m == 0.0
    first = result.group("events").first
    assert (first.t_s, first.difference) == (events[burn]["t"], pytest.approx(0.5))
    assert "jet_burn_start" in first.detail
    assert compare_records(golden_undock, dataclasses.replace(golden_undock, events=late), event_time_tol_s=1.0).agree

    missing = compare_records(golden_undock, dataclasses.replace(golden_undock, events=events[:-1]))
    assert not missing.agree and missing.first_divergence.t_s == events[-1]["t"]
    assert f"{events[-1]['kind']} at t = {events[-1]['t']:g} s, only in A" in missing.report
    swapped = [*events[:burn], {**events[burn], "kind": "burn_start"}, *events[burn + 1:]]
    kind = compare_records(golden_undock, dataclasses.replace(golden_undock, events=swapped))
    assert "is jet_burn_start at t = 60 s in A, burn_start at t = 60 s in B" in kind.report


def test_clearance_cmg_momentum_and_propellant_are_compared_each_with_its_tolerance(golden_undock):
    t = golden_undock.t
    clearance = golden_undock.extra["clearance_m"].copy()
    clearance[t >= 100.0] += 0.02
    result = compare_records(golden_undock, with_extra(golden_undock, clearance_m=clearance))
    assert (result.first_divergence.quantity, result.first_divergence.group) == ("clearance_tol_m", "system")
    assert result.first_divergence.t_s == t[t >= 100.0][0]
    whole = golden_undock.extra["clearance_m"].copy()
    whole[:] = np.nan  # the station never came apart
    apart = compare_records(golden_undock, with_extra(golden_undock, clearance_m=whole)).group("system").first
    assert "the station is whole in B and apart in A" in apart.detail

    cmg = golden_undock.extra["cmg_momentum_nms"].copy()
    cmg[t >= 50.0] += np.array([0.0, 0.0, 11.0])
    result = compare_records(golden_undock, with_extra(golden_undock, cmg_momentum_nms=cmg))
    assert (result.first_divergence.quantity, result.first_divergence.t_s) == ("cmg_momentum_tol_nms", t[t >= 50.0][0])
    assert compare_records(golden_undock, with_extra(golden_undock, cmg_momentum_nms=cmg), cmg_momentum_tol_nms=12).agree

    propellant = golden_undock.extra["propellant_kg"].copy()
    zvezda = list(golden_undock.extra["propellant_parts"]).index("zvezda")
    propellant[-1, zvezda] += 0.02
    first = compare_records(golden_undock, with_extra(golden_undock, propellant_kg=propellant)).first_divergence
    assert (first.quantity, first.part, first.group, first.t_s) == ("propellant_tol_kg", "zvezda", "ROS", t[-1])


def test_a_quantity_only_one_record_has_is_named_not_compared(golden_undock):
    lacking = dataclasses.replace(golden_undock, extra={k: v for k, v in golden_undock.extra.items()
                                                        if k != "cmg_momentum_nms"})
    result = compare_records(golden_undock, lacking)
    assert result.agree
    assert "note: cmg_momentum_nms not compared: only record A has it" in result.report


def test_the_comparison_as_json_says_what_the_words_say(golden_undock):
    events = golden_undock.events[:-1]  # an event only A has: a difference without a size
    pos = golden_undock.pos.copy()
    pos[golden_undock.t >= 120.0] += 0.05
    result = compare_records(golden_undock, dataclasses.replace(golden_undock, pos=pos, events=events))
    data = json.loads(result.to_json())  # strict JSON: no Infinity
    assert data["agree"] is False and data["span_s"] == [0.0, 300.0]
    first = data["first_divergence"]  # the missing event comes first
    assert (first["t_s"], first["quantity"], first["group"]) == (golden_undock.events[-1]["t"], "event time", "events")
    assert first["difference"] is None and "only in A" in first["detail"]
    groups = {g["group"]: g for g in data["groups"]}
    usos = groups["USOS"]["first_divergence"]
    assert (usos["t_s"], usos["quantity"], usos["unit"]) == (120.0, "position", "m")
    assert usos["difference"] == pytest.approx(0.05 * 3**0.5) == groups["USOS"]["largest"]["pos_m"]
    assert f"first divergence at t = {first['t_s']:.3f} s in events" in data["report"]
    assert data["tolerances"]["pos_tol_m"] == 0.01 and data["report"] == result.report


def test_tolerances_are_named_with_units_checked_and_the_golden_ones_are_the_projects():
    assert set(tolerance_names()) == set(QUANTITIES)
    assert all(name.rsplit("_", 1)[1] in ("m", "deg", "mps", "s", "nms", "kg") for name in tolerance_names())
    with pytest.raises(ComparisonError, match="pos_tol_m = -1"):
        ComparisonTolerances(pos_tol_m=-1)
    with pytest.raises(TypeError, match="unknown tolerance.*pos_m"):
        ComparisonTolerances().with_overrides(pos_m=1.0)
    for name in tolerance_names():
        assert getattr(GOLDEN_TOLERANCES, name) == getattr(TOL, "golden_" + name.replace("_tol", ""))
        assert getattr(GOLDEN_TOLERANCES, name) < getattr(ComparisonTolerances(), name)


def test_assert_trajectories_match_takes_paths_and_the_new_tolerances(golden_undock, tmp_path):
    path = ROOT / "tests" / "golden" / "undock.npz"
    pos = golden_undock.pos.copy()
    pos[-1] += 1e-3
    assert assert_trajectories_match(path, golden_undock, GOLDEN_TOLERANCES).agree
    with pytest.raises(AssertionError, match="first divergence at t = 300.000 s"):
        assert_trajectories_match(path, dataclasses.replace(golden_undock, pos=pos), GOLDEN_TOLERANCES)
    assert assert_trajectories_match(path, dataclasses.replace(golden_undock, pos=pos), pos_tol_m=0.01).agree


def test_compare_command_options_json_span_and_exit_codes(undock_record, tmp_path, capsys):
    from issvis.cli import COMPARE_TOLERANCES, main

    assert COMPARE_TOLERANCES == tuple(tolerance_names())  # one option per tolerance
    golden, short, planted = tmp_path / "golden.npz", tmp_path / "short.npz", tmp_path / "planted.npz"
    base = cut(undock_record, 300.0)  # this station's (the command refuses a record of another)
    base.save(golden)
    cut(base, 200.0).save(short)
    pos = base.pos.copy()
    pos[np.ix_(base.t >= 120.0, base.segment == "ROS")] += np.array([0.0, 0.0, 0.05])
    dataclasses.replace(base, pos=pos).save(planted)
    capsys.readouterr()

    assert main(["compare", str(golden), str(planted), "--json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["first_divergence"]["group"] == "ROS" and data["first_divergence"]["t_s"] == 120.0
    assert main(["compare", str(golden), str(planted), "--pos-tol-m", "0.06"]) == 0
    assert "records agree" in capsys.readouterr().out
    assert main(["compare", str(golden), str(short)]) == 1
    assert "time spans differ" in capsys.readouterr().out
    assert main(["compare", str(golden), str(short), "--overlap"]) == 0
    assert main(["compare", str(golden), str(short), "--until", "150"]) == 0
    capsys.readouterr()
    assert main(["compare", str(golden), str(short), "--until", "250"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0] == ("issvis: error: --until 250 s: outside record B's span "
                                        f"(A 0..{base.t[-1]:g} s, B 0..{cut(base, 200.0).t[-1]:g} s)")
    assert main(["compare", str(golden), str(planted), "--event-time-tol-s", "0"]) == 2  # must be > 0


def test_loading_a_damaged_record_is_a_clear_error(tmp_path, undock_record):
    path = tmp_path / "r.npz"
    np.savez(path, t=np.arange(3.0))
    with pytest.raises(RecordError, match="missing key"):
        Record.load(path)
    text = tmp_path / "notes.npz"
    text.write_text("hello")
    with pytest.raises(RecordError, match="not a trajectory record"):
        Record.load(text)


# --- named vocabularies and the one atomic writer (issue 11) ----------------------------------------
def test_event_kinds_are_a_vocabulary_checked_on_construction_and_load(undock_record, tmp_path):
    from dataclasses import replace

    from issvis.record.record import EVENT_KINDS

    assert {e["kind"] for e in undock_record.events} <= set(EVENT_KINDS)
    odd = [*undock_record.events, {"t": 1.0, "kind": "explosion"}]
    with pytest.raises(ValueError, match="unknown event kind 'explosion'; valid kinds: separation"):
        replace(undock_record, events=odd)
    with pytest.raises(ValueError, match="unknown event kind 'seperation'"):
        undock_record.events_of("seperation")  # a misspelt kind finds nothing silently otherwise
    # a file with such an event (another version's record) is refused by name
    path = tmp_path / "odd.npz"
    undock_record.save(path)
    with np.load(path) as data:
        arrays = {k: data[k] for k in data.files}
    arrays["events"] = np.array(json.dumps(odd))
    np.savez(path, **arrays)
    with pytest.raises(RecordError, match=f"{path}: key 'events': unknown event kind 'explosion'"):
        Record.load(path)


def test_a_failed_write_leaves_neither_file_nor_temporary(tmp_path):
    from issvis.core.files import atomic_path, write_text_atomic

    target = tmp_path / "sub" / "out.csv"
    write_text_atomic(target, "old\n")
    with pytest.raises(RuntimeError, match="disk full"), atomic_path(target) as tmp:
        assert tmp.parent == target.parent and tmp.suffix == ".csv" and tmp.name.startswith(".")
        tmp.write_text("half")
        raise RuntimeError("disk full")
    assert target.read_text() == "old\n", "the old file stays whole"
    assert sorted(p.name for p in target.parent.iterdir()) == ["out.csv"], "no temporary left behind"


def test_the_did_you_mean_helper_and_the_validation_formatter():
    from pydantic import BaseModel, ConfigDict, Field, ValidationError

    from issvis.core.errors import did_you_mean, format_validation_error, unknown_name

    assert did_you_mean("zarja", ["zarya", "zvezda", "unity"]) == " Did you mean 'zarya'?"
    assert did_you_mean("qqq", ["zarya"]) == ""
    assert unknown_name("burn.0.part", "part", "soyuz", ["soyuz_ms19", "zarya"]) == (
        "burn.0.part = 'soyuz': no such part. Did you mean 'soyuz_ms19'? Valid parts: soyuz_ms19, zarya")

    class Inner(BaseModel):
        model_config = ConfigDict(extra="forbid")
        fps: int = Field(30, gt=0)

    class Outer(BaseModel):
        model_config = ConfigDict(extra="forbid")
        video: Inner = Inner()

    with pytest.raises(ValidationError) as info:
        Outer.model_validate({"video": {"fps": 0, "fsp": 3}})
    text = format_validation_error(info.value, "s.toml", allowed=lambda loc: ["fps"])
    assert text.splitlines() == ["s.toml: video.fps = 0: Input should be greater than 0",
                                 "s.toml: unknown key 'video.fsp' (did you mean 'fps'?); allowed here: fps"]
    with pytest.raises(ValidationError) as info:
        Inner.model_validate({"fps": -1})
    assert format_validation_error(info.value, "s.toml", names={"fps": "--fps"}) == (
        "--fps = -1: Input should be greater than 0")


def test_the_shared_rotation_and_centre_of_mass_helpers():
    from issvis.core.frames import centre_of_mass, rotate_about, rotation_from_z, transform_matrix

    for d in ([0, 0, 1], [0, 0, -2], [1, 2, 3], [-1, 0, 0.001]):
        r = rotation_from_z(np.array(d, float))
        np.testing.assert_allclose(r @ [0, 0, 1], np.array(d) / np.linalg.norm(d), atol=1e-12)
        np.testing.assert_allclose(r @ r.T, np.eye(3), atol=1e-12)
        assert np.linalg.det(r) == pytest.approx(1.0)
    np.testing.assert_allclose(rotate_about(np.array([1.0, 0, 0]), np.array([0, 0, 2.0]), np.pi / 2), [0, 1, 0],
                               atol=1e-12)
    m = transform_matrix(rotation_from_z(np.array([1.0, 0, 0])), np.array([1.0, 2, 3]), 2.0)
    np.testing.assert_allclose(m @ [0, 0, 1, 1], [3, 2, 3, 1], atol=1e-12)
    pos = np.array([[[0.0, 0, 0], [10, 0, 0], [0, 4, 0]]] * 2)  # (T=2, B=3, 3)
    mass = np.array([1.0, 3.0, 1000.0])
    np.testing.assert_allclose(centre_of_mass(pos, mass, np.array([True, True, False])), [[7.5, 0, 0]] * 2)
    np.testing.assert_allclose(centre_of_mass(pos[0], mass), [30 / 1004, 4000 / 1004, 0])


def test_records_carry_the_interface_faces_and_labels_the_pictures_draw():
    """The pictures read the opened interface's faces and the parts' labels from the record, not from
    today's catalogue: a record keeps meaning what it meant when it was simulated."""
    import dataclasses

    from issvis.build.mass import station_mass_properties
    from issvis.pictures.camera import PointResolver
    from issvis.pictures.video import default_subtitle
    from issvis.record.record import interface_faces
    from issvis.station.catalogue import build_station

    record = Record.load(ROOT / "tests" / "golden" / "undock.npz")
    station = build_station()
    itf, props = station.interface("zarya/pma1"), station_mass_properties(station)
    ci, pc, pi, pp = interface_faces(record)
    assert [str(record.names[ci]), str(record.names[pi])] == ["zarya", "pma1"]
    assert np.allclose(pc, np.asarray(itf.point_m) - props["zarya"].com_m, atol=1e-12)
    assert np.allclose(pp, np.asarray(itf.point_m) - props["pma1"].com_m, atol=1e-12)
    assert record.meta["part_labels"]["zarya"] == "Zarya (FGB)"

    meta = json.loads(json.dumps(record.meta))
    meta["interfaces"]["zarya/pma1"]["child_offset_m"][0] += 1.0
    meta["part_labels"]["zarya"] = "Zarya (renamed)"
    edited = dataclasses.replace(record, meta=meta)
    assert np.allclose(PointResolver(edited).interface[1], pc + [1.0, 0.0, 0.0])
    assert default_subtitle(edited).startswith("Zarya/PMA-1 opens")  # the short label drops the parenthesis
    meta["part_labels"]["zarya"] = "Salyut"
    assert default_subtitle(dataclasses.replace(record, meta=meta)).startswith("Salyut/PMA-1 opens")


def test_a_record_without_interfaces_or_labels_is_drawn_with_the_station_assets():
    """A record of an older issvis (no meta 'interfaces' or 'part_labels') is drawn on this station,
    as check_record_station says: the faces and labels come from the assets, equal to what a new
    record carries."""
    import dataclasses

    from issvis.pictures.camera import PointResolver
    from issvis.record.scene_of import interface_faces_of, part_labels_of

    record = Record.load(ROOT / "tests" / "golden" / "undock.npz")
    older = dataclasses.replace(record, meta={k: v for k, v in record.meta.items()
                                              if k not in ("interfaces", "part_labels")})
    ci, pc, pi, pp = interface_faces_of(record)
    oci, opc, opi, opp = interface_faces_of(older)
    assert (oci, opi) == (ci, pi)
    assert np.allclose(opc, pc, atol=1e-12) and np.allclose(opp, pp, atol=1e-12)
    assert np.allclose(PointResolver(older).interface[3], pp, atol=1e-12)
    assert part_labels_of(older) == part_labels_of(record) == part_labels_of()
