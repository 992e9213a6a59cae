"""`labelwise serve`: an HTTP service labeling rows with one config (docs/serve.md).

protocol.py  the request body and the OpenAPI description
service.py   the driver: rows through the run's engine, bounded, on time
stats.py     what is counted, and /metrics
app.py       the aiohttp routes, the token, and shutdown by draining
"""
