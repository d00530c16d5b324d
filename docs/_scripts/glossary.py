"""mkdocs-gen-files script: the Glossary page, from the tooltip definitions in docs/_snippets/glossary.md.

The same file gives every page its hover tooltips (``pymdownx.snippets`` appends it to
each page, and Markdown's ``abbr`` extension turns each ``*[term]: definition`` into a
tooltip on that term), so the page and the tooltips never disagree.
"""

from __future__ import annotations

import re
from pathlib import Path

import mkdocs_gen_files

from generator.site.markup import text

SOURCE = Path(mkdocs_gen_files.config["docs_dir"]) / "_snippets" / "glossary.md"
ENTRY = re.compile(r"^\*\[(?P<term>[^\]]+)\]:\s*(?P<definition>.+)$")


def entries(source: str) -> list[tuple[str, str]]:
    return [(m["term"], m["definition"]) for m in map(ENTRY.match, source.splitlines()) if m]


def page(terms: list[tuple[str, str]]) -> str:
    lines = ["# Glossary", "",
             "Terms the chapters use without stopping to explain them. On every page, hover over one "
             "(or tap it) to see its definition.", ""]
    for term, definition in sorted(terms, key=lambda t: t[0].lower()):
        lines += [f"{text(term)}", f":   {text(definition)}", ""]
    return "\n".join(lines)


with mkdocs_gen_files.open("glossary.md", "w", encoding="utf-8") as out:
    out.write(page(entries(SOURCE.read_text(encoding="utf-8"))))
