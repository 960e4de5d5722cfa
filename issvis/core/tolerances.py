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

    golden_vel_mps: float = 1e-7
    """Same for velocities: 0.1 micrometre/s, so that a velocity error kept over the record's
    coarse 10 s sampling interval stays within the micrometre of the positions."""

    golden_event_time_s: float = 1e-6
    """An event's time in a golden re-run: events fall on physics steps (0.1 s by default), so any
    event that moves at all moves by a whole step, 10^5 times this bound."""

    golden_clearance_m: float = 1e-6
    """The smallest gap between the bodies: the positions' micrometre (the gap follows from them)."""

    golden_cmg_momentum_nms: float = 1e-3
    """The CMGs' stored momentum (up to their 19,520 N m s capacity): 1e-3 N m s is 5e-8 of it,
    the relative size of the positions' micrometre on the hundreds of metres the parts travel."""

    golden_propellant_kg: float = 1e-6
    """Propellant used: a milligram, where one physics step of one 130 N attitude jet burns 4.7 g."""

    internal_pair_angular_momentum_nms: float = 2.0
    """Angular momentum (about the LVLH origin, less the external angular impulse) that a spring
    push may leave behind. The old pusher, acting at two material points, made 80 N m s from
    nothing in the default scene; acting at one point it leaves 0.76 N m s (Bullet's implicit
    gyroscopic step while the push spins the sides up)."""

    contact_angular_momentum_nms: float = 1.0
    """Angular momentum (less the external angular impulse) that the contacts of a push-less
    separation (``delta_v_mps = 0``, 430 s) may create: collisions used to switch on with the
    collar 5 cm inside PMA-1 and Bullet's recovery made 35 N m s; now they wait until the sides
    are clear, and the real contact that follows leaves 0.03 N m s (0.12 N m s by 800 s)."""

    cmg_tea_hold_deg: float = 0.1
    """The docked station held in its TEA by the CMGs for one orbit: attitude error bound. The TEA
    is an exact relative equilibrium of this model (gravity gradient only), so the hold needs no
    torque: measured 4e-11 deg and 5e-7 N m s stored after 5,577 s."""

    jet_impulse_fraction: float = 0.01
    """A jet burn's impulse (thrust x duration of the jets that fire) vs the system's momentum
    change: the issue's 1 %. Limited by the record's sampling of the velocity around the burn."""

    momentum_ledger_fraction: float = 1e-3
    """Body + CMG angular momentum vs. the external angular impulse over a controlled run, as a
    fraction of the momentum the CMGs took up."""
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

    cycles_silhouette_iou: float = 0.9
    """The station's silhouette from the Cycles engine against the raster engine's at the same video
    time, intersection over union of the masks at 160x90 (tests/test_cycles.py). Measured 0.94 at
    video 3.0 s of the golden record (the masks differ by the raster's dark array cells and edge
    pixels); the same frame against the station 0.2 s / 0.8 s of video later: 0.86 / 0.69."""

    part_mesh_margin_m: float = 2.0
    """A scene's own mesh for a part may reach this far beyond the part's collision box: a detailed
    model has antennas and fittings the primitives leave out, while a mesh in millimetres or placed
    by its file's own origin misses by metres to kilometres."""

    camera_clearance_m: float = 3.0
    """How close a rendered camera may come to any part's visual bounds (its elements' boxes grown to
    hold its meshes). Closer, the hull fills the frame as an out-of-scale blur, and the near plane
    (which follows the nearest box) cuts into it; a real inspection camera (the Canadarm2's, a
    visiting vehicle's) keeps metres off. The default edit's closest approach is ~8 m."""

    subject_hidden_s: float = 0.5
    """How long a shot's subject may stay behind other parts (over half its mass occluded, ray to
    each part against the others' visual boxes): a moment as an array sweeps past reads as depth,
    longer and the viewer has lost what the shot is about (the old edit hid the Russian segment
    behind the US arrays for 3 s)."""

    camera_turn_deg_per_s: float = 8.0
    """Fastest the line of sight may turn inside one shot (cuts excepted). A viewer tracks a pan of a
    few degrees a second; the old edit's whip covered ~140 m round the station in one second
    (~60 deg/s). The default edit turns at most ~4 deg/s."""


TOLERANCES = Tolerances()
