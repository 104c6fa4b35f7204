"""A private certificate authority for TLS tests (the ``openssl`` binary, as an operator would)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from support.require import require_binary


def _openssl(*argv: str) -> None:
    subprocess.run([require_binary("openssl"), *argv], check=True, capture_output=True, timeout=60)


def private_ca(folder: Path) -> tuple[Path, Path, Path]:
    """A CA of our own and a server certificate for 127.0.0.1 it signed: (ca, cert, key)."""
    ca, ca_key = folder / "ca.pem", folder / "ca.key"
    cert, key, request = folder / "server.pem", folder / "server.key", folder / "server.csr"
    extensions = folder / "server.ext"
    extensions.write_text(
        "basicConstraints=CA:FALSE\nsubjectAltName=IP:127.0.0.1\n"
        "keyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n"
    )
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
             "-subj", "/CN=securellm test CA", "-keyout", str(ca_key), "-out", str(ca))  # fmt: skip
    _openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1",
             "-keyout", str(key), "-out", str(request))  # fmt: skip
    _openssl("x509", "-req", "-in", str(request), "-CA", str(ca), "-CAkey", str(ca_key),
             "-CAcreateserial", "-days", "1", "-extfile", str(extensions),
             "-out", str(cert))  # fmt: skip
    return ca, cert, key
