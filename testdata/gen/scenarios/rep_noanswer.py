"""rep_noanswer: REQ/REP where the REP answers 3 requests and then receives a
4th that it never answers; the REQ gives up after 300 ms and closes."""
from common import *

SP, CP = 16140, 26140


def main():
    out = case_dir("rep_noanswer")
    wait_ports_free([SP, CP])
    t = Truth("rep_noanswer", "REQ/REP: 3 answered requests, then one the REP receives but "
              "never answers; the REQ times out (300 ms poll) and closes.")
    c = t.conn("req-rep", "REQ", "REP", CP, SP)
    c.c2s.cmds("READY")
    c.s2c.cmds("READY")
    c.set(unanswered_requests=1)
    with Capture(os.path.join(out, "capture.pcap"), [SP]) as cap:
        ctx = zctx()
        rep = ctx.socket(zmq.REP)
        rep.setsockopt(zmq.RCVTIMEO, 10000)
        rep.bind("tcp://127.0.0.1:%d" % SP)
        req = ctx.socket(zmq.REQ)
        req.connect(src(CP, SP))
        for i in range(3):
            req.send(b"question %d" % i)
            assert rep.recv() == b"question %d" % i
            c.c2s.msg([b"question %d" % i], envelope=1)
            rep.send(b"answer %d" % i)
            assert req.recv() == b"answer %d" % i
            c.s2c.msg([b"answer %d" % i], envelope=1)
        req.send(b"question never answered")
        assert rep.recv() == b"question never answered"
        c.c2s.msg([b"question never answered"], envelope=1)
        assert req.poll(300) == 0  # the REQ's timeout: the point of the case
        req.close(linger=0)
        cap.wait_closed(conns=1)
        rep.close(linger=0)
        ctx.term()
    verify(out, t.write(out))


main()
