"""Demo data: a small SaaS customer book with a year of NPS answers and some churn.

Generated from a fixed seed and anchored on the start of the current quarter, then loaded
through the same importer a real CRM sync uses, so loading it twice changes nothing.
"""

from __future__ import annotations

import math
import os
import random
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta

from feedback.auth.models import StaffUser
from feedback.auth.services import create_staff_user, csm_id_for_email
from feedback.imports.parsing import SourceRow
from feedback.imports.services import Importer, ImportResult
from feedback.kernel.nps import category
from feedback.kernel.principal import Role
from feedback.surveys.keys import DEMO_WIDGET_KEY

SEED = 20261122
ACCOUNTS = 150
DEFAULT_DEMO_PASSWORD = "demo-password-123"  # noqa: S105 - printed, demo only

CSMS = [
    # email, name, manager
    ("dana.vp@example.com", "Dana Okafor (VP Customer Success)", ""),
    ("maria.lead@example.com", "Maria Rossi (team lead)", "dana.vp@example.com"),
    ("kenji.lead@example.com", "Kenji Watanabe (team lead)", "dana.vp@example.com"),
    ("alex@example.com", "Alex Kim", "maria.lead@example.com"),
    ("sam@example.com", "Sam Patel", "maria.lead@example.com"),
    ("jo@example.com", "Jo Müller", "maria.lead@example.com"),
    ("yuki@example.com", "Yuki Tanaka", "kenji.lead@example.com"),
    ("lee@example.com", "Lee Chen", "kenji.lead@example.com"),
]
OWNERS = [c[0] for c in CSMS[3:]]
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
    ("csm@example.com", Role.csm, "alex@example.com"),
    ("analyst@example.com", Role.analyst, None),
]


def quarter_start(today: date) -> date:
    return date(today.year, 3 * ((today.month - 1) // 3) + 1, 1)


def pick(rng: random.Random, weighted: list[tuple[str, float]]) -> str:
    return rng.choices([v for v, _ in weighted], weights=[w for _, w in weighted])[0]


def rows(values: Iterable[dict[str, str]]) -> tuple[list[str], list[SourceRow]]:
    out = [SourceRow(line, v) for line, v in enumerate(values, start=2)]
    header: list[str] = []
    for row in out:
        header.extend(k for k in row.values if k not in header)
    return header, out


def generate(today: date) -> dict[str, tuple[list[str], list[SourceRow]]]:
    rng = random.Random(SEED)
    anchor = datetime.combine(quarter_start(today), datetime.min.time(), tzinfo=UTC)
    accounts, users, responses, churn = [], [], [], []
    for n in range(1, ACCOUNTS + 1):
        plan = pick(rng, PLANS)
        health = rng.gauss({"free": -0.3, "paid": 0.1, "premium": 0.4}[plan], 1.0)
        employees = int(math.exp(rng.uniform(math.log(5), math.log(5000))))
        arr = {
            "free": 0,
            "paid": rng.randint(5, 40) * 1000,
            "premium": rng.randint(40, 250) * 1000,
        }[plan]
        account_id = f"acct-{n:04d}"
        accounts.append(
            {
                "external_id": account_id,
                "name": f"{rng.choice(NAMES)} {rng.choice(SUFFIXES)}",
                "plan": plan,
                "industry": rng.choice(INDUSTRIES),
                "employee_count": str(employees),
                "arr": str(arr),
                "csm_email": OWNERS[n % len(OWNERS)],
                "renewal_date": (anchor.date() + timedelta(days=rng.randint(5, 360))).isoformat(),
                "created_at": (anchor - timedelta(days=rng.randint(400, 1500))).isoformat(),
                "region": rng.choice(["EMEA", "AMER", "APAC"]),
            }
        )
        for u in range(1, rng.randint(3, 12) + 1):
            user_id = f"{account_id}-u{u:02d}"
            role = pick(rng, ROLES)
            locale = "ja" if rng.random() < 0.15 else "en"
            users.append(
                {
                    "external_id": user_id,
                    "account_id": account_id,
                    "role": role,
                    "email": f"user{u}@{account_id}.example.com",
                    "locale": locale,
                    "first_seen_at": (anchor - timedelta(days=400)).isoformat(),
                }
            )
            for quarter in range(4, 0, -1):
                if rng.random() > 0.4:
                    continue
                lean = {"admin": 0.3, "recruiter": 0.1, "read-only": -0.2, "candidate": -0.1}[role]
                score = max(0, min(10, round(7.6 + 1.6 * (health + lean) + rng.gauss(0, 1.4))))
                answered = anchor - timedelta(
                    days=91 * quarter - rng.randint(0, 90), minutes=rng.randint(0, 1439)
                )
                comment = rng.choice(COMMENTS[category(score)]) if rng.random() < 0.5 else ""
                responses.append(
                    {
                        "response_id": f"demo-{user_id}-q{quarter}",
                        "account_id": account_id,
                        "user_id": user_id,
                        "score": str(score),
                        "comment": comment,
                        "answered_at": answered.isoformat(),
                        "locale": locale,
                    }
                )
        if rng.random() < 1 / (1 + math.exp(2.0 + 1.6 * health)):
            noticed = anchor - timedelta(days=rng.randint(0, 200))
            churn.append(
                {
                    "account_id": account_id,
                    "event_id": f"demo-churn-{n:04d}",
                    "kind": rng.choice(["termination_notice", "non_renewal"]),
                    "noticed_at": noticed.isoformat(),
                    "effective_at": (
                        noticed + timedelta(days=rng.choice([30, 60, 90]))
                    ).isoformat(),
                    "reason": rng.choice(
                        ["budget cuts", "moved to a competitor", "product gaps", "company acquired"]
                    ),
                }
            )
    csms = [
        {
            "email": e,
            "name": name,
            "manager_email": m,
            "slack_user_id": f"U0DEMO{i:02d}",
            "slack_channel": "#cs-alerts",
        }
        for i, (e, name, m) in enumerate(CSMS)
    ]
    return {
        "csms": rows(csms),
        "accounts": rows(accounts),
        "users": rows(users),
        "responses": rows(responses),
        "churn": rows(churn),
    }


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


async def load_demo(today: date | None = None) -> list[str]:
    from feedback.settings import get_settings

    if get_settings().environment == "production":
        raise RuntimeError("demo data is not loaded when FEEDBACK_ENV=production")
    importer = Importer(actor="demo", source="cli")
    lines = []
    for kind, (header, source_rows) in generate(today or datetime.now(UTC).date()).items():
        result: ImportResult = await importer.run(kind, header, source_rows)
        if not result.ok:
            raise RuntimeError(f"demo {kind} did not load: {result.errors[:3]}")
        lines.append(
            f"{kind}: {result.created} created, {result.updated} updated, "
            f"{result.unchanged} unchanged"
        )
    lines.append(await load_demo_survey())
    lines.append(await load_demo_health(today or datetime.now(UTC).date()))
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
        lines.append("staff users: already present (admin@example.com, manager@, csm@, analyst@)")
    return lines


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
        name="Quarterly NPS", product_name="Acme HR", promoter_link_url="https://www.g2.com/"
    )
    await survey.save()
    await Schedule(
        survey=survey.id, name="Every quarter", first_survey_after_days=0, delay_seconds=1
    ).save()
    await WidgetKey(
        key=DEMO_WIDGET_KEY, name="Demo host page", environment="development", allowed_origins=["*"]
    ).save()
    return "demo survey created: open /demo/host to see the widget"
