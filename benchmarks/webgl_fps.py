"""The browser viewer before and after (issue 19): the server-rendered stream against the page the browser draws.

    python benchmarks/webgl_fps.py [RECORD] [--seconds 5] [--swiftshader] [--skip-before] [--scale-ab N]

In one run, on this machine, in headless Chromium at a picture of 1280x720:
- before: ``issvis view RECORD --web --server-render`` (trame, JPEG frames rendered by the server):
  frames per second the page receives while playing at 10x, the server's CPU per second and the bytes it
  sends per second of playback;
- after: ``issvis view RECORD --web`` (the page draws with WebGL): bytes at load and time to the first
  frame, frames per second while playing (whole-station camera and the scene's keyframes), the draw
  calls, triangles and bytes uploaded per frame (what decides the rate on a real GPU), the still
  frame's time after a slider move, and the server's CPU and bytes per second of playback with one and
  with two tabs playing.
``--scale-ab N`` instead runs N rounds of the page with its moving frames fixed at half size (the page
before the dynamic resolution) alternated with the dynamic resolution: frames/s, the scale reached and
the browser's CPU a frame, both cameras playing.
Software WebGL: Mesa's llvmpipe through ANGLE (as the tests), or SwiftShader with --swiftshader. The load
average is printed with each number: this machine's two cores are shared.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.test_webgl import (  # noqa: E402  -- the page test's DevTools client
    CHROMIUM_FLAGS,
    Browser,
    free_port,
    open_viewer,
    start_server,
    stop_server,
    wait_for_url,
)

W, H = 1280, 720


def cpu_s(pid: int) -> float:
    """CPU seconds (user + system, all threads) the process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def tree_cpu_s(pid: int) -> float:
    """CPU seconds used so far by a process and all its descendants (Chromium's browser, GPU and
    renderer processes: the cost of the page's frames, whatever else shares the machine)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    total, todo = 0.0, [pid]
    while todo:
        p = todo.pop()
        try:
            total += cpu_s(p)
        except OSError:
            pass
        todo += children.get(p, [])
    return total


def received_bytes(tab, since: int = 0) -> int:
    """Bytes the page has received from the server, by its network log (HTTP bodies as sent, gzip'd;
    websocket frames), counting the log's events from index ``since``."""
    total = 0
    for e in tab.events[since:]:
        if e["method"] == "Network.loadingFinished":
            total += e["params"].get("encodedDataLength", 0)
        elif e["method"] == "Network.webSocketFrameReceived":
            frame = e["params"]["response"]
            data = frame.get("payloadData", "")
            total += len(data) * 3 // 4 if frame.get("opcode") == 2 else len(data.encode())
    return total


def load() -> str:
    return f"load {os.getloadavg()[0]:.1f}"


async def before(record: Path, seconds: float, flags: tuple[str, ...]) -> dict:
    """The trame stream: frames the page receives while playing, server CPU and bytes per second."""
    port = free_port()
    server = start_server(port, "--server-render", record=record)
    out: dict = {}
    try:
        url = wait_for_url(server)
        browser = await Browser().launch(W, H + 120, *flags)
        try:
            tab = await browser.tab(first=True)
            await tab.send("Network.enable")
            await tab.size(W, H + 120)
            await tab.send("Page.navigate", url=url)
            counter = """(() => { const img = document.querySelector('img[src^="blob:"]'); if (!img) return false;
              if (!window.__frames) { window.__frames = []; img.addEventListener('load', () => window.__frames.push(performance.now())); }
              return true; })()"""
            await tab.wait_for(counter, 60, "the stream's first picture")
            rect = await tab.eval("(() => { const r = document.querySelector('img[src^=\"blob:\"]').getBoundingClientRect(); "
                                  "return [r.width, r.height]; })()")
            await tab.size(W, H + 120 + H - round(rect[1]))
            await asyncio.sleep(1.5)
            await tab.eval("window.trame.trigger('issvis_action', ['preset2'])")
            await tab.eval("window.trame.trigger('issvis_scrub', [15])")
            await asyncio.sleep(0.5)
            await tab.eval("window.trame.trigger('issvis_action', ['play'])")
            await asyncio.sleep(0.5)
            n0 = await tab.eval("window.__frames.length")
            c0, e0, t0 = cpu_s(server.pid), len(tab.events), time.monotonic()
            await asyncio.sleep(seconds)
            frames = await tab.eval(f"window.__frames.slice({n0})")
            c1, t1 = cpu_s(server.pid), time.monotonic()
            b = received_bytes(tab, e0)
            await tab.eval("window.trame.trigger('issvis_action', ['play']) && null")
            span = (frames[-1] - frames[0]) / 1000 if len(frames) > 2 else 1.0
            out = {"fps": (len(frames) - 1) / span if len(frames) > 2 else 0.0,
                   "server_cpu_per_s": (c1 - c0) / (t1 - t0), "bytes_per_s": b / (t1 - t0), "load": load()}
        finally:
            await browser.close()
    finally:
        stop_server(server)
    return out


async def after(record: Path, seconds: float, flags: tuple[str, ...], query: str = "", full: bool = True) -> dict:
    """The page the browser draws (``query`` appended to its URL); ``full=False``: only the two cameras playing."""
    port = free_port()
    server = start_server(port, record=record)
    out: dict = {}
    try:
        url = wait_for_url(server) + query
        browser = await Browser().launch(W, H + 80, *flags)
        try:
            c0, t0 = cpu_s(server.pid), time.monotonic()
            tab, rect = await open_viewer(browser, url, first=True)
            out["first_frame_s"] = time.monotonic() - t0  # includes the resize to 1280x720
            await asyncio.sleep(0.5)
            finished = [e for e in tab.events if e["method"] == "Network.loadingFinished"]
            out["load_bytes"] = sum(e["params"].get("encodedDataLength", 0) for e in finished)
            out["load_requests"] = len(finished)
            out["server_cpu_at_load_s"] = cpu_s(server.pid) - c0
            stats = await tab.eval("window.issvis.stats()")
            out["renderer"], out["detail"] = stats["renderer"], stats["detail"]
            for preset in (2, 1):
                await tab.eval(f"window.issvis.action('preset{preset}'); window.issvis.scrub(15); window.issvis.action('play')")
                await asyncio.sleep(2.0)  # the dynamic resolution settles (8 frames a step)
                f0, c0, e0, t0 = (await tab.eval("window.issvis.framesDrawn"), cpu_s(server.pid), len(tab.events),
                                  time.monotonic())
                b0 = tree_cpu_s(browser.proc.pid)
                await asyncio.sleep(seconds)
                f1, c1, t1 = await tab.eval("window.issvis.framesDrawn"), cpu_s(server.pid), time.monotonic()
                out[f"browser_cpu_ms_per_frame_preset{preset}"] = 1000 * (tree_cpu_s(browser.proc.pid) - b0) / max(f1 - f0, 1)
                b = received_bytes(tab, e0)
                s = await tab.eval("window.issvis.stats()")
                await tab.eval("window.issvis.action('play')")
                out[f"fps_preset{preset}"] = (f1 - f0) / (t1 - t0)
                out[f"load_preset{preset}"] = load()
                out[f"buffer_preset{preset}"] = s["drawingBuffer"]
                out[f"scale_preset{preset}"] = s["scale"]
                out[f"calls_preset{preset}"], out[f"triangles_preset{preset}"] = s["calls"], s["triangles"]
                out[f"upload_bytes_per_frame_preset{preset}"] = s["uploadBytesPerFrame"]
                out[f"server_cpu_per_s_preset{preset}"] = (c1 - c0) / (t1 - t0)
                out[f"server_bytes_per_s_preset{preset}"] = b / (t1 - t0)
            if not full:
                return out
            # a slider move: the page's clock from the move to the still, full-quality frame drawn
            latencies = []
            for t in (30, 60, 90, 120, 150, 180, 210, 240):
                ms = await tab.eval(f"""new Promise(r => {{ const v = window.issvis, n = v.framesDrawn, t0 = performance.now();
                    v.scrub({t}); const w = () => v.framesDrawn > n ? r(performance.now() - t0) : requestAnimationFrame(w);
                    requestAnimationFrame(w); }})""")
                latencies.append(ms)
            out["slider_ms"] = sorted(latencies)
            # a second tab playing too: the server's cost per tab while they play
            tab2, _ = await open_viewer(browser, url)
            for tb in (tab, tab2):
                await tb.eval("window.issvis.action('preset2'); window.issvis.scrub(15); window.issvis.action('play')")
            await asyncio.sleep(1.0)
            c0, e0, t0 = cpu_s(server.pid), (len(tab.events), len(tab2.events)), time.monotonic()
            g0 = [await tb.eval("window.issvis.framesDrawn") for tb in (tab, tab2)]
            await asyncio.sleep(seconds)
            g1 = [await tb.eval("window.issvis.framesDrawn") for tb in (tab, tab2)]
            c1, t1 = cpu_s(server.pid), time.monotonic()
            b = received_bytes(tab, e0[0]) + received_bytes(tab2, e0[1])
            out["two_tabs_fps"] = [(b - a) / (t1 - t0) for a, b in zip(g0, g1)]
            out["two_tabs_server_cpu_per_s"] = (c1 - c0) / (t1 - t0)
            out["two_tabs_server_bytes_per_s"] = b / (t1 - t0)
        finally:
            await browser.close()
    finally:
        server.send_signal(signal.SIGTERM)
        stop_server(server)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("record", type=Path, nargs="?", default=ROOT / "tests" / "golden" / "undock.npz")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--swiftshader", action="store_true", help="SwiftShader instead of Mesa's llvmpipe")
    parser.add_argument("--skip-before", action="store_true", help="only the page the browser draws")
    parser.add_argument("--scale-ab", type=int, default=0, metavar="N",
                        help="instead: N rounds of the page with its moving frames fixed at half size (as before the "
                             "dynamic resolution) alternated with the dynamic resolution, both cameras playing")
    args = parser.parse_args()
    flags = ("--use-angle=swiftshader",) if args.swiftshader else ()
    if args.swiftshader:
        import tests.test_webgl as page_test

        page_test.CHROMIUM_FLAGS = tuple(f for f in CHROMIUM_FLAGS if f not in ("--use-angle=gl-egl", "--enable-gpu"))
    print(f"{os.cpu_count()} CPUs, {load()}; record {args.record.name}; picture {W}x{H}")
    if args.scale_ab:
        for k in range(args.scale_ab):
            for name, query in (("fixed half size", "?moving_scale=0.5"), ("dynamic", "")):
                r = asyncio.run(after(args.record, args.seconds, flags, query, full=False))
                print(f"round {k + 1}, {name}: " + "; ".join(
                    f"camera {p} {r[f'fps_preset{p}']:.1f} frames/s at scale {r[f'scale_preset{p}']:.2f} "
                    f"({r[f'buffer_preset{p}'][0]}x{r[f'buffer_preset{p}'][1]}), browser CPU "
                    f"{r[f'browser_cpu_ms_per_frame_preset{p}']:.0f} ms a frame, {r[f'load_preset{p}']}" for p in (2, 1)))
        return
    if not args.skip_before:
        b = asyncio.run(before(args.record, args.seconds, flags))
        print(f"before (server-rendered stream): {b['fps']:.1f} frames/s in the browser while playing; server "
              f"{100 * b['server_cpu_per_s']:.0f} % of a core, {b['bytes_per_s'] / 1e6:.2f} MB/s received ({b['load']})")
    a = asyncio.run(after(args.record, args.seconds, flags))
    print(f"after (drawn by the browser, {a['renderer']}, {a['detail']} meshes):")
    print(f"  load: {a['load_bytes'] / 1e6:.2f} MB in {a['load_requests']} requests (server CPU "
          f"{a['server_cpu_at_load_s'] * 1000:.0f} ms), first frame "
          f"after {a['first_frame_s']:.1f} s")
    for preset in (2, 1):
        print(f"  playing, camera {preset}: {a[f'fps_preset{preset}']:.1f} frames/s (moving frames drawn at "
              f"{a[f'buffer_preset{preset}'][0]}x{a[f'buffer_preset{preset}'][1]}; {a[f'load_preset{preset}']}); "
              f"{a[f'calls_preset{preset}']} draw calls, {a[f'triangles_preset{preset}']:,} triangles, "
              f"{a[f'upload_bytes_per_frame_preset{preset}'] / 1024:.1f} KiB uploaded a frame; browser CPU "
              f"{a[f'browser_cpu_ms_per_frame_preset{preset}']:.0f} ms a frame (all its processes); server "
              f"{100 * a[f'server_cpu_per_s_preset{preset}']:.1f} % of a core, "
              f"{a[f'server_bytes_per_s_preset{preset}']:.0f} B/s received")
    lat = a["slider_ms"]
    print(f"  slider move to the full-quality still frame: median {lat[len(lat) // 2]:.0f} ms, max {lat[-1]:.0f} ms")
    print(f"  two tabs playing: {a['two_tabs_fps'][0]:.1f} and {a['two_tabs_fps'][1]:.1f} frames/s; server "
          f"{100 * a['two_tabs_server_cpu_per_s']:.1f} % of a core, {a['two_tabs_server_bytes_per_s']:.0f} B/s received")


if __name__ == "__main__":
    main()
