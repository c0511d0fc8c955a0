#!/usr/bin/python3
"""lt_peer: one python3-libtorrent peer as its own process, for tests and the demo.

    lt_peer.py --torrent F --dir D --ip 127.0.0.2 [--seed] [--peer HOST:PORT]...
               [--upload-limit BYTES_PER_S] [--exit-when-done] [--pex]
               [--encryption forced|forced-both|disabled]

Seeds (--seed, data already in D) or leeches F into D, listening only on
--ip with DHT, LSD, UPnP, NAT-PMP, uTP and (unless --pex) PEX off, so every
byte stays on loopback. It prints one line per event on stdout, flushed, for the caller
to wait on:

    listening PORT
    state STATE          (checking_files, downloading, seeding, ...)
    announced            (a tracker answered an announce)
    finished             (all pieces verified)
    peer IP:PORT rc4|obfuscated|plaintext  (--encryption: each peer once, once
                         its handshake is over; obfuscated: MSE, plaintext payload)

and runs until SIGTERM (--exit-when-done: until finished). Leeching, it
also prints "progress P" every second.

--encryption forced: Message Stream Encryption with RC4 only, both ways
(pe_forced, pe_rc4), as a user who requires encryption sets it;
forced-both: MSE always, offering RC4 and plaintext payload (pe_both);
disabled: plaintext only (pe_disabled both ways).
"""

import argparse
import signal
import sys
import time

import libtorrent as lt


def settings(ip):
    s = lt.high_performance_seed()
    s.update({
        "listen_interfaces": ("[%s]:0" if ":" in ip else "%s:0") % ip,
        "outgoing_interfaces": ip,
        "enable_dht": False,
        "enable_lsd": False,
        "enable_upnp": False,
        "enable_natpmp": False,
        "enable_incoming_utp": False,
        "enable_outgoing_utp": False,
        "allow_multiple_connections_per_ip": True,
        "announce_to_all_tiers": True,
        "announce_to_all_trackers": True,
        "alert_mask": lt.alert.category_t.status_notification |
        lt.alert.category_t.error_notification | lt.alert.category_t.tracker_notification,
        "user_agent": "lt_peer",
        "stop_tracker_timeout": 1,
    })
    return s


def say(text):
    print(text, flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--torrent", required=True)
    ap.add_argument("--dir", required=True)
    ap.add_argument("--ip", default="127.0.0.1")
    ap.add_argument("--seed", action="store_true")
    ap.add_argument("--peer", action="append", default=[])
    ap.add_argument("--exit-when-done", action="store_true")
    ap.add_argument("--upload-limit", type=int, default=0, help="bytes/s, 0 = none")
    ap.add_argument("--pex", action="store_true", help="peer exchange on (tests of PEX only)")
    ap.add_argument("--encryption", choices=("forced", "forced-both", "disabled"))
    args = ap.parse_args()

    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(1))
    signal.signal(signal.SIGINT, lambda *_: stopping.append(1))

    s = settings(args.ip)
    if args.upload_limit:
        s["upload_rate_limit"] = args.upload_limit
        s["ignore_limits_on_local_network"] = False  # 127.0.0.0/8 is "local"
    if args.encryption in ("forced", "forced-both"):
        level = lt.enc_level.rc4 if args.encryption == "forced" else lt.enc_level.both
        s.update({"out_enc_policy": int(lt.enc_policy.forced),
                  "in_enc_policy": int(lt.enc_policy.forced),
                  "allowed_enc_level": int(level), "prefer_rc4": False})
    elif args.encryption == "disabled":
        s.update({"out_enc_policy": int(lt.enc_policy.disabled),
                  "in_enc_policy": int(lt.enc_policy.disabled)})
    ses = lt.session(s)
    atp = lt.add_torrent_params()
    atp.ti = lt.torrent_info(args.torrent)
    atp.save_path = args.dir
    atp.flags |= lt.torrent_flags.disable_dht | lt.torrent_flags.disable_lsd
    if not args.pex:
        atp.flags |= lt.torrent_flags.disable_pex
    if args.seed:
        atp.flags |= lt.torrent_flags.seed_mode
    h = ses.add_torrent(atp)
    for peer in args.peer:
        host, port = peer.rsplit(":", 1)
        h.connect_peer((host.strip("[]"), int(port)))

    deadline = time.monotonic() + 20
    while ses.listen_port() == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    say("listening %d" % ses.listen_port())
    last_state = None
    finished = False
    last_progress = 0.0
    announced = False
    peers_seen = set()
    while not stopping:
        ses.wait_for_alert(200)
        for a in ses.pop_alerts():
            if isinstance(a, lt.tracker_reply_alert) and not announced:
                announced = True
                say("announced")
        if args.encryption:
            for p in h.get_peer_info():
                addr = "%s:%d" % (p.ip[0], p.ip[1])
                if p.flags & (p.handshake | p.connecting):
                    continue  # encryption is known once the handshake is over
                if addr not in peers_seen:
                    peers_seen.add(addr)
                    kind = ("rc4" if p.flags & p.rc4_encrypted else
                            "obfuscated" if p.flags & p.plaintext_encrypted else "plaintext")
                    say("peer %s %s" % (addr, kind))
        st = h.status()
        if str(st.state) != last_state:
            last_state = str(st.state)
            say("state %s" % last_state)
        if not finished and st.is_seeding:
            finished = True
            say("finished")
            if args.exit_when_done:
                break
        if not args.seed and time.monotonic() - last_progress >= 1.0:
            last_progress = time.monotonic()
            say("progress %.4f" % st.progress)
    ses.pause()
    return 0


if __name__ == "__main__":
    sys.exit(main())
