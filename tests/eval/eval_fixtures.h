// Policies used by the evaluator tests: small, precise, independent of the shipped set.
#ifndef RESIDENCY_TESTS_EVAL_EVAL_FIXTURES_H_
#define RESIDENCY_TESTS_EVAL_EVAL_FIXTURES_H_

namespace residency::testing {

inline const char kKrPolicy[] = R"yaml(kind: policy
id: kr
basis: law
scope: {origins: [KR], user_jurisdictions: [KR]}
obligations:
  kr.disclose: "disclose transfer items"
  kr.ai.notify: "notify users of generative AI"
lists:
  recognized:
    - {value: EU, effective_from: "2025-09-16"}
  suspended_recipients: ["Bad Corp"]
ignore_evidence:
  - {types: [consent, consent.cross_border], classes: [kr.rrn]}
lifts:
  - {evidence: [model_anonymity_assessment], artifacts: [model], classes: [personal]}
rules:
  - id: kr.cross_border
    citation: "PIPA Art. 28-8(1)"
    message: "cross-border transfer needs a basis"
    when: {classes: [personal], origins: [KR], location: {not_in: [KR]}}
    alternatives:
      - name: consent
        when: {evidence: {types: [consent.cross_border], require: [country, recipient]}}
        effect: allow_with_obligations
        obligations: [kr.disclose]
      - {name: recognized, when: {location: {in_list: recognized}}, effect: allow}
      - {name: occasional, when: {transfer: {patterns: [occasional]}}, effect: escalate}
    otherwise: deny
  - id: kr.rrn
    citation: "PIPA Art. 24-2"
    message: "RRN only under statute"
    when: {classes: [kr.rrn]}
    alternatives:
      - {name: statute, when: {evidence: {types: [statute]}}, effect: allow}
  - id: kr.suspension
    citation: "PIPA Art. 28-9"
    message: "suspended recipient"
    when: {recipient: {in_list: suspended_recipients}}
    effect: deny
  - id: kr.ai.notify
    citation: "AI Basic Act Art. 31"
    message: "notify users"
    when: {job: [inference], user: {jurisdictions: [KR]}}
    effect: allow_with_obligations
    obligations: [kr.ai.notify]
  - id: kr.volume
    citation: "test"
    message: "large volumes need review"
    when: {classes: [personal], origins: [KR], subjects: {gte: 1000000}}
    effect: escalate
)yaml";

inline const char kCorpPolicy[] = R"yaml(kind: policy
id: corp
basis: corp
scope: {always: true}
obligations:
  corp.review: "review the exception"
rules:
  - id: corp.tier
    citation: "POL-1 §3"
    message: "sovereign models stay in Korea"
    when: {tier: [sovereign-kr], location: {not_in: [KR]}}
    effect: deny
  - id: corp.new
    mode: dry_run
    citation: "POL-1 §9"
    message: "trial: nothing in us-east-1"
    when: {location: {in: ["aws:us-east-1"]}}
    effect: deny
exceptions:
  - id: EXC-1
    owner: platform
    ticket: T-1
    rules: [corp.tier]
    when: {location: {in: ["aws:ap-northeast-1"]}}
    not_before: "2026-06-01"
    not_after: "2026-07-01"
    obligations: [corp.review]
)yaml";

}  // namespace residency::testing

#endif  // RESIDENCY_TESTS_EVAL_EVAL_FIXTURES_H_
