package rules

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// The Alertmanager webhook payload (version 4), as Alertmanager posts it to
// its webhook receivers (prometheus.io/docs/alerting/latest/configuration/
// #webhook_config), so receivers written for Alertmanager take zspy's
// alerts unchanged. Alertmanager's own Go types (template.Data) come with
// the whole Alertmanager module; these mirror the documented JSON.

// AlertmanagerPayload is the body of one POST.
type AlertmanagerPayload struct {
	Version           string              `json:"version"`
	GroupKey          string              `json:"groupKey"`
	TruncatedAlerts   int                 `json:"truncatedAlerts"`
	Status            string              `json:"status"` // firing when any alert is, else resolved
	Receiver          string              `json:"receiver"`
	GroupLabels       map[string]string   `json:"groupLabels"`
	CommonLabels      map[string]string   `json:"commonLabels"`
	CommonAnnotations map[string]string   `json:"commonAnnotations"`
	ExternalURL       string              `json:"externalURL"`
	Alerts            []AlertmanagerAlert `json:"alerts"`
}

// AlertmanagerAlert is one alert of the payload.
type AlertmanagerAlert struct {
	Status       string            `json:"status"` // firing or resolved
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     time.Time         `json:"startsAt"`
	EndsAt       time.Time         `json:"endsAt"` // zero (0001-01-01T00:00:00Z) while firing
	GeneratorURL string            `json:"generatorURL"`
	Fingerprint  string            `json:"fingerprint"`
}

// AlertmanagerOptions fill the payload's fields that are not the alerts'.
type AlertmanagerOptions struct {
	Host        string // the host label of every alert and the group (this machine)
	Receiver    string // default "zspy"
	ExternalURL string // where a person can see more; also each alert's generatorURL
}

// AlertmanagerEncoder returns a WebhookOptions.Encode that writes the
// Alertmanager payload. Each alert's labels are alertname (the rule),
// severity, host, client and server (when the alert has them), then the
// alert's own labels (series tags, rule and grouping labels) as they are;
// its annotations are the rendered annotations (message included). Only
// what Alertmanager would send goes out: firing and resolved changes;
// pending ones, and pending alerts that cleared without firing, are left
// out, and a batch of only those posts nothing. The group is the host: its
// groupLabels are {host}, groupKey `{}:{host="..."}`, and commonLabels and
// commonAnnotations hold what every alert of the batch shares.
func AlertmanagerEncoder(opt AlertmanagerOptions) func([]Alert) ([]byte, error) {
	if opt.Receiver == "" {
		opt.Receiver = "zspy"
	}
	return func(changes []Alert) ([]byte, error) {
		p := AlertmanagerPayload{Version: "4", Status: "resolved", Receiver: opt.Receiver, ExternalURL: opt.ExternalURL,
			GroupLabels: map[string]string{"host": opt.Host}}
		p.GroupKey = fmt.Sprintf("{}:{host=%q}", opt.Host)
		for i := range changes {
			a := &changes[i]
			var status string
			switch {
			case a.State == StateFiring:
				status = "firing"
				p.Status = "firing"
			case a.State == StateResolved && !a.FiredAt.IsZero():
				status = "resolved"
			default:
				continue
			}
			p.Alerts = append(p.Alerts, alertmanagerAlert(a, status, opt))
		}
		if len(p.Alerts) == 0 {
			return nil, nil
		}
		p.CommonLabels = common(p.Alerts, func(a *AlertmanagerAlert) map[string]string { return a.Labels })
		p.CommonAnnotations = common(p.Alerts, func(a *AlertmanagerAlert) map[string]string { return a.Annotations })
		return json.Marshal(p)
	}
}

func alertmanagerAlert(a *Alert, status string, opt AlertmanagerOptions) AlertmanagerAlert {
	labels := map[string]string{"severity": string(a.Severity)}
	if opt.Host != "" {
		labels["host"] = opt.Host
	}
	if a.Client != "" {
		labels["client"] = a.Client
	}
	if a.Server != "" {
		labels["server"] = a.Server
	}
	maps.Copy(labels, a.Labels)
	labels["alertname"] = a.Rule
	ann := maps.Clone(a.Annotations)
	if ann == nil {
		ann = map[string]string{}
	}
	if _, ok := ann["message"]; !ok && a.Message != "" {
		ann["message"] = a.Message
	}
	out := AlertmanagerAlert{Status: status, Labels: labels, Annotations: ann, StartsAt: a.FiredAt.UTC(),
		GeneratorURL: opt.ExternalURL, Fingerprint: Fingerprint(labels)}
	if status == "resolved" {
		out.EndsAt = a.ResolvedAt.UTC()
	}
	return out
}

// common returns the pairs every alert's map holds.
func common(alerts []AlertmanagerAlert, of func(*AlertmanagerAlert) map[string]string) map[string]string {
	c := maps.Clone(of(&alerts[0]))
	for i := 1; i < len(alerts); i++ {
		m := of(&alerts[i])
		for k, v := range c {
			if w, ok := m[k]; !ok || w != v {
				delete(c, k)
			}
		}
	}
	if c == nil {
		c = map[string]string{}
	}
	return c
}

// Fingerprint is Prometheus's fingerprint of a label set (model.LabelSet.
// Fingerprint: FNV-1a 64 over the names in order, each name and value
// followed by 0xff), as 16 hex digits: the same labels give the same
// fingerprint that Alertmanager would show.
func Fingerprint(labels map[string]string) string {
	const offset64, prime64 = 14695981039346656037, 1099511628211
	h := uint64(offset64)
	add := func(s string) {
		for i := 0; i < len(s); i++ {
			h ^= uint64(s[i])
			h *= prime64
		}
		h ^= 0xff
		h *= prime64
	}
	for _, k := range slices.Sorted(maps.Keys(labels)) {
		add(k)
		add(labels[k])
	}
	return fmt.Sprintf("%016x", h)
}

// WebhookFormats names the payloads --alert-webhook-format takes.
var WebhookFormats = []string{"zspy", "alertmanager"}

// CheckWebhookFormat refuses a format zspy does not write.
func CheckWebhookFormat(f string) error {
	if !slices.Contains(WebhookFormats, f) {
		return fmt.Errorf("webhook format %q: one of %s", f, strings.Join(WebhookFormats, ", "))
	}
	return nil
}
