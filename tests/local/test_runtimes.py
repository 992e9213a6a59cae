"""Which llama.cpp runs the local model and why, and how many processes, threads and slots:
chosen from what is installed, the CPU and the cores; a runtime that cannot run here is a
config error that names the extra to install."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from framework.config.schema import LocalServerSettings
from framework.errors import ConfigError
from framework.providers.local import layout, runtimes
from framework.providers.local.layout import choose_layout
from framework.providers.local.models import ModelFile
from framework.providers.local.runtimes import choose_runtime, cpu_flags, missing_cpu_features
from framework.providers.local.server import LocalServer

AVX2_CPU = frozenset({"sse3", "avx", "avx2", "fma", "f16c", "bmi2"})
OLD_CPU = frozenset({"sse3", "sse4_2", "avx"})  # Sandy Bridge: AVX, no AVX2


Pretend = Callable[[frozenset[str]], None]
Only = Callable[..., None]


@pytest.fixture
def cpu(monkeypatch: pytest.MonkeyPatch) -> Pretend:
    """Make the CPU look like one with `flags`, on x86-64."""

    def pretend(flags: frozenset[str]) -> None:
        monkeypatch.setattr(runtimes.platform, "machine", lambda: "x86_64")
        monkeypatch.setattr(runtimes, "cpu_flags", lambda: flags)

    return pretend


@pytest.fixture
def installed(monkeypatch: pytest.MonkeyPatch) -> Only:
    """Make the named runtimes, and only those, count as installed (whether or not this
    machine has them: CI has no llama-cpp-python)."""

    def only(*names: str) -> None:
        for runtime in runtimes.RUNTIMES.values():
            monkeypatch.setattr(type(runtime), "installed", lambda self: self.name in names)

    return only


def test_cpu_flags_are_read_from_proc_cpuinfo(tmp_path: Path) -> None:
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nflags\t\t: fpu sse3 avx avx2 fma\n\nprocessor\t: 1\n")
    assert cpu_flags(cpuinfo) == {"fpu", "sse3", "avx", "avx2", "fma"}
    assert cpu_flags(tmp_path / "missing") is None


def test_a_cpu_without_avx2_lacks_what_the_prebuilt_wheel_needs(cpu: Pretend) -> None:
    cpu(OLD_CPU)
    assert missing_cpu_features() == ("avx2", "fma", "f16c", "bmi2")
    cpu(AVX2_CPU)
    assert missing_cpu_features() == ()


def test_auto_takes_the_prebuilt_llama_cpp_where_it_runs(cpu: Pretend, installed: Only) -> None:
    cpu(AVX2_CPU)
    installed("xllamacpp", "llama_cpp_python")
    choice = choose_runtime("auto")
    assert choice.runtime.name == "xllamacpp"
    assert choice.reason == "the prebuilt llama.cpp of the [local] extra"
    assert choice.version == "2026.10.11549"


def test_auto_takes_the_source_build_on_a_cpu_without_avx2(cpu: Pretend, installed: Only) -> None:
    cpu(OLD_CPU)
    installed("xllamacpp", "llama_cpp_python")
    choice = choose_runtime("auto")
    assert choice.runtime.name == "llama_cpp_python"
    assert "this CPU lacks AVX2" in choice.reason


def test_a_cpu_without_avx2_and_no_source_build_names_the_opt_in_extra(
    cpu: Pretend, installed: Only
) -> None:
    cpu(OLD_CPU)
    installed("xllamacpp")
    with pytest.raises(ConfigError) as auto:
        choose_runtime("auto")
    with pytest.raises(ConfigError) as asked:
        choose_runtime("xllamacpp")
    for error in (auto.value, asked.value):
        message = str(error)
        assert "\n" not in message
        assert "this CPU lacks AVX2, FMA, F16C, BMI2" in message
        assert 'pip install "labelwise[local-source]"' in message
    assert str(asked.value).startswith("provider.local.runtime=xllamacpp: ")


def test_no_runtime_installed_says_which_extra_to_install(cpu: Pretend, installed: Only) -> None:
    cpu(AVX2_CPU)
    installed()
    with pytest.raises(ConfigError, match=r'pip install "labelwise\[local\]" \(a prebuilt'):
        choose_runtime("auto")
    with pytest.raises(ConfigError, match=r"runtime=llama_cpp_python: it is not installed; pip"):
        choose_runtime("llama_cpp_python")
    server = LocalServer(ModelFile(Path("m.gguf"), "0" * 64), LocalServerSettings(), alias="m")
    with pytest.raises(ConfigError, match=r"labelwise\[local\]"):
        server.start()
    assert server.urls == []
    assert server.describe()["name"] is None  # the record says why, the run stops at its call


def test_the_layout_is_one_single_thread_process_per_core_up_to_four(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def chosen(cores: int, **settings: object) -> tuple[int, int, int]:
        monkeypatch.setattr(layout, "usable_cores", lambda: cores)
        found = choose_layout(LocalServerSettings.model_validate(settings), runtime="xllamacpp")
        return found.processes, found.threads, found.slots

    assert chosen(1) == (1, 1, 1)
    assert chosen(2) == (2, 1, 1)  # measured: 0.49 rows/s against 0.18 for 1 x 2 threads
    assert chosen(4) == (4, 1, 1)
    assert chosen(16) == (4, 4, 1)
    assert chosen(2, parallel=1) == (1, 2, 1)
    assert chosen(8, n_threads=4, slots=2) == (4, 1, 2)


def test_slots_multiply_the_context_and_need_the_xllamacpp_runtime() -> None:
    settings = LocalServerSettings(slots=3, n_ctx=1024, parallel=1)
    assert choose_layout(settings, runtime="xllamacpp").n_ctx == 3072  # 1024 for each slot
    with pytest.raises(ConfigError, match=r"provider\.local\.slots=3: llama-cpp-python"):
        choose_layout(settings, runtime="llama_cpp_python")
