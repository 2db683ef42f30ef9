"""Builds the binding residency._residency with the repository's CMake build (pyproject.toml).

The extension is the CMake target `residency_python`; this only drives CMake and copies the
module it makes into the package. RESIDENCY_CMAKE_BUILD_DIR reuses a build tree configured with
-DRESIDENCY_BUILD_PYTHON=ON (CI does, so the library is not compiled twice); otherwise a Release
tree is configured in setuptools' build_temp.
"""
import glob
import os
import shutil
import subprocess
import sys

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


class CMakeBuild(build_ext):
    def build_extension(self, ext):
        build = os.environ.get("RESIDENCY_CMAKE_BUILD_DIR")
        if build:
            build = os.path.abspath(build)
        else:
            build = os.path.abspath(os.path.join(self.build_temp, "cmake"))
            os.makedirs(build, exist_ok=True)
            subprocess.check_call([
                "cmake", "-S", ROOT, "-B", build, "-DCMAKE_BUILD_TYPE=Release",
                "-DRESIDENCY_BUILD_PYTHON=ON", "-DRESIDENCY_BUILD_TESTS=OFF",
                "-DPython3_EXECUTABLE=" + sys.executable])
        jobs = str(os.cpu_count() or 1)
        subprocess.check_call(["cmake", "--build", build, "--target", "residency_python",
                               "-j", jobs])
        built = glob.glob(os.path.join(build, "python", "residency", "_residency*.so"))
        if len(built) != 1:
            raise RuntimeError("expected one residency/_residency*.so in %s/python, found %r"
                               % (build, built))
        target = self.get_ext_fullpath(ext.name)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        shutil.copyfile(built[0], target)


setup(ext_modules=[Extension("residency._residency", sources=[])],
      cmdclass={"build_ext": CMakeBuild})
