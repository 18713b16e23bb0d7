#!/usr/bin/env bash
# Starts the viewer with the bundled model and the bundled sample image.
set -euo pipefail
cd "$(dirname "$0")/.."
exec .venv/bin/xrayview resources/samples/chest-pa-sample.png "$@"
