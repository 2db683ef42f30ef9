#!/usr/bin/python3
"""The JSON Schemas in policies/schema/ and `residency lint` must agree key by key.

The linter is the source of truth. For every mapping the shipped files hold (policies, the
catalogue, the tagging configuration, the policy tests), the schema that describes it and the
linter are asked the same two questions, one edited copy of the folder at a time:

  * a key neither knows (`zz_drift_probe`): both must refuse it (the linter as `unknown-key`);
  * every key the schema lists that the mapping lacks, given a value taken from another place the
    shipped files use that key (or made from the schema when none does): the linter must not call
    it an unknown key.

Keys the linter accepts are checked the other way by validating every shipped file against its
schema (tools/check_schemas.py). A key neither the shipped files nor the schema use cannot be
seen from outside the linter; that is the limit of this test. A test case's inline `request` is
left to the request schema test (the parser is its source of truth).

Usage: schema_drift.py RESIDENCY_CLI SOURCE_DIR
Exits 0 when they agree, 1 with one line per disagreement, 77 when PyYAML or jsonschema is missing.
"""
import copy
import json
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "tools"))
try:
    import yaml
    import check_schemas  # noqa: E402  (exits 77 itself when jsonschema is missing)
except ImportError:
    print("schema_drift: PyYAML or jsonschema missing; skipping", file=sys.stderr)
    sys.exit(77)

PROBE = "zz_drift_probe"


def plain(x):
    """LineDict/LineList -> dict/list (for copying and dumping)."""
    if isinstance(x, dict):
        return {k: plain(v) for k, v in x.items()}
    if isinstance(x, list):
        return [plain(v) for v in x]
    return x


class Schema:
    def __init__(self, root):
        self.root = root
        cls = check_schemas.jsonschema.validators.validator_for(root)
        self.validator = cls(root)

    def resolve(self, s):
        while isinstance(s, dict) and "$ref" in s:
            ref = s["$ref"]
            assert ref.startswith("#/"), ref
            node = self.root
            for part in ref[2:].split("/"):
                node = node[part]
            s = node
        return s

    def valid(self, instance, s):
        return self.validator.evolve(schema=s).is_valid(instance)

    def branches(self, s, instance):
        """The object schemas that describe `instance` (anyOf/oneOf/allOf flattened)."""
        s = self.resolve(s)
        if not isinstance(s, dict):
            return []
        out = []
        if "properties" in s or "additionalProperties" in s:
            out.append(s)
        for key in ("anyOf", "oneOf", "allOf"):
            for b in s.get(key, []):
                rb = self.resolve(b)
                if key == "allOf" or self.valid(instance, rb):
                    out.extend(self.branches(rb, instance))
        return out

    def array_items(self, s, instance):
        s = self.resolve(s)
        out = []
        if isinstance(s, dict):
            if "items" in s and isinstance(s["items"], dict):
                out.append(s["items"])
            for key in ("anyOf", "oneOf", "allOf"):
                for b in s.get(key, []):
                    rb = self.resolve(b)
                    if key == "allOf" or self.valid(instance, rb):
                        out.extend(self.array_items(rb, instance))
        return out


def walk(schema, instance, s, path, sites, values):
    """Records each mapping with the object schemas describing it; collects values by key."""
    if isinstance(instance, dict):
        objs = schema.branches(s, instance)
        props = {}
        for o in objs:
            props.update(o.get("properties", {}))
        closed = bool(objs) and all(o.get("additionalProperties", True) is False for o in objs)
        if props:
            sites.append((path, frozenset(props), props, closed))
        for k, v in instance.items():
            values.setdefault(k, []).append(v)
            sub = [o["properties"][k] for o in objs if k in o.get("properties", {})]
            if not sub:
                sub = [o["additionalProperties"] for o in objs
                       if isinstance(o.get("additionalProperties"), dict)]
            for child in sub[:1]:
                walk(schema, v, child, path + [k], sites, values)
    elif isinstance(instance, list):
        for item_schema in schema.array_items(s, instance)[:1]:
            for i, v in enumerate(instance):
                walk(schema, v, item_schema, path + [i], sites, values)


def made_value(schema, s):
    s = schema.resolve(s)
    if not isinstance(s, dict):
        return "x"
    if "const" in s:
        return s["const"]
    if "enum" in s:
        return s["enum"][0]
    for key in ("anyOf", "oneOf"):
        if key in s:
            return made_value(schema, s[key][0])
    t = s.get("type")
    if isinstance(t, list):
        t = [x for x in t if x != "null"][0]
    if t == "object":
        return {}
    if t == "array":
        return [made_value(schema, s["items"])] if isinstance(s.get("items"), dict) else []
    if t == "boolean":
        return True
    if t in ("integer", "number"):
        return s.get("minimum", 1)
    return "x"


def get(doc, path):
    for p in path:
        doc = doc[p]
    return doc


class Folder:
    """A copy of the shipped policy folder where one file at a time is replaced."""

    def __init__(self, cli, source):
        self.cli = cli
        self.tmp = tempfile.mkdtemp(prefix="schema-drift-")
        self.dir = os.path.join(self.tmp, "policies")
        shutil.copytree(os.path.join(source, "policies"), self.dir,
                        ignore=shutil.ignore_patterns("schema", "*.md"))

    def lint(self, rel, doc):
        path = os.path.join(self.dir, rel)
        with open(path, encoding="utf-8") as f:
            original = f.read()
        try:
            with open(path, "w", encoding="utf-8") as f:
                yaml.safe_dump(doc, f, allow_unicode=True, sort_keys=False)
            r = subprocess.run([self.cli, "lint", "--format", "json", self.dir],
                               capture_output=True, text=True, timeout=120)
        finally:
            with open(path, "w", encoding="utf-8") as f:
                f.write(original)
        try:
            out = json.loads(r.stdout)
        except ValueError:
            raise SystemExit(f"schema_drift: lint printed no JSON (exit {r.returncode}): "
                             f"{r.stderr.strip()[:300]}")
        diags = out["diagnostics"] if isinstance(out, dict) else out
        return [d for d in diags if os.path.basename(d.get("file", "")) ==
                os.path.basename(rel)]


def main():
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    cli, source = sys.argv[1], sys.argv[2]
    schemas = {k: Schema(v.schema) for k, v in
               check_schemas.load_schemas(pathlib.Path(source) / "policies" / "schema").items()}
    folder = Folder(cli, source)
    files = sorted(p for p in pathlib.Path(folder.dir).rglob("*.yaml"))
    docs, all_values = [], {}
    for p in files:
        doc, _ = check_schemas.load_yaml(p.read_text(encoding="utf-8"))
        kind = doc.get("kind") if isinstance(doc, dict) else None
        if kind not in schemas:
            continue
        sites, values = [], {}
        walk(schemas[kind], doc, schemas[kind].root, [], sites, values)
        for k, v in values.items():
            all_values.setdefault((kind, k), []).extend(v)
        docs.append((str(p.relative_to(folder.dir)), kind, plain(doc), sites))

    problems, checked, seen = [], 0, set()
    for rel, kind, doc, sites in docs:
        schema = schemas[kind]
        for path, keyset, props, closed in sites:
            # A test case's inline request is the request format, which the linter leaves to the
            # request parser (`residency test` parses it); request_schema_agrees_with_parser
            # holds the two request schemas to that parser.
            if kind == "tests" and "request" in path:
                continue
            if (kind, keyset) in seen:
                continue
            seen.add((kind, keyset))
            where = f"{rel}: {check_schemas.path_text(path)}"
            # A key neither knows.
            if closed:
                probe = copy.deepcopy(doc)
                get(probe, path)[PROBE] = 1
                diags = folder.lint(rel, probe)
                checked += 1
                if not any(d.get("code") == "unknown-key" and PROBE in d.get("message", "")
                           for d in diags):
                    problems.append(f"{where}: the linter accepts an unknown key the schema "
                                    f"refuses")
                if schema.valid(probe, schema.root):
                    problems.append(f"{where}: the schema accepts an unknown key")
            # Every key the schema lists, where the mapping lacks it.
            present = get(doc, path)
            for key in sorted(props):
                if key in present:
                    continue
                # A value found under this key elsewhere that this mapping's schema accepts (a
                # rule's `i18n` carries more keys than an alternative's).
                pool = [v for v in all_values.get((kind, key), [])
                        if schema.valid(plain(v), props[key])]
                value = plain(pool[0]) if pool else made_value(schema, props[key])
                probe = copy.deepcopy(doc)
                get(probe, path)[key] = value
                diags = folder.lint(rel, probe)
                checked += 1
                for d in diags:
                    if d.get("code") == "unknown-key" and f"`{key}`" in d.get("message", ""):
                        problems.append(f"{where}: the schema lists `{key}` but the linter calls "
                                        f"it unknown ({d.get('message')})")
    shutil.rmtree(folder.tmp, ignore_errors=True)
    for p in problems:
        print(p)
    print(f"schema_drift: {len(seen)} kinds of mapping, {checked} edited copies linted, "
          f"{len(problems)} disagreements")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
