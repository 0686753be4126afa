#!/usr/bin/python3
"""tests/watch/driver.py -- the acceptance lab's helpers for `portmortem watch` (tests/watch/lab.sh).

Runs inside the lab's namespaces (never in the root one), each subcommand small and bounded:

  mx PORT...                      a tiny SMTP listener (220 banner, 221 on QUIT) for the MX host
  send LOG DST PORT COUNT NAME [GAP]
                                  COUNT connect()s to DST:PORT, GAP seconds apart (0.3), each
                                  followed by the Postfix lines the real smtp client would log
                                  (appended to LOG, syslog stamps)
  syslog FILE                     parse the records the collector rsyslog wrote (RFC 5424 header,
                                  JSON message) and print them as one JSON array

Every socket has a timeout; nothing here waits without a bound.
"""
import json
import os
import random
import re
import socket
import sys
import threading
import time


def stamp():
    # Postfix through syslog: "Dec  8 01:02:03" (local time, no year), as lab.sh's maillogs.
    t = time.localtime()
    return time.strftime("%b ", t) + ("%2d" % t.tm_mday) + time.strftime(" %H:%M:%S", t)


def qid():
    return "".join(random.choice("0123456789ABCDEF") for _ in range(11))


def cmd_mx(ports):
    def serve(conn):
        with conn:
            conn.settimeout(5)
            try:
                conn.sendall(b"220 mx1.example.net ESMTP lab\r\n")
                buf = b""
                while b"QUIT" not in buf.upper() and len(buf) < 4096:
                    d = conn.recv(512)
                    if not d:
                        return
                    buf += d
                    if b"\n" in d and b"QUIT" not in buf.upper():
                        conn.sendall(b"250 ok\r\n")
                conn.sendall(b"221 bye\r\n")
            except OSError:
                pass

    def listen(port):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("0.0.0.0", port))
        s.listen(64)
        while True:
            c, _ = s.accept()
            threading.Thread(target=serve, args=(c,), daemon=True).start()

    for p in ports[1:]:
        threading.Thread(target=listen, args=(int(p),), daemon=True).start()
    listen(int(ports[0]))


def cmd_send(log, dst, port, count, name, gap="0.3"):
    port, count, gap = int(port), int(count), float(gap)
    out = {"ok": 0, "refused": 0, "other": 0}
    pid = os.getpid()
    for _ in range(count):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.settimeout(4)
        q = qid()
        relay = "%s[%s]:%d" % (name, dst, port)
        t0 = time.monotonic()
        try:
            s.connect((dst, port))
            s.recv(512)
            s.sendall(b"QUIT\r\n")
            s.recv(512)
            line = ("%s: to=<user@example.net>, relay=%s, delay=%.2f, delays=0/0/0.01/0.01, "
                    "dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as %s)"
                    % (q, relay, time.monotonic() - t0, qid()))
            lines = [line]
            out["ok"] += 1
        except ConnectionRefusedError:
            err = "connect to %s: Connection refused" % relay
            lines = [err, "%s: to=<user@example.net>, relay=none, delay=%.2f, delays=0/0/0.01/0, "
                          "dsn=4.4.1, status=deferred (%s)" % (q, time.monotonic() - t0, err)]
            out["refused"] += 1
        except OSError as e:
            err = "connect to %s: %s" % (relay, e.strerror or "Connection timed out")
            lines = [err]
            out["other"] += 1
        finally:
            s.close()
        with open(log, "a") as f:
            for ln in lines:
                f.write("%s sender postfix/smtp[%d]: %s\n" % (stamp(), pid, ln))
        time.sleep(gap)
    print(json.dumps(out))


# RFC 5424 section 6: HEADER = PRI VERSION SP TIMESTAMP SP HOSTNAME SP APP-NAME SP PROCID SP
# MSGID; then STRUCTURED-DATA ("-" here) and MSG (optionally after a UTF-8 BOM).
R5424 = re.compile(r"^<(\d{1,3})>1 (\S+) (\S+) (\S+) (\S+) (\S+) (-|\[.*?\]) ?(.*)$")


def cmd_syslog(path):
    recs = []
    with open(path, encoding="utf-8", errors="replace") as f:
        for n, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if not line:
                continue
            m = R5424.match(line)
            r = {"line": n, "rfc5424": bool(m)}
            if m:
                pri = int(m.group(1))
                r.update(facility=pri >> 3, severity=pri & 7, timestamp=m.group(2),
                         host=m.group(3), app=m.group(4), procid=m.group(5), msgid=m.group(6))
                msg = m.group(8).lstrip("\ufeff")
                try:
                    r["json"] = json.loads(msg)
                except ValueError:
                    r["json"] = None
                    r["raw"] = msg[:200]
            else:
                r["raw"] = line[:200]
            recs.append(r)
    print(json.dumps(recs))


def main(argv):
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    cmd, args = argv[1], argv[2:]
    if cmd == "mx":
        cmd_mx(args)
    elif cmd == "send" and len(args) in (5, 6):
        cmd_send(*args)
    elif cmd == "syslog" and len(args) == 1:
        cmd_syslog(args[0])
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
