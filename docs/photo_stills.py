"""Stills of the station as the video draws it (the Stage: its light, shadows and Earth), for docs/img/.

Each family of surfaces from 5 m and the whole station from 100 m, docked (record time 0), with the
default scene's Sun held still; and two of Earth: the default clip's wide shot at 30x (its frame at
video 27 s) and the Russian segment before the sunset limb (record time 1285 s, the Sun a few degrees
above the horizon, the camera looking towards it across the segment). Usage:
    python docs/photo_stills.py RECORD.npz OUTDIR [--size 960x540] [NAME ...]
writes OUTDIR/photo-NAME.png. docs/img/photo-*.jpg pair each still as it was before the Earth, the
array colours and the limb of issue 18's second round (left) with today's (right).
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
EARTH_SHOTS = ("earth-wide-30x", "earth-sunset-limb")
WIDE_VIDEO_S = 27.0  # the default edit's leaving shot: Earth fills the frame
SUNSET_SIM_S = 1285.0  # record time of the sunset still: the Sun ~3 deg above the limb


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


def _earth_still(record, name: str, size: tuple[int, int]) -> np.ndarray:
    """The picture of one of ``EARTH_SHOTS`` (frames as the Stage draws them, no overlays, no grade)."""
    from issvis.pictures.video import open_source
    from issvis.scene.render_settings import CameraKey, CameraSettings, Overlays, RenderSettings, TimeMap

    quiet = Overlays(title_card=False, end_card=False, clock=False, separation=False, labels=False, gap_cue=False,
                     captions=False)
    if name == "earth-wide-30x":
        src = open_source(record, RenderSettings(width_px=size[0], height_px=size[1], overlays=quiet))
        try:
            src.pose(WIDE_VIDEO_S)
            return src.picture()
        finally:
            src.close()
    # a camera key for the time map (the camera itself is placed below, once the Sun is known)
    key = CameraKey(at_s=0.0, anchor="part:zvezda", target="part:zvezda", position_m=(30.0, 0.0, 90.0))
    settings = RenderSettings(width_px=size[0], height_px=size[1], overlays=quiet, camera=CameraSettings(keys=(key,)),
                              time=TimeMap(knots=((0.0, SUNSET_SIM_S), (10.0, SUNSET_SIM_S + 10.0))))
    src = open_source(record, settings)
    try:
        src.pose(0.0)
        assert abs(src.stage.t_s - SUNSET_SIM_S) < 1e-6, src.stage.t_s
        sun = src.stage.sun_direction(SUNSET_SIM_S)
        print(f"sunset still: t = {src.stage.t_s:.0f} s, Sun {np.degrees(np.arcsin(sun[0])):.1f} deg from the horizontal")
        across = np.array([0.0, sun[1], sun[2]])
        across /= np.linalg.norm(across)  # the Sun's bearing along the horizon, LVLH
        hub = src.stage._pos[src.stage._index["zvezda"]]
        # from 90 m down-Sun of the Russian segment's hub and 32 m above it: the segment before the limb
        cam = src.plotter.renderer.GetActiveCamera()
        cam.SetPosition(*(hub - 90.0 * across + np.array([32.0, 0.0, 0.0])))
        cam.SetFocalPoint(*(hub + 0.0 * across))
        cam.SetViewUp(1.0, 0.0, 0.0)
        cam.SetViewAngle(45.0)
        return src.picture()
    finally:
        src.close()


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
    for name in args[2:] or [*SHOTS, *EARTH_SHOTS]:
        if name in EARTH_SHOTS:
            Image.fromarray(_earth_still(record, name, size)).save(out / f"photo-{name}.png")
            print(out / f"photo-{name}.png", flush=True)
            continue
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
