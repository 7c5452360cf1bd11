// Google Consent Mode v2: `default` before any held tag can run, `update` on each decision.
var CONSENT_TYPES = ['ad_storage', 'ad_user_data', 'ad_personalization', 'analytics_storage',
  'functionality_storage', 'personalization_storage'];
function gtagPush() { (window.dataLayer = window.dataLayer || []).push(arguments); }

export function consentDefault() {
  if (!CFG.google_consent_mode) return;
  var d = { security_storage: 'granted', wait_for_update: 500 };
  CONSENT_TYPES.forEach(function (t) { d[t] = 'denied'; });
  gtagPush('consent', 'default', d);
}
export function consentUpdate(categories) {
  if (!CFG.google_consent_mode) return;
  var u = {};
  CONSENT_TYPES.forEach(function (t) { u[t] = 'denied'; });
  CFG.categories.forEach(function (c) {
    (c.google_consent_types || []).forEach(function (t) {
      if (categories[c.key] || u[t] === 'granted') u[t] = 'granted';
    });
  });
  u.security_storage = 'granted';
  gtagPush('consent', 'update', u);
}
