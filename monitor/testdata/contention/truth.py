#!/usr/bin/python3
"""Works out which wire connection (client port) each monitor event of the
contention scenario belongs to, from what the applications' system calls and
ZAP handler saw, and writes truth.json: one entry per line of events.jsonl,
the client port of the event's connection, or null for events about no
connection (CONNECT_DELAYED, MONITOR_STOPPED, ...).

  truth.py SERVER_PORT events.jsonl server.json A.json B.json server.trace A.trace B.trace

Clients: strace shows connect(fd, server) and getsockname(fd) (libzmq asks it
for its local endpoint), so each CONNECTED(fd) names a client port; a client
socket has one connection (no reconnects), so all its events follow it.
Server: accept4 returns fd and the peer's port, in the order of the ACCEPTED
events; its HANDSHAKE_SUCCEEDED/FAILED_AUTH come in the order of the ZAP
requests (the handler waits for each result), whose usernames are the client
sources; a HANDSHAKE_FAILED_PROTOCOL is followed by its DISCONNECTED(fd)
before the server's next event (libzmq's engine error path).
"""
import json
import re
import sys

server_port = int(sys.argv[1])
lines = [json.loads(l) for l in open(sys.argv[2])]
srv_rec = json.load(open(sys.argv[3]))
recs = srv_rec["events"] + json.load(open(sys.argv[4]))["events"] + json.load(open(sys.argv[5]))["events"]
traces = sys.argv[6:9]

CONN_RE = re.compile(r'^(\d+)\s+\S+\s+connect\((\d+), \{sa_family=AF_INET, sin_port=htons\((\d+)\)')
NAME_RE = re.compile(r'^(\d+)\s+\S+\s+getsockname\((\d+), \{sa_family=AF_INET, sin_port=htons\((\d+)\)')
ACC_RE = re.compile(r'^(\d+)\s+\S+\s+accept4?\(\d+, \{sa_family=AF_INET, sin_port=htons\((\d+)\).*= (\d+)$')


def client_ports(path):
    to_server, port = set(), {}
    for l in open(path):
        m = CONN_RE.match(l)
        if m and int(m.group(3)) == server_port:
            fd = int(m.group(2))
            assert fd not in to_server, "fd %d reused in %s" % (fd, path)
            to_server.add(fd)
        m = NAME_RE.match(l)
        if m and int(m.group(2)) in to_server and int(m.group(2)) not in port:
            port[int(m.group(2))] = int(m.group(3))
    return port


accepts = []  # (fd, peer port) in order
for l in open(traces[0]):
    m = ACC_RE.match(l.rstrip())
    if m:
        accepts.append((int(m.group(3)), int(m.group(2))))

by_source = {}
for i, ev in enumerate(lines):
    by_source.setdefault(ev.get("source"), []).append(i)

truth = [None] * len(lines)
src_port = {}
for name, trace in (("A", traces[1]), ("B", traces[2])):
    fdport = client_ports(trace)
    for src, idx in by_source.items():
        if not src.startswith(name + "/"):
            continue
        port = None
        for i in idx:
            if lines[i]["event"] == "CONNECTED":
                port = fdport[lines[i]["fd"]]
                src_port[src] = port
            if port is not None and lines[i]["event"] not in ("CONNECT_DELAYED", "MONITOR_STOPPED", "CLOSED"):
                truth[i] = port

# Server.
zap = list(srv_rec["zap_order"])
acc = list(accepts)
open_fd = {}
idx = by_source["server/router"]
for k, i in enumerate(idx):
    ev = lines[i]
    if ev["event"] == "ACCEPTED":
        fd, port = acc.pop(0)
        assert fd == ev["fd"], (fd, ev)
        open_fd[fd] = port
        truth[i] = port
    elif ev["event"] in ("HANDSHAKE_SUCCEEDED", "HANDSHAKE_FAILED_AUTH"):
        truth[i] = src_port[zap.pop(0)]
    elif ev["event"] == "HANDSHAKE_FAILED_PROTOCOL":
        nxt = lines[idx[k + 1]]
        assert nxt["event"] == "DISCONNECTED", nxt
        truth[i] = open_fd[nxt["fd"]]
    elif ev["event"] == "DISCONNECTED":
        truth[i] = open_fd.pop(ev["fd"])
json.dump({"server_port": server_port, "sources": src_port, "events": truth}, open("truth.json", "w"), indent=1)
print("truth.py: %d events, %d on connections" % (len(lines), sum(t is not None for t in truth)), file=sys.stderr)
