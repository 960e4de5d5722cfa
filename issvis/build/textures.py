"""Procedural, deterministic textures and the glTF PBR looks of the station's materials.

Every image is made from integer hashes (no random-number generator whose stream could change
between numpy versions), so ``issvis assets`` writes the same PNG bytes every time. Images tile:
meshes carry texture coordinates in metres divided by the material's ``tile_m`` and the glTF
sampler repeats (the glTF default).

Colour images are sRGB with row 0 at the top; their values are the display colours themselves,
tuned by eye in issvis's own renders (docs/rendering.md's lighting), so materials keep a
base-colour factor of 1. Normal maps are tangent space, OpenGL convention (+Y = +v, as glTF).
numpy and Pillow only.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np


@dataclass(frozen=True)
class Look:
    """A material as written into every GLB that uses it."""

    name: str
    metallic: float
    roughness: float
    tile_m: float  # metres of surface one image covers (both directions)
    albedo: str | None  # texture name of the base colour image (``<name>.png`` in assets/textures)
    normal: str | None = None  # texture name of the normal map
    double_sided: bool = False
    base_color_rgba: tuple[float, float, float, float] = (1.0, 1.0, 1.0, 1.0)
    normal_scale: float = 1.0


LOOKS: dict[str, Look] = {look.name: look for look in (
    Look("mmod", 0.0, 0.55, 3.0, "mmod", "mmod_n"),  # US MMOD blankets: panels, seams, quilting
    Look("ros_blanket", 0.0, 0.7, 2.0, "ros_blanket", "quilt_n"),  # Russian thermal blankets: irregular panels, soft quilting
    Look("green", 0.0, 0.7, 1.5, "green", "quilt_n"),  # Soyuz/Progress blankets: grey-green
    Look("beam_fabric", 0.0, 0.8, 2.0, "beam_fabric", "quilt_n"),  # BEAM's soft outer layer
    Look("dragon_white", 0.0, 0.35, 2.0, "dragon_white"),  # painted composite, panel lines
    Look("metal", 0.85, 0.4, 1.0, "metal"),  # docking hardware, rings, drives, booms
    Look("truss", 0.85, 0.4, 1.0, "truss"),  # truss members
    Look("array", 0.2, 0.22, 1.6, "array"),  # silicon cells behind glass; hinge and bus lines
    Look("array_back", 0.3, 0.5, 1.6, "array_back"),  # copper-gold Kapton back of a blanket, crinkled
    # Russian-style wings (Zvezda, Nauka, Soyuz, Progress): the same images, darker cells and a darker,
    # browner back (photographs: "smaller and darker, in a frame"; not the US wings' bright copper)
    Look("ros_array", 0.2, 0.22, 1.6, "array", base_color_rgba=(0.8, 0.8, 0.84, 1.0)),
    Look("ros_array_back", 0.3, 0.5, 1.6, "array_back", base_color_rgba=(0.62, 0.6, 0.62, 1.0)),
    Look("irosa", 0.2, 0.25, 1.6, "irosa"),  # iROSA cells: darker, finer
    Look("radiator", 0.0, 0.45, 1.0, "radiator", "radiator_n"),  # white panels, flow-tube ribs
    Look("gold", 0.6, 0.32, 1.0, "gold", "gold_n"),  # crinkled gold/Kapton foil
    Look("dark", 0.2, 0.5, 1.0, "dark"),  # dark fittings, latches, equipment
    Look("trunk", 0.2, 0.3, 1.0, "trunk"),  # Crew Dragon trunk: solar cells
    Look("heat_shield", 0.0, 0.8, 1.0, "heat_shield"),
    Look("glass", 0.1, 0.05, 1.0, "glass"),  # Cupola windows
    Look("handrail", 0.1, 0.5, 1.0, "handrail"),  # yellow EVA handrails
)}

# pixel size of each texture (square)
SIZES_PX = {
    "mmod": 1024, "mmod_n": 512, "ros_blanket": 512, "green": 512, "beam_fabric": 256, "quilt_n": 512,
    "dragon_white": 256, "metal": 128, "truss": 128, "array": 1024, "array_back": 256, "irosa": 1024,
    "radiator": 256, "radiator_n": 256, "gold": 256, "gold_n": 256, "dark": 64, "trunk": 256, "heat_shield": 128,
    "glass": 64, "handrail": 16,
}


# --- deterministic noise ---------------------------------------------------------------------
def _hash(ix: np.ndarray, iy: np.ndarray, seed: int) -> np.ndarray:
    """Uniform [0, 1) from integer lattice coordinates (wrapping uint32 arithmetic)."""
    with np.errstate(over="ignore"):
        h = (ix.astype(np.uint32) * np.uint32(73856093)) ^ (iy.astype(np.uint32) * np.uint32(19349663)) \
            ^ np.uint32((seed * 83492791) & 0xFFFFFFFF)
        for _ in range(3):
            h ^= h >> np.uint32(15)
            h *= np.uint32(0x2C1B3C6D)
            h ^= h >> np.uint32(12)
    return h.astype(np.float64) / 4294967296.0


def _value_noise(n: int, cells: int, seed: int) -> np.ndarray:
    """(n, n) smooth noise in [0, 1) tiling with period n, ``cells`` lattice cells across."""
    x = np.arange(n) * cells / n
    i0 = np.floor(x).astype(np.int64)
    f = x - i0
    f = f * f * (3 - 2 * f)
    i1 = (i0 + 1) % cells
    gy, gx = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    a = _hash(i0[gx], i0[gy], seed)
    b = _hash(i1[gx], i0[gy], seed)
    c = _hash(i0[gx], i1[gy], seed)
    d = _hash(i1[gx], i1[gy], seed)
    fx, fy = f[gx], f[gy]
    return (a * (1 - fx) + b * fx) * (1 - fy) + (c * (1 - fx) + d * fx) * fy


def _fbm(n: int, cells: int, seed: int, octaves: int = 4) -> np.ndarray:
    out = np.zeros((n, n))
    amp, total = 1.0, 0.0
    for k in range(octaves):
        out += amp * _value_noise(n, min(cells * 2**k, n), seed + 101 * k)
        total += amp
        amp *= 0.5
    return out / total


def _grid_coords(n: int) -> tuple[np.ndarray, np.ndarray]:
    """(u, v) in [0, 1) per pixel; v = 0 at the bottom row (OpenGL uv)."""
    u = (np.arange(n) + 0.5) / n
    v = 1.0 - (np.arange(n) + 0.5) / n
    vv, uu = np.meshgrid(v, u, indexing="ij")
    return uu, vv


def _seam(frac: np.ndarray, width: float) -> np.ndarray:
    """1 on a seam line at integer values of ``frac`` (width in the same units), 0 away from it."""
    d = np.abs(frac - np.round(frac))
    return np.clip(1.0 - d / width, 0.0, 1.0)


def _normal_from_height(h: np.ndarray, strength: float) -> np.ndarray:
    """Tangent-space normal map (uint8 RGB) from a tiling height field (row 0 = top = high v)."""
    dx = (np.roll(h, -1, axis=1) - np.roll(h, 1, axis=1)) / 2
    dy = (np.roll(h, 1, axis=0) - np.roll(h, -1, axis=0)) / 2  # +v is up the image
    n = np.stack([-dx * strength, -dy * strength, np.ones_like(h)], -1)
    n /= np.linalg.norm(n, axis=-1, keepdims=True)
    return np.round((n * 0.5 + 0.5) * 255).astype(np.uint8)


def _rgb(base: tuple[float, float, float], shade: np.ndarray) -> np.ndarray:
    img = np.asarray(base)[None, None, :] * shade[..., None]
    return np.round(np.clip(img, 0, 1) * 255).astype(np.uint8)


# --- the textures ------------------------------------------------------------------------------
def _mmod(n: int) -> tuple[np.ndarray, np.ndarray]:
    """US MMOD blankets: a 3 x 2 grid of panels (1.0 m around x 1.5 m along in a 3 m tile), soft dark
    seams, per-panel tint, a quilting stitch grid every 0.25 m, a few patches and labels."""
    u, v = _grid_coords(n)
    pu, pv = u * 3, v * 2  # panel coordinates
    iu, iv = np.floor(pu).astype(int), np.floor(pv).astype(int)
    tint = 0.89 + 0.13 * _hash(iu, iv, 11)  # panels of different batches and ages: visible steps
    warm = 0.97 + 0.06 * _hash(iu, iv, 13)  # some blankets yellower with age
    seam = np.maximum(_seam(pu, 0.012), _seam(pv, 0.008))
    edge = np.maximum(_seam(pu, 0.05), _seam(pv, 0.035))  # the blanket edges sag a little darker
    stitch = np.maximum(_seam(u * 12, 0.03), _seam(v * 12, 0.03)) * (_seam(u * 12, 0.06) * _seam(v * 12, 0.06) > 0)
    lu, lv = pu - iu, pv - iv
    patch = (_hash(iu, iv, 17) > 0.6) & (np.abs(lu - 0.3) < 0.09) & (np.abs(lv - 0.7) < 0.05)
    grime = _fbm(n, 8, 5)
    shade = tint * (0.95 + 0.09 * grime) * (1 - 0.38 * seam) * (1 - 0.07 * edge) * (1 - 0.10 * stitch)
    shade = np.where(patch, shade * 0.82, shade)
    albedo = _rgb((0.80, 0.80, 0.78), shade)
    albedo[..., 2] = np.round(albedo[..., 2] / warm).clip(0, 255).astype(np.uint8)
    # pillowed panels: high in the middle, down at the seams and the stitches
    pillow = np.sqrt(np.sin(np.pi * np.clip(lu, 0, 1))) * np.sqrt(np.sin(np.pi * np.clip(lv, 0, 1)))  # ** 0.5: pow differs with SIMD
    return albedo, pillow - 0.3 * stitch


def _blanket_panels(u: np.ndarray, v: np.ndarray, cols: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Irregular blanket panels that tile: ``cols`` columns, each cut into 1-3 rows at its own offset
    (panels of different sizes, staggered like laid blankets). Returns (panel id (int), distance to the
    panel's edge in tile units, the panel's local (0-1) coordinate across its column)."""
    pu = u * cols
    ic = np.floor(pu).astype(int) % cols
    rows = 1 + (_hash(ic, np.zeros_like(ic), seed) * 3).astype(int)  # 1, 2 or 3 rows in this column
    off = _hash(ic, np.ones_like(ic), seed)
    pv = v * rows + off
    ir = np.floor(pv).astype(int) % rows
    du = np.abs(pu - np.round(pu)) / cols
    dv = np.abs(pv - np.round(pv)) / rows
    return ic * 8 + ir, np.minimum(du, dv), pu - np.floor(pu)


def _quilt(n: int, base: tuple[float, float, float], seed: int, cols: int) -> tuple[np.ndarray, np.ndarray]:
    """Russian-style thermal blankets: irregular panels of different whites and greys (batches, ages,
    sun-bleached or grimed), soft seams between them, and stitched quilting that is all but flat in
    colour (3 %) and lives in the height field: it shows in grazing light, not as a drawn grid. The
    quilting lines are warped by noise so they do not read as a regular fishnet."""
    u, v = _grid_coords(n)
    panel, edge_d, _ = _blanket_panels(u, v, cols, seed)
    tone = 0.90 + 0.10 * _hash(panel, np.full_like(panel, 7), seed)  # a range of whites and grey-whites
    grey = _hash(panel, np.full_like(panel, 9), seed) > 0.75  # some panels greyer (older, grimed)
    warm = 0.98 + 0.05 * _hash(panel, np.full_like(panel, 11), seed)  # some yellower with age
    wrinkle = _fbm(n, 6, seed, 5)
    warp = (_fbm(n, 3, seed + 17, 2) - 0.5) * 0.9  # the stitch lines wander (hand-sewn, blankets stretched)
    d1, d2 = (u + v) * 6 + warp, (u - v) * 6 - warp
    stitch = np.maximum(_seam(d1, 0.04), _seam(d2, 0.04))
    puff = np.sqrt(np.abs(np.sin(np.pi * d1)) * np.abs(np.sin(np.pi * d2)))  # each quilted cell bulges softly
    seam = np.clip(1.0 - edge_d / 0.006, 0.0, 1.0)  # the overlap where two blankets meet
    shade = tone * (0.95 + 0.08 * wrinkle) * (1 - 0.03 * stitch) * (1 - 0.16 * seam)
    img = np.asarray(base)[None, None, :] * shade[..., None]
    img = np.where(grey[..., None], img * np.array([0.92, 0.93, 0.94]), img)
    img[..., 2] = img[..., 2] / warm
    height = 0.5 * puff + 0.45 * wrinkle - 0.1 * stitch - 0.4 * seam
    return np.round(np.clip(img, 0, 1) * 255).astype(np.uint8), height


def _array(n: int, cell: tuple[float, float, float], cells: int, seed: int, panels: int = 4,
           buses: int = 2) -> np.ndarray:
    """Solar cells behind cover glass, one image per tile (u across the blanket, v along it): ``cells``
    cells each way with thin dark gaps, per-cell tone, per-panel tone (each panel between two hinges is a
    batch of its own: a visible step at 100 m, as in photographs of the wings), ``panels`` bright hinge
    lines across (the folds between the blanket's panels) and ``buses`` bright bus strips along. The lines
    are wide and bright enough to stay visible, mipmapped, at 100 m."""
    u, v = _grid_coords(n)
    cu, cv = u * cells, v * cells
    iu, iv = np.floor(cu).astype(int), np.floor(cv).astype(int)
    tint = 0.82 + 0.36 * _hash(iu, iv, seed)
    violet = 0.9 + 0.2 * _hash(iu // 4, iv // 4, seed + 1)  # strings of cells: a bluer or a more violet cast
    ip = np.floor(v * panels).astype(int)  # the panel between two hinges
    ib = np.floor(u * buses + 0.5).astype(int) % buses  # the half of the blanket between two bus strips
    panel_tone = 0.80 + 0.40 * _hash(ip, ib, seed + 2)
    img = np.asarray(cell)[None, None, :] * (tint * panel_tone)[..., None]
    img[..., 0] *= violet
    gap = np.maximum(_seam(cu, 0.035), _seam(cv, 0.035))[..., None]
    img = img * (1 - gap) + gap * np.array([0.20, 0.21, 0.24])
    finger = (_seam(cu * 6, 0.05) * 0.25)[..., None]  # the fine contact fingers of each cell
    img = img * (1 - finger) + finger * np.array([0.30, 0.31, 0.34])
    hinge = _seam(v * panels, 0.010 * panels)[..., None]
    img = img * (1 - hinge) + hinge * np.array([0.56, 0.56, 0.54])
    bus = _seam(u * buses + 0.5, 0.010 * buses)[..., None]
    img = img * (1 - bus) + bus * np.array([0.62, 0.60, 0.54])
    return np.round(np.clip(img, 0, 1) * 255).astype(np.uint8)


def _kapton(n: int, seed: int, panels: int = 4) -> np.ndarray:
    """The back of a blanket: copper-gold Kapton, crinkled (bright and dark creases), each panel between
    two folds a tone of its own (the film catches the light at a slightly different angle), dark folds."""
    crinkle = _fbm(n, 32, seed, 3)
    crease = np.abs(_fbm(n, 20, seed + 5, 2) - 0.5)
    u, v = _grid_coords(n)
    fold = _seam(v * panels, 0.02 * panels)
    spar = _seam(u * 2 + 0.5, 0.02 * 2)  # the bus strips behind the cells show as darker bands
    ip = np.floor(v * panels).astype(int)
    tone = 0.86 + 0.18 * _hash(ip, np.floor(u * 2 + 0.5).astype(int) % 2, seed + 3)
    shade = tone * (0.84 + 0.24 * crinkle - 0.14 * np.clip(0.03 - crease, 0, 1) / 0.03) * (1 - 0.4 * fold) * (1 - 0.25 * spar)
    return _rgb((0.74, 0.50, 0.24), shade)


def _radiator(n: int) -> tuple[np.ndarray, np.ndarray]:
    """White radiator panel: flow-tube ribs every 5 cm along v, a panel edge band."""
    u, v = _grid_coords(n)
    rib = _seam(u * 20, 0.12)
    edge = _seam(v, 0.02)
    shade = (0.97 + 0.03 * _fbm(n, 4, 23)) * (1 - 0.08 * rib) * (1 - 0.3 * edge)
    return _rgb((0.88, 0.88, 0.88), shade), rib


def _facets(n: int, cells: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Voronoi facets that tile: ``cells`` jittered sites each way. Returns (facet id (int), the pixel's
    offset from its site (2, n, n) in tile units, and the distance to the nearest facet border, tile units
    (half the gap between the nearest and second-nearest site distances, a good estimate at small gaps))."""
    u, v = _grid_coords(n)
    gu, gv = u * cells, v * cells
    iu, iv = np.floor(gu).astype(int), np.floor(gv).astype(int)
    d1 = np.full(u.shape, np.inf)
    d2 = np.full(u.shape, np.inf)
    best = np.zeros(u.shape, int)
    off = np.zeros((2,) + u.shape)
    for du in (-1, 0, 1):
        for dv in (-1, 0, 1):
            cu, cv = (iu + du) % cells, (iv + dv) % cells  # the site's cell, wrapped: the image tiles
            su = iu + du + 0.1 + 0.8 * _hash(cu, cv, seed)
            sv = iv + dv + 0.1 + 0.8 * _hash(cu, cv, seed + 1)
            ou, ov = gu - su, gv - sv
            d = np.sqrt(ou * ou + ov * ov)
            nearer = d < d1
            d2 = np.where(nearer, d1, np.minimum(d2, d))
            d1 = np.where(nearer, d, d1)
            best = np.where(nearer, cu * cells + cv, best)
            off[0] = np.where(nearer, ou, off[0])
            off[1] = np.where(nearer, ov, off[1])
    return best, off / cells, (d2 - d1) / (2 * cells)


def _gold(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Crinkled gold foil (MLI): flat facets a hand wide, each turned its own way so it mirrors more or
    less light (bright pale gold to deep amber) and shaded across as a tilted mirror is, smaller facets
    breaking up the big ones, the creases between them only a step in shade. Photographs of foil show
    facets, not a grain: a smooth noise here read as cork."""
    big, off, edge = _facets(n, 6, 31)
    small, off_s, _ = _facets(n, 14, 37)
    tone = _hash(big, np.full_like(big, 3), 31)
    gu = _hash(big, np.full_like(big, 5), 31) - 0.5
    gv = _hash(big, np.full_like(big, 7), 31) - 0.5
    tilt = (gu * off[0] + gv * off[1]) * 9  # a facet's shade changes across it: a tilted mirror
    su = _hash(small, np.full_like(small, 5), 37) - 0.5
    sv = _hash(small, np.full_like(small, 7), 37) - 0.5
    fine = 0.5 * (_hash(small, np.full_like(small, 9), 37) - 0.5) + (su * off_s[0] + sv * off_s[1]) * 12
    crease = np.clip(1.0 - edge / 0.003, 0.0, 1.0)
    bright = np.clip(0.4 + 0.5 * tone + 0.7 * tilt + 0.25 * fine, 0.0, 1.0)
    deep, pale = np.array([0.86, 0.47, 0.09]), np.array([1.0, 0.80, 0.36])
    img = deep + (pale - deep) * bright[..., None]
    img *= ((0.68 + 0.36 * bright) * (1 - 0.15 * crease))[..., None]
    height = 0.6 * (tone + tilt) + 0.3 * fine - 0.2 * crease
    return np.round(np.clip(img, 0, 1) * 255).astype(np.uint8), height


def _plain(n: int, base: tuple[float, float, float], seed: int, amount: float, streak: bool = False) -> np.ndarray:
    if streak:  # brushed metal: noise stretched along u
        noise = _value_noise(n, 4, seed) * 0.5 + 0.5 * np.tile(_hash(np.arange(n), np.zeros(n, int), seed)[:, None], (1, n)).T
    else:
        noise = _fbm(n, 4, seed)
    return _rgb(base, 1 - amount / 2 + amount * noise)


def _panel_lines(n: int, base: tuple[float, float, float], every: int, seed: int) -> np.ndarray:
    u, v = _grid_coords(n)
    line = np.maximum(_seam(u * every, 0.02), _seam(v * every, 0.02))
    return _rgb(base, (0.98 + 0.03 * _fbm(n, 4, seed)) * (1 - 0.25 * line))


def _make(name: str) -> np.ndarray:
    n = SIZES_PX[name]
    if name in ("mmod", "mmod_n"):
        albedo, height = _mmod(n)
        return albedo if name == "mmod" else _normal_from_height(height, 2.0)
    if name == "ros_blanket":
        return _quilt(n, (0.82, 0.82, 0.79), 41, 2)[0]
    if name == "green":
        return _quilt(n, (0.55, 0.57, 0.52), 43, 2)[0]  # sage: lighter and greyer than olive
    if name == "beam_fabric":
        return _quilt(n, (0.86, 0.85, 0.81), 47, 1)[0]
    if name == "quilt_n":
        return _normal_from_height(_quilt(n, (1, 1, 1), 41, 2)[1], 3.0)
    if name == "array":
        # deep blue-violet (red above green): the anti-reflection coating's colour, which is all a cell
        # shows where its glass mirrors black space (a wing seen from above); linear ~0.017, 0.013, 0.084
        # (a few per cent in the blue-violet, as a coated cell); a wing from above at 21.5 s reads ~31, 28, 60
        return _array(n, (0.13, 0.115, 0.29), 16, 53)
    if name == "irosa":
        return _array(n, (0.07, 0.062, 0.15), 32, 59, panels=8, buses=4)
    if name == "array_back":
        return _kapton(n, 61)
    if name in ("radiator", "radiator_n"):
        albedo, height = _radiator(n)
        return albedo if name == "radiator" else _normal_from_height(height, 2.0)
    if name in ("gold", "gold_n"):
        albedo, height = _gold(n)
        return albedo if name == "gold" else _normal_from_height(height, 6.0)
    if name == "dragon_white":
        return _panel_lines(n, (0.90, 0.90, 0.89), 2, 67)
    if name == "metal":
        return _plain(n, (0.70, 0.70, 0.72), 71, 0.15, streak=True)
    if name == "truss":
        return _plain(n, (0.72, 0.72, 0.74), 73, 0.2)
    if name == "trunk":
        return _array(n, (0.09, 0.09, 0.11), 4, 79, panels=1, buses=1)
    if name == "dark":
        return _plain(n, (0.12, 0.12, 0.13), 79, 0.2)
    if name == "heat_shield":
        return _plain(n, (0.16, 0.14, 0.13), 83, 0.4)
    if name == "glass":
        return _plain(n, (0.10, 0.14, 0.18), 89, 0.2)
    if name == "handrail":
        return _plain(n, (0.86, 0.64, 0.16), 97, 0.1)
    raise KeyError(name)


@cache
def texture_image(name: str) -> np.ndarray:
    """(H, W, 3) uint8 of the named texture, row 0 = top."""
    img = _make(name)
    img.setflags(write=False)
    return img


def texture_names() -> list[str]:
    """Every texture a look refers to, sorted."""
    names = {lk.albedo for lk in LOOKS.values() if lk.albedo} | {lk.normal for lk in LOOKS.values() if lk.normal}
    return sorted(names)
