"""tools/pdf.py: the LaTeX patches that make the PDF numbered like the HTML, and its checker
failing on each kind of problem (synthetic sources; no TeX needed)."""

import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))

import pdf  # noqa: E402

TEX = r"""\begin{document}
\sphinxtableofcontents
\pagestyle{normal}
Intro text.
\part{Front matter}
\chapter{Notation}
\part{Foundations}
\chapter{Matrix calculus}
\section{Linear functions}
\label{\detokenize{book/01-mc:linear-functions}}\label{book/01-mc:thm-linear}
\begin{sphinxadmonition}{note}{Theorem 1.3.1 (Gradient of a linear function)}
Text.
\end{sphinxadmonition}

\begin{sphinxadmonition}{note}
\sphinxAtStartPar
Proof. Easy.
\end{sphinxadmonition}
See {\hyperref[\detokenize{book/01-mc:thm-linear}]{\sphinxcrossref{Theorem 1.3.1}}} and
Theorem 1.3.10 of elsewhere; the gradient of zᵀAx, \(\mathbf{\Sigma} \mathbf{x}\).
\phantomsection \label{exercise:ex-ls}

\begin{sphinxadmonition}{note}{Exercise 1.8.1 (Least squares)}
\end{sphinxadmonition}
\begin{sphinxadmonition}{note}{Solution to Exercise 1.8.1 (Least squares)}
\end{sphinxadmonition}
\begin{sphinxVerbatim}
zᵀ = 1
\end{sphinxVerbatim}
\part{Back matter}
\chapter{Errata}
\end{document}
"""
NUMBERS = {"thm-linear": ("Theorem", "1.1"), "ex-ls": ("Exercise", "1.1")}


def test_patch_numbers_like_the_html():
    out = pdf.patch(TEX, NUMBERS)
    assert "\\chapter*{Introduction}\\addcontentsline{toc}{chapter}{Introduction}" in out
    assert "\\part{Front matter}" not in out
    assert out.index("\\setcounter{secnumdepth}{-2}") < out.index("\\chapter{Notation}")
    reset = "\\setcounter{secnumdepth}{2}\\setcounter{chapter}{0}"
    assert out.index(reset) < out.index("\\part{Foundations}") < out.index("\\chapter{Matrix")
    assert out.rindex("\\setcounter{secnumdepth}{-2}") < out.index("\\part{Back matter}")
    assert "{Theorem 1.1 (Gradient of a linear function)}" in out
    assert "\\sphinxcrossref{Theorem 1.1}" in out and not re.search(r"Theorem 1\.3\.1(?!\d)", out)
    assert "Theorem 1.3.10 of elsewhere" in out  # another number is left alone
    assert "{Exercise 1.1 (Least squares)}" in out
    assert "{Solution to Exercise 1.1 (Least squares)}" in out
    assert "\\begin{sphinxadmonition}{note}{Proof}\n\\sphinxAtStartPar\nEasy." in out
    assert "z\\textsuperscript{T}Ax" in out and "zᵀ = 1" in out  # code keeps its characters
    assert "\\(\\symbf{\\Sigma} \\mathbf{x}\\)" in out


def test_patch_refuses_a_source_it_does_not_understand():
    with pytest.raises(pdf.PdfError, match="Foundations"):
        pdf.patch(TEX.replace("\\part{Foundations}", ""), NUMBERS)
    with pytest.raises(pdf.PdfError, match="a Theorem in LaTeX but a Lemma in the HTML"):
        pdf.patch(TEX, {"thm-linear": ("Lemma", "1.1")})


def test_log_problems_finds_each_kind():
    tex = "a\n\\begin{sphinxVerbatim}\ncode\n\\end{sphinxVerbatim}\nprose\n"
    log = "\n".join([
        "Missing character: There is no ᵀ (U+1D40) in font [FreeSerifItalic.otf]/OT:script=latn;!",
        "LaTeX Warning: Hyper reference `book/04:ex-lc-label-smoothing' on page 299 undefined on",
        " input line 19854.",
        "LaTeX Warning: File `missing.png' not found on input line 3.",
        "Overfull \\hbox (12.5pt too wide) in paragraph at lines 3--3",
        "Overfull \\hbox (30.0pt too wide) in paragraph at lines 5--5",
    ])
    found = pdf.log_problems(log, tex)
    assert any("missing character U+1D40" in p for p in found)
    assert any("unresolved reference book/04:ex-lc-label-smoothing" in p for p in found)
    assert any("missing file missing.png" in p for p in found)
    cut = [p for p in found if "code line cut" in p]
    assert len(cut) == 1 and "line 3 " in cut[0]  # prose overflow (line 5) is not code
    assert pdf.log_problems("Output written on book.pdf.", tex) == []


def test_numbers_are_compared_between_the_builds(tmp_path):
    html, latex = tmp_path / "html", tmp_path / "latex"
    (html / "book").mkdir(parents=True)
    latex.mkdir()
    (html / "book" / "01-mc.html").write_text(
        '<h1><span class="section-number">1. </span>Matrix calculus<a class="headerlink" '
        'href="#">#</a></h1><h2><span class="section-number">1.3. </span>Linear functions'
        '<a class="headerlink" href="#">#</a></h2>'
        '<figure class="align-default" id="fig-steps"><img src="x.png"/><figcaption><p>'
        '<span class="caption-number">Fig. 1.2 </span>Steps.</p></figcaption></figure>'
        '<div class="math notranslate nohighlight" id="equation-eq-fd">\n<span class="eqno">(1.4)'
    )
    (latex / f"{pdf.NAME}.toc").write_text(
        "\\contentsline {chapter}{\\numberline {1}Matrix calculus}{3}{chapter.1}%\n"
        "\\contentsline {section}{\\numberline {1.3}Linear functions}{5}{section.1.3}%\n")
    aux = ("\\newlabel{book/01-mc:fig-steps}{{1.2}{7}}\n"
           "\\newlabel{equation:book/01-mc:eq-fd}{{1.4}{6}}\n")
    (latex / f"{pdf.NAME}.aux").write_text(aux)
    problems, compared = pdf.number_problems(html, latex)
    assert problems == [] and compared == 4
    (latex / f"{pdf.NAME}.aux").write_text(aux.replace("{{1.2}", "{{2.2}"))
    problems, _ = pdf.number_problems(html, latex)
    assert problems == ["figure:book/01-mc:fig-steps: HTML 1.2, PDF 2.2"]


def test_a_reference_numbered_by_latex_gets_the_html_number():
    tex = ("\\label{exercise:ex-a}\n(\\hyperref[\\detokenize{book/04-lc:ex-a}]"
           "{Exercise \\ref{\\detokenize{book/04-lc:ex-a}}}).")
    out, _ = pdf.renumber(tex, {"ex-a": ("Exercise", "4.7")})
    assert out.endswith("(\\hyperref[exercise:ex-a]{Exercise 4.7}).")


def test_title_page_must_show_this_release():
    # pdftotext's text of a title page: the words may be split across lines.
    page = "Deep Learning, Derived and\nVerified\n\nRelease\n1.0.0\n\nThe dlcode authors\n"
    assert pdf.title_text_problems(page, "1.0.0") == []
    for stale in ("1.0.1", "1.0", "0.9.0", "1.0.0.1"):
        problems = pdf.title_text_problems(page.replace("1.0.0", stale), "1.0.0")
        assert problems == ["the title page does not show 'Release 1.0.0' "
                            "(pyproject.toml's version)"], stale
    assert pdf.title_text_problems(page.replace("Release", "Version"), "1.0.0")
    assert pdf.title_text_problems("Release 1.0.0.\n", "1.0.0") == []  # end of a sentence
