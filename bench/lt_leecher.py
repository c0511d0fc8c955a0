#!/usr/bin/python3
"""lt_leecher: the upload benchmark's leecher, tests/integration/lt_peer.py with two settings.

    lt_leecher.py [--request-queue N] [--mse] LT_PEER_ARGS...

Runs lt_peer.py (same arguments, same output lines) with its settings
(libtorrent's high_performance_seed, DHT/LSD/UPnP/NAT-PMP/PEX/uTP off) and:

- max_out_request_queue N, the requests it keeps outstanding to a peer
  that does not say its own limit (default 500, libtorrent's default;
  0 keeps high_performance_seed's 1500, which overflows btd's queue of
  BTD_UPLOAD_MAX_QUEUE = 500 requests per peer: btd refuses them, then
  drops the peer and the download stalls);
- out_enc_policy pe_disabled, a plaintext handshake, unless --mse: with
  libtorrent's default (pe_enabled) an outgoing connection starts with an
  MSE handshake (btd and libtorrent both accept it, and the seeder then
  picks plain or RC4 payload); without --mse every seeder is measured on
  the plain BitTorrent handshake.
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "tests", "integration"))
import lt_peer  # noqa: E402


def main():
    ap = argparse.ArgumentParser(add_help=False)
    ap.add_argument("--request-queue", type=int, default=500)
    ap.add_argument("--mse", action="store_true")
    mine, rest = ap.parse_known_args()
    base = lt_peer.settings

    def settings(ip):
        s = base(ip)
        if mine.request_queue:
            s["max_out_request_queue"] = mine.request_queue
        if not mine.mse:
            s["out_enc_policy"] = int(lt_peer.lt.enc_policy.pe_disabled)
        return s
    lt_peer.settings = settings
    sys.argv = [sys.argv[0]] + rest
    return lt_peer.main()


if __name__ == "__main__":
    sys.exit(main())
