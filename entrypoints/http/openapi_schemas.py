"""The JSON Schemas of GET /v1/openapi.json (components.schemas): the documents api.md describes
(the call, the tenant, the stats), the bodies the routes accept (the tenant document, CallRail's
webhooks, Pub/Sub's push) and the problems.

Strict where a client relies on it: the keys every answer carries are required, with their
types, and a secret always reads "***". Open where the product grows: objects take keys not
listed here, so a field added to the call or the tenant breaks no client that validates."""

from __future__ import annotations

from typing import Any

from domain.alerts import AlertStatus
from domain.alerts_document import DESTINATION_KEYS, DESTINATION_TYPES, RULE_KEYS
from domain.results import Intent, Sentiment, SyncStatus, Tier, Urgency
from domain.retention import MAX_DAYS, RETENTION_KEYS
from domain.stages import RESTARTABLE, STATUSES, Stage
from domain.tenant import (
    AI_SETTINGS,
    CRM_SETTINGS,
    CRM_TYPES,
    MASK,
    MAX_CONTEXT,
    SECRET_SETTING,
)
from domain.tenant import STATUSES as TENANT_STATUSES
from entrypoints.http.problem_types import INVALID_REQUEST, PROBLEM_TYPES, ProblemType

Schema = dict[str, Any]

TIME: Schema = {"type": "string", "format": "date-time"}
TEXT: Schema = {"type": "string"}
# Inline credentials in crm_config, by name, as domain.tenant masks them.
TENANT_ID: Schema = {"type": "string", "pattern": "^[a-z0-9][a-z0-9_-]{0,62}$"}


def ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def nullable(schema: Schema) -> Schema:
    """`schema` or null (JSON Schema 2020-12: a list of types)."""
    if "$ref" in schema:
        return {"anyOf": [schema, {"type": "null"}]}
    if "enum" in schema:
        return {**schema, "enum": [*schema["enum"], None]}
    kind = schema["type"]
    return {**schema, "type": [*(kind if isinstance(kind, list) else [kind]), "null"]}


def record(properties: dict[str, Schema], *, optional: dict[str, Schema] | None = None) -> Schema:
    """An object whose `properties` are always present; `optional` ones may be; others allowed."""
    return {
        "type": "object",
        "required": list(properties),
        "properties": {**properties, **(optional or {})},
    }


def problem_schema_name(kind: ProblemType) -> str:
    return f"Problem-{kind.name}"


def _problem_kind(kind: ProblemType) -> Schema:
    schema: Schema = {
        "description": f"{kind.title} ({kind.status}): {kind.meaning}.",
        "allOf": [ref("Problem")],
        "properties": {
            "type": {"const": kind.uri},
            "title": {"const": kind.title},
            "status": {"const": kind.status},
        },
    }
    if kind is INVALID_REQUEST:
        schema["required"] = ["errors"]
    return schema


PROBLEM: Schema = {
    "description": "An error (RFC 9457). `type` names its kind; each kind is listed in the "
    "Problem-* schemas. No problem ever echoes a secret or a stack trace.",
    "type": "object",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string", "enum": [k.uri for k in PROBLEM_TYPES]},
        "title": TEXT,
        "status": {"type": "integer", "minimum": 400, "maximum": 599},
        "detail": TEXT,
        "errors": {
            "description": "Each offending field (invalid-request only).",
            "type": "array",
            "items": record({"field": TEXT, "message": TEXT}),
        },
    },
}

CRM_CONFIG_OUT: Schema = {
    "type": "object",
    "required": ["type"],
    "properties": {"type": {"enum": list(CRM_TYPES)}},
    "patternProperties": {SECRET_SETTING.pattern: {"const": MASK}},
    "description": 'The CRM\'s settings by type; credentials inline always read "***", '
    "credentials by reference (`*_ref`) show the secret's name.",
}

AI_CONFIG: Schema = {
    "type": "object",
    "properties": {
        "lead_scoring_threshold": {"type": "integer", "minimum": 0, "maximum": 100},
        "analysis_model": {"type": "string", "minLength": 1},
        "business_context": {"type": "string", "maxLength": MAX_CONTEXT},
        "questions": {
            "description": "The tenant's own questions, answered by the LLM analyzers into the"
            " call's analysis.answers.",
            "type": "array",
            "maxItems": 20,
            "items": {
                "type": "object",
                "required": ["key", "question"],
                "properties": {
                    "key": {"type": "string", "pattern": "^[a-z][a-z0-9_]{0,39}$"},
                    "question": {"type": "string", "minLength": 1, "maxLength": 500},
                    "type": {"enum": ["text", "number", "boolean", "choice"]},
                    "choices": {"type": "array", "items": TEXT, "maxItems": 20},
                },
            },
        },
    },
}

RETENTION: Schema = {
    "description": "Days a finished call keeps its recording, and its transcript and analysis "
    "(with the webhook's raw body and the score reasons' words); absent or null: kept. The "
    "metadata and the score stay until the call is deleted. Another key is refused by name.",
    "type": "object",
    "properties": {
        key: nullable({"type": "integer", "minimum": 1, "maximum": MAX_DAYS})
        for key in RETENTION_KEYS
    },
}

ALERT_RECORD: Schema = {
    "description": "One destination's hot-lead alert for this call, sent once (docs/tenants.md).",
    **record(
        {
            "destination": TEXT,
            "type": {"enum": list(DESTINATION_TYPES)},
            "status": {"enum": [s.value for s in AlertStatus]},
            "at": TIME,
            "attempts": {"type": "integer", "minimum": 0},
            "error": nullable(TEXT),
        }
    ),
}
ALERTS_CONFIG: Schema = {
    "description": "Hot-lead alerts: Slack incoming webhooks or signed HTTPS webhooks, and the"
    " rules that send them (default: score above 90 or tier hot, never spam). URLs and secrets"
    ' are written inline (read back as "***") or as `*_ref`; another key is refused by name.',
    "type": "object",
    "properties": {
        "destinations": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["type"],
                "properties": {
                    "type": {"enum": list(DESTINATION_TYPES)},
                    **{
                        key: TEXT
                        for keys in DESTINATION_KEYS.values()
                        for key in keys
                        if key != "type"
                    },
                },
            },
        },
        "rules": {
            "type": "array",
            "items": {
                "type": "object",
                "minProperties": 1,
                "properties": {
                    "min_score": {"type": "integer", "minimum": 0, "maximum": 100},
                    "tiers": {"type": "array", "items": {"enum": [t.value for t in Tier]}},
                    "intents": {"type": "array", "items": {"enum": [i.value for i in Intent]}},
                },
                "propertyNames": {"enum": list(RULE_KEYS)},
            },
        },
    },
}

TENANT_CONFIG: Schema = {
    "type": "object",
    "required": ["callrail_company_id", "crm_config", "ai_config", "redact_pii"],
    "properties": {
        "callrail_company_id": TEXT,
        "callrail_account_id": TEXT,
        "webhook_secret": {"const": MASK},
        "webhook_secret_ref": TEXT,
        "callrail_api_key": {"const": MASK},
        "callrail_api_key_ref": TEXT,
        "crm_config": CRM_CONFIG_OUT,
        "ai_config": {
            **AI_CONFIG,
            "required": [k for k in AI_CONFIG["properties"] if k != "questions"],  # when set
        },
        "redact_pii": {"type": "boolean"},
        "retention": RETENTION,
        "alerts": ALERTS_CONFIG,
    },
    "anyOf": [{"required": ["webhook_secret"]}, {"required": ["webhook_secret_ref"]}],
}

TENANT: Schema = {
    "description": 'A tenant as every read shows it: secrets written inline read "***".',
    **record(
        {
            "tenant_id": TENANT_ID,
            "name": TEXT,
            "status": {"enum": list(TENANT_STATUSES)},
            "config": TENANT_CONFIG,
            "created_at": TIME,
            "updated_at": TIME,
        }
    ),
}

SECRET_IN: Schema = {"type": "string", "minLength": 1}
SECRET_REF: Schema = {"type": "string", "pattern": "^[A-Za-z0-9_./-]{1,255}$"}

TENANT_CONFIG_IN: Schema = {
    "type": "object",
    "required": ["callrail_company_id"],
    "properties": {
        "callrail_company_id": {"type": ["string", "integer"]},
        "callrail_account_id": TEXT,
        "webhook_secret": {**SECRET_IN, "description": "CallRail's signing key (write-only)"},
        "webhook_secret_ref": {**SECRET_REF, "description": "or its name in the secret store"},
        "callrail_api_key": SECRET_IN,
        "callrail_api_key_ref": SECRET_REF,
        "crm_config": {
            "type": "object",
            "properties": {"type": {"enum": list(CRM_TYPES)}},
            "description": "The CRM and its settings; credentials inline (write-only) or as "
            "`*_ref`. Without `type`: none, or hubspot when the deployment guide's "
            "`hubspot_api_key_secret` is given. A key the type does not read is refused by "
            "name. "
            + "; ".join(
                f"{t} takes {', '.join(keys) or 'nothing'}" for t, keys in CRM_SETTINGS.items()
            ),
        },
        "ai_config": {
            **AI_CONFIG,
            "description": f"Takes {', '.join(AI_SETTINGS)}; another key is refused by name.",
        },
        "redact_pii": {"type": "boolean", "default": True},
        "retention": RETENTION,
        "alerts": ALERTS_CONFIG,
    },
    "anyOf": [{"required": ["webhook_secret"]}, {"required": ["webhook_secret_ref"]}],
}

TENANT_IN: Schema = {
    "description": "The tenant document (api.md): what `tenants create --file` and POST "
    "/v1/tenants take. Every offending field is answered at once, in `errors`.",
    "type": "object",
    "required": ["tenant_id", "name", "config"],
    "properties": {
        "tenant_id": TENANT_ID,
        "name": {"type": "string", "minLength": 1, "maxLength": 200},
        "status": {"enum": list(TENANT_STATUSES), "default": "active"},
        "config": TENANT_CONFIG_IN,
    },
}

TENANT_PATCH: Schema = {
    "description": "A JSON merge patch (RFC 7396) over the tenant document: null removes a key, "
    '"***" leaves a secret as it is, and setting `x_ref` drops an inline `x` (and the other '
    "way round). tenant_id cannot change.",
    "type": "object",
    "properties": {
        "tenant_id": TENANT_ID,
        "name": TEXT,
        "status": {"enum": list(TENANT_STATUSES)},
        "config": {"type": "object"},
    },
}

STAGE: Schema = {"enum": [s.value for s in Stage]}

METADATA: Schema = record(
    {
        "caller": nullable({**TEXT, "description": "E.164"}),
        "caller_name": nullable(TEXT),
        "direction": {"enum": ["inbound", "outbound"]},
        "duration_s": nullable({"type": "integer", "minimum": 0}),
        "answered": nullable({"type": "boolean"}),
        "first_call": nullable({"type": "boolean"}),
        "voicemail": {"type": "boolean"},
        "source": nullable(TEXT),
        "tracking_number": nullable(TEXT),
        "business_number": nullable(TEXT),
        "started_at": nullable(TIME),
        "landing_page_url": nullable(TEXT),
    }
)

RECORDING: Schema = record(
    {
        "uri": {**TEXT, "description": "gs://… or file://…"},
        "bytes": {"type": "integer", "minimum": 0},
        "sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
        "content_type": TEXT,
        "duration_s": nullable({"type": "number"}),
        "redacted": {"type": "boolean"},
    }
)

TRANSCRIPT: Schema = record(
    {
        "engine": TEXT,
        "language": TEXT,
        "redacted": {"type": "boolean"},
        "text": TEXT,
        "audio_duration_s": nullable({"type": "number"}),
        "segments": {
            "type": "array",
            "items": record(
                {
                    "speaker": TEXT,
                    "start_s": {"type": "number", "minimum": 0},
                    "end_s": {"type": "number", "minimum": 0},
                    "text": TEXT,
                }
            ),
        },
    }
)

ANALYSIS: Schema = record(
    {
        "engine": TEXT,
        "summary": TEXT,
        "intent": {"enum": [i.value for i in Intent]},
        "sentiment": {"enum": [s.value for s in Sentiment]},
        "urgency": {"enum": [u.value for u in Urgency]},
        "service_requested": nullable(TEXT),
        "appointment_booked": {"type": "boolean"},
        "caller_name": nullable(TEXT),
        "caller_email": nullable(TEXT),
        "is_spam": {"type": "boolean"},
        "is_existing_customer": {"type": "boolean"},
        "key_phrases": {"type": "array", "items": TEXT},
        "answers": {
            "description": "The tenant's ai_config.questions answered, by key: text, number,"
            " boolean or one of the choices; null where the call does not tell, the answer was"
            " not of its type, or the analyzer cannot answer (rules).",
            "type": "object",
            "additionalProperties": {"type": ["string", "number", "boolean", "null"]},
        },
        "evidence": {
            "description": "By signal (intent, booking, urgency, sentiment, service,"
            " caller_name, caller_email, price_shopping, spam): the words that show it, verbatim"
            " from the redacted transcript, and when they were said.",
            "type": "object",
            "additionalProperties": record(
                {"quote": TEXT, "at_s": nullable({"type": "number", "minimum": 0})}
            ),
        },
    },
    optional={
        "notes": {
            "description": "What the analyzer could not do (the rules analyzer: custom questions).",
            "type": "array",
            "items": TEXT,
        },
        "tokens": {
            "description": "LLM tokens the analysis cost, when a model produced it.",
            **record({"input": {"type": "integer"}, "output": {"type": "integer"}}),
        },
    },
)

LEAD_SCORE: Schema = record(
    {
        "score": {"type": "integer", "minimum": 0, "maximum": 100},
        "tier": {"enum": [t.value for t in Tier]},
        "qualified": {"type": "boolean"},
        "threshold": {"type": "integer", "minimum": 0, "maximum": 100},
        "version": TEXT,
        "reasons": {
            "type": "array",
            "items": record(
                {
                    "factor": TEXT,
                    "points": {"type": "integer"},
                    "detail": TEXT,
                    "quote": {
                        **nullable(TEXT),
                        "description": "The words behind the reason, verbatim from the redacted"
                        " transcript; null for a reason read from the call's metadata.",
                    },
                    "at_s": {
                        **nullable({"type": "number", "minimum": 0}),
                        "description": "When the quote was said, seconds into the recording.",
                    },
                }
            ),
        },
    }
)

CRM_SYNC: Schema = record(
    {
        "type": TEXT,
        "status": {"enum": [s.value for s in SyncStatus]},
        "contact_id": nullable(TEXT),
        "activity_id": nullable(TEXT),
        "attempts": {"type": "integer", "minimum": 0},
        "error": nullable(TEXT),
    }
)

MONEY: Schema = {"type": "number", "minimum": 0, "description": "US dollars, to a millionth"}
COST: Schema = {
    "description": "What it cost at the price table's list prices (entrypoints/prices.toml, or"
    " PIPELINE_PRICES_FILE over it), by item: an estimate before free tiers and discounts.",
    **record(
        {
            "total_usd": MONEY,
            "currency": {"const": "USD"},
            "items": {
                "type": "array",
                "items": record(
                    {"item": TEXT, "units": {"type": "number"}, "unit": TEXT, "usd": MONEY}
                ),
            },
        }
    ),
}

CALL: Schema = {
    "description": "A call in full (api.md). A part not produced yet (or skipped) is null; "
    "`timeline` says which stages ran and which were skipped.",
    **record(
        {
            "tenant_id": TENANT_ID,
            "call_id": TEXT,
            "status": {"enum": list(STATUSES)},
            "stage": STAGE,
            "received_at": TIME,
            "completed_at": nullable(TIME),
            "processing_time_ms": nullable({"type": "integer", "minimum": 0}),
            "attempts": {"type": "integer", "minimum": 0},
            "metadata": METADATA,
            "recording": nullable(RECORDING),
            "transcript": nullable(TRANSCRIPT),
            "analysis": nullable(ANALYSIS),
            "lead_score": nullable(LEAD_SCORE),
            "crm_sync": nullable(CRM_SYNC),
            "alerts": {"type": "array", "items": ALERT_RECORD},
            "failure": nullable(
                record({"stage": STAGE, "reason": TEXT, "transient": {"type": "boolean"}})
            ),
            "timeline": {
                "type": "array",
                "items": record(
                    {"stage": STAGE, "at": TIME, "duration_ms": nullable({"type": "integer"})},
                    optional={"skipped": {"const": True}, "note": TEXT},
                ),
            },
            "cost": COST,
        }
    ),
}

CALL_PAGE: Schema = record(
    {
        "calls": {
            "type": "array",
            "items": record(
                {
                    "call_id": TEXT,
                    "status": {"enum": list(STATUSES)},
                    "stage": STAGE,
                    "received_at": TIME,
                    "completed_at": nullable(TIME),
                    "duration_s": nullable({"type": "integer"}),
                    "source": nullable(TEXT),
                    "intent": nullable({"enum": [i.value for i in Intent]}),
                    "score": nullable({"type": "integer"}),
                    "tier": nullable({"enum": [t.value for t in Tier]}),
                }
            ),
        },
        "next_page_token": nullable(
            {**TEXT, "description": "pass as page_token for the next page; null on the last"}
        ),
    }
)

USAGE: Schema = record(
    {
        "audio_seconds": {"type": "number"},
        "llm_tokens_in": {"type": "integer"},
        "llm_tokens_out": {"type": "integer"},
        "crm_api_calls": {"type": "integer"},
        "stored_bytes": {"type": "integer"},
    }
)
COUNT: Schema = {"type": "integer", "minimum": 0}
RATE: Schema = nullable({"type": "number", "minimum": 0, "maximum": 1})

STATS: Schema = record(
    {
        "tenant_id": TENANT_ID,
        "since": nullable(TIME),
        "until": nullable(TIME),
        "requests": COUNT,
        "completed": COUNT,
        "failed": COUNT,
        "in_progress": COUNT,
        "success_rate": RATE,
        "processing_time_ms": record(
            {
                "count": COUNT,
                "mean": nullable({"type": "number"}),
                "p95": nullable({"type": "number"}),
            }
        ),
        "crm_sync": {
            "description": "By CRM type: calls by sync status, and the success rate.",
            "type": "object",
            "additionalProperties": {
                "type": "object",
                "properties": {"success_rate": RATE},
                "additionalProperties": COUNT,
            },
        },
        "lead_tiers": {"type": "object", "additionalProperties": COUNT},
        "failures_by_stage": {"type": "object", "additionalProperties": COUNT},
        "answers": {
            "description": "Per choice or boolean question: calls by answer (yes/no or the"
            " choice) and `unanswered`.",
            "type": "object",
            "additionalProperties": {"type": "object", "additionalProperties": COUNT},
        },
        "usage": {
            "allOf": [USAGE],
            **record(
                {
                    "by_day": {
                        "type": "array",
                        "items": {"allOf": [USAGE], **record({"day": {"format": "date", **TEXT}})},
                    }
                }
            ),
        },
        "cost": {
            "allOf": [COST],
            **record(
                {
                    "by_day": {
                        "type": "array",
                        "items": record({"day": {"format": "date", **TEXT}, "usd": MONEY}),
                    },
                    "by_month": {
                        "type": "array",
                        "items": record(
                            {"month": {"pattern": "^[0-9]{4}-[0-9]{2}$", **TEXT}, "usd": MONEY}
                        ),
                    },
                }
            ),
        },
    }
)

COMPONENT_HEALTH: Schema = {
    "description": "One dependency: its status, a detail when there is one, and its figures.",
    **record({"status": TEXT}, optional={"detail": TEXT}),
}

HEALTH: Schema = record(
    {
        "status": {"enum": ["healthy", "degraded", "unhealthy"]},
        "timestamp": TIME,
        "version": TEXT,
        "services": record(
            {
                name: COMPONENT_HEALTH
                for name in ("database", "storage", "speech_api", "vertex_ai", "queue")
            }
        ),
    }
)

WEBHOOK_ANSWER: Schema = record(
    {
        "tenant_id": TENANT_ID,
        "call_id": TEXT,
        "status": {"enum": list(STATUSES)},
        "stage": STAGE,
        "duplicate": {
            "type": "boolean",
            "description": "true: an identical call was already "
            "accepted; this answer is its state and nothing changed",
        },
    },
    optional={
        "change": {
            "enum": ["metadata", "spam", "recording"],
            "description": "a Call Modified applied to a stored call: `recording` runs it "
            "again from the recording (202), `spam` scores it again (202), "
            "`metadata` stored it (200)",
        }
    },
)

# CallRail sends numbers and booleans as strings as often as not.
LOOSE_INTEGER: Schema = {"type": ["integer", "string"]}
LOOSE_BOOLEAN: Schema = {"type": ["boolean", "string", "integer"]}
ID: Schema = {"type": ["string", "integer"]}

CALLRAIL_CALL: Schema = {
    "description": "CallRail's post-call (or pre-call, call-modified) webhook body, read "
    "defensively: the call's id is `resource_id` (CAL…), the legacy numeric `id`, or "
    "`call_id`; the company is `company_resource_id` (COM…) or `company_id`; numbers and "
    "booleans may be strings. Unknown fields are kept with the call, never refused.",
    "type": "object",
    "properties": {
        "resource_id": TEXT,
        "id": ID,
        "company_resource_id": TEXT,
        "company_id": ID,
        "customer_phone_number": TEXT,
        "customer_name": TEXT,
        "direction": {"type": "string", "description": "inbound or outbound (any case)"},
        "duration": LOOSE_INTEGER,
        "answered": LOOSE_BOOLEAN,
        "first_call": LOOSE_BOOLEAN,
        "voicemail": LOOSE_BOOLEAN,
        "source": TEXT,
        "tracking_phone_number": TEXT,
        "business_phone_number": TEXT,
        "start_time": TEXT,
        "landing_page_url": TEXT,
        "recording": {
            "type": ["string", "null"],
            "description": "a URL that redirects to an MP3; absent or null for a missed call",
        },
        "changes": {
            "type": ["array", "object", "string"],
            "description": "Call Modified only (its presence tells it from a post-call body): "
            "the fields whose change sent it (tags, note, value, transcription_text, "
            "recording_duration, ...); the call object's fields hold the new values",
        },
        "spam": {**LOOSE_BOOLEAN, "description": "true: marked spam in CallRail; scored spam"},
    },
    "anyOf": [{"required": ["resource_id"]}, {"required": ["id"]}, {"required": ["call_id"]}],
}

FLAT_WEBHOOK: Schema = {
    "description": "The flat form of the operations runbook's load test.",
    "type": "object",
    "required": ["call_id"],
    "properties": {
        "call_id": ID,
        "caller_id": TEXT,
        "duration": LOOSE_INTEGER,
        "answered": LOOSE_BOOLEAN,
        "tenant_id": TEXT,
        "callrail_company_id": ID,
        "recording_url": TEXT,
        "timestamp": TEXT,
    },
}

PUSH_ENVELOPE: Schema = {
    "description": "A Pub/Sub push: the job is message.data (base64 JSON with job_id, "
    "tenant_id, call_id, enqueued_at); keys Pub/Sub adds later are ignored.",
    **record(
        {
            "message": record(
                {
                    "data": {"type": "string", "contentEncoding": "base64"},
                    "messageId": TEXT,
                    "publishTime": TIME,
                },
                optional={"attributes": {"type": "object", "additionalProperties": TEXT}},
            ),
            "subscription": {"type": "string", "pattern": "^projects/[^/]+/subscriptions/"},
        },
        optional={"deliveryAttempt": {"type": "integer", "minimum": 1}},
    ),
}

REPROCESS: Schema = {
    "type": "object",
    "properties": {
        "from_stage": {
            "description": "the first stage to run again, in any case; by default the failed "
            "stage, or the whole pipeline",
            "enum": [*RESTARTABLE, *(s.lower() for s in RESTARTABLE)],
        }
    },
}

DELETED: Schema = {
    "description": "What went, by kind: tenants, calls, jobs, objects (audio), api_keys, "
    "usage_days.",
    "type": "object",
    "additionalProperties": {"type": "integer", "minimum": 0},
}
DELETION_SCHEMAS: dict[str, Schema] = {
    "CallDeletion": record({"tenant_id": TENANT_ID, "call_id": TEXT, "deleted": DELETED}),
    "TenantDeletion": record(
        {
            "tenant_id": TENANT_ID,
            "deleted": DELETED,
            "secrets_left": {
                "description": "Secret store entries the tenant named: left there, to delete "
                "unless something else uses them.",
                "type": "array",
                "items": TEXT,
            },
        }
    ),
    "Expiry": record(
        {
            "tenant_id": TENANT_ID,
            "dry_run": {"type": "boolean"},
            "calls": {
                "type": "array",
                "items": record(
                    {
                        "call_id": TEXT,
                        "recording": {"type": "boolean"},
                        "transcript": {"type": "boolean"},
                        "objects": {"type": "integer", "minimum": 0},
                    }
                ),
            },
            "changed_meanwhile": {"type": "integer", "minimum": 0},
        }
    ),
    "DeletionList": record(
        {
            "deletions": {
                "type": "array",
                "items": record(
                    {
                        "record_id": TEXT,
                        "at": TIME,
                        "actor": {
                            **TEXT,
                            "description": "cli:USER, http:operator, retention-sweep",
                        },
                        "action": {
                            "enum": [
                                "call.deleted",
                                "tenant.calls_deleted",
                                "tenant.deleted",
                                "call.recording_expired",
                                "call.content_expired",
                            ]
                        },
                        "tenant_id": TENANT_ID,
                        "subject": nullable({**TEXT, "description": "sha256: of tenant/call id"}),
                        "counts": DELETED,
                    }
                ),
            }
        }
    ),
}

SCHEMAS: dict[str, Schema] = {
    "Call": CALL,
    "CallPage": CALL_PAGE,
    "Tenant": TENANT,
    "TenantDocument": TENANT_IN,
    "TenantPatch": TENANT_PATCH,
    "TenantList": record({"tenants": {"type": "array", "items": ref("Tenant")}}),
    "ApiKey": record({"tenant_id": TENANT_ID, "api_key": {**TEXT, "description": "shown once"}}),
    "Stats": STATS,
    "Health": HEALTH,
    "Ready": record({"status": {"enum": ["ready", "not_ready"]}, "database": COMPONENT_HEALTH}),
    "Live": record({"status": {"const": "alive"}}),
    "WebhookAnswer": WEBHOOK_ANSWER,
    "CallRailCall": CALLRAIL_CALL,
    "FlatWebhook": FLAT_WEBHOOK,
    "PushEnvelope": PUSH_ENVELOPE,
    "Reprocess": REPROCESS,
    **DELETION_SCHEMAS,
    "Problem": PROBLEM,
    **{problem_schema_name(kind): _problem_kind(kind) for kind in PROBLEM_TYPES},
}
