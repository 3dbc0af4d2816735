"""`/nps` reads what the same person reads on the web and through the API: a team lead is
not a manager because people report to them, and a name is looked up only among the
caller's accounts, with a choice when several match."""

from __future__ import annotations

import json

import httpx

from feedback.accounts.models import CSM, Account
from feedback.auth.services import create_staff_user
from feedback.kernel.principal import Role
from feedback.settings import Settings
from tests.support.factories import book, import_csv
from tests.support.slack import link_slack_users, post_signed, slash

PASSWORD = "a long enough password 1"


async def two_teams() -> None:
    """Boss leads Ann and Bob (book()); Lena leads Carl, who looks after Wayne Tech."""
    await book()
    await link_slack_users()
    result = await import_csv(
        "csms",
        "email,name,manager_email\nlena@example.com,Lena,\ncarl@example.com,Carl,lena@example.com\n",
    )
    assert result.ok, result.errors
    result = await import_csv(
        "accounts",
        "external_id,name,plan,arr,csm_email\nc1,Wayne Tech,paid,5000,carl@example.com\n",
    )
    assert result.ok, result.errors
    await CSM.update({CSM.slack_user_id: "ULENA"}).where(CSM.email == "lena@example.com")


async def nps(client: httpx.AsyncClient, user: str, text: str) -> str:
    answer = await post_signed(client, slash(user, text))
    assert answer.status_code == 200, answer.text
    return json.dumps(answer.json(), ensure_ascii=False)


async def test_a_team_lead_cannot_read_another_teams_account(
    slack_client: httpx.AsyncClient, settings: Settings
) -> None:
    await two_teams()
    # Lena leads a team, but that does not make her a manager: Boss's team is not hers
    for text in ("a1", "Acme", "b1"):
        assert "among yours" in await nps(slack_client, "ULENA", text)
    assert "Acme" not in await nps(slack_client, "ULENA", "segment account")
    # nor her own team's accounts: on the web a csm sees their own accounts only
    assert "among yours" in await nps(slack_client, "ULENA", "c1")
    # Boss without a staff sign-in: his own accounts only (he has none)
    assert "among yours" in await nps(slack_client, "UBOSS", "b1")


async def test_slack_reads_with_the_scope_of_the_persons_staff_sign_in(
    slack_client: httpx.AsyncClient, settings: Settings
) -> None:
    await two_teams()
    boss = await CSM.select(CSM.id).where(CSM.email == "boss@example.com").first()
    await create_staff_user("boss@example.com", Role.manager, PASSWORD)
    # a manager on the web reads every account, in Slack too
    assert "Wayne Tech (c1)" in await nps(slack_client, "UBOSS", "c1")
    assert "Initech (b1)" in await nps(slack_client, "UBOSS", "b1")
    # a staff user with the csm role, linked to Lena, reads Lena's accounts only
    lena = await CSM.select(CSM.id).where(CSM.email == "lena@example.com").first()
    await create_staff_user("lena.staff@example.com", Role.csm, PASSWORD, csm_id=lena["id"])
    await Account.update({Account.csm: lena["id"]}).where(Account.external_id == "c1")
    assert "Wayne Tech (c1)" in await nps(slack_client, "ULENA", "c1")
    assert "among yours" in await nps(slack_client, "ULENA", "a1")
    assert boss is not None


async def test_a_name_is_looked_up_among_the_callers_accounts_with_choices(
    slack_client: httpx.AsyncClient, settings: Settings
) -> None:
    await two_teams()
    await Account.update({Account.name: "Wayne Enterprises"}).where(Account.external_id == "a1")
    await Account.update({Account.name: "Wayne Foods"}).where(Account.external_id == "a2")
    await Account.update({Account.name: "Wayne Industries"}).where(Account.external_id == "b1")
    # Bob has one Wayne: it is his, whatever other CSMs have
    assert "Wayne Industries (b1)" in await nps(slack_client, "UBOB", "wayne")
    # Ann has two: she is asked which, and Bob's is not among the choices
    answer = await nps(slack_client, "UANN", "Wayne")
    assert "/nps a1" in answer and "/nps a2" in answer
    assert "Wayne Enterprises" in answer and "Wayne Foods" in answer
    assert "Industries" not in answer and "b1" not in answer and "Tech" not in answer
    # another CSM's account is not named, not even as "more than one"
    assert "among yours" in await nps(slack_client, "UANN", "Wayne I")
    assert "among yours" in await nps(slack_client, "UANN", "Wayne T")
    assert "Wayne Foods (a2)" in await nps(slack_client, "UANN", "wayne f")
