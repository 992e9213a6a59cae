"""Layer 6, evaluation: what a finished run is read for. metrics, report (metrics.json,
report.md), calibration (per-label thresholds)."""
