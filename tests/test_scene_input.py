"""Bad input gets a clear error: file, key path, value, what is allowed; exit 2; no output file."""

from __future__ import annotations

from pathlib import Path

import pytest

from issvis.cli import main
from issvis.scene.schema import SceneError, load_scene

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
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="frozen"):
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


# --- one error path: every case a new user met, one line and exit 2 (issue 11) ----------------------
@pytest.fixture(scope="module")
def short_record_path(tmp_path_factory):
    """A 40 s record of the default scene (the push at t = 20 s), written once."""
    from issvis.physics.simulation import simulate

    path = tmp_path_factory.mktemp("records") / "short.npz"
    simulate(load_scene(DEFAULT, ["scene.duration_s=40"]), progress=False).save(path)
    return path


def rewritten(record_path: Path, out: Path, **changes) -> Path:
    """A copy of a record with some fields replaced (extra=... replaces the extra keys)."""
    from dataclasses import replace

    from issvis.record.record import Record

    replace(Record.load(record_path), **changes).save(out)
    return out


def one_line_error(capsys, *argv: str) -> str:
    """Run the CLI; assert exit 2 and one line on stderr without a traceback; return the line."""
    code, _, err = run_cli(capsys, *argv)
    assert code == 2, err
    assert err.startswith("issvis: error: ") and err.count("\n") == 1 and "Traceback" not in err, err
    return err


def test_a_record_of_parts_this_station_lacks_is_refused_by_the_pictures(short_record_path, tmp_path, capsys):
    from issvis.record.record import Record

    names = Record.load(short_record_path).names.copy()
    names[names == "pma1"] = "pma9"
    odd = rewritten(short_record_path, tmp_path / "odd.npz", names=names)
    for argv in (["render", str(odd), "--still", "1", "-o", str(tmp_path / "x.png")], ["view", str(odd)]):
        err = one_line_error(capsys, *argv)
        assert f"{odd}: lists part(s) pma9" in err and "station does not have" in err
    assert not (tmp_path / "x.png").exists()


def test_compare_names_parts_plainly(short_record_path, tmp_path, capsys):
    from issvis.record.record import Record

    names = Record.load(short_record_path).names.copy()
    names[names == "pma1"] = "pma9"
    odd = rewritten(short_record_path, tmp_path / "odd.npz", names=names)
    code, out, _ = run_cli(capsys, "compare", str(short_record_path), str(odd))
    assert code == 1
    assert "only in A pma1; only in B pma9" in out and "np.str_" not in out


def test_a_record_is_not_a_scene_for_sweep(short_record_path, tmp_path, capsys):
    err = one_line_error(capsys, "sweep", str(short_record_path), "--vary", "separation.0.delta_v_mps=0.1,0.2",
                         "-o", str(tmp_path / "t.csv"))
    assert f"{short_record_path}: a trajectory record, but issvis sweep takes a scene (.toml)" in err


@pytest.mark.parametrize("command", ["plot", "view", "render", "decay"])
def test_a_file_of_another_kind_says_which_kinds_the_command_takes(tmp_path, capsys, command):
    table = tmp_path / "table.csv"
    table.write_text("a,b\n1,2\n")
    err = one_line_error(capsys, command, str(table))
    assert f"{table}: a .csv file, but issvis {command} takes" in err
    assert "a scene (.toml)" in err and "a trajectory record (.npz" in err


def test_a_directory_is_not_a_scene(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    err = one_line_error(capsys, "simulate", ".")
    assert ".: is a directory; issvis simulate takes a scene (.toml)" in err


def test_a_range_written_with_a_dash_says_the_form(tmp_path, capsys):
    err = one_line_error(capsys, "sweep", str(DEFAULT), "--vary", "separation.0.delta_v_mps=0.05-0.3",
                         "-o", str(tmp_path / "t.csv"))
    assert "a range is written START:STOP:N" in err and "separation.0.delta_v_mps=0.05:0.3:6" in err


def test_an_old_record_without_clearance_says_what_is_missing(short_record_path, tmp_path, capsys):
    from issvis.record.record import Record

    extra = {k: v for k, v in Record.load(short_record_path).extra.items() if k != "clearance_m"}
    old = rewritten(short_record_path, tmp_path / "old.npz", extra=extra)
    err = one_line_error(capsys, "plot", str(old), "-o", str(tmp_path / "p.png"))
    assert f"{old}: has no key 'clearance_m'" in err and "re-simulate" in err
    assert not (tmp_path / "p.png").exists()


def test_decay_of_a_record_uses_the_scene_stored_in_it(short_record_path, tmp_path, capsys):
    code, out, err = run_cli(capsys, "decay", str(short_record_path), "--atmosphere", "exponential",
                             "-o", str(tmp_path / "d.png"))
    assert code == 0, err
    assert (tmp_path / "d.png").exists() and "days to 120 km" in out


def test_a_simulation_error_is_one_line_naming_the_scene_and_exit_2(monkeypatch, tmp_path, capsys):
    import issvis.physics.simulation

    def blow_up(scene, progress=None):
        raise issvis.physics.simulation.SimulationError("non-finite state at t = 3.000 s (time step 0.5 s too large?)")

    monkeypatch.setattr(issvis.physics.simulation, "simulate", blow_up)
    err = one_line_error(capsys, "simulate", str(DEFAULT), "-o", str(tmp_path / "x.npz"))
    assert f"{DEFAULT}: non-finite state at t = 3.000 s" in err
    assert not (tmp_path / "x.npz").exists()


@pytest.mark.parametrize("where", ["before", "after"])
def test_debug_shows_the_traceback_of_an_input_error_and_still_exits_2(where, tmp_path, capsys):
    args = ["simulate", str(tmp_path / "nope.toml")]
    code, _, err = run_cli(capsys, *(["--debug", *args] if where == "before" else [*args, "--debug"]))
    assert code == 2, err
    assert "Traceback" in err and err.rstrip().splitlines()[-1].startswith("issvis: error: ") and "nope.toml: no such scene file" in err


def test_debug_keeps_exit_2_for_a_bad_override(capsys):
    code, _, err = run_cli(capsys, "--debug", "simulate", "undock", "--set", "scene.duration_s=-1")
    assert code == 2 and "Traceback" in err and "scene.duration_s = -1" in err.rstrip().splitlines()[-1]


def test_debug_keeps_exit_3_for_a_bug_with_one_traceback(monkeypatch, tmp_path, capsys):
    import issvis.physics.simulation

    def bug(scene, progress=None):
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(issvis.physics.simulation, "simulate", bug)
    code, _, err = run_cli(capsys, "simulate", str(DEFAULT), "-o", str(tmp_path / "x.npz"), "--debug")
    assert code == 3 and err.count("Traceback") == 1 and "internal error" in err


def test_a_bug_is_a_traceback_and_exit_3_not_a_verdict(monkeypatch, tmp_path, capsys):
    import issvis.physics.simulation

    def bug(scene, progress=None):
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(issvis.physics.simulation, "simulate", bug)
    code, _, err = run_cli(capsys, "simulate", str(DEFAULT), "-o", str(tmp_path / "x.npz"))
    assert code == 3 and "Traceback" in err and "internal error" in err and "ZeroDivisionError" in err


def test_the_scene_argument_of_a_record_only_command_is_refused_in_a_subprocess(tmp_path):
    """The installed entry point, not only main(): exit status 2, one line, no traceback."""
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "issvis.cli", "compare", str(DEFAULT), str(DEFAULT)],
                          capture_output=True, text=True, cwd=tmp_path, timeout=120,
                          env={**__import__("os").environ, "PYTHONPATH": str(SCENES.parent)})
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and "Traceback" not in done.stderr


def test_an_error_that_does_not_name_the_file_is_given_the_commands_input(tmp_path, capsys):
    """plots.PlotError says what is wrong with 'the record'; the one handler names the file."""
    err = one_line_error(capsys, "plot", str(DEFAULT), "--set", "separation=[]", "--set", "scene.duration_s=30",
                         "-o", str(tmp_path / "p.png"))
    assert err.startswith(f"issvis: error: {DEFAULT}: the record has no separation event"), err
    assert not (tmp_path / "p.png").exists()


@pytest.mark.parametrize("path", sorted(SCENES.glob("*.toml")), ids=lambda p: p.name)
def test_a_scenes_toml_text_rebuilds_an_equal_scene(path: Path):
    from issvis.scene.schema import scene_from_text

    scene = load_scene(path, ["scene.duration_s=300"])
    again = scene_from_text(scene.toml_text, "again")
    assert again == scene and again.toml_text == scene.toml_text
    assert "duration_s = 300.0" in scene.toml_text  # the override, as the physics will see it


SAME_CHECKS_IN_CODE = [
    # (key, value as TOML for --set, value in Python)
    ("separation.0.interface", "'zarya/pma2'", "zarya/pma2"),
    ("separation.0.t_s", "99999", 99999.0),
    ("separation.0.delta_v_mps", "-1", -1),
    ("separation.0.delta_vv", "1", 1),
    ("control.cmg.part", "'z2'", "z2"),
    ("station.attitude", "'sideways'", "sideways"),
]


@pytest.mark.parametrize("key,toml,value", SAME_CHECKS_IN_CODE, ids=[k for k, _, _ in SAME_CHECKS_IN_CODE])
def test_a_change_in_code_is_refused_with_the_same_words_as_in_a_file(key, toml, value):
    with pytest.raises(SceneError) as from_file:
        load_scene(DEFAULT, [f"{key}={toml}"])
    with pytest.raises(SceneError) as from_code:
        load_scene(DEFAULT).with_changes({key: value})
    file_words = str(from_file.value).removeprefix(f"{DEFAULT}: ")
    assert str(from_code.value) == f"{DEFAULT} with changes: {file_words}"
