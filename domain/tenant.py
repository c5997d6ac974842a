"""Tenants and their configuration, validated from the tenant document of api.md.

Secrets are either references into the secret store (`*_ref`, a name, safe to show) or inline
values, which are write-only: they are kept for use but every read shows "***", and a "***"
sent back in an update means "unchanged".
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import attrs

from domain.alerts import AlertsConfig
from domain.alerts_document import alerts_document, parse_alerts
from domain.errors import FieldError, ValidationFailed, unknown_keys
from domain.questions import Question, check_answer_fields, parse_questions, questions_document
from domain.retention import RetentionPolicy, parse_retention, retention_document

MASK = "***"
TENANT_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
STATUSES = ("active", "suspended")
CRM_TYPES = ("none", "hubspot", "salesforce")
DEFAULT_THRESHOLD = 70
DEFAULT_MODEL = "gemini-2.5-flash"
MAX_CONTEXT = 4000
_SECRET_NAME = re.compile(r"^[A-Za-z0-9_./-]{1,255}$")
_REF_NAME_RULE = "a secret name: letters, digits, _ . / -"
# What each CRM reads from crm_config (entrypoints/crm.py, the gateways, domain/crm.py), and
# HubSpot's portal_id, kept to say which HubSpot account the token is for: any other key would
# be stored and never read, so a new document naming one is refused.
_CRM_COMMON = ("lead_status_by_tier", "include_recording_link", "answer_property_map")
CRM_SETTINGS: Mapping[str, tuple[str, ...]] = {
    "none": (),
    "hubspot": (
        "access_token", "access_token_ref", "base_url", "portal_id", "contact_property_map",
        "account_timezone", "idempotency_property", "lead_status_property", *_CRM_COMMON,
    ),
    "salesforce": (
        "instance_url", "client_id", "client_secret", "client_secret_ref",
        "lead_external_id_field", "default_company", *_CRM_COMMON,
    ),
}  # fmt: skip
AI_SETTINGS = ("lead_scoring_threshold", "analysis_model", "business_context", "questions")
# The deployment guide's tenant document: HubSpot with no `type`, its private-app token named
# by a secret. Read as the HubSpot configuration it means.
SEED_HUBSPOT_KEYS = {"hubspot_api_key_secret": "access_token_ref", "hubspot_portal_id": "portal_id"}
# Inline CRM settings with these names are credentials: stored, never shown.
SECRET_SETTING = re.compile(r"(token|secret|password|private_key|api_key|client_key)$")


@attrs.frozen
class SecretRef:
    name: str


@attrs.frozen
class SecretValue:
    value: str = attrs.field(repr=False)

    def __repr__(self) -> str:
        return "SecretValue(***)"


Secret = SecretRef | SecretValue


def _masked_settings(settings: Mapping[str, Any]) -> str:
    return repr({k: MASK if SECRET_SETTING.search(k) else v for k, v in settings.items()})


@attrs.frozen
class CrmConfig:
    type: str = "none"
    settings: Mapping[str, Any] = attrs.field(factory=dict, repr=_masked_settings)

    def secret_setting(self, name: str) -> Secret | None:
        """A credential by its base name: `access_token` inline, or `access_token_ref`."""
        ref = self.settings.get(f"{name}_ref")
        if isinstance(ref, str) and ref:
            return SecretRef(ref)
        value = self.settings.get(name)
        if isinstance(value, str) and value:
            return SecretValue(value)
        return None


@attrs.frozen
class AiConfig:
    lead_scoring_threshold: int = DEFAULT_THRESHOLD
    analysis_model: str = DEFAULT_MODEL
    business_context: str = ""
    questions: tuple[Question, ...] = ()  # the tenant's own questions (domain/questions.py)


@attrs.frozen
class TenantConfig:
    callrail_company_id: str
    webhook_secret: Secret
    callrail_account_id: str | None = None
    callrail_api_key: Secret | None = None
    crm: CrmConfig = CrmConfig()
    ai: AiConfig = AiConfig()
    redact_pii: bool = True
    alerts: AlertsConfig = attrs.field(factory=AlertsConfig)
    retention: RetentionPolicy = attrs.field(factory=RetentionPolicy)


@attrs.frozen
class Tenant:
    tenant_id: str
    name: str
    status: str
    config: TenantConfig
    created_at: datetime
    updated_at: datetime

    @property
    def active(self) -> bool:
        return self.status == "active"


def parse_tenant(
    document: Mapping[str, Any],
    now: datetime,
    created_at: datetime | None = None,
    *,
    alert_http_hosts: tuple[str, ...] = (),
) -> Tenant:
    """Validates a whole tenant document, reporting every offending field at once. A key in
    crm_config or ai_config that nothing reads is refused by name, never stored unread.
    Alert URLs may use plain http or a loopback host only when listed in alert_http_hosts."""
    return _parse_tenant(document, now, created_at, strict=True, http_hosts=alert_http_hosts)


def load_tenant(document: Mapping[str, Any], now: datetime, created_at: datetime) -> Tenant:
    """A stored tenant document, read back: validated as parse_tenant does, except that keys
    this release does not know are kept, so a tenant stored before a key was refused still
    loads (an update must then drop it)."""
    return _parse_tenant(document, now, created_at, strict=False)


def _parse_tenant(
    document: Mapping[str, Any],
    now: datetime,
    created_at: datetime | None,
    *,
    strict: bool,
    http_hosts: tuple[str, ...] = (),
) -> Tenant:
    errors: list[FieldError] = []
    if not isinstance(document, Mapping):
        raise ValidationFailed(
            [FieldError("", "the tenant document must be a JSON object")], "tenant"
        )
    tenant_id = document.get("tenant_id")
    if not isinstance(tenant_id, str) or not TENANT_ID.match(tenant_id):
        errors.append(
            FieldError("tenant_id", "1-63 characters: lower-case letters, digits, '-' or '_'")
        )
    name = document.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > 200:
        errors.append(FieldError("name", "a non-empty string of at most 200 characters"))
    status = document.get("status", "active")
    if status not in STATUSES:
        errors.append(FieldError("status", f"one of {', '.join(STATUSES)}"))
    raw_config = document.get("config")
    config: TenantConfig | None = None
    if not isinstance(raw_config, Mapping):
        errors.append(FieldError("config", "an object"))
    else:
        config = _parse_config(raw_config, errors, strict, http_hosts)
    if errors:
        raise ValidationFailed(errors, "tenant")
    assert isinstance(tenant_id, str)
    assert isinstance(name, str)
    assert config is not None
    return Tenant(tenant_id, name.strip(), str(status), config, created_at or now, now)


def _parse_config(
    raw: Mapping[str, Any], errors: list[FieldError], strict: bool, http_hosts: tuple[str, ...]
) -> TenantConfig | None:
    company = raw.get("callrail_company_id")
    if isinstance(company, int) and not isinstance(company, bool):
        company = str(company)
    if not isinstance(company, str) or not company.strip():
        errors.append(FieldError("config.callrail_company_id", "required: CallRail's company id"))
    account = _optional_text(raw, "callrail_account_id", "config.callrail_account_id", errors)
    webhook_secret = _secret(raw, "webhook_secret", "config", errors)
    if webhook_secret is None:
        errors.append(
            FieldError("config.webhook_secret", "webhook_secret or webhook_secret_ref is required")
        )
    api_key = _secret(raw, "callrail_api_key", "config", errors)
    crm = _parse_crm(raw.get("crm_config", {"type": "none"}), errors, strict)
    ai = _parse_ai(raw.get("ai_config", {}), errors, strict)
    if crm is not None and ai is not None:
        check_answer_fields(crm.settings.get("answer_property_map"), ai.questions, errors)
    redact = raw.get("redact_pii", True)
    if not isinstance(redact, bool):
        errors.append(FieldError("config.redact_pii", "true or false"))
    # Hot-lead alerts (domain/alerts.py) and retention (domain/retention.py): their own
    # blocks, with their own unknown-key checks.
    alerts = parse_alerts(
        raw.get("alerts", {}), errors, strict=strict, secret=_secret, http_hosts=http_hosts
    )
    retention = parse_retention(raw.get("retention", {}), errors, strict=strict)
    if (
        errors
        or not isinstance(company, str)
        or webhook_secret is None
        or crm is None
        or ai is None
        or alerts is None
    ):
        return None
    return TenantConfig(
        callrail_company_id=company.strip(),
        webhook_secret=webhook_secret,
        callrail_account_id=account,
        callrail_api_key=api_key,
        crm=crm,
        ai=ai,
        redact_pii=bool(redact),
        alerts=alerts,
        retention=retention,
    )


def _optional_text(
    raw: Mapping[str, Any], key: str, path: str, errors: list[FieldError]
) -> str | None:
    value = raw.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        errors.append(FieldError(path, "a string"))
        return None
    return value.strip()


def _secret(
    raw: Mapping[str, Any], name: str, prefix: str, errors: list[FieldError]
) -> Secret | None:
    ref = raw.get(f"{name}_ref")
    value = raw.get(name)
    if ref not in (None, ""):
        if not _is_secret_name(ref):
            errors.append(FieldError(f"{prefix}.{name}_ref", _REF_NAME_RULE))
            return None
        return SecretRef(ref)
    if value not in (None, ""):
        if not isinstance(value, str) or value == MASK:
            errors.append(FieldError(f"{prefix}.{name}", "the secret's value as a string"))
            return None
        return SecretValue(value)
    return None


def _parse_crm(raw: Any, errors: list[FieldError], strict: bool) -> CrmConfig | None:
    if not isinstance(raw, Mapping):
        errors.append(FieldError("config.crm_config", "an object"))
        return None
    seed = [k for k in SEED_HUBSPOT_KEYS if k in raw]
    crm_type = raw.get("type", "hubspot" if seed else "none")
    if crm_type not in CRM_TYPES:
        errors.append(FieldError("config.crm_config.type", f"one of {', '.join(CRM_TYPES)}"))
        return None
    settings = {k: v for k, v in raw.items() if k != "type"}
    if seed and crm_type == "hubspot":
        settings = _seed_hubspot(settings, errors)
    allowed = CRM_SETTINGS[str(crm_type)]
    for key, value in settings.items():
        path = f"config.crm_config.{key}"
        if strict and key not in allowed:
            takes = ", ".join(allowed) if allowed else "no other setting"
            errors.append(FieldError(path, f"not a {crm_type} setting; {crm_type} takes {takes}"))
        elif key.endswith("_ref") and strict and not _is_secret_name(value):
            errors.append(FieldError(path, _REF_NAME_RULE))
        elif SECRET_SETTING.search(key) and (not isinstance(value, str) or value == MASK):
            errors.append(FieldError(path, "the credential's value as a string"))
    return CrmConfig(type=str(crm_type), settings=settings)


def _seed_hubspot(settings: Mapping[str, Any], errors: list[FieldError]) -> dict[str, Any]:
    """The seeds' HubSpot keys under this product's names: the secret named by
    hubspot_api_key_secret holds the access token."""
    renamed = {k: v for k, v in settings.items() if k not in SEED_HUBSPOT_KEYS}
    for seed_key, key in SEED_HUBSPOT_KEYS.items():
        if seed_key not in settings:
            continue
        if key in settings or (key == "access_token_ref" and "access_token" in settings):
            errors.append(
                FieldError(f"config.crm_config.{seed_key}", f"give {key} or {seed_key}, not both")
            )
            continue
        value = settings[seed_key]
        if key == "access_token_ref" and not _is_secret_name(value):
            errors.append(FieldError(f"config.crm_config.{seed_key}", _REF_NAME_RULE))
            continue
        if key == "portal_id" and isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        renamed[key] = value
    return renamed


def _is_secret_name(value: Any) -> bool:
    return isinstance(value, str) and bool(_SECRET_NAME.match(value))


def _parse_ai(raw: Any, errors: list[FieldError], strict: bool) -> AiConfig | None:
    if not isinstance(raw, Mapping):
        errors.append(FieldError("config.ai_config", "an object"))
        return None
    if strict:
        errors.extend(unknown_keys(raw, AI_SETTINGS, "config.ai_config", "an ai_config setting"))
    threshold = raw.get("lead_scoring_threshold", DEFAULT_THRESHOLD)
    if isinstance(threshold, bool) or not isinstance(threshold, int) or not 0 <= threshold <= 100:
        errors.append(
            FieldError("config.ai_config.lead_scoring_threshold", "a whole number from 0 to 100")
        )
        threshold = DEFAULT_THRESHOLD
    model = raw.get("analysis_model", DEFAULT_MODEL)
    if not isinstance(model, str) or not model.strip():
        errors.append(FieldError("config.ai_config.analysis_model", "a model name"))
        model = DEFAULT_MODEL
    context = raw.get("business_context", "")
    if not isinstance(context, str) or len(context) > MAX_CONTEXT:
        errors.append(
            FieldError(
                "config.ai_config.business_context", f"text of at most {MAX_CONTEXT} characters"
            )
        )
        context = ""
    questions = parse_questions(raw.get("questions", []), errors)
    return AiConfig(threshold, model.strip(), context, questions)


def tenant_document(tenant: Tenant, *, reveal_secrets: bool = False) -> dict[str, Any]:
    """The tenant document (api.md). With reveal_secrets=False, inline secrets read "***"."""
    c = tenant.config
    config: dict[str, Any] = {"callrail_company_id": c.callrail_company_id}
    if c.callrail_account_id:
        config["callrail_account_id"] = c.callrail_account_id
    _put_secret(config, "webhook_secret", c.webhook_secret, reveal_secrets)
    if c.callrail_api_key is not None:
        _put_secret(config, "callrail_api_key", c.callrail_api_key, reveal_secrets)
    crm: dict[str, Any] = {"type": c.crm.type}
    for key, value in c.crm.settings.items():
        hidden = SECRET_SETTING.search(key) and not reveal_secrets
        crm[key] = MASK if hidden else value
    config["crm_config"] = crm
    config["ai_config"] = {
        "lead_scoring_threshold": c.ai.lead_scoring_threshold,
        "analysis_model": c.ai.analysis_model,
        "business_context": c.ai.business_context,
    }
    if c.ai.questions:
        config["ai_config"]["questions"] = questions_document(c.ai.questions)
    config["redact_pii"] = c.redact_pii
    if c.alerts.destinations or c.alerts.rules:
        config["alerts"] = alerts_document(
            c.alerts, lambda item, name, secret: _put_secret(item, name, secret, reveal_secrets)
        )
    if retention := retention_document(c.retention):
        config["retention"] = retention
    return {
        "tenant_id": tenant.tenant_id,
        "name": tenant.name,
        "status": tenant.status,
        "config": config,
    }


def _put_secret(config: dict[str, Any], name: str, secret: Secret, reveal: bool) -> None:
    if isinstance(secret, SecretRef):
        config[f"{name}_ref"] = secret.name
    else:
        config[name] = secret.value if reveal else MASK


def apply_patch(
    tenant: Tenant,
    patch: Mapping[str, Any],
    now: datetime,
    *,
    alert_http_hosts: tuple[str, ...] = (),
) -> Tenant:
    """JSON merge patch (RFC 7396) over the stored document; "***" leaves a secret unchanged,
    and setting `x_ref` drops an inline `x` (and the other way round)."""
    if not isinstance(patch, Mapping):
        raise ValidationFailed([FieldError("", "the update must be a JSON object")], "tenant")
    if "tenant_id" in patch and patch["tenant_id"] != tenant.tenant_id:
        raise ValidationFailed([FieldError("tenant_id", "cannot be changed")], "tenant")
    current = tenant_document(tenant, reveal_secrets=True)
    merged = _merge(current, _without_masks(patch))
    config = merged.get("config")
    if isinstance(config, dict) and isinstance(patch.get("config"), Mapping):
        _drop_replaced_secrets(config, patch["config"])
    return parse_tenant(
        merged, now, created_at=tenant.created_at, alert_http_hosts=alert_http_hosts
    )


def _without_masks(patch: Mapping[str, Any]) -> dict[str, Any]:
    return {
        k: (_without_masks(v) if isinstance(v, Mapping) else v)
        for k, v in patch.items()
        if v != MASK
    }


def _merge(target: Any, patch: Mapping[str, Any]) -> dict[str, Any]:
    result = dict(target) if isinstance(target, Mapping) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        elif isinstance(value, Mapping):
            result[key] = _merge(result.get(key), value)
        else:
            result[key] = value
    return result


def _drop_replaced_secrets(config: dict[str, Any], patch: Mapping[str, Any]) -> None:
    for name in ("webhook_secret", "callrail_api_key"):
        if patch.get(f"{name}_ref"):
            config.pop(name, None)
        elif patch.get(name) not in (None, MASK):
            config.pop(f"{name}_ref", None)
