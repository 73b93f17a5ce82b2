package web

import (
	"context"
	"strings"
	"time"
	"unicode"

	"github.com/keyward/keyward/internal/keys"
	"github.com/keyward/keyward/internal/model"
)

// Leaked keys: what the secret-scanning endpoint, "Report a leaked key" and
// POST /v1/keys/report-leak share.

// maxLeakTokens bounds the keys of one report, and the matches of one
// secret-scanning payload.
const maxLeakTokens = 1000

// leakReportFloor is the least time a report takes to answer. The work done
// for a key that exists (a revocation, audit events) is a few milliseconds
// more than for one that does not; answering no sooner than this makes the
// answer's timing the same either way, so the report is no oracle.
const leakReportFloor = 250 * time.Millisecond

// leakReportAnswer is the one answer to every report, whatever was found.
const leakReportAnswer = "If any of these were keyward keys, they are revoked now."

// scannerLabel names GitHub's secret scanning as the actor in audit logs.
const scannerLabel = "GitHub secret scanning"

// errTooManyLeakTokens refuses a report of more than maxLeakTokens keys.
var errTooManyLeakTokens = model.Errorf(model.EINVALID, "Report at most 1,000 keys at a time.")

// leakCandidates returns the distinct key-shaped words of text: runs of
// letters, digits and underscores, so that keys pasted with quotes, commas,
// "NAME=" or inside a line of a config file are found. Only the shape is
// looked at here, never the database.
func leakCandidates(text string) []string {
	var out []string
	seen := map[string]bool{}
	for _, w := range strings.FieldsFunc(text, func(r rune) bool {
		return r != '_' && (r > unicode.MaxASCII || !(r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z'))
	}) {
		// A word may carry a key after a name: FOO_kw_live_… ; the key is
		// its last keys.MaxLen characters at most, tried from the longest.
		if len(w) < 40 || seen[w] {
			continue
		}
		seen[w] = true
		out = append(out, w)
	}
	return out
}

// parseLeaked keeps the candidates that are keyward keys by shape and
// checksum (no database work for anything else) and returns their hashes
// as report sightings, and how many candidates there were.
func parseLeaked(text string) ([]model.Sighting, int) {
	cands := leakCandidates(text)
	var out []model.Sighting
	for _, w := range cands {
		raw, ok := findKeyIn(w)
		if !ok {
			continue
		}
		out = append(out, model.Sighting{Hash: keys.Hash(raw), Source: model.LeakSourceReport})
	}
	return out, len(cands)
}

// findKeyIn returns the key that word is, or ends with (a key glued to a
// variable name by an underscore), checksum checked.
func findKeyIn(word string) (string, bool) {
	if _, err := keys.Parse(word); err == nil {
		return word, true
	}
	// The prefix is 1 to 10 characters after an underscore.
	for i := strings.IndexByte(word, '_'); i >= 0 && i+1 < len(word); {
		rest := word[i+1:]
		if len(rest) <= keys.MaxLen {
			if _, err := keys.Parse(rest); err == nil {
				return rest, true
			}
		}
		j := strings.IndexByte(rest, '_')
		if j < 0 {
			break
		}
		i += 1 + j
	}
	return "", false
}

// reportLeaks revokes every keyward key among sightings, whatever its team,
// on behalf of actor, and waits until leakReportFloor has passed since
// start, so that the caller's uniform answer also takes a uniform time.
func (s *Server) reportLeaks(ctx context.Context, start time.Time, sightings []model.Sighting, actor model.Actor) error {
	_, err := s.store.RecordLeaks(ctx, sightings, actor, true)
	if err != nil {
		return err
	}
	if d := leakReportFloor - time.Since(start); d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}
