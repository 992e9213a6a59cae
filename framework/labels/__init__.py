"""Layer 2, labels: what a run makes of a taxonomy. label_set (the labels on offer and every
rule between them, built once), validate (one answer -> a Verdict), decide (per-label
confidence -> labels), thresholds, taxonomy (ids and content hash), lint."""
