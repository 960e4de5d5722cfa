"""Orbit decay with no reboost: the whole station, and each side of a separation on its own.

numpy only at import; pymsis (NRLMSIS 2.1) and matplotlib are imported where they are used.

Model (see ``docs/analysis.md``):

- circular orbit shrinking slowly under drag (King-Hele): ``da/dt = -sqrt(mu a) rho(h) C_D A / m``;
  the time from ``h0`` down to ``h`` is then a quadrature over altitude, no step size to pick:
  ``t(h) = integral_h^h0 dh' / (sqrt(mu a') rho(h') C_D A / m)``;
- ``rho(h)``: orbit-averaged mass density. NRLMSIS 2.1 through ``pymsis`` with *fixed* solar and
  geomagnetic indices (so it never downloads index files) sampled along a day of a 51.6 deg
  circular orbit (all latitudes the orbit reaches, all local times); without pymsis, the
  piecewise-exponential mean-solar-activity table of Vallado (Table 8-4);
- ``A``: the drag area of each group of parts from the catalogue's shapes, projected on the plane
  normal to the flight direction (station body +X in the +XVV and -XVV attitudes), see
  :func:`drag_areas_m2`;
- re-entry: the orbit reaches ``reentry_altitude_m`` (120 km; below that it lasts hours).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..core.errors import InputError
from ..core.files import atomic_open
from ..core.frames import EARTH_RADIUS_M, MU_EARTH_M3_S2
from ..station.actuators import CMG_CAPACITY_NMS

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from ..scene.schema import Scene
    from ..station.catalogue import Element, Station

DRAG_COEFFICIENT = 2.2
"""Flat-plate free-molecular value used for satellites without a better one (Vallado 8.6.2)."""

LATTICE_SOLIDITY = 0.3
"""Fraction of a truss bay's outline that is metal (open lattice; estimate)."""

TRACKING_ARRAY_FACTOR = 2.0 / math.pi
"""Mean of |cos| over a turn: a flat array spinning about an axis across the flow (the solar
alpha joints turn once per orbit) shows on average 2/pi of its face to the flow."""

REFERENCE_AREA_M2 = 2_500.0
"""The whole station's "effective cross-section" (iss-facts.md section 3, weakly sourced)."""

AREA_MODELS = ("reference", "catalogue")

REENTRY_ALTITUDE_M = 120_000.0
DAY_S = 86_400.0
MONTH_S = 30.4375 * DAY_S

# March 2022 (start of solar cycle 25): NOAA SWPC monthly mean F10.7 ~ 115-120 sfu, Ap ~ 10.
F107_MARCH_2022 = 115.0
AP_MARCH_2022 = 10.0
# Solar cycle 25's maximum, 2024: NOAA SWPC monthly mean F10.7 peaked at about 215-225 sfu
# (August and October 2024; estimate from the published monthly means, round number).
F107_MAX_2024 = 220.0
AP_MAX_2024 = 15.0

REFERENCE_RATE_KM_PER_MONTH = 1.6
"""The whole station's decay in 2022 at about 418 km (iss-facts.md section 3)."""

WHY_FASTER = (
    "why: the model pins F10.7 at March 2022's 115 sfu while the reference is a 2022 average; it "
    "takes the weakly sourced 2,500 m^2 as the drag area with C_D 2.2 (the reference's own 53 m/day "
    "implies C_D A of 1,600-2,500 m^2, i.e. 2.2-3.4x less area: the station feathers its arrays to "
    "cut drag, which is not modelled); read the days as more likely too short than too long")
INCLINATION_DEG = 51.64

# Vallado, "Fundamentals of Astrodynamics", Table 8-4 (CIRA-72 based, mean solar activity):
# base altitude km, density at base kg/m^3, scale height km.
_EXPONENTIAL_TABLE = np.array([
    (0, 1.225, 7.249), (25, 3.899e-2, 6.349), (30, 1.774e-2, 6.682), (40, 3.972e-3, 7.554),
    (50, 1.057e-3, 8.382), (60, 3.206e-4, 7.714), (70, 8.770e-5, 6.549), (80, 1.905e-5, 5.799),
    (90, 3.396e-6, 5.382), (100, 5.297e-7, 5.877), (110, 9.661e-8, 7.263), (120, 2.438e-8, 9.473),
    (130, 8.484e-9, 12.636), (140, 3.845e-9, 16.149), (150, 2.070e-9, 22.523), (180, 5.464e-10, 29.740),
    (200, 2.789e-10, 37.105), (250, 7.248e-11, 45.546), (300, 2.418e-11, 53.628), (350, 9.518e-12, 53.298),
    (400, 3.725e-12, 58.515), (450, 1.585e-12, 60.828), (500, 6.967e-13, 63.822), (600, 1.454e-13, 71.835),
    (700, 3.614e-14, 88.667), (800, 1.170e-14, 124.64), (900, 5.245e-15, 181.05), (1000, 3.019e-15, 268.00),
])


class DecayError(InputError, ValueError):
    """Bad decay input (unknown atmosphere model, orbit already below re-entry, ...)."""


# --- atmosphere ----------------------------------------------------------------------------
def exponential_density(alt_m: np.ndarray) -> np.ndarray:
    """Vallado's piecewise-exponential density (..,) kg/m^3 at altitudes (..,) m."""
    h_km = np.asarray(alt_m, float) / 1000.0
    k = np.clip(np.searchsorted(_EXPONENTIAL_TABLE[:, 0], h_km, side="right") - 1, 0, len(_EXPONENTIAL_TABLE) - 1)
    h0, rho0, scale = _EXPONENTIAL_TABLE[k].T
    return rho0 * np.exp(-(h_km - h0) / scale)


def msis_density(alt_m: np.ndarray, f107: float = F107_MARCH_2022, ap: float = AP_MARCH_2022,
                 date: str = "2022-03-05", inclination_deg: float = INCLINATION_DEG,
                 samples: int = 288) -> np.ndarray:
    """NRLMSIS 2.1 density (H,) kg/m^3 averaged over one day of a circular inclined orbit.

    Indices are passed explicitly (F10.7 = its 81-day mean = ``f107``, all ap = ``ap``), so pymsis
    never looks for (or downloads) its index files. The samples step through 24 h with the
    argument of latitude advancing at the orbit's rate and the Earth turning under it, which
    covers the latitudes and local times the orbit sees; the mean over them is what drag
    integrates over a day.
    """
    from pymsis import msis

    alt_km = np.atleast_1d(np.asarray(alt_m, float)) / 1000.0
    t_s = np.arange(samples) * (DAY_S / samples)
    out = np.empty(len(alt_km))
    inc = math.radians(inclination_deg)
    dates = np.datetime64(date + "T00:00:00", "s") + t_s.astype("timedelta64[s]")
    for j, h in enumerate(alt_km):
        r = EARTH_RADIUS_M + h * 1000.0
        u = math.sqrt(MU_EARTH_M3_S2 / r**3) * t_s  # argument of latitude
        lat = np.degrees(np.arcsin(math.sin(inc) * np.sin(u)))
        lon_inertial = np.degrees(np.arctan2(math.cos(inc) * np.sin(u), np.cos(u)))
        lon = (lon_inertial - 360.0 * t_s / 86_164.1) % 360.0
        res = msis.calculate(dates, lon, lat, np.full(samples, h), f107s=np.full(samples, f107),
                             f107as=np.full(samples, f107), aps=np.full((samples, 7), ap))
        out[j] = float(np.mean(np.asarray(res, float)[:, 0]))
    return out


def pymsis_available() -> bool:
    try:
        import pymsis.msis  # noqa: F401
    except ImportError:
        return False
    return True


@dataclass(frozen=True)
class Atmosphere:
    """Tabulated orbit-averaged density, log-linear between nodes. ``name`` says which model."""

    name: str
    alt_m: np.ndarray  # (H,) increasing
    rho_kg_m3: np.ndarray  # (H,)

    def density(self, alt_m: np.ndarray) -> np.ndarray:
        return np.exp(np.interp(alt_m, self.alt_m, np.log(self.rho_kg_m3)))


def make_atmosphere(model: str = "auto", f107: float = F107_MARCH_2022, ap: float = AP_MARCH_2022,
                    top_m: float = 500_000.0, bottom_m: float = 100_000.0) -> Atmosphere:
    """``msis`` (NRLMSIS 2.1 via pymsis), ``exponential`` (Vallado's table) or ``auto`` (msis if installed)."""
    if model == "auto":
        model = "msis" if pymsis_available() else "exponential"
    alt = np.arange(bottom_m, top_m + 1.0, 5_000.0)
    if model == "msis":
        if not pymsis_available():
            raise DecayError("--atmosphere msis needs the pymsis package (pip install pymsis)")
        return Atmosphere(f"NRLMSIS 2.1 (pymsis), F10.7 {f107:g}, Ap {ap:g}, 51.6 deg orbit average", alt,
                          msis_density(alt, f107=f107, ap=ap))
    if model == "exponential":
        return Atmosphere("exponential (Vallado Table 8-4, mean solar activity)", alt, exponential_density(alt))
    raise DecayError(f"unknown atmosphere model {model!r}; choose auto, msis or exponential")


# --- drag areas from the catalogue ---------------------------------------------------------
def element_drag_area_m2(e: Element, flight_axis: int = 0) -> float:
    """Area (m^2) of one catalogue element projected on the plane normal to a body axis.

    Cylinders and frustums: end disc |cos| + side outline |sin| (exact for a cylinder).
    Solar arrays (``material == 'array'``): their face area times 2/pi, the mean over a turn of
    the tracking joints. Truss bays (``style == 'lattice'``): the outline times the solidity.
    Overlaps (one element in the wake of another) are not removed: an upper bound.
    """
    if e.shape == "sphere":
        return math.pi * e.radius_m**2
    if e.shape == "box":
        ext = list(e.extents_m)
        if e.material == "array":
            a, b = sorted(ext)[1:]
            return a * b * TRACKING_ARRAY_FACTOR
        others = [ext[k] for k in range(3) if k != flight_axis]
        area = others[0] * others[1]
        return area * LATTICE_SOLIDITY if e.style == "lattice" else area
    if e.shape in ("cylinder", "frustum"):
        p0, p1 = np.asarray(e.p0_m, float), np.asarray(e.p1_m, float)
        length = float(np.linalg.norm(p1 - p0))
        r0 = e.radius_m
        r1 = e.radius1_m if e.shape == "frustum" else e.radius_m
        if length == 0.0:  # a disc (e.g. Cygnus' UltraFlex arrays are flat cylinders)
            return math.pi * max(r0, r1) ** 2 * (TRACKING_ARRAY_FACTOR if e.material == "array" else 1.0)
        c = abs((p1 - p0)[flight_axis]) / length
        s = math.sqrt(max(0.0, 1.0 - c * c))
        area = math.pi * max(r0, r1) ** 2 * c + (r0 + r1) * length * s
        return area * (TRACKING_ARRAY_FACTOR if e.material == "array" else 1.0)
    raise ValueError(f"unknown element shape {e.shape!r}")


def drag_areas_m2(station: Station, part_names: list[str] | tuple[str, ...]) -> float:
    """Summed drag area (m^2) of the named parts; flight along body +X (+XVV) or -X (-XVV)."""
    return sum(element_drag_area_m2(e) for n in part_names for e in station.part(n).elements)


# --- decay -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Body:
    """What drags: a name, mass (kg) and drag area (m^2)."""

    name: str
    mass_kg: float
    area_m2: float
    cd: float = DRAG_COEFFICIENT

    @property
    def ballistic_kg_m2(self) -> float:
        """m / (C_D A), kg/m^2."""
        return self.mass_kg / (self.cd * self.area_m2)


def decay_rate_m_s(body: Body, atmosphere: Atmosphere, alt_m: np.ndarray) -> np.ndarray:
    """dh/dt (negative, m/s) of a circular orbit at altitudes (..,) m."""
    a = EARTH_RADIUS_M + np.asarray(alt_m, float)
    return -np.sqrt(MU_EARTH_M3_S2 * a) * atmosphere.density(alt_m) / body.ballistic_kg_m2


def decay_curve(body: Body, atmosphere: Atmosphere, start_alt_m: float,
                reentry_alt_m: float = REENTRY_ALTITUDE_M, step_m: float = 100.0) -> tuple[np.ndarray, np.ndarray]:
    """Time (N,) s and altitude (N,) m from ``start_alt_m`` down to ``reentry_alt_m``.

    Trapezoidal quadrature of dt = dh / |dh/dt| on a ``step_m`` grid; rho changes by under 1 %
    over 100 m above 120 km, so the error is far below the model's own.
    """
    if start_alt_m <= reentry_alt_m:
        raise DecayError(f"start altitude {start_alt_m / 1000:g} km is not above re-entry ({reentry_alt_m / 1000:g} km)")
    n = max(2, int(math.ceil((start_alt_m - reentry_alt_m) / step_m)) + 1)
    alt = np.linspace(start_alt_m, reentry_alt_m, n)
    dt_dh = 1.0 / np.abs(decay_rate_m_s(body, atmosphere, alt))
    t = np.concatenate([[0.0], np.cumsum(0.5 * (dt_dh[1:] + dt_dh[:-1]) * np.abs(np.diff(alt)))])
    return t, alt


@dataclass(frozen=True)
class DecayResult:
    atmosphere: Atmosphere
    start_alt_m: float
    reentry_alt_m: float
    bodies: tuple[Body, ...]
    curves: tuple[tuple[np.ndarray, np.ndarray], ...]  # (t s, altitude m) per body

    def days_to_reentry(self) -> list[float]:
        return [float(t[-1] / DAY_S) for t, _ in self.curves]

    def initial_rate_km_per_month(self) -> list[float]:
        return [float(-decay_rate_m_s(b, self.atmosphere, np.array([self.start_alt_m]))[0] * MONTH_S / 1000)
                for b in self.bodies]

    def table(self) -> list[dict]:
        rows = []
        for b, days, rate in zip(self.bodies, self.days_to_reentry(), self.initial_rate_km_per_month()):
            rows.append({"body": b.name, "mass_kg": round(b.mass_kg, 1), "drag_area_m2": round(b.area_m2, 1),
                         "cd": b.cd, "ballistic_kg_m2": round(b.ballistic_kg_m2, 2),
                         "start_alt_km": self.start_alt_m / 1000, "initial_rate_km_per_month": round(rate, 3),
                         "days_to_reentry": round(days, 1)})
        return rows


def bodies_for_scene(scene: Scene, station: Station | None = None, area_scale: float = 1.0) -> list[Body]:
    """The whole station, then each side of the scene's first separation (if it has one)."""
    from ..station.catalogue import build_station

    station = station or build_station()
    everything = list(station.part_names)
    mass = {p.name: p.mass_kg for p in station.parts}
    bodies = [Body("whole station", sum(mass.values()), drag_areas_m2(station, everything) * area_scale)]
    if scene.separation:
        child, parent = station.side_of(scene.separation[0].interface)
        for label, names in ((_side_label(station, parent), parent), (_side_label(station, child), child)):
            bodies.append(Body(label, sum(mass[n] for n in names), drag_areas_m2(station, names) * area_scale))
    return bodies


def _side_label(station: Station, names: list[str]) -> str:
    """'USOS side' / 'ROS side': the segment holding most of the side's mass."""
    seg: dict[str, float] = {}
    for n in names:
        p = station.part(n)
        seg[p.segment] = seg.get(p.segment, 0.0) + p.mass_kg
    return f"{max(seg, key=seg.__getitem__)} side"


def run_decay(scene: Scene, atmosphere: str = "auto", f107: float = F107_MARCH_2022, ap: float = AP_MARCH_2022,
              area_model: str = "reference", reentry_alt_m: float = REENTRY_ALTITUDE_M, cd: float = DRAG_COEFFICIENT) -> DecayResult:
    """Decay of the whole station and of each side of the scene's first separation.

    ``area_model``: ``reference`` scales every element's projected area so that the whole station
    has the reference's 2,500 m^2 (each side keeps its catalogue share); ``catalogue`` takes the
    projected areas as they are (about 3,400 m^2: no element shadows another, an upper bound).
    """
    from ..station.catalogue import build_station

    if area_model not in AREA_MODELS:
        raise DecayError(f"unknown area model {area_model!r}; choose {' or '.join(AREA_MODELS)}")
    if scene.orbit.altitude_m <= reentry_alt_m:
        raise DecayError(f"orbit.altitude_m = {scene.orbit.altitude_m:g}: not above re-entry ({reentry_alt_m:g} m)")
    station = build_station()
    area_scale = 1.0
    if area_model == "reference":
        area_scale = REFERENCE_AREA_M2 / drag_areas_m2(station, station.part_names)
    atm = make_atmosphere(atmosphere, f107=f107, ap=ap, top_m=max(500_000.0, scene.orbit.altitude_m + 5_000.0),
                          bottom_m=min(100_000.0, reentry_alt_m))
    bodies = tuple(Body(b.name, b.mass_kg, b.area_m2, cd) for b in bodies_for_scene(scene, station, area_scale))
    curves = tuple(decay_curve(b, atm, scene.orbit.altitude_m, reentry_alt_m) for b in bodies)
    return DecayResult(atm, scene.orbit.altitude_m, reentry_alt_m, bodies, curves)


# --- output ------------------------------------------------------------------------------------
COLOURS = {"whole station": "#333333", "USOS side": "#1f77b4", "ROS side": "#d62728"}


def write_table_csv(rows: list[dict], path: str | Path) -> None:
    """Rows (dicts with the same keys) as CSV, written atomically."""
    import csv

    with atomic_open(path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


# --- the band: solar flux from March 2022 up to the 2024 maximum, both area models --------------
@dataclass(frozen=True)
class DecayBand:
    """Decay over a range of solar flux and both area models. ``central`` is March 2022's flux
    with the reference area (the single answer ``run_decay`` gives by default)."""

    central: DecayResult
    cases: tuple[tuple[str, DecayResult], ...]  # (label, result), every combination

    def days_range(self) -> list[tuple[float, float]]:
        """(fewest, most) days to re-entry per body over all cases."""
        days = np.array([r.days_to_reentry() for _, r in self.cases])
        return [(float(lo), float(hi)) for lo, hi in zip(days.min(axis=0), days.max(axis=0))]

    def whole_station_rate_ratio(self) -> float:
        """The central whole-station decay rate at the start over the 2022 reference rate."""
        return self.central.initial_rate_km_per_month()[0] / REFERENCE_RATE_KM_PER_MONTH

    def table(self) -> list[dict]:
        rows = []
        for row, (lo, hi) in zip(self.central.table(), self.days_range()):
            rows.append({**row, "days_to_reentry_min": round(lo, 1), "days_to_reentry_max": round(hi, 1)})
        return rows

    def statement(self) -> str:
        ratio = self.whole_station_rate_ratio()
        rate = self.central.initial_rate_km_per_month()[0]
        return (f"at March 2022's flux the model sinks the whole station {rate:.2f} km/month, {ratio:.1f}x the "
                f"2022 reference rate of {REFERENCE_RATE_KM_PER_MONTH} km/month; {WHY_FASTER}")


def run_decay_band(scene: Scene, atmosphere: str = "auto", f107_low: float = F107_MARCH_2022, ap_low: float = AP_MARCH_2022,
                   f107_high: float = F107_MAX_2024, ap_high: float = AP_MAX_2024, cd: float = DRAG_COEFFICIENT,
                   central_area: str = "reference") -> DecayBand:
    """Every combination of {March 2022, 2024 maximum} solar flux and both area models.

    The exponential atmosphere has no solar flux: with it the band spans the area models only.
    """
    if central_area not in AREA_MODELS:  # else no case is the central one
        raise DecayError(f"unknown area model {central_area!r}; choose {' or '.join(AREA_MODELS)}")
    cases = []
    central = None
    for f107, ap, flux in ((f107_low, ap_low, "low"), (f107_high, ap_high, "high")):
        for area in AREA_MODELS:
            result = run_decay(scene, atmosphere=atmosphere, f107=f107, ap=ap, area_model=area, cd=cd)
            cases.append((f"F10.7 {f107:g}, {area} area", result))
            if flux == "low" and area == central_area:
                central = result
    assert central is not None  # the low flux with central_area, one of AREA_MODELS
    return DecayBand(central, tuple(cases))


def plot_decay_band(band: DecayBand, path: str | Path, width_in: float = 8.0, height_in: float = 4.5,
                    dpi: int = 100) -> None:
    """The central curves, each inside the band of all cases (shaded), labelled; written atomically."""
    from .plots import save_figure

    save_figure(decay_figure(band, width_in, height_in, dpi), path)


def decay_figure(band: DecayBand, width_in: float = 8.0, height_in: float = 4.5, dpi: int = 100) -> Figure:
    """The figure of :func:`plot_decay_band`, not yet written (tests read its layout).

    The title is the figure's (constrained layout makes room for it above the axes) in three short
    lines, each narrower than the figure: a title centred on the axes in two long lines ran past
    both edges of an 8-inch figure and was cut off."""
    from matplotlib.figure import Figure  # no pyplot: no backend, no display, no global state

    result = band.central
    fig = Figure(figsize=(width_in, height_in), dpi=dpi, layout="constrained")
    ax = fig.add_subplot()
    span_m = result.start_alt_m - result.reentry_alt_m
    grid = np.linspace(result.start_alt_m, result.reentry_alt_m, 400)
    for k, (b, (t, h), (lo, hi)) in enumerate(zip(result.bodies, result.curves, band.days_range())):
        colour = COLOURS.get(b.name, None)
        curves = [r.curves[k] for _, r in band.cases]
        times = np.array([np.interp(-grid, -hh, tt) for tt, hh in curves]) / DAY_S
        ax.fill_betweenx(grid / 1000.0, times.min(axis=0), times.max(axis=0), color=colour, alpha=0.18, lw=0)
        line, = ax.plot(t / DAY_S, h / 1000.0, color=colour, lw=2)
        label_alt = result.reentry_alt_m + span_m * (0.55 - 0.15 * k)
        label_t = float(np.interp(-label_alt, -h, t)) / DAY_S
        right = b.name == "whole station"
        ax.annotate(f"{b.name}: {b.mass_kg / 1000:.0f} t\nre-entry after {lo:.0f}-{hi:.0f} days",
                    (label_t, label_alt / 1000.0), xytext=(6 if right else -6, 0), textcoords="offset points",
                    ha="left" if right else "right", va="center", color=line.get_color(), fontsize=8.5)
    ax.axhline(result.reentry_alt_m / 1000.0, color="grey", lw=0.8, ls=":")
    ax.set_xlabel("days without reboost")
    ax.set_ylabel("altitude, km")
    ax.set_ylim(result.reentry_alt_m / 1000.0 - 10, result.start_alt_m / 1000.0 + 10)
    ax.set_xlim(0, max(t[-1] for _, r in band.cases for t, _ in r.curves) / DAY_S * 1.02)
    ax.grid(alpha=0.3)
    fig.suptitle(f"Orbit decay from {result.start_alt_m / 1000:.0f} km without reboost: "
                 f"C_D {result.bodies[0].cd:g}, {result.atmosphere.name.split(',')[0]}\n"
                 f"lines: F10.7 {F107_MARCH_2022:g} sfu, reference area; "
                 f"bands: F10.7 up to {F107_MAX_2024:g} sfu (2024 max), both area models\n"
                 f"whole station {band.whole_station_rate_ratio():.1f}x the 2022 reference rate (docs/analysis.md)",
                 fontsize=8.5)
    return fig


# --- the US segment alone: how long its CMGs last ----------------------------------------------
SPLIT_STORED_MOMENTUM_NMS = 16_567.0
"""CMG momentum the default scene's split leaves in the US segment's store (the push's angular
impulse about its centre of mass), N m s: measured at the scene's end (tests/test_control.py
checks it against a fresh simulation)."""

ORBITAL_SPEED_MPS = 7_660.0
"""At 418 km; drag uses the speed relative to the air, which co-rotates (a few % less, ignored)."""


def vector(v: np.ndarray, decimals: int) -> str:
    """A 3-vector for people, '(x, y, z)' at a fixed number of decimals: no numpy brackets, no -0."""
    return "(" + ", ".join(f"{float(x) + 0.0:.{decimals}f}".replace(f"-{0:.{decimals}f}", f"{0:.{decimals}f}")
                           for x in v) + ")"


@dataclass(frozen=True)
class CmgEndurance:
    """The US segment alone in its gravity-gradient TEA, with drag torque added (docs/control.md)."""

    drag_n: float
    centre_of_pressure_offset_m: np.ndarray  # (3,) body axes, from the centre of mass
    aero_torque_lvlh_nm: np.ndarray  # (3,)
    hours_to_saturation_empty: float
    hours_to_saturation_from: float  # starting with ``start_momentum_nms`` stored
    start_momentum_nms: float
    trimmed_tea_pitch_deg: float  # how far the TEA moves when it also balances the drag torque

    def lines(self) -> list[str]:
        return [
            f"US segment alone: drag {self.drag_n:.2f} N, centre of pressure {vector(self.centre_of_pressure_offset_m, 2)} m "
            f"from its centre of mass (body axes): drag torque {vector(self.aero_torque_lvlh_nm, 3)} N m (LVLH)",
            f"  in its gravity-gradient TEA the drag torque fills the CMGs ({CMG_CAPACITY_NMS:,.0f} N m s) in "
            f"{self.hours_to_saturation_empty:.1f} h from empty, at worst {self.hours_to_saturation_from:.1f} h with "
            f"the {self.start_momentum_nms:,.0f} N m s the split leaves (default scene)",
            f"  a TEA trimmed for drag too sits {self.trimmed_tea_pitch_deg:.2f} deg further and stores no secular "
            "momentum (the day-night swing of density then cycles it)",
        ]


def cmg_endurance(scene: Scene, start_momentum_nms: float = 0.0, f107: float = F107_MARCH_2022, ap: float = AP_MARCH_2022,
                  atmosphere: str = "auto", cd: float = DRAG_COEFFICIENT, capacity_nms: float = CMG_CAPACITY_NMS) -> CmgEndurance:
    """Time until the US segment's CMGs saturate under drag torque alone (gravity gradient is
    balanced in its TEA), from the catalogue's shapes: each element's drag area (reference-scaled,
    as in ``run_decay``) acts at its centre; their sum acts at the centre of pressure.

    The torque is taken as constant in LVLH (the station holds its attitude there); its component
    along the orbit normal piles up, the in-plane part turns once per orbit in inertial space.
    """
    from ..core.frames import body_to_lvlh, mean_motion_rad_s, rotvec
    from ..physics.control import torque_equilibrium_attitude
    from ..station.assets import composite_mass_properties, load_station_assets

    assets = load_station_assets(visuals=False)
    station = assets.station
    if not scene.separation:
        raise DecayError("the scene has no separation: no US segment alone")
    child, parent = station.side_of(scene.separation[0].interface)
    names = parent if "z1" in parent else child
    mass, com, inertia = composite_mass_properties(assets.parts, names)
    scale = REFERENCE_AREA_M2 / drag_areas_m2(station, station.part_names)
    areas, centres = [], []
    for name in names:
        for e in station.part(name).elements:
            areas.append(element_drag_area_m2(e) * scale)
            centres.append(np.asarray(e.p0_m, float) if e.shape in ("box", "sphere")
                           else (np.asarray(e.p0_m, float) + np.asarray(e.p1_m, float)) / 2)
    areas_a = np.array(areas)
    cop = (areas_a[:, None] * np.array(centres)).sum(axis=0) / areas_a.sum()
    atm = make_atmosphere(atmosphere, f107=f107, ap=ap, top_m=scene.orbit.altitude_m + 5_000.0,
                          bottom_m=scene.orbit.altitude_m - 5_000.0)
    rho = float(atm.density(np.array([scene.orbit.altitude_m]))[0])
    drag = 0.5 * rho * ORBITAL_SPEED_MPS**2 * cd * areas_a.sum()
    to_lvlh = body_to_lvlh("+XVV")
    lever = to_lvlh @ (cop - com)
    torque = np.cross(lever, np.array([0.0, -drag, 0.0]))  # drag against the flight direction (+y)
    n = mean_motion_rad_s(scene.orbit.altitude_m)
    t = np.arange(0.0, 60 * DAY_S, 10.0)
    c, s = np.cos(n * t), np.sin(n * t)
    # h(t) = -integral of R(n t) tau dt, inertial; start direction chosen worst-case along the secular part
    hx = -(torque[0] * s + torque[1] * (c - 1.0)) / n
    hy = -(torque[1] * s - torque[0] * (c - 1.0)) / n
    hz = -torque[2] * t

    def hours(start: float) -> float:
        sign = -1.0 if torque[2] >= 0 else 1.0
        size = np.sqrt(hx**2 + hy**2 + (hz + sign * start) ** 2)
        over = np.flatnonzero(size >= capacity_nms)
        return float(t[over[0]] / 3600.0) if len(over) else math.inf

    moments, axes = np.linalg.eigh(inertia)
    rot0 = to_lvlh @ axes
    plain = torque_equilibrium_attitude(np.diag(moments), n, rot0)
    trimmed = torque_equilibrium_attitude(np.diag(moments), n, rot0, extra_torque_lvlh_nm=torque)
    offset = float(np.degrees(np.linalg.norm(rotvec(trimmed @ plain.T))))
    return CmgEndurance(drag, cop - com, torque, hours(0.0), hours(start_momentum_nms), start_momentum_nms, offset)
