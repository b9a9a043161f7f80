package source

import (
	"time"
	"unsafe"
)

// parseTime reads an event time: RFC 3339 (any number of fractional
// digits, "T" or a space between date and time; UTC when no zone is given),
// or seconds since the Unix epoch with an optional fraction (Zeek's ts;
// milliseconds, microseconds and nanoseconds are recognised by magnitude).
// The result is in UTC.
func parseTime(b []byte) (time.Time, bool) {
	if len(b) == 0 {
		return time.Time{}, false
	}
	if len(b) >= 19 && b[4] == '-' && b[7] == '-' && (b[10] == 'T' || b[10] == ' ' || b[10] == 't') && b[13] == ':' {
		return parseDate(b)
	}
	return parseEpoch(b)
}

func parseDate(b []byte) (time.Time, bool) {
	s := unsafe.String(&b[0], len(b))
	zoned := false
	switch last := b[len(b)-1]; {
	case last == 'Z' || last == 'z':
		zoned = true
	case len(b) >= 25 && (b[len(b)-6] == '+' || b[len(b)-6] == '-') && b[len(b)-3] == ':':
		zoned = true
	}
	var layout string
	switch {
	case zoned && b[10] == 'T':
		layout = time.RFC3339Nano
	case zoned:
		layout = "2006-01-02 15:04:05Z07:00"
	case b[10] == 'T':
		layout = "2006-01-02T15:04:05"
	default:
		layout = "2006-01-02 15:04:05"
	}
	if b[10] == 't' || b[len(b)-1] == 'z' {
		return time.Time{}, false // rare spellings: not worth an allocation
	}
	t, err := time.Parse(layout, s)
	if err != nil {
		return time.Time{}, false
	}
	return t.UTC(), true
}

func parseEpoch(b []byte) (time.Time, bool) {
	var sec, frac int64
	fracDigits := 0
	i := 0
	for ; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
		if sec > (1<<62)/10 {
			return time.Time{}, false
		}
		sec = sec*10 + int64(b[i]-'0')
	}
	if i == 0 {
		return time.Time{}, false
	}
	if i < len(b) && b[i] == '.' {
		i++
		for ; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
			if fracDigits < 9 {
				frac = frac*10 + int64(b[i]-'0')
				fracDigits++
			}
		}
	}
	if i != len(b) {
		return time.Time{}, false
	}
	for ; fracDigits < 9; fracDigits++ {
		frac *= 10
	}
	switch {
	case sec >= 1e17: // nanoseconds
		return time.Unix(0, sec).UTC(), true
	case sec >= 1e14: // microseconds
		return time.UnixMicro(sec).UTC(), true
	case sec >= 1e11: // milliseconds
		return time.UnixMilli(sec).Add(time.Duration(frac / 1e6)).UTC(), true
	}
	return time.Unix(sec, frac).UTC(), true
}
