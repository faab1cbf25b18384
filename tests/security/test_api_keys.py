"""API keys are held as digests only and compared in constant time."""

from __future__ import annotations

import dataclasses
import hashlib
import pickle

import pytest

from entrypoints.api import auth
from entrypoints.api.auth import ApiKeys, Role
from tests.api.conftest import KEYS, Platform, build_client

PLAIN = {"read": "reader-Pl41n-key-111", "ingest": "ingester-Pl41n-key-222", "admin": "admin-Pl41n-key-333"}
SPEC = ",".join(f"{key}:{role}" for role, key in PLAIN.items())


def _everything_held(value: object, seen: set[int] | None = None) -> list[object]:
    """Every value reachable from `value` through attributes and containers."""
    seen = seen if seen is not None else set()
    if id(value) in seen:
        return []
    seen.add(id(value))
    found = [value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        children = [getattr(value, f.name) for f in dataclasses.fields(value)]
    elif isinstance(value, dict):
        children = [*value.keys(), *value.values()]
    elif isinstance(value, (list, tuple, set, frozenset)):
        children = list(value)
    else:
        children = list(getattr(value, "__dict__", {}).values())
    for child in children:
        found += _everything_held(child, seen)
    return found


def _shows_a_key(value: object) -> bool:
    for key in PLAIN.values():
        if isinstance(value, str) and key in value:
            return True
        if isinstance(value, bytes) and key.encode() in value:
            return True
    return False


def test_parsed_keys_keep_no_plaintext_anywhere():
    keys = ApiKeys.parse(SPEC)

    held = _everything_held(keys)

    assert not [value for value in held if _shows_a_key(value)]
    assert not _shows_a_key(repr(keys)) and not _shows_a_key(str(keys))
    assert not _shows_a_key(pickle.dumps(keys))  # what would be written if it were ever saved
    assert {digest for digest, _ in keys.digests} == {hashlib.sha256(k.encode()).digest() for k in PLAIN.values()}


def test_the_running_app_state_holds_digests_only():
    with build_client(Platform()) as client:
        state = client.app.state

        held = _everything_held(dict(state))

        assert state.api_keys.role_of(KEYS["admin"]) is Role.ADMIN  # the keys really are in there
        assert not [value for value in held if isinstance(value, str) and value in KEYS.values()]
        assert not any(key in repr(state) for key in KEYS.values())


def test_every_known_key_is_compared_in_constant_time_whichever_matches(monkeypatch):
    keys = ApiKeys.parse(SPEC)
    compared: list[tuple[bytes, bytes]] = []
    real = auth.hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        compared.append((a, b))
        return real(a, b)

    monkeypatch.setattr(auth.hmac, "compare_digest", spy)

    # The first key matching must not end the loop: the time taken would say which key it was.
    assert keys.role_of(PLAIN["read"]) is Role.READ
    assert [known for known, _ in compared] == [digest for digest, _ in keys.digests]
    presented = hashlib.sha256(PLAIN["read"].encode()).digest()
    assert all(candidate == presented for _, candidate in compared)


@pytest.mark.parametrize("presented", ["x", "reader-Pl41n-key-11", "reader-Pl41n-key-1111" * 50])
def test_a_wrong_key_of_any_length_is_compared_as_a_fixed_size_digest(monkeypatch, presented):
    keys = ApiKeys.parse(SPEC)
    sizes: list[tuple[int, int]] = []
    real = auth.hmac.compare_digest
    monkeypatch.setattr(auth.hmac, "compare_digest", lambda a, b: sizes.append((len(a), len(b))) or real(a, b))

    assert keys.role_of(presented) is None
    assert sizes == [(32, 32)] * len(PLAIN)


def test_the_rate_limit_identifier_is_not_the_key():
    keys = ApiKeys.parse(SPEC)

    fingerprint = keys.fingerprint(PLAIN["admin"])

    assert fingerprint == keys.fingerprint(PLAIN["admin"]) != keys.fingerprint(PLAIN["read"])
    assert PLAIN["admin"] not in fingerprint and len(fingerprint) == 16


def test_parse_errors_do_not_echo_the_keys():
    with pytest.raises(ValueError) as refused:
        ApiKeys.parse(f"{PLAIN['admin']}:superuser")

    assert PLAIN["admin"] not in str(refused.value)
