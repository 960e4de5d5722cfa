"""The ``assets/`` writer: one GLB per part (fine and coarse visual models), the shared textures and
``manifest.json`` (mass properties and collision primitives at full precision); deterministic, so
regeneration changes no byte. Every stage reads the result through ``issvis.station.assets``.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from ..core.files import write_bytes_atomic
from ..station.assets import LEVELS, MANIFEST_NAME, TEXTURE_DIR, element_bounds
from ..station.catalogue import Element, Part, Station, build_station
from ..station.gltf import GltfBuilder, png_bytes
from .mass import station_mass_properties
from .meshes import part_visual


# --- assets/ -------------------------------------------------------------------------------
def _element_json(e: Element) -> dict:
    from dataclasses import asdict

    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(e).items()}


def _part_glb(part: Part, station: Station, com_m: np.ndarray) -> bytes:
    from .textures import LOOKS

    g = GltfBuilder()
    for level in LEVELS:
        prims = []
        for mat, (v, f, n, uv) in part_visual(part, station, level == "fine").meshes(com_m).items():
            look = LOOKS[mat]
            tex = g.image(look.albedo, uri=f"{TEXTURE_DIR}/{look.albedo}.png") if look.albedo else None
            ntex = g.image(look.normal, uri=f"{TEXTURE_DIR}/{look.normal}.png") if look.normal else None
            mi = g.material(mat, look.base_color_rgba, look.metallic, look.roughness, tex, ntex,
                            look.double_sided, look.normal_scale)
            prims.append((v, f, n, uv, mi))
        # only the fine level is in the scene (what a glTF viewer shows); the coarse node is beside it
        g.node(level, g.mesh(f"{part.name}:{level}", prims), root=(level == "fine"),
               extras={"part": part.name, "level": level})
    return g.glb()


def asset_files(station: Station | None = None) -> dict[str, bytes]:
    """Every file of ``assets/`` as bytes: one GLB per part, the textures and the manifest.
    Deterministic; floats in the manifest are written in full (``repr``) so the loader gives the
    physics bit-identical masses, centres of mass and inertias."""
    from ..station.catalogue import VISUAL_FIXTURES
    from .textures import texture_image, texture_names

    station = station or build_station()
    props = station_mass_properties(station)
    files: dict[str, bytes] = {}
    for name in texture_names():
        files[f"{TEXTURE_DIR}/{name}.png"] = png_bytes(texture_image(name))
    manifest_parts = []
    for part in station.parts:
        mp = props[part.name]
        glb = _part_glb(part, station, mp.com_m)
        files[f"{part.name}.glb"] = glb
        bounds = np.array([element_bounds(e) for e in part.elements])
        manifest_parts.append({
            "name": part.name,
            "label": part.label,
            "segment": part.segment,
            "kind": part.kind,
            "mass_kg": float(part.mass_kg),
            "catalogue_mass_kg": float(part.catalogue_mass_kg),
            "com_m": [float(x) for x in mp.com_m],
            "inertia_kg_m2": [[float(x) for x in row] for row in mp.inertia_kg_m2],
            "bounds_m": [[float(x) for x in bounds[:, 0].min(axis=0) - mp.com_m],
                         [float(x) for x in bounds[:, 1].max(axis=0) - mp.com_m]],
            "mesh": f"{part.name}.glb",
            "mesh_sha256": hashlib.sha256(glb).hexdigest(),
            "elements": [_element_json(e) for e in part.elements],
            "fixtures": [{"label": f.label, "centre_m": list(f.centre_m), "extents_m": list(f.extents_m),
                          "note": f.note} for f in VISUAL_FIXTURES.get(part.name, ())],
            "source": part.source,
        })
    manifest = {
        "frame": "station body frame: +X forward, +Y starboard, +Z nadir, origin at the centre of Unity; "
                 "meshes are in each part's local frame (body axes, origin at the part's centre of mass)",
        "units": "m, kg, kg m^2",
        "total_mass_kg": float(station.total_mass_kg),
        "notes": station.notes,
        "textures": {name: hashlib.sha256(files[f"{TEXTURE_DIR}/{name}.png"]).hexdigest() for name in texture_names()},
        "parts": manifest_parts,
        "interfaces": [{"name": i.name, "child": i.child, "parent": i.parent, "point_m": list(i.point_m),
                        "axis": list(i.axis), "mechanism": i.mechanism} for i in station.interfaces],
    }
    files[MANIFEST_NAME] = (json.dumps(manifest, indent=1) + "\n").encode()
    return files


def write_assets(directory: Path, station: Station | None = None) -> list[Path]:
    """Write ``assets/``; returns the files that changed (none when regeneration is a no-op).
    Files of ``assets/`` the generator no longer makes (GLBs, textures) are removed."""
    directory = Path(directory)
    files = asset_files(station)
    changed = []
    for name, data in files.items():
        path = directory / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists() or path.read_bytes() != data:
            write_bytes_atomic(path, data)
            changed.append(path)
    for old in sorted(list(directory.glob("*.glb")) + list((directory / TEXTURE_DIR).glob("*.png"))):
        if old.relative_to(directory).as_posix() not in files:
            old.unlink()
            changed.append(old)
    return changed
