import QtQuick
import QtQuick.Controls
import QtQuick.Dialogs
import Tokamak

// "Import…": a conversation exported as JSONL (by Tokamak, here or on another
// machine) comes in as a new conversation and is shown.
Button {
    id: button
    required property ChatController controller
    objectName: "importButton"
    text: qsTr("Import…")
    enabled: !controller.transfer.busy
    onClicked: openDialog.open()

    FileDialog {
        id: openDialog
        objectName: "importDialog"
        title: qsTr("Import a conversation (JSONL)")
        fileMode: FileDialog.OpenFile
        nameFilters: [qsTr("JSON Lines (*.jsonl)"), qsTr("All files (*)")]
        onAccepted: controller.transfer.importJsonl(selectedFile)
    }

    ToolTip.visible: hovered
    ToolTip.text: controller.transfer.lastResult.length > 0 ? controller.transfer.lastResult
                                                            : qsTr("A conversation exported as JSONL")
}
