"""kill -9 of dataflow workers at seeded random moments (a lone process or one member of a
two-process cluster), restarted as a supervisor would: nothing lost, nothing counted twice."""

from __future__ import annotations

import random
import time
from dataclasses import dataclass

import psutil
import pytest

from adapters.postgres.engine import create_postgres_engine, upgrade_schema
from tests.faults import audit, cluster_members, read_log
from tests.integration.platform import (
    EVENT_COLUMNS,
    FAILED_COLUMNS,
    Database,
    analytics,
    platform_env,
    produce_workload,
)

pytestmark = [pytest.mark.integration, pytest.mark.faults]

COUNT = 16_000
SEED = 20_611  # change it to explore other kill points; a failure names the plan it ran


@dataclass(frozen=True)
class Kill:
    processes: int  # 1: `analytics process`; 2: a cluster, where one member dies
    fraction: float  # share of the workload stored before the kill is armed
    delay_s: float  # then this long: batches of 200 commit every few ms, so it lands in or between transactions
    member: int  # the cluster member that dies


def kill_plan(rng: random.Random) -> list[Kill]:
    """Three kills at rising fractions, at least one of them in a cluster."""
    processes = [rng.choice((1, 2)) for _ in range(3)]
    if 2 not in processes:
        processes[rng.randrange(3)] = 2
    fractions = (rng.uniform(0.1, 0.3), rng.uniform(0.35, 0.55), rng.uniform(0.6, 0.8))
    return [Kill(p, f, rng.uniform(0.0, 0.3), rng.randrange(p)) for p, f in zip(processes, fractions, strict=True)]


def _kill_mid_stream(kill: Kill, name: str, env, db: Database, children) -> None:
    supervisor = children.start(name, "process", "--processes", str(kill.processes), env=env)
    members = cluster_members(supervisor, 2) if kill.processes == 2 else [psutil.Process(supervisor.pid)]
    target = int(COUNT * kill.fraction)
    armed = db.wait_for("SELECT count(*) FROM events", target, timeout=60)
    assert armed >= target, f"{kill}: only {armed} stored\n{children.tail(name)}"
    time.sleep(kill.delay_s)
    members[kill.member].kill()

    exit_code = supervisor.wait(timeout=30)
    reached = db.scalar("SELECT count(*) FROM events")
    assert exit_code != 0, f"{kill}: a dead worker must show in the exit code\n{children.tail(name)}"
    assert reached < COUNT, f"{kill}: the kill must land mid-stream ({reached} of {COUNT} stored)"
    assert not any(m.is_running() for m in members), f"{kill}: the cluster stops as a whole, no member left behind"


def test_workers_killed_at_random_moments_then_restarted_store_every_event_once(
    kafka_bootstrap, postgres_server, database_url, tmp_path, children
):
    env = platform_env(kafka_bootstrap, database_url, tmp_path, ANALYTICS_PROCESSOR_BATCH_SIZE="200")
    topic = env["ANALYTICS_KAFKA_EVENTS_TOPIC"]
    workload = produce_workload(env, COUNT, seed=SEED, retry_every=300, shift_every=53)
    db = Database(database_url)
    plan = kill_plan(random.Random(SEED))

    for n, kill in enumerate(plan):
        _kill_mid_stream(kill, f"process-{n}", env, db, children)
    restarted = analytics("process", "--until-caught-up", env=env, timeout=120)
    assert restarted.returncode == 0, restarted.stderr.decode()[-3000:]

    log = read_log(kafka_bootstrap, topic)
    assert (len(log.events), log.repeats, len(log.malformed)) == (COUNT, workload.retried, workload.malformed)
    audit(db, topic, log, context=lambda: f"kill plan {plan}\n{children.tail()}")
    # And column for column what a run without faults stores.
    steady_url = postgres_server.create_database(f"steady_{tmp_path.name}"[:60])
    engine = create_postgres_engine(steady_url, pool_size=1)
    upgrade_schema(engine)
    engine.dispose()
    steady = analytics("process", "--until-caught-up", env={**env, "ANALYTICS_DATABASE_URL": steady_url}, timeout=120)
    assert steady.returncode == 0, steady.stderr.decode()[-3000:]
    assert _columns(db) == _columns(Database(steady_url)), f"kill plan {plan}"


def _columns(db: Database) -> tuple[list[tuple], list[tuple]]:
    return (
        db.rows(f"SELECT {EVENT_COLUMNS} FROM events ORDER BY event_id"),
        db.rows(f"SELECT {FAILED_COLUMNS} FROM failed_events ORDER BY source_partition, source_offset"),
    )
