"""What the client-rendered page is sent, once: the station, the record's poses, the scene's facts.

numpy and the standard library (PIL for the Earth's JPEGs); no VTK, no pyvista. Everything here is
computed when the server starts and then served as static bytes: the page animates, scrubs, frames,
picks and writes its read-outs itself, so the server's work does not grow with playback or tabs.

- ``station.glb``: one node per part of the record (its fine visual mesh in the part's own frame,
  the glTF PBR materials, textures embedded), as ``issvis.station.gltf`` writes the assets;
  ``station-coarse.glb`` the same with the coarse meshes (85k / 30k triangles: a software renderer
  draws the coarse ones, as the desktop viewer does);
- ``record.bin``: the record's arrays (times, positions, quaternions, velocities, clearance), the
  keyframe camera sampled along the video's time map, and the stars; little-endian, laid out as
  ``facts["arrays"]`` says;
- ``facts.json``: names, labels, segments, masses, sizes, the two sides, the events in words, the
  lighting and the Earth's orbit, the help text: what the desktop viewer's ``ViewerState`` reads;
- ``earth.jpg``, ``clouds.jpg``: the equirectangular Earth and the generated cloud field.
"""

from __future__ import annotations

import io
import json
import math
from typing import Any

import numpy as np

from ...core.frames import EARTH_RADIUS_M
from ...record.record import Record
from ...station.gltf import GltfBuilder, png_bytes

#: Width of the Earth texture sent to the page, px (4096: 9.8 km a texel at the equator, as the video).
EARTH_TEXTURE_W = 4096
EARTH_JPEG_QUALITY = 85
CLOUD_TEXTURE_W = 1024
#: Samples of the keyframe camera per second of the video's time map (the page interpolates).
KEYFRAME_CAMERA_HZ = 30.0
#: The page draws the limb out to this height above the surface, m (as the video's ring).
ATMOSPHERE_M = 90_000.0
LVLH_TO_GLTF = np.array([[0.0, 0.0, -1.0], [1.0, 0.0, 0.0], [0.0, -1.0, 0.0]])  # as issvis.pictures.export


def _embedded_png(g: GltfBuilder, key: str, image: Any, png_file: Any) -> int | None:
    """A texture of the asset's PNG (its file's bytes when it has one), once per key."""
    if image is None:
        return None
    png = png_file.read_bytes() if png_file is not None and png_file.is_file() else png_bytes(image)
    return g.image(key, png=png)


def station_glb(record: Record, coarse: bool = False) -> tuple[bytes, np.ndarray]:
    """(GLB bytes, (B,) bounding radius of each part about its centre of mass, m) of the record's parts.

    Node ``LVLH`` turns LVLH into glTF's +Y up (so the file opens upright anywhere); below it one node
    per part, named after it, meshes in the part's frame, with ``extras`` {index, label, segment}.
    The page reads the meshes and poses the parts itself.
    """
    from ...core.frames import matrix_to_quat
    from ...station.assets import part_visuals_for_record

    visuals = part_visuals_for_record(record, coarse=coarse)
    from ...record.scene_of import part_labels_of

    labels = part_labels_of(record)
    g = GltfBuilder()
    children = []
    radii = np.zeros(len(record.names))
    for b, name in enumerate(str(n) for n in record.names):
        prims = []
        for vm in visuals[name]:
            m = vm.material
            tex = _embedded_png(g, f"{m.name}:albedo", m.base_color_image, m.base_color_file)
            ntex = _embedded_png(g, f"{m.name}:normal", m.normal_image, m.normal_file) if vm.uv is not None else None
            mi = g.material(m.name, m.base_color_rgba, m.metallic, m.roughness, tex, ntex, m.double_sided)
            prims.append((vm.vertices_m, vm.faces, vm.normals, vm.uv, mi))
            lo, hi = np.min(vm.vertices_m, axis=0), np.max(vm.vertices_m, axis=0)
            radii[b] = max(radii[b], 0.5 * float(np.linalg.norm(hi - lo)))
        mesh = g.mesh(name, prims) if prims else None
        children.append(g.node(name, mesh, root=False, extras={
            "index": b, "label": labels.get(name, name), "segment": str(record.segment[b])}))
    g.node("LVLH", children=children, rotation=[float(x) for x in matrix_to_quat(LVLH_TO_GLTF)],
           extras={"frame": "LVLH: x radial (zenith), y along-track, z orbit normal; metres"})
    return g.glb(), radii


def earth_jpegs(settings: Any) -> tuple[bytes, bytes]:
    """(Earth JPEG, cloud-field JPEG): the video's images (``issvis.pictures.earth``), smaller."""
    from PIL import Image

    from ..earth import cloud_image, earth_image

    rgb = earth_image(settings.earth.texture, False)
    im = Image.fromarray(rgb)
    if im.width > EARTH_TEXTURE_W:
        im = im.resize((EARTH_TEXTURE_W, EARTH_TEXTURE_W // 2), Image.Resampling.BOX)
    earth = io.BytesIO()
    im.save(earth, format="JPEG", quality=EARTH_JPEG_QUALITY, optimize=True)
    cloud = io.BytesIO()
    Image.fromarray(cloud_image(CLOUD_TEXTURE_W)[..., 0]).save(cloud, format="JPEG", quality=85, optimize=True)
    return earth.getvalue(), cloud.getvalue()


def _earth_orbit(settings: Any, mean_motion: float) -> dict[str, float | bool]:
    """The numbers ``issvis.pictures.stage.earth_orientation`` turns into Earth's rotation at t;
    the page rebuilds the same matrix from them."""
    from ..stage import earth_orbit_elements

    inc, u0, raan = earth_orbit_elements(settings)
    return {"inclination_rad": inc, "u0_rad": u0, "raan_rad": raan, "turns": bool(settings.earth.turns),
            "mean_motion_rad_s": mean_motion}


def _stars(settings: Any) -> tuple[np.ndarray, np.ndarray]:
    """(N, 3) unit directions, (N, 4) RGB 0..1 and point size: the stage's preview stars (same seed)."""
    q, lt = settings.quality, settings.lighting
    rng = np.random.default_rng(7)
    n = q.stars // 3
    gain = lt.star_gain if lt.mode == "day" else 1.0
    if not n:
        return np.zeros((0, 3), np.float32), np.zeros((0, 4), np.float32)
    d = rng.normal(size=(n, 3))
    d /= np.linalg.norm(d, axis=1, keepdims=True)
    mag = rng.power(0.25, n)
    grey = (40 + 215 * mag**1.5) * gain
    keep = grey >= 6.0
    tint = rng.uniform(0.85, 1.0, (n, 3))
    rgb = np.clip(grey[:, None] * tint, 0, 255) / 255.0
    size = np.where(mag >= 0.75, 2.0, 1.0)
    look = np.column_stack([rgb, size])
    return d[keep].astype(np.float32), look[keep].astype(np.float32)


def _keyframe_camera(record: Record, settings: Any) -> np.ndarray | None:
    """(N, 11) [record t, position 3, focal point 3, view up 3, vertical fov deg] along the video's
    time map (the desktop viewer's preset 1), or None when the record's scene gives no camera."""
    from ..camera import clip_for

    try:
        clip = clip_for(settings, record)
    except ValueError:
        return None
    v = np.arange(int(math.floor(clip.length_s * KEYFRAME_CAMERA_HZ)) + 1) / KEYFRAME_CAMERA_HZ
    rows = []
    for vs in v:
        pose = clip.camera(float(vs))
        rows.append([clip.sim(float(vs)), *pose.position, *pose.focal_point, *pose.view_up, pose.view_angle_deg])
    table = np.array(rows, float)
    table[:, 0] = np.maximum.accumulate(table[:, 0])  # the page bisects it by record time
    return table


def _event_lines(record: Record, labels: dict[str, str]) -> tuple[list[dict], list[dict]]:
    """([{t, text}] every event in words, [{t, said}] the status line of each distinct event time),
    worded as the desktop viewer's corner box words them."""
    from ..viewer import _event_words

    words = sorted(((float(e["t"]), *_event_words(e, labels)) for e in record.events), key=lambda x: x[0])
    events = [{"t": t, "text": f"{what}: {detail}" if detail else what} for t, what, detail in words]
    lines = []
    for tau in sorted({t for t, _, _ in words}):
        grouped: dict[str, list[str]] = {}
        for t, what, detail in words:
            if t == tau and what not in grouped.setdefault(detail, []):
                grouped[detail].append(what)
        said = "; ".join(f"{detail}: {', '.join(whats)}" if detail else ", ".join(whats)
                         for detail, whats in grouped.items())
        lines.append({"t": tau, "said": said})
    return events, lines


def _jets(record: Record) -> dict[str, Any] | None:
    """Where the thrusters sit and when they fire (``issvis.pictures.plumes`` reads the same keys)."""
    from ..plumes import MAIN_ENGINE_THRUST_N, PLUME_LENGTH_M, has_jets

    if not has_jets(record):
        return None
    names = [str(n) for n in record.names]
    ex = record.extra
    thrust = np.asarray(ex.get("jet_thrust_n", np.full(len(ex["jet_pos_local_m"]), 130.0)), float)
    return {"part": [names.index(str(p)) for p in ex["jet_part"]],
            "pos_local_m": np.asarray(ex["jet_pos_local_m"], float).round(4).tolist(),
            "dir_local": np.asarray(ex["jet_dir_local"], float).round(5).tolist(),
            "length_m": [PLUME_LENGTH_M["main" if f > MAIN_ENGINE_THRUST_N else "attitude"] for f in thrust]}


class Blob:
    """Arrays laid end to end (each 8-byte aligned) with their directory for the page."""

    def __init__(self) -> None:
        self.data = bytearray()
        self.directory: dict[str, dict[str, Any]] = {}

    def add(self, name: str, array: np.ndarray, dtype: str = "<f4") -> None:
        a = np.ascontiguousarray(np.asarray(array, dtype=np.dtype(dtype)))
        self.data += b"\0" * (-len(self.data) % 8)
        self.directory[name] = {"offset": len(self.data), "dtype": {"<f4": "float32", "<f8": "float64"}[dtype],
                                "shape": list(a.shape)}
        self.data += a.tobytes()


def page_data(record: Record, settings: Any) -> dict[str, tuple[str, bytes]]:
    """Every file of the record's page that is not static: name -> (content type, bytes)."""
    from ...record.scene_of import interface_faces_of, orbit_of, part_labels_of, title_of
    from ..viewer import DEFAULT_SPEED, HELP_TEXT, PRESETS, SPEEDS, _dominant_segment, _first_burn_group, _trail_groups

    glb, radii = station_glb(record)
    coarse_glb, _ = station_glb(record, coarse=True)
    labels = {str(n): str(n) for n in record.names}
    labels.update(part_labels_of(record))
    events, lines = _event_lines(record, labels)
    sides = record.separation_sides()
    groups = _trail_groups(record, sides)
    follow = sides[0] if sides is not None else _first_burn_group(record)
    altitude, mean_motion = orbit_of(record)
    faces = interface_faces_of(record)
    lt, e = settings.lighting, settings.earth

    blob = Blob()
    blob.add("t", record.t, "<f8")
    blob.add("pos", record.pos)
    blob.add("quat", record.quat)
    blob.add("vel", record.vel)
    clearance = record.extra.get("clearance_m")
    if clearance is not None:
        blob.add("clearance", clearance)
    keyframes = _keyframe_camera(record, settings)
    if keyframes is not None:
        blob.add("keyframe_camera", keyframes, "<f8")
    star_dirs, star_look = _stars(settings)
    blob.add("star_dir", star_dirs)
    blob.add("star_look", star_look)
    jets = _jets(record)
    if jets is not None:
        blob.add("jet_pulses", np.asarray(record.extra["jet_pulses"], float).reshape(-1, 3), "<f8")

    facts = {
        "title": title_of(record),
        "names": [str(n) for n in record.names],
        "labels": [labels[str(n)] for n in record.names],
        "segment": [str(s) for s in record.segment],
        "mass_kg": [float(m) for m in record.mass],
        "radius_m": [round(float(r), 3) for r in radii],
        "sides": None if sides is None else [[int(k) for k in np.flatnonzero(s)] for s in sides],
        "first_separation_s": float(record.events_of("separation")[0]["t"]) if sides is not None else None,
        "groups": [{"label": label, "parts": [int(k) for k in np.flatnonzero(mask)]} for label, mask in groups.items()],
        "follow": {"parts": [int(k) for k in np.flatnonzero(follow)], "label": _dominant_segment(record, follow)},
        "interface": None if faces is None else [[int(faces[0]), [float(x) for x in faces[1]]],
                                                 [int(faces[2]), [float(x) for x in faces[3]]]],
        "events": events,
        "event_lines": lines,
        "speeds": list(SPEEDS),
        "default_speed": DEFAULT_SPEED,
        "presets": {str(k): v for k, v in PRESETS.items()},
        "help": "\n".join(line for line in HELP_TEXT.splitlines() if "quit" not in line),
        "lighting": {"mode": lt.mode, "sun_direction_lvlh": list(lt.sun_direction_lvlh), "sun_moves": lt.sun_moves,
                     "sun_intensity": lt.sun_intensity, "earthshine": lt.earthshine, "ambient": lt.ambient},
        "earth": {"show": e.show, "atmosphere": e.atmosphere, "clouds": e.clouds, "glint": e.glint,
                  "detail": e.detail, "brightness": e.brightness, "altitude_m": altitude,
                  "radius_m": EARTH_RADIUS_M, "atmosphere_m": ATMOSPHERE_M, **_earth_orbit(settings, mean_motion)},
        "near_m": settings.camera.near_m,
        "jets": jets,
        "arrays": blob.directory,
    }
    files = {"station.glb": ("model/gltf-binary", glb), "station-coarse.glb": ("model/gltf-binary", coarse_glb),
             "record.bin": ("application/octet-stream", bytes(blob.data)),
             "facts.json": ("application/json", json.dumps(facts, separators=(",", ":"), allow_nan=False).encode())}
    if e.show:
        earth, cloud = earth_jpegs(settings)
        files["earth.jpg"] = ("image/jpeg", earth)
        files["clouds.jpg"] = ("image/jpeg", cloud)
    return files
