#!/usr/bin/python3
"""btd uploads: once it has a torrent, real leechers download it from btd alone.

A python3-libtorrent seeder gives btd the data and is stopped; then a
python3-libtorrent leecher dialling only btd downloads it, and its file
must have the original sha256.
"""

import os
import shutil
import sys

import btdtest
from swarm import Btd, LtPeer, payload_torrent, sha256_file

BTD = btdtest.env_path("BTD")
BTCTL = btdtest.env_path("BTCTL")
FILES = {"seed.bin": 3 * 1024 * 1024 + 777}


def test_btd_seeds_to_real_leechers(t):
    seed_dir, sums, torrent, _ = payload_torrent(BTCTL, FILES, "seed.bin", piece_length=32768)
    btd = Btd(BTD)
    leecher = None
    try:
        seeder = LtPeer(torrent, seed_dir, "127.0.0.2")
        tid = btd.add(torrent, peers=[seeder.addr])["id"]
        btd.wait_done(tid, timeout=60)
        seeder.stop()
        port = btd.call("session.get")["listen_port"]

        out = btdtest.tempdir("leech-")
        leecher = LtPeer(torrent, out, "127.0.0.3", seed=False, peers=["127.0.0.1:%d" % port],
                         wait_announce=False)
        leecher.wait_line("finished", 60)
        t.eq(sha256_file(os.path.join(out, "seed.bin")), sums["seed.bin"],
             "a libtorrent leecher gets the original bytes from btd alone")
        st = btd.status(tid)
        t.ok(st["uploaded_bytes"] >= FILES["seed.bin"], "btd counts what it uploaded",
             st["uploaded_bytes"])
    finally:
        if leecher:
            leecher.stop()
        t.eq(btd.stop(), 0, "seeding: btd exits 0")


def test_existing_data_is_checked(t):
    """Data already in --dir: complete seeds at once, corrupted pieces alone are fetched."""
    piece = 32768
    seed_dir, sums, torrent, _ = payload_torrent(BTCTL, FILES, "seed.bin", piece_length=piece)
    btd = Btd(BTD)
    seeder = None
    try:
        tid = btd.add(torrent, dir=seed_dir)["id"]
        st = btd.wait_done(tid, timeout=60)
        t.eq(st["downloaded_bytes"], 0, "complete data: seeding without downloading a byte")
        t.eq(st["verified_bytes"], FILES["seed.bin"], "complete data: every byte verified")
        btd.call("torrent.remove", id=str(tid))

        part = btdtest.tempdir("part-")
        shutil.copy(os.path.join(seed_dir, "seed.bin"), os.path.join(part, "seed.bin"))
        with open(os.path.join(part, "seed.bin"), "r+b") as f:
            for index in (3, 40):  # two whole pieces become garbage
                f.seek(index * piece)
                f.write(os.urandom(piece))
        seeder = LtPeer(torrent, seed_dir, "127.0.0.2")
        tid = btd.add(torrent, dir=part, peers=[seeder.addr])["id"]
        st = btd.wait_done(tid, timeout=60)
        t.eq(st["downloaded_bytes"], 2 * piece, "partial data: exactly the two bad pieces fetched")
        t.eq(sha256_file(os.path.join(part, "seed.bin")), sums["seed.bin"],
             "partial data: the file is mended")
    finally:
        if seeder:
            seeder.stop()
        t.eq(btd.stop(), 0, "check: btd exits 0")


def main():
    t = btdtest.Tap()
    t.run(test_btd_seeds_to_real_leechers)
    t.run(test_existing_data_is_checked)
    return t.done()


if __name__ == "__main__":
    sys.exit(main())
