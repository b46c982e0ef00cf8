#!/usr/bin/env bash
# Regenerates monitor/testdata/contention: eight DEALERs in two processes
# connect to one PLAIN ROUTER at the same moment (app.py); some handshakes
# fail (ZAP 400, mechanism mismatch), the rest disconnect at different times.
# Writes capture.pcap (tcpdump on lo), events.jsonl (`zspy monitor --json`)
# and truth.json (truth.py: each event's true connection, from strace and
# the ZAP handler). Needs root, tcpdump, strace, python3-zmq and Go.
set -euo pipefail
cd "$(dirname "$0")"
OUT=$(pwd)
ROOT=$(cd ../../.. && pwd)
TMP=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$TMP"' EXIT
FWD=${FWD_PORT:-7791}
(cd "$ROOT" && go build -o "$TMP/zspy" ./cmd/zspy)

wait_for() { # a bounded poll of a file, not a pacing sleep
  local i=0
  until grep -q "$2" "$1" 2>/dev/null; do
    i=$((i + 1)); [ $i -le 3000 ] || { echo "gen.sh: no '$2' in $1" >&2; cat "$1" >&2; exit 1; }
    sleep 0.01
  done
}

tcpdump -Z root -i lo -U -s 0 -B 65536 --immediate-mode -n -w "$TMP/capture.pcap" "tcp and not port $FWD" 2>"$TMP/tcpdump.err" &
TCPDUMP=$!
wait_for "$TMP/tcpdump.err" "listening on"
"$TMP/zspy" monitor --json "@pull+tcp://127.0.0.1:$FWD" >"$TMP/events.jsonl" 2>"$TMP/zspy.err" &
ZSPY=$!
wait_for "$TMP/zspy.err" "listening on"

export PYTHONPATH="$ROOT/contrib/python"
TR="strace -f -qq -ttt -e trace=connect,getsockname,accept,accept4"
$TR -o "$TMP/server.trace" /usr/bin/python3 app.py server --forward "tcp://127.0.0.1:$FWD" --record "$TMP/server.json" >"$TMP/server.out" &
SERVER=$!
wait_for "$TMP/server.out" "ready"
EP=$(awk '/ready/ {print $2}' "$TMP/server.out")
START=$(/usr/bin/python3 -c 'import time; print(time.time() + 1.0)')
$TR -o "$TMP/A.trace" /usr/bin/python3 app.py client --name A --server "$EP" --start "$START" \
  --hold1 0.05 --hold2 0.15 --forward "tcp://127.0.0.1:$FWD" --record "$TMP/A.json" &
A=$!
$TR -o "$TMP/B.trace" /usr/bin/python3 app.py client --name B --server "$EP" --start "$START" \
  --hold1 0.10 --hold2 0.10 --forward "tcp://127.0.0.1:$FWD" --record "$TMP/B.json" &
B=$!
wait $A; wait $B; wait $SERVER

n=$(/usr/bin/python3 -c 'import json,sys; print(sum(len(json.load(open(f))["events"]) for f in sys.argv[1:]))' "$TMP"/server.json "$TMP"/A.json "$TMP"/B.json)
i=0
until [ "$(wc -l <"$TMP/events.jsonl")" -ge "$n" ]; do
  i=$((i + 1)); [ $i -le 3000 ] || { echo "gen.sh: zspy got too few events" >&2; exit 1; }
  sleep 0.01
done
kill -INT "$ZSPY"; wait "$ZSPY" || true
kill -INT "$TCPDUMP"; wait "$TCPDUMP" || true

cp "$TMP/capture.pcap" "$TMP/events.jsonl" "$OUT/"
cd "$OUT" && /usr/bin/python3 truth.py "${EP##*:}" events.jsonl "$TMP"/server.json "$TMP"/A.json "$TMP"/B.json \
  "$TMP"/server.trace "$TMP"/A.trace "$TMP"/B.trace
echo "gen.sh: $n events, $(wc -c <"$OUT/capture.pcap") bytes of capture in $OUT" >&2
