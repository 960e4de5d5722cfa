"""What the camera response (tone, bloom, vignette, grain, motion blur) costs the encoder, per frame.

    python benchmarks/bench_grade.py [--frames 90] [--size 1920x1080]

Feeds the same frames (a rendered still of the default clip, moved a pixel each frame so that
x264 does real work) to ffmpeg with the encoder's settings, once without the grade and once with
each effect alone and all together, and prints ffmpeg's CPU time per frame (user + sys of the
child process; the renderer's process does no extra work for the grade).
"""

from __future__ import annotations

import argparse
import resource
import time

import numpy as np


def _child_cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def run(frames: np.ndarray, out_size: tuple[int, int], quality, n: int, blur: bool = False) -> tuple[float, float]:
    """ffmpeg's CPU and wall time per frame; ``blur``: every frame in one time-lapse shot (the shutter blend),
    in runs of 15 frames as the held read-out splits it at 30 fps (12-13 at 25)."""
    import imageio_ffmpeg

    from issvis.pictures.grade import blur_filter, with_grade
    from issvis.pictures.segments import encoder_params

    h, w = frames.shape[1:3]
    runs = [(min(15, n - k), True) for k in range(0, n, 15)]
    chain = blur_filter(runs, quality.motion_blur, False) if blur else ""
    params = with_grade(encoder_params(quality.preset, quality.crf, out_size), quality, out_size[1], chain)
    c0, t0 = _child_cpu_s(), time.perf_counter()
    gen = imageio_ffmpeg.write_frames("/dev/null", (w, h), fps=30, codec="libx264", pix_fmt_in="rgb24",
                                      pix_fmt_out="yuv420p", quality=None, macro_block_size=2,
                                      ffmpeg_log_level="error", output_params=[*params, "-f", "mp4"])
    gen.send(None)
    if chain:  # the blend's extra first frame (grade.blur_filter): the first frame twice
        gen.send(np.ascontiguousarray(frames[0]))
    for i in range(n):
        gen.send(np.ascontiguousarray(np.roll(frames[i % len(frames)], i, axis=1)))
    gen.close()
    return (_child_cpu_s() - c0) / n, (time.perf_counter() - t0) / n


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--frames", type=int, default=90)
    ap.add_argument("--size", default="1920x1080")
    ap.add_argument("--still", default=None, help="a PNG to use as the frame (default: a rendered one)")
    args = ap.parse_args()
    from PIL import Image

    from issvis.pictures.video import render_size
    from issvis.scene.render_settings import Quality, RenderSettings

    w, h = (int(x) for x in args.size.split("x"))
    settings = RenderSettings(width_px=w, height_px=h)
    rw, rh = render_size(settings)
    if args.still:
        img = np.asarray(Image.open(args.still).convert("RGB").resize((rw, rh)))
    else:
        rng = np.random.default_rng(0)
        img = (rng.random((rh, rw, 3)) * 255).astype(np.uint8)
    frames = img[None]
    off = Quality(tone="none", bloom=0.0, vignette=0.0, grain=0.0)
    base, _ = run(frames, (w, h), off, args.frames)
    print(f"{args.size} from {rw}x{rh}, {args.frames} frames; ffmpeg CPU per frame:")
    print(f"  no grade        {1000 * base:6.1f} ms")
    for name, q in (("tone", off.model_copy(update={"tone": "filmic"})), ("bloom", off.model_copy(update={"bloom": 0.3})),
                    ("vignette", off.model_copy(update={"vignette": 0.35})), ("grain", off.model_copy(update={"grain": 0.025})),
                    ("all (default)", Quality())):
        cpu, _ = run(frames, (w, h), q, args.frames)
        print(f"  {name:14s}  {1000 * cpu:6.1f} ms  (+{1000 * (cpu - base):.1f})")
    for name, q in (("motion blur", off.model_copy(update={"motion_blur": 0.5})), ("all + blur", Quality())):
        cpu, _ = run(frames, (w, h), q, args.frames, blur=True)
        print(f"  {name:14s}  {1000 * cpu:6.1f} ms  (+{1000 * (cpu - base):.1f})  (in a time-lapse shot)")


if __name__ == "__main__":
    main()
