// Google Consent Mode v2: `default` before any held tag can run, `update` on each decision.
import { RUNS } from './config.js';

var CONSENT_TYPES = ['ad_storage', 'ad_user_data', 'ad_personalization', 'analytics_storage',
  'functionality_storage', 'personalization_storage'];
function gtagPush() { (window.dataLayer = window.dataLayer || []).push(arguments); }
// Each type granted where one of the allowed categories maps to it, else denied.
function consentTypes(allowed) {
  var u = { security_storage: 'granted' };
  CONSENT_TYPES.forEach(function (t) { u[t] = 'denied'; });
  CFG.categories.forEach(function (c) {
    (c.google_consent_types || []).forEach(function (t) { if (allowed[c.key]) u[t] = 'granted'; });
  });
  return u;
}

// allowed: what runs before a decision. In opt_in that is nothing optional: all denied. Where
// the regime lets tags run, their types are granted; with the visitor's region known that
// default is scoped to it (gtag's `region`), after an all-denied one for anywhere else, so a
// Google tag that places the visitor elsewhere falls back to denied rather than granted.
export function consentDefault(allowed) {
  if (!CFG.google_consent_mode) return;
  var region = CFG.region, d = consentTypes(RUNS ? allowed : {});
  if (RUNS && region) {
    d.region = [region];
    gtagPush('consent', 'default', waiting(consentTypes({})));
  }
  gtagPush('consent', 'default', waiting(d));
}
function waiting(d) { d.wait_for_update = 500; return d; }
export function consentUpdate(categories) {
  if (CFG.google_consent_mode) gtagPush('consent', 'update', consentTypes(categories));
}
