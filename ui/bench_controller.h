// BenchController: the view-model of the Benchmarks page. It runs serving
// benchmarks (bench/serve_bench.h) on its own thread with live figures,
// saves them to the app's database next to `tokamak-cli bench serve` runs,
// reads that history back, compares sessions and exports them.
//
//   UI ──start(config)──► bench thread: make_serve_plan, load_serve_model,
//        │                 for each point: run_serve_point ─ on_sample ──►
//        │                 sampleAdded / liveSeries (queued to the UI)
//        │                 BenchmarkStore::save ──► results, history
//   UI ──cancel()───────► atomic flag: the running point ends its requests
//                         (cancelled), no more points start; nothing is saved
//   UI ──speedTest(path)► run_cpu_bench (pp/tg at batch 1) ──► speed
//
// The config map (QML): model ("demo" | "synth:PRESET" | a GGUF path),
// device, policies [names], workload (fixed | random | lmi), promptMin,
// promptMax, outputMin, outputMax, lmiScale, rate (> 0: Poisson), sweep
// (concurrency | batch), sweepValues ("1,4,8"), concurrency, batchSize,
// requests (0: the workload's default), maxSequences, threads.
#pragma once

#include <QtQml/qqmlregistration.h>

#include <QObject>
#include <QThread>
#include <QVariantList>
#include <QVariantMap>
#include <atomic>
#include <memory>

#include "bench/serve_plan.h"

namespace tokamak {

class BenchController : public QObject {
  Q_OBJECT
  QML_ELEMENT
  QML_UNCREATABLE("made by main()")
  Q_PROPERTY(QStringList policyNames READ policyNames CONSTANT)
  Q_PROPERTY(QStringList devices READ devices CONSTANT)
  Q_PROPERTY(QVariantList modelChoices READ modelChoices CONSTANT)
  Q_PROPERTY(bool running READ running NOTIFY stateChanged)
  Q_PROPERTY(QString phase READ phase NOTIFY
                 stateChanged)  // idle|loading|running|saving|done|cancelled|error
  Q_PROPERTY(QString status READ status NOTIFY stateChanged)
  Q_PROPERTY(QString error READ error NOTIFY stateChanged)
  Q_PROPERTY(double progress READ progress NOTIFY progressChanged)
  Q_PROPERTY(QString progressText READ progressText NOTIFY progressChanged)
  Q_PROPERTY(QVariantList liveSeries READ liveSeries NOTIFY liveChanged)
  Q_PROPERTY(QString gpuStatus READ gpuStatus NOTIFY liveChanged)
  Q_PROPERTY(QVariantList results READ results NOTIFY resultsChanged)
  Q_PROPERTY(QVariantMap session READ session NOTIFY resultsChanged)
  Q_PROPERTY(QVariantList history READ history NOTIFY historyChanged)
  Q_PROPERTY(QVariantList comparison READ comparison NOTIFY comparisonChanged)
  Q_PROPERTY(QVariantList comparedSessions READ comparedSessions NOTIFY comparisonChanged)
  Q_PROPERTY(QVariantMap speed READ speed NOTIFY speedChanged)
  Q_PROPERTY(QVariantList figureColumns READ figureColumns CONSTANT)
  Q_PROPERTY(QVariantMap lastConfig READ lastConfig NOTIFY stateChanged)

 public:
  // db_path "" : the app's default database.
  explicit BenchController(const QString& db_path = {}, QObject* parent = nullptr);
  ~BenchController() override;  // cancels a run and joins the thread

  QStringList policyNames() const;
  QStringList devices() const;
  QVariantList modelChoices() const;
  bool running() const {
    return phase_ == QLatin1String("loading") || phase_ == QLatin1String("running") ||
           phase_ == QLatin1String("saving");
  }
  QString phase() const { return phase_; }
  QString status() const { return status_; }
  QString error() const { return error_; }
  double progress() const { return progress_; }
  QString progressText() const { return progress_text_; }
  QVariantList liveSeries() const { return live_; }
  QString gpuStatus() const { return gpu_status_; }
  QVariantList results() const { return results_; }
  QVariantMap session() const { return session_; }
  QVariantList history() const { return history_; }
  QVariantList comparison() const { return comparison_; }
  QVariantList comparedSessions() const { return compared_; }
  QVariantMap speed() const { return speed_; }
  QVariantList figureColumns() const;
  QVariantMap lastConfig() const { return last_config_; }  // of the latest start()

  // The config as a plan input; InvalidArgument naming the field otherwise.
  static Result<ServePlanInput> planInput(const QVariantMap& config);
  // "" when the config can run, else why not (for the page, before Run).
  Q_INVOKABLE QString validate(const QVariantMap& config) const;
  // {points, requests, kvBlocks} of the config's plan ({} when invalid).
  Q_INVOKABLE QVariantMap planSummary(const QVariantMap& config) const;

  Q_INVOKABLE bool start(const QVariantMap& config);
  Q_INVOKABLE void cancel();

  // Chart data from the shown results (bench_figures.h).
  Q_INVOKABLE QVariantList bars() const;
  Q_INVOKABLE QVariantList lines(const QString& y) const;
  Q_INVOKABLE QString sweepAxis() const;

  Q_INVOKABLE void refreshHistory();
  Q_INVOKABLE void openSession(qint64 id);
  Q_INVOKABLE void removeSession(qint64 id);
  Q_INVOKABLE void compare(const QVariantList& ids);
  // Writes a session (-1: the one shown) as "csv" or "json" to `path` (a
  // file path or file:// URL); the answer comes as exported().
  Q_INVOKABLE void exportSession(qint64 id, const QString& path, const QString& format);

  // Prefill / decode tokens/s at batch 1 on the CPU (like llama-bench).
  Q_INVOKABLE void speedTest(const QString& model);

 signals:
  void stateChanged();
  void progressChanged();
  void liveChanged();
  void sampleAdded(int series, const QVariantMap& sample);
  void resultsChanged();
  void historyChanged();
  void comparisonChanged();
  void speedChanged();
  void finished(bool ok);
  void exported(bool ok, const QString& message);

 private:
  struct Worker;
  void post(std::function<void(Worker&)> job);
  void setPhase(const QString& phase, const QString& status, const QString& error = {});
  void runPlan(Worker& w, const ServePlanInput& input, const QVariantMap& config);

  QThread thread_;
  QObject* context_ = nullptr;  // lives on thread_
  std::shared_ptr<Worker> worker_;
  std::atomic<bool> cancel_{false};
  QString phase_ = QStringLiteral("idle");
  QString status_ = QStringLiteral("");
  QString error_ = QStringLiteral("");
  double progress_ = 0.0;
  QString progress_text_ = QStringLiteral("");
  QVariantList live_;  // [{label, policy, samples: [sample]}] one per point
  QString gpu_status_ = QStringLiteral("");
  QVariantList results_;
  QVariantMap session_;
  QVariantList history_;
  QVariantList comparison_;
  QVariantList compared_;
  QVariantMap speed_;
  QVariantMap last_config_;
};

}  // namespace tokamak
