"""Dead time of a rendered clip: the share of its seconds that show nothing new.

    python tools/dead_time.py renders/undock.mp4            # a table per second, then the share
    python tools/dead_time.py renders/undock.mp4 --json     # for scripts
    python tools/dead_time.py renders/undock.mp4 --rule whole-frame    # or where-lit: the two older rules

Works on any MP4 (ffmpeg decodes it; imageio-ffmpeg's own binary, no issvis import). Each whole
second of video is judged on its frames, scaled to 160x90 grey (Rec. 709 luma, 0..1):

- *black*: in the middle frame of the second, at least 90 % of the pixels are under 5 % luma and
  nothing is lit: fewer than 1 % of the pixels reach 20 % luma (a fade to black, a night with nothing
  lit, a grey ghost of the station on black);
- *static*: the picture changed by less than 5 % (mean absolute luma difference) between the first
  frame of the second and the first frame of the next: a held frame, a card, a shot whose subject runs
  along the line of sight, a station too dark or too small to see change. A second with under 1 % of
  its pixels lit is static.

A second that is either counts as dead. Which pixels the change is averaged over is the rule:

- ``picture`` (the default): over the whole frame when at least 35 % of it is picture (pixels reaching
  20 % luma in either frame), else over the pixels that show something (over 5 % luma). A frame that is
  mostly picture is judged as a whole, so a held subject over a slowly turning Earth is static; a lit
  subject on black sky is judged on itself, because the sky around it cannot change.
- ``whole-frame``: every pixel, dark sky included: it calls any subject on black static.
- ``where-lit``: only the pixels that show something, in every frame: it forgives a held frame whose
  few lit pixels flicker and a held subject in front of a moving Earth.

The thresholds were set on the edit of 1 Dec 2026 (46 s), which a frame-by-frame review judged 37 %
dead (17 s: the title over a dark station, a shot along the Russian segment, near-black with a grey
ghost, the end card on black). On its 640x360 render this script measures 28 % (13 s) by the picture
rule: every second the review called dead but four (the title's last two, the shot's last, the card's
fade-in), and one it did not (a slow move at 12 s); 39 % by the whole-frame rule (which also calls the
dim but moving last shot dead) and 17 % by the where-lit rule. The 35 % line is where the two
kinds of shot in that edit part: its held shot along the segment is 39-47 % picture, its dim shots
at the end 4-32 %. It cannot see text: a card over a moving picture is not dead here.
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
PICTURE_SHARE = 0.35  # the picture rule judges a frame this much lit (20 % luma) as a whole
RULES = ("picture", "whole-frame", "where-lit")


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


def is_black(frame: np.ndarray, rule: str = "picture") -> bool:
    """Dark over 90 % of the frame and nothing lit in it (the whole-frame rule: the dark share alone)."""
    dark = float((frame < BLACK_LUMA).mean()) >= BLACK_SHARE
    return dark if rule == "whole-frame" else dark and float((frame >= LIT_LUMA).mean()) < LIT_SHARE


def change_of(first: np.ndarray, nxt: np.ndarray, rule: str = "picture") -> float:
    """Mean absolute luma change between two frames over the pixels ``rule`` judges (see the module's
    docstring); over the pixels that show something, 0 when under ``LIT_SHARE`` of them do."""
    diff = np.abs(nxt - first)
    if rule == "whole-frame" or (rule == "picture"
                                 and float((np.maximum(first, nxt) >= LIT_LUMA).mean()) >= PICTURE_SHARE):
        return float(diff.mean())
    shown = np.maximum(first, nxt) >= BLACK_LUMA
    return float(diff[shown].mean()) if shown.mean() >= LIT_SHARE else 0.0


def judge(frames: np.ndarray, fps: float, rule: str = "picture") -> list[dict[str, float | bool | int]]:
    """One row per whole second: luma, black share, change over the second, and the verdict."""
    rows = []
    n = len(frames)
    for k in range(int(n / fps)):
        first = frames[int(round(k * fps))]
        nxt = frames[min(n - 1, int(round((k + 1) * fps)))]
        mid = frames[min(n - 1, int(round((k + 0.5) * fps)))]
        black_share = float((mid < BLACK_LUMA).mean())
        change = change_of(first, nxt, rule)
        black = is_black(mid, rule)
        static = change < STATIC_CHANGE
        rows.append({"second": k, "luma": float(mid.mean()), "black_share": black_share, "change": change,
                     "black": black, "static": static, "dead": black or static})
    return rows


def longest_black_s(frames: np.ndarray, fps: float, rule: str = "picture") -> float:
    """The longest run of black frames (same rule as above, frame by frame), s."""
    black = [is_black(f, rule) for f in frames]
    best = run = 0
    for b in black:
        run = run + 1 if b else 0
        best = max(best, run)
    return best / fps


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("video", help="an MP4 (or anything ffmpeg reads)")
    ap.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    ap.add_argument("--rule", choices=RULES, default="picture", help="which pixels a second's change is "
                    "averaged over (default picture: the whole frame when it is mostly picture, else the lit part)")
    ap.add_argument("--whole-frame", action="store_const", const="whole-frame", dest="rule",
                    help="the same as --rule whole-frame")
    args = ap.parse_args(argv)
    frames, fps = decode(args.video)
    rows = judge(frames, fps, args.rule)
    dead = sum(r["dead"] for r in rows)
    result = {"video": args.video, "rule": args.rule, "seconds": len(rows), "dead_seconds": dead,
              "dead_share": dead / max(len(rows), 1), "longest_black_s": longest_black_s(frames, fps, args.rule),
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
