package roster

import "context"

// FilterOp is the operator of a Filter node.
type FilterOp string

// Filter operators: the SCIM comparison operators (RFC 7644 section
// 3.4.2.2), the logical ones, and the constants a provider's filter can
// reduce to (emails[type eq "work"] always holds for Roster's one email).
const (
	FilterEq    FilterOp = "eq"
	FilterNe    FilterOp = "ne"
	FilterCo    FilterOp = "co"
	FilterSw    FilterOp = "sw"
	FilterEw    FilterOp = "ew"
	FilterPr    FilterOp = "pr"
	FilterGt    FilterOp = "gt"
	FilterGe    FilterOp = "ge"
	FilterLt    FilterOp = "lt"
	FilterLe    FilterOp = "le"
	FilterAnd   FilterOp = "and"
	FilterOr    FilterOp = "or"
	FilterNot   FilterOp = "not"
	FilterTrue  FilterOp = "true"
	FilterFalse FilterOp = "false"
)

// Attributes a Filter compares. Text attributes compare case-insensitively
// (folded) except the external ids, which are case-exact.
const (
	AttrID           = "id"           // users and groups; Value int64
	AttrExternalID   = "externalId"   // users and groups; Value string
	AttrCreated      = "created"      // users (dateJoined) and groups; Value time.Time
	AttrLastModified = "lastModified" // users and groups; Value time.Time
	AttrUsername     = "username"     // users; Value string
	AttrEmail        = "email"        // users; Value string
	AttrFirstName    = "firstName"    // users; Value string
	AttrLastName     = "lastName"     // users; Value string
	AttrActive       = "active"       // users; Value bool
	AttrName         = "name"         // groups; Value string
	AttrMember       = "member"       // groups (only eq: has this member); Value int64
)

// Filter is a condition on users or groups, built from a SCIM filter: a
// comparison of Attr with Value by Op, or Args joined by and/or, or one
// Arg negated by not. Stores turn it into a parameterised query.
type Filter struct {
	Op    FilterOp
	Attr  string
	Value any // string, int64, bool or time.Time, as the attribute says; nil for pr
	Args  []*Filter
}

// GroupPatch is one atomic change of a group by an identity provider.
type GroupPatch struct {
	Name       *string
	ExternalID *string
	// ReplaceMembers makes the members exactly Add; otherwise Add are
	// added and Remove removed (absent members are ignored).
	ReplaceMembers bool
	Add            []int64
	Remove         []int64
	// IfVersion, when non-zero, makes the change fail with EPRECONDITION
	// unless the group's version still equals it.
	IfVersion int64
}

// MemberRef names a member of a group.
type MemberRef struct {
	ID       int64
	Username string
}

// ProvisioningService serves identity providers (SCIM): lists of users and
// groups narrowed by a Filter, and group changes of many members at once.
// A user or group id in a GroupPatch that does not exist is EINVALID; an
// absent group ENOTFOUND; a taken name ECONFLICT.
type ProvisioningService interface {
	// FindUsersWhere returns one page of users (with their groups), by id,
	// and the number of users the filter (nil: every user) selects.
	FindUsersWhere(ctx context.Context, f *Filter, p Page) ([]*User, int, error)
	// FindGroupsWhere is FindUsersWhere for groups.
	FindGroupsWhere(ctx context.Context, f *Filter, p Page) ([]*Group, int, error)
	// FindMemberRefs returns every member of a group, by user id.
	FindMemberRefs(ctx context.Context, groupID int64) ([]MemberRef, error)
	// PatchGroup applies p in one transaction, recording group.updated,
	// group.member_added and group.member_removed by actor for what
	// changed.
	PatchGroup(ctx context.Context, actor, id int64, p GroupPatch) (*Group, error)
}
