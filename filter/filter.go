// Package filter is zspy's display filter: an expression over a decoded
// event's fields (endpoints, socket types, event kind and command, topic,
// size) that selects which events --events prints, as tshark -Y and
// hubble observe's flags select what they show. Expressions are compiled and
// type-checked once, at start, by github.com/expr-lang/expr; a mistake is
// answered with its column and a caret under the expression.
//
//	event == "message" and port(5555) and size > 1000
//	command in ["SUBSCRIBE", "CANCEL"] and topic startsWith "prices."
//	socket("PUB") and host("10.0.0.7")
//	event == "error" or command == "ERROR"
package filter

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/parser"
	"github.com/expr-lang/expr/vm"

	"github.com/zspy/zspy/tracker"
	"github.com/zspy/zspy/zmtp"
)

// MaxLen bounds an expression's length: a filter is typed by a person.
const MaxLen = 4096

// Env is what an expression sees of one event. The expr tags are the names
// in the language; README's "Display filter" section lists them.
type Env struct {
	Event      string `expr:"event"`   // greeting, command, message, subscription, identity, gap, resync, error
	Command    string `expr:"command"` // READY, HELLO, ERROR, PING, ... ; SUBSCRIBE or CANCEL on subscriptions
	Dir        string `expr:"dir"`     // c2s or s2c
	Client     string `expr:"client"`  // "ip:port" of the end that connected
	Server     string `expr:"server"`  // "ip:port" of the end that accepted
	ClientHost string `expr:"client_host"`
	ClientPort int    `expr:"client_port"`
	ServerHost string `expr:"server_host"`
	ServerPort int    `expr:"server_port"`
	Src        string `expr:"src"` // the sender's "ip:port"
	Dst        string `expr:"dst"` // the receiver's "ip:port"
	// Socket types as the sides said them so far ("" until then).
	ClientSocket string `expr:"client_socket"`
	ServerSocket string `expr:"server_socket"`
	SrcSocket    string `expr:"src_socket"`
	DstSocket    string `expr:"dst_socket"`
	Topic        string `expr:"topic"`  // subscriptions, identities; a message's first frame (first 64 bytes)
	Size         int    `expr:"size"`   // a message's bytes (all frames)
	Frames       int    `expr:"frames"` // a message's frames
	Mechanism    string `expr:"mechanism"`
	Error        string `expr:"error"` // the event's decoding error, "" if none
	Packet       int    `expr:"packet"`
}

// Filter is a compiled display filter. It is not safe for concurrent use
// (it reuses one Env).
type Filter struct {
	src  string
	prog *vm.Program
	vm   vm.VM
	env  Env
}

// Error is a filter that does not compile: Column is where (1-based, in
// runes), Message what.
type Error struct {
	Expr    string
	Column  int
	Message string
}

func (e *Error) Error() string {
	col := max(e.Column, 1)
	return fmt.Sprintf("display filter, column %d: %s\n  %s\n  %s^", col, e.Message, e.Expr, strings.Repeat(" ", col-1))
}

// Names of the enumerated fields' values, to refuse a typo at start instead
// of matching nothing.
var (
	eventNames = []string{string(tracker.EvGreeting), string(tracker.EvCommand), string(tracker.EvMessage),
		string(tracker.EvSubscription), string(tracker.EvIdentity), string(tracker.EvGap), string(tracker.EvResync), string(tracker.EvError)}
	commandNames = []string{"READY", "HELLO", "WELCOME", "INITIATE", "ERROR", "SUBSCRIBE", "CANCEL", "PING", "PONG", "JOIN", "LEAVE", "MESSAGE"}
	dirNames     = []string{"c2s", "s2c"}
	socketNames  = func() []string {
		var n []string
		for s := zmtp.PAIR; s <= zmtp.CHANNEL; s++ {
			n = append(n, s.String())
		}
		return n
	}()
	mechanismNames = []string{"NULL", "PLAIN", "CURVE", "GSSAPI"}
	enumFields     = map[string][]string{
		"event": eventNames, "command": commandNames, "dir": dirNames,
		"client_socket": socketNames, "server_socket": socketNames, "src_socket": socketNames, "dst_socket": socketNames,
		"mechanism": mechanismNames,
	}
)

// Compile parses and checks src. The result is an *Error naming the column
// of the mistake.
func Compile(src string) (*Filter, error) {
	if strings.TrimSpace(src) == "" {
		return nil, &Error{Expr: src, Column: 1, Message: "empty expression"}
	}
	if len(src) > MaxLen {
		return nil, &Error{Expr: src[:40] + "…", Column: 1, Message: fmt.Sprintf("expression longer than %d bytes", MaxLen)}
	}
	if strings.ContainsAny(src, "\n\r") {
		return nil, &Error{Expr: strings.NewReplacer("\n", " ", "\r", " ").Replace(src), Column: strings.IndexAny(src, "\n\r") + 1, Message: "the expression is one line"}
	}
	// First our own checks on the syntax tree (function calls, the values
	// of enumerated fields), then expr's type check.
	tree, err := parser.Parse(src)
	if err != nil {
		return nil, exprError(src, err)
	}
	v := &checker{src: src}
	ast.Walk(&tree.Node, v)
	if v.err != nil {
		return nil, v.err
	}
	prog, err := expr.Compile(src, expr.Env(Env{}), expr.AsBool(), expr.Patch(&rewriter{}),
		// No builtins that reach outside an event or cost more than it.
		expr.DisableBuiltin("now"), expr.DisableBuiltin("date"), expr.DisableBuiltin("duration"),
		expr.DisableBuiltin("repeat"))
	if err != nil {
		return nil, exprError(src, err)
	}
	return &Filter{src: src, prog: prog}, nil
}

// String returns the expression.
func (f *Filter) String() string { return f.src }

// Match reports whether e passes the filter. An expression that fails at
// run time (e.g. a division by zero) does not match.
func (f *Filter) Match(e *tracker.Event) bool {
	fill(&f.env, e)
	out, err := f.vm.Run(f.prog, &f.env)
	if err != nil {
		return false
	}
	b, _ := out.(bool)
	return b
}

func fill(env *Env, e *tracker.Event) {
	*env = Env{Event: string(e.Type), Dir: e.Dir.String(), Client: e.Client, Server: e.Server,
		ClientSocket: e.ClientSocket.String(), ServerSocket: e.ServerSocket.String(), Packet: int(min(e.Packet, 1<<62))}
	env.ClientHost, env.ClientPort = splitHostPort(e.Client)
	env.ServerHost, env.ServerPort = splitHostPort(e.Server)
	env.Src, env.Dst, env.SrcSocket, env.DstSocket = env.Client, env.Server, env.ClientSocket, env.ServerSocket
	if e.Dir == zmtp.ServerToClient {
		env.Src, env.Dst, env.SrcSocket, env.DstSocket = env.Server, env.Client, env.ServerSocket, env.ClientSocket
	}
	switch e.Type {
	case tracker.EvGreeting:
		env.Mechanism = e.Mechanism.String()
		if s := e.SocketType.String(); s != "" {
			env.SrcSocket = s
		}
	case tracker.EvCommand:
		env.Command = e.Command.String()
		if e.Command == zmtp.CmdOther {
			env.Command = string(e.CmdName)
		}
	case tracker.EvSubscription:
		env.Command = "SUBSCRIBE"
		if e.Cancel {
			env.Command = "CANCEL"
		}
	case tracker.EvMessage:
		env.Size, env.Frames = int(min(e.MsgBytes, 1<<62)), e.Frames
	}
	if len(e.Topic) > 0 {
		env.Topic = string(e.Topic)
	}
	if e.Err != nil {
		env.Error = e.Err.Error()
	}
}

// splitHostPort splits "ip:port" or "[v6]:port" without allocating.
func splitHostPort(s string) (string, int) {
	i := strings.LastIndexByte(s, ':')
	if i < 0 {
		return s, 0
	}
	port, _ := strconv.Atoi(s[i+1:])
	host := s[:i]
	if len(host) >= 2 && host[0] == '[' && host[len(host)-1] == ']' {
		host = host[1 : len(host)-1]
	}
	return host, port
}

// exprError turns expr's error into an *Error with a column.
func exprError(src string, err error) error {
	var fe *file.Error
	if errors.As(err, &fe) {
		msg := fe.Message
		// expr names our Env type in some messages; users know fields.
		msg = strings.ReplaceAll(msg, "filter.Env", "event")
		return &Error{Expr: src, Column: fe.Column + 1, Message: msg}
	}
	return &Error{Expr: src, Column: 1, Message: err.Error()}
}

// column returns a node's 1-based column in runes (expr's locations count
// runes).
func column(n ast.Node) int { return n.Location().From + 1 }

// Helper functions of the language, as tcpdump's primitives: each is
// rewritten into comparisons on both ends before type checking.
var helpers = map[string]struct {
	fields [2]string
	arg    string // the argument's kind: "host", "port" or "socket"
}{
	"host":   {[2]string{"client_host", "server_host"}, "host"},
	"port":   {[2]string{"client_port", "server_port"}, "port"},
	"socket": {[2]string{"client_socket", "server_socket"}, "socket"},
}

// checker refuses, with a column, what expr would accept but match nothing:
// a helper called wrongly, a value that an enumerated field never takes.
type checker struct {
	src string
	err *Error
}

func (c *checker) fail(n ast.Node, format string, a ...any) {
	if c.err == nil {
		c.err = &Error{Expr: c.src, Column: column(n), Message: fmt.Sprintf(format, a...)}
	}
}

func (c *checker) Visit(node *ast.Node) {
	switch n := (*node).(type) {
	case *ast.CallNode:
		id, ok := n.Callee.(*ast.IdentifierNode)
		if !ok {
			return
		}
		h, ok := helpers[id.Value]
		if !ok {
			return
		}
		if len(n.Arguments) != 1 {
			c.fail(n, "%s() takes one argument", id.Value)
			return
		}
		c.checkHelperArg(id.Value, h.arg, n.Arguments[0])
	case *ast.BinaryNode:
		if n.Operator != "==" && n.Operator != "!=" && n.Operator != "in" && n.Operator != "not in" {
			return
		}
		id, ok := n.Left.(*ast.IdentifierNode)
		other := n.Right
		if !ok {
			id, ok = n.Right.(*ast.IdentifierNode)
			other = n.Left
		}
		if !ok {
			return
		}
		names, ok := enumFields[id.Value]
		if !ok {
			return
		}
		var lits []*ast.StringNode
		switch o := other.(type) {
		case *ast.StringNode:
			lits = append(lits, o)
		case *ast.ArrayNode:
			for _, el := range o.Nodes {
				if s, ok := el.(*ast.StringNode); ok {
					lits = append(lits, s)
				}
			}
		}
		for _, s := range lits {
			if !contains(names, s.Value) {
				hint := ""
				if up := strings.ToUpper(s.Value); up != s.Value && contains(names, up) {
					hint = fmt.Sprintf(" (did you mean %q?)", up)
				} else if low := strings.ToLower(s.Value); low != s.Value && contains(names, low) {
					hint = fmt.Sprintf(" (did you mean %q?)", low)
				}
				c.fail(s, "%s is never %q%s; it is one of %s", id.Value, s.Value, hint, strings.Join(names, ", "))
				return
			}
		}
	}
}

func (c *checker) checkHelperArg(fn, kind string, arg ast.Node) {
	switch kind {
	case "port":
		in, ok := arg.(*ast.IntegerNode)
		if !ok {
			c.fail(arg, "port() takes a port number, e.g. port(5555)")
		} else if in.Value < 0 || in.Value > 65535 {
			c.fail(arg, "port %d is out of range (0-65535)", in.Value)
		}
	case "host":
		s, ok := arg.(*ast.StringNode)
		if !ok {
			c.fail(arg, "host() takes an IP address in quotes, e.g. host(\"10.0.0.7\")")
		} else if _, err := netip.ParseAddr(s.Value); err != nil {
			c.fail(arg, "host(%q): not an IP address (the filter compares addresses; names are not resolved)", s.Value)
		}
	case "socket":
		s, ok := arg.(*ast.StringNode)
		if !ok {
			c.fail(arg, "socket() takes a socket type in quotes, e.g. socket(\"PUB\")")
		} else if !contains(socketNames, s.Value) {
			c.fail(arg, "%s(%q): not a socket type; one of %s", fn, s.Value, strings.Join(socketNames, ", "))
		}
	}
}

func contains(names []string, s string) bool {
	for _, n := range names {
		if n == s {
			return true
		}
	}
	return false
}

// rewriter turns host(X), port(N) and socket(S) into comparisons on both
// ends: (client_F == X or server_F == X). host() compares the address's
// canonical form, so "::ffff:10.0.0.1" and "10.0.0.1" differ as the
// tracker's names do.
type rewriter struct{}

func (rewriter) Visit(node *ast.Node) {
	n, ok := (*node).(*ast.CallNode)
	if !ok {
		return
	}
	id, ok := n.Callee.(*ast.IdentifierNode)
	if !ok || len(n.Arguments) != 1 {
		return
	}
	h, ok := helpers[id.Value]
	if !ok {
		return
	}
	arg := n.Arguments[0]
	if s, ok := arg.(*ast.StringNode); ok && h.arg == "host" {
		if a, err := netip.ParseAddr(s.Value); err == nil {
			arg = &ast.StringNode{Value: a.String()}
		}
	}
	eq := func(field string) ast.Node {
		return &ast.BinaryNode{Operator: "==", Left: &ast.IdentifierNode{Value: field}, Right: arg}
	}
	ast.Patch(node, &ast.BinaryNode{Operator: "or", Left: eq(h.fields[0]), Right: eq(h.fields[1])})
}
