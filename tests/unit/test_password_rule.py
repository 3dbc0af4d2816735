"""The rule every new staff password meets: long enough, not blank, not one character, not
one of the common passwords shipped with the service."""

from __future__ import annotations

import pytest

from feedback.auth.passwords import common_passwords, password_problem


@pytest.mark.parametrize(
    "password",
    ["          ", "aaaaaaaaaa", "password12", "            ", "aaaaaaaaaaaaaaaa", "password1234"],
)
def test_weak_passwords_have_a_problem(password: str) -> None:
    assert password_problem(password) is not None


@pytest.mark.parametrize(
    "password", ["demo-password-123", "correct horse battery", "a long password"]
)
def test_good_passwords_have_none(password: str) -> None:
    assert password_problem(password) is None


def test_the_shipped_list_holds_thousands_of_passwords() -> None:
    assert len(common_passwords()) > 5000
    assert {"password", "qwerty", "123456"} <= common_passwords()


def test_the_email_is_not_a_password() -> None:
    assert password_problem("ann.smith@example.com", "Ann.Smith@example.com") is not None
