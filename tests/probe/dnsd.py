#!/usr/bin/env python3
"""tests/probe/dnsd.py — a tiny authoritative DNS server for the probe's DNS cases.

Serves answers dnsmasq will not give (a null MX, a compression loop, SERVFAIL) over UDP on
each address given, port 53, until killed. Used by tests/probe/run.sh inside the lab's `dns`
namespace only; it never forwards and answers only the names below.

  nullmx.test   MX 0 .                          (RFC 7505: accepts no mail)
  mixed.test    MX 0 . and MX 10 mx2.example.net (invalid mix: the null MX is ignored)
  nomx.test     no MX (NOERROR, empty); A 203.0.113.20  (implicit MX, RFC 5321 5.1)
  nx.test       NXDOMAIN
  fail.test     SERVFAIL
  loop.test     MX whose exchange name is a compression pointer to itself
  mx2.example.net  A 203.0.113.20
"""
import socket
import struct
import sys
import threading

QTYPE_A, QTYPE_MX, QTYPE_AAAA = 1, 15, 28


def enc(name):
    out = b""
    for label in name.strip(".").split("."):
        if label:
            out += bytes([len(label)]) + label.encode()
    return out + b"\x00"


def parse_question(msg):
    off, labels = 12, []
    while off < len(msg) and msg[off] != 0:
        n = msg[off]
        labels.append(msg[off + 1:off + 1 + n].decode("ascii", "replace"))
        off += 1 + n
    qtype, qclass = struct.unpack("!HH", msg[off + 1:off + 5])
    return ".".join(labels).lower(), qtype, qclass, off + 5


def rr(rtype, rdata, ttl=60):
    # Owner: a pointer to the question name at offset 12.
    return b"\xc0\x0c" + struct.pack("!HHIH", rtype, 1, ttl, len(rdata)) + rdata


def answer(msg):
    qid, flags = struct.unpack("!HH", msg[:4])
    name, qtype, _qclass, qend = parse_question(msg)
    question = msg[12:qend]
    rcode, answers = 0, []
    if name == "nx.test":
        rcode = 3
    elif name == "fail.test":
        rcode = 2
    elif name == "nullmx.test" and qtype == QTYPE_MX:
        answers = [rr(QTYPE_MX, b"\x00\x00\x00")]
    elif name == "mixed.test" and qtype == QTYPE_MX:
        answers = [rr(QTYPE_MX, b"\x00\x00\x00"),
                   rr(QTYPE_MX, b"\x00\x0a" + enc("mx2.example.net"))]
    elif name in ("nomx.test", "mx2.example.net") and qtype == QTYPE_A:
        answers = [rr(QTYPE_A, socket.inet_aton("203.0.113.20"))]
    elif name == "loop.test" and qtype == QTYPE_MX:
        # The exchange name starts at: header 12 + question + this record's fixed part
        # (2 owner + 10) + 2 preference bytes. Point it at itself.
        at = 12 + len(question) + 12 + 2
        answers = [rr(QTYPE_MX, b"\x00\x0a" + struct.pack("!H", 0xC000 | at))]
    elif name not in ("nullmx.test", "mixed.test", "nomx.test", "loop.test",
                      "mx2.example.net"):
        rcode = 3
    rflags = 0x8000 | 0x0400 | (flags & 0x0100) | 0x0080 | rcode
    hdr = struct.pack("!HHHHHH", qid, rflags, 1, len(answers), 0, 0)
    return hdr + question + b"".join(answers)


def serve(addr):
    fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_DGRAM)
    s.bind((addr, 53))
    while True:
        msg, peer = s.recvfrom(4096)
        try:
            s.sendto(answer(msg), peer)
        except Exception as e:  # a malformed query: ignore it, keep serving
            print(f"dnsd: bad query from {peer}: {e}", file=sys.stderr)


def main():
    threads = [threading.Thread(target=serve, args=(a,), daemon=True) for a in sys.argv[1:]]
    for t in threads:
        t.start()
    print("dnsd: listening", flush=True)
    for t in threads:
        t.join()


if __name__ == "__main__":
    main()
