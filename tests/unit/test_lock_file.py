"""requirements.lock pins every package pyproject.toml asks for, at a version its bounds
allow, and every place that installs the project installs with it."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]


def locked() -> dict[str, str]:
    pins: dict[str, str] = {}
    for line in (ROOT / "requirements.lock").read_text(encoding="utf-8").splitlines():
        found = re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)", line)
        if found:
            pins[canonicalize_name(found.group(1))] = found.group(2)
    return pins


def requirements() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    texts = [*project["dependencies"], *project["optional-dependencies"]["test"]]
    return [Requirement(text) for text in texts]


def test_every_dependency_is_pinned_within_its_bounds() -> None:
    pins = locked()
    for requirement in requirements():
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{requirement.name} is not in requirements.lock: regenerate it"
        assert requirement.specifier.contains(pins[name], prereleases=True), (
            f"requirements.lock pins {name}=={pins[name]}, outside {requirement.specifier}"
        )


def test_every_install_uses_the_lock() -> None:
    for path in ("scripts/test", "scripts/start", "Dockerfile"):
        text = (ROOT / path).read_text(encoding="utf-8")
        installs = [line for line in text.splitlines() if re.search(r"\bpip install\b", line)]
        assert installs, f"{path} installs nothing"
        for line in installs:
            assert "-c requirements.lock" in line, f"{path} installs without the lock: {line}"
