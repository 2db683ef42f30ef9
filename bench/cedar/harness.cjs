// Cedar peer harness (benchmark only): decides and times the converted example requests with
// @cedar-policy/cedar-wasm under Node.
//
//   node bench/cedar/harness.cjs CEDAR_DIR REQUESTS.json POLICIES.cedar [--budget-ms 2000] [--runs 5]
//                                [--decide-only]
//
// CEDAR_DIR is the folder npm installed the package into (bench/.cedar). REQUESTS.json comes from
// bench/cedar/convert.py: per residency request, its Cedar calls (one per unit) and its entity
// slice. A request is allowed when every call is allowed. One sample is the wall time of all of
// a request's calls (process.hrtime.bigint, its own overhead subtracted); requests are timed
// round-robin like bench/eval_latency.cc; p50 over the mix, median over runs.
//
// Two modes: `stateful` (policy set pre-parsed once with preparsePolicySet, then
// statefulIsAuthorized: the fair one, the figure reported as cedar_p50_ns) and `isAuthorized`
// (policy text passed on every call, parsed every time: how the plain API is often used; one
// short run, for context).
// Entities and context cross the JS/wasm boundary as JSON on every call in both modes.
//
// Prints one JSON object on stdout; fails (exit 1) when a call errors or a policy errors.
'use strict';
const fs = require('fs');
const path = require('path');

function main() {
  const args = process.argv.slice(2);
  if (args.length < 3) {
    console.error('usage: harness.cjs CEDAR_DIR REQUESTS.json POLICIES.cedar [--budget-ms N] [--runs N]');
    process.exit(2);
  }
  const [cedarDir, reqPath, polPath] = args;
  let budgetMs = 2000, runs = 5, decideOnly = false;
  for (let i = 3; i < args.length; i++) {
    if (args[i] === '--budget-ms') budgetMs = Number(args[++i]);
    else if (args[i] === '--runs') runs = Number(args[++i]);
    else if (args[i] === '--decide-only') decideOnly = true;
  }
  const cedar = require(path.join(path.resolve(cedarDir), 'node_modules', '@cedar-policy',
                                  'cedar-wasm', 'nodejs', 'cedar_wasm.js'));
  const policyText = fs.readFileSync(polPath, 'utf8');
  const requests = JSON.parse(fs.readFileSync(reqPath, 'utf8'));
  const pre = cedar.preparsePolicySet('residency', { staticPolicies: policyText });
  if (pre.type !== 'success') {
    console.error('cedar: policy set does not parse: ' + JSON.stringify(pre.errors));
    process.exit(1);
  }

  const call = (mode, c, entities) => mode === 'stateful'
    ? cedar.statefulIsAuthorized({ principal: c.principal, action: c.action, resource: c.resource,
                                   context: c.context, preparsedPolicySetId: 'residency', entities })
    : cedar.isAuthorized({ principal: c.principal, action: c.action, resource: c.resource,
                           context: c.context, policies: { staticPolicies: policyText }, entities });

  // Decisions (and a check that nothing errored: Cedar skips erroring policies).
  const decisions = {};
  for (const r of requests) {
    let allow = true;
    const denied = [];
    for (const c of r.calls) {
      for (const mode of ['stateful', 'isAuthorized']) {
        const a = call(mode, c, r.entities);
        if (a.type !== 'success') {
          console.error(`cedar: ${r.name}: ${JSON.stringify(a.errors)}`);
          process.exit(1);
        }
        if (a.response.diagnostics.errors.length) {
          console.error(`cedar: ${r.name}: policy errors ${JSON.stringify(a.response.diagnostics.errors)}`);
          process.exit(1);
        }
        if (mode === 'stateful' && a.response.decision !== 'allow') {
          allow = false;
          for (const p of a.response.diagnostics.reason) if (!denied.includes(p)) denied.push(p);
        }
      }
    }
    decisions[r.name] = { decision: allow ? 'allow' : 'deny', calls: r.calls.length,
                          entities: r.entities.length, forbids: denied };
  }

  if (decideOnly) {
    console.log(JSON.stringify({ cedar_version: cedar.getCedarVersion(), requests: requests.length,
                                 decisions }));
    return;
  }

  // hrtime overhead.
  const ov = [];
  for (let i = 0; i < 20000; i++) {
    const a = process.hrtime.bigint();
    const b = process.hrtime.bigint();
    ov.push(Number(b - a));
  }
  const median = (v) => { const s = [...v].sort((x, y) => x - y); return s[Math.floor((s.length - 1) / 2)]; };
  const pct = (v, q) => { const s = [...v].sort((x, y) => x - y); return s[Math.round(q * (s.length - 1))]; };
  const overhead = median(ov);

  const out = { cedar_version: cedar.getCedarVersion(), hrtime_overhead_ns: overhead,
                requests: requests.length, decisions, modes: {} };
  let sink = 0;
  // isAuthorized re-parses the policy text on every call (milliseconds per request here): it is
  // timed for context only, with one short run.
  const plan = { stateful: { warm: 200, rounds: 50, runs, budgetMs },
                 isAuthorized: { warm: 3, rounds: 3, runs: 1, budgetMs: Math.min(budgetMs, 1000) } };
  for (const mode of ['stateful', 'isAuthorized']) {
    const pl = plan[mode];
    // Warm-up (JIT, wasm tiers).
    for (let w = 0; w < pl.warm; w++) for (const r of requests) for (const c of r.calls) sink += call(mode, c, r.entities).type.length;
    const p50s = [], p99s = [], per = requests.map(() => []);
    let evals = 0;
    for (let run = 0; run < pl.runs; run++) {
      const all = [];
      const perRun = requests.map(() => []);
      const start = process.hrtime.bigint();
      const budget = BigInt(pl.budgetMs) * 1000000n;
      for (let i = 0; ; i++) {
        const k = i % requests.length;
        const r = requests[k];
        const a = process.hrtime.bigint();
        for (const c of r.calls) sink += call(mode, c, r.entities).type.length;
        const b = process.hrtime.bigint();
        const t = Math.max(0, Number(b - a) - overhead);
        all.push(t);
        perRun[k].push(t);
        if (k === requests.length - 1 && i + 1 >= pl.rounds * requests.length && b - start > budget) break;
      }
      evals += all.length;
      p50s.push(pct(all, 0.5));
      p99s.push(pct(all, 0.99));
      perRun.forEach((v, k) => per[k].push(median(v)));
    }
    const perReq = {};
    requests.forEach((r, k) => { perReq[r.name] = median(per[k]); });
    out.modes[mode] = { p50_ns: median(p50s), p99_ns: median(p99s), runs_p50_ns: p50s,
                        evals, per_request_p50_ns: perReq };
  }
  out.sink = sink % 7;
  console.log(JSON.stringify(out));
}

main();
