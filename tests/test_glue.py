"""Glued numbers are covered by nbval: each glued value is also printed or asserted in its cell.

nbval does not compare MyST-NB glue outputs (shared/TOOLCHAIN.md), so a glued number that is neither
printed nor asserted could change without any test failing. This static check requires that every
name the glued expression reads also appears in a ``print(...)`` or an ``assert`` of the same cell.
"""

import ast
import sys
from pathlib import Path

import jupytext
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))

from export import notebook_chapters  # noqa: E402


def unchecked_glues(source: str) -> list[str]:
    """Glue calls of one cell whose value is neither printed nor asserted in that cell."""
    tree = ast.parse(source)
    checked: set[str] = set()
    glues = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Assert) or (
            isinstance(node, ast.Call) and getattr(node.func, "id", None) == "print"
        ):
            checked |= {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "glue":
            glues.append(node)
    bad = []
    for call in glues:
        if len(call.args) < 2:
            bad.append(ast.unparse(call))
            continue
        names = {n.id for n in ast.walk(call.args[1]) if isinstance(n, ast.Name)}
        if not names or not names <= checked:
            bad.append(ast.unparse(call))
    return bad


@pytest.mark.parametrize("md", notebook_chapters(ROOT), ids=lambda p: p.stem)
def test_every_glued_value_is_printed_or_asserted(md):
    nb = jupytext.read(md)
    bad = [g for cell in nb.cells if cell.cell_type == "code" and "glue(" in cell.source
           for g in unchecked_glues(cell.source)]
    assert not bad, f"{md.name}: glued but neither printed nor asserted: {bad}"


def test_the_glue_check_can_fail():
    assert unchecked_glues("glue('a', acc, display=False)\nprint(f'{acc:.3f}')") == []
    assert unchecked_glues("glue('a', acc / n, display=False)\nassert acc > 0") == [
        "glue('a', acc / n, display=False)"]
    assert unchecked_glues("glue('a', 0.5, display=False)") == ["glue('a', 0.5, display=False)"]
