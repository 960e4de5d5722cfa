"""glTF 2.0 binary (GLB): the one codec of issvis, for the station's part files and the animated export.

A small writer of our own rather than trimesh's exporter: the bytes must be the same on every
regeneration (no generator version, no re-encoded images), and the animated export needs
animation channels and a camera, which trimesh does not write. numpy only; PNG bytes through
Pillow, imported when an image is encoded.
"""

from __future__ import annotations

import io
import json
import struct
from collections.abc import Sequence
from typing import Any

import numpy as np

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

    def material(self, name: str, base_color_rgba: Sequence[float], metallic: float, roughness: float,
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
    def mesh(self, name: str, primitives: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray | None,
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


# --- reading ---------------------------------------------------------------------------------
_COMPONENTS = {5126: np.float32, 5125: np.uint32, 5123: np.uint16, 5121: np.uint8}
_WIDTH = {"SCALAR": 1, "VEC2": 2, "VEC3": 3, "VEC4": 4}


def read_glb(data: bytes) -> tuple[dict, bytes]:
    """(JSON document, binary chunk) of a GLB file's bytes."""
    if len(data) < 20 or data[:4] != b"glTF":
        raise ValueError("not a binary glTF (GLB) file")
    (json_len,) = struct.unpack_from("<I", data, 12)
    doc = json.loads(data[20:20 + json_len])
    rest = 20 + json_len
    binary = b""
    if rest + 8 <= len(data):
        (bin_len,) = struct.unpack_from("<I", data, rest)
        binary = data[rest + 8:rest + 8 + bin_len]
    return doc, binary


def gltf_accessor(doc: dict, binary: bytes, index: int) -> np.ndarray:
    """An accessor's data as an (count, width) or (count,) array (tightly packed views only)."""
    acc = doc["accessors"][index]
    view = doc["bufferViews"][acc["bufferView"]]
    dtype = _COMPONENTS[acc["componentType"]]
    width = _WIDTH[acc["type"]]
    start = view.get("byteOffset", 0) + acc.get("byteOffset", 0)
    arr = np.frombuffer(binary, dtype=dtype, count=acc["count"] * width, offset=start)
    return arr.reshape(acc["count"], width) if width > 1 else arr


def png_bytes(img: np.ndarray) -> bytes:
    """PNG of an image, the same bytes for the same pixels (fixed compression, no metadata)."""
    from PIL import Image  # the render extra; only writers of images need it

    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(img)).save(buf, format="PNG", optimize=False, compress_level=9)
    return buf.getvalue()
