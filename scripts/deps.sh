# shellcheck shell=sh
# The Debian 12 packages btd needs, in one place. Sourced (not run) by
# scripts/test.sh and by any other script that must set a machine up.
#
#   BTD_BUILD_DEPS  to build btd, its tests and fuzzers, and check style
#   BTD_PEER_DEPS   the real peers and tracker the integration tests drive,
#                   systemd for `systemd-analyze verify` of the unit (already
#                   there on a Debian machine; a container gets the package only),
#                   and strace (test_faults sees which thread closes a file)
#
# btd_missing_deps PKG...   prints the packages not installed, one a line
# btd_install_deps PKG...   installs the missing ones (root; apt-get update
#                           only when something is missing); 0 or apt's status

BTD_BUILD_DEPS="build-essential pkg-config meson ninja-build libuv1-dev libsodium-dev
libjansson-dev libssl-dev libcurl4-openssl-dev clang libclang-rt-14-dev clang-format python3"
BTD_PEER_DEPS="mktorrent python3-libtorrent aria2 transmission-cli transmission-daemon
opentracker socat systemd strace"
# shellcheck disable=SC2034 # used by the scripts that source this file
BTD_DEPS="$BTD_BUILD_DEPS $BTD_PEER_DEPS"

btd_missing_deps()
{
    for pkg in "$@"; do
        case "$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null)" in
        *"install ok installed"*) ;;
        *) echo "$pkg" ;;
        esac
    done
}

btd_install_deps()
{
    missing=$(btd_missing_deps "$@")
    [ -z "$missing" ] && return 0
    # shellcheck disable=SC2086 # package names, split on purpose
    echo "installing:" $missing
    if [ "$(id -u)" -ne 0 ]; then
        echo "error: packages missing and not root; run as root (sudo)" >&2
        return 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    # shellcheck disable=SC2086 # package names, split on purpose
    apt-get -o DPkg::Lock::Timeout=300 update -q &&
        apt-get -o DPkg::Lock::Timeout=300 install -y -q --no-install-recommends $missing
}
