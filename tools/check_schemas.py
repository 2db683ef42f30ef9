#!/usr/bin/python3
"""Validates residency YAML files against the JSON Schemas in policies/schema/.

Usage:
  check_schemas.py [--schema-dir DIR] PATH...   every *.yaml/*.yml under each PATH (recursively)
  check_schemas.py --self-test                  negative checks: bad files must fail

Each file is checked against `<kind>.schema.json` chosen by its top-level `kind:`; a kind without
a schema (e.g. `tagging`) is reported as skipped. Prints `FILE: ok` or `FILE: PATH: error` (one
line per error) and exits 0 when every file is valid, 1 otherwise, 77 when python3-jsonschema is
not installed (ctest SKIP_RETURN_CODE).

The YAML is read the way the C++ loader (yaml-cpp, lib/policy/yaml_reader.cc) sees it, as far as
a schema can tell: timestamps stay strings, only true/false (True/TRUE/False/FALSE) are booleans,
duplicate keys are errors. A plain yes/no/on/off (e.g. an unquoted `NO` for Norway) is reported:
YAML 1.1 tools and editors read it as a boolean, so it must be quoted.
"""
import json
import os
import pathlib
import re
import sys

try:
    import yaml
except ImportError:  # pragma: no cover
    print("check_schemas: PyYAML is missing (apt-get install python3-yaml); skipping", file=sys.stderr)
    sys.exit(77)
try:
    import jsonschema
    from jsonschema.exceptions import best_match
except ImportError:
    print("check_schemas: python3-jsonschema is missing (apt-get install python3-jsonschema); skipping",
          file=sys.stderr)
    sys.exit(77)

REPO = pathlib.Path(__file__).resolve().parent.parent
DEFAULT_SCHEMA_DIR = REPO / "policies" / "schema"
KINDS = ("policy", "catalogue", "tests", "tagging")
LOADER_BOOLS = {"true", "True", "TRUE", "false", "False", "FALSE"}


# ----------------------------------------------------------------------------- YAML loading
class LineDict(dict):
    """A mapping that remembers the line of each key (1-based)."""
    lines = None


class LineList(list):
    lines = None


class Loader(yaml.SafeLoader):
    """SafeLoader adjusted to what yaml-cpp + MapReader accept."""

    def __init__(self, stream):
        super().__init__(stream)
        self.problems = []  # (line, message)

    def construct_yaml_bool(self, node):
        if node.value in LOADER_BOOLS:
            return node.value.lower() == "true"
        # yes/no/on/off: text for yaml-cpp, a boolean for YAML 1.1 readers. Keep the text and
        # report it; the schema then judges the text like the loader does.
        self.problems.append((node.start_mark.line + 1,
                              f"unquoted `{node.value}` is a boolean in YAML 1.1 readers; quote it "
                              f"(\"{node.value}\")"))
        return node.value

    def construct_yaml_timestamp(self, node):
        return node.value  # the loader parses dates from the text itself

    def construct_mapping(self, node, deep=False):
        if not isinstance(node, yaml.MappingNode):
            return super().construct_mapping(node, deep)
        self.flatten_mapping(node)
        out = LineDict()
        out.lines = {}
        for key_node, value_node in node.value:
            if isinstance(key_node, yaml.ScalarNode):
                key = key_node.value  # yaml-cpp keys are their text
            else:
                self.problems.append((key_node.start_mark.line + 1, "keys must be strings"))
                continue
            if key in out:
                self.problems.append((key_node.start_mark.line + 1, f"duplicate key `{key}`"))
                continue
            out[key] = self.construct_object(value_node, deep=True)
            out.lines[key] = key_node.start_mark.line + 1
        return out

    def construct_yaml_map(self, node):
        yield self.construct_mapping(node, deep=True)

    def construct_yaml_seq(self, node):
        out = LineList()
        out.lines = [n.start_mark.line + 1 for n in node.value]
        out.extend(self.construct_object(n, deep=True) for n in node.value)
        yield out


Loader.add_constructor("tag:yaml.org,2002:bool", Loader.construct_yaml_bool)
Loader.add_constructor("tag:yaml.org,2002:timestamp", Loader.construct_yaml_timestamp)
Loader.add_constructor("tag:yaml.org,2002:map", Loader.construct_yaml_map)
Loader.add_constructor("tag:yaml.org,2002:seq", Loader.construct_yaml_seq)


def load_yaml(text):
    """Returns (document, problems) or raises yaml.YAMLError."""
    loader = Loader(text)
    try:
        doc = loader.get_single_data()
        return doc, loader.problems
    finally:
        loader.dispose()


# ----------------------------------------------------------------------------- validation
def load_schemas(schema_dir):
    schemas = {}
    for kind in KINDS:
        p = pathlib.Path(schema_dir) / f"{kind}.schema.json"
        if p.is_file():
            schema = json.loads(p.read_text(encoding="utf-8"))
            cls = jsonschema.validators.validator_for(schema)
            cls.check_schema(schema)
            schemas[kind] = cls(schema)
    return schemas


def path_text(path):
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(root)"


def line_of(doc, path):
    line, node = None, doc
    for part in path:
        lines = getattr(node, "lines", None)
        try:
            if lines is not None:
                line = lines[part]
            node = node[part]
        except (KeyError, IndexError, TypeError):
            break
    return line


def refine(error):
    """Descends into anyOf/oneOf to the most relevant cause: the branch whose type fits the
    value (a list where a list is allowed), then its deepest error."""
    while error.validator in ("anyOf", "oneOf") and error.context:
        branches = {}
        for c in error.context:
            branches.setdefault(c.relative_schema_path[0], []).append(c)
        fitting = [errs for errs in branches.values()
                   if not any(c.validator in ("type", "const") and not c.relative_path for c in errs)]
        if not fitting:
            break  # no branch fits the value's type: the anyOf's own message says so
        pool = [c for errs in fitting for c in errs]
        error = max(pool, key=lambda c: len(c.path))
    return error


def explain(error):
    """A readable message: long values and enums shortened, the schema's description added for
    if/then/else, `not`, `oneOf` and long enums."""
    msg = error.message
    schema = error.schema if isinstance(error.schema, dict) else {}
    shown = repr(error.instance)
    if len(shown) > 60 and msg.startswith(shown):
        msg = "the value" + msg[len(shown):]
    add_description = bool({"then", "else"} & set(map(str, error.absolute_schema_path)))
    add_description |= error.validator in ("not", "oneOf")
    if error.validator == "enum" and len(error.validator_value) > 12:
        msg = f"{error.instance!r} is not one of the {len(error.validator_value)} allowed values"
        add_description = True
    if add_description and schema.get("description"):
        msg += f" ({schema['description']})"
    return msg


def error_line(doc, error):
    path = list(error.absolute_path)
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        known = error.schema.get("properties", {}) if isinstance(error.schema, dict) else {}
        extra = [k for k in error.instance if k not in known]
        lines = getattr(error.instance, "lines", None)
        if extra and lines and extra[0] in lines:
            return lines[extra[0]]
    return line_of(doc, path)


def validate_doc(doc, problems, schemas):
    """Returns (status, messages): status is 'ok', 'skip' or 'fail'."""
    msgs = [f"(line {line}): {msg}" for line, msg in problems]
    if not isinstance(doc, dict):
        return "fail", msgs + ["(root): a policy file must be a mapping with a top-level `kind:`"]
    kind = doc.get("kind")
    if kind is None or isinstance(kind, (dict, list)):
        return "fail", msgs + ["(root): missing top-level `kind:` (policy, catalogue, tests or tagging)"]
    kind = str(kind)
    if kind not in KINDS:
        return "fail", msgs + [f"kind: unknown kind `{kind}`; want policy, catalogue, tests or tagging"]
    validator = schemas.get(kind)
    if validator is None:
        return ("fail" if msgs else "skip"), msgs or [f"skipped (no schema for kind `{kind}`)"]
    errors = sorted(validator.iter_errors(doc), key=lambda e: [str(p) for p in e.absolute_path])
    for e in errors:
        r = refine(e)
        line = error_line(doc, r)
        where = path_text(list(r.absolute_path)) + (f" (line {line})" if line else "")
        msgs.append(f"{where}: {explain(r)}")
    return ("fail" if msgs else "ok"), msgs


def check_file(path, schemas, display=None):
    name = display or str(path)
    try:
        text = pathlib.Path(path).read_text(encoding="utf-8")
        doc, problems = load_yaml(text)
    except (OSError, UnicodeDecodeError) as e:
        print(f"{name}: io: {e}")
        return False
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"(line {mark.line + 1})" if mark else "(yaml)"
        print(f"{name}: {where}: yaml-syntax: {str(e).splitlines()[0]}")
        return False
    status, msgs = validate_doc(doc, problems, schemas)
    if status == "ok":
        print(f"{name}: ok")
    elif status == "skip":
        print(f"{name}: {msgs[0]}")
    else:
        for m in msgs:
            print(f"{name}: {m}")
    return status != "fail"


def yaml_files(root):
    root = pathlib.Path(root)
    if root.is_file():
        return [root]
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for f in sorted(filenames):
            if f.endswith((".yaml", ".yml")):
                out.append(pathlib.Path(dirpath) / f)
    return out


# ----------------------------------------------------------------------------- self-test
GOOD_POLICY = """
kind: policy
id: t
basis: law
scope: {origins: ["KR", "EU"]}
obligations: {t.notify: "tell someone"}
lists:
  ok_places: ["NO", {value: "aws:eu-west-1", effective_from: 2025-09-16}]
rules:
  - id: t.one
    citation: "Art. 1"
    message: "m"
    when: {classes: [personal], location: {not_in: ["KR"]}, subjects: {gte: 1e5}}
    alternatives:
      - {name: consent, when: {evidence: {types: [consent], require: [country]}}, effect: allow}
      - {name: listed, when: {location: {in_list: ok_places}}, effect: allow_with_obligations,
         obligations: [t.notify]}
    otherwise: escalate
  - {id: t.two, citation: c, message: m, effect: deny, suggest: false,
     when: {any: [{tags: ["KR:kr.rrn"]}, {not: {kind: dataset}}]}}
"""

NEGATIVE = [
    # (what, kind, yaml text, substring expected in some message)
    ("unknown top-level key", "policy",
     GOOD_POLICY + "rulez: []\n", "Additional properties are not allowed ('rulez'"),
    ("bad effect enum", "policy",
     GOOD_POLICY.replace("effect: deny", "effect: reject"), "'reject' is not one of"),
    ("unknown condition key", "policy",
     GOOD_POLICY.replace("{not: {kind: dataset}}", "{not: {kinds: dataset}}"), "('kinds' was unexpected)"),
    ("bad action enum inside a condition list", "policy",
     GOOD_POLICY.replace("{not: {kind: dataset}}", "{action: [store, stroe]}"), "'stroe' is not one of"),
    ("effect with alternatives", "policy",
     GOOD_POLICY.replace("otherwise: escalate", "effect: deny"), "should not be valid under"),
    ("rule without effect", "policy",
     GOOD_POLICY.replace(" effect: deny,", ""), "'effect' is a required property"),
    ("allow with obligations", "policy",
     GOOD_POLICY.replace("effect: allow_with_obligations", "effect: allow"), "effect `allow` carries no obligations"),
    ("bad recipient role", "policy",
     GOOD_POLICY.replace("{not: {kind: dataset}}", "{recipient: {roles: [vendor]}}"), "'vendor' is not one of"),
    ("UK is not a jurisdiction", "policy",
     GOOD_POLICY.replace('["KR", "EU"]', '["KR", "UK"]'), "scope.origins"),
    ("unquoted NO", "policy",
     GOOD_POLICY.replace('"NO"', "NO"), "unquoted `NO`"),
    ("bad date", "policy",
     GOOD_POLICY.replace("2025-09-16", "16.09.2025"), "does not match"),
    ("duplicate key", "policy",
     GOOD_POLICY.replace("basis: law\n", "basis: law\nbasis: corp\n"), "duplicate key `basis`"),
    ("note on an alternative", "policy",
     GOOD_POLICY.replace("effect: allow}", "effect: allow, note: x}"), "'note' was unexpected"),
    ("catalogue: bad site", "catalogue",
     "kind: catalogue\nid: regions\nproviders: {aws: {name: A, hq_country: \"US\"}}\n"
     "locations: [{id: \"aws:x\", country: \"US\", site: private}]\n", "'private' is not one of"),
    ("catalogue: country UK", "catalogue",
     "kind: catalogue\nid: regions\nproviders: {aws: {name: A, hq_country: \"US\"}}\n"
     "locations: [{id: \"aws:x\", country: \"UK\"}]\n", "is not one of"),
    ("tests: request and request_file", "tests",
     "kind: tests\ncases:\n  - {name: n, request: {kind: dataset}, request_file: x.yaml, want: {decision: deny}}\n",
     "is valid under each of"),
    ("tests: unknown want key", "tests",
     "kind: tests\ncases:\n  - {name: n, request_file: x.yaml, want: {decision: deny, reason: [x]}}\n",
     "'reason' was unexpected"),
    ("tests: unknown request key", "tests",
     "kind: tests\ncases:\n  - {name: n, request: {kind: dataset, destinaton: \"ncp:KR\"}, want: {decision: deny}}\n",
     "'destinaton' was unexpected"),
    ("tests: dataset request without dataset", "tests",
     "kind: tests\ncases:\n  - {name: n, request: {kind: dataset, model: {id: m}}, want: {decision: deny}}\n",
     "'dataset' is a required property"),
]

POSITIVE = [
    ("good policy", GOOD_POLICY),
    ("blank optional sections", "kind: policy\nid: b\nbasis: corp\nscope:\nlists:\nexceptions:\nrules: []\n"),
    ("good tests", "kind: tests\ncases:\n  - name: n\n    now: 2026-06-30T00:00:00Z\n"
                   "    request: {kind: dataset, action: transfer, destination: \"aws:ap-northeast-1\",\n"
                   "              dataset: {id: d, partitions: [{classes: [personal], origin: \"KR\", subjects: 10}]}}\n"
                   "    want: {decision: deny, rules: [kr.cross_border], suggested: [\"ncp:KR\"]}\n"),
]


def drift_checks(schemas):
    """The schema's closed vocabularies must match the C++ loader's."""
    failures = []
    pol = schemas["policy"].schema["$defs"]
    iso_src = REPO / "lib" / "policy" / "iso3166.cc"
    if iso_src.is_file():
        src = iso_src.read_text(encoding="utf-8")
        block = src[src.index("kCodes[] = {"):]
        codes = re.findall(r'"([A-Z]{2})"', block[:block.index("};")])
        if sorted(codes) != sorted(pol["country"]["enum"]):
            failures.append("ISO 3166-1 codes in policy.schema.json differ from lib/policy/iso3166.cc")
    comp = REPO / "lib" / "policy" / "catalogue.cc"
    if comp.is_file():
        src = comp.read_text(encoding="utf-8")
        block = src[src.index("kBuiltinClasses[] = {"):]
        block = block[:block.index("};")]
        builtin = re.findall(r'\{"([a-z_.]+)", ', block)
        if builtin != pol["class"]["anyOf"][0]["enum"]:
            failures.append("built-in classes in policy.schema.json differ from lib/policy/catalogue.cc")
    cond = REPO / "lib" / "policy" / "conditions.cc"
    if cond.is_file():
        src = cond.read_text(encoding="utf-8")
        block = src[src.index("kConditionKeys = {"):]
        block = block[:block.index("};")]
        keys = re.findall(r'"([a-z_]+)"', block)
        if sorted(keys) != sorted(pol["condition"]["properties"]):
            failures.append("condition keys in policy.schema.json differ from kConditionKeys in "
                            "lib/policy/conditions.cc")
    return failures


def self_test(schema_dir):
    schemas = load_schemas(schema_dir)
    missing = [k for k in ("policy", "catalogue", "tests") if k not in schemas]
    if missing:
        print(f"self-test: FAIL: no schema for {', '.join(missing)} in {schema_dir}")
        return 1
    failed = 0
    for what, text in POSITIVE:
        status, msgs = validate_doc(*load_yaml(text), schemas)
        if status != "ok":
            failed += 1
            print(f"self-test: FAIL: {what} should validate: {msgs}")
        else:
            print(f"self-test: ok: {what} validates")
    for what, kind, text, expect in NEGATIVE:
        doc, problems = load_yaml(text)
        assert doc.get("kind") == kind, what
        status, msgs = validate_doc(doc, problems, schemas)
        if status != "fail":
            failed += 1
            print(f"self-test: FAIL: {what}: validated but must not")
        elif not any(expect in m for m in msgs):
            failed += 1
            print(f"self-test: FAIL: {what}: no message contains {expect!r}: {msgs}")
        else:
            print(f"self-test: ok: {what} rejected")
    for f in drift_checks(schemas):
        failed += 1
        print(f"self-test: FAIL: {f}")
    print(f"self-test: {'FAIL' if failed else 'ok'} ({failed} failed)")
    return 1 if failed else 0


def main(argv):
    args = list(argv)
    schema_dir = DEFAULT_SCHEMA_DIR
    if "--schema-dir" in args:
        i = args.index("--schema-dir")
        schema_dir = pathlib.Path(args[i + 1])
        del args[i:i + 2]
    if args == ["--self-test"]:
        return self_test(schema_dir)
    if not args or any(a.startswith("-") for a in args):
        print(__doc__.strip(), file=sys.stderr)
        return 2
    schemas = load_schemas(schema_dir)
    ok = True
    files = []
    for a in args:
        if not pathlib.Path(a).exists():
            print(f"{a}: io: no such file or directory")
            ok = False
            continue
        files.extend(yaml_files(a))
    for f in files:
        ok &= check_file(f, schemas)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
