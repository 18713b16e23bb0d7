#!/usr/bin/env bash
# Builds the offline macOS app and disk image: installer/dist/XRayView.app and XRayView-<version>-macos-<arch>.dmg
#
# Run on a Mac (macOS 12+, the same CPU architecture as the clinic Macs: arm64 or x86_64) from the repository
# root:  bash installer/build-macos.sh
# Needs: Python 3.11 (python.org or Homebrew) and the Xcode command line tools (hdiutil, codesign ship with macOS).
# The PyPI torch wheel for macOS is the CPU/MPS build: no CUDA libraries. Optional signing: set
# CODESIGN_IDENTITY="Developer ID Application: ..." (notarizing needs Apple's service, i.e. a network, on the
# build Mac only; the clinic Mac never needs one). Not run by this project's CI (Linux only).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
if [ ! -x "$PY" ]; then
  python3.11 -m venv .venv
  "$PY" -m pip install --upgrade pip
  "$PY" -m pip install -e ".[installer]"
fi
"$PY" -c "import PyInstaller" 2>/dev/null || "$PY" -m pip install "pyinstaller>=6.10,<7"
[ -f resources/models/DEFAULT ] || echo "build-macos: WARNING: no bundled model: the self-test will fail" >&2

DIST=installer/dist
"$PY" -m PyInstaller --noconfirm --distpath "$DIST" --workpath installer/build installer/xrayview.spec
APP="$DIST/XRayView.app"
[ -d "$APP" ] || { echo "build-macos: $APP was not produced" >&2; exit 1; }

# The executables live in XRayView.app/Contents/MacOS (xrayview, xrayview-predict, -train, -eval).
(cd / && env -u PYTHONPATH QT_QPA_PLATFORM=offscreen "$OLDPWD/$APP/Contents/MacOS/xrayview" --self-test)

if [ -n "${CODESIGN_IDENTITY:-}" ]; then
  codesign --force --deep --options runtime --timestamp --sign "$CODESIGN_IDENTITY" "$APP"
fi
version=$("$PY" -c "import tomllib; print(tomllib.load(open('pyproject.toml','rb'))['project']['version'])")
dmg="$DIST/XRayView-$version-macos-$(uname -m).dmg"
stage=$(mktemp -d)
cp -R "$APP" "$stage/"
ln -s /Applications "$stage/Applications"  # drag-to-install
rm -f "$dmg"
hdiutil create -volname "XRayView $version" -srcfolder "$stage" -fs HFS+ -format UDZO -ov "$dmg"
rm -rf "$stage"
echo "build-macos: $dmg"
