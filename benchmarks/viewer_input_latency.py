"""How fast the viewer answers keys while playing on a loaded machine (issue 11).

Run on a display, or without one under Xvfb:

    xvfb-run -a -s "-screen 0 1280x800x24" python benchmarks/viewer_input_latency.py renders/undock.npz

The window plays at 10x while LOAD busy processes (default: twice the CPU count) share the
machine; after 2 s of wall time a burst of keys ('t' twice, 'r' twice, ... as a user pressing
around) is sent as real X key events (XTEST), then 'q'. Reported: the median frame (render) time
of the run, the time from 'q' to the end of the event loop, and their ratio: with the frame
budget the ratio stays near 1-2 (one frame in flight), whatever the load; one render per input
made it the number of queued inputs.
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


def _user(display: str, n_keys: int, q_sent) -> None:
    """The user: after 2 s, n_keys keys ('t', 'r', 'a', 't', ...) then 'q'; when 'q' went, in q_sent."""
    key, _ = _key_sender(display)
    time.sleep(2.0)
    for k in range(n_keys):
        key("trat"[k % 4])
    q_sent.value = time.perf_counter()
    key("q")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("record")
    parser.add_argument("--load", type=int, default=2 * (os.cpu_count() or 1), help="busy processes")
    parser.add_argument("--keys", type=int, default=16, help="keys in the burst before 'q'")
    parser.add_argument("--size", default="1280x720")
    args = parser.parse_args()
    check_display()
    record = Record.load(args.record)
    width, height = (int(v) for v in args.size.split("x"))
    key, move = _key_sender(os.environ["DISPLAY"])
    stop = multiprocessing.Event()
    hogs = [multiprocessing.Process(target=_busy, args=(stop,), daemon=True) for _ in range(args.load)]
    window = ViewerWindow(record, window_size=(width, height))
    try:
        window.open()
        move(width // 2, height // 2)
        for hog in hogs:
            hog.start()
        window.state.set_time(15.0)
        window.handle_key("play")
        q_sent = multiprocessing.Value("d", 0.0)
        # a process of its own (as a user's keyboard is): a thread would wait for the interpreter
        # lock while the window renders, and the keys would arrive late for that reason alone
        sender = multiprocessing.Process(target=_user, args=(os.environ["DISPLAY"], args.keys, q_sent))
        first = len(window.render_durations_s)
        start = time.perf_counter()
        sender.start()
        window.run(exit_after_s=120.0)
        ended = time.perf_counter()
        sender.join(10)
    finally:
        stop.set()
        for hog in hogs:
            hog.join(5)
        window.close()
    frame_s = float(np.median(window.render_durations_s[first:]))
    latency_s = ended - q_sent.value  # perf_counter is the system's monotonic clock: one across processes
    answered = [done - asked for asked, done in getattr(window, "inputs_answered", [])]  # older viewers lack it
    print(f"{args.size}, {os.cpu_count()} CPUs, {args.load} busy processes, {args.keys} keys then 'q' while playing at 10x")
    print(f"  frames drawn {len(window.render_durations_s) - first} in {ended - start:.1f} s; "
          f"median frame {1000 * frame_s:.0f} ms")
    print(f"  'q' to the end of the loop {1000 * latency_s:.0f} ms = {latency_s / frame_s:.1f} frames; "
          f"slowest key to its frame {1000 * max(answered, default=0.0):.0f} ms")
    print(f"  playback: {window.state.time_s - 15.0:.1f} record s in {ended - start:.1f} wall s "
          f"(x{(window.state.time_s - 15.0) / (ended - start):.1f} of x10)")


if __name__ == "__main__":
    main()
