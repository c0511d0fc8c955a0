#!/bin/sh
# The btd benchmark in one command:
#   sudo ./bench/run.sh [--mode download|upload|both|recheck|idle|all] [--size MIB]
#                       [--layout single|multi] [--runs N] [--recheck-size MIB] ...
# Installs the Debian packages btd needs (scripts/deps.sh), builds btd in
# release mode in build-bench/, then runs bench/bench.py with every flag
# given here (see bench/README.md, or --help).
set -eu
cd "$(dirname "$0")/.."
# shellcheck source=scripts/deps.sh
. scripts/deps.sh
# shellcheck disable=SC2086 # package names, split on purpose
btd_install_deps $BTD_DEPS openssl # openssl: the recheck part's SHA-1 baseline
if [ -f build-bench/build.ninja ]; then
    meson configure build-bench -Dbuildtype=release -Db_sanitize=none >/dev/null
else
    meson setup build-bench -Dbuildtype=release -Db_sanitize=none >/dev/null
fi
ninja -C build-bench daemon/btd ctl/btctl >/dev/null
exec /usr/bin/python3 bench/bench.py --build build-bench "$@"
