import QtQuick
import QtQuick.Controls
import QtQuick.Dialogs
import QtQuick.Layouts
import Tokamak

// Saved benchmark sessions (from this page and from `tokamak-cli bench
// serve`): open one, delete, export, or tick two or more and compare them
// with the figures that differ highlighted.
Item {
    id: view
    required property BenchController bench
    required property var theme
    required property var page
    property var picked: ({})
    property int pickedCount: 0

    function pickedIds() { return Object.keys(picked).filter(k => picked[k]).map(k => Number(k)) }
    function fmt(v) {
        if (v === undefined || v === null) return "—"
        const a = Math.abs(v)
        return a >= 1000 ? v.toFixed(0) : a >= 100 ? v.toFixed(1) : a >= 1 ? v.toFixed(2) : v.toFixed(3)
    }

    FileDialog {
        id: exportDialog
        property var sessionId: -1
        property string format: "csv"
        fileMode: FileDialog.SaveFile
        nameFilters: format === "csv" ? [qsTr("CSV (*.csv)")] : [qsTr("JSON (*.json)")]
        onAccepted: bench.exportSession(sessionId, selectedFile.toString(), format)
    }
    Connections { target: view.bench; function onExported(ok, message) { note.text = message } }

    SplitView {
        anchors.fill: parent
        orientation: Qt.Vertical

        ColumnLayout {
            SplitView.preferredHeight: view.height * 0.45
            SplitView.minimumHeight: 160
            spacing: 6
            RowLayout {
                Layout.fillWidth: true
                Layout.leftMargin: 16; Layout.rightMargin: 16; Layout.topMargin: 10
                Label { text: qsTr("%1 saved sessions").arg(bench.history.length); font.weight: Font.DemiBold }
                Label { id: note; Layout.fillWidth: true; color: theme.muted; font.pixelSize: 12; elide: Text.ElideRight }
                Button { text: qsTr("Refresh"); onClicked: bench.refreshHistory() }
                Button {
                    objectName: "compareButton"
                    text: qsTr("Compare %1").arg(view.pickedCount)
                    highlighted: view.pickedCount >= 2
                    enabled: view.pickedCount >= 2
                    onClicked: bench.compare(view.pickedIds())
                }
            }
            ListView {
                id: list
                objectName: "historyList"
                Layout.fillWidth: true
                Layout.fillHeight: true
                clip: true
                model: bench.history
                ScrollBar.vertical: ScrollBar {}
                delegate: Rectangle {
                    id: rowItem
                    required property var modelData
                    required property int index
                    width: list.width
                    height: 52
                    color: bench.session.id === modelData.id ? Qt.rgba(view.theme.accent.r, view.theme.accent.g, view.theme.accent.b, 0.12)
                         : index % 2 ? Qt.rgba(0.5, 0.5, 0.5, 0.05) : "transparent"
                    RowLayout {
                        anchors.fill: parent
                        anchors.leftMargin: 10; anchors.rightMargin: 12
                        spacing: 10
                        CheckBox {
                            checked: view.picked[rowItem.modelData.id] === true
                            onToggled: {
                                let p = view.picked
                                p[rowItem.modelData.id] = checked
                                view.picked = p
                                view.pickedCount = view.pickedIds().length
                            }
                        }
                        Rectangle {
                            implicitWidth: srcLabel.implicitWidth + 12; implicitHeight: 20; radius: 10
                            color: rowItem.modelData.source === "CLI" ? "#334155" : "#2563eb"
                            Label { id: srcLabel; anchors.centerIn: parent; text: rowItem.modelData.source; color: "white"; font.pixelSize: 10; font.weight: Font.DemiBold }
                        }
                        ColumnLayout {
                            Layout.fillWidth: true
                            spacing: 1
                            Label { text: rowItem.modelData.title; elide: Text.ElideRight; Layout.fillWidth: true; font.weight: Font.DemiBold; font.pixelSize: 13 }
                            Label {
                                text: qsTr("%1 runs · %2 · %3").arg(rowItem.modelData.numRuns).arg(rowItem.modelData.policies).arg(rowItem.modelData.workloads)
                                elide: Text.ElideRight; Layout.fillWidth: true; color: view.theme.muted; font.pixelSize: 11
                            }
                        }
                        Label { text: qsTr("%1 tok/s").arg(view.fmt(rowItem.modelData.bestTps)); font.family: "monospace"; font.pixelSize: 12 }
                        Label { text: qsTr("%1 req/s").arg(view.fmt(rowItem.modelData.bestRps)); font.family: "monospace"; font.pixelSize: 12; color: view.theme.muted }
                        Label {
                            text: rowItem.modelData.bestJPerToken !== undefined ? qsTr("%1 J/tok").arg(view.fmt(rowItem.modelData.bestJPerToken)) : ""
                            font.pixelSize: 12; color: view.theme.muted
                        }
                        ToolButton { text: qsTr("Open"); onClicked: { bench.openSession(rowItem.modelData.id); view.page.tab = 1 } }
                        ToolButton { text: "CSV"; onClicked: { exportDialog.sessionId = rowItem.modelData.id; exportDialog.format = "csv"; exportDialog.open() } }
                        ToolButton { text: "JSON"; onClicked: { exportDialog.sessionId = rowItem.modelData.id; exportDialog.format = "json"; exportDialog.open() } }
                        ToolButton { text: "✕"; onClicked: bench.removeSession(rowItem.modelData.id); ToolTip.visible: hovered; ToolTip.text: qsTr("Delete this session") }
                    }
                }
            }
        }

        Item {
            SplitView.fillHeight: true
            Label {
                anchors.centerIn: parent
                visible: bench.comparison.length === 0
                color: theme.muted
                text: qsTr("Tick two or more sessions and Compare: figures that differ by more than 5% are highlighted.")
            }
            ListView {
                id: cmp
                objectName: "compareList"
                anchors.fill: parent
                anchors.margins: 12
                visible: bench.comparison.length > 0
                clip: true
                model: bench.comparison
                ScrollBar.vertical: ScrollBar {}
                header: Row {
                    height: 44
                    Label { width: 300; height: 44; verticalAlignment: Text.AlignVCenter; text: qsTr("Run · figure"); font.weight: Font.DemiBold }
                    Repeater {
                        model: bench.comparedSessions
                        delegate: Label {
                            required property var modelData
                            required property int index
                            width: 170; height: 44
                            verticalAlignment: Text.AlignVCenter
                            horizontalAlignment: Text.AlignRight
                            wrapMode: Text.Wrap
                            font.weight: Font.DemiBold
                            font.pixelSize: 12
                            text: "#" + modelData.id + " " + modelData.modelName + "\n" + modelData.device + " · " + modelData.source
                        }
                    }
                }
                section.property: "run"
                section.delegate: Label {
                    required property string section
                    topPadding: 10
                    text: section
                    font.weight: Font.DemiBold
                    color: view.theme.accent
                }
                delegate: Rectangle {
                    id: crow
                    required property var modelData
                    width: cmp.width
                    height: 26
                    color: modelData.differs ? (view.theme.dark ? "#4a3b12" : "#fff4d6") : "transparent"
                    Row {
                        Label { width: 300; height: 26; verticalAlignment: Text.AlignVCenter; leftPadding: 12
                                text: crow.modelData.label + (crow.modelData.unit ? " (" + crow.modelData.unit + ")" : ""); font.pixelSize: 12 }
                        Repeater {
                            model: crow.modelData.values
                            delegate: Label {
                                required property var modelData
                                required property int index
                                width: 170; height: 26
                                verticalAlignment: Text.AlignVCenter
                                horizontalAlignment: Text.AlignRight
                                font.family: "monospace"
                                font.pixelSize: 12
                                font.weight: crow.modelData.differs && crow.modelData.best === index ? Font.Bold : Font.Normal
                                color: crow.modelData.differs && crow.modelData.best === index ? "#15803d" : view.theme.text
                                readonly property var delta: crow.modelData.deltas[index]
                                text: view.fmt(modelData) + (delta !== undefined && delta !== null ? " (" + (delta >= 0 ? "+" : "") + delta.toFixed(1) + "%)" : "")
                            }
                        }
                    }
                }
            }
        }
    }
}
