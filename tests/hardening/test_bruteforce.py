"""Password guessing: the lockout counts across processes; an unknown user costs one hash verification."""

from __future__ import annotations

import multiprocessing
from typing import Any

import pytest
from argon2 import PasswordHasher
from flask import Flask

from hardening.procs import hammer_login
from helpers import PASSWORD, get_user, login
from webapp.auth.lockout import FREE_ATTEMPTS

PER_PROCESS = FREE_ATTEMPTS - 1  # each process alone stays under the threshold


def test_lockout_holds_across_processes(app: Flask, db_url: str, make_user: Any, counts: Any) -> None:
    make_user("target")
    context = multiprocessing.get_context("spawn")
    with context.Pool(2) as pool:
        results = pool.starmap(hammer_login, [(db_url, "target", PER_PROCESS)] * 2)
    assert all(status == 401 for statuses in results for status in statuses), results
    user = get_user(app, "target")
    # Together the two processes passed the threshold, so the account is locked: failures counted in the
    # database, not per process (attempts arriving after the lock are refused without counting).
    assert user.failed_logins >= FREE_ATTEMPTS, user.failed_logins
    assert user.locked_until is not None
    # Even the right password is refused while the lock holds.
    client = app.test_client()
    assert login(client, "target", PASSWORD).status_code == 401
    counts.add("bad_inputs_tried", 2 * PER_PROCESS + 1)
    counts.add("faults_injected")  # two processes racing on one account


@pytest.fixture
def verify_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Spy on argon2's PasswordHasher.verify: one entry per hash verification."""
    calls: list[str] = []
    original = PasswordHasher.verify

    def spy(self: PasswordHasher, hash: str, password: str) -> bool:  # noqa: A002
        calls.append(hash)
        return original(self, hash, password)

    monkeypatch.setattr(PasswordHasher, "verify", spy)
    return calls


def test_unknown_user_costs_one_verification_like_a_wrong_password(app: Flask, make_user: Any,
                                                                    verify_calls: list[str], counts: Any) -> None:
    from webapp.services.passwords import _DUMMY_HASH

    make_user("known")
    client = app.test_client()
    outcomes = {}
    for case, username, password in (("wrong password", "known", "not-the-password"),
                                     ("unknown user", "nobody-here", "not-the-password"),
                                     ("unknown user, empty password", "ghost", "x")):
        verify_calls.clear()
        response = login(client, username, password)
        outcomes[case] = (response.status_code, len(verify_calls))
        if case.startswith("unknown"):
            assert verify_calls == [_DUMMY_HASH]
        counts.add("bad_inputs_tried")
    assert set(outcomes.values()) == {(401, 1)}, outcomes
    # A locked account pays the same single verification (against the dummy hash, never the real one).
    for _ in range(FREE_ATTEMPTS):
        login(client, "known", "still-wrong")
    verify_calls.clear()
    assert login(client, "known", PASSWORD).status_code == 401
    assert verify_calls == [_DUMMY_HASH]
