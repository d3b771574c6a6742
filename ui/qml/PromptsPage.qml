import QtQuick
import QtQuick.Controls
import QtQuick.Dialogs
import QtQuick.Layouts
import Tokamak

// The prompt library: the list (search over text and tags) on the left, the
// selected prompt's editor, history, variables and preview on the right.
Item {
    id: page
    required property PromptsController prompts
    required property var theme

    function startNew() {
        prompts.clearSelection()
        editor.startNew()
    }

    // The first visit shows the first prompt rather than an empty editor.
    property bool autoSelected: false
    Connections {
        target: page.prompts.prompts
        function onCountChanged() {
            if (page.autoSelected || page.prompts.prompts.count === 0) return
            page.autoSelected = true
            if (page.prompts.current.name === undefined) page.prompts.select(page.prompts.prompts.get(0).name)
        }
    }

    FileDialog {
        id: importDialog
        title: qsTr("Import prompts")
        nameFilters: [qsTr("Prompt files (*.json *.md)"), qsTr("All files (*)")]
        onAccepted: prompts.importFile(selectedFile, duplicates.currentValue)
    }
    FileDialog {
        id: exportDialog
        title: qsTr("Export the whole library")
        fileMode: FileDialog.SaveFile
        defaultSuffix: "json"
        nameFilters: [qsTr("Prompt library (*.json)")]
        onAccepted: prompts.exportFile(selectedFile, [])
    }

    RowLayout {
        anchors.fill: parent
        spacing: 0

        Rectangle {  // the library
            Layout.fillHeight: true
            Layout.preferredWidth: 280
            color: theme.sunken

            ColumnLayout {
                anchors.fill: parent
                anchors.margins: 12
                spacing: 10

                Button {
                    objectName: "newPromptButton"
                    Layout.fillWidth: true
                    text: qsTr("+  New prompt")
                    highlighted: true
                    onClicked: page.startNew()
                }
                TextField {
                    id: searchBox
                    objectName: "promptSearch"
                    Layout.fillWidth: true
                    placeholderText: qsTr("Search names, text, notes, tags")
                    selectByMouse: true
                    onTextChanged: searchDelay.restart()
                    Timer { id: searchDelay; interval: 200; onTriggered: prompts.setFilter(searchBox.text, prompts.filterTag) }
                }
                Flow {  // tag filter
                    Layout.fillWidth: true
                    spacing: 6
                    visible: prompts.allTags.length > 0
                    Repeater {
                        model: [""].concat(prompts.allTags)
                        delegate: Rectangle {
                            required property string modelData
                            readonly property bool on: prompts.filterTag === modelData
                            implicitWidth: chip.implicitWidth + 18
                            implicitHeight: 24
                            radius: 12
                            color: on ? theme.accent : "transparent"
                            border.color: on ? theme.accent : theme.border
                            Label {
                                id: chip
                                anchors.centerIn: parent
                                text: modelData === "" ? qsTr("All") : "#" + modelData
                                font.pixelSize: 12
                                color: parent.on ? "white" : theme.text
                            }
                            MouseArea {
                                anchors.fill: parent
                                cursorShape: Qt.PointingHandCursor
                                onClicked: prompts.setFilter(searchBox.text, parent.on ? "" : modelData)
                            }
                        }
                    }
                }

                ListView {
                    id: list
                    objectName: "promptList"
                    Layout.fillWidth: true
                    Layout.fillHeight: true
                    clip: true
                    spacing: 2
                    model: prompts.prompts
                    ScrollBar.vertical: ScrollBar {}
                    delegate: ItemDelegate {
                        id: row
                        required property var model
                        width: list.width
                        highlighted: prompts.current.name === model.name
                        onClicked: prompts.select(model.name)
                        contentItem: ColumnLayout {
                            spacing: 3
                            RowLayout {
                                Label {
                                    Layout.fillWidth: true
                                    text: row.model.name
                                    font.weight: Font.DemiBold
                                    elide: Text.ElideRight
                                }
                                Label { text: "v" + row.model.version; color: theme.muted; font.pixelSize: 11 }
                            }
                            Label {
                                Layout.fillWidth: true
                                text: row.model.firstLine
                                color: theme.muted
                                font.pixelSize: 12
                                elide: Text.ElideRight
                            }
                            Label {
                                Layout.fillWidth: true
                                visible: row.model.tags.length > 0
                                text: row.model.tags.map(t => "#" + t).join("  ")
                                color: theme.accent
                                font.pixelSize: 11
                                elide: Text.ElideRight
                            }
                        }
                    }
                    Label {
                        anchors.centerIn: parent
                        width: parent.width - 20
                        horizontalAlignment: Text.AlignHCenter
                        wrapMode: Text.Wrap
                        visible: list.count === 0
                        color: theme.muted
                        text: prompts.numPrompts === 0
                              ? qsTr("No prompts yet. Create one, or import a .json or .md prompt file.")
                              : qsTr("No prompt matches.")
                    }
                }

                RowLayout {  // files
                    Layout.fillWidth: true
                    spacing: 6
                    Button { Layout.fillWidth: true; text: qsTr("Import…"); onClicked: importDialog.open() }
                    Button {
                        Layout.fillWidth: true
                        text: qsTr("Export all…")
                        enabled: prompts.numPrompts > 0
                        onClicked: exportDialog.open()
                    }
                }
                RowLayout {
                    Layout.fillWidth: true
                    Label { text: qsTr("Same name:"); color: theme.muted; font.pixelSize: 12 }
                    ComboBox {
                        id: duplicates
                        Layout.fillWidth: true
                        textRole: "text"
                        valueRole: "value"
                        model: [{ text: qsTr("refuse the file"), value: "fail" },
                                { text: qsTr("keep mine"), value: "skip" },
                                { text: qsTr("add as versions"), value: "add" }]
                    }
                }
            }
            Rectangle { anchors.right: parent.right; width: 1; height: parent.height; color: theme.border }
        }

        ColumnLayout {
            Layout.fillWidth: true
            Layout.fillHeight: true
            spacing: 0

            Rectangle {  // what the last action did, or its error
                Layout.fillWidth: true
                visible: prompts.status === "error" || prompts.notice.length > 0
                implicitHeight: statusRow.implicitHeight + 12
                color: prompts.status === "error" ? (theme.dark ? "#5c1f1f" : "#fde8e8")
                                                  : (theme.dark ? "#1f3d2a" : "#e6f4ea")
                RowLayout {
                    id: statusRow
                    anchors.fill: parent
                    anchors.leftMargin: 16
                    anchors.rightMargin: 8
                    Label {
                        objectName: "promptStatus"
                        Layout.fillWidth: true
                        wrapMode: Text.Wrap
                        text: prompts.status === "error" ? prompts.errorString : prompts.notice
                    }
                    ToolButton { text: "✕"; onClicked: prompts.clearError() }
                }
            }

            PromptEditor {
                id: editor
                Layout.fillWidth: true
                Layout.fillHeight: true
                prompts: page.prompts
                theme: page.theme
            }
        }
    }
}
