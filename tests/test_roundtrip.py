"""Chapters are in Jupytext's canonical form: opening one in JupyterLab and saving it unchanged
rewrites nothing (the pinned Jupytext reads and writes every chapter byte for byte)."""

import sys
from pathlib import Path

import jupytext
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))

from export import notebook_chapters  # noqa: E402


@pytest.mark.parametrize("md", notebook_chapters(ROOT), ids=lambda p: p.stem)
def test_reading_and_writing_a_chapter_is_byte_identical(md):
    text = md.read_text(encoding="utf-8")
    assert jupytext.writes(jupytext.read(md), fmt="md:myst") == text, (
        f"{md.name} is not in Jupytext's canonical form: rewrite it with "
        "jupytext.writes(jupytext.read(path), fmt='md:myst')")


def test_the_check_sees_a_non_canonical_file():
    text = (ROOT / "book" / "01-matrix-calculus.md").read_text(encoding="utf-8")
    altered = text.replace("['export:plotting', hide-cell]", "[export:plotting, hide-cell]", 1)
    assert altered != text  # the unquoted tag list is what the chapters had before
    assert jupytext.writes(jupytext.reads(altered, fmt="md:myst"), fmt="md:myst") != altered
