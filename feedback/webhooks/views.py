"""The webhooks API: `/api/v1/webhooks` (admins register endpoints, read their delivery
logs, send a delivery again). See docs/webhooks.md."""

from __future__ import annotations

from litestar import Controller
from litestar.di import Provide

from feedback.auth.guards import provide_principal


class WebhookController(Controller):
    path = "/api/v1/webhooks"
    tags = ["webhooks"]
    dependencies = {"principal": Provide(provide_principal)}
