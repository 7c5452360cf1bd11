"""The wheel's build step: the widget is minified once here and shipped as package data.

Everything else is in pyproject.toml. `pip wheel .` (or `pip install .`) runs `build_py`, which
writes `server/widget_dist/` into the wheel from `widget/` with the same function the server
uses in a development checkout (`server/widget_build.py`); a syntax error fails the build.
An editable install (`pip install -e .`) skips it: the server builds from `widget/` instead.
"""

import functools
import importlib.util
import sys
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent


@functools.cache
def _widget_build():
    # By path: the `server` package imports Flask, which the build environment does not have.
    spec = importlib.util.spec_from_file_location(
        "_widget_build", HERE / "server" / "widget_build.py"
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while it executes
    spec.loader.exec_module(module)
    return module


class BuildPyWithWidget(build_py):
    def run(self):
        super().run()
        if self.editable_mode:
            return
        module = _widget_build()
        out = self._widget_dist()
        try:
            module.write_dist(HERE / "widget", out)
        except module.WidgetBuildError as error:
            raise SystemExit(f"error: {error}") from None
        self.announce(f"built the widget into {out}", level=2)

    def _widget_dist(self):
        return Path(self.build_lib) / "server" / "widget_dist"

    def get_outputs(self, include_bytecode=True):
        outputs = super().get_outputs(include_bytecode)
        if self.editable_mode:
            return outputs
        module = _widget_build()
        return outputs + [str(self._widget_dist() / name) for name in module.DIST_FILES]


setup(cmdclass={"build_py": BuildPyWithWidget})
