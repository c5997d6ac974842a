"""Speech-to-Text v2 BatchRecognize Transcriber."""

from adapters.googlespeech.transcriber import GoogleSpeechTranscriber

__all__ = ["GoogleSpeechTranscriber"]
