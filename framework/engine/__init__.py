"""Layer 4, engine: one item in, one Prediction out. engine (build_engine, Engine.classify_item),
conversation (ask, read, re-ask), strategies, prompt, readings and confidence, text_fit,
identity; classifier is the public facade over an engine and its transport stack."""
