"""In-product NPS and feedback service."""

import os

# Piccolo finds its configuration through this variable; ours lives inside the package so the
# CLI and the tests work from any directory.
os.environ.setdefault("PICCOLO_CONF", "feedback.piccolo_conf")

__version__ = "0.1.0"
