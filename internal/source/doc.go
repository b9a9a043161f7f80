// Package source turns input files into event.Events: it is the first stage
// of vigil's data flow, between the files a user hands to `vigil hunt` and
// normalisation, detection and the outputs, none of which know the input
// format.
//
// # Formats
//
// EVTX, JSON Lines (one JSON object per line), JSON documents (an object,
// an array of objects, or concatenated objects, as pretty-printed by
// evtx_dump) and syslog text, each optionally gzip-compressed, are
// recognised by content,
// never by file name: Detect looks at the first bytes (see its doc), and
// Expand walks directories in lexical order keeping only the files it
// recognises (ExpandSkipped also returns the others).
//
// Syslog text (/var/log/syslog, auth.log, rsyslog or syslog-ng files, raw
// RFC 5424 or RFC 3164 lines), recognised when the first line is syslog
// (syslog.Sniff), is read in line batches like JSON Lines. Dates without a
// year take it from the file's modification time and times without a zone
// are UTC; a line that claims a syntax and breaks it is kept as a text
// event and reported as a *SyslogError.
//
// # Parallel and in order
//
// Scan reads the files one after the other. One producer goroutine
// enumerates units: every chunk slot of an EVTX file (a worker reads and
// decodes the chunk), or batches of up to 512 consecutive records (about 1
// MiB) of a JSON file, which the producer reads sequentially, decompressing
// gzip there. Worker goroutines call the caller's work function on each
// unit (typically Unit.Events and detection), and the results reach emit on
// the calling goroutine in file order, then unit order, so the output is
// the same whatever the number of workers. At most workers+1 units hold
// file data at a time, and up to 8×workers finished results may wait for
// their turn to be emitted (so one slow-to-emit unit does not stall the
// workers), so memory is bounded whatever the file sizes; a single JSON
// record is limited to 64 MiB.
//
// A Unit, its data and the events it yields belong to the worker during
// the work call only: Unit.Events reuses one Event for every record, and a
// caller that keeps an event beyond its callback must Clone it. Scan owns
// every goroutine and every file it opens, and closes them before it
// returns.
//
// # Problems
//
// Bad input never panics and never silently drops data. A file that cannot
// be opened or is not a supported format, or a gzip stream that ends early,
// is reported once in Unit.Err (after the units holding the records read
// before the damage). EVTX header and chunk problems are attached to the
// unit (Unit.Problems). A damaged EVTX record (*evtx.Error) or a JSON record
// that does not parse (*JSONError, "path:line: invalid JSON: …") is passed
// to the problem callback of Unit.Events, and reading goes on.
//
// # Field names
//
// EVTX records give exactly the fields of evtx.Record.AppendFields: the
// System values as EventID, Channel, Provider_Name, Provider_Guid, Computer,
// TimeCreated, EventRecordID, Execution_ProcessID, UserID and so on, then
// the EventData or UserData fields by name. Event.Time is TimeCreated,
// Event.Record the System EventRecordID, Event.Offset the record's file
// offset.
//
// A JSON object in the evtx_dump layout ({"Event":{"System":…,"EventData":
// …}}, also with other keys beside "Event", such as the _source that vigil
// dump --meta adds) is flattened to the same names, in the same order, as
// the EVTX record it was rendered from: Provider's #attributes Name and Guid
// become Provider_Name and Provider_Guid, EventID (or its #text when it has
// Qualifiers) EventID, TimeCreated's SystemTime TimeCreated, Execution's
// ProcessID and ThreadID Execution_ProcessID and Execution_ThreadID,
// Security's UserID UserID, Correlation's ActivityID ActivityID, other
// System children their own name; EventData and UserData children by name,
// nested objects walked to their leaves, "#text" as the value, arrays as
// repeated fields, and values trimmed of surrounding white space. Numbers
// keep their JSON text (4624; hexadecimal strings stay strings), so the
// fields equal those of the EVTX record (TimeCreated has six fractional
// digits in evtx_dump's rendering, seven in the EVTX).
//
// Any other JSON object is flattened as it is: top-level keys are field
// names, nested objects are joined with dots (a.b.c), arrays give repeated
// fields, numbers keep their JSON text, booleans are true and false, null is
// an empty value, and empty objects and arrays give no field. Winlogbeat
// and Elastic events also get the EVTX names of their winlog fields, right
// after them: winlog.event_data.X and winlog.user_data.X as X, and
// winlog.channel, event_id, provider_name, provider_guid, computer_name,
// record_id, version, activity_id, process.pid, process.thread.id and
// user.identifier as Channel, EventID, Provider_Name, Provider_Guid,
// Computer, EventRecordID, Version, ActivityID, Execution_ProcessID,
// Execution_ThreadID and UserID, so that Windows rules fire on them.
//
// Event.Time comes from the first of TimeCreated, @timestamp, EventTime,
// eventTime (CloudTrail), UtcTime, timestamp, ts (Zeek) and time that holds
// a time: RFC 3339 (a space may separate date and time; no zone means
// UTC) or seconds since the epoch with a fraction (milliseconds,
// microseconds and nanoseconds recognised by magnitude); zero if none.
// Event.Record is the EventRecordID (evtx_dump layout, Winlogbeat) or else
// the line number of the record, and Event.Offset the byte offset of the
// record in the decompressed stream.
package source
