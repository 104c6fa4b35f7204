"""The web dashboard at ``/ui/``: server-rendered pages over the gateway's own services.

The gateway only mounts it (:func:`securellm.dashboard.app.mount`). Pages read through the
services the admin API uses (key store, spend ledger, audit query, offload client, the
knowledge store), never the tables directly.
"""
