"""What `serve` checks before it starts: a configuration that would silently do less than the
operator asked is refused in one line, and one that is merely unusual is warned about.

Refused: on Cloud Run (K_SERVICE set), the embedded stores, whose data dies with the instance,
unless PIPELINE_ALLOW_EPHEMERAL=true; the Pub/Sub push endpoint without PIPELINE_PUSH_AUDIENCE,
which would run any request as a job (the Pub/Sub emulator, which sends no token, excepted)."""

from __future__ import annotations

from collections.abc import Mapping

from entrypoints.config import SEED_SERVICE_TYPES, Settings, unread_settings

# The deployment guide's environment names this product does not read, and what to set instead.
_SEED_NAMES_NOT_READ = {
    "REGION": "PIPELINE_SPEECH_LOCATION and PIPELINE_VERTEX_LOCATION",
    "ENVIRONMENT": "nothing: the settings themselves say what differs between environments",
    "SECRET_VERSION": "a full reference, projects/P/secrets/S/versions/V, in the tenant's *_ref"
    " (a bare name reads the latest version)",
}


def refusal(settings: Settings, env: Mapping[str, str]) -> str | None:
    """One line saying why `serve` must not start, or None."""
    cloud_run = env.get("K_SERVICE", "").strip()
    if cloud_run and not settings.allow_ephemeral:
        ephemeral = [f"{name} is {scheme}" for name, scheme in _ephemeral(settings).items()]
        if ephemeral:
            return (
                f"on Cloud Run (K_SERVICE={cloud_run}) {', '.join(ephemeral)}: what is kept on"
                " an instance's disk is lost when it stops or scales in; use spanner://, gs://"
                " and pubsub://, or set PIPELINE_ALLOW_EPHEMERAL=true for a throwaway service"
            )
    if _serves_push(settings) and not settings.cloud.push_audience and not _push_emulated(env):
        return (
            "PIPELINE_PUSH_AUDIENCE is not set: /v1/pubsub/push would process any request as a"
            " job, unverified; set it to the push subscription's OIDC audience (the URL it"
            " pushes to) and PIPELINE_PUSH_SERVICE_ACCOUNT to its service account"
        )
    return None


def warnings(settings: Settings, env: Mapping[str, str]) -> list[str]:
    """Lines worth an operator's attention at start: names read as aliases or not read at all."""
    lines = []
    seed_type = env.get("SERVICE_TYPE", "").strip().lower()
    if seed_type and env.get("PIPELINE_SERVICE_TYPE", "").strip():
        lines.append(
            f"SERVICE_TYPE={seed_type} is not read: PIPELINE_SERVICE_TYPE"
            f"={settings.service_type} is set"
        )
    elif seed_type:
        lines.append(
            f"SERVICE_TYPE={seed_type} read as PIPELINE_SERVICE_TYPE"
            f"={SEED_SERVICE_TYPES[seed_type]}; set PIPELINE_SERVICE_TYPE instead"
        )
    if env.get("PROJECT_ID", "").strip():
        if env.get("PIPELINE_GCP_PROJECT", "").strip():
            lines.append("PROJECT_ID is not read: PIPELINE_GCP_PROJECT is set")
        else:
            lines.append(
                "PROJECT_ID read as PIPELINE_GCP_PROJECT; set PIPELINE_GCP_PROJECT instead"
            )
    for name, instead in _SEED_NAMES_NOT_READ.items():
        if env.get(name, "").strip():
            lines.append(f"{name} is not read; set {instead}")
    for name in unread_settings(env):
        lines.append(
            f"{name} is set but not read with this configuration: a misspelt name, or a"
            " setting of an adapter not chosen"
        )
    cloud_run = env.get("K_SERVICE", "").strip()
    if cloud_run and settings.allow_ephemeral and _ephemeral(settings):
        lines.append(
            f"PIPELINE_ALLOW_EPHEMERAL=true on Cloud Run: {', '.join(_ephemeral(settings))}"
            " keep their data on this instance, lost when it stops"
        )
    if _serves_push(settings) and not settings.cloud.push_audience and _push_emulated(env):
        lines.append("push tokens are not verified: the Pub/Sub emulator sends none")
    return lines


def _ephemeral(settings: Settings) -> dict[str, str]:
    """The settings whose stores live on this machine's disk, and their schemes."""
    found = {}
    if settings.database.backend == "sqlite":
        found["PIPELINE_DATABASE_URL"] = "sqlite://"
    if settings.audio.backend == "file":
        found["PIPELINE_AUDIO_STORE_URL"] = "file://"
    if settings.queue.backend == "local":
        found["PIPELINE_QUEUE_URL"] = "local://"
    return found


def _serves_push(settings: Settings) -> bool:
    return settings.queue.backend == "pubsub" and settings.service_type in ("all", "worker")


def _push_emulated(env: Mapping[str, str]) -> bool:
    return bool(env.get("PUBSUB_EMULATOR_HOST", "").strip())
