"""Mass properties of the catalogue's parts: what the physics is given (written to ``assets/``).

Mass properties come from the reference masses: each element gets its catalogued share of the
part's mass (appendages their own ``mass_kg``, the rest by volume) and the inertia of a uniform
solid of that shape (trimesh). Mesh volume never sets a mass.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import trimesh

from ..station.catalogue import Element, Part, Station, build_station

CYLINDER_SECTIONS = 32


@dataclass(frozen=True)
class MassProperties:
    """mass_kg; com_m (3,) in the station body frame; inertia_kg_m2 (3, 3) about the com, body axes."""

    mass_kg: float
    com_m: np.ndarray
    inertia_kg_m2: np.ndarray


def _align_z_to(p0: np.ndarray, p1: np.ndarray) -> np.ndarray:
    """4x4 transform taking the +Z axis at the origin to the segment centre p0->p1."""
    d = p1 - p0
    length = float(np.linalg.norm(d))
    transform = trimesh.geometry.align_vectors([0.0, 0.0, 1.0], d / length)
    transform[:3, 3] = (p0 + p1) / 2
    return transform


def _frustum_mesh(r0: float, r1: float, height: float, sections: int) -> trimesh.Trimesh:
    """Watertight truncated cone along +Z centred on the origin, r0 at -h/2, r1 at +h/2."""
    angles = np.linspace(0.0, 2 * np.pi, sections, endpoint=False)
    ring = np.column_stack([np.cos(angles), np.sin(angles)])
    bottom = np.column_stack([ring * r0, np.full(sections, -height / 2)])
    top = np.column_stack([ring * r1, np.full(sections, height / 2)])
    vertices = np.vstack([bottom, top, [[0, 0, -height / 2], [0, 0, height / 2]]])
    faces = []
    cb, ct = 2 * sections, 2 * sections + 1
    for i in range(sections):
        j = (i + 1) % sections
        faces += [[i, j, sections + j], [i, sections + j, sections + i], [cb, j, i], [ct, sections + i, sections + j]]
    return trimesh.Trimesh(vertices, np.array(faces), process=True)


def element_solid(e: Element, sections: int = CYLINDER_SECTIONS) -> trimesh.Trimesh:
    """The element as one watertight solid in the station body frame (for mass and collision)."""
    p0 = np.asarray(e.p0_m, float)
    if e.shape == "sphere":
        mesh = trimesh.creation.icosphere(subdivisions=3, radius=e.radius_m)
        mesh.apply_translation(p0)
        return mesh
    if e.shape == "box":
        return trimesh.creation.box(extents=e.extents_m, transform=trimesh.transformations.translation_matrix(p0))
    p1 = np.asarray(e.p1_m, float)
    height = float(np.linalg.norm(p1 - p0))
    r1 = e.radius_m if e.shape == "cylinder" else e.radius1_m
    mesh = _frustum_mesh(e.radius_m, r1, height, sections)
    mesh.apply_transform(_align_z_to(p0, p1))
    return mesh


def mass_properties(part: Part) -> MassProperties:
    """Mass, centre of mass and inertia of a part from its reference mass and element shapes."""
    solids = [element_solid(e) for e in part.elements]
    explicit = sum(e.mass_kg for e in part.elements if e.mass_kg is not None)
    shared_volume = sum(s.volume for s, e in zip(solids, part.elements) if e.mass_kg is None)
    if explicit > part.mass_kg:
        raise ValueError(f"{part.name}: appendage masses {explicit} kg exceed the part's {part.mass_kg} kg")
    masses = [e.mass_kg if e.mass_kg is not None else (part.mass_kg - explicit) * s.volume / shared_volume
              for s, e in zip(solids, part.elements)]
    com = sum(m * s.center_mass for m, s in zip(masses, solids)) / part.mass_kg
    inertia = np.zeros((3, 3))
    for m, s in zip(masses, solids):
        inertia_own = s.moment_inertia * (m / s.mass)  # density 1 -> mass == volume
        d = s.center_mass - com
        inertia += inertia_own + m * (np.dot(d, d) * np.eye(3) - np.outer(d, d))
    return MassProperties(float(part.mass_kg), np.asarray(com, float), inertia)


@lru_cache(maxsize=4)
def station_mass_properties(station: Station | None = None) -> dict[str, MassProperties]:
    station = station or build_station()
    return {p.name: mass_properties(p) for p in station.parts}
