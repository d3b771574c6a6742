// EngineBridge: owns the loaded model, its backend and the Engine, and turns
// engine events into Qt signals.
//
//   UI thread ──loadModel()──► bridge thread: Model::load, prefetch_weights
//                              (loadingProgress), make_backend on the decided
//                              device, Engine::create ──► modelLoaded / modelFailed
//   UI thread ──submit()────► Engine::submit (never waits on a step)
//   engine thread: TokenDelta / Finished / RequestError ──► tokenArrived /
//                  generationFinished / generationFailed (queued to receivers
//                  on other threads, i.e. the UI)
// Unloading and replacing a model destroy the old Engine on the bridge
// thread (its destructor joins), so the UI never blocks on it. A load that a
// newer load or an unload overtook stops at its next progress step and says
// nothing more.
#pragma once

#include <QMutex>
#include <QObject>
#include <QThread>
#include <QVariantMap>
#include <atomic>
#include <functional>
#include <memory>

#include "runtime/engine.h"

namespace tokamak {

class Model;

class EngineBridge : public QObject {
  Q_OBJECT

 public:
  explicit EngineBridge(QObject* parent = nullptr);
  ~EngineBridge() override;

  // Loads `path` on the bridge thread, replacing the loaded model, on the
  // device that `device_preference` (auto | cpu | cuda) decides for.
  void loadModel(const QString& path, const QString& device_preference = "auto");
  // Generates the built-in demo model into `cache_dir` once (on the bridge
  // thread), then loads it.
  void loadDemoModel(const QString& cache_dir, const QString& device_preference = "auto");
  void unloadModel();
  // Stops a load under way; the model loaded before it (if any) stays.
  void cancelLoad();

  // The model in use (immutable; safe to read from any thread), or null.
  std::shared_ptr<const Model> model() const;
  QString modelPath() const;
  // The loaded model's device ("cpu" | "cuda"; "" when none is loaded).
  QString device() const;

  // Returns a ticket (> 0) that names the generation in signals, or 0 when no
  // model is loaded.
  quint64 submit(Request request);
  void cancel(quint64 ticket);

 signals:
  void loadingStarted(const QString& path);
  // fraction in [0, 1]; stage in words ("Reading the weights: 120 of 640 MiB").
  void loadingProgress(const QString& path, double fraction, const QString& stage);
  void modelLoaded(const QString& path, const QVariantMap& info);
  void modelFailed(const QString& path, const QString& message);
  void modelUnloaded();
  void loadCancelled();
  void tokenArrived(quint64 ticket, const QString& text);
  // timings: ttftMs, prefillTps, decodeTps, numPromptTokens, numCachedTokens,
  // numGeneratedTokens, e2eMs.
  void generationFinished(quint64 ticket, const QString& reason, const QVariantMap& timings);
  void generationFailed(quint64 ticket, const QString& message);

 private:
  struct Loaded {
    std::shared_ptr<const Model> model;
    std::shared_ptr<Engine> engine;
    QString path;
    QString device;
  };
  // `generation`: the value of load_generation_ when the load was asked for.
  void doLoad(const QString& path, const QString& device_preference, uint64_t generation);
  bool current(uint64_t generation) const { return generation == load_generation_.load(); }
  uint64_t next_generation();  // under mutex_, as the install checks it
  // Emits on the UI thread (this object's), only if no newer load or unload
  // was asked for meanwhile: the pages never see a stale load's signals.
  void post_if_current(uint64_t generation, std::function<void()> emit_fn);
  void retire(std::shared_ptr<Engine> engine);

  QThread thread_;
  QObject* worker_ = nullptr;  // lives on thread_
  mutable QMutex mutex_;
  Loaded loaded_;
  quint64 next_ticket_ = 1;
  QHash<quint64, RequestId> requests_;
  std::atomic<uint64_t> load_generation_{0};  // +1 per load or unload asked for
};

QVariantMap timings_map(const RequestTimings& t);

}  // namespace tokamak
