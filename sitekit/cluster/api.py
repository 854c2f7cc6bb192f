"""A small Kubernetes API client over the standard library, driven by a kubeconfig.

The lab needs a handful of calls (readiness, create nodes, wait for conditions) and the tests a few more;
this keeps them free of the `kubernetes` package. It reads the kubeconfig's current context: server, CA
data, `tls-server-name` (the API server's certificate names the country's addresses, not the machine's
127.0.0.1 where the forwarder listens) and the client certificate and key.
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import socket
import ssl
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml


class ApiError(Exception):
    """A request the API server answered with an error status (the Status object is kept)."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        self.status = status
        self.body = body
        super().__init__(f"HTTP {status}: {body.get('message', body)}")


@dataclass(frozen=True)
class Kubeconfig:
    """The parts of a kubeconfig's current context this client uses (certificate data as PEM bytes)."""

    server: str
    ca_pem: bytes
    cert_pem: bytes
    key_pem: bytes
    tls_server_name: str | None = None

    @classmethod
    def load(cls, path: Path) -> Kubeconfig:
        """Read a kubeconfig with embedded certificate data (as `sitekit lab up --tier cluster` writes)."""
        doc: dict[str, Any] = yaml.safe_load(path.read_text())
        ctx_name = doc.get("current-context")
        ctx = next(c["context"] for c in doc["contexts"] if c["name"] == ctx_name)
        cluster = next(c["cluster"] for c in doc["clusters"] if c["name"] == ctx["cluster"])
        user = next(u["user"] for u in doc["users"] if u["name"] == ctx["user"])
        return cls(
            server=cluster["server"],
            ca_pem=base64.b64decode(cluster["certificate-authority-data"]),
            cert_pem=base64.b64decode(user["client-certificate-data"]),
            key_pem=base64.b64decode(user["client-key-data"]),
            tls_server_name=cluster.get("tls-server-name"),
        )

    def ssl_context(self) -> ssl.SSLContext:
        """A verifying TLS context with the client certificate loaded (the key never touches a shared path)."""
        ctx = ssl.create_default_context(cadata=self.ca_pem.decode())
        ctx.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN  # the cluster CA is an intermediate (as Go accepts)
        with tempfile.TemporaryDirectory(prefix="sitekit-kc-") as tmp:
            cert, key = Path(tmp) / "c.pem", Path(tmp) / "k.pem"
            cert.write_bytes(self.cert_pem)
            fd = os.open(key, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as fh:
                fh.write(self.key_pem)
            ctx.load_cert_chain(cert, key)
        return ctx


class _Connection(http.client.HTTPSConnection):
    """HTTPS to the forwarder's address while verifying the API server's own name (`tls-server-name`)."""

    def __init__(self, host: str, port: int, timeout: float, ctx: ssl.SSLContext, server_name: str | None) -> None:
        super().__init__(host, port, timeout=timeout, context=ctx)
        self._tls = ctx
        self._server_name = server_name or host

    def connect(self) -> None:
        sock = socket.create_connection((self.host, self.port), self.timeout)
        self.sock = self._tls.wrap_socket(sock, server_hostname=self._server_name)


class Client:
    """JSON requests against one API server."""

    def __init__(self, config: Kubeconfig, timeout: float = 30.0) -> None:
        self.config = config
        self.timeout = timeout
        self._ctx = config.ssl_context()
        parts = urlsplit(config.server)
        self._host, self._port = parts.hostname or "127.0.0.1", parts.port or 443

    @classmethod
    def from_kubeconfig(cls, path: Path) -> Client:
        """A client for the kubeconfig at `path`."""
        return cls(Kubeconfig.load(path))

    def _connection(self) -> _Connection:
        return _Connection(self._host, self._port, self.timeout, self._ctx, self.config.tls_server_name)

    def request(self, method: str, path: str, body: Any = None, content_type: str = "application/json") -> Any:
        """One request; returns the decoded JSON (or text) body, raises `ApiError` on an error status."""
        conn = self._connection()
        try:
            payload = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
            headers = {"Accept": "application/json"}
            if payload is not None:
                headers["Content-Type"] = content_type
            conn.request(method, path, body=payload, headers=headers)
            resp = conn.getresponse()
            raw = resp.read()
        finally:
            conn.close()
        try:
            data: Any = json.loads(raw) if raw else {}
        except ValueError:
            data = raw.decode(errors="replace")
        if resp.status >= 400:
            raise ApiError(resp.status, data if isinstance(data, dict) else {"message": data})
        return data

    def get(self, path: str) -> Any:
        """GET `path`."""
        return self.request("GET", path)

    def create(self, path: str, obj: dict[str, Any]) -> Any:
        """POST `obj` to the collection at `path`."""
        return self.request("POST", path, obj)

    def apply(self, path: str, obj: dict[str, Any], manager: str = "sitekit-lab") -> Any:
        """Server-side apply of `obj` at its own resource `path` (create or update, idempotent)."""
        return self.request(
            "PATCH",
            f"{path}?fieldManager={manager}&force=true",
            json.dumps(obj).encode(),
            "application/apply-patch+yaml",
        )

    def wait(self, what: str, check: Any, timeout: float, interval: float = 0.5) -> Any:
        """Call `check()` until it returns something truthy (API errors count as not yet); raise on timeout."""
        deadline = time.monotonic() + timeout
        last: Exception | None = None
        while time.monotonic() < deadline:
            try:
                result = check()
                if result:
                    return result
            except (ApiError, OSError, urllib.error.URLError, ssl.SSLError) as exc:
                last = exc
            time.sleep(interval)
        raise TimeoutError(f"{what}: not within {timeout:.0f} s" + (f" (last error: {last})" if last else ""))
