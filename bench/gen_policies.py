#!/usr/bin/env python3
"""Generates policy sets of a given rule count for the rule-count scaling benchmark
(docs/benchmarks.md, `rules_10k_vs_10`).

    bench/gen_policies.py OUTDIR --rules N [--policies 7] [--classes 200] [--seed 1]

OUTDIR gets a copy of the shipped region catalogue (policies/regions.yaml, the same catalogue at
every size) and `--policies` policy files gen-0.yaml ... with N rules in all:

* 8 "matching" rules, modelled on the shipped ones, that apply to the example requests
  (examples/requests): Korean personal data home / cross-border with alternatives, the EU
  transfer rule with SCC + TIA, the PIPL export threshold, the US bulk rule, RBI payment data,
  the sovereign tier (request-scoped) and the Korean financial cloud report;
* N - 8 generated rules spread over `--classes` generated data classes (`gen.cNNN`, added by
  gen-0.yaml with `is_a: [personal]`), about 60 origins and the catalogue's countries and
  locations, with a mix of effects, alternatives (evidence conditions), subject thresholds and
  effective dates. None of them can apply to a tag of a built-in class, so, as in a large real
  rule base, most rules cannot apply to a given request: the class index is what keeps the
  evaluation cost flat.

The output is deterministic for a given seed. Every file is written as YAML flow mappings.
"""
import argparse
import json
import os
import random
import shutil
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

ORIGINS = ["KR", "JP", "CN", "US", "IN", "DE", "FR", "IT", "ES", "NL", "SE", "PL", "BE", "AT",
           "IE", "DK", "FI", "PT", "GR", "CZ", "RO", "HU", "GB", "CH", "NO", "IS", "CA", "MX",
           "BR", "AR", "CL", "CO", "AU", "NZ", "SG", "MY", "TH", "VN", "ID", "PH", "TW", "HK",
           "AE", "SA", "IL", "TR", "EG", "ZA", "NG", "KE", "RU", "UA", "PK", "BD", "LK", "UY",
           "PE", "MA", "QA", "KW", "EEA", "EU", "CN_MAINLAND"]
EVIDENCE = ["consent", "consent.cross_border", "statute", "treaty", "scc_2021_914", "tia", "bcr",
            "pipc_certification", "export_licence", "cac_standard_contract_filing",
            "cac_security_assessment", "equivalent_measures", "art9_condition"]
MATCHING = 8


def q(v):
    return json.dumps(v, ensure_ascii=False)


def flow(obj):
    """A YAML flow rendering (JSON is a subset of YAML 1.2; yaml-cpp reads it)."""
    return json.dumps(obj, ensure_ascii=False)


def matching_rules():
    """Rules that apply to the example requests (policy index, rule dict)."""
    return [
        (0, {"id": "m.kr_home", "citation": "PIPA Art. 28-8(1)", "message": "kr home",
             "when": {"classes": ["personal"], "origins": ["KR"], "location": {"in": ["KR"]}},
             "effect": "allow"}),
        (0, {"id": "m.kr_cross_border", "citation": "PIPA Art. 28-8(1)", "message": "kr abroad",
             "when": {"classes": ["personal"], "origins": ["KR"], "location": {"not_in": ["KR"]}},
             "alternatives": [
                 {"name": "consent", "when": {"evidence": {"types": ["consent.cross_border"],
                                                           "require": ["country", "recipient"]}},
                  "effect": "allow_with_obligations", "obligations": ["g0.ob0"]},
                 {"name": "statute", "when": {"evidence": {"types": ["statute", "treaty"]}},
                  "effect": "allow_with_obligations", "obligations": ["g0.ob1"]},
                 {"name": "recognised", "when": {"location": {"in": ["EU"]}}, "effect": "allow"}],
             "otherwise": "deny"}),
        (1, {"id": "m.eu_transfer", "citation": "GDPR Art. 46", "message": "eu transfer",
             "when": {"classes": ["personal"], "origins": ["EEA"], "location": {"not_in": ["EEA"]}},
             "alternatives": [
                 {"name": "adequacy", "when": {"location": {"in": ["CH", "GB", "JP", "KR"]}},
                  "effect": "allow"},
                 {"name": "scc_with_tia", "when": {"all": [
                     {"evidence": {"types": ["scc_2021_914"]}}, {"evidence": {"types": ["tia"]}}]},
                  "effect": "allow_with_obligations", "obligations": ["g1.ob0"]}],
             "otherwise": "deny"}),
        (2, {"id": "m.cn_export", "citation": "PIPL Art. 38", "message": "cn export",
             "when": {"classes": ["personal"], "origins": ["CN_MAINLAND"],
                      "location": {"not_in": ["CN_MAINLAND"]},
                      "cumulative_subjects": {"gte": 100000}},
             "alternatives": [
                 {"name": "mechanism", "when": {"evidence": {"types": [
                     "cac_standard_contract_filing", "cac_security_assessment"]}},
                  "effect": "allow_with_obligations", "obligations": ["g2.ob0"]}],
             "otherwise": "deny"}),
        (3, {"id": "m.us_bulk", "citation": "28 CFR 202", "message": "us bulk",
             "when": {"classes": ["personal.financial"], "origins": ["US"],
                      "location": {"in": ["CN_MAINLAND", "HK", "MO"]},
                      "subjects": {"gt": 10000}},
             "alternatives": [
                 {"name": "cisa", "when": {"evidence": {"types": ["cisa_security_requirements"]}},
                  "effect": "allow_with_obligations", "obligations": ["g3.ob0"]}],
             "otherwise": "deny"}),
        (4, {"id": "m.in_payment", "citation": "RBI 2018", "message": "in payment",
             "when": {"classes": ["in.payment"], "origins": ["IN"], "location": {"not_in": ["IN"]}},
             "alternatives": [
                 {"name": "short", "when": {"retention_hours": {"lte": 24}},
                  "effect": "allow_with_obligations", "obligations": ["g4.ob0"]}],
             "otherwise": "deny"}),
        (5, {"id": "m.sovereign_tier", "citation": "GRC-POL-017 §3", "message": "sovereign",
             "basis": "corp",
             "when": {"tier": ["sovereign-kr"]},
             "alternatives": [
                 {"name": "approved", "when": {"location": {"in": ["KR"],
                                                            "attributes": {"korean_provider": True}}},
                  "effect": "allow"}],
             "otherwise": "deny"}),
        (6, {"id": "m.kr_fin_report", "citation": "EFSR Art. 14-2", "message": "fin report",
             "when": {"classes": ["personal.credit"], "operator": {"sectors": ["kr_financial"]},
                      "location": {"in": ["KR"]}},
             "effect": "allow_with_obligations", "obligations": ["g6.ob0"]}),
    ]


def generated_rule(i, p, rng, classes, countries, locations):
    cls = ["gen.c%03d" % rng.randrange(classes)]
    if rng.random() < 0.2:
        cls.append("gen.c%03d" % rng.randrange(classes))
    origin = rng.choice(ORIGINS)
    when = {"classes": sorted(set(cls)), "origins": [origin]}
    r = rng.random()
    if r < 0.35:
        when["location"] = {"not_in": [origin]}
    elif r < 0.6:
        when["location"] = {"in": sorted(set(rng.sample(countries, 3)))}
    elif r < 0.8:
        when["location"] = {"in": sorted(set(rng.sample(locations, 2)))}
    else:
        when["location"] = {"not_in": ["EEA", origin]}
    if rng.random() < 0.15:
        when["subjects"] = {"gte": rng.choice([1000, 10000, 100000, 1000000])}
    if rng.random() < 0.1:
        when["operator"] = {"sectors": [rng.choice(["kr_financial", "kr_public", "in_payment"])]}
    rule = {"id": "g%d.r%05d" % (p, i), "citation": "GEN-%05d" % i,
            "message": "generated rule %d" % i, "when": when}
    if rng.random() < 0.1:
        rule["effective_from"] = rng.choice(["2024-01-01", "2025-07-01", "2027-01-01"])
    k = rng.random()
    if k < 0.4:
        rule["alternatives"] = []
        for a in range(rng.randint(1, 3)):
            alt = {"name": "alt%d" % a,
                   "when": {"evidence": {"types": sorted(set(rng.sample(EVIDENCE, 2)))}},
                   "effect": rng.choice(["allow", "allow_with_obligations"])}
            if alt["effect"] == "allow_with_obligations":
                alt["obligations"] = ["g%d.ob%d" % (p, rng.randrange(10))]
            rule["alternatives"].append(alt)
        rule["otherwise"] = rng.choice(["deny", "deny", "escalate"])
    elif k < 0.7:
        rule["effect"] = "deny"
    elif k < 0.9:
        rule["effect"] = "allow_with_obligations"
        rule["obligations"] = ["g%d.ob%d" % (p, rng.randrange(10))]
    else:
        rule["effect"] = "allow"
    return rule


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("outdir")
    ap.add_argument("--rules", type=int, required=True)
    ap.add_argument("--policies", type=int, default=7)
    ap.add_argument("--classes", type=int, default=200)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--catalogue", default=os.path.join(ROOT, "policies", "regions.yaml"))
    a = ap.parse_args()
    if a.rules < MATCHING:
        sys.exit("gen_policies: --rules must be at least %d" % MATCHING)
    import yaml  # PyYAML: only to read the catalogue's countries and location ids
    with open(a.catalogue) as f:
        cat = yaml.safe_load(f)
    locations = [l["id"] for l in cat["locations"]]
    countries = sorted({l["country"] for l in cat["locations"] if l.get("country")})
    rng = random.Random(a.seed)
    os.makedirs(a.outdir, exist_ok=True)
    for name in os.listdir(a.outdir):
        if name.endswith(".yaml"):
            os.remove(os.path.join(a.outdir, name))
    shutil.copy(a.catalogue, os.path.join(a.outdir, "regions.yaml"))
    per = [[] for _ in range(a.policies)]
    for p, r in matching_rules():
        per[p % a.policies].append(r)
    for i in range(a.rules - MATCHING):
        p = i % a.policies
        per[p].append(generated_rule(i, p, rng, a.classes, countries, locations))
    for p in range(a.policies):
        lines = ["kind: policy", "id: gen-%d" % p, "basis: law",
                 "title: %s" % q("generated policy %d (%d rules)" % (p, len(per[p])))]
        if p == 0:
            lines.append("classes:")
            for c in range(a.classes):
                lines.append("  - {id: gen.c%03d, is_a: [personal]}" % c)
        lines.append("obligations:")
        for o in range(10):
            lines.append("  g%d.ob%d: %s" % (p, o, q("generated obligation %d" % o)))
        if per[p]:
            lines.append("rules:")
            for r in per[p]:
                lines.append("  - " + flow(r))
        else:
            lines.append("rules: []")
        with open(os.path.join(a.outdir, "gen-%d.yaml" % p), "w") as f:
            f.write("\n".join(lines) + "\n")
    print("gen_policies: %d rules in %d policies -> %s" % (a.rules, a.policies, a.outdir))


if __name__ == "__main__":
    main()
