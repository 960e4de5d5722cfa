"""Sweeps: syntax, planning, and small sweeps on a real local Dask cluster."""

from __future__ import annotations

import logging
import math

import numpy as np
import pytest

from issvis.analysis import sweep as sw
from issvis.cli import main
from issvis.core.cluster import (
    DASK_CONNECT_TIMEOUT_ENV,
    DASK_CONNECT_TIMEOUT_S,
    ConnectTimeoutError,
    dask_connect_timeout_s,
)

from .conftest import SCENES

UNDOCK = str(SCENES / "undock.toml")

SHORT = ["--set", "scene.duration_s=60"]  # the push at 20 s, a strike at ~36 s: 60 s is enough
STRIKE = {"separation.0.misalignment_deg": 45.0, "separation.0.misalignment_azimuth_deg": 180.0}


def _without_runtime(rows):
    return [{k: v for k, v in r.items() if k not in sw.NON_REPRODUCIBLE_COLUMNS} for r in rows]


def _same(a, b) -> bool:
    """Row lists equal, NaN equal to NaN."""
    if len(a) != len(b):
        return False
    for ra, rb in zip(a, b):
        if ra.keys() != rb.keys():
            return False
        for k in ra:
            x, y = ra[k], rb[k]
            if isinstance(x, float) and isinstance(y, float) and math.isnan(x) and math.isnan(y):
                continue
            if x != y:
                return False
    return True


# --- syntax and planning (no simulation) ---------------------------------------------------------
def test_parse_vary_range_and_list():
    v = sw.parse_vary("separation.0.delta_v_mps=0.05:0.3:6")
    assert v.key == "separation.0.delta_v_mps"
    np.testing.assert_allclose(v.values, np.linspace(0.05, 0.3, 6))
    assert v.values == (0.05, 0.1, 0.15, 0.2, 0.25, 0.3)  # as a person writes them, not 0.15000000000000002
    assert (v.low, v.high) == (0.05, 0.3)
    assert sw.parse_vary("scene.duration_s=60,120,30").values == (60.0, 120.0, 30.0)


def test_the_table_writes_a_grid_value_as_typed(tmp_path):
    runs = sw.plan_runs([sw.parse_vary("separation.0.delta_v_mps=0.05:0.3:6")], [], None, seed=0)
    sw.write_table(runs, tmp_path / "grid.csv")
    text = (tmp_path / "grid.csv").read_text()
    assert text.split() == ["separation.0.delta_v_mps", "0.05", "0.1", "0.15", "0.2", "0.25", "0.3"]
    assert sw.overrides_for(runs[2]) == ["separation.0.delta_v_mps=0.15"]  # the run simulates what the table says


@pytest.mark.parametrize("spec", ["separation.0.delta_v_mps", "=1:2:3", "a.b=1:2", "a.b=1:2:x", "a.b=1:2:0",
                                  "a.b=x:2:3", "a.b=1,,2", "a.b=nan:1:2"])
def test_parse_vary_rejects(spec):
    with pytest.raises(sw.SweepError, match="--vary"):
        sw.parse_vary(spec)


def test_parse_disperse():
    d = sw.parse_disperse("separation.0.misalignment_deg=normal:0:1.5")
    assert (d.key, d.distribution, d.a, d.b) == ("separation.0.misalignment_deg", "normal", 0.0, 1.5)
    assert sw.parse_disperse("a.b=uniform:1:2").distribution == "uniform"
    for bad in ("a.b=gauss:0:1", "a.b=normal:0", "a.b=normal:0:-1", "a.b=uniform:2:1", "a.b"):
        with pytest.raises(sw.SweepError, match="--disperse"):
            sw.parse_disperse(bad)


def test_grid_is_the_product_in_order():
    runs = sw.plan_runs([sw.parse_vary("a.x=1:3:3"), sw.parse_vary("a.y=10,20")], [], None, seed=0)
    assert [(r["a.x"], r["a.y"]) for r in runs] == [(1, 10), (1, 20), (2, 10), (2, 20), (3, 10), (3, 20)]


def test_monte_carlo_is_seeded_and_in_bounds():
    varies = [sw.parse_vary("a.x=0:3:4")]
    disperses = [sw.parse_disperse("a.y=normal:5:0.1"), sw.parse_disperse("a.z=uniform:-1:1")]
    a = sw.plan_runs(varies, disperses, 500, seed=1)
    assert a == sw.plan_runs(varies, disperses, 500, seed=1)
    assert a != sw.plan_runs(varies, disperses, 500, seed=2)
    x = np.array([r["a.x"] for r in a])
    y = np.array([r["a.y"] for r in a])
    z = np.array([r["a.z"] for r in a])
    assert len(a) == 500 and x.min() >= 0 and x.max() <= 3 and np.all(np.abs(z) <= 1)
    assert abs(y.mean() - 5) < 0.03 and abs(y.std() - 0.1) < 0.02  # 500 draws: ~5 standard errors
    with pytest.raises(sw.SweepError, match="more than once"):
        sw.plan_runs([sw.parse_vary("a.x=0:1:2")], [sw.parse_disperse("a.x=normal:0:1")], None, 0)


@pytest.mark.parametrize("args, message", [
    (["--vary", "separation.0.delta_v_mps=0.1:0.2"], "expected KEY.PATH=START:STOP:N"),
    (["--vary", "separation.0.delta_vmps=0.1:0.2:2"], "did you mean 'delta_v_mps'"),
    (["--vary", "separation.3.delta_v_mps=0.1:0.2:2"], "has no item 3"),
    (["--vary", "separation.0.delta_v_mps=-0.1:0.2:2"], "greater than or equal to 0"),
    (["--disperse", "separation.0.misalignment_deg=poisson:1:2"], "unknown distribution"),
])
def test_cli_bad_specs_exit_2_before_any_run(tmp_path, capsys, args, message):
    out = tmp_path / "sweep.csv"
    assert main(["sweep", UNDOCK, *args, "-o", str(out)]) == 2
    assert message in capsys.readouterr().err
    assert not list(tmp_path.iterdir())


def test_cli_bad_output_suffix_exits_2(tmp_path, capsys):
    assert main(["sweep", UNDOCK, "--vary", "scene.duration_s=30,40", "-o", str(tmp_path / "s.xlsx")]) == 2
    assert "s.xlsx: expected a file ending in .csv or .parquet" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("address", ["not-an-address", "tcp://127.0.0.1:9"])  # no port; a port nothing serves
def test_cli_unreachable_scheduler_exits_2(tmp_path, capsys, monkeypatch, address):
    """Within the connect timeout the environment sets (here 0.5 s, not the default 20 s)."""
    import time

    monkeypatch.setenv(DASK_CONNECT_TIMEOUT_ENV, "0.5")
    out = tmp_path / "s.csv"
    start = time.perf_counter()
    assert main(["sweep", UNDOCK, "--vary", "scene.duration_s=30,40", "--scheduler", address, "-o", str(out)]) == 2
    err = capsys.readouterr().err
    (line,) = [x for x in err.splitlines() if x.startswith("issvis: error:")]  # after the "2 run(s) of" line
    assert line.startswith(f"issvis: error: --scheduler {address}: cannot connect to a Dask scheduler"), err
    assert "Traceback" not in err
    assert time.perf_counter() - start < 10.0, "waited longer than the 0.5 s asked for"
    assert not out.exists()


def test_the_connect_timeout_is_20_s_unless_the_environment_or_the_caller_says_otherwise(monkeypatch):
    monkeypatch.delenv(DASK_CONNECT_TIMEOUT_ENV, raising=False)
    assert dask_connect_timeout_s() == DASK_CONNECT_TIMEOUT_S == 20.0
    monkeypatch.setenv(DASK_CONNECT_TIMEOUT_ENV, " 2.5 ")
    assert dask_connect_timeout_s() == 2.5
    assert dask_connect_timeout_s(7.0) == 7.0  # the keyword (run_sweep's connect_timeout_s) wins
    for bad in ("soon", "0", "-3", "nan", "inf"):
        monkeypatch.setenv(DASK_CONNECT_TIMEOUT_ENV, bad)
        with pytest.raises(ConnectTimeoutError, match=f"--scheduler: {DASK_CONNECT_TIMEOUT_ENV}=.*positive number"):
            dask_connect_timeout_s()
    with pytest.raises(ConnectTimeoutError, match="connect_timeout_s=0.0"):
        dask_connect_timeout_s(0.0)


def test_a_bad_connect_timeout_in_the_environment_exits_2_naming_it(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv(DASK_CONNECT_TIMEOUT_ENV, "20 s")
    out = tmp_path / "s.csv"
    assert main(["sweep", UNDOCK, "--vary", "scene.duration_s=30,40", "--scheduler", "tcp://127.0.0.1:9",
                 "-o", str(out)]) == 2
    err = capsys.readouterr().err
    (line,) = [x for x in err.splitlines() if x.startswith("issvis: error:")]
    assert line == (f"issvis: error: --scheduler: {DASK_CONNECT_TIMEOUT_ENV}='20 s' in the environment: "
                    "expected seconds, a positive number (e.g. 20)"), err
    assert "Traceback" not in err and not out.exists()


# --- a real local cluster ---------------------------------------------------------------------------
@pytest.mark.slow
def test_grid_sweep_on_a_local_cluster_flags_the_strike(tmp_path):
    """Four runs: straight and 45-degree misaligned pushes. Only 45 deg at azimuth 180 strikes."""
    out = tmp_path / "grid.csv"
    args = ["sweep", UNDOCK, *SHORT, "--vary", "separation.0.misalignment_deg=0,45",
            "--vary", "separation.0.misalignment_azimuth_deg=0,180", "--workers", "2", "--no-progress", "-o", str(out)]
    assert main(args) == 0
    rows = sw.read_table(out)
    assert list(rows[0]) == ["run", "separation.0.misalignment_deg", "separation.0.misalignment_azimuth_deg",
                             *sw.METRIC_COLUMNS]
    assert [r["run"] for r in rows] == [0, 1, 2, 3]
    assert all(r["error"] == "" for r in rows)
    for r in rows:
        struck = r["separation.0.misalignment_deg"] == 45 and r["separation.0.misalignment_azimuth_deg"] == 180
        assert r["contact"] is struck
        if struck:
            assert r["min_clearance_m"] == 0.0 and 20.0 < r["first_contact_t_s"] < 60.0 and r["contact_parts"]
        else:
            assert r["min_clearance_m"] > 0.0 and math.isnan(r["first_contact_t_s"])
        assert r["end_distance_m"] > 26.0 and r["runtime_s"] > 0  # the sides moved apart
    straight = rows[0]
    assert straight["end_rate_mps"] == pytest.approx(0.1, abs=0.01)  # the scene's 0.1 m/s push
    assert (tmp_path / "grid.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not list(tmp_path.glob(".*tmp*"))


@pytest.mark.slow
def test_seeded_dispersion_is_reproducible_and_failed_runs_are_rows(tmp_path):
    """Normal delta-v about 0.02 m/s with SD 0.05: some draws are negative, which the scene rejects.
    Those runs are rows with an error; a second sweep with the same seed, on another cluster
    reached by --scheduler, gives the same table."""
    seed = 4
    spec = "separation.0.delta_v_mps=normal:0.02:0.05"
    planned = sw.plan_runs([], [sw.parse_disperse(spec)], 5, seed)
    negative = [r["separation.0.delta_v_mps"] < 0 for r in planned]
    assert any(negative) and not all(negative), "pick a seed that draws both signs"
    common = ["sweep", UNDOCK, *SHORT, "--disperse", spec, "--samples", "5", "--seed", str(seed),
              "--no-progress"]
    assert main([*common, "--workers", "2", "-o", str(tmp_path / "a.parquet")]) == 0
    # the second time on an existing cluster, as a user who outgrew one machine would: --scheduler
    from dask.distributed import LocalCluster

    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None,
                      silence_logs=logging.ERROR) as cluster:
        assert main([*common, "--scheduler", cluster.scheduler_address, "-o", str(tmp_path / "b.parquet")]) == 0
    tables = [sw.read_table(tmp_path / "a.parquet"), sw.read_table(tmp_path / "b.parquet")]
    a, b = tables
    assert len(a) == 5
    for row, neg, plan in zip(a, negative, planned):
        assert row["separation.0.delta_v_mps"] == plan["separation.0.delta_v_mps"]
        assert bool(row["error"]) is neg
        if neg:
            assert "greater than or equal to 0" in row["error"] and math.isnan(row["end_distance_m"])
        else:
            assert math.isfinite(row["end_distance_m"])
    assert _same(_without_runtime(a), _without_runtime(b))


def test_word_values_reach_the_scene_and_the_plot(tmp_path):
    """A list --vary may hold words (an attitude name); they are checked up front, passed as TOML
    strings, kept in the table and shown as categories in the summary figure."""
    text = (SCENES / "undock.toml").read_text()
    vary = sw.parse_vary("station.attitude=+XVV,-XVV")
    assert vary.values == ("+XVV", "-XVV") and vary.low is None
    with pytest.raises(sw.SweepError, match="attitude must be one of"):
        sw.check_keys(text, UNDOCK, [], [sw.parse_vary("station.attitude=+XVV,XVV")], [])
    sw.check_keys(text, UNDOCK, [], [vary], [])
    runs = sw.plan_runs([vary, sw.parse_vary("separation.0.delta_v_mps=0.1,0.2")], [], None, seed=0)
    rows = sw.run_serial(text, UNDOCK, ["scene.duration_s=30"], runs)
    assert [r["station.attitude"] for r in rows] == ["+XVV", "+XVV", "-XVV", "-XVV"]
    assert all(r["error"] == "" for r in rows)
    sw.write_table(rows, tmp_path / "words.csv")
    assert [r["station.attitude"] for r in sw.read_table(tmp_path / "words.csv")] == ["+XVV", "+XVV", "-XVV", "-XVV"]
    sw.plot_sweep(rows, list(runs[0]), tmp_path / "words.png")
    assert (tmp_path / "words.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.slow
def test_the_local_cluster_serves_no_http_routes():
    """No dashboard is asked for: the scheduler's HTTP port (distributed still opens one) answers
    404 for the health, metrics, info and JSON pages it would otherwise serve to anyone local."""
    import urllib.error
    import urllib.request

    cluster = sw.local_cluster(n_workers=1)
    try:
        port = next(iter(cluster.scheduler.http_server._sockets.values())).getsockname()[1]
        codes = {}
        for path in ("/health", "/metrics", "/info/main/workers.html", "/json/counts.json", "/status"):
            try:
                codes[path] = urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5).status
            except urllib.error.HTTPError as exc:
                codes[path] = exc.code
    finally:
        cluster.close()
    assert set(codes.values()) == {404}, codes


def _rows(key, values, clearances):
    return [{"run": i, key: v, "min_clearance_m": c, "contact": False, "error": ""}
            for i, (v, c) in enumerate(zip(values, clearances))]


def test_a_one_key_sweep_axis_spans_at_least_the_clearance_resolution():
    """Four clean pushes whose clearances differ by 9 mm (the physics step at which collisions switch
    on) once filled the axis, so noise read as a trend: the axis now spans at least 1 m (or a tenth
    of the values), from no lower than 0."""
    key = "separation.0.delta_v_mps"
    clear = [0.2856, 0.2916, 0.2871, 0.2822]
    ax = sw.sweep_figure(_rows(key, [0.1, 0.133, 0.167, 0.2], clear), [key]).axes[0]
    lo, hi = ax.get_ylim()
    assert ax.get_yscale() == "linear"
    assert hi - lo >= sw.CLEARANCE_AXIS_MIN_SPAN_M == 1.0
    assert lo >= 0.0 and lo <= min(clear) and max(clear) <= hi
    # large clearances: a tenth of the values
    far = [50.0, 50.3, 50.1]
    lo, hi = sw.sweep_figure(_rows(key, [0.1, 0.2, 0.3], far), [key]).axes[0].get_ylim()
    assert hi - lo >= 0.1 * max(far) and lo <= min(far) and max(far) <= hi


def test_a_real_trend_keeps_its_own_axis():
    """Clearances spread over more than the floor keep matplotlib's fitted limits."""
    assert sw.clearance_axis_limits_m(np.array([0.3, 2.5])) is None
    assert sw.clearance_axis_limits_m(np.array([np.nan])) is None
    lo, hi = sw.clearance_axis_limits_m(np.array([3.0, 3.2]))
    assert (lo, hi) == pytest.approx((2.6, 3.6))
