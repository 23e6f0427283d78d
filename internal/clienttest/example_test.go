package clienttest

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"

	"github.com/rosterhq/roster/client"
	"github.com/rosterhq/roster/httpapi"
	"github.com/rosterhq/roster/stream"
)

// startRoster starts a Roster server on a temporary database, with an
// admin "admin" whose password is adminPassword, and returns its URL.
func startRoster() (url string, stop func()) {
	dir, err := os.MkdirTemp("", "roster-example")
	if err != nil {
		log.Fatal(err)
	}
	s, err := startServer(dir, httpapi.Config{}, stream.Options{}, adminPassword)
	if err != nil {
		log.Fatal(err)
	}
	return s.URL, func() { s.stop(); os.RemoveAll(dir) }
}

func Example() {
	baseURL, stop := startRoster() // say "http://localhost:8080"
	defer stop()
	ctx := context.Background()

	c, err := client.New(baseURL)
	if err != nil {
		log.Fatal(err)
	}
	if _, err := c.Login(ctx, "admin", adminPassword); err != nil {
		log.Fatal(err)
	}

	// Create a user, then change it only if nobody did in between.
	jane, err := c.CreateUser(ctx, client.UserCreate{Username: "jdoe", Email: "jdoe@example.com", FirstName: "Jane"})
	if err != nil {
		log.Fatal(err)
	}
	updated, err := c.PatchUser(ctx, jane.ID, client.UserUpdate{Bio: new("Design lead")}, jane.ETag)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(updated.Username, "-", updated.Bio)

	// The old ETag is stale now; errors carry the problem details.
	_, err = c.PatchUser(ctx, jane.ID, client.UserUpdate{Bio: new("Too late")}, jane.ETag)
	var apiErr *client.Error
	if errors.As(err, &apiErr) && errors.Is(err, client.ErrPreconditionFailed) {
		fmt.Println(apiErr.Status, apiErr.Detail)
	}
	_, err = c.PatchUser(ctx, jane.ID, client.UserUpdate{Email: new("not an address")}, "")
	if errors.Is(err, client.ErrInvalid) && errors.As(err, &apiErr) {
		fmt.Println("email:", apiErr.Errors["email"][0])
	}

	// Every user, one page of one at a time.
	for u, err := range c.AllUsers(ctx, client.UserListOptions{PageSize: 1}) {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println("user", u.ID, u.Username)
	}

	// Jane's live activities; the stream reconnects by itself if dropped.
	s, err := c.Stream(ctx, jane.ID, client.StreamOptions{})
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	if _, err := c.CreateActivity(ctx, client.ActivityCreate{Verb: "document.created", Actor: jane.ID,
		Object: &client.ActivityObject{Type: "document", ID: "d-77", Name: "Q3 plan"}}); err != nil {
		log.Fatal(err)
	}
	if s.Next() {
		a := s.Activity()
		fmt.Println(*a.Actor.Username, a.Verb, a.Object.Name)
	}
	// Output:
	// jdoe - Design lead
	// 412 The user has changed since it was read (If-Match failed).
	// email: Enter a valid email address.
	// user 1 admin
	// user 2 jdoe
	// jdoe document.created Q3 plan
}
