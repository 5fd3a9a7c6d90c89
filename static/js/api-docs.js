// The API reference (/api/docs/): what Swagger UI draws without an accessible name gets one, as it
// draws it (operations are drawn when opened, so a MutationObserver watches for them).
// - a parameter's select of allowed values: named after the parameter (axe's select-name), and a
//   response's select of examples after the response;
// - each operation's table of responses, a region: named after its operation (axe's
//   landmark-unique: every one of them was an unnamed region).
const root = document.getElementById("swagger-ui");

function nameControls() {
  for (const select of root.querySelectorAll("tr[data-param-name] select:not([aria-label])")) {
    const row = select.closest("tr[data-param-name]");
    select.setAttribute("aria-label", `${row.dataset.paramName} (${row.dataset.paramIn})`);
  }
  for (const select of root.querySelectorAll("select.examples-select-element:not([aria-label])")) {
    const response = select.closest("tr.response");
    select.setAttribute("aria-label", `Examples${response ? ` of response ${response.dataset.code}` : ""}`);
  }
  for (const table of root.querySelectorAll("table.responses-table[role=region]:not([aria-label])")) {
    const operation = table.closest(".opblock");
    const method = operation ? operation.querySelector(".opblock-summary-method") : null;
    const path = operation ? operation.querySelector(".opblock-summary-path") : null;
    const what = method && path ? `${method.textContent} ${path.dataset.path}` : "";
    const live = table.classList.contains("live-responses-table") ? "Server response" : "Responses";
    table.setAttribute("aria-label", `${live} of ${what}`.trim());
  }
}

if (root) {
  new MutationObserver(nameControls).observe(root, { childList: true, subtree: true });
}
