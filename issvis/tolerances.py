"""Every numerical bound issvis checks itself against, in physical units, with its reason."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Tolerances:
    cw_reference_m: float = 0.01
    """A free body vs Vallado's Example 6-14 (printed to 0.1 mm): the issue's 1 cm bound. The
    leapfrog-corrected integrator measures ~0.06 mm at 300 s and 1200 s with dt = 0.1 s."""

    system_com_m: float = 0.01
    """Internal forces (pushers, contacts) must not move the system's centre of mass off its CW
    path: 1 cm over a whole scene. Measured: ~1e-12 m (forces are applied in equal pairs)."""

    segment_cw_fraction: float = 1e-3
    """After the push, each side's centre of mass vs the CW closed form from its own state, as a
    fraction of the distance it travelled (0.1 %). Limited by the half-step leapfrog start."""

    separation_speed_fraction: float = 0.01
    """Relative speed of the two sides after the push vs impulse / reduced mass (1 %). The tidal
    difference over the 2 s push adds ~0.1 %."""

    docked_drift_m: float = 1e-3
    """Parts of one rigid body must keep their distances (sub-millimetre). Measured: ~1e-12 m."""

    golden_pos_m: float = 1e-6
    """Golden records: a re-run on the same platform is bit-identical; 1 micrometre leaves room
    for another libm while catching any change of physics or scene."""

    golden_ang_deg: float = 1e-6
    """Same for orientations."""

    visual_margin_m: float = 0.5
    """Every vertex of a part's visual model lies within this distance of one of its catalogue
    primitives (what collides): handrails (0.13 m), trunnion pins (0.3 m), berthing rings on curved
    hulls (~0.25 m), Prichal's side ports (0.4 m) and engine bells stand off the primitives; half a
    metre keeps what you see within a hand's width of what collides. Visual fixtures that carry
    no collision (Canadarm2, Dextre) are held to their own declared box instead."""

    visual_triangles: int = 400_000
    """Triangle budget of the whole station's fine visual model: the CPU renderer draws 1380 frames
    at 1080p on two cores; detail goes into textures, not geometry. Measured: ~85k."""

    export_pos_m: float = 1e-3
    """glTF export vs the record at the keyframes: float32 positions (7 digits) of parts a few
    hundred metres from the origin keep ~1e-4 m; the issue's bound is 1 mm."""

    export_ang_deg: float = 0.01
    """Same for orientations: float32 quaternions keep ~1e-5 deg; the issue's bound is 0.01 deg."""

    part_mesh_margin_m: float = 2.0
    """A scene's own mesh for a part may reach this far beyond the part's collision box: a detailed
    model has antennas and fittings the primitives leave out, while a mesh in millimetres or placed
    by its file's own origin misses by metres to kilometres."""


TOLERANCES = Tolerances()
