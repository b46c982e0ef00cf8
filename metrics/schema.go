package metrics

import (
	"fmt"
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
	Tags     []*Tag
	Fields   []*Field
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
// measurement, tag or field, or a field of another kind.
func (s Measurements) Check(p *store.Point) error {
	m := s.Lookup(p.Measurement)
	if m == nil {
		return fmt.Errorf("unknown measurement %q", p.Measurement)
	}
	for _, t := range p.Tags {
		if m.Tag(t.Key) == nil {
			return fmt.Errorf("%s: unknown tag %q", m.Name, t.Key)
		}
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

// Tags shared by several measurements.
var (
	tagHost   = &Tag{"host", "the zspy instance"}
	tagClient = &Tag{"client", "the connecting side, `ip:port`"}
	tagServer = &Tag{"server", "the listening side, `ip:port`"}
)

// zspy_connection
var (
	tagDir       = &Tag{"dir", "`c2s` or `s2c`"}
	tagSender    = &Tag{"sender", "the sending socket's type, `unknown` when not known"}
	tagReceiver  = &Tag{"receiver", "the receiving socket's type"}
	tagMechanism = &Tag{"mechanism", "NULL, PLAIN or CURVE"}

	fieldMessages    = &Field{"messages", store.KindInt, "messages this interval"}
	fieldFrames      = &Field{"frames", store.KindInt, "data frames this interval"}
	fieldBytes       = &Field{"bytes", store.KindInt, "data frame bytes this interval"}
	fieldCommands    = &Field{"commands", store.KindInt, "command frames this interval"}
	fieldMsgRate     = &Field{"msg_rate", store.KindFloat, "messages per second"}
	fieldByteRate    = &Field{"byte_rate", store.KindFloat, "bytes per second"}
	fieldMsgSizeMin  = &Field{"msg_size_min", store.KindInt, "smallest message this interval, bytes (only when messages > 0)"}
	fieldMsgSizeMax  = &Field{"msg_size_max", store.KindInt, "largest message this interval, bytes (only when messages > 0)"}
	fieldMsgSizeMean = &Field{"msg_size_mean", store.KindFloat, "mean message size this interval, bytes (only when messages > 0)"}
	fieldMsgsTotal   = &Field{"messages_total", store.KindInt, "messages so far"}
	fieldFramesTotal = &Field{"frames_total", store.KindInt, "data frames so far"}
	fieldBytesTotal  = &Field{"bytes_total", store.KindInt, "data frame bytes so far"}
	fieldLostTotal   = &Field{"lost_bytes_total", store.KindInt, "stream bytes not captured so far"}
	fieldInFlight    = &Field{"in_flight_bytes", store.KindInt, "bytes sent and not yet acknowledged"}
	fieldWindow      = &Field{"window_bytes", store.KindInt, "the receiver's advertised TCP window, scaled"}
	fieldZeroWindow  = &Field{"zero_window", store.KindBool, "the receiver's window is zero now"}
	fieldZWEpisodes  = &Field{"zero_window_episodes_total", store.KindInt, "zero-window episodes so far"}
	fieldZWMs        = &Field{"zero_window_ms_total", store.KindFloat, "time the window was zero so far (the current episode included), ms"}
	fieldRetransmits = &Field{"retransmits", store.KindInt, "retransmitted segments this interval"}
	fieldWindowFull  = &Field{"window_full", store.KindInt, "segments sent into a full window this interval"}
	fieldQueueOut    = &Field{"queue_outbound", store.KindInt, "the sending socket's libzmq queue towards the peer, messages (PIPES_STATS; only with monitor events)"}
	fieldQueueIn     = &Field{"queue_inbound", store.KindInt, "the sending socket's libzmq queue of received, unread messages (PIPES_STATS; only with monitor events)"}
)

// Connection is one point per connection and direction per interval.
var Connection = Measurement{
	Name: MeasConnection, Per: "connection and direction, per interval", Interval: true,
	Tags: []*Tag{tagHost, tagClient, tagServer, tagDir, tagSender, tagReceiver, tagMechanism},
	Fields: []*Field{fieldMessages, fieldFrames, fieldBytes, fieldCommands, fieldMsgRate, fieldByteRate,
		fieldMsgSizeMin, fieldMsgSizeMax, fieldMsgSizeMean, fieldMsgsTotal, fieldFramesTotal, fieldBytesTotal,
		fieldLostTotal, fieldInFlight, fieldWindow, fieldZeroWindow, fieldZWEpisodes, fieldZWMs,
		fieldRetransmits, fieldWindowFull, fieldQueueOut, fieldQueueIn},
}

// zspy_latency
var (
	fieldReplies      = &Field{"replies", store.KindInt, "replies this interval"}
	fieldP50          = &Field{"p50_ms", store.KindFloat, "median request→reply time this interval, ms (only when replies > 0)"}
	fieldP99          = &Field{"p99_ms", store.KindFloat, "99th percentile request→reply time this interval, ms (only when replies > 0)"}
	fieldMax          = &Field{"max_ms", store.KindFloat, "longest request→reply time this interval, ms (only when replies > 0)"}
	fieldOutstanding  = &Field{"outstanding", store.KindInt, "requests not yet answered"}
	fieldOldestMs     = &Field{"oldest_pending_ms", store.KindFloat, "how long the oldest unanswered request has waited, ms (only while one waits)"}
	fieldRepliesTotal = &Field{"replies_total", store.KindInt, "replies so far"}
)

// Latency is one point per request/reply connection per interval.
var Latency = Measurement{
	Name: MeasLatency, Per: "REQ/REP or DEALER→REP/ROUTER connection with replies or waiting requests, per interval", Interval: true,
	Tags:   []*Tag{tagHost, tagClient, tagServer},
	Fields: []*Field{fieldReplies, fieldP50, fieldP99, fieldMax, fieldOutstanding, fieldOldestMs, fieldRepliesTotal},
}

// zspy_subscriber
var (
	tagPublisher = &Tag{"publisher", "the PUB's endpoint"}

	fieldSubscriptions = &Field{"subscriptions", store.KindInt, "topics subscribed now"}
	fieldDelivered     = &Field{"delivered", store.KindInt, "messages delivered this interval"}
	fieldDeliveredRate = &Field{"delivered_rate", store.KindFloat, "messages delivered per second"}
	fieldBestRate      = &Field{"best_rate", store.KindFloat, "the best delivered_rate among the publisher's subscribers with the same subscriptions"}
	fieldRateRatio     = &Field{"rate_ratio", store.KindFloat, "delivered_rate / best_rate: a slow subscriber falls below 1"}
)

// Subscriber is one point per SUB/XSUB connection per interval.
var Subscriber = Measurement{
	Name: MeasSubscriber, Per: "SUB/XSUB connection, per interval", Interval: true,
	Tags:   []*Tag{tagHost, tagClient, tagServer, tagPublisher},
	Fields: []*Field{fieldSubscriptions, fieldDelivered, fieldDeliveredRate, fieldBestRate, fieldRateRatio},
}

// zspy_topic
var (
	tagTopic = &Tag{"topic", "the subscription, printable; left out for the empty one"}

	fieldTopicDelivered      = &Field{"delivered", store.KindInt, "messages delivered on the topic this interval"}
	fieldTopicDeliveredTotal = &Field{"delivered_total", store.KindInt, "messages delivered on the topic so far"}
)

// Topic is one point per SUB connection and topic, per interval with deliveries.
var Topic = Measurement{
	Name: MeasTopic, Per: "SUB connection and topic, per interval with deliveries on that topic", Interval: true,
	Tags:   []*Tag{tagHost, tagClient, tagServer, tagTopic},
	Fields: []*Field{fieldTopicDelivered, fieldTopicDeliveredTotal},
}

// zspy_endpoint
var (
	tagEndpoint = &Tag{"endpoint", "the bound address, `ip:port`"}
	tagRole     = &Tag{"role", "the bound socket's type"}

	fieldConnections = &Field{"connections", store.KindInt, "open connections"}
	fieldMsgsIn      = &Field{"messages_in", store.KindInt, "messages received this interval"}
	fieldMsgsOut     = &Field{"messages_out", store.KindInt, "messages sent this interval"}
	fieldMsgRateIn   = &Field{"msg_rate_in", store.KindFloat, "messages received per second"}
	fieldMsgRateOut  = &Field{"msg_rate_out", store.KindFloat, "messages sent per second"}
)

// Endpoint is one point per server endpoint per interval.
var Endpoint = Measurement{
	Name: MeasEndpoint, Per: "bound endpoint, per interval", Interval: true,
	Tags:   []*Tag{tagHost, tagEndpoint, tagRole},
	Fields: []*Field{fieldConnections, fieldMsgsIn, fieldMsgsOut, fieldMsgRateIn, fieldMsgRateOut},
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

// SocketQueue is one point per open connection end on this host per
// interval, from the kernel's socket diagnostics (live capture only).
var SocketQueue = Measurement{
	Name: MeasSocketQueue, Per: "open connection end on this host, per interval (live capture with the host view)", Interval: true,
	Tags:   []*Tag{tagHost, tagClient, tagServer, tagSide, tagSocket, tagCommand},
	Fields: []*Field{fieldRecvQ, fieldSendQ, fieldNotSent, fieldRTT, fieldCwnd, fieldUnacked, fieldPID},
}

// zspy_monitor
var (
	tagEvent          = &Tag{"event", "e.g. `CONNECT_RETRIED`"}
	tagSource         = &Tag{"source", "the application and socket (the forwarder's source frame); left out when none came"}
	tagMonEndpoint    = &Tag{"endpoint", "the socket's endpoint, `tcp://ip:port`"}
	tagRemoteEndpoint = &Tag{"remote_endpoint", "the peer's endpoint, when the event has one"}

	fieldValue             = &Field{"value", store.KindInt, "the event's value"}
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
	Tags: []*Tag{tagHost, tagEvent, tagSource, tagMonEndpoint, tagRemoteEndpoint},
	Fields: []*Field{fieldValue, fieldOutbound, fieldInbound, fieldProtocolError, fieldZAPStatus, fieldErrno,
		fieldReconnectInterval},
}

// Alerts is one point per alert state change, at its time; the rules
// package writes it.
var Alerts = Measurement{
	Name: MeasAlert, Per: "alert state change, at its time",
	Tags: []*Tag{tagHost, {"rule", "the rule's name"}, {"severity", "info, warning or critical"},
		{"state", "pending, firing, resolved or inactive"}, {"client", "the connecting side, left out when the alert is of a whole server"}, tagServer},
	Fields: []*Field{
		{"state_code", store.KindInt, "0 inactive, 1 pending, 2 firing, 3 resolved"},
		{"firing", store.KindBool, "the alert is firing"},
		{"value", store.KindFloat, "the evidence as a number"},
		{"message", store.KindString, "what the rule saw"},
	},
}
