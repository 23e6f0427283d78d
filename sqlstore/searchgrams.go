package sqlstore

import (
	"slices"
	"strings"
	"unicode/utf8"
)

// The grams of search_grams (migration 0080 of either database), which
// counts, per gram, the users whose search_text has it.

// MaxSearchGram is the longest gram search_grams counts.
const MaxSearchGram = 3

// SearchGrams calls yield once for each distinct substring of 1 to MaxSearchGram
// characters of the fields of a search_text (the four folded fields joined
// by U+001F; no gram spans two fields).
func SearchGrams(text string, yield func(string)) {
	seen := make(map[string]struct{}, 3*len(text))
	for field := range strings.SplitSeq(text, "\x1f") {
		for i := 0; i < len(field); {
			_, size := utf8.DecodeRuneInString(field[i:])
			end := i
			for n := 0; n < MaxSearchGram && end < len(field); n++ {
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

// SearchPrefixes calls yield once for each distinct prefix of 1 to MaxSearchGram
// characters of the fields of a search_text.
func SearchPrefixes(text string, yield func(string)) {
	var seen []string
	for field := range strings.SplitSeq(text, "\x1f") {
		end := 0
		for n := 0; n < MaxSearchGram && end < len(field); n++ {
			_, s := utf8.DecodeRuneInString(field[end:])
			end += s
			if g := field[:end]; !slices.Contains(seen, g) {
				seen = append(seen, g)
				yield(g)
			}
		}
	}
}

// GramKey is the key of a row of search_grams: a gram, whether it is a
// field's prefix (else any substring), and the users' isActive.
type GramKey struct {
	Gram           string
	Prefix, Active bool
}

// GramCounts counts users per GramKey: the rows of search_grams.
type GramCounts map[GramKey]int64

// Add counts the grams of one user's search_text.
func (c GramCounts) Add(text string, active bool) {
	SearchGrams(text, func(g string) { c[GramKey{g, false, active}]++ })
	SearchPrefixes(text, func(g string) { c[GramKey{g, true, active}]++ })
}
