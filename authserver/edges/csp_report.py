"""POST /csp-report: browsers report Content-Security-Policy violations here.

Two formats arrive: ``application/csp-report`` (``report-uri``; one ``{"csp-report": {...}}``)
and ``application/reports+json`` (the Reporting API's ``report-to``; a list of reports, of which
we read the ``csp-violation`` ones). Some browsers label the first one ``application/json``.

Anyone can post here, so the endpoint is bounded: a small body limit, a per-IP rate limit
(AUTHSERVER_RATELIMIT_CSP_REPORT), a cap on reports per request, and only a few known fields,
each shortened, are logged. URLs lose their query and fragment, and long path segments (the
tokens of emailed links) are blanked, so a report never copies a secret into the log. Nothing
from the report is ever sent back: the answer is an empty 204.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, Response, jsonify, request
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import RequestEntityTooLarge

from authserver.edges.csp import REPORT_PATH
from authserver.ratelimit.limits import limit_csp_report

log = logging.getLogger(__name__)
bp = Blueprint("csp_report", __name__)

MAX_REPORT_BYTES = 16 * 1024  # a report is well under 2 KB; a batch of a few fits easily
MAX_REPORTS_PER_REQUEST = 10
MAX_FIELD_LENGTH = 200
# A path segment this long is a token (reset, verification, unlock links), not a page name.
SECRET_LOOKING_SEGMENT = 20
REPORT_CONTENT_TYPES = ("application/csp-report", "application/reports+json", "application/json")
# (name in the report-uri format, name in the Reporting API format) -> name in our log line
FIELDS = {
    ("document-uri", "documentURL"): "document",
    ("effective-directive", "effectiveDirective"): "directive",
    ("violated-directive", "effectiveDirective"): "directive",
    ("blocked-uri", "blockedURL"): "blocked",
    ("source-file", "sourceFile"): "source",
    ("line-number", "lineNumber"): "line",
    ("disposition", "disposition"): "disposition",
}
URI_FIELDS = {"document", "blocked", "source"}
_DIRECTIVE = re.compile(r"[a-z-]{1,40}")


@bp.post(REPORT_PATH)
@limit_csp_report
def csp_report() -> ResponseReturnValue:
    request.max_content_length = MAX_REPORT_BYTES  # 413 for anything bigger (Flask 3.1)
    if request.mimetype not in REPORT_CONTENT_TYPES:
        return _problem(415, f"Send {' or '.join(REPORT_CONTENT_TYPES[:2])}.")
    body = request.get_data(cache=False)
    if len(body) > MAX_REPORT_BYTES:  # a chunked body read earlier under the global limit
        raise RequestEntityTooLarge()
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return _problem(400, "The report is not JSON.")
    except RecursionError:
        # A few KB of "[[[[..." nest deeper than the parser's recursion limit. No report does.
        return _problem(400, "The report is nested too deeply.")
    reports = list(_violations(document))
    if not reports:
        return _problem(400, "The body holds no CSP violation report.")
    for report in reports[:MAX_REPORTS_PER_REQUEST]:
        # json.dumps escapes control characters: a report cannot forge a log line.
        log.warning("csp violation %s", json.dumps(report, sort_keys=True))
    if len(reports) > MAX_REPORTS_PER_REQUEST:
        skipped = len(reports) - MAX_REPORTS_PER_REQUEST
        log.warning("csp violation: %d more reports in that request not logged", skipped)
    return Response(status=204)


def _problem(status: int, description: str) -> ResponseReturnValue:
    return jsonify({"error": "invalid_request", "error_description": description}), status


def _violations(document: Any) -> Iterator[dict[str, str]]:  # Any: parsed JSON
    if isinstance(document, Mapping) and isinstance(document.get("csp-report"), Mapping):
        yield _summary(document["csp-report"], legacy=True)
    elif isinstance(document, list):
        for entry in document[: MAX_REPORTS_PER_REQUEST + 100]:
            if (
                isinstance(entry, Mapping)
                and entry.get("type") == "csp-violation"
                and isinstance(entry.get("body"), Mapping)
            ):
                yield _summary(entry["body"], legacy=False)


def _summary(body: Mapping[str, Any], *, legacy: bool) -> dict[str, str]:
    summary: dict[str, str] = {}
    for names, ours in FIELDS.items():
        value = body.get(names[0] if legacy else names[1])
        if ours in summary or not isinstance(value, str | int) or isinstance(value, bool):
            continue
        text = str(value)
        if ours in URI_FIELDS:
            text = _without_secrets(text)
        elif ours == "directive":
            text = text.split(" ", 1)[0] if _DIRECTIVE.fullmatch(text.split(" ", 1)[0]) else "?"
        summary[ours] = text[:MAX_FIELD_LENGTH]
    return summary


def _without_secrets(uri: str) -> str:
    """Scheme, host and path only, with token-like path segments blanked."""
    if ":" not in uri or "/" not in uri:
        return uri[:MAX_FIELD_LENGTH]  # keywords such as "inline", "eval", "self"
    try:
        parts = urlsplit(uri[:2048])
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "?"
    segments = [
        "[redacted]" if len(segment) >= SECRET_LOOKING_SEGMENT else segment
        for segment in parts.path.split("/")
    ]
    return f"{parts.scheme}://{host}{port}{'/'.join(segments)}"
