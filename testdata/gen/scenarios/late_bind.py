"""late_bind: a REQ connects (from a fixed source port) and queues a request
before anything listens, so its connection attempts are refused (SYN, RST);
once the capture shows two refused SYNs the REP binds, the next attempt
succeeds and the queued request is delivered and answered."""
from common import *

SP, CP = 16120, 26120


def main():
    out = case_dir("late_bind")
    wait_ports_free([SP, CP])
    t = Truth("late_bind", "REQ connects and sends before the REP binds: refused SYNs "
              "(answered by RST) from the same source port, then the connection that "
              "delivers the queued request.")
    with Capture(os.path.join(out, "capture.pcap"), [SP]) as cap:
        ctx = zctx()
        req = ctx.socket(zmq.REQ)
        req.setsockopt(zmq.RECONNECT_IVL, 100)
        req.setsockopt(zmq.RCVTIMEO, 10000)
        mon = monitor(ctx, req, "req")
        req.connect(src(CP, SP))
        req.send(b"queued before bind")

        def two_refused(ss):
            st = ss.get((("127.0.0.1", SP), ("127.0.0.1", CP)))
            return st is not None and st.get("rsts", 0) >= 2
        cap.wait_for(lambda ss: count_rst(cap.path, SP) >= 2, what="two refused SYNs")
        rep = ctx.socket(zmq.REP)
        rep.setsockopt(zmq.RCVTIMEO, 10000)
        rep.bind("tcp://127.0.0.1:%d" % SP)
        assert rep.recv() == b"queued before bind"
        rep.send(b"answer after bind")
        assert req.recv() == b"answer after bind"
        events = wait_event(mon, zmq.EVENT_HANDSHAKE_SUCCEEDED)
        refused = events.count("CONNECT_RETRIED")
        for i in range(refused):
            c = t.conn("refused-%d" % (i + 1), "REQ", "", CP, SP)
            c.set(state="refused", handshake_captured=False, zmtp_version="")
            c.d["server"]["library"] = ""
            c.d["server"].pop("identity", None)
        c = t.conn("req-rep", "REQ", "REP", CP, SP)
        c.c2s.msg([b"queued before bind"], envelope=1)
        c.s2c.msg([b"answer after bind"], envelope=1)
        c.c2s.cmds("READY")
        c.s2c.cmds("READY")
        c.set(notes=["client monitor events up to the handshake: %s" % events])
        t.note("Refused attempts (state \"refused\") use the same 4-tuple as the final "
               "connection; their number comes from the REQ's CONNECT_RETRIED monitor events "
               "and depends on timing (the REP binds once the capture shows 2 RSTs).")
        req.disable_monitor()
        mon.close()
        req.close(linger=1000)
        rep.close(linger=1000)
        ctx.term()
        cap.wait_closed()
    d = t.write(out)
    n_syn = count_syn(os.path.join(out, "capture.pcap"), SP)
    assert n_syn == refused + 1, (n_syn, refused)
    verify(out, d)


def count_rst(path, port):
    return sum(1 for _, s, d, fl, _, _, _ in tcp_segments(read_pcap(path))
               if s[1] == port and fl & 0x04)


def count_syn(path, port):
    return sum(1 for _, s, d, fl, _, _, _ in tcp_segments(read_pcap(path))
               if d[1] == port and fl & 0x02 and not fl & 0x10)


main()
