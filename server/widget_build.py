"""Building the widget's code and styles: one function for the wheel, the server and the tests.

The widget's sources are small modules that import what they use, in a subset of JavaScript
modules that this file resolves itself (pure Python, no Node):

    import { h } from '../utils/dom.js';      // names another module exports
    import '../../styles/banner.css';          // a stylesheet this module's markup needs
    export function showBanner() { ... }       // `export function NAME` or `export var NAME`

Two entry points make two files: `src/main.js` the first load (/w/<site>.js), and
`src/modals/preferences.js` the part fetched on the first "Customize". Each file's modules are
joined (dependencies first) into one function scope and minified; the part gets the names it
imports from the first file's modules as arguments.

The wheel's build step (`setup.py`) runs `write_dist` once, so an installed package serves a
prebuilt `widget_dist/`; a development checkout builds from `widget/` in each process instead.
This module imports nothing from the `server` package (nor Flask): the build step loads it by
its path, in an environment that holds only the build requirements of `pyproject.toml`.

    python -m server.widget_build OUT_DIR      # or: python server/widget_build.py OUT_DIR
"""

from __future__ import annotations

import hashlib
import json
import posixpath
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

import rcssmin
from calmjs.parse import asttypes, es5
from calmjs.parse.exceptions import ECMASyntaxError
from calmjs.parse.unparsers.es5 import minify_print
from calmjs.parse.walkers import Walker

JS_FILE = "widget.min.js"
CSS_FILE = "widget.min.css"
PART_FILE = "widget.part.min.js"
DIGEST_FILE = "widget.sha256"
DIST_FILES = (JS_FILE, CSS_FILE, PART_FILE, DIGEST_FILE)
ENTRY = "src/main.js"
PART_ENTRY = "src/modals/preferences.js"
# Before the modules, on a line of its own. CFG and CSS are the only names a module may use
# without importing them: the server calls the first file with the site's config and its CSS.
PROLOGUE = "(function(CFG,CSS){'use strict';\n"
EPILOGUE = "\n})"
# The part's script calls the loader that the first file put on its <script> element with a
# function of its own stylesheet and of the first file's names it imports (in a fixed order);
# the function returns the part entry's `PART` object. src/core/parts.js holds the other end.
PART_PROLOGUE = "document.currentScript.pcPart(function(PART_CSS{args}){{'use strict';\n"
PART_EPILOGUE = "\nreturn PART;}},{css})"
GIVEN = {"CFG", "CSS", "PART_CSS"}
# Placeholders in the first file's code that the build fills in: the part's names in order and
# its path on the server (content-addressed, so that it can be cached for good).
PART_ARGS = "PART_ARGS"
PART_PATH = "PART_PATH"
IMPORT = re.compile(r"^import\s*(?:\{([^}]*)\}\s*from\s*)?'([^'\n]+)';?[ \t]*$", re.M)
EXPORT = re.compile(r"^export (?=(?:function|var) )", re.M)
EXPORTED = re.compile(r"(?:function\s+|var\s+)([A-Za-z_$][\w$]*)")


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


@dataclass
class Module:
    name: str  # relative to the widget's folder: src/core/state.js
    code: str  # imports blanked and `export ` removed, so that lines and columns still match
    imports: dict[str, list[str]] = field(default_factory=dict)  # module -> names
    styles: list[str] = field(default_factory=list)
    declared: set[str] = field(default_factory=set)
    exported: set[str] = field(default_factory=set)
    used: set[str] = field(default_factory=set)


def _line(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def read_module(directory: Path, name: str) -> Module:
    """One module: its imports resolved against the widget's folder, its code parsed alone."""
    path = directory / name
    text = path.read_text(encoding="utf-8")
    module = Module(name, text)

    def blank(match: re.Match) -> str:
        names, target = match.group(1), match.group(2)
        resolved = posixpath.normpath(posixpath.join(posixpath.dirname(name), target))
        where = f"{path}:{_line(text, match.start())}"
        if not (directory / resolved).is_file() or resolved.startswith("../"):
            raise WidgetBuildError(f"{where}: {target} does not exist")
        if names is None:
            if not resolved.endswith(".css"):
                raise WidgetBuildError(f"{where}: import names from {target}, or a .css file")
            module.styles.append(resolved)
        else:
            wanted = [n.strip() for n in names.split(",") if n.strip()]
            module.imports.setdefault(resolved, []).extend(wanted)
        return "\n" * match.group(0).count("\n")

    code = IMPORT.sub(blank, text)
    for match in EXPORT.finditer(code):
        declaration = EXPORTED.match(code, match.end())
        if declaration:
            module.exported.add(declaration.group(1))
    module.code = EXPORT.sub(" " * len("export "), code)
    try:
        tree = es5(module.code)
    except ECMASyntaxError as error:
        raise WidgetBuildError(f"the widget's JavaScript does not parse: {path}: {error}") from None
    for node in tree:
        if isinstance(node, asttypes.FuncDecl):
            module.declared.add(node.identifier.value)
        elif isinstance(node, asttypes.VarStatement):
            module.declared.update(decl.identifier.value for decl in node.children())
    module.used = {
        node.value
        for node in Walker().walk(tree)
        if isinstance(node, asttypes.Identifier) and not isinstance(node, asttypes.PropIdentifier)
    }
    return module


def _collect(directory: Path, entry: str, known: dict[str, Module], skip: set[str]):
    """The modules `entry` needs, dependencies first (like JavaScript modules: a cycle is cut
    where it closes), leaving out those in `skip`; and their stylesheets in the same order."""
    order: list[str] = []
    styles: list[str] = []
    seen = set(skip)

    def visit(name: str) -> None:
        if name in seen:
            return
        seen.add(name)
        if name not in known:
            known[name] = read_module(directory, name)
        for dependency in known[name].imports:
            visit(dependency)
        order.append(name)
        styles.extend(s for s in known[name].styles if s not in styles)

    visit(entry)
    return order, styles


def _check(directory: Path, modules: dict[str, Module]) -> None:
    """Each name has one home; a module imports exactly the other modules' names it uses."""
    home: dict[str, str] = {}
    for module in modules.values():
        for name in module.declared:
            if name in home:
                raise WidgetBuildError(
                    f"{directory / module.name}: `{name}` is declared in {home[name]} too "
                    "(the modules of a file share one scope)"
                )
            home[name] = module.name
    for module in modules.values():
        path = directory / module.name
        imported = set()
        for target, names in module.imports.items():
            for name in names:
                if name not in modules[target].exported:
                    raise WidgetBuildError(f"{path}: {target} does not export `{name}`")
                imported.add(name)
        foreign = (module.used & set(home)) - module.declared - GIVEN
        for name in sorted(foreign - imported):
            raise WidgetBuildError(f"{path}: uses `{name}` of {home[name]} without importing it")
        for name in sorted(imported - module.used):
            raise WidgetBuildError(f"{path}: imports `{name}` but does not use it")


def _minify(code: str) -> str:
    tree = es5(code)
    return minify_print(tree, obfuscate=True, obfuscate_globals=False).rstrip().rstrip(";")


def _css(directory: Path, names: list[str]) -> str:
    texts = [(directory / name).read_text(encoding="utf-8") for name in names]
    return rcssmin.cssmin("\n".join(texts))


def build_sources(directory: Path) -> Sources:
    """The widget's two files, minified: the first load, and the preferences' part.

    The first file is called with the site's configuration and its CSS. The part gets, as
    arguments, the names that its modules import from the first file's: they are the values at
    the time it loads (share functions and objects, not variables that change). A syntax error,
    a missing or unused import, or a file that no module imports raises `WidgetBuildError`
    naming the file (and the line and column).
    """
    directory = Path(directory)
    modules: dict[str, Module] = {}
    for entry in (ENTRY, PART_ENTRY):
        if not (directory / entry).is_file():
            raise WidgetBuildError(f"{directory / entry} does not exist")
    first, first_styles = _collect(directory, ENTRY, modules, set())
    rest, rest_styles = _collect(directory, PART_ENTRY, modules, set(first))
    rest_styles = [s for s in rest_styles if s not in first_styles]
    for pattern in ("src/**/*.js", "styles/**/*.css"):
        for file in sorted(directory.glob(pattern)):
            name = file.relative_to(directory).as_posix()
            if name not in modules and name not in first_styles + rest_styles:
                raise WidgetBuildError(
                    f"{file} is not imported by any module, so it would not be shipped"
                )
    _check(directory, modules)
    if PART_ENTRY in first:
        raise WidgetBuildError(
            f"{directory / ENTRY} imports {PART_ENTRY} (through its imports): the preferences "
            "would be in the first load; src/core/parts.js loads them on Customize"
        )
    for names, other in ((first, "PART_CSS"), (rest, "CSS")):
        for name in names:
            if other in modules[name].used:
                raise WidgetBuildError(f"{directory / name}: `{other}` is not given to its file")
    if "PART" not in modules[PART_ENTRY].declared:
        raise WidgetBuildError(f"{directory / PART_ENTRY} does not declare `var PART`")

    # What the part imports from the first file's modules, and the site's config if it reads it.
    shared = sorted(
        {
            name
            for module in rest
            for target, names in modules[module].imports.items()
            if target in first
            for name in names
        }
        | ({"CFG"} & {name for module in rest for name in modules[module].used})
    )
    part_code = (
        PART_PROLOGUE.format(args="".join("," + name for name in shared))
        + "\n".join(modules[name].code for name in rest)
        + PART_EPILOGUE.format(css=json.dumps(_css(directory, rest_styles), ensure_ascii=False))
    )
    part = _minify(part_code) + ";\n"
    code = PROLOGUE + "\n".join(modules[name].code for name in first) + EPILOGUE
    code = code.replace(PART_ARGS, ",".join(shared)).replace(PART_PATH, json.dumps(part_path(part)))
    js_min = _minify(code)
    css_min = _css(directory, first_styles)
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
