#!/usr/bin/env bash
# Makes cmd/zspy/testdata/snap200/capture.pcap: real libzmq traffic
# (peers.py, Debian's python3-zmq) captured on lo by tcpdump with a snap
# length of 200 bytes, as `tcpdump -s 200` users capture. Many messages share
# a segment, so most frame headers fall in the bytes the snap length cut and
# zspy's counts are lower bounds (TestReplayLowerBounds). Needs root and
# tcpdump. Not in testdata/pcaps: the corpus tests there hold every case's
# counts to its truth exactly, which a cut capture cannot meet.
set -euo pipefail
cd "$(dirname "$0")"
[ "$(id -u)" = 0 ] || { echo "gen.sh: run as root (tcpdump)" >&2; exit 1; }
rm -f capture.pcap truth.json
tcpdump -i lo -U --immediate-mode -B 65536 -s 200 -n -w capture.pcap 'tcp port 16590' 2> tcpdump.log &
pid=$!
for _ in $(seq 100); do grep -q "listening on" tcpdump.log && break; sleep 0.1; done
grep -q "listening on" tcpdump.log || { echo "tcpdump did not start" >&2; cat tcpdump.log >&2; exit 1; }
/usr/bin/python3 peers.py
# Wait until the capture shows both FINs (the connection closed) before stopping.
for _ in $(seq 100); do
  [ "$(tcpdump -r capture.pcap -n 'tcp[tcpflags] & tcp-fin != 0' 2>/dev/null | wc -l)" -ge 2 ] && break
  sleep 0.1
done
kill -INT "$pid"
wait "$pid" || true
cat tcpdump.log >&2
grep -q "^0 packets dropped by kernel" tcpdump.log || { echo "tcpdump dropped packets" >&2; exit 1; }
rm -f tcpdump.log
