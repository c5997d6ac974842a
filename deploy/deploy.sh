#!/usr/bin/env bash
# Deploys the pipeline's Google Cloud shape, from nothing or over an earlier deployment:
#
#   APIs -> Artifact Registry -> service accounts -> KMS key -> audio bucket (CMEK, lifecycle)
#   -> Spanner instance and database -> Pub/Sub topics -> secrets -> project roles
#   -> image (Cloud Build) -> schema (`ingestion-pipeline migrate` as a Cloud Run job)
#   -> the worker, webhook and API services (deploy/cloudrun/*.yaml) -> push subscription
#
# Every setting below can be overridden from the environment, e.g.
#   PROJECT_ID=acme-calls REGION=europe-west1 deploy/deploy.sh
#   IMAGE=europe-west1-docker.pkg.dev/acme-calls/pipeline/ingestion-pipeline:3f2a9c1 deploy/deploy.sh
#   SKIP_BUILD=true TAG=3f2a9c1 deploy/deploy.sh        # redeploy an image already built
#   ONLY=services deploy/deploy.sh                       # just the image, schema and services
#
# It is safe to run again: each resource is described before it is created, IAM bindings are
# added (never replaced), and services are replaced with the same definitions. It needs gcloud,
# signed in as someone who may do all of the above (Owner, or the matching admin roles).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"

# --- settings --------------------------------------------------------------------------------
PROJECT_ID="${PROJECT_ID:-$(gcloud config get-value project 2>/dev/null || true)}"
REGION="${REGION:-us-central1}"
ONLY="${ONLY:-all}"                               # all | services

AR_REPOSITORY="${AR_REPOSITORY:-ingestion-pipeline}"
IMAGE_NAME="${IMAGE_NAME:-ingestion-pipeline}"
EXTRAS="${EXTRAS:-gcp}"                           # the cloud services need no local Whisper
BUNDLED_MODEL="${BUNDLED_MODEL:-false}"
SKIP_BUILD="${SKIP_BUILD:-false}"

SPANNER_INSTANCE="${SPANNER_INSTANCE:-ingestion}"
SPANNER_DATABASE="${SPANNER_DATABASE:-pipeline}"
SPANNER_CONFIG="${SPANNER_CONFIG:-regional-$REGION}"
SPANNER_PROCESSING_UNITS="${SPANNER_PROCESSING_UNITS:-100}"

BUCKET="${BUCKET:-${PROJECT_ID}-call-audio}"
AUDIO_PREFIX="${AUDIO_PREFIX:-recordings}"
AUDIO_RETENTION_DAYS="${AUDIO_RETENTION_DAYS:-90}"
KMS_LOCATION="${KMS_LOCATION:-$REGION}"           # must be the bucket's location
KMS_KEYRING="${KMS_KEYRING:-ingestion-pipeline}"
KMS_KEY_NAME="${KMS_KEY_NAME:-call-audio}"
KMS_ROTATION_PERIOD="${KMS_ROTATION_PERIOD:-90d}"

TOPIC="${TOPIC:-call-jobs}"
DEAD_LETTER_TOPIC="${DEAD_LETTER_TOPIC:-call-jobs-dead-letter}"
SUBSCRIPTION="${SUBSCRIPTION:-call-jobs-worker-push}"
ACK_DEADLINE_S="${ACK_DEADLINE_S:-600}"           # Pub/Sub's maximum; the worker's timeout is 900
MIN_RETRY_DELAY="${MIN_RETRY_DELAY:-10s}"
MAX_RETRY_DELAY="${MAX_RETRY_DELAY:-600s}"
# The worker answers 204 whenever it could record the outcome (done, FAILED, or "retry at T",
# which the outbox dispatcher republishes in time), so Pub/Sub only redelivers 503s (nothing
# could be recorded: storage down) and 400s (a malformed envelope). After this many, a message
# goes to the dead-letter topic; its job row stays due in the outbox and is published again.
MAX_DELIVERY_ATTEMPTS="${MAX_DELIVERY_ATTEMPTS:-15}"

WEBHOOK_SERVICE="${WEBHOOK_SERVICE:-ingestion-webhook}"
WORKER_SERVICE="${WORKER_SERVICE:-ingestion-worker}"
API_SERVICE="${API_SERVICE:-ingestion-api}"
MIGRATE_JOB="${MIGRATE_JOB:-ingestion-migrate}"
WEBHOOK_MIN_INSTANCES="${WEBHOOK_MIN_INSTANCES:-1}"
WEBHOOK_MAX_INSTANCES="${WEBHOOK_MAX_INSTANCES:-20}"
WORKER_MIN_INSTANCES="${WORKER_MIN_INSTANCES:-1}"
WORKER_MAX_INSTANCES="${WORKER_MAX_INSTANCES:-10}"
API_MIN_INSTANCES="${API_MIN_INSTANCES:-0}"
API_MAX_INSTANCES="${API_MAX_INSTANCES:-5}"
API_PUBLIC="${API_PUBLIC:-true}"                  # tenants read their calls with their API keys

SPEECH_LOCATION="${SPEECH_LOCATION:-us}"          # chirp_3's location
VERTEX_LOCATION="${VERTEX_LOCATION:-$REGION}"

OPERATOR_TOKEN_SECRET="${OPERATOR_TOKEN_SECRET:-ingestion-operator-token}"
# Tenants' secrets (Secret Manager ids, space-separated): signing keys are read by the webhook;
# CRM tokens and CallRail API keys by the worker. Each is created empty if missing (add its
# value with `gcloud secrets versions add`) and readable by that service only.
WEBHOOK_SECRETS="${WEBHOOK_SECRETS:-}"
WORKER_SECRETS="${WORKER_SECRETS:-}"

# --- helpers ---------------------------------------------------------------------------------
log() { printf '\n== %s\n' "$*" >&2; }
note() { printf '   %s\n' "$*" >&2; }
die() { printf 'deploy.sh: %s\n' "$*" >&2; exit 1; }

exists() { "$@" >/dev/null 2>&1; }

retry() {  # COMMAND...: IAM needs a few seconds to see a service account that was just made
  local attempt
  for attempt in 1 2 3 4; do
    "$@" && return 0
    note "retrying in $((attempt * 5)) s: $*"
    sleep $((attempt * 5))
  done
  "$@"
}

sa_email() { printf '%s@%s.iam.gserviceaccount.com' "$1" "$PROJECT_ID"; }

in_days() {  # an RFC 3339 time N days from now (GNU date, or BSD date on macOS)
  date -u -d "+$1 days" +%Y-%m-%dT%H:%M:%SZ 2>/dev/null || date -u -v+"$1"d +%Y-%m-%dT%H:%M:%SZ
}

project_role() {  # MEMBER ROLE
  retry gcloud projects add-iam-policy-binding "$PROJECT_ID" --member="$1" --role="$2" \
    --condition=None --quiet >/dev/null
}

render() {  # TEMPLATE: every placeholder it uses filled in; one left unfilled is an error
  local text pair left
  text="$(cat "$1")"
  for pair in \
    "PROJECT_ID=$PROJECT_ID" "IMAGE=$IMAGE" "SPANNER_INSTANCE=$SPANNER_INSTANCE" \
    "SPANNER_DATABASE=$SPANNER_DATABASE" "BUCKET=$BUCKET" "AUDIO_PREFIX=$AUDIO_PREFIX" \
    "TOPIC=$TOPIC" "KMS_KEY=$KMS_KEY" "SPEECH_LOCATION=$SPEECH_LOCATION" \
    "VERTEX_LOCATION=$VERTEX_LOCATION" "PUSH_AUDIENCE=$PUSH_AUDIENCE" "PUSH_SA=$PUSH_SA" \
    "WEBHOOK_SA=$WEBHOOK_SA" "WORKER_SA=$WORKER_SA" "API_SA=$API_SA" \
    "WEBHOOK_SERVICE=$WEBHOOK_SERVICE" "WORKER_SERVICE=$WORKER_SERVICE" \
    "API_SERVICE=$API_SERVICE" "OPERATOR_TOKEN_SECRET=$OPERATOR_TOKEN_SECRET" \
    "WEBHOOK_MIN_INSTANCES=$WEBHOOK_MIN_INSTANCES" "WEBHOOK_MAX_INSTANCES=$WEBHOOK_MAX_INSTANCES" \
    "WORKER_MIN_INSTANCES=$WORKER_MIN_INSTANCES" "WORKER_MAX_INSTANCES=$WORKER_MAX_INSTANCES" \
    "API_MIN_INSTANCES=$API_MIN_INSTANCES" "API_MAX_INSTANCES=$API_MAX_INSTANCES"; do
    text="${text//"\${${pair%%=*}}"/"${pair#*=}"}"
  done
  left="$(grep -o '[$]{[A-Za-z_]*}' <<<"$text" | sort -u | tr '\n' ' ' || true)"
  [ -z "$left" ] || die "$1: placeholders with no value: $left"
  printf '%s\n' "$text"
}

ensure_service_account() {  # NAME DESCRIPTION
  local email
  email="$(sa_email "$1")"
  if exists gcloud iam service-accounts describe "$email" --project="$PROJECT_ID"; then
    note "service account $email exists"
  else
    gcloud iam service-accounts create "$1" --project="$PROJECT_ID" --display-name="$2"
  fi
}

ensure_secret() {  # ID
  if ! exists gcloud secrets describe "$1" --project="$PROJECT_ID"; then
    gcloud secrets create "$1" --project="$PROJECT_ID" --replication-policy=automatic
  fi
}

grant_secret() {  # ID SERVICE_ACCOUNT_EMAIL
  retry gcloud secrets add-iam-policy-binding "$1" --project="$PROJECT_ID" \
    --member="serviceAccount:$2" --role=roles/secretmanager.secretAccessor >/dev/null
}

random_token() {
  if command -v openssl >/dev/null 2>&1; then
    openssl rand -hex 32
  else
    od -An -N32 -tx1 /dev/urandom | tr -d ' \n'
  fi
}

# --- derived ---------------------------------------------------------------------------------
[ -n "$PROJECT_ID" ] || die "set PROJECT_ID (or 'gcloud config set project ...')"
command -v gcloud >/dev/null 2>&1 || die "gcloud is not installed"
case "$ONLY" in all | services) ;; *) die "ONLY must be all or services" ;; esac

PROJECT_NUMBER="$(gcloud projects describe "$PROJECT_ID" --format='value(projectNumber)')"
if [ -z "${TAG:-}" ]; then
  TAG="$(git -C "$root" rev-parse --short=12 HEAD 2>/dev/null || date -u +%Y%m%d%H%M%S)"
  if ! git -C "$root" diff --quiet HEAD 2>/dev/null; then
    TAG="$TAG-dirty-$(date -u +%Y%m%d%H%M%S)"  # never reuse a tag for other code
  fi
fi
IMAGE="${IMAGE:-$REGION-docker.pkg.dev/$PROJECT_ID/$AR_REPOSITORY/$IMAGE_NAME:$TAG}"

WEBHOOK_SA="$(sa_email ingestion-webhook)"
WORKER_SA="$(sa_email ingestion-worker)"
API_SA="$(sa_email ingestion-api)"
PUSH_SA="$(sa_email ingestion-push)"
MIGRATE_SA="$(sa_email ingestion-migrate)"
KMS_KEY="projects/$PROJECT_ID/locations/$KMS_LOCATION/keyRings/$KMS_KEYRING/cryptoKeys/$KMS_KEY_NAME"
# The worker's deterministic URL; Cloud Run accepts it as an audience, and the worker's
# definition lists it as a custom audience too.
PUSH_AUDIENCE="${PUSH_AUDIENCE:-https://$WORKER_SERVICE-$PROJECT_NUMBER.$REGION.run.app}"
PUBSUB_AGENT="service-$PROJECT_NUMBER@gcp-sa-pubsub.iam.gserviceaccount.com"
SPEECH_AGENT="service-$PROJECT_NUMBER@gcp-sa-speech.iam.gserviceaccount.com"
DATABASE_URL="spanner://projects/$PROJECT_ID/instances/$SPANNER_INSTANCE/databases/$SPANNER_DATABASE"

note "project $PROJECT_ID ($PROJECT_NUMBER), region $REGION, image $IMAGE"

infrastructure() {
  # --- APIs ----------------------------------------------------------------------------------
  log "APIs"
  gcloud services enable --project="$PROJECT_ID" \
    run.googleapis.com artifactregistry.googleapis.com cloudbuild.googleapis.com \
    spanner.googleapis.com storage.googleapis.com pubsub.googleapis.com \
    secretmanager.googleapis.com speech.googleapis.com aiplatform.googleapis.com \
    cloudkms.googleapis.com cloudtrace.googleapis.com iam.googleapis.com \
    iamcredentials.googleapis.com logging.googleapis.com

  # --- Artifact Registry ---------------------------------------------------------------------
  log "Artifact Registry repository $AR_REPOSITORY"
  if ! exists gcloud artifacts repositories describe "$AR_REPOSITORY" \
    --project="$PROJECT_ID" --location="$REGION"; then
    gcloud artifacts repositories create "$AR_REPOSITORY" --project="$PROJECT_ID" \
      --location="$REGION" --repository-format=docker \
      --description="ingestion-pipeline images"
  fi

  # --- service accounts: one per service, each with only what it needs ------------------------
  log "service accounts"
  ensure_service_account ingestion-webhook "ingestion-pipeline webhook (Cloud Run)"
  ensure_service_account ingestion-worker "ingestion-pipeline worker (Cloud Run)"
  ensure_service_account ingestion-api "ingestion-pipeline API (Cloud Run)"
  ensure_service_account ingestion-push "ingestion-pipeline Pub/Sub push identity"
  ensure_service_account ingestion-migrate "ingestion-pipeline schema migrations (Cloud Run job)"

  # --- KMS key for the recordings (CMEK) ------------------------------------------------------
  log "KMS key $KMS_KEY"
  if ! exists gcloud kms keyrings describe "$KMS_KEYRING" --project="$PROJECT_ID" \
    --location="$KMS_LOCATION"; then
    gcloud kms keyrings create "$KMS_KEYRING" --project="$PROJECT_ID" --location="$KMS_LOCATION"
  fi
  if ! exists gcloud kms keys describe "$KMS_KEY_NAME" --project="$PROJECT_ID" \
    --keyring="$KMS_KEYRING" --location="$KMS_LOCATION"; then
    gcloud kms keys create "$KMS_KEY_NAME" --project="$PROJECT_ID" --keyring="$KMS_KEYRING" \
      --location="$KMS_LOCATION" --purpose=encryption \
      --rotation-period="$KMS_ROTATION_PERIOD" \
      --next-rotation-time="$(in_days "${KMS_ROTATION_PERIOD%d}")"
  fi
  # Cloud Storage encrypts and decrypts with the key as its own service agent.
  local gcs_agent
  gcs_agent="$(gcloud storage service-agent --project="$PROJECT_ID")"
  retry gcloud kms keys add-iam-policy-binding "$KMS_KEY_NAME" --project="$PROJECT_ID" \
    --keyring="$KMS_KEYRING" --location="$KMS_LOCATION" \
    --member="serviceAccount:$gcs_agent" \
    --role=roles/cloudkms.cryptoKeyEncrypterDecrypter >/dev/null

  # --- the audio bucket -----------------------------------------------------------------------
  log "bucket gs://$BUCKET"
  if ! exists gcloud storage buckets describe "gs://$BUCKET" --project="$PROJECT_ID"; then
    gcloud storage buckets create "gs://$BUCKET" --project="$PROJECT_ID" --location="$REGION" \
      --uniform-bucket-level-access --public-access-prevention \
      --default-encryption-key="$KMS_KEY"
  fi
  local lifecycle
  lifecycle="$(mktemp)"
  # Recordings are personal data: deleted after the retention period; abandoned uploads after a
  # day. An original waits under quarantine/ only while its card numbers are silenced; the
  # worker deletes it as soon as the redacted recording is stored, and this rule after a day
  # whatever happened (a worker killed at the wrong moment, a call never retried).
  local quarantine="${AUDIO_PREFIX:+${AUDIO_PREFIX%/}/}quarantine/"
  cat >"$lifecycle" <<JSON
{"rule": [
  {"action": {"type": "Delete"}, "condition": {"age": $AUDIO_RETENTION_DAYS}},
  {"action": {"type": "Delete"}, "condition": {"age": 1, "matchesPrefix": ["$quarantine"]}},
  {"action": {"type": "AbortIncompleteMultipartUpload"}, "condition": {"age": 1}}
]}
JSON
  gcloud storage buckets update "gs://$BUCKET" --project="$PROJECT_ID" \
    --lifecycle-file="$lifecycle" --default-encryption-key="$KMS_KEY"
  rm -f "$lifecycle"
  # The worker writes, reads and deletes recordings, in this bucket only.
  retry gcloud storage buckets add-iam-policy-binding "gs://$BUCKET" \
    --member="serviceAccount:$WORKER_SA" --role=roles/storage.objectAdmin >/dev/null
  # Speech-to-Text's BatchRecognize reads the gs:// object as Speech's own service agent.
  gcloud beta services identity create --service=speech.googleapis.com \
    --project="$PROJECT_ID" >/dev/null 2>&1 ||
    note "could not create Speech's service agent (needs the gcloud beta component); granting anyway"
  retry gcloud storage buckets add-iam-policy-binding "gs://$BUCKET" \
    --member="serviceAccount:$SPEECH_AGENT" --role=roles/storage.objectViewer >/dev/null ||
    note "grant roles/storage.objectViewer on gs://$BUCKET to $SPEECH_AGENT once it exists"

  # --- Spanner --------------------------------------------------------------------------------
  log "Spanner $SPANNER_INSTANCE/$SPANNER_DATABASE"
  if ! exists gcloud spanner instances describe "$SPANNER_INSTANCE" --project="$PROJECT_ID"; then
    gcloud spanner instances create "$SPANNER_INSTANCE" --project="$PROJECT_ID" \
      --config="$SPANNER_CONFIG" --description="ingestion-pipeline" \
      --processing-units="$SPANNER_PROCESSING_UNITS"
  fi
  if ! exists gcloud spanner databases describe "$SPANNER_DATABASE" \
    --instance="$SPANNER_INSTANCE" --project="$PROJECT_ID"; then
    # Empty: the schema comes from sql/spanner/ through `ingestion-pipeline migrate` below,
    # which records what it applied so later migrations apply once each.
    gcloud spanner databases create "$SPANNER_DATABASE" --instance="$SPANNER_INSTANCE" \
      --project="$PROJECT_ID" --database-dialect=GOOGLE_STANDARD_SQL
  fi
  local sa
  for sa in "$WEBHOOK_SA" "$WORKER_SA" "$API_SA"; do
    retry gcloud spanner databases add-iam-policy-binding "$SPANNER_DATABASE" \
      --instance="$SPANNER_INSTANCE" --project="$PROJECT_ID" \
      --member="serviceAccount:$sa" --role=roles/spanner.databaseUser >/dev/null
  done
  retry gcloud spanner databases add-iam-policy-binding "$SPANNER_DATABASE" \
    --instance="$SPANNER_INSTANCE" --project="$PROJECT_ID" \
    --member="serviceAccount:$MIGRATE_SA" --role=roles/spanner.databaseAdmin >/dev/null

  # --- Pub/Sub topics -------------------------------------------------------------------------
  log "Pub/Sub topics $TOPIC, $DEAD_LETTER_TOPIC"
  local topic
  for topic in "$TOPIC" "$DEAD_LETTER_TOPIC"; do
    if ! exists gcloud pubsub topics describe "$topic" --project="$PROJECT_ID"; then
      gcloud pubsub topics create "$topic" --project="$PROJECT_ID"
    fi
  done
  # Dead letters are kept (a topic with no subscription drops what it is sent).
  if ! exists gcloud pubsub subscriptions describe "$DEAD_LETTER_TOPIC-hold" \
    --project="$PROJECT_ID"; then
    gcloud pubsub subscriptions create "$DEAD_LETTER_TOPIC-hold" --project="$PROJECT_ID" \
      --topic="$DEAD_LETTER_TOPIC" --message-retention-duration=7d --expiration-period=never
  fi
  # Intake publishes; the worker and the API publish too (retries, sweeps, reprocessing).
  for sa in "$WEBHOOK_SA" "$WORKER_SA" "$API_SA"; do
    retry gcloud pubsub topics add-iam-policy-binding "$TOPIC" --project="$PROJECT_ID" \
      --member="serviceAccount:$sa" --role=roles/pubsub.publisher >/dev/null
  done
  # Pub/Sub's own agent forwards undeliverable messages to the dead-letter topic.
  retry gcloud pubsub topics add-iam-policy-binding "$DEAD_LETTER_TOPIC" --project="$PROJECT_ID" \
    --member="serviceAccount:$PUBSUB_AGENT" --role=roles/pubsub.publisher >/dev/null
  # ... and signs the push's OIDC tokens as the push identity.
  retry gcloud iam service-accounts add-iam-policy-binding "$PUSH_SA" --project="$PROJECT_ID" \
    --member="serviceAccount:$PUBSUB_AGENT" --role=roles/iam.serviceAccountTokenCreator \
    >/dev/null

  # --- secrets --------------------------------------------------------------------------------
  log "secrets"
  if ! exists gcloud secrets describe "$OPERATOR_TOKEN_SECRET" --project="$PROJECT_ID"; then
    ensure_secret "$OPERATOR_TOKEN_SECRET"
    random_token | gcloud secrets versions add "$OPERATOR_TOKEN_SECRET" \
      --project="$PROJECT_ID" --data-file=- >/dev/null
    note "operator token: gcloud secrets versions access latest --secret=$OPERATOR_TOKEN_SECRET"
  fi
  grant_secret "$OPERATOR_TOKEN_SECRET" "$API_SA"
  local secret
  # shellcheck disable=SC2086  # space-separated lists of secret ids: split on purpose
  for secret in $WEBHOOK_SECRETS; do
    ensure_secret "$secret"
    grant_secret "$secret" "$WEBHOOK_SA"
  done
  # shellcheck disable=SC2086
  for secret in $WORKER_SECRETS; do
    ensure_secret "$secret"
    grant_secret "$secret" "$WORKER_SA"
  done

  # --- project-level roles (these services have no narrower scope) ---------------------------
  log "project roles"
  project_role "serviceAccount:$WORKER_SA" roles/speech.client
  project_role "serviceAccount:$WORKER_SA" roles/aiplatform.user
  for sa in "$WEBHOOK_SA" "$WORKER_SA" "$API_SA"; do
    project_role "serviceAccount:$sa" roles/cloudtrace.agent
  done
  # The migration job and the push identity need nothing at project level.
}

build_image() {
  if [ "$SKIP_BUILD" = "true" ]; then
    note "SKIP_BUILD=true: deploying $IMAGE as it is"
    return
  fi
  log "image $IMAGE (Cloud Build; EXTRAS=$EXTRAS BUNDLED_MODEL=$BUNDLED_MODEL)"
  (cd "$root" && gcloud builds submit --project="$PROJECT_ID" --region="$REGION" \
    --config=deploy/cloudbuild.yaml \
    --substitutions="^;^_IMAGE=$IMAGE;_EXTRAS=$EXTRAS;_BUNDLED_MODEL=$BUNDLED_MODEL" .)
}

migrate_schema() {
  log "schema: $MIGRATE_JOB (ingestion-pipeline migrate)"
  gcloud run jobs deploy "$MIGRATE_JOB" --project="$PROJECT_ID" --region="$REGION" \
    --image="$IMAGE" --service-account="$MIGRATE_SA" \
    --command=ingestion-pipeline --args=migrate \
    --set-env-vars="PIPELINE_DATABASE_URL=$DATABASE_URL,PIPELINE_GCP_PROJECT=$PROJECT_ID" \
    --tasks=1 --max-retries=1 --task-timeout=1200s --cpu=1 --memory=512Mi --quiet
  gcloud run jobs execute "$MIGRATE_JOB" --project="$PROJECT_ID" --region="$REGION" --wait
}

deploy_service() {  # TEMPLATE (deploy/cloudrun/TEMPLATE.yaml)
  local rendered
  rendered="$(mktemp)"
  render "$here/cloudrun/$1.yaml" >"$rendered"
  gcloud run services replace "$rendered" --project="$PROJECT_ID" --region="$REGION"
  rm -f "$rendered"
}

service_url() {
  gcloud run services describe "$1" --project="$PROJECT_ID" --region="$REGION" \
    --format='value(status.url)'
}

services() {
  log "services"
  # The worker first: the push subscription needs its URL.
  deploy_service worker
  retry gcloud run services add-iam-policy-binding "$WORKER_SERVICE" --project="$PROJECT_ID" \
    --region="$REGION" --member="serviceAccount:$PUSH_SA" --role=roles/run.invoker >/dev/null
  deploy_service webhook
  retry gcloud run services add-iam-policy-binding "$WEBHOOK_SERVICE" --project="$PROJECT_ID" \
    --region="$REGION" --member=allUsers --role=roles/run.invoker >/dev/null
  deploy_service api
  if [ "$API_PUBLIC" = "true" ]; then
    retry gcloud run services add-iam-policy-binding "$API_SERVICE" --project="$PROJECT_ID" \
      --region="$REGION" --member=allUsers --role=roles/run.invoker >/dev/null
  fi

  log "push subscription $SUBSCRIPTION"
  local worker_url
  worker_url="$(service_url "$WORKER_SERVICE")"
  local push=(
    --project="$PROJECT_ID"
    --push-endpoint="$worker_url/v1/pubsub/push"
    --push-auth-service-account="$PUSH_SA"
    --push-auth-token-audience="$PUSH_AUDIENCE"
    --ack-deadline="$ACK_DEADLINE_S"
    --min-retry-delay="$MIN_RETRY_DELAY"
    --max-retry-delay="$MAX_RETRY_DELAY"
    --dead-letter-topic="projects/$PROJECT_ID/topics/$DEAD_LETTER_TOPIC"
    --max-delivery-attempts="$MAX_DELIVERY_ATTEMPTS"
    --message-retention-duration=7d
    --expiration-period=never
  )
  if exists gcloud pubsub subscriptions describe "$SUBSCRIPTION" --project="$PROJECT_ID"; then
    gcloud pubsub subscriptions update "$SUBSCRIPTION" "${push[@]}"
  else
    gcloud pubsub subscriptions create "$SUBSCRIPTION" --topic="$TOPIC" "${push[@]}"
  fi
  # Pub/Sub's agent acknowledges what it dead-letters, as a subscriber of this subscription.
  retry gcloud pubsub subscriptions add-iam-policy-binding "$SUBSCRIPTION" --project="$PROJECT_ID" \
    --member="serviceAccount:$PUBSUB_AGENT" --role=roles/pubsub.subscriber >/dev/null

  log "done"
  note "webhook URL for CallRail: $(service_url "$WEBHOOK_SERVICE")/v1/callrail/webhook"
  note "API:                      $(service_url "$API_SERVICE")"
  note "worker (push only):       $worker_url"
  note "image:                    $IMAGE"
}

if [ "$ONLY" = "all" ]; then
  infrastructure
fi
build_image
migrate_schema
services
