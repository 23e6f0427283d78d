package bench

import (
	"encoding/json"
	"fmt"
	"os"
)

const (
	BatchRows    = 200_000
	BatchSize    = 1000
	SingleTx     = 5_000
	Lookups      = 200_000
	Readers      = 4
	FTSQueries   = 2_000
	Schema       = `CREATE TABLE users(id INTEGER PRIMARY KEY AUTOINCREMENT, username TEXT, email TEXT, first TEXT, last TEXT, search TEXT)`
	InsertSQL    = `INSERT INTO users(username, email, first, last, search) VALUES (?, ?, ?, ?, ?)`
	SelectSQL    = `SELECT id, username, email, first, last, search FROM users WHERE id = ?`
	FTSCreateSQL = `CREATE VIRTUAL TABLE f USING fts5(search, tokenize='trigram case_sensitive 1', content='users', content_rowid='id')`
	FTSRebuild   = `INSERT INTO f(f) VALUES('rebuild')`
	FTSQuerySQL  = `SELECT rowid FROM f WHERE f MATCH ? LIMIT 50`
	PragmaWant   = "journal_mode=wal synchronous=1 foreign_keys=1 busy_timeout=5000"
)

type Result struct {
	Driver         string   `json:"driver"`
	Module         string   `json:"module"`
	Version        string   `json:"version"`
	SQLiteVersion  string   `json:"sqlite_version"`
	BatchRowsPS    float64  `json:"batch_rows_per_s"`
	SingleTxPS     float64  `json:"single_tx_per_s"`
	Select1GPS     float64  `json:"select_1g_per_s"`
	Select4GPS     float64  `json:"select_4g_per_s"`
	Select1GHeldPS float64  `json:"select_1g_heldconn_per_s,omitempty"` // zombiezen only
	FTSOK          bool     `json:"fts_ok"`
	FTSError       string   `json:"fts_error,omitempty"`
	FTSRebuildSec  float64  `json:"fts_rebuild_s"`
	FTSQPS         float64  `json:"fts_q_per_s"`
	FTSAvgHits     float64  `json:"fts_avg_hits"`
	Pragmas        []string `json:"pragmas_per_reader_conn"`
}

func (r Result) Emit() {
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(r); err != nil {
		panic(err)
	}
}

func Logf(format string, a ...any) { fmt.Fprintf(os.Stderr, format+"\n", a...) }

func Must(err error) {
	if err != nil {
		panic(err)
	}
}
