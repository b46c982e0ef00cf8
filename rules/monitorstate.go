package rules

import (
	"strings"
	"time"

	"github.com/zspy/zspy/metrics"
	"github.com/zspy/zspy/monitor"
	"github.com/zspy/zspy/store"
)

// Bounds of the monitor state the rules keep.
const (
	MaxPipes    = 4096 // sockets×peers whose latest PIPES_STATS is kept
	MaxRetries  = 1024 // CONNECT_RETRIED events kept (the newest)
	MaxFailures = 256  // HANDSHAKE_FAILED_* events kept (the newest)
)

// monitorState is what the rules remember of libzmq's socket monitors. The
// engine folds the zspy_monitor series into it at every evaluation (the
// collector writes one point per event), so the rules read monitor events
// the way they read everything else: through the query function.
type monitorState struct {
	// pipes holds the latest PIPES_STATS per socket and peer.
	pipes []pipeStat
	// retries holds CONNECT_RETRIED events, oldest first.
	retries []retry
	// failures holds HANDSHAKE_FAILED_* events, oldest first.
	failures []handshakeFailure
	// dropped counts events not kept because of the bounds above.
	dropped uint64
}

// pipeStat is one PIPES_STATS report: messages queued towards the peer
// (Outbound) and received from it but not yet read (Inbound).
type pipeStat struct {
	source           string // the application and socket (the forwarder's source frame)
	endpoint, remote string // local and remote endpoint (tcp://ip:port)
	outbound         uint64
	inbound          uint64
	time             time.Time
}

// retry is one CONNECT_RETRIED: a connecting socket will try endpoint again.
type retry struct {
	source   string
	endpoint string // the endpoint being connected to
	time     time.Time
}

// handshakeFailure is one HANDSHAKE_FAILED_* event.
type handshakeFailure struct {
	source           string
	endpoint, remote string
	event            string // e.g. HANDSHAKE_FAILED_AUTH
	detail           string // ZAP status, protocol error or errno
	time             time.Time
}

var (
	evPipesStats     = monitor.EventPipesStats.String()
	evConnectRetried = monitor.EventConnectRetried.String()
	evFailedAuth     = monitor.EventHandshakeFailedAuth.String()
	evFailedProtocol = monitor.EventHandshakeFailedProtocol.String()
	evFailedNoDetail = monitor.EventHandshakeFailedNoDetail.String()
	tagEvent         = monitorTag("event")
	tagSource        = monitorTag("source")
	tagEndpoint      = monitorTag("endpoint")
	fieldRemote      = monitorField("remote_endpoint")
	fieldOutbound    = monitorField("outbound")
	fieldInbound     = monitorField("inbound")
	fieldProtocolErr = monitorField("protocol_error")
	fieldZAPStatus   = monitorField("zap_status")
	fieldEventValue  = monitorField("value")
	fieldErrno       = monitorField("errno")
)

// monitorTag and monitorField name what the rules read of zspy_monitor
// points, from metrics.Schema: a name the schema lacks stops every test at
// init.
func monitorTag(name string) string {
	if metrics.Monitor.Tag(name) == nil {
		panic("rules: metrics.Schema's zspy_monitor has no tag " + name)
	}
	return name
}

func monitorField(name string) string {
	if metrics.Monitor.Field(name) == nil {
		panic("rules: metrics.Schema's zspy_monitor has no field " + name)
	}
	return name
}

func intField(p *store.Point, key string) (int64, bool) {
	f, ok := p.Field(key)
	if !ok || f.Kind != store.KindInt {
		return 0, false
	}
	return f.IntValue(), true
}

func strField(p *store.Point, key string) string {
	f, _ := p.Field(key)
	return f.StringValue()
}

// observe folds one zspy_monitor point (one event) into the state.
func (m *monitorState) observe(p *store.Point) {
	event, _ := p.Tag(tagEvent)
	source := metrics.TagValue(p, tagSource)
	endpoint := metrics.TagValue(p, tagEndpoint)
	remote := strField(p, fieldRemote)
	switch event {
	case evPipesStats:
		out, _ := intField(p, fieldOutbound)
		in, _ := intField(p, fieldInbound)
		for i := range m.pipes {
			ps := &m.pipes[i]
			if ps.source == source && ps.endpoint == endpoint && ps.remote == remote {
				ps.outbound, ps.inbound, ps.time = uint64(out), uint64(in), p.Time
				return
			}
		}
		if len(m.pipes) >= MaxPipes {
			m.dropped++
			return
		}
		m.pipes = append(m.pipes, pipeStat{source: source, endpoint: endpoint, remote: remote, outbound: uint64(out), inbound: uint64(in), time: p.Time})
	case evConnectRetried:
		if len(m.retries) >= MaxRetries {
			m.retries = append(m.retries[:0], m.retries[1:]...)
			m.dropped++
		}
		ep := endpoint
		if remote != "" {
			ep = remote
		}
		m.retries = append(m.retries, retry{source: source, endpoint: ep, time: p.Time})
	case evFailedAuth, evFailedProtocol, evFailedNoDetail:
		if len(m.failures) >= MaxFailures {
			m.failures = append(m.failures[:0], m.failures[1:]...)
			m.dropped++
		}
		detail := strField(p, fieldProtocolErr)
		switch event {
		case evFailedAuth:
			// The ZAP status is the event's value; the point has zap_status
			// too when the status is one RFC 27 names.
			code, ok := intField(p, fieldZAPStatus)
			if !ok {
				code, _ = intField(p, fieldEventValue)
			}
			detail = "ZAP status " + itoa(code)
			if t := monitor.ZAPStatusText(uint64(code)); t != "" {
				detail += " (" + t + ")"
			}
		case evFailedNoDetail:
			detail = strField(p, fieldErrno)
		}
		m.failures = append(m.failures, handshakeFailure{source: source, endpoint: endpoint, remote: remote, event: event, detail: detail, time: p.Time})
	}
}

// stripEndpoint turns "tcp://127.0.0.1:5555" into "127.0.0.1:5555".
func stripEndpoint(ep string) string {
	if ap, ok := monitor.EndpointAddr(ep); ok {
		return ap.String()
	}
	return strings.TrimPrefix(ep, "tcp://")
}
