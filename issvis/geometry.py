"""Meshes and mass properties of the catalogue's parts (trimesh), and the ``assets/`` writer.

Mass properties come from the reference masses: each element gets its catalogued share of the
part's mass (appendages their own ``mass_kg``, the rest by volume) and the inertia of a uniform
solid of that shape. Mesh volume never sets a mass.

A part's *local frame* is the station body frame translated to the part's centre of mass;
``part_meshes`` returns vertices in that frame, so a renderer places a part with the record's
``pos`` and ``quat`` alone.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import trimesh

from .catalogue import Element, Part, Station, build_station

CYLINDER_SECTIONS = 32
STRUT_SECTIONS = 6


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


def _strut(a: np.ndarray, b: np.ndarray, radius: float) -> trimesh.Trimesh:
    return trimesh.creation.cylinder(radius=radius, sections=STRUT_SECTIONS, segment=np.array([a, b]))


def _lattice(e: Element) -> trimesh.Trimesh:
    """A truss box drawn as four longerons, bulkhead frames and face diagonals."""
    c = np.asarray(e.p0_m, float)
    ext = np.asarray(e.extents_m, float)
    long_axis = int(np.argmax(ext))
    u, v = [k for k in range(3) if k != long_axis]
    half = ext / 2 * 0.96
    n_bays = max(1, int(round(ext[long_axis] / 2.3)))
    stations = np.linspace(-half[long_axis], half[long_axis], n_bays + 1)
    corners = [(su, sv) for su, sv in ((1, 1), (1, -1), (-1, -1), (-1, 1))]

    def point(s: float, corner: tuple[int, int]) -> np.ndarray:
        p = c.copy()
        p[long_axis] += s
        p[u] += corner[0] * half[u]
        p[v] += corner[1] * half[v]
        return p

    parts = []
    for corner in corners:
        parts.append(_strut(point(stations[0], corner), point(stations[-1], corner), 0.11))
    for k, s in enumerate(stations):
        for i in range(4):
            parts.append(_strut(point(s, corners[i]), point(s, corners[(i + 1) % 4]), 0.06))
        if k < n_bays:
            s2 = stations[k + 1]
            for i in range(4):
                a, b = (s, s2) if (i + k) % 2 == 0 else (s2, s)
                parts.append(_strut(point(a, corners[i]), point(b, corners[(i + 1) % 4]), 0.045))
    return trimesh.util.concatenate(parts)


def _panels(e: Element, n_along: int, n_across: int, gap_m: float, mast: bool) -> trimesh.Trimesh:
    """A thin box cut into a grid of panels (array blankets, radiator panels), optional mast."""
    c = np.asarray(e.p0_m, float)
    ext = np.asarray(e.extents_m, float)
    order = np.argsort(ext)  # thin, across, along
    thin, across, along = int(order[0]), int(order[1]), int(order[2])
    meshes = []
    across_edges = np.linspace(-ext[across] / 2, ext[across] / 2, n_across + 1)
    along_edges = np.linspace(-ext[along] / 2, ext[along] / 2, n_along + 1)
    for i in range(n_along):
        for j in range(n_across):
            size = np.zeros(3)
            size[thin] = ext[thin]
            size[along] = along_edges[i + 1] - along_edges[i] - gap_m
            size[across] = across_edges[j + 1] - across_edges[j] - gap_m
            centre = c.copy()
            centre[along] += (along_edges[i] + along_edges[i + 1]) / 2
            centre[across] += (across_edges[j] + across_edges[j + 1]) / 2
            meshes.append(trimesh.creation.box(extents=size, transform=trimesh.transformations.translation_matrix(centre)))
    if mast:
        a, b = c.copy(), c.copy()
        a[along] -= ext[along] / 2
        b[along] += ext[along] / 2
        meshes.append(_strut(a, b, 0.12))
    return trimesh.util.concatenate(meshes)


def element_visual(e: Element) -> tuple[trimesh.Trimesh, str]:
    """The element as a person should see it, with the material name for its look."""
    if e.style == "lattice":
        return _lattice(e), "grey"
    if e.style == "blanket":
        ext = np.asarray(e.extents_m)
        n_along = max(2, int(round(ext.max() / 4.5)))
        return _panels(e, n_along, 2, 0.25, mast=True), e.material
    if e.style == "panel":
        ext = np.asarray(e.extents_m)
        return _panels(e, max(2, int(round(ext.max() / 2.9))), 1, 0.12, mast=False), e.material
    return element_solid(e), e.material


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


def part_meshes(part: Part, com_m: np.ndarray | None = None) -> dict[str, trimesh.Trimesh]:
    """The part's visual meshes grouped by material, vertices in the part's local frame (m)."""
    if com_m is None:
        com_m = mass_properties(part).com_m
    grouped: dict[str, list[trimesh.Trimesh]] = {}
    for e in part.elements:
        mesh, material = element_visual(e)
        grouped.setdefault(material, []).append(mesh)
    out = {}
    for material in sorted(grouped):
        mesh = trimesh.util.concatenate(grouped[material])
        mesh.apply_translation(-np.asarray(com_m))
        out[material] = mesh
    return out


# --- assets/ -------------------------------------------------------------------------------
MANIFEST_NAME = "manifest.json"


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def asset_files(station: Station | None = None) -> dict[str, bytes]:
    """Every file of ``assets/`` as bytes: one GLB per part and the manifest. Deterministic."""
    station = station or build_station()
    props = station_mass_properties(station)
    files: dict[str, bytes] = {}
    manifest_parts = []
    for part in station.parts:
        mp = props[part.name]
        scene = trimesh.Scene()
        for material, mesh in part_meshes(part, mp.com_m).items():
            scene.add_geometry(mesh, node_name=f"{part.name}:{material}", geom_name=f"{part.name}:{material}")
        glb = scene.export(file_type="glb")
        files[f"{part.name}.glb"] = glb
        manifest_parts.append({
            "name": part.name,
            "label": part.label,
            "segment": part.segment,
            "kind": part.kind,
            "mass_kg": round(part.mass_kg, 3),
            "catalogue_mass_kg": part.catalogue_mass_kg,
            "com_m": [round(float(x), 6) for x in mp.com_m],
            "inertia_kg_m2": [[round(float(x), 3) for x in row] for row in mp.inertia_kg_m2],
            "mesh": f"{part.name}.glb",
            "mesh_sha256": hashlib.sha256(glb).hexdigest(),
            "elements": [e.label for e in part.elements],
            "source": part.source,
        })
    manifest = {
        "frame": "station body frame: +X forward, +Y starboard, +Z nadir, origin at the centre of Unity; "
                 "meshes are in each part's local frame (body axes, origin at the part's centre of mass)",
        "units": "m, kg, kg m^2",
        "total_mass_kg": round(station.total_mass_kg, 3),
        "notes": station.notes,
        "parts": manifest_parts,
        "interfaces": [{"name": i.name, "child": i.child, "parent": i.parent, "point_m": list(i.point_m),
                        "axis": list(i.axis), "mechanism": i.mechanism} for i in station.interfaces],
    }
    files[MANIFEST_NAME] = (json.dumps(manifest, indent=1) + "\n").encode()
    return files


def write_assets(directory: Path, station: Station | None = None) -> list[Path]:
    """Write ``assets/``; returns the files that changed (none when regeneration is a no-op)."""
    directory.mkdir(parents=True, exist_ok=True)
    changed = []
    for name, data in asset_files(station).items():
        path = directory / name
        if not path.exists() or path.read_bytes() != data:
            _write_atomic(path, data)
            changed.append(path)
    return changed
