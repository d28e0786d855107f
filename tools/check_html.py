"""Fail if a built page would load anything from the network or shows untypeset math.

A static check of ``_build/html``: every ``src``/``href`` that the browser fetches on page load
(scripts, stylesheets, images, fonts, iframes) must be local, and the MathJax that typesets the math
must be the vendored copy. Run by ``make book``; the browser-level check lives with the CI tests.
"""

from __future__ import annotations

import re
import sys
from html.parser import HTMLParser
from pathlib import Path

LOADING = {("script", "src"), ("img", "src"), ("iframe", "src"), ("source", "src"),
           ("video", "src"), ("audio", "src"), ("embed", "src"), ("object", "data")}
LINK_RELS_FETCHED = {"stylesheet", "preload", "modulepreload", "icon", "prefetch", "manifest"}
EXTERNAL = re.compile(r"^(https?:)?//", re.IGNORECASE)


class _Loads(HTMLParser):
    def __init__(self):
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        for t, a in LOADING:
            if tag == t and attrs.get(a):
                self.urls.append(attrs[a])
        if tag == "link" and set((attrs.get("rel") or "").split()) & LINK_RELS_FETCHED:
            self.urls.append(attrs.get("href") or "")


def problems(html_dir: Path) -> list[str]:
    found = []
    pages = sorted(html_dir.rglob("*.html"))
    if not pages:
        return [f"{html_dir}: no HTML pages (was the book built?)"]
    for page in pages:
        text = page.read_text(encoding="utf-8")
        parser = _Loads()
        parser.feed(text)
        for url in parser.urls:
            if EXTERNAL.match(url):
                found.append(f"{page.relative_to(html_dir)}: loads external {url}")
        if ("$$" in text or "\\(" in text) and "mathjax/tex-mml-chtml.js" not in text:
            found.append(f"{page.relative_to(html_dir)}: has math but not the vendored MathJax")
    for css in sorted(html_dir.rglob("*.css")):
        for url in re.findall(r"@import\s+url\(['\"]?(https?://[^'\")]+)", css.read_text("utf-8")):
            found.append(f"{css.relative_to(html_dir)}: imports external {url}")
    if not (html_dir / "_static" / "mathjax" / "tex-mml-chtml.js").exists():
        found.append("_static/mathjax/tex-mml-chtml.js is missing")
    return found


# Topics a reader must find with the search box: each phrase's (stemmed) words in one page.
SEARCH_TOPICS = ("Nesterov", "Xavier", "bias correction", "curse of dimensionality",
                 "batch normalization", "dropout", "backpropagation", "softmax")


def search_problems(html_dir: Path, topics=SEARCH_TOPICS) -> list[str]:
    """Topics whose words never occur together in one page of the search index."""
    import json

    index = html_dir / "searchindex.js"
    if not index.exists():
        return ["searchindex.js is missing"]
    text = index.read_text(encoding="utf-8")
    data = json.loads(text[text.index("(") + 1 : text.rindex(")")])
    terms = {**data["terms"], **data["titleterms"]}

    import snowballstemmer  # the stemmer Sphinx's English search index uses

    stem = snowballstemmer.stemmer("porter").stemWord

    def pages(word):
        docs = terms.get(stem(word.lower()), [])
        return set(docs if isinstance(docs, list) else [docs])

    missing = []
    for topic in topics:
        words = [w for w in topic.split() if w not in ("of", "the")]
        if not set.intersection(*(pages(w) for w in words)):
            missing.append(f"search finds no page for {topic!r}")
    return missing


def main(argv: list[str]) -> int:
    html_dir = Path(argv[1] if len(argv) > 1 else "_build/html")
    found = problems(html_dir) + search_problems(html_dir)
    for line in found:
        print(line)
    n = len(list(html_dir.rglob("*.html")))
    print(f"check_html: {n} pages, {len(found)} problems")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
