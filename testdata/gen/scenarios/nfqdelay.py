"""nfqdelay: delay and reorder packets through an NFQUEUE (netem is not
available here). Run inside a namespace whose iptables send packets to the
queue (`-j NFQUEUE --queue-num N`):

    nfqdelay.py QUEUE HOLD DELAY_MS SEED

Each packet is held with probability HOLD for DELAY_MS/3 to DELAY_MS
milliseconds, the others are accepted at once, so held packets leave after
later ones: delay, jitter and reordering on a real path. It speaks the
netlink protocol directly (nfnetlink_queue: bind, copy metadata, verdict),
so it needs no library. It prints "ready" once bound and runs until SIGTERM,
then prints how many packets it saw and held.
"""
import heapq
import random
import select
import signal
import socket
import struct
import sys
import time

NETLINK_NETFILTER = 12
NFNL_SUBSYS_QUEUE = 3
NFQNL_MSG_PACKET, NFQNL_MSG_VERDICT, NFQNL_MSG_CONFIG = 0, 1, 2
NFQA_CFG_CMD, NFQA_CFG_PARAMS = 1, 2
NFQNL_CFG_CMD_BIND = 1
NFQNL_COPY_META = 1
NFQA_PACKET_HDR, NFQA_VERDICT_HDR = 1, 2
NF_ACCEPT = 1
NLM_F_REQUEST, NLM_F_ACK = 1, 4
NLMSG_ERROR = 2


def attr(t, data):
    n = 4 + len(data)
    return struct.pack("=HH", n, t) + data + b"\0" * ((4 - n % 4) % 4)


def message(msg_type, queue, attrs, flags=NLM_F_REQUEST, seq=0):
    body = struct.pack("=BBH", socket.AF_UNSPEC, 0, socket.htons(queue)) + b"".join(attrs)
    return struct.pack("=IHHII", 16 + len(body), (NFNL_SUBSYS_QUEUE << 8) | msg_type, flags, seq, 0) + body


def attrs_of(b):
    out = {}
    while len(b) >= 4:
        n, t = struct.unpack("=HH", b[:4])
        if n < 4:
            break
        out[t & 0x7FFF] = b[4:n]
        b = b[(n + 3) & ~3:]
    return out


def main():
    queue, hold, delay, seed = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3]) / 1000, int(sys.argv[4])
    rnd = random.Random(seed)
    s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_NETFILTER)
    s.bind((0, 0))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    for i, a in enumerate([attr(NFQA_CFG_CMD, struct.pack("=BBH", NFQNL_CFG_CMD_BIND, 0, 0)),
                           attr(NFQA_CFG_PARAMS, struct.pack(">IB", 0, NFQNL_COPY_META) + b"\0\0\0")]):
        s.send(message(NFQNL_MSG_CONFIG, queue, [a], NLM_F_REQUEST | NLM_F_ACK, seq=i + 1))
        reply = s.recv(65536)
        _, t = struct.unpack("=IH", reply[:6])
        if t == NLMSG_ERROR and struct.unpack("=i", reply[16:20])[0] != 0:
            raise SystemExit("nfqdelay: config failed: errno %d" % -struct.unpack("=i", reply[16:20])[0])
    stop = []
    signal.signal(signal.SIGTERM, lambda *a: stop.append(1))
    print("ready", flush=True)
    held = []  # (release time, seq, packet id)
    seen = kept = 0

    def verdict(pid):
        s.send(message(NFQNL_MSG_VERDICT, queue, [attr(NFQA_VERDICT_HDR, struct.pack(">II", NF_ACCEPT, pid))]))

    while not stop or held:
        now = time.monotonic()
        while held and held[0][0] <= now:
            verdict(heapq.heappop(held)[2])
        timeout = max(0.0, held[0][0] - now) if held else 0.2
        try:
            r, _, _ = select.select([s], [], [], timeout)
        except InterruptedError:
            continue
        if not r:
            continue
        buf = s.recv(1 << 20)
        while len(buf) >= 16:
            n, t = struct.unpack("=IH", buf[:6])
            if n < 16:
                break
            if t == (NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_PACKET:
                a = attrs_of(buf[20:n])
                pid = struct.unpack(">I", a[NFQA_PACKET_HDR][:4])[0]
                seen += 1
                if rnd.random() < hold:
                    kept += 1
                    heapq.heappush(held, (time.monotonic() + rnd.uniform(delay / 3, delay), seen, pid))
                else:
                    verdict(pid)
            buf = buf[(n + 3) & ~3:]
    print("seen %d held %d" % (seen, kept), flush=True)


main()
