package spl

import (
	"sort"
	"strconv"
	"strings"
)

type parser struct {
	lx  lexer
	src string
}

func newParser(src string) *parser { return &parser{lx: lexer{src: src}, src: src} }

func (p *parser) errorf(off int, format string, args ...any) error {
	return errorAt(p.src, off, format, args...)
}

// command is one parsed pipeline stage.
type command interface {
	name() string
	// start builds the stage's runtime processor in front of next.
	start(rc *runCtx, next stage) (stage, error)
}

// stage processes rows: push takes one row, done flushes at the end.
type stage interface {
	push(r *row) error
	done() error
}

// commandParsers maps a command name to its argument parser. The name
// token is passed for error positions.
var commandParsers map[string]func(p *parser, name token) (command, error)

// generating commands may start a query (after a leading pipe).
var generating = map[string]bool{"search": true, "makeresults": true, "inputlookup": true}

func init() {
	commandParsers = map[string]func(*parser, token) (command, error){
		"search":      parseSearchCmd,
		"where":       parseWhere,
		"eval":        parseEval,
		"stats":       parseStats,
		"eventstats":  parseStats,
		"table":       parseTable,
		"fields":      parseFields,
		"rename":      parseRename,
		"sort":        parseSort,
		"dedup":       parseDedup,
		"head":        parseHead,
		"tail":        parseHead,
		"fillnull":    parseFillnull,
		"bin":         parseBin,
		"bucket":      parseBin,
		"convert":     parseConvert,
		"spath":       parseSpath,
		"mvexpand":    parseMvexpand,
		"rex":         parseRex,
		"lookup":      parseLookup,
		"inputlookup": parseInputlookup,
		"makeresults": parseMakeresults,
		"append":      parseAppend,
		"join":        parseJoin,
	}
}

// Commands lists the supported commands.
func Commands() []string {
	out := make([]string, 0, len(commandParsers))
	for n := range commandParsers {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Functions lists the supported eval functions.
func Functions() []string {
	out := make([]string, 0, len(functions))
	for n := range functions {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// parsePipeline parses commands up to the end of the query, or up to the
// closing bracket of a subsearch when sub is set. tm receives the first
// search's time modifiers (nil in subsearches).
func (p *parser) parsePipeline(sub bool, tm *timeMods) ([]command, error) {
	var cmds []command
	t, err := p.lx.peek(modeArgs)
	if err != nil {
		return nil, err
	}
	if t.k == tPipe {
		p.lx.next(modeArgs)
		c, err := p.parseCommand(true, tm)
		if err != nil {
			return nil, err
		}
		cmds = append(cmds, c)
	} else {
		s, err := p.parseSearchArgs(tm)
		if err != nil {
			return nil, err
		}
		cmds = append(cmds, s)
	}
	for {
		t, err := p.lx.peek(modeArgs)
		if err != nil {
			return nil, err
		}
		switch {
		case t.k == tEOF:
			if sub {
				return nil, p.errorf(t.pos, "subsearch is missing its closing ]")
			}
			return cmds, nil
		case t.k == tRBrack:
			if !sub {
				return nil, p.errorf(t.pos, "unexpected ]")
			}
			return cmds, nil
		case t.k != tPipe:
			return nil, p.errorf(t.pos, "unexpected %q (expected | before the next command)", t.s)
		}
		p.lx.next(modeArgs)
		c, err := p.parseCommand(false, nil)
		if err != nil {
			return nil, err
		}
		cmds = append(cmds, c)
	}
}

func (p *parser) parseCommand(first bool, tm *timeMods) (command, error) {
	name, err := p.lx.next(modeArgs)
	if err != nil {
		return nil, err
	}
	if name.k != tWord {
		return nil, p.errorf(name.pos, "expected a command name after |")
	}
	lname := strings.ToLower(name.s)
	parse, ok := commandParsers[lname]
	if !ok {
		return nil, p.errorf(name.pos, "unsupported command %q", name.s)
	}
	if first && !generating[lname] {
		return nil, p.errorf(name.pos, "command %q cannot start a search (start with a search, or | makeresults / | inputlookup)", name.s)
	}
	if !first && (lname == "makeresults" || lname == "inputlookup") {
		return nil, p.errorf(name.pos, "command %q must start the search", name.s)
	}
	if lname == "search" && first {
		return p.parseSearchArgs(tm)
	}
	return parse(p, name)
}

// ---- helpers for command arguments ----

func (p *parser) peekA() (token, error) { return p.lx.peek(modeArgs) }
func (p *parser) nextA() (token, error) { return p.lx.next(modeArgs) }

// atEnd reports whether the command's arguments are over.
func (p *parser) atEnd() bool {
	t, err := p.peekA()
	return err != nil || t.k == tEOF || t.k == tPipe || t.k == tRBrack
}

// option reads "name=value" if the next tokens are one; name is lower-cased.
func (p *parser) option() (name string, val token, ok bool, err error) {
	save := p.lx.pos
	t, err := p.nextA()
	if err != nil || t.k != tWord {
		p.lx.pos = save
		return "", token{}, false, err
	}
	eq, err := p.nextA()
	if err != nil || !eq.is(tOp, "=") {
		p.lx.pos = save
		return "", token{}, false, err
	}
	v, err := p.nextA()
	if err != nil {
		return "", token{}, false, err
	}
	if v.k != tWord && v.k != tString {
		return "", token{}, false, p.errorf(v.pos, "option %s= needs a value", t.s)
	}
	return strings.ToLower(t.s), v, true, nil
}

// fieldName reads one field name (bare or quoted).
func (p *parser) fieldName(what string) (token, error) {
	t, err := p.nextA()
	if err != nil {
		return t, err
	}
	if t.k != tWord && t.k != tString {
		return t, p.errorf(t.pos, "%s: expected a field name, found %q", what, t.s)
	}
	return t, nil
}

// fieldList reads field names separated by spaces or commas up to the end
// of the command or one of the stop words (case-insensitive).
func (p *parser) fieldList(stop ...string) ([]token, error) {
	var out []token
	for !p.atEnd() {
		t, err := p.peekA()
		if err != nil {
			return nil, err
		}
		if t.k == tComma {
			p.nextA()
			continue
		}
		for _, s := range stop {
			if t.isKeyword(s) {
				return out, nil
			}
		}
		if t.k != tWord && t.k != tString {
			return nil, p.errorf(t.pos, "expected a field name, found %q", t.s)
		}
		p.nextA()
		out = append(out, t)
	}
	return out, nil
}

func (p *parser) intValue(opt string, v token) (int, error) {
	n, err := strconv.Atoi(v.s)
	if err != nil || n < 0 {
		return 0, p.errorf(v.pos, "%s= needs a whole number, not %q", opt, v.s)
	}
	return n, nil
}

func (p *parser) boolValue(opt string, v token) (bool, error) {
	switch strings.ToLower(v.s) {
	case "true", "t", "1", "yes":
		return true, nil
	case "false", "f", "0", "no":
		return false, nil
	}
	return false, p.errorf(v.pos, "%s= needs true or false, not %q", opt, v.s)
}

func (p *parser) unsupportedOption(cmd string, opt string, v token) error {
	return p.errorf(v.pos, "%s: unsupported option %s=", cmd, opt)
}

// subsearch parses "[ search ... ]" or "[| ... ]".
func (p *parser) subsearch(cmd string) ([]command, error) {
	t, err := p.nextA()
	if err != nil {
		return nil, err
	}
	if t.k != tLBrack {
		return nil, p.errorf(t.pos, "%s needs a subsearch in [ ]", cmd)
	}
	n, err := p.peekA()
	if err != nil {
		return nil, err
	}
	if n.isKeyword("search") {
		p.nextA()
	}
	cmds, err := p.parsePipeline(true, nil)
	if err != nil {
		return nil, err
	}
	p.nextA() // ]
	return cmds, nil
}

func tokenNames(ts []token) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = t.s
	}
	return out
}

func (p *parser) expectEnd(cmd string) error {
	if p.atEnd() {
		return nil
	}
	t, _ := p.peekA()
	return p.errorf(t.pos, "%s: unexpected %q", cmd, t.s)
}
