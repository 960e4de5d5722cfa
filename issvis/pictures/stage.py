"""The pyvista world of one record: station parts, Earth, its limb, stars, the Sun and its shadows.

Shared by the video renderer (``issvis.render``) and the interactive viewer. Meshes are built once;
``set_time`` only changes one ``vtkMatrix4x4`` per part.

Three renderers share the window (see docs/rendering.md, "Light and shadow"):

- ``far`` (layer 0): Earth, limb, stars and the Sun's disc, with their own camera (a copy of the
  station camera made before every render) and clipping range. Earth is drawn at its true angular
  size but not at its true distance: a sphere of radius R at distance D looks exactly like one of
  radius R/k at D/k from the same eye, so Earth's nearest point is put ``EARTH_NEAR_M`` away.
- ``baker`` (layer 0, drawn first, shows nothing): flat unlit copies of the station meshes sharing
  each part's matrix, the same lights, background 1e6 ("no occluder"), and VTK's shadow-map baker
  as its only pass. Kept apart because VTK fits the shadow map to the bounds of every actor of its
  renderer: with Earth in it, the whole station falls inside one texel.
- the plotter's own renderer (layer 1): the station, through a camera pass over [shadow-map pass
  using that baker, overlay pass] (the overlay pass draws the text cards).

Light: the Sun as a hard directional key (the only light that casts shadows), an ambient term of a
few per cent, and earthshine: a weak bluish *positional* spot light (cone 90 deg, no attenuation)
20 km towards Earth, so that VTK does not bake a shadow map for it.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from ..core.frames import EARTH_RADIUS_M, basis_with_z, quat_to_matrix, transform_matrix
from ..scene.render_settings import RenderSettings
from .earth import EARTH_FRAGMENT_DECL, EARTH_FRAGMENT_IMPL, earth_image, earth_texture_image, limb_colours
from .plumes import JetPlumes, has_jets

if TYPE_CHECKING:
    from ..record.record import Record
    from ..station.assets import Material, VisualMesh

EARTH_NEAR_M = 6000.0  # scaled distance from the camera to the nearest point of Earth, m
ATMOSPHERE_M = 90_000.0  # visible thickness of the limb, m (true scale)
EARTH_ROTATION_RAD_S = 7.292115e-5
EARTHSHINE_DISTANCE_M = 20_000.0  # the earthshine spot light sits this far towards Earth
SHADOW_BACKGROUND = 1e6  # depth the baker writes where nothing occludes the Sun
# A part whose radius spans less of the half-height than this is drawn with its coarse meshes. Off (0):
# on the default clip it saved 3 % (the cost is in close-ups, where the fine meshes are needed) and
# a part near the threshold in a slow pull-back would pop between levels.
LOD_SCREEN_FRACTION = 0.0
# The baker's viewport: a small square (see Stage._square_baker_viewport), px.
SHADOW_VIEWPORT_PX = 16
# The shadow map is re-baked only when a caster's box corner, or the Sun's turn times the station's
# depth along the Sun, has moved this many map texels since the last bake (the map's own precision is
# a texel): the docked station in real time re-bakes every ~10 frames, a time-lapse every frame.
SHADOW_REBAKE_TEXELS = 1.0

# VTK 9.7's shadow lookup is an exponential shadow map with a fixed constant (11 over the light's whole
# depth range): an occluder a few metres in front of a receiver only dims it by exp(-11 * gap / range),
# so with a low Sun, when the range spans the station's length (~130 m), shadows cast from 5 m away
# came out 60 % lit. The station's shaders replace it by a depth test in metres: the occluder's depth
# is read back from the map (it holds exp(11 x depth)), a point is shadowed once it lies SHADOW_BIAS_M
# behind the occluder (over a SHADOW_SOFTNESS_M ramp), tested at the four texel centres around it and
# blended bilinearly (edges ramp over one texel instead of stair-stepping), looked up from a point
# SHADOW_NORMAL_OFFSET_M out along its normal (surfaces that graze the light do not shadow themselves).
SHADOW_BIAS_M = 0.04
SHADOW_SOFTNESS_M = 0.05
SHADOW_NORMAL_OFFSET_M = 0.08
_VTK_SHADOW_CALL = "calcShadow(vertexVC, "
_VTK_SHADOW_FACTOR = "expFactor = depthCExpBlured * depthCExpActual;"
_SHADOW_CALL = f"calcShadow(vertexVC + vec4(normalize(normalVCVSOutput) * {SHADOW_NORMAL_OFFSET_M:.4f}, 0.0), "
_SHADOW_FACTOR = f"""{{
        // bilinear percentage-closer filtering: the depth test at the four texel centres around the
        // point, weighted by where the point falls between them (edges ramp over a texel, no stairs)
        float issvisRange = sFarZ - sNearZ;
        vec2 issvisRes = vec2(textureSize(shadowMap, 0));
        vec2 issvisF = projected * issvisRes - 0.5;
        vec2 issvisW = fract(issvisF);
        vec2 issvisBase = (floor(issvisF) + 0.5) / issvisRes;
        float issvisLit[4];
        for (int k = 0; k < 4; k++) {{
          vec2 uv = issvisBase + vec2(float(k & 1), float(k >> 1)) / issvisRes;
          float occluder = log(max(texture2D(shadowMap, uv).r, 1e-30)) / depthC;
          float gap = (ldepth - occluder) * issvisRange - {SHADOW_BIAS_M:.4f};
          issvisLit[k] = clamp(1.0 - gap / {SHADOW_SOFTNESS_M:.4f}, 0.0, 1.0);
        }}
        expFactor = mix(mix(issvisLit[0], issvisLit[1], issvisW.x), mix(issvisLit[2], issvisLit[3], issvisW.x),
                        issvisW.y);
      }}"""

TINTS = {"departing": np.array([1.0, 0.45, 0.15]), "remaining": np.array([0.25, 0.55, 1.0])}

__all__ = ["Stage", "earth_image", "earth_orientation", "phong_look", "TINTS"]


class Extra(Protocol):
    """Something drawn with the station that changes with simulated time (e.g. a jet plume)."""

    def update(self, t_s: float) -> None: ...


def phong_look(material: Material) -> dict[str, Any]:
    """Phong coefficients for a glTF metallic-roughness material (asset ``Material``).

    Metals reflect their base colour and diffuse little; dielectrics reflect ~4 % white. Roughness
    widens the highlight (specular power ~ 2 / r^4, clipped) and weakens its peak.
    """
    rgba = np.asarray(material.base_color_rgba, float)
    base = np.clip(rgba[:3], 0.0, 1.0)
    metal = float(np.clip(material.metallic, 0.0, 1.0))
    rough = float(np.clip(material.roughness, 0.04, 1.0))
    power = float(np.clip(2.0 / rough**4 - 2.0, 4.0, 128.0))
    peak = (1.0 - rough) ** 1.5
    specular = (0.08 + 0.9 * metal) * peak + 0.04
    spec_colour = tuple(float(c) for c in (base * metal + (1.0 - metal) * np.ones(3)))
    return dict(color=tuple(float(c) for c in base), diffuse=1.0 - 0.55 * metal, specular=specular,
                specular_power=power, specular_color=spec_colour)


def _part_visuals(record: Record, coarse: bool = False) -> dict[str, tuple[VisualMesh, ...]]:
    """name -> tuple of VisualMesh for every part of the record, from the assets (fine, or coarse when
    asked and present), with the scene's own meshes where the assets module applies them."""
    from ..station.assets import part_visuals_for_record

    return {str(k): tuple(v) for k, v in part_visuals_for_record(record, coarse=coarse).items()}


@lru_cache(maxsize=512)
def _polydata(vm: VisualMesh) -> Any:
    """A pyvista PolyData of one VisualMesh (normals split at sharp edges when the asset has none).
    Cached per mesh object: a second Stage (viewer, tests) shares them; actors never modify them."""
    import pyvista as pv

    faces = np.hstack([np.full((len(vm.faces), 1), 3), np.asarray(vm.faces, np.int64)]).ravel()
    mesh = pv.PolyData(np.asarray(vm.vertices_m, float), faces)
    if vm.uv is not None:
        mesh.active_texture_coordinates = np.asarray(vm.uv, float)
    if vm.normals is not None:
        mesh.point_data["Normals"] = np.asarray(vm.normals, float)
        mesh.GetPointData().SetNormals(mesh.GetPointData().GetArray("Normals"))
    else:
        # split sharp edges so cylinders shade round while caps and boxes keep crisp edges
        mesh = mesh.compute_normals(split_vertices=True, feature_angle=40.0, auto_orient_normals=False,
                                    consistent_normals=False)
    return mesh


@lru_cache(maxsize=256)
def _flat_copy(vm: VisualMesh) -> Any:
    """Points and triangles only: what the shadow baker needs (no normals, no texture coordinates)."""
    import pyvista as pv

    faces = np.hstack([np.full((len(vm.faces), 1), 3), np.asarray(vm.faces, np.int64)]).ravel()
    return pv.PolyData(np.asarray(vm.vertices_m, float), faces)


def _texture(image: np.ndarray, srgb: bool = True) -> Any:
    """A VTK texture with mipmaps and *no* anisotropic filtering (VTK's default 4x costs about half
    a frame's time on Mesa's llvmpipe)."""
    import pyvista as pv

    tex = pv.Texture(np.ascontiguousarray(image))  # row 0 = top, as the assets and PIL hold it
    tex.interpolate = True
    tex.mipmap = True
    tex.SetMaximumAnisotropicFiltering(1.0)
    return tex


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
    mesh.GetPointData().SetNormals(mesh.GetPointData().GetArray("Normals"))
    mesh.active_texture_coordinates = np.stack([(lon_g + np.pi) / (2 * np.pi), (lat_g + np.pi / 2) / np.pi],
                                               -1).reshape(-1, 2)
    return mesh


LIMB_RINGS = np.array([0.0, 0.12, 0.35, 1.0])  # radial stations of the limb ring, inner..outer
LIMB_ALPHA = np.array([1.0, 0.75, 0.30, 0.0])
LIMB_SEGMENTS = 720


def _limb_mesh(inner: float, outer: float) -> Any:
    """Annulus in the z = 0 plane, inner..outer radius; its colours are set from the Sun each frame."""
    import pyvista as pv

    n = LIMB_SEGMENTS
    ang = np.linspace(0, 2 * np.pi, n, endpoint=False)
    r = inner + LIMB_RINGS * (outer - inner)
    pts = np.stack([np.outer(r, np.cos(ang)), np.outer(r, np.sin(ang)), np.zeros((len(r), n))], -1).reshape(-1, 3)
    i = np.arange(len(r) - 1)[:, None]
    j = np.arange(n)[None, :]
    k = (j + 1) % n
    quads = np.stack([np.full((len(r) - 1, n), 4), i * n + j, i * n + k, (i + 1) * n + k, (i + 1) * n + j], -1)
    mesh = pv.PolyData(pts, quads.ravel())
    # Colours already blended over black space, so the ring is opaque: any translucent actor makes
    # VTK run its order-independent-transparency passes, which cost more than the whole station.
    mesh.point_data["rgb"] = np.zeros((len(pts), 3), np.uint8)
    return mesh


def _sun_glow_mesh() -> Any:
    """The Sun's disc and a glare around it, as rings of vertex colours over black (opaque)."""
    import pyvista as pv

    radii = np.array([0.0, 1.0, 1.25, 2.2, 4.0, 8.0])
    level = np.array([1.0, 1.0, 0.55, 0.16, 0.05, 0.0])
    n = 64
    ang = np.linspace(0, 2 * np.pi, n, endpoint=False)
    pts = np.stack([np.outer(radii, np.cos(ang)), np.outer(radii, np.sin(ang)), np.zeros((len(radii), n))], -1)
    pts = pts.reshape(-1, 3)
    i = np.arange(len(radii) - 1)[:, None]
    j = np.arange(n)[None, :]
    k = (j + 1) % n
    quads = np.stack([np.full((len(radii) - 1, n), 4), i * n + j, i * n + k, (i + 1) * n + k, (i + 1) * n + j], -1)
    mesh = pv.PolyData(pts, quads.ravel())
    colour = np.array([1.0, 0.98, 0.93])
    mesh.point_data["rgb"] = np.repeat((np.outer(level, colour) * 255).astype(np.uint8), n, axis=0)
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


def _box_corners(boxes: np.ndarray) -> np.ndarray:
    """The 8 corners (8, 3) of the box around boxes (M, 2, 3) (zeros when there are none)."""
    if not len(boxes):
        return np.zeros((8, 3))
    lo, hi = boxes[:, 0].min(axis=0), boxes[:, 1].max(axis=0)
    return np.array([[hi[i] if k >> i & 1 else lo[i] for i in range(3)] for k in range(8)])


def _sharpen_shadow_lookup(actor: Any) -> None:
    """Replace VTK's exponential shadow test in this actor's shader by a biased depth test in metres
    (see SHADOW_BIAS_M). Applied after VTK's own replacements, where the shadow pass's code is."""
    sp = actor.GetShaderProperty()
    sp.AddFragmentShaderReplacement(_VTK_SHADOW_CALL, False, _SHADOW_CALL, True)
    sp.AddFragmentShaderReplacement(_VTK_SHADOW_FACTOR, False, _SHADOW_FACTOR, False)


def _set_matrix(vtk_matrix: Any, m: np.ndarray) -> None:
    vtk_matrix.DeepCopy(np.ascontiguousarray(m, float).ravel())


class Stage:
    """Station parts, Earth, stars and Sun for one record in one pyvista Plotter.

    ``part_actors`` maps each part name to a list of actors (one per visual mesh of that part, fine
    and coarse: the coarse ones are shown instead when the part is small on screen).
    ``set_time(t)`` poses every part at simulated time t (seconds of the record), turns Earth and,
    when the scene asks, the Sun, and calls ``update(t)`` on every object in ``extras`` (the hook
    for things drawn with the station that change in time, such as jet plumes). The far field
    follows whatever camera the plotter has at render time. ``preview`` builds a lighter world
    (coarser Earth, smaller textures, fewer stars, no shadows). ``shadows`` defaults to the
    scene's ``lighting.shadows`` (off in preview).
    """

    def __init__(self, plotter: Any, record: Record, settings: RenderSettings, preview: bool = False,
                 shadows: bool | None = None) -> None:
        import pyvista as pv
        import vtk

        self.plotter = plotter
        self.record = record
        self.settings = settings
        self.preview = preview
        self.extras: list[Extra] = []
        lt = settings.lighting
        self.shadows = (lt.shadows and not preview) if shadows is None else bool(shadows)
        orbit = record.meta.get("orbit", {})
        self.altitude_m = float(orbit.get("altitude_m", 418_310.0))
        self.mean_motion = float(orbit.get("mean_motion_rad_s", math.sqrt(3.986004418e14 / (EARTH_RADIUS_M + self.altitude_m) ** 3)))
        self.earth_centre = np.array([-(EARTH_RADIUS_M + self.altitude_m), 0.0, 0.0])
        self.t_s = float(record.t[0])
        self._limb_dip = math.acos(EARTH_RADIUS_M / (EARTH_RADIUS_M + self.altitude_m))  # rad

        # preview (and the viewer) draw the coarse meshes; shadows are cast by the coarse meshes always
        # (they bake in less time, and a shadow needs no bolts)
        visuals = _part_visuals(record, coarse=preview)
        # level of detail: the coarse meshes stand in for parts that are small on screen
        coarse = {} if (preview or LOD_SCREEN_FRACTION <= 0) else _part_visuals(record, coarse=True)
        casters = _part_visuals(record, coarse=True) if self.shadows else {}
        rw = plotter.render_window
        self.renderer = plotter.renderer
        plotter.set_background("black")
        plotter.remove_all_lights()
        rw.SetNumberOfLayers(max(2, rw.GetNumberOfLayers()))
        self.renderer.SetLayer(1)
        self.renderer.SetPreserveDepthBuffer(False)
        if self.shadows:
            self.baker_renderer = vtk.vtkRenderer()
            self.baker_renderer.SetLayer(0)
            self.baker_renderer.SetBackground(SHADOW_BACKGROUND, SHADOW_BACKGROUND, SHADOW_BACKGROUND)
            self.baker_renderer.SetInteractive(False)
            rw.AddRenderer(self.baker_renderer)
        else:
            self.baker_renderer = None
        self.far = vtk.vtkRenderer()
        self.far.SetLayer(0)
        self.far.SetBackground(0.0, 0.0, 0.0)
        self.far.SetInteractive(False)
        self.far_camera = vtk.vtkCamera()
        self.far.SetActiveCamera(self.far_camera)
        rw.AddRenderer(self.far)

        self.part_actors: dict[str, list[Any]] = {}
        self._copies: list[Any] = []  # the baker's flat copies
        self._boxes: list[np.ndarray] = []  # per part (M, 2, 3) local boxes of its meshes, m
        self._levels: list[list[list[Any]]] = []  # per part: [fine actors, coarse actors (if any)]
        self._level_shown: list[int] = []
        self._matrices: dict[str, Any] = {}
        self._base_colour: dict[int, tuple[float, float, float]] = {}
        self._radius: dict[str, float] = {}
        textures: dict[int, Any] = {}
        ambient = lt.ambient
        for name in (str(n) for n in record.names):
            matrix = vtk.vtkMatrix4x4()
            self._matrices[name] = matrix
            actors = []
            radius = 0.0
            boxes = []
            levels = [visuals[name]]
            if coarse.get(name) and coarse[name] != visuals[name]:
                levels.append(coarse[name])
            by_level: list[list[Any]] = []
            for level, meshes in enumerate(levels):
                by_level.append([])
                for k, vm in enumerate(meshes):
                    mesh = _polydata(vm)
                    look = phong_look(vm.material)
                    specular_colour = look.pop("specular_color")
                    texture = None
                    image = vm.material.base_color_image
                    if image is not None and vm.uv is not None:
                        if self.preview and image.shape[0] > 256:
                            image = image[::4, ::4]
                        texture = textures.get(id(vm.material.base_color_image))
                        if texture is None:
                            texture = textures[id(vm.material.base_color_image)] = _texture(image[..., :3])
                    actor = plotter.add_mesh(mesh, smooth_shading=True, ambient=ambient, reset_camera=False,
                                             texture=texture, name=f"part:{name}:{level}:{k}", **look)
                    actor.prop.specular_color = specular_colour
                    # closed, outward-wound meshes: back faces are hidden anyway, and not rasterising
                    # them saves a fifth of a frame on llvmpipe
                    actor.prop.backface_culling = not vm.material.double_sided
                    if self.shadows:
                        _sharpen_shadow_lookup(actor)
                    actor.prop.ambient_color = look["color"]
                    actor.SetUserMatrix(matrix)
                    actor.SetVisibility(level == 0)
                    actors.append(actor)
                    by_level[-1].append(actor)
                    self._base_colour[id(actor)] = tuple(look["color"])
                    if level == 0:
                        radius = max(radius, float(np.linalg.norm(mesh.points, axis=1).max()))
                        boxes.append((mesh.points.min(axis=0), mesh.points.max(axis=0)))
            self._levels.append(by_level)
            self._level_shown.append(0)
            for vm in casters.get(name, ()):
                self._add_flat_copy(vtk, vm, matrix)
            self.part_actors[name] = actors
            self._radius[name] = radius
            self._boxes.append(np.array(boxes) if boxes else np.zeros((0, 2, 3)))
        self._radius_arr = np.array([self._radius[str(n)] for n in record.names])
        self._tinted = False
        self._index = {str(n): i for i, n in enumerate(record.names)}
        self._sides = record.separation_sides()
        # each part's box corners in its own frame (P, 8, 3), for the re-bake test
        self._corners = np.array([_box_corners(b) for b in self._boxes])
        self._baked: tuple[np.ndarray, np.ndarray] | None = None  # (world corners, Sun) at the last bake
        self.bakes = 0

        self._build_far_field(pv, vtk)
        self._build_lights(pv)
        if self.shadows:
            self._build_shadow_passes(vtk)
            self._square_baker_viewport()
        self._observer = rw.AddObserver("StartEvent", self._before_render)
        if has_jets(record):  # thruster firings recorded by attitude control: glows at the jets that fire
            self.extras.append(JetPlumes(plotter, record, min_visible_s=1.0))
        self.set_time(self.t_s)

    def _square_baker_viewport(self) -> None:
        """Give the baker a square viewport of SHADOW_VIEWPORT_PX pixels in the window's corner.

        VTK projects the shadow map with the aspect ratio of the baker renderer's viewport but looks
        it up as if it were square: on a 16:9 window every shadow was stretched sideways in the light's
        frame (right under the light's centre, metres off at the map's edges). A small square viewport
        also spares the baker clearing a full-size window region that nothing shows.
        """
        w, h = self.plotter.render_window.GetSize()
        side = min(SHADOW_VIEWPORT_PX, w, h)
        self.baker_renderer.SetViewport(0.0, 0.0, (side + 0.25) / w, (side + 0.25) / h)

    def _add_flat_copy(self, vtk: Any, vm: VisualMesh, matrix: Any) -> None:
        mapper = vtk.vtkPolyDataMapper()
        mapper.SetInputData(_flat_copy(vm))
        mapper.ScalarVisibilityOff()
        copy = vtk.vtkActor()
        copy.SetMapper(mapper)
        copy.GetProperty().LightingOff()
        # the map needs the surfaces that face the Sun; back faces lie behind them (3 ms a bake)
        copy.GetProperty().SetBackfaceCulling(not vm.material.double_sided)
        copy.GetProperty().SetInterpolationToFlat()
        copy.SetUserMatrix(matrix)
        self.baker_renderer.AddActor(copy)
        self._copies.append(copy)

    def _build_shadow_passes(self, vtk: Any) -> None:
        from vtkmodules.vtkRenderingOpenGL2 import (
            vtkCameraPass,
            vtkLightsPass,
            vtkOpaquePass,
            vtkOverlayPass,
            vtkRenderPassCollection,
            vtkSequencePass,
            vtkShadowMapBakerPass,
            vtkShadowMapPass,
        )

        baker = vtkShadowMapBakerPass()
        baker.SetResolution(self.settings.quality.shadow_map_px)
        # (its own default opaque sequence: given a bare vtkOpaquePass it bakes "all in shadow")
        baker_camera = vtkCameraPass()
        baker_camera.SetDelegatePass(baker)
        self.baker_renderer.SetPass(baker_camera)

        opaque = vtkSequencePass()
        items = vtkRenderPassCollection()
        items.AddItem(vtkLightsPass())
        items.AddItem(vtkOpaquePass())
        opaque.SetPasses(items)
        shadow = vtkShadowMapPass()
        shadow.SetShadowMapBakerPass(baker)
        shadow.SetOpaqueSequence(opaque)
        sequence = vtkSequencePass()
        passes = vtkRenderPassCollection()
        passes.AddItem(shadow)
        passes.AddItem(vtkOverlayPass())
        sequence.SetPasses(passes)
        camera_pass = vtkCameraPass()
        camera_pass.SetDelegatePass(sequence)
        self.renderer.SetPass(camera_pass)
        self._passes = (baker, baker_camera, opaque, items, shadow, sequence, passes, camera_pass)

    # -- far field --------------------------------------------------------------------------
    def _build_far_field(self, pv: Any, vtk: Any) -> None:
        s = self.settings
        q = s.quality
        self.earth_actor = self.limb_actor = None
        self._far_actors: list[Any] = []

        def add(mesh: Any, **kw: Any) -> Any:
            mapper = vtk.vtkPolyDataMapper()
            mapper.SetInputData(mesh)
            actor = vtk.vtkActor()
            actor.SetMapper(mapper)
            if "rgb" in kw:
                mapper.SetScalarModeToUsePointFieldData()
                mapper.SelectColorArray(kw["rgb"])
                mapper.SetColorModeToDirectScalars()
                mapper.ScalarVisibilityOn()
                actor.GetProperty().LightingOff()
            if "point_size" in kw:
                actor.GetProperty().SetPointSize(kw["point_size"])
            self.far.AddActor(actor)
            self._far_actors.append(actor)
            return actor

        if s.earth.show:
            grid = max(q.earth_grid_deg, 4.0) if self.preview else q.earth_grid_deg
            mesh = _earth_mesh(grid)
            self.earth_actor = add(mesh)
            mapper = self.earth_actor.GetMapper()
            mapper.ScalarVisibilityOff()
            prop = self.earth_actor.GetProperty()
            prop.SetInterpolationToPhong()
            prop.BackfaceCullingOn()
            image = earth_texture_image(s.earth.texture, self.preview, s.earth.clouds > 0)
            prop.SetTexture("actortexture", _texture(image))
            self.earth_actor.ForceOpaqueOn()  # the alpha channel is cloud cover, not opacity
            sp = self.earth_actor.GetShaderProperty()
            sp.AddFragmentShaderReplacement("//VTK::Light::Dec", True, EARTH_FRAGMENT_DECL, False)
            sp.AddFragmentShaderReplacement("//VTK::Light::Impl", True, EARTH_FRAGMENT_IMPL, False)
            sp.AddFragmentShaderReplacement("//VTK::TCoord::Impl", True, "", False)
            uniforms = sp.GetFragmentCustomUniforms()
            uniforms.SetUniformf("sunGain", 0.0 if s.lighting.mode == "night" else s.earth.brightness)
            uniforms.SetUniformf("detailAmp", s.earth.detail)
            uniforms.SetUniformf("cloudAmp", s.earth.clouds)
            uniforms.SetUniformf("glintGain", s.earth.glint)
            if s.earth.atmosphere:
                r, d = EARTH_RADIUS_M, EARTH_RADIUS_M + self.altitude_m
                # the silhouette circle seen from orbit height; the ring sits in its plane
                rho = r * math.sqrt(1 - (r / d) ** 2)
                k = ATMOSPHERE_M * (d / math.sqrt(d * d - r * r))  # radial width that shows the limb thickness
                self._limb_mesh = _limb_mesh(rho * 0.998, rho + k)  # starts inside: no gap at the polygonal edge
                self.limb_actor = add(self._limb_mesh, rgb="rgb")
                ang = np.linspace(0, 2 * np.pi, LIMB_SEGMENTS, endpoint=False)
                self._limb_dirs = np.stack([np.cos(ang), np.sin(ang), np.zeros_like(ang)], -1)  # ring frame
                self._limb_alpha = np.repeat(LIMB_ALPHA, LIMB_SEGMENTS)
        self._sky_radius_m = 1.25 * math.sqrt((EARTH_RADIUS_M + self.altitude_m) ** 2 - EARTH_RADIUS_M**2) * \
            EARTH_NEAR_M / self.altitude_m
        rng = np.random.default_rng(7)
        n = q.stars // (3 if self.preview else 1)
        self.star_actors = []
        # exposure: a frame exposed for the sunlit station shows only the brightest few, faintly
        gain = s.lighting.star_gain if s.lighting.mode == "day" else 1.0
        if n:
            dirs = rng.normal(size=(n, 3))
            dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
            mag = rng.power(0.25, n)  # mostly faint, a few bright
            grey = (40 + 215 * mag**1.5) * gain
            keep = grey >= 6.0  # below the noise floor of the frame: not drawn at all
            for size, sel in ((1.0, keep & (mag < 0.75)), (2.0, keep & (mag >= 0.75))):
                if not sel.any():
                    continue
                cloud = pv.PolyData(dirs[sel])
                tint = rng.uniform(0.85, 1.0, (int(sel.sum()), 3))
                cloud.point_data["rgb"] = np.clip(grey[sel, None] * tint, 0, 255).astype(np.uint8)
                cloud.verts = np.hstack([np.ones((int(sel.sum()), 1), np.int64),
                                         np.arange(int(sel.sum()))[:, None]]).ravel()
                self.star_actors.append(add(cloud, rgb="rgb", point_size=size))
        self.sun_actor = None
        if s.lighting.mode == "day":
            self.sun_actor = add(_sun_glow_mesh(), rgb="rgb")

    def _build_lights(self, pv: Any) -> None:
        lt = self.settings.lighting
        day = lt.mode == "day"
        self.sun_light = pv.Light(light_type="scene light", intensity=lt.sun_intensity if day else 0.0,
                                  color=(1.0, 0.97, 0.92))
        self.sun_light.positional = False
        self.plotter.add_light(self.sun_light)
        # earthshine: from below (Earth), bluish, dimmer at night. Positional with a 90 deg cone
        # and no attenuation: lights like a directional one here, but VTK bakes no shadow map for it.
        shine = lt.earthshine * (1.0 if day else 0.35)
        self.earth_light = pv.Light(light_type="scene light", intensity=shine, color=(0.55, 0.70, 1.0))
        self.earth_light.positional = True
        self.earth_light.cone_angle = 90.0
        self.earth_light.attenuation_values = (1.0, 0.0, 0.0)
        self.plotter.add_light(self.earth_light)
        if self.baker_renderer is not None:
            # the same lights in the same order, so map i belongs to light i
            self.baker_renderer.AddLight(self.sun_light)
            self.baker_renderer.AddLight(self.earth_light)
        # the far field's own Sun: Earth's shader reads its direction (intensity unused)
        self.far_sun = pv.Light(light_type="scene light", intensity=1.0)
        self.far_sun.positional = False
        self.far.AddLight(self.far_sun)

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

    def invalidate_shadows(self) -> None:
        """Bake the shadow map at the next render whatever moved (the renderer calls this at the start
        of every segment, so that any split of a clip over processes bakes at the same frames)."""
        self._baked = None

    def _decide_bake(self) -> None:
        """Draw the baker (re-bake the map) only when something moved a texel since the last bake."""
        corners = np.einsum("pij,pkj->pki", self._rot, self._corners) + self._pos[:, None, :]
        sun = self.sun_direction()
        baked = self._baked
        need = baked is None
        if baked is not None:
            lo, hi = corners.reshape(-1, 3).min(0), corners.reshape(-1, 3).max(0)
            texel = float((hi - lo).max()) / self.settings.quality.shadow_map_px
            moved = float(np.linalg.norm(corners - baked[0], axis=-1).max())
            # a turn of the Sun shifts a shadow by the angle times the caster-receiver distance along the
            # light, at most the station's depth along the Sun
            depth = float(np.abs(sun) @ (hi - lo))
            turned = float(np.linalg.norm(sun - baked[1])) * depth
            need = moved + turned > SHADOW_REBAKE_TEXELS * texel
        self.baker_renderer.SetDraw(need)
        if need:
            # VTK bakes through the baker renderer's own camera as well as the light's: fitted once to
            # the docked station, it lost the depth of everything that later moved far from there (the
            # departing segment, a time-lapse later, came out shadowed all over). Fit it to the casters
            # as they are now, before every bake: the map then depends on this frame alone.
            self.baker_renderer.ResetCamera()
            self._baked = (corners, sun)
            self.bakes += 1

    def _before_render(self, *_: Any) -> None:
        """Put the far field around the active camera, copy that camera to the far renderer, give each
        renderer a clipping range for its own scale, and decide whether the shadow map is re-baked."""
        if self.baker_renderer is not None:
            self._decide_bake()
        cam = self.renderer.GetActiveCamera()
        eye = np.array(cam.GetPosition())
        self.place_far_field(eye)
        fc = self.far_camera
        fc.SetPosition(cam.GetPosition())
        fc.SetFocalPoint(cam.GetFocalPoint())
        fc.SetViewUp(cam.GetViewUp())
        fc.SetViewAngle(cam.GetViewAngle())
        fc.SetClippingRange(0.5 * EARTH_NEAR_M, self._sky_radius_m * 1.1)
        # station: from the closest mesh box (close-ups are not clipped, and the near plane stays as
        # far out as it can: depth precision, for the picture and for the shadow look-ups) to past
        # the farthest
        near_d, far_d = self._box_distances(eye)
        if LOD_SCREEN_FRACTION > 0:
            self._choose_levels(eye, math.tan(math.radians(cam.GetViewAngle()) / 2))
        near = float(np.clip(0.8 * near_d, self.settings.camera.near_m, 50.0))
        cam.SetClippingRange(near, max(far_d * 1.05, near * 10))

    def _choose_levels(self, eye: np.ndarray, tan_half_fov: float) -> None:
        """Coarse meshes for parts whose radius spans under LOD_SCREEN_FRACTION of the half-height."""
        d = np.linalg.norm(self._pos - eye, axis=1)
        size = self._radius_arr / (np.maximum(d - 0.5 * self._radius_arr, 0.1) * tan_half_fov)
        for i, levels in enumerate(self._levels):
            want = 1 if (len(levels) > 1 and size[i] < LOD_SCREEN_FRACTION) else 0
            if want != self._level_shown[i]:
                for level, actors in enumerate(levels):
                    for actor in actors:
                        actor.SetVisibility(level == want)
                self._level_shown[i] = want

    def _box_distances(self, eye: np.ndarray) -> tuple[float, float]:
        """Nearest and farthest distance, m, from the eye to the meshes' boxes (each in its part's frame)."""
        near, far = np.inf, 0.0
        for i, boxes in enumerate(self._boxes):
            if not len(boxes):
                continue
            e = self._rot[i].T @ (eye - self._pos[i])
            lo, hi = boxes[:, 0], boxes[:, 1]
            gap = np.maximum(np.maximum(lo - e, e - hi), 0.0)
            near = min(near, float(np.sqrt((gap * gap).sum(axis=1)).min()))
            reach = np.maximum(np.abs(e - lo), np.abs(hi - e))
            far = max(far, float(np.sqrt((reach * reach).sum(axis=1)).max()))
        return near, far

    def place_far_field(self, eye: np.ndarray) -> None:
        """Scale Earth, limb, stars and Sun about the eye (LVLH, m); angular sizes stay true."""
        to_centre = self.earth_centre - eye
        dist = float(np.linalg.norm(to_centre))
        k = max(dist - EARTH_RADIUS_M, 1.0) / EARTH_NEAR_M
        sd = self.sun_direction()
        if self.earth_actor is not None:
            self.earth_actor.SetUserMatrix(_vtk_matrix(transform_matrix(self._earth_rot, eye + to_centre / k, EARTH_RADIUS_M / k)))
        if self.limb_actor is not None:
            axis = to_centre / dist
            r, d = EARTH_RADIUS_M, dist
            centre = eye + axis * (d - r * r / d) / k
            rot = basis_with_z(axis)
            self.limb_actor.SetUserMatrix(_vtk_matrix(transform_matrix(rot, centre, 1.0 / k)))
            u = self._limb_dirs @ rot.T  # (n, 3) world directions of the ring's vertices from its centre
            s = r / d
            normals = -s * axis[None] + math.sqrt(1 - s * s) * u  # Earth's normal at the limb point
            sun_perp = sd - axis * float(sd @ axis)
            norm = float(np.linalg.norm(sun_perp))
            toward = u @ (sun_perp / norm) if norm > 1e-9 else np.zeros(len(u))
            rgb = limb_colours(np.tile(normals, (len(LIMB_RINGS), 1)), sd, np.tile(toward, len(LIMB_RINGS)),
                               self._limb_alpha)
            self._limb_mesh.point_data["rgb"][:] = rgb
            self._limb_mesh.GetPointData().GetArray("rgb").Modified()
        for actor in self.star_actors:
            actor.SetUserMatrix(_vtk_matrix(transform_matrix(np.eye(3), eye, self._sky_radius_m)))
        if self.sun_actor is not None:
            r_sun = 0.95 * self._sky_radius_m
            # the disc about 1.5x the true 0.53 deg so it reads at video sizes, glare around it
            self.sun_actor.SetUserMatrix(_vtk_matrix(transform_matrix(basis_with_z(-sd), eye + sd * r_sun, r_sun * math.radians(0.4))))

    # -- time ---------------------------------------------------------------------------------
    def set_time(self, t_s: float, poses: tuple[np.ndarray, np.ndarray] | None = None) -> None:
        """Pose every part at simulated time t_s (clamped to the record), turn Earth and Sun.

        ``poses`` (pos (B, 3), quat (B, 4)) may be passed when the caller already has them.
        """
        self.t_s = float(np.clip(t_s, self.record.t[0], self.record.t[-1]))
        pos, quat = poses if poses is not None else self.record.pose_at(self.t_s)
        self._pos = np.asarray(pos, float)
        rot = self._rot = quat_to_matrix(quat)
        for name, i in self._index.items():
            _set_matrix(self._matrices[name], transform_matrix(rot[i], pos[i]))
        # actors cache their matrix: tell them (and the baker's copies) that the shared matrix moved
        for actors in self.part_actors.values():
            for actor in actors:
                actor.Modified()
        for copy in self._copies:
            copy.Modified()
        self._earth_rot = earth_orientation(self.settings, self.t_s, self.mean_motion)
        sd = self.sun_direction()
        centre = self._pos.mean(axis=0)
        lt = self.settings.lighting
        # the Sun sets behind Earth's limb (dip below the horizontal ~20 deg at ISS height), reddening
        # in the last few degrees; earthshine fades as the ground below goes into night
        above = math.asin(float(np.clip(sd[0], -1, 1))) + self._limb_dip
        sunlit = float(np.clip((above + 0.004) / 0.012, 0.0, 1.0))
        warm = float(np.clip(above / 0.10, 0.0, 1.0))
        self.sun_light.intensity = (lt.sun_intensity if lt.mode == "day" else 0.0) * sunlit
        self.sun_light.diffuse_color = tuple(np.array([1.0, 0.55, 0.28]) * (1 - warm) + np.array([1.0, 0.97, 0.92]) * warm)
        self.sun_light.specular_color = self.sun_light.diffuse_color
        ground = float(np.clip((sd[0] + 0.30) / 0.6, 0.0, 1.0))
        self.earth_light.intensity = lt.earthshine * (0.08 + 0.92 * ground if lt.mode == "day" else 0.35)
        self.sun_light.position = tuple(sd)
        self.sun_light.focal_point = (0.0, 0.0, 0.0)
        self.far_sun.position = tuple(sd)
        self.far_sun.focal_point = (0.0, 0.0, 0.0)
        down = self.earth_centre - centre
        down /= np.linalg.norm(down)
        self.earth_light.position = tuple(centre + down * EARTHSHINE_DISTANCE_M)
        self.earth_light.focal_point = tuple(centre)
        for extra in self.extras:
            extra.update(self.t_s)

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
        self.plotter.render_window.RemoveObserver(self._observer)


def _vtk_matrix(m: np.ndarray) -> Any:
    import vtk

    out = vtk.vtkMatrix4x4()
    out.DeepCopy(np.ascontiguousarray(m, float).ravel())
    return out
