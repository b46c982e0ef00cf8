"""snap_steady: a headers-only capture of a steady stream.

PUB in namespace A, SUB in B (subscribed to everything), across a veth pair
with MTU 1500 and TSO/GSO/GRO off, captured on A's veth end with a snap
length of 128 bytes (62 bytes of TCP payload after Ethernet, IP and TCP
with timestamps), as appliances that keep headers only capture. The PUB
sends 3300 messages of 200 bytes each, as a publisher of fixed-size
records does; the SUB counts them. Most frame headers fall in the bytes
the snap length cut. Stored as capture.pcap.gz."""
import random

from netlab import *

SP, CP = 16403, 26503
N, SIZE, SNAP = 3300, 200, 128


def main():
    out = case_dir("snap_steady")
    rnd = random.Random(6)
    t = Truth("snap_steady", "PUB/SUB across a veth pair (MTU 1500, offloads off), 3300 messages "
              "of 200 bytes, captured with a snap length of 128 bytes.", capture="capture.pcap.gz")
    t.note("tcpdump -s 128: each packet keeps its first 62 bytes of TCP payload.")
    with Lab("snap", mtu=1500, offloads={"tso": "off", "gso": "off", "gro": "off"}) as lab:
        c = lab_conn(t, lab, "pub-sub", "SUB", "PUB", CP, SP)
        c.c2s.cmds("READY", "SUBSCRIBE")
        c.s2c.cmds("READY")
        c.set(subscriptions=[""])
        ctxb = lab.context("b")
        ctxa = lab.context("a")
        sb, sa = socket_maker(ctxb), socket_maker(ctxa)
        cap = lab.capture(os.path.join(out, "capture.pcap"), "a", [SP], snap=SNAP)
        cap.start()
        with lab.inside("a"):
            pub = sa(zmq.PUB, SNDHWM=0)
            pub.bind("tcp://%s:%d" % (lab.A, SP))
        sub = sb(zmq.SUB, RCVHWM=0)
        sub.setsockopt(zmq.SUBSCRIBE, b"")
        sub.connect("tcp://%s:%d;%s:%d" % (lab.B, CP, lab.A, SP))
        # The subscription must reach the PUB before it publishes: a probe
        # message is repeated until the SUB gets one. The PUB drops those
        # sent before (they never reach the wire); the SUB counts the rest.
        probes = 0
        while not sub.poll(100):
            pub.send(b"probe")
        while sub.poll(200):
            assert sub.recv() == b"probe"
            probes += 1
        for i in range(N):
            pub.send(rnd.randbytes(SIZE))
        got = 0
        for i in range(N):
            m = sub.recv()
            assert len(m) == SIZE
            got += 1
        for _ in range(probes):
            c.s2c.msg([b"probe"])
        for _ in range(got):
            c.s2c.messages += 1
            c.s2c.frames += 1
            c.s2c.bytes += SIZE
        sub.close(linger=3000)
        pub.close(linger=3000)
        ctxa.term()
        ctxb.term()
        cap.wait_closed(conns=1, timeout=30)
        cap.stop()
    # Stored compressed: headers compress to half.
    subprocess.run(["gzip", "-9", "-n", "-f", os.path.join(out, "capture.pcap")], check=True)
    t.note("Before the 3300 messages the PUB sent 5-byte probes until the SUB received one "
           "(the subscription had reached it); the %d that reached the SUB are counted." % probes)
    t.write(out)


main()
