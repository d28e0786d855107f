"""Put the paired, executed notebooks into the book build's execution cache.

``make test`` runs this after nbval has re-executed every chapter and found the stored outputs
unchanged: the build can then reuse those outputs instead of executing every chapter a second time.
Jupyter-cache keys a notebook by the hash of its code cells and kernelspec, so a chapter whose
source differs from its notebook is simply not matched and is executed by the build as usual.
"""

from __future__ import annotations

import sys
from pathlib import Path

from jupyter_cache import get_cache

sys.path.insert(0, str(Path(__file__).resolve().parent))
from export import ROOT, notebook_chapters  # noqa: E402


def main() -> int:
    cache = get_cache(str(ROOT / "_build" / ".jupyter_cache"))
    for md in notebook_chapters(ROOT):
        record = cache.cache_notebook_file(str(md.with_suffix(".ipynb")), uri=str(md),
                                           overwrite=True)
        print(f"cached {md.relative_to(ROOT)} (hash {record.hashkey[:10]})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
