"""Audio decoded and encoded in process with PyAV (FFmpeg's libraries, no ffmpeg binary)."""
