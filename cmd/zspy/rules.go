package main

import (
	"errors"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/zspy/zspy/rules"
)

func init() { subcommands = append(subcommands, newRulesCmd) }

func newRulesCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "rules",
		Short: "check rule files and list the alert rules zspy runs",
		Long: `Rules are zspy's alerts: built-in detectors (HWM saturation, slow subscribers,
stuck requests, handshake failures...) that run with no configuration, plus the
rules of a YAML rule file (expressions over zspy's metrics, or detectors with
their own parameters).`,
	}
	cmd.AddCommand(newRulesCheckCmd(), newRulesListCmd())
	return cmd
}

func newRulesCheckCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "check FILE...",
		Short: "validate rule files and print every mistake with its line, column and field",
		Example: `  zspy rules check alerts.yaml
  zspy rules check /etc/zspy/rules/*.yaml`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runRulesCheck(cmd.OutOrStdout(), args)
		},
	}
}

func runRulesCheck(out io.Writer, files []string) error {
	bad := 0
	for _, name := range files {
		f, err := rules.LoadFile(name)
		if err != nil {
			var fe rules.FileErrors
			if errors.As(err, &fe) {
				for _, e := range fe {
					fmt.Fprintln(out, e)
				}
				bad += len(fe)
				continue
			}
			fmt.Fprintln(out, err)
			bad++
			continue
		}
		n := 0
		for _, g := range f.Groups {
			n += len(g.Rules)
		}
		builtins := "built-in rules on"
		if !f.Builtins {
			builtins = "built-in rules off"
		}
		fmt.Fprintf(out, "%s: ok: %d group(s), %d rule(s), %s, %d rule(s) active\n", name, len(f.Groups), n, builtins, len(f.Rules()))
	}
	if bad > 0 {
		return fmt.Errorf("%d mistake(s) in rule files", bad)
	}
	return nil
}

func newRulesListCmd() *cobra.Command {
	var file string
	var verbose bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "list the active rules: the built-ins, or those of --rules FILE",
		Example: `  zspy rules list
  zspy rules list --rules alerts.yaml -v`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			rs := rules.Builtins()
			if file != "" {
				f, err := rules.LoadFile(file)
				if err != nil {
					return err
				}
				rs = f.Rules()
			}
			return listRules(cmd.OutOrStdout(), rs, verbose)
		},
	}
	cmd.Flags().StringVar(&file, "rules", "", "rule file (default: the built-in rules only)")
	cmd.Flags().BoolVarP(&verbose, "verbose", "v", false, "describe each detector and its parameters")
	return cmd
}

func listRules(out io.Writer, rs []*rules.Rule, verbose bool) error {
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "RULE\tGROUP\tSEVERITY\tFOR\tKEEP\tCONDITION")
	for _, r := range rs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", r.Name, r.Group, r.Severity, r.For, r.KeepFiringFor, r.Condition())
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if !verbose {
		return nil
	}
	for _, r := range rs {
		if r.Detector == "" {
			continue
		}
		doc, params := rules.DetectorDoc(r.Detector)
		fmt.Fprintf(out, "\n%s (detector %s): %s\n", r.Name, r.Detector, doc)
		for _, p := range params {
			fmt.Fprintf(out, "  %s\n", p)
		}
	}
	return nil
}
