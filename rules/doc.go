// Package rules evaluates alert rules over zspy's model and metrics at a given
// (packet) time, and sends alerts to their outputs.
package rules
