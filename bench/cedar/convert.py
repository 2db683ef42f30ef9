#!/usr/bin/env python3
"""Converts residency example requests into Cedar authorization requests (benchmark peer only).

    bench/cedar/convert.py OUT.json REQUEST.yaml...

Cedar has no quantifier over a set ("some tag of some artifact has an origin in the EEA"), so a
residency request becomes the same *units* the residency engine evaluates (policies/README.md,
"Units"): for every checked location, one request unit (no tag) and one unit per (artifact, tag).
The request is allowed when every unit is allowed. Each unit is one `isAuthorized` call:

  principal  Operator::"<operator id>"   attrs: country, sectors (set), csap_tier
  action     Action::"dataset" | "model" | "compute"
  resource   Location::"<provider:region>" parents: its Country, which sits in catalogue groups
  context    artifact ("request"|"dataset"|"model"|"prompt"), cls (Class entity, class
             hierarchy as entity parents), origin (Country or Group entity), tiers, job,
             use_case, transfer_type, transfer_pattern, has_recipient, recipient (record),
             has_training_flops, evidence / evidence_cr / evidence_r (see below)

Evidence: Cedar cannot say "some evidence item is valid at now and its country contains the
location". The converter resolves that per unit and passes the *types* of the items that are
valid at `now` and match the location's country and the recipient (`evidence`), and of those the
ones that also carry country and recipient (`evidence_cr`) or recipient (`evidence_r`), for
rules that `require` those fields. An item that says what it authorises (`covers: [transfer]`)
is passed as its type and as TYPE:WHAT (`statute:transfer`), which the rules that ask for that
coverage test. This is work the residency engine does inside Evaluate()
and Cedar gets for free: it favours Cedar in the comparison.

Entities are sliced per request: the operator, the checked locations, their countries and
groups, and the classes and origins of the request's tags.
"""
import json
import os
import sys
from datetime import datetime, timezone

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))

# Built-in class hierarchy besides the dotted prefix (lib/policy/catalogue.cc; policies/README.md,
# "How a request is decided").
EXTRA_PARENTS = {"kr.rrn": ["personal.unique_id"], "kr.emr": ["personal.health"],
                 "pseudonymized": ["personal"], "unscanned": ["personal"],
                 "kr.pseudonymized_credit": ["pseudonymized", "personal.credit"]}


def class_parents(c):
    out = list(EXTRA_PARENTS.get(c, []))
    if "." in c and c.split(".")[0] in ("personal",):
        out.append(c.rsplit(".", 1)[0])
    return out


def ts(s):
    if s is None:
        return None
    if isinstance(s, datetime):
        return s if s.tzinfo else s.replace(tzinfo=timezone.utc)
    return datetime.fromisoformat(str(s).replace("Z", "+00:00"))


def uid(t, i):
    return {"type": t, "id": i}


def ent(t, i):
    return {"__entity": uid(t, i)}


class Catalogue:
    def __init__(self, path):
        with open(path) as f:
            d = yaml.safe_load(f)
        self.loc = {l["id"]: l for l in d["locations"]}
        self.groups = {g: [str(m) for m in v["members"]] for g, v in d["groups"].items()}
        # parents of a country or group: the groups that list it directly
        self.parents = {}
        for g, members in self.groups.items():
            for m in members:
                self.parents.setdefault(m, []).append(g)

    def is_group(self, j):
        return j in self.groups

    def countries_of(self, j):
        if j not in self.groups:
            return {j}
        out = set()
        for m in self.groups[j]:
            out |= self.countries_of(m)
        return out


def walk_dataset(d, out):
    for p in d.get("partitions", []) or []:
        for c in p.get("classes", []):
            out.append((c, str(p["origin"])))
    for parent in d.get("derived_from", []) or []:
        walk_dataset(parent, out)


def walk_model(m, out):
    for d in m.get("trained_on", []) or []:
        walk_dataset(d, out)
    for b in m.get("base_models", []) or []:
        walk_model(b, out)


def convert(path, cat):
    with open(path) as f:
        r = yaml.safe_load(f)
    now = ts(r["now"])
    kind = r["kind"]
    artifacts = []  # (kind, tags, own evidence, model or None)
    locations = []
    tiers = []
    has_flops = False  # the engine takes the largest training_flops of any model in the request

    def add_model(m):
        nonlocal has_flops
        tags = []
        walk_model(m, tags)
        artifacts.append(("model", tags, m.get("evidence", []) or [], m))
        if m.get("tier"):
            tiers.append(m["tier"])
        if m.get("training_flops") is not None:
            has_flops = True

    if kind == "dataset":
        tags = []
        walk_dataset(r["dataset"], tags)
        artifacts.append(("dataset", tags, r["dataset"].get("evidence", []) or [], None))
        locations.append(r.get("destination") or r["dataset"]["location"])
    elif kind == "model":
        add_model(r["model"])
        locations.append(r.get("destination") or r["model"]["location"])
    else:
        c = r["compute"]
        locations.append(c["location"])
        for i in c.get("inputs", []):
            if "dataset" in i:
                tags = []
                walk_dataset(i["dataset"], tags)
                artifacts.append(("dataset", tags, i["dataset"].get("evidence", []) or [], None))
                if i["dataset"].get("location"):
                    locations.append(i["dataset"]["location"])
            else:
                add_model(i["model"])
                if i["model"].get("location"):
                    locations.append(i["model"]["location"])
        for o in c.get("outputs", []):
            locations.append(o["location"])
        if c.get("prompt", {}).get("classes"):
            j = str(c["user"]["jurisdiction"])
            artifacts.append(("prompt", [(cl, j) for cl in c["prompt"]["classes"]], [], None))
    locations = list(dict.fromkeys(locations))
    op = r.get("operator") or {}
    rec = r.get("recipient")
    transfer = r.get("transfer") or {}

    def evidence_types(items, loc_country):
        ev, ev_cr, ev_r = set(), set(), set()
        for e in items:
            nb, na, wd = ts(e.get("not_before")), ts(e.get("not_after")), ts(e.get("withdrawn_at"))
            if (nb and now < nb) or (na and now >= na) or (wd and wd <= now):
                continue
            if e.get("country") and loc_country not in cat.countries_of(str(e["country"])):
                continue
            if e.get("recipient") and (not rec or rec.get("id") != e["recipient"]):
                continue
            # An item that says what it authorises (`covers`) also stands as TYPE:WHAT, for the
            # alternatives that ask for it (a statute for processing is no basis for a transfer).
            names = [e["type"]] + ["%s:%s" % (e["type"], c) for c in (e.get("covers") or [])]
            ev.update(names)
            if e.get("country") and e.get("recipient"):
                ev_cr.update(names)
            if e.get("recipient"):
                ev_r.update(names)
        return sorted(ev), sorted(ev_cr), sorted(ev_r)

    # Entities (one slice per request).
    entities = {}

    def add_jurisdiction(j):
        key = ("Group" if cat.is_group(j) else "Country", j)
        if key in entities:
            return
        entities[key] = {"uid": uid(*key), "attrs": {},
                         "parents": [uid("Group", g) for g in cat.parents.get(j, [])]}
        for g in cat.parents.get(j, []):
            add_jurisdiction(g)

    def add_class(c):
        if ("Class", c) in entities:
            return
        ps = class_parents(c)
        entities[("Class", c)] = {"uid": uid("Class", c), "attrs": {},
                                  "parents": [uid("Class", p) for p in ps]}
        for p in ps:
            add_class(p)

    for l in locations:
        L = cat.loc[l]
        attrs = L.get("attributes") or {}
        entities[("Location", l)] = {
            "uid": uid("Location", l),
            "attrs": {"provider": l.split(":")[0], "site": L.get("site", ""),
                      "korean_provider": bool(attrs.get("korean_provider", False)),
                      "operator_control": str(attrs.get("operator_control", "")),
                      "certifications": list(L.get("certifications") or [])},
            "parents": [uid("Country", str(L["country"]))]}
        add_jurisdiction(str(L["country"]))
    op_attrs = {"country": str(op.get("country", "")), "sectors": list(op.get("sectors", []))}
    if (op.get("attributes") or {}).get("csap_tier"):
        op_attrs["csap_tier"] = str(op["attributes"]["csap_tier"])
    entities[("Operator", op.get("id", "anonymous"))] = {
        "uid": uid("Operator", op.get("id", "anonymous")), "attrs": op_attrs, "parents": []}
    for _, tags, _, _ in artifacts:
        for c, o in tags:
            add_class(c)
            add_jurisdiction(o)

    base_ctx = {
        "tiers": sorted(set(tiers)),
        "job": (r.get("compute") or {}).get("job", ""),
        "use_case": r.get("use_case", ""),
        "transfer_type": transfer.get("type", ""),
        "transfer_pattern": transfer.get("pattern", ""),
        "has_recipient": rec is not None,
        "recipient": {"role": (rec or {}).get("role", ""),
                      **{k: str(v).lower() if isinstance(v, bool) else str(v)
                         for k, v in ((rec or {}).get("attributes") or {}).items()}},
        "has_training_flops": has_flops,
        "now": {"__extn": {"fn": "datetime", "arg": now.strftime("%Y-%m-%dT%H:%M:%SZ")}},
    }
    units = []
    for l in locations:
        country = str(cat.loc[l]["country"])
        ev, ev_cr, ev_r = evidence_types(r.get("evidence", []) or [], country)
        units.append({"context": dict(base_ctx, artifact="request", evidence=ev,
                                      evidence_cr=ev_cr, evidence_r=ev_r), "resource": l})
        for akind, tags, own, _ in artifacts:
            ev, ev_cr, ev_r = evidence_types((r.get("evidence", []) or []) + own, country)
            for c, o in dict.fromkeys(tags):
                units.append({"context": dict(
                    base_ctx, artifact=akind, evidence=ev, evidence_cr=ev_cr, evidence_r=ev_r,
                    cls=ent("Class", c),
                    origin=ent("Group" if cat.is_group(o) else "Country", o)), "resource": l})
    calls = [{"principal": uid("Operator", op.get("id", "anonymous")),
              "action": uid("Action", kind), "resource": uid("Location", u["resource"]),
              "context": u["context"]} for u in units]
    return {"name": os.path.splitext(os.path.basename(path))[0], "calls": calls,
            "entities": list(entities.values())}


def main():
    if len(sys.argv) < 3:
        sys.exit("usage: convert.py OUT.json REQUEST.yaml...")
    cat = Catalogue(os.path.join(ROOT, "policies", "regions.yaml"))
    out = [convert(p, cat) for p in sys.argv[2:]]
    with open(sys.argv[1], "w") as f:
        json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
