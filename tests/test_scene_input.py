"""Bad input gets a clear error: file, key path, value, what is allowed; exit 2; no output file."""

from __future__ import annotations

from pathlib import Path

import pytest

from issvis.cli import main
from issvis.scene import SceneError, load_scene

from .conftest import SCENES

DEFAULT = SCENES / "undock.toml"


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


BAD_OVERRIDES = [
    # (override, words the message must contain)
    ("separation.0.interface=zarya/pma2", ["separation.0.interface", "'zarya/pma2'", "no such interface",
                                           "zarya/pma1", "Valid interfaces"]),
    ("separation.0.delta_v_mps=-1", ["separation.0.delta_v_mps", "-1", "greater than or equal to 0"]),
    ("separation.0.delta_v_mps='fast'", ["separation.0.delta_v_mps", "'fast'", "valid number"]),
    ("separation.0.delta_vv=1", ["unknown key 'separation.0.delta_vv'", "delta_v_mps", "allowed here"]),
    ("simulation.dt_s=0", ["simulation.dt_s", "greater than 0"]),
    ("station.attitude=sideways", ["station", "attitude must be one of", "+XVV"]),
    ("orbit.altitude_m=50000", ["orbit.altitude_m", "50000", "greater than or equal to 150000"]),
    ("separation.0.t_s=99999", ["separation.0.t_s", "before scene.duration_s"]),
    ("burn=[{part='soyuz', t_s=1, duration_s=1, thrust_n=10, direction_body=[0,0,1]}]",
     ["burn.0.part", "'soyuz'", "no such part", "soyuz_ms19"]),
    ("separation.3.t_s=1", ["separation", "no item 3"]),
    ("nonsense", ["expected KEY.PATH=VALUE"]),
]


@pytest.mark.parametrize("override,words", BAD_OVERRIDES, ids=[o for o, _ in BAD_OVERRIDES])
def test_bad_scene_values_exit_2_with_a_message_naming_the_problem(tmp_path, capsys, override, words):
    out_file = tmp_path / "out.npz"
    code, out, err = run_cli(capsys, "simulate", str(DEFAULT), "-o", str(out_file), "--set", override)
    assert code == 2
    assert err.startswith("issvis: error: ")
    for word in words:
        assert word in err, (word, err)
    assert "Traceback" not in err
    assert not out_file.exists()
    assert list(tmp_path.iterdir()) == []


def test_the_file_name_is_in_every_message(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text(DEFAULT.read_text().replace("delta_v_mps = 0.1 ", "delta_v_mps = -0.1 "))
    with pytest.raises(SceneError, match=f"^{bad}: separation.0.delta_v_mps = -0.1"):
        load_scene(bad)


def test_invalid_toml_is_reported_with_its_position(tmp_path, capsys):
    bad = tmp_path / "broken.toml"
    bad.write_text("[scene\nduration_s = 3\n")
    code, _, err = run_cli(capsys, "simulate", str(bad), "-o", str(tmp_path / "x.npz"))
    assert code == 2 and "broken.toml: not valid TOML" in err and "line 1" in err


def test_missing_scene_file(capsys, tmp_path):
    code, _, err = run_cli(capsys, "simulate", str(tmp_path / "nope.toml"), "-o", str(tmp_path / "x.npz"))
    assert code == 2 and "nope.toml: no such scene file" in err


def test_unknown_table_lists_the_valid_sections(tmp_path):
    bad = tmp_path / "extra.toml"
    bad.write_text('[scene]\nduration_s = 10\n[physics]\ndt_s = 0.1\n')
    with pytest.raises(SceneError) as info:
        load_scene(bad)
    message = str(info.value)
    assert "unknown key 'physics'" in message and "simulation" in message and "separation" in message


def test_a_record_is_not_a_scene_and_a_scene_is_not_a_record(tmp_path, capsys):
    code, _, err = run_cli(capsys, "compare", str(DEFAULT), str(DEFAULT))
    assert code == 2 and "undock.toml: a scene, but issvis compare takes a trajectory record (.npz" in err


def test_output_suffix_is_checked_before_simulating(tmp_path, capsys):
    code, _, err = run_cli(capsys, "simulate", str(DEFAULT), "-o", str(tmp_path / "out.txt"))
    assert code == 2 and "expected a file ending in .npz" in err


def test_overrides_reach_the_scene_and_its_toml_text():
    scene = load_scene(DEFAULT, ["separation.0.delta_v_mps=0.2", "scene.title='swept'"])
    assert scene.separation[0].delta_v_mps == 0.2
    assert scene.scene.title == "swept"
    assert "delta_v_mps = 0.2" in scene.toml_text


def test_interfaces_can_be_named_in_either_order():
    scene = load_scene(DEFAULT, ["separation.0.interface=pma1/zarya"])
    assert scene.separation[0].interface == "pma1/zarya"


def test_scene_objects_are_frozen():
    scene = load_scene(DEFAULT)
    with pytest.raises(Exception):
        scene.scene.duration_s = 5.0  # type: ignore[misc]


@pytest.mark.parametrize("path", sorted(SCENES.glob("*.toml")), ids=lambda p: p.name)
def test_every_shipped_scene_is_valid(path: Path):
    load_scene(path)


def test_setting_an_item_of_a_list_the_scene_lacks_says_so(capsys, tmp_path):
    code, _, err = run_cli(capsys, "simulate", str(DEFAULT), "-o", str(tmp_path / "x.npz"), "--set", "burn.0.part=soyuz_ms19")
    assert code == 2 and "'burn' has no item 0" in err and "[[burn]]" in err


def test_click_usage_errors_are_one_line_too(capsys):
    code, _, err = run_cli(capsys, "simulate", "--no-such-option")
    assert code == 2 and err.startswith("issvis: error: No such option") and err.count("\n") == 1
