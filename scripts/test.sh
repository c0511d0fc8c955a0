#!/bin/bash
# The test command: `sudo ./scripts/test.sh` (or ./scripts/test.sh as root).
#
# On a fresh Debian 12 machine it installs what is missing (scripts/deps.sh),
# builds the test build with gcc and ASan+UBSan (build-test/), runs every
# suite there (unit, integration, style), builds the fuzzers with clang
# (build-fuzz/) and runs the fuzz suite, then counts every TAP point of every
# test (scripts/summarize.py). It does not stop at the first failure. The
# last line printed is exactly `N passed, N failed`; the exit status is
# non-zero if anything failed, a broken build or a missing install included.
#
# Environment: BTD_TIMEOUT_MULTIPLIER (meson test, default 1), FUZZ_TIME
# (seconds per fuzzer, default 30), BTD_SKIP_FUZZ=1 to leave the fuzz build
# out (a local shortcut; CI runs everything).

set -u
cd "$(dirname "$0")/.." || exit 1
exec </dev/null

# shellcheck source=scripts/deps.sh
. scripts/deps.sh

start=$(date +%s)
fails=() # one label per failure outside the test logs
logs=()  # testlog.json files to count
declare -A broken # build dirs whose build failed

phase()
{
    echo
    echo "== $* ($(($(date +%s) - start)) s)"
}

# The sanitizers stop at the first report, so a test cannot pass over one.
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1:print_summary=1}"
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:print_summary=1}"
# Each test declares its own timeout (measured under the sanitizers); 1 keeps
# the worst case of the whole run inside the 15 minutes.
multiplier="${BTD_TIMEOUT_MULTIPLIER:-1}"

# setup DIR COMPILER OPTIONS...: configures DIR with COMPILER (gcc, clang),
# reusing it when it was made with the same compiler, starting over if not.
setup()
{
    local dir=$1 compiler=$2
    shift 2
    if [ -f "$dir/build.ninja" ] &&
        ! grep -A1 '^rule c_COMPILER' "$dir/build.ninja" | grep -qE "command = (.* )?$compiler "; then
        echo "$dir was configured with another compiler; starting over"
        rm -rf "$dir"
    fi
    if [ -f "$dir/meson-private/coredata.dat" ]; then
        CC=$compiler timeout 600 meson setup --reconfigure "$dir" "$@" && return 0
        echo "reconfigure failed; wiping $dir"
        CC=$compiler timeout 600 meson setup --wipe "$dir" "$@" && return 0
        rm -rf "$dir"
    fi
    rm -rf "$dir"
    CC=$compiler timeout 600 meson setup "$dir" "$@"
}

# built_tests DIR [SUITE]: after a broken build, "run NAME" for each test
# (of SUITE) whose program exists and "missing NAME" for the others, since
# meson test --no-rebuild refuses to run anything while one is missing.
built_tests()
{
    /usr/bin/python3 - "$@" <<'EOF'
import json, os, sys
tests = json.load(open(os.path.join(sys.argv[1], "meson-info", "intro-tests.json")))
suite = sys.argv[2] if len(sys.argv) > 2 else None
for t in tests:
    if suite and not any(s == suite or s.endswith(":" + suite) for s in t["suite"]):
        continue
    print(("run " if os.path.isfile(t["cmd"][0]) else "missing ") + t["name"])
EOF
}

# run_suites DIR SECONDS [SUITE]: runs meson test in DIR (all suites, or
# SUITE) with a hard bound on the whole run; the testlog it leaves is counted.
# If DIR's build broke, runs the tests that were built; each one that was
# not counts as a failure.
run_suites()
{
    local dir=$1 bound=$2 suite=${3:-} rc kind name
    local args=(--no-rebuild --print-errorlogs --timeout-multiplier "$multiplier")
    [ -n "$suite" ] && args+=(--suite "$suite")
    if [ -n "${broken[$dir]:-}" ]; then
        local names=()
        while read -r kind name; do
            if [ "$kind" = run ]; then
                names+=("$name")
            else
                fails+=("$dir: test $name was not built")
            fi
        done < <(built_tests "$dir" ${suite:+"$suite"})
        [ "${#names[@]}" -eq 0 ] && return 0
        args+=("${names[@]}")
    fi
    rm -f "$dir/meson-logs/testlog.json"
    timeout -k 30 "$bound" meson test -C "$dir" "${args[@]}"
    rc=$?
    if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
        fails+=("$dir: meson test stopped after ${bound}s")
    fi
    logs+=("$dir/meson-logs/testlog.json")
}

# build DIR: builds all it can (-k 0); a broken build is one failure, and the
# tests that did build still run.
build()
{
    local dir=$1
    if ! timeout 900 ninja -C "$dir" -k 0; then
        fails+=("$dir: build failed")
        broken[$dir]=1
    fi
}

phase "dependencies"
# shellcheck disable=SC2086 # a list of package names, split on purpose
if ! btd_install_deps $BTD_DEPS; then
    fails+=("installing packages failed")
fi

phase "test build (gcc, ASan+UBSan): build-test"
if setup build-test gcc -Db_sanitize=address,undefined -Dwerror=true -Db_lundef=false; then
    build build-test
    phase "unit, integration and style suites"
    run_suites build-test 600
else
    fails+=("build-test: meson setup failed")
fi

if [ "${BTD_SKIP_FUZZ:-0}" != 1 ]; then
    phase "fuzz build (clang, libFuzzer, ASan+UBSan): build-fuzz"
    if setup build-fuzz clang -Dfuzz=true -Db_sanitize=address,undefined -Dwerror=true \
        -Dintegration=false; then
        build build-fuzz
        phase "fuzz suite"
        run_suites build-fuzz 300 fuzz
    else
        fails+=("build-fuzz: meson setup failed")
    fi
fi

phase "done"
args=()
for f in "${fails[@]}"; do
    args+=(--fail "$f")
done
if [ ! -x /usr/bin/python3 ]; then
    echo "FAILED: /usr/bin/python3 is missing, cannot count the results"
    echo "0 passed, 1 failed"
    exit 1
fi
/usr/bin/python3 scripts/summarize.py "${args[@]}" "${logs[@]}"
