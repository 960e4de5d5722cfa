"""Plots of a trajectory record: separation, relative path (CW loops), clearance, attitude, and
(for records with attitude control) attitude error, CMG momentum and propellant.

Reads a :class:`~issvis.record.record.Record` only (never re-runs physics). matplotlib is imported
inside the functions with the Agg backend, so ``import issvis.analysis.plots`` stays numpy-only and the
plots render on machines without a display.

Every line is labelled where it is drawn (a text beside it, in its colour), so the figure reads
without a legend hunt.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Literal, cast

import numpy as np

from ..core.errors import InputError
from ..core.files import atomic_path
from ..core.frames import quat_to_matrix
from ..station.actuators import CMG_CAPACITY_NMS

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.text import Annotation
    from matplotlib.transforms import Bbox

    from ..record.record import Record

FIGURE_SUFFIXES = (".png", ".svg")
FIGSIZE_IN = (10.0, 7.0)
DPI = 100
"""README-sized: 1000 x 700 pixels as PNG."""

SIDE_COLOURS = {"ROS": "#d62728", "USOS": "#1f77b4"}
CONTACT_COLOUR = "#ff7f0e"


class PlotError(InputError, ValueError):
    """A record that these plots cannot show (e.g. no separation in it)."""


# --- quantities ------------------------------------------------------------------------------
def side_label(record: Record, mask: np.ndarray) -> str:
    """The segment holding most of the mass of the parts in a (B,) mask: 'ROS', 'USOS', ..."""
    seg: dict[str, float] = {}
    for s, m in zip(record.segment[mask], record.mass[mask]):
        seg[str(s)] = seg.get(str(s), 0.0) + float(m)
    return max(seg, key=seg.__getitem__)


def relative_path_m(record: Record) -> np.ndarray:
    """(T, 3) LVLH position of the first separation's child side relative to its parent side, m."""
    sides = record.separation_sides()
    if sides is None:
        raise PlotError("the record has no separation event")
    child, _ = record.group_com(sides[0])
    parent, _ = record.group_com(sides[1])
    return child - parent


def attitude_angles_deg(record: Record, mask: np.ndarray) -> np.ndarray:
    """(T, 3) pitch, roll, yaw (deg) of a side relative to its attitude at t[0], in its own axes.

    Body-fixed 2-1-3 angles: pitch about +Y (the orbit normal in +XVV), then roll about +X,
    then yaw about +Z (nadir). Pitch comes first because it is the large motion here (the
    gravity-gradient swing in the orbit plane): in this order it never meets gimbal lock and
    unwraps freely through a full tumble. Taken from the side's heaviest part (a side is one
    rigid body once separated).
    """
    idx = np.flatnonzero(mask)
    k = int(idx[np.argmax(record.mass[idx])])
    rot = quat_to_matrix(record.quat[:, k])  # (T, 3, 3) part -> LVLH
    rel = np.einsum("ji,tjk->tik", rot[0], rot)  # R0^T R(t) = Ry(pitch) Rx(roll) Rz(yaw)
    pitch = np.arctan2(rel[:, 0, 2], rel[:, 2, 2])
    roll = np.arcsin(np.clip(-rel[:, 1, 2], -1.0, 1.0))
    yaw = np.arctan2(rel[:, 1, 0], rel[:, 1, 1])
    return np.degrees(np.stack([np.unwrap(pitch), roll, np.unwrap(yaw)], axis=1))


def _spread(values: np.ndarray, min_gap: float, lo: float = -np.inf, hi: float = np.inf) -> np.ndarray:
    """Label heights: ``values`` moved apart (order kept) so neighbours are ``min_gap`` apart.

    Only labels that would overlap move: each run of crowded labels is centred on its own lines'
    ends (not the whole set on the mean), so a label stays beside its line wherever there is
    room; labels beyond ``[lo, hi]`` are then pushed inside (and those they meet along).
    """
    values = np.asarray(values, float)
    order = np.argsort(values)
    blocks: list[list[float]] = []  # [sum of (target - k * gap) over the block, count]: its best first height
    for y in values[order]:
        blocks.append([float(y), 1.0])
        while len(blocks) > 1:
            (s1, n1), (s2, n2) = blocks[-2], blocks[-1]
            if s1 / n1 + n1 * min_gap <= s2 / n2:
                break
            blocks[-2:] = [[s1 + s2 - n1 * n2 * min_gap, n1 + n2]]
    out = np.concatenate([s / n + min_gap * np.arange(int(n)) for s, n in blocks])
    for i in range(len(out)):  # up from the floor, then down from the ceiling: only the labels in the way move
        out[i] = max(out[i], lo if i == 0 else out[i - 1] + min_gap)
    for i in reversed(range(len(out))):
        out[i] = min(out[i], hi if i == len(out) - 1 else out[i + 1] - min_gap)
    result = np.empty_like(out)
    result[order] = out
    return result


def label_line_ends(ax: Axes, ends: Sequence[tuple[float, float, str, str]], fontsize: float = 7.5) -> None:
    """Direct labels in the right margin of ``ax``: for each ``(x, y, text, colour)`` a text at its
    line's end height (moved apart only as far as needed), joined to the end by a thin leader in its
    colour, so each label sits beside its own line and no line runs through a label.

    The axes must already have their final limits, with room on the right beyond every line; the
    heights are spread in pixels (the figure is laid out first), so linear and log axes alike work.
    """
    from matplotlib.figure import Figure

    fig = ax.get_figure()
    assert isinstance(fig, Figure)
    fig.draw_without_rendering()  # constrained layout fixes the axes' size, so pixels are final
    box = ax.get_window_extent()
    to_px = ax.transData
    ys_px = np.array([to_px.transform((x, y))[1] for x, y, _, _ in ends])
    lines_per_label = max(text.count("\n") + 1 for _, _, text, _ in ends)
    gap_px = (lines_per_label * 1.25 * fontsize + 2.0) * fig.dpi / 72.0
    placed = _spread(ys_px, gap_px, box.y0 + gap_px / 2, box.y1 - gap_px / 2)
    x_end_px = max(to_px.transform((x, y))[0] for x, y, _, _ in ends)
    x_text_px = x_end_px + 0.04 * box.width
    for (x, y, text, colour), y_px in zip(ends, placed):
        xy_text = to_px.inverted().transform((x_text_px, y_px))
        ax.annotate(text, (x, y), xytext=tuple(xy_text), textcoords="data", color=colour, fontsize=fontsize,
                    va="center", ha="left", annotation_clip=False,
                    arrowprops=dict(arrowstyle="-", color=colour, lw=0.6, shrinkA=1.5, shrinkB=1.5))


def _crosses(line: Line2D, box: Bbox) -> bool:
    """Whether a drawn line (or, for markers alone, one of its markers' centres) lies in a pixel box."""
    if line.get_linestyle() in ("None", "none", "", " "):
        points = line.get_transform().transform(np.column_stack(line.get_data()).astype(float))
        return any(box.contains(x, y) for x, y in points)
    return bool(line.get_transform().transform_path(line.get_path()).intersects_bbox(box, filled=False))


def place_clear(ann: Annotation, candidates: Sequence[tuple[tuple[float, float], tuple[float, float], str, str]]) -> bool:
    """Move an annotation to the first of ``candidates`` (``xy`` in its own coordinates, ``xytext``
    offset in points, ``ha``, ``va``) where it lies inside its panel, no line of the panel (twin axes
    included) runs through it and it covers no other label. True if one was found; else the first
    candidate is kept. The figure is laid out first, so pixel boxes are final."""
    from matplotlib.figure import Figure
    from matplotlib.text import Text

    ax = ann.axes
    fig = ax.get_figure() if ax is not None else None
    assert ax is not None and isinstance(fig, Figure)
    fig.draw_without_rendering()
    panel = ax.get_window_extent()
    lines = [line for a in fig.axes if a.get_position().bounds == ax.get_position().bounds for line in a.get_lines()]
    others = [Text.get_window_extent(t) for t in ax.texts if t is not ann and t.get_visible()]
    for xy, offset, ha, va in [*candidates, candidates[0]]:
        ann.xy = xy
        ann.set_position(offset)
        ann.set_horizontalalignment(cast(Literal["left", "center", "right"], ha))
        ann.set_verticalalignment(cast(Literal["bottom", "center", "top"], va))
        box = ann.get_window_extent()  # an Annotation's own method re-reads xy (these carry no arrow)
        inside = panel.x0 <= box.x0 and box.x1 <= panel.x1 and panel.y0 <= box.y0 and box.y1 <= panel.y1
        if inside and not any(_crosses(line, box) for line in lines) and not any(box.overlaps(o) for o in others):
            return True
    return False


def contact_intervals(record: Record) -> list[tuple[float, float, str]]:
    """(start s, end s, 'part/part') for each contact; an open one ends at the record's end."""
    open_: dict[tuple[str, ...], float] = {}
    out: list[tuple[float, float, str]] = []
    for e in record.events:
        key = tuple(sorted(e.get("parts", ())))
        if e["kind"] == "contact_start":
            open_[key] = e["t"]
        elif e["kind"] == "contact_end" and key in open_:
            out.append((open_.pop(key), e["t"], "/".join(key)))
    out += [(t0, float(record.t[-1]), "/".join(k)) for k, t0 in open_.items()]
    return sorted(out)


def has_control(record: Record) -> bool:
    return "cmg_momentum_nms" in record.extra and "attitude_error_deg" in record.extra


def propellant_by_side_kg(record: Record, sides: Sequence[np.ndarray]) -> list[tuple[str, np.ndarray]]:
    """(label, (T,) kg) of propellant burnt on each side of the first separation (jets' carriers)."""
    parts = [str(p) for p in record.extra["propellant_parts"]]
    used = record.extra["propellant_kg"]
    out: list[tuple[str, np.ndarray]] = []
    for mask in sides:
        names = set(record.names[mask])
        cols = [k for k, p in enumerate(parts) if p in names]
        out.append((side_label(record, mask), used[:, cols].sum(axis=1) if cols else np.zeros(len(record.t))))
    return out


# --- the figure --------------------------------------------------------------------------------
def plot_record(record: Record, path: str | Path) -> None:
    """Four panels of a separation record, written atomically as PNG or SVG (by suffix)."""
    path = Path(path)
    if path.suffix.lower() not in FIGURE_SUFFIXES:
        raise PlotError(f"{path}: expected a file ending in {' or '.join(FIGURE_SUFFIXES)}")
    save_figure(record_figure(record), path)


def record_figure(record: Record) -> Figure:
    """The figure of :func:`plot_record`, not yet written (tests read its layout)."""
    from matplotlib.figure import Figure  # no pyplot: no backend, no display, no global state
    from matplotlib.lines import Line2D

    sides = record.separation_sides()
    if sides is None:
        raise PlotError("the record has no separation event: nothing comes apart to plot")
    child_label, parent_label = side_label(record, sides[0]), side_label(record, sides[1])
    c_child = SIDE_COLOURS.get(child_label, "#d62728")
    c_parent = SIDE_COLOURS.get(parent_label, "#1f77b4")
    t = record.t
    t_sep = float(record.events_of("separation")[0]["t"])
    separation = record.separation_distance()
    assert separation is not None  # the record has sides, hence a distance between them
    dist, rate = separation
    contacts = contact_intervals(record)
    rel = relative_path_m(record)
    clearance = record.extra.get("clearance_m")

    control = has_control(record)
    size = (FIGSIZE_IN[0], FIGSIZE_IN[1] * 1.5) if control else FIGSIZE_IN
    fig = Figure(figsize=size, dpi=DPI, layout="constrained")
    axs = fig.subplots(3 if control else 2, 2)
    title = record.meta.get("title", "issvis record")
    fig.suptitle(f"{title}: {child_label} side ({record.mass[sides[0]].sum() / 1000:.0f} t) leaves the "
                 f"{parent_label} side ({record.mass[sides[1]].sum() / 1000:.0f} t)", fontsize=11)

    def mark_contacts(ax: Axes) -> None:
        for t0, t1, _ in contacts:
            ax.axvspan(t0, max(t1, t0 + 0.5), color=CONTACT_COLOUR, alpha=0.35, lw=0)

    # 1. distance and rate
    ax = axs[0, 0]
    ax.plot(t, dist, color="#333333", lw=1.8)
    ax.set_ylabel("distance between centres of mass, m")
    ax.set_xlabel("time, s")
    ax2 = ax.twinx()
    ax2.plot(t, rate, color="#2ca02c", lw=1.2)
    ax2.set_ylabel("separation rate, m/s", color="#2ca02c")
    ax2.tick_params(axis="y", colors="#2ca02c")
    # placed last, in a corner no line runs through (beside the opening's dotted line, not on it)
    info = ax.annotate(f"distance (black): {dist[-1]:.1f} m at the end\nrate (green): {rate[-1]:.3f} m/s",
                       (t_sep, 0.95), xycoords=("data", "axes fraction"), xytext=(5, 0), textcoords="offset points",
                       va="top", fontsize=8.5, bbox=dict(facecolor="white", alpha=0.8, lw=0))
    to_place = [(info, [((t_sep, f), (5, 0), "left", va) for f, va in ((0.95, "top"), (0.05, "bottom"))]
                 + [((float(t[-1]), f), (-5, 0), "right", va) for f, va in ((0.95, "top"), (0.05, "bottom"))]
                 + [((t_sep, 0.5), (5, 0), "left", "center"), ((float(t[-1]), 0.5), (-5, 0), "right", "center")])]
    ax.axvline(t_sep, color="grey", ls=":", lw=0.8)
    mark_contacts(ax)
    ax.set_title("Separation", fontsize=10)

    # 2. relative path in the LVLH x-y plane: along-track horizontal, radial vertical
    ax = axs[0, 1]
    after = t >= t_sep
    ax.plot(rel[after, 1], rel[after, 0], color=c_child, lw=1.8)
    ax.plot(rel[after, 1][:1], rel[after, 0][:1], "o", color="black", ms=4)
    ax.plot(rel[after, 1][-1:], rel[after, 0][-1:], ">", color=c_child, ms=7)
    ax.plot([0], [0], "s", color=c_parent, ms=7)
    ax.margins(0.15)
    parent_mark = ax.annotate(f"{parent_label} side", (0, 0), xytext=(6, 6), textcoords="offset points",
                              color=c_parent, fontsize=8.5, ha="left")
    # in a quadrant the axis lines through the mark leave free, off the path
    to_place.append((parent_mark, [((0.0, 0.0), (dx, dy), ha, va) for dy, va in ((6, "bottom"), (-6, "top"))
                                   for dx, ha in ((6, "left"), (-6, "right"))]))
    # the end label leans towards the middle of the panel so it is never cut off
    centre_y = 0.5 * (rel[after, 1].min() + rel[after, 1].max())
    ax.annotate(f"{child_label} side at {t[-1]:.0f} s", (rel[-1, 1], rel[-1, 0]), xytext=(0, -13),
                textcoords="offset points", color=c_child, fontsize=8.5,
                ha="right" if rel[-1, 1] > centre_y else "left")
    # a framed key with the path's own line through the dot: it reads as a key, not as a data point
    key = Line2D([], [], color=c_child, lw=1.8, marker="o", mfc="black", mec="black", ms=4)
    ax.legend([key], ["start of the push (black dot)"], loc="best", fontsize=7.5, frameon=True,
              framealpha=1.0, edgecolor="#999999", handlelength=2.5)
    ax.set_xlabel("along-track y, m (+ ahead, direction of flight)")
    ax.set_ylabel("radial x, m (+ up, away from Earth)")
    ax.axhline(0, color="grey", lw=0.5)
    ax.axvline(0, color="grey", lw=0.5)
    ax.set_title(f"{child_label} side relative to the {parent_label} side (LVLH)", fontsize=10)
    ax.grid(alpha=0.3)

    # 3. clearance
    ax = axs[1, 0]
    if clearance is not None and np.any(np.isfinite(clearance)):
        shown = np.where(np.isfinite(clearance), np.maximum(clearance, 1e-3), np.nan)
        ax.semilogy(t, shown, color="#9467bd", lw=1.6)
        finite = clearance[np.isfinite(clearance)]
        ax.text(0.98, 0.05, f"end: {finite[-1]:.1f} m", transform=ax.transAxes, ha="right", fontsize=8.5)
    for e in record.events_of("collisions_enabled"):
        ax.axvline(e["t"], color="grey", ls="--", lw=0.8)
        ax.annotate("collisions on", (e["t"], 1), xycoords=("data", "axes fraction"), xytext=(3, -10),
                    textcoords="offset points", fontsize=7.5, color="grey")
    mark_contacts(ax)
    named = None
    if contacts:
        t0, _, parts = contacts[0]
        named = ax.annotate(f"contact {parts}\nfirst at {t0:.1f} s ({len(contacts)} in all)", (t0, 0.5),
                            xycoords=("data", "axes fraction"), xytext=(6, 0), textcoords="offset points",
                            color=CONTACT_COLOUR, fontsize=8.5, fontweight="bold")
        heights = (0.5, 0.35, 0.65, 0.2, 0.8, 0.08, 0.92)
        to_place.append((named, [((t0, f), (6, 0), "left", "center") for f in heights]
                         + [((t0, f), (-6, 0), "right", "center") for f in heights]
                         + [((float(t[-1]), f), (-4, 0), "right", "center") for f in heights]))
        clearance_ax, contact_note = ax, f"first contact {parts} at {t0:.1f} s, {len(contacts)} in all"
    else:
        ax.text(0.97, 0.5, "no contact", transform=ax.transAxes, ha="right", fontsize=9, color="#2ca02c")
    ax.set_xlabel("time, s")
    ax.set_ylabel("smallest gap between the bodies, m")
    ax.set_title("Clearance (contacts shaded orange)", fontsize=10)
    ax.grid(alpha=0.3, which="both")

    # 4. attitude of each side
    ax = axs[1, 1]
    styles = (("pitch", "-"), ("roll", "--"), ("yaw", ":"))
    attitude_ends = []
    for mask, label, colour in ((sides[1], parent_label, c_parent), (sides[0], child_label, c_child)):
        angles = attitude_angles_deg(record, mask)
        for j, (name, ls) in enumerate(styles):
            ax.plot(t, angles[:, j], color=colour, ls=ls, lw=1.4)
            attitude_ends.append((float(t[-1]), float(angles[-1, j]), f"{label} {name}", colour))
    ax.set_xlim(t[0], t[-1] + 0.24 * (t[-1] - t[0]))
    attitude_ax = ax
    ax.set_xlabel("time, s")
    ax.set_ylabel("angle from the attitude at t = 0, deg")
    ax.set_title("Attitude of each side (pitch —, roll - -, yaw ···)", fontsize=10)
    ax.grid(alpha=0.3)
    mark_contacts(ax)

    error_ends = []
    if control:
        error_ends = _control_panels(record, axs[2, 0], axs[2, 1], sides, (child_label, c_child),
                                     (parent_label, c_parent))
    # labels last: they are placed in pixels of the finished layout
    for ann, candidates in to_place:
        placed = place_clear(ann, candidates)
        if not placed and named is not None and ann is named:
            # the gap's line runs through every spot (a bouncing contact): name it under the title instead
            ann.remove()
            clearance_ax.set_title(f"{clearance_ax.get_title()}\n{contact_note}", fontsize=10)
    label_line_ends(attitude_ax, attitude_ends)
    if error_ends:
        label_line_ends(axs[2, 0], error_ends)
    return fig


def _control_panels(record: Record, ax_err: Axes, ax_h: Axes, sides: tuple[np.ndarray, np.ndarray],
                    child: tuple[str, str], parent: tuple[str, str]) -> list[tuple[float, float, str, str]]:
    """Attitude error of each controller; CMG momentum against capacity; propellant per side.

    Returns the error lines' ends for :func:`label_line_ends` (placed once the layout is final)."""
    t = record.t
    err = record.extra["attitude_error_deg"]
    names = [str(n) for n in record.extra.get("control_names", np.array(["cmg", "jets"]))]
    what = {"cmg": (f"CMGs, {parent[0]}", parent[1]), "jets": (f"thrusters, {child[0]}", child[1])}
    ends = []
    for k, name in enumerate(names):
        label, colour = what.get(name, (name, "grey"))
        series = err[:, k]
        if np.any(np.isfinite(series)):
            ax_err.semilogy(t, np.maximum(series, 1e-4), color=colour, lw=1.4)
            last = np.flatnonzero(np.isfinite(series))[-1]
            ends.append((float(t[last]), float(max(series[last], 1e-4)), f"{label}:\n{series[last]:.2f} deg", colour))
    ax_err.set_xlim(t[0], t[-1] + 0.34 * (t[-1] - t[0]))
    for e in record.events_of("cmg_saturated"):
        ax_err.axvline(e["t"], color="black", ls="--", lw=0.8)
    ax_err.set_xlabel("time, s")
    ax_err.set_ylabel("angle from the held attitude, deg")
    ax_err.set_title("Attitude error of each controller", fontsize=10)
    ax_err.grid(alpha=0.3, which="both")

    capacity = float(record.meta.get("control", {}).get("cmg_capacity_nms", CMG_CAPACITY_NMS))
    stored = np.linalg.norm(record.extra["cmg_momentum_nms"], axis=1)
    ax_h.plot(t, stored, color=parent[1], lw=1.8)
    ax_h.axhline(capacity, color="black", lw=0.8, ls=":")
    # at the start, where the stored momentum and the propellant are both still low: no line crosses it
    ax_h.annotate(f"capacity {capacity:,.0f} N m s", (t[0], capacity), xytext=(2, 3), textcoords="offset points",
                  fontsize=8, ha="left")
    saturated = record.events_of("cmg_saturated")
    note = f"CMGs saturated at {saturated[0]['t']:.0f} s" if saturated else f"CMG momentum: {stored[-1]:,.0f} N m s at the end"
    ax_h.text(0.98, 0.30, note, transform=ax_h.transAxes, color=parent[1], fontsize=8.5, ha="right")
    for e in saturated:
        ax_h.axvline(e["t"], color="black", ls="--", lw=0.8)
    ax_h.set_ylim(0, capacity * 1.12)
    ax_h.set_xlabel("time, s")
    ax_h.set_ylabel("stored CMG momentum, N m s", color=parent[1])
    ax2 = ax_h.twinx()
    lines = []
    for (label, kg), colour in zip(propellant_by_side_kg(record, sides), (child[1], parent[1])):
        ax2.plot(t, kg, color=colour, lw=1.2, ls="--")
        lines.append(f"{label}: {kg[-1]:.1f} kg")
    ax2.set_ylabel("propellant burnt, kg (dashed)")
    ax_h.text(0.98, 0.18, "propellant (dashed): " + ", ".join(lines), transform=ax_h.transAxes, ha="right",
              fontsize=8, bbox=dict(facecolor="white", alpha=0.8, lw=0))
    ax_h.set_title("CMG momentum (solid) and propellant (dashed)", fontsize=10)
    ax_h.grid(alpha=0.3)
    return ends


def save_figure(fig: Figure, path: str | Path) -> None:
    """Write a matplotlib figure atomically (temporary name, then rename); format from the suffix."""
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format=tmp.suffix.lstrip(".").lower())
