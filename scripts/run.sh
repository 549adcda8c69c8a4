#!/usr/bin/env bash
# The main job: install, build (Release) and run Duet Workbench.
# Until the GUI lands this writes a small synthetic model and streams a generation from it with
# the `duet` tool, then prints its info and benchmark.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cmake -S . -B build/release -G Ninja -DCMAKE_BUILD_TYPE=Release -DDUET_TESTS=OFF -DDUET_BENCH=OFF >/dev/null
cmake --build build/release -j"$(nproc)" --target duet
DUET=build/release/app/duet
MODEL=build/release/demo-llama-6m.gguf
[ -f "$MODEL" ] || "$DUET" synth --preset llama-6m --type f32 --out "$MODEL"
"$DUET" info --model "$MODEL"
"$DUET" generate --model "$MODEL" --prompt "the answer is" --max-tokens 64 --temp 0.8 --seed 1
"$DUET" bench --model "$MODEL" --prompt-len 128 --gen 64 --reps 3
