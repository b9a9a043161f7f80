package sigma

import "strings"

// Modifier is a Sigma value modifier (the names after '|' in a field key).
type Modifier uint8

// The modifiers of the Sigma modifiers appendix (v2.1), plus the regular
// expression flags and their long aliases as pySigma accepts them.
const (
	ModInvalid Modifier = iota
	// Generic.
	ModContains
	ModStartswith
	ModEndswith
	ModAll
	ModExists
	ModCased
	ModNeq
	// String.
	ModWindash
	ModRe
	ModReI // re sub-modifier i (ignorecase)
	ModReM // re sub-modifier m (multiline)
	ModReS // re sub-modifier s (dotall)
	ModBase64
	ModBase64Offset
	ModUTF16LE
	ModUTF16BE
	ModUTF16
	ModWide
	// Numeric.
	ModLt
	ModLte
	ModGt
	ModGte
	// Time.
	ModMinute
	ModHour
	ModDay
	ModWeek
	ModMonth
	ModYear
	// IP.
	ModCIDR
	// Specific.
	ModExpand
	ModFieldref
	numModifiers
)

// modifierNames maps each modifier to its canonical name.
var modifierNames = [numModifiers]string{
	ModInvalid:      "invalid",
	ModContains:     "contains",
	ModStartswith:   "startswith",
	ModEndswith:     "endswith",
	ModAll:          "all",
	ModExists:       "exists",
	ModCased:        "cased",
	ModNeq:          "neq",
	ModWindash:      "windash",
	ModRe:           "re",
	ModReI:          "i",
	ModReM:          "m",
	ModReS:          "s",
	ModBase64:       "base64",
	ModBase64Offset: "base64offset",
	ModUTF16LE:      "utf16le",
	ModUTF16BE:      "utf16be",
	ModUTF16:        "utf16",
	ModWide:         "wide",
	ModLt:           "lt",
	ModLte:          "lte",
	ModGt:           "gt",
	ModGte:          "gte",
	ModMinute:       "minute",
	ModHour:         "hour",
	ModDay:          "day",
	ModWeek:         "week",
	ModMonth:        "month",
	ModYear:         "year",
	ModCIDR:         "cidr",
	ModExpand:       "expand",
	ModFieldref:     "fieldref",
}

// modifierAliases are the long names pySigma accepts for the re flags.
var modifierAliases = map[string]Modifier{
	"ignorecase": ModReI,
	"multiline":  ModReM,
	"dotall":     ModReS,
}

func (m Modifier) String() string {
	if m < numModifiers {
		return modifierNames[m]
	}
	return "invalid"
}

// LookupModifier returns the modifier named name (case-sensitive, as in
// pySigma), or ModInvalid.
func LookupModifier(name string) Modifier {
	for i, n := range modifierNames {
		if i > 0 && n == name {
			return Modifier(i)
		}
	}
	if m, ok := modifierAliases[name]; ok {
		return m
	}
	return ModInvalid
}

// ModifierNames returns the canonical names of all modifiers.
func ModifierNames() []string {
	return append([]string(nil), modifierNames[1:]...)
}

// Is the modifier one of a class.
func (m Modifier) isStringMatch() bool {
	return m == ModContains || m == ModStartswith || m == ModEndswith
}
func (m Modifier) isCompare() bool {
	return m == ModLt || m == ModLte || m == ModGt || m == ModGte
}
func (m Modifier) isTime() bool { return m >= ModMinute && m <= ModYear }
func (m Modifier) isEncoding() bool {
	return m == ModUTF16LE || m == ModUTF16BE || m == ModUTF16 || m == ModWide
}
func (m Modifier) isBase64() bool { return m == ModBase64 || m == ModBase64Offset }
func (m Modifier) isReFlag() bool { return m == ModReI || m == ModReM || m == ModReS }

// Modifiers is the ordered modifier chain of a field matcher.
type Modifiers []Modifier

// Has reports whether the chain contains m.
func (ms Modifiers) Has(m Modifier) bool {
	for _, x := range ms {
		if x == m {
			return true
		}
	}
	return false
}

func (ms Modifiers) String() string {
	var b strings.Builder
	for i, m := range ms {
		if i > 0 {
			b.WriteByte('|')
		}
		b.WriteString(m.String())
	}
	return b.String()
}
