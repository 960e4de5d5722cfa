"""The ``issvis`` command line: parse, call the pipeline, report. Thin on purpose.

Exit status: 0 success, 1 a comparison that found differences, 2 bad input (one clear line on
stderr, no traceback unless ``--debug``, no output file left behind).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from .scene import DEFAULT_SCENE

EXIT_DIFFERENT = 1
EXIT_BAD_INPUT = 2


class UserError(click.ClickException):
    """Bad input: printed as one line, exit status 2."""

    exit_code = EXIT_BAD_INPUT

    def show(self, file: Any = None) -> None:
        click.echo(f"issvis: error: {self.format_message()}", err=True)


def _user_errors(func):
    """Turn the pipeline's input errors into UserError (exit 2) unless --debug is on."""
    import functools

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        from .scene import SceneError
        from .trajectory import RecordError

        try:
            return func(*args, **kwargs)
        except (SceneError, RecordError) as exc:
            if click.get_current_context().find_root().params.get("debug"):
                raise
            raise UserError(str(exc)) from None

    return wrapper


set_option = click.option("--set", "overrides", multiple=True, metavar="KEY.PATH=VALUE",
                          help="Override a scene value, e.g. separation.0.delta_v_mps=0.2 (repeatable).")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, help="Show tracebacks for errors.")
@click.version_option(package_name="issvis")
def cli(debug: bool) -> None:
    """issvis: simulate and show the ISS of March 2022 coming apart in orbit."""


def load_scene_or_record(path: Path, overrides: tuple[str, ...], progress: bool | None = None):
    """A record from a ``.npz`` path, or the record of a scene simulated now."""
    from .scene import load_scene
    from .trajectory import Record

    if path.suffix == ".npz":
        if overrides:
            raise UserError(f"{path}: --set applies to scenes, not to records")
        return check_station(Record.load(path), path)
    from .simulation import simulate

    return simulate(load_scene(path, overrides), progress=progress)


def check_station(record, path: Path):
    """The record, when it was simulated with this issvis's station (else exit 2); a note on stderr
    when only the looks differ."""
    from .assets import AssetError, StationMismatchError, check_record_station

    try:
        note = check_record_station(record, source=path)
    except (StationMismatchError, AssetError) as exc:
        raise UserError(str(exc)) from None
    if note:
        click.echo(f"issvis: note: {note}", err=True)
    return record


def check_output_suffix(path: Path, suffixes: tuple[str, ...], option: str = "-o") -> None:
    if path.suffix.lower() not in suffixes:
        raise UserError(f"{option} {path}: expected a file ending in {' or '.join(suffixes)}")
    if path.exists() and path.is_dir():
        raise UserError(f"{option} {path}: is a directory")


@cli.command()
@click.argument("scene", type=click.Path(path_type=Path), default=DEFAULT_SCENE)
@click.option("-o", "--output", type=click.Path(path_type=Path), default=None,
              help="Record to write (.npz); default renders/<scene>.npz.")
@click.option("--csv", "csv_path", type=click.Path(path_type=Path), default=None, help="Also write a CSV export.")
@set_option
@_user_errors
def simulate(scene: Path, output: Path | None, csv_path: Path | None, overrides: tuple[str, ...]) -> None:
    """Run the physics of SCENE and write its trajectory record."""
    from .scene import load_scene
    from .simulation import simulate as run

    output = output or Path("renders") / f"{scene.stem}.npz"
    check_output_suffix(output, (".npz",))
    if csv_path is not None:
        check_output_suffix(csv_path, (".csv",), "--csv")
    loaded = load_scene(scene, overrides)
    record = run(loaded)
    record.save(output)
    if csv_path is not None:
        record.to_csv(csv_path)
    click.echo(_summary(record, output))


def _summary(record, output: Path) -> str:
    lines = [f"wrote {output} ({len(record.t)} samples, {len(record.names)} parts, {record.duration_s:g} s)"]
    for e in record.events:
        detail = {k: v for k, v in e.items() if k in ("interface", "delta_v_mps", "parts", "elements", "part")}
        lines.append(f"  t = {e['t']:8.2f} s  {e['kind']:<18} {json.dumps(detail) if detail else ''}")
    sep = record.separation_distance()
    if sep is not None:
        dist, rate = sep
        clearance = record.extra.get("clearance_m")
        lines.append(f"  end: separation {dist[-1]:.1f} m at {rate[-1]:.3f} m/s")
        enabled = record.events_of("collisions_enabled")
        if clearance is not None and enabled:
            import numpy as np

            # until the opened faces are contact_grace_m apart they may touch (hardware not modelled)
            after = clearance[(record.t >= enabled[0]["t"]) & np.isfinite(clearance)]
            if len(after):
                lines.append(f"  smallest gap between the bodies once collisions switched on "
                             f"(t = {enabled[0]['t']:g} s): {after.min():.3f} m; at the end {after[-1]:.1f} m")
    return "\n".join(lines)


@cli.command()
@click.argument("a", type=click.Path(path_type=Path))
@click.argument("b", type=click.Path(path_type=Path))
@click.option("--pos-tol-m", type=click.FloatRange(min=0, min_open=True), default=0.01, show_default=True,
              help="Largest allowed difference of a part's position, m.")
@click.option("--ang-tol-deg", type=click.FloatRange(min=0, min_open=True), default=0.1, show_default=True,
              help="Largest allowed difference of a part's orientation, degrees.")
@_user_errors
def compare(a: Path, b: Path, pos_tol_m: float, ang_tol_deg: float) -> None:
    """Compare two records: exit 0 when they agree, 1 when they differ."""
    from .trajectory import Record, compare_records

    result = compare_records(check_station(Record.load(a), a), check_station(Record.load(b), b),
                             pos_tol_m=pos_tol_m, ang_tol_deg=ang_tol_deg)
    click.echo(result.report)
    if not result.agree:
        sys.exit(EXIT_DIFFERENT)


@cli.command()
@click.option("-o", "--output", type=click.Path(path_type=Path), default=Path("assets"), show_default=True,
              help="Directory for the meshes and the manifest.")
def assets(output: Path) -> None:
    """Regenerate the station's assets (GLB per part, textures, manifest), deterministically."""
    from .assets import load_station_assets
    from .geometry import write_assets

    changed = write_assets(output)
    click.echo(f"{output}: {len(changed)} file(s) changed" + "".join(f"\n  {p}" for p in changed))
    loaded = load_station_assets.__wrapped__(output.resolve(), visuals=False)
    click.echo(f"station {loaded.station_hash[:8]}, looks {loaded.visual_hash[:8]}")


@cli.command("export")
@click.argument("record_path", metavar="RECORD", type=click.Path(path_type=Path))
@click.option("-o", "--output", type=click.Path(path_type=Path), default=None,
              help="Animated glTF to write (.glb); default renders/<record>.glb.")
@click.option("--rate-hz", type=click.FloatRange(min=0, min_open=True, max=1000), default=None,
              help="Resample the keyframes at this rate (default: the record's own samples).")
@click.option("--no-camera", is_flag=True, help="Leave out the render's animated camera.")
@_user_errors
def export_cmd(record_path: Path, output: Path | None, rate_hz: float | None, no_camera: bool) -> None:
    """Write a record as one animated glTF (parts with keyframed poses in LVLH, PBR materials, camera)."""
    from .export import ExportError, export_record
    from .trajectory import Record

    output = output or Path("renders") / f"{record_path.stem}.glb"
    check_output_suffix(output, (".glb",))
    if record_path.suffix != ".npz":
        raise UserError(f"{record_path}: expected a record (.npz) written by 'issvis simulate'")
    record = check_station(Record.load(record_path), record_path)
    try:
        info = export_record(record, output, rate_hz=rate_hz, camera=not no_camera)
    except ExportError as exc:
        raise UserError(f"{record_path}: {exc}") from None
    click.echo(f"wrote {output} ({info['parts']} parts, {info['keyframes']} keyframes, "
               f"{info['bytes'] / 1e6:.1f} MB){'; ' + info['camera'] if info['camera'] else ''}")


@cli.command()
@click.argument("scene", type=click.Path(path_type=Path), default=DEFAULT_SCENE)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@set_option
@_user_errors
def info(scene: Path, as_json: bool, overrides: tuple[str, ...]) -> None:
    """The station's parts, masses, segments and interfaces, and what SCENE does to them."""
    from .catalogue import build_station
    from .geometry import station_mass_properties
    from .scene import load_scene

    loaded = load_scene(scene, overrides)
    station = build_station()
    props = station_mass_properties(station)
    opened = []
    for s in loaded.separation:
        child, parent = station.side_of(s.interface)
        opened.append({"interface": station.interface(s.interface).name, "t_s": s.t_s,
                       "child_side": child, "child_side_mass_kg": sum(station.part(n).mass_kg for n in child),
                       "parent_side_mass_kg": sum(station.part(n).mass_kg for n in parent)})
    data = {
        "scene": str(scene), "title": loaded.scene.title, "total_mass_kg": station.total_mass_kg,
        "segment_mass_kg": station.segment_masses_kg(),
        "parts": [{"name": p.name, "label": p.label, "segment": p.segment, "kind": p.kind, "mass_kg": p.mass_kg,
                   "catalogue_mass_kg": p.catalogue_mass_kg, "com_m": [round(float(v), 3) for v in props[p.name].com_m]}
                  for p in station.parts],
        "interfaces": [{"name": i.name, "mechanism": i.mechanism, "point_m": list(i.point_m), "axis": list(i.axis)}
                       for i in station.interfaces],
        "separations": opened,
        "notes": station.notes,
    }
    if as_json:
        click.echo(json.dumps(data, indent=1))
        return
    click.echo(f"{loaded.scene.title}  ({scene})")
    click.echo(f"station of 5 March 2022: {len(station.parts)} parts, {station.total_mass_kg / 1000:.1f} t")
    click.echo(f"\n{'part':<18}{'label':<26}{'segment':<16}{'kind':<9}{'mass kg':>10}")
    for p in data["parts"]:
        click.echo(f"{p['name']:<18}{p['label']:<26}{p['segment']:<16}{p['kind']:<9}{p['mass_kg']:>10,.0f}")
    click.echo("\nsegments: " + ", ".join(f"{k} {v / 1000:.1f} t" for k, v in data["segment_mass_kg"].items()))
    click.echo("\ninterfaces (child/parent, mechanism):")
    for i in station.interfaces:
        click.echo(f"  {i.name:<30}{i.mechanism}")
    for s in opened:
        click.echo(f"\nopens {s['interface']} at t = {s['t_s']} s: {s['child_side_mass_kg'] / 1000:.1f} t "
                   f"({', '.join(s['child_side'])}) leaves {s['parent_side_mass_kg'] / 1000:.1f} t")


# --- analysis: plot, sweep, decay (issue 5; see docs/analysis.md) ----------------------------------
@cli.command()
@click.argument("source", metavar="RECORD_OR_SCENE", type=click.Path(path_type=Path))
@click.option("-o", "--output", type=click.Path(path_type=Path), default=None,
              help="Figure to write (.png or .svg); default renders/<name>.png.")
@set_option
@_user_errors
def plot(source: Path, output: Path | None, overrides: tuple[str, ...]) -> None:
    """Plot separation, relative path (LVLH), clearance and attitude of a record (or a scene, simulated now)."""
    from .plots import FIGURE_SUFFIXES, PlotError, plot_record

    output = output or Path("renders") / f"{source.stem}.png"
    check_output_suffix(output, FIGURE_SUFFIXES)
    record = load_scene_or_record(source, overrides, progress=False)
    try:
        plot_record(record, output)
    except PlotError as exc:
        raise UserError(f"{source}: {exc}") from None
    click.echo(f"wrote {output}")


@cli.command()
@click.argument("scene", type=click.Path(path_type=Path), default=DEFAULT_SCENE)
@click.option("--vary", "varies", multiple=True, metavar="KEY=START:STOP:N",
              help="Sweep a scene value over N even steps (or KEY=A,B,C); repeatable, the runs are the grid.")
@click.option("--disperse", "disperses", multiple=True, metavar="KEY=normal:MEAN:SD",
              help="Draw a scene value per run: KEY=normal:MEAN:SD or KEY=uniform:LOW:HIGH; repeatable.")
@click.option("--samples", type=click.IntRange(min=1), default=None,
              help="N Monte Carlo runs instead of the grid (--vary keys drawn uniformly in START..STOP).")
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed: same seed, same table.")
@click.option("--scheduler", default=None, metavar="ADDRESS",
              help="Address of an existing Dask scheduler (tcp://host:8786); default: a local cluster.")
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="Worker processes of the local cluster; default: the machine's cores.")
@click.option("-o", "--output", type=click.Path(path_type=Path), default=Path("renders/sweep.csv"), show_default=True,
              help="Table to write: .csv, or .parquet (needs pyarrow: pip install 'issvis[parquet]').")
@click.option("--plot", "plot_path", type=click.Path(path_type=Path), default=None,
              help="Summary figure (.png or .svg); default: the table's name with .png.")
@click.option("--no-progress", is_flag=True, help="No progress bar.")
@set_option
@_user_errors
def sweep(scene: Path, varies: tuple[str, ...], disperses: tuple[str, ...], samples: int | None, seed: int,
          scheduler: str | None, workers: int | None, output: Path, plot_path: Path | None, no_progress: bool,
          overrides: tuple[str, ...]) -> None:
    """Run SCENE many times over a grid or random dispersions of its values, on Dask."""
    from . import sweep as sw
    from .plots import FIGURE_SUFFIXES

    check_output_suffix(output, sw.TABLE_SUFFIXES)
    if output.suffix.lower() == ".parquet" and not sw.parquet_available():
        raise UserError(f"-o {output}: Parquet needs pyarrow (pip install 'issvis[parquet]'); or write .csv")
    plot_path = plot_path or output.with_suffix(".png")
    check_output_suffix(plot_path, FIGURE_SUFFIXES, "--plot")
    if not scene.is_file():
        raise UserError(f"{scene}: no such scene file")
    if scheduler is not None and workers is not None:
        raise UserError("--workers sizes the local cluster; it does not apply with --scheduler")
    try:
        vary_specs = [sw.parse_vary(v) for v in varies]
        disperse_specs = [sw.parse_disperse(d) for d in disperses]
        text = scene.read_text(encoding="utf-8")
        sw.check_keys(text, str(scene), list(overrides), vary_specs, disperse_specs)
        runs = sw.plan_runs(vary_specs, disperse_specs, samples, seed)
    except sw.SweepError as exc:
        raise UserError(str(exc)) from None
    keys = list(runs[0])
    where = f"the Dask scheduler at {scheduler}" if scheduler else "a local Dask cluster"
    click.echo(f"{len(runs)} run(s) of {scene} on {where}", err=True)
    try:
        rows = sw.run_sweep(text, str(scene), list(overrides), runs, scheduler=scheduler, n_workers=workers,
                            progress=not no_progress)
    except sw.SweepError as exc:  # cannot reach the scheduler
        raise UserError(str(exc)) from None
    sw.write_table(rows, output)
    sw.plot_sweep(rows, keys, plot_path)
    ok = [r for r in rows if not r["error"]]
    hits = [r for r in ok if r["contact"]]
    click.echo(f"wrote {output} ({len(rows)} runs: {len(ok)} ok, {len(rows) - len(ok)} failed, {len(hits)} with contact) "
               f"and {plot_path}")


@cli.command()
@click.argument("scene", type=click.Path(path_type=Path), default=DEFAULT_SCENE)
@click.option("-o", "--output", type=click.Path(path_type=Path), default=Path("renders/decay.png"), show_default=True,
              help="Figure (.png or .svg).")
@click.option("--csv", "csv_path", type=click.Path(path_type=Path), default=None, help="Also write the table as CSV.")
@click.option("--atmosphere", type=click.Choice(["auto", "msis", "exponential"]), default="auto", show_default=True,
              help="NRLMSIS 2.1 via pymsis, Vallado's exponential table, or msis when installed.")
@click.option("--area", "area_model", type=click.Choice(["reference", "catalogue"]), default="reference",
              show_default=True, help="Drag areas: the reference's 2,500 m^2 split by catalogue shapes, or the "
              "catalogue's projected areas as they are.")
@click.option("--f107", type=click.FloatRange(min=60, max=300), default=115.0, show_default=True,
              help="Solar flux F10.7 (and its 81-day mean), sfu (msis only).")
@click.option("--ap", type=click.FloatRange(min=0, max=400), default=10.0, show_default=True,
              help="Geomagnetic Ap (msis only).")
@click.option("--cd", type=click.FloatRange(min=0.5, max=5), default=2.2, show_default=True, help="Drag coefficient.")
@set_option
@_user_errors
def decay(scene: Path, output: Path, csv_path: Path | None, atmosphere: str, area_model: str, f107: float, ap: float,
          cd: float, overrides: tuple[str, ...]) -> None:
    """Altitude over time without reboost: whole station and each side of SCENE's first separation."""
    from .decay import DecayError, plot_decay, run_decay, write_table_csv
    from .plots import FIGURE_SUFFIXES
    from .scene import load_scene

    check_output_suffix(output, FIGURE_SUFFIXES)
    if csv_path is not None:
        check_output_suffix(csv_path, (".csv",), "--csv")
    loaded = load_scene(scene, overrides)
    try:
        result = run_decay(loaded, atmosphere=atmosphere, f107=f107, ap=ap, area_model=area_model, cd=cd)
    except DecayError as exc:
        raise UserError(f"{scene}: {exc}") from None
    plot_decay(result, output)
    rows = result.table()
    if csv_path is not None:
        write_table_csv(rows, csv_path)
    click.echo(f"atmosphere: {result.atmosphere.name}; area model: {area_model}")
    click.echo(f"{'body':<15}{'mass t':>8}{'area m2':>9}{'m/CdA kg/m2':>13}{'km/month':>10}{'days to 120 km':>16}")
    for r in rows:
        click.echo(f"{r['body']:<15}{r['mass_kg'] / 1000:>8.1f}{r['drag_area_m2']:>9.0f}{r['ballistic_kg_m2']:>13.1f}"
                   f"{r['initial_rate_km_per_month']:>10.2f}{r['days_to_reentry']:>16.0f}")
    click.echo(f"wrote {output}" + (f" and {csv_path}" if csv_path else ""))



@cli.command()
@click.argument("source", metavar="[SCENE_OR_RECORD]", type=click.Path(path_type=Path), default=DEFAULT_SCENE)
@click.option("--size", default="1280x720", show_default=True, metavar="WIDTHxHEIGHT", help="Window size in pixels.")
@click.option("--play", is_flag=True, help="Start playing at once.")
@click.option("--exit-after", "exit_after_s", type=click.FloatRange(min=0, min_open=True), default=None, hidden=True,
              help="Close the window after this many seconds and print the frame rate (tests, benchmarks).")
@set_option
@_user_errors
def view(source: Path, size: str, play: bool, exit_after_s: float | None, overrides: tuple[str, ...]) -> None:
    """Open the interactive 3D viewer on a record (.npz) or a scene (simulated first).

    Keys: space play/pause, +/- speed, Left/Right step, n/N next/previous event, 1-4 cameras,
    t tint, r trails, a LVLH axes, h help, q quit. Click a part for its name, mass and velocity.
    """
    from .viewer import NoDisplayError, check_display, view as run_viewer

    try:
        width, height = (int(v) for v in size.lower().split("x"))
        if not (16 <= width <= 7680 and 16 <= height <= 4320):
            raise ValueError
    except ValueError:
        raise UserError(f"--size {size!r}: expected WIDTHxHEIGHT, e.g. 1280x720") from None
    if not source.is_file():
        raise UserError(f"{source}: no such scene or record file")
    try:
        check_display()  # before simulating: a missing display should not cost a simulation
    except NoDisplayError as exc:
        raise UserError(str(exc)) from None
    record = load_scene_or_record(source, overrides, progress=False)
    try:
        window = run_viewer(record, window_size=(width, height), exit_after_s=exit_after_s, play=play)
    except NoDisplayError as exc:
        raise UserError(str(exc)) from None
    if exit_after_s is not None:
        click.echo(f"rendered {len(window.frame_times_s)} frames; {window.frame_rate():.1f} frames/s "
                   f"over the last 5 s at {width}x{height}; record time {window.state.time_s:.2f} s")


@cli.command()
@click.argument("source", metavar="SCENE_OR_RECORD", type=click.Path(path_type=Path), default=DEFAULT_SCENE)
@click.option("-o", "--output", type=click.Path(path_type=Path), default=None,
              help="Video to write (.mp4), or .png with --still; default renders/<name>.mp4.")
@click.option("--size", default=None, metavar="WIDTHxHEIGHT", help="Frame size (even numbers); default from the scene, 1920x1080.")
@click.option("--fps", type=int, default=None, help="Frames per second; default from the scene, 30.")
@click.option("--seconds", type=float, default=None, help="Length of the video; the time map and camera stretch to fit.")
@click.option("--preview", is_flag=True, help="Small and fast for a first look (640x360, 15 fps, no anti-aliasing).")
@click.option("--still", "still_s", type=float, default=None, metavar="T",
              help="Write only the frame at video time T (s) as a PNG.")
@click.option("--progress/--no-progress", default=True, help="Show a progress bar.")
@click.option("--workers", type=click.IntRange(1, 256), default=1, show_default=True,
              help="Render the clip's segments in this many local processes (the joined file is the same).")
@click.option("--scheduler", default=None, metavar="ADDRESS",
              help="Render the segments on an existing Dask cluster (tcp://host:8786).")
@click.option("--audio", type=click.Path(path_type=Path), default=None, metavar="FILE",
              help="A soundtrack to mux (AAC), trimmed and faded to the clip's length.")
@click.option("--audio-fade", "audio_fade_s", type=float, default=2.0, show_default=True, metavar="S",
              help="Fade-out of the soundtrack at the end of the clip, s.")
@set_option
@_user_errors
def render(source: Path, output: Path | None, size: str | None, fps: int | None, seconds: float | None, preview: bool,
           still_s: float | None, progress: bool, workers: int, scheduler: str | None, audio: Path | None,
           audio_fade_s: float, overrides: tuple[str, ...]) -> None:
    """Render a record (.npz) or a scene (simulated first) to an MP4, with a poster PNG beside it."""
    from pydantic import ValidationError

    from .camera import RenderSettingsError
    from .chunks import AudioError, check_audio
    from .render import RenderError, effective_settings, render_still, render_video, settings_of

    if audio is not None:
        if still_s is not None:
            raise UserError("--audio applies to videos, not to --still frames")
        try:
            check_audio(audio, audio_fade_s)  # before any simulation or rendering
        except AudioError as exc:
            raise UserError(str(exc)) from None
    if output is None:
        output = Path("renders") / (f"{source.stem}-{still_s:g}s.png" if still_s is not None else f"{source.stem}.mp4")
    check_output_suffix(output, (".png",) if still_s is not None else (".mp4",))
    parsed_size = None
    if size is not None:
        try:
            parsed_size = tuple(int(v) for v in size.lower().split("x"))
            if len(parsed_size) != 2:
                raise ValueError
        except ValueError:
            raise UserError(f"--size {size!r}: expected WIDTHxHEIGHT, e.g. 1920x1080") from None
    if source.suffix == ".npz":
        if overrides:
            raise UserError(f"{source}: --set applies to scenes, not to records")
        from .trajectory import Record

        record = Record.load(source)
        scene_settings, title = settings_of(record)
    else:
        from .scene import load_scene

        scene = load_scene(source, overrides)
        scene_settings, title, record = scene.render, scene.scene.title, None
    try:
        settings = effective_settings(scene_settings, size=parsed_size, fps=fps, seconds=seconds, preview=preview)
    except ValidationError as exc:
        flags = {"width_px": "--size width", "height_px": "--size height", "fps": "--fps", "seconds": "--seconds"}
        reasons = "; ".join(f"{flags.get(str(e['loc'][0]), 'render.' + '.'.join(map(str, e['loc'])))} "
                            f"= {e.get('input')!r}: {e['msg']}" for e in exc.errors())
        raise UserError(f"{source}: {reasons}" if not any(k in reasons for k in ("--size", "--fps", "--seconds"))
                        else reasons) from None
    knots = settings.time.knots
    if record is None and knots and (knots[-1][1] > scene.scene.duration_s or knots[0][1] < 0):
        raise UserError(f"{source}: render.time.knots reach simulated time {knots[0][1]:g}..{knots[-1][1]:g} s, "
                        f"but the scene lasts 0..{scene.scene.duration_s:g} s; shorten the knots or lengthen "
                        "scene.duration_s")
    try:
        if record is None:
            from .camera import check_point_names
            from .catalogue import build_station
            from .simulation import simulate as run

            station = build_station()
            check_point_names(settings, station.part_names, [p.segment for p in station.parts])
            record = run(scene, progress=progress)
        if still_s is not None:
            render_still(record, settings, still_s, output, preview=preview, title=title)
        else:
            result = render_video(record, settings, output, preview=preview, title=title, progress=progress,
                                  workers=workers, scheduler=scheduler, audio=audio, audio_fade_s=audio_fade_s)
    except RenderSettingsError as exc:
        raise UserError(f"{source}: {exc}") from None
    except RenderError as exc:
        raise UserError(str(exc)) from None
    if still_s is not None:
        click.echo(f"wrote {output}")
        return
    click.echo(f"wrote {output} ({result['frames']} frames, {result['seconds']:.1f} s at {settings.fps} fps, "
               f"{settings.width_px}x{settings.height_px}) in {result['wall_s']:.1f} s "
               f"({result['frames_per_s']:.1f} frames/s); poster {result['poster']}")


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit status (testable in-process)."""
    try:
        cli.main(args=argv, prog_name="issvis", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("issvis: aborted", err=True)
        return 130
    except UserError as exc:
        exc.show()
        return exc.exit_code
    except click.ClickException as exc:  # click's own checks (unknown option, value out of range): one line too
        context = getattr(exc, "ctx", None)
        command = context.command_path if context is not None else "issvis"
        click.echo(f"issvis: error: {exc.format_message()} (see '{command} --help')", err=True)
        return EXIT_BAD_INPUT
    except SystemExit as exc:  # sys.exit inside a command
        return int(exc.code or 0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
