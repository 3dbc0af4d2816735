"""The small shared kernel every domain may use: clock, domain errors, the principal and
its scope, the cached application settings. It imports nothing of the domains, the web
layer or the bot."""
