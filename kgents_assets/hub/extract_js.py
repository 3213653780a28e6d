"""JavaScript and TypeScript discovery with tree-sitter (the second language)."""

from __future__ import annotations

import tree_sitter as ts

from kgents_assets.hub.extract_common import (
    Discovered,
    Event,
    NodeBuilder,
    Scope,
    assign_events,
    first_sentence,
    named_scopes,
    one_line,
    qualifier_of,
)
from kgents_assets.hub.languages import ts_parser, ts_query
from kgents_assets.hub.models import FileExtract, FileStatus
from kgents_assets.hub.modules import js_module_name
from kgents_assets.hub.test_files import is_test_file

_COMMON = """
(function_declaration name: (identifier) @name) @def
(generator_function_declaration name: (identifier) @name) @def
(variable_declarator name: (identifier) @name
   value: [(arrow_function) (function_expression)] @fn) @def
(method_definition name: (_) @name) @def
(class_declaration name: (_) @name) @class
(call_expression function: [(identifier) @callee
   (member_expression object: (_) @object property: (property_identifier) @callee)])
[(if_statement) (for_statement) (for_in_statement) (while_statement) (do_statement)
 (catch_clause) (switch_case) (ternary_expression)] @branch
(binary_expression operator: ["&&" "||" "??"]) @branch
(ERROR) @error
(import_statement) @import
"""
_TS_EXTRA = """
(abstract_class_declaration name: (_) @name) @class
(interface_declaration name: (_) @name) @class
"""
_DEF, _DEF_GEN, _DEF_VAR, _DEF_METHOD, _CLASS, _CALL, _BRANCH, _BRANCH_OP, _ERROR, _IMPORT = range(
    10
)
_TS_ABSTRACT, _TS_INTERFACE = 10, 11


def _text(node: ts.Node | None) -> str:
    return (node.text or b"").decode("utf-8", "replace") if node is not None else ""


def _jsdoc(node: ts.Node) -> str | None:
    """The ``/** ... */`` comment right before a declaration (or its export)."""
    anchor = node.parent if node.parent and node.parent.type == "export_statement" else node
    if anchor.type == "variable_declarator" and anchor.parent is not None:
        anchor = anchor.parent
        if anchor.parent is not None and anchor.parent.type == "export_statement":
            anchor = anchor.parent
    prev = anchor.prev_named_sibling
    if prev is None or prev.type != "comment":
        return None
    text = _text(prev)
    if not text.startswith("/**"):
        return None
    lines = [line.strip().lstrip("*").strip() for line in text[3:-2].splitlines()]
    return "\n".join(line for line in lines if not line.startswith("@")).strip() or None


def _imports(node: ts.Node, module: str, into: dict[str, str]) -> None:
    target = _module_of(_text(node.child_by_field_name("source")).strip("'\"`"), module)
    clause = next((c for c in node.named_children if c.type == "import_clause"), None)
    if clause is None:
        return
    for child in clause.named_children:
        if child.type == "identifier":
            into[_text(child)] = f"{target}.default"
        elif child.type == "namespace_import":
            ident = next((c for c in child.named_children if c.type == "identifier"), None)
            if ident is not None:
                into[_text(ident)] = target
        elif child.type == "named_imports":
            for spec in child.named_children:
                if spec.type != "import_specifier":
                    continue
                name = spec.child_by_field_name("name")
                alias = spec.child_by_field_name("alias")
                into[_text(alias or name)] = f"{target}.{_text(name)}"


def _module_of(specifier: str, module: str) -> str:
    """An import specifier as a dotted module name: ``./util`` from ``src.app.main`` is
    ``src.app.util``; a package specifier (``react``) stays as written."""
    if not specifier.startswith("."):
        return specifier.replace("/", ".")
    parts = module.split(".")[:-1]
    for seg in specifier.split("/"):
        if seg == "..":
            parts = parts[:-1]
        elif seg not in (".", ""):
            parts.append(seg)
    if parts and parts[-1] == "index":
        parts.pop()
    last = parts[-1] if parts else ""
    for suffix in (".js", ".ts", ".tsx", ".jsx", ".mjs", ".cjs"):
        if last.endswith(suffix):
            parts[-1] = last[: -len(suffix)]
    return ".".join(parts)


def extract_js(rel_path: str, source: bytes, language: str) -> Discovered:
    tree = ts_parser(language).parse(source)
    root = tree.root_node
    module = js_module_name(rel_path)
    query_src = _COMMON + (_TS_EXTRA if language in ("typescript", "tsx") else "")
    scopes: list[Scope] = []
    events: list[Event] = []
    imports: dict[str, str] = {}
    errors = 0
    for pattern, captures in ts.QueryCursor(ts_query(language, query_src)).matches(root):
        if pattern in (_DEF, _DEF_GEN, _DEF_VAR, _DEF_METHOD):
            node = captures["def"][0]
            scopes.append(
                Scope(node.start_byte, node.end_byte, "function", _text(captures["name"][0]), node)
            )
        elif pattern in (_CLASS, _TS_ABSTRACT, _TS_INTERFACE):
            node = captures["class"][0]
            scopes.append(
                Scope(node.start_byte, node.end_byte, "class", _text(captures["name"][0]), node)
            )
        elif pattern == _CALL:
            callee = captures["callee"][0]
            obj = captures.get("object")
            qualifier = None
            if obj:
                qualifier = "self" if obj[0].type == "this" else qualifier_of(_text(obj[0]))
            events.append((callee.start_byte, (_text(callee), qualifier)))
        elif pattern in (_BRANCH, _BRANCH_OP):
            events.append((captures["branch"][0].start_byte, None))
        elif pattern == _ERROR:
            errors += 1
        elif pattern == _IMPORT:
            _imports(captures["import"][0], module, imports)

    module_scope = Scope(0, len(source) + 1, "module", module.rsplit(".", 1)[-1], root)
    assign_events(scopes, events, module_scope)
    test_file = is_test_file(rel_path)
    build = NodeBuilder(rel_path, module, language, source)
    first = root.named_children[0] if root.named_child_count else None
    module_doc = None
    if first is not None and first.type == "comment" and _text(first).startswith("/**"):
        module_doc = first_sentence(_text(first)[3:-2].replace("*", " "))
    build.emit(
        module_scope, "module", "__module__",
        byte_range=(0, len(source)), lines=(1, root.end_point[0] + 1),
        signature="", docstring=module_doc,
    )  # fmt: skip
    for scope, kind, parent in named_scopes(scopes):
        node = scope.ts_node
        body = node.child_by_field_name("body")
        if node.type == "variable_declarator":
            fn = node.child_by_field_name("value")
            body = fn.child_by_field_name("body") if fn is not None else None
        header_end = body.start_byte if body is not None else node.end_byte
        signature = one_line(source[node.start_byte : header_end].decode("utf-8", "replace"))
        build.emit(
            scope, kind, scope.qualname,
            byte_range=(scope.start, scope.end),
            lines=(node.start_point[0] + 1, node.end_point[0] + 1),
            signature=signature.rstrip("{").rstrip().removesuffix("=>").rstrip(),
            docstring=_jsdoc(node),
            class_name=parent.qualname if kind == "method" and parent else None,
            is_test=test_file,
        )  # fmt: skip
    extract = FileExtract(
        path=rel_path,
        language=language,
        status=FileStatus.SYNTAX_ERROR if errors or root.has_error else FileStatus.OK,
        error=f"{max(errors, 1)} syntax error(s); nodes recovered"
        if errors or root.has_error
        else None,
        module=module,
        imports=imports,
        parse_errors=max(errors, 1) if root.has_error else errors,
    )
    return Discovered(extract, build.nodes)
