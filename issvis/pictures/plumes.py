"""Jet plumes: short glowing cones at the thrusters that fire, for the pictures.

Reads a record only (``jet_*`` keys written by the simulation, see docs/control.md): which jets
exist, where they sit on their part (part-local frame), which way their exhaust goes, and the
``jet_pulses`` intervals [jet, t_on, t_off]. Never imports pybullet; pyvista is imported lazily.

Use it as one of ``Stage.extras``: ``JetPlumes(plotter, record)`` adds one hidden actor per jet;
``update(t_s)`` shows, placed on their parts' poses at t_s, the jets that fire at t_s.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from ..core.frames import basis_with_z, quat_to_matrix

if TYPE_CHECKING:
    import pyvista as pv

    from ..record.record import Record

PLUME_LENGTH_M = {"attitude": 2.5, "main": 7.0}
"""Drawn length of a plume (not a physical plume: a visible mark of a firing jet)."""

PLUME_HALF_ANGLE = 0.25
"""Cone radius over length."""

PLUME_RGB = (0.75, 0.85, 1.0)
PLUME_OPACITY = 1.0
MAIN_ENGINE_THRUST_N = 1_000.0
"""Jets above this thrust are drawn as main engines (longer plumes)."""


def has_jets(record: Record) -> bool:
    return "jet_pulses" in record.extra and "jet_pos_local_m" in record.extra


def firing_at(record: Record, t_s: float, min_visible_s: float = 0.0) -> np.ndarray:
    """(J,) bool: the jets firing at t_s by the record's ``jet_pulses`` ([jet, t_on, t_off), s).

    ``min_visible_s`` keeps a pulse shown for at least that long (a 0.5 s pulse is a fraction of
    a frame in a fast-forwarded video); 0 means exactly the recorded intervals.
    """
    n_jets = len(record.extra["jet_pos_local_m"])
    pulses = np.asarray(record.extra["jet_pulses"], float).reshape(-1, 3)
    on = (pulses[:, 1] <= t_s) & (t_s < np.maximum(pulses[:, 2], pulses[:, 1] + min_visible_s))
    out = np.zeros(n_jets, bool)
    out[pulses[on, 0].astype(int)] = True
    return out


class JetPlumes:
    """One plume actor per jet of a record, shown while that jet fires (see the module docstring)."""

    def __init__(self, plotter: pv.Plotter, record: Record, min_visible_s: float = 0.0) -> None:
        import pyvista as pv

        self.record = record
        self.min_visible_s = min_visible_s
        self.actors: list[Any] = []
        if not has_jets(record):
            return
        names = list(record.names)
        self.part_index = np.array([names.index(str(p)) for p in record.extra["jet_part"]])
        self.pos_local = np.asarray(record.extra["jet_pos_local_m"], float)
        self.dir_local = np.asarray(record.extra["jet_dir_local"], float)
        thrust = np.asarray(record.extra.get("jet_thrust_n", np.full(len(self.pos_local), 130.0)), float)
        self.local: list[np.ndarray] = []  # per jet: (4, 4) plume frame in its part's frame
        for k in range(len(self.pos_local)):
            length = PLUME_LENGTH_M["main" if thrust[k] > MAIN_ENGINE_THRUST_N else "attitude"]
            # apex at the nozzle (origin), opening along +z
            cone = pv.Cone(center=(0.0, 0.0, length / 2), direction=(0.0, 0.0, -1.0), height=length,
                           radius=PLUME_HALF_ANGLE * length, resolution=16)
            actor = plotter.add_mesh(cone, color=PLUME_RGB, opacity=PLUME_OPACITY, lighting=False,
                                     show_scalar_bar=False, name=f"plume-{k}")
            actor.visibility = False
            m = np.eye(4)
            m[:3, :3] = basis_with_z(self.dir_local[k])
            m[:3, 3] = self.pos_local[k]
            self.local.append(m)
            self.actors.append(actor)

    def update(self, t_s: float) -> None:
        """Show the plumes of the jets firing at t_s, placed on their parts; hide the rest."""
        if not self.actors:
            return
        firing = firing_at(self.record, t_s, self.min_visible_s)
        if firing.any():
            pos, quat = self.record.pose_at(t_s)
        for k, actor in enumerate(self.actors):
            if firing[k]:
                i = self.part_index[k]
                part = np.eye(4)
                part[:3, :3] = quat_to_matrix(quat[i])
                part[:3, 3] = pos[i]
                actor.user_matrix = part @ self.local[k]
            actor.visibility = bool(firing[k])

    def visible(self) -> np.ndarray:
        """(J,) bool: which plume actors are shown now."""
        return np.array([bool(a.visibility) for a in self.actors], bool)
