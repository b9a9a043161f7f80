// Package event defines Event, the flat, ordered set of named fields that
// every reader of vigil produces and that normalisation, detection and the
// outputs consume. Nothing downstream of a reader knows the input format.
//
// An Event is built for speed: its values live in one byte buffer that is
// reused from event to event, so filling an event allocates nothing in the
// steady state. The strings returned by Value and Get share that buffer: they
// are valid until the event is Reset or a field is added. Use Clone or Fields
// to keep an event beyond that.
package event
