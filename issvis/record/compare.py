"""Regression comparison of two trajectory records, for ``issvis compare`` and for tests. numpy only."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..core.frames import quat_angle_rad
from .record import Record


@dataclass(frozen=True)
class Comparison:
    """Outcome of comparing two records; ``report`` is for people."""

    agree: bool
    max_pos_error_m: float
    max_angle_error_deg: float
    worst_part: str
    worst_t_s: float
    report: str


def compare_records(a: Record, b: Record, pos_tol_m: float = 0.01, ang_tol_deg: float = 0.1) -> Comparison:
    """Compare b against a on a's time grid (b interpolated) within tolerances.

    Positions differ by the Euclidean distance of each part's centre of mass; orientations by the
    angle of the rotation between them. Different part lists or time spans never agree.
    """
    if list(a.names) != list(b.names):
        only_a = sorted(map(str, set(a.names) - set(b.names)))
        only_b = sorted(map(str, set(b.names) - set(a.names)))
        msg = (f"records DIFFER: part lists differ: only in A {', '.join(only_a) or '-'}; "
               f"only in B {', '.join(only_b) or '-'}")
        return Comparison(False, float("inf"), float("inf"), "-", 0.0, msg)
    if abs(a.t[0] - b.t[0]) > 1e-9 or abs(a.t[-1] - b.t[-1]) > 1e-6:
        msg = f"time spans differ: A {a.t[0]:g}..{a.t[-1]:g} s, B {b.t[0]:g}..{b.t[-1]:g} s"
        return Comparison(False, float("inf"), float("inf"), "-", 0.0, msg)
    if a.t.shape == b.t.shape and np.array_equal(a.t, b.t):
        pos_b, quat_b = b.pos, b.quat
    else:
        poses = [b.pose_at(t) for t in a.t]
        pos_b = np.stack([p for p, _ in poses])
        quat_b = np.stack([q for _, q in poses])
    pos_err = np.linalg.norm(a.pos - pos_b, axis=2)
    ang_err = np.degrees(quat_angle_rad(a.quat, quat_b))
    # worst relative to its tolerance decides where to point the user
    score = np.maximum(pos_err / pos_tol_m, ang_err / ang_tol_deg)
    ti, bi = np.unravel_index(int(np.argmax(score)), score.shape)
    agree = bool(pos_err.max() <= pos_tol_m and ang_err.max() <= ang_tol_deg)
    verdict = "agree" if agree else "DIFFER"
    report = (
        f"records {verdict} (tolerances {pos_tol_m:g} m, {ang_tol_deg:g} deg): "
        f"largest position difference {pos_err.max():.6g} m, largest angle difference {ang_err.max():.6g} deg "
        f"(each over all parts and times); worst against its tolerance: part '{a.names[bi]}' at t = {a.t[ti]:.3f} s, "
        f"position off by {pos_err[ti, bi]:.6g} m, angle by {ang_err[ti, bi]:.6g} deg"
    )
    return Comparison(agree, float(pos_err.max()), float(ang_err.max()), str(a.names[bi]), float(a.t[ti]), report)


def assert_trajectories_match(golden: Record | str | Path, new: Record | str | Path, pos_tol_m: float = 0.01,
                              ang_tol_deg: float = 0.1) -> Comparison:
    """pytest helper: raise AssertionError with the comparison report when records differ."""
    golden = golden if isinstance(golden, Record) else Record.load(golden)
    new = new if isinstance(new, Record) else Record.load(new)
    result = compare_records(golden, new, pos_tol_m=pos_tol_m, ang_tol_deg=ang_tol_deg)
    if not result.agree:
        raise AssertionError(result.report)
    return result
