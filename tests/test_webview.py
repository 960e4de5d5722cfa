"""The viewer in a browser (issue 12).

The server runs as a user runs it (``issvis view RECORD --web --port P`` in a subprocess); Debian's
headless Chromium loads the page and is driven through the DevTools protocol (a websocket; aiohttp
comes with trame). The page's controls call the desktop viewer's own methods, whose logic
tests/test_viewer.py checks; here: the page shows the station, its controls and keys reach the
server, the picture follows, nothing is fetched from elsewhere, and the server ends cleanly.
"""

from __future__ import annotations

import asyncio
import base64
import io
import json
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
        out = subprocess.run([sys.executable, "-m", "issvis.cli", "view", "scenes/undock.toml", "--web", "--port",
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
    status = main(["view", str(RECORD), "--web", "--port", str(_free_port())])
    err = capsys.readouterr().err
    assert status == 2
    assert err.count("\n") == 1 and "trame-vtk" in err and "pip install 'issvis[web]'" in err


# --- the page in a browser ---------------------------------------------------------------------
class DevTools:
    """The smallest client of Chromium's DevTools protocol: commands, and the events kept in a list."""

    def __init__(self) -> None:
        self.proc: subprocess.Popen | None = None
        self.events: list[dict] = []
        self._pending: dict[int, asyncio.Future] = {}
        self._n = 0

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

    async def _read(self) -> None:
        async for msg in self.ws:
            data = json.loads(msg.data)
            if "id" in data:
                future = self._pending.pop(data["id"], None)
                if future is not None and not future.done():
                    future.set_result(data)
            else:
                self.events.append(data)

    async def send(self, method: str, **params):
        self._n += 1
        future = asyncio.get_running_loop().create_future()
        self._pending[self._n] = future
        await self.ws.send_str(json.dumps({"id": self._n, "method": method, "params": params}))
        reply = await asyncio.wait_for(future, 20)
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply['error']}")
        return reply["result"]

    async def eval(self, expression: str):
        reply = await self.send("Runtime.evaluate", expression=expression, awaitPromise=True, returnByValue=True)
        if "exceptionDetails" in reply:
            raise RuntimeError(f"{expression}: {reply['exceptionDetails']}")
        return reply["result"].get("value")

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


async def _next_frame(tools: DevTools, after: int, timeout_s: float = 15.0) -> float:
    """Wait until the page has received more than `after` frames; the time of the latest (page ms)."""
    await tools.wait_for(f"window.__frames.length > {after}", timeout_s, "a new frame")
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
    return subprocess.Popen([sys.executable, "-m", "issvis.cli", "view", str(RECORD), "--web", "--port", str(port),
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
        assert url == f"http://127.0.0.1:{port}/"
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
        orange = _orange_pixels(tinted)
        assert orange.mean() > 0.002, "the departing side shows in the tint's orange"
        assert _orange_pixels(framed).mean() < orange.mean() / 10, "and it was not orange before 't'"
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
        elsewhere = sorted(u for u in urls if not u.startswith((url, "blob:" + url[:-1], "data:")))
        assert not elsewhere, f"the page fetched from elsewhere: {elsewhere}"
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
