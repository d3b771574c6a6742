import QtQuick
import QtQuick.Controls
import QtQuick.Layouts
import Tokamak

Drawer {
    id: drawer
    required property ChatController controller
    required property var theme
    edge: Qt.RightEdge
    width: 440

    property var s: controller.settings
    property var preview: ({})
    function values() {
        return {
            systemPrompt: systemPrompt.text,
            templateName: templateChoice.currentIndex === 0 ? "" : templateChoice.currentText === "custom" ? "custom" : templateChoice.currentText,
            templateText: customText.text,
            temperature: temperature.value, topP: topP.value, topK: topK.value, minP: minP.value,
            repeatPenalty: repeatPenalty.value, frequencyPenalty: frequencyPenalty.value,
            presencePenalty: presencePenalty.value, maxTokens: maxTokens.value, seed: seed.text
        }
    }
    function refreshPreview() { preview = controller.previewPrompt(values()) }
    onOpened: { load(); refreshPreview() }
    function load() {
        systemPrompt.text = s.systemPrompt
        customText.text = s.templateText
        const names = templateChoice.model
        templateChoice.currentIndex = s.templateName === "" ? 0 : Math.max(0, names.indexOf(s.templateName))
        temperature.value = s.temperature; topP.value = s.topP; topK.value = s.topK; minP.value = s.minP
        repeatPenalty.value = s.repeatPenalty; frequencyPenalty.value = s.frequencyPenalty
        presencePenalty.value = s.presencePenalty; maxTokens.value = s.maxTokens; seed.text = s.seed
    }
    Connections {
        target: drawer.controller
        function onModelChanged() { if (drawer.opened) drawer.refreshPreview() }
        function onSettingsChanged() { if (!drawer.opened) drawer.load() }
    }
    Timer { id: previewDelay; interval: 250; onTriggered: drawer.refreshPreview() }

    component Field: Label { font.pixelSize: 12; color: drawer.theme.muted; Layout.topMargin: 6 }
    component Knob: RowLayout {
        property alias value: slider.value
        property alias from: slider.from
        property alias to: slider.to
        property alias stepSize: slider.stepSize
        property string label
        property int digits: 2
        Label { text: label; Layout.preferredWidth: 130 }
        Slider { id: slider; Layout.fillWidth: true; snapMode: Slider.SnapAlways }
        Label { text: slider.value.toFixed(digits); Layout.preferredWidth: 44; horizontalAlignment: Text.AlignRight }
    }

    ScrollView {
        anchors.fill: parent
        contentWidth: availableWidth
        ColumnLayout {
            width: drawer.width - 40
            x: 20
            spacing: 6
            Label { text: qsTr("Conversation settings"); font.pixelSize: 18; font.weight: Font.DemiBold; Layout.topMargin: 16 }

            Field { text: qsTr("System prompt") }
            TextArea {
                id: systemPrompt
                Layout.fillWidth: true
                Layout.preferredHeight: 80
                wrapMode: TextEdit.Wrap
                placeholderText: qsTr("How the assistant should behave (optional)")
                background: Rectangle { color: drawer.theme.dark ? "#1b1d22" : "white"; border.color: drawer.theme.border; radius: 4 }
                onTextChanged: previewDelay.restart()
            }

            Field { text: qsTr("Chat template") }
            ComboBox {
                id: templateChoice
                Layout.fillWidth: true
                model: [qsTr("Automatic: the model's own, else a guessed built-in")].concat(controller.builtinTemplates).concat(["custom"])
                onActivated: {
                    // A custom template starts from the one in use, to edit.
                    if (currentText === "custom" && customText.text.trim().length === 0)
                        customText.text = drawer.preview.templateSource || ""
                    previewDelay.restart()
                }
            }
            TextArea {
                id: customText
                visible: templateChoice.currentText === "custom"
                Layout.fillWidth: true
                Layout.preferredHeight: 120
                font.family: "monospace"
                font.pixelSize: 12
                placeholderText: "{% for m in messages %}…{% endfor %}"
                background: Rectangle { color: drawer.theme.dark ? "#1b1d22" : "white"; border.color: drawer.theme.border; radius: 4 }
                onTextChanged: previewDelay.restart()
            }
            Field { text: preview.error ? qsTr("Preview") : qsTr("The prompt of the next answer — %1 tokens, template %2").arg(preview.numTokens).arg(preview.templateName) }
            Label {
                objectName: "previewTooLong"
                readonly property int context: controller.modelInfo.contextLength || 0
                visible: !preview.error && context > 0 && preview.numTokens >= context
                Layout.fillWidth: true
                wrapMode: Text.Wrap
                font.pixelSize: 12
                color: "#d04040"
                text: qsTr("Longer than the model's context (%1 tokens): the next answer cannot be written. Start a new conversation or shorten the system prompt.").arg(context)
            }
            Rectangle {
                Layout.fillWidth: true
                Layout.preferredHeight: 140
                color: theme.dark ? "#1b1d22" : "#f4f5f7"
                border.color: theme.border
                radius: 6
                ScrollView {
                    id: previewScroll
                    anchors.fill: parent
                    anchors.margins: 6
                    contentWidth: availableWidth  // long lines wrap instead of running off
                    TextEdit {
                        objectName: "templatePreview"
                        width: previewScroll.availableWidth
                        readOnly: true
                        selectByMouse: true
                        wrapMode: TextEdit.WrapAnywhere
                        font.family: "monospace"
                        font.pixelSize: 12
                        color: preview.error ? "#d04040" : drawer.theme.text
                        text: preview.error ? preview.error : (preview.text || "")
                    }
                }
            }

            Field { text: qsTr("Sampling") }
            Knob { id: temperature; label: qsTr("Temperature"); from: 0; to: 2; stepSize: 0.05 }
            Knob { id: topP; label: qsTr("Top-p"); from: 0; to: 1; stepSize: 0.01 }
            Knob { id: topK; label: qsTr("Top-k (0: off)"); from: 0; to: 200; stepSize: 1; digits: 0 }
            Knob { id: minP; label: qsTr("Min-p"); from: 0; to: 1; stepSize: 0.01 }
            Knob { id: repeatPenalty; label: qsTr("Repeat penalty"); from: 1; to: 2; stepSize: 0.01 }
            Knob { id: frequencyPenalty; label: qsTr("Frequency penalty"); from: 0; to: 2; stepSize: 0.05 }
            Knob { id: presencePenalty; label: qsTr("Presence penalty"); from: 0; to: 2; stepSize: 0.05 }
            RowLayout {
                Label { text: qsTr("Max tokens"); Layout.preferredWidth: 130 }
                SpinBox { id: maxTokens; from: 1; to: 32768; stepSize: 64; editable: true; Layout.fillWidth: true }
            }
            RowLayout {
                Label { text: qsTr("Seed (0: random)"); Layout.preferredWidth: 130 }
                TextField { id: seed; Layout.fillWidth: true; validator: RegularExpressionValidator { regularExpression: /[0-9]{1,19}/ } }
            }
            RowLayout {
                Layout.topMargin: 12
                Layout.bottomMargin: 20
                Item { Layout.fillWidth: true }
                Button { text: qsTr("Cancel"); flat: true; onClicked: drawer.close() }
                Button { objectName: "applySettings"; text: qsTr("Apply"); highlighted: true; onClicked: { controller.applySettings(drawer.values()); drawer.close() } }
            }
        }
    }
}
