// window.PrivacyCenter: the one public object.
import { listeners } from '../utils/events.js';
import { allowedMap, categoryAllowed, consentObject, decide, vendorAllowed } from './state.js';
import { closePreferences, showPreferences } from './parts.js';

export function acceptAll() {
  var cats = {};
  CFG.categories.forEach(function (c) { cats[c.key] = true; });
  decide('accept_all', cats, null);
  closePreferences();
}
export function rejectAll() {
  decide('reject_all', {}, null);
  closePreferences();
}
// Closing the notice of an opt_out or notice regime without choosing: what runs keeps running.
export function dismiss() { decide('dismiss', allowedMap(), null); }
export var PrivacyCenter = {
  getConsent: consentObject,
  acceptedCategory: categoryAllowed,
  acceptedVendor: function (key) { return vendorAllowed(key); },
  showPreferences: showPreferences,
  acceptAll: acceptAll,
  rejectAll: rejectAll,
  on: function (name, fn) { if (name === 'change' && typeof fn === 'function') listeners.push(fn); }
};
