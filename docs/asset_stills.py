"""Stills of the station's assets for docs/img/assets-*.png (issue 8 section 6).

Loads assets/ through issvis.station.assets (what every stage loads), draws each part with its textures in
a hard side light, and writes small PNGs. Usage:
    python docs/asset_stills.py [OUTDIR] [NAME ...]
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from issvis.station.assets import load_station_assets

# name: (part whose first wing is the target, or None; focus part (None: the whole station's centre
# of mass); camera direction from the target; distance m; screen up)
SHOTS = {
    "us-modules": (None, "harmony", (0.45, 0.8, 0.55), 17.0, (0, 0, -1)),
    "cupola": (None, "cupola", (0.5, -0.6, 1.0), 7.5, (1, 0, 0)),
    "zvezda": (None, "zvezda", (-0.25, 1.0, -0.35), 24.0, (0, 0, -1)),
    "prichal": (None, "prichal", (0.25, 1.0, 0.45), 10.0, (0, 0, -1)),
    "soyuz": (None, "soyuz_ms19", (0.35, 1.0, 0.25), 12.0, (0, 0, -1)),
    "dragon": (None, "dragon_endurance", (0.2, 1.0, -0.3), 15.0, (0, 0, -1)),
    "cygnus": (None, "cygnus_ng17", (0.45, 0.3, 1.0), 15.0, (1, 0, 0)),
    "truss": (None, "s3_s4", (0.7, 0.5, -0.5), 20.0, (0, 0, -1)),
    "arrays": (None, "p6", (0.35, 0.3, -1.0), 45.0, (1, 0, 0)),
    "hull-5m": (None, "destiny", (0.2, 1.0, -0.5), 5.0, (0, 0, -1)),
    "russian-hull-5m": (None, "zvezda", (-0.3, 1.0, -0.2), 5.0, (0, 0, -1)),
    "saw-5m": ("s6", None, (0.3, 0.2, -1.0), 5.0, (1, 0, 0)),
    "arm": (None, "s0", (1.0, 0.3, -0.6), 14.0, (0, 0, -1)),
    "station-100m": (None, None, (0.55, 0.45, -0.7), 100.0, (0, 0, -1)),
    "station-1km": (None, None, (0.55, 0.45, -0.7), 1000.0, (0, 0, -1)),
}


def textured(pv, cache, mesh):
    faces = np.hstack([np.full((len(mesh.faces), 1), 3), mesh.faces]).ravel()
    poly = pv.PolyData(np.array(mesh.vertices_m), faces)
    if mesh.normals is not None:
        poly.point_data["Normals"] = np.array(mesh.normals)
    tex = None
    if mesh.uv is not None and mesh.material.base_color_image is not None:
        poly.active_texture_coordinates = np.array(mesh.uv)
        key = mesh.material.name
        if key not in cache:
            tex = pv.Texture(np.ascontiguousarray(mesh.material.base_color_image))
            tex.repeat = True
            tex.mipmap = True
            tex.interpolate = True
            cache[key] = tex
        tex = cache[key]
    return poly, tex


def render(name, out: Path, size=(720, 480)):
    import pyvista as pv

    parts_sel, focus, view, dist, up = SHOTS[name]
    assets = load_station_assets()
    pl = pv.Plotter(off_screen=True, window_size=size, lighting="none")
    pl.set_background((0.01, 0.01, 0.02))
    cache = {}
    coarse = dist >= 500
    for part in assets.parts.values():
        meshes = (part.visual_coarse or part.visual) if coarse else part.visual
        com = part.com_m
        for vm in meshes:
            poly, tex = textured(pv, cache, vm)
            poly.points += com  # station frame
            m = vm.material
            pl.add_mesh(poly, texture=tex, color=None if tex is not None else m.base_color_rgba[:3],
                        smooth_shading=True, ambient=0.06, diffuse=0.9,
                        specular=0.3 if m.metallic > 0.5 else 0.15, specular_power=30,
                        culling=False)
    v = np.asarray(view, float)
    v /= np.linalg.norm(v)
    side = np.cross(v, np.asarray(up, float))
    sun_dir = 0.55 * v + 0.75 * side / np.linalg.norm(side) + 0.35 * np.asarray(up, float)  # from the side
    sun = pv.Light(position=tuple(sun_dir), focal_point=(0, 0, 0), light_type="scene light", intensity=1.1)
    sun.positional = False
    pl.add_light(sun)
    fill = pv.Light(position=tuple(-np.asarray(up, float)), focal_point=(0, 0, 0), light_type="scene light",
                    intensity=0.12, color=(0.6, 0.7, 1.0))
    fill.positional = False
    pl.add_light(fill)
    if parts_sel is not None:  # a point on a part: the middle of its first wing
        wing = next(e for e in assets.station.part(parts_sel).elements if e.style == "blanket")
        target = np.asarray(wing.p0_m, float) + (0.0, 2.6, 0.0)
    elif focus is None:
        target = np.average([p.com_m for p in assets.parts.values()], axis=0,
                            weights=[p.mass_kg for p in assets.parts.values()])
    else:
        target = assets.parts[focus].com_m
    pl.camera.position = tuple(target + v * dist)
    pl.camera.focal_point = tuple(target)
    pl.camera.up = up
    pl.camera.view_angle = 40.0 if dist < 500 else 8.0
    pl.camera.clipping_range = (max(0.2, dist * 0.03), dist + 150)
    img = pl.screenshot(return_img=True)
    pl.close()
    from PIL import Image

    out.parent.mkdir(parents=True, exist_ok=True)
    # a palette PNG keeps each still well under 300 KB for the repository
    Image.fromarray(img).quantize(colors=192, method=Image.Quantize.MEDIANCUT,
                                  dither=Image.Dither.NONE).save(out, optimize=True)
    return out


if __name__ == "__main__":
    outdir = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("docs/img")
    names = sys.argv[2:] or list(SHOTS)
    for n in names:
        print(render(n, outdir / f"assets-{n}.png"))
