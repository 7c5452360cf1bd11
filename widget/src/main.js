// Start-up: Consent Mode default first, then held elements, the stored choice, the banner.
consentDefault();
window.PrivacyCenter = PrivacyCenter;
watchHeld(heldAllowed);
if (current()) {
  consentUpdate(current().c);
  releaseHeld(heldAllowed);
} else {
  releaseHeld(heldAllowed);
  showBanner();
}
if (pendingList().length && !PREVIEW) flushPending();
document.addEventListener('click', function (e) {
  var opener = e.target.closest && e.target.closest('[data-pc-open]');
  if (opener) { e.preventDefault(); showPreferences(); }
});
