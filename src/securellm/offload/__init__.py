"""offload: the VRAM-aware local model manager (registry, estimator, scheduler, API)."""
