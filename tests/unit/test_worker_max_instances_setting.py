"""PIPELINE_WORKER_MAX_INSTANCES: how many shares each tenant's CRM budget is cut into."""

from __future__ import annotations

import pytest

from entrypoints.config import ConfigError, load_settings, unread_settings


def test_one_instance_unless_told() -> None:
    assert load_settings({}).worker_max_instances == 1
    assert load_settings({"PIPELINE_WORKER_MAX_INSTANCES": "10"}).worker_max_instances == 10


@pytest.mark.parametrize("value", ["0", "2.5", "many", "1001"])
def test_anything_but_a_whole_number_of_instances_is_refused(value: str) -> None:
    with pytest.raises(ConfigError, match="PIPELINE_WORKER_MAX_INSTANCES"):
        load_settings({"PIPELINE_WORKER_MAX_INSTANCES": value})


def test_the_setting_is_read_in_every_shape() -> None:
    assert unread_settings({"PIPELINE_WORKER_MAX_INSTANCES": "3"}) == []
