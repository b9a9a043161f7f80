// Package intel holds threat-intelligence indicators and matches them
// inline: it reads feeds (STIX 2.0/2.1 bundles, MISP events and MISP feeds,
// CISA KEV, CSV and plain lists, abuse.ch-style JSON lists, MISP
// warninglists) into an immutable Index, and looks up the values of events
// in the same pass as the Sigma rules (see internal/detect). It sits beside
// detect in vigil's data flow:
//
//	feed files -> Builder (LoadPath, Add: normalise, report bad entries) -> Build -> Index (immutable)
//	event.Event -> Index.MatchEvent -> Match -> NewDetection -> detect.Detection
//
// # Indicators and the index
//
// An Indicator is a typed, normalised value (IPv4, IPv6, CIDR network,
// domain, URL, e-mail address, MD5/SHA-1/SHA-256/SHA-512/imphash, file name,
// CVE id) with what its feed says: source, id, confidence (0–100), TLP,
// labels, ATT&CK technique ids, validity. The Index keeps one word per value
// in tables sized for millions (open addressing, table.go, for the numerous
// kinds, a string of up to 56 bytes kept in its 64-byte slot so that a hit
// reads one cache line; Go maps for IPv6 and networks): hashes keyed by fixed-size byte arrays (not
// hex strings), addresses by their integer, networks by (prefix length,
// masked address) so that every network containing an address is found
// with one probe per prefix length present, domains by name so that a value
// matches itself and every parent domain (an indicator evil.com matches
// a.b.evil.com), URLs by a scheme-less normal form (host and scheme lower
// case, default port and fragment dropped: http://x/a, https://x/a and x/a
// are one indicator; paths and queries stay case-sensitive). A blocked
// Bloom filter of those keys (2 bytes a key; one per kind of key, so that a
// few hundred file names take a kilobyte beside a million addresses) sits
// in front of the tables: a probe for a value that is not indexed — every
// parent domain of a value, most fields of an event — costs one cache line
// instead of a miss into tables of tens of MiB.
//
// Indicators are stored compactly (store.go): per indicator a record
// without pointers (type, value and id in a byte arena, the number of a
// metadata record shared by the indicators of one file, event or STIX
// object); ids of the form file:line are built when asked. A million
// indicators take about 110 MiB and add nothing for the garbage collector
// to scan. The *Indicator of a match is built on first use (64 at a time)
// and kept, so every match of one indicator returns the same pointer;
// Indicators builds the whole slice on its first call.
//
// Lookup recognises a value's type from its shape (Detect). MatchEvent
// recognises the values of an event's fields the same way, whatever the
// field is called, reads Sysmon's Hashes field, looks hosts of URLs and
// domains of e-mail addresses up too, skips indicators outside their
// validity at the event's time, and allocates nothing for an event that
// matches nothing. Values the reader marked as scalars (event.Event.Scalar:
// JSON numbers and booleans, EVTX numbers, GUIDs, times, SIDs) are passed
// by, as are ISO 8601 times unless an indexed file name is one. A Matcher
// (one per worker: NewMatcher; MatchEvent takes one from a pool) remembers
// the recent values that found nothing, compared byte for byte: per field
// position the last value, the short values (up to 16 bytes) in a table
// of their own, others in a ring (seen.go). A value the previous event had
// in the same field, or one seen a moment ago, is not looked up again.
//
// MISP warninglists (public DNS resolvers, cloud networks, top sites) go
// into a second index: a match whose value, or whose indicator's value, is on
// a warninglist carries the lists' names, is "probably benign", and its
// detection is informational. A list applies to the types of value its
// matching_attributes name (ip-src, domain, email-src, sha256…; see
// mispAttributeTypes): the list of disposable e-mail domains flags e-mail
// addresses and (through domain|ip) domains and addresses; a list of phone
// numbers flags nothing vigil matches. Substring lists (thousands of entries) are searched by the first
// four bytes of each entry at each position of the value (substrIndex),
// not entry by entry.
//
// # Loading
//
// Formats are recognised from content (DetectFormat); a folder is walked,
// and a folder holding manifest.json is read as a MISP feed. Compression
// too is recognised from content (compress.go): a gzip file is read as the
// file it holds, a zip archive as its feed files, expanding to at most
// MaxInflated bytes (an archive's files together). Loading never
// stops at a bad entry: each is reported as a *LoadError with the file and
// line (or JSON position, such as Event(uuid).Attribute[12]) and skipped.
// Entries that are well formed but cannot be matched on one value (MISP
// regkey or text attributes, CSV rows typed filepath, maltrail URI path
// patterns, STIX patterns on processes or registry keys) are not errors:
// FileStats counts them by reason.
//
// Confidence: feeds that say nothing get DefaultConfidence (50, medium);
// MISP attributes get 80 with to_ids and 40 without (context, not
// detection); CISA KEV entries 100; STIX objects their confidence property,
// STIX cyber-observables 30 (seen, not judged).
//
// # STIX patterns
//
// ParsePattern parses the whole STIX patterning grammar and reports a
// syntax error with its offset. CompilePattern then decides what vigil can
// match inline: equality (and IN, literal LIKE, LIKE '%.domain', MATCHES
// '^literal$', ISSUBSET on addresses) on addresses, domains, URLs, e-mail
// addresses, file hashes and file names. OR keeps both sides. AND (inside
// one observation or between observations) indexes each matchable term and
// marks the indicator partial in its Note: vigil sees one value at a time,
// so a hit is evidence for the pattern, not proof. FOLLOWEDBY and the
// qualifiers WITHIN, REPEATS and START/STOP describe sequences over time and
// are refused, as are patterns with no matchable term (the reason names
// the object path or operator).
//
// An Index is safe for concurrent use; a Builder is not.
package intel
