import QtQuick
import QtQuick.Controls
import QtQuick.Dialogs
import Tokamak

// "Export…": the current branch or the whole tree of the conversation shown,
// as Markdown (to read) or JSONL (to keep, or to import elsewhere), with each
// answer's model, parameters and speeds.
Button {
    id: button
    required property ChatController controller
    objectName: "exportButton"
    text: qsTr("Export…")
    enabled: controller.currentConversation !== 0 && !controller.transfer.busy
    onClicked: menu.open()

    property string format: "markdown"
    property string scope: "branch"

    function ask(format, scope) {
        button.format = format
        button.scope = scope
        saveDialog.selectedFile = saveDialog.currentFolder + "/"
            + controller.transfer.suggestedFileName(controller.currentTitle, format, scope)
        saveDialog.open()
    }

    Menu {
        id: menu
        objectName: "exportMenu"
        width: 320
        x: button.width - width
        y: button.height
        MenuItem { text: qsTr("Current branch as Markdown…"); onTriggered: button.ask("markdown", "branch") }
        MenuItem { text: qsTr("Current branch as JSONL…"); onTriggered: button.ask("jsonl", "branch") }
        MenuSeparator {}
        MenuItem { text: qsTr("Whole tree (all branches) as Markdown…"); onTriggered: button.ask("markdown", "tree") }
        MenuItem { text: qsTr("Whole tree (all branches) as JSONL…"); onTriggered: button.ask("jsonl", "tree") }
    }

    FileDialog {
        id: saveDialog
        objectName: "exportDialog"
        title: qsTr("Export the conversation")
        fileMode: FileDialog.SaveFile
        acceptLabel: qsTr("Save")
        defaultSuffix: button.format === "jsonl" ? "jsonl" : "md"
        nameFilters: button.format === "jsonl" ? [qsTr("JSON Lines (*.jsonl)")] : [qsTr("Markdown (*.md)")]
        onAccepted: controller.transfer.exportConversation(controller.currentConversation, selectedFile,
                                                           button.format, button.scope)
    }

    ToolTip.visible: hovered && controller.transfer.lastResult.length > 0
    ToolTip.text: controller.transfer.lastResult
}
