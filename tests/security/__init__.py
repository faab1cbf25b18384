"""Security checks: keys and secrets, TLS to Kafka and Postgres, the dependency audit.

Shared by the TLS tests: a throwaway certificate authority and server certificates,
made with the `openssl` command (the tests skip, saying why, where it is missing).
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

_EXTENSIONS = """\
[req]
distinguished_name = dn
prompt = no
[dn]
CN = analytics test
[ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[server]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = {names}
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
"""


@dataclass(frozen=True)
class Pki:
    """A CA certificate, and a server certificate and key it signed."""

    ca_certificate: Path
    server_certificate: Path
    server_key: Path


def issue_certificates(directory: Path, *, names: str = "DNS:localhost, IP:127.0.0.1") -> Pki:
    """A fresh CA in `directory`, and a certificate for the subject alternative `names` (valid 2 days)."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("the openssl command is needed to make test certificates")
    directory.mkdir(parents=True, exist_ok=True)
    config = directory / "openssl.cnf"
    config.write_text(_EXTENSIONS.format(names=names))
    ca_cert, ca_key = directory / "ca.crt", directory / "ca.key"
    server_cert, server_key, request = directory / "server.crt", directory / "server.key", directory / "server.csr"
    # EC keys: generated in milliseconds, unlike RSA ones.
    new_key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    for command in (
        ["req", "-x509", "-config", config, "-extensions", "ca", *new_key, "-keyout", ca_key, "-out", ca_cert]
        + ["-days", "2", "-subj", "/CN=analytics test CA"],
        ["req", "-new", "-config", config, *new_key, "-keyout", server_key, "-out", request, "-subj", "/CN=server"],
        ["x509", "-req", "-in", request, "-CA", ca_cert, "-CAkey", ca_key, "-CAcreateserial", "-out", server_cert]
        + ["-days", "2", "-extfile", config, "-extensions", "server"],
    ):
        subprocess.run([openssl, *map(str, command)], check=True, capture_output=True, timeout=30)
    return Pki(ca_certificate=ca_cert, server_certificate=server_cert, server_key=server_key)
