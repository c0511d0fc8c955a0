#!/usr/bin/python3
"""lt_recheck: the recheck benchmark's libtorrent side, timing its check of complete data.

    lt_recheck.py --torrent F --dir D --ip 127.0.0.x [--hashing-threads N] [--timeout S]

Adds F with its data complete in D (no resume data, not seed mode, so
libtorrent checks every piece), with tests/integration/lt_peer.py's
settings (libtorrent's high_performance_seed: checking_mem_usage 2048
blocks; DHT/LSD/UPnP/NAT-PMP/PEX/uTP off; listening only on --ip) and
hashing_threads N (libtorrent's default is 1). Then force_recheck. Prints,
flushed:

    check SECONDS CPU_SECONDS     add_torrent to seeding (all pieces valid)
    recheck SECONDS CPU_SECONDS   force_recheck to seeding again

(CPU: this process's user + system over the window, all threads) and
exits 0; exits 1 with a line "error ..." if the data is not complete or
--timeout passes.
"""

import argparse
import os
import resource
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "tests", "integration"))
import lt_peer  # noqa: E402

lt = lt_peer.lt


def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def wait_seeding(ses, h, deadline):
    """Until the check's torrent_checked_alert came and the torrent seeds."""
    checked = False
    while time.monotonic() < deadline:
        ses.wait_for_alert(10)
        for a in ses.pop_alerts():
            if isinstance(a, lt.torrent_checked_alert):
                checked = True
            elif isinstance(a, (lt.torrent_error_alert, lt.file_error_alert)):
                raise RuntimeError(a.message())
        st = h.status()
        if checked and st.is_seeding and st.state == lt.torrent_status.seeding:
            return
        if checked and str(st.state) not in ("checking_files", "checking_resume_data") \
                and not st.is_seeding:
            raise RuntimeError("checked, not complete: state %s, progress %.4f" % (
                st.state, st.progress))
    raise RuntimeError("timed out")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--torrent", required=True)
    ap.add_argument("--dir", required=True)
    ap.add_argument("--ip", default="127.0.0.1")
    ap.add_argument("--hashing-threads", type=int, default=1)
    ap.add_argument("--timeout", type=float, default=600)
    args = ap.parse_args()

    s = lt_peer.settings(args.ip)
    s["hashing_threads"] = args.hashing_threads
    ses = lt.session(s)
    atp = lt.add_torrent_params()
    atp.ti = lt.torrent_info(args.torrent)
    atp.save_path = args.dir
    atp.flags |= lt.torrent_flags.disable_dht | lt.torrent_flags.disable_lsd | \
        lt.torrent_flags.disable_pex
    deadline = time.monotonic() + args.timeout
    try:
        c0, t0 = cpu(), time.monotonic()
        h = ses.add_torrent(atp)
        wait_seeding(ses, h, deadline)
        t1, c1 = time.monotonic(), cpu()
        print("check %.4f %.3f" % (t1 - t0, c1 - c0), flush=True)
        c0, t0 = cpu(), time.monotonic()
        h.force_recheck()
        wait_seeding(ses, h, deadline)
        t1, c1 = time.monotonic(), cpu()
        print("recheck %.4f %.3f" % (t1 - t0, c1 - c0), flush=True)
    except RuntimeError as e:
        print("error %s" % e, flush=True)
        return 1
    finally:
        ses.pause()
    return 0


if __name__ == "__main__":
    sys.exit(main())
