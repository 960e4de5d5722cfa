"""`issvis export`: the run as one animated glTF whose part poses match the record (issue 8 section 4)."""

from __future__ import annotations

import numpy as np
import pytest

from issvis.core.frames import quat_angle_rad, quat_to_matrix
from issvis.core.tolerances import TOLERANCES
from issvis.pictures.export import LVLH_TO_GLTF, ROOT_NODE, export_record, export_times
from issvis.record.record import Record
from issvis.station.assets import load_station_assets
from issvis.station.gltf import gltf_accessor, read_glb

from .conftest import ROOT


@pytest.fixture(scope="module")
def record():
    return Record.load(ROOT / "tests" / "golden" / "undock.npz")


def _tracks(path):
    """{node name: (times, translations, rotations)} of the 'run' animation, read back from the file."""
    doc, binary = read_glb(path.read_bytes())
    run = next(a for a in doc["animations"] if a["name"] == "run")
    out: dict[str, dict] = {}
    for ch in run["channels"]:
        s = run["samplers"][ch["sampler"]]
        name = doc["nodes"][ch["target"]["node"]]["name"]
        out.setdefault(name, {})["t"] = gltf_accessor(doc, binary, s["input"]).astype(float)
        out[name][ch["target"]["path"]] = gltf_accessor(doc, binary, s["output"]).astype(float)
    return doc, out


def _sample(t_keys, values, t):
    """glTF LINEAR sampling (positions); for rotations the caller uses keyframe times only."""
    return np.array([np.interp(t, t_keys, values[:, k]) for k in range(values.shape[1])])


@pytest.mark.parametrize("rate_hz", [None, 0.5])
def test_export_poses_match_the_record(record, tmp_path, rate_hz):
    out = tmp_path / "run.glb"
    info = export_record(record, out, rate_hz=rate_hz, camera=False)
    assert out.is_file() and info["parts"] == len(record.names)
    doc, tracks = _tracks(out)
    times = export_times(record, rate_hz)
    assert set(tracks) == set(record.names)
    rng_idx = np.unique(np.linspace(0, len(times) - 1, 9).astype(int))
    worst_m = worst_deg = 0.0
    for b, name in enumerate(record.names):
        tr = tracks[name]
        assert np.allclose(tr["t"], times - times[0], atol=1e-4)
        for k in rng_idx:
            pos, quat = record.pose_at(float(times[k]))
            p_file = _sample(tr["t"], tr["translation"], tr["t"][k])
            q_file = tr["rotation"][k]
            worst_m = max(worst_m, float(np.linalg.norm(p_file - pos[b])))
            worst_deg = max(worst_deg, float(np.degrees(quat_angle_rad(q_file, quat[b]))))
    assert worst_m <= TOLERANCES.export_pos_m and worst_deg <= TOLERANCES.export_ang_deg, (worst_m, worst_deg)
    # the root turns LVLH into glTF's +Y up; the parts sit below it
    root = next(n for n in doc["nodes"] if n["name"] == ROOT_NODE)
    assert np.allclose(quat_to_matrix(np.array(root["rotation"])), LVLH_TO_GLTF, atol=1e-6)
    assert len(root["children"]) == len(record.names)


def test_export_moves_parts_apart(record, tmp_path):
    """A test that can fail: the departing Zarya's track is not the staying Unity's."""
    export_record(record, tmp_path / "run.glb", camera=False)
    _, tracks = _tracks(tmp_path / "run.glb")
    gap0 = np.linalg.norm(tracks["zarya"]["translation"][0] - tracks["unity"]["translation"][0])
    gap1 = np.linalg.norm(tracks["zarya"]["translation"][-1] - tracks["unity"]["translation"][-1])
    assert gap1 > gap0 + 10.0


def test_export_has_materials_textures_and_camera(record, tmp_path):
    import trimesh

    out = tmp_path / "run.glb"
    info = export_record(record, out, rate_hz=0.2)
    doc, _ = read_glb(out.read_bytes())
    assert doc["asset"]["version"] == "2.0"
    names = {m["name"] for m in doc["materials"]}
    assert {"mmod", "array", "truss", "ros_blanket"} <= names
    assert all("bufferView" in img and img["mimeType"] == "image/png" for img in doc["images"])  # self-contained
    assert [a["name"] for a in doc["animations"]] == ["run"] and doc["cameras"][0]["type"] == "perspective"
    assert info["camera"] and "keys" in info["camera"]
    scene = trimesh.load(out, file_type="glb")  # an independent reader opens it
    assert len(scene.geometry) >= len(record.names)
    assigned = load_station_assets()
    assert np.array_equal(doc["nodes"][-1]["extras"]["station_hash"], assigned.station_hash)


def test_cli_export(tmp_path, capsys):
    from issvis.cli import main

    rec = ROOT / "tests" / "golden" / "russian_only.npz"
    assert main(["export", str(rec), "-o", str(tmp_path / "r.glb"), "--rate-hz", "0.1", "--no-camera"]) == 0
    assert "wrote" in capsys.readouterr().out and (tmp_path / "r.glb").is_file()
    assert main(["export", str(rec), "-o", str(tmp_path / "r.mp4")]) == 2
    assert main(["export", str(ROOT / "scenes" / "undock.toml"), "-o", str(tmp_path / "s.glb")]) == 2
    err = capsys.readouterr().err
    assert "expected a file ending in .glb" in err and "issvis export takes a trajectory record (.npz" in err


def test_export_plays_parts_camera_and_sun_on_one_clock(record, tmp_path):
    """One animation (a player that plays one plays all: none arrives muted), every channel on the
    same key times, the parts at the video's simulated times, Earth within the camera's far limit,
    and a Sun light along the render's Sun."""
    from issvis.pictures.camera import clip_for
    from issvis.pictures.cycles import sun_light
    from issvis.record.scene_of import settings_of

    out = tmp_path / "run.glb"
    export_record(record, out)
    doc, binary = read_glb(out.read_bytes())
    (run,) = doc["animations"]
    inputs = {s["input"] for s in run["samplers"]}
    assert len(inputs) == 1
    keys = gltf_accessor(doc, binary, inputs.pop()).astype(float)
    settings, _ = settings_of(record)
    clip = clip_for(settings, record)
    assert keys[-1] == pytest.approx(clip.length_s, abs=0.11)
    _, tracks = _tracks(out)
    k = len(keys) // 2
    pos, _ = record.pose_at(clip.sim(float(keys[k])))
    b = list(record.names).index("zarya")
    assert np.linalg.norm(tracks["zarya"]["translation"][k] - pos[b]) <= TOLERANCES.export_pos_m
    assert doc["cameras"][0]["perspective"]["zfar"] > 2.0e7  # Earth's far side is ~13,000 km away
    light = doc["extensions"]["KHR_lights_punctual"]["lights"][0]
    assert light["type"] == "directional" and "KHR_lights_punctual" in doc["extensionsUsed"]
    orbit = record.meta["orbit"]
    want = np.array(sun_light(settings, clip.sim(float(keys[k])), orbit["mean_motion_rad_s"], orbit["altitude_m"])["direction"])
    q = tracks["Sun"]["rotation"][k]
    assert float(quat_to_matrix(q)[:, 2] @ want) > 0.9999  # the light's +Z (it shines along -Z) is towards the Sun
