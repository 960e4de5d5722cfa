"""Errors the user can fix, and the two helpers every message about bad input shares.

``InputError`` is the base class of every error that means "bad input" (a scene, a record, an
option, a missing display or package): the command line prints its message as one line on stderr
and exits with status 2, without a traceback (``issvis --debug`` shows it). An exception of any
other class is a bug in issvis. numpy-free, import-free: every layer may raise these.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any


class InputError(Exception):
    """Bad input: the message names the file (or option), the key, the value and what is expected."""


class MissingExtraError(InputError):
    """An optional package is not installed: the message names the extra that brings it."""


#: Packages of the optional extras (pyproject.toml): what needs one says how to get it.
EXTRA_OF_PACKAGE = {
    **dict.fromkeys(("pyvista", "vtk", "vtkmodules", "imageio", "imageio_ffmpeg", "PIL"), "render"),
    **dict.fromkeys(("matplotlib", "dask", "distributed", "pymsis"), "analysis"),
    "pyarrow": "parquet",
}


def missing_extra(exc: BaseException, needs: str = "this command") -> str | None:
    """The message for an optional package that is not installed ('NEEDS needs issvis[render]
    (PIL is not installed): pip install 'issvis[render]''): the extra first, whichever of its
    packages was the first missing; None for any other error. The command line
    and the Python API (``needs="issvis.render_still"``) share it."""
    if not isinstance(exc, ModuleNotFoundError) or exc.name is None:
        return None
    top = exc.name.split(".")[0]
    extra = EXTRA_OF_PACKAGE.get(top)
    if extra is None:
        return None
    return f"{needs} needs issvis[{extra}] ({top} is not installed): pip install 'issvis[{extra}]'"


def close_matches(value: object, choices: Iterable[object], n: int = 3) -> list[str]:
    """Up to n of choices that look like value (difflib's ratio >= 0.6), best first."""
    return difflib.get_close_matches(str(value), [str(c) for c in choices], n=n)


def did_you_mean(value: object, choices: Iterable[object], n: int = 3) -> str:
    """' Did you mean 'a' or 'b'?' for the choices close to value, or '' when none is."""
    close = close_matches(value, choices, n)
    return f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""


def unknown_name(where: str, kind: str, value: object, valid: Sequence[object]) -> str:
    """The message for a name that is not one of valid: 'WHERE = 'x': no such KIND. Did you mean
    ...? Valid KINDs: ...'."""
    return (f"{where} = {str(value)!r}: no such {kind}.{did_you_mean(value, valid)} "
            f"Valid {kind}s: {', '.join(map(str, valid))}")


def shorten(text: str, limit: int = 80) -> str:
    """text, cut to limit characters with ' ...' (a million-item array is not echoed whole)."""
    return text if len(text) <= limit else text[: limit - 4] + " ..."


def format_validation_error(err: Any, source: str | None = None, *, names: Mapping[str, str] | None = None,
                            allowed: Callable[[tuple[Any, ...]], list[str]] | None = None,
                            key_prefix: str = "", sep: str = "\n") -> str:
    """pydantic's ValidationError as lines 'SOURCE: key.path = value: why'.

    err : a ``pydantic.ValidationError`` (only its ``errors()`` is used, so pydantic is not imported).
    names : shown name of a top-level key (e.g. ``{"fps": "--fps"}``); a line about such a key is
        not prefixed with source (it is about an option, not the file).
    allowed : loc of a table -> its valid keys, for unknown keys ('did you mean ...; allowed here').
    key_prefix : put before every other key path (e.g. 'render.' for a model of the [render] table).
    """
    names = names or {}
    errors = err.errors()
    # a list whose items failed also reports itself as too short: keep the cause only
    locs = [tuple(e["loc"]) for e in errors]
    errors = [e for e in errors if not (e["type"] == "too_short" and any(
        other[: len(e["loc"])] == tuple(e["loc"]) and len(other) > len(e["loc"]) for other in locs))]
    lines = []
    for e in errors:
        loc = tuple(e["loc"])
        top = str(loc[0]) if loc else ""
        shown_key = key_prefix + ".".join(str(x) for x in loc)
        prefix = f"{source}: " if source else ""
        if top in names:
            shown_key = ".".join([names[top], *map(str, loc[1:])])
            prefix = ""
        if e["type"] == "extra_forbidden":
            valid = allowed(loc[:-1]) if allowed is not None else []
            hint = close_matches(loc[-1], valid, n=1)
            lines.append(f"{prefix}unknown key '{shown_key}'" + (f" (did you mean '{hint[0]}'?)" if hint else "")
                         + (f"; allowed here: {', '.join(valid)}" if valid else ""))
            continue
        message = str(e["msg"]).removeprefix("Value error, ")
        value = e.get("input")
        shown = "" if isinstance(value, dict) else f" = {shorten(repr(value))}"  # a whole table says nothing new
        lines.append(f"{prefix}{shown_key}{shown}: {message}")
    return sep.join(lines)
