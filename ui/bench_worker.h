// The bench thread's side of BenchController: its database connection and
// the conversions between the store's records and the page's values.
#pragma once

#include <QString>
#include <QVariantList>
#include <QVariantMap>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "bench_controller.h"
#include "core/result.h"
#include "store/benchmark_store.h"
#include "store/database.h"

namespace tokamak {

// Lives on the bench thread; the database opens on first use.
struct BenchController::Worker {
  QString db_path;  // "" : the default database
  std::unique_ptr<Database> db;
  std::unique_ptr<BenchmarkStore> bench;
  Result<BenchmarkStore*> store();
};

// "demo", "synth:PRESET[:MIX]" (generated once into the cache) or a GGUF path
// (or file:// URL) -> the GGUF file.
Result<std::string> resolve_bench_model(const QString& model);

// {id, createdAt, model, modelName, device, gpuName, cpuModel, numRuns,
//  source ("CLI" | "App"), command, policies, workloads, bestTps, bestRps,
//  bestJPerToken?, title}
QVariantMap bench_session_map(const BenchSessionRecord& session);
// The runs as run maps (bench_figures.h), in the order run.
QVariantList bench_session_runs(const BenchSessionRecord& session);
// {"config": ..., "runs": [...]} as `bench serve --json-out` writes it.
nlohmann::json bench_session_json(const BenchSessionRecord& session);
std::string bench_session_csv(const BenchSessionRecord& session);

}  // namespace tokamak
