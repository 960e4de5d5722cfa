"""The viewer in a browser (issue 12).

The server runs as a user runs it (``issvis view RECORD --web --port P`` in a subprocess); Debian's
headless Chromium loads the page and is driven through the DevTools protocol (a websocket; aiohttp
comes with trame). The page's controls call the desktop viewer's own methods, whose logic
tests/test_viewer.py checks; here: the page shows the station, its controls and keys reach the
server, the picture follows, nothing is fetched from elsewhere, and the server ends cleanly.

The server is also probed as a hostile page or program would (issue 21): another site's page, a
wrong key, a foreign Host (DNS rebinding), the exit call, huge message claims, a replayed ready
event, a plain GET of the websocket path. Every probe is on 127.0.0.1, against a server the test
starts and stops itself.
"""

from __future__ import annotations

import asyncio
import base64
import io
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest

from issvis.pictures import web as webview

from .conftest import ROOT
from .devtools import DevToolsConnection

# the trame stream's server tests start servers and Chromium: the full suite runs them (make test, CI)
pytestmark = pytest.mark.slow

CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
RECORD = ROOT / "tests" / "golden" / "undock.npz"
VIEW_W, VIEW_H = 1280, 720  # the picture's size in the page (the server renders at the element's size)
#: A picture 'changed' when this fraction of its pixels moved by more than 24 levels; two frames of the
#: same state differ by JPEG noise alone (< 0.1 %), a moved station changes several per cent.
CHANGED_FRACTION = 0.01


def _have_trame() -> bool:
    try:
        webview.check_trame()
    except webview.WebViewError:
        return False
    return True


needs_browser = pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (apt-get install chromium)")
needs_trame = pytest.mark.skipif(not _have_trame(), reason="trame is not installed (pip install 'issvis[web]')")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _env() -> dict[str, str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env.pop("DISPLAY", None)  # no display at all: the page is rendered through EGL
    return env


# --- pure parts ------------------------------------------------------------------------------
def test_page_keys_map_to_the_desktop_viewers_actions():
    assert webview.key_action(" ") == "play"
    assert webview.key_action("+") == webview.key_action("=") == "faster"
    assert webview.key_action("-") == "slower"
    assert webview.key_action("ArrowRight") == "step_next" and webview.key_action("ArrowLeft") == "step_prev"
    assert webview.key_action("n") == "event_next" and webview.key_action("N") == "event_prev"
    assert [webview.key_action(k) for k in "1234"] == ["preset1", "preset2", "preset3", "preset4"]
    assert (webview.key_action("t"), webview.key_action("r"), webview.key_action("a"), webview.key_action("h")) == \
        ("tint", "trails", "axes", "help")
    assert webview.key_action("x") is None and webview.key_action("Shift") is None


def test_import_pulls_in_neither_trame_nor_vtk():
    code = ("import sys, issvis.pictures.web; print(sorted({'trame', 'trame_vtk', 'pyvista', 'vtk', 'aiohttp'} "
            "& set(sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT, env=_env())
    assert out.stdout.strip() == "[]"


def test_port_in_use_is_exit_2_with_the_fix_before_simulating(in_repo):
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        start = time.perf_counter()
        out = subprocess.run([sys.executable, "-m", "issvis.cli", "view", "scenes/undock.toml", "--web", "--server-render", "--port",
                              str(port)], capture_output=True, text=True, cwd=ROOT, env=_env(), timeout=60)
    if not _have_trame():
        assert out.returncode == 2 and "pip install 'issvis[web]'" in out.stderr
        return
    assert out.returncode == 2, out.stderr
    assert out.stderr.count("\n") == 1 and "Traceback" not in out.stderr
    assert f"--port {port}" in out.stderr and "in use" in out.stderr and "--port N" in out.stderr
    assert time.perf_counter() - start < 20, "checked before the scene was simulated"


def test_a_host_that_is_not_here_names_the_host():
    with pytest.raises(webview.WebViewError, match="--host 'no.such.host.invalid'"):
        webview.check_port("no.such.host.invalid", _free_port())
    with pytest.raises(webview.WebViewError, match="--host 192.0.2.1: not an address of this machine"):
        webview.check_port("192.0.2.1", _free_port())  # TEST-NET-1: never assigned to a machine


def test_trame_missing_is_exit_2_with_the_fix(monkeypatch, capsys):
    from issvis.cli import main

    monkeypatch.setitem(sys.modules, "trame_vtk", None)  # an import of it fails as if not installed
    status = main(["view", str(RECORD), "--web", "--server-render", "--port", str(_free_port())])
    err = capsys.readouterr().err
    assert status == 2
    assert err.count("\n") == 1 and "trame-vtk" in err and "pip install 'issvis[web]'" in err


# --- the page in a browser ---------------------------------------------------------------------
class DevTools(DevToolsConnection):
    """The smallest client of Chromium's DevTools protocol: commands, and the events kept in a list."""

    reply_timeout_s = 20.0

    def __init__(self) -> None:
        super().__init__()
        self.proc: subprocess.Popen | None = None

    async def launch(self, width: int, height: int) -> None:
        import aiohttp

        self._dir = tempfile.TemporaryDirectory(prefix="issvis-chromium-", ignore_cleanup_errors=True)
        self.proc = subprocess.Popen(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--disable-default-apps", "--disable-extensions", f"--user-data-dir={self._dir.name}",
             "--remote-debugging-port=0", f"--window-size={width},{height}", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        port_file = Path(self._dir.name) / "DevToolsActivePort"
        deadline = time.monotonic() + 20
        while not (port_file.exists() and port_file.read_text().count("\n") >= 1):
            assert time.monotonic() < deadline, "chromium did not start its DevTools server"
            await asyncio.sleep(0.05)
        port = int(port_file.read_text().split()[0])
        self.session = aiohttp.ClientSession()
        async with self.session.get(f"http://127.0.0.1:{port}/json/list") as reply:
            page = next(t for t in await reply.json() if t["type"] == "page")
        self.ws = await self.session.ws_connect(page["webSocketDebuggerUrl"], max_msg_size=0)
        self._reader = asyncio.ensure_future(self._read())

    async def wait_for(self, expression: str, timeout_s: float = 15.0, what: str = ""):
        deadline = time.monotonic() + timeout_s
        while True:
            value = await self.eval(expression)
            if value:
                return value
            assert time.monotonic() < deadline, f"timed out waiting for {what or expression}"
            await asyncio.sleep(0.05)

    async def close(self) -> None:
        if getattr(self, "ws", None) is not None:
            await self.ws.close()
            await self._reader
        if getattr(self, "session", None) is not None:
            await self.session.close()
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(10)
        self._dir.cleanup()


# counts the frames the page receives: each one is a new blob behind the view's <img>
FRAME_COUNTER = """
(() => {
  const img = document.querySelector('img[src^="blob:"]');
  if (!img) return false;
  if (!window.__frames) {
    window.__frames = [];
    img.addEventListener('load', () => window.__frames.push(performance.now()));
  }
  return true;
})()
"""
VIEW_RECT = ("(() => { const r = document.querySelector('img[src^=\"blob:\"]').getBoundingClientRect(); "
             "return [r.left, r.top, r.width, r.height]; })()")


async def _screenshot(tools: DevTools, rect) -> np.ndarray:
    from PIL import Image

    x, y, w, h = rect
    shot = await tools.send("Page.captureScreenshot", format="png",
                            clip={"x": x, "y": y, "width": w, "height": h, "scale": 1})
    with Image.open(io.BytesIO(base64.b64decode(shot["data"]))) as im:
        return np.asarray(im.convert("RGB"))


async def _next_frame(tools: DevTools, after: int, timeout_s: float = 15.0, quiet_s: float = 0.6) -> float:
    """Wait until the page has received more than `after` frames and then none for quiet_s; the time of
    the latest (page ms). Under a load of 6 on 2 cores the screenshot after the first new frame once
    showed the picture before 't' (a frame still being drawn, or a late one): the last frame is the one."""
    await tools.wait_for(f"window.__frames.length > {after}", timeout_s, "a new frame")
    deadline = time.monotonic() + timeout_s
    count = await tools.eval("window.__frames.length")
    while time.monotonic() < deadline:
        await asyncio.sleep(quiet_s)
        now = await tools.eval("window.__frames.length")
        if now == count:
            break
        count = now
    await asyncio.sleep(0.15)  # let the image be composited before a screenshot
    return await tools.eval("window.__frames[window.__frames.length - 1]")


def _station_pixels(img: np.ndarray) -> np.ndarray:
    """Bright, nearly grey pixels: the station's white modules and radiators (space is black, Earth
    blue-green-brown and darker)."""
    f = img.astype(float)
    bright = f.min(axis=2) > 150
    grey = (f.max(axis=2) - f.min(axis=2)) < 40
    return bright & grey


def _orange_pixels(img: np.ndarray) -> np.ndarray:
    """The departing side's tint (stage.TINTS, orange) as lit: red well above blue and green."""
    f = img.astype(int)
    return (f[..., 0] > 120) & (f[..., 0] - f[..., 2] > 70) & (f[..., 0] - f[..., 1] > 30)


def _changed(a: np.ndarray, b: np.ndarray) -> float:
    return float((np.abs(a.astype(int) - b.astype(int)).max(axis=2) > 24).mean())


def _start_server(port: int, *extra: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "issvis.cli", "view", str(RECORD), "--web", "--server-render", "--port", str(port),
                             *extra], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT, env=_env())


def _wait_for_url(proc: subprocess.Popen, timeout_s: float = 60.0) -> str:
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


@needs_browser
@needs_trame
@pytest.mark.slow
def test_page_shows_the_station_follows_time_keys_and_picks_and_the_server_ends_cleanly(tmp_path):
    port = _free_port()
    server = _start_server(port)
    try:
        url = _wait_for_url(server)
        assert url.startswith(f"http://127.0.0.1:{port}/?secret=")  # the page's URL carries the run's key
        asyncio.run(_drive_page(url, tmp_path))
    finally:
        if server.poll() is None:
            server.send_signal(signal.SIGTERM)
        try:
            out, err = server.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            out, err = server.communicate()
    assert server.returncode == 0, err
    assert "Traceback" not in err, err
    assert _port_free(port), "the port is free again once the server has ended"


async def _drive_page(url: str, tmp_path: Path) -> None:
    from PIL import Image

    tools = DevTools()
    await tools.launch(VIEW_W, VIEW_H + 120)
    try:
        await tools.send("Network.enable")
        await tools.send("Page.enable")
        await tools.send("Emulation.setDeviceMetricsOverride", width=VIEW_W, height=VIEW_H + 120,
                         deviceScaleFactor=1, mobile=False)
        await tools.send("Page.navigate", url=url)
        await tools.wait_for(FRAME_COUNTER, 30, "the view's first picture")
        await tools.wait_for("window.__frames.length > 0 || document.querySelector('img[src^=\"blob:\"]').complete",
                             15, "the first picture to load")
        rect = await tools.eval(VIEW_RECT)  # make the picture VIEW_W x VIEW_H, below the toolbar, above the slider
        await tools.send("Emulation.setDeviceMetricsOverride", width=VIEW_W, height=VIEW_H + 120 + VIEW_H - round(rect[3]),
                         deviceScaleFactor=1, mobile=False)
        await asyncio.sleep(1.0)  # the page settles at its size; the server renders at that size
        rect = await tools.eval(VIEW_RECT)
        first = await _screenshot(tools, rect)
        Image.fromarray(first).save(tmp_path / "web-t0.png")
        h, w = first.shape[:2]
        assert (w, h) == (VIEW_W, VIEW_H)
        centre = _station_pixels(first[h // 4: 3 * h // 4, w // 4: 3 * w // 4])
        corner = _station_pixels(first[: h // 6, w - w // 6:])  # the sky at the top right
        assert centre.mean() > 0.01, f"the station is in the middle of the picture ({centre.mean():.4f} of it)"
        assert corner.mean() < 0.001, "the sky in the corner is not mistaken for the station"
        status = await tools.eval("document.querySelector('#status').textContent")
        assert "t =" in status and "0.00 s" in status and "paused" in status
        assert "secret" not in await tools.eval("location.href"), "the page drops the key from the address bar"

        # move time through the server's state, as the page's slider does
        n = await tools.eval("window.__frames.length")
        await tools.eval("window.trame.trigger('issvis_scrub', [150])")
        await _next_frame(tools, n)
        await tools.wait_for("document.querySelector('#status').textContent.includes('150.00 s')", 10,
                             "the read-out at t = 150 s")
        later = await _screenshot(tools, rect)
        Image.fromarray(later).save(tmp_path / "web-t150.png")
        assert _changed(first, later) > CHANGED_FRACTION, "the picture follows the record time"
        assert await tools.eval("window.trame.state.get('time_s')") == pytest.approx(150.0)
        natural = await tools.eval("(() => { const i = document.querySelector('img[src^=\"blob:\"]'); "
                                   "return [i.naturalWidth, i.naturalHeight]; })()")
        assert natural == [VIEW_W, VIEW_H], "the server renders at the page's size, after the page was resized"

        # keys on the page: '2' frames the whole station, 't' tints the two sides (orange and blue)
        shots = []
        for key, code in (("2", 50), ("t", 84)):
            n = await tools.eval("window.__frames.length")
            for kind in ("keyDown", "keyUp"):
                await tools.send("Input.dispatchKeyEvent", type=kind, key=key, text=key if kind == "keyDown" else "",
                                 windowsVirtualKeyCode=code)
            await _next_frame(tools, n)
            shots.append(await _screenshot(tools, rect))
        framed, tinted = shots
        Image.fromarray(tinted).save(tmp_path / "web-t150-tint.png")
        assert _changed(later, framed) > CHANGED_FRACTION, "key 2 moved the camera"
        # the pixels 't' turned orange (the arrays' copper-gold Kapton backs are orange-ish untinted too)
        orange = _orange_pixels(tinted) & ~_orange_pixels(framed)
        assert orange.mean() > 0.002, "the departing side shows in the tint's orange, where it was not before 't'"
        assert await tools.eval("window.trame.state.get('tint')") is True
        assert await tools.eval("window.trame.state.get('preset')") == 2

        # a click on a white part: its name, segment, mass and velocity in the info box
        # (the tint's orange pixels are the station's alone: white clouds on Earth look like modules;
        # a few candidates, as one may fall on a gap between members or on a jet's glow)
        ys, xs = np.nonzero(orange)
        info = None
        for share in (0.5, 0.35, 0.65, 0.2, 0.8):
            k = int(len(xs) * share)
            x, y = rect[0] + xs[k] + 0.5, rect[1] + ys[k] + 0.5
            for kind in ("mousePressed", "mouseReleased"):
                await tools.send("Input.dispatchMouseEvent", type=kind, x=x, y=y, button="left", clickCount=1)
            try:
                info = await tools.wait_for(
                    "document.querySelector('#info') && document.querySelector('#info').textContent", 3,
                    "the info box of the clicked part")
                break
            except AssertionError:
                continue
        assert info, "a click on the station names the part in the info box"
        assert "segment" in info and " kg" in info and "m/s" in info

        # with the picture focused by that click, keys still reach the viewer: 'h' shows the help
        for kind in ("keyDown", "keyUp"):
            await tools.send("Input.dispatchKeyEvent", type=kind, key="h", text="h" if kind == "keyDown" else "",
                             windowsVirtualKeyCode=72)
        help_text = await tools.wait_for("document.querySelector('#help') && document.querySelector('#help').textContent",
                                         10, "the help box")
        assert "play / pause" in help_text and "click a part" in help_text

        # nothing was asked of any other server
        urls = {e["params"]["request"]["url"] for e in tools.events if e["method"] == "Network.requestWillBeSent"}
        base = url.split("?", 1)[0]
        elsewhere = sorted(u for u in urls if not u.startswith((base, "blob:" + base[:-1], "data:")))
        assert not elsewhere, f"the page fetched from elsewhere: {elsewhere}"

        # a page from another site (here another port: another origin) in the same browser gets no websocket
        from aiohttp import web

        async def other_site(_request):
            return web.Response(text="<title>elsewhere</title>", content_type="text/html")

        app = web.Application()
        app.router.add_get("/", other_site)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        try:
            elsewhere_url = f"http://127.0.0.1:{runner.addresses[0][1]}/"
            loads = sum(e["method"] == "Page.loadEventFired" for e in tools.events)
            await tools.send("Page.navigate", url=elsewhere_url)
            deadline = time.monotonic() + 15  # evaluate in the new page, not in the one going away
            while sum(e["method"] == "Page.loadEventFired" for e in tools.events) == loads:
                assert time.monotonic() < deadline, "the other site's page did not load"
                await asyncio.sleep(0.05)
            assert await tools.eval("document.title") == "elsewhere"
            ws_url = base.replace("http://", "ws://") + "ws"
            outcome = await tools.eval(f"""new Promise(done => {{
                const ws = new WebSocket('{ws_url}');
                ws.onopen = () => done('open');
                ws.onerror = () => done('refused');
                setTimeout(() => done('no answer'), 5000);
            }})""")
        finally:
            await runner.cleanup()
        assert outcome == "refused"
    finally:
        await tools.close()


@needs_trame
@pytest.mark.slow
def test_ctrl_c_ends_the_server_cleanly_without_a_page():
    port = _free_port()
    server = _start_server(port)
    try:
        _wait_for_url(server)
        assert not _port_free(port), "it listens"
        server.send_signal(signal.SIGINT)
        out, err = server.communicate(timeout=15)
    finally:
        if server.poll() is None:
            server.kill()
            server.communicate()
    assert server.returncode == 0 and "Traceback" not in err, err
    assert _port_free(port)


# --- the server refuses what a hostile page or program sends (issue 21) ---------------------------
TRAME_DEFAULT_SECRET = "wslink-secret"  # trame's public default key: it must never open the websocket


def _pack_chunk(message_id: int, offset: int, total_bytes: int, content: bytes) -> bytes:
    """One wslink chunk: message id, offset and total size (three little-endian uint32), then content."""
    return (message_id.to_bytes(4, "little") + offset.to_bytes(4, "little") + total_bytes.to_bytes(4, "little")
            + content)


class Served:
    """`issvis view RECORD --web` on a free 127.0.0.1 port; its stdout and stderr read as they come."""

    def __init__(self) -> None:
        import threading
        from urllib.parse import parse_qs, urlsplit

        self.port = _free_port()
        self.proc = _start_server(self.port)
        self.out: list[str] = []
        self.err: list[str] = []
        self._readers = [threading.Thread(target=lambda s=stream, keep=lines: keep.extend(iter(s.readline, "")),
                                          daemon=True)
                         for stream, lines in ((self.proc.stdout, self.out), (self.proc.stderr, self.err))]
        for reader in self._readers:
            reader.start()
        deadline = time.monotonic() + 90
        while not any("http://" in line for line in self.out):
            assert self.proc.poll() is None, f"the server ended: {''.join(self.err)}"
            assert time.monotonic() < deadline, "the server did not print its URL"
            time.sleep(0.1)
        self.url = next(line for line in self.out if "http://" in line).split("serving ", 1)[1].split()[0]
        self.key = parse_qs(urlsplit(self.url).query).get("secret", [None])[0]
        self.origin = f"http://127.0.0.1:{self.port}"
        self.ws_url = f"ws://127.0.0.1:{self.port}/ws"

    def rss_bytes(self) -> int:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        raise AssertionError("no VmRSS for the server")

    def stop(self) -> tuple[int, str, str]:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        for reader in self._readers:
            reader.join(10)  # they end at the pipes' end, with the last lines
        self.proc.stdout.close()
        self.proc.stderr.close()
        return self.proc.returncode, "".join(self.out), "".join(self.err)


class Wslink:
    """The smallest wslink client (msgpack messages in chunks), as a page's script or a program speaks it."""

    def __init__(self, ws) -> None:
        self.ws = ws
        self.replies: dict[str, dict] = {}
        self._partial: dict[int, bytearray] = {}
        self._received: dict[int, int] = {}
        self._n = 0
        self.close_code: int | None = None
        self._reader = asyncio.ensure_future(self._read())

    @classmethod
    async def open(cls, session, url: str, origin: str | None, host: str | None = None) -> Wslink:
        headers = {"Host": host} if host else {}
        return cls(await session.ws_connect(url, origin=origin, headers=headers, max_msg_size=0, autoping=True))

    async def _read(self) -> None:
        import aiohttp
        import msgpack

        async for msg in self.ws:
            if msg.type != aiohttp.WSMsgType.BINARY:
                continue
            data = msg.data
            mid, offset, total = (int.from_bytes(data[i:i + 4], "little") for i in (0, 4, 8))
            buf = self._partial.setdefault(mid, bytearray(total))
            buf[offset:offset + len(data) - 12] = data[12:]
            self._received[mid] = self._received.get(mid, 0) + len(data) - 12
            if self._received[mid] >= total:
                del self._received[mid]
                reply = msgpack.unpackb(bytes(self._partial.pop(mid)))
                if isinstance(reply, dict):
                    self.replies[str(reply.get("id"))] = reply
        self.close_code = self.ws.close_code

    async def send(self, message: dict) -> None:
        import msgpack

        packed = msgpack.packb(message)
        await self.ws.send_bytes(_pack_chunk(int.from_bytes(os.urandom(4), "little"), 0, len(packed), packed))

    async def call(self, method: str, *args, system: bool = False, timeout_s: float = 5.0) -> dict | None:
        """Call method; its reply (``result`` or ``error``), or None when the server closed first."""
        self._n += 1
        rpc_id = f"{'system' if system else 'rpc'}:c0:{self._n}"
        await self.send({"wslink": "1.0", "id": rpc_id, "method": method, "args": list(args), "kwargs": {}})
        deadline = time.monotonic() + timeout_s
        while rpc_id not in self.replies:
            if self._reader.done():
                return None
            assert time.monotonic() < deadline, f"no reply to {method}"
            await asyncio.sleep(0.02)
        return self.replies.pop(rpc_id)

    async def hello(self, key) -> dict | None:
        return await self.call("wslink.hello", {"secret": key} if key is not None else {}, system=True)

    async def closed_by_server(self, timeout_s: float = 5.0) -> int | None:
        """The close code once the server has closed the socket; None if it is still open after timeout_s."""
        try:
            await asyncio.wait_for(asyncio.shield(self._reader), timeout_s)
        except TimeoutError:
            return None
        return self.close_code

    async def close(self) -> None:
        await self.ws.close()
        await self._reader


@pytest.fixture(scope="module")
def served():
    if not _have_trame():
        pytest.skip("trame is not installed (pip install 'issvis[web]')")
    server = Served()
    try:
        yield server
    finally:
        server.stop()


async def _with_session(probe):
    import aiohttp

    async with aiohttp.ClientSession() as session:
        return await probe(session)


def test_the_url_carries_a_fresh_random_key(served):
    assert served.url.startswith(f"http://127.0.0.1:{served.port}/?secret=")
    assert served.key is not None and served.key != TRAME_DEFAULT_SECRET
    assert len(served.key) >= 32 and set(served.key) <= set(
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"), "secrets.token_urlsafe, >= 192 bits"
    assert webview.new_key() != webview.new_key()


def test_a_websocket_from_another_origin_is_refused(served):
    import aiohttp

    port = served.port
    foreign = ["http://evil.example", f"http://evil.example:{port}", "null", f"http://127.0.0.1:{port + 1}",
               f"https://127.0.0.1:{port}", f"http://127.0.0.1.evil.example:{port}", f"http://localhost:{port}", None]

    async def probe(session):
        refused = {}
        for origin in foreign:
            try:
                ws = await Wslink.open(session, served.ws_url, origin)
            except aiohttp.WSServerHandshakeError as exc:
                refused[origin] = exc.status
            else:
                await ws.close()
                refused[origin] = 101
        own = await Wslink.open(session, served.ws_url, served.origin)  # the page's own origin connects
        await own.close()
        by_name = await Wslink.open(session, f"ws://localhost:{port}/ws", f"http://localhost:{port}",
                                    host=f"localhost:{port}")
        await by_name.close()
        return refused

    refused = asyncio.run(_with_session(probe))
    # localhost is this server's name too, but a page at http://localhost:P talks to ws://localhost:P
    assert refused == dict.fromkeys(foreign, 403), refused


def test_a_wrong_or_missing_key_is_refused_and_the_socket_closed(served):
    async def probe(session):
        results = {}
        for name, key in (("trame's default", TRAME_DEFAULT_SECRET), ("wrong", "x" * 32), ("empty", ""),
                          ("missing", None), ("not text", 12345)):
            ws = await Wslink.open(session, served.ws_url, served.origin)
            reply = await ws.hello(key)
            results[name] = ((reply or {}).get("error", {}).get("message"), await ws.closed_by_server())
        ws = await Wslink.open(session, served.ws_url, served.origin)  # a call before any hello
        reply = await ws.call("trame.trigger", "issvis_action", ["play"], {})
        results["no hello"] = ((reply or {}).get("error", {}).get("message"), await ws.closed_by_server())
        ws = await Wslink.open(session, served.ws_url, served.origin)
        reply = await ws.hello(served.key)
        results["the key"] = ("clientID" in reply.get("result", {}), await ws.closed_by_server(0.5))
        await ws.close()
        return results

    results = asyncio.run(_with_session(probe))
    for name in ("trame's default", "wrong", "empty", "missing", "not text"):
        assert results[name] == ("Authentication failed", 1008), (name, results[name])
    assert results["no hello"][1] == 1008, results["no hello"]
    assert results["the key"] == (True, None), "the run's key opens the websocket, which stays open"


def test_a_foreign_host_is_refused_so_dns_rebinding_gets_nothing(served):
    import aiohttp

    port = served.port

    async def probe(session):
        status = {}
        for host in (f"evil.example:{port}", "evil.example", f"127.0.0.1:{port + 1}", f"127.0.0.1.nip.io:{port}"):
            async with session.get(f"http://127.0.0.1:{port}/", headers={"Host": host}, allow_redirects=False) as r:
                status[f"GET {host}"] = r.status
            try:
                ws = await Wslink.open(session, served.ws_url, f"http://{host}", host=host)
            except aiohttp.WSServerHandshakeError as exc:
                status[f"ws {host}"] = exc.status
            else:
                await ws.close()
                status[f"ws {host}"] = 101
        async with session.get(f"http://127.0.0.1:{port}/", allow_redirects=False) as r:
            own = r.status
        return status, own

    status, own = asyncio.run(_with_session(probe))
    assert set(status.values()) == {403}, status
    assert own in (200, 302), "the page's own Host is served"


def test_a_plain_get_of_the_websocket_path_is_an_http_error_without_a_traceback(served):
    async def probe(session):
        codes = []
        for method in ("GET", "POST", "HEAD"):
            async with session.request(method, f"http://127.0.0.1:{served.port}/ws",
                                       headers={"Origin": served.origin}) as r:
                codes.append(r.status)
        return codes

    codes = asyncio.run(_with_session(probe))
    time.sleep(0.5)
    assert codes[0] == 426 and all(400 <= c < 500 for c in codes), codes
    assert "Traceback" not in "".join(served.err), "".join(served.err)


async def _send_unless_closed(ws: Wslink, data: bytes) -> None:
    try:
        await ws.ws.send_bytes(data)
        await asyncio.sleep(0.005)  # the server reads it before the next
    except ConnectionError:
        pass  # the server has closed the socket: what the probe wants


def test_messages_claiming_more_than_the_cap_are_refused_without_allocating(served):
    huge = 100 * 1024 * 1024

    async def probe(session):
        closed = {}
        ws = await Wslink.open(session, served.ws_url, served.origin)
        assert "result" in await ws.hello(served.key)
        for k in range(3):  # three 13-byte messages, each claiming 100 MiB
            await _send_unless_closed(ws, _pack_chunk(1000 + k, 0, huge, b"\x00"))
        closed["one huge claim"] = await ws.closed_by_server()
        ws = await Wslink.open(session, served.ws_url, served.origin)
        assert "result" in await ws.hello(served.key)
        for k in range(100):  # 100 claims of 3 MiB each, every one under the cap, 300 MiB in all
            await _send_unless_closed(ws, _pack_chunk(2000 + k, 0, 3 * 1024 * 1024, b"\x00"))
        closed["many claims"] = await ws.closed_by_server()
        ws = await Wslink.open(session, served.ws_url, served.origin)
        assert "result" in await ws.hello(served.key)
        await ws.ws.send_bytes(os.urandom(5))  # shorter than a chunk header
        closed["no header"] = await ws.closed_by_server()
        ws = await Wslink.open(session, served.ws_url, served.origin)
        assert "result" in await ws.hello(served.key)
        await ws.ws.send_str("hello")  # wslink speaks binary only
        closed["text"] = await ws.closed_by_server()
        return closed

    before = served.rss_bytes()
    closed = asyncio.run(_with_session(probe))
    time.sleep(0.5)
    grown = served.rss_bytes() - before
    assert grown < 32 * 1024 * 1024, f"the server grew by {grown / 2**20:.0f} MiB"
    assert closed == {"one huge claim": 1009, "many claims": 1009, "no header": 1002, "text": 1003}, closed
    assert webview.MAX_MESSAGE_BYTES <= 8 * 1024 * 1024


def test_replaying_the_ready_event_does_not_run_start_up_again(served):
    async def probe(session):
        ws = await Wslink.open(session, served.ws_url, served.origin)
        assert "result" in await ws.hello(served.key)
        replies = [await ws.call("trame.lifecycle.update", "server_ready") for _ in range(30)]
        await ws.close()
        return replies

    serving_before = sum("serving" in line for line in served.out)
    replies = asyncio.run(_with_session(probe))
    time.sleep(1.0)
    assert all(reply is not None for reply in replies), "the socket stays open"
    assert sum("serving" in line for line in served.out) == serving_before == 1, "".join(served.out)


def test_there_is_no_exit_over_the_wire(served):
    async def probe(session):
        ws = await Wslink.open(session, served.ws_url, served.origin)
        assert "result" in await ws.hello(served.key)
        replies = [await ws.call("application.exit"), await ws.call("application.exit.later", 0)]
        await ws.close()
        return replies

    replies = asyncio.run(_with_session(probe))
    time.sleep(1.5)
    assert served.proc.poll() is None, "the server still runs"
    assert all(reply is not None and reply["error"]["message"] == "Unregistered method called" for reply in replies)


def test_after_the_probes_sigterm_still_ends_the_server_cleanly(served):
    status, out, err = served.stop()
    assert status == 0, err
    assert "Traceback" not in err and "Error handling request" not in err and "wslink" not in err, err
    assert _port_free(served.port)


def test_listening_on_every_address_accepts_addresses_and_this_machines_names_but_no_other_name():
    every = webview.SameOrigin("0.0.0.0", 8080)
    for host in ("192.168.1.20:8080", "[fe80::1]:8080", "127.0.0.1:8080", "localhost:8080",
                 f"{socket.gethostname()}:8080"):
        assert every.host_ok(host), host
        assert every.origin_ok(f"http://{host}", host), host
    for host in ("evil.example:8080", "192.168.1.20:8081", "192.168.1.20", "fe80::1:8080", "", ":8080",
                 "a:b:8080", "[::1]x:8080", "127.0.0.1:0", "127.0.0.1:99999"):
        assert not every.host_ok(host), host
    assert not every.origin_ok("http://192.168.1.21:8080", "192.168.1.20:8080"), "Origin and Host must agree"
    one = webview.SameOrigin("192.168.1.20", 8080)
    assert one.host_ok("192.168.1.20:8080") and one.host_ok("LocalHost:8080")
    assert not one.host_ok("192.168.1.21:8080"), "an address literal is not enough unless on every address"
    assert webview.SameOrigin("127.0.0.1", 80).host_ok("127.0.0.1"), "port 80 goes without a port"


def test_start_up_runs_once_however_often_the_ready_hook_is_called():
    viewer = object.__new__(webview.WebViewer)  # no window: only the start-up hook's bookkeeping
    viewer._clock = None
    clocks, readies = [], []

    async def clock():
        clocks.append(1)
        await asyncio.sleep(3600)

    viewer._run_clock = clock
    viewer.on_ready = readies.append

    async def main():
        for _ in range(30):
            viewer._on_ready()
        await asyncio.sleep(0.05)
        viewer._clock.cancel()

    asyncio.run(main())
    assert (len(clocks), len(readies)) == (1, 1)


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.1", "example.invalid"])
def test_a_host_other_machines_can_reach_prints_one_warning_line(host, monkeypatch, capsys):
    class Stub:  # the server, not started: the warning comes before it listens
        def __init__(self, *_, **__):
            self.on_ready = None

        def url(self, h, p):
            return f"http://{h}:{p}/?secret=k"

        def serve(self, h, p):
            self.on_ready(self)

        def close(self):
            pass

    monkeypatch.setattr(webview, "check_trame", lambda: None)
    monkeypatch.setattr(webview, "check_port", lambda h, p: None)
    monkeypatch.setattr(webview, "WebViewer", Stub)
    monkeypatch.setattr(socket, "getaddrinfo", lambda h, *a, **k: [
        (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("192.0.2.7" if h == "example.invalid" else h, 0))])
    webview.serve(None, host=host, port=8080, echo=lambda line: None)
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("issvis view: warning:") and host in err, err


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1", "127.0.0.2"])
def test_a_loopback_host_prints_no_warning(host):
    assert webview.host_warning(host) is None
