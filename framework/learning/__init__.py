"""What is fit on labeled rows: the trained model and its ensembles, the cascade's gate,
the examples index, distillation's teacher, and their artifacts (never pickles). The
engine reaches these through its components (framework/engine/components/)."""
