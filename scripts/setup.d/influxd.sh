# shellcheck shell=bash
# Builds InfluxDB 1.8.10's server (influxd) from the Go module proxy, once,
# for the store tests (store/internal/influxtest starts it on 127.0.0.1), and
# exports ZSPY_INFLUXD=/path/to/influxd. Idempotent: a built influxd of the
# right version is reused. Sourced by scripts/test.sh; needs only Go and the
# module proxy (about a minute on a cold cache).
zspy_gobin="$(go env GOBIN)"
if [ -z "$zspy_gobin" ]; then
  zspy_gopath="$(go env GOPATH)"
  zspy_gobin="${zspy_gopath%%:*}/bin"
fi
zspy_influxd="$zspy_gobin/influxd"
if ! "$zspy_influxd" version 2>/dev/null | grep -q 'InfluxDB v1\.8\.10'; then
  echo "setup: building influxd 1.8.10 from the Go module proxy into $zspy_gobin (about a minute, once)"
  (cd / && GOBIN="$zspy_gobin" go install -ldflags '-s -w -X main.version=1.8.10' \
    github.com/influxdata/influxdb/cmd/influxd@v1.8.10)
fi
"$zspy_influxd" version >/dev/null
export ZSPY_INFLUXD="$zspy_influxd"
echo "setup: ZSPY_INFLUXD=$ZSPY_INFLUXD ($("$zspy_influxd" version))"
unset zspy_gobin zspy_gopath zspy_influxd
