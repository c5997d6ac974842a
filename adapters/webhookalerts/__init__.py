"""Hot-lead alerts to a tenant's own HTTPS endpoint, signed; and the guarded HTTP transport
every alert sender posts through."""
