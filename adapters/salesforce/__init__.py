"""Salesforce REST: the CrmGateway for tenants whose crm_config type is "salesforce"."""

from adapters.salesforce.gateway import (
    DEFAULT_API_VERSION,
    SUGGESTED_BURST,
    SUGGESTED_RATE_PER_S,
    SalesforceCrmGateway,
)
from adapters.salesforce.token import SalesforceTokenCache

__all__ = [
    "DEFAULT_API_VERSION",
    "SUGGESTED_BURST",
    "SUGGESTED_RATE_PER_S",
    "SalesforceCrmGateway",
    "SalesforceTokenCache",
]
