#!/bin/sh
# Removes what install.sh added, listed in installed-files beside this script: the links, the
# menu entry and icon, this folder, and the folders install.sh made if they are empty again.
set -eu
app=$(cd "$(dirname "$0")" && pwd)
[ -f "$app/installed-files" ] || {
  echo "uninstall.sh: $app has no installed-files list: it was not installed by install.sh" >&2; exit 1; }
added=$(tac "$app/installed-files")  # newest first: a folder's contents before the folder
echo "$added" | grep -v '/$' | while IFS= read -r path; do rm -f "$path"; done
rm -rf "$app"
echo "$added" | grep '/$' | while IFS= read -r dir; do rmdir "$dir" 2>/dev/null || true; done
echo "CueDeck is removed (your library, settings and models stay in ~/.local/share/cuedeck and ~/.config/cuedeck)."
