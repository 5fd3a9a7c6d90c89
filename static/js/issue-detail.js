// The issue page: a link to one of its actions (#action-resolve, as the reminder emails send)
// opens that action's collapsed details element and moves focus to its summary, so the form is
// in front of the reader. Runs when the page loads and whenever the address's fragment changes.
function openTargetedAction() {
  let id;
  try {
    id = decodeURIComponent(window.location.hash.slice(1));
  } catch {
    return; // a malformed fragment names no element
  }
  const target = id ? document.getElementById(id) : null;
  if (!(target instanceof HTMLDetailsElement)) return;
  target.open = true;
  const summary = target.querySelector(":scope > summary");
  if (summary) summary.focus();
}

openTargetedAction();
window.addEventListener("hashchange", openTargetedAction);
