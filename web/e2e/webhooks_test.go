//go:build e2e

package e2e

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/notify"
	"github.com/keyward/keyward/internal/secretbox"
)

// hookReceiver is a local webhook receiver that keeps what it gets.
type hookReceiver struct {
	*httptest.Server
	mu  sync.Mutex
	got []hookRequest
}

type hookRequest struct {
	ID, Timestamp, Signature string
	Body                     []byte
}

func newHookReceiver(t *testing.T) *hookReceiver {
	r := &hookReceiver{}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.got = append(r.got, hookRequest{req.Header.Get("webhook-id"), req.Header.Get("webhook-timestamp"), req.Header.Get("webhook-signature"), b})
		r.mu.Unlock()
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *hookReceiver) requests() []hookRequest {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]hookRequest(nil), r.got...)
}

// validSignature checks a Standard Webhooks signature on its own terms.
func validSignature(secret string, h hookRequest) bool {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		return false
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(h.ID + "." + h.Timestamp + "."))
	mac.Write(h.Body)
	want := "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
	for _, s := range strings.Fields(h.Signature) {
		if hmac.Equal([]byte(s), []byte(want)) {
			return true
		}
	}
	return false
}

// startWorker runs a delivery worker on the server's store, as serve does.
func startWorker(t *testing.T, srv *server) {
	t.Helper()
	box, err := secretbox.New(srv.encryptionKey)
	if err != nil {
		t.Fatal(err)
	}
	w, err := notify.NewWorker(srv.store, notify.Options{Box: box, AllowPrivate: true, Poll: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { w.Run(ctx); close(done) }()
	t.Cleanup(func() { stop(); <-done })
}

// TestWebhooksPage adds an endpoint for a local receiver in Settings →
// Webhooks, reads its secret from the one-time reveal, sends a test event,
// and sees it arrive signed with that secret and listed as delivered; then
// a key change is delivered too. Screens of the list, the deliveries and
// Settings → Account.
func TestWebhooksPage(t *testing.T) {
	srv, tb, _ := ownerTab(t)
	startWorker(t, srv)
	rcv := newHookReceiver(t)

	tb.click(`nav.sidebar a[href="/settings/webhooks"]`)
	tb.waitPage("/settings/webhooks")
	tb.axe("the empty webhooks page")
	tb.typeInto("#webhook-url", rcv.URL+"/keyward")
	tb.typeInto("#webhook-description", "Ops alerts")
	tb.click(`#webhook-add input[value="api_key.created"]`)
	tb.click(`#webhook-add input[value="api_key.revoked"]`)
	tb.click(`#webhook-add button[type=submit]`)
	tb.waitJS("the secret reveal", `document.querySelector("#webhook-secret")`)
	secret := eval[string](tb, `document.querySelector("#webhook-secret").value`)
	if !strings.HasPrefix(secret, "whsec_") {
		tb.fatalf("the reveal shows %q", secret)
	}
	tb.screen("webhooks")

	tb.click(`table.webhooks a[href^="/settings/webhooks/we_"]`)
	tb.waitPage("/settings/webhooks/we_")
	if strings.Contains(tb.html(), secret) {
		tb.errorf("the endpoint page shows the secret again")
	}
	tb.click(`form[action$="/test"] button`)
	tb.waitPage("/settings/webhooks/we_")
	deadline := time.Now().Add(15 * time.Second)
	for len(rcv.requests()) == 0 {
		if time.Now().After(deadline) {
			tb.fatalf("the test event did not reach the receiver")
		}
		time.Sleep(50 * time.Millisecond)
	}
	got := rcv.requests()[0]
	if !validSignature(secret, got) || !strings.Contains(string(got.Body), `"type":"webhook_endpoint.test"`) {
		tb.fatalf("the test event %s (signature %q) does not verify with the revealed secret", got.Body, got.Signature)
	}
	// The delivery is listed (reload until the worker has recorded it).
	page := eval[string](tb, "location.pathname")
	for i := 0; ; i++ {
		tb.open(page)
		if strings.Contains(tb.text("#deliveries"), "Delivered") {
			break
		}
		if i > 50 {
			tb.fatalf("the delivery is not listed as delivered: %s", tb.text("#deliveries"))
		}
		time.Sleep(100 * time.Millisecond)
	}
	if row := tb.text("#deliveries tbody tr"); !strings.Contains(row, "webhook_endpoint.test") || !strings.Contains(row, "200") || !strings.Contains(row, got.ID) {
		tb.errorf("the delivery row says %q", row)
	}
	tb.screen("webhook-deliveries")

	// Delete asks first; Cancel keeps the endpoint, the dialog's button
	// deletes it.
	tb.click(`a[data-open-dialog="#delete-endpoint"]`)
	tb.waitJS("the delete dialog", `document.querySelector("#delete-endpoint").open`)
	tb.axe("the delete endpoint dialog")
	tb.click(`#delete-endpoint .modal-foot button[data-close-dialog]`)
	tb.waitJS("the dialog closed", `!document.querySelector("#delete-endpoint").open && location.pathname === `+strconv.Quote(page))
	tb.click(`a[data-open-dialog="#delete-endpoint"]`)
	tb.waitJS("the delete dialog", `document.querySelector("#delete-endpoint").open`)
	tb.click(`#delete-endpoint button[type=submit]`)
	tb.waitJS("the webhooks list", `location.pathname === "/settings/webhooks" && document.readyState === "complete" && !!document.querySelector("#flash")`)
	if got := tb.text("#flash"); !strings.Contains(got, "was deleted") {
		tb.errorf("after deleting, the page says %q", got)
	}

	// Settings → Account from the account menu.
	tb.open("/settings/account")
	tb.waitPage("/settings/account")
	tb.screen("account")
}
