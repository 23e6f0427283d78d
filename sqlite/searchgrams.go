package sqlite

import (
	"database/sql/driver"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/rosterhq/roster/sqlstore"
	sqlite3 "modernc.org/sqlite"
)

// maxGram is the longest gram search_grams counts: single terms up to this
// many characters are counted from it (sqlstore.SearchUsers).
const maxGram = 3

// newDriver returns the driver that opens Roster's connections: a driver of
// its own, so that the functions the search_grams and search_counts
// triggers and builds call are registered on Roster's connections alone
// (the package-level driver would add them to every connection of the
// process).
func newDriver() *sqlite3.Driver {
	d := &sqlite3.Driver{}
	d.MustRegisterDeterministicScalarFunction("roster_grams", 1, func(_ *sqlite3.FunctionContext, args []driver.Value) (driver.Value, error) {
		return gramsJSON(args[0], searchGrams)
	})
	d.MustRegisterDeterministicScalarFunction("roster_prefixes", 1, func(_ *sqlite3.FunctionContext, args []driver.Value) (driver.Value, error) {
		return gramsJSON(args[0], searchPrefixes)
	})
	d.MustRegisterDeterministicScalarFunction("roster_search_rank", 2, func(_ *sqlite3.FunctionContext, args []driver.Value) (driver.Value, error) {
		text, ok1 := args[0].(string)
		terms, ok2 := args[1].(string)
		if !ok1 || !ok2 {
			return nil, fmt.Errorf("roster_search_rank: arguments are %T and %T, want text", args[0], args[1])
		}
		return int64(sqlstore.SearchRank(text, strings.Split(terms, "\x1f"))), nil
	})
	d.MustRegisterFunction("roster_gram_counts", &sqlite3.FunctionImpl{
		NArgs:         2,
		Deterministic: true,
		MakeAggregate: func(sqlite3.FunctionContext) (sqlite3.AggregateFunction, error) {
			return &gramCounter{counts: map[gramKey]int64{}}, nil
		},
	})
	return d
}

func gramsJSON(v driver.Value, grams func(string, func(string))) (driver.Value, error) {
	text, ok := v.(string)
	if !ok {
		return nil, fmt.Errorf("roster grams: search_text is %T, want text", v)
	}
	var out []string
	grams(text, func(g string) { out = append(out, g) })
	if out == nil {
		return "[]", nil
	}
	b, err := json.Marshal(out)
	return string(b), err
}

// searchGrams calls yield once for each distinct substring of 1 to maxGram
// characters of the fields of a search_text (the four folded fields joined
// by U+001F; no gram spans two fields).
func searchGrams(text string, yield func(string)) {
	seen := make(map[string]struct{}, 3*len(text))
	for field := range strings.SplitSeq(text, "\x1f") {
		for i := 0; i < len(field); {
			_, size := utf8.DecodeRuneInString(field[i:])
			end := i
			for n := 0; n < maxGram && end < len(field); n++ {
				_, s := utf8.DecodeRuneInString(field[end:])
				end += s
				g := field[i:end]
				if _, ok := seen[g]; !ok {
					seen[g] = struct{}{}
					yield(g)
				}
			}
			i += size
		}
	}
}

// searchPrefixes calls yield once for each distinct prefix of 1 to maxGram
// characters of the fields of a search_text.
func searchPrefixes(text string, yield func(string)) {
	var seen []string
	for field := range strings.SplitSeq(text, "\x1f") {
		end := 0
		for n := 0; n < maxGram && end < len(field); n++ {
			_, s := utf8.DecodeRuneInString(field[end:])
			end += s
			if g := field[:end]; !slices.Contains(seen, g) {
				seen = append(seen, g)
				yield(g)
			}
		}
	}
}

type gramKey struct {
	gram           string
	prefix, active bool
}

// gramCounter is the aggregate roster_gram_counts(search_text, is_active):
// the rows of search_grams for the users it steps over, as a JSON array of
// [gram, prefix, is_active, users].
type gramCounter struct {
	counts map[gramKey]int64
}

func (c *gramCounter) Step(_ *sqlite3.FunctionContext, args []driver.Value) error {
	text, ok := args[0].(string)
	if !ok {
		return fmt.Errorf("roster_gram_counts: search_text is %T, want text", args[0])
	}
	var active bool
	switch a := args[1].(type) {
	case int64:
		active = a != 0
	case bool:
		active = a
	default:
		return fmt.Errorf("roster_gram_counts: is_active is %T, want an integer", args[1])
	}
	// The map keeps its keys: text is a copy (VolatileArgs is off).
	searchGrams(text, func(g string) { c.counts[gramKey{g, false, active}]++ })
	searchPrefixes(text, func(g string) { c.counts[gramKey{g, true, active}]++ })
	return nil
}

func (c *gramCounter) WindowInverse(*sqlite3.FunctionContext, []driver.Value) error {
	return fmt.Errorf("roster_gram_counts: not a window function")
}

func (c *gramCounter) WindowValue(*sqlite3.FunctionContext) (driver.Value, error) {
	rows := make([][4]any, 0, len(c.counts))
	for k, n := range c.counts {
		rows = append(rows, [4]any{k.gram, b2i(k.prefix), b2i(k.active), n})
	}
	b, err := json.Marshal(rows)
	return string(b), err
}

func (c *gramCounter) Final(*sqlite3.FunctionContext) {}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
