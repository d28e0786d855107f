"""Revised chapters fit the reading column: no code or output line over 88 characters, whether
visible at once or after unfolding a cell or a solution.

The browser check measures the rendered page; this static check (tools/page_stats.py) catches a
wide line without a build. Chapters pending revision are skipped, as in the browser check.
"""

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))

import browser_check  # noqa: E402
import page_stats  # noqa: E402
from export import notebook_chapters  # noqa: E402

REVISED = [md for md in notebook_chapters(ROOT)
           if f"book/{md.stem}.html" not in browser_check.PENDING_REVISION]


@pytest.mark.parametrize("md", REVISED, ids=lambda p: p.stem)
def test_visible_code_and_outputs_fit_the_column(md):
    wide = page_stats.stats(md)["wide"]
    assert not wide, f"{md.name}: lines over {page_stats.WIDTH} characters:\n" + "\n".join(wide)


def test_the_static_check_sees_wide_code_and_skips_folded_cells(tmp_path):
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("Prose."),
                nbformat.v4.new_code_cell("x = 1  # " + "w" * 90),
                nbformat.v4.new_code_cell("y = 2  # " + "w" * 90,
                                          metadata={"tags": ["hide-input"]})]
    nbformat.write(nb, tmp_path / "ch.ipynb")
    s = page_stats.stats(tmp_path / "ch.md")
    assert len(s["wide"]) == 2 and s["wide"][0].startswith("cell 1 code")
    assert s["wide"][1].startswith("cell 2 folded code")
    assert s["code"] == 1 and s["text"] == 1


def test_solutions_are_folded_even_when_one_cell_ends_one_and_starts_the_next(tmp_path):
    import nbformat

    new = nbformat.v4
    nb = new.new_notebook()
    nb.cells = [new.new_markdown_cell("```{solution-start} ex-a\n```"),
                new.new_code_cell("a = 1"),
                new.new_markdown_cell("```{solution-end}\n```\n\nNext exercise.\n\n"
                                      "```{solution-start} ex-b\n```"),
                new.new_code_cell("b = 2"),
                new.new_markdown_cell("```{solution-end}\n```"),
                new.new_code_cell("c = 3")]
    nbformat.write(nb, tmp_path / "ch.ipynb")
    assert page_stats.stats(tmp_path / "ch.md")["code"] == 1  # only c = 3 is visible
