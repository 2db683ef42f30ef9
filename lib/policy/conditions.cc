// Condition parsing: a YAML map whose keys are ANDed (policies/README.md, "Conditions").
#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "policy/compiler.h"

namespace residency::policy_internal {
namespace {

Condition Never() {
  Condition c;
  c.kind = Condition::Kind::kNot;
  c.children.emplace_back();
  return c;
}

const std::vector<std::string> kConditionKeys = {"all",
                                                 "any",
                                                 "not",
                                                 "tags",
                                                 "classes",
                                                 "origins",
                                                 "kind",
                                                 "action",
                                                 "job",
                                                 "artifact",
                                                 "purpose",
                                                 "use_case",
                                                 "tier",
                                                 "transfer",
                                                 "subjects",
                                                 "sensitive_subjects",
                                                 "cumulative_subjects",
                                                 "training_flops",
                                                 "retention_hours",
                                                 "dataset_id_matches",
                                                 "uri_matches",
                                                 "location",
                                                 "operator",
                                                 "recipient",
                                                 "user",
                                                 "evidence"};

Condition Values(Field f, std::vector<std::string> v) {
  Condition c;
  c.kind = Condition::Kind::kValues;
  c.field = f;
  c.values = std::move(v);
  return c;
}

int32_t AddConditionSource(CompileContext& ctx, std::string text, const YAML::Mark& mark) {
  if (!ctx.policy) return -1;
  auto& sources = ctx.policy->condition_sources;
  sources.push_back({std::move(text), mark.line + 1, mark.column + 1});
  return static_cast<int32_t>(sources.size() - 1);
}

std::shared_ptr<const RE2> CompileRegex(const std::string& pattern, const YAML::Mark& mark,
                                        CompileContext& ctx) {
  if (pattern.size() > ctx.options->max_pattern_bytes) {
    ctx.sink->Error(ctx.file, mark, "limit",
                    absl::StrCat("pattern is ", pattern.size(), " bytes; the limit is ",
                                 ctx.options->max_pattern_bytes));
    return nullptr;
  }
  RE2::Options opts;
  opts.set_log_errors(false);
  opts.set_max_mem(ctx.options->max_regex_memory);
  auto re = std::make_shared<RE2>(pattern, opts);
  if (!re->ok()) {
    ctx.sink->Error(ctx.file, mark, "invalid-regex",
                    absl::StrCat("invalid RE2 pattern `", pattern, "`: ", re->error()));
    return nullptr;
  }
  return re;
}

// {gte, gt, lte, lt}
bool ParseBounds(YNode n, CompileContext& ctx, nlohmann::json* canon, Condition* c,
                 const char* what) {
  MapReader r(n, ctx.file, ctx.sink, canon, absl::StrCat("`", what, "`"));
  if (!r.ok()) return false;
  auto b = std::make_shared<NumberBounds>();
  b->gte = r.Number("gte");
  b->gt = r.Number("gt");
  b->lte = r.Number("lte");
  b->lt = r.Number("lt");
  r.Finish();
  c->bounds = b;
  if (!b->gte && !b->gt && !b->lte && !b->lt) {
    ctx.sink->Error(ctx.file, n.Mark(), "missing-key",
                    absl::StrCat("`", what, "` needs at least one of gte, gt, lte, lt"));
    return false;
  }
  return true;
}

bool ParseAttributes(YNode n, CompileContext& ctx, nlohmann::json* canon,
                     std::vector<std::pair<std::string, std::string>>* out) {
  if (!n.IsDefined() || n.IsNull()) return true;
  if (!n.IsMap()) {
    ctx.sink->Error(ctx.file, n.Mark(), "wrong-type", "`attributes` must be a mapping");
    return false;
  }
  for (size_t i = 0; i < n.size(); ++i) {
    const YNode k = n.Key(i), val = n.Value(i);
    if (!k.IsScalar() || !val.IsScalar()) {
      ctx.sink->Error(ctx.file, k.Mark(), "wrong-type", "`attributes` maps names to scalar values");
      return false;
    }
    std::string v = val.Scalar();
    if (auto b = ParseBool(v)) v = *b ? "true" : "false";
    out->emplace_back(k.Scalar(), v);
    if (canon) (*canon)[k.Scalar()] = v;
  }
  std::sort(out->begin(), out->end());
  for (size_t i = 1; i < out->size(); ++i) {
    if ((*out)[i].first == (*out)[i - 1].first) {
      ctx.sink->Error(ctx.file, n.Mark(), "duplicate-key",
                      absl::StrCat("duplicate key `", (*out)[i].first, "` in `attributes`"));
      return false;
    }
  }
  return true;
}

int ResolveList(const std::optional<std::string>& name, const YAML::Mark& mark,
                CompileContext& ctx) {
  if (!name) return -1;
  auto it = std::find(ctx.list_names.begin(), ctx.list_names.end(), *name);
  if (it == ctx.list_names.end()) {
    std::string hint = DidYouMean(*name, ctx.list_names);
    ctx.sink->Error(
        ctx.file, mark, "dangling-reference",
        absl::StrCat("unknown list `", *name, "`",
                     hint.empty() ? "" : absl::StrCat(" (did you mean `", hint, "`?)")));
    return -2;
  }
  return static_cast<int>(it - ctx.list_names.begin());
}

bool ParseParty(YNode n, CompileContext& ctx, nlohmann::json* canon, PartyCond* p, bool recipient) {
  MapReader r(n, ctx.file, ctx.sink, canon, recipient ? "`recipient`" : "`operator`");
  if (!r.ok()) return false;
  bool ok = true;
  p->present = r.Bool("present");
  if (auto v = r.StringList("ids")) p->ids = *v;
  if (auto v = r.String("id_matches")) {
    p->id_regex = CompileRegex(*v, r.Raw("id_matches").Mark(), ctx);
    ok &= p->id_regex != nullptr;
  }
  if (auto v = r.StringList("countries")) {
    p->has_countries = true;
    ok &= ResolveCountries(*v, r.Raw("countries").Mark(), ctx, &p->countries);
  }
  if (recipient) {
    if (auto v = r.StringList("roles")) p->roles = *v;
    for (const auto& role : p->roles) {
      if (role != "processor" && role != "third_party" && role != "affiliate") {
        ctx.sink->Error(ctx.file, r.Raw("roles").Mark(), "bad-value",
                        absl::StrCat("unknown recipient role `", role,
                                     "`; want processor, third_party or affiliate"));
        ok = false;
      }
    }
    YNode in = r.Raw("in_list");
    auto in_name = r.String("in_list");
    p->in_list = ResolveList(in_name, in.Mark(), ctx);
    YNode nin = r.Raw("not_in_list");
    auto nin_name = r.String("not_in_list");
    p->not_in_list = ResolveList(nin_name, nin.Mark(), ctx);
    ok &= p->in_list != -2 && p->not_in_list != -2;
  } else {
    if (auto v = r.StringList("sectors")) p->sectors = *v;
  }
  YNode attrs = r.Raw("attributes");
  nlohmann::json* ac = canon ? &(*canon)["attributes"] : nullptr;
  ok &= ParseAttributes(attrs, ctx, ac, &p->attributes);
  if (canon && canon->contains("attributes") && (*canon)["attributes"].is_null()) {
    canon->erase("attributes");
  }
  r.Finish();
  return ok;
}

bool ParseLocation(YNode n, CompileContext& ctx, nlohmann::json* canon, LocationCond* l) {
  MapReader r(n, ctx.file, ctx.sink, canon, "`location`");
  if (!r.ok()) return false;
  bool ok = true;
  if (auto v = r.StringList("in")) {
    l->has_in = true;
    YNode m = r.Raw("in");
    for (const auto& name : *v) ok &= ResolveLocations(name, m.Mark(), ctx, &l->in);
  }
  if (auto v = r.StringList("not_in")) {
    l->has_not_in = true;
    YNode m = r.Raw("not_in");
    for (const auto& name : *v) ok &= ResolveLocations(name, m.Mark(), ctx, &l->not_in);
  }
  YNode in = r.Raw("in_list");
  l->in_list = ResolveList(r.String("in_list"), in.Mark(), ctx);
  YNode nin = r.Raw("not_in_list");
  l->not_in_list = ResolveList(r.String("not_in_list"), nin.Mark(), ctx);
  if (l->in_list == -2 || l->not_in_list == -2) ok = false;
  if (l->in_list >= 0) ctx.location_lists_used.emplace_back(l->in_list, in.Mark());
  if (l->not_in_list >= 0) ctx.location_lists_used.emplace_back(l->not_in_list, nin.Mark());
  if (auto v = r.StringList("certifications")) l->certifications = *v;
  if (auto v = r.StringList("sites")) l->sites = *v;
  if (auto v = r.StringList("providers")) l->providers = *v;
  if (auto v = r.Bool("outside_origin")) l->outside_origin = *v;
  if (auto v = r.Bool("own_premises")) l->own_premises = *v;
  YNode attrs = r.Raw("attributes");
  if (attrs.IsDefined()) {
    nlohmann::json* ac = canon ? &(*canon)["attributes"] : nullptr;
    ok &= ParseAttributes(attrs, ctx, ac, &l->attributes);
  }
  r.Finish();
  return ok;
}

bool ParseEvidence(YNode n, CompileContext& ctx, nlohmann::json* canon, EvidenceCond* e) {
  MapReader r(n, ctx.file, ctx.sink, canon, "`evidence`");
  if (!r.ok()) return false;
  if (auto v = r.StringList("types", /*required=*/true)) e->types = *v;
  if (auto v = r.Bool("match_country")) e->match_country = *v;
  if (auto v = r.Bool("match_recipient")) e->match_recipient = *v;
  if (auto v = r.Bool("match_origin")) e->match_origin = *v;
  if (auto v = r.StringList("covers")) e->covers = *v;
  bool ok = true;
  if (auto v = r.StringList("require")) {
    for (const auto& f : *v) {
      if (f == "country") {
        e->require_country = true;
      } else if (f == "recipient") {
        e->require_recipient = true;
      } else if (f == "origin") {
        e->require_origin = true;
      } else {
        ctx.sink->Error(
            ctx.file, r.Raw("require").Mark(), "bad-value",
            absl::StrCat("`require` names `", f, "`; want country, recipient or origin"));
        ok = false;
      }
    }
  }
  r.Finish();
  return ok && !e->types.empty();
}

bool ParseTagPatterns(const std::vector<std::string>& pats, const YAML::Mark& mark,
                      CompileContext& ctx, std::vector<TagPattern>* out) {
  bool ok = true;
  for (const auto& p : pats) {
    TagPattern t;
    auto colon = p.find(':');
    if (colon == std::string::npos) {
      ctx.sink->Error(ctx.file, mark, "bad-value",
                      absl::StrCat("tag pattern `", p, "` must be ORIGIN:class (`*` for any)"));
      ok = false;
      continue;
    }
    std::string origin = p.substr(0, colon), cls = p.substr(colon + 1);
    if (origin != "*") {
      t.any_origin = false;
      ok &= ResolveCountries({origin}, mark, ctx, &t.origins);
    }
    if (cls != "*") {
      t.any_class = false;
      ok &= ResolveClasses({cls}, mark, ctx, &t.classes);
    }
    out->push_back(t);
  }
  return ok;
}

}  // namespace

Condition ParseCondition(YNode node, CompileContext& ctx, nlohmann::json* canon, int depth) {
  if (depth > ctx.options->max_nesting) {
    ctx.sink->Error(ctx.file, node.Mark(), "limit",
                    absl::StrCat("conditions nest deeper than ", ctx.options->max_nesting));
    return Never();
  }
  if (node.IsNull() || !node.IsDefined()) return Condition{};
  MapReader r(node, ctx.file, ctx.sink, canon, "condition");
  if (!r.ok()) return Never();
  Condition all;
  all.kind = Condition::Kind::kAll;
  bool ok = true;
  auto sub = [&](const char* key) -> nlohmann::json* { return canon ? &(*canon)[key] : nullptr; };
  // Where each child of `all` comes from (its key, and a key within it), for explanations; their
  // texts are made at the end, once the canonical form is complete.
  struct Origin {
    size_t child;
    const char* key;
    const char* subkey;
    YAML::Mark mark;
  };
  std::vector<Origin> origins;
  auto from = [&](const char* key, YAML::Mark mark, const char* subkey = nullptr) {
    origins.push_back({all.children.size() - 1, key, subkey, mark});
  };
  auto list_of_conditions = [&](const char* key, Condition::Kind kind) {
    YNode n = r.Raw(key);
    if (!n.IsDefined()) return;
    if (!n.IsSequence() || n.size() == 0) {
      ctx.sink->Error(ctx.file, n.Mark(), "wrong-type",
                      absl::StrCat("`", key, "` must be a non-empty list of conditions"));
      ok = false;
      return;
    }
    Condition c;
    c.kind = kind;
    c.children.reserve(n.size());
    nlohmann::json* arr = sub(key);
    if (arr) *arr = nlohmann::json::array();
    for (const auto& e : n) {
      nlohmann::json child;
      c.children.push_back(ParseCondition(e, ctx, arr ? &child : nullptr, depth + 1));
      if (arr) arr->push_back(std::move(child));
    }
    all.children.push_back(std::move(c));
    from(key, n.Mark());
  };
  list_of_conditions("all", Condition::Kind::kAll);
  list_of_conditions("any", Condition::Kind::kAny);
  if (YNode n = r.Raw("not"); n.IsDefined()) {
    Condition c;
    c.kind = Condition::Kind::kNot;
    c.children.push_back(ParseCondition(n, ctx, sub("not"), depth + 1));
    all.children.push_back(std::move(c));
    from("not", n.Mark());
  }
  // Tag filters.
  {
    Condition c;
    c.kind = Condition::Kind::kTags;
    if (auto v = r.StringList("tags"))
      ok &= ParseTagPatterns(*v, r.Raw("tags").Mark(), ctx, &c.tags);
    if (!c.tags.empty()) {
      all.children.push_back(std::move(c));
      from("tags", r.Raw("tags").Mark());
    }
    if (auto v = r.StringList("classes")) {
      Condition k;
      k.kind = Condition::Kind::kTags;
      TagPattern t;
      t.any_class = false;
      ok &= ResolveClasses(*v, r.Raw("classes").Mark(), ctx, &t.classes);
      k.tags.push_back(t);
      all.children.push_back(std::move(k));
      from("classes", r.Raw("classes").Mark());
    }
    if (auto v = r.StringList("origins")) {
      Condition k;
      k.kind = Condition::Kind::kTags;
      TagPattern t;
      t.any_origin = false;
      ok &= ResolveCountries(*v, r.Raw("origins").Mark(), ctx, &t.origins);
      k.tags.push_back(t);
      all.children.push_back(std::move(k));
      from("origins", r.Raw("origins").Mark());
    }
  }
  struct ValueKey {
    const char* key;
    Field field;
    std::vector<std::string> allowed;  // empty: free vocabulary
  };
  static const ValueKey value_keys[] = {
      {"kind", Field::kKind, {"dataset", "model", "compute"}},
      {"action",
       Field::kAction,
       {"store", "transfer", "deploy", "serve", "train", "fine_tune", "process", "evaluate",
        "infer"}},
      {"job", Field::kJob, {"training", "fine_tune", "batch", "evaluate", "inference"}},
      {"artifact", Field::kArtifact, {}},
      {"purpose", Field::kPurpose, {}},
      {"use_case", Field::kUseCase, {}},
      {"tier", Field::kTier, {}},
  };
  for (const auto& vk : value_keys) {
    auto v = r.StringList(vk.key);
    if (!v) continue;
    for (const auto& s : *v) {
      if (!vk.allowed.empty() &&
          std::find(vk.allowed.begin(), vk.allowed.end(), s) == vk.allowed.end()) {
        std::string hint = DidYouMean(s, vk.allowed);
        ctx.sink->Error(
            ctx.file, r.Raw(vk.key).Mark(), "bad-value",
            absl::StrCat("`", vk.key, "` value `", s, "` is not known",
                         hint.empty() ? "" : absl::StrCat(" (did you mean `", hint, "`?)")));
        ok = false;
      }
    }
    all.children.push_back(Values(vk.field, *v));
    from(vk.key, r.Raw(vk.key).Mark());
  }
  if (YNode n = r.Raw("transfer"); n.IsDefined()) {
    MapReader t(n, ctx.file, ctx.sink, sub("transfer"), "`transfer`");
    if (auto v = t.StringList("types")) {
      all.children.push_back(Values(Field::kTransferType, *v));
      from("transfer", t.Raw("types").Mark(), "types");
    }
    if (auto v = t.StringList("patterns")) {
      all.children.push_back(Values(Field::kTransferPattern, *v));
      from("transfer", t.Raw("patterns").Mark(), "patterns");
    }
    if (auto v = t.StringList("transactions")) {
      all.children.push_back(Values(Field::kTransaction, *v));
      from("transfer", t.Raw("transactions").Mark(), "transactions");
    }
    t.Finish();
  }
  const std::pair<const char*, Field> number_keys[] = {
      {"subjects", Field::kSubjects},
      {"sensitive_subjects", Field::kSensitiveSubjects},
      {"cumulative_subjects", Field::kCumulativeSubjects},
      {"training_flops", Field::kTrainingFlops},
      {"retention_hours", Field::kRetentionHours},
  };
  for (const auto& [key, field] : number_keys) {
    YNode n = r.Raw(key);
    if (!n.IsDefined()) continue;
    Condition c;
    c.kind = Condition::Kind::kNumber;
    c.field = field;
    if (ParseBounds(n, ctx, sub(key), &c, key)) {
      all.children.push_back(std::move(c));
      from(key, n.Mark());
    } else {
      ok = false;
    }
  }
  const std::pair<const char*, Field> regex_keys[] = {{"dataset_id_matches", Field::kDatasetId},
                                                      {"uri_matches", Field::kUri}};
  for (const auto& [key, field] : regex_keys) {
    YNode n = r.Raw(key);
    auto v = r.String(key);
    if (!v) continue;
    Condition c;
    c.kind = Condition::Kind::kRegex;
    c.field = field;
    c.regex = CompileRegex(*v, n.Mark(), ctx);
    if (c.regex) {
      all.children.push_back(std::move(c));
      from(key, n.Mark());
    } else {
      ok = false;
    }
  }
  if (YNode n = r.Raw("location"); n.IsDefined()) {
    Condition c;
    c.kind = Condition::Kind::kLocation;
    auto l = std::make_shared<LocationCond>();
    ok &= ParseLocation(n, ctx, sub("location"), l.get());
    c.location = std::move(l);
    all.children.push_back(std::move(c));
    from("location", n.Mark());
  }
  if (YNode n = r.Raw("operator"); n.IsDefined()) {
    Condition c;
    c.kind = Condition::Kind::kOperator;
    auto p = std::make_shared<PartyCond>();
    ok &= ParseParty(n, ctx, sub("operator"), p.get(), false);
    c.party = std::move(p);
    all.children.push_back(std::move(c));
    from("operator", n.Mark());
  }
  if (YNode n = r.Raw("recipient"); n.IsDefined()) {
    Condition c;
    c.kind = Condition::Kind::kRecipient;
    auto p = std::make_shared<PartyCond>();
    ok &= ParseParty(n, ctx, sub("recipient"), p.get(), true);
    c.party = std::move(p);
    all.children.push_back(std::move(c));
    from("recipient", n.Mark());
  }
  if (YNode n = r.Raw("user"); n.IsDefined()) {
    Condition c;
    c.kind = Condition::Kind::kUser;
    auto uc = std::make_shared<UserCond>();
    MapReader u(n, ctx.file, ctx.sink, sub("user"), "`user`");
    if (auto v = u.StringList("jurisdictions")) {
      uc->has_jurisdictions = true;
      ok &= ResolveCountries(*v, u.Raw("jurisdictions").Mark(), ctx, &uc->jurisdictions);
    }
    if (auto v = u.StringList("provenance")) {
      for (const auto& p : *v) {
        if (p != "verified" && p != "claimed" && p != "inferred") {
          ctx.sink->Error(ctx.file, u.Raw("provenance").Mark(), "bad-value",
                          absl::StrCat("provenance `", p, "`; want verified, claimed or inferred"));
          ok = false;
        }
      }
      uc->provenance = *v;
    }
    u.Finish();
    c.user = std::move(uc);
    all.children.push_back(std::move(c));
    from("user", n.Mark());
  }
  if (YNode n = r.Raw("evidence"); n.IsDefined()) {
    Condition c;
    c.kind = Condition::Kind::kEvidence;
    auto e = std::make_shared<EvidenceCond>();
    ok &= ParseEvidence(n, ctx, sub("evidence"), e.get());
    c.evidence = std::move(e);
    all.children.push_back(std::move(c));
    from("evidence", n.Mark());
  }
  for (const auto& k : kConditionKeys) r.Ignore(k.c_str());
  r.Finish();
  if (!ok) return Never();
  for (const Origin& o : origins) {
    std::string text = o.key;
    if (o.subkey) absl::StrAppend(&text, ".", o.subkey);
    // all, any and not show their children instead.
    const bool compound = o.child < all.children.size() && !all.children[o.child].children.empty();
    if (canon && !compound && canon->contains(o.key)) {
      const nlohmann::json& j = (*canon)[o.key];
      const bool sub_known = o.subkey && j.is_object() && j.contains(o.subkey);
      if (!o.subkey || sub_known) {
        absl::StrAppend(&text, ": ",
                        (sub_known ? j[o.subkey] : j)
                            .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
      }
    }
    all.children[o.child].source = AddConditionSource(ctx, std::move(text), o.mark);
  }
  if (all.children.size() == 1) return std::move(all.children[0]);
  if (all.children.empty()) {
    Condition always;
    always.source = AddConditionSource(ctx, "always", node.Mark());
    return always;
  }
  all.source = AddConditionSource(ctx, "all of", node.Mark());
  all.children.shrink_to_fit();  // compiled sets are kept: no growth slack
  return all;
}

}  // namespace residency::policy_internal
