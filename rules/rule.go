package rules

import (
	"errors"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"text/template"
	"time"

	"go.yaml.in/yaml/v3"
)

// Rule is one alerting rule: a condition (an expression over the metrics, or
// a built-in detector with parameters), how long it must hold before the
// alert fires (For), how long a firing alert outlives its condition
// (KeepFiringFor), and what the alert carries.
type Rule struct {
	Name     string
	Group    string
	Expr     *Expr
	Detector string
	// Params are the detector's parameters (its own struct, e.g.
	// *HWMParams); nil for an expression rule.
	Params Params
	For    time.Duration
	// KeepFiringFor keeps an alert firing this long after its condition cleared.
	KeepFiringFor time.Duration
	Severity      Severity
	Labels        map[string]string
	Annotations   map[string]string
	// Builtin is true for the rules zspy runs without a rule file.
	Builtin bool

	det             detector
	templates       map[string]*template.Template
	annotationNames []string
}

// Condition returns the rule's condition as text: the expression, or the
// detector with its parameters.
func (r *Rule) Condition() string {
	if r.Expr != nil {
		return r.Expr.src
	}
	var parts []string
	for _, p := range r.Params.params() {
		parts = append(parts, p.name+"="+formatParam(p.val))
	}
	return r.Detector + "(" + strings.Join(parts, ", ") + ")"
}

// FileError is one mistake in a rule file, with where it is.
type FileError struct {
	File         string
	Line, Column int
	// Field is the path of the offending field, e.g. groups[0].rules[2].expr.
	Field string
	Msg   string
}

func (e *FileError) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		b.WriteByte(':')
	}
	if e.Line > 0 {
		fmt.Fprintf(&b, "%d:%d:", e.Line, e.Column)
	}
	if b.Len() > 0 {
		b.WriteByte(' ')
	}
	if e.Field != "" {
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// ErrInvalidRules marks a rule file with mistakes; the error is a FileErrors
// listing each one.
var ErrInvalidRules = errors.New("invalid rule file")

// FileErrors are all the mistakes found in one rule file, in file order.
type FileErrors []*FileError

func (l FileErrors) Error() string {
	s := make([]string, len(l))
	for i, e := range l {
		s[i] = e.Error()
	}
	return strings.Join(s, "\n")
}

// Is makes errors.Is(err, ErrInvalidRules) true.
func (l FileErrors) Is(target error) bool { return target == ErrInvalidRules }

// File is a parsed rule file.
type File struct {
	Name string
	// Builtins says whether the built-in rules run too (default true). A rule
	// of the file with a built-in's name replaces it.
	Builtins bool
	Groups   []Group
}

// Group is a named list of rules.
type Group struct {
	Name  string
	Rules []*Rule
}

// Rules returns fresh rules to run (each call gives rules with their own
// evaluation state): the built-ins (unless turned off, and except those the
// file redefines) followed by the file's rules.
func (f *File) Rules() []*Rule {
	var out []*Rule
	own := map[string]bool{}
	for _, g := range f.Groups {
		for _, r := range g.Rules {
			own[r.Name] = true
		}
	}
	if f.Builtins {
		for _, r := range Builtins() {
			if !own[r.Name] {
				out = append(out, r)
			}
		}
	}
	for _, g := range f.Groups {
		for _, r := range g.Rules {
			out = append(out, r.Clone())
		}
	}
	return out
}

// LoadFile reads and checks a rule file.
func LoadFile(path string) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read rule file: %w", err)
	}
	return Parse(path, data)
}

// maxRuleFile bounds the size of a rule file.
const maxRuleFile = 4 << 20

// Parse checks a rule file's text; name is used in error messages. On
// mistakes it returns FileErrors naming each one (line, column, field).
func Parse(name string, data []byte) (*File, error) {
	p := &fileParser{name: name}
	if len(data) > maxRuleFile {
		return nil, FileErrors{{File: name, Msg: fmt.Sprintf("file is %d bytes, more than the %d allowed", len(data), maxRuleFile)}}
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, FileErrors{p.yamlError(err)}
	}
	f := &File{Name: name, Builtins: true}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return nil, FileErrors{{File: name, Msg: "empty rule file: want a mapping with groups"}}
	}
	root := doc.Content[0]
	p.file(root, f)
	if len(p.errs) > 0 {
		return nil, p.errs
	}
	return f, nil
}

type fileParser struct {
	name  string
	errs  FileErrors
	names map[string]*yaml.Node
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

func (p *fileParser) yamlError(err error) *FileError {
	fe := &FileError{File: p.name, Msg: "not valid YAML: " + strings.TrimPrefix(err.Error(), "yaml: ")}
	if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
		fe.Line, _ = strconv.Atoi(m[1])
		fe.Column = 1
		fe.Msg = "not valid YAML: " + m[2]
	}
	return fe
}

func (p *fileParser) errorf(n *yaml.Node, field, format string, args ...any) {
	fe := &FileError{File: p.name, Field: field, Msg: fmt.Sprintf(format, args...)}
	if n != nil {
		fe.Line, fe.Column = n.Line, n.Column
	}
	p.errs = append(p.errs, fe)
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return "nothing"
		}
		return fmt.Sprintf("%q", n.Value)
	case yaml.AliasNode:
		return "an alias"
	}
	return "nothing"
}

// mapping walks a mapping node's keys, reporting unknown and repeated ones.
func (p *fileParser) mapping(n *yaml.Node, field string, known []string, fn func(key string, k, v *yaml.Node)) bool {
	if n.Kind != yaml.MappingNode {
		p.errorf(n, field, "want a mapping, got %s", kindName(n))
		return false
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		sub := join(field, k.Value)
		if known != nil && !contains(known, k.Value) {
			p.errorf(k, sub, "unknown field (known: %s)", strings.Join(known, ", "))
			continue
		}
		if seen[k.Value] {
			p.errorf(k, sub, "given twice")
			continue
		}
		seen[k.Value] = true
		fn(k.Value, k, v)
	}
	return true
}

func join(field, key string) string {
	if field == "" {
		return key
	}
	return field + "." + key
}

func (p *fileParser) file(n *yaml.Node, f *File) {
	p.names = map[string]*yaml.Node{}
	var groups *yaml.Node
	p.mapping(n, "", []string{"builtins", "groups"}, func(key string, k, v *yaml.Node) {
		switch key {
		case "builtins":
			if b, ok := p.boolean(v, key); ok {
				f.Builtins = b
			}
		case "groups":
			groups = v
		}
	})
	if len(p.errs) > 0 && groups == nil {
		return
	}
	if groups == nil {
		p.errorf(n, "groups", "missing: want a list of rule groups")
		return
	}
	if groups.Kind != yaml.SequenceNode {
		p.errorf(groups, "groups", "want a list of rule groups, got %s", kindName(groups))
		return
	}
	gnames := map[string]bool{}
	for gi, gn := range groups.Content {
		field := fmt.Sprintf("groups[%d]", gi)
		g := Group{}
		var rules *yaml.Node
		ok := p.mapping(gn, field, []string{"name", "rules"}, func(key string, k, v *yaml.Node) {
			switch key {
			case "name":
				if s, ok := p.str(v, join(field, key)); ok {
					g.Name = s
					if s == "" {
						p.errorf(v, join(field, key), "empty group name")
					} else if gnames[s] {
						p.errorf(v, join(field, key), "group %q defined twice", s)
					}
					gnames[s] = true
				}
			case "rules":
				rules = v
			}
		})
		if !ok {
			continue
		}
		if g.Name == "" && !p.has(gn, "name") {
			p.errorf(gn, join(field, "name"), "missing: every group needs a name")
		}
		if rules == nil {
			p.errorf(gn, join(field, "rules"), "missing: want a list of rules")
			continue
		}
		if rules.Kind != yaml.SequenceNode {
			p.errorf(rules, join(field, "rules"), "want a list of rules, got %s", kindName(rules))
			continue
		}
		for ri, rn := range rules.Content {
			if r := p.rule(rn, fmt.Sprintf("%s.rules[%d]", field, ri)); r != nil {
				r.Group = g.Name
				g.Rules = append(g.Rules, r)
			}
		}
		f.Groups = append(f.Groups, g)
	}
}

func (p *fileParser) has(n *yaml.Node, key string) bool {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return true
		}
	}
	return false
}

var ruleName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

var ruleFields = []string{"alert", "expr", "detector", "params", "for", "keep_firing_for", "severity", "labels", "annotations"}

func (p *fileParser) rule(n *yaml.Node, field string) *Rule {
	r := &Rule{Severity: SevWarning}
	before := len(p.errs)
	var exprNode, detNode, paramsNode *yaml.Node
	ok := p.mapping(n, field, ruleFields, func(key string, k, v *yaml.Node) {
		f := join(field, key)
		switch key {
		case "alert":
			if s, ok := p.str(v, f); ok {
				switch {
				case !ruleName.MatchString(s):
					p.errorf(v, f, "rule name %q: want letters, digits and _ (not starting with a digit)", s)
				case p.names[s] != nil:
					p.errorf(v, f, "rule %q already defined at line %d", s, p.names[s].Line)
				default:
					p.names[s] = v
				}
				r.Name = s
			}
		case "expr":
			exprNode = v
			if s, ok := p.str(v, f); ok {
				e, err := ParseExpr(s)
				if err != nil {
					p.exprError(v, f, s, err)
				}
				r.Expr = e
			}
		case "detector":
			detNode = v
			if s, ok := p.str(v, f); ok {
				if _, known := detectors[s]; !known {
					p.errorf(v, f, "unknown detector %q (known: %s)", s, strings.Join(DetectorNames(), ", "))
				}
				r.Detector = s
			}
		case "params":
			paramsNode = v
		case "for":
			r.For, _ = p.duration(v, f)
		case "keep_firing_for":
			r.KeepFiringFor, _ = p.duration(v, f)
		case "severity":
			if s, ok := p.str(v, f); ok {
				r.Severity = Severity(s)
				if !validSeverity(r.Severity) {
					p.errorf(v, f, "severity %q: want info, warning or critical", s)
				}
			}
		case "labels":
			r.Labels = p.stringMap(v, f, func(key string, kn, vn *yaml.Node) {
				if !ruleName.MatchString(key) {
					p.errorf(kn, join(f, key), "label name %q: want letters, digits and _", key)
				}
			})
		case "annotations":
			r.Annotations = p.stringMap(v, f, func(key string, kn, vn *yaml.Node) {
				if _, err := parseTemplate(key, vn.Value); err != nil {
					p.errorf(vn, join(f, key), "bad template: %v", trimTemplateErr(err))
				}
			})
		}
	})
	if !ok {
		return nil
	}
	if r.Name == "" && !p.has(n, "alert") {
		p.errorf(n, join(field, "alert"), "missing: every rule needs a name (alert: NAME)")
	}
	switch {
	case exprNode == nil && detNode == nil:
		p.errorf(n, field, "want either expr or detector")
	case exprNode != nil && detNode != nil:
		p.errorf(detNode, join(field, "detector"), "a rule has either expr or detector, not both")
	case exprNode != nil && paramsNode != nil:
		p.errorf(paramsNode, join(field, "params"), "params belong to a detector; this rule has an expr")
	case detNode != nil && r.Detector != "":
		if spec, ok := detectors[r.Detector]; ok {
			r.Params = p.params(spec, paramsNode, join(field, "params"))
		}
	}
	if len(p.errs) > before {
		return nil
	}
	if err := r.compile(); err != nil {
		p.errorf(n, field, "%v", err)
		return nil
	}
	return r
}

func trimTemplateErr(err error) string {
	return strings.TrimPrefix(err.Error(), "template: ")
}

// exprError reports an expression mistake at its column in the file when the
// expression sits on one line.
func (p *fileParser) exprError(v *yaml.Node, field, src string, err error) {
	var ee *ExprError
	if !errors.As(err, &ee) {
		p.errorf(v, field, "%v", err)
		return
	}
	fe := &FileError{File: p.name, Field: field, Line: v.Line, Column: v.Column, Msg: ee.Msg}
	switch v.Style {
	case 0, yaml.FlowStyle:
		if !strings.Contains(src, "\n") {
			fe.Column += ee.Pos
		} else {
			fe.Msg = fmt.Sprintf("%s (at offset %d of the expression)", ee.Msg, ee.Pos)
		}
	case yaml.DoubleQuotedStyle, yaml.SingleQuotedStyle:
		if !strings.ContainsAny(src, "\n\\'") {
			fe.Column += 1 + ee.Pos
		} else {
			fe.Msg = fmt.Sprintf("%s (at offset %d of the expression)", ee.Msg, ee.Pos)
		}
	default:
		fe.Msg = fmt.Sprintf("%s (at offset %d of the expression)", ee.Msg, ee.Pos)
	}
	p.errs = append(p.errs, fe)
}

func (p *fileParser) str(n *yaml.Node, field string) (string, bool) {
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		p.errorf(n, field, "want a string, got %s", kindName(n))
		return "", false
	}
	return n.Value, true
}

func (p *fileParser) boolean(n *yaml.Node, field string) (bool, bool) {
	if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" {
		p.errorf(n, field, "want true or false, got %s", kindName(n))
		return false, false
	}
	return n.Value == "true" || n.Value == "True" || n.Value == "TRUE", true
}

func (p *fileParser) duration(n *yaml.Node, field string) (time.Duration, bool) {
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		p.errorf(n, field, "want a duration such as 500ms or 2s, got %s", kindName(n))
		return 0, false
	}
	if n.Value == "0" {
		return 0, true
	}
	d, err := time.ParseDuration(n.Value)
	if err != nil {
		p.errorf(n, field, "want a duration such as 500ms or 2s, got %q", n.Value)
		return 0, false
	}
	if d < 0 {
		p.errorf(n, field, "negative duration %q", n.Value)
		return 0, false
	}
	return d, true
}

func (p *fileParser) stringMap(n *yaml.Node, field string, check func(key string, k, v *yaml.Node)) map[string]string {
	m := map[string]string{}
	p.mapping(n, field, nil, func(key string, k, v *yaml.Node) {
		if s, ok := p.str(v, join(field, key)); ok {
			m[key] = s
			check(key, k, v)
		}
	})
	return m
}

func (p *fileParser) params(spec *detectorSpec, n *yaml.Node, field string) Params {
	out := spec.defaults()
	if n == nil {
		return out
	}
	list := out.params()
	names := make([]string, len(list))
	for i, ps := range list {
		names[i] = ps.name
	}
	if len(names) == 0 {
		p.errorf(n, field, "detector %s takes no params", spec.name)
		return out
	}
	p.mapping(n, field, names, func(key string, k, v *yaml.Node) {
		f := join(field, key)
		switch val := spec.param(out, key).val.(type) {
		case *time.Duration:
			if d, ok := p.duration(v, f); ok {
				*val = d
			}
		case *float64:
			x, err := strconv.ParseFloat(v.Value, 64)
			if v.Kind != yaml.ScalarNode || (v.Tag != "!!int" && v.Tag != "!!float") || err != nil {
				p.errorf(v, f, "want a number, got %s", kindName(v))
			} else if x < 0 {
				p.errorf(v, f, "want a number ≥ 0, got %s", v.Value)
			} else {
				*val = x
			}
		case *int:
			x, err := strconv.Atoi(v.Value)
			if v.Kind != yaml.ScalarNode || v.Tag != "!!int" || err != nil {
				p.errorf(v, f, "want a whole number, got %s", kindName(v))
			} else if x < 0 {
				p.errorf(v, f, "want a whole number ≥ 0, got %s", v.Value)
			} else {
				*val = x
			}
		}
	})
	return out
}

// compile prepares a checked rule for evaluation.
func (r *Rule) compile() error {
	if r.Detector != "" {
		spec := detectors[r.Detector]
		if r.Params == nil {
			r.Params = spec.defaults()
		}
		r.det = spec.build(r.Params)
	}
	r.templates = map[string]*template.Template{}
	r.annotationNames = sortedKeys(r.Annotations)
	for _, k := range r.annotationNames {
		t, err := parseTemplate(k, r.Annotations[k])
		if err != nil {
			return fmt.Errorf("annotation %s: %w", k, err)
		}
		r.templates[k] = t
	}
	return nil
}

// Clone returns a fresh copy of the rule with its own evaluation state.
func (r *Rule) Clone() *Rule {
	c := *r
	if r.Params != nil {
		c.Params = detectors[r.Detector].clone(r.Params)
	}
	c.det = nil
	if err := c.compile(); err != nil {
		panic(err) // the rule compiled once already
	}
	return &c
}
