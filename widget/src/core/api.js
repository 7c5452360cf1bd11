// window.PrivacyCenter: the one public object.
function acceptAll() {
  var cats = {};
  CFG.categories.forEach(function (c) { cats[c.key] = true; });
  decide('accept_all', cats, null);
  closePreferences();
}
function rejectAll() {
  decide('reject_all', {}, null);
  closePreferences();
}
var PrivacyCenter = {
  getConsent: consentObject,
  acceptedCategory: function (key) { return categoryAllowed(key); },
  acceptedVendor: function (key) { return vendorAllowed(key); },
  showPreferences: showPreferences,
  acceptAll: acceptAll,
  rejectAll: rejectAll,
  on: function (name, fn) { if (name === 'change' && typeof fn === 'function') listeners.push(fn); }
};
