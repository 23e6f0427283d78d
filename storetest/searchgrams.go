package storetest

import (
	"database/sql"
	"testing"
)

// Gram is one key of the search_grams table both stores keep for short
// search terms: a substring of a search_text field (Prefix false) or a
// prefix of one (Prefix true), counted among active or inactive users.
type Gram struct {
	Text           string
	Prefix, Active bool
}

// CheckSearchGrams fails unless the search_grams table read through db
// holds exactly want, the users counted per gram (rows whose count fell to
// 0 may stay). It reports at most 20 differences.
func CheckSearchGrams(t testing.TB, db *sql.DB, want map[Gram]int64) {
	t.Helper()
	rows, err := db.Query("SELECT gram, prefix, is_active, users FROM search_grams")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	got := map[Gram]int64{}
	for rows.Next() {
		var k Gram
		var n int64
		if err := rows.Scan(&k.Text, &k.Prefix, &k.Active, &n); err != nil {
			t.Fatal(err)
		}
		if n != 0 {
			got[k] = n
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	bad := 0
	for k, n := range want {
		if got[k] != n {
			if bad++; bad <= 20 {
				t.Errorf("search_grams %+v = %d, want %d", k, got[k], n)
			}
		}
	}
	for k, n := range got {
		if _, ok := want[k]; !ok {
			if bad++; bad <= 20 {
				t.Errorf("search_grams %+v = %d, want none", k, n)
			}
		}
	}
	if bad > 0 {
		t.Fatalf("%d search_grams rows wrong of %d", bad, len(want))
	}
}
