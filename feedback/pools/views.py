"""The pools API (issue 18): pools and their members (admins write, managers read), claiming
a pooled CTA, the report (JSON or CSV) and the CSV import of pools and members."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any

from litestar import Controller, Request, Response, delete, get, patch, post
from litestar.di import Provide
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter

from feedback.auth.guards import CurrentPrincipal, access, provide_principal
from feedback.ctas.reads import load_cta
from feedback.ctas.views import cta_json
from feedback.errors import error_body
from feedback.kernel.errors import Conflict, InputError, NotFound
from feedback.kernel.principal import Principal, Role
from feedback.pools import services
from feedback.pools.claims import claim_cta
from feedback.pools.imports import import_pools
from feedback.pools.reports import pool_report, report_csv
from feedback.settings import get_settings

READ = (Role.admin, Role.manager)
CLAIM = (Role.admin, Role.manager, Role.csm)


def day_start(day: date | None) -> datetime | None:
    return None if day is None else datetime.combine(day, time(0), UTC)


def day_end(day: date | None) -> datetime | None:
    """The end of an inclusive last day."""
    return None if day is None else datetime.combine(day + timedelta(days=1), time(0), UTC)


def claimer(principal: Principal, csm: int | None) -> int:
    """Who claims: the caller's own CSM, or (admins and managers) a member named by `csm`."""
    if csm is not None and csm != principal.csm_id:
        if principal.role not in READ:
            raise InputError("csm", "a CSM claims for themselves")
        return csm
    if principal.csm_id is None:
        raise InputError("csm", "this sign-in is no CSM: name the member who claims (csm=ID)")
    return principal.csm_id


async def claim_for(
    principal: Principal, cta_id: int, csm: int | None, pool_id: int | None = None
) -> dict[str, Any]:
    """Claim, or raise Conflict naming who was first (409) and NotFound for a CTA outside
    the pool."""
    if pool_id is not None:
        cta = await load_cta(cta_id)
        if cta is None or cta.pool_id != pool_id:
            raise NotFound.for_field("cta", f"no CTA {cta_id} in pool {pool_id}")
    change = await claim_cta(
        cta_id, claimer(principal, csm), actor=principal.actor, source=principal.source
    )
    if change.outcome == "already_claimed":
        raise Conflict.for_field("cta", change.message)
    return {
        "changed": change.changed,
        "outcome": change.outcome,
        "message": change.message,
        "cta": cta_json(change.cta),
    }


class PoolController(Controller):
    path = "/api/v1/pools"
    tags = ["pools"]
    dependencies = {"principal": Provide(provide_principal)}

    @get("/", summary="Pools of specialists, with their members", **access(*READ))
    async def list_pools(self) -> list[dict[str, Any]]:
        return [pool.as_dict() for pool in await services.list_pools()]

    @post("/", summary="Create a pool (an active pool needs members)", **access(Role.admin))
    async def create_pool(
        self, principal: CurrentPrincipal, data: JSONBody[dict[str, Any]]
    ) -> dict[str, Any]:
        changes = dict(data)
        members = changes.pop("members", [])
        if not isinstance(members, list):
            raise InputError("members", "a list of the members' emails")
        pool = await services.create_pool(
            changes, members, actor=principal.actor, source=principal.source
        )
        return pool.as_dict()

    @get(
        "/report",
        summary="Time to claim and to close, and open load, per pool and specialist",
        **access(*READ),
    )
    async def report(
        self,
        date_from: Annotated[date | None, QueryParameter(name="from")] = None,
        date_to: Annotated[date | None, QueryParameter(name="to")] = None,
        format_: Annotated[str, QueryParameter(name="format")] = "json",
    ) -> Response[Any]:
        result = await pool_report(day_start(date_from), day_end(date_to))
        if format_ == "csv":
            return Response(
                report_csv(result),
                media_type="text/csv; charset=utf-8",
                headers={"Content-Disposition": 'attachment; filename="pools-report.csv"'},
            )
        if format_ != "json":
            raise InputError("format", "json or csv")
        return Response(result.as_dict())

    @post(
        "/import",
        summary="Import pools and members from CSV (all or nothing)",
        request_max_body_size=get_settings().max_import_bytes,
        status_code=200,
        **access(Role.admin),
    )
    async def import_csv(
        self, principal: CurrentPrincipal, request: Request[Any, Any, Any]
    ) -> Response[dict[str, Any]]:
        """Body: CSV (text/csv), one row per pool and member; columns in docs/pools.md.
        Answers 200 with counts, or 422 listing every problem with its line and column."""
        result = await import_pools(
            await request.body(), actor=principal.actor, source=principal.source
        )
        if result.ok:
            return Response(result.as_dict(), status_code=200)
        detail = [
            {"field": e.column or "body", "line": e.line, "message": e.reason}
            for e in result.errors[:1000]
        ]
        body = error_body(f"import rejected: {len(result.errors)} errors, nothing written", detail)
        body["result"] = result.as_dict()
        return Response(body, status_code=422)

    @get("/{pool_id:int}", summary="One pool", **access(*READ))
    async def get_pool(self, pool_id: FromPath[int]) -> dict[str, Any]:
        return (await services.get_pool(pool_id)).as_dict()

    @patch("/{pool_id:int}", summary="Change a pool's settings", **access(Role.admin))
    async def update_pool(
        self, principal: CurrentPrincipal, pool_id: FromPath[int], data: JSONBody[dict[str, Any]]
    ) -> dict[str, Any]:
        pool = await services.update_pool(
            pool_id, dict(data), actor=principal.actor, source=principal.source
        )
        return pool.as_dict()

    @delete(
        "/{pool_id:int}",
        summary="Delete a pool (none of its open CTAs unclaimed)",
        status_code=200,
        **access(Role.admin),
    )
    async def delete_pool(
        self, principal: CurrentPrincipal, pool_id: FromPath[int]
    ) -> dict[str, Any]:
        await services.delete_pool(pool_id, actor=principal.actor, source=principal.source)
        return {"deleted": pool_id}

    @post(
        "/{pool_id:int}/members",
        summary="Add members (emails)",
        status_code=200,
        **access(Role.admin),
    )
    async def add_members(
        self, principal: CurrentPrincipal, pool_id: FromPath[int], data: JSONBody[dict[str, Any]]
    ) -> dict[str, Any]:
        emails = data.get("emails", [data["email"]] if "email" in data else [])
        if not isinstance(emails, list):
            raise InputError("emails", "a list of emails")
        pool = await services.add_members(
            pool_id, emails, actor=principal.actor, source=principal.source
        )
        return pool.as_dict()

    @delete(
        "/{pool_id:int}/members/{csm_id:int}",
        summary="Take a member out",
        status_code=200,
        **access(Role.admin),
    )
    async def remove_member(
        self, principal: CurrentPrincipal, pool_id: FromPath[int], csm_id: FromPath[int]
    ) -> dict[str, Any]:
        pool = await services.remove_member(
            pool_id, csm_id, actor=principal.actor, source=principal.source
        )
        return pool.as_dict()

    @post(
        "/{pool_id:int}/claim/{cta_id:int}",
        summary="Claim a pooled CTA (409 when someone claimed it first)",
        status_code=200,
        **access(*CLAIM),
    )
    async def claim(
        self,
        principal: CurrentPrincipal,
        pool_id: FromPath[int],
        cta_id: FromPath[int],
        csm: FromQuery[int | None] = None,
    ) -> dict[str, Any]:
        return await claim_for(principal, cta_id, csm, pool_id)
