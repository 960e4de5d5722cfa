"""Rigid-body simulation of a scene in orbit with pybullet (DIRECT mode), producing a Record.

Design (see README, "Physics model"):

- Every group of parts joined by closed interfaces is **one** pybullet rigid body with a compound
  collision shape (one primitive per element), its link frame at the group's centre of mass on
  its principal axes, mass and principal inertia set explicitly. Docked parts therefore cannot
  drift apart. Opening an interface removes that body and creates one per side, each with the
  velocity of its material points (v + w x r) and the same angular rate: momentum is conserved
  by construction.
- Integration happens in the *local inertial* frame (non-rotating, falling with the reference
  point); each body feels the tidal force m n^2 (3 (r.e_r) e_r - r) at its centre of mass and the
  gravity-gradient torque 3 n^2 e_r x (I e_r). Results are rotated into LVLH when recorded.
- Bullet's integrator is symplectic Euler, i.e. leapfrog with velocities at half steps: the
  initial velocities are set half a step back and recorded velocities are brought to the sample
  time, which makes the scheme second order (sub-millimetre on Vallado's CW example).
- Spring pushers act at the interface point on each side, equal and opposite, until their
  impulse mu * delta_v is delivered. Contacts between separate bodies are Bullet's; collisions
  between the two sides of a just-opened interface start once its faces are ``contact_grace_m``
  apart, since the docking hardware between them is not modelled, or sooner, once the faces move
  together again (``GRACE_CLOSING_M``: a burn back into the station makes contact).
- Every force is a *provider* (gravity, pushers, burns, and the attitude control of
  ``control.py``): it adds forces and torques computed from the state, and reports its events
  to the one event log (``Simulator._event``). The world exists from construction on.
- The station (collision primitives, mass properties, content hash) comes from
  ``assets.load_station_assets``.
"""

from __future__ import annotations

import contextlib
import json
import math
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from ..core.errors import InputError
from ..core.files import make_work_folder, remove_work_folder, terminate_unwinds
from ..core.frames import (
    body_to_lvlh,
    lvlh_axes_in_inertial,
    matrix_to_quat,
    mean_motion_rad_s,
    rotation_from_z,
    rotvec,
    tilted,
    unit_quat_to_matrix,
)
from ..record.record import Record, check_event_kind
from ..scene.schema import Scene
from ..station.actuators import station_jets
from ..station.assets import StationAssets, composite_mass_properties, element_bounds, load_station_assets
from ..station.catalogue import Element, Interface, Station
from .control import (
    CmgLaw,
    PhasePlane,
    attitude_jet_table,
    reference_toward,
    select_burn_jets,
    torque_equilibrium_attitude,
)


class SimulationError(InputError, RuntimeError):
    """The physics went wrong (non-finite state): a bug or an unphysical scene."""


CONTACT_RESTITUTION = 0.2
"""Bullet restitution of every body: a contact between aluminium shells and arrays gives back
a fifth of the approach speed (an estimate; no docking-contact data for these modules)."""

CONTACT_FRICTION = 0.5
"""Bullet's Coulomb friction coefficient between bodies (metal on metal, estimate)."""

GRACE_CLEARANCE_M = 0.01
"""Collisions between the two sides of an opened interface start once, beyond ``contact_grace_m``
between the interface points, no two elements of the sides are closer than this (1 cm)."""

VHACD_TIMEOUT_S = 300.0
"""Longest a convex decomposition of a scene's own mesh may take, s: V-HACD decomposes a detailed
spacecraft model in seconds; a mesh it cannot decompose spins for many minutes or crashes."""

GRACE_CLOSING_M = 0.01
"""The grace window also ends (the sides being clear) once the interface points have closed this
much (1 cm) from the widest they were since opening: the faces move together again (a burn back
into the station), and without collisions the sides would pass through each other."""

CONTACT_FREE_MIN_CLEARANCE_M = 1.0
"""Contact queries are skipped between samples only while the clearance exceeds this."""

CONTACT_FREE_MARGIN_M = 0.5
"""Of the clearance, this much is kept as margin when planning how long no contact can start."""

CONTACT_FREE_SPEED_MPS = 0.01
"""Added to the bound on closing speed when planning contact-free coasting."""


@dataclass(frozen=True)
class BodyLayout:
    """How a group of parts forms one rigid body (plain data, computed without pybullet).

    com_m : (3,) station frame.  axes : (3, 3) principal axes as columns, station frame.
    principal_inertia_kg_m2 : (3,).  part_offsets_m : (k, 3) part centres of mass in the body
    (principal) frame. Every part's local frame has the station axes, so the body frame maps to
    a part frame by ``axes`` alone.
    """

    parts: tuple[int, ...]
    mass_kg: float
    com_m: np.ndarray
    axes: np.ndarray
    principal_inertia_kg_m2: np.ndarray
    part_offsets_m: np.ndarray


def body_layout(station: Station, part_indices: list[int], props=None) -> BodyLayout:
    """The rigid body made of these parts. ``props``: name -> (mass_kg, com_m, inertia_kg_m2),
    by default the station assets' parts."""
    props = props if props is not None else load_station_assets(visuals=False).parts
    names = [station.parts[i].name for i in part_indices]
    mass, com, inertia = composite_mass_properties(props, names)
    coms = np.array([props[n].com_m for n in names], float)
    moments, axes = np.linalg.eigh(inertia)
    for k in range(3):  # a sign convention so the layout is reproducible
        if axes[np.argmax(np.abs(axes[:, k])), k] < 0:
            axes[:, k] = -axes[:, k]
    if np.linalg.det(axes) < 0:
        axes[:, 2] = -axes[:, 2]
    offsets = (coms - com) @ axes
    return BodyLayout(tuple(part_indices), mass, com, axes, moments, offsets)


# --- live state ----------------------------------------------------------------------------
@dataclass
class _Body:
    uid: int
    layout: BodyLayout
    root: int  # catalogue index of its first part: a stable label for the record
    inertia: tuple[float, float, float] = (0.0, 0.0, 0.0)  # principal moments as floats (hot path)
    radius_m: float = 0.0  # bounding radius about the centre of mass

    def __post_init__(self) -> None:
        i = self.layout.principal_inertia_kg_m2
        self.inertia = (float(i[0]), float(i[1]), float(i[2]))


@dataclass
class _Pusher:
    child_part: int
    parent_part: int
    child_point_m: np.ndarray  # in the child part's local frame
    parent_point_m: np.ndarray  # in the parent part's local frame
    direction_part: np.ndarray  # unit push direction on the child, parent part's local frame
    force_n: float
    impulse_left_ns: float
    impulse_total_ns: float
    reduced_mass_kg: float
    interface: str
    grace_m: float
    tip_off_rad_s: float = 0.0
    tip_off_axis_part: np.ndarray | None = None  # rotation axis of the tip-off, parent part's frame
    tip_off_impulse_nms: np.ndarray | None = None  # angular impulse on the child, inertial frame
    pushing: bool = True
    grace: bool = True
    widest_gap_m: float = 0.0  # widest the interface points have been apart during grace


@dataclass
class _Run:
    bodies: list[_Body] = field(default_factory=list)
    part_body: dict[int, int] = field(default_factory=dict)  # part -> index in bodies


def _body_urdf(elements: list[Element], com_m: np.ndarray, axes: np.ndarray, mass_kg: float,
               inertia_kg_m2: np.ndarray, pb, mesh_files: tuple[Path, ...] = ()) -> str:
    """A one-link URDF whose link frame is at ``com_m`` with ``axes`` (columns, station frame):
    inertial frame at the link origin, one collision element per primitive, and one per convex
    decomposition in ``mesh_files`` (OBJ of convex pieces, vertices in the station frame)."""
    to_body = axes.T  # station frame -> link frame
    ixx, iyy, izz = (repr(float(v)) for v in inertia_kg_m2)
    lines = ['<?xml version="1.0"?>', '<robot name="body">', '  <link name="body">',
             '    <inertial><origin xyz="0 0 0" rpy="0 0 0"/>',
             f'      <mass value="{float(mass_kg)!r}"/>',
             f'      <inertia ixx="{ixx}" ixy="0" ixz="0" iyy="{iyy}" iyz="0" izz="{izz}"/></inertial>']
    for e in elements:
        if not e.collides:
            continue
        if e.shape in ("cylinder", "frustum"):
            p0, p1 = np.asarray(e.p0_m), np.asarray(e.p1_m)
            length = float(np.linalg.norm(p1 - p0))
            centre = (p0 + p1) / 2
            orient = to_body @ rotation_from_z((p1 - p0) / length)
            radius = max(e.radius_m, e.radius1_m) if e.shape == "frustum" else e.radius_m
            geometry = f'<cylinder radius="{radius!r}" length="{length!r}"/>'
        elif e.shape == "sphere":
            centre, orient = np.asarray(e.p0_m), np.eye(3)
            geometry = f'<sphere radius="{e.radius_m!r}"/>'
        else:
            centre, orient = np.asarray(e.p0_m), to_body
            ex, ey, ez = (repr(float(v)) for v in e.extents_m)
            geometry = f'<box size="{ex} {ey} {ez}"/>'
        xyz = " ".join(repr(float(v)) for v in (centre - com_m) @ axes)
        rpy = " ".join(repr(float(v)) for v in pb.getEulerFromQuaternion(matrix_to_quat(orient).tolist()))
        lines.append(f'    <collision><origin xyz="{xyz}" rpy="{rpy}"/><geometry>{geometry}</geometry></collision>')
    for mesh in mesh_files:
        xyz = " ".join(repr(float(v)) for v in (-np.asarray(com_m)) @ axes)
        rpy = " ".join(repr(float(v)) for v in pb.getEulerFromQuaternion(matrix_to_quat(to_body).tolist()))
        lines.append(f'    <collision><origin xyz="{xyz}" rpy="{rpy}"/>'
                     f'<geometry><mesh filename="{mesh}"/></geometry></collision>')
    lines += ['  </link>', '</robot>', '']
    return "\n".join(lines)


# --- force providers ---------------------------------------------------------------------------
# A provider adds forces and torques (inertial frame, about each body's centre of mass) computed
# from the state; ``busy(step)`` says whether it acts at this step (the coasting hot path runs
# only while no provider but gravity is busy); ``events(t, step)`` reports what happened during
# the step just computed and does the provider's own bookkeeping (impulse spent, burns started).
Event = tuple[float, str, dict[str, Any]]  # (t_s, kind, data) as the record's events list has them


class ForceProvider(Protocol):
    """What the simulator asks of each force provider, in the order of ``Simulator.providers``."""

    #: whether its forces come from outside the system (gravity, burns, jets): they change the
    #: angular momentum the momentum ledger tracks; internal ones (pushers, CMGs) must not
    external: bool

    def add(self, t: float, step: int, states: list[tuple], forces: list, torques: list) -> None:
        """Add this provider's forces and torques at time t to each body's entries."""

    def events(self, t: float, step: int) -> list[Event]:
        """What happened during the step just computed (its own bookkeeping done)."""


class _Gravity:
    """Tidal force m n^2 (3 (r.e_r) e_r - r) and gravity-gradient torque on every body (see
    ``_gravity``; the coasting hot path inlines the same call with plain floats)."""

    external = True

    def __init__(self, sim: Simulator):
        self.sim = sim

    def busy(self, step: int) -> bool:
        return False

    def add(self, t: float, step: int, states: list[tuple], forces: list, torques: list) -> None:
        sim = self.sim
        c, s = math.cos(sim.n * t), math.sin(sim.n * t)
        for k, body in enumerate(sim.run_state.bodies):
            pos, orn = sim.pb.getBasePositionAndOrientation(body.uid, physicsClientId=sim.cid)
            f, tq = _gravity(body.layout.mass_kg, body.inertia, pos, orn, c, s, sim.n * sim.n)
            forces[k] = forces[k] + np.array(f)
            torques[k] = torques[k] + np.array(tq)

    def events(self, t: float, step: int) -> list:
        return []


class _Pushers:
    external = False
    """Spring pushers of opened interfaces: equal and opposite forces at one point until their
    impulse is delivered, and an optional tip-off couple."""

    def __init__(self, sim: Simulator):
        self.sim = sim
        self.items: list[_Pusher] = []

    def busy(self, step: int) -> bool:
        return any(p.pushing for p in self.items)

    def add(self, t: float, step: int, states: list[tuple], forces: list, torques: list) -> None:
        sim = self.sim
        run = sim.run_state
        for pusher in self.items:
            if not pusher.pushing:
                continue
            impulse = min(pusher.force_n * sim.dt, pusher.impulse_left_ns)
            f_mag = impulse / sim.dt
            kc = run.part_body[pusher.child_part]
            kp = run.part_body[pusher.parent_part]
            # the push direction is fixed to the parent side (the pusher's housing)
            lp = run.bodies[kp].layout
            d_world = states[kp][1] @ (lp.axes.T @ pusher.direction_part)
            f = f_mag * d_world
            # an internal pair acts at ONE point (else it makes angular momentum from nothing):
            # midway between the interface's material points on the two sides
            pc = sim._part_point_world(pusher.child_part, pusher.child_point_m, states)
            pp = sim._part_point_world(pusher.parent_part, pusher.parent_point_m, states)
            point = 0.5 * (pc + pp)
            forces[kc] = forces[kc] + f
            torques[kc] = torques[kc] + np.cross(point - states[kc][0], f)
            forces[kp] = forces[kp] - f
            torques[kp] = torques[kp] + np.cross(point - states[kp][0], -f)
            if pusher.tip_off_rad_s > 0:
                # a couple, equal and opposite, that adds the tip-off rate to the child side
                if pusher.tip_off_impulse_nms is None:
                    rot_c = states[kc][1]
                    inertia_c = rot_c @ np.diag(run.bodies[kc].layout.principal_inertia_kg_m2) @ rot_c.T
                    axis_world = states[kp][1] @ (lp.axes.T @ pusher.tip_off_axis_part)
                    pusher.tip_off_impulse_nms = inertia_c @ (pusher.tip_off_rad_s * axis_world)
                couple = pusher.tip_off_impulse_nms * (impulse / pusher.impulse_total_ns) / sim.dt
                torques[kc] = torques[kc] + couple
                torques[kp] = torques[kp] - couple

    def events(self, t: float, step: int) -> list[tuple[float, str, dict]]:
        out = []
        for pusher in self.items:
            if not pusher.pushing:
                continue
            pusher.impulse_left_ns -= min(pusher.force_n * self.sim.dt, pusher.impulse_left_ns)
            if pusher.impulse_left_ns <= 1e-12 * max(1.0, pusher.impulse_total_ns):
                pusher.pushing = False
                out.append((t + self.sim.dt, "pusher_end", dict(
                    interface=pusher.interface, impulse_ns=pusher.impulse_total_ns,
                    reduced_mass_kg=pusher.reduced_mass_kg,
                    delta_v_mps=pusher.impulse_total_ns / pusher.reduced_mass_kg)))
        return out


class _Burns:
    external = True
    """The scene's ``[[burn]]`` tables: a thrust fixed to one part's axes, through its centre of mass."""

    def __init__(self, sim: Simulator):
        self.sim = sim
        dt = sim.dt
        names = sim.station.part_names
        self.items = [(int(round(b.t_s / dt)), int(round(b.t_s / dt)) + max(1, int(round(b.duration_s / dt))), b,
                       names.index(b.part)) for b in sim.scene.burn]

    def busy(self, step: int) -> bool:
        return any(start <= step <= end for start, end, _, _ in self.items)

    def add(self, t: float, step: int, states: list[tuple], forces: list, torques: list) -> None:
        run = self.sim.run_state
        for start, end, burn, part in self.items:
            if start <= step < end:
                k = run.part_body[part]
                layout = run.bodies[k].layout
                d = np.asarray(burn.direction_body, float)
                d = d / np.linalg.norm(d)
                f = burn.thrust_n * (states[k][1] @ (layout.axes.T @ d))
                j = layout.parts.index(part)
                arm = states[k][1] @ layout.part_offsets_m[j]
                forces[k] = forces[k] + f
                torques[k] = torques[k] + np.cross(arm, f)

    def events(self, t: float, step: int) -> list[tuple[float, str, dict]]:
        out = []
        dt = self.sim.dt
        for start, end, burn, _ in self.items:
            if step == start:
                out.append((t, "burn_start", dict(part=burn.part, thrust_n=burn.thrust_n, duration_s=(end - start) * dt)))
            if step == end:
                out.append((t, "burn_end", dict(part=burn.part, impulse_ns=burn.thrust_n * (end - start) * dt)))
        return out


class _Cmgs:
    """The CMGs on ``control.cmg.part``: an internal torque on the body that carries them, taken
    from (and stored in) their momentum store ``h``, inertial frame. See control.CmgLaw."""

    external = False

    def __init__(self, sim: Simulator):
        self.sim = sim
        cfg = self.cfg = sim.scene.control.cmg
        self.on = cfg.mode != "off"
        self.part = sim.station.part_names.index(cfg.part)
        self.law = CmgLaw(cfg.bandwidth_rad_s, cfg.damping_ratio, cfg.torque_limit_nm, cfg.capacity_nms)
        self.h = np.zeros(3)  # stored momentum, inertial frame, N m s (booked to ``last_step``)
        self.u = np.zeros(3)  # torque on the body now, inertial frame
        self.u_start: np.ndarray | None = None  # the torque of the leapfrog's half step back
        self.last_step = 0
        self.saturated = False
        self.parts: tuple[int, ...] = ()
        self.body = -1
        self.ref = np.eye(3)  # reference attitude, body principal frame -> LVLH
        self.goal = np.eye(3)
        self.period_s = cfg.period_s
        self.due_step = 0
        self.start_info: dict = {}

    def next_update_step(self, step: int) -> int:
        return 1 << 62

    def body_changed(self) -> bool:
        run = self.sim.run_state
        return self.on and run.bodies[run.part_body[self.part]].layout.parts != self.parts

    def busy(self, step: int) -> bool:
        return False

    def goal_for(self, layout: BodyLayout) -> np.ndarray:
        """The attitude (body principal frame -> LVLH) the CMGs hold this body at."""
        named = body_to_lvlh(self.cfg.attitude, self.cfg.attitude_offset_ypr_deg) @ layout.axes
        if self.cfg.mode == "hold":
            return named
        seps = self.sim.scene.separation
        if self.cfg.start_attitude == "tea_after_split" and seps:
            # while docked: the TEA of the side that keeps the CMGs after the first separation, so that
            # side is in its own TEA when the hooks open (expressed for this body's principal frame)
            station = self.sim.station
            group = next(g for g in station.components({station.interface(seps[0].interface).name})
                         if station.part_names[self.part] in g)
            side = self.sim._layout(sorted(station.part_names.index(n) for n in group))
            if len(side.parts) < len(layout.parts):
                named_side = body_to_lvlh(self.cfg.attitude, self.cfg.attitude_offset_ypr_deg) @ side.axes
                tea = torque_equilibrium_attitude(np.diag(side.principal_inertia_kg_m2), self.sim.n, named_side)
                return tea @ side.axes.T @ layout.axes
        return torque_equilibrium_attitude(np.diag(layout.principal_inertia_kg_m2), self.sim.n, named)

    def stored_nms(self, step: int) -> np.ndarray:
        """Stored momentum at the time of ``step`` (leapfrog-consistent with the bodies)."""
        u0 = self.u_start if self.u_start is not None else self.u
        return self.h - self.u * ((step - self.last_step) * self.sim.dt) - 0.5 * self.sim.dt * (self.u - u0)

    def update(self, t: float, step: int, states: list[tuple]) -> None:
        sim = self.sim
        self.h = self.h - self.u * ((step - self.last_step) * sim.dt)
        self.last_step = step
        self.u = np.zeros(3)
        if not self.on or self.saturated:
            return
        k = sim.run_state.part_body[self.part]
        body = sim.run_state.bodies[k]
        x, rot, v, w = states[k]
        lvlh = lvlh_axes_in_inertial(sim.n, t)
        attitude = lvlh.T @ rot  # body principal -> LVLH now
        if body.layout.parts != self.parts:  # a new body: the station, or a side after a separation
            first = not self.parts
            self.parts, self.body = body.layout.parts, k
            self.goal = self.goal_for(body.layout)
            self.ref = attitude
            info = {"mode": self.cfg.mode, "parts": [sim.station.parts[i].name for i in self.parts],
                    "goal_from_named_deg": float(np.degrees(np.linalg.norm(rotvec(
                        self.goal @ (body_to_lvlh(self.cfg.attitude, self.cfg.attitude_offset_ypr_deg)
                                     @ body.layout.axes).T)))),
                    "goal_from_now_deg": float(np.degrees(np.linalg.norm(rotvec(self.goal @ attitude.T))))}
            if first:  # the station as the scene starts: in the record's meta, not an event at t = 0
                self.start_info = info
            else:
                sim._event(t, "cmg_control", **info)
        self.body = k
        self.ref = reference_toward(self.ref, self.goal, math.radians(self.cfg.slew_rate_deg_s) * self.cfg.period_s)
        error = rotvec(rot @ (lvlh @ self.ref).T)
        rate = w - np.array([0.0, 0.0, sim.n])
        inertia = rot @ np.diag(body.layout.principal_inertia_kg_m2) @ rot.T
        u = self.law.torque(inertia, error, rate)
        if np.linalg.norm(self.h - u * self.cfg.period_s) > self.law.capacity_nms:
            self.saturated = True
            sim._event(t, "cmg_saturated", stored_momentum_nms=float(np.linalg.norm(self.h)),
                       capacity_nms=self.law.capacity_nms, attitude_error_deg=float(np.degrees(np.linalg.norm(error))))
            return
        self.u = u

    def error_deg(self, t: float, states: list[tuple]) -> float:
        if not self.on or not self.parts or self.body >= len(states):
            return math.nan
        rot = states[self.body][1]
        return float(np.degrees(np.linalg.norm(rotvec(rot @ (lvlh_axes_in_inertial(self.sim.n, t) @ self.ref).T))))

    def add(self, t: float, step: int, states: list[tuple], forces: list, torques: list) -> None:
        if self.u_start is None:
            self.u_start = self.u.copy()
        if self.u.any():
            torques[self.body] = torques[self.body] + self.u

    def held(self) -> dict[int, tuple[np.ndarray, np.ndarray]]:
        return {self.body: (np.zeros(3), self.u)} if self.u.any() else {}

    def events(self, t: float, step: int) -> list:
        return []


class _Jets:
    """Thrusters (``station.actuators.station_jets``): the ROS attitude hold and the scene's ``[[jet_burn]]``.
    External forces; each firing jet burns thrust / (Isp g0) kg/s."""

    external = True

    def __init__(self, sim: Simulator):
        self.sim = sim
        self.cfg = sim.scene.control.jets
        names = sim.station.part_names
        self.jets = station_jets(sim.station)
        self.part = np.array([names.index(j.part) for j in self.jets])
        self.pos_local = np.array([np.subtract(j.pos_station_m, sim.props[j.part].com_m) for j in self.jets])
        self.dir = np.array([j.thrust_dir_station for j in self.jets])
        self.thrust = np.array([j.thrust_n for j in self.jets])
        self.mdot = np.array([j.mass_flow_kg_s for j in self.jets])
        self.carriers = sorted({j.part for j in self.jets}, key=names.index)
        self.propellant = np.zeros(len(self.carriers))
        self.carrier_of = np.array([self.carriers.index(j.part) for j in self.jets])
        self.firing = np.zeros(len(self.jets), bool)
        self.on_since: dict[int, float] = {}
        self.pulses: list[tuple[int, float, float]] = []
        self.burns = [(int(round(b.t_s / sim.dt)), int(round(b.t_s / sim.dt)) + max(1, int(round(b.duration_s / sim.dt))), b)
                      for b in sim.scene.jet_burn]
        self.burn_done: set[int] = set()
        self.hold_parts: tuple[int, ...] = ()
        self.hold_body = -1
        self.target = np.eye(3)
        self.phase = PhasePlane(math.radians(self.cfg.deadband_deg), self.cfg.rate_gain_s,
                                math.radians(self.cfg.max_rate_deg_s))
        self.table: dict = {}
        self.forces: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        self._frames: dict[tuple[int, ...], tuple[np.ndarray, np.ndarray]] = {}
        self.last_step = 0
        self.error = math.nan
        self.held_part = names.index(self.cfg.part)
        self.used = self.on = bool(self.burns) or self.cfg.mode != "off"
        self.period_s = self.cfg.period_s if self.cfg.mode != "off" else 1e9
        self.due_step = 0

    def body_changed(self) -> bool:
        run = self.sim.run_state
        return self.cfg.mode == "hold" and run.bodies[run.part_body[self.held_part]].layout.parts != self.hold_parts

    def busy(self, step: int) -> bool:
        return False

    def next_update_step(self, step: int) -> int:
        """The next step that must see an update (burn edges), else a large number."""
        edges = [s for start, end, _ in self.burns for s in (start, end) if s > step]
        return min(edges, default=1 << 62)

    def _book(self, step: int) -> None:
        elapsed = (step - self.last_step) * self.sim.dt
        if elapsed > 0 and self.firing.any():
            np.add.at(self.propellant, self.carrier_of[self.firing], self.mdot[self.firing] * elapsed)
        self.last_step = step

    def _body_frame(self, k: int, jets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Positions (relative to the body's centre of mass) and unit thrust directions of jets, body frame."""
        layout = self.sim.run_state.bodies[k].layout
        cached = self._frames.get(layout.parts)
        if cached is None:
            mine = np.flatnonzero(np.isin(self.part, layout.parts))
            rows = [layout.parts.index(int(p)) for p in self.part[mine]]
            r_all = np.full((len(self.jets), 3), np.nan)
            d_all = np.full((len(self.jets), 3), np.nan)
            r_all[mine] = layout.part_offsets_m[rows] + self.pos_local[mine] @ layout.axes
            d_all[mine] = self.dir[mine] @ layout.axes
            cached = self._frames[layout.parts] = (r_all, d_all)
        return cached[0][jets], cached[1][jets]

    def update(self, t: float, step: int, states: list[tuple]) -> None:
        if not self.used:
            return
        sim = self.sim
        run = sim.run_state
        self._book(step)
        fire = np.zeros(len(self.jets), bool)
        for i, (start, end, burn) in enumerate(self.burns):
            if step == start:
                sim._event(t, "jet_burn_start", part=burn.part, direction_body=list(burn.direction_body))
            if start <= step < end:
                mine = np.flatnonzero(self.part == sim.station.part_names.index(burn.part))
                k = run.part_body[int(self.part[mine[0]])]
                _, d = self._body_frame(k, mine)
                layout = run.bodies[k].layout
                wanted = layout.axes.T @ np.asarray(burn.direction_body, float)
                chosen = mine[select_burn_jets(d, wanted, [self.jets[j].group for j in mine])]
                fire[chosen] = True
            if step >= end and i not in self.burn_done:
                self.burn_done.add(i)
                mine = np.flatnonzero(self.part == sim.station.part_names.index(burn.part))
                k = run.part_body[int(self.part[mine[0]])]
                _, d = self._body_frame(k, mine)
                chosen = mine[select_burn_jets(d, run.bodies[k].layout.axes.T @ np.asarray(burn.direction_body, float),
                                               [self.jets[j].group for j in mine])]
                duration = (end - start) * sim.dt
                impulse = float(np.linalg.norm(self.dir[chosen].T @ self.thrust[chosen])) * duration
                sim._event(t, "jet_burn_end", part=burn.part, jets=[self.jets[j].name for j in chosen],
                           impulse_ns=impulse, propellant_kg=float(self.mdot[chosen].sum() * duration),
                           duration_s=duration)
        self.error = math.nan
        if self.cfg.mode == "hold":
            k = run.part_body[self.held_part]
            body = run.bodies[k]
            cmgs = sim.cmgs
            if not (cmgs.on and not cmgs.saturated and cmgs.part in body.layout.parts):
                x, rot, v, w = states[k]
                lvlh = lvlh_axes_in_inertial(sim.n, t)
                if body.layout.parts != self.hold_parts:  # take over this body: hold its attitude now
                    self.hold_parts, self.hold_body = body.layout.parts, k
                    self.target = lvlh.T @ rot
                    mine = np.flatnonzero(np.isin(self.part, [sim.station.part_names.index(p) for p in self.cfg.jet_parts])
                                          & np.isin(self.part, body.layout.parts)
                                          & np.array([j.group == "attitude" for j in self.jets]))
                    r, d = self._body_frame(k, mine)
                    # in the station axes the vehicles' jets are laid out in (principal axes can be tilted)
                    torques = np.cross(r, d * self.thrust[mine, None]) @ body.layout.axes.T
                    self.table = {key: [int(mine[j]) for j in js] for key, js in attitude_jet_table(torques).items()}
                    sim._event(t, "jet_hold_start", parts=[sim.station.parts[i].name for i in body.layout.parts],
                               jets=len(mine))
                self.hold_body = k
                to_axes = body.layout.axes @ rot.T  # inertial -> station axes of the body
                error_body = to_axes @ rotvec(rot @ (lvlh @ self.target).T)
                rate_body = to_axes @ (w - np.array([0.0, 0.0, sim.n]))
                self.error = float(np.degrees(np.linalg.norm(error_body)))
                for axis, sign in enumerate(self.phase.command(error_body, rate_body)):
                    if sign:
                        fire[self.table.get((axis, int(sign)), [])] = True
        for j in np.flatnonzero(fire & ~self.firing):
            self.on_since[int(j)] = t
        for j in np.flatnonzero(self.firing & ~fire):
            self.pulses.append((int(j), self.on_since.pop(int(j)), t))
        self.firing = fire
        self.forces = {}
        firing = np.flatnonzero(fire)
        for k in sorted({run.part_body[int(p)] for p in self.part[firing]}):
            jets = firing[np.isin(self.part[firing], run.bodies[k].layout.parts)]
            r, d = self._body_frame(k, jets)
            f_body = d * self.thrust[jets, None]
            rot = states[k][1]
            self.forces[k] = (rot @ f_body.sum(axis=0), rot @ np.cross(r, f_body).sum(axis=0))

    def finish(self, t: float, step: int) -> None:
        self._book(step)
        for j, since in sorted(self.on_since.items()):
            self.pulses.append((j, since, t))
        self.on_since = {}

    def add(self, t: float, step: int, states: list[tuple], forces: list, torques: list) -> None:
        for k, (f, tq) in self.forces.items():
            forces[k] = forces[k] + f
            torques[k] = torques[k] + tq

    def held(self) -> dict[int, tuple[np.ndarray, np.ndarray]]:
        return self.forces

    def events(self, t: float, step: int) -> list:
        return []


class Simulator:
    """One scene run. The pybullet world exists from construction; ``run()`` steps it to the end,
    returns the Record and releases the world (or use ``close()`` / a ``with`` block)."""

    def __init__(self, scene: Scene, assets: StationAssets | None = None, progress: bool | None = None,
                 track_momentum: bool = False):
        """``track_momentum``: step every step through the general path and keep a ledger of the
        external angular impulse (record key ``external_angular_impulse_nms``), for tests."""
        check_budget(scene)  # before pybullet, assets or any step
        self.scene = scene
        self.track_momentum = track_momentum
        self.external_impulse_nms = np.zeros(3)  # sum of (x F + tau) dt of external providers so far
        self._external_moment_start: np.ndarray | None = None
        self.assets = assets or load_station_assets(visuals=False)
        self.station = self.assets.station
        self.props = self.assets.parts
        self.n = mean_motion_rad_s(scene.orbit.altitude_m)
        self.dt = scene.simulation.dt_s
        self.progress = progress
        self.attitude = body_to_lvlh(scene.station.attitude, scene.station.attitude_offset_ypr_deg)
        self.events: list[dict] = []
        self.run_state = _Run()
        self.part_elements = [p.elements for p in self.station.parts]
        self.contacts_active: set[tuple[str, str]] = set()
        self.bodies_made = 0
        self.next_sample_t = 0.0
        self.held: dict[int, tuple] = {}
        self.last_event_t = -math.inf
        self.contact_free_until_t = -math.inf  # no contact can start before this time
        self.pusher = _Pushers(self)
        self.burns = _Burns(self)
        self.cmgs = _Cmgs(self)
        self.jets = _Jets(self)
        self.providers: list[ForceProvider] = [_Gravity(self), self.pusher, self.burns, self.cmgs, self.jets]  # in this order
        self.controls = [c for c in (self.cmgs, self.jets) if c.on or getattr(c, "used", False)]
        self.next_control_step = 0
        # the world; a failure while building it releases what was made (connections, work folder)
        pb = self.pb = import_pybullet()
        self.closed = False
        self.probe: ClearanceProbe | None = None
        self._remove_workdir: Callable[[], Any] | None = None
        self.cid = pb.connect(pb.DIRECT)
        try:
            self._build_world(scene)
        except BaseException:
            self.close()
            raise

    def _build_world(self, scene: Scene) -> None:
        """The pybullet world at t = 0: the URDF work folder, the clearance probe, one body."""
        pb = self.pb
        # the URDF files: a work folder in the system's temporary directory, removed on close or when
        # this object goes (as a TemporaryDirectory), and by the next run when a killed one could not
        self.workdir = make_work_folder("urdf")
        self._remove_workdir = weakref.finalize(self, remove_work_folder, self.workdir)
        self.probe = ClearanceProbe(self.station, pb, self.workdir, self.props)
        self.convex_meshes = self._convex_meshes()  # part index -> OBJ of convex pieces (station frame)
        pb.setGravity(0, 0, 0, physicsClientId=self.cid)
        pb.setPhysicsEngineParameter(fixedTimeStep=self.dt, numSubSteps=0, deterministicOverlappingPairs=1,
                                     physicsClientId=self.cid)
        all_parts = list(range(len(self.station.parts)))
        layout0 = self._layout(all_parts)
        # t = 0: LVLH == local inertial; origin at the station's centre of mass
        omega0 = np.array([0.0, 0.0, self.n]) if scene.station.rotation == "lvlh-hold" else np.zeros(3)
        rot0 = self.attitude @ layout0.axes
        if scene.control.cmg.mode != "off" and scene.control.cmg.start_attitude != "scene":
            rot0 = self.cmgs.goal_for(layout0)
        v0 = np.asarray(scene.station.velocity_lvlh_mps, float)  # + Omega x r, with r = 0
        self.run_state.bodies = [self._create_body(all_parts, np.zeros(3), rot0, v0, omega0)]
        self.run_state.part_body = {p: 0 for p in all_parts}

    @property
    def pushers(self) -> list[_Pusher]:
        return self.pusher.items

    def close(self) -> None:
        """Release the pybullet worlds and the temporary URDF files."""
        if self.closed:
            return
        self.closed = True
        try:
            if self.probe is not None:
                self.probe.close()
        finally:
            try:
                self.pb.disconnect(physicsClientId=self.cid)
            finally:
                if self._remove_workdir is not None:
                    self._remove_workdir()

    def __enter__(self) -> Simulator:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- bodies --------------------------------------------------------------------------------
    def _layout(self, parts: list[int]) -> BodyLayout:
        return body_layout(self.station, parts, self.props)

    def _convex_meshes(self) -> dict[int, Path]:
        """The scene's own meshes asked to collide (``[[part_mesh]] collision = "convex"``), each
        decomposed into convex pieces by pybullet's V-HACD, vertices in the station frame. The part's
        primitives still name what a contact struck and give the clearance probe its shapes."""
        from ..station.assets import PartMeshError, check_convex_mesh, load_part_mesh

        out: dict[int, Path] = {}
        for k, pm in enumerate(self.scene.part_mesh):
            if pm.collision != "convex":
                continue
            i = self.station.part_names.index(pm.part)
            meshes = load_part_mesh(pm.file, pm.scale, pm.offset_m, pm.rotation_deg, pm.part)
            try:  # the scene checked it; the file may have changed since
                check_convex_mesh(meshes, pm.file)
            except PartMeshError as exc:
                raise SimulationError(f"part_mesh.{k}.file = {exc}") from None
            com = np.asarray(self.props[pm.part].com_m, float)
            raw, done = self.workdir / f"part_mesh_{k}.obj", self.workdir / f"part_mesh_{k}_convex.obj"
            lines, base = [], 1
            for m in meshes:
                lines += [f"v {x:.17g} {y:.17g} {z:.17g}" for x, y, z in (m.vertices_m + com)]
                lines += [f"f {a + base} {b + base} {c + base}" for a, b, c in m.faces]
                base += len(m.vertices_m)
            raw.write_text("\n".join(lines) + "\n")
            _vhacd(raw, done, self.workdir / "vhacd.log", f"part_mesh.{k}.file = {pm.file!r}")
            if not done.is_file() or done.stat().st_size == 0:
                raise SimulationError(f"part_mesh.{k}.file = {pm.file!r}: the convex decomposition failed")
            out[i] = done
        return out

    def _create_body(self, parts: list[int], pos: np.ndarray, rot: np.ndarray, vel: np.ndarray,
                     omega: np.ndarray) -> _Body:
        """Create a body for ``parts`` with its principal frame at pos, orientation rot (3x3).

        The body is loaded from a generated one-link URDF: pybullet's createCollisionShapeArray
        keeps only 16 children, while a URDF link takes any number of collision elements.
        """
        pb, cid = self.pb, self.cid
        layout = self._layout(parts)
        path = self.workdir / f"body_{self.bodies_made:04d}.urdf"
        self.bodies_made += 1
        path.write_text(_body_urdf([e for i in parts if i not in self.convex_meshes for e in self.part_elements[i]],
                                   layout.com_m, layout.axes, layout.mass_kg, layout.principal_inertia_kg_m2, pb,
                                   tuple(self.convex_meshes[i] for i in parts if i in self.convex_meshes)))
        uid = pb.loadURDF(str(path), basePosition=pos.tolist(), baseOrientation=matrix_to_quat(rot).tolist(),
                          useMaximalCoordinates=True, flags=pb.URDF_USE_INERTIA_FROM_FILE, physicsClientId=cid)
        pb.changeDynamics(uid, -1, mass=layout.mass_kg, localInertiaDiagonal=layout.principal_inertia_kg_m2.tolist(),
                          linearDamping=0.0, angularDamping=0.0, restitution=CONTACT_RESTITUTION,
                          lateralFriction=CONTACT_FRICTION, activationState=pb.ACTIVATION_STATE_DISABLE_SLEEPING,
                          physicsClientId=cid)
        pb.resetBaseVelocity(uid, vel.tolist(), omega.tolist(), physicsClientId=cid)
        corners = [np.array(c) for i in parts for e in self.part_elements[i] if e.collides for c in element_bounds(e)]
        radius = max(float(np.linalg.norm(c - layout.com_m)) for c in corners)
        return _Body(uid, layout, min(parts), radius_m=radius)

    def _rebuild(self, groups: list[list[int]], states: dict[int, tuple]) -> None:
        """Replace bodies by ``groups``; ``states`` maps part -> (x, R, v, w) of its old body."""
        for body in self.run_state.bodies:
            self.pb.removeBody(body.uid, physicsClientId=self.cid)
        bodies = []
        for parts in groups:
            x, rot, v, w, old = states[parts[0]]
            layout = self._layout(parts)
            # old body frame -> station frame is old.axes; new principal frame -> station is layout.axes
            new_rot = rot @ old.axes.T @ layout.axes
            new_x = x + rot @ (old.axes.T @ (layout.com_m - old.com_m))
            new_v = v + np.cross(w, new_x - x)
            bodies.append(self._create_body(parts, new_x, new_rot, new_v, w))
        self.run_state.bodies = bodies
        self.run_state.part_body = {p: k for k, b in enumerate(bodies) for p in b.layout.parts}
        for pusher in self.pushers:
            if pusher.grace:
                self._collide(pusher, False)

    def _collide(self, pusher: _Pusher, enabled: bool) -> None:
        """Switch collisions between the two sides of a pusher's interface on or off."""
        a = self.run_state.bodies[self.run_state.part_body[pusher.child_part]].uid
        b = self.run_state.bodies[self.run_state.part_body[pusher.parent_part]].uid
        self.pb.setCollisionFilterPair(a, b, -1, -1, int(enabled), physicsClientId=self.cid)

    def _body_states(self) -> list[tuple]:
        """Per body: (x, R, v_half, w_half) in the local inertial frame, numpy."""
        out = []
        for body in self.run_state.bodies:
            pos, orn = self.pb.getBasePositionAndOrientation(body.uid, physicsClientId=self.cid)
            vel, omega = self.pb.getBaseVelocity(body.uid, physicsClientId=self.cid)
            out.append((np.array(pos), unit_quat_to_matrix(orn), np.array(vel), np.array(omega)))
        return out

    def _part_point_world(self, part: int, point_local: np.ndarray, states: list[tuple]) -> np.ndarray:
        """A point given in a part's local frame, in the inertial frame now."""
        k = self.run_state.part_body[part]
        layout = self.run_state.bodies[k].layout
        x, rot = states[k][0], states[k][1]
        j = layout.parts.index(part)
        return x + rot @ (layout.part_offsets_m[j] + layout.axes.T @ point_local)

    # -- events --------------------------------------------------------------------------------
    def _open_interface(self, k: int, t: float) -> None:
        sep = self.scene.separation[k]
        itf: Interface = self.station.interface(sep.interface)
        opened = {self.station.interface(s.interface).name for s in self.scene.separation[: k + 1]}
        index = {p.name: i for i, p in enumerate(self.station.parts)}
        groups = [[index[n] for n in g] for g in self.station.components(opened)]
        states = self._body_states()
        by_part = {}
        for body, (x, rot, v, w) in zip(self.run_state.bodies, states):
            for p in body.layout.parts:
                by_part[p] = (x, rot, v, w, body.layout)
        # only the body holding the interface changes; others are recreated identically
        self._rebuild(groups, {g[0]: by_part[g[0]] for g in groups})
        child, parent = index[itf.child], index[itf.parent]
        m_child = self.run_state.bodies[self.run_state.part_body[child]].layout.mass_kg
        m_parent = self.run_state.bodies[self.run_state.part_body[parent]].layout.mass_kg
        mu = m_child * m_parent / (m_child + m_parent)
        axis = np.asarray(itf.axis, float)
        direction = tilted(axis, math.radians(sep.misalignment_deg), math.radians(sep.misalignment_azimuth_deg))
        # constant force over the stroke: F s = mu dv^2 / 2, impulse mu dv
        delta_v = math.sqrt(2.0 * sep.force_n * sep.stroke_m / mu) if sep.force_n is not None else sep.delta_v_mps
        impulse = mu * delta_v
        force = mu * delta_v**2 / (2.0 * sep.stroke_m) if delta_v > 0 else 0.0
        point = np.asarray(itf.point_m, float)
        side = tilted(axis, math.pi / 2, math.radians(sep.tip_off_azimuth_deg))
        pusher = _Pusher(child, parent, point - self.props[itf.child].com_m, point - self.props[itf.parent].com_m,
                         direction, force, impulse, impulse, mu, itf.name, self.scene.simulation.contact_grace_m,
                         tip_off_rad_s=math.radians(sep.tip_off_deg_s), tip_off_axis_part=np.cross(axis, side))
        pusher.pushing = impulse > 0
        self.pushers.append(pusher)
        self._collide(pusher, False)
        child_side = [self.station.parts[i].name for i in self.run_state.bodies[self.run_state.part_body[child]].layout.parts]
        parent_side = [self.station.parts[i].name for i in self.run_state.bodies[self.run_state.part_body[parent]].layout.parts]
        self._event(t, "separation", interface=itf.name, child_side=child_side, parent_side=parent_side,
                    child_mass_kg=m_child, parent_mass_kg=m_parent, reduced_mass_kg=mu)
        if pusher.pushing:
            self._event(t, "pusher_start", interface=itf.name, force_n=force, impulse_ns=impulse,
                        expected_delta_v_mps=delta_v, stroke_m=sep.stroke_m)

    def _event(self, t: float, kind: str, **data) -> None:
        """The one place where events are logged; an event is sampled as it happens and starts
        the fine sampling window."""
        self.events.append({"t": round(t, 9), "kind": check_event_kind(kind), **data})
        self.last_event_t = t
        self.next_sample_t = min(self.next_sample_t, t)

    # -- contacts --------------------------------------------------------------------------------
    def _locate(self, body: _Body, point_world: np.ndarray, state: tuple) -> tuple[str, str]:
        """Which part and element of a body a contact point lies on (nearest element box)."""
        x, rot = state[0], state[1]
        p_station = body.layout.com_m + body.layout.axes @ (rot.T @ (point_world - x))
        best, best_d = ("?", "?"), math.inf
        for i in body.layout.parts:
            for e in self.part_elements[i]:
                if not e.collides:
                    continue
                lo, hi = element_bounds(e)
                d = float(np.linalg.norm(np.maximum(0.0, np.maximum(lo - p_station, p_station - hi))))
                if d < best_d:
                    best, best_d = (self.station.parts[i].name, e.label), d
        return best

    def _check_contacts(self, t: float) -> None:
        points = self.pb.getContactPoints(physicsClientId=self.cid)
        now: dict[tuple[str, str], dict] = {}
        if points:
            by_uid = {b.uid: (b, k) for k, b in enumerate(self.run_state.bodies)}
            states = None
            for c in points:
                a, b = c[1], c[2]
                if a not in by_uid or b not in by_uid:
                    continue
                if states is None:
                    states = self._body_states()
                body_a, ka = by_uid[a]
                body_b, kb = by_uid[b]
                part_a, elem_a = self._locate(body_a, np.array(c[5]), states[ka])
                part_b, elem_b = self._locate(body_b, np.array(c[6]), states[kb])
                lo, hi = sorted((part_a, part_b))
                key = (lo, hi)
                info = now.setdefault(key, {"parts": [part_a, part_b], "elements": [elem_a, elem_b],
                                            "point_inertial_m": [round(v, 4) for v in c[5]], "max_force_n": 0.0,
                                            "depth_m": 0.0})
                info["max_force_n"] = max(info["max_force_n"], float(c[9]))
                info["depth_m"] = min(info["depth_m"], float(c[8]))
        for key in sorted(set(now) - self.contacts_active):
            self._event(t, "contact_start", **now[key])
        for key in sorted(self.contacts_active - set(now)):
            self._event(t, "contact_end", parts=list(key))
        self.contacts_active = set(now)

    def _after_step(self, t: float, coasting: bool) -> None:
        """Contacts and the end of grace after a step (t is the time reached)."""
        if len(self.run_state.bodies) > 1:
            if not coasting or t > self.contact_free_until_t:
                self._check_contacts(t)
            if self.in_grace:
                self._update_grace(t)

    # -- the loop --------------------------------------------------------------------------------
    def run(self) -> Record:
        try:
            return self._run()
        finally:
            self.close()

    def _run(self) -> Record:
        pb, cid, dt = self.pb, self.cid, self.dt
        scene = self.scene
        n_steps = int(round(scene.scene.duration_s / dt))
        sep_steps = sorted((int(round(s.t_s / dt)), k) for k, s in enumerate(scene.separation))
        rec = scene.record
        self.next_sample_t = 0.0
        samples: dict[str, list] = {k: [] for k in ("t", "pos", "quat", "vel", "body_index", "clearance_m",
                                                     "angular_momentum_nms", "external_angular_impulse_nms",
                                                     "cmg_momentum_nms", "attitude_error_deg", "propellant_kg")}
        half_step_started = False

        from tqdm import tqdm

        bar = tqdm(total=n_steps, unit="step", desc="simulate", disable=None if self.progress is None else not self.progress,
                   mininterval=0.5, leave=False)
        try:
            for step in range(n_steps + 1):
                t = step * dt
                while sep_steps and sep_steps[0][0] == step:
                    self._open_interface(sep_steps.pop(0)[1], t)
                    self.next_control_step = step  # new bodies: the controllers look at once
                if self.controls and step >= self.next_control_step and step < n_steps:
                    self._update_controls(t, step)
                coasting = (half_step_started and step < n_steps and t < self.next_sample_t - 1e-9 * max(1.0, t)
                            and not self.track_momentum and not self.pusher.busy(step) and not self.burns.busy(step))
                if coasting:
                    # the hot path: gravity only, plain floats (numpy on 3-vectors costs 10x more)
                    self._coast_step(t)
                    self._after_step(t + dt, coasting=True)
                    if step % 2000 == 0:
                        bar.update(step - bar.n)
                    continue
                states = self._body_states()
                forces, torques = self._forces(t, step, states)
                for when, kind, data in (e for p in self.providers for e in p.events(t, step)):
                    self._event(when, kind, **data)
                if not half_step_started:
                    # leapfrog start: velocities half a step back
                    for body, (x, rot, v, w), f, tq in zip(self.run_state.bodies, states, forces, torques):
                        inv_i = rot @ np.diag(1.0 / body.layout.principal_inertia_kg_m2) @ rot.T
                        pb.resetBaseVelocity(body.uid, (v - 0.5 * dt * f / body.layout.mass_kg).tolist(),
                                             (w - 0.5 * dt * inv_i @ tq).tolist(), physicsClientId=cid)
                    states = self._body_states()
                    half_step_started = True
                if t >= self.next_sample_t - 1e-9 * max(1.0, t) or step == n_steps:
                    self._sample(samples, t, states, forces, torques)
                    fine = (t - self.last_event_t) < rec.fine_window_s or self.pusher.busy(step)
                    self.next_sample_t = t + 1.0 / (rec.rate_hz if fine else rec.coarse_rate_hz)
                    # a sample never jumps over a scheduled separation
                    for s_step, _ in sep_steps:
                        self.next_sample_t = min(self.next_sample_t, s_step * dt)
                if step == n_steps:
                    break
                for body, (x, *_), f, tq in zip(self.run_state.bodies, states, forces, torques):
                    pb.applyExternalForce(body.uid, -1, f.tolist(), x.tolist(), pb.WORLD_FRAME, physicsClientId=cid)
                    pb.applyExternalTorque(body.uid, -1, tq.tolist(), pb.WORLD_FRAME, physicsClientId=cid)
                pb.stepSimulation(physicsClientId=cid)
                if self.track_momentum:
                    self.external_impulse_nms = self.external_impulse_nms + self._external_moment * dt
                self._after_step(t + dt, coasting=False)
            bar.update(n_steps - bar.n)
        finally:
            bar.close()
        self.jets.finish(n_steps * dt, n_steps)
        return self._record(samples)

    def _update_controls(self, t: float, step: int) -> None:
        """Update the controllers that are due (each on its own period, and at once after a
        separation) and hold their forces and torques until the next update."""
        states = self._body_states()
        for control in self.controls:
            if step >= control.due_step or self.next_control_step == step and control.body_changed():
                control.update(t, step, states)
                control.due_step = min(step + max(1, int(round(control.period_s / self.dt))),
                                       control.next_update_step(step))
        self.next_control_step = min(c.due_step for c in self.controls)
        held: dict[int, list] = {}
        for control in self.controls:
            for k, (f, tq) in control.held().items():
                acc = held.setdefault(k, [np.zeros(3), np.zeros(3)])
                acc[0] = acc[0] + f
                acc[1] = acc[1] + tq
        self.held = {k: (tuple(map(float, f)), tuple(map(float, tq))) for k, (f, tq) in held.items()}

    def _forces(self, t: float, step: int, states: list[tuple]) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """Net force and torque (inertial frame) on each body at time t, applied at its CoM: every
        provider in turn (gravity first)."""
        forces = [np.zeros(3) for _ in self.run_state.bodies]
        torques = [np.zeros(3) for _ in self.run_state.bodies]
        if not self.track_momentum:
            for provider in self.providers:
                provider.add(t, step, states, forces, torques)
            return forces, torques
        external = np.zeros(3)
        for provider in self.providers:
            before = self._moment(states, forces, torques)
            provider.add(t, step, states, forces, torques)
            if provider.external:
                external = external + self._moment(states, forces, torques) - before
        self._external_moment = external
        if self._external_moment_start is None:
            self._external_moment_start = external
        return forces, torques

    @staticmethod
    def _moment(states: list[tuple], forces: list, torques: list) -> np.ndarray:
        """Sum over bodies of x F + tau: the rate of change of angular momentum about the origin."""
        return sum((np.cross(st[0], f) + tq for st, f, tq in zip(states, forces, torques)), np.zeros(3))

    @property
    def in_grace(self) -> bool:
        return any(p.grace for p in self.pushers)

    def _plan_contact_checks(self, t: float, clearance: float, states: list[tuple]) -> None:
        """Skip Bullet's contact query while no two bodies can have closed their clearance.

        Bound on how fast any two points of different bodies approach: |v_a - v_b| + |w_a| r_a +
        |w_b| r_b from the state now, doubled, plus CONTACT_FREE_SPEED_MPS; only used for the
        coasting steps until the next sample, and only while the clearance exceeds
        CONTACT_FREE_MIN_CLEARANCE_M.
        """
        if not math.isfinite(clearance) or clearance < CONTACT_FREE_MIN_CLEARANCE_M or self.in_grace:
            self.contact_free_until_t = -math.inf
            return
        speeds = [(v, float(np.linalg.norm(w)) * body.radius_m) for body, (_, _, v, w) in zip(self.run_state.bodies, states)]
        bound = max(float(np.linalg.norm(va - vb)) + ra + rb for i, (va, ra) in enumerate(speeds)
                    for (vb, rb) in speeds[i + 1:])
        self.contact_free_until_t = t + (clearance - CONTACT_FREE_MARGIN_M) / (2.0 * bound + CONTACT_FREE_SPEED_MPS)

    def _coast_step(self, t: float) -> None:
        pb, cid = self.pb, self.cid
        c, s = math.cos(self.n * t), math.sin(self.n * t)
        n2 = self.n * self.n
        held = self.held
        for k, body in enumerate(self.run_state.bodies):
            pos, orn = pb.getBasePositionAndOrientation(body.uid, physicsClientId=cid)
            f, tq = _gravity(body.layout.mass_kg, body.inertia, pos, orn, c, s, n2)
            if held and k in held:  # control forces and torques, held between control updates
                (f0, f1, f2), (t0, t1, t2) = held[k]
                f = (f[0] + f0, f[1] + f1, f[2] + f2)
                tq = (tq[0] + t0, tq[1] + t1, tq[2] + t2)
            pb.applyExternalForce(body.uid, -1, f, pos, pb.WORLD_FRAME, physicsClientId=cid)
            pb.applyExternalTorque(body.uid, -1, tq, pb.WORLD_FRAME, physicsClientId=cid)
        pb.stepSimulation(physicsClientId=cid)

    def _update_grace(self, t: float) -> None:
        states = None
        for pusher in self.pushers:
            if not pusher.grace:
                continue
            states = states or self._body_states()
            pc = self._part_point_world(pusher.child_part, pusher.child_point_m, states)
            pp = self._part_point_world(pusher.parent_part, pusher.parent_point_m, states)
            gap = float(np.linalg.norm(pc - pp))
            pusher.widest_gap_m = max(pusher.widest_gap_m, gap)
            closing = gap < pusher.widest_gap_m - GRACE_CLOSING_M
            if (gap >= pusher.grace_m or closing) and self._sides_clear(pusher):
                pusher.grace = False
                self._collide(pusher, True)
                self._event(t, "collisions_enabled", interface=pusher.interface, gap_m=float(np.linalg.norm(pc - pp)))

    def _sides_clear(self, pusher: _Pusher) -> bool:
        """Whether no element of one side of the pusher's interface overlaps the other side.

        Without a push the sides part by turning, not along the port axis: the interface points
        can be ``grace_m`` apart while the collar is already swung into PMA-1, and switching
        collisions on then would let Bullet's penetration recovery kick the sides apart (35 N m s
        from nothing with ``delta_v_mps = 0``). Collisions start only once the sides are clear.
        """
        a = self.run_state.bodies[self.run_state.part_body[pusher.child_part]].uid
        b = self.run_state.bodies[self.run_state.part_body[pusher.parent_part]].uid
        points = self.pb.getClosestPoints(a, b, GRACE_CLEARANCE_M, physicsClientId=self.cid)
        return not points

    def _sample(self, samples: dict, t: float, states: list[tuple], forces: list, torques: list) -> None:
        n_parts = len(self.station.parts)
        pos = np.empty((n_parts, 3))
        vel = np.empty((n_parts, 3))
        quat = np.empty((n_parts, 4))
        body_index = np.empty(n_parts, np.int16)
        lvlh = lvlh_axes_in_inertial(self.n, t)
        momentum = self.stored_momentum_nms(t)
        if self.controls:
            stored = self.stored_momentum_nms(t)
            samples["cmg_momentum_nms"].append(stored @ lvlh)
            samples["attitude_error_deg"].append([self.cmgs.error_deg(t, states), self.jets.error])
            samples["propellant_kg"].append(self.jets.propellant.copy())
        for body, (x, rot, v_half, w_half), f, tq in zip(self.run_state.bodies, states, forces, torques):
            layout = body.layout
            # leapfrog: bring the half-step velocities to the sample time
            v = v_half + (0.5 * self.dt / layout.mass_kg) * f
            w = w_half + 0.5 * self.dt * (rot @ ((rot.T @ tq) / layout.principal_inertia_kg_m2))
            momentum = momentum + layout.mass_kg * np.cross(x, v) + rot @ (layout.principal_inertia_kg_m2 * (rot.T @ w))
            idx = list(layout.parts)
            r_world = layout.part_offsets_m @ rot.T
            p_in = x + r_world
            v_in = v + np.cross(w, r_world)
            v_in[:, 0] += self.n * p_in[:, 1]  # minus the frame's rotation, Omega x r with Omega = n z
            v_in[:, 1] -= self.n * p_in[:, 0]
            pos[idx] = p_in @ lvlh
            vel[idx] = v_in @ lvlh
            # every part of a body shares its orientation (part frames are station axes)
            quat[idx] = matrix_to_quat(lvlh.T @ rot @ layout.axes.T)
            body_index[idx] = body.root
        if not (np.all(np.isfinite(pos)) and np.all(np.isfinite(vel)) and np.all(np.isfinite(quat))):
            raise SimulationError(f"non-finite state at t = {t:.3f} s (time step {self.dt} s too large?)")
        samples["t"].append(t)
        samples["pos"].append(pos)
        samples["vel"].append(vel)
        samples["quat"].append(quat)
        samples["body_index"].append(body_index)
        assert self.probe is not None  # made with the world
        clearance = self.probe.clearance(pos, quat, body_index)[0]
        samples["clearance_m"].append(clearance)
        samples["angular_momentum_nms"].append(momentum)
        if self.track_momentum:
            # leapfrog: the ledger of whole steps reaches t - dt/2; half a step of the moment now
            # brings it to t, less the half step the start took back
            assert self._external_moment_start is not None  # set by the first _forces call
            samples["external_angular_impulse_nms"].append(
                self.external_impulse_nms + 0.5 * self.dt * (self._external_moment - self._external_moment_start))
        self._plan_contact_checks(t, clearance, states)

    def stored_momentum_nms(self, t: float | None = None) -> np.ndarray:
        """Angular momentum held inside the bodies (CMG rotors), inertial frame, N m s."""
        return self.cmgs.stored_nms(int(round(t / self.dt))) if self.cmgs.on and t is not None else np.zeros(3)

    def _control_record(self, samples: dict) -> dict[str, np.ndarray]:
        """Record keys of the attitude control (docs/control.md)."""
        jets = self.jets
        pulses = np.array(sorted(jets.pulses, key=lambda p: (p[1], p[0])), float).reshape(-1, 3)
        return {
            "control_names": np.array(["cmg", "jets"]),
            "attitude_error_deg": np.asarray(samples["attitude_error_deg"], float),
            "cmg_momentum_nms": np.stack(samples["cmg_momentum_nms"]),
            "propellant_parts": np.array(jets.carriers),
            "propellant_kg": np.stack(samples["propellant_kg"]),
            "jet_names": np.array([j.name for j in jets.jets]),
            "jet_part": np.array([j.part for j in jets.jets]),
            "jet_pos_local_m": jets.pos_local.astype(float),
            "jet_dir_local": -jets.dir.astype(float),
            "jet_thrust_n": jets.thrust.astype(float),
            "jet_pulses": pulses,
        }

    def _record(self, samples: dict) -> Record:
        st = self.station
        meta = {
            "scene": self.scene.toml_text,
            "scene_source": self.scene.source,
            "title": self.scene.scene.title,
            "dt_s": self.dt,
            "contact_grace_m": self.scene.simulation.contact_grace_m,
            "orbit": {"altitude_m": self.scene.orbit.altitude_m, "mean_motion_rad_s": self.n},
            "frame": "LVLH: x radial out, y along-track, z orbit normal; origin at the station's centre of mass at t=0",
            "part_frame": "station body axes (+X fwd, +Y stbd, +Z nadir) at the part's centre of mass",
            "versions": _versions(),
            "station_hash": self.assets.station_hash,
            "visual_hash": self.assets.visual_hash,
            # what the pictures need of the station, so they never recompute it from today's catalogue
            "part_labels": {p.name: p.label for p in st.parts},
            "interfaces": {itf.name: {"child": itf.child, "parent": itf.parent,
                                      "child_offset_m": (np.asarray(itf.point_m) - self.props[itf.child].com_m).tolist(),
                                      "parent_offset_m": (np.asarray(itf.point_m) - self.props[itf.parent].com_m).tolist()}
                           for itf in st.interfaces
                           if any(e.get("interface") == itf.name for e in self.events if e["kind"] == "separation")},
        }
        if self.controls:
            meta["control"] = {"cmg_capacity_nms": self.cmgs.law.capacity_nms,
                               "cmg_torque_limit_nm": self.cmgs.law.torque_limit_nm,
                               "cmg_mode": self.scene.control.cmg.mode, "jet_mode": self.scene.control.jets.mode,
                               "cmg_start": self.cmgs.start_info}
        return Record(
            t=np.asarray(samples["t"], float),
            names=np.array(st.part_names),
            segment=np.array([p.segment for p in st.parts]),
            mass=np.array([p.mass_kg for p in st.parts]),
            pos=np.stack(samples["pos"]),
            quat=np.stack(samples["quat"]),
            vel=np.stack(samples["vel"]),
            events=json.loads(json.dumps(self.events)),
            meta=meta,
            extra={"body_index": np.stack(samples["body_index"]),
                   "clearance_m": np.asarray(samples["clearance_m"], float),
                   "angular_momentum_nms": np.stack(samples["angular_momentum_nms"]),
                   **({"external_angular_impulse_nms": np.stack(samples["external_angular_impulse_nms"])}
                      if self.track_momentum else {}),
                   **(self._control_record(samples) if self.controls else {})},
        )


def _gravity(mass: float, inertia: tuple[float, float, float], pos: tuple, orn: tuple, c: float, s: float,
             n2: float) -> tuple[tuple[float, float, float], tuple[float, float, float]]:
    """Tidal force and gravity-gradient torque on one body, inertial frame, plain floats.

    e_r = (c, s, 0) is the radial direction of the reference orbit now; force
    m n^2 (3 (r.e_r) e_r - r), torque 3 n^2 e_r x (I e_r) with I = R diag(inertia) R^T.
    """
    x, y, z = pos
    r_dot_e = x * c + y * s
    force = (mass * n2 * (3.0 * r_dot_e * c - x), mass * n2 * (3.0 * r_dot_e * s - y), -mass * n2 * z)
    qx, qy, qz, qw = orn
    r00, r01, r02 = 1 - 2 * (qy * qy + qz * qz), 2 * (qx * qy - qz * qw), 2 * (qx * qz + qy * qw)
    r10, r11, r12 = 2 * (qx * qy + qz * qw), 1 - 2 * (qx * qx + qz * qz), 2 * (qy * qz - qx * qw)
    r20, r21, r22 = 2 * (qx * qz - qy * qw), 2 * (qy * qz + qx * qw), 1 - 2 * (qx * qx + qy * qy)
    # u = R^T e_r, w = I u (body frame), v = R w
    w0 = inertia[0] * (r00 * c + r10 * s)
    w1 = inertia[1] * (r01 * c + r11 * s)
    w2 = inertia[2] * (r02 * c + r12 * s)
    v0 = r00 * w0 + r01 * w1 + r02 * w2
    v1 = r10 * w0 + r11 * w1 + r12 * w2
    v2 = r20 * w0 + r21 * w1 + r22 * w2
    k = 3.0 * n2
    return force, (k * s * v2, -k * c * v2, k * (c * v1 - s * v0))


class ClearanceProbe:
    """Smallest distance between parts of different rigid bodies, from part poses alone.

    Bullet's closest-point query between two whole compound bodies tests every pair of elements
    within the search distance, which costs ~1 ms once the sides are 100 m apart. Here each part
    is a static body in a separate pybullet world; part pairs are ranked by a bounding-sphere lower
    bound (numpy) and only those that can beat the best distance so far are asked exactly.
    Frame-independent: feed it LVLH poses of a record as well as live ones.
    """

    def __init__(self, station: Station, pb, workdir: Path, props=None):
        self.pb = pb
        self.cid = pb.connect(pb.DIRECT)
        try:
            self._load(station, workdir, props)
        except BaseException:
            pb.disconnect(physicsClientId=self.cid)
            raise

    def _load(self, station: Station, workdir: Path, props) -> None:
        """One static body per part, from URDF files written to ``workdir``."""
        pb = self.pb
        self.names = station.part_names
        props = props if props is not None else load_station_assets(visuals=False).parts
        self.uids, radii = [], []
        for k, part in enumerate(station.parts):
            com = props[part.name].com_m
            elements = [e for e in part.elements if e.collides]
            corners = [np.array(box) for e in elements for box in element_bounds(e)]
            radii.append(max(float(np.linalg.norm(c - com)) for c in corners) if corners else 0.0)
            path = workdir / f"part_{k:03d}.urdf"
            path.write_text(_body_urdf(elements, com, np.eye(3), 0.0, np.zeros(3), pb))
            self.uids.append(pb.loadURDF(str(path), useFixedBase=True, physicsClientId=self.cid))
        self.radii = np.array(radii)

    def clearance(self, pos: np.ndarray, quat: np.ndarray, body_index: np.ndarray) -> tuple[float, str, str]:
        """(distance m, part, part) for poses pos (B, 3), quat (B, 4); NaN when all is one body."""
        pb, cid = self.pb, self.cid
        apart = body_index[:, None] != body_index[None, :]
        if not apart.any():
            return math.nan, "", ""
        centre_distance = np.linalg.norm(pos[:, None] - pos[None, :], axis=2)
        lower = np.where(apart, centre_distance - self.radii[:, None] - self.radii[None, :], np.inf)
        lower = np.triu(lower, 1) + np.tril(np.full_like(lower, np.inf))
        order = np.argsort(lower, axis=None)
        best, pair = math.inf, ("", "")
        placed: set[int] = set()
        for flat in order:
            i, j = divmod(int(flat), len(self.names))
            if lower[i, j] >= best:
                break
            for k in (i, j):
                if k not in placed:
                    pb.resetBasePositionAndOrientation(self.uids[k], pos[k].tolist(), quat[k].tolist(),
                                                       physicsClientId=cid)
                    placed.add(k)
            reach = min(best, centre_distance[i, j] + self.radii[i] + self.radii[j]) + 0.01
            points = pb.getClosestPoints(self.uids[i], self.uids[j], reach, physicsClientId=cid)
            if points:
                d = min(p[8] for p in points)
                if d < best:
                    best, pair = d, (self.names[i], self.names[j])
        return max(best, 0.0), pair[0], pair[1]

    def close(self) -> None:
        self.pb.disconnect(physicsClientId=self.cid)


@contextlib.contextmanager
def _quiet():
    """Silence what C code prints to stdout and stderr (pybullet's banner, V-HACD's progress)."""
    import ctypes
    import os
    import sys

    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 1)
            os.dup2(devnull.fileno(), 2)
            yield
            ctypes.CDLL(None).fflush(None)  # drop what sits in C's stdio buffers
    finally:
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in saved:
            os.close(fd)


def import_pybullet():
    """Import pybullet without its build-time banner (it would spoil piped output)."""
    import sys

    if "pybullet" in sys.modules:
        return sys.modules["pybullet"]
    with _quiet():
        import pybullet
    return pybullet


def _versions() -> dict[str, str]:
    out = {}
    for name in ("issvis", "pybullet", "numpy"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "unknown"
    return out


def _vhacd(raw: Path, done: Path, log: Path, what: str) -> None:
    """pybullet's V-HACD of raw into done, in a child process: bounded by VHACD_TIMEOUT_S, and a
    crash of the C code is an error naming the mesh, not the end of issvis (same pybullet, same
    default parameters: the same pieces as in-process)."""
    import subprocess
    import sys

    code = ("import sys, pybullet as p\n"
            "c = p.connect(p.DIRECT)\n"
            "p.vhacd(sys.argv[1], sys.argv[2], sys.argv[3], physicsClientId=c)\n")
    try:
        run = subprocess.run([sys.executable, "-c", code, str(raw), str(done), str(log)], capture_output=True,
                             timeout=VHACD_TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired:
        raise SimulationError(f"{what}: the convex decomposition took over {VHACD_TIMEOUT_S:g} s "
                              "(VHACD_TIMEOUT_S); simplify the mesh or use collision = \"primitives\"") from None
    if run.returncode != 0:
        raise SimulationError(f"{what}: the convex decomposition failed (V-HACD exit status {run.returncode})")


def run_cost(scene: Scene, n_parts: int | None = None) -> tuple[int, int, int]:
    """(physics steps, record samples at most, record bytes at most) of a scene, from its settings.

    Samples: the coarse rate over the whole run, plus the fine rate for ``fine_window_s`` after
    each scheduled event (a separation and its pushers, a burn's start and end); contacts add a
    few more, which the limits' margins cover.
    """
    if n_parts is None:
        from ..station.catalogue import build_station

        n_parts = len(build_station().parts)
    duration, rec = scene.scene.duration_s, scene.record
    steps = int(round(duration / scene.simulation.dt_s))
    scheduled = 3 * len(scene.separation) + 2 * (len(scene.burn) + len(scene.jet_burn))
    fine_s = min(duration, scheduled * rec.fine_window_s)
    samples = int(math.ceil(duration * rec.coarse_rate_hz + fine_s * rec.rate_hz)) + 2 + scheduled
    # per sample: pos, vel (3), quat (4) float64 and body_index int16 per part; t, clearance, momenta
    per_sample = n_parts * (10 * 8 + 2) + 8 * (2 + 3 + 3 + 3 + 2 + 8)
    return steps, samples, samples * per_sample


def check_budget(scene: Scene) -> None:
    """SceneError (exit 2) before any work when the run would exceed issvis.core.budget: a 10-day
    run sampled at 100 Hz asks for hundreds of GB, a step of 1e-4 s over 10 days for 10^10 steps."""
    from ..core.budget import BUDGET, human_bytes
    from ..scene.schema import SceneError

    steps, samples, n_bytes = run_cost(scene)
    where = f"{scene.source}: scene.duration_s = {scene.scene.duration_s:g}"
    if steps > BUDGET.max_steps:
        raise SceneError(f"{where} at simulation.dt_s = {scene.simulation.dt_s:g} is {steps:,} physics steps; "
                         f"the limit is {BUDGET.max_steps:,} (issvis.core.budget.max_steps, ~3 h of one core): "
                         "shorten the scene or lengthen dt_s")
    if n_bytes > BUDGET.max_record_bytes or samples > BUDGET.max_samples:
        raise SceneError(f"{where} sampled at record.coarse_rate_hz = {scene.record.coarse_rate_hz:g} and "
                         f"rate_hz = {scene.record.rate_hz:g} needs about {human_bytes(n_bytes)} of record "
                         f"({samples:,} samples); the limit is {human_bytes(BUDGET.max_record_bytes)} and "
                         f"{BUDGET.max_samples:,} samples (issvis.core.budget): lower the rates or the duration")


def simulate(scene: Scene, progress: bool | None = None) -> Record:
    """Run a scene and return its trajectory record (SIGTERM unwinds, so the URDF folder goes too)."""
    with terminate_unwinds():
        return Simulator(scene, progress=progress).run()
