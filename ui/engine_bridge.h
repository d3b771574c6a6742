// EngineBridge: owns the loaded model, its backend and the Engine, and turns
// engine events into Qt signals.
//
//   UI thread ──loadModel()──► bridge thread: Model::load, make_cpu_backend,
//                              Engine::create ──► modelLoaded / modelFailed
//   UI thread ──submit()────► Engine::submit (never waits on a step)
//   engine thread: TokenDelta / Finished / RequestError ──► tokenArrived /
//                  generationFinished / generationFailed (queued to receivers
//                  on other threads, i.e. the UI)
// Unloading and replacing a model destroy the old Engine on the bridge
// thread (its destructor joins), so the UI never blocks on it.
#pragma once

#include <QMutex>
#include <QObject>
#include <QThread>
#include <QVariantMap>
#include <memory>

#include "runtime/engine.h"

namespace tokamak {

class Model;

class EngineBridge : public QObject {
  Q_OBJECT

 public:
  explicit EngineBridge(QObject* parent = nullptr);
  ~EngineBridge() override;

  // Loads `path` on the bridge thread, replacing the loaded model.
  void loadModel(const QString& path);
  // Generates the built-in demo model into `cache_dir` once (on the bridge
  // thread), then loads it.
  void loadDemoModel(const QString& cache_dir);
  void unloadModel();

  // The model in use (immutable; safe to read from any thread), or null.
  std::shared_ptr<const Model> model() const;
  QString modelPath() const;
  QString device() const { return QStringLiteral("cpu"); }

  // Returns a ticket (> 0) that names the generation in signals, or 0 when no
  // model is loaded.
  quint64 submit(Request request);
  void cancel(quint64 ticket);

 signals:
  void loadingStarted(const QString& path);
  void modelLoaded(const QString& path, const QVariantMap& info);
  void modelFailed(const QString& path, const QString& message);
  void modelUnloaded();
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
  };
  void doLoad(const QString& path);
  void retire(std::shared_ptr<Engine> engine);

  QThread thread_;
  QObject* worker_ = nullptr;  // lives on thread_
  mutable QMutex mutex_;
  Loaded loaded_;
  quint64 next_ticket_ = 1;
  QHash<quint64, RequestId> requests_;
};

QVariantMap timings_map(const RequestTimings& t);

}  // namespace tokamak
