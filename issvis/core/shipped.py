"""Where the shipped scenes and station assets are, in a checkout and after ``pip install``.

The repository keeps them at its top (``scenes/``, ``assets/``), where users look and edit; a
wheel carries the same files inside the package (``issvis/scenes/``, ``issvis/station_assets/``,
mapped by ``[tool.setuptools.package-dir]`` in pyproject.toml). Inside the package wins, so an
installed issvis never reads some other folder that happens to sit beside site-packages.
Standard library only.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from .errors import InputError

PACKAGE_DIR = Path(__file__).resolve().parents[1]  # issvis/, this file being issvis/core/shipped.py
DEFAULT_SCENE_NAME = "undock"


def _data_dir(inside: str, in_checkout: str) -> Path:
    packaged = PACKAGE_DIR / inside
    return packaged if packaged.is_dir() else PACKAGE_DIR.parent / in_checkout


def scenes_dir() -> Path:
    """The folder of the shipped scene files (*.toml)."""
    return _data_dir("scenes", "scenes")


def assets_dir() -> Path:
    """The folder of the station's generated assets (GLB per part, manifest.json)."""
    return _data_dir("station_assets", "assets")


def shipped_scenes() -> dict[str, Path]:
    """Name (file stem) -> path of every shipped scene, sorted by name."""
    folder = scenes_dir()
    return {p.stem: p for p in sorted(folder.glob("*.toml"))} if folder.is_dir() else {}


def scene_title(path: Path) -> str:
    """The scene's ``[scene] title`` ('' when the file has none or is not valid TOML)."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return ""
    title = data.get("scene", {}).get("title", "") if isinstance(data.get("scene"), dict) else ""
    return str(title)


def default_scene() -> Path:
    """The default scene: undock.toml, the Russian segment leaving the station of 5 March 2022."""
    scenes = shipped_scenes()
    if DEFAULT_SCENE_NAME not in scenes:
        raise InputError(f"the shipped scenes are missing ({scenes_dir()}/{DEFAULT_SCENE_NAME}.toml): "
                         "reinstall issvis, or name a scene file")
    return scenes[DEFAULT_SCENE_NAME]


def resolve_scene(path: Path) -> Path:
    """The file a user meant by path: path itself when it exists; else a shipped scene named by
    it ('undock', 'undock.toml' or 'scenes/undock.toml'); else path unchanged (the loader then
    says that it does not exist and lists the shipped scenes)."""
    if path.exists():
        return path
    parts = path.parts
    if len(parts) == 1 or (len(parts) == 2 and parts[0] == "scenes"):
        name = path.name.removesuffix(".toml")
        if path.suffix in ("", ".toml"):
            found = shipped_scenes().get(name)
            if found is not None:
                return found
    return path
