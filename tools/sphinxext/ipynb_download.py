"""Sphinx extension: offer each chapter's executed notebook in the page's download menu.

sphinx-book-theme only adds the ".ipynb" download when a launch service (Binder, Colab, ...) is
configured, which an offline book does not have. This extension copies the chapter's paired,
executed ``book/NN-slug.ipynb`` (the one nbval tests) next to the page sources and tells the theme
about it.
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


def setup(app):
    # Before sphinx-book-theme builds its header buttons (priority 501).
    app.connect("html-page-context", _offer_notebook, priority=400)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
