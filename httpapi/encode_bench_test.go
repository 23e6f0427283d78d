package httpapi

import (
	"io"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/rosterhq/roster"
)

func benchUsers(n int) []*roster.User {
	now := time.Date(2026, 11, 27, 10, 11, 12, 123456000, time.UTC)
	users := make([]*roster.User, n)
	for i := range users {
		id := int64(i + 1)
		users[i] = &roster.User{ID: id, Username: "zoë.müller" + strconv.Itoa(i), Email: "zoe.muller" + strconv.Itoa(i) + "@example.com",
			FirstName: "Zoë", LastName: "Müller", IsActive: true, Timezone: "Europe/Berlin", Locale: "de", DateJoined: now,
			LastActiveAt: &now, Groups: []roster.GroupRef{{ID: 3, Name: "design"}}}
	}
	return users
}

// BenchmarkEncodeUserPage measures the JSON of one default page (50 user
// summaries in the pagination envelope), as GET /users sends it (by hand)
// and with encoding/json.
func BenchmarkEncodeUserPage(b *testing.B) {
	users := benchUsers(50)
	list := make([]*roster.UserSummary, len(users))
	for i, u := range users {
		s := u.Summary()
		list[i] = &s
	}
	r := httptest.NewRequest("GET", "http://roster.test/api/v3/users?page=2", nil)
	p := pageParams{number: 2, size: 50}
	b.Run("by-hand", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			body, err := paginate(r, p, 1_000_000, list)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := io.Discard.Write(summaryPageJSON(body)); err != nil {
				b.Fatal(err)
			}
		}
	})
	// encoding/json, as the search page is still written.
	b.Run("encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			body, err := paginate(r, p, 1_000_000, summaries(users))
			if err != nil {
				b.Fatal(err)
			}
			if err := jsonEncode(io.Discard, body); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkEncodeUserProfile measures one full profile with its ETag, as
// GET /users/{id} sends it.
func BenchmarkEncodeUserProfile(b *testing.B) {
	u := benchUsers(1)[0]
	b.ReportAllocs()
	for b.Loop() {
		w := httptest.NewRecorder()
		if err := writeProfile(w, 200, u); err != nil {
			b.Fatal(err)
		}
	}
}
