"""/api/v1/themes: roles, curation through the API, and the answers' field names."""

from __future__ import annotations

from typing import Any

import pytest

from feedback.kernel.principal import Role
from feedback.themes.build import build_themes
from feedback.themes.members import all_themes
from tests.support.factories import bearer, token


@pytest.fixture
async def built(comments: None) -> None:
    await build_themes()


@pytest.fixture
async def admin() -> dict[str, str]:
    return bearer(await token(Role.admin))


def theme_with(themes: list[dict[str, Any]], word: str) -> dict[str, Any]:
    """The largest theme with the word among its keyphrases' words."""
    named = [t for t in themes if word in " ".join(t["keyphrases"]).split()]
    assert named, themes
    return max(named, key=lambda t: t["answers"])


async def test_every_role_lists_the_themes_with_their_answers(client: Any, built: None) -> None:
    analyst = bearer(await token(Role.analyst))
    answer = await client.get("/api/v1/themes", headers=analyst)
    assert answer.status_code == 200, answer.text
    themes = answer.json()["themes"]
    assert {t["language"] for t in themes} == {"en", "ja"}
    assert all(t["answers"] > 0 and t["source"] == "learned" for t in themes)
    billing = theme_with(themes, "invoice")
    one = await client.get(f"/api/v1/themes/{billing['id']}", headers=analyst)
    assert one.json()["answers"] == billing["answers"]


async def test_a_csm_counts_only_their_own_accounts_answers(client: Any, built: None) -> None:
    analyst = bearer(await token(Role.analyst))
    bob = bearer(await token(Role.csm, "bob@example.com"))
    every = {
        t["id"]: t["answers"]
        for t in (await client.get("/api/v1/themes", headers=analyst)).json()["themes"]
    }
    own = {
        t["id"]: t["answers"]
        for t in (await client.get("/api/v1/themes", headers=bob)).json()["themes"]
    }
    assert sum(own.values()) < sum(every.values())
    assert all(own[i] <= every[i] for i in every)


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("PATCH", "/api/v1/themes/1", {"label": "x"}),
        ("POST", "/api/v1/themes/merge", {"into": 1, "themes": [2]}),
        ("POST", "/api/v1/themes/1/split", None),
        ("POST", "/api/v1/themes/keyword", {"label": "x", "keywords": ["x"]}),
        ("DELETE", "/api/v1/themes/1", None),
        ("POST", "/api/v1/themes/build", None),
    ],
)
async def test_only_an_admin_curates(
    client: Any, built: None, method: str, path: str, body: Any
) -> None:
    for role in (Role.analyst, Role.manager):
        answer = await client.request(method, path, json=body, headers=bearer(await token(role)))
        assert answer.status_code == 403, answer.text
    anonymous = await client.request(method, path, json=body)
    assert anonymous.status_code == 401


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/api/v1/themes/keyword", {"label": "Billing"}, "keywords"),
        ("/api/v1/themes/keyword", {"label": "", "keywords": ["invoice"]}, "label"),
        ("/api/v1/themes/keyword", {"label": "B", "keywords": ["ok", ""]}, "keywords[1]"),
        ("/api/v1/themes/keyword", {"label": "B", "keywords": ["a"], "language": "fr"}, "language"),
        ("/api/v1/themes/merge", {"into": "one", "themes": [2]}, "into"),
        ("/api/v1/themes/merge", {"into": 1, "themes": [1]}, "themes"),
        ("/api/v1/themes/merge", {"into": 1, "themes": [True]}, "themes[0]"),
    ],
)
async def test_bad_bodies_are_422_naming_the_field(
    client: Any, built: None, admin: dict[str, str], path: str, body: Any, field: str
) -> None:
    answer = await client.post(path, json=body, headers=admin)
    assert answer.status_code == 422, answer.text
    assert [d["field"] for d in answer.json()["detail"]] == [field]


async def test_a_bad_patch_is_422_naming_the_field(
    client: Any, built: None, admin: dict[str, str]
) -> None:
    theme = (await all_themes())[0]
    for body, field in (({"pinned": "yes"}, "pinned"), ({"colour": "red"}, "colour")):
        answer = await client.patch(f"/api/v1/themes/{theme.id}", json=body, headers=admin)
        assert answer.status_code == 422, answer.text
        assert answer.json()["detail"][0]["field"] == field
    missing = await client.patch("/api/v1/themes/999999", json={"pinned": True}, headers=admin)
    assert missing.status_code == 404


async def test_merging_moves_the_answers_and_survives_a_rebuild(
    client: Any, built: None, admin: dict[str, str]
) -> None:
    themes = (await client.get("/api/v1/themes?language=en", headers=admin)).json()["themes"]
    billing, speed = theme_with(themes, "invoice"), theme_with(themes, "slow")
    merged = await client.post(
        "/api/v1/themes/merge", json={"into": billing["id"], "themes": [speed["id"]]}, headers=admin
    )
    assert merged.status_code == 200, merged.text
    together = merged.json()["answers"]
    assert max(billing["answers"], speed["answers"]) < together
    assert together <= billing["answers"] + speed["answers"]
    rebuilt = await client.post("/api/v1/themes/build?language=en", headers=admin)
    assert rebuilt.status_code == 200, rebuilt.text
    after = {
        t["id"]: t
        for t in (await client.get("/api/v1/themes?status=all", headers=admin)).json()["themes"]
    }
    assert after[speed["id"]]["status"] == "merged"
    assert after[speed["id"]]["merged_into"] == billing["id"]
    assert after[billing["id"]]["answers"] == together


async def test_a_keyword_theme_wins_its_answers_from_the_learned_theme(
    client: Any, built: None, admin: dict[str, str]
) -> None:
    themes = (await client.get("/api/v1/themes?language=en", headers=admin)).json()["themes"]
    login = theme_with(themes, "password")
    made = await client.post(
        "/api/v1/themes/keyword",
        json={"label": "Passwords", "keywords": ["passwords"]},
        headers=admin,
    )
    assert made.status_code == 201, made.text
    keyword = made.json()
    assert (keyword["source"], keyword["language"]) == ("keyword", "en")
    # every comment with the word "password" (plural or not) is under the hand-made theme
    assert keyword["answers"] == 12
    after = {
        t["id"]: t for t in (await client.get("/api/v1/themes", headers=admin)).json()["themes"]
    }
    assert after[login["id"]]["answers"] < login["answers"]
    # and stays so after a rebuild
    await client.post("/api/v1/themes/build", headers=admin)
    again = {
        t["id"]: t for t in (await client.get("/api/v1/themes", headers=admin)).json()["themes"]
    }
    assert again[keyword["id"]]["answers"] == 12
    assert again[login["id"]]["answers"] == after[login["id"]]["answers"]
    deleted = await client.delete(f"/api/v1/themes/{keyword['id']}", headers=admin)
    assert deleted.status_code == 204
    learned = await client.delete(f"/api/v1/themes/{login['id']}", headers=admin)
    assert learned.status_code == 422
    assert learned.json()["detail"][0]["field"] == "theme"


async def test_splitting_replaces_a_theme_with_two_pinned_ones(
    client: Any, built: None, admin: dict[str, str]
) -> None:
    themes = (await client.get("/api/v1/themes?language=en", headers=admin)).json()["themes"]
    billing, login = theme_with(themes, "invoice"), theme_with(themes, "password")
    others = [t["id"] for t in themes if t["id"] not in (billing["id"], login["id"])]
    # one theme of every billing and speed comment, which the split takes apart again
    await client.post(
        "/api/v1/themes/merge", json={"into": billing["id"], "themes": others}, headers=admin
    )
    split = await client.post(f"/api/v1/themes/{billing['id']}/split", headers=admin)
    assert split.status_code == 200, split.text
    parts = split.json()["themes"]
    assert len(parts) == 2 and all(p["pinned"] for p in parts)
    words = [set(" ".join(p["keyphrases"]).split()) for p in parts]
    assert any("invoice" in w or "billing" in w for w in words)
    assert any("slow" in w or "load" in w for w in words)
    gone = await client.get(f"/api/v1/themes/{billing['id']}", headers=admin)
    assert gone.json()["status"] == "retired"
    await client.post("/api/v1/themes/build?language=en", headers=admin)
    after = {
        t["id"]: t for t in (await client.get("/api/v1/themes", headers=admin)).json()["themes"]
    }
    assert all(after[p["id"]]["status"] == "active" for p in parts)


async def test_a_theme_too_small_to_split_is_422(
    client: Any, built: None, admin: dict[str, str]
) -> None:
    made = await client.post(
        "/api/v1/themes/keyword", json={"label": "Tax", "keywords": ["tax"]}, headers=admin
    )
    learned = next(t for t in await all_themes() if t.source == "learned")
    await client.post(
        "/api/v1/themes/merge",
        json={"into": made.json()["id"], "themes": [learned.id]},
        headers=admin,
    )
    keyword_split = await client.post(f"/api/v1/themes/{made.json()['id']}/split", headers=admin)
    assert keyword_split.status_code == 422
    assert keyword_split.json()["detail"][0]["field"] == "theme"
