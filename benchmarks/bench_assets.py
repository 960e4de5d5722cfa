"""Loading the station from assets/ vs rebuilding it from the catalogue, and the glTF export.

Ratios in one run (absolute times swing with load on a shared machine):
- the physics' load (manifest only) against computing mass properties from the catalogue;
- the pictures' load (manifest, GLBs, PNG textures) against generating the visual model;
- the animated export of the default record against loading the visuals.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from issvis.build.mass import mass_properties
from issvis.build.meshes import part_visual
from issvis.station.assets import _image, load_station_assets
from issvis.station.catalogue import build_station

ROOT = Path(__file__).resolve().parent.parent


def best_of(fn, n=3) -> float:
    times = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> None:
    from issvis.pictures.export import export_record
    from issvis.record.record import Record

    station = build_station()
    physics_load = best_of(lambda: load_station_assets.__wrapped__(None, visuals=False))
    physics_build = best_of(lambda: [mass_properties(p) for p in station.parts])
    def cold_visual_load():
        _image.cache_clear()  # decode the PNG textures again, as a fresh process does
        return load_station_assets.__wrapped__(None, visuals=True)

    visual_load = best_of(cold_visual_load)
    visual_build = best_of(lambda: [part_visual(p, station, True).meshes() for p in station.parts], n=1)
    record = Record.load(ROOT / "tests" / "golden" / "undock.npz")
    with tempfile.TemporaryDirectory() as tmp:
        export = best_of(lambda: export_record(record, Path(tmp) / "x.glb"), n=1)
    print(f"physics: manifest load {physics_load * 1e3:.1f} ms vs catalogue mass properties "
          f"{physics_build * 1e3:.1f} ms (x{physics_build / physics_load:.1f} faster)")
    print(f"pictures: assets/ load {visual_load * 1e3:.0f} ms vs generating the visual model "
          f"{visual_build * 1e3:.0f} ms (x{visual_build / visual_load:.1f} faster)")
    print(f"export of the default record ({len(record.t)} samples, {len(record.names)} parts): {export:.2f} s "
          f"= {export / visual_load:.1f} x the visual load")


if __name__ == "__main__":
    main()
