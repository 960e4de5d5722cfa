"""Parameter sweeps and Monte Carlo dispersions of a scene, run on Dask.

numpy only at import; dask.distributed, tqdm, pyarrow and matplotlib are imported where used.

A sweep is a list of *runs*; a run is the base scene plus ``KEY.PATH=VALUE`` overrides (the
``--set`` syntax of every issvis command). The driver draws every run's values up front from
one seeded generator, so the table does not depend on which worker ran what, or when:

- ``--vary KEY=START:STOP:N``: N evenly spaced values (``numpy.linspace``), or ``KEY=A,B,C``
  for a list (numbers, or words such as ``station.attitude=+XVV,-XVV``). Without ``--samples``
  the runs are the full grid (product of all ``--vary`` lists, the first key varying slowest).
- ``--disperse KEY=normal:MEAN:SD`` or ``KEY=uniform:LOW:HIGH``: a random value per run.
- ``--samples N``: N Monte Carlo runs instead of the grid; a ``START:STOP:N`` key is drawn
  uniformly in [START, STOP] (its N then unused), a list key picks one of its values with equal
  chances, each ``--disperse`` key is drawn from its distribution.

Each run's summary is one row (see :data:`METRIC_COLUMNS`). A run that fails (bad drawn value,
simulation error, dead worker) is a row with its ``error`` text, never lost. The same seed gives
the same table, except ``runtime_s`` (wall time of the run on its worker).
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..core.cluster import dask_connect_timeout_s
from ..core.errors import InputError
from ..core.files import atomic_open, atomic_path
from ..core.tolerances import TOLERANCES
from ..scene.schema import scene_from_text

if TYPE_CHECKING:
    from matplotlib.figure import Figure

TABLE_SUFFIXES = (".csv", ".parquet")

METRIC_COLUMNS = (
    "min_clearance_m",  # smallest gap between separate bodies once collisions are on (0 at contact), m
    "contact",  # any contact between separate bodies
    "first_contact_t_s",  # time of the first contact_start, s (NaN without contact)
    "contact_parts",  # parts of the first contact, "a/b"
    "n_contacts",  # number of contact_start events
    "end_distance_m",  # distance between the first separation's two sides at the end, m
    "end_rate_mps",  # its rate at the end, m/s
    "runtime_s",  # wall time of the run on its worker (the only non-reproducible column), s
    "error",  # "" for a run that worked, else what went wrong
)
NON_REPRODUCIBLE_COLUMNS = ("runtime_s",)
DISTRIBUTIONS = ("normal", "uniform")


class SweepError(InputError, ValueError):
    """Bad sweep specification (syntax, unknown key, value out of range)."""


# --- specifications --------------------------------------------------------------------------
@dataclass(frozen=True)
class Vary:
    key: str
    values: tuple[float | str, ...]  # the grid
    low: float | None = None  # a START:STOP:N range (drawn uniformly with --samples); None for a list
    high: float | None = None


@dataclass(frozen=True)
class Disperse:
    key: str
    distribution: str  # normal | uniform
    a: float  # mean | low
    b: float  # sd | high


def _number(text: str, what: str, spec: str, option: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise SweepError(f"{option} {spec!r}: {what} {text!r} is not a number") from None
    if not math.isfinite(value):
        raise SweepError(f"{option} {spec!r}: {what} must be finite")
    return value


def _split_key(spec: str, option: str, example: str) -> tuple[str, str]:
    key, sep, rest = spec.partition("=")
    key = key.strip()
    if not sep or not key or not rest.strip() or " " in key:
        raise SweepError(f"{option} {spec!r}: expected {example}")
    return key, rest.strip()


def parse_vary(spec: str) -> Vary:
    """``KEY=START:STOP:N`` (N >= 1 evenly spaced values) or ``KEY=A,B,C``."""
    example = "KEY.PATH=START:STOP:N (e.g. separation.0.delta_v_mps=0.05:0.3:6) or KEY.PATH=A,B,C"
    key, rest = _split_key(spec, "--vary", example)
    if ":" in rest:
        fields = rest.split(":")
        if len(fields) != 3:
            raise SweepError(f"--vary {spec!r}: expected {example}")
        start = _number(fields[0], "START", spec, "--vary")
        stop = _number(fields[1], "STOP", spec, "--vary")
        try:
            n = int(fields[2])
        except ValueError:
            raise SweepError(f"--vary {spec!r}: N {fields[2]!r} is not a whole number") from None
        if n < 1:
            raise SweepError(f"--vary {spec!r}: N must be at least 1")
        # to 12 significant digits: 0.15 as typed, not linspace's 0.15000000000000002, both in the
        # run's --set and in the table (far below any tolerance a scene value has)
        grid = tuple(float(f"{v:.12g}") for v in np.linspace(start, stop, n))
        return Vary(key, grid, min(start, stop), max(start, stop))
    items = [v.strip() for v in rest.split(",")]
    ends = _range_ends(items[0]) if len(items) == 1 else None
    if ends is not None:
        raise SweepError(f"--vary {spec!r}: a range is written START:STOP:N, e.g. {key}={ends[0]}:{ends[1]}:6 "
                         "for 6 values; or a list A,B,C")
    if any(not v for v in items):
        raise SweepError(f"--vary {spec!r}: empty value in the list; expected {example}")
    values: list[float | str] = []
    for v in items:
        try:
            number = float(v)
        except ValueError:
            values.append(v)  # a word: passed to the scene as it is (e.g. an attitude name)
            continue
        if not math.isfinite(number):
            raise SweepError(f"--vary {spec!r}: value {v!r} must be finite")
        values.append(number)
    return Vary(key, tuple(values))


def _range_ends(text: str) -> tuple[str, str] | None:
    """(START, STOP) of '0.05-0.3', '1..3', '1~3' or '1 to 3' (how people write ranges), else None."""
    import re

    number = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
    match = re.fullmatch(rf"({number})\s*(?:-|\.\.|~|to)\s*({number})", text)
    return (match.group(1), match.group(2)) if match else None


def parse_disperse(spec: str) -> Disperse:
    """``KEY=normal:MEAN:SD`` or ``KEY=uniform:LOW:HIGH``."""
    example = "KEY.PATH=normal:MEAN:SD or KEY.PATH=uniform:LOW:HIGH (e.g. separation.0.misalignment_deg=normal:0:1)"
    key, rest = _split_key(spec, "--disperse", example)
    fields = rest.split(":")
    if len(fields) != 3:
        raise SweepError(f"--disperse {spec!r}: expected {example}")
    dist = fields[0].strip().lower()
    if dist not in DISTRIBUTIONS:
        raise SweepError(f"--disperse {spec!r}: unknown distribution {fields[0]!r}; choose {' or '.join(DISTRIBUTIONS)}")
    a = _number(fields[1], "MEAN" if dist == "normal" else "LOW", spec, "--disperse")
    b = _number(fields[2], "SD" if dist == "normal" else "HIGH", spec, "--disperse")
    if dist == "normal" and b < 0:
        raise SweepError(f"--disperse {spec!r}: SD must not be negative")
    if dist == "uniform" and b < a:
        raise SweepError(f"--disperse {spec!r}: HIGH must not be below LOW")
    return Disperse(key, dist, a, b)


def plan_runs(varies: list[Vary], disperses: list[Disperse], samples: int | None,
              seed: int) -> list[dict[str, float | str]]:
    """Every run's parameter values, in run order; deterministic for a given seed.

    Draw order: for each key in the order given (``--vary`` keys, then ``--disperse`` keys), all
    runs' values at once. Adding a key changes the draws of the keys after it, not before.
    """
    keys = [v.key for v in varies] + [d.key for d in disperses]
    dup = sorted({k for k in keys if keys.count(k) > 1})
    if dup:
        raise SweepError(f"key(s) given more than once: {', '.join(dup)}")
    rng = np.random.default_rng(seed)
    columns: dict[str, list[float | str]] = {}
    if samples is not None:
        if samples < 1:
            raise SweepError("--samples must be at least 1")
        n = samples
        for v in varies:
            if v.low is not None and v.high is not None:
                columns[v.key] = [float(x) for x in rng.uniform(v.low, v.high, n)]
            else:
                columns[v.key] = [v.values[int(i)] for i in rng.integers(0, len(v.values), n)]
    else:
        # grid indices, the first key slowest (numpy's C order)
        shape = tuple(len(v.values) for v in varies)
        n = int(np.prod(shape)) if varies else 1
        index = np.indices(shape).reshape(len(varies), -1) if varies else np.zeros((0, 1), int)
        for v, idx in zip(varies, index):
            columns[v.key] = [v.values[int(i)] for i in idx]
    for d in disperses:
        draws = rng.normal(d.a, d.b, n) if d.distribution == "normal" else rng.uniform(d.a, d.b, n)
        columns[d.key] = [float(x) for x in draws]
    return [{k: columns[k][i] for k in keys} for i in range(n)]


def _toml_value(v: float | str) -> str:
    """A value as ``--set`` reads it: floats exactly (repr), words quoted as TOML strings."""
    import json

    return repr(float(v)) if isinstance(v, (int, float)) else json.dumps(str(v))


def overrides_for(params: dict[str, float | str]) -> list[str]:
    return [f"{k}={_toml_value(v)}" for k, v in params.items()]


def check_keys(scene_text: str, source: str, base: list[str], varies: list[Vary], disperses: list[Disperse]) -> None:
    """Fail early (SceneError) on an unknown key or a grid end the scene does not accept."""
    from ..scene.schema import SceneError

    checks = [[f"{v.key}={_toml_value(x)}"] for v in varies
              for x in ((v.low, v.high) if v.low is not None and v.high is not None else v.values)]
    checks += [[f"{d.key}={d.a!r}"] for d in disperses]
    try:
        scene_from_text(scene_text, source, base)
        for extra in checks:
            scene_from_text(scene_text, source, base + extra)
    except SceneError as exc:
        raise SweepError(str(exc)) from None


# --- one run (executes on a Dask worker) -----------------------------------------------------------
def summarize(record) -> dict[str, Any]:
    """The metric columns of one record (without runtime and error)."""
    t = record.t
    clearance = record.extra.get("clearance_m", np.full(len(t), np.nan))
    on = record.events_of("collisions_enabled")
    t_on = min(e["t"] for e in on) if on else math.inf
    # before collisions are on, the opened faces touch by construction: not a clearance
    watched = np.isfinite(clearance) & (t >= t_on)
    starts = record.events_of("contact_start")
    min_clearance = float(clearance[watched].min()) if watched.any() else math.nan
    if starts:
        min_clearance = 0.0
    sep = record.separation_distance()
    dist, rate = sep if sep is not None else (np.array([math.nan]), np.array([math.nan]))
    return {
        "min_clearance_m": min_clearance,
        "contact": bool(starts),
        "first_contact_t_s": float(starts[0]["t"]) if starts else math.nan,
        "contact_parts": "/".join(starts[0].get("parts", [])) if starts else "",
        "n_contacts": len(starts),
        "end_distance_m": float(dist[-1]),
        "end_rate_mps": float(rate[-1]),
    }


def _empty_metrics() -> dict[str, Any]:
    return {"min_clearance_m": math.nan, "contact": False, "first_contact_t_s": math.nan, "contact_parts": "",
            "n_contacts": 0, "end_distance_m": math.nan, "end_rate_mps": math.nan}


def run_one(index: int, scene_text: str, source: str, base: list[str], params: dict[str, float | str]) -> dict[str, Any]:
    """Simulate one run and summarise it; never raises (the error goes in the row)."""
    start = time.perf_counter()
    row: dict[str, Any] = {"run": index, **params}
    try:
        from ..physics.simulation import simulate

        scene = scene_from_text(scene_text, source, base + overrides_for(params))
        row.update(summarize(simulate(scene, progress=False)))
        row["error"] = ""
    except Exception as exc:  # a failed run is reported in the table, whatever failed
        row.update(_empty_metrics())
        row["error"] = f"{type(exc).__name__}: {exc}".replace("\n", " | ")
    row["runtime_s"] = time.perf_counter() - start
    return {k: row[k] for k in ["run", *params, *METRIC_COLUMNS]}


# --- running on Dask -------------------------------------------------------------------------------
def local_cluster(n_workers: int | None = None):
    """A LocalCluster of single-threaded worker *processes* (pybullet holds the GIL)."""
    import logging

    import dask
    from dask.distributed import LocalCluster

    # no dashboard; distributed still listens for HTTP (on 127.0.0.1), so it is given no routes to serve
    with dask.config.set({"distributed.scheduler.http.routes": [], "distributed.worker.http.routes": []}):
        return LocalCluster(n_workers=n_workers or os.cpu_count() or 1, threads_per_worker=1, processes=True,
                            dashboard_address=None, silence_logs=logging.ERROR)


def run_sweep(scene_text: str, source: str, base: list[str], runs: list[dict[str, float | str]],
              scheduler: str | None = None, n_workers: int | None = None, progress: bool = True,
              client=None, connect_timeout_s: float | None = None) -> list[dict[str, Any]]:
    """Run every run on Dask; rows in run order.

    ``scheduler``: the address of an existing Dask scheduler (``tcp://host:8786``), or None for a
    local cluster with ``n_workers`` processes (default: the machine's cores), started and closed
    here; or an open ``client`` to use (left open). ``connect_timeout_s``: how long to wait for
    the scheduler (default ``$ISSVIS_DASK_CONNECT_TIMEOUT_S``, else 20 s; issvis.core.cluster).
    Tasks are pure functions of their arguments, so Dask may retry one on another worker without
    changing the result.
    """
    from dask.distributed import Client, as_completed
    from tqdm import tqdm

    cluster = None
    own_client = client is None
    if client is not None:
        pass
    elif scheduler is None:
        cluster = local_cluster(n_workers)
        client = Client(cluster)
    else:
        timeout_s = dask_connect_timeout_s(connect_timeout_s)
        try:
            client = Client(scheduler, timeout=f"{timeout_s}s")
        except (OSError, ValueError, TypeError) as exc:  # refused, timed out, not an address
            raise SweepError(f"--scheduler {scheduler}: cannot connect to a Dask scheduler ({exc})") from None
    rows: dict[int, dict[str, Any]] = {}
    try:
        futures = {client.submit(run_one, i, scene_text, source, base, p, pure=False): i for i, p in enumerate(runs)}
        with tqdm(total=len(runs), desc="sweep", unit="run", disable=not progress, leave=False) as bar:
            for future in as_completed(futures):
                i = futures[future]
                if future.status == "finished":
                    rows[i] = future.result()
                else:  # the task itself died (worker killed, lost): still a row
                    died = future.exception()
                    rows[i] = {"run": i, **runs[i], **_empty_metrics(), "runtime_s": math.nan,
                               "error": f"{type(died).__name__}: {died}"}
                bar.update(1)
    finally:
        if own_client:
            client.close()
        if cluster is not None:
            cluster.close()
    return [rows[i] for i in range(len(runs))]


def run_serial(scene_text: str, source: str, base: list[str], runs: list[dict[str, float | str]]) -> list[dict[str, Any]]:
    """The same runs one after another in this process (for benchmarks and debugging)."""
    return [run_one(i, scene_text, source, base, p) for i, p in enumerate(runs)]


# --- output -----------------------------------------------------------------------------------------
def write_table(rows: list[dict[str, Any]], path: str | Path) -> None:
    """CSV (always available) or Parquet (needs pyarrow), written atomically."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in TABLE_SUFFIXES:
        raise SweepError(f"{path}: expected a file ending in {' or '.join(TABLE_SUFFIXES)}")
    if suffix == ".csv":
        import csv

        with atomic_open(path, "w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
            writer.writeheader()
            for row in rows:  # repr keeps every float exact, so equal tables are equal files
                writer.writerow({k: repr(v) if isinstance(v, float) else v for k, v in row.items()})
    else:
        import pyarrow as pa
        import pyarrow.parquet as pq

        with atomic_path(path) as tmp:
            pq.write_table(pa.Table.from_pylist(rows), tmp)


def parquet_available() -> bool:
    try:
        import pyarrow.parquet  # noqa: F401
    except ImportError:
        return False
    return True


def read_table(path: str | Path) -> list[dict[str, Any]]:
    """Rows of a table written by :func:`write_table` (numbers as float, words as str, contact as bool)."""
    path = Path(path)
    if path.suffix.lower() == ".parquet":
        import pyarrow.parquet as pq

        return pq.read_table(path).to_pylist()
    import csv

    out = []
    with open(path, newline="") as fh:
        for raw in csv.DictReader(fh):
            row: dict[str, Any] = {}
            for k, v in raw.items():
                if k in ("error", "contact_parts"):
                    row[k] = v
                elif k == "contact":
                    row[k] = v == "True"
                elif k in ("run", "n_contacts"):
                    row[k] = int(v)
                else:
                    try:
                        row[k] = float(v)
                    except ValueError:  # a word-valued --vary key
                        row[k] = v
            out.append(row)
    return out


CLEARANCE_AXIS_MIN_SPAN_M = 2.0 * TOLERANCES.visual_margin_m
"""Smallest span of a 1-D sweep's linear clearance axis, m (1 m). The clearance is measured between
the catalogue's collision primitives, which stand for the real hull only to within
``visual_margin_m`` (0.5 m: handrails, trunnion pins and ports stand off them), and collisions switch
on at a physics step, which moves the first watched gap by up to rate x dt (3 cm at 0.3 m/s, 0.1 s):
runs whose clearances differ by millimetres are the same run. An axis fitted to their 3 mm spread
drew that noise as a trend; on at least a metre it lies flat, as it should."""

CLEARANCE_AXIS_MIN_SPAN_FRACTION = 0.1
"""... or a tenth of the largest clearance, if that is more: the primitives' half metre is a fixed
error, and on clearances of tens of metres a proportionate span keeps a few per cent (a slightly
different push) from filling the axis."""


def clearance_axis_limits_m(values: np.ndarray) -> tuple[float, float] | None:
    """Linear y limits for a 1-D sweep's clearances: their range widened about its middle to the
    floor (:data:`CLEARANCE_AXIS_MIN_SPAN_M`, :data:`CLEARANCE_AXIS_MIN_SPAN_FRACTION`), never
    below 0 (a gap); None when the values already span more (matplotlib's own limits then)."""
    finite = np.asarray(values, float)[np.isfinite(values)]
    if not len(finite):
        return None
    lo, hi = float(finite.min()), float(finite.max())
    floor = max(CLEARANCE_AXIS_MIN_SPAN_M, CLEARANCE_AXIS_MIN_SPAN_FRACTION * max(abs(lo), abs(hi)))
    if hi - lo >= floor:
        return None
    bottom = max(0.5 * (lo + hi) - 0.5 * floor, 0.0)
    return bottom, bottom + floor


def plot_sweep(rows: list[dict[str, Any]], param_keys: list[str], path: str | Path) -> None:
    """Minimum clearance over the swept plane (first two parameters), contacts and failures marked."""
    from .plots import save_figure

    save_figure(sweep_figure(rows, param_keys), path)


def sweep_figure(rows: list[dict[str, Any]], param_keys: list[str]) -> Figure:
    """The figure of :func:`plot_sweep`, not yet written (tests read its axes)."""
    import matplotlib.ticker
    from matplotlib.colors import LogNorm
    from matplotlib.figure import Figure

    ok = [r for r in rows if not r["error"]]
    failed = [r for r in rows if r["error"]]
    fig = Figure(figsize=(8.0, 5.5), dpi=100, layout="constrained")
    ax = fig.add_subplot()
    n_contact = sum(r["contact"] for r in ok)
    fig.suptitle(f"Sweep: {len(rows)} runs, {n_contact} with contact (red ×), {len(failed)} failed (grey +)",
                 fontsize=11)
    clear = np.array([r["min_clearance_m"] for r in ok], float)
    floor = 1e-2
    shown = np.clip(np.nan_to_num(clear, nan=floor), floor, None)
    # colour range: the data's own (so a narrow spread still shows), down to the floor with contacts
    vmin = float(shown.min()) if len(shown) else floor
    vmax = float(shown.max()) if len(shown) else 1.0
    if vmax <= vmin * 1.01:
        vmin, vmax = vmin / 1.1, vmax * 1.1
    size = float(np.clip(6000.0 / max(len(rows), 1), 25.0, 150.0))
    if len(param_keys) >= 2:
        kx, ky = param_keys[0], param_keys[1]
        to_x, to_y = _axis_mapping(rows, kx, ax.set_xticks), _axis_mapping(rows, ky, ax.set_yticks)
        xs = np.array([to_x(r[kx]) for r in ok], float)
        ys = np.array([to_y(r[ky]) for r in ok], float)
        sc = ax.scatter(xs, ys, c=shown, cmap="viridis", norm=LogNorm(vmin, vmax), s=size, edgecolors="none")
        fig.colorbar(sc, ax=ax, label="minimum clearance, m (log; contact = 0 shown at the floor)")
        hit = np.array([r["contact"] for r in ok], bool)
        if hit.any():
            ax.scatter(xs[hit], ys[hit], marker="x", color="red", s=0.75 * size, lw=2.5)
        if failed:
            ax.scatter([to_x(r[kx]) for r in failed], [to_y(r[ky]) for r in failed], marker="+", color="grey",
                       s=70, lw=1.5)
        ax.set_xlabel(kx)
        ax.set_ylabel(ky)
    elif len(param_keys) == 1:
        kx = param_keys[0]
        to_x = _axis_mapping(rows, kx, ax.set_xticks)
        xs = np.array([to_x(r[kx]) for r in ok], float)
        ax.semilogy(xs, shown, "o", color="#1f77b4", ms=5)
        hit = np.array([r["contact"] for r in ok], bool)
        if hit.any():
            ax.semilogy(xs[hit], shown[hit], "x", color="red", ms=9, mew=2)
        for r in failed:
            ax.axvline(to_x(r[kx]), color="grey", lw=0.8, ls=":")
        ax.set_xlabel(kx)
        ax.set_ylabel("minimum clearance, m (runs with contact: red x at 0.01 m)" if hit.any()
                      else "minimum clearance, m")
        if np.nanmax(shown) < 10 * np.nanmin(shown):  # under a decade, log ticks read 2.855e-1...: go linear
            ax.set_yscale("linear")
            limits = clearance_axis_limits_m(shown)
            if limits is not None:  # millimetres of noise must not fill the axis (see the floor's reason)
                ax.set_ylim(*limits)
        ax.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}"))
        ax.grid(alpha=0.3, which="both")
    else:
        ax.hist(shown, bins=20, color="#1f77b4")
        ax.set_xlabel("minimum clearance, m")
        ax.set_ylabel("runs")
    return fig


def _axis_mapping(rows: list[dict[str, Any]], key: str, set_ticks):
    """Numbers map to themselves; words (a list --vary of names) to 0, 1, ... with tick labels."""
    words = sorted({r[key] for r in rows if isinstance(r[key], str)})
    if not words:
        return float
    ticks = {w: float(i) for i, w in enumerate(words)}
    set_ticks(list(ticks.values()), list(ticks))
    return lambda v: ticks[v] if isinstance(v, str) else float(v)
