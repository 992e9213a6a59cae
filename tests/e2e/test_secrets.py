"""No configured secret reaches stderr, a log, a results row or any file labelwise writes,
even when the provider echoes the key back in its error."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from framework.secrets import ScrubbingStream, redact_url, register_secret, scrub
from framework.testing import Reply, StubServer
from tests.support import REPO, stub_overrides, write_jsonl

KEY = "sk-live-0123456789abcdefSECRET"
PASSWORD = "hunter2-url-password"


def labelwise(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True", **env}
    return subprocess.run(
        [sys.executable, "-m", "framework", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=full,
        timeout=240,
    )


def assert_nowhere(folder: Path, *secrets: str) -> None:
    files = [path for path in folder.rglob("*") if path.is_file()]
    assert files
    for secret in secrets:
        leaks = [str(path) for path in files if secret.encode() in path.read_bytes()]
        assert not leaks, f"{secret} found in {leaks}"


def test_scrub_hides_registered_secrets_and_url_passwords() -> None:
    register_secret("tok-abcdef-123456")
    assert scrub("bad key tok-abcdef-123456 given") == "bad key *** given"
    assert redact_url("see http://ann:pw1234@host:8/v1 now") == "see http://ann:***@host:8/v1 now"
    assert scrub("https://x:y@h/") == "https://x:***@h/"


def test_the_stderr_wrapper_scrubs_a_secret_written_in_pieces_and_passes_the_rest() -> None:
    register_secret(KEY)
    inner = io.StringIO()
    stream = ScrubbingStream(inner)
    stream.write("key: " + KEY[:7])
    stream.write(KEY[7:] + " at http://ann:pw999@h/v1\nnext")
    assert inner.getvalue() == "key: *** at http://ann:***@h/v1\n"
    stream.write("\rprogress 50%")
    stream.flush()  # a progress bar's redraw goes out at once
    assert inner.getvalue().endswith("\nnext\rprogress 50%")
    assert stream.getvalue() == inner.getvalue()  # the rest is the wrapped stream's


@pytest.mark.slow
def test_a_key_echoed_in_an_auth_error_is_written_nowhere(stub: StubServer, tmp_path: Path) -> None:
    stub.default = Reply(status=401, error=f"Incorrect API key provided: {KEY}")
    run = tmp_path / "run"
    source = write_jsonl(tmp_path / "in.jsonl", [{"id": "a", "text": "x"}])
    result = labelwise(
        "classify",
        f"input={source}",
        *stub_overrides(stub),
        f"hydra.run.dir={run}",
        LABELWISE_API_KEY=KEY,
    )
    assert result.returncode == 2
    assert "refused the credentials" in result.stderr
    assert KEY not in result.stderr and KEY not in result.stdout
    assert "Incorrect API key provided: ***" in result.stderr
    assert_nowhere(run, KEY)
    assert stub.authorizations[-1] == f"Bearer {KEY}"  # it was sent, only never written


@pytest.mark.slow
def test_a_key_echoed_in_row_errors_is_scrubbed_from_rows_reports_and_reproductions(
    stub: StubServer, tmp_path: Path
) -> None:
    stub.default = Reply(status=400, error=f"bad request for key {KEY}")
    run = tmp_path / "run"
    source = write_jsonl(tmp_path / "in.jsonl", [{"id": "a", "text": "x", "labels": ["space"]}])
    result = labelwise(
        "classify",
        f"input={source}",
        *stub_overrides(stub),
        f"provider.api_key={KEY}",
        f"hydra.run.dir={run}",
    )
    assert result.returncode == 0, result.stderr
    row = json.loads((run / "results.jsonl").read_text())
    assert row["status"] == "failed" and "bad request for key ***" in row["error"]
    assert KEY not in result.stderr
    assert_nowhere(run, KEY)
    again = labelwise(
        "reproduce", str(run), "--out", str(tmp_path / "again"), LABELWISE_API_KEY=KEY
    )
    assert KEY not in again.stdout + again.stderr
    assert_nowhere(tmp_path / "again", KEY)


@pytest.mark.slow
def test_credentials_in_the_api_base_are_redacted(stub: StubServer, tmp_path: Path) -> None:
    stub.default = Reply(content=json.dumps({"labels": ["space"]}))
    run = tmp_path / "run"
    source = write_jsonl(tmp_path / "in.jsonl", [{"id": "a", "text": "x"}])
    base = stub.url.replace("http://", f"http://ann:{PASSWORD}@")
    overrides = [o for o in stub_overrides(stub) if not o.startswith("provider.api_base")]
    result = labelwise(
        "classify",
        f"input={source}",
        *overrides,
        f"provider.api_base={base}",
        f"hydra.run.dir={run}",
    )
    assert result.returncode == 0, result.stderr
    assert PASSWORD not in result.stderr
    assert_nowhere(run, PASSWORD)
    record = json.loads((run / "record.json").read_text())
    assert record["model"]["api_base"] == stub.url.replace("http://", "http://ann:***@")


def test_cfg_job_prints_keys_masked() -> None:
    result = labelwise("classify", f"provider.api_key={KEY}", "--cfg", "job")
    assert result.returncode == 0, result.stderr
    assert KEY not in result.stdout and "api_key: '***'" in result.stdout
    resolved = labelwise(
        "classify", "provider.api_key=${oc.env:MY_CRED}", "--cfg", "job", "--resolve", MY_CRED=KEY
    )
    assert resolved.returncode == 0, resolved.stderr
    assert KEY not in resolved.stdout and "api_key: '***'" in resolved.stdout
    hydra = labelwise("classify", f"provider.api_key={KEY}", "--cfg", "hydra")
    assert hydra.returncode == 0 and KEY not in hydra.stdout
