"""The ``securellm`` command: one sub-command group per component."""
