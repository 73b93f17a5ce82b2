package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"time"

	"github.com/keyward/keyward/internal/keys"
	"github.com/keyward/keyward/internal/secretscan"
)

// leakTokens is the size of one secret-scanning payload (GitHub's maximum).
const leakTokens = 1000

// leakResult is how long instance A took to answer a signed 1,000-match
// secret-scanning payload on the seeded database.
type leakResult struct {
	Payloads int     `json:"payloads"`
	Tokens   int     `json:"tokens"`
	Found    int     `json:"keyward_keys_found_each"`
	P50ms    float64 `json:"p50_ms"`
	Maxms    float64 `json:"max_ms"`
}

// scanSigner stands in for GitHub: a P-256 key whose public half instance A
// trusts (KEYWARD_SECRET_SCANNING_KEYS).
type scanSigner struct {
	id   string
	priv *ecdsa.PrivateKey
}

func newScanSigner() (scanSigner, *secretscan.Keys, error) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return scanSigner{}, nil, err
	}
	s := scanSigner{id: "bench-" + randomHex(8), priv: priv}
	return s, secretscan.FromMap(map[string]*ecdsa.PublicKey{s.id: &priv.PublicKey}), nil
}

func (s scanSigner) sign(body []byte) (string, error) {
	d := sha256.Sum256(body)
	sig, err := ecdsa.SignASN1(rand.Reader, s.priv, d[:])
	return base64.StdEncoding.EncodeToString(sig), err
}

// measureLeakReport posts payloads of leakTokens matches to A's
// POST /v1/secret-scanning/github: each holds 400 seeded keys of other
// teams (revoked by the report: the work that costs), 300 well-formed keys
// keyward does not hold, 150 keyward-shaped strings with a wrong checksum
// and 150 other vendors' tokens. Each payload names keys not reported
// before, so every one revokes 400 keys.
func measureLeakReport(ctx context.Context, a *instance, signer scanSigner, g keyGen, lay layout, payloads int) (leakResult, error) {
	res := leakResult{Payloads: payloads, Tokens: leakTokens, Found: 400}
	hc := newClient(1)
	defer hc.CloseIdleConnections()
	type match struct {
		Token  string `json:"token"`
		Type   string `json:"type"`
		URL    string `json:"url"`
		Source string `json:"source"`
	}
	var took []time.Duration
	next := lay.teamKeys + 1
	for p := range payloads {
		matches := make([]match, 0, leakTokens)
		add := func(tok string) {
			matches = append(matches, match{Token: tok, Type: "keyward_api_key", Source: "commit",
				URL: fmt.Sprintf("https://github.com/bench/repo%d/blob/0a1b2c/config/%d.env", p, len(matches))})
		}
		for found := 0; found < 400; next++ {
			if next >= lay.total {
				return res, fmt.Errorf("ran out of seeded keys for leak payloads")
			}
			if keyActive(next) {
				add(g.raw(next))
				found++
			}
		}
		for range 300 {
			k, err := keys.Generate(keys.DefaultPrefix, "live")
			if err != nil {
				return res, err
			}
			add(k)
		}
		for i := range 150 {
			k := g.raw(lay.teamKeys + lay.total/2 + p*150 + i)
			add(k[:len(k)-1] + string("0123456789"[(int(k[len(k)-1])+1)%10]))
		}
		for i := range 150 {
			add(fmt.Sprintf("ghp_%036d", p*1000+i))
		}
		body, err := json.Marshal(matches)
		if err != nil {
			return res, err
		}
		sig, err := signer.sign(body)
		if err != nil {
			return res, err
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.url+"/v1/secret-scanning/github", bytes.NewReader(body))
		if err != nil {
			return res, err
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Github-Public-Key-Identifier", signer.id)
		req.Header.Set("Github-Public-Key-Signature", sig)
		start := time.Now()
		resp, err := hc.Do(req)
		if err != nil {
			return res, err
		}
		answer, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		d := time.Since(start)
		if err != nil {
			return res, err
		}
		if resp.StatusCode != http.StatusOK {
			return res, fmt.Errorf("leak payload %d: status %d: %s", p, resp.StatusCode, answer)
		}
		var fb []struct {
			Label string `json:"label"`
		}
		if err := json.Unmarshal(answer, &fb); err != nil {
			return res, err
		}
		positives := 0
		for _, f := range fb {
			if f.Label == "true_positive" {
				positives++
			}
		}
		if len(fb) != leakTokens || positives != 400 {
			return res, fmt.Errorf("leak payload %d: %d answers, %d true positives; want %d and 400", p, len(fb), positives, leakTokens)
		}
		took = append(took, d)
	}
	sort.Slice(took, func(i, j int) bool { return took[i] < took[j] })
	res.P50ms = ms(took[len(took)/2])
	res.Maxms = ms(took[len(took)-1])
	return res, nil
}
