"""Run a service with its output masked and rotated on the way to its log files.

``python -I -S backends/mask_relay.py OUT ERR [--rotate=BYTES:FILES] NAME... -- COMMAND...``

A local service outlives shipdeck, so its output cannot pass through shipdeck's
own masker: this relay leads the service's process group, starts the command
with pipes, and writes each line to OUT or ERR with the values of the named
environment variables (the environment's ``secrets``; ``NAME:password``, the password
of the URL in NAME, as an ``env:`` URL's) masked, as every run log is. With
``--rotate``, a file that would grow past BYTES is renamed to ``OUT.1`` (``OUT.1`` to
``OUT.2``, ... keeping FILES files in all) between two lines, and a new OUT is begun:
a follower finds the rest of the file it read at ``OUT.1``
(``backends.local.supervise.Follower``). It forwards SIGTERM/SIGINT to the command
and exits with its exit code, so the relay is alive exactly while the service is.
"""

from __future__ import annotations

# Only what starting the command needs is imported before it starts (os and sys are
# loaded with the interpreter): the rest, the masker most of all (~15 ms), loads while
# the service starts up, not before it.
import _signal  # the C module: ``signal`` wraps it in enums, ~4 ms to import
import os
import sys

PASSWORD_OF = ":password"  # NAME:password masks the password of the URL in NAME, not all of it

TYPE_CHECKING = False  # typing itself is ~3 ms to import; mypy reads the name all the same
if TYPE_CHECKING:
    from shipdeck.lifecycle.masking import SecretMasker

if __name__ == "__main__":
    # Run by path with -I -S: neither the service's PYTHONPATH nor site-packages is on
    # the path, so the directory holding the ``shipdeck`` package is put there (the
    # path shipdeck gave, unresolved: site-packages, or a checkout's root).
    here = os.path.abspath(__file__)
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(here))))

_LINE = 1 << 16  # a longer line is read in blocks, a secret across two masked whole
# How the relay's interpreter is started: isolated from the service's environment, and
# without site (the relay needs the standard library and this package only, which the
# path above finds): 20 ms less before the service itself starts, as the step guard.
FLAGS = ("-I", "-S")


def rotated(path: str | os.PathLike[str], n: int) -> str:
    """The ``n``-th older file of ``path`` (``service.log.1``); 0 is ``path`` itself."""
    return f"{os.fspath(path)}.{n}" if n else os.fspath(path)


def rotate(path: str | os.PathLike[str], files: int) -> None:
    """``path.(files-2)`` -> ``path.(files-1)`` ... ``path`` -> ``path.1``; the oldest goes.

    Renames, never copies: a reader holding the old file's inode finds it under its
    new name. ``files`` 1 keeps no older file (``path`` is removed)."""
    if files <= 1:
        if os.path.exists(rotated(path, 0)):
            os.unlink(rotated(path, 0))
        return
    for n in range(files - 2, -1, -1):
        src = rotated(path, n)
        if os.path.exists(src):
            os.replace(src, rotated(path, n + 1))


class RotatingFile:
    """An append-only file that is rotated before a write would take it past ``limit``
    bytes (``limit`` 0: never). Lines are written whole, so no line is split."""

    def __init__(self, path: str, limit: int = 0, files: int = 3) -> None:
        self.path, self.limit, self.files = path, limit, files
        self._fh = open(path, "ab", buffering=0)  # noqa: SIM115 - closed in close()/rotation
        self.size = self._fh.tell()

    def write(self, data: bytes) -> None:
        if self.limit and self.size and self.size + len(data) > self.limit:
            self._fh.close()  # closed before the rename: the renamed file is complete
            rotate(self.path, self.files)
            self._fh = open(self.path, "ab", buffering=0)  # noqa: SIM115
            self.size = 0
        self._fh.write(data)
        self.size += len(data)

    def close(self) -> None:
        self._fh.close()


def _pump(source: int, out: RotatingFile, masker: SecretMasker | None) -> None:
    """Copy ``source`` to ``out`` line by line, masked (None: there is nothing to mask).
    A line longer than a block is masked piece by piece, each piece keeping back the
    tail a secret may go on from (a secret at column 65,535 was written in two halves),
    decoded as one text (a character cut by a block's end is whole again)."""
    try:
        with open(source, "rb") as pipe:
            if masker is None:
                for raw in iter(lambda: pipe.readline(_LINE), b""):
                    out.write(raw)
                return
            import codecs

            decoder = codecs.getincrementaldecoder("utf-8")("surrogateescape")
            rest = ""
            for raw in iter(lambda: pipe.readline(_LINE), b""):
                text = rest + decoder.decode(raw)
                if raw.endswith(b"\n"):
                    done, rest = masker.mask(text), ""
                else:
                    done, rest = masker.mask_piece(text)
                out.write(done.encode("utf-8", "surrogateescape"))
            rest += decoder.decode(b"", final=True)
            if rest:
                out.write(masker.mask(rest).encode("utf-8", "surrogateescape"))
    finally:
        out.close()


def _rotation(arg: str) -> tuple[int, int]:
    """``--rotate=10485760:3`` -> (10485760, 3)."""
    size, _, files = arg.partition("=")[2].partition(":")
    return int(size), max(1, int(files or 3))


def _start(command: list[str]) -> tuple[int, int, int]:
    """The command, on its way before anything else loads: (pid, stdout, stderr) read ends.

    As ``subprocess.Popen`` would start it (stdin from /dev/null, SIGPIPE and SIGXFSZ
    back to their defaults), without importing subprocess (~10 ms with its imports)."""
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    try:
        pid = os.posix_spawnp(
            command[0],
            command,
            os.environ,
            file_actions=[
                (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
                (os.POSIX_SPAWN_DUP2, out_w, 1),
                (os.POSIX_SPAWN_DUP2, err_w, 2),
            ],
            setsigdef=(_signal.SIGPIPE, _signal.SIGXFSZ),
        )
    finally:
        os.close(out_w)  # the pipes end when the command's processes are gone
        os.close(err_w)
    return pid, out_r, err_r


GO = b"go\n"  # what a held start reads on its stdin once shipdeck has recorded it


def main(argv: list[str]) -> int:
    if "--" not in argv or len(argv) < 4:
        sys.stderr.write(
            "usage: mask_relay OUT ERR [--rotate=BYTES:FILES] [--held] NAME... -- COMMAND...\n"
        )
        return 2
    split = argv.index("--")
    out, err, names, command = argv[0], argv[1], argv[2:split], argv[split + 1 :]
    limit, files = 0, 3
    if names and names[0].startswith("--rotate="):
        limit, files = _rotation(names.pop(0))
    if names and names[0] == "--held":
        names.pop(0)
        # The command starts once shipdeck has recorded this relay (its pid, its group):
        # shipdeck killed before that closes the pipe, and nothing starts that no record
        # names (it had run on, holding the port, unknown to every later command).
        if os.read(0, len(GO)) != GO:
            return 0
        null = os.open(os.devnull, os.O_RDONLY)  # stdin as Popen would have made it
        os.dup2(null, 0)
        os.close(null)
    try:
        pid, out_r, err_r = _start(command)
    except OSError as exc:
        sys.stderr.write(f"mask_relay: cannot run {command[0]}: {exc.strerror or exc}\n")
        return 127
    reaped: list[int] = []

    def forward(signum: int, _frame: object) -> None:
        if reaped:
            return  # a reaped pid may belong to someone else by now
        try:  # noqa: SIM105 - in place before contextlib (or anything) loads
            os.kill(pid, signum)
        except ProcessLookupError:
            pass  # reaped just as the signal came: a SIGTERM to the group ends both at once

    for sig in (_signal.SIGTERM, _signal.SIGINT, _signal.SIGHUP):
        _signal.signal(sig, forward)
    import threading  # the command runs: the rest of the relay loads meanwhile

    masker = _masker(names)
    pumps = [
        threading.Thread(
            target=_pump, args=(pipe, RotatingFile(path, limit, files), masker), daemon=True
        )
        for pipe, path in ((out_r, out), (err_r, err))
    ]
    for pump in pumps:
        pump.start()
    status = os.waitpid(pid, 0)[1]
    reaped.append(pid)
    for pump in pumps:
        pump.join(timeout=2)
    code = os.waitstatus_to_exitcode(status)
    return code if code >= 0 else 128 - code


def _masker(names: list[str]) -> SecretMasker | None:
    """The masker of the named variables' values (``NAME:password``: only the password of
    the URL that NAME holds); None when none has a value, and then the masker (~10 ms of
    imports, a third of the relay's CPU) is not loaded at all."""
    values = {n: os.environ[n.removesuffix(PASSWORD_OF)] for n in names
              if os.environ.get(n.removesuffix(PASSWORD_OF))}  # fmt: skip
    if not values:
        return None
    from shipdeck.lifecycle.masking import SecretMasker, url_password

    for name in [n for n in values if n.endswith(PASSWORD_OF)]:
        password = url_password(values.pop(name))
        if password:
            values[name] = password
    return SecretMasker(values)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
