package sqlstore

import (
	"fmt"
	"testing"
)

func TestSearchGrams(t *testing.T) {
	var got []string
	SearchGrams("añb\x1fab\x1f\x1fxyz", func(g string) { got = append(got, g) })
	want := fmt.Sprint([]string{"a", "añ", "añb", "ñ", "ñb", "b", "ab", "x", "xy", "xyz", "y", "yz", "z"})
	if fmt.Sprint(got) != want {
		t.Errorf("SearchGrams = %v, want %v", got, want)
	}
	got = nil
	SearchPrefixes("añbc\x1fab\x1f\x1fa", func(g string) { got = append(got, g) })
	if want := fmt.Sprint([]string{"a", "añ", "añb", "ab"}); fmt.Sprint(got) != want {
		t.Errorf("SearchPrefixes = %v, want %v", got, want)
	}
}

func TestGramCounts(t *testing.T) {
	c := GramCounts{}
	c.Add("ab\x1fab", true)
	c.Add("b", false)
	want := GramCounts{{"a", false, true}: 1, {"ab", false, true}: 1, {"b", false, true}: 1, {"a", true, true}: 1, {"ab", true, true}: 1,
		{"b", false, false}: 1, {"b", true, false}: 1}
	if fmt.Sprint(c) != fmt.Sprint(want) {
		t.Errorf("GramCounts = %v, want %v", c, want)
	}
}
