#!/usr/bin/env bash
# Install, build (Release, warnings as errors) and run every test with ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
export DUET_TOKENIZER_DIR="${DUET_TOKENIZER_DIR:-$PWD/build/tokenizers}"
bash scripts/fetch-tokenizers.sh "$DUET_TOKENIZER_DIR"
cmake -S . -B build/test -G Ninja -DCMAKE_BUILD_TYPE=Release -DDUET_TESTS=ON -DDUET_BENCH=ON -DDUET_WERROR=ON >/dev/null
cmake --build build/test -j"$(nproc)"
ctest --test-dir build/test --output-on-failure -j"$(nproc)" --timeout 900
