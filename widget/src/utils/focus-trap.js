// Keeping Tab inside a modal dialog, and finding where focus was before it opened.
var FOCUSABLE = 'a[href],button:not([disabled]),input:not([disabled]),summary,[tabindex]:not([tabindex="-1"])';
export function focusables(box) {
  return [].filter.call(box.querySelectorAll(FOCUSABLE), function (el) {
    return el.getClientRects().length > 0;
  });
}
export function trapTab(box, event) {
  if (event.key !== 'Tab') return;
  var all = focusables(box), first = all[0], last = all[all.length - 1];
  var active = box.getRootNode().activeElement;
  if (!first) return;
  if (event.shiftKey ? active === first || !box.contains(active) : active === last || !box.contains(active)) {
    (event.shiftKey ? last : first).focus();
    event.preventDefault();
  }
}
export function deepActiveElement() {
  var el = document.activeElement;
  while (el && el.shadowRoot && el.shadowRoot.activeElement) el = el.shadowRoot.activeElement;
  return el;
}
