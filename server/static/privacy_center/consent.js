// The visitor's consent page: moves the receipt from the URL fragment (#r=...) into the form and
// sends it, so that it reaches the server only in a POST body, never in a URL or a log line.
(function () {
  'use strict';
  var match = /^#r=([^&]+)/.exec(window.location.hash);
  var form = document.getElementById('receipt-form');
  var field = document.getElementById('receipt');
  if (!match || !form || !field) {
    return;
  }
  var receipt;
  try {
    receipt = decodeURIComponent(match[1]);
  } catch (error) {
    return;
  }
  field.value = receipt;
  var status = document.getElementById('loading');
  if (status) {
    status.hidden = false;
  }
  form.submit();
})();
