"""Only the compiled kernels (docs/decisions/0007-one-text-of-the-rules.md); everything else
about the package is in pyproject.toml."""

import hashlib
from pathlib import Path

from Cython.Build import cythonize
from setuptools import Extension, setup

SOURCE = "src/escapevelocity/domain/hotpath.pyx"
# Baked into the extension: enrich.py compares it with the hash of the hotpath.pyx beside it
# and refuses a build from another source (file times say nothing after a checkout or a copy).
DIGEST = hashlib.sha256((Path(__file__).parent / SOURCE).read_bytes()).hexdigest()

setup(ext_modules=cythonize(
    [Extension("escapevelocity.domain.hotpath", [SOURCE])],
    compiler_directives={"language_level": 3}, quiet=True,
    compile_time_env={"BUILT_FROM_SHA256": DIGEST}, force=True))
