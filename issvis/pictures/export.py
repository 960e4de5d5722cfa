"""The animated export of a record: a GLB (``issvis.station.gltf``'s writer) with the parts'
poses as animation channels and the video's camera."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..core.errors import InputError
from ..station.gltf import GltfBuilder, png_bytes

if TYPE_CHECKING:
    from ..record.record import Record
    from ..station.assets import StationAssets

LVLH_TO_GLTF = np.array([[0.0, 0.0, -1.0],
                         [1.0, 0.0, 0.0],
                         [0.0, -1.0, 0.0]])  # columns: LVLH x, y, z in glTF axes
ROOT_NODE = "LVLH"
#: The Sun's illuminance in the file, lux: Blender's importer divides by 683 lm/W, which gives the
#: Cycles engine's sun strength at the default ``lighting.sun_intensity`` (1.15 W/m^2).
SUN_LUX = 683.0 * 1.15
#: The camera's far limit, m: beyond Earth's far side (the horizon is ~2,300 km away from 420 km up).
CAMERA_ZFAR_M = 1.0e8


class ExportError(InputError, ValueError):
    """The export cannot be written as asked (one line)."""


def export_times(record: Record, rate_hz: float | None) -> np.ndarray:
    """The keyframe times: the record's samples, or an even grid at ``rate_hz`` (ends included)."""
    t = np.asarray(record.t, float)
    if rate_hz is None:
        return t.copy()
    n = int(np.floor((t[-1] - t[0]) * rate_hz + 1e-9)) + 1
    grid = t[0] + np.arange(n) / rate_hz
    return grid if grid[-1] >= t[-1] - 1e-9 else np.append(grid, t[-1])


def _camera_track(record: Record, size_px: tuple[int, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray, float, np.ndarray, np.ndarray]:
    """(video times, positions, quaternions xyzw, yfov rad, simulated times, Sun directions LVLH) of
    the render's camera, keyed at up to 10 a video second."""
    from ..core.frames import matrix_to_quat
    from ..record.scene_of import settings_of
    from .camera import clip_for

    settings, _ = settings_of(record)
    clip = clip_for(settings, record)
    fps = min(float(clip.fps), 10.0)
    times = np.arange(int(np.floor(clip.length_s * fps)) + 1) / fps
    pos: list[np.ndarray] = []
    quat: list[np.ndarray] = []
    fovs: list[float] = []
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
    from ..record.scene_of import orbit_of
    from .shots import sun_direction

    _, mean_motion = orbit_of(record)
    sim = np.array([clip.sim(float(v)) for v in times])
    suns = np.array([sun_direction(settings.lighting, mean_motion, float(t)) for t in sim])
    return times, np.array(pos), np.array(quat), float(np.radians(np.median(fovs))), sim, suns


def _basis_z(z: np.ndarray) -> np.ndarray:
    """A rotation whose third column is the unit vector ``z`` (first column as level as it can be)."""
    z = np.asarray(z, float) / np.linalg.norm(z)
    helper = np.array([1.0, 0.0, 0.0]) if abs(z[0]) < 0.9 else np.array([0.0, 1.0, 0.0])
    x = np.cross(helper, z)
    x /= np.linalg.norm(x)
    return np.column_stack([x, np.cross(z, x), z])


def _embedded(g: GltfBuilder, key: str, image, png_file=None) -> int | None:
    """A texture embedding ``image`` as PNG (the file it came from when there is one), once per file."""

    if image is None:
        return None
    if key in g._images:
        return g._images[key]
    png = png_file.read_bytes() if png_file is not None and png_file.is_file() else png_bytes(image)
    return g.image(key, png=png)


def export_record(record: Record, output: str | Path, rate_hz: float | None = None,
                  assets: StationAssets | None = None, camera: bool = True,
                  size_px: tuple[int, int] = (1920, 1080)) -> dict[str, Any]:
    """Write ``record`` as one animated GLB at ``output`` (atomically); returns a summary dict.

    Nodes: ``LVLH`` (root, LVLH -> glTF +Y up) with one child per part (its fine visual mesh and
    PBR materials, textures embedded), translation/rotation keyframes at ``export_times`` on the
    simulated-time axis (animation ``run``). When the record's [render] section gives a camera, the
    one animation ``run`` runs on the video's clock instead: the camera node, a Sun (a
    ``KHR_lights_punctual`` directional light turning with the orbit) and the parts keyed at the
    same video times (up to 10 a second), so that the file plays as the video does.
    """
    from pathlib import Path

    from ..core.files import write_bytes_atomic
    from ..station.assets import load_station_assets
    output = Path(output)
    assets = assets or load_station_assets()
    names = [str(n) for n in record.names]
    missing = [n for n in names if n not in assets.parts]
    if missing:
        raise ExportError(f"the record names part(s) {', '.join(missing)} that this station does not have")
    track = None
    cam_info = None
    if camera:
        try:
            track = _camera_track(record, size_px)
        except Exception as exc:
            track, cam_info = None, f"no camera ({exc})"
    # one clock for everything: with the camera, the parts are keyed at the camera's keys (video time,
    # the clip's time-lapse baked in), so a player that plays the file plays the video; without it,
    # the parts keep the record's own clock (simulated time)
    times = export_times(record, rate_hz) if track is None else track[4]
    if track is None and np.array_equal(times, record.t):
        pos, quat = np.asarray(record.pos, float), np.asarray(record.quat, float)
    else:
        poses = [record.pose_at(float(np.clip(t, record.t[0], record.t[-1]))) for t in times]
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
    key_times = times - times[0] + 0.0 if track is None else track[0]
    t_acc = g.accessor(key_times, "SCALAR", target=None, minmax=True)
    samplers, channels = [], []

    def channel(node: int, path: str, data: np.ndarray, kind: str) -> None:
        samplers.append({"input": t_acc, "output": g.accessor(data, kind, target=None), "interpolation": "LINEAR"})
        channels.append({"sampler": len(samplers) - 1, "target": {"node": node, "path": path}})

    for b, node in enumerate(children):
        channel(node, "translation", pos[:, b], "VEC3")
        channel(node, "rotation", quat[:, b], "VEC4")
    extras: dict[str, Any] = {"time_axis": "simulated time from the record's first sample, s", "t0_s": float(times[0])}
    if track is not None:
        vt, cpos, cquat, yfov, sim, suns = track
        g.doc.setdefault("cameras", []).append({"type": "perspective", "name": "render camera", "perspective": {
            "yfov": yfov, "aspectRatio": size_px[0] / size_px[1], "znear": 0.5, "zfar": CAMERA_ZFAR_M}})
        cam_node = g.node("render camera", root=False, camera=0, translation=[float(x) for x in cpos[0]],
                          rotation=[float(x) for x in cquat[0]])
        children.append(cam_node)
        channel(cam_node, "translation", cpos, "VEC3")
        channel(cam_node, "rotation", cquat, "VEC4")
        # the Sun: a directional light (it shines along its node's -Z) turning with the orbit
        g.doc.setdefault("extensions", {})["KHR_lights_punctual"] = {"lights": [
            {"type": "directional", "name": "Sun", "color": [1.0, 0.97, 0.92], "intensity": SUN_LUX}]}
        g.doc.setdefault("extensionsUsed", []).append("KHR_lights_punctual")
        sun_q = np.array([matrix_to_quat(_basis_z(d)) for d in suns])
        for k in range(1, len(sun_q)):
            if float(np.dot(sun_q[k], sun_q[k - 1])) < 0:
                sun_q[k] *= -1
        sun_node = g.node("Sun", root=False, rotation=[float(x) for x in sun_q[0]],
                          extras={"angular_diameter_deg": 0.53})
        g.doc["nodes"][sun_node]["extensions"] = {"KHR_lights_punctual": {"light": 0}}
        children.append(sun_node)
        channel(sun_node, "rotation", sun_q, "VEC4")
        extras = {"time_axis": "video time of the render's clip, s (parts, camera and Sun on this one clock)",
                  "simulated_s": [float(t) for t in sim]}
        cam_info = f"camera: {len(vt)} keys over {vt[-1]:g} s of video, parts and Sun on the same clock"
    animations = [{"name": "run", "samplers": samplers, "channels": channels, "extras": extras}]
    g.node(ROOT_NODE, children=children, rotation=[float(x) for x in root_q],
           extras={"frame": "LVLH: x radial (zenith), y along-track, z orbit normal; metres",
                   "station_hash": assets.station_hash})
    g.doc["animations"] = animations
    data = g.glb()
    write_bytes_atomic(output, data)
    return {"path": output, "bytes": len(data), "keyframes": len(times), "parts": len(names), "camera": cam_info}
