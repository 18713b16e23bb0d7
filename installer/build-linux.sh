#!/usr/bin/env bash
# Builds the offline Linux app and proves it works without Python and without a network:
#   1. installs PyInstaller into .venv when missing (the `installer` extra in pyproject.toml)
#   2. builds the one-folder app: installer/dist/xrayview/xrayview (+ xrayview-predict/-train/-eval)
#   3. runs the frozen `xrayview --self-test` with QT_QPA_PLATFORM=offscreen, then again inside a network
#      namespace without interfaces (`unshare -n`), from outside the checkout, without the venv's variables
#   4. packs installer/dist/xrayview-<version>-linux-<arch>.tar.gz: the folder, xrayview.desktop, the icon and
#      install.sh
# Usage: installer/build-linux.sh [--no-tarball]
# Environment: XRAYVIEW_CPU_ONLY=1 (leaner bundle, see xrayview.spec); XRAYVIEW_MODELS_DIR=DIR runs the self-test
# against DIR's models (tests use a tiny bundle) and marks the archive "-test-models" (not for clinics).
# Timings go to installer/dist/build-info.json (read by bench/bench_frozen.py).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
PY="$ROOT/.venv/bin/python"
DIST="$ROOT/installer/dist"
WORK="$ROOT/installer/build"
APP="$DIST/xrayview"
MAKE_TARBALL=1
seconds_since() { local ns=$(( $(date +%s%N) - $1 )); printf "%d.%03d" $((ns / 1000000000)) $(((ns / 1000000) % 1000)); }
[ "${1:-}" = "--no-tarball" ] && MAKE_TARBALL=0

[ -x "$PY" ] || { echo "build-linux: $PY is missing; run scripts/install.sh (or make deps) first" >&2; exit 2; }
if ! "$PY" -c "import PyInstaller" 2>/dev/null; then
  echo "build-linux: installing PyInstaller into .venv (pyproject extra 'installer')"
  "$PY" -m pip install -q "pyinstaller>=6.10,<7"
fi
if [ ! -f resources/models/DEFAULT ] && [ -z "${XRAYVIEW_MODELS_DIR:-}" ]; then
  echo "build-linux: WARNING: resources/models/DEFAULT is missing: the bundle holds no model and its self-test will fail" >&2
fi

mkdir -p "$WORK" "$DIST"
echo "build-linux: PyInstaller (log: $WORK/build.log)"
started=$(date +%s%N)
if ! "$PY" -m PyInstaller --noconfirm --distpath "$DIST" --workpath "$WORK" installer/xrayview.spec \
     >"$WORK/build.log" 2>&1; then
  tail -40 "$WORK/build.log" >&2
  echo "build-linux: PyInstaller failed" >&2
  exit 1
fi
build_s=$(seconds_since "$started")
size_mb=$(du -sm "$APP" | cut -f1)
echo "build-linux: built $APP in ${build_s%.*} s, ${size_mb} MiB"

# The frozen app must not lean on the checkout or the venv: run it from / with those variables removed.
frozen_env=(env -u PYTHONPATH -u PYTHONHOME -u VIRTUAL_ENV -u XRAYVIEW_RESOURCES_DIR QT_QPA_PLATFORM=offscreen
            PATH=/usr/bin:/bin)
[ -n "${XRAYVIEW_MODELS_DIR:-}" ] && frozen_env+=("XRAYVIEW_MODELS_DIR=$XRAYVIEW_MODELS_DIR")

echo "build-linux: frozen self-test (offscreen)"
started=$(date +%s%N)
(cd / && "${frozen_env[@]}" "$APP/xrayview" --self-test) | tee "$WORK/self-test.txt"
self_test_s=$(seconds_since "$started")

offline="not run: unshare -n is not permitted here"
if unshare -n true 2>/dev/null; then
  echo "build-linux: frozen self-test inside a network namespace without interfaces (unshare -n)"
  (cd / && unshare -n "${frozen_env[@]}" "$APP/xrayview" --self-test) | tee "$WORK/self-test-offline.txt"
  offline="passed"
else
  echo "build-linux: WARNING: $offline" >&2
fi

version=$("$PY" -c "import tomllib; print(tomllib.load(open('pyproject.toml','rb'))['project']['version'])")
suffix=""
[ -n "${XRAYVIEW_MODELS_DIR:-}" ] && suffix="-test-models"
tarball="$DIST/xrayview-$version-linux-$(uname -m)$suffix.tar.gz"
tar_s=0
if [ "$MAKE_TARBALL" = 1 ]; then
  stage="$DIST/stage/xrayview-$version"
  rm -rf "$DIST/stage" && mkdir -p "$stage"
  ln -s "$APP" "$stage/xrayview"  # tar -h follows it: no 3 GB copy
  cp installer/xrayview.desktop "$stage/xrayview.desktop"
  cp resources/icons/xrayview-256.png "$stage/xrayview.png"
  cp installer/install-linux.sh "$stage/install.sh"
  echo "build-linux: packing $tarball"
  started=$(date +%s%N)
  compressor="gzip"
  command -v pigz >/dev/null && compressor="pigz"
  tar -C "$DIST/stage" -h -cf - "xrayview-$version" | $compressor -6 > "$tarball.part"
  mv "$tarball.part" "$tarball"
  tar_s=$(seconds_since "$started")
  rm -rf "$DIST/stage"
  echo "build-linux: $(du -m "$tarball" | cut -f1) MiB archive in ${tar_s%.*} s"
fi

cat > "$DIST/build-info.json" <<EOF
{"build_s": $build_s, "self_test_s": $self_test_s, "tarball_s": $tar_s, "bundle_mib": $size_mb,
 "cpu_only": "${XRAYVIEW_CPU_ONLY:-0}", "offline_self_test": "$offline",
 "tarball": "$( [ "$MAKE_TARBALL" = 1 ] && echo "$tarball" )"}
EOF
echo "build-linux: done: $APP/xrayview"
