package web

import (
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Sign-in throttling, without locking anybody out (ASVS 5.0 6.1.1):
//
//   - per (account, client IP): the first loginFreeFailures failures cost
//     nothing; after each further one the pair must wait twice as long as
//     before (1 s, 2 s, 4 s … up to loginMaxDelay). A success clears the
//     pair. Only the client that failed waits: the same account signs in at
//     once from anywhere else.
//   - per client IP: failures on any account spend a token from the IP's
//     bucket (loginIPBurst, then one every loginIPEvery), so one address
//     cannot guess across many accounts fast. Successful sign-ins cost
//     nothing, so an office behind one NAT address is not slowed by its
//     users signing in.
const (
	loginFreeFailures = 3
	loginMaxDelay     = 15 * time.Minute
	// loginForgetAfter is how long after its last failure a pair's count
	// is forgotten; longer than loginMaxDelay, so waiting out the longest
	// delay does not reset the count.
	loginForgetAfter = time.Hour
	loginIPBurst     = 30
	loginIPEvery     = 20 * time.Second
	// limiterMaxEntries bounds the memory of each table; beyond it, idle
	// entries are dropped.
	limiterMaxEntries = 10000
)

// failures is the record of one (account, client IP) pair.
type failures struct {
	n     int       // failures in a row
	last  time.Time // the last failure
	until time.Time // no attempt before this
}

// loginLimiter keeps the sign-in state in memory (per instance; a few
// instances multiply the allowance by as many, which is still slow).
type loginLimiter struct {
	mu   sync.Mutex
	pair map[string]*failures
	ip   map[string]*rate.Limiter
}

func newLoginLimiter() *loginLimiter {
	return &loginLimiter{pair: map[string]*failures{}, ip: map[string]*rate.Limiter{}}
}

// pairKey joins account and IP; a NUL cannot occur in either.
func pairKey(ip, account string) string { return account + "\x00" + ip }

// attempt returns 0 if a sign-in for account from ip may be tried now, else
// how long the client must wait.
func (ll *loginLimiter) attempt(ip, account string, now time.Time) time.Duration {
	ll.mu.Lock()
	defer ll.mu.Unlock()
	var w time.Duration
	if f, ok := ll.pair[pairKey(ip, account)]; ok && f.until.After(now) {
		w = f.until.Sub(now)
	}
	if b, ok := ll.ip[ip]; ok {
		w = max(w, wait(b, now))
	}
	return w
}

// failed records a failed sign-in for account from ip and returns how long
// that client must now wait before its next try (0: it may try at once).
func (ll *loginLimiter) failed(ip, account string, now time.Time) time.Duration {
	ll.mu.Lock()
	defer ll.mu.Unlock()
	bucket(ll.ip, ip, loginIPEvery, loginIPBurst, now).AllowN(now, 1)
	k := pairKey(ip, account)
	f, ok := ll.pair[k]
	if !ok || now.Sub(f.last) > loginForgetAfter {
		if len(ll.pair) >= limiterMaxEntries {
			ll.forget(now)
		}
		f = &failures{}
		ll.pair[k] = f
	}
	f.n++
	f.last = now
	if f.n > loginFreeFailures {
		f.until = now.Add(loginDelay(f.n - loginFreeFailures))
	}
	return max(0, f.until.Sub(now))
}

// succeeded clears the record of account from ip.
func (ll *loginLimiter) succeeded(ip, account string) {
	ll.mu.Lock()
	defer ll.mu.Unlock()
	delete(ll.pair, pairKey(ip, account))
}

// loginDelay is the wait after the k-th failure past the free ones:
// 1 s, 2 s, 4 s …, at most loginMaxDelay.
func loginDelay(k int) time.Duration {
	if k > 20 {
		return loginMaxDelay
	}
	return min(time.Second<<(k-1), loginMaxDelay)
}

// forget drops pairs whose count has lapsed, then, if the table is still
// nearly full (a flood from many addresses), arbitrary ones down to 90 %,
// so that memory stays bounded. Called with mu held.
func (ll *loginLimiter) forget(now time.Time) {
	for k, f := range ll.pair {
		if now.Sub(f.last) > loginForgetAfter || !f.until.After(now) && f.n <= loginFreeFailures {
			delete(ll.pair, k)
		}
	}
	for k := range ll.pair {
		if len(ll.pair) <= limiterMaxEntries*9/10 {
			break
		}
		delete(ll.pair, k)
	}
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

// retryAfter is a Retry-After value in whole seconds, at least 1.
func retryAfter(d time.Duration) int {
	return max(1, int(math.Ceil(d.Seconds())))
}
