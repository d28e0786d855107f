"""The versioned offline release of the book, and the book's one version number.

The version is ``pyproject.toml``'s ``[project] version`` and nothing else types it (CITATION.cff
and CHANGELOG.md repeat it; ``tests/test_release.py`` fails when they differ):

* ``tools/export.py`` writes it into ``dlcode/__init__.py`` as ``dlcode.__version__``;
* this module is also a Sphinx extension (``_config.yml``, ``sphinx.local_extensions``): at build
  time it sets Sphinx's ``version`` and ``release`` from ``pyproject.toml`` (the PDF's title page
  prints "Release <version>"), replaces ``@VERSION@`` in the HTML footer (``html.extra_footer``)
  and defines the MyST substitution ``{{ version }}`` used by the introduction.

``make release`` (``python tools/release.py``) refuses to run on a tree with uncommitted changes
(``git status --porcelain`` not empty; ``--allow-dirty`` or ``make release ALLOW_DIRTY=1``
overrides it, for tests), builds the HTML (``make book``) and the PDF (``make pdf``) unless the
ones in ``_build`` are newer than every tracked file they are built from and show this
version, and writes ``dist/<version>/``:

* ``<name>-<version>-html.zip``: the HTML site, which works opened from disk (relative links,
  vendored MathJax): the unzipped copy is checked by ``tools/check_html.py`` and pages of it are
  loaded from ``file://`` in headless Chromium with the network blocked;
* ``<name>-<version>.pdf``: the PDF edition;
* ``<name>-<version>-notebooks.zip``: the executed notebooks, the ``dlcode`` wheel, the pinned
  requirements and a two-line ``HOW-TO-RUN.txt``;
* ``dlcode-<version>-py3-none-any.whl`` and ``dlcode-<version>.tar.gz``, built offline
  (``pip wheel --no-build-isolation``, setuptools' ``build_sdist``) from a copy of the tracked
  files;
* ``SHA256SUMS`` in ``sha256sum`` format (``sha256sum -c SHA256SUMS`` checks it; so does
  ``python tools/release.py --check dist/<version>``).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NAME = "deep-learning-derived-and-verified"
PLACEHOLDER = "@VERSION@"
HOW_TO_RUN = (
    "python3 -m venv .venv && .venv/bin/pip install -r requirements-lab.txt "
    "./{wheel}\n"
    ".venv/bin/jupyter lab   # then open a chapter, e.g. 01-matrix-calculus.ipynb, "
    "and choose Run > Run All Cells\n"
)
# Pages of the unzipped HTML loaded from file:// in Chromium (the rest are checked statically).
BROWSER_PAGES = ("book/intro.html", "book/01-matrix-calculus.html")


class ReleaseError(RuntimeError):
    """The release cannot be made (dirty tree, failed build, failed check)."""


def version(root: Path = ROOT) -> str:
    """The book's version: ``[project] version`` of ``root/pyproject.toml``."""
    return tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))["project"][
        "version"]


# ---- the Sphinx extension ---------------------------------------------------------------------

def _config_inited(app, config) -> None:
    ver = version(Path(app.confdir))
    config.version = config.release = ver
    options = dict(config.html_theme_options or {})
    if "extra_footer" in options:
        options["extra_footer"] = options["extra_footer"].replace(PLACEHOLDER, ver)
        config.html_theme_options = options
    config.myst_substitutions = {**(config.myst_substitutions or {}), "version": ver}


def setup(app):
    app.connect("config-inited", _config_inited)
    return {"parallel_read_safe": True, "parallel_write_safe": True}


# ---- checks -----------------------------------------------------------------------------------

def dirty_files(root: Path = ROOT) -> list[str]:
    """``git status --porcelain`` lines of ``root`` (empty when the tree is clean)."""
    out = subprocess.run(["git", "status", "--porcelain"], cwd=root, capture_output=True,
                         text=True, check=True).stdout
    return [line for line in out.splitlines() if line.strip()]


def require_clean(root: Path = ROOT, allow_dirty: bool = False) -> None:
    dirty = dirty_files(root)
    if dirty and not allow_dirty:
        shown = "\n  ".join(dirty[:10]) + ("\n  ..." if len(dirty) > 10 else "")
        raise ReleaseError("the tree has uncommitted changes (commit them, or run "
                           f"`make release ALLOW_DIRTY=1` for a test release):\n  {shown}")


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_sums(folder: Path) -> Path:
    """``folder/SHA256SUMS`` of every other file in ``folder``, in ``sha256sum`` format."""
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.name != "SHA256SUMS")
    sums = folder / "SHA256SUMS"
    sums.write_text("".join(f"{sha256(p)}  {p.name}\n" for p in files), encoding="utf-8")
    return sums


def check_sums(folder: Path) -> list[str]:
    """What ``sha256sum -c SHA256SUMS`` would report in ``folder`` (empty when all match), and
    files of the folder that the list leaves out."""
    sums = folder / "SHA256SUMS"
    if not sums.is_file():
        return [f"{sums} is missing"]
    problems, listed = [], set()
    for number, line in enumerate(sums.read_text(encoding="utf-8").splitlines(), 1):
        found = re.fullmatch(r"([0-9a-f]{64}) [ *](.+)", line)
        if not found:
            problems.append(f"SHA256SUMS line {number} is malformed: {line!r}")
            continue
        digest, name = found.groups()
        listed.add(name)
        path = folder / name
        if not path.is_file():
            problems.append(f"{name}: FAILED open or read")
        elif sha256(path) != digest:
            problems.append(f"{name}: FAILED (checksum differs)")
    for path in sorted(folder.iterdir()):
        if path.is_file() and path.name != "SHA256SUMS" and path.name not in listed:
            problems.append(f"{path.name}: not listed in SHA256SUMS")
    return problems


def tracked_files(root: Path = ROOT) -> list[str]:
    out = subprocess.run(["git", "ls-files", "-z"], cwd=root, capture_output=True,
                         check=True).stdout.decode()
    return [name for name in out.split("\0") if name and (root / name).is_file()]


# Tracked files that the HTML and the PDF are not built from (CI edits, tests, repository docs).
NOT_BUILT_FROM = (".ci/", "tests/", "benchmarks/", "README.md", "CONTRIBUTING.md",
                  "CHANGELOG.md", "CITATION.cff", "requirements-lab.txt", ".gitignore")


def _newest_source(root: Path) -> float:
    return max((root / name).stat().st_mtime for name in tracked_files(root)
               if not name.startswith(NOT_BUILT_FROM))


def is_fresh(artifact: Path, root: Path = ROOT, must_contain: str | None = None) -> bool:
    """True when ``artifact`` exists, is newer than every tracked file the build reads (all but
    ``NOT_BUILT_FROM``), and (for a text file) contains ``must_contain``."""
    if not artifact.is_file() or artifact.stat().st_mtime < _newest_source(root):
        return False
    return must_contain is None or must_contain in artifact.read_text("utf-8", errors="replace")


def offline_problems(html: Path) -> list[str]:
    """Problems of an HTML site opened from disk: tools/check_html.py's static checks, then
    ``BROWSER_PAGES`` loaded from ``file://`` in headless Chromium with the network blocked."""
    sys.path.insert(0, str(ROOT / "tools"))
    try:
        import browser_check
        import check_html
    finally:
        sys.path.pop(0)
    problems = list(check_html.problems(html))
    anchors: dict = {}
    for page in BROWSER_PAGES:
        dom, urls = browser_check.load((html / page).resolve().as_uri())
        source = (html / page).read_text(encoding="utf-8")
        problems += browser_check.dom_problems(page, source, dom, urls)
        problems += browser_check.link_problems(html, page, anchors)
        problems += browser_check.image_problems(html, page)
    return problems


# ---- building ---------------------------------------------------------------------------------

def _zip_tree(folder: Path, out: Path, top: str, extra: dict[str, Path] | None = None) -> Path:
    """Zip ``folder`` under the top-level directory ``top`` (plus ``extra``: name -> file), with
    fixed timestamps so that the same input gives the same bytes."""
    entries = [(p.relative_to(folder).as_posix(), p) for p in sorted(folder.rglob("*"))
               if p.is_file()]
    entries += sorted((extra or {}).items())
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for name, path in entries:
            info = zipfile.ZipInfo(f"{top}/{name}", date_time=(2026, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, path.read_bytes())
    return out


def build_package(out: Path, root: Path = ROOT, python: str = sys.executable) -> tuple[Path, Path]:
    """The dlcode wheel and sdist in ``out``, built offline from a copy of the tracked files."""
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "src"
        for name in tracked_files(root):
            if name.startswith(("dlcode/", "pyproject.toml", "README.md", "LICENSE")):
                (src / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(root / name, src / name)
        env = {**os.environ, "PIP_NO_INDEX": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
        for cmd in (
            [python, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
             "--no-index", "--wheel-dir", str(out), str(src)],
            [python, "-c", "import sys; from setuptools import build_meta; "
             "build_meta.build_sdist(sys.argv[1])", str(out)],
        ):
            run = subprocess.run(cmd, cwd=src, capture_output=True, text=True, env=env)
            if run.returncode != 0:
                raise ReleaseError(f"{' '.join(cmd[:4])} failed:\n{run.stdout}{run.stderr}")
    ver = version(root)
    wheel, sdist = out / f"dlcode-{ver}-py3-none-any.whl", out / f"dlcode-{ver}.tar.gz"
    for path in (wheel, sdist):
        if not path.is_file():
            raise ReleaseError(f"the build did not write {path.name} (found: "
                               f"{', '.join(p.name for p in out.iterdir())})")
    return wheel, sdist


def notebook_bundle(out: Path, wheel: Path, root: Path = ROOT) -> Path:
    """``<name>-<version>-notebooks.zip``: executed chapters, the wheel, requirements, how-to."""
    sys.path.insert(0, str(root / "tools"))
    try:
        import export
    finally:
        sys.path.pop(0)
    ver = version(root)
    notebooks = [p.with_suffix(".ipynb") for p in export.notebook_chapters(root)]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for nb in notebooks:
            shutil.copy2(nb, folder / nb.name)
        for name in ("requirements.txt", "requirements-lab.txt", "LICENSE", "CITATION.cff"):
            shutil.copy2(root / name, folder / name)
        shutil.copy2(wheel, folder / wheel.name)
        (folder / "HOW-TO-RUN.txt").write_text(HOW_TO_RUN.format(wheel=wheel.name), "utf-8")
        return _zip_tree(folder, out / f"{NAME}-{ver}-notebooks.zip", f"{NAME}-{ver}-notebooks")


def _make(target: str, root: Path) -> None:
    print(f"release: make {target}", flush=True)
    run = subprocess.run([os.environ.get("MAKE", "make"), "--no-print-directory", target],
                         cwd=root)
    if run.returncode != 0:
        raise ReleaseError(f"make {target} failed (exit {run.returncode})")


def release(root: Path = ROOT, allow_dirty: bool = False, dist: Path | None = None,
            check_offline: bool = True) -> Path:
    """Build ``dist/<version>/`` (see the module docstring); return its path."""
    start = time.monotonic()
    require_clean(root, allow_dirty)
    ver = version(root)
    html, pdf = root / "_build" / "html", root / "_build" / "pdf" / f"{NAME}.pdf"
    if not is_fresh(html / "book" / "intro.html", root, must_contain=f"Version {ver}"):
        _make("book", root)
    if not is_fresh(pdf, root):
        _make("pdf", root)
    for artifact in (html / "index.html", pdf):
        if not artifact.is_file():
            raise ReleaseError(f"{artifact} is missing after the build")
    if f"Version {ver}" not in (html / "book" / "intro.html").read_text("utf-8"):
        raise ReleaseError(f"the HTML book does not show 'Version {ver}': rebuild it")
    out = (dist or root / "dist") / ver
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)

    html_zip = _zip_tree(html, out / f"{NAME}-{ver}-html.zip", f"{NAME}-{ver}-html",
                         extra={"LICENSE": root / "LICENSE"})
    if check_offline:
        with tempfile.TemporaryDirectory() as tmp:
            with zipfile.ZipFile(html_zip) as zf:
                zf.extractall(tmp)
            problems = offline_problems(Path(tmp) / f"{NAME}-{ver}-html")
        if problems:
            raise ReleaseError("the unzipped HTML does not work offline:\n  "
                               + "\n  ".join(problems))
        print(f"release: the unzipped HTML passes check_html and loads from file:// "
              f"({', '.join(BROWSER_PAGES)})")
    shutil.copy2(pdf, out / f"{NAME}-{ver}.pdf")
    wheel, _ = build_package(out, root)
    notebook_bundle(out, wheel, root)
    write_sums(out)
    problems = check_sums(out)
    if problems:
        raise ReleaseError("SHA256SUMS does not check: " + "; ".join(problems))
    for path in sorted(out.iterdir()):
        print(f"  {path.stat().st_size / 1e6:8.2f} MB  {path.relative_to(root)}")
    print(f"release {ver}: {out.relative_to(root)} in {time.monotonic() - start:.0f} s")
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--allow-dirty", action="store_true",
                        help="release even with uncommitted changes (for tests)")
    parser.add_argument("--check", type=Path, metavar="DIR",
                        help="only check DIR/SHA256SUMS, like sha256sum -c")
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    args = parser.parse_args(argv)
    if args.version:
        print(version())
        return 0
    if args.check:
        problems = check_sums(args.check)
        for problem in problems:
            print(problem)
        print(f"{args.check}: {'OK' if not problems else f'{len(problems)} problems'}")
        return 1 if problems else 0
    try:
        release(allow_dirty=args.allow_dirty or os.environ.get("ALLOW_DIRTY", "") not in ("", "0"))
    except ReleaseError as exc:
        print(f"release error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
