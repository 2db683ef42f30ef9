// The condition walks every stage shares: visiting, a rule's top-level conditions, location and
// tag dependence, three-valued logic, canonical text.
#include "policy/condition_walk.h"

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace residency::policy_internal {
namespace {

using K = Condition::Kind;
using ::testing::ElementsAre;

Condition Node(K kind, std::vector<Condition> children = {}) {
  Condition c;
  c.kind = kind;
  c.children = std::move(children);
  return c;
}

// A leaf whose value the test picks by its `values[0]`: "t", "f" or "u".
Condition Leaf(const std::string& value) {
  Condition c;
  c.kind = K::kValues;
  c.field = Field::kPurpose;
  c.values = {value};
  return c;
}

Tri ByValue(const Condition& c) {
  const std::string& v = c.values.at(0);
  return v == "t" ? Tri::kTrue : v == "f" ? Tri::kFalse : Tri::kUnknown;
}

Tri Judge(const Condition& c) { return JudgeCondition(c, ByValue); }

TEST(JudgeCondition, KleeneLogicOverAllAnyAndNot) {
  EXPECT_EQ(Judge(Node(K::kAll, {Leaf("t"), Leaf("u")})), Tri::kUnknown);
  EXPECT_EQ(Judge(Node(K::kAll, {Leaf("u"), Leaf("f")})), Tri::kFalse);
  EXPECT_EQ(Judge(Node(K::kAll, {Leaf("t"), Leaf("t")})), Tri::kTrue);
  EXPECT_EQ(Judge(Node(K::kAny, {Leaf("f"), Leaf("u")})), Tri::kUnknown);
  EXPECT_EQ(Judge(Node(K::kAny, {Leaf("u"), Leaf("t")})), Tri::kTrue);
  EXPECT_EQ(Judge(Node(K::kAny, {Leaf("f"), Leaf("f")})), Tri::kFalse);
  EXPECT_EQ(Judge(Node(K::kNot, {Leaf("u")})), Tri::kUnknown);
  EXPECT_EQ(Judge(Node(K::kNot, {Leaf("t")})), Tri::kFalse);
  EXPECT_EQ(Judge(Node(K::kNot, {Node(K::kAll, {Leaf("f"), Leaf("u")})})), Tri::kTrue);
  // The value of no children: `all` true, `any` false; `always` true without asking the leaf.
  EXPECT_EQ(Judge(Node(K::kAll)), Tri::kTrue);
  EXPECT_EQ(Judge(Node(K::kAny)), Tri::kFalse);
  EXPECT_EQ(JudgeCondition(Node(K::kTrue), [](const Condition&) { return Tri::kFalse; }),
            Tri::kTrue);
}

TEST(JudgeCondition, StopsAtTheFirstChildThatDecides) {
  std::vector<std::string> asked;
  auto leaf = [&](const Condition& c) {
    asked.push_back(c.values[0]);
    return ByValue(c);
  };
  JudgeCondition(Node(K::kAll, {Leaf("u"), Leaf("f"), Leaf("t")}), leaf);
  EXPECT_THAT(asked, ElementsAre("u", "f"));
  asked.clear();
  JudgeCondition(Node(K::kAny, {Leaf("f"), Leaf("t"), Leaf("u")}), leaf);
  EXPECT_THAT(asked, ElementsAre("f", "t"));
}

TEST(ForEachCondition, VisitsParentsFirstAndCountsTheNotsAbove) {
  const Condition c =
      Node(K::kAll,
           {Leaf("a"), Node(K::kNot, {Node(K::kAny, {Leaf("b"), Node(K::kNot, {Leaf("c")})})})});
  std::vector<std::string> seen;
  ForEachCondition(c, [&](const Condition& x, int negations) {
    seen.push_back((x.kind == K::kValues ? x.values[0] : std::to_string(static_cast<int>(x.kind))) +
                   "/" + std::to_string(negations));
  });
  const std::string all = std::to_string(static_cast<int>(K::kAll));
  const std::string any = std::to_string(static_cast<int>(K::kAny));
  const std::string no = std::to_string(static_cast<int>(K::kNot));
  EXPECT_THAT(seen, ElementsAre(all + "/0", "a/0", no + "/0", any + "/1", "b/1", no + "/1", "c/2"));
}

TEST(ForEachCondition, CanChangeTheTree) {
  Condition c = Node(K::kAny, {Leaf("a"), Leaf("b")});
  ForEachCondition(c, [](Condition& x, int) {
    if (x.kind == K::kValues) x.values[0] += "!";
  });
  EXPECT_EQ(c.children[0].values[0], "a!");
  EXPECT_EQ(c.children[1].values[0], "b!");
}

TEST(ForEachRuleCondition, TakesAlternativesAndOnlyTheExceptionsNamingTheRule) {
  Policy p;
  p.rules.resize(2);
  p.rules[0].when = Leaf("when0");
  p.rules[0].alternatives.resize(1);
  p.rules[0].alternatives[0].when = Leaf("alt0");
  p.rules[1].when = Leaf("when1");
  p.exceptions.resize(2);
  p.exceptions[0].rules = {1};
  p.exceptions[0].when = Leaf("exc-of-1");
  p.exceptions[1].rules = {0, 1};
  p.exceptions[1].when = Leaf("exc-of-both");
  std::vector<std::string> seen;
  auto collect = [&](const Condition& c, int) { seen.push_back(c.values[0]); };
  ForEachRuleCondition(p, 0, collect);
  EXPECT_THAT(seen, ElementsAre("when0", "alt0", "exc-of-both"));
  seen.clear();
  ForEachRuleCondition(p, 1, collect);
  EXPECT_THAT(seen, ElementsAre("when1", "exc-of-1", "exc-of-both"));
}

TEST(TopLevelConditions, AreTheChildrenOfATopLevelAllElseTheConditionItself) {
  const Condition all = Node(K::kAll, {Leaf("a"), Node(K::kAll, {Leaf("b")})});
  ASSERT_EQ(TopLevelConditions(all).size(), 2u);
  EXPECT_EQ(&TopLevelConditions(all)[0], &all.children[0]);
  const Condition any = Node(K::kAny, {Leaf("a"), Leaf("b")});
  ASSERT_EQ(TopLevelConditions(any).size(), 1u);
  EXPECT_EQ(&TopLevelConditions(any)[0], &any);
}

TEST(DependsOnLocation, LocationConditionsAndEvidenceThatMustNameTheCountry) {
  Condition loc = Node(K::kLocation);
  loc.location = std::make_shared<const LocationCond>();
  EXPECT_TRUE(DependsOnLocation(loc));
  Condition ev = Node(K::kEvidence);
  auto e = std::make_shared<EvidenceCond>();
  ev.evidence = e;
  EXPECT_TRUE(DependsOnLocation(ev));
  e->match_country = false;
  EXPECT_FALSE(DependsOnLocation(ev));
  // Only the condition itself: a junction above a location condition is not one.
  EXPECT_FALSE(DependsOnLocation(Node(K::kAll, {loc})));
  EXPECT_FALSE(DependsOnLocation(Leaf("a")));
}

TEST(UsesTag, TagConditionsAndOutsideOriginAnywhereInTheTree) {
  EXPECT_FALSE(UsesTag(Node(K::kAll, {Leaf("a")})));
  EXPECT_TRUE(UsesTag(Node(K::kAny, {Leaf("a"), Node(K::kNot, {Node(K::kTags)})})));
  Condition loc = Node(K::kLocation);
  auto l = std::make_shared<LocationCond>();
  loc.location = l;
  EXPECT_FALSE(UsesTag(loc));
  l->outside_origin = true;
  EXPECT_TRUE(UsesTag(Node(K::kAll, {loc})));
}

TEST(CanonicalText, NamesNotIndexesAndEveryPartThatDecides) {
  CompiledSet s;
  s.classes = {{"personal", {}}, {"health", {}}};
  Policy p;
  Condition tags = Node(K::kTags);
  TagPattern t;
  t.any_class = false;
  t.classes.Set(1);
  t.any_origin = false;
  t.origins.Set(static_cast<size_t>(IsoCountryIndex("KR")));
  tags.tags = {t};
  std::string a;
  AppendConditionCanon(s, p, tags, &a);
  EXPECT_THAT(a, ::testing::HasSubstr("health:KR"));
  // A different origin is a different text; a number bound too.
  tags.tags[0].origins.Set(static_cast<size_t>(IsoCountryIndex("JP")));
  std::string b;
  AppendConditionCanon(s, p, tags, &b);
  EXPECT_NE(a, b);
  EXPECT_THAT(b, ::testing::HasSubstr("health:JP,KR"));
  Condition n = Node(K::kNumber);
  n.field = Field::kSubjects;
  auto bounds = std::make_shared<NumberBounds>();
  bounds->gte = 1000;
  n.bounds = bounds;
  std::string x, y;
  AppendConditionCanon(s, p, n, &x);
  bounds->gte = 1001;
  AppendConditionCanon(s, p, n, &y);
  EXPECT_NE(x, y);
  EXPECT_EQ(CanonNumber(0.1), "0.10000000000000001");
}

}  // namespace
}  // namespace residency::policy_internal
