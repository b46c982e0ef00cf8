package monitor

import (
	"context"
	"encoding/binary"
	"errors"
	"net"
	"strings"
	"testing"
)

func scanAll(chunks [][]byte) (frameScanner, error) {
	s := frameScanner{greeting: 64}
	for _, c := range chunks {
		if err := s.scan(c); err != nil {
			return s, err
		}
	}
	return s, nil
}

func TestFrameScanner(t *testing.T) {
	greeting := make([]byte, 64)
	ready := []byte{0x04, 0x06, 5, 'R', 'E', 'A', 'D', 'Y'}
	msg := []byte{0x01, 0x02, 'a', 'b', 0x00, 0x00}
	long := binary.BigEndian.AppendUint64([]byte{0x02}, 3)
	long = append(long, 'x', 'y', 'z')
	stream := append(append(append(append([]byte{}, greeting...), ready...), msg...), long...)
	// Every split point gives the same result: no error, one command, idle.
	for i := 0; i <= len(stream); i++ {
		s, err := scanAll([][]byte{stream[:i], stream[i:]})
		if err != nil || s.commandsDone != 1 || s.state != scanFlags || s.frames != 0 {
			t.Fatalf("split %d: %v %+v", i, err, s)
		}
	}
	big := append(append([]byte{}, greeting...), binary.BigEndian.AppendUint64([]byte{0x02}, MaxFrameSize+1)...)
	if _, err := scanAll([][]byte{big}); err == nil {
		t.Fatal("oversized frame passed")
	}
	ok := append(append([]byte{}, greeting...), binary.BigEndian.AppendUint64([]byte{0x02}, MaxFrameSize)...)
	if _, err := scanAll([][]byte{ok}); err != nil {
		t.Fatalf("a frame of exactly MaxFrameSize: %v", err)
	}
	many := append([]byte{}, greeting...)
	for range MaxFrames - 1 {
		many = append(many, 0x01, 0x00)
	}
	if _, err := scanAll([][]byte{append(append(many, 0x00, 0x00), 0x01, 0x00)}); err != nil {
		t.Fatalf("a message of MaxFrames frames, then another: %v", err)
	}
	if _, err := scanAll([][]byte{append(many, 0x01, 0x00, 0x00, 0x00)}); err == nil {
		t.Fatal("a message of MaxFrames+1 frames passed")
	}
}

// FuzzFrameScanner: the guard's verdict does not depend on how reads split
// the stream, and it never panics.
func FuzzFrameScanner(f *testing.F) {
	f.Add(append(make([]byte, 64), 0x04, 0x01, 0x05, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff), uint16(70))
	f.Add(append(make([]byte, 64), 0x01, 0x00, 0x00, 0x03, 'a', 'b', 'c'), uint16(3))
	f.Fuzz(func(t *testing.T, data []byte, split uint16) {
		whole, err1 := scanAll([][]byte{data})
		i := int(split) % (len(data) + 1)
		parts, err2 := scanAll([][]byte{data[:i], data[i:]})
		if (err1 == nil) != (err2 == nil) {
			t.Fatalf("split at %d changes the verdict: %v vs %v", i, err1, err2)
		}
		if err1 == nil && whole != parts {
			t.Fatalf("split at %d changes the state: %+v vs %+v", i, whole, parts)
		}
	})
}

// TestGuardRefusesSelfConnection: a dial whose source port the kernel chose
// equal to the closed destination port joins the socket to itself (TCP's
// simultaneous open). The guarded dial makes it deterministic here by binding
// the source port, and must refuse the connection, freeing the port, rather
// than let the subscriber hand-shake with itself and hold the port forever.
func TestGuardRefusesSelfConnection(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().(*net.TCPAddr)
	ln.Close()
	d := &net.Dialer{LocalAddr: addr}
	c, err := dialWith(context.Background(), d, "tcp", addr.String())
	if err == nil {
		c.Close()
		t.Fatal("self-connection accepted")
	}
	if !errors.Is(err, errSelfConnect) || !strings.Contains(err.Error(), "connected to itself") {
		t.Fatalf("err %v", err)
	}
	// The port is free again for the forwarder that means to bind it.
	ln, err = net.Listen("tcp", addr.String())
	if err != nil {
		t.Fatalf("port still held: %v", err)
	}
	ln.Close()
}
