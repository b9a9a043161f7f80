// Package syslog reads syslog messages: it parses RFC 5424 and RFC 3164
// (BSD) messages, splits TCP and TLS streams into messages (RFC 6587), and
// turns a message into an event.Event. It sits at the start of vigil's data
// flow beside internal/source: the syslog listeners of vigil serve and the
// syslog file reader of vigil hunt produce events with it, which then go
// through normalisation and detection like any other.
//
//	listener or file -> Reader (framing) -> Message.Parse -> Message.Event -> normalize, detect
//
// # Parsing
//
// Message.Parse detects the syntax from the content. After an optional PRI
// ("<N>", 0 to 191), a VERSION digit and a space make an RFC 5424 message,
// parsed strictly: TIMESTAMP (RFC 3339 with an offset, or "-"), HOSTNAME,
// APP-NAME, PROCID and MSGID (printable US-ASCII, "-" for none),
// STRUCTURED-DATA (elements and parameters in order, values unescaped) and
// MSG (its UTF-8 BOM removed). Field length limits of the RFC are not
// enforced. Everything else is read as RFC 3164 as it is found in the wild:
// an optional timestamp, either "Mmm dd hh:mm:ss" (day padded with a space
// or a zero; an optional fraction; an optional year before or after the
// time, as network devices write it) or an RFC 3339 time as rsyslog's
// RSYSLOG_FileFormat writes it (the offset may be missing); then a
// hostname unless the first word is already a tag (messages from syslog(3)
// through /dev/log carry none); then an optional tag "prog:",
// "prog[pid]:" or "prog[pid]" giving AppName and ProcID; the rest is the
// message text. Parse does not allocate in the steady state: the Message's
// slices alias the input.
//
// Times: a timestamp without a zone is in ParseOptions.Location (UTC by
// default). A BSD date has no year: it takes the latest year that puts it no
// later than two days after ParseOptions.Now (a log written in January that
// holds December lines gets the previous year; 29 February goes back to a
// leap year). A message without a timestamp gets ParseOptions.Now, with
// HasTimestamp false.
//
// # Bad input
//
// No input is dropped. A line with neither PRI nor timestamp is FormatText:
// its whole text is the Message, with no error (a relay receiving such a
// line keeps it too, RFC 3164 section 4.3.3). A message that claims a syntax
// and breaks it (a PRI that is not one, an RFC 5424 header or structured
// data that does not parse, an empty message) returns a *ParseError that
// names the part, the field and the byte offset, for example
//
//	syslog: RFC 5424 header: timestamp at byte 11: invalid month
//
// and the Message is still filled as FormatText with the whole input as its
// text (and the PRI's facility and severity when the PRI was valid), so the
// caller can keep the event and count the error as a warning.
//
// # Framing
//
// Reader splits a stream into messages per RFC 6587, deciding per frame:
// a frame that starts with 1 to 10 digits, a space and '<' is octet-counted
// ("LEN SP MSG"); any other is delimited by LF or NUL (a CR before the LF is
// dropped) — non-transparent framing. A frame longer than the limit is
// skipped and reported as a *FrameError (Reader.Skipped counts them), and
// the next call goes on with the following frame; a stream that ends inside
// an octet-counted frame reports it as truncated, and an error of the
// underlying reader (after the frames read before it) is returned by every
// later call. The Reader owns one buffer
// of about the limit; the returned frame is valid until the next call, and
// reading allocates nothing per message.
//
// # Event fields
//
// Message.Event fills an event.Event with flat fields, in this order and
// only when present:
//
//	SyslogFormat  rfc5424, rfc3164 or text (always present; marks the event
//	              as syslog for the logsource table)
//	Facility      kern, user, mail, daemon, auth, syslog, lpr, news, uucp, cron,
//	              authpriv, ftp, ntp, security, console, solaris-cron,
//	              local0..local7 (only with a PRI)
//	Severity      emerg, alert, crit, err, warning, notice, info, debug (only with a PRI)
//	Computer      HOSTNAME (the name vigil shows as a detection's computer)
//	AppName       APP-NAME, or the program of the RFC 3164 tag
//	ProcID        PROCID, or the pid of the tag
//	MsgID         MSGID
//	SDID.PARAM    one field per structured data parameter, named by its
//	              element ID and parameter name (timeQuality.tzKnown)
//	Message       the message text (always present, possibly empty)
//	Raw           the whole message as received or as the line of the file
//	              (absent for FormatText, whose Message is the whole line)
//
// Keyword (field-less) Sigma searches look at every field, so they see the
// message text, and Raw lets them match as they were written: against the
// whole log line (SigmaHQ's ' denied AXFR from ' needs the space that
// follows "named[733]:", which Message does not keep). Event.Time is the message timestamp in UTC (zero when it has
// none and ParseOptions.Now was zero); Event.Source is the caller's source
// name; the caller sets Event.Record and Event.Offset.
package syslog
