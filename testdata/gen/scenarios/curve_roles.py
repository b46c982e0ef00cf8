"""curve_roles: CURVE connections whose socket types only the shape of the
traffic tells (READY travels encrypted).

Across a veth pair (MTU 1500), clients in namespace A, servers in B, all
CURVE with fixed long-term keys:

  * reqrep: REQ -> REP, 10 requests: each request and reply is an empty
    delimiter box (0 bytes of plaintext) and a body box, in lockstep.
  * pubsub: SUB -> PUB, subscribed to everything: the SUB's one
    subscription box (a command, but its flags are encrypted: a 10-byte
    box on the wire, counted), then 30 messages from the PUB only.
  * pushpull: PUSH -> PULL, 20 messages: the PULL sends nothing after the
    handshake."""
from netlab import *
from curve import SERVER_PUBLIC, SERVER_SECRET, CLIENT_PUBLIC, CLIENT_SECRET

RR_S, RR_C, PS_S, PS_C, PP_S, PP_C = 16404, 26504, 16405, 26505, 16406, 26506


def main():
    out = case_dir("curve_roles")
    t = Truth("curve_roles", "CURVE REQ/REP, SUB/PUB and PUSH/PULL across a veth pair: socket "
              "types inferred from box sizes and directions.")
    t.note("Long-term keys are those of the curve case; boxes differ between runs, sizes do not.")
    keys = {"server_public_key": SERVER_PUBLIC.decode(), "client_public_key": CLIENT_PUBLIC.decode()}
    with Lab("croles", mtu=1500) as lab:
        rr = lab_conn(t, lab, "reqrep", "REQ", "REP", RR_C, RR_S, mechanism="CURVE")
        ps = lab_conn(t, lab, "pubsub", "SUB", "PUB", PS_C, PS_S, mechanism="CURVE")
        pp = lab_conn(t, lab, "pushpull", "PUSH", "PULL", PP_C, PP_S, mechanism="CURVE")
        for c in (rr, ps, pp):
            c.set(curve=keys, roles_inferable=True)
            c.c2s.cmds("HELLO", "INITIATE")
            c.s2c.cmds("WELCOME", "READY")
        ctxb = lab.context("b")
        ctxa = lab.context("a")
        sb, sa = socket_maker(ctxb), socket_maker(ctxa)
        server = dict(CURVE_SERVER=1, CURVE_SECRETKEY=SERVER_SECRET)
        client = dict(CURVE_SERVERKEY=SERVER_PUBLIC, CURVE_PUBLICKEY=CLIENT_PUBLIC, CURVE_SECRETKEY=CLIENT_SECRET)
        cap = lab.capture(os.path.join(out, "capture.pcap"), "a", [RR_S, PS_S, PP_S])
        cap.start()
        with lab.inside("b"):
            rep = sb(zmq.REP, **server)
            rep.bind("tcp://%s:%d" % (lab.B, RR_S))
            pub = sb(zmq.PUB, SNDHWM=0, **server)
            pub.bind("tcp://%s:%d" % (lab.B, PS_S))
            pull = sb(zmq.PULL, **server)
            pull.bind("tcp://%s:%d" % (lab.B, PP_S))
        req = sa(zmq.REQ, **client)
        req.connect("tcp://%s:%d;%s:%d" % (lab.A, RR_C, lab.B, RR_S))
        sub = sa(zmq.SUB, **client)
        sub.setsockopt(zmq.SUBSCRIBE, b"")
        sub.connect("tcp://%s:%d;%s:%d" % (lab.A, PS_C, lab.B, PS_S))
        push = sa(zmq.PUSH, **client)
        push.connect("tcp://%s:%d;%s:%d" % (lab.A, PP_C, lab.B, PP_S))
        for i in range(10):
            m = [b"request %d" % i]
            req.send_multipart(m)
            assert rep.recv_multipart() == m
            rr.c2s.msg(m, envelope=1)
            r = [b"reply %d" % i, bytes(i * 30)]
            rep.send_multipart(r)
            assert req.recv_multipart() == r
            rr.s2c.msg(r, envelope=1)
        # The subscription must reach the PUB first: probes until one arrives
        # (those sent before never reach the wire; the SUB counts the rest).
        while not sub.poll(100):
            pub.send(b"probe")
        while sub.poll(200):
            m = sub.recv_multipart()
            ps.s2c.msg(m)
        for i in range(30):
            m = [b"news %d" % i, bytes(100 + i)]
            pub.send_multipart(m)
        for i in range(30):
            m = sub.recv_multipart()
            ps.s2c.msg(m)
        for i in range(20):
            m = [b"work %d" % i]
            push.send_multipart(m)
            pp.c2s.msg(m)
        for i in range(20):
            pull.recv_multipart()
        # The SUB's SUBSCRIBE (a 3.1 command: "\x09SUBSCRIBE", empty topic)
        # travels in a MESSAGE box whose COMMAND flag is encrypted: on the
        # wire it is a box of 10 bytes of plaintext like any other.
        ps.c2s.frames, ps.c2s.bytes = 1, 10
        ps.d["notes"] = ["c2s: the one box is the SUBSCRIBE command (flags are encrypted), so "
                         "the subscription (everything) is not visible on the wire."]
        for c in (rr, ps, pp):
            c.c2s.messages = c.s2c.messages = None
        for s in (req, sub, push, rep, pub, pull):
            s.close(linger=3000)
        ctxa.term()
        ctxb.term()
        cap.wait_closed(conns=3, timeout=30)
        cap.stop()
    verify_lab(out, t.write(out))


main()
