"""What a Cycles frame costs: the scene build, then one frame, in wall and CPU seconds.

    python benchmarks/bench_cycles.py [RECORD] [--size 1920x1080] [--samples 64] [--at 24] [--frames 1]

Builds the Blender scene for the record (issvis's inputs: the station GLB and Earth's texture, then
Blender's import and build), renders ``--frames`` frames from video time ``--at`` s, and prints the
wall and CPU seconds of each stage (CPU: user + sys of the Blender process and its threads, read
with psutil; steadier than wall time on a shared machine), the peak memory of the Blender process,
and what the default clip would take at that cost: here (this machine's cores), on a 64-core node
(CPU-seconds over 64 cores, at the 80 % scaling Cycles reaches on many-core CPUs) and on one GPU
(the ratio of GPU to CPU rendering speed in Blender Open Data's Cycles benchmark, given by
``--gpu-speedup``, default 15x a 16-core desktop CPU for an RTX 4090 with OptiX).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    import psutil

    from issvis.pictures.camera import Clip
    from issvis.pictures.cycles import open_cycles_source, with_cycles
    from issvis.pictures.video import effective_settings
    from issvis.record.record import Record
    from issvis.record.scene_of import settings_of

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("record", nargs="?", default=str(ROOT / "renders" / "undock.npz"))
    ap.add_argument("--size", default="1920x1080")
    ap.add_argument("--samples", type=int, default=64)
    ap.add_argument("--at", type=float, default=24.0, help="video time of the first frame, s")
    ap.add_argument("--frames", type=int, default=1)
    ap.add_argument("--gpu-speedup", type=float, default=15.0,
                    help="GPU over a 16-core CPU in Blender Open Data's Cycles scores (RTX 4090 OptiX: ~15)")
    args = ap.parse_args()
    record = Record.load(args.record)
    w, h = (int(v) for v in args.size.split("x"))
    settings, title = settings_of(record)
    settings = with_cycles(effective_settings(settings, size=(w, h)), samples=args.samples)
    clip = Clip(settings, record)
    t0 = time.perf_counter()
    c0 = time.process_time()
    source = open_cycles_source(record, settings, title=title)
    build_wall = time.perf_counter() - t0
    proc = psutil.Process(source.worker._proc.pid)
    cpu = proc.cpu_times()
    build_cpu = cpu.user + cpu.system + (time.process_time() - c0)
    per_wall, per_cpu = [], []
    try:
        for k in range(args.frames):
            before = proc.cpu_times()
            t = time.perf_counter()
            source.pose(args.at + k / settings.fps)
            source.cycles_frame()
            per_wall.append(time.perf_counter() - t)
            after = proc.cpu_times()
            per_cpu.append(after.user + after.system - before.user - before.system)
        peak_mb = proc.memory_info().rss / 1e6
        device = source.worker.ready.get("device")
    finally:
        source.close()
    frame_wall, frame_cpu = sum(per_wall) / len(per_wall), sum(per_cpu) / len(per_cpu)
    n = clip.n_frames
    cores = os.cpu_count() or 1
    load = os.getloadavg()[0]
    print(f"{w}x{h}, {args.samples} samples (adaptive, OpenImageDenoise), {device}, load {load:.1f} on {cores} cores")
    print(f"scene build (issvis's inputs + Blender's import and build): {build_wall:.1f} s wall, {build_cpu:.1f} CPU-s")
    print(f"one frame at video {args.at:g} s: {frame_wall:.1f} s wall, {frame_cpu:.1f} CPU-s; "
          f"Blender's resident memory after it {peak_mb:,.0f} MB")
    print(f"the default clip, {n} frames:")
    print(f"  here ({cores} cores, CPU-s / cores): {n * frame_cpu / cores / 3600:.1f} h")
    print(f"  a 64-core node (CPU-s / 64 / 0.8): {n * frame_cpu / 64 / 0.8 / 3600:.1f} h")
    from issvis.pictures.segments import plan_tasks, segment_bounds

    segments = segment_bounds(n, settings.fps)
    kind, jobs = plan_tasks(segments, 64, finer=True)
    longest = max(sum(b - a for a, b in job) for job in jobs)
    print(f"  64 Cycles workers ({len(segments)} segments): {len(jobs)} tasks of {kind}, the longest {longest} frames, "
          f"{longest * frame_cpu / 3600:.1f} h of one worker's CPU")
    print(f"  one GPU ({args.gpu_speedup:g}x a 16-core CPU, Blender Open Data): "
          f"{n * frame_cpu / 16 / args.gpu_speedup / 60:.0f} min")


if __name__ == "__main__":
    main()
