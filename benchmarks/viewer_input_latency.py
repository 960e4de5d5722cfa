"""How fast the viewer answers keys while playing on a loaded machine (issue 11).

Run on a display, or without one under Xvfb:

    xvfb-run -a -s "-screen 0 1280x800x24" python benchmarks/viewer_input_latency.py renders/undock.npz

The window plays at 10x while LOAD busy processes (default: twice the CPU count) share the
machine; after 2 s of wall time a burst of keys ('t' twice, 'r' twice, ... as a user pressing
around) is sent as real X key events (XTEST), then 'q'. Reported: the median frame (render) time
of the run, the time from 'q' to the end of the event loop, and their ratio: with the frame
budget the ratio stays near 1-2 (one frame in flight), whatever the load; one render per input
made it the number of queued inputs.

``--gap-s G`` sends the keys one at a time, G s apart (a user pressing keys, not a burst), and
reports for each key the time from its real X event being sent to the end of the frame that shows
it (median and slowest). ``--load 0`` measures on the machine as it is. ``--pacing-ab`` alternates
runs of the window with its pacing as before (a repeating 15 ms tick, a quarter of each render idle
after it) and as it is.
"""

from __future__ import annotations

import argparse
import ctypes
import ctypes.util
import multiprocessing
import os
import time

import numpy as np

from issvis.pictures.viewer import ViewerWindow, check_display
from issvis.record.record import Record

try:
    from viewer_fps import PacedBefore  # run as a script from benchmarks/
except ImportError:  # pragma: no cover - imported from elsewhere
    from benchmarks.viewer_fps import PacedBefore


def _busy(stop) -> None:
    while not stop.is_set():
        sum(i * i for i in range(10_000))


def _key_sender(display: str):
    x11 = ctypes.CDLL(ctypes.util.find_library("X11"))
    xtst = ctypes.CDLL(ctypes.util.find_library("Xtst"))
    x11.XOpenDisplay.restype = ctypes.c_void_p
    x11.XOpenDisplay.argtypes = [ctypes.c_char_p]
    x11.XStringToKeysym.restype = ctypes.c_ulong
    x11.XStringToKeysym.argtypes = [ctypes.c_char_p]
    x11.XKeysymToKeycode.restype = ctypes.c_ubyte
    x11.XKeysymToKeycode.argtypes = [ctypes.c_void_p, ctypes.c_ulong]
    x11.XFlush.argtypes = [ctypes.c_void_p]
    xtst.XTestFakeKeyEvent.argtypes = [ctypes.c_void_p, ctypes.c_uint, ctypes.c_int, ctypes.c_ulong]
    xtst.XTestFakeMotionEvent.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_ulong]
    dpy = x11.XOpenDisplay(display.encode())

    def key(name: str) -> None:
        code = x11.XKeysymToKeycode(dpy, x11.XStringToKeysym(name.encode()))
        xtst.XTestFakeKeyEvent(dpy, code, True, 0)
        xtst.XTestFakeKeyEvent(dpy, code, False, 0)
        x11.XFlush(dpy)

    def move(x: int, y: int) -> None:
        xtst.XTestFakeMotionEvent(dpy, -1, x, y, 0)
        x11.XFlush(dpy)

    return key, move


def _user(display: str, n_keys: int, gap_s: float, sent, q_sent) -> None:
    """The user: after 2 s, n_keys keys ('t', 'r', 'a', 't', ...), gap_s apart, then 'q'; when each
    key went, in sent (perf_counter), and when 'q' went, in q_sent."""
    key, _ = _key_sender(display)
    time.sleep(2.0)
    for k in range(n_keys):
        sent[k] = time.perf_counter()
        key("trat"[k % 4])
        if gap_s:
            time.sleep(gap_s)
    q_sent.value = time.perf_counter()
    key("q")


def measure(record: Record, size: tuple[int, int], n_keys: int, gap_s: float, paced_before: bool = False) -> dict:
    """One run: the window plays at 10x from t = 15 s, the user sends the keys then 'q'."""
    width, height = size
    _, move = _key_sender(os.environ["DISPLAY"])
    window = (PacedBefore if paced_before else ViewerWindow)(record, window_size=(width, height))
    try:
        window.open()
        move(width // 2, height // 2)
        window.state.set_time(15.0)
        window.handle_key("play")
        q_sent = multiprocessing.Value("d", 0.0)
        sent = multiprocessing.Array("d", n_keys)
        # a process of its own (as a user's keyboard is): a thread would wait for the interpreter
        # lock while the window renders, and the keys would arrive late for that reason alone
        sender = multiprocessing.Process(target=_user, args=(os.environ["DISPLAY"], n_keys, gap_s, sent, q_sent))
        first = len(window.render_durations_s)
        start, cpu0 = time.perf_counter(), time.process_time()
        sender.start()
        window.run(exit_after_s=120.0)
        ended, cpu = time.perf_counter(), time.process_time() - cpu0
        sender.join(10)
    finally:
        window.close()
    frames = len(window.render_durations_s) - first
    # the window's inputs in order, matched to the keys sent (each key press is one input)
    asked = [(a, d) for a, d in window.inputs_answered if a >= sent[0]]
    to_picture = [d - s for s, (_, d) in zip(sent, asked)]
    return dict(frames=frames, wall_s=ended - start, frame_s=float(np.median(window.render_durations_s[first:])),
                cpu_ms=1000 * cpu / max(frames, 1), q_s=ended - q_sent.value,
                answered=[d - a for a, d in asked], to_picture=to_picture,
                played_s=window.state.time_s - 15.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("record")
    parser.add_argument("--load", type=int, default=2 * (os.cpu_count() or 1), help="busy processes")
    parser.add_argument("--keys", type=int, default=16, help="keys in the burst before 'q'")
    parser.add_argument("--size", default="1280x720")
    parser.add_argument("--gap-s", type=float, default=0.0, help="seconds between keys (0: a burst)")
    parser.add_argument("--runs", type=int, default=1, help="runs (of each kind, with --pacing-ab)")
    parser.add_argument("--pacing-ab", action="store_true",
                        help="alternate runs with the pacing as before (benchmarks/viewer_fps.py PacedBefore) and now")
    args = parser.parse_args()
    check_display()
    record = Record.load(args.record)
    size = tuple(int(v) for v in args.size.split("x"))
    stop = multiprocessing.Event()
    hogs = [multiprocessing.Process(target=_busy, args=(stop,), daemon=True) for _ in range(args.load)]
    for hog in hogs:
        hog.start()
    kinds = [("pacing before", True), ("pacing now", False)] if args.pacing_ab else [("now", False)]
    try:
        print(f"{args.size}, {os.cpu_count()} CPUs, {args.load} busy processes, load average "
              f"{os.getloadavg()[0]:.1f} at the start, {args.keys} keys "
              f"{f'{args.gap_s:g} s apart' if args.gap_s else 'in a burst'} then 'q', playing at 10x", flush=True)
        for _ in range(args.runs):
            for label, fixed in kinds:
                r = measure(record, size, args.keys, args.gap_s, paced_before=fixed)
                pic = sorted(r["to_picture"])
                print(f"  {label:<22} {r['frames'] / r['wall_s']:5.1f} frames/s, median frame {1000 * r['frame_s']:4.0f} ms, "
                      f"CPU {r['cpu_ms']:4.0f} ms/frame; 'q' to the loop's end {1000 * r['q_s']:4.0f} ms "
                      f"= {r['q_s'] / r['frame_s']:.1f} frames; key sent to its picture: median "
                      f"{1000 * pic[len(pic) // 2] if pic else float('nan'):4.0f} ms, slowest "
                      f"{1000 * max(pic, default=float('nan')):4.0f} ms ({len(pic)} keys); playback "
                      f"x{r['played_s'] / r['wall_s']:.1f} of x10 (load {os.getloadavg()[0]:.1f})", flush=True)
    finally:
        stop.set()
        for hog in hogs:
            hog.join(5)


if __name__ == "__main__":
    main()
