package client_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"strings"
	"testing"

	"github.com/rosterhq/roster/client"
)

// Example is the example of the repository's README ("Go client"); it is
// compiled, not run (it needs a server: internal/clienttest runs one).
func Example() {
	ctx := context.Background()
	c, err := client.New("http://localhost:8080")
	if err != nil {
		log.Fatal(err)
	}
	if _, err := c.Login(ctx, "admin", "correct-horse-battery"); err != nil {
		log.Fatal(err)
	}

	jane, err := c.CreateUser(ctx, client.UserCreate{Username: "jdoe", Email: "jdoe@example.com"})
	if err != nil {
		log.Fatal(err)
	}
	// Only if nobody changed it since: a stale ETag is client.ErrPreconditionFailed.
	_, err = c.PatchUser(ctx, jane.ID, client.UserUpdate{Bio: client.Ptr("Design lead")}, jane.ETag)
	var apiErr *client.Error
	if errors.Is(err, client.ErrInvalid) && errors.As(err, &apiErr) {
		fmt.Println(apiErr.Errors) // field -> messages
	}

	for u, err := range c.AllUsers(ctx, client.UserListOptions{Ordering: "username"}) {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(u.ID, u.Username)
	}

	s, err := c.Stream(ctx, jane.ID, client.StreamOptions{Verb: "document.*"})
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	for s.Next() {
		a := s.Activity()
		fmt.Println(a.ID, a.Verb)
	}
	log.Println("stream ended:", s.Err()) // after 401/403/404, or when ctx ends
}

// TestReadmeExample holds Example to the README's Go client example, line
// by line, so that the README shows code that compiles (with this
// module's Go version, 1.25).
func TestReadmeExample(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Skipf("no README beside the module (a downloaded copy): %v", err)
	}
	_, section, _ := strings.Cut(string(readme), "\n## Go client\n")
	_, block, _ := strings.Cut(section, "```go\n")
	block, _, _ = strings.Cut(block, "```")
	example, err := os.ReadFile("example_test.go")
	if err != nil {
		t.Fatal(err)
	}
	lines := map[string]bool{}
	for l := range strings.Lines(string(example)) {
		lines[strings.TrimSpace(l)] = true
	}
	n := 0
	for l := range strings.Lines(block) {
		if l = strings.TrimSpace(l); l != "" {
			n++
			if !lines[l] {
				t.Errorf("README line not in Example: %s", l)
			}
		}
	}
	if n < 20 {
		t.Fatalf("README's Go client example has %d lines; not found?", n)
	}
}
