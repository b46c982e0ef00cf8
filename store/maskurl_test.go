package store

import (
	"context"
	"strings"
	"testing"
)

func TestMaskURL(t *testing.T) {
	for in, want := range map[string]string{
		"http://127.0.0.1:8086":                 "http://127.0.0.1:8086",
		"http://admin:s3cret@127.0.0.1:8086":    "http://admin:***@127.0.0.1:8086",
		"https://admin:p%40ss@influx/x?org=lab": "https://admin:***@influx/x?org=lab",
		"http://token@influx:8086":              "http://token@influx:8086", // a user name alone is not masked
		"http://admin:s3cret@[::1:8086":         "http://***@[::1:8086",     // does not parse
		"ht tp://admin:s3cret@host/a@b":         "ht tp://***@host/a@b",
	} {
		if got := MaskURL(in); got != want {
			t.Errorf("MaskURL(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestInfluxErrorsMaskURL: with credentials in the URL, neither the sink's
// errors nor a bad URL's show the password.
func TestInfluxErrorsMaskURL(t *testing.T) {
	url := strings.Replace(closedURL(t), "http://", "http://admin:s3cret@", 1)
	s, err := NewInflux(Config{URL: url, Bucket: "zspy", MaxRetries: -1})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Write(testPoints(0, 10)); err != nil {
		t.Fatal(err)
	}
	perr := s.Ping(context.Background())
	cerr := s.Close(context.Background())
	st := s.Stats()
	for _, text := range []string{st.LastError, perr.Error(), cerr.Error()} {
		if strings.Contains(text, "s3cret") || !strings.Contains(text, "admin:***@") {
			t.Errorf("not masked: %s", text)
		}
	}
	bad := Config{URL: "ftp://admin:s3cret@host", Bucket: "b"}
	if err := bad.Validate(); err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("Validate: %v", err)
	}
}
