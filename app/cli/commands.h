// Each tokamak-cli subcommand registers itself on the root app; its callback
// runs the command and throws CliError on failure.
#pragma once

#include <CLI/CLI.hpp>

namespace tokamak::cli {

void add_info_command(CLI::App& app);
void add_run_command(CLI::App& app);
void add_chat_command(CLI::App& app);
void add_tokenize_command(CLI::App& app);
void add_convert_command(CLI::App& app);
void add_synth_command(CLI::App& app);
void add_bench_command(CLI::App& app);
void add_template_command(CLI::App& app);
void add_prompts_command(CLI::App& app);
// `bench serve`, a subcommand of bench (cmd_bench_serve.cpp).
void add_bench_serve_command(CLI::App& bench);
// `bench batched`, llama-batched-bench's table (cmd_bench_batched.cpp).
void add_bench_batched_command(CLI::App& bench);

}  // namespace tokamak::cli
