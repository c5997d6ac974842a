"""HubSpot CRM v3: the CrmGateway for tenants whose crm_config type is "hubspot"."""

from adapters.hubspot.gateway import (
    SUGGESTED_BURST,
    SUGGESTED_RATE_PER_S,
    HubSpotCrmGateway,
    HubSpotSettings,
)

__all__ = ["SUGGESTED_BURST", "SUGGESTED_RATE_PER_S", "HubSpotCrmGateway", "HubSpotSettings"]
