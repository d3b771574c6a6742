import QtQuick
import QtQuick.Controls
import QtQuick.Dialogs
import QtQuick.Layouts
import Tokamak

Item {
    id: page
    required property ChatController controller
    required property var theme
    signal speedTest(string path)  // the Benchmarks page runs it
    readonly property var d: controller.catalog.described

    function gib(bytes) {
        return bytes >= 1073741824 ? (bytes / 1073741824).toFixed(2) + " GiB" : (bytes / 1048576).toFixed(1) + " MiB"
    }
    function mib(bytes) { return (bytes / 1048576).toFixed(1) + " MiB" }

    FileDialog {
        id: openDialog
        title: qsTr("Open a GGUF model")
        nameFilters: [qsTr("GGUF models (*.gguf)"), qsTr("All files (*)")]
        onAccepted: controller.loadModel(selectedFile)
    }

    DropArea {
        id: dropArea
        objectName: "modelDropArea"
        anchors.fill: parent
        keys: ["text/uri-list"]
        onDropped: (drop) => { if (drop.hasUrls) controller.loadModel(drop.urls[0]) }
    }

    ScrollView {
        anchors.fill: parent
        contentWidth: availableWidth
        ColumnLayout {
            x: 32
            width: Math.min(page.width - 64, 900)
            spacing: 14
            Label { text: qsTr("Models"); font.pixelSize: 24; font.weight: Font.DemiBold; Layout.topMargin: 24 }
            Label { text: qsTr("Open a GGUF file, drop one onto this page, or start with the built-in demo model."); color: theme.muted }
            RowLayout {
                spacing: 10
                Button { text: qsTr("Open GGUF…"); highlighted: true; onClicked: openDialog.open() }
                Button { objectName: "demoButton"; text: qsTr("Load the demo model"); onClicked: controller.loadDemoModel() }
                Button {
                    objectName: "unloadButton"
                    text: controller.modelState === "loading" ? qsTr("Cancel loading") : qsTr("Unload")
                    enabled: controller.modelState === "ready" || controller.modelState === "loading"
                    onClicked: controller.modelState === "loading" ? controller.cancelLoad() : controller.unloadModel()
                }
            }
            RowLayout {  // the device the next load runs on, and why
                spacing: 10
                Label { text: qsTr("Run on") }
                ComboBox {
                    objectName: "deviceBox"
                    textRole: "label"
                    valueRole: "key"
                    model: [{ key: "auto", label: qsTr("Automatic") }, { key: "cpu", label: qsTr("CPU") },
                            { key: "cuda", label: qsTr("NVIDIA GPU (CUDA)") }]
                    Component.onCompleted: currentIndex = indexOfValue(controller.devicePreference)
                    onActivated: controller.devicePreference = currentValue
                }
                Label {
                    objectName: "deviceReason"
                    Layout.fillWidth: true
                    wrapMode: Text.Wrap
                    text: controller.deviceChoice.reason
                          + (controller.modelState === "ready" && controller.modelInfo.device !== controller.deviceChoice.device
                             ? qsTr(" (applies to the next load)") : "")
                    color: controller.deviceChoice.asAsked ? theme.muted : "#c07000"
                }
            }

            Rectangle {  // the current model
                Layout.fillWidth: true
                implicitHeight: info.implicitHeight + 32
                radius: 8
                color: theme.sunken
                border.color: controller.modelState === "error" ? "#d04040" : theme.border
                ColumnLayout {
                    id: info
                    x: 16; y: 16
                    width: parent.width - 32
                    spacing: 6
                    Label {
                        font.pixelSize: 16
                        font.weight: Font.DemiBold
                        text: controller.modelState === "ready" ? controller.modelName
                            : controller.modelState === "loading" ? qsTr("Loading %1…").arg(controller.modelPath)
                            : controller.modelState === "error" ? qsTr("The model could not be loaded")
                            : qsTr("No model loaded")
                    }
                    ProgressBar {
                        objectName: "loadProgressBar"
                        Layout.fillWidth: true
                        visible: controller.modelState === "loading"
                        from: 0; to: 1
                        value: controller.loadProgress
                    }
                    Label {
                        objectName: "loadStage"
                        visible: controller.modelState === "loading"
                        text: controller.loadStage
                        color: theme.muted
                    }
                    Label {
                        id: modelErrorText
                        objectName: "modelErrorText"
                        // also when the failed load left the model before it loaded
                        visible: controller.modelError !== "" && controller.modelState !== "loading"
                        Layout.fillWidth: true
                        wrapMode: Text.Wrap
                        text: controller.modelState === "ready"
                            ? qsTr("Another model could not be loaded; this one stays loaded. %1").arg(controller.modelError)
                            : controller.modelError
                        color: "#d04040"
                    }
                    Button { objectName: "clearModelError"; visible: modelErrorText.visible; text: qsTr("Clear"); onClicked: controller.clearError() }
                    GridLayout {
                        visible: controller.modelState === "ready"
                        columns: 2
                        columnSpacing: 24
                        rowSpacing: 4
                        Label { text: qsTr("File"); color: theme.muted }
                        Label { text: controller.modelPath; elide: Text.ElideMiddle; Layout.fillWidth: true }
                        Label { text: qsTr("Device"); color: theme.muted }
                        Label { objectName: "loadedDevice"; text: controller.modelInfo.deviceReason || ""; wrapMode: Text.Wrap; Layout.fillWidth: true }
                        Label { text: qsTr("Architecture"); color: theme.muted }
                        Label { text: controller.modelInfo.architecture || "" }
                        Label { text: qsTr("Parameters"); color: theme.muted }
                        Label { text: ((controller.modelInfo.numParams || 0) / 1e6).toFixed(1) + " M" }
                        Label { text: qsTr("File size"); color: theme.muted }
                        Label { text: page.mib(controller.modelInfo.fileSizeBytes || 0) }
                        Label { text: qsTr("Context"); color: theme.muted }
                        Label { text: (controller.modelInfo.contextLength || 0) + qsTr(" tokens") }
                        Label { text: qsTr("Vocabulary"); color: theme.muted }
                        Label { text: (controller.modelInfo.vocabSize || 0) + qsTr(" tokens") }
                        Label { text: qsTr("Chat template"); color: theme.muted }
                        Label { text: controller.modelInfo.hasChatTemplate ? qsTr("in the file") : qsTr("none in the file: a built-in is used") }
                    }
                    Button {
                        objectName: "speedTestButton"
                        visible: controller.modelState === "ready"
                        text: qsTr("Speed test: prefill and decode tokens/s at batch 1")
                        onClicked: page.speedTest(controller.modelPath)
                    }
                }
            }

            Label { text: qsTr("Recent models"); font.pixelSize: 16; font.weight: Font.DemiBold; Layout.topMargin: 10 }
            Label { visible: controller.recentModels.length === 0; text: qsTr("Models you load are listed here."); color: theme.muted }
            Repeater {
                model: controller.recentModels
                delegate: ItemDelegate {
                    required property string modelData
                    Layout.fillWidth: true
                    text: modelData
                    ToolTip.visible: hovered
                    ToolTip.delay: 600
                    ToolTip.text: qsTr("Click for its details, double-click to load it")
                    onClicked: controller.catalog.describe(modelData, contextBox.value)
                    onDoubleClicked: controller.loadModel(modelData)
                }
            }

            RowLayout {
                Layout.topMargin: 10
                Label { text: qsTr("Found on this computer"); font.pixelSize: 16; font.weight: Font.DemiBold; Layout.fillWidth: true }
                BusyIndicator { running: controller.catalog.scanning; visible: running; Layout.preferredHeight: 28; Layout.preferredWidth: 28 }
                Button { text: qsTr("Add folder…"); onClicked: folderDialog.open() }
                Button { text: qsTr("Rescan"); onClicked: controller.catalog.refresh() }
            }
            Label {
                Layout.fillWidth: true
                wrapMode: Text.Wrap
                color: theme.muted
                text: qsTr("LM Studio, Ollama, GPT4All and Hugging Face cache folders are searched")
                      + (controller.catalog.folders.length > 0 ? qsTr(", and the folders you added:") : ".")
            }
            Repeater {  // the folders the user added, each removable
                model: controller.catalog.folders
                delegate: RowLayout {
                    required property string modelData
                    Layout.fillWidth: true
                    Label { text: modelData; Layout.fillWidth: true; elide: Text.ElideMiddle }
                    ToolButton {
                        objectName: "removeFolder"
                        text: qsTr("Remove")
                        font.pixelSize: 12
                        onClicked: controller.catalog.removeFolder(modelData)
                    }
                }
            }
            Label {
                visible: controller.catalog.discovered.count === 0 && !controller.catalog.scanning
                text: qsTr("No GGUF models found there.")
                color: theme.muted
            }
            Repeater {
                model: controller.catalog.discovered
                delegate: ItemDelegate {
                    required property var model
                    Layout.fillWidth: true
                    highlighted: controller.catalog.described.path === model.path
                    ToolTip.visible: hovered
                    ToolTip.delay: 600
                    ToolTip.text: model.path + "\n" + qsTr("Click for its details, double-click to load it")
                    onClicked: controller.catalog.describe(model.path, contextBox.value)
                    onDoubleClicked: controller.loadModel(model.path)
                    contentItem: RowLayout {
                        Label { text: model.name; Layout.fillWidth: true; elide: Text.ElideMiddle }
                        Label { text: model.source; color: theme.muted; font.pixelSize: 12 }
                        Label { text: page.gib(model.sizeBytes); color: theme.muted; font.pixelSize: 12; Layout.preferredWidth: 80; horizontalAlignment: Text.AlignRight }
                    }
                }
            }

            Rectangle {  // the selected file: metadata and memory at the chosen context
                Layout.fillWidth: true
                Layout.bottomMargin: 24
                visible: controller.catalog.described.path !== undefined
                implicitHeight: det.implicitHeight + 32
                radius: 8
                color: theme.sunken
                border.color: theme.border
                ColumnLayout {
                    id: det
                    x: 16; y: 16
                    width: parent.width - 32
                    spacing: 6
                    Label { text: page.d.name || ""; font.pixelSize: 16; font.weight: Font.DemiBold }
                    Label { visible: !!page.d.error; text: page.d.error || ""; color: "#d04040"; wrapMode: Text.Wrap; Layout.fillWidth: true }
                    GridLayout {
                        visible: !page.d.error
                        columns: 2
                        columnSpacing: 24
                        Label { text: qsTr("Architecture"); color: theme.muted }
                        Label { text: (page.d.architecture || "") + (page.d.supported ? "" : qsTr(" (not supported: %1)").arg(page.d.unsupported || page.d.architecture)) }
                        Label { text: qsTr("Parameters"); color: theme.muted }
                        Label { text: ((page.d.numParams || 0) / 1e6).toFixed(1) + " M" }
                        Label { text: qsTr("Tensor types"); color: theme.muted }
                        Label { text: page.d.quantTypes || ""; wrapMode: Text.Wrap; Layout.fillWidth: true }
                        Label { text: qsTr("Context"); color: theme.muted }
                        RowLayout {
                            SpinBox { id: contextBox; from: 1; to: page.d.contextLength > 0 ? page.d.contextLength : 1048576
                                      stepSize: 512; editable: true; value: page.d.context || 4096
                                      onValueModified: controller.catalog.describe(page.d.path, value) }
                            Label { text: qsTr("of %1").arg(page.d.contextLength || 0); color: theme.muted }
                        }
                        Label { text: qsTr("Memory"); color: theme.muted }
                        Label { text: qsTr("%1 weights + %2 KV cache = %3").arg(page.gib(page.d.weightsBytes || 0))
                                        .arg(page.gib(page.d.kvCacheBytes || 0)).arg(page.gib(page.d.totalBytes || 0)) }
                    }
                    Button { text: qsTr("Load"); highlighted: true; enabled: !!page.d.supported; onClicked: controller.loadModel(page.d.path) }
                }
            }
        }
    }

    FolderDialog {
        id: folderDialog
        title: qsTr("Add a folder of GGUF models")
        onAccepted: controller.catalog.addFolder(selectedFolder)
    }

    Rectangle {  // a file dragged over the page
        anchors.fill: parent
        anchors.margins: 8
        visible: dropArea.containsDrag
        radius: 10
        color: Qt.rgba(theme.accent.r, theme.accent.g, theme.accent.b, 0.12)
        border.color: theme.accent
        border.width: 2
        Label {
            anchors.centerIn: parent
            text: qsTr("Drop the GGUF file to load it")
            font.pixelSize: 20
            font.weight: Font.DemiBold
        }
    }

    Component.onCompleted: controller.catalog.refresh()
    Connections {
        target: page.controller
        function onModelChanged() {
            if (page.controller.modelState === "ready") page.controller.catalog.describe(page.controller.modelPath, contextBox.value)
        }
    }
}
