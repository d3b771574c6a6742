// View-model pieces of the desktop app: the Markdown splitter the chat view
// renders, the list model the pages bind to, and the prompt the next answer
// is made from (aidreams260K: a real GGUF with a SentencePiece vocabulary).
#include <QSignalSpy>
#include <QTextDocument>
#include <QtTest>

#include "chat_prompt.h"
#include "markdown_blocks.h"
#include "model/model.h"
#include "row_list_model.h"

using namespace tokamak;

class ViewModelTest : public QObject {
  Q_OBJECT

 private slots:
  void markdownSplitsFencedCode() {
    const auto b =
        split_markdown_blocks("Intro **bold**\n\n```cpp\nint x = 1;\n\nreturn x;\n```\nAfter\n");
    QCOMPARE(b.size(), size_t{3});
    QVERIFY(!b[0].code);
    QCOMPARE(QString::fromStdString(b[0].text), QString("Intro **bold**\n\n"));
    QVERIFY(b[1].code);
    QCOMPARE(QString::fromStdString(b[1].language), QString("cpp"));
    QCOMPARE(QString::fromStdString(b[1].text), QString("int x = 1;\n\nreturn x;"));
    QVERIFY(b[1].closed);
    QCOMPARE(QString::fromStdString(b[2].text), QString("After\n"));
  }

  void markdownUnclosedFenceWhileStreaming() {
    const auto b = split_markdown_blocks("See:\n~~~~ python extra\nprint(1)\n```\nstill code");
    QCOMPARE(b.size(), size_t{2});
    QVERIFY(b[1].code);
    QVERIFY(!b[1].closed);
    QCOMPARE(QString::fromStdString(b[1].language), QString("python"));
    // A ``` line does not close a ~~~~ fence.
    QCOMPARE(QString::fromStdString(b[1].text), QString("print(1)\n```\nstill code"));
  }

  void markdownInlineBackticksStayProse() {
    const auto b = split_markdown_blocks("use `x` and ``y``\n    ```indented 4 is not a fence");
    QCOMPARE(b.size(), size_t{1});
    QVERIFY(!b[0].code);
  }

  void keptLineBreaksRenderAsLines() {
    // A person's Shift+Enter lines: hard breaks between non-blank lines only.
    QCOMPARE(QString::fromStdString(keep_line_breaks("one\ntwo\n\nthree\nfour")),
             QString("one  \ntwo\n\nthree  \nfour"));
    QCOMPARE(QString::fromStdString(keep_line_breaks("single line")), QString("single line"));
    QCOMPARE(QString::fromStdString(keep_line_breaks("end\n")), QString("end\n"));
    // Qt's own Markdown reader (md4c) keeps the lines apart only with the
    // hard breaks; plain Markdown joins them into one line.
    QTextDocument plain, kept;
    plain.setMarkdown("one\ntwo");
    kept.setMarkdown(QString::fromStdString(keep_line_breaks("one\ntwo")));
    QCOMPARE(plain.toPlainText(), QString("one two"));
    QCOMPARE(kept.toPlainText(), QString("one\ntwo"));  // a line break, not a space
  }

  void rowListModelUpdatesOneRole() {
    RowListModel m({"messageId", "content"});
    QSignalSpy count(&m, &RowListModel::countChanged);
    m.setRows({{{"messageId", 7}, {"content", "a"}}, {{"messageId", 9}, {"content", "b"}}});
    QCOMPARE(m.rowCount(), 2);
    QCOMPARE(count.count(), 1);
    QCOMPARE(m.findRow("messageId", 9), 1);
    QCOMPARE(m.findRow("messageId", 8), -1);
    QSignalSpy changed(&m, &QAbstractItemModel::dataChanged);
    m.updateRow(1, {{"content", "bc"}});
    QCOMPARE(changed.count(), 1);
    const auto roles = changed[0][2].value<QList<int>>();
    QCOMPARE(roles, QList<int>{Qt::UserRole + 1});
    QCOMPARE(m.data(m.index(1), Qt::UserRole + 1).toString(), QString("bc"));
    QCOMPARE(m.roleNames().value(Qt::UserRole), QByteArray("messageId"));
  }

  void chatMlPromptMatchesTheFormat() {
    auto model = Model::load(std::string(TOKAMAK_SHARED_DATA) +
                             "/models/aidreams260K/aidreams260K-llamacpp-f32.gguf");
    QVERIFY2(model.ok(), model.ok() ? "" : model.error().message.c_str());
    ConversationSettings s;
    s.template_name = "chatml";
    s.system_prompt = "Be brief.";
    auto p = build_chat_prompt(*model.value(), s,
                               {{"user", "Hi"}, {"assistant", "Hello."}, {"user", "Tell a story"}});
    QVERIFY2(p.ok(), p.ok() ? "" : p.error().message.c_str());
    // The ChatML format as published (OpenAI / Qwen model cards).
    QCOMPARE(QString::fromStdString(p->text),
             QString("<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n"
                     "<|im_start|>assistant\nHello.<|im_end|>\n<|im_start|>user\nTell a "
                     "story<|im_end|>\n<|im_start|>assistant\n"));
    // aidreams' vocabulary adds BOS (id 1): once, at the start.
    QCOMPARE(p->tokens.front(), 1);
    QCOMPARE(std::count(p->tokens.begin(), p->tokens.end(), 1), 1);
    QCOMPARE(QString::fromStdString(model.value()->tokenizer().decode(p->tokens)).trimmed(),
             QString::fromStdString(p->text).trimmed());
    // aidreams' vocabulary has no <|im_end|> token; its EOS text ends a turn.
    QVERIFY(std::find(p->stop.begin(), p->stop.end(), "</s>") != p->stop.end());
  }

  void unknownAndCustomTemplates() {
    auto model = Model::load(std::string(TOKAMAK_SHARED_DATA) +
                             "/models/aidreams260K/aidreams260K-llamacpp-f32.gguf");
    QVERIFY(model.ok());
    ConversationSettings s;
    s.template_name = "no-such";
    auto bad = build_chat_prompt(*model.value(), s, {{"user", "Hi"}});
    QVERIFY(!bad.ok());
    QVERIFY(QString::fromStdString(bad.error().message).contains("no-such"));
    s.template_name = "custom";
    s.template_text = "{% for m in messages %}[{{ m.role }}] {{ m.content }}\n{% endfor %}>";
    auto p = build_chat_prompt(*model.value(), s, {{"user", "Hi"}});
    QVERIFY(p.ok());
    QCOMPARE(QString::fromStdString(p->text), QString("[user] Hi\n>"));
    QCOMPARE(QString::fromStdString(p->template_name), QString("custom"));
    s.template_name = "";  // the file has no template: a guessed built-in
    auto g = build_chat_prompt(*model.value(), s, {{"user", "Hi"}});
    QVERIFY(g.ok());
    QVERIFY(!g->template_name.empty());
    QVERIFY(g->template_name != "model");
  }
};

QTEST_GUILESS_MAIN(ViewModelTest)
#include "viewmodel_test.moc"
