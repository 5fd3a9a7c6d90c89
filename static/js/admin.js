// Django's admin, as the superuser uses it: fixes for what axe-core finds that CSS cannot reach.
// - the search box's label is only a magnifier image: it gets the word "Search" (label-title-only);
// - the tooltips of the two-box selects (SelectFilter2.js) are spans with aria-label and no role:
//   they become images with that name (aria-prohibited-attr).
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
}

// SelectFilter2.js draws its boxes on the window's load event, from a listener added before this
// deferred script's: this one runs after it.
window.addEventListener("load", fixAdmin);
