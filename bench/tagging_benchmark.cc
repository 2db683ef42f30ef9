// Tagging benchmarks, side by side on the same generated corpora:
//   tag_meta                        metadata stage only (headers, tenant, peer)
//   tag/<corpus>/<rate>/<size>      the tagger, best kernel (payload only)
//   tag_<kernel>/...                the tagger with a forced kernel (reference points)
//   re2set/... , hyperscan/...      the same detectors as RE2::Set / Hyperscan databases
// Before any engine is timed on a corpus, every document's detections are compared with the
// tagger's (and the RE2 oracle's); a mismatch fails that benchmark instead of timing it.
// `--full` runs the whole matrix (all corpora, sizes, rates, kernels); the default is small.
#include <benchmark/benchmark.h>
#include <re2/re2.h>
#include <re2/set.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "residency/tagging.h"
#include "tagging/tagging_corpus.h"
#include "tagging/tagging_oracle.h"

#ifdef RESIDENCY_BENCH_HYPERSCAN
#include <hs.h>
#endif

namespace {

namespace tg = residency::tagging;
namespace corpus = residency::tagging::corpus;
namespace oracle = residency::tagging::oracle;

const std::vector<std::string> kKeywords = {"주민등록번호", "주민번호", "RRN"};
constexpr int kDocs = 32;  // distinct documents per corpus, cycled

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

const std::string& ConfigText() {
  static const std::string* text =
      new std::string(ReadFile(std::string(RESIDENCY_SOURCE_DIR) + "/policies/tagging.yaml"));
  return *text;
}

std::unique_ptr<tg::TaggerPlan> MakePlan(const std::string& kernel) {
  tg::TaggerOptions o;
  o.force_kernel = kernel;
  auto p = tg::TaggerPlan::Compile(ConfigText(), "tagging.yaml", o);
  if (!p.ok()) return nullptr;
  return std::make_unique<tg::TaggerPlan>(std::move(*p));
}

struct Corpus {
  std::string name;
  std::vector<std::string> docs;
  size_t total_bytes = 0;
};

const char* KindName(corpus::Kind k) {
  switch (k) {
    case corpus::Kind::kEnglish:
      return "prose_en";
    case corpus::Kind::kKorean:
      return "prose_ko";
    case corpus::Kind::kDigits:
      return "digits";
    case corpus::Kind::kChatJson:
      return "chat_json";
    case corpus::Kind::kDigitsHeavy:
      return "digits_heavy";
  }
  return "?";
}

Corpus MakeCorpus(corpus::Kind kind, double rate, size_t size) {
  Corpus c;
  char name[96];
  std::snprintf(name, sizeof(name), "%s/r%g/%zu", KindName(kind), rate * 100, size);
  c.name = name;
  for (int i = 0; i < kDocs; ++i) {
    std::string d = corpus::Text(1000003ull * (i + 1) + size, kind, size, rate);
    d.resize(size);  // exact size; a cut token is fine (all engines see the same bytes)
    c.total_bytes += d.size();
    c.docs.push_back(std::move(d));
  }
  return c;
}

Corpus MakeAdversarial(size_t size) {
  Corpus c;
  c.name = "adversarial/" + std::to_string(size);
  int i = 0;
  while (c.docs.size() < kDocs) {
    for (std::string& d : corpus::Adversarial(77 + i++, size)) {
      c.total_bytes += d.size();
      c.docs.push_back(std::move(d));
    }
  }
  return c;
}

uint8_t TagBits(const tg::TaggerPlan& plan, tg::TagScratch& scratch, const std::string& doc) {
  tg::RequestView v;
  const std::string_view chunk(doc);
  v.payload = absl::MakeConstSpan(&chunk, 1);
  return tg::TagRequest(plan, v, scratch).detectors;
}

// ---- RE2::Set peer ---------------------------------------------------------------------------
class Re2SetEngine {
 public:
  Re2SetEngine() : set_(oracle::Latin1(), RE2::UNANCHORED), oracle_(kKeywords) {
    add(oracle::RrnPattern(), 0);
    add(oracle::FrnPattern(), 1);
    add(oracle::PhonePattern(), 2);
    add(oracle::EmailPattern(), 3);
    for (const oracle::CardShape& s : oracle::CardShapes()) {
      add(std::string(oracle::kBefore) + s.pattern, 4);
    }
    std::string alt;
    for (const std::string& k : kKeywords)
      alt += (alt.empty() ? "" : "|") + oracle::KeywordPattern(k);
    add(alt, 5);
    ok_ = ok_ && set_.Compile();
  }
  bool ok() const { return ok_; }
  uint8_t Detect(const std::string& doc) const {
    std::vector<int> ids;
    uint8_t bits = 0;
    if (!set_.Match(doc, &ids)) return 0;
    for (int id : ids) {
      const int det = detector_[id];
      if (det == 4) {
        if (!(bits & (1u << 4)) && oracle_.HasCard(doc)) bits |= 1u << 4;  // range, Luhn
      } else {
        bits |= static_cast<uint8_t>(1u << det);
      }
    }
    return bits;
  }

 private:
  void add(const std::string& p, int det) {
    if (set_.Add(p, nullptr) < 0) ok_ = false;
    detector_.push_back(det);
  }
  RE2::Set set_;
  oracle::Oracle oracle_;
  std::vector<int> detector_;
  bool ok_ = true;
};

// ---- Hyperscan peer --------------------------------------------------------------------------
#ifdef RESIDENCY_BENCH_HYPERSCAN
class HyperscanEngine {
 public:
  HyperscanEngine() {
    std::vector<std::string> pats;
    std::vector<unsigned> flags, ids;
    auto add = [&](const std::string& p, int det, unsigned f) {
      pats.push_back(p);
      flags.push_back(f);
      ids.push_back(static_cast<unsigned>(detector_.size()));
      detector_.push_back(det);
    };
    add(oracle::RrnPattern(), 0, HS_FLAG_SINGLEMATCH);
    add(oracle::FrnPattern(), 1, HS_FLAG_SINGLEMATCH);
    add(oracle::PhonePattern(), 2, HS_FLAG_SINGLEMATCH);
    add(oracle::EmailPattern(), 3, HS_FLAG_SINGLEMATCH);
    // Card shapes without start-of-match tracking (SOM costs Hyperscan dearly): the callback
    // recovers the start from the end offset and the shape (a digit run, or a grouped shape of
    // fixed length), then checks the issuer range, the length and Luhn.
    for (const oracle::CardShape& s : oracle::CardShapes()) {
      add(std::string(oracle::kBefore) + s.pattern, 4, 0);
      card_chars_.resize(detector_.size(), 0);
      card_chars_.back() = s.chars;
    }
    for (const std::string& k : kKeywords) add(oracle::KeywordPattern(k), 5, HS_FLAG_SINGLEMATCH);
    std::vector<const char*> cpats;
    for (const std::string& p : pats) cpats.push_back(p.c_str());
    hs_compile_error_t* err = nullptr;
    if (hs_compile_multi(cpats.data(), flags.data(), ids.data(),
                         static_cast<unsigned>(cpats.size()), HS_MODE_BLOCK, nullptr, &db_,
                         &err) != HS_SUCCESS) {
      error_ = err && err->message ? err->message : "compile failed";
      if (err) hs_free_compile_error(err);
      return;
    }
    if (hs_alloc_scratch(db_, &scratch_) != HS_SUCCESS) error_ = "scratch";
  }
  ~HyperscanEngine() {
    if (scratch_) hs_free_scratch(scratch_);
    if (db_) hs_free_database(db_);
  }
  const std::string& error() const { return error_; }

  uint8_t Detect(const std::string& doc) {
    Ctx ctx{this, &doc, 0};
    hs_scan(db_, doc.data(), static_cast<unsigned>(doc.size()), 0, scratch_, &OnMatch, &ctx);
    return ctx.bits;
  }

 private:
  struct Ctx {
    HyperscanEngine* self;
    const std::string* doc;
    uint8_t bits;
  };
  static int OnMatch(unsigned id, unsigned long long from, unsigned long long to, unsigned,
                     void* p) {
    Ctx* c = static_cast<Ctx*>(p);
    const int det = c->self->detector_[id];
    if (det == 4) {
      if (!(c->bits & (1u << 4)) && c->self->CardAt(*c->doc, id, static_cast<size_t>(to))) {
        c->bits |= 1u << 4;
      }
    } else {
      c->bits |= static_cast<uint8_t>(1u << det);
    }
    return 0;
  }
  // The card digits ending at `to` (the match may include one trailing boundary byte).
  bool CardAt(const std::string& doc, unsigned id, size_t to) const {
    size_t end = to;
    if (end > 0 && (doc[end - 1] < '0' || doc[end - 1] > '9')) --end;
    size_t start;
    const size_t chars = card_chars_[id];
    if (chars == 0) {
      start = end;
      while (start > 0 && doc[start - 1] >= '0' && doc[start - 1] <= '9') --start;
    } else {
      if (end < chars) return false;
      start = end - chars;
    }
    return oracle::CardDigitsOk(doc.substr(start, end - start));
  }
  std::vector<size_t> card_chars_;
  hs_database_t* db_ = nullptr;
  hs_scratch_t* scratch_ = nullptr;
  std::vector<int> detector_;
  std::string error_;
};
#endif

enum class Engine { kTagger, kRe2Set, kHyperscan };

// Before timing `engine` on a corpus: the tagger agrees with the RE2 oracle on every document,
// and the peer being timed detects exactly what the tagger detects.
std::string VerifyCorpus(const Corpus& c, Engine engine) {
  static auto plan = MakePlan("");
  static tg::TagScratch* scratch = new tg::TagScratch(*plan);
  static oracle::Oracle* orc = new oracle::Oracle(kKeywords);
  static Re2SetEngine* re2 = new Re2SetEngine();
#ifdef RESIDENCY_BENCH_HYPERSCAN
  static HyperscanEngine* hs = new HyperscanEngine();
  if (engine == Engine::kHyperscan && !hs->error().empty()) return "hyperscan: " + hs->error();
#endif
  if (engine == Engine::kRe2Set && !re2->ok()) return "re2set failed to compile";
  for (const std::string& d : c.docs) {
    const bool slow = d.find("\\u") != std::string::npos ||
                      d.find("\xEF\xBC") != std::string::npos ||
                      d.find("\xEF\xBD") != std::string::npos;
    if (slow) continue;  // the peers have no normaliser; compared on plain text only
    const uint8_t t = TagBits(*plan, *scratch, d);
    if (orc->Detect(d) != t) return "tagger and RE2 oracle disagree on " + c.name;
    if (engine == Engine::kRe2Set && re2->Detect(d) != t) {
      return "re2set and tagger disagree on " + c.name;
    }
#ifdef RESIDENCY_BENCH_HYPERSCAN
    if (engine == Engine::kHyperscan && hs->Detect(d) != t) {
      return "hyperscan and tagger disagree on " + c.name;
    }
#endif
  }
  return "";
}

void RegisterTagger(const Corpus& c, const std::string& kernel) {
  const std::string label = kernel.empty() ? "tag/" : "tag_" + kernel + "/";
  benchmark::RegisterBenchmark((label + c.name).c_str(), [c, kernel](benchmark::State& st) {
    auto plan = MakePlan(kernel);
    if (!plan) {
      st.SkipWithError("kernel not supported");
      return;
    }
    const std::string err = VerifyCorpus(c, Engine::kTagger);
    if (!err.empty()) {
      st.SkipWithError(err.c_str());
      return;
    }
    tg::TagScratch scratch(*plan);
    std::vector<std::string_view> views(c.docs.begin(), c.docs.end());
    size_t i = 0;
    for (auto _ : st) {
      tg::RequestView v;
      v.payload = absl::MakeConstSpan(&views[i], 1);
      benchmark::DoNotOptimize(tg::TagRequest(*plan, v, scratch));
      if (++i == views.size()) i = 0;
    }
    st.SetBytesProcessed(static_cast<int64_t>(st.iterations()) *
                         static_cast<int64_t>(c.total_bytes / c.docs.size()));
  });
}

void RegisterRe2(const Corpus& c) {
  benchmark::RegisterBenchmark(("re2set/" + c.name).c_str(), [c](benchmark::State& st) {
    const std::string err = VerifyCorpus(c, Engine::kRe2Set);
    if (!err.empty()) {
      st.SkipWithError(err.c_str());
      return;
    }
    Re2SetEngine e;
    size_t i = 0;
    for (auto _ : st) {
      benchmark::DoNotOptimize(e.Detect(c.docs[i]));
      if (++i == c.docs.size()) i = 0;
    }
    st.SetBytesProcessed(static_cast<int64_t>(st.iterations()) *
                         static_cast<int64_t>(c.total_bytes / c.docs.size()));
  });
}

#ifdef RESIDENCY_BENCH_HYPERSCAN
void RegisterHyperscan(const Corpus& c) {
  benchmark::RegisterBenchmark(("hyperscan/" + c.name).c_str(), [c](benchmark::State& st) {
    const std::string err = VerifyCorpus(c, Engine::kHyperscan);
    if (!err.empty()) {
      st.SkipWithError(err.c_str());
      return;
    }
    HyperscanEngine e;
    size_t i = 0;
    for (auto _ : st) {
      benchmark::DoNotOptimize(e.Detect(c.docs[i]));
      if (++i == c.docs.size()) i = 0;
    }
    st.SetBytesProcessed(static_cast<int64_t>(st.iterations()) *
                         static_cast<int64_t>(c.total_bytes / c.docs.size()));
  });
}
#endif

void RegisterPeers(const Corpus& c) {
  RegisterRe2(c);
#ifdef RESIDENCY_BENCH_HYPERSCAN
  RegisterHyperscan(c);
#endif
}

// Metadata only: a gateway-like header set (14 headers, 2 referenced), tenant and peer.
void BM_TagMeta(benchmark::State& st) {
  auto plan = MakePlan("");
  tg::TagScratch scratch(*plan);
  const std::vector<tg::Header> headers = {
      {":method", "POST"},
      {":path", "/v1/chat/completions"},
      {":authority", "api.example.com"},
      {"content-type", "application/json"},
      {"accept", "*/*"},
      {"user-agent", "client/1.2 (linux)"},
      {"authorization", "Bearer xxxxxxxxxxxxxxxxxxxx"},
      {"x-request-id", "4f9c0a7e-2b1d-4f55-9d1e-7a1c2b3d4e5f"},
      {"accept-encoding", "gzip"},
      {"x-forwarded-proto", "https"},
      {"content-length", "4096"},
      {"X-User-Country", "kr"},
      {"traceparent", "00-0af7651916cd43dd8448eb211c80319c-00"},
      {"x-client-country", "KR"}};
  const char* tenants[] = {"t1", "acme-jp", "unknown-tenant", "t2"};
  const char* peers[] = {"203.0.113.7", "192.0.2.200", "2001:db8:82::9", "8.8.8.8"};
  tg::IpAddress ips[4];
  for (int i = 0; i < 4; ++i) tg::IpAddress::Parse(peers[i], &ips[i]);
  size_t i = 0;
  for (auto _ : st) {
    tg::RequestView v;
    v.headers = headers;
    v.tenant = tenants[i & 3];
    v.peer = ips[(i >> 2) & 3];
    benchmark::DoNotOptimize(tg::TagRequest(*plan, v, scratch));
    ++i;
  }
}

}  // namespace

int main(int argc, char** argv) {
  bool full = false;
  std::vector<char*> args;
  for (int i = 0; i < argc; ++i) {
    if (std::strcmp(argv[i], "--full") == 0) {
      full = true;
    } else {
      args.push_back(argv[i]);
    }
  }
  int n = static_cast<int>(args.size());
  benchmark::Initialize(&n, args.data());

  benchmark::RegisterBenchmark("tag_meta", BM_TagMeta);
  // Headline: 4 KB prose (no personal data) and 4 KB digit-dense text (0.1 %), all engines.
  const Corpus prose = MakeCorpus(corpus::Kind::kEnglish, 0.0, 4096);
  const Corpus digits = MakeCorpus(corpus::Kind::kDigits, 0.001, 4096);
  RegisterTagger(prose, "");
  RegisterTagger(digits, "");
  RegisterPeers(prose);
  RegisterPeers(digits);
  RegisterTagger(prose, "scalar");
  // Other sizes, corpora and rates (tagger); peers only with --full.
  std::vector<size_t> sizes = {256, 1024, 16384, 65536};
  for (size_t s : sizes) {
    RegisterTagger(MakeCorpus(corpus::Kind::kEnglish, 0.0, s), "");
    RegisterTagger(MakeCorpus(corpus::Kind::kDigits, 0.001, s), "");
  }
  RegisterTagger(MakeCorpus(corpus::Kind::kKorean, 0.0, 4096), "");
  const Corpus heavy = MakeCorpus(corpus::Kind::kDigitsHeavy, 0.001, 4096);
  RegisterTagger(heavy, "");
  RegisterPeers(heavy);
  RegisterTagger(MakeCorpus(corpus::Kind::kChatJson, 0.001, 4096), "");
  RegisterTagger(MakeCorpus(corpus::Kind::kEnglish, 0.01, 4096), "");
  RegisterTagger(MakeAdversarial(4096), "");
  if (full) {
    for (auto kind : {corpus::Kind::kEnglish, corpus::Kind::kKorean, corpus::Kind::kDigits,
                      corpus::Kind::kChatJson}) {
      for (double rate : {0.0, 0.001, 0.01}) {
        for (size_t s : {256u, 1024u, 4096u, 16384u, 65536u}) {
          const Corpus c = MakeCorpus(kind, rate, s);
          RegisterTagger(c, "sse42");
          RegisterTagger(c, "scalar");
          RegisterPeers(c);
        }
      }
    }
  }
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
