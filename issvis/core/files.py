"""Writing files so that a reader never sees half of one, and a fault leaves nothing behind.

One writer for every output of issvis (records, CSV, figures, PNG, MP4, GLB, assets): a
temporary file beside the target, created exclusively (``O_CREAT | O_EXCL | O_NOFOLLOW``: a file
or a symlink planted at its name is never opened) under an unpredictable name, then one rename
(``os.replace`` is atomic on POSIX within a directory). ``all_or_none()`` holds the renames of
several outputs (a video and its poster, a record and its CSV) until all are written.

Temporary names are hidden and recognisable, ``.issvis-PID-TOKEN.NAME`` (the target's name at
the end, so matplotlib, Pillow and ffmpeg choose the format by its suffix); work folders live in
the system's temporary directory as ``issvis-PID-KIND-TOKEN``. A process killed with SIGKILL
cannot remove its own: the next write into the same folder (or the next work folder) removes those
whose process is gone (``clean_stale``). ``terminate_unwinds()`` turns SIGTERM into an exception,
so that the cleanup of a terminated command runs as after Ctrl-C.

``check_output`` looks at an output path before any work (its folder exists or can be made, is a
folder, is writable, has room; the path is not a folder); ``is_disk_error`` says which ``OSError``
is the user's disk (full, read-only, ...) rather than a bug. Standard library only.
"""

from __future__ import annotations

import contextvars
import errno
import os
import re
import secrets
import shutil
import signal
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import IO, Any

from .errors import InputError

#: Hidden prefix of every temporary file issvis writes beside an output.
TEMP_PREFIX = ".issvis-"
#: Prefix of issvis's work folders in the system temporary directory.
WORK_PREFIX = "issvis-"
_TEMP_RE = re.compile(r"^\.issvis-(\d+)-([0-9a-f]{8})\..+$")
_WORK_RE = re.compile(r"^issvis-(\d+)-([a-z]+)-([0-9a-f]{8})$")
#: The longest tail of the target's name kept in a temporary name, bytes: with the prefix it
#: stays under the usual 255-byte limit of one name, whatever the target's length.
_TAIL_BYTES = 200

STALE_AFTER_S = 60.0
"""A partial of a dead process is removed only once nothing in it has changed for this long, s:
a PID from another PID namespace (a container sharing the folder) looks dead here, but its writer
touches the file at least every few seconds while it works."""

#: errno values that mean the user's disk or file system said no (full, read-only, permissions,
#: a file where a folder should be, a name too long): bad input, exit 2, never a bug.
DISK_ERRNOS = frozenset(getattr(errno, name) for name in (
    "ENOSPC", "EDQUOT", "EFBIG", "EACCES", "EPERM", "EROFS", "ENOTDIR", "EISDIR", "EEXIST",
    "ENAMETOOLONG", "ELOOP", "EMLINK", "EIO", "EBUSY", "ETXTBSY") if hasattr(errno, name))


class OutputPathError(InputError, OSError):
    """An output path that cannot be written (found before the work); the message says why."""


def is_disk_error(exc: BaseException) -> bool:
    """Whether exc is an OSError of the user's disk (DISK_ERRNOS), not a bug in issvis."""
    return isinstance(exc, OSError) and exc.errno in DISK_ERRNOS


def disk_error_line(exc: BaseException) -> str:
    """'PATH: No space left on device' for a disk OSError (the output it was writing, when known)."""
    if not isinstance(exc, OSError):
        return str(exc)
    what = exc.strerror or os.strerror(exc.errno or 0)
    name = exc.filename
    if name is not None:
        name = os.fsdecode(name)
        target = target_of_temporary(Path(name))
        name = str(target) if target is not None else name
        return f"{name}: {what}"
    return what


def os_error_in_text(text: str, filename: str | Path | None = None) -> OSError | None:
    """The disk OSError a tool's message reports (ffmpeg prints the C library's strerror), or None."""
    for code in sorted(DISK_ERRNOS):
        if os.strerror(code) in text:
            return OSError(code, os.strerror(code), None if filename is None else str(filename))
    return None


# --- names ---------------------------------------------------------------------------------
def _token() -> str:
    """Eight random hex digits: a temporary name nobody can guess."""
    return secrets.token_hex(4)


def _tail(name: str) -> str:
    while len(name.encode("utf-8", "surrogateescape")) > _TAIL_BYTES:
        name = name[1:]
    return name


def target_of_temporary(path: Path) -> Path | None:
    """The output a temporary name of this module stands for (its folder, the name's tail), or None."""
    m = _TEMP_RE.match(path.name)
    if m is None:
        return None
    return path.with_name(path.name[len(TEMP_PREFIX) + len(m.group(1)) + 1 + 8 + 1:])


def _create_exclusive(folder: Path, name: str) -> tuple[int, Path]:
    """(fd, path) of a new empty file ``.issvis-PID-TOKEN.name`` in folder, made with O_EXCL."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    for _ in range(100):
        path = folder / f"{TEMP_PREFIX}{os.getpid()}-{_token()}.{_tail(name)}"
        try:
            # 0o666 less the umask: the output gets the permissions a plain open() would give it
            return os.open(path, flags, 0o666), path
        except FileExistsError:
            continue
    raise FileExistsError(errno.EEXIST, "no free temporary name", str(folder / name))


# --- stale partials ------------------------------------------------------------------------
def pid_alive(pid: int) -> bool:
    """Whether a process with this PID exists (another user's counts as alive)."""
    if pid <= 0:
        return False
    with suppress(OSError, IndexError):  # Linux: a zombie has ended (nobody reaped it yet)
        if Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] in ("Z", "X"):
            return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return True
    return True


def _newest_mtime(path: Path, st: os.stat_result) -> float:
    newest = st.st_mtime
    if path.is_dir():
        with suppress(OSError), os.scandir(path) as entries:
            for entry in entries:
                with suppress(OSError):
                    newest = max(newest, entry.stat(follow_symlinks=False).st_mtime)
    return newest


def _stale(path: Path, pid: int, now: float) -> bool:
    try:
        st = path.lstat()
    except OSError:
        return False
    import stat as stat_

    if not (stat_.S_ISREG(st.st_mode) or stat_.S_ISDIR(st.st_mode)):
        return False  # a symlink, a FIFO, ...: not something issvis made
    if hasattr(os, "getuid") and st.st_uid != os.getuid():
        return False
    if pid == os.getpid() or pid_alive(pid):
        return False
    return now - _newest_mtime(path, st) > STALE_AFTER_S


def clean_stale(folder: str | Path, *, work: bool = False) -> list[Path]:
    """Remove what killed issvis processes left in folder; returns what was removed.

    Only entries named as this module names them (``.issvis-PID-TOKEN.NAME`` files, or with
    ``work`` the ``issvis-PID-KIND-TOKEN`` folders) whose PID is not a live process, owned by this
    user, not symlinks, and unchanged for ``STALE_AFTER_S``; anything else is never touched.
    """
    folder = Path(folder)
    pattern = _WORK_RE if work else _TEMP_RE
    removed: list[Path] = []
    now = time.time()
    try:
        names = os.listdir(folder)
    except OSError:
        return removed
    for name in names:
        m = pattern.match(name)
        if m is None:
            continue
        path = folder / name
        if not _stale(path, int(m.group(1)), now):
            continue
        try:
            if path.is_dir() and not path.is_symlink():
                if not work:
                    continue  # temporary *files* only beside outputs
                shutil.rmtree(path)
            else:
                path.unlink()
            removed.append(path)
        except OSError:
            pass
    return removed


_cleaned: set[str] = set()


def _clean_once(folder: Path) -> None:
    key = os.path.abspath(folder)
    if key not in _cleaned:
        _cleaned.add(key)
        clean_stale(folder)


# --- the writer ----------------------------------------------------------------------------
_group: contextvars.ContextVar[list[tuple[Path, Path]] | None] = contextvars.ContextVar("issvis_group", default=None)


def _remove(path: Path) -> None:
    with suppress(OSError):  # a failing cleanup must not hide the error that caused it
        path.unlink()


def _name_target(exc: OSError, tmp: Path, target: Path) -> None:
    """Make an OSError about the temporary file name the output instead."""
    if exc.filename is None or os.fsdecode(exc.filename) == str(tmp):
        exc.filename = str(target)
        exc.filename2 = None


def _commit(pairs: list[tuple[Path, Path]]) -> None:
    """Rename each temporary onto its target; if one fails, the outputs already renamed by this
    call are removed again (all or none) and the remaining temporaries too."""
    done: list[Path] = []
    try:
        for tmp, target in pairs:
            try:
                os.replace(tmp, target)
            except OSError as exc:
                _name_target(exc, tmp, target)
                raise
            done.append(target)
    except BaseException:
        for target in done:
            _remove(target)
        for tmp, _ in pairs:
            _remove(tmp)
        raise


@contextmanager
def _temporary(path: str | Path) -> Iterator[tuple[int, Path, Path]]:
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    _clean_once(target.parent)
    fd, tmp = _create_exclusive(target.parent, target.name)
    group = _group.get()
    try:
        try:
            yield fd, tmp, target
        except OSError as exc:
            _name_target(exc, tmp, target)
            raise
        if group is not None:
            group.append((tmp, target))
        else:
            _commit([(tmp, target)])
    except BaseException:
        _remove(tmp)
        raise


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path to write; on success it replaces path, on any error it is removed.

    The temporary file exists (empty, made exclusively) when yielded; a tool that writes by name
    (matplotlib, Pillow, ffmpeg) overwrites it. The parent directory is created.
    ``with atomic_path(out) as tmp: fig.savefig(tmp)``.
    """
    with _temporary(path) as (fd, tmp, _):
        os.close(fd)
        yield tmp


@contextmanager
def atomic_open(path: str | Path, mode: str = "wb", **kwargs: Any) -> Iterator[IO[Any]]:
    """Yield a file object on a new temporary file; on success it replaces path (see atomic_path).
    The file is opened once, exclusively, and never reopened by name."""
    with _temporary(path) as (fd, _tmp, _):
        with os.fdopen(fd, mode, **kwargs) as fh:
            yield fh


@contextmanager
def all_or_none() -> Iterator[None]:
    """Hold the renames of every atomic write inside the block until it ends: all the outputs
    appear together, or (on any error) none does and every temporary is removed."""
    outer = _group.get()
    if outer is not None:  # nested: the outer block decides
        yield
        return
    pairs: list[tuple[Path, Path]] = []
    token = _group.set(pairs)
    try:
        yield
    except BaseException:
        for tmp, _ in pairs:
            _remove(tmp)
        raise
    finally:
        _group.reset(token)
    _commit(pairs)


def write_bytes_atomic(path: str | Path, data: bytes) -> None:
    with atomic_open(path, "wb") as fh:
        fh.write(data)


def write_text_atomic(path: str | Path, text: str) -> None:
    with atomic_open(path, "w", encoding="utf-8") as fh:
        fh.write(text)


# --- work folders --------------------------------------------------------------------------
def make_work_folder(kind: str) -> Path:
    """A new private folder ``issvis-PID-KIND-TOKEN`` in the system temporary directory (stale ones
    of killed processes removed first); the caller removes it (``remove_work_folder``)."""
    if not re.fullmatch(r"[a-z]+", kind):
        raise ValueError(f"work folder kind {kind!r}: expected lowercase letters")
    base = Path(tempfile.gettempdir())
    clean_stale(base, work=True)
    for _ in range(100):
        path = base / f"{WORK_PREFIX}{os.getpid()}-{kind}-{_token()}"
        try:
            os.mkdir(path, 0o700)
            return path
        except FileExistsError:
            continue
    raise FileExistsError(errno.EEXIST, "no free work folder name", str(base))


def remove_work_folder(path: str | Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


@contextmanager
def work_folder(kind: str) -> Iterator[Path]:
    """``make_work_folder(kind)``, removed with everything in it when the block ends."""
    path = make_work_folder(kind)
    try:
        yield path
    finally:
        remove_work_folder(path)


# --- checks before the work ----------------------------------------------------------------
def check_output(path: str | Path, option: str = "-o", *, folder: bool = False) -> None:
    """OutputPathError unless path can be written: not a folder (``folder``: not a file), its
    nearest existing ancestor a folder this process may write in, with room, and its name not
    longer than the file system allows. Nothing is created."""
    path = Path(path)
    shown = f"{option} {path}"
    for part in path.parts:  # first: a name too long cannot even be looked at
        if len(os.fsencode(part)) > 255:
            raise OutputPathError(f"{shown}: a name longer than 255 bytes")
    if not folder and path.is_dir():
        raise OutputPathError(f"{shown}: is a directory")
    if folder and path.exists() and not path.is_dir():
        raise OutputPathError(f"{shown}: is a file, not a folder")
    ancestor = path.parent if not folder else path
    while not ancestor.exists() and not ancestor.is_symlink():
        if ancestor.parent == ancestor:
            break
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise OutputPathError(f"{shown}: {ancestor} is a file, not a folder")
    try:
        name_max = os.pathconf(ancestor, "PC_NAME_MAX")
    except (OSError, ValueError, AttributeError):
        name_max = 255
    parts = path.parts if path.is_absolute() else path.resolve().parts
    for part in parts:
        if len(os.fsencode(part)) > name_max:
            raise OutputPathError(f"{shown}: a name longer than {name_max} bytes")
    try:
        st = os.statvfs(ancestor)
    except (OSError, AttributeError):
        st = None
    if st is not None and st.f_flag & getattr(os, "ST_RDONLY", 1):
        raise OutputPathError(f"{shown}: {ancestor} is on a read-only file system")
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise OutputPathError(f"{shown}: no permission to write in {ancestor}")
    # blocks this process may use: root may also fill the ones kept back for it
    free = None if st is None else st.f_bfree if getattr(os, "geteuid", lambda: 1)() == 0 else st.f_bavail
    if free == 0:
        raise OutputPathError(f"{shown}: no space left on the device of {ancestor}")


# --- SIGTERM -------------------------------------------------------------------------------
class _Terminated(SystemExit):
    """SIGTERM, raised where the process was so that every cleanup on the way out runs."""


@contextmanager
def terminate_unwinds() -> Iterator[None]:
    """Inside the block SIGTERM raises SystemExit(143), like Ctrl-C's KeyboardInterrupt, so that
    temporary files and folders are removed; the previous handler is restored after. Only in the
    main thread (a signal handler can be installed nowhere else); nested blocks are no-ops."""
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.getsignal(signal.SIGTERM)
    if getattr(previous, "_issvis_unwinds", False):
        yield
        return

    def _raise(signum: int, frame: Any) -> None:
        raise _Terminated(128 + signum)

    _raise._issvis_unwinds = True  # type: ignore[attr-defined]
    signal.signal(signal.SIGTERM, _raise)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous if previous is not None else signal.SIG_DFL)
