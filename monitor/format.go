package monitor

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/zspy/zspy/internal/textsafe"
)

// AppendText appends a one-line human-readable form of e (no newline), e.g.
//
//	2026-11-25T12:00:00.000001Z [app/sock] v1 CONNECTED value=7 fd=7 endpoint=tcp://127.0.0.1:5555
func (e *Event) AppendText(b []byte) []byte {
	if !e.Time.IsZero() {
		b = e.Time.UTC().AppendFormat(b, time.RFC3339Nano)
		b = append(b, ' ')
	}
	if e.HasSource {
		b = append(b, '[')
		b = appendMaybeQuoted(b, e.Source)
		b = append(b, "] "...)
	}
	b = append(b, 'v')
	b = strconv.AppendInt(b, int64(e.Version), 10)
	b = append(b, ' ')
	b = append(b, e.Name...)
	switch e.Code.ValueKind() {
	case ValueQueueDepths:
		b = append(b, " outbound="...)
		b = strconv.AppendUint(b, e.Outbound, 10)
		b = append(b, " inbound="...)
		b = strconv.AppendUint(b, e.Inbound, 10)
	case ValueProtocolError:
		b = append(b, " value=0x"...)
		b = strconv.AppendUint(b, e.Value, 16)
		b = append(b, " protocol_error="...)
		b = append(b, e.ProtocolError...)
	default:
		b = append(b, " value="...)
		b = strconv.AppendUint(b, e.Value, 10)
	}
	if len(e.Values) > 1 && e.Code.ValueKind() != ValueQueueDepths {
		b = append(b, " values="...)
		for i, v := range e.Values {
			if i > 0 {
				b = append(b, ',')
			}
			b = strconv.AppendUint(b, v, 10)
		}
	}
	switch e.Code.ValueKind() {
	case ValueFD:
		b = append(b, " fd="...)
		b = strconv.AppendInt(b, e.FD, 10)
	case ValueErrno:
		b = append(b, " errno="...)
		if e.ErrnoName != "" {
			b = append(b, e.ErrnoName...)
		} else {
			b = strconv.AppendInt(b, e.Errno, 10)
		}
	case ValueInterval:
		b = append(b, " reconnect_interval="...)
		b = append(b, e.ReconnectInterval.String()...)
	case ValueZAPStatus:
		b = append(b, " zap_status="...)
		b = strconv.AppendInt(b, e.ZAPStatus, 10)
		if e.ZAPStatusText != "" {
			b = append(b, " ("...)
			b = append(b, e.ZAPStatusText...)
			b = append(b, ')')
		}
	}
	b = append(b, " endpoint="...)
	b = appendMaybeQuoted(b, e.Endpoint)
	if e.Version >= 2 {
		b = append(b, " remote_endpoint="...)
		b = appendMaybeQuoted(b, e.RemoteEndpoint)
	}
	if e.Via != "" {
		b = append(b, " via="...)
		b = appendMaybeQuoted(b, e.Via)
	}
	return b
}

// String returns AppendText's form.
func (e Event) String() string { return string(e.AppendText(nil)) }

// appendMaybeQuoted appends s as it is when it is safe on a terminal
// (textsafe.Safe) and holds no space or quote, else Go-quoted, which escapes
// controls, invalid bytes and every non-printable rune such as U+202E.
func appendMaybeQuoted(b []byte, s string) []byte {
	if s != "" && textsafe.Safe(s) && !strings.ContainsAny(s, ` "`) {
		return append(b, s...)
	}
	return strconv.AppendQuote(b, s)
}

// jsonEvent is the JSON contract of an event; see MarshalJSON.
type jsonEvent struct {
	Time              string   `json:"time,omitempty"`
	Via               string   `json:"via,omitempty"`
	Source            *string  `json:"source,omitempty"`
	Version           int      `json:"version"`
	Event             string   `json:"event"`
	Code              uint64   `json:"code"`
	Value             uint64   `json:"value"`
	Values            []uint64 `json:"values"`
	Endpoint          string   `json:"endpoint"`
	RemoteEndpoint    *string  `json:"remote_endpoint,omitempty"`
	FD                *int64   `json:"fd,omitempty"`
	Errno             *int64   `json:"errno,omitempty"`
	ErrnoName         string   `json:"errno_name,omitempty"`
	ProtocolError     string   `json:"protocol_error,omitempty"`
	ZAPStatus         *int64   `json:"zap_status,omitempty"`
	ZAPStatusText     string   `json:"zap_status_text,omitempty"`
	ReconnectInterval *uint64  `json:"reconnect_interval_ms,omitempty"`
	Outbound          *uint64  `json:"outbound,omitempty"`
	Inbound           *uint64  `json:"inbound,omitempty"`
}

// MarshalJSON encodes the event as one JSON object with the keys time
// (RFC 3339, UTC, when set), via (when set), source (only when a source frame
// came), version, event (e.g. "CONNECTED", or "0x40000" when unknown), code,
// value, values, endpoint, remote_endpoint (v2 only), and by event: fd;
// errno and errno_name; protocol_error; zap_status and zap_status_text;
// reconnect_interval_ms; outbound and inbound (PIPES_STATS).
func (e Event) MarshalJSON() ([]byte, error) {
	j := jsonEvent{
		Via:      e.Via,
		Version:  e.Version,
		Event:    e.Name,
		Code:     uint64(e.Code),
		Value:    e.Value,
		Values:   e.Values,
		Endpoint: e.Endpoint,
	}
	if j.Values == nil {
		j.Values = []uint64{}
	}
	if !e.Time.IsZero() {
		j.Time = e.Time.UTC().Format(time.RFC3339Nano)
	}
	if e.HasSource {
		j.Source = &e.Source
	}
	if e.Version >= 2 {
		j.RemoteEndpoint = &e.RemoteEndpoint
	}
	switch e.Code.ValueKind() {
	case ValueFD:
		j.FD = &e.FD
	case ValueErrno:
		j.Errno, j.ErrnoName = &e.Errno, e.ErrnoName
	case ValueProtocolError:
		j.ProtocolError = e.ProtocolError
	case ValueZAPStatus:
		j.ZAPStatus, j.ZAPStatusText = &e.ZAPStatus, e.ZAPStatusText
	case ValueInterval:
		j.ReconnectInterval = &e.Value
	case ValueQueueDepths:
		j.Outbound, j.Inbound = &e.Outbound, &e.Inbound
	}
	return json.Marshal(j)
}

// UnmarshalJSON reads an event in the form MarshalJSON writes (one line of
// `zspy monitor --json`), so a recorded event log can be merged with a capture
// later. The interpretation fields are derived again from code and values.
func (e *Event) UnmarshalJSON(b []byte) error {
	var j jsonEvent
	if err := json.Unmarshal(b, &j); err != nil {
		return fmt.Errorf("monitor event: %w", err)
	}
	*e = Event{Via: j.Via, Version: j.Version, Code: EventCode(j.Code), Value: j.Value,
		Values: j.Values, Endpoint: j.Endpoint}
	if j.Time != "" {
		t, err := time.Parse(time.RFC3339Nano, j.Time)
		if err != nil {
			return fmt.Errorf("monitor event time: %w", err)
		}
		e.Time = t
	}
	if j.Source != nil {
		e.HasSource, e.Source = true, *j.Source
	}
	if j.RemoteEndpoint != nil {
		e.RemoteEndpoint = *j.RemoteEndpoint
	}
	if len(e.Values) == 0 {
		e.Values = []uint64{e.Value}
	}
	e.interpret()
	return nil
}
