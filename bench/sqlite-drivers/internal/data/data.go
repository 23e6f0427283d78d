// Package data generates deterministic, realistic-ish synthetic users.
package data

import (
	"math/rand/v2"
	"strconv"
	"strings"
)

type User struct {
	Username, Email, First, Last, Search string
}

const letters = "abcdefghijklmnopqrstuvwxyz"

func name(r *rand.Rand) string {
	n := 5 + r.IntN(6) // 5..10 letters
	b := make([]byte, n)
	for i := range b {
		b[i] = letters[r.IntN(26)]
	}
	b[0] -= 'a' - 'A'
	return string(b)
}

// Gen returns n users. username = initial+last+digits, email = first.last+digits@example.com,
// search = lower(username||' '||email||' '||first||' '||last).
func Gen(n int, seed uint64) []User {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	out := make([]User, n)
	for i := range out {
		first, last := name(r), name(r)
		lf, ll := strings.ToLower(first), strings.ToLower(last)
		u := User{
			First:    first,
			Last:     last,
			Username: lf[:1] + ll + strconv.Itoa(r.IntN(1000)),
			Email:    lf + "." + ll + strconv.Itoa(10+r.IntN(9990)) + "@example.com",
		}
		u.Search = strings.ToLower(u.Username + " " + u.Email + " " + u.First + " " + u.Last)
		out[i] = u
	}
	return out
}

// Terms returns n selective FTS phrase terms drawn from real rows: the 4 characters of the
// username ending at its first digit (e.g. "ith4" from "jsmith42"), quoted as an FTS5 string.
func Terms(users []User, n int, seed uint64) []string {
	r := rand.New(rand.NewPCG(seed, 7))
	out := make([]string, 0, n)
	for len(out) < n {
		u := users[r.IntN(len(users))].Username
		d := strings.IndexAny(u, "0123456789")
		if d < 3 {
			continue
		}
		out = append(out, `"`+u[d-3:d+1]+`"`)
	}
	return out
}

// IDs returns n random ids in [1, max].
func IDs(n int, max int64, seed uint64) []int64 {
	r := rand.New(rand.NewPCG(seed, 11))
	out := make([]int64, n)
	for i := range out {
		out[i] = 1 + r.Int64N(max)
	}
	return out
}
