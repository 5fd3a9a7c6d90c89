// Django's admin, as the superuser uses it: fixes for what axe-core finds that CSS cannot reach.
// - the search box's label is only a magnifier image: it gets the word "Search" (label-title-only);
// - the tooltips of the two-box selects (SelectFilter2.js) are spans with aria-label and no role:
//   they become images with that name (aria-prohibited-attr);
// - the autocomplete fields (select2): the search box gets the field's label (label), and the
//   list of chosen items, which also holds select2's own spans, is no list (list, listitem).
// select2 redraws its boxes when a choice changes, so a MutationObserver applies them again.
function fixAdmin() {
  const label = document.querySelector("label[for=searchbar]");
  if (label && !label.querySelector(".app-admin-search-label")) {
    const img = label.querySelector("img");
    if (img) img.setAttribute("alt", "");
    const words = document.createElement("span");
    words.className = "app-admin-search-label";
    words.textContent = "Search";
    label.append(words);
  }
  for (const tip of document.querySelectorAll("span.help-tooltip[aria-label]:not([role])")) {
    tip.setAttribute("role", "img");
  }
  for (const field of document.querySelectorAll(".select2-search__field:not([aria-label])")) {
    const container = field.closest(".select2-container");
    const select = container && container.previousElementSibling;
    const fieldLabel = select && select.id && document.querySelector(`label[for="${select.id}"]`);
    field.setAttribute("aria-label", fieldLabel ? fieldLabel.textContent.replace(/:$/, "").trim() : "Search");
  }
  for (const box of document.querySelectorAll(".select2-selection[role=combobox]:not([aria-label])")) {
    // Named by what it shows, so unnamed while empty (aria-input-field-name): named after the field.
    const container = box.closest(".select2-container");
    const select = container && container.previousElementSibling;
    const fieldLabel = select && select.id && document.querySelector(`label[for="${select.id}"]`);
    if (fieldLabel) {
      box.removeAttribute("aria-labelledby");
      box.setAttribute("aria-label", fieldLabel.textContent.replace(/:$/, "").trim());
    }
  }
  for (const shown of document.querySelectorAll(".select2-selection__rendered[role=textbox]:not([aria-label])")) {
    // A single choice's box shows the choice in a textbox with no name of its own while empty
    // (aria-input-field-name): named after the field.
    const container = shown.closest(".select2-container");
    const select = container && container.previousElementSibling;
    const fieldLabel = select && select.id && document.querySelector(`label[for="${select.id}"]`);
    if (fieldLabel) shown.setAttribute("aria-label", fieldLabel.textContent.replace(/:$/, "").trim());
  }
  // The inlines' headers over the object's own column and the delete column are empty
  // (empty-table-header): they say what the column is, to screen readers.
  for (const th of document.querySelectorAll(".inline-related thead th")) {
    if (!th.textContent.trim()) {
      const words = document.createElement("span");
      words.className = "app-admin-visually-hidden";
      words.textContent = th.classList.contains("original") ? "Entry" : "Actions";
      th.append(words);
    }
  }
  for (const list of document.querySelectorAll("ul.select2-selection__rendered:not([role])")) {
    list.setAttribute("role", "none");
  }
  for (const item of document.querySelectorAll("ul.select2-selection__rendered > li:not([role])")) {
    item.setAttribute("role", "none");
  }
}

// SelectFilter2.js and select2 draw their boxes on the window's load event or jQuery's ready, from
// listeners added before this deferred script's: this one runs after them.
window.addEventListener("load", () => {
  fixAdmin();
  new MutationObserver(fixAdmin).observe(document.body, { childList: true, subtree: true });
});
