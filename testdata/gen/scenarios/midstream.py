"""midstream: DEALER/ROUTER exchange 10 messages, then tcpdump starts, then 10
more exchanges (with a 300-byte long frame and a multipart message), then
close. The capture has no SYN, greeting or READY; truth covers only what the
capture holds."""
from common import *

SP, CP = 16130, 26130


def main():
    out = case_dir("midstream")
    wait_ports_free([SP, CP])
    t = Truth("midstream", "DEALER/ROUTER over NULL; capture starts after the handshake and "
              "10 exchanges, and holds 10 more exchanges and the close.")
    t.d["midstream"] = True
    c = t.conn("dealer-router", "DEALER", "ROUTER", CP, SP)
    c.identity("client", "mid")
    c.set(handshake_captured=False)
    c.c2s.cmds()
    c.s2c.cmds()
    t.note("Every captured segment starts at a message boundary (each exchange completes "
           "before the next), so a dissector can lock on from the first captured byte.")
    ctx = zctx()
    router = ctx.socket(zmq.ROUTER)
    router.setsockopt(zmq.RCVTIMEO, 10000)
    router.bind("tcp://127.0.0.1:%d" % SP)
    d = ctx.socket(zmq.DEALER)
    d.setsockopt(zmq.ROUTING_ID, b"mid")
    d.setsockopt(zmq.RCVTIMEO, 10000)
    d.connect(src(CP, SP))

    def exchange(i, dc):
        m = [b"mid request %d" % i] + ([bytes(300)] if i % 4 == 1 else [])
        d.send_multipart(m)
        assert router.recv_multipart() == [b"mid"] + m
        r = [b"mid reply %d" % i, b"", b"tail"] if i % 3 == 0 else [b"mid reply %d" % i]
        router.send_multipart([b"mid"] + r)
        assert d.recv_multipart() == r
        if dc:
            dc.c2s.msg(m)
            dc.s2c.msg(r)

    for i in range(10):
        exchange(i, None)
    with Capture(os.path.join(out, "capture.pcap"), [SP]) as cap:
        for i in range(10, 20):
            exchange(i, c)
        d.close(linger=1000)
        router.close(linger=1000)
        ctx.term()
        cap.wait_for(lambda ss: all(v["fin"] for v in ss.values()) and len(ss) == 2,
                     what="FIN both ways")
    verify(out, t.write(out))


main()
