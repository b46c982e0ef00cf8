// Package store writes zspy's time series to InfluxDB, or keeps them locally
// (line-protocol files and an in-memory window) when no InfluxDB is configured.
//
// It is the last stage of the metrics branch of the pipeline: the metrics
// stage turns tracker snapshots into Points (measurement, sorted tags,
// fields, packet time) and hands them to a Sink. Sinks know nothing of
// ZeroMQ; the schema lives with the metrics stage.
//
//   - AppendLine encodes a Point as one line of line protocol (nanosecond
//     timestamps, escaping that InfluxDB 1.8 and 2.x parse back) into a
//     reused buffer, without allocating.
//   - Influx is the InfluxDB sink (2.x, or 1.8's v2-compatible API): Write
//     never waits on the network; a sender posts gzipped batches with
//     retries and backoff; when the server is down or slow, points spill to
//     a spool directory and are sent back later; every point lost is counted.
//   - Local is the embedded default: line-protocol files rotated by size and
//     day, deleted by retention (age, total size), plus a bounded window of
//     recent points for the dashboard. A point counts as written once its
//     complete line is in the file; a full disk drops points, counted and
//     said once per episode (Warner).
//   - Export sends stored files to an InfluxDB later (zspy export); a partial
//     write counts the lines InfluxDB stored as sent.
//   - LineWriter writes points as line protocol to an io.Writer (zspy's
//     --output lp, for Telegraf's exec and execd inputs).
//   - Decorate wraps a sink to add global tags and truncate times to a
//     precision (--global-tag, --precision).
//   - MaskURL masks a password in a URL wherever zspy prints one.
//   - Config and LocalConfig are validated once; LoadConfigFile and ApplyEnv
//     help the command layer fill them from a YAML file and INFLUX_* variables.
package store
