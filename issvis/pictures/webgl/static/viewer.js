// issvis view, drawn by the browser: the desktop viewer's controls and read-outs, on the client's GPU.
//
// The server sent, once: station.glb (the parts' meshes and materials), record.bin (times, poses,
// velocities, clearance, the keyframe camera, the stars), facts.json (names, sides, events in words,
// lighting, Earth's orbit) and Earth's images. Everything here runs in this tab: the clock, the poses
// (cubic Hermite and slerp, as issvis.record.Record.pose_at), the camera presets (as ViewerState), the
// corner read-out, picking. Three passes a frame: the sky (stars, Sun), Earth with its limb (one
// full-screen pass, ray-traced in units of Earth's radius: a true silhouette at any distance), then
// the station, one draw call per material (each vertex moved by its part's pose in the vertex shader).

import * as THREE from 'three';
import { GLTFLoader } from 'three/addons/loaders/GLTFLoader.js';
import { OrbitControls } from 'three/addons/controls/OrbitControls.js';
import { mergeGeometries } from 'three/addons/utils/BufferGeometryUtils.js';

THREE.ColorManagement.enabled = false; // colours as the video's Phong lighting computes them (display values)

const SAME_TIME_S = 1e-6;
const MAX_TICK_S = 1.0;
const FREE = 0;
const PRESET_FOV_DEG = 30;
const INTERFACE_MARGIN_M = 8;
const unit = (x, y, z) => new THREE.Vector3(x, y, z).normalize();
const WHOLE_STATION_FROM = unit(0.45, -0.55, 0.70);
const INTERFACE_FROM = unit(9, -3, 22);
const FOLLOW_FROM = unit(0.40, -0.75, 0.55);
const ZENITH_UP = new THREE.Vector3(1, 0, 0);
const TINTS = { departing: [1.0, 0.45, 0.15], remaining: [0.25, 0.55, 1.0] };
const TRAIL_COLOURS = ['#ff5a36', '#3aa0ff', '#ffd23a', '#7cff6b', '#d77cff', '#3affe0', '#ffffff'];
const HIGHLIGHT = 0xffe14a;
const AXIS_LENGTH_M = 40;
const EARTH_ROTATION_RAD_S = 7.292115e-5;
// At night (the Sun behind Earth) the picture is exposed for what is left: a fill light from the
// camera and a faint night side, so that scrubbing into the night shows the station, not black.
const NIGHT_FILL = 0.55;
const FILL = 0.12; // by day too: a back-lit side (the Sun behind the station at sunset) is not pure black
const NIGHT_EARTH_FLOOR = 0.025;
const PLUME_RGB = [0.75, 0.85, 1.0];
const PLUME_MIN_VISIBLE_S = 1.0;
// Dynamic resolution, as games and three.js viewers do: while the picture moves (playing, dragging,
// scrubbing) the canvas is drawn at one of these fractions of its width and height, chosen from the
// measured frame interval to hold TARGET_FPS; the picture at rest is drawn once at full resolution.
const SCALE_STEPS = [1, 0.85, 0.7, 0.6, 0.5, 0.42, 0.35];
const TARGET_FPS = 30;
const SLOW_FRAME_MS = 1.1 * 1000 / TARGET_FPS; // a median interval above this: one step smaller
const QUICK_FRAME_MS = 0.75 * 1000 / TARGET_FPS; // below this: one step larger, unless that step was slow lately
const SCALE_SAMPLES = 8; // frame intervals measured at a step before it is judged
const SLOW_MEMORY_MS = 5000; // a step found too slow is not tried again for this long (no see-saw)
const STALL_MS = 250; // a longer interval is a stall (a hidden tab, garbage collection), not the frame's cost

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);

// --- small numerics -------------------------------------------------------------------------------
const clamp = (x, a, b) => Math.min(Math.max(x, a), b);
function g(x) { // Python's '%g' for the numbers this page prints
  if (!Number.isFinite(x)) return String(x);
  return String(Number(x.toPrecision(6)));
}
function shortened(text, most = 4) { // 'a / b / ... / z' naming many parts: the first few and a count
  return text.split(/(; |: )/).map((chunk) => {
    const parts = chunk.split(' / '); // part labels may hold '/' ('S3/S4 truss'), never ' / '
    return parts.length > most ? `${parts.slice(0, most - 1).join(' / ')} and ${parts.length - most + 1} more parts` : chunk;
  }).join('');
}
function searchRight(arr, x) { // numpy.searchsorted(arr, x, side='right')
  let lo = 0, hi = arr.length;
  while (lo < hi) { const mid = (lo + hi) >> 1; if (arr[mid] <= x) lo = mid + 1; else hi = mid; }
  return lo;
}
function searchLeft(arr, x) {
  let lo = 0, hi = arr.length;
  while (lo < hi) { const mid = (lo + hi) >> 1; if (arr[mid] < x) lo = mid + 1; else hi = mid; }
  return lo;
}
function interp(x, xs, ys) { // numpy.interp
  const n = xs.length;
  if (x <= xs[0]) return ys[0];
  if (x >= xs[n - 1]) return ys[n - 1];
  const k = searchRight(xs, x) - 1;
  const f = (x - xs[k]) / (xs[k + 1] - xs[k]);
  return ys[k] + f * (ys[k + 1] - ys[k]);
}

function arrays(facts, buffer) {
  const out = {};
  for (const [name, d] of Object.entries(facts.arrays)) {
    const count = d.shape.reduce((a, b) => a * b, 1);
    out[name] = d.dtype === 'float64' ? new Float64Array(buffer, d.offset, count) : new Float32Array(buffer, d.offset, count);
  }
  return out;
}

// --- the record -----------------------------------------------------------------------------------
class Record {
  constructor(facts, a) {
    this.t = a.t; this.pos = a.pos; this.quat = a.quat; this.vel = a.vel;
    this.T = this.t.length; this.B = facts.names.length;
    this.mass = facts.mass_kg;
    this.P = new Float64Array(this.B * 3); // poses at this.at
    this.Q = new Float64Array(this.B * 4);
    this.at = NaN;
  }
  bracket(t) {
    const ts = this.t;
    t = clamp(t, ts[0], ts[this.T - 1]);
    if (this.T === 1) return [0, 0];
    const k = clamp(searchRight(ts, t) - 1, 0, this.T - 2);
    const h = ts[k + 1] - ts[k];
    return [k, h > 0 ? (t - ts[k]) / h : 0];
  }
  poseAt(t) { // positions by cubic Hermite with the recorded velocities, quaternions by slerp
    if (t === this.at) return;
    this.at = t;
    const [k, f] = this.bracket(t);
    const B = this.B, P = this.P, Q = this.Q, pos = this.pos, vel = this.vel, quat = this.quat;
    if (this.T === 1) { P.set(pos.subarray(0, B * 3)); Q.set(quat.subarray(0, B * 4)); return; }
    const h = this.t[k + 1] - this.t[k];
    const h00 = 2 * f ** 3 - 3 * f ** 2 + 1, h10 = f ** 3 - 2 * f ** 2 + f, h01 = -2 * f ** 3 + 3 * f ** 2, h11 = f ** 3 - f ** 2;
    const o0 = k * B * 3, o1 = (k + 1) * B * 3;
    for (let i = 0; i < B * 3; i++) {
      P[i] = h00 * pos[o0 + i] + h10 * h * vel[o0 + i] + h01 * pos[o1 + i] + h11 * h * vel[o1 + i];
    }
    const q0 = k * B * 4, q1 = (k + 1) * B * 4;
    for (let b = 0; b < B; b++) {
      const a = q0 + 4 * b, c = q1 + 4 * b;
      let dot = quat[a] * quat[c] + quat[a + 1] * quat[c + 1] + quat[a + 2] * quat[c + 2] + quat[a + 3] * quat[c + 3];
      const s = dot < 0 ? -1 : 1;
      dot = Math.abs(dot);
      const th = Math.acos(Math.min(dot, 1));
      let w0, w1;
      if (th < 1e-9) { w0 = 1 - f; w1 = f; } else { w0 = Math.sin((1 - f) * th) / Math.sin(th); w1 = Math.sin(f * th) / Math.sin(th); }
      let n = 0;
      for (let j = 0; j < 4; j++) { Q[4 * b + j] = w0 * quat[a + j] + w1 * s * quat[c + j]; n += Q[4 * b + j] ** 2; }
      n = Math.sqrt(n);
      for (let j = 0; j < 4; j++) Q[4 * b + j] /= n;
    }
  }
  velocityAt(t, b) { // linear between samples, as ViewerState.velocity_at
    const ts = this.t;
    if (this.T === 1) return [this.vel[3 * b], this.vel[3 * b + 1], this.vel[3 * b + 2]];
    const k = clamp(searchRight(ts, t) - 1, 0, this.T - 2);
    const f = clamp((t - ts[k]) / (ts[k + 1] - ts[k]), 0, 1);
    const a = (k * this.B + b) * 3, c = ((k + 1) * this.B + b) * 3;
    return [0, 1, 2].map((j) => (1 - f) * this.vel[a + j] + f * this.vel[c + j]);
  }
  com(parts, P, V) { // centre of mass (and its velocity) of parts, from flat (B*3) arrays
    let m = 0; const p = [0, 0, 0], v = [0, 0, 0];
    for (const b of parts) {
      const w = this.mass[b]; m += w;
      for (let j = 0; j < 3; j++) { p[j] += w * P[3 * b + j]; if (V) v[j] += w * V[3 * b + j]; }
    }
    return [p.map((x) => x / m), v.map((x) => x / m)];
  }
  sample(k) { return [this.pos.subarray(k * this.B * 3, (k + 1) * this.B * 3), this.vel.subarray(k * this.B * 3, (k + 1) * this.B * 3)]; }
}

// --- the far field: Sun, Earth's rotation ---------------------------------------------------------
function sunDirection(L, t, n) {
  let d = new THREE.Vector3(...L.sun_direction_lvlh).normalize();
  if (L.mode === 'night' && d.x > -0.5) d = new THREE.Vector3(-0.8, d.y, d.z).normalize();
  if (L.sun_moves) {
    const a = -n * t, c = Math.cos(a), s = Math.sin(a);
    d = new THREE.Vector3(c * d.x - s * d.y, s * d.x + c * d.y, d.z);
  }
  return d;
}

function earthFixedFromLvlh(E, t) { // transpose of issvis.pictures.stage.earth_orientation
  const u = E.u0_rad + (E.turns ? E.mean_motion_rad_s * t : 0);
  const th = E.turns ? EARTH_ROTATION_RAD_S * t : 0;
  const cO = Math.cos(E.raan_rad), sO = Math.sin(E.raan_rad), ci = Math.cos(E.inclination_rad), si = Math.sin(E.inclination_rad);
  const r = new THREE.Vector3(Math.cos(u) * cO - Math.sin(u) * ci * sO, Math.cos(u) * sO + Math.sin(u) * ci * cO, Math.sin(u) * si);
  const h = new THREE.Vector3(si * sO, -si * cO, ci);
  const y = new THREE.Vector3().crossVectors(h, r);
  const lvlhFromEci = new THREE.Matrix3().set(r.x, r.y, r.z, y.x, y.y, y.z, h.x, h.y, h.z);
  const ct = Math.cos(th), st = Math.sin(th);
  const eciFromEcef = new THREE.Matrix3().set(ct, -st, 0, st, ct, 0, 0, 0, 1);
  return lvlhFromEci.multiply(eciFromEcef).transpose();
}

const SKY_VERTEX = `
uniform mat4 invProj; uniform mat3 camRot;
varying vec3 vDir;
void main() {
  vec4 v = invProj * vec4(position.xy, 1.0, 1.0);
  vDir = camRot * (v.xyz / v.w);
  gl_Position = vec4(position.xy, 0.0, 1.0);
}`;

// Earth and its limb, in units of Earth's radius about its centre. The surface shading is the video's
// (issvis.pictures.earth.EARTH_FRAGMENT_IMPL) in world axes; the limb is issvis.pictures.earth.limb_colours
// evaluated per pixel at the ray's closest approach, with the stage's radial fade.
const EARTH_FRAGMENT = `
precision highp float;
uniform vec3 eyeE; uniform vec3 sunW; uniform mat3 fixedFromWorld;
uniform sampler2D earthMap; uniform sampler2D cloudMap;
uniform float sunGain, detailAmp, cloudAmp, glintGain, atmH, nightFloor, atmosphere, airglow;
varying vec3 vDir;
float issvisHash(vec2 p) { vec3 q = fract(vec3(p.xyx) * 0.1031); q += dot(q, q.yzx + 33.33); return fract((q.x + q.y) * q.z); }
float issvisNoise(vec2 p) {
  vec2 i = floor(p); vec2 f = fract(p); f = f * f * (3.0 - 2.0 * f);
  return mix(mix(issvisHash(i), issvisHash(i + vec2(1.0, 0.0)), f.x), mix(issvisHash(i + vec2(0.0, 1.0)), issvisHash(i + vec2(1.0, 1.0)), f.x), f.y);
}
const float PI = 3.14159265358979;
vec3 limb(vec3 nrm, vec3 axis, vec3 u, float f) {
  // radial fade of the ring (LIMB_RINGS 0, .12, .35, 1 -> alpha 1, .75, .30, 0)
  float alpha = f < 0.12 ? mix(1.0, 0.75, f / 0.12) : f < 0.35 ? mix(0.75, 0.30, (f - 0.12) / 0.23) : mix(0.30, 0.0, (f - 0.35) / 0.65);
  float mu = dot(nrm, sunW);
  float lit = pow(clamp((mu + 0.16) / 0.36, 0.0, 1.0), 1.5);
  float sunset = exp(-pow((mu - 0.02) / 0.09, 2.0));
  vec3 colour = vec3(0.42, 0.64, 1.0) * (1.0 - sunset) + vec3(1.0, 0.42, 0.16) * sunset * 1.25;
  vec3 sunPerp = sunW - axis * dot(sunW, axis);
  float toward = length(sunPerp) > 1e-6 ? dot(u, normalize(sunPerp)) : 0.0;
  float forward = 1.0 + 0.9 * pow(clamp(toward, 0.0, 1.0), 2.0);
  vec3 rgb = colour * lit * forward * alpha;
  // airglow: the faint green line above the night side that astronauts photograph
  rgb += vec3(0.10, 0.22, 0.12) * airglow * (1.0 - lit) * exp(-pow((f - 0.55) / 0.12, 2.0));
  return clamp(rgb, 0.0, 1.0);
}
void main() {
  vec3 d = normalize(vDir);
  float b = dot(eyeE, d);
  float c = dot(eyeE, eyeE) - 1.0;
  float disc = b * b - c;
  float tc = -b;
  vec3 cp = eyeE + tc * d;        // the ray's closest approach to Earth's centre
  float hc = length(cp) - 1.0;    // its height (below 0: the ray meets the surface)
  // the silhouette's coverage of this pixel: a smooth edge at any resolution
  float cover = tc > 0.0 ? clamp(0.5 - hc / max(fwidth(hc), 1e-9), 0.0, 1.0) : 0.0;
  float tHit = disc > 0.0 ? -b - sqrt(disc) : tc;
  vec3 nE = normalize(eyeE + tHit * d);
  vec3 pF = fixedFromWorld * nE;
  float lon = atan(pF.y, pF.x), lat = asin(clamp(pF.z, -1.0, 1.0));
  vec2 st = vec2((lon + PI) / (2.0 * PI), (lat + 0.5 * PI) / PI);
  // derivatives (taken by every pixel) without the jump at the date line: no seam of the smallest mip level
  vec2 st2 = vec2(fract(st.x + 0.5), st.y);
  vec2 dx = dFdx(st), dy = dFdy(st), dx2 = dFdx(st2), dy2 = dFdy(st2);
  if (abs(dx2.x) < abs(dx.x)) dx.x = dx2.x;
  if (abs(dy2.x) < abs(dy.x)) dy.x = dy2.x;
  vec3 col = vec3(0.0);
  if (cover > 0.0) {
    vec3 srgb = textureGrad(earthMap, st, dx, dy).rgb;
    float cloudField = textureGrad(cloudMap, st, dx, dy).r;
    vec3 sE = sunW; vec3 vE = -d;
    float ocean = smoothstep(0.025, 0.09, srgb.b - max(srgb.r, srgb.g)) * (1.0 - smoothstep(0.35, 0.5, srgb.g));
    vec3 alb = srgb * srgb;
#ifdef FAST
    float dn = 0.5, dc = 0.5;  // no fine noise: the far field is drawn at half size (one octave alone makes blocks)
#else
    float dn = issvisNoise(st * vec2(16384.0, 8192.0)) * 0.6 + issvisNoise(st * vec2(65536.0, 32768.0)) * 0.4;
    float dc = issvisNoise(st * vec2(3000.0, 1500.0)) * 0.6 + issvisNoise(st * vec2(9000.0, 4500.0)) * 0.4;
#endif
    alb *= 1.0 + detailAmp * (dn - 0.5) * (1.0 - 0.6 * ocean);
    float field = cloudField + 0.18 * (dc - 0.5);
    float cloud = smoothstep(0.50, 0.64, field) * cloudAmp;
    float mu = dot(nE, sE);
    float muV = max(dot(nE, vE), 0.0);
    float grazing = smoothstep(-0.04, 0.28, mu);
    vec3 sunColour = mix(vec3(1.0, 0.38, 0.12), vec3(1.0, 0.97, 0.92), grazing);
    float irradiance = sunGain * max(mu, 0.0) + 0.035 * smoothstep(-0.10, 0.02, mu);
    vec3 surface = mix(alb * 1.35, vec3(0.92), cloud);
    col = surface * sunColour * irradiance + surface * vec3(0.75, 0.85, 1.0) * nightFloor * (1.0 - smoothstep(-0.1, 0.05, mu));
    vec3 hE = normalize(sE + vE);
    float nh = max(dot(nE, hE), 0.0);
    float lnh = log2(max(nh, 1e-6));
    float glint = (exp2(900.0 * lnh) * 7.0 + exp2(90.0 * lnh) * 0.35) * ocean * (1.0 - cloud) * step(0.0, mu);
    col += glint * glintGain * sunColour;
    float rim1 = 1.0 - muV;
    float rim = rim1 * rim1 * rim1 * rim1 * rim1;
    vec3 haze = vec3(0.30, 0.50, 1.0) * sunColour * smoothstep(-0.12, 0.3, mu);
    col = mix(col, haze * 0.5, clamp(rim * 0.75 + 0.04, 0.0, 1.0) * atmosphere);
    col = sqrt(vec3(1.0) - exp(-col * 1.6));
  }
  // the limb: the glow of the air the ray passes through above the surface (added over the stars)
  vec3 glow = vec3(0.0);
  float f = hc / atmH;
  if (tc > 0.0 && atmosphere > 0.5 && f < 1.0) {
    vec3 axis = -normalize(eyeE);
    vec3 u = normalize(cp - axis * dot(cp, axis));
    glow = limb(normalize(cp), axis, u, max(f, 0.0));
  }
  if (cover <= 0.0 && glow == vec3(0.0)) discard;
  gl_FragColor = vec4(col * cover + glow * (1.0 - cover), cover);
}`;

const STAR_VERTEX = `
attribute vec4 look; uniform float pixelRatio; varying vec3 vColour;
void main() { vColour = look.rgb; gl_PointSize = look.a * pixelRatio; gl_Position = projectionMatrix * modelViewMatrix * vec4(position, 1.0); }`;
const STAR_FRAGMENT = `varying vec3 vColour; void main() { gl_FragColor = vec4(vColour, 1.0); }`;
const SUN_FRAGMENT = `
varying vec2 vUv;
void main() { // the video's disc and glare (issvis.pictures.stage._sun_glow_mesh): radius in disc radii
  float r = length(vUv - 0.5) * 16.0;
  float level = r < 1.0 ? 1.0 : r < 1.25 ? mix(1.0, 0.55, (r - 1.0) / 0.25) : r < 2.2 ? mix(0.55, 0.16, (r - 1.25) / 0.95)
    : r < 4.0 ? mix(0.16, 0.05, (r - 2.2) / 1.8) : r < 8.0 ? mix(0.05, 0.0, (r - 4.0) / 4.0) : 0.0;
  gl_FragColor = vec4(vec3(1.0, 0.98, 0.93) * level, 0.0);
}`;

// --- materials: the video's Phong look of a glTF material (issvis.pictures.stage.phong_look) --------
function phongOf(std) {
  const base = [std.color.r, std.color.g, std.color.b].map((c) => clamp(c, 0, 1));
  const metal = clamp(std.metalness, 0, 1), rough = clamp(std.roughness, 0.04, 1);
  const power = clamp(2 / rough ** 4 - 2, 4, 128);
  const peak = (1 - rough) ** 1.5;
  const specular = (0.08 + 0.9 * metal) * peak + 0.04;
  const diffuse = 1 - 0.55 * metal;
  // three.js's Blinn-Phong peak is (shininess / 2 + 1) / 4 times VTK's for the same colour
  const k = specular / (0.25 * (power / 2 + 1));
  const m = new THREE.MeshPhongMaterial({
    color: new THREE.Color(base[0] * diffuse, base[1] * diffuse, base[2] * diffuse),
    specular: new THREE.Color(...base.map((c) => (c * metal + (1 - metal)) * k)),
    shininess: power, map: std.map || null, normalMap: std.normalMap || null,
    side: std.side, name: std.name,
  });
  if (m.map) m.map.colorSpace = THREE.NoColorSpace;
  if (std.normalMap) m.normalScale.copy(std.normalScale);
  m.userData.base = base;
  return m;
}

// The vertex shader of a station material: each vertex turned and moved by its part's pose.
function posedByPart(material, parts, rows, tint) {
  material.onBeforeCompile = (shader) => {
    shader.uniforms.partRows = rows;
    shader.uniforms.partTint = tint;
    shader.vertexShader = shader.vertexShader
      .replace('#include <common>', `#include <common>
attribute float partIndex;
uniform vec4 partRows[${3 * parts}];
uniform vec3 partTint[${parts}];
varying vec3 vPartTint;`)
      .replace('#include <beginnormal_vertex>', `#include <beginnormal_vertex>
int partK = 3 * int(partIndex + 0.5);
vec4 partR0 = partRows[partK], partR1 = partRows[partK + 1], partR2 = partRows[partK + 2];
mat3 partRot = mat3(partR0.x, partR1.x, partR2.x, partR0.y, partR1.y, partR2.y, partR0.z, partR1.z, partR2.z);
objectNormal = partRot * objectNormal;
#ifdef USE_TANGENT
objectTangent = partRot * objectTangent;
#endif
vPartTint = partTint[int(partIndex + 0.5)];`)
      .replace('#include <begin_vertex>', `#include <begin_vertex>
transformed = partRot * transformed + vec3(partR0.w, partR1.w, partR2.w);`);
    shader.fragmentShader = shader.fragmentShader
      .replace('#include <common>', '#include <common>\nvarying vec3 vPartTint;')
      .replace('#include <color_fragment>', '#include <color_fragment>\ndiffuseColor.rgb *= vPartTint;');
  };
  material.customProgramCacheKey = () => `posedByPart${parts}`;
  return material;
}

// --- the viewer -----------------------------------------------------------------------------------
class Viewer {
  constructor(facts, blob, gltf, earthTex, cloudTex, software) {
    this.facts = facts;
    const a = arrays(facts, blob);
    this.a = a;
    this.rec = new Record(facts, a);
    this.software = software;
    // A software renderer draws the moving picture (playing, dragging, scrubbing) fast: at the dynamic
    // resolution, the far field at half of that and without its fine noise; the still picture follows at full
    // quality. Any renderer scales the moving picture down when it cannot hold TARGET_FPS (a GPU rarely has to).
    // ?quality=fast: always fast; ?quality=full: every frame at full quality and resolution.
    const quality = this.quality = params.get('quality') || 'auto';
    this.fast = software ? quality !== 'full' : quality === 'fast'; // has the cheaper far field
    this.alwaysFast = quality === 'fast';
    this.modeNow = 'full';
    this.movingUntil = 0;
    const r = this.rec;
    this.tStart = r.t[0]; this.tEnd = r.t[r.T - 1];
    this.state = { time: this.tStart, playing: false, speed: facts.default_speed, preset: a.keyframe_camera ? 1 : 2,
      tint: false, trails: false, axes: false, help: false, picked: null, notice: '', showEvents: false };
    this.eventTimes = [...new Set(facts.events.map((e) => e.t))].sort((x, y) => x - y);
    this.allParts = facts.names.map((_, i) => i);
    this.sideOf = facts.names.map((_, b) => (facts.sides ? (facts.sides[0].includes(b) ? 0 : facts.sides[1].includes(b) ? 1 : -1) : -1));
    this.partMatrix = facts.names.map(() => new THREE.Matrix4());
    this.cameraReset = true; this.anchor = null; this.framed = null;
    this.interacting = false; this.dirty = true;
    this.frameTimes = []; this.lastFrameMs = 0; this.lastNow = performance.now();
    this._separation();
    this._build(gltf, earthTex, cloudTex);
    this._bindUi();
    this.draw = this.draw.bind(this);
    requestAnimationFrame(this.draw);
  }

  _separation() { // distance and rate between the sides' centres of mass at every sample, and trails
    const f = this.facts, r = this.rec;
    this.sepDist = null;
    if (f.sides) {
      this.sepDist = new Float64Array(r.T); this.sepRate = new Float64Array(r.T);
      for (let k = 0; k < r.T; k++) {
        const [P, V] = r.sample(k);
        const [pa, va] = r.com(f.sides[0], P, V), [pb, vb] = r.com(f.sides[1], P, V);
        const dd = [0, 1, 2].map((j) => pa[j] - pb[j]);
        const dist = Math.hypot(...dd);
        this.sepDist[k] = dist;
        this.sepRate[k] = (dd[0] * (va[0] - vb[0]) + dd[1] * (va[1] - vb[1]) + dd[2] * (va[2] - vb[2])) / Math.max(dist, 1e-12);
      }
    }
    this.groupPaths = f.groups.map((grp) => {
      const path = new Float32Array((r.T + 1) * 3);
      for (let k = 0; k < r.T; k++) path.set(r.com(grp.parts, r.sample(k)[0])[0], 3 * k);
      return path;
    });
    this.groupPathsRecorded = this.groupPaths.map((path) => path.slice());
    this.trailNow = f.groups.map(() => 0);
  }

  _build(gltf, earthTex, cloudTex) {
    const canvas = $('canvas');
    const renderer = this.renderer = new THREE.WebGLRenderer({ canvas, antialias: !this.software, powerPreference: 'high-performance' });
    renderer.outputColorSpace = THREE.LinearSRGBColorSpace;
    renderer.autoClear = false;
    renderer.info.autoReset = false;
    this.basePixelRatio = this.software ? 1 : Math.min(window.devicePixelRatio || 1, 2);
    // while the picture moves, the canvas is drawn at movingScale of its size: chosen from the frame interval
    // (dynamic: a software renderer starts at half size, a GPU at full), or fixed by ?moving_scale=0.25..1;
    // the still picture follows at full size (as the server-rendered viewer's interactive frames)
    this.dynamic = this.quality !== 'full' && !params.has('moving_scale');
    this.scaleStep = this.software ? SCALE_STEPS.indexOf(0.5) : 0;
    this.movingScale = params.has('moving_scale') ? clamp(Number(params.get('moving_scale')), 0.25, 1)
      : this.quality === 'full' ? 1 : SCALE_STEPS[this.scaleStep];
    this.frameIntervals = []; this.slowAt = SCALE_STEPS.map(() => -Infinity);
    this.drewLastTick = false; this.lastTick = 0;
    this.scaleNow = 1;
    renderer.setPixelRatio(this.basePixelRatio);
    this.camera = new THREE.PerspectiveCamera(PRESET_FOV_DEG, 16 / 9, 1, 1000);
    this.camera.up.copy(ZENITH_UP);
    this.skyCamera = new THREE.PerspectiveCamera(PRESET_FOV_DEG, 16 / 9, 0.1, 10);
    this.controls = new OrbitControls(this.camera, canvas);
    this.controls.enableDamping = false;
    // the desktop viewer's mouse: left rotates, right and the wheel zoom, middle (or shift+left) pans
    this.controls.mouseButtons = { LEFT: THREE.MOUSE.ROTATE, MIDDLE: THREE.MOUSE.PAN, RIGHT: THREE.MOUSE.DOLLY };
    this.controls.zoomSpeed = 1.2;
    this.controls.addEventListener('start', () => { this.interacting = true; this.movedByUser = false; });
    this.controls.addEventListener('change', () => { this.movedByUser = true; this.dirty = true; });
    this.controls.addEventListener('end', () => {
      this.interacting = false;
      if (this.movedByUser && this.state.preset === 1) this.state.preset = FREE;
      this.dirty = true; this.updateUi();
    });

    // sky: stars and the Sun's disc, directions only (a camera at the origin, turned as the real one)
    this.sky = new THREE.Scene();
    const a = this.a, f = this.facts;
    if (a.star_dir.length) {
      const geo = new THREE.BufferGeometry();
      const dirs = new Float32Array(a.star_dir.length);
      for (let i = 0; i < dirs.length; i++) dirs[i] = a.star_dir[i] * 5;
      geo.setAttribute('position', new THREE.BufferAttribute(dirs, 3));
      geo.setAttribute('look', new THREE.BufferAttribute(new Float32Array(a.star_look), 4));
      this.stars = new THREE.Points(geo, new THREE.ShaderMaterial({ vertexShader: STAR_VERTEX, fragmentShader: STAR_FRAGMENT,
        uniforms: { pixelRatio: { value: renderer.getPixelRatio() } }, depthTest: false, depthWrite: false }));
      this.stars.frustumCulled = false;
      this.sky.add(this.stars);
    }
    if (f.lighting.mode === 'day') {
      const size = 4.75 * (0.4 * Math.PI / 180) * 16; // the disc is 0.4 deg in radius (1.5x true), glare to 8 radii
      this.sun = new THREE.Mesh(new THREE.PlaneGeometry(size, size), new THREE.ShaderMaterial({
        vertexShader: 'varying vec2 vUv; void main() { vUv = uv; gl_Position = projectionMatrix * modelViewMatrix * vec4(position, 1.0); }',
        fragmentShader: SUN_FRAGMENT, blending: THREE.CustomBlending, blendSrc: THREE.OneFactor, blendDst: THREE.OneFactor,
        depthTest: false, depthWrite: false, transparent: true }));
      this.sun.frustumCulled = false;
      this.sky.add(this.sun);
    }
    // Earth and its limb: one full-screen triangle
    this.earthScene = new THREE.Scene();
    if (f.earth.show && earthTex) {
      for (const tex of [earthTex, cloudTex]) {
        tex.colorSpace = THREE.NoColorSpace; tex.wrapS = THREE.RepeatWrapping; tex.wrapT = THREE.ClampToEdgeWrapping;
        tex.minFilter = THREE.LinearMipmapLinearFilter; tex.magFilter = THREE.LinearFilter; tex.anisotropy = 1;
        tex.generateMipmaps = true; tex.needsUpdate = true;
      }
      const tri = new THREE.BufferGeometry();
      tri.setAttribute('position', new THREE.BufferAttribute(new Float32Array([-1, -1, 0, 3, -1, 0, -1, 3, 0]), 3));
      this.earthUniforms = {
        invProj: { value: new THREE.Matrix4() }, camRot: { value: new THREE.Matrix3() }, eyeE: { value: new THREE.Vector3() },
        sunW: { value: new THREE.Vector3(1, 0, 0) }, fixedFromWorld: { value: new THREE.Matrix3() },
        earthMap: { value: earthTex }, cloudMap: { value: cloudTex },
        sunGain: { value: f.lighting.mode === 'night' ? 0 : f.earth.brightness }, detailAmp: { value: f.earth.detail },
        cloudAmp: { value: f.earth.clouds }, glintGain: { value: f.earth.glint }, atmH: { value: f.earth.atmosphere_m / f.earth.radius_m },
        nightFloor: { value: 0 }, atmosphere: { value: f.earth.atmosphere ? 1 : 0 }, airglow: { value: 1 },
      };
      const earthMaterial = (defines) => new THREE.ShaderMaterial({ vertexShader: SKY_VERTEX, fragmentShader: EARTH_FRAGMENT,
        defines, uniforms: this.earthUniforms, depthTest: false, depthWrite: false, transparent: true,
        blending: THREE.CustomBlending, blendSrc: THREE.OneFactor, blendDst: THREE.OneMinusSrcAlphaFactor });
      this.earthMaterials = { full: earthMaterial({}), fast: earthMaterial({ FAST: 1 }) };
      this.earth = new THREE.Mesh(tri, this.earthMaterials.full);
      this.earth.frustumCulled = false;
      this.earthScene.add(this.earth);
    }

    // the station: one mesh per material holding that material's triangles of every part, each vertex
    // with its part's number; the vertex shader moves it by its part's pose (a uniform array): one draw
    // call per material whatever the number of parts, and no texture fetch per vertex (BatchedMesh's
    // matrices texture cost llvmpipe 11-18 ms for the station where plain meshes took 8-11)
    const scene = this.scene = new THREE.Scene();
    const groups = new Map(); // material + attribute set -> [{part, geometry, material}]
    gltf.scene.traverse((obj) => {
      if (!obj.isMesh) return;
      let node = obj;
      while (node && node.userData.index === undefined) node = node.parent;
      if (!node) return;
      const attrs = Object.keys(obj.geometry.attributes).sort().join(',');
      const key = obj.material.uuid + '|' + attrs + '|' + (obj.geometry.index ? 'i' : 'n');
      if (!groups.has(key)) groups.set(key, []);
      groups.get(key).push({ part: node.userData.index, geometry: obj.geometry, material: obj.material });
    });
    const B = f.names.length;
    this.partRows = { value: new Float32Array(12 * B) }; // rows of each part's [R | p], shared by every material
    this.partTint = { value: new Float32Array(3 * B).fill(1) };
    this.stationMeshes = [];
    this.pickMeshes = [];
    this.partGeometries = f.names.map(() => []);
    let triangles = 0;
    for (const items of groups.values()) {
      const material = posedByPart(phongOf(items[0].material), B, this.partRows, this.partTint);
      const merged = mergeGeometries(items.map((it) => it.geometry), false);
      const index = new Float32Array(merged.attributes.position.count);
      let at = 0;
      for (const it of items) {
        index.fill(it.part, at, at + it.geometry.attributes.position.count);
        at += it.geometry.attributes.position.count;
        this.partGeometries[it.part].push(it.geometry);
        const pick = new THREE.Mesh(it.geometry, material);
        pick.userData.part = it.part; pick.matrixAutoUpdate = false;
        this.pickMeshes.push(pick);
      }
      merged.setAttribute('partIndex', new THREE.BufferAttribute(index, 1));
      const mesh = new THREE.Mesh(merged, material);
      mesh.frustumCulled = false; // its vertices move with their parts
      mesh.matrixAutoUpdate = false;
      triangles += (merged.index ? merged.index.count : merged.attributes.position.count) / 3;
      scene.add(mesh);
      this.stationMeshes.push(mesh);
    }
    this.triangles = triangles;
    // light: the Sun, earthshine from below, an ambient term, and the night's fill from the camera
    const L = f.lighting;
    this.sunLight = new THREE.DirectionalLight(0xffffff, 0);
    this.earthLight = new THREE.DirectionalLight(new THREE.Color(0.55, 0.70, 1.0), 0);
    this.fillLight = new THREE.DirectionalLight(new THREE.Color(0.85, 0.9, 1.0), 0);
    this.ambient = new THREE.AmbientLight(0xffffff, Math.PI * L.ambient);
    for (const light of [this.sunLight, this.earthLight, this.fillLight]) { scene.add(light); scene.add(light.target); }
    scene.add(this.ambient);

    // trails, axes, the picked part's outline, the jets' plumes
    const sideColours = f.sides ? [TINTS.departing, TINTS.remaining].map((c) => new THREE.Color(...c)) : [];
    this.trails = f.groups.map((grp, i) => {
      const geo = new THREE.BufferGeometry();
      geo.setAttribute('position', new THREE.BufferAttribute(this.groupPaths[i], 3));
      geo.setDrawRange(0, 0);
      const line = new THREE.Line(geo, new THREE.LineBasicMaterial({ color: sideColours[i] || new THREE.Color(TRAIL_COLOURS[i % 7]) }));
      line.frustumCulled = false; line.visible = false;
      scene.add(line);
      return line;
    });
    this.axes = new THREE.Group();
    const axisColours = [0xff4040, 0x40ff40, 0x4080ff];
    const names = ['x zenith', 'y along-track', 'z orbit normal'];
    this.axisLabels = [];
    for (let i = 0; i < 3; i++) {
      const dir = new THREE.Vector3().setComponent(i, 1);
      this.axes.add(new THREE.ArrowHelper(dir, new THREE.Vector3(), AXIS_LENGTH_M, axisColours[i], 0.12 * AXIS_LENGTH_M, 0.06 * AXIS_LENGTH_M));
      const span = document.createElement('span');
      span.textContent = names[i]; span.hidden = true;
      $('labels').appendChild(span);
      this.axisLabels.push([dir.clone().multiplyScalar(AXIS_LENGTH_M * 1.08), span]);
    }
    this.axes.visible = false;
    scene.add(this.axes);
    this.outline = null; this.outlines = new Map();
    if (f.jets) {
      const cone = new THREE.ConeGeometry(0.12, 1, 12, 1, true);
      cone.translate(0, -0.5, 0); cone.rotateX(-Math.PI / 2); // apex at the nozzle, opening along +z
      const mat = new THREE.MeshBasicMaterial({ color: new THREE.Color(...PLUME_RGB), transparent: true, opacity: 0.45,
        blending: THREE.AdditiveBlending, depthWrite: false, side: THREE.DoubleSide });
      this.plumes = new THREE.InstancedMesh(cone, mat, f.jets.part.length);
      this.plumes.count = 0; this.plumes.frustumCulled = false;
      this.jetLocal = f.jets.part.map((_, k) => {
        const z = new THREE.Vector3(...f.jets.dir_local[k]).normalize();
        const helper = Math.abs(z.x) < 0.9 ? new THREE.Vector3(1, 0, 0) : new THREE.Vector3(0, 1, 0);
        const x = new THREE.Vector3().crossVectors(helper, z).normalize();
        const y = new THREE.Vector3().crossVectors(z, x);
        const L = f.jets.length_m[k];
        return new THREE.Matrix4().makeBasis(x.multiplyScalar(L), y.multiplyScalar(L), z.multiplyScalar(L))
          .setPosition(...f.jets.pos_local_m[k]);
      });
      scene.add(this.plumes);
    }
    this.raycaster = new THREE.Raycaster();
    if (this.fast) { // the far field (smooth: a magnified texture, a glow) at half size, drawn into the picture
      this.farTarget = new THREE.WebGLRenderTarget(1, 1, { depthBuffer: false, generateMipmaps: false,
        minFilter: THREE.LinearFilter, magFilter: THREE.LinearFilter });
      const tri = new THREE.BufferGeometry();
      tri.setAttribute('position', new THREE.BufferAttribute(new Float32Array([-1, -1, 0, 3, -1, 0, -1, 3, 0]), 3));
      const copy = new THREE.Mesh(tri, new THREE.ShaderMaterial({ uniforms: { far: { value: this.farTarget.texture } },
        vertexShader: 'varying vec2 vUv; void main() { vUv = 0.5 * position.xy + 0.5; gl_Position = vec4(position.xy, 0.0, 1.0); }',
        fragmentShader: 'uniform sampler2D far; varying vec2 vUv; void main() { gl_FragColor = texture2D(far, vUv); }',
        depthTest: false, depthWrite: false }));
      copy.frustumCulled = false;
      this.copyScene = new THREE.Scene();
      this.copyScene.add(copy);
    }
    this.resize();
    new ResizeObserver(() => { this.resize(); }).observe($('view'));
  }

  resize() {
    const view = $('view');
    const w = Math.max(view.clientWidth, 1), h = Math.max(view.clientHeight, 1);
    this.renderer.setPixelRatio(this.basePixelRatio * this.scaleNow);
    this.renderer.setSize(w, h, false);
    let skyRatio = this.basePixelRatio * this.scaleNow; // the stars' size in the pixels they are drawn to
    if (this.farTarget) {
      const pr = this.basePixelRatio * this.movingScale;
      this.farTarget.setSize(Math.ceil(w * pr / 2), Math.ceil(h * pr / 2));
      if (this.modeNow === 'fast') skyRatio = pr / 2;
    }
    if (this.stars) this.stars.material.uniforms.pixelRatio.value = skyRatio;
    this.camera.aspect = w / h;
    this.camera.updateProjectionMatrix();
    this.dirty = true;
  }

  // -- time --------------------------------------------------------------------------------------
  setTime(t) { this.state.time = clamp(Number(t), this.tStart, this.tEnd); this.state.notice = ''; this.dirty = true; }
  scrub(t) { this.state.playing = false; this.setTime(t); this.updateUi(); }
  sliderMoved(t) { this.movingUntil = performance.now() + 300; this.scrub(t); } // dragging: moving frames
  togglePlay() {
    const st = this.state;
    if (!st.playing && st.time >= this.tEnd - SAME_TIME_S) st.time = this.tStart;
    st.playing = !st.playing; this.lastNow = performance.now(); this.dirty = true;
  }
  step(direction) {
    const st = this.state, ts = this.rec.t;
    st.playing = false;
    if (direction > 0) this.setTime(ts[Math.min(searchRight(ts, st.time + SAME_TIME_S), ts.length - 1)]);
    else this.setTime(ts[Math.max(searchLeft(ts, st.time - SAME_TIME_S) - 1, 0)]);
  }
  nextEvent(direction) {
    const st = this.state, times = this.eventTimes;
    const none = times.length ? null : 'no events in this record';
    const pick = direction > 0 ? times.find((t) => t > st.time + SAME_TIME_S) : [...times].reverse().find((t) => t < st.time - SAME_TIME_S);
    if (pick === undefined || none) { st.notice = none || (direction > 0 ? 'no more events' : 'no earlier events'); this.dirty = true; return false; }
    this.setTime(pick); st.playing = false; return true;
  }
  faster() { const s = this.facts.speeds; this.state.speed = s.find((x) => x > this.state.speed * (1 + 1e-9)) ?? s[s.length - 1]; }
  slower() { const s = this.facts.speeds; this.state.speed = [...s].reverse().find((x) => x < this.state.speed * (1 - 1e-9)) ?? s[0]; }
  selectPreset(n) {
    if (![1, 2, 3, 4].includes(n)) return;
    if (n === 1 && !this.a.keyframe_camera) n = 2;
    if (n === 3 && !this.facts.interface) n = 2;
    this.state.preset = n; this.cameraReset = true; this.dirty = true;
  }
  action(name) { // the desktop viewer's key actions (issvis.pictures.viewer.KEYS)
    const st = this.state;
    if (name === 'play') this.togglePlay();
    else if (name === 'faster') this.faster();
    else if (name === 'slower') this.slower();
    else if (name === 'step_next' || name === 'step_prev') this.step(name === 'step_next' ? 1 : -1);
    else if (name === 'event_next' || name === 'event_prev') this.nextEvent(name === 'event_next' ? 1 : -1);
    else if (name.startsWith('preset')) this.selectPreset(Number(name.slice(6)));
    else if (['tint', 'trails', 'axes', 'help'].includes(name)) st[name] = !st[name];
    else if (name === 'events') st.showEvents = !st.showEvents;
    else return;
    this.dirty = true; this.updateUi();
  }

  // -- camera (ViewerState.camera) ----------------------------------------------------------------
  target() {
    const st = this.state, r = this.rec, P = r.P, Q = r.Q;
    if (st.preset === 3) {
      const faces = this.facts.interface.map(([k, off]) => {
        const q = new THREE.Quaternion(Q[4 * k], Q[4 * k + 1], Q[4 * k + 2], Q[4 * k + 3]);
        return new THREE.Vector3(...off).applyQuaternion(q).add(new THREE.Vector3(P[3 * k], P[3 * k + 1], P[3 * k + 2]));
      });
      return [faces[0].clone().add(faces[1]).multiplyScalar(0.5), 0.5 * faces[0].distanceTo(faces[1]) + INTERFACE_MARGIN_M];
    }
    const parts = st.preset === 4 ? this.facts.follow.parts : this.allParts;
    const com = new THREE.Vector3(...r.com(parts, P)[0]);
    let reach = 0;
    for (const b of parts) reach = Math.max(reach, Math.hypot(P[3 * b] - com.x, P[3 * b + 1] - com.y, P[3 * b + 2] - com.z) + this.facts.radius_m[b]);
    return [com, reach];
  }
  interfaceFrom() {
    const [[kc], [kp]] = this.facts.interface, P = this.rec.P;
    const line = new THREE.Vector3(P[3 * kc] - P[3 * kp], P[3 * kc + 1] - P[3 * kp + 1], P[3 * kc + 2] - P[3 * kp + 2]);
    if (line.length() < 1e-6) return INTERFACE_FROM.clone();
    line.normalize();
    const sq = INTERFACE_FROM.clone().addScaledVector(line, -INTERFACE_FROM.dot(line));
    return sq.length() > 0.1 ? sq.normalize() : INTERFACE_FROM.clone();
  }
  keyframePose(t) {
    const kf = this.a.keyframe_camera, n = kf.length / 11;
    let lo = 0, hi = n; // first row with t >= time
    while (lo < hi) { const mid = (lo + hi) >> 1; if (kf[11 * mid] < t) lo = mid + 1; else hi = mid; }
    const i1 = Math.min(lo, n - 1), i0 = Math.max(i1 - 1, 0);
    const t0 = kf[11 * i0], t1 = kf[11 * i1];
    const w = t1 > t0 ? clamp((t - t0) / (t1 - t0), 0, 1) : 1;
    const v = (j) => (1 - w) * kf[11 * i0 + j] + w * kf[11 * i1 + j];
    return { position: new THREE.Vector3(v(1), v(2), v(3)), focal: new THREE.Vector3(v(4), v(5), v(6)),
      up: new THREE.Vector3(v(7), v(8), v(9)).normalize(), fov: v(10) };
  }
  presetPose() { // the camera for now, given the current one; null leaves it alone
    const st = this.state;
    if (st.preset === FREE) return null;
    if (st.preset === 1) return this.keyframePose(st.time);
    const [anchor, radius] = this.target();
    // the bounding sphere fits the view's height (0.85: the station is flat, wide in a 16:9 view)
    const distance = radius / Math.sin(THREE.MathUtils.degToRad(PRESET_FOV_DEG) / 2) * (st.preset === 3 ? 1.15 : 0.85);
    if (this.cameraReset || !this.anchor) {
      this.cameraReset = false; this.anchor = anchor.clone(); this.framed = distance;
      const from = { 2: WHOLE_STATION_FROM, 3: this.interfaceFrom(), 4: FOLLOW_FROM }[st.preset];
      return { position: anchor.clone().addScaledVector(from, distance), focal: anchor.clone(), up: ZENITH_UP.clone(), fov: PRESET_FOV_DEG };
    }
    // afterwards: move with the target, keep the user's direction and zoom, and back off as the target
    // grows (the departing side stays in the picture of camera 2 as well as of 3 and 4)
    const delta = anchor.clone().sub(this.anchor);
    this.anchor.copy(anchor);
    const focal = this.controls.target.clone().add(delta);
    const offset = this.camera.position.clone().add(delta).sub(focal);
    const now = offset.length();
    const zoom = now > 0 && this.framed ? now / this.framed : 1;
    this.framed = distance;
    return { position: focal.clone().addScaledVector(offset.normalize(), distance * zoom), focal, up: this.camera.up.clone(), fov: this.camera.fov };
  }
  applyPose(p) {
    const cam = this.camera;
    cam.position.copy(p.position);
    this.controls.target.copy(p.focal);
    if (!cam.up.equals(p.up)) {
      cam.up.copy(p.up);
      this.controls._quat.setFromUnitVectors(cam.up, new THREE.Vector3(0, 1, 0)); // OrbitControls orbits about camera.up
      this.controls._quatInverse.copy(this.controls._quat).invert();
    }
    cam.lookAt(p.focal);
    if (cam.fov !== p.fov) { cam.fov = p.fov; cam.updateProjectionMatrix(); }
  }

  // -- picking ----------------------------------------------------------------------------------
  pickAt(x, y) { // client pixel coordinates in the canvas; returns the part's name or null
    const rect = $('canvas').getBoundingClientRect();
    const ndc = new THREE.Vector2(((x - rect.left) / rect.width) * 2 - 1, -((y - rect.top) / rect.height) * 2 + 1);
    this.raycaster.setFromCamera(ndc, this.camera);
    for (const m of this.pickMeshes) m.matrixWorld.copy(this.partMatrix[m.userData.part]);
    const hit = this.raycaster.intersectObjects(this.pickMeshes, false)[0];
    this.state.picked = hit ? this.facts.names[hit.object.userData.part] : null;
    this.dirty = true; this.updateUi();
    return this.state.picked;
  }
  outlineOf(part) {
    if (!this.outlines.has(part)) {
      const group = new THREE.Group();
      const mat = new THREE.LineBasicMaterial({ color: HIGHLIGHT });
      for (const geo of this.partGeometries[part]) group.add(new THREE.LineSegments(new THREE.EdgesGeometry(geo, 35), mat));
      group.matrixAutoUpdate = false;
      this.outlines.set(part, group);
    }
    return this.outlines.get(part);
  }

  // -- text (ViewerState.status_text, info_text) --------------------------------------------------
  statusText() {
    const st = this.state, f = this.facts, t = st.time;
    const m = Math.floor(t / 60), s = t - 60 * m;
    const lines = [`t = ${t.toFixed(2).padStart(8)} s  (${String(m).padStart(2, '0')}:${s.toFixed(2).padStart(5, '0')})  of ${g(this.tEnd)} s`];
    if (this.sepDist) {
      if (t < f.first_separation_s) lines.push(`docked; undocking at t = ${g(f.first_separation_s)} s`);
      else {
        const d = interp(t, this.rec.t, this.sepDist), rate = interp(t, this.rec.t, this.sepRate);
        lines.push(`separation ${d.toFixed(2).padStart(8)} m (CoM to CoM), rate ${rate >= 0 ? '+' : ''}${rate.toFixed(3)} m/s`);
        if (this.a.clearance) {
          const gap = interp(t, this.rec.t, this.a.clearance);
          if (Number.isFinite(gap)) lines.push(`clearance  ${gap.toFixed(2).padStart(8)} m`);
        }
      }
    }
    const past = f.event_lines.filter((e) => e.t <= t + SAME_TIME_S);
    if (past.length) lines.push(`t = ${g(past[past.length - 1].t)} s: ${shortened(past[past.length - 1].said)}`);
    if (st.notice) lines.push(st.notice);
    const camera = st.preset === 4 ? `follow ${f.follow.label}` : (f.presets[String(st.preset)] || 'free');
    // the rate while the picture moves; a still picture is drawn once (frames on change), so no rate then
    const moving = st.playing || this.interacting;
    // and the dynamic resolution's scale while it is below 1 (the still picture is at full resolution)
    const scale = this.scaleNow < 1 ? ` at ${this.scaleNow.toFixed(2)} scale` : '';
    const rate = moving && this.fps ? `   ${this.fps.toFixed(1).padStart(4)} frames/s${scale}` : '   still';
    lines.push(`${st.playing ? 'playing' : 'paused'} x${g(st.speed)}   camera: ${camera}${rate}   h: help`);
    if (this.night > 0.5) lines.push('night: the Sun is behind Earth (exposure raised)');
    return lines.join('\n');
  }
  infoText() {
    const st = this.state, f = this.facts;
    if (st.picked === null) return '';
    const k = f.names.indexOf(st.picked);
    const v = this.rec.velocityAt(st.time, k);
    const sp = (x) => (x >= 0 ? '+' : '') + x.toFixed(4);
    const lines = [f.labels[k], `part     ${st.picked}`, `segment  ${f.segment[k]}`,
      `mass     ${Math.round(f.mass_kg[k]).toLocaleString('en-US')} kg`,
      `velocity ${Math.hypot(...v).toFixed(4)} m/s LVLH`, `  (${sp(v[0])}, ${sp(v[1])}, ${sp(v[2])}) m/s x,y,z`];
    const w = Math.max(...lines.map((l) => l.length));
    return lines.map((l) => l.padEnd(w)).join('\n');
  }

  // -- the page's controls ------------------------------------------------------------------------
  _bindUi() {
    const f = this.facts;
    $('title').textContent = f.title;
    document.title = `issvis - ${f.title}`;
    const speed = $('speed');
    for (const s of f.speeds) speed.add(new Option(g(s), String(s)));
    speed.onchange = () => { this.state.speed = Number(speed.value); this.dirty = true; this.updateUi(); };
    const cam = $('camera');
    for (const [n, label] of Object.entries(f.presets)) cam.add(new Option(`${n} ${label}`, n));
    cam.add(new Option('free (the mouse moved it)', '0'));
    cam.onchange = () => { this.action('preset' + cam.value); };
    for (const name of ['tint', 'trails', 'axes']) $(name).onchange = () => { this.action(name); $('canvas').focus(); };
    const buttons = { 'btn-play': 'play', 'btn-event-prev': 'event_prev', 'btn-event-next': 'event_next',
      'btn-step-prev': 'step_prev', 'btn-step-next': 'step_next', 'btn-help': 'help', 'btn-events': 'events' };
    for (const [id, act] of Object.entries(buttons)) $(id).onclick = () => { this.action(act); $('canvas').focus(); };
    const slider = $('time-slider');
    slider.min = String(this.tStart); slider.max = String(this.tEnd);
    slider.oninput = () => this.sliderMoved(Number(slider.value));
    $('help').textContent = f.help;
    const list = $('events');
    this.eventRows = f.events.map((e) => {
      const row = document.createElement('div');
      row.textContent = `t = ${g(e.t).padStart(6)} s  ${shortened(e.text)}`;
      row.title = e.text;
      row.onclick = () => { this.state.playing = false; this.setTime(e.t); this.updateUi(); };
      list.appendChild(row);
      return [e.t, row];
    });
    if (!f.events.length) list.textContent = 'no events in this record';
    const keys = { ' ': 'play', '+': 'faster', '=': 'faster', '-': 'slower', '_': 'slower', ArrowRight: 'step_next',
      ArrowLeft: 'step_prev', n: 'event_next', e: 'event_next', N: 'event_prev', E: 'event_prev', 1: 'preset1', 2: 'preset2',
      3: 'preset3', 4: 'preset4', t: 'tint', r: 'trails', a: 'axes', h: 'help', '?': 'help' };
    document.addEventListener('keydown', (e) => {
      if (e.ctrlKey || e.altKey || e.metaKey) return;
      const tag = e.target && e.target.tagName;
      if (tag === 'SELECT' || tag === 'TEXTAREA' || (tag === 'INPUT' && e.target.type !== 'checkbox' && e.target.type !== 'range')) return;
      if (e.key === 'Escape' && this.state.help) { this.action('help'); return; }
      const act = keys[e.key];
      if (!act) return;
      e.preventDefault();
      this.action(act);
    });
    const canvas = $('canvas');
    let down = null;
    canvas.addEventListener('pointerdown', (e) => { if (e.button === 0) down = [e.clientX, e.clientY]; canvas.focus(); });
    canvas.addEventListener('pointerup', (e) => {
      if (e.button === 0 && down && Math.abs(e.clientX - down[0]) + Math.abs(e.clientY - down[1]) <= 3) this.pickAt(e.clientX, e.clientY);
      down = null;
    });
    if (params.get('play') === '1') this.togglePlay();
    if (params.has('t')) this.setTime(Number(params.get('t')));
    if (params.has('camera')) this.selectPreset(Number(params.get('camera')));
    this.updateUi();
  }
  updateUi() {
    const st = this.state;
    $('btn-play').textContent = st.playing ? 'pause' : 'play';
    $('speed').value = String(st.speed);
    $('camera').value = String(st.preset);
    for (const name of ['tint', 'trails', 'axes']) $(name).checked = st[name];
    $('help').hidden = !st.help;
    $('events').hidden = !st.showEvents;
  }

  // -- one frame --------------------------------------------------------------------------------------
  update() {
    const st = this.state, f = this.facts, r = this.rec;
    r.poseAt(st.time);
    const P = r.P, Q = r.Q;
    const q = new THREE.Quaternion(), p = new THREE.Vector3(), one = new THREE.Vector3(1, 1, 1);
    for (let b = 0; b < r.B; b++) {
      this.partMatrix[b].compose(p.set(P[3 * b], P[3 * b + 1], P[3 * b + 2]), q.set(Q[4 * b], Q[4 * b + 1], Q[4 * b + 2], Q[4 * b + 3]), one);
    }
    const rows = this.partRows.value, tint = this.partTint.value;
    for (let b = 0; b < r.B; b++) {
      const e = this.partMatrix[b].elements; // column-major
      rows.set([e[0], e[4], e[8], e[12], e[1], e[5], e[9], e[13], e[2], e[6], e[10], e[14]], 12 * b);
      const sd = st.tint && f.sides ? (this.sideOf[b] === 0 ? 'departing' : this.sideOf[b] === 1 ? 'remaining' : null) : null;
      // tint: the side's colour over the material's (the stage mixes 35 % of the material with 65 % of the
      // side's; as one factor per part on every material: the side's colour over a light grey)
      for (let j = 0; j < 3; j++) tint[3 * b + j] = sd ? (0.35 * 0.8 + 0.65 * TINTS[sd][j]) / 0.8 : 1;
      if (f.names[b] === st.picked) for (let j = 0; j < 3; j++) tint[3 * b + j] *= 1.25;
    }
    // the camera
    if (!this.interacting) {
      const pose = this.presetPose();
      if (pose) this.applyPose(pose);
    }
    const cam = this.camera;
    cam.updateMatrixWorld();
    const eye = cam.position;
    // clipping range for the station: from the nearest part's sphere (close-ups are not clipped) to past the farthest
    let near = Infinity, far = AXIS_LENGTH_M * 2;
    for (let b = 0; b < r.B; b++) {
      const d = Math.hypot(P[3 * b] - eye.x, P[3 * b + 1] - eye.y, P[3 * b + 2] - eye.z), rad = f.radius_m[b];
      near = Math.min(near, d - rad); far = Math.max(far, d + rad);
    }
    near = clamp(0.8 * near, f.near_m, 50);
    far = Math.max(far * 1.05, near * 10, eye.length() + AXIS_LENGTH_M * 2);
    if (Math.abs(cam.near - near) > 1e-3 * near || Math.abs(cam.far - far) > 1e-3 * far) { cam.near = near; cam.far = far; cam.updateProjectionMatrix(); }

    // light (issvis.pictures.stage.Stage.set_time)
    const L = f.lighting, E = f.earth;
    const sd = sunDirection(L, st.time, E.mean_motion_rad_s);
    const limbDip = Math.acos(E.radius_m / (E.radius_m + E.altitude_m));
    const above = Math.asin(clamp(sd.x, -1, 1)) + limbDip;
    const sunlit = clamp((above + 0.004) / 0.012, 0, 1), warm = clamp(above / 0.10, 0, 1);
    const day = L.mode === 'day';
    this.sunLight.intensity = Math.PI * (day ? L.sun_intensity : 0) * sunlit;
    this.sunLight.color.setRGB(...[0, 1, 2].map((j) => [1.0, 0.55, 0.28][j] * (1 - warm) + [1.0, 0.97, 0.92][j] * warm));
    this.sunLight.position.copy(sd);
    const ground = clamp((sd.x + 0.30) / 0.6, 0, 1);
    this.earthLight.intensity = Math.PI * L.earthshine * (day ? 0.08 + 0.92 * ground : 0.35);
    this.earthLight.position.set(-1, 0, 0); // from Earth, below
    this.night = day ? 1 - sunlit : 1;
    this.fillLight.intensity = Math.PI * (FILL + (NIGHT_FILL - FILL) * this.night);
    this.fillLight.position.copy(eye); this.fillLight.target.position.copy(this.controls.target);
    this.fillLight.target.updateMatrixWorld();

    // far field
    this.skyCamera.quaternion.copy(cam.quaternion);
    if (this.skyCamera.fov !== cam.fov || this.skyCamera.aspect !== cam.aspect) {
      this.skyCamera.fov = cam.fov; this.skyCamera.aspect = cam.aspect; this.skyCamera.updateProjectionMatrix();
    }
    this.skyCamera.updateMatrixWorld();
    if (this.sun) { this.sun.position.copy(sd).multiplyScalar(4.75); this.sun.lookAt(0, 0, 0); }
    if (this.earth) {
      const u = this.earthUniforms, R = E.radius_m;
      u.invProj.value.copy(this.skyCamera.projectionMatrixInverse);
      u.camRot.value.setFromMatrix4(this.skyCamera.matrixWorld);
      u.eyeE.value.set((eye.x + R + E.altitude_m) / R, eye.y / R, eye.z / R);
      u.sunW.value.copy(sd);
      u.fixedFromWorld.value.copy(earthFixedFromLvlh(E, st.time));
      u.nightFloor.value = NIGHT_EARTH_FLOOR * this.night;
    }
    // overlays
    const k = searchLeft(r.t, st.time - SAME_TIME_S);
    this.trails.forEach((line, i) => {
      line.visible = st.trails;
      if (!st.trails) return;
      // the path's samples before now, then now (ViewerState.trail_points); the point that held the last
      // 'now' gets its sample back first
      const path = this.groupPaths[i], was = this.trailNow[i];
      path.set(this.groupPathsRecorded[i].subarray(3 * was, 3 * was + 3), 3 * was);
      this.trailNow[i] = k;
      path.set(r.com(f.groups[i].parts, P)[0], 3 * k);
      line.geometry.attributes.position.needsUpdate = true;
      line.geometry.setDrawRange(0, k + 1);
    });
    this.axes.visible = st.axes;
    const rect = $('canvas').getBoundingClientRect();
    for (const [point, span] of this.axisLabels) {
      span.hidden = !st.axes || st.help;
      if (span.hidden) continue;
      const v = point.clone().project(cam);
      span.hidden = v.z > 1 || Math.abs(v.x) > 1.2 || Math.abs(v.y) > 1.2;
      span.style.left = `${((v.x + 1) / 2) * rect.width}px`; span.style.top = `${((1 - v.y) / 2) * rect.height}px`;
    }
    if (this.outline) { this.scene.remove(this.outline); this.outline = null; }
    if (st.picked !== null) {
      const b = f.names.indexOf(st.picked);
      this.outline = this.outlineOf(b);
      this.outline.matrix.copy(this.partMatrix[b]); this.outline.matrixWorldNeedsUpdate = true;
      this.scene.add(this.outline);
    }
    if (this.plumes) {
      let n = 0; const pulses = this.a.jet_pulses, m = new THREE.Matrix4();
      const firing = new Set();
      for (let i = 0; i < pulses.length; i += 3) {
        if (pulses[i + 1] <= st.time && st.time < Math.max(pulses[i + 2], pulses[i + 1] + PLUME_MIN_VISIBLE_S)) firing.add(pulses[i]);
      }
      for (const j of firing) { this.plumes.setMatrixAt(n++, m.multiplyMatrices(this.partMatrix[f.jets.part[j]], this.jetLocal[j])); }
      this.plumes.count = n; this.plumes.instanceMatrix.needsUpdate = true;
    }
    // text
    const status = this.statusText();
    if (status !== this.shownStatus) { $('status').textContent = status; this.shownStatus = status; }
    const info = this.infoText();
    if (info !== this.shownInfo) { $('info').textContent = info; $('info').hidden = !info; this.shownInfo = info; }
    const slider = $('time-slider');
    if (document.activeElement !== slider || st.playing) slider.value = String(st.time);
    $('time-label').textContent = st.time.toFixed(1);
    for (const [t, row] of this.eventRows) row.classList.toggle('past', t <= st.time + SAME_TIME_S);
  }

  render() {
    const rd = this.renderer;
    rd.info.reset();
    rd.setClearColor(0x000000, 1);
    const far = this.modeNow === 'fast' ? this.farTarget : null;
    if (far) rd.setRenderTarget(far);
    rd.clear(true, true, true);
    rd.render(this.sky, this.skyCamera);
    if (this.earth) rd.render(this.earthScene, this.skyCamera);
    if (far) {
      rd.setRenderTarget(null);
      rd.render(this.copyScene, this.skyCamera);
    }
    rd.clearDepth();
    rd.render(this.scene, this.camera);
  }

  draw(now) {
    requestAnimationFrame(this.draw);
    const st = this.state;
    const dt = Math.min(Math.max((now - this.lastNow) / 1000, 0), MAX_TICK_S);
    this.lastNow = now;
    if (st.playing) {
      const before = st.time;
      st.time = clamp(st.time + st.speed * dt, this.tStart, this.tEnd);
      if (st.time >= this.tEnd) { st.playing = false; this.updateUi(); }
      if (st.time !== before) this.dirty = true;
    }
    const moving = st.playing || this.interacting || now < this.movingUntil;
    // the time since the last tick measures the last frame only when that tick drew one (a drag draws on
    // mouse moves: the gaps between them are the user's, not the renderer's)
    if (this.drewLastTick && this.wasMoving && moving && this.dynamic) this.adaptScale(now - this.lastTick);
    this.lastTick = now; this.drewLastTick = false; this.wasMoving = moving;
    const mode = this.fast && (moving || this.alwaysFast) ? 'fast' : 'full';
    const scale = moving || this.alwaysFast ? this.movingScale : 1;
    if (mode !== this.modeNow || scale !== this.scaleNow) {
      this.modeNow = mode;
      this.scaleNow = scale;
      if (this.earth) this.earth.material = this.earthMaterials[mode];
      this.resize(); // and dirty: the still picture follows at full quality and resolution
    }
    if (!this.dirty) return; // frames are drawn on change only
    this.dirty = false; this.drewLastTick = true;
    const t0 = performance.now();
    this.update();
    this.render();
    this.lastFrameMs = performance.now() - t0;
    this.frameTimes.push(now);
    while (this.frameTimes.length && this.frameTimes[0] < now - 1000) this.frameTimes.shift();
    this.fps = this.frameTimes.length > 2 ? (this.frameTimes.length - 1) / ((now - this.frameTimes[0]) / 1000) : this.fps;
    this.framesDrawn = (this.framesDrawn || 0) + 1;
    this.calls = this.renderer.info.render.calls;
    this.renderedTriangles = this.renderer.info.render.triangles;
  }

  // One measured frame interval (ms) while the picture moves: after SCALE_SAMPLES of them at a step, their
  // median moves the dynamic resolution one step down (slower than TARGET_FPS) or up (well faster, and the
  // larger step was not found slow in the last SLOW_MEMORY_MS). Returns the scale for moving frames.
  adaptScale(intervalMs) {
    if (!(intervalMs > 0 && intervalMs < STALL_MS)) return this.movingScale;
    const now = performance.now();
    this.frameIntervals.push(intervalMs);
    if (this.frameIntervals.length < SCALE_SAMPLES) return this.movingScale;
    const sorted = this.frameIntervals.slice().sort((x, y) => x - y);
    const median = sorted[sorted.length >> 1];
    this.frameIntervals = [];
    let step = this.scaleStep;
    if (median > SLOW_FRAME_MS && step < SCALE_STEPS.length - 1) { this.slowAt[step] = now; step += 1; }
    else if (median < QUICK_FRAME_MS && step > 0 && now - this.slowAt[step - 1] > SLOW_MEMORY_MS) step -= 1;
    if (step !== this.scaleStep) { this.scaleStep = step; this.movingScale = SCALE_STEPS[step]; this.dirty = true; }
    return this.movingScale;
  }

  stats() { // for the tests and benchmarks/webgl_fps.py
    // per frame: the parts' poses and tints (uniforms, sent with each of the station's draw calls)
    let uploads = (this.partRows.value.byteLength + this.partTint.value.byteLength) * this.stationMeshes.length;
    if (this.plumes) uploads += this.plumes.count * 64;
    if (this.state.trails) uploads += this.trails.reduce((s, l) => s + l.geometry.attributes.position.array.byteLength, 0);
    return { frames: this.framesDrawn || 0, fps: this.fps, calls: this.calls, triangles: this.renderedTriangles,
      stationTriangles: this.triangles, stationDrawCalls: this.stationMeshes.length, lastFrameMs: this.lastFrameMs,
      uploadBytesPerFrame: uploads, software: this.software, mode: this.modeNow, detail: this.detail, scale: this.scaleNow,
      movingScale: this.movingScale, dynamic: this.dynamic,
      drawingBuffer: [this.renderer.domElement.width, this.renderer.domElement.height], renderer: this.rendererName, time: this.state.time,
      playing: this.state.playing, preset: this.state.preset, picked: this.state.picked };
  }
}

// --- loading -----------------------------------------------------------------------------------------
function rendererName() {
  const probe = document.createElement('canvas').getContext('webgl2');
  if (!probe) return null;
  const ext = probe.getExtension('WEBGL_debug_renderer_info');
  const name = String(probe.getParameter(ext ? ext.UNMASKED_RENDERER_WEBGL : probe.RENDERER));
  const lose = probe.getExtension('WEBGL_lose_context');
  if (lose) lose.loseContext();
  return name;
}

async function bytesOf(name) {
  const reply = await fetch(name);
  if (!reply.ok) throw new Error(`${name}: ${reply.status} ${await reply.text()}`);
  return reply.arrayBuffer();
}

async function imageTexture(name) {
  const blob = new Blob([await bytesOf(name)], { type: 'image/jpeg' });
  const bitmap = await createImageBitmap(blob, { imageOrientation: 'flipY' });
  const tex = new THREE.Texture(bitmap);
  tex.flipY = false; // flipped while decoding (ImageBitmap ignores flipY)
  return tex;
}

async function main() {
  const loading = $('loading');
  try {
    const name = rendererName();
    if (!name) throw new Error('this browser has no WebGL 2; use issvis view --web --server-render instead');
    const software = /swiftshader|llvmpipe|software|softpipe/i.test(name);
    const facts = await (await fetch('facts.json')).json();
    loading.textContent = `loading the station (${facts.names.length} parts) ...`;
    // the coarse meshes on a software renderer, as the desktop viewer draws them (?detail=fine|coarse)
    const coarse = params.get('detail') ? params.get('detail') === 'coarse' : software;
    const [blob, glb, earthTex, cloudTex] = await Promise.all([bytesOf('record.bin'),
      bytesOf(coarse ? 'station-coarse.glb' : 'station.glb'),
      facts.earth.show ? imageTexture('earth.jpg') : null, facts.earth.show ? imageTexture('clouds.jpg') : null]);
    const gltf = await new GLTFLoader().parseAsync(glb, '');
    const viewer = new Viewer(facts, blob, gltf, earthTex, cloudTex, software);
    viewer.rendererName = name;
    viewer.detail = coarse ? 'coarse' : 'fine';
    window.issvis = viewer;
    loading.hidden = true;
    $('canvas').focus();
  } catch (err) {
    loading.textContent = `the viewer could not start: ${err.message || err}`;
    loading.classList.add('error');
    window.issvisError = String(err && err.stack || err);
  }
}
main();
