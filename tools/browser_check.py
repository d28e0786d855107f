"""Load built pages in headless Chromium with the network blocked; record requests and screenshots.

For each page: serve ``_build/html`` on localhost, load the page with a fresh profile, the network
blocked for every host but localhost, and a net log. Fails if the page requested any non-local URL,
or if its rendered DOM still shows raw TeX (``$$``, ``\\(``) or lacks MathJax output where the page
has math. Writes ``<page>.png`` screenshots into ``_build/screenshots``.

Usage::

    python tools/browser_check.py [pages ...]   # default: every page of the book
"""

from __future__ import annotations

import functools
import http.server
import json
import re
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HTML = ROOT / "_build" / "html"
SHOTS = ROOT / "_build" / "screenshots"
FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-default-apps", "--disable-extensions", "--hide-scrollbars",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
    "--virtual-time-budget=8000", "--window-size=1280,1600",
]


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if path := shutil.which(name):
            return path
    raise SystemExit("chromium not found: apt-get install -y chromium")


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def serve(directory: Path):
    handler = functools.partial(_Quiet, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def requested_urls(netlog: Path) -> list[str]:
    """URLs the *page* requested, from a Chromium net log.

    Chromium itself also contacts Google services (time sync, accounts); those requests carry the
    initiator "not an origin" and are not the page's doing, so they are left out.
    """
    text = netlog.read_text(encoding="utf-8", errors="replace").rstrip().rstrip(",")
    try:
        events = json.loads(text)["events"]
    except json.JSONDecodeError:  # the log of a killed browser lacks its closing brackets
        events = json.loads(text + "]}")["events"]
    urls = set()
    for event in events:
        params = event.get("params") or {}
        if "url" in params and "initiator" in params and params["initiator"] != "not an origin":
            urls.add(params["url"])
    return sorted(urls)


def load(url: str, page: str) -> tuple[str, list[str]]:
    """Rendered DOM of ``url`` and the URLs it requested; writes a screenshot."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    shot = SHOTS / (page.replace("/", "__").removesuffix(".html") + ".png")
    with tempfile.TemporaryDirectory() as profile:
        netlog = Path(profile) / "net.json"
        common = [chromium(), *FLAGS, f"--user-data-dir={profile}/p", f"--log-net-log={netlog}"]
        dom = subprocess.run([*common, "--dump-dom", url], capture_output=True, text=True,
                             timeout=120).stdout
        urls = requested_urls(netlog) if netlog.exists() else []
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run([chromium(), *FLAGS, f"--user-data-dir={profile}/p",
                        f"--screenshot={shot}", url], capture_output=True, timeout=120)
    return dom, urls


def check_page(base: str, page: str) -> list[str]:
    dom, urls = load(f"{base}/{page}", page)
    problems = []
    if not dom.strip():
        problems.append(f"{page}: empty DOM (page failed to load)")
    external = [u for u in urls if not u.startswith(("http://127.0.0.1", "data:", "blob:"))
                and u.split(":")[0] in ("http", "https", "ws", "wss")]
    problems += [f"{page}: requested external {u}" for u in external]
    source = (HTML / page).read_text(encoding="utf-8")
    has_math = bool(re.search(r'class="math[ "]', source))
    if has_math and "<mjx-container" not in dom:
        problems.append(f"{page}: has math but MathJax produced no output")
    # What a reader sees as text: no scripts, styles, code, or typeset math.
    hidden = r"<(script|style|pre|code|mjx-container|title)\b.*?</\1>"
    visible = re.sub(hidden, " ", dom, flags=re.S)
    visible = re.sub(r"<[^>]+>", " ", visible)
    raw = re.search(r"\$\$|\\\(|\\\[|\\(mathbf|frac|nabla|top|sum|partial|mathbb)\b", visible)
    if raw:
        context = visible[max(raw.start() - 40, 0) : raw.end() + 20]
        problems.append(f"{page}: raw TeX is visible: ...{context}...")
    return problems


def main(argv: list[str]) -> int:
    pages = argv[1:] or sorted(
        p.relative_to(HTML).as_posix() for p in HTML.rglob("*.html")
        if "_static" not in p.parts and p.name not in ("genindex.html", "search.html")
    )
    server = serve(HTML)
    base = f"http://127.0.0.1:{server.server_address[1]}"
    problems = []
    try:
        for page in pages:
            found = check_page(base, page)
            print(json.dumps({"page": page, "problems": found}))
            problems += found
    finally:
        server.shutdown()
    print(f"browser_check: {len(pages)} pages, {len(problems)} problems; screenshots in {SHOTS}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
