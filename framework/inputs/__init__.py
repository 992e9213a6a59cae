"""Layer 2, inputs: the rows a run reads. readers (one reader per input kind: JSONL, CSV,
Parquet, chosen by READERS), rows (InputRow, and a decoded record made into one), pools
(a pool's labeled rows, for what learns from them)."""
