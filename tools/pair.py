"""Write each chapter's paired, executed notebook ``book/NN-slug.ipynb`` from ``book/NN-slug.md``.

The ``.md`` (Jupytext MyST) is the only source. This tool reads it, gives the cells fixed ids,
executes it top to bottom in a fresh kernel with ``book/`` as the working directory, drops the
volatile metadata (timings, versions) and writes the ``.ipynb``. Re-running it on an unchanged
chapter rewrites identical bytes, so ``git diff`` stays empty; nbval then compares those stored
outputs strictly.

Usage::

    python tools/pair.py                 # every chapter in the table of contents
    python tools/pair.py book/01-*.md    # some chapters
    python tools/pair.py --check         # report notebooks out of sync with their .md
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import jupytext
import nbformat
from nbclient import NotebookClient

sys.path.insert(0, str(Path(__file__).resolve().parent))
from export import ROOT, notebook_chapters  # noqa: E402

KERNELSPEC = {"display_name": "Python 3", "language": "python", "name": "python3"}
TIMEOUT = 300


def read_source(md: Path):
    """The chapter as a notebook with fixed cell ids and no outputs."""
    nb = jupytext.read(md)
    nb.metadata = {"kernelspec": dict(KERNELSPEC), "language_info": {"name": "python"}}
    for i, cell in enumerate(nb.cells):
        cell.id = f"cell-{i:03d}"
    return nb


def _coalesce_streams(outputs):
    """Merge consecutive stream outputs of the same stream.

    How a kernel chunks printed text into messages depends on timing; merging makes the stored
    notebook independent of it (nbval merges them the same way before comparing).
    """
    merged = []
    for out in outputs:
        last = merged[-1] if merged else None
        if (out.output_type == "stream" and last is not None
                and last.output_type == "stream" and last.name == out.name):
            last.text += out.text
        else:
            merged.append(out)
    return merged


def _clean(nb):
    nb.metadata = {"kernelspec": dict(KERNELSPEC), "language_info": {"name": "python"}}
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
        if cell.cell_type == "code":
            cell.outputs = _coalesce_streams(cell.outputs)
            for out in cell.outputs:
                out.get("metadata", {}).pop("execution", None)
    return nb


def execute(md: Path):
    """Execute the chapter in a fresh kernel (cwd = its folder) and return the notebook."""
    os.environ.pop("MPLBACKEND", None)  # the kernel must use the inline backend to store figures
    os.environ["PYTHONHASHSEED"] = "0"
    nb = read_source(md)
    client = NotebookClient(
        nb,
        timeout=TIMEOUT,
        kernel_name="python3",
        resources={"metadata": {"path": str(md.parent)}},
        record_timing=False,
    )
    client.execute()
    return _clean(nb)


def write(md: Path) -> bool:
    """Execute ``md`` and write its ``.ipynb``; return whether the file changed."""
    nb = execute(md)
    ipynb = md.with_suffix(".ipynb")
    text = nbformat.writes(nb) + "\n"
    if ipynb.exists() and ipynb.read_text(encoding="utf-8") == text:
        return False
    ipynb.write_text(text, encoding="utf-8")
    return True


def _cell_view(cell) -> dict:
    meta = {k: v for k, v in cell.metadata.items() if k != "execution"}
    return {"id": cell.get("id"), "type": cell.cell_type, "source": cell.source, "metadata": meta}


def check(md: Path) -> list[str]:
    """Problems that make ``md``'s ``.ipynb`` out of sync (empty when in sync)."""
    ipynb = md.with_suffix(".ipynb")
    name = ipynb.as_posix()
    if not ipynb.exists():
        return [f"{name}: missing (run make sync)"]
    stored = nbformat.read(ipynb, as_version=4)
    source = read_source(md)
    problems = []
    if len(stored.cells) != len(source.cells):
        problems.append(
            f"{name}: {len(stored.cells)} cells, but {md.name} has {len(source.cells)}"
        )
    for i, (a, b) in enumerate(zip(stored.cells, source.cells, strict=False)):
        va, vb = _cell_view(a), _cell_view(b)
        for key in va:
            if va[key] != vb[key]:
                problems.append(f"{name}: cell {i} {key} differs from {md.name}")
    count = 0
    for i, cell in enumerate(stored.cells):
        if cell.cell_type != "code":
            continue
        count += 1
        if cell.get("execution_count") is None:
            problems.append(f"{name}: code cell {i} was never executed")
        elif cell.execution_count != count:
            problems.append(
                f"{name}: code cell {i} has execution count {cell.execution_count}, "
                f"expected {count} (not executed top to bottom in one kernel)"
            )
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                problems.append(f"{name}: code cell {i} stored an error")
    return problems


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("chapters", nargs="*", type=Path, help="chapter .md files (default: all)")
    parser.add_argument("--check", action="store_true", help="only report out-of-sync notebooks")
    args = parser.parse_args(argv)
    chapters = [p.resolve() for p in args.chapters] or notebook_chapters(ROOT)
    if args.check:
        problems = [p for md in chapters for p in check(md)]
        print("\n".join(problems) or "all notebooks in sync")
        return 1 if problems else 0
    for md in chapters:
        changed = write(md)
        print(f"{md.relative_to(ROOT)}: {'written' if changed else 'unchanged'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
