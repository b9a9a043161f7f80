package intel

import (
	"syscall"
	"unsafe"
)

// hugePages asks the kernel to back the large table s with transparent
// huge pages (where it is enabled for madvise): a probe of a table of tens
// of MiB in 4 KiB pages also misses the TLB, and on a virtual machine the
// walk of the nested page tables costs about as much as the slot's own
// cache miss. Only the 2 MiB-aligned part of s is advised; errors are
// ignored (the table works the same without).
func hugePages[T any](s []T) {
	const huge = 2 << 20
	n := uintptr(len(s)) * unsafe.Sizeof(*new(T))
	if n < 2*huge {
		return
	}
	p := uintptr(unsafe.Pointer(unsafe.SliceData(s)))
	lo := (p + huge - 1) &^ (huge - 1)
	hi := (p + n) &^ (huge - 1)
	if hi <= lo {
		return
	}
	const madvHugepage = 14
	syscall.Syscall(syscall.SYS_MADVISE, lo, hi-lo, madvHugepage)
}
