package scim

import (
	"encoding/json"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/rosterhq/roster"
)

// The SCIM filter grammar (RFC 7644 section 3.4.2.2), parsed by hand: a
// few hundred lines that Roster controls (case-insensitive operators and
// attribute names, bounded depth), held by FuzzParseFilter.

// Limits on what a filter or a path may be.
const (
	maxFilterLen   = 4096
	maxFilterDepth = 32
)

// expr is a parsed filter: a comparison (op one of eq ne co sw ew gt ge lt
// le, or pr), a logical node ("and", "or", "not") or a value path
// ("[]": path[args[0]]).
type expr struct {
	op    string
	path  attrPath
	value any // string, json.Number, bool or nil
	args  []*expr
}

// attrPath is an attribute path: [uri:]attr[.sub], names as written.
type attrPath struct {
	uri, attr, sub string
}

func (p attrPath) String() string {
	s := p.attr
	if p.sub != "" {
		s += "." + p.sub
	}
	return s
}

// token kinds of the lexer.
const (
	tokEOF = iota
	tokWord
	tokString
	tokLParen
	tokRParen
	tokLBracket
	tokRBracket
)

type token struct {
	kind int
	text string // a word as written, or a string's value
	pos  int
}

type lexer struct {
	src  string
	pos  int
	toks []token
}

func isWordByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		strings.IndexByte("_-.:$+", c) >= 0
}

func lex(src string) ([]token, error) {
	l := &lexer{src: src}
	for l.pos < len(src) {
		c := src[l.pos]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			l.pos++
		case c == '(':
			l.emit(tokLParen, "(", 1)
		case c == ')':
			l.emit(tokRParen, ")", 1)
		case c == '[':
			l.emit(tokLBracket, "[", 1)
		case c == ']':
			l.emit(tokRBracket, "]", 1)
		case c == '"':
			if err := l.str(); err != nil {
				return nil, err
			}
		case isWordByte(c):
			start := l.pos
			for l.pos < len(src) && isWordByte(src[l.pos]) {
				l.pos++
			}
			l.toks = append(l.toks, token{kind: tokWord, text: src[start:l.pos], pos: start})
		default:
			return nil, filterError("unexpected character at " + strconv.Itoa(l.pos))
		}
	}
	l.toks = append(l.toks, token{kind: tokEOF, pos: len(src)})
	return l.toks, nil
}

func (l *lexer) emit(kind int, text string, n int) {
	l.toks = append(l.toks, token{kind: kind, text: text, pos: l.pos})
	l.pos += n
}

// str reads a JSON string literal.
func (l *lexer) str() error {
	start := l.pos
	i := l.pos + 1
	for i < len(l.src) {
		switch l.src[i] {
		case '\\':
			i += 2
			continue
		case '"':
			var s string
			if err := json.Unmarshal([]byte(l.src[start:i+1]), &s); err != nil {
				return filterError("bad string at " + strconv.Itoa(start))
			}
			l.toks = append(l.toks, token{kind: tokString, text: s, pos: start})
			l.pos = i + 1
			return nil
		}
		i++
	}
	return filterError("unterminated string at " + strconv.Itoa(start))
}

func filterError(msg string) error {
	return &roster.Error{Code: roster.EINVALID, Message: "Invalid filter: " + msg + ".", SCIMType: "invalidFilter"}
}

type parser struct {
	toks  []token
	i     int
	depth int
}

// parseFilter parses a SCIM filter.
func parseFilter(src string) (*expr, error) {
	if len(src) > maxFilterLen {
		return nil, filterError("longer than " + strconv.Itoa(maxFilterLen) + " bytes")
	}
	if !utf8.ValidString(src) {
		return nil, filterError("not UTF-8")
	}
	toks, err := lex(src)
	if err != nil {
		return nil, err
	}
	p := &parser{toks: toks}
	e, err := p.or()
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != tokEOF {
		return nil, filterError("unexpected " + quote(t) + " at " + strconv.Itoa(t.pos))
	}
	return e, nil
}

func quote(t token) string {
	if t.kind == tokEOF {
		return "end"
	}
	return strconv.Quote(t.text)
}

func (p *parser) peek() token { return p.toks[p.i] }
func (p *parser) next() token { t := p.toks[p.i]; p.i++; return t }

func (p *parser) keyword(k string) bool {
	t := p.peek()
	if t.kind == tokWord && strings.EqualFold(t.text, k) {
		p.i++
		return true
	}
	return false
}

func (p *parser) enter() error {
	p.depth++
	if p.depth > maxFilterDepth {
		return filterError("nested deeper than " + strconv.Itoa(maxFilterDepth))
	}
	return nil
}

func (p *parser) or() (*expr, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer func() { p.depth-- }()
	left, err := p.and()
	if err != nil {
		return nil, err
	}
	for p.keyword("or") {
		right, err := p.and()
		if err != nil {
			return nil, err
		}
		left = &expr{op: "or", args: []*expr{left, right}}
	}
	return left, nil
}

func (p *parser) and() (*expr, error) {
	left, err := p.unary()
	if err != nil {
		return nil, err
	}
	for p.keyword("and") {
		right, err := p.unary()
		if err != nil {
			return nil, err
		}
		left = &expr{op: "and", args: []*expr{left, right}}
	}
	return left, nil
}

func (p *parser) unary() (*expr, error) {
	t := p.peek()
	switch {
	case t.kind == tokWord && strings.EqualFold(t.text, "not"):
		p.i++
		if p.peek().kind != tokLParen {
			return nil, filterError("not needs a parenthesised filter")
		}
		e, err := p.group()
		if err != nil {
			return nil, err
		}
		return &expr{op: "not", args: []*expr{e}}, nil
	case t.kind == tokLParen:
		return p.group()
	case t.kind == tokWord:
		return p.comparison()
	}
	return nil, filterError("expected an attribute, \"not\" or \"(\" at " + strconv.Itoa(t.pos) + ", got " + quote(t))
}

func (p *parser) group() (*expr, error) {
	p.next() // (
	e, err := p.or()
	if err != nil {
		return nil, err
	}
	if t := p.next(); t.kind != tokRParen {
		return nil, filterError("expected \")\" at " + strconv.Itoa(t.pos) + ", got " + quote(t))
	}
	return e, nil
}

var compareOps = []string{"eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le"}

func (p *parser) comparison() (*expr, error) {
	t := p.next()
	path, err := parseAttrPath(t.text)
	if err != nil {
		return nil, err
	}
	if p.peek().kind == tokLBracket {
		if path.sub != "" {
			return nil, filterError("a value filter follows an attribute, not a sub-attribute")
		}
		p.next()
		inner, err := p.or()
		if err != nil {
			return nil, err
		}
		if t := p.next(); t.kind != tokRBracket {
			return nil, filterError("expected \"]\" at " + strconv.Itoa(t.pos) + ", got " + quote(t))
		}
		return &expr{op: "[]", path: path, args: []*expr{inner}}, nil
	}
	op := p.next()
	if op.kind != tokWord {
		return nil, filterError("expected an operator after " + t.text)
	}
	o := strings.ToLower(op.text)
	if o == "pr" {
		return &expr{op: "pr", path: path}, nil
	}
	if !contains(compareOps, o) {
		return nil, filterError("unknown operator " + strconv.Quote(op.text))
	}
	v := p.next()
	e := &expr{op: o, path: path}
	switch v.kind {
	case tokString:
		e.value = v.text
	case tokWord:
		switch strings.ToLower(v.text) {
		case "true":
			e.value = true
		case "false":
			e.value = false
		case "null":
			e.value = nil
		default:
			if _, err := strconv.ParseFloat(v.text, 64); err != nil {
				return nil, filterError("bad value " + strconv.Quote(v.text))
			}
			e.value = json.Number(v.text)
		}
	default:
		return nil, filterError("expected a value after " + op.text)
	}
	return e, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// parseAttrPath splits [uri:]attr[.sub]. A URI is everything up to the
// last ":" (schema URNs hold dots, as in "2.0").
func parseAttrPath(s string) (attrPath, error) {
	var p attrPath
	if i := strings.LastIndexByte(s, ':'); i >= 0 {
		p.uri, s = s[:i], s[i+1:]
	}
	p.attr, p.sub, _ = strings.Cut(s, ".")
	if !validName(p.attr) || (p.sub != "" && !validName(p.sub)) || strings.Contains(p.sub, ".") {
		return p, filterError("bad attribute path " + strconv.Quote(s))
	}
	return p, nil
}

// validName: ATTRNAME = ALPHA *(nameChar), nameChar = "-" / "_" / DIGIT / ALPHA ("$ref" too).
func validName(s string) bool {
	if s == "$ref" {
		return true
	}
	if s == "" || !(s[0] >= 'a' && s[0] <= 'z' || s[0] >= 'A' && s[0] <= 'Z') {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// patchPath is a PATCH path: attrPath, or attr[filter][.sub].
type patchPath struct {
	attrPath
	filter *expr // nil without a value filter
}

// parsePatchPath parses the path of a PATCH operation (RFC 7644 section
// 3.5.2).
func parsePatchPath(s string) (patchPath, error) {
	var pp patchPath
	bad := func(msg string) error {
		return &roster.Error{Code: roster.EINVALID, Message: "Invalid path " + strconv.Quote(s) + ": " + msg + ".", SCIMType: "invalidPath"}
	}
	if len(s) > maxFilterLen {
		return pp, bad("too long")
	}
	head, rest, hasFilter := strings.Cut(s, "[")
	var err error
	if pp.attrPath, err = parseAttrPath(strings.TrimSpace(head)); err != nil {
		return pp, bad("bad attribute")
	}
	if !hasFilter {
		return pp, nil
	}
	if pp.sub != "" {
		return pp, bad("a value filter follows an attribute, not a sub-attribute")
	}
	end := strings.LastIndexByte(rest, ']')
	if end < 0 {
		return pp, bad("missing \"]\"")
	}
	if pp.filter, err = parseFilter(rest[:end]); err != nil {
		return pp, bad(roster.ErrorMessage(err))
	}
	tail := strings.TrimSpace(rest[end+1:])
	if tail != "" {
		if !strings.HasPrefix(tail, ".") || !validName(tail[1:]) {
			return pp, bad("bad sub-attribute after the filter")
		}
		pp.sub = tail[1:]
	}
	return pp, nil
}
