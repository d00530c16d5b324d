"""A local static host for a built site, serving it as readers' hosts do (text gzip-compressed).

``serve(site)`` is a context manager that yields the base URL of a server on 127.0.0.1 with an
ephemeral port, stopped on exit. The site's weigh and explorer-budget commands measure through it.
"""

from __future__ import annotations

import contextlib
import functools
import gzip
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path


class StaticHost(http.server.SimpleHTTPRequestHandler):
    """A static host as readers meet it: text (HTML, CSS, JavaScript, JSON, SVG) is sent gzip-compressed.

    GitHub Pages, Netlify and a stock nginx with ``gzip on`` all do this; Python's own
    server does not, and would count a page's scripts at three to five times their
    published weight. Images are sent as they are (they are compressed already).
    """

    COMPRESSED = {".html", ".css", ".js", ".json", ".svg", ".xml", ".txt", ".map"}
    compress = True

    def log_message(self, format, *args):  # noqa: A002 - the base class's signature
        pass

    def do_GET(self):  # noqa: N802 - the base class's name
        path = Path(self.translate_path(self.path))
        if path.is_dir() and self.path.split("?")[0].endswith("/"):
            path = path / "index.html"
        if (
            not self.compress
            or path.suffix not in self.COMPRESSED
            or not path.is_file()
            or "gzip" not in self.headers.get("Accept-Encoding", "")
        ):
            return super().do_GET()
        body = _gzipped(path)
        self.send_response(200)
        self.send_header("Content-Type", self.guess_type(str(path)))
        self.send_header("Content-Encoding", "gzip")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@functools.cache
def _gzipped(path: Path) -> bytes:
    return gzip.compress(path.read_bytes(), compresslevel=6, mtime=0)


@contextlib.contextmanager
def serve(site: Path, *, compress: bool = True) -> Iterator[str]:
    """Serve the folder ``site``; yields its base URL (ending in ``/``). ``compress=False`` sends text
    uncompressed, as ``python -m http.server`` does."""
    handler = type("Host", (StaticHost,), {"compress": compress})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(handler, directory=str(site)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def site_argument(parser, what: str) -> None:
    """The positional ``site`` argument and ``--json`` option the site's measuring commands share."""
    parser.add_argument("site", type=Path, help="a built site folder (properdocs build's output, e.g. site/)")
    parser.add_argument("--json", type=Path, help=f"also write {what} to this JSON file")
