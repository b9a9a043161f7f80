// Package feeds keeps local copies of threat-intelligence feeds up to date:
// it reads a YAML file listing feeds, fetches each one (HTTP with
// conditional requests, a local file, a MISP feed, or a TAXII 2.1
// collection pulled incrementally) into a cache folder, validates every
// download with the internal/intel loaders before it replaces the copy,
// and reports what each feed gave. It sits at the start of vigil's intel
// data flow:
//
//	feeds.yml -> ParseConfig -> Config -> Updater.Update -> cache folder -> intel.LoadPaths -> Index -> hunt --intel, intel lookup, intel serve
//
// # Configuration
//
// The file holds one list, feeds; each feed has a name and exactly one of
// url, path and taxii:
//
//	feeds:
//	  - name: cisa-kev                 # letters, digits, '.', '_', '-'; names the copy in the cache
//	    url: https://www.cisa.gov/sites/default/files/feeds/known_exploited_vulnerabilities.json
//	    format: kev                    # optional: stix, misp-event, misp-feed, csv, plain, kev,
//	                                   # json-list, warninglist; recognised from the content when absent
//	    refresh: 24h                   # how long a copy is good for (default 1h)
//	    timeout: 2m                    # for the whole fetch (default 2m)
//	  - name: partner-iocs
//	    url: https://intel.example.org/export.csv
//	    format: csv
//	    column: 2                      # CSV: the 1-based column holding the values
//	    type: domain                   # CSV and plain: the type of every value
//	    tlp: amber                     # given to entries that state no TLP
//	    confidence: 70                 # given to entries that state no confidence (1-100)
//	    auth: {type: bearer, token_env: PARTNER_TOKEN}
//	  - name: threatfox
//	    url: https://threatfox-api.abuse.ch/files/exports/full.csv
//	    auth: {type: header, header: Auth-Key, token_env: ABUSECH_KEY}
//	  - name: cert-feed
//	    url: https://misp.example.org/feed/    # a MISP feed: the folder holding manifest.json
//	    format: misp-feed
//	    auth: {type: basic, user_env: CERT_USER, password_env: CERT_PASSWORD}
//	  - name: isac
//	    taxii:
//	      api_root: https://taxii.example.org/api1/
//	      collection: 91a7b528-80eb-42ed-a74d-c6fbd5a26116
//	      types: [indicator]           # optional: only these STIX types
//	    auth: {type: basic, user_env: ISAC_USER, password_env: ISAC_PASSWORD}
//	  - name: local-blocklist
//	    path: blocklist.txt            # relative to the configuration file's folder
//
// auth names environment variables; the secrets themselves never appear in
// the file, and a URL holding user information is refused. Secrets are read
// when a feed is updated, sent only to the feed's host (net/http drops them
// on a redirect to another host) and never written into errors, logs or the
// cache. Problems of the file are all reported at once, each with its line
// and column (ConfigErrors). tlp and confidence defaults apply to STIX, CSV
// and plain feeds; MISP events and feeds, KEV and warninglists state their
// own, and a default given for them is refused (or, when the format is
// recognised from the content, reported as a warning).
//
// # The cache folder
//
// Each feed has one copy in the cache folder, named after the feed: a file
// (<name>.json, <name>.csv or <name>.txt) or, for a MISP feed, a folder
// <name>/. Beside it, the hidden .<name>.state.json keeps the validators
// (ETag, Last-Modified), the TAXII added_after (the last
// X-TAXII-Date-Added-Last), when the feed was checked and updated, the
// copy's size, SHA-256 and indicator count, and the last error. Hidden files
// are left alone by intel's folder walk, so the folder can be handed as it
// is to vigil hunt --intel, vigil intel lookup --feed and vigil intel serve
// --feed.
//
// The copy is what intel loads by content detection, so that every command
// reads it as the configuration says: STIX, MISP, KEV and other
// self-describing files are stored as they came (a STIX bundle with the
// tlp and confidence defaults written into its unmarked objects); a CSV or
// plain feed read with options (type, column, tlp, confidence, a stated
// format) is stored normalised as CSV with the columns type, value, tlp,
// confidence and description. A compressed download is recognised by its
// content (intel.Inflate): a gzip stream or a zip of one feed file is
// stored as the file it holds (and treated as above); a zip of several is
// stored as the archive, its files each read by its format. A TAXII collection is stored as one STIX
// bundle: each run asks for the objects added after the last run's
// X-TAXII-Date-Added-Last and merges them in (a newer version of an object
// replaces the older).
//
// # Updating
//
// Updater.UpdateFeed never replaces a good copy with a bad download: the
// download goes to memory or a staging folder, is loaded with the intel
// loaders, and only a copy that loads is written to a temporary file and
// renamed over the old one (a MISP feed folder is swapped with two
// renames). A download is refused when nothing in it loads (garbage, an
// error page, a server answering text/html for a feed whose format is not
// stated) or when it holds no indicator while the previous copy had some.
// A bad entry inside a feed that otherwise loads is reported in
// Result.Errors and skipped; it never fails the feed. HTTP requests carry
// If-None-Match and If-Modified-Since when a copy exists; a 304, or a
// download identical to the copy, is "not modified". A feed checked less
// than its refresh interval ago is "not due" unless Updater.Force is set.
//
// An Updater updates feeds one after another and is not safe for concurrent
// use on the same cache folder.
package feeds
