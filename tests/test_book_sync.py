"""Consistency of the repository: dlcode and the paired notebooks are what the chapters generate."""

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))

import export  # noqa: E402
import pair  # noqa: E402

CHAPTERS = export.notebook_chapters(ROOT)


def test_the_book_has_chapters():
    assert CHAPTERS, "no notebook chapters found through _toc.yml"


def test_dlcode_is_what_the_book_generates():
    stale = export.stale_files(ROOT)
    assert not stale, (
        "dlcode/ differs from what the chapters generate; run `make sync`. Stale: "
        + ", ".join(stale)
    )


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.name)
def test_notebook_is_in_sync_and_executed(chapter):
    problems = pair.check(chapter)
    assert not problems, "\n".join(problems)


def test_no_orphan_notebooks():
    paired = {c.with_suffix(".ipynb") for c in CHAPTERS}
    orphans = [p.name for p in (ROOT / "book").glob("*.ipynb") if p not in paired]
    assert not orphans, f"notebooks without a chapter in _toc.yml: {orphans}"


def test_every_chapter_file_is_in_the_toc():
    listed = set(export.toc_files(ROOT))
    missing = [p.name for p in (ROOT / "book").glob("*.md") if p not in listed]
    assert not missing, f"pages not in _toc.yml: {missing}"


def test_every_exported_function_points_back_to_its_chapter():
    import importlib
    import inspect

    modules = export.collect(ROOT)
    for name, module in modules.items():
        mod = importlib.import_module(f"dlcode.{name}")
        chapters = {c.chapter.rsplit(".", 1)[0] for c in module.cells}
        for public in mod.__all__:
            obj = getattr(mod, public)
            if inspect.isfunction(obj) or inspect.isclass(obj):
                doc = inspect.getdoc(obj) or ""
                assert any(f":doc:`/{c}`" in doc for c in chapters), f"dlcode.{name}.{public}"


def test_api_reference_lists_every_module():
    api = (ROOT / "book" / "api.md").read_text(encoding="utf-8")
    modules = sorted(export.collect(ROOT))
    missing = [m for m in modules if f".. automodule:: dlcode.{m}\n" not in api]
    assert not missing, f"book/api.md does not document: {missing}"


def _errata_sections():
    """The errata page's intro and its ``## Chapter N`` sections, as {N: [errata labels]}."""
    import re

    text = (ROOT / "book" / "errata.md").read_text(encoding="utf-8")
    parts = re.split(r"^## Chapter (\d+):.*$", text, flags=re.M)
    sections = {
        int(num): re.findall(r"^\((errata-[\w-]+)\)=$", body, flags=re.M)
        for num, body in zip(parts[1::2], parts[2::2], strict=True)
    }
    return parts[0], sections


def test_errata_summary_table_counts_the_entries():
    import re

    intro, sections = _errata_sections()
    rows = re.findall(r"^\| (\d+)\. [^|]+\| (\d+) \|$", intro, flags=re.M)
    table = {int(chapter): int(count) for chapter, count in rows}
    counts = {chapter: len(labels) for chapter, labels in sections.items()}
    assert table == counts, f"errata table {table} != entries per section {counts}"
    total = re.search(r"^\| \*\*Total\*\* \| \*\*(\d+)\*\* \|$", intro, flags=re.M)
    assert total and int(total.group(1)) == sum(counts.values())


def test_every_errata_entry_is_referenced_from_a_chapter_admonition():
    import re

    _, sections = _errata_sections()
    labels = [label for section in sections.values() for label in section]
    assert len(labels) == len(set(labels)), "duplicate errata labels"
    referenced = set()
    for chapter in (ROOT / "book").glob("[0-9][0-9]-*.md"):
        text = chapter.read_text(encoding="utf-8")
        for block in re.findall(r"^:::\{admonition\} Where the notes go wrong\n(.*?)^:::$", text,
                                flags=re.M | re.S):
            referenced.update(re.findall(r"\{ref\}`(errata-[\w-]+)`", block))
    missing = [label for label in labels if label not in referenced]
    assert not missing, f"errata entries not linked from any 'Where the notes go wrong': {missing}"
