package sandbox

import (
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Offsets into struct seccomp_data.
const (
	seccompNr    = 0
	seccompArch  = 4
	seccompArgs0 = 16 // low 32 bits of args[0] on little-endian machines
)

// bpfInsn is a cBPF instruction whose jumps name labels instead of
// offsets; assemble resolves them.
type bpfInsn struct {
	label  string // this instruction's label, if any
	code   uint16
	k      uint32
	jt, jf string // jump labels ("" = next instruction)
}

func bpfStmt(code uint16, k uint32) bpfInsn { return bpfInsn{code: code, k: k} }

func bpfJump(code uint16, k uint32, jt, jf string) bpfInsn {
	return bpfInsn{code: code, k: k, jt: jt, jf: jf}
}

func bpfLabel(label string, in bpfInsn) bpfInsn { in.label = label; return in }

// assemble turns prog into kernel instructions.
func assemble(prog []bpfInsn) ([]unix.SockFilter, error) {
	at := map[string]int{}
	for i, in := range prog {
		if in.label != "" {
			at[in.label] = i
		}
	}
	rel := func(i int, label string) (uint8, error) {
		if label == "" {
			return 0, nil
		}
		j, ok := at[label]
		if !ok || j <= i || j-i-1 > 255 {
			return 0, fmt.Errorf("assembling seccomp filter: bad jump from %d to %q", i, label)
		}
		return uint8(j - i - 1), nil
	}
	out := make([]unix.SockFilter, len(prog))
	for i, in := range prog {
		jt, err := rel(i, in.jt)
		if err != nil {
			return nil, err
		}
		jf, err := rel(i, in.jf)
		if err != nil {
			return nil, err
		}
		out[i] = unix.SockFilter{Code: in.code, Jt: jt, Jf: jf, K: in.k}
	}
	return out, nil
}

// seccompFilter builds the filter: syscalls of another architecture or
// ABI, every syscall in seccompDenied, and clone with a namespace flag
// fail with EPERM; clone3 (whose flags a filter cannot see) fails with
// ENOSYS so that libc falls back to clone; everything else is allowed.
func seccompFilter() ([]unix.SockFilter, error) {
	const (
		ld   = unix.BPF_LD | unix.BPF_W | unix.BPF_ABS
		jeq  = unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K
		jset = unix.BPF_JMP | unix.BPF_JSET | unix.BPF_K
		ret  = unix.BPF_RET | unix.BPF_K
	)
	prog := []bpfInsn{
		bpfStmt(ld, seccompArch),
		bpfJump(jeq, seccompAuditArch, "", "eperm"),
		bpfStmt(ld, seccompNr),
		bpfJump(jset, seccompForeignABIBit, "eperm", ""),
		bpfJump(jeq, uint32(unix.SYS_CLONE3), "enosys", ""),
		bpfJump(jeq, uint32(unix.SYS_CLONE), "clone", ""),
	}
	for _, nr := range seccompDenied {
		prog = append(prog, bpfJump(jeq, uint32(nr), "eperm", ""))
	}
	prog = append(prog,
		bpfStmt(ret, unix.SECCOMP_RET_ALLOW),
		bpfLabel("clone", bpfStmt(ld, seccompArgs0)),
		bpfJump(jset, cloneNamespaceFlags, "eperm", ""),
		bpfStmt(ret, unix.SECCOMP_RET_ALLOW),
		bpfLabel("eperm", bpfStmt(ret, unix.SECCOMP_RET_ERRNO|uint32(unix.EPERM))),
		bpfLabel("enosys", bpfStmt(ret, unix.SECCOMP_RET_ERRNO|uint32(unix.ENOSYS))),
	)
	return assemble(prog)
}

// cloneNamespaceFlags are the clone flags that create namespaces (except
// CLONE_NEWTIME, which overlaps the exit-signal byte of clone).
const cloneNamespaceFlags = unix.CLONE_NEWNS | unix.CLONE_NEWUTS | unix.CLONE_NEWIPC |
	unix.CLONE_NEWUSER | unix.CLONE_NEWPID | unix.CLONE_NEWNET | unix.CLONE_NEWCGROUP

// installSeccomp sets no_new_privs and installs the filter on every thread
// of the calling process.
func installSeccomp() error {
	filter, err := seccompFilter()
	if err != nil {
		return err
	}
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("setting no_new_privs: %w", err)
	}
	prog := unix.SockFprog{Len: uint16(len(filter)), Filter: &filter[0]}
	r, _, errno := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER,
		unix.SECCOMP_FILTER_FLAG_TSYNC, uintptr(unsafe.Pointer(&prog)))
	if errno != 0 {
		return fmt.Errorf("installing seccomp filter: %w", errno)
	}
	if r != 0 {
		return fmt.Errorf("installing seccomp filter: thread %d could not be synchronised", r)
	}
	return nil
}
