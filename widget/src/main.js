// Start-up: Consent Mode default first, then held elements, the stored choice, the banner.
import { consentDefault, consentUpdate } from './core/consent-mode.js';
import { releaseHeld, watchHeld } from './utils/scripts.js';
import { flushPending, pendingList } from './core/record.js';
import { allowedMap, consentObject, current, heldAllowed, state } from './core/state.js';
import { PREVIEW, RUNS } from './core/config.js';
import { isCurrent } from './core/storage.js';
import { showBanner } from './modals/banner.js';
import { showPreferences } from './core/parts.js';
import { PrivacyCenter } from './core/api.js';

consentDefault(allowedMap());
window.PrivacyCenter = PrivacyCenter;
watchHeld(heldAllowed);
if (current()) {
  consentUpdate(current().c);
  releaseHeld(heldAllowed);
} else {
  releaseHeld(heldAllowed);
  // A dismissed notice stays closed where the regime runs tags; in opt_in it is no choice.
  if (!(RUNS && isCurrent(state.choice))) showBanner();
}
if (pendingList().length && !PREVIEW) flushPending();
// For a page that loads this script async or defer: its own code may start before or after.
window.dispatchEvent(new CustomEvent('privacycenter:ready', { detail: consentObject() }));
document.addEventListener('click', function (e) {
  var opener = e.target.closest && e.target.closest('[data-pc-open]');
  if (opener) { e.preventDefault(); showPreferences(); }
});
