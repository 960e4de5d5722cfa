"""How long issvis waits to reach a Dask scheduler (``sweep --scheduler``, ``render --scheduler``).

One setting for both commands: 20 s by default, or the seconds in the environment variable
``ISSVIS_DASK_CONNECT_TIMEOUT_S`` (a slow link may need more; a test of an unreachable address
less). An environment variable rather than an option, because the wait belongs to the network a
user is on, not to one run, and it changes no result. Standard library only.
"""

from __future__ import annotations

import math
import os

from .errors import InputError

DASK_CONNECT_TIMEOUT_S = 20.0
"""Default wait for a Dask scheduler to answer, s."""

DASK_CONNECT_TIMEOUT_ENV = "ISSVIS_DASK_CONNECT_TIMEOUT_S"


class ConnectTimeoutError(InputError, ValueError):
    """A connect timeout that is not a positive number of seconds."""


def dask_connect_timeout_s(timeout_s: float | None = None) -> float:
    """``timeout_s`` when given, else ``$ISSVIS_DASK_CONNECT_TIMEOUT_S``, else 20 s; checked > 0.

    The message of a bad value starts with ``--scheduler`` (the option that made issvis read it),
    so the command line does not put the scene file in front of it."""
    expected = "expected seconds, a positive number (e.g. 20)"
    if timeout_s is None:
        text = os.environ.get(DASK_CONNECT_TIMEOUT_ENV, "").strip()
        if not text:
            return DASK_CONNECT_TIMEOUT_S
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not (math.isfinite(value) and value > 0):
            raise ConnectTimeoutError(f"--scheduler: {DASK_CONNECT_TIMEOUT_ENV}={text!r} in the environment: {expected}")
        return value
    if not (math.isfinite(timeout_s) and timeout_s > 0):
        raise ConnectTimeoutError(f"connect_timeout_s={timeout_s!r}: {expected}")
    return float(timeout_s)
