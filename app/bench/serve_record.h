// `bench serve` results as the store's records (BenchmarkStore): the headline
// figures as columns, the whole run as result_json (serve_report.h). Used by
// `tokamak-cli bench serve` and the app's Benchmarks page alike, so a run
// reads back the same whichever made it.
#pragma once

#include <vector>

#include "bench/serve_report.h"
#include "store/benchmark_store.h"

namespace tokamak {

BenchRunRecord bench_run_record(const ServeRunResult& run, const ServeBenchConfig& config);
// kind "serve", the config's model, device, machine; one record per run.
BenchSessionRecord bench_session_record(const std::vector<ServeRunResult>& runs,
                                        const ServeBenchConfig& config);

}  // namespace tokamak
