"""`analytics up`: the dataflow in a child process, a generator thread, a live status line."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from rich.console import Console
from rich.live import Live
from rich.table import Table

from adapters.child_processes import stop_child, stop_with_parent
from adapters.loopback import free_port
from application.ports.event_log import DeliveryReport
from entrypoints.cli.common import analytics_argv
from entrypoints.containers import Container
from entrypoints.feeding import produce_generated
from entrypoints.local_services import LocalServices
from entrypoints.producer_metrics import serve_producer_metrics, watch_publisher
from entrypoints.settings import Settings, without_password

LIVE_RATE = 200.0  # events/s when `up` runs without --events: a lively but light demo
STALL_TIMEOUT_S = 120.0  # --exit-when-done gives up when nothing moves for this long


@dataclass(frozen=True)
class LocalApi:
    host: str
    port: int
    keys: str  # the ANALYTICS_API_KEYS spec the API child gets
    generated_admin_key: str | None = None  # printed once, when `up` made it


@dataclass(frozen=True)
class Counts:
    persisted: int
    failed: int


class LocalRun:
    def __init__(self, settings: Settings, services: LocalServices, container: Container, api: LocalApi) -> None:
        self._settings = settings
        self._api = api
        self._services = services
        self._container = container
        self._console = Console(stderr=True)
        self._stop = threading.Event()
        self._report: DeliveryReport | None = None
        self._publisher = container.gateways.live_publisher()
        self._child: subprocess.Popen | None = None
        self._api_child: subprocess.Popen | None = None

    def forever(self, events: int | None, rate: float | None) -> int:
        """Run until Ctrl-C (or SIGTERM); generate `events` or an endless stream."""
        signal.signal(signal.SIGTERM, lambda *_: self._stop.set())
        self._announce()
        self._console.print("[dim]Ctrl-C stops everything.[/]")
        with self._processor():
            self._start_generator(events or 10**12, rate or LIVE_RATE)
            try:
                with Live(console=self._console, refresh_per_second=2) as live:
                    self._watch(live, until=lambda counts: self._stop.is_set())
            except KeyboardInterrupt:
                pass
            self._stop.set()
        return 0

    def until_done(self, events: int, rate: float | None) -> int:
        """Generate `events`, wait until each is stored or dead-lettered, print a JSON summary."""
        started = time.monotonic()
        self._announce()
        with self._processor():
            generator = self._start_generator(events, rate)
            with Live(console=self._console, refresh_per_second=2) as live:
                counts = self._watch(live, until=lambda c: not generator.is_alive() and self._all_accounted(c))
        report = self._report or self._publisher.report()
        summary = {
            "events": events,
            "persisted": counts.persisted,
            "failed": counts.failed,
            "seconds": round(time.monotonic() - started, 3),
        }
        print(json.dumps(summary), flush=True)
        return 0 if self._all_accounted(counts) and report.failed == 0 else 1

    def _announce(self) -> None:
        endpoints = self._services.endpoints
        for started in self._services.started:
            self._console.print(f"[green]started[/] {started}")
        database = without_password(endpoints.database_url)
        self._console.print(f"Kafka [bold]{endpoints.kafka_bootstrap}[/]  Postgres [bold]{database}[/]")
        self._console.print(f"logs: {self._settings.data_dir / 'logs'} (processor.log, api.log)")
        api = self._api
        self._console.print(f"API [bold]http://{api.host}:{api.port}[/]  (docs: /schema/swagger)")
        if api.generated_admin_key:
            self._console.print(f"admin API key (X-API-Key): [bold]{api.generated_admin_key}[/]")

    def _all_accounted(self, counts: Counts) -> bool:
        report = self._report
        return report is not None and counts.persisted + counts.failed >= report.delivered

    def _start_generator(self, count: int, rate: float | None) -> threading.Thread:
        def run() -> None:
            self._report = produce_generated(
                self._publisher,
                self._settings.kafka.events_topic,
                count,
                rate=rate,
                seed=int.from_bytes(os.urandom(4), "big"),
                show_progress=False,
                stop=self._stop,
            )

        thread = threading.Thread(target=run, name="generator", daemon=True)
        thread.start()
        return thread

    def _watch(self, live: Live, until: Callable[[Counts], bool]) -> Counts:
        """Refresh the status line until `until(counts)`, a stall, a stop or a dead dataflow."""
        baseline = self._counts()
        previous, previous_at, last_change = (0, Counts(0, 0)), time.monotonic(), time.monotonic()
        while True:
            total = self._counts()
            counts = Counts(total.persisted - baseline.persisted, total.failed - baseline.failed)
            produced = self._publisher.report().delivered
            now = time.monotonic()
            elapsed = max(now - previous_at, 1e-6)
            live.update(_status_line(produced, counts, previous, elapsed))
            if (produced, counts) != previous:
                last_change = now
            previous, previous_at = (produced, counts), now
            if until(counts):
                return counts
            generator_done = self._report is not None
            if self._stop.is_set() or (generator_done and now - last_change > STALL_TIMEOUT_S):
                return counts
            if self._child is not None and self._child.poll() is not None:
                self._console.print(f"[red]the dataflow exited ({self._child.returncode}); see its log")
                return counts
            if self._api_child is not None and self._api_child.poll() is not None:
                self._console.print(f"[red]the API exited ({self._api_child.returncode}); see its log")
                return counts
            time.sleep(0.5)

    def _counts(self) -> Counts:
        with self._container.services.unit_of_work() as uow:
            return Counts(uow.events.count(), uow.dead_letters.count())

    @contextmanager
    def _processor(self) -> Iterator[subprocess.Popen]:
        """The dataflow (`analytics process`) and the API (`analytics api`) as children,
        each logging to the data directory; both stop when this context ends."""
        logs = self._settings.data_dir / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        # Each process serves its metrics on a port of its own; the API's /metrics shows them all.
        worker_port, generator_port = free_port(), free_port()
        watch_publisher(self._publisher, "generator")
        serve_producer_metrics(generator_port, host="127.0.0.1")
        siblings = [f"http://127.0.0.1:{port}/metrics" for port in (worker_port, generator_port)]
        env = {
            **os.environ,
            **self._services.endpoints.as_env(),
            "ANALYTICS_API_KEYS": self._api.keys,
            "ANALYTICS_PROCESSOR_METRICS_PORT": str(worker_port),
            "ANALYTICS_API_METRICS_FROM": json.dumps(siblings),
        }
        api_args = ["api", "--host", self._api.host, "--port", str(self._api.port)]
        with (logs / "processor.log").open("ab") as processor_log, (logs / "api.log").open("ab") as api_log:
            self._child = _start(["process"], env, processor_log)
            api = self._api_child = _start(api_args, env, api_log)
            try:
                yield self._child
            finally:
                self._stop.set()
                stop_child(api, signal.SIGTERM, 15)  # uvicorn: graceful shutdown
                stop_child(self._child, signal.SIGINT, 15)  # Bytewax: stop the dataflow


def _start(args: list[str], env: dict[str, str], log) -> subprocess.Popen:
    # A session of its own: a terminal's Ctrl-C reaches `up` only, which then stops
    # each child once, in order, with the signal that child shuts down cleanly on.
    return subprocess.Popen(
        analytics_argv(*args),
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        preexec_fn=stop_with_parent(),
    )


def _status_line(produced: int, counts: Counts, previous: tuple[int, Counts], elapsed: float) -> Table:
    """produced / persisted / failed: totals and per-second rates since the last refresh."""
    before_produced, before = previous
    table = Table.grid(padding=(0, 3))
    table.add_row(
        f"[bold]produced[/] {produced:,} ({(produced - before_produced) / elapsed:,.0f}/s)",
        f"[bold green]persisted[/] {counts.persisted:,} ({(counts.persisted - before.persisted) / elapsed:,.0f}/s)",
        f"[bold red]failed[/] {counts.failed:,} ({(counts.failed - before.failed) / elapsed:,.0f}/s)",
    )
    return table
