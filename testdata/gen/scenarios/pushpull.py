"""pushpull: one PUSH (bound) load-balances 30 messages over two PULLs."""
from common import *

SP, C1, C2 = 16030, 26030, 26031


def main():
    out = case_dir("pushpull")
    wait_ports_free([SP, C1, C2])
    t = Truth("pushpull", "PUSH bound, two PULLs connected; 30 messages (some multipart) "
              "round-robined; counts are what each PULL received.")
    cs = {C1: t.conn("pull-1", "PULL", "PUSH", C1, SP), C2: t.conn("pull-2", "PULL", "PUSH", C2, SP)}
    with Capture(os.path.join(out, "capture.pcap"), [SP]) as cap:
        ctx = zctx()
        push = ctx.socket(zmq.PUSH)
        mon = monitor(ctx, push, "push")
        push.bind("tcp://127.0.0.1:%d" % SP)
        pulls = {}
        for p in (C1, C2):
            s = ctx.socket(zmq.PULL)
            s.connect(src(p, SP))
            pulls[p] = s
        wait_event(mon, zmq.EVENT_HANDSHAKE_SUCCEEDED, 2)
        settle(push)
        sent = []
        for i in range(30):
            parts = [b"job-%02d" % i, bytes(i * 11)] if i % 3 == 0 else [b"job-%02d" % i]
            push.send_multipart(parts)
            sent.append(parts)
        poller = zmq.Poller()
        for s in pulls.values():
            poller.register(s, zmq.POLLIN)
        got = []
        deadline = time.time() + 10
        while len(got) < len(sent):
            assert time.time() < deadline, "PULLs did not get everything"
            for s, _ in poller.poll(1000):
                m = s.recv_multipart()
                port = [p for p, x in pulls.items() if x is s][0]
                cs[port].s2c.msg(m)
                got.append(m)
        assert sorted(got) == sorted(sent)
        for c in cs.values():
            c.c2s.cmds("READY")
            c.s2c.cmds("READY")
        t.note("Split between the PULLs: pull-1 %d, pull-2 %d messages (round-robin once both "
               "pipes were attached)." % (cs[C1].s2c.messages, cs[C2].s2c.messages))
        push.disable_monitor()
        mon.close()
        for s in pulls.values():
            s.close(linger=0)
        push.close(linger=1000)
        ctx.term()
        cap.wait_closed(conns=2)
    verify(out, t.write(out))


main()
