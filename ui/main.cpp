// tokamak: the desktop app. Options: --db FILE (conversation database),
// --model FILE|demo (load at start), --screenshot FILE (grab the window once
// the page settles, write a PNG and quit; for docs and checks under Xvfb),
// --send TEXT (with --screenshot: send a message first), --bench-run JSON /
// --bench-tab / --bench-compare N (the Benchmarks page: start a run, show a
// tab, compare the latest sessions; with --screenshot, grab when done).
#include <QApplication>
#include <QCommandLineParser>
#include <QGuiApplication>
#include <QIcon>
#include <QJsonDocument>
#include <QQmlApplicationEngine>
#include <QQuickStyle>
#include <QQuickWindow>
#include <QTimer>
#include <QtQml/QQmlExtensionPlugin>

#include "bench_controller.h"
#include "chat_controller.h"

Q_IMPORT_QML_PLUGIN(TokamakPlugin)

int main(int argc, char** argv) {
  QApplication app(argc, argv);  // Qt Charts (Benchmarks page) needs a QApplication
  QGuiApplication::setOrganizationName("Tokamak");
  QGuiApplication::setApplicationName("Tokamak");
  QGuiApplication::setApplicationVersion(TOKAMAK_VERSION);
  // The desktop entry's id (Wayland app id) and icon: installer/io.tokamak.Tokamak.*
  const QString app_id = QStringLiteral("io.tokamak.Tokamak");
  QGuiApplication::setDesktopFileName(app_id);
  QGuiApplication::setWindowIcon(QIcon::fromTheme(app_id, QIcon(":/icons/" + app_id + ".svg")));
  QQuickStyle::setStyle("Fusion");

  QCommandLineParser cli;
  cli.setApplicationDescription("Tokamak: run LLMs locally");
  cli.addHelpOption();
  cli.addVersionOption();
  QCommandLineOption db(QStringLiteral("db"), "Conversation database file.", "file");
  QCommandLineOption model(QStringLiteral("model"), "GGUF model to load at start, or 'demo'.",
                           "file");
  QCommandLineOption shot(QStringLiteral("screenshot"), "Write a PNG of the window and quit.",
                          "file");
  QCommandLineOption page(QStringLiteral("page"),
                          "Page to show: chat, models, settings, prompts or benchmarks.", "name",
                          "chat");
  QCommandLineOption send(QStringLiteral("send"), "With --screenshot: a message to send first.",
                          "text");
  QCommandLineOption bench_run(QStringLiteral("bench-run"),
                               "Benchmarks page: start a run with this JSON config (with "
                               "--screenshot: grab when it ends).",
                               "json");
  QCommandLineOption bench_tab(QStringLiteral("bench-tab"),
                               "Benchmarks page tab: live, results or history.", "name", "live");
  QCommandLineOption bench_compare(QStringLiteral("bench-compare"),
                                   "Benchmarks page: compare the N latest saved sessions.", "n");
  cli.addOptions({db, model, shot, page, send, bench_run, bench_tab, bench_compare});
  cli.process(app);

  tokamak::ChatController controller(cli.value(db));
  tokamak::BenchController bench(cli.value(db));
  QQmlApplicationEngine engine;
  engine.setInitialProperties({{"controller", QVariant::fromValue(&controller)},
                               {"bench", QVariant::fromValue(&bench)},
                               {"benchTab", cli.value(bench_tab)},
                               {"initialPage", cli.value(page)}});
  // TOKAMAK_QML_DIR: load the pages from a source folder (editing without rebuilding).
  const QString qml_dir = qEnvironmentVariable("TOKAMAK_QML_DIR");
  engine.load(qml_dir.isEmpty() ? QUrl("qrc:/Tokamak/qml/Main.qml")
                                : QUrl::fromLocalFile(qml_dir + "/Main.qml"));
  if (engine.rootObjects().isEmpty()) return 1;
  auto* window = qobject_cast<QQuickWindow*>(engine.rootObjects().first());

  const QString m = cli.value(model);
  if (m == "demo") {
    controller.loadDemoModel();
  } else if (!m.isEmpty()) {
    controller.loadModel(m);
  }
  if (cli.isSet(bench_run)) {
    bench.start(QJsonDocument::fromJson(cli.value(bench_run).toUtf8()).toVariant().toMap());
  }
  if (cli.isSet(bench_compare)) {
    const int n = cli.value(bench_compare).toInt();
    QObject::connect(&bench, &tokamak::BenchController::historyChanged, &bench, [&bench, n] {
      QVariantList ids;
      for (const QVariant& s : bench.history()) {
        if (ids.size() < n) ids << s.toMap()["id"];
      }
      if (ids.size() >= 2 && bench.comparison().isEmpty()) bench.compare(ids);
    });
  }
  if (cli.isSet(shot)) {
    const QString file = cli.value(shot), text = cli.value(send);
    auto grab = [window, file] {
      QTimer::singleShot(600, window, [window, file] {
        window->grabWindow().save(file);
        QGuiApplication::quit();
      });
    };
    if (cli.isSet(bench_run)) {
      QObject::connect(&bench, &tokamak::BenchController::finished, &bench, grab);
    } else if (cli.isSet(bench_compare)) {
      QObject::connect(&bench, &tokamak::BenchController::comparisonChanged, &bench, grab);
    } else if (!text.isEmpty()) {
      QObject::connect(&controller, &tokamak::ChatController::modelChanged, &controller,
                       [&controller, text] {
                         if (controller.modelState() == "ready") controller.send(text);
                       });
      QObject::connect(&controller, &tokamak::ChatController::generationEnded, &controller, grab);
    } else if (!m.isEmpty()) {
      QObject::connect(&controller, &tokamak::ChatController::modelChanged, &controller,
                       [&controller, grab] {
                         if (controller.modelState() != "loading") grab();
                       });
    } else {
      grab();
    }
  }
  return app.exec();
}
