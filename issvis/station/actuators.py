"""The station's attitude hardware of 5 March 2022: the US segment's CMGs and the ROS's thrusters.

The hardware as data (what it is and where it sits, station body frame); the laws that drive it
are the physics' (``issvis/physics/control.py``). numpy only. See ``docs/control.md`` for the
figures and their sources (every estimate says so):

- CMGs: four double-gimbal CMGs on Z1, each 4,880 N m s (3,600 ft lbf s) at 6,600 rpm; at least
  two hold attitude [Boeing, "Space Exploration: Motion Control Subsystem"; iss-facts.md 5b].
  Capacity of the store: 4 x 4,880 = 19,520 N m s, taken as a sphere (the real array's envelope
  is not spherical and singular directions make it smaller: an upper bound).
- CMG torque limit: ESTIMATE 4 x 258 N m = 1,032 N m in any direction, from memory of the CMG's
  quoted output torque (about 190 ft lbf per unit); not confirmed by a public source here. The hold
  laws ask for tens of N m, so the limit rarely binds.
- Zvezda: two main engines of about 3.07 kN (312 kgf) and 32 attitude thrusters of about 130 N
  (13.3 kgf) [iss-facts.md 5b, M1 M3; Zvezda propulsion: Smolentsev et al., "Propulsion units on
  the ISS", Kosmicheskaya tekhnika i tekhnologii 1(44), 2024 (sciup.org/143182940), abstract only].
- Progress MS and Soyuz MS: 28 attitude thrusters 11D428A-16 of about 130 N (13 kgf) each
  [NIIMash via Roscosmos, kosmosnews.fr 2022-06-20: "each ... comprises 28 engines 11D428A-16";
  russianspaceweb.com/soyuz-ms-kdu.html: 28 DPO in 14 pairs, only high-thrust engines kept on
  Soyuz MS]; main engine (SKD) about 2.95 kN [iss-facts.md 5b].
- Specific impulse: ESTIMATES, NTO/UDMH pressure-fed: main engines 302 s, 130 N attitude
  thrusters 280 s (steady state; pulses do worse, not modelled).
- Jet positions and directions: ESTIMATES. Each vehicle's attitude thrusters sit in four clusters
  on the rim of its aft end (Zvezda: the aft end of the large working compartment), each cluster
  with jets firing both ways around the rim (roll), one inward-thrusting pair (pitch/yaw) and one
  jet each way along the axis (translation); the main engines at the aft end thrust along the
  vehicle axis. The real layouts differ in detail; the lever arms are right to about a metre.
  Soyuz and Progress sit where the catalogue docks them (their interface's point and axis, their
  length and service-module radius); Zvezda's ring and engines are placed on its aft end by hand.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..core.frames import perpendicular_basis
from .catalogue import PROGRESS_LENGTH_M, SERVICE_MODULE_RADIUS_M, SOYUZ_LENGTH_M, Station, Vec3, build_station

G0_MPS2 = 9.80665
"""Standard gravity, m/s^2: thrust / (Isp g0) is a jet's mass flow."""

CMG_UNIT_MOMENTUM_NMS = 4_880.0
"""One ISS CMG's rotor momentum, N m s (3,600 ft lbf s)."""

CMG_COUNT = 4
CMG_CAPACITY_NMS = CMG_COUNT * CMG_UNIT_MOMENTUM_NMS
"""The US segment's momentum store, N m s (19,520), taken as a sphere: an upper bound."""
CMG_TORQUE_LIMIT_NM = CMG_COUNT * 258.0
"""Estimate (see the module docstring)."""

ZVEZDA_MAIN_N = 3_070.0
PROGRESS_MAIN_N = 2_950.0
"""Progress MS's main engine (SKD), N; Soyuz MS's is taken as the same."""
ATTITUDE_JET_N = 130.0
MAIN_ISP_S = 302.0
ATTITUDE_ISP_S = 280.0

#: The docked vehicles that carry jets: part -> length from its port to its aft end, m.
JET_VEHICLES: dict[str, float] = {
    "progress_ms18": PROGRESS_LENGTH_M,
    "progress_ms19": PROGRESS_LENGTH_M,
    "soyuz_ms19": SOYUZ_LENGTH_M,
}


@dataclass(frozen=True)
class Jet:
    """One thruster: where it sits and which way it pushes, in the station frame (m, unit)."""

    name: str
    part: str
    pos_station_m: tuple[float, float, float]
    thrust_dir_station: tuple[float, float, float]  # the force on the vehicle; the plume goes the other way
    thrust_n: float
    isp_s: float
    group: str  # "main" or "attitude"

    @property
    def mass_flow_kg_s(self) -> float:
        return self.thrust_n / (self.isp_s * G0_MPS2)


def _vec(v: np.ndarray) -> Vec3:
    return (float(v[0]), float(v[1]), float(v[2]))


def _ring(part: str, prefix: str, aft_centre: Vec3, axis_out: Vec3, radius_m: float,
          thrust_n: float = ATTITUDE_JET_N, isp_s: float = ATTITUDE_ISP_S) -> list[Jet]:
    """Four clusters of eight attitude jets on the rim of a vehicle's aft end (an estimate).

    ``axis_out`` points from the vehicle out through its aft end. Per cluster: two jets pushing
    each way around the rim (roll), two pushing inward (pitch/yaw, with some translation) and one
    each way along the axis (translation). 32 jets.
    """
    c = np.asarray(aft_centre, float)
    a = np.asarray(axis_out, float)
    u, w = perpendicular_basis(a, helper_axis=1)
    jets = []
    for k in range(4):
        phi = k * math.pi / 2
        radial = math.cos(phi) * u + math.sin(phi) * w
        tangent = np.cross(a, radial)
        pos = c + radius_m * radial
        dirs = [("roll+", tangent), ("roll+b", tangent), ("roll-", -tangent), ("roll-b", -tangent),
                ("in", -radial), ("in-b", -radial), ("fwd", -a), ("aft", a)]
        for label, d in dirs:
            jets.append(Jet(f"{prefix}.c{k + 1}.{label}", part, _vec(pos),
                            _vec(d), thrust_n, isp_s, "attitude"))
    return jets


def _vehicle_jets(part: str, port: Vec3, axis: Vec3, length_m: float, radius_m: float, main_n: float) -> list[Jet]:
    """A Soyuz or Progress docked at ``port`` with ``axis`` pointing from the port into the vehicle."""
    a = np.asarray(axis, float)
    aft = np.asarray(port, float) + a * (length_m - 0.3)
    jets = _ring(part, part, _vec(aft), _vec(a), radius_m)
    jets = [j for j in jets if not j.name.endswith("-b")]  # 24 here; Soyuz/Progress MS have 28 (estimate)
    jets.append(Jet(f"{part}.main", part, _vec(np.asarray(port) + a * length_m),
                    _vec(-a), main_n, MAIN_ISP_S, "main"))
    return jets


def station_jets(station: Station | None = None) -> list[Jet]:
    """The thrusters of the ROS of 5 March 2022 (positions in the station frame; estimates): each
    vehicle's where ``station`` (default: the catalogue's) docks it."""
    station = station or build_station()
    jets = _ring("zvezda", "zvezda", (-29.2, 0.0, 0.0), (-1.0, 0.0, 0.0), 2.1)
    for side, y in (("port", -0.9), ("stbd", 0.9)):  # the two main engines at the aft end
        jets.append(Jet(f"zvezda.main.{side}", "zvezda", (-29.4, y, 1.5), (1.0, 0.0, 0.0), ZVEZDA_MAIN_N,
                        MAIN_ISP_S, "main"))
    for part, length_m in JET_VEHICLES.items():
        port = next(i for i in station.interfaces if i.child == part)  # where it docks, axis into it
        jets += _vehicle_jets(part, port.point_m, port.axis, length_m, SERVICE_MODULE_RADIUS_M, PROGRESS_MAIN_N)
    return jets
