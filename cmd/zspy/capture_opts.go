package main

import (
	"errors"

	"github.com/spf13/pflag"

	"github.com/zspy/zspy/capture"
)

// writeFlags are capture's -w options.
type writeFlags struct {
	path        string
	rotateSize  string
	rotateEvery string
}

func (f *writeFlags) register(fl *pflag.FlagSet) {
	fl.StringVarP(&f.path, "write", "w", "", "also write the captured packets to this pcap file")
	fl.StringVar(&f.rotateSize, "rotate-size", "", "start a new file when this size is reached (e.g. 100MB)")
	fl.StringVar(&f.rotateEvery, "rotate-every", "", "start a new file at this period (e.g. 1h)")
}

type segmentWriter struct {
	segment func(seg *capture.Segment)
	close   func() error
}

func (f *writeFlags) open(src capture.Source) (*segmentWriter, error) {
	if f.path == "" {
		return nil, nil
	}
	return nil, errors.New("-w is not available yet")
}

// filterFlags are capture's kernel filter options.
type filterFlags struct {
	ports []uint
	hosts []string
}

func (f *filterFlags) register(fl *pflag.FlagSet) {
	fl.UintSliceVar(&f.ports, "port", nil, "capture only TCP traffic to or from these ports (kernel filter; repeatable)")
	fl.StringSliceVar(&f.hosts, "host", nil, "capture only traffic to or from these addresses (kernel filter; repeatable)")
}

func (f *filterFlags) apply(opts *capture.LiveOptions) error {
	if len(f.ports)+len(f.hosts) > 0 {
		return errors.New("--port and --host are not available yet")
	}
	return nil
}
