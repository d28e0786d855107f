# Deep Learning, Derived and Verified: build and test entry points (see README.md).
#   make book   build the HTML book into _build/html (creates .venv the first time)
#   make test   lint, unit tests, consistency tests, nbval on every chapter, the strict book build,
#               and the browser check of every page (offline, headless Chromium)
#   make sync   after editing a chapter: regenerate dlcode/ and the executed .ipynb files of the
#               chapters that changed (make sync-all: every chapter)
#   make chapter CH=book/NN-slug.md   the fast loop for one chapter (execute, check, build, browse)
#   make pdf    the PDF edition in _build/pdf (installs Debian's TeX the first time), checked
#   make cpus   nbval and the unit tests again with OpenBLAS running two other CPUs' kernels
#   make release   dist/<version>/: HTML zip, PDF, notebook bundle, wheel, sdist, SHA256SUMS
#               (from a clean tree; make release ALLOW_DIRTY=1 to test with uncommitted changes)
#   make lab    JupyterLab at the versions pinned in requirements-lab.txt, opened on book/

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
export PYTHONHASHSEED := 0
# Small matrices: one BLAS thread is faster than two contending ones, and timings stay stable.
export OPENBLAS_NUM_THREADS := 1
export OMP_NUM_THREADS := 1

.PHONY: book test lint pytest browser chromium seed-cache export notebooks sync sync-all chapter lab \
        freeze clean tex pdf cpus release lab-check

$(STAMP): requirements.txt pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	@touch $@

venv: $(STAMP)

book: $(STAMP)
	$(VENV)/bin/jupyter-book build . --all --warningiserror --nitpick --keep-going
	$(PY) tools/check_html.py _build/html
	@echo "The book is in _build/html: open file://$(CURDIR)/_build/html/index.html"

lint: $(STAMP)
	$(VENV)/bin/ruff check .

pytest: $(STAMP)
	$(PY) -m pytest

# Headless Chromium for the browser check (Debian package; installed once if missing).
chromium:
	@command -v chromium >/dev/null 2>&1 || { echo "installing Debian's chromium"; \
	  apt-get install -y -q chromium >/dev/null 2>&1 || \
	  { apt-get update -q >/dev/null && apt-get install -y -q chromium >/dev/null; }; }

browser: chromium
	$(PY) tools/browser_check.py

# After nbval has re-executed every chapter and matched its stored outputs, the build reuses those
# outputs instead of executing every chapter a second time.
seed-cache: $(STAMP)
	$(PY) tools/seed_cache.py

test: lint chromium pytest seed-cache book browser

# The book must print the same on every CPU. NumPy's OpenBLAS picks its kernels by CPU, and other
# kernels round differently in the last bits: rerun every notebook (nbval, strict) and the unit
# tests with OpenBLAS forced to two other CPUs' kernels; every stored output must still match.
CORETYPES := Haswell Prescott
cpus: $(STAMP)
	@for k in $(CORETYPES); do echo "== OpenBLAS kernels: $$k"; \
	  OPENBLAS_CORETYPE=$$k $(PY) -m pytest -q -p no:cacheprovider \
	    --ignore=tests/test_browser_check.py --ignore=tests/test_pdf.py || exit 1; done

# The PDF edition: Debian's TeX (installed once if missing, like chromium), Sphinx's LaTeX
# builder reusing the execution cache, then tools/pdf.py patches, compiles and checks it.
TEX_PACKAGES := texlive-latex-extra texlive-xetex latexmk texlive-fonts-recommended \
                texlive-fonts-extra xindy fonts-freefont-otf poppler-utils
tex:
	@{ command -v xelatex && command -v latexmk && command -v pdftotext && kpsewhich bbm.sty; } \
	  >/dev/null 2>&1 || { echo "installing Debian's TeX (about 0.8 GB)"; \
	  apt-get install -y -q $(TEX_PACKAGES) >/dev/null 2>&1 || \
	  { apt-get update -q >/dev/null && apt-get install -y -q $(TEX_PACKAGES) >/dev/null; }; }

pdf: $(STAMP) tex
	@test -f _build/html/index.html || $(MAKE) book
	$(PY) tools/seed_cache.py >/dev/null
	$(VENV)/bin/jupyter-book build . --builder latex --keep-going -q
	$(PY) tools/pdf.py build
	$(PY) tools/pdf.py check
	@# Rebuild the HTML (cached) so that every page's download menu offers the PDF.
	$(VENV)/bin/jupyter-book build . --all --warningiserror --nitpick --keep-going -q
	$(PY) tools/browser_check.py book/intro.html

export: $(STAMP)
	$(PY) tools/export.py

# Execute only the chapters whose source, or a dlcode module they import, changed since their
# notebook was written (stamps in _build/pair-stamps.json); sync-all executes every chapter.
notebooks: export
	$(PY) tools/pair.py --changed

sync: notebooks

sync-all: export
	$(PY) tools/pair.py

# The edit loop for one chapter: regenerate dlcode, execute the chapter, check its notebook and
# page, rebuild the HTML from the execution cache and check the chapter's page in the browser.
#   make chapter CH=book/03-knn.md
chapter: export chromium
	@test -n "$(CH)" || { echo "usage: make chapter CH=book/NN-slug.md"; exit 2; }
	$(PY) tools/pair.py $(CH)
	$(PY) tools/pair.py --check $(CH)
	$(PY) tools/page_stats.py $(CH)
	$(PY) tools/seed_cache.py >/dev/null
	$(VENV)/bin/jupyter-book build . --warningiserror --nitpick --keep-going -q
	$(PY) tools/browser_check.py $(patsubst %.md,%.html,$(CH))

# JupyterLab at pinned versions (requirements-lab.txt), never the latest of the day. Jupytext's
# server extension serves book/*.md as notebooks; the overrides make its "Jupytext Notebook" the
# default viewer of Markdown and MyST files in this venv's JupyterLab, so a double click opens a
# chapter as a notebook (JupyterLab's own default is the text editor). make lab-check shows both
# without starting a server.
LAB_STAMP := $(VENV)/.lab-installed
LAB_OVERRIDES := $(VENV)/share/jupyter/lab/settings/overrides.json
$(LAB_STAMP): $(STAMP) requirements-lab.txt
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-lab.txt
	mkdir -p $(dir $(LAB_OVERRIDES))
	echo '{"@jupyterlab/docmanager-extension:plugin": {"defaultViewers":' \
	  '{"markdown": "Jupytext Notebook", "myst": "Jupytext Notebook"}}}' > $(LAB_OVERRIDES)
	@touch $@

lab-check: $(LAB_STAMP)
	$(VENV)/bin/jupyter labextension list 2>&1 | grep -E "jupyterlab-jupytext .*enabled.*OK"
	$(VENV)/bin/jupyter server extension list 2>&1 | grep -E "jupytext .*enabled"
	grep -q '"markdown": "Jupytext Notebook"' $(LAB_OVERRIDES) && echo "default viewer of .md: Jupytext Notebook"

lab: $(LAB_STAMP)
	$(VENV)/bin/jupyter lab $(if $(filter 0,$(shell id -u)),--allow-root) book/

# The versioned offline release (tools/release.py): checks that the version files agree, reuses
# _build/html and the PDF only when the stamps it wrote after their successful builds name this
# commit (clean tree) and version (the PDF is checked again), else runs make book / make pdf first.
release: $(STAMP) chromium tex
	$(PY) tools/release.py $(if $(filter-out 0,$(ALLOW_DIRTY)),--allow-dirty)

freeze: $(STAMP)
	$(PY) -m pip install --quiet -r requirements.in
	{ echo "# Fully pinned environment of the book (generated by 'make freeze' from requirements.in)."; \
	  $(PY) -m pip freeze --all --exclude-editable | grep -v '^pip==' \
	    | sed -E 's/^(torch==[^+]*)\+cpu$$/\1/'; } > requirements.txt

clean:
	rm -rf _build
