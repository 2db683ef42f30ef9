#!/usr/bin/python3
"""policies/schema/request.schema.json and the request parser agree.

Usage: check_request_schema.py SOURCE_DIR RESIDENCY_CLI

The parser (lib/eval/request_parse.cc, run through `residency check --batch`) is the source of
truth; the schema must describe exactly what it accepts, key by key:

  1. every example in examples/requests/*.{yaml,json} validates against the schema and is
     decided by `residency check` (exit 0, 1 or 3; 2 is bad input);
  2. for every object the schema defines (found by walking the schema, so a new object cannot be
     missed), in a request that holds it:
       - an unknown extra key is rejected by both, and the parser's list of the keys it knows
         there (`known here: ...`) is exactly the schema's `properties`;
       - each property the schema lists, set to a value the schema accepts, is accepted by both;
       - each property the schema requires, removed, is rejected by both, and any other
         property, removed, is judged alike (so a requirement only one of them has is found);
       - every value of each closed set the parser enforces (an enum written in place) is
         accepted, and a value outside it rejected, by both;
       - open maps (`attributes`) take any key in both;
  3. request kinds against actions (and compute jobs against actions) are accepted or rejected
     alike, as are dataset/model requests that name no location at all;
  4. the request definitions inside policies/schema/tests.schema.json (a test case's inline
     `request`) list the same keys and required keys as request.schema.json.

Exits 0 when all agree, 1 otherwise, 77 (ctest skip) when python3-yaml or python3-jsonschema is
missing.
"""
import copy
import glob
import json
import os
import re
import subprocess
import sys

try:
    import yaml
    import jsonschema
except ImportError as e:  # pragma: no cover
    print(f"check_request_schema: {e.name} is missing; skipping", file=sys.stderr)
    sys.exit(77)

NOW = "2026-06-30T00:00:00Z"
FAILURES = []


def fail(msg):
    FAILURES.append(msg)
    print(f"FAIL: {msg}")


class Loader(yaml.SafeLoader):
    """YAML typed as a YAML 1.2 reader (and the request parser's numbers) see it: timestamps stay
    text, and `2.0e19` is a number (YAML 1.1 readers, PyYAML's default, want `2.0e+19`)."""


Loader.add_constructor("tag:yaml.org,2002:timestamp", lambda loader, node: node.value)
Loader.add_implicit_resolver("tag:yaml.org,2002:float",
                             re.compile(r"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$"),
                             list("-+0123456789."))


# ----------------------------------------------------------------------------- schema walking
def resolve(schema, node):
    while isinstance(node, dict) and "$ref" in node:
        ptr = node["$ref"]
        assert ptr.startswith("#/"), ptr
        target = schema
        for part in ptr[2:].split("/"):
            target = target[part]
        node = target
    return node


def object_defs(schema):
    """Every object schema that names its properties: the root and each such $def."""
    out = {"(root)": schema}
    for name, d in schema["$defs"].items():
        if d.get("type") == "object" and "properties" in d:
            out[name] = d
    return out


def schema_at(schema, path):
    """The schema of the value at `path` (keys and indices) in a request."""
    node = schema
    for part in path:
        node = resolve(schema, node)
        if isinstance(part, int):
            node = node["items"]
        else:
            node = node["properties"][part]
        node = resolve(schema, node)
        if "allOf" in node and "type" not in node:
            node = resolve(schema, node["allOf"][0])
    return resolve(schema, node)


def sample(schema, node):
    """A small value that `node` accepts."""
    node = resolve(schema, node)
    if "allOf" in node and "type" not in node and "enum" not in node:
        return sample(schema, node["allOf"][0])
    if "const" in node:
        return node["const"]
    if "enum" in node:
        return node["enum"][0]
    if "anyOf" in node and "type" not in node:
        return sample(schema, node["anyOf"][0])
    if "anyOf" in node and "enum" in resolve(schema, node["anyOf"][0]):
        return resolve(schema, node["anyOf"][0])["enum"][0]
    t = node.get("type")
    if t == "object":
        if "additionalProperties" in node and node["additionalProperties"] is not False:
            return {"a": "b"}
        out = {k: sample(schema, node["properties"][k]) for k in node.get("required", [])}
        if node.get("minProperties", 0) > len(out):
            first = next(iter(node["properties"]))
            out[first] = sample(schema, node["properties"][first])
        return out
    if t == "array":
        return [sample(schema, node["items"])]
    if t == "number":
        return 1
    if t == "string":
        pattern = node.get("pattern", "")
        if pattern.startswith("^[0-9]{4}-"):
            return "2026-01-01T00:00:00Z"
        if pattern.startswith("^[a-z0-9_-]+:"):
            return "aws:eu-west-1"
        return "x"
    raise AssertionError(f"no sample for {node}")


def get(obj, path):
    for part in path:
        obj = obj[part]
    return obj


def path_text(path):
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out or "(root)"


# ----------------------------------------------------------------------------- requests
LOC = "aws:eu-west-1"
BASES = {
    "dataset": {
        "kind": "dataset", "action": "transfer", "now": NOW, "destination": LOC,
        "operator": {}, "recipient": {}, "transfer": {},
        "evidence": [{"type": "consent"}],
        "dataset": {"id": "d", "location": LOC,
                    "partitions": [{"classes": ["public"], "origin": "DE"}],
                    "evidence": [{"type": "consent"}],
                    "derived_from": [{"id": "parent"}]},
    },
    "model": {
        "kind": "model", "action": "deploy", "now": NOW, "destination": LOC,
        "model": {"id": "m", "artifact": "weights", "location": LOC,
                  "trained_on": [{"id": "t"}],
                  "base_models": [{"id": "b", "trained_on": []}]},
    },
    "compute": {
        "kind": "compute", "now": NOW,
        "compute": {"job": "inference", "location": LOC,
                    "inputs": [{"dataset": {"id": "i"}}, {"model": {"id": "mm", "trained_on": []}}],
                    "outputs": [{"location": LOC}],
                    "user": {"jurisdiction": "KR"}, "prompt": {"classes": ["personal"]}},
    },
}
# Every object in the bases: (base, path). Which schema object each is comes from the walk.
SITES = [
    ("dataset", []), ("model", []), ("compute", []),
    ("dataset", ["operator"]), ("dataset", ["recipient"]), ("dataset", ["transfer"]),
    ("dataset", ["evidence", 0]), ("dataset", ["dataset"]),
    ("dataset", ["dataset", "partitions", 0]), ("dataset", ["dataset", "evidence", 0]),
    ("dataset", ["dataset", "derived_from", 0]),
    ("model", ["model"]), ("model", ["model", "trained_on", 0]),
    ("model", ["model", "base_models", 0]),
    ("compute", ["compute"]), ("compute", ["compute", "inputs", 0]),
    ("compute", ["compute", "inputs", 0, "dataset"]), ("compute", ["compute", "inputs", 1]),
    ("compute", ["compute", "inputs", 1, "model"]), ("compute", ["compute", "outputs", 0]),
    ("compute", ["compute", "user"]), ("compute", ["compute", "prompt"]),
]
KIND_PROPS = {"dataset", "model", "compute"}


class Case:
    def __init__(self, what, request, want=None, known=None):
        self.what, self.request, self.want, self.known = what, request, want, known


def build_cases(schema):
    cases = []
    covered = set()
    defs = object_defs(schema)
    by_id = {id(d): name for name, d in defs.items()}
    for base_name, path in SITES:
        base = BASES[base_name]
        node = schema_at(schema, path)
        name = by_id.get(id(node))
        if name is None:
            fail(f"{base_name} {path_text(path)}: not an object the schema defines")
            continue
        covered.add(name)
        where = f"{base_name} request, {path_text(path)} ({name})"
        cases.append(Case(f"{where}: as is", base, want=True))
        # An unknown key.
        r = copy.deepcopy(base)
        get(r, path)["zz_unknown"] = "x"
        cases.append(Case(f"{where}: unknown key", r, want=False, known=set(node["properties"])))
        # Each listed property, with a value the schema accepts.
        for key, prop in node["properties"].items():
            if path == [] and key in KIND_PROPS and key != base_name:
                continue  # a kind takes only its own artifact (checked with the kinds below)
            if path == [] and key == "action":
                continue  # depends on the kind (checked below)
            r = copy.deepcopy(base)
            obj = get(r, path)
            if node.get("maxProperties") == 1:
                obj.clear()  # exactly one of its keys: this one instead of the base's
            if key not in obj:
                obj[key] = sample(schema, prop)
            cases.append(Case(f"{where}: with `{key}`", r, want=True))
            # Open maps take any key.
            pnode = resolve(schema, prop)
            if pnode.get("type") == "object" and isinstance(pnode.get("additionalProperties"), dict):
                r = copy.deepcopy(r)
                get(r, path)[key]["any_name_at_all"] = True
                cases.append(Case(f"{where}: `{key}` is an open map", r, want=True))
        # Each property, removed: a required one is refused by both, any other judged alike
        # (a key the parser requires and the schema does not is caught here).
        for key in node["properties"]:
            r = copy.deepcopy(base)
            obj = get(r, path)
            if key not in obj:
                continue
            del obj[key]
            required = key in node.get("required", [])
            cases.append(Case(f"{where}: without {'required ' if required else ''}`{key}`", r,
                              want=False if required else None))
        # Each value of a closed set the parser enforces (an enum written in place; the shared
        # vocabularies behind a $ref, such as ISO country codes, are checked by the schema only,
        # see docs/requests.md), and one value outside it.
        for key, prop in node["properties"].items():
            pnode = resolve(schema, prop)
            if "$ref" in prop or "enum" not in pnode or (path == [] and key in ("kind", "action")):
                continue
            for value in pnode["enum"] + ["zz_not_allowed"]:
                r = copy.deepcopy(base)
                obj = get(r, path)
                obj[key] = value
                cases.append(Case(f"{where}: `{key}: {value}`", r,
                                  want=value != "zz_not_allowed"))
    missing = set(defs) - covered
    if missing:
        fail(f"objects of the schema no site exercises: {sorted(missing)}")
    # Kinds and actions; compute jobs and actions.
    actions = schema["properties"]["action"]["enum"]
    for kind in ("dataset", "model"):
        for action in actions:
            r = copy.deepcopy(BASES[kind])
            r["action"] = action
            cases.append(Case(f"kind {kind}, action {action}", r))
        r = copy.deepcopy(BASES[kind])
        del r["action"]
        cases.append(Case(f"kind {kind} without action", r))
        r = copy.deepcopy(BASES[kind])
        del r["destination"]
        del r[kind]["location"]
        cases.append(Case(f"kind {kind} without destination or location", r))
        for other in KIND_PROPS - {kind}:
            r = copy.deepcopy(BASES[kind])
            r[other] = copy.deepcopy(BASES[other][other])
            cases.append(Case(f"kind {kind} with `{other}`", r))
    for job in schema["$defs"]["compute"]["properties"]["job"]["enum"]:
        for action in actions + [None]:
            r = copy.deepcopy(BASES["compute"])
            r["compute"]["job"] = job
            if action is not None:
                r["action"] = action
            cases.append(Case(f"compute job {job}, action {action}", r))
    for kind in KIND_PROPS:
        r = copy.deepcopy(BASES[kind])
        r["kind"] = "artifact"
        cases.append(Case(f"kind `artifact` (from {kind})", r, want=False))
    return cases


# ----------------------------------------------------------------------------- checks
def run_batch(cli, policies, requests):
    lines = "".join(json.dumps(r, separators=(",", ":")) + "\n" for r in requests)
    p = subprocess.run([cli, "check", "--policies", policies, "--no-suggest", "--now", NOW,
                        "--batch", "-"], input=lines, capture_output=True, text=True)
    out = [json.loads(line) for line in p.stdout.splitlines()]
    if len(out) != len(requests):
        fail(f"residency check --batch gave {len(out)} lines for {len(requests)} requests: "
             f"{p.stderr.strip()}")
        return [None] * len(requests)
    return out


def check_examples(src, cli, policies, validator):
    files = sorted(glob.glob(os.path.join(src, "examples/requests/*.yaml")) +
                   glob.glob(os.path.join(src, "examples/requests/*.json")))
    if not files:
        fail("no examples in examples/requests")
    for f in files:
        name = os.path.relpath(f, src)
        with open(f, encoding="utf-8") as fh:
            text = fh.read()
        doc = json.loads(text) if f.endswith(".json") else yaml.load(text, Loader=Loader)
        errors = sorted(validator.iter_errors(doc), key=lambda e: list(map(str, e.path)))
        for e in errors:
            fail(f"{name}: schema: {path_text(list(e.path))}: {e.message}")
        p = subprocess.run([cli, "check", "--policies", policies, "--no-suggest", f],
                           capture_output=True, text=True)
        if p.returncode not in (0, 1, 3):
            fail(f"{name}: residency check exit {p.returncode}: {p.stderr.strip()}")
        elif not errors:
            print(f"ok: {name}: validates and is decided")


def check_tests_schema(schema, tests_schema):
    """The inline request of a test case lists the same keys as request.schema.json."""
    t = tests_schema["$defs"]

    def same(what, a, b):
        a, b = resolve(schema, a), resolve(tests_schema, b)
        if set(a.get("properties", {})) != set(b.get("properties", {})):
            fail(f"tests.schema.json {what}: keys {sorted(b.get('properties', {}))} != "
                 f"request.schema.json {sorted(a.get('properties', {}))}")
        if set(a.get("required", [])) != set(b.get("required", [])):
            fail(f"tests.schema.json {what}: required {b.get('required')} != "
                 f"request.schema.json {a.get('required')}")

    req = t["request"]
    same("request", schema, req)
    for key in ("operator", "recipient", "transfer", "compute"):
        same(f"request.{key}", schema["properties"][key], req["properties"][key])
    comp = req["properties"]["compute"]["properties"]
    for key in ("user", "prompt"):
        same(f"request.compute.{key}", schema["$defs"][key], comp[key])
    same("request.compute.inputs[]", schema["$defs"]["compute_input"], comp["inputs"]["items"])
    same("request.compute.outputs[]", schema["$defs"]["compute_output"], comp["outputs"]["items"])
    for key in ("dataset", "model", "partition", "evidence_item"):
        same(key, schema["$defs"][key], t[key])


def main(argv):
    if len(argv) != 2:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    src, cli = argv
    policies = os.path.join(src, "policies")
    with open(os.path.join(src, "policies/schema/request.schema.json"), encoding="utf-8") as f:
        schema = json.load(f)
    with open(os.path.join(src, "policies/schema/tests.schema.json"), encoding="utf-8") as f:
        tests_schema = json.load(f)
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    validator = cls(schema)

    check_examples(src, cli, policies, validator)
    check_tests_schema(schema, tests_schema)

    cases = build_cases(schema)
    results = run_batch(cli, policies, [c.request for c in cases])
    agreed = 0
    for case, out in zip(cases, results):
        if out is None:
            continue
        by_schema = validator.is_valid(case.request)
        by_parser = "decision" in out
        error = out.get("error", "")
        ok = by_schema == by_parser and (case.want is None or by_parser == case.want)
        if not ok:
            first = next(iter(validator.iter_errors(case.request)), None)
            fail(f"{case.what}: schema {'accepts' if by_schema else 'rejects'}"
                 f"{'' if by_schema else ' (' + first.message[:200] + ')'}, parser "
                 f"{'accepts' if by_parser else 'rejects (' + error + ')'}"
                 f"{'' if case.want is None else ', want ' + ('accept' if case.want else 'reject')}")
            continue
        if case.known is not None:
            m = re.search(r"unknown key.*known here: ([^)]*)\)", error)
            known = set(m.group(1).split(", ")) if m else None
            if known != case.known:
                fail(f"{case.what}: parser knows {sorted(known) if known else error!r}, schema "
                     f"lists {sorted(case.known)}")
                continue
        agreed += 1
    print(f"check_request_schema: {agreed}/{len(cases)} requests judged alike; "
          f"{len(FAILURES)} failure(s)")
    return 1 if FAILURES else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
