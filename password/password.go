// Package password hashes and checks passwords with argon2id at OWASP's
// recommended parameters (m=19 MiB, t=2, p=1), limiting how many hashes run
// at once so that a burst of logins cannot exhaust memory.
package password

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Parameters from the OWASP Password Storage Cheat Sheet.
const (
	memoryKiB = 19 * 1024
	time      = 2
	threads   = 1
	keyLen    = 32
	saltLen   = 16
)

// Hasher hashes and verifies passwords; at most its capacity run at once.
type Hasher struct {
	slots chan struct{}
	dummy string // a real hash checked when the user is unknown, to even out timing
}

// NewHasher returns a Hasher that runs at most concurrency hashes at once
// (each takes 19 MiB while it runs).
func NewHasher(concurrency int) *Hasher {
	h := &Hasher{slots: make(chan struct{}, max(1, concurrency))}
	h.dummy = h.encode([]byte("roster-dummy-password"), make([]byte, saltLen))
	return h
}

func (h *Hasher) acquire(ctx context.Context) error {
	select {
	case h.slots <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (h *Hasher) release() { <-h.slots }

// Hash returns the PHC-format argon2id hash of pw.
func (h *Hasher) Hash(ctx context.Context, pw string) (string, error) {
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	if err := h.acquire(ctx); err != nil {
		return "", err
	}
	defer h.release()
	return h.encode([]byte(pw), salt), nil
}

func (h *Hasher) encode(pw, salt []byte) string {
	key := argon2.IDKey(pw, salt, time, memoryKiB, threads, keyLen)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, memoryKiB, time, threads,
		b64.EncodeToString(salt), b64.EncodeToString(key))
}

// Verify reports whether pw matches encoded. An empty or malformed encoded
// hash (a user without a usable password) never matches, but still costs one
// hash, so that timing does not tell whether the account has a password.
func (h *Hasher) Verify(ctx context.Context, pw, encoded string) (bool, error) {
	usable := true
	if encoded == "" {
		encoded, usable = h.dummy, false
	}
	var v, m, t uint32
	var p uint8
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		encoded, usable = h.dummy, false
		parts = strings.Split(encoded, "$")
	}
	if _, err := fmt.Sscanf(parts[2], "v=%d", &v); err != nil {
		return false, fmt.Errorf("password: bad hash version: %w", err)
	}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &p); err != nil {
		return false, fmt.Errorf("password: bad hash parameters: %w", err)
	}
	b64 := base64.RawStdEncoding
	salt, err := b64.DecodeString(parts[4])
	if err != nil {
		return false, fmt.Errorf("password: bad salt: %w", err)
	}
	want, err := b64.DecodeString(parts[5])
	if err != nil {
		return false, fmt.Errorf("password: bad key: %w", err)
	}
	if err := h.acquire(ctx); err != nil {
		return false, err
	}
	defer h.release()
	got := argon2.IDKey([]byte(pw), salt, t, m, p, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1 && usable, nil
}

// VerifyDummy spends the time of one verification without a real hash, for
// logins naming an unknown user.
func (h *Hasher) VerifyDummy(ctx context.Context, pw string) error {
	_, err := h.Verify(ctx, pw, "")
	return err
}
