// The open shadow root that holds both layers, so that page CSS and widget CSS never meet.
var shadow = null;
function ui() {
  if (shadow) return shadow;
  var host = document.createElement('privacy-center-widget');
  shadow = host.attachShadow({ mode: 'open' });
  try {
    // Constructed stylesheets are allowed by a CSP without 'unsafe-inline'.
    var sheet = new CSSStyleSheet();
    sheet.replaceSync(CSS);
    shadow.adoptedStyleSheets = [sheet];
  } catch (e) {
    shadow.append(h('style', { text: CSS }));
  }
  // First in the page, so that keyboard users reach it first.
  if (document.body) document.body.prepend(host);
  else document.documentElement.append(host);
  return shadow;
}
function button(label, onclick, cls) {
  return h('button', { type: 'button', class: cls || 'pc-btn', onclick: onclick, text: label });
}
function disclosureUrl() {
  return SERVER + '/sites/' + encodeURIComponent(SITE) + '/disclosure?lang=' + LANG;
}
