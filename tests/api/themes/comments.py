"""Small comment sets written for these tests: three English topics and two Japanese ones,
each comment a few words that people would write, varied so no two are the same."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence

BILLING = [
    "The invoice was wrong again this month",
    "Billing charged us twice, please fix the invoice",
    "Invoice totals do not match what billing says",
    "We got an invoice for seats we removed, billing is confusing",
    "Billing page shows the wrong invoice amount",
    "Please send the invoice earlier, billing is always late",
    "The invoice PDF is missing our tax number, billing support was slow to answer",
    "Billing overcharged us and the invoice had no details",
    "Our invoice keeps the old billing address",
    "Invoice and billing emails go to the wrong person",
    "Billing should let us download every invoice at once",
    "Another wrong invoice, billing needs to improve",
]
SPEED = [
    "The dashboard is very slow to load",
    "Reports load slowly, the app feels slow every morning",
    "Search is slow and the page load takes seconds",
    "Everything is slow since the last update, loading takes forever",
    "Slow load times on the dashboard make it hard to use",
    "The app is painfully slow when we load big reports",
    "Loading the dashboard is slow on our office network",
    "Pages load slowly and the spinner never stops",
    "Slow performance, the dashboard load time is awful",
    "Exports are slow and the screen freezes while loading",
    "It is so slow to load the reports page",
    "Speed is the problem, everything loads slowly",
]
LOGIN = [
    "I cannot log in with my password",
    "Password reset email never arrives so I cannot login",
    "Login fails after I change my password",
    "Single sign on login is broken, password prompt loops",
    "The password rules are annoying and login times out",
    "Login page rejects my correct password",
    "Forgot password link is broken, cannot log into the account",
    "Two factor login codes arrive late, password alone would be easier",
    "Login keeps asking for my password every day",
    "Our team cannot login since the password policy changed",
    "Password expired and the login screen gave no help",
    "Login with Google fails, then it asks for a password",
]
JA_BILLING = [
    "請求書の金額が間違っています",
    "今月も請求書が二重に届きました",
    "請求書の送付が遅いので困っています",
    "請求金額が契約と合いません",
    "請求書の宛名が古いままです",
    "請求の内訳が分かりにくいです",
    "請求書をまとめてダウンロードしたいです",
    "請求書に税番号がありません",
    "請求額が急に増えました",
    "請求書の再発行に時間がかかります",
    "請求の処理が遅くて困ります",
    "請求書の形式を変えてほしいです",
]
JA_SPEED = [
    "画面の表示がとても遅いです",
    "レポートの読み込みが遅いです",
    "検索が遅くて仕事になりません",
    "更新後から動作が遅くなりました",
    "ダッシュボードの表示が遅いです",
    "読み込みに時間がかかりすぎます",
    "朝は特に動作が遅いです",
    "画面の切り替えが遅いです",
    "エクスポートが遅くて固まります",
    "全体的に表示速度が遅いです",
    "レポート画面の読み込みが重いです",
    "アプリの動作が重くて遅いです",
]


def responses_csv(groups: Sequence[tuple[Sequence[str], Sequence[int]]], start: int = 1) -> str:
    """Import rows for the `responses` kind: each group's comments with its scores (cycled),
    answered on days of January to June 2025 across the book's accounts and users."""
    users = [("a1", "u1"), ("a1", "u2"), ("a2", "u3"), ("b1", "u4")]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["response_id", "account_id", "user_id", "score", "comment", "answered_at"])
    n = start
    for comments, scores in groups:
        for i, comment in enumerate(comments):
            account, user = users[n % len(users)]
            month = 1 + n % 6
            day = 1 + n % 27
            answered = f"2025-{month:02d}-{day:02d}T10:{n % 60:02d}:00Z"
            writer.writerow([f"r{n}", account, user, scores[i % len(scores)], comment, answered])
            n += 1
    return out.getvalue()
