package ui

import (
	"fmt"
	"regexp"
	"strings"
)

// Filter selects rows by their text (Row.Search): the cells, identities,
// PLAIN user, subscriptions and alert rule. The expression is a
// case-insensitive regular expression; text that is not a valid expression is
// matched literally. A leading '!' inverts the filter.
type Filter struct {
	Expr    string // as typed
	Inverse bool
	// Literal is true when the expression was not a valid regexp.
	Literal bool
	re      *regexp.Regexp
	text    string
}

// ParseFilter compiles a filter expression. The empty expression (or a lone
// "!") matches everything.
func ParseFilter(expr string) *Filter {
	f := &Filter{Expr: expr}
	s := expr
	if strings.HasPrefix(s, "!") {
		f.Inverse = true
		s = s[1:]
	}
	if s == "" {
		f.Inverse = false
		return f
	}
	re, err := regexp.Compile("(?i)" + s)
	if err != nil {
		f.Literal = true
		f.text = strings.ToLower(s)
		return f
	}
	f.re = re
	return f
}

// Active reports whether the filter hides anything.
func (f *Filter) Active() bool { return f != nil && (f.re != nil || f.text != "") }

// Match reports whether the filter keeps r.
func (f *Filter) Match(r *Row) bool {
	if !f.Active() {
		return true
	}
	var ok bool
	if f.re != nil {
		ok = f.re.MatchString(r.search)
	} else {
		ok = strings.Contains(r.search, f.text)
	}
	return ok != f.Inverse
}

// MatchText reports whether the filter keeps a line of text (the stream
// view's search): the same expression, over s instead of a row's text.
func (f *Filter) MatchText(s string) bool {
	if !f.Active() {
		return true
	}
	var ok bool
	if f.re != nil {
		ok = f.re.MatchString(s)
	} else {
		ok = strings.Contains(strings.ToLower(s), f.text)
	}
	return ok != f.Inverse
}

// Apply returns the rows the filter keeps (rows itself when it keeps all).
func (f *Filter) Apply(rows []*Row) []*Row {
	if !f.Active() {
		return rows
	}
	out := make([]*Row, 0, len(rows))
	for _, r := range rows {
		if f.Match(r) {
			out = append(out, r)
		}
	}
	return out
}

// String describes the filter for the header.
func (f *Filter) String() string {
	if !f.Active() {
		return ""
	}
	s := fmt.Sprintf("/%s", f.Expr)
	if f.Literal {
		s += " (text)"
	}
	return s
}
