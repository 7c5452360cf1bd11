"""Building the widget's code and styles: one function for the wheel, the server and the tests.

The wheel's build step (`setup.py`) runs `write_dist` once, so an installed package serves a
prebuilt `widget_dist/`; a development checkout builds from `widget/` in each process instead.
This module imports nothing from the `server` package (nor Flask): the build step loads it by
its path, in an environment that holds only the build requirements of `pyproject.toml`.

    python -m server.widget_build OUT_DIR      # or: python server/widget_build.py OUT_DIR
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import rcssmin
from calmjs.parse import asttypes, es5
from calmjs.parse.exceptions import ECMASyntaxError
from calmjs.parse.unparsers.es5 import minify_print

JS_FILE = "widget.min.js"
CSS_FILE = "widget.min.css"
PART_FILE = "widget.part.min.js"
DIGEST_FILE = "widget.sha256"
DIST_FILES = (JS_FILE, CSS_FILE, PART_FILE, DIGEST_FILE)
# Before the modules, on a line of its own: the modules start on line 2 of the joined code.
PROLOGUE = "(function(CFG,CSS){'use strict';\n"
EPILOGUE = "\n})"
# The manifest line that starts the part loaded on the first "Customize" (the preferences).
PART_SECTION = "[preferences]"
# The part's script calls the loader that the first file put on its <script> element with a
# function of the first file's names it uses (in a fixed order) and of its own stylesheet; the
# function returns the part's `PART` object. src/core/parts.js holds the other end.
PART_PROLOGUE = "document.currentScript.pcPart(function(PART_CSS{args}){{'use strict';\n"
PART_EPILOGUE = "\nreturn PART;}},{css})"
# Placeholders in the first file's code that the build fills in: the part's names in order and
# its path on the server (content-addressed, so that it can be cached for good).
PART_ARGS = "PART_ARGS"
PART_PATH = "PART_PATH"
IDENTIFIER = re.compile(r"[A-Za-z_$][\w$]*")


class WidgetBuildError(Exception):
    """The widget's sources cannot be built; the message names the file and the position."""


@dataclass(frozen=True)
class Sources:
    js: str  # the first file's code, called by the server with the site's config and `css`
    css: str
    part: str  # the preferences' script, code and styles, the same for every site
    digest: str

    @property
    def part_path(self) -> str:
        return part_path(self.part)


def digest_of(js: str, css: str, part: str) -> str:
    return hashlib.sha256((js + "\0" + css + "\0" + part).encode()).hexdigest()


def part_path(part: str) -> str:
    return "/w/p/" + hashlib.sha256(part.encode()).hexdigest()[:20] + ".js"


def manifest(directory: Path) -> list[str]:
    """The source files, relative to `directory`, in the order of `manifest.txt`; all present.

    The `[preferences]` line is kept in the list: what follows it is the second part."""
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
        if name == PART_SECTION:
            if name in names:
                raise WidgetBuildError(f"{path}:{number}: {name} twice")
            names.append(name)
            continue
        if not (directory / name).is_file():
            raise WidgetBuildError(f"{path}:{number}: {name} does not exist")
        names.append(name)
    if PART_SECTION not in names:
        raise WidgetBuildError(f"{path}: no {PART_SECTION} line (the part loaded on Customize)")
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


def _parse(code: str, directory: Path, names: list[str], texts: list[str]):
    try:
        return es5(code)
    except ECMASyntaxError as error:
        raise WidgetBuildError(
            "the widget's JavaScript does not parse: " + _locate(error, directory, names, texts)
        ) from None


def _minify(tree) -> str:
    return minify_print(tree, obfuscate=True, obfuscate_globals=False).rstrip().rstrip(";")


def top_level_names(texts: list[str]) -> set[str]:
    """The functions and variables that modules declare at their top level."""
    names = set()
    for text in texts:
        for node in es5(text):
            if isinstance(node, asttypes.FuncDecl):
                names.add(node.identifier.value)
            elif isinstance(node, asttypes.VarStatement):
                names.update(decl.identifier.value for decl in node.children())
    return names


def _css(directory: Path, names: list[str]) -> str:
    texts = [(directory / name).read_text(encoding="utf-8") for name in names]
    return rcssmin.cssmin("\n".join(texts))


def build_sources(directory: Path) -> Sources:
    """The widget's two files, minified: the first load, and the preferences' part.

    Each file's JavaScript modules share one function scope and are joined in manifest order;
    names are shortened and nothing leaks to the page. The first file is called with the site's
    configuration and its CSS. The part (after `[preferences]`) gets the first file's names
    that it uses as arguments, so its code reads as if it were in the same scope: they are the
    values at the time it loads (share functions and objects, not variables that change). A
    syntax error raises `WidgetBuildError` naming the file, line and column.
    """
    directory = Path(directory)
    names = manifest(directory)
    split = names.index(PART_SECTION)
    first, rest = names[:split], names[split + 1 :]
    first_js = [name for name in first if not name.endswith(".css")]
    part_js = [name for name in rest if not name.endswith(".css")]
    first_texts = [(directory / name).read_text(encoding="utf-8") for name in first_js]
    part_texts = [(directory / name).read_text(encoding="utf-8") for name in part_js]
    # Each module parses on its own first, so that an error names its file.
    _parse("\n".join(part_texts), directory, part_js, part_texts)
    _parse("\n".join(first_texts), directory, first_js, first_texts)

    own = top_level_names(part_texts)
    if "PART" not in own:
        raise WidgetBuildError(f"the part after {PART_SECTION} does not declare `var PART`")
    # Every identifier of the part that names something of the first file (or CFG), and that
    # the part does not declare itself; a word in a string or a property costs one argument.
    used = set(IDENTIFIER.findall("\n".join(part_texts)))
    shared = sorted((used & (top_level_names(first_texts) | {"CFG"})) - own)
    part_css = _css(directory, [name for name in rest if name.endswith(".css")])
    part_code = (
        PART_PROLOGUE.format(args="".join("," + name for name in shared))
        + "\n".join(part_texts)
        + PART_EPILOGUE.format(css=json.dumps(part_css, ensure_ascii=False))
    )
    part = _minify(_parse(part_code, directory, part_js, part_texts)) + ";\n"

    code = PROLOGUE + "\n".join(first_texts) + EPILOGUE
    code = code.replace(PART_ARGS, ",".join(shared)).replace(PART_PATH, json.dumps(part_path(part)))
    js_min = _minify(_parse(code, directory, first_js, first_texts))
    css_min = _css(directory, [name for name in first if name.endswith(".css")])
    return Sources(js_min, css_min, part, digest_of(js_min, css_min, part))


def write_dist(directory: Path, out: Path) -> Sources:
    """Build from `directory` and write the prebuilt bundle that an installed package serves."""
    sources = build_sources(directory)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / JS_FILE).write_text(sources.js, encoding="utf-8")
    (out / CSS_FILE).write_text(sources.css, encoding="utf-8")
    (out / PART_FILE).write_text(sources.part, encoding="utf-8")
    (out / DIGEST_FILE).write_text(sources.digest + "\n", encoding="ascii")
    return sources


def read_dist(out: Path) -> Sources:
    """The prebuilt bundle; an incomplete or altered one is an error, not a broken widget."""
    out = Path(out)
    try:
        js = (out / JS_FILE).read_text(encoding="utf-8")
        css = (out / CSS_FILE).read_text(encoding="utf-8")
        part = (out / PART_FILE).read_text(encoding="utf-8")
        digest = (out / DIGEST_FILE).read_text(encoding="ascii").strip()
    except OSError as error:
        raise WidgetBuildError(f"incomplete widget bundle in {out}: {error}") from None
    if digest_of(js, css, part) != digest:
        raise WidgetBuildError(f"the widget bundle in {out} does not match its {DIGEST_FILE}")
    return Sources(js, css, part, digest)


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
    part = len(sources.part.encode())
    print(
        f"{argv[0]}: {js} bytes of JavaScript, {css} bytes of CSS, "
        f"{part} bytes of the preferences' part"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
