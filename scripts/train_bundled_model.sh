#!/usr/bin/env bash
# The one recorded command that makes the bundled model (`make bundled-model`): a synthetic
# SEN12MS-CR tree, IB-HFN edge and the DSen2-CR small baseline trained on it with the same budget
# on the CPU, both scored on the held-out test split next to the identity baseline, and the IB-HFN
# checkpoint copied into ibhfn/pretrained/ with its FP32 ONNX. Deterministic by the seeds below;
# the two networks train side by side, one torch thread each (the fastest use of a 2-core machine).
# A rerun starts the runs afresh; the data tree is kept once complete.
set -euo pipefail

OUT=${OUT:-runs/bundled}
BIN=${BIN:-.venv/bin}
STEPS=${STEPS:-600}
THREADS=${THREADS:-1}
DATA="$OUT/data"
PRETRAINED=${PRETRAINED:-ibhfn/pretrained/ibhfn_edge_synthetic}

trap 'kill $(jobs -p) 2>/dev/null || true' EXIT INT TERM

if [ ! -d "$DATA" ]; then
    rm -rf "$DATA.partial"
    "$BIN/ibhfn-synth" tree "$DATA.partial" --seed 2026 --train 16 --val 4 --test 4 --patches 12
    mv "$DATA.partial" "$DATA"
fi

train() {
    local arch=$1
    rm -rf "$OUT/$arch"
    "$BIN/ibhfn-train" --data "$DATA" --arch "$arch" --out "$OUT/$arch" --epochs 1000 \
        --max-steps "$STEPS" --batch-size 8 --crop 96 --lr 1e-3 --warmup-steps 50 \
        --l1-warmup-steps 100 --ramp-steps 200 --kl-warmup-steps 400 --val-samples 16 --seed 0 \
        --threads "$THREADS" --device cpu --quiet > "$OUT/$arch.train.txt"
    "$BIN/ibhfn-eval" --data "$DATA" --split test --checkpoint "$OUT/$arch/best.pt" \
        --out "$OUT/$arch/eval_test.json" --device cpu --threads "$THREADS" > "$OUT/$arch.eval.txt"
}

mkdir -p "$OUT"
train ibhfn &
ibhfn=$!
train dsen2cr &
dsen2cr=$!
failed=0
wait "$ibhfn" || failed=1
wait "$dsen2cr" || failed=1
[ "$failed" -eq 0 ] || { echo "training failed: see $OUT/*.train.txt" >&2; exit 1; }

cp "$OUT/ibhfn/best.pt" "$PRETRAINED.pt"
"$BIN/ibhfn-export" onnx --checkpoint "$PRETRAINED.pt" --out "$PRETRAINED.onnx"
