"""issvis's per-frame video cost against a raw pyvista render + encode loop of the same meshes.

Both loops run in this one process, one after the other, at the same size, anti-aliasing and
encoder settings, over the same number of frames:

- *raw*: the Stage's meshes (station, Earth, limb, stars, Sun) in a plain pyvista Plotter; per
  frame it sets every actor's ``user_matrix`` and the camera to values computed ahead (untimed)
  for the same video times, then ``plotter.write_frame()`` (pyvista's own movie path: render,
  read back, send to imageio-ffmpeg). No overlays, no interpolation, no choreography;
- *issvis*: ``issvis.pictures.video.render_video`` on the record (time map, interpolated poses, camera
  choreography, far field, overlays, poster), frames spread over the whole clip.

Usage: python benchmarks/bench_render.py [RECORD.npz] [--size 1920x1080] [--frames 150]
Prints frames/s of each and the ratio issvis / raw (target <= 1.25).

``--against CHECKOUT`` measures instead what a change costs the stage: the Stage's own per-frame work
(pose, render, read back; no encoder) at frames spread over the default clip, in fresh interpreters
that import issvis from CHECKOUT and from this tree in turn (``--rounds`` times each, alternating, so a
shared machine's load falls on both alike), and prints CPU ms per frame of each and their ratio.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def _matrix(m) -> np.ndarray:
    return np.array([[m.GetElement(i, j) for j in range(4)] for i in range(4)])


def _bake_state(stage) -> tuple:
    """What the baker draws this frame: whether it bakes, the map's box, the casters' placement and
    frames, the Sun in the baker's world, and the look-up's matrix into it (``issvisLightVC``)."""
    import vtk

    copies = stage._epoch_actors[stage._epoch][1]
    frames = []
    for c in copies:
        uniforms, _ = stage._caster_uniforms[id(c)]
        m = vtk.vtkMatrix4x4()
        uniforms.GetUniformMatrix("issvisCaster", m)
        frames.append(_matrix(m))
    sp = next(iter(stage._shader_props.values()))
    look_up = vtk.vtkMatrix4x4()
    sp.GetFragmentCustomUniforms().GetUniformMatrix("issvisLightVC", look_up)
    placement = vtk.vtkMatrix4x4()
    placement.DeepCopy(stage._caster_matrix)
    return (bool(stage.baker_renderer.GetDraw()), stage._box_points.GetPoint(0), stage._box_points.GetPoint(1),
            _matrix(placement), frames, stage.baker_sun.position, _matrix(look_up))


def _uniforms(stage) -> list[dict[str, list[float]]]:
    """The station shaders' custom uniforms (the Earth's light in view coordinates) as set for this frame."""
    out = []
    for sp in stage._shader_props.values():
        u = sp.GetFragmentCustomUniforms()
        values = {}
        for k in range(u.GetNumberOfUniforms()):
            name = u.GetNthUniformName(k)
            if u.GetUniformNumberOfComponents(name) == 3:
                v = [0.0, 0.0, 0.0]
                u.GetUniform3f(name, v)
                values[name] = v
        out.append(values)
    return out


def frame_states(record, settings, n_frames: int) -> list[dict]:
    """What issvis would show at n_frames video times spread over the clip, computed ahead (untimed)."""
    from issvis.pictures.video import open_source

    src = open_source(record, settings)
    states = []
    times = np.linspace(0.0, src.clip.length_s, n_frames, endpoint=False)
    st = src.stage
    far = [a for a in (st.earth_actor, st.limb_actor, st.sun_actor, *st.star_actors) if a]
    for v in times:
        src.pose(float(v))
        st._before_render()
        cam, fcam = st.renderer.GetActiveCamera(), st.far_camera
        states.append({
            "epoch": st._epoch,
            "parts": {n: np.array([[m.GetElement(i, j) for j in range(4)] for i in range(4)])
                      for n, m in st._matrices.items()},
            "far": [np.array([[a.GetUserMatrix().GetElement(i, j) for j in range(4)] for i in range(4)]) for a in far],
            "camera": (cam.GetPosition(), cam.GetFocalPoint(), cam.GetViewUp(), cam.GetViewAngle(), cam.GetClippingRange()),
            "far_clip": fcam.GetClippingRange(),
            "sun": (st.sun_light.position, st.sun_light.intensity),
            "uniforms": _uniforms(st),
            "bake": _bake_state(st) if st.baker_renderer is not None else None,
        })
    src.close()
    return states


def raw_loop(record, settings, states: list[dict], out: Path) -> float:
    """Seconds per frame of the plain loop: the same actors, renderers and passes (the Stage builds them,
    then its per-render logic is detached), set from precomputed values with pyvista's API, rendered
    and encoded by pyvista's own movie writer at the same size and with the same ffmpeg downscale."""
    from issvis.pictures.video import _anti_alias, make_plotter, render_size
    from issvis.pictures.stage import Stage, _vtk_matrix

    w, h = render_size(settings)
    plotter = make_plotter(w, h)
    stage = Stage(plotter, record, settings)
    stage.close()  # no issvis logic per frame
    _anti_alias(plotter, settings.quality.anti_aliasing)
    matrices = stage._matrices
    far = [a for a in (stage.earth_actor, stage.limb_actor, stage.sun_actor, *stage.star_actors) if a]
    props = list(stage._shader_props.values())
    q = settings.quality
    vf = [] if (w, h) == (settings.width_px, settings.height_px) else \
        ["-vf", f"scale={settings.width_px}:{settings.height_px}:flags=area"]
    plotter.open_movie(str(out), framerate=settings.fps, quality=None, macro_block_size=2,
                       codec="libx264", pixelformat="yuv420p", ffmpeg_log_level="error",
                       output_params=["-preset", q.preset, "-crf", str(q.crf), *vf, "-movflags", "+faststart"])
    cam = plotter.camera
    fcam = stage.far_camera
    plotter.write_frame()  # first frame: pyvista's one-time set-up, untimed
    epoch = stage._epoch
    c0 = time.process_time()
    t0 = time.perf_counter()
    for state in states:
        if state["epoch"] != epoch:  # the station split: the next rigid groups' actors
            for a in stage._epoch_actors[epoch][0]:
                plotter.renderer.RemoveActor(a)
            for c in stage._epoch_actors[epoch][1]:
                stage.baker_renderer.RemoveActor(c)
            epoch = state["epoch"]
            for a in stage._epoch_actors[epoch][0]:
                plotter.renderer.AddActor(a)
            for c in stage._epoch_actors[epoch][1]:
                stage.baker_renderer.AddActor(c)
        for name, m in state["parts"].items():
            matrices[name].DeepCopy(m.ravel())
        actors, copies, _ = stage._epoch_actors[epoch]
        for actor in actors:
            actor.Modified()
        for copy in copies:
            copy.Modified()
        for actor, m in zip(far, state["far"]):
            actor.SetUserMatrix(_vtk_matrix(m))
        pos, foc, up, angle, clipping = state["camera"]
        cam.position, cam.focal_point, cam.up, cam.view_angle = pos, foc, up, angle
        cam.clipping_range = clipping
        fcam.SetPosition(pos)
        fcam.SetFocalPoint(foc)
        fcam.SetViewUp(up)
        fcam.SetViewAngle(angle)
        fcam.SetClippingRange(state["far_clip"])
        stage.sun_light.position, stage.sun_light.intensity = state["sun"]
        for sp, values in zip(props, state["uniforms"]):
            u = sp.GetFragmentCustomUniforms()
            for name, v in values.items():
                u.SetUniform3f(name, v)
        if state["bake"] is not None:
            draw, lo, hi, placement, frames, sun_b, look_up = state["bake"]
            stage.baker_renderer.SetDraw(draw)
            for sp in props:
                sp.GetFragmentCustomUniforms().SetUniformMatrix("issvisLightVC", _vtk_matrix(look_up))
            if draw:
                stage._box_points.SetPoint(0, *lo)
                stage._box_points.SetPoint(1, *hi)
                stage._box_points.Modified()
                stage._caster_matrix.DeepCopy(placement.ravel())
                for c, m in zip(copies, frames):
                    stage._caster_uniforms[id(c)][0].SetUniformMatrix("issvisCaster", _vtk_matrix(m))
                stage.baker_sun.position = sun_b
                stage.baker_sun.focal_point = (0.0, 0.0, 0.0)
                stage.baker_renderer.ResetCamera()
        plotter.write_frame()
    dt = time.perf_counter() - t0
    cpu = time.process_time() - c0
    plotter.mwriter.close()
    plotter.close()
    return dt / len(states), cpu / len(states)


def issvis_loop(record, settings, n_frames: int, out: Path) -> tuple[float, dict]:
    from issvis.pictures.video import render_video

    from issvis.pictures.camera import Clip

    # the same video times as frame_states: n_frames spread over the whole clip
    length = Clip(settings, record).length_s
    s = settings.model_copy(update={"fps": 1, "seconds": length})
    s = s.model_copy(update={"fps": max(1, int(round(n_frames / length)))})
    c0 = time.process_time()
    result = render_video(record, s, out, progress=False, poster=False)
    cpu = time.process_time() - c0 - result["setup_cpu_s"]
    per_frame = (result["wall_s"] - result["setup_s"]) / result["frames"]
    return per_frame, cpu / result["frames"], result


def stage_loop(record_path: str, size: str, n_frames: int) -> float:
    """CPU seconds per frame (this process and its render threads) of the Stage alone: pose, render and
    read back at ``n_frames`` video times spread over the default clip (the first frame untimed)."""
    from issvis.pictures.video import open_source
    from issvis.record.record import Record
    from issvis.scene.render_settings import RenderSettings

    w, h = (int(v) for v in size.split("x"))
    src = open_source(Record.load(record_path), RenderSettings(width_px=w, height_px=h))
    times = np.linspace(0.5, src.clip.length_s - 0.5, n_frames)
    src.pose(float(times[0]))
    src.grab()
    c0 = time.process_time()
    for v in times:
        src.pose(float(v))
        src.grab()
    cpu = (time.process_time() - c0) / n_frames
    src.close()
    return cpu


def compare_stage(record_path: str, size: str, n_frames: int, against: str, rounds: int) -> None:
    """Print the Stage's CPU ms per frame with issvis from ``against`` and from this tree, alternating."""
    import os
    import subprocess

    here = str(Path(__file__).resolve().parents[1])
    code = ("import sys; sys.path.insert(0, sys.argv[1]); sys.argv = sys.argv[1:]; "
            "import runpy; m = runpy.run_path(sys.argv[4]); "
            "print(m['stage_loop'](sys.argv[1], sys.argv[2], int(sys.argv[3])))")
    ms: dict[str, list[float]] = {"before": [], "after": []}
    for _ in range(rounds):
        for label, root in (("before", against), ("after", here)):
            env = {**os.environ, "PYTHONPATH": root}
            out = subprocess.run([sys.executable, "-c", code, root, record_path, size, str(n_frames), __file__],
                                 env=env, capture_output=True, text=True, check=True, cwd=root)
            ms[label].append(1000 * float(out.stdout.strip().splitlines()[-1]))
            print(f"{label:6s} ({root}): {ms[label][-1]:6.1f} ms CPU a frame", flush=True)
    b, a = float(np.mean(ms["before"])), float(np.mean(ms["after"]))
    print(f"stage, {size}, {n_frames} frames over the clip, {rounds} rounds: before {b:.1f} ms, after {a:.1f} ms "
          f"CPU a frame; ratio after/before {a / b:.3f} (load average {os.getloadavg()[0]:.1f})")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("record", nargs="?", default="renders/undock.npz")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=JSON",
                    help="a [render] setting, e.g. lighting.shadows=false or quality.supersample=1")
    ap.add_argument("--size", default="1920x1080")
    ap.add_argument("--frames", type=int, default=138, help="a multiple of the clip length (46 s) keeps both loops on the same video times")
    ap.add_argument("--against", metavar="CHECKOUT", help="compare the Stage's cost with issvis from this checkout")
    ap.add_argument("--rounds", type=int, default=2, help="with --against: runs of each, alternating")
    args = ap.parse_args()
    if args.against:
        compare_stage(str(Path(args.record).resolve()), args.size, args.frames, str(Path(args.against).resolve()),
                      args.rounds)
        return
    from issvis.scene.render_settings import RenderSettings
    from issvis.record.record import Record

    w, h = (int(v) for v in args.size.split("x"))
    record = Record.load(args.record)
    import json

    data: dict = {"width_px": w, "height_px": h}
    for item in args.set:
        key, value = item.split("=", 1)
        *path, last = key.split(".")
        node = data
        for p in path:
            node = node.setdefault(p, {})
        node[last] = json.loads(value)
    settings = RenderSettings.model_validate(data)
    with tempfile.TemporaryDirectory() as tmp:
        states = frame_states(record, settings, args.frames)
        raw, raw_cpu = raw_loop(record, settings, states, Path(tmp) / "raw.mp4")
        ours, ours_cpu, result = issvis_loop(record, settings, args.frames, Path(tmp) / "issvis.mp4")
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    q = settings.quality
    print(f"size {w}x{h} (rendered x{q.supersample:g}, AA {q.anti_aliasing}, shadows {settings.lighting.shadows}), "
          f"{args.frames} frames, x264 {q.preset} crf {q.crf}")
    import os

    print(f"load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print(f"raw pyvista loop : {1 / raw:6.2f} frames/s ({raw * 1000:6.1f} ms/frame wall, {raw_cpu * 1000:6.1f} ms CPU)")
    print(f"issvis render    : {1 / ours:6.2f} frames/s ({ours * 1000:6.1f} ms/frame wall, {ours_cpu * 1000:6.1f} ms CPU;"
          f" setup {result['setup_s']:.1f} s)")
    print(f"ratio issvis/raw : {ours / raw:5.2f} wall, {ours_cpu / raw_cpu:5.2f} CPU (target <= 1.25)")
    print("(CPU: this process and its render threads, not ffmpeg; steadier than wall time on a shared machine)")
    print(f"peak memory      : {rss_mb:.0f} MB (process, both loops)")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
