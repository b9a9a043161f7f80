// Package taxii is vigil's TAXII 2.1 client and server: it fetches STIX
// objects from other organisations' collections (feeding internal/intel),
// and shares back what vigil holds and sees, at the end of vigil's intel
// data flow:
//
//	feeds / TAXII servers -> Client.Objects -> intel loaders -> Index -> detect (intel match) -> Detection
//	Index + Detections -> NewVigilServer -> "indicators" and "sightings" collections -> other TAXII clients
//
// # Client
//
// A Client walks discovery (Discover), API roots (APIRoot), collections
// (Collections) and objects (Objects, Manifest). Objects follows the
// server's pages (next while more is true; X-TAXII-Date-Added-Last as
// added_after from servers that page without next) and returns the raw STIX
// objects with the latest X-TAXII-Date-Added-Last, to give back as
// added_after next time. Credentials (Basic, Bearer) print redacted and are
// never written into errors; every response is bounded in size, every
// request in time. A failed request is an *Error naming the URL, the status
// and the server's TAXII error message.
//
// # Server
//
// A Server is a read-only http.Handler: discovery at taxii2/, one API root
// with its collections, objects (added_after, limit, next, match[type],
// match[id], match[version], match[spec_version]), single objects, their
// versions and manifests, with X-TAXII-Date-Added-First/Last headers and
// TAXII error messages for 400, 401, 403, 404, 405 and 406. Every request
// is authenticated by default (BearerAuth, BasicAuth, AnyOf); an Accept
// header that allows no TAXII 2.1 JSON gets 406. A collection is backed by a
// Store (MemoryStore in memory) that orders objects by date added then id;
// next is an opaque cursor holding the last object's place in that order,
// so pages never skip or repeat an object while objects are added.
//
// # What vigil shares
//
// NewVigilServer serves two collections. "indicators" holds one STIX
// indicator per value vigil holds, with a STIX pattern for its type, the id
// "indicator--" + UUIDv5(type:value) (the same from any vigil, at every
// refresh), the merged confidence, labels and validity of the feed entries
// and the TLP 2.0 marking of the most restrictive one. Entries marked above
// ServerOptions.MaxTLP are never served (unmarked entries count as
// UnmarkedTLP, unknown markings as red). "sightings" holds one STIX sighting
// per indicator vigil matched in its logs: sighting_of_ref is the
// indicator's id, count, first_seen and last_seen come from the detections,
// where_sighted_refs is the organisation's identity. It carries no
// observed_data_refs: which hosts, users and processes saw the value stays
// inside the organisation. A sighting is marked at least SightingTLP and at
// least the TLP of the indicator, and obeys MaxTLP too. Both collections
// hold the organisation's identity and the TLP marking definitions they use.
//
// Objects get a new version and date added only when their content changes
// (see NewVigilServer); the collections live in memory and are rebuilt,
// with new dates added, when the process restarts.
package taxii
