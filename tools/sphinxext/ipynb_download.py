"""Sphinx extension: offer each chapter's executed notebook, and the PDF edition if it has been
built, in the page's download menu.

sphinx-book-theme only adds the ".ipynb" download when a launch service (Binder, Colab, ...) is
configured, which an offline book does not have. This extension copies the chapter's paired,
executed ``book/NN-slug.ipynb`` (the one nbval tests) next to the page sources and tells the theme
about it.

If ``make pdf`` has built ``_build/pdf/<name>.pdf``, it is copied into the site (``_downloads/``)
and the menu's ".pdf" entry, which would otherwise print the page, downloads the book's PDF.
"""

from __future__ import annotations

import shutil
from pathlib import Path


def _offer_notebook(app, pagename, templatename, context, doctree):
    if doctree is None:
        return
    source = Path(app.env.doc2path(pagename))
    notebook = source.with_suffix(".ipynb")
    if source.suffix != ".md" or not notebook.exists():
        return
    target = Path(app.outdir) / "_sources" / Path(pagename).with_suffix(".ipynb")
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(notebook, target)
    context["ipynb_source"] = f"{pagename}.ipynb"


def _pdf_edition(app) -> Path | None:
    documents = app.config.latex_documents
    if not documents:
        return None
    pdf = Path(app.srcdir) / "_build" / "pdf" / Path(documents[0][1]).with_suffix(".pdf").name
    return pdf if pdf.exists() else None


def _offer_pdf(app, pagename, templatename, context, doctree):
    pdf = _pdf_edition(app)
    if pdf is None:
        return
    target = Path(app.outdir) / "_downloads" / pdf.name
    if not target.exists() or target.stat().st_mtime < pdf.stat().st_mtime:
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(pdf, target)
    for group in context.get("header_buttons", []):
        for button in group.get("buttons", []):
            if button.get("label") == "download-pdf-button":
                button.clear()
                button.update({
                    "type": "link", "url": f"{context['pathto']('_downloads', 1)}/{pdf.name}",
                    "text": "book.pdf", "icon": "fas fa-file-pdf",
                    "tooltip": "Download the whole book (PDF)", "label": "download-pdf-button",
                })


def setup(app):
    # Before sphinx-book-theme builds its header buttons (priority 501).
    app.connect("html-page-context", _offer_notebook, priority=400)
    # After it: replace its "print this page" entry with the book's PDF, if built.
    app.connect("html-page-context", _offer_pdf, priority=600)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
