package main

import (
	"bufio"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"
	"github.com/spf13/pflag"

	"github.com/zspy/zspy/capture"
	"github.com/zspy/zspy/store"
)

// writeFlags are capture's -w options.
type writeFlags struct {
	path        string
	rotateSize  string
	rotateEvery time.Duration
}

func (f *writeFlags) register(fl *pflag.FlagSet) {
	fl.StringVarP(&f.path, "write", "w", "", "also write the captured TCP packets to this file (pcap; pcapng when it ends in .pcapng), for replay later")
	fl.StringVar(&f.rotateSize, "rotate-size", "", "with -w: start a new file when this size is reached (e.g. 100MB); files get a -0001, -0002... suffix")
	fl.DurationVar(&f.rotateEvery, "rotate-every", 0, "with -w: start a new file at this period of packet time (e.g. 1h)")
}

// rawSource is a live source that can hand out the packet behind a segment.
type rawSource interface {
	Raw() (data []byte, wireLen int)
}

// segmentWriter writes the packets of captured segments to rotating files.
type segmentWriter struct {
	src        rawSource
	base, ext  string
	rotate     bool
	maxSize    int64
	every      time.Duration
	n          int
	f          *os.File
	buf        *bufio.Writer
	pcap       *pcapgo.Writer
	ng         *pcapgo.NgWriter
	size       int64
	opened     time.Time
	err        error
	Files      []string
	PacketsOut uint64
}

func (f *writeFlags) open(src capture.Source) (*segmentWriter, error) {
	if f.path == "" {
		if f.rotateSize != "" || f.rotateEvery > 0 {
			return nil, fmt.Errorf("--rotate-size and --rotate-every need -w FILE")
		}
		return nil, nil
	}
	rs, ok := src.(rawSource)
	if !ok {
		return nil, fmt.Errorf("-w: this source cannot give raw packets")
	}
	w := &segmentWriter{src: rs, every: f.rotateEvery}
	if f.rotateSize != "" {
		n, err := store.ParseSize(f.rotateSize)
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("--rotate-size %q: want a size like 100MB", f.rotateSize)
		}
		w.maxSize = n
	}
	w.rotate = w.maxSize > 0 || w.every > 0
	w.ext = filepath.Ext(f.path)
	w.base = strings.TrimSuffix(f.path, w.ext)
	if w.ext == "" {
		w.ext = ".pcap"
	}
	if err := w.next(time.Time{}); err != nil {
		return nil, err
	}
	return w, nil
}

func (w *segmentWriter) name() string {
	if !w.rotate {
		return w.base + w.ext
	}
	return fmt.Sprintf("%s-%04d%s", w.base, w.n, w.ext)
}

// next closes the current file and opens the next one.
func (w *segmentWriter) next(ts time.Time) error {
	if err := w.closeFile(); err != nil {
		return err
	}
	w.n++
	name := w.name()
	f, err := os.Create(name)
	if err != nil {
		return fmt.Errorf("-w: %w", err)
	}
	w.f, w.buf, w.size, w.opened = f, bufio.NewWriterSize(f, 1<<20), 0, ts
	w.Files = append(w.Files, name)
	if w.ext == ".pcapng" {
		ng, err := pcapgo.NewNgWriter(w.buf, layers.LinkTypeRaw)
		if err != nil {
			return fmt.Errorf("-w %s: %w", name, err)
		}
		w.ng, w.pcap = ng, nil
		return nil
	}
	w.pcap, w.ng = pcapgo.NewWriterNanos(w.buf), nil
	if err := w.pcap.WriteFileHeader(capture.MaxRecordLen, layers.LinkTypeRaw); err != nil {
		return fmt.Errorf("-w %s: %w", name, err)
	}
	w.size = 24
	return nil
}

// segment writes the packet behind seg. It runs on the capture goroutine; a
// write error stops the writing (said once at the end), not the capture.
func (w *segmentWriter) segment(seg *capture.Segment) {
	if w.err != nil {
		return
	}
	data, wire := w.src.Raw()
	if w.rotate && ((w.maxSize > 0 && w.size+int64(len(data))+16 > w.maxSize && w.size > 24) ||
		(w.every > 0 && !w.opened.IsZero() && seg.TS.Sub(w.opened) >= w.every)) {
		if w.err = w.next(seg.TS); w.err != nil {
			return
		}
	}
	if w.opened.IsZero() {
		w.opened = seg.TS
	}
	ci := gopacket.CaptureInfo{Timestamp: seg.TS, CaptureLength: len(data), Length: wire}
	if w.ng != nil {
		w.err = w.ng.WritePacket(ci, data)
	} else {
		w.err = w.pcap.WritePacket(ci, data)
	}
	w.size += int64(len(data)) + 16
	w.PacketsOut++
}

func (w *segmentWriter) closeFile() error {
	if w.f == nil {
		return nil
	}
	var err error
	if w.ng != nil {
		err = w.ng.Flush()
	}
	if e := w.buf.Flush(); err == nil {
		err = e
	}
	if e := w.f.Close(); err == nil {
		err = e
	}
	w.f = nil
	if err != nil {
		return fmt.Errorf("-w: %w", err)
	}
	return nil
}

func (w *segmentWriter) close() error {
	err := w.closeFile()
	if w.err != nil {
		return fmt.Errorf("-w stopped writing: %w", w.err)
	}
	return err
}

// filterFlags are capture's kernel filter options.
type filterFlags struct {
	ports []uint
	hosts []string
}

func (f *filterFlags) register(fl *pflag.FlagSet) {
	fl.UintSliceVar(&f.ports, "port", nil, "capture only TCP traffic to or from these ports, filtered in the kernel (repeatable or comma-separated)")
	fl.StringSliceVar(&f.hosts, "host", nil, "capture only traffic to or from these IP addresses, filtered in the kernel (repeatable or comma-separated)")
}

func (f *filterFlags) apply(opts *capture.LiveOptions) error {
	if len(f.ports)+len(f.hosts) == 0 {
		return nil
	}
	flt := &capture.Filter{}
	for _, p := range f.ports {
		if p == 0 || p > 65535 {
			return fmt.Errorf("--port %d: not a TCP port", p)
		}
		flt.Ports = append(flt.Ports, uint16(p))
	}
	for _, h := range f.hosts {
		a, err := netip.ParseAddr(h)
		if err != nil {
			return fmt.Errorf("--host %q: want an IP address: %w", h, err)
		}
		flt.Hosts = append(flt.Hosts, a)
	}
	if err := flt.Validate(); err != nil {
		return err
	}
	opts.Filter = flt
	return nil
}

// ringFlags size the capture ring.
type ringFlags struct {
	ringSize, blockSize string
	blockTimeout        time.Duration
	fanout              int
}

func (f *ringFlags) register(fl *pflag.FlagSet) {
	fl.StringVar(&f.ringSize, "ring-size", "32MiB", "memory the kernel writes captured packets into; a larger ring rides out longer stalls before the kernel drops")
	fl.StringVar(&f.blockSize, "block-size", "512KiB", "the ring's unit of hand-over to zspy (a power of two)")
	fl.DurationVar(&f.blockTimeout, "block-timeout", capture.DefaultBlockTimeout, "longest a partly filled block waits before zspy reads it")
	fl.IntVar(&f.fanout, "fanout", 1, "spread packets over this many rings by flow hash (PACKET_FANOUT), read in turn")
}

func (f *ringFlags) apply(opts *capture.LiveOptions) error {
	n, err := store.ParseSize(f.ringSize)
	if err != nil || n <= 0 || n > 1<<40 {
		return fmt.Errorf("--ring-size %q: want a size like 64MiB", f.ringSize)
	}
	opts.RingSize = int(n)
	n, err = store.ParseSize(f.blockSize)
	if err != nil || n <= 0 || n > 1<<30 || n&(n-1) != 0 {
		return fmt.Errorf("--block-size %q: want a power of two like 1MiB", f.blockSize)
	}
	opts.BlockSize = int(n)
	if f.blockTimeout <= 0 {
		return fmt.Errorf("--block-timeout %v: want a positive duration", f.blockTimeout)
	}
	opts.BlockTimeout = f.blockTimeout
	if f.fanout < 1 || f.fanout > capture.MaxFanout {
		return fmt.Errorf("--fanout %d: want 1 to %d", f.fanout, capture.MaxFanout)
	}
	opts.Fanout = f.fanout
	return nil
}
