"""The pyvista world of one record: station parts, Earth, its limb, stars, the Sun and its shadows.

Shared by the video renderer (``issvis.pictures.video``) and the interactive viewer. Meshes are built
once; ``set_time`` only changes one ``vtkMatrix4x4`` per part.

Draw calls: parts that move together (a rigid group: the whole station while it is docked, each side
after a separation) are drawn as one actor per material, their meshes merged into the frame of the
group's heaviest part, whose matrix the actor shares. The groups come from the record's separations
(checked against its poses: a group whose parts drift apart is drawn part by part); when the station
splits the next group's actors take over. ``merge=False`` (the viewer) draws one actor per part and
material, as before.

Three renderers share the window (see docs/rendering.md, "Light and shadow"):

- ``far`` (layer 0): Earth, limb, stars and the Sun's disc, with their own camera (a copy of the
  station camera made before every render) and clipping range. Earth is drawn at its true angular
  size but not at its true distance: a sphere of radius R at distance D looks exactly like one of
  radius R/k at D/k from the same eye, so Earth's nearest point is put ``EARTH_NEAR_M`` away.
- ``baker`` (layer 0, drawn first, shows nothing): flat unlit copies of the station meshes, drawn in
  the light's frame (``light_frame``), the Sun turned into it, background 1e6 ("no occluder"), a box that
  sets the map's extent (fitted to what the camera sees, texel-snapped: ``fit_shadow_map``), and VTK's
  shadow-map baker as its only pass.

Depth of field (``quality.depth_of_field_m``): in close-ups the far field is drawn instead into a small
offscreen window of its own, blurred, and shown as the far renderer's background texture.
- ``mask`` (layer 0, between the two; merged stages without SSAA): each rigid group's meshes again,
  black, at the front of the depth range, through the far camera, so that the far field's depth test
  skips Earth's shader wherever the station will be drawn (the far field does not clear the frame).
- the plotter's own renderer (layer 1): the station, through a camera pass over [shadow-map pass
  using that baker, overlay pass] (the overlay pass draws the text cards).

Light: the Sun as a hard directional key (the only VTK light, the only one that casts shadows), and
the light of the sunlit Earth below, computed each frame from the ground under the station (its
albedo, its cloud, the Sun's height there) and given to the station's own fragment shader as
order-2 spherical harmonics (``issvis.pictures.earth.ground_light``). The shader lights in linear
light and writes it in the display's encoding (``DISPLAY_GAMMA``, 2.2: what the video is shown
through), so a face that gets a tenth of the sunlight shows a tenth of the light on the screen (sqrt,
gamma 2, showed 0.08 of it); textures are still decoded with a square (one ``pow`` a fragment, not two). Array cells and windows are glass: a Fresnel reflection of the ground,
the limb and black space, and a sharp glint of the Sun that breaks up panel by panel. Textured looks with a
normal map carry their height in the texture's alpha, shown as relief where the Sun grazes (``relief_alpha``).
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

import numpy as np

from ..core.frames import EARTH_RADIUS_M, basis_with_z, limb_dip_rad, quat_to_matrix, transform_matrix
from ..record.scene_of import orbit_of
from ..scene.render_settings import RenderSettings
from .earth import (
    EARTH_FRAGMENT_DECL,
    EARTH_FRAGMENT_IMPL,
    EARTH_GAMMA,
    cap_samples,
    earth_image,
    earth_texture_image,
    ground_albedo,
    ground_light,
    ground_mirror,
    limb_colours,
    sh_irradiance,
)
from .plumes import JetPlumes, has_jets
from .shots import sun_colour_rgb, sun_direction

if TYPE_CHECKING:
    from ..record.record import Record
    from ..station.assets import Material, VisualMesh

EARTH_NEAR_M = 6000.0  # scaled distance from the camera to the nearest point of Earth, m
ATMOSPHERE_M = 90_000.0  # visible thickness of the limb, m (true scale)
EARTH_ROTATION_RAD_S = 7.292115e-5
SHADOW_BACKGROUND = 1e6  # depth the baker writes where nothing occludes the Sun
# The station's mask in the far field (see Stage._build_masks): its triangles put at this normalised
# depth (near plane -1, far +1), in front of anything the far field draws, so that Earth's shader does
# not run on the pixels the station covers.
MASK_NDC_Z = -0.9999
# The baker's viewport: a small square (see Stage._square_baker_viewport), px.
SHADOW_VIEWPORT_PX = 16
# The shadow map is re-baked when a caster's box corner, or the Sun's turn times the station's depth
# along the Sun, has moved this many map texels since the last bake. Merged casters bake in a few ms, so
# the map follows the Sun in small steps (an edge moves a tenth of a texel at a time, no visible jumps).
SHADOW_REBAKE_TEXELS = 0.25
# The map is fitted to what the camera sees (``fit_shadow_map``): the light's footprint of the station's
# mesh boxes inside the view (the view's pyramid clipped SHADOW_FIT_FAR times the focal distance out),
# padded, its side one of a ladder of sizes (a texel keeps its size while the view's footprint fits), its
# centre a whole number of texels from the part the camera looks at, along the map's own axes: the texel
# grid moves with the subject in whole texels, so a re-bake does not move the shadow edges on it. Its
# depth spans every caster, so whatever lies between the view and the Sun still shadows it.
SHADOW_SIZE_STEP = 1.2  # ratio between the map sizes of the ladder
SHADOW_SIZE_MIN_M = 4.0  # the smallest map side, m (2.6 mm texels at 1536 px)
SHADOW_PAD_TEXELS = 3.0  # margin between the casters and the map's box
SHADOW_PAD_M = 0.25  # and in metres: the look-up's normal offset and its widest taps
SHADOW_FIT_FAR = 1.0  # the fit's far distance, as a multiple of the distance to the focal point (past the
# subject the pixels are coarser and what lies outside the map is lit: measured 24.8 m maps at 7 s against
# 35.7 m with 1.5 and 61.6 m with 2.5; nothing in the opening close-up lost a shadow)
# A view whose whole depth fits a map of fine enough texels gets one: the fit then reaches out to
# SHADOW_FIT_FAR_MAX times the focal distance (everything behind the subject keeps its shadows, as in the
# wides, where a map to the focal distance left the far half of the station lit), as long as a texel stays
# within SHADOW_TEXEL_PIXELS pixels at the focal distance; close-ups keep SHADOW_FIT_FAR (``shadow_fit_far_m``)
SHADOW_FIT_FAR_MAX = 4.0
SHADOW_TEXEL_PIXELS = 1.5
# The baker's casters are drawn in the light's frame (``light_frame``: the Sun along +x of the baker's
# world), shrunk by this factor in their meshes and grown back in their vertex shader: VTK fits its light
# camera to the world-axis box around all of the baker's actors, so they must not count there (the
# box proxy alone sets the map), and in the light's frame that box is the light's own.
SHADOW_CASTER_SHRINK = 2.0**-16

# VTK 9.7's shadow lookup is an exponential shadow map with a fixed constant (11 over the light's whole
# depth range): an occluder a few metres in front of a receiver only dims it by exp(-11 * gap / range),
# so with a low Sun, when the range spans the station's length (~130 m), shadows cast from 5 m away
# came out 60 % lit. The station's shaders replace it by a depth test in metres: the occluder's depth
# is read back from the map (it holds exp(11 x depth)), a point is shadowed once it lies SHADOW_BIAS_M
# behind the occluder (over a SHADOW_SOFTNESS_M ramp), tested at taps around it and blended by a cubic
# B-spline (edges follow a smooth curve, not the texels' staircase), the edge then narrowed to the
# penumbra the Sun's disc casts (see _SHADOW_FACTOR), looked up from a point SHADOW_NORMAL_OFFSET_M out
# along its normal (surfaces that graze the light do not shadow themselves).
SHADOW_BIAS_M = 0.04
SHADOW_SOFTNESS_M = 0.05
SHADOW_NORMAL_OFFSET_M = 0.08
SUN_DISC_RAD = 0.0093  # the Sun's apparent diameter (0.53 deg): an edge's penumbra is this times the gap
# The narrowest and the widest shadow edges drawn, in texels of the map. The look-up's cubic B-spline over
# 4 x 4 texels makes a step edge a ramp 1.5 texels wide; it is sharpened to the penumbra, by at most 2x
# (the curve the ramp's middle follows through the texels' staircase still wanders +-0.3-0.4 texel about
# the true edge, measured on straight edges of slope 0.1-0.4 in numpy: a sharper edge would draw that
# wander crisply), and never widened (the taps reach 2 texels: a wider ramp would lighten whole shadows).
# A penumbra wider than 1.5 texels (gaps over 2.6 m under the opening close-up's 1.6 cm texels) is drawn
# 1.5 texels wide: the taps spread further apart to widen it cost the whole clip 6 % more (12 single
# look-ups instead of four gathers).
SHADOW_MIN_RAMP_TEXELS = 0.75
SHADOW_MAX_RAMP_TEXELS = 1.5
_VTK_SHADOW_CALL = "calcShadow(vertexVC, "
_VTK_SHADOW_FACTOR = "expFactor = depthCExpBlured * depthCExpActual;"
# the look-up point into the baker's (light-aligned) world: issvisLightVC, view -> view through that world
_SHADOW_CALL = ("calcShadow((vertexVC + vec4(normalize(normalVCVSOutput) * "
                f"{SHADOW_NORMAL_OFFSET_M:.4f}, 0.0)) * issvisLightVC, ")
_SHADOW_FACTOR = f"""
#define ISSVIS_SHADOWS 1
      {{
        // percentage-closer filtering: the depth test at the 4 x 4 texels round the point, weighted by a cubic
        // B-spline of where the point falls between their centres, then sharpened to the penumbra. A step
        // edge in the map comes out of the B-spline as a ramp 1.5 texels wide whose middle follows a smooth
        // curve through the texels' staircase (bilinear weights over 2 x 2 taps kept the staircase: edges
        // stepped 5-10 px at a time in the opening close-up). The ramp is then narrowed to the penumbra the
        // Sun's disc casts, SUN_DISC_RAD x the gap to the occluder (estimated from VTK's own fetch at the
        // point), within SHADOW_MIN_RAMP_TEXELS .. SHADOW_MAX_RAMP_TEXELS.
        float issvisRange = sFarZ - sNearZ;
        vec2 issvisRes = vec2(textureSize(shadowMap, 0));
        float issvisTexelM = 1.0 / (issvisRes.x * length(vec3(shadowTransform[0][0], shadowTransform[1][0],
                                                               shadowTransform[2][0])));
        float issvisGap0 = (ldepth - log(max(depthCExpBlured, 1e-30)) / depthC) * issvisRange;
        float issvisPen = {SUN_DISC_RAD:.5f} * issvisGap0 / issvisTexelM;  // the penumbra, texels
        vec2 issvisF = projected * issvisRes - 0.5;  // texels, from the centre of texel 0
        vec2 issvisW = fract(issvisF);
        vec2 issvisV = 1.0 - issvisW;
        vec2 issvisW3 = issvisW * issvisW * issvisW;
        vec2 issvisB0 = issvisV * issvisV * issvisV / 6.0;
        vec2 issvisB1 = 0.5 * issvisW3 - issvisW * issvisW + 2.0 / 3.0;
        vec2 issvisB3 = issvisW3 / 6.0;
        vec4 issvisBx = vec4(issvisB0.x, issvisB1.x, 1.0 - issvisB0.x - issvisB1.x - issvisB3.x, issvisB3.x);
        vec4 issvisBy = vec4(issvisB0.y, issvisB1.y, 1.0 - issvisB0.y - issvisB1.y - issvisB3.y, issvisB3.y);
        // the test at each tap, linear in the map's value v = exp(depthC x occluder depth) about the value
        // at the test's threshold (no log per tap: a fifth of the station's shadow cost; log(x) ~ x - 1 over
        // the ramp, off by at most 3 % of it where the light's depth range is as short as 10 m): lit = a v + c
        float issvisK = issvisRange / ({SHADOW_SOFTNESS_M:.4f} * depthC);
        float issvisA = exp(-depthC * (ldepth - {SHADOW_BIAS_M:.4f} / issvisRange)) * issvisK;
        float issvisC = 1.0 - issvisK;
        // the 4 x 4 texels from texel floor(F) - 1, in 2 x 2 blocks (x0, y1), (x1, y1), (x1, y0), (x0, y0)
        vec4 issvisT[4];
#ifdef GL_ARB_texture_gather
        // four gathers, each at the corner its block shares (16 single look-ups cost the clip 6 %% more)
        vec2 issvisP = floor(issvisF) / issvisRes;
        vec2 issvisD = 2.0 / issvisRes;
        issvisT[0] = textureGather(shadowMap, issvisP);
        issvisT[1] = textureGather(shadowMap, issvisP + vec2(issvisD.x, 0.0));
        issvisT[2] = textureGather(shadowMap, issvisP + vec2(0.0, issvisD.y));
        issvisT[3] = textureGather(shadowMap, issvisP + issvisD);
#else
        ivec2 issvisTop = ivec2(issvisRes) - 1;
        ivec2 issvisI = ivec2(floor(issvisF)) - 1;
        for (int k = 0; k < 4; k++) {{
          ivec2 c = issvisI + 2 * ivec2(k & 1, k >> 1);
          ivec2 lo = clamp(c, ivec2(0), issvisTop), hi = clamp(c + 1, ivec2(0), issvisTop);
          issvisT[k] = vec4(texelFetch(shadowMap, ivec2(lo.x, hi.y), 0).r, texelFetch(shadowMap, hi, 0).r,
                            texelFetch(shadowMap, ivec2(hi.x, lo.y), 0).r, texelFetch(shadowMap, lo, 0).r);
        }}
#endif
        float issvisLit = dot(clamp(issvisT[0] * issvisA + issvisC, 0.0, 1.0),
                              vec4(issvisBx.x * issvisBy.y, issvisBx.y * issvisBy.y, issvisBx.y * issvisBy.x, issvisBx.x * issvisBy.x))
                        + dot(clamp(issvisT[1] * issvisA + issvisC, 0.0, 1.0),
                              vec4(issvisBx.z * issvisBy.y, issvisBx.w * issvisBy.y, issvisBx.w * issvisBy.x, issvisBx.z * issvisBy.x))
                        + dot(clamp(issvisT[2] * issvisA + issvisC, 0.0, 1.0),
                              vec4(issvisBx.x * issvisBy.w, issvisBx.y * issvisBy.w, issvisBx.y * issvisBy.z, issvisBx.x * issvisBy.z))
                        + dot(clamp(issvisT[3] * issvisA + issvisC, 0.0, 1.0),
                              vec4(issvisBx.z * issvisBy.w, issvisBx.w * issvisBy.w, issvisBx.w * issvisBy.z, issvisBx.z * issvisBy.z));
        float issvisRamp = clamp(issvisPen, {SHADOW_MIN_RAMP_TEXELS:.2f}, {SHADOW_MAX_RAMP_TEXELS:.2f});  // the edge's width, texels
        expFactor = clamp(0.5 + (issvisLit - 0.5) * 1.5 / issvisRamp, 0.0, 1.0);
      }}"""

# Depth of field (``quality.depth_of_field_m``, the lens's aperture): a lens focused on the subject, s away,
# blurs what lies at infinity (Earth, its limb, the stars) into a disc of the aperture's size seen from s
# away, H A / (2 s tan(fov / 2)) pixels across. Past DOF_MIN_PX the far field is drawn into a window
# DOF_SCALE times smaller (its shader then runs on a sixteenth of the pixels), blurred there and
# stretched behind the station; under it no Earth is drawn (no dark halo can bleed from the station).
DOF_MIN_PX = 2.0  # blur diameters under this are drawn sharp, px of the frame
DOF_SCALE = 4  # the far field's window is this many times smaller each way

# --- the station's surfaces ----------------------------------------------------------------------
# Looks drawn as glass over a dark base: solar cells behind cover glass, the Cupola's windows.
GLASS_LOOKS = frozenset({"array", "ros_array", "irosa", "trunk", "glass"})
# Textures are sampled without anisotropic filtering: VTK's default 4x costs half a frame on llvmpipe,
# and even 2x on the array cells alone cost 45 ms of a 120 ms frame where the arrays fill it (30 s),
# for hinge lines a little crisper at grazing angles.
GLASS_F0 = 0.04  # normal-incidence reflectance of cover glass (n = 1.5)
# The Sun in glass: a sharp lobe (the glint) and a broad one (the sheen of slightly uneven cells),
# normalised Blinn-Phong powers and their shares of the reflected sunlight.
GLINT_POWER, GLINT_SHARE = 4000.0, 0.7
SHEEN_POWER, SHEEN_SHARE = 150.0, 0.3
CELL_TILT_RAD = 0.006  # how far a cell's glass may tilt from its blanket's plane (glints sparkle)
# ... where a cell is drawn over CELL_SPARKLE_PX[1] pixels, fading out to none at CELL_SPARKLE_PX[0]: smaller
# cells' sparkle aliased into a grain over the glint that crawled from frame to frame (the leaving shot's
# near wing, 3 px cells); the mean of the tilts widens the glint by under 3 %, left out
CELL_SPARKLE_PX = (3.0, 8.0)
# A blanket is folded flat from an accordion: each panel between two hinges (a strip across the whole
# blanket, 0.4 m along it) lies up to 1.7 deg (0.03 rad) each way off the blanket's plane, turned about its
# hinge line, so a glint breaks up into bright and dark bands across the wing, panel by panel, as in
# photographs, instead of one smooth hot spot (or a checkerboard, when each panel also split at the buses).
PANEL_TILT_RAD = 0.03
LIMB_BAND_COS = 0.012  # angular half-width (as a cosine) of the bright limb band a mirror shows
# Light the sunlit station throws on itself (white hulls, radiators and arrays around any surface): a
# uniform share of the Sun on every face, so that a shadow on a hull that faces away from Earth is deep
# but not black. About a tenth of the sky around a surface is sunlit station of albedo ~0.5.
STATION_BOUNCE = 0.03
# The frame's encoding of linear light: the power a display decodes video with (sRGB and BT.709
# displays, ~2.2). The station's shader wrote sqrt (gamma 2) before: a display then showed a shadow that
# gets a tenth of the sunlight at 0.316^2.2 = 0.08 of it, a white side in Earth's light at ~65/255 beside
# ~205 in sunlight instead of ~75. Textures are still decoded with a square (their colours were chosen
# in gamma 2; a second pow a fragment measured up to 1.09x the Stage's frame): a sunlit colour shows as
# its texture's to the power 2 / 2.2 (0.13 -> 0.16, 0.85 -> 0.86). Earth's shader writes with the same
# power (one constant, so the same light gives the same pixel on both).
DISPLAY_GAMMA = EARTH_GAMMA
LIMB_HAZE_RGB = np.array([0.16, 0.27, 0.52])  # linear radiance of the sunlit limb's haze (Earth's shader)
FILL_UNIFORMS = [f"issvisFill{k}" for k in range(9)]


# Relief in grazing light. The stage does not normal-map (no tangents on llvmpipe's budget); instead each
# textured look with a normal map carries its height field, integrated back from that map, in its
# texture's alpha (``relief_alpha``; 0.5 = flat). The Sun's cosine is moved by RELIEF_GAIN x the relief x
# the sine of the Sun's angle from the face's normal, as a bump's slope moves it: nothing under a Sun
# overhead, the quilting's puffs and stitches, the blankets' pillows and seams, strong where it grazes.
RELIEF_GAIN = 0.12


def _station_fragment(glass: bool, textured: bool) -> str:
    """GLSL that replaces VTK's ``//VTK::TCoord::Impl`` in the station's fragment shader: it runs after
    VTK's own lighting (which it overrides) and writes the fragment's colour (see the module docstring)."""
    tex = "iTex.rgb" if textured else "vec3(1.0)"
    fill = " + ".join(f"{u} * {p}" for u, p in zip(FILL_UNIFORMS, (
        "1.0", "iN.y", "iN.z", "iN.x", "iN.x * iN.y", "iN.y * iN.z", "(3.0 * iN.z * iN.z - 1.0)", "iN.x * iN.z",
        "(iN.x * iN.x - iN.y * iN.y)")))
    relief = f"""  if (iNL > 0.0) {{  // the relief (alpha) in grazing light
    iNL = max(iNL + {RELIEF_GAIN} * (2.0 * iTex.a - 1.0) * sqrt(1.0 - iNL * iNL), 0.0);
  }}"""
    code = f"""
  // issvis: the station's light, in linear light, written in the display's encoding (DISPLAY_GAMMA)
  vec3 iN = normalVCVSOutput;
  vec3 iV = normalize(-vertexVC.xyz);
  vec3 iL = -lightDirectionVC0;
{"  vec4 iTex = texture(actortexture, tcoordVCVSOutput);" if textured else ""}
  vec3 iAlb = diffuseColorUniform * {tex};
  iAlb *= iAlb;
#ifdef ISSVIS_SHADOWS
  float iShadow = min(factor0.r, 1.0);  // the shadow pass's look-up (8 outside the map; absent with SSAA)
#else
  float iShadow = 1.0;
#endif
  float iNL = max(dot(iN, iL), 0.0);
{relief if textured and not glass else ""}
  vec3 iSun = lightColor0 * (iNL * iShadow);
  vec3 iFill = max({fill}, vec3(0.0));
  vec3 iLin = iAlb * (diffuseIntensity * (iSun + iFill) + vec3(ambientIntensity * ambientIntensity));
"""
    if not glass:
        code += """  vec3 iH = normalize(iL + iV);
  float iNH = max(dot(iN, iH), 0.0);
  iLin += specularIntensity * specularColorUniform * lightColor0 * (iShadow * step(0.0, dot(iN, iL)) *
          exp2(4.0 * specularPowerUniform * log2(max(iNH, 1e-6))));
"""
    else:
        tilt = ""
        if textured:
            tilt = f"""  vec2 iCell = floor(tcoordVCVSOutput * 16.0);
  vec3 iQ = fract(vec3(iCell.xyx) * vec3(0.1031, 0.1030, 0.0973));  // arithmetic hash (no sin)
  iQ += dot(iQ, iQ.yzx + 33.33);
  vec2 iCellPx = fwidth(tcoordVCVSOutput * 16.0);  // cells a pixel (CELL_SPARKLE_PX)
  vec2 iJit = (fract((iQ.xx + iQ.yz) * iQ.zy) - 0.5)
              * smoothstep({CELL_SPARKLE_PX[0]:.3f}, {CELL_SPARKLE_PX[1]:.3f}, 1.0 / max(max(iCellPx.x, iCellPx.y), 1e-6));
  // the panel between two hinges (the image's layout: four a tile along v), a strip across the whole blanket,
  // folded about its hinge line: it tilts along v only (v's direction on the surface from the screen
  // derivatives of position and texture coordinate)
  float iPan = floor(tcoordVCVSOutput.y * 4.0);
  vec3 iP = fract(vec3(iPan, iPan + 7.0, iPan * 1.7) * vec3(0.1031, 0.1030, 0.0973) + 0.37);
  iP += dot(iP, iP.yzx + 33.33);
  float iFold = {2 * PANEL_TILT_RAD:.5f} * (fract((iP.x + iP.y) * iP.z) - 0.5);
  vec3 iT = normalize(cross(iN, abs(iN.z) < 0.9 ? vec3(0.0, 0.0, 1.0) : vec3(1.0, 0.0, 0.0)));
  vec3 iDp1 = dFdx(vertexVC.xyz), iDp2 = dFdy(vertexVC.xyz);
  vec2 iDt1 = dFdx(tcoordVCVSOutput), iDt2 = dFdy(tcoordVCVSOutput);
  vec3 iAlongV = cross(iDp2, iN) * iDt1.y + cross(iN, iDp1) * iDt2.y;
  float iAlongLen = length(iAlongV);
  iAlongV = iAlongLen > 1e-20 ? iAlongV / iAlongLen : iT;
  iN = normalize(iN + {2 * CELL_TILT_RAD:.5f} * (iJit.x * iT + iJit.y * cross(iN, iT)) + iFold * iAlongV);
"""
        code += tilt + f"""  // Fresnel reflection of what a mirror here sees: the ground, haze towards the limb, black space
  float iNV = max(dot(iN, iV), 0.0);
  float iX = 1.0 - iNV;
  float iX2 = iX * iX;
  float iF = {GLASS_F0} + {1 - GLASS_F0} * iX2 * iX2 * iX;
  vec3 iR = reflect(-iV, iN);
  float iC = dot(iR, issvisNadir);
  vec3 iEnv = vec3(0.0);
  if (iC > issvisCapCos) {{
    vec3 iD = iR - issvisNadir;
    iEnv = max(issvisGround + vec3(dot(issvisGroundR, iD), dot(issvisGroundG, iD), dot(issvisGroundB, iD)), vec3(0.0));
    iEnv = mix(iEnv, issvisLimb, 0.7 * smoothstep(issvisCapCos + 0.25, issvisCapCos, iC));
  }}
  float iBand = (iC - issvisCapCos) / {LIMB_BAND_COS};
  iEnv += issvisLimb * exp(-iBand * iBand);
  // the Sun in the glass: a sharp glint and a broad sheen (normalised lobes, Fresnel at the half-vector)
  vec3 iH = normalize(iL + iV);
  float iNH = max(dot(iN, iH), 0.0);
  float iLNH = log2(max(iNH, 1e-6));
  float iXH = 1.0 - max(dot(iV, iH), 0.0);
  float iXH2 = iXH * iXH;
  float iFH = {GLASS_F0} + {1 - GLASS_F0} * iXH2 * iXH2 * iXH;
  float iLobe = {(GLINT_POWER + 8) / (8 * math.pi) * GLINT_SHARE:.4f} * exp2({GLINT_POWER:.1f} * iLNH)
              + {(SHEEN_POWER + 8) / (8 * math.pi) * SHEEN_SHARE:.4f} * exp2({SHEEN_POWER:.1f} * iLNH);
  iLin += iF * iEnv + lightColor0 * (iFH * iLobe * iShadow * step(0.0, dot(iN, iL)));
"""
    code += f"""  fragOutput0 = vec4(pow(max(iLin, vec3(0.0)), vec3({1 / DISPLAY_GAMMA:.5f})), opacity);
"""
    return code


TINTS = {"departing": np.array([1.0, 0.45, 0.15]), "remaining": np.array([0.25, 0.55, 1.0])}

__all__ = ["Stage", "earth_image", "earth_orientation", "phong_look", "rigid_groups", "TINTS"]


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


def _merged(pieces: list[tuple[int, Any, np.ndarray]], flat: bool = False) -> Any:
    """One PolyData of several parts' meshes: ``pieces`` [(part index, VisualMesh, (4, 4) part frame ->
    merged frame)]. Cell data ``part`` names each triangle's part (picking); ``flat``: points and
    triangles only (the shadow baker's copies)."""
    import pyvista as pv

    points, normals, uvs, faces, owner = [], [], [], [], []
    base = 0
    for index, vm, m in pieces:
        mesh = _flat_copy(vm) if flat else _polydata(vm)
        pts = np.asarray(mesh.points, float)
        points.append(pts @ m[:3, :3].T + m[:3, 3])
        tri = mesh.faces.reshape(-1, 4)[:, 1:]
        faces.append(tri + base)
        owner.append(np.full(len(tri), index, np.int32))
        if not flat:
            normals.append(np.asarray(mesh.point_data["Normals"], float) @ m[:3, :3].T)
            tc = mesh.active_texture_coordinates
            uvs.append(np.asarray(tc, float) if tc is not None else np.zeros((len(pts), 2)))
        base += len(pts)
    tri = np.concatenate(faces)
    out = pv.PolyData(np.concatenate(points), np.hstack([np.full((len(tri), 1), 3), tri]).ravel())
    out.cell_data["part"] = np.concatenate(owner)
    if not flat:
        out.point_data["Normals"] = np.concatenate(normals)
        out.GetPointData().SetNormals(out.GetPointData().GetArray("Normals"))
        if any(vm.uv is not None for _, vm, _ in pieces):
            out.active_texture_coordinates = np.concatenate(uvs)
    return out


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


@lru_cache(maxsize=32)
def _relief_of(normal_bytes: bytes, shape: tuple[int, int, int]) -> np.ndarray:
    normal = np.frombuffer(normal_bytes, np.uint8).reshape(shape)
    n = normal[..., :3].astype(float) / 127.5 - 1.0
    nz = np.maximum(n[..., 2], 0.2)
    gx, gy = -n[..., 0] / nz, -n[..., 1] / nz  # the height's slopes along +u (columns) and +v (up the rows)
    rows, cols = normal.shape[:2]
    # least-squares height with those central differences (the map tiles: solve in Fourier space)
    dx = 1j * np.sin(2 * np.pi * np.fft.fftfreq(cols))[None, :]  # (h[c+1] - h[c-1]) / 2
    dy = -1j * np.sin(2 * np.pi * np.fft.fftfreq(rows))[:, None]  # (h[r-1] - h[r+1]) / 2: +v is up
    den = np.abs(dx) ** 2 + np.abs(dy) ** 2
    den[den < 1e-12] = np.inf
    h = np.real(np.fft.ifft2((np.conj(dx) * np.fft.fft2(gx) + np.conj(dy) * np.fft.fft2(gy)) / den))
    h -= np.median(h)
    scale = max(float(np.percentile(np.abs(h), 98)), 1e-9)
    return np.round(127.5 + 127.5 * np.clip(h / scale, -1.0, 1.0)).astype(np.uint8)


def relief_alpha(normal: np.ndarray | None, size_px: int) -> np.ndarray:
    """(size, size) uint8: a look's height field (integrated back from its tangent-space normal map, scaled
    to +-1 at its 98th percentile, 128 = flat) for the texture's alpha, at the albedo's size; flat without
    a normal map. The station's shader reads it as relief that shows in grazing light (RELIEF_GAIN)."""
    if normal is None:
        return np.full((size_px, size_px), 128, np.uint8)
    a = _relief_of(np.ascontiguousarray(normal[..., :3]).tobytes(), normal[..., :3].shape)
    if a.shape[0] < size_px:  # repeat texels up to the albedo's size (the sizes are powers of two)
        k = size_px // a.shape[0]
        a = np.repeat(np.repeat(a, k, 0), k, 1)
    elif a.shape[0] > size_px:
        a = a[:: a.shape[0] // size_px, :: a.shape[0] // size_px]
    return a


RIGID_TOLERANCE_M = 0.005  # parts of a rigid group stay this close to their pose in the group's frame


def rigid_groups(record: Any) -> list[tuple[float, list[np.ndarray]]]:
    """[(from_t_s, groups)]: the parts that move as one body, epoch by epoch: all parts until the first
    separation, then each side of it (of every separation, in order). ``groups`` are arrays of part
    indices. A group whose parts move apart in the record anyway (more than ``RIGID_TOLERANCE_M`` at
    their boxes' reach) is split into single parts."""
    n = len(record.names)
    names = [str(x) for x in record.names]
    seps = sorted((e for e in record.events if e.get("kind") == "separation" and "child_side" in e),
                  key=lambda e: float(e["t"]))
    epochs: list[tuple[float, list[np.ndarray]]] = [(float(record.t[0]), [np.arange(n)])]
    for e in seps:
        child = np.isin(names, e["child_side"])
        groups = []
        for g in epochs[-1][1]:
            for side in (g[child[g]], g[~child[g]]):
                if len(side):
                    groups.append(side)
        epochs.append((float(e["t"]), groups))
    # the record's own word: a group is rigid if its parts keep their poses relative to its first part
    rot = quat_to_matrix(record.quat)  # (T, B, 3, 3)
    t = np.asarray(record.t, float)
    checked = []
    for k, (t0, groups) in enumerate(epochs):
        t1 = epochs[k + 1][0] if k + 1 < len(epochs) else np.inf
        sel = np.flatnonzero((t >= t0) & (t < t1))
        if k + 1 < len(epochs):  # the sample at the next separation still belongs to this epoch
            sel = np.union1d(sel, np.flatnonzero(t == t1))
        out = []
        for g in groups:
            if len(g) < 2 or len(sel) < 2:
                out.append(g)
                continue
            ref = g[0]
            # every part's offset and axes in the reference part's frame, over the epoch's samples
            rel_pos = np.einsum("tji,tgj->tgi", rot[sel, ref], record.pos[sel][:, g] - record.pos[sel, ref][:, None])
            rel_rot = np.einsum("tji,tgjk->tgik", rot[sel, ref], rot[sel][:, g])
            reach = 60.0  # m: a part's points lie within this of its centre (the arrays' 35 m wings)
            drift = np.abs(rel_pos - rel_pos[:1]).max(axis=(0, 2)) + reach * np.abs(rel_rot - rel_rot[:1]).max(axis=(0, 2, 3))
            if float(drift.max()) <= RIGID_TOLERANCE_M:
                out.append(g)
            else:
                out.extend(np.array([i]) for i in g)
        checked.append((t0, out))
    return checked


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


LIMB_RINGS = np.array([0.0, 0.04, 0.08, 0.13, 0.20, 0.32, 0.55, 1.0])  # radial stations of the limb ring, inner..outer
LIMB_ALPHA = np.array([1.0, 0.95, 0.88, 0.75, 0.55, 0.32, 0.12, 0.0])
LIMB_SEGMENTS = 720


def limb_apron(altitude_m: float, grid_deg: float) -> float:
    """How far inside the true silhouette (a fraction of its radius in the ring's plane) the limb ring
    must start so that no black space shows between it and Earth's polygonal edge: the last facets that
    face the eye end up to one grid step before the silhouette, which from orbit height is an angle of
    r (1 - cos g) / (d cos a) inside it (a: the silhouette's angular radius); 1.5x that, at least 0.2 %.
    With the viewer's 4 deg grid it is 3 % (0.2 % left dashes of black along the limb)."""
    r, d = EARTH_RADIUS_M, EARTH_RADIUS_M + altitude_m
    a = math.asin(r / d)
    sag = 1.5 * r * (1 - math.cos(math.radians(grid_deg))) / (d * math.cos(a))
    return max(1 - math.tan(a - sag) / math.tan(a), 0.002)


def _limb_mesh(apron: float, inner: float, outer: float) -> Any:
    """Annulus in the z = 0 plane, inner..outer radius, with an apron ring of the inner colour from
    ``apron`` to inner (hidden behind Earth but where its polygonal edge falls short); its colours are
    set from the Sun each frame."""
    import pyvista as pv

    n = LIMB_SEGMENTS
    ang = np.linspace(0, 2 * np.pi, n, endpoint=False)
    r = np.concatenate([[apron], inner + LIMB_RINGS * (outer - inner)])
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


def earth_orbit_elements(settings: RenderSettings) -> tuple[float, float, float]:
    """(inclination, argument of latitude at t = 0, right ascension of the node), rad, of the orbit
    that puts the scene's sub-point under the station at t = 0 (Earth's angle 0 then)."""
    e = settings.earth
    inc = math.radians(e.inclination_deg)
    lat, lon = math.radians(e.subpoint_lat_deg), math.radians(e.subpoint_lon_deg)
    s = math.sin(lat) / max(math.sin(inc), 1e-9)
    u0 = math.asin(min(max(s, -1.0), 1.0))
    if not e.ascending:
        u0 = math.pi - u0
    raan = lon - math.atan2(math.sin(u0) * math.cos(inc), math.cos(u0))
    return inc, u0, raan


def earth_orientation(settings: RenderSettings, t_s: float, mean_motion_rad_s: float) -> np.ndarray:
    """(3, 3) rotation taking Earth-fixed axes (z north, x at 0 deg longitude) to LVLH at time t."""
    inc, u0, raan = earth_orbit_elements(settings)
    turn = settings.earth.turns
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


def _sharpen_shadow_lookup(shader_property: Any) -> None:
    """Replace VTK's exponential shadow test in these shaders by a biased depth test in metres
    (see SHADOW_BIAS_M). Applied after VTK's own replacements, where the shadow pass's code is."""
    sp = shader_property
    sp.AddFragmentShaderReplacement(_VTK_SHADOW_CALL, False, _SHADOW_CALL, True)
    sp.AddFragmentShaderReplacement(_VTK_SHADOW_FACTOR, False, _SHADOW_FACTOR, False)
    # (textureGather, GLSL 4.00, for the look-up's taps: VTK writes #version 150; without the extension
    # the look-up reads its texels one by one)
    sp.AddFragmentShaderReplacement("//VTK::System::Dec", False,
                                    "//VTK::System::Dec\n#extension GL_ARB_texture_gather : enable", False)


def _set_matrix(vtk_matrix: Any, m: np.ndarray) -> None:
    vtk_matrix.DeepCopy(np.ascontiguousarray(m, float).ravel())


def _light_axes(sun: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(vx, vup, dir): the axes VTK's shadow baker gives the Sun's map (vtkMath::Perpendiculars of the
    direction the light travels)."""
    import vtk

    d = -np.asarray(sun, float)
    d = d / np.linalg.norm(d)
    vx, vup = [0.0, 0.0, 0.0], [0.0, 0.0, 0.0]
    vtk.vtkMath.Perpendiculars(d.tolist(), vx, vup, 0.0)
    return np.array(vx), np.array(vup), d


def light_frame(sun: np.ndarray) -> np.ndarray:
    """(3, 3) rotation, world -> the baker's world, in which the light travels along +x and the map's own
    axes (VTK's ``vtkMath::Perpendiculars`` of +x: -z across, +y up) are the world's ``_light_axes``."""
    vx, vup, d = _light_axes(sun)
    return np.stack([d, vup, -vx])


class ShadowFit(NamedTuple):
    """A shadow map's extent: ``lo``, ``hi`` (3,) the box, in the baker's world (``frame`` (3, 3), world ->
    baker), whose bounds make VTK fit its map: ``side_m`` across (y and z), every caster in depth (x).
    ``key``: the side and the centre in whole texels from the anchor; equal keys, equal texel grids."""

    frame: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    side_m: float
    key: tuple[float, int, int]


def view_footprint(boxes: np.ndarray, frame: np.ndarray, eye: np.ndarray, forward: np.ndarray, up: np.ndarray,
                   fov_deg: float, aspect: float, far_m: float) -> tuple[np.ndarray, np.ndarray] | None:
    """(lo (2,), hi (2,)) in the map's axes (the baker's y, z): what the light sees of the mesh boxes
    (K, 8, 3) (world corners) inside the view's pyramid (from the eye, ``fov_deg`` vertical, out to
    ``far_m``): the boxes' footprint clipped to the pyramid's. None when no box is in view."""
    f = forward / np.linalg.norm(forward)
    u = up - f * float(up @ f)
    u = u / np.linalg.norm(u)
    r = np.cross(f, u)
    th = math.tan(math.radians(fov_deg) / 2)
    tw = th * aspect
    c = (boxes - eye) @ np.stack([r, u, f]).T  # (K, 8, 3) camera coordinates: right, up, forward
    x, y, z = c[..., 0], c[..., 1], c[..., 2]
    out = ((z < 0).all(-1) | (z > far_m).all(-1) | (x > tw * z).all(-1) | (x < -tw * z).all(-1) |
           (y > th * z).all(-1) | (y < -th * z).all(-1))
    if out.all():
        return None
    seen = boxes[~out].reshape(-1, 3) @ frame[1:].T
    pyramid = np.array([eye] + [eye + far_m * (f + sx * tw * r + sy * th * u) for sx in (-1, 1) for sy in (-1, 1)])
    cone = pyramid @ frame[1:].T
    lo, hi = np.maximum(seen.min(0), cone.min(0)), np.minimum(seen.max(0), cone.max(0))
    if np.any(hi < lo):
        return None
    return lo, hi


def map_side_needed_m(footprint: tuple[np.ndarray, np.ndarray], resolution_px: int) -> float:
    """The side, m, of a map that holds ``footprint`` (lo, hi in the map's axes) with its padding."""
    lo, hi = footprint
    return (float((hi - lo).max()) + 2 * SHADOW_PAD_M) * (1 + 2 * SHADOW_PAD_TEXELS / resolution_px)


def shadow_fit_far_m(boxes: np.ndarray, frame: np.ndarray, eye: np.ndarray, forward: np.ndarray, up: np.ndarray,
                     fov_deg: float, aspect: float, height_px: int, resolution_px: int) -> float:
    """How far from the eye the map's fit reaches for a view looking along ``forward`` (its length: the
    focal distance): ``SHADOW_FIT_FAR_MAX`` times it where a map round everything in view that far keeps
    its texel within ``SHADOW_TEXEL_PIXELS`` pixels (of ``height_px`` over ``fov_deg``) at the focal
    distance, else ``SHADOW_FIT_FAR`` times it (a close-up: a finer map round the subject)."""
    reach = float(np.linalg.norm(forward))
    wide = view_footprint(boxes, frame, eye, forward, up, fov_deg, aspect, SHADOW_FIT_FAR_MAX * reach)
    if wide is not None:
        pixel_m = 2 * reach * math.tan(math.radians(fov_deg) / 2) / max(height_px, 1)
        if map_side_needed_m(wide, resolution_px) <= SHADOW_TEXEL_PIXELS * resolution_px * pixel_m:
            return SHADOW_FIT_FAR_MAX * reach
    return SHADOW_FIT_FAR * reach


def fit_shadow_map(sun: np.ndarray, casters: np.ndarray, footprint: tuple[np.ndarray, np.ndarray] | None,
                   anchor: np.ndarray, resolution_px: int, previous: ShadowFit | None = None) -> ShadowFit:
    """The map's box (``ShadowFit``) around ``footprint`` (``view_footprint``; None: around every caster
    corner (N, 3), world) padded by ``SHADOW_PAD_M`` and ``SHADOW_PAD_TEXELS``, every caster in depth.
    Its side is the previous one while the footprint fits in it (and is not far smaller), otherwise the
    next of a ladder (``SHADOW_SIZE_STEP``); its centre lies a whole number of texels from ``anchor`` (3,)
    along the map's axes, the previous number while the padded footprint still fits: a view that moves
    a little keeps the very same map, one that moves more moves it by whole texels."""
    frame = light_frame(sun)
    q = casters @ frame.T
    lo, hi = footprint if footprint is not None else (q[:, 1:].min(0), q[:, 1:].max(0))
    pad = SHADOW_PAD_M
    need = map_side_needed_m((lo, hi), resolution_px)
    side = previous.side_m if previous is not None else None
    if side is None or need > side or need * SHADOW_SIZE_STEP**2 < side:
        k = math.ceil(math.log(max(need, SHADOW_SIZE_MIN_M) / SHADOW_SIZE_MIN_M) / math.log(SHADOW_SIZE_STEP) - 1e-9)
        side = SHADOW_SIZE_MIN_M * SHADOW_SIZE_STEP ** max(k, 0)
    texel = side / resolution_px
    a = (frame @ anchor)[1:]
    steps = np.round((0.5 * (lo + hi) - a) / texel)
    if previous is not None and previous.side_m == side:
        kept = np.array(previous.key[1:], float)
        centre = a + kept * texel
        if np.all(lo - pad >= centre - side / 2) and np.all(hi + pad <= centre + side / 2):
            steps = kept
    centre = a + steps * texel
    depth = (float(q[:, 0].min()) - 1.0, float(q[:, 0].max()) + 1.0)
    box_lo = np.array([depth[0], *(centre - side / 2)])
    box_hi = np.array([depth[1], *(centre + side / 2)])
    return ShadowFit(frame, box_lo, box_hi, side, (side, int(steps[0]), int(steps[1])))


class Stage:
    """Station parts, Earth, stars and Sun for one record in one pyvista Plotter.

    ``part_actors`` maps each part name to the actors that draw it now (with ``merge``, the actors of
    its rigid group, shared by the group's parts; ``part_at`` names the part of a picked triangle).
    ``set_time(t)`` poses every part at simulated time t (seconds of the record), turns Earth and,
    when the scene asks, the Sun, and calls ``update(t)`` on every object in ``extras`` (the hook
    for things drawn with the station that change in time, such as jet plumes). The far field
    follows whatever camera the plotter has at render time. ``preview`` builds a lighter world
    (coarse meshes, coarser Earth, smaller textures, fewer stars, no shadows). ``shadows`` defaults to
    the scene's ``lighting.shadows`` (off in preview); ``merge`` to ``not preview``; ``depth_of_field``
    (the far field blurred behind a close subject, ``quality.depth_of_field_m``) to an offscreen window's
    frames outside preview.
    """

    def __init__(self, plotter: Any, record: Record, settings: RenderSettings, preview: bool = False,
                 shadows: bool | None = None, merge: bool | None = None,
                 depth_of_field: bool | None = None) -> None:
        import pyvista as pv
        import vtk

        self.plotter = plotter
        self.record = record
        self.settings = settings
        self.preview = preview
        self.extras: list[Extra] = []
        lt = settings.lighting
        self.shadows = (lt.shadows and not preview) if shadows is None else bool(shadows)
        self.merge = (not preview) if merge is None else bool(merge)
        self.altitude_m, self.mean_motion = orbit_of(record)
        self.earth_centre = np.array([-(EARTH_RADIUS_M + self.altitude_m), 0.0, 0.0])
        self.t_s = float(record.t[0])
        self._limb_dip = limb_dip_rad(self.altitude_m)  # rad

        # preview (and the viewer) draw the coarse meshes; shadows are cast by the coarse meshes always
        # (they bake in less time, and a shadow needs no bolts)
        visuals = _part_visuals(record, coarse=preview)
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
        # the station's mask: drawn first in layer 0 (black, at the front), so that the far field's
        # depth test skips Earth's shader where the station will cover it (merged stages without SSAA,
        # whose edges would blend with the mask's black)
        self.mask_renderer: Any = None
        if self.merge and settings.quality.anti_aliasing != "ssaa":
            self.mask_renderer = vtk.vtkRenderer()
            self.mask_renderer.SetLayer(0)
            self.mask_renderer.SetBackground(0.0, 0.0, 0.0)
            self.mask_renderer.SetInteractive(False)
            self.mask_renderer.SetActiveCamera(self.far_camera)
            self.mask_renderer.GetCullers().RemoveAllItems()  # it lies before the far camera's near plane
            rw.AddRenderer(self.mask_renderer)
            self.far.SetErase(False)  # the mask's renderer clears the frame; the far field keeps its depth
        rw.AddRenderer(self.far)

        names = [str(n) for n in record.names]
        self._index = {n: i for i, n in enumerate(names)}
        self._matrices: dict[str, Any] = {n: vtk.vtkMatrix4x4() for n in names}
        self._boxes: list[np.ndarray] = []  # per part (M, 2, 3) local boxes of its meshes, m
        self._radius: dict[str, float] = {}
        for name in names:
            boxes = [(_polydata(vm).points.min(axis=0), _polydata(vm).points.max(axis=0)) for vm in visuals[name]]
            self._boxes.append(np.array(boxes) if boxes else np.zeros((0, 2, 3)))
            self._radius[name] = max((float(np.linalg.norm(_polydata(vm).points, axis=1).max()) for vm in visuals[name]),
                                     default=0.0)
        self._radius_arr = np.array([self._radius[n] for n in names])
        self._tinted = False
        self._sides = record.separation_sides()
        # each part's box corners in its own frame (P, 8, 3), for the re-bake test
        self._corners = np.array([_box_corners(b) for b in self._boxes])
        # every mesh box at once (K, 2, 3) with its part's index (K,), for ``_box_distances``
        self._box_part = np.concatenate([np.full(len(b), i) for i, b in enumerate(self._boxes)]).astype(int)
        self._box_all = np.concatenate(self._boxes) if len(self._box_part) else np.zeros((0, 2, 3))
        # every mesh box's corners in its part's frame (K, 8, 3), for the map's fit to the view
        self._box_corners = np.array([_box_corners(b[None]) for b in self._box_all]).reshape(-1, 8, 3)
        # (world corners, Sun, the fit's key) at the last bake
        self._baked: tuple[np.ndarray, np.ndarray, tuple[float, int, int]] | None = None
        self.shadow_fit: ShadowFit | None = None  # the map baked last (its frame, box, side)
        self.bakes = 0
        # the baker's casters: placed by one matrix (a translation to the map's box) and their own
        # frame in the light's world (a uniform per rigid group, ``issvisCaster``); see SHADOW_CASTER_SHRINK
        self._caster_matrix = vtk.vtkMatrix4x4()
        self._caster_uniforms: dict[int, tuple[Any, int]] = {}  # id(copy) -> (uniforms, group's reference part)

        self._build_shader_properties(vtk)
        self._textures: dict[int, Any] = {}
        self._base_colour: dict[int, tuple[float, float, float]] = {}
        self._part_of_cell: dict[int, np.ndarray] = {}  # id(actor) -> (cells,) part index of each triangle
        self._epochs = rigid_groups(record) if self.merge else [(float(record.t[0]), [np.array([i]) for i in range(len(names))])]
        # per epoch: (station actors, baker copies, {part name: actors that draw it}); masks apart
        self._epoch_actors: list[tuple[list[Any], list[Any], dict[str, list[Any]]]] = []
        self._epoch_masks: list[list[Any]] = []
        t_all = np.asarray(record.t, float)
        for t0, groups in self._epochs:
            # relative poses within each group at the epoch's first sample
            i0 = int(np.clip(np.searchsorted(t_all, t0), 0, len(t_all) - 1))
            pos, rot = np.asarray(record.pos[i0], float), quat_to_matrix(record.quat[i0])
            actors, copies, by_part, masks = [], [], {}, []
            for g in groups:
                ref = int(g[np.argmax(np.asarray(record.mass, float)[g])])
                inv = np.linalg.inv(transform_matrix(rot[ref], pos[ref]))
                frames = {int(i): inv @ transform_matrix(rot[i], pos[i]) for i in g}
                matrix = self._matrices[names[ref]]
                group_actors = self._group_actors(pv, vtk, g, visuals, frames, matrix)
                actors += group_actors
                for i in g:
                    by_part[names[int(i)]] = group_actors
                copies += self._group_copies(vtk, g, casters, frames, matrix, ref=ref)
                if self.mask_renderer is not None:
                    masks += self._group_copies(vtk, g, visuals, frames, matrix, mask=True)
            self._epoch_actors.append((actors, copies, by_part))
            self._epoch_masks.append(masks)
        self._epoch = -1
        self.part_actors: dict[str, list[Any]] = {}

        self._build_far_field(pv, vtk)
        self._build_lights(pv)
        self._dof: dict[str, Any] | None = None
        self.dof_blur_px = 0.0  # the far field's blur in the last frame drawn, px (0: sharp)
        if depth_of_field is None:  # the video's frames (offscreen), not a window a person turns
            depth_of_field = not preview and bool(rw.GetOffScreenRendering())
        if depth_of_field and settings.quality.depth_of_field_m > 0 and self.earth_actor is not None:
            self._build_dof(vtk)
        self._build_fill()
        if self.shadows:
            self._box_proxy = self._build_box_proxy(vtk)
            self._build_shadow_passes(vtk)
            self._square_baker_viewport()
        self._observer = rw.AddObserver("StartEvent", self._before_render)
        if has_jets(record):  # thruster firings recorded by attitude control: glows at the jets that fire
            self.extras.append(JetPlumes(plotter, record, min_visible_s=1.0))
        self.set_time(self.t_s)

    # -- building the station -------------------------------------------------------------------
    def _build_shader_properties(self, vtk: Any) -> None:
        """One vtkShaderProperty per kind of surface (glass or not, textured or not), shared by every
        station actor of that kind: the light's uniforms are set once per kind and frame."""
        self._shader_props: dict[tuple[bool, bool], Any] = {}
        for glass in (False, True):
            for textured in (False, True):
                sp = vtk.vtkShaderProperty()
                sp.AddFragmentShaderReplacement("//VTK::TCoord::Impl", True,
                                                _station_fragment(glass, textured), False)
                u = sp.GetFragmentCustomUniforms()
                if self.shadows:
                    _sharpen_shadow_lookup(sp)
                    u.SetUniformMatrix("issvisLightVC", vtk.vtkMatrix4x4())
                for name in FILL_UNIFORMS:
                    u.SetUniform3f(name, [0.0, 0.0, 0.0])
                if glass:
                    for name in ("issvisNadir", "issvisGround", "issvisGroundR", "issvisGroundG", "issvisGroundB",
                                 "issvisLimb"):
                        u.SetUniform3f(name, [0.0, 0.0, 0.0])
                    u.SetUniformf("issvisCapCos", math.cos(math.pi / 2 - self._limb_dip))
                self._shader_props[(glass, textured)] = sp

    def _texture_for(self, vm: Any) -> Any:
        image = vm.material.base_color_image
        if image is None or vm.uv is None:
            return None
        if id(image) not in self._textures:
            rgba = np.dstack([image[..., :3], relief_alpha(vm.material.normal_image, image.shape[0])])
            if self.preview and rgba.shape[0] > 256:
                rgba = rgba[::4, ::4]
            self._textures[id(image)] = _texture(rgba)
        return self._textures[id(image)]

    def _group_actors(self, pv: Any, vtk: Any, group: np.ndarray, visuals: dict[str, tuple[Any, ...]],
                      frames: dict[int, np.ndarray], matrix: Any) -> list[Any]:
        """The actors of one rigid group: one per material (and side of the first separation, so that
        ``tint_segments`` can colour the sides), its parts' meshes merged in the group's frame."""
        names = [str(n) for n in self.record.names]
        side_of = np.zeros(len(names), int)
        if self._sides is not None:
            side_of[self._sides[0]], side_of[self._sides[1]] = 1, 2
        batches: dict[tuple[int, int, bool], list[tuple[int, Any, np.ndarray]]] = {}
        for i in group:
            for vm in visuals[names[int(i)]]:
                key = (int(side_of[int(i)]), id(vm.material), vm.uv is not None)
                batches.setdefault(key, []).append((int(i), vm, frames[int(i)]))
        actors = []
        ambient = self.settings.lighting.ambient
        for (_side, _, has_uv), pieces in sorted(batches.items(), key=lambda kv: (kv[0][0], kv[1][0][1].material.name)):
            vm0 = pieces[0][1]
            mesh = _merged(pieces)
            look = phong_look(vm0.material)
            mapper = vtk.vtkPolyDataMapper()
            mapper.SetInputData(mesh)
            mapper.ScalarVisibilityOff()
            actor = pv.Actor(mapper=mapper)
            prop = actor.GetProperty()
            prop.SetInterpolationToPhong()
            prop.SetColor(*look["color"])
            prop.SetAmbientColor(*look["color"])
            prop.SetAmbient(ambient)
            prop.SetDiffuse(look["diffuse"])
            prop.SetSpecular(look["specular"])
            prop.SetSpecularPower(look["specular_power"])
            prop.SetSpecularColor(*look["specular_color"])
            # closed, outward-wound meshes: back faces are hidden anyway, and not rasterising them saves
            # a fifth of a frame on llvmpipe
            prop.SetBackfaceCulling(not vm0.material.double_sided)
            texture = self._texture_for(vm0) if has_uv else None
            if texture is not None:
                actor.SetTexture(texture)
                actor.ForceOpaqueOn()  # the texture's alpha is relief (relief_alpha), not opacity
            glass = vm0.material.name in GLASS_LOOKS
            actor.SetShaderProperty(self._shader_props[(glass, texture is not None)])
            actor.SetUserMatrix(matrix)
            actors.append(actor)
            self._base_colour[id(actor)] = tuple(look["color"])
            self._part_of_cell[id(actor)] = np.asarray(mesh.cell_data["part"])
        return actors

    def _group_copies(self, vtk: Any, group: np.ndarray, casters: dict[str, tuple[Any, ...]],
                      frames: dict[int, np.ndarray], matrix: Any, mask: bool = False, ref: int = 0) -> list[Any]:
        """The baker's flat copies of one group: its coarse meshes merged, one-sided and two-sided apart,
        shrunk (``SHADOW_CASTER_SHRINK``) and posed in the light's world by their vertex shader (uniform
        ``issvisCaster``: the group's frame, that of part ``ref``, in the baker's world about the map's box).
        ``mask``: the far field's mask of the group instead, from the meshes the station draws (the same
        triangles, so that it covers the very pixels the station does), black, at the front."""
        names = [str(n) for n in self.record.names]
        batches: dict[bool, list[tuple[int, Any, np.ndarray]]] = {}
        for i in group:
            for vm in casters.get(names[int(i)], ()):
                batches.setdefault(bool(vm.material.double_sided), []).append((int(i), vm, frames[int(i)]))
        copies = []
        caster_sp = vtk.vtkShaderProperty()
        if not mask:
            caster_sp.AddVertexShaderReplacement(
                "//VTK::Light::Impl", True,
                "//VTK::Light::Impl\n  gl_Position = MCDCMatrix * (vec4(vertexMC.xyz * "
                f"{1 / SHADOW_CASTER_SHRINK:.1f}, 1.0) * issvisCaster);\n", False)
            caster_sp.GetVertexCustomUniforms().SetUniformMatrix("issvisCaster", vtk.vtkMatrix4x4())
        for double_sided, pieces in sorted(batches.items()):
            mapper = vtk.vtkPolyDataMapper()
            mesh = _merged(pieces, flat=True)
            if not mask:
                mesh.points = np.asarray(mesh.points) * SHADOW_CASTER_SHRINK  # a power of 2: exact
                mapper.SetVBOShiftScaleMethod(0)  # the shader reads the points as they are
            mapper.SetInputData(mesh)
            mapper.ScalarVisibilityOff()
            copy = vtk.vtkActor()
            copy.SetMapper(mapper)
            copy.GetProperty().LightingOff()
            # the map needs the surfaces that face the Sun; back faces lie behind them (3 ms a bake)
            copy.GetProperty().SetBackfaceCulling(not double_sided)
            copy.GetProperty().SetInterpolationToFlat()
            if not mask:
                copy.SetUserMatrix(self._caster_matrix)
                copy.SetShaderProperty(caster_sp)
                self._caster_uniforms[id(copy)] = (caster_sp.GetVertexCustomUniforms(), ref)
            else:
                copy.SetUserMatrix(matrix)
                copy.GetProperty().SetColor(0.0, 0.0, 0.0)
                # after VTK's own ``gl_Position = MCDCMatrix * vertexMC``: every triangle at the front
                copy.GetShaderProperty().AddVertexShaderReplacement(
                    "//VTK::Light::Impl", True,
                    f"//VTK::Light::Impl\n  gl_Position.z = {MASK_NDC_Z} * gl_Position.w;\n", False)
            copies.append(copy)
        return copies

    def _show_epoch(self, k: int) -> None:
        """Put epoch k's actors (and baker copies) in the renderers, the previous epoch's out."""
        if k == self._epoch:
            return
        if self._epoch >= 0:
            actors, copies, _ = self._epoch_actors[self._epoch]
            for a in actors:
                self.renderer.RemoveActor(a)
            for c in copies:
                self.baker_renderer.RemoveActor(c)
            for m in self._epoch_masks[self._epoch]:
                self.mask_renderer.RemoveActor(m)
        actors, copies, by_part = self._epoch_actors[k]
        for m in self._epoch_masks[k]:
            self.mask_renderer.AddActor(m)
        for a in actors:
            self.renderer.AddActor(a)
            if self._tinted:
                self._tint_actor(a, True)
        for c in copies:
            self.baker_renderer.AddActor(c)
        self.part_actors = by_part
        self._epoch = k
        self._baked = None

    @property
    def station_actors(self) -> list[Any]:
        """The actors that draw the station now (each with its group's ``vtkMatrix4x4``)."""
        return self._epoch_actors[self._epoch][0]

    def part_at(self, actor: Any, cell_id: int) -> str | None:
        """The part drawn by triangle ``cell_id`` of station actor ``actor`` (a picked cell), or None."""
        cells = self._part_of_cell.get(id(actor))
        if cells is None or not 0 <= cell_id < len(cells):
            return None
        return str(self.record.names[int(cells[cell_id])])

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

    def _build_box_proxy(self, vtk: Any) -> Any:
        """An actor in the baker that draws nothing (one triangle of no area) and whose two points set
        the bounds VTK fits the shadow map to (``shadow_map_box``)."""
        points = vtk.vtkPoints()
        points.SetNumberOfPoints(2)
        poly = vtk.vtkPolyData()
        poly.SetPoints(points)
        cells = vtk.vtkCellArray()
        cells.InsertNextCell(3, [0, 1, 1])  # of no area; both points count in its bounds
        poly.SetPolys(cells)
        mapper = vtk.vtkPolyDataMapper()
        mapper.SetInputData(poly)
        actor = vtk.vtkActor()
        actor.SetMapper(mapper)
        actor.GetProperty().LightingOff()
        self.baker_renderer.AddActor(actor)
        self._box_points = points
        self._box_poly = poly
        return actor

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
        top: Any = camera_pass
        if self.settings.quality.anti_aliasing == "fxaa":
            # VTK applies a renderer's own FXAA (UseFXAAOn) only when it has no render pass: with the
            # shadow passes it is ended by an FXAA pass of its own, over the window's picture as drawn
            # so far (Earth and sky of layer 0 included)
            from vtkmodules.vtkRenderingOpenGL2 import vtkOpenGLFXAAPass

            top = vtkOpenGLFXAAPass()
            top.SetDelegatePass(camera_pass)
        self.renderer.SetPass(top)
        self._passes = (baker, baker_camera, opaque, items, shadow, sequence, passes, camera_pass, top)

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
            # the depth of field's far field is drawn 4x smaller and blurred: half the texture's size is plenty
            self._earth_image_half = np.ascontiguousarray(image[::2, ::2])
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
            uniforms.SetUniformf("hazeAmp", 1.0 if s.earth.atmosphere else 0.0)
            if s.earth.atmosphere:
                r, d = EARTH_RADIUS_M, EARTH_RADIUS_M + self.altitude_m
                # the silhouette circle seen from orbit height; the ring sits in its plane
                rho = r * math.sqrt(1 - (r / d) ** 2)
                k = ATMOSPHERE_M * (d / math.sqrt(d * d - r * r))  # radial width that shows the limb thickness
                # starts inside the silhouette: no gap at Earth's polygonal edge
                self._limb_mesh = _limb_mesh(rho * (1 - limb_apron(self.altitude_m, grid)), rho * 0.998, rho + k)
                self.limb_actor = add(self._limb_mesh, rgb="rgb")
                ang = np.linspace(0, 2 * np.pi, LIMB_SEGMENTS, endpoint=False)
                self._limb_dirs = np.stack([np.cos(ang), np.sin(ang), np.zeros_like(ang)], -1)  # ring frame
                self._limb_alpha = np.repeat(np.concatenate([LIMB_ALPHA[:1], LIMB_ALPHA]), LIMB_SEGMENTS)
                self._limb_height = np.repeat(np.concatenate([LIMB_RINGS[:1], LIMB_RINGS]), LIMB_SEGMENTS)
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
        if self.baker_renderer is not None:
            # the Sun in the baker's world (``light_frame``): map 0 belongs to the station's light 0
            self.baker_sun = pv.Light(light_type="scene light", intensity=1.0)
            self.baker_sun.positional = False
            self.baker_renderer.AddLight(self.baker_sun)
            self.baker_renderer.GetCullers().RemoveAllItems()  # its actors' bounds are not where they draw
        # the far field's own Sun: Earth's shader reads its direction (intensity unused)
        self.far_sun = pv.Light(light_type="scene light", intensity=1.0)
        self.far_sun.positional = False
        self.far.AddLight(self.far_sun)

    def _build_fill(self) -> None:
        """What the light of the ground below needs each frame: the visible cap's sample directions, the
        ground's albedo image, and the fill's uniforms (zero until ``set_time``)."""
        s = self.settings
        self._cap_dirs, self._cap_sr = cap_samples(self.altitude_m)
        self._ground_albedo = ground_albedo(s.earth.texture, self.preview, s.earth.clouds)
        self.fill_sh = np.zeros((9, 3))  # world (LVLH) coefficients, ``earth.sh_irradiance``
        self._ground_radiance = np.zeros((len(self._cap_dirs), 3))
        self._mirror = (np.zeros(3), np.zeros((3, 3)))
        self._limb_rgb = np.zeros(3)
        self._bounce_rgb = np.zeros(3)

    def _update_fill(self, sd: np.ndarray) -> None:
        """The light of the ground below at this time: its radiance over the visible cap, the order-2
        irradiance of it on any face (LVLH), a mirror's view of it, and the limb's haze colour."""
        lt = self.settings.lighting
        gain = lt.earthshine * (lt.sun_intensity if lt.mode == "day" else 0.0)
        rad = ground_light(self._ground_albedo, self._earth_rot, sd, self.altitude_m, gain, self._cap_dirs,
                           self._cap_sr)
        self._ground_radiance = rad
        self.fill_sh = sh_irradiance(self._cap_dirs, rad, self._cap_sr)
        self._mirror = ground_mirror(self._cap_dirs, rad, self._cap_sr)
        # the haze along the horizon: sunlit where the Sun is up over the limb (cosine at the limb points)
        day = lt.sun_intensity if lt.mode == "day" else 0.0
        ring = self._cap_dirs[-len(self._cap_dirs) // 10:]  # the outermost ring of samples
        r, d = EARTH_RADIUS_M, EARTH_RADIUS_M + self.altitude_m
        b = d * ring[:, 0]
        t = -b - np.sqrt(np.maximum(b * b - (d * d - r * r), 0.0))
        normal = (np.array([d, 0.0, 0.0])[None] + t[:, None] * ring) / r
        mu = normal @ sd
        lit = float(np.clip((mu + 0.12) / 0.42, 0.0, 1.0).mean())
        self._limb_rgb = LIMB_HAZE_RGB * lit * day
        self._bounce_rgb = STATION_BOUNCE * lt.earthshine * self.sun_light.intensity * np.asarray(self.sun_light.GetDiffuseColor())

    def _fill_uniforms(self, view_rot: np.ndarray) -> None:
        """Hand the fill to the station's shaders in view coordinates (the camera's rotation
        ``view_rot``, world -> view): the harmonics are re-projected from the cap's rotated samples."""
        from .earth import SH_BAND, SH_NORM, sh_polynomials

        dirs_vc = self._cap_dirs @ view_rot.T
        y = sh_polynomials(dirs_vc) * SH_NORM
        coeffs = np.einsum("nk,nc->kc", y * self._cap_sr[:, None], self._ground_radiance) * (SH_BAND * SH_NORM)[:, None]
        coeffs[0] += self._bounce_rgb
        nadir = view_rot @ np.array([-1.0, 0.0, 0.0])
        g0, grad = self._mirror
        grad_vc = grad @ view_rot.T  # rows R, G, B: gradient along view-space directions
        for (glass, _), sp in self._shader_props.items():
            u = sp.GetFragmentCustomUniforms()
            for name, c in zip(FILL_UNIFORMS, coeffs):
                u.SetUniform3f(name, c.tolist())
            if glass:
                u.SetUniform3f("issvisNadir", nadir.tolist())
                u.SetUniform3f("issvisGround", g0.tolist())
                for name, row in zip(("issvisGroundR", "issvisGroundG", "issvisGroundB"), grad_vc):
                    u.SetUniform3f(name, row.tolist())
                u.SetUniform3f("issvisLimb", self._limb_rgb.tolist())

    def sun_direction(self, t_s: float | None = None) -> np.ndarray:
        """Unit vector towards the Sun, LVLH, at simulated time t."""
        return sun_direction(self.settings.lighting, self.mean_motion, self.t_s if t_s is None else t_s)

    def invalidate_shadows(self) -> None:
        """Bake the shadow map at the next render whatever moved (the renderer calls this at the start
        of every segment, so that any split of a clip over processes bakes at the same frames), fitted
        afresh: the fit keeps its box while the view fits, so it must not carry one segment's into the next."""
        self._baked = None
        self.shadow_fit = None

    def _decide_bake(self, cam: Any) -> None:
        """Fit the map to what the camera ``cam`` sees (``view_footprint``, ``fit_shadow_map``: the texel
        grid fixed to the part nearest the focal point) and draw the baker (re-bake the map) only when
        that fit changed, or something moved a fraction of a texel, since the last bake."""
        corners = np.einsum("pij,pkj->pki", self._rot, self._corners) + self._pos[:, None, :]
        sun = self.sun_direction()
        flat = corners.reshape(-1, 3)
        eye, focal = np.array(cam.GetPosition()), np.array(cam.GetFocalPoint())
        boxes = np.einsum("kij,kmj->kmi", self._rot[self._box_part], self._box_corners) + self._pos[self._box_part][:, None]
        w, h = self.plotter.render_window.GetSize()
        frame = light_frame(sun)
        reach = float(np.linalg.norm(focal - eye))
        res = self.settings.quality.shadow_map_px
        up, fov, aspect = np.array(cam.GetViewUp()), cam.GetViewAngle(), w / max(h, 1)
        footprint = view_footprint(boxes, frame, eye, focal - eye, up, fov, aspect,
                                   shadow_fit_far_m(boxes, frame, eye, focal - eye, up, fov, aspect, h, res)) \
            if reach > 0 else None
        anchor = self._pos[int(np.argmin(np.linalg.norm(self._pos - focal, axis=1)))]
        fit = fit_shadow_map(sun, flat, footprint, anchor, res, self.shadow_fit)
        baked = self._baked
        need = baked is None or fit.key != baked[2]
        if baked is not None and not need:
            texel = fit.side_m / res
            moved = float(np.linalg.norm(corners - baked[0], axis=-1).max())
            # a turn of the Sun shifts a shadow by the angle times the caster-receiver distance along the
            # light, at most the station's depth along the Sun
            depth = float(np.abs(sun) @ (flat.max(0) - flat.min(0)))
            turned = float(np.linalg.norm(sun - baked[1])) * depth
            need = moved + turned > SHADOW_REBAKE_TEXELS * texel
        self.baker_renderer.SetDraw(need)
        if need:
            self._bake_setup(fit, sun)
            self._baked = (corners, sun, fit.key)
            self.bakes += 1

    def _bake_setup(self, fit: ShadowFit, sun: np.ndarray) -> None:
        """Put the map's box, the casters and the Sun in the baker's world for a bake of ``fit``."""
        import vtk

        self.shadow_fit = fit
        self._box_points.SetPoint(0, *fit.lo)
        self._box_points.SetPoint(1, *fit.hi)
        self._box_points.Modified()
        self._box_poly.Modified()
        target = 0.5 * (fit.lo + fit.hi)
        _set_matrix(self._caster_matrix, transform_matrix(np.eye(3), target))
        to_baker = transform_matrix(fit.frame, -target)  # world -> baker's world, about the box's centre
        m = vtk.vtkMatrix4x4()
        for copy in self._epoch_actors[self._epoch][1]:
            uniforms, ref = self._caster_uniforms[id(copy)]
            _set_matrix(m, to_baker @ transform_matrix(self._rot[ref], self._pos[ref]))
            uniforms.SetUniformMatrix("issvisCaster", m)
            copy.Modified()
        self.baker_sun.position = tuple(fit.frame @ sun)
        self.baker_sun.focal_point = (0.0, 0.0, 0.0)
        # VTK bakes through the baker renderer's own camera as well as the light's: fit it to the box as
        # it is now, before every bake, so that the map depends on this frame alone
        self.baker_renderer.ResetCamera()

    def _before_render(self, *_: Any) -> None:
        """Put the far field around the active camera, copy that camera to the far renderer, give each
        renderer a clipping range for its own scale, hand the Earth's light to the station's shaders in
        the camera's frame, and decide whether the shadow map is re-baked."""
        cam = self.renderer.GetActiveCamera()
        eye = np.array(cam.GetPosition())
        if self.baker_renderer is not None:
            self._decide_bake(cam)
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
        near = float(np.clip(0.8 * near_d, self.settings.camera.near_m, 50.0))
        cam.SetClippingRange(near, max(far_d * 1.05, near * 10))
        if self.mask_renderer is not None:
            # the mask is not clipped: where the near plane cuts into the station (the camera closer to a
            # mesh's box than the near limit) Earth must be drawn behind the cut, so the mask stays off
            whole = 0.8 * near_d >= self.settings.camera.near_m
            self.mask_renderer.SetDraw(whole)
            self.far.SetErase(not whole)  # the mask's renderer cleared the frame (colour and depth) already
        if self._dof is not None:
            self._draw_dof(cam)
        m = cam.GetViewTransformMatrix()
        view = np.array([[m.GetElement(i, j) for j in range(4)] for i in range(4)])
        self._fill_uniforms(view[:3, :3])
        if self.shadow_fit is not None:
            # the station's look-up point, in view coordinates, carried through the baker's world
            light_vc = _vtk_matrix(view @ transform_matrix(self.shadow_fit.frame, np.zeros(3)) @ np.linalg.inv(view))
            for sp in self._shader_props.values():
                sp.GetFragmentCustomUniforms().SetUniformMatrix("issvisLightVC", light_vc)

    def _box_distances(self, eye: np.ndarray) -> tuple[float, float]:
        """Nearest and farthest distance, m, from the eye to the meshes' boxes (each in its part's frame)."""
        if not len(self._box_part):
            return np.inf, 0.0
        local = np.einsum("pji,pj->pi", self._rot, eye[None] - self._pos)  # the eye in each part's frame
        e = local[self._box_part]
        lo, hi = self._box_all[:, 0], self._box_all[:, 1]
        gap = np.maximum(np.maximum(lo - e, e - hi), 0.0)
        reach = np.maximum(np.abs(e - lo), np.abs(hi - e))
        return float(np.sqrt((gap * gap).sum(axis=1)).min()), float(np.sqrt((reach * reach).sum(axis=1)).max())

    def _build_dof(self, vtk: Any) -> None:
        """A second, small offscreen window that draws the far field again (its own mappers and textures:
        GL objects belong to one context), for the depth of field (``DOF_SCALE``)."""
        rw = self.plotter.render_window
        win = type(rw)()
        win.SetOffScreenRendering(1)
        win.SetMultiSamples(0)
        ren = vtk.vtkRenderer()
        ren.SetBackground(0.0, 0.0, 0.0)
        ren.SetActiveCamera(self.far_camera)
        ren.AddLight(self.far_sun)
        win.AddRenderer(ren)
        twins = {}
        for actor in self._far_actors:
            if actor in self.star_actors:
                continue  # a defocused star spreads its light over its disc: in daylight, nothing shows
            mapper = vtk.vtkPolyDataMapper()
            mapper.ShallowCopy(actor.GetMapper())
            twin = vtk.vtkActor()
            twin.SetMapper(mapper)
            prop = vtk.vtkProperty()
            if actor is self.earth_actor:
                prop.SetInterpolationToPhong()
                prop.BackfaceCullingOn()
                prop.SetTexture("actortexture", _texture(self._earth_image_half))  # its own GL texture
                twin.ForceOpaqueOn()
            else:
                prop.LightingOff()
                prop.SetPointSize(actor.GetProperty().GetPointSize())
            twin.SetProperty(prop)
            twin.SetShaderProperty(actor.GetShaderProperty())
            ren.AddActor(twin)
            twins[id(actor)] = twin
        backdrop = vtk.vtkTexture()
        backdrop.SetInterpolate(True)
        self._dof = {"window": win, "renderer": ren, "twins": twins, "backdrop": backdrop, "image": None}

    def _draw_dof(self, cam: Any) -> None:
        """Blur the far field for this frame's focus (the camera's focal distance: the subject) when the
        blur is wide enough to show, or leave it sharp (``DOF_MIN_PX``)."""
        import vtk
        from vtkmodules.util.numpy_support import numpy_to_vtk, vtk_to_numpy

        dof = self._dof
        assert dof is not None
        w, h = self.plotter.render_window.GetSize()
        s = max(float(cam.GetDistance()), 1e-3)
        blur = h * self.settings.quality.depth_of_field_m / (2 * s * math.tan(math.radians(cam.GetViewAngle()) / 2))
        on = blur >= DOF_MIN_PX
        self.dof_blur_px = blur if on else 0.0
        for actor in self._far_actors:
            actor.SetVisibility(not on)
        self.far.SetTexturedBackground(on)
        if not on:
            return
        self.far.SetErase(True)  # nothing of the far field is drawn here: the backdrop is the frame
        if self.mask_renderer is not None:
            self.mask_renderer.SetDraw(False)
        win = dof["window"]
        sw, sh = max(w // DOF_SCALE, 8), max(h // DOF_SCALE, 8)
        if tuple(win.GetSize()) != (sw, sh):
            win.SetSize(sw, sh)
        for actor in self._far_actors:
            twin = dof["twins"].get(id(actor))
            if twin is not None:
                twin.SetUserMatrix(actor.GetUserMatrix())
        self.far_camera.SetClippingRange(0.5 * EARTH_NEAR_M, self._sky_radius_m * 1.1)
        win.Render()
        data = vtk.vtkUnsignedCharArray()
        win.GetPixelData(0, 0, sw - 1, sh - 1, 0, data, 0)
        img = vtk_to_numpy(data).reshape(sh, sw, 3).astype(np.float32) / 255.0
        lin = _gaussian_blur(img * img, max(blur / 2.5 / DOF_SCALE, 0.3))  # in linear light
        out = np.ascontiguousarray((np.sqrt(lin) * 255.0 + 0.5).clip(0, 255).astype(np.uint8).reshape(-1, 3))
        image = vtk.vtkImageData()
        image.SetDimensions(sw, sh, 1)
        arr = numpy_to_vtk(out, deep=True)
        image.GetPointData().SetScalars(arr)
        dof["image"] = image  # kept alive while the texture uses it
        dof["backdrop"].SetInputData(image)
        self.far.SetBackgroundTexture(dof["backdrop"])

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
            rgb = limb_colours(np.tile(normals, (len(LIMB_RINGS) + 1, 1)), sd, np.tile(toward, len(LIMB_RINGS) + 1),
                               self._limb_alpha, self._limb_height)
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
        """Pose every part at simulated time t_s (clamped to the record), turn Earth and Sun, and work out
        the light of the ground below.

        ``poses`` (pos (B, 3), quat (B, 4)) may be passed when the caller already has them.
        """
        self.t_s = float(np.clip(t_s, self.record.t[0], self.record.t[-1]))
        epoch = 0
        for k, (t0, _) in enumerate(self._epochs):
            if self.t_s > t0 or k == 0:
                epoch = k
        self._show_epoch(epoch)
        pos, quat = poses if poses is not None else self.record.pose_at(self.t_s)
        self._pos = np.asarray(pos, float)
        rot = self._rot = quat_to_matrix(quat)
        for name, i in self._index.items():
            _set_matrix(self._matrices[name], transform_matrix(rot[i], pos[i]))
        # actors cache their matrix: tell them (and the baker's copies) that the shared matrix moved
        actors, copies, _ = self._epoch_actors[self._epoch]
        for actor in actors:
            actor.Modified()
        for copy in copies:
            copy.Modified()
        self._earth_rot = earth_orientation(self.settings, self.t_s, self.mean_motion)
        sd = self.sun_direction()
        lt = self.settings.lighting
        # the Sun sets behind Earth's limb (dip below the horizontal ~20 deg at ISS height), reddening
        # in the last few degrees
        above = math.asin(float(np.clip(sd[0], -1, 1))) + self._limb_dip
        sunlit = float(np.clip((above + 0.004) / 0.012, 0.0, 1.0))
        self.sun_light.intensity = (lt.sun_intensity if lt.mode == "day" else 0.0) * sunlit
        self.sun_light.diffuse_color = tuple(sun_colour_rgb(above))
        self.sun_light.specular_color = self.sun_light.diffuse_color
        self.sun_light.position = tuple(sd)
        self.sun_light.focal_point = (0.0, 0.0, 0.0)
        self.far_sun.position = tuple(sd)
        self.far_sun.focal_point = (0.0, 0.0, 0.0)
        self._update_fill(sd)
        for extra in self.extras:
            extra.update(self.t_s)

    def _tint_actor(self, actor: Any, on: bool) -> None:
        base = np.array(self._base_colour[id(actor)])
        cells = self._part_of_cell[id(actor)]
        i = int(cells[0]) if len(cells) else -1
        side = None
        if self._sides is not None and i >= 0:
            side = "departing" if self._sides[0][i] else "remaining" if self._sides[1][i] else None
        colour = 0.35 * base + 0.65 * TINTS[side] if (on and side) else base
        actor.GetProperty().SetColor(*colour)

    def tint_segments(self, on: bool) -> None:
        """Colour the departing side orange and the remaining side blue, or restore the materials."""
        self._tinted = on
        if self._sides is None:
            return
        for actor in self.station_actors:
            self._tint_actor(actor, on)

    def close(self) -> None:
        """Detach the render observer (the plotter keeps its actors)."""
        self.plotter.render_window.RemoveObserver(self._observer)
        if self._dof is not None:
            self._dof["window"].Finalize()
            self._dof = None


def _gaussian_blur(img: np.ndarray, sigma_px: float) -> np.ndarray:
    """(H, W, C) image blurred by a Gaussian of ``sigma_px`` pixels, edges held (separable, numpy)."""
    r = max(int(math.ceil(3 * sigma_px)), 1)
    k = np.exp(-0.5 * (np.arange(-r, r + 1) / sigma_px) ** 2)
    k = (k / k.sum()).astype(img.dtype)
    for axis in (0, 1):
        pad = [(0, 0)] * img.ndim
        pad[axis] = (r, r)
        p = np.pad(img, pad, mode="edge")
        n = img.shape[axis]
        out = np.zeros_like(img)
        for i, wgt in enumerate(k):
            out += wgt * np.take(p, np.arange(i, i + n), axis=axis)
        img = out
    return img


def _vtk_matrix(m: np.ndarray) -> Any:
    import vtk

    out = vtk.vtkMatrix4x4()
    out.DeepCopy(np.ascontiguousarray(m, float).ravel())
    return out
