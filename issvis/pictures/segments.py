"""A clip as a row of independent H.264 segments, joined without re-encoding; the optional soundtrack.

numpy and the standard library only (ffmpeg is imageio-ffmpeg's binary, run as a process).

Every video issvis writes is made of segments of ``SEGMENT_S`` seconds, each encoded by its own
ffmpeg from a fresh encoder state, so each starts with an IDR frame and depends on no other. The
segments are joined with ffmpeg's concat demuxer (``-c:v copy``: no re-encoding, no seam). Because
a single process writes exactly the same segments as N processes or a Dask cluster would, the
joined file is the same whichever way it was rendered: ``--workers`` and ``--scheduler`` change
only where the segments are made.
"""

from __future__ import annotations

import math
import os
import subprocess
from pathlib import Path

from ..core.errors import InputError
from ..core.files import os_error_in_text

SEGMENT_S = 5.0  # video seconds per independently encoded segment


class AudioError(InputError, ValueError):
    """The --audio file or its options cannot be used; the message says why."""


def ffmpeg_exe() -> str:
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def ffmpeg_path(path: str | Path) -> str:
    """A file path as ffmpeg must be given it: absolute, with the ``file:`` protocol, so that no
    character of a folder's name (a colon, a leading dash) is read as an option or a protocol."""
    return "file:" + os.path.abspath(os.fspath(path))


def ffmpeg_failed(what: str, stderr: str, output: str | Path | None) -> Exception:
    """The exception for a failed ffmpeg: the OSError of a full or read-only disk it reports
    (exit 2 at the command line, naming output), else a RuntimeError with ffmpeg's last words."""
    found = os_error_in_text(stderr, output)
    if found is not None:
        return found
    return RuntimeError(f"ffmpeg could not {what}: {stderr.strip()[-400:]}")


def segment_bounds(n_frames: int, fps: int, segment_s: float = SEGMENT_S) -> list[tuple[int, int]]:
    """[(first, end), ...] frame ranges of the segments (end exclusive), covering 0..n_frames."""
    step = max(1, int(round(segment_s * fps)))
    return [(a, min(a + step, n_frames)) for a in range(0, n_frames, step)]


def split_blocks(segments: list[tuple[int, int]], n_blocks: int) -> list[list[int]]:
    """Segment indices in ``n_blocks`` contiguous blocks of nearly equal frame counts (none empty)."""
    n_blocks = max(1, min(n_blocks, len(segments)))
    frames = [b - a for a, b in segments]
    total = sum(frames)
    blocks: list[list[int]] = [[] for _ in range(n_blocks)]
    done = 0
    for k, f in enumerate(frames):
        left_segments = len(segments) - k
        j = min(int(done * n_blocks / total), n_blocks - 1)
        # never leave a later block without segments
        j = max(j, n_blocks - left_segments)
        blocks[j].append(k)
        done += f
    return [b for b in blocks if b]


def frame_runs(n_frames: int, n_runs: int) -> list[tuple[int, int]]:
    """Frames 0..n_frames in ``n_runs`` contiguous runs [(first, end), ...] of nearly equal length
    (the longer ones first; none empty)."""
    n_runs = max(1, min(n_runs, n_frames))
    base, extra = divmod(n_frames, n_runs)
    runs, a = [], 0
    for k in range(n_runs):
        b = a + base + (1 if k < extra else 0)
        runs.append((a, b))
        a = b
    return runs


def plan_tasks(segments: list[tuple[int, int]], n_tasks: int, finer: bool) -> tuple[str, list[list[tuple[int, int]]]]:
    """How a clip's work is cut for ``n_tasks`` parallel tasks: ``("segments", jobs)``, each job a
    contiguous block of whole segments that a worker renders and encodes; or, when ``finer`` and
    there are more tasks than segments, ``("frames", jobs)``, each job one run of frames (possibly
    across a segment's end) that a worker renders and returns raw, so that every task has work; the
    segments are then encoded from those frames in order, with the encoder inputs of one process."""
    if finer and n_tasks > len(segments) and segments:
        return "frames", [[run] for run in frame_runs(segments[-1][1], n_tasks)]
    return "segments", [[segments[k] for k in block] for block in split_blocks(segments, n_tasks)]


def encoder_params(preset: str, crf: int, scale_to: tuple[int, int] | None) -> list[str]:
    """x264 settings shared by every segment (identical settings are what make the join seamless)."""
    # scale first: the flip then moves 30 % fewer pixels (3 ms of ffmpeg CPU a frame)
    # unscaled, convert first: the flip and every filter after it then move yuv420p, half the bytes of rgb24
    # (13.5 -> 11.7 s of ffmpeg CPU per 125 blurred 1080p frames, measured)
    vf = "format=yuv420p,vflip" if scale_to is None else f"scale={scale_to[0]}:{scale_to[1]}:flags=area,vflip"
    # no B-frames: x264 codes them coarser than the P-frames between them (pbratio), and over a textured cloud
    # deck moving 10-20 px a frame that showed as a flicker of sharpness every fourth frame (mean |Laplacian|
    # over a deck crop of the 30x shot varied 11.5 % frame to frame with them, 3.8 % without; measured on 62
    # frames of the default clip: 1.3x the bytes at the same crf, the same detail as crf 22 with them)
    return ["-preset", preset, "-crf", str(crf), "-vf", vf, "-x264-params", "scenecut=0:open-gop=0:bframes=0",
            "-movflags", "+faststart"]


def check_audio(path: Path, fade_s: float) -> None:
    """Raise AudioError unless ``path`` is a file ffmpeg can decode audio from, and fade_s is sane."""
    path = Path(path)
    if not math.isfinite(fade_s) or fade_s < 0:
        raise AudioError(f"--audio-fade {fade_s:g}: expected seconds >= 0")
    if not path.is_file():
        raise AudioError(f"--audio {path}: no such file")
    probe = subprocess.run([ffmpeg_exe(), "-v", "error", "-i", ffmpeg_path(path), "-map", "0:a:0", "-t", "0.5",
                            "-f", "null", "-"], capture_output=True, text=True)
    if probe.returncode != 0:
        reason = (probe.stderr.strip().splitlines() or ["no audio stream"])[-1]
        if "matches no streams" in reason:
            reason = "it has no audio stream"
        raise AudioError(f"--audio {path}: ffmpeg cannot read audio from it ({reason})")


def join_segments(parts: list[Path], output: Path, length_s: float, audio: Path | None = None,
                  fade_s: float = 2.0) -> None:
    """Concatenate segment files into ``output`` without re-encoding the video; mux the soundtrack
    (AAC, trimmed to the clip, faded in briefly and out over ``fade_s``) when given.

    The segments must lie in one folder: the list ffmpeg reads is written there and names them
    relative to it (plain names, nothing to escape), so the folder's own name may hold any
    character (quotes, newlines).
    """
    folder = Path(parts[0]).parent
    if any(Path(p).parent != folder or "'" in Path(p).name or "\n" in Path(p).name for p in parts):
        raise ValueError("join_segments: the segments must be plainly named files of one folder")
    listing = folder / "segments.txt"
    listing.write_text("".join(f"file '{Path(p).name}'\n" for p in parts))
    cmd = [ffmpeg_exe(), "-v", "error", "-y", "-f", "concat", "-safe", "0", "-i", ffmpeg_path(listing)]
    if audio is not None:
        fade = min(fade_s, 0.5 * length_s)
        cmd += ["-i", ffmpeg_path(audio), "-map", "0:v:0", "-map", "1:a:0", "-c:v", "copy", "-c:a", "aac",
                "-b:a", "192k", "-af",
                f"afade=t=in:d=0.05,afade=t=out:st={max(length_s - fade, 0):.3f}:d={fade:.3f},apad",
                "-shortest"]  # apad + shortest: a short file is padded with silence, a long one cut
    else:
        cmd += ["-map", "0:v:0", "-c:v", "copy"]
    cmd += ["-movflags", "+faststart", "-f", "mp4", ffmpeg_path(output)]
    run = subprocess.run(cmd, capture_output=True, text=True)
    if run.returncode != 0:
        raise ffmpeg_failed("join the segments", run.stderr, output)
