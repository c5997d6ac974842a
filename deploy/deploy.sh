#!/usr/bin/env bash
# Deploys the pipeline's Google Cloud shape, from nothing or over an earlier deployment:
#
#   APIs -> Artifact Registry -> service accounts -> KMS key -> audio bucket (CMEK, lifecycle)
#   -> Spanner instance and database, its backups (a daily schedule, point-in-time recovery)
#   -> Pub/Sub topics -> secrets -> project roles -> image (Cloud Build) -> schema
#   (`ingestion-pipeline migrate` as a Cloud Run job) -> the worker, webhook and API services
#   (deploy/cloudrun/*.yaml), each rolled out gradually -> push subscription -> monitoring
#   (deploy/monitoring: alert policies, SLOs, dashboard)
#
# Every setting below can be overridden from the environment, e.g.
#   PROJECT_ID=acme-calls REGION=europe-west1 deploy/deploy.sh
#   IMAGE=europe-west1-docker.pkg.dev/acme-calls/pipeline/ingestion-pipeline:3f2a9c1 deploy/deploy.sh
#   SKIP_BUILD=true TAG=3f2a9c1 deploy/deploy.sh        # redeploy an image already built
#   ONLY=services deploy/deploy.sh                       # just the image, schema and services
#   ONLY=monitoring NOTIFY_PAGER=projects/P/notificationChannels/123 deploy/deploy.sh
#   DRY_RUN=true PROJECT_ID=p deploy/deploy.sh           # print every gcloud command, run none
#
# A service that already exists is rolled out: its new revision is deployed with no traffic and
# the tag `candidate`, /health/ready is checked on the tagged URL, then traffic moves in steps
# (ROLLOUT_STEPS, default 10,50,100, ROLLOUT_WAIT_S apart), readiness checked after each; when a
# check fails the service goes back to the revision that served before, and the script stops.
#
# It is safe to run again: each resource is described before it is created, IAM bindings are
# added (never replaced), policies and the dashboard are found by name and updated, and each
# service gets a new revision, rolled out as above. It needs gcloud,
# signed in as someone who may do all of the above (Owner, or the matching admin roles).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
# shellcheck source=deploy/lib.sh
. "$here/lib.sh"  # log, note, die, exists, and DRY_RUN

# --- settings --------------------------------------------------------------------------------
PROJECT_ID="${PROJECT_ID:-$(gcloud config get-value project 2>/dev/null || true)}"
REGION="${REGION:-us-central1}"
ONLY="${ONLY:-all}"                               # all | services | monitoring

AR_REPOSITORY="${AR_REPOSITORY:-ingestion-pipeline}"
IMAGE_NAME="${IMAGE_NAME:-ingestion-pipeline}"
EXTRAS="${EXTRAS:-gcp}"                           # the cloud services need no local Whisper
BUNDLED_MODEL="${BUNDLED_MODEL:-false}"
SKIP_BUILD="${SKIP_BUILD:-false}"

SPANNER_INSTANCE="${SPANNER_INSTANCE:-ingestion}"
SPANNER_DATABASE="${SPANNER_DATABASE:-pipeline}"
SPANNER_CONFIG="${SPANNER_CONFIG:-regional-$REGION}"
SPANNER_PROCESSING_UNITS="${SPANNER_PROCESSING_UNITS:-100}"
# A full backup every day at 02:00 UTC, each kept 30 days; any moment of the last 7 days can be
# recovered (point-in-time recovery, Spanner's longest window). deploy/backup.sh does the rest.
BACKUP_SCHEDULE="${BACKUP_SCHEDULE:-daily-full}"
BACKUP_CRON="${BACKUP_CRON:-0 2 * * *}"
BACKUP_RETENTION="${BACKUP_RETENTION:-30d}"
PITR_RETENTION="${PITR_RETENTION:-7d}"

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

# Gradual rollouts: percent of traffic on the new revision at each step, the wait between steps,
# and the readiness check (READY_ATTEMPTS tries, READY_INTERVAL_S apart, 10 s each at most).
ROLLOUT_STEPS="${ROLLOUT_STEPS:-10,50,100}"
ROLLOUT_WAIT_S="${ROLLOUT_WAIT_S:-60}"
ROLLOUT_TAG="${ROLLOUT_TAG:-candidate}"
READY_ATTEMPTS="${READY_ATTEMPTS:-10}"
READY_INTERVAL_S="${READY_INTERVAL_S:-6}"
REVISION_SUFFIX="${REVISION_SUFFIX:-$(date -u +%Y%m%d-%H%M%S)}"  # names this deploy's revisions

# Monitoring (deploy/monitoring). The services push their metrics to Cloud Monitoring
# (PIPELINE_METRICS_EXPORT); each alert policy notifies the channels of its runbook routes, given
# as notification channel names (projects/P/notificationChannels/ID), comma-separated. A route
# left empty notifies nobody; the policy still opens incidents in the console.
METRICS_EXPORT="${METRICS_EXPORT:-gcp}"
NOTIFY_PAGER="${NOTIFY_PAGER:-}"
NOTIFY_SLACK_CRITICAL="${NOTIFY_SLACK_CRITICAL:-}"
NOTIFY_SLACK_ALERTS="${NOTIFY_SLACK_ALERTS:-}"
NOTIFY_SLACK_SALES="${NOTIFY_SLACK_SALES:-}"
NOTIFY_EMAIL_OPS="${NOTIFY_EMAIL_OPS:-}"
DASHBOARD_ID="${DASHBOARD_ID:-ingestion-pipeline}"
RENDER_DIR="${RENDER_DIR:-}"                      # where rendered files go (default: a temp dir)

SPEECH_LOCATION="${SPEECH_LOCATION:-us}"          # chirp_3's location
# standard: each call transcribed in minutes. dynamic_batch: a fifth of Speech-to-Text's price,
# answered within 24 hours (the 3-minute processing SLO and its alert policy no longer hold).
SPEECH_PROCESSING="${SPEECH_PROCESSING:-standard}"
VERTEX_LOCATION="${VERTEX_LOCATION:-$REGION}"

OPERATOR_TOKEN_SECRET="${OPERATOR_TOKEN_SECRET:-ingestion-operator-token}"
# Tenants' secrets (Secret Manager ids, space-separated): signing keys are read by the webhook;
# CRM tokens and CallRail API keys by the worker. Each is created empty if missing (add its
# value with `gcloud secrets versions add`) and readable by that service only.
WEBHOOK_SECRETS="${WEBHOOK_SECRETS:-}"
WORKER_SECRETS="${WORKER_SECRETS:-}"

# --- helpers ---------------------------------------------------------------------------------
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
    "SPEECH_PROCESSING=$SPEECH_PROCESSING" \
    "VERTEX_LOCATION=$VERTEX_LOCATION" "PUSH_AUDIENCE=$PUSH_AUDIENCE" "PUSH_SA=$PUSH_SA" \
    "WEBHOOK_SA=$WEBHOOK_SA" "WORKER_SA=$WORKER_SA" "API_SA=$API_SA" \
    "WEBHOOK_SERVICE=$WEBHOOK_SERVICE" "WORKER_SERVICE=$WORKER_SERVICE" \
    "API_SERVICE=$API_SERVICE" "OPERATOR_TOKEN_SECRET=$OPERATOR_TOKEN_SECRET" \
    "WEBHOOK_MIN_INSTANCES=$WEBHOOK_MIN_INSTANCES" "WEBHOOK_MAX_INSTANCES=$WEBHOOK_MAX_INSTANCES" \
    "WORKER_MIN_INSTANCES=$WORKER_MIN_INSTANCES" "WORKER_MAX_INSTANCES=$WORKER_MAX_INSTANCES" \
    "API_MIN_INSTANCES=$API_MIN_INSTANCES" "API_MAX_INSTANCES=$API_MAX_INSTANCES" \
    "METRICS_EXPORT=$METRICS_EXPORT" "REVISION=$REVISION" "TRAFFIC=$TRAFFIC"; do
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
case "$ONLY" in all | services | monitoring) ;; *) die "ONLY must be all, services or monitoring" ;; esac
case "$SPEECH_PROCESSING" in standard | dynamic_batch) ;;
  *) die "SPEECH_PROCESSING must be standard or dynamic_batch" ;; esac
for step in ${ROLLOUT_STEPS//,/ }; do
  case "$step" in '' | *[!0-9]*) die "ROLLOUT_STEPS: '$step' is not a percentage" ;; esac
  [ "$step" -ge 1 ] && [ "$step" -le 100 ] || die "ROLLOUT_STEPS: $step is not between 1 and 100"
done
[ "${ROLLOUT_STEPS##*,}" = 100 ] || die "ROLLOUT_STEPS must end at 100"
REVISION="" TRAFFIC=""  # set for each service by deploy_service
if [ -z "$RENDER_DIR" ]; then
  RENDER_DIR="$(mktemp -d)"
  trap 'rm -rf "$RENDER_DIR"' EXIT
fi

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
    iamcredentials.googleapis.com logging.googleapis.com monitoring.googleapis.com

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
  local lifecycle="$RENDER_DIR/lifecycle.json"
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
  backups

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
    project_role "serviceAccount:$sa" roles/monitoring.metricWriter
  done
  # The migration job and the push identity need nothing at project level.
}

backups() {
  log "Spanner backups: $BACKUP_SCHEDULE ($BACKUP_CRON UTC, kept $BACKUP_RETENTION), PITR $PITR_RETENTION"
  local where=(--project="$PROJECT_ID" --instance="$SPANNER_INSTANCE" --database="$SPANNER_DATABASE")
  if exists gcloud spanner backup-schedules describe "$BACKUP_SCHEDULE" "${where[@]}"; then
    gcloud spanner backup-schedules update "$BACKUP_SCHEDULE" "${where[@]}" \
      --cron="$BACKUP_CRON" --retention-duration="$BACKUP_RETENTION"
  else
    gcloud spanner backup-schedules create "$BACKUP_SCHEDULE" "${where[@]}" \
      --cron="$BACKUP_CRON" --retention-duration="$BACKUP_RETENTION" --backup-type=full-backup
  fi
  # Point-in-time recovery: Spanner keeps every version this long (a database option, not a
  # schema change: setting it again changes nothing).
  gcloud spanner databases ddl update "$SPANNER_DATABASE" --project="$PROJECT_ID" \
    --instance="$SPANNER_INSTANCE" \
    --ddl="ALTER DATABASE \`$SPANNER_DATABASE\` SET OPTIONS (version_retention_period = '$PITR_RETENTION')"
}

monitoring() {
  log "monitoring: alert policies, SLOs, dashboard (deploy/monitoring)"
  mkdir -p "$RENDER_DIR/monitoring"
  local file
  for file in "$here"/monitoring/policies/*.json; do
    apply_policy "$file"
  done
  apply_slos
  apply_dashboard
}

channels_for() {  # ROUTE: the notification channels of a runbook route
  case "$1" in
    pager) printf '%s' "$NOTIFY_PAGER" ;;
    slack-critical) printf '%s' "$NOTIFY_SLACK_CRITICAL" ;;
    slack-alerts) printf '%s' "$NOTIFY_SLACK_ALERTS" ;;
    slack-sales) printf '%s' "$NOTIFY_SLACK_SALES" ;;
    email-ops) printf '%s' "$NOTIFY_EMAIL_OPS" ;;
    *) die "no route named $1 (pager, slack-critical, slack-alerts, slack-sales, email-ops)" ;;
  esac
}

with_channels() {  # stdin -> stdout: "notificationChannels": ["@route", ...] filled in
  local line head items tail out route channel
  local pattern='^(.*"notificationChannels": *)\[([^]]*)\](.*)$'
  while IFS= read -r line; do
    if [[ $line =~ $pattern ]]; then
      head="${BASH_REMATCH[1]}" items="${BASH_REMATCH[2]}" tail="${BASH_REMATCH[3]}" out=""
      for route in $(grep -o '@[a-z-]*' <<<"$items" || true); do
        IFS=',' read -ra channels <<<"$(channels_for "${route#@}")"
        for channel in "${channels[@]}"; do
          channel="${channel// /}"
          [ -n "$channel" ] || continue
          case ", $out, " in *"\"$channel\""*) continue ;; esac
          out="${out:+$out, }\"$channel\""
        done
      done
      printf '%s[%s]%s\n' "$head" "$out" "$tail"
    else
      printf '%s\n' "$line"
    fi
  done
}

apply_policy() {  # FILE: created, or updated in place when one of its display name exists
  local rendered name existing
  rendered="$RENDER_DIR/monitoring/$(basename "$1")"
  render "$1" | with_channels >"$rendered"
  name="$(sed -n 's/^  "displayName": "\(.*\)",$/\1/p' "$1" | head -n 1)"
  [ -n "$name" ] || die "$1: no top-level displayName"
  existing="$(gcloud monitoring policies list --project="$PROJECT_ID" \
    --filter="displayName=\"$name\"" --format='value(name)' | head -n 1)"
  if [ -n "$existing" ]; then
    gcloud monitoring policies update "$existing" --project="$PROJECT_ID" \
      --policy-from-file="$rendered"
  else
    gcloud monitoring policies create --project="$PROJECT_ID" --policy-from-file="$rendered"
  fi
}

monitoring_api() {  # METHOD PATH [BODY_FILE]: Cloud Monitoring's REST API, as the gcloud account
  local request=(--silent --show-error --fail --max-time 30 -X "$1"
    -H "Authorization: Bearer $(gcloud auth print-access-token)"
    -H "Content-Type: application/json")
  [ $# -lt 3 ] || request+=(--data-binary "@$3")
  curl "${request[@]}" "https://monitoring.googleapis.com/v3/$2"
}

apply_slos() {  # a custom service for the webhook, and its availability and latency SLOs
  local service="projects/$PROJECT_ID/services/$WEBHOOK_SERVICE" slo body
  render "$here/monitoring/slos/service.json" >"$RENDER_DIR/monitoring/service.json"
  if ! exists monitoring_api GET "$service"; then
    monitoring_api POST "projects/$PROJECT_ID/services?serviceId=$WEBHOOK_SERVICE" \
      "$RENDER_DIR/monitoring/service.json" >/dev/null
  fi
  for slo in webhook-availability webhook-latency; do
    body="$RENDER_DIR/monitoring/$slo.json"
    render "$here/monitoring/slos/$slo.json" >"$body"
    if exists monitoring_api GET "$service/serviceLevelObjectives/$slo"; then
      monitoring_api PATCH "$service/serviceLevelObjectives/$slo?updateMask=displayName,goal,rollingPeriod,serviceLevelIndicator,userLabels" \
        "$body" >/dev/null
    else
      monitoring_api POST "$service/serviceLevelObjectives?serviceLevelObjectiveId=$slo" \
        "$body" >/dev/null
    fi
  done
}

apply_dashboard() {  # DASHBOARD_ID: replaced whole (with its current etag) or created
  local rendered="$RENDER_DIR/monitoring/dashboard.json" etag
  if exists gcloud monitoring dashboards describe "$DASHBOARD_ID" --project="$PROJECT_ID"; then
    etag="$(gcloud monitoring dashboards describe "$DASHBOARD_ID" --project="$PROJECT_ID" \
      --format='value(etag)')"
    render "$here/monitoring/dashboard.json" | sed "1a\\  \"etag\": \"$etag\"," >"$rendered"
    gcloud monitoring dashboards update "$DASHBOARD_ID" --project="$PROJECT_ID" \
      --config-from-file="$rendered"
  else
    render "$here/monitoring/dashboard.json" |
      sed "1a\\  \"name\": \"projects/$PROJECT_ID/dashboards/$DASHBOARD_ID\"," >"$rendered"
    gcloud monitoring dashboards create --project="$PROJECT_ID" --config-from-file="$rendered"
  fi
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

deploy_service() {  # TEMPLATE (deploy/cloudrun/TEMPLATE.yaml) SERVICE
  local rendered="$RENDER_DIR/$1.yaml" previous candidate_url
  previous="$(serving_revision "$2")"
  REVISION="$2-$REVISION_SUFFIX"
  if [ -z "$previous" ]; then
    # New: nothing serves yet, so nothing to protect. All traffic to the latest revision.
    TRAFFIC="[{percent: 100, latestRevision: true}]"
    render "$here/cloudrun/$1.yaml" >"$rendered"
    gcloud run services replace "$rendered" --project="$PROJECT_ID" --region="$REGION"
    return
  fi
  # The new revision with no traffic and a tag; the one serving keeps it all. A revision that
  # never becomes ready fails the replace here, with the traffic where it was.
  TRAFFIC="[{revisionName: $previous, percent: 100},"
  TRAFFIC+=" {revisionName: $REVISION, percent: 0, tag: $ROLLOUT_TAG}]"
  render "$here/cloudrun/$1.yaml" >"$rendered"
  log "$2: $REVISION with no traffic, tagged $ROLLOUT_TAG ($previous serves)"
  gcloud run services replace "$rendered" --project="$PROJECT_ID" --region="$REGION"
  candidate_url="$(tagged_url "$2" "$ROLLOUT_TAG")"
  [ -n "$candidate_url" ] || roll_back "$2" "$previous" "no URL for the tag $ROLLOUT_TAG"
  ready "$candidate_url" || roll_back "$2" "$previous" "$candidate_url/health/ready failed"
  local step
  for step in ${ROLLOUT_STEPS//,/ }; do
    note "$2: $step % to $REVISION"
    if [ "$step" = 100 ]; then
      gcloud run services update-traffic "$2" --project="$PROJECT_ID" --region="$REGION" \
        --to-latest
    else
      gcloud run services update-traffic "$2" --project="$PROJECT_ID" --region="$REGION" \
        --to-revisions="$REVISION=$step"
    fi
    sleep "$ROLLOUT_WAIT_S"
    ready "$candidate_url" || roll_back "$2" "$previous" "$candidate_url/health/ready failed at $step %"
  done
}

traffic() {  # SERVICE: a line a traffic target, "PERCENT<tab>REVISION<tab>TAG<tab>URL"
  gcloud run services describe "$1" --project="$PROJECT_ID" --region="$REGION" \
    --flatten=status.traffic \
    --format='value(status.traffic.percent,status.traffic.revisionName,status.traffic.tag,status.traffic.url)'
}

serving_revision() {  # SERVICE: the revision with the most traffic; nothing if no service
  traffic "$1" 2>/dev/null | awk -F '\t' '$1 != "" && $2 != "" {print $1 "\t" $2}' |
    sort -rn | head -n 1 | cut -f 2 || true
}

tagged_url() {  # SERVICE TAG
  traffic "$1" | awk -F '\t' -v tag="$2" '$3 == tag {print $4; exit}'
}

ready() {  # URL: GET URL/health/ready answers 2xx (the deployer's identity token, for private services)
  local attempt token auth=()
  token="$(gcloud auth print-identity-token 2>/dev/null || true)"
  [ -z "$token" ] || auth=(-H "Authorization: Bearer $token")
  for attempt in $(seq 1 "$READY_ATTEMPTS"); do
    if curl --silent --fail --max-time 10 --output /dev/null "${auth[@]}" "$1/health/ready"; then
      return 0
    fi
    note "not ready yet ($attempt/$READY_ATTEMPTS): $1/health/ready"
    sleep "$READY_INTERVAL_S"
  done
  return 1
}

roll_back() {  # SERVICE PREVIOUS_REVISION REASON
  log "rolling $1 back to $2: $3"
  gcloud run services update-traffic "$1" --project="$PROJECT_ID" --region="$REGION" \
    --to-revisions="$2=100"
  die "$1: rolled back to $2 ($3); the failed revision is kept, with no traffic, for its logs"
}

service_url() {
  gcloud run services describe "$1" --project="$PROJECT_ID" --region="$REGION" \
    --format='value(status.url)'
}

services() {
  log "services"
  # The worker first: the push subscription needs its URL.
  deploy_service worker "$WORKER_SERVICE"
  retry gcloud run services add-iam-policy-binding "$WORKER_SERVICE" --project="$PROJECT_ID" \
    --region="$REGION" --member="serviceAccount:$PUSH_SA" --role=roles/run.invoker >/dev/null
  deploy_service webhook "$WEBHOOK_SERVICE"
  retry gcloud run services add-iam-policy-binding "$WEBHOOK_SERVICE" --project="$PROJECT_ID" \
    --region="$REGION" --member=allUsers --role=roles/run.invoker >/dev/null
  deploy_service api "$API_SERVICE"
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

if [ "$ONLY" = "monitoring" ]; then
  monitoring
  exit 0
fi
if [ "$ONLY" = "all" ]; then
  infrastructure
fi
build_image
migrate_schema
services
if [ "$ONLY" = "all" ]; then
  monitoring
fi
