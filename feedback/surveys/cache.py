"""Moved to `feedback.kernel.cache`; kept only until every import names the kernel."""

from feedback.kernel.cache import (
    CONFIG_TTL_SECONDS,
    TTLCache,
    forget_configuration,
    remember_to_forget,
)

__all__ = ["CONFIG_TTL_SECONDS", "TTLCache", "forget_configuration", "remember_to_forget"]
