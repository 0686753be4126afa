#!/usr/bin/env python3
"""lab/verify.py — check that a recorded lab run really shows what its truth.json claims.

This is the lab's own ground-truth check, independent of portmortem: it reads the pcaps with a
tiny built-in parser (Ethernet, IPv4, IPv6, TCP, ICMP, ICMPv6; pcap files as tcpdump -w writes
them) and greps the MTA log. For every `expect` row it checks the outcome on the sender's wire,
the key evidence (ICMP type/code and sender, RST TTL, banner code, timing, loopback-only replies)
and that the MTA logged the expected error text for that address.

usage: verify.py RUNDIR...   (a directory with truth.json; prints PASS/FAIL lines, exit 1 on FAIL)
"""
import ipaddress
import json
import os
import struct
import sys


def read_pcap(path):
    """Yield (time, frame bytes) from a classic pcap file (either byte order, us or ns)."""
    if not os.path.exists(path):
        return
    with open(path, "rb") as f:
        hdr = f.read(24)
        if len(hdr) < 24:
            return
        magic = struct.unpack("<I", hdr[:4])[0]
        if magic in (0xA1B2C3D4, 0xA1B23C4D):
            endian = "<"
        else:
            endian = ">"
            magic = struct.unpack(">I", hdr[:4])[0]
        scale = 1e-9 if magic == 0xA1B23C4D else 1e-6
        linktype = struct.unpack(endian + "I", hdr[20:24])[0]
        while True:
            rec = f.read(16)
            if len(rec) < 16:
                return
            sec, frac, incl, _orig = struct.unpack(endian + "IIII", rec)
            data = f.read(incl)
            if linktype == 1:  # Ethernet
                yield sec + frac * scale, data
            elif linktype == 113:  # Linux cooked: fake a 14-byte Ethernet header
                yield sec + frac * scale, b"\0" * 12 + data[14:16] + data[16:]


def parse_l3(b):
    """Parse an IPv4/IPv6 packet (possibly truncated, as quoted in ICMP). Returns a dict."""
    if not b:
        return None
    ver = b[0] >> 4
    p = {}
    if ver == 4 and len(b) >= 20:
        ihl = (b[0] & 15) * 4
        p.update(v=4, ttl=b[8], proto=b[9], src=str(ipaddress.IPv4Address(b[12:16])),
                 dst=str(ipaddress.IPv4Address(b[16:20])))
        body = b[ihl:]
    elif ver == 6 and len(b) >= 40:
        p.update(v=6, ttl=b[7], proto=b[6], src=str(ipaddress.IPv6Address(b[8:24])),
                 dst=str(ipaddress.IPv6Address(b[24:40])))
        body = b[40:]
    else:
        return None
    if p["proto"] == 6 and len(body) >= 14:
        sport, dport = struct.unpack(">HH", body[:4])
        doff = (body[12] >> 4) * 4
        p.update(sport=sport, dport=dport, flags=body[13], payload=body[doff:])
    elif p["proto"] in (1, 58) and len(body) >= 8:
        p.update(icmp_type=body[0], icmp_code=body[1], inner=parse_l3(body[8:]))
    return p


def packets(path):
    for t, frame in read_pcap(path):
        if len(frame) < 14:
            continue
        etype = struct.unpack(">H", frame[12:14])[0]
        if etype not in (0x0800, 0x86DD):
            continue
        p = parse_l3(frame[14:])
        if p:
            p["t"] = t
            yield p


SYN, RST, ACK = 0x02, 0x04, 0x10
ICMP_ERRORS = {4: (3, 11), 6: (1, 3)}  # dest-unreachable, time-exceeded per family
TTL_EXCEEDED = {4: 11, 6: 3}


class Run:
    def __init__(self, d):
        self.dir = d
        with open(os.path.join(d, "truth.json")) as f:
            self.truth = json.load(f)
        self.pk = {name: list(packets(os.path.join(d, fn)))
                   for name, fn in self.truth["captures"].items()}
        self.lo = list(packets(os.path.join(d, self.truth.get("extra_captures", {})
                                            .get("sender-lo", "sender-lo.pcap"))))
        try:
            with open(os.path.join(d, self.truth["mta_log"]), errors="replace") as f:
                self.log = f.read().splitlines()
        except OSError:
            self.log = []
        self.failed = 0

    def report(self, ok, what, detail):
        if not ok:
            self.failed += 1
        print("%s verify %s %s: %s" % ("PASS" if ok else "FAIL", self.truth["scenario"], what, detail))

    def check(self, row):
        dst, dport, out = row["dst"], row["dport"], row["outcome"]
        key, culprit = row.get("key") or {}, row.get("culprit")
        what = "%s:%s %s" % (dst, dport, out)
        pk = self.pk.get(row.get("vantage", "sender"), [])
        tcp = [p for p in pk if "sport" in p]
        syns = [p for p in tcp if p["dst"] == dst and p["dport"] == dport
                and p["flags"] & (SYN | ACK) == SYN]
        replies = [p for p in tcp if p["src"] == dst and p["sport"] == dport]
        nth = row.get("nth")
        if nth:
            # The NTH attempt to dst:dport in time: its source port, its packets only.
            sports = []
            for p in syns:
                if p["sport"] not in sports:
                    sports.append(p["sport"])
            sp = sports[nth - 1] if len(sports) >= nth else None
            what += " (attempt %d)" % nth
            syns = [p for p in syns if p["sport"] == sp]
            replies = [p for p in replies if p["dport"] == sp]
        synacks = [p for p in replies if p["flags"] & (SYN | ACK) == SYN | ACK]
        rsts = [p for p in replies if p["flags"] & RST]
        data = [p for p in replies if p["payload"]]
        icmps = [p for p in pk if "icmp_type" in p and p["icmp_type"] in ICMP_ERRORS[p["v"]]
                 and p["inner"] and p["inner"].get("dst") == dst
                 and p["inner"].get("dport") == dport
                 and (not nth or p["inner"].get("sport") == sp)]
        banner = data[0]["payload"][:3].decode("ascii", "replace") if data else None
        # issue 14: reply codes after the greeting (a 553 to RCPT), and the client's bytes
        # (a TLS ClientHello where plaintext SMTP was expected, or the reverse)
        codes = [int(line[:3]) for p in data for line in p["payload"].split(b"\r\n")
                 if len(line) >= 3 and line[:3].isdigit() and line[:1] in b"2345"]
        cdata = [p for p in tcp if p["dst"] == dst and p["dport"] == dport and p["payload"]]
        facts = "syns=%d synack=%d rst=%d icmp=%d banner=%s" % (
            len(syns), len(synacks), len(rsts), len(icmps), banner)

        if out == "not-on-wire":
            ok = not syns and not replies and not icmps
        elif out == "connected":
            ok = bool(synacks) and banner is not None and banner[0] == "2"
        elif out == "smtp-rejected":
            ok = (bool(synacks) and banner is not None
                  and (banner[0] in "45" or any(c >= 400 for c in codes)))
        elif out == "tls-mismatch":
            # one side opens with a TLS record (content type 21/22), the other does not
            client_tls = bool(cdata) and cdata[0]["payload"][:1] == b"\x16"
            server_tls = bool(data) and data[0]["payload"][:1] in (b"\x15", b"\x16")
            ok = bool(synacks) and bool(data) and client_tls != server_tls
        elif out == "no-banner":
            ok = bool(synacks) and not data and not rsts
        elif out == "refused":
            ok = bool(syns) and bool(rsts) and not synacks
        elif out == "icmp-unreachable":
            ok = bool(syns) and any(p["icmp_type"] != TTL_EXCEEDED[p["v"]] for p in icmps)
        elif out == "ttl-exceeded":
            ok = bool(syns) and any(p["icmp_type"] == TTL_EXCEEDED[p["v"]] for p in icmps)
        elif out == "no-response":
            ok = bool(syns) and not replies and not icmps
        else:
            ok = False
        self.report(ok, what, facts)

        if "reply_code" in key:
            self.report(key["reply_code"] in codes, what + " reply code", "got %s" % codes)
        if "banner_code" in key:
            self.report(banner == str(key["banner_code"]), what + " banner", "got %s" % banner)
        if "rst_ttl" in key:
            ttl = rsts[0]["ttl"] if rsts else None
            self.report(ttl == key["rst_ttl"], what + " rst ttl", "got %s want %s" % (ttl, key["rst_ttl"]))
        if "dst_ttl" in key:
            # The destination's genuine TTL, from its packets on other ports (e.g. 587).
            own = sorted({p["ttl"] for p in tcp if p["src"] == dst and p["sport"] != dport})
            rttl = rsts[0]["ttl"] if rsts else None
            self.report(own == [key["dst_ttl"]] and rttl is not None and rttl > own[0],
                        what + " forged rst ttl above mx ttl", "rst %s, mx's own %s" % (rttl, own))
        if "icmp_type" in key:
            hit = [p for p in icmps if p["icmp_type"] == key["icmp_type"]
                   and p["icmp_code"] == key.get("icmp_code", p["icmp_code"])]
            srcs = sorted({p["src"] for p in hit})
            self.report(bool(hit) and srcs == [culprit], what + " icmp %s/%s from culprit" % (
                key["icmp_type"], key.get("icmp_code")), "from %s" % (srcs or "none"))
            if "icmp_delay_s" in key and hit and syns:
                delay = hit[0]["t"] - syns[0]["t"]
                self.report(abs(delay - key["icmp_delay_s"]) < 0.8, what + " icmp delay",
                            "%.2f s after the first SYN" % delay)
        if "loopback" in key:
            lo = [p for p in self.lo if (p.get("src") == dst and p.get("flags", 0) & RST) or
                  (p.get("inner") or {}).get("dst") == dst]
            kinds = sorted({"rst" if "flags" in p else "icmp" for p in lo})
            self.report(kinds == [key["loopback"]], what + " reply on loopback only", "lo shows %s" % kinds)
        if "nat_outside_syns" in key:
            n = len([p for p in self.pk.get("nat-outside", []) if "sport" in p and p["dst"] == dst
                     and p["dport"] == dport and p["flags"] & (SYN | ACK) == SYN])
            self.report(n == key["nat_outside_syns"], what + " syns at nat-outside", "%d" % n)
        if "public_src" in key:
            srcs = sorted({p["src"] for p in self.pk.get("nat-outside", []) if "sport" in p
                           and p["dst"] == dst and p["dport"] == dport})
            self.report(srcs == [key["public_src"]], what + " source at nat-outside", "%s" % srcs)
        if "mta_error" in key:
            lines = [n + 1 for n, line in enumerate(self.log)
                     if "[%s]" % dst in line and key["mta_error"] in line
                     and (dport == 25 or ":%d" % dport in line or "%s]:%d" % (dst, dport) in line)]
            self.report(bool(lines), what + " mta log", "%r at line(s) %s" % (key["mta_error"], lines[:3]))


def main():
    if len(sys.argv) < 2:
        print(__doc__.strip().splitlines()[-1], file=sys.stderr)
        return 2
    failed = 0
    dirs = []
    for d in sys.argv[1:]:
        if os.path.exists(os.path.join(d, "truth.json")):
            dirs.append(d)
        else:  # an `all` output directory: every subdirectory that has a truth file
            dirs += sorted(os.path.join(d, s) for s in os.listdir(d)
                           if os.path.exists(os.path.join(d, s, "truth.json")))
    for d in dirs:
        run = Run(d)
        for row in run.truth["expect"]:
            run.check(row)
        failed += run.failed
    print("verify: %d run(s), %d failed check(s)" % (len(dirs), failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
