#!/usr/bin/env bash
# Regenerates test/fixtures/torch-checkpoints/ (issue #17): torch.save()d checkpoints of every
# architecture with PyTorch's logits, files that must be refused, and safetensors both ways.
# Needs Debian's python3-torch (apt-get install -y python3-torch), which installs for /usr/bin/python3.
set -euo pipefail
cd "$(dirname "$0")/.."
rm -rf test/fixtures/torch-checkpoints
/usr/bin/python3 scripts/torch_checkpoints.py write
npx tsx scripts/export-safetensors-fixture.ts
/usr/bin/python3 scripts/torch_checkpoints.py verify
