"""The Python API's functions, re-exported by ``issvis`` (``issvis.simulate``, ...).

The top layer, beside the command line: it loads, varies, simulates, compares and shows, calling
the stages below. Only scenes and records are imported with this module (pydantic and numpy);
the physics, the pictures and their extras are imported by the function that needs them, and a
missing extra raises ``MissingExtraError``, an ``InputError``, with the command line's hint.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from .core.errors import MissingExtraError, format_validation_error, missing_extra
from .core.shipped import DEFAULT_SCENE_NAME, resolve_scene, shipped_scenes
from .record.compare import Comparison
from .record.record import Record
from .scene import schema
from .scene.schema import Scene, SceneError

if TYPE_CHECKING:
    from .scene.render_settings import RenderSettings


def load_scene(scene: str | Path = DEFAULT_SCENE_NAME, overrides: Sequence[str] = ()) -> Scene:
    """Read a scene file or a shipped scene, apply overrides, validate.

    Parameters
    ----------
    scene : str or Path, optional
        A scene file (``.toml``), or the name of a shipped scene (``"undock"``, the default;
        ``issvis scenes`` lists them).
    overrides : sequence of str, optional
        ``"key.path=value"`` assignments, as ``issvis simulate --set`` takes them (the value is
        TOML; list items by index): ``["scene.duration_s=300", "separation.0.delta_v_mps=0.2"]``.

    Returns
    -------
    Scene
        The validated scene; its ``source`` is the file it was read from.

    Raises
    ------
    InputError
        No such file or shipped scene, invalid TOML, or a value or name the scene does not
        accept; the message names the file, the key, the value and what is allowed.
    """
    path = resolve_scene(Path(scene))
    if not path.exists():
        raise SceneError(f"{scene}: no such scene file; shipped scenes: {', '.join(shipped_scenes())}")
    return schema.load_scene(path, list(overrides))


def scene_of(record: Record | str | Path, overrides: Sequence[str] = ()) -> Scene:
    """Rebuild the scene a record was simulated from, as the record stores it.

    Parameters
    ----------
    record : Record, str or Path
        A record, or the path of a record file (``.npz``).
    overrides : sequence of str, optional
        ``"key.path=value"`` assignments applied to the stored scene, as in `load_scene`.

    Returns
    -------
    Scene
        A scene equal to the one that ran (before ``overrides``).

    Raises
    ------
    InputError
        The record holds no scene text (it was written before records stored one).
    """
    from .record.scene_of import scene_of as stored_scene

    where = "the record" if isinstance(record, Record) else str(record)
    return stored_scene(_record(record), list(overrides), source=where)


def vary(scene: Scene, changes: Mapping[str, object]) -> Scene:
    """Copy a scene with some values changed, validated like a scene file.

    The same as ``scene.with_changes(changes)``. The scene given is not changed (scenes are
    frozen).

    Parameters
    ----------
    scene : Scene
        The scene to start from.
    changes : mapping of str to object
        Dotted key paths (list items by index) to new values, as Python values:
        ``{"separation.0.delta_v_mps": 0.2}``; a whole table may be given as a dict or as its
        model (``{"burn": [issvis.Burn(...)]}``).

    Returns
    -------
    Scene
        The changed scene; its ``source`` ends in ``with changes``.

    Raises
    ------
    InputError
        A key the scene does not have, a value out of range, or an unknown name.
    """
    return scene.with_changes(changes)


def simulate(scene: Scene, *, progress: bool = False) -> Record:
    """Run the physics of a scene and return its trajectory record.

    Parameters
    ----------
    scene : Scene
        A validated scene (`load_scene`, `vary` or ``Scene(...)``).
    progress : bool, optional
        Show a progress bar on stderr (off by default).

    Returns
    -------
    Record
        Poses, velocities and events of every part; ``record.meta["scene"]`` is the scene's TOML,
        from which `scene_of` rebuilds it.
    """
    from .physics.simulation import simulate as run

    return run(scene, progress=progress)


def compare(a: Record | str | Path, b: Record | str | Path, **tolerances: object) -> Comparison:
    """Compare record ``b`` against record ``a`` within tolerances, as ``issvis compare`` does.

    Parameters
    ----------
    a, b : Record, str or Path
        The reference (for instance a golden record) and the record to check, or their files.
    **tolerances : object
        Passed to ``issvis.record.compare.compare_records`` as they are: ``tolerances`` (a
        `ComparisonTolerances`), single bounds by name (``pos_tol_m=1e-3``, ``ang_tol_deg=0.05``,
        ...), ``until_s`` (compare up to this time) or ``overlap=True`` (over the span both records
        cover: a 300 s golden against a longer run).

    Returns
    -------
    Comparison
        ``agree`` (bool), the largest differences, where the runs first diverge, and ``report``,
        in words for people.
    """
    from .record.compare import compare_records

    run: Callable[..., Comparison] = compare_records  # its keywords pass through as they grow
    return run(_record(a), _record(b), **tolerances)


def render_still(record: Record, video_s: float, path: str | Path, *, settings: RenderSettings | None = None,
                 preview: bool = False, size: tuple[int, int] | None = None) -> Path:
    """Draw the frame of the video at ``video_s`` as a PNG (needs ``issvis[render]``).

    Parameters
    ----------
    record : Record
        What to draw; its scene's ``[render]`` settings are used unless ``settings`` is given.
    video_s : float
        Time in the video, s (the scene's time map turns it into simulated time).
    path : str or Path
        The PNG to write; it appears only when complete.
    settings : RenderSettings, optional
        Render settings to use instead of the record's.
    preview : bool, optional
        Small and fast (640x360, no anti-aliasing), as ``issvis render --preview``.
    size : tuple of int, optional
        ``(width, height)`` in pixels, even numbers.

    Returns
    -------
    Path
        The PNG written.

    Raises
    ------
    InputError
        A time outside the clip, invalid settings, a record of another station, or the render
        extra not installed.
    """
    with _needs_extra("issvis.render_still"):
        from .pictures.camera import Clip
        from .pictures.video import render_still as still
        from .scene.render_settings import RenderSettingsError

        chosen, title = _render_settings(record, settings, preview=preview, size=size)
        length_s = Clip(chosen, record).length_s  # numpy only: checked before the renderer starts
        if not 0 <= video_s <= length_s:
            raise RenderSettingsError(f"video_s = {video_s:g}: the clip runs 0..{length_s:g} s of video")
        return still(record, chosen, video_s, Path(path), preview=preview, title=title)


def render_video(record: Record, path: str | Path, *, settings: RenderSettings | None = None, preview: bool = False,
                 size: tuple[int, int] | None = None, fps: int | None = None, seconds: float | None = None,
                 progress: bool = False, workers: int = 1) -> Path:
    """Render a record to an MP4 (H.264), with a poster PNG beside it (needs ``issvis[render]``).

    Parameters
    ----------
    record : Record
        What to draw; its scene's ``[render]`` settings are used unless ``settings`` is given.
    path : str or Path
        The MP4 to write; it appears only when complete.
    settings : RenderSettings, optional
        Render settings to use instead of the record's.
    preview : bool, optional
        Small and fast (640x360 at 15 fps), as ``issvis render --preview``.
    size : tuple of int, optional
        ``(width, height)`` in pixels, even numbers.
    fps : int, optional
        Frames per second.
    seconds : float, optional
        Length of the video, s; the time map and the camera stretch to fit.
    progress : bool, optional
        Show a progress bar on stderr.
    workers : int, optional
        Render the clip's segments in this many processes (the file is the same).

    Returns
    -------
    Path
        The MP4 written.

    Raises
    ------
    InputError
        Invalid settings, a record of another station, or the render extra not installed.
    """
    with _needs_extra("issvis.render_video"):
        from .pictures.video import render_video as video

        chosen, title = _render_settings(record, settings, preview=preview, size=size, fps=fps, seconds=seconds)
        video(record, chosen, Path(path), preview=preview, title=title, progress=progress, workers=workers)
        return Path(path)


def view(record: Record, *, size: tuple[int, int] = (1280, 720), play: bool = False) -> None:
    """Open the interactive 3D viewer on a record until its window is closed (needs a display).

    Parameters
    ----------
    record : Record
        What to show.
    size : tuple of int, optional
        Window size in pixels.
    play : bool, optional
        Start playing at once.

    Raises
    ------
    InputError
        No display, a record of another station, or the render extra not installed.
    """
    with _needs_extra("issvis.view"):
        from .pictures.viewer import view as run_viewer

        _check_station(record)
        run_viewer(record, window_size=size, play=play)


# --- helpers -------------------------------------------------------------------------------------
def _record(record: Record | str | Path) -> Record:
    return record if isinstance(record, Record) else Record.load(record)


@contextmanager
def _needs_extra(needs: str) -> Iterator[None]:
    """Turn a missing optional package, anywhere inside, into MissingExtraError with the CLI's hint."""
    try:
        yield
    except ModuleNotFoundError as exc:
        message = missing_extra(exc, needs)
        if message is None:
            raise
        raise MissingExtraError(message) from None


def _check_station(record: Record) -> None:
    """Refuse a record of another station (as the command line does); warn when only looks differ."""
    from .station.assets import check_record_station

    note = check_record_station(record)
    if note:
        warnings.warn(note, stacklevel=3)


def _render_settings(record: Record, settings: RenderSettings | None, *, preview: bool,
                     size: tuple[int, int] | None = None, fps: int | None = None,
                     seconds: float | None = None) -> tuple[RenderSettings, str]:
    """Choose the settings to render with (the record's own unless given, then the keywords); with the title."""
    from pydantic import ValidationError

    from .pictures.video import effective_settings
    from .record.scene_of import settings_of
    from .scene.render_settings import RenderSettingsError

    _check_station(record)
    stored, title = settings_of(record)  # the one place the API reads a record's [render]
    try:
        chosen = effective_settings(settings or stored, size=size, fps=fps, seconds=seconds, preview=preview)
    except ValidationError as err:
        names = {"width_px": "size[0]", "height_px": "size[1]", "fps": "fps", "seconds": "seconds"}
        raise RenderSettingsError(format_validation_error(err, names=names, key_prefix="render.", sep="; ")) from None
    return chosen, title
