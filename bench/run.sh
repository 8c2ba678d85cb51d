#!/usr/bin/env bash
# run.sh - the SFU benchmark of docs/BENCHMARKS.md: Junction and Janus side by side under
# junction-load, every scenario and server started fresh on this host.
#   bench/run.sh                      everything (about half an hour)
#   bench/run.sh --max-steps 3        fewer capacity steps; other options: bench/sfu_bench.py -h
# Installs what it needs (Debian janus and ffmpeg, the build packages) when run as root,
# builds build-bench/ (plain, optimized), encodes the media once (build-bench/media/), and
# prints the results table; per-run JSON lands in build-bench/results/.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
missing=()
for p in janus ffmpeg iproute2; do
    [[ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)" == "install ok installed" ]] || missing+=("$p")
done
if [[ ${#missing[@]} -gt 0 ]]; then
    cmd="apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${missing[*]}"
    if [[ $(id -u) -ne 0 ]]; then
        echo "the benchmark needs: ${missing[*]}; run as root:  sudo sh -c '$cmd'" >&2
        exit 1
    fi
    sh -c "$cmd" >&2
fi

[[ -f build-bench/build.ninja ]] || meson setup build-bench -Dtests=false >/dev/null
ninja -C build-bench junction junction-load >/dev/null

# 10 s of 640x360 VP8 at 1 Mbit/s (keyframe every 2 s) and Opus at 32 kbit/s, looped by
# junction-load: what the issue's Janus figures were measured with.
media=build-bench/media
mkdir -p "$media"
if [[ ! -s $media/video.ivf ]]; then
    ffmpeg -loglevel error -y -f lavfi -i testsrc2=size=640x360:rate=30 -t 10 -c:v libvpx \
        -b:v 1M -minrate 1M -maxrate 1M -bufsize 500k -g 60 -deadline realtime -cpu-used 8 \
        -f ivf "$media/video.ivf.tmp"
    mv "$media/video.ivf.tmp" "$media/video.ivf"
fi
if [[ ! -s $media/audio.ogg ]]; then
    ffmpeg -loglevel error -y -f lavfi -i "anoisesrc=color=pink:amplitude=0.1:sample_rate=48000" \
        -t 10 -ac 2 -c:a libopus -b:a 32k -f ogg "$media/audio.ogg.tmp"
    mv "$media/audio.ogg.tmp" "$media/audio.ogg"
fi

exec python3 bench/sfu_bench.py --junction build-bench/junction --load build-bench/junction-load \
    --video "$media/video.ivf" --audio "$media/audio.ogg" "$@"
