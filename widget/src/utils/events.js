// Change listeners registered by PrivacyCenter.on('change') and the window event.
import { consentObject } from '../core/state.js';

export var listeners = [];
// Fired when a decision is taken (recorded: false) and again once the server's answer, with the
// consent id and receipt, is stored (recorded: true).
export function emitChange(recorded) {
  var consent = consentObject();
  if (consent) consent.recorded = recorded;
  listeners.slice().forEach(function (fn) {
    try { fn(consent); } catch (e) { setTimeout(function () { throw e; }); }
  });
  window.dispatchEvent(new CustomEvent('privacycenter:change', { detail: consent }));
}
