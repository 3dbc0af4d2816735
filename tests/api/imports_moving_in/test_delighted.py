"""Moving in from Delighted: its CSV export, its API's JSON, people, unsubscribes, bounces."""

from __future__ import annotations

from datetime import UTC, datetime

from feedback.accounts.models import Account, EndUser
from feedback.auth.models import AuditEntry
from feedback.ctas.models import Cta, RulesQueue
from feedback.mail.models import MailMessage, Suppression
from feedback.outbox.models import Outbox
from feedback.responses.models import Response
from feedback.webhooks.models import WebhookEvent
from tests.api.imports_moving_in.helpers import move, user


async def test_the_csv_export_becomes_users_accounts_and_responses() -> None:
    result = await move("delighted", responses="delighted-responses.csv")
    assert result.ok and result.written, result.errors
    assert result.parts["responses"]["created"] == 3
    assert result.parts["accounts"] == {"created": 2}
    north = await Account.select().where(Account.external_id == "acc-north").first()
    assert north["name"] == "Northwind"
    mara = await user("u-mara")  # the Customer ID names the user
    assert mara["account_id"] == "acc-north" and mara["email"] == "mara.lind@northwind.test"
    assert mara["traits"] == {"name": "Mara Lind", "plan": "premium"}  # no "Delighted Source"
    kenji = await user("kenji@fabrikam.test")  # no Customer ID: the email, lower-cased
    assert kenji["account_id"] == "acc-fab"
    answer = (
        await Response.select()
        .where(Response.idempotency_key == "delighted:r-102")
        .output(load_json=True)
        .first()
    )
    assert answer["source"] == "delighted" and answer["environment"] == "production"
    assert (answer["score"], answer["comment"]) == (3, "Reports time out every Monday")
    assert answer["answered_at"] == datetime(2026, 3, 3, 14, 0, tzinfo=UTC)
    assert answer["plan"] == "premium" and answer["traits"]["tags"] == "bug, reports"


async def test_the_api_json_with_people_unsubscribes_and_bounces() -> None:
    result = await move(
        "delighted",
        responses="delighted-responses.json",
        people="delighted-people.json",
        unsubscribes="delighted-unsubscribes.json",
        bounces="delighted-bounces.json",
    )
    assert result.ok and result.written, result.errors
    lee = await user("u-lee")
    assert lee["account_id"] == "acc-contoso"
    assert lee["traits"] == {"name": "Lee Park", "role": "admin", "region": "EMEA"}
    # asked last on the latest of the sends and the answers
    assert lee["asked_elsewhere_at"] == datetime.fromtimestamp(1772359200, UTC)
    sam = await user("sam@contoso.test")
    assert sam["asked_elsewhere_at"] == datetime.fromtimestamp(1772413200, UTC)
    ira = await user("u-ira")  # surveyed, never answered: a user whose cadence is seeded
    assert ira["asked_elsewhere_at"] == datetime.fromtimestamp(1773014400, UTC)
    contoso = await Account.select().where(Account.external_id == "acc-contoso").first()
    assert contoso["name"] == "Contoso"
    suppressed = await Suppression.select(Suppression.address, Suppression.reason).order_by(
        Suppression.address
    )
    assert suppressed == [
        {"address": "gone@contoso.test", "reason": "imported"},
        {"address": "ira@contoso.test", "reason": "imported"},
        {"address": "typo@contoso.tset", "reason": "imported"},
    ]
    assert result.parts["suppressions"]["created"] == 3


async def test_importing_detractors_raises_no_cta_message_mail_or_webhook() -> None:
    await move(
        "delighted",
        responses="delighted-responses.json",
        unsubscribes="delighted-unsubscribes.json",
    )
    assert await Response.count().where(Response.score <= 6) == 1
    assert await RulesQueue.count() == 0
    assert await Cta.count() == 0
    assert await Outbox.count() == 0
    assert await MailMessage.count() == 0
    assert await WebhookEvent.count() == 0


async def test_importing_again_changes_nothing() -> None:
    files = {
        "responses": "delighted-responses.json",
        "people": "delighted-people.json",
        "unsubscribes": "delighted-unsubscribes.json",
    }
    first = await move("delighted", **files)
    audits = await AuditEntry.count()
    again = await move("delighted", **files)
    assert again.written and (again.created, again.updated) == (0, 0)
    assert again.unchanged == first.created
    assert await Response.count() == 2 and await EndUser.count() == 3
    assert await AuditEntry.count() == audits


async def test_a_changed_score_upstream_updates_the_answer() -> None:
    await move("delighted", responses="delighted-responses.csv")
    changed = (
        b"Response ID,Date,Score,Comment,Email,Account ID\n"
        b"r-103,2026-03-05 08:30:00 UTC,8,Better now,kenji@fabrikam.test,acc-fab\n"
    )
    result = await move("delighted", responses=changed)
    assert result.parts["responses"] == {"created": 0, "updated": 1, "unchanged": 0}
    answer = await Response.select().where(Response.idempotency_key == "delighted:r-103").first()
    assert (answer["score"], answer["comment"]) == (8, "Better now")


async def test_a_bad_file_lists_every_error_by_line_and_writes_nothing() -> None:
    result = await move("delighted", responses="delighted-responses-bad.csv")
    assert not result.written
    assert [(e.line, e.column) for e in result.errors] == [
        (3, "score"),
        (4, "date"),
        (5, "account_id"),
    ]
    assert await Response.count() == 0 and await EndUser.count() == 0
    assert await Account.count() == 0


async def test_skip_invalid_writes_the_valid_rows() -> None:
    result = await move(
        "delighted", responses="delighted-responses-bad.csv", options={"skip_invalid": True}
    )
    assert result.written and result.invalid == 3 and result.valid == 1
    assert await Response.count() == 1


async def test_people_without_the_account_property_go_to_the_default_account() -> None:
    result = await move(
        "delighted",
        responses="delighted-responses-bad.csv",
        options={"skip_invalid": True, "default_account": "moved-in"},
    )
    assert result.parts["responses"]["created"] == 2
    assert (await user("u-ana"))["account_id"] == "moved-in"


async def test_another_property_can_name_the_account() -> None:
    result = await move(
        "delighted",
        responses="delighted-responses.csv",
        options={"account_property": "Company", "account_name_property": "Company"},
    )
    assert result.ok, result.errors
    assert await Account.exists().where(Account.external_id == "Fabrikam")


async def test_traits_the_product_knows_already_are_kept() -> None:
    await move("delighted", responses="delighted-responses.csv")
    await EndUser.update({EndUser.traits: {"plan": "enterprise"}}).where(
        EndUser.external_id == "u-mara"
    )
    await move("delighted", responses="delighted-responses.csv")
    assert (await user("u-mara"))["traits"] == {"plan": "enterprise", "name": "Mara Lind"}


async def test_a_dry_run_counts_and_writes_nothing() -> None:
    result = await move("delighted", responses="delighted-responses.csv", options={"dry_run": True})
    assert result.ok and not result.written and result.parts["responses"]["created"] == 3
    assert await Response.count() == 0


async def test_a_csat_answer_is_refused_naming_its_line() -> None:
    body = b'[{"id": "1", "survey_type": "csat", "score": 4, "created_at": 1772359200}]'
    result = await move("delighted", responses=body, options={"default_account": "x"})
    assert [(e.line, e.column) for e in result.errors] == [(1, "survey_type")]
