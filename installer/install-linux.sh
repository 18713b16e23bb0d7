#!/bin/sh
# Installs XRayView from the unpacked archive; no network, no Python needed.
#   sudo ./install.sh            -> /opt/xrayview, menu entry for every user
#   ./install.sh                 -> ~/.local/share/xrayview, menu entry for this user
#   ./install.sh --prefix DIR    -> DIR
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
if [ "${1:-}" = "--prefix" ] && [ -n "${2:-}" ]; then
  PREFIX=$2
elif [ "$(id -u)" -eq 0 ]; then
  PREFIX=/opt/xrayview
else
  PREFIX=${XDG_DATA_HOME:-$HOME/.local/share}/xrayview
fi
if [ "$(id -u)" -eq 0 ]; then
  APPS=/usr/share/applications; ICONS=/usr/share/icons/hicolor/256x256/apps; BIN=/usr/local/bin
else
  APPS=${XDG_DATA_HOME:-$HOME/.local/share}/applications; ICONS=${XDG_DATA_HOME:-$HOME/.local/share}/icons/hicolor/256x256/apps
  BIN=$HOME/.local/bin
fi
mkdir -p "$(dirname "$PREFIX")" "$APPS" "$ICONS" "$BIN"
rm -rf "$PREFIX.new" && cp -a "$HERE/xrayview" "$PREFIX.new"
rm -rf "$PREFIX.old" && { [ ! -e "$PREFIX" ] || mv "$PREFIX" "$PREFIX.old"; } && mv "$PREFIX.new" "$PREFIX" && rm -rf "$PREFIX.old"
cp "$HERE/xrayview.png" "$ICONS/xrayview.png"
sed "s|@PREFIX@|$PREFIX|g" "$HERE/xrayview.desktop" > "$APPS/xrayview.desktop"
for tool in xrayview xrayview-predict xrayview-train xrayview-eval; do ln -sf "$PREFIX/$tool" "$BIN/$tool"; done
command -v update-desktop-database >/dev/null 2>&1 && update-desktop-database "$APPS" >/dev/null 2>&1 || true
echo "XRayView installed in $PREFIX (menu entry: $APPS/xrayview.desktop; commands in $BIN)."
echo "Check it with:  $PREFIX/xrayview --self-test"
