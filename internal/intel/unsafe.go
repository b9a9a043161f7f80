package intel

import "unsafe"

// unsafeString views b as a string without copying, for map lookups and
// comparisons that do not keep it. b must not change while the string is
// in use.
func unsafeString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

// unsafeBytes views s as bytes without copying, for reading words out of
// it; the bytes must not be written.
func unsafeBytes(s string) []byte {
	return unsafe.Slice(unsafe.StringData(s), len(s))
}
