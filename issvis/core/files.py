"""Writing files so that a reader never sees half of one: a temporary name beside the target,
then one rename (``os.replace`` is atomic on POSIX and Windows within a directory).

Every writer in issvis goes through ``atomic_path``; the temporary name keeps the target's suffix
(matplotlib, imageio and Pillow choose the format by it) and starts with a dot, so a half-written
file is hidden and never mistaken for output.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def temporary_name(path: Path) -> Path:
    """'.NAME.PID.tmpSUFFIX' beside path: unique per process, same suffix."""
    return path.with_name(f".{path.stem}.{os.getpid()}.tmp{path.suffix}")


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path to write; on success it replaces path, on any error it is removed.

    The parent directory is created. ``with atomic_path(out) as tmp: fig.savefig(tmp)``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_name(path)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_bytes_atomic(path: str | Path, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_text_atomic(path: str | Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
