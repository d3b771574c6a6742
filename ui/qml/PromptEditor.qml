import QtQuick
import QtQuick.Controls
import QtQuick.Dialogs
import QtQuick.Layouts
import Tokamak

// One prompt: its text, notes and tags (an older version is shown read-only,
// with Restore), the history beside it, and the variables with the preview.
Item {
    id: editor
    required property PromptsController prompts
    required property var theme

    readonly property var cur: prompts.current
    readonly property bool hasPrompt: cur.name !== undefined
    readonly property bool viewingOld: hasPrompt && !cur.latest
    property bool creating: false
    readonly property bool dirty: creating ? bodyArea.text.length > 0
        : hasPrompt && (bodyArea.text !== cur.body || notesArea.text !== cur.notes || tagsField.text !== cur.tagsText)

    function load() {
        nameField.text = creating ? "" : (cur.name || "")
        bodyArea.text = creating ? "" : (cur.body || "")
        notesArea.text = creating ? "" : (cur.notes || "")
        tagsField.text = creating ? "" : (cur.tagsText || "")
    }
    function startNew() {
        creating = true
        load()
        nameField.forceActiveFocus()
    }
    function save() {
        prompts.save(creating ? nameField.text : cur.name, bodyArea.text, notesArea.text, tagsField.text)
    }
    onCurChanged: {
        // (hasPrompt, a binding on cur, may not be updated yet here)
        const has = cur.name !== undefined
        if (has) creating = false
        load()
        if (has) variables.restore(prompts.savedValues(cur.name))
    }
    Connections {
        target: editor.prompts
        function onChanged() { if (editor.hasPrompt) editor.creating = false }
    }

    component Caption: Label { font.pixelSize: 12; color: editor.theme.muted }

    Dialog {
        id: renameDialog
        title: qsTr("Rename %1").arg(editor.cur.name || "")
        anchors.centerIn: parent
        modal: true
        standardButtons: Dialog.Ok | Dialog.Cancel
        onOpened: { renameField.text = editor.cur.name; renameField.selectAll(); renameField.forceActiveFocus() }
        onAccepted: editor.prompts.rename(editor.cur.name, renameField.text)
        TextField { id: renameField; width: 320; onAccepted: renameDialog.accept() }
    }
    Dialog {
        id: deleteDialog
        title: qsTr("Delete %1?").arg(editor.cur.name || "")
        anchors.centerIn: parent
        modal: true
        standardButtons: Dialog.Yes | Dialog.Cancel
        Label { text: qsTr("The prompt and all %n version(s) are removed.", "", editor.prompts.versions.count) }
        onAccepted: editor.prompts.remove(editor.cur.name)
    }
    FileDialog {
        id: exportDialog
        title: qsTr("Export %1").arg(editor.cur.name || "")
        fileMode: FileDialog.SaveFile
        nameFilters: [qsTr("Markdown, latest version (*.md)"), qsTr("JSON, whole history (*.json)")]
        onAccepted: editor.prompts.exportFile(selectedFile, [editor.cur.name])
    }

    Column {  // nothing selected
        anchors.centerIn: parent
        visible: !editor.hasPrompt && !editor.creating
        spacing: 10
        Label { anchors.horizontalCenter: parent.horizontalCenter; text: qsTr("Your prompt library"); font.pixelSize: 22; font.weight: Font.DemiBold }
        Label {
            anchors.horizontalCenter: parent.horizontalCenter
            color: theme.muted
            horizontalAlignment: Text.AlignHCenter
            text: qsTr("Reusable prompts with {{ variables }}, kept with every version.\nPick one on the left, or write a new one.")
        }
        Button { anchors.horizontalCenter: parent.horizontalCenter; text: qsTr("New prompt"); highlighted: true; onClicked: editor.startNew() }
    }

    ColumnLayout {
        anchors.fill: parent
        visible: editor.hasPrompt || editor.creating
        spacing: 0

        Rectangle {  // header
            Layout.fillWidth: true
            implicitHeight: 52
            color: theme.surface
            RowLayout {
                anchors.fill: parent
                anchors.leftMargin: 20
                anchors.rightMargin: 12
                spacing: 8
                Label {
                    text: editor.creating ? qsTr("New prompt") : (editor.cur.name || "")
                    font.pixelSize: 16
                    font.weight: Font.DemiBold
                    elide: Text.ElideRight
                    Layout.fillWidth: true
                    Layout.maximumWidth: implicitWidth
                }
                Rectangle {
                    visible: !editor.creating
                    implicitWidth: verLabel.implicitWidth + 14
                    implicitHeight: 22
                    radius: 11
                    color: editor.viewingOld ? "#e0a000" : theme.sunken
                    border.color: theme.border
                    Label { id: verLabel; anchors.centerIn: parent; font.pixelSize: 11; text: qsTr("version %1").arg(editor.cur.version || 0) }
                }
                Label {
                    visible: !editor.creating
                    text: (editor.cur.createdAt || "").replace("T", " ").replace("Z", " UTC")
                    color: theme.muted
                    font.pixelSize: 12
                }
                Item { Layout.fillWidth: true }
                Button { objectName: "historyButton"; text: qsTr("History"); checkable: true; checked: true; id: historyToggle; visible: !editor.creating }
                Button { text: qsTr("Rename…"); visible: !editor.creating; onClicked: renameDialog.open() }
                Button { text: qsTr("Export…"); visible: !editor.creating; onClicked: exportDialog.open() }
                Button { text: qsTr("Delete…"); visible: !editor.creating; onClicked: deleteDialog.open() }
            }
            Rectangle { anchors.bottom: parent.bottom; width: parent.width; height: 1; color: theme.border }
        }

        Rectangle {  // an older version: read-only, restorable
            Layout.fillWidth: true
            visible: editor.viewingOld
            implicitHeight: 44
            color: theme.dark ? "#4a3b10" : "#fff4d6"
            RowLayout {
                anchors.fill: parent
                anchors.leftMargin: 20
                anchors.rightMargin: 12
                Label {
                    Layout.fillWidth: true
                    text: qsTr("You are looking at version %1 (read-only). Restoring it saves a copy as the newest version.").arg(editor.cur.version || 0)
                    elide: Text.ElideRight
                }
                Button { objectName: "restoreButton"; text: qsTr("Restore version %1").arg(editor.cur.version || 0); highlighted: true; onClicked: editor.prompts.restore(editor.cur.version) }
                Button { text: qsTr("Back to latest"); onClicked: editor.prompts.viewVersion(editor.prompts.versions.get(0).version) }
            }
        }

        RowLayout {
            Layout.fillWidth: true
            Layout.fillHeight: true
            spacing: 0

            ColumnLayout {  // the text
                Layout.fillWidth: true
                Layout.minimumWidth: 240
                Layout.fillHeight: true
                Layout.margins: 20
                spacing: 6
                Caption { text: qsTr("Name"); visible: editor.creating }
                TextField {
                    id: nameField
                    objectName: "promptName"
                    visible: editor.creating
                    Layout.fillWidth: true
                    placeholderText: qsTr("e.g. summarise-email")
                }
                Caption { text: qsTr("Prompt — Jinja text; {{ name }} marks a variable") }
                Rectangle {
                    Layout.fillWidth: true
                    Layout.fillHeight: true
                    Layout.minimumHeight: 160
                    radius: 8
                    color: theme.dark ? Qt.lighter(theme.surface, 1.15) : "white"
                    border.color: bodyArea.activeFocus ? theme.accent : theme.border
                    ScrollView {
                        anchors.fill: parent
                        anchors.margins: 4
                        TextArea {
                            id: bodyArea
                            objectName: "promptBody"
                            readOnly: editor.viewingOld
                            wrapMode: TextEdit.Wrap
                            font.family: "monospace"
                            font.pixelSize: 13
                            background: null
                            selectByMouse: true
                            placeholderText: qsTr("Summarise the following text in {{ n_lines }} lines:\n\n{{ text }}")
                        }
                    }
                }
                Caption { text: qsTr("Notes") }
                TextArea {
                    id: notesArea
                    objectName: "promptNotes"
                    Layout.fillWidth: true
                    Layout.preferredHeight: 64
                    readOnly: editor.viewingOld
                    wrapMode: TextEdit.Wrap
                    placeholderText: qsTr("What this prompt is for, what works well with it")
                    background: Rectangle {
                        radius: 6
                        color: theme.dark ? Qt.lighter(theme.surface, 1.15) : "white"
                        border.color: notesArea.activeFocus ? theme.accent : theme.border
                    }
                }
                Caption { text: qsTr("Tags, separated by commas") }
                TextField {
                    id: tagsField
                    objectName: "promptTags"
                    Layout.fillWidth: true
                    readOnly: editor.viewingOld
                    placeholderText: qsTr("writing, email")
                }
                RowLayout {
                    Layout.topMargin: 6
                    spacing: 10
                    Button {
                        objectName: "savePromptButton"
                        visible: !editor.viewingOld
                        highlighted: true
                        enabled: editor.dirty && (!editor.creating || nameField.text.trim().length > 0)
                        text: editor.creating ? qsTr("Create prompt") : qsTr("Save as version %1").arg(editor.prompts.versions.count + 1)
                        onClicked: editor.save()
                    }
                    Button {
                        visible: editor.dirty && !editor.viewingOld
                        text: editor.creating ? qsTr("Cancel") : qsTr("Revert")
                        onClicked: { if (editor.creating) { editor.creating = false }; editor.load() }
                    }
                    Label { visible: editor.dirty && !editor.creating; text: qsTr("Unsaved changes"); color: theme.muted; font.pixelSize: 12 }
                }
            }

            Rectangle { Layout.fillHeight: true; width: 1; color: theme.border }

            PromptVariables {
                id: variables
                Layout.fillHeight: true
                Layout.preferredWidth: 340
                prompts: editor.prompts
                theme: editor.theme
                body: bodyArea.text
            }

            Rectangle { Layout.fillHeight: true; width: 1; color: theme.border; visible: history.visible }

            PromptHistory {
                id: history
                visible: historyToggle.checked && !editor.creating
                Layout.fillHeight: true
                Layout.preferredWidth: 200
                prompts: editor.prompts
                theme: editor.theme
            }
        }
    }
}
