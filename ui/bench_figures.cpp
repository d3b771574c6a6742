#include "bench_figures.h"

#include <QMap>
#include <QSet>
#include <algorithm>
#include <cmath>

namespace tokamak {
namespace {

using nlohmann::json;

double num(const json& j, const char* key, double fallback = 0.0) {
  return j.contains(key) && j[key].is_number() ? j[key].get<double>() : fallback;
}

void put_latency(QVariantMap& m, const json& run, const char* key, const QString& prefix) {
  const json l = run.contains(key) ? run[key] : json::object();
  m[prefix + "Mean"] = num(l, "mean");
  m[prefix + "P50"] = num(l, "p50");
  m[prefix + "P90"] = num(l, "p90");
  m[prefix + "P99"] = num(l, "p99");
}

QString run_key(const QVariantMap& r) {
  return QStringLiteral("%1|%2|%3|%4|%5")
      .arg(r["policy"].toString(), r["workload"].toString())
      .arg(r["concurrency"].toInt())
      .arg(r["batchSize"].toInt())
      .arg(r["rate"].toDouble());
}

// "paged c=4 · fixed:32:32"; static and dynamic also name their batch size.
QString run_label(const QVariantMap& r) {
  const QString policy = r["policy"].toString();
  const QString load = r["rate"].toDouble() > 0
                           ? QStringLiteral("%1/s").arg(r["rate"].toDouble())
                           : QStringLiteral("c=%1").arg(r["concurrency"].toInt());
  const QString batch = policy == "static" || policy == "dynamic"
                            ? QStringLiteral(" b=%1").arg(r["batchSize"].toInt())
                            : QString();
  return QStringLiteral("%1%2 %3 · %4").arg(policy, batch, load, r["workload"].toString());
}

}  // namespace

QVariantMap bench_sample_map(const TimelineSample& s) {
  QVariantMap m;
  m["t"] = s.t_s;
  m["tps"] = s.output_tokens_per_second;
  m["running"] = s.num_running;
  m["waiting"] = s.num_waiting;
  m["kvUsed"] = s.kv_blocks_used;
  m["kvTotal"] = s.kv_blocks_total;
  m["tokens"] = static_cast<qint64>(s.num_output_tokens);
  if (s.gpu) {
    const GpuSample& g = *s.gpu;
    if (g.utilization_percent >= 0) m["gpuUtil"] = g.utilization_percent;
    if (g.power_w >= 0) m["gpuPowerW"] = g.power_w;
    if (g.memory_used_bytes >= 0) m["gpuMemGiB"] = g.memory_used_bytes / 1073741824.0;
    if (g.sm_clock_mhz >= 0) m["smClockMhz"] = g.sm_clock_mhz;
  }
  return m;
}

QVariantMap bench_run_map(const json& run) {
  QVariantMap m;
  m["policy"] = QString::fromStdString(run.value("policy", std::string()));
  m["workload"] = QString::fromStdString(run.value("workload", std::string()));
  m["concurrency"] = static_cast<int>(num(run, "concurrency"));
  m["rate"] = num(run, "rate");
  m["batchSize"] = static_cast<int>(num(run, "batch_size"));
  m["requests"] = static_cast<int>(num(run, "num_requests"));
  m["completed"] = static_cast<int>(num(run, "num_completed"));
  m["errors"] = static_cast<int>(num(run, "num_errors") + num(run, "num_unaccounted"));
  m["outputTokens"] = static_cast<qint64>(num(run, "num_output_tokens"));
  // Mean prompt length of the completed requests (the x of a prompt sweep).
  const double completed = num(run, "num_completed");
  m["promptTokens"] = completed > 0 ? num(run, "num_prompt_tokens") / completed : 0.0;
  m["durationS"] = num(run, "duration_s");
  m["rps"] = num(run, "requests_per_second");
  m["outTps"] = num(run, "output_tokens_per_second");
  m["totalTps"] = num(run, "total_tokens_per_second");
  put_latency(m, run, "ttft_ms", "ttft");
  put_latency(m, run, "tpot_ms", "tpot");
  put_latency(m, run, "itl_ms", "itl");
  put_latency(m, run, "e2e_ms", "e2e");
  m["kvWaste"] = num(run, "kv_waste_percent");
  m["peakRunning"] = static_cast<int>(num(run, "peak_running"));
  m["meanRunning"] = num(run, "mean_running");
  m["kvBlocksTotal"] = static_cast<int>(num(run, "kv_blocks_total"));
  m["kvBlocksPeak"] = static_cast<int>(num(run, "kv_blocks_peak_used"));
  const json energy = run.contains("energy") ? run["energy"] : json::object();
  m["energyStatus"] = QString::fromStdString(energy.value("status", std::string("unavailable")));
  m["energyReason"] = QString::fromStdString(energy.value(
      "reason", std::string(run.contains("energy") ? "" : "run saved before energy was measured")));
  if (energy.value("status", std::string()) == "measured") {
    m["jPerToken"] = num(energy, "joules_per_output_token");
    m["energyJ"] = num(energy, "joules");
    m["meanPowerW"] = num(energy, "mean_power_w");
  }
  const json gpu = run.contains("gpu_telemetry") ? run["gpu_telemetry"] : json::object();
  m["gpuName"] = QString::fromStdString(gpu.value("gpu_name", std::string()));
  QVariantList timeline;
  if (run.contains("timeline") && run["timeline"].is_array()) {
    for (const json& s : run["timeline"])
      timeline.push_back(bench_sample_map(timeline_sample_from_json(s)));
  }
  m["timeline"] = timeline;
  m["label"] = run_label(m);
  return m;
}

QVariantList bench_bars(const QVariantList& runs) {
  QStringList order;
  QMap<QString, QVariantMap> best;
  for (const QVariant& v : runs) {
    const QVariantMap r = v.toMap();
    const QString p = r["policy"].toString();
    if (!best.contains(p)) order << p;
    if (!best.contains(p) || r["rps"].toDouble() > best[p]["rps"].toDouble()) best[p] = r;
  }
  QVariantList out;
  for (const QString& p : order) {
    QVariantMap b;
    b["policy"] = p;
    b["rps"] = best[p]["rps"];
    b["outTps"] = best[p]["outTps"];
    if (best[p].contains("jPerToken")) b["jPerToken"] = best[p]["jPerToken"];
    out << b;
  }
  return out;
}

QVariantList bench_lines(const QVariantList& runs, const QString& x, const QString& y) {
  QStringList order;
  QMap<QString, QList<QPair<double, double>>> pts;
  for (const QVariant& v : runs) {
    const QVariantMap r = v.toMap();
    const QString p = r["policy"].toString();
    if (!pts.contains(p)) order << p;
    pts[p].append({r[x].toDouble(), r[y].toDouble()});
  }
  QVariantList out;
  for (const QString& p : order) {
    auto list = pts[p];
    std::sort(list.begin(), list.end(), [](auto a, auto b) { return a.first < b.first; });
    QVariantList points;
    for (const auto& [px, py] : list) points << QVariantMap{{"x", px}, {"y", py}};
    out << QVariantMap{{"name", p}, {"points", points}};
  }
  return out;
}

QString bench_sweep_axis(const QVariantList& runs) {
  for (const char* key : {"concurrency", "batchSize", "rate", "promptTokens"}) {
    QSet<double> seen;
    for (const QVariant& v : runs) seen.insert(v.toMap()[key].toDouble());
    if (seen.size() > 1) return key;
  }
  return QStringLiteral("concurrency");
}

QVariantList bench_figure_columns() {
  struct C {
    const char* key;
    const char* label;
    const char* unit;
    bool higher;
  };
  static const C cols[] = {
      {"rps", "Requests/s", "req/s", true},
      {"outTps", "Output tokens/s", "tok/s", true},
      {"totalTps", "Total tokens/s", "tok/s", true},
      {"ttftP50", "TTFT p50", "ms", false},
      {"ttftP90", "TTFT p90", "ms", false},
      {"ttftP99", "TTFT p99", "ms", false},
      {"tpotP50", "TPOT p50", "ms", false},
      {"tpotP90", "TPOT p90", "ms", false},
      {"tpotP99", "TPOT p99", "ms", false},
      {"itlP50", "ITL p50", "ms", false},
      {"itlP90", "ITL p90", "ms", false},
      {"itlP99", "ITL p99", "ms", false},
      {"e2eP50", "E2E p50", "ms", false},
      {"e2eP99", "E2E p99", "ms", false},
      {"kvWaste", "KV waste", "%", false},
      {"meanRunning", "Mean running", "seqs", true},
      {"peakRunning", "Peak running", "seqs", true},
      {"jPerToken", "Energy", "J/token", false},
      {"errors", "Errors", "", false},
  };
  QVariantList out;
  for (const C& c : cols) {
    out << QVariantMap{
        {"key", c.key}, {"label", c.label}, {"unit", c.unit}, {"higherIsBetter", c.higher}};
  }
  return out;
}

QVariantList bench_compare(const QVariantList& sessions, double threshold_percent) {
  QVariantList rows;
  if (sessions.size() < 2) return rows;
  // Runs of each session by their point.
  QList<QMap<QString, QVariantMap>> by_key;
  for (const QVariant& s : sessions) {
    QMap<QString, QVariantMap> m;
    for (const QVariant& r : s.toMap()["runs"].toList()) m[run_key(r.toMap())] = r.toMap();
    by_key << m;
  }
  const QVariantList first_runs = sessions.front().toMap()["runs"].toList();
  for (const QVariant& fr : first_runs) {
    const QVariantMap first = fr.toMap();
    const QString key = run_key(first);
    for (const QVariant& c : bench_figure_columns()) {
      const QVariantMap col = c.toMap();
      const QString fig = col["key"].toString();
      const bool higher = col["higherIsBetter"].toBool();
      QVariantList values, deltas;
      int best = -1;
      double best_v = 0, lo = INFINITY, hi = -INFINITY;
      bool any = false;
      for (int i = 0; i < by_key.size(); ++i) {
        const auto it = by_key[i].find(key);
        if (it == by_key[i].end() || !it->contains(fig)) {
          values << QVariant();
          deltas << QVariant();
          continue;
        }
        const double v = it->value(fig).toDouble();
        values << v;
        any = true;
        lo = std::min(lo, v);
        hi = std::max(hi, v);
        if (best < 0 || (higher ? v > best_v : v < best_v)) {
          best = i;
          best_v = v;
        }
        const double base = first.value(fig).toDouble();
        deltas << (i == 0 || !first.contains(fig) || base == 0
                       ? QVariant()
                       : QVariant(100.0 * (v - base) / base));
      }
      if (!any) continue;
      const double scale = std::max(std::abs(lo), std::abs(hi));
      const bool differs = scale > 0 && 100.0 * (hi - lo) / scale > threshold_percent;
      rows << QVariantMap{{"run", run_label(first)},  {"label", col["label"]},
                          {"unit", col["unit"]},      {"key", fig},
                          {"higherIsBetter", higher}, {"values", values},
                          {"deltas", deltas},         {"best", best},
                          {"differs", differs}};
    }
  }
  return rows;
}

}  // namespace tokamak
