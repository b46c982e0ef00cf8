"""zmq4_reqrep: go-zeromq/zmq4 REQ to zmq4 REP (both in testdata/gen/zmq4peer),
10 requests; the REQ dials from a fixed source port (tcpsrc transport)."""
from common import *

SP, CP = 16170, 26170


def main():
    out = case_dir("zmq4_reqrep")
    wait_ports_free([SP, CP])
    t = Truth("zmq4_reqrep", "go-zeromq/zmq4 REQ/REP, 10 requests (0..1000 bytes, some "
              "multipart); both peers are Go (zmq4peer -mode reqrep).")
    c = t.conn("req-rep", "REQ", "REP", CP, SP, zmtp="3.0", client_lib=ZMQ4, server_lib=ZMQ4)
    peer = GoPeer("reqrep", SP, CP)
    with Capture(os.path.join(out, "capture.pcap"), [SP]) as cap:
        peer.start()
        stats = peer.done()
        extra = peer.last["extra_delimiters"]
        cap.wait_closed(conns=1)
    set_counts(c, stats["req-rep"])
    c.c2s.cmds("READY")
    c.s2c.cmds("READY")
    zmq4_notes(t, c)
    c.set(notes=["%d reply(ies) reached the zmq4 REQ application with an extra empty frame "
                 "in front (zmq4 v0.17.0's REP sends a second delimiter before its first "
                 "reply: 01 00 01 00 then the body); s2c counts include it." % extra])
    verify(out, t.write(out))


def zmq4_notes(t, c):
    if not any("zmq4 v0.17.0 greets" in n for n in t.d["notes"]):
        t.note("zmq4 v0.17.0 greets with ZMTP 3.0 (padding all zero, as-server 0) and puts an "
               "Identity property in READY for every socket type: a random UUID (36 bytes) "
               "unless WithID is set, so those zmq4 identities are left out of truth. Its "
               "READY property order varies between runs (Go map order). Its REQ prefixes "
               "the empty delimiter frame like libzmq.")
    for side in ("client", "server"):
        if c.d[side]["library"] == ZMQ4 and c.d[side].get("identity") == "":
            del c.d[side]["identity"]


if __name__ == "__main__":
    main()
