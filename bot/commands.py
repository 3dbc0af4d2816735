"""`/nps` answers: an account summary, my CTAs, a short segment report, help.

Everything comes from the same report and CTA services as the API, for the same principal
as the person's web sign-in (feedback.ctas.access.principal_for_csm): a CSM sees their own
accounts, a manager every account, as in the reports. An account is looked up only among
those the caller sees; several matches are listed as choices.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from piccolo.query.functions.string import Lower

from bot.blocks import cta_list_blocks, escape, mrkdwn, plain
from feedback.accounts.models import Account
from feedback.accounts.services import AccountRef
from feedback.ctas.access import principal_for_csm
from feedback.ctas.reads import list_ctas, open_ctas_for
from feedback.ctas.records import CtaView
from feedback.health.reads import recent_scores
from feedback.kernel.clock import utcnow
from feedback.kernel.errors import InputError
from feedback.kernel.principal import Principal, Role
from feedback.reports.explorer import responses_page
from feedback.reports.services import (
    GROUPS,
    TRAIT_PREFIX,
    NPSGroup,
    NPSQuery,
    is_trait,
    load_nps_report,
)
from feedback.settings import Settings
from feedback.themes.reports import rising_themes, theme_report

HELP = (
    "*/nps ACCOUNT* — an account: NPS with its interval, trend by quarter, last comments, "
    "open CTAs (ACCOUNT is its id or the start of its name)\n"
    "*/nps mine* — my open CTAs\n"
    "*/nps segment DIM* — NPS over the last 12 months by plan, role, industry, "
    "company_size, csm, manager, quarter (in order), account or user (the 15 with the most "
    "answers), or trait:NAME for a custom trait\n"
    "*/nps themes* — what comments talk about: the themes with the most answers over the "
    "last 12 months, their NPS, and the themes rising this week\n"
    "*/nps help* — this help"
)
SEGMENTS = (
    "plan",
    "role",
    "industry",
    "company_size",
    "csm",
    "manager",
    "quarter",
    "account",
    "user",
)
# at most this many groups in a segment answer: those with the most answers
TOP = 15


async def principal_for(csm: dict[str, Any]) -> Principal:
    return await principal_for_csm(csm["id"], csm["email"], "slack")


async def open_ctas_of(csm: dict[str, Any]) -> list[CtaView]:
    """The CSM's open CTAs (a manager's: their team's)."""
    return await open_ctas_for(await principal_for(csm))


def _nps_text(group: NPSGroup) -> str:
    n = group.responses
    if group.nps is None:
        return f"{n} answers (too few for a score)"
    low, high = group.ci_low, group.ci_high
    interval = f" ({low:.0f} to {high:.0f})" if low is not None and high is not None else ""
    flag = " · low precision" if group.precision == "low" else ""
    return f"*{group.nps:.0f}*{interval} · n={n}{flag}"


async def answer(csm: dict[str, Any], text: str, settings: Settings) -> tuple[str, list[dict]]:
    words = text.split()
    if not words or words[0].lower() == "help":
        return "How to use /nps", [{"type": "section", "text": mrkdwn(HELP)}]
    if words[0].lower() == "mine":
        ctas = await open_ctas_of(csm)
        return f"{len(ctas)} open CTAs", cta_list_blocks(
            "Your open Calls-to-Action", ctas, settings.public_url
        )
    principal = await principal_for(csm)
    if words[0].lower() == "themes":
        return await themes_answer(principal)
    if words[0].lower() == "segment":
        dimension = words[1] if len(words) > 1 else ""
        # a trait's name keeps its case: traits are stored as they were sent
        if not is_trait(dimension.lower()):
            dimension = dimension.lower()
        elif not is_trait(dimension):
            dimension = TRAIT_PREFIX + dimension[len(TRAIT_PREFIX) :]
        if dimension not in SEGMENTS and not is_trait(dimension):
            listed = ", ".join(SEGMENTS)
            return "Unknown segment", [
                {"type": "section", "text": mrkdwn(f"Segments: {listed} or trait:NAME")}
            ]
        return await _segment(principal, dimension)
    return await _account(principal, " ".join(words), settings)


async def _segment(principal: Principal, dimension: str) -> tuple[str, list[dict]]:
    """The segments with the most answers (quarters: every one, in order), over the last
    12 months; the database sorts them and keeps the first TOP."""
    assert dimension in GROUPS or is_trait(dimension)
    since = utcnow() - timedelta(days=365)
    chronological = dimension == "quarter"
    query = NPSQuery(
        group_by=dimension,
        date_from=since,
        sort="key" if chronological else "-responses",
        limit=None if chronological else TOP,
    )
    try:
        report = await load_nps_report(principal, query)
    except InputError as exc:
        return exc.message, [{"type": "section", "text": mrkdwn(escape(exc.message))}]
    groups = report.groups
    lines = [f"• {escape(_key_text(g.key))}: {_nps_text(g)}" for g in groups]
    name = dimension if is_trait(dimension) else dimension.replace("_", " ")
    title = f"NPS by {name}, last 12 months"
    if report.total_groups > len(groups):
        title += f": top {len(groups)} of {report.total_groups} by answers"
    body = "\n".join(lines) or "No answers in the last 12 months."
    return title, [
        {"type": "header", "text": plain(title)},
        {"type": "section", "text": mrkdwn(body)},
    ]


def _key_text(key: Any) -> str:
    return "(none)" if key is None else str(key)


async def health_line(account_id: int) -> str | None:
    """The latest daily health score with its band and the change over 7 days."""
    scores = await recent_scores(account_id, 8)
    if not scores:
        return None
    latest = scores[0]
    text = f"*Health:* {latest.score:.0f} ({latest.band}) on {latest.day}"
    if len(scores) == 8:  # recent_scores keeps the days with a score only
        change = (latest.score or 0.0) - (scores[7].score or 0.0)
        text += f", {change:+.0f} in 7 days"
    return text


# at most this many accounts listed when a name matches several
CHOICES = 10


async def accounts_matching(principal: Principal, text: str, limit: int) -> list[AccountRef]:
    """Among the accounts the principal sees: the one with this external id, else those
    whose name starts with the text (ignoring case), by name, at most `limit`."""
    columns = (Account.id, Account.external_id, Account.name, Account.arr_cents, Account.csm)
    scope = None if principal.can_see_csm(None) else principal.csm_id
    if scope is None and principal.role is Role.csm:
        return []  # a csm bound to no CSM sees no account

    def scoped(query: Any) -> Any:
        return query if scope is None else query.where(Account.csm == scope)

    exact = await scoped(Account.select(*columns).where(Account.external_id == text)).first()
    if exact is not None:
        return [AccountRef(**exact)]
    prefix = text.lower().replace("\\", "").replace("%", "").replace("_", "")
    if not prefix:
        return []
    rows = (
        await scoped(Account.select(*columns).where(Lower(Account.name).like(prefix + "%")))
        .order_by(Account.name)
        .limit(limit)
    )
    return [AccountRef(**row) for row in rows]


def _choices(query: str, matches: list[AccountRef]) -> tuple[str, list[dict]]:
    shown = matches[:CHOICES]
    lines = [f"• {escape(m.name)} — `/nps {escape(m.external_id)}`" for m in shown]
    if len(matches) > CHOICES:
        lines.append("… and more: type more of the name")
    title = f"{len(shown)}{'+' if len(matches) > CHOICES else ''} of your accounts match"
    text = f"More than one of your accounts starts with {escape(query)!r}; which one?"
    return title, [{"type": "section", "text": mrkdwn(text + "\n" + "\n".join(lines))}]


async def _account(principal: Principal, query: str, settings: Settings) -> tuple[str, list[dict]]:
    matches = await accounts_matching(principal, query, CHOICES + 1)
    if not matches:
        message = f"no account {query!r} among yours"
        return message, [{"type": "section", "text": mrkdwn(escape(message))}]
    if len(matches) > 1:
        return _choices(query, matches)
    account = matches[0]
    since = utcnow() - timedelta(days=365)
    filters = (("account", account.external_id),)
    overall = await load_nps_report(principal, NPSQuery(date_from=since, filters=filters))
    trend = await load_nps_report(principal, NPSQuery(group_by="quarter", filters=filters))
    comments = await responses_page(
        principal, has_comment=True, filters={"account": account.external_id}, limit=3
    )
    ctas = await list_ctas(principal, account_id=account.id)
    title = f"{account.name} ({account.external_id})"
    lines = [f"*NPS, last 12 months:* {_nps_text(overall.groups[0])}"]
    health = await health_line(account.id)
    if health:
        lines.append(health)
    quarters = trend.groups[-4:]
    if quarters:
        lines.append(
            "*Trend:* "
            + " → ".join(
                f"{q.key}: {q.nps:.0f}" if q.nps is not None else f"{q.key}: n<5" for q in quarters
            )
        )
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": plain(title)},
        {"type": "section", "text": mrkdwn("\n".join(lines))},
    ]
    if comments.responses:
        quoted = "\n".join(
            f"> {r.score}: {escape((r.comment or '')[:300])}" for r in comments.responses
        )
        blocks.append({"type": "section", "text": mrkdwn("*Last comments*\n" + quoted)})
    blocks += cta_list_blocks("Open CTAs", ctas, settings.public_url)[1:] if ctas else []
    return title, blocks


# --- comment themes (issue 17) ---------------------------------------------------------------

# at most this many themes in a `/nps themes` answer: those with the most answers
TOP_THEMES = 8


async def themes_answer(principal: Principal, now: Any = None) -> tuple[str, list[dict]]:
    """The themes with the most commented answers over the last 12 months (the caller's
    accounts for a CSM), each with its NPS, and the themes rising this week."""

    now = now or utcnow()
    report = await theme_report(principal, date_from=now - timedelta(days=365))
    shown = [t for t in report.themes if t.score.responses][:TOP_THEMES]
    title = "Comment themes, last 12 months"
    if not shown:
        text = (
            "No answers in themes over the last 12 months."
            if report.themes
            else "No themes yet: an admin builds them on the Themes admin page."
        )
        return title, [{"type": "section", "text": mrkdwn(text)}]
    lines = []
    for theme in shown:
        score = theme.score
        nps = f"NPS *{score.nps:+.0f}*" if score.nps is not None else "too few for a score"
        flag = ""
        if theme.versus_rest is not None and theme.versus_rest.significant:
            flag = " · lower than the rest" if theme.versus_rest.diff < 0 else " · higher"
        lines.append(f"• {escape(theme.label)}: {score.responses} answers, {nps}{flag}")
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": plain(title)},
        {"type": "section", "text": mrkdwn("\n".join(lines))},
    ]
    rising = await rising_themes(principal, now)
    if rising:
        text = "*Rising this week:* " + ", ".join(
            f"{escape(r.label)} ({r.this_week}, usually {r.weekly_before:.0f})" for r in rising
        )
        blocks.append({"type": "section", "text": mrkdwn(text)})
    return title, blocks
