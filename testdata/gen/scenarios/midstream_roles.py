"""midstream_roles: mid-stream captures whose client ports lie below their
server ports, as when servers bind high and clients take ephemeral ports
from Linux's range (32768-60999).

Clients in namespace A, servers in B, across a veth pair (MTU 1500). Each
client connects from a fixed source port chosen inside the ephemeral range
(as the kernel would pick it); the capture starts after every handshake
and a first round of traffic, so it holds no SYN, greeting or READY:

  * high-server: DEALER 33001 -> ROUTER 61500 (above the range): the
    ephemeral range tells the client.
  * shared: three PUSH clients 33010, 33011, 45020 -> PULL 40000 (inside
    the range): port 40000 is shared by three peers, so it is the server.
  * reqrep: REQ 34000 -> REP 50000 (both inside the range): the REQ sends
    each request after a quiet spell (50 ms of think time), the REP answers
    at once; the requester is the client, and REQ/REP is inferred from the
    lockstep with delimiters both ways.

Every exchange completes before the next, so each captured segment starts
at a message boundary."""
from netlab import *

HIGH_S, HIGH_C = 61500, 33001
SHARED_S, SHARED_C = 40000, (33010, 33011, 45020)
RR_S, RR_C = 50000, 34000


def main():
    out = case_dir("midstream_roles")
    t = Truth("midstream_roles", "Mid-stream captures with client ports below server ports: "
              "DEALER/ROUTER with the server above the ephemeral range, three PUSH to one PULL "
              "inside it, REQ/REP with think time, across a veth pair.")
    t.d["midstream"] = True
    t.note("Client ports are fixed source ports inside Linux's ephemeral range (32768-60999).")
    with Lab("roles", mtu=1500) as lab:
        ch = lab_conn(t, lab, "high-server", "DEALER", "ROUTER", HIGH_C, HIGH_S)
        ch.identity("client", "high")
        shared = [lab_conn(t, lab, "shared-%d" % p, "PUSH", "PULL", p, SHARED_S) for p in SHARED_C]
        rr = lab_conn(t, lab, "reqrep", "REQ", "REP", RR_C, RR_S)
        rr.set(roles_inferable=True)
        for c in [ch, rr] + shared:
            c.set(handshake_captured=False)
            c.c2s.cmds()
            c.s2c.cmds()
        ctxb = lab.context("b")
        ctxa = lab.context("a")
        sb, sa = socket_maker(ctxb), socket_maker(ctxa)
        with lab.inside("b"):
            router = sb(zmq.ROUTER)
            router.bind("tcp://%s:%d" % (lab.B, HIGH_S))
            pull = sb(zmq.PULL)
            pull.bind("tcp://%s:%d" % (lab.B, SHARED_S))
            rep = sb(zmq.REP)
            rep.bind("tcp://%s:%d" % (lab.B, RR_S))
        dealer = sa(zmq.DEALER, ROUTING_ID=b"high")
        dealer.connect("tcp://%s:%d;%s:%d" % (lab.A, HIGH_C, lab.B, HIGH_S))
        pushes = []
        for p in SHARED_C:
            s = sa(zmq.PUSH)
            s.connect("tcp://%s:%d;%s:%d" % (lab.A, p, lab.B, SHARED_S))
            pushes.append(s)
        req = sa(zmq.REQ)
        req.connect("tcp://%s:%d;%s:%d" % (lab.A, RR_C, lab.B, RR_S))

        def round_(i, counted):
            m = [b"high %d" % i, bytes(i * 10)]
            dealer.send_multipart(m)
            assert router.recv_multipart() == [b"high"] + m
            r = [b"ok %d" % i]
            router.send_multipart([b"high"] + r)
            assert dealer.recv_multipart() == r
            if counted:
                ch.c2s.msg(m)
                ch.s2c.msg(r)
            for k, s in enumerate(pushes):
                m = [b"push %d from %d" % (i, k)]
                s.send_multipart(m)
                assert pull.recv_multipart()[0].startswith(b"push %d" % i)
                if counted:
                    shared[k].c2s.msg(m)
            time.sleep(0.05)  # think time: the REQ's request follows a quiet spell
            m = [b"request %d" % i]
            req.send_multipart(m)
            assert rep.recv_multipart() == m
            r = [b"reply %d" % i, b"x" * i]
            rep.send_multipart(r)
            assert req.recv_multipart() == r
            if counted:
                rr.c2s.msg(m, envelope=1)
                rr.s2c.msg(r, envelope=1)

        # Every connection is up (PUSH round-robin needs all three): a round.
        for i in range(3):
            round_(i, False)
        cap = lab.capture(os.path.join(out, "capture.pcap"), "a", [HIGH_S, SHARED_S, RR_S])
        cap.start()
        for i in range(3, 15):
            round_(i, True)
        for s in [dealer, req] + pushes + [router, pull, rep]:
            s.close(linger=3000)
        ctxa.term()
        ctxb.term()
        cap.wait_closed(conns=5, timeout=30)
        cap.stop()
    verify_lab(out, t.write(out))


main()
