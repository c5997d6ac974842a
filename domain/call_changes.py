"""What a CallRail Call Modified body means for a call already stored (domain/webhook.py cites
CallRail's documentation of the body).

CallRail's post-call webhook gives up waiting for the recording after 20 minutes; the recording,
its transcription, a spam marking, tags, a note or a value arrive later as Call Modified. The
body is the whole call object again, so what changed is read by comparing it with the stored
call, not only from its `changes` list:

- the same body again: nothing (a duplicate);
- a recording for a call that has none stored: the call is run again from the recording;
- the spam marking set or cleared: the call is scored again (spam scores 0, tier spam);
- anything else (tags, note, value, a name): the stored call is updated, nothing is re-run.

A re-run keeps the call's CRM sync record and alert records: the CRM activity is found by its
key and updated, and a destination already sent to is not sent to again.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import attrs

from domain.call import Call, CallMetadata, IncomingCall
from domain.stages import PIPELINE, RESTARTABLE, Stage


class Change(StrEnum):
    NONE = "none"  # an identical repeat
    METADATA = "metadata"  # stored; nothing re-run
    SPAM = "spam"  # scored again
    RECORDING = "recording"  # run again from the recording

    @property
    def reruns(self) -> bool:
        """Whether the call runs again (from the stage _REDO names)."""
        return self in _REDO


_REDO = {Change.RECORDING: Stage.RECORDING_STORED, Change.SPAM: Stage.SCORED}


def plan_change(call: Call, incoming: IncomingCall) -> Change:
    """The one change a modified body makes to the stored call (the largest that applies)."""
    if (
        incoming.raw == call.raw_payload
        and (incoming.recording_url or call.recording_url) == call.recording_url
        and merged_metadata(call.metadata, incoming.metadata) == call.metadata
    ):
        return Change.NONE
    if _adds_recording(call, incoming):
        return Change.RECORDING
    if incoming.metadata.marked_spam != call.metadata.marked_spam:
        return Change.SPAM
    return Change.METADATA


def _adds_recording(call: Call, incoming: IncomingCall) -> bool:
    """A recording URL for a call that stored none: scored without one, failed fetching one, or
    still on its way to the recording stage with another link (or none)."""
    if incoming.recording_url is None or call.recording is not None:
        return False
    if call.stage is Stage.RECEIVED:
        return incoming.recording_url != call.recording_url
    return True


def apply_change(call: Call, incoming: IncomingCall, change: Change, at: datetime) -> bool:
    """Writes the modified body into the call, and puts it back to the stage the change needs
    done again; True when the call had finished and needs a new job to run."""
    call.metadata = merged_metadata(call.metadata, incoming.metadata)
    call.raw_payload = incoming.raw
    if incoming.recording_url is not None:
        call.recording_url = incoming.recording_url
    first = _REDO.get(change)
    if first is None:
        return False
    failure = call.failure
    if call.stage is Stage.FAILED and failure is not None and failure.stage in RESTARTABLE:
        # A call that failed before that stage is run again from where it failed.
        first = min(first, failure.stage, key=PIPELINE.index)
    return call.redo_from(first, at, f"call modified in CallRail: {change.value}")


def merged_metadata(stored: CallMetadata, modified: CallMetadata) -> CallMetadata:
    """The modified body's metadata, keeping a stored value where the body has none (a caller
    id dropped as malformed, say)."""
    kept = {
        field.name: getattr(stored, field.name)
        for field in attrs.fields(CallMetadata)
        if getattr(modified, field.name) is None
    }
    return attrs.evolve(modified, **kept)
