"""Offline speech with faster-whisper and the bundled tiny.en model."""
