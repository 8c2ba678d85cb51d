#!/usr/bin/env bash
# smoke.sh - a few seconds of junction-load against a junction server: 1 publisher (VP8 +
# Opus, encoded here with ffmpeg) -> 5 subscribers over WHIP/WHEP, and the same through the
# room protocol (/rtc). Passes when every session connects and the subscribers receive at
# least 95% of the packets sent. Meson runs it with both binaries (the ASan ones in
# build-asan), e.g.:  tests/load/smoke.sh build-asan/junction build-asan/junction-load
set -euo pipefail
junction=$(realpath "$1")
load=$(realpath "$2")
command -v ffmpeg >/dev/null || { echo "ffmpeg is missing (scripts/install-deps.sh --test)" >&2; exit 1; }

work=$(mktemp -d)
server_pid=
cleanup() {
    if [[ -n "$server_pid" ]]; then kill "$server_pid" 2>/dev/null; wait "$server_pid" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

ffmpeg -loglevel error -f lavfi -i testsrc2=size=320x180:rate=30 -t 2 -c:v libvpx -b:v 300k \
    -g 30 -deadline realtime -cpu-used 8 "$work/v.ivf"
ffmpeg -loglevel error -f lavfi -i "anoisesrc=color=pink:amplitude=0.1:sample_rate=48000" -t 2 \
    -ac 2 -c:a libopus -b:a 32k "$work/a.ogg"

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$junction" --http-port "$port" --media-port 0 --log-level warn > "$work/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 100); do
    python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$port/api/health', timeout=1)" \
        2>/dev/null && break
    sleep 0.1
done

status=0
for mode in whip rtc; do
    echo "== $mode: 1 publisher -> 5 subscribers ==" >&2
    if ! "$load" --mode "$mode" --url "http://127.0.0.1:$port" --video "$work/v.ivf" \
            --audio "$work/a.ogg" --subscribers 5 --warmup 1 --duration 3 --connect-timeout 20 \
            --min-delivery 0.95 --server-pid "$server_pid" --label "smoke-$mode"; then
        echo "junction-load $mode failed" >&2
        status=1
    fi
done
if [[ $status -ne 0 ]]; then
    echo "== server log ==" >&2
    tail -50 "$work/server.log" >&2
fi
exit $status
