"""The viewer in a browser (issue 12): the desktop viewer's world and state machine behind a web page.

``issvis view SOURCE --web`` builds the same ``issvis.viewer.ViewerWindow`` the desktop viewer
builds (so the same ``issvis.stage.Stage`` world and the same ``ViewerState``), but off-screen in
an EGL context, and serves it with trame: the server renders, the page shows JPEG frames
(trame-vtk's remote view) and sends back mouse events, which reach the window's own VTK
interactor (rotate, zoom, pan, click to pick). The page's buttons, slider and keys call the same
``ViewerWindow.handle_key`` / ``on_slider`` the desktop keys call; the page adds no logic of its own.

Keeping it interactive on a software renderer: a frame is rendered and sent only when the picture
changed (playing, a control, the mouse), and changes between two ticks of the clock make one frame;
each frame is JPEG'd at once and sent once (trame-vtk's own push sends the frame before); while the
mouse drags, frames go at half size and lower JPEG quality, and the full picture follows.

Who may drive it (issue 21): the page's URL carries a random key made for this run, which the
websocket requires; the websocket accepts only the page's own origin, and every request must name
this server (loopback names or ``--host``) in its Host header, so another site's page gets nothing,
DNS rebinding included; nothing on the wire stops the server; messages are capped in size before
any memory is set aside for them; a replayed start-up event starts nothing.

numpy only at import; trame, pyvista and VTK are imported when a server is made.
"""

from __future__ import annotations

import asyncio
import errno
import ipaddress
import os
import secrets
import socket
import sys
import time
from typing import Any

from ..core.errors import InputError

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8080
#: JPEG quality (0-100) and size ratio of the frames sent while the mouse drags the camera, and of
#: still frames (nothing moving) and playing frames.
INTERACTIVE_QUALITY, INTERACTIVE_RATIO = 60, 0.5
STILL_QUALITY = 92
PLAYING_QUALITY = 80
#: Period of the server's playback clock, s; a frame is sent only when the picture changed.
TICK_S = 0.015
#: After a frame that took longer than a tick, the clock waits this fraction of its time so that the
#: page's clicks, keys and acknowledgements get through while the software renderer is saturated.
BREATHER = 0.25
#: While paused the clock sleeps until an input wakes it, or this long, s.
IDLE_TICK_S = 0.25
#: DOM key names (KeyboardEvent.key) that differ from the X keysyms of ``viewer.KEYS``.
DOM_TO_KEYSYM = {" ": "space", "+": "plus", "=": "equal", "-": "minus", "_": "underscore",
                 "ArrowRight": "Right", "ArrowLeft": "Left", "?": "question"}
VIEW_REF = "view"
TRAME_FIX = "fix: pip install 'issvis[web]' (trame, trame-vtk, trame-vuetify)"

#: Random bytes of the key made for each run (``secrets.token_urlsafe``: 32 characters, 192 bits).
KEY_BYTES = 24
#: The URL's query parameter that carries the key: trame's page reads it there (and then drops it
#: from the address bar) and sends it in wslink's hello.
KEY_PARAMETER = "secret"
#: Largest message the page may send, bytes, and the most all of one connection's unfinished
#: (chunked) messages may claim together. The page sends clicks, keys, slider moves and its size:
#: a few hundred bytes each (222 at most in the browser test). 4 MiB is the chunk size wslink tells
#: the page to use and aiohttp's own default frame limit, so no message the protocol lets the page
#: send is refused, while a claim of more is refused before wslink sets memory aside for it (wslink
#: allocates a claimed size at once, and allows 4 GiB a message once the key is given).
MAX_MESSAGE_BYTES = 4 * 1024 * 1024
#: Unfinished messages one connection may have at once: the page sends one after the other.
MAX_PENDING_MESSAGES = 8
#: The server's names on this machine: a page opened at one of them talks to it by the same name.
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1")
WILDCARD_HOSTS = ("0.0.0.0", "::")
#: wslink calls that would stop the server from the page; Ctrl-C or SIGTERM stops it, on this machine.
EXIT_CALLS = ("application.exit", "application.exit.later")
#: trame's lifecycle call runs the server's ``on_<name>`` hooks; a page may report only its own.
PAGE_LIFECYCLE = ("client_connected", "client_exited", "client_unmounted")
#: Websocket close codes (RFC 6455): what the server answers a message it refuses.
CLOSE_GOING_AWAY, CLOSE_PROTOCOL_ERROR, CLOSE_UNSUPPORTED, CLOSE_POLICY, CLOSE_TOO_BIG = 1001, 1002, 1003, 1008, 1009


class WebViewError(InputError, RuntimeError):
    """The web viewer cannot start here (trame missing, port taken); the message names the fix."""


def check_trame() -> None:
    """Raise WebViewError unless trame and the trame packages the page needs are installed."""
    missing = []
    for module in ("trame", "trame_vtk", "trame_vuetify"):
        try:
            __import__(module)
        except ImportError:
            missing.append(module.replace("_", "-"))
    if missing:
        raise WebViewError(f"the web viewer needs {', '.join(missing)}, not installed; {TRAME_FIX}")


def check_port(host: str, port: int) -> None:
    """Raise WebViewError unless (host, port) can be listened on now."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise WebViewError(f"--host {host!r}: not an address of this machine ({exc.strerror}); "
                           f"fix: use 127.0.0.1, 0.0.0.0 or one of this machine's addresses") from None
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as aiohttp binds
        try:
            probe.bind(address)
        except OSError as exc:
            if exc.errno == errno.EADDRNOTAVAIL:
                raise WebViewError(f"--host {host}: not an address of this machine; fix: use 127.0.0.1, "
                                   f"0.0.0.0 or one of this machine's addresses") from None
            if exc.errno == errno.EACCES:
                raise WebViewError(f"--port {port}: only the superuser may listen below 1024; fix: use a port "
                                   f"above 1023, e.g. --port 8080") from None
            what = "in use" if exc.errno == errno.EADDRINUSE else exc.strerror
            raise WebViewError(f"--port {port} on {host}: {what}; fix: choose a free port with --port N "
                               f"or stop the program that holds it") from None


def new_key() -> str:
    """A fresh random key for one run of the server (URL-safe text)."""
    return secrets.token_urlsafe(KEY_BYTES)


def host_warning(host: str) -> str | None:
    """The one-line warning for a --host that other machines can reach; None for loopback only."""
    every = ("issvis view: warning: --host {} listens on every address of this machine: whoever reaches it and "
             "has the URL (its key) drives the viewer, unencrypted; prefer 127.0.0.1 and ssh -L")
    if host in WILDCARD_HOSTS:
        return every.format(host)
    try:
        infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        return None  # check_port says that it is not an address of this machine
    addresses = {ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos}
    if all(a.is_loopback for a in addresses):
        return None
    if any(a.is_unspecified for a in addresses):
        return every.format(host)
    return (f"issvis view: warning: --host {host} is not loopback: other machines that reach {host} and have the "
            f"URL (its key) drive the viewer, unencrypted; prefer 127.0.0.1 and ssh -L")


def _name_and_port(value: str) -> tuple[str, int] | None:
    """('name', port) of a Host header's 'name[:port]' or '[v6]:port' (port 80 when none); None if malformed."""
    value = value.strip().lower()
    if value.startswith("["):
        name, bracket, rest = value[1:].partition("]")
        if not bracket or (rest and not rest.startswith(":")):
            return None
        port_text = rest[1:]
    elif value.count(":") > 1:
        return None  # a bare IPv6 address: Host headers bracket them
    else:
        name, _, port_text = value.partition(":")
    if not name or not (port_text == "" or (port_text.isdigit() and 0 < int(port_text) < 65536)):
        return None
    return name, int(port_text or 80)


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


class SameOrigin:
    """Which Host and Origin headers a request to the server at (host, port) may carry.

    Host: a loopback name or --host, with the port served. Listening on every address (0.0.0.0),
    also this machine's names and any address literal: DNS rebinding needs a name that the attacker
    controls, never an address. Origin: the page's own, http:// and the request's Host.
    """

    def __init__(self, host: str, port: int) -> None:
        self.port = port
        self.any_address = host in WILDCARD_HOSTS
        self.names = {*LOOPBACK_NAMES, host.lower().strip("[]")}
        if self.any_address:
            self.names |= {socket.gethostname().lower(), socket.getfqdn().lower()}

    def host_ok(self, host_header: str) -> bool:
        parts = _name_and_port(host_header)
        if parts is None or parts[1] != self.port:
            return False
        return parts[0] in self.names or (self.any_address and _is_ip(parts[0]))

    def origin_ok(self, origin: str, host_header: str) -> bool:
        if not origin.lower().startswith("http://") or not self.host_ok(host_header):
            return False
        return _name_and_port(origin[len("http://"):]) == _name_and_port(host_header)


class MessageRefused(Exception):
    """A message the server will not take; ``code`` is the websocket close code to answer it with."""

    def __init__(self, code: int, why: str) -> None:
        super().__init__(why)
        self.code = code


class MessageCap:
    """wslink's un-chunker for one connection, with the claimed sizes checked before it allocates.

    A wslink chunk starts with the message's id, the chunk's offset and the message's total size
    (three little-endian uint32); wslink sets the total aside as soon as it sees a new id.
    """

    HEADER_BYTES = 12

    def __init__(self, inner: Any, max_bytes: int = MAX_MESSAGE_BYTES, max_pending: int = MAX_PENDING_MESSAGES) -> None:
        self.inner = inner
        self.max_bytes = max_bytes
        self.max_pending = max_pending
        self._claimed: dict[int, int] = {}  # unfinished message id -> claimed total, bytes

    def set_max_message_size(self, size: int) -> None:
        """wslink lifts its limit to 4 GiB once the key is accepted; this one stays."""
        self.inner.set_max_message_size(min(int(size), self.max_bytes))

    def release_pending_messages(self) -> None:
        self.inner.release_pending_messages()
        self._claimed.clear()

    def process_chunk(self, chunk: bytes) -> Any:
        if len(chunk) < self.HEADER_BYTES:
            raise MessageRefused(CLOSE_PROTOCOL_ERROR, f"a chunk of {len(chunk)} bytes, shorter than its header")
        message_id = int.from_bytes(chunk[0:4], "little")
        total = int.from_bytes(chunk[8:12], "little")
        if message_id not in self._claimed:
            limit = min(self.max_bytes, int(getattr(self.inner, "max_message_size", self.max_bytes)))
            if total > limit:
                raise MessageRefused(CLOSE_TOO_BIG, f"a message of {total} bytes; the limit is {limit}")
            if len(self._claimed) >= self.max_pending or sum(self._claimed.values()) + total > self.max_bytes:
                raise MessageRefused(CLOSE_TOO_BIG, f"more than {self.max_pending} messages or {self.max_bytes} "
                                                    f"bytes unfinished at once")
            self._claimed[message_id] = total
        try:
            message = self.inner.process_chunk(chunk)
        except Exception as exc:  # whatever wslink or msgpack make of bytes that are not a message
            self.release_pending_messages()
            raise MessageRefused(CLOSE_PROTOCOL_ERROR, f"a malformed message ({type(exc).__name__})") from None
        if message_id not in self.inner.pending_messages:
            del self._claimed[message_id]
        return message


def key_action(dom_key: str) -> str | None:
    """The viewer action ('play', 'tint', ...) of a browser key name, as the desktop keys map it."""
    from .viewer import KEYS

    keysym = DOM_TO_KEYSYM.get(dom_key, dom_key)
    return next((action for action, keys in KEYS.items() if keysym in keys), None)


# the page's keyboard: keys go to the server while the page (not a text field) has focus
KEY_SCRIPT = """
document.addEventListener('keydown', function (e) {
  if (e.ctrlKey || e.altKey || e.metaKey) return;
  var t = e.target && e.target.tagName;
  if (t === 'INPUT' || t === 'TEXTAREA' || t === 'SELECT') return;
  if (!window.trame || !window.trame.trigger) return;
  if (e.key === ' ' || e.key === 'ArrowLeft' || e.key === 'ArrowRight') e.preventDefault();
  window.trame.trigger('issvis_key', [e.key]);
});
"""


class WebViewer:
    """A ``ViewerWindow`` rendered off-screen and served as a trame page.

    ``window`` is the desktop viewer's window class (off-screen), ``state`` its ``ViewerState``.
    """

    def __init__(self, record: Any, settings: Any = None, window_size: tuple[int, int] = (1280, 720)) -> None:
        check_trame()
        from trame.app import get_server

        from .video import _prefer_egl
        from .viewer import ViewerWindow

        with _prefer_egl():
            self.window = ViewerWindow(record, settings, window_size=window_size, off_screen=True)
        self.state = self.window.state
        # frames are rendered when they are sent; the interactor must not render on each mouse event
        rw = self.window.plotter.render_window
        assert rw is not None  # None only once the plotter is closed
        rw.GetInteractor().EnableRenderOff()
        from vtkmodules.vtkIOImage import vtkJPEGWriter
        from vtkmodules.vtkRenderingCore import vtkWindowToImageFilter

        self._grab = vtkWindowToImageFilter()  # the rendered pixels, as vtkWebApplication reads them
        self._grab.SetInput(rw)
        self._grab.ReadFrontBufferOff()
        self._grab.ShouldRerenderOff()
        self._grab.FixBoundaryOn()
        self._jpeg = vtkJPEGWriter()
        self._jpeg.SetInputConnection(self._grab.GetOutputPort())
        self._jpeg.WriteToMemoryOn()
        # the page has its own slider and text (sharper than JPEG'd text); the picture keeps the world
        self.window.slider.Off()
        for actor in (self.window.status_actor, self.window.info_actor, self.window.help_actor):
            self.window.plotter.renderer.RemoveActor(actor)  # the window still sets them; they are not drawn
        self.record = record
        self.access_key = new_key()
        self.server = get_server(name=f"issvis-{id(self)}", client_type="vue3",
                                 ws_max_msg_size=MAX_MESSAGE_BYTES)  # aiohttp's frame limit (and wslink's chunks)
        self.server.hot_reload = False
        self._same_origin: SameOrigin | None = None
        self._pushed: dict[str, Any] = {}
        self._last_tick = time.perf_counter()
        self._clock: asyncio.Task | None = None
        self._dirty = True
        self._wake: asyncio.Event | None = None  # set when the clock has something to do
        self._delivery: Any = None
        self._view_id: str | None = None
        self.frames_pushed = 0
        self.on_ready: Any = None  # called with self once the server listens
        self._build_page()

    # -- inputs (all through the window, as the desktop keys) ------------------------------
    def action(self, name: str) -> None:
        """One viewer action ('play', 'faster', 'preset3', 'tint', ...), then the picture."""
        from .viewer import KEYS

        if name not in KEYS:
            return  # the page sends only these; anything else is not ours to run
        if name == "play":
            self._last_tick = time.perf_counter()
        self.window.handle_key(name)
        self.sync()

    def key(self, dom_key: str) -> None:
        """A key pressed on the page (``KeyboardEvent.key``)."""
        action = key_action(str(dom_key))
        if action is not None:
            self.action(action)

    def scrub(self, t_s: Any) -> None:
        """The page's time slider moved."""
        try:
            t = float(t_s)
        except (TypeError, ValueError):
            return
        if self._pushed.get("time_s") is not None and abs(t - self._pushed["time_s"]) < 1e-9:
            return  # the server's own value coming back
        self.window.on_slider(t)
        self.sync()

    def set_speed(self, speed: Any) -> None:
        """The page's speed selector: one of ``viewer.SPEEDS``."""
        from .viewer import SPEEDS

        try:
            value = float(speed)
        except (TypeError, ValueError):
            return
        if value in SPEEDS:
            self.state.speed = value
            self.sync()

    def tick(self) -> None:
        """The playback clock: advance the state by the wall time since the last tick."""
        now = time.perf_counter()
        dt, self._last_tick = now - self._last_tick, now
        self.window.tick(dt)
        self.sync()

    # -- output -----------------------------------------------------------------------------
    def page_values(self) -> dict[str, Any]:
        """What the page's widgets show, read from the state."""
        st = self.state
        return {"time_s": float(st.time_s), "playing": bool(st.playing), "speed": float(st.speed),
                "preset": int(st.preset), "tint": bool(st.tint), "trails": bool(st.trails),
                "axes": bool(st.axes), "show_help": bool(st.help), "status_text": st.status_text(),
                "info_text": st.info_text()}

    def sync(self) -> None:
        """Bring the page's widgets up to the state now, and mark the picture for the clock to send
        when it changed (a burst of slider moves between two ticks costs one frame)."""
        values = self.page_values()
        changed = {k: v for k, v in values.items() if self._pushed.get(k) != v}
        if changed:
            self._pushed.update(changed)
            with self.server.state as s:
                for k, v in changed.items():
                    s[k] = v
            if "playing" in changed:
                self._wake_clock()  # playback starts at once, not at the idle clock's next turn
        picture = self._picture_key()
        if picture != self._pushed.get("picture"):
            self._pushed["picture"] = picture
            self._dirty = True
            self._wake_clock()

    def _wake_clock(self) -> None:
        if self._wake is not None:
            self._wake.set()

    def _picture_key(self) -> tuple:
        cam = self.window.plotter.renderer.GetActiveCamera()
        st = self.state
        delivery = self._delivery
        tracked = delivery.tracking_views.get(self._view_id) if delivery is not None and self._view_id else None
        page_size = tuple(tracked.get("originalSize", ())) if tracked else ()  # the page was resized
        return (st.time_s, st.tint, st.trails, st.axes, st.picked, cam.GetMTime(), page_size)

    def _image_delivery(self) -> Any:
        """trame-vtk's image publisher (a wslink link protocol), once the server runs."""
        if self._delivery is None and self.server.protocol is not None:
            from trame_vtk.modules.vtk.protocols import vtkWebPublishImageDelivery

            self._delivery = next((p for p in self.server.protocol.getLinkProtocols()
                                   if isinstance(p, vtkWebPublishImageDelivery)), None)
            if self._delivery is not None:
                # no re-sends of its own of a frame still being encoded: they render the window
                # again, racing the clock's frames; the clock sends the last frame of a drag itself
                self._delivery.stale_count_limit = 0
                for event in ("UpdateEvent", "EndInteractionEvent"):  # the mouse moved, clicked, let go
                    self._delivery.app.AddObserver(event, lambda *_: self._wake_clock())
        return self._delivery

    def send_frame(self) -> bool:
        """Render the window, JPEG it and send it to the page; False when no page is watching.

        Not trame-vtk's push: that hands VTK's worker threads the new frame and sends the one they
        finished before (the new one follows 0.5 s later), so every picture would be a frame late.
        """
        delivery = self._image_delivery()
        rw = self.window.plotter.render_window
        assert rw is not None  # None only once the plotter is closed
        if delivery is None:
            return False
        view_id = self._view_id = str(delivery.get_global_id(rw))
        tracked = delivery.tracking_views.get(view_id)
        if tracked is None or not tracked["enabled"]:
            return False
        if delivery.views_in_animations:
            self._dirty = True  # the mouse is dragging: trame-vtk sends its own smaller frames; after it, ours
            return True
        if tracked.get("ratio", 1) != 1:
            delivery.set_view_quality(view_id, tracked.get("quality", STILL_QUALITY), 1)
        size = [int(v) for v in tracked.get("originalSize", rw.GetSize()[:2])]  # the picture's size in the page
        if list(rw.GetSize()[:2]) != size and min(size) > 10:
            rw.SetSize(*size)
        start = time.perf_counter()
        rw.Render()
        self._grab.Modified()
        self._jpeg.SetQuality(PLAYING_QUALITY if self.state.playing else STILL_QUALITY)
        self._jpeg.Write()
        image = memoryview(self._jpeg.GetResult()).tobytes()
        reply = {"image": delivery.addAttachment(image), "format": "jpeg", "stale": False, "mtime": tracked["mtime"],
                 "size": list(rw.GetSize()[:2]), "memsize": len(image), "global_id": view_id, "id": view_id,
                 "localTime": 0, "workTime": round(1000 * (time.perf_counter() - start))}
        delivery.publish("viewport.image.push.subscription", reply)  # what trame-vtk's push sends
        self.frames_pushed += 1
        return True

    async def _run_clock(self) -> None:
        while True:
            start = time.perf_counter()
            try:
                self.tick()
                if self._dirty:
                    self._dirty = False
                    self.send_frame()
            except Exception:
                import traceback

                traceback.print_exc()
            busy = time.perf_counter() - start
            # a slow frame still leaves the loop a quarter of its time for the page's messages
            await asyncio.sleep(max(TICK_S - busy, BREATHER * busy, 0.002))
            if not self.state.playing and not self._dirty and self._wake is not None:
                self._wake.clear()  # paused: sleep until an input (or IDLE_TICK_S), not every tick
                try:
                    await asyncio.wait_for(self._wake.wait(), IDLE_TICK_S)
                except TimeoutError:
                    pass

    # -- the page ---------------------------------------------------------------------------
    def _build_page(self) -> None:
        from trame.ui.vuetify3 import SinglePageLayout
        from trame.widgets import client, html
        from trame.widgets import vtk as vtk_widgets
        from trame.widgets import vuetify3 as v

        from .viewer import FREE, HELP_TEXT, PRESETS, SPEEDS

        server, ctrl = self.server, self.server.controller
        state = server.state
        state.update(self.page_values())
        state.trame__title = "issvis view"
        server.trigger("issvis_key")(self.key)
        server.trigger("issvis_action")(self.action)
        server.trigger("issvis_scrub")(self.scrub)
        server.trigger("issvis_speed")(self.set_speed)
        st = self.state
        title = self.record.meta.get("title") or "issvis"
        presets = [{"title": f"{n} {label}", "value": n} for n, label in PRESETS.items()]
        presets.append({"title": "free (the mouse moved it)", "value": FREE})  # shown, not chosen
        self.view = None
        with SinglePageLayout(server, full_height=True) as layout:
            state.page_title = f"issvis - {title}"  # bound, not pasted: a title is text, never markup
            layout.title.set_text("{{ page_title }}")
            layout.icon.hide()
            layout.footer.hide()
            with layout.toolbar as bar:
                bar.density = "compact"
                v.VSpacer()
                v.VBtn(icon=("playing ? 'mdi-pause' : 'mdi-play'",), click="trigger('issvis_action', ['play'])",
                       title="play / pause (space)", id="btn-play")
                v.VBtn(icon="mdi-skip-previous", click="trigger('issvis_action', ['event_prev'])",
                       title="previous event (N)")
                v.VBtn(icon="mdi-skip-next", click="trigger('issvis_action', ['event_next'])",
                       title="next event (n)", id="btn-next-event")
                v.VSelect(label="speed x", items=("speeds", list(SPEEDS)), model_value=("speed",),
                          update_modelValue="trigger('issvis_speed', [$event])", density="compact",
                          hide_details=True, style="max-width: 110px", classes="mx-2")
                v.VSelect(label="camera", items=("presets", presets), model_value=("preset",),
                          update_modelValue="trigger('issvis_action', ['preset' + $event])", density="compact",
                          hide_details=True, style="max-width: 260px", classes="mx-2", id="camera")
                for name, label, key in (("tint", "tint", "t"), ("trails", "trails", "r"), ("axes", "axes", "a")):
                    v.VCheckbox(label=label, model_value=(name,), density="compact", hide_details=True,
                                update_modelValue=f"trigger('issvis_action', ['{name}'])", title=f"{label} ({key})",
                                classes="mx-1", style="flex: 0 0 auto")
                v.VBtn(icon="mdi-help-circle-outline", click="trigger('issvis_action', ['help'])", title="help (h)")
            with layout.content:
                with v.VContainer(fluid=True, classes="pa-0 fill-height d-flex flex-column"):
                    with html.Div(style="position: relative; flex: 1 1 auto; width: 100%; min-height: 0"):
                        self.view = vtk_widgets.VtkRemoteView(
                            self.window.plotter.render_window, ref=VIEW_REF, interactive_quality=INTERACTIVE_QUALITY,
                            interactive_ratio=INTERACTIVE_RATIO, still_quality=STILL_QUALITY, still_ratio=1,
                            style="position: absolute; inset: 0")
                        html.Pre("{{ status_text }}", id="status", style=(
                            "position: absolute; left: 8px; top: 8px; margin: 0; padding: 6px 8px; color: #fff;"
                            "background: rgba(10,10,25,.75); font: 13px/1.3 monospace; pointer-events: none"))
                        html.Pre("{{ info_text }}", v_if="info_text", id="info", style=(
                            "position: absolute; right: 8px; top: 8px; margin: 0; padding: 6px 8px; color: #fff;"
                            "background: rgba(10,10,25,.75); font: 13px/1.3 monospace; pointer-events: none"))
                        html.Pre("\n".join(line for line in HELP_TEXT.splitlines() if "quit" not in line),
                                 v_if="show_help", id="help", style=(
                            "position: absolute; left: 33%; top: 15%; margin: 0; padding: 8px 12px; color: #fff;"
                            "background: rgba(10,10,25,.85); font: 13px/1.3 monospace; pointer-events: none"))
                    with html.Div(classes="d-flex align-center px-3", style="flex: 0 0 auto; width: 100%"):
                        v.VSlider(model_value=("time_s",), min=st.t_start_s, max=st.t_end_s, step=0,
                                  update_modelValue="trigger('issvis_scrub', [$event])", hide_details=True,
                                  label="record time, s", thumb_label=True, id="time-slider")
            client.Script(KEY_SCRIPT)
            client.Style("html { overflow: hidden; }")  # the page fits the window; no scroll bar
        self.layout = layout
        ctrl.on_server_bind.add(self._safeguard)
        ctrl.on_server_ready.add(self._on_ready)

    def _on_ready(self, **_: Any) -> None:
        if self._clock is not None:
            return  # once: a second start-up event (a page can send one) starts no second clock
        self._last_tick = time.perf_counter()
        self._wake = asyncio.Event()
        self._clock = asyncio.get_event_loop().create_task(self._run_clock())
        if self.on_ready is not None:
            self.on_ready(self)

    # -- who may drive it ----------------------------------------------------------------------
    def _safeguard(self, ws_server: Any) -> None:
        """Once wslink has made its web server, before it listens: the key, Host and Origin checks, the
        message caps, no exit call and no server lifecycle from the page (see the module's docstring).

        wslink and trame offer no hooks for these, so they go on its objects; if a later version has
        other objects, the server refuses to start rather than serve without them.
        """
        from aiohttp import web

        try:
            app, config = ws_server.app, ws_server.config
            handlers = list(ws_server._ws_handlers)
            ws_paths = {"/" + str(route).lstrip("/") for route in config["ws"]}
            for handler in handlers:
                if "trame.lifecycle.update" not in handler.functionMap:
                    raise KeyError("trame.lifecycle.update")
                for name in ("onConnect", "onMessage", "onCompleteMessage", "validateToken", "unchunkers",
                             "connections", "isClientAuthenticated", "handleWsRequest"):
                    getattr(handler, name)
        except (AttributeError, KeyError, TypeError) as exc:
            import wslink

            raise WebViewError(f"the web viewer's safeguards do not fit this wslink ({wslink.__version__}: {exc}); "
                               f"fix: pip install 'wslink>=2.6,<2.7'") from None
        if not handlers or not ws_paths:
            raise WebViewError("the web viewer's websocket is missing; fix: pip install 'wslink>=2.6,<2.7'")
        same_origin = self._same_origin
        assert same_origin is not None, "serve() sets it before the server starts"
        endpoints = [handler.handleWsRequest for handler in handlers]

        @web.middleware
        async def check_request(request: Any, handler: Any) -> Any:
            host = request.headers.get("Host", "")
            if not same_origin.host_ok(host):
                return web.Response(status=403, text="issvis view: not this server's name\n")
            origin = request.headers.get("Origin")
            if getattr(request.match_info, "handler", None) in endpoints or request.path in ws_paths:
                if not web.WebSocketResponse().can_prepare(request).ok:
                    return web.Response(status=426, headers={"Upgrade": "websocket"},
                                        text="issvis view: a websocket, for the page\n")
                if origin is None or not same_origin.origin_ok(origin, host):
                    return web.Response(status=403, text="issvis view: only the page's own origin\n")
            elif origin is not None and not same_origin.origin_ok(origin, host):
                return web.Response(status=403, text="issvis view: only the page's own origin\n")
            return await handler(request)

        app.middlewares.append(check_request)
        for handler in handlers:
            _guard_websocket(handler, self.access_key)

    # -- serving ----------------------------------------------------------------------------
    def url(self, host: str, port: int) -> str:
        """The page's address, with this run's key."""
        shown = f"[{host}]" if ":" in host else host
        return f"http://{shown}:{port}/?{KEY_PARAMETER}={self.access_key}"

    def serve(self, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT) -> None:
        """Listen on host:port until Ctrl-C or SIGTERM (both end it cleanly)."""
        import logging

        check_port(host, port)
        self._same_origin = SameOrigin(host, port)
        for name in ("wslink", "wslink.protocol", "aiohttp.server", "aiohttp.web"):
            logging.getLogger(name).addFilter(_drop_disconnects)
        os.environ["TRAME_ARGS"] = ""  # trame must not read issvis's own command line
        os.environ["WSLINK_READY_MSG"] = ""
        self.server.start(port=port, host=host, open_browser=False, show_connection_info=False,
                          disable_logging=True, timeout=0)

    def close(self) -> None:
        if self._clock is not None:
            self._clock.cancel()
        self.window.close()


def _guard_websocket(handler: Any, key: str) -> None:
    """Wrap one wslink websocket handler: the key in the hello, or the socket is closed; well-formed,
    capped messages only; the exit calls gone; trame's lifecycle call for the page's own events only."""
    for name in EXIT_CALLS:
        handler.functionMap.pop(name, None)
    lifecycle_obj, lifecycle = handler.functionMap["trame.lifecycle.update"]

    def page_lifecycle(obj: Any, name: Any = None, *_: Any, **__: Any) -> None:
        if name in PAGE_LIFECYCLE:
            lifecycle(obj, name)

    handler.functionMap["trame.lifecycle.update"] = (lifecycle_obj, page_lifecycle)
    if getattr(handler, "serverProtocol", None) is not None:
        handler.serverProtocol.updateSecret(key)  # not trame's public default, should anything still read it

    async def close(client_id: str, code: int, why: str) -> None:
        ws = handler.connections.get(client_id)
        if ws is not None and not ws.closed:
            await ws.close(code=code, message=why.encode()[:120])

    async def validate_token(token: Any, client_id: str) -> bool:
        return isinstance(token, str) and secrets.compare_digest(token.encode(), key.encode())

    on_connect, on_message, on_complete = handler.onConnect, handler.onMessage, handler.onCompleteMessage

    async def connected(request: Any, client_id: str) -> None:
        await on_connect(request, client_id)
        handler.unchunkers[client_id] = MessageCap(handler.unchunkers[client_id])

    async def message(is_binary: bool, msg: Any, client_id: str) -> None:
        if not is_binary:
            await close(client_id, CLOSE_UNSUPPORTED, "wslink messages are binary")
            return
        try:
            await on_message(is_binary, msg, client_id)
        except MessageRefused as exc:
            await close(client_id, exc.code, str(exc))
        except ConnectionError:
            await close(client_id, CLOSE_GOING_AWAY, "gone")  # the page left while a reply was on its way

    async def complete(rpc: Any, client_id: str) -> None:
        if not isinstance(rpc, dict) or ("id" in rpc and not (isinstance(rpc["id"], str)
                                                             and isinstance(rpc.get("method"), str))):
            await close(client_id, CLOSE_PROTOCOL_ERROR, "not a wslink message")
            return
        if not handler.isClientAuthenticated(client_id) and rpc.get("method") != "wslink.hello":
            await close(client_id, CLOSE_POLICY, "the key comes first")
            return
        await on_complete(rpc, client_id)
        if not handler.isClientAuthenticated(client_id):
            await close(client_id, CLOSE_POLICY, "wrong key")

    handler.validateToken = validate_token
    handler.onConnect, handler.onMessage, handler.onCompleteMessage = connected, message, complete


def _drop_disconnects(record: Any) -> bool:
    """Logging filter: a page closed while a frame or a reply was on its way is not an error."""
    message = str(record.msg)
    if message == "Exception raised" or "Cannot write to closing transport" in message:
        return False  # wslink logs a failed reply in three records; the other two name the exception
    exc = record.exc_info[1] if record.exc_info else None
    while exc is not None:
        if isinstance(exc, ConnectionError) or type(exc).__name__ == "ClientConnectionResetError":
            return False
        exc = exc.__context__
    return True


def serve(record: Any, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, settings: Any = None,
          window_size: tuple[int, int] = (1280, 720), play: bool = False, echo: Any = print) -> None:
    """Serve the viewer on record at http://host:port/ until interrupted; echo(url) once listening."""
    check_trame()
    check_port(host, port)
    warning = host_warning(host)
    if warning is not None:
        print(warning, file=sys.stderr, flush=True)
    viewer = WebViewer(record, settings, window_size=window_size)
    if play:
        viewer.action("play")

    def ready(v: WebViewer) -> None:
        where = v.url(host, port)
        if host in ("0.0.0.0", "::"):
            where += f" (every address of this machine; here: {v.url('127.0.0.1', port)})"
        echo(f"issvis view: serving {where} (Ctrl-C to stop)")

    viewer.on_ready = ready
    try:
        viewer.serve(host, port)
    finally:
        viewer.close()
