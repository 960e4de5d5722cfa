"""glTF 2.0 binary (GLB) writing: the station's part files and the animated export of a record.

A small writer of our own rather than trimesh's exporter: the bytes must be the same on every
regeneration (no generator version, no re-encoded images), and the animated export needs
animation channels and a camera, which trimesh does not write. numpy only (PNG bytes come from
``textures``); readers use ``assets.read_glb``.
"""

from __future__ import annotations

import json
import struct
from typing import Any

import numpy as np

from ..core.errors import InputError

FLOAT, UINT32 = 5126, 5125
ARRAY_BUFFER, ELEMENT_ARRAY_BUFFER = 34962, 34963


def tangents(vertices: np.ndarray, faces: np.ndarray, normals: np.ndarray, uv: np.ndarray) -> np.ndarray:
    """(N, 4) glTF tangents (xyz along +u, w = handedness of +v) from texture coordinates, accumulated
    over faces (Lengyel's method); where the uv give none, any direction across the normal."""
    v0, v1, v2 = (vertices[faces[:, k]] for k in range(3))
    t0, t1, t2 = (uv[faces[:, k]] for k in range(3))
    e1, e2 = v1 - v0, v2 - v0
    d1, d2 = t1 - t0, t2 - t0
    det = d1[:, 0] * d2[:, 1] - d2[:, 0] * d1[:, 1]
    inv = np.where(np.abs(det) > 1e-12, 1.0 / np.where(det == 0, 1.0, det), 0.0)[:, None]
    sdir = (e1 * d2[:, 1:2] - e2 * d1[:, 1:2]) * inv
    tdir = (e2 * d1[:, 0:1] - e1 * d2[:, 0:1]) * inv
    tan, bit = np.zeros_like(vertices), np.zeros_like(vertices)
    for k in range(3):
        np.add.at(tan, faces[:, k], sdir)
        np.add.at(bit, faces[:, k], tdir)
    t = tan - normals * np.einsum("ij,ij->i", normals, tan)[:, None]
    length = np.linalg.norm(t, axis=1)
    fallback = np.cross(normals, np.where(np.abs(normals[:, :1]) < 0.9, [[1.0, 0.0, 0.0]], [[0.0, 1.0, 0.0]]))
    t = np.where(length[:, None] > 1e-9, t / np.maximum(length, 1e-12)[:, None], fallback)
    t /= np.linalg.norm(t, axis=1)[:, None]
    w = np.where(np.einsum("ij,ij->i", np.cross(normals, t), bit) < 0.0, -1.0, 1.0)
    return np.column_stack([t, w])


class GltfBuilder:
    """Accumulates glTF JSON and one binary buffer; ``glb()`` returns the file's bytes."""

    def __init__(self) -> None:
        self.doc: dict[str, Any] = {"asset": {"version": "2.0", "generator": "issvis"}, "scene": 0,
                                    "scenes": [{"nodes": []}], "nodes": [], "meshes": [], "materials": [],
                                    "textures": [], "images": [], "samplers": [], "accessors": [],
                                    "bufferViews": [], "buffers": []}
        self.bin = bytearray()
        self._images: dict[str, int] = {}
        self._materials: dict[str, int] = {}

    # -- raw data ---------------------------------------------------------------------------------
    def _view(self, data: bytes, target: int | None = None) -> int:
        while len(self.bin) % 4:
            self.bin.append(0)
        view: dict[str, Any] = {"buffer": 0, "byteOffset": len(self.bin), "byteLength": len(data)}
        if target is not None:
            view["target"] = target
        self.bin += data
        self.doc["bufferViews"].append(view)
        return len(self.doc["bufferViews"]) - 1

    def accessor(self, array: np.ndarray, kind: str, target: int | None = ARRAY_BUFFER,
                 minmax: bool = False) -> int:
        """An accessor for float32 (VEC2/3/4, SCALAR) or uint32 (index SCALAR) data."""
        array = np.ascontiguousarray(array)
        ctype = UINT32 if array.dtype == np.uint32 else FLOAT
        if ctype == FLOAT:
            array = array.astype(np.float32)
        flat = array.reshape(-1, 1) if kind == "SCALAR" else array.reshape(len(array), -1)
        acc: dict[str, Any] = {"bufferView": self._view(array.tobytes(), target), "componentType": ctype,
                               "count": len(flat), "type": kind}
        if minmax:
            acc["min"] = [float(x) for x in flat.min(axis=0)]
            acc["max"] = [float(x) for x in flat.max(axis=0)]
        self.doc["accessors"].append(acc)
        return len(self.doc["accessors"]) - 1

    # -- images, materials ----------------------------------------------------------------------
    def image(self, key: str, uri: str | None = None, png: bytes | None = None) -> int:
        """A texture for an image, once per key: external ``uri`` or embedded ``png`` bytes."""
        if key in self._images:
            return self._images[key]
        if not self.doc["samplers"]:
            self.doc["samplers"].append({"magFilter": 9729, "minFilter": 9987, "wrapS": 10497, "wrapT": 10497})
        if png is not None:
            img = {"name": key, "mimeType": "image/png", "bufferView": self._view(png)}
        else:
            img = {"name": key, "uri": uri}
        self.doc["images"].append(img)
        self.doc["textures"].append({"sampler": 0, "source": len(self.doc["images"]) - 1})
        self._images[key] = len(self.doc["textures"]) - 1
        return self._images[key]

    def material(self, name: str, base_color_rgba, metallic: float, roughness: float,
                 base_texture: int | None = None, normal_texture: int | None = None,
                 double_sided: bool = False, normal_scale: float = 1.0) -> int:
        if name in self._materials:
            return self._materials[name]
        pbr: dict[str, Any] = {"baseColorFactor": [float(x) for x in base_color_rgba],
                               "metallicFactor": float(metallic), "roughnessFactor": float(roughness)}
        if base_texture is not None:
            pbr["baseColorTexture"] = {"index": base_texture}
        mat: dict[str, Any] = {"name": name, "pbrMetallicRoughness": pbr}
        if normal_texture is not None:
            mat["normalTexture"] = {"index": normal_texture, "scale": float(normal_scale)}
        if double_sided:
            mat["doubleSided"] = True
        self.doc["materials"].append(mat)
        self._materials[name] = len(self.doc["materials"]) - 1
        return self._materials[name]

    # -- meshes, nodes ----------------------------------------------------------------------------
    def mesh(self, name: str, primitives: list[tuple[np.ndarray, np.ndarray, np.ndarray | None,
                                                     np.ndarray | None, int]]) -> int:
        """primitives: (vertices (N,3), faces (F,3), normals (N,3)|None, uv (N,2)|None, material)."""
        prims = []
        for vertices, faces, normals, uv, material in primitives:
            attrs = {"POSITION": self.accessor(np.asarray(vertices), "VEC3", minmax=True)}
            if normals is not None:
                attrs["NORMAL"] = self.accessor(np.asarray(normals), "VEC3")
            if uv is not None:  # glTF's t runs down the image: flip OpenGL's v
                st = np.column_stack([uv[:, 0], 1.0 - uv[:, 1]])
                attrs["TEXCOORD_0"] = self.accessor(st, "VEC2")
                if normals is not None and "normalTexture" in self.doc["materials"][material]:
                    attrs["TANGENT"] = self.accessor(tangents(np.asarray(vertices, float), np.asarray(faces),
                                                              np.asarray(normals, float), np.asarray(uv, float)), "VEC4")
            idx = self.accessor(np.asarray(faces, np.uint32).ravel(), "SCALAR", ELEMENT_ARRAY_BUFFER)
            prims.append({"attributes": attrs, "indices": idx, "material": material, "mode": 4})
        self.doc["meshes"].append({"name": name, "primitives": prims})
        return len(self.doc["meshes"]) - 1

    def node(self, name: str, mesh: int | None = None, children: list[int] | None = None,
             root: bool = True, **fields: Any) -> int:
        node: dict[str, Any] = {"name": name}
        if mesh is not None:
            node["mesh"] = mesh
        if children:
            node["children"] = children
        node.update(fields)
        self.doc["nodes"].append(node)
        index = len(self.doc["nodes"]) - 1
        if root:
            self.doc["scenes"][0]["nodes"].append(index)
        return index

    def glb(self) -> bytes:
        doc = {k: v for k, v in self.doc.items() if v != []}
        while len(self.bin) % 4:
            self.bin.append(0)
        if self.bin:
            doc["buffers"] = [{"byteLength": len(self.bin)}]
        text = json.dumps(doc, separators=(",", ":")).encode()
        text += b" " * (-len(text) % 4)
        chunks = struct.pack("<II", len(text), 0x4E4F534A) + text
        if self.bin:
            chunks += struct.pack("<II", len(self.bin), 0x004E4942) + bytes(self.bin)
        return struct.pack("<III", 0x46546C67, 2, 12 + len(chunks)) + chunks


# --- the animated export of a record -------------------------------------------------------------
# glTF is +Y up; LVLH's x (radial, zenith) becomes up. A root node carries that rotation, so every
# part node below it holds its pose in LVLH exactly as the record does.
LVLH_TO_GLTF = np.array([[0.0, 0.0, -1.0],
                         [1.0, 0.0, 0.0],
                         [0.0, -1.0, 0.0]])  # columns: LVLH x, y, z in glTF axes
ROOT_NODE = "LVLH"


class ExportError(InputError, ValueError):
    """The export cannot be written as asked (one line)."""


def export_times(record, rate_hz: float | None) -> np.ndarray:
    """The keyframe times: the record's samples, or an even grid at ``rate_hz`` (ends included)."""
    t = np.asarray(record.t, float)
    if rate_hz is None:
        return t.copy()
    n = int(np.floor((t[-1] - t[0]) * rate_hz + 1e-9)) + 1
    grid = t[0] + np.arange(n) / rate_hz
    return grid if grid[-1] >= t[-1] - 1e-9 else np.append(grid, t[-1])


def _camera_track(record, size_px: tuple[int, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray, float] | None:
    """(video times, positions, quaternions xyzw, yfov rad) of the render's camera, or None."""
    from ..core.frames import matrix_to_quat
    from .camera import clip_for
    from .video import settings_of

    settings, _ = settings_of(record)
    clip = clip_for(settings, record)
    fps = min(float(clip.fps), 10.0)
    times = np.arange(int(np.floor(clip.length_s * fps)) + 1) / fps
    pos, quat, fovs = [], [], []
    for v in times:
        position, focal, up, fov = clip.camera(float(v)).as_tuple()
        back = np.asarray(position, float) - np.asarray(focal, float)
        z = back / np.linalg.norm(back)  # a glTF camera looks down its -Z
        x = np.cross(np.asarray(up, float), z)
        x /= np.linalg.norm(x)
        y = np.cross(z, x)
        q = matrix_to_quat(np.column_stack([x, y, z]))
        if quat and float(np.dot(q, quat[-1])) < 0:
            q = -q
        pos.append(position)
        quat.append(q)
        fovs.append(fov)
    return times, np.array(pos), np.array(quat), float(np.radians(np.median(fovs)))


def _embedded(g: GltfBuilder, key: str, image, png_file=None) -> int | None:
    """A texture embedding ``image`` as PNG (the file it came from when there is one), once per file."""
    from ..build.textures import png_bytes

    if image is None:
        return None
    if key in g._images:
        return g._images[key]
    png = png_file.read_bytes() if png_file is not None and png_file.is_file() else png_bytes(image)
    return g.image(key, png=png)


def export_record(record, output, rate_hz: float | None = None, assets=None, camera: bool = True,
                  size_px: tuple[int, int] = (1920, 1080)) -> dict[str, Any]:
    """Write ``record`` as one animated GLB at ``output`` (atomically); returns a summary dict.

    Nodes: ``LVLH`` (root, LVLH -> glTF +Y up) with one child per part (its fine visual mesh and
    PBR materials, textures embedded), translation/rotation keyframes at ``export_times`` on the
    simulated-time axis (animation ``run``); and, when the record's [render] section gives a
    camera, a camera node animated on the video-time axis (animation ``camera``).
    """
    import os
    from pathlib import Path

    from ..station.assets import load_station_assets
    output = Path(output)
    assets = assets or load_station_assets()
    names = [str(n) for n in record.names]
    missing = [n for n in names if n not in assets.parts]
    if missing:
        raise ExportError(f"the record names part(s) {', '.join(missing)} that this station does not have")
    times = export_times(record, rate_hz)
    if np.array_equal(times, record.t):
        pos, quat = np.asarray(record.pos, float), np.asarray(record.quat, float)
    else:
        poses = [record.pose_at(float(t)) for t in times]
        pos = np.stack([p for p, _ in poses])
        quat = np.stack([q for _, q in poses])
    quat = quat / np.linalg.norm(quat, axis=2, keepdims=True)
    for k in range(1, len(quat)):  # keep each track on one hemisphere so glTF's slerp takes the short way
        flip = np.einsum("bi,bi->b", quat[k], quat[k - 1]) < 0
        quat[k, flip] *= -1

    g = GltfBuilder()
    from ..core.frames import matrix_to_quat

    root_q = matrix_to_quat(LVLH_TO_GLTF)
    children = []
    for b, name in enumerate(names):
        part = assets.parts[name]
        prims = []
        for vm in part.visual:
            m = vm.material
            tex = _embedded(g, f"{m.name}:albedo", m.base_color_image, m.base_color_file)
            ntex = _embedded(g, f"{m.name}:normal", m.normal_image, m.normal_file)
            mi = g.material(m.name, m.base_color_rgba, m.metallic, m.roughness, tex, ntex, m.double_sided)
            prims.append((vm.vertices_m, vm.faces, vm.normals, vm.uv, mi))
        mesh = g.mesh(name, prims) if prims else None
        children.append(g.node(name, mesh, root=False, translation=[float(x) for x in pos[0, b]],
                               rotation=[float(x) for x in quat[0, b]], extras={"label": part.label,
                                                                                  "segment": part.segment}))
    t_acc = g.accessor(times - times[0] + 0.0, "SCALAR", target=None, minmax=True)
    samplers, channels = [], []
    for b, node in enumerate(children):
        for path, data, kind in (("translation", pos[:, b], "VEC3"), ("rotation", quat[:, b], "VEC4")):
            samplers.append({"input": t_acc, "output": g.accessor(data, kind, target=None),
                             "interpolation": "LINEAR"})
            channels.append({"sampler": len(samplers) - 1, "target": {"node": node, "path": path}})
    animations = [{"name": "run", "samplers": samplers, "channels": channels,
                   "extras": {"time_axis": "simulated time from the record's first sample, s",
                              "t0_s": float(times[0])}}]
    cam_info = None
    if camera:
        try:
            track = _camera_track(record, size_px)
        except Exception as exc:
            track, cam_info = None, f"no camera ({exc})"
        if track is not None:
            vt, cpos, cquat, yfov = track
            g.doc.setdefault("cameras", []).append({"type": "perspective", "name": "render camera", "perspective": {
                "yfov": yfov, "aspectRatio": size_px[0] / size_px[1], "znear": 0.5, "zfar": 200000.0}})
            cam_node = g.node("render camera", root=False, camera=0, translation=[float(x) for x in cpos[0]],
                              rotation=[float(x) for x in cquat[0]])
            children.append(cam_node)
            vt_acc = g.accessor(vt, "SCALAR", target=None, minmax=True)
            animations.append({"name": "camera", "samplers": [
                {"input": vt_acc, "output": g.accessor(cpos, "VEC3", target=None), "interpolation": "LINEAR"},
                {"input": vt_acc, "output": g.accessor(cquat, "VEC4", target=None), "interpolation": "LINEAR"}],
                "channels": [{"sampler": 0, "target": {"node": cam_node, "path": "translation"}},
                             {"sampler": 1, "target": {"node": cam_node, "path": "rotation"}}],
                "extras": {"time_axis": "video time of the render's clip, s"}})
            cam_info = f"camera: {len(vt)} keys over {vt[-1]:g} s of video"
    g.node(ROOT_NODE, children=children, rotation=[float(x) for x in root_q],
           extras={"frame": "LVLH: x radial (zenith), y along-track, z orbit normal; metres",
                   "station_hash": assets.station_hash})
    g.doc["animations"] = animations
    data = g.glb()
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = output.with_name(f".{output.name}.{os.getpid()}.tmp")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, output)
    finally:
        tmp.unlink(missing_ok=True)
    return {"path": output, "bytes": len(data), "keyframes": len(times), "parts": len(names), "camera": cam_info}
