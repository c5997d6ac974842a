# syntax=docker/dockerfile:1
# The embedded shape by default; build with --build-arg EXTRAS=gcp for the Google Cloud adapters.
ARG PYTHON_VERSION=3.11

FROM python:${PYTHON_VERSION}-slim AS build
ARG EXTRAS=""
WORKDIR /src
COPY pyproject.toml README.md ./
COPY domain ./domain
COPY ports ./ports
COPY adapters ./adapters
COPY entrypoints ./entrypoints
COPY sql ./sql
RUN python -m venv /opt/venv \
 && /opt/venv/bin/pip install --no-cache-dir --upgrade pip \
 && /opt/venv/bin/pip install --no-cache-dir ".${EXTRAS:+[$EXTRAS]}"

FROM python:${PYTHON_VERSION}-slim
RUN useradd --create-home --uid 10001 pipeline
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PORT=8080
WORKDIR /home/pipeline
USER pipeline
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=3s CMD python -c "import os, urllib.request; urllib.request.urlopen(f'http://127.0.0.1:{os.environ[\"PORT\"]}/health/live', timeout=2)"
CMD ["ingestion-pipeline", "serve"]
