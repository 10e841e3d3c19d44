#!/usr/bin/env bash
# `make package`: the one-folder app dist/CueDeck (PyInstaller, packaging/cuedeck.spec) and
# its download, dist/CueDeck-VERSION-linux-x86_64.tar.gz, with install.sh and uninstall.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$SECONDS
version=$(.venv/bin/python -c "import engine; print(engine.__version__)")
.venv/bin/pyinstaller --noconfirm --log-level WARN --workpath build/package --distpath dist packaging/cuedeck.spec
app=dist/CueDeck
ln -sfn cuedeck "$app/cuedeck-desktop"  # the launcher is the same executable under another name
cp packaging/install.sh packaging/uninstall.sh packaging/cuedeck.desktop packaging/cuedeck.svg "$app/"
built=$SECONDS
tarball=dist/CueDeck-$version-linux-x86_64.tar.gz
rm -f dist/CueDeck-*.tar.gz  # one download in dist/: this version's
gzip=$(command -v pigz || command -v gzip)  # pigz: the same format, on every core
tar -C dist -cf - CueDeck | "$gzip" -1 > "$tarball.part" && mv "$tarball.part" "$tarball"
echo "package: $app built in $((built - start)) s, $(du -sh "$app" | cut -f1)" \
  "($(du -shc "$app"/_internal/nvidia "$app"/_internal/torch/lib | tail -1 | cut -f1) of it torch's CUDA and CPU libraries);" \
  "$tarball ($(du -sh "$tarball" | cut -f1)) in $((SECONDS - built)) s"
