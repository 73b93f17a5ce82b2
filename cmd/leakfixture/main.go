// Command leakfixture proves keyward's detection rule with a real scanner
// (.ci/run runs it around gitleaks). It is a development tool, not shipped.
//
//	leakfixture write -dir DIR -expect FILE [-prefix kw] [-n 300]
//	    writes files under DIR holding n freshly generated keys the way
//	    people leak them (.env lines, YAML, JSON, Go and shell code, URLs),
//	    strings that are near misses in shape (wrong prefix or environment,
//	    a character short or long, a character outside base62, glued to a
//	    longer word), and strings of the exact shape whose checksum is
//	    wrong; FILE (outside DIR) records which is which.
//	leakfixture check -expect FILE -report REPORT
//	    reads gitleaks' JSON report and fails unless every generated key
//	    was found, no shape near miss was, and the only findings that fail
//	    keyward's checksum are the wrong-checksum strings: a regular
//	    expression cannot compute a CRC, so those match the rule by design,
//	    and keyward's secret-scanning endpoint labels them false_positive.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/keyward/keyward/internal/keys"
)

// expectation is what write generated, for check.
type expectation struct {
	Prefix         string   `json:"prefix"`
	Keys           []string `json:"keys"`
	ShapeMisses    []string `json:"shape_misses"`
	ChecksumMisses []string `json:"checksum_misses"`
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: leakfixture write|check [flags]")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "write":
		err = runWrite(os.Args[2:])
	case "check":
		err = runCheck(os.Args[2:])
	default:
		err = fmt.Errorf("unknown command %q: want write or check", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "leakfixture:", err)
		os.Exit(1)
	}
}

func runWrite(args []string) error {
	fs := flag.NewFlagSet("write", flag.ExitOnError)
	dir := fs.String("dir", "", "folder to write the fixture into (created)")
	expect := fs.String("expect", "", "file to record the expectations in (outside -dir)")
	prefix := fs.String("prefix", keys.DefaultPrefix, "key prefix (KEYWARD_KEY_PREFIX)")
	n := fs.Int("n", 300, "number of keys to generate")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *dir == "" || *expect == "" {
		return errors.New("write needs -dir and -expect")
	}
	if err := os.MkdirAll(*dir, 0o750); err != nil {
		return err
	}
	ex := expectation{Prefix: *prefix}
	gen := func(env string) (string, error) { return keys.Generate(*prefix, env) }

	// Keys, in the places people paste them.
	wrappers := []string{
		"API_KEY=%s", "export KEYWARD_KEY=\"%s\"", "  api_key: %s", "{\"key\": \"%s\"}",
		"client := keyward.New(\"%s\")", "curl -H 'Authorization: Bearer %s' https://api.example.com/v1/whoami",
		"https://api.example.com/v1/whoami?key=%s&x=1", "%s", "- `%s` (the staging key)", "key='%s';",
	}
	var found strings.Builder
	for i := 0; i < *n; i++ {
		env := "live"
		if i%3 == 2 {
			env = "test"
		}
		k, err := gen(env)
		if err != nil {
			return err
		}
		ex.Keys = append(ex.Keys, k)
		fmt.Fprintf(&found, wrappers[i%len(wrappers)]+"\n", k)
	}

	// Near misses in shape: none may be found.
	var misses strings.Builder
	for i := 0; i < *n; i++ {
		k, err := gen("live")
		if err != nil {
			return err
		}
		body := k[len(*prefix)+len("_live_"):] // 32 secret + 6 check characters
		var m string
		switch i % 8 {
		case 0: // another vendor's prefix
			m = "zz" + *prefix + "_live_" + body
		case 1: // an environment keyward does not have
			m = *prefix + "_prod_" + body
		case 2: // one character short
			m = *prefix + "_live_" + body[1:]
		case 3: // one character long
			m = k + "Q"
		case 4: // a character outside base62
			m = *prefix + "_live_" + body[:10] + "-" + body[11:]
		case 5: // glued to a longer word
			m = "x" + k
		case 6: // upper-case prefix
			m = strings.ToUpper(*prefix) + "_LIVE_" + body
		case 7: // a dot inside
			m = *prefix + "_live_" + body[:20] + "." + body[21:]
		}
		if _, err := keys.Parse(m); err == nil {
			return fmt.Errorf("near miss %q parses as a key", m)
		}
		ex.ShapeMisses = append(ex.ShapeMisses, m)
		fmt.Fprintf(&misses, "TOKEN=%s\n", m)
	}

	// The exact shape with a wrong check: the rule matches them by design.
	var checksum strings.Builder
	for i := 0; i < *n/10+1; i++ {
		k, err := gen("test")
		if err != nil {
			return err
		}
		last := byte('0')
		if k[len(k)-1] == '0' {
			last = '1'
		}
		m := k[:len(k)-1] + string(last)
		if _, err := keys.Parse(m); !errors.Is(err, keys.ErrChecksum) {
			return fmt.Errorf("checksum miss %q: %v", m, err)
		}
		ex.ChecksumMisses = append(ex.ChecksumMisses, m)
		fmt.Fprintf(&checksum, "SECRET=%s\n", m)
	}

	for name, text := range map[string]string{
		"leaked.env": found.String(), "near-misses.txt": misses.String(), "wrong-checksum.txt": checksum.String(),
	} {
		if err := os.WriteFile(filepath.Join(*dir, name), []byte(text), 0o600); err != nil {
			return err
		}
	}
	b, err := json.Marshal(ex)
	if err != nil {
		return err
	}
	return os.WriteFile(*expect, b, 0o600)
}

// finding is the part of a gitleaks JSON report entry check reads.
type finding struct {
	RuleID string `json:"RuleID"`
	Secret string `json:"Secret"`
	File   string `json:"File"`
}

func runCheck(args []string) error {
	fs := flag.NewFlagSet("check", flag.ExitOnError)
	expect := fs.String("expect", "", "the expectations written by write")
	report := fs.String("report", "", "gitleaks' JSON report")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var ex expectation
	if err := readJSON(*expect, &ex); err != nil {
		return err
	}
	var findings []finding
	if err := readJSON(*report, &findings); err != nil {
		return err
	}
	got := map[string]bool{}
	var problems []string
	for _, f := range findings {
		got[f.Secret] = true
		_, err := keys.Parse(f.Secret)
		switch {
		case err == nil && slices.Contains(ex.Keys, f.Secret):
		case errors.Is(err, keys.ErrChecksum) && slices.Contains(ex.ChecksumMisses, f.Secret):
		case slices.Contains(ex.ShapeMisses, f.Secret):
			problems = append(problems, fmt.Sprintf("near miss found by rule %s in %s: %s", f.RuleID, filepath.Base(f.File), f.Secret))
		default:
			problems = append(problems, fmt.Sprintf("unexpected finding by rule %s in %s: %q", f.RuleID, filepath.Base(f.File), f.Secret))
		}
	}
	missed := 0
	for _, k := range ex.Keys {
		if !got[k] {
			missed++
			if missed <= 5 {
				problems = append(problems, "generated key not found: "+k[:len(ex.Prefix)+10]+"…")
			}
		}
	}
	checksumMatched := 0
	for _, m := range ex.ChecksumMisses {
		if got[m] {
			checksumMatched++
		}
	}
	fmt.Printf("leakfixture: %d findings: %d of %d generated keys found, %d of %d shape near misses found, %d of %d wrong-checksum strings matched (expected: a regex cannot check the CRC; keyward's endpoint labels them false_positive)\n",
		len(findings), len(ex.Keys)-missed, len(ex.Keys), countFound(got, ex.ShapeMisses), len(ex.ShapeMisses), checksumMatched, len(ex.ChecksumMisses))
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "\n"))
	}
	return nil
}

func countFound(got map[string]bool, list []string) int {
	n := 0
	for _, s := range list {
		if got[s] {
			n++
		}
	}
	return n
}

func readJSON(path string, v any) error {
	b, err := os.ReadFile(path) // #nosec G304 -- a development tool reading the files it is told to
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}
