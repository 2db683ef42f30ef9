"""The package under test is the one the environment says: with RESIDENCY_INSTALLED_PREFIX (set by
the CI step that pip-installs into a fresh venv), the installed copy, whole."""
import os
import pathlib

import pytest

import residency


def test_the_installed_package_is_the_one_tested() -> None:
    prefix = os.environ.get("RESIDENCY_INSTALLED_PREFIX")
    if not prefix:
        pytest.skip("not the installed-package run (RESIDENCY_INSTALLED_PREFIX is unset)")
    here = pathlib.Path(residency.__file__).resolve()
    assert pathlib.Path(prefix).resolve() in here.parents, here
    binding = list(here.parent.glob("_residency*.so"))
    assert len(binding) == 1, binding
    assert (here.parent / "dask.py").exists()
    assert callable(residency.load_policies)  # the binding is what the package exports
