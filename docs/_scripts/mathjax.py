"""mkdocs-gen-files script: serve MathJax 3 from the site itself, not a CDN.

The site has to work offline (and the browser test fails on any request that
leaves localhost), so MathJax comes from the ``django-static-mathjax`` wheel on
PyPI, a plain copy of MathJax 3.2 with no dependencies (Django is not needed to
read its files). On every build this script copies the parts of MathJax's
``es5/`` tree that a page can load into the virtual site under
``javascripts/vendor/mathjax/``, and our configuration file beside it as
``javascripts/mathjax-config.js``. Nothing is written into docs/.
"""

from __future__ import annotations

import importlib.util
import logging
from pathlib import Path

import mkdocs_gen_files

log = logging.getLogger("mkdocs.plugins.cnn_sees.mathjax")

TARGET = "javascripts/vendor/mathjax"
# The combined component the pages load, and what it may load lazily: CHTML
# fonts, TeX extensions (autoload), the context menu and its accessibility
# extensions, and the speech-rule engine those use.
ENTRY = "tex-mml-chtml.js"
LAZY_DIRS = ("output", "input", "ui", "a11y", "sre", "adaptors")


def mathjax_es5_dir() -> Path | None:
    spec = importlib.util.find_spec("mathjax")
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        es5 = Path(location) / "static" / "mathjax" / "es5"
        if (es5 / ENTRY).is_file():
            return es5
    return None


def copy(src: Path, dest: str) -> None:
    with mkdocs_gen_files.open(dest, "wb") as out:
        out.write(src.read_bytes())


def main() -> None:
    here = Path(__file__).resolve().parent
    copy(here / "mathjax-config.js", "javascripts/mathjax-config.js")

    es5 = mathjax_es5_dir()
    if es5 is None:
        # A warning, so that `--strict` fails: pages with maths would show raw TeX.
        log.warning(
            "MathJax not found: install the project's dependencies "
            "(pip install -e .), which include django-static-mathjax."
        )
        return
    copy(es5 / ENTRY, f"{TARGET}/{ENTRY}")
    for name in LAZY_DIRS:
        for path in sorted((es5 / name).rglob("*")):
            if path.is_file():
                copy(path, f"{TARGET}/{path.relative_to(es5).as_posix()}")


main()
