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
- ``station_hash`` is a hex SHA-256 of the station's content; records carry it in
  ``meta["station_hash"]`` so a picture never shows a record on the wrong station.

- ``station_hash`` digests what the physics uses (collision primitives, masses, centres of mass,
  inertias, interfaces); ``visual_hash`` digests the meshes and textures. A record with the same
  ``station_hash`` but another ``visual_hash`` is the same physics drawn with other looks.
- Texture coordinates repeat (glTF sampler REPEAT): one image covers ``tile_m`` metres of surface.
  Images live once in ``assets/textures/`` and every GLB refers to them by URI.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol, cast

import numpy as np

from ..core import vec3
from ..core.errors import InputError
from .catalogue import Element, Station
from .gltf import gltf_accessor, read_glb


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
    base_color_file: Path | None = None  # the PNG the base-colour image was read from (assets/textures)
    normal_file: Path | None = None  # the PNG of the normal map


@dataclass(frozen=True, eq=False)
class VisualMesh:
    """One material's triangles of a part, in the part's local frame."""

    material: Material
    vertices_m: np.ndarray  # (N, 3) float64, m, part local frame
    faces: np.ndarray  # (F, 3) int64
    normals: np.ndarray | None = None  # (N, 3) float64 unit
    uv: np.ndarray | None = None  # (N, 2) float64, OpenGL convention
    tangents: np.ndarray | None = None  # (N, 4) float64, glTF TANGENT (xyz along +u, w handedness); normal-mapped looks


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
    source: str = ""  # where the visual came from: the part's GLB, or a scene's own mesh


class RecordLike(Protocol):
    """What the station's checks read of a trajectory record (``issvis.record.record.Record``, a
    layer above this one, so named by its shape here)."""

    @property
    def names(self) -> np.ndarray: ...  # (B,) str

    @property
    def meta(self) -> dict[str, Any]: ...


@dataclass(frozen=True, eq=False)
class StationAssets:
    """The whole station: catalogue-shaped collision model, per-part assets, content hash."""

    station: Station  # parts with their collision primitives (elements) and the interfaces
    parts: dict[str, PartAsset]
    station_hash: str
    directory: Path | None = None  # where it was loaded from (None: built in memory)
    visual_hash: str = ""  # hex SHA-256 of the GLBs and textures


def composite_mass_properties(parts: Mapping[str, Any], names: Sequence[str]) -> tuple[float, np.ndarray, np.ndarray]:
    """Mass (kg), centre of mass (3,) m and inertia (3, 3) kg m^2 about it, station axes, of the
    named parts taken as one rigid body (``parts``: name -> an object with mass_kg, com_m and
    inertia_kg_m2, as ``StationAssets.parts``): the parallel-axis sum."""
    masses = np.array([parts[n].mass_kg for n in names], float)
    coms = np.array([parts[n].com_m for n in names], float)
    mass = float(masses.sum())
    com = masses @ coms / mass
    inertia = np.zeros((3, 3))
    for n, m, c in zip(names, masses, coms):
        d = c - com
        inertia += np.asarray(parts[n].inertia_kg_m2, float) + m * (d @ d * np.eye(3) - np.outer(d, d))
    return mass, com, inertia


class AssetError(InputError, ValueError):
    """``assets/`` is missing, unreadable or inconsistent (one line, names the file)."""


class StationMismatchError(InputError, ValueError):
    """A record was simulated with another station than the one this issvis loads."""


def default_assets_dir() -> Path:
    """The station's ``assets/``: the repository's, or the copy inside an installed package."""
    from ..core.shipped import assets_dir

    return assets_dir()


@lru_cache(maxsize=64)
def _image(path: Path) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as im:
        img = np.asarray(im.convert("RGB"))
    img.setflags(write=False)
    return img


def _rgba(colour: Sequence[float]) -> tuple[float, float, float, float]:
    """(r, g, b, a) of an RGB or RGBA colour, alpha 1 where it has none."""
    c = tuple(float(x) for x in colour)
    if len(c) == 3:
        c = (*c, 1.0)
    return c[0], c[1], c[2], c[3]


def _materials(doc: dict[str, Any], directory: Path, cache: dict[str, Material]) -> list[Material]:
    out = []
    for m in doc.get("materials", []):
        if m["name"] in cache:
            out.append(cache[m["name"]])
            continue
        pbr = m.get("pbrMetallicRoughness", {})

        def file_of(ref: dict[str, Any] | None) -> Path | None:
            if ref is None:
                return None
            return directory / doc["images"][doc["textures"][ref["index"]]["source"]]["uri"]

        base_file, normal_file = file_of(pbr.get("baseColorTexture")), file_of(m.get("normalTexture"))
        mat = Material(m["name"], _rgba(pbr.get("baseColorFactor", (1, 1, 1, 1))),
                       float(pbr.get("metallicFactor", 1.0)), float(pbr.get("roughnessFactor", 1.0)),
                       _image(base_file) if base_file else None, _image(normal_file) if normal_file else None,
                       bool(m.get("doubleSided", False)), base_file, normal_file)
        cache[m["name"]] = mat
        out.append(mat)
    return out


def _glb_levels(path: Path, data: bytes, cache: dict[str, Material]) -> dict[str, tuple[VisualMesh, ...]]:
    """{'fine': meshes, 'coarse': meshes} of one part GLB written by ``geometry.asset_files``."""
    doc, binary = read_glb(data)
    materials = _materials(doc, path.parent, cache)
    levels = {}
    for node in doc["nodes"]:
        meshes = []
        for prim in doc["meshes"][node["mesh"]]["primitives"]:
            attrs = prim["attributes"]
            v = gltf_accessor(doc, binary, attrs["POSITION"]).astype(np.float64)
            f = gltf_accessor(doc, binary, prim["indices"]).astype(np.int64).reshape(-1, 3)
            n = gltf_accessor(doc, binary, attrs["NORMAL"]).astype(np.float64) if "NORMAL" in attrs else None
            uv = None
            if "TEXCOORD_0" in attrs:
                st = gltf_accessor(doc, binary, attrs["TEXCOORD_0"]).astype(np.float64)
                uv = np.column_stack([st[:, 0], 1.0 - st[:, 1]])  # glTF t runs down: back to OpenGL v
            tan = gltf_accessor(doc, binary, attrs["TANGENT"]).astype(np.float64) if "TANGENT" in attrs else None
            for arr in (v, f, n, uv, tan):  # shared by every caller of the cached loader
                if arr is not None:
                    arr.setflags(write=False)
            meshes.append(VisualMesh(materials[prim["material"]], v, f, n, uv, tan))
        levels[node["name"]] = tuple(meshes)
    return levels


# --- the loader ----------------------------------------------------------------------------------
def _element(d: dict[str, Any]) -> Element:
    fields: dict[str, Any] = {k: (tuple(v) if isinstance(v, list) else v) for k, v in d.items()}
    return Element(**fields)


def _manifest(directory: Path) -> tuple[dict, bytes]:
    import json

    path = directory / "manifest.json"
    try:
        raw = path.read_bytes()
        return json.loads(raw), raw
    except FileNotFoundError:
        raise AssetError(f"{path}: missing; run 'issvis assets' to write the station's assets") from None
    except (OSError, ValueError) as exc:
        raise AssetError(f"{path}: unreadable ({exc}); run 'issvis assets'") from None


# --- the manifest's format (the writer, issvis.build.writer, imports it) ------------------------------
MANIFEST_NAME = "manifest.json"
TEXTURE_DIR = "textures"
LEVELS = ("fine", "coarse")  # node names in every part GLB


def physics_json(manifest: dict) -> bytes:
    """The part of a manifest the physics uses (collision primitives, masses, interfaces), as
    canonical JSON: what ``station_hash`` digests."""
    keys = ("name", "segment", "kind", "mass_kg", "catalogue_mass_kg", "com_m", "inertia_kg_m2", "elements")
    data = {"parts": [{k: p[k] for k in keys} for p in manifest["parts"]], "interfaces": manifest["interfaces"]}
    return json.dumps(data, sort_keys=True, separators=(",", ":")).encode()


def element_bounds(e: Element) -> np.ndarray:
    """(2, 3) axis-aligned bounds of an element's solid, station body frame, m."""
    if e.shape == "box":
        c, h = np.asarray(e.p0_m, float), np.asarray(e.extents_m, float) / 2
        return np.array([c - h, c + h])
    if e.shape == "sphere":
        c = np.asarray(e.p0_m, float)
        return np.array([c - e.radius_m, c + e.radius_m])
    p0, p1 = np.asarray(e.p0_m, float), np.asarray(e.p1_m, float)
    d = vec3.unit(p1 - p0)  # not np.linalg.norm: BLAS, whose last bits vary by machine (manifest bounds)
    r = max(e.radius_m, e.radius1_m if e.shape == "frustum" else e.radius_m)
    ext = r * np.sqrt(np.clip(1.0 - d * d, 0.0, 1.0))
    return np.array([np.minimum(p0, p1) - ext, np.maximum(p0, p1) + ext])


def station_hash_of(manifest: dict) -> str:
    """SHA-256 of the physics content of a manifest (see ``physics_json``)."""
    return hashlib.sha256(physics_json(manifest)).hexdigest()


@lru_cache(maxsize=4)
def load_station_assets(directory: Path | None = None, visuals: bool = True) -> StationAssets:
    """Load the station from ``directory`` (default: ``default_assets_dir()``).

    ``visuals=False`` reads only the manifest (the physics needs only primitives and mass): no GLB
    is opened. Masses, centres of mass and inertias are the manifest's floats, bit-identical to
    ``geometry.station_mass_properties``. Raises ``AssetError`` naming the file on a bad folder.
    """
    from .catalogue import Interface, Part, Station

    directory = Path(directory) if directory is not None else default_assets_dir()
    manifest, _ = _manifest(directory)
    try:
        parts_json = manifest["parts"]
        station = Station(
            tuple(Part(p["name"], p["label"], p["segment"], p["kind"], p["catalogue_mass_kg"],
                       tuple(_element(e) for e in p["elements"]), p["source"], p["mass_kg"]) for p in parts_json),
            tuple(Interface(i["name"], i["child"], i["parent"], tuple(i["point_m"]), tuple(i["axis"]), i["mechanism"])
                  for i in manifest["interfaces"]),
            dict(manifest.get("notes", {})))
    except (KeyError, TypeError) as exc:
        raise AssetError(f"{directory / 'manifest.json'}: not an issvis manifest (missing {exc})") from None
    visual_digest = hashlib.sha256()
    for name in sorted(manifest.get("textures", {})):
        visual_digest.update(f"{name}:{manifest['textures'][name]}".encode())
    cache: dict[str, Material] = {}
    parts: dict[str, PartAsset] = {}
    for p in parts_json:
        levels: dict[str, tuple[VisualMesh, ...]] = {}
        path = directory / p["mesh"]
        visual_digest.update(f"{p['name']}:{p['mesh_sha256']}".encode())
        if visuals:
            try:
                data = path.read_bytes()
            except OSError as exc:
                raise AssetError(f"{path}: {exc.strerror or exc}; run 'issvis assets'") from None
            if hashlib.sha256(data).hexdigest() != p["mesh_sha256"]:
                raise AssetError(f"{path}: does not match manifest.json (mesh_sha256); run 'issvis assets'")
            try:
                levels = _glb_levels(path, data, cache)
            except (OSError, ValueError, KeyError, IndexError) as exc:
                raise AssetError(f"{path}: not a readable part mesh ({exc}); run 'issvis assets'") from None
        parts[p["name"]] = PartAsset(
            p["name"], p["label"], p["segment"], p["kind"], p["mass_kg"],
            np.array(p["com_m"], dtype=np.float64), np.array(p["inertia_kg_m2"], dtype=np.float64),
            levels.get("fine", ()), levels.get("coarse", ()), np.array(p["bounds_m"], dtype=np.float64),
            str(path))
    return StationAssets(station, parts, station_hash_of(manifest), directory, visual_digest.hexdigest())


def check_record_station(record: RecordLike, assets: StationAssets | None = None, source: str | Path | None = None) -> str | None:
    """Refuse a record simulated with another station; returns a warning line when only the looks
    differ (or the record predates station hashes), None when all agree.

    Raises ``StationMismatchError`` (a ValueError) with one line: re-simulate the scene.
    """
    assets = assets or load_station_assets(visuals=False)
    meta = getattr(record, "meta", {}) or {}
    where = f"{source}: " if source is not None else ""
    theirs = meta.get("station_hash")
    if not theirs:
        return f"{where}the record carries no station hash (written before issvis recorded one); drawing it on this station"
    if theirs != assets.station_hash:
        raise StationMismatchError(
            f"{where}the record file was simulated with station {str(theirs)[:8]}, this issvis has "
            f"{assets.station_hash[:8]}; re-simulate the scene")
    vis = meta.get("visual_hash")
    if vis and assets.visual_hash and vis != assets.visual_hash:
        return (f"{where}the record was made with other looks of the same station (visual {str(vis)[:8]}, "
                f"now {assets.visual_hash[:8]}); the physics is the same, drawing it with today's meshes")
    return None


# --- bring your own mesh -------------------------------------------------------------------------
class PartMeshError(InputError, ValueError):
    """A scene's own mesh for a part cannot be used (one line: file, key, value, what is expected)."""


def _vertex_normals(v: np.ndarray, f: np.ndarray) -> np.ndarray:
    fn = np.cross(v[f[:, 1]] - v[f[:, 0]], v[f[:, 2]] - v[f[:, 0]])  # area-weighted
    n = np.zeros_like(v)
    for k in range(3):
        np.add.at(n, f[:, k], fn)
    length = np.linalg.norm(n, axis=1, keepdims=True)
    return np.where(length > 0, n / np.maximum(length, 1e-30), np.array([0.0, 0.0, 1.0]))


def _user_material(geom: Any, name: str) -> Material:
    """The material of one trimesh geometry of a user's mesh (glTF PBR, or a plain colour)."""
    visual = getattr(geom, "visual", None)
    mat = getattr(visual, "material", None)
    colour: tuple[float, ...] = (0.8, 0.8, 0.8, 1.0)
    metallic, roughness, image = 0.0, 0.6, None
    if mat is not None:
        base = getattr(mat, "baseColorFactor", None)
        if base is not None:
            colour = tuple(float(c) / (255.0 if np.asarray(base).dtype == np.uint8 else 1.0) for c in base)
            metallic = float(getattr(mat, "metallicFactor", None) or 0.0)
            roughness = float(getattr(mat, "roughnessFactor", None) or 0.6)
            image = getattr(mat, "baseColorTexture", None)
        else:
            diffuse = getattr(mat, "diffuse", None)
            if diffuse is not None:
                colour = tuple(float(c) / 255.0 for c in np.asarray(diffuse)[:4])
            image = getattr(mat, "image", None)
    elif visual is not None and getattr(visual, "kind", None) == "face":
        colour = tuple(float(c) / 255.0 for c in np.asarray(visual.face_colors).mean(axis=0))
    img = np.asarray(image.convert("RGB")) if image is not None else None
    return Material(name, _rgba(colour), metallic, roughness, img)


@lru_cache(maxsize=16)
def load_part_mesh(file: str, scale: float, offset_m: tuple[float, float, float],
                   rotation_deg: tuple[float, float, float], part: str,
                   directory: Path | None = None) -> tuple[VisualMesh, ...]:
    """A user's mesh file as the visual of ``part`` (part local frame), checked against the part's
    collision bounds. Raises ``PartMeshError`` (message without the scene key; the caller adds it)."""
    import trimesh

    from ..core.frames import rotation_xyz_deg
    from ..core.tolerances import TOLERANCES

    path = Path(file)
    placement = (scale, *offset_m, *rotation_deg)
    if not all(isinstance(v, int | float) and math.isfinite(v) for v in placement) or not 1e-6 <= scale <= 1e4:
        raise PartMeshError(f"{file!r}: scale = {scale!r}, offset_m = {list(offset_m)!r}, rotation_deg = "
                            f"{list(rotation_deg)!r}: every value must be finite and scale within 1e-6..1e4")
    if not path.is_file():
        raise PartMeshError(f"{file!r}: no such file")
    try:
        scene = cast("trimesh.Scene", trimesh.load(str(path), force="scene"))  # force="scene": always a Scene
    except Exception as exc:
        raise PartMeshError(f"{file!r}: cannot be read as a mesh ({type(exc).__name__}: {exc})") from None
    rot = rotation_xyz_deg(rotation_deg)
    meshes = []
    for node in scene.graph.nodes_geometry:
        transform, gname = scene.graph[node]
        geom = scene.geometry[gname]
        if not hasattr(geom, "faces") or len(geom.faces) == 0:
            continue
        v = np.asarray(geom.vertices, float) @ transform[:3, :3].T + transform[:3, 3]
        v = (v * scale) @ rot.T + np.asarray(offset_m, float)
        f = np.asarray(geom.faces, np.int64)
        uv = getattr(geom.visual, "uv", None)
        meshes.append(VisualMesh(_user_material(geom, f"{part}:{gname}"), v, f, _vertex_normals(v, f),
                                 None if uv is None else np.asarray(uv, float)))
    if not meshes:
        raise PartMeshError(f"{file!r}: holds no triangles")
    if not all(np.all(np.isfinite(m.vertices_m)) for m in meshes):
        raise PartMeshError(f"{file!r}: has vertices that are not finite numbers (NaN or inf)")
    assets = load_station_assets(directory, visuals=False)
    lo, hi = assets.parts[part].bounds_m
    pts = np.concatenate([m.vertices_m for m in meshes])
    margin = TOLERANCES.part_mesh_margin_m
    beyond = float(np.max(np.maximum(lo - pts, pts - hi)))
    if beyond > margin:
        raise PartMeshError(
            f"{file!r}: reaches {beyond:.2f} m beyond {part}'s collision bounds (allowed {margin:g} m; the mesh spans "
            f"{np.round(pts.min(axis=0), 2).tolist()}..{np.round(pts.max(axis=0), 2).tolist()} m, the part "
            f"{np.round(lo, 2).tolist()}..{np.round(hi, 2).tolist()} m in its frame: origin at its centre of mass, "
            "station body axes); check scale, offset_m and rotation_deg")
    return tuple(meshes)


#: Thinnest a mesh may be across (smallest extent along its principal axes) to be decomposed into
#: convex pieces, m: V-HACD voxelises a volume; a flat or one-triangle mesh has none, and it spins
#: for minutes (or crashes) looking for one.
CONVEX_MIN_THICKNESS_M = 1e-3


def check_convex_mesh(meshes: tuple[VisualMesh, ...], file: str) -> None:
    """PartMeshError when ``meshes`` (as load_part_mesh gives them) cannot be decomposed into convex
    pieces: fewer than 4 vertices, or flatter than CONVEX_MIN_THICKNESS_M (zero volume)."""
    pts = np.concatenate([m.vertices_m for m in meshes])
    if len(pts) < 4:
        raise PartMeshError(f"{file!r}: has {len(pts)} vertices; collision = \"convex\" needs a solid "
                            "(at least 4 vertices, not flat)")
    centred = pts - pts.mean(axis=0)
    axes = np.linalg.svd(centred, full_matrices=False)[2]
    thickness = float(np.ptp(centred @ axes[-1]))
    if thickness < CONVEX_MIN_THICKNESS_M:
        raise PartMeshError(f"{file!r}: is flat ({thickness:.3g} m thick across its thinnest axis); collision = "
                            f"\"convex\" needs a solid at least {CONVEX_MIN_THICKNESS_M:g} m thick (use "
                            "collision = \"primitives\" to draw it only)")


def part_visuals_for_record(record: RecordLike, assets: StationAssets | None = None,
                            coarse: bool = False) -> dict[str, tuple[VisualMesh, ...]]:
    """What the pictures draw for each part of ``record``: the asset's visual (fine, or coarse when
    asked and present), replaced by the scene's ``[[part_mesh]]`` where it names one."""
    import tomllib

    assets = assets or load_station_assets()
    out: dict[str, tuple[VisualMesh, ...]] = {}
    for name in (str(n) for n in record.names):
        pa = assets.parts[name]
        out[name] = (pa.visual_coarse or pa.visual) if coarse else pa.visual
    try:
        data = tomllib.loads((getattr(record, "meta", {}) or {}).get("scene", ""))
    except (tomllib.TOMLDecodeError, TypeError):
        data = {}
    for k, spec in enumerate(data.get("part_mesh", [])):
        try:
            out[spec["part"]] = load_part_mesh(spec["file"], float(spec.get("scale", 1.0)),
                                               tuple(spec.get("offset_m", (0.0, 0.0, 0.0))),
                                               tuple(spec.get("rotation_deg", (0.0, 0.0, 0.0))), spec["part"],
                                               assets.directory)
        except PartMeshError as exc:
            raise PartMeshError(f"the record's scene: part_mesh.{k}.file = {exc}") from None
    return out


def release_caches() -> None:
    """Forget the decoded textures and meshes kept for the next loader: a process that has built its world
    once (a render) has them in its renderer already, and would otherwise hold them twice."""
    for cached in (_image, load_station_assets, load_part_mesh):
        cached.cache_clear()


def part_labels(directory: Path | None = None) -> dict[str, str]:
    """Part name -> the label people know it by ('zarya' -> 'Zarya (FGB)'), from the station's manifest."""
    return {name: p.label for name, p in load_station_assets(directory, visuals=False).parts.items()}


def short_label(name: str, labels: dict[str, str] | None = None) -> str:
    """A part's label without its parenthesis ('Zarya (FGB)' -> 'Zarya'); the name itself if unknown."""
    label = (labels if labels is not None else part_labels()).get(name, name)
    return label.split(" (")[0]


def interface_label(interface: str, labels: dict[str, str] | None = None) -> str:
    """'zarya/pma1' -> 'Zarya/PMA-1', 'soyuz_ms19/rassvet' -> 'Soyuz MS-19/Rassvet': the parts' labels."""
    labels = labels if labels is not None else part_labels()
    return "/".join(short_label(n, labels) for n in interface.split("/"))
