"""A push service on loopback for the tests, and browser-side subscription keys.

It does what a browser's push service and the browser do with a push, with
nothing taken on trust: it verifies the VAPID JWT (RFC 8292: ES256 over the
token with the key in ``k``, ``aud`` its own origin, ``exp`` within a day,
a ``sub``) and decrypts the ``aes128gcm`` body (RFC 8188/8291) with the
private key and auth secret the test made as a browser would. It answers
each endpoint with the status the test scripted (201 by default), so every
path of the sender can be driven.
"""

from __future__ import annotations

import base64
import json
import os
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import http_ece
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class BrowserKeys:
    """What ``PushManager.subscribe()`` makes in a browser: a P-256 key pair and a 16-byte auth secret."""

    private: ec.EllipticCurvePrivateKey = field(default_factory=lambda: ec.generate_private_key(ec.SECP256R1()))
    auth: bytes = field(default_factory=lambda: os.urandom(16))

    @property
    def p256dh(self) -> str:
        return b64url(
            self.private.public_key().public_bytes(
                serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
            )
        )

    def subscription(self, endpoint: str) -> dict[str, Any]:
        """The JSON of a browser's ``PushSubscription``."""
        return {
            "endpoint": endpoint,
            "expirationTime": None,
            "keys": {"p256dh": self.p256dh, "auth": b64url(self.auth)},
        }

    def decrypt(self, body: bytes) -> bytes:
        return http_ece.decrypt(body, private_key=self.private, auth_secret=self.auth, version="aes128gcm")


class VapidError(Exception):
    pass


def verify_vapid(authorization: str, origin: str, now: float | None = None) -> dict[str, Any]:
    """The claims of an RFC 8292 ``Authorization: vapid t=<JWT>, k=<key>`` header, after checking it."""
    scheme, _, params = authorization.partition(" ")
    if scheme.lower() != "vapid":
        raise VapidError(f"scheme {scheme!r} is not 'vapid'")
    parts = dict(part.strip().split("=", 1) for part in params.split(",") if "=" in part)
    token, key = parts.get("t"), parts.get("k")
    if not token or not key:
        raise VapidError("t= or k= missing")
    header_b64, claims_b64, signature_b64 = token.split(".")
    header = json.loads(unb64url(header_b64))
    if header.get("alg") != "ES256":
        raise VapidError(f"alg {header.get('alg')!r} is not ES256")
    public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), unb64url(key))
    signature = unb64url(signature_b64)
    if len(signature) != 64:
        raise VapidError("an ES256 JWT signature is r||s, 64 bytes")
    der = encode_dss_signature(int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big"))
    try:
        public.verify(der, f"{header_b64}.{claims_b64}".encode(), ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        raise VapidError("the JWT signature does not verify with k") from None
    claims = json.loads(unb64url(claims_b64))
    now = time.time() if now is None else now
    if claims.get("aud") != origin:
        raise VapidError(f"aud {claims.get('aud')!r} is not {origin!r}")
    if not (now < claims.get("exp", 0) <= now + 86400):
        raise VapidError(f"exp {claims.get('exp')} is not within the next 24 hours")
    if not str(claims.get("sub", "")).startswith(("mailto:", "https:")):
        raise VapidError("sub is not a mailto: or https: contact")
    claims["k"] = key
    return claims


@dataclass
class Delivery:
    """One push the service took (or refused), as the browser would see it."""

    path: str
    status: int
    headers: dict[str, str]
    claims: dict[str, Any] | None
    payload: dict[str, Any] | None
    error: str | None = None


class PushService:
    """``with PushService() as service``: an HTTP push service on 127.0.0.1, one thread."""

    def __init__(self) -> None:
        self.keys: dict[str, BrowserKeys] = {}
        self.answers: dict[str, list[int]] = {}
        self.received: list[Delivery] = []
        self._lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> PushService:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def browser(self, name: str) -> tuple[dict[str, Any], BrowserKeys]:
        """A new browser subscription at ``/push/<name>``: (its JSON, its keys)."""
        keys = BrowserKeys()
        path = f"/push/{name}"
        self.keys[path] = keys
        return keys.subscription(self.origin + path), keys

    def answer(self, name: str, *statuses: int) -> None:
        """Answer the next pushes to ``name`` with these statuses, in order (then 201)."""
        self.answers[f"/push/{name}"] = list(statuses)

    def to(self, name: str) -> list[Delivery]:
        return [d for d in self.received if d.path == f"/push/{name}"]

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        service = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                headers = {k.lower(): v for k, v in self.headers.items()}
                claims = payload = error = None
                status = 201
                try:
                    claims = verify_vapid(headers.get("authorization", ""), service.origin)
                    keys = service.keys.get(self.path)
                    if keys is None:
                        status = 404
                    else:
                        if headers.get("content-encoding") != "aes128gcm":
                            raise VapidError(f"content-encoding {headers.get('content-encoding')!r}")
                        payload = json.loads(keys.decrypt(body))
                except (VapidError, ValueError, KeyError) as exc:
                    status, error = 400, f"{type(exc).__name__}: {exc}"
                with service._lock:
                    scripted = service.answers.get(self.path)
                    if status == 201 and scripted:
                        status = scripted.pop(0)
                    service.received.append(Delivery(self.path, status, headers, claims, payload, error))
                self.send_response(status)
                if status == 429:
                    self.send_header("Retry-After", "30")
                self.send_header("Content-Length", "0")
                self.end_headers()

        return Handler
