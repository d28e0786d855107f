"""Generate the ``dlcode`` package from the book's exported cells.

A code cell whose tags include ``export:<module>`` belongs to ``dlcode/<module>.py``. Modules are
assembled in table-of-contents order (``_toc.yml``), cell by cell. Each generated module gets

* a header saying it is generated and from which chapters,
* the cells' imports hoisted to the top (deduplicated),
* ``__all__`` listing the public functions and classes,
* a back-reference to the defining chapter inserted into every public docstring,
* methods merged into their class: a chapter may grow a class cell by cell, defining a method in a
  later cell as a top-level function decorated ``@add_to_class(ClassName)`` (``dlcode.book``);
  the exporter moves it, without the decorator, to the end of that class's body.

Usage::

    python tools/export.py           # write dlcode/
    python tools/export.py --check   # exit 1, naming each stale file, if dlcode/ is out of date
"""

from __future__ import annotations

import argparse
import ast
import importlib.util
import re
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import jupytext
import yaml

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "dlcode"
TAG = "export:"
MODULE_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")
ADD_TO_CLASS = "add_to_class"


class ExportError(ValueError):
    """A chapter's exported cells cannot be turned into a module."""


@dataclass
class Cell:
    chapter: str  # path relative to the root, e.g. "book/01-matrix-calculus.md"
    title: str
    source: str
    number: int = 0  # 1-based index among the chapter's code cells

    @property
    def where(self) -> str:
        return f"{self.chapter}, code cell {self.number}"


@dataclass
class Module:
    name: str
    cells: list[Cell] = field(default_factory=list)


def toc_files(root: Path = ROOT) -> list[Path]:
    """Chapter sources in table-of-contents order (the root page first)."""
    toc = yaml.safe_load((root / "_toc.yml").read_text(encoding="utf-8"))
    names: list[str] = []

    def walk(node):
        if isinstance(node, dict):
            for key in ("root", "file"):
                if key in node:
                    names.append(node[key])
            for key in ("parts", "chapters", "sections"):
                for child in node.get(key, []):
                    walk(child)

    walk(toc)
    paths = []
    for name in names:
        path = root / name
        candidates = [path] if path.suffix else [path.with_suffix(s) for s in (".md", ".ipynb")]
        found = [p for p in candidates if p.exists()]
        if not found:
            raise ExportError(f"_toc.yml names {name!r}, but no such file exists")
        paths.append(found[0])
    return paths


def notebook_chapters(root: Path = ROOT) -> list[Path]:
    """The chapters that are Jupytext notebooks (they have a kernelspec), in toc order."""
    return [p for p in toc_files(root) if p.suffix == ".md" and _is_notebook(p)]


def _is_notebook(path: Path) -> bool:
    head = path.read_text(encoding="utf-8")[:2000]
    return head.startswith("---") and "kernelspec:" in head.split("\n---", 1)[0]


def _title(nb, chapter: str) -> str:
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    raise ExportError(f"{chapter}: no '# Title' heading")


# Cell tags the book uses besides export tags (MyST-NB, nbval, the theme). Any other tag is an
# error: a misspelled export tag would otherwise silently drop a module.
KNOWN_TAGS = {
    "hide-input", "hide-output", "hide-cell", "remove-input", "remove-output", "remove-cell",
    "raises-exception", "skip-execution", "scroll-output", "scroll-input", "full-width", "margin",
    "nbval-ignore-output", "nbval-skip", "nbval-raises-exception", "remove-stdout",
    "remove-stderr", "output_scroll",
}


def _read(path: Path, chapter: str):
    try:
        return jupytext.read(path)
    except Exception as exc:  # a YAML or nbformat error in the cell options, say
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            tags = re.match(r"\s*:?tags:\s*\[(.*)\]", line)
            if tags and re.search(r"\w:\s", tags.group(1)):
                raise ExportError(f"{chapter}, line {number}: tags must be a list of strings "
                                  f"(write export:<module> without a space): {line.strip()}"
                                  ) from exc
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ExportError(f"{chapter}: cannot be read as a notebook: {first}") from exc


def _export_tags(cell, chapter: str, number: int) -> list[str]:
    """Module names of a code cell's export tags; an error for any unknown or malformed tag."""
    tags = cell.metadata.get("tags", [])
    where = f"{chapter}, code cell {number}"
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise ExportError(f"{where}: tags must be a list of strings, got {tags!r} "
                          "(write export:<module> without a space)")
    names = []
    for tag in tags:
        if tag.startswith(TAG):
            name = tag[len(TAG):]
            if not MODULE_NAME.match(name) or name == "__init__":
                raise ExportError(f"{where}: bad export tag {tag!r}")
            names.append(name)
        elif tag not in KNOWN_TAGS:
            raise ExportError(f"{where}: unknown tag {tag!r} (export tags are export:<module>; "
                              f"other tags: {', '.join(sorted(KNOWN_TAGS))})")
    return names


def collect(root: Path = ROOT) -> dict[str, Module]:
    """Exported cells grouped by target module, in toc order."""
    modules: dict[str, Module] = {}
    for path in notebook_chapters(root):
        chapter = path.relative_to(root).as_posix()
        nb = _read(path, chapter)
        title = _title(nb, chapter)
        number = 0
        for cell in nb.cells:
            if cell.cell_type != "code":
                continue
            number += 1
            for name in _export_tags(cell, chapter, number):
                modules.setdefault(name, Module(name)).cells.append(
                    Cell(chapter, title, cell.source, number)
                )
    return modules


def _split_imports(cell: Cell) -> tuple[list[str], list[str], str | None, str]:
    """Return (future imports, imports, leading docstring, body) of a cell's source."""
    try:
        tree = ast.parse(cell.source)
    except SyntaxError as exc:
        raise ExportError(f"{cell.where}: exported cell does not parse: {exc}") from exc
    lines = cell.source.splitlines()
    drop: set[int] = set()
    future, imports = [], []
    docstring = None
    for i, node in enumerate(tree.body):
        if isinstance(node, ast.Import | ast.ImportFrom):
            text = "\n".join(lines[node.lineno - 1 : node.end_lineno])
            if [a.name for a in node.names] == [ADD_TO_CLASS]:  # the decorator is merged away
                drop.update(range(node.lineno - 1, node.end_lineno))
                continue
            is_future = isinstance(node, ast.ImportFrom) and node.module == "__future__"
            (future if is_future else imports).append(text)
            drop.update(range(node.lineno - 1, node.end_lineno))
        elif i == 0 and isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            if isinstance(node.value.value, str):
                docstring = node.value.value
                drop.update(range(node.lineno - 1, node.end_lineno))
    body = "\n".join(line for k, line in enumerate(lines) if k not in drop).strip("\n")
    return future, imports, docstring, _add_backrefs(body, cell)


def _add_backrefs(body: str, cell: Cell) -> str:
    """Insert 'Defined in <chapter>' after the summary line of each public docstring."""
    tree = ast.parse(body)
    lines = body.splitlines()
    doc = cell.chapter.rsplit(".", 1)[0]
    note = f"Defined in :doc:`/{doc}` ({cell.title})."
    inserts: list[tuple[int, list[str]]] = []
    for node in tree.body:
        if not isinstance(node, ast.FunctionDef | ast.ClassDef) or node.name.startswith("_"):
            continue
        if _added_to(node) is not None:  # a method: documented by its class
            continue
        first = node.body[0]
        if not (
            isinstance(first, ast.Expr)
            and isinstance(first.value, ast.Constant)
            and isinstance(first.value.value, str)
        ):
            raise ExportError(f"{cell.where}: public {node.name!r} has no docstring")
        start, end = first.lineno - 1, first.end_lineno - 1
        if start == end:
            raise ExportError(
                f"{cell.where}: {node.name!r} needs a multi-line NumPy-style docstring")
        indent = re.match(r"\s*", lines[end]).group(0)
        blank = next((k for k in range(start + 1, end) if not lines[k].strip()), None)
        at = blank if blank is not None else end
        inserts.append((at, ["", f"{indent}{note}"] if blank is not None else [f"{indent}{note}"]))
    for at, new in sorted(inserts, reverse=True):
        lines[at:at] = new
    return "\n".join(lines)


def _public_names(body: str) -> list[str]:
    names = []
    for node in ast.parse(body).body:
        if (isinstance(node, ast.FunctionDef | ast.ClassDef) and not node.name.startswith("_")
                and _added_to(node) is None):
            names.append(node.name)
    return names


def _added_to(node) -> ast.Call | None:
    """The ``@add_to_class(Name)`` decorator of a top-level function, if it has one."""
    if not isinstance(node, ast.FunctionDef):
        return None
    for deco in node.decorator_list:
        if isinstance(deco, ast.Call) and getattr(deco.func, "id", None) == ADD_TO_CLASS:
            return deco
    return None


def _merge_methods(text: str, module: str) -> str:
    """Move each ``@add_to_class(C)`` function, undecorated and indented, to the end of class C."""
    tree = ast.parse(text)
    lines = text.split("\n")
    classes = {n.name: n for n in tree.body if isinstance(n, ast.ClassDef)}
    methods: dict[str, list[str]] = {}
    remove: set[int] = set()
    for node in tree.body:
        deco = _added_to(node)
        if deco is None:
            continue
        if len(deco.args) != 1 or not isinstance(deco.args[0], ast.Name) or deco.keywords:
            raise ExportError(f"dlcode.{module}: {node.name}: write @{ADD_TO_CLASS}(ClassName)")
        cls = classes.get(deco.args[0].id)
        if cls is None or cls.lineno > node.lineno:
            raise ExportError(f"dlcode.{module}: {node.name} is added to {deco.args[0].id}, "
                              "which is not a class defined above it in the module")
        start = min(d.lineno for d in node.decorator_list) - 1
        skip = set(range(deco.lineno - 1, deco.end_lineno))
        body = [lines[k] for k in range(start, node.end_lineno) if k not in skip]
        methods.setdefault(cls.name, []).append(
            "\n".join("    " + line if line.strip() else "" for line in body))
        remove.update(range(start, node.end_lineno))
    if not methods:
        return text
    ends = {classes[name].end_lineno - 1: name for name in methods}
    out: list[str] = []
    for k, line in enumerate(lines):
        if k in remove:
            continue
        out.append(line)
        for method in methods.get(ends.get(k), []):
            out += ["", method]
    return "\n".join(out)


def _merge_from_imports(imports: list[str]) -> list[str]:
    """One ``from X import a, b`` per module X: the cells' from-imports of X, names unioned."""
    merged: dict[str, list[str]] = {}
    plain: list[str] = []
    for stmt in imports:
        node = ast.parse(stmt).body[0]
        if isinstance(node, ast.ImportFrom) and node.level == 0:
            names = merged.setdefault(node.module, [])
            for alias in node.names:
                name = alias.name + (f" as {alias.asname}" if alias.asname else "")
                if name not in names:
                    names.append(name)
        else:
            plain.append(stmt)
    for module, names in merged.items():
        line = f"from {module} import {', '.join(sorted(names, key=str.lower))}"
        if len(line) > 100:
            body = "".join(f"    {n},\n" for n in sorted(names, key=str.lower))
            line = f"from {module} import (\n{body})"
        plain.append(line)
    return plain


def _sort_imports(imports: list[str]) -> str:
    """Group imports as stdlib, third party, first party; plain imports before from-imports."""
    imports = _merge_from_imports(imports)

    def key(stmt: str):
        words = stmt.split()
        top = words[1].split(".")[0]
        group = 0 if top in sys.stdlib_module_names else 2 if top in ("", PACKAGE) else 1
        return group, words[0] == "from", words[1].lower()

    groups: dict[int, list[str]] = {}
    for stmt in sorted(imports, key=key):
        groups.setdefault(key(stmt)[0], []).append(stmt)
    return "\n\n".join("\n".join(g) for _, g in sorted(groups.items()))


def _check_bindings(cell: Cell, module: str, defined: dict[str, Cell]) -> None:
    """A function or class of the module may be defined once and never rebound by assignment."""
    for node in ast.parse(cell.source).body:
        if isinstance(node, ast.FunctionDef | ast.ClassDef) and _added_to(node) is None:
            if node.name in defined:
                raise ExportError(f"{cell.where}: dlcode.{module}.{node.name} is already defined "
                                  f"in {defined[node.name].where}")
            defined[node.name] = cell
        elif isinstance(node, ast.Assign | ast.AnnAssign | ast.AugAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                for name in (n.id for n in ast.walk(target) if isinstance(n, ast.Name)):
                    if name in defined:
                        raise ExportError(f"{cell.where}: assignment rebinds dlcode.{module}."
                                          f"{name}, defined in {defined[name].where}")


def _check_imports(modules: dict[str, Module]) -> None:
    """Every import of an exported cell names a generated dlcode module or an installed package."""
    for module in modules.values():
        for cell in module.cells:
            for node in ast.walk(ast.parse(cell.source)):
                if isinstance(node, ast.Import):
                    targets = [a.name for a in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    if [a.name for a in node.names] == [ADD_TO_CLASS]:
                        continue  # merged away (see _merge_methods)
                    targets = [node.module]
                else:
                    continue
                for target in targets:
                    parts = target.split(".")
                    if parts[0] == PACKAGE:
                        if len(parts) > 1 and parts[1] not in modules:
                            raise ExportError(f"{cell.where}: imports {target}, but no chapter "
                                              f"exports a module {parts[1]!r}")
                    elif importlib.util.find_spec(parts[0]) is None:
                        raise ExportError(f"{cell.where}: imports {target}, which is not installed")


def render_module(module: Module) -> str:
    """The text of ``dlcode/<module>.py``."""
    future: list[str] = []
    imports: list[str] = []
    docs: list[str] = []
    bodies: list[str] = []
    defined: dict[str, Cell] = {}
    for cell in module.cells:
        _check_bindings(cell, module.name, defined)
        fut, imp, docstring, body = _split_imports(cell)
        future += [f for f in fut if f not in future]
        imports += [i for i in imp if i not in imports]
        if docstring:
            docs.append(docstring.strip())
        bodies.append(f"# --- from {cell.chapter}: {cell.title} ---\n\n{body}")
    chapters = list(dict.fromkeys(c.chapter for c in module.cells))
    names = [n for b in bodies for n in _public_names(b)]
    duplicated = {n for n in names if names.count(n) > 1}
    if duplicated:
        raise ExportError(f"dlcode.{module.name} defines {sorted(duplicated)} more than once")
    summary = "\n\n".join(docs) if docs else f"The ``{module.name}`` part of dlcode."
    sources = (f" {chapters[0]}." if len(chapters) == 1
               else ":" + "".join(f"\n    {c}" for c in chapters) + "\n")
    header = (
        f'"""{summary}\n\n'
        f"Generated by tools/export.py from{sources}\n"
        'Do not edit: change the chapter and run ``make sync``.\n"""'
    )
    all_list = "__all__ = [\n" + "".join(f'    "{n}",\n' for n in names) + "]"
    parts = [header, *(["\n".join(future)] if future else [])]
    if imports:
        parts.append(_sort_imports(imports))
    parts.append(all_list)
    text = "\n\n".join(parts) + "\n\n\n" + "\n\n\n".join(bodies) + "\n"
    text = _merge_methods(text, module.name)
    text = re.sub(r"# --- from [^\n]* ---\n\s*(?=# --- from |\Z)", "", text)  # emptied cells
    return re.sub(r"\n{4,}", "\n\n\n", text).rstrip("\n") + "\n"


def render_init(summaries: dict[str, str], version: str | None = None) -> str:
    """Text of dlcode/__init__.py; ``summaries`` maps each module to its one-line summary.

    ``version`` (pyproject.toml's, when the book has one) becomes ``dlcode.__version__``.
    """
    names = sorted(summaries)
    listing = "".join(f"    {n}: {summaries[n]}\n" for n in names)
    versioned = version is not None
    return (
        '"""dlcode: the NumPy code of the book, one module per topic.\n\n'
        f"Modules:\n\n{listing}\n"
        "Generated by tools/export.py. Do not edit: change the chapters and run ``make sync``.\n"
        '"""\n\n'
        + "".join(f"from . import {n}\n" for n in names)
        + (f'\n__version__ = "{version}"  # pyproject.toml\'s version\n' if versioned else "")
        + "\n__all__ = [\n" + "".join(f'    "{n}",\n' for n in names) + "]\n"
    )


def project_version(root: Path = ROOT) -> str | None:
    """The version in ``root/pyproject.toml`` (the book's one version number), if there is one."""
    path = root / "pyproject.toml"
    if not path.exists():
        return None
    version = tomllib.loads(path.read_text(encoding="utf-8")).get("project", {}).get("version")
    if version is not None and not re.fullmatch(r"\d+(\.\d+)*([a-z]+\d+)?", str(version)):
        raise ExportError(f"pyproject.toml: version {version!r} is not of the form 1.2.3")
    return version


def generate(root: Path = ROOT) -> dict[str, str]:
    """Map of file name (relative to dlcode/) to generated text."""
    modules = collect(root)
    _check_imports(modules)
    files = {f"{name}.py": render_module(mod) for name, mod in modules.items()}
    owner: dict[str, str] = {}
    for name in modules:
        for public in ast.literal_eval(
                re.search(r"__all__ = (\[.*?\])", files[f"{name}.py"], re.S).group(1)):
            if public in owner:
                raise ExportError(f"{public!r} is public in both dlcode.{owner[public]} and "
                                  f"dlcode.{name}: give one of them another name")
            owner[public] = name
    summaries = {name: ast.get_docstring(ast.parse(files[f"{name}.py"])).splitlines()[0]
                 for name in modules}
    files["__init__.py"] = render_init(summaries, project_version(root))
    return files


def stale_files(root: Path = ROOT) -> list[str]:
    """Files of dlcode/ that differ from what the book generates (missing or extra included)."""
    wanted = generate(root)
    pkg = root / PACKAGE
    have = {p.name for p in pkg.glob("*.py")} if pkg.exists() else set()
    stale = []
    for name in sorted(set(wanted) | have):
        path = pkg / name
        if name not in wanted:
            stale.append(f"{PACKAGE}/{name} (not generated by any chapter)")
        elif not path.exists() or path.read_text(encoding="utf-8") != wanted[name]:
            stale.append(f"{PACKAGE}/{name}")
    return stale


def write(root: Path = ROOT) -> list[str]:
    """Regenerate dlcode/; return the names of the files that changed."""
    wanted = generate(root)
    pkg = root / PACKAGE
    pkg.mkdir(exist_ok=True)
    changed = []
    for path in pkg.glob("*.py"):
        if path.name not in wanted:
            path.unlink()
            changed.append(path.name)
    for name, text in wanted.items():
        path = pkg / name
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
            changed.append(name)
    return changed


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report stale files")
    parser.add_argument("--root", type=Path, default=ROOT, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    try:
        return _run(args)
    except ExportError as exc:  # one line naming the chapter and cell; dlcode/ is left untouched
        print(f"export error: {exc}", file=sys.stderr)
        return 1


def _run(args) -> int:
    if args.check:
        stale = stale_files(args.root)
        for name in stale:
            print(f"stale: {name}")
        return 1 if stale else 0
    changed = write(args.root)
    print("dlcode: " + (", ".join(sorted(changed)) + " updated" if changed else "up to date"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
