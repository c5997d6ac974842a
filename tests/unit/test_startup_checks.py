"""What `serve` refuses and warns about before it starts (entrypoints/startup.py), and the
deployment guide's environment names read as aliases."""

from __future__ import annotations

import pytest

from entrypoints.config import ConfigError, load_settings, unread_settings
from entrypoints.startup import refusal, warnings

GCP = {
    "PIPELINE_DATABASE_URL": "spanner://projects/p/instances/i/databases/d",
    "PIPELINE_AUDIO_STORE_URL": "gs://bucket/audio",
    "PIPELINE_QUEUE_URL": "pubsub://projects/project-1/topics/calls",
    "PIPELINE_PUSH_AUDIENCE": "https://ingestion-worker.example.run.app/v1/pubsub/push",
}


def refused(env: dict[str, str]) -> str | None:
    return refusal(load_settings(env), env)


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({}, ["sqlite://", "file://", "local://"]),
        ({"PIPELINE_AUDIO_STORE_URL": "gs://bucket/audio"}, ["sqlite://", "local://"]),
        ({**GCP, "PIPELINE_AUDIO_STORE_URL": "file://data/audio"}, ["file://"]),
    ],
)  # fmt: skip
def test_on_cloud_run_the_embedded_stores_are_refused_in_one_line(
    env: dict[str, str], named: list[str]
) -> None:
    why = refused({**env, "K_SERVICE": "ingestion-webhook"})
    assert why is not None
    assert "\n" not in why
    for word in ("sqlite://", "file://", "local://"):
        assert (word in why) == (word in named), word
    assert "PIPELINE_ALLOW_EPHEMERAL=true" in why
    assert "lost" in why


def test_allow_ephemeral_lets_them_start_and_off_cloud_run_they_are_the_default() -> None:
    allowed = {"K_SERVICE": "svc", "PIPELINE_ALLOW_EPHEMERAL": "true"}
    assert refused(allowed) is None
    said = warnings(load_settings(allowed), allowed)
    assert said == [
        "PIPELINE_ALLOW_EPHEMERAL=true on Cloud Run: PIPELINE_DATABASE_URL,"
        " PIPELINE_AUDIO_STORE_URL, PIPELINE_QUEUE_URL keep their data on this instance,"
        " lost when it stops"
    ]
    assert refused({}) is None
    assert refused({**GCP, "K_SERVICE": "svc"}) is None
    with pytest.raises(ConfigError, match="PIPELINE_ALLOW_EPHEMERAL"):
        load_settings({"PIPELINE_ALLOW_EPHEMERAL": "yes please"})


@pytest.mark.parametrize("service_type", ["all", "worker"])
def test_the_push_endpoint_without_an_audience_is_refused(service_type: str) -> None:
    env = {**GCP, "PIPELINE_PUSH_AUDIENCE": "", "PIPELINE_SERVICE_TYPE": service_type}
    why = refused(env)
    assert why is not None
    assert why.startswith("PIPELINE_PUSH_AUDIENCE is not set")


def test_an_instance_that_serves_no_push_needs_no_audience() -> None:
    for service_type in ("webhook", "api"):
        env = {**GCP, "PIPELINE_PUSH_AUDIENCE": "", "PIPELINE_SERVICE_TYPE": service_type}
        assert refused(env) is None


def test_the_pubsub_emulator_sends_no_token_so_it_is_a_warning_not_a_refusal() -> None:
    env = {**GCP, "PIPELINE_PUSH_AUDIENCE": "", "PUBSUB_EMULATOR_HOST": "127.0.0.1:8085"}
    assert refused(env) is None
    said = warnings(load_settings(env), env)
    assert "push tokens are not verified: the Pub/Sub emulator sends none" in said


@pytest.mark.parametrize(("seed", "ours"), [("webhook", "webhook"), ("audio", "worker")])
def test_the_seeds_service_type_is_read_as_an_alias_and_said(seed: str, ours: str) -> None:
    env = {"SERVICE_TYPE": seed}
    settings = load_settings(env)
    assert settings.service_type == ours
    assert f"SERVICE_TYPE={seed} read as PIPELINE_SERVICE_TYPE={ours}" in warnings(settings, env)[0]


def test_our_own_names_win_over_the_seeds_and_the_seed_name_is_said_unread() -> None:
    env = {
        "SERVICE_TYPE": "audio",
        "PIPELINE_SERVICE_TYPE": "api",
        "PROJECT_ID": "seed",
        "PIPELINE_GCP_PROJECT": "ours",
    }
    settings = load_settings(env)
    assert settings.service_type == "api"
    assert settings.cloud.project == "ours"
    said = warnings(settings, env)
    assert "SERVICE_TYPE=audio is not read: PIPELINE_SERVICE_TYPE=api is set" in said
    assert "PROJECT_ID is not read: PIPELINE_GCP_PROJECT is set" in said


def test_project_id_is_the_project_when_ours_is_not_set() -> None:
    assert load_settings({"PROJECT_ID": "seed-project"}).cloud.project == "seed-project"


def test_an_unknown_seed_service_type_is_refused_naming_both_settings() -> None:
    with pytest.raises(
        ConfigError, match=r"SERVICE_TYPE: 'audio-processor'.*PIPELINE_SERVICE_TYPE"
    ):
        load_settings({"SERVICE_TYPE": "audio-processor"})


def test_the_seeds_other_names_are_said_not_read_with_what_to_set() -> None:
    env = {"REGION": "us-central1", "SECRET_VERSION": "3", "ENVIRONMENT": "production"}
    said = " | ".join(warnings(load_settings(env), env))
    assert "REGION is not read; set PIPELINE_SPEECH_LOCATION and PIPELINE_VERTEX_LOCATION" in said
    assert "SECRET_VERSION is not read" in said
    assert "ENVIRONMENT is not read" in said


def test_unread_settings_are_misspelt_names_and_settings_of_adapters_not_chosen() -> None:
    env = {
        "PIPELINE_DATABSE_URL": "sqlite:///typo.db",
        "PIPELINE_ANALYZER_MODEL": "llama3.2",  # read only with PIPELINE_ANALYZER=openai
        "PIPELINE_LEASE_SECONDS": "30",
        "PIPELINE_SECRET_HUBSPOT": "a secret, the secret store's",
        "PIPELINE_LOG_LEVEL": "debug",
    }
    assert unread_settings(env) == ["PIPELINE_ANALYZER_MODEL", "PIPELINE_DATABSE_URL"]
    assert load_settings(env).log_level == "debug"
