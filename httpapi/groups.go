package httpapi

import (
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/rosterhq/roster"
)

type groupJSON struct {
	ID          int64  `json:"id"`
	Name        string `json:"name"`
	MemberCount int    `json:"memberCount"`
}

func groupOut(g *roster.Group) groupJSON {
	return groupJSON{ID: g.ID, Name: g.Name, MemberCount: g.MemberCount}
}

func (s *Server) handleGroupList(w http.ResponseWriter, r *http.Request) error {
	q, err := nameQuery(r)
	if err != nil {
		return err
	}
	return servePage(w, r, func(p roster.Page) ([]*roster.Group, int, error) {
		if q != "" {
			return s.store.SearchGroups(r.Context(), q, p)
		}
		return s.store.FindGroups(r.Context(), p)
	}, groupOut)
}

// nameQuery reads the optional q of the group and workspace lists: text
// their name contains, trimmed; blank means no filter.
func nameQuery(r *http.Request) (string, error) {
	q := strings.TrimSpace(r.URL.Query().Get("q"))
	if utf8.RuneCountInString(q) > roster.MaxSearchLen {
		return "", roster.FieldError(roster.EINVALID, "q", "Ensure this value has at most 256 characters.")
	}
	return q, nil
}

// readGroupName decodes a group body: name is required.
func readGroupName(w http.ResponseWriter, r *http.Request) (string, error) {
	b, err := decodeBody(w, r, []string{"name"}, []string{"id", "memberCount"})
	if err != nil {
		return "", err
	}
	b.require("name")
	name := b.str("name")
	if name != nil {
		if err := roster.ValidateName("name", *name); err != nil {
			b.addFieldErrors(err)
		}
	}
	if err := b.err(); err != nil {
		return "", err
	}
	return *name, nil
}

func (s *Server) handleGroupCreate(w http.ResponseWriter, r *http.Request) error {
	if err := roster.RequireAdmin(viewer(r)); err != nil {
		return err
	}
	name, err := readGroupName(w, r)
	if err != nil {
		return err
	}
	g := &roster.Group{Name: name}
	if err := s.store.CreateGroup(r.Context(), viewer(r).ID, g); err != nil {
		return err
	}
	w.Header().Set("Location", "/api/v3/groups/"+strconv.FormatInt(g.ID, 10))
	return encode(w, http.StatusCreated, groupOut(g))
}

func (s *Server) handleGroupGet(w http.ResponseWriter, r *http.Request) error {
	id, err := parseID(r, "id")
	if err != nil {
		return err
	}
	g, err := s.store.FindGroupByID(r.Context(), id)
	if err != nil {
		return err
	}
	return encode(w, http.StatusOK, groupOut(g))
}

func (s *Server) handleGroupPatch(w http.ResponseWriter, r *http.Request) error {
	id, err := parseID(r, "id")
	if err != nil {
		return err
	}
	if err := roster.RequireAdmin(viewer(r)); err != nil {
		return err
	}
	name, err := readGroupName(w, r)
	if err != nil {
		return err
	}
	g, err := s.store.UpdateGroup(r.Context(), viewer(r).ID, id, name)
	if err != nil {
		return err
	}
	return encode(w, http.StatusOK, groupOut(g))
}

func (s *Server) handleGroupDelete(w http.ResponseWriter, r *http.Request) error {
	id, err := parseID(r, "id")
	if err != nil {
		return err
	}
	if err := roster.RequireAdmin(viewer(r)); err != nil {
		return err
	}
	if err := s.store.DeleteGroup(r.Context(), viewer(r).ID, id); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) handleGroupMembers(w http.ResponseWriter, r *http.Request) error {
	id, err := parseID(r, "id")
	if err != nil {
		return err
	}
	p, err := parsePage(r)
	if err != nil {
		return err
	}
	users, total, err := s.store.FindGroupMembers(r.Context(), id, p.page())
	if err != nil {
		return err
	}
	return writePage(w, r, p, total, summaries(users))
}

// groupMember parses the group and user ids of a membership path and
// requires an admin.
func groupMember(r *http.Request) (int64, int64, error) {
	gid, err := parseID(r, "id")
	if err != nil {
		return 0, 0, err
	}
	uid, err := parseID(r, "userId")
	if err != nil {
		return 0, 0, err
	}
	return gid, uid, roster.RequireAdmin(viewer(r))
}

func (s *Server) handleGroupMemberPut(w http.ResponseWriter, r *http.Request) error {
	gid, uid, err := groupMember(r)
	if err != nil {
		return err
	}
	if err := s.store.AddGroupMember(r.Context(), viewer(r).ID, gid, uid); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) handleGroupMemberDelete(w http.ResponseWriter, r *http.Request) error {
	gid, uid, err := groupMember(r)
	if err != nil {
		return err
	}
	if err := s.store.RemoveGroupMember(r.Context(), viewer(r).ID, gid, uid); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
