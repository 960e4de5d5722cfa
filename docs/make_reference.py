"""Write the API reference of ``import issvis`` (HTML, from the numpydoc docstrings) with pdoc.

    python docs/make_reference.py              # what `make docs` runs: docs/api/issvis.html
    python docs/make_reference.py -o DIR

Only the curated namespace is documented: ``issvis`` and the names in ``issvis.__all__``, not
the modules behind them. pdoc comes with the test extra (``pip install -e '.[test]'``).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pdoc
import pdoc.render

HERE = Path(__file__).resolve().parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--output", type=Path, default=HERE / "api", help="folder to write (default docs/api)")
    args = parser.parse_args()
    pdoc.render.configure(docformat="numpy", show_source=False, search=False,
                          footer_text="issvis: the Python API (docs/python.md is the guide)")
    pdoc.pdoc("issvis", "!issvis.", output_directory=args.output)
    print(f"wrote {args.output / 'issvis.html'}")


if __name__ == "__main__":
    main()
