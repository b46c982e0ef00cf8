"""curve: DEALER (CURVE client) to ROUTER (CURVE server) with fixed long-term
keys; 8 exchanges, some multipart."""
from common import *

SP, CP = 16090, 26090
# Fixed keys (made once with zmq.curve_keypair) so truth.json is the same on
# every run; the boxes still differ (random transient keys and nonces).
SERVER_PUBLIC, SERVER_SECRET = b'fc/5vo..t{a7x36Oqt05tB?>V3bdIF<E/<z57:A@', b'98Pqw}*Dt=g1x7jPf<QE5(^SUQBZifZ/D=5FU3&H'
CLIENT_PUBLIC, CLIENT_SECRET = b'2>Y&3upjYPTl{5Mu:o^0(^jOsANo1:dvxDE+JLle', b'nM}}nTP:L<EjGE7e/FPIS0i(8)rmR<IE{^EBb4W8'


def main():
    out = case_dir("curve")
    wait_ports_free([SP, CP])
    spub, ssec = SERVER_PUBLIC, SERVER_SECRET
    cpub, csec = CLIENT_PUBLIC, CLIENT_SECRET
    t = Truth("curve", "CURVE DEALER/ROUTER, 8 request/reply exchanges, some multipart. "
              "Counts are per MESSAGE box (one per ZMTP frame), bytes are plaintext sizes.")
    c = t.conn("curve-dealer-router", "DEALER", "ROUTER", CP, SP, mechanism="CURVE")
    c.identity("client", "curve-client")
    c.set(curve={"server_public_key": spub.decode(), "client_public_key": cpub.decode()})
    c.c2s.cmds("HELLO", "INITIATE")
    c.s2c.cmds("WELCOME", "READY")
    t.note("Long-term keys are fixed (secret keys in testdata/gen/scenarios/curve.py); "
           "transient keys and boxes differ between runs, sizes and counts do not. No ZAP "
           "handler: libzmq accepts any client key.")
    with Capture(os.path.join(out, "capture.pcap"), [SP]) as cap:
        ctx = zctx()
        router = ctx.socket(zmq.ROUTER)
        router.setsockopt(zmq.CURVE_SERVER, 1)
        router.setsockopt(zmq.CURVE_SECRETKEY, ssec)
        router.setsockopt(zmq.RCVTIMEO, 10000)
        router.bind("tcp://127.0.0.1:%d" % SP)
        d = ctx.socket(zmq.DEALER)
        d.setsockopt(zmq.ROUTING_ID, b"curve-client")
        d.setsockopt(zmq.CURVE_SERVERKEY, spub)
        d.setsockopt(zmq.CURVE_PUBLICKEY, cpub)
        d.setsockopt(zmq.CURVE_SECRETKEY, csec)
        d.setsockopt(zmq.RCVTIMEO, 10000)
        d.connect(src(CP, SP))
        for i in range(8):
            m = [b"secret request %d" % i] + ([b"", bytes(i * 40)] if i % 3 == 0 else [])
            d.send_multipart(m)
            assert router.recv_multipart() == [b"curve-client"] + m
            c.c2s.msg(m)
            r = [b"secret reply %d" % i, bytes(300)] if i == 5 else [b"secret reply %d" % i]
            router.send_multipart([b"curve-client"] + r)
            assert d.recv_multipart() == r
            c.s2c.msg(r)
        c.c2s.messages = c.s2c.messages = None
        d.close(linger=1000)
        router.close(linger=1000)
        ctx.term()
        cap.wait_closed(conns=1)
    verify(out, t.write(out))


main()
