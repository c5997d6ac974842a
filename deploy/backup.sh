#!/usr/bin/env bash
# Spanner backups of the pipeline's database, by hand; deploy.sh sets up the daily schedule
# (02:00 UTC, kept 30 days) and point-in-time recovery (7 days).
#
#   deploy/backup.sh create [NAME] [VERSION_TIME]   a full backup now (default name
#                                                   manual-YYYYmmdd-HHMMSS), or of the database as
#                                                   it was at VERSION_TIME (RFC 3339, within the
#                                                   point-in-time window), kept BACKUP_RETENTION
#   deploy/backup.sh verify                         the newest READY backup is younger than
#                                                   MAX_AGE_HOURS and not empty; exit 1 if not
#   deploy/backup.sh list                           every backup of the database, newest first
#   deploy/backup.sh restore BACKUP TARGET_DATABASE restore into a new database and switch to it
#
# restore, step by step: (1) pause processing: the push subscription becomes a pull one, so jobs
# wait in Pub/Sub (7 days) instead of being delivered; (2) restore BACKUP into TARGET_DATABASE
# (a new database: the old one is left as it is); (3) give the services' accounts their roles
# on it (database-level roles are not part of a backup); (4) apply any newer migrations to it;
# (5) point the worker, webhook and API services and the migration job at it (a new revision
# each, all traffic at once: two databases must never serve side by side); (6) set its backup
# schedule and point-in-time window; (7) resume the push subscription. Calls that reached the
# webhook after the backup's version time are in the old database only: `ingestion-pipeline
# reconcile TENANT --since VERSION_TIME` fetches them again from CallRail. Then run deploy.sh
# with SPANNER_DATABASE=TARGET_DATABASE so later deployments keep the new database.
#
# The settings are deploy.sh's, with the same defaults (PROJECT_ID, REGION, SPANNER_INSTANCE,
# SPANNER_DATABASE, service names...). DRY_RUN=true prints every gcloud command instead.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=deploy/lib.sh
. "$here/lib.sh"

PROJECT_ID="${PROJECT_ID:-$(gcloud config get-value project 2>/dev/null || true)}"
REGION="${REGION:-us-central1}"
SPANNER_INSTANCE="${SPANNER_INSTANCE:-ingestion}"
SPANNER_DATABASE="${SPANNER_DATABASE:-pipeline}"
BACKUP_RETENTION="${BACKUP_RETENTION:-30d}"
BACKUP_SCHEDULE="${BACKUP_SCHEDULE:-daily-full}"
BACKUP_CRON="${BACKUP_CRON:-0 2 * * *}"
PITR_RETENTION="${PITR_RETENTION:-7d}"
MAX_AGE_HOURS="${MAX_AGE_HOURS:-26}"  # a daily schedule, and two hours' grace
WEBHOOK_SERVICE="${WEBHOOK_SERVICE:-ingestion-webhook}"
WORKER_SERVICE="${WORKER_SERVICE:-ingestion-worker}"
API_SERVICE="${API_SERVICE:-ingestion-api}"
MIGRATE_JOB="${MIGRATE_JOB:-ingestion-migrate}"
SUBSCRIPTION="${SUBSCRIPTION:-call-jobs-worker-push}"

[ -n "$PROJECT_ID" ] || die "set PROJECT_ID (or 'gcloud config set project ...')"
where=(--project="$PROJECT_ID" --instance="$SPANNER_INSTANCE")
database_path="projects/$PROJECT_ID/instances/$SPANNER_INSTANCE/databases/$SPANNER_DATABASE"
sa_email() { printf '%s@%s.iam.gserviceaccount.com' "$1" "$PROJECT_ID"; }

create() {  # [NAME] [VERSION_TIME]
  local name="${1:-manual-$(date -u +%Y%m%d-%H%M%S)}" at=()
  [ -z "${2:-}" ] || at=(--version-time="$2")
  log "backup $name of $SPANNER_DATABASE${2:+ as of $2}, kept $BACKUP_RETENTION"
  gcloud spanner backups create "$name" "${where[@]}" --database="$SPANNER_DATABASE" \
    --retention-period="$BACKUP_RETENTION" "${at[@]}"
}

newest() {  # NAME, STATE, CREATE TIME and SIZE of the newest READY backup of the database
  gcloud spanner backups list "${where[@]}" \
    --filter="database=$database_path AND state=READY" --sort-by=~createTime --limit=1 \
    --format='value(name.basename(),state,createTime,sizeBytes)'
}

verify() {
  log "newest backup of $SPANNER_DATABASE"
  local line name state created size age_s
  line="$(newest)"
  [ -n "$line" ] || die "no READY backup of $SPANNER_DATABASE"
  IFS=$'\t' read -r name state created size <<<"$line"
  age_s=$(($(date -u +%s) - $(date -u -d "$created" +%s)))
  [ "$state" = READY ] || die "$name is $state"
  [ "${size:-0}" -gt 0 ] || die "$name is empty"
  [ "$age_s" -le $((MAX_AGE_HOURS * 3600)) ] ||
    die "$name was made $((age_s / 3600)) h ago (more than $MAX_AGE_HOURS h): is the schedule running?"
  printf 'OK %s %s %s bytes, %s h old\n' "$name" "$created" "$size" "$((age_s / 3600))"
}

list() {
  gcloud spanner backups list "${where[@]}" --filter="database=$database_path" \
    --sort-by=~createTime --format='table(name.basename(),state,createTime,versionTime,expireTime,sizeBytes)'
}

restore() {  # BACKUP TARGET_DATABASE
  local backup="${1:-}" target="${2:-}" sa svc url
  [ -n "$backup" ] && [ -n "$target" ] || die "usage: backup.sh restore BACKUP TARGET_DATABASE"
  [ "$target" != "$SPANNER_DATABASE" ] || die "restore into a new database, not $SPANNER_DATABASE"
  local target_url="spanner://projects/$PROJECT_ID/instances/$SPANNER_INSTANCE/databases/$target"
  local run=(--project="$PROJECT_ID" --region="$REGION")
  local suffix="restore-${RESTORE_SUFFIX:-$(date -u +%Y%m%d-%H%M%S)}"

  log "1. pausing processing: $SUBSCRIPTION holds its jobs"
  local audience  # the push's OIDC audience, to put back in step 7
  audience="$(gcloud pubsub subscriptions describe "$SUBSCRIPTION" --project="$PROJECT_ID" \
    --format='value(pushConfig.oidcToken.audience)')"
  gcloud pubsub subscriptions modify-push-config "$SUBSCRIPTION" --project="$PROJECT_ID" \
    --push-endpoint=""

  log "2. restoring $backup into $target"
  gcloud spanner databases restore --project="$PROJECT_ID" \
    --source-instance="$SPANNER_INSTANCE" --source-backup="$backup" \
    --destination-instance="$SPANNER_INSTANCE" --destination-database="$target"

  log "3. the services' roles on $target"
  for sa in ingestion-webhook ingestion-worker ingestion-api; do
    gcloud spanner databases add-iam-policy-binding "$target" "${where[@]}" \
      --member="serviceAccount:$(sa_email "$sa")" --role=roles/spanner.databaseUser >/dev/null
  done
  gcloud spanner databases add-iam-policy-binding "$target" "${where[@]}" \
    --member="serviceAccount:$(sa_email ingestion-migrate)" --role=roles/spanner.databaseAdmin \
    >/dev/null

  log "4. migrations on $target"
  gcloud run jobs update "$MIGRATE_JOB" "${run[@]}" \
    --update-env-vars="PIPELINE_DATABASE_URL=$target_url"
  gcloud run jobs execute "$MIGRATE_JOB" "${run[@]}" --wait

  log "5. the services switch to $target"
  for svc in "$WORKER_SERVICE" "$WEBHOOK_SERVICE" "$API_SERVICE"; do
    gcloud run services update "$svc" "${run[@]}" --revision-suffix="$suffix" \
      --update-env-vars="PIPELINE_DATABASE_URL=$target_url"
    gcloud run services update-traffic "$svc" "${run[@]}" --to-latest
  done

  log "6. backups of $target"
  gcloud spanner backup-schedules create "$BACKUP_SCHEDULE" "${where[@]}" --database="$target" \
    --cron="$BACKUP_CRON" --retention-duration="$BACKUP_RETENTION" --backup-type=full-backup
  gcloud spanner databases ddl update "$target" "${where[@]}" \
    --ddl="ALTER DATABASE \`$target\` SET OPTIONS (version_retention_period = '$PITR_RETENTION')"

  log "7. resuming processing"
  url="$(gcloud run services describe "$WORKER_SERVICE" "${run[@]}" --format='value(status.url)')"
  gcloud pubsub subscriptions modify-push-config "$SUBSCRIPTION" --project="$PROJECT_ID" \
    --push-endpoint="$url/v1/pubsub/push" \
    --push-auth-service-account="$(sa_email ingestion-push)" \
    ${audience:+--push-auth-token-audience="$audience"}

  log "done: the services use $target"
  note "calls received after the backup's version time are only in $SPANNER_DATABASE:"
  note "  ingestion-pipeline reconcile TENANT --since VERSION_TIME   (for each tenant)"
  note "next deployments: SPANNER_DATABASE=$target deploy/deploy.sh"
}

command="${1:-}"
[ $# -eq 0 ] || shift
case "$command" in
  create) create "$@" ;;
  verify) verify ;;
  list) list ;;
  restore) restore "$@" ;;
  *) die "usage: backup.sh create [NAME] [VERSION_TIME] | verify | list | restore BACKUP TARGET_DATABASE" ;;
esac
