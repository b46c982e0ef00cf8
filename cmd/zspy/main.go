// Command zspy watches ZeroMQ traffic: it decodes the ZMTP wire protocol from
// capture files and live interfaces, takes libzmq socket-monitor events, keeps
// time series and raises alerts. This file holds the root command only; each
// subcommand lives in a file of its own and only wires packages together.
package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
)

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "zspy",
		Short:         "monitor and capture ZeroMQ traffic",
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       version(),
	}
	root.SetVersionTemplate("{{.Version}}\n")
	for _, add := range subcommands {
		root.AddCommand(add())
	}
	return root
}

// subcommands is filled by each subcommand file's init function.
var subcommands []func() *cobra.Command

func main() {
	if err := newRootCmd().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "zspy:", err)
		os.Exit(1)
	}
}
