// window.PrivacyCenter: the one public object.
import { listeners } from '../utils/events.js';
import { categoryAllowed, consentObject, decide, vendorAllowed } from './state.js';
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
export var PrivacyCenter = {
  getConsent: consentObject,
  acceptedCategory: function (key) { return categoryAllowed(key); },
  acceptedVendor: function (key) { return vendorAllowed(key); },
  showPreferences: showPreferences,
  acceptAll: acceptAll,
  rejectAll: rejectAll,
  on: function (name, fn) { if (name === 'change' && typeof fn === 'function') listeners.push(fn); }
};
