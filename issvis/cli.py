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
        return Record.load(path)
    from .simulation import simulate

    return simulate(load_scene(path, overrides), progress=progress)


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
        if clearance is not None and len(clearance):
            import numpy as np

            finite = clearance[np.isfinite(clearance)]
            if len(finite):
                lines.append(f"  clearance after separation: min {finite.min():.3f} m, end {finite[-1]:.1f} m")
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

    result = compare_records(Record.load(a), Record.load(b), pos_tol_m=pos_tol_m, ang_tol_deg=ang_tol_deg)
    click.echo(result.report)
    if not result.agree:
        sys.exit(EXIT_DIFFERENT)


@cli.command()
@click.option("-o", "--output", type=click.Path(path_type=Path), default=Path("assets"), show_default=True,
              help="Directory for the meshes and the manifest.")
def assets(output: Path) -> None:
    """Regenerate the station's meshes (GLB per part) and manifest, deterministically."""
    from .geometry import write_assets

    changed = write_assets(output)
    click.echo(f"{output}: {len(changed)} file(s) changed" + "".join(f"\n  {p}" for p in changed))


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


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit status (testable in-process)."""
    try:
        cli.main(args=argv, prog_name="issvis", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("issvis: aborted", err=True)
        return 130
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code if isinstance(exc, UserError) else EXIT_BAD_INPUT
    except SystemExit as exc:  # sys.exit inside a command
        return int(exc.code or 0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
