"""Stills of the station as the video draws it (the Stage: its light, shadows and Earth), for docs/img/.

Each family of surfaces from 5 m and the whole station from 100 m, docked (record time 0), with the
default scene's Sun held still. Usage:
    python docs/photo_stills.py RECORD.npz OUTDIR [--size 960x540] [NAME ...]
writes OUTDIR/photo-NAME.png. docs/img/photo-*.jpg pair today's still with the one before the
light and surfaces of issue 18 (left: before, right: after).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

# name: (part the camera is placed from, camera offset from the target m (LVLH), target on the part
# (None: its origin; "wing": the middle of one of its wings of cells), field of view deg)
SHOTS = {
    "station-100m": ("harmony", (55.0, -45.0, -70.0), None, 50.0),
    "us-hull-5m": ("destiny", (3.5, -3.0, -6.0), None, 55.0),
    "russian-hull-5m": ("zvezda", (3.5, 2.0, -6.5), None, 55.0),
    "soyuz-5m": ("soyuz_ms19", (-3.0, 4.5, -5.0), None, 55.0),
    "array-5m": ("s6", (4.0, -1.5, -3.0), "wing", 55.0),
    "radiator-5m": ("s1", (2.0, -5.0, -4.5), "radiator", 55.0),
    "truss-5m": ("s3_s4", (3.0, -3.0, -5.0), None, 60.0),
}


def _target(record, part: str, what: str | None) -> np.ndarray:
    """The point to look at, m from the part's origin, LVLH axes, at t = 0."""
    from issvis.core.frames import quat_to_matrix
    from issvis.station.assets import load_station_assets

    if what is None:
        return np.zeros(3)
    look = {"wing": "array", "radiator": "radiator"}[what]
    meshes = [vm for vm in load_station_assets().parts[part].visual if vm.material.name == look]
    points = np.concatenate([vm.vertices_m for vm in meshes])
    along = int(np.argmax(points.max(axis=0) - points.min(axis=0)))
    centre = points[points[:, along] > points[:, along].mean()].mean(axis=0)
    return quat_to_matrix(record.quat[0, record.part_index(part)]) @ centre


def main(argv: list[str]) -> None:
    from PIL import Image

    from issvis.pictures.video import open_source
    from issvis.record.record import Record
    from issvis.scene.render_settings import CameraKey, CameraSettings, Lighting, Overlays, RenderSettings

    args = list(argv)
    size = (960, 540)
    if "--size" in args:
        k = args.index("--size")
        size = tuple(int(v) for v in args[k + 1].split("x"))
        del args[k:k + 2]
    record, out = Record.load(args[0]), Path(args[1])
    out.mkdir(parents=True, exist_ok=True)
    for name in args[2:] or list(SHOTS):
        part, offset, what, fov = SHOTS[name]
        target = _target(record, part, what)
        key = CameraKey(at_s=0.0, mode="fixed", anchor=f"part:{part}", target=f"part:{part}",
                        target_offset_m=tuple(target), position_m=tuple(target + np.asarray(offset)), fov_deg=fov)
        settings = RenderSettings(width_px=size[0], height_px=size[1], camera=CameraSettings(keys=(key,)),
                                  overlays=Overlays(title_card=False, end_card=False, clock=False, separation=False),
                                  lighting=Lighting(sun_moves=False))
        src = open_source(record, settings)
        try:
            src.pose(0.0)
            Image.fromarray(src.picture()).save(out / f"photo-{name}.png")
        finally:
            src.close()
        print(out / f"photo-{name}.png", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
