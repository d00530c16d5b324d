"""Cache keys: content hashes of everything a result depends on.

A unit's key hashes its inputs (image bytes, the weights' identity, the
technique's compute settings, the profile), the keys of the upstream units it
reads (so a change upstream reaches every consumer), and the *code hash* of
the technique: the source of every ``generator`` module it can reach through
imports, lazy imports inside functions included.  If in doubt, this hashes
more, never less.

The code hash finds imports with :mod:`ast` and hashes each module's bytes,
except in a module that declares ``TECHNIQUE = Technique(...)``: there it
hashes the syntax tree without the ``compute_settings``/``render_settings``
values, which are hashed by value into the unit key and the render key
respectively, so that changing a render-only setting re-renders without
recomputing (and comments in such a module do not count).
"""

from __future__ import annotations

import ast
import dataclasses
import hashlib
import json
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

from generator import __version__
from generator.config import SEED

PACKAGE = "generator"
PACKAGE_DIR = Path(__file__).resolve().parents[1]
SETTINGS_FIELDS = ("compute_settings", "render_settings")


CACHE_FORMAT = 2
"""The layout of a cache entry, part of every unit key: entries of an older layout are never looked up, so an
upgrade recomputes them quietly instead of warning about each (2: an entry stores the key it belongs to)."""


def digest(*parts: Any) -> str:
    """sha256 over JSON-encoded parts (bytes as they are)."""
    h = hashlib.sha256()
    for p in parts:
        h.update(p if isinstance(p, bytes) else json.dumps(p, sort_keys=True, default=str).encode())
        h.update(b"\0")
    return h.hexdigest()


def module_file(name: str) -> Path | None:
    """The source file of a ``generator`` module, or None if there is none."""
    if name != PACKAGE and not name.startswith(PACKAGE + "."):
        return None
    if name == PACKAGE:
        return PACKAGE_DIR / "__init__.py"
    rel = Path(*name.split(".")[1:])
    for candidate in (PACKAGE_DIR / rel.with_suffix(".py"), PACKAGE_DIR / rel / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


@cache
def _tree(name: str) -> ast.Module:
    path = module_file(name)
    return ast.parse(path.read_bytes(), filename=str(path)) if path else ast.Module(body=[], type_ignores=[])


def _parents(name: str) -> list[str]:
    parts = name.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]


@cache
def imports_of(name: str) -> frozenset[str]:
    """``generator`` modules that module ``name`` imports anywhere (functions included), and their packages."""
    found: set[str] = set()
    is_package = module_file(name) is not None and module_file(name).name == "__init__.py"
    for node in ast.walk(_tree(name)):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from .x import y
                anchor = name.split(".") if is_package else name.split(".")[:-1]
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            # "from pkg import name" may name a submodule: keep both, files decide
            targets = [base] + [f"{base}.{alias.name}" for alias in node.names]
        else:
            continue
        for target in targets:
            if module_file(target) is not None:
                found.add(target)
                found.update(p for p in _parents(target) if module_file(p) is not None)
    found.discard(name)
    return frozenset(found)


def reachable(*names: str) -> list[str]:
    """Every ``generator`` module reachable from ``names`` through imports (transitively), sorted."""
    seen: set[str] = set()
    todo = [n for n in names]
    for n in names:
        todo.extend(p for p in _parents(n) if module_file(p) is not None)
    while todo:
        name = todo.pop()
        if name in seen or module_file(name) is None:
            continue
        seen.add(name)
        todo.extend(imports_of(name) - seen)
    return sorted(seen)


def _settings_free_dump(tree: ast.Module) -> str:
    """``ast.dump`` of ``tree`` with the settings keywords of its ``Technique(...)`` calls left out."""
    calls = [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", None)) == "Technique"
    ]
    saved = [(call, call.keywords) for call in calls]
    try:
        for call in calls:
            call.keywords = [k for k in call.keywords if k.arg not in SETTINGS_FIELDS]
        return ast.dump(tree)
    finally:
        for call, keywords in saved:
            call.keywords = keywords


_SOURCE_MEMO: dict[str, str] = {}


def source_hash(name: str) -> str:
    """Hash of one module's code: its bytes, or for a technique module its AST without settings values."""
    if name not in _SOURCE_MEMO:
        path = module_file(name)
        source = path.read_bytes() if path else b""
        if b"Technique(" in source:
            _SOURCE_MEMO[name] = hashlib.sha256(_settings_free_dump(_tree(name)).encode()).hexdigest()
        else:
            _SOURCE_MEMO[name] = hashlib.sha256(source).hexdigest()
    return _SOURCE_MEMO[name]


def forget() -> None:
    """Drop every memo (parsed trees, imports, hashes): for tests that edit sources on disk."""
    _tree.cache_clear()
    imports_of.cache_clear()
    _SOURCE_MEMO.clear()


def code_hash(*names: str) -> str:
    """Hash of every module reachable from ``names``: editing any of them changes it."""
    return digest(sorted((m, source_hash(m)) for m in reachable(*names)))


def unit_seed(technique: str, image_id: str | None, model: str) -> int:
    """The seed torch and numpy get before a unit runs (from the global seed and the unit's name)."""
    value = hashlib.sha256(f"{SEED}|{technique}|{image_id}|{model}".encode()).digest()
    return int.from_bytes(value[:4], "little") & 0x7FFFFFFF


def _photo(image) -> list:
    """What a result may depend on of a photo: its id, its bytes, and its CREDITS.toml entry
    (the expected ImageNet class goes into the predictions; titles go into captions)."""
    credit = dataclasses.asdict(image.credit) if image.credit is not None else None
    return [image.id, image.sha256, image.title, credit]


class UnitKeys:
    """The cache key of every unit of a build, and the render key of every technique.

    A unit is (technique, image id or None, model).  Its key chains the keys of
    the upstream units it may read (:meth:`upstream`), so a change anywhere
    upstream reaches every consumer.
    """

    def __init__(self, techniques: dict, images: list, profile, identity: Callable[[str], str]):
        self.techniques = techniques
        self.images = images  # filled in by the build before the first key is asked for
        self.profile = profile
        self.identity = identity  # model name -> identity string
        self._memo: dict[tuple, str] = {}

    def units(self, tech) -> list[tuple]:
        ids: list[str | None] = [i.id for i in self.images] if tech.scope == "image" else [None]
        return [(i, m) for i in ids for m in tech.models]

    def upstream(self, tech, image_id: str | None) -> list[tuple[str, str | None, str]]:
        """The upstream units a unit of ``tech`` may read: for each technique it needs, the units of the
        same photo (every model) when both are per image, otherwise all of that technique's units."""
        out = []
        for name in tech.needs:
            need = self.techniques[name]
            for i, m in self.units(need):
                if tech.scope == "model" or need.scope == "model" or i == image_id:
                    out.append((name, i, m))
        return out

    def unit(self, tech, image_id: str | None, model: str) -> str:
        memo = (tech.name, image_id, model)
        if memo not in self._memo:
            if tech.scope == "image":
                image_part: Any = next(_photo(i) for i in self.images if i.id == image_id)
            else:
                image_part = sorted(_photo(i) for i in self.images)
            upstream = [(n, i, m, self.unit(self.techniques[n], i, m)) for n, i, m in self.upstream(tech, image_id)]
            self._memo[memo] = digest(
                "unit",
                __version__,
                CACHE_FORMAT,
                tech.name,
                tech.compute_settings_for(self.profile.name),
                self.profile.as_dict(),
                image_part,
                self.identity(model),
                code_hash(tech.compute_module),
                upstream,
            )
        return self._memo[memo]

    def render(self, tech, keys: dict, labels: dict | None = None) -> str:
        """The render key: every unit key, the render settings, the profile, the model labels and the
        photos' titles and credits that the captions use, and the renderer's code."""
        return digest(
            "render",
            sorted((str(u), k) for u, k in keys.items()),
            labels or {},
            sorted(_photo(i) for i in self.images),
            tech.render_settings_for(self.profile.name),
            self.profile.as_dict(),
            code_hash(tech.render_module),
        )
