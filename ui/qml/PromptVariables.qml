import QtQuick
import QtQuick.Controls
import QtQuick.Layouts
import Tokamak

// The variables the prompt reads, a field for each, the rendered text (the
// same renderer as `tokamak-cli prompts render`) and "send to chat".
Rectangle {
    id: vars
    required property PromptsController prompts
    required property var theme
    property string body: ""
    property var values: ({})  // name → text, kept across prompts
    readonly property var names: prompts.variablesOf(body)
    readonly property var preview: prompts.renderPreview(body, values)
    color: theme.surface

    // The values last sent with this prompt, over those typed so far.
    function restore(saved) {
        const v = Object.assign({}, values)
        for (const name of Object.keys(saved)) v[name] = saved[name]
        values = v
    }
    function setValue(name, text) {
        const v = Object.assign({}, values)
        v[name] = text
        values = v
    }

    ScrollView {
        anchors.fill: parent
        contentWidth: availableWidth
        ColumnLayout {
            x: 16
            width: vars.width - 32
            spacing: 8

            Label { text: qsTr("Variables"); font.pixelSize: 15; font.weight: Font.DemiBold; Layout.topMargin: 18 }
            Label {
                visible: vars.names.length === 0
                Layout.fillWidth: true
                wrapMode: Text.Wrap
                color: theme.muted
                font.pixelSize: 12
                text: qsTr("This prompt has no variables. Write {{ name }} in it to ask for a value here.")
            }
            Repeater {
                model: vars.names
                delegate: ColumnLayout {
                    required property string modelData
                    Layout.fillWidth: true
                    spacing: 3
                    Label { text: modelData; font.family: "monospace"; font.pixelSize: 12; color: theme.muted }
                    Rectangle {
                        Layout.fillWidth: true
                        implicitHeight: Math.min(Math.max(field.implicitHeight, 34), 120)
                        radius: 6
                        color: theme.dark ? Qt.lighter(theme.surface, 1.15) : "white"
                        border.color: field.activeFocus ? theme.accent : theme.border
                        ScrollView {
                            anchors.fill: parent
                            TextArea {
                                id: field
                                objectName: "variable_" + modelData
                                wrapMode: TextEdit.Wrap
                                background: null
                                selectByMouse: true
                                placeholderText: qsTr("value of %1").arg(modelData)
                                text: vars.values[modelData] || ""
                                onTextChanged: if (text !== (vars.values[modelData] || "")) vars.setValue(modelData, text)
                            }
                        }
                    }
                }
            }

            RowLayout {
                Layout.topMargin: 10
                Label { text: qsTr("Preview"); font.pixelSize: 15; font.weight: Font.DemiBold; Layout.fillWidth: true }
                Label {
                    visible: vars.preview.error === ""
                    text: qsTr("%n character(s)", "", vars.preview.text.length)
                    color: theme.muted
                    font.pixelSize: 12
                }
            }
            Label {
                visible: vars.preview.error === "" && vars.preview.missing.length > 0
                Layout.fillWidth: true
                wrapMode: Text.Wrap
                color: "#b07800"
                font.pixelSize: 12
                text: qsTr("No value yet for %1: its default() if it has one, else empty.").arg(vars.preview.missing.join(", "))
            }
            Rectangle {
                Layout.fillWidth: true
                implicitHeight: Math.max(previewText.implicitHeight + 20, 80)
                radius: 8
                color: theme.sunken
                border.color: vars.preview.error !== "" ? "#d04040" : theme.border
                Label {
                    id: previewText
                    objectName: "promptPreview"
                    x: 10; y: 10
                    width: parent.width - 20
                    wrapMode: Text.Wrap
                    textFormat: Text.PlainText
                    font.family: vars.preview.error !== "" ? undefined : "monospace"
                    font.pixelSize: 13
                    color: vars.preview.error !== "" ? "#d04040" : theme.text
                    text: vars.preview.error !== "" ? vars.preview.error
                        : vars.body.length === 0 ? qsTr("The rendered prompt appears here.") : vars.preview.text
                }
            }

            Label { text: qsTr("Send to chat"); font.pixelSize: 15; font.weight: Font.DemiBold; Layout.topMargin: 10 }
            GridLayout {
                Layout.fillWidth: true
                Layout.bottomMargin: 18
                columns: 2
                columnSpacing: 8
                rowSpacing: 6
                enabled: vars.body.length > 0 && vars.preview.error === ""
                Button {
                    objectName: "sendComposerButton"
                    Layout.fillWidth: true
                    highlighted: true
                    text: qsTr("Into the composer")
                    onClicked: vars.prompts.sendToChat(vars.body, vars.values, "composer")
                }
                Button {
                    objectName: "sendNewButton"
                    Layout.fillWidth: true
                    text: qsTr("In a new conversation")
                    onClicked: vars.prompts.sendToChat(vars.body, vars.values, "new")
                }
                Button {
                    objectName: "sendSystemButton"
                    Layout.columnSpan: 2
                    Layout.fillWidth: true
                    text: qsTr("As the conversation's system prompt")
                    onClicked: vars.prompts.sendToChat(vars.body, vars.values, "system")
                }
            }
        }
    }
}
