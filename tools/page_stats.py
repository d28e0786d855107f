"""What a chapter's page will show, measured from its source: the fast check before a build.

For each chapter (``.md`` and its executed ``.ipynb``) it lists code and output lines wider than
``WIDTH`` characters (the reading column holds 88 at 1280 px, see ``_static/book.css``), also in
folded cells and solutions, which the reader sees after one click, and
estimates the share of visible code lines: code in cells that are not folded (``hide-input``,
``hide-cell``, ``remove-*``) and not inside a solution dropdown, against that plus the non-blank
lines of prose (paragraph lengths over the column's ``PROSE_WIDTH`` characters) and outputs. The
browser check measures the real share on the rendered page; this estimate is close to it (within
a few points on the chapters measured) and needs no build.

Usage::

    python tools/page_stats.py [book/NN-slug.md ...]   # default: every chapter
"""

from __future__ import annotations

import math
import re
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))

from export import notebook_chapters  # noqa: E402

WIDTH = 88
PROSE_WIDTH = 120  # characters of prose in one rendered line of the column (measured)
FOLDED = {"hide-input", "hide-cell", "remove-input", "remove-cell"}
NO_OUTPUT = {"hide-output", "hide-cell", "remove-output", "remove-cell"}


def _output_text(cell) -> list[str]:
    lines = []
    for out in cell.get("outputs", []):
        if out.output_type == "stream":
            lines += out.text.splitlines()
        elif "data" in out and "text/plain" in out.data and "image/png" not in out.data:
            lines += out.data["text/plain"].splitlines()
    return lines


def _prose_lines(src: str) -> int:
    """Rendered lines of a markdown cell: each paragraph takes ceil(characters / PROSE_WIDTH)."""
    lines = 0
    for block in re.split(r"\n\s*\n", src):
        kept = [line.strip() for line in block.splitlines() if line.strip()
                and not line.startswith(("```", ":::", "(", ":"))]
        if kept:
            lines += math.ceil(sum(len(line) + 1 for line in kept) / PROSE_WIDTH)
    return lines


def stats(md: Path) -> dict:
    """Wide lines and line counts of one chapter (needs its executed ``.ipynb``)."""
    nb = nbformat.read(md.with_suffix(".ipynb"), as_version=4)
    wide: list[str] = []
    code = text = 0
    in_solution = False
    for k, cell in enumerate(nb.cells):
        src = cell.source
        if cell.cell_type == "markdown":
            start, end = src.rfind("solution-start"), src.rfind("solution-end")
            was_in = in_solution
            if start != end:  # the later marker of the cell decides
                in_solution = start > end
            if not (was_in and in_solution):  # a solution's text is folded too
                text += _prose_lines(src)
            continue
        tags = set(cell.metadata.get("tags", []))
        lines = src.splitlines()
        visible = not (tags & FOLDED) and not in_solution
        if visible:
            code += len(lines)
        # A folded cell or a solution is read once unfolded: its lines must fit the column too.
        if not tags & {"remove-input", "remove-cell"}:
            kind = "code" if visible else "folded code"
            wide += [f"cell {k} {kind}: {line}" for line in lines if len(line) > WIDTH]
        if not tags & {"remove-output", "remove-cell"}:
            out = _output_text(cell)
            if not (tags & NO_OUTPUT) and not in_solution:
                text += len(out)
            wide += [f"cell {k} output: {line}" for line in out if len(line) > WIDTH]
    return {"wide": wide, "code": code, "text": text,
            "share": code / (code + text) if code + text else 0.0}


def main(argv=None) -> int:
    paths = [Path(p).resolve() for p in (argv if argv is not None else sys.argv[1:])]
    for md in paths or notebook_chapters(ROOT):
        s = stats(md)
        print(f"{md.name}: visible code {s['code']} lines, prose and output {s['text']} lines, "
              f"code share about {s['share']:.0%}; {len(s['wide'])} lines over {WIDTH} characters")
        for line in s["wide"]:
            print(f"    {line[:120]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
