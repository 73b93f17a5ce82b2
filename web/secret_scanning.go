package web

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"unicode"

	"github.com/labstack/echo/v4"

	"github.com/keyward/keyward/internal/keys"
	"github.com/keyward/keyward/internal/model"
)

// maxScanBody bounds a secret-scanning payload: 1,000 matches with URLs of
// several hundred bytes fit in well under 1 MiB.
const maxScanBody = 1 << 20

// GitHub's signature headers (canonical form).
const (
	headerScanKeyID     = "Github-Public-Key-Identifier"
	headerScanSignature = "Github-Public-Key-Signature"
)

// Lengths kept of a match's URL, source and type.
const (
	maxLeakURL    = 2048
	maxLeakSource = 64
	maxLeakType   = 100
)

// errBadScanSignature is the one answer for a payload whose signature does
// not verify (no keys configured, unknown key id, bad or missing signature):
// the sender learns nothing else, and nothing changes.
var errBadScanSignature = &apiError{code: "invalid_signature", err: model.Errorf(model.EUNAUTHORIZED,
	"The payload's GITHUB-PUBLIC-KEY-IDENTIFIER / GITHUB-PUBLIC-KEY-SIGNATURE do not verify against the configured secret-scanning keys.")}

// scanMatch is one element of GitHub's secret-scanning payload.
type scanMatch struct {
	Token  string `json:"token"`
	Type   string `json:"type"`
	URL    string `json:"url"`
	Source string `json:"source"`
}

// scanFeedback is one element of the answer, in GitHub's feedback format.
type scanFeedback struct {
	TokenHash string `json:"token_hash"`
	TokenType string `json:"token_type"`
	Label     string `json:"label"`
}

// Feedback labels.
const (
	labelTruePositive  = "true_positive"
	labelFalsePositive = "false_positive"
)

// handleSecretScanningGitHub serves POST /v1/secret-scanning/github:
// GitHub's secret-scanning partner payload (a JSON array of {token, type,
// url, source}, at most 1,000), signed with ECDSA P-256 / SHA-256 over the
// raw body. The signature is checked before the body is parsed; then each
// token's shape and checksum, so that strings that are not keyward keys
// cost no database work. Every keyward key found gets its team's leak
// action (store.RecordLeaks). The answer is GitHub's feedback array, one
// element per match in order: the token's SHA-256, its type, and
// true_positive for a key keyward holds (any status), false_positive
// otherwise.
func (s *Server) handleSecretScanningGitHub(c echo.Context) error {
	// Bad signatures spend the client IP's tokens of failed key checks,
	// so the endpoint is no faster a guessing target than the API.
	ip, now := c.RealIP(), s.now()
	if d := s.api.keyFailures.wait(ip, now); d > 0 {
		return limited(c, d)
	}
	body, err := io.ReadAll(io.LimitReader(c.Request().Body, maxScanBody+1))
	if err != nil {
		return echo.NewHTTPError(http.StatusBadRequest, "The request body could not be read.")
	}
	if len(body) > maxScanBody {
		return echo.NewHTTPError(http.StatusRequestEntityTooLarge, "The payload is larger than 1 MiB; send at most 1,000 matches at a time.")
	}
	h := c.Request().Header
	if err := s.scanKeys.Verify(h.Get(headerScanKeyID), h.Get(headerScanSignature), body); err != nil {
		s.logger(c).Warn("secret-scanning payload refused: signature does not verify", "ip", ip)
		s.api.keyFailures.failed(ip, now)
		return errBadScanSignature
	}
	if ct := h.Get(echo.HeaderContentType); !strings.HasPrefix(ct, echo.MIMEApplicationJSON) {
		return echo.NewHTTPError(http.StatusUnsupportedMediaType, "Send the payload as Content-Type: application/json.")
	}
	var matches []scanMatch
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&matches); err != nil {
		return echo.NewHTTPError(http.StatusBadRequest, "The payload must be a JSON array of {token, type, url, source}: "+jsonProblem(err))
	}
	if dec.More() {
		return echo.NewHTTPError(http.StatusBadRequest, "The payload must hold one JSON array and nothing after it.")
	}
	if len(matches) > maxLeakTokens {
		return model.Errorf(model.EINVALID, "The payload holds %d matches; send at most 1,000 at a time.", len(matches))
	}

	answer := make([]scanFeedback, len(matches))
	hashes := make([]string, len(matches))
	var sightings []model.Sighting
	for i, m := range matches {
		hashes[i] = keys.Hash(m.Token)
		answer[i] = scanFeedback{TokenHash: hashes[i], TokenType: clean(m.Type, maxLeakType), Label: labelFalsePositive}
		if _, err := keys.Parse(m.Token); err != nil {
			continue
		}
		sightings = append(sightings, model.Sighting{Hash: hashes[i], URL: leakURL(m.URL), Source: clean(m.Source, maxLeakSource)})
	}
	out, err := s.store.RecordLeaks(c.Request().Context(), sightings, model.Actor{Label: scannerLabel, IP: c.RealIP()}, false)
	if err != nil {
		return err
	}
	for i := range answer {
		if out.Known[hashes[i]] {
			answer[i].Label = labelTruePositive
		}
	}
	s.logger(c).Info("secret-scanning payload", "matches", len(matches), "keyward_keys", len(sightings),
		"known", len(out.Known), "recorded", len(out.Recorded))
	return c.JSON(http.StatusOK, answer)
}

// clean keeps at most n bytes of valid UTF-8 without control characters.
func clean(v string, n int) string {
	v = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == unicode.ReplacementChar {
			return -1
		}
		return r
	}, strings.ToValidUTF8(v, ""))
	if len(v) > n {
		v = strings.ToValidUTF8(v[:n], "")
	}
	return strings.TrimSpace(v)
}

// leakURL is where a match was found as keyward keeps it: cleaned and
// bounded. The dashboard links it only if it is http(s) (views.LeakHref).
func leakURL(u string) string { return clean(u, maxLeakURL) }
