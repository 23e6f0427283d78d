// Package client is a typed Go client of Roster's HTTP API (/api/v3), one
// method per route.
//
//	c, err := client.New("http://localhost:8080", client.WithToken(token))
//	me, err := c.Me(ctx)
//
// Every method takes a context. Error answers are *Error values carrying the
// problem details (status, detail, field errors, Retry-After) and match the
// sentinel errors with errors.Is:
//
//	_, err := c.PatchUser(ctx, id, client.UserUpdate{Email: client.Ptr("bad")}, "")
//	if errors.Is(err, client.ErrInvalid) {
//		var e *client.Error
//		errors.As(err, &e)
//		fmt.Println(e.Errors["email"])
//	}
//
// List methods return one *Page; Page.All and the All* methods iterate
// over every item, following next (activity feeds walk with before= so
// that new activities do not shift them). Stream reads a user's live
// activities and reconnects by itself with Last-Event-ID.
package client
