package notify_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/model"
	"github.com/keyward/keyward/internal/notify"
	"github.com/keyward/keyward/internal/store"
	"github.com/keyward/keyward/internal/testdb"
)

// keyAged creates a key in the fixture's team that is days old at the
// clock's current time.
func (f *fixture) keyAged(t *testing.T, name string, days int, expires *time.Time) (model.APIKey, string) {
	t.Helper()
	f.clock.Add(-time.Duration(days) * 24 * time.Hour)
	defer f.clock.Add(time.Duration(days) * 24 * time.Hour)
	return f.createKey(t, name, expires)
}

func (f *fixture) rotateEvery(t *testing.T, teamID int64, days int) {
	t.Helper()
	if _, err := f.st.UpdateTeamSettings(context.Background(), teamID, model.TeamSettings{RotationDays: days}, f.actor); err != nil {
		t.Fatal(err)
	}
}

// TestRotationDigestThroughSMTP: a team with rotation_days = 30 and keys
// 10, 40 and 100 days old gets one digest e-mail per owner and admin who
// has reminders on (not members, not one who turned them off), listing
// exactly the two keys due with links to them and to the filtered key
// list, and no raw key or secret; the api_key.rotation_due webhook carries
// the same keys. A second scan the same week sends nothing; 7 days later
// the digest comes again. Revoked and expired keys are not listed, and
// teams with nothing due or no policy get nothing.
func TestRotationDigestThroughSMTP(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, testdb.Postgres(t))
	smtpd := startSMTP(t)
	f.addRecipients(t)
	f.rotateEvery(t, f.team.ID, 30)
	young, youngRaw := f.keyAged(t, "Young", 10, nil)
	mid, midRaw := f.keyAged(t, "Middle", 40, nil)
	old, oldRaw := f.keyAged(t, "Oldest", 100, nil)
	revoked, _ := f.keyAged(t, "Revoked", 50, nil)
	if _, err := f.st.RevokeKey(ctx, f.team.ID, revoked.PublicID, f.actor); err != nil {
		t.Fatal(err)
	}
	gone := f.clock.Now().Add(-20 * 24 * time.Hour)
	expired, _ := f.keyAged(t, "Expired", 60, &gone)

	// Another team of the same owner with nothing due, and one without a
	// policy: no digest for either.
	calm, err := f.st.CreateTeam(ctx, "Calm", f.actor)
	if err != nil {
		t.Fatal(err)
	}
	f.rotateEvery(t, calm.ID, 30)
	loose, err := f.st.CreateTeam(ctx, "Loose", f.actor)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []struct {
		team int64
		days int
	}{{calm.ID, 10}, {loose.ID, 400}} {
		g := *f
		g.team = model.Team{ID: k.team}
		g.keyAged(t, "Elsewhere", k.days, nil)
	}

	mailer, err := notify.NewSMTPMailer("smtp://"+smtpd.Addr, "keyward@example.com")
	if err != nil {
		t.Fatal(err)
	}
	rcv := newReceiver(t)
	_, whsec := f.addEndpoint(t, rcv.URL, model.EventKeyRotationDue)
	w := f.worker(t, notify.Options{Mailer: mailer, BaseURL: "https://keys.example.com"}, false)
	scanner := notify.NewScanner(f.st, nil)
	run := func(wantEvents int) {
		t.Helper()
		n, err := scanner.Scan(ctx)
		if err != nil || n != wantEvents {
			t.Fatalf("scan at %s: %d events (%v), want %d", f.clock.Now().Format(time.RFC3339), n, err, wantEvents)
		}
		w.Tick(ctx)
		w.Wait()
	}
	run(1)
	waitFor(t, "the digest e-mails", 10*time.Second, func() bool { return len(smtpd.messages()) == 2 })
	if got := recipients(t, smtpd.messages()); got != "admin@example.com,owner@example.com" {
		t.Errorf("recipients %q, want the owner and the admin, one mail each (not the member, not quiet@)", got)
	}
	filtered := "https://keys.example.com/settings/api-keys?hygiene=rotation_due"
	for _, m := range smtpd.messages() {
		if m.Subject != "[keyward] 2 API keys are due for rotation in Acme" {
			t.Errorf("subject %q", m.Subject)
		}
		for _, k := range []model.APIKey{old, mid} {
			link := "https://keys.example.com/settings/api-keys/" + k.PublicID
			if !strings.Contains(m.Text, link) || !strings.Contains(m.HTML, `href="`+link+`"`) ||
				!strings.Contains(m.Text, k.Hint) || !strings.Contains(m.HTML, k.Name) {
				t.Errorf("the digest lacks %s (%s):\n%s\n%s", k.Name, k.PublicID, m.Text, m.HTML)
			}
		}
		if !strings.Contains(m.Text, "100 days old") || !strings.Contains(m.Text, "40 days old") {
			t.Errorf("the digest does not give the keys' ages:\n%s", m.Text)
		}
		if !strings.Contains(m.Text, filtered) || !strings.Contains(m.HTML, `href="`+filtered+`"`) {
			t.Errorf("no link to the filtered key list:\n%s", m.Text)
		}
		for _, k := range []model.APIKey{young, revoked, expired} {
			if strings.Contains(m.Raw, k.PublicID) {
				t.Errorf("the digest lists %s", k.Name)
			}
		}
		for _, secret := range []string{youngRaw, midRaw, oldRaw, old.KeyHash, mid.KeyHash, whsec, strings.TrimPrefix(whsec, "whsec_")} {
			if strings.Contains(m.Raw, secret) {
				t.Fatalf("the digest to %v carries a raw key, hash or secret", m.To)
			}
		}
	}
	hook := <-rcv.ch
	typ, data := envelope(t, hook.Body)
	if typ != model.EventKeyRotationDue || data["count"] != float64(2) {
		t.Fatalf("webhook %s %v", typ, data)
	}
	var ids []string
	for _, k := range data["keys"].([]any) {
		ids = append(ids, k.(map[string]any)["id"].(string))
	}
	if strings.Join(ids, ",") != old.PublicID+","+mid.PublicID {
		t.Fatalf("webhook lists %v, want the oldest and the middle key", ids)
	}

	// The same week: nothing; a week after the first: the next digest.
	run(0)
	f.clock.Add(6 * 24 * time.Hour)
	run(0)
	time.Sleep(200 * time.Millisecond)
	if n := len(smtpd.messages()); n != 2 {
		t.Fatalf("%d mails within the week, want 2", n)
	}
	f.clock.Add(24 * time.Hour)
	run(1)
	waitFor(t, "the next week's digest", 10*time.Second, func() bool { return len(smtpd.messages()) == 4 })
	if got := recipients(t, smtpd.messages()[2:]); got != "admin@example.com,owner@example.com" {
		t.Errorf("next week's recipients %q", got)
	}
	for _, m := range smtpd.messages()[2:] {
		if !strings.Contains(m.Text, "107 days old") || !strings.Contains(m.Text, "47 days old") {
			t.Errorf("next week's digest:\n%s", m.Text)
		}
	}
	for _, tm := range []model.Team{calm, loose} {
		evs, err := f.st.FindEvents(ctx, store.EventFilter{TeamID: tm.ID, Type: model.EventKeyRotationDue})
		if err != nil || len(evs) != 0 {
			t.Fatalf("team %s: %d digests (%v), want none", tm.Name, len(evs), err)
		}
	}
}

// TestTwoInstancesSendOneDigest: two instances on one PostgreSQL database
// scanning at the same time write one digest, and their workers mail it
// once to each recipient.
func TestTwoInstancesSendOneDigest(t *testing.T) {
	ctx := context.Background()
	dsn := testdb.Postgres(t)
	f := newFixture(t, dsn)
	st2 := openStore(t, dsn, f.clock)
	smtpd := startSMTP(t)
	if _, err := f.st.AddNewMember(ctx, f.team.ID, "admin@example.com", "hash", model.RoleAdmin, f.actor); err != nil {
		t.Fatal(err)
	}
	f.rotateEvery(t, f.team.ID, 30)
	f.keyAged(t, "Oldest", 100, nil)
	f.keyAged(t, "Middle", 40, nil)
	mailer, err := notify.NewSMTPMailer("smtp://"+smtpd.Addr, "keyward@example.com")
	if err != nil {
		t.Fatal(err)
	}
	o := notify.Options{Mailer: mailer, BaseURL: "https://keys.example.com"}
	w1 := f.worker(t, o, false)
	g := *f
	g.st = st2
	w2 := g.worker(t, o, false)

	var wg sync.WaitGroup
	var mu sync.Mutex
	total := 0
	for _, sc := range []*notify.Scanner{notify.NewScanner(f.st, nil), notify.NewScanner(st2, nil)} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 5 {
				n, err := sc.Scan(ctx)
				if err != nil {
					t.Error(err)
				}
				mu.Lock()
				total += n
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if total != 1 {
		t.Fatalf("two instances wrote %d digests, want 1", total)
	}
	for _, w := range []*notify.Worker{w1, w2} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.Tick(ctx)
			w.Wait()
		}()
	}
	wg.Wait()
	waitFor(t, "the digest e-mails", 10*time.Second, func() bool { return len(smtpd.messages()) == 2 })
	w1.Tick(ctx)
	w2.Tick(ctx)
	w1.Wait()
	w2.Wait()
	time.Sleep(200 * time.Millisecond)
	if got := recipients(t, smtpd.messages()); got != "admin@example.com,owner@example.com" {
		t.Fatalf("recipients %q, want one digest each for the owner and the admin", got)
	}
}

// TestRotationDigestWithoutSMTP: without a mailer the digest is still an
// event, delivered to the webhook endpoints that want it, and no e-mail
// delivery is queued.
func TestRotationDigestWithoutSMTP(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, testdb.Postgres(t))
	f.rotateEvery(t, f.team.ID, 30)
	old, _ := f.keyAged(t, "Oldest", 100, nil)
	rcv := newReceiver(t)
	f.addEndpoint(t, rcv.URL, model.EventKeyRotationDue)
	w := f.worker(t, notify.Options{}, false)
	if n, err := notify.NewScanner(f.st, nil).Scan(ctx); err != nil || n != 1 {
		t.Fatalf("scan: %d events (%v), want 1", n, err)
	}
	w.Tick(ctx)
	w.Wait()
	hook := <-rcv.ch
	if typ, data := envelope(t, hook.Body); typ != model.EventKeyRotationDue || !strings.Contains(string(hook.Body), old.PublicID) || data["count"] != float64(1) {
		t.Fatalf("webhook %s %s", typ, hook.Body)
	}
	ds, err := f.st.FindDeliveries(ctx, store.DeliveryFilter{TeamID: f.team.ID, Kind: model.DeliveryEmail})
	if err != nil || len(ds) != 0 {
		t.Fatalf("%d e-mail deliveries (%v) without a mailer", len(ds), err)
	}
}
