"""Valid-looking input that used to crash, hang or be silently wrong is refused at the boundary
with one line naming the file, the key, the value and what is allowed (issue 21, section 3)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from issvis.record.record import Record, RecordError
from issvis.scene.schema import SceneError, load_scene, scene_from_text

from .conftest import ROOT

GOLDEN = ROOT / "tests" / "golden" / "undock.npz"


# --- scenes: finite, strict numbers ------------------------------------------------------------
BAD_SCENES = {
    "nan_time": ("[[separation]]\ninterface = 'zarya/pma1'\nt_s = nan\n", "separation.0.t_s"),
    "inf_duration": ("[scene]\nduration_s = inf\n", "scene.duration_s"),
    "huge_burn_time": ("[[burn]]\npart = 'zvezda'\nt_s = 1e308\nduration_s = 1.0\n"
                       "direction_body = [1.0, 0.0, 0.0]\nthrust_n = 10.0\n", "burn.0.t_s"),
    "huge_burn_duration": ("[[burn]]\npart = 'zvezda'\nt_s = 1.0\nduration_s = 1e308\n"
                           "direction_body = [1.0, 0.0, 0.0]\nthrust_n = 10.0\n", "burn.0.duration_s"),
    "huge_direction": ("[[burn]]\npart = 'zvezda'\nt_s = 1.0\nduration_s = 1.0\n"
                       "direction_body = [1e308, 1e308, 0.0]\nthrust_n = 10.0\n", "burn.0.direction_body"),
    "nan_attitude": ("[station]\nattitude_offset_ypr_deg = [nan, 0.0, 0.0]\n", "station.attitude_offset_ypr_deg.0"),
    "huge_attitude": ("[station]\nattitude_offset_ypr_deg = [1e308, 0.0, 0.0]\n",
                      "station.attitude_offset_ypr_deg.0"),
    "inf_velocity": ("[station]\nvelocity_lvlh_mps = [inf, 0.0, 0.0]\n", "station.velocity_lvlh_mps.0"),
    "huge_velocity": ("[station]\nvelocity_lvlh_mps = [1e308, 0.0, 0.0]\n", "station.velocity_lvlh_mps.0"),
    "cmg_offset_nan": ("[control.cmg]\nattitude_offset_ypr_deg = [0.0, nan, 0.0]\n",
                       "control.cmg.attitude_offset_ypr_deg.1"),
    "denormal_dt": ("[simulation]\ndt_s = 5e-324\n", "simulation.dt_s"),
    "tiny_dt": ("[simulation]\ndt_s = 1e-300\n", "simulation.dt_s"),
    "bool_duration": ("[scene]\nduration_s = true\n", "scene.duration_s"),
    "string_dt": ("[simulation]\ndt_s = '0.1'\n", "simulation.dt_s"),
    "bool_delta_v": ("[[separation]]\ninterface = 'zarya/pma1'\nt_s = 1.0\ndelta_v_mps = true\n",
                     "separation.0.delta_v_mps"),
}


@pytest.mark.parametrize("name", sorted(BAD_SCENES))
def test_a_non_finite_huge_or_mistyped_number_is_refused_naming_the_key(name):
    text, key = BAD_SCENES[name]
    with pytest.raises(SceneError) as err:
        scene_from_text(text, source="bad.toml")
    message = str(err.value)
    assert key in message, message
    assert all(line.startswith("bad.toml: ") for line in message.splitlines()), message  # one line per error


def test_the_shortest_step_says_why():
    with pytest.raises(SceneError, match=r"simulation.dt_s = 1e-300: .*0.0001"):
        scene_from_text("[simulation]\ndt_s = 1e-300\n", source="bad.toml")


def test_a_deeply_nested_scene_is_a_scene_error_not_a_recursion_error():
    text = "x = " + "[" * 5000 + "]" * 5000 + "\n"
    with pytest.raises(SceneError, match="bad.toml: .*nest"):
        scene_from_text(text, source="bad.toml")


@pytest.mark.slow
def test_a_huge_array_is_not_echoed_whole_in_the_error():
    text = "[station]\nattitude_offset_ypr_deg = [" + ", ".join(["0.0"] * 1_000_000) + "]\n"
    with pytest.raises(SceneError) as err:
        scene_from_text(text, source="bad.toml")
    message = str(err.value)
    assert "station.attitude_offset_ypr_deg" in message
    assert len(message) < 400, len(message)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_a_fifo_as_a_scene_file_is_refused_without_reading_it(tmp_path):
    fifo = tmp_path / "scene.toml"
    os.mkfifo(fifo)
    with pytest.raises(SceneError, match="not a regular file"):
        load_scene(fifo)  # reading it would block forever: no writer


def test_the_shipped_scenes_still_load():
    for path in sorted((ROOT / "scenes").glob("*.toml")):
        load_scene(path)


def test_a_bad_number_exits_2_at_the_command_line(tmp_path):
    scene = tmp_path / "bad.toml"
    scene.write_text("[simulation]\ndt_s = 1e-300\n")
    run = subprocess.run([sys.executable, "-m", "issvis.cli", "simulate", str(scene), "-o", str(tmp_path / "r.npz")],
                         capture_output=True, text=True, timeout=120, cwd=ROOT,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert run.returncode == 2, run.stderr
    assert "simulation.dt_s" in run.stderr and "Traceback" not in run.stderr


# --- the budget before any work ------------------------------------------------------------
def test_a_ten_day_run_at_100_hz_is_refused_before_any_work():
    from issvis.physics.simulation import simulate

    scene = scene_from_text("[scene]\nduration_s = 864000.0\n[record]\nrate_hz = 100.0\ncoarse_rate_hz = 100.0\n",
                            source="big.toml")
    with pytest.raises(SceneError, match=r"big.toml: .*GB.*limit"):
        simulate(scene)


def test_a_step_count_beyond_the_budget_is_refused():
    from issvis.physics.simulation import simulate

    scene = scene_from_text("[scene]\nduration_s = 864000.0\n[simulation]\ndt_s = 0.0001\n", source="steps.toml")
    with pytest.raises(SceneError, match=r"steps.toml: .*steps.*limit"):
        simulate(scene)


def test_the_shipped_scenes_fit_the_budget():
    from issvis.physics.simulation import check_budget

    for path in sorted((ROOT / "scenes").glob("*.toml")):
        check_budget(load_scene(path))


# --- records validated on load -------------------------------------------------------------
def golden_arrays() -> dict[str, np.ndarray]:
    with np.load(GOLDEN, allow_pickle=False) as data:
        return {k: data[k] for k in data.files}


def write(path: Path, arrays: dict[str, np.ndarray]) -> Path:
    np.savez_compressed(path, **arrays)
    return path


def corrupt(arrays, key, value):
    return {**arrays, key: value}


def record_cases() -> dict[str, tuple[str, object]]:
    a = golden_arrays()
    nan_pos = a["pos"].copy()
    nan_pos[3, 2, 1] = np.nan
    inf_quat = a["quat"].copy()
    inf_quat[0, 0, 0] = np.inf
    nan_vel = a["vel"].copy()
    nan_vel[-1, -1, -1] = np.nan
    events = json.loads(str(a["events"]))
    return {
        "nan_pos": ("pos", nan_pos),
        "inf_quat": ("quat", inf_quat),
        "nan_vel": ("vel", nan_vel),
        "nan_t": ("t", np.where(np.arange(len(a["t"])) == 0, np.nan, a["t"])),
        "complex_pos": ("pos", a["pos"].astype(np.complex128)),
        "string_pos": ("pos", a["pos"].astype(str)),
        "int_names": ("names", np.arange(len(a["names"]))),
        "two_d_t": ("t", np.stack([a["t"], a["t"]])),
        "zero_parts": ("names", np.array([], dtype=str)),
        "events_not_a_list": ("events", np.array(json.dumps({"kind": "separation"}))),
        "event_not_a_dict": ("events", np.array(json.dumps([1, 2]))),
        "event_time_string": ("events", np.array(json.dumps([{**events[0], "t": "20"}]))),
        "meta_a_list": ("meta", np.array(json.dumps([1, 2, 3]))),
        "events_numeric_array": ("events", np.arange(3.0)),
        "clearance_wrong_length": ("clearance_m", a["clearance_m"][:-5]),
        "mass_nan": ("mass", np.full_like(a["mass"], np.nan)),
        "body_index_wrong_shape": ("body_index", a["body_index"][:, :3]),
    }


@pytest.mark.parametrize("name", sorted(record_cases()))
def test_a_hand_edited_record_is_refused_naming_the_file_and_key(tmp_path, name):
    key, value = record_cases()[name]
    arrays = golden_arrays()
    if name == "zero_parts":
        arrays = {**arrays, "names": value, "segment": value, "mass": np.zeros(0),
                  "pos": np.zeros((len(arrays["t"]), 0, 3)), "quat": np.zeros((len(arrays["t"]), 0, 4)),
                  "vel": np.zeros((len(arrays["t"]), 0, 3))}
        arrays = {k: v for k, v in arrays.items() if k in ("t", "names", "segment", "mass", "pos", "quat", "vel",
                                                         "events", "meta")}
    else:
        arrays = corrupt(arrays, key, value)
    path = write(tmp_path / "bad.npz", arrays)
    with pytest.raises(RecordError) as err:
        Record.load(path)
    message = str(err.value)
    assert str(path) in message and f"'{key}'" in message, message


@pytest.mark.slow
def test_a_record_that_inflates_far_beyond_its_size_is_refused_from_its_headers(tmp_path, monkeypatch):
    path = tmp_path / "bomb.npz"
    arrays = golden_arrays()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for k, v in arrays.items():
            with zf.open(f"{k}.npy", "w") as fh:
                np.lib.format.write_array(fh, v, allow_pickle=False)
        # 1 GiB of zeros in one member, streamed: deflates to ~1 MB
        with zf.open("padding.npy", "w", force_zip64=True) as fh:
            np.lib.format.write_array_header_1_0(fh, {"descr": "|u1", "fortran_order": False, "shape": (2**30,)})
            chunk = bytes(2**24)
            for _ in range(2**30 // 2**24):
                fh.write(chunk)
    assert path.stat().st_size < 8 * 2**20
    inflated: list[str] = []
    real_load = np.load
    monkeypatch.setattr(np, "load", lambda *a, **k: inflated.append("np.load") or real_load(*a, **k))
    with pytest.raises(RecordError, match=r"bomb.npz: .*'padding'.*inflate"):
        Record.load(path)
    assert not inflated, "the record was opened for reading before its size was checked"


def test_the_golden_records_still_load():
    for path in sorted((ROOT / "tests" / "golden").glob("*.npz")):
        record = Record.load(path)
        assert record.pos.shape[1] == len(record.names) > 0


# --- meshes ------------------------------------------------------------------------------------
def _mesh_scene(tmp_path, table: str, mesh: str = "box") -> str:
    import trimesh

    if mesh == "box":
        trimesh.creation.box(extents=(3.0, 3.0, 3.0)).export(tmp_path / "m.obj")
    else:  # one triangle: flat, no volume
        (tmp_path / "m.obj").write_text("v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\n")
    return f'[[part_mesh]]\npart = "zarya"\nfile = "{tmp_path / "m.obj"}"\n' + table


MESH_CASES = {
    "nan_offset": ("offset_m = [nan, 0.0, 0.0]\n", "part_mesh.0.offset_m.0"),
    "nan_rotation": ("rotation_deg = [0.0, nan, 0.0]\n", "part_mesh.0.rotation_deg.1"),
    "tiny_scale": ("scale = 1e-300\n", "part_mesh.0.scale"),
    "nan_scale_convex": ('scale = nan\ncollision = "convex"\n', "part_mesh.0.scale"),
}


@pytest.mark.parametrize("name", sorted(MESH_CASES))
def test_a_bad_mesh_placement_is_refused_at_load(tmp_path, name):
    table, key = MESH_CASES[name]
    with pytest.raises(SceneError, match=f"bad.toml: {key}"):
        scene_from_text(_mesh_scene(tmp_path, table), source="bad.toml")


def test_a_flat_mesh_to_collide_as_convex_pieces_is_refused_before_vhacd(tmp_path):
    with pytest.raises(SceneError, match=r"bad.toml: part_mesh.0.file = .*flat"):
        scene_from_text(_mesh_scene(tmp_path, 'collision = "convex"\n', mesh="triangle"), source="bad.toml")


def test_a_flat_mesh_may_still_be_drawn(tmp_path):
    scene = scene_from_text(_mesh_scene(tmp_path, "", mesh="triangle"), source="ok.toml")
    assert scene.part_mesh[0].collision == "primitives"


def test_load_part_mesh_refuses_non_finite_placement_from_a_record(tmp_path):
    """A record's scene text is not validated again by the pictures: load_part_mesh checks itself."""
    from issvis.station.assets import PartMeshError, load_part_mesh

    _mesh_scene(tmp_path, "")
    for scale, offset in ((float("nan"), (0.0, 0.0, 0.0)), (1e-300, (0.0, 0.0, 0.0)), (1.0, (0.0, float("inf"), 0.0))):
        with pytest.raises(PartMeshError):
            load_part_mesh(str(tmp_path / "m.obj"), scale, offset, (0.0, 0.0, 0.0), "zarya")


# --- physics: the contact grace window ---------------------------------------------------------
def test_a_burn_back_into_the_station_during_the_grace_window_makes_contact():
    """The pushers open the Soyuz from Rassvet; before its faces are contact_grace_m apart a burn
    drives it back. The grace window ends once the faces close again: the contact is found, the
    Soyuz does not pass through Rassvet."""
    from issvis.physics.simulation import simulate

    text = (ROOT / "scenes" / "soyuz_departure.toml").read_text()
    scene = scene_from_text(text, source="back.toml", overrides=[
        "scene.duration_s=60.0", "simulation.contact_grace_m=5.0",
        "burn.0.t_s=15.0", "burn.0.duration_s=10.0", "burn.0.direction_body=[0.0, 0.0, -1.0]"])
    record = simulate(scene, progress=False)
    kinds = [e["kind"] for e in record.events]
    assert "collisions_enabled" in kinds and "contact_start" in kinds, kinds
    enabled = record.events_of("collisions_enabled")[0]
    assert enabled["t"] < record.events_of("contact_start")[0]["t"]


def test_a_convex_decomposition_that_runs_too_long_is_stopped(tmp_path, monkeypatch):
    import issvis.physics.simulation as simulation

    monkeypatch.setattr(simulation, "VHACD_TIMEOUT_S", 0.01)
    scene = scene_from_text(_mesh_scene(tmp_path, 'collision = "convex"\n'), source="slow.toml")
    with pytest.raises(simulation.SimulationError, match=r"part_mesh.0.file = .*took over 0.01 s"):
        simulation.Simulator(scene)  # the decomposition is made with the world


def test_a_record_with_a_nan_position_exits_2_at_the_command_line(tmp_path):
    arrays = golden_arrays()
    arrays["pos"] = arrays["pos"].copy()
    arrays["pos"][5, 3, 0] = np.nan
    path = write(tmp_path / "nan.npz", arrays)
    run = subprocess.run([sys.executable, "-m", "issvis.cli", "export", str(path), "-o", str(tmp_path / "x.glb")],
                         capture_output=True, text=True, timeout=120, cwd=ROOT,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert run.returncode == 2, run.stderr
    assert "key 'pos'" in run.stderr and "finite" in run.stderr and "Traceback" not in run.stderr
    assert not (tmp_path / "x.glb").exists()


@pytest.mark.parametrize("command", ["info", "simulate", "render", "view", "export", "compare"])
def test_a_fifo_given_to_the_command_line_is_refused_without_reading_it(tmp_path, capsys, command):
    """Every command's input goes through one check: a named pipe is not a regular file, so it is
    refused at once (reading it would wait for a writer that never comes)."""
    from issvis.cli import main

    fifo = tmp_path / ("scene.toml" if command in ("info", "simulate", "render", "view") else "record.npz")
    os.mkfifo(fifo)
    args = [command, str(fifo)] + ([str(fifo)] if command == "compare" else [])
    if command in ("simulate", "export"):
        args += ["-o", str(tmp_path / ("out.npz" if command == "simulate" else "out.glb"))]
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "not a regular file" in err[0], err
