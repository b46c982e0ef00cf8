"""span_skew: what a SPAN port delivers when the client->server copies lag.

Client in namespace A, server in namespace B, across a veth pair with MTU
1500 and TSO/GSO/GRO off (so segments are wire-sized). Each direction is
captured where it enters its receiver (tcpdump -Q in on each veth end);
the two are merged after delaying every client->server copy by 4 ms, as a
mirror whose two source paths differ, and 5% of them by up to 3 ms more
(reordered, as a mirror fed through a LAG delivers them). So the server's SYN+ACK is captured
before the client's SYN, and the server's ACKs before the data they
acknowledge.

Connection 1: REQ/REP, 12 requests. Connection 2: DEALER/ROUTER, 40
messages of 2-9 KB from the client, 3% of them dropped before the veth
(iptables statistic in A's OUTPUT: the capture sees only TCP's
retransmission) and 3% duplicated (iptables TEE), each answered with a
short reply."""
import random

from netlab import *

SP1, CP1, SP2, CP2 = 16400, 26500, 16401, 26501
SKEW = 0.004


def main():
    out = case_dir("span_skew")
    tmp = "/tmp/zspy-gen-span_skew"
    os.makedirs(tmp, exist_ok=True)
    rnd = random.Random(11)
    t = Truth("span_skew", "REQ/REP and DEALER/ROUTER across a veth pair (MTU 1500, offloads off), "
              "3% loss and 3% duplication on the DEALER's segments, captured as a SPAN port "
              "delivers it with the client->server copies 4 ms late.")
    t.note("The capture is the merge of two tcpdump -Q in captures (one per veth end) with "
           "every client->server copy delayed by 4 ms and 5% of them by 1-3 ms more: the SYN+ACKs come before the SYNs, "
           "and ACKs before the data they acknowledge, which is reordered.")
    t.note("Which segments are lost or duplicated is random (iptables statistic); the counts are not.")
    with Lab("span", mtu=1500, offloads={"tso": "off", "gso": "off", "gro": "off"}) as lab:
        lab.iptables("a", "-A", "OUTPUT", "-p", "tcp", "--dport", str(SP2), "-m", "length",
                     "--length", "200:65535", "-m", "statistic", "--mode", "random",
                     "--probability", "0.15", "-j", "DROP")
        lab.iptables("a", "-t", "mangle", "-A", "POSTROUTING", "-p", "tcp", "--dport", str(SP2),
                     "-m", "statistic", "--mode", "random", "--probability", "0.10",
                     "-j", "TEE", "--gateway", lab.B)
        c1 = lab_conn(t, lab, "req-rep", "REQ", "REP", CP1, SP1)
        c1.c2s.cmds("READY"); c1.s2c.cmds("READY")
        c2 = lab_conn(t, lab, "dealer-router", "DEALER", "ROUTER", CP2, SP2)
        c2.identity("client", "span")
        c2.c2s.cmds("READY"); c2.s2c.cmds("READY")
        ctxb = lab.context("b")
        ctxa = lab.context("a")
        sb, sa = socket_maker(ctxb), socket_maker(ctxa)
        ina, inb = os.path.join(tmp, "in-a.pcap"), os.path.join(tmp, "in-b.pcap")
        ports = [SP1, SP2]
        capa = lab.capture(ina, "a", ports, direction="in")
        capb = lab.capture(inb, "b", ports, direction="in")
        capa.start()
        capb.start()
        with lab.inside("b"):
            rep = sb(zmq.REP)
            rep.bind("tcp://%s:%d" % (lab.B, SP1))
            router = sb(zmq.ROUTER)
            router.bind("tcp://%s:%d" % (lab.B, SP2))
        req = sa(zmq.REQ)
        req.connect("tcp://%s:%d;%s:%d" % (lab.A, CP1, lab.B, SP1))
        dealer = sa(zmq.DEALER, ROUTING_ID=b"span")
        dealer.connect("tcp://%s:%d;%s:%d" % (lab.A, CP2, lab.B, SP2))
        for i in range(12):
            m = [b"request %d" % i, rnd.randbytes(i * 20)]
            req.send_multipart(m)
            assert rep.recv_multipart() == m
            c1.c2s.msg(m, envelope=1)
            r = [b"reply %d" % i]
            rep.send_multipart(r)
            assert req.recv_multipart() == r
            c1.s2c.msg(r, envelope=1)
        for i in range(40):
            m = [b"msg %d" % i, rnd.randbytes(2000 + (i * 181) % 7000)]
            dealer.send_multipart(m)
            c2.c2s.msg(m)
        for i in range(40):
            got = router.recv_multipart()
            assert got[0] == b"span" and len(got) == 3, got[:2]
            r = [b"ok %d" % i]
            router.send_multipart([b"span"] + r)
            c2.s2c.msg(r)
        for i in range(40):
            dealer.recv_multipart()
        for s in (req, dealer, rep, router):
            s.close(linger=3000)
        ctxa.term()
        ctxb.term()
        wait_fins([ina, inb], 2)
        capa.stop()
        capb.stop()
        n = lab.span_merge(os.path.join(out, "capture.pcap"), {"a": ina, "b": inb}, skew={"b": SKEW}, jitter={"b": (0.05, 0.003, 11)})
        log("merged %d packets" % n)
    verify_lab(out, t.write(out))


main()
