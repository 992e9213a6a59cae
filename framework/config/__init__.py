"""Layer 1, config: typed schemas of the config groups (schema, run_settings, taxonomy_schema,
label_spec), their structural checks (taxonomy_checks) and their loading from Hydra
(load, origins). Nothing here knows a provider or a model."""
