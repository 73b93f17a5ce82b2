package store

import (
	"encoding/json"
	"net/url"
	"strconv"
	"strings"
	"time"

	"gorm.io/gorm/clause"
)

var forUpdate = clause.Locking{Strength: "UPDATE"}

// skipLocked claims rows no other transaction holds (PostgreSQL only).
var skipLocked = clause.Locking{Strength: "UPDATE", Options: "SKIP LOCKED"}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// likePattern escapes LIKE wildcards in user input and wraps it in %…%.
func likePattern(q string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return "%" + r.Replace(strings.ToLower(q)) + "%"
}

func equalTimes(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Equal(*b)
}

func timeOrNil(t *time.Time) any {
	if t == nil {
		return nil
	}
	return t.UTC().Format(time.RFC3339)
}

// jsonStrings encodes scopes as the JSON text the scopes column holds.
func jsonStrings(v []string) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// Redact returns a database URL without its password, for logs and errors.
func Redact(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return "(unparsable URL)"
	}
	if _, has := u.User.Password(); has {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	return u.String()
}

// Application names of keyward's PostgreSQL connections, so that operators
// can tell them apart in pg_stat_activity (and end one on purpose).
const (
	AppName         = "keyward"
	AppNameListener = "keyward-listener"
	AppNameMigrate  = "keyward-migrate"
)

// WithAppName returns the postgres:// URL dsn with its application_name set
// to name, replacing one the URL may carry. A URL that does not parse is
// returned as it is (opening it reports the error).
func WithAppName(dsn, name string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return dsn
	}
	q := u.Query()
	q.Set("application_name", name)
	u.RawQuery = q.Encode()
	return u.String()
}
