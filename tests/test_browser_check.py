"""The browser check passes a good page and fails each kind of broken page (fixture pages)."""

import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))

import browser_check  # noqa: E402

pytestmark = pytest.mark.skipif(
    not any(shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome")),
    reason="chromium is not installed (make test installs it)",
)

HEAD = '<html><head><meta charset="utf-8">{scripts}</head><body>{body}</body></html>'
LOCAL_MATHJAX = '<script defer src="_static/mathjax/tex-mml-chtml.js"></script>'
MATH = '<p>Inline <span class="math notranslate nohighlight">\\(\\mathbf{x}^\\top y\\)</span>.</p>'


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    root = tmp_path_factory.mktemp("site")
    shutil.copytree(ROOT / "vendor" / "mathjax", root / "_static" / "mathjax")
    Image.fromarray((np.arange(600).reshape(20, 30) % 251).astype(np.uint8)).save(root / "fig.png")
    Image.fromarray(np.full((20, 30), 255, np.uint8)).save(root / "blank.png")
    pages = {
        "good.html": (LOCAL_MATHJAX, MATH + '<img src="fig.png"><a href="other.html#sec">ok</a>'),
        "other.html": ("", '<h2 id="sec">Section</h2>'),
        "cdn.html": ('<script src="https://cdn.jsdelivr.net/npm/mathjax@3/es5/tex-mml-chtml.js">'
                     "</script>", MATH),
        "untypeset.html": ("", MATH),
        "images.html": ("", '<img src="missing.png"><img src="blank.png">'),
        "links.html": ("", '<a href="nowhere.html">x</a> <a href="other.html#nope">y</a>'),
    }
    for name, (scripts, body) in pages.items():
        (root / name).write_text(HEAD.format(scripts=scripts, body=body), encoding="utf-8")
    return root


def problems(site, page):
    return browser_check.check(site, [page], shots=None)


def test_a_good_page_passes(site):
    assert problems(site, "good.html") == []


def test_external_request_fails(site):
    found = problems(site, "cdn.html")
    assert any("requested external https://cdn.jsdelivr.net/" in p for p in found)
    assert any("MathJax produced no output" in p for p in found)


def test_untypeset_math_fails(site):
    found = problems(site, "untypeset.html")
    assert any("raw TeX is visible" in p for p in found)


def test_missing_and_blank_images_fail(site):
    found = problems(site, "images.html")
    assert any("image missing.png is missing or empty" in p for p in found)
    assert any("image blank.png is blank" in p for p in found)
    assert any("missing file /missing.png" in p for p in found)


def test_broken_links_and_anchors_fail(site):
    found = problems(site, "links.html")
    assert "links.html: broken link nowhere.html" in found
    assert "links.html: broken anchor other.html#nope" in found
