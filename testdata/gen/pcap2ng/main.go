// Command pcap2ng converts a classic pcap file into pcapng (one section, one
// interface) with gopacket's pcapgo.NgWriter, for the pcapng capture case:
// tcpdump 4.99 writes only classic pcap.
//
//	go run ./pcap2ng in.pcap out.pcapng
package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/google/gopacket/pcapgo"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: pcap2ng in.pcap out.pcapng")
		os.Exit(2)
	}
	if err := convert(os.Args[1], os.Args[2]); err != nil {
		fmt.Fprintln(os.Stderr, "pcap2ng:", err)
		os.Exit(1)
	}
}

func convert(in, out string) error {
	f, err := os.Open(in)
	if err != nil {
		return err
	}
	defer f.Close()
	r, err := pcapgo.NewReader(f)
	if err != nil {
		return fmt.Errorf("read %s: %w", in, err)
	}
	o, err := os.Create(out)
	if err != nil {
		return err
	}
	bw := bufio.NewWriter(o)
	w, err := pcapgo.NewNgWriterInterface(bw, pcapgo.NgInterface{
		Name:                "lo",
		Description:         "loopback, converted from " + in,
		LinkType:            r.LinkType(),
		SnapLength:          r.Snaplen(),
		TimestampResolution: 9,
	}, pcapgo.NgWriterOptions{SectionInfo: pcapgo.NgSectionInfo{
		Application: "zspy testdata/gen/pcap2ng",
	}})
	if err != nil {
		return fmt.Errorf("write %s: %w", out, err)
	}
	n := 0
	for {
		data, ci, err := r.ReadPacketData()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("read %s packet %d: %w", in, n+1, err)
		}
		if err := w.WritePacket(ci, data); err != nil {
			return fmt.Errorf("write %s packet %d: %w", out, n+1, err)
		}
		n++
	}
	if err := w.Flush(); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "pcap2ng: %d packets\n", n)
	return o.Close()
}
