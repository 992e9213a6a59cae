"""Which llama.cpp serves the local model, and why.

    choice = choose_runtime("auto")   # RuntimeChoice(runtime, version, reason)
    choice.runtime.command(Launch(model, alias, layout, port, ready, logprobs))

Two runtimes speak the same OpenAI wire on 127.0.0.1:

- xllamacpp: a prebuilt llama.cpp (34 MB manylinux wheel, no dependencies, built for
  x86-64 with AVX2) with llama.cpp's own C++ server; the [local] extra installs it in
  seconds. It binds a port the kernel picks and writes its address to a file
  (framework/providers/local/serve_xllamacpp.py), so no other program can take the port
  between our choice and its bind.
- llama_cpp_python: llama-cpp-python's Python server, built from source by the opt-in
  [local-source] extra (about 5 minutes on 2 cores), for CPUs the wheel cannot run.

auto takes xllamacpp where it is installed and the CPU has what its wheel needs, else
llama-cpp-python; a runtime that cannot run here is a ConfigError naming what to install.
"""

from __future__ import annotations

import functools
import importlib.util
import platform
import sys
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Literal

from framework.errors import ConfigError
from framework.providers.local.layout import Layout

__all__ = [
    "RUNTIMES",
    "Launch",
    "Runtime",
    "RuntimeChoice",
    "choose_runtime",
    "missing_cpu_features",
]

RuntimeName = Literal["xllamacpp", "llama_cpp_python"]
PREBUILT_INSTALL = 'pip install "labelwise[local]"'
SOURCE_INSTALL = (
    'pip install "labelwise[local-source]" (builds llama.cpp from source for this CPU, '
    "about 5 minutes on 2 cores)"
)
# The x86-64 instructions xllamacpp's Linux wheel is built with (its get_system_info():
# AVX2, F16C, FMA, BMI2); a CPU without one of them dies of SIGILL at the first answer.
PREBUILT_CPU_FEATURES = ("avx2", "fma", "f16c", "bmi2")
_SERVE_XLLAMACPP = Path(__file__).with_name("serve_xllamacpp.py")


@dataclass(frozen=True)
class Launch:
    """What one server process is started with."""

    model: Path
    alias: str
    layout: Layout
    port: int  # 0 for a runtime that picks its own
    ready: Path  # where such a runtime reports its address
    logprobs: bool  # llama-cpp-python: keep the logits log-probabilities need


@dataclass(frozen=True)
class Runtime:
    name: RuntimeName
    distribution: str  # the package whose version is recorded
    modules: tuple[str, ...]  # what must be importable for its server to start
    install: str
    picks_port: bool  # True: it binds a port the kernel chooses and reports it
    compact_answers: bool  # True: labelwise sends a whitespace-free JSON grammar
    crash_hint: str  # what to do when its server dies of SIGILL, SIGSEGV or SIGBUS
    build: Callable[[Launch], list[str]]

    def command(self, launch: Launch) -> list[str]:
        """The command that starts one server process."""
        return self.build(launch)

    def version(self) -> str | None:
        try:
            return metadata.version(self.distribution)
        except metadata.PackageNotFoundError:
            return None

    def installed(self) -> bool:
        return all(importlib.util.find_spec(module) is not None for module in self.modules)


@dataclass(frozen=True)
class RuntimeChoice:
    runtime: Runtime
    version: str | None
    reason: str

    def describe(self) -> dict[str, str | None]:
        return {"name": self.runtime.name, "version": self.version, "reason": self.reason}


def _xllamacpp_command(launch: Launch) -> list[str]:
    # It picks its port; its logprobs cost nothing until a request asks for them.
    return [
        sys.executable,
        "-P",  # the script's folder stays off sys.path: no module of ours shadows another
        str(_SERVE_XLLAMACPP),
        "--model",
        str(launch.model),
        "--alias",
        launch.alias,
        "--n-ctx",
        str(launch.layout.n_ctx),
        "--slots",
        str(launch.layout.slots),
        "--threads",
        str(launch.layout.threads),
        "--ready",
        str(launch.ready),
    ]


def _llama_cpp_python_command(launch: Launch) -> list[str]:
    threads = str(launch.layout.threads)
    return [
        sys.executable,
        "-m",
        "llama_cpp.server",
        "--model",
        str(launch.model),
        "--model_alias",
        launch.alias,
        "--host",
        "127.0.0.1",
        "--port",
        str(launch.port),
        "--n_ctx",
        str(launch.layout.n_ctx),
        "--n_threads",
        threads,
        "--n_threads_batch",
        threads,
        "--use_mlock",
        "False",  # mmap is enough; mlock of 1 GB fails under small limits
        # logits for every token are what logprobs need; without them a schema-constrained
        # answer is 2.5-4x faster (measured: benchmarks/local_server_start.py)
        "--logits_all",
        str(launch.logprobs),
        "--verbose",
        "True",  # the log then says why a model failed to load
    ]


RUNTIMES: dict[RuntimeName, Runtime] = {
    "xllamacpp": Runtime(
        "xllamacpp",
        "xllamacpp",
        ("xllamacpp",),
        PREBUILT_INSTALL,
        picks_port=True,
        compact_answers=True,
        crash_hint=(
            "the prebuilt llama.cpp may use an instruction this CPU lacks: install the source "
            f"build, {SOURCE_INSTALL}, and set provider.local.runtime=llama_cpp_python"
        ),
        build=_xllamacpp_command,
    ),
    "llama_cpp_python": Runtime(
        "llama_cpp_python",
        "llama_cpp_python",
        ("llama_cpp", "uvicorn", "fastapi", "sse_starlette", "starlette_context"),
        SOURCE_INSTALL,
        picks_port=False,
        # its schema-to-grammar converter already writes one line with single spaces
        compact_answers=False,
        crash_hint=(
            "a llama.cpp built for another CPU (-march=native) can crash in a VM that does not "
            "enable all of its instructions (AMX): reinstall it portably with "
            "CMAKE_ARGS=-DGGML_NATIVE=OFF pip install --no-cache-dir --force-reinstall "
            '--no-deps "llama-cpp-python==0.3.36"'
        ),
        build=_llama_cpp_python_command,
    ),
}


def choose_runtime(setting: str) -> RuntimeChoice:
    """The runtime provider.local.runtime asks for (auto: the best one here), or a
    ConfigError that says what to install."""
    prebuilt, source = RUNTIMES["xllamacpp"], RUNTIMES["llama_cpp_python"]
    lacking = missing_cpu_features()
    if setting == "xllamacpp":
        if lacking:
            raise ConfigError(
                f"provider.local.runtime=xllamacpp: {_lacks(lacking)}; install the source "
                f"build, {SOURCE_INSTALL}, and set provider.local.runtime=auto"
            )
        return _chosen(prebuilt, "set in provider.local.runtime")
    if setting == "llama_cpp_python":
        return _chosen(source, "set in provider.local.runtime")
    if prebuilt.installed() and not lacking:
        return _chosen(prebuilt, "the prebuilt llama.cpp of the [local] extra")
    if source.installed():
        why = _lacks(lacking) if lacking else "xllamacpp is not installed"
        return _chosen(source, f"llama-cpp-python, as {why}")
    if lacking:
        raise ConfigError(
            f"provider=local: {_lacks(lacking)}; install the source build: {SOURCE_INSTALL}"
        )
    raise ConfigError(
        f"provider=local needs llama.cpp, and none is installed: {PREBUILT_INSTALL} (a prebuilt "
        f"wheel, seconds); on a CPU without AVX2: {SOURCE_INSTALL}"
    )


def _chosen(runtime: Runtime, reason: str) -> RuntimeChoice:
    if not runtime.installed():
        raise ConfigError(
            f"provider.local.runtime={runtime.name}: it is not installed; {runtime.install}"
        )
    return RuntimeChoice(runtime, runtime.version(), reason)


def _lacks(features: tuple[str, ...]) -> str:
    return (
        f"this CPU lacks {', '.join(feature.upper() for feature in features)}, which the "
        "prebuilt llama.cpp wheel (xllamacpp) needs"
    )


def missing_cpu_features() -> tuple[str, ...]:
    """The instructions the prebuilt wheel needs that this CPU lacks (x86-64 Linux only:
    the macOS and ARM wheels are built for their own CPUs)."""
    if platform.machine().lower() not in ("x86_64", "amd64"):
        return ()
    flags = cpu_flags()
    if flags is None:
        return ()  # cannot tell (no /proc/cpuinfo): let the server say
    return tuple(feature for feature in PREBUILT_CPU_FEATURES if feature not in flags)


@functools.cache
def cpu_flags(cpuinfo: Path = Path("/proc/cpuinfo")) -> frozenset[str] | None:
    try:
        text = cpuinfo.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "flags":
            return frozenset(value.split())
    return None
