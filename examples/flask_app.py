"""A Flask app with all five middleware, added the Flask way: ``app.wsgi_app = Cls(app.wsgi_app)``.

    .venv/bin/flask --app examples.flask_app run
    .venv/bin/gunicorn examples.flask_app:app
    .venv/bin/waitress-serve examples.flask_app:app

Routes: ``/`` (an HTML page), ``/stream`` (NDJSON, one line every 50 ms), ``/session`` (counts
your visits in the signed session cookie), ``/crash`` (raises; Flask answers the 500 and the
middleware add their headers to it). Access lines, each ending with the request ID, go to
stderr, or to the file named by ``$ACCESS_LOG``.

Wrapping ``app.wsgi_app`` (not ``app``) keeps ``app`` a Flask object, so ``flask run``, the
test client and extensions still work. The session is ``request.environ["middleware.session"]``
(or ``get_session(request.environ)``); Flask's own ``flask.session`` is a separate thing.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Iterator

from flask import Flask, Response, request

from examples._secret import session_secret
from middleware import timing
from middleware.wsgi import (
    CompressionMiddleware,
    CORSMiddleware,
    RequestLoggingMiddleware,
    SessionMiddleware,
    TimingMiddleware,
    get_session,
)

ORIGIN = "https://app.example"
SECRET = session_secret()

app = Flask(__name__)

# Each line wraps what is there already, so the last one is the outermost layer.
app.wsgi_app = CompressionMiddleware(app.wsgi_app)
app.wsgi_app = SessionMiddleware(app.wsgi_app, secret_key=SECRET)
app.wsgi_app = CORSMiddleware(
    app.wsgi_app,
    allow_origins=[ORIGIN],
    allow_methods=["GET", "POST"],
    allow_headers=["X-Demo"],
    allow_credentials=True,
    expose_headers=["X-Request-ID", "Server-Timing"],
)
app.wsgi_app = TimingMiddleware(app.wsgi_app, timing_allow_origin="*")
app.wsgi_app = RequestLoggingMiddleware(app.wsgi_app)

# Access lines (the record's fields are also attributes, request_id among them).
access_handler = (
    logging.FileHandler(os.environ["ACCESS_LOG"])
    if os.environ.get("ACCESS_LOG")
    else logging.StreamHandler()
)
access_handler.setFormatter(logging.Formatter("%(message)s %(request_id)s"))
logging.getLogger("middleware.access").addHandler(access_handler)
logging.getLogger("middleware.access").setLevel(logging.INFO)


@app.get("/")
def index() -> Response:
    with timing.measure("render"):
        body = "<!doctype html><title>flask</title>" + "<p>hello from Flask</p>\n" * 200
    return Response(body, mimetype="text/html")


@app.get("/stream")
def stream() -> Response:
    def lines() -> Iterator[str]:
        for n in range(5):
            time.sleep(0.05)
            yield json.dumps({"n": n}) + "\n"

    return Response(lines(), mimetype="application/x-ndjson")


@app.route("/session", methods=["GET", "POST"])
def visits() -> dict[str, int]:
    session = get_session(request.environ)
    session["visits"] = session.get("visits", 0) + 1
    return {"visits": session["visits"]}


@app.get("/crash")
def crash() -> Response:
    raise RuntimeError("crashed on purpose")
