package metrics

// Measurement names. Every point carries the tag host (the zspy instance), so
// many instances can share one InfluxDB. Times are packet times: a replayed
// capture writes at the capture's own timestamps.
//
//	zspy_connection  one point per connection and direction per interval
//	  tags:   host, client, server ("ip:port"), dir (c2s|s2c), sender, receiver
//	          (socket types, "unknown" when not known), mechanism
//	  fields: messages, frames, bytes, commands (this interval, integers);
//	          msg_rate, byte_rate (per second); msg_size_min, msg_size_max (bytes),
//	          msg_size_mean (only when messages > 0); messages_total, frames_total,
//	          bytes_total, lost_bytes_total (cumulative); in_flight_bytes (sent, not
//	          acknowledged), window_bytes (receiver's advertised window, scaled),
//	          zero_window (bool: the receiver's window is zero now),
//	          zero_window_episodes_total, zero_window_ms_total; retransmits,
//	          window_full (segments sent into a full window, this interval);
//	          queue_outbound, queue_inbound (the sending socket's libzmq queue
//	          depths in messages, from the socket monitor's PIPES_STATS)
//	zspy_latency     one point per REQ/REP or DEALER/ROUTER connection per interval
//	  tags:   host, client, server
//	  fields: replies, p50_ms, p99_ms, max_ms (this interval), outstanding
//	          (requests not yet answered), oldest_pending_ms, replies_total
//	zspy_subscriber  one point per SUB/XSUB connection per interval
//	  tags:   host, client, server, publisher (the PUB's endpoint)
//	  fields: subscriptions (topics subscribed now), delivered, delivered_rate,
//	          best_rate (the best rate among the publisher's subscribers with
//	          the same subscriptions), rate_ratio (delivered_rate / best_rate: a
//	          slow subscriber falls below 1)
//	zspy_topic       one point per SUB connection and topic, per interval with deliveries
//	  tags:   host, client, server, topic
//	  fields: delivered, delivered_total
//	zspy_monitor     one point per socket-monitor event, at the event's time
//	  tags:   host, event (e.g. CONNECT_RETRIED), source, endpoint, remote_endpoint
//	  fields: value; and outbound, inbound (PIPES_STATS), protocol_error,
//	          zap_status, errno, reconnect_interval_ms as the event has them
//	zspy_endpoint    one point per server endpoint (bound address) per interval
//	  tags:   host, endpoint, role (the bound socket's type)
//	  fields: connections (open), messages_in, messages_out, msg_rate_in,
//	          msg_rate_out
const (
	MeasConnection = "zspy_connection"
	MeasLatency    = "zspy_latency"
	MeasSubscriber = "zspy_subscriber"
	MeasTopic      = "zspy_topic"
	MeasEndpoint   = "zspy_endpoint"
	// MeasMonitor holds socket-monitor events and MeasAlert alert state
	// changes (named "alerts", as issue 6 asks for an "alerts" series); their
	// writers are in the monitor and rules integrations.
	MeasMonitor = "zspy_monitor"
	MeasAlert   = "alerts"
)
