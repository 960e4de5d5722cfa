"""What a record says about its scene: the scene it ran, its ``[render]`` settings and title, the
interface its first separation opened, and the parts' labels.

A record carries its scene text after overrides (``meta["scene"]``), the interface points of its
separations in the parts' frames (``meta["interfaces"]``) and the parts' labels
(``meta["part_labels"]``), so it renders and replays as it ran. A record of an older issvis lacks
the last two: it is drawn on this issvis's station (as ``check_record_station`` says), so they are
read from the station assets instead (``issvis.station.assets``: the manifest, no mesh is loaded).
"""

from __future__ import annotations

import tomllib
from typing import TYPE_CHECKING, Any

import numpy as np

from ..core.errors import InputError
from ..core.frames import mean_motion_rad_s
from ..scene.render_settings import RenderSettings, RenderSettingsError
from .record import Record, interface_faces

if TYPE_CHECKING:
    from ..scene.schema import Scene


class NoSceneError(InputError, ValueError):
    """The record holds no scene text (meta 'scene'): nothing to re-run or re-render from."""


def _scene_data(record: Record) -> dict[str, Any]:
    try:
        return tomllib.loads(record.meta.get("scene", ""))
    except (tomllib.TOMLDecodeError, TypeError):
        return {}


def scene_of(record: Record, overrides: tuple[str, ...] | list[str] = (), source: str = "the record") -> Scene:
    """The scene the record was simulated from (its scene text, validated again), with ``overrides``
    (``key.path=value``) applied; ``NoSceneError`` when it holds none. ``source`` names the record in
    messages (its path)."""
    from ..scene.schema import scene_from_text

    text = record.meta.get("scene")
    if not isinstance(text, str) or not text.strip():
        raise NoSceneError(f"{source}: the record holds no scene (meta 'scene'); give the scene file instead")
    return scene_from_text(text, f"{source} (its scene)", overrides)


#: The reference orbit's height when a record does not say (the default scene's, after the reboost of
#: 11 March 2022), m.
DEFAULT_ALTITUDE_M = 418_310.0


def orbit_of(record: Any) -> tuple[float, float]:
    """(altitude m, mean motion rad/s) of the record's reference orbit (``meta["orbit"]``; the mean
    motion from the altitude when only that is given, the default scene's orbit when neither is)."""
    orbit = record.meta.get("orbit", {}) if hasattr(record, "meta") else {}
    altitude_m = float(orbit.get("altitude_m", DEFAULT_ALTITUDE_M))
    return altitude_m, float(orbit.get("mean_motion_rad_s", mean_motion_rad_s(altitude_m)))


def title_of(record: Record) -> str:
    """The scene's title stored in the record ('issvis' when it has none)."""
    try:
        return str(_scene_data(record)["scene"]["title"])
    except (KeyError, TypeError):
        return "issvis"


def settings_of(record: Record) -> tuple[RenderSettings, str]:
    """The [render] settings and title stored in a record's scene text (defaults when absent);
    ``RenderSettingsError`` when that section is not valid for this issvis."""
    try:
        settings = RenderSettings.model_validate(_scene_data(record).get("render", {}))
    except ValueError as exc:
        raise RenderSettingsError(f"the record's [render] section is not valid: {exc}") from None
    return settings, title_of(record)


def interface_faces_of(record: Record) -> tuple[int, np.ndarray, int, np.ndarray] | None:
    """(child index, interface point (3,) m in the child's frame, parent index, the point in the
    parent's frame) of the record's first separation; None without one. From the record's own
    ``meta["interfaces"]``, else (an older record) from the station assets' interface and centres
    of mass."""
    recorded = interface_faces(record)
    if recorded is not None:
        return recorded
    seps = [e for e in record.events if e.get("kind") == "separation" and "interface" in e]
    if not seps:
        return None
    from ..station.assets import load_station_assets

    assets = load_station_assets(visuals=False)
    try:
        itf = assets.station.interface(seps[0]["interface"])
        names = [str(n) for n in record.names]
        ci, pi = names.index(itf.child), names.index(itf.parent)
    except (KeyError, ValueError):
        return None
    point = np.asarray(itf.point_m, float)
    return ci, point - assets.parts[itf.child].com_m, pi, point - assets.parts[itf.parent].com_m


def part_labels_of(record: Record | None = None) -> dict[str, str]:
    """Part name -> the label people know it by ('zarya' -> 'Zarya (FGB)'): the record's own
    (``meta["part_labels"]``), else (no record, or an older one) the station assets'."""
    recorded = record.meta.get("part_labels") if record is not None else None
    if recorded:
        return dict(recorded)
    from ..station.assets import part_labels

    return part_labels()
