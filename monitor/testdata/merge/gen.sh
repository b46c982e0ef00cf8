#!/usr/bin/env bash
# Regenerates monitor/testdata/merge: the same libzmq applications seen two
# ways at once, on the wire (capture.pcap, tcpdump on lo) and through their
# socket monitors (events.jsonl, `zspy monitor --json`; record.json, what the
# Python forwarder relayed). For the tracker's merge of monitor events with
# captured connections. Needs root (tcpdump), python3-zmq and Go.
# Synchronised by conditions (tcpdump's and zspy's "listening" lines, the
# event count), never by sleeping.
set -euo pipefail
cd "$(dirname "$0")"
OUT=$(pwd)
ROOT=$(cd ../../.. && pwd)
TMP=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$TMP"' EXIT

FWD=${FWD_PORT:-7790}
(cd "$ROOT" && go build -o "$TMP/zspy" ./cmd/zspy)

# Wait until file $1 contains the text $2 (the process writing it is running).
wait_for() {
  local i=0
  until grep -q "$2" "$1" 2>/dev/null; do
    i=$((i + 1))
    if [ $i -gt 3000 ]; then echo "gen.sh: no '$2' in $1" >&2; cat "$1" >&2; exit 1; fi
    # a bounded poll of a file, not a pacing sleep
    sleep 0.01
  done
}

tcpdump -Z root -i lo -U -s 0 -B 65536 --immediate-mode -n -w "$TMP/capture.pcap" "tcp and not port $FWD" 2>"$TMP/tcpdump.err" &
TCPDUMP=$!
wait_for "$TMP/tcpdump.err" "listening on"

"$TMP/zspy" monitor --json "@pull+tcp://127.0.0.1:$FWD" >"$TMP/events.jsonl" 2>"$TMP/zspy.err" &
ZSPY=$!
wait_for "$TMP/zspy.err" "listening on"

PYTHONPATH="$ROOT/contrib/python" /usr/bin/python3 "$ROOT/monitor/testdata/libzmq_app.py" \
  --forward "tcp://127.0.0.1:$FWD" --record "$TMP/record.json" \
  bind_connect mechanism_mismatch bad_password retry

n=$(/usr/bin/python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))))' "$TMP/record.json")
i=0
until [ "$(wc -l <"$TMP/events.jsonl")" -ge "$n" ]; do
  i=$((i + 1)); [ $i -le 3000 ] || { echo "gen.sh: zspy got too few events" >&2; exit 1; }
  sleep 0.01
done
kill -INT "$ZSPY"; wait "$ZSPY" || true
kill -INT "$TCPDUMP"; wait "$TCPDUMP" || true

cp "$TMP/capture.pcap" "$TMP/events.jsonl" "$TMP/record.json" "$OUT/"
echo "gen.sh: $n events, $(wc -c <"$OUT/capture.pcap") bytes of capture in $OUT" >&2
