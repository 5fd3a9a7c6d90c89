// "Send the request from your own email": a Copy button for the prepared email (shown only when
// the browser can copy; without JavaScript the text stays selectable in its box).
const buttons = document.querySelectorAll("[data-copy-target]");

for (const button of buttons) {
  const target = document.getElementById(button.dataset.copyTarget);
  const status = button.parentElement.querySelector(".app-copy-status");
  if (!target || !navigator.clipboard) continue;
  button.hidden = false;
  button.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(target.value);
      if (status) status.textContent = "Copied. Paste it into a new email.";
    } catch {
      target.select();
      if (status) status.textContent = "Select the text and copy it.";
    }
  });
}
