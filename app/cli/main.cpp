// tokamak-cli: run, chat, info, tokenize, convert, synth and bench from the
// command line. Every failure ends here as one line on stderr,
// "tokamak-cli: error: <message>", and a non-zero exit code.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <exception>
#include <new>
#include <string>

#include "cli_common.h"
#include "commands.h"

namespace {

int report(const std::string& message) {
  std::string line = message;
  for (char& c : line) {
    if (c == '\n' || c == '\r') c = ' ';  // one line, whatever the message holds
  }
  std::fflush(stdout);
  std::fprintf(stderr, "tokamak-cli: error: %s\n", line.c_str());
  return 1;
}

int run(int argc, char** argv) {
  CLI::App app("Tokamak: run and study llama-family GGUF models on this machine", "tokamak-cli");
  app.set_version_flag("--version", std::string("tokamak-cli ") + TOKAMAK_VERSION);
  app.require_subcommand(1);
  tokamak::cli::add_info_command(app);
  tokamak::cli::add_run_command(app);
  tokamak::cli::add_chat_command(app);
  tokamak::cli::add_tokenize_command(app);
  tokamak::cli::add_convert_command(app);
  tokamak::cli::add_synth_command(app);
  tokamak::cli::add_bench_command(app);
  tokamak::cli::add_template_command(app);
  tokamak::cli::add_prompts_command(app);
  if (argc >= 2 && argv[1][0] != '-') {
    std::string names;
    bool known = false;
    for (const CLI::App* sub : app.get_subcommands({})) {
      known |= sub->get_name() == argv[1];
      names += (names.empty() ? "" : ", ") + sub->get_name();
    }
    if (!known) {
      return report("unknown command '" + std::string(argv[1]) + "' (commands: " + names + ")");
    }
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    return report(std::string(e.what()) + " (see tokamak-cli --help)");
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const tokamak::cli::CliError& e) {
    return report(e.what());
  } catch (const std::bad_alloc&) {
    return report("out of memory");
  } catch (const std::exception& e) {
    return report(std::string("unexpected failure: ") + e.what());
  } catch (...) {
    return report("unexpected failure");
  }
}
