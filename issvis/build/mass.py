"""Mass properties of the catalogue's parts: what the physics is given (written to ``assets/``).

Mass properties come from the reference masses: each element gets its catalogued share of the
part's mass (appendages their own ``mass_kg``, the rest by volume) and the inertia of a uniform
solid of that shape (a closed triangle mesh). Mesh volume never sets a mass.

Every number here reaches ``manifest.json`` at full precision, so the arithmetic is the same on
every machine: no BLAS or LAPACK (matrix products, ``np.linalg.norm`` of a vector, SVD; see
``issvis.core.vec3``) and no ``**`` with exponents other than 2 (numpy's AVX-512 ``pow`` rounds
differently from libm's), only element-wise products, sums and square roots.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from ..core import vec3
from ..station.catalogue import Element, Part, Station, build_station

CYLINDER_SECTIONS = 32
SPHERE_SUBDIVISIONS = 3  # an icosphere of 642 vertices, as trimesh.creation.icosphere(3) makes


@dataclass(frozen=True)
class MassProperties:
    """mass_kg; com_m (3,) in the station body frame; inertia_kg_m2 (3, 3) about the com, body axes."""

    mass_kg: float
    com_m: np.ndarray
    inertia_kg_m2: np.ndarray


@dataclass(frozen=True)
class Solid:
    """A closed triangle mesh wound outwards (station body frame, m) and the mass properties of
    the uniform solid of density 1 it bounds: volume_m3 (= its mass), centre_m (3,) and
    inertia_m5 (3, 3) about centre_m."""

    vertices: np.ndarray
    faces: np.ndarray
    volume_m3: float
    centre_m: np.ndarray
    inertia_m5: np.ndarray


def _frustum_mesh(p1: np.ndarray, r0: float, r1: float, sections: int) -> tuple[np.ndarray, np.ndarray]:
    """Watertight truncated cone from the origin (radius r0) to p1 (radius r1): rings, then the two
    cap centres."""
    axis = vec3.unit(p1)
    e1, e2 = vec3.basis(axis)
    angles = np.linspace(0.0, 2 * np.pi, sections, endpoint=False)
    ring = np.cos(angles)[:, None] * e1 + np.sin(angles)[:, None] * e2
    vertices = np.vstack([r0 * ring, p1 + r1 * ring, [np.zeros(3), p1]])
    faces = []
    cb, ct = 2 * sections, 2 * sections + 1
    for i in range(sections):
        j = (i + 1) % sections
        faces += [[i, j, sections + j], [i, sections + j, sections + i], [cb, j, i], [ct, sections + i, sections + j]]
    return vertices, np.array(faces, np.int64)


def _icosphere_mesh(radius: float) -> tuple[np.ndarray, np.ndarray]:
    """The icosahedron subdivided ``SPHERE_SUBDIVISIONS`` times, each time put back on the sphere
    (centred on the origin)."""
    import trimesh  # its icosahedron and midpoint subdivision: tables and means, no BLAS

    ico = trimesh.creation.icosahedron()
    vertices, faces = np.asarray(ico.vertices, float), np.asarray(ico.faces, np.int64)
    for _ in range(SPHERE_SUBDIVISIONS):
        vertices, faces = trimesh.remesh.subdivide(vertices, faces)
        vertices = vertices * (radius / vec3.norm(vertices))[:, None]
    return vertices, faces


def _box_mesh(extents: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The 8 corners and 12 outward triangles of an axis-aligned box centred on the origin."""
    import trimesh  # its corner and face tables; without a transform, element-wise arithmetic only

    box = trimesh.creation.box(extents=extents)
    return np.asarray(box.vertices, float), np.asarray(box.faces, np.int64)


def solid_mass_properties(vertices: np.ndarray, faces: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """(volume, centre (3,), inertia (3, 3) about the centre) of the uniform solid of density 1
    bounded by a closed, outward-wound triangle mesh: the divergence-theorem integrals of Eberly,
    "Polyhedral Mass Properties (Revisited)" (the formula trimesh uses), each a pairwise ``np.sum``."""
    t0, t1, t2 = (np.ascontiguousarray(vertices[faces[:, k]]) for k in range(3))
    cr = np.cross(t1 - t0, t2 - t0)
    f1 = t0 + t1 + t2
    f2 = t0 * t0 + t1 * t1 + t0 * t1 + t2 * f1
    f3 = t0 * t0 * t0 + t0 * t0 * t1 + t0 * t1 * t1 + t1 * t1 * t1 + t2 * f2
    g0, g1, g2 = (f2 + (t + f1) * t for t in (t0, t1, t2))

    def total(x: np.ndarray) -> float:
        return float(np.sum(np.ascontiguousarray(x)))

    volume = total(cr[:, 0] * f1[:, 0]) / 6
    first = np.array([total(cr[:, i] * f2[:, i]) for i in range(3)]) / 24  # integrals of x, y, z
    second = np.array([total(cr[:, i] * f3[:, i]) for i in range(3)]) / 60  # of x^2, y^2, z^2
    mixed = np.array([total(cr[:, i] * (t0[:, (i + 1) % 3] * g0[:, i] + t1[:, (i + 1) % 3] * g1[:, i]
                                        + t2[:, (i + 1) % 3] * g2[:, i])) for i in range(3)]) / 120  # xy, yz, zx
    c = first / volume
    inertia = np.empty((3, 3))
    inertia[0, 0] = second[1] + second[2] - volume * (c[1] * c[1] + c[2] * c[2])
    inertia[1, 1] = second[0] + second[2] - volume * (c[0] * c[0] + c[2] * c[2])
    inertia[2, 2] = second[0] + second[1] - volume * (c[0] * c[0] + c[1] * c[1])
    inertia[0, 1] = inertia[1, 0] = -(mixed[0] - volume * (c[0] * c[1]))
    inertia[1, 2] = inertia[2, 1] = -(mixed[1] - volume * (c[1] * c[2]))
    inertia[0, 2] = inertia[2, 0] = -(mixed[2] - volume * (c[0] * c[2]))
    return volume, c, inertia


def element_solid(e: Element, sections: int = CYLINDER_SECTIONS) -> Solid:
    """The element as one watertight solid in the station body frame (for mass and collision).
    Its integrals are taken about ``p0_m`` (the mesh built around the origin, then moved): about
    the station's origin, tens of metres away, the second moments would cancel to a few digits."""
    p0 = np.asarray(e.p0_m, float)
    if e.shape == "sphere":
        vertices, faces = _icosphere_mesh(e.radius_m)
    elif e.shape == "box":
        vertices, faces = _box_mesh(np.asarray(e.extents_m, float))
    else:
        r1 = e.radius_m if e.shape == "cylinder" else e.radius1_m
        vertices, faces = _frustum_mesh(np.asarray(e.p1_m, float) - p0, e.radius_m, r1, sections)
    volume, centre, inertia = solid_mass_properties(vertices, faces)
    return Solid(vertices + p0, faces, volume, centre + p0, inertia)


def mass_properties(part: Part) -> MassProperties:
    """Mass, centre of mass and inertia of a part from its reference mass and element shapes."""
    solids = [element_solid(e) for e in part.elements]
    explicit = sum(e.mass_kg for e in part.elements if e.mass_kg is not None)
    shared_volume = sum(s.volume_m3 for s, e in zip(solids, part.elements) if e.mass_kg is None)
    if explicit > part.mass_kg:
        raise ValueError(f"{part.name}: appendage masses {explicit} kg exceed the part's {part.mass_kg} kg")
    masses = [e.mass_kg if e.mass_kg is not None else (part.mass_kg - explicit) * s.volume_m3 / shared_volume
              for s, e in zip(solids, part.elements)]
    com = sum(m * s.centre_m for m, s in zip(masses, solids)) / part.mass_kg
    inertia = np.zeros((3, 3))
    for m, s in zip(masses, solids):
        d = s.centre_m - com
        # parallel axis: m (|d|^2 I - d d^T), |d|^2 summed x + y + z (vec3.dot, not BLAS)
        inertia += s.inertia_m5 * (m / s.volume_m3) + m * (vec3.dot(d, d) * np.eye(3) - np.multiply.outer(d, d))
    return MassProperties(float(part.mass_kg), np.asarray(com, float), inertia)


@lru_cache(maxsize=4)
def station_mass_properties(station: Station | None = None) -> dict[str, MassProperties]:
    station = station or build_station()
    return {p.name: mass_properties(p) for p in station.parts}
