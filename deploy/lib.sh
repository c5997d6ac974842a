# Shared by deploy/deploy.sh and deploy/backup.sh (sourced, not run).
#
# DRY_RUN=true: nothing is called. Every gcloud and curl command is printed instead, one a line,
# in order, to the script's standard output (also from inside $(...)), and answers as if every
# resource already existed (DRY_RUN_EXISTING=false: as if none did, the first deployment).
# Values the scripts read back are stand-ins: project number 123456789012, a revision named
# SERVICE-previous, URLs on dry-run.run.app.

DRY_RUN="${DRY_RUN:-false}"
DRY_RUN_EXISTING="${DRY_RUN_EXISTING:-true}"

log() { printf '\n== %s\n' "$*" >&2; }
note() { printf '   %s\n' "$*" >&2; }
die() { printf '%s: %s\n' "$(basename "$0")" "$*" >&2; exit 1; }

exists() { "$@" >/dev/null 2>&1; }

if [ "$DRY_RUN" = "true" ]; then
  exec 3>&1  # the plan: this stdout, whatever a command substitution does with fd 1

  gcloud() {
    printf 'gcloud %s\n' "$*" >&3
    local args=" $* "
    [[ $args != *" --data-file=- "* ]] || cat >/dev/null  # a secret piped in: not shown
    local found=0
    [ "$DRY_RUN_EXISTING" = "true" ] && found=1
    case "$args" in
      *" projects describe "*) echo 123456789012 ;;
      *" storage service-agent "*) echo service-123456789012@gs-project-accounts.iam.gserviceaccount.com ;;
      *" auth print-"*) echo dry-run-token ;;
      *" run services describe "*--flatten=status.traffic*)
        # the serving revision, and the candidate's URL (tag, url)
        if [ "$found" = 1 ]; then
          printf '100\t%s-previous\t\t\n' "$4"
          printf '0\t%s-candidate\t%s\thttps://%s---%s-dry-run.run.app\n' "$4" "${ROLLOUT_TAG:-candidate}" \
            "${ROLLOUT_TAG:-candidate}" "$4"
        fi
        [ "$found" = 1 ] ;;
      *" run services describe "*"value(status.url)"*) echo "https://$4-dry-run.run.app" ;;
      *"oidcToken.audience"*) echo "https://$4-123456789012.dry-run.run.app" ;;
      *" monitoring policies list "*) [ "$found" = 1 ] && echo "projects/dry-run/alertPolicies/0" || true ;;
      *" monitoring dashboards describe "*"value(etag)"*) echo dry-run-etag ;;
      *" backups list "*) [ "$found" = 1 ] && printf 'dry-run-backup\tREADY\t%s\t1024\n' \
          "$(date -u +%Y-%m-%dT%H:%M:%SZ)" || true ;;
      *" describe "*) [ "$found" = 1 ] ;;
      *) return 0 ;;
    esac
  }

  curl() {
    printf 'curl %s\n' "$*" >&3
    local args=" $* "
    case "$args" in
      *" GET "*) [ "$DRY_RUN_EXISTING" = "true" ] ;;
      *) return 0 ;;
    esac
  }

  sleep() { :; }
else
  command -v gcloud >/dev/null 2>&1 || die "gcloud is not installed"
fi
