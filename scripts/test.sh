#!/usr/bin/env bash
# Runs every zspy test on a fresh machine: installs what the tests need (Debian
# packages for real ZeroMQ peers and captures, an InfluxDB server), then runs the
# Go tests and a short fuzzing pass over every decoder. README's second command.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v tcpdump >/dev/null || need_apt+=(tcpdump)
# tcpreplay (and tcprewrite) for e2e's BenchmarkCaptureTcpreplay: not run here,
# but a machine set up by this script can run it.
command -v tcpreplay >/dev/null || need_apt+=(tcpreplay)
/usr/bin/python3 -c 'import zmq' 2>/dev/null || need_apt+=(python3-zmq)
command -v ip >/dev/null || need_apt+=(iproute2)
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q "${need_apt[@]}"
fi

# Extra set-up steps of the packages (e.g. the InfluxDB server) live in
# scripts/setup.d/*.sh; each is idempotent and exports what tests need.
if [ -d scripts/setup.d ]; then
  for s in scripts/setup.d/*.sh; do
    [ -e "$s" ] || continue
    # shellcheck disable=SC1090
    source "$s"
  done
fi

go vet ./...
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then echo "gofmt would change: $unformatted" >&2; exit 1; fi
if ! tidy=$(go mod tidy -diff 2>&1); then
  echo "go mod tidy would change go.mod/go.sum (run go mod tidy):" >&2
  echo "$tidy" >&2
  exit 1
fi
# staticcheck, from the Go module proxy (pinned; installed once per machine).
staticcheck_version=v0.8.2
gobin=$(go env GOPATH)/bin
if ! "$gobin/staticcheck" -version 2>/dev/null | grep -q "${staticcheck_version#v}"; then
  GOFLAGS= go install "honnef.co/go/tools/cmd/staticcheck@$staticcheck_version"
fi
"$gobin/staticcheck" ./...

# Verbose output goes to a log; the terminal gets the package lines, every
# failure in full, and a count of the tests that ran.
test_log=$(mktemp)
if go test -count=1 -v ./... >"$test_log" 2>&1; then test_rc=0; else test_rc=$?; fi
grep -E '^(ok|FAIL|\?) ' "$test_log" || true
passed=$(grep -cE '^\s*--- PASS' "$test_log" || true)
failed=$(grep -cE '^\s*--- FAIL' "$test_log" || true)
skipped=$(grep -cE '^\s*--- SKIP' "$test_log" || true)
if [ "$test_rc" != 0 ]; then
  echo "go test failed (exit $test_rc); its full output:" >&2
  cat "$test_log" >&2
  echo "tests: $passed passed, $failed failed, $skipped skipped"
  exit 1
fi
rm -f "$test_log"
echo "go test: $passed tests passed, $skipped skipped"

# A short fuzzing pass over every fuzz target (seed corpora also run above).
fuzz_time=${FUZZ_TIME:-10s}
for pkg in $(go list ./...); do
  dir=$(go list -f '{{.Dir}}' "$pkg")
  for t in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go 2>/dev/null | sed 's/^func //'); do
    echo "fuzz $pkg $t ($fuzz_time)"
    log=$(mktemp)
    if ! go test -run='^$' -fuzz="^$t\$" -fuzztime="$fuzz_time" "$pkg" >"$log" 2>&1; then
      # Go's fuzzer sometimes ends a run with "context deadline exceeded" and
      # no failing input (a coordinator race when -fuzztime runs out,
      # golang/go#75804, fixed in Go 1.27; this module is on 1.26): that
      # is not a finding, so run it once more. A real finding names its input.
      if grep -q "context deadline exceeded" "$log" && ! grep -q "Failing input written" "$log"; then
        echo "fuzz $pkg $t: the fuzzer stopped on its own deadline without a finding; running it again"
        go test -run='^$' -fuzz="^$t\$" -fuzztime="$fuzz_time" "$pkg" >"$log" 2>&1 || { cat "$log"; exit 1; }
      else
        cat "$log"
        exit 1
      fi
    fi
    rm -f "$log"
  done
done
echo "all tests passed; every fuzz target ran $fuzz_time without a finding"
echo "tests: $passed passed, 0 failed, $skipped skipped"
