"""Talking to a Label Studio server through label-studio-sdk (`pip install 'labelwise[review]'`).

    project = push_tasks(url, api_key, export)         # a new project with the tasks
    tasks = pull_export(url, api_key, project)         # its JSON export, parsed

The key is a Label Studio access token (its Account & Settings page), read from
$LABEL_STUDIO_API_KEY by the CLI; it is never written to a file.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from framework.errors import ConfigError, LabelwiseError

if TYPE_CHECKING:
    from framework.evaluation.review.tasks import TaskExport

__all__ = ["StudioError", "pull_export", "push_tasks"]

T = TypeVar("T")


class StudioError(LabelwiseError):
    """The Label Studio server could not be reached or refused a request."""


def _client(url: str, api_key: str) -> Any:
    try:
        from label_studio_sdk import LabelStudio
    except ImportError:
        raise ConfigError(
            "talking to Label Studio needs label-studio-sdk: pip install 'labelwise[review]' "
            "(or import tasks.json in Label Studio's own page)"
        ) from None
    if not api_key:
        raise ConfigError(
            "no Label Studio key: set LABEL_STUDIO_API_KEY to the access token of your "
            "Label Studio account (Account & Settings)"
        )
    return LabelStudio(base_url=url.rstrip("/"), api_key=api_key)  # type: ignore[no-untyped-call]


def _call(url: str, what: str, call: Callable[[], T]) -> T:
    import httpx

    try:
        return call()
    except httpx.HTTPError as error:
        raise StudioError(f"cannot reach Label Studio at {url} ({error}); is it running?") from None
    except Exception as error:  # the SDK's ApiError, whose module moves between releases
        status = getattr(error, "status_code", None)
        if status in (401, 403):
            raise ConfigError(
                f"Label Studio at {url} refused the key (HTTP {status}); set "
                "LABEL_STUDIO_API_KEY to a valid access token"
            ) from None
        if status is None:
            raise
        body = str(getattr(error, "body", ""))[:300]
        raise StudioError(f"Label Studio at {url} could not {what}: HTTP {status} {body}") from None


def push_tasks(url: str, api_key: str, export: TaskExport, *, title: str | None = None) -> int:
    """Create a project with the export's labeling config and import its tasks; its id."""
    client = _client(url, api_key)
    project = _call(
        url,
        "create the project",
        lambda: client.projects.create(
            title=(title or export.project_title)[:50], label_config=export.label_config
        ),
    )
    _call(
        url,
        "import the tasks",
        lambda: client.projects.import_tasks(id=project.id, request=export.task_list),
    )
    return int(project.id)


def pull_export(url: str, api_key: str, project: int) -> list[Any]:
    """The project's annotated tasks, as Label Studio's JSON export."""
    client = _client(url, api_key)
    chunks = _call(
        url,
        "export the project",
        lambda: b"".join(client.projects.exports.download_sync(project, export_type="JSON")),
    )
    try:
        data = json.loads(chunks)
    except (ValueError, RecursionError):  # not JSON, not UTF-8, or nested past the stack
        raise StudioError(
            f"Label Studio at {url} sent an export that is not readable JSON"
        ) from None
    if not isinstance(data, list):
        raise StudioError(f"Label Studio at {url} sent an export that is not a list of tasks")
    return data
