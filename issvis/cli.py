"""The ``issvis`` command line: parse, call the pipeline, report. Thin on purpose.

Exit status: 0 success, 1 a comparison that found differences, 2 bad input (one clear line on
stderr, no traceback unless ``--debug``, no output file left behind), 3 a bug; ``--debug`` adds the
traceback and changes no exit status.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import click

from .core.errors import InputError, missing_extra
from .core.files import all_or_none, disk_error_line, is_disk_error

EXIT_DIFFERENT = 1
EXIT_BAD_INPUT = 2
EXIT_BUG = 3  # an exception that is not an input error: a bug in issvis (traceback printed)


class UserError(InputError):
    """Bad input found by the command line itself (an option, a file of the wrong kind)."""


class _Run:
    """What the error handler needs to know about the command being run."""

    debug = False
    source: Path | None = None  # the command's input file: named in errors that do not name it


set_option = click.option("--set", "overrides", multiple=True, metavar="KEY.PATH=VALUE",
                          help="Override a scene value, e.g. separation.0.delta_v_mps=0.2 (repeatable).")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True,
              help="Show the traceback of an error too (the exit status stays the same); accepted anywhere on the line.")
@click.version_option(package_name="issvis")
def cli(debug: bool) -> None:
    """issvis: simulate and show the ISS of March 2022 coming apart in orbit."""
    _Run.debug = debug


# --- inputs: which file, of which kind ---------------------------------------------------------------
KIND_NAMES = {"scene": "a scene (.toml)", "record": "a trajectory record (.npz, written by 'issvis simulate')"}


def file_kind(path: Path) -> str:
    """'record' for an .npz (or any zip) file, 'scene' for .toml, else 'other'; path exists."""
    with open(path, "rb") as fh:
        if fh.read(4) == b"PK\x03\x04" or path.suffix.lower() == ".npz":
            return "record"
    return "scene" if path.suffix.lower() == ".toml" else "other"


def input_file(path: Path | None, kinds: tuple[str, ...], command: str) -> tuple[Path, str]:
    """(the file the user meant, its kind), or UserError naming the file and what the command takes.

    None means the default scene; a scene may be named by a shipped scene's name ('undock').
    """
    from .core.shipped import default_scene, resolve_scene, shipped_scenes

    path = default_scene() if path is None else resolve_scene(path) if "scene" in kinds else path
    _Run.source = path
    takes = " or ".join(KIND_NAMES[k] for k in kinds)
    if path.is_dir():
        raise UserError(f"{path}: is a directory; issvis {command} takes {takes}")
    if not path.exists():
        guess = {".npz": "record", ".toml": "scene"}.get(path.suffix.lower())
        what = guess if guess in kinds else " or ".join(kinds)
        hint = (f"; shipped scenes: {', '.join(shipped_scenes())} (see 'issvis scenes')"
                if "scene" in kinds and guess != "record" else "")
        raise UserError(f"{path}: no such {what} file{hint}")
    if not path.is_file():  # a FIFO, socket or device: reading it could block for ever
        raise UserError(f"{path}: not a regular file; issvis {command} takes {takes}")
    kind = file_kind(path)
    if kind not in kinds:
        got = {"scene": "a scene", "record": "a trajectory record"}.get(kind, f"a {path.suffix or 'suffix-less'} file")
        raise UserError(f"{path}: {got}, but issvis {command} takes {takes}")
    return path, kind


def check_station_parts(record, path: Path) -> None:
    """The pictures draw every part of a record from this issvis's station: refuse a record that
    lists a part the station does not have (a record of another version or station)."""
    from .station.assets import load_station_assets

    known = set(load_station_assets(visuals=False).station.part_names)  # what the pictures draw
    unknown = [str(n) for n in record.names if str(n) not in known]
    if unknown:
        raise UserError(f"{path}: lists part(s) {', '.join(unknown)} that this issvis's station does not have; "
                        "expected a record of this station (re-simulate its scene with 'issvis simulate')")


def load_record(path: Path, station: bool = False):
    """The record at path; station=True also checks its parts against the station (pictures)."""
    from .record.record import Record

    record = Record.load(path)
    if station:
        check_station_parts(record, path)
        check_station(record, path)
    return record


def load_scene_file(path: Path, overrides: tuple[str, ...]):
    from .scene.schema import load_scene

    return load_scene(path, overrides)


def simulate_scene(scene, progress: bool | None = None, announce: str = ""):
    """The record of a loaded scene, simulated now; with announce (why, e.g. 'before the window
    opens') a line on stderr says so first, and another how long it took."""
    import time

    from .physics.simulation import simulate

    if announce:
        click.echo(f"simulating {scene.source} ({scene.scene.duration_s:g} s of physics) {announce} ...", err=True)
    start = time.perf_counter()
    record = simulate(scene, progress=progress)
    if announce:
        click.echo(f"simulated in {time.perf_counter() - start:.1f} s", err=True)
    return record


def load_scene_or_record(path: Path, kind: str, overrides: tuple[str, ...], progress: bool | None = None,
                         station: bool = False, announce: str = ""):
    """A record from a record file, or the record of a scene simulated now."""
    if kind == "record":
        if overrides:
            raise UserError(f"{path}: --set applies to scenes, not to records")
        return load_record(path, station=station)
    return simulate_scene(load_scene_file(path, overrides), progress=progress, announce=announce)


def read_scene_text(path: Path) -> str:
    """The text of a scene file (sweep sends the text to its workers)."""
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise UserError(f"{path}: not a UTF-8 text file; expected a scene (.toml)") from None


def scene_of_record(path: Path, overrides: tuple[str, ...]):
    """The scene a record was simulated from (its meta 'scene' text), with overrides applied."""
    from .record.scene_of import scene_of

    return scene_of(load_record(path), overrides, source=str(path))


def check_station(record, path: Path):
    """The record, when it was simulated with this issvis's station (else exit 2); a note on stderr
    when only the looks differ."""
    from .station.assets import AssetError, StationMismatchError, check_record_station

    try:
        note = check_record_station(record, source=path)
    except (StationMismatchError, AssetError) as exc:
        raise UserError(str(exc)) from None
    if note:
        click.echo(f"issvis: note: {note}", err=True)
    return record


def check_output(path: Path, suffixes: tuple[str, ...], option: str = "-o") -> None:
    """Before any work: the output's suffix, and that it can be written (not a directory; its
    folder exists or can be made, is writable and has room: ``issvis.core.files.check_output``)."""
    from .core.files import check_output as check_writable

    if path.suffix.lower() not in suffixes:
        raise UserError(f"{option} {path}: expected a file ending in {' or '.join(suffixes)}")
    check_writable(path, option)


def long_command(fn):
    """A command that works long and writes files: SIGTERM unwinds it like Ctrl-C, so that its
    temporary files and folders are removed (``issvis.core.files.terminate_unwinds``)."""
    import functools

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        from .core.files import terminate_unwinds

        with terminate_unwinds():
            return fn(*args, **kwargs)

    return wrapper


def parse_size(size: str, example: str) -> tuple[int, int]:
    """'WIDTHxHEIGHT' -> (width, height) in pixels, 16..7680 x 16..4320."""
    try:
        width, height = (int(v) for v in size.lower().split("x"))
        if not (16 <= width <= 7680 and 16 <= height <= 4320):
            raise ValueError
    except ValueError:
        raise UserError(f"--size {size!r}: expected WIDTHxHEIGHT, e.g. {example}") from None
    return width, height


scene_argument = click.argument("scene", type=click.Path(path_type=Path), required=False)


@cli.command()
def scenes() -> None:
    """List the shipped scenes (usable by name from any folder: 'issvis render soyuz_departure')."""
    from .core.shipped import DEFAULT_SCENE_NAME, scene_title, shipped_scenes

    found = shipped_scenes()
    if not found:
        raise UserError("no shipped scenes found; reinstall issvis")
    width = max(map(len, found))
    for name, path in found.items():
        mark = "  (default)" if name == DEFAULT_SCENE_NAME else ""
        click.echo(f"{name:<{width}}  {scene_title(path)}{mark}")
    click.echo(f"\nin {next(iter(found.values())).parent}")


@cli.command()
@scene_argument
@click.option("-o", "--output", type=click.Path(path_type=Path), default=None,
              help="Record to write (.npz); default renders/<scene>.npz.")
@click.option("--csv", "csv_path", type=click.Path(path_type=Path), default=None, help="Also write a CSV export.")
@set_option
@long_command
def simulate(scene: Path | None, output: Path | None, csv_path: Path | None, overrides: tuple[str, ...]) -> None:
    """Run the physics of SCENE (default: the shipped undock scene) and write its trajectory record."""
    scene, _ = input_file(scene, ("scene",), "simulate")
    output = output or Path("renders") / f"{scene.stem}.npz"
    check_output(output, (".npz",))
    if csv_path is not None:
        check_output(csv_path, (".csv",), "--csv")
    record = simulate_scene(load_scene_file(scene, overrides))
    with all_or_none():  # the record and its CSV, or neither
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
    if "cmg_momentum_nms" in record.extra:  # attitude control (docs/control.md)
        import numpy as np

        stored = np.linalg.norm(record.extra["cmg_momentum_nms"], axis=1)
        capacity = record.meta.get("control", {}).get("cmg_capacity_nms", float("nan"))
        saturated = record.events_of("cmg_saturated")
        lines.append(f"  CMGs: {stored[-1]:,.0f} of {capacity:,.0f} N m s stored at the end"
                     + (f"; saturated at t = {saturated[0]['t']:g} s" if saturated else ""))
        used = {str(p): float(kg) for p, kg in zip(record.extra["propellant_parts"], record.extra["propellant_kg"][-1])
                if kg > 0}
        lines.append(f"  jets: {len(record.extra['jet_pulses'])} firings; propellant "
                     + (", ".join(f"{p} {kg:.1f} kg" for p, kg in used.items()) or "none"))
    return "\n".join(lines)


#: The tolerances of ``issvis compare``, one option each: the fields of
#: issvis.record.compare.ComparisonTolerances (a test holds the two equal).
COMPARE_TOLERANCES = ("pos_tol_m", "ang_tol_deg", "vel_tol_mps", "event_time_tol_s", "clearance_tol_m",
                      "cmg_momentum_tol_nms", "propellant_tol_kg")


class _ToleranceOption(click.Option):
    """An option whose help names the quantity, its unit and its default, read from the comparison
    module only when help is shown (that module imports numpy; the command line starts without)."""

    def get_help_record(self, ctx: click.Context) -> tuple[str, str] | None:
        from .record.compare import QUANTITIES, ComparisonTolerances

        label, unit = QUANTITIES[str(self.name)]
        default = getattr(ComparisonTolerances(), str(self.name))
        self.help = f"Largest allowed difference of {label}, {unit} [default: {default:g}]."
        return super().get_help_record(ctx)


def _tolerance_options(command):
    for name in reversed(COMPARE_TOLERANCES):
        command = click.option(f"--{name.replace('_', '-')}", name, cls=_ToleranceOption, default=None,
                               type=click.FloatRange(min=0, min_open=True))(command)
    return command


@cli.command()
@click.argument("a", type=click.Path(path_type=Path))
@click.argument("b", type=click.Path(path_type=Path))
@_tolerance_options
@click.option("--until", "until_s", type=float, default=None, metavar="S",
              help="Compare only up to this time, s (both records must reach it).")
@click.option("--overlap", is_flag=True, help="Compare over the span both records cover (e.g. a 300 s golden "
                                              "against a longer run).")
@click.option("--json", "as_json", is_flag=True, help="Print the comparison as JSON (for machines).")
def compare(a: Path, b: Path, until_s: float | None, overlap: bool, as_json: bool, **tolerances: float | None) -> None:
    """Compare two records: poses, velocities, events, clearance, CMG momentum and propellant,
    each within its tolerance; say when and where they first diverge. Exit 0 when they agree,
    1 when they differ."""
    from .record.compare import UntilError, compare_records, tolerances_from

    # the station hash, not the parts: a comparison draws nothing, and names what differs itself
    record_a, record_b = (check_station(load_record(path), path)
                          for path in (input_file(p, ("record",), "compare")[0] for p in (a, b)))
    _Run.source = None  # a comparison's verdict names both files itself
    try:
        result = compare_records(record_a, record_b, tolerances_from(tolerances), until_s=until_s, overlap=overlap)
    except UntilError as exc:  # name the option as the user typed it
        raise UserError(exc.named("--until")) from None
    click.echo(result.to_json() if as_json else result.report)
    if not result.agree:
        sys.exit(EXIT_DIFFERENT)


@cli.command()
@click.option("-o", "--output", type=click.Path(path_type=Path), default=Path("assets"), show_default=True,
              help="Directory for the meshes and the manifest.")
@long_command
def assets(output: Path) -> None:
    """Regenerate the station's assets (GLB per part, textures, manifest), deterministically."""
    from .build.writer import write_assets
    from .core.files import check_output as check_writable
    from .station.assets import load_station_assets

    check_writable(output, "-o", folder=True)
    changed = write_assets(output)
    click.echo(f"{output}: {len(changed)} file(s) changed" + "".join(f"\n  {p}" for p in changed))
    loaded = load_station_assets.__wrapped__(output.resolve(), visuals=False)
    click.echo(f"station {loaded.station_hash[:8]}, looks {loaded.visual_hash[:8]}")


@cli.command("export")
@click.argument("record_path", metavar="RECORD", type=click.Path(path_type=Path))
@click.option("-o", "--output", type=click.Path(path_type=Path), default=None,
              help="Animated glTF to write (.glb); default renders/<record>.glb.")
@click.option("--rate-hz", type=click.FloatRange(min=0, min_open=True, max=1000), default=None,
              help="With --no-camera: resample the keyframes at this rate (default: the record's own samples); with the "
                   "camera, the parts are keyed with it, 10 a video second.")
@click.option("--no-camera", is_flag=True, help="Leave out the render's animated camera.")
@long_command
def export_cmd(record_path: Path, output: Path | None, rate_hz: float | None, no_camera: bool) -> None:
    """Write a record as one animated glTF (parts with keyframed poses in LVLH, PBR materials, camera)."""
    from .pictures.export import ExportError, export_record

    record_path, _ = input_file(record_path, ("record",), "export")
    output = output or Path("renders") / f"{record_path.stem}.glb"
    check_output(output, (".glb",))
    record = load_record(record_path, station=True)
    try:
        info = export_record(record, output, rate_hz=rate_hz, camera=not no_camera)
    except ExportError as exc:
        raise UserError(f"{record_path}: {exc}") from None
    click.echo(f"wrote {output} ({info['parts']} parts, {info['keyframes']} keyframes, "
               f"{info['bytes'] / 1e6:.1f} MB){'; ' + info['camera'] if info['camera'] else ''}")


@cli.command()
@scene_argument
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@set_option
def info(scene: Path | None, as_json: bool, overrides: tuple[str, ...]) -> None:
    """The station's parts, masses, segments and interfaces, and what SCENE does to them."""
    from .station.assets import load_station_assets

    scene, _ = input_file(scene, ("scene",), "info")
    loaded = load_scene_file(scene, overrides)
    assets = load_station_assets(visuals=False)  # the station the physics uses, as assets/ gives it
    station, props = assets.station, assets.parts
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
@long_command
def plot(source: Path, output: Path | None, overrides: tuple[str, ...]) -> None:
    """Plot separation, relative path (LVLH), clearance and attitude of a record (or a scene, simulated now)."""
    from .analysis.plots import FIGURE_SUFFIXES, plot_record

    source, kind = input_file(source, ("record", "scene"), "plot")
    output = output or Path("renders") / f"{source.stem}.png"
    check_output(output, FIGURE_SUFFIXES)
    record = load_scene_or_record(source, kind, overrides, progress=False, station=True)
    if "clearance_m" not in record.extra:
        raise UserError(f"{source}: has no key 'clearance_m' (a record of an older issvis), which the clearance "
                        "panel needs; re-simulate its scene with 'issvis simulate'")
    plot_record(record, output)
    click.echo(f"wrote {output}")


@cli.command()
@scene_argument
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
@long_command
def sweep(scene: Path | None, varies: tuple[str, ...], disperses: tuple[str, ...], samples: int | None, seed: int,
          scheduler: str | None, workers: int | None, output: Path, plot_path: Path | None, no_progress: bool,
          overrides: tuple[str, ...]) -> None:
    """Run SCENE many times over a grid or random dispersions of its values, on Dask."""
    from .analysis import sweep as sw
    from .analysis.plots import FIGURE_SUFFIXES

    scene, _ = input_file(scene, ("scene",), "sweep")
    check_output(output, sw.TABLE_SUFFIXES)
    if output.suffix.lower() == ".parquet" and not sw.parquet_available():
        raise UserError(f"-o {output}: Parquet needs pyarrow (pip install 'issvis[parquet]'); or write .csv")
    plot_path = plot_path or output.with_suffix(".png")
    check_output(plot_path, FIGURE_SUFFIXES, "--plot")
    if scheduler is not None and workers is not None:
        raise UserError("--workers sizes the local cluster; it does not apply with --scheduler")
    vary_specs = [sw.parse_vary(v) for v in varies]
    disperse_specs = [sw.parse_disperse(d) for d in disperses]
    text = read_scene_text(scene)
    sw.check_keys(text, str(scene), list(overrides), vary_specs, disperse_specs)
    runs = sw.plan_runs(vary_specs, disperse_specs, samples, seed)
    keys = list(runs[0])
    where = f"the Dask scheduler at {scheduler}" if scheduler else "a local Dask cluster"
    click.echo(f"{len(runs)} run(s) of {scene} on {where}", err=True)
    rows = sw.run_sweep(text, str(scene), list(overrides), runs, scheduler=scheduler, n_workers=workers,
                        progress=not no_progress)
    with all_or_none():  # the table and its figure, or neither
        sw.write_table(rows, output)
        sw.plot_sweep(rows, keys, plot_path)
    ok = [r for r in rows if not r["error"]]
    hits = [r for r in ok if r["contact"]]
    click.echo(f"wrote {output} ({len(rows)} runs: {len(ok)} ok, {len(rows) - len(ok)} failed, {len(hits)} with contact) "
               f"and {plot_path}")


@cli.command()
@click.argument("scene", metavar="[SCENE_OR_RECORD]", type=click.Path(path_type=Path), required=False)
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
@click.option("--f107-max", "f107_max", type=click.FloatRange(min=60, max=300), default=220.0, show_default=True,
              help="Top of the solar-flux band (2024 maximum), sfu (msis only).")
@set_option
@long_command
def decay(scene: Path | None, output: Path, csv_path: Path | None, atmosphere: str, area_model: str, f107: float,
          ap: float, cd: float, f107_max: float, overrides: tuple[str, ...]) -> None:
    """Altitude over time without reboost: whole station and each side of SCENE's first separation,
    as a band over solar flux (--f107 up to --f107-max) and both area models; and how long the US
    segment's CMGs last alone.

    Given a record, uses the scene stored in it."""
    from .analysis.decay import (
        SPLIT_STORED_MOMENTUM_NMS,
        cmg_endurance,
        plot_decay_band,
        run_decay_band,
        write_table_csv,
    )
    from .analysis.plots import FIGURE_SUFFIXES

    scene, kind = input_file(scene, ("scene", "record"), "decay")
    check_output(output, FIGURE_SUFFIXES)
    if csv_path is not None:
        check_output(csv_path, (".csv",), "--csv")
    loaded = load_scene_file(scene, overrides) if kind == "scene" else scene_of_record(scene, overrides)
    band = run_decay_band(loaded, atmosphere=atmosphere, f107_low=f107, ap_low=ap, f107_high=max(f107, f107_max),
                          cd=cd, central_area=area_model)
    endurance = cmg_endurance(loaded, start_momentum_nms=SPLIT_STORED_MOMENTUM_NMS, f107=f107, ap=ap,
                              atmosphere=atmosphere, cd=cd) if loaded.separation else None
    result = band.central
    rows = band.table()
    with all_or_none():  # the figure and its table, or neither
        plot_decay_band(band, output)
        if csv_path is not None:
            write_table_csv(rows, csv_path)
    click.echo(f"atmosphere: {result.atmosphere.name}; area model: {area_model} (band: F10.7 {f107:g}-"
               f"{max(f107, f107_max):g} sfu, reference and catalogue areas)")
    click.echo(f"{'body':<15}{'mass t':>8}{'area m2':>9}{'m/CdA kg/m2':>13}{'km/month':>10}{'days to 120 km':>16}"
               f"{'band, days':>14}")
    for r in rows:
        click.echo(f"{r['body']:<15}{r['mass_kg'] / 1000:>8.1f}{r['drag_area_m2']:>9.0f}{r['ballistic_kg_m2']:>13.1f}"
                   f"{r['initial_rate_km_per_month']:>10.2f}{r['days_to_reentry']:>16.0f}"
                   f"{r['days_to_reentry_min']:>7.0f}-{r['days_to_reentry_max']:<6.0f}")
    click.echo(band.statement())
    if endurance is not None:
        for line in endurance.lines():
            click.echo(line)
    click.echo(f"wrote {output}" + (f" and {csv_path}" if csv_path else ""))



@cli.command()
@click.argument("source", metavar="[SCENE_OR_RECORD]", type=click.Path(path_type=Path), required=False)
@click.option("--size", default="1280x720", show_default=True, metavar="WIDTHxHEIGHT",
              help="Window size in pixels (a page of --web fits the browser's window).")
@click.option("--play", is_flag=True, help="Start playing at once.")
@click.option("--exit-after", "exit_after_s", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Close the window after this many seconds and print the frame rate (tests, benchmarks).")
@click.option("--web", is_flag=True, help="Serve the viewer as a web page that the browser draws on its own GPU "
              "(no display needed here).")
@click.option("--server-render", is_flag=True, help="--web: render the pictures here and stream them instead (for a "
              "browser without WebGL; needs issvis[web]).")
@click.option("--port", type=click.IntRange(1, 65535), default=8080, show_default=True, help="--web: port to listen on.")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="--web: address to listen on; another than 127.0.0.1 lets other machines connect.")
@set_option
def view(source: Path | None, size: str, play: bool, exit_after_s: float | None, web: bool, server_render: bool,
         port: int, host: str, overrides: tuple[str, ...]) -> None:
    """Open the interactive 3D viewer on a record (.npz) or a scene (simulated first).

    Keys: space play/pause, +/- speed, Left/Right step, n/N next/previous event, 1-4 cameras,
    t tint, r trails, a LVLH axes, h help, q quit. Click a part for its name, mass and velocity.
    With --web, serves the viewer at the printed http://HOST:PORT/KEY/ URL: the browser draws it
    (--server-render: drawn here and streamed).
    """
    from .pictures.viewer import check_display
    from .pictures.viewer import view as run_viewer

    width, height = parse_size(size, "1280x720")
    source, kind = input_file(source, ("scene", "record"), "view")
    if kind == "record" and overrides:
        raise UserError(f"{source}: --set applies to scenes, not to records")
    if server_render and not web:
        raise UserError("--server-render goes with --web (the page that streams the server's pictures)")
    if web and not server_render:
        from .pictures.webgl import WebGLError, bind, serve_page

        try:  # bound before simulating: a taken port should not cost a simulation
            server = bind(host, port, {})
        except WebGLError as exc:
            raise UserError(str(exc)) from None
        try:
            if kind == "record":
                record = load_record(source, station=True)
            else:
                record = simulate_scene(load_scene_file(source, overrides), progress=False,
                                        announce="before the page is served")
            serve_page(record, host=host, play=play, echo=click.echo,
                       warn=lambda line: click.echo(line, err=True), server=server)
        finally:
            server.server_close()
        return
    if web:
        from .pictures.video import RenderError
        from .pictures.web import WebViewError, check_port, check_trame, serve

        try:  # before simulating: a missing trame or a taken port should not cost a simulation
            check_trame()
            check_port(host, port)
            if kind == "record":
                record = load_record(source, station=True)
            else:
                record = simulate_scene(load_scene_file(source, overrides), progress=False,
                                        announce="before the page is served")
            serve(record, host=host, port=port, window_size=(width, height), play=play, echo=click.echo)
        except (WebViewError, RenderError) as exc:
            raise UserError(str(exc)) from None
        return
    if kind == "record":
        record = load_record(source, station=True)
        check_display()
    else:
        scene = load_scene_file(source, overrides)
        check_display()  # before simulating: a missing display should not cost a simulation
        record = simulate_scene(scene, progress=False, announce="before the window opens")
    window = run_viewer(record, window_size=(width, height), exit_after_s=exit_after_s, play=play)
    if exit_after_s is not None:
        click.echo(f"rendered {len(window.frame_times_s)} frames; {window.frame_rate():.1f} frames/s "
                   f"over the last 5 s at {width}x{height}; record time {window.state.time_s:.2f} s")


@cli.command()
@click.argument("source", metavar="[SCENE_OR_RECORD]", type=click.Path(path_type=Path), required=False)
@click.option("-o", "--output", type=click.Path(path_type=Path), default=None,
              help="Video to write (.mp4), or .png with --still-video-s; default renders/<name>.mp4.")
@click.option("--size", default=None, metavar="WIDTHxHEIGHT", help="Frame size (even numbers); default from the scene, 1920x1080.")
@click.option("--fps", type=int, default=None, help="Frames per second; default from the scene, 25.")
@click.option("--seconds", type=float, default=None, metavar="VIDEO_S",
              help="Length of the video, video s (seconds of the MP4, not simulated time); the shots stretch to fit.")
@click.option("--preview", is_flag=True, help="Small and fast for a first look (640x360, 15 fps, no anti-aliasing).")
@click.option("--still-video-s", "still_s", type=float, default=None, metavar="VIDEO_S",
              help="Write only the frame at this video time as a PNG: seconds into the clip, not simulated time.")
@click.option("--still", "still_alias_s", type=float, default=None, hidden=True)  # the older name of --still-video-s
@click.option("--progress/--no-progress", default=True, help="Show a progress bar.")
@click.option("--workers", type=click.IntRange(1, 256), default=1, show_default=True,
              help="Render the clip's segments in this many local processes (the joined file is the same).")
@click.option("--scheduler", default=None, metavar="ADDRESS",
              help="Render the segments on an existing Dask cluster (tcp://host:8786).")
@click.option("--audio", type=click.Path(path_type=Path), default=None, metavar="FILE",
              help="A soundtrack to mux (AAC), trimmed and faded to the clip's length.")
@click.option("--audio-fade", "audio_fade_s", type=float, default=2.0, show_default=True, metavar="S",
              help="Fade-out of the soundtrack at the end of the clip, s.")
@click.option("--engine", default=None, metavar="raster|cycles",
              help="raster: VTK (the default); cycles: Blender Cycles, path-traced (docs/cycles.md). "
                   "Default: cycles when the scene has [render.cycles].")
@click.option("--samples", type=click.IntRange(1, 65536), default=None,
              help="Cycles: samples a pixel (4-16 a preview, 64 the final setting; [render.cycles] samples).")
@click.option("--blender", default=None, metavar="PROGRAM",
              help="Cycles: the Blender to run (a blender program, or a Python with bpy); default: blender on "
                   "PATH, then .venv-cycles (make cycles-env).")
@set_option
@long_command
def render(source: Path | None, output: Path | None, size: str | None, fps: int | None, seconds: float | None,
           preview: bool, still_s: float | None, still_alias_s: float | None, progress: bool, workers: int,
           scheduler: str | None, audio: Path | None, audio_fade_s: float, engine: str | None, samples: int | None,
           blender: str | None, overrides: tuple[str, ...]) -> None:
    """Render a record (.npz) or a scene (simulated first) to an MP4, with a poster PNG beside it.

    Every time it takes is in video seconds (of the MP4); simulated time belongs to the scene."""
    from pydantic import ValidationError

    from .core.errors import format_validation_error
    from .pictures.segments import check_audio
    from .pictures.video import effective_settings, render_still, render_video
    from .record.scene_of import settings_of

    if engine not in (None, "raster", "cycles"):
        raise UserError(f"--engine {engine!r}: expected raster or cycles")
    source, kind = input_file(source, ("scene", "record"), "render")
    if still_alias_s is not None:
        if still_s is not None:
            raise UserError("give --still-video-s once (--still is its older name)")
        still_s = still_alias_s
    if still_s is not None and not math.isfinite(still_s):
        raise UserError(f"--still-video-s {still_s}: expected a finite number of video seconds")
    if audio is not None:
        if still_s is not None:
            raise UserError("--audio applies to videos, not to --still-video-s frames")
        check_audio(audio, audio_fade_s)  # before any simulation or rendering
    if output is None:
        output = Path("renders") / (f"{source.stem}-{still_s:g}s.png" if still_s is not None else f"{source.stem}.mp4")
    check_output(output, (".png",) if still_s is not None else (".mp4",))
    if still_s is None:
        from .pictures.video import poster_path_for

        check_output(poster_path_for(output), (".png",), "poster")
    parsed_size: tuple[int, int] | None = None
    if size is not None:
        try:
            width, height = (int(v) for v in size.lower().split("x"))  # not two numbers: ValueError
            parsed_size = (width, height)
        except ValueError:
            raise UserError(f"--size {size!r}: expected WIDTHxHEIGHT, e.g. 1920x1080") from None
    if kind == "record":
        if overrides:
            raise UserError(f"{source}: --set applies to scenes, not to records")
        record = load_record(source, station=True)
        scene_settings, title = settings_of(record)
    else:
        scene = load_scene_file(source, overrides)
        scene_settings, title, record = scene.render, scene.scene.title, None
    try:
        settings = effective_settings(scene_settings, size=parsed_size, fps=fps, seconds=seconds, preview=preview)
    except ValidationError as exc:
        flags = {"width_px": "--size width", "height_px": "--size height", "fps": "--fps", "seconds": "--seconds"}
        raise UserError(format_validation_error(exc, str(source), names=flags, key_prefix="render.", sep="; ")) from None
    if engine == "raster":
        settings = settings.model_copy(update={"cycles": None})
    elif engine == "cycles" or settings.cycles is not None or samples is not None or blender is not None:
        from .pictures.cycles import PREVIEW_SAMPLES, blender_command, with_cycles

        if engine is None and settings.cycles is None:
            raise UserError("--samples and --blender apply to --engine cycles")
        if samples is None and preview:
            samples = PREVIEW_SAMPLES  # small and fast: a few samples, denoised
        settings = with_cycles(settings, samples=samples, blender=blender)
        assert settings.cycles is not None
        blender_command(settings.cycles)  # before simulating: a missing Blender is one line, exit 2
    knots = settings.time.knots
    if record is None and knots and (knots[-1][1] > scene.scene.duration_s or knots[0][1] < 0):
        raise UserError(f"{source}: render.time.knots reach simulated time {knots[0][1]:g}..{knots[-1][1]:g} s, "
                        f"but the scene lasts 0..{scene.scene.duration_s:g} s; shorten the knots or lengthen "
                        "scene.duration_s")
    if record is None:
        from .pictures.camera import check_point_names
        from .station.assets import load_station_assets

        station = load_station_assets(visuals=False).station  # the station the scene will be simulated with
        check_point_names(settings, station.part_names, [p.segment for p in station.parts])
        record = simulate_scene(scene, progress=progress)
    if still_s is not None:
        render_still(record, settings, still_s, output, preview=preview, title=title)
    else:
        result = render_video(record, settings, output, preview=preview, title=title, progress=progress,
                              workers=workers, scheduler=scheduler, audio=audio, audio_fade_s=audio_fade_s)
    if still_s is not None:
        click.echo(f"wrote {output}")
        return
    click.echo(f"wrote {output} ({result['frames']} frames, {result['seconds']:.1f} s at {settings.fps} fps, "
               f"{settings.width_px}x{settings.height_px}) in {result['wall_s']:.1f} s "
               f"({result['frames_per_s']:.1f} frames/s); poster {result['poster']}")


def _error_line(exc: BaseException) -> str:
    """One line for an input error, naming the command's input file when the message does not."""
    message = str(exc).strip() or type(exc).__name__
    source = _Run.source
    if source is not None and str(source) not in message and not message.startswith("-"):
        message = f"{source}: {message}"
    return message


def _take_debug(argv: list[str]) -> tuple[list[str], bool]:
    """(argv without a ``--debug`` given after the subcommand, whether one was): ``--debug`` works
    anywhere on the line, as a user types it (``issvis simulate x.toml --debug``); after ``--`` it is
    an argument, and a ``--debug`` before the subcommand is left to the group's option."""
    if "--debug" not in argv:
        return argv, False
    end = argv.index("--") if "--" in argv else len(argv)
    first = next((i for i, a in enumerate(argv[:end]) if not a.startswith("-")), end)  # the subcommand
    late = [i for i in range(first + 1, end) if argv[i] == "--debug"]
    return [a for i, a in enumerate(argv) if i not in late], bool(late)


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit status (testable in-process).

    The one error handler of issvis: bad input (an ``InputError``) and the
    user's disk saying no (an ``OSError`` of ``issvis.core.files.DISK_ERRNOS``: full, read-only, no
    permission, a file where a folder should be, ...) are one line on stderr and exit 2 (a traceback
    with ``--debug``); anything else is a bug: traceback, exit 3. SIGTERM in a long command exits 143
    after its cleanup.
    """
    _Run.debug, _Run.source = False, None
    argv = list(sys.argv[1:] if argv is None else argv)
    argv, late_debug = _take_debug(argv)
    try:
        cli.main(args=argv, prog_name="issvis", standalone_mode=False)
    except (click.exceptions.Abort, KeyboardInterrupt):
        click.echo("issvis: aborted", err=True)
        return 130
    except click.ClickException as exc:  # click's own checks (unknown option, value out of range): one line too
        context = getattr(exc, "ctx", None)
        command = context.command_path if context is not None else "issvis"
        click.echo(f"issvis: error: {exc.format_message()} (see '{command} --help')", err=True)
        return EXIT_BAD_INPUT
    except SystemExit as exc:  # sys.exit inside a command
        return int(exc.code or 0)
    except Exception as exc:
        _Run.debug = _Run.debug or late_debug
        if _Run.debug:  # the traceback first, then the same one line and exit status as without --debug
            import traceback

            traceback.print_exc()
        if isinstance(exc, InputError):
            click.echo(f"issvis: error: {_error_line(exc)}", err=True)
            return EXIT_BAD_INPUT
        if is_disk_error(exc):  # the disk said no (full, read-only, a file for a folder): bad input too
            click.echo(f"issvis: error: {disk_error_line(exc)}", err=True)
            return EXIT_BAD_INPUT
        extra = missing_extra(exc)
        if extra is not None:
            click.echo(f"issvis: error: {extra}", err=True)
            return EXIT_BAD_INPUT
        if not _Run.debug:
            import traceback

            traceback.print_exc()
        click.echo(f"issvis: internal error (a bug in issvis, please report it with the lines above): "
                   f"{type(exc).__name__}: {exc}", err=True)
        return EXIT_BUG
    return 0


if __name__ == "__main__":
    sys.exit(main())
