package capture

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// WriterOptions configures a Writer.
type WriterOptions struct {
	// Path is the file to write: pcap, or pcapng when it ends in .pcapng.
	// With rotation, files get a -0001, -0002... suffix before the extension.
	Path string
	// RotateSize starts a new file before one would pass this many bytes
	// (0: never).
	RotateSize int64
	// RotateEvery starts a new file when a packet comes this long (packet
	// time) after the current file's first (0: never).
	RotateEvery time.Duration
	// FlushEvery writes what is buffered to the file at this period of
	// wall-clock time (default 500 ms), so that a crash loses at most this
	// long of packets; every rotation flushes too.
	FlushEvery time.Duration
}

// DefaultFlushEvery is WriterOptions.FlushEvery's default.
const DefaultFlushEvery = 500 * time.Millisecond

// Writer writes raw packets (link type raw IP, as a live source's Raw gives
// them) to a capture file or a rotating set of them. WritePacket runs on the
// capture goroutine; a timer of its own flushes the buffer. After a write
// error it writes nothing more and Close returns the error: the capture goes
// on.
type Writer struct {
	opts   WriterOptions
	base   string
	ext    string
	rotate bool

	mu     sync.Mutex // guards everything below against the flush timer
	n      int
	f      *os.File
	buf    *bufio.Writer
	ng     bool // pcapng, else pcap
	hdr    [32]byte
	size   int64
	opened time.Time
	err    error
	files  []string
	pkts   uint64
	// pktsInFile counts the current file's packets: a file gets at least
	// one, whatever its size.
	pktsInFile int
	stop       chan struct{}
	done       chan struct{}
	// ann is the latest annotation, written again at the head of each
	// next file; annLost counts those not written.
	ann     []byte
	annLost uint64
}

// pcapRecordHeaderLen is pcap's record header.
const pcapRecordHeaderLen = 16

// NewWriter creates the first file and starts the flush timer.
func NewWriter(opts WriterOptions) (*Writer, error) {
	if opts.Path == "" {
		return nil, errors.New("-w: no file name")
	}
	if opts.FlushEvery <= 0 {
		opts.FlushEvery = DefaultFlushEvery
	}
	w := &Writer{opts: opts, rotate: opts.RotateSize > 0 || opts.RotateEvery > 0,
		stop: make(chan struct{}), done: make(chan struct{})}
	w.ext = filepath.Ext(opts.Path)
	w.base = strings.TrimSuffix(opts.Path, w.ext)
	if w.ext == "" {
		w.ext = ".pcap"
	}
	if err := w.next(time.Time{}); err != nil {
		return nil, err
	}
	go w.flusher()
	return w, nil
}

// Files returns the names of the files written so far.
func (w *Writer) Files() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.files...)
}

// Packets returns how many packets were written.
func (w *Writer) Packets() uint64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.pkts
}

func (w *Writer) name() string {
	if !w.rotate {
		return w.base + w.ext
	}
	return fmt.Sprintf("%s-%04d%s", w.base, w.n, w.ext)
}

// next closes the current file and opens the next one; w.mu is held (or w
// is not shared yet).
func (w *Writer) next(ts time.Time) error {
	if err := w.closeFile(); err != nil {
		return err
	}
	w.n++
	w.pktsInFile = 0
	name := w.name()
	f, err := os.Create(name)
	if err != nil {
		return fmt.Errorf("-w: %w", err)
	}
	cf := &countingFile{f: f}
	w.f, w.buf, w.opened = f, bufio.NewWriterSize(cf, 1<<20), ts
	w.files = append(w.files, name)
	w.ng = w.ext == ".pcapng"
	if w.ng {
		w.buf.Write(pcapngHeader())
		if len(w.ann) > 0 {
			w.writeCustom(w.ann)
		}
	} else {
		w.buf.Write(pcapHeader())
	}
	// The header goes to the file at once: a file cut by a crash still
	// opens.
	err = w.flush()
	w.size = cf.n
	return err
}

// countingFile counts the bytes written to a file.
type countingFile struct {
	f *os.File
	n int64
}

func (c *countingFile) Write(p []byte) (int, error) {
	n, err := c.f.Write(p)
	c.n += int64(n)
	return n, err
}

// recordLen is the bytes a packet of n captured bytes takes in the file.
func (w *Writer) recordLen(n int) int64 {
	if w.ng {
		return 32 + int64((n+3)&^3) // enhanced packet block, no options
	}
	return pcapRecordHeaderLen + int64(n)
}

// The files are written here rather than with gopacket's pcapgo: its
// layers package, which pcapgo needs, takes 23 ms to initialise at every
// start of zspy, and the two formats' framing is this much.

// pcapHeader is a pcap file header: nanosecond timestamps, raw IP.
func pcapHeader() []byte {
	h := make([]byte, 24)
	le := binary.LittleEndian
	le.PutUint32(h[0:], pcapMagicNano)
	le.PutUint16(h[4:], 2)
	le.PutUint16(h[6:], 4)
	le.PutUint32(h[16:], MaxRecordLen)
	le.PutUint32(h[20:], uint32(LinkRaw))
	return h
}

// pcapngHeader is a section header block and one interface (raw IP,
// nanosecond timestamps).
func pcapngHeader() []byte {
	le := binary.LittleEndian
	shb := make([]byte, 28)
	le.PutUint32(shb[0:], pcapngSHB)
	le.PutUint32(shb[4:], 28)
	le.PutUint32(shb[8:], pcapngByteOrder)
	le.PutUint16(shb[12:], 1)                  // major
	le.PutUint64(shb[16:], 0xffffffffffffffff) // section length: not given
	le.PutUint32(shb[24:], 28)
	idb := make([]byte, 32)
	le.PutUint32(idb[0:], ngBlockIDB)
	le.PutUint32(idb[4:], 32)
	le.PutUint16(idb[8:], uint16(LinkRaw))
	le.PutUint32(idb[12:], MaxRecordLen)
	le.PutUint16(idb[16:], 9) // if_tsresol
	le.PutUint16(idb[18:], 1)
	idb[20] = 9 // 10^-9 s
	// idb[24:28]: opt_endofopt
	le.PutUint32(idb[28:], 32)
	return append(shb, idb...)
}

// writeRecord writes one packet's record; w.mu is held.
func (w *Writer) writeRecord(ts time.Time, data []byte, wire int) error {
	le := binary.LittleEndian
	n := len(data)
	ns := ts.UnixNano()
	if !w.ng {
		h := w.hdr[:pcapRecordHeaderLen]
		le.PutUint32(h[0:], uint32(ns/1e9))
		le.PutUint32(h[4:], uint32(ns%1e9))
		le.PutUint32(h[8:], uint32(n))
		le.PutUint32(h[12:], uint32(wire))
		w.buf.Write(h)
		_, err := w.buf.Write(data)
		return err
	}
	total := uint32(w.recordLen(n))
	h := w.hdr[:28]
	le.PutUint32(h[0:], ngBlockEPB)
	le.PutUint32(h[4:], total)
	le.PutUint32(h[8:], 0) // interface
	le.PutUint32(h[12:], uint32(uint64(ns)>>32))
	le.PutUint32(h[16:], uint32(ns))
	le.PutUint32(h[20:], uint32(n))
	le.PutUint32(h[24:], uint32(wire))
	w.buf.Write(h)
	w.buf.Write(data)
	var tail [8]byte
	pad := (4 - n%4) % 4
	le.PutUint32(tail[pad:], total)
	_, err := w.buf.Write(tail[:pad+4])
	return err
}

// WritePacket writes one packet: data as captured (from the IP header on),
// wire its length on the wire.
func (w *Writer) WritePacket(ts time.Time, data []byte, wire int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		return
	}
	if w.rotate && ((w.opts.RotateSize > 0 && w.size+w.recordLen(len(data)) > w.opts.RotateSize && w.pktsInFile > 0) ||
		(w.opts.RotateEvery > 0 && !w.opened.IsZero() && ts.Sub(w.opened) >= w.opts.RotateEvery)) {
		if w.err = w.next(ts); w.err != nil {
			return
		}
	}
	if w.opened.IsZero() {
		w.opened = ts
	}
	if len(data) > MaxRecordLen {
		data = data[:MaxRecordLen]
	}
	w.err = w.writeRecord(ts, data, max(wire, len(data)))
	w.size += w.recordLen(len(data))
	w.pkts++
	w.pktsInFile++
}

// flush writes what is buffered to the file; w.mu is held.
func (w *Writer) flush() error {
	if w.f == nil {
		return nil
	}
	return w.buf.Flush()
}

func (w *Writer) flusher() {
	defer close(w.done)
	t := time.NewTicker(w.opts.FlushEvery)
	defer t.Stop()
	for {
		select {
		case <-w.stop:
			return
		case <-t.C:
			w.mu.Lock()
			if w.err == nil {
				if err := w.flush(); err != nil {
					w.err = fmt.Errorf("-w %s: %w", w.files[len(w.files)-1], err)
				}
			}
			w.mu.Unlock()
		}
	}
}

// closeFile flushes and closes the current file; w.mu is held.
func (w *Writer) closeFile() error {
	if w.f == nil {
		return nil
	}
	err := w.flush()
	if e := w.f.Close(); err == nil {
		err = e
	}
	w.f = nil
	if err != nil {
		return fmt.Errorf("-w: %w", err)
	}
	return nil
}

// Close stops the flush timer, flushes and closes the file. It returns the
// error that stopped the writing, if one did.
func (w *Writer) Close() error {
	close(w.stop)
	<-w.done
	w.mu.Lock()
	defer w.mu.Unlock()
	err := w.closeFile()
	if w.err != nil {
		return fmt.Errorf("-w stopped writing after %d packets: %w", w.pkts, w.err)
	}
	return err
}
