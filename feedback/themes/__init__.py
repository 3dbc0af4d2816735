"""Comment themes: learned and hand-made themes, their assignments and reports."""
