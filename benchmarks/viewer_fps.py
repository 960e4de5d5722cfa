"""Frame rate of the interactive viewer's window (issue 4; the numbers in docs/viewer.md).

Run on a display, or without one under Xvfb:

    xvfb-run -a -s "-screen 0 1920x1080x24" python benchmarks/viewer_fps.py renders/undock.npz

For each camera preset the window plays the record through its real event loop and timer for a
few seconds of wall time and reports the frames it drew per second; then the same with pyvista's
default 8x multisampling and with the stage's full quality (fine meshes, Earth and textures; the
window never draws shadows), to show what those cost. ``--before`` alternates each preset with the
window as it was before issue 19; ``--scale-ab`` alternates each preset drawn at full resolution
(as before the dynamic resolution) with the dynamic resolution, and prints the scale it settled at;
``--pacing-ab`` alternates each preset with the window's pacing as it was before (a repeating 15 ms
tick, so a frame of d s came every d + 15 ms or so; 0.25 d of idle after each frame; the dynamic
resolution judging the render alone, stepping down over 1.1 x 40 ms) and as it is (the timer armed
for the moment the next frame may be drawn, d / 9 of idle, the frame's whole work judged against
its share of 1 / 20 s).
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np

from issvis.pictures.viewer import SCALE_SAMPLES, SCALE_STEPS, MovingScale, ViewerWindow, check_display
from issvis.record.record import Record


class ScaleBefore(MovingScale):
    """The dynamic resolution's rule before the pacing change: a step down when the median render is
    over 1.1 x 40 ms (0.8 of a frame at 20 frames/s), up under 0.6 x 40 ms."""

    def frame(self, render_s: float, now_s: float) -> float:
        if not 0.0 < render_s < 1.0:
            return self.scale
        self._samples.append(render_s)
        if len(self._samples) < SCALE_SAMPLES:
            return self.scale
        median, budget_s = sorted(self._samples)[len(self._samples) // 2], 0.8 / 20.0
        self._samples.clear()
        if median > 1.1 * budget_s and self.step < len(SCALE_STEPS) - 1:
            self._slow_at[self.step] = now_s
            self.step += 1
        elif median < 0.6 * budget_s and self.step > 0 and now_s - self._slow_at[self.step - 1] > 5.0:
            self.step -= 1
        return self.scale


class PacedBefore(ViewerWindow):
    """The window with its pacing as before: one repeating tick every 15 ms whatever is due, a
    quarter of each frame's render time idle after it, the scale judged on the render alone."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if self.moving_scale is not None:
            self.moving_scale = ScaleBefore()

    def _arm_timer(self) -> None:
        if self._open and not getattr(self, "_ticking", False):
            self._iren().interactor.CreateRepeatingTimer(15)
            self._ticking = True

    def _on_render_end(self, *args) -> None:
        self._frame_started = None  # the render alone
        super()._on_render_end(*args)

    def render(self) -> None:
        super().render()
        self._next_frame_at = self.frame_times_s[-1] + 0.25 * self.render_durations_s[-1]


def measure(record: Record, preset: int, seconds: float, size: tuple[int, int], multi_samples: int = 0,
            preview: bool = True, start_s: float = 15.0, before: bool = False,
            dynamic: bool = True, paced_before: bool = False) -> tuple[float, float, float, float]:
    """(frames per second drawn while playing, median wall ms of one render, CPU ms per frame, the
    dynamic resolution's scale at the end; ``dynamic=False``: every frame at full resolution).

    CPU time counts every thread of the process (llvmpipe renders on all cores), so it measures
    the cost of a frame even when other work shares the machine and the wall-clock numbers drop.
    ``before``: the window as it was before issue 19 (one actor per part and material, VTK's blit of
    colour and depth to the hardware buffer). ``paced_before``: the pacing as before (PacedBefore).
    """
    window = (PacedBefore if paced_before else ViewerWindow)(record, window_size=size, preview=preview, merge=not before,
                          dynamic_resolution=dynamic and not before)
    try:
        window.plotter.render_window.SetMultiSamples(multi_samples)
        if before:
            window.plotter.render_window.SetFrameBlitModeToBlitToHardware()
        window.open()
        window.handle_key(f"preset{preset}")
        window.state.set_time(start_s)
        window.handle_key("play")
        first = len(window.frame_times_s)
        t0, cpu0 = time.perf_counter(), time.process_time()
        window.run(exit_after_s=seconds)
        frames = len(window.frame_times_s) - first
        fps = frames / (time.perf_counter() - t0)
        cpu_ms = 1000 * (time.process_time() - cpu0) / max(frames, 1)
        scale = window.scale_now
        return fps, 1000 * float(np.median(window.render_durations_s[first:])), cpu_ms, scale
    finally:
        window.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("record")
    parser.add_argument("--seconds", type=float, default=6.0, help="wall time per measurement")
    parser.add_argument("--size", default="1280x720")
    parser.add_argument("--before", action="store_true",
                        help="alternate each preset with the window before issue 19 (one actor per part and material, "
                             "colour and depth blitted to the hardware buffer)")
    parser.add_argument("--scale-ab", action="store_true",
                        help="alternate each preset at full resolution with the dynamic resolution")
    parser.add_argument("--pacing-ab", action="store_true",
                        help="alternate each preset with the pacing as before (fixed 15 ms tick, 0.25 d idle, scale on the "
                             "render at 1.1 x 40 ms) and as it is")
    parser.add_argument("--presets-only", action="store_true", help="skip the MSAA and full-quality rows")
    args = parser.parse_args()
    check_display()
    record = Record.load(args.record)
    size = tuple(int(v) for v in args.size.split("x"))
    load = os.getloadavg()[0]
    print(f"{platform.node()}: {args.size}, {args.seconds:g} s per row, playing at 10x from t = 15 s, "
          f"{os.cpu_count()} CPUs, load average {load:.1f} at the start")
    rows = [(f"preset {p}", dict(preset=p)) for p in (1, 2, 3, 4)]
    if args.before:
        rows = [r for p in (1, 2, 3, 4) for r in ((f"preset {p}, before issue 19", dict(preset=p, before=True)),
                                                  (f"preset {p}, now", dict(preset=p)))]
    elif args.scale_ab:
        rows = [r for p in (1, 2, 3, 4) for r in ((f"preset {p}, full resolution", dict(preset=p, dynamic=False)),
                                                  (f"preset {p}, dynamic resolution", dict(preset=p)))]
    elif args.pacing_ab:
        rows = [r for p in (1, 2, 3, 4) for r in ((f"preset {p}, pacing before", dict(preset=p, paced_before=True)),
                                                  (f"preset {p}, pacing now", dict(preset=p)))]
    if not args.presets_only:
        rows += [("preset 2, 8x MSAA (pyvista default)", dict(preset=2, multi_samples=8)),
                 ("preset 2, full-quality stage (no shadows)", dict(preset=2, preview=False))]
    for label, kwargs in rows:
        fps, render_ms, cpu_ms, scale = measure(record, seconds=args.seconds, size=size, **kwargs)
        print(f"  {label:<38} {fps:5.1f} frames/s   median render {render_ms:6.1f} ms   CPU {cpu_ms:6.1f} ms/frame"
              f"   scale {scale:.2f} at the end (load {os.getloadavg()[0]:.1f})", flush=True)


if __name__ == "__main__":
    main()
