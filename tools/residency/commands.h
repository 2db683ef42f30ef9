// The subcommands of the `residency` CLI. Each takes the arguments after the program name
// (argv[0] is the subcommand) and returns the process exit status. They print decisions and
// reports to stdout and errors to stderr, one line each, and never throw.
#ifndef RESIDENCY_TOOLS_RESIDENCY_COMMANDS_H_
#define RESIDENCY_TOOLS_RESIDENCY_COMMANDS_H_

#include "residency/decision.h"

namespace residency::cli {

int RunLint(int argc, char** argv);
int RunCheck(int argc, char** argv);
int RunTest(int argc, char** argv);
int RunTag(int argc, char** argv);
int RunAudit(int argc, char** argv);
int RunDiff(int argc, char** argv);
int RunWhere(int argc, char** argv);
int RunExplain(int argc, char** argv);
int RunServe(int argc, char** argv);

// `residency audit` parts over C2SP tiles (audit_tiles_cmd.cc), reached from RunAudit.
bool IsAuditTilesInvocation(int argc, char** argv);
int RunAuditTilesPublish(int argc, char** argv);
int RunAuditVerifyTiles(int argc, char** argv);
int RunAuditProveTiles(int argc, char** argv);
int RunAuditWitness(int argc, char** argv);
int RunAuditWitnessKeygen(int argc, char** argv);
int RunAuditMonitor(int argc, char** argv);

// Exit statuses shared by every subcommand.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFindings = 1;
inline constexpr int kExitCannotRun = 2;
inline constexpr int kExitEscalate = 3;  // check, explain: a person must decide

// The exit status of `check` and `explain` for a decision's effect: 0 allow or
// allow_with_obligations, 1 deny, 3 escalate.
inline int ExitForEffect(Effect e) {
  switch (e) {
    case Effect::kAllow:
    case Effect::kAllowWithObligations:
      return kExitOk;
    case Effect::kEscalate:
      return kExitEscalate;
    case Effect::kDeny:
      return kExitFindings;
  }
  return kExitFindings;
}

}  // namespace residency::cli

#endif  // RESIDENCY_TOOLS_RESIDENCY_COMMANDS_H_
