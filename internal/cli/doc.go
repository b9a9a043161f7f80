// Package cli implements vigil's command line: one function, [Run], that
// takes the arguments and the standard streams and returns the exit status,
// so that every subcommand can be tested in-process.
//
// Exit statuses: 0 success; 1 the command ran but some input could not be
// read (a damaged record, an unreadable file); 2 usage or configuration
// error.
package cli
