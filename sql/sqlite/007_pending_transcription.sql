-- A transcription the engine answers later (Speech-to-Text dynamic batching): its ticket and
-- the recording it reads, as JSON. NULL for every other call.
ALTER TABLE calls ADD COLUMN pending_transcription TEXT;
