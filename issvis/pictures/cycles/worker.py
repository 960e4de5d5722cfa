"""The Blender side of the Cycles engine: builds the scene once, then draws the frames it is sent.

Runs inside Blender's Python (``blender --background --python worker.py -- SETUP.json``, or a
Python with the ``bpy`` module: ``python worker.py SETUP.json``). It imports no issvis module
(Blender's Python has numpy < 2, issvis's has numpy 2): issvis computes every frame's state
(poses, camera, Sun, Earth's turn) and sends it as one JSON line on stdin; this script only draws.

Protocol: after the scene is built it prints ``ISSVIS-CYCLES {"ready": ..., "device": ...}``; for
each line ``{"out": PNG, "parts": {name: 16 floats}, "camera": {...}, "sun": {...}, "earth": 9
floats}`` it renders the PNG and prints ``ISSVIS-CYCLES {"done": PNG, "render_s": ...}``. An empty
line or end of input ends it. Anything else on stdout (Blender's own chatter) is ignored by issvis.

World axes are LVLH (x zenith, y along-track, z orbit normal), metres, at true scale: the Earth is
a sphere of 6378 km whose centre is ``earth_centre_m``, so its limb, its shadow at sunset and the
light it bounces into the station's shadows are where the physics puts them.
"""

from __future__ import annotations

import json
import math
import sys
import time

import bpy

PREFIX = "ISSVIS-CYCLES "
#: glTF is +Y up, Blender +Z up: the importer maps a glTF point (x, y, z) to (x, -z, y).
GLTF_TO_BLENDER = ((1.0, 0.0, 0.0), (0.0, 0.0, -1.0), (0.0, 1.0, 0.0))


def say(**message: object) -> None:
    sys.stdout.write(PREFIX + json.dumps(message) + "\n")
    sys.stdout.flush()


def _matmul3(a, b):
    return [[sum(a[i][k] * b[k][j] for k in range(3)) for j in range(3)] for i in range(3)]


def _transposed(a):
    return [[a[j][i] for j in range(3)] for i in range(3)]


def _matrix(rot, pos):
    from mathutils import Matrix

    return Matrix([[rot[0][0], rot[0][1], rot[0][2], pos[0]],
                   [rot[1][0], rot[1][1], rot[1][2], pos[1]],
                   [rot[2][0], rot[2][1], rot[2][2], pos[2]],
                   [0.0, 0.0, 0.0, 1.0]])


def _basis_z(z):
    """A rotation whose third column is the unit vector z."""
    zx, zy, zz = z
    helper = (1.0, 0.0, 0.0) if abs(zx) < 0.9 else (0.0, 1.0, 0.0)
    x = (helper[1] * zz - helper[2] * zy, helper[2] * zx - helper[0] * zz, helper[0] * zy - helper[1] * zx)
    n = math.sqrt(sum(c * c for c in x))
    x = tuple(c / n for c in x)
    y = (zy * x[2] - zz * x[1], zz * x[0] - zx * x[2], zx * x[1] - zy * x[0])
    return [[x[0], y[0], zx], [x[1], y[1], zy], [x[2], y[2], zz]]


# --- the scene -------------------------------------------------------------------------------
def import_station(glb_path, part_names):
    """The station's parts (fine meshes, glTF PBR materials as Principled BSDFs), unparented and
    without their animation, keyed by part name; everything else the file held is removed."""
    bpy.ops.import_scene.gltf(filepath=glb_path)
    parts = {}
    for ob in list(bpy.data.objects):
        ob.animation_data_clear()
        if ob.name in part_names and ob.type == "MESH":
            parts[ob.name] = ob
    for ob in list(bpy.data.objects):
        if ob.name not in parts:
            bpy.data.objects.remove(ob, do_unlink=True)
    for action in list(bpy.data.actions):
        bpy.data.actions.remove(action)
    for ob in parts.values():
        ob.parent = None
        for poly in ob.data.polygons:
            poly.use_smooth = True  # the exported normals (smooth on round hulls, split at sharp edges) rule
    missing = sorted(set(part_names) - set(parts))
    if missing:
        raise SystemExit(f"the station file has no mesh for {', '.join(missing)}")
    return parts


def _grid_sphere(name, radius_m, step_deg):
    """A latitude/longitude sphere in Earth-fixed axes (z north, x at longitude 0) with the
    equirectangular texture's uv (longitude -180..180 left to right, north up)."""
    nlat, nlon = int(round(180 / step_deg)), int(round(360 / step_deg))
    verts, uvs_at = [], []
    for i in range(nlat + 1):
        lat = math.radians(-90 + 180 * i / nlat)
        for j in range(nlon + 1):
            lon = math.radians(-180 + 360 * j / nlon)
            verts.append((radius_m * math.cos(lat) * math.cos(lon), radius_m * math.cos(lat) * math.sin(lon),
                          radius_m * math.sin(lat)))
            uvs_at.append((j / nlon, i / nlat))
    faces = []
    row = nlon + 1
    for i in range(nlat):
        for j in range(nlon):
            a = i * row + j
            faces.append((a, a + 1, a + row + 1, a + row))
    mesh = bpy.data.meshes.new(name)
    mesh.from_pydata(verts, [], faces)
    uv = mesh.uv_layers.new(name="uv")
    for poly in mesh.polygons:
        poly.use_smooth = True
        for li in poly.loop_indices:
            uv.data[li].uv = uvs_at[mesh.loops[li].vertex_index]
    ob = bpy.data.objects.new(name, mesh)
    bpy.context.scene.collection.objects.link(ob)
    return ob


def _node(nodes, kind, **inputs):
    n = nodes.new(kind)
    for key, value in inputs.items():
        n.inputs[key].default_value = value
    return n


def _math(nodes, links, op, a, b=None, clamp=False):
    n = nodes.new("ShaderNodeMath")
    n.operation = op
    n.use_clamp = clamp
    for k, v in enumerate((a, b)):
        if v is None:
            continue
        if isinstance(v, (int, float)):
            n.inputs[k].default_value = float(v)
        else:
            links.new(v, n.inputs[k])
    return n.outputs[0]


def earth_material(texture_path, clouds):
    """The Blue Marble (display colours, read as sRGB albedo) under the same generated cloud field
    as the raster engine (the texture's alpha), thresholded near 0.5 at the scene's cloud opacity;
    oceans (blue clearly above red) smoother and a little specular, so the Sun glints on water."""
    mat = bpy.data.materials.new("earth")
    mat.use_nodes = True
    nodes, links = mat.node_tree.nodes, mat.node_tree.links
    bsdf = nodes["Principled BSDF"]
    tex = nodes.new("ShaderNodeTexImage")
    img = bpy.data.images.load(texture_path)
    img.alpha_mode = "CHANNEL_PACKED"  # the alpha is the cloud field, not coverage
    tex.image = img
    tex.interpolation = "Cubic"
    # the field thresholded near 0.5 with a fine noise (features of ~20 km) added, so that cloud
    # edges stay crisp and broken where the 1024-px field is magnified
    coord = nodes.new("ShaderNodeTexCoord")
    fine = nodes.new("ShaderNodeTexNoise")
    fine.inputs["Scale"].default_value = 4.0e-5  # per metre of Earth: features of ~25 km
    fine.inputs["Detail"].default_value = 8.0
    fine.inputs["Roughness"].default_value = 0.6
    links.new(coord.outputs["Object"], fine.inputs["Vector"])
    field = _math(nodes, links, "ADD", tex.outputs["Alpha"],
                  _math(nodes, links, "MULTIPLY", _math(nodes, links, "SUBTRACT", fine.outputs["Fac"], 0.5), 0.6))
    cloud = _math(nodes, links, "MULTIPLY",
                  _math(nodes, links, "MULTIPLY", _math(nodes, links, "SUBTRACT", field, 0.5), 12.0, clamp=True),
                  clouds)
    sep = nodes.new("ShaderNodeSeparateColor")
    links.new(tex.outputs["Color"], sep.inputs[0])
    ocean = _math(nodes, links, "MULTIPLY", _math(nodes, links, "SUBTRACT", sep.outputs[2], sep.outputs[0]), 12.0,
                  clamp=True)
    ocean = _math(nodes, links, "MULTIPLY", ocean, _math(nodes, links, "SUBTRACT", 1.0, cloud))
    mix = nodes.new("ShaderNodeMix")
    mix.data_type = "RGBA"
    links.new(cloud, mix.inputs["Factor"])
    links.new(tex.outputs["Color"], mix.inputs[6])
    mix.inputs[7].default_value = (0.72, 0.72, 0.74, 1.0)
    links.new(mix.outputs[2], bsdf.inputs["Base Color"])
    links.new(_math(nodes, links, "SUBTRACT", 0.9, _math(nodes, links, "MULTIPLY", ocean, 0.6)),
              bsdf.inputs["Roughness"])
    links.new(_math(nodes, links, "MULTIPLY", ocean, 0.5), bsdf.inputs["Specular IOR Level"])
    return mat


def atmosphere_material(sun_node_holder, gain):
    """A thin emitting shell over Earth, seen edge-on at the limb only (the facing term): blue where
    the ground below it is sunlit, orange-red along the terminator, nothing on the night side."""
    mat = bpy.data.materials.new("atmosphere")
    mat.use_nodes = True
    nodes, links = mat.node_tree.nodes, mat.node_tree.links
    nodes.remove(nodes["Principled BSDF"])
    out = nodes["Material Output"]
    geo = nodes.new("ShaderNodeNewGeometry")
    sun = nodes.new("ShaderNodeCombineXYZ")
    sun_node_holder.append(sun)
    dot = nodes.new("ShaderNodeVectorMath")
    dot.operation = "DOT_PRODUCT"
    links.new(geo.outputs["Normal"], dot.inputs[0])
    links.new(sun.outputs[0], dot.inputs[1])
    cos_sun = dot.outputs["Value"]
    day = _math(nodes, links, "MULTIPLY", _math(nodes, links, "ADD", cos_sun, 0.12), 4.0, clamp=True)
    blue = _math(nodes, links, "MULTIPLY", _math(nodes, links, "SUBTRACT", cos_sun, 0.02), 5.0, clamp=True)
    lw = nodes.new("ShaderNodeLayerWeight")
    lw.inputs["Blend"].default_value = 0.5
    edge = _math(nodes, links, "POWER", lw.outputs["Facing"], 24.0)  # only where the shell is seen edge-on
    strength = _math(nodes, links, "MULTIPLY", _math(nodes, links, "MULTIPLY", edge, day), gain)
    colour = nodes.new("ShaderNodeMix")
    colour.data_type = "RGBA"
    links.new(blue, colour.inputs["Factor"])
    colour.inputs[6].default_value = (1.0, 0.36, 0.10, 1.0)
    colour.inputs[7].default_value = (0.30, 0.55, 1.0, 1.0)
    emit = nodes.new("ShaderNodeEmission")
    links.new(colour.outputs[2], emit.inputs["Color"])
    links.new(strength, emit.inputs["Strength"])
    clear = nodes.new("ShaderNodeBsdfTransparent")
    add = nodes.new("ShaderNodeAddShader")
    links.new(clear.outputs[0], add.inputs[0])
    links.new(emit.outputs[0], add.inputs[1])
    links.new(add.outputs[0], out.inputs["Surface"])
    return mat


def world_with_stars(star_gain):
    """Black space with stars fixed on the sky (a Voronoi field over the view direction)."""
    world = bpy.data.worlds.new("space")
    world.use_nodes = True
    nodes, links = world.node_tree.nodes, world.node_tree.links
    bg = nodes["Background"]
    coord = nodes.new("ShaderNodeTexCoord")
    vor = nodes.new("ShaderNodeTexVoronoi")
    vor.voronoi_dimensions = "3D"
    vor.inputs["Scale"].default_value = 420.0
    vor.inputs["Randomness"].default_value = 1.0
    links.new(coord.outputs["Generated"], vor.inputs["Vector"])
    dot = _math(nodes, links, "LESS_THAN", vor.outputs["Distance"], 0.045)
    sep = nodes.new("ShaderNodeSeparateColor")
    links.new(vor.outputs["Color"], sep.inputs[0])
    bright = _math(nodes, links, "POWER", sep.outputs[0], 6.0)
    links.new(_math(nodes, links, "MULTIPLY", _math(nodes, links, "MULTIPLY", dot, bright), star_gain),
              bg.inputs["Strength"])
    bg.inputs["Color"].default_value = (1.0, 1.0, 1.0, 1.0)
    return world


def pick_device(scene, wanted):
    """A GPU where Cycles finds one (OptiX, CUDA, HIP, oneAPI, Metal) unless ``wanted`` is 'cpu';
    returns what renders, in words."""
    if wanted != "cpu":
        prefs = bpy.context.preferences.addons["cycles"].preferences
        for kind in ("OPTIX", "CUDA", "HIP", "ONEAPI", "METAL"):
            try:
                prefs.compute_device_type = kind
                prefs.get_devices()
            except Exception:
                continue
            gpus = [d for d in prefs.devices if d.type == kind]
            if gpus:
                for d in prefs.devices:
                    d.use = d.type == kind
                scene.cycles.device = "GPU"
                return f"GPU ({kind}: {', '.join(d.name for d in gpus)})"
    scene.cycles.device = "CPU"
    import os

    return f"CPU ({os.cpu_count()} threads)"


def as_silhouettes(parts):
    """Every part drawn as plain white emission on black: the station's silhouette (the engines'
    agreement test compares it with the raster engine's)."""
    white = bpy.data.materials.new("silhouette")
    white.use_nodes = True
    nodes = white.node_tree.nodes
    nodes.remove(nodes["Principled BSDF"])
    emit = nodes.new("ShaderNodeEmission")
    emit.inputs["Strength"].default_value = 1.0
    white.node_tree.links.new(emit.outputs[0], nodes["Material Output"].inputs["Surface"])
    for ob in parts.values():
        ob.data.materials.clear()
        ob.data.materials.append(white)


def build(setup):
    bpy.ops.wm.read_factory_settings(use_empty=True)
    scene = bpy.context.scene
    parts = import_station(setup["station_glb"], setup["parts"])
    if setup.get("silhouette"):
        as_silhouettes(parts)
        setup = {**setup, "earth": False, "star_gain": 0.0, "view_transform": "Standard", "exposure_ev": 0.0}
    conv_t = _transposed(GLTF_TO_BLENDER)

    # Earth at true scale, and its atmosphere
    r_m = setup["earth_radius_m"]
    earth = atmo = None
    sun_nodes: list = []
    if setup["earth"]:
        earth = _grid_sphere("earth", r_m, setup["earth_grid_deg"])
        earth.data.materials.append(earth_material(setup["earth_texture"], setup["clouds"]))
        if setup["atmosphere"]:
            atmo = _grid_sphere("atmosphere", r_m + 35_000.0, setup["earth_grid_deg"])
            atmo.data.materials.append(atmosphere_material(sun_nodes, 0.8))
            for flag in ("visible_shadow", "visible_diffuse", "visible_glossy", "visible_transmission",
                         "visible_volume_scatter"):
                setattr(atmo, flag, False)

    sun_data = bpy.data.lights.new("sun", "SUN")
    sun_data.angle = math.radians(0.53)
    sun = bpy.data.objects.new("sun", sun_data)
    scene.collection.objects.link(sun)

    cam_data = bpy.data.cameras.new("camera")
    cam_data.sensor_fit = "VERTICAL"
    cam_data.clip_start = setup["near_m"]
    cam_data.clip_end = 1.0e8  # the horizon is ~2,300 km away, Earth's far side ~13,000 km
    cam = bpy.data.objects.new("camera", cam_data)
    scene.collection.objects.link(cam)
    scene.camera = cam

    scene.world = world_with_stars(setup["star_gain"])

    scene.render.engine = "CYCLES"
    c = scene.cycles
    device = pick_device(scene, setup.get("device", "auto"))
    c.samples = setup["samples"]
    c.use_adaptive_sampling = True
    c.adaptive_threshold = 0.01
    c.use_denoising = setup["denoise"]
    c.denoiser = "OPENIMAGEDENOISE"
    c.seed = setup["seed"]
    c.use_animated_seed = False
    c.max_bounces, c.diffuse_bounces, c.glossy_bounces = 6, 3, 3
    c.transmission_bounces, c.transparent_max_bounces = 4, 8
    c.caustics_reflective = c.caustics_refractive = False
    c.blur_glossy = 1.0
    scene.render.use_persistent_data = True
    scene.render.resolution_x, scene.render.resolution_y = setup["width_px"], setup["height_px"]
    scene.render.resolution_percentage = 100
    scene.render.film_transparent = False
    scene.render.image_settings.file_format = "PNG"
    scene.render.image_settings.color_mode = "RGB"
    scene.render.image_settings.color_depth = "8"
    scene.render.image_settings.compression = 15
    scene.display_settings.display_device = "sRGB"
    scene.view_settings.view_transform = setup["view_transform"]
    scene.view_settings.look = "None"
    scene.view_settings.exposure = setup["exposure_ev"]
    scene.view_settings.gamma = 1.0
    return {"scene": scene, "parts": parts, "conv_t": conv_t, "earth": earth, "atmo": atmo, "sun": sun,
            "sun_nodes": sun_nodes, "camera": cam, "device": device, "sun_strength": setup["sun_strength"]}


def set_state(world, state):
    for name, m in state["parts"].items():
        rot = [m[0:3], m[4:7], m[8:11]]
        world["parts"][name].matrix_world = _matrix(_matmul3(rot, world["conv_t"]), (m[3], m[7], m[11]))
    centre = state["earth_centre_m"]
    if world["earth"] is not None:
        e = state["earth"]
        world["earth"].matrix_world = _matrix([e[0:3], e[3:6], e[6:9]], centre)
    if world["atmo"] is not None:
        world["atmo"].matrix_world = _matrix([[1, 0, 0], [0, 1, 0], [0, 0, 1]], centre)
    sd = state["sun"]["direction"]
    for node in world["sun_nodes"]:
        node.inputs[0].default_value, node.inputs[1].default_value, node.inputs[2].default_value = sd
    sun = world["sun"]
    sun.matrix_world = _matrix(_basis_z(sd), (0.0, 0.0, 0.0))  # a sun lamp shines along its -Z
    sun.data.energy = world["sun_strength"] * state["sun"]["intensity"]
    sun.data.color = state["sun"]["rgb"]
    cam = state["camera"]
    p, f, up = cam["position"], cam["focal"], cam["up"]
    back = [p[i] - f[i] for i in range(3)]
    n = math.sqrt(sum(v * v for v in back))
    z = [v / n for v in back]
    x = [up[1] * z[2] - up[2] * z[1], up[2] * z[0] - up[0] * z[2], up[0] * z[1] - up[1] * z[0]]
    n = math.sqrt(sum(v * v for v in x))
    x = [v / n for v in x]
    y = [z[1] * x[2] - z[2] * x[1], z[2] * x[0] - z[0] * x[2], z[0] * x[1] - z[1] * x[0]]
    world["camera"].matrix_world = _matrix([[x[0], y[0], z[0]], [x[1], y[1], z[1]], [x[2], y[2], z[2]]], p)
    world["camera"].data.angle_y = math.radians(cam["fov_deg"])


def main(argv):
    t0 = time.perf_counter()
    with open(argv[0]) as f:
        setup = json.load(f)
    world = build(setup)
    say(ready=True, device=world["device"], build_s=round(time.perf_counter() - t0, 3),
        blender=bpy.app.version_string)
    for line in sys.stdin:
        line = line.strip()
        if not line:
            break
        state = json.loads(line)
        t = time.perf_counter()
        set_state(world, state)
        world["scene"].render.filepath = state["out"]
        bpy.ops.render.render(write_still=True)
        say(done=state["out"], render_s=round(time.perf_counter() - t, 3))


if __name__ == "__main__":
    args = sys.argv[sys.argv.index("--") + 1:] if "--" in sys.argv else sys.argv[1:]
    main(args)
