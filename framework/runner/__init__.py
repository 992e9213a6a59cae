"""Layer 5, runner: classifying files. run (rows in flight, exactly once), inputs (JSONL, CSV,
Parquet), journal (append, resume, export) and claim (one run per output), progress,
sampling, estimate (labelwise plan), run_record (record.json)."""
