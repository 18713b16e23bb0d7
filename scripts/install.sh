#!/usr/bin/env bash
# Installs everything XRayView needs on Debian: system packages (when missing) and a .venv.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v dcmdump >/dev/null || need_apt+=(dcmtk)
# dciodvfy checks every DICOM object the product writes against its IOD (tests/helpers/dicom_validators.py)
command -v dciodvfy >/dev/null || need_apt+=(dicom3tools)
command -v Xvfb >/dev/null || need_apt+=(xvfb)
# the PDF report tests render the report (pdftoppm) and read its text back (pdftotext)
{ command -v pdftoppm >/dev/null && command -v pdftotext >/dev/null; } || need_apt+=(poppler-utils)
# a real PACS for the PACS round-trip tests (tests/helpers/orthanc.py)
command -v Orthanc >/dev/null || need_apt+=(orthanc)
[ -e /usr/share/orthanc/plugins/libOrthancDicomWeb.so ] || need_apt+=(orthanc-dicomweb)
# shared libraries Qt's offscreen/xcb platforms load
for lib in libEGL.so.1 libGL.so.1 libxkbcommon.so.0 libfontconfig.so.1 libdbus-1.so.3 libxcb-cursor.so.0 libxkbcommon-x11.so.0 libxcb-icccm.so.4 libxcb-keysyms.so.1; do
  ldconfig -p | grep -q "$lib" || { need_apt+=(libegl1 libgl1 libxkbcommon0 libxkbcommon-x11-0 libfontconfig1 libdbus-1-3 libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-shape0 libxcb-xinerama0 libxcb-randr0 libxcb-render-util0 libxcb-image0); break; }
done
if [ ${#need_apt[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${need_apt[@]}"
fi

PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null || PY=python3
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
# torch/torchvision first, at the exact releases served from local disk here
.venv/bin/python -m pip install -q "torch==2.14.1" "torchvision==0.29.1"
.venv/bin/python -m pip install -q -e ".[dev]"
