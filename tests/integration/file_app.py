"""A Flask app that answers with files (``send_file``) through the full WSGI stack.

The server target for ``test_file_responses.py``: ``tests.integration.file_app:app``. The files
live in the directory named by ``$FILE_APP_DIR`` (the test writes them): ``/page`` is
``page.html``, ``/big`` is ``big.html``. Flask hands the open file to the server's
``wsgi.file_wrapper`` (gunicorn's and waitress's read it in blocks; uWSGI's is the file object
itself), so the middleware sees whatever each server gives back.
"""

from __future__ import annotations

import os
from pathlib import Path

from flask import Flask, Response, send_file

from middleware import Middleware
from middleware.wsgi import (
    CompressionMiddleware,
    CORSMiddleware,
    RequestLoggingMiddleware,
    SessionMiddleware,
    TimingMiddleware,
    compose,
)

FILES = Path(os.environ.get("FILE_APP_DIR", "."))

app = Flask(__name__)
app.wsgi_app = compose(
    RequestLoggingMiddleware,
    TimingMiddleware,
    Middleware(CORSMiddleware, allow_origins=["https://app.example"]),
    Middleware(SessionMiddleware, secret_key="file-app-test-key-not-a-secret"),
    CompressionMiddleware,
)(app.wsgi_app)


@app.get("/page")
def page() -> Response:
    return send_file(FILES / "page.html", mimetype="text/html")


@app.get("/big")
def big() -> Response:
    return send_file(FILES / "big.html", mimetype="text/html")
