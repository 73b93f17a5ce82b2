package keys

import "hash/crc32"

// checksum is the CRC-32 (IEEE) of s. It is computed here rather than with
// crc32.ChecksumIEEE so that Parse does not have to copy the key into a
// []byte that escapes to the heap.
func checksum[T string | []byte](s T) uint32 {
	crc := ^uint32(0)
	for i := 0; i < len(s); i++ {
		crc = crc32.IEEETable[byte(crc)^s[i]] ^ (crc >> 8) // #nosec G115 -- the low byte indexes the CRC table: truncation is the point
	}
	return ^crc
}

// encodeCheck writes v into dst (CheckLen bytes) as base62, most significant
// digit first, padded on the left with '0'. 62^6 > 2^32, so every uint32 fits.
func encodeCheck(dst *[CheckLen]byte, v uint32) {
	for i := CheckLen - 1; i >= 0; i-- {
		dst[i] = base62Alphabet[v%62]
		v /= 62
	}
}

// decodeCheck reads CheckLen base62 characters. ok is false if any character
// is outside the alphabet. The value may exceed 2^32-1, in which case it
// matches no checksum.
func decodeCheck(s string) (v uint64, ok bool) {
	for i := 0; i < CheckLen; i++ {
		d := base62Value[s[i]]
		if d < 0 {
			return 0, false
		}
		v = v*62 + uint64(d)
	}
	return v, true
}
