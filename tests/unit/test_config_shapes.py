"""Settings that cannot work together are refused at start, in one line."""

from __future__ import annotations

import pytest

from entrypoints.config import ConfigError, load_settings

SPANNER = "spanner://projects/my-project/instances/main/databases/pipeline"


def test_the_local_queue_needs_the_sqlite_database() -> None:
    with pytest.raises(ConfigError, match="local:// keeps its jobs in the SQLite database"):
        load_settings({"PIPELINE_DATABASE_URL": SPANNER})


def test_spanner_with_pubsub_and_sqlite_with_the_local_queue_are_accepted() -> None:
    cloud = load_settings(
        {
            "PIPELINE_DATABASE_URL": SPANNER,
            "PIPELINE_QUEUE_URL": "pubsub://projects/my-project/topics/calls",
        }
    )
    assert (cloud.database.backend, cloud.queue.backend) == ("spanner", "pubsub")
    embedded = load_settings({})
    assert (embedded.database.backend, embedded.queue.backend) == ("sqlite", "local")


def test_speech_hears_each_channel_only_when_asked_and_a_bad_value_is_one_line() -> None:
    assert load_settings({}).cloud.speech_separate_channels is True
    off = load_settings({"PIPELINE_SPEECH_SEPARATE_CHANNELS": "false"})
    assert off.cloud.speech_separate_channels is False
    with pytest.raises(ConfigError, match="PIPELINE_SPEECH_SEPARATE_CHANNELS"):
        load_settings({"PIPELINE_SPEECH_SEPARATE_CHANNELS": "sometimes"})
