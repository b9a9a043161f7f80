// Package evtx reads Windows XML Event Log (EVTX) files.
//
// It is the first stage of vigil's data flow: every later capability (hunt,
// serve, triage) reads Windows events through it. The package is public so that
// other Go programs can import it.
//
// # Format
//
// An EVTX file is a 4 KiB file header followed by 64 KiB chunks. Each chunk
// carries its own string table and template table and a run of event records;
// each record is a Binary XML (BinXML) document, usually one template instance
// whose definition lives elsewhere in the same chunk plus the substitution
// values of this record. Chunks are independent of each other, which is what
// makes parallel decoding possible.
//
// # Speed
//
// Template definitions are compiled once per chunk into a flat list of
// operations with their names resolved; a record is then instantiated by
// walking those operations with its substitution values, which stay slices of
// the chunk buffer until something renders them. Rendering (JSON in the layout
// of the Rust evtx_dump tool, XML as Windows renders it, or flat text fields)
// writes straight into the caller's byte slice. Nothing is allocated per value.
//
// # Lifetime and concurrency
//
// A [Chunk] owns a 64 KiB buffer and the decoded state of one chunk; a
// [Record] obtained from it is valid until the chunk is reused for another
// chunk. A Chunk is not safe for concurrent use; use one per goroutine. A
// [File] is safe for concurrent use: [File.ReadChunk] only calls ReadAt.
// [Scan] decodes the chunks of a file on several goroutines and delivers the
// results in file order.
//
// # Damaged input
//
// Checksums of the file header, chunk headers and record data are verified and
// mismatches reported as [*Error] values. A corrupt chunk or record is
// reported with the file, chunk index, offset and reason, and reading goes on
// with the next record or chunk. Input never causes a panic, and allocation
// is bounded by the 64 KiB chunk size and fixed limits on nesting and size.
package evtx
