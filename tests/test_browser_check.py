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


COLUMN = ('<article class="bd-article" style="width:500px"><p>Some prose.</p>{more}'
          '<div class="cell_input"><pre style="overflow:auto">{code}</pre></div></article>')


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
        "wide.html": ("", COLUMN.format(code="x = 1  # " + "long comment " * 30,
                                      more="<p>More.</p>")),
        "narrow.html": ("", COLUMN.format(code="x = 1\ny = 2", more="")),
        "hidden.html": ("", COLUMN.format(code="short", more="<p>More.</p>")
                        + '<details><pre style="width:50px; overflow:auto">' + "z" * 300
                        + "</pre></details>"),
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


def test_code_block_wider_than_the_column_fails(site):
    found = problems(site, "wide.html")
    assert len(found) == 1 and "code block wider than the column" in found[0]
    assert "'x = 1  # long comment" in found[0]


def test_narrow_and_folded_code_blocks_pass(site):
    share = [p for p in problems(site, "narrow.html") if "visible code is" in p]
    assert problems(site, "narrow.html") == share  # only the share: 2 code lines, 1 of prose
    assert problems(site, "hidden.html") == []  # a closed <details> hides the wide block


def test_code_share_counts_visible_code_and_text_lines(site, monkeypatch):
    server = browser_check.serve(site)
    try:
        dom, _ = browser_check.load(f"http://127.0.0.1:{server.server_address[1]}/narrow.html")
    finally:
        server.shutdown()
        server.server_close()
    report = browser_check.layout(dom)
    assert report["code"] == 2 and report["text"] == 1 and report["overflow"] == []
    assert browser_check.code_share(report) == pytest.approx(2 / 3)
    assert "visible code is 67%" in browser_check.layout_problems("narrow.html", report)[0]
    # A chapter pending revision is reported, not failed (the list is empty once every chapter
    # is revised: the mechanism is tested with a stand-in).
    monkeypatch.setattr(browser_check, "PENDING_REVISION", ("book/99-pending.html",))
    assert browser_check.layout_problems("book/99-pending.html", report) == []  # reported only

