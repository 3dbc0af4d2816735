"""Demo data: a small SaaS customer book with a year of NPS answers up to yesterday, product
activity, some churn, a pool of specialists serving the free plan, and the CTAs of it all.

Deterministic for a given day and loaded through the same importer a real CRM sync uses:
loading it twice on one day changes nothing, and loading it on a later day adds the answers
given since (each answer has a fixed place on a calendar that does not move, so its id and
content never change).
"""

from __future__ import annotations

import math
import os
import random
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from feedback.auth.models import StaffUser
from feedback.auth.services import create_staff_user, csm_id_for_email
from feedback.imports.parsing import SourceRow
from feedback.imports.services import Importer, ImportResult
from feedback.kernel.nps import category
from feedback.kernel.principal import Role
from feedback.surveys.keys import DEMO_WIDGET_KEY
from feedback.today.services import last_working_day

SEED = 20261122
ACCOUNTS = 150
# accounts that started in the last month (onboarding), after the others
NEW_ACCOUNT_AGES = (3, 9, 17, 26)
DEFAULT_DEMO_PASSWORD = "demo-password-123"  # noqa: S105 - printed, demo only
# the account the demo host page (/demo/host, feedback/web/static/demo-host.js) answers for;
# the demo CSM sign-in (csm@example.com, working as Alex) owns it
DEMO_HOST_ACCOUNT = "acct-0001"
DEMO_HOST_ACCOUNT_NAME = "Acme demo"
DEMO_CSM = "alex@example.com"
# the answers' calendar: every user is asked every CADENCE_DAYS from their own day of it
CALENDAR_START = date(2024, 1, 1)
CADENCE_DAYS = 90
RESPONSE_RATE = 0.45
HISTORY_DAYS = 365
# the accounts' start dates count back from this fixed day, so they never move
BOOK_DAY = date(2026, 11, 1)
# the demo's own answers of the last weeks go through the answer rules once, as they would
# have when given in the widget (the older ones' CTAs are then worked: load_demo_work)
RECENT_ANSWER_DAYS = 35
MEETING_BASE = "https://cal.example.com/"

CSMS = [
    # email, name, manager, kind
    ("dana.vp@example.com", "Dana Okafor (VP Customer Success)", "", "dedicated"),
    ("maria.lead@example.com", "Maria Rossi (team lead)", "dana.vp@example.com", "dedicated"),
    ("kenji.lead@example.com", "Kenji Watanabe (team lead)", "dana.vp@example.com", "dedicated"),
    ("alex@example.com", "Alex Kim", "maria.lead@example.com", "dedicated"),
    ("sam@example.com", "Sam Patel", "maria.lead@example.com", "dedicated"),
    ("jo@example.com", "Jo Müller", "maria.lead@example.com", "dedicated"),
    ("yuki@example.com", "Yuki Tanaka", "kenji.lead@example.com", "dedicated"),
    ("lee@example.com", "Lee Chen", "kenji.lead@example.com", "dedicated"),
    # the SMB pool's specialists
    ("robin@example.com", "Robin Avery", "kenji.lead@example.com", "pooled"),
    ("casey@example.com", "Casey Moreau", "kenji.lead@example.com", "pooled"),
]
OWNERS = [c[0] for c in CSMS if c[3] == "dedicated"][3:]
POOL = {
    "name": "SMB pool",
    "slack_channel": "#smb-pool",
    "rule": "round_robin",
    # free-plan accounts have no dedicated CSM: the pool serves them
    "audience": {"plan": ["free"]},
    "manager_email": "kenji.lead@example.com",
    "meeting_url": MEETING_BASE + "smb-pool",
    "members": ["robin@example.com", "casey@example.com"],
}
PLANS = [("free", 0.35), ("paid", 0.45), ("premium", 0.20)]
INDUSTRIES = [
    "Software",
    "Healthcare",
    "Retail",
    "Finance",
    "Staffing",
    "Education",
    "Manufacturing",
]
ROLES = [("admin", 0.15), ("recruiter", 0.35), ("read-only", 0.25), ("candidate", 0.25)]
COMMENTS = {
    "promoter": [
        "Saves our team hours every week.",
        "The reports are exactly what we needed.",
        "Support answered within minutes, great!",
        "Love the new pipeline view.",
    ],
    "passive": [
        "Good, but search is slow on big projects.",
        "Fine overall; exports are clunky.",
        "Does the job. Pricing is a bit high.",
        "",
    ],
    "detractor": [
        "Too many bugs since the last release.",
        "We lost data in an import <again>.",
        "Onboarding our team took forever.",
        "Missing SSO is a blocker for us.",
    ],
}
STAFF = [
    ("admin@example.com", Role.admin, None),
    ("manager@example.com", Role.manager, None),
    ("csm@example.com", Role.csm, DEMO_CSM),
    ("analyst@example.com", Role.analyst, None),
    # the SMB pool's sign-in, working as one of its specialists
    ("pool@example.com", Role.csm, "robin@example.com"),
]


def pick(rng: random.Random, weighted: list[tuple[str, float]]) -> str:
    return rng.choices([v for v, _ in weighted], weights=[w for _, w in weighted])[0]


def rows(values: Iterable[dict[str, str]]) -> tuple[list[str], list[SourceRow]]:
    out = [SourceRow(line, v) for line, v in enumerate(values, start=2)]
    header: list[str] = []
    for row in out:
        header.extend(k for k in row.values if k not in header)
    return header, out


def anniversary_on_or_after(start: date, day: date) -> date:
    """The first anniversary of `start` on or after `day` (29 February: the 28th)."""
    for year in (day.year, day.year + 1):
        try:
            candidate = start.replace(year=year)
        except ValueError:
            candidate = start.replace(year=year, day=28)
        if candidate >= day:
            return candidate
    raise AssertionError("unreachable: next year's anniversary is after the day")


def midnight(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


@dataclass(frozen=True)
class DemoAccount:
    number: int
    external_id: str
    plan: str
    health: float  # the account's lean, on the scale of the score model
    created: date
    csm_email: str  # "" for an account the pool serves
    # the day its users stopped answering and using the product (going dark), if they did
    quiet_since: date | None
    churn: dict[str, str] | None
    # answers and use stop here (a contract that ended)
    ends: date | None
    row: dict[str, str]


def demo_account(n: int, today: date) -> DemoAccount:
    """Account `n`: what does not depend on the day from its own seed; its renewal (the
    next anniversary), a churn notice known by now and going quiet from `today`."""
    rng = random.Random(f"{SEED}:account:{n}")
    young = n > ACCOUNTS
    plan = "paid" if young else pick(rng, PLANS)
    if n == 1:
        plan = "premium"
    health = rng.gauss({"free": -0.3, "paid": 0.1, "premium": 0.4}[plan], 1.0)
    employees = int(math.exp(rng.uniform(math.log(5), math.log(5000))))
    arr = {
        "free": 0,
        "paid": rng.randint(5, 40) * 1000,
        "premium": rng.randint(40, 250) * 1000,
    }[plan]
    external_id = f"acct-{n:04d}"
    name = f"{rng.choice(NAMES)} {rng.choice(SUFFIXES)}"
    industry, region = rng.choice(INDUSTRIES), rng.choice(["EMEA", "AMER", "APAC"])
    if young:
        created = today - timedelta(days=NEW_ACCOUNT_AGES[n - ACCOUNTS - 1])
    else:
        created = BOOK_DAY - timedelta(days=rng.randint(400, 1500))
    csm_email = DEMO_CSM if n == 1 else "" if plan == "free" else OWNERS[n % len(OWNERS)]
    # some accounts went quiet on a fixed day a few months before the book's day (a fixed
    # day, so that later loads agree with this one)
    quiet_since = None
    quiet_roll, quiet_days = rng.random(), rng.randint(40, 160)
    if not young and n != 1 and quiet_roll < 0.06:
        quiet_since = BOOK_DAY - timedelta(days=quiet_days)
    churn = None
    ends = None
    churns = rng.random() < 1 / (1 + math.exp(2.0 + 1.6 * health))
    notice_days = rng.choice([30, 60, 90])
    kind = rng.choice(["termination_notice", "non_renewal"])
    reason = rng.choice(
        ["budget cuts", "moved to a competitor", "product gaps", "company acquired"]
    )
    if churns and not young and n != 1:
        # at a contract anniversary near the book's day, noticed some weeks before and
        # unknown until then (fixed days, so that later loads agree with this one)
        effective = anniversary_on_or_after(created, BOOK_DAY - timedelta(days=240))
        noticed = effective - timedelta(days=notice_days)
        if noticed < today:
            churn = {
                "account_id": external_id,
                "event_id": f"demo-churn-{n:04d}",
                "kind": kind,
                "noticed_at": midnight(noticed).isoformat(),
                "effective_at": midnight(effective).isoformat(),
                "reason": reason,
            }
            ends = effective if effective < today else None
    row = {
        "external_id": external_id,
        "name": DEMO_HOST_ACCOUNT_NAME if external_id == DEMO_HOST_ACCOUNT else name,
        "plan": plan,
        "industry": industry,
        "employee_count": str(employees),
        "arr": str(arr),
        "csm_email": csm_email,
        "renewal_date": anniversary_on_or_after(created, today).isoformat(),
        "created_at": midnight(created).isoformat(),
        "region": region,
    }
    return DemoAccount(
        n, external_id, plan, health, created, csm_email, quiet_since, churn, ends, row
    )


def demo_users(
    account: DemoAccount, today: date
) -> Iterable[tuple[dict[str, str], list[dict[str, str]]]]:
    """The account's users, each with their answers of the HISTORY_DAYS before `today`."""
    count = random.Random(f"{SEED}:users:{account.number}").randint(3, 12)
    start, end = midnight(today - timedelta(days=HISTORY_DAYS)), midnight(today)
    stop = min(
        (midnight(d) for d in (account.quiet_since, account.ends) if d is not None), default=end
    )
    for u in range(1, count + 1):
        user_id = f"{account.external_id}-u{u:02d}"
        rng = random.Random(f"{SEED}:user:{user_id}")
        role = pick(rng, ROLES)
        locale = "ja" if rng.random() < 0.15 else "en"
        age = max(0, (today - account.created).days)
        joined = midnight(account.created) + timedelta(
            days=rng.randint(0, min(120, age)), minutes=rng.randint(0, 1439)
        )
        phase = rng.randrange(CADENCE_DAYS)
        # most users used the product in the last days; some drifted away long ago
        away_hours = rng.expovariate(1 / 60) if rng.random() < 0.8 else rng.uniform(720, 4800)
        last_seen = min(end, stop) - timedelta(hours=away_hours)
        if stop < end:
            last_seen = stop - timedelta(hours=rng.uniform(0, 480))
        last_seen = max(last_seen, joined)
        user = {
            "external_id": user_id,
            "account_id": account.external_id,
            "role": role,
            "email": f"user{u}@{account.external_id}.example.com",
            "locale": locale,
            "first_seen_at": joined.isoformat(),
            "last_seen_at": last_seen.isoformat(),
        }
        answers = []
        first = max(0, (start.date() - CALENDAR_START).days // CADENCE_DAYS - 1)
        last = (today - CALENDAR_START).days // CADENCE_DAYS + 1
        for cycle in range(first, last + 1):
            ask = random.Random(f"{SEED}:ask:{user_id}:{cycle}")
            if ask.random() > RESPONSE_RATE:
                continue
            answered = midnight(CALENDAR_START) + timedelta(
                days=phase + CADENCE_DAYS * cycle + ask.randint(0, 6),
                minutes=ask.randint(0, 1439),
            )
            # asked from two weeks after they joined, never after the account went quiet
            if not (max(start, joined + timedelta(days=14)) <= answered < min(end, stop)):
                continue
            lean = {"admin": 0.3, "recruiter": 0.1, "read-only": -0.2, "candidate": -0.1}[role]
            noise = ask.gauss(0, 1.4)
            score = max(0, min(10, round(8.3 + 1.5 * (account.health + lean) + noise)))
            comment = ask.choice(COMMENTS[category(score)]) if ask.random() < 0.5 else ""
            answers.append(
                {
                    "response_id": f"demo-{user_id}-c{cycle}",
                    "account_id": account.external_id,
                    "user_id": user_id,
                    "score": str(score),
                    "comment": comment,
                    "answered_at": answered.isoformat(),
                    "locale": locale,
                }
            )
        yield user, answers


def generate(today: date) -> dict[str, tuple[list[str], list[SourceRow]]]:
    """The demo book as import rows, for the day `today` (answers up to its start)."""
    accounts, users, responses, churn = [], [], [], []
    book: list[tuple[DemoAccount, list[tuple[dict[str, str], list[dict[str, str]]]]]] = []
    for n in range(1, ACCOUNTS + len(NEW_ACCOUNT_AGES) + 1):
        account = demo_account(n, today)
        accounts.append(account.row)
        if account.churn is not None:
            churn.append(account.churn)
        people = list(demo_users(account, today))
        book.append((account, people))
        for user, answers in people:
            users.append(user)
            responses.extend(answers)
    responses.extend(news_since_the_last_working_day(today, book))
    csms = [
        {
            "email": e,
            "name": name,
            "manager_email": m,
            "slack_user_id": f"U0DEMO{i:02d}",
            "slack_channel": "#smb-pool" if kind == "pooled" else "#cs-alerts",
        }
        for i, (e, name, m, kind) in enumerate(CSMS)
    ]
    return {
        "csms": rows(csms),
        "accounts": rows(accounts),
        "users": rows(users),
        "responses": rows(responses),
        "churn": rows(churn),
    }


STORY_COMMENTS = [
    "The last release broke our saved searches and nobody told us.",
    "We were charged twice this month and support has not answered in four days.",
    "Exports time out every Monday morning; the team is losing patience.",
    "SSO setup failed again; we are looking at other tools.",
    "Onboarding the new hires was painful, the docs are out of date.",
]


def news_since_the_last_working_day(
    today: date,
    book: list[tuple[DemoAccount, list[tuple[dict[str, str], list[dict[str, str]]]]]],
) -> list[dict[str, str]]:
    """A few detractors since the last working day, one for each dedicated CSM, so that a
    CSM's Today has news: on the owner's weakest account still in use (not the demo host's),
    by a user who has not answered for a quarter. Fixed by the day (ids name it), so loading
    twice adds nothing and a later day adds that day's news."""
    day = last_working_day(today)
    answers = []
    for owner in OWNERS:
        candidates = [
            (account, people)
            for account, people in book
            if account.csm_email == owner
            and account.external_id != DEMO_HOST_ACCOUNT
            and account.quiet_since is None
            and account.ends is None
            and account.churn is None
            and account.created < today - timedelta(days=60)
        ]
        if not candidates:
            continue
        account, people = min(candidates, key=lambda pair: pair[0].health)
        rng = random.Random(f"{SEED}:news:{owner}:{day.isoformat()}")
        quiet = [
            (user, answered)
            for user, answered in people
            if all(
                datetime.fromisoformat(a["answered_at"]) < midnight(day) - timedelta(days=90)
                for a in answered
            )
        ]
        if not quiet:
            continue
        user, _ = rng.choice(quiet)
        at = midnight(day) + timedelta(hours=rng.randint(9, 17), minutes=rng.randint(0, 59))
        # they used the product when they answered
        if datetime.fromisoformat(user["last_seen_at"]) < at:
            user["last_seen_at"] = at.isoformat()
        answers.append(
            {
                "response_id": f"demo-news-{user['external_id']}-{day.isoformat()}",
                "account_id": account.external_id,
                "user_id": user["external_id"],
                "score": str(rng.randint(1, 5)),
                "comment": rng.choice(STORY_COMMENTS),
                "answered_at": at.isoformat(),
                "locale": user["locale"],
            }
        )
    return answers


NAMES = [
    "Acme",
    "Globex",
    "Initech",
    "Umbrella",
    "Hooli",
    "Stark",
    "Wayne",
    "Wonka",
    "Tyrell",
    "Cyberdyne",
    "Soylent",
    "Aperture",
    "Vandelay",
    "Pied Piper",
    "Dunder",
    "Oscorp",
]
SUFFIXES = ["Corp", "GmbH", "KK", "Labs", "Holdings", "Systems", "Partners", "Group"]


async def load_demo(today: date | None = None, now: datetime | None = None) -> list[str]:
    """Load the demo book for `today` (default: the day of `now`, by default the current
    time) and run what the service's jobs would run on it once: the answer rules on the
    last days' answers, health snapshots, the time-driven CTA rules."""
    from feedback.kernel.clock import utcnow
    from feedback.responses.models import Response
    from feedback.settings import get_settings

    if get_settings().environment == "production":
        raise RuntimeError("demo data is not loaded when FEEDBACK_ENV=production")
    if now is None:
        now = utcnow() if today is None else datetime.combine(today, time(9), tzinfo=UTC)
    today = today or now.date()
    importer = Importer(actor="demo", source="cli")
    newest = await Response.select(Response.id).order_by(Response.id, ascending=False).first()
    lines = []
    for kind, (header, source_rows) in generate(today).items():
        result: ImportResult = await importer.run(kind, header, source_rows)
        if not result.ok:
            raise RuntimeError(f"demo {kind} did not load: {result.errors[:3]}")
        lines.append(
            f"{kind}: {result.created} created, {result.updated} updated, "
            f"{result.unchanged} unchanged"
        )
    lines.append(await load_demo_team())
    lines.append(await load_demo_survey())
    lines.append(await load_demo_staging(now))
    lines.append(await load_demo_health(today))
    lines.append(await load_demo_programs())
    lines.append(await load_demo_ctas(now, after_response=newest["id"] if newest else 0))
    lines.append(await load_demo_work(now, importer))
    password = os.environ.get("FEEDBACK_ADMIN_PASSWORD") or DEFAULT_DEMO_PASSWORD
    created = []
    for email, role, csm_email in STAFF:
        if await StaffUser.exists().where(StaffUser.email == email):
            continue
        csm_id = await csm_id_for_email(csm_email, role)
        await create_staff_user(email, role, password, name=email.split("@")[0], csm_id=csm_id)
        created.append(email)
    if created:
        lines.append(
            f"staff users created: {', '.join(created)} (password: "
            f"{'FEEDBACK_ADMIN_PASSWORD' if password != DEFAULT_DEMO_PASSWORD else password})"
        )
    else:
        lines.append(
            "staff users: already present (admin@example.com, manager@, csm@, analyst@, pool@)"
        )
    return lines


def meeting_url(email: str) -> str:
    return MEETING_BASE + email.split("@")[0].replace(".", "-")


async def load_demo_team() -> str:
    """Every demo CSM's kind and meeting link, and the SMB pool with its specialists;
    only what differs is written, so a second run changes nothing."""
    from feedback.accounts.models import CSM
    from feedback.pools.models import Pool
    from feedback.pools.services import create_pool, update_csm_profile

    changed = 0
    rows = await CSM.select(CSM.id, CSM.email, CSM.kind, CSM.meeting_url).where(
        CSM.email.is_in([c[0] for c in CSMS])
    )
    by_email = {row["email"]: row for row in rows}
    for email, _, _, kind in CSMS:
        row = by_email[email]
        wanted = {"kind": kind, "meeting_url": meeting_url(email)}
        changes = {k: v for k, v in wanted.items() if row[k] != v}
        if changes:
            await update_csm_profile(row["id"], changes, actor="demo", source="cli")
            changed += 1
    pool = "pool: already present (SMB pool)"
    if not await Pool.exists().where(Pool.name == POOL["name"]):
        await create_pool(
            {k: v for k, v in POOL.items() if k != "members"},
            list(POOL["members"]),
            actor="demo",
            source="cli",
        )
        pool = "pool created: SMB pool (sign in as pool@example.com)"
    return f"CSM profiles: {changed} updated; {pool}"


async def load_demo_programs() -> str:
    """Both shipped programs, switched on: their mails wait on the mail outbox page until
    FEEDBACK_SMTP_URL names a server."""
    from feedback.programs.shipped import ensure_default_programs

    ids = await ensure_default_programs(enabled=True)
    return f"programs: {len(ids)} on (Onboarding, Poor NPS follow-up)"


async def load_demo_ctas(now: datetime, after_response: int) -> str:
    """The CTAs the service's jobs would have raised: the answer rules on the answers this
    load added from the last RECENT_ANSWER_DAYS (as if given in the widget, each on its
    day), then the time-driven rules once. What a second load finds open stays as it is."""
    from feedback.ctas.rules import apply_answer_rules, evaluate_rules, queue_answers_for_rules

    since = now - timedelta(days=RECENT_ANSWER_DAYS)
    queued = await queue_answers_for_rules(since, after_response=after_response)
    # day by day, each answer's CTA raised the evening of its day: due dates count from
    # then, so the older ones are overdue now, as on a real Monday
    day = since.date()
    while day <= now.date():
        evening = min(now, datetime.combine(day, time(18), tzinfo=UTC))
        while await apply_answer_rules(now=evening):
            pass
        day += timedelta(days=1)
    raised = await evaluate_rules(now)
    return f"CTAs: {queued} recent answers through the answer rules, {raised} raised by the others"


async def load_demo_health(today: date, days: int = 31) -> str:
    """Health snapshots for the last `days` complete days, so trends and the change against
    30 days before show at once."""
    from feedback.health.snapshot import compute_snapshot

    computed = 0
    for back in range(days, 0, -1):
        result = await compute_snapshot(today - timedelta(days=back), replace=False)
        computed += result.computed
    return f"health snapshots: {computed} days computed, {days - computed} already present"


async def load_demo_survey() -> str:
    """The demo survey, a schedule that asks new visitors at once, and a development key
    for the demo host page at /demo/host."""
    from feedback.surveys.models import Schedule, Survey, WidgetKey

    if await WidgetKey.exists().where(WidgetKey.key == DEMO_WIDGET_KEY):
        return "demo survey: already present (key wk_demo_local)"
    survey = Survey(
        name="Quarterly NPS",
        product_name="Acme HR",
        promoter_link_url="https://www.g2.com/",
        # a detractor on the demo host page is offered a meeting with Alex, the account's CSM
        talk_to_detractors=True,
    )
    await survey.save()
    # production and development keys: the demo host page's key is a development one, and a
    # schedule an admin adds for a staging key (or a single key) is not outranked by this one
    await Schedule(
        survey=survey.id,
        name="Every quarter",
        first_survey_after_days=0,
        delay_seconds=1,
        environments=["production", "development"],
    ).save()
    await WidgetKey(
        key=DEMO_WIDGET_KEY, name="Demo host page", environment="development", allowed_origins=["*"]
    ).save()
    return "demo survey created: open /demo/host to see the widget"


STAGING_WIDGET_KEY = "wk_stage_demo"
# what the QA team typed while trying the survey on the staging app: answers that must never
# count in production (they show under environment=staging)
STAGING_ANSWERS = [
    (2, "QA: testing the detractor follow-up, please ignore"),
    (10, "QA: promoter path with the review link"),
    (0, "Test test test"),
    (7, ""),
    (4, "QA run 2: comment box keeps the text after an error"),
    (9, "Looks fine on the staging build"),
    (1, "QA: checking that staging raises no CTA"),
    (8, ""),
]


async def load_demo_staging(now: datetime) -> str:
    """A staging key and the answers the QA team gave through it while trying the survey:
    they appear under `environment=staging` and never in the production numbers, CTAs or
    webhooks (docs/environments.md)."""
    from feedback.accounts.models import Account
    from feedback.responses.models import Response
    from feedback.surveys.models import WidgetKey

    if await WidgetKey.exists().where(WidgetKey.key == STAGING_WIDGET_KEY):
        return "staging key and test answers: already present"
    await WidgetKey(
        key=STAGING_WIDGET_KEY,
        name="Staging app",
        environment="staging",
        allowed_origins=["https://staging.acme-hr.example"],
        identity="browser",
    ).save()
    accounts = await (
        Account.select(
            Account.id, Account.plan, Account.industry, Account.company_size, Account.csm
        )
        .order_by(Account.external_id)
        .limit(len(STAGING_ANSWERS))
    )
    rows = [
        Response(
            idempotency_key=f"demo-staging:{n}",
            source="widget",
            environment="staging",
            account=account["id"],
            score=score,
            comment=comment or None,
            commented_at=(now - timedelta(days=2 * n + 1)) if comment else None,
            answered_at=now - timedelta(days=2 * n + 1),
            locale="en",
            role="qa",
            plan=account["plan"],
            industry=account["industry"],
            company_size=account["company_size"],
            csm=account["csm"],
        )
        for n, ((score, comment), account) in enumerate(
            zip(STAGING_ANSWERS, accounts, strict=False)
        )
    ]
    if rows:
        await Response.insert(*rows)
    return f"staging key {STAGING_WIDGET_KEY} and {len(rows)} QA answers (environment=staging)"


# ---------------------------------------------------------------- the team's work so far

# what the team did with the CTAs the answers raised before the last days: about two thirds
# of those raised more than CLOSE_AFTER_DAYS ago are closed, some of the detractors' accounts
# answered again since, and the pool's specialists claimed what came in (but the newest few)
CLOSE_AFTER_DAYS = 10
CLOSED_SHARE = 2 / 3
LEAVE_UNCLAIMED = 3
# outcome, weight, note, the chance that the person answers again after the close, and
# that this answer is a 7 or more
RISK_OUTCOMES = [
    ("contacted", 0.40, "Called them; a fix is on its way and they will try it.", 0.6, 0.6),
    ("resolved", 0.35, "Walked their admin through it on a call; solved.", 0.7, 0.85),
    ("no_response", 0.15, "Two emails and a voicemail, no answer.", 0.3, 0.2),
    ("not_actionable", 0.10, "A feature we do not plan; explained why.", 0.3, 0.3),
]
ADVOCACY_OUTCOMES = [
    ("contacted", 0.7, "Thanked them and asked for a review.", 0.0, 0.0),
    ("resolved", 0.3, "They wrote a review and agreed to be a reference.", 0.0, 0.0),
]
FOLLOW_UP_COMMENTS = [
    "Much better since the call with our CSM.",
    "The fix works, thanks for following up.",
    "",
    "Support sorted it out quickly.",
]
DEMO_CSM_EMAILS = frozenset(c[0] for c in CSMS)


def working_moment(start: datetime, rng: random.Random) -> datetime:
    """A moment in working hours (Monday to Friday, 08:00-17:00 UTC) at or after `start`."""
    moment = start
    while moment.weekday() >= 5 or not 8 <= moment.hour < 17:
        moment = (moment + timedelta(hours=1)).replace(minute=rng.randint(0, 59))
    return moment


async def _demo_untouched(cta_ids: list[int]) -> dict[int, datetime]:
    """Of these CTAs, those only the rules and the demo's own CSMs acted on (a person who
    signed in and acted on one owns it from then on), each with the moment of its last
    change (a later answer's signal moves it)."""
    from feedback.ctas.models import CtaEvent

    if not cta_ids:
        return {}
    rows = await CtaEvent.select(CtaEvent.cta, CtaEvent.actor, CtaEvent.source, CtaEvent.at).where(
        CtaEvent.cta.is_in(cta_ids)
    )
    touched = {
        row["cta"]
        for row in rows
        if row["source"] != "rule" and row["actor"] not in DEMO_CSM_EMAILS
    }
    last: dict[int, datetime] = {}
    for row in rows:
        if row["cta"] not in touched:
            at = row["at"].astimezone(UTC)
            last[row["cta"]] = max(at, last.get(row["cta"], at))
    return last


async def _specialist(pool_id: int, key: str) -> tuple[int, str]:
    """The pool member (id, email) who picks up the CTA keyed `key`, by its own seed."""
    from feedback.pools.models import PoolMember

    rows = await PoolMember.select(PoolMember.csm, PoolMember.csm.email).where(
        PoolMember.pool == pool_id
    )
    rows.sort(key=lambda row: row["csm"])
    row = random.Random(f"{SEED}:claim:{key}").choice(rows)
    return row["csm"], row["csm.email"]


async def _pick_up(cta_id: int, key: str, at: datetime) -> str:
    """A pooled CTA nobody owns is claimed (in the pool's Slack channel) and acknowledged
    by a specialist at `at`; any other is acknowledged by its owner. Returns who acted."""
    from feedback.ctas.actions import change_cta
    from feedback.ctas.reads import load_cta
    from feedback.pools.claims import claim_cta

    cta = await load_cta(cta_id)
    assert cta is not None
    actor = cta.owner_email or DEMO_CSM
    if cta.owner_id is None and cta.pool_id is not None:
        csm_id, actor = await _specialist(cta.pool_id, key)
        await claim_cta(cta_id, csm_id, actor=actor, source="slack", now=at)
    if cta.status == "open":
        await change_cta(cta_id, "acknowledge", actor=actor, source="web", now=at)
    return actor


async def close_demo_loops(now: datetime) -> tuple[int, list[dict[str, str]]]:
    """Close about CLOSED_SHARE of the answers' CTAs raised more than CLOSE_AFTER_DAYS ago
    that nobody else touched, each with an outcome at a working moment some days after it
    was raised, through the CTA actions; and the answers that some detractors' accounts gave
    after the close (import rows). Each CTA's fate has its own seed (its answer), so a
    second load, or a later day's, closes none twice and decides the same."""
    from feedback.ctas.actions import change_cta
    from feedback.ctas.models import Cta
    from feedback.db import json_object

    found = await Cta.select(
        Cta.id, Cta.type, Cta.trigger, Cta.created_at, Cta.account.external_id
    ).where(
        Cta.type.is_in(["risk", "advocacy"])
        & Cta.status.is_in(["open", "acknowledged"])
        & (Cta.created_at < now - timedelta(days=CLOSE_AFTER_DAYS))
    )
    for row in found:
        row["trigger"] = json_object(row["trigger"])
    found = [r for r in found if r["trigger"].get("kind") == "response"]
    untouched = await _demo_untouched([r["id"] for r in found])
    closed, answers = 0, []
    for row in sorted(found, key=lambda r: r["id"]):
        trigger = row["trigger"]
        key = f"{trigger.get('user')}:{trigger.get('answered_at')}"
        rng = random.Random(f"{SEED}:loop:{key}")
        changed = untouched.get(row["id"])
        # a CTA a later answer signalled is still being worked
        if changed is None or changed >= now - timedelta(days=CLOSE_AFTER_DAYS):
            continue
        if rng.random() >= CLOSED_SHARE:
            continue
        created = changed
        outcomes = RISK_OUTCOMES if row["type"] == "risk" else ADVOCACY_OUTCOMES
        outcome, _, note, again, better = rng.choices(outcomes, weights=[o[1] for o in outcomes])[0]
        seen = working_moment(created + timedelta(hours=rng.uniform(1, 30)), rng)
        done = working_moment(seen + timedelta(hours=rng.uniform(2, 80)), rng)
        if done >= now - timedelta(days=2):
            continue  # (never: a close is at most about five days after the last change)
        actor = await _pick_up(row["id"], key, seen)
        await change_cta(
            row["id"], "close", actor=actor, source="web", outcome=outcome, reason=note, now=done
        )
        closed += 1
        answered = done + timedelta(days=rng.uniform(1, 5), minutes=rng.randint(0, 600))
        answers_again, recovered = rng.random() < again, rng.random() < better
        if answers_again and answered < midnight(now.date()) and trigger.get("user"):
            score = rng.choice([7, 8, 8, 9, 10] if recovered else [3, 5, 6, 6])
            answers.append(
                {
                    "response_id": f"demo-{trigger['user']}-after-cta{row['id']}",
                    "account_id": row["account.external_id"],
                    "user_id": str(trigger["user"]),
                    "score": str(score),
                    "comment": rng.choice(FOLLOW_UP_COMMENTS if recovered else [""]),
                    "answered_at": answered.isoformat(),
                    "locale": "en",
                }
            )
    return closed, answers


async def claim_demo_pool_ctas(now: datetime) -> int:
    """The pool's specialists claimed (and acknowledged) the CTAs nobody owns, a while after
    each was raised, but the LEAVE_UNCLAIMED newest: those wait for a Claim."""
    from feedback.ctas.models import Cta

    rows = await Cta.select(Cta.id, Cta.created_at, Cta.account.external_id).where(
        Cta.pool.is_not_null() & Cta.owner.is_null() & (Cta.status == "open")
    )
    rows.sort(key=lambda r: (r["created_at"], r["id"]))
    waiting = rows[: max(0, len(rows) - LEAVE_UNCLAIMED)]
    untouched = await _demo_untouched([r["id"] for r in waiting])
    claimed = 0
    for row in waiting:
        if row["id"] not in untouched:
            continue
        key = f"{row['account.external_id']}:{row['id']}"
        rng = random.Random(f"{SEED}:pick-up:{key}")
        created = row["created_at"].astimezone(UTC)
        at = min(now, working_moment(created + timedelta(minutes=rng.randint(20, 200)), rng))
        await _pick_up(row["id"], key, at)
        claimed += 1
    return claimed


async def load_demo_work(now: datetime, importer: Importer) -> str:
    """What the team did so far: older answers' CTAs closed with outcomes (and the answers
    that came after some), the pool's CTAs claimed but the newest few."""
    closed, answers = await close_demo_loops(now)
    if answers:
        header, source_rows = rows(answers)
        result = await importer.run("responses", header, source_rows)
        if not result.ok:
            raise RuntimeError(f"demo follow-up answers did not load: {result.errors[:3]}")
    claimed = await claim_demo_pool_ctas(now)
    followed = await follow_up_recent_detractors(now)
    return (
        f"the team's work: {closed} CTAs closed with an outcome, {len(answers)} answers "
        f"after a close, {claimed} pool CTAs claimed, {followed} recent detractors in the "
        "Poor NPS follow-up"
    )


async def follow_up_recent_detractors(now: datetime, days: int = 4) -> int:
    """The Poor NPS follow-up enrols the detractors of the last `days` as its trigger would
    have within minutes of each answer, and starts their wait then: the notes of those who
    answered more than a day ago are due, so the first worker run queues them."""
    from feedback.programs.models import Program
    from feedback.programs.runner import run_participant
    from feedback.programs.triggers import Enrolment, enrol
    from feedback.responses.models import Response

    program = (
        await Program.select(Program.id)
        .where(
            (Program.slug == "poor_nps") & (Program.enabled == True)  # noqa: E712
        )
        .first()
    )
    if program is None:
        return 0
    answers = await Response.select(
        Response.id, Response.account, Response.end_user, Response.answered_at
    ).where(
        (Response.score <= 6)
        & Response.end_user.is_not_null()
        & (Response.answered_at >= now - timedelta(days=days))
        & (Response.answered_at < now)
    )
    enrolled = 0
    for answer in sorted(answers, key=lambda a: a["id"]):
        at = answer["answered_at"].astimezone(UTC) + timedelta(minutes=5)
        enrolment = Enrolment(
            account_id=answer["account"],
            end_user_id=answer["end_user"],
            trigger_key=f"response:{answer['id']}",
            response_id=answer["id"],
        )
        participant = await enrol(program["id"], enrolment, at)
        if participant is not None:
            await run_participant(participant, at)
            enrolled += 1
    return enrolled
