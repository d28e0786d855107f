"""Write each chapter's paired, executed notebook ``book/NN-slug.ipynb`` from ``book/NN-slug.md``.

The ``.md`` (Jupytext MyST) is the only source. This tool reads it, gives the cells fixed ids,
executes it top to bottom in a fresh kernel with ``book/`` as the working directory, drops the
volatile metadata (timings, versions) and writes the ``.ipynb``. Re-running it on an unchanged
chapter rewrites identical bytes, so ``git diff`` stays empty; nbval then compares those stored
outputs strictly.

Usage::

    python tools/pair.py                 # every chapter in the table of contents
    python tools/pair.py --changed       # only chapters whose source or imported dlcode changed
    python tools/pair.py book/01-*.md    # some chapters
    python tools/pair.py --check         # report notebooks out of sync with their .md

``--changed`` (what ``make sync`` runs) keeps, in ``_build/pair-stamps.json``, a hash of each
chapter's source together with the ``dlcode`` modules it imports (directly or through other
modules) at the time its notebook was written, and executes only chapters whose hash differs.
A failing cell stops that chapter with an error naming the chapter and cell; the other chapters
are still executed, and the exit status is 1.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import sys
from pathlib import Path

import jupytext
import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

sys.path.insert(0, str(Path(__file__).resolve().parent))
from export import ROOT, notebook_chapters  # noqa: E402

KERNELSPEC = {"display_name": "Python 3", "language": "python", "name": "python3"}
TIMEOUT = 300
STAMPS = ROOT / "_build" / "pair-stamps.json"
DLCODE_IMPORT = re.compile(
    r"^\s*(?:from|import)\s+dlcode\.(\w+)|^\s*from\s+dlcode\s+import\s+(.+)$", re.M)


class ChapterError(RuntimeError):
    """A chapter failed to execute; the message names the chapter and the cell."""


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
    failed: list[int] = []
    client = NotebookClient(
        nb,
        timeout=TIMEOUT,
        kernel_name="python3",
        resources={"metadata": {"path": str(md.parent)}},
        record_timing=False,
        on_cell_error=lambda cell, cell_index, execute_reply: failed.append(cell_index),
    )
    try:
        client.execute()
    except CellExecutionError as exc:
        index = failed[-1] if failed else "?"
        code = sum(1 for c in nb.cells[: index + 1] if c.cell_type == "code") if failed else "?"
        raise ChapterError(f"{_name(md)}: cell {index} (code cell {code}) failed: "
                           f"{exc.ename}: {exc.evalue}") from None
    return _clean(nb)


def _name(md: Path) -> str:
    return md.relative_to(ROOT).as_posix() if md.is_relative_to(ROOT) else str(md)


def _imported_modules(text: str) -> set[str]:
    names = set()
    for module, listed in DLCODE_IMPORT.findall(text):
        if module:
            names.add(module)
        else:
            names |= {n.strip(" ()").split(" as ")[0] for n in listed.split(",") if n.strip(" ()")}
    return names


def stamp(md: Path) -> str:
    """Hash of the chapter's source and of every dlcode module it imports, transitively."""
    text = md.read_text(encoding="utf-8")
    digest = hashlib.sha256(text.encode())
    todo, seen = sorted(_imported_modules(text)), set()
    while todo:
        name = todo.pop()
        path = ROOT / "dlcode" / f"{name}.py"
        if name in seen or not path.exists():
            continue
        seen.add(name)
        module = path.read_text(encoding="utf-8")
        todo += sorted(_imported_modules(module) - seen)
    for name in sorted(seen):
        digest.update(name.encode() + (ROOT / "dlcode" / f"{name}.py").read_bytes())
    return digest.hexdigest()


def _load_stamps() -> dict:
    try:
        return json.loads(STAMPS.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _save_stamp(md: Path) -> None:
    stamps = _load_stamps()
    stamps[_name(md)] = stamp(md)
    STAMPS.parent.mkdir(parents=True, exist_ok=True)
    STAMPS.write_text(json.dumps(stamps, indent=1, sort_keys=True), encoding="utf-8")


def write(md: Path) -> bool:
    """Execute ``md`` and write its ``.ipynb``; return whether the file changed."""
    nb = execute(md)
    ipynb = md.with_suffix(".ipynb")
    text = nbformat.writes(nb) + "\n"
    changed = not (ipynb.exists() and ipynb.read_text(encoding="utf-8") == text)
    if changed:
        ipynb.write_text(text, encoding="utf-8")
    if md.is_relative_to(ROOT):
        _save_stamp(md)
    return changed


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
    parser.add_argument("--changed", action="store_true",
                        help="execute only chapters whose source or imported dlcode changed")
    args = parser.parse_args(argv)
    chapters = [p.resolve() for p in args.chapters] or notebook_chapters(ROOT)
    known = set(notebook_chapters(ROOT))
    for md in chapters:
        if md not in known:
            print(f"pair: {md} is not a chapter of this book (a .md notebook listed in _toc.yml "
                  f"under {ROOT})", file=sys.stderr)
            return 2
    if args.check:
        problems = [p for md in chapters for p in check(md)]
        print("\n".join(problems) or "all notebooks in sync")
        return 1 if problems else 0
    stamps = _load_stamps() if args.changed else {}
    status = 0
    for md in chapters:
        fresh = stamps.get(_name(md)) == stamp(md) and md.with_suffix(".ipynb").exists()
        if args.changed and fresh:
            print(f"{_name(md)}: up to date (source and imported dlcode unchanged)")
            continue
        try:
            changed = write(md)
        except ChapterError as exc:
            print(f"pair error: {exc}", file=sys.stderr)
            status = 1
            continue
        print(f"{_name(md)}: {'written' if changed else 'unchanged'}")
    return status


if __name__ == "__main__":
    sys.exit(main())
