"""Glued numbers are printed or asserted in their cell.

nbval compares a glued value's stored text (contrary to an earlier note in shared/TOOLCHAIN.md; a
last-bit difference in a glued float failed it, hence the 6 significant digits of
``dlcode.book.glue``), but that comparison is invisible to the reader. So every name the glued
expression reads must also appear in a ``print(...)`` or an ``assert`` of the same cell (or of the
cell just before it), where the reader sees the number and nbval checks it as text.
"""

import ast
import sys
from pathlib import Path

import jupytext
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))

from export import notebook_chapters  # noqa: E402


def _checked_names(tree) -> set[str]:
    """Names read by the print() calls and asserts of a cell."""
    checked: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Assert) or (
            isinstance(node, ast.Call) and getattr(node.func, "id", None) == "print"
        ):
            checked |= {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}
    return checked


def unchecked_glues(source: str, previous: str = "") -> list[str]:
    """Glue calls of a cell whose value is neither printed nor asserted there (or in the cell
    just before it, for a cell that only glues what the previous one printed)."""
    tree = ast.parse(source)
    checked = _checked_names(tree) | _checked_names(ast.parse(previous))
    loops = {}  # loop variable -> the names its iterable reads (for name, value in [...]: glue)
    for node in ast.walk(tree):
        if isinstance(node, ast.For):
            reads = {n.id for n in ast.walk(node.iter) if isinstance(n, ast.Name)}
            for target in ast.walk(node.target):
                if isinstance(target, ast.Name):
                    loops[target.id] = reads
    bad = []
    for call in ast.walk(tree):
        if not (isinstance(call, ast.Call) and getattr(call.func, "id", None) == "glue"):
            continue
        if len(call.args) < 2:
            bad.append(ast.unparse(call))
            continue
        called = {id(c.func) for c in ast.walk(call.args[1]) if isinstance(c, ast.Call)}
        names = set()
        for n in ast.walk(call.args[1]):
            if isinstance(n, ast.Name) and id(n) not in called:  # float(x) reads x, not float
                names |= loops.get(n.id, {n.id})
        if not names or not names <= checked:
            bad.append(ast.unparse(call))
    return bad


@pytest.mark.parametrize("md", notebook_chapters(ROOT), ids=lambda p: p.stem)
def test_every_glued_value_is_printed_or_asserted(md):
    code = [c.source for c in jupytext.read(md).cells if c.cell_type == "code"]
    bad = [g for k, src in enumerate(code) if "glue(" in src
           for g in unchecked_glues(src, code[k - 1] if k else "")]
    assert not bad, f"{md.name}: glued but neither printed nor asserted: {bad}"


def test_the_glue_check_can_fail():
    assert unchecked_glues("glue('a', acc, display=False)\nprint(f'{acc:.3f}')") == []
    assert unchecked_glues("glue('a', acc / n, display=False)\nassert acc > 0") == [
        "glue('a', acc / n, display=False)"]
    assert unchecked_glues("glue('a', 0.5, display=False)") == ["glue('a', 0.5, display=False)"]
    assert unchecked_glues("glue('a', float(acc))\nprint(acc)") == []
    loop = "for k, v in [('a', acc), ('b', err)]:\n    glue(k, v, display=False)"
    assert unchecked_glues(loop, previous="print(acc, err)") == []
    assert unchecked_glues(loop, previous="print(acc)") == ["glue(k, v, display=False)"]
