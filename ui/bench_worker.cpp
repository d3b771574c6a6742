#include "bench_worker.h"

#include <fmt/format.h>

#include <QDir>
#include <QFileInfo>
#include <filesystem>

#include "bench/serve_report.h"
#include "bench_figures.h"
#include "local_path.h"
#include "synth/synth.h"

namespace tokamak {
namespace {

QString q(const std::string& s) { return QString::fromStdString(s); }

}  // namespace

Result<BenchmarkStore*> BenchController::Worker::store() {
  if (!db) {
    DatabaseOptions o;
    o.path = db_path.toStdString();
    TK_ASSIGN(db, Database::open(o));
    bench = std::make_unique<BenchmarkStore>(*db);
  }
  return bench.get();
}

static QString cache_dir() {
  if (QString d = qEnvironmentVariable("TOKAMAK_CACHE_DIR"); !d.isEmpty()) return d;
  if (QString d = qEnvironmentVariable("XDG_CACHE_HOME"); !d.isEmpty()) return d + "/tokamak";
  return QDir::homePath() + "/.cache/tokamak";
}

// "demo", "synth:PRESET[:MIX]" or a GGUF path -> the file (generated once).
Result<std::string> resolve_bench_model(const QString& model) {
  const std::string cache = cache_dir().toStdString();
  if (model == "demo") return ensure_demo_model(cache + "/models");
  if (!model.startsWith("synth:")) {
    const QString path = local_path(model);
    if (!QFileInfo::exists(path)) {
      return make_error(ErrorCode::NotFound,
                        fmt::format("{}: no such model file", path.toStdString()));
    }
    return path.toStdString();
  }
  const QStringList parts = model.mid(6).split(':');
  const std::string preset = parts[0].toStdString();
  const std::string mix = parts.size() > 1 ? parts[1].toStdString() : "q8_0";
  if (!find_synth_preset(preset)) {
    return make_error(ErrorCode::InvalidArgument,
                      fmt::format("unknown synthetic preset '{}'", preset));
  }
  const std::filesystem::path dir = std::filesystem::path(cache) / "synth";
  const std::filesystem::path path = dir / fmt::format("{}-{}.gguf", preset, mix);
  if (std::filesystem::exists(path)) return path.string();
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  SynthOptions so;
  so.preset = preset;
  so.type_mix = mix;
  so.output_path = path.string();
  auto report = synthesize(so);
  if (!report.ok()) return report.error();
  return path.string();
}

QVariantMap bench_session_map(const BenchSessionRecord& s) {
  QVariantMap m;
  m["id"] = static_cast<qint64>(s.id);
  m["createdAt"] = q(s.created_at);
  m["model"] = q(s.model);
  m["modelName"] = QFileInfo(q(s.model)).fileName();
  m["device"] = q(s.device);
  m["gpuName"] = q(s.gpu_name);
  m["cpuModel"] = q(s.cpu_model);
  m["numRuns"] = static_cast<int>(s.runs.size());
  const auto config = nlohmann::json::parse(s.config_json, nullptr, false);
  const std::string command =
      config.is_object() ? config.value("command_line", std::string()) : std::string();
  m["source"] =
      command.rfind("bench serve", 0) == 0 ? QStringLiteral("CLI") : QStringLiteral("App");
  m["command"] = q(command);
  QStringList policies, workloads;
  double best_tps = 0, best_rps = 0;
  QVariant best_j;
  for (const BenchRunRecord& r : s.runs) {
    if (!policies.contains(q(r.policy))) policies << q(r.policy);
    if (!workloads.contains(q(r.workload))) workloads << q(r.workload);
    best_tps = std::max(best_tps, r.output_tokens_per_second);
    best_rps = std::max(best_rps, r.requests_per_second);
    if (r.joules_per_output_token &&
        (!best_j.isValid() || *r.joules_per_output_token < best_j.toDouble())) {
      best_j = *r.joules_per_output_token;
    }
  }
  m["policies"] = policies.join(", ");
  m["workloads"] = workloads.join(", ");
  m["bestTps"] = best_tps;
  m["bestRps"] = best_rps;
  if (best_j.isValid()) m["bestJPerToken"] = best_j;
  m["title"] = QStringLiteral("#%1 %2 · %3 · %4")
                   .arg(s.id)
                   .arg(m["modelName"].toString(), q(s.device), q(s.created_at).replace('T', ' '));
  return m;
}

QVariantList bench_session_runs(const BenchSessionRecord& s) {
  QVariantList out;
  for (const BenchRunRecord& r : s.runs) {
    const auto j = nlohmann::json::parse(r.result_json, nullptr, false);
    QVariantMap m = bench_run_map(j.is_object() ? j : nlohmann::json::object());
    // The columns are the truth where result_json is short (older runs).
    if (!j.is_object() || !j.contains("policy")) {
      m["policy"] = q(r.policy);
      m["workload"] = q(r.workload);
      m["rps"] = r.requests_per_second;
      m["outTps"] = r.output_tokens_per_second;
    }
    if (r.joules_per_output_token) m["jPerToken"] = *r.joules_per_output_token;
    out << m;
  }
  return out;
}

nlohmann::json bench_session_json(const BenchSessionRecord& s) {
  nlohmann::json config = nlohmann::json::parse(s.config_json, nullptr, false);
  if (config.is_discarded()) config = nlohmann::json::object();
  nlohmann::json out = {{"config", config}, {"runs", nlohmann::json::array()}};
  for (const BenchRunRecord& r : s.runs) {
    nlohmann::json run = nlohmann::json::parse(r.result_json, nullptr, false);
    out["runs"].push_back(run.is_discarded() ? nlohmann::json::object() : run);
  }
  return out;
}

std::string bench_session_csv(const BenchSessionRecord& s) {
  return serve_report_csv_from_json(bench_session_json(s));
}

}  // namespace tokamak
