"""CallRail: recordings (SSRF-guarded) and, later, the calls API."""
