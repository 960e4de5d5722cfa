"""The Cycles engine (issue 20): Blender draws the frames issvis computes.

The tests that run Blender need the bpy environment (``make cycles-env``; ``.ci/run`` creates it) or
a ``blender`` on PATH; where neither is there they skip, saying so. The command-line checks (a bad
engine, a missing Blender) need neither.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest

from issvis.cli import main
from issvis.core.tolerances import TOLERANCES
from issvis.record.record import Record
from issvis.record.scene_of import settings_of
from issvis.scene.render_settings import CyclesSettings

from .conftest import ROOT

RECORD = ROOT / "tests" / "golden" / "undock.npz"


def _blender() -> list[str]:
    from issvis.pictures.cycles import CyclesError, blender_command

    try:
        return blender_command(CyclesSettings())
    except CyclesError as exc:
        pytest.skip(f"no Blender for the Cycles engine here ({exc})")


def needs_blender(test):
    """Renders with Blender (the bpy environment or a blender on PATH): slow, skipped without one."""
    return pytest.mark.slow(pytest.mark.usefixtures("blender")(test))


@pytest.fixture(scope="module")
def blender() -> list[str]:
    return _blender()


@pytest.fixture(scope="module")
def record() -> Record:
    return Record.load(RECORD)


def _small(record: Record, size: tuple[int, int] = (160, 90)):
    from issvis.pictures.video import effective_settings

    settings, title = settings_of(record)
    return effective_settings(settings, size=size), title


def _silhouettes(record: Record, video_s: float, size: tuple[int, int] = (160, 90)) -> tuple[np.ndarray, np.ndarray]:
    """(raster mask, Cycles mask) of the station at video time ``video_s``: nothing but the parts drawn."""
    from issvis.pictures.cycles import open_cycles_source, with_cycles
    from issvis.pictures.video import open_source

    settings, _ = _small(record, size)
    bare = settings.model_copy(update={
        "earth": settings.earth.model_copy(update={"show": False}),
        "lighting": settings.lighting.model_copy(update={"ambient": 1.0, "sun_intensity": 0.0, "earthshine": 0.0,
                                                         "star_gain": 0.0, "shadows": False}),
        "quality": settings.quality.model_copy(update={"stars": 0, "supersample": 1.0, "tone": "none"}),
        "overlays": settings.overlays.model_copy(update={k: False for k in (
            "title_card", "labels", "gap_cue", "captions", "end_card", "clock", "separation")})})
    raster = open_source(record, bare)
    try:
        raster.pose(video_s)
        r = raster.picture()
    finally:
        raster.close()
    cyc = open_cycles_source(record, with_cycles(bare, samples=1), silhouette=True)
    try:
        cyc.pose(video_s)
        c = cyc.cycles_frame()
    finally:
        cyc.close()
    return r.max(axis=2) > 6, c.max(axis=2) > 127


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / max((a | b).sum(), 1))


@needs_blender
def test_a_small_cycles_still_renders_through_the_command_line(tmp_path, capsys):
    """160x90 at 4 samples: a PNG of the video's size, Earth and the station in it (not black), the
    device and the scene build in the log."""
    from PIL import Image

    out = tmp_path / "still.png"
    assert main(["render", str(RECORD), "--engine", "cycles", "--samples", "4", "--size", "160x90",
                 "--still", "12", "-o", str(out)]) == 0
    img = np.asarray(Image.open(out).convert("RGB"))
    assert img.shape == (90, 160, 3)
    assert img.mean() > 20 and img.std() > 10
    err = capsys.readouterr().err
    assert "rendering on CPU" in err or "rendering on GPU" in err


@needs_blender
def test_the_cycles_silhouette_agrees_with_the_raster_engine(record):
    """Same framing and pose: the station's masks from both engines overlap (IoU over the bound), and
    the same measure tells the station 0.5 s of video later (the camera swinging) from it."""
    raster, cycles = _silhouettes(record, 3.0)
    assert raster.mean() > 0.02  # the station is in frame
    iou = _iou(raster, cycles)
    assert iou >= TOLERANCES.cycles_silhouette_iou, iou
    _, later = _silhouettes(record, 3.8)
    assert _iou(raster, later) < TOLERANCES.cycles_silhouette_iou, _iou(raster, later)


@needs_blender
def test_two_workers_and_finer_tasks_write_the_frames_of_one_process(tmp_path, monkeypatch):
    """Each Blender process renders the frames one process does (fixed seed, same settings): the
    two-worker file (a segment each) and the three-worker file (more workers than the clip's two
    segments: runs of frames, ``plan_tasks``) are the one-process file, byte for byte."""
    from issvis.pictures.segments import plan_tasks, segment_bounds

    args = ["render", str(RECORD), "--engine", "cycles", "--samples", "2", "--size", "64x36", "--fps", "2",
            "--seconds", "8", "--no-progress"]
    segments = segment_bounds(16, 2)
    assert len(segments) == 2 and plan_tasks(segments, 3, finer=True)[0] == "frames"
    one, two, three = tmp_path / "one.mp4", tmp_path / "two.mp4", tmp_path / "three.mp4"
    assert main([*args, "-o", str(one)]) == 0
    assert main([*args, "-o", str(two), "--workers", "2"]) == 0
    assert one.read_bytes() == two.read_bytes()
    import issvis.pictures.video as video

    fine_jobs: list[int] = []
    plain = video._run_frames

    def counted(record, settings, segments, jobs, *rest):
        fine_jobs.append(len(jobs))
        return plain(record, settings, segments, jobs, *rest)

    monkeypatch.setattr(video, "_run_frames", counted)
    assert main([*args, "-o", str(three), "--workers", "3"]) == 0
    assert fine_jobs == [3]  # the three workers rendered runs of frames, not whole segments
    assert one.read_bytes() == three.read_bytes()
    assert (tmp_path / "one.poster.png").read_bytes() == (tmp_path / "three.poster.png").read_bytes()


def test_more_workers_than_segments_get_runs_of_frames_that_cover_the_clip_once():
    """A 33.5 s clip (7 segments of 5 s at 30 fps) over 64 workers: 64 runs of 15-16 frames, in order,
    every frame once; over 4 workers (fewer than segments) whole segments, as the raster engine
    always has them; the raster engine never gets finer tasks."""
    from issvis.pictures.segments import plan_tasks, segment_bounds

    segments = segment_bounds(1005, 30)
    assert len(segments) == 7
    kind, jobs = plan_tasks(segments, 64, finer=True)
    assert kind == "frames" and len(jobs) == 64
    runs = [job[0] for job in jobs]
    assert runs[0][0] == 0 and runs[-1][1] == 1005 and all(a[1] == b[0] for a, b in zip(runs, runs[1:]))
    assert {b - a for a, b in runs} == {15, 16}
    kind, jobs = plan_tasks(segments, 4, finer=True)
    assert kind == "segments" and [s for job in jobs for s in job] == segments
    kind, jobs = plan_tasks(segments, 64, finer=False)
    assert kind == "segments" and len(jobs) == 7


@needs_blender
def test_a_blender_program_on_path_gets_blenders_command_line(tmp_path, monkeypatch, capsys):
    """A ``blender`` on PATH is run as Blender is (``--background --factory-startup --python
    worker.py -- SETUP``) and the worker finds its set-up after ``--``: a stand-in ``blender`` that
    refuses any other command line and runs the bpy environment's Python renders the still."""
    from PIL import Image

    from issvis.pictures.cycles import repo_cycles_python

    python = repo_cycles_python()
    if not python.is_file():
        pytest.skip("the stand-in blender runs the bpy environment (make cycles-env)")
    stand_in = tmp_path / "bin" / "blender"
    stand_in.parent.mkdir()
    stand_in.write_text(
        "#!/bin/sh\n"
        '[ "$1" = --background ] && [ "$2" = --factory-startup ] && [ "$3" = --python ] && [ "$5" = -- ] '
        '|| { echo "not a Blender command line: $*" >&2; exit 9; }\n'
        f'script="$4"; shift 5; exec {python} "$script" -- "$@"\n')
    stand_in.chmod(0o755)
    monkeypatch.setenv("PATH", f"{stand_in.parent}:/usr/bin:/bin")
    out = tmp_path / "still.png"
    assert main(["render", str(RECORD), "--engine", "cycles", "--samples", "1", "--size", "64x36",
                 "--still", "12", "-o", str(out)]) == 0, capsys.readouterr().err
    assert np.asarray(Image.open(out).convert("RGB")).shape == (36, 64, 3)


@needs_blender
def test_blender_imports_the_export_with_its_camera_playing_and_a_sun(tmp_path, blender):
    """The animated export in Blender's own glTF importer: the camera's animation is an active action
    (not a muted track), a sun lamp is there, and the camera's far limit reaches past Earth."""
    from issvis.pictures.export import export_record

    glb = tmp_path / "run.glb"
    export_record(Record.load(ROOT / "tests" / "golden" / "russian_only.npz"), glb, rate_hz=0.1)
    script = tmp_path / "probe.py"
    script.write_text(
        "import bpy, sys\n"
        "bpy.ops.wm.read_factory_settings(use_empty=True)\n"
        f"bpy.ops.import_scene.gltf(filepath={str(glb)!r})\n"
        "cam = next(o for o in bpy.data.objects if o.type == 'CAMERA')\n"
        "sun = [o for o in bpy.data.objects if o.type == 'LIGHT' and o.data.type == 'SUN']\n"
        "act = cam.animation_data.action if cam.animation_data else None\n"
        "print('PROBE', act is not None, len(sun), cam.data.clip_end)\n")
    cmd = [*blender[:-1], str(script)] if "python" in Path(blender[0]).name else \
        [blender[0], "--background", "--factory-startup", "--python", str(script)]
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    line = next((ln for ln in run.stdout.splitlines() if ln.startswith("PROBE")), run.stderr[-500:])
    _, playing, suns, clip_end = line.split()
    assert playing == "True" and int(suns) == 1 and float(clip_end) > 2.0e7, line


# --- the command line, without Blender ---------------------------------------------------------------
def test_a_bad_engine_is_one_line_and_exit_2(tmp_path, capsys):
    assert main(["render", str(RECORD), "--engine", "vulkan", "--still", "1", "-o", str(tmp_path / "a.png")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--engine 'vulkan': expected raster or cycles" in err[0]
    assert not (tmp_path / "a.png").exists()


def test_a_missing_blender_is_one_line_naming_the_set_up(tmp_path, capsys, monkeypatch):
    import issvis.pictures.cycles as cycles

    monkeypatch.setenv("PATH", str(tmp_path))  # no blender on PATH
    monkeypatch.setattr(cycles, "repo_cycles_python", lambda: tmp_path / "none" / "python")
    assert main(["render", str(RECORD), "--engine", "cycles", "--still", "1", "-o", str(tmp_path / "a.png")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "make cycles-env" in err[0] and "no `blender` on PATH" in err[0]
    assert main(["render", str(RECORD), "--engine", "cycles", "--blender", str(tmp_path / "nope"),
                 "--still", "1", "-o", str(tmp_path / "a.png")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--blender" in err[0] and "no such program" in err[0]
    assert not (tmp_path / "a.png").exists()


def test_samples_without_cycles_is_refused(tmp_path, capsys):
    assert main(["render", str(RECORD), "--samples", "8", "--still", "1", "-o", str(tmp_path / "a.png")]) == 2
    assert "apply to --engine cycles" in capsys.readouterr().err


def test_cycles_settings_turn_the_filmic_curve_off_and_keep_the_rest():
    """AgX is the Cycles frame's tone curve: the edit's filmic curve must not run a second time;
    bloom, vignette and grain stay the edit's."""
    from issvis.pictures.cycles import with_cycles
    from issvis.scene.render_settings import RenderSettings

    s = with_cycles(RenderSettings(), samples=16)
    assert s.cycles is not None and s.cycles.samples == 16 and s.quality.tone == "none"
    assert s.quality.bloom == RenderSettings().quality.bloom


def test_runs_of_frames_arriving_in_any_order_encode_the_segments_of_one_process(tmp_path, monkeypatch, record):
    """The finer tasks' assembly, with made-up frames instead of Blender's: runs finishing in any order
    give the segment bytes and poster that encoding all frames in order gives, and the runs no later
    segment needs are deleted as the segments are written (fewer than all of them are ever on disk)."""
    import issvis.pictures.video as video
    from issvis.pictures.camera import Clip
    from issvis.pictures.segments import plan_tasks, segment_bounds

    settings, _ = _small(record, (64, 36))
    settings = video.effective_settings(settings, fps=4, seconds=8)  # 32 frames, 2 segments
    n = Clip(settings, record).n_frames
    segments = segment_bounds(n, settings.fps)
    kind, jobs = plan_tasks(segments, 6, finer=True)
    assert kind == "frames" and len(segments) == 2 and len(jobs) == 6
    rng = np.random.default_rng(7)
    frames = rng.integers(0, 256, (n, 36, 64, 3), dtype=np.uint8)
    on_disk: list[int] = []

    def fake_spread(job_fn, record, settings, jobs, scheduler, preview, title, poster_i, on_done):
        for j in (5, 0, 3, 1, 4, 2):  # finishing out of order
            a, b = jobs[j][0]
            on_done(j, ([frames[a:b].copy()], None))
            on_disk.append(len(list(tmp_path.glob("run*.npy"))))

    monkeypatch.setattr(video, "_spread", fake_spread)
    poster_i = int(0.62 * n)
    data, poster = video._run_frames(record, settings, segments, jobs, None, False, None, poster_i, None, tmp_path)
    clip = Clip(settings, record)
    expected = []
    for k, (a, b) in enumerate(segments):
        path = tmp_path / f"expected{k}.mp4"
        video._encode_segment_from(lambda i: frames[i], clip, settings, (64, 36), a, b, path, None)
        expected.append(path.read_bytes())
    assert data == expected
    assert poster is not None and np.array_equal(poster, frames[poster_i][::-1])
    assert max(on_disk) < len(jobs) and on_disk[-1] == 0 and not list(tmp_path.glob("fine*.mp4"))


# --- a Blender that hangs or dies (a fake worker, no Blender needed) -----------------------------------
FAKE_WORKER = '''#!{python}
import sys, time
print("Blender chatter")
print('ISSVIS-CYCLES {{"ready": true, "device": "CPU (fake)", "blender": "fake"}}', flush=True)
sys.stdin.readline()
if {mode!r} == "hang":
    time.sleep(600)
sys.stderr.write("Segmentation fault in the fake worker\\n")
sys.exit(139)
'''


def _fake_blender(tmp_path: Path, mode: str) -> Path:
    """A program named like a Python (so issvis runs it as ``PROGRAM worker.py SETUP``) that builds
    nothing and then, sent a frame, hangs (``hang``) or dies with a message (``die``)."""
    import sys

    path = tmp_path / f"fake-python-{mode}"
    path.write_text(FAKE_WORKER.format(python=sys.executable, mode=mode))
    path.chmod(0o755)
    return path


@pytest.mark.parametrize("mode", ["hang", "die"])
def test_a_hung_or_dead_blender_is_one_error_and_the_process_is_gone(tmp_path, mode):
    import time

    from issvis.pictures.cycles import BlenderWorker, CyclesError

    worker = BlenderWorker([str(_fake_blender(tmp_path, mode)), "worker.py"], tmp_path / "setup.json",
                           frame_timeout_s=1.5)
    assert worker.ready["device"] == "CPU (fake)"  # the chatter before the message is skipped
    t = time.monotonic()
    with pytest.raises(CyclesError) as err:
        worker.render({"out": str(tmp_path / "f.png")})
    took_s = time.monotonic() - t
    if mode == "hang":
        assert "rendered no frame in 1.5 s" in str(err.value) and "frame_timeout_s" in str(err.value)
        assert 1.4 < took_s < 15, took_s
    else:
        assert "failed to render a frame: Segmentation fault in the fake worker" in str(err.value)
        assert took_s < 15, took_s
    assert worker._proc.poll() is not None  # nothing left running
    worker.close()


def test_a_hung_blender_stops_the_command_with_one_line_and_exit_2(tmp_path, capsys, monkeypatch):
    import issvis.pictures.cycles as cycles

    fake = _fake_blender(tmp_path, "hang")
    out = tmp_path / "a.png"
    plain = cycles.with_cycles

    def quick(*args, **kwargs):  # [render.cycles] frame_timeout_s = 1 (a record takes no --set)
        s = plain(*args, **kwargs)
        assert s.cycles is not None
        return s.model_copy(update={"cycles": s.cycles.model_copy(update={"frame_timeout_s": 1.0})})

    monkeypatch.setattr(cycles, "with_cycles", quick)
    code = main(["render", str(RECORD), "--engine", "cycles", "--blender", str(fake), "--size", "64x36",
                 "--still", "1", "-o", str(out)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2, err
    assert "rendered no frame in 1 s" in err[-1] and sum("error" in ln for ln in err) == 1, err
    assert not out.exists()
