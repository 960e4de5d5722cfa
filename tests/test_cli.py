"""The command line, in-process: happy paths and exit codes (bad input: test_scene_input.py)."""

from __future__ import annotations

import json

from issvis.cli import main
from issvis.trajectory import Record

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


def test_assets_regeneration_changes_nothing(in_repo, capsys):
    assert main(["assets"]) == 0
    assert "0 file(s) changed" in capsys.readouterr().out


def test_help_of_every_subcommand(capsys):
    for command in ("simulate", "compare", "assets", "info"):
        assert main([command, "--help"]) == 0
        assert "Usage:" in capsys.readouterr().out
