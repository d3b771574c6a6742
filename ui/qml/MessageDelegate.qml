import QtQuick
import QtQuick.Controls
import QtQuick.Layouts
import Tokamak

Item {
    id: msg
    required property ChatController controller
    required property var theme
    required property var model
    readonly property bool isUser: model.role === "user"
    readonly property bool isStreaming: model.streaming === true
    property bool editing: false
    implicitHeight: col.implicitHeight + 18

    function fmt(v, digits) { return Number(v).toFixed(digits) }
    function resend() {
        if (editText.text.trim().length === 0 || controller.generating) return
        controller.editAndResend(msg.model.messageId, editText.text)
        msg.editing = false
    }
    onEditingChanged: if (editing) {
        editText.text = msg.model.content
        editText.forceActiveFocus()
        editText.cursorPosition = editText.length
    }

    ColumnLayout {
        id: col
        anchors.horizontalCenter: parent.horizontalCenter
        width: Math.min(parent.width - 48, 860)
        y: 9
        spacing: 6

        Label {
            text: msg.isUser ? qsTr("You") : (model.modelFile && model.modelFile.length > 0 ? model.modelFile : qsTr("Assistant"))
            font.weight: Font.DemiBold
            font.pixelSize: 12
            color: theme.muted
        }

        Rectangle {
            Layout.fillWidth: true
            implicitHeight: body.implicitHeight + (msg.isUser ? 20 : 0)
            radius: 8
            color: msg.isUser ? Qt.rgba(theme.accent.r, theme.accent.g, theme.accent.b, theme.dark ? 0.22 : 0.10) : "transparent"
            Item {
                id: body
                x: msg.isUser ? 12 : 0
                y: msg.isUser ? 10 : 0
                width: parent.width - (msg.isUser ? 24 : 0)
                implicitHeight: msg.editing ? editBox.implicitHeight : (view.implicitHeight + (placeholder.visible ? placeholder.implicitHeight : 0))
                MarkdownView {
                    id: view
                    width: parent.width
                    visible: !msg.editing
                    controller: msg.controller
                    theme: msg.theme
                    text: msg.model.content
                    keepLineBreaks: msg.isUser
                }
                Label {
                    id: placeholder
                    visible: msg.isStreaming && msg.model.content.length === 0
                    text: qsTr("Thinking…")
                    color: theme.muted
                }
                ColumnLayout {
                    id: editBox
                    visible: msg.editing
                    width: parent.width
                    TextArea {  // Enter sends, Shift+Enter adds a line, Escape cancels
                        id: editText
                        objectName: "editText"
                        Layout.fillWidth: true
                        wrapMode: TextEdit.Wrap
                        text: msg.model.content
                        background: Rectangle {
                            color: theme.dark ? "#1b1d22" : "white"
                            border.color: editText.activeFocus ? theme.accent : theme.border
                            radius: 6
                        }
                        Keys.onPressed: (event) => {
                            if ((event.key === Qt.Key_Return || event.key === Qt.Key_Enter)
                                    && !(event.modifiers & Qt.ShiftModifier)) {
                                msg.resend()
                                event.accepted = true
                            } else if (event.key === Qt.Key_Escape) {
                                msg.editing = false
                                event.accepted = true
                            }
                        }
                    }
                    RowLayout {
                        Button { objectName: "resendEdit"; text: qsTr("Send"); highlighted: true; enabled: editText.text.trim().length > 0; onClicked: msg.resend() }
                        Button { text: qsTr("Cancel"); flat: true; onClicked: msg.editing = false }
                    }
                }
            }
        }

        Label {
            objectName: "statusNote"
            readonly property bool empty: !msg.isUser && model.status === "complete" && model.content.length === 0
            visible: !msg.isStreaming && (model.status === "interrupted" || model.status === "error" || empty
                     || model.finishReason === "cancelled" || model.finishReason === "length")
            text: model.status === "interrupted" ? qsTr("Interrupted — the app stopped while this answer was being written.")
                : model.status === "error" ? qsTr("Failed: %1").arg(model.errorMessage || "")
                : empty && model.finishReason !== "cancelled" ? qsTr("No text: the model ended its answer at once (%1). Regenerate to try again.").arg(model.finishReason || "")
                : model.finishReason === "length" ? qsTr("Cut off at the token limit (%1 prompt + %2 answer tokens): raise Max tokens in Settings, or start a new conversation when the model's context is full.")
                                                    .arg(model.numPromptTokens).arg(model.numTokens)
                : qsTr("Stopped")
            color: model.status === "error" ? "#d04040" : theme.muted
            font.pixelSize: 12
            wrapMode: Text.Wrap
            Layout.fillWidth: true
        }

        RowLayout {  // actions, branches and speed figures
            spacing: 2
            visible: !msg.isStreaming && !msg.editing
            ToolButton {
                objectName: "prevBranch"
                visible: model.numSiblings > 1
                text: "‹"
                enabled: model.siblingIndex > 0 && !controller.generating
                onClicked: controller.switchBranch(model.messageId, -1)
            }
            Label {
                visible: model.numSiblings > 1
                text: (model.siblingIndex + 1) + " / " + model.numSiblings
                font.pixelSize: 12
                color: theme.muted
            }
            ToolButton {
                objectName: "nextBranch"
                visible: model.numSiblings > 1
                text: "›"
                enabled: model.siblingIndex + 1 < model.numSiblings && !controller.generating
                onClicked: controller.switchBranch(model.messageId, 1)
            }
            ToolButton {
                objectName: "copyMessage"
                text: qsTr("Copy")
                font.pixelSize: 12
                onClicked: controller.copyText(model.content)
            }
            ToolButton {
                visible: msg.isUser
                text: qsTr("Edit")
                font.pixelSize: 12
                enabled: !controller.generating
                onClicked: msg.editing = true
            }
            ToolButton {
                objectName: "regenerate"
                visible: !msg.isUser
                text: qsTr("Regenerate")
                font.pixelSize: 12
                enabled: !controller.generating
                onClicked: controller.regenerate(model.messageId)
            }
            Label {
                Layout.leftMargin: 10
                visible: !msg.isUser && model.hasRecord === true && model.finishReason !== "error"
                text: (model.numTokens === 1 ? qsTr("TTFT %1 ms · prefill %2 tok/s · decode %3 tok/s · %4 token")
                                             : qsTr("TTFT %1 ms · prefill %2 tok/s · decode %3 tok/s · %4 tokens"))
                      .arg(msg.fmt(model.ttftMs, model.ttftMs < 10 ? 1 : 0)).arg(msg.fmt(model.prefillTps, 0))
                      .arg(msg.fmt(model.decodeTps, 1)).arg(model.numTokens)
                      + (model.device ? " · " + model.device.toUpperCase() : "")
                font.pixelSize: 12
                color: theme.muted
                ToolTip.visible: statsArea.containsMouse
                ToolTip.text: qsTr("template %1 · seed %2 · %3 prompt tokens (%4 reused from the cache; prefill counts the rest) · finished: %5 · device %6")
                              .arg(model.templateName).arg(model.seed).arg(model.numPromptTokens).arg(model.numCachedTokens || 0)
                              .arg(model.finishReason).arg(model.device ? model.device : "?")
                MouseArea { id: statsArea; anchors.fill: parent; hoverEnabled: true }
            }
        }
    }
}
