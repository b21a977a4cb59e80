#!/usr/bin/env python3
"""Runs a candidate's code from a grader under Landlock, so it cannot reach the grader.

A lab's grader runs trusted code at /grader (hidden data, expected answers) and sometimes
has to run the candidate's code too: their CLI on hidden data sets, their pipeline, their
service. That code runs as the grader's own user, in the grader's container, in the
sandbox's network namespace. Unconfined it could read /grader and send it to a listener
in the candidate's shell, or signal and trace the grader to fake its verdict. This wrapper
confines it with Landlock (unprivileged, inherited by every child, cannot be undone):

- files: read and execute everywhere except /grader (and whatever --hide names);
  read-write only in the directories given with --rw (and /dev/null, /dev/shm);
- network: no TCP bind or connect, except the ports given with --bind / --connect
  (Landlock ABI >= 4), and no other sockets at all: a seccomp filter refuses socket()
  for unix, UDP, raw and every other family or protocol (and io_uring, which could go
  around it); socketpair() stays, for pipes between the code's own processes;
- no signals to processes outside the sandbox, no abstract unix sockets (ABI >= 6);
  no ptrace of the grader (every ABI).

Usage: untrusted.py [--rw DIR]... [--hide PATH]... [--bind PORT]... [--connect PORT]... -- CMD [ARG]...
Fails closed: if the kernel has no Landlock, it exits 126 and says why, instead of running
the code unconfined. Standard library only; lives in the opslab server's tree and is
mounted read-only at /opt/opslab in every grader container.
"""
import ctypes
import os
import platform
import struct
import sys

SYS_LANDLOCK_CREATE_RULESET = 444
SYS_LANDLOCK_ADD_RULE = 445
SYS_LANDLOCK_RESTRICT_SELF = 446
CREATE_RULESET_VERSION = 1
RULE_PATH_BENEATH = 1
RULE_NET_PORT = 2
PR_SET_NO_NEW_PRIVS = 38

# File system rights, and the ABI that introduced each group.
EXECUTE, WRITE_FILE, READ_FILE, READ_DIR = 1 << 0, 1 << 1, 1 << 2, 1 << 3
FS_ABI1 = (1 << 13) - 1  # execute .. make_sym
REFER, TRUNCATE, IOCTL_DEV = 1 << 13, 1 << 14, 1 << 15
FILE_RIGHTS = EXECUTE | WRITE_FILE | READ_FILE | TRUNCATE | IOCTL_DEV
NET_BIND_TCP, NET_CONNECT_TCP = 1 << 0, 1 << 1
SCOPE_ABSTRACT_UNIX_SOCKET, SCOPE_SIGNAL = 1 << 0, 1 << 1

# seccomp: what Landlock does not mediate yet (UDP, unix sockets) is refused at socket().
PR_SET_SECCOMP, SECCOMP_MODE_FILTER = 22, 2
SECCOMP_RET_ALLOW, SECCOMP_RET_ERRNO, EPERM = 0x7FFF0000, 0x00050000, 1
# arch (AUDIT_ARCH_*), socket(2), io_uring_setup(2) (its socket ops would skip this filter)
ARCHES = {"x86_64": (0xC000003E, 41, 425), "aarch64": (0xC00000B7, 198, 425)}
AF_UNIX, AF_INET, AF_INET6 = 1, 2, 10
SOCK_STREAM, SOCK_TYPE_MASK, IPPROTO_TCP = 1, 0xF, 6

libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long


def fail(message: str) -> "None":
    sys.stderr.write(f"untrusted.py: {message}\n")
    sys.exit(126)


def syscall(number: int, *args) -> int:
    r = libc.syscall(number, *args)
    if r < 0:
        raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()))
    return r


def socket_filter() -> bytes:
    """A classic BPF seccomp program: socket() only for TCP over IPv4/IPv6 (which Landlock
    then limits to the allowed ports); no unix, UDP, raw or other sockets; no io_uring.
    socketpair() stays allowed (pipes between the code's own processes)."""
    arch = ARCHES.get(platform.machine())
    if arch is None:
        fail(f"no socket filter for this machine ({platform.machine()}); refusing to run the candidate's code")
    audit_arch, nr_socket, nr_io_uring_setup = arch
    LD_W_ABS, JEQ_K, AND_K, RET_K = 0x20, 0x15, 0x54, 0x06
    ALLOW, DENY = SECCOMP_RET_ALLOW, SECCOMP_RET_ERRNO | EPERM

    def ins(code, jt, jf, k):
        return struct.pack("HBBI", code, jt, jf, k)

    prog = [
        ins(LD_W_ABS, 0, 0, 4),  # 0: arch
        ins(JEQ_K, 1, 0, audit_arch),  # 1: our arch? go on : deny (another ABI could dodge the numbers)
        ins(RET_K, 0, 0, DENY),  # 2
        ins(LD_W_ABS, 0, 0, 0),  # 3: syscall number
        ins(JEQ_K, 0, 1, nr_io_uring_setup),  # 4
        ins(RET_K, 0, 0, DENY),  # 5
        ins(JEQ_K, 1, 0, nr_socket),  # 6: socket? check it : allow
        ins(RET_K, 0, 0, ALLOW),  # 7
        ins(LD_W_ABS, 0, 0, 16),  # 8: domain (args[0], low 32 bits)
        ins(JEQ_K, 2, 0, AF_INET),  # 9: -> 12
        ins(JEQ_K, 1, 0, AF_INET6),  # 10: -> 12
        ins(RET_K, 0, 0, DENY),  # 11: unix, netlink, packet, vsock...: refused
        ins(LD_W_ABS, 0, 0, 24),  # 12: type (args[1])
        ins(AND_K, 0, 0, SOCK_TYPE_MASK),  # 13
        ins(JEQ_K, 1, 0, SOCK_STREAM),  # 14: stream? check protocol : deny
        ins(RET_K, 0, 0, DENY),  # 15
        ins(LD_W_ABS, 0, 0, 32),  # 16: protocol (args[2])
        ins(JEQ_K, 2, 0, 0),  # 17: 0 -> allow
        ins(JEQ_K, 1, 0, IPPROTO_TCP),  # 18: tcp -> allow
        ins(RET_K, 0, 0, DENY),  # 19: sctp, mptcp...: refused
        ins(RET_K, 0, 0, ALLOW),  # 20
    ]
    return b"".join(prog)


def install_socket_filter() -> None:
    code = socket_filter()
    n = len(code) // 8

    class SockFprog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]

    buf = ctypes.create_string_buffer(code, len(code))
    fprog = SockFprog(n, ctypes.cast(buf, ctypes.c_void_p))
    if libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(fprog), 0, 0) != 0:
        fail(f"cannot install the socket filter ({os.strerror(ctypes.get_errno())})")


def parse(argv: list) -> tuple:
    rw, hide, bind, connect = [], ["/grader"], [], []
    i = 0
    while i < len(argv) and argv[i] != "--":
        flag = argv[i]
        if i + 1 >= len(argv):
            fail(f"{flag} needs a value")
        value = argv[i + 1]
        if flag == "--rw":
            rw.append(os.path.realpath(value))
        elif flag == "--hide":
            hide.append(os.path.realpath(value))
        elif flag in ("--bind", "--connect"):
            if not value.isdigit() or not 0 < int(value) < 65536:
                fail(f"{flag} needs a TCP port, got {value!r}")
            (bind if flag == "--bind" else connect).append(int(value))
        else:
            fail(f"unknown option {flag!r}")
        i += 2
    if i >= len(argv) - 1:
        fail("usage: untrusted.py [--rw DIR]... [--hide PATH]... [--bind PORT]... [--connect PORT]... -- CMD [ARG]...")
    return rw, hide, bind, connect, argv[i + 1 :]


def main() -> None:
    rw, hide, bind, connect, cmd = parse(sys.argv[1:])
    try:
        abi = syscall(SYS_LANDLOCK_CREATE_RULESET, None, ctypes.c_size_t(0), ctypes.c_uint32(CREATE_RULESET_VERSION))
    except OSError as e:
        fail(f"Landlock is not available ({e.strerror}); refusing to run the candidate's code unconfined")
    handled_fs = FS_ABI1 | (REFER if abi >= 2 else 0) | (TRUNCATE if abi >= 3 else 0) | (IOCTL_DEV if abi >= 5 else 0)
    handled_net = NET_BIND_TCP | NET_CONNECT_TCP if abi >= 4 else 0
    scoped = SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL if abi >= 6 else 0
    if abi >= 6:
        attr = struct.pack("QQQ", handled_fs, handled_net, scoped)
    elif abi >= 4:
        attr = struct.pack("QQ", handled_fs, handled_net)
    else:
        attr = struct.pack("Q", handled_fs)
    buf = ctypes.create_string_buffer(attr, len(attr))
    ruleset = syscall(SYS_LANDLOCK_CREATE_RULESET, buf, ctypes.c_size_t(len(attr)), ctypes.c_uint32(0))

    def allow_path(path: str, rights: int) -> None:
        try:
            fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
        except OSError:
            return  # nothing there to allow
        try:
            if not os.path.isdir(path):
                rights &= FILE_RIGHTS
            rule = struct.pack("=Qi", rights & handled_fs, fd)
            rbuf = ctypes.create_string_buffer(rule, len(rule))
            syscall(SYS_LANDLOCK_ADD_RULE, ctypes.c_int(ruleset), ctypes.c_int(RULE_PATH_BENEATH), rbuf, ctypes.c_uint32(0))
        finally:
            os.close(fd)

    def allow_port(port: int, right: int) -> None:
        rule = struct.pack("=QQ", right, port)
        rbuf = ctypes.create_string_buffer(rule, len(rule))
        syscall(SYS_LANDLOCK_ADD_RULE, ctypes.c_int(ruleset), ctypes.c_int(RULE_NET_PORT), rbuf, ctypes.c_uint32(0))

    read = EXECUTE | READ_FILE | READ_DIR
    # Landlock only allows, so "everything but /grader" is every other top-level entry.
    for entry in sorted(os.listdir("/")):
        path = "/" + entry
        if any(path == h or h.startswith(path + "/") for h in hide):
            # A hidden path below this entry: allow its siblings one level down instead.
            if path not in hide and os.path.isdir(path):
                for sub in sorted(os.listdir(path)):
                    child = f"{path}/{sub}"
                    if not any(child == h or h.startswith(child + "/") for h in hide):
                        allow_path(child, read)
            continue
        allow_path(path, read)
    allow_path("/dev/null", read | WRITE_FILE | TRUNCATE)
    # The grader container's own /dev/shm: POSIX semaphores (joblib, multiprocessing).
    allow_path("/dev/shm", handled_fs)
    for path in rw:
        allow_path(path, handled_fs)
    if handled_net:
        for port in bind:
            allow_port(port, NET_BIND_TCP)
        for port in connect:
            allow_port(port, NET_CONNECT_TCP)
    libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
    syscall(SYS_LANDLOCK_RESTRICT_SELF, ctypes.c_int(ruleset), ctypes.c_uint32(0))
    os.close(ruleset)
    install_socket_filter()
    try:
        os.execvp(cmd[0], cmd)
    except OSError as e:
        fail(f"cannot run {cmd[0]!r}: {e.strerror}")


if __name__ == "__main__":
    main()
