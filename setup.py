"""pip install of the `vdiv` Python package (no network: Debian's setuptools and pybind11-dev).

  /usr/bin/python3 -m pip install --no-build-isolation .

builds the module with the project's CMake (pybind11, DLPack, CUDA when nvcc is found) and
installs it with the pure-Python files of python/vdiv. docs/python-api.md has the details.
"""
import os
import re
import shutil
import subprocess
import sys

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

ROOT = os.path.dirname(os.path.abspath(__file__))


def version():
    """The one version number, from include/vdiv/version.hpp."""
    text = open(os.path.join(ROOT, "include", "vdiv", "version.hpp")).read()
    return ".".join(re.search(r"VDIV_VERSION_%s (\d+)" % part, text).group(1)
                    for part in ("MAJOR", "MINOR", "PATCH"))


class CMakeBuild(build_ext):
    def build_extension(self, ext):
        build = os.path.abspath(os.path.join(self.build_temp, "cmake"))
        cuda = os.environ.get("VDIV_CUDA", "AUTO")
        subprocess.check_call(["cmake", "-S", ROOT, "-B", build, "-DCMAKE_BUILD_TYPE=Release",
                               "-DVDIV_BUILD_TESTS=OFF", "-DVDIV_BUILD_BENCH=OFF",
                               "-DVDIV_BUILD_EXAMPLES=OFF", "-DVDIV_INSTALL=OFF", "-DVDIV_PYTHON=ON",
                               "-DVDIV_CUDA=" + cuda, "-DPython_EXECUTABLE=" + sys.executable])
        subprocess.check_call(["cmake", "--build", build, "--target", "vdiv_python", "-j",
                               os.environ.get("VDIV_JOBS", "2")])
        built = os.path.join(build, "python", "vdiv")
        module = next(f for f in os.listdir(built) if f.startswith("_vdiv") and f.endswith(".so"))
        target = self.get_ext_fullpath(ext.name)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        shutil.copyfile(os.path.join(built, module), target)


setup(
    name="vdiv",
    version=version(),
    description="View diversity for self-supervised learning: keyed view samplers and batched EMD",
    license="MIT",
    packages=["vdiv"],
    package_dir={"": "python"},
    ext_modules=[Extension("vdiv._vdiv", sources=[])],
    cmdclass={"build_ext": CMakeBuild},
    python_requires=">=3.9",
    install_requires=["numpy"],
    zip_safe=False,
)
