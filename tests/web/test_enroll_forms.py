"""Enrolling by hand from the account page and from a CTA's page: a form offering the enabled
programs and the account's people with an email address, posting to the programs' route
and coming back with a notice; shown only to those the route lets enrol."""

from __future__ import annotations

from datetime import UTC, datetime
from html.parser import HTMLParser
from typing import Any

from feedback.auth.services import create_staff_user, csm_id_for_email
from feedback.kernel.principal import Role
from feedback.programs.models import Participant, Program
from feedback.programs.shipped import ensure_default_programs
from tests.api.pools.helpers import csm_id, pooled_book, raise_cta
from tests.support.web import PASSWORD, sign_in

MONDAY = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


class EnrolFormParser(HTMLParser):
    """The "Enroll in a program" form of a page: its hidden fields, the people offered and
    each program's button (its label and the route it posts to)."""

    def __init__(self) -> None:
        super().__init__()
        self.in_section = self.in_form = self.in_button = False
        self.hidden: dict[str, str] = {}
        self.people: list[str] = []
        self.buttons: list[tuple[str, str]] = []
        self._button_action = ""
        self._button_text = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "section" and "enrol" in a.get("class", "").split():
            self.in_section = True
        if not self.in_section:
            return
        if tag == "form":
            self.in_form = True
        elif tag == "input" and a.get("type") == "hidden" and self.in_form:
            self.hidden[a["name"]] = a.get("value", "")
        elif tag == "option" and self.in_form:
            self.people.append(a.get("value", ""))
        elif tag == "button" and self.in_form:
            self.in_button, self._button_action, self._button_text = True, a["formaction"], ""

    def handle_data(self, data: str) -> None:
        if self.in_button:
            self._button_text += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "button" and self.in_button:
            self.buttons.append((self._button_text.strip(), self._button_action))
            self.in_button = False
        elif tag == "form":
            self.in_form = False
        elif tag == "section":
            self.in_section = False


def enrol_form(html: str) -> EnrolFormParser:
    parser = EnrolFormParser()
    parser.feed(html)
    return parser


async def staff(client: Any, role: Role, csm_email: str | None = None) -> None:
    email = f"{role.value}.enrol@example.com"
    await create_staff_user(email, role, PASSWORD, csm_id=await csm_id_for_email(csm_email, role))
    assert (await sign_in(client, email)).status_code == 303


async def programs() -> dict[str, int]:
    await ensure_default_programs(enabled=True)
    return {row["name"]: row["id"] for row in await Program.select(Program.id, Program.name)}


async def test_a_csm_enrols_a_person_from_the_account_page(client: Any) -> None:
    await pooled_book()
    ids = await programs()
    await staff(client, Role.csm, "ann@example.com")
    page = await client.get("/accounts/a1")
    assert page.status_code == 200
    form = enrol_form(page.text)
    # the people of a1 with an address (u1, u2), or the account as a whole
    assert form.people == ["", "u1", "u2"]
    assert sorted(form.buttons) == sorted(
        (f"Enroll in {name}", f"/programs/{id_}/enroll") for name, id_ in ids.items()
    )
    assert form.hidden["account_external_id"] == "a1" and form.hidden["next"] == "/accounts/a1"
    assert "cta_id" not in form.hidden

    _, action = form.buttons[0]
    enrolled = await client.post(action, data={**form.hidden, "user_external_id": "u2"})
    assert enrolled.status_code == 303
    assert enrolled.headers["location"] == "/accounts/a1?done=enrolled"
    back = await client.get(enrolled.headers["location"])
    assert "Enrolled. The first step runs" in back.text
    [participant] = await Participant.select(Participant.program, Participant.end_user.external_id)
    assert participant["program"] == int(action.split("/")[2])
    assert participant["end_user.external_id"] == "u2"


async def test_switched_off_programs_are_not_offered(client: Any) -> None:
    await pooled_book()
    ids = await programs()
    await Program.update({Program.enabled: False}).where(Program.id == ids["Onboarding"])
    await staff(client, Role.manager)
    form = enrol_form((await client.get("/accounts/a2")).text)
    assert [label for label, _ in form.buttons] == [
        f"Enroll in {name}" for name in ids if name != "Onboarding"
    ]
    assert form.people == [""]  # a2's only person has no address
    await Program.update({Program.enabled: False}).where(Program.id > 0)
    page = await client.get("/accounts/a2")
    assert "No program is switched on" in page.text and not enrol_form(page.text).buttons


async def test_an_analyst_reads_the_account_without_the_form(client: Any) -> None:
    await pooled_book()
    await programs()
    await staff(client, Role.analyst)
    page = await client.get("/accounts/a1")
    assert page.status_code == 200 and "Enroll in a program" not in page.text


async def cta_page_form(client: Any, cta_id: int) -> EnrolFormParser:
    """The CTA page's enrol form (or, when the CTA page offers a link, the account page's
    form for that CTA)."""
    page = await client.get(f"/ctas/{cta_id}")
    assert page.status_code == 200
    form = enrol_form(page.text)
    if not form.buttons:
        import re

        link = re.search(
            r'<form method="get" action="(/accounts/[^"#]+)#enrol"[^>]*>'
            r'<input type="hidden" name="cta" value="(\d+)">',
            page.text,
        )
        assert link, "the CTA page neither has the form nor leads to it"
        form = enrol_form((await client.get(link.group(1), params={"cta": link.group(2)})).text)
    return form


async def test_a_manager_enrols_the_account_of_a_cta_from_its_page(client: Any) -> None:
    await pooled_book()
    ids = await programs()
    cta_id = await raise_cta("a1", now=MONDAY)
    await staff(client, Role.manager)
    form = await cta_page_form(client, cta_id)
    assert form.hidden["cta_id"] == str(cta_id) and form.hidden["next"] == f"/ctas/{cta_id}"
    action = f"/programs/{ids['Poor NPS follow-up']}/enroll"
    assert ("Enroll in Poor NPS follow-up", action) in form.buttons
    enrolled = await client.post(action, data={**form.hidden, "user_external_id": "u1"})
    assert enrolled.headers["location"] == f"/ctas/{cta_id}?done=enrolled"
    back = await client.get(enrolled.headers["location"])
    assert back.text.count("Enrolled. The first step runs") == 1
    [participant] = await Participant.select(Participant.cta, Participant.program)
    assert participant == {"cta": cta_id, "program": ids["Poor NPS follow-up"]}
    # once more from the same CTA: the programs' refusal, on the program's page for a manager
    again = await client.post(action, data={**form.hidden, "user_external_id": "u1"})
    assert again.status_code == 422 and "already in this program" in again.text


async def test_a_specialist_gets_no_enrol_form_on_a_pool_cta(client: Any) -> None:
    await pooled_book()
    await programs()
    cta_id = await raise_cta("p1", now=MONDAY)
    await create_staff_user(
        "sam.web@example.com", Role.csm, PASSWORD, csm_id=await csm_id("sam@example.com")
    )
    assert (await sign_in(client, "sam.web@example.com")).status_code == 303
    page = await client.get(f"/ctas/{cta_id}")
    assert page.status_code == 200
    assert "Enroll" not in page.text and 'name="cta"' not in page.text
