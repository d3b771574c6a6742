// BenchController's jobs on the bench thread: a plan's runs, the history,
// compare, export and the speed test. Every result goes back to the UI
// thread as a queued call on the controller.
#include <fmt/format.h>

#include <QFile>
#include <QFileInfo>

#include "bench/cpu_bench.h"
#include "bench/serve_model.h"
#include "bench/serve_record.h"
#include "bench_controller.h"
#include "bench_figures.h"
#include "bench_worker.h"
#include "local_path.h"

namespace tokamak {
namespace {

QString q(const std::string& s) { return QString::fromStdString(s); }

// "paged c=4", "static b=8 c=4" (batch size where it matters), "paged 2.5/s".
QString point_label(const ServePoint& p) {
  const QString policy = q(std::string(policy_name(p.policy)));
  const QString load =
      p.rate > 0 ? QStringLiteral("%1/s").arg(p.rate) : QStringLiteral("c=%1").arg(p.concurrency);
  const bool batched = p.policy == BatchPolicy::Static || p.policy == BatchPolicy::Dynamic;
  return batched ? QStringLiteral("%1 b=%2 %3").arg(policy).arg(p.batch_size).arg(load)
                 : QStringLiteral("%1 %2").arg(policy, load);
}

}  // namespace

void BenchController::runPlan(Worker& w, const ServePlanInput& input, const QVariantMap& config) {
  auto ui = [this](std::function<void()> f) { QMetaObject::invokeMethod(this, std::move(f)); };
  auto fail = [this, ui](const QString& phase, const QString& message) {
    ui([this, phase, message] {
      setPhase(phase, phase == "cancelled" ? QStringLiteral("Cancelled") : QStringLiteral("Failed"),
               phase == "cancelled" ? QString("") : message);
      emit finished(false);
    });
  };
  const QString model = config.value("model").toString();
  auto path = resolve_bench_model(model);
  if (!path.ok()) return fail("error", q(path.error().message));
  auto plan = make_serve_plan(input);
  if (!plan.ok()) return fail("error", q(plan.error().message));
  ServeModelOptions mo;
  mo.model = model.toStdString();
  mo.model_path = *path;
  mo.device = config.value("device", "cpu").toString().toStdString();
  mo.num_threads = config.value("threads", 0).toInt();
  mo.kv_num_blocks = plan->kv_blocks(KvCacheConfig{}.block_size);
  mo.command_line = fmt::format("app: {} {} on {}, {} points", model.toStdString(),
                                plan->workload.name(), mo.device, plan->points.size());
  auto loaded = load_serve_model(mo);
  if (!loaded.ok()) return fail("error", q(loaded.error().message));
  ServeModel& m = *loaded;
  if (plan->longest_request > m.context) {
    return fail("error", QStringLiteral("the longest request (%1 tokens) does not fit the model's "
                                        "context of %2 positions: shorter lengths")
                             .arg(plan->longest_request)
                             .arg(m.context));
  }
  const PromptVocab vocab = prompt_vocab(*m.tokenizer);
  ServeBenchOptions so;
  so.engine.max_context = m.context;
  so.max_context = m.context;
  so.sampling.temperature = 0.0f;
  so.warmup_requests = 1;
  so.stall_timeout_s = 120.0;
  so.cancel = &cancel_;
  const size_t n = plan->points.size();
  std::vector<ServeRunResult> runs;
  for (size_t i = 0; i < n; ++i) {
    const ServePoint& point = plan->points[i];
    const QString label = point_label(point);
    ui([this, i, n, label, policy = q(std::string(policy_name(point.policy)))] {
      live_ << QVariantMap{{"label", label}, {"policy", policy}, {"samples", QVariantList()}};
      setPhase("running", QStringLiteral("Run %1 of %2: %3").arg(i + 1).arg(n).arg(label));
      emit liveChanged();
    });
    so.on_sample = [this, ui, i](const ServePoint&, const TimelineSample& s) {
      const QVariantMap sample = bench_sample_map(s);
      ui([this, i, sample] {
        if (static_cast<int>(i) >= live_.size()) return;
        QVariantMap series = live_[i].toMap();
        QVariantList samples = series["samples"].toList();
        samples << sample;
        series["samples"] = samples;
        live_[i] = series;
        emit sampleAdded(static_cast<int>(i), sample);
        emit liveChanged();
      });
    };
    so.on_progress = [this, ui, i, n](const ServePoint&, const LoadProgress& p) {
      const double done = p.num_requests > 0 ? double(p.num_ended) / p.num_requests : 0.0;
      const QString text = QStringLiteral("%1 / %2 requests · %3 tokens · %4 s")
                               .arg(p.num_ended)
                               .arg(p.num_requests)
                               .arg(p.num_output_tokens)
                               .arg(p.elapsed_s, 0, 'f', 1);
      ui([this, i, n, done, text] {
        progress_ = (static_cast<double>(i) + done) / static_cast<double>(n);
        progress_text_ = text;
        emit progressChanged();
      });
    };
    auto r = run_serve_point(m.backend, m.tokenizer, vocab, point, so);
    if (!r.ok()) {
      return fail(r.error().code == ErrorCode::Cancelled ? "cancelled" : "error",
                  QStringLiteral("%1: %2").arg(label, q(r.error().message)));
    }
    const QVariantMap run = bench_run_map(to_json(*r, m.config));
    const QString gpu =
        r->energy.available
            ? QStringLiteral("%1 (NVML)").arg(q(r->gpu_name))
            : QStringLiteral("GPU telemetry unavailable: %1").arg(q(r->energy.unavailable_reason));
    ui([this, run, gpu] {
      results_ << run;
      gpu_status_ = gpu;
      emit resultsChanged();
      emit liveChanged();
    });
    runs.push_back(std::move(r).value());
  }
  ui([this] { setPhase("saving", QStringLiteral("Saving…")); });
  const BenchSessionRecord record = bench_session_record(runs, m.config);
  auto store = w.store();
  Result<int64_t> id = store.ok() ? (*store)->save(record) : Result<int64_t>(store.error());
  if (!id.ok())
    return fail("error", QStringLiteral("the runs were not saved: %1").arg(q(id.error().message)));
  BenchSessionRecord saved = record;
  saved.id = *id;
  const QVariantMap info = bench_session_map(saved);
  ui([this, info] {
    session_ = info;
    progress_ = 1.0;
    emit progressChanged();
    emit resultsChanged();
    setPhase("done", QStringLiteral("Saved as session #%1").arg(info["id"].toLongLong()));
    emit finished(true);
    refreshHistory();
  });
}

void BenchController::refreshHistory() {
  post([this](Worker& w) {
    auto store = w.store();
    if (!store.ok()) {
      const QString msg = q(store.error().message);
      QMetaObject::invokeMethod(this, [this, msg] { setPhase(phase_, status_, msg); });
      return;
    }
    QVariantList out;
    auto sessions = (*store)->list_sessions(200);
    if (sessions.ok()) {
      for (const BenchSessionRecord& s : *sessions) {
        auto full = (*store)->load(s.id);
        if (full.ok()) out << bench_session_map(*full);
      }
    }
    QMetaObject::invokeMethod(this, [this, out] {
      history_ = out;
      emit historyChanged();
    });
  });
}

void BenchController::openSession(qint64 id) {
  post([this, id](Worker& w) {
    auto store = w.store();
    if (!store.ok()) return;
    auto s = (*store)->load(id);
    if (!s.ok()) return;
    const QVariantMap info = bench_session_map(*s);
    const QVariantList runs = bench_session_runs(*s);
    QMetaObject::invokeMethod(this, [this, info, runs] {
      session_ = info;
      results_ = runs;
      live_.clear();
      for (const QVariant& r : runs) {
        const QVariantMap m = r.toMap();
        live_ << QVariantMap{
            {"label", m["label"]}, {"policy", m["policy"]}, {"samples", m["timeline"]}};
      }
      emit resultsChanged();
      emit liveChanged();
    });
  });
}

void BenchController::removeSession(qint64 id) {
  post([this, id](Worker& w) {
    auto store = w.store();
    if (store.ok()) (void)(*store)->remove(id);
    QMetaObject::invokeMethod(this, [this, id] {
      if (session_.value("id").toLongLong() == id) {
        session_.clear();
        results_.clear();
        emit resultsChanged();
      }
      refreshHistory();
    });
  });
}

void BenchController::compare(const QVariantList& ids) {
  post([this, ids](Worker& w) {
    auto store = w.store();
    if (!store.ok()) return;
    QVariantList sessions;
    for (const QVariant& id : ids) {
      auto s = (*store)->load(id.toLongLong());
      if (!s.ok()) continue;
      QVariantMap m = bench_session_map(*s);
      m["runs"] = bench_session_runs(*s);
      sessions << m;
    }
    const QVariantList rows = bench_compare(sessions);
    QMetaObject::invokeMethod(this, [this, sessions, rows] {
      compared_ = sessions;
      comparison_ = rows;
      emit comparisonChanged();
    });
  });
}

void BenchController::exportSession(qint64 id, const QString& target, const QString& format) {
  if (id < 0) id = session_.value("id", -1).toLongLong();
  const QString path = local_path(target);
  post([this, id, path, format](Worker& w) {
    auto done = [this](bool ok, const QString& msg) {
      QMetaObject::invokeMethod(this, [this, ok, msg] { emit exported(ok, msg); });
    };
    auto store = w.store();
    if (!store.ok()) return done(false, q(store.error().message));
    auto s = (*store)->load(id);
    if (!s.ok()) return done(false, q(s.error().message));
    const std::string text =
        format == "csv" ? bench_session_csv(*s) : bench_session_json(*s).dump(2) + "\n";
    QFile f(path);
    if (!f.open(QIODevice::WriteOnly | QIODevice::Truncate) ||
        f.write(text.data(), static_cast<qint64>(text.size())) !=
            static_cast<qint64>(text.size())) {
      return done(false, QStringLiteral("%1: cannot write (%2)").arg(path, f.errorString()));
    }
    if (!f.flush())
      return done(false, QStringLiteral("%1: cannot write (%2)").arg(path, f.errorString()));
    f.close();  // the file is complete before anyone hears of it
    done(true, QStringLiteral("Session #%1 written to %2").arg(id).arg(path));
  });
}

void BenchController::speedTest(const QString& model) {
  speed_ = {{"state", "running"}, {"model", QFileInfo(model).fileName()}};
  emit speedChanged();
  post([this, model](Worker&) {
    QVariantMap out{
        {"model", model == "demo" ? QStringLiteral("demo") : QFileInfo(model).fileName()}};
    auto path = resolve_bench_model(model);
    if (!path.ok()) {
      out["state"] = "error";
      out["message"] = q(path.error().message);
    } else {
      CpuBenchOptions o;
      o.model_path = *path;
      o.num_prompt_tokens = 128;
      o.num_decode_tokens = 32;
      o.repetitions = 3;
      o.warmup = 1;
      o.bandwidth.buffer_bytes = 64ull << 20;
      o.bandwidth.repetitions = 2;
      auto r = run_cpu_bench(o);
      if (!r.ok()) {
        out["state"] = "error";
        out["message"] = q(r.error().message);
      } else {
        out["state"] = "done";
        out["pp"] = r->prefill_tokens_per_second.median;
        out["ppMin"] = r->prefill_tokens_per_second.min;
        out["ppMax"] = r->prefill_tokens_per_second.max;
        out["tg"] = r->decode_tokens_per_second.median;
        out["tgMin"] = r->decode_tokens_per_second.min;
        out["tgMax"] = r->decode_tokens_per_second.max;
        out["ppTokens"] = r->num_prompt_tokens;
        out["tgTokens"] = r->num_decode_tokens;
        out["threads"] = r->num_threads;
        out["ceiling"] = r->decode_ceiling_tokens_per_second;
        out["percentOfBound"] = r->percent_of_bound;
      }
    }
    QMetaObject::invokeMethod(this, [this, out] {
      speed_ = out;
      emit speedChanged();
    });
  });
}

QVariantList BenchController::bars() const { return bench_bars(results_); }
QVariantList BenchController::lines(const QString& y) const {
  return bench_lines(results_, bench_sweep_axis(results_), y);
}
QString BenchController::sweepAxis() const { return bench_sweep_axis(results_); }

}  // namespace tokamak
