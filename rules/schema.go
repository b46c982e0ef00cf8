package rules

import "github.com/zspy/zspy/metrics"

// measurement describes one metrics measurement as rule expressions see it:
// its tags (labels) and fields. It follows metrics/schema.go; a test replays
// real captures and checks that every point the collector emits fits it.
type measurement struct {
	tags   []string
	fields []string
}

// schema is what a rule expression may name.
var schema = map[string]measurement{
	metrics.MeasConnection: {
		tags: []string{"host", "client", "server", "dir", "sender", "receiver", "mechanism"},
		fields: []string{"messages", "frames", "bytes", "commands", "msg_rate", "byte_rate",
			"msg_size_min", "msg_size_max", "msg_size_mean", "messages_total", "frames_total",
			"bytes_total", "lost_bytes_total", "in_flight_bytes", "window_bytes", "zero_window",
			"zero_window_episodes_total", "zero_window_ms_total", "retransmits", "window_full",
			"queue_outbound", "queue_inbound"},
	},
	metrics.MeasLatency: {
		tags:   []string{"host", "client", "server"},
		fields: []string{"replies", "p50_ms", "p99_ms", "max_ms", "outstanding", "oldest_pending_ms", "replies_total"},
	},
	metrics.MeasSubscriber: {
		tags:   []string{"host", "client", "server", "publisher"},
		fields: []string{"subscriptions", "delivered", "delivered_rate", "best_rate", "rate_ratio"},
	},
	metrics.MeasTopic: {
		tags:   []string{"host", "client", "server", "topic"},
		fields: []string{"delivered", "delivered_total"},
	},
	metrics.MeasEndpoint: {
		tags:   []string{"host", "endpoint", "role"},
		fields: []string{"connections", "messages_in", "messages_out", "msg_rate_in", "msg_rate_out"},
	},
}

func (m measurement) hasTag(t string) bool   { return contains(m.tags, t) }
func (m measurement) hasField(f string) bool { return contains(m.fields, f) }

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
