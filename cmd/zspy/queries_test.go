package main

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/zspy/zspy/internal/influxtest"
)

// queryReplays are the captures the query tests replay into InfluxDB, one
// host tag each: between them every measurement gets points (pub/sub,
// request/reply, a stalled consumer that fires an alert, monitor events).
var queryReplays = map[string][]string{
	"q-pubsub":     {pcaps + "pubsub/capture.pcap"},
	"q-reqrep":     {pcaps + "reqrep/capture.pcap"},
	"q-slow":       {pcaps + "slow_subscriber/capture.pcap"},
	"q-hwm":        {pcaps + "rules_hwm_stall/capture.pcap"},
	"q-contention": {"../../monitor/testdata/contention/capture.pcap", "--monitor-log", "../../monitor/testdata/contention/events.jsonl"},
}

// TestReadyMadeQueries replays captures into a real influxd with zspy replay
// and runs every ready-made InfluxQL query of README.md and every query of
// the Grafana dashboard (panels, annotations, template variables) against
// it: each must return rows with a value for at least one replay. A query's
// time filter (README's "time > now() - 1h", Grafana's $timeFilter) becomes
// the replay's own time range, $__interval 1s, and $host the replay's host.
func TestReadyMadeQueries(t *testing.T) {
	readme := readmeQueries(t)
	grafana := grafanaQueries(t)
	if len(readme) < 8 || len(grafana) < 14 {
		t.Fatalf("%d README queries, %d Grafana queries", len(readme), len(grafana))
	}
	srv := influxtest.Start(t)
	ranges := map[string][2]time.Time{}
	for host, files := range queryReplays {
		args := append([]string{"replay", "--influx-url", srv.URL, "--influx-bucket", srv.DB + "/autogen", "--host-tag", host}, files...)
		if _, err := runZspyStdout(t, args...); err != nil {
			t.Fatalf("zspy %v: %v", args, err)
		}
		ranges[host] = timeRange(t, srv, host)
	}
	// The 1,000 reconnecting clients of metrics' cardinality test, in a real
	// InfluxDB: the series it holds for them do not follow the connections.
	if _, err := runZspyStdout(t, "replay", "--influx-url", srv.URL, "--influx-bucket", srv.DB+"/autogen", "--host-tag", "q-storm",
		"../../metrics/testdata/reconnect_storm.pcap.gz"); err != nil {
		t.Fatal(err)
	}
	res, err := srv.Query(`SHOW SERIES WHERE "host" = 'q-storm'`)
	if err != nil {
		t.Fatal(err)
	}
	if n := valueRows(res); n == 0 || n > 12 {
		t.Errorf("1,000 reconnecting clients made %d series in InfluxDB: %v", n, res.Series)
	} else {
		t.Logf("1,000 reconnecting clients: %d series in InfluxDB", n)
	}
	type query struct{ from, q string }
	var all []query
	for _, q := range readme {
		all = append(all, query{"README.md", q})
	}
	for _, q := range grafana {
		all = append(all, query{"contrib/grafana/zspy.json", q})
	}
	nowFilter := regexp.MustCompile(`time > now\(\) - \d+[smhd]`)
	unknownVar := regexp.MustCompile(`\$[A-Za-z_{]`)
	for _, q := range all {
		var got []string
		for host, r := range ranges {
			filter := fmt.Sprintf("time >= '%s' AND time <= '%s'", r[0].Add(-time.Minute).Format(time.RFC3339Nano), r[1].Add(time.Minute).Format(time.RFC3339Nano))
			text := nowFilter.ReplaceAllString(q.q, filter)
			text = strings.ReplaceAll(text, "$timeFilter", filter)
			text = strings.ReplaceAll(text, "$__interval", "1s")
			text = strings.ReplaceAll(text, "$host", regexp.QuoteMeta(host))
			if unknownVar.MatchString(text) {
				t.Errorf("%s: %s: a variable the test does not know", q.from, text)
				break
			}
			if !strings.HasPrefix(q.q, "SHOW") && !strings.Contains(q.q, `"host" =~`) {
				text = addHost(text, host)
			}
			res, err := srv.Query(text)
			if err != nil {
				t.Errorf("%s: %v", q.from, err)
				break
			}
			if n := valueRows(res); n > 0 {
				got = append(got, fmt.Sprintf("%s: %d rows", host, n))
			}
		}
		if len(got) == 0 {
			t.Errorf("%s: no rows for any replay: %s", q.from, q.q)
		} else {
			t.Logf("%s: %s\n    %s", q.from, q.q, strings.Join(got, ", "))
		}
	}
}

// addHost narrows a README query (written for one zspy) to one replay's
// host tag.
func addHost(q, host string) string {
	return strings.Replace(q, " WHERE ", fmt.Sprintf(` WHERE "host" = '%s' AND `, host), 1)
}

// valueRows counts the result's rows with a value besides the time.
func valueRows(r *influxtest.Result) int {
	n := 0
	for _, s := range r.Series {
		for _, row := range s.Values {
			start := 0
			if len(s.Columns) > 0 && s.Columns[0] == "time" {
				start = 1
			}
			for _, v := range row[start:] {
				if v != nil {
					n++
					break
				}
			}
		}
	}
	return n
}

// timeRange returns the times of the first and last zspy_endpoint points of
// a replay.
func timeRange(t *testing.T, srv *influxtest.Server, host string) [2]time.Time {
	t.Helper()
	var out [2]time.Time
	for i, fn := range []string{"first", "last"} {
		r, err := srv.Query(fmt.Sprintf(`SELECT %s("connections") FROM "zspy_endpoint" WHERE "host" = '%s'`, fn, host))
		if err != nil {
			t.Fatal(err)
		}
		if len(r.Series) == 0 {
			t.Fatalf("%s: no zspy_endpoint points", host)
		}
		ns, err := r.Series[0].Values[0][0].(json.Number).Int64()
		if err != nil {
			t.Fatal(err)
		}
		out[i] = time.Unix(0, ns).UTC()
	}
	return out
}

const (
	queriesBegin = "<!-- begin queries:"
	queriesEnd   = "<!-- end queries -->"
)

// readmeQueries returns the SELECT and SHOW lines of README.md's ready-made
// queries.
func readmeQueries(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	i, j := strings.Index(s, queriesBegin), strings.Index(s, queriesEnd)
	if i < 0 || j < i {
		t.Fatalf("README.md has no block between %q and %q", queriesBegin, queriesEnd)
	}
	var qs []string
	for _, l := range strings.Split(s[i:j], "\n") {
		if strings.HasPrefix(l, "SELECT ") || strings.HasPrefix(l, "SHOW ") {
			qs = append(qs, l)
		}
	}
	return qs
}

// grafanaQueries returns every query of the dashboard: its panels' targets,
// annotations and template variables.
func grafanaQueries(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile("../../contrib/grafana/zspy.json")
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				RawQuery bool   `json:"rawQuery"`
				Query    string `json:"query"`
			} `json:"targets"`
		} `json:"panels"`
		Annotations struct {
			List []struct {
				Query string `json:"query"`
			} `json:"list"`
		} `json:"annotations"`
		Templating struct {
			List []struct {
				Query string `json:"query"`
			} `json:"list"`
		} `json:"templating"`
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatal(err)
	}
	var qs []string
	for _, p := range d.Panels {
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, tg := range p.Targets {
			if !tg.RawQuery || tg.Query == "" {
				t.Errorf("panel %q: a target without a raw InfluxQL query", p.Title)
			}
			qs = append(qs, tg.Query)
		}
	}
	for _, a := range d.Annotations.List {
		if a.Query != "" {
			qs = append(qs, a.Query)
		}
	}
	for _, v := range d.Templating.List {
		qs = append(qs, v.Query)
	}
	return qs
}
