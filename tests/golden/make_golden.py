"""Regenerate the golden records of every shipped scene (shortened runs).

    python tests/golden/make_golden.py          # from the repository root

A golden record catches regressions on top of the analytic tests in tests/test_physics.py: run
this only when a change of the physics or of a scene is intended, and say so in the commit.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(ROOT))

from issvis.physics.simulation import simulate  # noqa: E402
from issvis.scene.schema import load_scene  # noqa: E402

# Long enough to include every event of each scene (the contact starts at ~265 s).
GOLDEN_DURATION_S = {
    "undock": 300.0,
    "russian_only": 300.0,
    "soyuz_departure": 300.0,
    "misaligned_contact": 400.0,
    "cmg_saturation": 300.0,  # the CMGs saturate at ~240 s
}


def golden_scene(name: str):
    return load_scene(ROOT / "scenes" / f"{name}.toml", [f"scene.duration_s={GOLDEN_DURATION_S[name]}"])


def main() -> None:
    for name in GOLDEN_DURATION_S:
        record = simulate(golden_scene(name), progress=False)
        record.save(HERE / f"{name}.npz")
        print(f"wrote {HERE / f'{name}.npz'}: {len(record.t)} samples, {len(record.events)} events")


if __name__ == "__main__":
    main()
