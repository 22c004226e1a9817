#!/usr/bin/env bash
# The one recorded command that makes the bundled model (`make bundled-model`): a synthetic
# SEN12MS-CR tree, IB-HFN edge and the DSen2-CR small baseline trained on it with the same budget
# on the CPU, both scored on the held-out test split next to the identity baseline, and the IB-HFN
# checkpoint copied into ibhfn/pretrained/ with its FP32 ONNX. Deterministic by the seeds below;
# the two networks train side by side, one torch thread each (the fastest use of a 2-core machine).
set -euo pipefail

OUT=${OUT:-runs/bundled}
BIN=${BIN:-.venv/bin}
STEPS=${STEPS:-600}
THREADS=${THREADS:-1}
DATA="$OUT/data"

[ -d "$DATA" ] || "$BIN/ibhfn-synth" tree "$DATA" --seed 2026 --train 16 --val 4 --test 4 --patches 12

train() {
    local arch=$1
    "$BIN/ibhfn-train" --data "$DATA" --arch "$arch" --out "$OUT/$arch" --epochs 1000 --max-steps "$STEPS" \
        --batch-size 8 --crop 96 --lr 1e-3 --warmup-steps 50 --l1-warmup-steps 100 --ramp-steps 200 \
        --kl-warmup-steps 400 --val-samples 16 --seed 0 --threads "$THREADS" --device cpu --quiet > "$OUT/$arch.train.txt"
    "$BIN/ibhfn-eval" --data "$DATA" --split test --checkpoint "$OUT/$arch/best.pt" \
        --out "$OUT/$arch/eval_test.json" --device cpu --threads "$THREADS" > "$OUT/$arch.eval.txt"
}

train ibhfn &
ibhfn=$!
train dsen2cr &
dsen2cr=$!
wait "$ibhfn"
wait "$dsen2cr"

cp "$OUT/ibhfn/best.pt" ibhfn/pretrained/ibhfn_edge_synthetic.pt
"$BIN/ibhfn-export" onnx --checkpoint ibhfn/pretrained/ibhfn_edge_synthetic.pt --out ibhfn/pretrained/ibhfn_edge_synthetic.onnx
