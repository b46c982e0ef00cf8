"""rules_late_bind and rules_reconnect_storm: a REQ connects (from a fixed
source port, RECONNECT_IVL 100 ms) and queues a request before anything
listens; its attempts are refused (SYN answered by RST) until the REP binds,
then the queued request is delivered and answered on the next attempt.

  rules_late_bind        the REP binds 3 s after the REQ connected: normal
                         ZeroMQ start-up order, not a storm;
  rules_reconnect_storm  the REP binds 12 s after: attempts kept failing
                         long past the start-up (reconnect_storm fires, and
                         resolves once the client gets through);
  rules_reconnect_fast   RECONNECT_IVL 10 ms, the REP binds 2 s after: a
                         client that retries 100 times a second is a storm
                         however soon it gets through.

The delay is measured on the capture (the REP binds once the capture shows
refused attempts spanning it), not by sleeping."""
from common import *

CASES = {"rules_late_bind": (16440, 26440, 3.0, 100), "rules_reconnect_storm": (16441, 26441, 12.0, 100),
         "rules_reconnect_fast": (16442, 26442, 2.0, 10)}


def run(case):
    SP, CP, DELAY, IVL = CASES[case]
    out = case_dir(case)
    wait_ports_free([SP, CP])
    t = Truth(case, ("REQ (RECONNECT_IVL %d ms) connects and sends before anything listens; " % IVL) +
              "the REP binds once the capture shows refused attempts spanning %.0f s; the "
              "next attempt delivers the queued request." % DELAY)
    with Capture(os.path.join(out, "capture.pcap"), [SP]) as cap:
        ctx = zctx()
        req = ctx.socket(zmq.REQ)
        req.setsockopt(zmq.RECONNECT_IVL, IVL)
        req.setsockopt(zmq.RCVTIMEO, 10000)
        mon = monitor(ctx, req, "req")
        req.connect(src(CP, SP))
        req.send(b"queued before bind")

        def spanning(ss):
            ts = rst_times(cap.path, SP)
            return len(ts) >= 2 and ts[-1] - ts[0] >= DELAY
        cap.wait_for(spanning, timeout=DELAY + 20, what="refused attempts over %.0f s" % DELAY)
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
        t.note("Refused attempts (state \"refused\") use the same 4-tuple as the final "
               "connection; their number (%d) comes from the REQ's CONNECT_RETRIED monitor "
               "events and depends on timing." % refused)
        req.disable_monitor()
        mon.close()
        req.close(linger=1000)
        rep.close(linger=1000)
        ctx.term()
        # The refused attempts share the connection's 4-tuple (and their
        # RSTs), so wait for the last connection's own FINs.
        cap.wait_for(lambda ss: count_fin(cap.path, SP) >= 2, what="the connection's FINs")
    d = t.write(out)
    n_syn = count_syn(os.path.join(out, "capture.pcap"), SP)
    assert n_syn == refused + 1, (n_syn, refused)
    verify(out, d)


def rst_times(path, port):
    try:
        return [ts for ts, s, d, fl, _, _, _ in tcp_segments(read_pcap(path)) if s[1] == port and fl & 0x04]
    except (OSError, ValueError):
        return []


def count_fin(path, port):
    try:
        return sum(1 for _, s, d, fl, _, _, _ in tcp_segments(read_pcap(path))
                   if port in (s[1], d[1]) and fl & 0x01)
    except (OSError, ValueError):
        return 0


def count_syn(path, port):
    return sum(1 for _, s, d, fl, _, _, _ in tcp_segments(read_pcap(path))
               if d[1] == port and fl & 0x02 and not fl & 0x10)


for case in (sys.argv[1:] or [os.path.splitext(os.path.basename(sys.argv[0]))[0]]):
    run(case)
