"""The camera response: what a camera does to the rendered frame before it is a video.

One filmic tone curve for the whole frame (station and Earth together: a toe that keeps shadow
detail off pure black, a shoulder that rolls sunlit white off instead of clipping it), a little
bloom round sunlit white, a vignette, and film grain. Each is a ``[render.quality]`` setting
(``tone``, ``bloom``, ``vignette``, ``grain``); 0 / ``"none"`` turns it off.

Exposure (a shot's ``exposure_ev``) is the one step that is not a filter: a photographer opens up for a
dim subject (the station in the last, reddened sunlight), so the frames of that shot are scaled in
linear light before they reach the encoder (``exposure_lut``), black staying black.

Motion blur (``motion_blur``) is a shutter blend: in the time-lapse shots (``MOTION_BLUR_FACTOR`` and
faster, where Earth's ground sweeps 9-28 px a frame at 1080p) each frame is mixed with the one before
it, never across a cut (``blur_filter``: ffmpeg's ``tblend``, switched on and off frame by frame).

They run as ffmpeg filters on the luma, in the encoder's own process, after its downscale to the
video size (the renderer's process, which llvmpipe keeps busy, does no extra work), so video
frames, the poster and ``--still`` frames all go through the same chain (``grade_filters``). The
grain is ffmpeg's seeded noise: the same in every render and every segment.
"""

from __future__ import annotations

import subprocess
from typing import Any

import numpy as np

# The filmic curve, as (in, out) points on the frame's own (sRGB-encoded) values: a toe from
# 0.06 (black stays black, never lifted into a grey ghost; the darkest shadows keep a little
# separation), mid-tones a touch more contrasty, a shoulder that keeps 3 % headroom above sunlit white.
FILMIC_POINTS = ((0.0, 0.0), (0.06, 0.035), (0.25, 0.22), (0.5, 0.52), (0.78, 0.82), (0.92, 0.935), (1.0, 0.97))
BLOOM_THRESHOLD = 200  # luma (video range 16-235) above which a pixel glows
MOTION_BLUR_FACTOR = 10.0  # shots at this time factor and faster get the shutter blend


def exposure_lut(ev: float) -> np.ndarray | None:
    """(256,) uint8 table taking an sRGB-encoded value to the same light times 2**ev (clipped at white),
    or None for ev 0. Applied in place (``video.expose``)."""
    if ev == 0:
        return None
    v = np.arange(256) / 255.0
    linear = np.where(v <= 0.04045, v / 12.92, ((v + 0.055) / 1.055) ** 2.4) * 2.0**ev
    linear = np.clip(linear, 0.0, 1.0)
    encoded = np.where(linear <= 0.0031308, linear * 12.92, 1.055 * linear ** (1 / 2.4) - 0.055)
    return np.round(encoded * 255).astype(np.uint8)


def blur_filter(stretches: list[tuple[int, bool]], weight: float, lead: bool) -> str:
    """The shutter blend for one encoded segment, '' for none: ``stretches`` are (frames, blurred) runs
    of its frames between cuts, in order; each blurred frame is mixed with the frame before it (weight
    ``weight`` on that one, 1 on its own), never with a frame across a cut.

    Where the chain is not '' the encoder is fed one frame more than the segment has, first, and
    outputs one frame fewer than it is fed (ffmpeg's ``tblend`` keeps it as the "frame before"):
    with ``lead`` the frame before the segment, in the same shot (counted in the first stretch), which
    the segment's first frame is blended with; without, a repeat of the segment's first frame, which
    nothing is blended with. One filter, switched on frame by frame (its ``enable`` timeline): ffmpeg
    holds two frames, where a split into a branch per stretch queued the whole segment (0.5 GB at
    1080p)."""
    if weight <= 0 or not any(blurred for _, blurred in stretches):
        return ""
    ranges = []
    start = 0 if lead else 1  # the input frame number of the stretch's first frame (0: the extra frame)
    for count, blurred in stretches:
        if blurred and count > 1:  # every frame of the stretch but its first has its frame before in it
            ranges.append(f"between(n,{start + 1},{start + count - 1})")
        start += count
    enable = "+".join(ranges) or "0"
    return (f"tblend=all_mode=normal:all_opacity={1 / (1 + weight):.4f}:enable='{enable}',"
            "setpts=N/FRAME_RATE/TB")


def _curve_expression(points: tuple[tuple[float, float], ...]) -> str:
    """The piecewise-linear curve through ``points`` as an ffmpeg expression of a video-range luma
    ``val`` (16-235); ffmpeg evaluates it once per value into a look-up table."""
    x = "clip((val-16)/219,0,1)"
    expr = f"{points[-1][1]:.4f}"
    for (x0, y0), (x1, y1) in reversed(list(zip(points, points[1:]))):
        slope = (y1 - y0) / (x1 - x0)
        expr = f"if(lt({x},{x1:.4f}),{y0:.4f}+({x}-{x0:.4f})*{slope:.4f},{expr})"
    return f"16+219*({expr})"


def grade_filters(quality: Any, height_px: int, pix_fmt: str = "yuv420p") -> str:
    """The ffmpeg filter chain of the settings' camera response; '' for none.

    It works on luma in ``pix_fmt`` (the video's yuv420p; stills use yuv444p), where the encoder's
    scaler already converts to, so the grade adds no colour conversion of its own."""
    steps = []
    if quality.tone == "filmic":
        steps.append(f"lutyuv=y='{_curve_expression(FILMIC_POINTS)}'")
    if quality.bloom > 0:
        # the bright part (0 elsewhere: a screen with 0 changes nothing), blurred at a quarter of the
        # size, screened over the luma (chroma kept)
        sigma = max(1.0, 0.006 * height_px / 4)
        gain = 4.0 * quality.bloom
        steps.append(
            f"split[g0][g1];[g1]scale=iw/4:ih/4:flags=area,"
            f"lutyuv=y='clip((val-{BLOOM_THRESHOLD})*{gain:.3f},0,255)':u=128:v=128,gblur=sigma={sigma:.2f}[g2];"
            "[g2][g0]scale2ref=flags=bilinear[g3][g4];"
            "[g4][g3]blend=c0_mode=screen:c1_mode=normal:c2_mode=normal")
    if quality.vignette > 0:
        steps.append(f"vignette=angle={0.9 * quality.vignette:.3f}:eval=init")
    if quality.grain > 0:
        steps.append(f"noise=c0s={100 * quality.grain:.1f}:c0f=t")
    return f"format={pix_fmt}," + ",".join(steps) if steps else ""


def with_grade(output_params: list[str], quality: Any, height_px: int, blur: str = "") -> list[str]:
    """ffmpeg output parameters with the camera response (and ``blur``, a ``blur_filter`` chain, before it)
    appended to their ``-vf`` chain."""
    chain = ",".join(c for c in (blur, grade_filters(quality, height_px)) if c)
    if not chain:
        return output_params
    params = list(output_params)
    if "-vf" in params:
        k = params.index("-vf") + 1
        params[k] = f"{params[k]},{chain}"
    else:
        params += ["-vf", chain]
    return params


def grade_image(img: np.ndarray, quality: Any) -> np.ndarray:
    """One frame (H, W, 3) uint8 through the same chain as the video (for the poster and stills)."""
    chain = grade_filters(quality, img.shape[0], "yuv444p")
    if not chain:
        return img
    from .segments import ffmpeg_exe

    h, w = img.shape[:2]
    done = subprocess.run(
        [ffmpeg_exe(), "-v", "error", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{w}x{h}", "-i", "-",
         "-vf", f"{chain},format=rgb24", "-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
        input=np.ascontiguousarray(img).tobytes(), capture_output=True, check=True)
    return np.frombuffer(done.stdout, np.uint8).reshape(h, w, 3).copy()
