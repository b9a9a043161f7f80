// Package normalize decides which Sigma logsources an event belongs to and
// which Sigma field names are aliases of which event fields; it sits between
// the readers (internal/source, evtx), which produce event.Event values, and
// detection (internal/detect), which routes every event to the rules whose
// logsource it satisfies:
//
//	reader -> event.Event -> normalize (Key, Classify) -> detect (RuleMatches, aliases)
//
// SigmaHQ rules are used as published, so nothing is converted ahead of time:
// a rule keeps its logsource (category/product/service) and its field names,
// and the table tells, per kind of event, which logsource triples it belongs
// to and under which name a field is found (Security 4688 keeps the new
// process in NewProcessName, which process_creation rules call Image).
//
// # Keys and classes
//
// A Table reads only a few key fields of an event: the fields its conditions
// name (Channel, EventID, EventType, _path, type, eventSource, ...; see
// Table.KeyFields). Table.Key appends their values, ASCII case-folded, to a
// byte slice without allocating; it runs for every event. Two events with the
// same key have the same Class, so the engine calls Table.Classify once per
// distinct key and caches the result. A Class lists every full triple the
// event belongs to (Sysmon event 1 is {process_creation, windows, sysmon})
// and its aliases; Table.RuleMatches says whether a rule's logsource applies
// to a class, Table.Known whether any event could ever satisfy a logsource.
//
// # Table files
//
// The built-in tables are YAML files under tables/, embedded in the binary
// (Default). A user file in the same format extends them (Load; vigil hunt
// --mapping FILE). A file is one YAML document:
//
//	cased: [Field, ...]       # optional: key fields compared case-sensitively;
//	                          # all others compare ASCII case-insensitively
//	sources:
//	  - name: windows-security-process-creation   # unique; required
//	    when:                                      # all conditions must hold
//	      Channel: Security                        # equal
//	      EventID: [4688]                          # any of (numbers are text)
//	      SourceName: "*"                          # present, any value
//	      Provider_Name: null                      # absent
//	    logsources:                                # triples, lower case
//	      - {category: process_creation, product: windows, service: security}
//	    aliases:                                   # Sigma name: event field
//	      Image: NewProcessName
//
// An event belongs to every source whose conditions it meets and takes all
// their triples and aliases (a later source's alias of the same Sigma name
// wins). A source may give only aliases, to rename fields of a family of
// events. Conditions compare the first field of a name; keep them to fields
// with few distinct values, since every distinct combination is a class.
//
// In a user file, a source whose name is already defined replaces it, and
// "disabled: true" removes it; other sources are added after the built-in
// ones. Errors name file:line:col, what is wrong and the likely fix.
//
// # Coverage
//
// The built-in tables follow SigmaHQ's tests/thor.yml, the Sigma taxonomy
// appendix and pySigma's Windows pipelines: every Sysmon category by event ID
// (and EventType for registry_add/registry_delete), Security 4688 as
// process_creation, the PowerShell categories, Defender antivirus events,
// every Windows service by channel, Sysmon for Linux, auditd, Zeek by _path
// and AWS CloudTrail. Logsources that no event source identifies on its own
// (proxy, webserver, firewall, application logs, macOS, most cloud services)
// are not Known; see the package tests for the list.
package normalize
