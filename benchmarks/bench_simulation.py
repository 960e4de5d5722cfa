"""Simulation speed: issvis against a raw pybullet loop over the same bodies and forces.

    python benchmarks/bench_simulation.py [--repeat 3]

Reports, in one run (the machines are shared and noisy, so only ratios measured together mean
anything):
- raw: a bare loop over the two bodies of the default scene after separation (read the pose,
  apply tidal force and gravity-gradient torque, step), no recording, no contacts;
- issvis: `simulate()` of the default scene over one full orbit (5,577 s simulated), with
  recording, clearance, contact checks and the separation, as free bodies (attitude control
  off: the physics the raw loop does, the figure to compare with earlier versions);
- issvis with control: the default scene as shipped (CMG hold of the US segment, the Russian
  segment's jet hold and separation burn), which also updates the controllers every 0.5-1 s;
- the ratio of step rates, and the wall time of one orbit.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from issvis.physics.simulation import Simulator, _gravity
from issvis.scene.schema import load_scene

ROOT = Path(__file__).resolve().parent.parent
ORBIT_S = 5577.0


def raw_loop(n_steps: int) -> float:
    """Steps per second of a bare pybullet loop over the default scene's two bodies."""
    scene = load_scene(ROOT / "scenes" / "undock.toml")
    with Simulator(scene, progress=False) as sim:  # its world, emptied: only the two bodies below
        pb = sim.pb
        for body in sim.run_state.bodies:
            pb.removeBody(body.uid, physicsClientId=sim.cid)
        index = {p.name: i for i, p in enumerate(sim.station.parts)}
        bodies = []
        for k, group in enumerate(sim.station.components({"zarya/pma1"})):
            parts = [index[n] for n in group]
            bodies.append(sim._create_body(parts, np.array([0.0, -30.0 * k, 0.0]), np.eye(3),
                                           np.zeros(3), np.array([0.0, 0.0, sim.n])))
        n, dt, n2 = sim.n, sim.dt, sim.n * sim.n
        start = time.perf_counter()
        for step in range(n_steps):
            c, s = math.cos(n * step * dt), math.sin(n * step * dt)
            for body in bodies:
                pos, orn = pb.getBasePositionAndOrientation(body.uid, physicsClientId=sim.cid)
                f, tq = _gravity(body.layout.mass_kg, body.inertia, pos, orn, c, s, n2)
                pb.applyExternalForce(body.uid, -1, f, pos, pb.WORLD_FRAME, physicsClientId=sim.cid)
                pb.applyExternalTorque(body.uid, -1, tq, pb.WORLD_FRAME, physicsClientId=sim.cid)
            pb.stepSimulation(physicsClientId=sim.cid)
        return n_steps / (time.perf_counter() - start)


FREE = ["control.cmg.mode=off", "control.jets.mode=off", "jet_burn=[]"]


def issvis_orbit(overrides: list[str]) -> tuple[float, float, int]:
    """(wall time, steps per second, samples) of one orbit of the default scene."""
    scene = load_scene(ROOT / "scenes" / "undock.toml", [f"scene.duration_s={ORBIT_S}", *overrides])
    start = time.perf_counter()
    record = Simulator(scene, progress=False).run()
    wall = time.perf_counter() - start
    return wall, ORBIT_S / scene.simulation.dt_s / wall, len(record.t)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    rows = []
    for _ in range(args.repeat):  # interleaved, so that noise hits both alike
        raw = raw_loop(int(ORBIT_S / 0.1))
        wall, rate, samples = issvis_orbit(FREE)
        wall_c, rate_c, samples_c = issvis_orbit([])
        rows.append((raw, rate, wall, rate_c, wall_c))
        print(f"raw loop {raw:9.0f} steps/s | issvis free {rate:9.0f} steps/s, one orbit in {wall:5.2f} s "
              f"({samples} samples), ratio {rate / raw:.2f} | with control {rate_c:9.0f} steps/s, "
              f"{wall_c:5.2f} s ({samples_c} samples), ratio {rate_c / raw:.2f}")
    raw, rate, wall, rate_c, wall_c = (float(np.median(c)) for c in zip(*rows))
    ratio = float(np.median([r[1] / r[0] for r in rows]))  # ratios of the same repeat, then their median
    ratio_c = float(np.median([r[3] / r[0] for r in rows]))
    print(f"median: raw {raw:.0f} steps/s; issvis free {rate:.0f} steps/s (ratio {ratio:.2f}), one orbit "
          f"{wall:.2f} s wall; with control {rate_c:.0f} steps/s (ratio {ratio_c:.2f}), one orbit {wall_c:.2f} s")


if __name__ == "__main__":
    main()
