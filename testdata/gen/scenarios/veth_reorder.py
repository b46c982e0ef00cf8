"""veth_reorder: delay, jitter and reordering on a real path.

DEALER in namespace A, ROUTER in B, across a veth pair with MTU 1500 and
TSO/GSO/GRO off, captured on A's veth end. Both hosts send their segments
through an NFQUEUE program (nfqdelay.py) that holds 10% of them for 1-4 ms
while the others pass, so they reach the wire, and the capture, out of
order: 60 exchanges of 1-6 KB requests and short replies."""
import random

from netlab import *

SP, CP = 16407, 26507


def main():
    out = case_dir("veth_reorder")
    rnd = random.Random(7)
    t = Truth("veth_reorder", "DEALER/ROUTER across a veth pair (MTU 1500, offloads off) with 10% "
              "of each side's packets held 1-4 ms by an NFQUEUE program: reordered on the wire.")
    t.note("Which packets are held is random (nfqdelay.py's seed, and timing); the counts are not.")
    with Lab("reorder", mtu=1500, offloads={"tso": "off", "gso": "off", "gro": "off"}) as lab:
        lab.iptables("a", "-A", "OUTPUT", "-p", "tcp", "--dport", str(SP), "-j", "NFQUEUE",
                     "--queue-num", "7", "--queue-bypass")
        lab.iptables("b", "-A", "OUTPUT", "-p", "tcp", "--sport", str(SP), "-j", "NFQUEUE",
                     "--queue-num", "8", "--queue-bypass")
        da = lab.delay("a", 7, 0.10, 4, 1)
        db = lab.delay("b", 8, 0.10, 4, 2)
        c = lab_conn(t, lab, "dealer-router", "DEALER", "ROUTER", CP, SP)
        c.identity("client", "reorder")
        c.c2s.cmds("READY")
        c.s2c.cmds("READY")
        ctxb = lab.context("b")
        ctxa = lab.context("a")
        sb, sa = socket_maker(ctxb), socket_maker(ctxa)
        cap = lab.capture(os.path.join(out, "capture.pcap"), "a", [SP])
        cap.start()
        with lab.inside("b"):
            router = sb(zmq.ROUTER)
            router.bind("tcp://%s:%d" % (lab.B, SP))
        dealer = sa(zmq.DEALER, ROUTING_ID=b"reorder")
        dealer.connect("tcp://%s:%d;%s:%d" % (lab.A, CP, lab.B, SP))
        for burst in range(6):
            for i in range(10):
                m = [b"req %d" % (burst * 10 + i), rnd.randbytes(1000 + rnd.randrange(5000))]
                dealer.send_multipart(m)
                c.c2s.msg(m)
            for i in range(10):
                got = router.recv_multipart()
                assert got[0] == b"reorder"
                r = [b"rep %d" % (burst * 10 + i)]
                router.send_multipart([b"reorder"] + r)
                c.s2c.msg(r)
            for i in range(10):
                dealer.recv_multipart()
        dealer.close(linger=3000)
        router.close(linger=3000)
        ctxa.term()
        ctxb.term()
        cap.wait_closed(conns=1, timeout=30)
        cap.stop()
        lab.stop_delay(da)
        lab.stop_delay(db)
    t.write(out)


main()
