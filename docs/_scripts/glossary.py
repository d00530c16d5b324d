"""mkdocs-gen-files script: the Glossary page, from the tooltip definitions in docs/_snippets/glossary.md
and the attribution methods the build declares (``generator.lib.methods.METHODS``, listed in the manifest).

The same file gives every page its hover tooltips (``pymdownx.snippets`` appends it to
each page, and Markdown's ``abbr`` extension turns each ``*[term]: definition`` into a
tooltip on that term), so the page and the tooltips never disagree.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import mkdocs_gen_files

from generator.site.markup import text

SOURCE = Path(mkdocs_gen_files.config["docs_dir"]) / "_snippets" / "glossary.md"
MANIFEST = Path(mkdocs_gen_files.config["docs_dir"]) / "generated" / "manifest.json"
ENTRY = re.compile(r"^\*\[(?P<term>[^\]]+)\]:\s*(?P<definition>.+)$")


def entries(source: str) -> list[tuple[str, str]]:
    return [(m["term"], m["definition"]) for m in map(ENTRY.match, source.splitlines()) if m]


def method_entries(manifest_path: Path) -> list[tuple[str, str]]:
    """One entry per attribution method of the build (none before the first build)."""
    try:
        methods = json.loads(manifest_path.read_text(encoding="utf-8")).get("methods", [])
    except (OSError, ValueError):
        return []
    return [(m["title"], f"{m['definition']} ({m['citation']})") for m in methods]


def page(terms: list[tuple[str, str]]) -> str:
    lines = [
        "# Glossary",
        "",
        "Terms the chapters use without stopping to explain them. On every page, hover over one "
        "(or tap it) to see its definition.",
        "",
    ]
    for term, definition in sorted(terms, key=lambda t: t[0].lower()):
        lines += [f"{text(term)}", f":   {text(definition)}", ""]
    return "\n".join(lines)


with mkdocs_gen_files.open("glossary.md", "w", encoding="utf-8") as out:
    written = entries(SOURCE.read_text(encoding="utf-8"))
    known = {term.lower() for term, _ in written}
    out.write(page(written + [e for e in method_entries(MANIFEST) if e[0].lower() not in known]))
