"""One sub-package per technology; each implements one or more ports."""
