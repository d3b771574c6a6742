#include "engine_bridge.h"

#include <QFileInfo>
#include <QMutexLocker>
#include <algorithm>

#include "device/device_choice.h"
#include "model/model.h"
#include "model/model_info.h"
#include "model/weight_prefetch.h"
#include "store/model_fingerprint.h"
#include "synth/synth.h"

namespace tokamak {

QVariantMap timings_map(const RequestTimings& t) {
  return {{"ttftMs", t.ttft_ms},
          {"prefillTps", t.prefill_tokens_per_second},
          {"decodeTps", t.decode_tokens_per_second},
          {"numPromptTokens", t.num_prompt_tokens},
          {"numCachedTokens", t.num_cached_tokens},
          {"numGeneratedTokens", t.num_generated_tokens},
          {"e2eMs", t.e2e_ms}};
}

EngineBridge::EngineBridge(QObject* parent) : QObject(parent) {
  thread_.setObjectName("tokamak-engine-bridge");
  worker_ = new QObject;
  worker_->moveToThread(&thread_);
  connect(&thread_, &QThread::finished, worker_, &QObject::deleteLater);
  thread_.start();
}

EngineBridge::~EngineBridge() {
  std::shared_ptr<Engine> engine;
  {
    QMutexLocker lock(&mutex_);
    engine = std::move(loaded_.engine);
    loaded_ = {};
  }
  engine.reset();  // cancels what runs and joins the engine thread
  thread_.quit();
  thread_.wait();
}

void EngineBridge::loadModel(const QString& path, const QString& device_preference) {
  const uint64_t generation = next_generation();
  emit loadingStarted(path);
  QMetaObject::invokeMethod(worker_, [this, path, device_preference, generation] {
    doLoad(path, device_preference, generation);
  });
}

void EngineBridge::loadDemoModel(const QString& cache_dir, const QString& device_preference) {
  const uint64_t generation = next_generation();
  emit loadingStarted(QStringLiteral("demo"));
  QMetaObject::invokeMethod(worker_, [this, cache_dir, device_preference, generation] {
    if (!current(generation)) return;
    post_if_current(generation, [this] {
      emit loadingProgress(QStringLiteral("demo"), 0.0, tr("Generating the demo model"));
    });
    auto path = ensure_demo_model(cache_dir.toStdString());
    if (!path.ok()) {
      post_if_current(generation, [this, m = QString::fromStdString(path.error().message)] {
        emit modelFailed(QStringLiteral("demo"), m);
      });
      return;
    }
    doLoad(QString::fromStdString(path.value()), device_preference, generation);
  });
}

uint64_t EngineBridge::next_generation() {
  QMutexLocker lock(&mutex_);
  return ++load_generation_;
}

void EngineBridge::retire(std::shared_ptr<Engine> engine) {
  if (!engine) return;
  QMetaObject::invokeMethod(worker_, [e = std::move(engine)]() mutable { e.reset(); });
}

void EngineBridge::unloadModel() {
  std::shared_ptr<Engine> old;
  {
    QMutexLocker lock(&mutex_);
    ++load_generation_;  // a load under way stops
    old = std::move(loaded_.engine);
    loaded_ = {};
    requests_.clear();
  }
  retire(std::move(old));
  emit modelUnloaded();
}

void EngineBridge::cancelLoad() {
  next_generation();  // the load under way is no longer current
  emit loadCancelled();
}

void EngineBridge::doLoad(const QString& path, const QString& device_preference,
                          uint64_t generation) {
  if (!current(generation)) return;
  auto fail = [&](const std::string& message) {
    post_if_current(generation, [this, path, m = QString::fromStdString(message)] {
      emit modelFailed(path, m);
    });
  };
  auto progress = [&](double fraction, const QString& stage) {
    post_if_current(generation,
                    [this, path, fraction, stage] { emit loadingProgress(path, fraction, stage); });
  };
  progress(0.0, tr("Reading the model's header"));
  auto model = Model::load(path.toStdString());
  if (!model.ok()) return fail(model.error().message);
  std::shared_ptr<const Model> m = std::move(model).value();
  // 2% for the header, 90% for the weights, the rest for the backend.
  auto prefetched = prefetch_weights(m->file(), [&](uint64_t done, uint64_t total) {
    if (!current(generation)) return false;
    const double f = total > 0 ? static_cast<double>(done) / static_cast<double>(total) : 1.0;
    progress(0.02 + 0.9 * f, tr("Reading the weights: %1 of %2 MiB")
                                 .arg(static_cast<double>(done) / 1048576.0, 0, 'f', 0)
                                 .arg(static_cast<double>(total) / 1048576.0, 0, 'f', 0));
    return true;
  });
  if (!prefetched.ok()) return fail(prefetched.error().message);  // silent when overtaken
  const DeviceDecision decision = decide_device(device_preference.toStdString());
  progress(0.93, decision.device == "cuda" ? tr("Copying the weights to the GPU")
                                           : tr("Preparing the CPU backend"));
  auto backend = make_backend(decision, m);
  if (!backend.ok()) return fail(backend.error().message);
  std::shared_ptr<Backend> be(std::move(backend).value());
  const KvCacheConfig& kv = be->kv_config();
  EngineOptions eo;
  eo.max_context = kv.num_blocks * kv.block_size;
  if (m->spec().context_length > 0)
    eo.max_context = std::min(eo.max_context, m->spec().context_length);
  eo.max_sequences = 4;
  auto tok = std::shared_ptr<const Tokenizer>(m, &m->tokenizer());
  auto engine = Engine::create(be, tok, eo);
  if (!engine.ok()) return fail(engine.error().message);
  QVariantMap info;
  info["name"] = QString::fromStdString(
      m->spec().name.empty() ? QFileInfo(path).completeBaseName().toStdString() : m->spec().name);
  info["architecture"] = QString::fromStdString(m->spec().arch_name);
  info["contextLength"] = eo.max_context;
  info["vocabSize"] = m->tokenizer().vocab().size();
  info["hasChatTemplate"] = m->chat_template().has_value();
  info["device"] = QString::fromStdString(decision.device);
  info["deviceReason"] = QString::fromStdString(decision.reason);
  info["deviceAsAsked"] = decision.as_asked;
  info["headerSha256"] =
      QString::fromStdString(fingerprint_model(m->file(), path.toStdString()).header_sha256);
  if (auto d = ModelInfo::describe(m->file()); d.ok()) {
    info["numParams"] = static_cast<qlonglong>(d->num_params);
    info["fileSizeBytes"] = static_cast<qlonglong>(d->file_size_bytes);
  }
  std::shared_ptr<Engine> old;
  {
    QMutexLocker lock(&mutex_);
    if (!current(generation)) return;  // overtaken while the backend was made
    old = std::move(loaded_.engine);
    loaded_.device = QString::fromStdString(decision.device);
    loaded_.model = m;
    loaded_.engine = std::shared_ptr<Engine>(std::move(engine).value());
    loaded_.path = path;
    requests_.clear();
  }
  old.reset();  // on the bridge thread: joins the old engine's thread here
  post_if_current(generation, [this, path, info] { emit modelLoaded(path, info); });
}

void EngineBridge::post_if_current(uint64_t generation, std::function<void()> emit_fn) {
  QMetaObject::invokeMethod(this, [this, generation, f = std::move(emit_fn)] {
    if (current(generation)) f();
  });
}

std::shared_ptr<const Model> EngineBridge::model() const {
  QMutexLocker lock(&mutex_);
  return loaded_.model;
}

QString EngineBridge::device() const {
  QMutexLocker lock(&mutex_);
  return loaded_.device;
}

QString EngineBridge::modelPath() const {
  QMutexLocker lock(&mutex_);
  return loaded_.path;
}

quint64 EngineBridge::submit(Request request) {
  QMutexLocker lock(&mutex_);
  if (!loaded_.engine) return 0;
  const quint64 ticket = next_ticket_++;
  // Runs on the engine thread: copy, emit (queued to the UI), return.
  auto on_event = [this, ticket](const EngineEvent& e) {
    if (const auto* d = std::get_if<TokenDelta>(&e)) {
      if (!d->text.empty()) emit tokenArrived(ticket, QString::fromStdString(d->text));
    } else if (const auto* f = std::get_if<Finished>(&e)) {
      emit generationFinished(ticket, QString::fromStdString(f->reason), timings_map(f->timings));
    } else if (const auto* r = std::get_if<RequestError>(&e)) {
      emit generationFailed(ticket, QString::fromStdString(r->message));
    }
  };
  requests_[ticket] = loaded_.engine->submit(std::move(request), on_event);
  return ticket;
}

void EngineBridge::cancel(quint64 ticket) {
  QMutexLocker lock(&mutex_);
  auto it = requests_.find(ticket);
  if (it == requests_.end() || !loaded_.engine) return;
  loaded_.engine->cancel(it.value());
}

}  // namespace tokamak
