import QtQuick
import QtQuick.Controls
import QtQuick.Dialogs
import QtQuick.Layouts
import Tokamak

// The run's configuration: model, device, policies, workload, arrivals,
// sweep and request count. `config` is what BenchController.start() takes.
ScrollView {
    id: panel
    required property BenchController bench
    required property var theme
    property var chatModels: []
    property int policyTick: 0
    property string customModel: ""  // a GGUF chosen by file (not in the list)
    readonly property var config: ({
        model: panel.customModel.length > 0 ? panel.customModel : (modelBox.currentValue || ""),
        device: deviceBox.currentText,
        policies: (panel.policyTick, policyRepeater.checked()),
        workload: workloadBox.currentValue,
        promptMin: promptMin.value, promptMax: promptMax.value,
        outputMin: outputMin.value, outputMax: outputMax.value,
        lmiScale: lmiScale.value / 1000,
        rate: poisson.checked ? rate.value / 10 : 0,
        sweep: sweepBox.currentValue,
        sweepValues: sweepValues.text,
        concurrency: fixedConc.value,
        batchSize: fixedBatch.value,
        requests: requests.value,
        maxSequences: maxSeq.value
    })
    readonly property string problem: bench.validate(config)
    readonly property var summary: bench.planSummary(config)
    signal runRequested()

    function setModel(value) {
        const i = modelBox.indexOfValue(value)
        if (i >= 0) { modelBox.currentIndex = i; customModel = "" } else { customModel = value; modelBox.currentIndex = -1 }
    }

    contentWidth: availableWidth
    clip: true

    // Shows `c` (a config map as start() takes) in the controls.
    function applyConfig(c) {
        if (!c || c.model === undefined) return
        setModel(c.model)
        if (c.device !== undefined) deviceBox.currentIndex = Math.max(0, deviceBox.find(c.device))
        if (c.policies !== undefined) {
            for (let i = 0; i < policyRepeater.count; ++i)
                policyRepeater.itemAt(i).checked = c.policies.indexOf(bench.policyNames[i]) >= 0
        }
        if (c.workload !== undefined) workloadBox.currentIndex = Math.max(0, workloadBox.indexOfValue(c.workload))
        if (c.promptMin !== undefined) promptMin.value = c.promptMin
        if (c.promptMax !== undefined) promptMax.value = c.promptMax
        if (c.outputMin !== undefined) outputMin.value = c.outputMin
        if (c.outputMax !== undefined) outputMax.value = c.outputMax
        if (c.lmiScale !== undefined) lmiScale.value = Math.round(c.lmiScale * 1000)
        poisson.checked = (c.rate || 0) > 0
        closed.checked = !poisson.checked
        if (poisson.checked) rate.value = Math.round(c.rate * 10)
        if (c.sweep !== undefined) sweepBox.currentIndex = Math.max(0, sweepBox.indexOfValue(c.sweep))
        if (c.sweepValues !== undefined) sweepValues.text = c.sweepValues
        if (c.concurrency !== undefined) fixedConc.value = c.concurrency
        if (c.batchSize !== undefined) fixedBatch.value = c.batchSize
        if (c.requests !== undefined) requests.value = c.requests
        if (c.maxSequences !== undefined) maxSeq.value = c.maxSequences
    }

    FileDialog {
        id: openDialog
        title: qsTr("Benchmark a GGUF model")
        nameFilters: [qsTr("GGUF models (*.gguf)"), qsTr("All files (*)")]
        onAccepted: panel.setModel(selectedFile.toString())
    }

    component Heading: Label {
        font.pixelSize: 11
        font.weight: Font.DemiBold
        font.capitalization: Font.AllUppercase
        font.letterSpacing: 0.6
        color: panel.theme.muted
        Layout.topMargin: 10
    }
    component Num: SpinBox {
        editable: true
        Layout.fillWidth: true
        Layout.preferredHeight: 30
        from: 1; to: 100000
    }

    ColumnLayout {
        width: panel.availableWidth - 28
        x: 14
        spacing: 6

        Label { text: qsTr("Configure"); font.pixelSize: 18; font.weight: Font.DemiBold; Layout.topMargin: 16 }

        Heading { text: qsTr("Model") }
        RowLayout {
            Layout.fillWidth: true
            ComboBox {
                id: modelBox
                objectName: "benchModelBox"
                Layout.fillWidth: true
                textRole: "label"
                valueRole: "value"
                displayText: panel.customModel.length > 0 ? panel.customModel.split("/").pop() : currentText
                onActivated: panel.customModel = ""
                model: {
                    let list = bench.modelChoices.slice()
                    for (const p of panel.chatModels) list.push({ label: p.split("/").pop(), value: p })
                    return list
                }
            }
            Button { text: "…"; implicitWidth: 34; onClicked: openDialog.open(); ToolTip.visible: hovered; ToolTip.text: qsTr("Open a GGUF file") }
        }
        Label {
            visible: panel.customModel.length > 0
            text: panel.customModel
            elide: Text.ElideMiddle
            Layout.fillWidth: true
            color: panel.theme.muted
            font.pixelSize: 11
        }
        RowLayout {
            Label { text: qsTr("Device"); Layout.preferredWidth: 80 }
            ComboBox { id: deviceBox; objectName: "benchDeviceBox"; model: bench.devices; Layout.fillWidth: true }
        }

        Heading { text: qsTr("Batching policies") }
        Flow {
            Layout.fillWidth: true
            spacing: 2
            Repeater {
                id: policyRepeater
                model: bench.policyNames
                function checked() {
                    let out = []
                    for (let i = 0; i < count; ++i) if (itemAt(i) && itemAt(i).checked) out.push(bench.policyNames[i])
                    return out
                }
                delegate: CheckBox {
                    required property string modelData
                    objectName: "policy_" + modelData
                    text: modelData
                    checked: modelData !== "dynamic" && modelData !== "static"
                    onCheckedChanged: panel.policyTick++
                }
            }
        }

        Heading { text: qsTr("Workload") }
        ComboBox {
            id: workloadBox
            objectName: "benchWorkloadBox"
            Layout.fillWidth: true
            textRole: "label"
            valueRole: "key"
            model: [{ key: "fixed", label: qsTr("Fixed lengths") },
                    { key: "random", label: qsTr("Random lengths") },
                    { key: "lmi", label: qsTr("Llama 2 comparison (published, scaled)") }]
        }
        GridLayout {
            Layout.fillWidth: true
            columns: 3
            columnSpacing: 6
            visible: workloadBox.currentValue !== "lmi"
            Label { text: "" }
            Label { text: workloadBox.currentValue === "random" ? qsTr("min") : ""; color: panel.theme.muted; font.pixelSize: 11 }
            Label { text: workloadBox.currentValue === "random" ? qsTr("max") : qsTr("tokens"); color: panel.theme.muted; font.pixelSize: 11 }
            Label { text: qsTr("Prompt") }
            Num { id: promptMin; objectName: "benchPromptMin"; value: 8; enabled: workloadBox.currentValue === "random"; to: 32768 }
            Num { id: promptMax; objectName: "benchPromptMax"; value: 32; to: 32768 }
            Label { text: qsTr("Output") }
            Num { id: outputMin; objectName: "benchOutputMin"; value: 4; enabled: workloadBox.currentValue === "random"; to: 32768 }
            Num { id: outputMax; objectName: "benchOutputMax"; value: 24; to: 32768 }
        }
        RowLayout {
            visible: workloadBox.currentValue === "lmi"
            Label { text: qsTr("Scale ‰"); Layout.preferredWidth: 80 }
            Num { id: lmiScale; value: 10; to: 1000 }
        }
        Label {
            visible: workloadBox.currentValue === "lmi"
            Layout.fillWidth: true
            wrapMode: Text.Wrap
            font.pixelSize: 11
            color: panel.theme.muted
            text: qsTr("Prompts of 32/128/512 and outputs of 64/128/256 tokens, 50 clients, 5000 requests, all × %1.").arg((lmiScale.value / 1000).toFixed(3))
        }

        Heading { text: qsTr("Arrivals") }
        RowLayout {
            RadioButton { id: closed; text: qsTr("Closed loop"); checked: true }
            RadioButton { id: poisson; objectName: "benchPoisson"; text: qsTr("Poisson") }
        }
        RowLayout {
            visible: poisson.checked
            Label { text: qsTr("Rate ×0.1/s"); Layout.preferredWidth: 80 }
            Num { id: rate; value: 40; to: 100000 }
        }

        Heading { text: qsTr("Sweep") }
        ComboBox {
            id: sweepBox
            objectName: "benchSweepBox"
            Layout.fillWidth: true
            textRole: "label"
            valueRole: "key"
            model: [{ key: "concurrency", label: qsTr("Concurrency (clients)") }, { key: "batch", label: qsTr("Batch size (static, dynamic)") },
                    { key: "prompt", label: qsTr("Prompt length (tokens)") }]
        }
        TextField {
            id: sweepValues
            objectName: "benchSweepValues"
            Layout.fillWidth: true
            text: "1,4,8"
            placeholderText: qsTr("e.g. 1,2,4,8,16")
        }
        RowLayout {
            visible: sweepBox.currentValue !== "concurrency"
            Label { text: qsTr("Clients"); Layout.preferredWidth: 80 }
            Num { id: fixedConc; value: 8 }
        }
        RowLayout {
            visible: sweepBox.currentValue !== "batch"
            Label { text: qsTr("Batch size"); Layout.preferredWidth: 80 }
            Num { id: fixedBatch; value: 8 }
        }
        RowLayout {
            Label { text: qsTr("Requests"); Layout.preferredWidth: 80 }
            Num { id: requests; objectName: "benchRequests"; value: 24; from: 0 }
        }
        RowLayout {
            Label { text: qsTr("Max seqs"); Layout.preferredWidth: 80 }
            Num { id: maxSeq; value: 64; to: 4096 }
        }

        Label {
            Layout.fillWidth: true
            Layout.topMargin: 6
            wrapMode: Text.Wrap
            font.pixelSize: 12
            color: panel.problem.length > 0 ? "#c0392b" : panel.theme.muted
            text: panel.problem.length > 0 ? panel.problem
                : qsTr("%1 runs · %2 requests · %3 · KV pool %4 blocks").arg(panel.summary.points).arg(panel.summary.requests)
                      .arg(panel.summary.workload).arg(panel.summary.kvBlocks)
        }
        Button {
            objectName: "benchRunButton"
            Layout.fillWidth: true
            Layout.topMargin: 4
            Layout.bottomMargin: 16
            highlighted: true
            enabled: panel.problem.length === 0 && !bench.running
            text: qsTr("▶  Run benchmark")
            onClicked: panel.runRequested()
        }
    }
}
