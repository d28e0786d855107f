"""Consistency of the repository: dlcode and the paired notebooks are what the chapters generate."""

import re
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


# Item numbers of the catalog of the source notes (shared/seed/CATALOG.md, outside the repo).
CATALOG_ITEMS = (
    "1.1", "1.2", "1.3", "1.4", "1.5", "1.6",
    "2.1", "2.2", "2.3", "2.4",
    "3.1", "3.2", "3.3",
    "4.1", "4.2", "4.3", "4.4", "4.5", "4.6", "4.7", "4.8",
    "5.1", "5.2", "5.3", "5.4", "5.5",
    "6.1", "6.2", "6.3", "6.4", "6.5",
    "7.1", "7.2", "7.3", "7.4", "7.5",
    "8.1", "8.2", "8.3", "8.4",
    "9.1", "9.2", "9.3", "9.4", "9.5",
    "10.1", "10.2", "10.3", "10.4", "10.5", "10.6", "10.7",
    "11.1", "11.2", "11.3",
    "12.1", "12.2", "12.3", "12.4", "12.5", "12.6", "12.7", "12.8", "12.9",
    "13.1", "13.2",
    "14.1", "14.2", "14.3", "14.4", "14.5",
)


def coverage_rows():
    """Map each item of the coverage table in book/coverage.md to the rest of its row."""
    rows = {}
    for line in (ROOT / "book" / "coverage.md").read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("|") and len(cells) == 4 and cells[0][:1].isdigit():
            assert cells[0] not in rows, f"item {cells[0]} has two rows"
            rows[cells[0]] = cells[1:]
    return rows


def test_coverage_table_lists_every_catalog_item():
    rows = coverage_rows()
    assert sorted(rows, key=lambda s: tuple(map(int, s.split(".")))) == list(CATALOG_ITEMS)
    for item, (_statement, section, verification) in rows.items():
        assert "{doc}`" in section or "{ref}`" in section, f"item {item}: no section link"
        assert "{ref}`" in verification and "<verify-" in verification, (
            f"item {item}: no link to a verify-* label")


def test_coverage_links_point_to_existing_verify_labels():
    labels = set()
    for md in (ROOT / "book").glob("*.md"):
        labels |= set(re.findall(r"^\((verify-[\w-]+)\)=$", md.read_text(), flags=re.M))
    linked = re.findall(r"<(verify-[\w-]+)>`", (ROOT / "book" / "coverage.md").read_text())
    assert linked and set(linked) <= labels, sorted(set(linked) - labels)


def _errata_sections():
    """The errata page's intro, its ``## Chapter N`` sections of errors and its clarifications.

    Returns ``(intro, errors, clarifications)``, the last two as {N: [errata labels]}: the
    clarifications (passages that are right but easy to misread) follow the heading
    ``## Clarifications``, grouped under ``### Chapter N`` headings.
    """
    text = (ROOT / "book" / "errata.md").read_text(encoding="utf-8")
    errors_text, marker, clar_text = text.partition("\n## Clarifications\n")
    assert marker, "the errata page has no '## Clarifications' section"

    def by_chapter(body, level):
        parts = re.split(rf"^{level} Chapter (\d+):.*$", body, flags=re.M)
        return parts[0], {
            int(num): re.findall(r"^\((errata-[\w-]+)\)=$", part, flags=re.M)
            for num, part in zip(parts[1::2], parts[2::2], strict=True)
        }

    intro, errors = by_chapter(errors_text, "##")
    _, clarifications = by_chapter(clar_text, "###")
    return intro, errors, clarifications


def test_errata_summary_table_counts_the_entries():
    intro, errors, clarifications = _errata_sections()
    rows = re.findall(r"^\| (\d+)\. [^|]+\| (\d+) \| (\d+) \|$", intro, flags=re.M)
    table = {int(chapter): (int(e), int(c)) for chapter, e, c in rows}
    counts = {chapter: (len(labels), len(clarifications.get(chapter, [])))
              for chapter, labels in errors.items()}
    assert set(clarifications) <= set(errors), "clarifications of a chapter without a section"
    assert table == counts, f"errata table {table} != (errors, clarifications) per chapter {counts}"
    total = re.search(r"^\| \*\*Total\*\* \| \*\*(\d+)\*\* \| \*\*(\d+)\*\* \|$", intro,
                      flags=re.M)
    assert total, "no Total row"
    assert int(total.group(1)) == sum(e for e, _ in counts.values())
    assert int(total.group(2)) == sum(c for _, c in counts.values())


# Errata entries whose chapter admonition is being revised by the chapter's author; each must
# gain a bullet in its chapter's "Where the notes go wrong" box, and then leave this set.
PENDING_ADMONITION_LINKS: set[str] = set()


def test_every_errata_entry_is_referenced_from_a_chapter_admonition():
    import re

    _, errors, clarifications = _errata_sections()
    labels = [label for section in (*errors.values(), *clarifications.values())
              for label in section]
    assert len(labels) == len(set(labels)), "duplicate errata labels"
    referenced = set()
    for chapter in (ROOT / "book").glob("[0-9][0-9]-*.md"):
        text = chapter.read_text(encoding="utf-8")
        for block in re.findall(r"^:::\{admonition\} Where the notes go wrong\n(.*?)^:::$", text,
                                flags=re.M | re.S):
            referenced.update(re.findall(r"\{ref\}`(errata-[\w-]+)`", block))
    assert PENDING_ADMONITION_LINKS <= set(labels), "a pending label is not on the errata page"
    assert not PENDING_ADMONITION_LINKS & referenced, (
        f"now linked from their chapter, remove from PENDING_ADMONITION_LINKS: "
        f"{sorted(PENDING_ADMONITION_LINKS & referenced)}")
    missing = [label for label in labels
               if label not in referenced and label not in PENDING_ADMONITION_LINKS]
    assert not missing, f"errata entries not linked from any 'Where the notes go wrong': {missing}"


# Labels linked as verification whose cells are in chapters being revised by their authors: each
# must gain a code cell with an assertion after its label, and then leave this set.
PENDING_ASSERTING_CELLS: set[str] = set()

_LABEL_LINE = re.compile(r"^\(([\w-]+)\)=$")
# An assertion: an assert statement, an assert_* helper (assert_close, np.testing.assert_*),
# or an explicit raise of AssertionError (the negative checks of refused arguments).
_ASSERTION = re.compile(r"\bassert\b|\bassert_\w+\(|\braise AssertionError\b")


def _cells_after_labels(text):
    """{label: [sources of the code cells between the label and the next label or heading]}.

    A heading right after its label is the label's own heading, not the end of its region.
    Comments are dropped from the sources, so that an assert in a comment does not count.
    """
    cells, current, own_heading, source = {}, None, False, None
    for line in text.splitlines():
        if source is not None:  # inside a code cell
            if line.startswith("```"):
                if current:
                    cells[current].append("\n".join(source))
                source = None
            else:
                source.append(re.sub(r"(^|\s)#.*$", "", line))
        elif line.startswith("```{code-cell}"):
            source = []
        elif match := _LABEL_LINE.match(line):
            current, own_heading = match.group(1), True
            cells[current] = []
        elif line.startswith("#") and not own_heading:
            current = None
        elif line.strip():
            own_heading = own_heading and line.startswith("#")
    return cells


def _code_cells_after_labels():
    cells = {}
    for md in sorted((ROOT / "book").glob("[0-9][0-9]-*.md")):
        cells.update(_cells_after_labels(md.read_text(encoding="utf-8")))
    return cells


def _verification_links():
    """{label: where it is linked}: the verification column of the coverage table and the
    'Verified in' paragraphs of the errata page."""
    ref = r"\{ref\}`(?:[^`<]*<([\w-]+)>|([\w-]+))`"
    links = {}
    for item, (_statement, _section, verification) in coverage_rows().items():
        for a, b in re.findall(ref, verification):
            links.setdefault(a or b, f"coverage item {item}")
    errata = (ROOT / "book" / "errata.md").read_text(encoding="utf-8")
    for entry in re.split(r"^(?=\(errata-[\w-]+\)=$)", errata, flags=re.M):
        name = _LABEL_LINE.match(entry.split("\n", 1)[0])
        for paragraph in re.findall(r"^\*\*Verified in:\*\*(.*?)(?:\n\s*\n|\Z)", entry,
                                    flags=re.M | re.S):
            for a, b in re.findall(ref, paragraph):
                links.setdefault(a or b, name.group(1) if name else "errata page")
    return links


def test_every_verification_link_is_followed_by_an_asserting_cell():
    cells = _code_cells_after_labels()
    links = _verification_links()
    assert links, "no verification links found"
    missing = sorted(f"{label} (linked from {where})" for label, where in links.items()
                     if label not in cells)
    assert not missing, f"verification links to no label of a chapter: {missing}"
    bare = {label: where for label, where in links.items()
            if not any(_ASSERTION.search(source) for source in cells[label])}
    assert PENDING_ASSERTING_CELLS <= set(links), "a pending label is no longer linked"
    assert not PENDING_ASSERTING_CELLS - set(bare), (
        f"now followed by an asserting cell, remove from PENDING_ASSERTING_CELLS: "
        f"{sorted(PENDING_ASSERTING_CELLS - set(bare))}")
    failing = sorted(f"{label} (linked from {where})" for label, where in bare.items()
                     if label not in PENDING_ASSERTING_CELLS)
    assert not failing, f"linked verification with no asserting code cell after it: {failing}"


def test_the_asserting_cell_check_can_fail():
    # A negative control of the check above: a cell that only prints, an asserting cell after
    # the next heading, and an assert in a comment do not count; a label's own heading does
    # not end its region.
    text = "\n".join([
        "(only-prints)=", "Text.", "```{code-cell} ipython3", "print(1)", "```",
        "(next-section)=", "Text.", "## A new section", "```{code-cell} ipython3",
        "assert 1 + 1 == 2", "```",
        "(in-a-comment)=", "```{code-cell} ipython3", "x = 1  # assert x == 1", "```",
        "(own-heading)=", "### Its heading", "Text.", "```{code-cell} ipython3", "",
        "assert_close('x', 1.0, 1.0)", "```",
    ])
    cells = _cells_after_labels(text)
    verdict = {label: any(_ASSERTION.search(s) for s in sources)
               for label, sources in cells.items()}
    assert verdict == {"only-prints": False, "next-section": False, "in-a-comment": False,
                       "own-heading": True}
