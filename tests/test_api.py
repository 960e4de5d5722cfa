"""The public Python API (``import issvis``): cheap to import, validated scenes built in code,
records that reproduce their run, and docs whose examples run."""

from __future__ import annotations

import doctest
import inspect
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import issvis
from issvis.scene.schema import scene_from_text

from .conftest import ROOT

SHORT = ["scene.duration_s=60"]  # every shipped scene opens its interface before 60 s


def run_python(code: str, tmp_path: Path, timeout: int = 300) -> subprocess.CompletedProcess[str]:
    """code in a fresh interpreter, with this checkout first on the path."""
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path,
                          timeout=timeout, env={**os.environ, "PYTHONPATH": str(ROOT)})


@pytest.fixture(scope="module")
def short_scene() -> issvis.Scene:
    return issvis.load_scene("undock", SHORT)


@pytest.fixture(scope="module")
def short_record(short_scene: issvis.Scene) -> issvis.Record:
    return issvis.simulate(short_scene)


# --- the package itself ---------------------------------------------------------------------------
def test_import_issvis_loads_no_api_module_until_a_name_is_used(tmp_path):
    code = ("import sys, issvis\n"
            "before = sorted(m for m in ('pydantic', 'pybullet', 'issvis.api', 'issvis.scene.schema') if m in sys.modules)\n"
            "scene = issvis.load_scene('undock', ['scene.duration_s=60'])\n"
            "after = sorted(m for m in ('pydantic', 'pybullet', 'pyvista', 'issvis.api') if m in sys.modules)\n"
            "print(before, after)\n")
    done = run_python(code, tmp_path)
    assert done.returncode == 0, done.stderr
    # a scene loads without the physics engine: pybullet comes with the first simulate()
    assert done.stdout.strip() == "[] ['issvis.api', 'pydantic']"


def test_every_public_name_resolves_and_an_unknown_one_is_an_attribute_error():
    for name in issvis.__all__:
        assert getattr(issvis, name) is not None, name
    assert set(issvis.__all__) <= set(dir(issvis))
    with pytest.raises(AttributeError, match="module 'issvis' has no attribute 'simulat'"):
        issvis.simulat  # noqa: B018


def test_version_is_the_installed_distributions():
    from importlib import metadata

    assert issvis.__version__ == metadata.version("issvis")
    assert "__version__" not in issvis.__all__  # a dunder, not a name for `from issvis import *`


def test_input_error_is_the_one_class_a_user_catches():
    from issvis.core.errors import MissingExtraError
    from issvis.record.record import RecordError
    from issvis.scene.schema import SceneError

    assert issvis.InputError is issvis.core.errors.InputError
    for cls in (SceneError, RecordError, MissingExtraError):
        assert issubclass(cls, issvis.InputError)


# --- scenes: shipped, from files, with overrides --------------------------------------------------
def test_load_scene_takes_a_shipped_name_or_a_path_and_overrides(tmp_path):
    by_name = issvis.load_scene("soyuz_departure", ["scene.duration_s=300"])
    by_path = issvis.load_scene(ROOT / "scenes" / "soyuz_departure.toml", ["scene.duration_s=300"])
    assert by_name == by_path and by_name.scene.duration_s == 300.0
    assert issvis.load_scene().scene.title == issvis.load_scene("undock").scene.title  # the default scene


def test_an_unknown_scene_name_lists_the_shipped_ones():
    with pytest.raises(issvis.InputError, match="undok: no such scene file; shipped scenes: .*undock"):
        issvis.load_scene("undok")


# --- scenes built or varied in code are validated like TOML ones -----------------------------------
def test_a_code_built_scene_with_a_bad_interface_names_the_field_and_the_choices():
    with pytest.raises(issvis.InputError) as info:
        issvis.Scene(separation=(issvis.Separation(interface="zarya/pma2", t_s=20.0),))
    message = str(info.value)
    for words in ("separation.0.interface = 'zarya/pma2'", "no such interface", "Did you mean", "'zarya/pma1'",
                  "Valid interfaces"):
        assert words in message, (words, message)


def test_bad_part_and_jet_names_built_in_code_are_input_errors(short_scene):
    with pytest.raises(issvis.InputError, match="burn.0.part = 'soyuz': no such part.*soyuz_ms19"):
        issvis.vary(short_scene, {"burn": [issvis.Burn(part="soyuz", t_s=1.0, duration_s=1.0, thrust_n=10.0,
                                                       direction_body=(0.0, 0.0, 1.0))]})
    with pytest.raises(issvis.InputError, match="control.jets.jet_parts.0 = 'zarya': no such jet carrier"):
        issvis.vary(short_scene, {"control.jets.jet_parts": ["zarya"]})


def test_a_range_error_built_in_code_is_an_input_error_naming_the_key():
    with pytest.raises(issvis.InputError, match=r"^Separation\(\.\.\.\): delta_v_mps = -1\.0: .*greater than or equal to 0"):
        issvis.Separation(interface="zarya/pma1", t_s=20.0, delta_v_mps=-1.0)
    with pytest.raises(issvis.InputError, match=r"^Scene\(\.\.\.\): scene.duration_s = -5: .*greater than 0"):
        issvis.Scene(scene={"duration_s": -5})  # type: ignore[arg-type]


NEGATIVE_DURATION_ROUTES = {
    "Scene(...)": lambda s: issvis.Scene(scene=issvis.SceneInfo(duration_s=-5.0)),
    "SceneInfo(...)": lambda s: issvis.SceneInfo(duration_s=-5.0),
    "vary": lambda s: issvis.vary(s, {"scene.duration_s": -5.0}),
    "with_changes": lambda s: s.with_changes({"scene.duration_s": -5.0}),
    "model_copy of the scene": lambda s: s.model_copy(update={"scene": {"duration_s": -5.0}}),
    "model_copy of its table": lambda s: s.scene.model_copy(update={"duration_s": -5.0}),
    "model_construct": lambda s: issvis.Scene.model_construct(scene=issvis.SceneInfo()),
    "pydantic v1 copy": lambda s: s.copy(update={"scene": {"duration_s": -5.0}}),
    "load_scene --set": lambda s: issvis.load_scene("undock", ["scene.duration_s=-5"]),
}


@pytest.mark.parametrize("route", NEGATIVE_DURATION_ROUTES)
def test_frozen_means_frozen_a_negative_duration_is_refused_by_every_route(short_scene, route):
    with pytest.raises(issvis.InputError) as info:
        NEGATIVE_DURATION_ROUTES[route](short_scene)
    message = str(info.value)
    assert ("duration_s" in message and "greater than 0" in message) or "with_changes" in message, message


def test_an_invalid_render_table_slipped_in_by_model_copy_is_caught(short_scene):
    bad = short_scene.render.model_copy(update={"fps": -3})  # RenderSettings' own copy does not validate
    with pytest.raises(issvis.InputError, match="render.fps = -3: .*greater than or equal to 1"):
        short_scene.with_changes({"render": bad})


def test_a_valid_model_copy_is_revalidated_and_keeps_what_was_set(short_scene):
    copied = short_scene.model_copy(update={"orbit": {"altitude_m": 420_000.0}})
    assert copied.orbit.altitude_m == 420_000.0
    assert copied.scene == short_scene.scene and copied.source == short_scene.source + " with changes"
    assert "altitude_m = 420000.0" in copied.toml_text
    assert short_scene.model_copy() == short_scene  # a plain copy is a copy


def test_vary_addresses_list_items_and_says_which_key_is_wrong(short_scene):
    varied = issvis.vary(short_scene, {"separation.0.delta_v_mps": 0.2, "scene.title": "faster"})
    assert varied.separation[0].delta_v_mps == 0.2 and varied.scene.title == "faster"
    assert short_scene.separation[0].delta_v_mps == 0.1  # the original is untouched
    with pytest.raises(issvis.InputError, match="separation.3.t_s: 'separation' has no item 3"):
        issvis.vary(short_scene, {"separation.3.t_s": 1.0})
    with pytest.raises(issvis.InputError, match="unknown key 'separation.0.delta_vv'.*delta_v_mps"):
        issvis.vary(short_scene, {"separation.0.delta_vv": 1.0})


# --- a record stores the scene that ran ------------------------------------------------------------
def code_built_scene() -> issvis.Scene:
    """A scene from nothing but code, with render settings of its own."""
    return issvis.Scene(
        scene=issvis.SceneInfo(title="built in code", duration_s=40.0),
        separation=(issvis.Separation(interface="zarya/pma1", t_s=5.0, delta_v_mps=0.15),),
        render={"width_px": 160, "height_px": 90, "fps": 6, "seconds": 2.0},  # type: ignore[arg-type]
    )


def test_a_code_built_scenes_record_reloads_to_an_equal_scene(tmp_path):
    scene = code_built_scene()
    record = issvis.simulate(scene)
    assert record.meta["scene"] == scene.toml_text != ""
    assert scene_from_text(record.meta["scene"]) == scene
    record.save(tmp_path / "code.npz")
    loaded = issvis.Record.load(tmp_path / "code.npz")
    assert issvis.scene_of(loaded) == scene
    assert [e["expected_delta_v_mps"] for e in loaded.events_of("pusher_start")] == [0.15]


def test_the_record_of_a_code_built_scene_renders_with_its_settings():
    from issvis.record.scene_of import settings_of

    scene = code_built_scene()
    record = issvis.simulate(scene)
    settings, title = settings_of(record)
    assert settings == scene.render and title == "built in code"


def test_the_stored_scene_agrees_with_the_physics_that_ran(short_scene):
    varied = issvis.vary(short_scene, {"separation.0.delta_v_mps": 0.2})
    record = issvis.simulate(varied)
    stored = issvis.scene_of(record)
    assert stored == varied and stored.separation[0].delta_v_mps == 0.2
    assert record.events_of("pusher_start")[0]["expected_delta_v_mps"] == 0.2  # what the pushers were given


def test_a_record_without_a_scene_says_so(short_record):
    from dataclasses import replace

    bare = replace(short_record, meta={k: v for k, v in short_record.meta.items() if k != "scene"})
    with pytest.raises(issvis.InputError, match="holds no scene"):
        issvis.scene_of(bare)


# --- compare ---------------------------------------------------------------------------------------
def test_compare_takes_records_or_paths_and_passes_tolerances_through(short_record, tmp_path):
    path = tmp_path / "a.npz"
    short_record.save(path)
    assert issvis.compare(path, short_record).agree
    from dataclasses import replace

    shifted = replace(short_record, pos=short_record.pos + np.array([0.0, 0.0, 0.02]))
    assert not issvis.compare(short_record, shifted).agree  # 2 cm against the default 1 cm
    result = issvis.compare(short_record, shifted, pos_tol_m=0.05)
    assert result.agree and isinstance(result, issvis.Comparison)
    loose = issvis.ComparisonTolerances(pos_tol_m=0.05)
    assert issvis.compare(short_record, shifted, tolerances=loose).agree


def test_compare_passes_the_span_keywords_through():
    short = issvis.simulate(code_built_scene())  # 40 s; nothing happens after 10 s
    longer = issvis.simulate(code_built_scene().with_changes({"scene.duration_s": 60.0}))
    assert not issvis.compare(short, longer).agree  # the spans differ
    assert issvis.compare(short, longer, overlap=True).agree
    assert issvis.compare(short, longer, until_s=30.0).agree


# --- pictures: the missing extra's hint, and a still that uses the record's settings ----------------
@pytest.mark.parametrize("package", ["pyvista", "PIL"])
def test_a_missing_extra_raises_the_clis_one_line_hint_naming_the_extra(package, tmp_path, short_record):
    path = tmp_path / "r.npz"
    short_record.save(path)
    code = (f"import sys\nsys.modules[{package!r}] = None\nimport issvis\n"
            f"record = issvis.Record.load({str(path)!r})\n"
            "try:\n    issvis.render_still(record, 0.0, 'x.png')\n"
            "except issvis.InputError as exc:\n    print(type(exc).__name__, exc)\n")
    done = run_python(code, tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == (f"MissingExtraError issvis.render_still needs issvis[render] ({package} is not "
                                   "installed): pip install 'issvis[render]'")
    assert not (tmp_path / "x.png").exists()


@pytest.mark.slow
def test_render_still_draws_at_the_records_own_size(tmp_path):
    pytest.importorskip("pyvista")
    from PIL import Image

    record = issvis.simulate(code_built_scene())
    out = issvis.render_still(record, 1.0, tmp_path / "still.png")
    assert out == tmp_path / "still.png"
    with Image.open(out) as img:
        assert img.size == (160, 90)  # the scene's [render] size, not the 1920x1080 default


def test_render_still_outside_the_clip_is_an_input_error(tmp_path):
    pytest.importorskip("pyvista")
    record = issvis.simulate(code_built_scene())
    with pytest.raises(issvis.InputError, match=r"^video_s = 5: the clip runs 0..2 s of video$"):
        issvis.render_still(record, 5.0, tmp_path / "late.png")


# --- docs: the guide runs, every public name is documented, the reference builds -------------------
@pytest.mark.slow
def test_the_python_guides_examples_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the guide writes its files where it runs
    result = doctest.testfile(str(ROOT / "docs" / "python.md"), module_relative=False, verbose=False,
                              optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted >= 10
    assert result.failed == 0


def _documented_parameters(doc: str) -> set[str]:
    """The names a numpydoc 'Parameters' section lists ('a, b : float' lists two; '**kw' is 'kw')."""
    lines = doc.splitlines()
    start = lines.index("Parameters") + 2
    names: set[str] = set()
    for k in range(start, len(lines)):
        if k + 1 < len(lines) and lines[k].strip() and set(lines[k + 1].strip()) == {"-"}:
            break  # the next section's title
        line = lines[k]
        if line.strip() and not line[0].isspace():
            names.update(n.strip().lstrip("*") for n in line.split(" : ")[0].split(","))
    return names


PUBLIC_FUNCTIONS = [n for n in issvis.__all__ if inspect.isfunction(getattr(issvis, n))]


@pytest.mark.parametrize("name", PUBLIC_FUNCTIONS)
def test_every_public_function_documents_each_parameter_and_what_it_returns(name):
    """ruff's pydocstyle rules (numpy convention) check the docstrings' form; this checks what they
    hold, which that convention leaves out (D417 is off under it): every parameter, and Returns."""
    func = getattr(issvis, name)
    doc = inspect.getdoc(func) or ""
    params = set(inspect.signature(func).parameters)
    if params:
        assert "Parameters\n----------" in doc, name
        assert params <= _documented_parameters(doc), (name, params - _documented_parameters(doc))
    if inspect.signature(func).return_annotation not in (None, "None"):
        assert "Returns\n-------" in doc, name


@pytest.mark.parametrize("name", [n for n in issvis.__all__ if n not in PUBLIC_FUNCTIONS])
def test_every_public_class_has_a_docstring(name):
    assert (inspect.getdoc(getattr(issvis, name)) or "").strip(), name


def test_the_reference_generator_runs_without_warnings(tmp_path):
    pytest.importorskip("pdoc")
    done = subprocess.run([sys.executable, "-W", "error", str(ROOT / "docs" / "make_reference.py"), "-o", str(tmp_path)],
                          capture_output=True, text=True, timeout=300, cwd=ROOT,
                          env={**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), *sys.path])})
    assert done.returncode == 0, done.stderr
    assert "Warn" not in done.stderr, done.stderr
    page = (tmp_path / "issvis.html").read_text(encoding="utf-8")
    for name in issvis.__all__:
        assert f'id="{name}"' in page, name


@pytest.mark.slow
def test_render_video_writes_the_mp4_and_its_poster_at_the_records_settings(tmp_path):
    pytest.importorskip("pyvista")
    import imageio_ffmpeg
    from PIL import Image

    record = issvis.simulate(code_built_scene())
    out = issvis.render_video(record, tmp_path / "clip.mp4")
    assert out == tmp_path / "clip.mp4"
    assert imageio_ffmpeg.count_frames_and_secs(str(out))[0] == 12  # 2 s at 6 fps: the scene's own
    with Image.open(tmp_path / "clip.poster.png") as poster:
        assert poster.size == (160, 90)
