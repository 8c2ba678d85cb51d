#!/usr/bin/env bash
# install-deps.sh - install the Debian 12 packages Junction needs.
#   scripts/install-deps.sh          build and run the server
#   scripts/install-deps.sh --test   also everything the test suite uses
# Runs apt-get when root; otherwise prints the exact command to run.
set -euo pipefail

build_pkgs=(build-essential meson ninja-build pkg-config python3 libssl-dev libwebsockets-dev
            libjansson-dev zlib1g-dev)
test_pkgs=(libcmocka-dev libsrtp2-dev clang libclang-rt-14-dev chromium firefox-esr iproute2 nodejs npm
           ffmpeg python3-prometheus-client)

pkgs=("${build_pkgs[@]}")
if [[ "${1:-}" == "--test" ]]; then pkgs+=("${test_pkgs[@]}"); fi

missing=()
for p in "${pkgs[@]}"; do
    # nodejs/npm may come from elsewhere (e.g. a newer Node on PATH): accept the commands.
    if [[ "$p" == nodejs ]] && command -v node >/dev/null; then continue; fi
    if [[ "$p" == npm ]] && command -v npm >/dev/null; then continue; fi
    status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    [[ "$status" == "install ok installed" ]] || missing+=("$p")
done

if [[ ${#missing[@]} -eq 0 ]]; then exit 0; fi
cmd="apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${missing[*]}"
if [[ $(id -u) -ne 0 ]]; then
    echo "Junction needs these Debian packages: ${missing[*]}" >&2
    echo "Run as root:  sudo sh -c '$cmd'" >&2
    exit 1
fi
echo "installing: ${missing[*]}" >&2
sh -c "$cmd" >&2
