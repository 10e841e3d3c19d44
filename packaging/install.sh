#!/bin/sh
# Installs this unpacked CueDeck folder: the app in ~/.local/lib/cuedeck, `cuedeck` and
# `cuedeck-desktop` in ~/.local/bin, the menu entry and icon in ~/.local/share; as root in
# /opt/cuedeck, /usr/local/bin and /usr/local/share. `--prefix DIR` puts all three under DIR.
# Every path it adds is listed in the app's installed-files; its uninstall.sh removes exactly
# those, and so does a failed install (a full disk, say) before it exits.
set -eu
here=$(cd "$(dirname "$0")" && pwd)

case "${1:-}" in
  --prefix) [ -n "${2:-}" ] || { echo "install.sh: --prefix needs a folder" >&2; exit 2; }
            mkdir -p "$2"; prefix=$(cd "$2" && pwd)
            app=$prefix/lib/cuedeck bin=$prefix/bin share=$prefix/share ;;
  "") if [ "$(id -u)" = 0 ]; then app=/opt/cuedeck bin=/usr/local/bin share=/usr/local/share
      else app=$HOME/.local/lib/cuedeck bin=$HOME/.local/bin share=${XDG_DATA_HOME:-$HOME/.local/share}; fi ;;
  *) echo "usage: install.sh [--prefix DIR]" >&2; exit 2 ;;
esac
[ "$here" != "$app" ] || { echo "install.sh: run the install.sh of the unpacked download, not the installed one" >&2; exit 2; }

# An earlier install is replaced, not mixed with this one.
[ ! -x "$app/uninstall.sh" ] || "$app/uninstall.sh" >/dev/null

list=$(mktemp)  # moves into the app's folder once that exists
make_dir() {  # mkdir -p that lists each folder it creates, parents first
  [ -d "$1" ] && return 0
  make_dir "$(dirname "$1")"
  mkdir "$1" && echo "$1/" >> "$list"
}
place() {  # place SOURCE TARGET: a copy, a link when SOURCE is "->PATH", the menu entry when "desktop"
  make_dir "$(dirname "$2")"
  echo "$2" >> "$list"
  case "$1" in
    "->"*) ln -s "${1#->}" "$2" ;;
    desktop) sed "s|^Exec=cuedeck-desktop|Exec=$app/cuedeck-desktop|" "$here/cuedeck.desktop" > "$2" ;;
    *) cp "$1" "$2" ;;
  esac
}

make_dir "$app"
cp "$here/uninstall.sh" "$app/"
mv "$list" "$app/installed-files" && list=$app/installed-files
trap '[ -n "${installed:-}" ] || { echo "install.sh: the install failed; what it added is removed again" >&2; "$app/uninstall.sh" >/dev/null; }' EXIT
trap 'exit 1' INT TERM HUP

echo "installing CueDeck into $app ($(du -sh "$here" | cut -f1))…"
cp -R "$here/." "$app/"
place "->$app/cuedeck" "$bin/cuedeck"
place "->$app/cuedeck-desktop" "$bin/cuedeck-desktop"
place desktop "$share/applications/cuedeck.desktop"  # Exec: the app itself, PATH or not
place "$here/cuedeck.svg" "$share/icons/hicolor/scalable/apps/cuedeck.svg"
installed=1

echo "CueDeck is installed: start it from the applications menu, or with cuedeck-desktop; cuedeck is the command line."
case ":$PATH:" in *":$bin:"*) ;; *) echo "note: $bin is not on your PATH; add it to start CueDeck by name." ;; esac
echo "To remove it: $app/uninstall.sh"
