"""heartbeat: DEALER/ROUTER with ZMTP heartbeats (IVL 200 ms, TTL 3 s,
TIMEOUT 1 s) on both sides, kept idle for a fixed 1.5 s between two
exchanges so several PING/PONG pairs cross."""
from common import *

SP, CP = 16100, 26100
RUN = 1.5


def main():
    out = case_dir("heartbeat")
    wait_ports_free([SP, CP])
    t = Truth("heartbeat", "DEALER/ROUTER over NULL with ZMQ_HEARTBEAT_IVL=200ms, "
              "HEARTBEAT_TTL=3000ms, HEARTBEAT_TIMEOUT=1000ms on both sockets; idle %.1f s "
              "(wall clock) between two exchanges." % RUN)
    c = t.conn("hb", "DEALER", "ROUTER", CP, SP)
    c.identity("client", "hb-client")
    hb = {"ivl_ms": 200, "ttl_ms": 3000, "timeout_ms": 1000}
    c.set(heartbeat={"client": hb, "server": hb})
    t.note("PING/PONG counts depend on timing (about one PING every 200 ms each way, each "
           "answered by a PONG), so commands are not listed. libzmq's PING carries TTL 30 "
           "(3 s in tenths) and no context: 04 07 04 PING 00 1E.")
    with Capture(os.path.join(out, "capture.pcap"), [SP]) as cap:
        ctx = zctx()
        router = ctx.socket(zmq.ROUTER)
        d = ctx.socket(zmq.DEALER)
        for s in (router, d):
            s.setsockopt(zmq.HEARTBEAT_IVL, 200)
            s.setsockopt(zmq.HEARTBEAT_TTL, 3000)
            s.setsockopt(zmq.HEARTBEAT_TIMEOUT, 1000)
            s.setsockopt(zmq.RCVTIMEO, 10000)
        router.bind("tcp://127.0.0.1:%d" % SP)
        d.setsockopt(zmq.ROUTING_ID, b"hb-client")
        d.connect(src(CP, SP))

        def exchange(i):
            m = [b"beat %d" % i]
            d.send_multipart(m)
            assert router.recv_multipart() == [b"hb-client"] + m
            c.c2s.msg(m)
            router.send_multipart([b"hb-client", b"ack %d" % i])
            assert d.recv_multipart() == [b"ack %d" % i]
            c.s2c.msg([b"ack %d" % i])

        exchange(0)
        time.sleep(RUN)  # the point of the case: idle time filled by heartbeats
        exchange(1)
        d.close(linger=1000)
        router.close(linger=1000)
        ctx.term()
        cap.wait_closed(conns=1)
    verify(out, t.write(out))


main()
