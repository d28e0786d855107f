"""The versioned offline release of the book, and the book's one version number.

The version is ``pyproject.toml``'s ``[project] version``. CITATION.cff, CHANGELOG.md and the
BibTeX entry of ``book/intro.md`` repeat it (``tests/test_release.py`` and ``version_problems``,
run before every release, fail when they differ); nothing else types it:

* ``tools/export.py`` writes it into ``dlcode/__init__.py`` as ``dlcode.__version__``;
* this module is also a Sphinx extension (``_config.yml``, ``sphinx.local_extensions``): at build
  time it sets Sphinx's ``version`` and ``release`` from ``pyproject.toml`` (the PDF's title page
  prints "Release <version>"), replaces ``@VERSION@`` in the HTML footer (``html.extra_footer``)
  and defines the MyST substitution ``{{ version }}`` used by the introduction.

``make release`` (``python tools/release.py``) refuses to run on a tree with uncommitted changes
(``git status --porcelain`` not empty; ``--allow-dirty`` or ``make release ALLOW_DIRTY=1``
overrides it, for tests) or whose version files disagree (``dlcode/__init__.py``,
``CITATION.cff``, ``CHANGELOG.md`` and the introduction's BibTeX entry against
``pyproject.toml``). It builds the HTML (``make book``) and the PDF (``make pdf``, which checks
it) and, after each succeeds, writes a stamp in ``_build/release-stamps/``: the commit
(``git rev-parse HEAD``), whether the tree was clean, the version and a fingerprint of the
output (number of files, newest modification time). A later release reuses a build only when
its stamp names the current commit and version, the tree was and is clean, and the output is
untouched since; a failed or interrupted build writes no stamp and a rebuild rewrites the
output, so neither is reused. A reused PDF is checked again (``tools/pdf.py check``). It then
writes ``dist/<version>/``:

* ``<name>-<version>-html.zip``: the HTML site, which works opened from disk (relative links,
  vendored MathJax), without the files of ``_images`` that no page references (Sphinx never
  deletes the images of earlier builds): the unzipped copy is checked by
  ``tools/check_html.py`` and pages of it are loaded from ``file://`` in headless Chromium with
  the network blocked;
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
import json
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
from urllib.parse import unquote

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


def version_problems(root: Path = ROOT) -> list[str]:
    """Where the files that repeat the version disagree with ``pyproject.toml`` (empty when all
    agree): ``dlcode/__init__.py`` (written by tools/export.py), ``CITATION.cff`` (``version``
    and ``preferred-citation``'s), ``CHANGELOG.md``'s first entry, and the BibTeX entry of
    ``book/intro.md`` (``version`` and ``note``)."""
    import yaml

    ver = version(root)
    found: dict[str, str | None] = {}

    def search(name: str, pattern: str) -> str | None:
        path = root / name
        if not path.is_file():
            return None
        match = re.search(pattern, path.read_text(encoding="utf-8"), re.M)
        return match.group(1) if match else None

    found["dlcode/__init__.py __version__"] = search("dlcode/__init__.py",
                                                    r'^__version__ = "([^"]*)"')
    cff = {}
    if (root / "CITATION.cff").is_file():
        cff = yaml.safe_load((root / "CITATION.cff").read_text(encoding="utf-8")) or {}
    found["CITATION.cff version"] = cff.get("version")
    found["CITATION.cff preferred-citation version"] = (cff.get("preferred-citation")
                                                        or {}).get("version")
    found["CHANGELOG.md first entry"] = search("CHANGELOG.md", r"^## \[([^\]]+)\]")
    bibtex = r"```bibtex\n(?:[^`]*\n)?\s*"
    found["book/intro.md BibTeX version"] = search("book/intro.md",
                                                   bibtex + r"version\s*= \{([^}]*)\}")
    found["book/intro.md BibTeX note"] = search("book/intro.md",
                                                bibtex + r"note\s*= \{Version (\S+?)[.,]?[\s}]")
    return [f"{where} is {value!r}, pyproject.toml's version is {ver!r}"
            if value is not None else f"{where}: not found (pyproject.toml's version is {ver!r})"
            for where, value in found.items() if value != ver]


# ---- stamps of successful builds --------------------------------------------------------------

STAMPS = Path("_build") / "release-stamps"


def source_state(root: Path = ROOT) -> dict:
    """What a build is built from: the commit, whether the tree is clean, the version."""
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True,
                          text=True, check=True).stdout.strip()
    return {"head": head, "clean": not dirty_files(root), "version": version(root)}


def fingerprint(artifact: Path) -> list[int]:
    """[number of files, newest modification time in ns] of a file or a folder."""
    files = [artifact] if artifact.is_file() else [p for p in artifact.rglob("*") if p.is_file()]
    return [len(files), max((p.stat().st_mtime_ns for p in files), default=0)]


def write_stamp(root: Path, kind: str, artifact: Path, state: dict) -> Path:
    """Record that ``artifact`` was built successfully from ``state`` (``source_state``)."""
    path = root / STAMPS / f"{kind}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({**state, "fingerprint": fingerprint(artifact)}, indent=1),
                    encoding="utf-8")
    return path


def stale_reason(root: Path, kind: str, artifact: Path, state: dict) -> str | None:
    """Why ``artifact`` cannot be reused (None when its stamp says it can)."""
    path = root / STAMPS / f"{kind}.json"
    if not artifact.exists():
        return f"{artifact.name} is missing"
    if not path.is_file():
        return "no stamp of a successful build"
    try:
        stamp = json.loads(path.read_text(encoding="utf-8"))
    except ValueError:
        return f"{path} is unreadable"
    if not state["clean"]:
        return "the tree has uncommitted changes"
    if not stamp.get("clean"):
        return "built from a tree with uncommitted changes"
    if stamp.get("head") != state["head"]:
        return f"built from commit {str(stamp.get('head'))[:12]}, HEAD is {state['head'][:12]}"
    if stamp.get("version") != state["version"]:
        return f"built as version {stamp.get('version')}, the version is {state['version']}"
    if stamp.get("fingerprint") != fingerprint(artifact):
        return "changed since its successful build (a later build, failed or interrupted?)"
    return None


def _built(root: Path, kind: str, artifact: Path, state: dict, build, verify=None) -> bool:
    """Reuse ``artifact`` if its stamp allows it and ``verify()`` (if given) finds no problem;
    otherwise ``build()`` (which raises on failure) and stamp it. True when it was built."""
    reason = stale_reason(root, kind, artifact, state)
    if reason is None and verify is not None:
        problems = verify()
        reason = f"its check fails: {'; '.join(problems)}" if problems else None
    if reason is None:
        print(f"release: reusing the {kind} build of {state['head'][:12]} ({artifact.name})")
        return False
    print(f"release: building the {kind} ({reason})", flush=True)
    (root / STAMPS / f"{kind}.json").unlink(missing_ok=True)
    build()
    if not artifact.exists():
        raise ReleaseError(f"{artifact} is missing after the build")
    write_stamp(root, kind, artifact, state)
    return True


def unreferenced_images(html: Path) -> set[str]:
    """Files of ``html/_images`` (relative paths) that no page, script or stylesheet names.
    Sphinx copies the images of every build there and never deletes old ones."""
    images = html / "_images"
    if not images.is_dir():
        return set()
    named = set()
    for page in html.rglob("*"):
        if page.is_file() and page.suffix in (".html", ".js", ".css"):
            text = page.read_text(encoding="utf-8", errors="replace")
            named.update(unquote(m) for m in re.findall(r"_images/([^\"'()\s<>?#]+)", text))
    return {p.relative_to(html).as_posix() for p in images.rglob("*")
            if p.is_file() and p.relative_to(images).as_posix() not in named}


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

def _zip_tree(folder: Path, out: Path, top: str, extra: dict[str, Path] | None = None,
              skip: set[str] = frozenset()) -> Path:
    """Zip ``folder`` under the top-level directory ``top`` (plus ``extra``: name -> file, less
    ``skip``: relative paths), with fixed timestamps so that the same input gives the same
    bytes."""
    entries = [(p.relative_to(folder).as_posix(), p) for p in sorted(folder.rglob("*"))
               if p.is_file() and p.relative_to(folder).as_posix() not in skip]
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


def _pdf_check(root: Path) -> list[str]:
    """``tools/pdf.py check`` on the built PDF: its output lines when it fails, else []."""
    print("release: python tools/pdf.py check", flush=True)
    run = subprocess.run([sys.executable, str(root / "tools" / "pdf.py"), "check"], cwd=root,
                         capture_output=True, text=True)
    print(run.stdout, end="")
    if run.returncode == 0:
        return []
    return [line.strip() for line in (run.stdout + run.stderr).splitlines()
            if line.strip() and not line.startswith("pdf check:")]


def release(root: Path = ROOT, allow_dirty: bool = False, dist: Path | None = None,
            check_offline: bool = True) -> Path:
    """Build ``dist/<version>/`` (see the module docstring); return its path."""
    start = time.monotonic()
    require_clean(root, allow_dirty)
    problems = version_problems(root)
    if problems:
        raise ReleaseError("the version files disagree with pyproject.toml (change them, and run "
                           "tools/export.py for dlcode/__init__.py):\n  " + "\n  ".join(problems))
    ver = version(root)
    html, pdf = root / "_build" / "html", root / "_build" / "pdf" / f"{NAME}.pdf"
    state = source_state(root)
    # make book fails unless the strict build and tools/check_html.py pass.
    _built(root, "html", html, state, lambda: _make("book", root))
    # make pdf fails unless tools/pdf.py check passes; its last step rebuilds the HTML strictly
    # (so that every page offers the PDF), which is stamped again.
    if _built(root, "pdf", pdf, state, lambda: _make("pdf", root), lambda: _pdf_check(root)):
        write_stamp(root, "html", html, state)
    for artifact in (html / "index.html", pdf):
        if not artifact.is_file():
            raise ReleaseError(f"{artifact} is missing after the build")
    if f"Version {ver}" not in (html / "book" / "intro.html").read_text("utf-8"):
        raise ReleaseError(f"the HTML book does not show 'Version {ver}': rebuild it")
    out = (dist or root / "dist") / ver
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)

    unused = unreferenced_images(html)
    html_zip = _zip_tree(html, out / f"{NAME}-{ver}-html.zip", f"{NAME}-{ver}-html",
                         extra={"LICENSE": root / "LICENSE"}, skip=unused)
    print(f"release: left {len(unused)} unreferenced files of _images out of the HTML zip")
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
    def shown(path: Path) -> Path:
        return path.relative_to(root) if path.is_relative_to(root) else path

    for path in sorted(out.iterdir()):
        print(f"  {path.stat().st_size / 1e6:8.2f} MB  {shown(path)}")
    print(f"release {ver}: {shown(out)} in {time.monotonic() - start:.0f} s")
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
