// Package report turns the tracker's connections into what zspy prints: the
// replay/capture report (a text table or the JSON document whose contract the
// README states) and the JSON lines of `--events`. It sits at the end of the
// pipeline, beside store, rules and ui.
package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/zspy/zspy/internal/textsafe"
	"github.com/zspy/zspy/tracker"
	"github.com/zspy/zspy/zmtp"
)

// Redacted replaces secrets (PLAIN passwords) unless the user asks for them.
const Redacted = "<redacted>"

// Report is the document `zspy replay --json` prints.
type Report struct {
	Packets     uint64       `json:"packets"`
	Connections []Connection `json:"connections"`
	// Refused collapses refused connects (one entry per client host and
	// server endpoint until one got through): the start-up story.
	Refused      []RefusedAttempts `json:"refused_attempts,omitempty"`
	NonZMTPFlows uint64            `json:"non_zmtp_flows"`
	Warnings     []string          `json:"warnings"`
	// WarningsTotal counts all warnings, including those not listed.
	WarningsTotal uint64 `json:"warnings_total"`
	Stats         Stats  `json:"stats"`
	// MonitorPeers are endpoints the socket monitors spoke of (connect retries,
	// handshake failures), present when monitor events were merged.
	MonitorPeers []MonitorPeer `json:"monitor_peers,omitempty"`
	// Store says where the time series went and what became of them.
	Store *StoreStats `json:"store,omitempty"`
	// Host is the live host view's part (nil on a replay).
	Host *HostReport `json:"host,omitempty"`
	// Stages are the brokers, forwarders and pipeline workers among the
	// processes of the host view (live only).
	Stages []Stage `json:"stages,omitempty"`
	// Tracing is what message tracing found (stages by forwarding, per-hop
	// times), when it found a stage.
	Tracing *Tracing `json:"tracing,omitempty"`
	// Alerts are filled in by the rules engine when it runs.
	Alerts []any `json:"alerts,omitempty"`
	// LowerBounds says why the counts are lower bounds ("" when they are
	// not; see NoteLowerBounds).
	LowerBounds string `json:"lower_bounds,omitempty"`
}

// Stats are the pipeline's counters.
type Stats struct {
	Bytes            uint64 `json:"bytes"`
	TCPPackets       uint64 `json:"tcp_packets"`
	NonTCPPackets    uint64 `json:"non_tcp_packets"`
	TruncatedPackets uint64 `json:"truncated_packets"`
	MalformedPackets uint64 `json:"malformed_packets"`
	KernelDrops      uint64 `json:"kernel_drops"`
	InternalDrops    uint64 `json:"internal_drops"`
	Duplicates       uint64 `json:"duplicates"`
	Fragments        uint64 `json:"ip_fragments"`
	Corrupt          uint64 `json:"corrupt_records"`
	Filtered         uint64 `json:"filtered"`
	RingFreezes      uint64 `json:"ring_freezes,omitempty"`
	BadChecksums     uint64 `json:"bad_checksums,omitempty"`
	ConnectionsTotal uint64 `json:"connections_total"`
	EvictedClosed    uint64 `json:"evicted_closed"`
	// Lifetime says what the caps on tracked connections did.
	Lifetime *Lifetime `json:"lifetime,omitempty"`
}

// StoreStats are the time-series sink's counters at the end of the run.
type StoreStats struct {
	Sink    string `json:"sink"`
	Written uint64 `json:"written"`
	Spilled uint64 `json:"spilled"`
	Resent  uint64 `json:"resent"`
	Dropped uint64 `json:"dropped"`
	// DropEpisodes counts the times the sink started dropping after a success.
	DropEpisodes uint64 `json:"drop_episodes"`
	Rejected     uint64 `json:"rejected"`
	Invalid      uint64 `json:"invalid"`
	Buffered     int    `json:"buffered"`
	SpoolBytes   int64  `json:"spool_bytes"`
	// RemovedFiles and RemovedBytes: the local store's files deleted by retention.
	RemovedFiles uint64 `json:"removed_files"`
	RemovedBytes int64  `json:"removed_bytes"`
	// LastError is the error the sink is still in (its last request
	// failed, or points still wait); PastError the last one of an outage
	// it recovered from, every point it kept sent since.
	LastError string `json:"last_error,omitempty"`
	PastError string `json:"past_error,omitempty"`
}

// Counts is one direction's traffic. Messages is nil where it cannot be known
// (under CURVE the message structure is encrypted).
type Counts struct {
	Messages *uint64 `json:"messages"`
	Frames   uint64  `json:"frames"`
	Bytes    uint64  `json:"bytes"`
	Commands uint64  `json:"commands"`
	// LostBytes are stream bytes that were not captured.
	LostBytes uint64 `json:"lost_bytes"`
	// LostSync counts the gaps that hid a frame boundary, so that frames in
	// them went uncounted; 0 means every frame was counted despite LostBytes.
	LostSync uint64 `json:"lost_sync"`
	// PartialFrames are frames of a message left incomplete at the end.
	PartialFrames uint64 `json:"partial_frames,omitempty"`
	// DerivedFrames are frames (each a whole message) counted without their
	// header: a steady stream's frame size carried across the gaps that hid
	// them (short snap lengths), included in the counts above.
	DerivedFrames uint64 `json:"derived_frames,omitempty"`
	Retransmits   uint64 `json:"retransmits"`
	ZeroWindows   uint64 `json:"zero_windows"`
	// ZeroWindowMS is the total time the receiver advertised a zero window.
	ZeroWindowMS float64 `json:"zero_window_ms"`
}

// Latency summarises request→reply times in milliseconds.
type Latency struct {
	Count uint64  `json:"count"`
	P50   float64 `json:"p50_ms"`
	P99   float64 `json:"p99_ms"`
	Max   float64 `json:"max_ms"`
	Mean  float64 `json:"mean_ms"`
}

// SubChange is one subscription or cancellation.
type SubChange struct {
	Time   time.Time `json:"time"`
	Packet uint64    `json:"packet"`
	Op     string    `json:"op"` // "subscribe" or "cancel"
	Topic  string    `json:"topic"`
}

// Connection is one connection in the report.
type Connection struct {
	ID            uint64 `json:"id"`
	Client        string `json:"client"`
	Server        string `json:"server"`
	ZMTP          string `json:"zmtp"`
	Mechanism     string `json:"mechanism"`
	ClientSocket  string `json:"client_socket"`
	ServerSocket  string `json:"server_socket"`
	RolesInferred bool   `json:"roles_inferred,omitempty"`
	// OrientedBy says how the client was told from the server when the SYN
	// was not captured (tracker.BySharedPort, ...).
	OrientedBy     string      `json:"oriented_by,omitempty"`
	ClientIdentity string      `json:"client_identity"`
	ServerIdentity string      `json:"server_identity"`
	PlainUsername  string      `json:"plain_username"`
	PlainPassword  string      `json:"plain_password,omitempty"`
	State          string      `json:"state"`
	Handshake      string      `json:"handshake,omitempty"`
	HandshakeError string      `json:"handshake_error,omitempty"`
	MidStream      bool        `json:"mid_stream"`
	SawSYN         bool        `json:"saw_syn"`
	C2S            Counts      `json:"c2s"`
	S2C            Counts      `json:"s2c"`
	Subscriptions  []string    `json:"subscriptions"`
	SubHistory     []SubChange `json:"subscription_history,omitempty"`
	Errors         []string    `json:"errors"`
	Compatible     bool        `json:"compatible"`
	RefusedBefore  int         `json:"refused_before,omitempty"`
	// NotListeningMS: the server was not listening this long before the
	// connection got through (first refused connect to its start).
	NotListeningMS float64 `json:"not_listening_ms,omitempty"`
	// Evictions counts the times the connection was evicted (cap on tracked
	// connections) and its traffic came back continuing it; Unjoined marks
	// traffic that came back after an eviction without continuing the
	// evicted connection (Continues, when still listed).
	Evictions   int               `json:"evictions,omitempty"`
	Unjoined    bool              `json:"unjoined,omitempty"`
	Continues   uint64            `json:"continues,omitempty"`
	Latency     *Latency          `json:"latency,omitempty"`
	Outstanding int               `json:"outstanding_requests"`
	ClientMeta  map[string]string `json:"client_metadata,omitempty"`
	ServerMeta  map[string]string `json:"server_metadata,omitempty"`
	Monitor     *Monitor          `json:"monitor,omitempty"`
	// ClientHost and ServerHost are the connection's ends on this host
	// (live capture with the host view only): process and kernel queues.
	ClientHost  *HostSide `json:"client_host,omitempty"`
	ServerHost  *HostSide `json:"server_host,omitempty"`
	FirstPacket uint64    `json:"first_packet"`
	Start       time.Time `json:"start"`
	End         time.Time `json:"end"`
}

// Monitor is what the sockets' monitors said of a connection.
type Monitor struct {
	ClientSource string        `json:"client_source,omitempty"`
	ServerSource string        `json:"server_source,omitempty"`
	Handshake    string        `json:"handshake,omitempty"`
	Disconnects  uint64        `json:"disconnects"`
	Events       []MonitorNote `json:"events"`
	// ClientPipes and ServerPipes are PIPES_STATS queue depths (messages).
	ClientPipes *Pipes `json:"client_pipes,omitempty"`
	ServerPipes *Pipes `json:"server_pipes,omitempty"`
}

// MonitorNote is one monitor event attached to a connection.
type MonitorNote struct {
	Time   time.Time `json:"time"`
	Source string    `json:"source,omitempty"`
	Event  string    `json:"event"`
	Detail string    `json:"detail,omitempty"`
	// Uncertain is true when a v1 event could as well belong to another
	// connection to the same server (see tracker.MonitorEvent).
	Uncertain bool `json:"uncertain,omitempty"`
}

// MonitorPeer is what the monitors said of one endpoint.
type MonitorPeer struct {
	Endpoint        string `json:"endpoint"`
	Retries         uint64 `json:"connect_retries"`
	Delayed         uint64 `json:"connect_delayed"`
	HandshakeFailed uint64 `json:"handshake_failed"`
	LastEvent       string `json:"last_event"`
}

// Peers lists the tracker's monitor peers sorted by endpoint.
func Peers(peers map[string]*tracker.MonitorPeer) []MonitorPeer {
	out := make([]MonitorPeer, 0, len(peers))
	for _, p := range peers {
		out = append(out, MonitorPeer{Endpoint: p.Endpoint, Retries: p.Retries, Delayed: p.Delayed,
			HandshakeFailed: p.HandshakeFailed, LastEvent: p.LastEvent})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Endpoint < out[j].Endpoint })
	return out
}

// Pipes is one socket's PIPES_STATS.
type Pipes struct {
	Time     time.Time `json:"time"`
	Outbound uint64    `json:"outbound"`
	Inbound  uint64    `json:"inbound"`
}

// Options say what a report shows.
type Options struct {
	ShowSecrets bool
}

// Build makes the report of the given connections. Connections that were not
// ZMTP are counted in NonZMTPFlows by the caller (tracker.NonZMTP), not listed;
// refused connection attempts are not listed either but collapsed into
// start-up entries (Refused).
func Build(recs []*tracker.Record, opt Options) []Connection {
	out := make([]Connection, 0, len(recs))
	for _, c := range recs {
		if c.Detection != zmtp.IsZMTP {
			continue
		}
		out = append(out, connection(c, opt))
	}
	return out
}

func connection(c *tracker.Record, opt Options) Connection {
	cn, sn := c.Names()
	r := Connection{
		ID:             c.ID,
		Client:         cn,
		Server:         sn,
		ZMTP:           c.Version.String(),
		Mechanism:      c.Mechanism.String(),
		ClientSocket:   c.ClientSocket.String(),
		ServerSocket:   c.ServerSocket.String(),
		RolesInferred:  c.RolesInferred,
		OrientedBy:     c.OrientedBy,
		ClientIdentity: tracker.Printable(c.Sides[0].Identity),
		ServerIdentity: tracker.Printable(c.Sides[1].Identity),
		PlainUsername:  c.PlainUsername,
		State:          c.State.String(),
		Handshake:      c.Handshake.String(),
		HandshakeError: c.HandshakeError,
		MidStream:      c.MidStream,
		SawSYN:         c.SawSYN,
		Subscriptions:  []string{},
		Errors:         []string{},
		Compatible:     c.Compatible,
		RefusedBefore:  c.RefusedBefore,
		NotListeningMS: ms(c.NotListening()),
		Evictions:      c.Evictions,
		Unjoined:       c.Unjoined,
		Continues:      c.Continues,
		Outstanding:    c.Outstanding,
		FirstPacket:    c.FirstPacket,
		Start:          c.Start.UTC(),
		End:            c.Last.UTC(),
	}
	if c.PlainPassword != "" || c.PlainUsername != "" {
		r.PlainPassword = Redacted
		if opt.ShowSecrets {
			r.PlainPassword = c.PlainPassword
		}
	}
	for i, dst := range []*Counts{&r.C2S, &r.S2C} {
		d := &c.Dirs[i]
		t := &c.TCP[i]
		*dst = Counts{Frames: d.Frames, Bytes: d.Bytes, Commands: d.Commands, LostBytes: d.Lost,
			LostSync: d.LostSync, PartialFrames: d.Partial, DerivedFrames: d.Derived, Retransmits: t.Retransmits, ZeroWindows: t.ZeroWindows,
			ZeroWindowMS: ms(t.ZeroWindowTime)}
		if !c.Curve {
			n := d.Messages
			dst.Messages = &n
		}
	}
	for _, s := range c.Subscriptions {
		r.Subscriptions = append(r.Subscriptions, tracker.Printable([]byte(s)))
	}
	for _, h := range c.SubHistory {
		op := "subscribe"
		if h.Cancel {
			op = "cancel"
		}
		r.SubHistory = append(r.SubHistory, SubChange{Time: h.TS.UTC(), Packet: h.Packet, Op: op, Topic: tracker.Printable(h.Topic)})
	}
	r.Errors = append(r.Errors, c.Errors...)
	if c.ErrorsDropped > 0 {
		r.Errors = append(r.Errors, fmt.Sprintf("%d more errors not kept", c.ErrorsDropped))
	}
	if !r.Compatible {
		r.Errors = append(r.Errors, fmt.Sprintf("incompatible socket types %s and %s", r.ClientSocket, r.ServerSocket))
	}
	if c.Latency.Count > 0 {
		r.Latency = &Latency{Count: c.Latency.Count, P50: ms(c.Latency.Quantile(0.5)),
			P99: ms(c.Latency.Quantile(0.99)), Max: ms(c.Latency.Max), Mean: ms(c.Latency.Mean())}
	}
	if len(c.MonitorNotes) > 0 || c.HasPipes[0] || c.HasPipes[1] {
		m := &Monitor{ClientSource: c.MonitorSource[0], ServerSource: c.MonitorSource[1],
			Handshake: c.MonitorHandshake, Disconnects: c.MonitorDisconnects, Events: []MonitorNote{}}
		for _, n := range c.MonitorNotes {
			m.Events = append(m.Events, MonitorNote{Time: n.Time.UTC(), Source: n.Source, Event: n.Event, Detail: n.Detail, Uncertain: n.Uncertain})
		}
		for i, dst := range []**Pipes{&m.ClientPipes, &m.ServerPipes} {
			if c.HasPipes[i] {
				*dst = &Pipes{Time: c.Pipes[i].Time.UTC(), Outbound: c.Pipes[i].Outbound, Inbound: c.Pipes[i].Inbound}
			}
		}
		r.Monitor = m
	}
	r.ClientMeta = meta(c.Sides[0].Metadata)
	r.ServerMeta = meta(c.Sides[1].Metadata)
	return r
}

func meta(props []tracker.Property) map[string]string {
	if len(props) == 0 {
		return nil
	}
	m := make(map[string]string, len(props))
	for _, p := range props {
		m[p.Name] = tracker.Printable(p.Value)
	}
	return m
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// WriteJSON prints the report as one indented JSON document. C1 controls
// and bidirectional overrides in strings are \u-escaped (textsafe.JSON).
func WriteJSON(w io.Writer, r *Report) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if r.Connections == nil {
		r.Connections = []Connection{}
	}
	if r.Warnings == nil {
		r.Warnings = []string{}
	}
	if err := enc.Encode(r); err != nil {
		return err
	}
	_, err := w.Write(textsafe.JSON(buf.Bytes()))
	return err
}

// WriteText prints the report as a table for people.
func WriteText(w io.Writer, r *Report) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "CLIENT\tSERVER\tZMTP\tMECH\tSOCKETS\tSTATE\tC2S MSGS\tC2S BYTES\tS2C MSGS\tS2C BYTES\tNOTES")
	for _, c := range r.Connections {
		// Cells may hold what peers sent (a PLAIN username, identities):
		// textsafe escapes what a terminal would act on, and the tabs and
		// newlines that would break the table.
		safe := textsafe.String
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\t%d\t%s\n", safe(c.Client), safe(c.Server), safe(dash(c.ZMTP)), safe(dash(c.Mechanism)),
			safe(sockets(c)), safe(c.State), msgs(c.C2S), c.C2S.Bytes, msgs(c.S2C), c.S2C.Bytes, safe(notes(c)))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, "\n%s, %s, %s", plural(r.Packets, "packet", "packets"), plural(uint64(len(r.Connections)), "ZeroMQ connection", "ZeroMQ connections"),
		plural(r.NonZMTPFlows, "other TCP flow", "other TCP flows"))
	if r.Stats.NonTCPPackets > 0 {
		fmt.Fprintf(w, ", %s", plural(r.Stats.NonTCPPackets, "non-TCP packet", "non-TCP packets"))
	}
	if r.LowerBounds != "" {
		fmt.Fprintf(w, "; counts are lower bounds (%s)", r.LowerBounds)
	}
	fmt.Fprintln(w)
	writeStartupText(w, r.Refused)
	writeLifetimeText(w, r.Stats.Lifetime)
	writeHostText(w, r.Host)
	writeStagesText(w, r.Stages)
	writeTracingText(w, r.Tracing)
	if st := r.Store; st != nil {
		fmt.Fprintf(w, "time series: %s: %d points written", textsafe.String(st.Sink), st.Written)
		if st.Spilled+st.Dropped+st.Rejected+st.Invalid > 0 || st.SpoolBytes > 0 {
			fmt.Fprintf(w, ", %d spilled, %d resent, %d dropped (%d episodes), %d rejected, %d invalid, %d bytes still spooled",
				st.Spilled, st.Resent, st.Dropped, st.DropEpisodes, st.Rejected, st.Invalid, st.SpoolBytes)
		}
		if st.RemovedFiles > 0 {
			fmt.Fprintf(w, "; retention deleted %d old files (%d bytes)", st.RemovedFiles, st.RemovedBytes)
		}
		if st.LastError != "" {
			fmt.Fprintf(w, "; last error: %s", textsafe.String(st.LastError))
		} else if st.PastError != "" {
			fmt.Fprintf(w, "; recovered from: %s", textsafe.String(st.PastError))
		}
		fmt.Fprintln(w)
	}
	for _, warn := range r.Warnings {
		fmt.Fprintln(w, "warning:", textsafe.String(warn))
	}
	if n := r.WarningsTotal - uint64(len(r.Warnings)); r.WarningsTotal > uint64(len(r.Warnings)) {
		fmt.Fprintf(w, "warning: %d more warnings not listed\n", n)
	}
	return nil
}

// plural says n of a thing in the grammatical number n takes.
func plural(n uint64, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func sockets(c Connection) string {
	if c.ClientSocket == "" && c.ServerSocket == "" {
		return "-"
	}
	return dash(c.ClientSocket) + "→" + dash(c.ServerSocket)
}

func msgs(c Counts) string {
	if c.Messages == nil {
		return fmt.Sprintf("(%d boxes)", c.Frames)
	}
	if c.LostSync > 0 { // frames in the gaps went uncounted
		return fmt.Sprintf("%d+", *c.Messages)
	}
	return fmt.Sprint(*c.Messages)
}

func notes(c Connection) string {
	var n []string
	if c.ClientIdentity != "" {
		n = append(n, "id="+c.ClientIdentity)
	}
	if c.PlainUsername != "" {
		n = append(n, "user="+c.PlainUsername)
	}
	if c.PlainPassword != "" && c.PlainPassword != Redacted {
		// Only with --show-secrets; redacted, the table leaves it out.
		n = append(n, fmt.Sprintf("pass=%q", c.PlainPassword))
	}
	if len(c.Subscriptions) > 0 {
		q := make([]string, len(c.Subscriptions))
		for i, s := range c.Subscriptions {
			q[i] = fmt.Sprintf("%q", s)
		}
		n = append(n, "subs="+strings.Join(q, ","))
	}
	if c.ClientHost != nil {
		n = append(n, "client="+c.ClientHost.process())
	}
	if c.ServerHost != nil {
		n = append(n, "server="+c.ServerHost.process())
	}
	if c.MidStream {
		n = append(n, "mid-stream")
	}
	if c.RefusedBefore > 0 {
		nl := time.Duration(c.NotListeningMS * float64(time.Millisecond)).Round(time.Millisecond)
		n = append(n, fmt.Sprintf("after %d refused over %s", c.RefusedBefore, nl))
	}
	if c.Evictions > 0 {
		n = append(n, fmt.Sprintf("evicted and resumed %dx", c.Evictions))
	}
	if c.Unjoined {
		if c.Continues != 0 {
			n = append(n, fmt.Sprintf("after eviction of %d, not joined", c.Continues))
		} else {
			n = append(n, "after an eviction, not joined")
		}
	}
	if c.Latency != nil {
		n = append(n, fmt.Sprintf("p50=%.3fms", c.Latency.P50))
	}
	if c.C2S.LostBytes+c.S2C.LostBytes > 0 {
		n = append(n, fmt.Sprintf("lost=%dB", c.C2S.LostBytes+c.S2C.LostBytes))
		if k := c.C2S.LostSync + c.S2C.LostSync; k > 0 {
			n = append(n, fmt.Sprintf("lost-sync=%d", k))
		}
	}
	if !c.Compatible {
		n = append(n, "INCOMPATIBLE")
	}
	if len(c.Errors) > 0 {
		n = append(n, plural(uint64(len(c.Errors)), "error", "errors"))
	}
	return strings.Join(n, " ")
}
