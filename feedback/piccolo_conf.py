"""Piccolo's configuration: the engine comes from FEEDBACK_DATABASE_URL."""

from piccolo.conf.apps import AppRegistry

from feedback.db import engine_for
from feedback.settings import get_settings

DB = engine_for(get_settings().database)

APP_REGISTRY = AppRegistry(apps=["feedback.piccolo_app"])
