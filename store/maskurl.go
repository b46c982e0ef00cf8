package store

import (
	"errors"
	"net/url"
	"strings"
)

// MaskURL returns rawURL fit to print: a password in it (http://user:password@host)
// becomes "***", as net/http writes it in its own errors, so that a report, a
// warning and an error show the same text. Every URL zspy prints (the InfluxDB
// server, the alert webhook) goes through it. A URL that does not parse has
// everything between "://" and the last "@" of its authority masked.
func MaskURL(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return maskUnparsed(rawURL)
	}
	if _, ok := u.User.Password(); ok {
		// As net/http's errors do: replace the text, since url.URL would escape "***".
		return strings.Replace(u.String(), u.User.String()+"@", u.User.Username()+":***@", 1)
	}
	return u.String()
}

func maskUnparsed(s string) string {
	i := strings.Index(s, "://")
	if i < 0 {
		return s
	}
	auth := s[i+3:]
	if j := strings.IndexAny(auth, "/?#"); j >= 0 {
		auth = auth[:j]
	}
	at := strings.LastIndexByte(auth, '@')
	if at < 0 {
		return s
	}
	return s[:i+3] + "***" + s[i+3+at:]
}

// MaskURLError masks the URL of a *url.Error (as net/http returns) in err,
// in place, with MaskURL, and returns err.
func MaskURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		ue.URL = MaskURL(ue.URL)
	}
	return err
}
