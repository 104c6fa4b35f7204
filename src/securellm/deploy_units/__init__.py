"""Deployment files shipped inside the package for ``securellm install-units``.

The systemd units, the sysusers.d/tmpfiles.d rules, the polkit rule of offload's build mode and
the default configs live here as package data; ``deploy/systemd/`` links to the same files.
"""
