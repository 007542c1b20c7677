"""Only the compiled hot path (docs/decisions/0006-compiled-hot-path.md); everything else about
the package is in pyproject.toml."""

from Cython.Build import cythonize
from setuptools import Extension, setup

setup(ext_modules=cythonize(
    [Extension("escapevelocity.domain.hotpath", ["src/escapevelocity/domain/hotpath.pyx"])],
    compiler_directives={"language_level": 3}, quiet=True))
