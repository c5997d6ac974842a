"""Speech-to-Text v2 BatchRecognize Transcriber."""
