"""The pipeline's layers, checked by reading the imports rather than by memory (style.md)."""

from __future__ import annotations

import ast
import subprocess
import sys

import pytest

from .conftest import ROOT

PACKAGE = ROOT / "issvis"

# module -> imports it must never make (directly, at any level of the file)
FORBIDDEN = {
    "catalogue": {"trimesh", "pybullet", "pyvista", "vtk", "imageio", "issvis.geometry", "issvis.simulation"},
    "frames": {"trimesh", "pybullet", "pyvista", "vtk", "imageio"},
    "trajectory": {"trimesh", "pybullet", "pyvista", "vtk", "imageio", "issvis.simulation"},
    "scene": {"pybullet", "pyvista", "vtk", "imageio", "issvis.simulation"},
    "render_config": {"pybullet", "pyvista", "vtk", "imageio"},
    "simulation": {"pyvista", "vtk", "imageio", "matplotlib"},
    "stage": {"pybullet", "issvis.simulation"},
    "camera": {"pybullet", "issvis.simulation"},
    "render": {"pybullet", "issvis.simulation"},
    "viewer": {"pybullet", "issvis.simulation"},
    "plots": {"pybullet", "pyvista", "vtk", "issvis.simulation"},
    "decay": {"pybullet", "pyvista", "vtk", "issvis.simulation"},
    "sweep": {"pyvista", "vtk", "imageio"},
    "assets": {"pybullet", "pyvista", "vtk", "imageio", "issvis.simulation"},
    "textures": {"trimesh", "pybullet", "pyvista", "vtk", "imageio", "issvis.simulation"},
    "export": {"pybullet", "pyvista", "vtk", "imageio", "issvis.simulation"},
    "geometry": {"pybullet", "pyvista", "vtk", "imageio", "issvis.simulation"},
}


def imported_names(path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level:  # relative: issvis.<module>
                names.add(f"issvis.{module}" if module else "issvis")
            else:
                names.add(module)
    return names


@pytest.mark.parametrize("module", sorted(FORBIDDEN))
def test_layers_import_only_what_their_stage_may(module):
    path = PACKAGE / f"{module}.py"
    if not path.exists():
        pytest.skip(f"issvis/{module}.py does not exist yet")
    imported = imported_names(path)
    bad = {name for name in imported for banned in FORBIDDEN[module]
           if name == banned or name.startswith(banned + ".")}
    assert not bad, f"issvis/{module}.py imports {sorted(bad)}"


def test_import_issvis_pulls_in_numpy_alone():
    code = ("import sys, issvis, issvis.cli; heavy = {'pybullet', 'pyvista', 'vtk', 'trimesh', 'imageio', "
            "'matplotlib', 'dask', 'distributed', 'pymsis', 'pyarrow'} & set(sys.modules); print(sorted(heavy))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "[]"
