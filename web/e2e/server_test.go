//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/auth"
	"github.com/keyward/keyward/internal/config"
	"github.com/keyward/keyward/internal/model"
	"github.com/keyward/keyward/internal/store"
	"github.com/keyward/keyward/internal/testdb"
	"github.com/keyward/keyward/web"
)

// Fixtures.
const (
	ownerEmail = "ana@example.com"
	password   = "correct horse battery"
	teamName   = "Acme Payments"
)

// extraResources are the operator's own resources, as KEYWARD_SCOPES_FILE
// would add them, so the scope picker shows more than the built-in three.
var extraResources = []model.Resource{
	{Name: "invoices", Label: "Invoices", Description: "Create, send and void invoices."},
	{Name: "customers", Label: "Customers", Description: "Customer records and their payment methods."},
}

// clock is the server's and store's time: the real time plus an offset, so
// fixtures can be created in the past.
type clock struct {
	mu     sync.Mutex
	offset time.Duration
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

// at runs fn with the clock moved by d (negative: in the past).
func (c *clock) at(d time.Duration, fn func()) {
	c.mu.Lock()
	c.offset = d
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		c.offset = 0
		c.mu.Unlock()
	}()
	fn()
}

// syncBuffer collects the server's log lines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// server is keyward served in-process on 127.0.0.1 over plain HTTP, on a
// fresh, migrated PostgreSQL database.
type server struct {
	URL string
	// cfg may be changed before the first request (single sign-on).
	cfg     *config.Config
	store   *store.Store
	catalog *model.Catalog
	clock   *clock
	logs    *syncBuffer
	// encryptionKey seals webhook secrets (KEYWARD_ENCRYPTION_KEY).
	encryptionKey []byte
}

func startServer(t *testing.T) *server {
	t.Helper()
	ctx := context.Background()
	dsn := testdb.Postgres(t)
	clk := &clock{}
	logs := &syncBuffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	st, err := store.Open(ctx, dsn, store.Options{Now: clk.Now, Logger: log})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	if _, err := st.Migrate(ctx); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	cfg := &config.Config{
		DatabaseURL:   dsn,
		DataDir:       t.TempDir(),
		Addr:          "127.0.0.1:0",
		SessionSecret: []byte("e2e-session-secret-0123456789abcdef"),
		KeyPrefix:     "kw",
		Resources:     extraResources,
		// Plain HTTP on 127.0.0.1: KEYWARD_COOKIE_SECURE off.
		CookieSecure:  false,
		LastUsedFlush: 10 * time.Second,
		CacheTTL:      30 * time.Second,
		LogFormat:     "text",
		// Webhooks to receivers on 127.0.0.1, sealed under a fixed key.
		WebhookAllowPrivate: true,
		EncryptionKey:       []byte("e2e-encryption-key-0123456789abc"),
	}
	catalog, err := model.NewCatalog(cfg.Resources)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := web.New(cfg, st, web.Options{Now: clk.Now, Logger: log, Catalog: catalog})
	if err != nil {
		t.Fatalf("web.New: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(sctx, ln, 5*time.Second) }()
	t.Cleanup(func() {
		stop()
		if err := <-done; err != nil && !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("serve: %v", err)
		}
		if err := srv.Close(context.Background()); err != nil {
			t.Errorf("closing the server: %v", err)
		}
	})
	return &server{URL: "http://" + ln.Addr().String(), cfg: cfg, store: st, catalog: catalog, clock: clk, logs: logs, encryptionKey: cfg.EncryptionKey}
}

// setup creates the first OWNER and team directly in the store.
func (s *server) setup(t *testing.T) (model.User, model.Team) {
	t.Helper()
	u, tm, err := s.store.Setup(context.Background(), ownerEmail, hash(t, password), teamName, "127.0.0.1")
	if err != nil {
		t.Fatalf("setup: %v", err)
	}
	return u, tm
}

// addMember creates a user with the fixture password in the team.
func (s *server) addMember(t *testing.T, teamID int64, email string, role model.Role) model.Membership {
	t.Helper()
	m, err := s.store.AddNewMember(context.Background(), teamID, email, hash(t, password), role, model.Actor{Label: ownerEmail})
	if err != nil {
		t.Fatalf("add member %s: %v", email, err)
	}
	return m
}

func hash(t *testing.T, pw string) string {
	t.Helper()
	h, err := auth.HashPassword(pw)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// keySpec describes a fixture key.
type keySpec struct {
	Name       string
	Env        string // live (default) or test
	Permission model.PermissionSet
	Scopes     []string
	ExpiresIn  time.Duration // 0: never; negative: already expired
	Age        time.Duration // created this long ago
	UsedAgo    time.Duration // last used this long ago; 0: never
	Requests   int64
	Revoked    bool
	// Refused calls after the key expired or was revoked (just now).
	Refused int64
	// By creates (and revokes) the key; the zero Actor is the owner.
	By model.Actor
}

// createKey creates a fixture key in the store and returns it with its raw value.
func (s *server) createKey(t *testing.T, teamID int64, ks keySpec) (model.APIKey, string) {
	t.Helper()
	ctx := context.Background()
	if ks.Env == "" {
		ks.Env = model.EnvLive
	}
	if ks.Permission == "" {
		ks.Permission = model.PermReadAll
	}
	if ks.By.Label == "" {
		ks.By = model.Actor{Label: ownerEmail}
	}
	var k model.APIKey
	var raw string
	s.clock.at(-ks.Age, func() {
		now := s.clock.Now()
		var err error
		k, raw, err = web.NewKey(s.catalog, "kw", teamID, web.KeyInput{
			Name: ks.Name, Environment: ks.Env, Permission: ks.Permission, Scopes: ks.Scopes,
		}, now)
		if err != nil {
			t.Fatalf("new key %q: %v", ks.Name, err)
		}
		if ks.ExpiresIn != 0 {
			// Relative to the real now, so an expired fixture really is.
			exp := time.Now().Add(ks.ExpiresIn).UTC()
			k.ExpiresAt = &exp
		}
		if err := s.store.CreateKey(ctx, &k, ks.By); err != nil {
			t.Fatalf("create key %q: %v", ks.Name, err)
		}
	})
	if ks.UsedAgo > 0 {
		n := ks.Requests
		if n == 0 {
			n = 1
		}
		use := model.KeyUse{KeyID: k.ID, At: time.Now().Add(-ks.UsedAgo).UTC(), IP: "203.0.113.24", Requests: n}
		if err := s.store.RecordUses(ctx, []model.KeyUse{use}); err != nil {
			t.Fatalf("record use of %q: %v", ks.Name, err)
		}
	}
	if ks.Revoked {
		var err error
		if k, err = s.store.RevokeKey(ctx, teamID, k.PublicID, ks.By); err != nil {
			t.Fatalf("revoke %q: %v", ks.Name, err)
		}
	}
	if ks.Refused > 0 {
		use := model.KeyUse{KeyID: k.ID, At: time.Now().UTC(), IP: "203.0.113.77", Refused: ks.Refused}
		if err := s.store.RecordUses(ctx, []model.KeyUse{use}); err != nil {
			t.Fatalf("record refused calls of %q: %v", ks.Name, err)
		}
	}
	return k, raw
}

// keyCount is the number of the team's keys in the store.
func (s *server) keyCount(t *testing.T, teamID int64) int64 {
	t.Helper()
	_, total, err := s.store.FindKeys(context.Background(), model.KeyFilter{TeamID: teamID, Now: time.Now(), Limit: 1})
	if err != nil {
		t.Fatalf("count keys: %v", err)
	}
	return total
}
