"""`feedback themes build|assign|list`, run in a child process against the database under test."""

from __future__ import annotations

import json
import re

from feedback.auth.models import AuditEntry
from feedback.kernel.principal import Principal, Role
from feedback.themes.curate import update_theme
from feedback.themes.members import all_themes
from feedback.themes.models import ThemeMember
from feedback.themes.reports import answers_per_theme
from tests.api.themes.comments import (
    BILLING,
    JA_BILLING,
    JA_SPEED,
    LOGIN,
    SPEED,
    responses_csv,
)
from tests.support.factories import book, import_csv
from tests.support.processes import feedback

COMMENTS = [
    (BILLING, [2, 3, 5]),
    (SPEED, [7, 8]),
    (LOGIN, [9, 10]),
    (JA_BILLING, [3]),
    (JA_SPEED, [8]),
]
ADMIN = Principal(role=Role.admin, actor="tests", source="tests")
BUILT = re.compile(
    r"^(en|ja): (\d+) comments, (\d+) themes \((\d+) kept, (\d+) new, (\d+) retired\) in [\d.]+ s$"
)


async def commented() -> None:
    await book()
    result = await import_csv("responses", responses_csv(COMMENTS))
    assert result.ok, result.errors


def builds(stdout: str) -> dict[str, tuple[int, ...]]:
    """Each language's line of `themes build`: comments, themes, kept, new, retired."""
    found = {}
    for line in stdout.splitlines():
        match = BUILT.match(line)
        assert match, line
        found[match[1]] = tuple(int(n) for n in match.groups()[1:])
    return found


async def test_themes_build_learns_both_languages_and_keeps_ids_when_run_again() -> None:
    await commented()
    first = feedback("themes", "build")
    assert first.returncode == 0, first.stderr
    made = builds(first.stdout)
    assert set(made) == {"en", "ja"}
    assert made["en"][0] == 36 and made["ja"][0] == 24
    themes = await all_themes()
    for language in ("en", "ja"):
        learned = [t for t in themes if t.language == language and t.status == "active"]
        assert len(learned) == made[language][1] >= 2
        assert made[language][2:] == (0, len(learned), 0)  # kept, new, retired: all new
    assert await ThemeMember.count() > 0, "the build themes the comments too"
    assert "themes.build" in [r["action"] for r in await AuditEntry.select(AuditEntry.action)]

    again = feedback("themes", "build", "--language", "ja")
    assert again.returncode == 0, again.stderr
    (ja,) = builds(again.stdout).items()
    assert ja[0] == "ja" and ja[1][2:] == (made["ja"][1], 0, 0)  # the same themes, same ids
    assert {t.id for t in await all_themes()} == {t.id for t in themes}


async def test_themes_assign_places_only_the_comments_not_themed_yet() -> None:
    await commented()
    assert feedback("themes", "build", "--language", "en").returncode == 0
    late = responses_csv([(["The invoice is wrong, billing please fix it"], [3])], start=900)
    assert (await import_csv("responses", late)).ok
    placed = feedback("themes", "assign")
    assert placed.returncode == 0, placed.stderr
    assert placed.stdout.strip() == "comments themed: 1"
    members = await ThemeMember.select(ThemeMember.theme).where(
        ThemeMember.response.idempotency_key == "import:r900"
    )
    billing = [t for t in await all_themes() if "invoice" in " ".join(t.keyphrases).split()]
    assert {m["theme"] for m in members} & {t.id for t in billing}
    assert feedback("themes", "assign").stdout.strip() == "comments themed: 0"


async def test_themes_list_prints_each_shown_theme_with_its_answers() -> None:
    await commented()
    assert feedback("themes", "build").returncode == 0
    themes = [t for t in await all_themes() if t.status == "active"]
    hidden = themes[0]
    await update_theme(hidden.id, {"hidden": True, "label": "Money <things>"})
    counts = await answers_per_theme(ADMIN)

    as_json = feedback("themes", "list", "--json")
    assert as_json.returncode == 0, as_json.stderr
    rows = [json.loads(line) for line in as_json.stdout.splitlines()]
    assert {r["id"] for r in rows} == {t.id for t in themes}
    assert all(r["answers"] == counts.get(r["id"], 0) for r in rows)
    answers = [r["answers"] for r in rows]
    assert answers == sorted(answers, reverse=True) and answers[0] > 0
    (renamed,) = [r for r in rows if r["id"] == hidden.id]
    assert (renamed["label"], renamed["status"]) == ("Money <things>", "hidden")
    assert {r["language"] for r in rows} == {"en", "ja"}

    as_text = feedback("themes", "list")
    assert as_text.returncode == 0, as_text.stderr
    lines = as_text.stdout.splitlines()
    assert len(lines) == len(rows)
    line = next(x for x in lines if x.startswith(f"{hidden.id}\t"))
    assert line.split("\t")[:4] == [
        str(hidden.id),
        hidden.language,
        str(counts.get(hidden.id, 0)),
        "Money <things>",
    ]
    assert line.endswith(" hidden")


def test_themes_build_refuses_an_unknown_language() -> None:
    result = feedback("themes", "build", "--language", "fr")
    assert result.returncode == 2
    assert "--language" in result.stderr and "'fr' is not one of" in result.stderr


async def test_themes_list_with_no_themes_prints_nothing() -> None:
    result = feedback("themes", "list")
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
