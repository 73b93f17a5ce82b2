package web

import (
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Sign-in limits. Every attempt spends a token from the client IP's bucket
// and a failed one also from the account's bucket (the e-mail typed, known
// or not), so one IP cannot guess many accounts fast and many IPs cannot
// guess one account fast. Buckets refill steadily; an idle one is forgotten.
const (
	loginIPBurst      = 20
	loginIPEvery      = 30 * time.Second
	loginAccountBurst = 5
	loginAccountEvery = time.Minute
	// limiterMaxEntries bounds the memory of each table; beyond it, full
	// (idle) buckets are dropped.
	limiterMaxEntries = 10000
)

// loginLimiter keeps the sign-in buckets in memory (per instance; a few
// instances multiply the allowance by as many, which is still slow).
type loginLimiter struct {
	mu      sync.Mutex
	ip      map[string]*rate.Limiter
	account map[string]*rate.Limiter
}

func newLoginLimiter() *loginLimiter {
	return &loginLimiter{ip: map[string]*rate.Limiter{}, account: map[string]*rate.Limiter{}}
}

func bucket(m map[string]*rate.Limiter, key string, every time.Duration, burst int, now time.Time) *rate.Limiter {
	if l, ok := m[key]; ok {
		return l
	}
	if len(m) >= limiterMaxEntries {
		for k, l := range m {
			if l.TokensAt(now) >= float64(l.Burst()) {
				delete(m, k)
			}
		}
		// Still nearly full: the buckets are in use, as in a flood from
		// many addresses. Drop arbitrary ones down to 90 % so memory stays
		// bounded and the sweep above runs rarely, not on every new key.
		for k := range m {
			if len(m) <= limiterMaxEntries*9/10 {
				break
			}
			delete(m, k)
		}
	}
	l := rate.NewLimiter(rate.Every(every), burst)
	m[key] = l
	return l
}

// wait returns how long until a token is available in l (0 if one is).
func wait(l *rate.Limiter, now time.Time) time.Duration {
	t := l.TokensAt(now)
	if t >= 1 {
		return 0
	}
	return time.Duration(math.Ceil((1 - t) / float64(l.Limit()) * float64(time.Second)))
}

// attempt records a sign-in attempt from ip for account and returns 0 if it
// may go ahead, else how long the client must wait.
func (ll *loginLimiter) attempt(ip, account string, now time.Time) time.Duration {
	ll.mu.Lock()
	defer ll.mu.Unlock()
	ipl := bucket(ll.ip, ip, loginIPEvery, loginIPBurst, now)
	acl := bucket(ll.account, account, loginAccountEvery, loginAccountBurst, now)
	if w := max(wait(ipl, now), wait(acl, now)); w > 0 {
		return w
	}
	ipl.AllowN(now, 1)
	return 0
}

// failed records a failed sign-in for account.
func (ll *loginLimiter) failed(account string, now time.Time) {
	ll.mu.Lock()
	defer ll.mu.Unlock()
	bucket(ll.account, account, loginAccountEvery, loginAccountBurst, now).AllowN(now, 1)
}

// retryAfter is a Retry-After value in whole seconds, at least 1.
func retryAfter(d time.Duration) int {
	return max(1, int(math.Ceil(d.Seconds())))
}
