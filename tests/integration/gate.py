"""OpenGate: holds other processes' open() of one file for as long as a test wants.

A hung disk or NFS mount makes open() and stat() of a file hang; fanotify
permission events (FAN_OPEN_PERM, fanotify(7)) make the same happen on
purpose: every open of the marked file waits until the gate answers it.
Opens by any other process (btd) are held until release(); the test's
own are allowed at once. Needs CAP_SYS_ADMIN (root) and a kernel with
CONFIG_FANOTIFY_ACCESS_PERMISSIONS; OpenGate.available() says whether
this machine has both.
"""

import ctypes
import os
import select
import struct
import threading

FAN_CLASS_CONTENT = 0x04
FAN_CLOEXEC = 0x01
FAN_MARK_ADD = 0x01
FAN_OPEN_PERM = 0x00010000
FAN_ALLOW = 0x01
AT_FDCWD = -100
EVENT = struct.Struct("=IBBHQii")  # event_len, vers, reserved, metadata_len, mask, fd, pid
RESPONSE = struct.Struct("=iI")  # fd, response

_libc = ctypes.CDLL(None, use_errno=True)
_libc.fanotify_init.argtypes = [ctypes.c_uint, ctypes.c_uint]
_libc.fanotify_mark.argtypes = [ctypes.c_int, ctypes.c_uint, ctypes.c_uint64, ctypes.c_int,
                                ctypes.c_char_p]


def _init():
    fd = _libc.fanotify_init(FAN_CLASS_CONTENT | FAN_CLOEXEC, os.O_RDONLY)
    if fd < 0:
        raise OSError(ctypes.get_errno(), "fanotify_init")
    return fd


class OpenGate:
    @staticmethod
    def available():
        """Can this process hold opens? (root, and permission events in the kernel)"""
        try:
            fd = _init()
        except OSError:
            return False
        try:
            return _libc.fanotify_mark(fd, FAN_MARK_ADD, FAN_OPEN_PERM, AT_FDCWD,
                                       os.fsencode(os.path.abspath(__file__))) == 0
        finally:
            os.close(fd)

    def __init__(self, path):
        self.fd = _init()
        if _libc.fanotify_mark(self.fd, FAN_MARK_ADD, FAN_OPEN_PERM, AT_FDCWD,
                               os.fsencode(path)) < 0:
            err = ctypes.get_errno()
            os.close(self.fd)
            raise OSError(err, "fanotify_mark " + path)
        self._lock = threading.Lock()
        self._held = []  # event fds of the opens waiting
        self._open = True  # False once release(): everything is allowed from then on
        self._closed = False
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _answer(self, event_fd):
        os.write(self.fd, RESPONSE.pack(event_fd, FAN_ALLOW))
        os.close(event_fd)

    def _serve(self):
        while not self._closed:
            if not select.select([self.fd], [], [], 0.1)[0]:
                continue
            buf = os.read(self.fd, 4096)
            for off in range(0, len(buf), EVENT.size):
                _, _, _, _, mask, event_fd, pid = EVENT.unpack_from(buf, off)
                if event_fd < 0:
                    continue
                with self._lock:
                    hold = self._open and pid != os.getpid() and mask & FAN_OPEN_PERM
                    if hold:
                        self._held.append(event_fd)
                if not hold:
                    self._answer(event_fd)

    def held(self):
        """How many opens are waiting."""
        with self._lock:
            return len(self._held)

    def release(self):
        """Lets the waiting opens go on, and every later one."""
        with self._lock:
            self._open = False
            held, self._held = self._held, []
        for event_fd in held:
            self._answer(event_fd)

    def close(self):
        """Releases everything, then removes the mark (the group goes with its descriptor)."""
        if not self._closed:
            self.release()
            self._closed = True
            self._thread.join(5)
            os.close(self.fd)
