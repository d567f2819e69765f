"""Login challenges: random single-use nonces tied to a pre-login id, expiring, bounded in number."""

from __future__ import annotations

import base64

import pytest

from agent_desktop.eid.challenge import ChallengeStore
from agent_desktop.eid.errors import EidError


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def code_of(store: ChallengeStore, prelogin_id: str) -> str:
    with pytest.raises(EidError) as info:
        store.consume(prelogin_id)
    return info.value.code


def test_nonce_is_random_and_long_enough():
    store = ChallengeStore()
    nonces = {store.issue(f"p{i}") for i in range(50)}
    assert len(nonces) == 50
    assert all(len(base64.b64decode(n, validate=True)) >= 32 for n in nonces)


def test_consume_returns_the_nonce_once():
    store = ChallengeStore()
    nonce = store.issue("pre-1")
    assert store.consume("pre-1") == nonce
    assert code_of(store, "pre-1") == "nonce_invalid"  # replay


def test_nonce_is_tied_to_its_prelogin_id():
    store = ChallengeStore()
    store.issue("pre-1")
    assert code_of(store, "pre-2") == "nonce_invalid"
    assert code_of(store, "") == "nonce_invalid"
    assert store.consume("pre-1")  # still there for its owner


def test_reissue_replaces_the_earlier_nonce():
    store = ChallengeStore()
    first = store.issue("pre-1")
    second = store.issue("pre-1")
    assert first != second and len(store) == 1
    assert store.consume("pre-1") == second


def test_nonce_expires():
    clock = Clock()
    store = ChallengeStore(ttl_s=300, clock=clock)
    store.issue("pre-1")
    clock.now += 299.9
    assert store.consume("pre-1")
    store.issue("pre-1")
    clock.now += 300
    assert code_of(store, "pre-1") == "nonce_expired"
    assert code_of(store, "pre-1") == "nonce_invalid"  # an expired nonce is gone too


def test_expired_challenges_are_purged():
    clock = Clock()
    store = ChallengeStore(ttl_s=10, clock=clock)
    for i in range(5):
        store.issue(f"old{i}")
    clock.now += 5
    store.issue("young")
    clock.now += 16  # one ttl after expiry: an expired nonce is kept that long to say "expired"
    assert store.purge() == 5 and len(store) == 1
    store.issue("new")  # issuing purges as well
    clock.now += 6
    store.issue("newer")
    assert len(store) == 2


def test_outstanding_challenges_are_capped_oldest_first():
    store = ChallengeStore(max_outstanding=100)
    for i in range(250):
        store.issue(f"p{i}")
    assert len(store) == 100
    assert code_of(store, "p0") == "nonce_invalid"
    assert code_of(store, "p149") == "nonce_invalid"
    assert store.consume("p150") and store.consume("p249")


def test_bad_arguments():
    with pytest.raises(ValueError):
        ChallengeStore(ttl_s=0)
    with pytest.raises(ValueError):
        ChallengeStore().issue("")


def test_late_login_hears_expired_even_after_other_logins():
    now = [0.0]
    store = ChallengeStore(ttl_s=300, clock=lambda: now[0])
    store.issue("a")
    now[0] = 301
    store.issue("b")  # someone else starts a login meanwhile
    with pytest.raises(EidError) as late:
        store.consume("a")
    assert late.value.code == "nonce_expired"
    now[0] = 902  # b expired at 601 and is forgotten one ttl later
    store.issue("c")
    with pytest.raises(EidError) as gone:
        store.consume("b")
    assert gone.value.code == "nonce_invalid"
