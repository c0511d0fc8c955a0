#!/bin/bash
# The main job, on one machine: `sudo ./scripts/demo.sh`.
#
# Installs what is missing (scripts/deps.sh), builds btd and btctl (build/),
# then in a fresh temporary directory: makes a payload and a torrent with
# `btctl create`, starts opentracker on 127.0.0.1 and two python3-libtorrent
# seeders on 127.0.0.2 and 127.0.0.3 (DHT, LSD, UPnP, NAT-PMP, PEX off),
# starts btd, and downloads the torrent with `btctl add` and `btctl wait`
# (a progress bar on a terminal). It checks the download against the
# original, prints where everything is, and stops what it started.
#
# Environment: DEMO_SIZE_MIB (payload size, default 256), DEMO_KEEP=1 keeps
# the directory.

set -euo pipefail
cd "$(dirname "$0")/.."
exec </dev/null
. scripts/deps.sh

size_mib="${DEMO_SIZE_MIB:-256}"
pids=()
work=""

cleanup()
{
    local pid
    for pid in "${pids[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${pids[@]}"; do
        timeout 10 tail --pid="$pid" -f /dev/null 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
    done
    if [ -n "$work" ] && [ "${DEMO_KEEP:-0}" != 1 ]; then
        rm -rf "$work"
    fi
}
trap cleanup EXIT

step()
{
    printf '\n== %s\n' "$*"
}

# wait_for SECONDS DESCRIPTION COMMAND...: polls COMMAND until it succeeds.
wait_for()
{
    local bound=$1 what=$2 end
    shift 2
    end=$(($(date +%s) + bound))
    until "$@" >/dev/null 2>&1; do
        if [ "$(date +%s)" -ge "$end" ]; then
            echo "demo: gave up waiting for $what after ${bound}s" >&2
            return 1
        fi
        sleep 0.2
    done
}

free_port()
{
    /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

step "dependencies"
btd_install_deps $BTD_DEPS

step "build (build/)"
if [ ! -f build/meson-private/coredata.dat ]; then
    meson setup build -Dbuildtype=release >/dev/null
fi
ninja -C build >/dev/null
btd=$PWD/build/daemon/btd
btctl=$PWD/build/ctl/btctl

work=$(mktemp -d /tmp/btd-demo.XXXXXX)
chmod 755 "$work"
mkdir -p "$work/seed" "$work/downloads" "$work/tracker" "$work/state"

step "payload: ${size_mib} MiB of random bytes"
head -c "$((size_mib * 1024 * 1024))" /dev/urandom >"$work/seed/demo.bin"

step "tracker: opentracker on 127.0.0.1"
port=$(free_port)
"$btctl" create "$work/seed/demo.bin" -o "$work/demo.torrent" \
    --tracker "udp://127.0.0.1:$port/announce" --tracker "http://127.0.0.1:$port/announce" \
    | tee "$work/create.out"
ih=$(head -n 1 "$work/create.out")
echo "$ih" >"$work/tracker/whitelist.txt"
chmod 755 "$work/tracker"
chmod 644 "$work/tracker/whitelist.txt"
opentracker -i 127.0.0.1 -p "$port" -P "$port" -d "$work/tracker" -w /whitelist.txt -u nobody \
    >"$work/opentracker.log" 2>&1 &
pids+=($!)
wait_for 10 "opentracker" bash -c "exec 3<>/dev/tcp/127.0.0.1/$port"

step "seeders: python3-libtorrent on 127.0.0.2 and 127.0.0.3"
for ip in 127.0.0.2 127.0.0.3; do
    /usr/bin/python3 tests/integration/lt_peer.py --torrent "$work/demo.torrent" \
        --dir "$work/seed" --ip "$ip" --seed >"$work/seeder-$ip.log" 2>&1 &
    pids+=($!)
done
for ip in 127.0.0.2 127.0.0.3; do
    wait_for 30 "seeder $ip" grep -q "state seeding" "$work/seeder-$ip.log"
done

step "btd"
"$btd" --port 0 --socket "$work/btd.sock" --state-dir "$work/state" \
    --download-dir "$work/downloads" --log-level info 2>"$work/btd.log" &
pids+=($!)
export BTD_SOCKET="$work/btd.sock"
wait_for 10 "btd's socket" "$btctl" session

step "download: btctl add, then btctl wait"
id=$("$btctl" add "$work/demo.torrent" --dir "$work/downloads" | head -n 1)
"$btctl" wait "$id" --timeout 600
"$btctl" status "$id"

step "check"
want=$(sha256sum <"$work/seed/demo.bin" | cut -d' ' -f1)
got=$(sha256sum <"$work/downloads/demo.bin" | cut -d' ' -f1)
if [ "$want" != "$got" ]; then
    echo "demo: FAILED: sha256 differs ($got, want $want)" >&2
    exit 1
fi
echo "sha256 $got matches the original"

step "where things are"
echo "torrent:    $work/demo.torrent"
echo "download:   $work/downloads/demo.bin"
echo "btd log:    $work/btd.log"
if [ "${DEMO_KEEP:-0}" = 1 ]; then
    echo "(kept: DEMO_KEEP=1)"
else
    echo "(removed on exit; DEMO_KEEP=1 keeps it)"
fi
echo "demo: OK"
