// guard_training: a training job that asks before it runs, reads and writes.
//
// A sovereign-kr foundation model is continued-pretrained on a Korean web/chat corpus. The job
// launcher holds one policy snapshot for the whole job and asks it three kinds of question:
//   1. placement: may the job run at this compute location, reading these inputs from where they
//      are (a compute request: the job, its location, its inputs)?
//   2. each checkpoint: may this checkpoint (a model artifact that carries the tags of everything
//      it was trained on) be stored at this location?
//   3. nothing else: anything the policies refuse, or any error, is not done (fail closed).
//
//   guard_training [POLICY_DIR]       (default: the policies/ folder of the source tree)
//
// Exit status: 0 the job was placed and every checkpoint has at least one allowed copy, 1 the
// job could not be placed or a checkpoint had nowhere to go, 2 the policies could not be loaded.
#include <cstdio>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/time/time.h"
#include "residency/decision.h"
#include "residency/policy.h"
#include "residency/request.h"

#ifndef RESIDENCY_EXAMPLES_POLICIES
#define RESIDENCY_EXAMPLES_POLICIES "policies"
#endif

namespace {

using residency::Decision;
using residency::Effect;

bool Allowed(const absl::StatusOr<Decision>& d) {
  return d.ok() && (d->decision == Effect::kAllow || d->decision == Effect::kAllowWithObligations);
}

void Print(const char* what, const std::string& where, const absl::StatusOr<Decision>& d) {
  if (!d.ok()) {  // fail closed: a request the engine cannot decide is refused
    std::printf("  %-11s %-24s deny (cannot decide: %s)\n", what, where.c_str(),
                std::string(d.status().message()).c_str());
    return;
  }
  std::printf("  %-11s %-24s %s", what, where.c_str(), residency::EffectName(d->decision));
  for (const residency::Reason& r : d->reasons) {
    if (r.effect() == d->decision) std::printf(" [%s]", std::string(r.rule()).c_str());
  }
  for (const residency::ObligationRef& o : d->obligations)
    std::printf(" +%s", std::string(o.id()).c_str());
  std::printf("\n");
}

constexpr double kFlopsPerStep = 1.0e21;  // this job's compute per optimiser step

// Everything the guard needs to know about the job; the questions are built from it.
class TrainingGuard {
 public:
  TrainingGuard(std::shared_ptr<const residency::PolicySnapshot> policies, residency::Party op,
                residency::Model base, std::vector<residency::Dataset> corpus)
      : policies_(std::move(policies)),
        operator_(std::move(op)),
        base_(std::move(base)),
        corpus_(std::move(corpus)) {
    // Fixed for reproducible output; a real job leaves `now` unset (the clock).
    options_.now = absl::FromCivil(absl::CivilDay(2026, 6, 30), absl::UTCTimeZone());
  }

  // May the training job run at `location`, reading the corpus and the base model from where
  // they are stored?
  absl::StatusOr<Decision> CheckPlacement(const std::string& location) const {
    residency::Request req;
    req.kind = residency::Request::Kind::kCompute;
    req.action = "train";
    req.purpose = "model_training";
    req.operator_party = operator_;
    residency::Compute job;
    job.job = "training";
    job.location = location;
    for (const residency::Dataset& ds : corpus_) job.inputs.push_back({ds, std::nullopt});
    job.inputs.push_back({std::nullopt, base_});
    req.compute = std::move(job);
    return residency::Evaluate(*policies_, req, options_);
  }

  // May checkpoint `step`, produced by the job, be stored at `location`? The checkpoint is a
  // model artifact: it inherits the tags of the corpus and of the base model (lineage).
  absl::StatusOr<Decision> CheckCheckpoint(int step, const std::string& location,
                                           const std::string& produced_at) const {
    residency::Model ckpt;
    ckpt.id = base_.id + "-cpt-step" + std::to_string(step);
    ckpt.artifact = "checkpoint";
    ckpt.tier = base_.tier;
    ckpt.location = produced_at;
    ckpt.trained_on = corpus_;
    ckpt.base_models = {base_};
    // Training compute so far (base model plus this job's steps). Rules test it (Korea's AI
    // Basic Act duties start at 1e26 FLOPs), and a model request without it fails closed.
    ckpt.training_flops = base_.training_flops.value_or(0) + kFlopsPerStep * step;
    residency::Request req;
    req.kind = residency::Request::Kind::kModel;
    req.action = "store";
    req.destination = location;
    req.operator_party = operator_;
    req.model = std::move(ckpt);
    return residency::Evaluate(*policies_, req, options_);
  }

 private:
  std::shared_ptr<const residency::PolicySnapshot> policies_;
  residency::Party operator_;
  residency::Model base_;
  std::vector<residency::Dataset> corpus_;
  residency::EvalOptions options_;
};

}  // namespace

int main(int argc, char** argv) {
  const std::string policy_dir = argc > 1 ? argv[1] : RESIDENCY_EXAMPLES_POLICIES;
  absl::StatusOr<std::shared_ptr<const residency::PolicySnapshot>> policies =
      residency::CompilePolicy({policy_dir});
  if (!policies.ok()) {
    std::fprintf(stderr, "%s\n", std::string(policies.status().message()).c_str());
    return 2;
  }
  std::printf("policies %s\n", (*policies)->digest().c_str());

  // The job's inputs, with where each is stored today.
  residency::Dataset corpus;
  corpus.id = "kr-web-chat-corpus-2026q2";
  corpus.uri = "s3://kr-corpus/2026q2/";
  corpus.location = "ncp:KR";
  corpus.partitions.push_back({{"personal"}, "KR", 12000000, std::nullopt, std::nullopt});
  corpus.partitions.push_back({{"public"}, "KR", std::nullopt, std::nullopt, std::nullopt});

  residency::Dataset old_corpus;  // lineage only: what the base model was trained on
  old_corpus.id = "kr-web-chat-corpus-2025";
  old_corpus.partitions.push_back({{"personal"}, "KR", 9000000, std::nullopt, std::nullopt});

  residency::Model base;
  base.id = "hcx-sovereign-base";
  base.artifact = "checkpoint";
  base.tier = "sovereign-kr";
  base.location = "ncp:KR";
  base.training_flops = 4.0e25;
  base.trained_on = std::vector<residency::Dataset>{old_corpus};

  residency::Party op;
  op.id = "naver-cloud-ai";
  op.country = "KR";

  TrainingGuard guard(*policies, op, base, {corpus});

  // 1. Placement: the cheapest GPUs first; the first allowed location wins.
  std::printf("placing the training job:\n");
  std::string placed;
  const std::vector<std::string> sites = {"aws:us-east-1", "aws:ap-northeast-2",
                                          "site:naver-gak-sejong"};
  for (const std::string& where : sites) {
    absl::StatusOr<Decision> d = guard.CheckPlacement(where);
    Print("run at", where, d);
    if (Allowed(d)) {
      placed = where;
      break;
    }
  }
  if (placed.empty()) {
    std::printf("no allowed compute location: the job does not start\n");
    return 1;
  }
  std::printf("job runs at %s\n", placed.c_str());

  // 2. Checkpoints: the primary copy in Korea, a disaster-recovery mirror abroad. Each copy is
  // written only where the policies allow it; a step with no allowed copy stops the job.
  const std::vector<std::string> targets = {"ncp:KR", "aws:us-west-2"};
  for (int step = 1000; step <= 3000; step += 1000) {
    std::printf("checkpoint step %d:\n", step);
    int written = 0;
    for (const std::string& where : targets) {
      absl::StatusOr<Decision> d = guard.CheckCheckpoint(step, where, placed);
      Print("store at", where, d);
      if (Allowed(d)) {
        std::printf("    wrote step %d to %s\n", step, where.c_str());
        ++written;
      } else {
        std::printf("    skipped %s\n", where.c_str());
      }
    }
    if (written == 0) {
      std::printf("checkpoint %d has nowhere to go: stopping the job\n", step);
      return 1;
    }
  }
  std::printf("training finished\n");
  return 0;
}
