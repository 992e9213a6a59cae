"""Provider batch jobs (run.mode=batch): half-price bulk calls, answered within a day.

jobs           the record of every job in the cache database (survives a kill -9)
spool          compiled requests -> the provider's JSONL files, split at its limits
apis           what a provider's batch API does for labelwise (the BatchApi protocol)
openai_api     OpenAI's Files and Batches, through litellm
anthropic_api  Anthropic's Message Batches, through the anthropic SDK
providers      which providers have one: a new batch API is a module and a line here
steps          a job taken through upload, create, look and read, each step once
payers         which run records what an answer cost: exactly one run record
manifest       batch_jobs.json read back by `labelwise batch`: what in it is trusted
"""
