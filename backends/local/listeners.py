"""Which processes listen on a TCP port, asked of the kernel's sock_diag (Linux).

A deploy checks that the release it started is the process listening on its port,
and ``status`` checks it again. psutil answers through ``/proc/net/tcp`` and
``tcp6``, which the kernel builds by walking its whole table of connections: 3.4 ms
a file on this 24 GB machine with six sockets open, 8 ms a check. sock_diag
(``NETLINK_SOCK_DIAG``, what ``ss`` uses) is asked for listening sockets only, a
small table, and a check costs well under a millisecond. Where it cannot be asked
(not Linux, a kernel without it, a sandbox that refuses netlink) the answer is None
and the caller asks psutil.
"""

from __future__ import annotations

import os
import socket
import struct
import sys

_NETLINK_SOCK_DIAG = 4
_SOCK_DIAG_BY_FAMILY = 20
_NLM_F_REQUEST, _NLM_F_DUMP = 0x1, 0x300
_NLMSG_ERROR, _NLMSG_DONE = 2, 3
_TCP_LISTEN = 10
_HEADER = struct.Struct("=IHHII")  # nlmsghdr: len, type, flags, seq, pid
# inet_diag_req_v2 is family, protocol, ext, pad, states, then an inet_diag_sockid:
# sport, dport (big-endian), src[4], dst[4], if, cookie[2]; 48 bytes, all 0 here
_SOCKID = 48
# inet_diag_msg: family, state, timer, retrans, id (48 bytes), expires, rqueue, wqueue, uid, inode
_MESSAGE = struct.Struct("=BBBB2s46sIIIII")


def listening_inodes(port: int) -> set[int] | None:
    """The inodes of the TCP sockets (IPv4 and IPv6) listening on ``port``; None when
    the kernel cannot be asked this way."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        with socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, _NETLINK_SOCK_DIAG) as sock:
            sock.settimeout(2.0)
            found: set[int] = set()
            for seq, family in enumerate((socket.AF_INET, socket.AF_INET6), 1):
                found |= _dump(sock, seq, family, port)
            return found
    except (OSError, struct.error, ValueError):
        return None


def _dump(sock: socket.socket, seq: int, family: int, port: int) -> set[int]:
    body = struct.pack("=BBBBI", family, socket.IPPROTO_TCP, 0, 0, 1 << _TCP_LISTEN)
    body += bytes(_SOCKID)  # no id: every listening socket of the family
    flags = _NLM_F_REQUEST | _NLM_F_DUMP
    sock.send(_HEADER.pack(_HEADER.size + len(body), _SOCK_DIAG_BY_FAMILY, flags, seq, 0) + body)
    wanted = struct.pack(">H", port)
    found: set[int] = set()
    while True:
        data = sock.recv(1 << 16)
        if not data:
            raise ValueError("netlink closed")
        offset = 0
        while offset + _HEADER.size <= len(data):
            length, kind, _flags, got_seq, _pid = _HEADER.unpack_from(data, offset)
            if length < _HEADER.size:
                raise ValueError("bad netlink message")
            if got_seq == seq:
                if kind == _NLMSG_DONE:
                    return found
                if kind == _NLMSG_ERROR:
                    (code,) = struct.unpack_from("=i", data, offset + _HEADER.size)
                    raise OSError(-code, os.strerror(-code))
                if kind == _SOCK_DIAG_BY_FAMILY:
                    fields = _MESSAGE.unpack_from(data, offset + _HEADER.size)
                    sport, inode = fields[4], fields[-1]
                    if sport == wanted and fields[1] == _TCP_LISTEN:
                        found.add(inode)
            offset += (length + 3) & ~3  # NLMSG_ALIGN


def socket_inodes(pid: int) -> set[int] | None:
    """The inodes of the sockets ``pid`` has open: none when it is gone, None when its
    fds may not be read (another user's process)."""
    fd_dir = f"/proc/{pid}/fd"
    try:
        names = os.listdir(fd_dir)
    except PermissionError:
        return None
    except OSError:
        return set()
    inodes: set[int] = set()
    for name in names:
        try:
            link = os.readlink(f"{fd_dir}/{name}")
        except OSError:
            continue  # closed meanwhile
        if link.startswith("socket:["):
            inodes.add(int(link[8:-1]))
    return inodes
