"""The programs API (issue 18): admins write, managers and analysts read; enrolling by hand
is also open to managers and CSMs (their own accounts)."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Controller, delete, get, post, put
from litestar.di import Provide
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter
from piccolo.columns.combination import Combinable

from feedback.auth.guards import READ_ALL, CurrentPrincipal, access, provide_principal
from feedback.auth.models import StaffUser
from feedback.kernel.clock import utcnow
from feedback.kernel.errors import InputError
from feedback.kernel.principal import Principal, Role
from feedback.programs.services import (
    create_program,
    enrol_by_hand,
    get_program,
    list_programs,
    participant_counts,
    participants_of,
    preview_email,
    program_json,
    program_numbers,
    remove_program,
    set_enabled,
    test_send,
    update_program,
)

ENROL = (Role.admin, Role.manager, Role.csm)


class EnrolIn(msgspec.Struct, forbid_unknown_fields=True):
    account_external_id: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    user_external_id: Annotated[str, msgspec.Meta(max_length=200)] | None = None
    cta_id: int | None = None


class TestSendIn(msgspec.Struct, forbid_unknown_fields=True):
    locale: str = "en"
    # with an API token (no signed-in person): a staff user's email to send the test to
    to: str | None = None


async def staff_address(principal: Principal, to: str | None = None) -> tuple[str, str]:
    """Where a test send goes: the signed-in staff user's email and name; with an API
    token, the active staff user named by `to` (a test never goes to a customer)."""
    where: Combinable
    if principal.staff_user_id is not None:
        where = StaffUser.id == principal.staff_user_id
    elif to:
        where = (StaffUser.email == to.strip().lower()) & (StaffUser.active == True)  # noqa: E712
    else:
        raise InputError("to", "with an API token, name the staff user's email to send it to")
    row = await StaffUser.select(StaffUser.email, StaffUser.name).where(where).first()
    if row is None:
        raise InputError("to", "not the email of an active staff user")
    return row["email"], row["name"] or ""


class ProgramController(Controller):
    path = "/api/v1/programs"
    tags = ["programs"]
    dependencies = {"principal": Provide(provide_principal)}

    @get("/", summary="Programs with their participant counts", **access(*READ_ALL))
    async def list_all(self, archived: FromQuery[bool] = False) -> list[dict[str, Any]]:
        counts = await participant_counts()
        empty = {"enrolled": 0, "active": 0, "completed": 0, "exited": 0}
        return [
            program_json(program, counts.get(program.id, empty))
            for program in await list_programs(include_archived=archived)
        ]

    @post("/", summary="Create a program (switched off)", status_code=201, **access(Role.admin))
    async def create(self, data: JSONBody[dict[str, Any]]) -> dict[str, Any]:
        return program_json(await create_program(data, utcnow()))

    @get("/{program_id:int}", summary="One program", **access(*READ_ALL))
    async def get_one(self, program_id: FromPath[int]) -> dict[str, Any]:
        return program_json(await get_program(program_id))

    @put("/{program_id:int}", summary="Replace a program's definition", **access(Role.admin))
    async def replace(
        self, program_id: FromPath[int], data: JSONBody[dict[str, Any]]
    ) -> dict[str, Any]:
        return program_json(await update_program(program_id, data, utcnow()))

    @post(
        "/{program_id:int}/enable",
        summary="Switch a program on",
        status_code=200,
        **access(Role.admin),
    )
    async def enable(self, program_id: FromPath[int]) -> dict[str, Any]:
        return program_json(await set_enabled(program_id, True, utcnow()))

    @post(
        "/{program_id:int}/disable",
        summary="Switch a program off (its participants wait)",
        status_code=200,
        **access(Role.admin),
    )
    async def disable(self, program_id: FromPath[int]) -> dict[str, Any]:
        return program_json(await set_enabled(program_id, False, utcnow()))

    @delete(
        "/{program_id:int}",
        summary="Delete a program nobody was enrolled in, else archive it",
        status_code=200,
        **access(Role.admin),
    )
    async def remove(self, program_id: FromPath[int]) -> dict[str, str]:
        return {"result": await remove_program(program_id, utcnow())}

    @get(
        "/{program_id:int}/participants",
        summary="A program's participants, the latest first",
        **access(*READ_ALL),
    )
    async def participants(
        self,
        program_id: FromPath[int],
        state_: Annotated[str | None, QueryParameter(name="state")] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=1000)] = 100,
        offset: Annotated[int, QueryParameter(ge=0, le=1_000_000)] = 0,
    ) -> list[dict[str, Any]]:
        rows = await participants_of(program_id, state_, limit, offset)
        return [row.as_dict() for row in rows]

    @post(
        "/{program_id:int}/participants",
        summary="Enrol an account or one of its users by hand (from a CTA or an account)",
        status_code=201,
        **access(*ENROL),
    )
    async def enrol(
        self, principal: CurrentPrincipal, program_id: FromPath[int], data: JSONBody[EnrolIn]
    ) -> dict[str, Any]:
        participant = await enrol_by_hand(
            program_id,
            data.account_external_id,
            data.user_external_id,
            data.cta_id,
            principal.actor,
            utcnow(),
            can_see_csm=principal.can_see_csm,
        )
        return {"participant_id": participant}

    @get(
        "/{program_id:int}/steps/{step:int}/preview",
        summary="An email step (numbered from 1) rendered for a sample participant",
        **access(*READ_ALL),
    )
    async def preview(
        self, program_id: FromPath[int], step: FromPath[int], locale: FromQuery[str] = "en"
    ) -> dict[str, Any]:
        email = await preview_email(program_id, step - 1, locale)
        return {"subject": email.subject, "text": email.text, "html": email.html, "locale": locale}

    @post(
        "/{program_id:int}/steps/{step:int}/test-send",
        summary="Send an email step (numbered from 1), for a sample participant, to yourself",
        status_code=202,
        **access(Role.admin),
    )
    async def send_test(
        self,
        principal: CurrentPrincipal,
        program_id: FromPath[int],
        step: FromPath[int],
        data: JSONBody[TestSendIn | None] = None,
    ) -> dict[str, Any]:
        address, name = await staff_address(principal, data.to if data is not None else None)
        locale = data.locale if data is not None else "en"
        queued = await test_send(program_id, step - 1, locale, address, name, utcnow())
        return {"mail_id": queued.mail_id, "to": address}

    @get("/{program_id:int}/stats", summary="A program's numbers", **access(*READ_ALL))
    async def stats(self, program_id: FromPath[int]) -> dict[str, Any]:
        return (await program_numbers(await get_program(program_id))).as_dict()
