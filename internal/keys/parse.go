package keys

// Parsed is a raw key split into its parts. The check characters are not
// kept: a Parsed value always comes from a key whose checksum matched.
type Parsed struct {
	Prefix      string // e.g. "kw"
	Environment string // "live" or "test"
	Secret      string // SecretLen base62 characters
}

// ValidPrefix reports whether p can be a key prefix: a lowercase ASCII
// letter followed by at most 9 lowercase letters or digits.
func ValidPrefix(p string) bool {
	if len(p) == 0 || len(p) > maxPrefixLen || p[0] < 'a' || p[0] > 'z' {
		return false
	}
	for i := 1; i < len(p); i++ {
		if c := p[i]; (c < 'a' || c > 'z') && (c < '0' || c > '9') {
			return false
		}
	}
	return true
}

// ValidEnvironment reports whether env is a key environment: "live" or "test".
func ValidEnvironment(env string) bool {
	return env == "live" || env == "test"
}

// Parse checks raw and splits it into its parts. It returns ErrMalformed if
// raw does not have the shape of a key (length, separators, prefix,
// environment, characters outside the alphabet) and ErrChecksum if the shape
// is right but the check characters do not match. Parse runs on every API
// request before any lookup, so it does not allocate: the returned strings
// share raw's memory.
func Parse(raw string) (Parsed, error) {
	n := len(raw)
	if n < minLen || n > MaxLen {
		return Parsed{}, ErrMalformed
	}
	// Everything after the prefix has a fixed length, so the parts are found
	// from the end without searching for separators.
	p := n - tailLen
	prefix := raw[:p]
	env := raw[p+1 : p+1+envLen]
	secret := raw[p+2+envLen : n-CheckLen]
	if raw[p] != '_' || raw[p+1+envLen] != '_' || !ValidPrefix(prefix) || !ValidEnvironment(env) {
		return Parsed{}, ErrMalformed
	}
	for i := 0; i < len(secret); i++ {
		if base62Value[secret[i]] < 0 {
			return Parsed{}, ErrMalformed
		}
	}
	check, ok := decodeCheck(raw[n-CheckLen:])
	if !ok {
		return Parsed{}, ErrMalformed
	}
	if check != uint64(checksum(raw[:n-CheckLen])) {
		return Parsed{}, ErrChecksum
	}
	return Parsed{Prefix: prefix, Environment: env, Secret: secret}, nil
}
