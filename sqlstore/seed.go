package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/rosterhq/roster"
)

// SeedOptions size a synthetic data set.
type SeedOptions struct {
	Users, Groups, Workspaces, Activities int
	// RandSeed makes the data reproducible (0: a fixed default).
	RandSeed uint64
	// Progress, when set, is called now and then with the rows written so
	// far and the total to write.
	Progress func(done, total int64)
}

// SeedResult says what Seed wrote.
type SeedResult struct {
	Rows        int64 // every row inserted, memberships and grants included
	FirstUserID int64
	LastUserID  int64
}

// Seed inserts synthetic users, groups, workspaces, memberships, grants and
// activities in one write transaction (all or nothing) with multi-row
// INSERTs. Users get no usable password. On an empty database users get
// consecutive ids from 1; when there are at least as many activities as
// users, every seeded user acts at least once, so lastActiveAt is set.
func (db *DB) Seed(ctx context.Context, o SeedOptions) (SeedResult, error) {
	var res SeedResult
	if o.Users < 0 || o.Groups < 0 || o.Workspaces < 0 || o.Activities < 0 {
		return res, roster.Errorf(roster.EINVALID, "Seed sizes must not be negative.")
	}
	if o.Activities > 0 && o.Users == 0 {
		return res, roster.Errorf(roster.EINVALID, "Activities need users.")
	}
	if o.RandSeed == 0 {
		o.RandSeed = 20261127
	}
	if o.Progress == nil {
		o.Progress = func(int64, int64) {}
	}
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return res, db.mapErr(err)
	}
	defer tx.Rollback()
	if err := db.d.BeginWrite(ctx, tx); err != nil {
		return res, db.mapErr(err)
	}
	finish, err := db.d.BeginBulk(ctx, tx)
	if err != nil {
		return res, fmt.Errorf("seed: prepare bulk load: %w", db.mapErr(err))
	}
	insert := db.d.BulkInsert()
	s := &seeder{db: db, tx: tx, o: o, rng: rand.New(rand.NewPCG(o.RandSeed, 0x5eed)), now: db.Now(), insert: insert}
	s.total = s.estimate()
	if err := s.run(ctx); err != nil {
		return res, fmt.Errorf("seed: %w", db.mapErr(err))
	}
	if err := finish(ctx, tx); err != nil {
		return res, fmt.Errorf("seed: finish bulk load: %w", db.mapErr(err))
	}
	if err := catchUpUserChanges(ctx, tx, db.d); err != nil {
		return res, fmt.Errorf("seed: users delta feed: %w", db.mapErr(err))
	}
	if err := tx.Commit(); err != nil {
		return res, db.mapErr(err)
	}
	if err := db.d.AfterBulk(ctx, db.write); err != nil {
		return res, fmt.Errorf("seed: after bulk load: %w", db.mapErr(err))
	}
	o.Progress(s.done, s.done)
	res.Rows = s.done
	if len(s.userIDs) > 0 {
		res.FirstUserID, res.LastUserID = s.userIDs[0], s.userIDs[len(s.userIDs)-1]
	}
	return res, nil
}

type seeder struct {
	db          *DB
	tx          *sql.Tx
	o           SeedOptions
	rng         *rand.Rand
	now         time.Time
	insert      string
	done, total int64
	lastReport  time.Time

	userIDs, groupIDs, wsIDs []int64
	groupsOf                 [][]int32 // per user, indexes into groupIDs
	access                   [][]int32 // per user, indexes into wsIDs it can access
}

// estimate guesses the row total for the progress bar (memberships and
// grants are random).
func (s *seeder) estimate() int64 {
	o := s.o
	return int64(o.Users)*37/10 + int64(o.Groups)*3 + int64(o.Workspaces) + int64(o.Activities)
}

func (s *seeder) progress(n int) {
	s.done += int64(n)
	if t := time.Now(); t.Sub(s.lastReport) >= 100*time.Millisecond {
		s.lastReport = t
		s.o.Progress(s.done, max(s.total, s.done))
	}
}

func (s *seeder) run(ctx context.Context) error {
	if err := s.seedGroups(ctx); err != nil {
		return fmt.Errorf("groups: %w", err)
	}
	if err := s.seedWorkspaces(ctx); err != nil {
		return fmt.Errorf("workspaces: %w", err)
	}
	if err := s.seedUsers(ctx); err != nil {
		return fmt.Errorf("users: %w", err)
	}
	if err := s.seedMemberships(ctx); err != nil {
		return fmt.Errorf("memberships: %w", err)
	}
	if err := s.seedActivities(ctx); err != nil {
		return fmt.Errorf("activities: %w", err)
	}
	return nil
}

// batch inserts rows of ncol columns into table with multi-row INSERTs,
// reusing one prepared statement per batch size. next fills one row's
// values into the slice it is given and reports false when done.
// returning, when set, receives the id of every inserted row in order.
func (s *seeder) batch(ctx context.Context, table string, cols []string, rowsPerStmt int, next func(row []any) bool,
	returning *[]int64) error {
	ncol := len(cols)
	stmts := map[int]*sql.Stmt{}
	defer func() {
		for _, st := range stmts {
			st.Close()
		}
	}()
	stmt := func(n int) (*sql.Stmt, error) {
		if st, ok := stmts[n]; ok {
			return st, nil
		}
		var b strings.Builder
		b.WriteString(s.insert + " " + table + " (" + strings.Join(cols, ", ") + ") VALUES ")
		row := "(" + strings.TrimSuffix(strings.Repeat("?, ", ncol), ", ") + ")"
		for i := range n {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(row)
		}
		if returning != nil {
			b.WriteString(" RETURNING id")
		}
		st, err := s.tx.PrepareContext(ctx, s.db.q(b.String()))
		if err == nil {
			stmts[n] = st
		}
		return st, err
	}
	args := make([]any, 0, rowsPerStmt*ncol)
	flush := func() error {
		n := len(args) / ncol
		if n == 0 {
			return nil
		}
		st, err := stmt(n)
		if err != nil {
			return err
		}
		if returning == nil {
			if _, err := st.ExecContext(ctx, args...); err != nil {
				return err
			}
		} else {
			rows, err := st.QueryContext(ctx, args...)
			if err != nil {
				return err
			}
			for rows.Next() {
				var id int64
				if err := rows.Scan(&id); err != nil {
					rows.Close()
					return err
				}
				*returning = append(*returning, id)
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return err
			}
		}
		args = args[:0]
		s.progress(n)
		return ctx.Err()
	}
	row := make([]any, ncol)
	for next(row) {
		args = append(args, row...)
		if len(args) == rowsPerStmt*ncol {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	return flush()
}

// maxID returns the largest id of a table (0 when empty), to number names.
func (s *seeder) maxID(ctx context.Context, table string) (int64, error) {
	var n int64
	err := s.tx.QueryRowContext(ctx, "SELECT coalesce(max(id), 0) FROM "+table).Scan(&n)
	return n, err
}

func (s *seeder) seedGroups(ctx context.Context) error {
	base, err := s.maxID(ctx, "groups")
	if err != nil {
		return err
	}
	created := s.db.t(s.now.AddDate(-3, 0, 0))
	i := 0
	return s.batch(ctx, "groups", []string{"name", "name_fold", "member_count", "created_at"}, 500, func(r []any) bool {
		if i == s.o.Groups {
			return false
		}
		i++
		name := groupWords[s.rng.IntN(len(groupWords))] + "-" + strconv.FormatInt(base+int64(i), 10)
		r[0], r[1], r[2], r[3] = name, roster.Fold(name), 0, created
		return true
	}, &s.groupIDs)
}

func (s *seeder) seedWorkspaces(ctx context.Context) error {
	base, err := s.maxID(ctx, "workspaces")
	if err != nil {
		return err
	}
	created := s.db.t(s.now.AddDate(-3, 0, 0))
	i := 0
	return s.batch(ctx, "workspaces", []string{"name", "slug", "created_at"}, 500, func(r []any) bool {
		if i == s.o.Workspaces {
			return false
		}
		i++
		w := workspaceWords[s.rng.IntN(len(workspaceWords))]
		n := strconv.FormatInt(base+int64(i), 10)
		r[0], r[1], r[2] = w+" "+n, strings.ToLower(strings.ReplaceAll(w, " ", "-"))+"-"+n, created
		return true
	}, &s.wsIDs)
}

var timezones = []string{"UTC", "Europe/Paris", "Europe/Berlin", "America/New_York", "America/Sao_Paulo", "Asia/Tokyo",
	"Asia/Kolkata", "Africa/Lagos", "Australia/Sydney", "Europe/Warsaw", "Asia/Seoul", "America/Mexico_City"}
var locales = []string{"en", "fr", "de", "pt-BR", "ja", "hi", "pl", "ko", "es", "ru", "zh-Hans", "vi"}

func (s *seeder) seedUsers(ctx context.Context) error {
	base, err := s.maxID(ctx, "users")
	if err != nil {
		return err
	}
	cols := []string{"username", "username_fold", "email", "email_fold", "first_name", "first_fold", "last_name", "last_fold",
		"search_text", "is_active", "is_admin", "bio", "avatar_url", "timezone", "locale", "password_hash", "date_joined", "last_login",
		"last_active_at", "username_skeleton"}
	// Each user's newest activity, known ahead (what the activities
	// trigger would keep), so no pass over the activities sets it later.
	newest := make([]int32, s.o.Users)
	for i := range newest {
		newest[i] = -1
	}
	actor := s.actors()
	for j := range s.o.Activities {
		newest[actor(j)] = int32(j)
	}
	joinedFrom := s.now.AddDate(-2, 0, 0)
	span := s.now.AddDate(-1, 0, 0).Sub(joinedFrom)
	s.userIDs = make([]int64, 0, s.o.Users)
	i := 0
	var u roster.User
	return s.batch(ctx, "users", cols, 380, func(r []any) bool {
		if i == s.o.Users {
			return false
		}
		i++
		f := firstNames[s.rng.IntN(len(firstNames))]
		l := lastNames[s.rng.IntN(len(lastNames))]
		n := strconv.FormatInt(base+int64(i), 10)
		var username string
		switch s.rng.IntN(4) {
		case 0:
			username = f.ascii + "." + l.ascii + n
		case 1:
			username = f.ascii[:1] + l.ascii + n
		case 2:
			username = f.ascii + "_" + n
		default:
			username = l.ascii + "-" + f.ascii[:1] + n
		}
		u = roster.User{Username: username, Email: username + "@" + domains[s.rng.IntN(len(domains))], FirstName: f.name, LastName: l.name}
		joined := joinedFrom.Add(time.Duration(int64(span) / int64(max(s.o.Users, 1)) * int64(i)))
		var lastLogin any
		if s.rng.IntN(3) > 0 {
			lastLogin = s.db.t(s.now.Add(-time.Duration(s.rng.Int64N(int64(90 * 24 * time.Hour)))))
		}
		bio := ""
		if s.rng.IntN(5) == 0 {
			bio = bios[s.rng.IntN(len(bios))]
		}
		tz := s.rng.IntN(len(timezones))
		r[0], r[1], r[2], r[3] = u.Username, roster.Fold(u.Username), u.Email, roster.Fold(u.Email)
		r[4], r[5], r[6], r[7] = u.FirstName, roster.Fold(u.FirstName), u.LastName, roster.Fold(u.LastName)
		r[8], r[9], r[10], r[11] = searchText(&u), s.rng.IntN(20) != 0, false, bio
		r[12], r[13], r[14], r[15], r[16], r[17] = "", timezones[tz], locales[tz], "", s.db.t(joined), lastLogin
		r[18], r[19] = nil, roster.UsernameSkeleton(u.Username)
		if j := newest[i-1]; j >= 0 {
			r[18] = s.db.t(s.published(int(j)))
		}
		return true
	}, &s.userIDs)
}

// seedMemberships puts users in 0 to 3 groups, grants each group 1 to 3
// workspaces and gives most users 1 or 2 direct grants, remembering which
// workspaces each user can access so that activities land where their
// actor has access.
func (s *seeder) seedMemberships(ctx context.Context) error {
	nu, ng, nw := len(s.userIDs), len(s.groupIDs), len(s.wsIDs)
	s.groupsOf = make([][]int32, nu)
	s.access = make([][]int32, nu)
	groupWS := make([][]int32, ng)
	if ng > 0 {
		// Skewed group sizes: low indexes are big groups.
		u, k := 0, 0
		var cur []int32
		err := s.batch(ctx, "group_members", []string{"group_id", "user_id"}, 2000, func(r []any) bool {
			for u < nu {
				if k == 0 {
					cur = cur[:0]
					for range s.rng.IntN(4) {
						g := int32(float64(ng) * s.rng.Float64() * s.rng.Float64())
						if !containsInt32(cur, g) {
							cur = append(cur, g)
						}
					}
					s.groupsOf[u] = append([]int32(nil), cur...)
				}
				if k < len(cur) {
					r[0], r[1] = s.groupIDs[cur[k]], s.userIDs[u]
					k++
					return true
				}
				u, k = u+1, 0
			}
			return false
		}, nil)
		if err != nil {
			return err
		}
	}
	if nw == 0 {
		return nil
	}
	g, k := 0, 0
	var cur []int32
	err := s.batch(ctx, "workspace_group_grants", []string{"workspace_id", "group_id", "role"}, 2000, func(r []any) bool {
		for g < ng {
			if k == 0 {
				cur = cur[:0]
				for range 1 + s.rng.IntN(3) {
					w := int32(s.rng.IntN(nw))
					if !containsInt32(cur, w) {
						cur = append(cur, w)
					}
				}
				groupWS[g] = append([]int32(nil), cur...)
			}
			if k < len(cur) {
				r[0], r[1], r[2] = s.wsIDs[cur[k]], s.groupIDs[g], 1+s.rng.IntN(3)
				k++
				return true
			}
			g, k = g+1, 0
		}
		return false
	}, nil)
	if err != nil {
		return err
	}
	u := 0
	k = 0
	err = s.batch(ctx, "workspace_user_grants", []string{"workspace_id", "user_id", "role"}, 2000, func(r []any) bool {
		for u < nu {
			if k == 0 {
				cur = cur[:0]
				if s.rng.IntN(10) < 8 {
					for range 1 + s.rng.IntN(2) {
						w := int32(s.rng.IntN(nw))
						if !containsInt32(cur, w) {
							cur = append(cur, w)
						}
					}
				}
				acc := append([]int32(nil), cur...)
				for _, gi := range s.groupsOf[u] {
					for _, w := range groupWS[gi] {
						if !containsInt32(acc, w) {
							acc = append(acc, w)
						}
					}
				}
				s.access[u] = acc
			}
			if k < len(cur) {
				r[0], r[1], r[2] = s.wsIDs[cur[k]], s.userIDs[u], 1+s.rng.IntN(3)
				k++
				return true
			}
			u, k = u+1, 0
		}
		return false
	}, nil)
	s.groupsOf = nil
	return err
}

func containsInt32(s []int32, v int32) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

var verbs = []struct{ verb, objType, names string }{
	{"document.created", "document", "Q3 plan|Roadmap|Budget 2027|Release notes|Onboarding guide|Postmortem"},
	{"document.updated", "document", "Q3 plan|Roadmap|Budget 2027|Release notes|Onboarding guide|Postmortem"},
	{"document.commented", "document", "Q3 plan|Roadmap|Design review|Hiring plan"},
	{"task.created", "task", "Fix login bug|Update docs|Prepare demo|Review PR"},
	{"task.completed", "task", "Fix login bug|Update docs|Prepare demo|Review PR"},
	{"meeting.scheduled", "meeting", "Weekly sync|1:1|All hands|Retro"},
	{"file.uploaded", "file", "logo.png|report.pdf|data.csv|ドキュメント.docx"},
	{"comment.posted", "comment", "Re: roadmap|Re: budget|Réponse|Antwort"},
}

// seedActivities spreads activities over the last year in id order. The
// first len(users) activities visit every user once (in a scrambled order)
// so every seeded user has a lastActiveAt; the rest favour a minority of
// busy users. Each lands in a workspace its actor can access, or in none.
func (s *seeder) seedActivities(ctx context.Context) error {
	n := s.o.Activities
	if n == 0 {
		return nil
	}
	actor := s.actors()
	objNames := make([][]string, len(verbs))
	for i, v := range verbs {
		objNames[i] = strings.Split(v.names, "|")
	}
	cols := []string{"actor_id", "verb", "object_type", "object_id", "object_name", "workspace_id", "data", "published"}
	j := 0
	return s.batch(ctx, "activities", cols, 1000, func(r []any) bool {
		if j == n {
			return false
		}
		u := actor(j)
		v := s.rng.IntN(len(verbs))
		var ws any
		if acc := s.access[u]; len(acc) > 0 && s.rng.IntN(10) != 0 {
			ws = s.wsIDs[acc[s.rng.IntN(len(acc))]]
		}
		names := objNames[v]
		oid := strconv.Itoa(s.rng.IntN(100000))
		r[0], r[1], r[2] = s.userIDs[u], verbs[v].verb, verbs[v].objType
		r[3], r[4], r[5] = verbs[v].objType[:1]+"-"+oid, names[s.rng.IntN(len(names))], ws
		r[6] = `{"seq":` + strconv.Itoa(j) + `}`
		r[7] = s.db.t(s.published(j))
		j++
		return true
	}, nil)
}

// actors returns the function that gives the actor (an index into the
// seeded users) of activity j, for j = 0, 1, 2, ... in order. It draws from
// its own random stream, so seedUsers can run it ahead to know every
// user's newest activity and the activities replay the same sequence.
func (s *seeder) actors() func(j int) int {
	nu := len(s.userIDs)
	if nu == 0 {
		nu = s.o.Users
	}
	stride := int64(1_000_003)
	for gcd(stride, int64(nu)) != 1 {
		stride += 2
	}
	rng := rand.New(rand.NewPCG(s.o.RandSeed, 0xac7))
	return func(j int) int {
		if j < nu {
			return int(int64(j) * stride % int64(nu))
		}
		x := rng.Float64()
		return int(float64(nu) * x * x)
	}
}

// published is the time of activity j: spread evenly over the last year.
func (s *seeder) published(j int) time.Time {
	start := s.now.AddDate(-1, 0, 0)
	step := s.now.Sub(start) / time.Duration(max(s.o.Activities, 1))
	return start.Add(step * time.Duration(j)).Truncate(time.Microsecond)
}

func gcd(a, b int64) int64 {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

type seedName struct{ name, ascii string }

// Names from many scripts; ascii is the spelling used in usernames and
// email addresses.
var firstNames = []seedName{
	{"Anna", "anna"}, {"José", "jose"}, {"Zoë", "zoe"}, {"Łukasz", "lukasz"}, {"Søren", "soren"}, {"Ștefan", "stefan"},
	{"François", "francois"}, {"Chloé", "chloe"}, {"Jürgen", "jurgen"}, {"Ólafur", "olafur"}, {"Ayşe", "ayse"},
	{"Mohammed", "mohammed"}, {"محمد", "muhammad"}, {"Fatima", "fatima"}, {"Дмитрий", "dmitry"}, {"Наталья", "natalya"},
	{"Αλέξανδρος", "alexandros"}, {"Ελένη", "eleni"}, {"美咲", "misaki"}, {"Yūki", "yuki"}, {"Hiroshi", "hiroshi"},
	{"伟", "wei"}, {"Xiu Ying", "xiuying"}, {"민준", "minjun"}, {"Ji-woo", "jiwoo"}, {"Nguyễn Văn", "nguyenvan"},
	{"Priya", "priya"}, {"अर्जुन", "arjun"}, {"Aarav", "aarav"}, {"Chinedu", "chinedu"}, {"Amara", "amara"},
	{"Kwame", "kwame"}, {"Sipho", "sipho"}, {"Mateo", "mateo"}, {"Valentina", "valentina"}, {"João", "joao"},
	{"Inês", "ines"}, {"Liam", "liam"}, {"Olivia", "olivia"}, {"Noah", "noah"}, {"Emma", "emma"}, {"Oliver", "oliver"},
	{"Sophia", "sophia"}, {"Lucas", "lucas"}, {"Mia", "mia"}, {"Ethan", "ethan"}, {"Isabella", "isabella"},
	{"Björn", "bjorn"}, {"Åsa", "asa"}, {"Eero", "eero"}, {"Siobhán", "siobhan"}, {"Tadhg", "tadhg"},
	{"Dvořák", "dvorak"}, {"Zsófia", "zsofia"}, {"Miłosz", "milosz"}, {"Ngozi", "ngozi"}, {"Tiago", "tiago"},
	{"Yosef", "yosef"}, {"שרה", "sara"}, {"Leilani", "leilani"}, {"Kai", "kai"}, {"Aroha", "aroha"},
}

var lastNames = []seedName{
	{"Müller", "muller"}, {"García", "garcia"}, {"Nowak", "nowak"}, {"Kowalski", "kowalski"}, {"Øster", "oster"},
	{"Popescu", "popescu"}, {"Dubois", "dubois"}, {"Lefèvre", "lefevre"}, {"Schröder", "schroder"}, {"Jónsson", "jonsson"},
	{"Yılmaz", "yilmaz"}, {"Çelik", "celik"}, {"Al-Farsi", "alfarsi"}, {"الهاشمي", "alhashimi"}, {"Иванов", "ivanov"},
	{"Смирнова", "smirnova"}, {"Παπαδόπουλος", "papadopoulos"}, {"佐藤", "sato"}, {"Tanaka", "tanaka"}, {"Suzuki", "suzuki"},
	{"王", "wang"}, {"Li", "li"}, {"Zhang", "zhang"}, {"김", "kim"}, {"Park", "park"}, {"Nguyễn", "nguyen"}, {"Trần", "tran"},
	{"Sharma", "sharma"}, {"पटेल", "patel"}, {"Gupta", "gupta"}, {"Okafor", "okafor"}, {"Mensah", "mensah"},
	{"Dlamini", "dlamini"}, {"Rodríguez", "rodriguez"}, {"Fernández", "fernandez"}, {"Silva", "silva"},
	{"Gonçalves", "goncalves"}, {"Smith", "smith"}, {"Johnson", "johnson"}, {"Williams", "williams"}, {"Brown", "brown"},
	{"Jones", "jones"}, {"Miller", "miller"}, {"Davis", "davis"}, {"Wilson", "wilson"}, {"Anderson", "anderson"},
	{"Taylor", "taylor"}, {"Thomas", "thomas"}, {"Andersson", "andersson"}, {"Virtanen", "virtanen"},
	{"Ó Briain", "obriain"}, {"Novák", "novak"}, {"Horváth", "horvath"}, {"Wiśniewski", "wisniewski"},
	{"Eze", "eze"}, {"Costa", "costa"}, {"Cohen", "cohen"}, {"כהן", "kohen"}, {"Kahale", "kahale"}, {"Ngata", "ngata"},
	{"van der Berg", "vanderberg"}, {"de la Cruz", "delacruz"}, {"O'Neill", "oneill"}, {"Straße", "strasse"},
}

var domains = []string{"example.com", "example.org", "example.net", "mail.example", "corp.example", "acme.test", "beispiel.de",
	"exemple.fr", "ejemplo.es"}

var groupWords = []string{"design", "engineering", "sales", "marketing", "support", "finance", "legal", "ops", "research",
	"platform", "mobile", "data", "security", "people", "qa"}

var workspaceWords = []string{"Marketing", "Product", "Engineering", "Sales EMEA", "Support", "Finance", "Research",
	"Design System", "Mobile App", "Data Platform", "Security", "Operations", "Partnerships", "Recruiting"}

var bios = []string{"Design lead", "Backend engineer. Coffee.", "Ingénieure logiciel", "Produktmanagerin", "営業担当",
	"Data scientist 📊", "Support hero", "Writes the docs", "Ops on call this week"}
