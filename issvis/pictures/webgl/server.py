"""The page's server: static bytes from memory, behind a key, for this machine's browser only.

Standard library only (``http.server``). Every file is made once at start (``data.page_data`` and the
files of ``static/``), gzip'd once, and sent as it is: the server has no state a page can change, no
websocket, no exit call, and its work per tab is the one load. What it refuses (each a status
and one short line of text):

- a path without this run's key (a random ``secrets.token_urlsafe`` in the page's URL): 403;
- a ``Host`` that is not this machine by an IP address, ``localhost`` or this machine's name (a
  DNS-rebinding page comes with its own name): 403; an ``Origin`` or ``Sec-Fetch-Site`` of another
  site: 403;
- anything but GET and HEAD: 405; a request body, a request line over ``MAX_REQUEST_LINE`` bytes,
  headers over ``MAX_HEADER_BYTES``: 413/414/431; more than ``MAX_CONNECTIONS`` at once: closed.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import http.server
import ipaddress
import re
import secrets
import signal
import socket
import sys
import threading
from importlib import resources
from typing import Any

from ...core.errors import InputError

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8080
MAX_REQUEST_LINE = 2048  # bytes: the longest path the page asks for is under 100
MAX_HEADER_BYTES = 16_384
MAX_CONNECTIONS = 64  # a page opens about six at once; a flood gets closed sockets, not threads
SOCKET_TIMEOUT_S = 20.0  # a connection that says nothing for this long is closed
GZIP_TYPES = ("text/", "application/javascript", "application/json", "application/octet-stream",
              "model/gltf-binary")
STATIC_TYPES = {".html": "text/html; charset=utf-8", ".js": "application/javascript; charset=utf-8",
                ".css": "text/css; charset=utf-8", ".txt": "text/plain; charset=utf-8", "": "text/plain; charset=utf-8"}
LOOPBACK_NAMES = ("127.0.0.1", "::1", "localhost")


class WebGLError(InputError, RuntimeError):
    """The page cannot be served here (a port taken, an address not this machine's)."""


def is_loopback(host: str) -> bool:
    """Whether listening on ``host`` keeps the page to this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def host_warning(host: str, port: int) -> str | None:
    """The one line said when --host opens the page to other machines (None for a loopback host)."""
    if is_loopback(host):
        return None
    return (f"issvis view: warning: --host {host} lets every machine that can reach this one on port {port} "
            f"load the viewer with the printed URL (its key is the only lock; no password, no TLS); "
            f"on a shared network keep 127.0.0.1 and use ssh -L {port}:127.0.0.1:{port}")


def static_files() -> dict[str, tuple[str, bytes]]:
    """The page's own files (``static/``: the page, its script, vendored three.js): path -> (type, bytes)."""
    root = resources.files(__package__) / "static"
    out: dict[str, tuple[str, bytes]] = {}

    def walk(node: Any, prefix: str) -> None:
        for child in node.iterdir():
            name = f"{prefix}{child.name}"
            if child.is_dir():
                walk(child, name + "/")
            elif not child.name.startswith("."):
                suffix = "." + child.name.rsplit(".", 1)[1] if "." in child.name else ""
                out[name] = (STATIC_TYPES.get(suffix, "application/octet-stream"), child.read_bytes())

    walk(root, "")
    return out


def _inline_script_hashes(html: bytes) -> list[str]:
    """CSP sources ('sha256-...') of the page's inline scripts (its import map)."""
    found = re.findall(rb"<script[^>]*>(.*?)</script>", html, flags=re.S)
    return [f"'sha256-{base64.b64encode(hashlib.sha256(body).digest()).decode()}'" for body in found if body.strip()]


class PageServer(http.server.ThreadingHTTPServer):
    """Serves ``files`` (path -> (content type, bytes)) under ``/KEY/``; see the module docstring."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], files: dict[str, tuple[str, bytes]], key: str | None = None) -> None:
        self.key = key or secrets.token_urlsafe(18)
        self.set_files(files)
        self.slots = threading.BoundedSemaphore(MAX_CONNECTIONS)
        self.sent_bytes = 0
        self.requests = 0
        self._count_lock = threading.Lock()
        family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self.address_family = family
        super().__init__(address, PageHandler)
        self.port = self.server_address[1]
        self.allowed_names = {"localhost", socket.gethostname().lower(), socket.getfqdn().lower()}

    def set_files(self, files: dict[str, tuple[str, bytes]]) -> None:
        """Serve these files from now on (each gzip'd once here, when that makes it smaller)."""
        prepared: dict[str, tuple[str, bytes, bytes | None]] = {}
        for name, (kind, body) in files.items():
            packed = gzip.compress(body, 6, mtime=0) if kind.startswith(GZIP_TYPES) else None
            prepared[name] = (kind, body, packed if packed is not None and len(packed) < len(body) else None)
        page = files.get("index.html", ("", b""))[1]
        scripts = " ".join(["'self'", *_inline_script_hashes(page)])
        self.csp = (f"default-src 'self'; script-src {scripts}; img-src 'self' blob: data:; "
                    f"connect-src 'self' blob: data:; style-src 'self'; font-src 'none'; object-src 'none'; "
                    f"frame-ancestors 'none'; base-uri 'none'; form-action 'none'")
        self.files = prepared

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self.slots.acquire(blocking=False):
            self.shutdown_request(request)  # too many at once: closed, no thread
            return
        try:
            super().process_request(request, client_address)
        except Exception:
            self.slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.slots.release()

    def handle_error(self, request: Any, client_address: Any) -> None:
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, TimeoutError, OSError)):
            return  # a tab closed while its bytes were on the way: not an error
        super().handle_error(request, client_address)

    def url(self, host: str | None = None) -> str:
        name = host or str(self.server_address[0])
        shown = f"[{name}]" if ":" in name else name
        return f"http://{shown}:{self.port}/{self.key}/"

    def host_allowed(self, host_header: str | None) -> bool:
        """Whether a request's Host names this server: an IP address, localhost or this machine's name,
        with this port (DNS rebinding brings a name of its own)."""
        if not host_header:
            return False
        m = re.fullmatch(r"(\[[0-9a-fA-F:.]+\]|[^:\[\]]+)(?::(\d+))?", host_header.strip())
        if m is None or int(m.group(2) or 80) != self.port:
            return False
        name = m.group(1).strip("[]").lower()
        try:
            ipaddress.ip_address(name)
            return True
        except ValueError:
            return name in self.allowed_names

    def count(self, n: int) -> None:
        with self._count_lock:
            self.sent_bytes += n
            self.requests += 1


class PageHandler(http.server.BaseHTTPRequestHandler):
    """GET and HEAD of the page's files; everything else refused (module docstring)."""

    server: PageServer
    protocol_version = "HTTP/1.1"
    timeout = SOCKET_TIMEOUT_S
    server_version = "issvis"
    sys_version = ""

    def log_message(self, format: str, *args: Any) -> None:
        pass  # a quiet server: the terminal shows the URL and the warnings only

    def _refuse(self, status: int, why: str) -> None:
        body = (why + "\n").encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        if self.command != "HEAD":
            self.wfile.write(body)
        self.server.count(len(body))

    raw_requestline: bytes  # set by BaseHTTPRequestHandler.handle_one_request before parse_request

    def parse_request(self) -> bool:
        if len(self.raw_requestline) > MAX_REQUEST_LINE:
            self.requestline, self.request_version, self.command = "", "HTTP/1.1", "GET"
            self._refuse(414, "request line too long")
            return False
        if not super().parse_request():
            return False
        size = sum(len(k) + len(v) for k, v in self.headers.items())
        if size > MAX_HEADER_BYTES:
            self._refuse(431, "headers too large")
            return False
        return True

    def _checked(self) -> bool:
        """Whether the request may be answered; refuses it (and says why) otherwise."""
        srv = self.server
        if self.headers.get("Content-Length", "0").strip() not in ("", "0") or self.headers.get("Transfer-Encoding"):
            self._refuse(413, "no request bodies here")
            return False
        host = self.headers.get("Host")
        if not srv.host_allowed(host):
            self._refuse(403, f"Host {host!r} is not this server (open the URL issvis printed)")
            return False
        origin = self.headers.get("Origin")
        if origin is not None and origin != f"http://{host}":
            self._refuse(403, "requests from another site are refused")
            return False
        if self.headers.get("Sec-Fetch-Site", "same-origin") not in ("same-origin", "none"):
            self._refuse(403, "requests from another site are refused")
            return False
        return True

    def _serve(self, head: bool) -> None:
        if not self._checked():
            return
        path = self.path.split("?", 1)[0].split("#", 1)[0]
        prefix = f"/{self.server.key}/"
        if secrets.compare_digest(path.encode(), prefix[:-1].encode()):
            self.send_response(301)  # the page's files are relative to /KEY/
            self.send_header("Location", prefix)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if not secrets.compare_digest(path[: len(prefix)].encode(), prefix.encode()):
            self._refuse(403, "wrong or missing key: open the URL issvis printed")
            return
        name = path[len(prefix):] or "index.html"
        hit = self.server.files.get(name)
        if hit is None:
            self._refuse(404, "no such file")
            return
        kind, body, packed = hit
        use_gzip = packed is not None and "gzip" in self.headers.get("Accept-Encoding", "")
        data = packed if use_gzip and packed is not None else body
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data)))
        if use_gzip:
            self.send_header("Content-Encoding", "gzip")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Referrer-Policy", "no-referrer")
        if name == "index.html":
            self.send_header("Content-Security-Policy", self.server.csp)
        self.end_headers()
        if not head:
            self.wfile.write(data)
        self.server.count(len(data))

    def do_GET(self) -> None:
        self._serve(head=False)

    def do_HEAD(self) -> None:
        self._serve(head=True)

    def _not_allowed(self) -> None:
        self._refuse(405, "this server only sends the page (GET)")

    do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_CONNECT = do_TRACE = _not_allowed


def bind(host: str, port: int, files: dict[str, tuple[str, bytes]], key: str | None = None) -> PageServer:
    """A PageServer listening on host:port, or WebGLError naming the fix (port taken, not this machine)."""
    from ..web import check_port  # the messages the server-rendered viewer gives for the same mistakes

    try:
        check_port(host, port)
    except InputError as exc:
        raise WebGLError(str(exc)) from None
    try:
        return PageServer((host, port), files, key)
    except OSError as exc:  # taken between the check and the bind
        raise WebGLError(f"--port {port} on {host}: {exc.strerror}; fix: choose a free port with --port N") from None


def serve_forever(server: PageServer, ready: Any = None) -> None:
    """Answer requests until Ctrl-C or SIGTERM; then close the socket (the port is free again).
    ``ready()`` is called once SIGTERM is handled (it prints the URL: a SIGTERM right after is clean too)."""

    def stop(*_: Any) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        if ready is not None:
            ready()
        server.serve_forever(poll_interval=0.25)
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        server.server_close()
