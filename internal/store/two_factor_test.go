package store_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/model"
	"github.com/keyward/keyward/internal/testdb"
)

func TestTwoFactorStorage(t *testing.T) {
	testdb.Dialects(t, func(t *testing.T, dsn string) {
		st := mustOpen(t, dsn, &clock{time.Now().UTC()})
		ctx := context.Background()
		u, team := mustSetup(t, st, "owner@example.com", "Acme")
		act := model.UserActor(u, "192.0.2.1")

		if err := st.EnableTOTP(ctx, u.ID, 5, nil, act); model.ErrorCode(err) != model.ECONFLICT {
			t.Fatalf("enable without a pending seed: %v, want ECONFLICT", err)
		}
		if err := st.SetPendingTOTP(ctx, u.ID, "sealed", "k1"); err != nil {
			t.Fatal(err)
		}
		if err := st.EnableTOTP(ctx, u.ID, 100, []string{"h1", "h2"}, act); err != nil {
			t.Fatal(err)
		}
		got, _ := st.FindUserByID(ctx, u.ID)
		if !got.TwoFactor() || got.TOTPSecret != "sealed" || got.TOTPKeyID != "k1" || got.TOTPLastStep != 100 {
			t.Fatalf("after enable: %+v", got)
		}
		if err := st.SetPendingTOTP(ctx, u.ID, "other", "k1"); model.ErrorCode(err) != model.ECONFLICT {
			t.Fatalf("a new seed while on: %v, want ECONFLICT", err)
		}
		ms, _ := st.FindMembers(ctx, team.ID)
		if len(ms) != 1 || !ms[0].TwoFactor {
			t.Fatalf("members do not show two-factor: %+v", ms)
		}

		// Each step once, even when two requests race with one code.
		if ok, err := st.UseTOTPStep(ctx, u.ID, 100); ok || err != nil {
			t.Fatalf("the enrolment's step again: %v %v", ok, err)
		}
		var wg sync.WaitGroup
		var mu sync.Mutex
		wins := 0
		for i := 0; i < 4; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if ok, err := st.UseTOTPStep(ctx, u.ID, 101); ok && err == nil {
					mu.Lock()
					wins++
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		if wins != 1 {
			t.Fatalf("%d requests used step 101, want 1", wins)
		}

		// Recovery codes: each once; new ones replace the old.
		if ok, _ := st.UseRecoveryCode(ctx, u.ID, "h1", act); !ok {
			t.Fatal("a recovery code was refused")
		}
		if ok, _ := st.UseRecoveryCode(ctx, u.ID, "h1", act); ok {
			t.Fatal("a recovery code worked twice")
		}
		if n, _ := st.CountRecoveryCodes(ctx, u.ID); n != 1 {
			t.Fatalf("%d codes left, want 1", n)
		}
		if err := st.ReplaceRecoveryCodes(ctx, u.ID, []string{"h3"}); err != nil {
			t.Fatal(err)
		}
		if ok, _ := st.UseRecoveryCode(ctx, u.ID, "h2", act); ok {
			t.Fatal("an old recovery code worked after new ones were made")
		}

		if err := st.DisableTOTP(ctx, u.ID, act); err != nil {
			t.Fatal(err)
		}
		got, _ = st.FindUserByID(ctx, u.ID)
		if got.TwoFactor() || got.TOTPSecret != "" {
			t.Fatalf("after disable: %+v", got)
		}
		if n, _ := st.CountRecoveryCodes(ctx, u.ID); n != 0 {
			t.Fatal("recovery codes outlived two-factor")
		}

		if err := st.SetTeamRequire2FA(ctx, team.ID, true, act); err != nil {
			t.Fatal(err)
		}
		m, _ := st.FindMembership(ctx, team.ID, u.ID)
		if !m.Team.Require2FA {
			t.Fatal("the team's requirement is not on its memberships")
		}
	})
}
