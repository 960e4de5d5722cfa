"""The pipeline's layers, checked by reading the imports rather than by memory.

The rules are import-linter contracts in pyproject.toml (``[tool.importlinter]``, also run by
``make check``): a layer imports only the layers below it (core < station < build < scene <
record < physics < pictures | analysis < cli), pybullet only in physics and the pictures never
reaching it, VTK/pyvista/imageio/trame only in the pictures, matplotlib/Dask/pymsis/pyarrow only
in the analysis, and the asset builder only for the command line. import-linter follows
function-level and ``from . import x`` imports, directly or through other modules.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from .conftest import ROOT

PACKAGE = ROOT / "issvis"


def lint_imports(root) -> subprocess.CompletedProcess:
    """import-linter's ``lint-imports`` on the package under ``root`` with the contracts of its
    pyproject.toml (no cache, so nothing is written)."""
    code = "from importlinter.cli import lint_imports_command; lint_imports_command()"
    return subprocess.run([sys.executable, "-c", code, "--no-cache", "--no-logo"], capture_output=True, text=True,
                          cwd=root, timeout=300, env={**os.environ, "PYTHONPATH": str(root)})


def test_the_package_keeps_every_import_contract():
    done = lint_imports(ROOT)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "0 broken" in done.stdout


PLANTED = {
    # a function-level relative import of a module: the hole the old hand-made check let through
    "pictures never reach physics": ("pictures/camera.py", "from ..physics import simulation",
                                     "issvis.pictures.camera -> issvis.physics.simulation"),
    # a lower layer reaching up
    "station below record": ("station/catalogue.py", "from ..record import record",
                             "issvis.station.catalogue -> issvis.record.record"),
    # a heavy package outside its stage
    "VTK only in pictures": ("physics/control.py", "import vtkmodules.vtkCommonCore",
                             "issvis.physics.control -> vtkmodules"),
    # the two top stages are independent of each other
    "pictures apart from analysis": ("pictures/video.py", "from ..analysis import plots",
                                     "issvis.pictures.video -> issvis.analysis.plots"),
}


@pytest.mark.parametrize("case", sorted(PLANTED))
def test_a_planted_import_breaks_the_contracts(tmp_path, case):
    """A copy of the package with one bad import planted inside a function fails the check and the
    report names the import."""
    module, statement, reported = PLANTED[case]
    shutil.copytree(PACKAGE, tmp_path / "issvis", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    assert lint_imports(tmp_path).returncode == 0  # the copy itself is clean
    target = tmp_path / "issvis" / module
    target.write_text(target.read_text() + f"\n\ndef _planted():\n    {statement}\n")
    done = lint_imports(tmp_path)
    assert done.returncode != 0 and "BROKEN" in done.stdout, done.stdout[-3000:]
    assert reported in done.stdout, done.stdout[-3000:]


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
        "issvis: error: this command needs issvis[analysis] (matplotlib is not installed): pip install 'issvis[analysis]'")
