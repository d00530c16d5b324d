"""The site's chapters: one folder per technique, ``generator/chapters/<name>/``.

A chapter folder holds

* ``spec.py``      -- ``TECHNIQUE = Technique(...)`` and its named outputs (torch-free: only
  :mod:`generator.core`), which is all the registry reads;
* ``compute.py``   -- ``compute(ctx, model, image) -> Result``: pure computation with
  :mod:`generator.lib`, never drawing;
* ``render.py``    -- ``render(rc, results) -> records``: figures from those arrays, never a model;
* ``templates/``   -- ``<name>.md.j2`` and ``<name>.<part>.md.j2``, the markdown fragments
  (``fragments/<name>.<part>.md``) that ``docs/<chapter>.md`` includes.

The build discovers every folder here and runs them in the order of their
``needs``, so adding a technique means adding one folder and one page.
``scope="image"`` techniques run once per (image, model); ``scope="model"``
ones once per model.  ``models`` lists which of the two VGG16s they run on.
"""

from __future__ import annotations

import importlib
import pkgutil

from generator.core import Technique


def registry() -> dict[str, Technique]:
    """Every chapter's technique, in ``order``: reads each ``spec.py`` only (no torch)."""
    found: list[Technique] = []
    for info in pkgutil.iter_modules(__path__):
        if info.name.startswith("_") or not info.ispkg:
            continue
        module = importlib.import_module(f"{__name__}.{info.name}.spec")
        tech = getattr(module, "TECHNIQUE", None)
        if not isinstance(tech, Technique):
            raise RuntimeError(f"generator/chapters/{info.name}/spec.py defines no TECHNIQUE = Technique(...)")
        if tech.name != info.name:
            raise RuntimeError(
                f"generator/chapters/{info.name}/spec.py: TECHNIQUE.name is "
                f"{tech.name!r}; it must equal the folder's name"
            )
        found.append(tech)
    return {t.name: t for t in sorted(found, key=lambda t: (t.order, t.name))}


def run_order(techniques: dict[str, Technique], wanted: list[str] | None = None) -> list[Technique]:
    """``wanted`` (default: all) plus everything they need, each after its needs.

    Among techniques whose needs are met, the order of ``techniques`` is kept.
    Raises a one-line ``ValueError`` for an unknown name or a cycle.
    """
    names = list(techniques)
    for tech in techniques.values():
        unknown = [n for n in tech.needs if n not in techniques]
        if unknown:
            raise ValueError(
                f"technique {tech.name} needs unknown technique(s) {', '.join(unknown)}; valid: {', '.join(names)}"
            )
    unknown = [n for n in (wanted or []) if n not in techniques]
    if unknown:
        raise ValueError(f"unknown technique(s) {', '.join(unknown)}; valid: {', '.join(names)}")
    chosen: set[str] = set()
    todo = list(wanted) if wanted else list(names)
    while todo:
        n = todo.pop()
        if n not in chosen:
            chosen.add(n)
            todo.extend(techniques[n].needs)
    ordered: list[Technique] = []
    done: set[str] = set()
    pending = [n for n in names if n in chosen]
    while pending:
        ready = [n for n in pending if all(d in done for d in techniques[n].needs)]
        if not ready:
            raise ValueError(
                f"techniques {', '.join(pending)} need each other in a cycle; break it in their needs=(...)"
            )
        n = ready[0]
        ordered.append(techniques[n])
        done.add(n)
        pending.remove(n)
    return ordered
