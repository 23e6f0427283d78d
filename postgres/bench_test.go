package postgres

import (
	"testing"

	"github.com/rosterhq/roster"
)

// BenchmarkSearchFrom measures building the pg_trgm LIKE conditions of a
// two-term search (no database needed).
func BenchmarkSearchFrom(b *testing.B) {
	terms := roster.SearchTerms("Müller zoë.mul")
	d := &dialect{}
	b.ReportAllocs()
	for b.Loop() {
		if _, where, _ := d.SearchFrom(terms); len(where) != 2 {
			b.Fatal(where)
		}
	}
}
