//go:build !linux

package capture

import (
	"errors"
	"fmt"
	"time"
)

// LiveOptions configures a live capture (Linux only).
type LiveOptions struct {
	SnapLen      int
	Promiscuous  bool
	RingSize     int
	BlockSize    int
	BlockTimeout time.Duration
	Fanout       int
	Filter       *Filter
	ReadTimeout  time.Duration
}

// Defaults of LiveOptions.
const (
	DefaultRingSize     = 32 << 20
	DefaultBlockSize    = 512 << 10
	DefaultBlockTimeout = 50 * time.Millisecond
	MaxFanout           = 16
)

// ErrTimeout is returned by a live source's Next when no packet arrived in time.
var ErrTimeout = errors.New("no packet within the read timeout")

// ErrNotReady is returned by NextReady when no packet is ready to read.
var ErrNotReady = errors.New("no packet ready")

// LiveSource is unavailable on this system.
type LiveSource struct{}

// OpenLive fails: live capture needs Linux (AF_PACKET).
func OpenLive(iface string, opts LiveOptions) (*LiveSource, error) {
	return nil, fmt.Errorf("capture on %s: live capture needs linux", iface)
}

// RingReadTimeout is unused here.
const RingReadTimeout = 5 * time.Millisecond

// Rings returns s.
func (s *LiveSource) Rings() []*LiveSource { return []*LiveSource{s} }

// Settled is never reached.
func (s *LiveSource) Settled() (time.Time, bool) { return time.Time{}, false }

// Holding is never reached.
func (s *LiveSource) Holding() bool { return false }

// BlockTimeout returns nothing.
func (s *LiveSource) BlockTimeout() time.Duration { return 0 }

// Name returns nothing.
func (s *LiveSource) Name() string { return "" }

// Next is never reached.
func (s *LiveSource) Next(*Segment) error { return errors.New("live capture needs linux") }

// NextReady is never reached.
func (s *LiveSource) NextReady(*Segment) error { return errors.New("live capture needs linux") }

// Wait is never reached.
func (s *LiveSource) Wait() error { return errors.New("live capture needs linux") }

// Stats returns nothing.
func (s *LiveSource) Stats() Stats { return Stats{} }

// Close does nothing.
func (s *LiveSource) Close() error { return nil }

// RingSize returns nothing.
func (s *LiveSource) RingSize() int { return 0 }

// ReadPacket is never reached.
func (s *LiveSource) ReadPacket() ([]byte, PacketInfo, error) {
	return nil, PacketInfo{}, errors.New("live capture needs linux")
}

// Raw returns nothing.
func (s *LiveSource) Raw() ([]byte, int) { return nil, 0 }
