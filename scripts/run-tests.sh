#!/usr/bin/env bash
# run-tests.sh - build and run every test suite; the last line is "N passed, N failed".
#   unit       cmocka unit tests + fuzz-corpus replays (normal build)
#   unit-asan  the same under AddressSanitizer + UndefinedBehaviorSanitizer
#   fuzz       every libFuzzer target (clang, ASan/UBSan) for FUZZ_SECONDS each (default 20),
#              starting from its committed corpus; crashes land in build/test-logs/fuzz/
#   e2e        real browsers (headless Chromium and Firefox ESR) against the ASan server binary
# Exit status is non-zero when anything failed or could not run.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
logdir="$root/build/test-logs"

scripts/install-deps.sh --test || { echo "0 passed, 1 failed"; exit 1; }

total_pass=0
total_fail=0
add() { total_pass=$((total_pass + $1)); total_fail=$((total_fail + $2)); }

build() { # build DIR [meson options...]
    local dir=$1; shift
    [[ -f "$dir/build.ninja" ]] || meson setup "$dir" "$@" >/dev/null || return 1
    ninja -C "$dir" >/dev/null || ninja -C "$dir" | tail -40
}

# meson_suite NAME DIR: run meson's tests and count TAP test points (one per cmocka case)
# and plain tests (one each) from meson's JSON log.
meson_suite() {
    local name=$1 dir=$2
    echo "== $name ==" >&2
    meson test -C "$dir" --no-rebuild --print-errorlogs >&2
    local counts
    counts=$(python3 scripts/count_meson_tests.py "$dir/meson-logs/testlog.json")
    echo "$name: $counts" >&2
    add $counts
}

mkdir -p build
# `make run` configures build/ without tests (no test packages needed to run the server).
[[ -f build/build.ninja ]] && meson configure build -Dtests=true >/dev/null
if build build; then
    meson_suite unit build
else
    echo "build failed" >&2; add 0 1
fi
if build build-asan -Db_sanitize=address,undefined -Db_lundef=false; then
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
        meson_suite unit-asan build-asan
else
    echo "ASan build failed" >&2; add 0 1
fi

echo "== fuzz ==" >&2
fuzz_seconds=${FUZZ_SECONDS:-20}
if CC=clang build build-fuzz -Dfuzz=true -Dtests=false -Db_sanitize=address,undefined \
        -Db_lundef=false; then
    mkdir -p "$logdir/fuzz"
    for target in build-fuzz/fuzz/fuzz_*; do
        [[ -x "$target" && -f "$target" ]] || continue
        name=${target##*/fuzz_}
        work=$(mktemp -d)
        cp -r "fuzz/corpus/$name/." "$work/"
        # New inputs go to a scratch copy: the committed corpus changes only by hand.
        if "$target" -max_total_time="$fuzz_seconds" -timeout=10 -rss_limit_mb=2048 \
                -artifact_prefix="$logdir/fuzz/$name-" "$work" > "$logdir/fuzz/$name.log" 2>&1; then
            echo "fuzz $name: ok ($(grep -oE '#[0-9]+' "$logdir/fuzz/$name.log" | tail -1) runs)" >&2
            add 1 0
        else
            echo "fuzz $name: FAILED, see $logdir/fuzz/$name.log" >&2
            tail -30 "$logdir/fuzz/$name.log" >&2
            add 0 1
        fi
        rm -rf "$work"
    done
else
    echo "fuzz build failed" >&2; add 0 1
fi

echo "== e2e ==" >&2
mkdir -p "$logdir"
if [[ ! -d node_modules/playwright-core || ! -d node_modules/puppeteer-core ]]; then
    PUPPETEER_SKIP_DOWNLOAD=1 npm ci --no-audit --no-fund >&2 || npm install --no-audit --no-fund >&2
fi
if [[ -x build-asan/junction ]]; then
    JUNCTION_BIN="$root/build-asan/junction" JUNCTION_TEST_LOGS="$logdir" \
        node --test --test-concurrency=1 --test-reporter=tap tests/e2e/ > "$logdir/e2e.tap" 2>&1
    cat "$logdir/e2e.tap" >&2
    pass=$(grep -E '^# pass ' "$logdir/e2e.tap" | tail -1 | awk '{print $3}')
    fail=$(grep -E '^# fail ' "$logdir/e2e.tap" | tail -1 | awk '{print $3}')
    if [[ -z "$pass" || -z "$fail" ]]; then pass=0; fail=1; fi
    echo "e2e: $pass $fail" >&2
    add "$pass" "$fail"
else
    add 0 1
fi

echo "$total_pass passed, $total_fail failed"
[[ $total_fail -eq 0 && $total_pass -gt 0 ]]
