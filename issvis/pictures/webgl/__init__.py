"""The viewer as a page that the browser draws on its own GPU (``issvis view --web``).

The server sends the station (``station.glb``), the record's poses and the scene's facts once, as
static bytes (``data``), with the page and vendored three.js (``static/``); the page animates, scrubs,
orbits, frames, picks and writes the read-outs on the client, with the desktop viewer's controls
(``issvis.pictures.viewer``), and draws Earth, its limb, the stars and the Sun there too. Nothing is
fetched from anywhere else. Every tab is a viewer of its own; a playing tab costs the server nothing.

``issvis view --web --server-render`` is the other mode (``issvis.pictures.web``): the server renders
and streams pictures, for a browser without WebGL. numpy and the standard library at import.
"""

from __future__ import annotations

from typing import Any

from .server import DEFAULT_HOST, DEFAULT_PORT, PageServer, WebGLError, bind, host_warning, serve_forever, static_files

__all__ = ["DEFAULT_HOST", "DEFAULT_PORT", "PageServer", "WebGLError", "bind", "host_warning", "page_files",
           "serve_page", "static_files"]


def page_files(record: Any, settings: Any = None) -> dict[str, tuple[str, bytes]]:
    """Every file the page of ``record`` loads: path under the key -> (content type, bytes)."""
    from ..viewer import render_settings_of
    from .data import page_data

    files = static_files()
    files.update(page_data(record, settings if settings is not None else render_settings_of(record)))
    return files


def serve_page(record: Any, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, settings: Any = None,
               play: bool = False, echo: Any = print, warn: Any = None, server: PageServer | None = None) -> None:
    """Serve the page of ``record`` at http://host:port/KEY/ until Ctrl-C or SIGTERM.

    ``server``: one already bound with ``bind`` (the command line binds before it simulates, so that a
    taken port costs no simulation); its files are replaced by the record's. ``play``: the page starts
    playing. ``echo`` prints the URL, ``warn`` (default: echo) the line about a non-loopback host.
    """
    files = page_files(record, settings)
    if server is None:
        server = bind(host, port, {})
    server.set_files(files)
    line = host_warning(host, server.port)
    if line:
        (warn or echo)(line)
    url = server.url("127.0.0.1" if host in ("0.0.0.0", "::", "") else host)
    if play:
        url += "?play=1"
    where = url if host not in ("0.0.0.0", "::") else f"{url} (on every address of this machine)"
    serve_forever(server, ready=lambda: echo(f"issvis view: serving {where} (Ctrl-C to stop)"))
