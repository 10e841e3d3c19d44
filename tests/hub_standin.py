"""A stand-in for the Hugging Face hub on localhost, for the download tests (these machines
cannot reach the hub). It serves `root/<owner>/<repo>/<file>` in the hub's layout:
HEAD/GET `/<repo_id>/resolve/<revision>/<file>` with the commit, etag (the sha256, as the
hub gives for LFS files) and size headers huggingface_hub reads, and byte ranges for resume.

Faults for the tests: `cut_after[file] = n` closes the connection after n bytes (once),
`corrupt.add(file)` serves altered bytes under the true sha256.
"""

import hashlib
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

COMMIT = "0123456789abcdef0123456789abcdef01234567"
NAME, REPO = "musicgen-small", "facebook/musicgen-small"  # what the tests install


class HubStandIn:
    def __init__(self, root: Path):
        self.root = Path(root)
        self.requests: list[str] = []
        self.cut_after: dict[str, int] = {}
        self.slow_once: dict[str, float] = {}  # file name → seconds its next download takes
        self.corrupt: set[str] = set()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> "HubStandIn":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def add(self, repo_id: str, filename: str, content: bytes) -> None:
        path = self.root / repo_id / filename
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)

    def _handler(self):
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def do_HEAD(self):
                self._serve(body=False)

            def do_GET(self):
                self._serve(body=True)

            def _serve(self, body: bool):
                hub.requests.append(f"{self.command} {self.path} {self.headers.get('Range', '')}".strip())
                match = re.fullmatch(r"/(.+)/resolve/([^/]+)/(.+)", self.path.split("?")[0])
                file = hub.root / match[1] / match[3] if match else None
                if file is None or not file.is_file():
                    self.send_response(404)
                    self.send_header("X-Error-Code", "EntryNotFound")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                data = file.read_bytes()
                digest = hashlib.sha256(data).hexdigest()
                if match[3] in hub.corrupt:
                    data = bytes(b ^ 0xFF for b in data[:64]) + data[64:]
                start = 0
                ranged = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range", ""))
                if ranged:
                    start = int(ranged[1])
                self.send_response(206 if ranged else 200)
                self.send_header("X-Repo-Commit", COMMIT)
                self.send_header("ETag", f'"{digest}"')
                self.send_header("X-Linked-Etag", f'"{digest}"')
                self.send_header("X-Linked-Size", str(len(data)))
                self.send_header("Accept-Ranges", "bytes")
                self.send_header("Content-Length", str(len(data) - start))
                if ranged:
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                self.end_headers()
                if not body:
                    return
                cut = hub.cut_after.pop(match[3], None)
                payload = data[start:]
                if cut is not None:
                    self.wfile.write(payload[:cut])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                seconds = hub.slow_once.pop(match[3], 0.0)
                pieces = 50 if seconds else 1  # paced: a cancel lands half way, however busy the machine
                step = -(-len(payload) // pieces)
                for at in range(0, len(payload), step):
                    self.wfile.write(payload[at:at + step])
                    time.sleep(seconds / pieces)

        return Handler
