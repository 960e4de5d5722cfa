"""A contact sheet of a rendered clip: frames at the given video times, each labelled, in a grid.

    python tools/contact_sheet.py renders/undock.mp4 -o docs/img/edit-contact-sheet.png \\
        --at 0.5,2.5,4.9,5.0,7.5 [--frames-dir renders/frames] [--columns 4] [--width 480]

``--frames-dir`` also writes every frame at full size (``v12.50.png``), to look at one by one.
Frames are decoded by ffmpeg (imageio-ffmpeg's own binary) at the exact time asked.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path


def frame_at(video: str, at_s: float):
    """The frame shown at ``at_s`` video seconds, as a PIL image."""
    import io

    import imageio_ffmpeg
    from PIL import Image

    # -ss before -i seeks to the keyframe before and decodes from there (ffmpeg still lands on the exact
    # frame): one frame costs a GOP, not the whole clip up to it
    png = subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-ss", f"{at_s:.3f}", "-i", video,
                          "-frames:v", "1", "-f", "image2pipe", "-vcodec", "png", "-"],
                         capture_output=True, check=True).stdout
    if not png:
        raise SystemExit(f"{video}: no frame at {at_s:g} s (past the end?)")
    return Image.open(io.BytesIO(png)).convert("RGB")


def main(argv: list[str] | None = None) -> int:
    from PIL import Image, ImageDraw

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("video")
    ap.add_argument("-o", "--output", required=True, help="the sheet (.png)")
    ap.add_argument("--at", required=True, help="video times, s, comma-separated")
    ap.add_argument("--frames-dir", default=None, help="also write each frame at full size here")
    ap.add_argument("--columns", type=int, default=4)
    ap.add_argument("--width", type=int, default=480, help="width of one frame on the sheet, px")
    args = ap.parse_args(argv)
    times = [float(x) for x in args.at.split(",")]
    frames = [frame_at(args.video, t) for t in times]
    if args.frames_dir:
        out = Path(args.frames_dir)
        out.mkdir(parents=True, exist_ok=True)
        for t, im in zip(times, frames):
            im.save(out / f"v{t:05.2f}.png")
    w = args.width
    h = round(w * frames[0].height / frames[0].width)
    label = 20
    cols = args.columns
    rows = (len(frames) + cols - 1) // cols
    sheet = Image.new("RGB", (cols * w, rows * (h + label)), (24, 24, 24))
    draw = ImageDraw.Draw(sheet)
    for k, (t, im) in enumerate(zip(times, frames)):
        x, y = (k % cols) * w, (k // cols) * (h + label)
        sheet.paste(im.resize((w, h), Image.Resampling.LANCZOS), (x, y + label))
        draw.text((x + 6, y + 4), f"{t:.2f} s", fill=(255, 220, 90))
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    sheet.save(args.output)
    print(f"wrote {args.output} ({len(frames)} frames)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
