// The Benchmarks page's view-model: the run configuration (plan, checks),
// the figures the charts and the compare view derive from runs, and the
// controller end to end on aidreams260K (live series, results, history with
// a CLI-made session, open, compare, export, cancel).
#include <unistd.h>

#include <QFile>
#include <QJsonDocument>
#include <QJsonObject>
#include <QSignalSpy>
#include <QStandardPaths>
#include <QtTest>
#include <filesystem>

#include "bench/serve_record.h"
#include "bench_controller.h"
#include "bench_figures.h"
#include "store/benchmark_store.h"

using namespace tokamak;

namespace {

const QString kAidreams =
    QStringLiteral(TOKAMAK_SHARED_DATA "/models/aidreams260K/aidreams260K-llamacpp-f32.gguf");

QString scratch(const char* name) {
  const auto dir = std::filesystem::path(TOKAMAK_TEST_TMP) /
                   (std::string("ui-bench-") + name + "-" + std::to_string(getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return QString::fromStdString(dir.string());
}

QVariantMap run(const QString& policy, int conc, double rps, double tps, double ttft) {
  return {{"policy", policy}, {"workload", "fixed:8:8"}, {"concurrency", conc},
          {"rate", 0.0},      {"batchSize", 8},          {"rps", rps},
          {"outTps", tps},    {"ttftP50", ttft}};
}

QVariantMap small_config() {
  return {{"model", kAidreams},  {"policies", QVariantList{"none", "paged"}},
          {"workload", "fixed"}, {"promptMax", 8},
          {"outputMax", 6},      {"sweepValues", "1,3"},
          {"requests", 6},       {"threads", 1}};
}

}  // namespace

class BenchViewModelTest : public QObject {
  Q_OBJECT

 private slots:
  void initTestCase() { QStandardPaths::setTestModeEnabled(true); }

  void configBecomesAPlanPolicyInnermost() {
    QVariantMap c = small_config();
    c["policies"] = QVariantList{"none", "static", "paged"};
    c["sweepValues"] = "1, 2 4";
    auto in = BenchController::planInput(c);
    QVERIFY(in.ok());
    QCOMPARE(in->sweep_values, (std::vector<int32_t>{1, 2, 4}));
    auto plan = make_serve_plan(*in);
    QVERIFY(plan.ok());
    QCOMPARE(plan->points.size(), size_t{9});
    QCOMPARE(plan->points[0].policy, BatchPolicy::None);
    QCOMPARE(plan->points[2].policy, BatchPolicy::Paged);
    QCOMPARE(plan->points[3].concurrency, 2);
    QCOMPARE(plan->workload.name(), std::string("fixed:8:6"));
    // Four clients at most run at once, each up to 14 tokens: 1 block of 16 each.
    QCOMPARE(plan->kv_blocks(16), 4);
    BenchController bc(scratch("plan") + "/t.db");
    const QVariantMap s = bc.planSummary(c);
    QCOMPARE(s["points"].toInt(), 9);
    QCOMPARE(s["requests"].toLongLong(), 54);
  }

  void batchSweepAndPoissonAndLmi() {
    QVariantMap c = small_config();
    c["sweep"] = "batch";
    c["sweepValues"] = "2,8";
    c["concurrency"] = 5;
    auto plan = make_serve_plan(*BenchController::planInput(c));
    QVERIFY(plan.ok());
    QCOMPARE(plan->points.size(), size_t{4});
    QCOMPARE(plan->points[3].batch_size, 8);
    QCOMPARE(plan->points[3].concurrency, 5);
    c = small_config();
    c["rate"] = 2.5;  // Poisson: nothing to sweep in concurrency, one point per policy
    plan = make_serve_plan(*BenchController::planInput(c));
    QVERIFY(plan.ok());
    QCOMPARE(plan->points.size(), size_t{2});
    QCOMPARE(plan->points[0].rate, 2.5);
    QCOMPARE(plan->most_running, 64);  // open loop: up to max sequences
    c = small_config();
    c["workload"] = "lmi";
    c["lmiScale"] = 0.01;
    c["requests"] = 0;
    plan = make_serve_plan(*BenchController::planInput(c));
    QVERIFY(plan.ok());
    QCOMPARE(plan->points[0].num_requests, 50);  // 5000 x 0.01
    QCOMPARE(plan->longest_request, 5 + 3);      // 512 and 256 tokens x 0.01, rounded
  }

  void promptSweepGivesOnePromptLengthPerPoint() {
    QVariantMap c = small_config();
    c["sweep"] = "prompt";
    c["sweepValues"] = "4,16,40";
    c["concurrency"] = 2;
    auto plan = make_serve_plan(*BenchController::planInput(c));
    QVERIFY2(plan.ok(), plan.ok() ? "" : plan.error().message.c_str());
    QCOMPARE(plan->points.size(), size_t{6});
    QCOMPARE(plan->points[2].workload.name(), std::string("fixed:16:6"));
    QCOMPARE(plan->points[5].workload.name(), std::string("fixed:40:6"));
    QCOMPARE(plan->points[5].concurrency, 2);
    QCOMPARE(plan->longest_request, 46);
    QCOMPARE(plan->kv_blocks(16), 2 * 3);  // two clients of 46 tokens: 3 blocks each
    c["workload"] = "lmi";
    QVERIFY(!make_serve_plan(*BenchController::planInput(c)).ok());
    // The results' x axis: the mean prompt length of each run.
    const QVariantMap a = bench_run_map(nlohmann::json::parse(
        R"({"policy":"paged","concurrency":2,"batch_size":8,"num_completed":4,"num_prompt_tokens":64})"));
    const QVariantMap b = bench_run_map(nlohmann::json::parse(
        R"({"policy":"paged","concurrency":2,"batch_size":8,"num_completed":4,"num_prompt_tokens":160})"));
    QCOMPARE(a["promptTokens"].toDouble(), 16.0);
    QCOMPARE(bench_sweep_axis({a, b}), QString("promptTokens"));
  }

  void badConfigsSayWhatIsWrong() {
    BenchController bc(scratch("bad") + "/t.db");
    QVariantMap c = small_config();
    QCOMPARE(bc.validate(c), QString(""));
    c["sweepValues"] = "1,x";
    QVERIFY2(bc.validate(c).contains("'x' is not a whole number"), qPrintable(bc.validate(c)));
    c = small_config();
    c["policies"] = QVariantList{};
    QVERIFY(bc.validate(c).contains("no batching policy"));
    c = small_config();
    c["policies"] = QVariantList{"fastest"};
    QVERIFY(!bc.validate(c).isEmpty());
    c = small_config();
    c["workload"] = "lmi";
    c["lmiScale"] = 0.0;
    QVERIFY(bc.validate(c).contains("lmi scale"));
    c = small_config();
    c["sweepValues"] = "0";
    QVERIFY(bc.validate(c).contains("expected 1 to 4096"));
    c = small_config();
    c.remove("model");
    QCOMPARE(bc.validate(c), QString("Choose a model."));
    QVERIFY(!bc.start(c));
    QCOMPARE(bc.phase(), QString("error"));
  }

  void runMapReadsTheReportJson() {
    const auto j = nlohmann::json::parse(R"({"policy":"paged","workload":"fixed:8:8",
      "concurrency":4,"rate":0,"batch_size":8,"num_requests":10,"num_completed":10,
      "num_errors":0,"num_unaccounted":0,"requests_per_second":2.5,
      "output_tokens_per_second":20,"ttft_ms":{"mean":3,"p50":2,"p90":4,"p99":5},
      "energy":{"status":"measured","joules":40,"joules_per_output_token":0.5},
      "gpu_telemetry":{"status":"nvml","gpu_name":"H100"},
      "timeline":[{"t_s":0,"output_tokens_per_second":0,"kv_blocks_used":0,"kv_blocks_total":8,
                   "gpu":{"power_w":300,"utilization_percent":null}},
                  {"t_s":0.25,"output_tokens_per_second":80,"num_running":4,"kv_blocks_used":4,
                   "kv_blocks_total":8,"gpu":null}]})");
    const QVariantMap m = bench_run_map(j);
    QCOMPARE(m["policy"].toString(), QString("paged"));
    QCOMPARE(m["rps"].toDouble(), 2.5);
    QCOMPARE(m["ttftP90"].toDouble(), 4.0);
    QCOMPARE(m["jPerToken"].toDouble(), 0.5);
    QCOMPARE(m["gpuName"].toString(), QString("H100"));
    const QVariantList tl = m["timeline"].toList();
    QCOMPARE(tl.size(), 2);
    QCOMPARE(tl[0].toMap()["gpuPowerW"].toDouble(), 300.0);
    QVERIFY(!tl[0].toMap().contains("gpuUtil"));  // absent, not 0
    QVERIFY(!tl[1].toMap().contains("gpuPowerW"));
    QCOMPARE(tl[1].toMap()["tps"].toDouble(), 80.0);
    // Without energy (CPU, or a run from before energy was measured): no number.
    const QVariantMap cpu = bench_run_map(nlohmann::json::parse(
        R"({"policy":"none","energy":{"status":"unavailable","reason":"the cpu backend",
            "joules_per_output_token":"unavailable"}})"));
    QVERIFY(!cpu.contains("jPerToken"));
    QCOMPARE(cpu["energyReason"].toString(), QString("the cpu backend"));
  }

  void barsLinesAndSweepAxis() {
    const QVariantList runs = {run("none", 4, 1.0, 10, 50), run("paged", 1, 0.8, 8, 5),
                               run("none", 1, 0.9, 9, 5), run("paged", 4, 3.0, 30, 9)};
    const QVariantList bars = bench_bars(runs);
    QCOMPARE(bars.size(), 2);
    QCOMPARE(bars[0].toMap()["policy"].toString(), QString("none"));
    QCOMPARE(bars[0].toMap()["rps"].toDouble(), 1.0);  // the best of the policy
    QCOMPARE(bars[1].toMap()["outTps"].toDouble(), 30.0);
    QCOMPARE(bench_sweep_axis(runs), QString("concurrency"));
    const QVariantList lines = bench_lines(runs, "concurrency", "ttftP50");
    QCOMPARE(lines.size(), 2);
    const QVariantList pts = lines[0].toMap()["points"].toList();
    QCOMPARE(pts.size(), 2);
    QCOMPARE(pts[0].toMap()["x"].toDouble(), 1.0);  // sorted by x
    QCOMPARE(pts[0].toMap()["y"].toDouble(), 5.0);
    QCOMPARE(pts[1].toMap()["y"].toDouble(), 50.0);
    QVariantList batch = {run("none", 8, 1, 1, 1), run("none", 8, 1, 1, 1)};
    QVariantMap b = batch[1].toMap();
    b["batchSize"] = 16;
    batch[1] = b;
    QCOMPARE(bench_sweep_axis(batch), QString("batchSize"));
  }

  void compareHighlightsWhatDiffers() {
    const QVariantMap a{{"title", "a"}, {"runs", QVariantList{run("paged", 4, 2.0, 20, 10)}}};
    const QVariantMap b{{"title", "b"}, {"runs", QVariantList{run("paged", 4, 2.04, 30, 8)}}};
    const QVariantList rows = bench_compare({a, b});
    QVariantMap rps, tps, ttft;
    for (const QVariant& r : rows) {
      const QVariantMap m = r.toMap();
      if (m["key"] == "rps") rps = m;
      if (m["key"] == "outTps") tps = m;
      if (m["key"] == "ttftP50") ttft = m;
    }
    QVERIFY(!rps.isEmpty() && !tps.isEmpty() && !ttft.isEmpty());
    QVERIFY(!rps["differs"].toBool());  // 2% apart: under the 5% threshold
    QVERIFY(tps["differs"].toBool());
    QCOMPARE(tps["best"].toInt(), 1);
    QCOMPARE(tps["deltas"].toList()[1].toDouble(), 50.0);
    QVERIFY(tps["deltas"].toList()[0].isNull());
    QCOMPARE(ttft["best"].toInt(), 1);  // lower is better for latency
    QCOMPARE(ttft["deltas"].toList()[1].toDouble(), -20.0);
    // A run only one session has: the other's value is empty, not zero.
    const QVariantMap c{{"title", "c"}, {"runs", QVariantList{run("none", 4, 1, 1, 1)}}};
    const QVariantList only = bench_compare({c, a});
    QVERIFY(!only.isEmpty());
    QVERIFY(only[0].toMap()["values"].toList()[1].isNull());
    QVERIFY(bench_compare({a}).isEmpty());
  }

  void runsLiveSavesAndComparesWithACliSession() {
    const QString dir = scratch("run");
    const QString db = dir + "/tokamak.db";
    {  // a session as `tokamak-cli bench serve` saves it
      DatabaseOptions o;
      o.path = db.toStdString();
      auto d = Database::open(o);
      QVERIFY(d.ok());
      ServeBenchConfig config;
      config.model = kAidreams.toStdString();
      config.device = "cpu";
      config.command_line = "bench serve x --policy paged";
      config.date = "2026-01-01T00:00:00Z";
      ServeRunResult r;
      r.point.policy = BatchPolicy::Paged;
      r.point.workload = *parse_workload("fixed:8:6");
      r.point.concurrency = 3;
      r.point.batch_size = 8;
      r.metrics.requests_per_second = 1.0;
      r.metrics.output_tokens_per_second = 6.0;
      BenchmarkStore store(**d);
      QVERIFY(store.save(bench_session_record({r}, config)).ok());
    }
    BenchController bc(db);
    QTRY_COMPARE_WITH_TIMEOUT(bc.history().size(), 1, 10000);
    QCOMPARE(bc.history()[0].toMap()["source"].toString(), QString("CLI"));

    QSignalSpy samples(&bc, &BenchController::sampleAdded);
    QSignalSpy finished(&bc, &BenchController::finished);
    QVERIFY(bc.start(small_config()));
    QVERIFY(bc.running());
    QVERIFY(finished.wait(120000));
    QCOMPARE(finished[0][0].toBool(), true);
    QCOMPARE(bc.phase(), QString("done"));
    QVERIFY(!bc.running());
    QCOMPARE(bc.progress(), 1.0);
    // Four runs (two policies x two concurrencies), each with its live series.
    QCOMPARE(bc.results().size(), 4);
    QCOMPARE(bc.liveSeries().size(), 4);
    QVERIFY(samples.count() >= 8);  // at least the first and the final sample of each
    for (int i = 0; i < 4; ++i) {
      const QVariantMap series = bc.liveSeries()[i].toMap();
      const QVariantMap result = bc.results()[i].toMap();
      const QVariantList s = series["samples"].toList();
      QVERIFY(s.size() >= 2);
      QCOMPARE(s.last().toMap()["tokens"].toLongLong(), result["outputTokens"].toLongLong());
      QCOMPARE(result["outputTokens"].toLongLong(), 36);  // 6 requests x 6 tokens
      QCOMPARE(series["policy"].toString(), result["policy"].toString());
      QVERIFY(!result.contains("jPerToken"));  // the CPU: not measured
    }
    QCOMPARE(bc.results()[1].toMap()["policy"].toString(), QString("paged"));
    QCOMPARE(bc.results()[3].toMap()["concurrency"].toInt(), 3);
    QVERIFY(bc.gpuStatus().contains("unavailable"));
    QCOMPARE(bc.lines("outTps").size(), 2);
    QCOMPARE(bc.bars().size(), 2);
    const qint64 id = bc.session()["id"].toLongLong();
    QVERIFY(id > 0);
    QTRY_COMPARE_WITH_TIMEOUT(bc.history().size(), 2, 10000);
    QCOMPARE(bc.history()[0].toMap()["source"].toString(), QString("App"));
    QCOMPARE(bc.history()[0].toMap()["numRuns"].toInt(), 4);

    // Reopened from the store: the same figures and the timelines.
    const QVariantList shown = bc.results();
    bc.openSession(bc.history()[1].toMap()["id"].toLongLong());
    QTRY_COMPARE_WITH_TIMEOUT(bc.results().size(), 1, 10000);
    bc.openSession(id);
    QTRY_COMPARE_WITH_TIMEOUT(bc.results().size(), 4, 10000);
    for (int i = 0; i < 4; ++i) {
      QCOMPARE(bc.results()[i].toMap()["rps"], shown[i].toMap()["rps"]);
      QCOMPARE(bc.results()[i].toMap()["ttftP99"], shown[i].toMap()["ttftP99"]);
      QCOMPARE(bc.liveSeries()[i].toMap()["samples"].toList().size(),
               shown[i].toMap()["timeline"].toList().size());
    }

    // Compare: the CLI session's run (paged, c=3) against this one's.
    bc.compare({id, bc.history()[1].toMap()["id"]});
    QTRY_VERIFY_WITH_TIMEOUT(!bc.comparison().isEmpty(), 10000);
    QCOMPARE(bc.comparedSessions().size(), 2);
    bool paged3 = false;
    for (const QVariant& r : bc.comparison()) {
      const QVariantMap m = r.toMap();
      if (m["run"].toString().startsWith("paged") && m["run"].toString().contains("c=3") &&
          m["key"] == "rps") {
        paged3 = true;
        QCOMPARE(m["values"].toList()[1].toDouble(), 1.0);
      }
    }
    QVERIFY(paged3);

    // Export: CSV with a header and a row per run, JSON as --json-out.
    QSignalSpy exported(&bc, &BenchController::exported);
    bc.exportSession(id, dir + "/s.csv", "csv");
    QVERIFY(exported.wait(10000));
    QVERIFY2(exported[0][0].toBool(), qPrintable(exported[0][1].toString()));
    QFile csv(dir + "/s.csv");
    QVERIFY(csv.open(QIODevice::ReadOnly));
    const QStringList lines = QString(csv.readAll()).split('\n', Qt::SkipEmptyParts);
    QCOMPARE(lines.size(), 5);
    QVERIFY(lines[0].startsWith("policy,workload,concurrency"));
    QVERIFY(lines[0].contains("joules_per_output_token"));
    QVERIFY(lines[1].contains("unavailable"));
    bc.exportSession(id, QUrl::fromLocalFile(dir + "/s.json").toString(), "json");
    QVERIFY(exported.wait(10000));
    QFile js(dir + "/s.json");
    QVERIFY(js.open(QIODevice::ReadOnly));
    const QJsonObject doc = QJsonDocument::fromJson(js.readAll()).object();
    QCOMPARE(doc["runs"].toArray().size(), 4);
    QVERIFY(doc["runs"].toArray()[0].toObject()["timeline"].toArray().size() >= 2);
    QCOMPARE(doc["config"].toObject()["device"].toString(), QString("cpu"));

    bc.removeSession(id);
    QTRY_COMPARE_WITH_TIMEOUT(bc.history().size(), 1, 10000);
  }

  void speedTestMeasuresPrefillAndDecodeAtBatchOne() {
    BenchController bc(scratch("speed") + "/tokamak.db");
    QSignalSpy changed(&bc, &BenchController::speedChanged);
    bc.speedTest(kAidreams);
    QCOMPARE(bc.speed()["state"].toString(), QString("running"));
    QTRY_VERIFY_WITH_TIMEOUT(bc.speed()["state"].toString() != "running", 120000);
    const QVariantMap s = bc.speed();
    QCOMPARE(s["state"].toString(), QString("done"));
    QCOMPARE(s["ppTokens"].toInt(), 128);
    QCOMPARE(s["tgTokens"].toInt(), 32);
    QVERIFY(s["pp"].toDouble() > 0);
    QVERIFY(s["tg"].toDouble() > 0);
    QVERIFY(s["ppMin"].toDouble() <= s["pp"].toDouble() &&
            s["pp"].toDouble() <= s["ppMax"].toDouble());
    bc.speedTest(scratch("speed") + "/missing.gguf");
    QTRY_VERIFY_WITH_TIMEOUT(bc.speed()["state"].toString() != "running", 10000);
    QCOMPARE(bc.speed()["state"].toString(), QString("error"));
    QVERIFY(bc.speed()["message"].toString().contains("no such model file"));
  }

  void cancelStopsTheRunAndSavesNothing() {
    BenchController bc(scratch("cancel") + "/tokamak.db");
    QVariantMap c = small_config();
    c["requests"] = 2000;  // minutes of work
    c["outputMax"] = 40;
    QSignalSpy samples(&bc, &BenchController::sampleAdded);
    QSignalSpy finished(&bc, &BenchController::finished);
    QVERIFY(bc.start(c));
    QVERIFY(samples.wait(60000));
    QVERIFY(!bc.start(c));  // one run at a time
    bc.cancel();
    QVERIFY(finished.wait(60000));
    QCOMPARE(finished[0][0].toBool(), false);
    QCOMPARE(bc.phase(), QString("cancelled"));
    QVERIFY(!bc.running());
    QVERIFY(bc.results().isEmpty());
    bc.refreshHistory();
    QTest::qWait(300);
    QCOMPARE(bc.history().size(), 0);
  }
};

QTEST_MAIN(BenchViewModelTest)
#include "bench_viewmodel_test.moc"
