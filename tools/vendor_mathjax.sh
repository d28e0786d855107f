#!/usr/bin/env bash
# Re-create vendor/mathjax from the npm registry (the only network use; the build itself is offline).
set -euo pipefail
version=${1:-3.2.2}
root=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "mathjax@$version" >/dev/null && tar xzf mathjax-*.tgz)
src=$tmp/package/es5
dst=$root/vendor/mathjax
rm -rf "$dst"
mkdir -p "$dst/output/chtml/fonts" "$dst/input/tex"
cp "$src/tex-mml-chtml.js" "$dst/"
cp -r "$src/output/chtml/fonts/woff-v2" "$dst/output/chtml/fonts/"
cp -r "$src/input/tex/extensions" "$dst/input/tex/"
cp -r "$src/a11y" "$src/ui" "$dst/"
cp "$tmp/package/LICENSE" "$dst/"
echo "vendored MathJax $version into $dst ($(du -sh "$dst" | cut -f1))"
