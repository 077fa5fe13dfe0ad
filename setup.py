"""Builds cgrad._C: the C core in csrc/ plus the Cython wrapper, linked to scipy-openblas32."""
import glob
import os
from concurrent.futures import ThreadPoolExecutor

import scipy_openblas32
from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

sanitize = os.environ.get("CGRAD_SANITIZE") == "1"
compile_args = ["-std=gnu11", "-O3", "-fno-strict-aliasing", "-mtls-dialect=gnu2", "-ffp-contract=off", "-fvisibility=hidden", "-fno-semantic-interposition", "-Wall", "-Wno-unused-function"]
link_args = ["-Wl,-rpath,$ORIGIN/../scipy_openblas32/lib"]
if sanitize:
    # ASan + UBSan for tests (docs/reliability.md): -O1 for speed with readable
    # reports; any UB report is fatal; no var-tracking (it triples the
    # compile time of the Cython module and the reports need only lines).
    san = ["-fsanitize=address,undefined", "-fno-sanitize-recover=all"]
    compile_args += ["-O1", "-g", "-fno-var-tracking", "-fno-omit-frame-pointer", *san]
    link_args += san

ext = Extension(
    "cgrad._C",
    sources=["src/cgrad/_C.pyx"] + sorted(glob.glob("csrc/*.c")),
    depends=sorted(glob.glob("csrc/*.h")),  # a changed header rebuilds the module
    include_dirs=["csrc", scipy_openblas32.get_include_dir()],
    library_dirs=[scipy_openblas32.get_lib_dir()],
    libraries=[scipy_openblas32.get_library()],
    define_macros=[("NPY_NO_DEPRECATED_API", "NPY_2_0_API_VERSION")],
    extra_compile_args=compile_args,
    extra_link_args=link_args,
)



class ParallelBuildExt(build_ext):
    """Compiles the extension's sources in parallel, one compiler per core (-j N to choose):
    setuptools' own -j only builds separate extensions side by side, and cgrad has one."""

    def build_extension(self, ext):
        jobs = self.parallel if type(self.parallel) is int and self.parallel > 0 else os.cpu_count() or 1
        compile_one = self.compiler.compile

        def compile_all(sources, *args, **kwargs):
            # The Cython module, by far the longest, is first in the list and starts first.
            with ThreadPoolExecutor(jobs) as pool:
                objects = pool.map(lambda source: compile_one([source], *args, **kwargs), sources)
                return [obj for one in objects for obj in one]

        self.compiler.compile = compile_all
        try:
            super().build_extension(ext)
        finally:
            del self.compiler.compile


setup(
    cmdclass={"build_ext": ParallelBuildExt},
    ext_modules=cythonize(
        [ext],
        language_level=3,
        compiler_directives={"boundscheck": False, "wraparound": False, "embedsignature": True},
    ),
)
