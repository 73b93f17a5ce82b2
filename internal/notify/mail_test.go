package notify_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/model"
	"github.com/keyward/keyward/internal/notify"
	"github.com/keyward/keyward/internal/store"
	"github.com/keyward/keyward/internal/testdb"
)

// addRecipients adds to the fixture's team, beside its owner
// (owner@example.com), an admin (admin@example.com), a member
// (dev@example.com) and a second owner who turned reminders off
// (quiet@example.com), whom it returns: those whom team e-mail goes to and
// those it must not.
func (f *fixture) addRecipients(t *testing.T) model.Membership {
	t.Helper()
	ctx := context.Background()
	if _, err := f.st.AddNewMember(ctx, f.team.ID, "admin@example.com", "hash", model.RoleAdmin, f.actor); err != nil {
		t.Fatal(err)
	}
	if _, err := f.st.AddNewMember(ctx, f.team.ID, "dev@example.com", "hash", model.RoleMember, f.actor); err != nil {
		t.Fatal(err)
	}
	quiet, err := f.st.AddNewMember(ctx, f.team.ID, "quiet@example.com", "hash", model.RoleOwner, f.actor)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.st.SetReminders(ctx, quiet.UserID, false); err != nil {
		t.Fatal(err)
	}
	return quiet
}

// TestReminderMailThroughSMTP: the expiry scanner's reminders and a
// disabled endpoint are e-mailed through a real SMTP server to the team's
// owners and admins (not members, not those who turned reminders off), with
// the subject, a link to the key, and no raw key or secret anywhere.
func TestReminderMailThroughSMTP(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, testdb.Postgres(t))
	smtpd := startSMTP(t)
	quiet := f.addRecipients(t)
	mailer, err := notify.NewSMTPMailer("smtp://"+smtpd.Addr, "keyward@example.com")
	if err != nil {
		t.Fatal(err)
	}
	rcv := newReceiver(t)
	_, whsec := f.addEndpoint(t, rcv.URL, "api_key.expiring")
	w := f.worker(t, notify.Options{Mailer: mailer, BaseURL: "https://keys.example.com"}, false)
	exp := f.clock.Now().Add(6*24*time.Hour + time.Hour)
	k, raw := f.createKey(t, "Billing prod", &exp)

	scanner := notify.NewScanner(f.st, nil)
	if n, err := scanner.Scan(ctx); err != nil || n != 1 {
		t.Fatalf("scan: %d %v", n, err)
	}
	if n, _ := scanner.Scan(ctx); n != 0 {
		t.Fatalf("second scan emitted %d", n)
	}
	w.Tick(ctx)
	w.Wait()
	waitFor(t, "the reminder e-mails", 10*time.Second, func() bool { return len(smtpd.messages()) == 2 })
	if got := recipients(t, smtpd.messages()); got != "admin@example.com,owner@example.com" {
		t.Errorf("recipients %q, want the owner and the admin, one mail each (not the member, not quiet@)", got)
	}
	for _, m := range smtpd.messages() {
		if m.From != "keyward@example.com" {
			t.Errorf("from %q", m.From)
		}
		if m.Subject != `[keyward] API key "Billing prod" expires in 7 days` {
			t.Errorf("subject %q", m.Subject)
		}
		link := "https://keys.example.com/settings/api-keys/" + k.PublicID
		if !strings.Contains(m.Text, link) || !strings.Contains(m.HTML, `href="`+link+`"`) {
			t.Errorf("no link to the key in text or HTML:\n%s\n%s", m.Text, m.HTML)
		}
		if !strings.Contains(m.Text, k.Hint) {
			t.Errorf("the text does not name the key's hint")
		}
	}

	// One day before: the 1-day reminder; after: expired.
	f.clock.Add(6 * 24 * time.Hour)
	if n, _ := scanner.Scan(ctx); n != 1 {
		t.Fatalf("1-day scan emitted %d", n)
	}
	w.Tick(ctx)
	w.Wait()
	waitFor(t, "the 1-day e-mails", 10*time.Second, func() bool { return len(smtpd.messages()) == 4 })
	f.clock.Add(2 * time.Hour)
	if n, _ := scanner.Scan(ctx); n != 1 {
		t.Fatalf("expired scan emitted %d", n)
	}
	w.Tick(ctx)
	w.Wait()
	waitFor(t, "the expired e-mails", 10*time.Second, func() bool { return len(smtpd.messages()) == 6 })
	msgs := smtpd.messages()
	if msgs[2].Subject != `[keyward] API key "Billing prod" expires in 1 day` || msgs[4].Subject != `[keyward] API key "Billing prod" expired` {
		t.Errorf("subjects %q, %q", msgs[2].Subject, msgs[4].Subject)
	}

	// Quiet turns reminders back on and gets the next one.
	if err := f.st.SetReminders(ctx, quiet.UserID, true); err != nil {
		t.Fatal(err)
	}
	exp2 := f.clock.Now().Add(12 * time.Hour)
	f.createKey(t, "Short", &exp2)
	if n, _ := scanner.Scan(ctx); n != 1 {
		t.Fatalf("scan for the short key emitted %d", n)
	}
	w.Tick(ctx)
	w.Wait()
	waitFor(t, "the short key's e-mails", 10*time.Second, func() bool { return len(smtpd.messages()) == 9 })
	if got := recipients(t, smtpd.messages()[6:]); got != "admin@example.com,owner@example.com,quiet@example.com" {
		t.Errorf("recipients %q after turning reminders on", got)
	}

	for i, m := range smtpd.messages() {
		if strings.Contains(m.Raw, raw) || strings.Contains(m.Raw, k.KeyHash) || strings.Contains(m.Raw, whsec) ||
			strings.Contains(m.Raw, strings.TrimPrefix(whsec, "whsec_")) {
			t.Fatalf("mail %d carries a raw key, hash or secret", i)
		}
	}
	// The webhook endpoint got the expiring events as well.
	waitFor(t, "the expiring webhooks", 5*time.Second, func() bool { return len(rcv.counts()) == 3 })
}

// recipients returns the sorted recipients of msgs, failing the test if a
// message goes to, or names, more than one person.
func recipients(t *testing.T, msgs []sentMail) string {
	t.Helper()
	var to []string
	for _, m := range msgs {
		if len(m.To) != 1 {
			t.Errorf("a mail to %v: each person should get their own", m.To)
		}
		to = append(to, m.To...)
	}
	for _, m := range msgs {
		for _, other := range to {
			if other != m.To[0] && strings.Contains(m.Raw, other) {
				t.Errorf("the mail to %s names %s", m.To[0], other)
			}
		}
	}
	slices.Sort(to)
	return strings.Join(to, ",")
}

// TestDisabledEndpointIsMailed: the e-mail for a disabled endpoint names it
// and links to it.
func TestDisabledEndpointIsMailed(t *testing.T) {
	ev := model.Event{PublicID: "evt_1", Type: model.EventEndpointDisabled,
		Payload: `{"object":"webhook_endpoint","id":"we_abc","url":"https://hooks.example.com/in","reason":"Every delivery failed since 2026-03-01T00:00:00Z."}`}
	m, err := notify.ComposeEventMail(ev, "Acme", "https://keys.example.com/", []string{"a@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	if m.Subject != "[keyward] Webhook endpoint disabled: https://hooks.example.com/in" ||
		!strings.Contains(m.Text, "https://keys.example.com/settings/webhooks/we_abc") || !strings.Contains(m.HTML, "Every delivery failed since") {
		t.Fatalf("mail %+v", m)
	}
	if _, err := notify.ComposeEventMail(model.Event{Type: "api_key.created", Payload: "{}"}, "Acme", "", nil); err == nil {
		t.Fatal("composed a mail for an event that sends none")
	}
}

// TestLeakMailReadsTheAuditDetail: an api_key.leaked event written with its
// audit row (the URL and source nested in detail) is mailed with both.
func TestLeakMailReadsTheAuditDetail(t *testing.T) {
	ev := model.Event{PublicID: "evt_2", Type: model.EventKeyLeaked,
		Payload: `{"object":"api_key","id":"key_abc","name":"CI","detail":{"hint":"kw_live_4eC3…kZ3f","url":"https://github.com/acme/app/blob/main/.env","source":"github"}}`}
	m, err := notify.ComposeEventMail(ev, "Acme", "https://keys.example.com", []string{"a@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"https://github.com/acme/app/blob/main/.env", "github", "kw_live_4eC3…kZ3f", "https://keys.example.com/settings/api-keys/key_abc"} {
		if !strings.Contains(m.Text, want) || !strings.Contains(m.HTML, want) {
			t.Errorf("the leak mail lacks %q:\n%s", want, m.Text)
		}
	}
	if m.Subject != `[keyward] API key "CI" was found in public` {
		t.Errorf("subject %q", m.Subject)
	}
}

// TestMailRetryReachesOnlyTheMissed: when the SMTP server refuses one of
// three addresses, the other two get the mail and the delivery is retried;
// the retry, with the server accepting again, mails only the refused
// address and ends the delivery, so each person gets the mail exactly once.
func TestMailRetryReachesOnlyTheMissed(t *testing.T) {
	testdb.Dialects(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		f := newFixture(t, dsn)
		smtpd := startSMTP(t)
		for _, addr := range []string{"admin@example.com", "second@example.com"} {
			if _, err := f.st.AddNewMember(ctx, f.team.ID, addr, "hash", model.RoleAdmin, f.actor); err != nil {
				t.Fatal(err)
			}
		}
		mailer, err := notify.NewSMTPMailer("smtp://"+smtpd.Addr, "keyward@example.com")
		if err != nil {
			t.Fatal(err)
		}
		w := f.worker(t, notify.Options{Mailer: mailer, BaseURL: "https://keys.example.com"}, false)
		exp := f.clock.Now().Add(6*24*time.Hour + time.Hour)
		f.createKey(t, "Billing prod", &exp)
		if n, err := notify.NewScanner(f.st, nil).Scan(ctx); err != nil || n != 1 {
			t.Fatalf("scan: %d %v", n, err)
		}
		mailDelivery := func() model.Delivery {
			t.Helper()
			ds, err := f.st.FindDeliveries(ctx, store.DeliveryFilter{TeamID: f.team.ID, Kind: model.DeliveryEmail})
			if err != nil {
				t.Fatal(err)
			}
			if len(ds) != 1 {
				t.Fatalf("%d e-mail deliveries, want 1", len(ds))
			}
			return ds[0]
		}

		smtpd.refuseRcpt("second@example.com")
		w.Tick(ctx)
		w.Wait()
		if got := recipients(t, smtpd.messages()); got != "admin@example.com,owner@example.com" {
			t.Fatalf("first attempt reached %q, want the two accepted addresses", got)
		}
		d := mailDelivery()
		if d.Status != model.DeliveryPending || d.Attempts != 1 || !d.NextAttemptAt.After(f.clock.Now()) {
			t.Fatalf("after a refused address the delivery is %s, attempt %d, next %v (now %v); want pending for a retry",
				d.Status, d.Attempts, d.NextAttemptAt, f.clock.Now())
		}
		if !strings.Contains(d.LastError, "1 of 3") || !strings.Contains(d.LastError, "second@example.com") ||
			strings.Contains(d.LastError, "admin@example.com") || strings.Contains(d.LastError, "owner@example.com") {
			t.Errorf("last error %q should name the refused address only", d.LastError)
		}

		// Not due yet: nothing is sent.
		w.Tick(ctx)
		w.Wait()
		if n := len(smtpd.messages()); n != 2 {
			t.Fatalf("%d mails before the retry is due", n)
		}

		smtpd.refuseRcpt()
		f.clock.Add(time.Minute) // past the first backoff (30 s ± 25 %)
		w.Tick(ctx)
		w.Wait()
		msgs := smtpd.messages()
		if len(msgs) != 3 {
			t.Fatalf("%d mails after the retry, want 3: the retry sends one, to the refused address", len(msgs))
		}
		if got := recipients(t, msgs[2:]); got != "second@example.com" {
			t.Errorf("the retry went to %q, want second@example.com only", got)
		}
		if got := recipients(t, msgs); got != "admin@example.com,owner@example.com,second@example.com" {
			t.Errorf("recipients %q, want each person once", got)
		}
		if msgs[2].Subject != msgs[0].Subject {
			t.Errorf("the retry's subject %q differs from %q", msgs[2].Subject, msgs[0].Subject)
		}
		d = mailDelivery()
		if d.Status != model.DeliverySucceeded || d.Attempts != 2 {
			t.Fatalf("after the retry the delivery is %s after %d attempts, want succeeded after 2", d.Status, d.Attempts)
		}

		// Nothing is left to send later.
		f.clock.Add(24 * time.Hour)
		w.Tick(ctx)
		w.Wait()
		if n := len(smtpd.messages()); n != 3 {
			t.Errorf("%d mails a day later, want still 3", n)
		}
	})
}
