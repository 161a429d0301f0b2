"""The framework ceiling: a bare Flask app answering a constant JSON body.

Served by the same server with the same settings as authserver, it is the most any endpoint of
ours could do on this machine: every workload is reported as a fraction of it.
"""

from __future__ import annotations

import json

from flask import Flask, Response

BODY = json.dumps({"status": "ok", "ceiling": True}, separators=(",", ":")).encode()

app = Flask(__name__)


@app.get("/ceiling")
def ceiling() -> Response:
    return Response(BODY, mimetype="application/json")


@app.get("/healthz")
def healthz() -> Response:
    return Response(BODY, mimetype="application/json")
