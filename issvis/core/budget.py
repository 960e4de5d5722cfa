"""What one run may cost, checked before any work: steps, samples, the record's bytes, and the
size of the input files read. Each limit has its unit and its reason; a scene or record beyond
one is refused with exit 2 (``SceneError``/``RecordError``) naming the figure and the limit.
Raise a limit by changing it here (the figures are sized for a workstation, not a cluster).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Budget:
    min_dt_s: float = 1e-4
    """Shortest physics step, s: 10,000 steps per simulated second. Shorter steps gain nothing
    for the pushers (0.1 m strokes over ~2 s) or contacts, and below ~1e-300 s ``t + dt == t``:
    the run never ends."""

    max_steps: int = 100_000_000
    """Physics steps of one run: Bullet steps the station at ~10^4 per second of one core, so
    10^8 steps is about three hours. The longest shipped scene (1800 s at 0.1 s) is 18,000."""

    max_samples: int = 2_000_000
    """Samples of one record: 10 days at the default coarse 0.1 Hz is 86,400; two million keeps
    every later stage (interpolation, frames, plots) within memory."""

    max_record_bytes: int = 512 * 2**20
    """Bytes of a record's arrays in memory (and inflated from its ``.npz``): the simulator holds
    them once as lists and once as arrays, and a viewer or renderer loads them whole; 512 MiB
    keeps that within a laptop's memory. A shipped scene's record is 1-4 MB."""

    max_scene_bytes: int = 16 * 2**20
    """Bytes of a scene file: a scene is a few kilobytes of hand-written TOML."""


BUDGET = Budget()


def human_bytes(n: float) -> str:
    """n bytes as '812 GB', '3.2 MB' (decimal units, as people say sizes)."""
    for unit, size in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= size:
            return f"{n / size:.3g} {unit}"
    return f"{int(n)} B"
