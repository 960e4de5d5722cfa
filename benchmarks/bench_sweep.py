"""Sweep throughput: N shortened runs on a local Dask cluster vs one after another in one process.

    /work/venv/bin/python benchmarks/bench_sweep.py [--runs 100] [--duration-s 120] [--workers N]

Prints runs per minute for: serial (this process, pybullet already imported), the local cluster
including its start-up (what `issvis sweep` costs), and the cluster once started and warmed up
(each worker has imported pybullet and built the station). The grid is the misalignment plane of
the default scene, so some runs strike and take their contact checks.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from issvis.analysis import sweep as sw  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=100)
    ap.add_argument("--duration-s", type=float, default=120.0, help="simulated time of each run, s")
    ap.add_argument("--workers", type=int, default=os.cpu_count())
    args = ap.parse_args()
    scene = ROOT / "scenes" / "undock.toml"
    text = scene.read_text()
    side = max(1, round(args.runs ** 0.5))
    varies = [sw.parse_vary(f"separation.0.misalignment_deg=0:45:{side}"),
              sw.parse_vary(f"separation.0.misalignment_azimuth_deg=0:{360 - 360 / side}:{side}")]
    runs = sw.plan_runs(varies, [], None, seed=0)[: args.runs]
    base = [f"scene.duration_s={args.duration_s}"]
    print(f"{len(runs)} runs of {args.duration_s:g} s simulated time; {os.cpu_count()} cores; "
          f"local cluster of {args.workers} worker processes; load average at the start "
          + ", ".join(f"{v:.1f}" for v in os.getloadavg()))

    sw.run_one(0, text, str(scene), base, runs[0])  # warm this process (imports, station) like a worker
    t0 = time.perf_counter()
    serial = sw.run_serial(text, str(scene), base, runs)
    t_serial = time.perf_counter() - t0

    t0 = time.perf_counter()
    cold = sw.run_sweep(text, str(scene), base, runs, n_workers=args.workers, progress=False)
    t_cold = time.perf_counter() - t0

    from dask.distributed import Client

    with sw.local_cluster(args.workers) as cluster, Client(cluster) as client:
        client.run(sw.run_one, 0, text, str(scene), base, runs[0])  # warm every worker
        t0 = time.perf_counter()
        warm = sw.run_sweep(text, str(scene), base, runs, client=client, progress=False)
        t_warm = time.perf_counter() - t0

    def strip(rows):  # runtime aside; NaN as a string so that NaN equals NaN
        return [{k: ("nan" if isinstance(v, float) and v != v else v) for k, v in r.items()
                 if k not in sw.NON_REPRODUCIBLE_COLUMNS} for r in rows]

    same = strip(serial) == strip(cold) == strip(warm)
    failed = sum(bool(r["error"]) for r in serial)
    # the machine may be shared: a run's own wall time shows how much others slowed it down
    for name, t, rows in (("serial, one process", t_serial, serial), ("local cluster incl. start-up", t_cold, cold),
                          ("local cluster, warm", t_warm, warm)):
        per_run = sum(r["runtime_s"] for r in rows) / len(rows)
        print(f"{name:<30}{t:8.1f} s {60 * len(runs) / t:8.1f} runs/min  x{t_serial / t:5.2f}"
              f"   mean run {per_run:.3f} s")
    print("load average (1, 5, 15 min) at the end: " + ", ".join(f"{v:.1f}" for v in os.getloadavg()))
    print(f"tables identical (runtime column aside): {same}; failed runs: {failed}; "
          f"contacts: {sum(r['contact'] for r in serial)}")


if __name__ == "__main__":
    main()
