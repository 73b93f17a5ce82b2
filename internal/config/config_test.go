package config

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func load(t *testing.T, env map[string]string, args ...string) (*Config, error) {
	t.Helper()
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	get := Flags(fs, func(k string) string { return env[k] })
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	return get()
}

func TestDefaults(t *testing.T) {
	c, err := load(t, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !c.Embedded() || c.DSN() != "file:"+filepath.Join("data", "keyward.db") || c.Addr != ":8080" || c.KeyPrefix != "kw" {
		t.Fatalf("defaults: %+v", c)
	}
	if c.CookieSecure || !c.CookieSecureDefaulted {
		t.Fatal("the embedded default turns Secure off and says so")
	}
	if c.LastUsedFlush != 10*time.Second || c.CacheTTL != 30*time.Second || c.AllowQueryKey ||
		c.CacheStaleIfError != 10*time.Minute || c.ShutdownDelay != 5*time.Second {
		t.Fatalf("durations/flags: %+v", c)
	}
	if c.AccessLogClientErrors != 100 {
		t.Fatalf("access log cap on client errors: %d, want 100 a second", c.AccessLogClientErrors)
	}
	// 0 turns the cap off: negative in the Config, whose zero value (a
	// Config built in code) is the default cap.
	if c, err := load(t, map[string]string{"KEYWARD_ACCESS_LOG_CLIENT_ERRORS": "0"}); err != nil || c.AccessLogClientErrors >= 0 {
		t.Fatalf("KEYWARD_ACCESS_LOG_CLIENT_ERRORS=0: %v, %+v", err, c)
	}
}

func TestFlagsOverrideEnvironment(t *testing.T) {
	c, err := load(t, map[string]string{"KEYWARD_ADDR": ":9000", "KEYWARD_CACHE_TTL": "5s"}, "--addr", "127.0.0.1:7000")
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != "127.0.0.1:7000" || c.CacheTTL != 5*time.Second {
		t.Fatalf("got %q %v", c.Addr, c.CacheTTL)
	}
}

func TestBadValuesNameTheVariable(t *testing.T) {
	tests := map[string]string{
		"DATABASE_URL":                     "mysql://x",
		"KEYWARD_ADDR":                     "localhost",
		"KEYWARD_KEY_PREFIX":               "KW",
		"KEYWARD_TRUSTED_PROXIES":          "10.0.0.0/33",
		"KEYWARD_ALLOW_QUERY_KEY":          "yes please",
		"KEYWARD_COOKIE_SECURE":            "maybe",
		"KEYWARD_LAST_USED_FLUSH":          "soon",
		"KEYWARD_CACHE_TTL":                "-1s",
		"KEYWARD_CACHE_STALE_IF_ERROR":     "forever",
		"KEYWARD_SHUTDOWN_DELAY":           "-5s",
		"KEYWARD_ACCESS_LOG_CLIENT_ERRORS": "-3",
		"KEYWARD_LOG_FORMAT":               "xml",
		"KEYWARD_SESSION_SECRET":           "short",
		"KEYWARD_SCOPES_FILE":              "/nonexistent/scopes.yaml",
		"KEYWARD_METRICS_TOKEN":            "short",
		"KEYWARD_METRICS_ADDR":             "metrics",
	}
	for env, val := range tests {
		_, err := load(t, map[string]string{env: val})
		if err == nil || !strings.Contains(err.Error(), env) {
			t.Errorf("%s=%q: error %v does not name the variable", env, val, err)
		}
	}
}

func TestMetricsSettings(t *testing.T) {
	c, err := load(t, nil)
	if err != nil || c.MetricsToken != "" || c.MetricsAddr != "" {
		t.Fatalf("metrics are off by default: %+v, %v", c, err)
	}
	c, err = load(t, map[string]string{"KEYWARD_METRICS_TOKEN": "0123456789abcdef0123"}, "--metrics-addr", "127.0.0.1:9090")
	if err != nil || c.MetricsToken != "0123456789abcdef0123" || c.MetricsAddr != "127.0.0.1:9090" {
		t.Fatalf("metrics settings: %+v, %v", c, err)
	}
}

func TestPostgresNeedsSessionSecret(t *testing.T) {
	_, err := load(t, map[string]string{"DATABASE_URL": "postgres://u@h/db"})
	if err == nil || !strings.Contains(err.Error(), "KEYWARD_SESSION_SECRET") {
		t.Fatalf("err = %v", err)
	}
	c, err := load(t, map[string]string{"DATABASE_URL": "postgres://u@h/db", "KEYWARD_SESSION_SECRET": strings.Repeat("s", 32)})
	if err != nil || !c.CookieSecure || c.Embedded() {
		t.Fatalf("postgres config: %+v %v", c, err)
	}
}

func TestTrustedProxies(t *testing.T) {
	c, err := load(t, map[string]string{"KEYWARD_TRUSTED_PROXIES": "10.0.0.0/8, 192.168.1.10 ,::1"})
	if err != nil {
		t.Fatal(err)
	}
	if len(c.TrustedProxies) != 3 || c.TrustedProxies[1].String() != "192.168.1.10/32" {
		t.Fatalf("proxies %v", c.TrustedProxies)
	}
}

func TestScopesFile(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	os.WriteFile(good, []byte("resources:\n  - name: invoices\n    label: Invoices\n    description: Bills.\n"), 0o600)
	c, err := load(t, map[string]string{"KEYWARD_SCOPES_FILE": good})
	if err != nil || len(c.Resources) != 1 || c.Resources[0].Label != "Invoices" {
		t.Fatalf("%+v %v", c, err)
	}
	bare := filepath.Join(dir, "bare.yaml")
	os.WriteFile(bare, []byte("- name: customers\n"), 0o600)
	if c, err := load(t, map[string]string{"KEYWARD_SCOPES_FILE": bare}); err != nil || c.Resources[0].Name != "customers" {
		t.Fatalf("bare list: %v", err)
	}
	dup := filepath.Join(dir, "dup.yaml")
	os.WriteFile(dup, []byte("resources:\n  - name: api_keys\n"), 0o600)
	if _, err := load(t, map[string]string{"KEYWARD_SCOPES_FILE": dup}); err == nil {
		t.Fatal("a resource clashing with a built-in one must be refused")
	}
}

func TestEnsureSessionSecretIsKept(t *testing.T) {
	dir := t.TempDir()
	c := &Config{DataDir: dir}
	if err := c.EnsureSessionSecret(); err != nil || len(c.SessionSecret) < 32 {
		t.Fatalf("%v %q", err, c.SessionSecret)
	}
	st, err := os.Stat(filepath.Join(dir, "session.key"))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("secret file: %v %v", st, err)
	}
	again := &Config{DataDir: dir}
	if err := again.EnsureSessionSecret(); err != nil || string(again.SessionSecret) != string(c.SessionSecret) {
		t.Fatal("the generated secret must survive restarts")
	}
}
