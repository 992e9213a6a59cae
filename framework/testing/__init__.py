"""An offline provider to try labelwise with no key: a real OpenAI-compatible server on
127.0.0.1 that answers what you script, shipped with the package the way httpx ships
MockTransport and pydantic-ai TestModel.

It speaks real HTTP, so a run against it goes through everything a run against a
provider does (the transports, retries, the cache, the results file). Besides OpenAI's
/v1/chat/completions it answers Anthropic's, Gemini's, Ollama's and Azure OpenAI's chat
wires (`wire_url`; the images a request carried on each: `images_in`), OpenAI's Files
and Batches and Anthropic's Message Batches (run.mode=batch; `stub.batches`) and
/v1/embeddings (`stub.embedding_requests`, `embedding_faults`).

From the shell (`python -m framework.testing` takes the same flags):

    labelwise stub --port 8011 --content '{"labels": ["space"]}' --faults e429=0.1
    labelwise classify input=examples/news/items.jsonl provider=openai_compatible \\
        provider.api_base=http://127.0.0.1:8011/v1 model.name=stub

From Python, each request is answered by the next queued `Reply`, else the
`responder(body)`, else `default`; what arrived is kept in `stub.requests`:

    from framework import Classifier
    from framework.testing import Reply, StubServer
    with StubServer(default=Reply(content='{"labels": ["space"]}')) as stub:
        stub.enqueue(Reply(status=429, headers={"Retry-After": "0"}))  # one throttled answer first
        with Classifier.from_config(stub.overrides("taxonomy=news")) as clf:
            print(clf.classify("NASA's probe reaches Europa").labels)  # ('space',), on a retry

`StubServer(prompt_cache=StubPromptCache())` reports cached prompt tokens as each provider
does; `flex_unavailable()` is a flex request's 429 "resource unavailable".

Nothing in framework imports this package; it uses only the package's base modules.
"""

from framework.testing.batches import Fault
from framework.testing.images import colour_answers, image_urls_in, images_in
from framework.testing.prompt_cache import StubPromptCache, flex_unavailable
from framework.testing.reply import Reply, Responder
from framework.testing.server import StubServer
from framework.testing.standalone import FAULTS, fault_mix, main
from framework.testing.wires import WIRES, Received, Wire, wire_url

__all__ = [
    "FAULTS",
    "WIRES",
    "Fault",
    "Received",
    "Reply",
    "Responder",
    "StubPromptCache",
    "StubServer",
    "Wire",
    "colour_answers",
    "fault_mix",
    "flex_unavailable",
    "image_urls_in",
    "images_in",
    "main",
    "wire_url",
]
