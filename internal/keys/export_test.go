package keys

// Internals exposed to the external tests in package keys_test.
var (
	FillBase62       = fillBase62
	GenerateFrom     = generate
	NewPublicIDFrom  = newPublicID
	RandomStringFrom = randomString
	Checksum         = checksum[string]
)

// InvalidHint is what Hint returns for input that does not parse.
const InvalidHint = invalidHint

// EncodeCheck returns v as CheckLen zero-padded base62 characters.
func EncodeCheck(v uint32) string {
	var b [CheckLen]byte
	encodeCheck(&b, v)
	return string(b[:])
}
