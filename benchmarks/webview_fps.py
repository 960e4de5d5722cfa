"""Frames per second the browser sees from ``issvis view --web --server-render`` (the trame stream), and the slider's latency (issue 12).

    python benchmarks/webview_fps.py tests/golden/undock.npz

Starts the server as a user does (``issvis view RECORD --web --server-render``), loads the page in headless
Chromium at a picture size of 1280x720 and, through the DevTools protocol:
- plays the record and counts the frames the page's <img> receives per second (whole station
  camera and the scene's keyframe camera);
- moves the slider (the page's own call) to ten times and measures, in the page's clock, the time
  from the move to the new picture loaded;
- drags the camera with the mouse for a while and counts the frames the page receives.
Raw baseline in the same run: the same ``ViewerWindow`` off-screen in this process, set to a new time
and rendered (with the pixels read back, as every served frame is) as fast as it goes. Ratios to it
say what serving costs (JPEG, websocket, the browser) apart from rendering, whatever the load.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import signal
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.test_webview import (  # noqa: E402  -- the test's own small DevTools client
    FRAME_COUNTER,
    VIEW_RECT,
    DevTools,
    _free_port,
    _start_server,
    _wait_for_url,
)

W, H = 1280, 720


def cpu_s(pid: int) -> float:
    """CPU seconds (user + system, all threads) a process and its children have used so far."""
    tick = os.sysconf("SC_CLK_TCK")
    pids = [pid]
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                pids.append(int(entry.name))
    total = 0.0
    for p in pids:
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / tick
    return total


class RawBaseline:
    """The off-screen window alone: new time, render, read the pixels back, as fast as it goes."""

    def __init__(self, record_path: Path) -> None:
        from vtkmodules.vtkRenderingCore import vtkWindowToImageFilter

        from issvis.pictures.video import _prefer_egl
        from issvis.pictures.viewer import ViewerWindow
        from issvis.record.record import Record

        with _prefer_egl():
            self.window = ViewerWindow(Record.load(record_path), window_size=(W, H), off_screen=True)
        self.grab = vtkWindowToImageFilter()
        self.grab.SetInput(self.window.plotter.render_window)
        self.grab.ReadFrontBufferOff()
        self.grab.ShouldRerenderOff()  # the loop renders once itself

    def run(self, preset: int, seconds: float) -> tuple[float, float]:
        """(frames per second, CPU ms per frame) playing from t = 15 s with camera preset."""
        self.window.handle_key(f"preset{preset}")
        n, t = 0, 15.0
        t0, c0 = time.perf_counter(), time.process_time()
        while time.perf_counter() - t0 < seconds:
            t += 0.3
            self.window.state.set_time(t)
            self.window.refresh()
            self.window.plotter.render_window.Render()
            self.grab.Modified()
            self.grab.Update()
            n += 1
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        return n / wall, 1000 * cpu / n


async def browser_side(url: str, seconds: float, server_pid: int, raw: RawBaseline) -> dict[str, float]:
    tools = DevTools()
    out: dict[str, float] = {}
    await tools.launch(W, H + 120)
    try:
        await tools.send("Page.enable")
        await tools.send("Emulation.setDeviceMetricsOverride", width=W, height=H + 120, deviceScaleFactor=1,
                         mobile=False)
        await tools.send("Page.navigate", url=url)
        await tools.wait_for(FRAME_COUNTER, 30, "the first picture")
        rect = await tools.eval(VIEW_RECT)
        await tools.send("Emulation.setDeviceMetricsOverride", width=W, height=H + 120 + H - round(rect[3]),
                         deviceScaleFactor=1, mobile=False)
        await asyncio.sleep(1.5)
        rect = await tools.eval(VIEW_RECT)
        for preset in (2, 1):
            await tools.eval(f"window.trame.trigger('issvis_action', ['preset{preset}'])")
            await tools.eval("window.trame.trigger('issvis_scrub', [15])")
            await asyncio.sleep(0.5)
            await tools.eval("window.trame.trigger('issvis_action', ['play'])")
            await asyncio.sleep(0.5)
            n0 = await tools.eval("window.__frames.length")
            c_server, c_browser = cpu_s(server_pid), cpu_s(tools.proc.pid)
            await asyncio.sleep(seconds)
            frames = await tools.eval(f"window.__frames.slice({n0})")
            c_server, c_browser = cpu_s(server_pid) - c_server, cpu_s(tools.proc.pid) - c_browser
            await tools.eval("window.trame.trigger('issvis_action', ['play']) && null")  # pause
            out[f"play_fps_preset{preset}"] = (len(frames) - 1) / ((frames[-1] - frames[0]) / 1000) if len(frames) > 2 else 0.0
            out[f"server_cpu_ms_preset{preset}"] = 1000 * c_server / max(len(frames), 1)
            out[f"browser_cpu_ms_preset{preset}"] = 1000 * c_browser / max(len(frames), 1)
            await asyncio.sleep(0.5)
            out[f"raw_fps_preset{preset}"], out[f"raw_cpu_ms_preset{preset}"] = raw.run(preset, seconds)
        natural = await tools.eval("(() => { const i = document.querySelector('img[src^=\"blob:\"]'); "
                                   "return [i.naturalWidth, i.naturalHeight]; })()")
        out["picture_w"], out["picture_h"] = natural
        # slider: page clock from the call to the new picture loaded
        latencies = []
        for t in np.linspace(30, 280, 10):
            n = await tools.eval("window.__frames.length")
            sent = await tools.eval(f"(() => {{ const t0 = performance.now(); "
                                    f"window.trame.trigger('issvis_scrub', [{t:.3f}]); return t0; }})()")
            await tools.wait_for(f"window.__frames.length > {n}", 10, "the slider's picture")
            loaded = await tools.eval(f"window.__frames[{n}]")
            latencies.append(loaded - sent)
            await asyncio.sleep(0.2)
        out["slider_latency_ms_median"] = float(np.median(latencies))
        out["slider_latency_ms_max"] = float(np.max(latencies))
        out["slider_latencies_ms"] = " ".join(f"{v:.0f}" for v in latencies)
        # a mouse drag rotating the camera (interactive frames: half size, lower JPEG quality)
        cx, cy = rect[0] + rect[2] / 2, rect[1] + rect[3] / 2
        n0 = await tools.eval("window.__frames.length")
        await tools.send("Input.dispatchMouseEvent", type="mousePressed", x=cx, y=cy, button="left", clickCount=1)
        t0 = time.perf_counter()
        k = 0
        while time.perf_counter() - t0 < seconds:
            k += 1
            await tools.send("Input.dispatchMouseEvent", type="mouseMoved", x=cx + 200 * np.sin(k / 20),
                             y=cy + 80 * np.cos(k / 15), button="left", buttons=1)
            await asyncio.sleep(1 / 60)
        await tools.send("Input.dispatchMouseEvent", type="mouseReleased", x=cx, y=cy, button="left", clickCount=1)
        frames = await tools.eval(f"window.__frames.slice({n0})")
        out["drag_fps"] = (len(frames) - 1) / ((frames[-1] - frames[0]) / 1000) if len(frames) > 2 else 0.0
    finally:
        await tools.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("record", type=Path, nargs="?", default=ROOT / "tests" / "golden" / "undock.npz")
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    raw = RawBaseline(args.record)
    port = _free_port()
    server = _start_server(port)
    try:
        url = _wait_for_url(server)
        r = asyncio.run(browser_side(url, args.seconds, server.pid, raw))
    finally:
        server.send_signal(signal.SIGTERM)
        server.communicate(timeout=15)
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs; Mesa llvmpipe via EGL; "
          f"picture sent {r['picture_w']:.0f}x{r['picture_h']:.0f}")
    for preset in (2, 1):
        fps, raw_fps = r[f"play_fps_preset{preset}"], r[f"raw_fps_preset{preset}"]
        cpu, raw_cpu = r[f"server_cpu_ms_preset{preset}"], r[f"raw_cpu_ms_preset{preset}"]
        print(f"playing, camera {preset}: {fps:.1f} frames/s in the browser; raw window just after {raw_fps:.1f} "
              f"frames/s (ratio {fps / raw_fps:.2f}); server CPU {cpu:.0f} ms/frame vs raw {raw_cpu:.0f} "
              f"(ratio {cpu / raw_cpu:.2f}); browser CPU {r[f'browser_cpu_ms_preset{preset}']:.0f} ms/frame")
    print(f"mouse drag (half size, JPEG {60}): {r['drag_fps']:.1f} frames/s in the browser "
          f"({r['drag_fps'] / r['raw_fps_preset1']:.2f} x raw full-size frames/s)")
    print(f"slider move to new picture: median {r['slider_latency_ms_median']:.0f} ms, max "
          f"{r['slider_latency_ms_max']:.0f} ms (raw frame {1000 / r['raw_fps_preset1']:.0f} ms); all: "
          f"{r['slider_latencies_ms']} ms")


if __name__ == "__main__":
    main()
