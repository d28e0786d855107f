"""The release (tools/release.py): one version everywhere, a clean tree, checksums, and the
notebook bundle running a chapter in a fresh virtual environment.

The fresh environments are made offline: ``python -m venv --without-pip``, then a ``.pth`` file
that makes other packages importable (the site-packages that hold NumPy, Matplotlib and ipykernel
in the running interpreter, or a folder of links to NumPy, Matplotlib and their dependencies
only), and the release's wheel installed into the fresh environment itself with
``pip --python <fresh> install --no-deps --no-index``, where it shadows any other ``dlcode``.
"""

from __future__ import annotations

import hashlib
import importlib.metadata as metadata
import json
import re
import subprocess
import sys
import time
import tomllib
import zipfile
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
import release  # noqa: E402

sys.path.pop(0)

VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["project"]["version"]
BUNDLE_CHAPTER = "01-matrix-calculus.ipynb"  # the bundle test executes this one


# ---- one version everywhere -------------------------------------------------------------------

def test_version_is_pyprojects():
    assert release.version() == VERSION
    assert re.fullmatch(r"\d+\.\d+\.\d+", VERSION)


def test_dlcode_version_equals_pyproject():
    import dlcode

    assert dlcode.__version__ == VERSION
    text = (ROOT / "dlcode" / "__init__.py").read_text("utf-8")
    assert f'__version__ = "{VERSION}"' in text  # written by tools/export.py, not by hand


def test_citation_and_changelog_repeat_the_version():
    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text("utf-8"))
    assert cff["version"] == VERSION
    first = re.search(r"^## \[([^\]]+)\] - (\d{4}-\d{2}-\d{2})$",
                      (ROOT / "CHANGELOG.md").read_text("utf-8"), re.M)
    assert first, "CHANGELOG.md has no '## [version] - YYYY-MM-DD' entry"
    assert first.group(1) == VERSION
    assert first.group(2) == cff["date-released"]


def test_the_book_shows_the_version_without_typing_it():
    config = yaml.safe_load((ROOT / "_config.yml").read_text("utf-8"))
    assert config["sphinx"]["local_extensions"]["release"] == "tools"
    footer = config["sphinx"]["config"]["html_theme_options"]["extra_footer"]
    assert release.PLACEHOLDER in footer and VERSION not in footer
    assert "CC BY 4.0" in footer and "MIT License" in footer
    intro = (ROOT / "book" / "intro.md").read_text("utf-8")
    # The BibTeX entry, a code block that substitutions do not reach, is the one exception.
    prose = re.sub(r"```bibtex\n.*?```", "", intro, flags=re.S)
    assert "{{ version }}" in prose and VERSION not in prose
    assert intro.index("## License and citation") < intro.index("## Contents")


def test_intro_bibtex_names_the_version():
    intro = (ROOT / "book" / "intro.md").read_text("utf-8")
    entry = re.search(r"```bibtex\n(.*?)```", intro, re.S).group(1)
    assert re.search(r"^  version\s*= \{([^}]*)\},?$", entry, re.M).group(1) == VERSION
    assert re.search(r"^  note\s*= \{Version (\S+?)\. ", entry, re.M).group(1) == VERSION
    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text("utf-8"))["preferred-citation"]
    assert re.search(r"title\s*= \{([^}]*)\}", entry).group(1) == cff["title"]
    assert re.search(r"year\s*= \{(\d+)\}", entry).group(1) == str(cff["year"])


# "Release 1.2.3", "version 1.2.3", "this is 1.2.3", "v1.2.3": the book's version, typed.
TYPED_VERSION = re.compile(r"(?i)\b(?:release|version|this is)\s+v?(\d+\.\d+\.\d+)|"
                           r"\bv(\d+\.\d+\.\d+)")


def test_readme_types_no_other_version():
    readme = (ROOT / "README.md").read_text("utf-8")
    typed = {a or b for a, b in TYPED_VERSION.findall(readme)}
    assert typed <= {VERSION}, typed
    # The pattern finds a typed version (and leaves other packages' versions alone).
    sample = "this is 1.0.0; PDF Release 9.9.9; Citation File Format 1.2.0; torch==2.13.0"
    assert {a or b for a, b in TYPED_VERSION.findall(sample)} == {"1.0.0", "9.9.9"}


VERSION_FILES = ("pyproject.toml", "dlcode/__init__.py", "CITATION.cff", "CHANGELOG.md",
                 "book/intro.md")


def _version_tree(root: Path) -> Path:
    for name in VERSION_FILES:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text((ROOT / name).read_text("utf-8"), "utf-8")
    return root


def test_version_files_agree_and_each_disagreement_is_named(tmp_path):
    assert release.version_problems(ROOT) == []
    root = _version_tree(tmp_path)
    assert release.version_problems(root) == []
    changes = {  # file -> (text to replace, by, what the problem names)
        "dlcode/__init__.py": (f'__version__ = "{VERSION}"', '__version__ = "9.9.9"',
                               "dlcode/__init__.py __version__ is '9.9.9'"),
        "CITATION.cff": (f'version: "{VERSION}"\ndate', 'version: "9.9.9"\ndate',
                         "CITATION.cff version is '9.9.9'"),
        "CHANGELOG.md": (f"## [{VERSION}]", "## [9.9.9]", "CHANGELOG.md first entry is '9.9.9'"),
        "book/intro.md": (f"note      = {{Version {VERSION}.", "note      = {Version 9.9.9.",
                          "book/intro.md BibTeX note is '9.9.9'"),
    }
    for name, (old, new, named) in changes.items():
        text = (ROOT / name).read_text("utf-8")
        assert old in text, name
        (root / name).write_text(text.replace(old, new, 1), "utf-8")
        problems = release.version_problems(root)
        assert len(problems) == 1 and problems[0].startswith(named), problems
        assert problems[0].endswith(f"pyproject.toml's version is '{VERSION}'")
        (root / name).write_text(text, "utf-8")
    (root / "CHANGELOG.md").write_text("# Changelog\n", "utf-8")
    assert release.version_problems(root) == [
        f"CHANGELOG.md first entry: not found (pyproject.toml's version is '{VERSION}')"]


def test_release_refuses_disagreeing_versions_before_building(tmp_path, monkeypatch):
    root = _version_tree(tmp_path)
    _git(root, "init", "-q")
    cff = (root / "CITATION.cff").read_text("utf-8")
    (root / "CITATION.cff").write_text(cff.replace(f'version: "{VERSION}"\ndate',
                                                   'version: "0.9.0"\ndate'), "utf-8")
    _git(root, "add", ".")
    _git(root, "commit", "-qm", "one")

    def no_build(target, where):
        raise AssertionError(f"make {target} ran")

    monkeypatch.setattr(release, "_make", no_build)
    with pytest.raises(release.ReleaseError, match=r"(?s)disagree.*CITATION.cff version is "
                       r"'0.9.0', pyproject.toml's version is"):
        release.release(root=root, dist=root / "dist")
    assert not (root / "dist").exists() and not (root / "_build").exists()


def test_extension_sets_version_footer_and_substitution():
    config = SimpleNamespace(version="", release="", myst_substitutions={"other": "x"},
                             html_theme_options={"extra_footer": "<p>Version @VERSION@.</p>",
                                                 "show_toc_level": 2})
    release._config_inited(SimpleNamespace(confdir=str(ROOT)), config)
    assert config.version == config.release == VERSION
    assert config.html_theme_options == {"extra_footer": f"<p>Version {VERSION}.</p>",
                                         "show_toc_level": 2}
    assert config.myst_substitutions == {"other": "x", "version": VERSION}


def test_installed_metadata_agrees_when_installed_from_this_tree():
    try:
        dist = metadata.distribution("dlcode")
    except metadata.PackageNotFoundError:
        pytest.skip("dlcode is not installed")
    origin = dist.read_text("direct_url.json")
    if not origin or str(ROOT) not in json.loads(origin).get("url", ""):
        pytest.skip("the installed dlcode metadata belongs to another checkout")
    assert dist.version == VERSION


# ---- clean tree and checksums -----------------------------------------------------------------

def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.org", *args],
                   cwd=repo, check=True, capture_output=True)


def test_release_refuses_a_dirty_tree(tmp_path):
    _git(tmp_path, "init", "-q")
    (tmp_path / "pyproject.toml").write_text('[project]\nversion = "9.9.9"\n')
    _git(tmp_path, "add", "pyproject.toml")
    _git(tmp_path, "commit", "-qm", "one")
    release.require_clean(tmp_path)  # clean: no error
    (tmp_path / "pyproject.toml").write_text('[project]\nversion = "9.9.10"\n')
    (tmp_path / "new.txt").write_text("x")
    with pytest.raises(release.ReleaseError, match=r"uncommitted changes.*ALLOW_DIRTY=1"
                       r"(?s:.*) M pyproject.toml(?s:.*)\?\? new.txt"):
        release.require_clean(tmp_path)
    release.require_clean(tmp_path, allow_dirty=True)
    with pytest.raises(release.ReleaseError, match="uncommitted"):
        release.release(root=tmp_path, dist=tmp_path / "dist")
    assert not (tmp_path / "dist").exists()


def test_sha256sums_are_checked_like_sha256sum_c(tmp_path):
    (tmp_path / "a.zip").write_bytes(b"zip bytes")
    (tmp_path / "b.pdf").write_bytes(b"%PDF" + bytes(range(256)))
    sums = release.write_sums(tmp_path)
    lines = sums.read_text().splitlines()
    assert [line.split("  ")[1] for line in lines] == ["a.zip", "b.pdf"]
    assert lines[0].split()[0] == hashlib.sha256(b"zip bytes").hexdigest()
    assert release.check_sums(tmp_path) == []
    coreutils = subprocess.run(["sha256sum", "-c", "SHA256SUMS"], cwd=tmp_path,
                               capture_output=True, text=True)
    assert coreutils.returncode == 0, coreutils.stdout + coreutils.stderr
    (tmp_path / "b.pdf").write_bytes(b"%PDF changed")
    (tmp_path / "c.txt").write_text("unlisted")
    assert release.check_sums(tmp_path) == ["b.pdf: FAILED (checksum differs)",
                                            "c.txt: not listed in SHA256SUMS"]
    (tmp_path / "a.zip").unlink()
    assert "a.zip: FAILED open or read" in release.check_sums(tmp_path)


def test_built_release_checks_if_present():
    out = ROOT / "dist" / VERSION
    if not out.is_dir():
        pytest.skip("no release built (make release)")
    assert release.check_sums(out) == []
    names = {p.name for p in out.iterdir()}
    name = release.NAME
    assert {f"{name}-{VERSION}-html.zip", f"{name}-{VERSION}.pdf",
            f"{name}-{VERSION}-notebooks.zip", f"dlcode-{VERSION}-py3-none-any.whl",
            f"dlcode-{VERSION}.tar.gz", "SHA256SUMS"} <= names


# ---- reuse of builds: stamps -------------------------------------------------------------------

class _Builds:
    """Fake builds for ``release._built``: each call writes the artifact; ``fail`` makes the next
    one write it (as an interrupted or -W-failed build does) and then fail."""

    def __init__(self, artifact: Path):
        self.artifact, self.count, self.fail, self.problems = artifact, 0, False, []

    def build(self):
        self.count += 1
        self.artifact.mkdir(parents=True, exist_ok=True)
        (self.artifact / "intro.html").write_text(f"build {self.count}")
        if self.fail:
            raise release.ReleaseError("make book failed (exit 2)")

    def verify(self):
        return self.problems


def test_a_build_is_reused_only_with_its_stamp(tmp_path):
    _git(tmp_path, "init", "-q")
    (tmp_path / "pyproject.toml").write_text('[project]\nversion = "9.9.9"\n')
    (tmp_path / ".gitignore").write_text("_build/\n")
    _git(tmp_path, "add", ".")
    _git(tmp_path, "commit", "-qm", "one")
    html = tmp_path / "_build" / "html"
    fake = _Builds(html)

    def built():
        state = release.source_state(tmp_path)
        return release._built(tmp_path, "html", html, state, fake.build, fake.verify)

    assert built() and fake.count == 1          # nothing built yet
    assert not built() and fake.count == 1      # stamped: reused
    stamp = json.loads((tmp_path / release.STAMPS / "html.json").read_text())
    assert stamp["clean"] and stamp["version"] == "9.9.9" and len(stamp["head"]) == 40

    fake.problems = ["the title page does not show 'Release 9.9.9'"]
    assert built() and fake.count == 2          # a reused build that fails its check
    fake.problems = []

    (tmp_path / "new.txt").write_text("x")      # uncommitted: never reused, stamped unclean
    assert built() and built() and fake.count == 4
    _git(tmp_path, "add", "new.txt")
    _git(tmp_path, "commit", "-qm", "two")
    assert built() and fake.count == 5          # the stamp says "not clean"
    assert not built()

    _git(tmp_path, "commit", "-q", "--allow-empty", "-m", "three")
    assert built() and fake.count == 6          # another commit
    assert not built()

    (tmp_path / "pyproject.toml").write_text('[project]\nversion = "9.9.10"\n')
    _git(tmp_path, "commit", "-qam", "four")
    assert built() and not built()              # another commit and version

    _git(tmp_path, "commit", "-q", "--allow-empty", "-m", "five")
    fake.fail = True                            # a failed build that rewrote the output ...
    with pytest.raises(release.ReleaseError, match="make book failed"):
        built()
    assert not (tmp_path / release.STAMPS / "html.json").exists()
    fake.fail = False
    count = fake.count
    assert built() and fake.count == count + 1  # ... is not reused
    time.sleep(0.01)
    (html / "intro.html").write_text("a later make book by hand, interrupted or failed")
    assert built() and not built()              # output changed after its stamp


def test_stale_reason_names_the_cause(tmp_path):
    state = {"head": "a" * 40, "clean": True, "version": "1.0.0"}
    pdf = tmp_path / "book.pdf"
    assert release.stale_reason(tmp_path, "pdf", pdf, state) == "book.pdf is missing"
    pdf.write_bytes(b"%PDF")
    assert release.stale_reason(tmp_path, "pdf", pdf, state) == "no stamp of a successful build"
    release.write_stamp(tmp_path, "pdf", pdf, state)
    assert release.stale_reason(tmp_path, "pdf", pdf, state) is None
    other = {**state, "head": "b" * 40}
    assert release.stale_reason(tmp_path, "pdf", pdf, other) == (
        "built from commit aaaaaaaaaaaa, HEAD is bbbbbbbbbbbb")
    assert release.stale_reason(tmp_path, "pdf", pdf, {**state, "version": "1.0.1"}) == (
        "built as version 1.0.0, the version is 1.0.1")
    assert release.stale_reason(tmp_path, "pdf", pdf, {**state, "clean": False}) == (
        "the tree has uncommitted changes")


def test_unreferenced_images_are_left_out_of_the_zip(tmp_path):
    html = tmp_path / "html"
    (html / "_images").mkdir(parents=True)
    (html / "book").mkdir()
    for name in ("used.png", "in css.svg", "old.png"):
        (html / "_images" / name).write_bytes(b"img")
    (html / "book" / "01.html").write_text('<img src="../_images/used.png" alt="">')
    (html / "_static").mkdir()
    (html / "_static" / "a.css").write_text("x { background: url(../_images/in%20css.svg) }")
    assert release.unreferenced_images(html) == {"_images/old.png"}
    out = release._zip_tree(html, tmp_path / "site.zip", "site",
                            skip=release.unreferenced_images(html))
    with zipfile.ZipFile(out) as zf:
        assert sorted(zf.namelist()) == ["site/_images/in css.svg", "site/_images/used.png",
                                         "site/_static/a.css", "site/book/01.html"]


# ---- fresh virtual environments ---------------------------------------------------------------

def _fresh_venv(path: Path, site_dirs: list[Path]) -> Path:
    """A venv without pip whose .pth file adds ``site_dirs``; returns its python."""
    base = getattr(sys, "_base_executable", None) or sys.executable
    subprocess.run([base, "-m", "venv", "--without-pip", str(path)], check=True)
    python = path / "bin" / "python"
    purelib = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_path("
                              "'purelib'))"], capture_output=True, text=True, check=True
                             ).stdout.strip()
    Path(purelib, "zz-shared.pth").write_text("".join(f"{d}\n" for d in site_dirs))
    return python


def _install(python: Path, wheel: Path) -> None:
    run = subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install",
                          "--quiet", "--no-deps", "--no-index", "--disable-pip-version-check",
                          str(wheel)], capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr


def _where(python: Path, code: str) -> subprocess.CompletedProcess:
    return subprocess.run([python, "-c", code], capture_output=True, text=True, cwd=python.parent)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    wheel, sdist = release.build_package(out)
    assert wheel.name == f"dlcode-{VERSION}-py3-none-any.whl"
    with zipfile.ZipFile(wheel) as zf:
        meta = zf.read(f"dlcode-{VERSION}.dist-info/METADATA").decode()
    assert f"Version: {VERSION}\n" in meta and "License-Expression: MIT\n" in meta
    assert "License-File: LICENSE\n" in meta and "License ::" not in meta  # PEP 639
    assert 'Requires-Dist: scikit-learn; extra == "data"' in meta
    return wheel


def test_notebook_bundle_runs_a_chapter_in_a_fresh_venv(tmp_path, wheel, monkeypatch):
    import ipykernel
    import matplotlib
    import nbformat
    import numpy
    from nbclient import NotebookClient

    bundle = release.notebook_bundle(tmp_path, wheel)
    top = f"{release.NAME}-{VERSION}-notebooks"
    with zipfile.ZipFile(bundle) as zf:
        names = set(zf.namelist())
        zf.extractall(tmp_path / "unzipped")
    folder = tmp_path / "unzipped" / top
    assert {f"{top}/{n}" for n in (BUNDLE_CHAPTER, wheel.name, "HOW-TO-RUN.txt",
                                   "requirements.txt", "requirements-lab.txt")} <= names
    assert len((folder / "HOW-TO-RUN.txt").read_text().splitlines()) == 2

    shared = sorted({Path(m.__file__).resolve().parents[1] for m in (numpy, matplotlib,
                                                                     ipykernel)})
    python = _fresh_venv(tmp_path / "venv", shared)
    _install(python, folder / wheel.name)
    venv = (tmp_path / "venv").resolve()

    kernels = tmp_path / "jupyter" / "kernels" / "fresh"
    kernels.mkdir(parents=True)
    (kernels / "kernel.json").write_text(json.dumps({
        "argv": [str(python), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "fresh venv", "language": "python"}))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    monkeypatch.setenv("JUPYTER_PLATFORM_DIRS", "1")

    nb = nbformat.read(folder / BUNDLE_CHAPTER, as_version=4)
    stored = [c.outputs for c in nb.cells if c.cell_type == "code"]
    nb.cells.append(nbformat.v4.new_code_cell(
        "import sys, dlcode\nprint(dlcode.__file__)\nprint(dlcode.__version__)\n"
        "print(sys.executable)"))
    NotebookClient(nb, kernel_name="fresh", timeout=120,
                   resources={"metadata": {"path": str(folder)}}).execute()
    # stdout only: a fresh venv may first print to stderr (e.g. Matplotlib building its font
    # cache), which is a separate output of the same cell.
    where = "".join(o.get("text", "") for o in nb.cells[-1].outputs
                    if o.get("name") == "stdout").split()
    assert Path(where[0]).resolve().is_relative_to(venv), where
    assert where[1] == VERSION
    assert Path(where[2]).parent.parent == python.parent.parent  # the fresh venv's python
    # The chapter prints what its stored notebook printed (streams may be split differently).
    ran = [c.outputs for c in nb.cells if c.cell_type == "code"][:-1]

    def printed(outputs):
        return "".join(o.get("text", "") for o in outputs if o.get("name") == "stdout")

    assert [printed(o) for o in ran] == [printed(o) for o in stored]


def _core_site(folder: Path) -> list[str]:
    """Links to NumPy, Matplotlib and their dependencies (nothing else) in ``folder``."""
    from packaging.requirements import Requirement

    todo, seen = ["numpy", "matplotlib"], set()
    folder.mkdir()
    while todo:
        name = todo.pop()
        dist = metadata.distribution(name)
        key = dist.metadata["Name"].lower().replace("_", "-")
        if key in seen:
            continue
        seen.add(key)
        for req in dist.requires or []:
            req = Requirement(req)
            if req.marker is None or req.marker.evaluate({"extra": ""}):
                todo.append(req.name)
        base = Path(dist.locate_file(""))
        for top in {f.parts[0] for f in dist.files or [] if f.parts[0] != ".."}:
            target = folder / top
            if not target.exists() and (base / top).exists():
                target.symlink_to(base / top)
    return sorted(seen)


@pytest.fixture(scope="module")
def core_python(tmp_path_factory, wheel) -> Path:
    tmp = tmp_path_factory.mktemp("core")
    dists = _core_site(tmp / "site")
    assert "numpy" in dists and "matplotlib" in dists and "scikit-learn" not in dists
    python = _fresh_venv(tmp / "venv", [tmp / "site"])
    _install(python, wheel)
    return python


def test_core_only_venv_imports_dlcode(core_python):
    run = _where(core_python, "import importlib.util as u, sys, dlcode\n"
                              "assert u.find_spec('sklearn') is None, 'sklearn is importable'\n"
                              "assert u.find_spec('torch') is None, 'torch is importable'\n"
                              "print(dlcode.__version__, dlcode.__file__)")
    assert run.returncode == 0, run.stderr
    version, where = run.stdout.split()
    assert version == VERSION and str(core_python.parent.parent) in where


def test_core_only_load_digits_names_the_extra(core_python):
    run = _where(core_python, "import dlcode.data\ndlcode.data.load_digits()")
    assert run.returncode != 0
    last = run.stderr.strip().splitlines()[-1]
    assert "pip install dlcode[data]" in last or "pip install 'dlcode[data]'" in last, last
    assert "scikit-learn" in last, last
