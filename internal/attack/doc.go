// Package attack names MITRE ATT&CK tactics and techniques, for the
// attack.* tags of Sigma rules: "attack.t1003.001" is "T1003.001 OS
// Credential Dumping: LSASS Memory", "attack.credential-access" is
// "TA0006 Credential Access".
//
// LookupTechnique and LookupTactic find one entry, Tactics lists the
// enterprise matrix in order and ParseTags reads the tags of a rule.
// Software (attack.sNNNN) and group (attack.gNNNN) tags are not named.
//
// # Data
//
// The names come from table_gen.go, generated from the STIX 2 data of
// MITRE ATT&CK (https://github.com/mitre/cti), Enterprise and ICS matrices,
// at the release given by Version: the attack-pattern objects (techniques
// and sub-techniques; the ID is the external_id of the "mitre-attack"
// external reference, the tactics the "mitre-attack" or "mitre-ics-attack"
// kill chain phases) and the x-mitre-tactic objects. Revoked and deprecated
// objects are left out, so their IDs are not found. Where an ID or tactic
// shortname is both an enterprise and an ICS one, the enterprise entry wins.
//
// The table is checked in, since the corpus is not available where vigil is
// built. The order of the tactics in each matrix is not in the corpus (it is
// in the x-mitre-matrix objects); it is kept in gen/main.go, which refuses a
// corpus with other tactics.
//
// # License
//
// ATT&CK is used under MITRE's terms of use, which require copies to
// reproduce MITRE's copyright designation and license; table_gen.go
// carries them in full:
//
//	© 2025 The MITRE Corporation. This work is reproduced and distributed
//	with the permission of The MITRE Corporation.
//
// # Regenerating
//
// With the corpus at ../shared/corpus/attack beside the repository (LICENSE.txt, SOURCE.txt
// naming the "ATT&CK vN.N" release, and enterprise-attack/ and ics-attack/,
// each with attack-pattern/ and x-mitre-tactic/ folders of one STIX JSON
// file per object), run
//
//	go generate ./internal/attack
//
// from the repository root, then go test ./internal/attack/...: a test in
// gen checks that the checked-in table is what the corpus gives. The
// output is deterministic (sorted, formatted by go/format).
package attack

//go:generate go run ./gen -corpus ../../../shared/corpus/attack -out table_gen.go
