"""The ISS of 5 March 2022 as data: parts, their simplified shapes, masses and the port graph.

Everything here is plain numpy-free Python data in the station body frame (USOS convention,
``docs/reference/iss-facts.md``): +X forward (Unity -> Destiny -> Harmony), +Y starboard,
+Z nadir, origin at the centre of Unity. Lengths in metres, masses in kilograms.

A *part* is what the trajectory record tracks: a module, a truss segment or a visiting vehicle.
Arrays, radiators and other appendages are *elements* of the part that carries them, so a
contact can still name the array it struck. Interfaces are the joints between two parts and are
named ``child/parent`` (``zarya/pma1``); a scene may name them in either order.

Where the reference is silent, values are documented estimates (``ESTIMATES`` below).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

# --- reference totals (iss-facts.md section 3 and 4) -------------------------------------
STATION_MASS_KG = 419_725.0
"""Whole-station mass, NASA figure [S2]."""

ESTIMATES: dict[str, str] = {
    "solar array wing mass": "1,090 kg per SAW (Boeing: 2,400 lb), taken out of its truss segment",
    "iROSA": "600 kg each, taken out of P6",
    "HRS radiator": "23.3 m x 3.4 m, 1,120 kg each, three per S1/P1, hanging nadir",
    "PV radiator": "13 m x 3.4 m, 740 kg, one per P4/S4/P6/S6, hanging nadir",
    "truss cross-section": "4.5 m (X) x 4.0 m (Z) boxes, centre line 4.6 m above (zenith of) Destiny",
    "Zvezda wings": "two wings 12.8 m x 3.3 m (span 29.7 m [M2])",
    "Nauka wings": "two wings 10 m x 3.0 m (size not found; like Zarya's 10.67 x 3.35)",
    "Soyuz/Progress wings": "two wings 3.9 m x 1.8 m (span 10.6 m [W4])",
    "Cygnus discs": "two UltraFlex discs of 3.7 m diameter",
    "Dragon mass": "12,500 kg docked (9,525 dry; 12-13 t at launch [W9])",
    "Cygnus mass": "5,600 kg (1,800 dry + 3,800 cargo [W11])",
    "Progress mass": "7,300 kg each (launch [W7])",
    "unlisted mass": "racks, cargo, external payloads and the arm (the difference between 419.7 t and "
    "the catalogued sum) are spread over the USOS pressurised modules in proportion to their "
    "catalogued mass, so that the station totals 419.7 t and the ROS side of zarya/pma1 keeps its "
    "catalogued 93.1 t",
}

Vec3 = tuple[float, float, float]

SHAPES = ("cylinder", "frustum", "sphere", "box")
MATERIALS = (
    "white",  # pressurised hulls, MLI blankets
    "grey",  # bare metal, truss, docking hardware
    "dark",  # Dragon trunk, dark fittings
    "array",  # solar array blankets
    "radiator",  # radiator panels
    "gold",  # gold/kapton foil (iROSA, Kibo EF, Progress blankets)
    "green",  # Soyuz/Progress thermal blankets
    "glass",  # Cupola windows
)
STYLES = ("", "lattice", "blanket", "panel")  # mesher detail that collision ignores


@dataclass(frozen=True)
class Element:
    """One primitive of a part's shape, in the station body frame.

    ``cylinder``/``frustum``: ``p0_m`` -> ``p1_m`` along the axis, radii ``radius_m`` (at p0)
    and ``radius1_m`` (at p1, frustum only). ``sphere``: centre ``p0_m``, ``radius_m``.
    ``box``: centre ``p0_m``, axis-aligned full extents ``extents_m``.
    ``style`` asks the mesher for detail that collision ignores (``lattice`` truss, ``blanket``
    array with a mast). ``mass_kg`` is set for appendages; the rest of the part's mass is spread
    over its other elements by volume.
    """

    shape: str
    p0_m: Vec3
    material: str = "white"
    label: str = "hull"
    p1_m: Vec3 = (0.0, 0.0, 0.0)
    radius_m: float = 0.0
    radius1_m: float = 0.0
    extents_m: Vec3 = (0.0, 0.0, 0.0)
    style: str = ""
    mass_kg: float | None = None
    collides: bool = True

    def __post_init__(self) -> None:
        # named vocabularies, checked here: an unknown shape used to become a cone in the meshes and
        # a zero-size box in the physics, silently
        for field_name, value, allowed in (("shape", self.shape, SHAPES), ("material", self.material, MATERIALS),
                                           ("style", self.style, STYLES)):
            if value not in allowed:
                raise ValueError(f"element {self.label!r}: {field_name} {value!r} is not one of {', '.join(map(repr, allowed))}")


@dataclass(frozen=True)
class Part:
    """A rigid piece the simulation and record track (module, truss segment, vehicle)."""

    name: str
    label: str
    segment: str
    kind: str
    catalogue_mass_kg: float
    elements: tuple[Element, ...]
    source: str
    mass_kg: float = 0.0  # after the unlisted mass is spread (see ``build_station``)


@dataclass(frozen=True)
class Interface:
    """A joint between two parts: ``child`` hangs off ``parent`` at ``point_m``.

    ``axis`` is the unit vector from parent into child (the push direction for the child).
    """

    name: str
    child: str
    parent: str
    point_m: Vec3
    axis: Vec3
    mechanism: str


@dataclass(frozen=True)
class Station:
    parts: tuple[Part, ...]
    interfaces: tuple[Interface, ...]
    notes: dict[str, str] = field(default_factory=dict, hash=False, compare=False)

    @property
    def part_names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.parts)

    @property
    def interface_names(self) -> tuple[str, ...]:
        return tuple(i.name for i in self.interfaces)

    def part(self, name: str) -> Part:
        for p in self.parts:
            if p.name == name:
                return p
        raise KeyError(name)

    def interface(self, name: str) -> Interface:
        """Look an interface up as ``child/parent`` or ``parent/child``."""
        a, _, b = name.partition("/")
        for i in self.interfaces:
            if i.name == name or (i.child, i.parent) == (b, a):
                return i
        raise KeyError(name)

    @property
    def total_mass_kg(self) -> float:
        return sum(p.mass_kg for p in self.parts)

    def segment_masses_kg(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for p in self.parts:
            out[p.segment] = out.get(p.segment, 0.0) + p.mass_kg
        return out

    def components(self, open_interfaces: set[str] | frozenset[str] = frozenset()) -> list[list[str]]:
        """Groups of parts that stay rigidly joined when ``open_interfaces`` are open.

        Each group lists part names in catalogue order; groups are ordered by their first part,
        so the result (and every body built from it) is deterministic.
        """
        opened = {self.interface(n).name for n in open_interfaces}
        index = {p.name: k for k, p in enumerate(self.parts)}
        parent = list(range(len(self.parts)))

        def find(k: int) -> int:
            while parent[k] != k:
                parent[k] = parent[parent[k]]
                k = parent[k]
            return k

        for i in self.interfaces:
            if i.name in opened:
                continue
            a, b = find(index[i.child]), find(index[i.parent])
            if a != b:
                parent[max(a, b)] = min(a, b)
        groups: dict[int, list[str]] = {}
        for p in self.parts:
            groups.setdefault(find(index[p.name]), []).append(p.name)
        return sorted(groups.values(), key=lambda g: index[g[0]])

    def side_of(self, interface_name: str) -> tuple[list[str], list[str]]:
        """(child side, parent side) part names when only this interface is opened."""
        itf = self.interface(interface_name)
        for group in self.components({itf.name}):
            if itf.child in group:
                child_side = group
            if itf.parent in group:
                parent_side = group
        return child_side, parent_side


# --- shape helpers (all coordinates in the station body frame) -----------------------------
def _cyl(p0: Vec3, p1: Vec3, r: float, material: str = "white", label: str = "hull", **kw: Any) -> Element:
    return Element("cylinder", p0, material, label, p1_m=p1, radius_m=r, **kw)


def _frustum(p0: Vec3, p1: Vec3, r0: float, r1: float, material: str = "white", label: str = "hull",
             **kw: Any) -> Element:
    return Element("frustum", p0, material, label, p1_m=p1, radius_m=r0, radius1_m=r1, **kw)


def _sphere(c: Vec3, r: float, material: str = "white", label: str = "hull", **kw: Any) -> Element:
    return Element("sphere", c, material, label, radius_m=r, **kw)


def _box(c: Vec3, ext: Vec3, material: str = "grey", label: str = "hull", **kw: Any) -> Element:
    return Element("box", c, material, label, extents_m=ext, **kw)


def _add(p: Vec3, axis: Vec3, s: float) -> Vec3:
    return (p[0] + axis[0] * s, p[1] + axis[1] * s, p[2] + axis[2] * s)


def _wing_pair(centre: Vec3, along: str, root_offset_m: float, length_m: float, width_m: float,
               width_axis: str, labels: tuple[str, str], material: str = "array",
               mass_each_kg: float | None = None, thickness_m: float = 0.06) -> tuple[Element, ...]:
    """Two array wings growing in opposite directions along ``along`` from ``centre``."""
    k = "xyz".index(along)
    w = "xyz".index(width_axis)
    out = []
    for sign, label in zip((1.0, -1.0), labels):
        c = list(centre)
        c[k] += sign * (root_offset_m + length_m / 2)
        ext = [thickness_m] * 3
        ext[k] = length_m
        ext[w] = width_m
        out.append(_box((c[0], c[1], c[2]), (ext[0], ext[1], ext[2]), material, label, style="blanket",
                        mass_kg=mass_each_kg))
    return tuple(out)


# --- vehicles ------------------------------------------------------------------------------
SOYUZ_LENGTH_M = 6.98
"""Soyuz MS from its docking port to the aft end of its service module, m [W1][W4]."""
PROGRESS_LENGTH_M = 7.2
"""Progress MS from its docking port to the aft end of its service module, m [W6][W7]."""
SERVICE_MODULE_RADIUS_M = 1.36
"""Radius of the Soyuz MS and Progress MS service modules (2.72 m across), m."""


def _soyuz(port: Vec3, axis: Vec3, wing_axis: str) -> tuple[Element, ...]:
    """Soyuz MS: orbital module, descent module, service module with two wings (6.98 m)."""
    e = []
    e.append(_cyl(port, _add(port, axis, 0.35), 0.45, "grey", "docking probe"))
    e.append(_sphere(_add(port, axis, 1.45), 1.13, "green", "orbital module"))
    e.append(_frustum(_add(port, axis, 2.55), _add(port, axis, 4.7), 0.95, 1.085, "green", "descent module"))
    e.append(_cyl(_add(port, axis, 4.7), _add(port, axis, SOYUZ_LENGTH_M), SERVICE_MODULE_RADIUS_M, "white",
                  "service module"))
    e += _wing_pair(_add(port, axis, 5.9), wing_axis, 1.4, 3.9, 1.8, _perp(axis, wing_axis),
                    ("wing +", "wing -"), mass_each_kg=80.0)
    return tuple(e)


def _progress(port: Vec3, axis: Vec3, wing_axis: str) -> tuple[Element, ...]:
    """Progress MS: cargo module, tanker section, service module with two wings (7.2 m)."""
    e = []
    e.append(_cyl(port, _add(port, axis, 0.35), 0.45, "grey", "docking probe"))
    e.append(_frustum(_add(port, axis, 0.35), _add(port, axis, 3.0), 0.9, 1.12, "green", "cargo module"))
    e.append(_cyl(_add(port, axis, 3.0), _add(port, axis, 4.9), 1.05, "grey", "refuelling module"))
    e.append(_cyl(_add(port, axis, 4.9), _add(port, axis, PROGRESS_LENGTH_M), SERVICE_MODULE_RADIUS_M, "white",
                  "service module"))
    e += _wing_pair(_add(port, axis, 6.1), wing_axis, 1.4, 3.9, 1.8, _perp(axis, wing_axis),
                    ("wing +", "wing -"), mass_each_kg=80.0)
    return tuple(e)


def _perp(axis: Vec3, wing_axis: str) -> str:
    """The third axis letter, neither the vehicle axis nor the wing axis."""
    k = max(range(3), key=lambda i: abs(axis[i]))
    return "xyz"[({0, 1, 2} - {k, "xyz".index(wing_axis)}).pop()]


# --- the station ---------------------------------------------------------------------------
X, Y, Z = (1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0)
MX, MY, MZ = (-1.0, 0.0, 0.0), (0.0, -1.0, 0.0), (0.0, 0.0, -1.0)

TRUSS_X_M = 6.985  # truss centre line above the middle of Destiny
TRUSS_Z_M = -4.6
TRUSS_W_M, TRUSS_H_M = 4.5, 4.0
SAW_LENGTH_M, SAW_WIDTH_M, SAW_MASS_KG = 35.0, 10.7, 1090.0
HRS_LENGTH_M, HRS_WIDTH_M, HRS_MASS_KG = 23.3, 3.4, 1120.0
PVR_LENGTH_M, PVR_MASS_KG = 13.0, 740.0
IROSA_LENGTH_M, IROSA_WIDTH_M, IROSA_MASS_KG = 18.3, 6.0, 600.0


def _truss_box(y0: float, y1: float, label: str = "truss") -> Element:
    return _box((TRUSS_X_M, (y0 + y1) / 2, TRUSS_Z_M), (TRUSS_W_M, abs(y1 - y0), TRUSS_H_M),
                "grey", label, style="lattice")


def _radiator(y_centre: float, length_m: float, mass_kg: float, label: str) -> Element:
    top = TRUSS_Z_M + TRUSS_H_M / 2
    return _box((TRUSS_X_M - 1.2, y_centre, top + length_m / 2), (0.12, HRS_WIDTH_M, length_m),
                "radiator", label, style="panel", mass_kg=mass_kg)


def _pv_module(y_centre: float, channels: tuple[str, str], pvr_y: float) -> tuple[Element, ...]:
    """Two SAW wings at right angles to the truss (along +/-X) and the PV radiator."""
    wings = _wing_pair((TRUSS_X_M, y_centre, TRUSS_Z_M), "x", TRUSS_W_M / 2 + 1.0, SAW_LENGTH_M,
                       SAW_WIDTH_M, "y", (f"wing {channels[0]}", f"wing {channels[1]}"),
                       mass_each_kg=SAW_MASS_KG)
    mast = _cyl((TRUSS_X_M + TRUSS_W_M / 2, y_centre, TRUSS_Z_M), (TRUSS_X_M + TRUSS_W_M / 2 + 1.0, y_centre, TRUSS_Z_M),
                0.5, "grey", "beta gimbal +", collides=False)
    mast2 = _cyl((TRUSS_X_M - TRUSS_W_M / 2, y_centre, TRUSS_Z_M), (TRUSS_X_M - TRUSS_W_M / 2 - 1.0, y_centre, TRUSS_Z_M),
                 0.5, "grey", "beta gimbal -", collides=False)
    return wings + (mast, mast2, _radiator(pvr_y, PVR_LENGTH_M, PVR_MASS_KG, "PV radiator"))


@dataclass(frozen=True)
class VisualFixture:
    """Something drawn on a part that is neither a collision primitive nor catalogued mass (its mass
    is in the spread-out unlisted rest): the visual model must stay inside ``centre_m`` +/- half
    ``extents_m`` (station body frame, m)."""

    label: str
    centre_m: Vec3
    extents_m: Vec3
    note: str


VISUAL_FIXTURES: dict[str, tuple[VisualFixture, ...]] = {
    "s0": (VisualFixture("Canadarm2 and Dextre on the Mobile Base System",
                         (TRUSS_X_M + TRUSS_W_M / 2 + 1.0, 1.5, TRUSS_Z_M), (2.0, 13.6, 3.4),
                         "estimate: arm folded on the MBS at the forward face of S0, Dextre beside it; "
                         "booms 7.1 m [from public descriptions; parking place in March 2022 not checked]"),),
}


def _build_parts() -> tuple[list[Part], list[Interface]]:
    parts: list[Part] = []
    itfs: list[Interface] = []

    def part(name: str, label: str, segment: str, kind: str, mass: float, elements: Iterable[Element],
             source: str) -> None:
        parts.append(Part(name, label, segment, kind, float(mass), tuple(elements), source))

    def joint(child: str, parent: str, point: Vec3, axis: Vec3, mechanism: str) -> None:
        itfs.append(Interface(f"{child}/{parent}", child, parent, point, axis, mechanism))

    # ---- USOS core along X: Unity at the origin -----------------------------------------
    part("unity", "Unity (Node 1)", "USOS", "node", 11_612,
         [_cyl((-2.735, 0, 0), (2.735, 0, 0), 2.285)], "[M12] 5.47 m x 4.57 m")
    part("destiny", "Destiny (US Lab)", "USOS", "module", 14_515,
         [_frustum((2.735, 0, 0), (3.4, 0, 0), 1.6, 2.15),
          _cyl((3.4, 0, 0), (10.57, 0, 0), 2.15),
          _frustum((10.57, 0, 0), (11.235, 0, 0), 2.15, 1.6)], "[M13] 8.5 m x 4.3 m")
    joint("destiny", "unity", (2.735, 0, 0), X, "CBM")
    part("harmony", "Harmony (Node 2)", "USOS", "node", 14_288,
         [_cyl((11.235, 0, 0), (18.435, 0, 0), 2.2)], "[M14] 7.2 m x 4.4 m")
    joint("harmony", "destiny", (11.235, 0, 0), X, "CBM")
    part("pma2", "PMA-2", "USOS", "adapter", 1_376,
         [_frustum((18.435, 0, 0), (20.295, 0, 0), 0.95, 0.685, "grey")], "[M22] 1.86 m, 1.9 -> 1.37 m")
    joint("pma2", "harmony", (18.435, 0, 0), X, "CBM")
    part("ida2", "IDA-2", "USOS", "adapter", 526,
         [_cyl((20.295, 0, 0), (21.395, 0, 0), 0.8, "grey")], "[M23] 1.1 m x 1.6 m")
    joint("ida2", "pma2", (20.295, 0, 0), X, "APAS-95")
    part("pma3", "PMA-3", "USOS", "adapter", 1_183,
         [_frustum((14.835, 0, -2.2), (14.835, 0, -4.06), 0.95, 0.685, "grey")], "[M22]")
    joint("pma3", "harmony", (14.835, 0, -2.2), MZ, "CBM")
    part("ida3", "IDA-3", "USOS", "adapter", 526,
         [_cyl((14.835, 0, -4.06), (14.835, 0, -5.16), 0.8, "grey")], "[M23]")
    joint("ida3", "pma3", (14.835, 0, -4.06), MZ, "APAS-95")
    part("columbus", "Columbus", "USOS", "module", 10_275,
         [_cyl((14.835, 2.2, 0), (14.835, 8.4, 0), 2.2385),
          _frustum((14.835, 8.4, 0), (14.835, 9.071, 0), 2.2385, 1.5)], "[M18] 6.871 m x 4.477 m")
    joint("columbus", "harmony", (14.835, 2.2, 0), Y, "CBM")
    part("kibo_pm", "Kibo JEM-PM", "USOS", "module", 15_900,
         [_cyl((14.835, -2.2, 0), (14.835, -13.4, 0), 2.2)], "[M19] 11.2 m x 4.4 m")
    joint("kibo_pm", "harmony", (14.835, -2.2, 0), MY, "CBM")
    part("kibo_elm_ps", "Kibo JEM-ELM-PS", "USOS", "module", 4_200,
         [_cyl((14.835, -7.5, -2.2), (14.835, -7.5, -6.1), 2.2)], "[M19] 3.9 m x 4.4 m")
    joint("kibo_elm_ps", "kibo_pm", (14.835, -7.5, -2.2), MZ, "CBM")
    part("kibo_ef", "Kibo Exposed Facility", "USOS", "module", 4_000,
         [_box((14.835, -16.2, 0.0), (5.0, 5.6, 4.0), "gold", "platform")], "[M19] 5.6 x 5.0 x 4.0 m")
    joint("kibo_ef", "kibo_pm", (14.835, -13.4, 0), MY, "EFU")
    part("quest", "Quest airlock", "USOS", "module", 6_064,
         [_cyl((0, 2.285, 0), (0, 5.8, 0), 2.0), _cyl((0, 5.8, 0), (0, 7.785, 0), 1.0, label="crew lock")],
         "[M17] 5.5 m x 4.0 m")
    joint("quest", "unity", (0, 2.285, 0), Y, "CBM")
    part("tranquility", "Tranquility (Node 3)", "USOS", "node", 15_500,
         [_cyl((0, -2.285, 0), (0, -8.991, 0), 2.24)], "[M15] 6.706 m x 4.48 m")
    joint("tranquility", "unity", (0, -2.285, 0), MY, "CBM")
    part("cupola", "Cupola", "USOS", "module", 1_880,
         [_frustum((0, -5.638, 2.24), (0, -5.638, 3.3), 1.4775, 1.25),
          _frustum((0, -5.638, 3.3), (0, -5.638, 3.74), 1.25, 0.4, "glass", "dome")], "[M16] 1.5 m x 2.955 m")
    joint("cupola", "tranquility", (0, -5.638, 2.24), Z, "CBM")
    part("pmm", "Leonardo PMM", "USOS", "module", 9_896,
         [_cyl((2.24, -5.638, 0), (8.2, -5.638, 0), 2.285),
          _frustum((8.2, -5.638, 0), (8.84, -5.638, 0), 2.285, 1.5)], "[M20] 6.6 m x 4.57 m")
    joint("pmm", "tranquility", (2.24, -5.638, 0), X, "CBM")
    part("beam", "BEAM", "USOS", "module", 1_413,
         [_cyl((-2.24, -5.638, 0), (-2.64, -5.638, 0), 0.9, "grey", "bulkhead"),
          _cyl((-2.64, -5.638, 0), (-5.4, -5.638, 0), 1.615),
          _sphere((-5.4, -5.638, 0), 0.85, label="end cap")], "[M21] 4.01 m x 3.23 m")
    joint("beam", "tranquility", (-2.24, -5.638, 0), MX, "CBM")
    part("z1", "Z1 truss", "USOS", "truss", 8_755,
         [_box((0, 0, -4.735), (4.0, 4.0, 4.9), "grey", "truss", style="lattice"),
          _cyl((0, 0, -7.185), (0, 0, -8.6), 0.12, "grey", "Ku-band mast", collides=False)],
         "[T2] 4.9 m, 4 CMGs")
    joint("z1", "unity", (0, 0, -2.285), MZ, "CBM")
    part("cygnus_ng17", "Cygnus NG-17", "Cygnus NG-17", "vehicle", 5_600,
         [_cyl((0, 0, 2.285), (0, 0, 7.0), 1.535, "white", "pressurised cargo module"),
          _cyl((0, 0, 7.0), (0, 0, 8.635), 1.4, "gold", "service module"),
          _cyl((0, 3.6, 8.0), (0, 3.6, 8.06), 1.85, "array", "UltraFlex +", mass_kg=60.0),
          _cyl((0, -3.6, 8.0), (0, -3.6, 8.06), 1.85, "array", "UltraFlex -", mass_kg=60.0)],
         "[W10][W11] 6.35 m x 3.07 m")
    joint("cygnus_ng17", "unity", (0, 0, 2.285), Z, "CBM")
    part("dragon_endurance", "Crew Dragon Endurance", "Crew Dragon", "vehicle", 12_500,
         [_frustum((21.395, 0, 0), (21.9, 0, 0), 0.6, 0.9, "grey", "nose docking system"),
          _frustum((21.9, 0, 0), (25.1, 0, 0), 0.9, 2.0, "white", "capsule"),
          _cyl((25.1, 0, 0), (25.35, 0, 0), 2.0, "dark", "heat shield"),
          _cyl((25.35, 0, 0), (29.495, 0, 0), 1.85, "dark", "trunk")], "[W8][W9] 8.1 m x 4.0 m")
    joint("dragon_endurance", "ida2", (21.395, 0, 0), X, "IDSS")

    # ---- integrated truss along Y --------------------------------------------------------
    y_s0 = 6.7
    part("s0", "S0 truss", "USOS", "truss", 13_971,
         [_truss_box(-y_s0, y_s0),
          _box((TRUSS_X_M, 0, -2.4), (2.0, 2.0, 0.5), "grey", "module-to-truss structure")], "[T2] 13.4 m")
    joint("s0", "destiny", (TRUSS_X_M, 0, -2.15), MZ, "MTSA")
    for side, sgn in (("s", 1.0), ("p", -1.0)):
        up = side.upper()
        y1a, y1b = sgn * y_s0, sgn * 20.4
        rads = [_radiator(sgn * yc, HRS_LENGTH_M, HRS_MASS_KG, f"HRS radiator {k + 1}")
                for k, yc in enumerate((10.2, 14.0, 17.8))]
        m1 = 14_124 if side == "s" else 14_003
        part(f"{side}1", f"{up}1 truss", "USOS", "truss", m1, [_truss_box(y1a, y1b)] + rads,
             "[T2] 13.7 m, 3 HRS radiators")
        joint(f"{side}1", "s0", (TRUSS_X_M, y1a, TRUSS_Z_M), (0, sgn, 0), "SSAS")
        y3b = sgn * 34.2
        ch4 = ("1A", "3A") if side == "s" else ("2A", "4A")
        part(f"{side}3_{side}4", f"{up}3/{up}4 truss", "USOS", "truss", 15_824,
             [_truss_box(y1b, y3b),
              _cyl((TRUSS_X_M, sgn * 26.0, TRUSS_Z_M), (TRUSS_X_M, sgn * 27.2, TRUSS_Z_M), 2.3, "grey", "SARJ",
                   collides=False)] + list(_pv_module(sgn * 31.0, ch4, sgn * 23.5)),
             "[T2][T3] 13.8 m, SARJ, 2 SAW + PV radiator")
        joint(f"{side}3_{side}4", f"{side}1", (TRUSS_X_M, y1b, TRUSS_Z_M), (0, sgn, 0), "SSAS")
        y5b = sgn * 37.57
        part(f"{side}5", f"{up}5 spacer", "USOS", "truss", 1_818 if side == "s" else 1_864,
             [_truss_box(y3b, y5b)], "[T2][T6] 3.37 m")
        joint(f"{side}5", f"{side}3_{side}4", (TRUSS_X_M, y3b, TRUSS_Z_M), (0, sgn, 0), "MRTAS")
        y6b = sgn * 51.27
        ch6 = ("1B", "3B") if side == "s" else ("2B", "4B")
        extra: list[Element] = []
        if side == "p":  # the two iROSA of June 2021, in front of the 2B/4B wings [T7]
            extra = list(_wing_pair((TRUSS_X_M, sgn * 44.5, TRUSS_Z_M - 1.6), "x", TRUSS_W_M / 2 + 1.0,
                                    IROSA_LENGTH_M, IROSA_WIDTH_M, "y", ("iROSA 2B", "iROSA 4B"),
                                    material="gold", mass_each_kg=IROSA_MASS_KG))
        part(f"{side}6", f"{up}6 truss", "USOS", "truss", 14_061 if side == "s" else 15_824,
             [_truss_box(y5b, y6b)] + list(_pv_module(sgn * 44.5, ch6, sgn * 40.0)) + extra,
             "[T2][T4] 13.7 m, 2 SAW + PV radiator" + (", 2 iROSA [T7]" if side == "p" else ""))
        joint(f"{side}6", f"{side}5", (TRUSS_X_M, y5b, TRUSS_Z_M), (0, sgn, 0), "MRTAS")

    # ---- ROS, trailing along -X -----------------------------------------------------------
    part("pma1", "PMA-1", "USOS", "adapter", 1_589,
         [_frustum((-2.735, 0, 0), (-4.595, 0, 0), 0.95, 0.685, "grey")], "[M22] stays with the USOS")
    joint("pma1", "unity", (-2.735, 0, 0), MX, "CBM")
    part("zarya", "Zarya (FGB)", "ROS", "module", 19_323,
         [_cyl((-4.595, 0, 0), (-5.15, 0, 0), 0.7, "grey", "APAS-95 collar"),
          _sphere((-6.3, 0, 0), 1.35, label="docking compartment"),
          _frustum((-7.3, 0, 0), (-8.6, 0, 0), 1.35, 2.055),
          _cyl((-8.6, 0, 0), (-17.155, 0, 0), 2.055)], "[M4][M5] 12.56 m x 4.11 m")
    joint("zarya", "pma1", (-4.595, 0, 0), MX, "APAS-95")
    part("zvezda", "Zvezda (SM)", "ROS", "module", 19_051,
         [_sphere((-18.45, 0, 0), 1.3, label="transfer node"),
          _cyl((-19.6, 0, 0), (-23.3, 0, 0), 1.45, label="working compartment (small)"),
          _frustum((-23.3, 0, 0), (-24.3, 0, 0), 1.45, 2.075),
          _cyl((-24.3, 0, 0), (-29.4, 0, 0), 2.075, label="working compartment (large)"),
          _cyl((-29.4, 0, 0), (-30.255, 0, 0), 1.0, "grey", "transfer chamber")]
         + list(_wing_pair((-21.5, 0, 0), "y", 1.55, 12.8, 3.3, "x", ("wing starboard", "wing port"),
                           mass_each_kg=250.0)), "[M1][M2] 13.1 m, stepped hull, span 29.7 m")
    joint("zvezda", "zarya", (-17.155, 0, 0), MX, "SSVP")
    part("poisk", "Poisk (MRM-2)", "ROS", "module", 3_670,
         [_cyl((-18.45, 0, -1.3), (-18.45, 0, -5.349), 1.275)], "[M6] 4.049 m x 2.55 m")
    joint("poisk", "zvezda", (-18.45, 0, -1.3), MZ, "SSVP")
    part("progress_ms19", "Progress MS-19", "Progress MS-19", "vehicle", 7_300,
         _progress((-18.45, 0, -5.349), MZ, "y"), "[W6][W7] 7.2 m x 2.72 m")
    joint("progress_ms19", "poisk", (-18.45, 0, -5.349), MZ, "SSVP")
    part("nauka", "Nauka (MLM)", "ROS", "module", 20_350,
         [_cyl((-18.45, 0, 1.3), (-18.45, 0, 4.3), 1.45),
          _frustum((-18.45, 0, 4.3), (-18.45, 0, 5.3), 1.45, 2.05),
          _cyl((-18.45, 0, 5.3), (-18.45, 0, 14.3), 2.05)]
         + list(_wing_pair((-18.45, 0, 11.0), "y", 2.1, 10.0, 3.0, "z", ("wing starboard", "wing port"),
                           mass_each_kg=150.0))
         + [_box((-16.1, 0, 8.0), (0.4, 0.4, 10.0), "white", "ERA arm", collides=False)],
         "[M8][M9][M10] 13 m x 4.1 m")
    joint("nauka", "zvezda", (-18.45, 0, 1.3), Z, "SSVP")
    part("prichal", "Prichal (UM)", "ROS", "module", 3_890,
         [_cyl((-18.45, 0, 14.3), (-18.45, 0, 15.15), 0.7, "grey", "docking unit"),
          _sphere((-18.45, 0, 16.755), 1.65, label="ball"),
          _cyl((-18.45, 0, 18.36), (-18.45, 0, 19.21), 0.7, "grey", "nadir docking unit")],
         "[M11] 4.91 m, 3.3 m ball")
    joint("prichal", "nauka", (-18.45, 0, 14.3), Z, "SSVP")
    part("rassvet", "Rassvet (MRM-1)", "ROS", "module", 5_075,
         [_cyl((-6.3, 0, 1.35), (-6.3, 0, 7.35), 1.175)], "[M7] 6.0 m x 2.35 m")
    joint("rassvet", "zarya", (-6.3, 0, 1.35), Z, "SSVP")
    part("soyuz_ms19", "Soyuz MS-19", "Soyuz MS-19", "vehicle", 7_152,
         _soyuz((-6.3, 0, 7.35), Z, "y"), "[W1][W4] 6.98 m x 2.72 m")
    joint("soyuz_ms19", "rassvet", (-6.3, 0, 7.35), Z, "SSVP")
    part("progress_ms18", "Progress MS-18", "Progress MS-18", "vehicle", 7_300,
         _progress((-30.255, 0, 0), MX, "y"), "[W5][W7] 7.2 m x 2.72 m")
    joint("progress_ms18", "zvezda", (-30.255, 0, 0), MX, "SSVP")
    return parts, itfs


def build_station() -> Station:
    """The station of 5 March 2022, with the unlisted mass spread so the totals match."""
    parts, itfs = _build_parts()
    from dataclasses import replace

    catalogued = sum(p.catalogue_mass_kg for p in parts)
    unlisted = STATION_MASS_KG - catalogued
    carriers = [p for p in parts if p.segment == "USOS" and p.kind in ("module", "node")]
    carrier_total = sum(p.catalogue_mass_kg for p in carriers)
    carrier_names = {p.name for p in carriers}
    final = [replace(p, mass_kg=p.catalogue_mass_kg * (1.0 + unlisted / carrier_total)
                     if p.name in carrier_names else p.catalogue_mass_kg) for p in parts]
    notes = dict(ESTIMATES)
    notes["catalogued mass"] = f"{catalogued:,.0f} kg; unlisted {unlisted:,.0f} kg spread over {len(carriers)} modules"
    return Station(tuple(final), tuple(itfs), notes)

