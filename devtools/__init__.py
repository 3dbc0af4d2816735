"""Development and test tools that are not part of the installed service (stand-ins for
outside services)."""
