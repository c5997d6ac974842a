"""In-memory adapters: fast fakes for unit tests, behaving as the real ones do."""
