"""Python discovery with tree-sitter: modules, classes, functions and methods.

One query collects every definition, call, branch and import in a single pass in C; the
Python side only assigns each capture to its innermost definition. Walking the tree node
by node from Python would be an order of magnitude slower on a large repository.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable

import tree_sitter as ts

from kgents_assets.hub.extract_common import (
    Discovered,
    Event,
    NodeBuilder,
    Scope,
    assign_events,
    named_scopes,
    one_line,
    qualifier_of,
)
from kgents_assets.hub.languages import ts_parser, ts_query
from kgents_assets.hub.models import FileExtract, FileStatus
from kgents_assets.hub.modules import python_module_name, resolve_relative
from kgents_assets.hub.test_files import is_test_file, is_test_name

QUERY = """
(function_definition name: (identifier) @name) @def
(class_definition name: (identifier) @name) @class
(call function: [(identifier) @callee
                 (attribute object: (_) @object attribute: (identifier) @callee)])
[(if_statement) (elif_clause) (for_statement) (while_statement) (except_clause)
 (case_clause) (conditional_expression) (for_in_clause) (if_clause)
 (boolean_operator)] @branch
(ERROR) @error
(MISSING) @error
[(import_statement) (import_from_statement)] @import
"""
_DEF, _CLASS, _CALL, _BRANCH, _ERROR, _MISSING, _IMPORT = range(7)


def _text(node: ts.Node) -> str:
    return (node.text or b"").decode("utf-8", "replace")


def _docstring(body: ts.Node | None) -> str | None:
    # named_child(0), not named_children[0]: a class or module body has hundreds
    if body is None or body.named_child_count == 0:
        return None
    first = body.named_child(0)
    if first is None or first.type != "expression_statement" or first.named_child_count == 0:
        return None
    string = first.named_child(0)
    if string is None or string.type != "string":
        return None
    parts = [_text(c) for c in string.named_children if c.type == "string_content"]
    return inspect.cleandoc("".join(parts)) or None


def _imports(node: ts.Node, module: str, is_package: bool, into: dict[str, str]) -> None:
    if node.type == "import_statement":
        for child in node.named_children:
            if child.type == "dotted_name":
                name = _text(child)
                into[name.split(".", 1)[0]] = name.split(".", 1)[0]
            elif child.type == "aliased_import":
                target, alias = (
                    child.child_by_field_name("name"),
                    child.child_by_field_name("alias"),
                )
                if target is not None and alias is not None:
                    into[_text(alias)] = _text(target)
        return
    source = node.child_by_field_name("module_name")
    if source is None:
        return
    if source.type == "relative_import":
        dots = _text(source)
        level = len(dots) - len(dots.lstrip("."))
        base = resolve_relative(module, is_package, level, dots.lstrip("."))
    else:
        base = _text(source)
    for child in node.named_children:
        if child == source:
            continue
        if child.type == "dotted_name":
            name = _text(child)
            into[name] = f"{base}.{name}" if base else name
        elif child.type == "aliased_import":
            target, alias = child.child_by_field_name("name"), child.child_by_field_name("alias")
            if target is not None and alias is not None:
                into[_text(alias)] = f"{base}.{_text(target)}" if base else _text(target)


def extract_python(
    rel_path: str, source: bytes, is_package_dir: Callable[[str], bool]
) -> Discovered:
    tree = ts_parser("python").parse(source)
    root = tree.root_node
    module = python_module_name(rel_path, is_package_dir)
    is_package = rel_path.endswith("__init__.py")
    scopes: list[Scope] = []
    events: list[Event] = []
    imports: dict[str, str] = {}
    errors = 0
    for pattern, captures in ts.QueryCursor(ts_query("python", QUERY)).matches(root):
        if pattern in (_DEF, _CLASS):
            node = captures["def" if pattern == _DEF else "class"][0]
            outer = (
                node.parent if node.parent and node.parent.type == "decorated_definition" else node
            )
            scopes.append(
                Scope(
                    outer.start_byte,
                    outer.end_byte,
                    "class" if pattern == _CLASS else "function",
                    _text(captures["name"][0]),
                    node,
                )
            )
        elif pattern == _CALL:
            callee = captures["callee"][0]
            obj = captures.get("object")
            qualifier = qualifier_of(_text(obj[0])) if obj else None
            events.append((callee.start_byte, (_text(callee), qualifier)))
        elif pattern == _BRANCH:
            events.append((captures["branch"][0].start_byte, None))
        elif pattern in (_ERROR, _MISSING):
            errors += 1
        elif pattern == _IMPORT:
            _imports(captures["import"][0], module, is_package, imports)
    if root.has_error and errors == 0:
        errors = 1

    module_scope = Scope(0, len(source) + 1, "module", module.rsplit(".", 1)[-1], root)
    assign_events(scopes, events, module_scope)
    test_file = is_test_file(rel_path)
    build = NodeBuilder(rel_path, module, "python", source)
    build.emit(
        module_scope, "module", "__module__",
        byte_range=(0, len(source)), lines=(1, root.end_point[0] + 1),
        signature="", docstring=_docstring(root),
    )  # fmt: skip
    for scope, kind, parent in named_scopes(scopes):
        node = scope.ts_node
        body = node.child_by_field_name("body")
        header_end = body.start_byte if body is not None else node.end_byte
        signature = one_line(source[node.start_byte : header_end].decode("utf-8", "replace"))
        decorators: tuple[str, ...] = ()
        if node.parent is not None and node.parent.type == "decorated_definition":
            decorators = tuple(
                one_line(_text(d)).lstrip("@").strip()
                for d in node.parent.named_children
                if d.type == "decorator"
            )
        build.emit(
            scope, kind, scope.qualname,
            byte_range=(scope.start, scope.end),
            lines=(node.start_point[0] + 1, node.end_point[0] + 1),
            signature=signature.rstrip(":").rstrip(),
            docstring=_docstring(body),
            decorators=decorators,
            class_name=parent.qualname if kind == "method" and parent else None,
            is_test=test_file and is_test_name(scope.name, kind),
        )  # fmt: skip
    extract = FileExtract(
        path=rel_path,
        language="python",
        status=FileStatus.SYNTAX_ERROR if errors else FileStatus.OK,
        error=f"{errors} syntax error(s); nodes recovered by error-tolerant parsing"
        if errors
        else None,
        module=module,
        imports=imports,
        parse_errors=errors,
    )
    return Discovered(extract, build.nodes)
