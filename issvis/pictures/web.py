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

numpy only at import; trame, pyvista and VTK are imported when a server is made.
"""

from __future__ import annotations

import asyncio
import errno
import os
import socket
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
        self.server = get_server(name=f"issvis-{id(self)}", client_type="vue3")
        self.server.hot_reload = False
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
        ctrl.on_server_ready.add(self._on_ready)

    def _on_ready(self, **_: Any) -> None:
        self._last_tick = time.perf_counter()
        self._wake = asyncio.Event()
        self._clock = asyncio.get_event_loop().create_task(self._run_clock())
        if self.on_ready is not None:
            self.on_ready(self)

    # -- serving ----------------------------------------------------------------------------
    def url(self, host: str, port: int) -> str:
        shown = f"[{host}]" if ":" in host else host
        return f"http://{shown}:{port}/"

    def serve(self, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT) -> None:
        """Listen on host:port until Ctrl-C or SIGTERM (both end it cleanly)."""
        import logging

        check_port(host, port)
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
