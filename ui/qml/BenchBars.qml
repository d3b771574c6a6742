import QtQuick
import QtCharts

// A bar chart: categories along x, one bar set per entry of `sets`
// [{label, color, values: [..]}].
ChartView {
    id: chart
    property var theme
    property string yTitle: ""
    property int setCount: 0
    antialiasing: true
    backgroundColor: "transparent"
    plotAreaColor: theme ? theme.surface : "white"
    legend.alignment: Qt.AlignBottom
    legend.font.pixelSize: 11
    legend.labelColor: theme ? theme.text : "black"
    titleColor: theme ? theme.text : "black"
    titleFont.pixelSize: 13
    titleFont.weight: Font.DemiBold
    margins { left: 4; right: 8; top: 4; bottom: 4 }

    BarSeries {
        id: bars
        labelsVisible: true
        labelsPosition: AbstractBarSeries.LabelsOutsideEnd
        labelsFormat: "@value"
        labelsPrecision: 4
        axisX: BarCategoryAxis {
            id: cats
            labelsColor: chart.theme ? chart.theme.text : "black"
            gridVisible: false
            labelsFont.pixelSize: 11
        }
        axisY: ValueAxis {
            id: ay
            min: 0
            titleText: chart.yTitle
            labelFormat: "%.3g"
            labelsColor: chart.theme ? chart.theme.muted : "gray"
            gridLineColor: chart.theme ? chart.theme.border : "#ddd"
            titleFont.pixelSize: 11
            labelsFont.pixelSize: 10
            titleBrush: chart.theme ? chart.theme.muted : "gray"
        }
    }

    function setData(categories, sets) {
        bars.clear()
        cats.categories = categories
        let ymax = 0
        for (const s of sets) {
            const set = bars.append(s.label, s.values)
            if (s.color) { set.color = s.color; set.borderColor = s.color }
            set.labelColor = chart.theme ? chart.theme.text : "black"
            for (const v of s.values) ymax = Math.max(ymax, v)
        }
        const p = ymax > 0 ? Math.pow(10, Math.floor(Math.log10(ymax * 1.15))) : 1
        ay.max = ymax > 0 ? Math.ceil(ymax * 1.15 / p) * p : 1
        ay.labelFormat = ay.max >= 20 ? "%.0f" : ay.max >= 2 ? "%.1f" : "%.2f"
        bars.labelsVisible = categories.length * sets.length <= 12
        setCount = sets.length
    }
}
