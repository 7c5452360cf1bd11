"""Building the widget's code and styles: one function for the wheel, the server and the tests.

The wheel's build step (`setup.py`) runs `write_dist` once, so an installed package serves a
prebuilt `widget_dist/`; a development checkout builds from `widget/` in each process instead.
This module imports nothing from the `server` package (nor Flask): the build step loads it by
its path, in an environment that holds only the build requirements of `pyproject.toml`.

    python -m server.widget_build OUT_DIR      # or: python server/widget_build.py OUT_DIR
"""

from __future__ import annotations

import hashlib
import sys
from dataclasses import dataclass
from pathlib import Path

import rcssmin
from calmjs.parse import es5
from calmjs.parse.exceptions import ECMASyntaxError
from calmjs.parse.unparsers.es5 import minify_print

JS_FILE = "widget.min.js"
CSS_FILE = "widget.min.css"
DIGEST_FILE = "widget.sha256"
# Before the modules, on a line of its own: the modules start on line 2 of the joined code.
PROLOGUE = "(function(CFG,CSS){'use strict';\n"
EPILOGUE = "\n})"


class WidgetBuildError(Exception):
    """The widget's sources cannot be built; the message names the file and the position."""


@dataclass(frozen=True)
class Sources:
    js: str
    css: str
    digest: str


def digest_of(js: str, css: str) -> str:
    return hashlib.sha256((js + "\0" + css).encode()).hexdigest()


def manifest(directory: Path) -> list[str]:
    """The source files, relative to `directory`, in the order of `manifest.txt`; all present."""
    path = directory / "manifest.txt"
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as error:
        raise WidgetBuildError(f"cannot read {path}: {error.strerror}") from None
    names = []
    for number, line in enumerate(lines, 1):
        name = line.strip()
        if not name or name.startswith("#"):
            continue
        if not (directory / name).is_file():
            raise WidgetBuildError(f"{path}:{number}: {name} does not exist")
        names.append(name)
    listed = set(names)
    for pattern in ("src/**/*.js", "styles/**/*.css"):
        for file in sorted(directory.glob(pattern)):
            name = file.relative_to(directory).as_posix()
            if name not in listed:
                raise WidgetBuildError(
                    f"{directory / name} is not listed in {path}, so it would not be shipped"
                )
    return names


def _locate(error: ECMASyntaxError, directory: Path, names: list[str], texts: list[str]) -> str:
    """The parser's message for the first module that is wrong on its own, with its path."""
    for name, text in zip(names, texts, strict=True):
        try:
            es5(text)
        except ECMASyntaxError as own:
            return f"{directory / name}: {own}"
    return f"{error} (lines of the modules of {directory / 'manifest.txt'} joined, from line 2)"


def build_sources(directory: Path) -> Sources:
    """The widget's code and styles, minified, joined in manifest order.

    The JavaScript modules share one function scope, called with the site's configuration and
    the CSS; its names are shortened and nothing leaks to the page. A syntax error raises
    `WidgetBuildError` naming the file, line and column.
    """
    directory = Path(directory)
    names = manifest(directory)
    js_names = [name for name in names if not name.endswith(".css")]
    js_texts = [(directory / name).read_text(encoding="utf-8") for name in js_names]
    css = [
        (directory / name).read_text(encoding="utf-8") for name in names if name.endswith(".css")
    ]
    code = PROLOGUE + "\n".join(js_texts) + EPILOGUE
    try:
        tree = es5(code)
    except ECMASyntaxError as error:
        raise WidgetBuildError(
            "the widget's JavaScript does not parse: "
            + _locate(error, directory, js_names, js_texts)
        ) from None
    js_min = minify_print(tree, obfuscate=True, obfuscate_globals=False).rstrip().rstrip(";")
    css_min = rcssmin.cssmin("\n".join(css))
    return Sources(js_min, css_min, digest_of(js_min, css_min))


def write_dist(directory: Path, out: Path) -> Sources:
    """Build from `directory` and write the prebuilt bundle that an installed package serves."""
    sources = build_sources(directory)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / JS_FILE).write_text(sources.js, encoding="utf-8")
    (out / CSS_FILE).write_text(sources.css, encoding="utf-8")
    (out / DIGEST_FILE).write_text(sources.digest + "\n", encoding="ascii")
    return sources


def read_dist(out: Path) -> Sources:
    """The prebuilt bundle; an incomplete or altered one is an error, not a broken widget."""
    out = Path(out)
    try:
        js = (out / JS_FILE).read_text(encoding="utf-8")
        css = (out / CSS_FILE).read_text(encoding="utf-8")
        digest = (out / DIGEST_FILE).read_text(encoding="ascii").strip()
    except OSError as error:
        raise WidgetBuildError(f"incomplete widget bundle in {out}: {error}") from None
    if digest_of(js, css) != digest:
        raise WidgetBuildError(f"the widget bundle in {out} does not match its {DIGEST_FILE}")
    return Sources(js, css, digest)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1 or argv[0].startswith("-"):
        print("usage: python -m server.widget_build OUT_DIR", file=sys.stderr)
        return 2
    source = Path(__file__).resolve().parent.parent / "widget"
    try:
        sources = write_dist(source, Path(argv[0]))
    except WidgetBuildError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    js, css = len(sources.js.encode()), len(sources.css.encode())
    print(f"{argv[0]}: {js} bytes of JavaScript, {css} bytes of CSS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
