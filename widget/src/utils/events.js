// Change listeners registered by PrivacyCenter.on('change') and the window event.
var listeners = [];
function emitChange(consent) {
  listeners.slice().forEach(function (fn) {
    try { fn(consent); } catch (e) { setTimeout(function () { throw e; }); }
  });
  window.dispatchEvent(new CustomEvent('privacycenter:change', { detail: consent }));
}
