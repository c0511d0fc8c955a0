#!/bin/bash
# run-fuzzer.sh NAME FUZZER DATA_DIR ARTIFACT_DIR MODULE...
#
# Runs one libFuzzer target for FUZZ_TIME seconds (default 30) over a copy
# of the seed corpus: the case files of DATA_DIR/MODULE/{valid,invalid} for
# each MODULE, plus DATA_DIR/fuzz/NAME/ if it exists, with the dictionary
# DATA_DIR/fuzz/NAME.dict if it exists. The source tree is never written;
# new inputs go to a temporary directory that is removed afterwards, and a
# crashing input is kept in ARTIFACT_DIR. Prints TAP (one point); exits
# non-zero on a crash, a leak, a sanitizer report or a timeout.

set -u
name=$1 fuzzer=$2 data=$3 artifacts=$4
shift 4
secs=${FUZZ_TIME:-30}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/btd-fuzz-$name.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/corpus" "$artifacts" || exit 1

seeds=0
copy_seeds()
{
    local dir=$1 prefix=$2 f
    [ -d "$dir" ] || return 0
    while IFS= read -r -d '' f; do
        case "$f" in
        *.expect | *.err | *.py) continue ;;
        esac
        cp "$f" "$tmp/corpus/$prefix-$(basename "$f")" && seeds=$((seeds + 1))
    done < <(find "$dir" -type f -print0)
}
for module in "$@"; do
    copy_seeds "$data/$module/valid" "$module-valid"
    copy_seeds "$data/$module/invalid" "$module-invalid"
done
copy_seeds "$data/fuzz/$name" "fuzz"

args=(-max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len=65536
    -print_final_stats=1 -artifact_prefix="$artifacts/$name-")
[ -f "$data/fuzz/$name.dict" ] && args+=(-dict="$data/fuzz/$name.dict")

export UBSAN_OPTIONS="${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}"
"$fuzzer" "${args[@]}" "$tmp/corpus" >"$tmp/log" 2>&1
rc=$?

runs=$(sed -n 's/^Done \([0-9]*\) runs.*/\1/p' "$tmp/log" | tail -n 1)
report=$(grep -E -m 1 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error:|assertion failed' "$tmp/log")

echo "1..1"
if [ "$rc" -eq 0 ] && [ -n "$runs" ] && [ -z "$report" ]; then
    echo "ok 1 - fuzz-$name ${secs}s, $runs runs from $seeds seeds"
    exit 0
fi
echo "not ok 1 - fuzz-$name (exit $rc${runs:+, $runs runs})"
echo "# ${report:-no report; see the log on stderr}"
echo "# crashing inputs, if any: $artifacts/$name-*"
# meson shows a failing TAP test's stderr: the end of libFuzzer's log.
tail -n 80 "$tmp/log" >&2
exit 1
