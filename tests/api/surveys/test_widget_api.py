"""The widget's endpoints, called as the widget calls them (JSON in a text/plain body)."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from typing import Any

import pytest

from feedback.accounts.models import Account, EndUser
from feedback.ctas.models import RulesQueue
from feedback.db import is_sqlite
from feedback.db.batches import MAX_ROW_BATCH
from feedback.kernel.clock import utcnow
from feedback.responses.intake import SCORES, Score, insert_scores
from feedback.responses.models import Response
from feedback.surveys.keys import identity_hash
from feedback.surveys.models import Display, WidgetKey
from feedback.surveys.new_users import Visit, insert_visits
from tests.support.factories import ORIGIN, book, widget_setup

TEXT = {"content-type": "text/plain;charset=UTF-8", **ORIGIN}


async def call(
    client: Any, key: str, endpoint: str, body: Any, headers: dict[str, str] = TEXT
) -> Any:
    return await client.post(
        f"/widget/v1/{key}/{endpoint}", content=json.dumps(body), headers=headers
    )


async def shown_token(client: Any, key: str) -> str:
    """Check the default user in, expecting a survey, and return its display token."""
    answer = await call(client, key, "eligibility", check_body())
    assert answer.json()["show"] is True, answer.text
    return str(answer.json()["display_token"])


def check_body(**extra: Any) -> dict[str, Any]:
    return {
        "user_id": "u-1",
        "account_id": "acct-1",
        "traits": {
            "role": "admin",
            "plan": "premium",
            "locale": "ja-JP",
            "account_name": "Acme",
            "team": "blue",
        },
        "url": "https://app.example.com/dashboard",
        **extra,
    }


async def test_a_new_user_is_shown_the_survey_in_their_language(client: Any) -> None:
    setup = await widget_setup()
    answer = await call(client, setup["key"], "eligibility", check_body())
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["show"] is True and body["locale"] == "ja"
    assert "Acme HR" in body["texts"]["question"]
    assert answer.headers["access-control-allow-origin"] == "https://app.example.com"
    user = await EndUser.select().where(EndUser.external_id == "u-1").output(load_json=True).first()
    assert user["role"] == "admin" and user["traits"] == {"team": "blue"}
    account = await Account.select().where(Account.external_id == "acct-1").first()
    assert account["name"] == "Acme" and account["plan"] == "premium"


async def test_a_score_then_a_comment_make_one_response_with_a_snapshot(client: Any) -> None:
    await book()
    await Account.update({Account.traits: {"region": "emea", "team": "account's"}}).where(
        Account.external_id == "a1"
    )
    setup = await widget_setup()
    shown = (
        await call(client, setup["key"], "eligibility", check_body(user_id="u1", account_id="a1"))
    ).json()
    token = shown["display_token"]
    scored = await call(
        client,
        setup["key"],
        "responses",
        {"display_token": token, "client_id": "client-0001", "score": 10},
    )
    assert scored.status_code == 201
    assert scored.json()["category"] == "promoter"
    assert scored.json()["promoter_link_url"] == "https://g2.example/r"
    commented = await call(
        client, setup["key"], "comments", {"display_token": token, "comment": "Love it <b>!</b>"}
    )
    assert commented.status_code == 200
    response = await Response.select().where(Response.source == "widget").first()
    assert (response["score"], response["comment"]) == (10, "Love it <b>!</b>")
    # the snapshot: what was true when the user answered
    assert (response["plan"], response["industry"], response["arr_cents"]) == (
        "premium",
        "Software",
        12_000_050,
    )
    assert response["csm"] is not None and response["role"] == "admin"
    # custom traits as they were: the account's and the user's (the user's win on a clash)
    traits = await Response.select(Response.traits).output(load_json=True).first()
    assert traits["traits"] == {"region": "emea", "team": "blue"}
    display = await Display.select(Display.status).first()
    assert display["status"] == "answered"


async def test_retries_and_double_clicks_never_duplicate_a_response(client: Any) -> None:
    setup = await widget_setup()
    token = await shown_token(client, setup["key"])
    body = {"display_token": token, "client_id": "client-0002", "score": 3}
    answers = await asyncio.gather(
        *(call(client, setup["key"], "responses", body) for _ in range(5))
    )
    assert sorted(a.status_code for a in answers) == [200, 200, 200, 200, 201]
    again = await call(
        client, setup["key"], "responses", {**body, "client_id": "client-0003", "score": 9}
    )
    assert again.status_code == 200 and again.json()["category"] == "detractor"
    assert await Response.count() == 1


async def test_answers_arriving_together_each_get_their_own_outcome(client: Any) -> None:
    """On PostgreSQL answers arriving together share one statement (group commit): each
    still gets its own status, a retry in the same batch is not a second answer, and an
    unknown token fails only its own post."""
    setup = await widget_setup()
    tokens = []
    for n in range(12):
        shown = await call(client, setup["key"], "eligibility", check_body(user_id=f"u-g{n}"))
        tokens.append(shown.json()["display_token"])
    posts = [
        {"display_token": token, "client_id": f"client-g{n:04}", "score": n % 11}
        for n, token in enumerate(tokens)
    ]
    posts += [
        posts[0],  # a retry of the first answer
        {**posts[1], "client_id": "client-other-tab", "score": 10},  # a second tab's answer
        {"display_token": "nope", "client_id": "client-g-unknown", "score": 5},
    ]
    SCORES.largest = 0
    answers = await asyncio.gather(*(call(client, setup["key"], "responses", p) for p in posts))
    if not is_sqlite():  # SQLite writes one at a time
        assert SCORES.largest > 1
    statuses = [a.status_code for a in answers]
    assert statuses[2:12] == [201] * 10
    assert sorted([statuses[0], statuses[12]]) == [200, 201]  # whichever came first
    assert sorted([statuses[1], statuses[13]]) == [200, 201]  # the first tab to answer wins
    assert statuses[14] == 422 and answers[14].json()["detail"][0]["field"] == "display_token"
    winner = posts[1] if statuses[1] == 201 else posts[13]
    categories = {answers[i].json()["category"] for i in (1, 13)}
    assert categories == {"detractor" if winner["score"] <= 6 else "promoter"}
    stored = await Response.select(Response.score, Response.display.token)
    expected = [(p["display_token"], p["score"]) for p in [posts[0], winner, *posts[2:12]]]
    assert sorted((r["display.token"], r["score"]) for r in stored) == sorted(expected)
    assert await Display.count().where(Display.status == "answered") == 12


@pytest.mark.postgres_only
@pytest.mark.parametrize("size", [1, 2, 3, MAX_ROW_BATCH, MAX_ROW_BATCH + 1, 20])
async def test_a_batch_of_answers_is_written_alike_as_rows_or_as_arrays(
    client: Any, size: int
) -> None:
    """Small batches come to PostgreSQL as rows of parameters, larger ones as arrays: both
    write every answer with its snapshot, map each row back to its caller, and count a retry
    in the same batch or an unknown token as not written."""
    setup = await widget_setup()
    tokens = []
    for n in range(size):
        shown = await call(client, setup["key"], "eligibility", check_body(user_id=f"u-b{n}"))
        tokens.append(shown.json()["display_token"])
    widget_key = (await WidgetKey.select(WidgetKey.id).first())["id"]
    now = utcnow()
    scores = [
        Score(f"widget:b{n}", token, widget_key, n % 11, now) for n, token in enumerate(tokens)
    ]
    if size > 1:  # a retry rides in the same batch; an unknown token takes the last place
        scores[-1] = scores[0]
    scores.append(Score("widget:b-unknown", "nope", widget_key, 5, now))
    written = await insert_scores(scores)
    assert [row is not None for row in written] == [True] * (len(tokens) - (size > 1)) + [False] * (
        1 + (size > 1)
    )
    for score, row in zip(scores, written, strict=True):
        if row is not None:
            assert not isinstance(row, Exception)
            assert row["idempotency_key"] == score.idempotency_key
    stored = await Response.select(
        Response.id,
        Response.idempotency_key,
        Response.score,
        Response.plan,
        Response.display.token,
    )
    # detractors wait for the CTA rules, once each (the retry in the batch is not queued)
    queued = [row["response"] for row in await RulesQueue.select(RulesQueue.response)]
    expected = {s.idempotency_key: s for s in scores[: len(tokens) - (size > 1)]}
    assert {r["idempotency_key"] for r in stored} == set(expected)
    for row in stored:
        score = expected[row["idempotency_key"]]
        assert (row["display.token"], row["score"]) == (score.token, score.score)
        assert queued.count(row["id"]) == (score.score <= 6)
        assert row["plan"] == "premium"
    assert await Display.count().where(Display.status == "answered") == len(expected)


async def test_once_answered_the_user_is_not_asked_again(client: Any) -> None:
    setup = await widget_setup()
    token = await shown_token(client, setup["key"])
    await call(
        client,
        setup["key"],
        "responses",
        {"display_token": token, "client_id": "client-0004", "score": 8},
    )
    later = await call(client, setup["key"], "eligibility", check_body())
    assert later.json()["show"] is False
    assert later.json()["next_check_at"].endswith("Z")


async def test_simultaneous_checks_reserve_at_most_one_display(client: Any) -> None:
    setup = await widget_setup()
    answers = await asyncio.gather(
        *(call(client, setup["key"], "eligibility", check_body()) for _ in range(12))
    )
    assert all(a.status_code == 200 for a in answers)
    assert sum(a.json()["show"] for a in answers) == 1
    assert await Display.count() == 1


@pytest.mark.postgres_only
async def test_a_new_user_of_a_known_account_is_checked_in_one_statement(
    client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Once this process knows the account, a new user's check is one round trip: the user
    and their display are written together; checks of users who exist go on as before."""
    from feedback.db import Statement

    setup = await widget_setup()
    for user in ("u-1", "u-2"):  # creates the account, then learns it
        assert (await call(client, setup["key"], "eligibility", check_body(user_id=user))).json()[
            "show"
        ]
    statements: list[Statement] = []
    fetch = Statement.fetch

    async def counted(self: Statement, *args: Any) -> list[dict[str, Any]]:
        statements.append(self)
        return await fetch(self, *args)

    monkeypatch.setattr(Statement, "fetch", counted)
    third = await call(client, setup["key"], "eligibility", check_body(user_id="u-3"))
    assert third.json()["show"] is True and len(statements) == 1
    user = await EndUser.select().where(EndUser.external_id == "u-3").output(load_json=True).first()
    assert user["role"] == "admin" and user["traits"] == {"team": "blue"}
    assert user["last_display_at"] is not None
    (display,) = await Display.select(Display.token, Display.account).where(
        Display.end_user == user["id"]
    )
    assert display["token"] == third.json()["display_token"]
    assert display["account"] == user["account"]
    # the same users again (another tab or device, so nothing remembered): nothing more shown
    from feedback.kernel.cache import forget_configuration

    for name in ("u-1", "u-3"):
        forget_configuration()
        again = await call(client, setup["key"], "eligibility", check_body(user_id=name))
        assert again.json()["show"] is False
    assert await Display.count() == 3


async def test_simultaneous_checks_of_a_new_user_of_a_known_account_reserve_one(
    client: Any,
) -> None:
    """The one-statement first visit (PostgreSQL) races like the general way: several tabs
    of a new user in an account the process knows get one survey between them."""
    setup = await widget_setup()
    for user in ("u-1", "u-2"):  # the account exists and this process knows it
        await call(client, setup["key"], "eligibility", check_body(user_id=user))
    answers = await asyncio.gather(
        *(call(client, setup["key"], "eligibility", check_body(user_id="u-9")) for _ in range(12))
    )
    assert all(a.status_code == 200 for a in answers)
    assert sum(a.json()["show"] for a in answers) == 1
    assert await EndUser.count().where(EndUser.external_id == "u-9") == 1
    assert await Display.count() == 3


@pytest.mark.postgres_only
async def test_checks_of_new_users_arriving_together_share_one_statement(client: Any) -> None:
    """New users' checks that arrive together are written by one statement: each new user is
    created once with their display, a user who exists is read back for the general way, the
    same new user twice in one batch is created for the first check only (the other goes the
    general way), and a check whose account is gone gets nothing."""
    setup = await widget_setup()
    await call(client, setup["key"], "eligibility", check_body(user_id="u-old"))
    account = await Account.select(Account.id, Account.external_id).first()
    widget_key = (await WidgetKey.select(WidgetKey.id).first())["id"]
    now = utcnow()

    def visit(user: str, show: bool, account_pk: int = account["id"]) -> Visit:
        return Visit(
            user, account_pk, account["external_id"], "admin", None, "en", '{"team": "red"}',
            now, now if show else None, f"token-{user}" if show else None,
            f"{setup['schedule']}:", ":0:1", setup["survey"], setup["schedule"], widget_key,
            "production", 0,
            "en", None, now + timedelta(hours=1), show,
        )  # fmt: skip

    visits = [
        visit("u-new-1", True),
        visit("u-old", True),
        visit("u-twice", True),
        visit("u-new-2", False),
        visit("u-twice", True),
        visit("u-elsewhere", True, account_pk=account["id"] + 1000),
    ]
    rows = await insert_visits(visits)
    assert [row is not None for row in rows] == [True, True, True, True, True, False]
    first, old, twice, quiet, twice_again, _ = rows
    assert isinstance(first, dict) and first["created"] is not None and first["id"] is None
    assert isinstance(old, dict) and old["created"] is None and old["id"] is not None
    assert isinstance(twice, dict) and twice["created"] is not None
    assert isinstance(twice_again, dict)
    assert twice_again["created"] is None and twice_again["id"] is None  # goes the general way
    assert isinstance(quiet, dict) and quiet["created"] is not None
    assert first["account_pk"] == account["id"]
    users = {
        u["external_id"]: u
        for u in await EndUser.select()
        .where(EndUser.external_id.is_in(["u-new-1", "u-twice", "u-new-2", "u-elsewhere"]))
        .output(load_json=True)
    }
    assert sorted(users) == ["u-new-1", "u-new-2", "u-twice"]
    assert users["u-new-1"]["traits"] == {"team": "red"}
    assert users["u-new-2"]["last_display_at"] is None
    displays = await Display.select(Display.token, Display.end_user, Display.slot).where(
        Display.token.like("token-%")
    )
    assert sorted((d["token"], d["end_user"]) for d in displays) == [
        ("token-u-new-1", users["u-new-1"]["id"]),
        ("token-u-twice", users["u-twice"]["id"]),
    ]
    assert {d["slot"] for d in displays} == {
        f"{setup['schedule']}:{users[u]['id']}:0:1" for u in ("u-new-1", "u-twice")
    }


async def test_simultaneous_checks_with_no_gap_still_reserve_one(client: Any) -> None:
    from feedback.surveys.schedules import set_min_days_between_surveys

    setup = await widget_setup()
    await set_min_days_between_surveys(0)  # leaves only the unique slot as a guard
    answers = await asyncio.gather(
        *(call(client, setup["key"], "eligibility", check_body()) for _ in range(12))
    )
    assert sum(a.json()["show"] for a in answers) == 1


async def test_a_dismissal_is_recorded_and_backs_off(client: Any) -> None:
    setup = await widget_setup()
    token = await shown_token(client, setup["key"])
    dismissed = await call(client, setup["key"], "dismissals", {"display_token": token})
    assert dismissed.json() == {"dismissed": True}
    display = await Display.select(Display.status, Display.dismissed_at).first()
    assert display["status"] == "dismissed" and display["dismissed_at"] is not None
    assert (await call(client, setup["key"], "eligibility", check_body())).json()["show"] is False


async def test_json_content_type_works_too(client: Any) -> None:
    setup = await widget_setup()
    answer = await call(
        client,
        setup["key"],
        "eligibility",
        check_body(),
        headers={"content-type": "application/json", **ORIGIN},
    )
    assert answer.json()["show"] is True


async def test_an_unknown_or_disabled_key_is_401(client: Any) -> None:
    setup = await widget_setup()
    assert (await call(client, "wk_nope", "eligibility", check_body())).status_code == 401
    await WidgetKey.update({WidgetKey.active: False}).where(WidgetKey.key == setup["key"])
    answer = await call(client, setup["key"], "eligibility", check_body())
    assert answer.status_code == 401
    assert answer.json()["detail"][0]["field"] == "key"


async def test_an_origin_that_is_not_allowed_is_403(client: Any) -> None:
    setup = await widget_setup()
    answer = await call(
        client,
        setup["key"],
        "eligibility",
        check_body(),
        headers={"content-type": "text/plain", "origin": "https://evil.example"},
    )
    assert answer.status_code == 403
    assert answer.json()["detail"][0]["field"] == "origin"
    assert "access-control-allow-origin" not in answer.headers
    assert await EndUser.count() == 0


async def test_preflight_answers_only_allowed_origins(client: Any) -> None:
    setup = await widget_setup()
    path = f"/widget/v1/{setup['key']}/responses"
    good = await client.options(
        path,
        headers={
            **ORIGIN,
            "access-control-request-method": "POST",
            "access-control-request-headers": "content-type",
        },
    )
    assert good.status_code == 204
    assert good.headers["access-control-allow-origin"] == "https://app.example.com"
    assert "POST" in good.headers["access-control-allow-methods"]
    bad = await client.options(
        path, headers={"origin": "https://evil.example", "access-control-request-method": "POST"}
    )
    assert bad.status_code == 403


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"client_id": "client-0005", "score": 11}, "score"),
        ({"client_id": "client-0005", "score": -1}, "score"),
        ({"client_id": "client-0005", "score": 7.5}, "score"),
        ({"client_id": "client-0005", "score": "7"}, "score"),
        ({"client_id": "client-0005"}, "score"),
        ({"client_id": "x", "score": 7}, "client_id"),
    ],
)
async def test_a_bad_score_is_422_naming_the_field(
    client: Any, body: dict[str, Any], field: str
) -> None:
    setup = await widget_setup()
    token = await shown_token(client, setup["key"])
    answer = await call(client, setup["key"], "responses", {"display_token": token, **body})
    assert answer.status_code == 422, answer.text
    assert answer.json()["detail"][0]["field"] == field
    assert answer.headers["access-control-allow-origin"] == "https://app.example.com"
    assert await Response.count() == 0


async def test_a_comment_over_5000_characters_is_422(client: Any) -> None:
    setup = await widget_setup()
    token = await shown_token(client, setup["key"])
    await call(
        client,
        setup["key"],
        "responses",
        {"display_token": token, "client_id": "client-0006", "score": 5},
    )
    answer = await call(
        client, setup["key"], "comments", {"display_token": token, "comment": "x" * 5001}
    )
    assert answer.status_code == 422 and answer.json()["detail"][0]["field"] == "comment"


async def test_an_unknown_display_token_is_422(client: Any) -> None:
    setup = await widget_setup()
    answer = await call(
        client,
        setup["key"],
        "responses",
        {"display_token": "nope", "client_id": "client-0007", "score": 5},
    )
    assert answer.status_code == 422
    assert answer.json()["detail"][0]["field"] == "display_token"


async def test_a_display_token_of_another_key_is_refused(client: Any) -> None:
    setup = await widget_setup()
    other = WidgetKey(key="wk_other", allowed_origins=["https://app.example.com"])
    await other.save()
    token = await shown_token(client, setup["key"])
    answer = await call(
        client,
        "wk_other",
        "responses",
        {"display_token": token, "client_id": "client-0008", "score": 5},
    )
    assert answer.status_code == 422


@pytest.mark.parametrize("body", [b"{", b"[]", b"null", b'{"user_id": 5}', b"\xff\xfe"])
async def test_malformed_bodies_are_422_not_500(client: Any, body: bytes) -> None:
    setup = await widget_setup()
    answer = await client.post(f"/widget/v1/{setup['key']}/eligibility", content=body, headers=TEXT)
    assert answer.status_code == 422
    assert answer.json()["detail"][0]["field"]


async def test_an_oversized_body_is_rejected_before_parsing(client: Any) -> None:
    setup = await widget_setup()
    answer = await client.post(
        f"/widget/v1/{setup['key']}/eligibility", content=b"x" * (65 * 1024), headers=TEXT
    )
    assert answer.status_code == 413


async def key_made_by_an_admin(environment: str, identity: str) -> dict[str, Any]:
    from feedback.surveys.configuration import WidgetKeyIn, create_widget_key

    return await create_widget_key(
        WidgetKeyIn(
            name="web",
            environment=environment,
            identity=identity,  # type: ignore[arg-type]
            allowed_origins=["https://app.example.com"],
        ),
        "tests",
        "tests",
    )


async def test_identity_verification_refuses_a_wrong_hash(client: Any) -> None:
    await widget_setup()
    account = Account(external_id="acct-1", name="Acme")
    await account.save()
    await EndUser(external_id="u-1", account=account.id).save()
    key = await key_made_by_an_admin("production", "user_hash")
    missing = await call(client, key["key"], "eligibility", check_body())
    assert missing.status_code == 401
    assert missing.json()["detail"][0]["field"] == "identity_token"
    forged = await call(
        client, key["key"], "eligibility", check_body(user_hash=identity_hash("guess", "u-1"))
    )
    assert forged.status_code == 401 and forged.json()["detail"][0]["field"] == "user_hash"
    good = await call(
        client,
        key["key"],
        "eligibility",
        check_body(user_hash=identity_hash(key["identity_secret"], "u-1")),
    )
    assert good.status_code == 200 and good.json()["show"] is True


async def test_force_shows_a_survey_only_to_signed_identities_on_non_production_keys(
    client: Any,
) -> None:
    import time

    import jwt

    production = await widget_setup(first_survey_after_days=30)
    normal = await call(client, production["key"], "eligibility", check_body(force=True))
    assert normal.json()["show"] is False
    browser = await key_made_by_an_admin("staging", "browser")
    unsigned = await call(client, browser["key"], "eligibility", check_body(force=True))
    assert unsigned.json()["show"] is False
    staging = await key_made_by_an_admin("staging", "signed")
    identity = jwt.encode(
        {"sub": "u-1", "account": "acct-1", "exp": int(time.time()) + 600},
        staging["identity_secret"],
        algorithm="HS256",
    )
    forced = await call(
        client, staging["key"], "eligibility", check_body(force=True, identity_token=identity)
    )
    assert forced.json()["show"] is True, forced.text


async def test_targeting_keeps_the_survey_from_excluded_roles_and_pages(client: Any) -> None:
    setup = await widget_setup(
        targeting={"exclude": {"role": ["candidate"]}, "url_exclude": ["/billing*"]}
    )
    candidate = check_body(user_id="c", traits={"role": "candidate"})
    assert (await call(client, setup["key"], "eligibility", candidate)).json()["show"] is False
    billing = check_body(user_id="b", url="https://app.example.com/billing/invoices")
    assert (await call(client, setup["key"], "eligibility", billing)).json()["show"] is False
    assert (await call(client, setup["key"], "eligibility", check_body())).json()["show"]


async def test_the_per_account_cap_limits_users_asked(client: Any) -> None:
    setup = await widget_setup(max_users_per_account=2)
    shown = [
        (await call(client, setup["key"], "eligibility", check_body(user_id=f"u{n}"))).json()[
            "show"
        ]
        for n in range(4)
    ]
    assert shown == [True, True, False, False]


async def test_a_repeat_check_before_the_next_check_time_is_answered_from_memory(
    client: Any,
) -> None:
    from feedback.kernel.cache import forget_configuration
    from feedback.surveys.models import Schedule

    setup = await widget_setup(first_survey_after_days=30)
    first = await call(client, setup["key"], "eligibility", check_body())
    assert first.json()["show"] is False
    # another process changes the schedule: this one keeps its "not now" for a while ...
    await Schedule.update({Schedule.first_survey_after_days: 0}, force=True)
    again = await call(client, setup["key"], "eligibility", check_body())
    assert again.json() == first.json()
    # ... until its configuration is refreshed (at once after a change made here)
    forget_configuration()
    assert (await call(client, setup["key"], "eligibility", check_body())).json()["show"]


async def test_a_widget_body_over_its_limit_says_what_the_limit_is(client: Any) -> None:
    await book()
    setup = await widget_setup()
    answer = await client.post(
        f"/widget/v1/{setup['key']}/eligibility",
        content=b"x" * (64 * 1024 + 1),
        headers={"content-type": "text/plain", **ORIGIN},
    )
    assert answer.status_code == 413
    assert answer.headers["access-control-allow-origin"] == ORIGIN["origin"]
    assert answer.json()["detail"] == [
        {"field": "body", "message": "larger than this endpoint's limit of 64 KiB (65536 bytes)"}
    ]
