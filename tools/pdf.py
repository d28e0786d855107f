"""Typeset the PDF edition from Sphinx's LaTeX output, numbered exactly like the HTML book.

``make pdf`` runs ``jupyter-book build . --builder latex`` (chapters come from the execution cache),
then this script:

1. **patches** ``_build/latex/<name>.tex``: the introduction becomes an unnumbered chapter; the
   front matter (notation) is unnumbered and the chapter counter starts at 1 with the first
   numbered part; the back matter (errata, coverage, run times, API, bibliography) is
   unnumbered; theorem-like boxes, exercises and solutions carry the numbers of the HTML book
   (read from ``_build/html``), in their titles and in every reference to them; proofs get a
   title;
2. **compiles** it with latexmk (XeLaTeX) and copies the result to ``_build/pdf/<name>.pdf``;
3. **checks** it (``check``; also run by ``make pdf``): no unresolved reference (``??`` in the text
   or an "undefined" warning), no missing character, no missing figure, no code line cut at the
   margin, and a sample of chapter, section, theorem, exercise, figure and equation numbers that
   agree with the HTML; the title page shows "Release <version>", pyproject.toml's version (Sphinx
   prints its ``release``, which ``tools/release.py`` sets at build time).

Usage::

    python tools/pdf.py build    # patch, compile, copy
    python tools/pdf.py check    # check the built PDF against the HTML book
"""

from __future__ import annotations

import argparse
import html
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NAME = "deep-learning-derived-and-verified"
LATEX = ROOT / "_build" / "latex"
HTML = ROOT / "_build" / "html"
PDF = ROOT / "_build" / "pdf" / f"{NAME}.pdf"
FIRST_NUMBERED_PART = "Foundations"
BACK_MATTER_PART = "Back matter"
FRONT_MATTER_PART = "Front matter"
PATCHED = "% Patched by tools/pdf.py: numbered like the HTML book."
BOX = re.compile(r"\\begin\{sphinxadmonition\}\{note\}\{(?:Solution to )?([A-Z][a-z]+) ([\d.]+)")
CAPTION = re.compile(r'<div class="[^"]*admonition[^"]*" id="([^"]+)">\s*'
                     r'<p class="admonition-title"><span class="caption-number">([A-Za-z]+) '
                     r'([\d.]+) </span>')


class PdfError(RuntimeError):
    """The PDF cannot be built or fails a check."""


def html_numbers(html_dir: Path = HTML) -> dict[str, tuple[str, str]]:
    """Label -> (kind, number) of every numbered box (theorem, exercise, ...) in the HTML book."""
    if not (html_dir / "index.html").exists():
        raise PdfError(f"{html_dir} has no HTML book: run `make book` first")
    numbers = {}
    for page in html_dir.rglob("*.html"):
        for label, kind, number in CAPTION.findall(page.read_text(encoding="utf-8")):
            numbers[label] = (kind, number)
    return numbers


def renumber(tex: str, numbers: dict[str, tuple[str, str]]) -> tuple[str, dict[str, str]]:
    """Give every numbered box the HTML's number, in its title and in references to it."""
    mapping: dict[str, str] = {}
    labels = re.finditer(r"\\label\{(?:exercise:|[^{}:]+:)([^{}]+)\}", tex)
    for match in labels:
        label = match.group(1)
        if label not in numbers:
            continue
        box = BOX.search(tex, match.end(), match.end() + 400)
        if box is None:
            continue
        kind, old = box.groups()
        new_kind, new = numbers[label]
        if kind != new_kind:
            raise PdfError(f"{label}: a {kind} in LaTeX but a {new_kind} in the HTML")
        mapping[f"{kind} {old}"] = f"{kind} {new}"
    # A {ref}/{numref} to an exercise or a theorem points at "<doc>:<label>", which LaTeX does not
    # define for these boxes (sphinx-exercise labels exercises "exercise:<label>"), and its
    # number comes from \ref: link to the box's own label and write the HTML's number.
    def direct(m):
        label = m.group(1)
        if label not in numbers:
            return m.group(0)
        kind, number = numbers[label]
        target = f"exercise:{label}" if f"\\label{{exercise:{label}}}" in tex else m.group(2)
        return f"\\hyperref[{target}]{{{kind} {number}}}"

    tex = re.sub(r"\\hyperref\[(?:\\detokenize\{)?[^:{}\]]+:([^{}\]]+)\}?\]"
                 r"\{\w+ \\ref\{(?:\\detokenize\{)?([^{}]+)\}?\}\}", direct, tex)
    if not mapping:
        return tex, mapping
    pattern = re.compile("|".join(re.escape(k) for k in sorted(mapping, key=len, reverse=True))
                         + r"(?![\d.]*\d)")
    return pattern.sub(lambda m: mapping[m.group(0)], tex), mapping


def patch(tex: str, numbers: dict[str, tuple[str, str]]) -> str:
    """The LaTeX source of the book as the HTML numbers it (see the module docstring)."""
    intro = ("\\chapter*{Introduction}\\addcontentsline{toc}{chapter}{Introduction}"
             "\\markboth{Introduction}{Introduction}\n")
    anchor = "\\pagestyle{normal}\n"
    if anchor not in tex:
        raise PdfError("no \\pagestyle{normal} after the table of contents")
    tex = tex.replace(anchor, anchor + intro, 1)
    front = f"\\part{{{FRONT_MATTER_PART}}}"
    if front not in tex:
        raise PdfError(f"no part {FRONT_MATTER_PART!r} in the LaTeX source")
    tex = tex.replace(front, "\\setcounter{secnumdepth}{-2}", 1)
    first = f"\\part{{{FIRST_NUMBERED_PART}}}"
    if first not in tex:
        raise PdfError(f"no part {FIRST_NUMBERED_PART!r} in the LaTeX source")
    tex = tex.replace(first, "\\setcounter{secnumdepth}{2}\\setcounter{chapter}{0}"
                      "\\setcounter{part}{0}\n" + first, 1)
    back = f"\\part{{{BACK_MATTER_PART}}}"
    if back not in tex:
        raise PdfError(f"no part {BACK_MATTER_PART!r} in the LaTeX source")
    tex = tex.replace(back, "\\setcounter{secnumdepth}{-2}\n" + back, 1)
    # A proof box has no title argument, so LaTeX took its first token as the title.
    tex = re.sub(r"\\begin\{sphinxadmonition\}\{note\}\n\\sphinxAtStartPar\nProof\. ",
                 r"\\begin{sphinxadmonition}{note}{Proof}\n\\sphinxAtStartPar\n", tex)
    tex = _replace_glyphs(tex)
    tex, _ = renumber(tex, numbers)
    return tex


# Characters the text fonts (FreeSerif/FreeSans, bold and italic) lack, and LaTeX that draws them.
GLYPHS = {"\u1d40": "\\textsuperscript{T}", "\U0001d6f4": "\\ensuremath{\\mathit{\\Sigma}}"}


def _replace_glyphs(tex: str) -> str:
    """Replace characters missing from the text fonts, outside code blocks."""
    code = _verbatim_lines(tex)
    out = []
    for number, line in enumerate(tex.split("\n"), 1):
        if number not in code:
            for char, latex in GLYPHS.items():
                line = line.replace(char, latex)
            # unicode-math's \mathbf takes the text font's bold (FreeSerif Bold), which lacks
            # the mathematical Greek letters; \symbf takes them from the math font.
            line = re.sub(r"\\mathbf\{(\\[A-Za-z]+)\}", r"\\symbf{\1}", line)
        out.append(line)
    return "\n".join(out)


def build(latex_dir: Path = LATEX, html_dir: Path = HTML, out: Path = PDF) -> Path:
    """Patch the LaTeX source, compile it with latexmk and copy the PDF to ``out``."""
    source = latex_dir / f"{NAME}.tex"
    if not source.exists():
        raise PdfError(f"{source} is missing: run `jupyter-book build . --builder latex` first")
    tex = source.read_text(encoding="utf-8")
    if PATCHED not in tex:  # a rerun after a failed compile finds it patched already
        source.write_text(PATCHED + "\n" + patch(tex, html_numbers(html_dir)), encoding="utf-8")
    # Sphinx's Makefile runs latexmk with its latexmkrc (XeLaTeX, xindy for the index).
    for stale in latex_dir.glob(f"{NAME}.*"):  # latexmk remembers the errors of earlier runs
        if stale.suffix in (".aux", ".toc", ".out", ".idx", ".ind", ".ilg", ".fdb_latexmk", ".fls",
                            ".log", ".xdv", ".pdf"):
            stale.unlink()
    run = subprocess.run(["make", "all-pdf", "LATEXOPTS=-interaction=nonstopmode"],
                         cwd=latex_dir, capture_output=True, text=True)
    if run.returncode != 0 or not (latex_dir / f"{NAME}.pdf").exists():
        tail = "\n".join(run.stdout.splitlines()[-30:])
        raise PdfError(f"latexmk failed (exit {run.returncode}); "
                       f"see {latex_dir / NAME}.log\n{tail}")
    out.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(latex_dir / f"{NAME}.pdf", out)
    return out


# ---- checks ---------------------------------------------------------------------------------

def _verbatim_lines(tex: str) -> set[int]:
    """Line numbers (1-based) of the LaTeX source that lie inside code blocks."""
    inside, lines = False, set()
    for number, line in enumerate(tex.splitlines(), 1):
        if line.startswith("\\begin{sphinxVerbatim}"):
            inside = True
        elif line.startswith("\\end{sphinxVerbatim}"):
            inside = False
        elif inside:
            lines.add(number)
    return lines


def log_problems(log: str, tex: str) -> list[str]:
    """Unresolved references, missing characters and figures, and code cut at the margin."""
    problems = []
    flat = re.sub(r"\n(?!\n)", "", log)  # TeX wraps its log at 79 characters
    missing = r"Missing character: There is no (\S+) \(U\+([0-9A-F]+)\) in font ([^!]+)!"
    for m in re.finditer(missing, flat):
        problems.append(f"missing character U+{m.group(2)} {m.group(1)} in font {m.group(3)}")
    for m in re.finditer(r"LaTeX Warning: (?:Hyper r|R)eference `([^']+)' on page \d+ undefined",
                         flat):
        problems.append(f"unresolved reference {m.group(1)}")
    for m in re.finditer(r"(?:LaTeX Warning: File|! LaTeX Error: File) `([^']+)' not found", flat):
        problems.append(f"missing file {m.group(1)}")
    code = _verbatim_lines(tex)
    for m in re.finditer(r"Overfull \\hbox \(([\d.]+)pt too wide\) (?:in paragraph at lines "
                         r"(\d+)--(\d+)|detected at line (\d+))", flat):
        first = int(m.group(2) or m.group(4))
        last = int(m.group(3) or m.group(4))
        if float(m.group(1)) > 1.0 and any(n in code for n in range(first, last + 1)):
            problems.append(f"code line cut at the margin ({m.group(1)} pt) at line {first} "
                            f"of {NAME}.tex")
    return sorted(set(problems))


def html_labels(html_dir: Path = HTML) -> dict[str, str]:
    """What the HTML numbers: 'chapter:<title>', 'section:<title>', figure and equation ids."""
    found = {}
    for page in sorted(html_dir.glob("book/*.html")):
        text = page.read_text(encoding="utf-8")
        doc = f"book/{page.stem}"
        heading = (r'<h([12])><span class="section-number">([\d.]+)\. </span>(.*?)'
                   r'<a class="headerlink"')
        for level, number, title in re.findall(heading, text):
            kind = "chapter" if level == "1" else "section"
            found[f"{kind}:{html.unescape(re.sub(r'<[^>]+>', '', title)).strip()}"] = number
        for label, number in re.findall(
                r'<figure[^>]*id="([^"]+)"[^>]*>.*?<span class="caption-number">Fig\. ([\d.]+) ',
                text, re.S):
            found[f"figure:{doc}:{label}"] = number
        for label, number in re.findall(
                r'<div class="math notranslate nohighlight" id="([^"]+)">\s*<span class="eqno">'
                r'\(([\d.]+)\)', text):
            found[f"equation:{doc}:{label.removeprefix('equation-')}"] = number
    return found


def latex_labels(latex_dir: Path = LATEX) -> dict[str, str]:
    """The same keys as ``html_labels``, with the numbers LaTeX gave them (.toc and .aux)."""
    found = {}
    toc = (latex_dir / f"{NAME}.toc").read_text(encoding="utf-8", errors="replace")
    for kind, number, title in re.findall(
            r"\\contentsline \{(chapter|section)\}\{\\numberline \{([\d.]+)\}(.*?)\}\{\d+\}", toc):
        found[f"{kind}:{_plain(title)}"] = number
    aux = (latex_dir / f"{NAME}.aux").read_text(encoding="utf-8", errors="replace")
    for label, number in re.findall(r"\\newlabel\{([^{}]+)\}\{\{([\d.]+)\}", aux):
        if label.startswith("equation:"):
            found[f"equation:{label[len('equation:'):]}"] = number
        elif ":fig-" in label or ":figure-" in label:
            found[f"figure:{label}"] = number
    return found


def _plain(title: str) -> str:
    """A LaTeX toc title as plain text, for comparison with the HTML's."""
    title = re.sub(r"\\sphinxhyphen\s*\{\}", "-", title)
    title = re.sub(r"\\[a-zA-Z@]+\s*", "", title)
    return title.replace("{", "").replace("}", "").strip()


def number_problems(html_dir: Path = HTML, latex_dir: Path = LATEX) -> tuple[list[str], int]:
    """Labels whose LaTeX number differs from the HTML's; and how many labels were compared."""
    ours, theirs = html_labels(html_dir), latex_labels(latex_dir)
    common = sorted(set(ours) & set(theirs))
    problems = [f"{key}: HTML {ours[key]}, PDF {theirs[key]}" for key in common
                if ours[key] != theirs[key]]
    kinds = {k.split(":")[0] for k in common}
    for kind in ("chapter", "section", "figure", "equation"):
        if kind not in kinds:
            problems.append(f"no {kind} could be compared between the HTML and the PDF")
    return problems, len(common)


def text_problems(pdf: Path, numbers: dict[str, tuple[str, str]]) -> list[str]:
    """'??' in the PDF's text, and numbered boxes whose HTML number the PDF does not show."""
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True,
                          text=True, check=True).stdout
    problems = [f"unresolved reference '??' in the PDF text: ...{text[m.start()-40:m.end()+10]}..."
                .replace("\n", " ") for m in re.finditer(r"\?\?", text)]
    flat = " ".join(text.split())
    for label, (kind, number) in sorted(numbers.items()):
        if f"{kind} {number}" not in flat:
            problems.append(f"{label}: the PDF never shows '{kind} {number}'")
    return problems


def title_text_problems(page: str, version: str) -> list[str]:
    """The text of the title page must show "Release <version>" (words may be split across
    lines; "Release 1.0.0" does not match version 1.0 or 1.0.0.1)."""
    if not re.search(rf"\bRelease {re.escape(version)}(?![\w-]|\.\w)", " ".join(page.split())):
        return [f"the title page does not show 'Release {version}' (pyproject.toml's version)"]
    return []


def title_problems(pdf: Path, root: Path = ROOT) -> list[str]:
    """The title page (page 1) must show "Release <version>" with pyproject.toml's version."""
    version = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))["project"][
        "version"]
    page = subprocess.run(["pdftotext", "-f", "1", "-l", "1", str(pdf), "-"], capture_output=True,
                          text=True, check=True).stdout
    return title_text_problems(page, version)


def check(pdf: Path = PDF, latex_dir: Path = LATEX, html_dir: Path = HTML) -> list[str]:
    """Every problem of the built PDF (empty when it is fine)."""
    if not pdf.exists():
        return [f"{pdf} does not exist: run `make pdf`"]
    log = (latex_dir / f"{NAME}.log").read_text(encoding="utf-8", errors="replace")
    tex = (latex_dir / f"{NAME}.tex").read_text(encoding="utf-8")
    problems = log_problems(log, tex)
    numbered, compared = number_problems(html_dir, latex_dir)
    problems += numbered
    numbers = html_numbers(html_dir)
    problems += text_problems(pdf, numbers)
    problems += title_problems(pdf)
    pages = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True).stdout
    count = re.search(r"Pages:\s+(\d+)", pages)
    print(f"pdf check: {pdf.name}, {count.group(1) if count else '?'} pages, {compared} chapter, "
          f"section, figure and equation numbers compared with the HTML, "
          f"{len(numbers)} numbered boxes, {len(problems)} problems")
    return problems


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=["build", "check"])
    args = parser.parse_args(argv)
    try:
        if args.action == "build":
            print(f"pdf: {build().relative_to(ROOT)}")
            return 0
        problems = check()
    except PdfError as exc:
        print(f"pdf error: {exc}", file=sys.stderr)
        return 1
    for problem in problems:
        print(f"  {problem}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
