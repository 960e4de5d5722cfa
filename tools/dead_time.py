"""Dead time of a rendered clip: the share of its seconds that show nothing new.

    python tools/dead_time.py renders/undock.mp4            # a table per second, then the share
    python tools/dead_time.py renders/undock.mp4 --json     # for scripts

Works on any MP4 (ffmpeg decodes it; imageio-ffmpeg's own binary, no issvis import). Each whole
second of video is judged on its frames, scaled to 160x90 grey (Rec. 709 luma, 0..1):

- *black*: in the middle frame of the second, at least 90 % of the pixels are under 5 % luma and
  nothing is lit: fewer than 1 % of the pixels reach 20 % luma (a fade to black, a night with nothing
  lit, a grey ghost of the station on black);
- *static*: where the picture shows something (pixels over 5 % luma in either frame), it changed by
  less than 5 % (mean absolute luma difference) between the first frame of the second and the first
  frame of the next: a held frame, a card, a shot whose subject runs along the line of sight, a
  station too dark or too small to see change. A second with under 1 % of its pixels lit is static.

A second that is either counts as dead. The thresholds were set on the edit of 1 Dec 2026 (46 s),
which a frame-by-frame review judged 38 % dead (title over a dark station, a shot along the Russian
segment, the fade to black, the end card on black); this script measured 39 % (18 of 46 s) on its
640x360 preview render. It cannot see text: a card over a moving picture is not dead here.

Until 2 Dec 2026 both rules took the whole frame: a lit station moving over a night sky counted as
black (over 90 % of its pixels are dark sky) and as static (the sky, which cannot change, diluted the
change to a tenth), so no sunset over the night side could be alive. ``--whole-frame`` measures the
old way, and it is the rule calibrated on the review: on 640x360 previews of one record it gives the
46 s edit 35 % (the review: 38 %), where the default rule gives it 17 %: the default is lenient, so
quote both. The 37 s edit of 2 Dec 2026: 16 % / 0 %; the 33.5 s edit after it: 24 % / 0 %; the edit of
3 Dec 2026 (the wide over the day side, the close across the limb): 15 % / 6 % (at 1920x1080).
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys

import numpy as np

WIDTH, HEIGHT = 160, 90
BLACK_LUMA = 0.05  # a pixel this dark (0..1) counts as black
BLACK_SHARE = 0.90  # a frame with this share of black pixels is black
STATIC_CHANGE = 0.05  # mean absolute luma change over one second below which the second is static
LIT_LUMA = 0.20  # a pixel this bright shows something lit
LIT_SHARE = 0.01  # a frame with fewer lit pixels than this shows nothing


def _ffmpeg() -> str:
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def decode(path: str) -> tuple[np.ndarray, float]:
    """(frames (N, 90, 160) float luma 0..1, frames per second) of a video."""
    ff = _ffmpeg()
    info = subprocess.run([ff, "-hide_banner", "-i", path], capture_output=True, text=True).stderr
    match = re.search(r"([\d.]+) fps", info)
    if match is None:
        raise SystemExit(f"{path}: no video stream ffmpeg can read")
    fps = float(match.group(1))
    raw = subprocess.run([ff, "-v", "error", "-i", path, "-vf", f"scale={WIDTH}:{HEIGHT}:flags=area",
                          "-f", "rawvideo", "-pix_fmt", "gray", "-"], capture_output=True, check=True).stdout
    frames = np.frombuffer(raw, np.uint8).reshape(-1, HEIGHT, WIDTH).astype(np.float32) / 255.0
    return frames, fps


def is_black(frame: np.ndarray, whole_frame: bool = False) -> bool:
    """Dark over 90 % of the frame and nothing lit in it (``whole_frame``: the dark share alone)."""
    dark = float((frame < BLACK_LUMA).mean()) >= BLACK_SHARE
    return dark if whole_frame else dark and float((frame >= LIT_LUMA).mean()) < LIT_SHARE


def change_of(first: np.ndarray, nxt: np.ndarray, whole_frame: bool = False) -> float:
    """Mean absolute luma change between two frames, over the pixels that show something (lit in either;
    0 when under ``LIT_SHARE`` of them are); ``whole_frame``: over every pixel."""
    diff = np.abs(nxt - first)
    if whole_frame:
        return float(diff.mean())
    shown = np.maximum(first, nxt) >= BLACK_LUMA
    return float(diff[shown].mean()) if shown.mean() >= LIT_SHARE else 0.0


def judge(frames: np.ndarray, fps: float, whole_frame: bool = False) -> list[dict[str, float | bool | int]]:
    """One row per whole second: luma, black share, change over the second, and the verdict."""
    rows = []
    n = len(frames)
    for k in range(int(n / fps)):
        first = frames[int(round(k * fps))]
        nxt = frames[min(n - 1, int(round((k + 1) * fps)))]
        mid = frames[min(n - 1, int(round((k + 0.5) * fps)))]
        black_share = float((mid < BLACK_LUMA).mean())
        change = change_of(first, nxt, whole_frame)
        black = is_black(mid, whole_frame)
        static = change < STATIC_CHANGE
        rows.append({"second": k, "luma": float(mid.mean()), "black_share": black_share, "change": change,
                     "black": black, "static": static, "dead": black or static})
    return rows


def longest_black_s(frames: np.ndarray, fps: float, whole_frame: bool = False) -> float:
    """The longest run of black frames (same rule as above, frame by frame), s."""
    black = [is_black(f, whole_frame) for f in frames]
    best = run = 0
    for b in black:
        run = run + 1 if b else 0
        best = max(best, run)
    return best / fps


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("video", help="an MP4 (or anything ffmpeg reads)")
    ap.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    ap.add_argument("--whole-frame", action="store_true", help="the rules before 2 Dec 2026: black and change "
                    "over the whole frame, dark sky included")
    args = ap.parse_args(argv)
    frames, fps = decode(args.video)
    rows = judge(frames, fps, args.whole_frame)
    dead = sum(r["dead"] for r in rows)
    result = {"video": args.video, "seconds": len(rows), "dead_seconds": dead,
              "dead_share": dead / max(len(rows), 1), "longest_black_s": longest_black_s(frames, fps, args.whole_frame),
              "dead": [r["second"] for r in rows if r["dead"]]}
    if args.json:
        print(json.dumps(result))
        return 0
    for r in rows:
        why = ("black" if r["black"] else "") + (" static" if r["static"] else "")
        print(f"{r['second']:4d} s  luma {r['luma']:.3f}  black {r['black_share']:4.0%}  change {r['change']:.3f}  {why}")
    print(f"{args.video}: {dead} of {len(rows)} s dead ({result['dead_share']:.0%}); "
          f"longest black {result['longest_black_s']:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
