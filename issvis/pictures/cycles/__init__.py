"""The cinematic engine: the same record, camera, Sun and Earth as the raster engine, path-traced by
Blender's Cycles in a separate process.

issvis computes every frame's state here (each part's pose, the camera, the Sun's direction and
colour, Earth's turn) with the raster engine's own functions (``Clip``, ``shots.sun_direction``,
``earth_orientation``), and ``worker.py``, run by Blender, only draws it. The station reaches
Blender as ``issvis export``'s GLB (the parts' fine meshes and glTF PBR materials, imported by
Blender's own glTF importer as Principled BSDFs), Earth as the raster engine's Blue Marble with its
cloud field in the alpha channel. The frames come back as PNGs (Blender's AgX view transform applied:
it is the tone curve, so the edit's filmic curve is off; bloom, vignette and grain stay the edit's)
and are drawn behind the overlays in a VTK window, so the words, the segments, ``--workers`` and the
encoder are the raster engine's.

Blender is found, in this order: ``[render.cycles] blender`` (``--blender``), ``blender`` on PATH,
``.venv-cycles/bin/python`` beside the package (``make cycles-env`` creates it; that Python imports
Blender as the ``bpy`` module).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ...core.frames import EARTH_RADIUS_M, limb_dip_rad, quat_to_matrix
from ...scene.render_settings import CyclesSettings, RenderSettings
from ..grade import exposure_lut
from ..video import RenderError, expose, read_window

WORKER = Path(__file__).with_name("worker.py")
PREFIX = "ISSVIS-CYCLES "
#: How long Blender may take to build the scene (import the station, load Earth) before it is
#: stopped, s: measured 2.5-7 s on two cores; the bound leaves room for a loaded machine.
BUILD_TIMEOUT_S = 600.0
SETUP_HINT = "make cycles-env (creates .venv-cycles with pip install bpy==5.0.1 'numpy<2'), or install Blender 5 and put `blender` on PATH, or name one with --blender"

#: Samples a pixel under ``--preview`` unless ``--samples`` says otherwise.
PREVIEW_SAMPLES = 8


class CyclesError(RenderError):
    """The Cycles engine cannot run (no Blender found, Blender failed); the message names the fix."""


def repo_cycles_python() -> Path:
    """Where ``make cycles-env`` puts the bpy environment's Python (beside the package's folder)."""
    return Path(__file__).resolve().parents[3] / ".venv-cycles" / "bin" / "python"


def blender_command(cfg: CyclesSettings) -> list[str]:
    """The command that runs ``worker.py`` (before its SETUP argument), or CyclesError naming the set-up."""
    named = cfg.blender
    if named is not None:
        found = shutil.which(named) or (named if Path(named).is_file() else None)
        if found is None:
            raise CyclesError(f"--blender {named}: no such program; {SETUP_HINT}")
        program = found
    else:
        program = shutil.which("blender") or ""
        if not program:
            venv = repo_cycles_python()
            if not venv.is_file():
                raise CyclesError(f"--engine cycles needs Blender and none was found (no `blender` on PATH, no {venv}); "
                                  f"set it up: {SETUP_HINT}")
            program = str(venv)
    if "python" in Path(program).name:
        return [program, str(WORKER)]
    return [program, "--background", "--factory-startup", "--python", str(WORKER), "--"]


def with_cycles(settings: RenderSettings, *, samples: int | None = None, blender: str | None = None,
                device: str | None = None) -> RenderSettings:
    """Settings that render with Cycles: ``[render.cycles]`` (a default one when the scene has none)
    with the command line's values, and the filmic tone curve off (AgX is the camera's curve)."""
    cfg = settings.cycles or CyclesSettings()
    update: dict[str, Any] = {}
    if samples is not None:
        update["samples"] = samples
    if blender is not None:
        update["blender"] = blender
    if device is not None:
        update["device"] = device
    cfg = CyclesSettings.model_validate({**cfg.model_dump(), **update})
    return settings.model_copy(update={"cycles": cfg, "quality": settings.quality.model_copy(update={"tone": "none"})})


# --- each frame's state ----------------------------------------------------------------------
def sun_light(settings: RenderSettings, t_s: float, mean_motion: float, altitude_m: float) -> dict[str, Any]:
    """The Sun at simulated time t: direction (LVLH), colour and intensity as the raster engine sets
    them (reddening in the last few degrees above the limb, off in night mode); Earth itself
    hides it at sunset, as it does in orbit."""
    from ..shots import sun_colour_rgb, sun_direction

    lt = settings.lighting
    sd = sun_direction(lt, mean_motion, t_s)
    rgb = sun_colour_rgb(math.asin(float(np.clip(sd[0], -1, 1))) + limb_dip_rad(altitude_m))
    return {"direction": [float(v) for v in sd], "rgb": [float(v) for v in rgb],
            "intensity": float(lt.sun_intensity if lt.mode == "day" else 0.0)}


def frame_state(clip: Any, video_s: float, mean_motion: float, altitude_m: float) -> dict[str, Any]:
    """Everything the worker needs to draw the frame at video time ``video_s``, as plain JSON data."""
    from ..stage import earth_orientation

    settings = clip.settings
    t_s = float(np.clip(clip.sim(video_s), clip.record.t[0], clip.record.t[-1]))
    pos, quat = clip.poses(t_s)
    rot = quat_to_matrix(quat)
    parts = {}
    for b, name in enumerate(clip.record.names):
        m = np.eye(4)
        m[:3, :3] = rot[b]
        m[:3, 3] = pos[b]
        parts[str(name)] = [float(v) for v in m.ravel()[:12]]
    position, focal, up, fov = clip.camera(video_s).as_tuple()
    return {"parts": parts,
            "camera": {"position": [float(v) for v in position], "focal": [float(v) for v in focal],
                       "up": [float(v) for v in up], "fov_deg": float(fov)},
            "sun": sun_light(settings, t_s, mean_motion, altitude_m),
            "earth": [float(v) for v in earth_orientation(settings, t_s, mean_motion).ravel()],
            "earth_centre_m": [-(EARTH_RADIUS_M + altitude_m), 0.0, 0.0],
            "t_s": t_s}


# --- the worker process ------------------------------------------------------------------------
class BlenderWorker:
    """One Blender process that holds the built scene and renders the frames it is sent.

    Every reply is awaited for a bounded time (``build_timeout_s`` for the scene, ``frame_timeout_s``
    for each frame): a Blender that hangs is killed and reported as one CyclesError line, as is one
    that dies (its last words on stderr quoted), so a render never waits forever."""

    def __init__(self, command: list[str], setup_path: Path, *, frame_timeout_s: float = 3600.0,
                 build_timeout_s: float = BUILD_TIMEOUT_S):
        import queue

        self.command = command
        self.frame_timeout_s = frame_timeout_s
        self._proc = subprocess.Popen([*command, str(setup_path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, text=True, bufsize=1, process_group=0)
        self._stderr: list[str] = []
        self._replies: queue.Queue[dict[str, Any]] = queue.Queue()
        self._err_thread = threading.Thread(target=self._drain, daemon=True, name="issvis-blender-stderr")
        self._err_thread.start()
        self._out_thread = threading.Thread(target=self._listen, daemon=True, name="issvis-blender-stdout")
        self._out_thread.start()
        self.ready = self._reply(build_timeout_s, "built no scene", "the scene build's bound")
        if "ready" not in self.ready:
            raise self._failure("did not build the scene")

    def _drain(self) -> None:
        assert self._proc.stderr is not None
        for line in self._proc.stderr:
            self._stderr.append(line)
            del self._stderr[:-40]

    def _listen(self) -> None:
        """Queue the worker's messages (its other output skipped); {} once its output has ended."""
        assert self._proc.stdout is not None
        with contextlib.suppress(Exception):
            for line in self._proc.stdout:
                if line.startswith(PREFIX):
                    with contextlib.suppress(ValueError):
                        self._replies.put(dict(json.loads(line[len(PREFIX):])))
        self._replies.put({})

    def _reply(self, timeout_s: float, what: str, bound: str) -> dict[str, Any]:
        """The worker's next message, {} once it has ended; CyclesError (Blender killed) when none
        comes within ``timeout_s``."""
        import queue

        try:
            return self._replies.get(timeout=timeout_s)
        except queue.Empty:
            self._kill()
            raise CyclesError(f"Blender ({self.command[0]}) {what} in {timeout_s:g} s ({bound}) and was stopped")  \
                from None

    def _kill(self) -> None:
        """End the Blender process and its children (its own process group) now."""
        with contextlib.suppress(Exception):
            os.killpg(self._proc.pid, signal.SIGKILL)
        with contextlib.suppress(Exception):
            self._proc.kill()
        with contextlib.suppress(Exception):
            self._proc.wait(timeout=10)

    def _failure(self, what: str) -> CyclesError:
        with contextlib.suppress(Exception):
            self._proc.wait(timeout=10)
        self._err_thread.join(timeout=5)
        lines = [ln.strip() for ln in self._stderr if ln.strip()]
        last = lines[-1] if lines else f"exit status {self._proc.returncode}"
        return CyclesError(f"Blender ({self.command[0]}) {what}: {last}")

    def render(self, state: dict[str, Any]) -> dict[str, Any]:
        assert self._proc.stdin is not None
        try:
            self._proc.stdin.write(json.dumps(state) + "\n")
            self._proc.stdin.flush()
        except OSError:
            raise self._failure("stopped") from None
        reply = self._reply(self.frame_timeout_s, "rendered no frame",
                            "[render.cycles] frame_timeout_s; raise it for slower frames")
        if "done" not in reply:
            raise self._failure("failed to render a frame")
        return reply

    def close(self) -> None:
        with contextlib.suppress(Exception):
            assert self._proc.stdin is not None
            self._proc.stdin.write("\n")
            self._proc.stdin.flush()
        with contextlib.suppress(Exception):  # end of input also ends it; a dead one's pipe is closed
            assert self._proc.stdin is not None
            self._proc.stdin.close()
        try:
            self._proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait(timeout=10)
        self._err_thread.join(timeout=5)
        self._out_thread.join(timeout=5)
        for pipe in (self._proc.stdin, self._proc.stdout, self._proc.stderr):
            with contextlib.suppress(Exception):
                assert pipe is not None
                pipe.close()


def write_inputs(record: Any, settings: RenderSettings, folder: Path, preview: bool, silhouette: bool = False) -> Path:
    """The worker's set-up in ``folder``: the station GLB (``issvis export``, no camera), Earth's
    texture as a PNG (RGB Blue Marble, cloud field in alpha) and ``setup.json``; returns the latter."""
    from PIL import Image

    from ..earth import earth_texture_image
    from ..export import export_record

    cfg = settings.cycles or CyclesSettings()
    glb = folder / "station.glb"
    export_record(record, glb, rate_hz=1e-6, camera=False)  # one key: the worker poses the parts itself
    e = settings.earth
    tex = folder / "earth.png"
    if e.show and not silhouette:
        Image.fromarray(earth_texture_image(e.texture, preview, clouds=True)).save(tex, compress_level=1)
    setup = {"station_glb": str(glb), "parts": [str(n) for n in record.names], "earth": bool(e.show),
             "atmosphere": bool(e.atmosphere), "earth_texture": str(tex), "clouds": float(e.clouds),
             "earth_radius_m": EARTH_RADIUS_M, "earth_grid_deg": 1.0 if not preview else 2.0,  # 1 deg: the limb within 0.03 deg, under a 1080p pixel
             "near_m": settings.camera.near_m, "star_gain": 0.4 * settings.lighting.star_gain,
             "width_px": settings.width_px, "height_px": settings.height_px, "samples": cfg.samples,
             "denoise": cfg.denoise, "seed": cfg.seed, "device": cfg.device, "view_transform": "AgX",
             "exposure_ev": cfg.exposure_ev, "sun_strength": SUN_STRENGTH, "silhouette": silhouette}
    path = folder / "setup.json"
    path.write_text(json.dumps(setup, indent=1))
    return path


#: Blender sun strength (W/m^2) at ``lighting.sun_intensity`` 1: a white diffuse face square to the
#: Sun then reads 1.0 in scene-linear light, as the raster engine's linear light does.
SUN_STRENGTH = 1.0


@dataclass
class _NoShadows:
    """The raster Stage's one method the segment loop calls (``invalidate_shadows``): nothing to do."""

    def invalidate_shadows(self) -> None:
        return None


@dataclass
class CyclesSource:
    """The raster engine's ``FrameSource``, with Blender drawing the picture and VTK only the overlays
    over it: ``pose``, ``grab``, ``picture``, ``close``, ``clip``, ``width_px``/``height_px``."""

    plotter: Any
    worker: BlenderWorker
    clip: Any
    overlays: Any
    width_px: int
    height_px: int
    folder: Path
    mean_motion: float
    altitude_m: float
    stage: _NoShadows = field(default_factory=_NoShadows)
    out_size: tuple[int, int] | None = None
    frames: int = 0
    first_frame_s: float | None = None
    _video_s: float = 0.0

    def pose(self, video_s: float) -> None:
        self._video_s = video_s
        if self.overlays is not None:
            self.overlays.update(video_s, self.clip.sim(video_s))

    def cycles_frame(self) -> np.ndarray:
        """The frame at the posed time as Blender drew it, (H, W, 3) uint8, top row first."""
        from PIL import Image

        state = frame_state(self.clip, self._video_s, self.mean_motion, self.altitude_m)
        state["out"] = str(self.folder / f"frame{self.frames % 2}.png")
        t = time.perf_counter()
        self.worker.render(state)
        took = time.perf_counter() - t
        if self.first_frame_s is None:
            self.first_frame_s = took
            print(estimate_line(self, self.clip.n_frames), file=sys.stderr)
        self.frames += 1
        with Image.open(state["out"]) as im:
            return np.asarray(im.convert("RGB"))

    def grab(self, flipped: bool = False, into: np.ndarray | None = None) -> np.ndarray:
        """Blender's frame with the overlays drawn over it; bottom row first when ``flipped``."""
        img, lut = self.cycles_frame(), exposure_lut(self.clip.exposure_ev(self._video_s))
        if lut is not None:
            img = expose(img.copy(), lut)  # (PIL's array is read-only)
        self._set_background(img)
        rw = self.plotter.render_window
        rw.Render()
        return read_window(rw, self.width_px, self.height_px, self._buffer, flipped, into)

    def picture(self) -> np.ndarray:
        return self.grab().copy()

    def _set_background(self, img: np.ndarray) -> None:
        from vtkmodules.util.numpy_support import numpy_to_vtk

        h, w = img.shape[:2]
        data = numpy_to_vtk(np.ascontiguousarray(img[::-1]).reshape(-1, 3), deep=True)
        self._image.SetDimensions(w, h, 1)
        self._image.GetPointData().SetScalars(data)
        self._image.Modified()

    def __post_init__(self) -> None:
        import vtk

        self._buffer = vtk.vtkUnsignedCharArray()
        self._image = vtk.vtkImageData()
        tex = vtk.vtkTexture()
        tex.SetInputData(self._image)
        tex.InterpolateOff()
        tex.SetColorModeToDirectScalars()
        ren = self.plotter.renderer
        ren.SetBackgroundTexture(tex)
        ren.TexturedBackgroundOn()
        self._texture = tex

    def close(self) -> None:
        self.worker.close()
        self.plotter.close()
        shutil.rmtree(self.folder, ignore_errors=True)


def estimate_line(source: CyclesSource, n_frames: int) -> str:
    """The time estimate printed after the first frame: that frame's time times the clip's frames
    (a worker of ``--workers N`` renders about 1/N of them)."""
    per = source.first_frame_s or 0.0
    total = per * n_frames
    span = f"{total / 3600:.1f} h" if total >= 5400 else f"{total / 60:.0f} min" if total >= 90 else f"{total:.0f} s"
    return (f"cycles: first frame {per:.1f} s on {source.worker.ready.get('device', '?')}; the clip's {n_frames} "
            f"frames about {span} in one process (over N workers: 1/N of that)")


def open_cycles_source(record: Any, settings: RenderSettings, preview: bool = False,
                       title: str | None = None, silhouette: bool = False) -> CyclesSource:
    """Start Blender on this record (scene built, then waiting for frames) and the overlay window.
    ``silhouette``: every part white on black, nothing else (for the engines' agreement test)."""
    from ...core.files import make_work_folder
    from ...record.scene_of import orbit_of, title_of
    from ..camera import Clip
    from ..video import Overlays, make_plotter

    cfg = settings.cycles or CyclesSettings()
    command = blender_command(cfg)
    clip = Clip(settings, record)
    altitude_m, mean_motion = orbit_of(record)
    folder = make_work_folder("cycles")
    try:
        setup = write_inputs(record, settings, folder, preview, silhouette)
        t = time.perf_counter()
        worker = BlenderWorker(command, setup, frame_timeout_s=cfg.frame_timeout_s)
        print(f"cycles: scene built in {time.perf_counter() - t:.1f} s by Blender {worker.ready.get('blender', '?')}, "
              f"rendering on {worker.ready.get('device', '?')}, {cfg.samples} samples", file=sys.stderr)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    w, h = settings.width_px, settings.height_px
    plotter = make_plotter(w, h)
    plotter.render_window.SwapBuffersOff()
    try:
        overlays = Overlays(plotter, clip, settings, title or title_of(record))
        return CyclesSource(plotter, worker, clip, overlays, w, h, folder, mean_motion, altitude_m,
                            out_size=(w, h))
    except BaseException:
        worker.close()
        plotter.close()
        shutil.rmtree(folder, ignore_errors=True)
        raise
