"""reconnect_storm: 1,000 REQ connections to one REP, each from its own
ephemeral port (as a client that reconnects, or 1,000 short-lived clients,
look on the wire), one request and reply each, 20 open at a time. Not a
corpus case (no truth.json): metrics' series-cardinality test replays it
(metrics/testdata/reconnect_storm.pcap.gz). Run:
  ZSPY_PCAPS=/tmp/storm /usr/bin/python3 reconnect_storm.py
  gzip -9 -c /tmp/storm/reconnect_storm/capture.pcap > ../../../metrics/testdata/reconnect_storm.pcap.gz
"""
from common import *

SP, N, BATCH = 16170, 1000, 20


def main():
    out = case_dir("reconnect_storm")
    wait_ports_free([SP])
    path = os.path.join(out, "capture.pcap")
    # 128 bytes a packet keep every header and the ZMTP greeting/READY
    # prefixes small; zspy counts what it cannot see as lost bytes.
    with Capture(path, [SP]) as cap:
        ctx = zctx()
        rep = ctx.socket(zmq.REP)
        rep.setsockopt(zmq.RCVTIMEO, 10000)
        rep.bind("tcp://127.0.0.1:%d" % SP)
        done = 0
        while done < N:
            reqs = []
            for i in range(min(BATCH, N - done)):
                req = ctx.socket(zmq.REQ)
                req.setsockopt(zmq.RCVTIMEO, 10000)
                req.connect("tcp://127.0.0.1:%d" % SP)
                reqs.append(req)
            for i, req in enumerate(reqs):
                req.send(b"hello %d" % (done + i))
            for _ in reqs:
                m = rep.recv()
                rep.send(b"re " + m)
            for i, req in enumerate(reqs):
                assert req.recv() == b"re hello %d" % (done + i)
                req.close(linger=1000)
            done += len(reqs)
        time.sleep(0.5)
        rep.close(linger=1000)
        ctx.term()
        st = cap.wait_closed(timeout=60, conns=N)
        log("connections in capture:", len(st))
        assert len(st) >= N, len(st)


main()
