// Package config reads keyward's configuration from environment variables,
// overridable by command-line flags. Every setting has a safe default, and a
// bad value is reported naming the variable and what it expects.
package config

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/keyward/keyward/internal/keys"
	"github.com/keyward/keyward/internal/model"
	"github.com/keyward/keyward/internal/secretbox"
)

// Config is the whole configuration of a keyward process.
type Config struct {
	DatabaseURL    string
	DataDir        string
	Addr           string
	SessionSecret  []byte
	KeyPrefix      string
	ScopesFile     string
	Resources      []model.Resource
	TrustedProxies []netip.Prefix
	AllowQueryKey  bool
	CookieSecure   bool
	// CookieSecureDefaulted is true when KEYWARD_COOKIE_SECURE was not set and
	// the embedded default turned Secure off for plain-HTTP localhost.
	CookieSecureDefaulted bool
	LastUsedFlush         time.Duration
	CacheTTL              time.Duration
	// LogFormat is json or text; empty: text when stderr is a terminal,
	// json otherwise (the caller decides, knowing its stderr).
	LogFormat string
	// AccessLog is all, errors or off: which /v1 and gateway requests get an
	// access log line (every dashboard request does); errors keeps non-2xx
	// answers and requests slower than AccessLogSlow.
	AccessLog     string
	AccessLogSlow time.Duration
	// AccessLogClientErrors caps, with AccessLog errors, the lines per
	// second written for 4xx answers to machine traffic, so that a flood
	// of bad keys does not become a flood of log lines: 0 is the default
	// cap (a Config built in code gets it), negative no cap
	// (KEYWARD_ACCESS_LOG_CLIENT_ERRORS=0).
	AccessLogClientErrors int
	// CacheStaleIfError is how long past its TTL a cached key is served
	// while the database cannot be reached.
	CacheStaleIfError time.Duration
	// ShutdownDelay is how long a stopping server keeps serving (not ready,
	// every response closing its connection) before it stops accepting.
	ShutdownDelay time.Duration
	// MetricsToken, when set, lets /metrics answer on the main listener to
	// requests bearing it (Authorization: Bearer <token>).
	MetricsToken string
	// MetricsAddr, when set, is a separate listener that serves /metrics.
	// Neither set: /metrics is not served at all.
	MetricsAddr string
	// SMTPURL (smtp:// or smtps://) turns e-mail on; MailFrom is the sender.
	SMTPURL  string
	MailFrom string
	// BaseURL is the dashboard's public URL, for links in e-mails.
	BaseURL string
	// WebhookAllowPrivate lets webhooks reach loopback and private addresses.
	WebhookAllowPrivate bool
	// EncryptionKey seals stored secrets (32 bytes); for the embedded
	// default EnsureEncryptionKey fills it from the data dir.
	EncryptionKey []byte
	// RedisURL, when set, shares keys' rate limits between instances.
	RedisURL string
	// SSOOnly turns password sign-in off (KEYWARD_PASSWORD_LOGIN=false);
	// OIDC is single sign-on (internal/config/oidc.go).
	SSOOnly bool
	OIDC    OIDC
	// Routes maps gateway paths to resources and public paths (the scopes
	// file's routes: and public:); empty without a scopes file.
	Routes *model.RouteTable
	// GatewayAddr is the gateway's listener; empty: no gateway.
	GatewayAddr string
	// Upstream is where the gateway forwards (KEYWARD_UPSTREAM).
	Upstream *url.URL
	// GatewaySecret signs the identity headers sent upstream; empty: unsigned.
	GatewaySecret []byte
	// UpstreamTimeout bounds how long the gateway waits for the upstream's
	// response headers.
	UpstreamTimeout time.Duration
	// SecretScanningKeys is the file of secret scanners' public keys
	// (GitHub's public_keys JSON format); "" turns the scanning endpoint off.
	SecretScanningKeys string
}

// Embedded reports whether the configuration uses the embedded SQLite default.
func (c *Config) Embedded() bool { return c.DatabaseURL == "" }

// DSN is the store's connection string: DATABASE_URL, or the SQLite file in
// the data directory.
func (c *Config) DSN() string {
	if c.DatabaseURL != "" {
		return c.DatabaseURL
	}
	return "file:" + filepath.Join(c.DataDir, "keyward.db")
}

// setting is one variable with its flag.
type setting struct {
	env, flag, def, usage string
}

var settings = []setting{
	{"DATABASE_URL", "database-url", "", "PostgreSQL URL (postgres://…); unset: embedded SQLite in the data dir"},
	{"KEYWARD_DATA_DIR", "data-dir", "./data", "folder for the embedded database and generated secrets"},
	{"KEYWARD_ADDR", "addr", ":8080", "address to listen on"},
	{"KEYWARD_SESSION_SECRET", "session-secret", "", "secret (32+ characters) signing session cookies; required with PostgreSQL"},
	{"KEYWARD_KEY_PREFIX", "key-prefix", keys.DefaultPrefix, "prefix of generated keys, [a-z][a-z0-9]{0,9}"},
	{"KEYWARD_SCOPES_FILE", "scopes-file", "", "YAML file listing your API's resources (name, label, description)"},
	{"KEYWARD_TRUSTED_PROXIES", "trusted-proxies", "", "comma-separated CIDRs whose X-Forwarded-For is believed"},
	{"KEYWARD_ALLOW_QUERY_KEY", "allow-query-key", "false", "accept ?key= on /v1 (true|false)"},
	{"KEYWARD_COOKIE_SECURE", "cookie-secure", "", "mark cookies Secure (true|false); default true, false for the embedded default"},
	{"KEYWARD_LAST_USED_FLUSH", "last-used-flush", "10s", "how often last-used times and usage counts are written"},
	{"KEYWARD_CACHE_TTL", "cache-ttl", "30s", "how long a verified key is cached (0 turns the cache off)"},
	{"KEYWARD_LOG_FORMAT", "log-format", "", "log format: json or text; unset: text when stderr is a terminal, else json"},
	{"KEYWARD_ACCESS_LOG", "access-log", "errors", "access log lines for /v1 and the gateway: all, errors (non-2xx and slow requests) or off; dashboard requests are always logged"},
	{"KEYWARD_ACCESS_LOG_SLOW", "access-log-slow", "500ms", "with KEYWARD_ACCESS_LOG=errors, also log requests slower than this"},
	{"KEYWARD_ACCESS_LOG_CLIENT_ERRORS", "access-log-client-errors", "100", "with KEYWARD_ACCESS_LOG=errors, at most this many lines per second for 4xx answers (the rest are counted in metrics; 0: no limit)"},
	{"KEYWARD_CACHE_STALE_IF_ERROR", "cache-stale-if-error", "10m", "how long past its TTL a cached key is still served while the database is unreachable (0: never)"},
	{"KEYWARD_SHUTDOWN_DELAY", "shutdown-delay", "5s", "on SIGTERM, how long to keep serving while /readyz says 503 before closing the port"},
	{"KEYWARD_METRICS_TOKEN", "metrics-token", "", "bearer token (16+ characters) that /metrics asks for on the main listener; unset: not served there"},
	{"KEYWARD_METRICS_ADDR", "metrics-addr", "", "separate listener (host:port) serving /metrics; unset: none"},
	{"KEYWARD_SMTP_URL", "smtp-url", "", "SMTP server for e-mail, smtp://user:pass@host:587 or smtps://…; unset: no e-mail"},
	{"KEYWARD_MAIL_FROM", "mail-from", "", "sender address of keyward's e-mail, e.g. keyward@example.com"},
	{"KEYWARD_BASE_URL", "base-url", "http://localhost:8080", "public URL of the dashboard, used in e-mail links"},
	{"KEYWARD_WEBHOOK_ALLOW_PRIVATE", "webhook-allow-private", "false", "let webhooks reach loopback and private addresses (true|false)"},
	{"KEYWARD_ENCRYPTION_KEY", "encryption-key", "", "32 bytes in base64 sealing stored webhook secrets; embedded default: generated into the data dir"},
	{"REDIS_URL", "redis-url", "", "Redis URL (redis://, rediss://) sharing keys' rate limits between instances; unset: per instance"},
	{"KEYWARD_GATEWAY_ADDR", "gateway-addr", "", "address of the gateway listener (unset: no gateway)"},
	{"KEYWARD_UPSTREAM", "upstream", "", "URL the gateway forwards to, e.g. http://127.0.0.1:9000"},
	{"KEYWARD_GATEWAY_SECRET", "gateway-secret", "", "secret (32+ characters) signing the identity headers sent upstream (unset: unsigned)"},
	{"KEYWARD_UPSTREAM_TIMEOUT", "upstream-timeout", "30s", "how long the gateway waits for the upstream's response headers"},
	{"KEYWARD_SECRET_SCANNING_KEYS", "secret-scanning-keys", "", "file of secret scanners' public keys (GitHub's public_keys JSON), reloaded on SIGHUP"},
}

// Flags registers one flag per setting on fs and returns a function that
// reads the configuration once fs is parsed; flags win over the environment.
func Flags(fs *flag.FlagSet, getenv func(string) string) func() (*Config, error) {
	vals := make(map[string]*string, len(settings))
	for _, s := range settings {
		v := getenv(s.env)
		if v == "" {
			v = s.def
		}
		vals[s.env] = fs.String(s.flag, v, s.usage+" (env "+s.env+")")
	}
	return func() (*Config, error) {
		get := func(env string) string { return strings.TrimSpace(*vals[env]) }
		return build(get)
	}
}

// Usage lists the variables for --help.
func Usage() string {
	var b strings.Builder
	for _, s := range settings {
		def := s.def
		if def == "" {
			def = "unset"
		}
		fmt.Fprintf(&b, "  %-24s --%-16s %s (default %s)\n", s.env, s.flag, s.usage, def)
	}
	return b.String()
}

func build(get func(string) string) (*Config, error) {
	c := &Config{
		DatabaseURL: get("DATABASE_URL"),
		DataDir:     get("KEYWARD_DATA_DIR"),
		Addr:        get("KEYWARD_ADDR"),
		KeyPrefix:   get("KEYWARD_KEY_PREFIX"),
		ScopesFile:  get("KEYWARD_SCOPES_FILE"),
		LogFormat:   get("KEYWARD_LOG_FORMAT"),
		AccessLog:   get("KEYWARD_ACCESS_LOG"),
		RedisURL:    get("REDIS_URL"),

		SecretScanningKeys: get("KEYWARD_SECRET_SCANNING_KEYS"),
	}
	var errs []error
	bad := func(env, want string, got string) {
		errs = append(errs, fmt.Errorf("%s=%q: %s", env, got, want))
	}
	if c.DatabaseURL != "" && !isPostgresURL(c.DatabaseURL) {
		errs = append(errs, errors.New("DATABASE_URL: expected a postgres:// or postgresql:// URL (leave it unset for the embedded SQLite database)"))
	}
	if c.DataDir == "" {
		bad("KEYWARD_DATA_DIR", "expected a folder path", c.DataDir)
	}
	if _, port, err := splitAddr(c.Addr); err != nil || port == "" {
		bad("KEYWARD_ADDR", "expected host:port or :port, e.g. :8080", c.Addr)
	}
	if !keys.ValidPrefix(c.KeyPrefix) {
		bad("KEYWARD_KEY_PREFIX", "expected 1–10 characters matching [a-z][a-z0-9]{0,9}", c.KeyPrefix)
	}
	if secret := get("KEYWARD_SESSION_SECRET"); secret != "" {
		if len(secret) < 32 {
			errs = append(errs, errors.New("KEYWARD_SESSION_SECRET: expected at least 32 characters (e.g. the output of `openssl rand -hex 32`)"))
		}
		c.SessionSecret = []byte(secret)
	} else if isPostgresURL(c.DatabaseURL) {
		errs = append(errs, errors.New("KEYWARD_SESSION_SECRET: required with PostgreSQL so that every instance signs sessions alike (e.g. `openssl rand -hex 32`)"))
	}
	for _, p := range splitList(get("KEYWARD_TRUSTED_PROXIES")) {
		pfx, err := netip.ParsePrefix(p)
		if err != nil {
			if a, aerr := netip.ParseAddr(p); aerr == nil {
				pfx = netip.PrefixFrom(a, a.BitLen())
			} else {
				bad("KEYWARD_TRUSTED_PROXIES", "expected comma-separated CIDRs such as 10.0.0.0/8,192.168.1.10", p)
				continue
			}
		}
		c.TrustedProxies = append(c.TrustedProxies, pfx.Masked())
	}
	var err error
	if c.AllowQueryKey, err = strconv.ParseBool(get("KEYWARD_ALLOW_QUERY_KEY")); err != nil {
		bad("KEYWARD_ALLOW_QUERY_KEY", "expected true or false", get("KEYWARD_ALLOW_QUERY_KEY"))
	}
	switch v := get("KEYWARD_COOKIE_SECURE"); v {
	case "":
		c.CookieSecure = !c.Embedded()
		c.CookieSecureDefaulted = c.Embedded()
	default:
		if c.CookieSecure, err = strconv.ParseBool(v); err != nil {
			bad("KEYWARD_COOKIE_SECURE", "expected true or false", v)
		}
	}
	if c.LastUsedFlush, err = time.ParseDuration(get("KEYWARD_LAST_USED_FLUSH")); err != nil || c.LastUsedFlush < 100*time.Millisecond || c.LastUsedFlush > time.Hour {
		bad("KEYWARD_LAST_USED_FLUSH", "expected a duration between 100ms and 1h, e.g. 10s", get("KEYWARD_LAST_USED_FLUSH"))
	}
	if c.CacheTTL, err = time.ParseDuration(get("KEYWARD_CACHE_TTL")); err != nil || c.CacheTTL < 0 || c.CacheTTL > 10*time.Minute {
		bad("KEYWARD_CACHE_TTL", "expected a duration between 0 (off) and 10m, e.g. 30s", get("KEYWARD_CACHE_TTL"))
	}
	c.MetricsToken, c.MetricsAddr = get("KEYWARD_METRICS_TOKEN"), get("KEYWARD_METRICS_ADDR")
	if c.MetricsToken != "" && len(c.MetricsToken) < 16 {
		errs = append(errs, errors.New("KEYWARD_METRICS_TOKEN: expected at least 16 characters (e.g. the output of `openssl rand -hex 32`)"))
	}
	if c.MetricsAddr != "" {
		if _, port, err := splitAddr(c.MetricsAddr); err != nil || port == "" {
			bad("KEYWARD_METRICS_ADDR", "expected host:port or :port, e.g. 127.0.0.1:9090", c.MetricsAddr)
		}
	}
	if c.CacheStaleIfError, err = time.ParseDuration(get("KEYWARD_CACHE_STALE_IF_ERROR")); err != nil || c.CacheStaleIfError < 0 || c.CacheStaleIfError > 24*time.Hour {
		bad("KEYWARD_CACHE_STALE_IF_ERROR", "expected a duration between 0 (off) and 24h, e.g. 10m", get("KEYWARD_CACHE_STALE_IF_ERROR"))
	}
	if c.ShutdownDelay, err = time.ParseDuration(get("KEYWARD_SHUTDOWN_DELAY")); err != nil || c.ShutdownDelay < 0 || c.ShutdownDelay > 5*time.Minute {
		bad("KEYWARD_SHUTDOWN_DELAY", "expected a duration between 0 and 5m, e.g. 5s", get("KEYWARD_SHUTDOWN_DELAY"))
	}
	if c.RedisURL != "" && !strings.HasPrefix(c.RedisURL, "redis://") && !strings.HasPrefix(c.RedisURL, "rediss://") && !strings.HasPrefix(c.RedisURL, "unix://") {
		errs = append(errs, errors.New("REDIS_URL: expected a redis://, rediss:// or unix:// URL (leave it unset for per-instance rate limits)"))
	}
	if c.LogFormat != "" && c.LogFormat != "json" && c.LogFormat != "text" {
		bad("KEYWARD_LOG_FORMAT", "expected json or text", c.LogFormat)
	}
	switch c.AccessLog {
	case "all", "errors", "off":
	default:
		bad("KEYWARD_ACCESS_LOG", "expected all, errors or off", c.AccessLog)
	}
	if c.AccessLogSlow, err = time.ParseDuration(get("KEYWARD_ACCESS_LOG_SLOW")); err != nil || c.AccessLogSlow <= 0 {
		bad("KEYWARD_ACCESS_LOG_SLOW", "expected a positive duration, e.g. 500ms", get("KEYWARD_ACCESS_LOG_SLOW"))
	}
	if c.AccessLogClientErrors, err = strconv.Atoi(get("KEYWARD_ACCESS_LOG_CLIENT_ERRORS")); err != nil || c.AccessLogClientErrors < 0 {
		bad("KEYWARD_ACCESS_LOG_CLIENT_ERRORS", "expected a number of lines per second, 0 for no limit", get("KEYWARD_ACCESS_LOG_CLIENT_ERRORS"))
	} else if c.AccessLogClientErrors == 0 {
		c.AccessLogClientErrors = -1
	}
	c.SMTPURL, c.MailFrom, c.BaseURL = get("KEYWARD_SMTP_URL"), get("KEYWARD_MAIL_FROM"), strings.TrimRight(get("KEYWARD_BASE_URL"), "/")
	if c.SMTPURL != "" {
		if u, err := url.Parse(c.SMTPURL); err != nil || (u.Scheme != "smtp" && u.Scheme != "smtps") || u.Hostname() == "" {
			errs = append(errs, errors.New("KEYWARD_SMTP_URL: expected smtp://user:pass@host:587 or smtps://user:pass@host:465"))
		}
		if c.MailFrom == "" {
			errs = append(errs, errors.New("KEYWARD_MAIL_FROM: required with KEYWARD_SMTP_URL (the sender address of keyward's e-mail)"))
		}
	}
	if u, err := url.Parse(c.BaseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		bad("KEYWARD_BASE_URL", "expected the dashboard's public URL, e.g. https://keys.example.com", c.BaseURL)
	}
	if c.WebhookAllowPrivate, err = strconv.ParseBool(get("KEYWARD_WEBHOOK_ALLOW_PRIVATE")); err != nil {
		bad("KEYWARD_WEBHOOK_ALLOW_PRIVATE", "expected true or false", get("KEYWARD_WEBHOOK_ALLOW_PRIVATE"))
	}
	if k := get("KEYWARD_ENCRYPTION_KEY"); k != "" {
		if c.EncryptionKey, err = secretbox.ParseKey(k); err != nil {
			errs = append(errs, fmt.Errorf("KEYWARD_ENCRYPTION_KEY: %w", err))
		}
	}
	if c.ScopesFile != "" {
		sc, err := LoadScopes(c.ScopesFile)
		if err != nil {
			errs = append(errs, fmt.Errorf("KEYWARD_SCOPES_FILE: %w", err))
		} else {
			c.Resources, c.Routes = sc.Resources, sc.Routes
		}
	}
	if c.UpstreamTimeout, err = time.ParseDuration(get("KEYWARD_UPSTREAM_TIMEOUT")); err != nil || c.UpstreamTimeout < 100*time.Millisecond || c.UpstreamTimeout > time.Hour {
		bad("KEYWARD_UPSTREAM_TIMEOUT", "expected a duration between 100ms and 1h, e.g. 30s", get("KEYWARD_UPSTREAM_TIMEOUT"))
	}
	if secret := get("KEYWARD_GATEWAY_SECRET"); secret != "" {
		if len(secret) < 32 {
			errs = append(errs, errors.New("KEYWARD_GATEWAY_SECRET: expected at least 32 characters (e.g. the output of `openssl rand -hex 32`)"))
		}
		c.GatewaySecret = []byte(secret)
	}
	if c.GatewayAddr = get("KEYWARD_GATEWAY_ADDR"); c.GatewayAddr != "" {
		if _, port, err := splitAddr(c.GatewayAddr); err != nil || port == "" {
			bad("KEYWARD_GATEWAY_ADDR", "expected host:port or :port, e.g. :8081", c.GatewayAddr)
		}
	}
	if up := get("KEYWARD_UPSTREAM"); up != "" || c.GatewayAddr != "" {
		if c.Upstream, err = ParseUpstream(up); err != nil {
			errs = append(errs, err)
		}
	}
	errs = append(errs, c.buildAccounts(get)...)
	return c, errors.Join(errs...)
}

func isPostgresURL(s string) bool {
	return strings.HasPrefix(s, "postgres://") || strings.HasPrefix(s, "postgresql://")
}

func splitAddr(addr string) (string, string, error) {
	i := strings.LastIndexByte(addr, ':')
	if i < 0 {
		return "", "", errors.New("no port")
	}
	if _, err := strconv.ParseUint(addr[i+1:], 10, 16); err != nil {
		return "", "", err
	}
	return addr[:i], addr[i+1:], nil
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// ParseUpstream checks KEYWARD_UPSTREAM: an absolute http or https URL with
// a host, and neither credentials, query nor fragment. The error names the
// variable.
func ParseUpstream(s string) (*url.URL, error) {
	const want = "expected the http:// or https:// URL of your API, e.g. http://127.0.0.1:9000"
	if s == "" {
		return nil, errors.New("KEYWARD_UPSTREAM: required by the gateway (KEYWARD_GATEWAY_ADDR or keyward gateway); " + want)
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Opaque != "" {
		return nil, fmt.Errorf("KEYWARD_UPSTREAM=%q: %s", s, want)
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" || u.ForceQuery {
		return nil, fmt.Errorf("KEYWARD_UPSTREAM=%q: %s, without credentials, query or fragment", u.Redacted(), want)
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	u.RawPath = ""
	return u, nil
}

// Scopes is what a scopes file (KEYWARD_SCOPES_FILE) describes: the
// operator's resources and the gateway's routes.
type Scopes struct {
	Resources []model.Resource
	// Routes holds every resource's routes: and the top-level public:
	// patterns, each with its line in the file.
	Routes *model.RouteTable
}

// LoadResources reads the resources of a scopes file (see LoadScopes).
func LoadResources(path string) ([]model.Resource, error) {
	sc, err := LoadScopes(path)
	if err != nil {
		return nil, err
	}
	return sc.Resources, nil
}

// LoadScopes reads a scopes file: YAML with a top-level `resources:` list
// (or a bare list) of {name, label, description, routes}, and an optional
// top-level `public:` list of path patterns that need no key. A malformed
// or repeated route pattern is an error naming its line.
func LoadScopes(path string) (*Scopes, error) {
	b, err := os.ReadFile(path) // #nosec G304 -- KEYWARD_SCOPES_FILE: the operator names the file to read
	if err != nil {
		return nil, err
	}
	// The routes first, from the YAML tree, so that their errors name lines.
	var root yaml.Node
	if err := yaml.Unmarshal(b, &root); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	routes, err := scopeRoutes(&root)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var doc struct {
		Resources []model.Resource `yaml:"resources"`
	}
	if err := yaml.Unmarshal(b, &doc); err != nil || doc.Resources == nil {
		var list []model.Resource
		if err2 := yaml.Unmarshal(b, &list); err2 != nil {
			if err == nil {
				err = err2
			}
			return nil, fmt.Errorf("%s: expected `resources:` with a list of {name, label, description, routes}: %w", path, err)
		}
		doc.Resources = list
	}
	if _, err := model.NewCatalog(doc.Resources); err != nil {
		return nil, fmt.Errorf("%s: %s", path, model.ErrorMessage(err))
	}
	table, err := model.NewRouteTable(routes)
	if err != nil {
		return nil, fmt.Errorf("%s: %s", path, model.ErrorMessage(err))
	}
	return &Scopes{Resources: doc.Resources, Routes: table}, nil
}

// scopeRoutes reads the route patterns of a scopes file with their lines,
// in the file's order.
func scopeRoutes(root *yaml.Node) ([]model.Route, error) {
	if root.Kind != yaml.DocumentNode || len(root.Content) == 0 {
		return nil, nil
	}
	doc := root.Content[0]
	if doc.Kind == yaml.SequenceNode {
		return resourceRoutes(doc, nil)
	}
	var routes []model.Route
	if doc.Kind != yaml.MappingNode {
		return nil, nil
	}
	for i := 0; i+1 < len(doc.Content); i += 2 {
		var err error
		switch doc.Content[i].Value {
		case "resources":
			routes, err = resourceRoutes(doc.Content[i+1], routes)
		case "public":
			var pats []*yaml.Node
			pats, err = patternList(doc.Content[i+1], "public")
			for _, p := range pats {
				routes = append(routes, model.Route{Pattern: p.Value, Public: true, Line: p.Line})
			}
		}
		if err != nil {
			return nil, err
		}
	}
	return routes, nil
}

// resourceRoutes appends the routes of each resource of list to routes.
func resourceRoutes(list *yaml.Node, routes []model.Route) ([]model.Route, error) {
	if list.Kind != yaml.SequenceNode {
		return routes, nil
	}
	for _, item := range list.Content {
		if item.Kind != yaml.MappingNode {
			continue
		}
		var name string
		var pats *yaml.Node
		for i := 0; i+1 < len(item.Content); i += 2 {
			switch item.Content[i].Value {
			case "name":
				name = item.Content[i+1].Value
			case "routes":
				pats = item.Content[i+1]
			}
		}
		if pats == nil {
			continue
		}
		nodes, err := patternList(pats, "routes of "+name)
		if err != nil {
			return nil, err
		}
		for _, p := range nodes {
			routes = append(routes, model.Route{Pattern: p.Value, Resource: name, Line: p.Line})
		}
	}
	return routes, nil
}

// patternList checks that n is a list of strings.
func patternList(n *yaml.Node, what string) ([]*yaml.Node, error) {
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return nil, nil
	}
	if n.Kind != yaml.SequenceNode {
		return nil, fmt.Errorf("line %d: %s must be a list of path patterns such as [\"/v1/invoices\", \"/v1/invoices/*\"]", n.Line, what)
	}
	for _, p := range n.Content {
		if p.Kind != yaml.ScalarNode || (p.Tag != "!!str" && p.Tag != "") {
			return nil, fmt.Errorf("line %d: %s must list path patterns as strings, such as \"/v1/invoices\"", p.Line, what)
		}
	}
	return n.Content, nil
}

// EnsureSessionSecret fills SessionSecret for the embedded default: read from
// session.key in the data dir, or generated once and kept there (mode 0600).
func (c *Config) EnsureSessionSecret() error {
	if len(c.SessionSecret) > 0 {
		return nil
	}
	path := filepath.Join(c.DataDir, "session.key")
	if b, err := os.ReadFile(path); err == nil && len(strings.TrimSpace(string(b))) >= 32 { // #nosec G304 -- session.key in the operator's KEYWARD_DATA_DIR
		c.SessionSecret = []byte(strings.TrimSpace(string(b)))
		return nil
	}
	if err := os.MkdirAll(c.DataDir, 0o700); err != nil {
		return fmt.Errorf("KEYWARD_DATA_DIR: cannot create %s: %w", c.DataDir, err)
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return err
	}
	secret := hex.EncodeToString(raw)
	if err := os.WriteFile(path, []byte(secret+"\n"), 0o600); err != nil {
		return fmt.Errorf("KEYWARD_DATA_DIR: cannot write the session secret: %w", err)
	}
	c.SessionSecret = []byte(secret)
	return nil
}

// EnsureEncryptionKey fills EncryptionKey for the embedded default: read
// from encryption.key in the data dir, or generated once and kept there
// (mode 0600). With PostgreSQL the key must come from KEYWARD_ENCRYPTION_KEY
// so that every instance shares it; then this does nothing.
func (c *Config) EnsureEncryptionKey() error {
	if len(c.EncryptionKey) > 0 || !c.Embedded() {
		return nil
	}
	k, err := secretbox.EnsureKeyFile(c.DataDir)
	if err != nil {
		return fmt.Errorf("KEYWARD_DATA_DIR: %w", err)
	}
	c.EncryptionKey = k
	return nil
}
