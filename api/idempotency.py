"""`Idempotency-Key` on every POST: the first answer is kept and given again to a retry (storage/idempotency.py).

A retry is recognised by the key and checked against the first request's fingerprint: its method, path and body
(a multipart body by its fields and each file's SHA-256, since a client's boundary changes between tries).
An answer of 5xx is not kept: the claim is released so the retry runs again.
"""

from __future__ import annotations

import hashlib
import json

from flask import Response, g, request

from admin.context import homeward
from api.problems import ApiError
from storage.idempotency import claim, finish, release

HEADER = "Idempotency-Key"
MAX_KEY = 255
KEPT_HEADERS = ("Content-Type", "ETag", "Location")


def begin() -> Response | None:
    """Claim this POST's key; the first answer when it was answered already, None to go ahead."""
    key = request.headers.get(HEADER)
    if request.method != "POST" or key is None:
        return None
    if not 0 < len(key) <= MAX_KEY or not key.isprintable():
        raise ApiError(400, f"{HEADER} must be 1 to {MAX_KEY} printable characters (a UUID is a good choice).")
    db = homeward().connections.db
    existing = claim(db, g.api_key["_id"], key, _fingerprint())
    if existing is None:
        g.idempotency_key = key
        return None
    if existing["fingerprint"] != _fingerprint():
        detail = f"This {HEADER} was used for a different request; use a new key for a new request."
        raise ApiError(422, detail, "idempotency-key-reused")
    if existing["state"] != "done":
        detail = f"The first request with this {HEADER} is still being handled; retry in a few seconds."
        raise ApiError(409, detail, "idempotency-key-in-use", headers={"Retry-After": "2"})
    kept = existing["response"]
    replay = Response(kept["body"], kept["status"])
    replay.headers.update(kept["headers"])
    replay.headers["Idempotent-Replayed"] = "true"
    return replay


def end(response: Response) -> Response:
    """Keep the answer of a claimed POST (or release the claim after a failure of ours)."""
    key = g.pop("idempotency_key", None)
    if key is None:
        return response
    db = homeward().connections.db
    if response.status_code >= 500:
        release(db, g.api_key["_id"], key)
        return response
    headers = {name: response.headers[name] for name in KEPT_HEADERS if name in response.headers}
    body = g.pop("kept_body", None) or response.get_data(as_text=True)  # a view may keep less (a secret shown once)
    kept = {"status": response.status_code, "headers": headers, "body": body}
    finish(db, g.api_key["_id"], key, kept)
    return response


def _fingerprint() -> str:
    if "fingerprint" in g:
        return g.fingerprint  # type: ignore[no-any-return]
    digest = hashlib.sha256(f"{request.method} {request.path}\n".encode())
    if request.mimetype == "multipart/form-data":
        fields = sorted((name, value) for name, value in request.form.items(multi=True))
        files = []
        for name, upload in request.files.items(multi=True):
            files.append((name, upload.filename or "", hashlib.sha256(upload.stream.read()).hexdigest()))
            upload.stream.seek(0)
        digest.update(json.dumps([fields, sorted(files)]).encode())
    else:
        digest.update(request.get_data(cache=True))
    g.fingerprint = digest.hexdigest()
    return g.fingerprint
