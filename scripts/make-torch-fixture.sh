#!/usr/bin/env bash
# Regenerates test/fixtures/torch-reference.json: tfjs models -> PyTorch reference definitions -> logits.
# Needs Debian's python3-torch (apt-get install -y python3-torch), which installs for /usr/bin/python3.
set -euo pipefail
cd "$(dirname "$0")/.."
npx tsx scripts/export-tfjs-models.ts
/usr/bin/python3 scripts/torch_reference.py scripts/.cache/tfjs-models.json test/fixtures/torch-reference.json
