package capture

import (
	"encoding/binary"
)

// pcapng custom blocks (RFC draft-ietf-opsawg-pcapng, "Custom Block"):
// type 0x00000BAD may be copied by tools that rewrite the file (editcap,
// mergecap), 0x40000BAD may not. zspy writes 0x00000BAD with Private
// Enterprise Number 0 and a payload that names itself (host.AttributionMagic).
const (
	ngBlockCustomCopy   = 0x00000BAD
	ngBlockCustomNoCopy = 0x40000BAD
	// AnnotationPEN is the enterprise number of zspy's custom blocks.
	AnnotationPEN = 0
	// MaxAnnotation caps one annotation's payload (a longer one is not
	// written, and is counted).
	MaxAnnotation = maxBlockLen - 64
	// maxAnnotationBytes caps what a FileSource keeps of the annotations it
	// read before they are taken (more are counted, not kept).
	maxAnnotationBytes = 16 << 20
)

// Annotate writes payload into the current pcapng file as a custom block
// (after the packets written so far), and writes it again at the head of
// each next file of a rotating set, until the next Annotate: so every file
// carries the latest annotation. A pcap file has no place for it: nothing is
// written, and AnnotationsLost counts it; so does a payload over
// MaxAnnotation.
func (w *Writer) Annotate(payload []byte) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		return
	}
	if !w.ng || len(payload) > MaxAnnotation {
		w.annLost++
		return
	}
	w.ann = append(w.ann[:0], payload...)
	w.err = w.writeCustom(payload)
}

// AnnotationsLost counts annotations not written (a pcap file, or over
// MaxAnnotation).
func (w *Writer) AnnotationsLost() uint64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.annLost
}

// writeCustom writes one custom block; w.mu is held.
func (w *Writer) writeCustom(payload []byte) error {
	le := binary.LittleEndian
	pad := (4 - len(payload)%4) % 4
	total := 16 + len(payload) + pad
	var h [12]byte
	le.PutUint32(h[0:], ngBlockCustomCopy)
	le.PutUint32(h[4:], uint32(total))
	le.PutUint32(h[8:], AnnotationPEN)
	w.buf.Write(h[:])
	w.buf.Write(payload)
	var tail [7]byte
	le.PutUint32(tail[pad:], uint32(total))
	_, err := w.buf.Write(tail[:pad+4])
	w.size += int64(total)
	return err
}

// Annotation is a custom block's payload read from a pcapng file, after the
// packet before it.
type Annotation struct {
	// Packet is the number of packets read before it.
	Packet  uint64
	Payload []byte
}

// TakeAnnotations returns the zspy custom blocks (enterprise number
// AnnotationPEN) read since the last call, and forgets them.
func (s *FileSource) TakeAnnotations() []Annotation {
	a := s.anns
	s.anns, s.annBytes = nil, 0
	return a
}

// AnnotationsDropped counts custom blocks read but not kept (over the
// bytes kept between two TakeAnnotations).
func (s *FileSource) AnnotationsDropped() uint64 { return s.annDropped }

// customBlock keeps a custom block's payload (body is the block less its
// type, length and trailer).
func (s *FileSource) customBlock(body []byte) {
	if len(body) < 4 || s.u32(body[0:4]) != AnnotationPEN {
		return // another tool's
	}
	p := body[4:]
	if s.annBytes+len(p) > maxAnnotationBytes {
		s.annDropped++
		return
	}
	s.annBytes += len(p)
	s.anns = append(s.anns, Annotation{Packet: s.num, Payload: append([]byte(nil), p...)})
}
