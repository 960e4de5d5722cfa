"""issvis: simulate and show the ISS of 5 March 2022 coming apart in orbit.

The Python API, in the order a script uses it:

    import issvis

    scene = issvis.load_scene("undock", ["scene.duration_s=300"])   # shipped name or file, overrides
    faster = issvis.vary(scene, {"separation.0.delta_v_mps": 0.2})   # validated like a file
    record = issvis.simulate(faster)
    record.save("faster.npz")
    issvis.compare(issvis.Record.load("golden.npz"), record).agree
    issvis.render_still(record, 12.5, "frame.png")                  # needs issvis[render]

Scenes can be built in code too (``issvis.Scene(separation=(issvis.Separation(...),))``); they
are checked as a scene file is. ``issvis.InputError`` is the one error to catch: its message
names the file or key, the value and what is allowed. ``docs/python.md`` is the guide.

``import issvis`` is cheap (no pydantic, no physics, no pictures): each name loads its module on
first use (PEP 562).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

__all__ = [
    "Burn",
    "Comparison",
    "ComparisonTolerances",
    "InputError",
    "JetBurn",
    "Record",
    "Scene",
    "SceneInfo",
    "Separation",
    "compare",
    "load_scene",
    "render_still",
    "render_video",
    "scene_of",
    "simulate",
    "vary",
    "view",
]

#: Where each public name lives; it is imported from there on first use.
_HOME = {
    "InputError": "issvis.core.errors",
    "Record": "issvis.record.record",
    **dict.fromkeys(("Comparison", "ComparisonTolerances"), "issvis.record.compare"),
    **dict.fromkeys(("Scene", "SceneInfo", "Separation", "Burn", "JetBurn"), "issvis.scene.schema"),
    **dict.fromkeys(("load_scene", "scene_of", "vary", "simulate", "compare", "render_still", "render_video", "view"),
                    "issvis.api"),
}

if TYPE_CHECKING:
    from .api import compare, load_scene, render_still, render_video, scene_of, simulate, vary, view
    from .core.errors import InputError
    from .record.compare import Comparison, ComparisonTolerances
    from .record.record import Record
    from .scene.schema import Burn, JetBurn, Scene, SceneInfo, Separation

    __version__: str


def __getattr__(name: str) -> object:
    """Import a public name's module on first use (PEP 562); ``__version__`` from the installed metadata."""
    if name == "__version__":
        from importlib import metadata

        try:
            value: object = metadata.version("issvis")
        except metadata.PackageNotFoundError:  # run from a checkout that was never installed
            value = "0+unknown"
    elif name in _HOME:
        value = getattr(importlib.import_module(_HOME[name]), name)
    else:
        raise AttributeError(f"module 'issvis' has no attribute {name!r}")
    globals()[name] = value  # the next access is a plain attribute
    return value


def __dir__() -> list[str]:
    """List the module's names, the public ones included before they are loaded."""
    return sorted({*globals(), *__all__, "__version__"})
