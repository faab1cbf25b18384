"""Whether a Docker engine answers, for the testcontainers paths."""

from __future__ import annotations

import functools


@functools.cache
def docker_available() -> bool:
    try:
        import docker

        client = docker.from_env(timeout=2)
        return bool(client.ping())
    except Exception:  # no socket, no permission, no engine: all mean "no Docker here"
        return False


NO_DOCKER_REASON = "no Docker engine answers on this machine; testcontainers path not exercised"
