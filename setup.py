"""The compiled parts (docs/decisions/0007-one-text-of-the-rules.md); everything else about the
package is in pyproject.toml.

- hotpath.pyx: the kernels, the hot loops with no decision in them.
- the rules (domain/compiled.py `RULES`: enrich.py, severity.py, language.py, tone.py): their one Python
  text compiled as it is. Cython reads a copy under build/ that ends with two lines more, the
  call that checks the build against the .py it came from (compiled.keep_or_replace); the copy
  is a build product, never edited.
"""

import hashlib
from pathlib import Path

from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext
from setuptools.command.build_py import build_py

ROOT = Path(__file__).parent
DOMAIN = "src/escapevelocity/domain"
SOURCE = f"{DOMAIN}/hotpath.pyx"
RULES = ("severity", "language", "tone", "enrich")  # = compiled.RULES


def sha256(path: str) -> str:
    return hashlib.sha256((ROOT / path).read_bytes()).hexdigest()


def rules_build(name: str) -> Extension:
    """An extension of a rule module, compiled from a copy of its .py that ends by checking
    itself against the .py beside it when imported (a stale build must not run)."""
    source = f"{DOMAIN}/{name}.py"
    copy = ROOT / "build" / "rules" / f"{name}.py"
    copy.parent.mkdir(parents=True, exist_ok=True)
    copy.write_text((ROOT / source).read_text(encoding="utf-8") + (
        "\n\nfrom escapevelocity.domain.compiled import keep_or_replace as _keep_or_replace\n"
        f"_keep_or_replace(__name__, {sha256(source)!r})\n"), encoding="utf-8")
    return Extension(f"escapevelocity.domain.{name}", [str(copy.relative_to(ROOT))])


EXTENSIONS = [Extension("escapevelocity.domain.hotpath", [SOURCE]), *map(rules_build, RULES)]


def translate(extensions: list[Extension]) -> None:
    """Cython, once per build, when a build needs its output (not each time setup.py is loaded:
    one wheel loads it three times, for the build requirements, the metadata and the wheel,
    and Cython at load time translated all four modules each of the three times, ~3.5 s CPU
    each here). The extensions keep their identity (setuptools has annotated them); only
    their sources become the C files."""
    pending = [ext for ext in extensions if not all(name.endswith(".c") for name in ext.sources)]
    if not pending:
        return
    # hotpath's hash is baked in as a Cython compile-time constant: enrich.py compares it with
    # the hash of the hotpath.pyx beside it and refuses a build from another source (file times
    # say nothing after a checkout or a copy).
    translated = {ext.name: ext for ext in cythonize(
        pending,
        # annotation_typing off: the rules' annotations stay annotations (no C types), so the
        # compiled rules keep Python's semantics exactly.
        compiler_directives={"language_level": 3, "annotation_typing": False}, quiet=True,
        compile_time_env={"BUILT_FROM_SHA256": sha256(SOURCE)}, force=True)}
    for ext in pending:
        ext.sources = translated[ext.name].sources


class BuildPy(build_py):
    def run(self) -> None:
        # First: the manifest it reads lists hotpath.c (below), shipped as package data as
        # when Cython ran at load, and a name whose file is not there yet is dropped.
        translate(self.distribution.ext_modules)
        super().run()


class BuildExt(build_ext):
    """The four C files compiled side by side, one gcc per core unless --parallel says
    otherwise (hotpath.c and enrich.c take most of the time)."""

    def finalize_options(self) -> None:
        if self.parallel is None:
            self.parallel = True  # = os.cpu_count() workers
        super().finalize_options()

    def get_source_files(self) -> list[str]:
        # What the manifest lists, without running Cython for a list: the C file Cython writes
        # beside each source.
        return [str(Path(name).with_suffix(".c")) for name in super().get_source_files()]

    def build_extensions(self) -> None:
        translate(self.extensions)
        super().build_extensions()


setup(ext_modules=EXTENSIONS, cmdclass={"build_py": BuildPy, "build_ext": BuildExt})
