#!/usr/bin/env bash
# Starts the viewer under Xvfb with the bundled sample image, waits for the AI result and saves
# docs/screenshot.png. Extra arguments go to scripts/screenshot.py (e.g. --model DIR, --out PATH).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v xvfb-run >/dev/null || { echo "xvfb-run is missing: run scripts/install.sh" >&2; exit 1; }
export QT_QPA_PLATFORM=xcb
exec xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python scripts/screenshot.py "$@"
