"""The visual model of a part: fine and coarse meshes, one per look of ``textures.LOOKS``.

A part's *local frame* is the station body frame translated to the part's centre of mass; the
visual model (``part_visual``, with normals and texture coordinates) is written in that frame
into ``assets/`` by ``issvis.build.writer``, so a renderer places a part with the record's ``pos``
and ``quat`` alone.
"""

from __future__ import annotations

import math

import numpy as np

from ..core import vec3
from ..station.catalogue import Element, Part, Station

# --- the visual model ------------------------------------------------------------------------
# Built per part, in the station body frame, one mesh per material (``textures.LOOKS``), with
# normals and texture coordinates in metres / the look's tile. Fine detail (handrails, trunnion
# pins, truss equipment, mast battens) only in the fine level; the coarse level keeps silhouettes.
SECTIONS_FINE, SECTIONS_COARSE = 48, 16


def _crc(*keys) -> int:
    import zlib

    return zlib.crc32("/".join(str(k) for k in keys).encode())


# The GLBs must be the same bytes on every machine: lengths, units and dot products go through
# ``issvis.core.vec3`` (never BLAS: ``np.linalg.norm`` of a vector, ``@``, ``np.dot``), and
# fractional powers through ``_pow`` (numpy's AVX-512 ``pow`` rounds otherwise than libm's).
_unit, _basis, _norm = vec3.unit, vec3.basis, vec3.norm


def _pow(x, p: float) -> np.ndarray:
    """x ** p element-wise by the C library's ``pow``, whatever SIMD numpy would pick."""
    return np.array([math.pow(float(v), p) for v in np.ravel(x)]).reshape(np.shape(x))


class VisualBuilder:
    """Collects triangles per material: (vertices, faces, normals, uv) lists."""

    def __init__(self, fine: bool = True) -> None:
        from .textures import LOOKS

        self.fine = fine
        self.looks = LOOKS
        self.sections = SECTIONS_FINE if fine else SECTIONS_COARSE
        self.chunks: dict[str, list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]] = {}

    def add(self, material: str, v, f, n, uv) -> None:
        if material not in self.looks:
            raise KeyError(f"no look {material!r}")
        self.chunks.setdefault(material, []).append((np.asarray(v, float), np.asarray(f, np.int64),
                                                     np.asarray(n, float), np.asarray(uv, float)))

    def tile(self, material: str) -> float:
        return self.looks[material].tile_m

    # -- primitives -----------------------------------------------------------------------------
    def lathe(self, material: str, origin, axis, profile, sections: int | None = None, smooth: bool = False,
              arc: tuple[float, float] = (0.0, 2 * np.pi), faceted: bool = False) -> None:
        """Surface of revolution: ``profile`` is [(s, r)] along ``axis`` from ``origin``, traversed
        so the outside is on the left (start on the axis, end on the axis for a closed solid)."""
        sections = sections or self.sections
        origin, axis = np.asarray(origin, float), _unit(axis)
        e1, e2 = _basis(axis)
        prof = np.asarray(profile, float)
        tile = self.tile(material)
        theta = arc[0] + (arc[1] - arc[0]) * np.arange(sections + 1) / sections
        r_ref = max(float(prof[:, 1].max()), 1e-3)
        n_tiles = max(1.0, round((arc[1] - arc[0]) * r_ref / tile))
        u_of = (theta - arc[0]) / (arc[1] - arc[0]) * n_tiles
        radial = np.cos(theta)[:, None] * e1 + np.sin(theta)[:, None] * e2  # (S+1, 3)
        seg = np.diff(prof, axis=0)
        seg_len = np.linalg.norm(seg, axis=1)
        keep = seg_len > 1e-9
        seg_n = np.column_stack([-seg[:, 1], seg[:, 0]]) / np.maximum(seg_len, 1e-12)[:, None]  # (axis, radial)
        v_along = np.concatenate([[0.0], np.cumsum(seg_len)]) / tile
        S = sections + 1
        grid = np.arange(sections)
        quad = np.column_stack([grid, grid + 1, S + grid + 1, grid, S + grid + 1, S + grid]).reshape(-1, 3)
        if faceted:  # flat facets around: per section its own vertices and a face normal
            for i in np.flatnonzero(keep):
                for j in range(sections):
                    corners = []
                    for (s, r) in (prof[i], prof[i + 1]):
                        for t in (theta[j], theta[j + 1]):
                            corners.append(origin + axis * s + r * (np.cos(t) * e1 + np.sin(t) * e2))
                    pts = np.array(corners)  # (i,j) (i,j+1) (i+1,j) (i+1,j+1)
                    nrm = np.cross(pts[1] - pts[0], pts[3] - pts[0])
                    if _norm(nrm) < 1e-12:
                        nrm = np.cross(pts[3] - pts[1], pts[2] - pts[1])
                    nrm = _unit(nrm)
                    uv = np.array([[u_of[j], v_along[i]], [u_of[j + 1], v_along[i]],
                                   [u_of[j], v_along[i + 1]], [u_of[j + 1], v_along[i + 1]]])
                    self.add(material, pts, [[0, 1, 3], [0, 3, 2]], np.tile(nrm, (4, 1)), uv)
            return
        if smooth:
            pn = np.zeros((len(prof), 2))
            for i in np.flatnonzero(keep):
                pn[i] += seg_n[i]
                pn[i + 1] += seg_n[i]
            pn /= np.maximum(np.linalg.norm(pn, axis=1), 1e-12)[:, None]
            pts = origin[None, None, :] + axis[None, None, :] * prof[:, 0, None, None] + prof[:, 1, None, None] * radial[None]
            nrm = axis[None, None, :] * pn[:, 0, None, None] + pn[:, 1, None, None] * radial[None]
            uv = np.stack(np.broadcast_arrays(u_of[None, :], v_along[:, None]), -1)
            faces = np.concatenate([quad + i * S for i in np.flatnonzero(keep)])
            self.add(material, pts.reshape(-1, 3), faces, nrm.reshape(-1, 3), uv.reshape(-1, 2))
            return
        for i in np.flatnonzero(keep):
            pts = np.concatenate([origin + axis * s + r * radial for s, r in (prof[i], prof[i + 1])])
            n = axis * seg_n[i, 0] + seg_n[i, 1] * radial
            uv = np.concatenate([np.column_stack([u_of, np.full(S, v)]) for v in (v_along[i], v_along[i + 1])])
            self.add(material, pts, quad, np.concatenate([n, n]), uv)

    def cylinder(self, material: str, p0, p1, r0: float, r1: float | None = None, caps: bool = True,
                 sections: int | None = None) -> None:
        p0, p1 = np.asarray(p0, float), np.asarray(p1, float)
        r1 = r0 if r1 is None else r1
        length = float(_norm(p1 - p0))
        prof = [(0.0, r0), (length, r1)]
        if caps:
            prof = [(0.0, 0.0)] + prof + [(length, 0.0)]
        self.lathe(material, p0, p1 - p0, prof, sections)

    def sphere(self, material: str, centre, radius: float, axis=(0.0, 0.0, 1.0), rings: int | None = None) -> None:
        rings = rings or (16 if self.fine else 8)
        a = np.linspace(np.pi, 0.0, rings + 1)
        prof = np.column_stack([radius * np.cos(a), radius * np.sin(a)])
        prof[0, 1] = prof[-1, 1] = 0.0
        self.lathe(material, centre, axis, prof, smooth=True)

    def box(self, material: str | dict, centre, extents, axes=None) -> None:
        """Box with ``axes`` (3x3, columns) and full ``extents``; ``material`` may map a face key
        ('+0', '-0', '+1', ...) to a material (missing keys: the 'else' entry)."""
        c = np.asarray(centre, float)
        ax = np.eye(3) if axes is None else np.asarray(axes, float)
        half = np.asarray(extents, float) / 2
        for k in range(3):
            a, b = (k + 1) % 3, (k + 2) % 3
            for sign in (1.0, -1.0):
                mat = material if isinstance(material, str) else material.get(f"{'+' if sign > 0 else '-'}{k}",
                                                                             material["else"])
                if mat is None:
                    continue
                n = ax[:, k] * sign
                ua, ub = (ax[:, a], ax[:, b]) if sign > 0 else (ax[:, b], ax[:, a])
                ha, hb = (half[a], half[b]) if sign > 0 else (half[b], half[a])
                fc = c + n * half[k]
                pts = np.array([fc - ua * ha - ub * hb, fc + ua * ha - ub * hb, fc + ua * ha + ub * hb,
                                fc - ua * ha + ub * hb])
                t = self.tile(mat)
                uv = np.array([[0, 0], [2 * ha, 0], [2 * ha, 2 * hb], [0, 2 * hb]]) / t
                self.add(mat, pts, [[0, 1, 2], [0, 2, 3]], np.tile(n, (4, 1)), uv)

    def strut(self, material: str, a, b, width: float, up=None) -> None:
        """A square-section member from a to b."""
        a, b = np.asarray(a, float), np.asarray(b, float)
        d = b - a
        length = float(_norm(d))
        x = d / length
        e1, e2 = _basis(x) if up is None else (_unit(np.cross(up, x)), None)
        if e2 is None:
            e2 = np.cross(x, e1)
        self.box(material, (a + b) / 2, (length, width, width), np.column_stack([x, e1, e2]))

    def quad(self, material: str, centre, u_dir, v_dir, size_u: float, size_v: float,
             tile_v_m: float | None = None) -> None:
        """A single-sided rectangle facing u x v; ``tile_v_m``: metres along v one image covers, when
        not the material's own (a Russian wing fits its hinge lines to its panels)."""
        c, u, v = np.asarray(centre, float), _unit(u_dir), _unit(v_dir)
        n = np.cross(u, v)
        hu, hv = size_u / 2, size_v / 2
        pts = np.array([c - u * hu - v * hv, c + u * hu - v * hv, c + u * hu + v * hv, c - u * hu + v * hv])
        t = self.tile(material)
        uv = np.array([[0, 0], [size_u, 0], [size_u, size_v], [0, size_v]]) / np.array([t, tile_v_m or t])
        self.add(material, pts, [[0, 1, 2], [0, 2, 3]], np.tile(n, (4, 1)), uv)

    def sweep(self, material: str, centres, radii, sections: int | None = None) -> None:
        """A tube of varying radius along a polyline (bent cones such as the PMAs)."""
        sections = sections or self.sections
        centres, radii = np.asarray(centres, float), np.asarray(radii, float)
        tang = np.gradient(centres, axis=0)
        tang /= np.linalg.norm(tang, axis=1)[:, None]
        e1, _ = _basis(tang[0])
        S = sections + 1
        theta = 2 * np.pi * np.arange(S) / sections
        tile = self.tile(material)
        n_tiles = max(1.0, round(2 * np.pi * radii.max() / tile))
        rows, nrows = [], []
        for c, t, r in zip(centres, tang, radii):
            a = _unit(e1 - vec3.dot(e1, t) * t)
            b = np.cross(t, a)
            radial = np.cos(theta)[:, None] * a + np.sin(theta)[:, None] * b
            rows.append(c + r * radial)
            nrows.append(radial)
        along = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(centres, axis=0), axis=1))]) / tile
        uv = np.stack(np.broadcast_arrays((theta / (2 * np.pi) * n_tiles)[None, :], along[:, None]), -1)
        grid = np.arange(sections)
        quad = np.column_stack([grid, grid + 1, S + grid + 1, grid, S + grid + 1, S + grid]).reshape(-1, 3)
        faces = np.concatenate([quad + i * S for i in range(len(centres) - 1)])
        self.add(material, np.concatenate(rows), faces, np.concatenate(nrows), uv.reshape(-1, 2))

    def meshes(self, offset_m=None) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
        """{material: (vertices, faces, normals, uv)} sorted by material, shifted by -offset_m."""
        out = {}
        off = np.zeros(3) if offset_m is None else np.asarray(offset_m, float)
        for mat in sorted(self.chunks):
            vs, fs, ns, uvs, base = [], [], [], [], 0
            for v, f, n, uv in self.chunks[mat]:
                vs.append(v - off)
                fs.append(f + base)
                ns.append(n)
                uvs.append(uv)
                base += len(v)
            out[mat] = (np.concatenate(vs), np.concatenate(fs), np.concatenate(ns), np.concatenate(uvs))
        return out


def visual_material(part: Part, e: Element) -> str:
    """The look (``textures.LOOKS``) the visual model gives a catalogue element."""
    m, label = e.material, e.label
    russian = part.segment == "ROS" or part.name.startswith(("soyuz", "progress"))
    if e.style == "lattice":
        return "truss"
    if m == "white":
        if part.name.startswith("dragon"):
            return "dragon_white"
        if part.name == "beam":
            return "beam_fabric"
        if label == "ERA arm":
            return "metal"
        return "ros_blanket" if russian else "mmod"
    if m == "grey":
        if part.name.startswith("pma"):
            return "mmod"
        if part.name.startswith("progress") and label == "refuelling module":
            return "green"
        return "metal"
    if m == "gold":
        return "irosa" if label.startswith("iROSA") else "gold"
    if m == "dark":
        return {"heat shield": "heat_shield", "trunk": "trunk"}.get(label, "dark")
    if m == "array" and e.style == "blanket" and part.kind != "truss":
        return "ros_array"  # a Russian-style wing: darker cells in a frame
    return m  # array, radiator, green, glass


def _axis_of(e: Element) -> tuple[np.ndarray, np.ndarray, float]:
    p0, p1 = np.asarray(e.p0_m, float), np.asarray(e.p1_m, float)
    return p0, _unit(p1 - p0), float(_norm(p1 - p0))


def _box_axes(e: Element) -> tuple[int, int, int]:
    """Indices of a box's thin, across and along axes."""
    order = np.argsort(np.asarray(e.extents_m), kind="stable")
    return int(order[0]), int(order[1]), int(order[2])


def _hull(b: VisualBuilder, part: Part, e: Element, mat: str) -> None:
    """A cylinder or frustum element: its hull and closing caps; detail for US pressurised hulls."""
    p0, axis, length = _axis_of(e)
    r0 = e.radius_m
    r1 = e.radius_m if e.shape == "cylinder" else e.radius1_m
    b.lathe(mat, p0, axis, [(0.0, 0.0), (0.0, r0), (length, r1), (length, 0.0)])
    us_hull = (part.segment == "USOS" and part.kind in ("module", "node") and e.shape == "cylinder"
               and e.label == "hull" and part.name not in ("beam", "kibo_ef") and length > 2.5)
    if b.fine and us_hull:
        e1, e2 = _basis(axis)
        for ang in np.radians([45.0, 135.0, 225.0, 315.0]):
            radial = np.cos(ang) * e1 + np.sin(ang) * e2
            s = 0.7
            while s + 1.0 < length - 0.5:  # 1 m rails on 0.1 m standoffs
                a = p0 + axis * s + radial * (r0 + 0.10)
                c = p0 + axis * (s + 1.0) + radial * (r0 + 0.10)
                b.strut("handrail", a, c, 0.035, up=radial)
                for q in (a, c):
                    b.strut("handrail", q - radial * 0.10, q, 0.03, up=axis)
                s += 1.4
        for s in (0.45, length - 0.45):  # trunnion pins, sideways, near each end
            for sign in (1.0, -1.0):
                base = p0 + axis * s + sign * e1 * (r0 - 0.05)
                b.cylinder("metal", base, base + sign * e1 * 0.3, 0.08, sections=10)
        keel = p0 + axis * (length / 2) + e2 * (r0 - 0.05)
        b.cylinder("metal", keel, keel + e2 * 0.25, 0.07, sections=10)
        for s in (0.08, length - 0.08):  # end rings of the hull
            b.lathe("metal", p0 + axis * (s - 0.06), axis, [(0.0, r0), (0.0, r0 + 0.03), (0.12, r0 + 0.03),
                                                          (0.12, r0)], sections=b.sections)


def _profile_solid(b: VisualBuilder, mat: str, p0, axis, profile, smooth: bool = True) -> None:
    prof = [(profile[0][0], 0.0)] + list(profile) + [(profile[-1][0], 0.0)]
    b.lathe(mat, p0, axis, prof, smooth=smooth)


def _bell(r_a: float, r_b: float, length: float, n: int = 10) -> list[tuple[float, float]]:
    """A bell profile from r_a at 0 to r_b at length, bulging like the Soyuz descent module."""
    s = np.linspace(0.0, length, n)
    x = s / length
    r = r_a + (r_b - r_a) * _pow(np.sin(x * np.pi / 2), 0.7) + 0.05 * np.sin(np.pi * x)
    return [(float(a), float(c)) for a, c in zip(s, r)]


def _lattice(b: VisualBuilder, part: Part, e: Element) -> None:
    """A truss box: longerons, bay frames, face diagonals, and equipment boxes on its faces."""
    c = np.asarray(e.p0_m, float)
    ext = np.asarray(e.extents_m, float)
    # the integrated truss runs along Y even where a segment is shorter than it is wide (S5/P5)
    along = 1 if part.kind == "truss" and part.name != "z1" else int(np.argmax(ext))
    u, v = [k for k in range(3) if k != along]
    half = ext / 2 - 0.12
    n_bays = max(1, round(ext[along] / 2.3))
    stations = np.linspace(-half[along], half[along], n_bays + 1)
    corners = ((1, 1), (1, -1), (-1, -1), (-1, 1))

    def point(s, corner):
        p = c.copy()
        p[along] += s
        p[u] += corner[0] * half[u]
        p[v] += corner[1] * half[v]
        return p

    w_long, w_frame, w_diag = (0.26, 0.15, 0.10) if b.fine else (0.30, 0.18, 0.14)
    for corner in corners:
        b.strut("truss", point(stations[0], corner), point(stations[-1], corner), w_long)
    for k, s in enumerate(stations):
        for i in range(4):
            b.strut("truss", point(s, corners[i]), point(s, corners[(i + 1) % 4]), w_frame)
        if k < n_bays:
            s2 = stations[k + 1]
            for i in range(4):
                a, z = (s, s2) if (i + k) % 2 == 0 else (s2, s)
                b.strut("truss", point(a, corners[i]), point(z, corners[(i + 1) % 4]), w_diag)
    # the Mobile Transporter rails and cable trays along the forward face (+X), end to end
    for off in (-0.35, 0.35) if along == 1 else ():
        rail = c.copy()
        rail[0] += half[0] + 0.05
        rail[2] += off * half[2]
        size = np.full(3, 0.12)
        size[along] = 2 * half[along]
        b.box("metal", rail, size)
    if not b.fine:
        return
    looks = ("mmod", "metal", "mmod", "gold", "mmod", "dark", "mmod", "metal")
    for k in range(n_bays):
        s_mid = (stations[k] + stations[k + 1]) / 2
        bay = stations[k + 1] - stations[k]
        # the bay's own contents (avionics, tanks, cable runs) fill its middle: from the side the beam reads
        # solid behind its lattice, as in photographs, with a see-through bay here and there
        h = _crc(part.name, e.label, k, "core")
        if h % 5 != 0:
            core = c.copy()
            core[along] += s_mid
            size = np.zeros(3)
            size[along] = bay * (0.8 + 0.15 * ((h >> 4) % 10) / 10)
            size[u] = 2 * half[u] * (0.55 + 0.15 * ((h >> 8) % 10) / 10)
            size[v] = 2 * half[v] * (0.55 + 0.15 * ((h >> 12) % 10) / 10)
            # (grey metal or white blanket: a black core read as a hole through Z1 in the opening close-up)
            b.box(("metal", "mmod")[(h >> 16) % 2], core, size)
        if along == 1:  # plates and trays close most of the zenith and nadir faces: a solid beam from above
            for sign in (1.0, -1.0):
                h = _crc(part.name, e.label, k, "plate", sign)
                if h % 4 == 0:
                    continue
                plate = c.copy()
                plate[along] += s_mid
                plate[v] += sign * (half[v] - 0.12)
                size = np.array([0.0, 0.0, 0.0])
                size[along] = bay * (0.7 + 0.2 * ((h >> 4) % 10) / 10)
                size[u] = 2 * half[u] * (0.55 + 0.3 * ((h >> 8) % 10) / 10)
                size[v] = 0.06
                b.box(("metal", "mmod", "truss")[(h >> 12) % 3], plate, size)
        for face, sign in ((u, 1.0), (u, -1.0), (v, 1.0), (v, -1.0)):
            h = _crc(part.name, e.label, k, face, sign)
            if h % 7 == 0:
                continue
            other = v if face == u else u
            size = np.zeros(3)
            size[along] = bay * (0.35 + 0.35 * ((h >> 4) % 100) / 100)
            size[other] = 2 * half[other] * (0.3 + 0.4 * ((h >> 12) % 100) / 100)
            size[face] = 0.4 + 0.5 * ((h >> 20) % 100) / 100
            centre = c.copy()
            centre[along] += s_mid + (((h >> 8) % 7) - 3) * 0.05 * bay
            centre[other] += (((h >> 16) % 5) - 2) * 0.1 * half[other]
            centre[face] += sign * (half[face] - size[face] / 2 - 0.05)
            b.box(looks[(h >> 24) % len(looks)], centre, size)
            if (h >> 28) % 2:  # a second, smaller unit beside the first
                small = size * np.array([0.5, 0.5, 0.5])
                small[face] = size[face] * 0.7
                centre2 = centre.copy()
                centre2[other] -= np.sign(centre[other] - c[other] + 1e-9) * (size[other] / 2 + small[other] / 2 + 0.1)
                centre2[face] = c[face] + sign * (half[face] - small[face] / 2 - 0.05)
                if abs(centre2[other] - c[other]) + small[other] / 2 < half[other]:
                    b.box(looks[(h >> 26) % len(looks)], centre2, small)


def _root_dir(part: Part, e: Element, along: int) -> np.ndarray:
    """Unit vector along the wing from its root (the end nearer the rest of the part) to its tip."""
    others = [np.asarray(o.p0_m if o.shape in ("box", "sphere") else (np.asarray(o.p0_m) + o.p1_m) / 2, float)
              for o in part.elements if o.style != "blanket"]
    mount = np.mean(others, axis=0)
    d = np.zeros(3)
    d[along] = 1.0 if e.p0_m[along] >= mount[along] else -1.0
    return d


def _quad_axes(across: np.ndarray, along: np.ndarray, front: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(u, v) in-plane axes of a blanket quad whose front (u x v) faces ``front``."""
    return (across if vec3.dot(np.cross(across, along), front) >= 0 else -across), along


def _blanket(b: VisualBuilder, look: str, centre: np.ndarray, across: np.ndarray, along: np.ndarray,
             front: np.ndarray, width: float, length: float, tile_v_m: float | None = None,
             back: str = "array_back") -> None:
    """An array blanket: cells (``look``) on the side facing ``front``, the Kapton back (``back``) on the
    other, 4 mm apart."""
    u_dir, v_dir = _quad_axes(across, along, front)
    b.quad(look, centre + front * 0.004, u_dir, v_dir, width, length, tile_v_m)
    b.quad(back, centre - front * 0.004, -u_dir, v_dir, width, length, tile_v_m)


def _saw_wing(b: VisualBuilder, part: Part, e: Element) -> None:
    """A US solar array wing: two blankets either side of a lattice mast, blanket boxes at both ends."""
    thin, across, along = _box_axes(e)
    c = np.asarray(e.p0_m, float)
    ext = np.asarray(e.extents_m, float)
    ax = np.eye(3)
    L, W = ext[along], ext[across]
    # the front (cells) faces -thin: zenith for the truss wings
    front = -ax[thin]
    box_len, gap = 0.5, 0.9
    blanket_w = (W - gap) / 2
    for sign in (1.0, -1.0):
        bc = c + ax[across] * sign * (gap / 2 + blanket_w / 2)
        _blanket(b, "array", bc, ax[across], ax[along], front, blanket_w, L - 2 * box_len)
        out = _root_dir(part, e, along)
        for end in (1.0, -1.0):  # +1: the tip box (white), -1: the root box on the mast canister
            bx = bc + out * end * (L / 2 - box_len / 2)
            size = np.zeros(3)
            size[along], size[across], size[thin] = box_len, blanket_w, 0.3
            b.box("mmod" if end > 0 else "metal", bx, size)
    # mast: three longerons and battens
    r = 0.25
    e1, e2 = ax[across], ax[thin]
    out = _root_dir(part, e, along)
    root, tip = c - out * L / 2, c + out * L / 2
    corners = [r * (np.cos(a) * e1 + np.sin(a) * e2) for a in np.radians([90.0, 210.0, 330.0])]
    for q in corners:
        b.strut("metal", root + q, tip + q, 0.05 if b.fine else 0.09)
    if b.fine:
        for s in np.arange(0.75, L, 1.5):
            p = root + ax[along] * s
            for i in range(3):
                b.strut("metal", p + corners[i], p + corners[(i + 1) % 3], 0.035)
    else:
        b.strut("metal", root, tip, 0.2)


def _irosa(b: VisualBuilder, part: Part, e: Element) -> None:
    """iROSA: a blanket rolled out between two booms, the roll at the tip, a bracket at the root."""
    thin, across, along = _box_axes(e)
    c = np.asarray(e.p0_m, float)
    ext = np.asarray(e.extents_m, float)
    ax = np.eye(3)
    L, W = ext[along], ext[across]
    front = -ax[thin]
    _blanket(b, "irosa", c, ax[across], ax[along], front, W - 0.3, L - 0.6)
    out = _root_dir(part, e, along)
    root, tip = c - out * L / 2, c + out * L / 2
    for sign in (1.0, -1.0):
        off = ax[across] * sign * (W / 2 - 0.1)
        b.cylinder("metal", root + off, tip + off, 0.08, sections=8 if b.fine else 6)
    b.cylinder("array_back", tip - out * 0.3 - ax[across] * W / 2, tip - out * 0.3 + ax[across] * W / 2,
               0.28, sections=16 if b.fine else 8)
    size = np.zeros(3)
    size[along], size[across], size[thin] = 0.6, W, 0.35
    b.box("metal", root + out * 0.3, size)


def _russian_wing(b: VisualBuilder, part: Part, e: Element) -> None:
    """Russian-style wing (Zvezda, Nauka, Soyuz, Progress): a row of panels on a spar, a drive."""
    thin, across, along = _box_axes(e)
    c = np.asarray(e.p0_m, float)
    ext = np.asarray(e.extents_m, float)
    ax = np.eye(3)
    L, W = ext[along], ext[across]
    n = max(3, round(L / 1.1))
    front = -ax[thin] if part.segment == "ROS" else ax[thin]
    # one blanket whose image fits a hinge line to each panel's edge (the image holds four panels):
    # panels drawn as separate quads left 6 cm gaps that aliased into a comb at 100 m
    _blanket(b, "ros_array", c, ax[across], ax[along], front, W, L, tile_v_m=4 * L / n, back="ros_array_back")
    out = _root_dir(part, e, along)
    root, tip = c - out * L / 2, c + out * L / 2
    # the frame round the wing, a little proud of both faces (at 100 m its 7 cm are a pixel or two)
    for sign in (1.0, -1.0):
        edge = ax[across] * sign * (W / 2 - 0.035)
        b.strut("metal", root + edge, tip + edge, 0.07, up=front)
    for end in (root, tip):
        b.strut("metal", end - ax[across] * W / 2, end + ax[across] * W / 2, 0.07, up=front)
    b.strut("metal", root - front * 0.06, tip - front * 0.06, 0.08)
    b.cylinder("metal", root - out * 0.6, root, 0.12, sections=12)


def _radiator(b: VisualBuilder, part: Part, e: Element) -> None:
    """A radiator wing: panels with hinge lines between them, the hinge beams across."""
    thin, across, along = _box_axes(e)
    c = np.asarray(e.p0_m, float)
    ext = np.asarray(e.extents_m, float)
    ax = np.eye(3)
    n = max(2, round(ext[along] / 2.9))
    edges = np.linspace(-ext[along] / 2, ext[along] / 2, n + 1)
    for i in range(n):
        size = np.zeros(3)
        size[thin], size[across], size[along] = 0.05, ext[across], edges[i + 1] - edges[i] - 0.12
        b.box({"else": "radiator", f"+{across}": "metal", f"-{across}": "metal"},
              c + ax[along] * (edges[i] + edges[i + 1]) / 2, size)
        if i:
            hc = c + ax[along] * edges[i]
            b.strut("metal", hc - ax[across] * ext[across] / 2, hc + ax[across] * ext[across] / 2, 0.08)


def _docking_unit(b: VisualBuilder, point, axis, outward: float, mechanism: str, parent: bool) -> None:
    """Berthing/docking hardware at an interface: CBM ring and hatch, or a docking collar."""
    point, axis = np.asarray(point, float), _unit(axis) * outward  # axis now points out of this part
    if mechanism == "CBM":
        if parent:  # the ring stands on the hull; a closed hatch inside it
            b.lathe("metal", point, axis, [(-0.35, 1.0), (0.0, 1.0), (0.0, 0.85), (-0.35, 0.85)])
            b.lathe("metal", point, axis, [(-0.06, 0.0), (-0.06, 0.86)], sections=24)
            b.box("metal", point - axis * 0.045, (1.05, 1.05, 0.04), np.column_stack([*_basis(axis), axis]))
            if b.fine:
                for k in range(16):  # the capture latches and bolts around the ring
                    ang = 2 * np.pi * k / 16
                    e1, e2 = _basis(axis)
                    q = point + 0.93 * (np.cos(ang) * e1 + np.sin(ang) * e2)
                    b.box("dark", q + axis * 0.03, (0.1, 0.1, 0.06), np.column_stack([e1, e2, axis]))
        else:
            b.box("metal", point + axis * 0.0 - axis * 0.015, (1.1, 1.1, 0.03),
                  np.column_stack([*_basis(axis), axis]))
        return
    if mechanism in ("APAS-95", "SSVP", "IDSS"):
        r = 0.62 if parent else 0.55
        depth = 0.35 if parent else 0.2
        b.lathe("metal", point, axis, [(-depth, r), (0.0, r), (0.0, r - 0.12), (-depth, r - 0.12)], sections=24)
        b.lathe("dark", point, axis, [(-0.04, 0.0), (-0.04, r - 0.12)], sections=24)


def _cupola(b: VisualBuilder, part: Part) -> None:
    base, dome = part.elements
    p0, axis, h0 = _axis_of(base)
    b.lathe("mmod", p0, axis, [(0.0, 0.0), (0.0, base.radius_m), (0.5, base.radius_m)])
    b.lathe("metal", p0, axis, [(0.5, base.radius_m), (h0, base.radius1_m)], sections=6, faceted=True)
    q0, _, h1 = _axis_of(dome)
    # six trapezoid windows on the sloped dome, framed
    r0, r1 = dome.radius_m, dome.radius1_m
    b.lathe("metal", q0, axis, [(0.0, r0), (h1, r1), (h1, 0.0)], sections=6, faceted=True)
    inset = 0.14
    for k in range(6):
        a0, a1 = 2 * np.pi * k / 6 + 0.09, 2 * np.pi * (k + 1) / 6 - 0.09
        ra, rb = r0 - inset * 0.3, r1 + inset * 0.2
        b.lathe("glass", q0 + axis * 0.012, axis, [(0.07, ra + 0.01), (h1 - 0.07, rb + 0.01)], sections=1,
                arc=(a0, a1), faceted=True)
    # the top window: its face points outwards (profile from the rim in to the axis)
    b.lathe("glass", q0, axis, [(h1 + 0.01, r1 * 0.78), (h1 + 0.01, 0.0)], sections=24)


def _kibo_ef(b: VisualBuilder, part: Part, e: Element) -> None:
    c = np.asarray(e.p0_m, float)
    ext = np.asarray(e.extents_m, float)
    b.box({"else": "metal", "-2": "mmod", "+2": "mmod"}, c, (ext[0], ext[1], 0.8))
    payloads = (((-1.2, -1.5), (1.8, 1.6, 1.2), "gold"), ((1.1, -1.4), (1.6, 1.8, 1.0), "mmod"),
                ((-1.0, 1.0), (1.9, 1.6, 1.4), "mmod"), ((1.2, 1.3), (1.5, 1.4, 0.9), "gold"),
                ((0.0, 0.0), (1.0, 0.9, 0.7), "metal"))
    for (dx, dy), size, mat in payloads:
        b.box(mat, c + (dx, dy, -0.4 - size[2] / 2), size)
    b.box("gold", c + (0.5, -0.8, 0.4 + 0.5), (2.0, 2.4, 1.0))


def _ultraflex(b: VisualBuilder, part: Part, e: Element, hub) -> None:
    """Cygnus's round fan array: a decagon of gores, front cells, Kapton back, a boom to the hull."""
    p0, axis, _ = _axis_of(e)
    r = e.radius_m
    b.lathe("array", p0, axis, [(0.0, 0.0), (0.0, r)], sections=10, faceted=True)
    b.lathe("array_back", p0 + axis * 0.01, axis, [(0.0, r), (0.0, 0.0)], sections=10, faceted=True)
    e1, e2 = _basis(axis)
    if b.fine:
        for k in range(10):  # the ribs between the gores
            ang = 2 * np.pi * k / 10
            b.strut("metal", p0 - axis * 0.02, p0 - axis * 0.02 + r * (np.cos(ang) * e1 + np.sin(ang) * e2), 0.03)
    b.strut("metal", np.asarray(hub, float), p0, 0.1)


def _era(b: VisualBuilder, e: Element) -> None:
    """Nauka's European Robotic Arm folded along the hull: two booms, joints, end effectors."""
    c = np.asarray(e.p0_m, float)
    ext = np.asarray(e.extents_m, float)
    z0, z1 = c[2] - ext[2] / 2, c[2] + ext[2] / 2
    x = c[0]
    b.cylinder("mmod", (x - 0.08, c[1] + 0.08, z0 + 1.0), (x - 0.08, c[1] + 0.08, c[2] - 0.2), 0.1, sections=10)
    b.cylinder("mmod", (x + 0.08, c[1] - 0.08, c[2] + 0.2), (x + 0.08, c[1] - 0.08, z1 - 1.0), 0.1, sections=10)
    for zc in (z0 + 0.5, c[2], z1 - 0.5):
        b.box("metal", (x, c[1], zc), (0.35, 0.35, 0.8))


def _arm_fixtures(b: VisualBuilder, fixture) -> None:
    """Canadarm2 folded on the Mobile Base System, Dextre beside it (visual only)."""
    c = np.asarray(fixture.centre_m, float)
    ext = np.asarray(fixture.extents_m, float)
    lo = c - ext / 2
    # Mobile Base System: a flat frame on the truss face
    b.box({"else": "mmod", "-0": "metal"}, (lo[0] + 0.35, c[1], c[2]), (0.7, 4.2, 3.0))
    # Canadarm2: shoulder joints, two booms folded back on each other, elbow, wrist, end effectors
    x1, x2 = lo[0] + 1.05, lo[0] + 1.65
    z_arm = c[2] - 0.6
    y0 = c[1] - 0.8
    b.cylinder("metal", (lo[0] + 0.7, y0, z_arm), (x1 + 0.3, y0, z_arm), 0.3, sections=16)
    b.cylinder("mmod", (x1, y0 + 0.3, z_arm), (x1, y0 + 7.0, z_arm), 0.19, sections=16)
    b.cylinder("metal", (x1 - 0.3, y0 + 7.2, z_arm), (x2 + 0.3, y0 + 7.2, z_arm), 0.3, sections=16)
    b.cylinder("mmod", (x2, y0 + 7.0, z_arm), (x2, y0 + 0.6, z_arm), 0.19, sections=16)
    b.cylinder("metal", (x2, y0 + 0.6, z_arm), (x2, y0 - 0.2, z_arm), 0.28, sections=16)
    b.cylinder("metal", (x2, y0 - 0.2, z_arm), (x2, y0 - 0.2, z_arm + 0.9), 0.22, sections=16)
    # Dextre: body with its two arms folded down the side
    yd = c[1] - 4.0
    b.box("mmod", (lo[0] + 1.2, yd, c[2] + 0.2), (0.9, 0.9, 2.6))
    b.box("metal", (lo[0] + 1.2, yd, c[2] - 1.25), (0.7, 1.6, 0.4))
    for side in (1.0, -1.0):
        b.cylinder("mmod", (lo[0] + 1.2, yd + side * 0.8, c[2] - 1.1), (lo[0] + 1.2, yd + side * 0.8, c[2] + 1.3),
                   0.12, sections=10)
        b.box("metal", (lo[0] + 1.2, yd + side * 0.8, c[2] + 1.45), (0.35, 0.35, 0.45))


def _russian_extras(b: VisualBuilder, part: Part) -> None:
    """Radiator arcs, engines, thruster blocks, Kurs antennas and handrails on the Russian modules
    (estimates from photographs)."""
    if part.name == "zvezda":
        large = next(e for e in part.elements if e.label == "working compartment (large)")
        p0, axis, length = _axis_of(large)
        r = large.radius_m + 0.04
        for a0 in (np.radians(20.0), np.radians(200.0)):
            b.lathe("radiator", p0, axis, [(0.4, r), (length - 0.6, r)], sections=12, arc=(a0, a0 + np.radians(140.0)))
        aft = p0 + axis * length
        e1, e2 = _basis(axis)
        for sign in (1.0, -1.0):  # the two main engines beside the aft transfer chamber
            q = aft + sign * e1 * 1.2
            b.lathe("metal", q, axis, [(0.0, 0.0), (0.0, 0.1), (0.5, 0.28), (0.55, 0.28)], sections=16)
        if b.fine:
            for k in range(8):  # attitude-control thruster blocks around the aft rim: a grey housing, nozzles
                ang = 2 * np.pi * (k + 0.5) / 8
                radial = np.cos(ang) * e1 + np.sin(ang) * e2
                q = aft + 1.8 * radial
                b.box("metal", q + axis * 0.1, (0.25, 0.25, 0.25))
                side = np.cross(axis, radial)
                for nozzle in (radial, side, -side):  # out and both ways round the rim
                    base = q + axis * 0.1 + nozzle * 0.12
                    b.cylinder("dark", base, base + nozzle * 0.09, 0.035, 0.055, sections=8)
            for sign in (1.0, -1.0):  # the Kurs rendezvous antennas: a boom off the aft end, a small dish
                root = aft + sign * e2 * 1.3
                tip = root + axis * 0.3 + sign * e2 * 0.15  # (within the collision margin of the hull)
                b.cylinder("metal", root, tip, 0.025, sections=6)
                b.lathe("metal", tip, axis, [(0.0, 0.0), (0.0, 0.03), (0.06, 0.22), (0.08, 0.22)], sections=16)
    if part.name == "zarya":
        hull = next(e for e in part.elements if e.shape == "cylinder" and e.label == "hull")
        p0, axis, length = _axis_of(hull)
        r = hull.radius_m + 0.04
        for a0 in (np.radians(60.0), np.radians(240.0)):
            b.lathe("radiator", p0, axis, [(1.0, r), (length - 1.5, r)], sections=10, arc=(a0, a0 + np.radians(60.0)))
        e1, e2 = _basis(axis)
        for sign in (1.0, -1.0):  # the two arrays, retracted into their boxes on the aft body [M5]
            q = p0 + axis * (length - 4.5) + sign * e1 * (hull.radius_m + 0.2)
            b.box({"else": "metal", "+0": "array_back", "-0": "array_back"}, q, (0.4, 0.3, 1.6),
                  np.column_stack([e1, e2, axis]))
        if b.fine:  # the propellant tanks along the aft body
            e1, e2 = _basis(axis)
            for k in range(8):
                ang = 2 * np.pi * (k + 0.25) / 8
                radial = np.cos(ang) * e1 + np.sin(ang) * e2
                q = p0 + axis * (length - 3.2) + radial * (hull.radius_m + 0.02)
                b.cylinder("metal", q, q + axis * 3.0, 0.22, sections=12)
    if part.name == "nauka":  # its radiator panel along the large-diameter hull (size estimated)
        large = max((e for e in part.elements if e.shape == "cylinder"), key=lambda e: e.radius_m)
        p0, axis, length = _axis_of(large)
        r = large.radius_m + 0.04
        a0 = np.radians(100.0)
        b.lathe("radiator", p0, axis, [(1.0, r), (length - 1.0, r)], sections=8, arc=(a0, a0 + np.radians(70.0)))
    if part.name in ("poisk", "rassvet", "zvezda", "zarya", "nauka") and b.fine:
        hull = max((e for e in part.elements if e.shape == "cylinder"), key=lambda e: e.radius_m)
        p0, axis, length = _axis_of(hull)
        e1, e2 = _basis(axis)
        for ang in np.radians([30.0, 150.0, 270.0]):
            radial = np.cos(ang) * e1 + np.sin(ang) * e2
            a = p0 + axis * 0.5 + radial * (hull.radius_m + 0.1)
            z = p0 + axis * (length - 0.5) + radial * (hull.radius_m + 0.1)
            b.strut("handrail", a, z, 0.035, up=radial)
    if part.name == "poisk":
        hull = part.elements[0]
        p0, axis, length = _axis_of(hull)
        e1, _ = _basis(axis)
        for sign in (1.0, -1.0):  # the two EVA hatches
            q = p0 + axis * (length / 2) + sign * e1 * (hull.radius_m - 0.02)
            b.cylinder("metal", q, q + sign * e1 * 0.08, 0.5, sections=24)
    if part.name == "prichal":
        ball = next(e for e in part.elements if e.label == "ball")
        c = np.asarray(ball.p0_m, float)
        for d in (np.array([1.0, 0, 0]), np.array([-1.0, 0, 0]), np.array([0, 1.0, 0]), np.array([0, -1.0, 0])):
            b.cylinder("metal", c + d * (ball.radius_m - 0.2), c + d * (ball.radius_m + 0.35), 0.62, sections=24)
            b.lathe("dark", c + d * (ball.radius_m + 0.35), d, [(0.0, 0.5), (0.0, 0.0)], sections=24)


def _dish(b: VisualBuilder, centre, facing, diameter: float, depth: float, front: str = "dragon_white",
          back: str = "metal", sections: int = 24) -> None:
    """A parabolic dish: its rim ``diameter`` across, ``depth`` deep, opening towards ``facing``, the
    vertex at ``centre``; a white reflector seen from the front, its grey back, and a feed on three struts."""
    c, axis = np.asarray(centre, float), _unit(facing)
    rim = diameter / 2
    r_ = rim * np.linspace(0.0, 1.0, 6)
    s_ = depth * (r_ / rim) ** 2
    b.lathe(back, c - axis * 0.01, axis, list(zip(s_, r_)), sections=sections, smooth=True)
    b.lathe(front, c, axis, list(zip(s_[::-1], r_[::-1])), sections=sections, smooth=True)
    focus = c + axis * (rim * rim / (4 * depth))
    b.cylinder("dark", focus - axis * 0.08, focus + axis * 0.04, 0.05 * diameter, sections=8)
    e1, e2 = _basis(axis)
    for ang in np.radians([90.0, 210.0, 330.0]):
        q = c + axis * depth + 0.95 * rim * (np.cos(ang) * e1 + np.sin(ang) * e2)
        b.strut("metal", q, focus, 0.012 * diameter + 0.005)


def _antennas(b: VisualBuilder, part: Part) -> None:
    """The most recognisable antennas (estimates from photographs), each within its part's collision
    margin: the Ku-band dish on Z1's mast (drawn 1.2 m across: the real one is ~1.8 m, which would stand
    out of the mast's primitive), the S-band antenna assemblies on S1 and P1 (a mast, a boom, the drum of
    the antenna), whips and small dishes on Zvezda and Zarya. Visual only: the physics keeps the
    catalogue's primitives."""
    if part.name == "z1":
        mast = next(e for e in part.elements if e.label == "Ku-band mast")
        p0, axis, length = _axis_of(mast)  # from the truss box out towards zenith (-z)
        top = p0 + axis * length
        yoke = top - axis * 0.35
        b.cylinder("metal", top - axis * 0.6, top, 0.07, sections=8)  # the gimbal head
        # the dish looks up and out to one side (its pointing at the moment of the picture), its vertex on
        # the mast's axis, so that its rim stays within the mast's margin
        facing = _unit(np.array([0.55, 0.3, 0.0]) + 0.8 * axis)
        _dish(b, yoke - 0.1 * (facing - (facing @ axis) * axis), facing, 1.2, 0.18, sections=28 if b.fine else 12)
    if part.name in ("s1", "p1"):
        box = next(e for e in part.elements if e.style == "lattice")
        c, ext = np.asarray(box.p0_m, float), np.asarray(box.extents_m, float)
        sign = 1.0 if part.name == "s1" else -1.0
        # on the zenith face (-z), at the inboard aft corner
        foot = c + np.array([ext[0] / 2 - 0.5, -sign * (ext[1] / 2 - 1.0), -ext[2] / 2])
        head = foot + np.array([0.0, 0.0, -0.3])
        b.cylinder("metal", foot, head, 0.05, sections=8)
        b.cylinder("metal", head + np.array([0.0, 0.0, 0.03]), head + np.array([0.3, 0.0, 0.03]), 0.03, sections=6)
        drum = head + np.array([0.3, 0.0, -0.02])
        b.cylinder("dragon_white", drum, drum + np.array([0.0, 0.0, -0.1]), 0.28, 0.3,
                   sections=20 if b.fine else 10)
    if part.name == "zvezda" and b.fine:
        small = next(e for e in part.elements if e.label == "working compartment (small)")
        p0, axis, length = _axis_of(small)
        e1, e2 = _basis(axis)
        for k, ang in enumerate(np.radians([20.0, 110.0, 200.0, 290.0])):  # whips round the forward end
            radial = np.cos(ang) * e1 + np.sin(ang) * e2
            root = p0 + axis * (0.6 + 0.5 * (k % 2)) + radial * small.radius_m
            b.cylinder("metal", root, root + radial * 0.45 + axis * 0.05, 0.012, 0.006, sections=5)
            b.cylinder("dark", root - radial * 0.02, root + radial * 0.04, 0.04, sections=6)
        for ang in np.radians([60.0, 240.0]):  # two small dishes on short booms
            radial = np.cos(ang) * e1 + np.sin(ang) * e2
            root = p0 + axis * (length - 0.8) + radial * small.radius_m
            b.cylinder("metal", root, root + radial * 0.2, 0.03, sections=6)
            _dish(b, root + radial * 0.2, _unit(radial + 0.5 * axis), 0.5, 0.08, front="metal", back="metal",
                  sections=16)
    if part.name == "zarya" and b.fine:
        hull = next(e for e in part.elements if e.shape == "cylinder" and e.label == "hull")
        p0, axis, length = _axis_of(hull)
        e1, e2 = _basis(axis)
        for k, ang in enumerate(np.radians([0.0, 135.0, 225.0])):  # whips near the forward end
            radial = np.cos(ang) * e1 + np.sin(ang) * e2
            root = p0 + axis * (0.8 + 0.4 * k) + radial * hull.radius_m
            b.cylinder("metal", root, root + radial * 0.45 - axis * 0.05, 0.012, 0.006, sections=5)
        radial = np.cos(np.radians(300.0)) * e1 + np.sin(np.radians(300.0)) * e2
        root = p0 + axis * 2.0 + radial * hull.radius_m
        b.cylinder("metal", root, root + radial * 0.2, 0.03, sections=6)
        _dish(b, root + radial * 0.2, radial, 0.45, 0.07, front="metal", back="metal", sections=16)


def _vehicle_element(b: VisualBuilder, part: Part, e: Element, mat: str) -> bool:
    """Shaped visuals of vehicle elements; False when the plain shape will do."""
    label = e.label
    if e.shape in ("sphere", "box"):  # no shaped visual has a box's shape (they take an axis)
        return False
    p0, axis, length = _axis_of(e)
    if label == "descent module":  # Soyuz: a bell, heat shield at the wide end
        _profile_solid(b, mat, p0, axis, _bell(e.radius_m, e.radius1_m, length))
        b.lathe("heat_shield", p0 + axis * (length + 0.005), axis, [(0.0, e.radius1_m * 0.95), (0.0, 0.0)], sections=24)
        return True
    if label == "cargo module":  # Progress: rounded cargo module
        s = np.linspace(0.0, length, 10)
        x = s / length
        radii = e.radius_m + (e.radius1_m - e.radius_m) * x
        radii = radii * (0.55 + 0.45 * np.sin(np.clip(x * 1.6 + 0.05, 0, 1) * np.pi / 2))
        _profile_solid(b, mat, p0, axis, list(zip(s, radii)))
        return True
    if label == "service module":
        if part.name.startswith("cygnus"):
            return False
        r = e.radius_m
        _profile_solid(b, mat, p0, axis, [(0.0, r * 0.8), (0.3, r * 0.8), (0.5, r * 0.97), (length - 0.3, r), (length, r)],
                       smooth=False)
        b.lathe("radiator", p0, axis, [(0.6, r + 0.015), (length - 0.5, r + 0.015)], sections=b.sections,
                arc=(0.3, 2 * np.pi - 0.3))
        b.lathe("metal", p0 + axis * length, axis, [(0.0, 0.0), (0.0, 0.15), (0.02, 0.0)], sections=12)
        return True
    if label == "docking probe":
        b.cylinder(mat, p0, p0 + axis * length, e.radius_m)
        b.lathe("metal", p0, -axis, [(0.0, 0.12), (0.3, 0.0)], sections=12)
        return True
    if label == "capsule":  # Crew Dragon: a curved capsule, four windows near the nose
        s = np.linspace(0.0, length, 12)
        x = s / length
        radii = e.radius_m + (e.radius1_m - e.radius_m) * (1 - _pow(1 - x, 1.6))
        _profile_solid(b, mat, p0, axis, list(zip(s, radii)))
        e1, e2 = _basis(axis)
        for ang in np.radians([45.0, 135.0, 225.0, 315.0]):
            radial = np.cos(ang) * e1 + np.sin(ang) * e2
            sw = 1.2
            rw = e.radius_m + (e.radius1_m - e.radius_m) * (1 - math.pow(1 - sw / length, 1.6))
            b.cylinder("glass", p0 + axis * sw + radial * (rw - 0.1), p0 + axis * sw + radial * (rw + 0.03), 0.14,
                       sections=12)
        return True
    if label == "trunk":
        b.cylinder(mat, p0, p0 + axis * length, e.radius_m)
        e1, e2 = _basis(axis)
        for k in range(4):  # the aft fins
            ang = np.pi / 4 + k * np.pi / 2
            radial = np.cos(ang) * e1 + np.sin(ang) * e2
            tangent = np.cross(axis, radial)
            b.box("dragon_white", p0 + axis * (length - 0.6) + radial * (e.radius_m + 0.15), (1.0, 0.3, 0.06),
                  np.column_stack([axis, radial, tangent]))
        return True
    if label == "pressurised cargo module":  # Cygnus PCM: rounded forward bulkhead, silver bands
        r = e.radius_m
        _profile_solid(b, mat, p0, axis, [(0.0, 0.9), (0.25, r * 0.95), (0.45, r), (length, r)], smooth=False)
        for band_m in (0.5, length / 2, length - 0.2):
            b.lathe("metal", p0 + axis * band_m, axis, [(0.0, r), (0.0, r + 0.02), (0.12, r + 0.02), (0.12, r)])
        return True
    return False


def part_visual(part: Part, station: Station, fine: bool = True) -> VisualBuilder:
    """The visual model of one part (station body frame), material by material."""
    b = VisualBuilder(fine)
    from ..station.catalogue import VISUAL_FIXTURES

    if part.name == "cupola":
        _cupola(b, part)
    else:
        hub = None
        for e in part.elements:
            mat = visual_material(part, e)
            if e.label == "service module" and part.name.startswith("cygnus"):
                hub = np.asarray(e.p0_m, float) + (np.asarray(e.p1_m) - np.asarray(e.p0_m)) * 0.6
            if e.style == "lattice":
                _lattice(b, part, e)
            elif e.style == "blanket" and e.label.startswith("iROSA"):
                _irosa(b, part, e)
            elif e.style == "blanket" and part.kind == "truss":
                _saw_wing(b, part, e)
            elif e.style == "blanket":
                _russian_wing(b, part, e)
            elif e.style == "panel":
                _radiator(b, part, e)
            elif e.label.startswith("UltraFlex"):
                _ultraflex(b, part, e, hub if hub is not None else e.p0_m)
            elif part.name == "kibo_ef":
                _kibo_ef(b, part, e)
            elif e.label == "ERA arm":
                _era(b, e)
            elif e.shape == "sphere":
                b.sphere(mat, e.p0_m, e.radius_m)
            elif e.shape == "box":
                b.box(mat, e.p0_m, e.extents_m)
            elif part.kind == "vehicle" and _vehicle_element(b, part, e, mat):
                pass
            elif e.label == "SARJ":
                p0, axis, length = _axis_of(e)
                b.lathe("metal", p0, axis, [(0.0, 1.5), (0.0, e.radius_m), (length, e.radius_m), (length, 1.5)])
                b.lathe("dark", p0, axis, [(length * 0.45, e.radius_m + 0.01), (length * 0.55, e.radius_m + 0.01)])
            elif part.name.startswith("pma"):  # the bent cone: its middle bows off the straight axis
                p0, axis, length = _axis_of(e)
                e1, _ = _basis(axis)
                s_ = np.linspace(0.0, length, 14 if b.fine else 7)
                x_ = s_ / length
                bow = np.sin(np.pi * x_)
                centres = p0 + np.outer(s_, axis) + np.outer(0.22 * bow * np.sqrt(bow), e1)  # sin^1.5
                radii = e.radius_m + (e.radius1_m - e.radius_m) * x_
                radii = np.where(x_ < 0.12, e.radius_m, radii)
                b.sweep(mat, centres, radii)
                for q, r in ((p0, e.radius_m), (p0 + axis * length, e.radius1_m)):  # flanges at both ends
                    b.lathe("metal", q - axis * 0.06, axis, [(0.0, 0.0), (0.0, r + 0.04), (0.12, r + 0.04), (0.12, 0.0)])
            elif part.name == "beam" and e.label == "hull":
                p0, axis, length = _axis_of(e)
                r = e.radius_m
                prof = [(0.0, r * 0.7), (0.2, r * 0.93), (0.5, r), (length - 0.5, r), (length - 0.2, r * 0.93),
                        (length, r * 0.7)]
                _profile_solid(b, mat, p0, axis, prof)
            else:
                _hull(b, part, e, mat)
        _russian_extras(b, part)
        _antennas(b, part)
    for itf in station.interfaces:
        if part.name in (itf.child, itf.parent):
            parent = itf.parent == part.name
            _docking_unit(b, itf.point_m, itf.axis, 1.0 if parent else -1.0, itf.mechanism, parent)
    for fixture in VISUAL_FIXTURES.get(part.name, ()):
        _arm_fixtures(b, fixture)
    return b
