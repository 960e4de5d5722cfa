"""The station as every stage loads it: ``assets/`` (manifest + one GLB per part) as plain data.

This module is the contract between the asset writer (``geometry.py``, ``issvis assets``), the
physics (``simulation.py``: collision primitives and mass properties) and the pictures
(``stage.py``, the viewers, the glTF export: visual meshes with glTF 2.0 PBR materials).
numpy + trimesh only; never pyvista or pybullet.

Conventions
- Visual vertices are in the part's *local frame*: station body axes, origin at the part's centre
  of mass, metres. A renderer places a part with the record's ``pos`` and ``quat`` alone.
- ``uv`` follows OpenGL (as trimesh holds it): (0, 0) is the bottom-left of the image.
  Images are (H, W, C) uint8 with row 0 the top row (as PIL reads them); colour images are sRGB.
- Materials follow glTF 2.0 metallic-roughness: ``base_color_rgba`` multiplies the base-colour
  image (linear factors), ``metallic`` and ``roughness`` in [0, 1], ``normal_image`` is a
  tangent-space normal map.
- ``station_hash`` is the hex SHA-256 of the station's content (manifest and meshes); records carry
  it in ``meta["station_hash"]`` so a picture never shows a record on the wrong station.

FIRST VERSION: a shim that builds everything from the catalogue at load time, so that the
physics and the pictures can be written against this API while the real loader (reading
``assets/``) is built. The dataclasses and function signatures are the contract; the bodies change.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

from .catalogue import Station


@dataclass(frozen=True, eq=False)
class Material:
    """A glTF 2.0 metallic-roughness material."""

    name: str
    base_color_rgba: tuple[float, float, float, float]
    metallic: float
    roughness: float
    base_color_image: np.ndarray | None = None  # (H, W, 3|4) uint8 sRGB, row 0 = top
    normal_image: np.ndarray | None = None  # (H, W, 3) uint8, tangent space
    double_sided: bool = False


@dataclass(frozen=True, eq=False)
class VisualMesh:
    """One material's triangles of a part, in the part's local frame."""

    material: Material
    vertices_m: np.ndarray  # (N, 3) float64, m, part local frame
    faces: np.ndarray  # (F, 3) int64
    normals: np.ndarray | None = None  # (N, 3) float64 unit
    uv: np.ndarray | None = None  # (N, 2) float64, OpenGL convention


@dataclass(frozen=True, eq=False)
class PartAsset:
    """What every stage needs of one part."""

    name: str
    label: str
    segment: str
    kind: str
    mass_kg: float
    com_m: np.ndarray  # (3,) station body frame, m
    inertia_kg_m2: np.ndarray  # (3, 3) about the com, body axes
    visual: tuple[VisualMesh, ...]  # the fine visual model
    visual_coarse: tuple[VisualMesh, ...] = ()  # for wide shots and viewers; empty = use ``visual``
    bounds_m: np.ndarray = field(default_factory=lambda: np.zeros((2, 3)))  # (2, 3) collision AABB, local frame


@dataclass(frozen=True, eq=False)
class StationAssets:
    """The whole station: catalogue-shaped collision model, per-part assets, content hash."""

    station: Station  # parts with their collision primitives (elements) and the interfaces
    parts: dict[str, PartAsset]
    station_hash: str
    directory: Path | None = None  # where it was loaded from (None: built in memory)


def default_assets_dir() -> Path:
    """The station's ``assets/``: the repository's, or the copy inside an installed package."""
    from .shipped import assets_dir

    return assets_dir()


@lru_cache(maxsize=4)
def load_station_assets(directory: Path | None = None, visuals: bool = True) -> StationAssets:
    """Load the station from ``directory`` (default: ``default_assets_dir()``).

    ``visuals=False`` skips meshes and textures (the physics needs only primitives and mass).
    SHIM: built from the catalogue; to be replaced by the reader of ``assets/``.
    """
    from .catalogue import build_station
    from .geometry import part_meshes, station_mass_properties

    station = build_station()
    props = station_mass_properties(station)
    looks = {
        "white": ((0.80, 0.80, 0.78, 1.0), 0.0, 0.55),
        "grey": ((0.72, 0.72, 0.74, 1.0), 0.85, 0.40),
        "dark": ((0.10, 0.10, 0.12, 1.0), 0.2, 0.5),
        "array": ((0.035, 0.045, 0.11, 1.0), 0.2, 0.22),
        "radiator": ((0.88, 0.88, 0.88, 1.0), 0.0, 0.45),
        "gold": ((1.0, 0.70, 0.26, 1.0), 0.6, 0.32),
        "green": ((0.45, 0.50, 0.38, 1.0), 0.0, 0.6),
        "glass": ((0.10, 0.14, 0.18, 1.0), 0.1, 0.05),
    }
    digest = hashlib.sha256()
    parts: dict[str, PartAsset] = {}
    for part in station.parts:
        mp = props[part.name]
        visual = []
        if visuals:
            for material, tm in part_meshes(part, mp.com_m).items():
                colour, metallic, roughness = looks.get(material, looks["white"])
                visual.append(VisualMesh(Material(material, colour, metallic, roughness),
                                         np.asarray(tm.vertices, float), np.asarray(tm.faces, np.int64)))
        digest.update(part.name.encode())
        digest.update(np.asarray(mp.inertia_kg_m2).tobytes())
        parts[part.name] = PartAsset(part.name, part.label, part.segment, part.kind, part.mass_kg,
                                     np.asarray(mp.com_m, float), np.asarray(mp.inertia_kg_m2, float),
                                     tuple(visual))
    return StationAssets(station, parts, digest.hexdigest(), None)
