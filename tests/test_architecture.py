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
    "catalogue": {"trimesh", "pybullet", "pyvista", "vtk", "imageio", "issvis.build.geometry", "issvis.physics.simulation"},
    "frames": {"trimesh", "pybullet", "pyvista", "vtk", "imageio"},
    "trajectory": {"trimesh", "pybullet", "pyvista", "vtk", "imageio", "issvis.physics.simulation"},
    "scene": {"pybullet", "pyvista", "vtk", "imageio", "issvis.physics.simulation"},
    "render_config": {"pybullet", "pyvista", "vtk", "imageio"},
    "simulation": {"pyvista", "vtk", "imageio", "matplotlib"},
    "stage": {"pybullet", "issvis.physics.simulation"},
    "camera": {"pybullet", "issvis.physics.simulation"},
    "render": {"pybullet", "issvis.physics.simulation"},
    "viewer": {"pybullet", "issvis.physics.simulation"},
    "plots": {"pybullet", "pyvista", "vtk", "issvis.physics.simulation"},
    "decay": {"pybullet", "pyvista", "vtk", "issvis.physics.simulation"},
    "sweep": {"pyvista", "vtk", "imageio"},
    "assets": {"pybullet", "pyvista", "vtk", "imageio", "issvis.physics.simulation"},
    "control": {"pybullet", "pyvista", "vtk", "imageio", "matplotlib", "trimesh", "issvis.physics.simulation"},
    "plumes": {"pybullet", "issvis.physics.simulation"},
    "webview": {"pybullet", "issvis.physics.simulation"},
    "earth": {"pybullet", "pyvista", "vtk", "imageio", "issvis.physics.simulation"},
    "chunks": {"pybullet", "pyvista", "vtk", "issvis.physics.simulation"},
    # shared pieces every layer may use: the standard library alone
    "errors": {"numpy", "pydantic", "click", "trimesh", "pybullet", "pyvista", "vtk", "imageio", "issvis.scene.schema"},
    "files": {"numpy", "pydantic", "click", "trimesh", "pybullet", "pyvista", "vtk", "imageio"},
    "shipped": {"numpy", "pydantic", "click", "trimesh", "pybullet", "pyvista", "vtk", "imageio", "issvis.scene.schema"},
    "textures": {"trimesh", "pybullet", "pyvista", "vtk", "imageio", "issvis.physics.simulation"},
    "export": {"pybullet", "pyvista", "vtk", "imageio", "issvis.physics.simulation"},
    "geometry": {"pybullet", "pyvista", "vtk", "imageio", "issvis.physics.simulation"},
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
    code = ("import sys, issvis, issvis.cli; heavy = {'pybullet', 'pyvista', 'vtk', 'trimesh', 'imageio', 'trame', "
            "'matplotlib', 'dask', 'distributed', 'pymsis', 'pyarrow'} & set(sys.modules); print(sorted(heavy))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "[]"


#: What `pip install issvis` (no extras) lacks: the render, analysis and parquet extras.
EXTRAS_ONLY = ("pyvista", "vtk", "vtkmodules", "imageio", "imageio_ffmpeg", "PIL", "matplotlib", "dask",
               "distributed", "pymsis", "pyarrow", "mpl_toolkits")


def test_a_simulate_only_install_needs_none_of_the_extras(tmp_path):
    """The minimal install, as CI can run it offline: the extras' packages are made unimportable
    (None in sys.modules) in a fresh interpreter; simulate, info and compare still work, and a
    command that needs an extra says which one in one line (exit 2)."""
    out = tmp_path / "r.npz"
    code = (f"import sys\nfor name in {EXTRAS_ONLY!r}:\n    sys.modules[name] = None\n"
            "from issvis.cli import main\n"
            f"assert main(['simulate', '--set', 'scene.duration_s=30', '-o', {str(out)!r}]) == 0\n"
            "assert main(['info', 'soyuz_departure']) == 0\n"
            f"assert main(['compare', {str(out)!r}, {str(out)!r}]) == 0\n"
            f"sys.exit(main(['plot', {str(out)!r}, '-o', {str(tmp_path / 'p.png')!r}]))\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=300,
                          env={**__import__("os").environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 2, done.stderr[-3000:]
    assert out.exists() and "records agree" in done.stdout
    assert done.stderr.strip().splitlines()[-1] == (
        "issvis: error: this command needs matplotlib, which is not installed: pip install 'issvis[analysis]'")
