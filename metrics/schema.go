package metrics

import (
	"fmt"
	"slices"
	"strings"

	"github.com/zspy/zspy/store"
)

// Schema is zspy's time-series schema: every measurement zspy writes, with its
// tags and fields. It is the one place the schema lives: the collector writes
// its points through the Fields and Tags below (a name not in the schema
// cannot be written), rule expressions are checked against it, and README.md's
// schema section is Schema.Markdown() (a test holds it to that). Every point
// carries the tag host (the zspy instance), so many instances can share one
// InfluxDB. Times are packet times: a replayed capture writes at the
// capture's own timestamps.
//
// The schema fits InfluxDB 1.8, 2.x and 3: every point of a measurement
// carries all of its tags (a placeholder when there is no value), no name is
// both a tag and a field of one measurement, and tags hold only what lives
// long and what an operator groups by (server endpoints, client hosts,
// socket types, topics up to a cap), never a client's ephemeral port, so the
// number of series does not grow with connections or reconnects.
var Schema = Measurements{
	&Connection, &Latency, &Subscriber, &Topic, &Endpoint, &SocketQueue, &Monitor, &Alerts,
}

// Measurement names.
const (
	MeasConnection = "zspy_connection"
	MeasLatency    = "zspy_latency"
	MeasSubscriber = "zspy_subscriber"
	MeasTopic      = "zspy_topic"
	MeasEndpoint   = "zspy_endpoint"
	// MeasSocketQueue holds the kernel's socket queues of connection ends
	// on this host (live capture with the host view only).
	MeasSocketQueue = "zspy_socket_queue"
	// MeasMonitor holds socket-monitor events and MeasAlert alert state
	// changes (named "alerts", as issue 6 asks for an "alerts" series); their
	// writers are Collector.MonitorEvent and the rules package.
	MeasMonitor = "zspy_monitor"
	MeasAlert   = "alerts"
)

// Measurement is one measurement of the schema.
type Measurement struct {
	Name string
	// Per says what one point stands for.
	Per string
	// Interval is true for the series the collector samples once per
	// interval (the ones rule expressions may name); false for points written
	// as things happen (monitor events, alert changes).
	Interval bool
	// Live is true for the series only a live capture writes (the host
	// view's); a replay never does.
	Live   bool
	Tags   []*Tag
	Fields []*Field
}

// Tag is a tag of a measurement.
type Tag struct {
	Name string
	Doc  string
}

// Field is a field of a measurement: its name, its kind and what it holds.
type Field struct {
	Name string
	Kind store.FieldKind
	Doc  string
}

// Int, Float, Bool and Str return the field with a value, for a point.
func (f *Field) Int(v int64) store.Field     { return store.Int(f.Name, v) }
func (f *Field) Float(v float64) store.Field { return store.Float(f.Name, v) }
func (f *Field) Bool(v bool) store.Field     { return store.Bool(f.Name, v) }
func (f *Field) Str(v string) store.Field    { return store.String(f.Name, v) }

// Of returns the tag with a value, for a point.
func (t *Tag) Of(v string) store.Tag { return store.Tag{Key: t.Name, Value: v} }

// Measurements is a list of measurements.
type Measurements []*Measurement

// Lookup returns the measurement named name, or nil.
func (s Measurements) Lookup(name string) *Measurement {
	for _, m := range s {
		if m.Name == name {
			return m
		}
	}
	return nil
}

// Tag returns the measurement's tag named name, or nil.
func (m *Measurement) Tag(name string) *Tag {
	for _, t := range m.Tags {
		if t.Name == name {
			return t
		}
	}
	return nil
}

// Field returns the measurement's field named name, or nil.
func (m *Measurement) Field(name string) *Field {
	for _, f := range m.Fields {
		if f.Name == name {
			return f
		}
	}
	return nil
}

// TagNames and FieldNames list the names, in schema order.
func (m *Measurement) TagNames() []string {
	out := make([]string, len(m.Tags))
	for i, t := range m.Tags {
		out[i] = t.Name
	}
	return out
}

func (m *Measurement) FieldNames() []string {
	out := make([]string, len(m.Fields))
	for i, f := range m.Fields {
		out[i] = f.Name
	}
	return out
}

// Check reports the first way p does not fit the schema: an unknown
// measurement, a tag set other than the measurement's (every point of a
// measurement carries all its tags, none empty: see the placeholders), an
// unknown field, or a field of another kind. Tags named in extra (the global
// tags, --global-tag) are allowed on every point.
func (s Measurements) Check(p *store.Point, extra ...string) error {
	m := s.Lookup(p.Measurement)
	if m == nil {
		return fmt.Errorf("unknown measurement %q", p.Measurement)
	}
	n := 0
	for _, t := range p.Tags {
		switch {
		case m.Tag(t.Key) != nil:
			n++
		case slices.Contains(extra, t.Key):
		default:
			return fmt.Errorf("%s: unknown tag %q", m.Name, t.Key)
		}
		if t.Value == "" {
			return fmt.Errorf("%s: tag %q is empty (a placeholder such as %q stands for no value)", m.Name, t.Key, None)
		}
	}
	if n != len(m.Tags) {
		var missing []string
		for _, t := range m.Tags {
			if _, ok := p.Tag(t.Name); !ok {
				missing = append(missing, t.Name)
			}
		}
		return fmt.Errorf("%s: tags %s missing (every point carries %s)", m.Name, strings.Join(missing, ", "), strings.Join(m.TagNames(), ", "))
	}
	for _, f := range p.Fields {
		sf := m.Field(f.Key)
		if sf == nil {
			return fmt.Errorf("%s: unknown field %q", m.Name, f.Key)
		}
		if sf.Kind != f.Kind {
			return fmt.Errorf("%s.%s: %s, the schema says %s", m.Name, f.Key, kindName(f.Kind), kindName(sf.Kind))
		}
	}
	return nil
}

// CheckGlobalTag reports why key cannot be a global tag (--global-tag): it
// must be a valid name, and neither a tag nor a field of any measurement
// (InfluxDB 3 refuses a name that is both a tag and a field of one table).
func (s Measurements) CheckGlobalTag(key string) error {
	if key == "" || key[0] == '_' || strings.ContainsAny(key, " ,=\"\\") {
		return fmt.Errorf("global tag %q: want a name without spaces, commas, '=' or quotes, not starting with '_'", key)
	}
	for _, m := range s {
		if m.Tag(key) != nil {
			return fmt.Errorf("global tag %q: %s has a tag of that name", key, m.Name)
		}
		if m.Field(key) != nil {
			return fmt.Errorf("global tag %q: %s has a field of that name", key, m.Name)
		}
	}
	return nil
}

func kindName(k store.FieldKind) string {
	switch k {
	case store.KindInt:
		return "integer"
	case store.KindFloat:
		return "float"
	case store.KindBool:
		return "bool"
	case store.KindString:
		return "string"
	}
	return "unknown kind"
}

// Markdown renders the schema for README.md: per measurement, what a point
// stands for, its tags, and a table of its fields.
func (s Measurements) Markdown() string {
	var b strings.Builder
	for i, m := range s {
		if i > 0 {
			b.WriteByte('\n')
		}
		fmt.Fprintf(&b, "**`%s`**: one point per %s.\n", m.Name, m.Per)
		b.WriteString("Tags: ")
		for k, t := range m.Tags {
			if k > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "`%s`", t.Name)
			if t.Doc != "" {
				fmt.Fprintf(&b, " (%s)", t.Doc)
			}
		}
		b.WriteString(".\n\n| field | type | meaning |\n|---|---|---|\n")
		for _, f := range m.Fields {
			fmt.Fprintf(&b, "| `%s` | %s | %s |\n", f.Name, kindName(f.Kind), f.Doc)
		}
	}
	return b.String()
}

// Placeholders stand in for a tag value zspy does not have, so that every
// point of a measurement carries the same tags (InfluxDB 3 fixes a table's
// tag set when it creates it, and GROUP BY on a missing tag gives an empty
// group in every version).
const (
	// None is a tag with no value: a monitor event without a source or
	// endpoint, an alert of a whole server, a socket type or mechanism not
	// seen on the wire.
	None = "(none)"
	// AllTopics is the topic tag of the empty subscription (every message).
	AllTopics = "(all)"
	// OtherTopics is the topic tag of every topic past the first MaxTopics
	// distinct ones (Collector.TopicsOverflowed counts their points).
	OtherTopics = "(other)"
	// OtherClients is the client_host tag of every group past the first
	// MaxGroups (Collector.GroupsOverflowed counts their points).
	OtherClients = "(other)"
)

// MaxTopics bounds the distinct topic tag values one collector writes, and
// MaxGroups the distinct tag sets of one interval measurement: both bound the
// series zspy can make whatever the traffic.
const (
	MaxTopics = 1000
	MaxGroups = 10000
)

// TagValue returns the value of tag key of p, "" when the point lacks it or
// carries the None placeholder.
func TagValue(p *store.Point, key string) string {
	v, _ := p.Tag(key)
	if v == None {
		return ""
	}
	return v
}

// orNone returns v, or None when v is empty.
func orNone(v string) string {
	if v == "" {
		return None
	}
	return v
}

// Tags shared by several measurements.
var (
	tagHost       = &Tag{"host", "the zspy instance"}
	tagServer     = &Tag{"server", "the listening side, `ip:port`"}
	tagClientHost = &Tag{"client_host", "the connecting side's address, without its (ephemeral) port"}

	fieldConns = &Field{"connections", store.KindInt, "connections of the series sampled this interval (open, or closed in it)"}
)

// zspy_connection
var (
	tagDir       = &Tag{"dir", "`c2s` or `s2c`"}
	tagSender    = &Tag{"sender", "the sending socket's type, `unknown` when not known"}
	tagReceiver  = &Tag{"receiver", "the receiving socket's type, `unknown` when not known"}
	tagMechanism = &Tag{"mechanism", "NULL, PLAIN or CURVE; `(none)` when not seen"}
	// The ends' commands (bounded: the command, not the PID).
	tagSenderCmd   = &Tag{"sender_command", "the sending end's process command (capture's host view, or a pcapng's recorded one); `unknown` when not on this host or not known"}
	tagReceiverCmd = &Tag{"receiver_command", "the receiving end's process command; `unknown` when not on this host or not known"}

	fieldMessages    = &Field{"messages", store.KindInt, "messages this interval"}
	fieldFrames      = &Field{"frames", store.KindInt, "data frames this interval"}
	fieldBytes       = &Field{"bytes", store.KindInt, "data frame bytes this interval"}
	fieldCommands    = &Field{"commands", store.KindInt, "command frames this interval"}
	fieldMsgRate     = &Field{"msg_rate", store.KindFloat, "messages per second"}
	fieldByteRate    = &Field{"byte_rate", store.KindFloat, "bytes per second"}
	fieldMsgSizeMin  = &Field{"msg_size_min", store.KindInt, "smallest message this interval, bytes (only when messages > 0)"}
	fieldMsgSizeMax  = &Field{"msg_size_max", store.KindInt, "largest message this interval, bytes (only when messages > 0)"}
	fieldMsgSizeMean = &Field{"msg_size_mean", store.KindFloat, "mean message size this interval, bytes (only when messages > 0)"}
	fieldMsgsTotal   = &Field{"messages_total", store.KindInt, "messages so far (since zspy started, all the series' connections)"}
	fieldFramesTotal = &Field{"frames_total", store.KindInt, "data frames so far"}
	fieldBytesTotal  = &Field{"bytes_total", store.KindInt, "data frame bytes so far"}
	fieldLostTotal   = &Field{"lost_bytes_total", store.KindInt, "stream bytes not captured so far"}
	fieldInFlight    = &Field{"in_flight_bytes", store.KindInt, "bytes sent and not yet acknowledged, all connections"}
	fieldWindow      = &Field{"window_bytes", store.KindInt, "the smallest advertised TCP window of the receivers, scaled"}
	fieldZeroWindows = &Field{"zero_windows", store.KindInt, "connections whose receiver's window is zero now (0 or 1 for one connection)"}
	fieldZWEpisodes  = &Field{"zero_window_episodes_total", store.KindInt, "zero-window episodes so far"}
	fieldZWMs        = &Field{"zero_window_ms_total", store.KindFloat, "time windows were zero so far, summed over the connections (current episodes included), ms"}
	fieldRetransmits = &Field{"retransmits", store.KindInt, "retransmitted segments this interval"}
	fieldWindowFull  = &Field{"window_full", store.KindInt, "segments sent into a full window this interval"}
	fieldQueueOut    = &Field{"queue_outbound", store.KindInt, "the sending sockets' libzmq queues towards the peers, messages (PIPES_STATS; only with monitor events)"}
	fieldQueueIn     = &Field{"queue_inbound", store.KindInt, "the sending sockets' libzmq queues of received, unread messages (PIPES_STATS; only with monitor events)"}
)

// Connection is one point per series (server, client host, direction and
// socket types) per interval, summing its connections.
var Connection = Measurement{
	Name: MeasConnection, Per: "server, client host, direction, socket types, mechanism and the ends' commands, per interval (the sum of their connections)", Interval: true,
	Tags: []*Tag{tagHost, tagServer, tagClientHost, tagDir, tagSender, tagReceiver, tagMechanism, tagSenderCmd, tagReceiverCmd},
	Fields: []*Field{fieldConns, fieldMessages, fieldFrames, fieldBytes, fieldCommands, fieldMsgRate, fieldByteRate,
		fieldMsgSizeMin, fieldMsgSizeMax, fieldMsgSizeMean, fieldMsgsTotal, fieldFramesTotal, fieldBytesTotal,
		fieldLostTotal, fieldInFlight, fieldWindow, fieldZeroWindows, fieldZWEpisodes, fieldZWMs,
		fieldRetransmits, fieldWindowFull, fieldQueueOut, fieldQueueIn},
}

// zspy_latency
var (
	fieldReplies      = &Field{"replies", store.KindInt, "replies this interval"}
	fieldP50          = &Field{"p50_ms", store.KindFloat, "request→reply median this interval, ms: the highest of the connections' (only when replies > 0)"}
	fieldP99          = &Field{"p99_ms", store.KindFloat, "request→reply 99th percentile this interval, ms: the highest of the connections' (only when replies > 0)"}
	fieldMax          = &Field{"max_ms", store.KindFloat, "longest request→reply time this interval, ms (only when replies > 0)"}
	fieldOutstanding  = &Field{"outstanding", store.KindInt, "requests not yet answered"}
	fieldOldestMs     = &Field{"oldest_pending_ms", store.KindFloat, "how long the oldest unanswered request has waited, ms (only while one waits)"}
	fieldRepliesTotal = &Field{"replies_total", store.KindInt, "replies so far"}
)

// Latency is one point per request/reply series per interval.
var Latency = Measurement{
	Name: MeasLatency, Per: "server and client host with REQ/REP or DEALER→REP/ROUTER connections with replies or waiting requests, per interval", Interval: true,
	Tags:   []*Tag{tagHost, tagServer, tagClientHost},
	Fields: []*Field{fieldConns, fieldReplies, fieldP50, fieldP99, fieldMax, fieldOutstanding, fieldOldestMs, fieldRepliesTotal},
}

// zspy_subscriber
var (
	tagPubSide = &Tag{"pub_side", "which side publishes: `server` (PUB binds) or `client` (PUB connects)"}

	fieldSubscriptions = &Field{"subscriptions", store.KindInt, "topics subscribed now, summed over the connections"}
	fieldDelivered     = &Field{"delivered", store.KindInt, "messages delivered this interval"}
	fieldDeliveredRate = &Field{"delivered_rate", store.KindFloat, "messages delivered per second"}
	fieldBestRate      = &Field{"best_rate", store.KindFloat, "the best per-connection delivered rate among the publisher's subscribers with the same subscriptions as the slowest connection of the series (only over an interval in which the publisher sent to all of them)"}
	fieldRateRatio     = &Field{"rate_ratio", store.KindFloat, "the slowest connection's delivered rate / best_rate: a slow subscriber falls below 1. Only over an interval in which the publisher sent to every subscriber compared (a message or bytes waiting for its window): once it stops, a slow subscriber draining its backlog is not the best, nor is a caught-up one slow"}
	fieldLostEstimate  = &Field{"lost_estimate", store.KindInt, "an estimate, summed over the connections, of the messages lost at the publisher's HWM: what the subscriber with the most messages of the same publisher and subscriptions got beyond each one since both were seen, messages still queued for it included (only with such a subscriber)"}
)

// Subscriber is one point per SUB/XSUB series per interval.
var Subscriber = Measurement{
	Name: MeasSubscriber, Per: "server and client host with SUB/XSUB connections, per interval", Interval: true,
	Tags:   []*Tag{tagHost, tagServer, tagClientHost, tagPubSide},
	Fields: []*Field{fieldConns, fieldSubscriptions, fieldDelivered, fieldDeliveredRate, fieldBestRate, fieldRateRatio, fieldLostEstimate},
}

// zspy_topic
var (
	tagTopic = &Tag{"topic", "the subscription, printable; `(all)` for the empty one, `(other)` past the first 1000 topics"}

	fieldTopicDelivered      = &Field{"delivered", store.KindInt, "messages delivered on the topic this interval"}
	fieldTopicDeliveredTotal = &Field{"delivered_total", store.KindInt, "messages delivered on the topic so far"}
)

// Topic is one point per SUB series and topic, per interval with deliveries.
var Topic = Measurement{
	Name: MeasTopic, Per: "server, client host and topic, per interval with deliveries on that topic", Interval: true,
	Tags:   []*Tag{tagHost, tagServer, tagClientHost, tagTopic},
	Fields: []*Field{fieldTopicDelivered, fieldTopicDeliveredTotal},
}

// zspy_endpoint
var (
	tagEndpoint = &Tag{"endpoint", "the bound address, `ip:port`"}
	tagRole     = &Tag{"role", "the bound socket's type, `unknown` when not known"}

	fieldMsgsIn     = &Field{"messages_in", store.KindInt, "messages received this interval"}
	fieldMsgsOut    = &Field{"messages_out", store.KindInt, "messages sent this interval"}
	fieldMsgRateIn  = &Field{"msg_rate_in", store.KindFloat, "messages received per second"}
	fieldMsgRateOut = &Field{"msg_rate_out", store.KindFloat, "messages sent per second"}
	fieldOpenConns  = &Field{"connections", store.KindInt, "open connections"}
)

// Endpoint is one point per server endpoint per interval.
var Endpoint = Measurement{
	Name: MeasEndpoint, Per: "bound endpoint, per interval", Interval: true,
	Tags:   []*Tag{tagHost, tagEndpoint, tagRole},
	Fields: []*Field{fieldOpenConns, fieldMsgsIn, fieldMsgsOut, fieldMsgRateIn, fieldMsgRateOut},
}

// zspy_socket_queue
var (
	tagSide    = &Tag{"side", "`client` or `server`: which end of the connection the socket is"}
	tagSocket  = &Tag{"socket", "that end's socket type, `unknown` when not known"}
	tagCommand = &Tag{"command", "the command of the process holding the socket (`/proc/PID/comm`), `unknown` when none was found; the PID is a field, not a tag, to keep the series few"}

	fieldRecvQ   = &Field{"recv_q_bytes", store.KindInt, "bytes received by the kernel and not yet read by the application"}
	fieldSendQ   = &Field{"send_q_bytes", store.KindInt, "bytes sent and not yet acknowledged by the peer"}
	fieldNotSent = &Field{"notsent_bytes", store.KindInt, "bytes written by the application and not yet sent (tcp_info)"}
	fieldRTT     = &Field{"rtt_ms", store.KindFloat, "smoothed round-trip time (tcp_info), ms"}
	fieldCwnd    = &Field{"cwnd", store.KindInt, "congestion window, segments (tcp_info)"}
	fieldUnacked = &Field{"unacked", store.KindInt, "segments sent and not acknowledged (tcp_info)"}
	fieldPID     = &Field{"pid", store.KindInt, "the process holding the socket, 0 when unknown"}
)

// SocketQueue is one point per series of open connection ends on this host
// per interval (see Collector.SampleHost), from the kernel's socket
// diagnostics (live capture only).
var SocketQueue = Measurement{
	Name: MeasSocketQueue, Per: "open connection end on this host, per interval (live capture with the host view)", Interval: true, Live: true,
	Tags:   []*Tag{tagHost, tagClientHost, tagServer, tagSide, tagSocket, tagCommand},
	Fields: []*Field{fieldRecvQ, fieldSendQ, fieldNotSent, fieldRTT, fieldCwnd, fieldUnacked, fieldPID, fieldConns},
}

// zspy_monitor
var (
	tagEvent       = &Tag{"event", "e.g. `CONNECT_RETRIED`"}
	tagSource      = &Tag{"source", "the application and socket (the forwarder's source frame); `(none)` when none came"}
	tagMonEndpoint = &Tag{"endpoint", "the socket's endpoint, `tcp://ip:port`; `(none)` when the event has none"}

	fieldValue             = &Field{"value", store.KindInt, "the event's value"}
	fieldRemoteEndpoint    = &Field{"remote_endpoint", store.KindString, "the peer's endpoint, when the event has one (a field: a peer's port is ephemeral)"}
	fieldOutbound          = &Field{"outbound", store.KindInt, "messages queued towards the peer (PIPES_STATS)"}
	fieldInbound           = &Field{"inbound", store.KindInt, "messages received and not yet read (PIPES_STATS)"}
	fieldProtocolError     = &Field{"protocol_error", store.KindString, "the protocol error (HANDSHAKE_FAILED_PROTOCOL)"}
	fieldZAPStatus         = &Field{"zap_status", store.KindInt, "the ZAP status code (HANDSHAKE_FAILED_AUTH)"}
	fieldErrno             = &Field{"errno", store.KindString, "the errno name, as the event has one"}
	fieldReconnectInterval = &Field{"reconnect_interval_ms", store.KindFloat, "the reconnect interval (CONNECT_RETRIED), ms"}
)

// Monitor is one point per socket-monitor event, at the event's time.
var Monitor = Measurement{
	Name: MeasMonitor, Per: "socket-monitor event, at its time",
	Tags: []*Tag{tagHost, tagEvent, tagSource, tagMonEndpoint},
	Fields: []*Field{fieldValue, fieldRemoteEndpoint, fieldOutbound, fieldInbound, fieldProtocolError, fieldZAPStatus, fieldErrno,
		fieldReconnectInterval},
}

// Alerts is one point per alert state change, at its time; the rules
// package writes it.
var Alerts = Measurement{
	Name: MeasAlert, Per: "alert state change, at its time",
	Tags: []*Tag{tagHost, {"rule", "the rule's name"}, {"severity", "info, warning or critical"},
		{"state", "pending, firing, resolved or inactive"}, tagServer,
		{"client_host", "the connecting side's address; `(none)` when the alert is of a whole server"}},
	Fields: []*Field{
		{"state_code", store.KindInt, "0 inactive, 1 pending, 2 firing, 3 resolved"},
		{"firing", store.KindBool, "the alert is firing"},
		{"value", store.KindFloat, "the evidence as a number"},
		{"message", store.KindString, "what the rule saw"},
		{"client", store.KindString, "the connecting side, `ip:port`, when the alert is of one connection"},
		{"resolution", store.KindString, "why it resolved, with the value then (resolved and inactive changes)"},
		{"group", store.KindString, "the root cause the alert belongs to, when it has one (the root's alert and its children share it)"},
		{"root", store.KindBool, "the alert is its group's root (the cause), not a child (a connection that suffers from it)"},
		{"sender", store.KindString, "the sending end of the message flow the alert is about, `ip:port`"},
		{"receiver", store.KindString, "the receiving end of the message flow the alert is about, `ip:port`"},
	},
}
