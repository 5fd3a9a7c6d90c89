// Initialises NHS.UK frontend's components (header menu, error summary focus, password reveal,
// notification banners...) on every page. Loaded as a module, so it runs once the page is parsed
// and needs no inline script (the Content Security Policy allows none without a nonce).
import { initAll } from "../nhsuk/nhsuk-frontend.min.js";

initAll();
