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
from typing import TYPE_CHECKING

import numpy as np

from ..core.errors import InputError
from ..core.files import atomic_path
from ..core.frames import quat_to_matrix
from ..station.actuators import CMG_CAPACITY_NMS

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

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


def _spread(values: np.ndarray, min_gap: float) -> np.ndarray:
    """Label heights: ``values`` moved apart (order kept) so neighbours are ``min_gap`` apart."""
    order = np.argsort(values)
    out = np.asarray(values, float)[order].copy()
    for i in range(1, len(out)):
        out[i] = max(out[i], out[i - 1] + min_gap)
    shift = (out - np.asarray(values, float)[order]).mean()  # recentre on the lines
    out -= shift
    result = np.empty_like(out)
    result[order] = out
    return result


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
    from matplotlib.figure import Figure  # no pyplot: no backend, no display, no global state

    path = Path(path)
    if path.suffix.lower() not in FIGURE_SUFFIXES:
        raise PlotError(f"{path}: expected a file ending in {' or '.join(FIGURE_SUFFIXES)}")
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
    ax.text(0.02, 0.95, f"distance (black): {dist[-1]:.1f} m at the end\nrate (green): {rate[-1]:.3f} m/s",
            transform=ax.transAxes, va="top", fontsize=8.5,
            bbox=dict(facecolor="white", alpha=0.8, lw=0))
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
    ax.annotate(f"{parent_label} side", (0, 0), xytext=(0, 8), textcoords="offset points", color=c_parent,
                fontsize=8.5, ha="center")
    # the end label leans towards the middle of the panel so it is never cut off
    centre_y = 0.5 * (rel[after, 1].min() + rel[after, 1].max())
    ax.annotate(f"{child_label} side at {t[-1]:.0f} s", (rel[-1, 1], rel[-1, 0]), xytext=(0, -13),
                textcoords="offset points", color=c_child, fontsize=8.5,
                ha="right" if rel[-1, 1] > centre_y else "left")
    ax.text(0.02, 0.02, "● start of the push", transform=ax.transAxes, fontsize=7.5)
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
    if contacts:
        t0, _, parts = contacts[0]
        ax.annotate(f"contact {parts}\nfirst at {t0:.1f} s ({len(contacts)} in all)", (t0, 0.5),
                    xycoords=("data", "axes fraction"), xytext=(6, 0), textcoords="offset points",
                    color=CONTACT_COLOUR, fontsize=8.5, fontweight="bold")
    else:
        ax.text(0.97, 0.5, "no contact", transform=ax.transAxes, ha="right", fontsize=9, color="#2ca02c")
    ax.set_xlabel("time, s")
    ax.set_ylabel("smallest gap between the bodies, m")
    ax.set_title("Clearance (contacts shaded orange)", fontsize=10)
    ax.grid(alpha=0.3, which="both")

    # 4. attitude of each side
    ax = axs[1, 1]
    styles = (("pitch", "-"), ("roll", "--"), ("yaw", ":"))
    ends, labels, colours = [], [], []
    for mask, label, colour in ((sides[1], parent_label, c_parent), (sides[0], child_label, c_child)):
        angles = attitude_angles_deg(record, mask)
        for j, (name, ls) in enumerate(styles):
            ax.plot(t, angles[:, j], color=colour, ls=ls, lw=1.4)
            ends.append(angles[-1, j])
            labels.append(f"{label} {name}")
            colours.append(colour)
    lo, hi = ax.get_ylim()
    for y, label, colour in zip(_spread(np.array(ends), 0.055 * (hi - lo)), labels, colours):
        ax.text(t[-1] + 0.02 * (t[-1] - t[0]), y, label, color=colour, fontsize=7.5, va="center")
    ax.set_xlim(t[0], t[-1] + 0.24 * (t[-1] - t[0]))
    ax.set_xlabel("time, s")
    ax.set_ylabel("angle from the attitude at t = 0, deg")
    ax.set_title("Attitude of each side (pitch —, roll - -, yaw ···)", fontsize=10)
    ax.grid(alpha=0.3)
    mark_contacts(ax)

    if control:
        _control_panels(record, axs[2, 0], axs[2, 1], sides, (child_label, c_child), (parent_label, c_parent))
    save_figure(fig, path)


def _control_panels(record: Record, ax_err: Axes, ax_h: Axes, sides: tuple[np.ndarray, np.ndarray],
                    child: tuple[str, str], parent: tuple[str, str]) -> None:
    """Attitude error of each controller; CMG momentum against capacity; propellant per side."""
    t = record.t
    err = record.extra["attitude_error_deg"]
    names = [str(n) for n in record.extra.get("control_names", np.array(["cmg", "jets"]))]
    what = {"cmg": ("CMGs (US segment)", parent[1]), "jets": ("thrusters (Russian segment)", child[1])}
    for k, name in enumerate(names):
        label, colour = what.get(name, (name, "grey"))
        series = err[:, k]
        if np.any(np.isfinite(series)):
            ax_err.semilogy(t, np.maximum(series, 1e-4), color=colour, lw=1.4)
            last = np.flatnonzero(np.isfinite(series))[-1]
            ax_err.annotate(f"{label}: {series[last]:.2f} deg", (t[last], max(series[last], 1e-4)), xytext=(-4, 6),
                            textcoords="offset points", ha="right", color=colour, fontsize=8)
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
    ax_h.annotate(f"capacity {capacity:,.0f} N m s", (t[-1], capacity), xytext=(-2, 3), textcoords="offset points",
                  fontsize=8, ha="right")
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


def save_figure(fig: Figure, path: str | Path) -> None:
    """Write a matplotlib figure atomically (temporary name, then rename); format from the suffix."""
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format=tmp.suffix.lstrip(".").lower())
