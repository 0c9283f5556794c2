"""What confines each child of the worker: its limits, capabilities and seccomp filter, the process
count it is allowed, and the reply buffer every child inherits (zeroed after each reply)."""

import ctypes
import mmap
import os
import resource

TAIL_CHARS = 2000
EVENTS_CAP = 4 * 1024 * 1024
MESSAGE_CAP = 64 * 1024 * 1024
# The program runs under plain Python's recursion limit, counted as a plain run counts it (a recursive
# solution 1200 calls deep fails in plain Python and must fail here); the worker's own code, which encodes,
# decodes and compares values nested up to MAX_DEPTH levels, runs under WORKER_RECURSION.
PLAIN_RECURSION = 1000
WORKER_RECURSION = 10000
MAX_RECURSION = 2**31 - 1  # sys.setrecursionlimit's own bound (a C int): programs set it to "infinite"
# How deep, by Python 3.11's count, the frame the program's code opens is in a plain run (`python -c` that
# execs the program, then each assert): its module; a function an assert calls; an iterator's next item
# the assert asks for (`list(gen(n))`). Measured, not derived: the interpreter counts its own eval-loop
# entries as well as frames, and a plain run enters them where this worker does not (and back). On
# Python 3.11 here the first failing depth matches a plain run's to the frame for a module and a call, and
# within one frame for an iterator's item: plain Python itself moves it by a frame or two with what ran
# before (specialised calls), so the fidelity corpus asks 20 frames either side.
PLAIN_MODULE, PLAIN_CALL, PLAIN_NEXT = 2, 4, 3
CODE_CAP = 4 * 1024 * 1024
PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_SET_NO_NEW_PRIVS = 38
PR_SET_CHILD_SUBREAPER = 36

try:
    _LIBC = ctypes.CDLL(None, use_errno=True)
except OSError:
    _LIBC = None


def prctl(option, value):
    try:
        return _LIBC.prctl(option, value, 0, 0, 0)
    except Exception:
        return -1


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]


def drop_capabilities():
    """Zero every capability set (the program may run as root inside a user namespace, where it would
    otherwise be allowed to read the tests process's memory). Returns False where that is not possible."""
    if prctl(PR_SET_NO_NEW_PRIVS, 1) != 0:
        return False
    try:
        return _LIBC.capset(ctypes.byref(_CapHeader(0x20080522, 0)), (_CapData * 2)()) == 0
    except Exception:
        return False


# Syscalls the program's process never needs and an attacker would: reading or writing another process's
# memory, kernel attack surface, and leaving the namespaces. x86_64 numbers; elsewhere no filter is set
# (and the verdict says so).
SECCOMP_DENY_X86_64 = {
    "ptrace": 101,
    "process_vm_readv": 310,
    "process_vm_writev": 311,
    "kcmp": 312,
    "perf_event_open": 298,
    "bpf": 321,
    "userfaultfd": 323,
    "keyctl": 250,
    "add_key": 248,
    "request_key": 249,
    "mount": 165,
    "umount2": 166,
    "unshare": 272,
    "setns": 308,
    "pivot_root": 155,
    "chroot": 161,
    "kexec_load": 246,
    "init_module": 175,
    "finit_module": 313,
    "delete_module": 176,
    "open_by_handle_at": 304,
    "name_to_handle_at": 303,
    "io_uring_setup": 425,
    "io_uring_enter": 426,
    "io_uring_register": 427,
    "pidfd_send_signal": 424,
    "pidfd_getfd": 438,
    "fsopen": 430,
    "fsmount": 432,
    "move_mount": 429,
    "open_tree": 428,
    # IPC objects outlive their creator, in the sandbox's namespace, while the worker serves later programs:
    # a SysV shared memory segment stays charged to the sandbox's memory (an honest program after it is
    # killed for memory) or, without a cgroup, to the machine's. Python's own shared memory and semaphores
    # are files in /dev/shm, which is emptied after each program.
    "shmget": 29,
    "semget": 64,
    "msgget": 68,
    "mq_open": 240,
    "process_madvise": 440,
    "process_mrelease": 448,
}
# Signals reach only the process itself and its own process group: the tests process and the worker run as
# the same user, and a stopped or killed tests process must never be the program's doing. (Their ids, as
# the first argument.)
SECCOMP_SIGNAL_X86_64 = {"kill": 62, "tkill": 200, "tgkill": 234, "rt_sigqueueinfo": 129, "rt_tgsigqueueinfo": 297}
# ... and limits, priorities and placement are set only on the process itself: a program that lowered the
# tests process's CPU or memory limit turned its own `failed` into `timeout` or `memory`, and one that
# changed the worker's retired it. (The target's id is the first argument: 0 or the process's own.)
SECCOMP_OWN_X86_64 = {
    "prlimit64": 302,
    "sched_setaffinity": 203,
    "sched_setscheduler": 144,
    "sched_setparam": 142,
    "sched_setattr": 314,
    "migrate_pages": 256,
    "move_pages": 279,
}
# ... where the first argument says what the second names: only "a process" (setpriority's PRIO_PROCESS,
# ioprio_set's IOPRIO_WHO_PROCESS), never a process group or every process of the user.
SECCOMP_WHO_X86_64 = {"setpriority": (141, 0), "ioprio_set": (251, 1)}
# ... nor by proxy: a file's owner (F_SETOWN, F_SETSIG, F_SETOWN_EX; FIOSETOWN, SIOCSPGRP) receives SIGIO
# or any chosen signal whenever the file becomes ready.
FCNTL, FCNTL_OWNER = 72, (8, 10, 15)
IOCTL, IOCTL_OWNER = 16, (0x8901, 0x8902)
X32_SYSCALL_BIT = 0x40000000  # the x32 ABI shares x86_64's audit arch: its numbers would bypass every check
AUDIT_ARCH_X86_64 = 0xC000003E
PR_SET_SECCOMP, SECCOMP_MODE_FILTER = 22, 2
SECCOMP_RET_ALLOW, SECCOMP_RET_ERRNO, SECCOMP_RET_KILL_PROCESS = 0x7FFF0000, 0x00050000, 0x80000000
EPERM = 1


class _SockFilter(ctypes.Structure):
    _fields_ = [("code", ctypes.c_uint16), ("jt", ctypes.c_uint8), ("jf", ctypes.c_uint8), ("k", ctypes.c_uint32)]


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_uint16), ("filter", ctypes.POINTER(_SockFilter))]


def _assemble(lines):
    """Classic BPF from (op, k, true label, false label) and label strings: jumps are resolved to the
    forward offsets the kernel wants."""
    at, n = {}, 0
    for line in lines:
        if isinstance(line, str):
            at[line] = n
        else:
            n += 1
    code, n = [], 0
    for line in lines:
        if isinstance(line, str):
            continue
        op, k, yes, no = line
        jt = at[yes] - n - 1 if yes else 0
        jf = at[no] - n - 1 if no else 0
        code.append((op, jt, jf, k))
        n += 1
    return code


_OWN, _OWN_GROUP = 0xFFFFFFF1, 0xFFFFFFF2  # placeholders for the process's own id and its group's (-id)


def _seccomp_template():
    """The filter, assembled once; each process fills in its own id (`install_seccomp`). Wrong
    architecture -> kill; an x32 or denied syscall -> EPERM; a signal to anything but itself or its own
    process group -> EPERM; a limit, priority or placement set on another process -> EPERM; making a file
    signal its owner -> EPERM; anything else allowed."""
    ld, jeq, jge, ret = 0x20, 0x15, 0x35, 0x06  # BPF_LD|W|ABS, BPF_JMP|JEQ|K, BPF_JMP|JGE|K, BPF_RET|K
    arg0, arg1 = 16, 24  # low words of seccomp_data.args[0] and args[1] (little endian)
    lines = [(ld, 4, None, None), (jeq, AUDIT_ARCH_X86_64, "nr", "kill"), "nr", (ld, 0, None, None)]
    lines.append((jge, X32_SYSCALL_BIT, "deny", "x64"))
    lines.append("x64")
    for nr in sorted(SECCOMP_DENY_X86_64.values()):
        lines.append((jeq, nr, "deny", None))
    for nr in sorted(SECCOMP_SIGNAL_X86_64.values()):
        lines.append((jeq, nr, "signal", None))
    for nr in sorted(SECCOMP_OWN_X86_64.values()):
        lines.append((jeq, nr, "own", None))
    for name, (nr, _) in sorted(SECCOMP_WHO_X86_64.items()):
        lines.append((jeq, nr, name, None))
    lines += [(jeq, FCNTL, "fcntl", None), (jeq, IOCTL, "ioctl", None), (ret, SECCOMP_RET_ALLOW, None, None)]
    lines += ["signal", (ld, arg0, None, None)]
    for pid in (_OWN, 0, _OWN_GROUP):
        lines.append((jeq, pid, "allow", None))
    lines.append((ret, SECCOMP_RET_ERRNO | EPERM, None, None))
    for name, (_, which) in sorted(SECCOMP_WHO_X86_64.items()):
        lines += [
            name,
            (ld, arg0, None, None),
            (jeq, which, None, "deny"),
            (ld, arg1, None, None),
            (jeq, 0, "allow", "own_id"),
        ]
    lines += ["own", (ld, arg0, None, None), (jeq, 0, "allow", None), "own_id", (jeq, _OWN, "allow", "deny")]
    lines += ["fcntl", (ld, arg1, None, None)] + [(jeq, cmd, "deny", None) for cmd in FCNTL_OWNER]
    lines.append((ret, SECCOMP_RET_ALLOW, None, None))
    lines += ["ioctl", (ld, arg1, None, None)] + [(jeq, cmd, "deny", None) for cmd in IOCTL_OWNER]
    lines += ["allow", (ret, SECCOMP_RET_ALLOW, None, None)]
    lines += ["deny", (ret, SECCOMP_RET_ERRNO | EPERM, None, None)]
    lines += ["kill", (ret, SECCOMP_RET_KILL_PROCESS, None, None)]
    return _assemble(lines)


SECCOMP_ARCH = os.uname().machine == "x86_64"
_TEMPLATE = _seccomp_template()
_SLOTS = [(i, k) for i, (_, _, _, k) in enumerate(_TEMPLATE) if k in (_OWN, _OWN_GROUP)]
_FILTER = (_SockFilter * len(_TEMPLATE))(*[_SockFilter(*c) for c in _TEMPLATE])


def install_seccomp():
    """True when this process's filter is in place (needs no_new_privs, set just before). Filled in
    here, after the fork, because it names the process's own id (forked copy: the worker's stays)."""
    if not SECCOMP_ARCH:
        return False
    pid = os.getpid()
    for i, k in _SLOTS:
        _FILTER[i].k = pid if k == _OWN else (-pid) & 0xFFFFFFFF
    prog = _SockFprog(len(_FILTER), ctypes.cast(_FILTER, ctypes.POINTER(_SockFilter)))
    try:
        return _LIBC.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(prog), 0, 0) == 0
    except Exception:
        return False


def own_attributes():
    """What a process of the worker's user may change in the worker from outside (prlimit, setpriority
    with PRIO_USER, sched_setscheduler, sched_setaffinity, sched_setattr, ioprio_set) and every program
    forked from it would then inherit: a lower hard limit cannot be raised again (a later honest program
    would be judged with the attacker's memory, output, file or process limits), nor a lower priority."""
    out = [resource.getrlimit(getattr(resource, n)) for n in sorted(dir(resource)) if n.startswith("RLIMIT_")]
    out += [os.getpriority(os.PRIO_PROCESS, 0), os.sched_getscheduler(0), os.sched_getparam(0).sched_priority]
    out.append(sorted(os.sched_getaffinity(0)))
    if SECCOMP_ARCH and _LIBC is not None:
        attr = ctypes.create_string_buffer(64)  # struct sched_attr (its utilisation clamps too)
        out += [_LIBC.syscall(252, 1, 0), _LIBC.syscall(315, 0, attr, 64, 0), attr.raw]  # ioprio_get, sched_getattr
    # writable by the namespace's root under unshare (the program's euid there), and inherited or shared by
    # every later process of the sandbox: the OOM killer's preference, the pid namespace's pid_max
    for path in ("/proc/self/oom_score_adj", "/proc/sys/kernel/pid_max"):
        try:
            with open(path) as f:
                out.append(f.read())
        except OSError:
            out.append(None)
    return out


def count_own_processes():
    """Counted once, when the worker starts: RLIMIT_NPROC counts every process of this user (in this user
    namespace), not just the child's, so each child's limit is its own processes plus these."""
    global _OWN_PROCESSES
    uid, n = os.getuid(), 0
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                n += os.stat("/proc/" + name).st_uid == uid
            except OSError:
                pass
    _OWN_PROCESSES = n


_OWN_PROCESSES = 0


def read_exact(fd, n):
    parts, got = [], 0
    while got < n:
        chunk = os.read(fd, min(n - got, 1 << 20))
        if not chunk:
            raise EOFError("stream ended")
        parts.append(chunk)
        got += len(chunk)
    return b"".join(parts)


def limits(hdr, extra_processes):
    cpu = int(hdr["timeout"]) + 1
    mem = int(hdr["memory_mb"]) * 1024 * 1024
    nproc = extra_processes + _OWN_PROCESSES
    for which, value in [
        (resource.RLIMIT_CPU, (cpu, cpu + 1)),
        (resource.RLIMIT_AS, (mem, mem)),
        (resource.RLIMIT_FSIZE, (hdr["output_limit"], hdr["output_limit"])),
        (resource.RLIMIT_NPROC, (nproc, nproc)),
        (resource.RLIMIT_CORE, (0, 0)),
        (resource.RLIMIT_NOFILE, (256, 256)),
    ]:
        try:
            resource.setrlimit(which, value)
        except (ValueError, OSError):
            pass


# Private anonymous memory, not a bytearray: untouched pages are not resident, so every fork copies (and
# every child's exit tears down) only what was used; MADV_DONTNEED zeroes a used region by giving it back.
# Never MAP_SHARED: the program's process would see, and could rewrite, the reports of its tests.
BUF = mmap.mmap(-1, EVENTS_CAP + CODE_CAP, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)


def zero(n):
    if n > 0:
        BUF.madvise(mmap.MADV_DONTNEED, 0, min(len(BUF), (n + mmap.PAGESIZE - 1) // mmap.PAGESIZE * mmap.PAGESIZE))
