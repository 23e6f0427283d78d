package sqlite

import (
	"database/sql/driver"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/rosterhq/roster/sqlstore"
	sqlite3 "modernc.org/sqlite"
)

// maxGram is the longest gram search_grams counts: single terms up to this
// many characters are counted from it (sqlstore.SearchUsers).
const maxGram = sqlstore.MaxSearchGram

// newDriver returns the driver that opens Roster's connections: a driver of
// its own, so that the functions the search_grams and search_counts
// triggers and builds call are registered on Roster's connections alone
// (the package-level driver would add them to every connection of the
// process).
func newDriver() *sqlite3.Driver {
	d := &sqlite3.Driver{}
	d.MustRegisterDeterministicScalarFunction("roster_grams", 1, func(_ *sqlite3.FunctionContext, args []driver.Value) (driver.Value, error) {
		return gramsJSON(args[0], sqlstore.SearchGrams)
	})
	d.MustRegisterDeterministicScalarFunction("roster_prefixes", 1, func(_ *sqlite3.FunctionContext, args []driver.Value) (driver.Value, error) {
		return gramsJSON(args[0], sqlstore.SearchPrefixes)
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
			return &gramCounter{counts: sqlstore.GramCounts{}}, nil
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

// gramCounter is the aggregate roster_gram_counts(search_text, is_active):
// the rows of search_grams for the users it steps over, as a JSON array of
// [gram, prefix, is_active, users].
type gramCounter struct {
	counts sqlstore.GramCounts
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
	c.counts.Add(text, active) // it keeps its keys: text is a copy (VolatileArgs is off)
	return nil
}

func (c *gramCounter) WindowInverse(*sqlite3.FunctionContext, []driver.Value) error {
	return fmt.Errorf("roster_gram_counts: not a window function")
}

func (c *gramCounter) WindowValue(*sqlite3.FunctionContext) (driver.Value, error) {
	rows := make([][4]any, 0, len(c.counts))
	for k, n := range c.counts {
		rows = append(rows, [4]any{k.Gram, b2i(k.Prefix), b2i(k.Active), n})
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
