package httpapi

import (
	"net/http"
	"strconv"

	"github.com/rosterhq/roster"
)

type workspaceJSON struct {
	ID        int64   `json:"id"`
	Name      string  `json:"name"`
	Slug      string  `json:"slug"`
	CreatedAt apiTime `json:"createdAt"`
}

func workspaceOut(w *roster.Workspace) workspaceJSON {
	return workspaceJSON{ID: w.ID, Name: w.Name, Slug: w.Slug, CreatedAt: apiTime(w.CreatedAt)}
}

type subjectJSON struct {
	Type string `json:"type"`
	ID   int64  `json:"id"`
	Name string `json:"name"`
}

type grantJSON struct {
	Subject subjectJSON `json:"subject"`
	Role    string      `json:"role"`
}

func grantOut(g *roster.Grant) grantJSON {
	return grantJSON{Subject: subjectJSON{Type: g.Subject.Type, ID: g.Subject.ID, Name: g.Subject.Name}, Role: g.Role.String()}
}

type memberJSON struct {
	userSummary
	Role string   `json:"role"`
	Via  []string `json:"via"`
}

var errWorkspaceNotFound = roster.Errorf(roster.ENOTFOUND, "Workspace not found.")

// workspaceAccess loads the workspace of the path and the viewer's role in
// it. A workspace the viewer cannot read is reported as absent.
func (s *Server) workspaceAccess(r *http.Request) (*roster.Workspace, roster.Role, error) {
	id, err := parseID(r, "id")
	if err != nil {
		return nil, 0, err
	}
	me := viewer(r)
	role, err := s.store.WorkspaceRole(r.Context(), me.ID, id)
	if err != nil {
		return nil, 0, err
	}
	if !roster.CanReadWorkspace(me, role) {
		return nil, 0, errWorkspaceNotFound
	}
	w, err := s.store.FindWorkspaceByID(r.Context(), id)
	return w, role, err
}

// manageableWorkspace is workspaceAccess for changes: 403 for readers who
// are not workspace admins.
func (s *Server) manageableWorkspace(r *http.Request) (*roster.Workspace, error) {
	w, role, err := s.workspaceAccess(r)
	if err != nil {
		return nil, err
	}
	if !roster.CanManageWorkspace(viewer(r), role) {
		return nil, roster.ErrForbidden()
	}
	return w, nil
}

func (s *Server) handleWorkspaceList(w http.ResponseWriter, r *http.Request) error {
	q, err := nameQuery(r)
	if err != nil {
		return err
	}
	return servePage(w, r, func(p roster.Page) ([]*roster.Workspace, int, error) {
		if q != "" {
			return s.store.SearchWorkspaces(r.Context(), viewer(r), q, p)
		}
		return s.store.FindWorkspaces(r.Context(), viewer(r), p)
	}, workspaceOut)
}

// servePage parses the page parameters, reads one page with find and
// answers with it, each item converted by out.
func servePage[T, J any](w http.ResponseWriter, r *http.Request, find func(roster.Page) ([]T, int, error), out func(T) J) error {
	p, err := parsePage(r)
	if err != nil {
		return err
	}
	list, total, err := find(p.page())
	if err != nil {
		return err
	}
	results := make([]J, len(list))
	for i, item := range list {
		results[i] = out(item)
	}
	return writePage(w, r, p, total, results)
}

// writePage answers with one page of a list.
func writePage[T any](w http.ResponseWriter, r *http.Request, p pageParams, total int, results []T) error {
	body, err := paginate(r, p, total, results)
	if err != nil {
		return err
	}
	return encode(w, http.StatusOK, body)
}

// readWorkspaceFields reads name and slug of a workspace body.
func readWorkspaceFields(b *body) roster.WorkspaceUpdate {
	upd := roster.WorkspaceUpdate{Name: b.str("name"), Slug: b.str("slug")}
	if upd.Name != nil {
		if err := roster.ValidateName("name", *upd.Name); err != nil {
			b.addFieldErrors(err)
		}
	}
	if upd.Slug != nil && !roster.ValidSlug(*upd.Slug) {
		b.errors.Add("slug", "Enter a valid slug: lower-case letters, digits and single hyphens, at most 64 characters.")
	}
	return upd
}

func (s *Server) handleWorkspaceCreate(w http.ResponseWriter, r *http.Request) error {
	if err := roster.RequireAdmin(viewer(r)); err != nil {
		return err
	}
	b, err := decodeBody(w, r, []string{"name", "slug"}, []string{"id", "createdAt"})
	if err != nil {
		return err
	}
	b.require("name")
	upd := readWorkspaceFields(b)
	if err := b.err(); err != nil {
		return err
	}
	ws := &roster.Workspace{Name: *upd.Name}
	if upd.Slug != nil {
		ws.Slug = *upd.Slug
	}
	if err := s.store.CreateWorkspace(r.Context(), viewer(r).ID, ws); err != nil {
		return err
	}
	w.Header().Set("Location", "/api/v3/workspaces/"+strconv.FormatInt(ws.ID, 10))
	return encode(w, http.StatusCreated, workspaceOut(ws))
}

func (s *Server) handleWorkspaceGet(w http.ResponseWriter, r *http.Request) error {
	ws, _, err := s.workspaceAccess(r)
	if err != nil {
		return err
	}
	return encode(w, http.StatusOK, workspaceOut(ws))
}

func (s *Server) handleWorkspacePatch(w http.ResponseWriter, r *http.Request) error {
	ws, err := s.manageableWorkspace(r)
	if err != nil {
		return err
	}
	b, err := decodeBody(w, r, []string{"name", "slug"}, []string{"id", "createdAt"})
	if err != nil {
		return err
	}
	upd := readWorkspaceFields(b)
	if err := b.err(); err != nil {
		return err
	}
	if err := roster.CanChangeSlug(viewer(r), ws, upd.Slug); err != nil {
		return err
	}
	ws, err = s.store.UpdateWorkspace(r.Context(), viewer(r).ID, ws.ID, upd)
	if err != nil {
		return err
	}
	return encode(w, http.StatusOK, workspaceOut(ws))
}

func (s *Server) handleWorkspaceDelete(w http.ResponseWriter, r *http.Request) error {
	ws, err := s.manageableWorkspace(r)
	if err != nil {
		return err
	}
	if err := s.store.DeleteWorkspace(r.Context(), viewer(r).ID, ws.ID); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) handleGrantList(w http.ResponseWriter, r *http.Request) error {
	ws, _, err := s.workspaceAccess(r)
	if err != nil {
		return err
	}
	return servePage(w, r, func(p roster.Page) ([]*roster.Grant, int, error) {
		return s.store.FindGrants(r.Context(), ws.ID, p)
	}, grantOut)
}

// grantTarget reads a grant path: a workspace the viewer may manage and
// the subject (kind "user" or "group", id in the path value param).
func (s *Server) grantTarget(r *http.Request, kind, param string) (*roster.Workspace, roster.Subject, error) {
	ws, err := s.manageableWorkspace(r)
	if err != nil {
		return nil, roster.Subject{}, err
	}
	sid, err := parseID(r, param)
	return ws, roster.Subject{Type: kind, ID: sid}, err
}

func (s *Server) handleGrantPut(kind, param string) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		ws, subject, err := s.grantTarget(r, kind, param)
		if err != nil {
			return err
		}
		b, err := decodeBody(w, r, []string{"role"}, []string{"subject"})
		if err != nil {
			return err
		}
		b.require("role")
		name := b.str("role")
		if err := b.err(); err != nil {
			return err
		}
		role, ok := roster.ParseRole(*name)
		if !ok {
			return roster.FieldError(roster.EINVALID, "role", "Must be one of: viewer, member, admin.")
		}
		g := &roster.Grant{Subject: subject, Role: role}
		if err := s.store.SetGrant(r.Context(), viewer(r).ID, ws.ID, g); err != nil {
			return err
		}
		return encode(w, http.StatusOK, grantOut(g))
	}
}

func (s *Server) handleGrantDelete(kind, param string) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		ws, subject, err := s.grantTarget(r, kind, param)
		if err != nil {
			return err
		}
		if err := s.store.DeleteGrant(r.Context(), viewer(r).ID, ws.ID, subject); err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
}

func (s *Server) handleWorkspaceMembers(w http.ResponseWriter, r *http.Request) error {
	ws, _, err := s.workspaceAccess(r)
	if err != nil {
		return err
	}
	return servePage(w, r, func(p roster.Page) ([]*roster.Member, int, error) {
		return s.store.FindMembers(r.Context(), ws.ID, p)
	}, func(m *roster.Member) memberJSON {
		return memberJSON{userSummary: summary(m.User), Role: m.Role.String(), Via: m.Via}
	})
}
