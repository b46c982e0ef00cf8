package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"slices"
	"strings"
	"time"

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
	fl.StringVarP(&f.path, "write", "w", "", "also write the captured TCP packets to this file (pcap; pcapng when it ends in .pcapng), for replay later; flushed every 500 ms and at each rotation, so a crash loses at most the last 500 ms")
	fl.StringVar(&f.rotateSize, "rotate-size", "", "with -w: start a new file when this size is reached (e.g. 100MB); files get a -0001, -0002... suffix")
	fl.DurationVar(&f.rotateEvery, "rotate-every", 0, "with -w: start a new file at this period of packet time (e.g. 1h)")
}

// rawSource is a live source that can hand out the packet behind a segment.
type rawSource interface {
	Raw() (data []byte, wireLen int)
}

// segmentWriter writes the packets behind captured segments with a
// capture.Writer.
type segmentWriter struct {
	w *capture.Writer
}

func (f *writeFlags) open(src capture.Source) (*segmentWriter, error) {
	if f.path == "" {
		if f.rotateSize != "" || f.rotateEvery > 0 {
			return nil, fmt.Errorf("--rotate-size and --rotate-every need -w FILE")
		}
		return nil, nil
	}
	if _, ok := src.(rawSource); !ok {
		return nil, fmt.Errorf("-w: this source cannot give raw packets")
	}
	opts := capture.WriterOptions{Path: f.path, RotateEvery: f.rotateEvery}
	if f.rotateSize != "" {
		n, err := store.ParseSize(f.rotateSize)
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("--rotate-size %q: want a size like 100MB", f.rotateSize)
		}
		opts.RotateSize = n
	}
	w, err := capture.NewWriter(opts)
	if err != nil {
		return nil, err
	}
	return &segmentWriter{w: w}, nil
}

// segment writes the packet behind seg (raw, wire bytes long on the
// wire), on the capture goroutine.
func (w *segmentWriter) segment(seg *capture.Segment, raw []byte, wire int) {
	w.w.WritePacket(seg.TS, raw, wire)
}

func (w *segmentWriter) close() error { return w.w.Close() }

// filterFlags are capture's kernel filter options.
type filterFlags struct {
	ports []uint
	hosts []string
	// resolved says, for each --host name, the addresses it stands for
	// (printed at start, as the filter holds them).
	resolved []string
}

func (f *filterFlags) register(fl *pflag.FlagSet) {
	fl.UintSliceVar(&f.ports, "port", nil, "capture only TCP traffic to or from these ports, filtered in the kernel (repeatable or comma-separated)")
	fl.StringSliceVar(&f.hosts, "host", nil, "capture only traffic to or from these IP addresses or host names (every address a name resolves to), filtered in the kernel (repeatable or comma-separated)")
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
		addrs, err := resolveHost(h)
		if err != nil {
			return err
		}
		if _, perr := netip.ParseAddr(h); perr != nil {
			f.resolved = append(f.resolved, fmt.Sprintf("--host %s: %s", h, joinAddrs(addrs)))
		}
		for _, a := range addrs {
			if !slices.Contains(flt.Hosts, a) {
				flt.Hosts = append(flt.Hosts, a)
			}
		}
	}
	if len(flt.Hosts) > capture.MaxFilterHosts {
		return fmt.Errorf("--host: %d addresses (%s), the kernel filter takes at most %d: name fewer hosts, or addresses", len(flt.Hosts), joinAddrs(flt.Hosts), capture.MaxFilterHosts)
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
	fl.IntVar(&f.fanout, "fanout", 1, "spread packets over this many rings by flow hash (PACKET_FANOUT), each read and reassembled on a core of its own (the ring memory is shared among them); the report is the same")
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

// privFlags say whom capture runs as once its sockets are open.
type privFlags struct{ user string }

// defaultUsers are whom capture started as root becomes without -Z: the
// first of them that exists (tcpdump's habit, which drops to its own
// account by default). A zspy account is the one to make for it (files a
// run creates are its own); nobody is the fallback present everywhere.
var defaultUsers = []string{"zspy", "nobody"}

func (f *privFlags) register(fl *pflag.FlagSet) {
	fl.StringVarP(&f.user, "relinquish-privileges", "Z", "", "once the capture sockets (and -w's first file, the store, the alerts file) are open, run as this user: its uid and group, no capabilities (needs root; files created later must be creatable by the user). Default as root: zspy, else nobody, unless the run needs root later (the host view, or files the user could not create), which a note on stderr says; -Z root keeps root")
}

// afterDrop is what a capture does once its privileges are dropped that an
// unprivileged user may not be able to do.
type afterDrop struct {
	hostView  bool     // reads other users' processes' descriptors in /proc
	createsIn []string // directories files are created in (rotations, store)
}

// drop switches to the user given with -Z; without -Z, as root, to the
// first default user that exists, unless the run needs root later, which
// it says on note (stderr).
func (f *privFlags) drop(after afterDrop, note io.Writer) error {
	if f.user != "" {
		return capture.DropPrivileges(f.user)
	}
	if os.Geteuid() != 0 {
		return nil
	}
	name := ""
	for _, u := range defaultUsers {
		if capture.UserExists(u) {
			name = u
			break
		}
	}
	if name == "" {
		fmt.Fprintf(note, "zspy: note: running as root: none of the users %s exists to drop to (-Z USER names one, -Z root keeps root without this note)\n", strings.Join(defaultUsers, ", "))
		return nil
	}
	var why []string
	if after.hostView {
		why = append(why, "the host view reads other users' processes (--no-host goes without it)")
	}
	dir, err := capture.CannotCreate(name, after.createsIn)
	if err != nil {
		return err
	}
	if dir != "" {
		why = append(why, fmt.Sprintf("%s could not create files in %s", name, dir))
	}
	if len(why) > 0 {
		fmt.Fprintf(note, "zspy: note: running as root, not as %s: %s; -Z %s drops anyway, -Z root keeps root without this note\n", name, strings.Join(why, "; "), name)
		return nil
	}
	return capture.DropPrivileges(name)
}

// resolveHost returns h's addresses: h itself when it is an IP address,
// else every address the resolver gives for the name (as tcpdump's host
// primitive), 4-in-6 forms unmapped.
func resolveHost(h string) ([]netip.Addr, error) {
	if a, err := netip.ParseAddr(h); err == nil {
		return []netip.Addr{a.Unmap()}, nil
	}
	if h == "" {
		return nil, errors.New("--host: empty")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	addrs, err := net.DefaultResolver.LookupNetIP(ctx, "ip", h)
	if err == nil && len(addrs) == 0 {
		err = errors.New("no addresses")
	}
	if err != nil {
		var dnsErr *net.DNSError
		if errors.As(err, &dnsErr) && dnsErr.IsNotFound {
			return nil, fmt.Errorf("--host %q: not an IP address, and no such host name (the resolver knows none)", h)
		}
		return nil, fmt.Errorf("--host %q: not an IP address, and the name does not resolve: %w", h, err)
	}
	var out []netip.Addr
	for _, a := range addrs {
		if a = a.Unmap(); !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	return out, nil
}

func joinAddrs(as []netip.Addr) string {
	s := make([]string, len(as))
	for i, a := range as {
		s[i] = a.String()
	}
	return strings.Join(s, ", ")
}
