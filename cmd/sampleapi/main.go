// Command sampleapi is a tiny invoices and customers API to try keyward's
// gateway with: run it, point KEYWARD_UPSTREAM at it, and call it through
// the gateway with a keyward key (README: Gateway). It keeps its data in
// memory and is not part of the keyward image.
//
//	go run ./cmd/sampleapi --addr 127.0.0.1:9000
//
// Every answer says which key the gateway let through (the X-Keyward-*
// headers). With KEYWARD_GATEWAY_SECRET set, it refuses requests whose
// X-Keyward-Signature does not check out, as a real upstream should.
package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:9000", "address to listen on")
	flag.Parse()
	api := newAPI([]byte(os.Getenv("KEYWARD_GATEWAY_SECRET")), time.Now)
	log.Printf("sample API on http://%s (invoices, customers); signatures checked: %v", *addr, len(api.secret) > 0)
	srv := &http.Server{Addr: *addr, Handler: api.routes(), ReadHeaderTimeout: 5 * time.Second}
	log.Fatal(srv.ListenAndServe())
}

// invoice and customer are the sample's two resources.
type invoice struct {
	ID       string `json:"id"`
	Customer string `json:"customer"`
	Amount   int64  `json:"amount"`
	Currency string `json:"currency"`
	Status   string `json:"status"`
}

type customer struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	Email string `json:"email"`
}

// api is the sample's state: a few invoices and customers in memory.
type api struct {
	secret    []byte
	now       func() time.Time
	mu        sync.Mutex
	invoices  []invoice
	customers []customer
	next      int
}

func newAPI(secret []byte, now func() time.Time) *api {
	return &api{secret: secret, now: now, next: 3,
		invoices: []invoice{
			{ID: "inv_1", Customer: "cus_123", Amount: 4200, Currency: "eur", Status: "open"},
			{ID: "inv_2", Customer: "cus_123", Amount: 990, Currency: "eur", Status: "paid"},
		},
		customers: []customer{{ID: "cus_123", Name: "Ada Lovelace", Email: "ada@example.com"}},
	}
}

func (a *api) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	mux.HandleFunc("GET /v1/status", func(w http.ResponseWriter, r *http.Request) {
		reply(w, r, http.StatusOK, map[string]string{"status": "operational"})
	})
	mux.HandleFunc("GET /v1/invoices", a.listInvoices)
	mux.HandleFunc("POST /v1/invoices", a.createInvoice)
	mux.HandleFunc("GET /v1/invoices/{id}", a.showInvoice)
	mux.HandleFunc("DELETE /v1/invoices/{id}", a.deleteInvoice)
	mux.HandleFunc("GET /v1/customers", a.listCustomers)
	mux.HandleFunc("GET /v1/customers/{id}", a.showCustomer)
	return a.checkSignature(mux)
}

// checkSignature refuses, when a secret is set, a request under /v1/ that
// claims a key (X-Keyward-Key-Id) without a valid signature over it.
func (a *api) checkSignature(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if len(a.secret) > 0 && r.Header.Get("X-Keyward-Key-Id") != "" {
			if err := VerifyKeyward(r, a.secret, a.now(), 5*time.Minute); err != nil {
				reply(w, r, http.StatusUnauthorized, map[string]string{"error": err.Error()})
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// VerifyKeyward checks X-Keyward-Signature (t=<unix>,v1=<hex HMAC-SHA256
// over "t.method.path.key_id.team_id">) with the gateway's secret and
// refuses signatures older than maxAge. This is the README's snippet.
func VerifyKeyward(r *http.Request, secret []byte, now time.Time, maxAge time.Duration) error {
	var ts, sig string
	for part := range strings.SplitSeq(r.Header.Get("X-Keyward-Signature"), ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "t":
			ts = v
		case "v1":
			sig = v
		}
	}
	t, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || sig == "" {
		return fmt.Errorf("missing or malformed X-Keyward-Signature")
	}
	if age := now.Sub(time.Unix(t, 0)); age > maxAge || age < -maxAge {
		return fmt.Errorf("X-Keyward-Signature is too old")
	}
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(ts + "." + r.Method + "." + r.URL.EscapedPath() + "." +
		r.Header.Get("X-Keyward-Key-Id") + "." + r.Header.Get("X-Keyward-Team-Id")))
	want := hex.EncodeToString(mac.Sum(nil))
	if !hmac.Equal([]byte(want), []byte(sig)) {
		return fmt.Errorf("X-Keyward-Signature does not match")
	}
	return nil
}

// caller is who the gateway says is calling, echoed in every answer.
type caller struct {
	KeyID       string `json:"key_id"`
	TeamID      string `json:"team_id"`
	Environment string `json:"environment"`
	Scopes      string `json:"scopes"`
}

func reply(w http.ResponseWriter, r *http.Request, status int, data any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"data": data, "caller": caller{
		KeyID: r.Header.Get("X-Keyward-Key-Id"), TeamID: r.Header.Get("X-Keyward-Team-Id"),
		Environment: r.Header.Get("X-Keyward-Environment"), Scopes: r.Header.Get("X-Keyward-Scopes"),
	}})
}

func (a *api) listInvoices(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	defer a.mu.Unlock()
	reply(w, r, http.StatusOK, slices.Clone(a.invoices))
}

func (a *api) showInvoice(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, inv := range a.invoices {
		if inv.ID == r.PathValue("id") {
			reply(w, r, http.StatusOK, inv)
			return
		}
	}
	reply(w, r, http.StatusNotFound, map[string]string{"error": "no such invoice"})
}

func (a *api) createInvoice(w http.ResponseWriter, r *http.Request) {
	var in invoice
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16))
	if err := dec.Decode(&in); err != nil || in.Amount <= 0 || in.Customer == "" {
		reply(w, r, http.StatusUnprocessableEntity, map[string]string{"error": `send {"customer":"cus_123","amount":1000}`})
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	in.ID, in.Status = "inv_"+strconv.Itoa(a.next), "open"
	if in.Currency == "" {
		in.Currency = "eur"
	}
	a.next++
	a.invoices = append(a.invoices, in)
	reply(w, r, http.StatusCreated, in)
}

func (a *api) deleteInvoice(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	defer a.mu.Unlock()
	n := len(a.invoices)
	a.invoices = slices.DeleteFunc(a.invoices, func(inv invoice) bool { return inv.ID == r.PathValue("id") })
	if len(a.invoices) == n {
		reply(w, r, http.StatusNotFound, map[string]string{"error": "no such invoice"})
		return
	}
	reply(w, r, http.StatusOK, map[string]string{"deleted": r.PathValue("id")})
}

func (a *api) listCustomers(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	defer a.mu.Unlock()
	reply(w, r, http.StatusOK, slices.Clone(a.customers))
}

func (a *api) showCustomer(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, c := range a.customers {
		if c.ID == r.PathValue("id") {
			reply(w, r, http.StatusOK, c)
			return
		}
	}
	reply(w, r, http.StatusNotFound, map[string]string{"error": "no such customer"})
}
