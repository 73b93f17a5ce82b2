package web

// Fuzz targets of package web: the /v1 credential parser and the key form
// (expiry choices and dates, access fields, names). Seeds live in
// testdata/fuzz/<target> as well as below; .ci/fuzz.sh runs each target.

import (
	"errors"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/keyward/keyward/internal/model"
)

// bearerValue is the spec of an Authorization value that carries a key:
// the word Bearer in any case, then spaces or tabs, then the key.
var bearerValue = regexp.MustCompile(`^(?i:bearer)[ \t]+(.*)$`)

// credentialSpec is what apiCredential must answer, written from the API
// contract rather than from its code: blank values carry no key; one key
// however often repeated is one credential; two different keys are refused
// (headers are looked at before the query); a key in the query is refused
// unless allowed; no key is the invalid-key error.
func credentialSpec(xkeys, auths []string, query url.Values, allowQuery bool) (string, error) {
	var creds []string
	for _, v := range xkeys {
		if k := strings.TrimSpace(v); k != "" {
			creds = append(creds, k)
		}
	}
	for _, v := range auths {
		if m := bearerValue.FindStringSubmatch(strings.TrimSpace(v)); m != nil {
			if k := strings.TrimSpace(m[1]); k != "" {
				creds = append(creds, k)
			}
		}
	}
	distinct := func() bool {
		for _, c := range creds {
			if c != creds[0] {
				return true
			}
		}
		return false
	}
	if distinct() {
		return "", errTwoKeys
	}
	if q, ok := query["key"]; ok {
		if !allowQuery {
			return "", errQueryKey
		}
		for _, v := range q {
			if k := strings.TrimSpace(v); k != "" {
				creds = append(creds, k)
			}
		}
		if distinct() {
			return "", errTwoKeys
		}
	}
	if len(creds) == 0 {
		return "", errInvalidKey
	}
	return creds[0], nil
}

// FuzzAPICredential checks apiCredential against credentialSpec. xkeys and
// auths hold one header value per line (a header value has no line breaks).
func FuzzAPICredential(f *testing.F) {
	const k1 = "kw_live_4eC39HqLyjWDarjtT1zdp7dc0sHVWq"
	const k2 = "kw_test_0000000000000000000000000000000000"
	for _, s := range []struct {
		xkeys, auths, query string
		allow               bool
	}{
		{k1, "", "", false},
		{"", "Bearer " + k1, "", false},
		{"", "bearer \t " + k1 + "  ", "", false},
		{k1 + "\n" + k1, "BEARER " + k1, "", false},
		{k1, "Bearer " + k2, "", false},
		{k1 + "\n", "", "", false},
		{"\n" + k1, "", "", false},
		{k1, "Bearer ", "", false},
		{"", "Basic " + k1, "", false},
		{"", "Bearer" + k1, "", false},
		{"", "Bearer\u00a0" + k1, "", false},
		{"", "", "key=" + k1, false},
		{"", "", "key=" + k1, true},
		{k1, "", "key=" + k2, true},
		{k1, "", "key=", true},
		{"", "", "key=%zz&key=" + k1, true},
		{"", "", "a=1;key=x", true},
		{" \t", "bearer", "", false},
	} {
		f.Add(s.xkeys, s.auths, s.query, s.allow)
	}
	f.Fuzz(func(t *testing.T, xkeys, auths, query string, allow bool) {
		r := &http.Request{Header: http.Header{}, URL: &url.URL{Path: "/v1/whoami", RawQuery: query}}
		var xs, as []string
		if xkeys != "" {
			xs = strings.Split(xkeys, "\n")
			r.Header[headerAPIKey] = xs
		}
		if auths != "" {
			as = strings.Split(auths, "\n")
			r.Header["Authorization"] = as
		}
		got, err := apiCredential(r, allow)
		want, wantErr := credentialSpec(xs, as, r.URL.Query(), allow)
		if got != want || !errors.Is(err, wantErr) && err != wantErr {
			t.Fatalf("apiCredential(X-API-Key %q, Authorization %q, query %q, allow %v) = %q, %v; want %q, %v",
				xs, as, query, allow, got, err, want, wantErr)
		}
		if err == nil && (got == "" || strings.TrimSpace(got) != got) {
			t.Fatalf("apiCredential returned %q", got)
		}
	})
}

// FuzzKeyForm checks the create and edit form (parseKeyForm, then NewKey or
// EditKey, as the handlers run them) on arbitrary form bodies and clocks:
// no panic, only the form's field names in errors, and whatever is accepted
// follows the form contract.
func FuzzKeyForm(f *testing.F) {
	for _, s := range []struct {
		body    string
		now     int64
		editing bool
	}{
		{"name=Billing&environment=live&permission=read_all&expires=30d", testEpoch.Unix(), false},
		{"name=x&environment=test&permission=restricted&access.invoices=write&access.api_keys=read&expires=never", testEpoch.Unix(), false},
		{"name=x&environment=live&permission=restricted&access.nope=write&expires=7d", testEpoch.Unix(), false},
		{"name=x&environment=live&permission=restricted&access.invoices=none&expires=7d", testEpoch.Unix(), false},
		{"name=x&environment=live&permission=write_all&expires=custom&expires_at=2026-03-02", testEpoch.Unix(), false},
		{"name=x&environment=live&permission=write_all&expires=custom&expires_at=2026-03-01", testEpoch.Unix(), false},
		{"name=x&environment=live&permission=write_all&expires=custom&expires_at=9999-12-31", testEpoch.Unix(), false},
		{"name=x&environment=live&permission=write_all&expires=custom&expires_at=2026-02-30", testEpoch.Unix(), false},
		{"name=x&environment=live&permission=write_all&expires=custom&expires_at=+2026-03-05", testEpoch.Unix(), false},
		{"name=x&permission=read_all&expires=keep", testEpoch.Unix(), true},
		{"name=x&permission=read_all", testEpoch.Unix(), true},
		{"name=x&permission=read_all", testEpoch.Unix(), false},
		{"name=x&permission=read_all&expires=90d", 253402300000, false},
		{"name=x&permission=read_all&expires=90d", -62135596800, false},
		{"name=%00&environment=live&permission=read_all&expires=never", 0, false},
		{"name=+%E2%80%AE+&environment=live&permission=read_all&expires=never", 0, false},
		{"name=" + strings.Repeat("%C3%A9", 101) + "&environment=live&permission=read_all&expires=never", 0, false},
		{"expires=7D&expires=never&name=x&environment=live&permission=read_all", 0, false},
		{"name=x&environment=LIVE&permission=READ_ALL&expires=30d", 0, false},
	} {
		f.Add(s.body, s.now, s.editing)
	}
	cat, err := model.NewCatalog([]model.Resource{{Name: "invoices"}})
	if err != nil {
		f.Fatal(err)
	}
	fields := map[string]bool{"name": true, "environment": true, "permission": true, "scopes": true, "expires": true, "expires_at": true}
	f.Fuzz(func(t *testing.T, body string, nowUnix int64, editing bool) {
		form, _ := url.ParseQuery(body)
		// The clock stays within the years a date field can name.
		nowUnix = min(max(nowUnix, -62135596800), 253402300799-100*86400)
		now := time.Unix(nowUnix, 0).UTC()
		d := parseKeyForm(form, cat, now, editing)
		var k model.APIKey
		var upd model.KeyUpdate
		if editing {
			upd, err = EditKey(cat, d.Input, now)
		} else {
			k, _, err = NewKey(cat, "kw", 1, d.Input, now)
		}
		err = d.merge(err)
		if err != nil {
			if model.ErrorCode(err) != model.EINVALID {
				t.Fatalf("%q: error %v is not EINVALID", body, err)
			}
			for f := range model.ErrorFields(err) {
				if !fields[f] {
					t.Fatalf("%q: error on unknown field %q", body, f)
				}
			}
			return
		}
		name := strings.TrimSpace(form.Get("name"))
		if editing {
			if upd.Name == nil || *upd.Name != name {
				t.Fatalf("%q: name %v, want %q", body, upd.Name, name)
			}
		} else if k.Name != name {
			t.Fatalf("%q: name %q, want %q", body, k.Name, name)
		}
		if n := utf8.RuneCountInString(name); n < 1 || n > model.MaxKeyNameLen || strings.ContainsFunc(name, unicode.IsControl) || !utf8.ValidString(name) {
			t.Fatalf("%q: accepted the name %q", body, name)
		}
		exp := k.ExpiresAt
		if editing {
			exp = upd.ExpiresAt
		}
		choice := strings.TrimSpace(form.Get("expires"))
		switch {
		case editing && (choice == "keep" || choice == ""):
			if !d.KeepExpiry || exp != nil {
				t.Fatalf("%q: keep gave %v (keep %v)", body, exp, d.KeepExpiry)
			}
		case choice == "never":
			if exp != nil {
				t.Fatalf("%q: never gave %v", body, exp)
			}
		case choice == "custom":
			day, err := time.ParseInLocation("2006-01-02", strings.TrimSpace(form.Get("expires_at")), time.UTC)
			want := day.Add(24*time.Hour - time.Second)
			if err != nil || exp == nil || !exp.Equal(want) {
				t.Fatalf("%q: custom gave %v, want %v (%v)", body, exp, want, err)
			}
		default:
			days := map[string]int{"7d": 7, "30d": 30, "60d": 60, "90d": 90}[choice]
			if days == 0 || exp == nil || !exp.Equal(now.Add(time.Duration(days)*24*time.Hour)) {
				t.Fatalf("%q: expires=%q gave %v", body, choice, exp)
			}
		}
		if exp != nil && (!exp.After(now) || exp.Location() != time.UTC) {
			t.Fatalf("%q: expiry %v is not a future UTC time (now %v)", body, exp, now)
		}
		if editing {
			return
		}
		if k.Environment != model.EnvLive && k.Environment != model.EnvTest || !k.PermissionSet.Valid() {
			t.Fatalf("%q: accepted %+v", body, k)
		}
		if k.PermissionSet == model.PermRestricted {
			if len(k.Scopes) == 0 {
				t.Fatalf("%q: a restricted key without scopes", body)
			}
			for _, s := range k.Scopes {
				if _, _, err := model.ParseScope(cat, s); err != nil {
					t.Fatalf("%q: stored scope %q: %v", body, s, err)
				}
			}
		} else if len(k.Scopes) != 0 {
			t.Fatalf("%q: %s key with scopes %v", body, k.PermissionSet, k.Scopes)
		}
	})
}
