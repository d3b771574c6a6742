// tokamak: the desktop app. Options: --db FILE (conversation database),
// --model FILE|demo (load at start), --screenshot FILE (grab the window once
// the page settles, write a PNG and quit; for docs and checks under Xvfb),
// --send TEXT (with --screenshot: send a message first).
#include <QCommandLineParser>
#include <QGuiApplication>
#include <QIcon>
#include <QQmlApplicationEngine>
#include <QQuickStyle>
#include <QQuickWindow>
#include <QTimer>
#include <QtQml/QQmlExtensionPlugin>

#include "chat_controller.h"

Q_IMPORT_QML_PLUGIN(TokamakPlugin)

int main(int argc, char** argv) {
  QGuiApplication app(argc, argv);
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
  QCommandLineOption page(QStringLiteral("page"), "Page to show: chat, models, settings or prompts.", "name", "chat");
  QCommandLineOption send(QStringLiteral("send"), "With --screenshot: a message to send first.",
                          "text");
  cli.addOptions({db, model, shot, page, send});
  cli.process(app);

  tokamak::ChatController controller(cli.value(db));
  QQmlApplicationEngine engine;
  engine.setInitialProperties(
      {{"controller", QVariant::fromValue(&controller)}, {"initialPage", cli.value(page)}});
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
  if (cli.isSet(shot)) {
    const QString file = cli.value(shot), text = cli.value(send);
    auto grab = [window, file] {
      QTimer::singleShot(600, window, [window, file] {
        window->grabWindow().save(file);
        QGuiApplication::quit();
      });
    };
    if (!text.isEmpty()) {
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
