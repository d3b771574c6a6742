#include "bench_controller.h"

#include <fmt/format.h>

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QRegularExpression>

#include "bench/serve_model.h"
#include "bench_figures.h"
#include "bench_worker.h"
#include "synth/synth.h"

namespace tokamak {
namespace {

QString q(const std::string& s) { return QString::fromStdString(s); }

}  // namespace

BenchController::BenchController(const QString& db_path, QObject* parent)
    : QObject(parent), worker_(std::make_shared<Worker>()) {
  worker_->db_path = db_path;
  thread_.setObjectName("tokamak-bench");
  context_ = new QObject();
  context_->moveToThread(&thread_);
  connect(&thread_, &QThread::finished, context_, &QObject::deleteLater);
  thread_.start();
  refreshHistory();
}

BenchController::~BenchController() {
  cancel_ = true;
  thread_.quit();
  thread_.wait();
}

void BenchController::post(std::function<void(Worker&)> job) {
  QMetaObject::invokeMethod(context_, [w = worker_, job = std::move(job)] { job(*w); });
}

QStringList BenchController::policyNames() const {
  return {"none", "static", "dynamic", "continuous", "paged"};
}

QStringList BenchController::devices() const {
  QStringList d{"cpu"};
  if (serve_cuda_available()) d << "cuda";
  return d;
}

QVariantList BenchController::modelChoices() const {
  QVariantList out;
  out << QVariantMap{{"label", "Built-in demo model (llama, 6 layers, Q8_0)"}, {"value", "demo"}};
  for (const SynthPreset& p : synth_presets()) {
    out << QVariantMap{{"label", QStringLiteral("Synthetic: %1 (Q8_0)").arg(q(p.name))},
                       {"value", QStringLiteral("synth:%1").arg(q(p.name))}};
  }
  return out;
}

QVariantList BenchController::figureColumns() const { return bench_figure_columns(); }

Result<ServePlanInput> BenchController::planInput(const QVariantMap& c) {
  ServePlanInput in;
  if (c.contains("policies")) {
    in.policies.clear();
    for (const QVariant& p : c["policies"].toList())
      in.policies.push_back(p.toString().toStdString());
  }
  in.workload = c.value("workload", "fixed").toString().toStdString();
  in.min_prompt_tokens = c.value("promptMin", in.min_prompt_tokens).toInt();
  in.max_prompt_tokens = c.value("promptMax", in.max_prompt_tokens).toInt();
  in.min_output_tokens = c.value("outputMin", in.min_output_tokens).toInt();
  in.max_output_tokens = c.value("outputMax", in.max_output_tokens).toInt();
  in.lmi_scale = c.value("lmiScale", in.lmi_scale).toDouble();
  in.rate = c.value("rate", 0.0).toDouble();
  in.sweep = c.value("sweep", "concurrency").toString().toStdString();
  in.concurrency = c.value("concurrency", in.concurrency).toInt();
  in.batch_size = c.value("batchSize", in.batch_size).toInt();
  in.num_requests = c.value("requests", 0).toInt();
  in.max_sequences = c.value("maxSequences", in.max_sequences).toInt();
  if (c.contains("sweepValues")) {
    in.sweep_values.clear();
    const QString text = c["sweepValues"].toString();
    for (const QString& part : text.split(QRegularExpression("[,\\s]+"), Qt::SkipEmptyParts)) {
      bool ok = false;
      const int v = part.toInt(&ok);
      if (!ok) {
        return make_error(ErrorCode::InvalidArgument,
                          fmt::format("{} values '{}': '{}' is not a whole number", in.sweep,
                                      text.toStdString(), part.toStdString()));
      }
      in.sweep_values.push_back(v);
    }
  }
  return in;
}

QString BenchController::validate(const QVariantMap& config) const {
  if (config.value("model").toString().isEmpty()) return QStringLiteral("Choose a model.");
  auto in = planInput(config);
  if (!in.ok()) return q(in.error().message);
  auto plan = make_serve_plan(*in);
  return plan.ok() ? QStringLiteral("") : q(plan.error().message);
}

QVariantMap BenchController::planSummary(const QVariantMap& config) const {
  auto in = planInput(config);
  if (!in.ok()) return {};
  auto plan = make_serve_plan(*in);
  if (!plan.ok()) return {};
  int64_t requests = 0;
  for (const ServePoint& p : plan->points) requests += p.num_requests;
  return {{"points", static_cast<int>(plan->points.size())},
          {"requests", static_cast<qint64>(requests)},
          {"workload", q(plan->workload.name())},
          {"kvBlocks", plan->kv_blocks(KvCacheConfig{}.block_size)}};
}

void BenchController::setPhase(const QString& phase, const QString& status, const QString& error) {
  phase_ = phase;
  status_ = status;
  error_ = error;
  emit stateChanged();
}

bool BenchController::start(const QVariantMap& config) {
  if (running()) return false;
  const QString invalid = validate(config);
  if (!invalid.isEmpty()) {
    setPhase("error", QStringLiteral("Cannot start"), invalid);
    return false;
  }
  const ServePlanInput input = planInput(config).value();
  last_config_ = config;
  cancel_ = false;
  live_.clear();
  results_.clear();
  session_.clear();
  gpu_status_ = QStringLiteral("");
  progress_ = 0.0;
  progress_text_ = QStringLiteral("");
  emit liveChanged();
  emit resultsChanged();
  emit progressChanged();
  setPhase("loading", QStringLiteral("Loading %1…").arg(config.value("model").toString()));
  post([this, input, config](Worker& w) { runPlan(w, input, config); });
  return true;
}

void BenchController::cancel() {
  if (!running()) return;
  cancel_ = true;
  setPhase(phase_, QStringLiteral("Cancelling…"));
}

}  // namespace tokamak
