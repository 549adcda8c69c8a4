#!/usr/bin/env bash
# The main job: install, build (Release) and run Duet Workbench — the GUI on the embedded demo
# experiment (resources/demo/experiment.json), which it opens by default.
# Without a display (no $DISPLAY / $WAYLAND_DISPLAY) it saves a screenshot of the solve scene
# instead, so the command also works over ssh.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cmake -S . -B build/release -G Ninja -DCMAKE_BUILD_TYPE=Release -DDUET_TESTS=OFF -DDUET_BENCH=OFF -DDUET_GUI=ON >/dev/null
cmake --build build/release -j"$(nproc)" --target duet duet-workbench
GUI=build/release/app/gui/duet-workbench
if [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]; then
  exec "$GUI" "$@"
fi
echo "no display: saving the solve scene to build/release/solve.png instead"
QT_QPA_PLATFORM=offscreen "$GUI" --screenshot build/release/solve.png --scene solve "$@"
