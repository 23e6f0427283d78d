package scim

import (
	"strings"
	"testing"

	"github.com/rosterhq/roster"
)

// show prints a parsed filter back in one canonical form.
func show(e *expr) string {
	switch e.op {
	case "and", "or":
		return "(" + show(e.args[0]) + " " + e.op + " " + show(e.args[1]) + ")"
	case "not":
		return "not " + show(e.args[0])
	case "[]":
		return e.path.attr + "[" + show(e.args[0]) + "]"
	case "pr":
		return e.path.String() + " pr"
	}
	v := "null"
	switch x := e.value.(type) {
	case string:
		v = `"` + x + `"`
	case bool:
		v = map[bool]string{true: "true", false: "false"}[x]
	case interface{ String() string }:
		v = x.String()
	}
	return e.path.String() + " " + e.op + " " + v
}

func TestParseFilter(t *testing.T) {
	cases := map[string]string{
		`userName eq "bjensen"`:                                      `userName eq "bjensen"`,
		`userName Eq "a\"b"`:                                         `userName eq "a"b"`,
		`name.familyName co "O'Malley"`:                              `name.familyName co "O'Malley"`,
		`title pr`:                                                   `title pr`,
		`meta.lastModified gt "2011-05-13T04:42:34Z"`:                `meta.lastModified gt "2011-05-13T04:42:34Z"`,
		`a eq 1 and b ne true or c lt 2.5`:                           `((a eq 1 and b ne true) or c lt 2.5)`,
		`a eq 1 or b eq 2 and c eq 3`:                                `(a eq 1 or (b eq 2 and c eq 3))`,
		`not (a eq null) AND (b sw "x" OR c ew "y")`:                 `(not a eq null and (b sw "x" or c ew "y"))`,
		`emails[type eq "work" and value co "@example.com"]`:         `emails[(type eq "work" and value co "@example.com")]`,
		`urn:ietf:params:scim:schemas:core:2.0:User:userName ge "a"`: `userName ge "a"`,
		`x gt 1 and y ge 2 and z le 3`:                               `((x gt 1 and y ge 2) and z le 3)`,
	}
	for in, want := range cases {
		e, err := parseFilter(in)
		if err != nil {
			t.Errorf("%s: %v", in, err)
			continue
		}
		if got := show(e); got != want {
			t.Errorf("%s: got %s, want %s", in, got, want)
		}
	}
	for _, bad := range []string{``, `userName`, `userName eq`, `userName zz "a"`, `(a eq 1`, `a eq 1)`, `not a eq 1`,
		`a eq "x`, `a eq x`, `a[b eq 1`, `a.b.c eq 1`, `1a eq 1`, `a eq 1 and`, `a & b`, strings.Repeat("(", 40) + "a pr" + strings.Repeat(")", 40)} {
		if _, err := parseFilter(bad); roster.ErrorCode(err) != roster.EINVALID {
			t.Errorf("%q parsed (err %v)", bad, err)
		}
	}
}

func TestParsePatchPath(t *testing.T) {
	pp, err := parsePatchPath(`emails[type eq "work"].value`)
	if err != nil || pp.attr != "emails" || pp.sub != "value" || pp.filter == nil || show(pp.filter) != `type eq "work"` {
		t.Fatalf("%+v %v", pp, err)
	}
	pp, err = parsePatchPath(`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value`)
	if err != nil || pp.uri != "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User" || pp.attr != "manager" || pp.sub != "value" {
		t.Fatalf("%+v %v", pp, err)
	}
	for _, bad := range []string{`emails[type eq "work"`, `emails[type eq].value`, `emails[type eq "work"]value`, `a.b[c eq 1]`, ``} {
		if _, err := parsePatchPath(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

// FuzzParseFilter: any input either parses or is an EINVALID error, never
// a panic or another error, and so does its translation for /Users.
func FuzzParseFilter(f *testing.F) {
	for _, s := range []string{`userName eq "bjensen"`, `not (a pr) or b[c eq 1 and d ne "x"]`, `a eq true and (b lt 1.5e3 or c ge null)`,
		`emails[type eq "work"]`, `urn:x:y:a.b sw "\u00e9"`, `((((a pr))))`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		e, err := parseFilter(s)
		if err != nil {
			if roster.ErrorCode(err) != roster.EINVALID {
				t.Fatalf("%q: %v", s, err)
			}
			return
		}
		if _, err := userResource.toFilter(e); err != nil && roster.ErrorCode(err) != roster.EINVALID {
			t.Fatalf("%q: translation: %v", s, err)
		}
	})
}
