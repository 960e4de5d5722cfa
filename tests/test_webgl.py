"""The viewer drawn by the browser (issue 19): ``issvis view RECORD --web``.

The server is started as a user starts it (a subprocess), Debian's headless Chromium loads the page
with software WebGL (SwiftShader) and is driven over the DevTools protocol (a websocket; aiohttp
comes with the web extra). The page's controls are the desktop viewer's, whose logic
tests/test_viewer.py checks; here: the page shows the station and Earth, its slider, keys and clicks
change the picture, two tabs are two viewers, nothing is fetched from elsewhere, the server refuses
what is not the page, and SIGTERM ends it with the port free.
"""

from __future__ import annotations

import asyncio
import base64
import gzip
import http.client
import io
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from issvis.pictures.webgl import server as page_server

from .conftest import ROOT
from .devtools import DevToolsConnection

CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
RECORD = ROOT / "tests" / "golden" / "undock.npz"
VIEW_W, VIEW_H = 1280, 720
#: A picture 'changed' when this fraction of its pixels moved by more than 24 levels (a redraw of the
#: same state changes none: the page draws deterministically).
CHANGED_FRACTION = 0.01
#: Software WebGL: Mesa's llvmpipe through ANGLE's EGL back end (the renderer VTK uses here too; about ten times
#: SwiftShader's speed on this machine), SwiftShader where Mesa's EGL is missing.
CHROMIUM_FLAGS = ("--headless=new", "--no-sandbox", "--use-angle=gl-egl", "--ignore-gpu-blocklist", "--enable-gpu",
                  "--enable-unsafe-swiftshader",
                  "--ignore-gpu-blocklist", "--disable-quic", "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--disable-default-apps", "--disable-extensions",
                  "--disable-background-timer-throttling", "--disable-renderer-backgrounding",
                  "--disable-backgrounding-occluded-windows", "--hide-scrollbars", "--mute-audio")


def _have_aiohttp() -> bool:
    try:
        import aiohttp  # noqa: F401
    except ImportError:
        return False
    return True


needs_browser = pytest.mark.skipif(CHROMIUM is None or not _have_aiohttp(),
                                   reason="needs Debian's chromium (apt-get install chromium) and aiohttp")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_free(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def env() -> dict[str, str]:
    out = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    out.pop("DISPLAY", None)
    return out


# --- the server alone: what it refuses -------------------------------------------------------------
@pytest.fixture()
def small_server():
    files = {"index.html": ("text/html; charset=utf-8", b"<html>issvis</html>" * 50),
             "record.bin": ("application/octet-stream", bytes(4000))}
    srv = page_server.PageServer(("127.0.0.1", 0), files, key="k3y")
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


def _ask(srv, method: str, path: str, headers: dict[str, str] | None = None, body: bytes | None = None,
         host: str | None = None) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=5)
    try:
        conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
        conn.putheader("Host", host if host is not None else f"127.0.0.1:{srv.port}")
        for k, v in (headers or {}).items():
            conn.putheader(k, v)
        if body is not None:
            conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body)
        reply = conn.getresponse()
        return reply.status, {k.lower(): v for k, v in reply.getheaders()}, reply.read()
    finally:
        conn.close()


def test_the_page_is_served_under_its_key_gzipped_when_asked(small_server):
    status, headers, body = _ask(small_server, "GET", "/k3y/")
    assert status == 200 and body.startswith(b"<html>issvis")
    assert "default-src 'self'" in headers["content-security-policy"]
    status, headers, body = _ask(small_server, "GET", "/k3y/record.bin", {"Accept-Encoding": "gzip"})
    assert status == 200 and headers["content-encoding"] == "gzip" and gzip.decompress(body) == bytes(4000)
    status, headers, _ = _ask(small_server, "GET", "/k3y")
    assert status == 301 and headers["location"] == "/k3y/"


def test_a_wrong_or_missing_key_is_refused(small_server):
    for path in ("/", "/index.html", "/k3x/", "/k3y-/index.html", "/../k3y/", "/K3Y/"):
        status, _, body = _ask(small_server, "GET", path)
        assert status == 403, path
        assert b"key" in body


def test_a_host_that_is_not_this_machine_is_refused(small_server):
    port = small_server.port
    for host in (f"evil.example:{port}", f"127.0.0.1.nip.io:{port}", "127.0.0.1", f"127.0.0.1:{port + 1}", ""):
        status, _, _ = _ask(small_server, "GET", "/k3y/", host=host)
        assert status == 403, host
    for host in (f"localhost:{port}", f"[::1]:{port}", f"10.1.2.3:{port}"):  # addresses cannot be rebound
        assert _ask(small_server, "GET", "/k3y/", host=host)[0] == 200, host


def test_another_sites_requests_are_refused(small_server):
    port = small_server.port
    assert _ask(small_server, "GET", "/k3y/", {"Origin": "http://evil.example"})[0] == 403
    assert _ask(small_server, "GET", "/k3y/", {"Sec-Fetch-Site": "cross-site"})[0] == 403
    assert _ask(small_server, "GET", "/k3y/", {"Origin": f"http://127.0.0.1:{port}"})[0] == 200


def test_nothing_but_reading_the_page_is_answered(small_server):
    for method in ("POST", "PUT", "DELETE", "OPTIONS", "PATCH"):
        assert _ask(small_server, method, "/k3y/")[0] == 405, method
    assert _ask(small_server, "GET", "/k3y/", body=b"x" * 10)[0] == 413
    assert _ask(small_server, "GET", "/k3y/" + "a" * 5000)[0] == 414
    assert _ask(small_server, "GET", "/k3y/", {f"X-Pad-{i}": "y" * 900 for i in range(20)})[0] == 431
    assert _ask(small_server, "GET", "/k3y/exit")[0] == 404  # no exit over the wire


def test_only_a_host_other_than_loopback_gets_the_warning():
    assert page_server.host_warning("127.0.0.1", 8080) is None
    assert page_server.host_warning("localhost", 8080) is None
    assert page_server.host_warning("::1", 8080) is None
    line = page_server.host_warning("0.0.0.0", 8080)
    assert line is not None and "\n" not in line and "warning" in line and "ssh -L" in line


def test_a_taken_port_is_exit_2_before_any_simulation():
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        start = time.monotonic()
        run = subprocess.run([sys.executable, "-m", "issvis.cli", "view", "scenes/undock.toml", "--web", "--port",
                              str(port)], capture_output=True, text=True, cwd=ROOT, env=env(), timeout=120)
    assert run.returncode == 2, run.stderr
    assert run.stderr.count("\n") == 1 and f"--port {port}" in run.stderr and "in use" in run.stderr
    assert time.monotonic() - start < 30, "refused before the scene was simulated"


def test_server_render_needs_web():
    from issvis.cli import main

    assert main(["view", str(RECORD), "--server-render"]) == 2


# --- what the page is sent ---------------------------------------------------------------------------
@pytest.mark.slow
def test_the_page_gets_the_station_the_poses_and_the_facts_once():
    from issvis.pictures.webgl import page_files
    from issvis.record.record import Record
    from issvis.station.gltf import read_glb

    record = Record.load(RECORD)
    files = page_files(record)
    for name in ("index.html", "viewer.js", "style.css", "vendor/three/three.module.min.js", "vendor/three/LICENSE",
                 "vendor/three/addons/loaders/GLTFLoader.js", "station.glb", "record.bin", "facts.json", "earth.jpg"):
        assert name in files, name
    facts = json.loads(files["facts.json"][1])
    assert facts["names"] == [str(n) for n in record.names]
    blob = files["record.bin"][1]
    T, B = record.pos.shape[:2]
    d = facts["arrays"]
    assert d["pos"]["shape"] == [T, B, 3] and d["quat"]["shape"] == [T, B, 4]
    t = np.frombuffer(blob, "<f8", T, d["t"]["offset"])
    pos = np.frombuffer(blob, "<f4", T * B * 3, d["pos"]["offset"]).reshape(T, B, 3)
    assert np.array_equal(t, record.t)
    assert np.abs(pos - record.pos).max() < 1e-3, "float32 positions, sub-millimetre"
    kf = np.frombuffer(blob, "<f8", int(np.prod(d["keyframe_camera"]["shape"])), d["keyframe_camera"]["offset"])
    assert np.all(np.diff(kf.reshape(-1, 11)[:, 0]) >= 0), "the keyframe camera is ordered by record time"
    doc, _ = read_glb(files["station.glb"][1])
    parts = [n for n in doc["nodes"] if "index" in n.get("extras", {})]
    assert sorted(n["name"] for n in parts) == sorted(facts["names"])
    assert all(len(facts["radius_m"]) == B and r > 0 for r in facts["radius_m"])
    assert any("interface opened" in e["text"] for e in facts["events"])
    text = b"".join(body for name, (_, body) in files.items() if name.endswith((".html", ".js", ".css")))
    for outside in (b"http://", b"https://"):
        # the vendored files name sites in comments only; nothing the page loads is absolute
        assert outside not in files["index.html"][1] and outside not in files["viewer.js"][1]
    assert b"fonts.googleapis" not in text


# --- the page in a browser ----------------------------------------------------------------------------
class Tab(DevToolsConnection):
    """One page target of Chromium's DevTools protocol: commands, and its events kept in a list."""

    reply_timeout_s = 60.0

    def __init__(self, session, ws_url: str) -> None:
        super().__init__()
        self.session, self.ws_url = session, ws_url

    async def open(self) -> Tab:
        self.ws = await self.session.ws_connect(self.ws_url, max_msg_size=0)
        self._reader = asyncio.ensure_future(self._read())
        return self

    async def wait_for(self, expression: str, timeout_s: float = 20.0, what: str = ""):
        deadline = time.monotonic() + timeout_s
        while True:
            value = await self.eval(expression)
            if value:
                return value
            if time.monotonic() > deadline:
                error = await self.eval("window.issvisError || ''")
                raise AssertionError(f"timed out waiting for {what or expression}" + (f": {error}" if error else ""))
            await asyncio.sleep(0.05)

    async def size(self, width: int, height: int) -> None:
        await self.send("Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1, mobile=False)

    async def key(self, key: str, code: int) -> None:
        printable = len(key) == 1
        for kind in ("keyDown" if printable else "rawKeyDown", "keyUp"):
            await self.send("Input.dispatchKeyEvent", type=kind, key=key, text=key if kind == "keyDown" else "",
                            code=key if printable else key, windowsVirtualKeyCode=code)

    async def click(self, x: float, y: float) -> None:
        for kind in ("mousePressed", "mouseReleased"):
            await self.send("Input.dispatchMouseEvent", type=kind, x=x, y=y, button="left", buttons=1, clickCount=1)

    async def drawn(self) -> None:
        """Wait until the page has drawn the frame of its current state (it draws on change)."""
        await self.eval("new Promise(r => requestAnimationFrame(() => requestAnimationFrame(() => r(true))))")

    async def screenshot(self, rect=None) -> np.ndarray:
        from PIL import Image

        await self.drawn()
        args = {"format": "png"}
        if rect is not None:
            args["clip"] = {"x": rect[0], "y": rect[1], "width": rect[2], "height": rect[3], "scale": 1}
        shot = await self.send("Page.captureScreenshot", **args)
        with Image.open(io.BytesIO(base64.b64decode(shot["data"]))) as im:
            return np.asarray(im.convert("RGB"))

    async def close(self) -> None:
        await self.ws.close()
        await self._reader


class Browser:
    """Headless Chromium with its DevTools server on a free port, and its tabs."""

    async def launch(self, width: int, height: int, *extra: str) -> Browser:
        import aiohttp

        self._dir = tempfile.TemporaryDirectory(prefix="issvis-chromium-", ignore_cleanup_errors=True)
        self.proc = subprocess.Popen([CHROMIUM, *CHROMIUM_FLAGS, *extra, f"--user-data-dir={self._dir.name}",
                                      "--remote-debugging-port=0", f"--window-size={width},{height}", "about:blank"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        port_file = Path(self._dir.name) / "DevToolsActivePort"
        deadline = time.monotonic() + 30
        while not (port_file.exists() and port_file.read_text().count("\n") >= 1):
            assert time.monotonic() < deadline, "chromium did not start its DevTools server"
            await asyncio.sleep(0.05)
        self.port = int(port_file.read_text().split()[0])
        self.session = aiohttp.ClientSession()
        self.tabs: list[Tab] = []
        return self

    async def tab(self, first: bool = False) -> Tab:
        """The page Chromium opened (first) or a new one."""
        base = f"http://127.0.0.1:{self.port}"
        if first:
            async with self.session.get(f"{base}/json/list") as reply:
                target = next(t for t in await reply.json() if t["type"] == "page")
        else:  # a window of its own: a background tab of the same window would not draw
            async with self.session.get(f"{base}/json/version") as reply:
                browser_ws = (await reply.json())["webSocketDebuggerUrl"]
            root = await Tab(self.session, browser_ws).open()
            made = await root.send("Target.createTarget", url="about:blank", newWindow=True)
            await root.close()
            target = {"webSocketDebuggerUrl": f"ws://127.0.0.1:{self.port}/devtools/page/{made['targetId']}"}
        tab = await Tab(self.session, target["webSocketDebuggerUrl"]).open()
        self.tabs.append(tab)
        return tab

    async def close(self) -> None:
        for tab in self.tabs:
            await tab.close()
        await self.session.close()
        self.proc.terminate()
        self.proc.wait(10)
        self._dir.cleanup()


async def open_viewer(browser: Browser, url: str, first: bool = False, width: int = VIEW_W,
                      height: int = VIEW_H) -> tuple[Tab, list]:
    """A tab showing the viewer with its picture width x height; (tab, the picture's rect)."""
    tab = await browser.tab(first)
    await tab.send("Network.enable")
    await tab.send("Page.enable")
    await tab.size(width, height + 80)
    await tab.send("Page.navigate", url=url)
    await tab.wait_for("window.issvis && window.issvis.framesDrawn > 0", 90, "the viewer's first frame")
    rect = await tab.eval(CANVAS_RECT)
    await tab.size(width, height + 80 + height - round(rect[3]))  # the bars take what they take
    await tab.wait_for(f"Math.round(document.getElementById('canvas').getBoundingClientRect().height) === {height}", 10,
                       "the picture's height")
    await asyncio.sleep(0.3)
    return tab, await tab.eval(CANVAS_RECT)


CANVAS_RECT = ("(() => { const r = document.getElementById('canvas').getBoundingClientRect(); "
               "return [r.left, r.top, r.width, r.height]; })()")


def station_pixels(img: np.ndarray) -> np.ndarray:
    """Bright, nearly grey pixels: the station's white modules and radiators."""
    f = img.astype(float)
    return (f.min(axis=2) > 150) & ((f.max(axis=2) - f.min(axis=2)) < 40)


def earth_pixels(img: np.ndarray) -> np.ndarray:
    """Earth's lit surface and limb: blue clearly above red (ocean, haze), not black space."""
    f = img.astype(int)
    return (f[..., 2] > 60) & (f[..., 2] - f[..., 0] > 25)


def orange_pixels(img: np.ndarray) -> np.ndarray:
    f = img.astype(int)
    return (f[..., 0] > 120) & (f[..., 0] - f[..., 2] > 70) & (f[..., 0] - f[..., 1] > 30)


def changed(a: np.ndarray, b: np.ndarray) -> float:
    return float((np.abs(a.astype(int) - b.astype(int)).max(axis=2) > 24).mean())


def start_server(port: int, *extra: str, record: Path = RECORD) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "issvis.cli", "view", str(record), "--web", "--port", str(port),
                             *extra], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT, env=env())


def wait_for_url(proc: subprocess.Popen, timeout_s: float = 90.0) -> str:
    import selectors

    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"the server ended (status {proc.returncode}): {proc.stderr.read()}")
        if sel.select(timeout=0.2):
            line = proc.stdout.readline()
            if "http://" in line:
                return line.split("serving ", 1)[1].split()[0]
    raise AssertionError("the server did not print its URL")


def stop_server(server: subprocess.Popen) -> tuple[str, str]:
    if server.poll() is None:
        server.send_signal(signal.SIGTERM)
    try:
        return server.communicate(timeout=15)
    except subprocess.TimeoutExpired:
        server.kill()
        return server.communicate()


@needs_browser
@pytest.mark.slow
def test_page_draws_the_station_and_earth_follows_slider_keys_and_clicks_and_ends_cleanly(tmp_path):
    port = free_port()
    server = start_server(port)
    try:
        url = wait_for_url(server)
        assert url.startswith(f"http://127.0.0.1:{port}/") and len(url.rstrip("/").rsplit("/", 1)[1]) >= 20
        asyncio.run(_drive_page(url, tmp_path))
        # the key is the lock: the same server, another key, another Host
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        conn.request("GET", "/wrongkey/")
        assert conn.getresponse().status == 403
        conn.close()
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        conn.request("GET", url.split(str(port), 1)[1], headers={"Host": f"attacker.example:{port}"})
        assert conn.getresponse().status == 403
        conn.close()
    finally:
        out, err = stop_server(server)
    assert server.returncode == 0, err
    assert "Traceback" not in err, err
    assert port_free(port), "the port is free again once the server has ended"


async def _drive_page(url: str, tmp_path: Path) -> None:
    from PIL import Image

    browser = await Browser().launch(VIEW_W, VIEW_H + 80)
    try:
        tab, rect = await open_viewer(browser, url, first=True)
        assert await tab.eval("window.issvis.stats().software") is True, "the test runs on software WebGL"
        # camera 2 (the whole station) at t = 0: the station in the middle, Earth below it
        await tab.key("2", 50)
        first = await tab.screenshot(rect)
        Image.fromarray(first).save(tmp_path / "webgl-t0.png")
        h, w = first.shape[:2]
        assert (w, h) == (VIEW_W, VIEW_H)
        centre = station_pixels(first[h // 4: 3 * h // 4, w // 4: 3 * w // 4])
        assert centre.mean() > 0.01, f"the station is in the middle of the picture ({centre.mean():.4f} of it)"
        assert earth_pixels(first).mean() > 0.05, f"Earth shows ({earth_pixels(first).mean():.4f} of the picture)"
        assert station_pixels(first[: h // 8, w - w // 8:]).mean() < 0.001, "the sky in the corner is dark"
        status = await tab.eval("document.getElementById('status').textContent")
        assert "t =     0.00 s" in status and "paused" in status and "whole station" in status

        # the slider: a click on its track at 3/4 moves the time there, and the picture follows
        slider = await tab.eval("(() => { const r = document.getElementById('time-slider').getBoundingClientRect(); "
                                "return [r.left, r.top, r.width, r.height]; })()")
        await tab.click(slider[0] + 0.75 * slider[2], slider[1] + slider[3] / 2)
        t_slider = await tab.wait_for("window.issvis.state.time > 0 && window.issvis.state.time", 10, "the slider's time")
        t_end = await tab.eval("window.issvis.tEnd")
        assert 0.6 * t_end < t_slider < 0.9 * t_end
        later = await tab.screenshot(rect)
        Image.fromarray(later).save(tmp_path / "webgl-slider.png")
        assert changed(first, later) > CHANGED_FRACTION, "the picture follows the slider"
        assert f"{t_slider:8.2f} s" in await tab.eval("document.getElementById('status').textContent")

        # keys: Left steps back one record sample, 'n' goes to the next event, 't' tints the sides
        await tab.eval("window.issvis.scrub(150)")
        before = await tab.screenshot(rect)
        await tab.key("ArrowLeft", 37)
        assert await tab.eval("window.issvis.state.time") < 150
        await tab.eval("window.issvis.scrub(0)")
        await tab.key("n", 78)
        assert await tab.eval("window.issvis.state.time") == pytest.approx(20.0)
        await tab.eval("window.issvis.scrub(150)")
        await tab.key("t", 84)
        tinted = await tab.screenshot(rect)
        Image.fromarray(tinted).save(tmp_path / "webgl-t150-tint.png")
        # the pixels 't' turned orange (the arrays' copper-gold Kapton backs are orange-ish untinted too)
        orange = orange_pixels(tinted) & ~orange_pixels(before)
        assert orange.mean() > 0.002, "the departing side shows in the tint's orange, where it was not before 't'"
        assert changed(before, tinted) > CHANGED_FRACTION

        # the page's poses and read-out are the record's and the desktop viewer's
        from issvis.pictures.viewer import ViewerState
        from issvis.record.record import Record
        from issvis.record.scene_of import part_labels_of

        record = Record.load(RECORD)
        for t in (21.3, 150.0, 287.9):
            got = await tab.eval(f"(() => {{ const r = window.issvis.rec; r.poseAt({t}); "
                                 f"return [Array.from(r.P), Array.from(r.Q)]; }})()")
            pos, quat = record.pose_at(t)
            assert np.abs(np.reshape(got[0], (-1, 3)) - pos).max() < 1e-3, "positions: Hermite, as Record.pose_at"
            q = np.reshape(got[1], (-1, 4))
            assert np.minimum(np.abs(q - quat).max(axis=1), np.abs(q + quat).max(axis=1)).max() < 1e-5, "slerp"
        desktop = ViewerState(record, part_labels=part_labels_of(record))
        desktop.select_preset(2)
        desktop.set_time(150.0)
        page = await tab.eval("document.getElementById('status').textContent")
        assert page.splitlines()[:-1] == desktop.status_text().splitlines()[:-1], "the corner read-out in the same words"

        # a click on an orange (departing) part names it, with its segment and mass
        ys, xs = np.nonzero(orange)
        info = ""
        for share in (0.5, 0.35, 0.65, 0.2, 0.8):
            k = int(len(xs) * share)
            await tab.click(rect[0] + xs[k] + 0.5, rect[1] + ys[k] + 0.5)
            info = await tab.eval("document.getElementById('info').hidden ? '' : document.getElementById('info').textContent")
            if info:
                break
        assert info, "a click on the station names the part in the info box"
        picked = await tab.eval("window.issvis.state.picked")
        names = [str(n) for n in record.names]
        assert picked in names, "the page picks one of the record's parts"
        b = names.index(picked)
        departing = record.separation_sides()[0]
        assert departing[b], "the orange pixel clicked is a part of the departing side"
        # the segment is the record's own: ROS for a module, the vehicle's name for a Soyuz or Progress
        assert f"part     {picked}" in info and f"segment  {record.segment[b]}" in info
        assert " kg" in info and "m/s" in info
        await tab.key("h", 72)
        assert "play / pause" in await tab.eval("document.getElementById('help').hidden ? '' : "
                                                "document.getElementById('help').textContent")

        # '+' and '-' walk the speed ladder; '1' is the scene's keyframe camera, which a drag makes free
        await tab.key("h", 72)  # the help off again
        await tab.key("+", 187)
        assert await tab.eval("window.issvis.state.speed") == 20
        await tab.key("-", 189)
        await tab.key("-", 189)
        assert await tab.eval("window.issvis.state.speed") == 5
        await tab.key("1", 49)
        assert await tab.eval("window.issvis.state.preset") == 1
        still = await tab.screenshot(rect)
        cx, cy = rect[0] + rect[2] / 2, rect[1] + rect[3] / 2
        await tab.send("Input.dispatchMouseEvent", type="mousePressed", x=cx, y=cy, button="left", buttons=1, clickCount=1)
        for k in range(1, 11):
            await tab.send("Input.dispatchMouseEvent", type="mouseMoved", x=cx + 25 * k, y=cy + 6 * k, button="left", buttons=1)
        await tab.send("Input.dispatchMouseEvent", type="mouseReleased", x=cx + 250, y=cy + 60, button="left", buttons=1,
                       clickCount=1)
        assert await tab.eval("window.issvis.state.preset") == 0, "the mouse took the keyframe camera: free"
        assert changed(still, await tab.screenshot(rect)) > CHANGED_FRACTION, "the drag turned the view"
        assert "camera: free" in await tab.eval("document.getElementById('status').textContent")

        # a second tab is a viewer of its own: another time, another picture, the first one unchanged
        tab2, rect2 = await open_viewer(browser, url)
        await tab2.eval("window.issvis.scrub(250)")
        await tab2.key("2", 50)
        other = await tab2.screenshot(rect2)
        assert await tab.eval("window.issvis.state.time") == pytest.approx(150.0)
        assert await tab2.eval("window.issvis.state.time") == pytest.approx(250.0)
        assert changed(tinted, other) > CHANGED_FRACTION
        assert "250.00 s" in await tab2.eval("document.getElementById('status').textContent")
        assert "150.00 s" in await tab.eval("document.getElementById('status').textContent")

        # nothing was asked of any other server, by either tab
        origin = url.split("/", 3)[:3]
        base = "/".join(origin) + "/"
        urls = {e["params"]["request"]["url"] for t in (tab, tab2) for e in t.events
                if e["method"] == "Network.requestWillBeSent"}
        elsewhere = sorted(u for u in urls if not u.startswith((base, "blob:" + base[:-1], "data:")))
        assert not elsewhere, f"the page fetched from elsewhere: {elsewhere}"
        assert any(u.endswith((".glb", "facts.json")) for u in urls), "the log holds the page's own requests"
        # a wrong key asked from inside the page is refused too
        assert await tab.eval(f"fetch('{base}nokey/facts.json').then(r => r.status)") == 403
    finally:
        await browser.close()


@needs_browser
@pytest.mark.slow
def test_sigterm_ends_the_server_with_a_page_open_and_frees_the_port():
    port = free_port()
    server = start_server(port, "--play")
    try:
        url = wait_for_url(server)
        assert url.endswith("?play=1")

        async def load() -> None:
            browser = await Browser().launch(640, 480)
            try:
                tab, _ = await open_viewer(browser, url, first=True, width=640, height=360)
                t0 = await tab.eval("window.issvis.state.time")
                await asyncio.sleep(0.5)
                assert await tab.eval("window.issvis.state.playing") is True
                assert await tab.eval("window.issvis.state.time") > t0, "--play: the page plays"
                server.send_signal(signal.SIGTERM)
                server.wait(15)
                await asyncio.sleep(0.3)
                assert await tab.eval("window.issvis.state.time") > t0, "the page goes on without its server"
            finally:
                await browser.close()

        asyncio.run(load())
    finally:
        out, err = stop_server(server)
    assert server.returncode == 0 and "Traceback" not in err, err
    assert port_free(port)


@needs_browser
@pytest.mark.slow
def test_the_page_at_rest_is_at_full_resolution_and_moving_frames_scale_with_the_frame_time():
    """Dynamic resolution: slow frames step the moving picture's scale down (and not straight back up),
    playing draws the canvas at that scale and says so in the corner, a pause draws one frame at full
    resolution, quick frames raise the scale again. Driven through the page's own frame-time input
    (``adaptScale``), not by timing this machine."""
    port = free_port()
    server = start_server(port)
    try:
        url = wait_for_url(server)
        asyncio.run(_drive_dynamic_resolution(url))
    finally:
        out, err = stop_server(server)
    assert server.returncode == 0 and "Traceback" not in err, err


async def _drive_dynamic_resolution(url: str) -> None:
    browser = await Browser().launch(VIEW_W, VIEW_H + 80)
    try:
        tab, _ = await open_viewer(browser, url, first=True)
        v = "window.issvis"
        rest = await tab.eval(f"{v}.stats()")
        assert rest["dynamic"] and not rest["playing"]
        assert rest["scale"] == 1 and rest["drawingBuffer"] == [VIEW_W, VIEW_H], "at rest: full resolution"
        start = rest["movingScale"]
        assert start == 0.5, "a software renderer starts its moving frames at half size"
        # 60 ms frames (17 frames/s, under the 30 aimed at): one step down per 8 frames
        slow = await tab.eval(f"Array.from({{length: 16}}, () => {v}.adaptScale(60))")
        assert slow[6] == start and slow[7] < start and slow[15] < slow[7], "two steps down"
        assert (await tab.eval(f"{v}.stats()"))["scale"] == 1, "a paused picture stays at full resolution"
        quick_now = await tab.eval(f"Array.from({{length: 16}}, () => {v}.adaptScale(10))")
        assert quick_now[-1] == slow[-1], "a step just found too slow is not tried again at once (no see-saw)"

        await tab.eval(f"{v}.action('play')")
        playing = await tab.wait_for(f"{v}.stats().scale < 1 && {v}.stats()", 10,
                                     "a playing frame at the reduced scale")
        scale = playing["scale"]
        assert scale <= slow[-1] + 1e-9, "playing draws at the moving scale"
        await tab.wait_for(f"{v}.stats().drawingBuffer[0] === Math.floor({VIEW_W} * {v}.stats().scale)", 10,
                           "the canvas's drawing buffer at the scale")
        status = await tab.wait_for("(() => { const s = document.getElementById('status').textContent; "
                                    "return /frames\\/s at 0\\.\\d\\d scale/.test(s) && s; })()", 10,
                                    "the corner's frame rate with the scale")
        assert "playing" in status

        await tab.eval(f"{v}.action('play')")  # pause: one frame at full resolution
        await tab.wait_for(f"!{v}.state.playing && {v}.stats().scale === 1", 10, "the pause's full-resolution frame")
        await tab.drawn()
        still = await tab.eval(f"{v}.stats()")
        assert still["drawingBuffer"] == [VIEW_W, VIEW_H] and still["mode"] == "full"
        assert "still" in await tab.eval("document.getElementById('status').textContent")

        # later (the slow steps' memory, moved 6 s into the past), quick frames raise the scale step by step
        await tab.eval(f"{v}.slowAt = {v}.slowAt.map((t) => t - 6000)")
        quick = await tab.eval(f"Array.from({{length: 64}}, () => {v}.adaptScale(10))")
        assert quick[-1] == 1 and quick[7] > quick[0], "back to full size when frames are quick"
    finally:
        await browser.close()


def test_every_file_of_the_page_is_in_the_package_data():
    """pyproject's package-data globs take every file of static/ into the wheel (the page fetches nothing else)."""
    import fnmatch
    import tomllib

    data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert "issvis.pictures.webgl" in data["packages"]
    globs = data["package-data"]["issvis.pictures.webgl"]
    here = ROOT / "issvis" / "pictures" / "webgl"
    files = [p.relative_to(here).as_posix() for p in (here / "static").rglob("*") if p.is_file()]
    assert "static/vendor/three/LICENSE" in files and "static/viewer.js" in files
    # setuptools' '*' does not cross '/'
    missing = [f for f in files if not any(fnmatch.fnmatch(f, g) and f.count("/") == g.count("/") for g in globs)]
    assert not missing, f"not in the wheel: {missing}"
