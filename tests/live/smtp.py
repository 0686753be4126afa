#!/usr/bin/env python3
"""tests/live/smtp.py — the two ends of an SMTP connection attempt for the live tests.

  smtp.py client HOST PORT TIMEOUT [BYTES]
      A non-blocking connect like Postfix's (an ICMP error fails it at once), then read the
      greeting, optionally send BYTES of data (to fill -w files for the rotation test), QUIT.
      Prints one line: "connected 220" or the errno name (ECONNREFUSED, ETIMEDOUT, ...).
  smtp.py server ADDR PORT
      Accept connections forever: greet with 220, swallow what comes, answer QUIT with 221.
"""
import errno
import select
import socket
import sys
import time


def client(host, port, timeout, nbytes):
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.setblocking(False)
    rc = s.connect_ex((host, port))
    if rc not in (0, errno.EINPROGRESS):
        print(errno.errorcode.get(rc, str(rc)))
        return 0
    _, w, _ = select.select([], [s], [], timeout)
    if not w:
        print("ETIMEDOUT")
        s.close()
        return 0
    err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
    if err:
        print(errno.errorcode.get(err, str(err)))
        return 0
    s.setblocking(True)
    s.settimeout(timeout)
    banner = s.recv(512).decode("ascii", "replace")
    if nbytes:
        chunk = b"X" * 1400 + b"\r\n"
        sent = 0
        while sent < nbytes:
            s.sendall(chunk)
            sent += len(chunk)
    s.sendall(b"QUIT\r\n")
    deadline = time.time() + timeout
    while time.time() < deadline:
        d = s.recv(4096)
        if not d or b"221" in d:
            break
    s.close()
    print("connected " + banner[:3])
    return 0


def server(addr, port):
    fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
    ls = socket.socket(fam, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((addr, port))
    ls.listen(16)
    while True:
        c, _ = ls.accept()
        c.settimeout(30)
        try:
            c.sendall(b"220 mx.example.net ESMTP portmortem-live\r\n")
            buf = b""
            while b"QUIT" not in buf:
                d = c.recv(65536)
                if not d:
                    break
                buf = buf[-16:] + d
            c.sendall(b"221 2.0.0 bye\r\n")
        except OSError:
            pass
        c.close()


if __name__ == "__main__":
    if sys.argv[1] == "client":
        sys.exit(client(sys.argv[2], int(sys.argv[3]), float(sys.argv[4]),
                        int(sys.argv[5]) if len(sys.argv) > 5 else 0))
    server(sys.argv[2], int(sys.argv[3]))
