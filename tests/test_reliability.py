"""What the disk and the operating system can do to a command (issue 21, sections 2 and 4).

Bad outputs (a read-only folder, a full disk, a file where a folder should be, a folder where a
file should be, a name too long, odd characters) end in one line and exit 2, found before the work
where they can be; a command's outputs appear together or not at all; temporary files are made
exclusively under names nobody can guess; SIGTERM and SIGKILL leave no process, folder or partial
behind (what SIGKILL leaves is removed by the next run). Renders here are tiny (64x36, a second or
a few) and marked slow.
"""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from issvis.cli import main

ROOT = Path(__file__).resolve().parents[1]
SHORT = ["--set", "scene.duration_s=30"]  # a scene that simulates in a fraction of a second
TINY = ["--preview", "--size", "64x36", "--fps", "5", "--no-progress"]
#: Bounded waits of the process tests, s: far above what they take (a few seconds), so that only
#: a process that never ends fails them.
WAIT_S = 60.0


def _cli_env(tmpdir: Path | None = None) -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    if tmpdir is not None:
        env["TMPDIR"] = str(tmpdir)
    return env


def _one_line_exit_2(code: int, err: str, *fragments: str) -> None:
    assert code == 2, err
    assert "Traceback" not in err, err
    lines = [line for line in err.strip().splitlines() if line.strip()]
    assert len(lines) == 1, err
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def _dead_pid() -> int:
    """The PID of a process that has ended (and been reaped)."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def _only(folder: Path, *names: str) -> None:
    """folder holds exactly these names (no output, no temporary, hidden or not)."""
    assert sorted(p.name for p in folder.iterdir()) == sorted(names), sorted(p.name for p in folder.iterdir())


@pytest.fixture(scope="module")
def record_path(undock_300_path) -> Path:
    """The default scene for 300 s, as a record file (conftest's session fixture)."""
    return undock_300_path

@pytest.fixture()
def private_tmp(tmp_path, monkeypatch) -> Path:
    """A system temporary directory of this test's own (work folders land there)."""
    import tempfile

    folder = tmp_path / "systmp"
    folder.mkdir()
    monkeypatch.setenv("TMPDIR", str(folder))
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def _mount_tmpfs(where: Path, options: str) -> None:
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    where.mkdir(parents=True, exist_ok=True)
    run = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(where)], capture_output=True, text=True)
    if run.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {run.stderr.strip()}")


def _umount(where: Path) -> None:
    subprocess.run(["umount", "-l", str(where)], capture_output=True)


@pytest.fixture()
def read_only(tmp_path):
    """A folder this process cannot write in: a read-only tmpfs as root (root ignores permissions),
    else a folder without write permission."""
    folder = tmp_path / "ro"
    if os.geteuid() == 0:
        _mount_tmpfs(folder, "ro,size=64k")
        yield folder
        _umount(folder)
    else:
        folder.mkdir()
        folder.chmod(0o555)
        yield folder
        folder.chmod(0o755)


@pytest.fixture()
def full_disk(tmp_path):
    """A 1 MiB tmpfs filled up to ``room`` bytes: ``full_disk(room)`` returns the folder."""
    folder = tmp_path / "full"
    _mount_tmpfs(folder, "size=1m")

    def fill(room: int) -> Path:
        st = os.statvfs(folder)
        left = max(0, st.f_bavail * st.f_frsize - room)
        with open(folder / "filler", "wb", buffering=0) as fh:
            while left > 0:
                try:
                    left -= fh.write(b"\0" * min(left, 65536))
                except OSError as exc:  # full a little early: as full as asked
                    assert exc.errno == errno.ENOSPC
                    break
        return folder

    yield fill
    _umount(folder)


# --- 2. the file system's answers: before the work, one line, exit 2 ------------------------------
def _outputs_cases():
    """(name, argv builder (record path, a bad folder, a file) -> argv, fragment of the message)."""
    return [
        ("simulate -o", lambda r, d, f: ["simulate", "undock", "-o", str(d / "x.npz"), *SHORT]),
        ("simulate --csv", lambda r, d, f: ["simulate", "undock", "-o", str(f.parent / "ok.npz"), "--csv",
                                            str(d / "x.csv"), *SHORT]),
        ("render -o", lambda r, d, f: ["render", str(r), "-o", str(d / "x.mp4"), *TINY, "--seconds", "1"]),
        ("render --still", lambda r, d, f: ["render", str(r), "-o", str(d / "x.png"), *TINY, "--still", "0.5"]),
        ("export -o", lambda r, d, f: ["export", str(r), "-o", str(d / "x.glb")]),
        ("plot -o", lambda r, d, f: ["plot", str(r), "-o", str(d / "x.png")]),
        ("decay -o", lambda r, d, f: ["decay", "undock", "-o", str(d / "x.png"), "--atmosphere", "exponential"]),
        ("sweep -o", lambda r, d, f: ["sweep", "undock", "--vary", "separation.0.delta_v_mps=0.1:0.2:1", "-o",
                                      str(d / "x.csv"), "--plot", str(f.parent / "ok.png"), *SHORT]),
        ("sweep --plot", lambda r, d, f: ["sweep", "undock", "--vary", "separation.0.delta_v_mps=0.1:0.2:1", "-o",
                                          str(f.parent / "ok.csv"), "--plot", str(d / "x.png"), *SHORT]),
        ("assets -o", lambda r, d, f: ["assets", "-o", str(d / "assets")]),
    ]


OUTPUT_CASES = _outputs_cases()


@pytest.mark.parametrize("case", OUTPUT_CASES, ids=[c[0] for c in OUTPUT_CASES])
def test_an_output_in_a_read_only_folder_is_refused_before_the_work(case, read_only, tmp_path, record_path,
                                                                     capsys):
    other = tmp_path / "other"
    other.mkdir()
    start = time.perf_counter()
    code = main(case[1](record_path, read_only, other / "f"))
    _one_line_exit_2(code, capsys.readouterr().err, str(read_only))
    assert time.perf_counter() - start < 5.0, "refused only after the work"
    _only(other)
    assert list(read_only.iterdir()) == []


@pytest.mark.parametrize("case", OUTPUT_CASES, ids=[c[0] for c in OUTPUT_CASES])
def test_an_output_under_a_file_is_refused_before_the_work(case, tmp_path, record_path, capsys):
    other = tmp_path / "other"
    other.mkdir()
    a_file = tmp_path / "notes.txt"
    a_file.write_text("a file, not a folder\n")
    code = main(case[1](record_path, a_file, other / "f"))
    _one_line_exit_2(code, capsys.readouterr().err, "is a file, not a folder")
    _only(other)
    assert a_file.read_text() == "a file, not a folder\n"


@pytest.mark.parametrize("argv, fragment", [
    (lambda d, r: ["simulate", "undock", "-o", str(d / "x.npz"), *SHORT], "is a directory"),
    (lambda d, r: ["export", str(r), "-o", str(d / "x.glb")], "is a directory"),
    (lambda d, r: ["render", str(r), "-o", str(d / "x.mp4"), *TINY, "--seconds", "1"], "is a directory"),
    (lambda d, r: ["render", str(r), "-o", str(d / "y.mp4"), *TINY, "--seconds", "1"], "poster"),
    (lambda d, r: ["assets", "-o", str(d / "x.npz")], "is a file, not a folder"),
    (lambda d, r: ["simulate", "undock", "-o", str(d / ("n" * 300 + ".npz")), *SHORT], "longer than"),
], ids=["simulate", "export", "render", "poster", "assets", "name too long"])
def test_an_output_that_is_a_folder_or_cannot_be_named_is_refused_before_the_work(argv, fragment, tmp_path,
                                                                                    record_path, capsys):
    for name in ("x.npz", "x.glb", "x.mp4", "y.poster.png"):
        (tmp_path / name).mkdir()
    start = time.perf_counter()
    if "assets" in argv(tmp_path, record_path):
        (tmp_path / "x.npz").rmdir()
        (tmp_path / "x.npz").write_text("a file\n")
    code = main(argv(tmp_path, record_path))
    _one_line_exit_2(code, capsys.readouterr().err, fragment)
    assert time.perf_counter() - start < 5.0, "refused only after the work"
    assert not (tmp_path / "y.mp4").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


@pytest.mark.parametrize("code", ["ENOSPC", "EDQUOT", "EFBIG", "EACCES", "EROFS", "ENOTDIR", "EISDIR",
                                  "ENAMETOOLONG", "EIO"])
def test_every_disk_error_while_writing_is_one_line_naming_the_output(code, tmp_path, monkeypatch, capsys):
    """Whatever the disk answers while the record is written (after the checks passed)."""
    import numpy

    number = getattr(errno, code)

    def refuse(*args, **kwargs):
        raise OSError(number, os.strerror(number))

    monkeypatch.setattr(numpy, "savez_compressed", refuse)
    out = tmp_path / "x.npz"
    status = main(["simulate", "undock", "-o", str(out), *SHORT])
    _one_line_exit_2(status, capsys.readouterr().err, str(out), os.strerror(number))
    _only(tmp_path)


def test_an_os_error_that_is_not_the_disk_is_still_a_bug(tmp_path, monkeypatch, capsys):
    import numpy

    def refuse(*args, **kwargs):
        raise ConnectionRefusedError(errno.ECONNREFUSED, "Connection refused")

    monkeypatch.setattr(numpy, "savez_compressed", refuse)
    assert main(["simulate", "undock", "-o", str(tmp_path / "x.npz"), *SHORT]) == 3
    assert "Traceback" in capsys.readouterr().err
    _only(tmp_path)


def test_a_failing_csv_leaves_no_record(tmp_path, monkeypatch, capsys):
    """simulate -o x.npz --csv x.csv: both files or neither, also when the CSV fails after the record."""
    from issvis.record.record import Record

    (tmp_path / "x.npz").write_bytes(b"an older record")

    def full(self, path):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(Record, "to_csv", full)
    status = main(["simulate", "undock", "-o", str(tmp_path / "x.npz"), "--csv", str(tmp_path / "x.csv"), *SHORT])
    _one_line_exit_2(status, capsys.readouterr().err, "No space left on device")
    _only(tmp_path, "x.npz")
    assert (tmp_path / "x.npz").read_bytes() == b"an older record", "the older record stays as it was"


@pytest.mark.slow
def test_a_full_disk_while_writing_a_record_or_its_csv(full_disk, tmp_path, capsys):
    folder = full_disk(64 * 1024)  # room for the checks, not for the record
    status = main(["simulate", "undock", "-o", str(folder / "x.npz")])
    _one_line_exit_2(status, capsys.readouterr().err, str(folder / "x.npz"), "No space left on device")
    _only(folder, "filler")
    ok = tmp_path / "ok"
    status = main(["simulate", "undock", "-o", str(ok / "x.npz"), "--csv", str(folder / "x.csv")])
    _one_line_exit_2(status, capsys.readouterr().err, str(folder / "x.csv"), "No space left on device")
    _only(folder, "filler")
    assert not ok.exists() or list(ok.iterdir()) == [], "no record without its CSV"


def test_a_full_disk_is_refused_before_the_work(full_disk, capsys):
    folder = full_disk(0)
    start = time.perf_counter()
    status = main(["simulate", "undock", "-o", str(folder / "x.npz")])
    _one_line_exit_2(status, capsys.readouterr().err, "no space left")
    assert time.perf_counter() - start < 5.0
    _only(folder, "filler")


# --- renders: odd folder names, a full disk while encoding, the poster ----------------------------
@pytest.mark.slow
@pytest.mark.parametrize("name", ["Bob's clips", "two\nlines: -x"], ids=["apostrophe", "newline"])
def test_a_render_into_a_folder_with_an_odd_name(name, tmp_path, monkeypatch, record_path):
    """The folder of the output and the system's temporary directory both carry the odd name."""
    import tempfile

    odd = tmp_path / name
    (odd / "tmp").mkdir(parents=True)
    monkeypatch.setattr(tempfile, "tempdir", str(odd / "tmp"))
    out = odd / "clip.mp4"
    assert main(["render", str(record_path), "-o", str(out), *TINY, "--seconds", "6"]) == 0
    assert out.stat().st_size > 1000 and (odd / "clip.poster.png").is_file()
    _only(odd, "clip.mp4", "clip.poster.png", "tmp")
    assert list((odd / "tmp").iterdir()) == []


@pytest.mark.slow
@pytest.mark.parametrize("where", ["segments", "video"])
def test_a_full_disk_while_rendering_is_one_line(where, full_disk, tmp_path, monkeypatch, record_path, capsys):
    """Full where the segments are encoded (the system's temporary directory) or where the joined
    video goes: 'No space left on device', not ffmpeg's 'moov atom not found'; nothing left."""
    import tempfile

    folder = full_disk(8 * 1024)
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / "tmp").mkdir(parents=True)
    monkeypatch.setattr(tempfile, "tempdir", str(folder if where == "segments" else elsewhere / "tmp"))
    out = (elsewhere if where == "segments" else folder) / "clip.mp4"
    status = main(["render", str(record_path), "-o", str(out), "--preview", "--size", "320x180", "--fps", "10",
                   "--seconds", "6", "--no-progress"])
    _one_line_exit_2(status, capsys.readouterr().err, "No space left on device")
    _only(folder, "filler")
    _only(elsewhere, "tmp")
    assert list((elsewhere / "tmp").iterdir()) == []


@pytest.mark.slow
def test_a_failing_poster_leaves_no_video(tmp_path, monkeypatch, record_path, capsys):
    from PIL import Image

    def full(self, fp, *args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(Image.Image, "save", full)
    out = tmp_path / "clip.mp4"
    status = main(["render", str(record_path), "-o", str(out), *TINY, "--seconds", "1"])
    _one_line_exit_2(status, capsys.readouterr().err, "clip.poster.png", "No space left on device")
    _only(tmp_path)


# --- temporary names -----------------------------------------------------------------------------
WRITERS = {
    "record": lambda rec, out: rec.save(out.with_suffix(".npz")),
    "csv": lambda rec, out: rec.to_csv(out.with_suffix(".csv")),
    "png": lambda rec, out: __import__("issvis.pictures.video", fromlist=["write_png"]).write_png(
        np.zeros((4, 4, 3), np.uint8), out.with_suffix(".png")),
    "text": lambda rec, out: __import__("issvis.core.files", fromlist=["x"]).write_text_atomic(
        out.with_suffix(".json"), "{}\n"),
}


@pytest.mark.parametrize("writer", list(WRITERS))
def test_a_symlink_planted_at_a_temporary_name_is_not_followed(writer, tmp_path, monkeypatch, record_path):
    """Links planted at the names a writer might choose (the old predictable ones, and the first
    name the random generator gives) point at a victim file: it stays untouched."""
    from issvis.core import files
    from issvis.record.record import Record

    record = Record.load(record_path)
    out = tmp_path / "out"
    tokens = iter(["0badc0de", "1badc0de", "2badc0de"])
    monkeypatch.setattr(files, "_token", lambda: next(tokens))
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    target = out.with_suffix({"record": ".npz", "csv": ".csv", "png": ".png", "text": ".json"}[writer])
    pid = os.getpid()
    for name in (f".{target.stem}.{pid}.tmp{target.suffix}", f".{target.stem}.{pid}.partial{target.suffix}",
                 f".{target.name}.{pid}.tmp", f".issvis-{pid}-0badc0de.{target.name}"):
        (tmp_path / name).symlink_to(victim)
    WRITERS[writer](record, out)
    assert victim.read_text() == "precious\n"
    assert target.is_file() and not target.is_symlink() and target.stat().st_size > 0
    leftovers = [p for p in tmp_path.iterdir() if p.name.startswith(".") and not p.is_symlink()]
    assert leftovers == []


def test_temporary_names_are_hidden_unpredictable_and_carry_the_pid(tmp_path):
    from issvis.core.files import atomic_path, target_of_temporary

    seen = set()
    for _ in range(3):
        with atomic_path(tmp_path / "x.npz") as tmp:
            assert tmp.parent == tmp_path and tmp.name.startswith(f".issvis-{os.getpid()}-") and tmp.suffix == ".npz"
            assert tmp.is_file() and target_of_temporary(tmp) == tmp_path / "x.npz"
            seen.add(tmp.name)
    assert len(seen) == 3
    long_name = "l" * 250 + ".npz"
    with atomic_path(tmp_path / long_name) as tmp:
        assert len(tmp.name.encode()) <= 255 and tmp.suffix == ".npz"
    assert (tmp_path / long_name).is_file()


# --- 4. faults leave nothing behind ---------------------------------------------------------------
def test_stale_partials_of_dead_processes_are_removed_and_nothing_else(tmp_path, private_tmp, record_path):
    from issvis.core import files
    from issvis.record.record import Record

    dead, alive = _dead_pid(), os.getppid()
    old = time.time() - 3600
    out = tmp_path / "out"
    out.mkdir()
    stale = [out / f".issvis-{dead}-0123abcd.x.npz", out / f".issvis-{dead}-89abcdef.clip.mp4"]
    kept = [out / f".issvis-{alive}-0123abcd.x.npz",  # a live process's
            out / f".issvis-{dead}-0123abcd",  # not the pattern (no name)
            out / f".issvis-{dead}-XYZ.x.npz",  # not the pattern (token)
            out / f"issvis-{dead}-0123abcd.x.npz",  # not hidden: someone's file
            out / f".x.{dead}.tmp.npz",  # an older issvis's name: not ours to judge
            out / "x.npz"]
    fresh = out / f".issvis-{dead}-fedcba98.y.npz"  # dead, but written a moment ago
    for p in [*stale, *kept, fresh]:
        p.write_bytes(b"partial")
    for p in [*stale, *kept]:
        os.utime(p, (old, old))
    (out / f".issvis-{dead}-00000000.link.npz").symlink_to(kept[-1])  # a link is never removed
    work_stale = private_tmp / f"issvis-{dead}-render-0123abcd"
    work_kept = [private_tmp / f"issvis-{alive}-render-0123abcd", private_tmp / f"issvis-{dead}-render",
                 private_tmp / "issvis-render-abc123"]  # an older issvis's folder: not ours to judge
    for d in [work_stale, *work_kept]:
        d.mkdir()
        (d / "seg00000.mp4").write_bytes(b"segment")
        for p in (d / "seg00000.mp4", d):
            os.utime(p, (old, old))

    files._cleaned.clear()
    Record.load(record_path).save(out / "z.npz")  # the next write into the folder
    assert not any(p.exists() for p in stale)
    assert all(p.exists() for p in [*kept, fresh])
    assert (out / f".issvis-{dead}-00000000.link.npz").is_symlink()
    with files.work_folder("urdf") as mine:  # the next work folder
        assert mine.parent == private_tmp
    assert not work_stale.exists()
    assert all(d.exists() for d in work_kept)


def _descendants(pid: int) -> set[int]:
    """PIDs of every process below pid (from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def _running(pid: int) -> bool:
    """Whether pid is a process that has not ended (a zombie has ended)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


def _wait_for(condition, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {timeout_s:g} s for {what}")
        time.sleep(0.1)


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads processes from /proc")
def test_sigkill_of_a_render_with_two_workers_leaves_no_process_and_no_folder(tmp_path, private_tmp, record_path):
    from issvis.core import files

    out = tmp_path / "out"
    out.mkdir()
    log = tmp_path / "stderr.txt"
    with open(log, "wb") as err:
        proc = subprocess.Popen([sys.executable, "-m", "issvis.cli", "render", str(record_path), "-o",
                                 str(out / "clip.mp4"), *TINY, "--seconds", "180", "--workers", "2"],
                                env=_cli_env(private_tmp), cwd=tmp_path,
                                stdout=subprocess.DEVNULL, stderr=err)
    seen: set[int] = set()
    try:
        def workers_encoding() -> bool:  # both workers have built their stage and write segments
            assert proc.poll() is None, log.read_text()
            seen.update(_descendants(proc.pid))
            return len([p for p in private_tmp.iterdir() if "-seg-" in p.name]) >= 2

        _wait_for(workers_encoding, WAIT_S, "two workers encoding")
        seen.update(_descendants(proc.pid))
        proc.kill()
        proc.wait(timeout=WAIT_S)
        _wait_for(lambda: not [p for p in seen if _running(p)], WAIT_S, f"processes {sorted(seen)} to end")
    finally:
        for pid in seen:  # this test's own processes, should any have outlived it
            if _running(pid):
                os.kill(pid, signal.SIGKILL)
    assert len(seen) >= 2
    _only(out)  # nothing beside the output: no segment folder, no partial
    # what the killed render left in the system's temporary directory goes with the next run
    old = time.time() - 3600
    for path in private_tmp.rglob("*"):
        os.utime(path, (old, old), follow_symlinks=False)
    for path in private_tmp.iterdir():
        os.utime(path, (old, old))
    files.clean_stale(private_tmp, work=True)
    assert [p.name for p in private_tmp.iterdir()] == []


@pytest.mark.skipif(not hasattr(signal, "SIGTERM"), reason="POSIX signals")
def test_sigterm_mid_simulate_leaves_no_urdf_folder_and_no_record(tmp_path, private_tmp):
    out = tmp_path / "out"
    out.mkdir()
    proc = subprocess.Popen([sys.executable, "-m", "issvis.cli", "simulate", "undock", "--set",
                             "scene.duration_s=20000", "-o", str(out / "x.npz")],
                            env=_cli_env(private_tmp), cwd=tmp_path, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    try:
        _wait_for(lambda: any(p.name.startswith("issvis") for p in private_tmp.iterdir()) or proc.poll() is not None,
                  WAIT_S, "the simulation to start")
        assert proc.poll() is None, "the simulation ended before it could be terminated"
        time.sleep(0.5)
        proc.terminate()
        _, err = proc.communicate(timeout=WAIT_S)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 128 + signal.SIGTERM, err
    assert b"Traceback" not in err, err
    assert list(private_tmp.iterdir()) == []
    _only(out)


@pytest.mark.parametrize("command", ["simulate", "export"])
def test_sigterm_while_an_output_is_written_removes_the_partial(command, tmp_path, monkeypatch, record_path):
    """The signal arrives in the middle of the write (from inside the writer): exit 143, nothing left."""
    from issvis.core import files

    def terminate_now() -> None:
        handler = signal.getsignal(signal.SIGTERM)
        assert handler not in (signal.SIG_DFL, signal.SIG_IGN, None), "SIGTERM would kill the process outright"
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(1.0)  # the handler raises here
        raise AssertionError("SIGTERM did not unwind the command")

    if command == "simulate":
        import numpy

        def savez(fh, **arrays):
            fh.write(b"half a record")
            terminate_now()

        monkeypatch.setattr(numpy, "savez_compressed", savez)
        argv = ["simulate", "undock", "-o", str(tmp_path / "x.npz"), *SHORT]
    else:
        import issvis.pictures.export as export

        def write(path, data):
            with files.atomic_open(path, "wb") as fh:
                fh.write(data[:1000])
                terminate_now()

        monkeypatch.setattr(files, "write_bytes_atomic", write)
        monkeypatch.setattr(export, "write_bytes_atomic", write, raising=False)
        argv = ["export", str(record_path), "-o", str(tmp_path / "x.glb")]
    assert main(argv) == 128 + signal.SIGTERM
    _only(tmp_path)
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL, "the handler is restored after the command"


@pytest.mark.parametrize("failing", ["_create_body", "_load"])
def test_a_simulator_that_fails_while_building_its_world_leaves_no_connection_and_no_folder(
        failing, monkeypatch, private_tmp):
    """A failure inside the constructor (after pybullet connected) releases both pybullet worlds
    and the URDF work folder: nothing is left for a long-lived process (a notebook, a sweep worker)."""
    import pybullet

    from issvis.physics import simulation
    from issvis.scene.schema import load_scene

    connected: list[int] = []
    real_connect = pybullet.connect
    monkeypatch.setattr(pybullet, "connect", lambda *a, **k: connected.append(real_connect(*a, **k)) or connected[-1])

    def broken(*args, **kwargs):
        raise RuntimeError("broken on purpose")

    owner = simulation.Simulator if failing == "_create_body" else simulation.ClearanceProbe
    monkeypatch.setattr(owner, failing, broken)
    with pytest.raises(RuntimeError, match="broken on purpose"):
        simulation.Simulator(load_scene(Path("scenes/undock.toml")))
    assert connected, "the constructor never connected: the test does not reach the code it checks"
    assert [pybullet.getConnectionInfo(physicsClientId=c)["isConnected"] for c in connected] == [0] * len(connected)
    assert not [p for p in private_tmp.iterdir() if "urdf" in p.name]
