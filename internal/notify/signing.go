package notify

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/keyward/keyward/internal/model"
)

// SecretPrefix starts every webhook signing secret (Standard Webhooks).
const SecretPrefix = "whsec_"

// NewSecret returns a new signing secret: whsec_ and 32 random bytes in
// base64, as the Standard Webhooks specification describes.
func NewSecret() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return SecretPrefix + base64.StdEncoding.EncodeToString(b), nil
}

// Envelope is the body of every webhook: {type, timestamp, data}.
type Envelope struct {
	Type      string          `json:"type"`
	Timestamp string          `json:"timestamp"`
	Data      json.RawMessage `json:"data"`
}

// Body returns the JSON body delivered for ev.
func Body(ev model.Event) ([]byte, error) {
	data := json.RawMessage(ev.Payload)
	if len(data) == 0 {
		data = json.RawMessage("{}")
	}
	return json.Marshal(Envelope{Type: ev.Type, Timestamp: ev.CreatedAt.UTC().Format(time.RFC3339Nano), Data: data})
}

// SignatureHeaders returns the Standard Webhooks headers for one attempt:
// webhook-id (the event id, the same on every retry so receivers can drop
// duplicates), webhook-timestamp (the attempt's time) and webhook-signature,
// one "v1,<base64>" per secret, separated by spaces (two while a rotated
// secret is still honoured).
func SignatureHeaders(msgID string, at time.Time, body []byte, secrets ...string) (http.Header, error) {
	sigs := make([]string, 0, len(secrets))
	for _, s := range secrets {
		wh, err := standardwebhooks.NewWebhook(s)
		if err != nil {
			return nil, err
		}
		sig, err := wh.Sign(msgID, at, body)
		if err != nil {
			return nil, err
		}
		sigs = append(sigs, sig)
	}
	h := http.Header{}
	h.Set("webhook-id", msgID)
	h.Set("webhook-timestamp", strconv.FormatInt(at.Unix(), 10))
	h.Set("webhook-signature", strings.Join(sigs, " "))
	return h, nil
}
