"""SHA-256 fingerprints of what issvis produces, to show a refactor changed nothing.

Prints one line per product: the regenerated ``assets/`` (every file), the record of every shipped
scene at its full duration, ``issvis info --json`` of every shipped scene, and the files of
``tests/render_cache/`` (regenerate them first with ``ISSVIS_RESET_IMAGE_CACHE=1 pytest
tests/test_render.py -k key_frames_match_cache`` to fingerprint today's renderer). Uses the command
line only, so the same script runs on any layout of the package. Run: ``python tools/fingerprints.py``.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ISSVIS = [str(Path(sys.executable).with_name("issvis"))]


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def tree_sha(folder: Path) -> str:
    """One digest over every file's relative path and digest, in sorted order."""
    lines = [f"{p.relative_to(folder).as_posix()} {sha(p)}" for p in sorted(folder.rglob("*")) if p.is_file()]
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


def run(*args: str) -> str:
    return subprocess.run([*ISSVIS, *args], check=True, capture_output=True, text=True, cwd=ROOT).stdout


def main() -> None:
    scenes = sorted(p.stem for p in (ROOT / "scenes").glob("*.toml"))
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        run("assets", "-o", str(out / "assets"))
        print(f"assets/            {tree_sha(out / 'assets')}")
        for name in scenes:
            record = out / f"{name}.npz"
            run("simulate", name, "-o", str(record))
            print(f"record {name:<20}{sha(record)}")
        for name in scenes:
            digest = hashlib.sha256(run("info", name, "--json").encode()).hexdigest()
            print(f"info   {name:<20}{digest}")
    for png in sorted((ROOT / "tests" / "render_cache").glob("*.png")):
        print(f"cache  {png.name:<20}{sha(png)}")


if __name__ == "__main__":
    main()
