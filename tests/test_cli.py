"""The command line, in-process: happy paths and exit codes (bad input: test_scene_input.py)."""

from __future__ import annotations

import json

import pytest

from issvis.cli import main
from issvis.record.record import Record

from .conftest import SCENES


def test_simulate_writes_a_record_and_csv_and_compare_agrees_with_itself(tmp_path, capsys):
    out, csv = tmp_path / "a.npz", tmp_path / "a.csv"
    code = main(["simulate", str(SCENES / "undock.toml"), "-o", str(out), "--csv", str(csv),
                 "--set", "scene.duration_s=60"])
    stdout = capsys.readouterr().out
    assert code == 0 and out.exists() and csv.exists()
    assert "separation" in stdout and "zarya/pma1" in stdout
    assert Record.load(out).duration_s == 60.0
    assert main(["compare", str(out), str(out)]) == 0
    assert "agree" in capsys.readouterr().out


def test_compare_exits_1_and_reports_where_records_differ(tmp_path, capsys):
    a, b = tmp_path / "a.npz", tmp_path / "b.npz"
    assert main(["simulate", str(SCENES / "undock.toml"), "-o", str(a), "--set", "scene.duration_s=60"]) == 0
    assert main(["simulate", str(SCENES / "undock.toml"), "-o", str(b), "--set", "scene.duration_s=60",
                 "--set", "separation.0.delta_v_mps=0.2"]) == 0
    capsys.readouterr()
    assert main(["compare", str(a), str(b), "--pos-tol-m", "0.01"]) == 1
    report = capsys.readouterr().out
    assert "DIFFER" in report and "worst against its tolerance: part" in report and "t = 60.000 s" in report


def test_info_lists_parts_masses_and_the_split(capsys):
    assert main(["info", str(SCENES / "undock.toml"), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert round(data["total_mass_kg"]) == 419_725
    assert data["separations"][0]["interface"] == "zarya/pma1"
    assert round(data["separations"][0]["child_side_mass_kg"]) == 93_111
    assert len(data["parts"]) == 38 and len(data["interfaces"]) == 37
    assert main(["info", str(SCENES / "undock.toml")]) == 0
    assert "zarya/pma1" in capsys.readouterr().out


@pytest.mark.slow
def test_assets_regeneration_changes_nothing(generator_with_session_assets, tmp_path, capsys):
    """`issvis assets -o` over a copy of the committed assets/ changes no file of it (the checkout's
    assets/ is never written); over a copy with one file damaged and a stale one added, it names both."""
    import shutil

    from .conftest import ROOT

    copy = tmp_path / "assets"
    shutil.copytree(ROOT / "assets", copy)
    assert main(["assets", "-o", str(copy)]) == 0
    out = capsys.readouterr().out
    assert f"{copy}: 0 file(s) changed" in out, out
    assert "station " in out and "looks " in out
    (copy / "zvezda.glb").write_bytes(b"not the generator's")
    (copy / "mir.glb").write_bytes(b"a part the catalogue lacks")
    assert main(["assets", "-o", str(copy)]) == 0
    out = capsys.readouterr().out
    assert f"{copy}: 2 file(s) changed" in out and "zvezda.glb" in out and "mir.glb" in out, out
    assert not (copy / "mir.glb").exists()
    assert (copy / "zvezda.glb").read_bytes() == generator_with_session_assets["zvezda.glb"]


def test_help_of_every_command(capsys):
    from issvis.cli import cli

    assert set(cli.commands) >= {"simulate", "compare", "assets", "info", "plot", "sweep", "decay", "view", "render",
                                 "scenes"}
    for command in cli.commands:
        assert main([command, "--help"]) == 0, command
        out = capsys.readouterr().out
        assert out.startswith(f"Usage: issvis {command}"), (command, out)
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert all(c in out for c in cli.commands)


def test_python_dash_m_issvis_is_the_same_command_line():
    import subprocess
    import sys

    ok = subprocess.run([sys.executable, "-m", "issvis", "scenes"], capture_output=True, text=True)
    assert ok.returncode == 0 and "undock" in ok.stdout, ok.stderr
    bad = subprocess.run([sys.executable, "-m", "issvis", "info", "no-such-scene.toml"], capture_output=True, text=True)
    assert bad.returncode == 2 and bad.stderr.startswith("issvis: error: no-such-scene.toml"), bad.stderr
    assert "Traceback" not in bad.stderr


def test_scenes_lists_the_shipped_scenes_with_their_titles(capsys):
    import tomllib

    assert main(["scenes"]) == 0
    out = capsys.readouterr().out
    for path in SCENES.glob("*.toml"):
        title = tomllib.loads(path.read_text())["scene"]["title"]
        assert f"{path.stem}  " in out and title in out, (path, out)
    assert "undock" in out and "(default)" in out


def test_commands_without_a_scene_use_the_shipped_default_from_any_folder(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["simulate", "--set", "scene.duration_s=30"]) == 0
    assert (tmp_path / "renders" / "undock.npz").exists()
    assert main(["info", "soyuz_departure", "--json"]) == 0  # a shipped scene by its name
    capsys.readouterr()
    assert main(["simulate", "scenes/russian_only.toml", "-o", "r.npz", "--set", "scene.duration_s=30"]) == 0
    assert Record.load(tmp_path / "r.npz").duration_s == 30.0


def test_a_missing_scene_lists_the_shipped_ones(tmp_path, capsys):
    assert main(["simulate", str(tmp_path / "undok.toml")]) == 2
    err = capsys.readouterr().err
    assert "undok.toml: no such scene file; shipped scenes: cmg_saturation, misaligned_contact" in err and "undock" in err


@pytest.mark.slow
def test_a_plain_pip_install_carries_scenes_and_assets(tmp_path):
    """Build the wheel as pip does (offline), unpack it as an install would, and run from elsewhere."""
    import os
    import shutil
    import subprocess
    import sys
    import zipfile

    from .conftest import ROOT

    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    for name in ("issvis", "scenes", "assets"):
        shutil.copytree(ROOT / name, src / name, ignore=shutil.ignore_patterns("__pycache__"))
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                            "-w", str(tmp_path / "dist"), str(src)], capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stderr[-2000:]
    assert "would be ignored" not in built.stdout + built.stderr  # every data folder is declared (pyproject.toml)
    (wheel,) = (tmp_path / "dist").glob("issvis-*.whl")
    site = tmp_path / "site"
    installed = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "-q",
                                "--target", str(site), str(wheel)], capture_output=True, text=True, timeout=300)
    assert installed.returncode == 0, installed.stderr[-2000:]
    names = zipfile.ZipFile(wheel).namelist()
    assert {f"issvis/scenes/{p.name}" for p in SCENES.glob("*.toml")} <= set(names)
    assert {f"issvis/station_assets/{p.relative_to(ROOT / 'assets').as_posix()}"
            for p in (ROOT / "assets").rglob("*") if p.is_file()} <= set(names)  # textures/ too
    static = ROOT / "issvis" / "pictures" / "webgl" / "static"  # the web page and its vendored three.js
    assert {f"issvis/pictures/webgl/static/{p.relative_to(static).as_posix()}"
            for p in static.rglob("*") if p.is_file()} <= set(names)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {**os.environ, "PYTHONPATH": str(site)}
    check = (f"import issvis, issvis.station.assets; assert issvis.__file__.startswith({str(site)!r}), issvis.__file__; "
             f"d = issvis.station.assets.default_assets_dir(); assert (d / 'manifest.json').is_file() and "
             f"str(d).startswith({str(site)!r}), d")
    done = subprocess.run([sys.executable, "-c", check], cwd=elsewhere, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    script = site / "bin" / "issvis"  # the console script pip wrote
    done = subprocess.run([str(script), "scenes"], cwd=elsewhere, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "soyuz_departure" in done.stdout and str(site) in done.stdout
    done = subprocess.run([str(script), "simulate", "--set", "scene.duration_s=30"], cwd=elsewhere, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "wrote renders/undock.npz" in done.stdout and (elsewhere / "renders" / "undock.npz").exists()
