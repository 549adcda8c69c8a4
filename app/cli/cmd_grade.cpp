// duet grade: the answer grader alone, on a given text or file — prints the verdict, the
// extracted answer, both normalized forms and the reason. Exit 0 whether the answer is correct
// or not; 1 only when the input cannot be read.
#include <CLI/CLI.hpp>

#include "app/cli/cli_common.h"
#include "app/cli/commands.h"
#include "core/eval/grader.h"

namespace duet::cli {

void registerGrade(CLI::App& app, RunFn& run) {
  struct Opts {
    std::string kind = "math", gold, match = "first", text, file;
    bool json = false;
  };
  auto o = std::make_shared<Opts>();
  auto* cmd =
      app.add_subcommand("grade", "Grade one model output against a gold answer and explain the verdict");
  cmd->add_option("--kind,-k", o->kind, "Grader: math (\\boxed / 'The answer is'), mc ('Answer: X'), exact")
      ->check(CLI::IsMember({"math", "mc", "exact"}));
  cmd->add_option("--gold,-g", o->gold, "Gold answer")->required();
  cmd->add_option("--match", o->match,
                  "Multiple choice: which 'Answer: X' counts (first as in the paper, or last)")
      ->check(CLI::IsMember({"first", "last"}));
  auto* fileOpt = cmd->add_option("--file,-f", o->file, "Read the model output from this file");
  auto* textOpt = cmd->add_option("text", o->text, "Model output to grade")->excludes(fileOpt);
  cmd->add_flag("--json", o->json, "Machine-readable output");
  cmd->callback([o, textOpt, &run] {
    const bool haveText = textOpt->count() > 0;
    run = [o, haveText] {
      std::string output = o->text;
      if (!o->file.empty()) {
        auto t = readTextFile(o->file);
        if (!t) return fail(t.error());
        output = std::move(*t);
      } else if (!haveText) {
        return fail("grade needs the model output: give TEXT or --file F");
      }
      const GradeKind kind = gradeKindFromName(o->kind).value_or(GradeKind::kMath);
      const MatchPolicy policy = o->match == "last" ? MatchPolicy::kLast : MatchPolicy::kFirst;
      const Verdict v = grade(kind, output, o->gold, policy);
      if (o->json) {
        Json j{{"kind", std::string(gradeKindName(kind))},
               {"correct", v.correct},
               {"extracted", v.extracted},
               {"extracted_answer", v.extractedAnswer},
               {"normalized_answer", v.normalizedAnswer},
               {"gold", o->gold},
               {"normalized_gold", v.normalizedGold},
               {"method", v.method},
               {"reason", v.reason}};
        if (kind == GradeKind::kMultipleChoice) j["match"] = o->match;
        printJsonLine(j);
        return 0;
      }
      std::printf("verdict     %s\n", v.correct ? "correct" : "incorrect");
      std::printf("extracted   %s\n", v.extracted ? v.extractedAnswer.c_str() : "(none)");
      std::printf("method      %s\n", v.method.c_str());
      std::printf("normalized  %s\n", v.normalizedAnswer.c_str());
      std::printf("gold        %s\n", v.normalizedGold.c_str());
      std::printf("reason      %s\n", v.reason.c_str());
      return 0;
    };
  });
}

}  // namespace duet::cli
