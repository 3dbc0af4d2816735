"""The widget's "Talk to <owner>" for detractors: offered when the survey says so, with the
meeting link of the account's CSM or of the pool serving it (http(s) only), and its clicks
counted once per display, per survey and category."""

from __future__ import annotations

import json
from typing import Any

import httpx

from feedback.accounts.models import CSM, Account
from feedback.kernel.cache import forget_configuration
from feedback.kernel.principal import Role
from feedback.pools.models import Pool, PoolMember
from feedback.surveys.models import Survey
from tests.support.factories import ORIGIN, bearer, book, token, widget_setup

TEXT = {"content-type": "text/plain;charset=UTF-8", **ORIGIN}


async def offer(talk_to: bool = True) -> dict[str, Any]:
    await book()
    setup = await widget_setup()
    await Survey.update({Survey.talk_to_detractors: talk_to}).where(Survey.id == setup["survey"])
    forget_configuration()
    return setup


async def shown(client: httpx.AsyncClient, key: str, user: str, account: str) -> dict[str, Any]:
    body = {"user_id": user, "account_id": account, "traits": {"locale": "en"}}
    answer = await client.post(
        f"/widget/v1/{key}/eligibility", content=json.dumps(body), headers=TEXT
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["show"] is True
    return answer.json()


async def score(client: httpx.AsyncClient, key: str, display: str, value: int) -> None:
    body = {"display_token": display, "client_id": f"client-{display[:12]}", "score": value}
    answer = await client.post(
        f"/widget/v1/{key}/responses", content=json.dumps(body), headers=TEXT
    )
    assert answer.status_code == 201, answer.text


async def click(client: httpx.AsyncClient, key: str, display: str) -> httpx.Response:
    body = {"display_token": display, "link": "talk_to"}
    return await client.post(f"/widget/v1/{key}/clicks", content=json.dumps(body), headers=TEXT)


async def test_a_detractor_is_offered_the_account_csms_meeting_link(
    client: httpx.AsyncClient,
) -> None:
    setup = await offer()
    await CSM.update({CSM.meeting_url: "https://cal.example.com/ann"}).where(
        CSM.email == "ann@example.com"
    )
    answer = await shown(client, setup["key"], "u1", "a1")
    assert answer["talk_to"] == {"name": "Ann", "url": "https://cal.example.com/ann"}
    assert answer["texts"]["talk_to_label"] == "Talk to {name}"


async def test_the_japanese_label_names_the_owner_first(client: httpx.AsyncClient) -> None:
    setup = await offer()
    body = {"user_id": "u2", "account_id": "a1", "traits": {"locale": "ja"}}
    answer = await client.post(
        f"/widget/v1/{setup['key']}/eligibility", content=json.dumps(body), headers=TEXT
    )
    assert answer.json()["texts"]["talk_to_label"] == "{name}に相談する"


async def test_nothing_is_offered_when_the_survey_is_off_or_the_link_is_not_http(
    client: httpx.AsyncClient,
) -> None:
    setup = await offer(talk_to=False)
    await CSM.update({CSM.meeting_url: "https://cal.example.com/ann"}).where(
        CSM.email == "ann@example.com"
    )
    assert (await shown(client, setup["key"], "u1", "a1"))["talk_to"] is None
    await Survey.update({Survey.talk_to_detractors: True}).where(Survey.id == setup["survey"])
    await CSM.update({CSM.meeting_url: "javascript:alert(1)"}).where(CSM.email == "ann@example.com")
    forget_configuration()
    assert (await shown(client, setup["key"], "u2", "a1"))["talk_to"] is None


async def test_an_account_without_a_csm_is_offered_its_pools_meeting_link(
    client: httpx.AsyncClient,
) -> None:
    setup = await offer()
    await Account.update({Account.csm: None}).where(Account.external_id == "b1")
    robin = CSM(name="Robin", email="robin@example.com", kind="pooled")
    await robin.save()
    pool = Pool(
        name="SMB pool", audience={"plan": ["free"]}, meeting_url="https://cal.example.com/smb"
    )
    await pool.save()
    await PoolMember(pool=pool.id, csm=robin.id).save()
    answer = await shown(client, setup["key"], "u4", "b1")
    assert answer["talk_to"] == {"name": "SMB pool", "url": "https://cal.example.com/smb"}


async def test_a_click_counts_once_per_display_by_survey_and_category(
    client: httpx.AsyncClient,
) -> None:
    setup = await offer()
    first = await shown(client, setup["key"], "u1", "a1")
    second = await shown(client, setup["key"], "u2", "a1")
    await score(client, setup["key"], first["display_token"], 2)
    await score(client, setup["key"], second["display_token"], 5)
    assert (await click(client, setup["key"], first["display_token"])).json() == {"counted": True}
    # the widget's retry, or a second click: counted once
    assert (await click(client, setup["key"], first["display_token"])).json() == {"counted": False}
    assert (await click(client, setup["key"], second["display_token"])).json() == {"counted": True}
    analyst = bearer(await token(Role.analyst))
    counts = await client.get(f"/api/v1/surveys/{setup['survey']}/link-clicks", headers=analyst)
    assert counts.status_code == 200
    assert counts.json() == {"talk_to": {"promoter": 0, "passive": 0, "detractor": 2}}


async def test_a_click_needs_an_answered_display_of_the_key(client: httpx.AsyncClient) -> None:
    setup = await offer()
    display = (await shown(client, setup["key"], "u1", "a1"))["display_token"]
    early = await click(client, setup["key"], display)
    assert early.status_code == 409
    assert early.json()["detail"][0]["field"] == "display_token"
    unknown = await click(client, setup["key"], "x" * 32)
    assert unknown.status_code == 422 and unknown.json()["detail"][0]["field"] == "display_token"
    other = await widget_setup()
    await score(client, setup["key"], display, 1)
    foreign = await click(client, other["key"], display)
    assert foreign.status_code == 422
    bad_link = await client.post(
        f"/widget/v1/{setup['key']}/clicks",
        content=json.dumps({"display_token": display, "link": "elsewhere"}),
        headers=TEXT,
    )
    assert bad_link.status_code == 422 and bad_link.json()["detail"][0]["field"] == "link"


async def test_the_clicks_of_an_unknown_survey_are_a_404(client: httpx.AsyncClient) -> None:
    analyst = bearer(await token(Role.analyst))
    answer = await client.get("/api/v1/surveys/999/link-clicks", headers=analyst)
    assert answer.status_code == 404


async def test_the_survey_api_saves_the_talk_to_setting(client: httpx.AsyncClient) -> None:
    admin = bearer(await token(Role.admin))
    body = {
        "name": "NPS",
        "talk_to_detractors": True,
        "texts": {"en": {"talk_to_label": "Book a call with {name}"}},
    }
    made = await client.post("/api/v1/surveys", json=body, headers=admin)
    assert made.status_code == 201, made.text
    rows = await Survey.select(Survey.talk_to_detractors, Survey.texts).output(load_json=True)
    assert rows[0]["talk_to_detractors"] is True
    assert rows[0]["texts"]["en"]["talk_to_label"] == "Book a call with {name}"
