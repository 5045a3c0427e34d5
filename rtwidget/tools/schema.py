"""JSON schema clean-up: pydantic's ``$defs`` inlined where they are used, its ``title`` keys dropped.

The Realtime API takes a tool's parameters as one JSON schema; a self-contained schema without the generated
titles is shorter and reads better to the model.
"""

from __future__ import annotations

from typing import Any

__all__ = ["clean_schema"]

# Keywords whose value is one schema, a list of schemas, or a mapping of names to schemas. Everything else
# (enum, const, default, examples, required...) is data and is copied untouched.
_SCHEMA_ONE = {"items", "additionalProperties", "not", "contains", "propertyNames", "if", "then", "else"}
_SCHEMA_LIST = {"anyOf", "allOf", "oneOf", "prefixItems"}
_SCHEMA_MAP = {"properties", "patternProperties", "dependentSchemas", "$defs", "definitions"}
# Keys never copied as they are: $ref is resolved, $defs rebuilt, titles dropped.
_DROPPED = {"$ref", "$defs", "title"}
_DEFS = "#/$defs/"


def clean_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """Inline every ``$ref`` into ``$defs`` and drop pydantic's ``title`` keys (a new dict; ``schema`` is kept).

    A recursive model cannot be inlined: its ``$ref`` stays, and only the definitions still referenced are
    kept under ``$defs`` at the root.
    """
    inliner = _Inliner(schema.get("$defs", {}))
    cleaned: dict[str, Any] = inliner.walk(schema, ())
    kept_defs = inliner.kept_definitions()
    if kept_defs:
        cleaned["$defs"] = kept_defs
    return cleaned


class _Inliner:
    """One pass over a schema; remembers the definitions that recursion keeps as ``$ref``."""

    def __init__(self, defs: dict[str, Any]) -> None:
        self.defs = defs
        self.kept: set[str] = set()

    def walk(self, node: Any, stack: tuple[str, ...]) -> Any:
        """``node`` cleaned; ``stack`` holds the definitions being inlined around it (to stop recursion)."""
        if not isinstance(node, dict):
            return node
        out = self._resolve(node.get("$ref"), stack)
        for key, value in node.items():
            if key not in _DROPPED:
                # A sibling of $ref (description, default) overrides the definition's.
                out[key] = self._walk_value(key, value, stack)
        return _merge_single_all_of(out)

    def _resolve(self, ref: Any, stack: tuple[str, ...]) -> dict[str, Any]:
        """The cleaned definition ``ref`` points to, or ``{"$ref": ref}`` when it cannot be inlined."""
        if not isinstance(ref, str):
            return {}
        name = ref[len(_DEFS) :] if ref.startswith(_DEFS) else None
        if name in self.defs and name not in stack:
            inlined: dict[str, Any] = self.walk(self.defs[name], (*stack, name))
            return inlined
        if name is not None:  # recursion, or a reference that is not ours: keep it
            self.kept.add(name)
        return {"$ref": ref}

    def _walk_value(self, key: str, value: Any, stack: tuple[str, ...]) -> Any:
        if key in _SCHEMA_ONE:
            return self.walk(value, stack)
        if key in _SCHEMA_LIST and isinstance(value, list):
            return [self.walk(v, stack) for v in value]
        if key in _SCHEMA_MAP and isinstance(value, dict):
            return {k: self.walk(v, stack) for k, v in value.items()}
        return value

    def kept_definitions(self) -> dict[str, Any]:
        """The definitions that recursion still needs, and those they need in turn, cleaned."""
        done: set[str] = set()
        kept_defs: dict[str, Any] = {}
        while self.kept - done:
            name = min(self.kept - done)
            done.add(name)
            if name in self.defs:
                kept_defs[name] = self.walk(self.defs[name], (name,))
        return kept_defs


def _merge_single_all_of(node: dict[str, Any]) -> dict[str, Any]:
    # allOf with a single schema is how older pydantic attached a description to a reference.
    all_of = node.get("allOf")
    if isinstance(all_of, list) and len(all_of) == 1 and isinstance(all_of[0], dict):
        only = node.pop("allOf")[0]
        return {**only, **node}
    return node
