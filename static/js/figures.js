// The figures (templates/issues/_figures.jinja): each chart is drawn from the table beside it.
// For every table[data-chart], the labels are its rows' headers and each column whose header has
// data-series is a data set, its numbers read from the cells' data-value (blank: no value). The
// chart goes into the element with data-chart-for="<the table's id>", as an image whose name is
// the table's caption; the table stays the text for screen readers and pages without JavaScript.
// Chart.js (npm chart.js, self-hosted under /static/chartjs/) is imported for its global `Chart`.
import "../chartjs/chart.umd.min.js";

const { Chart } = globalThis;
const COLOURS = ["#005eb8", "#007f3b", "#4c6272", "#ffb81c"]; // NHS blue, green, dark grey, warm yellow

function readTable(table) {
  const headers = Array.from(table.tHead.rows[0].cells);
  const rows = Array.from(table.tBodies[0].rows);
  const datasets = headers
    .map((header, column) => ({ header, column }))
    .filter(({ header }) => header.hasAttribute("data-series"))
    .map(({ header, column }, index) => ({
      label: header.textContent.trim() + (header.dataset.unit ? ` (${header.dataset.unit})` : ""),
      data: rows.map((row) => {
        const text = row.cells[column].dataset.value;
        return text === undefined || text === "" ? null : Number(text);
      }),
      backgroundColor: COLOURS[index % COLOURS.length],
      borderColor: COLOURS[index % COLOURS.length],
    }));
  return { labels: rows.map((row) => row.cells[0].textContent.trim()), datasets };
}

function drawChart(table) {
  const holder = document.querySelector(`[data-chart-for="${table.id}"]`);
  if (!holder || holder.querySelector("canvas")) return;
  const canvas = document.createElement("canvas");
  canvas.setAttribute("role", "img");
  canvas.setAttribute("aria-label", `Chart of the table: ${table.caption ? table.caption.textContent.trim() : ""}`);
  holder.append(canvas);
  new Chart(canvas, {
    type: table.dataset.chart,
    data: readTable(table),
    options: {
      animation: false,
      indexAxis: table.dataset.axis === "y" ? "y" : "x",
      scales: { x: { beginAtZero: true }, y: { beginAtZero: true } },
    },
  });
}

document.querySelectorAll("table[data-chart][id]").forEach(drawChart);
