package rules

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/zspy/zspy/metrics"
	"github.com/zspy/zspy/store"
)

// The expression language is small on purpose:
//
//	expr       = or
//	or         = and { "or" and }
//	and        = unary { "and" unary }
//	unary      = "not" unary | "(" expr ")" | comparison
//	comparison = selector [ op number ]        (a bare selector tests a field for non-zero)
//	selector   = measurement [ "{" matcher { "," matcher } "}" ] "." field
//	matcher    = tag ( "=" | "!=" ) "quoted string"
//	op         = ">" | ">=" | "<" | "<=" | "==" | "!="
//
// It is evaluated once per point of its measurement (one series per tag set);
// all selectors of one expression name the same measurement.

// ExprError is a mistake in an expression, at byte offset Pos.
type ExprError struct {
	Pos int
	Msg string
}

func (e *ExprError) Error() string { return fmt.Sprintf("column %d: %s", e.Pos+1, e.Msg) }

type tokKind uint8

const (
	tEOF tokKind = iota
	tIdent
	tNumber
	tString
	tOp    // comparison operators and = inside braces
	tPunct // { } ( ) , .
)

type token struct {
	kind tokKind
	text string
	pos  int
}

func lex(s string) ([]token, error) {
	var toks []token
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case isIdentStart(c):
			j := i + 1
			for j < len(s) && isIdentChar(s[j]) {
				j++
			}
			toks = append(toks, token{tIdent, s[i:j], i})
			i = j
		case c >= '0' && c <= '9' || (c == '-' || c == '+') && i+1 < len(s) && (s[i+1] >= '0' && s[i+1] <= '9' || s[i+1] == '.'):
			j := i + 1
			for j < len(s) && (s[j] >= '0' && s[j] <= '9' || s[j] == '.' || s[j] == 'e' || s[j] == 'E' ||
				(s[j] == '-' || s[j] == '+') && (s[j-1] == 'e' || s[j-1] == 'E')) {
				j++
			}
			toks = append(toks, token{tNumber, s[i:j], i})
			i = j
		case c == '"':
			j := i + 1
			for j < len(s) && s[j] != '"' {
				if s[j] == '\\' {
					j++
				}
				j++
			}
			if j >= len(s) {
				return nil, &ExprError{i, "unterminated string"}
			}
			v, err := strconv.Unquote(s[i : j+1])
			if err != nil {
				return nil, &ExprError{i, "bad string " + s[i:j+1]}
			}
			toks = append(toks, token{tString, v, i})
			i = j + 1
		case c == '>' || c == '<' || c == '=' || c == '!':
			j := i + 1
			if j < len(s) && s[j] == '=' {
				j++
			}
			op := s[i:j]
			if op == "!" {
				return nil, &ExprError{i, `"!" must be followed by "="`}
			}
			toks = append(toks, token{tOp, op, i})
			i = j
		case strings.IndexByte("{}(),.", c) >= 0:
			toks = append(toks, token{tPunct, s[i : i+1], i})
			i++
		default:
			return nil, &ExprError{i, fmt.Sprintf("unexpected character %q", c)}
		}
	}
	return append(toks, token{tEOF, "", len(s)}), nil
}

func isIdentStart(c byte) bool { return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
func isIdentChar(c byte) bool  { return isIdentStart(c) || c >= '0' && c <= '9' }

// Expr is a parsed, checked rule expression.
type Expr struct {
	src  string
	meas string
	root node
	// first is the first comparison, whose field value is the alert's value.
	first *cmpNode
}

// Measurement returns the measurement the expression is evaluated over.
func (e *Expr) Measurement() string { return e.meas }

func (e *Expr) String() string { return e.src }

type node interface {
	eval(p *store.Point) bool
}

type matcher struct {
	tag, value string
	neg        bool
}

type cmpNode struct {
	meas, field string
	matchers    []matcher
	op          string // "" for a bare selector
	num         float64
}

type logicNode struct {
	and  bool
	l, r node
}

type notNode struct{ x node }

// fieldValue returns a field as a number (bools as 0 or 1); ok is false when
// the point lacks it or it is a string.
func fieldValue(p *store.Point, key string) (float64, bool) {
	f, ok := p.Field(key)
	if !ok {
		return 0, false
	}
	switch f.Kind {
	case store.KindInt:
		return float64(f.IntValue()), true
	case store.KindFloat:
		return f.FloatValue(), true
	case store.KindBool:
		if f.BoolValue() {
			return 1, true
		}
		return 0, true
	}
	return 0, false
}

func (c *cmpNode) eval(p *store.Point) bool {
	for _, m := range c.matchers {
		v, _ := p.Tag(m.tag)
		if (v == m.value) == m.neg {
			return false
		}
	}
	v, ok := fieldValue(p, c.field)
	if !ok {
		return false
	}
	switch c.op {
	case "":
		return v != 0
	case ">":
		return v > c.num
	case ">=":
		return v >= c.num
	case "<":
		return v < c.num
	case "<=":
		return v <= c.num
	case "==":
		return v == c.num
	case "!=":
		return v != c.num
	}
	return false
}

func (n *logicNode) eval(p *store.Point) bool {
	if n.and {
		return n.l.eval(p) && n.r.eval(p)
	}
	return n.l.eval(p) || n.r.eval(p)
}

func (n *notNode) eval(p *store.Point) bool { return !n.x.eval(p) }

// maxExprDepth bounds nesting so that a hostile rule file cannot exhaust the stack.
const maxExprDepth = 64

type parser struct {
	toks  []token
	i     int
	depth int
	e     *Expr
}

// ParseExpr parses and checks an expression against zspy's metrics schema
// (metrics.Schema):
// an unknown measurement, field or tag is an error.
func ParseExpr(s string) (*Expr, error) {
	toks, err := lex(s)
	if err != nil {
		return nil, err
	}
	e := &Expr{src: strings.TrimSpace(s)}
	p := &parser{toks: toks, e: e}
	if p.peek().kind == tEOF {
		return nil, &ExprError{0, "empty expression"}
	}
	root, err := p.or()
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != tEOF {
		return nil, &ExprError{t.pos, fmt.Sprintf("unexpected %q", t.text)}
	}
	e.root = root
	return e, nil
}

func (p *parser) peek() token { return p.toks[p.i] }
func (p *parser) next() token {
	t := p.toks[p.i]
	if t.kind != tEOF {
		p.i++
	}
	return t
}

func (p *parser) or() (node, error) {
	l, err := p.and()
	if err != nil {
		return nil, err
	}
	for p.peek().kind == tIdent && p.peek().text == "or" {
		p.next()
		r, err := p.and()
		if err != nil {
			return nil, err
		}
		l = &logicNode{and: false, l: l, r: r}
	}
	return l, nil
}

func (p *parser) and() (node, error) {
	l, err := p.unary()
	if err != nil {
		return nil, err
	}
	for p.peek().kind == tIdent && p.peek().text == "and" {
		p.next()
		r, err := p.unary()
		if err != nil {
			return nil, err
		}
		l = &logicNode{and: true, l: l, r: r}
	}
	return l, nil
}

func (p *parser) unary() (node, error) {
	p.depth++
	defer func() { p.depth-- }()
	t := p.peek()
	if p.depth > maxExprDepth {
		return nil, &ExprError{t.pos, "expression nested too deeply"}
	}
	switch {
	case t.kind == tIdent && t.text == "not":
		p.next()
		x, err := p.unary()
		if err != nil {
			return nil, err
		}
		return &notNode{x}, nil
	case t.kind == tPunct && t.text == "(":
		p.next()
		x, err := p.or()
		if err != nil {
			return nil, err
		}
		if c := p.next(); c.kind != tPunct || c.text != ")" {
			return nil, &ExprError{c.pos, `expected ")"`}
		}
		return x, nil
	}
	return p.comparison()
}

func (p *parser) comparison() (node, error) {
	t := p.next()
	if t.kind != tIdent {
		return nil, &ExprError{t.pos, fmt.Sprintf("expected a measurement name, got %s", describe(t))}
	}
	m := metrics.Schema.Lookup(t.text)
	if m == nil || !m.Interval {
		return nil, &ExprError{t.pos, fmt.Sprintf("unknown measurement %q (known: %s)", t.text, knownMeasurements())}
	}
	if p.e.meas != "" && p.e.meas != t.text {
		return nil, &ExprError{t.pos, fmt.Sprintf("measurement %s mixed with %s: one expression is evaluated per point of one measurement", t.text, p.e.meas)}
	}
	p.e.meas = t.text
	c := &cmpNode{meas: t.text}
	if b := p.peek(); b.kind == tPunct && b.text == "{" {
		p.next()
		for {
			tag := p.next()
			if tag.kind != tIdent {
				return nil, &ExprError{tag.pos, fmt.Sprintf("expected a tag name, got %s", describe(tag))}
			}
			if m.Tag(tag.text) == nil {
				return nil, &ExprError{tag.pos, fmt.Sprintf("unknown tag %q of %s (known: %s)", tag.text, t.text, strings.Join(m.TagNames(), ", "))}
			}
			op := p.next()
			if op.kind != tOp || (op.text != "=" && op.text != "!=") {
				return nil, &ExprError{op.pos, fmt.Sprintf(`expected "=" or "!=" after tag %s, got %s`, tag.text, describe(op))}
			}
			val := p.next()
			if val.kind != tString {
				return nil, &ExprError{val.pos, fmt.Sprintf("expected a quoted tag value, got %s", describe(val))}
			}
			c.matchers = append(c.matchers, matcher{tag: tag.text, value: val.text, neg: op.text == "!="})
			sep := p.next()
			if sep.kind == tPunct && sep.text == "}" {
				break
			}
			if sep.kind != tPunct || sep.text != "," {
				return nil, &ExprError{sep.pos, fmt.Sprintf(`expected "," or "}", got %s`, describe(sep))}
			}
		}
	}
	if d := p.next(); d.kind != tPunct || d.text != "." {
		return nil, &ExprError{d.pos, fmt.Sprintf(`expected "." and a field name after %s, got %s`, t.text, describe(d))}
	}
	f := p.next()
	if f.kind != tIdent {
		return nil, &ExprError{f.pos, fmt.Sprintf("expected a field name, got %s", describe(f))}
	}
	if m.Field(f.text) == nil {
		return nil, &ExprError{f.pos, fmt.Sprintf("unknown field %q of %s (known: %s)", f.text, t.text, strings.Join(m.FieldNames(), ", "))}
	}
	c.field = f.text
	if op := p.peek(); op.kind == tOp {
		p.next()
		if op.text == "=" {
			return nil, &ExprError{op.pos, `"=" compares nothing: use "=="`}
		}
		n := p.next()
		if n.kind != tNumber {
			return nil, &ExprError{n.pos, fmt.Sprintf("expected a number after %s, got %s", op.text, describe(n))}
		}
		v, err := strconv.ParseFloat(n.text, 64)
		if err != nil {
			return nil, &ExprError{n.pos, fmt.Sprintf("bad number %q", n.text)}
		}
		c.op, c.num = op.text, v
	}
	if p.e.first == nil {
		p.e.first = c
	}
	return c, nil
}

func describe(t token) string {
	switch t.kind {
	case tEOF:
		return "the end"
	case tString:
		return strconv.Quote(t.text)
	}
	return fmt.Sprintf("%q", t.text)
}

// knownMeasurements lists the measurements an expression may name: the
// per-interval series of metrics.Schema.
func knownMeasurements() string {
	var names []string
	for _, m := range metrics.Schema {
		if m.Interval {
			names = append(names, m.Name)
		}
	}
	sortStrings(names)
	return strings.Join(names, ", ")
}

// match evaluates the expression over one point; value is the first
// comparison's field, for the alert.
func (e *Expr) match(p *store.Point) (ok bool, value float64) {
	if p.Measurement != e.meas || !e.root.eval(p) {
		return false, 0
	}
	v, _ := fieldValue(p, e.first.field)
	return true, v
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
